/* ob_rw_encode.h: forward-log records as Prometheus remote-write requests.
 *
 * 1.0: prometheus.WriteRequest (proto/prometheus/prompb): a TimeSeries per
 * Prometheus series (labels sorted by name, __name__ among them) with its
 * samples in timestamp order; a histogram record is its _bucket{le}, _sum
 * and _count series, a summary's its {quantile}, _sum and _count, an
 * exponential histogram one native Histogram; MetricMetadata (type, help,
 * unit) for each family the request has, at most once a minute.
 * 2.0: io.prometheus.write.v2.Request (proto/io/prometheus/write/v2): the
 * same series with labels as references into the request's symbols table,
 * the family's metadata on every series, created timestamps both as
 * TimeSeries.created_timestamp (2.0-rc.3 receivers) and per sample
 * start_timestamp (rc.4).
 *
 * Series are named exactly as the exposition names them: a scrape of
 * /metrics and this encoder give a receiver the same series.  A staleness
 * marker record becomes Prometheus' StaleNaN on each of the series.
 *
 * One encoder per target, used by one thread.  It caches each store
 * slot's series (labels unescaped and sorted, per Prometheus series) and
 * checks the store again at most once a second. */
#ifndef OB_RW_ENCODE_H
#define OB_RW_ENCODE_H

#include <stdint.h>

#include "ob_buf.h"
#include "ob_config.h" /* enum ob_rw_protocol */
#include "ob_fwdlog.h"

struct ob_store;
struct ob_rw_encoder;

/* Why a record was not sent. */
enum ob_rw_drop {
    OB_RW_DROP_GONE = 0,  /* its series is no longer in the store */
    OB_RW_DROP_RESHAPED,  /* its series has other bounds or quantiles now */
    OB_RW_DROP__COUNT
};

struct ob_rw_counts {
    uint64_t samples;    /* float samples */
    uint64_t histograms; /* native histograms */
    uint64_t series;     /* TimeSeries */
    uint64_t metadata;   /* MetricMetadata (1.0) or families described (2.0) */
    uint64_t exemplars;  /* exemplars (the store's newest per counter or bucket, once each) */
    uint64_t dropped[OB_RW_DROP__COUNT];
    int64_t newest_ms;   /* newest sample timestamp in the request */
};

int ob_rw_encoder_create(enum ob_rw_protocol proto, struct ob_store *store, uint32_t max_series,
                         uint32_t max_families, struct ob_rw_encoder **out);
void ob_rw_encoder_destroy(struct ob_rw_encoder *e);
/* Exponential histograms as the classic buckets a text scrape gets (at
 * most max_buckets bounds, as exposition.exponential_max_buckets), for
 * receivers without native histograms; 0: native (the default).  -ENOMEM. */
int ob_rw_encoder_classic(struct ob_rw_encoder *e, uint32_t max_buckets);

/* Samples (float samples plus histograms) the record becomes, 0 when it
 * will be dropped (why in *why); caches its series.  What batch sizes count. */
uint32_t ob_rw_record_samples(struct ob_rw_encoder *e, const struct ob_fwd_record *r, int64_t now_ms,
                              enum ob_rw_drop *why);

/* A request: begin, add records (in log order; each series' are sent in
 * timestamp order), end writes the protobuf (not compressed) into out
 * (emptied first) and the counts.  -ENOMEM. */
void ob_rw_encode_begin(struct ob_rw_encoder *e);
void ob_rw_encode_add(struct ob_rw_encoder *e, const struct ob_fwd_record *r, int64_t now_ms);
int ob_rw_encode_end(struct ob_rw_encoder *e, struct ob_buf *out, int64_t now_ms,
                     struct ob_rw_counts *counts);

#endif
