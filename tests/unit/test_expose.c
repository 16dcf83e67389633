/* test_expose.c: the /metrics writer.
 *
 * Escaping; one family/series through the writer API with hand-made views;
 * and whole expositions of a real store (a temp shm segment) compared byte
 * for byte with tests/data/expose_*.prom.  The numbers' texts
 * (ob_format_double) are test_float.c's.
 */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ob_buf.h"
#include "ob_expose.h"
#include "ob_selfmetrics.h"
#include "ob_prom_series.h"
#include "ob_store.h"
#include "io/prometheus/client/metrics.pb-c.h"

/* ---- escaping ------------------------------------------------------------ */

static void check_escape(void (*fn)(struct ob_buf *, const char *, size_t), const char *in,
                         size_t in_len, const char *want, size_t want_len)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_buf_puts(&b, "x"); /* appends, does not overwrite */
    fn(&b, in, in_len);
    ck_assert(!b.failed);
    ck_assert_msg(b.len == want_len + 1 && memcmp(b.data + 1, want, want_len) == 0,
                  "got '%.*s' want '%s'", (int)b.len - 1, b.data + 1, want);
    ob_buf_fini(&b);
}

#define CHECK_ESC(fn, in, want) check_escape(fn, in, sizeof(in) - 1, want, sizeof(want) - 1)

START_TEST(escape_label_value)
{
    CHECK_ESC(ob_escape_label_value, "", "");
    CHECK_ESC(ob_escape_label_value, "plain", "plain");
    CHECK_ESC(ob_escape_label_value, "C:\\dir", "C:\\\\dir");
    CHECK_ESC(ob_escape_label_value, "say \"hi\"", "say \\\"hi\\\"");
    CHECK_ESC(ob_escape_label_value, "a\nb", "a\\nb");
    CHECK_ESC(ob_escape_label_value, "\\\"\n", "\\\\\\\"\\n");
    CHECK_ESC(ob_escape_label_value, "tab\there\r", "tab\there\r");
    CHECK_ESC(ob_escape_label_value, "Grüße, 世界 µs", "Grüße, 世界 µs");
    /* the length counts, not a NUL */
    CHECK_ESC(ob_escape_label_value, "a\0b\"", "a\0b\\\"");
    check_escape(ob_escape_label_value, "abc\"", 3, "abc", 3);
}
END_TEST

START_TEST(escape_help)
{
    CHECK_ESC(ob_escape_help, "", "");
    CHECK_ESC(ob_escape_help, "Requests served.", "Requests served.");
    CHECK_ESC(ob_escape_help, "a\\b\nc", "a\\\\b\\nc");
    CHECK_ESC(ob_escape_help, "keeps \"quotes\"", "keeps \"quotes\"");
    CHECK_ESC(ob_escape_help, "\n\n", "\\n\\n");
    CHECK_ESC(ob_escape_help, "°C ✓", "°C ✓");
}
END_TEST

/* ---- one family / series through the writer ------------------------------ */

static void check_buf(const struct ob_buf *b, const char *want)
{
    ck_assert_msg(b->len == strlen(want) && memcmp(b->data, want, b->len) == 0,
                  "got:\n%.*s\nwant:\n%s", (int)b->len, b->data, want);
}

START_TEST(writer_scalar)
{
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, NULL, &out);
    struct ob_family_view f = {.id = 0, .name = "jobs_done_total", .name_len = 15,
                               .help = "Jobs\ndone \\o/", .help_len = 13,
                               .type = OB_FAMILY_COUNTER};
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    double v = 12;
    struct ob_series_view sv = {.labels = "", .labels_len = 0, .kind = OB_SHAPE_SCALAR,
                                .ts_ms = 5, .values = &v};
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    sv.labels = "queue=\"a\",prio=\"high\"";
    sv.labels_len = (uint32_t)strlen(sv.labels);
    v = 0.125;
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    check_buf(&out, "# HELP jobs_done_total Jobs\\ndone \\\\o/\n"
                    "# TYPE jobs_done_total counter\n"
                    "jobs_done_total 12\n"
                    "jobs_done_total{queue=\"a\",prio=\"high\"} 0.125\n");
    ob_expose_writer_fini(&w);
    ob_expose_writer_fini(NULL);
    ob_buf_fini(&out);
}
END_TEST

/* Quoted UTF-8 names: as they are for a UTF-8 scraper, escaped with
 * underscores for a legacy one; values (even with ," inside) untouched. */
START_TEST(writer_utf8_names)
{
    static const char block[] = "\x01\"a.b\"=\"x,\\\"y,\",\"q\\\"u\"=\"1\",job=\"j\",\"\xc3\xa9" "t" "\xc3\xa9\"=\"\"";
    for (int utf8 = 0; utf8 < 2; utf8++) {
        struct ob_buf out;
        ob_buf_init(&out);
        struct ob_expose_writer w;
        struct ob_expose_opts o = {.utf8 = utf8};
        ob_expose_writer_init(&w, &o, &out);
        struct ob_family_view f = {.name = "my.metric", .name_len = 9, .type = OB_FAMILY_GAUGE};
        ck_assert_int_eq(ob_expose_family(&w, &f), 0);
        double v = 1;
        struct ob_series_view sv = {.labels = block, .labels_len = sizeof block - 1,
                                    .kind = OB_SHAPE_SCALAR, .values = &v};
        ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
        if (utf8)
            check_buf(&out, "# TYPE \"my.metric\" gauge\n"
                            "{\"my.metric\",\"a.b\"=\"x,\\\"y,\",\"q\\\"u\"=\"1\",job=\"j\","
                            "\"\xc3\xa9" "t" "\xc3\xa9\"=\"\"} 1\n");
        else
            check_buf(&out, "# TYPE my_metric gauge\n"
                            "my_metric{a_b=\"x,\\\"y,\",q_u=\"1\",job=\"j\",_t_=\"\"} 1\n");
        ob_expose_writer_fini(&w);
        ob_buf_fini(&out);
    }
    ck_assert(ob_legacy_metric_name("a:b_c9", 6));
    ck_assert(!ob_legacy_metric_name("9a", 2));
    ck_assert(!ob_legacy_label_name("a:b", 3));
    ck_assert(ob_legacy_label_name("_x", 2));
    ck_assert(!ob_legacy_label_name("", 0));
}
END_TEST

