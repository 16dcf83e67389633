/* ingest_bench: what a kind of point costs against another, in process, on
 * one core.
 *
 * The bench dataset (10,000 series, 500 points per body) through
 * ob_ingest_body() into a real store, in two variants A and B of one set:
 *   exemplars   the mix of gauges, counters and histograms, without and
 *               with one exemplar on every point (a trace and a span id, as
 *               an SDK's exemplar filter leaves them; the exemplar's own
 *               time stays that of the template);
 *   histograms  histograms only: explicit with 10 bounds, and exponential
 *               with 160 buckets at scale 3;
 *   counters    counters only: cumulative, and delta (added up in the store);
 *   forward     the mix, without and with remote write's forward log (every
 *               stored sample also written there, as with a target; nothing
 *               reads it here: the cost to the ingest path alone).
 * The rounds alternate between the variants (A, B, A, B...), each round one
 * full pass over the series with later timestamps, so both see the same
 * store, caches and machine; times are this thread's CPU time.  Beside each
 * figure: protobuf-c decoding alone of the same bodies, the part of ingest
 * no broker code can make cheaper.
 *
 * Usage: ingest_bench [rounds per variant, default 30] [set, default
 * exemplars].  Prints RESULT lines; fails only when something is broken
 * (never on timing). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_ingest.h"
#include "ob_otlp.h"
#include "ob_payloads.h"
#include "ob_store.h"
#include "ob_translator_host.h"

#define N_SERIES 10000

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct variant {
    const char *name;
    struct ob_fwdlog *fwd; /* the forward log its rounds write, or NULL */
    struct ob_mixed_opts mixed;
    struct bench_templates t; /* its bodies, encoded once; times patched per round */
    double ingest_s, decode_s;
    uint64_t points, exemplars, rejected, bytes;
};

/* The bodies of round `round` of variant v into bodies[]; how many. */
static uint32_t build_round(struct variant *v, uint64_t round, struct ob_buf *bodies)
{
    for (uint32_t b = 0; b < v->t.per_round; b++) {
        const struct bench_tmpl *tp = &v->t.tmpl[b];
        bodies[b].len = 0;
        ob_buf_append(&bodies[b], tp->body.data, tp->body.len);
        if (bodies[b].failed)
            return 0;
        bench_patch_ts(&bodies[b], tp, bench_batch_ts(&v->t, round * v->t.per_round + b));
    }
    return v->t.per_round;
}

