/* ob_payloads.h: real OTLP ExportMetricsServiceRequest bodies, packed with
 * protobuf-c, shared by the unit tests, tests/tools/mkpayload and the bench.
 *
 * Every builder appends one packed body to out and returns 0, or -ENOMEM
 * when out could not grow.  Scalars are set the way a proto3 sender puts them
 * on the wire: zero values, empty strings and empty repeated fields are
 * absent.  Timestamps are ns since the epoch; builders that imitate an SDK
 * truncate them to whole milliseconds as the OpenTelemetry JS SDK does.
 * Out-of-memory while building the message tree aborts (test-side code).
 */
#ifndef OB_PAYLOADS_H
#define OB_PAYLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"

#define OB_NS_PER_MS INT64_C(1000000)

/* ---- (a) The Prometheus OpenTelemetry guide's calculator, as the JS SDK
 * (sdk-metrics 2.12.0, OTLP/proto exporter) sends it.
 *
 * Resource: service.name=calculator, telemetry.sdk.language=nodejs,
 *   telemetry.sdk.name=opentelemetry, telemetry.sdk.version=2.12.0.
 * Scope: name "calculator", version "1.0.0".
 * Metrics, in this order, every point with start_time = start_ns and
 * time = ts_ns (both truncated to whole ms), temporality cumulative:
 *  1. calc_operation: Sum, monotonic, description
 *     "Number of calculator operations", no unit, as_double;
 *     {operation="add"} = 3*round, {operation="sub"} = 1*round.
 *  2. http.server.duration: Histogram, unit "ms", description
 *     "Duration of HTTP requests", the SDK's 15 default bounds
 *     0,5,10,25,50,75,100,250,500,750,1000,2500,5000,7500,10000;
 *     attributes http.method="GET", http.route="/calculate",
 *     http.status_code=200 (an int AnyValue, as the JS SDK records it).
 *     Every round observes the same 4 durations 3, 12, 60 and 420 ms, so
 *     after `round` rounds: per-bucket (non-cumulative) counts are `round` in
 *     buckets (0,5], (10,25], (50,75] and (250,500] (indexes 1, 3, 5, 8 of
 *     16), 0 elsewhere; count = 4*round; sum = 495*round; min = 3; max = 420.
 *  3. http.server.active_requests: Sum, not monotonic (UpDownCounter),
 *     unit "{request}", description "Number of active HTTP requests",
 *     no attributes, as_double 0.
 * round >= 1; a later export uses a later ts_ns, the same start_ns and
 * round + 1. */
#define OB_CALC_START_MS INT64_C(1700000000000) /* 2023-11-14T22:13:20Z */
#define OB_CALC_HIST_SUM 495.0
#define OB_CALC_HIST_COUNT 4
int ob_payload_calculator(struct ob_buf *out, int64_t start_ns, int64_t ts_ns, unsigned round);

/* ---- (b) The bench dataset.
 *
 * n_series series (default 10,000) of 30 metric families, series s in family
 * s % 30: families 0,3,6.. are gauges "bench.gauge.N" (as_double), 1,4,7..
 * monotonic cumulative counters "bench.requests.N" (as_double, unit "1"),
 * 2,5,8.. cumulative histograms "bench.latency.N" (unit "s", 10 explicit
 * bounds 0.005..5, so 11 bucket counts, sum, count).  Within a family series
 * k = s / 30 has attributes host="host-NNNN" (k / 12), region (k % 4 of
 * eu-west, eu-north, us-east, ap-south), code (k / 4 % 3 of 200, 404, 500);
 * histograms also method="POST" (4 attributes).  One resource
 * (service.name=bench, service.instance.id=loadgen) and scope ("bench").
 *
 * A "round" sends every series once; round r has time = ts0 + r * step.
 * Batch b is one body of points_per_body (default 500) consecutive series:
 * batches_per_round = ceil(n_series / points_per_body) and the last batch of a
 * round may be shorter.  Values grow with r (counters and histogram counts
 * are cumulative), so every batch index gives a distinct, later-in-time body
 * for the same series as batch b - batches_per_round.
 *
 * shuffle_window > 1: rounds are sent in a permuted order within blocks of
 * shuffle_window consecutive rounds (Fisher-Yates seeded with
 * OB_MIXED_SEED ^ block), so a series sees samples out of order by up to
 * (shuffle_window - 1) * step, but never two samples with the same time
 * (shuffle_window is capped at 256).
 * About 70 KB per 500-point body. */
