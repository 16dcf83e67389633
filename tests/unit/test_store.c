/* test_store.c: the shared-memory series store, through its API, a forked
 * second process and direct pokes at the documented layout. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ob_error.h"
#include "ob_float.h"
#include "ob_store.h"
#include "ob_store_layout.h"
#include "ob_store_lock.h"
#include "ob_store_test.h"

static char shm_name[64];
static char errbuf[OB_ERR_LEN];

static void setup(void)
{
    static int counter;
    snprintf(shm_name, sizeof shm_name, "/obtest-store-%d-%d", (int)getpid(), counter++);
    ob_store_unlink(shm_name);
}

static void teardown(void)
{
    ob_store_unlink(shm_name);
}

static struct ob_store_opts default_opts(void)
{
    struct ob_store_opts o = {
        .path = shm_name,
        .max_series = 64,
        .max_families = 8,
        .samples_per_series = 4,
        .heap_bytes = 0,
        .ooo_window_ms = 600000,
        .series_ttl_ms = 300000,
        .recreate = false,
    };
    return o;
}

static struct ob_store *open_ok(const struct ob_store_opts *o)
{
    struct ob_store *s = NULL;
    int rc = ob_store_open(o, &s, errbuf);
    ck_assert_msg(rc == 0, "open: %d %s", rc, errbuf);
    return s;
}

/* The generation of each family id as fam() last resolved it: ref_of()
 * puts it in the refs, as the ingest does. */
static uint32_t fam_gens[1024];

static uint32_t fam(struct ob_store *s, const char *name, enum ob_family_type type)
{
    uint32_t id = UINT32_MAX, gen = 0;
    ck_assert_int_eq(ob_store_family(s, name, strlen(name), type, "help", 4, &id, &gen), 0);
    ck_assert_uint_lt(id, 1024);
    fam_gens[id] = gen;
    return id;
}

static struct ob_series_ref ref_of(uint32_t family, const char *key)
{
    struct ob_series_ref r = {
        .family = family,
        .family_gen = family < 1024 ? fam_gens[family] : 0,
        .hash = ob_store_hash(family, key, strlen(key)),
        .key = key,
        .key_len = (uint32_t)strlen(key),
    };
    return r;
}

static const struct ob_shape scalar = {OB_SHAPE_SCALAR, 0, NULL, false};

static int app(struct ob_store *s, uint32_t family, const char *key, int64_t ts, double v, int64_t now,
               unsigned *flags)
{
    struct ob_series_ref r = ref_of(family, key);
    return ob_store_append_at(s, &r, &scalar, ts, &v, now, flags);
}

/* ---- a scan that records what it saw ---- */

struct seen {
    int families;
    char fam_names[16][32];
    char fam_help[16][32];
    int series;
    char labels[256][64];
    int64_t ts[256];
    double v0[256];
    uint32_t width[256];
};

static uint32_t view_width(const struct ob_series_view *sv)
{
    struct ob_shape sh = {sv->kind, sv->n, sv->points, sv->has_sum};
    return ob_shape_width(&sh);
}

static int on_family(void *ctx, const struct ob_family_view *f)
{
    struct seen *w = ctx;
    ck_assert_int_lt(w->families, 16);
    snprintf(w->fam_names[w->families], 32, "%.*s", (int)f->name_len, f->name);
    snprintf(w->fam_help[w->families], 32, "%.*s", (int)f->help_len, f->help);
    w->families++;
    return 0;
}

static int on_series(void *ctx, const struct ob_series_view *sv)
{
    struct seen *w = ctx;
    if (w->series < 256) {
        snprintf(w->labels[w->series], 64, "%.*s", (int)sv->labels_len, sv->labels);
        w->ts[w->series] = sv->ts_ms;
        w->v0[w->series] = sv->values[0];
        w->width[w->series] = view_width(sv);
    }
    w->series++;
    return 0;
}

static void scan(struct ob_store *s, int64_t now, struct seen *w)
{
    memset(w, 0, sizeof *w);
    ck_assert_int_eq(ob_store_scan(s, now, 0, on_family, on_series, w), 0);
}

/* ---- open, attach, validation ---- */

START_TEST(create_attach_reattach)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "temp", OB_FAMILY_GAUGE);
    uint32_t c = fam(s, "reqs_total", OB_FAMILY_COUNTER);
    ck_assert_uint_eq(g, 0);
    ck_assert_uint_eq(c, 1);
    unsigned flags;
    ck_assert_int_eq(app(s, g, "room=\"a\"", 1000, 21.5, 1000, &flags), 0);
    ck_assert_uint_eq(flags, OB_APPEND_NEW_SERIES);
    ck_assert_int_eq(app(s, g, "room=\"b\"", 1000, 19.0, 1000, &flags), 0);
    ck_assert_int_eq(app(s, c, "code=\"200\"", 1000, 7, 1000, &flags), 0);
    ck_assert_int_eq(app(s, g, "room=\"a\"", 2000, 22.5, 2000, &flags), 0);
    ck_assert_uint_eq(flags, 0);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, 3);
    ck_assert_uint_eq(st.series_max, 64);
    ck_assert_uint_eq(st.families, 2);
    ck_assert_uint_eq(st.families_max, 8);
    ck_assert_uint_gt(st.heap_used, 0);
    ck_assert_uint_le(st.heap_used, st.heap_bytes);
    ck_assert_uint_gt(st.map_bytes, st.heap_bytes);
    ck_assert_uint_eq(st.repairs, 0);
    ob_store_close(s);

    /* Re-attach: same families (same ids), same series, no repair. */
    o.ooo_window_ms = 1000; /* runtime settings may change */
    s = open_ok(&o);
    ck_assert_uint_eq(fam(s, "reqs_total", OB_FAMILY_COUNTER), 1);
    struct seen w;
    scan(s, 2000, &w);
    ck_assert_int_eq(w.families, 2);
    ck_assert_str_eq(w.fam_names[0], "temp");
    ck_assert_str_eq(w.fam_help[0], "help");
    ck_assert_str_eq(w.fam_names[1], "reqs_total");
    ck_assert_int_eq(w.series, 3);
    ck_assert_str_eq(w.labels[0], "room=\"a\"");
    ck_assert_int_eq(w.ts[0], 2000);
    ck_assert(w.v0[0] == 22.5);
    ck_assert_str_eq(w.labels[1], "room=\"b\"");
    ck_assert_str_eq(w.labels[2], "code=\"200\"");
    ck_assert(w.v0[2] == 7);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 0);
    /* The new window applies: 1.5 s back is now out of bounds. */
    ck_assert_int_eq(app(s, g, "room=\"a\"", 500, 1, 2000, NULL), OB_E_OUT_OF_BOUNDS);
    ob_store_close(s);

    /* A file path works the same way (persistence). */
    char dir[] = "/tmp/obstoreXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/store", dir);
    o.path = path;
    s = open_ok(&o);
    g = fam(s, "temp", OB_FAMILY_GAUGE);
    ck_assert_int_eq(app(s, g, "x=\"1\"", 5, 5, 5, NULL), 0);
    ob_store_close(s);
    s = open_ok(&o);
    scan(s, 5, &w);
    ck_assert_int_eq(w.series, 1);
    ob_store_close(s);
    ck_assert_int_eq(ob_store_unlink(path), 0);
    rmdir(dir);
}
END_TEST

/* Maps the segment read-write behind the store's back. */
static struct ob_store_hdr *map_hdr(void)
{
    int fd = shm_open(shm_name, O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    close(fd);
    return p;
}

static void expect_refused(const struct ob_store_opts *o, int code, const char *a, const char *b)
{
    struct ob_store *s = NULL;
    int rc = ob_store_open(o, &s, errbuf);
    ck_assert_int_eq(rc, code);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(errbuf, a) && strstr(errbuf, b), "message \"%s\" lacks %s / %s", errbuf, a, b);
}

START_TEST(refuse_incompatible)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    fam(s, "keep", OB_FAMILY_GAUGE);
    ob_store_close(s);
    struct ob_store_hdr *h = map_hdr();
    struct ob_store_hdr saved = *h;
    char num[2][32];

    memcpy(h->magic, "XXSTORE1", 8);
    expect_refused(&o, OB_E_STORE_MAGIC, "XXSTORE1", OB_STORE_MAGIC);
    *h = saved;

    h->layout_version = 99;
    char uses[32];
    snprintf(uses, sizeof uses, "uses %u", OB_STORE_LAYOUT_VERSION);
    expect_refused(&o, OB_E_STORE_VERSION, "99", uses);
    *h = saved;

    h->layout_sig ^= 0xff;
    snprintf(num[0], 32, "%016llx", (unsigned long long)h->layout_sig);
    snprintf(num[1], 32, "%016llx", (unsigned long long)saved.layout_sig);
    expect_refused(&o, OB_E_STORE_LAYOUT, num[0], num[1]);
    *h = saved;

    h->generation += 5; /* without a new checksum */
    snprintf(num[0], 32, "%016llx", (unsigned long long)h->header_cksum);
    expect_refused(&o, OB_E_STORE_CKSUM, "checksum", num[0]);
    *h = saved;

    struct ob_store_opts bigger = o;
    bigger.max_series = 128;
    expect_refused(&bigger, OB_E_STORE_SIZE, "64 in the segment", "expected");
    bigger = o;
    bigger.samples_per_series = 9;
    expect_refused(&bigger, OB_E_STORE_SIZE, "samples_per_series", "9 expected");
    bigger = o;
    bigger.heap_bytes = 1u << 20;
    expect_refused(&bigger, OB_E_STORE_SIZE, "heap_bytes", "1048576 expected");

    /* Still intact after all the refusals. */
    s = open_ok(&o);
    uint32_t id;
    ck_assert_int_eq(ob_store_family(s, "keep", 4, OB_FAMILY_GAUGE, NULL, 0, &id, NULL), 0);
    ck_assert_uint_eq(id, 0);
    ob_store_close(s);

    /* recreate replaces an incompatible segment. */
    memcpy(h->magic, "garbage!", 8);
    expect_refused(&o, OB_E_STORE_MAGIC, "garbage!", OB_STORE_MAGIC);
    bigger = o;
    bigger.recreate = true;
    bigger.max_series = 128;
    s = open_ok(&bigger);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_max, 128);
    ck_assert_uint_eq(st.families, 0);
    ob_store_close(s);
    munmap(h, 4096);

    /* Not a store at all: too short. */
    int fd = shm_open(shm_name, O_RDWR | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "hello", 5), 5);
    close(fd);
    expect_refused(&o, OB_E_STORE_MAGIC, "5 bytes", OB_STORE_MAGIC);
}
END_TEST

