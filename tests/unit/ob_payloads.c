/* ob_payloads.c: builders of real OTLP request bodies (see ob_payloads.h).
 *
 * Each builder lays the protobuf-c message tree out in a private arena, packs
 * it into the caller's buffer and drops the arena: nothing leaks and nothing
 * needs freeing field by field.
 */
#include "ob_payloads.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_arena.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

/* Short local names for the generated types. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList pb_kvlist;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_rm;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_sm;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_hist;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram pb_exphist;
typedef Opentelemetry__Proto__Metrics__V1__Summary pb_summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_ndp;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_hdp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint pb_edp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb_ebuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint pb_sdp;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile pb_quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar pb_exemplar;

#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define NO_RECORDED_VALUE OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

struct builder {
    struct ob_arena arena;
};

static void *b_alloc(struct builder *b, size_t n)
{
    void *p = ob_arena_alloc(&b->arena, n);
    if (!p) {
        fprintf(stderr, "ob_payloads: out of memory\n");
        abort();
    }
    memset(p, 0, n);
    return p;
}

#define B_NEW(b, type) ((type *)b_alloc((b), sizeof(type)))
#define B_ARRAY(b, type, n) ((type *)b_alloc((b), sizeof(type) * ((n) ? (n) : 1)))

static char *b_strdup(struct builder *b, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = b_alloc(b, n);
    memcpy(p, s, n);
    return p;
}

static char *b_printf(struct builder *b, const char *fmt, ...) OB_PRINTF(2, 3);
static char *b_printf(struct builder *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return b_strdup(b, tmp);
}

/* proto3 leaves "" off the wire; protobuf-c (proto2) does that for NULL. */
static char *opt_str(struct builder *b, const char *s)
{
    return s && *s ? b_strdup(b, s) : NULL;
}

static pb_any *any_new(struct builder *b)
{
    pb_any *v = B_NEW(b, pb_any);
    opentelemetry__proto__common__v1__any_value__init(v);
    return v;
}

static pb_any *any_str(struct builder *b, const char *s)
{
    pb_any *v = any_new(b);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = b_strdup(b, s);
    return v;
}

static pb_any *any_int(struct builder *b, int64_t i)
{
    pb_any *v = any_new(b);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = i;
    return v;
}

static pb_any *any_bool(struct builder *b, bool x)
{
    pb_any *v = any_new(b);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = x;
    return v;
}

static pb_kv *kv(struct builder *b, const char *key, pb_any *value)
{
    pb_kv *p = B_NEW(b, pb_kv);
    opentelemetry__proto__common__v1__key_value__init(p);
    p->key = b_strdup(b, key);
    p->value = value;
    return p;
}

static pb_kv *kv_str(struct builder *b, const char *key, const char *value)
{
    return kv(b, key, any_str(b, value));
}

static pb_ndp *ndp_new(struct builder *b, int64_t start_ns, int64_t ts_ns)
{
    pb_ndp *p = B_NEW(b, pb_ndp);
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    if (start_ns) {
        p->has_start_time_unix_nano = true;
        p->start_time_unix_nano = (uint64_t)start_ns;
    }
    p->has_time_unix_nano = true;
    p->time_unix_nano = (uint64_t)ts_ns;
    return p;
}

static void ndp_double(pb_ndp *p, double v)
{
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
}

static void ndp_int(pb_ndp *p, int64_t v)
{
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    p->as_int = v;
}

static pb_metric *metric_new(struct builder *b, const char *name, const char *desc,
                             const char *unit)
{
    pb_metric *m = B_NEW(b, pb_metric);
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = opt_str(b, name);
    m->description = opt_str(b, desc);
    m->unit = opt_str(b, unit);
    return m;
}

static pb_gauge *metric_gauge(struct builder *b, pb_metric *m, size_t n_points)
{
    pb_gauge *g = B_NEW(b, pb_gauge);
    opentelemetry__proto__metrics__v1__gauge__init(g);
    g->data_points = B_ARRAY(b, pb_ndp *, n_points);
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m->gauge = g;
    return g;
}

static pb_sum *metric_sum(struct builder *b, pb_metric *m, size_t n_points, int temporality,
                          bool monotonic)
{
    pb_sum *s = B_NEW(b, pb_sum);
    opentelemetry__proto__metrics__v1__sum__init(s);
    s->data_points = B_ARRAY(b, pb_ndp *, n_points);
    s->has_aggregation_temporality = true;
    s->aggregation_temporality = temporality;
    if (monotonic) {
        s->has_is_monotonic = true;
        s->is_monotonic = true;
    }
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m->sum = s;
    return s;
}

static pb_hist *metric_hist(struct builder *b, pb_metric *m, size_t n_points)
{
    pb_hist *h = B_NEW(b, pb_hist);
    opentelemetry__proto__metrics__v1__histogram__init(h);
    h->data_points = B_ARRAY(b, pb_hdp *, n_points);
    h->has_aggregation_temporality = true;
    h->aggregation_temporality = CUMULATIVE;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    m->histogram = h;
    return h;
}

