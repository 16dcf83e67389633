/* test_remote_write.c: the sender thread (ob_remote_write) with ingest
 * running on two threads beside it, against a receiver in the test that
 * decodes every request with the generated prompb code: every sample stored
 * arrives, once a request is taken the cursor moves, and a restart resumes
 * from it.  Also run under ThreadSanitizer (make tsan). */
#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest_fixture.h"
#include "ob_buf.h"
#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_payloads.h"
#include "ob_remote_write.h"
#include "ob_time.h"
#include "prometheus/prompb/remote.pb-c.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define N_SERIES 200u
#define ROUNDS 40u

/* The receiver: for each bench_fill series id, the timestamps received. */
static struct {
    struct MHD_Daemon *d;
    unsigned port;
    pthread_mutex_t mu;
    uint64_t seen[2 * N_SERIES]; /* bit r: round r's sample of the id arrived */
    uint64_t samples, requests;
    int64_t ts0_ms;
    bool wrote_none; /* answer 2.0's -Written headers with 0, take nothing */
} rx;

struct body {
    struct ob_buf b;
};

static void take(const Prometheus__WriteRequest *w)
{
    pthread_mutex_lock(&rx.mu);
    rx.requests++;
    for (size_t i = 0; i < w->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = w->timeseries[i];
        const char *id = NULL, *name = NULL;
        for (size_t k = 0; k < ts->n_labels; k++) {
            if (!strcmp(ts->labels[k]->name, "id"))
                id = ts->labels[k]->value;
            if (!strcmp(ts->labels[k]->name, "__name__"))
                name = ts->labels[k]->value;
        }
        if (!id || !name || strncmp(name, "bench_fill_", 11))
            continue; /* target_info */
        unsigned n = (unsigned)atoi(id);
        for (size_t k = 0; k < ts->n_samples; k++) {
            int64_t r = (ts->samples[k]->timestamp - rx.ts0_ms) / 1000;
            if (n < 2 * N_SERIES && r >= 0 && r < 64)
                rx.seen[n] |= UINT64_C(1) << r;
            rx.samples++;
        }
    }
    pthread_mutex_unlock(&rx.mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    struct body *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        return MHD_YES;
    }
    if (*size) {
        ob_buf_append(&b->b, data, *size);
        *size = 0;
        return MHD_YES;
    }
    unsigned code = 204;
    if (rx.wrote_none) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "X-Prometheus-Remote-Write-Samples-Written", "0");
        MHD_add_response_header(r, "X-Prometheus-Remote-Write-Histograms-Written", "0");
        MHD_add_response_header(r, "X-Prometheus-Remote-Write-Exemplars-Written", "0");
        enum MHD_Result ret = MHD_queue_response(c, 204, r);
        MHD_destroy_response(r);
        return ret;
    }
    size_t raw_len;
    char *raw = NULL;
    if (snappy_uncompressed_length(b->b.data, b->b.len, &raw_len) != SNAPPY_OK ||
        !(raw = malloc(raw_len + 1)) || snappy_uncompress(b->b.data, b->b.len, raw, &raw_len) != SNAPPY_OK) {
        code = 400;
    } else {
        Prometheus__WriteRequest *w = prometheus__write_request__unpack(NULL, raw_len, (const uint8_t *)raw);
        if (w) {
            take(w);
            prometheus__write_request__free_unpacked(w, NULL);
        } else {
            code = 400;
        }
    }
    free(raw);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct body *b = *con_cls;
    if (b) {
        ob_buf_fini(&b->b);
        free(b);
    }
    *con_cls = NULL;
}

