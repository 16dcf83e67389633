/* test_client.c: libotlpbroker-client.
 *
 * Aggregation and encoding are checked by decoding obc_encode()'s request
 * with protobuf-c; the transport against plain libzmq PULL/ROUTER sockets
 * standing in for the broker; and end to end against the real ob_zmq +
 * ingest + store (zmq_stack.h).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ob_log.h"
#include "ob_otlp.h"
#include "otlpbroker/client.h"
#include "zmq_stack.h"
#include "ob_zmq_seq.h"

typedef Opentelemetry__Proto__Metrics__V1__Metric metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint histogram_point;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static struct obc_client *open_local(void)
{
    struct obc_options o = OBC_OPTIONS_INIT;
    o.service_name = "calculator";
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    return c;
}

static ob_otlp_request *encode(struct obc_client *c)
{
    void *buf;
    size_t len;
    ck_assert_int_eq(obc_encode(c, &buf, &len), 0);
    ob_otlp_request *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, len, buf);
    free(buf);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void release(ob_otlp_request *r)
{
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        r, NULL);
}

static const metric *find_metric(const ob_otlp_request *r, const char *name)
{
    ck_assert_uint_eq(r->n_resource_metrics, 1);
    ck_assert_uint_eq(r->resource_metrics[0]->n_scope_metrics, 1);
    const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
        r->resource_metrics[0]->scope_metrics[0];
    for (size_t i = 0; i < sm->n_metrics; i++)
        if (strcmp(sm->metrics[i]->name, name) == 0)
            return sm->metrics[i];
    ck_abort_msg("metric %s not found", name);
    return NULL;
}

/* Attributes rendered "k=v,k=v" in their encoded order. */
static void attrs_text(key_value **kv, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const Opentelemetry__Proto__Common__V1__AnyValue *v = kv[i]->value;
        char val[64];
        switch (v->value_case) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
            snprintf(val, sizeof val, "%s", v->string_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
            snprintf(val, sizeof val, "i%lld", (long long)v->int_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
            snprintf(val, sizeof val, "d%g", v->double_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
            snprintf(val, sizeof val, "b%d", (int)v->bool_value);
            break;
        default:
            snprintf(val, sizeof val, "?");
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? "," : "", kv[i]->key, val);
    }
}

static const number_point *find_number(const metric *m, const char *attrs)
{
    size_t n = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
                   ? m->sum->n_data_points
                   : m->gauge->n_data_points;
    number_point **pts = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
                             ? m->sum->data_points
                             : m->gauge->data_points;
    for (size_t i = 0; i < n; i++) {
        char t[256];
        attrs_text(pts[i]->attributes, pts[i]->n_attributes, t, sizeof t);
        if (strcmp(t, attrs) == 0)
            return pts[i];
    }
    ck_abort_msg("point {%s} not found in %s", attrs, m->name);
    return NULL;
}

START_TEST(counter_sums_per_attribute_set)
{
    struct obc_client *c = open_local();
    struct obc_instrument *ops, *again, *updown;
    ck_assert_int_eq(obc_counter(c, "calc_operation", "1", "Operations", &ops), 0);
    ck_assert_int_eq(obc_counter(c, "calc_operation", "1", "other text", &again), 0);
    ck_assert_ptr_eq(ops, again);
    ck_assert_int_eq(obc_gauge(c, "calc_operation", "1", NULL, &again), OBC_E_CONFLICT);
    ck_assert_int_eq(obc_counter(c, "calc_operation", "ms", NULL, &again), OBC_E_CONFLICT);
    ck_assert_int_eq(obc_updown_counter(c, "active", NULL, NULL, &updown), 0);

    struct obc_attr add[] = {OBC_STR("operation", "add"), OBC_INT("n", 2)};
    struct obc_attr add_rev[] = {OBC_INT("n", 2), OBC_STR("operation", "add")};
    struct obc_attr sub[] = {OBC_STR("operation", "sub"), OBC_INT("n", 2)};
    struct obc_attr dup[] = {OBC_STR("operation", "mul"), OBC_INT("n", 2),
                             OBC_STR("operation", "sub")}; /* last value wins: == sub */
    struct obc_attr typed[] = {OBC_BOOL("ok", true), OBC_DOUBLE("ratio", 0.5)};
    ck_assert_int_eq(obc_add(ops, 1, add, 2), 0);
    ck_assert_int_eq(obc_add(ops, 2.5, add_rev, 2), 0);
    ck_assert_int_eq(obc_add(ops, 4, sub, 2), 0);
    ck_assert_int_eq(obc_add(ops, 1, dup, 3), 0);
    ck_assert_int_eq(obc_add(ops, 7, NULL, 0), 0);
    ck_assert_int_eq(obc_add(ops, 1, typed, 2), 0);
    ck_assert_int_eq(obc_add(ops, -1, add, 2), -EINVAL);
    ck_assert_int_eq(obc_add(ops, NAN, add, 2), -EINVAL);
    ck_assert_int_eq(obc_record(ops, 1, add, 2), OBC_E_KIND);
    struct obc_attr nokey[] = {{.key = NULL}};
    ck_assert_int_eq(obc_add(ops, 1, nokey, 1), -EINVAL);
    ck_assert_int_eq(obc_add(updown, 3, NULL, 0), 0);
    ck_assert_int_eq(obc_add(updown, -5, NULL, 0), 0);

    ob_otlp_request *r = encode(c);
    const metric *m = find_metric(r, "calc_operation");
    ck_assert_str_eq(m->unit, "1");
    ck_assert_str_eq(m->description, "Operations");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    ck_assert(m->sum->is_monotonic);
    ck_assert_int_eq(m->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    ck_assert_uint_eq(m->sum->n_data_points, 4);
    ck_assert_double_eq(find_number(m, "n=i2,operation=add")->as_double, 3.5);
    ck_assert_double_eq(find_number(m, "n=i2,operation=sub")->as_double, 5);
    ck_assert_double_eq(find_number(m, "")->as_double, 7);
    ck_assert_double_eq(find_number(m, "ok=b1,ratio=d0.5")->as_double, 1);
    const number_point *p = find_number(m, "n=i2,operation=add");
    ck_assert(p->has_start_time_unix_nano && p->has_time_unix_nano);
    ck_assert_uint_le(p->start_time_unix_nano, p->time_unix_nano);
    ck_assert_uint_gt(p->start_time_unix_nano, 1600000000ull * 1000000000ull);

    const metric *u = find_metric(r, "active");
    ck_assert(!u->sum->is_monotonic);
    ck_assert_double_eq(find_number(u, "")->as_double, -2);
    release(r);
    ck_assert_int_eq(obc_close(c, NULL), 0);
}
END_TEST

START_TEST(histogram_buckets_cumulative_across_flushes)
{
    struct obc_client *c = open_local();
    struct obc_instrument *h, *d;
    static const double bounds[] = {1, 5, 10};
    static const double bad[] = {1, 1};
    ck_assert_int_eq(obc_histogram(c, "lat", "ms", NULL, bad, 2, &h), -EINVAL);
    ck_assert_int_eq(obc_histogram(c, "lat", "ms", "Latency", bounds, 3, &h), 0);
    ck_assert_int_eq(obc_histogram(c, "dflt", NULL, NULL, NULL, 0, &d), 0);
    ck_assert_int_eq(obc_add(h, 1, NULL, 0), OBC_E_KIND);
    ck_assert_int_eq(obc_record(h, INFINITY, NULL, 0), -EINVAL);
    struct obc_attr a[] = {OBC_STR("route", "/calc")};
    /* Upper bounds are inclusive: 1 -> first bucket, 10 -> third. */
    static const double values[] = {0.5, 1, 3, 10, 11};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(obc_record(h, values[i], a, 1), 0);
    ck_assert_int_eq(obc_record(d, 7, NULL, 0), 0);

    ob_otlp_request *r = encode(c);
    const metric *m = find_metric(r, "lat");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    ck_assert_int_eq(m->histogram->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    ck_assert_uint_eq(m->histogram->n_data_points, 1);
    const histogram_point *p = m->histogram->data_points[0];
    ck_assert_uint_eq(p->n_explicit_bounds, 3);
    ck_assert_uint_eq(p->n_bucket_counts, 4);
    static const uint64_t want1[] = {2, 1, 1, 1};
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(p->bucket_counts[i], want1[i]);
    ck_assert_uint_eq(p->count, 5);
    ck_assert(p->has_sum && p->has_min && p->has_max);
    ck_assert_double_eq(p->sum, 25.5);
    ck_assert_double_eq(p->min, 0.5);
    ck_assert_double_eq(p->max, 11);
    uint64_t start = p->start_time_unix_nano, t1 = p->time_unix_nano;
    const metric *dm = find_metric(r, "dflt");
    ck_assert_uint_eq(dm->histogram->data_points[0]->n_explicit_bounds, 15);
    ck_assert_uint_eq(dm->histogram->data_points[0]->bucket_counts[2], 1); /* (5, 10] */
    release(r);

    /* Cumulative: the next export carries everything since the start. */
    sleep_ms(2);
    ck_assert_int_eq(obc_record(h, 2, a, 1), 0);
    ck_assert_int_eq(obc_record(h, 100, a, 1), 0);
    r = encode(c);
    p = find_metric(r, "lat")->histogram->data_points[0];
    static const uint64_t want2[] = {2, 2, 1, 2};
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(p->bucket_counts[i], want2[i]);
    ck_assert_uint_eq(p->count, 7);
    ck_assert_double_eq(p->sum, 127.5);
    ck_assert_double_eq(p->max, 100);
    ck_assert_uint_eq(p->start_time_unix_nano, start);
    ck_assert_uint_gt(p->time_unix_nano, t1);
    release(r);
    ck_assert_int_eq(obc_close(c, NULL), 0);
}
END_TEST

START_TEST(gauge_last_value_and_resource)
{
    struct obc_options o = OBC_OPTIONS_INIT;
    o.service_name = "calculator";
    struct obc_attr res[] = {OBC_STR("service.version", "1.2"), OBC_STR("host.name", "h1")};
    o.resource = res;
    o.n_resource = 2;
    o.scope_name = "calc-scope";
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    struct obc_instrument *g;
    ck_assert_int_eq(obc_gauge(c, "temp", "Cel", NULL, &g), 0);
    struct obc_attr a[] = {OBC_STR("room", "a")};
    ck_assert_int_eq(obc_record(g, 20, a, 1), 0);
    ck_assert_int_eq(obc_record(g, -3.5, a, 1), 0);
    ck_assert_int_eq(obc_add(g, 1, a, 1), OBC_E_KIND);

    ob_otlp_request *r = encode(c);
    const metric *m = find_metric(r, "temp");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    ck_assert_uint_eq(m->gauge->n_data_points, 1);
    ck_assert_double_eq(find_number(m, "room=a")->as_double, -3.5);
    const Opentelemetry__Proto__Resource__V1__Resource *rs = r->resource_metrics[0]->resource;
    char t[256];
    attrs_text(rs->attributes, rs->n_attributes, t, sizeof t);
    ck_assert_str_eq(t, "host.name=h1,service.name=calculator,service.version=1.2");
    ck_assert_str_eq(r->resource_metrics[0]->scope_metrics[0]->scope->name, "calc-scope");
    release(r);
    ck_assert_int_eq(obc_flush(c, NULL), -ENOTCONN);
    ck_assert_int_eq(obc_close(c, NULL), 0);
    ck_assert_int_eq(obc_close(NULL, NULL), 0);
    ck_assert_str_eq(obc_strerror(OBC_E_KIND), "operation does not fit the instrument kind");
    ck_assert_ptr_nonnull(obc_strerror(-ETIMEDOUT));
}
END_TEST

START_TEST(series_limit)
{
    struct obc_options o = OBC_OPTIONS_INIT;
    o.max_series = 3;
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    struct obc_instrument *k;
    ck_assert_int_eq(obc_counter(c, "k", NULL, NULL, &k), 0);
    char v[8];
    for (int i = 0; i < 3; i++) {
        snprintf(v, sizeof v, "%d", i);
        struct obc_attr a[] = {OBC_STR("i", v)};
        ck_assert_int_eq(obc_add(k, 1, a, 1), 0);
    }
    struct obc_attr a[] = {OBC_STR("i", "new")};
    ck_assert_int_eq(obc_add(k, 1, a, 1), OBC_E_LIMIT);
    struct obc_attr old[] = {OBC_STR("i", "1")};
    ck_assert_int_eq(obc_add(k, 1, old, 1), 0);
    obc_close(c, NULL);
}
END_TEST

/* ---- thread safety --------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 20000

struct rec_arg {
    struct obc_instrument *counter, *hist;
    int id;
};

static void *recorder(void *p)
{
    struct rec_arg *a = p;
    static const char *const ops[] = {"add", "sub", "mul", "div"};
    for (int i = 0; i < ROUNDS; i++) {
        struct obc_attr at[] = {OBC_STR("operation", ops[i % 4]), OBC_INT("even", (i & 1) == 0)};
        if (obc_add(a->counter, 1, at, 2) != 0 || obc_record(a->hist, i % 10, at, 1) != 0)
            return (void *)1;
    }
    return NULL;
}

static void *flusher_thread(void *p)
{
    struct obc_client *c = p;
    for (int i = 0; i < 50; i++) {
        void *buf;
        size_t len;
        if (obc_encode(c, &buf, &len) != 0)
            return (void *)1;
        free(buf);
    }
    return NULL;
}

START_TEST(concurrent_recording_is_exact)
{
    struct obc_client *c = open_local();
    struct obc_instrument *counter, *hist;
    ck_assert_int_eq(obc_counter(c, "ops", NULL, NULL, &counter), 0);
    static const double bounds[] = {2.5, 5, 7.5};
    ck_assert_int_eq(obc_histogram(c, "h", NULL, NULL, bounds, 3, &hist), 0);
    pthread_t tid[THREADS + 1];
    struct rec_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct rec_arg){counter, hist, i};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, recorder, &args[i]), 0);
    }
    ck_assert_int_eq(pthread_create(&tid[THREADS], NULL, flusher_thread, c), 0);
    for (int i = 0; i <= THREADS; i++) {
        void *ret;
        ck_assert_int_eq(pthread_join(tid[i], &ret), 0);
        ck_assert_ptr_null(ret);
    }
    ob_otlp_request *r = encode(c);
    const metric *m = find_metric(r, "ops");
    ck_assert_uint_eq(m->sum->n_data_points, 4); /* add/mul even, sub/div odd */
    ck_assert_double_eq(find_number(m, "even=i1,operation=add")->as_double, THREADS * ROUNDS / 4);
    ck_assert_double_eq(find_number(m, "even=i0,operation=div")->as_double, THREADS * ROUNDS / 4);
    const metric *h = find_metric(r, "h");
    uint64_t total = 0;
    for (size_t i = 0; i < h->histogram->n_data_points; i++) {
        const histogram_point *p = h->histogram->data_points[i];
        uint64_t sum = 0;
        for (size_t b = 0; b < p->n_bucket_counts; b++)
            sum += p->bucket_counts[b];
        ck_assert_uint_eq(sum, p->count);
        total += p->count;
    }
    ck_assert_uint_eq(total, THREADS * ROUNDS);
    release(r);
    obc_close(c, NULL);
}
END_TEST

/* ---- transport against plain sockets ----------------------------------------------- */

static void *bind_socket(void *ctx, int type, char *ep, size_t cap)
{
    void *s = zmq_socket(ctx, type);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    ck_assert_int_eq(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    ck_assert_int_eq(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &cap), 0);
    return s;
}

static _Atomic int flushes_seen;

static void on_flush(void *arg, int rc, const struct obc_result *res)
{
    (void)arg;
    if (rc == 0 && res->points > 0)
        flushes_seen++;
}

START_TEST(push_background_flush)
{
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *pull = bind_socket(ctx, ZMQ_PULL, ep, sizeof ep);
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = ep;
    o.service_name = "svc";
    o.flush_interval_ms = 50;
    o.on_flush = on_flush;
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    struct obc_instrument *k;
    ck_assert_int_eq(obc_counter(c, "k", NULL, NULL, &k), 0);
    ck_assert_int_eq(obc_add(k, 2, NULL, 0), 0);

    /* The background thread sends without being asked: [sequence] body. */
    char *f[3];
    size_t l[3];
    ck_assert_int_eq(zmq_stack_recv(pull, f, l, 3), 2);
    struct ob_zseq_frame sf;
    ck_assert_int_eq(ob_zseq_parse(f[0], l[0], &sf), 1);
    ck_assert_uint_eq(sf.seq, 0);
    uint64_t sender = sf.sender;
    ob_otlp_request *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, l[1], (const uint8_t *)f[1]);
    ck_assert_ptr_nonnull(r);
    ck_assert_double_eq(find_number(find_metric(r, "k"), "")->as_double, 2);
    release(r);
    free(f[0]);
    free(f[1]);
    ck_assert_int_eq(obc_add(k, 3, NULL, 0), 0);
    struct obc_result res;
    ck_assert_int_eq(obc_close(c, &res), 0); /* final flush */
    ck_assert_uint_eq(res.points, 1);
    ck_assert(!res.answered);
    ck_assert_int_ge(flushes_seen, 1);
    /* Drain to the close's flush: it has the final sum; the numbers run on
     * from 1; last comes the END, alone, with the count of messages. */
    double last = 0;
    uint64_t next = 1;
    bool end = false;
    while (!end) {
        int n = zmq_stack_recv(pull, f, l, 3);
        ck_assert_int_ge(n, 1);
        ck_assert_int_eq(ob_zseq_parse(f[0], l[0], &sf), 1);
        ck_assert_uint_eq(sf.sender, sender);
        if (n == 1) {
            ck_assert_uint_eq(sf.flags, OB_ZSEQ_FLAG_END);
            ck_assert_uint_eq(sf.seq, next);
            end = true;
        } else {
            ck_assert_int_eq(n, 2);
            ck_assert_uint_eq(sf.flags, 0);
            ck_assert_uint_eq(sf.seq, next++);
            r = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
                NULL, l[1], (const uint8_t *)f[1]);
            ck_assert_ptr_nonnull(r);
            last = find_number(find_metric(r, "k"), "")->as_double;
            release(r);
        }
        for (int i = 0; i < n; i++)
            free(f[i]);
    }
    ck_assert_double_eq(last, 5);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
END_TEST

/* A fake broker on a ROUTER socket: answers request i as script[i] says. */
enum { ANSWER_PARTIAL, ANSWER_ERROR, ANSWER_LATE, ANSWER_OK };

struct fake_broker {
    void *router;
    const int *script;
    int n;
};

static void *fake_broker_main(void *p)
{
    struct fake_broker *b = p;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
    ps.has_rejected_data_points = 1;
    ps.rejected_data_points = 2;
    ps.error_message = (char *)"two bad";
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    uint8_t partial[128];
    size_t plen =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__pack(&resp,
                                                                                            partial);
    for (int i = 0; i < b->n; i++) {
        char *f[4];
        size_t l[4];
        int got = zmq_stack_recv(b->router, f, l, 4);
        if (got != 3) /* identity + sequence + body */
            return (void *)1;
        if (b->script[i] == ANSWER_LATE)
            sleep_ms(600); /* after the client gave up */
        zmq_send(b->router, f[0], l[0], ZMQ_SNDMORE);
        zmq_send(b->router, f[1], l[1], ZMQ_SNDMORE); /* echoed */
        switch (b->script[i]) {
        case ANSWER_PARTIAL:
        case ANSWER_LATE:
            zmq_send(b->router, partial, plen, 0);
            break;
        case ANSWER_ERROR:
            zmq_send(b->router, "error", 5, ZMQ_SNDMORE);
            zmq_send(b->router, "malformed: broken", 17, 0);
            break;
        default:
            zmq_send(b->router, "", 0, 0);
            break;
        }
        for (int j = 0; j < got; j++)
            free(f[j]);
    }
    return NULL;
}

START_TEST(push_immediate_needs_a_peer)
{
    /* immediate: with nobody at the endpoint a flush fails after timeout_ms
     * instead of queueing; once a peer is there, it is delivered. */
    char dir[] = "/tmp/obc-imm-XXXXXX", ep[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/pull", dir);
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = ep;
    o.mode = OBC_PUSH;
    o.timeout_ms = 200;
    o.immediate = true;
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    struct obc_instrument *g;
    ck_assert_int_eq(obc_gauge(c, "g", NULL, NULL, &g), 0);
    ck_assert_int_eq(obc_record(g, 1, NULL, 0), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(obc_flush(c, NULL), -EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert(waited_ms >= 150 && waited_ms < 2000);

    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    ck_assert_int_eq(zmq_bind(pull, ep), 0);
    o.timeout_ms = 5000; /* the reconnect takes up to 100 ms (ZMQ_RECONNECT_IVL) */
    struct obc_client *c2;
    ck_assert_int_eq(obc_open(&o, &c2), 0);
    ck_assert_int_eq(obc_gauge(c2, "g", NULL, NULL, &g), 0);
    ck_assert_int_eq(obc_record(g, 2, NULL, 0), 0);
    ck_assert_int_eq(obc_flush(c2, NULL), 0);
    char *f[2];
    size_t l[2];
    ck_assert_int_eq(zmq_stack_recv(pull, f, l, 2), 2);
    free(f[0]);
    free(f[1]);
    ck_assert_int_eq(obc_close(c2, NULL), 0); /* the same series once more */
    ck_assert_int_eq(zmq_stack_recv(pull, f, l, 2), 2);
    free(f[0]);
    free(f[1]);
    obc_close(c, NULL);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    char path[96];
    snprintf(path, sizeof path, "%s/pull", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(reply_answers_and_timeouts)
{
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *router = bind_socket(ctx, ZMQ_ROUTER, ep, sizeof ep);
    static const int script[] = {ANSWER_PARTIAL, ANSWER_ERROR, ANSWER_LATE, ANSWER_OK};
    struct fake_broker fb = {router, script, 4};
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, fake_broker_main, &fb), 0);

    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = ep;
    o.mode = OBC_REPLY;
    o.timeout_ms = 300;
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    struct obc_instrument *k;
    ck_assert_int_eq(obc_counter(c, "k", NULL, NULL, &k), 0);
    struct obc_result res;
    ck_assert_int_eq(obc_flush(c, &res), 0); /* nothing recorded: nothing sent */
    ck_assert(!res.answered);
    ck_assert_int_eq(obc_add(k, 1, NULL, 0), 0);

    ck_assert_int_eq(obc_flush(c, &res), 0);
    ck_assert(res.answered);
    ck_assert_int_eq(res.rejected, 2);
    ck_assert_str_eq(res.message, "two bad");
    ck_assert_uint_eq(res.points, 1);

    ck_assert_int_eq(obc_flush(c, &res), OBC_E_REFUSED);
    ck_assert(res.answered);
    ck_assert_str_eq(res.message, "malformed: broken");

    ck_assert_int_eq(obc_flush(c, &res), -ETIMEDOUT);
    ck_assert(!res.answered);

    /* The late answer to the previous request must not be taken for this one. */
    sleep_ms(500);
    ck_assert_int_eq(obc_flush(c, &res), 0);
    ck_assert(res.answered);
    ck_assert_int_eq(res.rejected, 0);

    void *ret;
    ck_assert_int_eq(pthread_join(tid, &ret), 0);
    ck_assert_ptr_null(ret);
    /* Nobody answers the close's flush any more. */
    ck_assert_int_eq(obc_close(c, &res), -ETIMEDOUT);
    zmq_close(router);
    zmq_ctx_term(ctx);
}
END_TEST

/* ---- end to end: the real broker path --------------------------------------------- */

static void calculator(struct obc_client *c)
{
    struct obc_instrument *ops, *dur, *active;
    static const double bounds[] = {1, 5, 10};
    ck_assert_int_eq(obc_counter(c, "calc_operation", NULL, "Operations", &ops), 0);
    ck_assert_int_eq(obc_histogram(c, "http.server.duration", "ms", NULL, bounds, 3, &dur), 0);
    ck_assert_int_eq(obc_updown_counter(c, "http.server.active_requests", NULL, NULL, &active), 0);
    static const char *const names[] = {"add", "add", "divide", "add"};
    static const double took[] = {0.5, 3, 7, 20};
    for (int i = 0; i < 4; i++) {
        struct obc_attr op[] = {OBC_STR("operation", names[i])};
        ck_assert_int_eq(obc_add(active, 1, NULL, 0), 0);
        ck_assert_int_eq(obc_add(ops, 1, op, 1), 0);
        ck_assert_int_eq(obc_record(dur, took[i], NULL, 0), 0);
    }
    ck_assert_int_eq(obc_add(active, -3, NULL, 0), 0);
}

static const char *const calculator_lines[] = {
    "calc_operation_total{job=\"calculator\",operation=\"add\"} 3",
    "calc_operation_total{job=\"calculator\",operation=\"divide\"} 1",
    "http_server_duration_milliseconds_bucket{job=\"calculator\",le=\"1\"} 1",
    "http_server_duration_milliseconds_bucket{job=\"calculator\",le=\"5\"} 2",
    "http_server_duration_milliseconds_bucket{job=\"calculator\",le=\"10\"} 3",
    "http_server_duration_milliseconds_bucket{job=\"calculator\",le=\"+Inf\"} 4",
    "http_server_duration_milliseconds_sum{job=\"calculator\"} 30.5",
    "http_server_duration_milliseconds_count{job=\"calculator\"} 4",
    "http_server_active_requests{job=\"calculator\"} 1",
    NULL};

START_TEST(end_to_end_reply)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 2, 0);
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = st.reply;
    o.mode = OBC_REPLY;
    o.service_name = "calculator";
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    calculator(c);
    struct obc_result res;
    ck_assert_int_eq(obc_flush(c, &res), 0);
    ck_assert(res.answered);
    ck_assert_int_eq(res.rejected, 0);
    ck_assert_uint_eq(res.points, 4);
    ck_assert(zmq_stack_wait_lines(&st, calculator_lines, 1000));
    ck_assert_int_eq(obc_close(c, &res), 0);
    ck_assert_int_eq(res.rejected, 0); /* a resend of the same samples is fine */
    zmq_stack_stop(&st);
}
END_TEST

START_TEST(end_to_end_push)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 1, 0);
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = st.pull;
    o.mode = OBC_PUSH;
    o.service_name = "calculator";
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    calculator(c);
    ck_assert_int_eq(obc_close(c, NULL), 0);
    ck_assert(zmq_stack_wait_lines(&st, calculator_lines, 3000));
    zmq_stack_stop(&st);
}
END_TEST