START_TEST(second_opener_locked)
{
    struct ob_store_opts o = default_opts();
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        struct ob_store *s = NULL;
        char e[OB_ERR_LEN];
        char c = ob_store_open(&o, &s, e) == 0 ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
            _exit(2);
        ob_store_close(s);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char c = 0;
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "pid %d", (int)pid);
    expect_refused(&o, OB_E_STORE_LOCKED, "in use by another broker", pidtxt);
    close(down[1]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Released with the owner. */
    ob_store_close(open_ok(&o));
}
END_TEST

START_TEST(readonly)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    ck_assert_int_eq(app(s, g, "a=\"1\"", 10, 1.5, 10, NULL), 0);
    ob_store_close(s);
    struct ob_store *r = NULL;
    ck_assert_int_eq(ob_store_open_readonly(shm_name, &r, errbuf), 0);
    struct seen w;
    scan(r, 10, &w);
    ck_assert_int_eq(w.series, 1);
    ck_assert(w.v0[0] == 1.5);
    ck_assert_int_eq(app(r, 0, "a=\"1\"", 11, 1, 11, NULL), -EROFS);
    ob_store_close(r);
    ck_assert_int_eq(ob_store_open_readonly("/obtest-no-such-store", &r, errbuf), -ENOENT);
}
END_TEST

/* ---- samples ---- */

static double newest_value(struct ob_store *s, int64_t now, int64_t *out_ts)
{
    struct seen w;
    scan(s, now, &w);
    ck_assert_int_eq(w.series, 1);
    *out_ts = w.ts[0];
    return w.v0[0];
}

START_TEST(sample_rules)
{
    struct ob_store_opts o = default_opts();
    o.ooo_window_ms = 2000;
    o.samples_per_series = 3;
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    unsigned fl;
    int64_t ts;
    ck_assert_int_eq(app(s, g, "k", 10000, 1, 1, &fl), 0);
    ck_assert_int_eq(app(s, g, "k", 12000, 3, 1, &fl), 0);
    /* Out of order but in the window: kept, the newest stays on show. */
    ck_assert_int_eq(app(s, g, "k", 11500, 2, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    ck_assert(newest_value(s, 1, &ts) == 3);
    ck_assert_int_eq(ts, 12000);
    /* Outside the window. */
    ck_assert_int_eq(app(s, g, "k", 9999, 9, 1, &fl), OB_E_OUT_OF_BOUNDS);
    /* Resend of a kept sample, duplicates with other values. */
    ck_assert_int_eq(app(s, g, "k", 11500, 2, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    ck_assert_int_eq(app(s, g, "k", 12000, 3, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    ck_assert_int_eq(app(s, g, "k", 11500, 2.5, 1, &fl), OB_E_DUPLICATE);
    ck_assert_int_eq(app(s, g, "k", 12000, 4, 1, &fl), OB_E_DUPLICATE);
    double nan = NAN;
    struct ob_series_ref r = ref_of(g, "k");
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 13000, &nan, 1, &fl), 0);
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 13000, &nan, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    /* Ring of 3 is full (11500, 12000, 13000): 11000 is in the window but
     * older than all kept: accepted, not kept, so its resend is accepted too. */
    ck_assert_int_eq(app(s, g, "k", 12100, 5, 1, &fl), 0); /* evicts 11500 */
    ck_assert_int_eq(app(s, g, "k", 11500, 7, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    ck_assert_int_eq(app(s, g, "k", 11500, 8, 1, &fl), 0);
    ck_assert(isnan(newest_value(s, 1, &ts)));
    ck_assert_int_eq(ts, 13000);
    /* 12000 and 12100 kept: resends still recognised. */
    ck_assert_int_eq(app(s, g, "k", 12100, 5, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    ck_assert_int_eq(app(s, g, "k", 14000, 6, 1, &fl), 0);
    ck_assert(newest_value(s, 1, &ts) == 6);
    ob_store_close(s);
}
END_TEST

START_TEST(format_points)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {10, "10"},
        {0.005, "0.005"},
        {0.1, "0.1"},
        {2.5, "2.5"},
        {-2.5, "-2.5"},
        {1e-9, "0.000000001"},
        {1e21, "1000000000000000000000"},
        {123456.789, "123456.789"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.5e-7, "0.00000015"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {0.99, "0.99"},
        {5e-324, NULL},
    };
    char buf[400];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = ob_format_double_fixed(cases[i].v, buf);
        ck_assert_uint_eq(n, strlen(buf));
        if (cases[i].text)
            ck_assert_str_eq(buf, cases[i].text);
        ck_assert(strtod(buf, NULL) == cases[i].v);
        ck_assert_ptr_null(strchr(buf, 'e'));
    }
}
END_TEST

struct hseen {
    int series;
    struct ob_series_view last;
    double values[16];
    double points[8];
    char labels[64];
};

static int h_family(void *ctx, const struct ob_family_view *f)
{
    (void)ctx;
    (void)f;
    return 0;
}

static int h_series(void *ctx, const struct ob_series_view *sv)
{
    struct hseen *w = ctx;
    w->series++;
    w->last = *sv;
    uint32_t width = view_width(sv);
    ck_assert_uint_le(width, 16);
    memcpy(w->values, sv->values, 8u * width);
    ck_assert_uint_le(sv->n, 8);
    memcpy(w->points, sv->points, 8u * sv->n); /* numbers only: texts are the exposition's */
    snprintf(w->labels, sizeof w->labels, "%.*s", (int)sv->labels_len, sv->labels);
    return 0;
}

/* A family's UNIT: set, kept, replaced (latest wins), gone with the family
 * id's generation; scans hand it out. */
static int u_family(void *ctx, const struct ob_family_view *f)
{
    snprintf(ctx, 64, "%.*s", (int)f->unit_len, f->unit);
    return 0;
}

static int u_series(void *ctx, const struct ob_series_view *sv)
{
    (void)ctx;
    (void)sv;
    return 0;
}

START_TEST(family_unit)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t id, gen;
    ck_assert_int_eq(ob_store_family(s, "lat_seconds", 11, OB_FAMILY_GAUGE, "", 0, &id, &gen), 0);
    ck_assert_int_eq(ob_store_family_unit(s, id, gen, "seconds", 7), 0);
    ck_assert_int_eq(ob_store_family_unit(s, id, gen, "seconds", 7), 0); /* unchanged */
    const double one = 1;
    struct ob_series_ref r = ref_of(id, "");
    r.family_gen = gen;
    ck_assert_int_eq(ob_store_append_at(s, &r, &(struct ob_shape){OB_SHAPE_SCALAR, 0, NULL, false},
                                        1000, &one, 1, NULL),
                     0);
    char unit[64] = "";
    ck_assert_int_eq(ob_store_scan(s, 1, 0, u_family, u_series, unit), 0);
    ck_assert_str_eq(unit, "seconds");
    ck_assert_int_eq(ob_store_family_unit(s, id, gen, "ms", 2), 0); /* latest wins */
    ck_assert_int_eq(ob_store_scan(s, 1, 0, u_family, u_series, unit), 0);
    ck_assert_str_eq(unit, "ms");
    ck_assert_int_eq(ob_store_family_unit(s, id, gen, "", 0), 0);
    ck_assert_int_eq(ob_store_scan(s, 1, 0, u_family, u_series, unit), 0);
    ck_assert_str_eq(unit, "");
    ck_assert_int_eq(ob_store_family_unit(s, id, gen + 1, "x", 1), OB_E_STALE_FAMILY);
    ob_store_close(s);
}
END_TEST

START_TEST(histogram_summary_reshape)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t h = fam(s, "lat_seconds", OB_FAMILY_HISTOGRAM);
    double bounds[] = {0.005, 1, 10};
    struct ob_shape hs = {OB_SHAPE_HISTOGRAM, 3, bounds, true};
    ck_assert_uint_eq(ob_shape_width(&hs), 6);
    double v1[6] = {10, 12.5, 1, 4, 9, 10}; /* count, sum, buckets, +Inf */
    struct ob_series_ref r = ref_of(h, "path=\"/\"");
    unsigned fl;
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs, 1000, v1, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    double v2[6] = {20, 30, 2, 8, 19, 20};
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs, 2000, v2, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);

    struct hseen w = {0};
    ck_assert_int_eq(ob_store_scan(s, 1, 0, h_family, h_series, &w), 0);
    ck_assert_int_eq(w.series, 1);
    ck_assert_int_eq(w.last.kind, OB_SHAPE_HISTOGRAM);
    ck_assert_uint_eq(w.last.n, 3);
    ck_assert(w.last.has_sum);
    ck_assert_int_eq(w.last.ts_ms, 2000);
    ck_assert_mem_eq(w.values, v2, sizeof v2);
    ck_assert_mem_eq(w.points, bounds, sizeof bounds);
    ck_assert(w.last.points[0] == 0.005 && w.last.points[2] == 10);

    /* Older point of the same shape: kept in order, newest still shown. */
    double v15[6] = {15, 20, 1, 6, 14, 15};
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs, 1500, v15, 1, &fl), 0);
    /* New bounds: shape replaced, history dropped. */
    double b2[] = {1, 2};
    struct ob_shape hs2 = {OB_SHAPE_HISTOGRAM, 2, b2, true};
    double v3[5] = {3, 3.5, 1, 2, 3};
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs2, 1200, v3, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);
    memset(&w, 0, sizeof w);
    ck_assert_int_eq(ob_store_scan(s, 1, 0, h_family, h_series, &w), 0);
    ck_assert_uint_eq(w.last.n, 2);
    ck_assert_int_eq(w.last.ts_ms, 1200);
    ck_assert_mem_eq(w.values, v3, sizeof v3);
    ck_assert_mem_eq(w.points, b2, sizeof b2);
    /* has_sum alone is a different shape too. */
    struct ob_shape hs3 = {OB_SHAPE_HISTOGRAM, 2, b2, false};
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs3, 1300, v3, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);
    ck_assert_int_eq(ob_store_append_at(s, &r, &hs3, 1300, v3, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);

    /* Summary. */
    uint32_t q = fam(s, "rpc", OB_FAMILY_SUMMARY);
    double qs[] = {0.5, 0.99};
    struct ob_shape ss = {OB_SHAPE_SUMMARY, 2, qs, false};
    double sv[4] = {100, 2000, 12, 40};
    struct ob_series_ref rq = ref_of(q, "");
    ck_assert_int_eq(ob_store_append_at(s, &rq, &ss, 5, sv, 1, &fl), 0);
    memset(&w, 0, sizeof w);
    ck_assert_int_eq(ob_store_scan(s, 1, 0, h_family, h_series, &w), 0);
    ck_assert_int_eq(w.series, 2);
    ck_assert_int_eq(w.last.kind, OB_SHAPE_SUMMARY);
    ck_assert(w.last.has_sum);
    ck_assert_mem_eq(w.values, sv, sizeof sv);
    ck_assert_mem_eq(w.points, qs, sizeof qs);
    ck_assert_uint_eq(w.last.labels_len, 0);

    /* Bad shapes are refused. */
    struct ob_shape bad = {OB_SHAPE_HISTOGRAM, 3, NULL, true};
    ck_assert_int_eq(ob_store_append_at(s, &r, &bad, 5000, v1, 1, &fl), -EINVAL);
    bad.kind = (enum ob_shape_kind)7;
    ck_assert_int_eq(ob_store_append_at(s, &r, &bad, 5000, v1, 1, &fl), -EINVAL);
    struct ob_series_ref nofam = ref_of(9, "x");
    ck_assert_int_eq(ob_store_append_at(s, &nofam, &scalar, 5000, v1, 1, &fl), -EINVAL);
    ob_store_close(s);
}
END_TEST

