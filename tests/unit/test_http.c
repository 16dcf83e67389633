/* test_http.c: the HTTP frontend over real sockets, without an ingest core
 * or a store (deps->ingest and deps->store NULL): routing, status codes,
 * header checks, body limits (Content-Length, chunked, gzip bomb),
 * keep-alive, /-/ready, and /metrics with the self-metrics alone.  What
 * happens to a body that passes every check is the integration tests' job;
 * here it reaches the ingest step and gets 503 "not ready". */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_http.h"
#include "ob_log.h"
#include "ob_selfmetrics.h"

static struct ob_config *cfg;
static struct ob_http *srv;
static _Atomic bool ready;

static void setup(void)
{
    ob_log_set_level(OB_LOG_ERROR);
    ob_sm_reset(); /* counts are checked; CK_FORK=no shares the process */
    char err[OB_ERR_LEN];
    const char *ov[] = {"http.listen=127.0.0.1:0", "http.threads=2",
                        "limits.max_body_bytes=64KiB"};
    ck_assert_int_eq(ob_config_load(NULL, ov, 3, &cfg, err), 0);
    atomic_store(&ready, false);
    struct ob_http_deps deps = {.cfg = cfg, .ready = &ready};
    int rc = ob_http_start(&deps, &srv, err);
    ck_assert_msg(rc == 0, "start: %s", err);
    ck_assert_uint_ne(ob_http_port(srv), 0);
}

static void teardown(void)
{
    ob_http_stop(srv);
    ob_config_destroy(cfg);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ob_http_port(srv)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

struct resp {
    int status;
    char headers[2048]; /* lower-cased */
    struct ob_buf body;
};

/* Reads one response (Content-Length framed: MHD sets it for buffers). */
static void read_resp(int fd, struct resp *r)
{
    char buf[8192];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        ck_assert_uint_lt(have, sizeof buf - 1);
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        ck_assert_msg(n > 0, "recv: %zd %s", n, strerror(errno));
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
    size_t hl = OB_MIN(head_len, sizeof r->headers - 1);
    for (size_t i = 0; i < hl; i++)
        r->headers[i] = (char)((buf[i] >= 'A' && buf[i] <= 'Z') ? buf[i] + 32 : buf[i]);
    r->headers[hl] = '\0';
    const char *cl = strstr(r->headers, "\r\ncontent-length:");
    ck_assert_ptr_nonnull(cl);
    size_t want = strtoul(cl + 17, NULL, 10);
    ob_buf_init(&r->body);
    ob_buf_append(&r->body, buf + head_len, have - head_len);
    while (r->body.len < want) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        ck_assert_msg(n > 0, "recv body: %zd", n);
        ob_buf_append(&r->body, buf, (size_t)n);
    }
    ck_assert_uint_eq(r->body.len, want);
    ob_buf_putc(&r->body, '\0');
    r->body.len--;
}

static struct resp roundtrip(int fd, const char *req)
{
    struct resp r;
    send_all(fd, req, strlen(req));
    read_resp(fd, &r);
    return r;
}

static struct resp request(const char *req)
{
    int fd = dial();
    struct resp r = roundtrip(fd, req);
    close(fd);
    return r;
}

