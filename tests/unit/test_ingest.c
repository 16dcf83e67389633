/* test_ingest.c: the ingest core against the real store and the default
 * translator plugin: naming, label sets, resources, rejections. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_buf.h"
#include "ob_config.h"
#include "ingest_fixture.h"
#include "ob_expose.h"
#include "ob_ingest.h"
#include "ob_names.h"
#include "ob_payloads.h"
#include "ob_translator_host.h"
#include "ob_selfmetrics.h"
#include "ob_store.h"
#include "ob_store_layout.h"
#include "ob_time.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

static struct ingest_fixture fx;
static struct ob_store *store;
static struct ob_config *cfg;
static struct ob_ingest *ingest;
static int64_t now_ns;

static void setup_with(const char *const *overrides, size_t n)
{
    ingest_fixture_open(&fx, "ingest", 10000, overrides, n);
    store = fx.store;
    cfg = fx.cfg;
    ingest = fx.ingest;
    now_ns = ob_now_ns() / 1000000 * 1000000;
}

static void setup(void)
{
    setup_with(NULL, 0);
}

static void teardown(void)
{
    ingest_fixture_close(&fx);
}

static struct ob_ingest_result send(const struct ob_buf *body)
{
    struct ob_ingest_result res;
    ck_assert_int_eq(ob_ingest_body(ingest, OB_FE_HTTP, OB_PAYLOAD_PROTOBUF, body->data, body->len,
                                    &res),
                     0);
    return res;
}

/* The exposition without the broker's own metrics. */
static char *scrape(void)
{
    static struct ob_buf out;
    out.len = 0;
    struct ob_expose_opts o = {0};
    ck_assert_int_eq(ob_expose_store(store, &o, now_ns / 1000000, &out), 0);
    ob_buf_putc(&out, '\0');
    return out.data;
}

/* ---- a small request builder for cases the shared payloads don't cover -- */

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

struct attr {
    const char *key, *value;
};

struct gauge_spec {
    const struct attr *resource;
    size_t n_resource;
    const char *name;
    const char *unit;
    bool counter; /* monotonic cumulative sum instead of a gauge */
    const struct attr *attrs;
    size_t n_attrs;
    double value;
    int64_t ts_ns;
    bool delta;       /* the sum is delta (start_ns .. ts_ns) */
    int64_t start_ns;
    bool updown;      /* a non-monotonic sum */
};

