/* ob_buf.c: growable byte buffer. */
#include "ob_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void ob_buf_init(struct ob_buf *b)
{
    *b = (struct ob_buf){0};
}

void ob_buf_fini(struct ob_buf *b)
{
    if (!b)
        return;
    free(b->data);
    *b = (struct ob_buf){0};
}

/* Grows b to at least want (<= max) bytes: doubling from 256, clipped to max. */
static bool grow(struct ob_buf *b, size_t want, size_t max)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap * 2 > cap ? cap * 2 : want;
    if (cap > max)
        cap = max;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool ob_buf_reserve(struct ob_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= extra)
        return true;
    size_t want = b->len + extra;
    if (want < b->len) {
        b->failed = true;
        return false;
    }
    return grow(b, want, SIZE_MAX);
}

bool ob_buf_reserve_max(struct ob_buf *b, size_t extra, size_t max)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= extra)
        return true;
    if (b->len > max || extra > max - b->len)
        return false; /* over the ceiling: not an allocation failure */
    return grow(b, b->len + extra, max);
}

bool ob_buf_append(struct ob_buf *b, const void *p, size_t n)
{
    if (!ob_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool ob_buf_printf(struct ob_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !ob_buf_reserve(b, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void ob_buf_json_string(struct ob_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ob_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            ob_buf_putc(b, '\\');
            ob_buf_putc(b, (char)c);
        } else if (c == '\n') {
            ob_buf_puts(b, "\\n");
        } else if (c == '\r') {
            ob_buf_puts(b, "\\r");
        } else if (c == '\t') {
            ob_buf_puts(b, "\\t");
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ob_buf_append(b, u, sizeof u);
        } else {
            ob_buf_putc(b, (char)c);
        }
    }
    ob_buf_putc(b, '"');
}
