/* zmqload: ZeroMQ (and, for comparison, HTTP) ingest load for otlp-broker.
 *
 *   zmqload --endpoint URL --metrics-port P [--mode raw|client] [options]
 *
 * URL is the broker's PULL endpoint (tcp://, ipc://), with --ack its reply
 * endpoint (acknowledged stream: the C library's OBC_STREAM, --window
 * messages in flight), or http://127.0.0.1:PORT to send the very same bodies
 * over OTLP/HTTP (keep-alive, one request in flight per connection, as
 * bench/loadgen does).  ZeroMQ goes through the C client library in both
 * modes, so every message carries its sequence frame.
 *
 * Modes (one thread per connection, each with its own socket):
 *   raw      pre-encoded bodies of the bench's mixed dataset
 *            (tests/unit/ob_payloads.h, 500 points, ~70 KB each), the time
 *            fields patched per request exactly as loadgen does;
 *   client   the C client library: each thread is one application (own
 *            obc_client, resource service.instance.id=client-N) with 30
 *            instruments (gauges, counters, 10-bound histograms) of
 *            --client-series attribute sets in all; every iteration records
 *            one value into every series, then flushes (one request with
 *            every series; over HTTP obc_encode + POST).
 *
 * PULL answers nothing, so the rate is taken at the broker: when the send
 * phase ends, zmqload polls http://127.0.0.1:P/metrics until the broker's
 * otlp_broker_data_points_received_total{frontend="zmq"} grew by every point
 * sent; points/s = points / (time of that scrape - start).  The sockets stay
 * open until then: a PUSH sender that closes while the broker is behind can
 * lose its tail over ipc:// (libzmq issue 4660; README, "Delivery
 * guarantees").  The stream is done when every message was acknowledged.
 * Over HTTP every request is answered, so the send phase is the whole run.
 * When the broker's count falls short, zmqload says so and exits 1 without
 * a RESULT: a rate over lost points would be a lie.
 *
 * Last line: RESULT transport= mode= conns= requests= points= secs=
 *            points_per_s= send_secs= bytes_per_req= rejected= errors=
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_common.h"
#include "ob_payloads.h"
#include "otlpbroker/client.h"

#define RESP_CAP (64 * 1024)
#define CLIENT_INSTRUMENTS 30

struct opts {
    const char *endpoint;
    unsigned http_port;    /* endpoint is http:// */
    unsigned metrics_port;
    bool client_mode;
    bool ack;
    uint32_t window;
    uint64_t window_bytes;
    unsigned conns;
    double duration_s;
    uint32_t series, points;
    uint32_t client_series;
    int64_t ts0_ms;
};

struct worker {
    pthread_t thread;
    unsigned id;
    const struct opts *o;
    struct obc_client *client; /* ZeroMQ: closed by main once all is counted */
    uint64_t requests, points, bytes, rejected, errors;
    int64_t last_ts_ns;
};

static struct bench_templates g_t;
static atomic_uint_fast64_t g_next;
static double g_deadline;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: zmqload --endpoint URL --metrics-port P [options]\n"
        "  --endpoint URL       tcp://HOST:PORT or ipc://PATH (broker's zmq.pull),\n"
        "                       or http://127.0.0.1:PORT (same bodies over OTLP/HTTP)\n"
        "  --metrics-port P     broker's HTTP port, polled for the ingested count\n"
        "  --mode raw|client    pre-encoded mixed bodies (default) or the C library\n"
        "  --ack                acknowledged stream to the broker's zmq.reply endpoint\n"
        "  --window N           --ack: messages in flight per connection (library default)\n"
        "  --window-bytes N     --ack: their bytes at most (library default)\n"
        "  --conns N            connections/threads (default 2)\n"
        "  --duration S         seconds of sending (default 8)\n"
        "  --series N, --points N   mixed dataset (default 10000 series, 500 per body)\n"
        "  --client-series N    client mode: series per client (default 3000)\n"
        "  --ts0-ms T           raw mode: time of round 0 (default now - 60 s)\n");
}

/* ---- HTTP (loopback, keep-alive) ------------------------------------------------ */

