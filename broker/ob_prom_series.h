/* ob_prom_series.h: a stored series as the Prometheus samples it stands for.
 *
 * The store keeps a histogram or summary point as one unit (ob_store_layout.h,
 * "samples"); Prometheus' classic data model sees several series:
 *
 *   scalar      name                 value
 *   histogram   name_bucket{le=b_i}  cumulative count <= b_i, for each bound
 *               name_bucket{le=+Inf} count
 *               name_sum             sum (only when the point has one)
 *               name_count           count
 *   summary     name{quantile=q_i}   value at q_i, for each quantile
 *               name_sum, name_count
 *
 * This is the one place that knows that list; every writer (text today,
 * protobuf and remote write next) walks it instead of the raw sample.
 */
#ifndef OB_PROM_SERIES_H
#define OB_PROM_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "ob_store.h"

enum ob_prom_suffix { OB_PROM_PLAIN = 0, OB_PROM_BUCKET, OB_PROM_SUM, OB_PROM_COUNT };

/* The extra label of a sample: none, le (histogram buckets) or quantile. */
enum ob_prom_extra { OB_PROM_NO_EXTRA = 0, OB_PROM_LE, OB_PROM_QUANTILE };

struct ob_prom_sample {
    enum ob_prom_suffix suffix;
    enum ob_prom_extra extra;
    uint32_t point; /* with extra: index of the bound or quantile; n = le="+Inf" */
    double value;
};

struct ob_prom_iter {
    const struct ob_series_view *sv;
    uint32_t next;
};

static inline void ob_prom_iter_init(struct ob_prom_iter *it, const struct ob_series_view *sv)
{
    it->sv = sv;
    it->next = 0;
}

/* The next sample of the series, in the order above; false after the last. */
bool ob_prom_next(struct ob_prom_iter *it, struct ob_prom_sample *out);

/* "", "_bucket", "_sum", "_count". */
const char *ob_prom_suffix_text(enum ob_prom_suffix s);

#endif