static kv_t **make_kvs(const struct attr *a, size_t n, kv_t *kv, any_t *av)
{
    kv_t **p = calloc(n + 1, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        opentelemetry__proto__common__v1__key_value__init(&kv[i]);
        opentelemetry__proto__common__v1__any_value__init(&av[i]);
        av[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        av[i].string_value = (char *)a[i].value;
        kv[i].key = (char *)a[i].key;
        kv[i].value = &av[i];
        p[i] = &kv[i];
    }
    return p;
}

/* One request of one resource (NULL: none), one scope and metric m, packed into out. */
static void pack_request(struct ob_buf *out, Opentelemetry__Proto__Resource__V1__Resource *res,
                         Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    Opentelemetry__Proto__Metrics__V1__Metric *ms[] = {m};
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.n_metrics = 1;
    sm.metrics = ms;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sms[] = {&sm};
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = res;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = sms;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rms[] = {&rm};
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = rms;
    out->len = 0;
    ck_assert(ob_buf_reserve(out, protobuf_c_message_get_packed_size(&req.base)));
    out->len = protobuf_c_message_pack(&req.base, (uint8_t *)out->data);
}

static void build(struct ob_buf *out, const struct gauge_spec *g)
{
    kv_t rkv[16], pkv[16];
    any_t rav[16], pav[16];
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = g->n_resource;
    res.attributes = make_kvs(g->resource, g->n_resource, rkv, rav);

    Opentelemetry__Proto__Metrics__V1__NumberDataPoint pt =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    pt.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    pt.as_double = g->value;
    pt.has_time_unix_nano = true;
    pt.time_unix_nano = (uint64_t)g->ts_ns;
    if (g->start_ns) {
        pt.has_start_time_unix_nano = true;
        pt.start_time_unix_nano = (uint64_t)g->start_ns;
    }
    pt.n_attributes = g->n_attrs;
    pt.attributes = make_kvs(g->attrs, g->n_attrs, pkv, pav);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *pts[] = {&pt};

    Opentelemetry__Proto__Metrics__V1__Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    Opentelemetry__Proto__Metrics__V1__Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m.name = (char *)g->name;
    m.unit = (char *)(g->unit ? g->unit : "");
    if (g->counter) {
        sum.n_data_points = 1;
        sum.data_points = pts;
        sum.has_is_monotonic = sum.is_monotonic = !g->updown;
        sum.has_aggregation_temporality = true;
        sum.aggregation_temporality =
            g->delta ? OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
                     : OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m.sum = &sum;
    } else {
        gauge.n_data_points = 1;
        gauge.data_points = pts;
        m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m.gauge = &gauge;
    }
    pack_request(out, &res, &m);
    free(res.attributes);
    free(pt.attributes);
}

static const struct attr svc[] = {{"service.name", "app"}, {"service.instance.id", "i-1"}};

/* ---- tests ----------------------------------------------------------------- */

START_TEST(calculator_names)
{
    struct ob_buf b = {0};
    ck_assert_int_eq(ob_payload_calculator(&b, now_ns - 60000 * OB_NS_PER_MS, now_ns, 1), 0);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.points, 4);
    ck_assert_uint_eq(res.rejected, 0);
    const char *s = scrape();
    ck_assert_ptr_nonnull(strstr(s, "# TYPE calc_operation_total counter\n"));
    ck_assert_ptr_nonnull(strstr(s, "calc_operation_total{job=\"calculator\",operation=\"add\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(s, "# TYPE http_server_duration_milliseconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(s, ",le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(s, "http_server_active_requests{job=\"calculator\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(s, "target_info{job=\"calculator\",telemetry_sdk_language=\"nodejs\""));
    ob_buf_fini(&b);
}
END_TEST

START_TEST(attribute_values_rendered_like_pdata)
{
    struct ob_buf b = {0};
    ck_assert_int_eq(ob_payload_any_values(&b, now_ns), 0);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.rejected, 0);
    const char *s = scrape();
    /* Sorted by label name; the empty value is no label at all. */
    const char *want = "any_values{arr=\"[\\\"a\\\",1,true]\",b=\"true\",bytes=\"AAH+\",d=\"1.5\","
                       "i=\"-42\",job=\"special\",kv=\"{\\\"k1\\\":\\\"v1\\\",\\\"k2\\\":2}\","
                       "s=\"str\"} 1\n";
    ck_assert_msg(strstr(s, want), "got:\n%s", s);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(label_collisions_joined)
{
    struct ob_buf b = {0};
    const struct attr a[] = {{"a_b", "3"}, {"a-b", "1"}, {"a.b", "2"}, {"job", "mine"}};
    struct gauge_spec g = {svc, 2, "g", NULL, false, a, 4, 7, now_ns, false, 0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    /* Values join in original-key order; job from the resource wins. */
    ck_assert_msg(strstr(scrape(), "g{a_b=\"1;2;3\",instance=\"i-1\",job=\"app\"} 7\n"), "%s", scrape());
    ob_buf_fini(&b);
}
END_TEST

START_TEST(series_collision_counted_newest_wins)
{
    struct ob_buf b = {0};
    const struct attr a[] = {{"k", "v"}};
    struct gauge_spec g = {svc,  2, "disk.used", NULL, false, a, 1, 1, now_ns - 2000 * OB_NS_PER_MS,
                           false, 0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).collisions, 0);
    g.name = "disk_used"; /* another OTLP stream, same Prometheus series */
    g.value = 2;
    g.ts_ns = now_ns - 1000 * OB_NS_PER_MS;
    build(&b, &g);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.rejected, 0);
    ck_assert_uint_eq(res.collisions, 1);
    const char *s = scrape();
    ck_assert_ptr_nonnull(strstr(s, "disk_used{instance=\"i-1\",job=\"app\",k=\"v\"} 2\n"));
    ck_assert_ptr_null(strstr(s, "} 1\n"));
    ob_buf_fini(&b);
}
END_TEST

START_TEST(target_info_latest_resource)
{
    struct ob_buf b = {0};
    const struct attr r1[] = {{"service.name", "app"}, {"host.name", "a"}};
    const struct attr r2[] = {{"service.name", "app"}, {"host.name", "b"}, {"os.type", "linux"}};
    struct gauge_spec g = {r1,    2, "up.ish", NULL, false, NULL, 0, 1, now_ns - 5000 * OB_NS_PER_MS,
                           false, 0, false};
    build(&b, &g);
    send(&b);
    g.resource = r2;
    g.n_resource = 3;
    g.ts_ns = now_ns;
    build(&b, &g);
    send(&b);
    const char *s = scrape();
    ck_assert_msg(strstr(s, "target_info{host_name=\"b\",job=\"app\",os_type=\"linux\"} 1\n"), "%s", s);
    ck_assert_ptr_null(strstr(s, "host_name=\"a\""));
    ob_buf_fini(&b);
}
END_TEST

START_TEST(rejections_by_reason)
{
    struct ob_buf b = {0};
    struct ob_ingest_result res;

    ck_assert_int_eq(ob_payload_unspecified_sum(&b, now_ns), 0);
    res = send(&b);
    ck_assert_uint_eq(res.rejected_by[OB_REASON_TEMPORALITY], 1);
    ck_assert_ptr_nonnull(strstr(res.message, "temporality unspecified"));


    b.len = 0;
    ck_assert_int_eq(ob_payload_bad_utf8(&b, now_ns), 0);
    res = send(&b);
    ck_assert_uint_eq(res.rejected_by[OB_REASON_MALFORMED], 1);
    ck_assert_ptr_nonnull(strstr(res.message, "UTF-8"));

    b.len = 0;
    ck_assert_int_eq(ob_payload_many_labels(&b, now_ns, 200), 0);
    ck_assert_uint_eq(send(&b).rejected_by[OB_REASON_LIMIT], 1);
    b.len = 0;
    ck_assert_int_eq(ob_payload_many_labels(&b, now_ns, 20), 0);
    ck_assert_uint_eq(send(&b).rejected, 0);

    /* A gauge that translates onto an existing counter's name. */
    struct gauge_spec g = {svc, 2, "reqs", NULL, true, NULL, 0, 1, now_ns, false, 0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    g.name = "reqs_total";
    g.counter = false;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected_by[OB_REASON_TYPE_CONFLICT], 1);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(out_of_order_rules)
{
    struct ob_buf b = {0};
    struct gauge_spec g = {svc, 2, "temp", "Cel", false, NULL, 0, 20, now_ns, false, 0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    /* Older, inside the window: stored, but the newest stays exposed. */
    g.value = 10;
    g.ts_ns = now_ns - 60000 * OB_NS_PER_MS;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_ptr_nonnull(strstr(scrape(), "temp_celsius{instance=\"i-1\",job=\"app\"} 20\n"));
    /* Older than the window. */
    g.ts_ns = now_ns - 11 * 60000 * OB_NS_PER_MS;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected_by[OB_REASON_OUT_OF_BOUNDS], 1);
    /* Far in the future would block the series: refused. */
    g.ts_ns = now_ns + 60 * 60000 * OB_NS_PER_MS;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected_by[OB_REASON_OUT_OF_BOUNDS], 1);
    /* Same timestamp, other value. */
    g.ts_ns = now_ns;
    g.value = 21;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected_by[OB_REASON_DUPLICATE], 1);
    /* An identical resend is fine. */
    g.value = 20;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(stale_and_empty)
{
    struct ob_buf b = {0};
    ck_assert_int_eq(ob_payload_empty_metrics(&b, now_ns), 0);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.points, 1);
    ck_assert_uint_eq(res.rejected, 0);

    b.len = 0;
    ck_assert_int_eq(ob_payload_no_recorded_value(&b, now_ns), 0);
    res = send(&b);
    ck_assert_uint_eq(res.rejected, 0);
    const char *s = scrape();
    ck_assert_ptr_nonnull(strstr(s, "ok_gauge{job=\"special\"} 1\n"));
    ck_assert_ptr_null(strstr(s, "queue_depth{"));
    ck_assert_ptr_null(strstr(s, "queue_latency"));
    ob_buf_fini(&b);
}
END_TEST

