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
#include "ob_otlp.h"
#include "ob_time.h"
#include "ob_zmq.h"
#include "ob_zmq_seq.h"
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

    /* No temporality is refused point by point: partial success. */
    body = zmq_stack_counter_payload("calculator", "calc_unspecified", "operation", "add", 1, t, false,
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


/* ---- sequence frames ------------------------------------------------------------ */

static void seq_frame(uint8_t out[OB_ZSEQ_FRAME_LEN], uint64_t sender, uint64_t seq,
                      uint8_t flags)
{
    struct ob_zseq_frame f = {.sender = sender, .seq = seq, .flags = flags};
    ob_zseq_encode(out, &f);
}

/* [seq] [encoding] body, with enc NULL for none. */
static void send_seq(void *sock, uint64_t sender, uint64_t seq, const char *enc, const void *body,
                     size_t len)
{
    uint8_t f[OB_ZSEQ_FRAME_LEN];
    seq_frame(f, sender, seq, 0);
    ck_assert_int_ge(zmq_send(sock, f, sizeof f, ZMQ_SNDMORE), 0);
    send_frames(sock, enc, body, len);
}

static void send_end(void *sock, uint64_t sender, uint64_t count)
{
    uint8_t f[OB_ZSEQ_FRAME_LEN];
    seq_frame(f, sender, count, OB_ZSEQ_FLAG_END);
    ck_assert_int_ge(zmq_send(sock, f, sizeof f, 0), 0);
}

static uint64_t seq_metric(struct zmq_stack *st, const char *what, const char *endpoint)
{
    char name[300];
    snprintf(name, sizeof name, "otlp_broker_zmq_messages_%s_total{endpoint=\"%s\"}", what,
             endpoint);
    return zmq_stack_selfmetric(st, name);
}

/* Polls a self-metric until it reaches want (the broker settles losses when
 * idle, a little after the fact). */
static uint64_t wait_metric(struct zmq_stack *st, const char *what, const char *endpoint,
                            uint64_t want)
{
    uint64_t v = 0;
    for (int i = 0; i < 300 && (v = seq_metric(st, what, endpoint)) < want; i++) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return v;
}

/* A self-metric once it fell to `want` (3 s at most; a loaded machine or
 * TSan settles senders late): its last value. */
static uint64_t wait_selfmetric_down(struct zmq_stack *st, const char *series, uint64_t want)
{
    uint64_t v = 0;
    for (int i = 0; i < 300 && (v = zmq_stack_selfmetric(st, series)) > want; i++) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return v;
}

static void *counter_body(const char *value, double v, uint64_t t, size_t *len)
{
    return zmq_stack_counter_payload("seq", "seq_test", "n", value, v, t, true, len);
}

/* PULL: numbered messages are ingested as before; duplicates and reorders
 * are counted for the endpoint, an END alone is not a request, and a gap is
 * counted lost once the sender closed and the broker went idle. */
static void pull_sequences(unsigned threads)
{
    struct zmq_stack st;
    zmq_stack_start(&st, threads, 0);
    void *ctx = zmq_ctx_new();
    void *push = open_socket(ctx, ZMQ_PUSH, st.pull);
    uint64_t t = base_ns();
    size_t len;
    void *b0 = counter_body("a", 1, t, &len);
    send_seq(push, 77, 0, NULL, b0, len);
    struct ob_buf gz;
    ob_buf_init(&gz);
    void *b1 = counter_body("b", 2, t, &len);
    ck_assert_int_eq(ob_gzip(b1, len, 6, &gz), 0);
    send_seq(push, 77, 1, "gzip", gz.data, gz.len);
    send_seq(push, 77, 1, "gzip", gz.data, gz.len); /* resent: duplicate */
    void *b3 = counter_body("d", 4, t, &len);
    send_seq(push, 77, 3, "identity", b3, len);
    void *b2 = counter_body("c", 3, t, &len);
    send_seq(push, 77, 2, NULL, b2, len); /* late: reordered */
    send_end(push, 77, 4);

    /* Another sender skips number 1 and closes after 3. */
    send_seq(push, 78, 0, NULL, b0, len);
    send_seq(push, 78, 2, NULL, b2, len);
    send_end(push, 78, 3);

    const char *want[] = {"seq_test_total{job=\"seq\",n=\"a\"} 1",
                          "seq_test_total{job=\"seq\",n=\"b\"} 2",
                          "seq_test_total{job=\"seq\",n=\"c\"} 3",
                          "seq_test_total{job=\"seq\",n=\"d\"} 4", NULL};
    ck_assert(zmq_stack_wait_lines(&st, want, 3000));
    ck_assert_uint_eq(wait_metric(&st, "lost", st.pull, 1), 1);
    ck_assert_uint_eq(seq_metric(&st, "duplicate", st.pull), 1);
    ck_assert_uint_eq(seq_metric(&st, "reordered", st.pull), 1);
    /* 7 requests; the two ENDs are not requests. */
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), 7);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, UNSUPPORTED_REQS), 0);
    /* Both senders settled: nobody followed any more. */
    ck_assert_uint_eq(wait_selfmetric_down(&st, "otlp_broker_zmq_senders{socket=\"pull\"}", 0), 0);
    ob_buf_fini(&gz);
    free(b0);
    free(b1);
    free(b2);
    free(b3);
    zmq_close(push);
    zmq_ctx_term(ctx);
    zmq_stack_stop(&st);
}

