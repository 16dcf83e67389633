/* test_grpc.c: the gRPC frontend over real loopback sockets, driven by
 * nghttp2's client API: framing (a message over many DATA frames, several
 * messages, zero-length, truncated), the status of each outcome, gzip, an
 * unknown encoding, the compressed flag without one, deadlines, unknown
 * methods, over-size messages and gzip bombs, a flood of streams, PINGs,
 * clients that stop sending or reading, and the self-metrics they leave.
 * The ingest is real (ingest_fixture.h). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "ingest_fixture.h"
#include "ob_buf.h"
#include "ob_error.h"
#include "ob_grpc.h"
#include "ob_gzip.h"
#include "ob_log.h"
#include "ob_payloads.h"
#include "ob_selfmetrics.h"
#include "ob_time.h"

#define MAX_CALLS 10000

static struct ingest_fixture fx;
static struct ob_grpc *srv;

static void start(const char *const *extra, size_t n_extra, bool with_ingest, size_t max_series)
{
    ob_log_set_level(OB_LOG_ERROR);
    const char *ov[16] = {"grpc.listen=127.0.0.1:0", "grpc.threads=2",
                          "limits.max_body_bytes=64KiB", "grpc.max_concurrent_streams=20"};
    size_t n = 4;
    for (size_t i = 0; i < n_extra && n < OB_ARRAY_LEN(ov); i++)
        ov[n++] = extra[i];
    ingest_fixture_open(&fx, "grpc", max_series, ov, n);
    ob_sm_reset();
    char err[OB_ERR_LEN];
    struct ob_grpc_deps deps = {.ingest = with_ingest ? fx.ingest : NULL, .cfg = fx.cfg};
    int rc = ob_grpc_start(&deps, &srv, err);
    ck_assert_msg(rc == 0, "start: %s", err);
    ck_assert_uint_ne(ob_grpc_port(srv), 0);
}

static void setup(void)
{
    start(NULL, 0, true, 1000);
}

static void teardown(void)
{
    ob_grpc_stop(srv);
    srv = NULL;
    ingest_fixture_close(&fx);
}

/* ---- a small blocking client on nghttp2 ------------------------------------ */

struct call {
    int32_t id;
    struct ob_buf body;  /* what is sent: prefix(es) and message(s), as given */
    size_t off, chunk;   /* DATA frames of at most chunk bytes (0: any) */
    bool end;            /* END_STREAM after the body (false: the call stays open) */
    int http_status, grpc_status;
    char grpc_message[512], accept_encoding[64];
    struct ob_buf data;  /* response DATA */
    uint32_t rst;        /* RST_STREAM error code; closed without one: 0 */
    bool closed;
};

struct client {
    int fd;
    nghttp2_session *s;
    struct call *calls;
    size_t n_calls;
    size_t closed;
    bool goaway;
    uint32_t goaway_error;
    int ping_acks;
};

static struct call *call_of(struct client *cl, int32_t id)
{
    for (size_t i = 0; i < cl->n_calls; i++)
        if (cl->calls[i].id == id)
            return &cl->calls[i];
    return NULL;
}

static ssize_t cl_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *u)
{
    OB_UNUSED(s);
    OB_UNUSED(flags);
    struct client *cl = u;
    ssize_t w = send(cl->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return NGHTTP2_ERR_WOULDBLOCK;
    return w < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : w;
}

static int cl_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *u)
{
    OB_UNUSED(s);
    OB_UNUSED(flags);
    struct call *c = call_of(u, f->hd.stream_id);
    if (!c)
        return 0;
    char v[512];
    snprintf(v, sizeof v, "%.*s", (int)valuelen, (const char *)value);
    if (namelen == 7 && !memcmp(name, ":status", 7))
        c->http_status = atoi(v);
    else if (namelen == 11 && !memcmp(name, "grpc-status", 11))
        c->grpc_status = atoi(v);
    else if (namelen == 12 && !memcmp(name, "grpc-message", 12))
        snprintf(c->grpc_message, sizeof c->grpc_message, "%.511s", v);
    else if (namelen == 20 && !memcmp(name, "grpc-accept-encoding", 20))
        snprintf(c->accept_encoding, sizeof c->accept_encoding, "%.63s", v);
    return 0;
}

static int cl_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *u)
{
    OB_UNUSED(s);
    OB_UNUSED(flags);
    struct call *c = call_of(u, id);
    if (c)
        ob_buf_append(&c->data, data, len);
    return 0;
}