static pb_hdp *hdp_new(struct builder *b, int64_t start_ns, int64_t ts_ns)
{
    pb_hdp *p = B_NEW(b, pb_hdp);
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    if (start_ns) {
        p->has_start_time_unix_nano = true;
        p->start_time_unix_nano = (uint64_t)start_ns;
    }
    p->has_time_unix_nano = true;
    p->time_unix_nano = (uint64_t)ts_ns;
    return p;
}

/* An exemplar with the ids given as hex ("" = none; any length, so that
 * wrong ones can be sent too), a double value, and time ts_ns (0 = none). */
static pb_exemplar *exemplar_new(struct builder *b, const char *trace_hex, const char *span_hex,
                                 double v, int64_t ts_ns)
{
    pb_exemplar *e = B_NEW(b, pb_exemplar);
    opentelemetry__proto__metrics__v1__exemplar__init(e);
    const char *hex[2] = {trace_hex, span_hex};
    ProtobufCBinaryData *id[2] = {&e->trace_id, &e->span_id};
    protobuf_c_boolean *has[2] = {&e->has_trace_id, &e->has_span_id};
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(hex[k]) / 2;
        if (!n)
            continue;
        id[k]->data = B_ARRAY(b, uint8_t, n);
        id[k]->len = n;
        for (size_t i = 0; i < n; i++) {
            unsigned byte;
            sscanf(hex[k] + 2 * i, "%2x", &byte);
            id[k]->data[i] = (uint8_t)byte;
        }
        *has[k] = true;
    }
    e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    e->as_double = v;
    if (ts_ns) {
        e->has_time_unix_nano = true;
        e->time_unix_nano = (uint64_t)ts_ns;
    }
    return e;
}

static pb_ebuckets *ebuckets(struct builder *b, int32_t offset, const uint64_t *counts, size_t n)
{
    pb_ebuckets *e = B_NEW(b, pb_ebuckets);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(e);
    e->has_offset = offset != 0;
    e->offset = offset;
    e->n_bucket_counts = n;
    e->bucket_counts = B_ARRAY(b, uint64_t, n);
    memcpy(e->bucket_counts, counts, n * sizeof *counts);
    return e;
}

static pb_exphist *metric_exphist(struct builder *b, pb_metric *m, size_t n_points, int temporality)
{
    pb_exphist *e = B_NEW(b, pb_exphist);
    opentelemetry__proto__metrics__v1__exponential_histogram__init(e);
    e->data_points = B_ARRAY(b, pb_edp *, n_points);
    e->has_aggregation_temporality = true;
    e->aggregation_temporality = temporality;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m->exponential_histogram = e;
    return e;
}

static pb_edp *edp_new(struct builder *b, int64_t start_ns, int64_t ts_ns)
{
    pb_edp *p = B_NEW(b, pb_edp);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    p->has_start_time_unix_nano = true;
    p->start_time_unix_nano = (uint64_t)start_ns;
    p->has_time_unix_nano = true;
    p->time_unix_nano = (uint64_t)ts_ns;
    return p;
}

/* One resource with string attributes (key, value pairs, NULL-terminated)
 * and one scope; metrics are filled in by the caller. */