/* POSTs body to /v1/metrics with extra header lines, chunked or not. */
static void post(int fd, const char *headers, const void *body, size_t len, bool chunked)
{
    char head[512];
    if (chunked)
        snprintf(head, sizeof head,
                 "POST /v1/metrics HTTP/1.1\r\nHost: t\r\n%sTransfer-Encoding: chunked\r\n\r\n",
                 headers);
    else
        snprintf(head, sizeof head,
                 "POST /v1/metrics HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n",
                 headers, len);
    send_all(fd, head, strlen(head));
    if (!chunked) {
        send_all(fd, body, len);
        return;
    }
    const char *p = body;
    for (size_t off = 0; off < len; off += 1000) {
        size_t n = OB_MIN(len - off, 1000);
        char sz[16];
        snprintf(sz, sizeof sz, "%zx\r\n", n);
        send_all(fd, sz, strlen(sz));
        send_all(fd, p + off, n);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
}

#define PB "Content-Type: application/x-protobuf\r\n"

START_TEST(health_and_ready)
{
    struct resp r = request("GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "OK\n");
    ob_buf_fini(&r.body);
    r = request("GET /-/ready HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 503);
    ob_buf_fini(&r.body);
    atomic_store(&ready, true);
    r = request("GET /-/ready HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ob_buf_fini(&r.body);
}
END_TEST

START_TEST(not_found_and_method)
{
    struct resp r = request("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 404);
    ob_buf_fini(&r.body);
    r = request("GET /v1/metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 405);
    ck_assert(strstr(r.headers, "\r\nallow: post\r\n"));
    ob_buf_fini(&r.body);
    r = request("DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 405);
    ck_assert(strstr(r.headers, "\r\nallow: get, head\r\n"));
    ob_buf_fini(&r.body);
}
END_TEST

START_TEST(unsupported_media)
{
    static const char *const reqs[] = {
        "POST /v1/metrics HTTP/1.1\r\nHost: t\r\nContent-Type: application/xml\r\n"
        "Content-Length: 2\r\n\r\n<>",
        "POST /v1/metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxx",
        "POST /api/v1/otlp/v1/metrics HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        "Content-Length: 2\r\n\r\nxx",
        "POST /v1/metrics HTTP/1.1\r\nHost: t\r\n" PB "Content-Encoding: br\r\n"
        "Content-Length: 2\r\n\r\nxx",
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(reqs); i++) {
        struct resp r = request(reqs[i]);
        ck_assert_msg(r.status == 415, "request %zu: %d", i, r.status);
        ck_assert(strstr(r.body.data, "unsupported content"));
        ob_buf_fini(&r.body);
    }
}
END_TEST

/* Headers that pass: the body reaches the ingest step (503 without one). */
START_TEST(accepted_bodies_reach_ingest)
{
    int fd = dial();
    /* Parameters after the media type, identity encoding, chunked. */
    post(fd, "Content-Type: Application/X-Protobuf; charset=binary\r\n", "abc", 3, false);
    struct resp r;
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body.data, "not ready\n");
    ob_buf_fini(&r.body);
    char body[20000];
    memset(body, 'x', sizeof body);
    post(fd, PB "Content-Encoding: identity\r\n", body, sizeof body, true);
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 503);
    ob_buf_fini(&r.body);
    /* Valid gzip, chunked, on the same connection. */
    struct ob_buf z;
    ob_buf_init(&z);
    ck_assert_int_eq(ob_gzip(body, sizeof body, 6, &z), 0);
    post(fd, PB "Content-Encoding: gzip\r\n", z.data, z.len, true);
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 503);
    ob_buf_fini(&r.body);
    /* Broken gzip is the sender's fault. */
    post(fd, PB "Content-Encoding: gzip\r\n", z.data, z.len - 3, false);
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert(strstr(r.body.data, "gzip"));
    ob_buf_fini(&r.body);
    ob_buf_fini(&z);
    close(fd);
}
END_TEST

START_TEST(too_large_announced)
{
    /* Refused on its headers: the body is never sent. */
    int fd = dial();
    const char *req = "POST /v1/metrics HTTP/1.1\r\nHost: t\r\n" PB
                      "Content-Length: 65537\r\n\r\n";
    struct resp r = roundtrip(fd, req);
    ck_assert_int_eq(r.status, 413);
    ck_assert(strstr(r.body.data, "limits.max_body_bytes"));
    ob_buf_fini(&r.body);
    close(fd);
    /* Exactly the limit is fine. */
    static char body[65536];
    fd = dial();
    post(fd, PB, body, sizeof body, false);
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 503);
    ob_buf_fini(&r.body);
    close(fd);
}
END_TEST

START_TEST(too_large_chunked_keeps_connection)
{
    static char body[200000];
    memset(body, 'y', sizeof body);
    int fd = dial();
    post(fd, PB, body, 65537, true);
    struct resp r;
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 413);
    ob_buf_fini(&r.body);
    /* A lot more than the limit is read and dropped, not buffered. */
    post(fd, PB, body, sizeof body, true);
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 413);
    ob_buf_fini(&r.body);
    /* The connection is still good. */
    r = roundtrip(fd, "GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ob_buf_fini(&r.body);
    close(fd);
}
END_TEST

START_TEST(gzip_bomb)
{
    static char zeros[1u << 20];
    struct ob_buf z;
    ob_buf_init(&z);
    for (int i = 0; i < 16; i++) /* 16 MiB of zeros, ~16 KiB on the wire */
        ck_assert_int_eq(ob_gzip(zeros, sizeof zeros, 9, &z), 0);
    ck_assert_uint_lt(z.len, 65536);
    int fd = dial();
    post(fd, PB "Content-Encoding: gzip\r\n", z.data, z.len, true);
    struct resp r;
    read_resp(fd, &r);
    ck_assert_int_eq(r.status, 413);
    ck_assert(strstr(r.body.data, "inflates"));
    ob_buf_fini(&r.body);
    ob_buf_fini(&z);
    close(fd);
}
END_TEST

START_TEST(metrics_plain_and_gzip)
{
    int fd = dial();
    struct resp r = roundtrip(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ck_assert(strstr(r.headers, "\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert(!strstr(r.headers, "content-encoding"));
    ck_assert(strstr(r.body.data, "# TYPE otlp_broker_build_info gauge\n"));
    ob_buf_fini(&r.body);

    /* Same connection, gzip asked for. */
    r = roundtrip(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: deflate, gzip\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ck_assert(strstr(r.headers, "\r\ncontent-encoding: gzip\r\n"));
    struct ob_buf text;
    ob_buf_init(&text);
    ck_assert_int_eq(ob_gunzip(r.body.data, r.body.len, 1u << 20, &text), 0);
    ob_buf_putc(&text, '\0');
    /* The first scrape is counted in the second. */
    ck_assert(strstr(text.data, "\notlp_broker_scrapes_total 1\n"));
    ob_buf_fini(&text);
    ob_buf_fini(&r.body);

    /* q=0 refuses gzip. */
    r = roundtrip(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!strstr(r.headers, "content-encoding"));
    ob_buf_fini(&r.body);
    close(fd);
}
END_TEST

START_TEST(request_outcomes_counted)
{
    struct resp r = request("POST /v1/metrics HTTP/1.1\r\nHost: t\r\nContent-Type: a/b\r\n"
                            "Content-Length: 0\r\n\r\n");
    ck_assert_int_eq(r.status, 415);
    ob_buf_fini(&r.body);
    r = request("POST /v1/metrics HTTP/1.1\r\nHost: t\r\n" PB "Content-Length: 999999\r\n\r\n");
    ck_assert_int_eq(r.status, 413);
    ob_buf_fini(&r.body);
    r = request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(strstr(r.body.data,
                     "otlp_broker_requests_total{frontend=\"http\",outcome=\"unsupported\"} 1\n"));
    ck_assert(strstr(r.body.data,
                     "otlp_broker_requests_total{frontend=\"http\",outcome=\"too_large\"} 1\n"));
    ob_buf_fini(&r.body);
}
END_TEST

START_TEST(listen_errors)
{
    char err[OB_ERR_LEN];
    struct ob_http *h = NULL;
    static const char *const bad[] = {"127.0.0.1", "::1:80", "[::1]80", "127.0.0.1:99999",
                                      "127.0.0.1:x", "[]:80"};
    for (size_t i = 0; i < OB_ARRAY_LEN(bad); i++) {
        char *save = cfg->http_listen;
        cfg->http_listen = (char *)bad[i];
        struct ob_http_deps deps = {.cfg = cfg, .ready = &ready};
        ck_assert_int_eq(ob_http_start(&deps, &h, err), OB_E_CONFIG);
        ck_assert_msg(strstr(err, "http.listen") && strstr(err, bad[i]), "%s", err);
        cfg->http_listen = save;
    }
    /* The port of the running server is taken. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ob_http_port(srv));
    char *save = cfg->http_listen;
    cfg->http_listen = addr;
    struct ob_http_deps deps = {.cfg = cfg, .ready = &ready};
    ck_assert_int_eq(ob_http_start(&deps, &h, err), -EADDRINUSE);
    ck_assert(strstr(err, addr));
    /* IPv6 loopback, when the host has it. */
    cfg->http_listen = "[::1]:0";
    if (ob_http_start(&deps, &h, err) == 0) {
        ck_assert_uint_ne(ob_http_port(h), 0);
        ob_http_stop(h);
    }
    cfg->http_listen = save;
    ob_http_stop(NULL);
}
END_TEST

Suite *http_suite(void);
Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, health_and_ready);
    tcase_add_test(tc, not_found_and_method);
    tcase_add_test(tc, unsupported_media);
    tcase_add_test(tc, accepted_bodies_reach_ingest);
    tcase_add_test(tc, too_large_announced);
    tcase_add_test(tc, too_large_chunked_keeps_connection);
    tcase_add_test(tc, gzip_bomb);
    tcase_add_test(tc, metrics_plain_and_gzip);
    tcase_add_test(tc, request_outcomes_counted);
    tcase_add_test(tc, listen_errors);
    suite_add_tcase(s, tc);
    return s;
}