/* ---- families, labels, origin ---- */

START_TEST(family_rules)
{
    struct ob_store_opts o = default_opts();
    o.max_families = 2;
    struct ob_store *s = open_ok(&o);
    uint32_t a, b, x;
    ck_assert_int_eq(ob_store_family(s, "a", 1, OB_FAMILY_GAUGE, "old help", 8, &a, NULL), 0);
    ck_assert_int_eq(ob_store_family(s, "a", 1, OB_FAMILY_COUNTER, "old help", 8, &x, NULL), OB_E_TYPE_CONFLICT);
    ck_assert_int_eq(ob_store_family(s, "a", 1, OB_FAMILY_GAUGE, "new help", 8, &x, NULL), 0);
    ck_assert_uint_eq(x, a);
    ck_assert_int_eq(ob_store_family(s, "b", 1, OB_FAMILY_COUNTER, NULL, 0, &b, NULL), 0);
    ck_assert_uint_eq(b, 1);
    ck_assert_int_eq(ob_store_family(s, "c", 1, OB_FAMILY_GAUGE, NULL, 0, &x, NULL), OB_E_STORE_FULL);
    ck_assert_int_eq(ob_store_family(s, "b", 1, OB_FAMILY_COUNTER, NULL, 0, &x, NULL), 0);
    ck_assert_uint_eq(x, b);
    ck_assert_int_eq(app(s, a, "k=\"1\"", 1, 1, 1, NULL), 0);
    ck_assert_int_eq(app(s, b, "k=\"1\"", 1, 1, 1, NULL), 0);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.families, 2);
    ck_assert_str_eq(w.fam_help[0], "new help");
    ck_assert_str_eq(w.fam_help[1], "");
    /* Same key in two families: two series. */
    ck_assert_int_eq(w.series, 2);
    ob_store_close(s);
}
END_TEST

START_TEST(labels_update_and_collision)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t t = fam(s, "target_info", OB_FAMILY_GAUGE);
    const char *key = "job=\"a\",instance=\"h\"";
    struct ob_series_ref r = ref_of(t, key);
    r.labels = "job=\"a\",instance=\"h\",version=\"1\"";
    r.labels_len = (uint32_t)strlen(r.labels);
    r.origin = 11;
    double one = 1;
    unsigned fl;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 10, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    r.labels = "job=\"a\",instance=\"h\",version=\"2\"";
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 20, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.series, 1);
    ck_assert_str_eq(w.labels[0], "job=\"a\",instance=\"h\",version=\"2\"");
    /* Back to labels == key. */
    r.labels = NULL;
    r.labels_len = 0;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 30, &one, 1, &fl), 0);
    scan(s, 1, &w);
    ck_assert_str_eq(w.labels[0], key);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, 1);

    /* Origins: a different nonzero origin is a collision, then it sticks. */
    r.origin = 12;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 40, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_COLLISION);
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 50, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    r.origin = 0;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 60, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    r.origin = 11;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 60, &one, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND | OB_APPEND_COLLISION);
    ob_store_close(s);
}
END_TEST

/* Distinct keys sharing one hash stay distinct series. */
START_TEST(hash_collision_keys)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    struct ob_series_ref a = ref_of(g, "k=\"a\""), b = ref_of(g, "k=\"b\"");
    b.hash = a.hash;
    double va = 1, vb = 2;
    unsigned fl;
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 1, &va, 1, &fl), 0);
    ck_assert_int_eq(ob_store_append_at(s, &b, &scalar, 1, &vb, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ck_assert_int_eq(ob_store_append_at(s, &b, &scalar, 1, &vb, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.series, 2);
    ck_assert(w.v0[0] == 1 && w.v0[1] == 2);
    ob_store_close(s);
}
END_TEST

/* ---- series hints ---- */

START_TEST(hints_follow_the_series)
{
    struct ob_store_opts o = default_opts();
    /* Longer than the grace: the slot is recycled while the family, empty
     * for less than series_ttl, stays. */
    o.series_ttl_ms = 40000;
    o.max_series = 1;
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    struct ob_series_hint ha = {0}, hb = {0};
    struct ob_series_ref a = ref_of(g, "k=\"a\""), b = ref_of(g, "k=\"b\"");
    b.hash = a.hash; /* b will take a's slot, and even its label block */
    a.hint = &ha;
    b.hint = &hb;
    int64_t t0 = 1000000;
    double v = 1;
    unsigned fl;
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 1, &v, t0, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ck_assert_uint_eq(ha.slot_plus1, 1);
    /* Through the hint: same rules as without it. */
    v = 2;
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 2, &v, t0, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 2, &v, t0, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    v = 3;
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 2, &v, t0, &fl), OB_E_DUPLICATE);
    ck_assert_uint_eq(ha.slot_plus1, 1);
    /* Another shape goes the long way (reshape) and keeps the hint. */
    double bounds[1] = {1}, hv[4] = {1, 1, 1, 1};
    struct ob_shape hist = {OB_SHAPE_HISTOGRAM, 1, bounds, true};
    ck_assert_int_eq(ob_store_append_at(s, &a, &hist, 3, hv, t0, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);
    ck_assert_uint_eq(ha.slot_plus1, 1);
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 4, &v, t0, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);

    /* a expires, its slot is recycled and b (same hash, same family, and
     * as the only series the same slot and label block) is created in it:
     * a's old hint must not lead a's samples into b. */
    ck_assert_uint_eq(ob_store_expire(s, t0 + 41000), 1);
    ck_assert_uint_eq(ob_store_expire(s, t0 + 41000 + OB_STORE_GRACE_MS), 0);
    int64_t t1 = t0 + 41000 + OB_STORE_GRACE_MS;
    v = 20;
    ck_assert_int_eq(ob_store_append_at(s, &b, &scalar, 10, &v, t1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ck_assert_uint_eq(hb.slot_plus1, ha.slot_plus1);
    ck_assert_uint_eq(hb.labels_off, ha.labels_off);
    v = 99;
    ck_assert_int_eq(ob_store_append_at(s, &a, &scalar, 11, &v, t1, &fl), OB_E_STORE_FULL);
    ck_assert_uint_eq(ha.slot_plus1, 0);
    struct seen w;
    scan(s, t1, &w);
    ck_assert_int_eq(w.series, 1);
    ck_assert_str_eq(w.labels[0], "k=\"b\"");
    ck_assert(w.ts[0] == 10 && w.v0[0] == 20);
    ob_store_close(s);
}
END_TEST

/* ---- expiry, reuse, full ---- */

START_TEST(expiry_and_reuse)
{
    struct ob_store_opts o = default_opts();
    o.series_ttl_ms = 1000;
    o.max_series = 3;
    struct ob_store *s = open_ok(&o);
    uint32_t a = fam(s, "a", OB_FAMILY_GAUGE);
    uint32_t b = fam(s, "b", OB_FAMILY_GAUGE);
    int64_t t0 = 1000000;
    ck_assert_int_eq(app(s, a, "s=\"1\"", 1, 1, t0, NULL), 0);
    ck_assert_int_eq(app(s, a, "s=\"2\"", 1, 2, t0, NULL), 0);
    ck_assert_int_eq(app(s, b, "s=\"3\"", 1, 3, t0 + 5000, NULL), 0);
    struct seen w;
    scan(s, t0 + 1000, &w);
    ck_assert_int_eq(w.series, 3);
    /* Stale series leave the scan before expire runs; family a is not announced. */
    scan(s, t0 + 5500, &w);
    ck_assert_int_eq(w.families, 1);
    ck_assert_str_eq(w.fam_names[0], "b");
    ck_assert_int_eq(w.series, 1);
    ck_assert_uint_eq(ob_store_expire(s, t0 + 5500), 2);
    ck_assert_uint_eq(ob_store_expire(s, t0 + 5500), 0);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, 1);
    scan(s, t0 + 5500, &w);
    ck_assert_int_eq(w.series, 1);

    /* The two slots are in limbo: no room for a new series yet. */
    ck_assert_int_eq(app(s, a, "s=\"4\"", 1, 4, t0 + 5600, NULL), OB_E_STORE_FULL);
    ck_assert_uint_eq(ob_store_expire(s, t0 + 5500 + OB_STORE_GRACE_MS - 1), 1); /* b's series */
    ck_assert_int_eq(app(s, a, "s=\"4\"", 1, 4, t0 + 5600, NULL), OB_E_STORE_FULL);
    ck_assert_uint_eq(ob_store_expire(s, t0 + 5500 + OB_STORE_GRACE_MS), 0);
    int64_t t1 = t0 + 5500 + OB_STORE_GRACE_MS;
    unsigned fl;
    /* a, without series for the ttl and the grace, was retired: its id is
     * stale, the name resolves to a new family. */
    ck_assert_int_eq(app(s, a, "s=\"4\"", 1, 4, t1, &fl), OB_E_STALE_FAMILY);
    a = fam(s, "a", OB_FAMILY_GAUGE);
    ck_assert_int_eq(app(s, a, "s=\"4\"", 1, 4, t1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    /* An expired series comes back as a new one, with fresh samples. */
    ck_assert_int_eq(app(s, a, "s=\"1\"", 1, 10, t1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ck_assert_int_eq(app(s, b, "s=\"9\"", 1, 9, t1, NULL), OB_E_STORE_FULL);
    scan(s, t1, &w);
    ck_assert_int_eq(w.series, 2);
    ck_assert_str_eq(w.labels[0], "s=\"4\"");
    ck_assert_str_eq(w.labels[1], "s=\"1\"");
    ck_assert(w.v0[1] == 10);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, 2);
    ob_store_close(s);
}
END_TEST

START_TEST(store_full)
{
    struct ob_store_opts o = default_opts();
    o.max_series = 2;
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    ck_assert_int_eq(app(s, g, "a", 1, 1, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, "b", 1, 1, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, "c", 1, 1, 1, NULL), OB_E_STORE_FULL);
    ck_assert_int_eq(app(s, g, "a", 2, 2, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, "b", 2, 2, 1, NULL), 0);
    ob_store_close(s);
    ob_store_unlink(shm_name);

    /* Heap full: labels too big for what is left. */
    o.max_series = 64;
    o.heap_bytes = 4096;
    s = open_ok(&o);
    g = fam(s, "g", OB_FAMILY_GAUGE);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(app(s, g, "a", 1, 1, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, big, 1, 1, 1, NULL), 0);
    big[0] = 'y';
    ck_assert_int_eq(app(s, g, big, 1, 1, 1, NULL), OB_E_STORE_FULL);
    ck_assert_int_eq(app(s, g, "a", 2, 2, 1, NULL), 0);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, 2);
    ck_assert_uint_le(st.heap_used, 4096);
    ob_store_close(s);
}
END_TEST

/* ---- crashes ---- */

static void wait_child(pid_t pid, int want)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), want);
}

