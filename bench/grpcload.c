/* grpcload: OTLP/gRPC load generator for otlp-broker benchmarks.
 *
 * nghttp2 client sessions over plain TCP (h2c with prior knowledge) to
 * 127.0.0.1 only, one thread per connection, each keeping --streams calls
 * in flight.  Bodies are the same as loadgen's (bench_common.h): the mixed
 * dataset encoded once per batch of a round, time fields patched per call;
 * each call is one length-prefixed ExportMetricsServiceRequest to
 * MetricsService/Export.  Every answer must be grpc-status 0; its
 * ExportMetricsServiceResponse gives the rejected count (partial_success).
 * Latency is from submitting a call to its stream's close.  The last line is
 * machine-readable, with the same keys as loadgen's:
 * RESULT key=value ...  Exit status 1 only when nothing could be sent.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "bench_common.h"
#include "ob_otlp.h"
#include "ob_payloads.h"

#define MAX_LAT_SAMPLES (1u << 20)
#define MAX_STREAMS 256
#define EXPORT_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

struct opts {
    unsigned port, conns, streams;
    double duration_s, rate;
    uint32_t series, points, shuffle;
    int64_t step_ms, ts0_ms;
};

struct worker;

/* One call in flight: its own copy of a body, patched. */
struct slot {
    struct worker *w;
    bool busy;
    int32_t id;
    struct ob_buf body;
    uint8_t prefix[5];
    size_t off; /* of prefix + body sent */
    uint32_t points;
    double t0;
    int grpc_status;
    char resp[4096];
    size_t resp_len;
};

struct worker {
    pthread_t thread;
    const struct opts *o;
    int fd;
    nghttp2_session *s;
    struct ob_buf out;
    struct slot slots[MAX_STREAMS];
    unsigned in_flight;
    uint64_t requests, points, rejected, errors, bytes;
    int64_t last_ts_ns;
    uint32_t *lat_us;
    size_t n_lat;
    bool failed;
};

static struct bench_templates g_t;
static atomic_uint_fast64_t g_next;
static double g_deadline, g_start;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: grpcload --port P [options]\n"
            "Sends OTLP/gRPC Export calls to 127.0.0.1:P (h2c, nghttp2).\n"
            "  --conns N      connections, one thread each (default 1)\n"
            "  --streams S    calls in flight per connection (default 1, at most %d)\n"
            "  --duration S   seconds to run (default 10)\n"
            "  --rate P       at most P points/s over all connections (default: no limit)\n"
            "  --series N     series in the mixed dataset (default 10000)\n"
            "  --points N     data points per body (default 500)\n"
            "  --shuffle W    rounds permuted within blocks of W (default 0: in order)\n"
            "  --step-ms D    time step between rounds (default 1)\n"
            "  --ts0-ms T     time of round 0 (default now - 60 s)\n"
            "Last line: RESULT mode= conns= streams= requests= secs= req_per_s= points_per_s=\n"
            "           accepted= rejected= errors= p50_us= p99_us= last_ts_ms=\n",
            MAX_STREAMS);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    *o = (struct opts){.conns = 1, .streams = 1, .duration_s = 10, .series = 10000,
                       .points = 500, .step_ms = 1,
                       .ts0_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 - 60000};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 == argc) {
            fprintf(stderr, "grpcload: %s needs a value\n", k);
            return -EINVAL;
        }
        const char *v = argv[++i];
        char *end;
        double d = strtod(v, &end);
        if (*end || !(d >= 0)) {
            fprintf(stderr, "grpcload: bad value for %s: %s\n", k, v);
            return -EINVAL;
        }
        if (!strcmp(k, "--port"))
            o->port = (unsigned)d;
        else if (!strcmp(k, "--conns"))
            o->conns = (unsigned)d;
        else if (!strcmp(k, "--streams"))
            o->streams = (unsigned)d;
        else if (!strcmp(k, "--duration"))
            o->duration_s = d;
        else if (!strcmp(k, "--rate"))
            o->rate = d;
        else if (!strcmp(k, "--series"))
            o->series = (uint32_t)d;
        else if (!strcmp(k, "--points"))
            o->points = (uint32_t)d;
        else if (!strcmp(k, "--shuffle"))
            o->shuffle = (uint32_t)d;
        else if (!strcmp(k, "--step-ms"))
            o->step_ms = (int64_t)d;
        else if (!strcmp(k, "--ts0-ms"))
            o->ts0_ms = (int64_t)d;
        else {
            fprintf(stderr, "grpcload: unknown option %s (see --help)\n", k);
            return -EINVAL;
        }
    }
    if (!o->port || o->port > 65535 || !o->conns || o->conns > 256 || !o->streams ||
        o->streams > MAX_STREAMS || !o->series || !o->points || !o->step_ms ||
        !(o->duration_s > 0)) {
        fprintf(stderr, "grpcload: --port is required; counts must be > 0 (see --help)\n");
        return -EINVAL;
    }
    return 0;
}