static int cl_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *u)
{
    OB_UNUSED(s);
    struct client *cl = u;
    struct call *c = call_of(cl, id);
    if (c && !c->closed) {
        c->closed = true;
        c->rst = error_code;
        cl->closed++;
    }
    return 0;
}

static int cl_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *u)
{
    OB_UNUSED(s);
    struct client *cl = u;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
        cl->ping_acks++;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        cl->goaway = true;
        cl->goaway_error = f->goaway.error_code;
    }
    return 0;
}

static ssize_t cl_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *u)
{
    OB_UNUSED(s);
    OB_UNUSED(id);
    OB_UNUSED(u);
    struct call *c = src->ptr;
    size_t n = OB_MIN(len, c->body.len - c->off);
    if (c->chunk)
        n = OB_MIN(n, c->chunk);
    if (n)
        memcpy(buf, c->body.data + c->off, n);
    c->off += n;
    if (c->off == c->body.len) {
        if (c->end)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        else if (n == 0)
            return NGHTTP2_ERR_DEFERRED; /* keep the call open */
    }
    return (ssize_t)n;
}

/* SO_RCVBUF of the next cl_open() (0: the default): a small one makes a
 * client that does not read fill the server's socket soon. */
static int next_rcvbuf;

static void cl_open(struct client *cl, uint32_t assume_max_streams)
{
    *cl = (struct client){0};
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(cl->fd, 0);
    if (next_rcvbuf)
        setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &next_rcvbuf, sizeof next_rcvbuf);
    next_rcvbuf = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ob_grpc_port(srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, cl_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, cl_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cl_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cl_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cl_frame_recv);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    /* A client that floods does not wait for the server's SETTINGS. */
    if (assume_max_streams)
        nghttp2_option_set_peer_max_concurrent_streams(opt, assume_max_streams);
    ck_assert_int_eq(nghttp2_session_client_new2(&cl->s, cbs, cl, opt), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    ck_assert_int_eq(nghttp2_submit_settings(cl->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    cl->calls = calloc(MAX_CALLS, sizeof *cl->calls);
    ck_assert_ptr_nonnull(cl->calls);
}

static void cl_free(struct client *cl)
{
    nghttp2_session_del(cl->s);
    close(cl->fd);
    for (size_t i = 0; i < cl->n_calls; i++) {
        ob_buf_fini(&cl->calls[i].body);
        ob_buf_fini(&cl->calls[i].data);
    }
    free(cl->calls);
}

struct hdr {
    const char *name, *value;
};

/* Starts a call: extra headers (NULL-terminated, may replace the defaults
 * by naming them: a value of NULL drops one). */
static struct call *cl_call(struct client *cl, const struct hdr *extra, const void *body,
                            size_t len, size_t chunk, bool end)
{
    ck_assert_uint_lt(cl->n_calls, MAX_CALLS);
    struct call *c = &cl->calls[cl->n_calls++];
    ob_buf_append(&c->body, body, len);
    c->chunk = chunk;
    c->end = end;
    c->grpc_status = -1;
    struct hdr def[] = {{":method", "POST"},
                        {":scheme", "http"},
                        {":authority", "127.0.0.1"},
                        {":path", OB_GRPC_EXPORT_PATH},
                        {"content-type", "application/grpc"},
                        {"te", "trailers"}};
    nghttp2_nv nva[16];
    size_t n = 0;
    for (size_t i = 0; i < OB_ARRAY_LEN(def); i++) {
        const char *v = def[i].value;
        for (const struct hdr *e = extra; e && e->name; e++)
            if (!strcmp(e->name, def[i].name))
                v = e->value;
        if (v)
            nva[n++] = (nghttp2_nv){(uint8_t *)def[i].name, (uint8_t *)v, strlen(def[i].name),
                                    strlen(v), NGHTTP2_NV_FLAG_NONE};
    }
    for (const struct hdr *e = extra; e && e->name; e++) {
        bool replaced = false;
        for (size_t i = 0; i < OB_ARRAY_LEN(def); i++)
            replaced |= !strcmp(e->name, def[i].name);
        if (!replaced && e->value)
            nva[n++] = (nghttp2_nv){(uint8_t *)e->name, (uint8_t *)e->value, strlen(e->name),
                                    strlen(e->value), NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_data_provider dp = {.source.ptr = c, .read_callback = cl_read_body};
    c->id = nghttp2_submit_request(cl->s, NULL, nva, n, &dp, NULL);
    ck_assert_int_gt(c->id, 0);
    return c;
}

/* Runs the session until want_closed calls are closed (or the connection
 * ends, or timeout_ms pass).  Returns whether they all closed. */
static bool cl_run(struct client *cl, size_t want_closed, int timeout_ms)
{
    int64_t end = ob_mono_ns() + (int64_t)timeout_ms * 1000000;
    uint8_t buf[16384];
    while (cl->closed < want_closed && ob_mono_ns() < end) {
        int rc = nghttp2_session_send(cl->s);
        if (rc != 0)
            return false;
        struct pollfd p = {.fd = cl->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = recv(cl->fd, buf, sizeof buf, 0);
        if (n <= 0)
            return cl->closed >= want_closed;
        if (nghttp2_session_mem_recv(cl->s, buf, (size_t)n) < 0)
            return false;
    }
    nghttp2_session_send(cl->s);
    return cl->closed >= want_closed;
}

/* A length-prefixed message. */
static void frame(struct ob_buf *out, uint8_t flag, const void *msg, size_t len)
{
    uint8_t p[5] = {flag, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                    (uint8_t)len};
    ob_buf_append(out, p, 5);
    ob_buf_append(out, msg, len);
}

/* Round k of the calculator, k seconds after a start a minute ago: two
 * rounds in the same millisecond would be duplicates. */
static void calculator(struct ob_buf *out, unsigned round)
{
    static int64_t start;
    if (!start)
        start = (ob_now_ns() / 1000000 - 60000) * 1000000;
    int64_t ts = start + (int64_t)round * 1000000000;
    ck_assert_int_eq(ob_payload_calculator(out, start, ts, round), 0);
}

/* One call on a fresh connection; the caller frees cl. */
static struct call *one_call(struct client *cl, const struct hdr *extra, const struct ob_buf *b,
                             size_t chunk)
{
    cl_open(cl, 0);
    struct call *c = cl_call(cl, extra, b->data ? b->data : "", b->len, chunk, true);
    ck_assert_msg(cl_run(cl, 1, 10000), "call did not complete");
    return c;
}

static struct call *status_of(struct client *cl, const struct hdr *extra, uint8_t flag,
                              const struct ob_buf *msg)
{
    struct ob_buf b;
    ob_buf_init(&b);
    frame(&b, flag, msg->data ? msg->data : "", msg->len);
    struct call *c = one_call(cl, extra, &b, 0);
    ob_buf_fini(&b);
    return c;
}

static void assert_ok_empty_response(const struct call *c)
{
    ck_assert_int_eq(c->http_status, 200);
    ck_assert_msg(c->grpc_status == 0, "grpc-status %d: %s", c->grpc_status, c->grpc_message);
    /* An all-accepted ExportMetricsServiceResponse is empty: the prefix alone. */
    ck_assert_msg(c->data.len == 5, "response of %zu bytes: %.*s", c->data.len,
                  (int)c->data.len, c->data.data);
    ck_assert_mem_eq(c->data.data, "\0\0\0\0\0", 5);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(export_ok)
{
    struct ob_buf m;
    ob_buf_init(&m);
    calculator(&m, 1);
    struct client cl;
    assert_ok_empty_response(status_of(&cl, NULL, 0, &m));
    cl_free(&cl);
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_data_points_received_total{frontend=\"grpc\"} 4\n"));
    /* The message's bytes, without the prefix and HTTP/2 framing. */
    char line[96];
    snprintf(line, sizeof line, "otlp_broker_received_bytes_total{frontend=\"grpc\"} %zu\n",
             m.len);
    ck_assert_msg(selfmetrics_have(line), "missing %s", line);
    /* application/grpc+proto is the same thing. */
    ob_buf_fini(&m);
    ob_buf_init(&m);
    calculator(&m, 2);
    struct hdr proto[] = {{"content-type", "application/grpc+proto"}, {NULL, NULL}};
    assert_ok_empty_response(status_of(&cl, proto, 0, &m));
    cl_free(&cl);
    ob_buf_fini(&m);
}
END_TEST

START_TEST(message_split_across_data_frames)
{
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    frame(&b, 0, m.data, m.len);
    struct client cl;
    /* 3 bytes per DATA frame: the prefix itself is split too. */
    assert_ok_empty_response(one_call(&cl, NULL, &b, 3));
    cl_free(&cl);
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(zero_length_message)
{
    struct ob_buf m;
    ob_buf_init(&m);
    struct client cl;
    assert_ok_empty_response(status_of(&cl, NULL, 0, &m));
    cl_free(&cl);
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 1\n"));
}
END_TEST

START_TEST(framing_errors)
{
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    struct client cl;
    /* Two messages in a unary call. */
    frame(&b, 0, m.data, m.len);
    frame(&b, 0, m.data, m.len);
    struct call *c = one_call(&cl, NULL, &b, 0);
    ck_assert_int_eq(c->grpc_status, 3);
    ck_assert_ptr_nonnull(strstr(c->grpc_message, "more than one"));
    cl_free(&cl);
    /* No message at all. */
    b.len = 0;
    c = one_call(&cl, NULL, &b, 0);
    ck_assert_int_eq(c->grpc_status, 3);
    cl_free(&cl);
    /* A length longer than the data. */
    frame(&b, 0, m.data, m.len);
    b.data[4] = (char)(b.data[4] + 10);
    c = one_call(&cl, NULL, &b, 0);
    ck_assert_int_eq(c->grpc_status, 3);
    ck_assert_ptr_nonnull(strstr(c->grpc_message, "ends after"));
    cl_free(&cl);
    /* Half a prefix. */
    b.len = 3;
    c = one_call(&cl, NULL, &b, 0);
    ck_assert_int_eq(c->grpc_status, 3);
    cl_free(&cl);
    /* The compressed flag without a grpc-encoding. */
    c = status_of(&cl, NULL, 1, &m);
    ck_assert_int_eq(c->grpc_status, 3);
    ck_assert_ptr_nonnull(strstr(c->grpc_message, "compressed flag"));
    cl_free(&cl);
    /* A body that does not decode. */
    struct ob_buf junk = {.data = "\xff\xff\xff", .len = 3};
    c = status_of(&cl, NULL, 0, &junk);
    ck_assert_int_eq(c->http_status, 200);
    ck_assert_int_eq(c->grpc_status, 3);
    ck_assert_uint_eq(c->data.len, 0); /* trailers-only */
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"malformed\"} 6\n"));
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(gzip_and_encodings)
{
    struct ob_buf m, z;
    ob_buf_init(&m);
    ob_buf_init(&z);
    calculator(&m, 1);
    ck_assert_int_eq(ob_gzip(m.data, m.len, 6, &z), 0);
    struct client cl;
    struct hdr gz[] = {{"grpc-encoding", "gzip"}, {NULL, NULL}};
    assert_ok_empty_response(status_of(&cl, gz, 1, &z));
    cl_free(&cl);
    /* gzip announced, this message sent plain (flag 0): taken as it is. */
    ob_buf_fini(&m);
    ob_buf_init(&m);
    calculator(&m, 2);
    assert_ok_empty_response(status_of(&cl, gz, 0, &m));
    cl_free(&cl);
    struct hdr id[] = {{"grpc-encoding", "identity"}, {NULL, NULL}};
    m.len = 0;
    calculator(&m, 3);
    assert_ok_empty_response(status_of(&cl, id, 0, &m));
    cl_free(&cl);
    /* Unknown: UNIMPLEMENTED, naming what we take. */
    struct hdr br[] = {{"grpc-encoding", "br"}, {NULL, NULL}};
    struct call *c = status_of(&cl, br, 1, &m);
    ck_assert_int_eq(c->grpc_status, 12);
    ck_assert_str_eq(c->accept_encoding, "gzip,identity");
    cl_free(&cl);
    /* Compressed flag, gzip announced, not gzip inside. */
    c = status_of(&cl, gz, 1, &m);
    ck_assert_int_eq(c->grpc_status, 3);
    cl_free(&cl);
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 3\n"));
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"unsupported\"} 1\n"));
    ob_buf_fini(&m);
    ob_buf_fini(&z);
}
END_TEST

START_TEST(over_the_limit)
{
    /* A message length over limits.max_body_bytes (64 KiB): refused at its
     * prefix, and the client told to stop sending. */
    struct ob_buf big, z;
    ob_buf_init(&big);
    ob_buf_init(&z);
    ck_assert(ob_buf_reserve(&big, 200000));
    memset(big.data, 0, 200000);
    big.len = 200000;
    struct client cl;
    struct call *c = status_of(&cl, NULL, 0, &big);
    ck_assert_int_eq(c->grpc_status, 8);
    ck_assert_ptr_nonnull(strstr(c->grpc_message, "limits.max_body_bytes"));
    cl_free(&cl);
    /* A gzip bomb: 200 KB of zeros in a few hundred bytes. */
    ck_assert_int_eq(ob_gzip(big.data, big.len, 9, &z), 0);
    ck_assert_uint_lt(z.len, 1024);
    struct hdr gz[] = {{"grpc-encoding", "gzip"}, {NULL, NULL}};
    c = status_of(&cl, gz, 1, &z);
    ck_assert_int_eq(c->grpc_status, 8);
    ck_assert_ptr_nonnull(strstr(c->grpc_message, "inflates"));
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"too_large\"} 2\n"));
    ob_buf_fini(&big);
    ob_buf_fini(&z);
}
END_TEST

START_TEST(deadlines)
{
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    struct client cl;
    /* Passed when the call arrives. */
    struct hdr gone[] = {{"grpc-timeout", "1n"}, {NULL, NULL}};
    struct call *c = status_of(&cl, gone, 0, &m);
    ck_assert_int_eq(c->grpc_status, 4);
    cl_free(&cl);
    /* Expires while the message is still coming. */
    struct hdr soon[] = {{"grpc-timeout", "100m"}, {NULL, NULL}};
    frame(&b, 0, m.data, m.len);
    cl_open(&cl, 0);
    int64_t t0 = ob_mono_ns();
    c = cl_call(&cl, soon, b.data, 20, 0, false);
    ck_assert(cl_run(&cl, 1, 5000));
    int64_t took_ms = (ob_mono_ns() - t0) / 1000000;
    ck_assert_int_eq(c->grpc_status, 4);
    ck_assert_int_ge(took_ms, 90);
    ck_assert_int_lt(took_ms, 2000);
    cl_free(&cl);
    /* A generous one is no obstacle; a malformed one is refused. */
    struct hdr later[] = {{"grpc-timeout", "10S"}, {NULL, NULL}};
    assert_ok_empty_response(one_call(&cl, later, &b, 0));
    cl_free(&cl);
    struct hdr bad[] = {{"grpc-timeout", "soon"}, {NULL, NULL}};
    c = status_of(&cl, bad, 0, &m);
    ck_assert_int_eq(c->grpc_status, 3);
    cl_free(&cl);
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(unknown_methods_and_content_types)
{
    struct ob_buf m;
    ob_buf_init(&m);
    calculator(&m, 1);
    struct client cl;
    struct hdr other[] = {
        {":path", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"}, {NULL, NULL}};
    struct call *c = status_of(&cl, other, 0, &m);
    ck_assert_int_eq(c->http_status, 200);
    ck_assert_int_eq(c->grpc_status, 12);
    cl_free(&cl);
    struct hdr method[] = {
        {":path", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Other"},
        {NULL, NULL}};
    c = status_of(&cl, method, 0, &m);
    ck_assert_int_eq(c->grpc_status, 12);
    cl_free(&cl);
    struct hdr json[] = {{"content-type", "application/json"}, {NULL, NULL}};
    c = status_of(&cl, json, 0, &m);
    ck_assert_int_eq(c->http_status, 415);
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"unsupported\"} 3\n"));
    ob_buf_fini(&m);
}
END_TEST

START_TEST(concurrent_streams_one_connection)
{
    /* 20 calls at once (the limit), each its own message, all answered. */
    struct client cl;
    cl_open(&cl, 0);
    struct ob_buf b[20];
    for (int i = 0; i < 20; i++) {
        struct ob_buf m;
        ob_buf_init(&m);
        ob_buf_init(&b[i]);
        ck_assert_int_eq(ob_payload_fill(&m, (uint32_t)i * 10, 10, ob_now_ns()), 0);
        frame(&b[i], 0, m.data, m.len);
        cl_call(&cl, NULL, b[i].data, b[i].len, 100, true);
        ob_buf_fini(&m);
    }
    ck_assert(cl_run(&cl, 20, 10000));
    for (int i = 0; i < 20; i++) {
        assert_ok_empty_response(&cl.calls[i]);
        ob_buf_fini(&b[i]);
    }
    cl_free(&cl);
    ck_assert(
        selfmetrics_have("otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 20\n"));
    ck_assert(selfmetrics_have("otlp_broker_data_points_received_total{frontend=\"grpc\"} 200\n"));
}
END_TEST

START_TEST(stream_flood_refused)
{
    /* 10,000 streams opened at once, without waiting for the SETTINGS that
     * say 20: the ones over the limit are refused (or the connection ends
     * with GOAWAY), and the server keeps serving other connections. */
    struct client flood;
    cl_open(&flood, 100000);
    for (int i = 0; i < MAX_CALLS; i++)
        cl_call(&flood, NULL, "", 0, 0, false);
    cl_run(&flood, MAX_CALLS - 20, 5000);
    size_t refused = 0;
    for (size_t i = 0; i < flood.n_calls; i++)
        refused += flood.calls[i].closed && flood.calls[i].rst == NGHTTP2_REFUSED_STREAM;
    ck_assert_msg(refused >= 1000 || flood.goaway, "refused %zu, goaway %d", refused,
                  flood.goaway);
    struct ob_buf m;
    ob_buf_init(&m);
    calculator(&m, 1);
    struct client cl;
    assert_ok_empty_response(status_of(&cl, NULL, 0, &m));
    cl_free(&cl);
    cl_free(&flood);
    char line[128];
    snprintf(line, sizeof line, "otlp_broker_grpc_streams_reset_total{reason=\"refused\"} %zu\n",
             refused);
    ck_assert_msg(selfmetrics_have(line) || flood.goaway, "no %s", line);
    ob_buf_fini(&m);
}
END_TEST

START_TEST(broken_http2)
{
    /* Not HTTP/2 at all (an HTTP/1.1 request): the connection is closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ob_grpc_port(srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "POST / HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)sizeof req - 1);
    char buf[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 5000), 1);
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    ck_assert_int_eq(n, 0);
    close(fd);
    /* A valid preface, then a frame of an undefined-length SETTINGS: GOAWAY. */
    struct client cl;
    cl_open(&cl, 0);
    ck_assert_int_eq(nghttp2_session_send(cl.s), 0);
    const uint8_t bad[] = {0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5};
    ck_assert_int_eq(send(cl.fd, bad, sizeof bad, 0), (ssize_t)sizeof bad);
    cl_run(&cl, 1, 2000);
    ck_assert(cl.goaway);
    ck_assert_uint_ne(cl.goaway_error, 0);
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_grpc_connections_closed_total{reason=\"protocol_error\"} 2\n"));
    /* Still serving. */
    struct ob_buf m;
    ob_buf_init(&m);
    calculator(&m, 1);
    assert_ok_empty_response(status_of(&cl, NULL, 0, &m));
    cl_free(&cl);
    ob_buf_fini(&m);
}
END_TEST

/* selfmetrics_have() without the dump when it is not there (yet). */
static bool selfmetrics_quiet(const char *line)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_selfmetrics_render(NULL, &b);
    ob_buf_putc(&b, '\0');
    bool found = strstr(b.data, line) != NULL;
    ob_buf_fini(&b);
    return found;
}

START_TEST(ping_answered)
{
    /* Keepalive PINGs (gRPC clients send them) are answered by nghttp2. */
    struct client cl;
    cl_open(&cl, 0);
    uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_int_eq(nghttp2_submit_ping(cl.s, NGHTTP2_FLAG_NONE, opaque), 0);
    cl_run(&cl, 1, 500); /* no calls: runs until the timeout */
    ck_assert_int_eq(cl.ping_acks, 1);
    cl_free(&cl);
}
END_TEST

START_TEST(slow_clients_do_not_stall_others)
{
    /* One client sends half a call and stops; another sends calls and never
     * reads the answers.  Fresh connections are served all the while. */
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    frame(&b, 0, m.data, m.len);
    struct client slow, deaf;
    cl_open(&slow, 0);
    cl_call(&slow, NULL, b.data, b.len / 2, 0, false);
    cl_run(&slow, 1, 100);
    next_rcvbuf = 4096;
    cl_open(&deaf, 0);
    for (int i = 0; i < 20; i++)
        cl_call(&deaf, NULL, "\0\0\0\0\0", 5, 0, true);
    ck_assert_int_eq(nghttp2_session_send(deaf.s), 0); /* and never reads */
    /* 500,000 PINGs (8.5 MB) whose ACKs it does not read either: past what
     * the sockets buffer, the server's queue reaches nghttp2's flood limit
     * and it ends that connection instead of buffering without end. */
    static uint8_t pings[1000 * 17];
    for (int i = 0; i < 1000; i++)
        memcpy(pings + 17 * i, (uint8_t[9]){0, 0, 8, NGHTTP2_PING}, 9);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(deaf.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (int i = 0; i < 500; i++)
        if (send(deaf.fd, pings, sizeof pings, MSG_NOSIGNAL) != sizeof pings)
            break;
    for (unsigned r = 2; r < 6; r++) {
        struct ob_buf mr;
        ob_buf_init(&mr);
        calculator(&mr, r);
        struct client cl;
        int64_t t0 = ob_mono_ns();
        assert_ok_empty_response(status_of(&cl, NULL, 0, &mr));
        ck_assert_int_lt((ob_mono_ns() - t0) / 1000000, 1000);
        cl_free(&cl);
        ob_buf_fini(&mr);
    }
    /* The flood ended that connection, counted; the slow one is still open. */
    const char *closed =
        "otlp_broker_grpc_connections_closed_total{reason=\"protocol_error\"} 1\n";
    for (int i = 0; i < 100 && !selfmetrics_quiet(closed); i++)
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    ck_assert(selfmetrics_have(closed));
    cl_free(&slow);
    cl_free(&deaf);
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

/* ---- servers set up differently ------------------------------------------- */

START_TEST(not_ready_is_unavailable)
{
    teardown();
    start(NULL, 0, false, 1000);
    struct ob_buf m;
    ob_buf_init(&m);
    calculator(&m, 1);
    struct client cl;
    struct call *c = status_of(&cl, NULL, 0, &m);
    ck_assert_int_eq(c->grpc_status, 14);
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"overloaded\"} 1\n"));
    ob_buf_fini(&m);
}
END_TEST

START_TEST(store_full_and_partial)
{
    teardown();
    start(NULL, 0, true, 10);
    struct ob_buf m;
    ob_buf_init(&m);
    int64_t ts = ob_now_ns();
    /* 15 new series, room for 10: partial_success, status OK. */
    ck_assert_int_eq(ob_payload_fill(&m, 0, 15, ts), 0);
    struct client cl;
    struct call *c = status_of(&cl, NULL, 0, &m);
    ck_assert_int_eq(c->grpc_status, 0);
    ck_assert_uint_gt(c->data.len, 5); /* partial_success in the response */
    cl_free(&cl);
    /* Only new series, no room for any: RESOURCE_EXHAUSTED. */
    m.len = 0;
    ck_assert_int_eq(ob_payload_fill(&m, 100, 5, ts), 0);
    c = status_of(&cl, NULL, 0, &m);
    ck_assert_int_eq(c->grpc_status, 8);
    cl_free(&cl);
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"partial\"} 2\n"));
    ob_buf_fini(&m);
}
END_TEST

