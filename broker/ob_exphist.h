/* ob_exphist.h: the arithmetic of OTLP exponential histograms as Prometheus
 * takes them: scale lowering, bucket bounds, the native histogram's spans and
 * deltas, and a classic `le` fallback.  Pure: no store, no I/O, no allocation.
 *
 * OTLP: scale s, base = 2^(2^-s); positive bucket i covers (base^i,
 * base^(i+1)], negative bucket i mirrors it, [-base^(i+1), -base^i); each side
 * is an offset (the index of its first bucket) and consecutive counts.  The
 * zero bucket [-zero_threshold, zero_threshold] holds zero_count.
 *
 * Prometheus native histograms: schema = scale, valid -4..8; bucket k covers
 * (base^(k-1), base^k], so OTLP bucket i is Prometheus bucket i + 1.
 *
 * Counts are doubles because the store keeps every sample value as one; they
 * are whole numbers (exact below 2^53).
 */
#ifndef OB_EXPHIST_H
#define OB_EXPHIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_EXPHIST_MIN_SCALE (-4)
#define OB_EXPHIST_MAX_SCALE 8

/* The zero threshold Prometheus' OTLP translator gives every native
 * histogram, whatever the point's zero_threshold (its defaultZeroThreshold). */
#define OB_EXPHIST_PROM_ZERO_THRESHOLD 1e-128

/* The Prometheus schema of OTLP scale `scale` and how many steps each side
 * must be lowered by (ob_exphist_downscale) to reach it: scales above 8 become
 * 8, lowered by scale - 8.  False, and nothing written, for scales below -4,
 * which Prometheus refuses ("Scale must be >= -4"). */
bool ob_exphist_schema(int32_t scale, int32_t *out_schema, unsigned *out_by);

/* Lowers the scale of one side by `by` steps (by >= 0): counts[0..n) of
 * consecutive buckets from index *io_offset merged in place (bucket offset+i
 * goes to floor((offset+i) / 2^by), so negative indexes merge correctly);
 * returns the new count of buckets (<= n), *io_offset gets the new first
 * index.  Sums are kept; n == 0 returns 0 and leaves *io_offset. */
uint32_t ob_exphist_downscale(double *counts, uint32_t n, int32_t *io_offset, unsigned by);

/* Upper bound of Prometheus bucket index k at schema -4..8, the same double
 * Prometheus computes (model/histogram getBound): exact powers of two for
 * schema <= 0; for schema > 0 ldexp of Prometheus' own table of fractions,
 * which are not all correctly rounded (schema 1, k = 1 gives
 * 1.414213562373095, one ulp under sqrt(2)).  The bound that would be 2^1024
 * is DBL_MAX, as in Prometheus; beyond it +Inf, far below 0.  Any bound at
 * schema s is also the bound of index 2k at s + 1. */
double ob_exphist_bound(int32_t k, int32_t schema);

struct ob_native_span {
    int32_t offset;
    uint32_t length;
};

/* One side (OTLP offset and counts, at a scale Prometheus takes: lower it
 * first) as the spans and delta-encoded counts Prometheus' OTLP translator
 * makes (convertBucketsLayout), byte for byte:
 *  - the first span starts at the Prometheus index of counts[0] (offset + 1),
 *    even when that bucket is empty; later offsets are gaps since the previous
 *    span's end;
 *  - every non-empty bucket is written, and so is the last one, empty or not;
 *  - a run of at most 2 unwritten buckets before a written one is written as
 *    zeros, a longer run opens a new span (so the first span can be empty:
 *    counts 0,0,0,5 give spans {1,0},{3,1} and deltas 5);
 *  - deltas: each count minus the previous written one, the first minus 0
 *    (counts as Go's uint64 -> int64: wrapping past 2^63).
 * At most n spans and n deltas are written (callers size both by n); returns
 * the number of spans, *out_n_deltas the deltas.  n == 0: 0 and 0.
 *
 * For scales above 8, lower the side with ob_exphist_downscale first: that
 * gives Prometheus' layout too, except where Prometheus' own scale-down
 * misplaces counts (a merged bucket after an empty merged bucket, whose first
 * non-empty part is not its last: OTLP offset 0, counts 0,0,1,1, scaleDown 1
 * give it deltas 1,0 where the buckets are 0,2).  Here the merge is exact. */
