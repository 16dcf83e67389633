/* ob_pbwrite.h: protocol buffers written by hand, field by field.
 *
 * The broker encodes its protobuf outputs (the Prometheus exposition, remote
 * write) straight from the store's views into an ob_buf rather than
 * building protobuf-c message trees first: no allocation per message, one
 * pass.  The field numbers live with each writer, taken from the .proto
 * files in proto/; the tests decode what is written with the code protoc-c
 * generates from those files. */
#ifndef OB_PBWRITE_H
#define OB_PBWRITE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ob_buf.h"

/* Wire types. */
enum { OB_PB_VARINT = 0, OB_PB_I64 = 1, OB_PB_LEN = 2 };

static inline char *ob_pb_put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static inline size_t ob_pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint64_t ob_pb_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline void ob_pb_varint(struct ob_buf *b, uint64_t v)
{
    char t[10];
    ob_buf_append(b, t, (size_t)(ob_pb_put_varint(t, v) - t));
}

static inline void ob_pb_tag(struct ob_buf *b, unsigned field, unsigned wt)
{
    ob_pb_varint(b, (uint64_t)field << 3 | wt);
}

static inline void ob_pb_double(struct ob_buf *b, unsigned field, double v)
{
    ob_pb_tag(b, field, OB_PB_I64);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (char)(bits >> (8 * i));
    ob_buf_append(b, t, 8);
}

static inline void ob_pb_uint(struct ob_buf *b, unsigned field, uint64_t v)
{
    ob_pb_tag(b, field, OB_PB_VARINT);
    ob_pb_varint(b, v);
}

static inline void ob_pb_bytes(struct ob_buf *b, unsigned field, const void *p, size_t n)
{
    ob_pb_tag(b, field, OB_PB_LEN);
    ob_pb_varint(b, n);
    ob_buf_append(b, p, n);
}

/* A count: an integer field when it is a whole number in range, else the
 * float field next to it (Prometheus' histograms have both). */
static inline void ob_pb_count(struct ob_buf *b, unsigned int_field, unsigned float_field, double v)
{
    if (v >= 0 && v < 18446744073709551616.0 && v == floor(v))
        ob_pb_uint(b, int_field, (uint64_t)v);
    else
        ob_pb_double(b, float_field, v);
}

#endif