static pb_sm *request_new(struct builder *b,
                          Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req,
                          const char *const *res_attrs, const char *scope_name,
                          const char *scope_version, size_t n_metrics)
{
    size_t n_attrs = 0;
    while (res_attrs[2 * n_attrs])
        n_attrs++;
    pb_resource *res = B_NEW(b, pb_resource);
    opentelemetry__proto__resource__v1__resource__init(res);
    res->attributes = B_ARRAY(b, pb_kv *, n_attrs);
    for (size_t i = 0; i < n_attrs; i++)
        res->attributes[res->n_attributes++] = kv_str(b, res_attrs[2 * i], res_attrs[2 * i + 1]);

    pb_scope *scope = B_NEW(b, pb_scope);
    opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
    scope->name = opt_str(b, scope_name);
    scope->version = opt_str(b, scope_version);

    pb_sm *sm = B_NEW(b, pb_sm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->scope = scope;
    sm->metrics = B_ARRAY(b, pb_metric *, n_metrics);

    pb_rm *rm = B_NEW(b, pb_rm);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = res;
    rm->scope_metrics = B_ARRAY(b, pb_sm *, 1);
    rm->scope_metrics[rm->n_scope_metrics++] = sm;

    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    req->resource_metrics = B_ARRAY(b, pb_rm *, 1);
    req->resource_metrics[req->n_resource_metrics++] = rm;
    return sm;
}

static void builder_init(struct builder *b, size_t chunk)
{
    ob_arena_init(&b->arena, chunk);
}

/* Packs req into out and releases the builder. */
static int finish(struct builder *b, const ProtobufCMessage *req, struct ob_buf *out)
{
    int rc = 0;
    size_t n = protobuf_c_message_get_packed_size(req);
    if (!ob_buf_reserve(out, n)) {
        rc = -ENOMEM;
        goto fail;
    }
    out->len += protobuf_c_message_pack(req, (uint8_t *)out->data + out->len);
fail:
    ob_arena_fini(&b->arena);
    return rc;
}

static int64_t whole_ms(int64_t ns)
{
    return ns - ns % OB_NS_PER_MS;
}

/* ---- (a) calculator ---- */

int ob_payload_calculator(struct ob_buf *out, int64_t start_ns, int64_t ts_ns, unsigned round)
{
    static const char *const res_attrs[] = {
        "service.name", "calculator",
        "telemetry.sdk.language", "nodejs",
        "telemetry.sdk.name", "opentelemetry",
        "telemetry.sdk.version", "2.12.0",
        NULL,
    };
    static const double bounds[] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750,
                                    1000, 2500, 5000, 7500, 10000};
    static const double observed[] = {3, 12, 60, 420};
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, res_attrs, "calculator", "1.0.0", 3);
    start_ns = whole_ms(start_ns);
    ts_ns = whole_ms(ts_ns);

    pb_metric *m = metric_new(&b, "calc_operation", "Number of calculator operations", NULL);
    pb_sum *sum = metric_sum(&b, m, 2, CUMULATIVE, true);
    static const char *const ops[] = {"add", "sub"};
    static const double per_round[] = {3, 1};
    for (size_t i = 0; i < 2; i++) {
        pb_ndp *p = ndp_new(&b, start_ns, ts_ns);
        p->attributes = B_ARRAY(&b, pb_kv *, 1);
        p->attributes[p->n_attributes++] = kv_str(&b, "operation", ops[i]);
        ndp_double(p, per_round[i] * round);
        sum->data_points[sum->n_data_points++] = p;
    }
    sm->metrics[sm->n_metrics++] = m;

    m = metric_new(&b, "http.server.duration", "Duration of HTTP requests", "ms");
    pb_hist *h = metric_hist(&b, m, 1);
    pb_hdp *hp = hdp_new(&b, start_ns, ts_ns);
    hp->attributes = B_ARRAY(&b, pb_kv *, 3);
    hp->attributes[hp->n_attributes++] = kv_str(&b, "http.method", "GET");
    hp->attributes[hp->n_attributes++] = kv_str(&b, "http.route", "/calculate");
    hp->attributes[hp->n_attributes++] = kv(&b, "http.status_code", any_int(&b, 200));
    hp->n_explicit_bounds = OB_ARRAY_LEN(bounds);
    hp->explicit_bounds = B_ARRAY(&b, double, hp->n_explicit_bounds);
    memcpy(hp->explicit_bounds, bounds, sizeof bounds);
    hp->n_bucket_counts = OB_ARRAY_LEN(bounds) + 1;
    hp->bucket_counts = B_ARRAY(&b, uint64_t, hp->n_bucket_counts);
    double total = 0;
    for (size_t i = 0; i < OB_ARRAY_LEN(observed); i++) {
        size_t k = 0;
        while (k < OB_ARRAY_LEN(bounds) && observed[i] > bounds[k])
            k++;
        hp->bucket_counts[k] += round;
        total += observed[i];
    }
    hp->has_count = true;
    hp->count = (uint64_t)OB_ARRAY_LEN(observed) * round;
    hp->has_sum = true;
    hp->sum = total * round;
    hp->has_min = true;
    hp->min = observed[0];
    hp->has_max = true;
    hp->max = observed[OB_ARRAY_LEN(observed) - 1];
    h->data_points[h->n_data_points++] = hp;
    sm->metrics[sm->n_metrics++] = m;

    m = metric_new(&b, "http.server.active_requests", "Number of active HTTP requests",
                   "{request}");
    sum = metric_sum(&b, m, 1, CUMULATIVE, false);
    pb_ndp *p = ndp_new(&b, start_ns, ts_ns);
    ndp_double(p, 0);
    sum->data_points[sum->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;

    return finish(&b, &req.base, out);
}

/* ---- (b) bench dataset ---- */

static const char *const mixed_regions[] = {"eu-west", "eu-north", "us-east", "ap-south"};
static const char *const mixed_codes[] = {"200", "404", "500"};
static const double mixed_bounds[OB_MIXED_HIST_BOUNDS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25, 0.5, 1, 2.5, 5};

static void mixed_defaults(const struct ob_mixed_opts *o, struct ob_mixed_opts *out_o)
{
    *out_o = *o;
    if (!out_o->n_series)
        out_o->n_series = 10000;
    if (!out_o->points_per_body)
        out_o->points_per_body = 500;
    if (!out_o->step_ns)
        out_o->step_ns = 1000 * OB_NS_PER_MS;
}

uint32_t ob_mixed_batches_per_round(const struct ob_mixed_opts *o)
{
    struct ob_mixed_opts d;
    mixed_defaults(o, &d);
    return (d.n_series + d.points_per_body - 1) / d.points_per_body;
}

