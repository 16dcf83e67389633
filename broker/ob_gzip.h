/* ob_gzip.h: gzip inflate with a hard output cap, and gzip deflate (zlib). */
#ifndef OB_GZIP_H
#define OB_GZIP_H

#include <stddef.h>

#include "ob_buf.h"

/* Inflates a gzip (or zlib) stream into out.  Stops as soon as the output
 * would exceed max_out: returns OB_E_TOO_LARGE without inflating the rest (a
 * gzip bomb costs at most max_out bytes).  OB_E_MALFORMED for a corrupt or
 * truncated stream or trailing garbage; concatenated gzip members are one
 * body.  Appends to out (the cap counts only what this call adds); on error
 * out->len is left as it was. */
int ob_gunzip(const void *in, size_t in_len, size_t max_out, struct ob_buf *out);

/* Appends in compressed as gzip to out (level 0..9).  0, -EINVAL for a bad
 * level, or -ENOMEM. */
int ob_gzip(const void *in, size_t in_len, int level, struct ob_buf *out);

#endif