#define OB_MIXED_SEED UINT64_C(0x5eed0f0b)
#define OB_MIXED_FAMILIES 30
#define OB_MIXED_HIST_BOUNDS 10

struct ob_mixed_opts {
    uint32_t n_series;        /* 0 = 10000 */
    uint32_t points_per_body; /* 0 = 500 */
    int64_t ts0_ns;           /* time of round 0 */
    int64_t step_ns;          /* 0 = 1 s */
    uint32_t shuffle_window;  /* 0 or 1 = rounds in order */
    bool exemplars;           /* every point with one exemplar (trace and span id
                                 from series and round, time of the point) */
    unsigned only;            /* 0: the mix; OB_MIXED_COUNTERS or OB_MIXED_HISTOGRAMS:
                                 all 30 families of that kind */
    bool exponential;         /* histograms are exponential: scale 3, 160 positive
                                 buckets from offset -40 */
    bool delta;               /* counters and histograms send the round's increase,
                                 start = the round before (step ns earlier) */
    const char *prefix;       /* put before every metric name (NULL: none) */
};
#define OB_MIXED_COUNTERS 1u
#define OB_MIXED_HISTOGRAMS 2u
#define OB_MIXED_EXP_BUCKETS 160

uint32_t ob_mixed_batches_per_round(const struct ob_mixed_opts *o);
/* Round whose samples batch b carries (after the shuffle). */
uint64_t ob_mixed_round(const struct ob_mixed_opts *o, uint64_t batch);
/* Appends body `batch`; *out_points (may be NULL) = data points in it. */
int ob_payload_mixed(struct ob_buf *out, const struct ob_mixed_opts *o, uint64_t batch,
                     uint32_t *out_points);

/* Store filler: n gauge points for series first .. first+n-1, each in family
 * "bench_fill_NNN" (series / 10000) with one attribute id="NNNNNNN"; value =
 * series index.  Cheap series for scrape benchmarks. */
int ob_payload_fill(struct ob_buf *out, uint32_t first, uint32_t n, int64_t ts_ns);

/* Shuffled grid: n_series gauge series rw_shuffle{series="NNNN"} (service.name
 * "shuffle"), each with a point at every one of n_ts times ts0 + t * step;
 * the value of series s at time t is s * 1000 + t (exact in any float
 * format).  The n_series * n_ts points are put in one random order (seeded
 * by OB_SHUFFLE_SEED, the same for every call), then cut into bodies of
 * points_per_body: this appends body `batch` (empty past the last one). */
#define OB_SHUFFLE_SEED UINT64_C(0x5eed5af1e)
struct ob_shuffled_opts {
    uint32_t n_series;        /* at most 10000 */
    uint32_t n_ts;            /* at most 1000 */
    int64_t ts0_ns;
    int64_t step_ns;
    uint32_t points_per_body; /* >= 1 */
};
int ob_payload_shuffled(struct ob_buf *out, const struct ob_shuffled_opts *o, uint32_t batch);

/* ---- (c) Special cases.  Each has one resource (service.name=special) and
 * scope ("special"); times are ts_ns, start ts_ns - 60 s. */

/* "requests.delta": Sum, monotonic, DELTA temporality, as_int 5. */
int ob_payload_delta_sum(struct ob_buf *out, int64_t ts_ns);
/* "requests.unspecified": Sum, monotonic, temporality UNSPECIFIED (which the
 * broker refuses), as_int 5. */