START_TEST(writer_histogram_timestamps)
{
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_opts o = {.timestamps = true};
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, &o, &out);
    /* a family name longer than the first cache allocation, then a short one */
    char longname[300];
    memset(longname, 'n', sizeof longname);
    struct ob_family_view f = {.name = longname, .name_len = sizeof longname,
                               .type = OB_FAMILY_HISTOGRAM};
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    out.len = 0;
    f.name = "d";
    f.name_len = 1;
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    static const double bounds[] = {0.25, 1e6};
    double vals[] = {5, 2.5, 1, 4, 5}; /* count, sum, le 0.25, le 1e6, +Inf */
    struct ob_series_view sv = {.labels = "", .kind = OB_SHAPE_HISTOGRAM, .n = 2,
                                .points = bounds, .has_sum = false,
                                .ts_ms = -1500, .values = vals};
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    sv.labels = "a=\"1\"";
    sv.labels_len = 5;
    sv.has_sum = true;
    sv.ts_ms = 1700000000123;
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    check_buf(&out, "# TYPE d histogram\n"
                    "d_bucket{le=\"0.25\"} 1 -1500\n"
                    "d_bucket{le=\"1000000\"} 4 -1500\n"
                    "d_bucket{le=\"+Inf\"} 5 -1500\n"
                    "d_count 5 -1500\n"
                    "d_bucket{a=\"1\",le=\"0.25\"} 1 1700000000123\n"
                    "d_bucket{a=\"1\",le=\"1000000\"} 4 1700000000123\n"
                    "d_bucket{a=\"1\",le=\"+Inf\"} 5 1700000000123\n"
                    "d_sum{a=\"1\"} 2.5 1700000000123\n"
                    "d_count{a=\"1\"} 5 1700000000123\n");
    ob_expose_writer_fini(&w);
    ob_buf_fini(&out);
}
END_TEST

/* The le texts are formatted by the writer from the stored bounds, again
 * whenever a series' bounds differ from the previous one's. */
START_TEST(writer_bounds_change)
{
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, NULL, &out);
    struct ob_family_view f = {.name = "h", .name_len = 1, .type = OB_FAMILY_HISTOGRAM};
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    static const double b1[] = {0.5}, b2[] = {0.25, 2}, b3[] = {0.25, 3};
    double v1[] = {2, 1, 1, 2}, v2[] = {3, 1, 1, 2, 3};
    struct ob_series_view sv = {.labels = "k=\"a\"", .labels_len = 5, .kind = OB_SHAPE_HISTOGRAM,
                                .n = 1, .points = b1, .has_sum = true, .values = v1};
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    sv.labels = "k=\"b\"";
    sv.n = 2;
    sv.points = b2;
    sv.values = v2;
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    sv.labels = "k=\"c\"";
    sv.points = b3;
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    check_buf(&out, "# TYPE h histogram\n"
                    "h_bucket{k=\"a\",le=\"0.5\"} 1\n"
                    "h_bucket{k=\"a\",le=\"+Inf\"} 2\n"
                    "h_sum{k=\"a\"} 1\n"
                    "h_count{k=\"a\"} 2\n"
                    "h_bucket{k=\"b\",le=\"0.25\"} 1\n"
                    "h_bucket{k=\"b\",le=\"2\"} 2\n"
                    "h_bucket{k=\"b\",le=\"+Inf\"} 3\n"
                    "h_sum{k=\"b\"} 1\n"
                    "h_count{k=\"b\"} 3\n"
                    "h_bucket{k=\"c\",le=\"0.25\"} 1\n"
                    "h_bucket{k=\"c\",le=\"3\"} 2\n"
                    "h_bucket{k=\"c\",le=\"+Inf\"} 3\n"
                    "h_sum{k=\"c\"} 1\n"
                    "h_count{k=\"c\"} 3\n");
    ob_expose_writer_fini(&w);
    ob_buf_fini(&out);
}
END_TEST