START_TEST(dead_stripe_owner_repaired)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    struct ob_series_ref r = ref_of(g, "k=\"v\"");
    for (int i = 1; i <= 3; i++) {
        double v = i;
        ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, i * 100, &v, 1, NULL), 0);
    }
    /* A writer dies mid-insert, holding the stripe. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(ob_store_test_hold_lock(s, OB_TEST_HOLD_HALF_WRITE, r.hash) == 0 ? 0 : 1);
    wait_child(pid, 0);

    double v = 4;
    unsigned fl;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 400, &v, 1, &fl), 0);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 1);
    /* Every sample survived: resends are recognised, newest is 400. */
    for (int i = 1; i <= 4; i++) {
        v = i;
        ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, i * 100, &v, 1, &fl), 0);
        ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    }
    int64_t ts;
    ck_assert(newest_value(s, 1, &ts) == 4);
    ck_assert_int_eq(ts, 400);

    /* A creator dies holding the create lock. */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(ob_store_test_hold_lock(s, OB_TEST_HOLD_CREATE, 0) == 0 ? 0 : 1);
    wait_child(pid, 0);
    ck_assert_int_eq(app(s, g, "k=\"w\"", 1, 1, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 2);
    ck_assert_uint_eq(st.series_live, 2);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.series, 2);
    ck_assert_str_eq(w.labels[0], "k=\"v\"");
    ck_assert_str_eq(w.labels[1], "k=\"w\"");
    /* A plain dead stripe owner (nothing half-written). */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(ob_store_test_hold_lock(s, OB_TEST_HOLD_STRIPE, r.hash) == 0 ? 0 : 1);
    wait_child(pid, 0);
    v = 5;
    ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 500, &v, 1, &fl), 0);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 3);
    ob_store_close(s);
}
END_TEST

START_TEST(kill9_reopen_keeps_everything)
{
    struct ob_store_opts o = default_opts();
    o.max_series = 200;
    enum { SERIES = 100, PER = 10 };
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ob_store *s = NULL;
        char e[OB_ERR_LEN];
        uint32_t g;
        if (ob_store_open(&o, &s, e) || ob_store_family(s, "g", 1, OB_FAMILY_GAUGE, NULL, 0, &g, NULL))
            _exit(1);
        for (int i = 0; i < PER; i++) {
            for (int k = 0; k < SERIES; k++) {
                char key[32];
                snprintf(key, sizeof key, "k=\"%d\"", k);
                struct ob_series_ref r = ref_of(g, key);
                double v = k * 1000 + i;
                if (ob_store_append_at(s, &r, &scalar, 1000 + i * 10, &v, 1, NULL))
                    _exit(2);
            }
        }
        /* And one series left mid out-of-order insert. */
        struct ob_series_ref r0 = ref_of(g, "k=\"0\"");
        if (ob_store_test_hold_lock(s, OB_TEST_HOLD_HALF_WRITE, r0.hash) != -EINVAL) /* ring full */
            _exit(3);
        struct ob_series_ref r1 = ref_of(g, "half");
        double v = 1;
        if (ob_store_append_at(s, &r1, &scalar, 5, &v, 1, NULL) ||
            ob_store_test_hold_lock(s, OB_TEST_HOLD_HALF_WRITE, r1.hash))
            _exit(4);
        _exit(0); /* no close: the segment stays marked in use */
    }
    wait_child(pid, 0);

    struct ob_store *s = open_ok(&o);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 1);
    ck_assert_uint_eq(st.series_live, SERIES + 1);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.series, SERIES + 1);
    for (int k = 0; k < SERIES; k++) {
        ck_assert_int_eq(w.ts[k], 1000 + (PER - 1) * 10);
        ck_assert(w.v0[k] == k * 1000 + PER - 1);
    }
    ck_assert_str_eq(w.labels[SERIES], "half");
    ck_assert_int_eq(w.ts[SERIES], 5);
    /* Every kept sample is still there (resends are recognised). */
    unsigned fl;
    for (int k = 0; k < SERIES; k += 7) {
        for (int i = PER - (int)o.samples_per_series; i < PER; i++) {
            char key[32];
            snprintf(key, sizeof key, "k=\"%d\"", k);
            ck_assert_int_eq(app(s, 0, key, 1000 + i * 10, k * 1000 + i, 1, &fl), 0);
            ck_assert_uint_eq(fl, OB_APPEND_RESEND);
        }
    }
    ck_assert_int_eq(app(s, 0, "half", 5, 1, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    ob_store_close(s);
    /* After a clean close, no repair. */
    s = open_ok(&o);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 0);
    ob_store_close(s);
}
END_TEST