START_TEST(pull_sequences_one_worker)
{
    pull_sequences(1);
}
END_TEST

START_TEST(pull_sequences_worker_pool)
{
    pull_sequences(3);
}
END_TEST

static uint64_t le64(const char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

/* A group's first frame: the echoed sequence frame (mask 1) or a set frame
 * (base and mask).  Returns false for anything else. */
static bool group_start(const char *f, size_t l, uint64_t *sender, uint64_t *base,
                        uint64_t *mask)
{
    struct ob_zseq_frame fr;
    if (ob_zseq_parse(f, l, &fr) == 1) {
        *sender = fr.sender, *base = fr.seq, *mask = 1;
        return true;
    }
    if (l != OB_ZSEQ_SET_LEN || memcmp(f, "\0OBQ\x01\x02\0\0", 8) != 0)
        return false;
    *sender = le64(f + 8), *base = le64(f + 16), *mask = le64(f + 24);
    return *mask != 0;
}

/* Receives an answer whose first frame must be the sequence frame sent;
 * returns the frame count after it, like answer(). */
static int seq_answer(void *sock, uint64_t sender, uint64_t seq, uint8_t flags,
                      int64_t *out_rejected, char *msg, size_t cap)
{
    char *f[5];
    size_t l[5];
    int n = zmq_stack_recv(sock, f, l, 5);
    ck_assert_int_ge(n, 2);
    if (l[0] == OB_ZSEQ_SET_LEN) { /* all accepted: a set frame naming it */
        uint64_t s, base, mask;
        ck_assert(group_start(f[0], l[0], &s, &base, &mask));
        ck_assert_uint_eq(s, sender);
        ck_assert_uint_eq(base, seq);
        ck_assert_uint_eq(mask, 1);
        ck_assert_uint_eq(flags, 0);
    } else {
        uint8_t want[OB_ZSEQ_FRAME_LEN];
        seq_frame(want, sender, seq, flags);
        ck_assert_uint_eq(l[0], sizeof want);
        ck_assert_mem_eq(f[0], want, sizeof want);
    }
    *out_rejected = -1;
    msg[0] = '\0';
    if (n == 2) {
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
                NULL, l[1], (const uint8_t *)f[1]);
        ck_assert_ptr_nonnull(r);
        *out_rejected = r->partial_success ? r->partial_success->rejected_data_points : 0;
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
            r, NULL);
    } else if (n == 3) {
        ck_assert_str_eq(f[1], "error");
        snprintf(msg, cap, "%s", f[2]);
    }
    for (int i = 0; i < n; i++)
        free(f[i]);
    return n - 1;
}

/* Reply: the answer echoes the sequence frame (DEALER and REQ), errors too;
 * a malformed sequence frame is refused; an END is answered, not counted.
 * With two endpoints behind the proxy every answer goes back to the socket
 * its request came from, and counts name the endpoint. */