int ob_payload_unspecified_sum(struct ob_buf *out, int64_t ts_ns);
/* "rpc.duration": Summary (unit "s"), count 10, sum 2.5, quantiles
 * 0 -> 0.01, 0.5 -> 0.2, 0.9 -> 0.5, 1 -> 0.9; attribute rpc.method="Get". */
int ob_payload_summary(struct ob_buf *out, int64_t ts_ns);
/* "request.size": ExponentialHistogram (unit "By"), cumulative, scale 2,
 * zero_count 1, positive offset 3 counts 1,2,3, negative offset -1 counts 4,
 * count 11, sum 123.5, min -3, max 40. */
int ob_payload_exp_histogram(struct ob_buf *out, int64_t ts_ns);
/* "queue.depth" Gauge: one point with flags = NO_RECORDED_VALUE and no value;
 * "queue.latency" Histogram (unit "ms"): one point with flags = NO_RECORDED_VALUE,
 * no count/sum/buckets. */
int ob_payload_no_recorded_value(struct ob_buf *out, int64_t ts_ns);
/* "empty.gauge" Gauge with no data points; "empty.sum" Sum with none;
 * "no.data" Metric with no data field at all; then "ok.gauge" Gauge with one
 * point (as_int 1) so the body is not all-empty. */
int ob_payload_empty_metrics(struct ob_buf *out, int64_t ts_ns);
/* "any.values" Gauge, as_double 1, attributes of every AnyValue kind:
 * s="str", b=true, i=-42, d=1.5, bytes=0x00 0x01 0xfe, arr=["a", 1, true],
 * kv={"k1":"v1","k2":2}, empty=(AnyValue without value). */
int ob_payload_any_values(struct ob_buf *out, int64_t ts_ns);
/* Gauge named "bad\xff\xfeutf8" (invalid UTF-8), as_int 1, attribute
 * "key\xc3" = "val\xe2\x82" (truncated sequences). */
int ob_payload_bad_utf8(struct ob_buf *out, int64_t ts_ns);
/* "many.labels" Gauge, as_int 1, n_labels attributes label_000="v000", ... */
int ob_payload_many_labels(struct ob_buf *out, int64_t ts_ns, unsigned n_labels);

/* Exemplars (trace ids T1 5b8efff798038103d269b633813fc60c, T2
 * 0af7651916cd43dd8448eb211c80319c; span ids S1 eee19b7ec3c1b174, S2
 * b7ad6b7169203331; times relative to ts_ns in seconds):
 *  - "checkout.requests" counter (cumulative, start ts - 60 s):
 *    {route="/a"} 7 with exemplars (T1, S1, 1 at -2 s, user.id="u-1") and
 *    (T2, S2, 2 at -1 s, user.id="u-\"2\"");
 *    {route="/b"} 3 with (T1, S1, 3, no time, note = 100 x "v": over the 128
 *    characters with the ids, so only the ids are kept).
 *  - "checkout.duration" histogram (unit "s", bounds 0.1, 1, counts 1, 2, 1,
 *    count 4, sum 3.6) with exemplars (T1, S1, 0.05 at -5 s), (T1, S2, 0.5 at
 *    -4 s), (T2, S2, 1 at -3 s: bound 1 takes it, newer than 0.5), (T2, S1, 3
 *    at -2 s: +Inf), a span id of one byte and a trace id of 15 bytes (both
 *    invalid).
 *  - "checkout.inflight" gauge 2 with an exemplar (dropped: a gauge). */
int ob_payload_exemplars(struct ob_buf *out, int64_t ts_ns);

/* The special cases by name ("delta", "summary", "exphist", "norecorded",
 * "empty", "anyvalues", "badutf8", "manylabels" (with 200 labels),
 * "exemplars", "unspecified"), for
 * tools; -EINVAL for an unknown name.  ob_payload_special_names lists them,
 * NULL-terminated. */
extern const char *const ob_payload_special_names[];
int ob_payload_special(const char *name, struct ob_buf *out, int64_t ts_ns);

#endif