START_TEST(summary_exposed)
{
    struct ob_buf b = {0};
    ck_assert_int_eq(ob_payload_summary(&b, now_ns), 0);
    ck_assert_uint_eq(send(&b).rejected, 0);
    const char *s = scrape();
    ck_assert_msg(strstr(s, "# TYPE rpc_duration_seconds summary\n"
                            "rpc_duration_seconds{job=\"special\",rpc_method=\"Get\",quantile=\"0\"} 0.01\n"),
                  "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "rpc_duration_seconds_sum{job=\"special\",rpc_method=\"Get\"} 2.5\n"));
    ck_assert_ptr_nonnull(strstr(s, "rpc_duration_seconds_count{job=\"special\",rpc_method=\"Get\"} 10\n"));
    ob_buf_fini(&b);
}
END_TEST

/* OpenMetrics text of the store, for exemplars. */
static char *scrape_om(void)
{
    static struct ob_buf out;
    out.len = 0;
    struct ob_expose_opts o = {.openmetrics = true};
    ck_assert_int_eq(ob_expose_store(store, &o, now_ns / 1000000, &out), 0);
    ob_buf_putc(&out, '\0');
    return out.data;
}

/* Exemplars per docs/otlp-to-prometheus.md section 11 (the payload is
 * described in ob_payloads.h): the newest per counter, each histogram
 * exemplar in the first bucket whose bound is >= its value, ids in hex,
 * attributes only within 128 characters, bad ones and a gauge's counted;
 * their points are stored either way. */
