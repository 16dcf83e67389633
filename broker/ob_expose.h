/* ob_expose.h: the /metrics writer.
 *
 * Family by family from the store: HELP and TYPE once, series contiguous,
 * label values and HELP escaped per text format 0.0.4; histograms as
 * _bucket{le}/_sum/_count, summaries as {quantile}/_sum/_count.  Reads the
 * store lock-free (seqlocks), so a scrape never blocks ingest.
 */
#ifndef OB_EXPOSE_H
#define OB_EXPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "ob_buf.h"

struct ob_store;

struct ob_expose_opts {
    bool timestamps; /* append the sample timestamp (ms) to each line */
};

/* Appends the store's families to out.  Returns 0 or -ENOMEM. */
int ob_expose_store(struct ob_store *s, const struct ob_expose_opts *o, int64_t now_ms,
                    struct ob_buf *out);

/* Shortest text that reads back as the same double, Prometheus style:
 * integers without exponent or point, NaN, +Inf, -Inf.  Returns length. */
size_t ob_format_double(double v, char buf[32]);

/* Appends s escaped for a label value (\\, \", \n). */
void ob_escape_label_value(struct ob_buf *out, const char *s, size_t len);
/* Appends s escaped for HELP text (\\, \n). */
void ob_escape_help(struct ob_buf *out, const char *s, size_t len);

#endif
