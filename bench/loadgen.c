/* loadgen: OTLP/HTTP load generator for otlp-broker benchmarks.
 *
 * Keep-alive HTTP/1.1 over raw sockets, one thread per connection, to
 * 127.0.0.1 only.  Bodies are the bench dataset of tests/unit/ob_payloads.h
 * (ob_payload_mixed), encoded once per batch of a round; before each request
 * the worker writes that request's time into the body's time_unix_nano
 * fields (fixed64, so patching never changes the length).  Request g carries
 * round ob_mixed_round(g): every request has new timestamps, in order or
 * shuffled within blocks of --shuffle rounds.
 *
 * Fill mode (--fill N) instead creates N simple gauge series
 * (ob_payload_fill) as fast as it can, for scrape benchmarks.
 *
 * Each response must be 200; its ExportMetricsServiceResponse body gives the
 * rejected count (partial_success).  The last line is machine-readable:
 * RESULT key=value ...  Exit status 1 only when nothing could be sent.
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

#include "ob_otlp.h"
#include "bench_common.h"
#include "ob_payloads.h"

#define MAX_LAT_SAMPLES (1u << 20)
#define RESP_BUF (64 * 1024)

struct opts {
    unsigned port;
    const char *path;
    unsigned conns;
    double duration_s;
    double rate;           /* points/s over all connections; 0 = as fast as possible */
    uint64_t max_requests; /* 0 = until the duration ends */
    uint32_t series;
    uint32_t points;
    uint32_t shuffle;
    int64_t step_ms;
    int64_t ts0_ms;
    uint32_t fill;         /* fill mode: series to create */
    uint32_t fill_first;
    uint32_t fill_batch;
};

struct worker {
    pthread_t thread;
    const struct opts *o;
    int fd;
    struct ob_buf *bodies; /* own copies of the templates (patched in place) */
    struct ob_buf fill_body;
    char resp[RESP_BUF + 1]; /* NUL-terminated after every read */
    size_t resp_len;         /* bytes buffered in resp */
    uint64_t requests, points, rejected, errors, bytes;
    int64_t last_ts_ns;
    uint32_t *lat_us;
    size_t n_lat;
    int first_status;      /* first non-200 status seen, for the report */
};

static struct bench_templates g_t;
static atomic_uint_fast64_t g_next;
static double g_deadline;
static double g_start;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: loadgen --port P [options]\n"
        "Sends OTLP/protobuf bodies to http://127.0.0.1:P (keep-alive HTTP/1.1).\n"
        "  --path PATH        request path (default /v1/metrics)\n"
        "  --conns N          connections, one thread each (default 1)\n"
        "  --duration S       seconds to run (default 10)\n"
        "  --rate P           at most P points/s over all connections (default: no limit)\n"
        "  --requests N       stop after N requests (default: no limit)\n"
        "  --series N         series in the mixed dataset (default 10000)\n"
        "  --points N         data points per body (default 500)\n"
        "  --shuffle W        send rounds permuted within blocks of W (default 0: in order)\n"
        "  --step-ms D        time step between rounds (default 1)\n"
        "  --ts0-ms T         time of round 0 (default now - 60 s)\n"
        "  --fill N           fill mode: create N gauge series bench_fill_NNN{id}, then stop\n"
        "  --fill-first F     first series id in fill mode (default 0)\n"
        "  --fill-batch B     series per body in fill mode (default 2000)\n"
        "Last line: RESULT mode= conns= requests= secs= req_per_s= points_per_s=\n"
        "           accepted= rejected= errors= p50_us= p99_us= last_ts_ms=\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    *o = (struct opts){
        .path = "/v1/metrics", .conns = 1, .duration_s = 10, .series = 10000, .points = 500,
        .step_ms = 1, .ts0_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 - 60000,
        .fill_batch = 2000,
    };
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 == argc) {
            fprintf(stderr, "loadgen: %s needs a value\n", k);
            return -EINVAL;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        int rc = 0;
        if (!strcmp(k, "--path")) {
            if (v[0] != '/')
                rc = -EINVAL;
            o->path = v;
        } else if (!strcmp(k, "--rate")) {
            char *end;
            o->rate = strtod(v, &end);
            if (*end || !(o->rate > 0))
                rc = -EINVAL;
        } else if (!strcmp(k, "--duration")) {
            char *end;
            o->duration_s = strtod(v, &end);
            if (*end || !(o->duration_s > 0))
                rc = -EINVAL;
        } else if (!strcmp(k, "--port")) {
            rc = parse_u64(v, 65535, &n);
            o->port = (unsigned)n;
        } else if (!strcmp(k, "--conns")) {
            rc = parse_u64(v, 256, &n);
            o->conns = (unsigned)n;
        } else if (!strcmp(k, "--requests")) {
            rc = parse_u64(v, UINT64_MAX, &o->max_requests);
        } else if (!strcmp(k, "--series")) {
            rc = parse_u64(v, UINT32_MAX, &n);
            o->series = (uint32_t)n;
        } else if (!strcmp(k, "--points")) {
            rc = parse_u64(v, 1000000, &n);
            o->points = (uint32_t)n;
        } else if (!strcmp(k, "--shuffle")) {
            rc = parse_u64(v, 256, &n);
            o->shuffle = (uint32_t)n;
        } else if (!strcmp(k, "--step-ms")) {
            rc = parse_u64(v, 86400000, &n);
            o->step_ms = (int64_t)n;
        } else if (!strcmp(k, "--ts0-ms")) {
            rc = parse_u64(v, INT64_MAX / OB_NS_PER_MS / 2, &n);
            o->ts0_ms = (int64_t)n;
        } else if (!strcmp(k, "--fill")) {
            rc = parse_u64(v, UINT32_MAX, &n);
            o->fill = (uint32_t)n;
        } else if (!strcmp(k, "--fill-first")) {
            rc = parse_u64(v, UINT32_MAX, &n);
            o->fill_first = (uint32_t)n;
        } else if (!strcmp(k, "--fill-batch")) {
            rc = parse_u64(v, 1000000, &n);
            o->fill_batch = (uint32_t)n;
        } else {
            fprintf(stderr, "loadgen: unknown option %s (see --help)\n", k);
            return -EINVAL;
        }
        if (rc != 0) {
            fprintf(stderr, "loadgen: bad value for %s: %s\n", k, v);
            return rc;
        }
    }
    if (!o->port || !o->conns || !o->series || !o->points || !o->step_ms || !o->fill_batch) {
        fprintf(stderr, "loadgen: --port is required; counts must be > 0\n");
        return -EINVAL;
    }
    return 0;
}