START_TEST(exemplars_kept_and_placed)
{
    struct ob_buf b = {0};
    ck_assert_int_eq(ob_payload_exemplars(&b, now_ns), 0);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.points, 4);
    ck_assert_uint_eq(res.rejected, 0);
    ck_assert_uint_eq(res.exemplars, 3 + 4);
    ck_assert_uint_eq(res.exemplars_dropped[OB_EXDROP_INVALID], 2);
    ck_assert_uint_eq(res.exemplars_dropped[OB_EXDROP_TYPE], 1);
    ck_assert_uint_eq(res.exemplars_dropped[OB_EXDROP_MEMORY], 0);

    int64_t ms = now_ns / 1000000 - 1000; /* the newest exemplar's time, in OpenMetrics seconds */
    char want[1024];
    const char *om = scrape_om();
    snprintf(want, sizeof want,
             "checkout_requests_total{job=\"special\",route=\"/a\"} 7 # "
             "{span_id=\"b7ad6b7169203331\",trace_id=\"0af7651916cd43dd8448eb211c80319c\","
             "user_id=\"u-\\\"2\\\"\"} 2 %lld.%03lld\n",
             (long long)(ms / 1000), (long long)(ms % 1000));
    ck_assert_msg(strstr(om, want), "want %s in:\n%s", want, om);
    /* over 128 characters with its attribute: the ids alone, at the point's time */
    snprintf(want, sizeof want,
             "checkout_requests_total{job=\"special\",route=\"/b\"} 3 # "
             "{span_id=\"eee19b7ec3c1b174\",trace_id=\"5b8efff798038103d269b633813fc60c\"} 3 "
             "%lld.%03lld\n",
             (long long)(now_ns / 1000000000), (long long)(now_ns / 1000000 % 1000));
    ck_assert_msg(strstr(om, want), "want %s in:\n%s", want, om);
    ck_assert_msg(strstr(om, "checkout_duration_seconds_bucket{job=\"special\",le=\"0.1\"} 1 # "
                             "{span_id=\"eee19b7ec3c1b174\",trace_id=\"5b8efff798038103d269b633813fc60c\"} 0.05 "),
                  "%s", om);
    ck_assert_msg(strstr(om, "checkout_duration_seconds_bucket{job=\"special\",le=\"1\"} 3 # "
                             "{span_id=\"b7ad6b7169203331\",trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 1 "),
                  "%s", om);
    ck_assert_msg(strstr(om, "checkout_duration_seconds_bucket{job=\"special\",le=\"+Inf\"} 4 # "
                             "{span_id=\"eee19b7ec3c1b174\",trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 3 "),
                  "%s", om);
    ck_assert_msg(strstr(om, "checkout_duration_seconds_sum{job=\"special\"} 3.6\n"), "%s", om);
    ck_assert_msg(strstr(om, "checkout_inflight{job=\"special\"} 2\n"), "%s", om);
    /* text 0.0.4 has no exemplars */
    ck_assert_ptr_null(strstr(scrape(), " # {"));
    ob_buf_fini(&b);
}
END_TEST

/* Delta sums become running totals (docs: the collector's
 * deltatocumulative rules); the store keeps them, so they are checked
 * through the exposition. */
START_TEST(delta_sums_accumulated)
{
    struct ob_buf b = {0};
    const int64_t s = 1000 * OB_NS_PER_MS;
    const int64_t t0 = now_ns - 100 * s;
    struct gauge_spec g = {svc, 2, "jobs", NULL, true, NULL, 0, 3, t0 + s, true, t0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    g.start_ns = t0 + s, g.ts_ns = t0 + 2 * s, g.value = 4;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_uint_eq(send(&b).rejected, 0); /* a resend: nothing added */
    ck_assert_msg(strstr(scrape(), "\njobs_total{instance=\"i-1\",job=\"app\"} 7\n"), "%s", scrape());
    /* one that starts before the last ended: refused, not added */
    g.start_ns = t0 + s + s / 2, g.ts_ns = t0 + 3 * s, g.value = 100;
    build(&b, &g);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.rejected_by[OB_REASON_OUT_OF_ORDER], 1);
    ck_assert_ptr_nonnull(strstr(res.message, "out of order"));
    ck_assert_msg(strstr(scrape(), "\njobs_total{instance=\"i-1\",job=\"app\"} 7\n"), "%s", scrape());
    /* the same series sent cumulative: a conflict with its reason */
    g.delta = false, g.start_ns = t0, g.ts_ns = t0 + 4 * s;
    build(&b, &g);
    res = send(&b);
    ck_assert_uint_eq(res.rejected_by[OB_REASON_TYPE_CONFLICT], 1);
    ck_assert_ptr_nonnull(strstr(res.message, "one temporality per series"));
    /* an up-down counter's deltas add up too, into a gauge */
    struct gauge_spec u = {svc, 2, "queue", NULL, true, NULL, 0, 5, t0 + s, true, t0, true};
    build(&b, &u);
    ck_assert_uint_eq(send(&b).rejected, 0);
    u.start_ns = t0 + s, u.ts_ns = t0 + 2 * s, u.value = -2;
    build(&b, &u);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_msg(strstr(scrape(), "# TYPE queue gauge\nqueue{instance=\"i-1\",job=\"app\"} 3\n"), "%s",
                  scrape());
    ob_buf_fini(&b);
}
END_TEST