/* splitmix64: small, seedable, good enough to permute test rounds. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t ob_mixed_round(const struct ob_mixed_opts *o, uint64_t batch)
{
    uint64_t seq = batch / ob_mixed_batches_per_round(o);
    uint32_t w = o->shuffle_window;
    if (w <= 1)
        return seq;
    uint32_t perm[256];
    if (w > OB_ARRAY_LEN(perm))
        w = OB_ARRAY_LEN(perm);
    uint64_t block = seq / w;
    for (uint32_t i = 0; i < w; i++)
        perm[i] = i;
    uint64_t state = OB_MIXED_SEED ^ block;
    for (uint32_t i = w - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(splitmix64(&state) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return block * w + perm[seq % w];
}

int ob_payload_mixed(struct ob_buf *out, const struct ob_mixed_opts *o, uint64_t batch,
                     uint32_t *out_points)
{
    static const char *const res_attrs[] = {
        "service.name", "bench",
        "service.instance.id", "loadgen",
        "telemetry.sdk.language", "c",
        NULL,
    };
    struct ob_mixed_opts d;
    mixed_defaults(o, &d);
    uint32_t per_round = ob_mixed_batches_per_round(&d);
    uint64_t round = ob_mixed_round(&d, batch);
    uint32_t first = (uint32_t)(batch % per_round) * d.points_per_body;
    uint32_t n = OB_MIN(d.points_per_body, d.n_series - first);
    int64_t ts_ns = d.ts0_ns + (int64_t)round * d.step_ns;
    /* cumulative: one start for all; delta: the round before */
    int64_t start_ns = d.delta ? ts_ns - d.step_ns : d.ts0_ns - 3600 * 1000 * OB_NS_PER_MS;
    uint64_t times = d.delta ? 1 : round + 1; /* a counter's value: times its increase */
    int temporality = d.delta ? DELTA : CUMULATIVE;
    uint32_t nf = OB_MIN(n, (uint32_t)OB_MIXED_FAMILIES);
    char trace[33], span[17];

    struct builder b;
    builder_init(&b, 256 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, res_attrs, "bench", "1.0.0", nf);

    /* One Metric per family present in this batch, points grouped by family
     * like an SDK does; consecutive series cycle through the families. */
    pb_metric *fam[OB_MIXED_FAMILIES] = {0};
    uint32_t per_fam = (n + OB_MIXED_FAMILIES - 1) / OB_MIXED_FAMILIES;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = first + i;
        uint32_t f = s % OB_MIXED_FAMILIES;
        uint32_t k = s / OB_MIXED_FAMILIES;
        unsigned kind = d.only ? d.only : f % 3;
        if (!fam[f]) {
            static const char *const names[] = {"bench.gauge.%u", "bench.requests.%u",
                                                "bench.latency.%u"};
            static const char *const units[] = {NULL, "1", "s"};
            static const char *const descs[] = {"Bench gauge", "Bench counter",
                                                "Bench histogram"};
            const char *name = b_printf(&b, names[kind], d.only ? f : f / 3);
            if (d.prefix)
                name = b_printf(&b, "%s%s", d.prefix, name);
            fam[f] = metric_new(&b, name, descs[kind], units[kind]);
            if (kind == 0)
                metric_gauge(&b, fam[f], per_fam);
            else if (kind == 1)
                metric_sum(&b, fam[f], per_fam, temporality, true);
            else if (d.exponential)
                metric_exphist(&b, fam[f], per_fam, temporality);
            else
                metric_hist(&b, fam[f], per_fam)->aggregation_temporality = temporality;
            sm->metrics[sm->n_metrics++] = fam[f];
        }
        pb_kv **attrs = B_ARRAY(&b, pb_kv *, 4);
        size_t na = 0;
        attrs[na++] = kv(&b, "host", any_str(&b, b_printf(&b, "host-%04u", k / 12)));
        attrs[na++] = kv_str(&b, "region", mixed_regions[k % 4]);
        attrs[na++] = kv_str(&b, "code", mixed_codes[k / 4 % 3]);
        if (kind == 2)
            attrs[na++] = kv_str(&b, "method", "POST");

        if (kind == 2 && d.exponential) {
            pb_edp *ep = edp_new(&b, start_ns, ts_ns);
            ep->attributes = attrs;
            ep->n_attributes = na;
            uint64_t *c = B_ARRAY(&b, uint64_t, OB_MIXED_EXP_BUCKETS);
            uint64_t count = 0;
            for (uint32_t j = 0; j < OB_MIXED_EXP_BUCKETS; j++)
                count += c[j] = times * ((s + j) % 4);
            ep->has_scale = ep->has_count = ep->has_sum = true;
            ep->scale = 3;
            ep->count = count;
            ep->sum = (double)count * 0.5;
            ep->positive = ebuckets(&b, -40, c, OB_MIXED_EXP_BUCKETS);
            fam[f]->exponential_histogram
                ->data_points[fam[f]->exponential_histogram->n_data_points++] = ep;
        } else if (kind == 2) {
            pb_hdp *hp = hdp_new(&b, start_ns, ts_ns);
            hp->attributes = attrs;
            hp->n_attributes = na;
            hp->n_explicit_bounds = OB_MIXED_HIST_BOUNDS;
            hp->explicit_bounds = B_ARRAY(&b, double, OB_MIXED_HIST_BOUNDS);
            memcpy(hp->explicit_bounds, mixed_bounds, sizeof mixed_bounds);
            hp->n_bucket_counts = OB_MIXED_HIST_BOUNDS + 1;
            hp->bucket_counts = B_ARRAY(&b, uint64_t, OB_MIXED_HIST_BOUNDS + 1);
            uint64_t count = 0;
            double sum = 0;
            for (uint32_t j = 0; j <= OB_MIXED_HIST_BOUNDS; j++) {
                uint64_t c = times * ((s + j) % 4);
                hp->bucket_counts[j] = c;
                count += c;
                sum += (double)c * (j < OB_MIXED_HIST_BOUNDS ? mixed_bounds[j] : 10.0) * 0.75;
            }
            hp->has_count = true;
            hp->count = count;
            hp->has_sum = true;
            hp->sum = sum;
            if (d.exemplars) {
                snprintf(trace, sizeof trace, "%016llx%016llx", (unsigned long long)round + 1,
                         (unsigned long long)s);
                snprintf(span, sizeof span, "%016llx", (unsigned long long)s * 31 + round);
                hp->exemplars = B_ARRAY(&b, pb_exemplar *, 1);
                hp->exemplars[hp->n_exemplars++] =
                    exemplar_new(&b, trace, span, mixed_bounds[s % OB_MIXED_HIST_BOUNDS] * 0.9, ts_ns);
            }
            fam[f]->histogram->data_points[fam[f]->histogram->n_data_points++] = hp;
        } else {
            pb_ndp *p = ndp_new(&b, kind == 1 ? start_ns : 0, ts_ns);
            p->attributes = attrs;
            p->n_attributes = na;
            if (d.exemplars) {
                snprintf(trace, sizeof trace, "%016llx%016llx", (unsigned long long)round + 1,
                         (unsigned long long)s);
                snprintf(span, sizeof span, "%016llx", (unsigned long long)s * 31 + round);
                p->exemplars = B_ARRAY(&b, pb_exemplar *, 1);
                p->exemplars[p->n_exemplars++] = exemplar_new(&b, trace, span, 1, ts_ns);
            }
            if (kind == 0) {
                ndp_double(p, (double)((s * 7919u + round * 104729u) % 100000u) / 100.0);
                fam[f]->gauge->data_points[fam[f]->gauge->n_data_points++] = p;
            } else {
                ndp_double(p, (double)(times * (1 + s % 7)));
                fam[f]->sum->data_points[fam[f]->sum->n_data_points++] = p;
            }
        }
    }
    int rc = finish(&b, &req.base, out);
    if (rc == 0 && out_points)
        *out_points = n;
    return rc;
}