/* The Prometheus samples of stored series, in order, for every writer. */
START_TEST(prom_samples)
{
    static const double bounds[] = {1, 2};
    double hv[] = {5, 9, 1, 3, 5}; /* count, sum, le 1, le 2, +Inf */
    struct ob_series_view h = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = bounds,
                               .has_sum = false, .values = hv};
    struct ob_prom_iter it;
    struct ob_prom_sample ps;
    static const struct ob_prom_sample want_h[] = {
        {OB_PROM_BUCKET, OB_PROM_LE, 0, 1},
        {OB_PROM_BUCKET, OB_PROM_LE, 1, 3},
        {OB_PROM_BUCKET, OB_PROM_LE, 2, 5}, /* +Inf */
        {OB_PROM_COUNT, OB_PROM_NO_EXTRA, 0, 5},
    };
    ob_prom_iter_init(&it, &h);
    for (size_t i = 0; i < OB_ARRAY_LEN(want_h); i++) {
        ck_assert(ob_prom_next(&it, &ps));
        ck_assert_int_eq(ps.suffix, want_h[i].suffix);
        ck_assert_int_eq(ps.extra, want_h[i].extra);
        ck_assert_uint_eq(ps.point, want_h[i].point);
        ck_assert(ps.value == want_h[i].value);
    }
    ck_assert(!ob_prom_next(&it, &ps));
    h.has_sum = true;
    int n = 0, sums = 0;
    for (ob_prom_iter_init(&it, &h); ob_prom_next(&it, &ps); n++)
        sums += ps.suffix == OB_PROM_SUM && ps.value == 9;
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(sums, 1);

    double sv[] = {10, 20, 0.5};
    struct ob_series_view s = {.kind = OB_SHAPE_SUMMARY, .n = 1, .points = bounds, .values = sv};
    ob_prom_iter_init(&it, &s);
    ck_assert(ob_prom_next(&it, &ps));
    ck_assert(ps.suffix == OB_PROM_PLAIN && ps.extra == OB_PROM_QUANTILE && ps.value == 0.5);
    ck_assert(ob_prom_next(&it, &ps));
    ck_assert(ps.suffix == OB_PROM_SUM && ps.value == 20);
    ck_assert(ob_prom_next(&it, &ps));
    ck_assert(ps.suffix == OB_PROM_COUNT && ps.value == 10);
    ck_assert(!ob_prom_next(&it, &ps));
    ck_assert_str_eq(ob_prom_suffix_text(OB_PROM_BUCKET), "_bucket");

    double g = 7;
    struct ob_series_view sc = {.kind = OB_SHAPE_SCALAR, .values = &g};
    ob_prom_iter_init(&it, &sc);
    ck_assert(ob_prom_next(&it, &ps) && ps.suffix == OB_PROM_PLAIN && ps.value == 7);
    ck_assert(!ob_prom_next(&it, &ps));
}
END_TEST

/* The broker's own text (the self-metrics) goes through the writer of any
 * format: in text it comes out as it went in. */
START_TEST(own_text_through_the_writer)
{
    ob_sm_reset();
    struct ob_buf text, out;
    ob_buf_init(&text);
    ob_buf_init(&out);
    ob_selfmetrics_render(NULL, &text);
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, NULL, &out);
    ck_assert_int_eq(ob_expose_text(&w, text.data, text.len), 0);
    ob_expose_writer_fini(&w);
    ck_assert_msg(out.len == text.len && memcmp(out.data, text.data, text.len) == 0,
                  "got:\n%.*s", (int)out.len, out.data);
    out.len = 0;
    struct ob_expose_opts om = {.openmetrics = true};
    ob_expose_writer_init(&w, &om, &out);
    ck_assert_int_eq(ob_expose_text(&w, text.data, text.len), 0);
    ob_expose_writer_fini(&w);
    ob_buf_putc(&out, '\0');
    ck_assert_ptr_nonnull(strstr(out.data, "\n# TYPE otlp_broker_requests counter\n"
                                           "otlp_broker_requests_total{frontend=\"http\",outcome=\"ok\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "# HELP otlp_broker_build_info Version of the running broker.\n"));
    ob_expose_writer_init(&w, &om, &out);
    ck_assert_int_eq(ob_expose_text(&w, "bogus line without value\n", 25), -EINVAL);
    ob_expose_writer_fini(&w);
    ob_buf_fini(&text);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(writer_summary_no_points)
{
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, NULL, &out);
    struct ob_family_view f = {.name = "s", .name_len = 1, .type = OB_FAMILY_SUMMARY};
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    double vals[] = {3, 1.5};
    struct ob_series_view sv = {.labels = "k=\"v\"", .labels_len = 5, .kind = OB_SHAPE_SUMMARY,
                                .n = 0, .values = vals};
    ck_assert_int_eq(ob_expose_series(&w, &sv), 0);
    check_buf(&out, "# TYPE s summary\n"
                    "s_sum{k=\"v\"} 1.5\n"
                    "s_count{k=\"v\"} 3\n");
    ob_expose_writer_fini(&w);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(writer_enomem)
{
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, NULL, &out);
    struct ob_family_view f = {.name = "g", .name_len = 1, .type = OB_FAMILY_GAUGE};
    ck_assert_int_eq(ob_expose_family(&w, &f), 0);
    out.failed = true; /* as after a failed allocation: sticky */
    double v = 1;
    struct ob_series_view sv = {.labels = "", .kind = OB_SHAPE_SCALAR, .values = &v};
    ck_assert_int_eq(ob_expose_series(&w, &sv), -ENOMEM);
    ck_assert_int_eq(ob_expose_family(&w, &f), -ENOMEM);
    ob_expose_writer_fini(&w);
    ob_buf_fini(&out);
}
END_TEST

/* ---- whole expositions of a real store ----------------------------------- */

static struct ob_store *store;
static char store_path[64];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_setup(void)
{
    snprintf(store_path, sizeof store_path, "/ob-test-expose-%ld", (long)getpid());
    ob_store_unlink(store_path);
    struct ob_store_opts o = {
        .path = store_path,
        .max_series = 256,
        .max_families = 32,
        .samples_per_series = 4,
        .ooo_window_ms = 600000,
        .series_ttl_ms = 100LL * 365 * 24 * 3600 * 1000, /* fixed 2023 timestamps stay live */
        .recreate = true,
    };
    char err[OB_ERR_LEN] = "";
    int rc = ob_store_open(&o, &store, err);
    ck_assert_msg(rc == 0, "ob_store_open: %d %s", rc, err);
}

static void store_teardown(void)
{
    ob_store_close(store);
    store = NULL;
    ob_store_unlink(store_path);
}

static uint32_t family(const char *name, enum ob_family_type type, const char *help)
{
    uint32_t id;
    int rc = ob_store_family(store, name, strlen(name), type, help, strlen(help), &id, NULL);
    ck_assert_int_eq(rc, 0);
    return id;
}

static const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};

