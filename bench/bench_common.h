/* bench_common.h: what the load generators share: the mixed dataset as
 * pre-encoded templates whose timestamps are patched per request, a
 * monotonic clock and a loopback connect. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_payloads.h"

/* One body of a round of the mixed dataset and where its times are. */
struct bench_tmpl {
    struct ob_buf body;
    size_t *ts_off; /* offsets of every time_unix_nano (fixed64) */
    size_t n_ts;
    size_t *start_off; /* delta datasets: of every start_time_unix_nano */
    size_t n_start;
    int64_t step_ns;   /* a delta point starts this long before its time */
    uint32_t points;
};

struct bench_templates {
    struct bench_tmpl *tmpl;
    uint32_t per_round;
    struct ob_mixed_opts mixed; /* the dataset as asked for (times, shuffle) */
};

/* Encodes round 0 of the dataset `mixed` once, with a sentinel time, and
 * records where every time_unix_nano holding it is.  0 or -errno. */
int bench_templates_build(struct bench_templates *t, const struct ob_mixed_opts *mixed);
void bench_templates_free(struct bench_templates *t);
/* The time of dataset batch g (after the shuffle), in ns. */
int64_t bench_batch_ts(const struct bench_templates *t, uint64_t g);
/* Writes ts_ns into every time field of body, a copy of template tp (and,
 * for a delta dataset, ts_ns - step into every start time). */
void bench_patch_ts(struct ob_buf *body, const struct bench_tmpl *tp, int64_t ts_ns);

double bench_now_s(void);
/* The median and 99th percentile of n latencies (sorted in place); 0 for n 0. */
void bench_percentiles(uint32_t *lat, size_t n, uint32_t *p50, uint32_t *p99);
/* writev()s all of v[0..n) (advancing v in place); 0 or -EIO. */
struct iovec;
int bench_write_all(int fd, struct iovec *v, int n);

/* A TCP connection to 127.0.0.1:port with TCP_NODELAY; fd or -errno. */
int bench_connect_local(unsigned port);

#endif