static void rx_start(void)
{
    memset(rx.seen, 0, sizeof rx.seen);
    rx.samples = rx.requests = 0;
    pthread_mutex_init(&rx.mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    rx.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                            on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(rx.d);
    rx.port = MHD_get_daemon_info(rx.d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void rx_stop(void)
{
    MHD_stop_daemon(rx.d);
    rx.d = NULL;
}

/* ---- the broker's side ---------------------------------------------------------- */

static struct ingest_fixture fx;
static struct ob_fwdlog *fwdlog;
static char log_name[80];

static void broker_open(const char *protocol)
{
    char url[128];
    snprintf(url, sizeof url, "remote_write.t.url=http://127.0.0.1:%u/api/v1/write", rx.port);
    const char *ov[] = {url, "remote_write.t.batch_size=300", "remote_write.t.batch_deadline=20ms",
                        "remote_write.t.shards=3", "remote_write.t.min_backoff=10ms",
                        "remote_write.t.max_backoff=50ms", protocol};
    ingest_fixture_open(&fx, "rwunit", 4 * N_SERIES, ov, OB_ARRAY_LEN(ov));
    snprintf(log_name, sizeof log_name, "%s.forward", fx.shm_name);
    struct ob_store_info info;
    ob_store_info(fx.store, &info);
    struct ob_fwdlog_opts o = {.path = log_name, .cap = 4u << 20, .store_created_ns = info.hdr->created_ns};
    char err[OB_ERR_LEN];
    bool restarted;
    ck_assert_int_eq(ob_fwdlog_open(&o, &fwdlog, err, &restarted), 0);
    ob_ingest_set_fwdlog(fx.ingest, fwdlog);
}

/* The log, the store and the ingest, gone. */
static void broker_close(void)
{
    ob_fwdlog_close(fwdlog);
    fwdlog = NULL;
    ob_fwdlog_unlink(log_name);
    ingest_fixture_close(&fx);
}

struct pusher {
    uint32_t first; /* ids first .. first + N_SERIES - 1 */
    int failures;
};

static void *push(void *arg)
{
    struct pusher *p = arg;
    struct ob_buf b;
    ob_buf_init(&b);
    for (uint32_t r = 0; r < ROUNDS; r++) {
        b.len = 0;
        if (ob_payload_fill(&b, p->first, N_SERIES, (rx.ts0_ms + (int64_t)r * 1000) * OB_NS_PER_MS) != 0) {
            p->failures++;
            continue;
        }
        struct ob_ingest_result res;
        if (ob_ingest_body(fx.ingest, OB_FE_HTTP, OB_PAYLOAD_PROTOBUF, b.data, b.len, &res) != 0 ||
            res.rejected)
            p->failures++;
    }
    ob_buf_fini(&b);
    return NULL;
}

static bool all_arrived(uint32_t rounds)
{
    uint64_t want = rounds >= 64 ? UINT64_MAX : (UINT64_C(1) << rounds) - 1;
    pthread_mutex_lock(&rx.mu);
    bool ok = true;
    for (uint32_t n = 0; n < 2 * N_SERIES && ok; n++)
        ok = (rx.seen[n] & want) == want;
    pthread_mutex_unlock(&rx.mu);
    return ok;
}

static void wait_arrived(uint32_t rounds)
{
    for (int i = 0; i < 1000 && !all_arrived(rounds); i++)
        sleep_ms(10);
}

START_TEST(two_ingest_threads_every_sample_arrives)
{
    rx.ts0_ms = ob_now_ns() / 1000000 - 120000;
    rx_start();
    broker_open("remote_write.t.protocol=1.0");
    struct ob_remote_write *rw;
    char err[OB_ERR_LEN];
    ck_assert_msg(ob_remote_write_start(fx.cfg, fx.store, fwdlog, &rw, err) == 0, "%s", err);
    pthread_t t[2];
    struct pusher p[2] = {{0, 0}, {N_SERIES, 0}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, push, &p[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(p[0].failures + p[1].failures, 0);
    wait_arrived(ROUNDS);
    ck_assert_msg(all_arrived(ROUNDS), "not every sample arrived (%llu received)",
                  (unsigned long long)rx.samples);
    /* The cursor reached the head: nothing pending, the self-metrics say so. */
    struct ob_rw_target_status st;
    for (int i = 0; i < 200; i++) {
        ob_remote_write_target_status(rw, 0, &st);
        if (st.pending == 0)
            break;
        sleep_ms(10);
    }
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_ge(st.samples_sent, 2 * N_SERIES * ROUNDS);
    ck_assert_uint_eq(st.dropped, 0);
    struct ob_buf m;
    ob_buf_init(&m);
    ob_remote_write_metrics(rw, &m);
    ob_buf_putc(&m, '\0');
    ck_assert_ptr_nonnull(strstr(m.data, "otlp_broker_remote_storage_samples_pending{remote_name=\"t\""));
    ob_buf_fini(&m);
    ob_remote_write_stop(rw);

    /* A restart (a new sender on the same log) sends nothing again: the
     * cursor was past it all; what comes after arrives. */
    uint64_t before = rx.requests;
    ck_assert_int_eq(ob_remote_write_start(fx.cfg, fx.store, fwdlog, &rw, err), 0);
    sleep_ms(100);
    ck_assert_uint_eq(rx.requests, before);
    ob_remote_write_stop(rw);

    broker_close();
    rx_stop();
}
END_TEST

/* The receiver away: ingest goes on, the samples wait in the log; a
 * sender started later (a broker restart) sends them all. */
START_TEST(what_waits_in_the_log_goes_after_a_restart)
{
    rx.ts0_ms = ob_now_ns() / 1000000 - 120000;
    rx_start();
    unsigned port = rx.port;
    rx_stop(); /* nothing listens there now */
    rx.port = port;
    broker_open("remote_write.t.protocol=1.0");
    struct ob_remote_write *rw;
    char err[OB_ERR_LEN];
    ck_assert_int_eq(ob_remote_write_start(fx.cfg, fx.store, fwdlog, &rw, err), 0);
    struct pusher p = {0, 0};
    push(&p);
    ck_assert_int_eq(p.failures, 0);
    sleep_ms(100);
    ob_remote_write_stop(rw); /* the broker stops: its shards held records, none taken */

    /* The receiver is back on its port; the broker starts again. */
    memset(rx.seen, 0, sizeof rx.seen);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    rx.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                            on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, NULL, MHD_OPTION_END);
    if (!rx.d) { /* the port was taken meanwhile: nothing to test against */
        broker_close();
        return;
    }
    ck_assert_int_eq(ob_remote_write_start(fx.cfg, fx.store, fwdlog, &rw, err), 0);
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&rx.mu);
        bool ok = true;
        for (uint32_t n = 0; n < N_SERIES && ok; n++)
            ok = rx.seen[n] == (UINT64_C(1) << ROUNDS) - 1;
        pthread_mutex_unlock(&rx.mu);
        if (ok)
            break;
        sleep_ms(10);
    }
    pthread_mutex_lock(&rx.mu);
    for (uint32_t n = 0; n < N_SERIES; n++)
        ck_assert_msg(rx.seen[n] == (UINT64_C(1) << ROUNDS) - 1, "id %u: %llx", n,
                      (unsigned long long)rx.seen[n]);
    pthread_mutex_unlock(&rx.mu);
    ob_remote_write_stop(rw);
    broker_close();
    rx_stop();
}
END_TEST

/* A 2.0 receiver that takes the requests (2xx) but says it wrote none of
 * their samples: counted as not_written, not sent again. */
START_TEST(what_a_receiver_says_it_did_not_write_is_counted)
{
    rx.ts0_ms = ob_now_ns() / 1000000 - 120000;
    rx_start();
    rx.wrote_none = true;
    broker_open("remote_write.t.protocol=2.0");
    struct ob_remote_write *rw;
    char err[OB_ERR_LEN];
    ck_assert_int_eq(ob_remote_write_start(fx.cfg, fx.store, fwdlog, &rw, err), 0);
    struct pusher p = {0, 0};
    push(&p);
    struct ob_rw_target_status st;
    for (int i = 0; i < 300; i++) {
        ob_remote_write_target_status(rw, 0, &st);
        if (st.pending == 0)
            break;
        sleep_ms(10);
    }
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_ge(st.dropped, N_SERIES * ROUNDS); /* every bench_fill sample, and target_info */
    ck_assert_uint_eq(st.dropped, st.samples_sent + st.histograms_sent);
    ck_assert_uint_eq(st.retries, 0);
    struct ob_buf m;
    ob_buf_init(&m);
    ob_remote_write_metrics(rw, &m);
    ob_buf_putc(&m, '\0');
    ck_assert_ptr_nonnull(strstr(m.data, "reason=\"not_written\"} "));
    ck_assert_ptr_null(strstr(m.data, "reason=\"not_written\"} 0\n"));
    ob_buf_fini(&m);
    ob_remote_write_stop(rw);
    rx.wrote_none = false;
    broker_close();
    rx_stop();
}
END_TEST

Suite *remote_write_suite(void);
Suite *remote_write_suite(void)
{
    Suite *s = suite_create("remote_write");
    TCase *tc = tcase_create("sender");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_ingest_threads_every_sample_arrives);
    tcase_add_test(tc, what_waits_in_the_log_goes_after_a_restart);
    tcase_add_test(tc, what_a_receiver_says_it_did_not_write_is_counted);
    suite_add_tcase(s, tc);
    return s;
}
