/* bench_common.c: templates of the mixed dataset, clock, loopback connect. */
#include "bench_common.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TS_SENTINEL INT64_C(0x3e57ab1e5eed0000) /* template time, found and patched */

int bench_templates_build(struct bench_templates *t, const struct ob_mixed_opts *mixed)
{
    *t = (struct bench_templates){.mixed = *mixed};
    struct ob_mixed_opts o = *mixed;
    o.ts0_ns = TS_SENTINEL;
    o.shuffle_window = 0;
    t->per_round = ob_mixed_batches_per_round(&o);
    t->tmpl = calloc(t->per_round, sizeof *t->tmpl);
    if (!t->tmpl)
        return -ENOMEM;
    /* A fixed64 time_unix_nano is tag 0x19 and 8 little-endian bytes. */
    uint8_t pat[9] = {0x19}, start_pat[9] = {0x11};
    int64_t step = o.step_ns ? o.step_ns : 1000 * OB_NS_PER_MS; /* as ob_payload_mixed */
    for (int i = 0; i < 8; i++) {
        pat[1 + i] = (uint8_t)((uint64_t)TS_SENTINEL >> (8 * i));
        start_pat[1 + i] = (uint8_t)((uint64_t)(TS_SENTINEL - step) >> (8 * i));
    }
    for (uint32_t b = 0; b < t->per_round; b++) {
        struct bench_tmpl *tp = &t->tmpl[b];
        ob_buf_init(&tp->body);
        if (ob_payload_mixed(&tp->body, &o, b, &tp->points) != 0)
            return -ENOMEM;
        tp->step_ns = step;
        tp->ts_off = malloc(tp->points * sizeof *tp->ts_off);
        tp->start_off = malloc(tp->points * sizeof *tp->start_off);
        if (!tp->ts_off || !tp->start_off)
            return -ENOMEM;
        const uint8_t *p = (const uint8_t *)tp->body.data;
        for (size_t i = 0; i + sizeof pat <= tp->body.len; i++) {
            if (p[i] == 0x19 && !memcmp(p + i, pat, sizeof pat)) {
                if (tp->n_ts == tp->points)
                    return -EPROTO;
                tp->ts_off[tp->n_ts++] = i + 1;
                i += sizeof pat - 1;
            } else if (o.delta && p[i] == 0x11 && !memcmp(p + i, start_pat, sizeof start_pat)) {
                /* start_time_unix_nano is field 2 (tag 0x11) of every point kind */
                if (tp->n_start == tp->points)
                    return -EPROTO;
                tp->start_off[tp->n_start++] = i + 1;
                i += sizeof start_pat - 1;
            }
        }
        if (tp->n_ts != tp->points || (o.delta && tp->n_start != tp->points))
            return -EPROTO;
    }
    return 0;
}

void bench_templates_free(struct bench_templates *t)
{
    for (uint32_t b = 0; t->tmpl && b < t->per_round; b++) {
        ob_buf_fini(&t->tmpl[b].body);
        free(t->tmpl[b].ts_off);
        free(t->tmpl[b].start_off);
    }
    free(t->tmpl);
    t->tmpl = NULL;
}

int64_t bench_batch_ts(const struct bench_templates *t, uint64_t g)
{
    return t->mixed.ts0_ns + (int64_t)ob_mixed_round(&t->mixed, g) * t->mixed.step_ns;
}

void bench_patch_ts(struct ob_buf *body, const struct bench_tmpl *tp, int64_t ts_ns)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)ts_ns >> (8 * i));
    for (size_t i = 0; i < tp->n_ts; i++)
        memcpy(body->data + tp->ts_off[i], le, 8);
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)(ts_ns - tp->step_ns) >> (8 * i));
    for (size_t i = 0; i < tp->n_start; i++)
        memcpy(body->data + tp->start_off[i], le, 8);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void bench_percentiles(uint32_t *lat, size_t n, uint32_t *p50, uint32_t *p99)
{
    *p50 = *p99 = 0;
    if (!lat || !n)
        return;
    qsort(lat, n, sizeof *lat, cmp_u32);
    *p50 = lat[n / 2];
    *p99 = lat[(size_t)((double)(n - 1) * 0.99)];
}

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_connect_local(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int bench_write_all(int fd, struct iovec *v, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, v, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        size_t left = (size_t)w;
        while (n > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return 0;
}