static void append(uint32_t fam, const char *labels, const struct ob_shape *sh, int64_t ts,
                   const double *values)
{
    /* FNV-1a over family id and key, as the ingest code's hash stands in */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++)
        h = (h ^ ((fam >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    for (const char *p = labels; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    struct ob_series_ref ref = {.family = fam, .hash = h, .key = labels,
                                .key_len = (uint32_t)strlen(labels)};
    int rc = ob_store_append(store, &ref, sh, ts, values, NULL);
    ck_assert_msg(rc == 0, "append %s: %d", labels, rc);
}

static void append1(uint32_t fam, const char *labels, int64_t ts, double v)
{
    append(fam, labels, &scalar, ts, &v);
}

static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s (run from the repository root)", path);
    struct ob_buf b;
    ob_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ob_buf_append(&b, chunk, n);
    fclose(f);
    ck_assert(!b.failed);
    *out_len = b.len;
    return b.data;
}

static void check_exposition(const struct ob_expose_opts *o, const char *file)
{
    char path[128];
    snprintf(path, sizeof path, "tests/data/%s", file);
    size_t want_len;
    char *want = read_file(path, &want_len);
    struct ob_buf out;
    ob_buf_init(&out);
    ck_assert_int_eq(ob_expose_store(store, o, now_ms(), &out), 0);
    ck_assert_msg(out.len == want_len && memcmp(out.data, want, want_len) == 0,
                  "%s differs; got:\n%.*s", file, (int)out.len, out.data);
    ob_buf_fini(&out);
    free(want);
}

/* The same store in OpenMetrics (tests/data/expose_*.om; the broker adds
 * # EOF after the self-metrics).  OB_WRITE_GOLDEN=1 writes the files anew
 * (then read them: they are the expectation). */
static void check_openmetrics(const struct ob_expose_opts *o, const char *file)
{
    struct ob_expose_opts om = o ? *o : (struct ob_expose_opts){0};
    om.openmetrics = true;
    if (getenv("OB_WRITE_GOLDEN")) {
        struct ob_buf out;
        ob_buf_init(&out);
        ck_assert_int_eq(ob_expose_store(store, &om, now_ms(), &out), 0);
        char path[128];
        snprintf(path, sizeof path, "tests/data/%s", file);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fwrite(out.data, 1, out.len, f);
        fclose(f);
        ob_buf_fini(&out);
    }
    check_exposition(&om, file);
}

START_TEST(store_empty)
{
    struct ob_buf out;
    ob_buf_init(&out);
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), 0);
    ck_assert_uint_eq(out.len, 0);
    /* a family without series is not shown either */
    family("nothing_yet", OB_FAMILY_GAUGE, "No series.");
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), 0);
    ck_assert_uint_eq(out.len, 0);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(store_gauges_counters)
{
    const int64_t ts = 1700000000000;
    uint32_t t = family("temperature_celsius", OB_FAMILY_GAUGE, "Current temperature.");
    uint32_t r = family("requests_total", OB_FAMILY_COUNTER, "Requests served.");
    uint32_t u = family("up", OB_FAMILY_GAUGE, "");
    uint32_t l = family("legacy_value", OB_FAMILY_UNKNOWN, "An untyped value.");
    append1(t, "room=\"kitchen\"", ts, 21.5);
    append1(r, "", ts, 1027);
    append1(t, "room=\"hall\"", ts, -3);
    append1(u, "job=\"api\",instance=\"127.0.0.1:9100\"", ts, 1);
    append1(l, "a=\"b\"", ts, 0.25);
    check_exposition(NULL, "expose_gauges_counters.prom");
    check_openmetrics(NULL, "expose_gauges_counters.om");
}
END_TEST

START_TEST(store_help_escaping)
{
    uint32_t h = family("help_test", OB_FAMILY_GAUGE,
                        "Line one\nLine two with \\ backslash and \"quotes\" kept; UTF-8 °C ✓");
    append1(h, "", 1700000000000, 1);
    check_exposition(NULL, "expose_help_escaping.prom");
    check_openmetrics(NULL, "expose_help_escaping.om");
}
END_TEST

/* label="value" pairs joined by commas, values escaped as ingest does */
static char *labels2(const char *k1, const char *v1, const char *k2, const char *v2)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_buf_printf(&b, "%s=\"", k1);
    ob_escape_label_value(&b, v1, strlen(v1));
    ob_buf_printf(&b, "\",%s=\"", k2);
    ob_escape_label_value(&b, v2, strlen(v2));
    ob_buf_append(&b, "\"", 2); /* with the NUL: b.data is the C string */
    ck_assert(!b.failed);
    return b.data;
}

START_TEST(store_label_escaping)
{
    uint32_t f = family("label_test", OB_FAMILY_GAUGE, "");
    char *a = labels2("path", "C:\\dir\\file", "quote", "say \"hi\"");
    char *b = labels2("multi", "a\nb", "utf8", "Grüße, 世界");
    append1(f, a, 1700000000000, 1);
    append1(f, b, 1700000000000, 2);
    free(a);
    free(b);
    check_exposition(NULL, "expose_label_escaping.prom");
    check_openmetrics(NULL, "expose_label_escaping.om");
}
END_TEST