/* A creator killed between taking a slot and linking it: repaired on attach. */
START_TEST(unclean_attach_rebuilds_lists)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t g = fam(s, "g", OB_FAMILY_GAUGE);
    ck_assert_int_eq(app(s, g, "a", 1, 1, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, "b", 1, 2, 1, NULL), 0);
    ck_assert_int_eq(app(s, g, "c", 1, 3, 1, NULL), 0);
    ob_store_close(s);
    /* Poke: unlink "b" from the family list and forget the index, as if a
     * creator died before linking; mark unclean. */
    int fd = shm_open(shm_name, O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    struct ob_store_hdr *h = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    size_t size = h->map_size;
    munmap(h, 4096);
    unsigned char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ck_assert_ptr_ne(base, MAP_FAILED);
    h = (struct ob_store_hdr *)base;
    struct ob_store_state *stt = (struct ob_store_state *)(base + OB_STORE_HDR_SIZE);
    ck_assert_uint_eq(stt->slots_used, 3);
    /* Families follow the lock pages; slots follow families and their index. */
    uint64_t page = h->page_size;
    uint64_t fams = page + ((64ull * (1 + OB_STORE_STRIPES) + page - 1) / page) * page;
    struct ob_store_family *f = (struct ob_store_family *)(base + fams);
    uint32_t head = atomic_load(&f[0].head);
    ck_assert_uint_eq(head, 0);
    uint64_t slots_off = fams + ((64ull * h->max_families + page - 1) / page) * page +
                         ((4ull * 16 + page - 1) / page) * page;
    struct ob_store_slot *sl = (struct ob_store_slot *)(base + slots_off);
    ck_assert_uint_eq(atomic_load(&sl[0].next), 1);
    atomic_store(&sl[0].next, 2); /* skip b */
    stt->heap_used = 0;           /* wrong counters get recomputed */
    atomic_store(&stt->series_live, 77);
    h->clean_shutdown = 0;
    h->header_cksum = XXH3_64bits(h, offsetof(struct ob_store_hdr, header_cksum));
    munmap(base, size);

    s = open_ok(&o);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 1);
    ck_assert_uint_eq(st.series_live, 3);
    ck_assert_uint_gt(st.heap_used, 0);
    struct seen w;
    scan(s, 1, &w);
    ck_assert_int_eq(w.series, 3);
    ck_assert_str_eq(w.labels[0], "a");
    ck_assert_str_eq(w.labels[1], "c");
    ck_assert_str_eq(w.labels[2], "b"); /* relinked at the tail */
    unsigned fl;
    ck_assert_int_eq(app(s, g, "b", 2, 5, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    ck_assert_int_eq(app(s, g, "d", 2, 5, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ob_store_close(s);
}
END_TEST

/* ---- concurrency ---- */

enum { CW_SERIES = 32, CW_BOUNDS = 20 };

struct cw {
    struct ob_store *s;
    uint32_t family;
    int id;
    _Atomic int *stop;
    long appended;
    long seen, torn;
};

static const double cw_bounds[CW_BOUNDS] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static void *cw_writer(void *arg)
{
    struct cw *c = arg;
    struct ob_shape sh = {OB_SHAPE_HISTOGRAM, CW_BOUNDS, cw_bounds, true};
    double v[CW_BOUNDS + 3];
    char key[32];
    for (int64_t ts = 1; !atomic_load(c->stop); ts++) {
        for (int k = 0; k < CW_SERIES; k++) {
            /* Each writer owns the series k % 2 == id, so timestamps stay monotonic per series;
             * the out-of-order path is exercised by a late resend of ts - 1. */
            if (k % 2 != c->id)
                continue;
            snprintf(key, sizeof key, "k=\"%d\"", k);
            struct ob_series_ref r = ref_of(c->family, key);
            for (int i = 0; i < CW_BOUNDS + 3; i++)
                v[i] = (double)ts;
            int rc = ob_store_append(c->s, &r, &sh, ts * 2, v, NULL);
            ck_assert_int_eq(rc, 0);
            if (ts > 1) {
                /* in-window older sample into the middle of the ring */
                for (int i = 0; i < CW_BOUNDS + 3; i++)
                    v[i] = (double)ts - 0.5;
                rc = ob_store_append(c->s, &r, &sh, ts * 2 - 1, v, NULL);
                ck_assert_int_eq(rc, 0);
            }
            c->appended++;
        }
    }
    return NULL;
}

static int cw_family(void *ctx, const struct ob_family_view *f)
{
    (void)ctx;
    (void)f;
    return 0;
}

static int cw_series(void *ctx, const struct ob_series_view *sv)
{
    struct cw *c = ctx;
    c->seen++;
    uint32_t width = view_width(sv);
    for (uint32_t i = 1; i < width; i++)
        if (memcmp(&sv->values[i], &sv->values[0], 8) != 0)
            c->torn++;
    if (sv->values[0] * 2 != (double)sv->ts_ms)
        c->torn++;
    return 0;
}

START_TEST(concurrent_writers_and_scanner)
{
    struct ob_store_opts o = default_opts();
    o.ooo_window_ms = 1000000;
    o.heap_bytes = 1u << 20; /* the derived heap assumes scalar series */
    struct ob_store *s = open_ok(&o);
    uint32_t h = fam(s, "h", OB_FAMILY_HISTOGRAM);
    _Atomic int stop = 0;
    struct cw w[2] = {{s, h, 0, &stop, 0, 0, 0}, {s, h, 1, &stop, 0, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, cw_writer, &w[i]), 0);
    struct cw reader = {s, h, 0, &stop, 0, 0, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int scans = 0;
    do {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        int64_t now_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
        ck_assert_int_eq(ob_store_scan(s, now_ms, 0, cw_family, cw_series, &reader), 0);
        scans++;
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 700);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_int_eq(reader.torn, 0);
    ck_assert_int_gt(reader.seen, 0);
    ck_assert_int_gt(w[0].appended + w[1].appended, CW_SERIES);
    /* Series were created concurrently by two threads: each exactly once. */
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, CW_SERIES);
    ob_store_close(s);
}
END_TEST

/* ---- figures (OB_STORE_BENCH=1; the assertions hold either way) ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_series(void *ctx, const struct ob_series_view *sv)
{
    (*(long *)ctx) += sv->n == 0;
    return 0;
}

static int count_family(void *ctx, const struct ob_family_view *f)
{
    (void)ctx;
    (void)f;
    return 0;
}

START_TEST(figures)
{
    bool big = getenv("OB_STORE_BENCH") != NULL;
    uint32_t n = big ? 1000000 : 20000;
    struct ob_store_opts o = default_opts();
    o.max_series = n;
    o.max_families = 16;
    o.samples_per_series = 1;
    struct ob_store *s = open_ok(&o);
    uint32_t fams[10];
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "metric_%d", i);
        fams[i] = fam(s, name, OB_FAMILY_GAUGE);
    }
    struct ob_series_ref *refs = malloc(sizeof *refs * n);
    char *keys = malloc((size_t)n * 48);
    ck_assert_ptr_nonnull(refs);
    ck_assert_ptr_nonnull(keys);
    for (uint32_t i = 0; i < n; i++) {
        char *k = keys + (size_t)i * 48;
        snprintf(k, 48, "job=\"app\",instance=\"host:%u\",n=\"%u\"", i % 100, i);
        refs[i] = ref_of(fams[i % 10], k);
    }
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        double v = i;
        ck_assert_int_eq(ob_store_append_at(s, &refs[i], &scalar, 1000, &v, 1, NULL), 0);
    }
    double t1 = now_s();
    uint32_t m = OB_MIN(n, 100000u);
    int rounds = 10;
    for (int r = 1; r <= rounds; r++)
        for (uint32_t i = 0; i < m; i++) {
            double v = i + r;
            ob_store_append_at(s, &refs[i], &scalar, 1000 + r, &v, 1, NULL);
        }
    double t2 = now_s();
    long seen = 0;
    ck_assert_int_eq(ob_store_scan(s, 1, 0, count_family, count_series, &seen), 0);
    double t3 = now_s();
    ck_assert_int_eq(seen, (long)n);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.series_live, n);
    if (big)
        fprintf(stderr,
                "store figures: create %.0f ns/series, append in-order %.0f ns (%u series), "
                "scan %u series %.1f ms, %.0f store bytes/series (map %llu, heap used %llu)\n",
                (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / ((double)m * rounds), m, n, (t3 - t2) * 1e3,
                (double)(st.map_bytes - st.heap_bytes + st.heap_used) / n,
                (unsigned long long)st.map_bytes, (unsigned long long)st.heap_used);
    free(refs);
    free(keys);
    ob_store_close(s);
}
END_TEST

/* ---- families are reclaimed ---- */

/* Wall-clock-like times: a family created now has its empty time now. */
static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs expire until the families without series are retired and then free:
 * from `t` on, the series' ttl, then the wait (max(ttl, grace)), then the
 * family grace.  Returns the time after it. */
static int64_t reclaim_all(struct ob_store *s, int64_t t, int64_t ttl)
{
    int64_t wait = ttl > OB_STORE_GRACE_MS ? ttl : OB_STORE_GRACE_MS;
    t += ttl + 1;
    ob_store_expire(s, t); /* series gone, families empty since t */
    t += wait;
    ob_store_expire(s, t); /* families retired */
    t += OB_STORE_GRACE_MS;
    ob_store_expire(s, t); /* and free */
    return t;
}

/* Name churn far beyond max_families: every new name finds a slot once the
 * old ones have had no series for the ttl; the heap gives their text back;
 * a name that comes back takes the type and help of its new points. */
START_TEST(family_churn_beyond_max_families)
{
    struct ob_store_opts o = default_opts();
    o.max_families = 4;
    o.series_ttl_ms = 1000;
    struct ob_store *s = open_ok(&o);
    int64_t t = now_ms();
    struct ob_store_stats st;
    uint64_t heap_base = 0;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 4; i++) {
            char name[32];
            snprintf(name, sizeof name, "churn_%d_%d", round, i);
            uint32_t id, gen;
            ck_assert_int_eq(ob_store_family(s, name, strlen(name), OB_FAMILY_GAUGE, "h", 1, &id, &gen),
                             0);
            ck_assert_uint_lt(id, 4);
            fam_gens[id] = gen;
            ck_assert_int_eq(app(s, id, "k=\"v\"", 1, round, t, NULL), 0);
        }
        /* Full now: a fifth name waits for a reclaim. */
        uint32_t x;
        ck_assert_int_eq(ob_store_family(s, "extra", 5, OB_FAMILY_GAUGE, NULL, 0, &x, NULL),
                         OB_E_STORE_FULL);
        ob_store_stats(s, &st);
        ck_assert_uint_eq(st.families, 4);
        struct seen w;
        scan(s, t, &w);
        ck_assert_int_eq(w.families, 4);
        ck_assert_int_eq(w.series, 4);
        t = reclaim_all(s, t, o.series_ttl_ms);
        ob_store_stats(s, &st);
        ck_assert_uint_eq(st.families, 0);
        ck_assert_uint_eq(st.series_live, 0);
        scan(s, t, &w);
        ck_assert_int_eq(w.families, 0);
        ob_store_expire(s, t + OB_STORE_GRACE_MS); /* heap limbo drained */
        t += OB_STORE_GRACE_MS;
        ob_store_stats(s, &st);
        if (round == 1)
            heap_base = st.heap_used;
        else if (round > 1)
            ck_assert_uint_eq(st.heap_used, heap_base); /* flat: nothing kept per name */
    }
    /* "churn_0_0" was a gauge with help "h"; it comes back as a counter. */
    uint32_t id, gen;
    ck_assert_int_eq(ob_store_family(s, "churn_0_0", 9, OB_FAMILY_COUNTER, "new help", 8, &id, &gen),
                     0);
    fam_gens[id] = gen;
    ck_assert_int_eq(app(s, id, "k=\"v\"", 1, 7, t, NULL), 0);
    struct seen w;
    scan(s, t, &w);
    ck_assert_int_eq(w.families, 1);
    ck_assert_str_eq(w.fam_names[0], "churn_0_0");
    ck_assert_str_eq(w.fam_help[0], "new help");
    ob_store_close(s);
}
END_TEST

/* A family that never got a series is reclaimed too; one that gets a
 * series while empty is not. */
START_TEST(family_without_series_reclaimed)
{
    struct ob_store_opts o = default_opts();
    o.max_families = 2;
    o.series_ttl_ms = 1000;
    struct ob_store *s = open_ok(&o);
    int64_t t = now_ms();
    uint32_t a = fam(s, "a", OB_FAMILY_GAUGE), b = fam(s, "b", OB_FAMILY_GAUGE);
    ob_store_expire(s, t + OB_STORE_GRACE_MS - 1000);
    ck_assert_int_eq(app(s, b, "k=\"1\"", 1, 1, t + OB_STORE_GRACE_MS - 500, NULL), 0);
    ob_store_expire(s, t + OB_STORE_GRACE_MS + 100); /* a: empty since creation, retired */
    ck_assert(!ob_store_family_valid(s, a, fam_gens[a]));
    ck_assert(ob_store_family_valid(s, b, fam_gens[b]));
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.families, 1);
    ob_store_close(s);
}
END_TEST

