/* otlp-broker-inspect: a store segment, read-only and lock-free, while a
 * broker uses it or after one died.
 *
 *   otlp-broker-inspect [STORE]                 header, layout, usage
 *   otlp-broker-inspect STORE --families        families: name, type, series
 *   otlp-broker-inspect STORE --series NAME [LABELS]
 *                                               every kept sample of one series,
 *                                               oldest first (out-of-order questions)
 *   otlp-broker-inspect STORE --check           the checks a repair makes on
 *                                               attach; exit 1 when one fails
 *   otlp-broker-inspect STORE --forward [LOG]   remote write's forward log
 *                                               (default STORE.forward): size,
 *                                               records, each target's backlog
 *
 * STORE is a store.path ("/name" = POSIX shm), default /otlp-broker.  Exit
 * status: 0 fine, 1 problems found, 2 usage, 3 the store cannot be read (no
 * such segment, not a store, another layout: the message says which). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_store.h"

static const char *const family_types[OB_FAMILY__COUNT] = {"unknown", "gauge", "counter",
                                                           "histogram", "summary"};

static void usage(FILE *f)
{
    fprintf(f, "usage: otlp-broker-inspect [STORE] [--families | --series NAME [LABELS] | --check |\n"
               "                                    --forward [LOG]]\n"
               "STORE: a store.path, \"/name\" for POSIX shared memory (default /otlp-broker)\n");
}

static void put_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "-");
}

/* The forward log: its size and each remote-write target's backlog. */
static int print_forward(const char *path)
{
    char err[OB_ERR_LEN];
    struct ob_fwdlog *l;
    if (ob_fwdlog_open_readonly(path, &l, err) != 0) {
        fprintf(stderr, "otlp-broker-inspect: %s\n", err);
        return 3;
    }
    struct ob_fwdlog_stats st;
    ob_fwdlog_stats(l, &st);
    printf("forward log %s\n", path);
    printf("  ring            %" PRIu64 " of %" PRIu64 " bytes in use; positions %" PRIu64 " (tail) to %" PRIu64
           " (head)\n",
           st.used, st.cap, st.tail, st.head);
    printf("  records         %" PRIu64 " written, %" PRIu64 " overwritten before every target had them\n",
           st.records, st.overwritten);
    printf("targets (name, records not yet taken by the receiver, oldest written at):\n");
    struct ob_fwdlog_target t;
    for (uint32_t i = 0; i < OB_FWDLOG_TARGETS; i++) {
        if (!ob_fwdlog_target(l, i, &t))
            continue;
        char when[32];
        put_time(t.wall_ms, when);
        printf("  %-20s %12" PRIu64 "  %s%s\n", t.name, t.pending, t.pending ? when : "(caught up)",
               t.lapped ? "  (the ring overwrote the oldest: lost)" : "");
    }
    ob_fwdlog_close(l);
    return 0;
}

static void print_info(struct ob_store *s, const char *path)
{
    struct ob_store_info in;
    struct ob_store_stats st;
    ob_store_info(s, &in);
    ob_store_stats(s, &st);
    const struct ob_store_hdr *h = in.hdr;
    time_t created = (time_t)(h->created_ns / 1000000000);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&created));
    printf("store %s\n", path);
    printf("  layout          version %u, signature %016" PRIx64 ", page %" PRIu64 " B\n",
           h->layout_version, h->layout_sig, h->page_size);
    printf("  created         %s, %" PRIu64 " writable attaches, %s\n", when, h->generation,
           h->clean_shutdown ? "closed cleanly" : "open (a broker uses it, or one died)");
    printf("  mapping         %" PRIu64 " bytes\n", h->map_size);
    printf("  settings        out-of-order window %" PRId64 " ms, series ttl %" PRId64
           " ms, delta reset %" PRId64 " ms\n",
           h->ooo_window_ms, h->series_ttl_ms, h->delta_reset_ms);
    printf("  series          %u live of %u slots (%u ever handed out), %u samples each\n",
           st.series_live, st.series_max, in.slots_used, h->samples_per_series);
    printf("  families        %u live of %u slots (%u ever handed out)\n", st.families,
           st.families_max, in.families_ever);
    printf("  heap            %" PRIu64 " of %" PRIu64 " bytes in use, %" PRIu64
           " up to the bump; at offset %" PRIu64 "\n",
           st.heap_used, st.heap_bytes, in.heap_bump - in.heap_start, in.heap_start);
    printf("  exemplars       %" PRIu64 " of %" PRIu64 " bytes\n", st.exemplar_bytes,
           st.exemplar_budget);
    printf("  index           %u entries for series, %u for families\n", in.index_cap,
           in.fam_index_cap);
}