int ob_payload_fill(struct ob_buf *out, uint32_t first, uint32_t n, int64_t ts_ns)
{
    static const char *const res_attrs[] = {"service.name", "bench", NULL};
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    uint32_t n_fam = n ? (first + n - 1) / 10000 - first / 10000 + 1 : 0;
    pb_sm *sm = request_new(&b, &req, res_attrs, "bench", NULL, n_fam);
    pb_metric *m = NULL;
    for (uint32_t s = first; s < first + n; s++) {
        if (!m || s % 10000 == 0) {
            uint32_t left = OB_MIN(first + n - s, 10000 - s % 10000);
            m = metric_new(&b, b_printf(&b, "bench_fill_%03u", s / 10000), "Store filler", NULL);
            metric_gauge(&b, m, left);
            sm->metrics[sm->n_metrics++] = m;
        }
        pb_ndp *p = ndp_new(&b, 0, ts_ns);
        p->attributes = B_ARRAY(&b, pb_kv *, 1);
        p->attributes[p->n_attributes++] = kv(&b, "id", any_str(&b, b_printf(&b, "%07u", s)));
        ndp_double(p, (double)s);
        m->gauge->data_points[m->gauge->n_data_points++] = p;
    }
    return finish(&b, &req.base, out);
}

int ob_payload_shuffled(struct ob_buf *out, const struct ob_shuffled_opts *o, uint32_t batch)
{
    if (o->n_series == 0 || o->n_series > 10000 || o->n_ts == 0 || o->n_ts > 1000 ||
        o->points_per_body == 0)
        return -EINVAL;
    static const char *const res_attrs[] = {"service.name", "shuffle", NULL};
    uint32_t total = o->n_series * o->n_ts;
    uint32_t *perm = malloc(sizeof *perm * total);
    if (!perm)
        return -ENOMEM;
    for (uint32_t i = 0; i < total; i++)
        perm[i] = i;
    uint64_t state = OB_SHUFFLE_SEED;
    for (uint32_t i = total - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(splitmix64(&state) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint64_t first = (uint64_t)batch * o->points_per_body;
    uint32_t n = first >= total ? 0 : (uint32_t)OB_MIN((uint64_t)o->points_per_body, total - first);

    struct builder b;
    builder_init(&b, 64 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, res_attrs, "shuffle", NULL, 1);
    pb_metric *m = metric_new(&b, "rw_shuffle", "Shuffled grid", NULL);
    metric_gauge(&b, m, n);
    sm->metrics[sm->n_metrics++] = m;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = perm[first + k], s = i / o->n_ts, t = i % o->n_ts;
        pb_ndp *p = ndp_new(&b, 0, o->ts0_ns + (int64_t)t * o->step_ns);
        p->attributes = B_ARRAY(&b, pb_kv *, 1);
        p->attributes[p->n_attributes++] = kv(&b, "series", any_str(&b, b_printf(&b, "%04u", s)));
        ndp_double(p, (double)s * 1000 + t);
        m->gauge->data_points[m->gauge->n_data_points++] = p;
    }
    free(perm);
    return finish(&b, &req.base, out);
}

/* ---- (c) special cases ---- */

static const char *const special_res[] = {"service.name", "special", NULL};

int ob_payload_delta_sum(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "requests.delta", "Requests (delta)", "1");
    pb_sum *s = metric_sum(&b, m, 1, DELTA, true);
    pb_ndp *p = ndp_new(&b, ts_ns - 60000 * OB_NS_PER_MS, ts_ns);
    ndp_int(p, 5);
    s->data_points[s->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_unspecified_sum(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "requests.unspecified", "Requests (no temporality)", "1");
    pb_sum *s = metric_sum(&b, m, 1,
                           OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_UNSPECIFIED,
                           true);
    s->has_aggregation_temporality = false; /* proto3: the zero value is absent */
    pb_ndp *p = ndp_new(&b, ts_ns - 60000 * OB_NS_PER_MS, ts_ns);
    ndp_int(p, 5);
    s->data_points[s->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_summary(struct ob_buf *out, int64_t ts_ns)
{
    static const double q[][2] = {{0, 0.01}, {0.5, 0.2}, {0.9, 0.5}, {1, 0.9}};
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "rpc.duration", "RPC duration", "s");
    pb_summary *su = B_NEW(&b, pb_summary);
    opentelemetry__proto__metrics__v1__summary__init(su);
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    m->summary = su;
    pb_sdp *p = B_NEW(&b, pb_sdp);
    opentelemetry__proto__metrics__v1__summary_data_point__init(p);
    p->has_start_time_unix_nano = true;
    p->start_time_unix_nano = (uint64_t)(ts_ns - 60000 * OB_NS_PER_MS);
    p->has_time_unix_nano = true;
    p->time_unix_nano = (uint64_t)ts_ns;
    p->has_count = true;
    p->count = 10;
    p->has_sum = true;
    p->sum = 2.5;
    p->attributes = B_ARRAY(&b, pb_kv *, 1);
    p->attributes[p->n_attributes++] = kv_str(&b, "rpc.method", "Get");
    p->quantile_values = B_ARRAY(&b, pb_quantile *, OB_ARRAY_LEN(q));
    for (size_t i = 0; i < OB_ARRAY_LEN(q); i++) {
        pb_quantile *v = B_NEW(&b, pb_quantile);
        opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(v);
        /* proto3 leaves quantile 0 off the wire */
        v->has_quantile = q[i][0] != 0;
        v->quantile = q[i][0];
        v->has_value = true;
        v->value = q[i][1];
        p->quantile_values[p->n_quantile_values++] = v;
    }
    su->data_points = B_ARRAY(&b, pb_sdp *, 1);
    su->data_points[su->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_exp_histogram(struct ob_buf *out, int64_t ts_ns)
{
    static const uint64_t pos[] = {1, 2, 3};
    static const uint64_t neg[] = {4};
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "request.size", "Request size", "By");
    pb_exphist *e = B_NEW(&b, pb_exphist);
    opentelemetry__proto__metrics__v1__exponential_histogram__init(e);
    e->has_aggregation_temporality = true;
    e->aggregation_temporality = CUMULATIVE;
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m->exponential_histogram = e;
    pb_edp *p = B_NEW(&b, pb_edp);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    p->has_start_time_unix_nano = true;
    p->start_time_unix_nano = (uint64_t)(ts_ns - 60000 * OB_NS_PER_MS);
    p->has_time_unix_nano = true;
    p->time_unix_nano = (uint64_t)ts_ns;
    p->has_count = true;
    p->count = 11;
    p->has_sum = true;
    p->sum = 123.5;
    p->has_scale = true;
    p->scale = 2;
    p->has_zero_count = true;
    p->zero_count = 1;
    p->positive = ebuckets(&b, 3, pos, OB_ARRAY_LEN(pos));
    p->negative = ebuckets(&b, -1, neg, OB_ARRAY_LEN(neg));
    p->has_min = true;
    p->min = -3;
    p->has_max = true;
    p->max = 40;
    e->data_points = B_ARRAY(&b, pb_edp *, 1);
    e->data_points[e->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_no_recorded_value(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 2);
    pb_metric *m = metric_new(&b, "queue.depth", "Queue depth", NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    pb_ndp *p = ndp_new(&b, 0, ts_ns);
    p->has_flags = true;
    p->flags = NO_RECORDED_VALUE;
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;

    m = metric_new(&b, "queue.latency", "Queue latency", "ms");
    pb_hist *h = metric_hist(&b, m, 1);
    pb_hdp *hp = hdp_new(&b, ts_ns - 60000 * OB_NS_PER_MS, ts_ns);
    hp->has_flags = true;
    hp->flags = NO_RECORDED_VALUE;
    h->data_points[h->n_data_points++] = hp;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_empty_metrics(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 4);
    pb_metric *m = metric_new(&b, "empty.gauge", "No points", NULL);
    metric_gauge(&b, m, 0);
    sm->metrics[sm->n_metrics++] = m;
    m = metric_new(&b, "empty.sum", "No points", NULL);
    metric_sum(&b, m, 0, CUMULATIVE, true);
    sm->metrics[sm->n_metrics++] = m;
    sm->metrics[sm->n_metrics++] = metric_new(&b, "no.data", "No data field", NULL);
    m = metric_new(&b, "ok.gauge", "One point", NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    pb_ndp *p = ndp_new(&b, 0, ts_ns);
    ndp_int(p, 1);
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_any_values(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "any.values", "Every AnyValue kind", NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    pb_ndp *p = ndp_new(&b, 0, ts_ns);
    ndp_double(p, 1);

    pb_any *d = any_new(&b);
    d->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    d->double_value = 1.5;

    static const uint8_t raw[] = {0x00, 0x01, 0xfe};
    pb_any *by = any_new(&b);
    by->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    by->bytes_value.len = sizeof raw;
    by->bytes_value.data = b_alloc(&b, sizeof raw);
    memcpy(by->bytes_value.data, raw, sizeof raw);

    pb_array *arr = B_NEW(&b, pb_array);
    opentelemetry__proto__common__v1__array_value__init(arr);
    arr->values = B_ARRAY(&b, pb_any *, 3);
    arr->values[arr->n_values++] = any_str(&b, "a");
    arr->values[arr->n_values++] = any_int(&b, 1);
    arr->values[arr->n_values++] = any_bool(&b, true);
    pb_any *av = any_new(&b);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    av->array_value = arr;

    pb_kvlist *list = B_NEW(&b, pb_kvlist);
    opentelemetry__proto__common__v1__key_value_list__init(list);
    list->values = B_ARRAY(&b, pb_kv *, 2);
    list->values[list->n_values++] = kv_str(&b, "k1", "v1");
    list->values[list->n_values++] = kv(&b, "k2", any_int(&b, 2));
    pb_any *lv = any_new(&b);
    lv->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    lv->kvlist_value = list;

    p->attributes = B_ARRAY(&b, pb_kv *, 8);
    p->attributes[p->n_attributes++] = kv_str(&b, "s", "str");
    p->attributes[p->n_attributes++] = kv(&b, "b", any_bool(&b, true));
    p->attributes[p->n_attributes++] = kv(&b, "i", any_int(&b, -42));
    p->attributes[p->n_attributes++] = kv(&b, "d", d);
    p->attributes[p->n_attributes++] = kv(&b, "bytes", by);
    p->attributes[p->n_attributes++] = kv(&b, "arr", av);
    p->attributes[p->n_attributes++] = kv(&b, "kv", lv);
    p->attributes[p->n_attributes++] = kv(&b, "empty", any_new(&b));
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_bad_utf8(struct ob_buf *out, int64_t ts_ns)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "bad\xff\xfeutf8", NULL, NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    pb_ndp *p = ndp_new(&b, 0, ts_ns);
    ndp_int(p, 1);
    p->attributes = B_ARRAY(&b, pb_kv *, 1);
    p->attributes[p->n_attributes++] = kv_str(&b, "key\xc3", "val\xe2\x82");
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_many_labels(struct ob_buf *out, int64_t ts_ns, unsigned n_labels)
{
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 1);
    pb_metric *m = metric_new(&b, "many.labels", "Many labels", NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    pb_ndp *p = ndp_new(&b, 0, ts_ns);
    ndp_int(p, 1);
    p->attributes = B_ARRAY(&b, pb_kv *, n_labels);
    for (unsigned i = 0; i < n_labels; i++)
        p->attributes[p->n_attributes++] =
            kv_str(&b, b_printf(&b, "label_%03u", i), b_printf(&b, "v%03u", i));
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

int ob_payload_exemplars(struct ob_buf *out, int64_t ts_ns)
{
    static const char T1[] = "5b8efff798038103d269b633813fc60c", S1[] = "eee19b7ec3c1b174";
    static const char T2[] = "0af7651916cd43dd8448eb211c80319c", S2[] = "b7ad6b7169203331";
    const int64_t s = 1000 * OB_NS_PER_MS;
    struct builder b;
    builder_init(&b, 16 * 1024);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
    pb_sm *sm = request_new(&b, &req, special_res, "special", NULL, 3);

    pb_metric *m = metric_new(&b, "checkout.requests", "Checkouts", NULL);
    pb_sum *sum = metric_sum(&b, m, 2, CUMULATIVE, true);
    pb_ndp *p = ndp_new(&b, ts_ns - 60 * s, ts_ns);
    ndp_int(p, 7);
    p->attributes = B_ARRAY(&b, pb_kv *, 1);
    p->attributes[p->n_attributes++] = kv_str(&b, "route", "/a");
    p->exemplars = B_ARRAY(&b, pb_exemplar *, 2);
    pb_exemplar *e = exemplar_new(&b, T1, S1, 1, ts_ns - 2 * s);
    e->filtered_attributes = B_ARRAY(&b, pb_kv *, 1);
    e->filtered_attributes[e->n_filtered_attributes++] = kv_str(&b, "user.id", "u-1");
    p->exemplars[p->n_exemplars++] = e;
    e = exemplar_new(&b, T2, S2, 2, ts_ns - 1 * s);
    e->filtered_attributes = B_ARRAY(&b, pb_kv *, 1);
    e->filtered_attributes[e->n_filtered_attributes++] = kv_str(&b, "user.id", "u-\"2\"");
    p->exemplars[p->n_exemplars++] = e;
    sum->data_points[sum->n_data_points++] = p;
    p = ndp_new(&b, ts_ns - 60 * s, ts_ns);
    ndp_int(p, 3);
    p->attributes = B_ARRAY(&b, pb_kv *, 1);
    p->attributes[p->n_attributes++] = kv_str(&b, "route", "/b");
    p->exemplars = B_ARRAY(&b, pb_exemplar *, 1);
    e = exemplar_new(&b, T1, S1, 3, 0);
    e->filtered_attributes = B_ARRAY(&b, pb_kv *, 1);
    char long_value[101];
    memset(long_value, 'v', 100);
    long_value[100] = '\0';
    e->filtered_attributes[e->n_filtered_attributes++] = kv_str(&b, "note", long_value);
    p->exemplars[p->n_exemplars++] = e;
    sum->data_points[sum->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;

    m = metric_new(&b, "checkout.duration", "Checkout time", "s");
    pb_hist *h = metric_hist(&b, m, 1);
    pb_hdp *hp = hdp_new(&b, ts_ns - 60 * s, ts_ns);
    static const double bounds[] = {0.1, 1};
    static const uint64_t counts[] = {1, 2, 1};
    hp->n_explicit_bounds = 2;
    hp->explicit_bounds = B_ARRAY(&b, double, 2);
    memcpy(hp->explicit_bounds, bounds, sizeof bounds);
    hp->n_bucket_counts = 3;
    hp->bucket_counts = B_ARRAY(&b, uint64_t, 3);
    memcpy(hp->bucket_counts, counts, sizeof counts);
    hp->has_count = true;
    hp->count = 4;
    hp->has_sum = true;
    hp->sum = 3.6;
    hp->exemplars = B_ARRAY(&b, pb_exemplar *, 6);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T1, S1, 0.05, ts_ns - 5 * s);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T1, S2, 0.5, ts_ns - 4 * s);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T2, S2, 1, ts_ns - 3 * s);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T2, S1, 3, ts_ns - 2 * s);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T1, "01", 0.7, ts_ns - 1 * s);
    hp->exemplars[hp->n_exemplars++] = exemplar_new(&b, T1 + 2, S1, 0.7, ts_ns - 1 * s);
    h->data_points[h->n_data_points++] = hp;
    sm->metrics[sm->n_metrics++] = m;

    m = metric_new(&b, "checkout.inflight", "In flight", NULL);
    pb_gauge *g = metric_gauge(&b, m, 1);
    p = ndp_new(&b, 0, ts_ns);
    ndp_int(p, 2);
    p->exemplars = B_ARRAY(&b, pb_exemplar *, 1);
    p->exemplars[p->n_exemplars++] = exemplar_new(&b, T1, S1, 2, ts_ns);
    g->data_points[g->n_data_points++] = p;
    sm->metrics[sm->n_metrics++] = m;
    return finish(&b, &req.base, out);
}

const char *const ob_payload_special_names[] = {
    "delta", "summary", "exphist", "norecorded", "empty", "anyvalues", "badutf8", "manylabels",
    "exemplars", "unspecified", NULL,
};

int ob_payload_special(const char *name, struct ob_buf *out, int64_t ts_ns)
{
    if (!strcmp(name, "delta"))
        return ob_payload_delta_sum(out, ts_ns);
    if (!strcmp(name, "summary"))
        return ob_payload_summary(out, ts_ns);
    if (!strcmp(name, "exphist"))
        return ob_payload_exp_histogram(out, ts_ns);
    if (!strcmp(name, "norecorded"))
        return ob_payload_no_recorded_value(out, ts_ns);
    if (!strcmp(name, "empty"))
        return ob_payload_empty_metrics(out, ts_ns);
    if (!strcmp(name, "anyvalues"))
        return ob_payload_any_values(out, ts_ns);
    if (!strcmp(name, "badutf8"))
        return ob_payload_bad_utf8(out, ts_ns);
    if (!strcmp(name, "manylabels"))
        return ob_payload_many_labels(out, ts_ns, 200);
    if (!strcmp(name, "exemplars"))
        return ob_payload_exemplars(out, ts_ns);
    if (!strcmp(name, "unspecified"))
        return ob_payload_unspecified_sum(out, ts_ns);
    return -EINVAL;
}