START_TEST(store_histogram)
{
    const int64_t ts = 1700000000000;
    uint32_t h = family("http_request_duration_seconds", OB_FAMILY_HISTOGRAM, "Request latency.");
    uint32_t q = family("queue_wait_seconds", OB_FAMILY_HISTOGRAM, "");
    static const double bounds[] = {0.005, 0.5, 1, 2.5, 10};
    struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 5, .points = bounds, .has_sum = true};
    /* count, sum, cumulative buckets, +Inf */
    static const double get[] = {10, 7.25, 1, 4, 7, 9, 10, 10};
    append(h, "method=\"GET\"", &sh, ts, get);
    struct ob_shape nosum = sh;
    nosum.has_sum = false;
    static const double post[] = {3, 0, 0, 1, 2, 3, 3, 3};
    append(h, "method=\"POST\"", &nosum, ts, post);
    static const double qb[] = {0.1, 1};
    struct ob_shape qs = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = qb, .has_sum = true};
    static const double qv[] = {2, 0.3, 1, 2, 2};
    append(q, "", &qs, ts, qv);
    check_exposition(NULL, "expose_histogram.prom");
    check_openmetrics(NULL, "expose_histogram.om");
}
END_TEST

START_TEST(store_summary)
{
    const int64_t ts = 1700000000000;
    uint32_t r = family("rpc_duration_seconds", OB_FAMILY_SUMMARY, "RPC latency.");
    uint32_t g = family("gc_pause_seconds", OB_FAMILY_SUMMARY, "");
    static const double qs[] = {0.5, 0.9, 0.99};
    struct ob_shape sh = {.kind = OB_SHAPE_SUMMARY, .n = 3, .points = qs};
    static const double rv[] = {100, 12.5, 0.1, 0.3, 0.75}; /* count, sum, quantiles */
    append(r, "service=\"auth\"", &sh, ts, rv);
    static const double mm[] = {0, 1};
    struct ob_shape sg = {.kind = OB_SHAPE_SUMMARY, .n = 2, .points = mm};
    static const double gv[] = {7, 0.05, 0.001, 0.02};
    append(g, "", &sg, ts, gv);
    check_exposition(NULL, "expose_summary.prom");
    check_openmetrics(NULL, "expose_summary.om");
}
END_TEST

START_TEST(store_timestamps)
{
    uint32_t t = family("temp", OB_FAMILY_GAUGE, "");
    uint32_t l = family("lat", OB_FAMILY_HISTOGRAM, "");
    /* newest timestamp wins, not the last to arrive */
    append1(t, "room=\"a\"", 1700000000000, 1);
    append1(t, "room=\"a\"", 1700000005000, 2);
    append1(t, "room=\"a\"", 1700000003000, 3);
    append1(t, "", 1700000001000, 7);
    static const double b[] = {1};
    struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 1, .points = b, .has_sum = true};
    static const double v[] = {1, 0.5, 1, 1};
    append(l, "", &sh, 1700000002000, v);
    struct ob_expose_opts o = {.timestamps = true};
    check_exposition(&o, "expose_timestamps.prom");
    check_openmetrics(&o, "expose_timestamps.om");
}
END_TEST

START_TEST(store_special_values)
{
    const int64_t ts = 1700000000000;
    uint32_t s = family("special", OB_FAMILY_GAUGE, "");
    append1(s, "v=\"nan\"", ts, NAN);
    append1(s, "v=\"pinf\"", ts, INFINITY);
    append1(s, "v=\"ninf\"", ts, -INFINITY);
    append1(s, "v=\"negzero\"", ts, -0.0);
    append1(s, "v=\"tiny\"", ts, 5e-324);
    append1(s, "v=\"small\"", ts, 1e-5);
    append1(s, "v=\"huge\"", ts, DBL_MAX);
    append1(s, "v=\"million\"", ts, 1e6);
    append1(s, "v=\"big\"", ts, 123456789);
    append1(s, "v=\"third\"", ts, 1.0 / 3);
    append1(s, "v=\"sum\"", ts, 0.1 + 0.2);
    append1(s, "v=\"neg\"", ts, -2.5e-7);
    check_exposition(NULL, "expose_special_values.prom");
    check_openmetrics(NULL, "expose_special_values.om");
}
END_TEST

/* The protobuf format, decoded with the code protoc-c generates from
 * proto/io/prometheus/client/metrics.proto. */
static Io__Prometheus__Client__MetricFamily *next_family(const struct ob_buf *b, size_t *at)
{
    uint64_t n = 0;
    int shift = 0;
    while (*at < b->len) {
        uint8_t c = (uint8_t)b->data[(*at)++];
        n |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (c < 0x80)
            break;
    }
    ck_assert_uint_le(*at + n, b->len);
    Io__Prometheus__Client__MetricFamily *mf = io__prometheus__client__metric_family__unpack(
        NULL, (size_t)n, (const uint8_t *)b->data + *at);
    ck_assert_ptr_nonnull(mf);
    *at += n;
    return mf;
}

