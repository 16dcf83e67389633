/* ob_buf.h: a growable byte buffer.  Appends report allocation failure. */
#ifndef OB_BUF_H
#define OB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ob_common.h"

struct ob_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* sticky: an append could not allocate */
};

void ob_buf_init(struct ob_buf *b);
void ob_buf_fini(struct ob_buf *b);
/* Ensures room for `extra` more bytes; false (and b->failed) on ENOMEM. */
bool ob_buf_reserve(struct ob_buf *b, size_t extra);
/* ob_buf_reserve() with a ceiling: the buffer never grows past max bytes in
 * all, for data a limit bounds (a request body, an inflated one).  False when
 * len + extra would pass max (b unchanged, b->failed not set) or on ENOMEM
 * (b->failed). */
bool ob_buf_reserve_max(struct ob_buf *b, size_t extra, size_t max);
bool ob_buf_append(struct ob_buf *b, const void *p, size_t n);
bool ob_buf_printf(struct ob_buf *b, const char *fmt, ...) OB_PRINTF(2, 3);
/* Appends s as a JSON string: quoted, with \" \\ \n \r \t and \u00XX escapes. */
void ob_buf_json_string(struct ob_buf *b, const char *s, size_t len);

static inline bool ob_buf_puts(struct ob_buf *b, const char *s)
{
    return ob_buf_append(b, s, strlen(s));
}

static inline bool ob_buf_putc(struct ob_buf *b, char c)
{
    if (OB_LIKELY(b->len < b->cap)) {
        b->data[b->len++] = c;
        return true;
    }
    return ob_buf_append(b, &c, 1);
}

#endif