static void reply_sequences(unsigned threads)
{
    struct zmq_stack st;
    zmq_stack_start(&st, threads, 0);
    /* A second broker of two reply endpoints on the same ingest. */
    char ep2[128];
    snprintf(ep2, sizeof ep2, "ipc://%s/reply2", st.dir);
    const char *eps[] = {"tcp://127.0.0.1:*", ep2};
    struct ob_zmq_opts o = {.reply = eps, .n_reply = 2, .threads = threads, .rcv_hwm = 100};
    struct ob_zmq *z;
    char err[OB_ERR_LEN] = "";
    ck_assert_msg(ob_zmq_start(&o, st.ingest, &z, err) == 0, "%s", err);
    const char *tcp = ob_zmq_endpoint(z, 1, 0), *ipc2 = ob_zmq_endpoint(z, 1, 1);

    void *ctx = zmq_ctx_new();
    void *d1 = open_socket(ctx, ZMQ_DEALER, tcp);
    void *d2 = open_socket(ctx, ZMQ_DEALER, ipc2);
    void *req = open_socket(ctx, ZMQ_REQ, st.reply);
    uint64_t t = base_ns();
    size_t len;
    int64_t rej;
    char msg[512];
    void *body = counter_body("r", 9, t, &len);

    /* Many in flight on both sockets at once, answers matched by number. */
    for (uint64_t i = 0; i < 40; i++) {
        send_seq(d1, 500, i, NULL, body, len);
        send_seq(d2, 600, i, NULL, body, len);
    }
    bool got1[40] = {0}, got2[40] = {0};
    int batched = 0; /* answers that shared a message with another */
    for (int k = 0; k < 80; k++) {
        zmq_pollitem_t it[2] = {{.socket = d1, .events = ZMQ_POLLIN},
                                {.socket = d2, .events = ZMQ_POLLIN}};
        ck_assert_int_gt(zmq_poll(it, 2, 5000), 0);
        for (int s = 0; s < 2; s++) {
            if (!(it[s].revents & ZMQ_POLLIN))
                continue;
            /* One message may answer several requests: [seq] response, ... */
            char *f[130];
            size_t l[130];
            int n = zmq_stack_recv(s ? d2 : d1, f, l, 130);
            ck_assert_int_ge(n, 2);
            ck_assert_int_eq(n % 2, 0);
            for (int g = 0; g < n; g += 2) {
                uint64_t sender, base, mask;
                ck_assert(group_start(f[g], l[g], &sender, &base, &mask));
                ck_assert_uint_eq(sender, s ? 600 : 500); /* never the other socket's */
                ck_assert_uint_eq(l[g + 1], 0); /* all accepted */
                for (unsigned b = 0; b < 64; b++) {
                    if (!(mask >> b & 1))
                        continue;
                    ck_assert_uint_lt(base + b, 40);
                    bool *got = s ? got2 : got1;
                    ck_assert(!got[base + b]);
                    got[base + b] = true;
                    batched += g > 0 || b > 0 || mask != 1ULL << b;
                }
            }
            for (int i = 0; i < n; i++)
                free(f[i]);
        }
        bool all = true;
        for (int i = 0; i < 40; i++)
            all = all && got1[i] && got2[i];
        if (all)
            break;
    }
    for (int i = 0; i < 40; i++)
        ck_assert(got1[i] && got2[i]);
    fprintf(stderr, "reply_sequences(%u): %d of 80 answers batched\n", threads, batched);

    /* A resend is answered again and counted as a duplicate, on its own
     * endpoint. */
    send_seq(d2, 600, 7, NULL, body, len);
    ck_assert_int_eq(seq_answer(d2, 600, 7, 0, &rej, msg, sizeof msg), 1);
    ck_assert_int_eq(rej, 0);
    ck_assert_uint_eq(seq_metric(&st, "duplicate", ipc2), 1);
    ck_assert_uint_eq(seq_metric(&st, "duplicate", tcp), 0);

    /* Errors keep the number in front. */
    send_seq(d1, 500, 40, "bogus", body, len);
    ck_assert_int_eq(seq_answer(d1, 500, 40, 0, &rej, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "unsupported: unknown encoding", 29) == 0, "%s", msg);
    send_seq(d1, 500, 41, NULL, "\xff\xff", 2);
    ck_assert_int_eq(seq_answer(d1, 500, 41, 0, &rej, msg, sizeof msg), 2);
    ck_assert_msg(strncmp(msg, "malformed: ", 11) == 0, "%s", msg);

    /* REQ: delimiter, then the same. */
    send_seq(req, 700, 0, NULL, body, len);
    ck_assert_int_eq(seq_answer(req, 700, 0, 0, &rej, msg, sizeof msg), 1);

    /* A broken sequence frame (the magic, but 23 bytes) is refused and
     * comes back as sent. */
    uint8_t bad[OB_ZSEQ_FRAME_LEN];
    seq_frame(bad, 500, 42, 0);
    ck_assert_int_ge(zmq_send(d1, bad, sizeof bad - 1, ZMQ_SNDMORE), 0);
    send_frames(d1, NULL, body, len);
    char *f[4];
    size_t l[4];
    ck_assert_int_eq(zmq_stack_recv(d1, f, l, 4), 3);
    ck_assert_uint_eq(l[0], sizeof bad - 1);
    ck_assert_str_eq(f[1], "error");
    ck_assert_msg(strstr(f[2], "sequence frame") != NULL, "%s", f[2]);
    for (int i = 0; i < 3; i++)
        free(f[i]);

    /* END on the reply socket: answered with an empty response. */
    uint64_t ok_before = zmq_stack_selfmetric(&st, OK_REQS);
    send_end(d1, 500, 42);
    ck_assert_int_eq(seq_answer(d1, 500, 42, OB_ZSEQ_FLAG_END, &rej, msg, sizeof msg), 1);
    ck_assert_int_eq(rej, 0);
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), ok_before);
    ck_assert_uint_eq(seq_metric(&st, "lost", tcp), 0);

    free(body);
    zmq_close(d1);
    zmq_close(d2);
    zmq_close(req);
    zmq_ctx_term(ctx);
    ob_zmq_stop(z);
    zmq_stack_stop(&st);
}