START_TEST(store_protobuf)
{
    const int64_t ts = 1700000000000;
    uint32_t r = family("requests_total", OB_FAMILY_COUNTER, "Requests \"served\".");
    uint32_t h = family("latency_seconds", OB_FAMILY_HISTOGRAM, "");
    uint32_t q = family("rpc_seconds", OB_FAMILY_SUMMARY, "");
    uint32_t u = family("odd", OB_FAMILY_UNKNOWN, "");
    append1(r, "path=\"C:\\\\dir\",say=\"\\\"hi\\\"\\n\"", ts, 1027);
    static const double bounds[] = {0.5, 1};
    struct ob_shape hs = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = bounds, .has_sum = false};
    static const double hv[] = {7, 0, 3, 5, 7};
    append(h, "", &hs, ts, hv);
    static const double qs[] = {0.9};
    struct ob_shape ss = {.kind = OB_SHAPE_SUMMARY, .n = 1, .points = qs};
    static const double sv[] = {4, 2.5, 0.75};
    append(q, "", &ss, ts, sv);
    append1(u, "", ts, NAN);

    struct ob_expose_opts o = {.protobuf = true, .timestamps = true};
    struct ob_buf out;
    ob_buf_init(&out);
    ck_assert_int_eq(ob_expose_store(store, &o, now_ms(), &out), 0);
    size_t at = 0;
    Io__Prometheus__Client__MetricFamily *mf = next_family(&out, &at);
    ck_assert_str_eq(mf->name, "requests_total"); /* the whole name, as client_golang */
    ck_assert_str_eq(mf->help, "Requests \"served\".");
    ck_assert_int_eq(mf->type, IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER);
    ck_assert_uint_eq(mf->n_metric, 1);
    Io__Prometheus__Client__Metric *m = mf->metric[0];
    ck_assert_uint_eq(m->n_label, 2);
    ck_assert_str_eq(m->label[0]->name, "path");
    ck_assert_str_eq(m->label[0]->value, "C:\\dir"); /* text escapes undone */
    ck_assert_str_eq(m->label[1]->value, "\"hi\"\n");
    ck_assert(m->counter && m->counter->value == 1027);
    ck_assert(m->has_timestamp_ms && m->timestamp_ms == ts);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);

    mf = next_family(&out, &at);
    ck_assert_str_eq(mf->name, "latency_seconds");
    ck_assert(!mf->help || !mf->help[0]);
    Io__Prometheus__Client__Histogram *hg = mf->metric[0]->histogram;
    ck_assert_ptr_nonnull(hg);
    ck_assert_uint_eq(hg->sample_count, 7);
    ck_assert(!hg->has_sample_sum);     /* the point had none */
    ck_assert_uint_eq(hg->n_bucket, 2); /* no +Inf bucket: the count says it */
    ck_assert(hg->bucket[0]->upper_bound == 0.5 && hg->bucket[0]->cumulative_count == 3);
    ck_assert(hg->bucket[1]->upper_bound == 1 && hg->bucket[1]->cumulative_count == 5);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);

    mf = next_family(&out, &at);
    Io__Prometheus__Client__Summary *sm = mf->metric[0]->summary;
    ck_assert(sm && sm->sample_count == 4 && sm->sample_sum == 2.5 && sm->n_quantile == 1);
    ck_assert(sm->quantile[0]->quantile == 0.9 && sm->quantile[0]->value == 0.75);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);

    mf = next_family(&out, &at);
    ck_assert_int_eq(mf->type, IO__PROMETHEUS__CLIENT__METRIC_TYPE__UNTYPED);
    ck_assert(mf->metric[0]->untyped && isnan(mf->metric[0]->untyped->value));
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    ck_assert_uint_eq(at, out.len);
    ob_buf_fini(&out);
}
END_TEST

/* Created timestamps: _created in OpenMetrics (counters, histograms,
 * summaries), created_timestamp in protobuf, nothing in text 0.0.4. */
START_TEST(store_created)
{
    const int64_t ts = 1700000000000;
    uint32_t c = family("jobs_total", OB_FAMILY_COUNTER, "");
    uint32_t g = family("temp", OB_FAMILY_GAUGE, "");
    uint32_t h = family("lat", OB_FAMILY_HISTOGRAM, "");
    struct ob_series_ref r = {.family = c, .hash = ob_store_hash(c, "", 0), .key = "",
                              .key_len = 0, .created_ms = 1699999000500};
    const double one = 1;
    ck_assert_int_eq(ob_store_append(store, &r, &scalar, ts, &one, NULL), 0);
    r = (struct ob_series_ref){.family = g, .hash = ob_store_hash(g, "", 0), .key = "",
                               .created_ms = 1699999000500};
    ck_assert_int_eq(ob_store_append(store, &r, &scalar, ts, &one, NULL), 0);
    static const double b[] = {1};
    struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 1, .points = b, .has_sum = true};
    static const double v[] = {2, 1.5, 1, 2};
    r = (struct ob_series_ref){.family = h, .hash = ob_store_hash(h, "", 0), .key = "",
                               .created_ms = 1699999999000};
    ck_assert_int_eq(ob_store_append(store, &r, &sh, ts, v, NULL), 0);
    /* an older sample (out of order) does not change the series' start */
    r.created_ms = 1600000000000;
    static const double v0[] = {1, 1, 1, 1};
    ck_assert_int_eq(ob_store_append(store, &r, &sh, ts - 1000, v0, NULL), 0);

    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_opts om = {.openmetrics = true};
    ck_assert_int_eq(ob_expose_store(store, &om, now_ms(), &out), 0);
    ob_buf_putc(&out, '\0');
    ck_assert_msg(strstr(out.data, "jobs_total 1\njobs_created 1.6999990005e+09\n"), "%s", out.data);
    ck_assert_msg(!strstr(out.data, "temp_created"), "%s", out.data);
    ck_assert_msg(strstr(out.data, "lat_count 2\nlat_created 1.699999999e+09\n"), "%s", out.data);
    out.len = 0;
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), 0);
    ob_buf_putc(&out, '\0');
    ck_assert_msg(!strstr(out.data, "_created"), "%s", out.data);

    out.len = 0;
    struct ob_expose_opts pb = {.protobuf = true};
    ck_assert_int_eq(ob_expose_store(store, &pb, now_ms(), &out), 0);
    size_t at = 0;
    Io__Prometheus__Client__MetricFamily *mf = next_family(&out, &at);
    Google__Protobuf__Timestamp *t = mf->metric[0]->counter->created_timestamp;
    ck_assert(t && t->seconds == 1699999000 && t->nanos == 500000000);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    mf = next_family(&out, &at); /* the gauge: no created field */
    ck_assert_ptr_nonnull(mf->metric[0]->gauge);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    mf = next_family(&out, &at);
    t = mf->metric[0]->histogram->created_timestamp;
    ck_assert(t && t->seconds == 1699999999 && t->nanos == 0);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    ob_buf_fini(&out);
}
END_TEST

