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
#include "ob_labels.h"
#include "ob_store.h"

struct ob_store;

struct ob_expose_opts {
    bool timestamps;  /* append the sample timestamp to each line (text: ms;
                         OpenMetrics: seconds with 3 decimals) */
    bool utf8;        /* the scraper accepts UTF-8 names (escaping=allow-utf-8) */
    bool openmetrics; /* OpenMetrics 1.0 text instead of Prometheus text 0.0.4:
                         counter families named without _total and their
                         samples with it, type unknown for untyped, HELP
                         escaping quotes too; the caller ends it with # EOF */
    bool protobuf;    /* delimited io.prometheus.client.MetricFamily messages
                         (ob_expose_pb.c) instead of text */
    uint32_t exponential_max_buckets; /* text and OpenMetrics write an exponential
                         histogram as at most this many classic buckets; 0 = 40 */
};

/* Appends the store's families to out.  Returns 0 or -ENOMEM. */
int ob_expose_store(struct ob_store *s, const struct ob_expose_opts *o, int64_t now_ms,
                    struct ob_buf *out);

/* The writer behind ob_expose_store(), one family and one series at a time,
 * for callers that walk views themselves (tests, benchmarks, other stores).
 * It keeps the current family's name and its _bucket/_sum/_count variants
 * rendered once per family.  Each call returns 0 or -ENOMEM (out->failed). */
struct ob_expose_writer {
    struct ob_buf *out;
    bool timestamps;
    bool utf8;            /* opts.utf8 */
    bool openmetrics;     /* opts.openmetrics */
    bool quote_name;      /* current family's name is written quoted, inside the braces */
    struct ob_buf labels; /* a quoted-name block rewritten for a legacy scraper */
    struct ob_buf names; /* name, name_bucket, name_sum, name_count, name_total back to back */
    uint32_t name_len;
    uint32_t meta_len;   /* of the name in HELP/TYPE lines (OpenMetrics counters: no _total) */
    uint32_t plain_off, plain_len; /* the name of a plain sample in names */
    uint32_t created_off, created_len; /* OpenMetrics: name_created (meta name + _created) */
    enum ob_family_type type;      /* of the current family */
    /* The le / quantile texts of the last shape written, NUL-terminated back
     * to back, and the bounds they are for: series of a family nearly
     * always share their bounds, so each set is formatted once a scrape. */
    struct ob_buf point_text;
    struct ob_buf points; /* the n doubles */
    uint32_t n_points;
    /* protobuf: the current family's message (sent when it ends) and
     * scratch for the messages inside it */
    bool protobuf, pb_open;
    unsigned pb_type;
    struct ob_buf pb_family, pb_value, pb_pair, pb_text, pb_pairs;
    struct ob_buf pb_ex, pb_ex_pair, pb_ex_text; /* an Exemplar message */
    struct ob_buf pb_spans; /* a native histogram side (ob_exphist_write_side) */
    /* text and OpenMetrics: an exponential histogram as classic buckets */
    uint32_t exp_max_buckets;
    struct ob_buf exp_bounds, exp_values, exp_scratch;
    struct ob_buf ex_labels; /* an exemplar's quoted-name block rewritten */
};

void ob_expose_writer_init(struct ob_expose_writer *w, const struct ob_expose_opts *o,
                           struct ob_buf *out);
void ob_expose_writer_fini(struct ob_expose_writer *w);
/* Writes HELP (when non-empty) and TYPE and makes f the current family. */
int ob_expose_family(struct ob_expose_writer *w, const struct ob_family_view *f);
/* Writes every line of one series of the current family. */
int ob_expose_series(struct ob_expose_writer *w, const struct ob_series_view *sv);
/* Sends what the format keeps back (protobuf: the current family, whose
 * length goes first).  ob_expose_store() and ob_expose_text() call it. */
int ob_expose_flush(struct ob_expose_writer *w);

/* Exemplar entry i of sv (ob_series_exemplar) with its label block as this
 * writer's scraper reads names (see ob_labels.h); valid until the next call. */
bool ob_expose_exemplar(struct ob_expose_writer *w, const struct ob_series_view *sv, uint32_t i,
                        struct ob_exemplar_view *out);

/* The protobuf encoder behind the writer (ob_expose_pb.c). */
int ob_expose_pb_family(struct ob_expose_writer *w, const struct ob_family_view *f,
                        const char *name, size_t name_len);
int ob_expose_pb_series(struct ob_expose_writer *w, const struct ob_series_view *sv,
                        const char *block, size_t block_len);
int ob_expose_pb_flush(struct ob_expose_writer *w);

/* Feeds text in the broker's own subset of format 0.0.4 (what
 * ob_selfmetrics_write produces: # HELP and # TYPE lines, then scalar
 * samples named as their family, legacy names, no timestamps) through the
 * writer, so that the self-metrics reach every format from one rendering.
 * Returns 0, -ENOMEM, or -EINVAL at a line outside that subset. */
int ob_expose_text(struct ob_expose_writer *w, const char *text, size_t len);


#endif