/* ---- OBC_STREAM ------------------------------------------------------------------- */

/* A fake broker for the window: answers in reverse order in groups of up to
 * four, never answers the first copy of number 3, answers number 5 twice,
 * and answers nothing while muted. */
struct stream_broker {
    void *router;
    _Atomic bool stop, mute;
    _Atomic int requests;
};

static void *stream_broker_main(void *p)
{
    struct stream_broker *b = p;
    char *held[4][3];
    size_t held_l[4][3];
    int n_held = 0;
    bool dropped3 = false;
    while (!b->stop) {
        char *f[4];
        size_t l[4];
        zmq_pollitem_t pi = {.socket = b->router, .events = ZMQ_POLLIN};
        int got = zmq_poll(&pi, 1, 50) > 0 ? zmq_stack_recv(b->router, f, l, 4) : 0;
        if (got == 3) {
            b->requests++;
            struct ob_zseq_frame sf;
            bool ok = ob_zseq_parse(f[1], l[1], &sf) == 1;
            if (!ok || b->mute || (sf.seq == 3 && !dropped3)) {
                dropped3 = dropped3 || (ok && sf.seq == 3);
                for (int i = 0; i < got; i++)
                    free(f[i]);
                continue;
            }
            for (int i = 0; i < 3; i++)
                held[n_held][i] = f[i], held_l[n_held][i] = l[i];
            n_held++;
        } else {
            for (int i = 0; i < got && i < 4; i++)
                free(f[i]); /* an END ([identity] [sequence]): no answer needed */
        }
        if (n_held == 4 || (got <= 0 && n_held > 0)) {
            for (int h = n_held - 1; h >= 0; h--) {
                struct ob_zseq_frame sf;
                ob_zseq_parse(held[h][1], held_l[h][1], &sf);
                for (int rep = 0; rep < (sf.seq == 5 ? 2 : 1); rep++) {
                    zmq_send(b->router, held[h][0], held_l[h][0], ZMQ_SNDMORE);
                    zmq_send(b->router, held[h][1], held_l[h][1], ZMQ_SNDMORE);
                    zmq_send(b->router, "", 0, 0);
                }
                for (int i = 0; i < 3; i++)
                    free(held[h][i]);
            }
            n_held = 0;
        }
    }
    for (int h = 0; h < n_held; h++)
        for (int i = 0; i < 3; i++)
            free(held[h][i]);
    return NULL;
}