/* Exemplars: OpenMetrics after a counter's _total and a histogram's buckets
 * (golden file), protobuf in Counter.exemplar and Bucket.exemplar with an
 * explicit +Inf bucket when that one has an exemplar; a quoted UTF-8 label
 * name as the scraper reads names; never in text 0.0.4. */
START_TEST(store_exemplars)
{
    const int64_t ts = 1700000000000;
    uint32_t c = family("orders_total", OB_FAMILY_COUNTER, "");
    uint32_t h = family("wait_seconds", OB_FAMILY_HISTOGRAM, "");
    static const char cl[] = "span_id=\"00f067aa0ba902b7\",user_id=\"a\\\"b\"";
    const struct ob_exemplar cex = {0, sizeof cl - 1, cl, ts - 500, 2};
    struct ob_series_ref r = {.family = c, .hash = ob_store_hash(c, "", 0), .key = "",
                              .exemplars = &cex, .n_exemplars = 1};
    const double one = 5;
    ck_assert_int_eq(ob_store_append(store, &r, &scalar, ts, &one, NULL), 0);
    static const char quoted[] = "\x01" "\"user.id\"=\"7\"";
    const struct ob_exemplar hex[] = {
        {0, sizeof "trace_id=\"0af7\"" - 1, "trace_id=\"0af7\"", ts - 1500, 0.25},
        {2, sizeof quoted - 1, quoted, ts - 250, 12.5},
    };
    static const double b[] = {0.5, 10};
    struct ob_shape sh = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = b, .has_sum = true};
    static const double v[] = {3, 13, 1, 2, 3};
    r = (struct ob_series_ref){.family = h, .hash = ob_store_hash(h, "", 0), .key = "",
                               .exemplars = hex, .n_exemplars = 2};
    ck_assert_int_eq(ob_store_append(store, &r, &sh, ts, v, NULL), 0);

    check_openmetrics(NULL, "expose_exemplars.om");
    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_opts utf8 = {.openmetrics = true, .utf8 = true};
    ck_assert_int_eq(ob_expose_store(store, &utf8, now_ms(), &out), 0);
    ob_buf_putc(&out, '\0');
    ck_assert_msg(strstr(out.data, "wait_seconds_bucket{le=\"+Inf\"} 3 # {\"user.id\"=\"7\"} 12.5 "
                                   "1699999999.750\n"),
                  "%s", out.data);
    out.len = 0;
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), 0);
    ob_buf_putc(&out, '\0');
    ck_assert_msg(!strstr(out.data, " # {") && !strstr(out.data, "trace_id"), "%s", out.data);

    out.len = 0;
    struct ob_expose_opts pb = {.protobuf = true};
    ck_assert_int_eq(ob_expose_store(store, &pb, now_ms(), &out), 0);
    size_t at = 0;
    Io__Prometheus__Client__MetricFamily *mf = next_family(&out, &at);
    Io__Prometheus__Client__Exemplar *e = mf->metric[0]->counter->exemplar;
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->n_label, 2);
    ck_assert_str_eq(e->label[0]->name, "span_id");
    ck_assert_str_eq(e->label[0]->value, "00f067aa0ba902b7");
    ck_assert_str_eq(e->label[1]->name, "user_id");
    ck_assert_str_eq(e->label[1]->value, "a\"b"); /* unescaped */
    ck_assert(e->value == 2);
    ck_assert(e->timestamp && e->timestamp->seconds == 1699999999 && e->timestamp->nanos == 500000000);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    mf = next_family(&out, &at);
    Io__Prometheus__Client__Histogram *hg = mf->metric[0]->histogram;
    ck_assert_uint_eq(hg->n_bucket, 3); /* 0.5, 10, and +Inf for its exemplar */
    ck_assert_ptr_nonnull(hg->bucket[0]->exemplar);
    ck_assert_str_eq(hg->bucket[0]->exemplar->label[0]->value, "0af7");
    ck_assert(hg->bucket[0]->exemplar->value == 0.25);
    ck_assert_ptr_null(hg->bucket[1]->exemplar);
    ck_assert(isinf(hg->bucket[2]->upper_bound) && hg->bucket[2]->cumulative_count == 3);
    ck_assert_str_eq(hg->bucket[2]->exemplar->label[0]->name, "user_id"); /* legacy scraper */
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    ck_assert_uint_eq(at, out.len);
    ob_buf_fini(&out);
}
END_TEST

/* An exponential histogram: a native histogram in protobuf (Prometheus'
 * layout: index + 1, spans, deltas), classic buckets in text. */