START_TEST(connection_memory_bounded)
{
    teardown();
    const char *ov[] = {"grpc.connection_memory=64KiB"};
    start(ov, 1, true, 1000);
    /* Two calls of 40 KB each still coming: the second does not fit. */
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert(ob_buf_reserve(&b, 40005));
    memset(b.data, 0, 40005);
    b.len = 40005;
    b.data[2] = (char)(40000 >> 8 >> 8);
    b.data[3] = (char)((40000 >> 8) & 0xff);
    b.data[4] = (char)(40000 & 0xff);
    struct client cl;
    cl_open(&cl, 0);
    cl_call(&cl, NULL, b.data, 30000, 0, false);
    struct call *c2 = cl_call(&cl, NULL, b.data, 30000, 0, false);
    ck_assert(cl_run(&cl, 1, 5000));
    ck_assert_int_eq(c2->grpc_status, 8);
    ck_assert_ptr_nonnull(strstr(c2->grpc_message, "grpc.connection_memory"));
    cl_free(&cl);
    ob_buf_fini(&b);
}
END_TEST

START_TEST(idle_connection_closed)
{
    teardown();
    const char *ov[] = {"grpc.idle_timeout=1s"};
    start(ov, 1, true, 1000);
    struct client cl;
    cl_open(&cl, 0);
    int64_t t0 = ob_mono_ns();
    cl_run(&cl, 1, 4000); /* no calls: returns when the server closes */
    ck_assert(cl.goaway);
    ck_assert_uint_eq(cl.goaway_error, NGHTTP2_NO_ERROR);
    ck_assert_int_lt((ob_mono_ns() - t0) / 1000000, 3500);
    cl_free(&cl);
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections_closed_total{reason=\"idle\"} 1\n"));
}
END_TEST