/* A stale family id (its family reclaimed, the slot reused by another name
 * with a series of the same key) must not write into the new family: the
 * append is refused and the new family's sample stays.  Without the
 * generation check the stale ref finds the new family's series by index
 * (same family id, same key, same hash) and overwrites it. */
START_TEST(stale_family_id_never_writes)
{
    struct ob_store_opts o = default_opts();
    o.max_families = 1;
    o.series_ttl_ms = 1000;
    struct ob_store *s = open_ok(&o);
    int64_t t = now_ms();
    uint32_t a = fam(s, "a", OB_FAMILY_GAUGE);
    struct ob_series_hint hint = {0};
    struct ob_series_ref ra = ref_of(a, "k=\"same\"");
    ra.hint = &hint;
    double v = 1;
    ck_assert_int_eq(ob_store_append_at(s, &ra, &scalar, 1, &v, t, NULL), 0);
    t = reclaim_all(s, t, o.series_ttl_ms);
    uint32_t b = fam(s, "b", OB_FAMILY_GAUGE);
    ck_assert_uint_eq(b, a); /* the one slot, reused */
    ck_assert_uint_ne(fam_gens[b], ra.family_gen);
    ck_assert_int_eq(app(s, b, "k=\"same\"", 5, 50, t, NULL), 0);
    v = 99;
    ck_assert_int_eq(ob_store_append_at(s, &ra, &scalar, 6, &v, t, NULL), OB_E_STALE_FAMILY);
    ra.hint = NULL;
    ck_assert_int_eq(ob_store_append_at(s, &ra, &scalar, 7, &v, t, NULL), OB_E_STALE_FAMILY);
    struct seen w;
    scan(s, t, &w);
    ck_assert_int_eq(w.families, 1);
    ck_assert_str_eq(w.fam_names[0], "b");
    ck_assert_int_eq(w.series, 1);
    ck_assert(w.ts[0] == 5 && w.v0[0] == 50);
    ob_store_close(s);
}
END_TEST

/* Scans running while families are created, emptied and retired: every
 * series a scan shows belongs to the family it was announced under (the
 * label names the family).  Reuse after the grace happens only while no scan
 * runs, as the grace guarantees in real time. */
struct reclaim_scan {
    struct ob_store *s;
    pthread_mutex_t scanning;
    _Atomic bool stop;
    _Atomic int64_t now;
    _Atomic int scans, series;
};

static int rs_family(void *ctx, const struct ob_family_view *f)
{
    char *cur = ctx;
    snprintf(cur, 64, "%.*s", (int)f->name_len, f->name);
    return 0;
}

static int rs_series(void *ctx, const struct ob_series_view *sv)
{
    const char *cur = ctx;
    char want[80];
    snprintf(want, sizeof want, "of=\"%s\"", cur);
    ck_assert_msg(sv->labels_len == strlen(want) && memcmp(sv->labels, want, sv->labels_len) == 0,
                  "series %.*s (%u bytes) under family %s", (int)sv->labels_len, sv->labels,
                  sv->labels_len, cur);
    return 0;
}

static void *reclaim_scanner(void *arg)
{
    struct reclaim_scan *r = arg;
    char cur[64];
    while (!r->stop) {
        pthread_mutex_lock(&r->scanning);
        cur[0] = '\0';
        ck_assert_int_eq(ob_store_scan(r->s, r->now, 0, rs_family, rs_series, cur), 0);
        pthread_mutex_unlock(&r->scanning);
        r->scans++;
    }
    return NULL;
}

START_TEST(family_reclaim_during_scans)
{
    struct ob_store_opts o = default_opts();
    o.max_families = 6;
    o.max_series = 64;
    /* Longer than the grace, so that retiring the families (after the ttl)
     * and freeing their series' memory (after the grace) are separate
     * expire calls, and the retire runs while scans do. */
    o.series_ttl_ms = OB_STORE_GRACE_MS + 10000;
    struct ob_store *s = open_ok(&o);
    struct reclaim_scan r = {.s = s, .now = now_ms()};
    pthread_mutex_init(&r.scanning, NULL);
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, reclaim_scanner, &r), 0);
    int64_t t = r.now, ttl = o.series_ttl_ms;
    for (int round = 0; round < 100; round++) {
        /* Three families of this round, concurrently with the scans... */
        for (int i = 0; i < 3; i++) {
            char name[32], key[64];
            snprintf(name, sizeof name, "f%d_%d", round, i);
            uint32_t id, gen;
            int rc = ob_store_family(s, name, strlen(name), OB_FAMILY_GAUGE, NULL, 0, &id, &gen);
            ck_assert_msg(rc == 0, "round %d: %s", round, ob_strerror(rc));
            fam_gens[id] = gen;
            snprintf(key, sizeof key, "of=\"%s\"", name);
            for (int k = 0; k < 3; k++)
                ck_assert_int_eq(app(s, id, key, 1 + k, k, t, NULL), 0);
        }
        r.now = t;
        for (int seen = r.scans; r.scans - seen < 2;)
            sched_yield(); /* a scan over them, and one more under way */
        /* ...their series expire (scans go on)... */
        int64_t t1 = t + ttl + 1;
        r.now = t1;
        ob_store_expire(s, t1);
        /* ...their memory is freed with no scan in the middle (the grace,
         * in real time, is what no scan outlasts)... */
        pthread_mutex_lock(&r.scanning);
        ob_store_expire(s, t1 + OB_STORE_GRACE_MS);
        pthread_mutex_unlock(&r.scanning);
        /* ...the families retire while scans run... */
        for (int seen = r.scans; r.scans - seen < 1;)
            sched_yield();
        ob_store_expire(s, t1 + ttl);
        struct ob_store_stats st;
        ob_store_stats(s, &st);
        ck_assert_uint_eq(st.families, 0);
        /* ...and their slots and names go free, again between scans. */
        pthread_mutex_lock(&r.scanning);
        t = t1 + ttl + OB_STORE_GRACE_MS;
        r.now = t;
        ob_store_expire(s, t);
        pthread_mutex_unlock(&r.scanning);
    }
    r.stop = true;
    pthread_join(tid, NULL);
    ck_assert_int_gt(r.scans, 100);
    pthread_mutex_destroy(&r.scanning);
    ob_store_close(s);
}
END_TEST

/* A writer killed in the middle of a family reclaim (create lock held, at
 * each step): the repair accepts the store, the family that still had a
 * series is intact, the one being retired is gone or comes back as a new
 * family, and names can be created again. */
START_TEST(kill9_during_family_reclaim)
{
    for (int step = 1; step <= 3; step++) {
        struct ob_store_opts o = default_opts();
        o.max_families = 3;
        o.series_ttl_ms = 1000;
        ob_store_unlink(shm_name);
        struct ob_store *s = open_ok(&o);
        int64_t t = now_ms();
        uint32_t keep = fam(s, "keep", OB_FAMILY_GAUGE);
        uint32_t gone = fam(s, "gone", OB_FAMILY_GAUGE);
        ck_assert_int_eq(app(s, gone, "k=\"g\"", 1, 1, t, NULL), 0);
        t += o.series_ttl_ms + 1;
        ob_store_expire(s, t);                               /* gone: empty */
        ck_assert_int_eq(app(s, keep, "k=\"k\"", 1, 5, t + OB_STORE_GRACE_MS, NULL), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            ob_store_test_crash_in_retire(step);
            ob_store_expire(s, t + OB_STORE_GRACE_MS + 1);   /* dies retiring "gone" */
            _exit(1);
        }
        wait_child(pid, 0);
        /* The next writer repairs, then carries on. */
        uint32_t again, gen;
        ck_assert_int_eq(ob_store_family(s, "gone", 4, OB_FAMILY_GAUGE, NULL, 0, &again, &gen), 0);
        fam_gens[again] = gen;
        ck_assert_int_eq(app(s, again, "k=\"g2\"", 2, 2, t + OB_STORE_GRACE_MS + 2, NULL), 0);
        struct ob_store_stats st;
        ob_store_stats(s, &st);
        ck_assert_uint_ge(st.repairs, 1);
        ck_assert_uint_eq(st.families, 2);
        struct seen w;
        scan(s, t + OB_STORE_GRACE_MS + 2, &w);
        ck_assert_int_eq(w.families, 2);
        ck_assert_int_eq(w.series, 2);
        bool saw_keep = false;
        for (int i = 0; i < w.families; i++)
            saw_keep = saw_keep || strcmp(w.fam_names[i], "keep") == 0;
        ck_assert(saw_keep);
        ck_assert(ob_store_family_valid(s, keep, fam_gens[keep]));
        /* And after an unclean shutdown the same: reopen repairs. */
        ob_store_close(s);
        s = open_ok(&o);
        scan(s, t + OB_STORE_GRACE_MS + 2, &w);
        ck_assert_int_eq(w.series, 2);
        ob_store_close(s);
    }
}
END_TEST