struct fam_list {
    const char *name;
    uint32_t name_len;
    const char *type;
    uint64_t series;
    int any;
};

static int list_family(void *ctx, const struct ob_family_view *f)
{
    struct fam_list *l = ctx;
    if (l->any)
        printf("  %-60.*s %-10s %8" PRIu64 "\n", (int)l->name_len, l->name, l->type, l->series);
    l->name = f->name;
    l->name_len = f->name_len;
    l->type = (unsigned)f->type < OB_FAMILY__COUNT ? family_types[f->type] : "?";
    l->series = 0;
    l->any = 1;
    return 0;
}

static int count_series(void *ctx, const struct ob_series_view *sv)
{
    OB_UNUSED(sv);
    ((struct fam_list *)ctx)->series++;
    return 0;
}

static void print_sample(void *ctx, int64_t ts_ms, const double *v, uint32_t width)
{
    OB_UNUSED(ctx);
    time_t t = (time_t)(ts_ms / 1000);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", gmtime(&t));
    printf("  %" PRId64 "  %s.%03dZ ", ts_ms, when, (int)(ts_ms % 1000));
    for (uint32_t i = 0; i < width && i < 16; i++)
        printf(" %.17g", v[i]);
    printf(width > 16 ? " ... (%u values)\n" : "\n", width);
}

static void print_problem(void *ctx, const char *what)
{
    OB_UNUSED(ctx);
    printf("  problem: %s\n", what);
}

int main(int argc, char **argv)
{
    const char *path = "/otlp-broker";
    int arg = 1;
    if (arg < argc && argv[arg][0] != '-')
        path = argv[arg++];
    if (arg < argc && (!strcmp(argv[arg], "-h") || !strcmp(argv[arg], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (arg < argc && !strcmp(argv[arg], "--forward") && arg + 2 >= argc) {
        /* The log alone: it is read without the store. */
        char log[4096];
        snprintf(log, sizeof log, "%s.forward", path);
        return print_forward(arg + 1 < argc ? argv[arg + 1] : log);
    }
    char err[OB_ERR_LEN];
    struct ob_store *s;
    int rc = ob_store_open_readonly(path, &s, err);
    if (rc != 0) {
        fprintf(stderr, "otlp-broker-inspect: %s\n", err[0] ? err : ob_strerror(rc));
        return 3;
    }
    int status = 0;
    if (arg == argc) {
        print_info(s, path);
    } else if (!strcmp(argv[arg], "--families") && arg + 1 == argc) {
        struct fam_list l = {0};
        printf("  %-60s %-10s %8s\n", "family", "type", "series");
        ob_store_scan(s, (int64_t)time(NULL) * 1000, 0, list_family, count_series, &l);
        list_family(&l, &(struct ob_family_view){.name = ""});
    } else if (!strcmp(argv[arg], "--series") && arg + 1 < argc && arg + 3 >= argc) {
        const char *labels = arg + 2 < argc ? argv[arg + 2] : "";
        printf("series %s{%s}: ts_ms, time, values (the store's sample layout)\n", argv[arg + 1],
               labels);
        long n = ob_store_series_samples(s, argv[arg + 1], labels, print_sample, NULL);
        if (n < 0) {
            fprintf(stderr, "otlp-broker-inspect: %s{%s}: %s\n", argv[arg + 1], labels,
                    n == -ENOENT ? "no such series" : ob_strerror((int)n));
            status = 1;
        }
    } else if (!strcmp(argv[arg], "--check") && arg + 1 == argc) {
        uint64_t n = ob_store_check(s, print_problem, NULL);
        printf("check %s: %" PRIu64 " problem%s\n", path, n, n == 1 ? "" : "s");
        status = n ? 1 : 0;
    } else {
        usage(stderr);
        status = 2;
    }
    ob_store_close(s);
    return status;
}