/* An exponential histogram of one side each way. */
struct exp_spec {
    const char *name;
    bool delta;
    int32_t scale;
    int64_t start_ns, ts_ns;
    uint64_t zero_count;
    int32_t pos_off, neg_off;
    const uint64_t *pos, *neg;
    size_t n_pos, n_neg;
    double sum;
    bool stale; /* flag NoRecordedValue */
};

static void build_exp(struct ob_buf *out, const struct exp_spec *e)
{
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT,
        nb = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    pb.has_offset = nb.has_offset = true;
    pb.offset = e->pos_off;
    pb.n_bucket_counts = e->n_pos;
    pb.bucket_counts = (uint64_t *)e->pos;
    nb.offset = e->neg_off;
    nb.n_bucket_counts = e->n_neg;
    nb.bucket_counts = (uint64_t *)e->neg;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint p =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    p.has_start_time_unix_nano = p.has_time_unix_nano = true;
    p.start_time_unix_nano = (uint64_t)e->start_ns;
    p.time_unix_nano = (uint64_t)e->ts_ns;
    uint64_t count = e->zero_count;
    for (size_t i = 0; i < e->n_pos; i++)
        count += e->pos[i];
    for (size_t i = 0; i < e->n_neg; i++)
        count += e->neg[i];
    p.has_count = p.has_sum = p.has_scale = p.has_zero_count = true;
    p.count = count;
    p.sum = e->sum;
    p.scale = e->scale;
    p.zero_count = e->zero_count;
    p.positive = &pb;
    p.negative = &nb;
    if (e->stale) {
        p.has_flags = true;
        p.flags = OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK;
    }
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *pp = &p;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogram h =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    h.n_data_points = 1;
    h.data_points = &pp;
    h.has_aggregation_temporality = true;
    h.aggregation_temporality =
        e->delta ? OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
                 : OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    Opentelemetry__Proto__Metrics__V1__Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m.name = (char *)e->name;
    m.unit = (char *)"s";
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m.exponential_histogram = &h;
    pack_request(out, NULL, &m);
}

/* The classic buckets text and OpenMetrics get for an exponential
 * histogram, one line each: "le count". */
static char *classic_lines(const char *name)
{
    static char out[4096];
    out[0] = '\0';
    const char *s = scrape();
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s_bucket{le=\"", name);
    for (const char *p = strstr(s, prefix); p; p = strstr(p + 1, prefix)) {
        const char *le = p + strlen(prefix), *q = strchr(le, '"'), *v = strstr(le, "} ");
        const char *nl = strchr(v, '\n');
        snprintf(out + strlen(out), sizeof out - strlen(out), "%.*s %.*s\n", (int)(q - le), le,
                 (int)(nl - v - 2), v + 2);
    }
    return out;
}

/* Exponential histograms: scales below -4 refused, above 8 lowered to 8;
 * text gets classic buckets at exact bounds base^k; deltas add up bucket by
 * bucket, at the lower scale when it changed. */
