/* test_zmq.c: the ZeroMQ frontend on the real ingest path.
 *
 * Each test starts store + plugin + ingest + ob_zmq (zmq_stack.h) on ipc://
 * endpoints, talks to it with plain libzmq sockets and checks the
 * exposition, the answers (framing of broker/ob_zmq.h) and the self-metrics.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ob_buf.h"
#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_log.h"
#include "ob_otlp.h"
#include "ob_zmq.h"
#include "zmq_stack.h"

#define OK_REQS "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"ok\"}"
#define PARTIAL_REQS "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"partial\"}"
#define MALFORMED_REQS "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"malformed\"}"
#define TOO_LARGE_REQS "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"too_large\"}"
#define UNSUPPORTED_REQS "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"unsupported\"}"

static uint64_t base_ns(void)
{
    return (uint64_t)(ob_now_ns() / 1000000 - 60000) * 1000000; /* whole ms, a minute ago */
}

static void *open_socket(void *ctx, int type, const char *ep)
{
    void *s = zmq_socket(ctx, type);
    ck_assert_ptr_nonnull(s);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    return s;
}

static void send_frames(void *sock, const char *enc, const void *body, size_t len)
{
    if (enc)
        ck_assert_int_ge(zmq_send(sock, enc, strlen(enc), ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(sock, body, len, 0), 0);
}

/* Receives an answer; returns the frame count, *out_rejected and msg from a
 * response, or msg from an error. */
static int answer(void *sock, int64_t *out_rejected, char *msg, size_t msg_cap)
{
    char *f[4];
    size_t l[4];
    int n = zmq_stack_recv(sock, f, l, 4);
    *out_rejected = -1;
    msg[0] = '\0';
    if (n == 1) {
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
                NULL, l[0], (const uint8_t *)f[0]);
        ck_assert_ptr_nonnull(r);
        *out_rejected = r->partial_success ? r->partial_success->rejected_data_points : 0;
        if (r->partial_success && r->partial_success->error_message)
            snprintf(msg, msg_cap, "%s", r->partial_success->error_message);
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
            r, NULL);
    } else if (n == 2) {
        ck_assert_str_eq(f[0], "error");
        snprintf(msg, msg_cap, "%s", f[1]);
    }
    for (int i = 0; i < n; i++)
        free(f[i]);
    return n;
}

START_TEST(pull_ingests_plain_and_gzip)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 1, 0);
    void *ctx = zmq_ctx_new();
    void *push = open_socket(ctx, ZMQ_PUSH, st.pull);
    uint64_t t = base_ns();

    size_t len;
    void *body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "add", 3,
                                           t, true, &len);
    send_frames(push, NULL, body, len);
    free(body);
    body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "divide", 7, t,
                                     true, &len);
    struct ob_buf gz;
    ob_buf_init(&gz);
    ck_assert_int_eq(ob_gzip(body, len, 6, &gz), 0);
    send_frames(push, "gzip", gz.data, gz.len);
    ob_buf_fini(&gz);
    free(body);
    body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "multiply", 1,
                                     t, true, &len);
    send_frames(push, "identity", body, len);
    free(body);

    const char *want[] = {"calc_operation_total{job=\"calculator\",operation=\"add\"} 3",
                          "calc_operation_total{job=\"calculator\",operation=\"divide\"} 7",
                          "calc_operation_total{job=\"calculator\",operation=\"multiply\"} 1",
                          NULL};
    ck_assert(zmq_stack_wait_lines(&st, want, 3000));
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), 3);
    ck_assert_uint_eq(zmq_stack_selfmetric(
                          &st, "otlp_broker_data_points_received_total{frontend=\"zmq\"}"),
                      3);
    zmq_close(push);
    zmq_ctx_term(ctx);
    zmq_stack_stop(&st);
}
END_TEST

/* DEALER (no delimiter) and REQ (empty delimiter) both get one-frame
 * responses; a point the ingest rejects comes back as partial_success. */
START_TEST(reply_dealer_req_partial)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 2, 0);
    void *ctx = zmq_ctx_new();
    void *dealer = open_socket(ctx, ZMQ_DEALER, st.reply);
    void *req = open_socket(ctx, ZMQ_REQ, st.reply);
    uint64_t t = base_ns();
    size_t len;
    int64_t rejected;
    char msg[512];

    void *body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "add", 5,
                                           t, true, &len);
    send_frames(dealer, NULL, body, len);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 1);
    ck_assert_int_eq(rejected, 0);
    free(body);

    body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "sub", 2, t,
                                     true, &len);
    send_frames(req, NULL, body, len);
    ck_assert_int_eq(answer(req, &rejected, msg, sizeof msg), 1);
    ck_assert_int_eq(rejected, 0);
    free(body);

    /* Delta temporality is refused point by point: partial success. */
    body = zmq_stack_counter_payload("calculator", "calc_delta", "operation", "add", 1, t, false,
                                     &len);
    send_frames(dealer, "identity", body, len);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 1);
    ck_assert_int_eq(rejected, 1);
    ck_assert_msg(strstr(msg, "temporality") != NULL, "message: %s", msg);
    free(body);

    const char *want[] = {"calc_operation_total{job=\"calculator\",operation=\"add\"} 5",
                          "calc_operation_total{job=\"calculator\",operation=\"sub\"} 2", NULL};
    ck_assert(zmq_stack_wait_lines(&st, want, 1000));
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), 2);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, PARTIAL_REQS), 1);
    zmq_close(dealer);
    zmq_close(req);
    zmq_ctx_term(ctx);
    zmq_stack_stop(&st);
}
END_TEST