static _Atomic int acks_of[64];
static _Atomic int acks;

static void on_ack(void *arg, int rc, const struct obc_result *res)
{
    (void)arg;
    ck_assert_int_eq(rc, 0);
    ck_assert(res->answered);
    if (res->seq < 64)
        acks_of[res->seq]++;
    acks++;
}

START_TEST(stream_window_resend_and_close)
{
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *router = bind_socket(ctx, ZMQ_ROUTER, ep, sizeof ep);
    struct stream_broker b = {.router = router};
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, stream_broker_main, &b), 0);

    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = ep;
    o.mode = OBC_STREAM;
    o.window = 8;
    o.resend_ms = 200;
    o.timeout_ms = 3000;
    o.on_ack = on_ack;
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    /* 20 messages through a window of 8: sends wait for room only. */
    for (uint64_t i = 0; i < 20; i++) {
        struct obc_result res;
        char body[32];
        int len = snprintf(body, sizeof body, "message %llu", (unsigned long long)i);
        ck_assert_int_eq(obc_send(c, body, (size_t)len, NULL, &res), 0);
        ck_assert_uint_eq(res.seq, i);
        ck_assert(!res.answered);
    }
    ck_assert_int_eq(obc_wait(c, 5000), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(acks_of[i] == 1, "message %d acknowledged %d times", i, acks_of[i]);
    struct obc_stats st;
    ck_assert_int_eq(obc_stats(c, &st), 0);
    ck_assert_uint_eq(st.sent, 20);
    ck_assert_uint_eq(st.acked, 20);
    ck_assert_uint_ge(st.resent, 1); /* number 3 at least */
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.refused, 0);

    /* Muted broker: the window fills, the next send times out unsent, and
     * close reports the unanswered ones. */
    b.mute = true;
    struct obc_options o2 = o;
    o2.timeout_ms = 300;
    o2.on_ack = NULL;
    struct obc_client *c2;
    ck_assert_int_eq(obc_open(&o2, &c2), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(obc_send(c2, "x", 1, NULL, NULL), 0);
    struct obc_result res;
    ck_assert_int_eq(obc_send(c2, "x", 1, NULL, &res), -ETIMEDOUT);
    ck_assert_int_eq(obc_wait(c2, 100), -ETIMEDOUT);
    ck_assert_int_eq(obc_stats(c2, &st), 0);
    ck_assert_uint_eq(st.sent, 8);
    ck_assert_uint_eq(st.in_flight, 8);
    ck_assert_int_eq(obc_close(c2, &res), -ETIMEDOUT);
    ck_assert_uint_eq(res.unacked, 8);

    b.mute = false;
    ck_assert_int_eq(obc_close(c, &res), 0);
    ck_assert_uint_eq(res.unacked, 0);
    b.stop = true;
    pthread_join(tid, NULL);
    zmq_close(router);
    zmq_ctx_term(ctx);
}
END_TEST