/* More windowed clients on one endpoint than a worker holds batches for
 * (4), each with many requests in flight: every number is answered once, to
 * its own client, whatever the batches hold and whenever they go. */
#define STREAMS 6
#define IN_FLIGHT 100

static void reply_many_streams(unsigned threads)
{
    struct zmq_stack st;
    zmq_stack_start(&st, threads, 0);
    void *ctx = zmq_ctx_new();
    void *d[STREAMS];
    for (int c = 0; c < STREAMS; c++)
        d[c] = open_socket(ctx, ZMQ_DEALER, st.reply);
    size_t len;
    void *body = counter_body("m", 1, base_ns(), &len);
    for (uint64_t i = 0; i < IN_FLIGHT; i++)
        for (int c = 0; c < STREAMS; c++)
            send_seq(d[c], 900 + (uint64_t)c, i, NULL, body, len);
    static bool got[STREAMS][IN_FLIGHT];
    memset(got, 0, sizeof got);
    int answered = 0;
    while (answered < STREAMS * IN_FLIGHT) {
        zmq_pollitem_t it[STREAMS];
        for (int c = 0; c < STREAMS; c++)
            it[c] = (zmq_pollitem_t){.socket = d[c], .events = ZMQ_POLLIN};
        ck_assert_int_gt(zmq_poll(it, STREAMS, 5000), 0);
        for (int c = 0; c < STREAMS; c++) {
            if (!(it[c].revents & ZMQ_POLLIN))
                continue;
            char *f[130];
            size_t l[130];
            int n = zmq_stack_recv(d[c], f, l, 130);
            ck_assert_int_ge(n, 2);
            ck_assert_int_eq(n % 2, 0);
            for (int g = 0; g < n; g += 2) {
                uint64_t sender, base, mask;
                ck_assert(group_start(f[g], l[g], &sender, &base, &mask));
                ck_assert_uint_eq(sender, 900 + (uint64_t)c);
                ck_assert_uint_eq(l[g + 1], 0);
                for (unsigned b = 0; b < 64; b++) {
                    if (!(mask >> b & 1))
                        continue;
                    ck_assert_uint_lt(base + b, IN_FLIGHT);
                    ck_assert(!got[c][base + b]);
                    got[c][base + b] = true;
                    answered++;
                }
            }
            for (int i = 0; i < n; i++)
                free(f[i]);
        }
    }
    ck_assert_uint_eq(zmq_stack_selfmetric(&st, OK_REQS), STREAMS * IN_FLIGHT);
    free(body);
    for (int c = 0; c < STREAMS; c++)
        zmq_close(d[c]);
    zmq_ctx_term(ctx);
    zmq_stack_stop(&st);
}

START_TEST(reply_many_streams_one_worker)
{
    reply_many_streams(1);
}
END_TEST

START_TEST(reply_many_streams_worker_pool)
{
    reply_many_streams(2);
}
END_TEST

START_TEST(reply_sequences_one_worker)
{
    reply_sequences(1);
}
END_TEST

START_TEST(reply_sequences_worker_pool)
{
    reply_sequences(2);
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
    tcase_add_test(tc, pull_sequences_one_worker);
    tcase_add_test(tc, pull_sequences_worker_pool);
    tcase_add_test(tc, reply_sequences_one_worker);
    tcase_add_test(tc, reply_sequences_worker_pool);
    tcase_add_test(tc, reply_many_streams_one_worker);
    tcase_add_test(tc, reply_many_streams_worker_pool);
    tcase_add_test(tc, bind_errors_and_prompt_stop);
    suite_add_tcase(s, tc);
    return s;
}