START_TEST(header_list_over_the_limit)
{
    teardown();
    const char *ov[] = {"grpc.max_header_list=1KiB"};
    start(ov, 1, true, 1000);
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    frame(&b, 0, m.data, m.len);
    static char big[2000];
    memset(big, 'x', sizeof big - 1);
    struct hdr extra[] = {{"x-big", big}, {NULL, NULL}};
    struct client cl;
    cl_open(&cl, 0);
    struct call *c = cl_call(&cl, extra, b.data, b.len, 0, true);
    ck_assert(cl_run(&cl, 1, 10000));
    ck_assert_uint_eq(c->rst, NGHTTP2_INTERNAL_ERROR);
    ck_assert_int_eq(c->grpc_status, -1);
    /* The connection goes on: the next call on it is served. */
    struct call *c2 = cl_call(&cl, NULL, b.data, b.len, 0, true);
    ck_assert(cl_run(&cl, 2, 10000));
    assert_ok_empty_response(c2);
    cl_free(&cl);
    ck_assert(selfmetrics_have("otlp_broker_grpc_streams_reset_total{reason=\"header_list\"} 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_grpc_streams_reset_total{reason=\"error\"} 0\n"));
    ck_assert(selfmetrics_have(
        "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"too_large\"} 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 1\n"));
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

/* Whether the server closed the client's connection within timeout_ms. */
static bool closed_by_server(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    char buf[256];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    return n == 0 || errno == ECONNRESET || errno == EPIPE;
}

START_TEST(max_connections)
{
    teardown();
    const char *ov[] = {"grpc.max_connections=2"};
    start(ov, 1, true, 1000);
    struct ob_buf m, b;
    ob_buf_init(&m);
    ob_buf_init(&b);
    calculator(&m, 1);
    frame(&b, 0, m.data, m.len);
    /* Two connections, each with a call served: both accepted. */
    struct client cl[2];
    for (int i = 0; i < 2; i++) {
        cl_open(&cl[i], 0);
        struct call *c = cl_call(&cl[i], NULL, b.data, b.len, 0, true);
        ck_assert(cl_run(&cl[i], 1, 10000));
        assert_ok_empty_response(c);
    }
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections 2\n"));
    /* A third is closed as it is accepted, and counted. */
    struct client third;
    cl_open(&third, 0);
    /* The preface may already meet a closed socket (send fails): either way
     * the server must not keep the connection. */
    int sent = nghttp2_session_send(third.s);
    ck_assert(sent != 0 || closed_by_server(third.fd, 5000));
    cl_free(&third);
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections_refused_total 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections 2\n"));
    /* The first two are still served. */
    struct call *c = cl_call(&cl[1], NULL, b.data, b.len, 0, true);
    ck_assert(cl_run(&cl[1], 2, 10000));
    assert_ok_empty_response(c);
    /* One closes: its place is free again once the server has seen it go. */
    cl_free(&cl[0]);
    for (int i = 0; i < 200 && !selfmetrics_quiet("otlp_broker_grpc_connections 1\n"); i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections 1\n"));
    struct client again;
    cl_open(&again, 0);
    c = cl_call(&again, NULL, b.data, b.len, 0, true);
    ck_assert(cl_run(&again, 1, 10000));
    assert_ok_empty_response(c);
    cl_free(&again);
    cl_free(&cl[1]);
    ck_assert(selfmetrics_have("otlp_broker_grpc_connections_refused_total 1\n"));
    ob_buf_fini(&m);
    ob_buf_fini(&b);
}
END_TEST

Suite *grpc_suite(void);
Suite *grpc_suite(void)
{
    Suite *s = suite_create("grpc");
    TCase *tc = tcase_create("grpc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, export_ok);
    tcase_add_test(tc, message_split_across_data_frames);
    tcase_add_test(tc, zero_length_message);
    tcase_add_test(tc, framing_errors);
    tcase_add_test(tc, gzip_and_encodings);
    tcase_add_test(tc, over_the_limit);
    tcase_add_test(tc, deadlines);
    tcase_add_test(tc, unknown_methods_and_content_types);
    tcase_add_test(tc, concurrent_streams_one_connection);
    tcase_add_test(tc, stream_flood_refused);
    tcase_add_test(tc, broken_http2);
    tcase_add_test(tc, ping_answered);
    tcase_add_test(tc, slow_clients_do_not_stall_others);
    tcase_add_test(tc, not_ready_is_unavailable);
    tcase_add_test(tc, store_full_and_partial);
    tcase_add_test(tc, connection_memory_bounded);
    tcase_add_test(tc, idle_connection_closed);
    tcase_add_test(tc, header_list_over_the_limit);
    tcase_add_test(tc, max_connections);
    suite_add_tcase(s, tc);
    return s;
}