/* ---- exemplars ---- */

/* What a scan with OB_SCAN_EXEMPLARS saw of the first series: its entries
 * as "labels value ts" texts, "-" for an empty entry. */
struct ex_seen {
    int series;
    uint32_t n;
    char entry[8][160];
};

/* A scan's family callback for scans that only look at series. */
static int any_family(void *ctx, const struct ob_family_view *f)
{
    OB_UNUSED(ctx);
    OB_UNUSED(f);
    return 0;
}

static int ex_series(void *ctx, const struct ob_series_view *sv)
{
    struct ex_seen *w = ctx;
    if (w->series++ == 0) {
        w->n = sv->n_exemplars;
        for (uint32_t i = 0; i < sv->n_exemplars && i < 8; i++) {
            struct ob_exemplar_view e;
            if (ob_series_exemplar(sv, i, &e))
                snprintf(w->entry[i], sizeof w->entry[i], "%.*s %g %lld", (int)e.labels_len, e.labels,
                         e.value, (long long)e.ts_ms);
            else
                snprintf(w->entry[i], sizeof w->entry[i], "-");
        }
    }
    return 0;
}

static struct ex_seen ex_scan(struct ob_store *s, unsigned flags)
{
    struct ex_seen w;
    memset(&w, 0, sizeof w);
    ck_assert_int_eq(ob_store_scan(s, 1, flags, any_family, ex_series, &w), 0);
    return w;
}

#define EXEMPLAR(index, labels, ts, v) {(index), sizeof(labels) - 1, (labels), (ts), (v)}

static int app_ex(struct ob_store *s, uint32_t family, const struct ob_shape *sh, int64_t ts,
                  const double *v, const struct ob_exemplar *ex, uint32_t n_ex, unsigned *flags)
{
    struct ob_series_ref r = ref_of(family, "");
    r.exemplars = ex;
    r.n_exemplars = n_ex;
    return ob_store_append_at(s, &r, sh, ts, v, 1, flags);
}

/* A counter keeps its newest exemplar; an older one, or one of a rejected
 * sample, changes nothing; a longer label block moves the entry to a wider
 * block; text scans do not copy them. */
START_TEST(exemplars_newest_wins)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t c = fam(s, "c_total", OB_FAMILY_COUNTER);
    double v = 1;
    unsigned fl;
    struct ob_exemplar a = EXEMPLAR(0, "trace_id=\"a\"", 900, 0.5);
    ck_assert_int_eq(app_ex(s, c, &scalar, 1000, &v, &a, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    struct ex_seen w = ex_scan(s, OB_SCAN_EXEMPLARS);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_str_eq(w.entry[0], "trace_id=\"a\" 0.5 900");
    ck_assert_uint_eq(ex_scan(s, 0).n, 0);

    struct ob_exemplar older = EXEMPLAR(0, "trace_id=\"o\"", 800, 9);
    v = 2;
    ck_assert_int_eq(app_ex(s, c, &scalar, 2000, &v, &older, 1, &fl), 0);
    ck_assert_str_eq(ex_scan(s, OB_SCAN_EXEMPLARS).entry[0], "trace_id=\"a\" 0.5 900");
    struct ob_exemplar dup = EXEMPLAR(0, "trace_id=\"d\"", 5000, 9);
    v = 3; /* same ts, other value: a duplicate, refused with its exemplar */
    ck_assert_int_eq(app_ex(s, c, &scalar, 2000, &v, &dup, 1, &fl), OB_E_DUPLICATE);
    ck_assert_str_eq(ex_scan(s, OB_SCAN_EXEMPLARS).entry[0], "trace_id=\"a\" 0.5 900");

    static char long_labels[100];
    memset(long_labels, 'x', sizeof long_labels);
    struct ob_exemplar wide = {0, sizeof long_labels, long_labels, 2000, 7};
    struct ob_store_stats st0, st1;
    ob_store_stats(s, &st0);
    v = 4;
    ck_assert_int_eq(app_ex(s, c, &scalar, 3000, &v, &wide, 1, &fl), 0);
    ck_assert_uint_eq(fl, 0);
    ob_store_stats(s, &st1);
    ck_assert_uint_gt(st1.exemplar_bytes, st0.exemplar_bytes); /* the wider block replaced it */
    w = ex_scan(s, OB_SCAN_EXEMPLARS);
    ck_assert_int_eq((int)strlen(w.entry[0]), 100 + 7);
    ck_assert_str_eq(w.entry[0] + 100, " 7 2000");
    /* an identical resend writes its exemplar again */
    struct ob_exemplar again = EXEMPLAR(0, "trace_id=\"r\"", 2500, 1);
    ck_assert_int_eq(app_ex(s, c, &scalar, 3000, &v, &again, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    ck_assert_str_eq(ex_scan(s, OB_SCAN_EXEMPLARS).entry[0], "trace_id=\"r\" 1 2500");
    ob_store_close(s);
}
END_TEST

/* A histogram has an entry per bucket and +Inf; a new shape starts without
 * them; an index out of range is ignored. */
START_TEST(exemplars_histogram_buckets)
{
    struct ob_store_opts o = default_opts();
    struct ob_store *s = open_ok(&o);
    uint32_t h = fam(s, "h", OB_FAMILY_HISTOGRAM);
    static const double b2[] = {1, 5};
    struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = b2, .has_sum = true};
    const double v[] = {3, 6, 1, 2, 3};
    const struct ob_exemplar ex[] = {
        EXEMPLAR(0, "a=\"\"", 10, 0.5), EXEMPLAR(2, "b=\"\"", 11, 9), EXEMPLAR(3, "c=\"\"", 12, 99),
    };
    unsigned fl;
    ck_assert_int_eq(app_ex(s, h, &sh, 1000, v, ex, 3, &fl), 0);
    struct ex_seen w = ex_scan(s, OB_SCAN_EXEMPLARS);
    ck_assert_uint_eq(w.n, 3);
    ck_assert_str_eq(w.entry[0], "a=\"\" 0.5 10");
    ck_assert_str_eq(w.entry[1], "-");
    ck_assert_str_eq(w.entry[2], "b=\"\" 9 11");
    static const double b3[] = {1, 5, 10};
    struct ob_shape sh3 = {.kind = OB_SHAPE_HISTOGRAM, .n = 3, .points = b3, .has_sum = true};
    const double v3[] = {3, 6, 1, 2, 3, 3};
    ck_assert_int_eq(app_ex(s, h, &sh3, 2000, v3, NULL, 0, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);
    ck_assert_uint_eq(ex_scan(s, OB_SCAN_EXEMPLARS).n, 0);
    ck_assert_int_eq(app_ex(s, h, &sh3, 3000, v3, &ex[1], 1, &fl), 0);
    w = ex_scan(s, OB_SCAN_EXEMPLARS);
    ck_assert_uint_eq(w.n, 4);
    ck_assert_str_eq(w.entry[2], "b=\"\" 9 11");
    ck_assert_str_eq(w.entry[3], "-");
    ob_store_close(s);
}
END_TEST

/* The budget: a series that would need more gets none (flagged), its
 * sample is stored; an expired series gives its bytes back. */
START_TEST(exemplars_budget)
{
    struct ob_store_opts o = default_opts();
    o.exemplar_bytes = 250; /* a counter's block: 8 + 24 + 32 bytes, 80 with the heap's header */
    struct ob_store *s = open_ok(&o);
    uint32_t c = fam(s, "c_total", OB_FAMILY_COUNTER);
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.exemplar_budget, 250);
    double v = 1;
    unsigned fl;
    char key[16];
    struct ob_exemplar e = EXEMPLAR(0, "k=\"abc\"", 1, 1);
    int kept = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "i=\"%d\"", i);
        struct ob_series_ref r = ref_of(c, key);
        r.exemplars = &e;
        r.n_exemplars = 1;
        ck_assert_int_eq(ob_store_append_at(s, &r, &scalar, 1000, &v, 1, &fl), 0);
        kept += !(fl & OB_APPEND_EXEMPLARS_FULL);
    }
    ob_store_stats(s, &st);
    ck_assert_int_eq(kept, 3);
    ck_assert_uint_eq(st.exemplar_bytes, 3 * 80);
    ck_assert_uint_eq(st.series_live, 8);
    ck_assert_uint_eq(ob_store_expire(s, 1 + o.series_ttl_ms + 1), 8);
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.exemplar_bytes, 0);
    ob_store_close(s);
}
END_TEST

/* Exemplars live in the store: a clean reopen and a repair after a kill -9
 * keep them, and a repair drops an exemplar block that is not one. */