/* Reads one response with a Content-Length body (what the broker sends) into
 * buf; returns the status, *out_body/out_len point into buf.  Body-until-close
 * answers (Connection: close) are read to EOF. */
static int read_response(int fd, char *buf, size_t cap, char **out_body, size_t *out_len)
{
    size_t len = 0;
    char *hend = NULL;
    while (!hend) {
        if (len == cap)
            return -E2BIG;
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        len += (size_t)r;
        buf[len] = '\0';
        hend = strstr(buf, "\r\n\r\n");
    }
    if (strncmp(buf, "HTTP/1.", 7) != 0)
        return -EPROTO;
    int status = atoi(buf + 9);
    long long clen = -1;
    for (char *l = strstr(buf, "\r\n"); l && l < hend; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, "content-length:", 15))
            clen = atoll(l + 17);
    size_t off = (size_t)(hend + 4 - buf);
    for (;;) {
        if (clen >= 0 && len - off >= (size_t)clen)
            break;
        if (len == cap)
            return -E2BIG;
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -EIO;
        if (r == 0) {
            if (clen >= 0)
                return -EIO;
            break;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    *out_body = buf + off;
    *out_len = clen >= 0 ? (size_t)clen : len - off;
    return status;
}

/* One POST on w's connection; 0 and *out_rejected, or < 0. */
static int http_post(int *fd, unsigned port, const void *body, size_t len, int64_t *out_rejected)
{
    static _Thread_local char resp[RESP_CAP + 1];
    if (*fd < 0 && (*fd = bench_connect_local(port)) < 0)
        return *fd;
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                      "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                      port, len);
    struct iovec v[2] = {{hdr, (size_t)hl}, {(void *)body, len}};
    char *rb;
    size_t rl;
    int status = bench_write_all(*fd, v, 2);
    if (status == 0)
        status = read_response(*fd, resp, RESP_CAP, &rb, &rl);
    if (status < 0) {
        close(*fd);
        *fd = -1;
        return status;
    }
    if (status != 200)
        return -EPROTO;
    *out_rejected = 0;
    /* ExportMetricsServiceResponse { partial_success(1) { rejected(1) varint } }:
     * an empty body is the common case; decode just that field. */
    if (rl >= 4 && (unsigned char)rb[0] == 0x0a && (unsigned char)rb[2] == 0x08) {
        uint64_t rej = 0;
        for (size_t i = 3, shift = 0; i < rl && shift < 64; i++, shift += 7) {
            rej |= (uint64_t)((unsigned char)rb[i] & 0x7f) << shift;
            if (!((unsigned char)rb[i] & 0x80))
                break;
        }
        *out_rejected = (int64_t)rej;
    }
    return 0;
}

/* The broker's count of points received over ZeroMQ (GET /metrics), or -1. */
static long long zmq_points_received(unsigned port)
{
    static char buf[64 << 20];
    int fd = bench_connect_local(port);
    if (fd < 0)
        return -1;
    char req[128];
    int n = snprintf(req, sizeof req,
                     "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
                     port);
    struct iovec v = {req, (size_t)n};
    char *body;
    size_t len;
    int status = bench_write_all(fd, &v, 1);
    if (status == 0)
        status = read_response(fd, buf, sizeof buf - 1, &body, &len);
    close(fd);
    if (status != 200)
        return -1;
    const char *key = "\notlp_broker_data_points_received_total{frontend=\"zmq\"} ";
    const char *p = strstr(body, key);
    return p ? atoll(p + strlen(key)) : 0;
}

/* A client of the library: PUSH, or OBC_STREAM with --ack; over HTTP one
 * without endpoint (client mode encodes with it).  NULL on failure (said). */
static struct obc_client *open_client(struct worker *w, const char *service,
                                      const struct obc_attr *res, size_t n_res)
{
    const struct opts *o = w->o;
    struct obc_options co = OBC_OPTIONS_INIT;
    co.endpoint = o->http_port ? NULL : o->endpoint;
    co.mode = o->ack ? OBC_STREAM : OBC_PUSH;
    co.window = o->window;
    co.window_bytes = o->window_bytes;
    co.service_name = service;
    co.resource = res;
    co.n_resource = n_res;
    co.timeout_ms = 10000;
    co.max_series = o->client_series;
    /* A small send queue: the sender blocks as an application would,
     * instead of queueing seconds of bodies and competing for the CPU. */
    co.queue = 8;
    struct obc_client *c;
    int rc = obc_open(&co, &c);
    if (rc != 0) {
        fprintf(stderr, "zmqload: obc_open %s: %s\n", o->endpoint, obc_strerror(rc));
        w->errors++;
        return NULL;
    }
    return c;
}

/* ---- raw mode ------------------------------------------------------------------- */

/* As bench/loadgen.c: round 0 encoded with a sentinel time whose fixed64
 * fields are found once and patched per request. */
static int build_templates(const struct opts *o)
{
    struct ob_mixed_opts m = {
        .n_series = o->series, .points_per_body = o->points,
        .ts0_ns = o->ts0_ms * OB_NS_PER_MS, .step_ns = OB_NS_PER_MS,
    };
    return bench_templates_build(&g_t, &m);
}

static void *raw_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    int fd = -1;
    struct ob_buf *bodies = calloc(g_t.per_round, sizeof *bodies);
    for (uint32_t b = 0; bodies && b < g_t.per_round; b++) {
        ob_buf_init(&bodies[b]);
        if (!ob_buf_append(&bodies[b], g_t.tmpl[b].body.data, g_t.tmpl[b].body.len))
            goto done;
    }
    if (!bodies)
        goto done;
    if (!o->http_port && !(w->client = open_client(w, NULL, NULL, 0)))
        goto done;
    while (bench_now_s() < g_deadline) {
        uint64_t g = atomic_fetch_add(&g_next, 1);
        uint32_t b = (uint32_t)(g % g_t.per_round);
        int64_t ts = bench_batch_ts(&g_t, g);
        bench_patch_ts(&bodies[b], &g_t.tmpl[b], ts);
        if (ts > w->last_ts_ns)
            w->last_ts_ns = ts;
        int64_t rejected = 0;
        int rc = o->http_port ? http_post(&fd, o->http_port, bodies[b].data, bodies[b].len, &rejected)
                              : obc_send(w->client, bodies[b].data, bodies[b].len, NULL, NULL);
        if (rc != 0) {
            if (!o->http_port)
                fprintf(stderr, "zmqload: send: %s\n", obc_strerror(rc));
            w->errors++;
            continue;
        }
        w->requests++;
        w->points += g_t.tmpl[b].points;
        w->bytes += bodies[b].len;
        w->rejected += (uint64_t)rejected;
    }
done:
    if (fd >= 0)
        close(fd);
    for (uint32_t b = 0; bodies && b < g_t.per_round; b++)
        ob_buf_fini(&bodies[b]);
    free(bodies);
    return NULL;
}