size_t ob_exphist_spans(const double *counts, uint32_t n, int32_t offset,
                        struct ob_native_span *spans, int64_t *deltas, size_t *out_n_deltas);

/* A stored exponential histogram sample (d, OB_SAMPLE_* layout with room for
 * `room` counts) as the fields of a Prometheus native histogram message,
 * appended to out: count, sum (has_sum), schema, zero threshold (the
 * point's, or OB_EXPHIST_PROM_ZERO_THRESHOLD as Prometheus' OTLP translator
 * gives every one) and count, then each side's spans (BucketSpan: offset 1,
 * length 2) and packed sint64 deltas as ob_exphist_spans() lays them out.
 * The two Prometheus protos (the exposition's client model, remote write's
 * prompb) number those fields differently: `f` says how.  scratch holds the
 * spans meanwhile.  1, 0 when d is not a sample the store writes (nothing
 * appended), -1 without memory. */
struct ob_buf;
struct ob_native_fields {
    unsigned count, count_float, sum, schema, zero_threshold, zero_count, zero_count_float;
    unsigned neg_spans, neg_deltas, pos_spans, pos_deltas;
};
int ob_exphist_write_native(struct ob_buf *out, struct ob_buf *scratch, const struct ob_native_fields *f,
                            const double *d, uint32_t room, bool has_sum);

/* A whole point, as the store holds it. */
struct ob_exphist_view {
    int32_t scale;
    double zero_threshold, zero_count;
    int32_t pos_offset, neg_offset;
    uint32_t n_pos, n_neg;
    const double *pos, *neg; /* counts, not cumulative */
    double count, sum;
};

/* Classic fallback for scrapers that cannot read native histograms: the point
 * as cumulative `le` buckets with ascending finite upper bounds.
 *
 * The buckets in ascending order: negative ones from the most negative (upper
 * bound -base^i), the zero bucket (upper bound zero_threshold; 0 when it is 0
 * or less), positive ones (upper bound base^(i+1), ob_exphist_bound).  Scales
 * above 8 are lowered to 8 first, as for Prometheus.  Then:
 *  - positive buckets whose upper bound is not above zero_threshold are
 *    counted in the zero bucket (before any further lowering);
 *  - empty buckets at both ends are left out, empty ones inside are kept (a
 *    classic histogram may have flat stretches);
 *  - a bucket whose upper bound is not above the last one written (bounds
 *    that underflowed to -0 and 0) is counted in that last one;
 *  - a bucket with an infinite upper bound is not written: the scraper's
 *    +Inf bucket, or the next bound written, counts it;
 *  - while more than max_buckets bounds remain, the scale is lowered one step
 *    (both sides; the zero bucket stays one bound), not below -4;
 *  - if still too many at -4, the lowest bounds are left out until
 *    max_buckets remain: leaving a bound out of a cumulative histogram merges
 *    its bucket into the next one up, so the rest stays exact.
 * So every bound written counts exactly the buckets (at scale 8 or below)
 * whose upper bound is not above it, capped at `count` should the buckets add
 * up to more; with +Inf = count (not written here) the result is a valid
 * histogram: ascending bounds, non-decreasing counts.  Count 0, no non-empty
 * bucket, max_buckets 0 or a scale below -4 (refused at ingest): returns 0.
 *
 * Writes bounds[] and cumulative[] (room for max_buckets each) and returns
 * how many; scratch must have room for n_pos + n_neg doubles.  O(n) per
 * scale step, at most 12 steps past the lowering to 8. */
uint32_t ob_exphist_classic(const struct ob_exphist_view *h, uint32_t max_buckets, double *bounds,
                            double *cumulative, double *scratch);

/* ob_exphist_classic() on a sample as the store keeps it (d: OB_SAMPLE_*
 * layout, with room for `room` counts): bounds[] (room for max_buckets) and
 * v[] (room for max_buckets + 3) laid out as a classic histogram sample of
 * the returned number of bounds (count, sum, cumulative buckets, +Inf =
 * count); scratch has room for room + 1 doubles.  -1 when d is not a
 * sample the store writes. */
int ob_exphist_classic_sample(const double *d, uint32_t room, uint32_t max_buckets, double *bounds,
                              double *v, double *scratch);

#endif