START_TEST(exemplars_survive_restart)
{
    struct ob_store_opts o = default_opts();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ob_store *s = NULL;
        char e[OB_ERR_LEN];
        uint32_t c, g;
        if (ob_store_open(&o, &s, e) ||
            ob_store_family(s, "c_total", 7, OB_FAMILY_COUNTER, NULL, 0, &c, &g))
            _exit(1);
        struct ob_exemplar ex = EXEMPLAR(0, "span_id=\"0a0b\"", 900, 0.25);
        struct ob_series_ref r = {.family = c, .family_gen = g, .hash = ob_store_hash(c, "", 0),
                                  .key = "", .exemplars = &ex, .n_exemplars = 1};
        double v = 1;
        if (ob_store_append_at(s, &r, &scalar, 1000, &v, 1, NULL))
            _exit(2);
        r.key = "x";
        r.key_len = 1;
        r.hash = ob_store_hash(c, "x", 1);
        if (ob_store_append_at(s, &r, &scalar, 1000, &v, 1, NULL))
            _exit(3);
        _exit(0); /* killed, as far as the store knows */
    }
    wait_child(pid, 0);
    /* Spoil the second series' exemplar block offset, as a torn store could. */
    struct ob_store *ro = NULL;
    ck_assert_int_eq(ob_store_open_readonly(shm_name, &ro, errbuf), 0);
    ob_store_close(ro);
    int fd = shm_open(shm_name, O_RDWR, 0);
    ck_assert_int_ge(fd, 0);
    struct stat sb;
    ck_assert_int_eq(fstat(fd, &sb), 0);
    unsigned char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert(m != MAP_FAILED);
    const struct ob_store_hdr *hdr = (const void *)m;
    uint64_t page = hdr->page_size;
    uint64_t slots_off = page + ((64u * (1 + OB_STORE_STRIPES) + page - 1) / page) * page;
    slots_off += ((128ull * hdr->max_families + page - 1) / page) * page;
    uint64_t fic = 1;
    while (fic < 2ull * hdr->max_families)
        fic <<= 1;
    slots_off += ((4 * fic + page - 1) / page) * page;
    struct ob_store_slot *slots = (void *)(m + slots_off);
    struct ob_store_shape *d1 = (void *)(m + slots[1].data_off + sizeof(struct ob_store_block));
    ck_assert_uint_ne(d1->exemplars_off, 0);
    d1->exemplars_off += 16; /* inside a block, not at one */
    munmap(m, (size_t)sb.st_size);
    close(fd);

    struct ob_store *s = open_ok(&o);
    struct ex_seen w = ex_scan(s, OB_SCAN_EXEMPLARS);
    ck_assert_int_eq(w.series, 2);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_str_eq(w.entry[0], "span_id=\"0a0b\" 0.25 900");
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ck_assert_uint_eq(st.repairs, 1);
    ck_assert_uint_eq(st.exemplar_bytes, 80); /* the spoiled one is not counted */
    ob_store_close(s);
    s = open_ok(&o);
    ck_assert_str_eq(ex_scan(s, OB_SCAN_EXEMPLARS).entry[0], "span_id=\"0a0b\" 0.25 900");
    ob_store_close(s);
}
END_TEST

/* ---- delta points into running totals ---- */

static int acc(struct ob_store *s, uint32_t family, int64_t start, int64_t ts, double v, unsigned *flags)
{
    struct ob_series_ref r = ref_of(family, "");
    r.created_ms = start;
    return ob_store_accumulate_at(s, &r, &scalar, start, ts, &v, 1, flags);
}

/* The newest sample of the only series and its created time. */
struct total {
    int n;
    int64_t ts, created;
    double v;
};

static int total_series(void *ctx, const struct ob_series_view *sv)
{
    struct total *t = ctx;
    t->n++;
    t->ts = sv->ts_ms;
    t->created = sv->created_ms;
    t->v = sv->values[0];
    return 0;
}

static struct total total_of(struct ob_store *s)
{
    struct total t = {0};
    ck_assert_int_eq(ob_store_scan(s, 1, 0, any_family, total_series, &t), 0);
    return t;
}

/* In order, resent, out of order, after a gap, and into the wrong kind of
 * series: the collector's deltatocumulative rules. */
START_TEST(delta_running_totals)
{
    struct ob_store_opts o = default_opts();
    o.delta_reset_ms = 60000;
    struct ob_store *s = open_ok(&o);
    uint32_t c = fam(s, "c_total", OB_FAMILY_COUNTER);
    unsigned fl;
    ck_assert_int_eq(acc(s, c, 1000, 2000, 5, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_NEW_SERIES);
    ck_assert_int_eq(acc(s, c, 2000, 3000, 2, &fl), 0);
    ck_assert_int_eq(acc(s, c, 3000, 4000, 0, &fl), 0);
    ck_assert_int_eq(acc(s, c, 4500, 5000, 1, &fl), 0); /* a small gap: still one total */
    struct total t = total_of(s);
    ck_assert(t.n == 1 && t.ts == 5000 && t.v == 8 && t.created == 1000);
    /* the last point again: nothing changes */
    ck_assert_int_eq(acc(s, c, 4500, 5000, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESEND);
    /* older ones, overlapping ones: refused, never added */
    ck_assert_int_eq(acc(s, c, 3000, 4000, 2, &fl), OB_E_OUT_OF_ORDER);
    ck_assert_int_eq(acc(s, c, 4800, 6000, 2, &fl), OB_E_OUT_OF_ORDER);
    ck_assert_int_eq(acc(s, c, 4500, 5000, 7, &fl), 0); /* same window: a resend */
    t = total_of(s);
    ck_assert(t.ts == 5000 && t.v == 8);
    /* unknown start: right after the last one */
    ck_assert_int_eq(acc(s, c, 0, 6000, 1, &fl), 0);
    ck_assert(total_of(s).v == 9);
    /* a gap over delta_reset_ms: a new total with a new created time */
    ck_assert_int_eq(acc(s, c, 6000 + 60001, 6000 + 61000, 3, &fl), 0);
    t = total_of(s);
    ck_assert(t.v == 3 && t.created == 66001 && t.ts == 67000);
    /* cumulative points into the delta series, and the other way round */
    ck_assert_int_eq(app(s, c, "", 70000, 1, 1, &fl), OB_E_TEMPORALITY);
    ck_assert_int_eq(app(s, c, "x", 70000, 1, 1, &fl), 0);
    struct ob_series_ref rx = ref_of(c, "x");
    double v = 1;
    ck_assert_int_eq(ob_store_accumulate_at(s, &rx, &scalar, 70000, 71000, &v, 1, &fl), OB_E_TEMPORALITY);
    ob_store_close(s);
}
END_TEST

/* Histogram deltas add up bucket by bucket; new bounds start a new total;
 * the totals survive a kill -9. */
START_TEST(delta_histograms_survive_restart)
{
    struct ob_store_opts o = default_opts();
    static const double b2[] = {1, 5};
    const struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = b2, .has_sum = true};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ob_store *s = NULL;
        char e[OB_ERR_LEN];
        uint32_t h, g;
        if (ob_store_open(&o, &s, e) || ob_store_family(s, "h", 1, OB_FAMILY_HISTOGRAM, NULL, 0, &h, &g))
            _exit(1);
        struct ob_series_ref r = {.family = h, .family_gen = g, .hash = ob_store_hash(h, "", 0), .key = "",
                                  .created_ms = 1000};
        double v1[] = {3, 6, 1, 2, 3}; /* count, sum, cumulative buckets, +Inf */
        double v2[] = {2, 10, 0, 1, 2};
        if (ob_store_accumulate_at(s, &r, &sh, 1000, 2000, v1, 1, NULL) ||
            ob_store_accumulate_at(s, &r, &sh, 2000, 3000, v2, 1, NULL) || v2[0] != 5 || v2[1] != 16)
            _exit(2);
        _exit(0); /* killed */
    }
    wait_child(pid, 0);
    struct ob_store *s = open_ok(&o);
    uint32_t h = fam(s, "h", OB_FAMILY_HISTOGRAM);
    struct ob_series_ref r = ref_of(h, "");
    r.created_ms = 3000;
    double v3[] = {1, 1, 1, 1, 1};
    unsigned fl;
    ck_assert_int_eq(ob_store_accumulate_at(s, &r, &sh, 3000, 4000, v3, 1, &fl), 0);
    const double want[] = {6, 17, 2, 4, 6};
    for (int i = 0; i < 5; i++)
        ck_assert(v3[i] == want[i]);
    struct total t = total_of(s);
    ck_assert(t.v == 6 && t.created == 1000);
    static const double b3[] = {1, 5, 10};
    const struct ob_shape sh3 = {.kind = OB_SHAPE_HISTOGRAM, .n = 3, .points = b3, .has_sum = true};
    double v4[] = {1, 7, 0, 0, 1, 1};
    r.created_ms = 4000;
    ck_assert_int_eq(ob_store_accumulate_at(s, &r, &sh3, 4000, 5000, v4, 1, &fl), 0);
    ck_assert_uint_eq(fl, OB_APPEND_RESHAPED);
    t = total_of(s);
    ck_assert(t.v == 1 && t.created == 4000);
    ob_store_close(s);
}
END_TEST

Suite *store_suite(void);
Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_attach_reattach);
    tcase_add_test(tc, refuse_incompatible);
    tcase_add_test(tc, second_opener_locked);
    tcase_add_test(tc, readonly);
    tcase_add_test(tc, sample_rules);
    tcase_add_test(tc, format_points);
    tcase_add_test(tc, histogram_summary_reshape);
    tcase_add_test(tc, family_unit);
    tcase_add_test(tc, family_rules);
    tcase_add_test(tc, labels_update_and_collision);
    tcase_add_test(tc, hash_collision_keys);
    tcase_add_test(tc, hints_follow_the_series);
    tcase_add_test(tc, expiry_and_reuse);
    tcase_add_test(tc, store_full);
    tcase_add_test(tc, dead_stripe_owner_repaired);
    tcase_add_test(tc, kill9_reopen_keeps_everything);
    tcase_add_test(tc, unclean_attach_rebuilds_lists);
    tcase_add_test(tc, concurrent_writers_and_scanner);
    tcase_add_test(tc, figures);
    tcase_add_test(tc, family_churn_beyond_max_families);
    tcase_add_test(tc, family_without_series_reclaimed);
    tcase_add_test(tc, stale_family_id_never_writes);
    tcase_add_test(tc, family_reclaim_during_scans);
    tcase_add_test(tc, kill9_during_family_reclaim);
    tcase_add_test(tc, exemplars_newest_wins);
    tcase_add_test(tc, exemplars_histogram_buckets);
    tcase_add_test(tc, exemplars_budget);
    tcase_add_test(tc, exemplars_survive_restart);
    tcase_add_test(tc, delta_running_totals);
    tcase_add_test(tc, delta_histograms_survive_restart);
    suite_add_tcase(s, tc);
    return s;
}
