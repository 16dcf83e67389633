/* ob_gzip.c: gzip inflate with a hard output cap, and gzip deflate (zlib).
 *
 * The cap is what makes a gzip bomb harmless: output goes into a buffer that
 * never grows past max_out + 1 bytes, and inflation stops the moment one byte
 * more than max_out comes out.  A 1 GiB bomb against a 32 MiB cap costs 32 MiB
 * of memory and the time to inflate 32 MiB, nothing more.
 */
#include "ob_gzip.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

#include "ob_error.h"

/* Grows out so that it has room for more output, never beyond `limit` bytes
 * past `start` (the cap + 1).  Doubles, starting from a guess. */
static int grow(struct ob_buf *out, size_t start, size_t limit, size_t guess)
{
    size_t room_max = limit - (out->len - start); /* > 0: the caller stops at the limit */
    size_t max = limit > SIZE_MAX - start ? SIZE_MAX : start + limit;
    return ob_buf_reserve_max(out, OB_MIN(OB_MAX(guess, 4096), room_max), max) ? 0 : -ENOMEM;
}

int ob_gunzip(const void *in, size_t in_len, size_t max_out, struct ob_buf *out)
{
    if (out->failed)
        return -ENOMEM;
    z_stream zs = {0};
    /* 15 + 32: a gzip or zlib header, detected automatically. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return -ENOMEM;

    const size_t start = out->len;
    /* One byte past the cap is how "more than max_out" shows. */
    const size_t limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
    /* OTLP protobuf compresses ~5-10x; start there, double as needed. */
    size_t guess = in_len > SIZE_MAX / 8 ? SIZE_MAX : in_len * 8;
    const unsigned char *next = in;
    size_t left = in_len;
    int rc = 0;

    for (;;) {
        if (out->len - start >= limit) {
            rc = OB_E_TOO_LARGE;
            break;
        }
        if (out->cap == out->len) {
            rc = grow(out, start, limit, guess);
            if (rc)
                break;
        }
        /* zlib counts in uInt: feed very large inputs in pieces. */
        if (zs.avail_in == 0 && left) {
            zs.next_in = (Bytef *)next;
            zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            next += zs.avail_in;
            left -= zs.avail_in;
        }
        size_t room = OB_MIN(out->cap - out->len, limit - (out->len - start));
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        out->len += before - zs.avail_out;

        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0 && left == 0)
                break;
            /* Another member follows (gzip allows concatenation); anything
             * that is not a valid header is trailing garbage and fails in
             * the next inflate() as a data error. */
            if (inflateReset(&zs) != Z_OK) {
                rc = OB_E_MALFORMED;
                break;
            }
            continue;
        }
        if (zrc == Z_OK)
            continue;
        if (zrc == Z_BUF_ERROR && zs.avail_out == 0)
            continue; /* needs more room: grow or hit the cap */
        if (zrc == Z_MEM_ERROR) {
            rc = -ENOMEM;
            break;
        }
        /* Z_BUF_ERROR with room left: input ended inside the stream
         * (truncated); Z_DATA_ERROR, Z_NEED_DICT: corrupt. */
        rc = OB_E_MALFORMED;
        break;
    }
    if (out->len - start > max_out)
        rc = OB_E_TOO_LARGE;
    inflateEnd(&zs);
    if (rc) {
        out->len = start;
        out->failed = false; /* as on entry: only this call failed */
    }
    return rc;
}

int ob_gzip(const void *in, size_t in_len, int level, struct ob_buf *out)
{
    z_stream zs = {0};
    /* 15 + 16: gzip wrapper; memLevel 8 is zlib's default. */
    int zrc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK)
        return zrc == Z_STREAM_ERROR ? -EINVAL : -ENOMEM; /* a level outside 0..9 */
    const size_t start = out->len;
    const unsigned char *next = in;
    size_t left = in_len;
    int rc = 0;
    /* deflateBound is exact enough that one reservation usually suffices. */
    if (!ob_buf_reserve(out, deflateBound(&zs, in_len > ULONG_MAX ? ULONG_MAX : in_len))) {
        rc = -ENOMEM;
        goto done;
    }
    for (;;) {
        if (zs.avail_in == 0 && left) {
            zs.next_in = (Bytef *)next;
            zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            next += zs.avail_in;
            left -= zs.avail_in;
        }
        if (out->cap == out->len && !ob_buf_reserve(out, 64 * 1024)) {
            rc = -ENOMEM;
            break;
        }
        size_t room = out->cap - out->len;
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        zrc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
        out->len += before - zs.avail_out;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = -ENOMEM; /* deflate only fails on bad state or memory */
            break;
        }
    }
done:
    deflateEnd(&zs);
    if (rc)
        out->len = start;
    return rc;
}