/* Encodes round 0 of the dataset with the sentinel time and records the
 * offset of every time_unix_nano (tag 0x19 + 8 bytes) holding it. */
static int build_templates(const struct opts *o)
{
    struct ob_mixed_opts m = {
        .n_series = o->series, .points_per_body = o->points,
        .ts0_ns = o->ts0_ms * OB_NS_PER_MS, .step_ns = o->step_ms * OB_NS_PER_MS,
        .shuffle_window = o->shuffle,
    };
    return bench_templates_build(&g_t, &m);
}

static int send_all(int fd, const char *hdr, size_t hlen, const char *body, size_t blen)
{
    struct iovec iov[2] = {{(void *)hdr, hlen}, {(void *)body, blen}};
    return bench_write_all(fd, iov, 2);
}

/* Reads more bytes into w->resp; -EIO on EOF/error, -E2BIG when full. */
static int fill_more(struct worker *w)
{
    if (w->resp_len == RESP_BUF)
        return -E2BIG;
    for (;;) {
        ssize_t r = read(w->fd, w->resp + w->resp_len, RESP_BUF - w->resp_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        w->resp_len += (size_t)r;
        w->resp[w->resp_len] = '\0';
        return 0;
    }
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (p[i] == '\r' && !memcmp(p + i, "\r\n\r\n", 4))
            return p + i;
    return NULL;
}

/* Reads one response.  Fills status, the body (copied to out_body, up to
 * cap bytes; *out_len its length) and whether the server closes. */
static int read_response(struct worker *w, int *out_status, char *out_body, size_t cap,
                         size_t *out_len, int *out_close)
{
    const char *end;
    while (!(end = find_crlfcrlf(w->resp, w->resp_len))) {
        int rc = fill_more(w);
        if (rc != 0)
            return rc;
    }
    size_t hdr_len = (size_t)(end - w->resp) + 4;
    if (w->resp_len < 12 || memcmp(w->resp, "HTTP/1.", 7) != 0)
        return -EPROTO;
    int status = atoi(w->resp + 9);
    long long clen = -1;
    int chunked = 0, close_conn = !memcmp(w->resp, "HTTP/1.0", 8);
    /* Header lines: "Name: value\r\n", names case-insensitive. */
    for (const char *line = (const char *)memchr(w->resp, '\n', hdr_len) + 1; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
        if (!eol)
            break;
        if (!strncasecmp(line, "content-length:", 15))
            clen = atoll(line + 15);
        else if (!strncasecmp(line, "transfer-encoding:", 18) && strstr(line, "chunked") &&
                 strstr(line, "chunked") < eol)
            chunked = 1;
        else if (!strncasecmp(line, "connection:", 11)) {
            const char *c = line + 11;
            while (*c == ' ')
                c++;
            if (!strncasecmp(c, "close", 5))
                close_conn = 1;
        }
        line = eol + 1;
    }
    size_t blen = 0;
    size_t pos = hdr_len;
    if (chunked) {
        for (;;) {
            const char *crlf;
            while (!(crlf = memchr(w->resp + pos, '\n', w->resp_len - pos))) {
                int rc = fill_more(w);
                if (rc != 0)
                    return rc;
            }
            size_t sz = strtoul(w->resp + pos, NULL, 16);
            pos = (size_t)(crlf - w->resp) + 1;
            while (w->resp_len - pos < sz + 2) {
                int rc = fill_more(w);
                if (rc != 0)
                    return rc;
            }
            if (sz && blen + sz <= cap)
                memcpy(out_body + blen, w->resp + pos, sz);
            blen += sz;
            pos += sz + 2;
            if (sz == 0)
                break; /* no trailers expected */
        }
    } else if (clen > 0) {
        if ((size_t)clen > RESP_BUF - hdr_len)
            return -E2BIG;
        while (w->resp_len - pos < (size_t)clen) {
            int rc = fill_more(w);
            if (rc != 0)
                return rc;
        }
        blen = (size_t)clen;
        memcpy(out_body, w->resp + pos, OB_MIN(blen, cap));
        pos += blen;
    } else if (clen < 0 && status != 204 && status != 304) {
        return -EPROTO; /* body until close: not from a keep-alive server */
    }
    /* Keep what belongs to the next response (none expected: no pipelining). */
    memmove(w->resp, w->resp + pos, w->resp_len - pos);
    w->resp_len -= pos;
    w->resp[w->resp_len] = '\0';
    *out_status = status;
    *out_len = OB_MIN(blen, cap);
    *out_close = close_conn;
    return 0;
}

static void close_conn(struct worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->resp_len = 0;
}

/* One request: returns 0 and adds to the stats, or < 0 on a transport error. */
static int do_request(struct worker *w, const struct ob_buf *body, uint32_t points)
{
    const struct opts *o = w->o;
    if (w->fd < 0) {
        w->fd = bench_connect_local(o->port);
        if (w->fd < 0)
            return w->fd;
    }
    char hdr[256];
    int hlen = snprintf(hdr, sizeof hdr,
                        "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                        "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                        o->path, o->port, body->len);
    double t0 = bench_now_s();
    int rc = send_all(w->fd, hdr, (size_t)hlen, body->data, body->len);
    int status = 0, closing = 0;
    char rbody[4096];
    size_t rlen = 0;
    if (rc == 0)
        rc = read_response(w, &status, rbody, sizeof rbody, &rlen, &closing);
    if (rc != 0) {
        close_conn(w);
        return rc;
    }
    double dt = bench_now_s() - t0;
    if (w->n_lat < MAX_LAT_SAMPLES)
        w->lat_us[w->n_lat++] = (uint32_t)(dt * 1e6);
    w->requests++;
    w->bytes += body->len;
    if (status != 200) {
        w->errors++;
        if (!w->first_status) {
            w->first_status = status;
            fprintf(stderr, "loadgen: HTTP %d: %.*s\n", status, (int)OB_MIN(rlen, 200), rbody);
        }
    } else {
        int64_t rejected = 0;
        if (rlen) {
            Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
                opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
                    NULL, rlen, (const uint8_t *)rbody);
            if (!r) {
                w->errors++; /* a 200 whose body is not a response */
            } else {
                if (r->partial_success)
                    rejected = r->partial_success->rejected_data_points;
                opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
                    r, NULL);
            }
        }
        w->points += points;
        w->rejected += (uint64_t)rejected;
    }
    if (closing)
        close_conn(w);
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    unsigned failures = 0;
    for (;;) {
        if (bench_now_s() >= g_deadline)
            break;
        uint64_t g = atomic_fetch_add(&g_next, 1);
        const struct ob_buf *body;
        uint32_t points;
        if (o->fill) {
            uint64_t first = (uint64_t)g * o->fill_batch;
            if (first >= o->fill)
                break;
            points = (uint32_t)OB_MIN((uint64_t)o->fill_batch, o->fill - first);
            w->fill_body.len = 0;
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            w->last_ts_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
            w->last_ts_ns -= w->last_ts_ns % OB_NS_PER_MS;
            if (ob_payload_fill(&w->fill_body, o->fill_first + (uint32_t)first, points,
                                w->last_ts_ns) != 0) {
                w->errors++;
                break;
            }
            body = &w->fill_body;
        } else {
            if (o->max_requests && g >= o->max_requests)
                break;
            uint32_t b = (uint32_t)(g % g_t.per_round);
            int64_t ts = bench_batch_ts(&g_t, g);
            bench_patch_ts(&w->bodies[b], &g_t.tmpl[b], ts);
            if (ts > w->last_ts_ns)
                w->last_ts_ns = ts;
            body = &w->bodies[b];
            points = g_t.tmpl[b].points;
        }
        if (o->rate > 0) { /* request g is due when g bodies' points fit the rate */
            double due = g_start + (double)g * (double)points / o->rate;
            double left = due - bench_now_s();
            if (left > 0) {
                struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        /* A transport error is retried once on a fresh connection (the
         * server may have closed an idle keep-alive); then counted. */
        int rc = do_request(w, body, points);
        if (rc != 0)
            rc = do_request(w, body, points);
        if (rc != 0) {
            w->errors++;
            if (++failures == 50) {
                fprintf(stderr, "loadgen: giving up after 50 failed requests: %s\n",
                        strerror(-rc));
                break;
            }
            struct timespec pause = {0, 10 * 1000000};
            nanosleep(&pause, NULL);
        } else {
            failures = 0;
        }
    }
    close_conn(w);
    return NULL;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (!o.fill) {
        int rc = build_templates(&o);
        if (rc != 0) {
            fprintf(stderr, "loadgen: cannot build bodies: %s\n", strerror(-rc));
            return 1;
        }
        size_t bytes = 0;
        for (uint32_t b = 0; b < g_t.per_round; b++)
            bytes += g_t.tmpl[b].body.len;
        fprintf(stderr,
                "loadgen: %s, %u conn(s), %u series, %u bodies per round (%.1f KB avg), "
                "step %lld ms\n",
                o.shuffle > 1 ? "shuffled" : "in order", o.conns, o.series, g_t.per_round,
                (double)bytes / g_t.per_round / 1024, (long long)o.step_ms);
    }
    struct worker *ws = calloc(o.conns, sizeof *ws);
    if (!ws)
        return 1;
    for (unsigned i = 0; i < o.conns; i++) {
        struct worker *w = &ws[i];
        w->o = &o;
        w->fd = -1;
        ob_buf_init(&w->fill_body);
        w->lat_us = malloc(MAX_LAT_SAMPLES * sizeof *w->lat_us);
        if (!w->lat_us)
            return 1;
        if (!o.fill) {
            w->bodies = calloc(g_t.per_round, sizeof *w->bodies);
            if (!w->bodies)
                return 1;
            for (uint32_t b = 0; b < g_t.per_round; b++) {
                ob_buf_init(&w->bodies[b]);
                if (!ob_buf_append(&w->bodies[b], g_t.tmpl[b].body.data, g_t.tmpl[b].body.len))
                    return 1;
            }
        }
    }
    double t0 = bench_now_s();
    g_deadline = o.fill ? t0 + 3600 : t0 + o.duration_s;
    g_start = t0;
    unsigned started = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
            break;
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    double secs = bench_now_s() - t0;

    uint64_t req = 0, pts = 0, rej = 0, err = 0, bytes = 0;
    int64_t last_ts = 0;
    size_t n_lat = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        req += ws[i].requests;
        pts += ws[i].points;
        rej += ws[i].rejected;
        err += ws[i].errors;
        bytes += ws[i].bytes;
        n_lat += ws[i].n_lat;
        if (ws[i].last_ts_ns > last_ts)
            last_ts = ws[i].last_ts_ns;
    }
    uint32_t *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat);
    size_t k = 0;
    for (unsigned i = 0; lat && i < o.conns; i++) {
        memcpy(lat + k, ws[i].lat_us, ws[i].n_lat * sizeof *lat);
        k += ws[i].n_lat;
    }
    uint32_t p50, p99;
    bench_percentiles(lat, n_lat, &p50, &p99);
    free(lat);
    uint64_t accepted = pts >= rej ? pts - rej : 0;
    printf("RESULT mode=%s conns=%u requests=%llu secs=%.3f req_per_s=%.0f points_per_s=%.0f "
           "accepted=%llu rejected=%llu errors=%llu mb_per_s=%.1f p50_us=%u p99_us=%u "
           "last_ts_ms=%lld\n",
           o.fill ? "fill" : o.shuffle > 1 ? "shuffled" : "inorder", o.conns,
           (unsigned long long)req, secs, req / secs, accepted / secs, (unsigned long long)accepted,
           (unsigned long long)rej, (unsigned long long)err, bytes / secs / 1e6, p50, p99,
           (long long)(last_ts / OB_NS_PER_MS));
    for (unsigned i = 0; i < o.conns; i++) {
        free(ws[i].lat_us);
        ob_buf_fini(&ws[i].fill_body);
        for (uint32_t b = 0; ws[i].bodies && b < g_t.per_round; b++)
            ob_buf_fini(&ws[i].bodies[b]);
        free(ws[i].bodies);
    }
    free(ws);
    bench_templates_free(&g_t);
    return req == 0 ? 1 : 0;
}