/* Garbage, oversized and unknown-encoding requests are answered with the
 * two error frames and counted; the sockets keep serving. */
START_TEST(bad_requests_do_not_stop_the_sockets)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 1, 4096);
    void *ctx = zmq_ctx_new();
    void *dealer = open_socket(ctx, ZMQ_DEALER, st.reply);
    void *push = open_socket(ctx, ZMQ_PUSH, st.pull);
    uint64_t t = base_ns();
    int64_t rejected;
    char msg[512];

    static const char garbage[] = "\xff\xff\xff\xff not protobuf";
    send_frames(dealer, NULL, garbage, sizeof garbage);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "malformed: ", 11) == 0, "message: %s", msg);

    send_frames(dealer, "gzip", garbage, sizeof garbage);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "malformed: ", 11) == 0, "message: %s", msg);

    char *big = calloc(1, 5000);
    send_frames(dealer, NULL, big, 5000);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "too_large: ", 11) == 0, "message: %s", msg);

    /* A gzip bomb: small on the wire, over the limit inflated. */
    char *zeros = calloc(1, 1 << 20);
    struct ob_buf gz;
    ob_buf_init(&gz);
    ck_assert_int_eq(ob_gzip(zeros, 1 << 20, 9, &gz), 0);
    ck_assert_uint_lt(gz.len, 4096);
    send_frames(dealer, "gzip", gz.data, gz.len);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "too_large: ", 11) == 0, "message: %s", msg);
    ob_buf_fini(&gz);
    free(zeros);

    send_frames(dealer, "br", garbage, sizeof garbage);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "unsupported: ", 13) == 0, "message: %s", msg);

    ck_assert_int_ge(zmq_send(dealer, "a", 1, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(dealer, "b", 1, ZMQ_SNDMORE), 0);
    send_frames(dealer, NULL, garbage, sizeof garbage);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "unsupported: ", 13) == 0, "message: %s", msg);

    /* The same garbage on the pull socket: counted, nothing answered. */
    send_frames(push, NULL, garbage, sizeof garbage);
    send_frames(push, NULL, big, 5000);
    free(big);

    size_t len;
    void *body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "add", 4,
                                           t, true, &len);
    send_frames(dealer, NULL, body, len);
    ck_assert_int_eq(answer(dealer, &rejected, msg, sizeof msg), 1);
    ck_assert_int_eq(rejected, 0);
    free(body);
    body = zmq_stack_counter_payload("calculator", "calc_operation", "operation", "sub", 9, t,
                                     true, &len);
    send_frames(push, NULL, body, len);
    free(body);

    const char *want[] = {"calc_operation_total{job=\"calculator\",operation=\"add\"} 4",
                          "calc_operation_total{job=\"calculator\",operation=\"sub\"} 9", NULL};
    ck_assert(zmq_stack_wait_lines(&st, want, 3000));
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, MALFORMED_REQS), 3);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, TOO_LARGE_REQS), 3);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, UNSUPPORTED_REQS), 2);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), 2);
    zmq_close(dealer);
    zmq_close(push);
    zmq_ctx_term(ctx);
    zmq_stack_stop(&st);
}
END_TEST

/* ---- many clients at once ------------------------------------------------------ */

#define CLIENTS 8
#define REQUESTS 50

struct client_arg {
    struct zmq_stack *st;
    void *ctx;
    int id;
    int type; /* ZMQ_DEALER, ZMQ_REQ or ZMQ_PUSH */
    uint64_t t0;
    int answered_ok;
};

static void *client_main(void *p)
{
    struct client_arg *a = p;
    void *s = zmq_socket(a->ctx, a->type);
    int zero = 0, timeout = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    const char *ep = a->type == ZMQ_PUSH ? a->st->pull : a->st->reply;
    if (zmq_connect(s, ep) != 0)
        return NULL;
    char value[16];
    snprintf(value, sizeof value, "c%d", a->id);
    for (int j = 1; j <= REQUESTS; j++) {
        size_t len;
        void *body = zmq_stack_counter_payload("load", "requests", "client", value, j,
                                               a->t0 + (uint64_t)j * 1000000, true, &len);
        int rc = zmq_send(s, body, len, 0);
        free(body);
        if (rc < 0)
            break;
        if (a->type == ZMQ_PUSH)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        /* A success is one empty frame (nothing rejected). */
        if (zmq_msg_recv(&m, s, 0) == 0 && !zmq_msg_more(&m))
            a->answered_ok++;
        zmq_msg_close(&m);
    }
    /* PUSH: linger so that everything queued reaches the broker. */
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    return NULL;
}