/* OBC_AUTO on an ipc:// endpoint streams; everything is acknowledged and
 * stored, and the broker saw no loss. */
START_TEST(end_to_end_stream)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 2, 0);
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = st.reply;
    o.service_name = "calculator";
    struct obc_client *c;
    ck_assert_int_eq(obc_open(&o, &c), 0);
    calculator(c);
    struct obc_result res;
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(obc_flush(c, &res), 0);
        ck_assert_uint_eq(res.seq, (uint64_t)i);
    }
    ck_assert_int_eq(obc_close(c, &res), 0);
    ck_assert_uint_eq(res.unacked, 0);
    ck_assert(zmq_stack_wait_lines(&st, calculator_lines, 1000));
    char name[256];
    snprintf(name, sizeof name, "otlp_broker_zmq_messages_lost_total{endpoint=\"%s\"}", st.reply);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, name), 0);
    ck_assert_uint_eq(
        zmq_stack_selfmetric(&st, "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"ok\"}"),
        51);
    zmq_stack_stop(&st);
}
END_TEST

Suite *client_suite(void);
Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("aggregation");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, counter_sums_per_attribute_set);
    tcase_add_test(tc, histogram_buckets_cumulative_across_flushes);
    tcase_add_test(tc, gauge_last_value_and_resource);
    tcase_add_test(tc, series_limit);
    tcase_add_test(tc, concurrent_recording_is_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("transport");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, push_background_flush);
    tcase_add_test(tc, push_immediate_needs_a_peer);
    tcase_add_test(tc, reply_answers_and_timeouts);
    tcase_add_test(tc, end_to_end_reply);
    tcase_add_test(tc, end_to_end_push);
    tcase_add_test(tc, stream_window_resend_and_close);
    tcase_add_test(tc, end_to_end_stream);
    suite_add_tcase(s, tc);
    return s;
}