/* ---- client mode ---------------------------------------------------------------- */

static void *client_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    static const char *const regions[] = {"eu-west", "eu-north", "us-east", "ap-south"};
    char inst_id[32];
    snprintf(inst_id, sizeof inst_id, "client-%u", w->id);
    struct obc_attr res[] = {OBC_STR("service.instance.id", inst_id)};
    struct obc_client *c = open_client(w, "bench-client", res, 1);
    if (!c)
        return NULL;
    int rc = 0;
    struct obc_instrument *in[CLIENT_INSTRUMENTS];
    for (int i = 0; i < CLIENT_INSTRUMENTS && rc == 0; i++) {
        char name[64];
        if (i % 3 == 0) {
            snprintf(name, sizeof name, "bench.client.gauge.%d", i);
            rc = obc_gauge(c, name, NULL, "client bench gauge", &in[i]);
        } else if (i % 3 == 1) {
            snprintf(name, sizeof name, "bench.client.requests.%d", i);
            rc = obc_counter(c, name, "1", "client bench counter", &in[i]);
        } else {
            snprintf(name, sizeof name, "bench.client.latency.%d", i);
            rc = obc_histogram(c, name, "s", "client bench histogram", bounds, 10, &in[i]);
        }
    }
    uint32_t per = o->client_series / CLIENT_INSTRUMENTS;
    int fd = -1;
    for (uint64_t iter = 1; rc == 0 && bench_now_s() < g_deadline; iter++) {
        for (int i = 0; i < CLIENT_INSTRUMENTS; i++) {
            for (uint32_t k = 0; k < per; k++) {
                char host[16], code[8];
                snprintf(host, sizeof host, "host-%04u", k / 12);
                snprintf(code, sizeof code, "%u", k / 4 % 3 == 0 ? 200 : k / 4 % 3 == 1 ? 404 : 500);
                struct obc_attr a[] = {OBC_STR("host", host), OBC_STR("region", regions[k % 4]),
                                       OBC_STR("code", code)};
                double v = (double)((iter * 7 + k) % 1000) / 100.0;
                rc = i % 3 == 1 ? obc_add(in[i], v, a, 3) : obc_record(in[i], v, a, 3);
                if (rc != 0)
                    break;
            }
        }
        if (rc != 0)
            break;
        uint64_t points = (uint64_t)per * CLIENT_INSTRUMENTS;
        int64_t rejected = 0;
        if (o->http_port) {
            void *body;
            size_t len;
            rc = obc_encode(c, &body, &len);
            if (rc == 0) {
                rc = http_post(&fd, o->http_port, body, len, &rejected);
                w->bytes += len;
                free(body);
            }
        } else {
            struct obc_result r;
            rc = obc_flush(c, &r);
            points = r.points;
            w->bytes += 0; /* not known after the library encoded */
        }
        if (rc != 0)
            break;
        w->requests++;
        w->points += points;
        w->rejected += (uint64_t)rejected;
    }
    if (rc != 0) {
        fprintf(stderr, "zmqload: client %u: %s\n", w->id, obc_strerror(rc));
        w->errors++;
    }
    if (fd >= 0)
        close(fd);
    if (o->http_port)
        obc_close(c, NULL);
    else
        w->client = c; /* main closes it once the broker counted everything */
    return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