START_TEST(exponential_histograms)
{
    struct ob_buf b = {0};
    const int64_t s = 1000 * OB_NS_PER_MS, t0 = now_ns - 100 * s;
    static const uint64_t c3[] = {1, 2, 3}, c1[] = {4};
    struct exp_spec e = {"bad.scale", false, -5, t0, t0 + s, 0, 0, 0, c3, NULL, 3, 0, 1, false};
    build_exp(&b, &e);
    struct ob_ingest_result res = send(&b);
    ck_assert_uint_eq(res.rejected_by[OB_REASON_UNSUPPORTED], 1);
    ck_assert_ptr_nonnull(strstr(res.message, "below -4"));

    /* scale 0: bounds 2^k; positive 1 in (2,4], 2 in (4,8], 3 in (8,16];
     * negative 4 in [-2,-1); zero 1 */
    e = (struct exp_spec){"lat", false, 0, t0, t0 + s, 1, 1, 0, c3, c1, 3, 1, 50, false};
    build_exp(&b, &e);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_str_eq(classic_lines("lat_seconds"), "-1 4\n0 5\n4 6\n8 8\n16 11\n+Inf 11\n");
    ck_assert_msg(strstr(scrape(), "lat_seconds_count 11\n"), "%s", scrape());
    /* NoRecordedValue: the series ends (docs/otlp-to-prometheus.md section 10) */
    struct exp_spec gone = e;
    gone.ts_ns = t0 + 2 * s, gone.stale = true;
    build_exp(&b, &gone);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_ptr_null(strstr(scrape(), "lat_seconds"));

    /* scale 10 lowered to 8: buckets 4..7 at scale 10 are bucket 1 at 8 */
    static const uint64_t c4[] = {1, 1, 1, 1};
    e = (struct exp_spec){"fine", false, 10, t0, t0 + s, 0, 4, 0, c4, NULL, 4, 0, 4, false};
    build_exp(&b, &e);
    ck_assert_uint_eq(send(&b).rejected, 0);
    char want[128];
    snprintf(want, sizeof want, "%.17g 4\n+Inf 4\n", pow(2, 2.0 / 256));
    ck_assert_str_eq(classic_lines("fine_seconds"), want);

    /* deltas: scale 1 then scale 0; the total at scale 0 */
    static const uint64_t d1[] = {1, 1}, d2[] = {2};
    e = (struct exp_spec){"dlt", true, 1, t0, t0 + s, 0, 2, 0, d1, NULL, 2, 0, 3, false};
    build_exp(&b, &e); /* buckets 2, 3 at scale 1: (2, 2.83], (2.83, 4] = bucket 1 at scale 0 */
    ck_assert_uint_eq(send(&b).rejected, 0);
    e = (struct exp_spec){"dlt", true, 0, t0 + s, t0 + 2 * s, 0, 2, 0, d2, NULL, 1, 0, 10, false};
    build_exp(&b, &e); /* 2 in (4, 8] */
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_str_eq(classic_lines("dlt_seconds"), "4 2\n8 4\n+Inf 4\n");
    ck_assert_msg(strstr(scrape(), "dlt_seconds_sum 13\n"), "%s", scrape());
    /* and one whose total needs more room than the series had */
    uint64_t wide[40];
    for (int i = 0; i < 40; i++)
        wide[i] = 1;
    e = (struct exp_spec){"dlt", true, 0, t0 + 2 * s, t0 + 3 * s, 0, 20, 0, wide, NULL, 40, 0, 1,
                          false};
    build_exp(&b, &e);
    ck_assert_uint_eq(send(&b).rejected, 0);
    ck_assert_msg(strstr(scrape(), "dlt_seconds_count 44\n"), "%s", scrape());
    ob_buf_fini(&b);
}
END_TEST

START_TEST(malformed_body)
{
    struct ob_ingest_result res;
    const char junk[] = "\xff\xff\xff\xff not protobuf";
    ck_assert_int_ne(ob_ingest_body(ingest, OB_FE_HTTP, OB_PAYLOAD_PROTOBUF, junk, sizeof junk, &res), 0);
    ck_assert_ptr_nonnull(strstr(res.message, "protobuf"));
}
END_TEST

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines sorted (a family's place in the exposition is when it was
 * first created, which depends on where bodies end: target_info). */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, line_cmp);
    struct ob_buf out;
    ob_buf_init(&out);
    for (size_t i = 0; i < n; i++) {
        ob_buf_append(&out, lines[i], strlen(lines[i]));
        ob_buf_putc(&out, '\n');
    }
    ob_buf_putc(&out, '\0');
    free(lines);
    free(copy);
    return out.data;
}

/* The ingest loop works on three points at once (see struct pending): the
 * same data cut into bodies of 1, 2, 3, 4, 7 and 500 points (every pipeline
 * start and end, and points of one metric crossing bodies) must give the
 * same exposition, with a series cache that grows on the way (4096 entries
 * at first, 3000 series) and with one that evicts all the time (256
 * entries). */