/* ---- nghttp2 client callbacks ---------------------------------------------- */

static struct slot *slot_of(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

/* Writes every frame nghttp2 has, gathered into writes of up to 256 KiB
 * (nghttp2 hands out one frame at a time; a call is its HEADERS and five
 * DATA frames, sent in one write as gRPC stacks do).  0 or -EIO. */
static int flush_out(struct worker *w)
{
    for (;;) {
        w->out.len = 0;
        while (w->out.len < (256u << 10)) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(w->s, &p);
            if (n < 0)
                return -EIO;
            if (n == 0)
                break;
            if (!ob_buf_append(&w->out, p, (size_t)n))
                return -EIO;
        }
        if (!w->out.len)
            return 0;
        struct iovec v = {w->out.data, w->out.len};
        if (bench_write_all(w->fd, &v, 1) != 0)
            return -EIO;
    }
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *u)
{
    (void)flags;
    (void)u;
    struct slot *sl = slot_of(s, f->hd.stream_id);
    if (sl && namelen == 11 && !memcmp(name, "grpc-status", 11)) {
        sl->grpc_status = 0;
        for (size_t i = 0; i < valuelen; i++)
            sl->grpc_status = sl->grpc_status * 10 + (value[i] - '0');
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *u)
{
    (void)flags;
    (void)u;
    struct slot *sl = slot_of(s, id);
    if (sl && len <= sizeof sl->resp - sl->resp_len) {
        memcpy(sl->resp + sl->resp_len, data, len);
        sl->resp_len += len;
    }
    return 0;
}

/* The response's partial_success.rejected_data_points (after the prefix). */
static int64_t rejected_of(const struct slot *sl, bool *bad)
{
    if (sl->resp_len <= 5)
        return 0;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, sl->resp_len - 5, (const uint8_t *)sl->resp + 5);
    if (!r) {
        *bad = true;
        return 0;
    }
    int64_t n = r->partial_success ? r->partial_success->rejected_data_points : 0;
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
        r, NULL);
    return n;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *u)
{
    struct worker *w = u;
    struct slot *sl = slot_of(s, id);
    if (!sl)
        return 0;
    double dt = bench_now_s() - sl->t0;
    if (w->n_lat < MAX_LAT_SAMPLES)
        w->lat_us[w->n_lat++] = (uint32_t)(dt * 1e6);
    w->requests++;
    w->bytes += sl->body.len + 5;
    bool bad = error_code != 0 || sl->grpc_status != 0;
    int64_t rej = bad ? 0 : rejected_of(sl, &bad);
    if (bad) {
        if (!w->errors)
            fprintf(stderr, "grpcload: call failed: grpc-status %d, RST_STREAM %u\n",
                    sl->grpc_status, error_code);
        w->errors++;
    } else {
        w->points += sl->points;
        w->rejected += (uint64_t)rej;
    }
    sl->busy = false;
    w->in_flight--;
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *u)
{
    (void)s;
    (void)id;
    (void)u;
    struct slot *sl = src->ptr;
    size_t total = 5 + sl->body.len, n = 0;
    while (n < len && sl->off < total) {
        size_t k;
        if (sl->off < 5) {
            k = OB_MIN(len - n, 5 - sl->off);
            memcpy(buf + n, sl->prefix + sl->off, k);
        } else {
            k = OB_MIN(len - n, total - sl->off);
            memcpy(buf + n, sl->body.data + (sl->off - 5), k);
        }
        n += k;
        sl->off += k;
    }
    if (sl->off == total)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- the worker ------------------------------------------------------------- */

static const nghttp2_nv headers[] = {
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
    H(":method", "POST"),         H(":scheme", "http"),
    H(":authority", "127.0.0.1"), H(":path", EXPORT_PATH),
    H("content-type", "application/grpc"), H("te", "trailers"),
#undef H
};

/* Starts the next call in a free slot.  Returns false when the run is over. */
static bool submit_next(struct worker *w)
{
    const struct opts *o = w->o;
    if (bench_now_s() >= g_deadline)
        return false;
    struct slot *sl = NULL;
    for (unsigned i = 0; i < o->streams && !sl; i++)
        if (!w->slots[i].busy)
            sl = &w->slots[i];
    if (!sl)
        return true;
    uint64_t g = atomic_fetch_add(&g_next, 1);
    uint32_t b = (uint32_t)(g % g_t.per_round);
    if (o->rate > 0) { /* call g is due when g bodies' points fit the rate */
        double due = g_start + (double)g * (double)g_t.tmpl[b].points / o->rate;
        double left = due - bench_now_s();
        if (left > 0) {
            struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    sl->body.len = 0;
    if (!ob_buf_append(&sl->body, g_t.tmpl[b].body.data, g_t.tmpl[b].body.len))
        return false;
    int64_t ts = bench_batch_ts(&g_t, g);
    bench_patch_ts(&sl->body, &g_t.tmpl[b], ts);
    if (ts > w->last_ts_ns)
        w->last_ts_ns = ts;
    size_t n = sl->body.len;
    uint8_t p[5] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(sl->prefix, p, 5);
    sl->off = 0;
    sl->points = g_t.tmpl[b].points;
    sl->grpc_status = -1;
    sl->resp_len = 0;
    sl->t0 = bench_now_s();
    nghttp2_data_provider dp = {.source.ptr = sl, .read_callback = read_body};
    sl->id = nghttp2_submit_request(w->s, NULL, headers, OB_ARRAY_LEN(headers), &dp, sl);
    if (sl->id < 0) {
        w->failed = true;
        return false;
    }
    sl->busy = true;
    w->in_flight++;
    return true;
}

static int open_session(struct worker *w)
{
    w->fd = bench_connect_local(w->o->port);
    if (w->fd < 0)
        return w->fd;
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    int rc = nghttp2_session_client_new(&w->s, cbs, w);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -ENOMEM;
    /* Windows as large as the server's, so that neither side waits on the other. */
    nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(w->s, NGHTTP2_FLAG_NONE, set, 1);
    nghttp2_session_set_local_window_size(w->s, NGHTTP2_FLAG_NONE, 0, 16 << 20);
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (open_session(w) != 0) {
        w->failed = true;
        return NULL;
    }
    uint8_t buf[65536];
    bool more = true;
    while (more || w->in_flight) {
        while (more && w->in_flight < w->o->streams)
            more = submit_next(w);
        if (!more && !w->in_flight)
            break; /* the run is over: no answer to wait for */
        if (flush_out(w) != 0)
            break;
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            break;
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = recv(w->fd, buf, sizeof buf, 0);
        if (n <= 0 || nghttp2_session_mem_recv(w->s, buf, (size_t)n) < 0)
            break;
    }
    w->errors += w->in_flight;
    nghttp2_session_del(w->s);
    close(w->fd);
    ob_buf_fini(&w->out);
    return NULL;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    struct ob_mixed_opts m = {.n_series = o.series, .points_per_body = o.points,
                              .ts0_ns = o.ts0_ms * OB_NS_PER_MS,
                              .step_ns = o.step_ms * OB_NS_PER_MS, .shuffle_window = o.shuffle};
    int rc = bench_templates_build(&g_t, &m);
    if (rc != 0) {
        fprintf(stderr, "grpcload: cannot build bodies: %s\n", strerror(-rc));
        return 1;
    }
    struct worker *ws = calloc(o.conns, sizeof *ws);
    if (!ws)
        return 1;
    for (unsigned i = 0; i < o.conns; i++) {
        ws[i].o = &o;
        ws[i].fd = -1;
        ws[i].lat_us = malloc(MAX_LAT_SAMPLES * sizeof *ws[i].lat_us);
        if (!ws[i].lat_us)
            return 1;
    }
    fprintf(stderr, "grpcload: %s, %u conn(s) x %u stream(s), %u series, %u bodies per round\n",
            o.shuffle > 1 ? "shuffled" : "in order", o.conns, o.streams, o.series, g_t.per_round);
    double t0 = bench_now_s();
    g_start = t0;
    g_deadline = t0 + o.duration_s;
    unsigned started = 0;
    for (unsigned i = 0; i < o.conns; i++, started++)
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
            break;
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
        err += ws[i].errors + ws[i].failed;
        bytes += ws[i].bytes;
        n_lat += ws[i].n_lat;
        if (ws[i].last_ts_ns > last_ts)
            last_ts = ws[i].last_ts_ns;
    }
    uint32_t *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat), p50, p99;
    size_t k = 0;
    for (unsigned i = 0; lat && i < o.conns; i++) {
        memcpy(lat + k, ws[i].lat_us, ws[i].n_lat * sizeof *lat);
        k += ws[i].n_lat;
    }
    bench_percentiles(lat, n_lat, &p50, &p99);
    free(lat);
    uint64_t accepted = pts >= rej ? pts - rej : 0;
    printf("RESULT mode=%s conns=%u streams=%u requests=%llu secs=%.3f req_per_s=%.0f "
           "points_per_s=%.0f accepted=%llu rejected=%llu errors=%llu mb_per_s=%.1f p50_us=%u "
           "p99_us=%u last_ts_ms=%lld\n",
           o.shuffle > 1 ? "shuffled" : "inorder", o.conns, o.streams, (unsigned long long)req,
           secs, req / secs, accepted / secs, (unsigned long long)accepted,
           (unsigned long long)rej, (unsigned long long)err, bytes / secs / 1e6, p50, p99,
           (long long)(last_ts / OB_NS_PER_MS));
    for (unsigned i = 0; i < o.conns; i++) {
        free(ws[i].lat_us);
        for (unsigned s = 0; s < MAX_STREAMS; s++)
            ob_buf_fini(&ws[i].slots[s].body);
    }
    free(ws);
    bench_templates_free(&g_t);
    return req ? 0 : 1;
}
