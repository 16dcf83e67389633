/* ob_buf.c: growable byte buffer. */
#include "ob_buf.h"

#include <stdarg.h>
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
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap * 2 > cap ? cap * 2 : want;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
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