static char *ingest_in_bodies(uint32_t per_body, uint32_t n_series)
{
    struct ob_mixed_opts o = {.n_series = n_series, .points_per_body = per_body,
                              .ts0_ns = now_ns - 60 * 1000000000LL};
    uint32_t batches = 2 * ob_mixed_batches_per_round(&o); /* two rounds */
    for (uint32_t b = 0; b < batches; b++) {
        struct ob_buf body;
        ob_buf_init(&body);
        uint32_t points = 0;
        ck_assert_int_eq(ob_payload_mixed(&body, &o, b, &points), 0);
        struct ob_ingest_result res = send(&body);
        ck_assert_uint_eq(res.points, points);
        ck_assert_uint_eq(res.rejected, 0);
        ob_buf_fini(&body);
    }
    return sorted_lines(scrape());
}

/* Bodies of each size in sizes[] give the exposition that 500-point bodies
 * give, with the default series cache and with a 256-entry one. */
static void check_batching(const uint32_t *sizes, size_t n_sizes, uint32_t n_series)
{
    static const char *const small_cache[] = {"store.max_series=256"};
    char *want = ingest_in_bodies(500, n_series);
    ck_assert_ptr_nonnull(strstr(want, "bench_"));
    for (int small = 0; small < 2; small++) {
        for (size_t i = 0; i < n_sizes; i++) {
            teardown();
            setup_with(small ? small_cache : NULL, small ? 1 : 0);
            char *got = ingest_in_bodies(sizes[i], n_series);
            ck_assert_msg(strcmp(got, want) == 0, "%u points per body%s: exposition differs",
                          sizes[i], small ? ", small cache" : "");
            free(got);
        }
    }
    free(want);
}

START_TEST(batching_does_not_matter)
{
    static const uint32_t sizes[] = {1, 2, 3, 4, 7};
    check_batching(sizes, sizeof sizes / sizeof *sizes, 400);
}
END_TEST

START_TEST(batching_while_the_cache_grows)
{
    static const uint32_t sizes[] = {7, 499};
    check_batching(sizes, sizeof sizes / sizeof *sizes, 3000);
}
END_TEST


/* A metric whose family the store reclaimed (no series for the ttl) comes
 * back: the name cache notices the stale id, and the family slot, reused by
 * another metric meanwhile, is never written with the first one's points. */
START_TEST(reclaimed_family_comes_back)
{
    struct ob_buf b = {0};
    const struct attr a[] = {{"k", "v"}};
    struct gauge_spec g = {svc, 2, "first.metric", NULL, false, a, 1, 1, now_ns, false, 0, false};
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    /* The series' last update is the store's coarse wall clock at the
     * append, which a slow (sanitized) run puts well after now_ns: expire
     * from a time safely after both. */
    int64_t t = OB_MAX(now_ns / 1000000, ob_now_ns() / 1000000) + 1000, ttl = cfg->store_series_ttl_ms;
    int64_t wait = ttl > OB_STORE_GRACE_MS ? ttl : OB_STORE_GRACE_MS;
    ob_store_expire(store, t + ttl + 1);
    ob_store_expire(store, t + ttl + 1 + wait);
    ob_store_expire(store, t + ttl + 1 + wait + OB_STORE_GRACE_MS);
    struct ob_store_stats st;
    ob_store_stats(store, &st);
    ck_assert_uint_eq(st.families, 0);
    g.name = "second.metric"; /* takes the freed family slot */
    g.value = 2;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    g.name = "first.metric";
    g.value = 3;
    build(&b, &g);
    ck_assert_uint_eq(send(&b).rejected, 0);
    const char *out = scrape();
    ck_assert_msg(strstr(out, "first_metric{instance=\"i-1\",job=\"app\",k=\"v\"} 3\n"), "%s", out);
    ck_assert_msg(strstr(out, "second_metric{instance=\"i-1\",job=\"app\",k=\"v\"} 2\n"), "%s", out);
    ob_store_stats(store, &st);
    ck_assert_uint_eq(st.families, 2);
    ob_buf_fini(&b);
}
END_TEST

/* ---- bounded name caches ------------------------------------------------ */

/* Over its entry budget at the start of a request the cache is emptied,
 * counted per cache; within a request it keeps growing and the names it
 * gave stay valid. */