static void many_clients(unsigned threads)
{
    struct zmq_stack st;
    zmq_stack_start(&st, threads, 0);
    void *ctx = zmq_ctx_new();
    pthread_t tid[CLIENTS];
    struct client_arg args[CLIENTS];
    uint64_t t0 = base_ns();
    static const int types[] = {ZMQ_DEALER, ZMQ_REQ, ZMQ_PUSH};
    for (int i = 0; i < CLIENTS; i++) {
        args[i] = (struct client_arg){&st, ctx, i, types[i % 3], t0, 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, client_main, &args[i]), 0);
    }
    const char *want[CLIENTS + 1];
    char lines[CLIENTS][128];
    for (int i = 0; i < CLIENTS; i++) {
        ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
        if (args[i].type != ZMQ_PUSH)
            ck_assert_int_eq(args[i].answered_ok, REQUESTS);
        snprintf(lines[i], sizeof lines[i], "requests_total{client=\"c%d\",job=\"load\"} %d", i,
                 REQUESTS);
        want[i] = lines[i];
    }
    want[CLIENTS] = NULL;
    zmq_ctx_term(ctx);
    ck_assert(zmq_stack_wait_lines(&st, want, 5000));
    /* With a worker pool one client's messages may be ingested out of
     * order: its last value can show before an earlier message is counted. */
    uint64_t ok_reqs = 0;
    for (int tries = 0; tries < 500; tries++) {
        ok_reqs = zmq_stack_selfmetric(&st, OK_REQS);
        if (ok_reqs == CLIENTS * REQUESTS)
            break;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ck_assert_uint_eq(ok_reqs, CLIENTS * REQUESTS);
    zmq_stack_stop(&st);
}

START_TEST(many_clients_one_worker)
{
    many_clients(1);
}
END_TEST

START_TEST(many_clients_worker_pool)
{
    many_clients(3);
}
END_TEST

/* ---- lifecycle ------------------------------------------------------------------ */

START_TEST(bind_errors_and_prompt_stop)
{
    struct zmq_stack st;
    zmq_stack_start(&st, 2, 0);
    /* A second broker on the same endpoint fails with the endpoint named. */
    const char *eps[] = {"tcp://127.0.0.1:*"};
    struct ob_zmq_opts o = {.pull = eps, .n_pull = 1, .threads = 1};
    struct ob_zmq *z;
    char err[OB_ERR_LEN] = "";
    ck_assert_int_eq(ob_zmq_start(&o, st.ingest, &z, err), 0);
    const char *bound = ob_zmq_endpoint(z, 0, 0);
    ck_assert_ptr_nonnull(bound);
    ck_assert_msg(strncmp(bound, "tcp://127.0.0.1:", 16) == 0 && strcmp(bound + 16, "*") != 0,
                  "bound: %s", bound);
    ck_assert_ptr_null(ob_zmq_endpoint(z, 1, 0));
    struct ob_zmq *z2;
    const char *same[] = {bound};
    struct ob_zmq_opts o2 = {.reply = same, .n_reply = 1, .threads = 3};
    ck_assert_int_eq(ob_zmq_start(&o2, st.ingest, &z2, err), -EADDRINUSE);
    ck_assert_msg(strstr(err, bound) != NULL, "err: %s", err);
    const char *bad[] = {"nonsense://x"};
    struct ob_zmq_opts o3 = {.pull = bad, .n_pull = 1};
    ck_assert_int_lt(ob_zmq_start(&o3, st.ingest, &z2, err), 0);
    ck_assert_msg(strstr(err, "nonsense://x") != NULL, "err: %s", err);

    /* Stop with a connected client and a message in flight: no hang. */
    void *ctx = zmq_ctx_new();
    void *push = open_socket(ctx, ZMQ_PUSH, bound);
    send_frames(push, NULL, "x", 1);
    int64_t t0 = ob_mono_ns();
    ob_zmq_stop(z);
    zmq_stack_stop(&st);
    ck_assert_int_lt(ob_mono_ns() - t0, 2000000000);
    zmq_close(push);
    zmq_ctx_term(ctx);
    ob_zmq_stop(NULL);
}
END_TEST

Suite *zmq_suite(void);
Suite *zmq_suite(void)
{
    Suite *s = suite_create("zmq");
    TCase *tc = tcase_create("zmq");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, pull_ingests_plain_and_gzip);
    tcase_add_test(tc, reply_dealer_req_partial);
    tcase_add_test(tc, bad_requests_do_not_stop_the_sockets);
    tcase_add_test(tc, many_clients_one_worker);
    tcase_add_test(tc, many_clients_worker_pool);
    tcase_add_test(tc, bind_errors_and_prompt_stop);
    suite_add_tcase(s, tc);
    return s;
}