static int parse_args(int argc, char **argv, struct opts *o)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    *o = (struct opts){.conns = 2, .duration_s = 8, .series = 10000, .points = 500,
                       .client_series = 3000,
                       .ts0_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 - 60000};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(k, "--ack")) {
            o->ack = true;
            continue;
        }
        if (i + 1 == argc) {
            fprintf(stderr, "zmqload: %s needs a value\n", k);
            return -EINVAL;
        }
        const char *v = argv[++i];
        long long n = atoll(v);
        if (!strcmp(k, "--endpoint"))
            o->endpoint = v;
        else if (!strcmp(k, "--metrics-port"))
            o->metrics_port = (unsigned)n;
        else if (!strcmp(k, "--mode") && (!strcmp(v, "raw") || !strcmp(v, "client")))
            o->client_mode = !strcmp(v, "client");
        else if (!strcmp(k, "--window") && n > 0 && n <= 65536)
            o->window = (uint32_t)n;
        else if (!strcmp(k, "--window-bytes") && n > 0)
            o->window_bytes = (uint64_t)n;
        else if (!strcmp(k, "--conns") && n > 0 && n <= 64)
            o->conns = (unsigned)n;
        else if (!strcmp(k, "--duration") && atof(v) > 0)
            o->duration_s = atof(v);
        else if (!strcmp(k, "--series") && n > 0)
            o->series = (uint32_t)n;
        else if (!strcmp(k, "--points") && n > 0)
            o->points = (uint32_t)n;
        else if (!strcmp(k, "--client-series") && n >= CLIENT_INSTRUMENTS)
            o->client_series = (uint32_t)n;
        else if (!strcmp(k, "--ts0-ms") && n > 0)
            o->ts0_ms = n;
        else {
            fprintf(stderr, "zmqload: bad option or value: %s %s (see --help)\n", k, v);
            return -EINVAL;
        }
    }
    if (!o->endpoint || !o->metrics_port) {
        fprintf(stderr, "zmqload: --endpoint and --metrics-port are required\n");
        return -EINVAL;
    }
    if (!strncmp(o->endpoint, "http://", 7)) {
        const char *colon = strrchr(o->endpoint + 7, ':');
        o->http_port = colon ? (unsigned)atoi(colon + 1) : 0;
        if (!o->http_port) {
            fprintf(stderr, "zmqload: http endpoint needs a port\n");
            return -EINVAL;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (!o.client_mode && build_templates(&o) != 0) {
        fprintf(stderr, "zmqload: cannot build the bodies\n");
        return 1;
    }
    long long before = o.http_port ? 0 : zmq_points_received(o.metrics_port);
    if (before < 0) {
        fprintf(stderr, "zmqload: cannot read http://127.0.0.1:%u/metrics\n", o.metrics_port);
        return 1;
    }
    struct worker *ws = calloc(o.conns, sizeof *ws);
    if (!ws)
        return 1;
    double t0 = bench_now_s();
    g_deadline = t0 + o.duration_s;
    unsigned started = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        ws[i] = (struct worker){.id = i, .o = &o};
        if (pthread_create(&ws[i].thread, NULL, o.client_mode ? client_main : raw_main, &ws[i]) != 0)
            break;
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    double t_sent = bench_now_s();
    uint64_t req = 0, pts = 0, bytes = 0, rej = 0, err = 0;
    int64_t last_ts = 0;
    for (unsigned i = 0; i < started; i++) {
        req += ws[i].requests;
        pts += ws[i].points;
        bytes += ws[i].bytes;
        rej += ws[i].rejected;
        err += ws[i].errors;
        if (ws[i].last_ts_ns > last_ts)
            last_ts = ws[i].last_ts_ns;
    }
    double t_end = t_sent;
    int short_count = 0;
    if (!o.http_port) {
        /* The stream: every message acknowledged.  Then (both modes) the
         * broker must have taken every point (60 s at most). */
        for (unsigned i = 0; i < started; i++) {
            int rc = ws[i].client ? obc_wait(ws[i].client, 60000) : 0;
            if (rc != 0) {
                fprintf(stderr, "zmqload: connection %u: not every message acknowledged: %s\n",
                        i, obc_strerror(rc));
                err++;
            }
        }
        long long got = 0;
        while ((got = zmq_points_received(o.metrics_port)) >= 0 &&
               (uint64_t)(got - before) < pts && bench_now_s() < t_sent + 60) {
            struct timespec pause = {0, 50 * 1000000}; /* a scrape costs the broker CPU */
            nanosleep(&pause, NULL);
        }
        t_end = bench_now_s();
        if (got < 0 || (uint64_t)(got - before) < pts) {
            fprintf(stderr,
                    "zmqload: FAILED: the broker counted %lld of %llu points sent over %s "
                    "(see otlp_broker_zmq_messages_lost_total); no rate printed\n",
                    got - before, (unsigned long long)pts, o.endpoint);
            short_count = 1;
        }
        /* Only now: closing earlier is what loses a PUSH tail over ipc. */
        for (unsigned i = 0; i < started; i++)
            if (ws[i].client)
                obc_close(ws[i].client, NULL);
    }
    if (short_count) {
        bench_templates_free(&g_t);
        free(ws);
        return 1;
    }
    double secs = t_end - t0;
    printf("RESULT transport=%s mode=%s ack=%d conns=%u requests=%llu points=%llu secs=%.3f "
           "points_per_s=%.0f send_secs=%.3f bytes_per_req=%.0f rejected=%llu errors=%llu "
           "last_ts_ms=%lld\n",
           o.http_port ? "http" : !strncmp(o.endpoint, "ipc://", 6) ? "ipc" : "tcp",
           o.client_mode ? "client" : "raw", o.ack, o.conns, (unsigned long long)req,
           (unsigned long long)pts, secs, (double)pts / secs, t_sent - t0,
           req && bytes ? (double)bytes / (double)req : 0.0, (unsigned long long)rej,
           (unsigned long long)err, (long long)(last_ts / OB_NS_PER_MS));
    bench_templates_free(&g_t);
    free(ws);
    return req == 0 || err ? 1 : 0;
}