START_TEST(name_cache_entry_budget)
{
    ob_sm_reset();
    struct ob_names *n;
    ck_assert_int_eq(ob_names_create(100, 0, &n), 0);
    struct ob_translator_inst *x = ob_translator_slot_acquire(&fx.plugins);
    ob_names_bind(n, x);
    for (int round = 0; round < 10; round++) {
        struct ob_str first;
        for (int i = 0; i < 150; i++) {
            char key[32];
            int len = snprintf(key, sizeof key, "id.%d.%d", round, i);
            struct ob_str name;
            ck_assert(ob_names_label(n, x, key, (size_t)len, &name));
            if (i == 0)
                first = name;
        }
        ck_assert_uint_eq(ob_names_entries(n), 150); /* a request may overshoot */
        ck_assert_int_eq((int)first.len, snprintf(NULL, 0, "id_%d_0", round));
        ck_assert(memcmp(first.ptr, "id_", 3) == 0); /* still valid after 149 inserts */
        ob_names_bind(n, x);                          /* the next request: emptied */
        ck_assert_uint_eq(ob_names_entries(n), 0);
    }
    struct ob_str name;
    ck_assert(ob_names_label(n, x, "id.0.0", 6, &name)); /* a miss again */
    ck_assert(ob_names_label(n, x, "id.0.0", 6, &name)); /* now a hit */
    ob_names_publish(n);
    ck_assert(selfmetrics_have("otlp_broker_name_cache_evictions_total{cache=\"labels\"} 1500\n"));
    ck_assert(selfmetrics_have("otlp_broker_name_cache_resets_total 10\n"));
    ck_assert(selfmetrics_have(
        "otlp_broker_name_cache_lookups_total{cache=\"labels\",result=\"miss\"} 1501\n"));
    ck_assert(selfmetrics_have(
        "otlp_broker_name_cache_lookups_total{cache=\"labels\",result=\"hit\"} 1\n"));
    ob_translator_unref(x);
    ob_names_destroy(n);
}
END_TEST

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 100,000 distinct attribute keys through a cache of 1 MiB: its bytes never
 * pass the budget by more than one request's names, and the process's RSS
 * stays flat once the first resets have happened (freed entries are
 * reused). */
START_TEST(name_cache_byte_budget_and_rss)
{
    ob_sm_reset();
    const size_t budget = 1u << 20;
    struct ob_names *n;
    ck_assert_int_eq(ob_names_create(0, budget, &n), 0);
    struct ob_translator_inst *x = ob_translator_slot_acquire(&fx.plugins);
    long rss_warm = 0;
    size_t most = 0;
    for (int req = 0; req < 1000; req++) {
        ob_names_bind(n, x);
        for (int i = 0; i < 100; i++) {
            char key[64];
            int len = snprintf(key, sizeof key, "user.session.%07d.attribute", req * 100 + i);
            struct ob_str name;
            ck_assert(ob_names_label(n, x, key, (size_t)len, &name));
        }
        if (ob_names_bytes(n) > most)
            most = ob_names_bytes(n);
        if (req == 199)
            rss_warm = rss_kib();
    }
    long rss_end = rss_kib();
    /* one request of 100 names adds ~10 KiB, a table doubling ~ the table */
    ck_assert_msg(most <= budget * 2 + 64 * 1024, "cache held %zu bytes", most);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine: RSS says nothing there. */
    (void)rss_warm, (void)rss_end;
#else
    ck_assert_msg(rss_end - rss_warm < 2048, "RSS grew from %ld to %ld KiB", rss_warm, rss_end);
#endif
    ob_names_publish(n);
    struct ob_buf b;
    ob_buf_init(&b);
    ob_selfmetrics_render(NULL, &b);
    ob_buf_putc(&b, '\0');
    const char *p = strstr(b.data, "\notlp_broker_name_cache_resets_total ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_gt(atol(p + strlen("\notlp_broker_name_cache_resets_total ")), 10);
    ob_buf_fini(&b);
    ob_translator_unref(x);
    ob_names_destroy(n);
}
END_TEST

Suite *ingest_suite(void);
Suite *ingest_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30); /* the batching tests take ~1.5 s under ASan on an idle machine */
    tcase_add_test(tc, calculator_names);
    tcase_add_test(tc, attribute_values_rendered_like_pdata);
    tcase_add_test(tc, label_collisions_joined);
    tcase_add_test(tc, series_collision_counted_newest_wins);
    tcase_add_test(tc, target_info_latest_resource);
    tcase_add_test(tc, rejections_by_reason);
    tcase_add_test(tc, out_of_order_rules);
    tcase_add_test(tc, stale_and_empty);
    tcase_add_test(tc, summary_exposed);
    tcase_add_test(tc, exemplars_kept_and_placed);
    tcase_add_test(tc, delta_sums_accumulated);
    tcase_add_test(tc, exponential_histograms);
    tcase_add_test(tc, malformed_body);
    tcase_add_test(tc, batching_does_not_matter);
    tcase_add_test(tc, batching_while_the_cache_grows);
    tcase_add_test(tc, reclaimed_family_comes_back);
    tcase_add_test(tc, name_cache_entry_budget);
    tcase_add_test(tc, name_cache_byte_budget_and_rss);
    suite_add_tcase(s, tc);
    return s;
}