START_TEST(store_exponential)
{
    const int64_t ts = 1700000000000;
    uint32_t h = family("size_bytes", OB_FAMILY_HISTOGRAM, "");
    /* scale 2, zero 1 (threshold 0), positive offset 3: 1, 2, 3 (then a gap of
     * 4 empty buckets and 1), negative offset -1: 4 */
    double v[OB_SAMPLE_EXP_BUCKET0 + 16] = {15, 123.5, 1, 0, 2, 3, 8, -1, 1, 1, 2, 3, 0, 0, 0, 0, 1, 4};
    struct ob_shape sh = {.kind = OB_SHAPE_EXPHIST, .n = 16, .has_sum = true};
    struct ob_series_ref r = {.family = h, .hash = ob_store_hash(h, "", 0), .key = "",
                              .created_ms = ts - 60000};
    ck_assert_int_eq(ob_store_append(store, &r, &sh, ts, v, NULL), 0);

    struct ob_buf out;
    ob_buf_init(&out);
    struct ob_expose_opts pb = {.protobuf = true};
    ck_assert_int_eq(ob_expose_store(store, &pb, now_ms(), &out), 0);
    size_t at = 0;
    Io__Prometheus__Client__MetricFamily *mf = next_family(&out, &at);
    ck_assert_int_eq(mf->type, IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM);
    Io__Prometheus__Client__Histogram *hg = mf->metric[0]->histogram;
    ck_assert_uint_eq(hg->n_bucket, 0);
    ck_assert_uint_eq(hg->sample_count, 15);
    ck_assert(hg->sample_sum == 123.5);
    ck_assert(hg->has_schema && hg->schema == 2);
    ck_assert(hg->zero_threshold == 1e-128 && hg->zero_count == 1);
    ck_assert_uint_eq(hg->n_positive_span, 2);
    ck_assert(hg->positive_span[0]->offset == 4 && hg->positive_span[0]->length == 3);
    ck_assert(hg->positive_span[1]->offset == 4 && hg->positive_span[1]->length == 1);
    ck_assert_uint_eq(hg->n_positive_delta, 4);
    const int64_t want[] = {1, 1, 1, -2};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(hg->positive_delta[i], want[i]);
    ck_assert_uint_eq(hg->n_negative_span, 1);
    ck_assert(hg->negative_span[0]->offset == 0 && hg->negative_span[0]->length == 1);
    ck_assert(hg->n_negative_delta == 1 && hg->negative_delta[0] == 4);
    ck_assert(hg->created_timestamp && hg->created_timestamp->seconds == 1699999940);
    io__prometheus__client__metric_family__free_unpacked(mf, NULL);

    out.len = 0;
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), 0);
    ob_buf_putc(&out, '\0');
    /* bounds 2^(k/4): -2^-0.25 (negative bucket -1 is [-1, -2^-0.25)), 0 (zero),
     * then 2^1, 2^1.25, 2^1.5 for positive buckets 3..5 */
    ck_assert_msg(strstr(out.data, "size_bytes_bucket{le=\"-0.8408964152537144\"} 4\n"
                                   "size_bytes_bucket{le=\"0\"} 5\nsize_bytes_bucket{le=\"2\"} 6\n"
                                   "size_bytes_bucket{le=\"2.378414230005442\"} 8\n"),
                  "%s", out.data);
    ck_assert_msg(strstr(out.data, "size_bytes_bucket{le=\"+Inf\"} 15\nsize_bytes_sum 123.5\n"
                                   "size_bytes_count 15\n"),
                  "%s", out.data);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(store_family_order)
{
    const int64_t ts = 1700000000000;
    uint32_t z = family("zeta", OB_FAMILY_COUNTER, "");
    uint32_t a = family("alpha", OB_FAMILY_GAUGE, "");
    uint32_t m = family("mid", OB_FAMILY_GAUGE, "");
    family("empty_family", OB_FAMILY_GAUGE, "");
    /* interleaved arrival: the exposition still keeps each family together */
    append1(a, "i=\"1\"", ts, 1);
    append1(z, "i=\"1\"", ts, 2);
    append1(a, "i=\"2\"", ts, 3);
    append1(m, "", ts, 4);
    append1(z, "i=\"2\"", ts, 5);
    check_exposition(NULL, "expose_family_order.prom");
    check_openmetrics(NULL, "expose_family_order.om");
}
END_TEST

START_TEST(store_enomem)
{
    append1(family("g", OB_FAMILY_GAUGE, ""), "", 1700000000000, 1);
    struct ob_buf out;
    ob_buf_init(&out);
    out.failed = true;
    ck_assert_int_eq(ob_expose_store(store, NULL, now_ms(), &out), -ENOMEM);
    ob_buf_fini(&out);
}
END_TEST

Suite *expose_suite(void);
Suite *expose_suite(void)
{
    Suite *s = suite_create("expose");
    TCase *tc = tcase_create("escape");
    tcase_add_test(tc, escape_label_value);
    tcase_add_test(tc, escape_help);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer");
    tcase_add_test(tc, writer_scalar);
    tcase_add_test(tc, writer_utf8_names);
    tcase_add_test(tc, writer_histogram_timestamps);
    tcase_add_test(tc, writer_summary_no_points);
    tcase_add_test(tc, writer_bounds_change);
    tcase_add_test(tc, prom_samples);
    tcase_add_test(tc, own_text_through_the_writer);
    tcase_add_test(tc, writer_enomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, store_empty);
    tcase_add_test(tc, store_gauges_counters);
    tcase_add_test(tc, store_help_escaping);
    tcase_add_test(tc, store_label_escaping);
    tcase_add_test(tc, store_histogram);
    tcase_add_test(tc, store_summary);
    tcase_add_test(tc, store_timestamps);
    tcase_add_test(tc, store_special_values);
    tcase_add_test(tc, store_family_order);
    tcase_add_test(tc, store_protobuf);
    tcase_add_test(tc, store_created);
    tcase_add_test(tc, store_exemplars);
    tcase_add_test(tc, store_exponential);
    tcase_add_test(tc, store_enomem);
    suite_add_tcase(s, tc);
    return s;
}
