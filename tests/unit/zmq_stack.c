/* zmq_stack.c: see zmq_stack.h. */
#include "zmq_stack.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ob_buf.h"
#include "ob_expose.h"
#include "ob_ingest.h"
#include "ob_otlp.h"
#include "ob_selfmetrics.h"
#include "ob_store.h"
#include "ob_time.h"
#include "ob_zmq.h"

void zmq_stack_start(struct zmq_stack *s, unsigned threads, uint64_t max_body)
{
    static unsigned seq;
    char err[OB_ERR_LEN] = "";
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/ob-zmq-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(s->shm, sizeof s->shm, "/ob-zmq-test-%ld-%u", (long)getpid(), seq++);

    struct ob_store_opts so = {.path = s->shm,
                               .max_series = 4096,
                               .max_families = 256,
                               .samples_per_series = 4,
                               .ooo_window_ms = 600000,
                               .series_ttl_ms = 300000,
                               .recreate = true};
    int rc = ob_store_open(&so, &s->store, err);
    ck_assert_msg(rc == 0, "store: %s", err);

    const char *build = getenv("OB_BUILD") ? getenv("OB_BUILD") : "build";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/plugins", build);
    struct ob_translator_inst *x;
    rc = ob_translator_load("underscore_escaping_with_suffixes", dir, NULL, 0, &x, err);
    ck_assert_msg(rc == 0, "plugin: %s", err);
    ob_translator_slot_init(&s->host);
    ob_translator_slot_swap(&s->host, x);

    s->cfg.max_labels_per_series = 128;
    s->cfg.store_ooo_window_ms = 600000;
    s->cfg.max_body_bytes = max_body ? max_body : 4u << 20;
    struct ob_translator_slot *slots[OB_FE__COUNT];
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        slots[fe] = &s->host;
    ck_assert_int_eq(ob_ingest_create(s->store, &s->cfg, slots, &s->ingest), 0);

    char pull[128], reply[128];
    snprintf(pull, sizeof pull, "ipc://%s/pull", s->dir);
    snprintf(reply, sizeof reply, "ipc://%s/reply", s->dir);
    const char *pulls[] = {pull}, *replies[] = {reply};
    struct ob_zmq_opts zo = {.pull = pulls,
                             .n_pull = 1,
                             .reply = replies,
                             .n_reply = 1,
                             .max_body_bytes = s->cfg.max_body_bytes,
                             .rcv_hwm = 1000,
                             .threads = threads};
    ob_sm_reset(); /* counts of this stack only; endpoints registered anew */
    rc = ob_zmq_start(&zo, s->ingest, &s->zmq, err);
    ck_assert_msg(rc == 0, "zmq: %s", err);
    snprintf(s->pull, sizeof s->pull, "%s", ob_zmq_endpoint(s->zmq, 0, 0));
    snprintf(s->reply, sizeof s->reply, "%s", ob_zmq_endpoint(s->zmq, 1, 0));
}

void zmq_stack_stop(struct zmq_stack *s)
{
    ob_zmq_stop(s->zmq);
    ob_ingest_destroy(s->ingest);
    ob_translator_slot_fini(&s->host);
    ob_store_close(s->store);
    ob_store_unlink(s->shm);
    rmdir(s->dir); /* the ipc files went with their sockets */
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

bool zmq_stack_wait_lines(struct zmq_stack *s, const char *const *lines, int timeout_ms)
{
    struct ob_buf b;
    ob_buf_init(&b);
    bool all = false;
    for (int waited = 0;; waited += 10) {
        b.len = 0;
        ob_buf_putc(&b, '\n');
        struct ob_expose_opts eo = {0};
        ck_assert_int_eq(ob_expose_store(s->store, &eo, ob_now_ns() / 1000000, &b), 0);
        ob_buf_putc(&b, '\0');
        all = true;
        for (size_t i = 0; lines[i] && all; i++) {
            char want[512];
            snprintf(want, sizeof want, "\n%s\n", lines[i]);
            all = strstr(b.data, want) != NULL;
        }
        if (all || waited >= timeout_ms)
            break;
        sleep_ms(10);
    }
    if (!all)
        fprintf(stderr, "exposition:\n%s\n", b.data);
    ob_buf_fini(&b);
    return all;
}

uint64_t zmq_stack_selfmetric(struct zmq_stack *s, const char *series)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_buf_putc(&b, '\n');
    ob_selfmetrics_write(s->store, &b);
    ob_buf_putc(&b, '\0');
    char want[256];
    snprintf(want, sizeof want, "\n%s ", series);
    const char *p = strstr(b.data, want);
    uint64_t v = p ? strtoull(p + strlen(want), NULL, 10) : 0;
    ob_buf_fini(&b);
    return v;
}

void *zmq_stack_counter_payload(const char *service, const char *name, const char *key,
                                const char *value, double v, uint64_t ts_ns, bool cumulative,
                                size_t *out_len)
{
    Opentelemetry__Proto__Common__V1__AnyValue sv = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
                                               av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    sv.value_case = av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    sv.string_value = (char *)service;
    av.string_value = (char *)value;
    Opentelemetry__Proto__Common__V1__KeyValue skv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT,
                                               akv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    skv.key = (char *)"service.name";
    skv.value = &sv;
    akv.key = (char *)key;
    akv.value = &av;
    Opentelemetry__Proto__Common__V1__KeyValue *skvp = &skv, *akvp = &akv;

    Opentelemetry__Proto__Metrics__V1__NumberDataPoint p =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    p.n_attributes = 1;
    p.attributes = &akvp;
    p.has_start_time_unix_nano = p.has_time_unix_nano = 1;
    p.start_time_unix_nano = ts_ns - 1000000000ull;
    p.time_unix_nano = ts_ns;
    p.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p.as_double = v;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *pp = &p;
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum.n_data_points = 1;
    sum.data_points = &pp;
    sum.has_aggregation_temporality = sum.has_is_monotonic = 1;
    sum.aggregation_temporality =
        cumulative ? OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
                   : OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_UNSPECIFIED;
    sum.is_monotonic = 1;
    Opentelemetry__Proto__Metrics__V1__Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m.name = (char *)name;
    m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m.sum = &sum;
    Opentelemetry__Proto__Metrics__V1__Metric *mp = &m;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.n_metrics = 1;
    sm.metrics = &mp;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp = &sm;
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 1;
    res.attributes = &skvp;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &res;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp = &rm;
    ob_otlp_request req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;

    size_t len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(&req);
    void *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, buf);
    *out_len = len;
    return buf;
}

int zmq_stack_recv(void *sock, char **frames, size_t *lens, int max)
{
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        ck_assert_int_ge(zmq_msg_recv(&m, sock, 0), 0);
        if (n < max) {
            lens[n] = zmq_msg_size(&m);
            frames[n] = malloc(lens[n] + 1);
            ck_assert_ptr_nonnull(frames[n]);
            memcpy(frames[n], zmq_msg_data(&m), lens[n]);
            frames[n][lens[n]] = '\0';
            n++;
        }
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (!more)
            return n;
    }
}