static int ingest_round(struct ob_ingest *in, struct variant *v, struct ob_buf *bodies, uint32_t n)
{
    ob_ingest_set_fwdlog(in, v->fwd);
    double t0 = cpu_s();
    for (uint32_t b = 0; b < n; b++) {
        struct ob_ingest_result res;
        if (ob_ingest_body(in, OB_FE_HTTP, OB_PAYLOAD_PROTOBUF, bodies[b].data, bodies[b].len,
                           &res) != 0) {
            fprintf(stderr, "ingest_bench: %s\n", res.message);
            return -1;
        }
        v->points += res.points;
        v->bytes += bodies[b].len;
        v->rejected += res.rejected;
        v->exemplars += res.exemplars;
    }
    v->ingest_s += cpu_s() - t0;

    struct ob_arena a;
    ob_arena_init(&a, 512 * 1024);
    t0 = cpu_s();
    for (uint32_t b = 0; b < n; b++) {
        ob_otlp_request *req;
        if (ob_otlp_decode(&a, bodies[b].data, bodies[b].len, &req) != 0) {
            ob_arena_fini(&a);
            return -1;
        }
        ob_arena_reset(&a);
    }
    v->decode_s += cpu_s() - t0;
    ob_arena_fini(&a);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 30;
    if (rounds < 1)
        rounds = 30;
    const char *set = argc > 2 ? argv[2] : "exemplars";
    const char *build = getenv("OB_BUILD") ? getenv("OB_BUILD") : "build";
    char err[OB_ERR_LEN], dir[256], shm[64];
    snprintf(dir, sizeof dir, "%s/plugins", build);
    snprintf(shm, sizeof shm, "/ob-ingest-bench-%d", (int)getpid());

    struct ob_config *cfg;
    if (ob_config_load(NULL, NULL, 0, &cfg, err) != 0) {
        fprintf(stderr, "ingest_bench: %s\n", err);
        return 1;
    }
    struct ob_store *store;
    struct ob_store_opts so = {.path = shm, .max_series = 4 * N_SERIES, .max_families = 100,
                               .samples_per_series = cfg->store_samples_per_series,
                               .ooo_window_ms = cfg->store_ooo_window_ms,
                               .series_ttl_ms = cfg->store_series_ttl_ms,
                               .heap_bytes = 2ull << 30, /* sparse: 160-bucket histograms */
                               .exemplar_bytes = 64u << 20, .recreate = true};
    struct ob_translator_slot slot;
    struct ob_translator_inst *x;
    ob_translator_slot_init(&slot);
    if (ob_store_open(&so, &store, err) != 0 ||
        ob_translator_load(cfg->translator_plugin, dir, cfg->translator_kv, cfg->translator_n_kv,
                           &x, err) != 0) {
        fprintf(stderr, "ingest_bench: %s\n", err);
        return 1;
    }
    ob_translator_slot_swap(&slot, x);
    struct ob_translator_slot *slots[OB_FE__COUNT] = {&slot, &slot};
    struct ob_ingest *in;
    if (ob_ingest_create(store, cfg, slots, &in) != 0) {
        fprintf(stderr, "ingest_bench: ingest: out of memory\n");
        return 1;
    }

    /* Round 2k goes to A, 2k + 1 to B: every round is newer than the last. */
    const int64_t s = 1000 * OB_NS_PER_MS;
    int64_t ts0 = (int64_t)time(NULL) * s - (int64_t)(2 * rounds + 2) * s;
    struct variant v[2];
    if (!strcmp(set, "exemplars")) {
        v[0] = (struct variant){.name = "without", .mixed = {.n_series = N_SERIES, .ts0_ns = ts0}};
        v[1] = (struct variant){.name = "with one exemplar per point",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0, .exemplars = true}};
    } else if (!strcmp(set, "histograms")) {
        v[0] = (struct variant){.name = "explicit, 10 bounds",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0,
                                          .only = OB_MIXED_HISTOGRAMS}};
        v[1] = (struct variant){.name = "exponential, 160 buckets",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0,
                                          .only = OB_MIXED_HISTOGRAMS, .exponential = true,
                                          .prefix = "b."}};
    } else if (!strcmp(set, "counters")) {
        v[0] = (struct variant){.name = "cumulative",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0,
                                          .only = OB_MIXED_COUNTERS}};
        v[1] = (struct variant){.name = "delta",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0,
                                          .only = OB_MIXED_COUNTERS, .delta = true,
                                          .prefix = "b."}};
    } else if (!strcmp(set, "forward")) {
        char path[80];
        snprintf(path, sizeof path, "%s.forward", shm);
        struct ob_store_info info;
        ob_store_info(store, &info);
        struct ob_fwdlog_opts fo = {.path = path, .cap = cfg->rw_log_size,
                                    .store_created_ns = info.hdr->created_ns};
        bool restarted;
        struct ob_fwdlog *log;
        if (ob_fwdlog_open(&fo, &log, err, &restarted) != 0) {
            fprintf(stderr, "ingest_bench: %s\n", err);
            return 1;
        }
        ob_fwdlog_unlink(path); /* gone at exit, whatever happens */
        v[0] = (struct variant){.name = "without remote write",
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0}};
        v[1] = (struct variant){.name = "with the forward log", .fwd = log,
                                .mixed = {.n_series = N_SERIES, .ts0_ns = ts0}};
    } else {
        fprintf(stderr, "ingest_bench: unknown set %s (exemplars, histograms, counters, forward)\n", set);
        return 2;
    }
    /* Histograms and counters: the variants are different series (an
     * exponential and an explicit histogram, a delta and a cumulative
     * counter cannot share one): B's names get a prefix. */
    int rc = 0;
    for (int k = 0; k < 2; k++)
        if (bench_templates_build(&v[k].t, &v[k].mixed) != 0)
            rc = 1;
    uint32_t per = v[0].t.per_round;
    struct ob_buf *bodies = calloc(per, sizeof *bodies);
    if (!bodies)
        rc = 1;
    /* A warm-up round of each creates the series. */
    for (int r = -1; r < rounds && rc == 0; r++) {
        for (int k = 0; k < 2 && rc == 0; k++) {
            uint64_t round = (uint64_t)(2 * (r + 1) + k);
            uint32_t n = build_round(&v[k], round, bodies);
            struct variant scratch = v[k];
            if (n == 0 || ingest_round(in, r < 0 ? &scratch : &v[k], bodies, n) != 0)
                rc = 1;
        }
    }
    printf("ingest_bench: set %s, %d rounds of %u series per variant, alternating, one thread\n",
           set, rounds, N_SERIES);
    for (int k = 0; k < 2 && rc == 0; k++) {
        double ns = v[k].ingest_s * 1e9 / (double)v[k].points;
        double dns = v[k].decode_s * 1e9 / (double)v[k].points;
        printf("RESULT variant=\"%s\" points=%llu exemplars_stored=%llu rejected=%llu "
               "bytes_per_point=%.0f ingest_ns_per_point=%.0f decode_ns_per_point=%.0f "
               "points_per_s=%.0f\n",
               v[k].name, (unsigned long long)v[k].points, (unsigned long long)v[k].exemplars,
               (unsigned long long)v[k].rejected, (double)v[k].bytes / (double)v[k].points, ns, dns,
               1e9 / ns);
        if (v[k].rejected)
            rc = 1;
    }
    if (rc == 0) {
        double a = v[0].ingest_s / (double)v[0].points, b = v[1].ingest_s / (double)v[1].points;
        double da = v[0].decode_s / (double)v[0].points, db = v[1].decode_s / (double)v[1].points;
        printf("RATIO set=%s %s/%s: ingest %.2fx (of which protobuf-c decode: %.0f of the %.0f "
               "ns added per point)\n",
               set, v[1].name, v[0].name, b / a, (db - da) * 1e9, (b - a) * 1e9);
    }
    for (uint32_t b = 0; b < per && bodies; b++)
        ob_buf_fini(&bodies[b]);
    for (int k = 0; k < 2; k++)
        bench_templates_free(&v[k].t);
    ob_fwdlog_close(v[1].fwd);
    free(bodies);
    ob_ingest_destroy(in);
    ob_translator_slot_fini(&slot);
    ob_store_close(store);
    ob_store_unlink(shm);
    ob_config_destroy(cfg);
    return rc;
}
