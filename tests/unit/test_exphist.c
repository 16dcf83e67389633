/* test_exphist.c: ob_exphist.c, the exponential histogram arithmetic.
 *
 * Spans and deltas against every case of Prometheus' tests of its OTLP
 * translator (storage/remote/otlptranslator/prometheusremotewrite,
 * histograms_test.go: TestConvertBucketsLayout, TestExponentialToNativeHistogram,
 * the points of TestPrometheusConverter_addExponentialHistogramDataPoints; and
 * storage/remote/write_otlp_handler_test.go), plus edge layouts traced through
 * its convertBucketsLayout; scale lowering tables; bounds exact for schema
 * <= 0, against long double exp2l and Prometheus' table values for schema > 0;
 * the classic fallback against a
 * brute force (for each bound written, the input buckets whose upper bound
 * is not above it) and its invariants, on fixed shapes and random points.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ob_exphist.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAXB 64

/* ---- spans and deltas ----------------------------------------------------- */

struct layout_case {
    const char *name; /* Prometheus' test case, or what the extra case shows */
    int32_t offset;
    uint32_t n;
    double counts[MAXB];
    unsigned by; /* scaleDown */
    size_t n_spans;
    struct ob_native_span spans[8];
    size_t n_deltas;
    int64_t deltas[MAXB];
};

/* The side lowered by `by`, then laid out, as exponentialToNativeHistogram
 * does with convertBucketsLayout(..., scaleDown, true). */
static void check_layout(const struct layout_case *c)
{
    double counts[MAXB];
    memcpy(counts, c->counts, sizeof counts);
    int32_t off = c->offset;
    uint32_t n = ob_exphist_downscale(counts, c->n, &off, c->by);
    struct ob_native_span spans[MAXB];
    int64_t deltas[MAXB];
    size_t nd = 99;
    size_t ns = ob_exphist_spans(counts, n, off, spans, deltas, &nd);
    ck_assert_msg(ns == c->n_spans, "%s, scaledown %u: %zu spans, want %zu", c->name, c->by, ns,
                  c->n_spans);
    ck_assert_msg(nd == c->n_deltas, "%s, scaledown %u: %zu deltas, want %zu", c->name, c->by, nd,
                  c->n_deltas);
    ck_assert(ns <= (c->n ? c->n : 0) && nd <= c->n);
    for (size_t i = 0; i < ns; i++)
        ck_assert_msg(spans[i].offset == c->spans[i].offset &&
                          spans[i].length == c->spans[i].length,
                      "%s, scaledown %u: span %zu {%d,%u}, want {%d,%u}", c->name, c->by, i,
                      spans[i].offset, spans[i].length, c->spans[i].offset, c->spans[i].length);
    for (size_t i = 0; i < nd; i++)
        ck_assert_msg(deltas[i] == c->deltas[i], "%s, scaledown %u: delta %zu %lld, want %lld",
                      c->name, c->by, i, (long long)deltas[i], (long long)c->deltas[i]);
}

#define Z12 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define Z8 0, 0, 0, 0, 0, 0, 0, 0

/* TestConvertBucketsLayout: each case at scaleDown 0, 1 and 2. */
START_TEST(layout_prometheus_convert_buckets_layout)
{
    static const struct layout_case cases[] = {
        {"zero offset", 0, 4, {4, 3, 2, 1}, 0, 1, {{1, 4}}, 4, {4, -1, -1, -1}},
        {"zero offset", 0, 4, {4, 3, 2, 1}, 1, 1, {{1, 2}}, 2, {7, -4}},
        {"zero offset", 0, 4, {4, 3, 2, 1}, 2, 1, {{1, 1}}, 1, {10}},
        {"offset 1", 1, 4, {4, 3, 2, 1}, 0, 1, {{2, 4}}, 4, {4, -1, -1, -1}},
        {"offset 1", 1, 4, {4, 3, 2, 1}, 1, 1, {{1, 3}}, 3, {4, 1, -4}},
        {"offset 1", 1, 4, {4, 3, 2, 1}, 2, 1, {{1, 2}}, 2, {9, -8}},
        {"positive offset", 4, 17, {4, 2, 0, 2, Z12, 1}, 0, 2, {{5, 4}, {12, 1}}, 5,
         {4, -2, -2, 2, -1}},
        {"positive offset", 4, 17, {4, 2, 0, 2, Z12, 1}, 1, 2, {{3, 2}, {6, 1}}, 3, {6, -4, -1}},
        {"positive offset", 4, 17, {4, 2, 0, 2, Z12, 1}, 2, 2, {{2, 1}, {3, 1}}, 2, {8, -7}},
        {"scaledown merges spans", 4, 13, {4, 2, 0, 2, Z8, 1}, 0, 2, {{5, 4}, {8, 1}}, 5,
         {4, -2, -2, 2, -1}},
        {"scaledown merges spans", 4, 13, {4, 2, 0, 2, Z8, 1}, 1, 2, {{3, 2}, {4, 1}}, 3,
         {6, -4, -1}},
        {"scaledown merges spans", 4, 13, {4, 2, 0, 2, Z8, 1}, 2, 1, {{2, 4}}, 4, {8, -8, 0, 1}},
        {"negative offset", -2, 6, {3, 1, 0, 0, 0, 1}, 0, 2, {{-1, 2}, {3, 1}}, 3, {3, -2, 0}},
        {"negative offset", -2, 6, {3, 1, 0, 0, 0, 1}, 1, 1, {{0, 3}}, 3, {4, -4, 1}},
        {"negative offset", -2, 6, {3, 1, 0, 0, 0, 1}, 2, 1, {{0, 2}}, 2, {4, -3}},
        {"buckets with gaps of size 1", -2, 6, {3, 1, 0, 1, 0, 1}, 0, 1, {{-1, 6}}, 6,
         {3, -2, -1, 1, -1, 1}},
        {"buckets with gaps of size 1", -2, 6, {3, 1, 0, 1, 0, 1}, 1, 1, {{0, 3}}, 3, {4, -3, 0}},
        {"buckets with gaps of size 1", -2, 6, {3, 1, 0, 1, 0, 1}, 2, 1, {{0, 2}}, 2, {4, -2}},
        {"buckets with gaps of size 2", -2, 7, {3, 0, 0, 1, 0, 0, 1}, 0, 1, {{-1, 7}}, 7,
         {3, -3, 0, 1, -1, 0, 1}},
        {"buckets with gaps of size 2", -2, 7, {3, 0, 0, 1, 0, 0, 1}, 1, 1, {{0, 4}}, 4,
         {3, -2, -1, 1}},
        {"buckets with gaps of size 2", -2, 7, {3, 0, 0, 1, 0, 0, 1}, 2, 1, {{0, 3}}, 3,
         {3, -2, 0}},
        {"zero buckets", 0, 0, {0}, 0, 0, {{0, 0}}, 0, {0}},
        {"zero buckets", 0, 0, {0}, 1, 0, {{0, 0}}, 0, {0}},
        {"zero buckets", 0, 0, {0}, 2, 0, {{0, 0}}, 0, {0}},
    };
    for (size_t i = 0; i < LEN(cases); i++)
        check_layout(&cases[i]);
}
END_TEST

/* Layouts the Prometheus tests leave out, traced through convertBucketsLayout
 * (it holds a bucket back, skips it when empty, writes the last one always). */
START_TEST(layout_edges)
{
    static const struct layout_case cases[] = {
        {"one bucket", -5, 1, {7}, 0, 1, {{-4, 1}}, 1, {7}},
        {"one empty bucket: written", 3, 1, {0}, 0, 1, {{4, 1}}, 1, {0}},
        {"two leading empties: zeros", 0, 3, {0, 0, 5}, 0, 1, {{1, 3}}, 3, {0, 0, 5}},
        {"three leading empties: the first span stays empty", 0, 4, {0, 0, 0, 5}, 0, 2,
         {{1, 0}, {3, 1}}, 1, {5}},
        {"trailing empty: written", 0, 2, {5, 0}, 0, 1, {{1, 2}}, 2, {5, -5}},
        {"three trailing empties: the last one written", 0, 4, {5, 0, 0, 0}, 0, 1, {{1, 4}}, 4,
         {5, -5, 0, 0}},
        {"four trailing empties: the last one in a span of its own", 0, 5, {5, 0, 0, 0, 0}, 0, 2,
         {{1, 1}, {3, 1}}, 2, {5, -5}},
        {"all empty, short", 0, 3, {0, 0, 0}, 0, 1, {{1, 3}}, 3, {0, 0, 0}},
        {"all empty, long", 0, 4, {0, 0, 0, 0}, 0, 2, {{1, 0}, {3, 1}}, 1, {0}},
        {"gap of 3: new span", 0, 5, {1, 0, 0, 0, 1}, 0, 2, {{1, 1}, {3, 1}}, 2, {1, 0}},
        {"gaps of 3 and 1", -10, 8, {2, 0, 0, 0, 9, 0, 1, 1}, 0, 2, {{-9, 1}, {3, 4}}, 5,
         {2, 7, -9, 1, 0}},
        /* Here Prometheus' scale-down goes wrong: the merged bucket after an
         * empty one is split, 1 landing in the empty bucket (its deltas are
         * 1, 0).  The broker merges first and writes the right counts. */
        {"scaledown after an empty merged bucket (Prometheus: deltas 1, 0)", 0, 4, {0, 0, 1, 1}, 1,
         1, {{1, 2}}, 2, {0, 2}},
        {"scaledown 3, negative odd offset", -7, 10, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 3, 1, {{0, 2}},
         2, {7, -4}},
    };
    for (size_t i = 0; i < LEN(cases); i++)
        check_layout(&cases[i]);
}
END_TEST

START_TEST(layout_big_counts)
{
    /* Counts as Go's int64(uint64): 2^63 and above wrap. */
    double c[] = {9007199254740992.0, 0, 18446744073709549568.0};
    struct ob_native_span spans[3];
    int64_t deltas[3];
    size_t nd;
    ck_assert_uint_eq(ob_exphist_spans(c, 3, 0, spans, deltas, &nd), 1);
    ck_assert_uint_eq(nd, 3);
    ck_assert(deltas[0] == INT64_C(9007199254740992));
    ck_assert(deltas[1] == -INT64_C(9007199254740992));
    ck_assert(deltas[2] == -2048); /* (2^64 - 2048) as int64 */
}
END_TEST

/* TestExponentialToNativeHistogram: both sides of a point, with the scale
 * mapped by ob_exphist_schema. */
struct point_case {
    const char *name;
    int32_t scale;
    int32_t pos_off, neg_off;
    uint32_t n_pos, n_neg;
    double pos[4], neg[4];
    int32_t schema;
    struct ob_native_span pos_span, neg_span; /* one span each in these cases */
    int64_t pos_deltas[4], neg_deltas[4];
};

static void check_side(const char *name, int32_t scale, const double *in, uint32_t n, int32_t off,
                       struct ob_native_span want_span, const int64_t *want)
{
    int32_t schema;
    unsigned by;
    ck_assert(ob_exphist_schema(scale, &schema, &by));
    double c[5];
    memcpy(c, in, n * sizeof *c);
    n = ob_exphist_downscale(c, n, &off, by);
    struct ob_native_span spans[5];
    int64_t deltas[5];
    size_t nd;
    ck_assert_msg(ob_exphist_spans(c, n, off, spans, deltas, &nd) == 1, "%s", name);
    ck_assert_msg(spans[0].offset == want_span.offset && spans[0].length == want_span.length,
                  "%s: {%d,%u}", name, spans[0].offset, spans[0].length);
    ck_assert_uint_eq(nd, want_span.length);
    for (size_t i = 0; i < nd; i++)
        ck_assert_msg(deltas[i] == want[i], "%s: delta %zu", name, i);
}

START_TEST(layout_prometheus_exponential_to_native)
{
    static const struct point_case cases[] = {
        {"convert exp. to native histogram", 1, 1, 1, 2, 2, {1, 1}, {1, 1}, 1, {2, 2}, {2, 2},
         {1, 0}, {1, 0}},
        {"convert exp. to native histogram with no sum", 1, 1, 1, 2, 2, {1, 1}, {1, 1}, 1, {2, 2},
         {2, 2}, {1, 0}, {1, 0}},
        {"no downscaling at scale 8", 8, 1, 2, 3, 3, {1, 1, 1}, {1, 1, 1}, 8, {2, 3}, {3, 3},
         {1, 0, 0}, {1, 0, 0}},
        {"downsample if scale is more than 8", 9, 1, 2, 3, 3, {1, 1, 1}, {1, 1, 1}, 8, {1, 2},
         {2, 2}, {1, 1}, {2, -1}},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        const struct point_case *c = &cases[i];
        int32_t schema;
        unsigned by;
        ck_assert(ob_exphist_schema(c->scale, &schema, &by));
        ck_assert_int_eq(schema, c->schema);
        check_side(c->name, c->scale, c->pos, c->n_pos, c->pos_off, c->pos_span, c->pos_deltas);
        check_side(c->name, c->scale, c->neg, c->n_neg, c->neg_off, c->neg_span, c->neg_deltas);
    }
}
END_TEST

/* Layouts in Prometheus' other OTLP tests: the data points of
 * TestPrometheusConverter_addExponentialHistogramDataPoints (same file) and
 * the exponential histogram of storage/remote/write_otlp_handler_test.go. */
START_TEST(layout_prometheus_other_tests)
{
    static const struct {
        const char *name;
        int32_t scale, offset;
        uint32_t n;
        double counts[5];
        struct ob_native_span span;
        int64_t deltas[5];
    } cases[] = {
        {"addExponentialHistogramDataPoints, first point", 1, -1, 2, {4, 2}, {0, 2}, {4, -2}},
        {"addExponentialHistogramDataPoints, second point", 1, -1, 3, {4, 2, 1}, {0, 3},
         {4, -2, -1}},
        {"write_otlp_handler_test exponential histogram", 2, 0, 5, {2, 2, 2, 2, 2}, {1, 5},
         {2, 0, 0, 0, 0}},
    };
    for (size_t i = 0; i < LEN(cases); i++)
        check_side(cases[i].name, cases[i].scale, cases[i].counts, cases[i].n, cases[i].offset,
                   cases[i].span, cases[i].deltas);
}
END_TEST

START_TEST(schema_mapping)
{
    int32_t schema = 99;
    unsigned by = 99;
    /* "invalid negative scale": -10 is refused, nothing written. */
    ck_assert(!ob_exphist_schema(-10, &schema, &by));
    ck_assert(!ob_exphist_schema(-5, &schema, &by));
    ck_assert_int_eq(schema, 99);
    ck_assert(ob_exphist_schema(-4, &schema, &by) && schema == -4 && by == 0);
    ck_assert(ob_exphist_schema(8, &schema, &by) && schema == 8 && by == 0);
    ck_assert(ob_exphist_schema(20, &schema, &by) && schema == 8 && by == 12);
    ck_assert(ob_exphist_schema(INT32_MAX, &schema, &by) && schema == 8 &&
              by == (unsigned)INT32_MAX - 8);
}
END_TEST

/* ---- lowering the scale --------------------------------------------------- */

START_TEST(downscale_tables)
{
    static const struct {
        int32_t offset;
        uint32_t n;
        double in[10];
        unsigned by;
        int32_t want_offset;
        uint32_t want_n;
        double want[10];
    } cases[] = {
        {0, 4, {1, 2, 3, 4}, 0, 0, 4, {1, 2, 3, 4}},
        {0, 4, {1, 2, 3, 4}, 1, 0, 2, {3, 7}},
        {1, 4, {1, 2, 3, 4}, 1, 0, 3, {1, 5, 4}},
        {1, 4, {1, 2, 3, 4}, 2, 0, 2, {6, 4}},
        {-3, 5, {1, 2, 3, 4, 5}, 1, -2, 3, {1, 5, 9}},
        {-3, 5, {1, 2, 3, 4, 5}, 2, -1, 2, {6, 9}},
        {-4, 5, {1, 2, 3, 4, 5}, 1, -2, 3, {3, 7, 5}},
        {-1, 1, {7}, 5, -1, 1, {7}},
        {-5, 10, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 40, -1, 2, {5, 5}},
        {-5, 10, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 300, -1, 2, {5, 5}},
        {5, 3, {0, 2, 0}, 1, 2, 2, {0, 2}},
        {INT32_MIN, 2, {1, 1}, 1, INT32_MIN / 2, 1, {2}},
        {INT32_MAX - 1, 2, {1, 1}, 1, INT32_MAX / 2, 1, {2}},
        {INT32_MAX, 3, {1, 2, 4}, 2, INT32_MAX / 4, 2, {1, 6}},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        double c[10];
        memcpy(c, cases[i].in, sizeof c);
        int32_t off = cases[i].offset;
        uint32_t n = ob_exphist_downscale(c, cases[i].n, &off, cases[i].by);
        ck_assert_msg(n == cases[i].want_n && off == cases[i].want_offset,
                      "case %zu: n %u offset %d", i, n, off);
        for (uint32_t j = 0; j < n; j++)
            ck_assert_msg(c[j] == cases[i].want[j], "case %zu: bucket %u = %g", i, j, c[j]);
    }
    int32_t off = 12;
    ck_assert_uint_eq(ob_exphist_downscale(NULL, 0, &off, 3), 0);
    ck_assert_int_eq(off, 12);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* Floor division by 2^by, spelled out for the checks. */
static int64_t floor_div(int64_t x, unsigned by)
{
    int64_t d = (int64_t)1 << by;
    return x >= 0 ? x / d : -((-x + d - 1) / d);
}

START_TEST(downscale_random)
{
    for (int t = 0; t < 2000; t++) {
        uint32_t n = (uint32_t)rnd_range(1, 40);
        int32_t off = (int32_t)rnd_range(-100, 100);
        unsigned by = (unsigned)rnd_range(0, 9);
        double in[40], a[40], b[40];
        for (uint32_t i = 0; i < n; i++)
            in[i] = (double)rnd_range(0, 3);
        /* Against a plain scatter by floor division. */
        double want[80] = {0};
        int64_t first = floor_div(off, by);
        for (uint32_t i = 0; i < n; i++)
            want[floor_div((int64_t)off + i, by) - first] += in[i];
        memcpy(a, in, sizeof a);
        int32_t oa = off;
        uint32_t na = ob_exphist_downscale(a, n, &oa, by);
        ck_assert_int_eq(oa, first);
        ck_assert_int_eq(na, floor_div((int64_t)off + n - 1, by) - first + 1);
        for (uint32_t j = 0; j < na; j++)
            ck_assert(a[j] == want[j]);
        /* One step at a time gives the same. */
        memcpy(b, in, sizeof b);
        int32_t ob = off;
        uint32_t nb = n;
        for (unsigned s = 0; s < by; s++)
            nb = ob_exphist_downscale(b, nb, &ob, 1);
        ck_assert(nb == na && ob == oa && memcmp(a, b, na * sizeof *a) == 0);
    }
}
END_TEST

/* ---- bounds --------------------------------------------------------------- */

START_TEST(bound_schema_le_0_exact)
{
    for (int32_t s = -4; s <= 0; s++)
        for (int32_t k = -300; k <= 300; k++) {
            int64_t e = (int64_t)k * (1 << -s);
            int clamped = e < -2000 ? -2000 : e > 2000 ? 2000 : (int)e;
            double want = e == 1024 ? DBL_MAX : ldexp(1, clamped);
            ck_assert_msg(ob_exphist_bound(k, s) == want, "bound(%d, %d)", k, s);
        }
    ck_assert(ob_exphist_bound(0, 0) == 1);
    ck_assert(ob_exphist_bound(1, 0) == 2);
    ck_assert(ob_exphist_bound(-1, 0) == 0.5);
    ck_assert(ob_exphist_bound(1, -4) == 65536);
    ck_assert(ob_exphist_bound(-1, -2) == 0.0625);
    ck_assert(ob_exphist_bound(-1074, 0) == 0x1p-1074); /* the smallest subnormal */
    ck_assert(ob_exphist_bound(-1075, 0) == 0);
    /* 2^1024 is DBL_MAX, as in Prometheus, at every schema. */
    ck_assert(ob_exphist_bound(1024, 0) == DBL_MAX);
    ck_assert(ob_exphist_bound(64, -4) == DBL_MAX);
    ck_assert(ob_exphist_bound(1024 << 8, 8) == DBL_MAX);
    ck_assert(ob_exphist_bound(1024 << 3, 3) == DBL_MAX);
    ck_assert(isinf(ob_exphist_bound(1025, 0)));
    ck_assert(isinf(ob_exphist_bound((1024 << 8) + 1, 8)));
    ck_assert(isinf(ob_exphist_bound(INT32_MAX, -4)));
    ck_assert(ob_exphist_bound(INT32_MIN, -4) == 0);
    ck_assert(ob_exphist_bound(INT32_MIN, 8) == 0);
    ck_assert(isnan(ob_exphist_bound(0, 9)) && isnan(ob_exphist_bound(0, -5)));
}
END_TEST

/* Values of Prometheus' exponentialBounds table (model/histogram/generic.go),
 * as ldexp(fraction, exponent) with the exponent its getBound gives. */
START_TEST(bound_prometheus_table)
{
    static const struct {
        int32_t k, schema;
        double want;
    } cases[] = {
        {1, 1, 2 * 0.7071067811865475}, /* sqrt(2) as the table has it */
        {-1, 1, 0.7071067811865475},
        {1, 2, 2 * 0.5946035575013605},
        {3, 2, 2 * 0.8408964152537144},
        {3, 3, 2 * 0.6484197773255048},
        {7, 3, 2 * 0.9170040432046711},
        {5, 4, 2 * 0.620928906036742},
        {-11, 4, 0.620928906036742},
        {31, 5, 2 * 0.9785720620876999},
        {6, 8, 2 * 0.5081891574554764},
        {255, 8, 2 * 0.9972960560854698},
        {-1, 8, 0.9972960560854698},
        {-255, 8, 0.5013556375251013},
        {1000, 8, 16 * 0.9370838170551498},
    };
    for (size_t i = 0; i < LEN(cases); i++)
        ck_assert_msg(ob_exphist_bound(cases[i].k, cases[i].schema) == cases[i].want,
                      "bound(%d, %d) = %.17g, want %.17g", cases[i].k, cases[i].schema,
                      ob_exphist_bound(cases[i].k, cases[i].schema), cases[i].want);
    /* sqrt(2) rounded correctly is one ulp above Prometheus' bound. */
    ck_assert(ob_exphist_bound(1, 1) == nextafter(sqrt(2), 0));
}
END_TEST

/* Schema > 0 against 2^(k / 2^schema) in long double: Prometheus' table is
 * not always the nearest double, but within 4 ulp (3.8 at its worst, schema 8
 * fraction 218). */
START_TEST(bound_schema_gt_0_independent)
{
    for (int32_t s = 1; s <= 8; s++)
        for (int32_t k = -1100 * (1 << s); k < 1024 * (1 << s); k++) {
            long double exact = exp2l((long double)k / (long double)(1 << s));
            double b = ob_exphist_bound(k, s);
            double ulp = nextafter(b, INFINITY) - b;
            ck_assert_msg(fabsl((long double)b - exact) <= 4 * (long double)ulp,
                          "bound(%d, %d) = %.17g, 2^(k/2^s) = %.20Lg", k, s, b, exact);
        }
}
END_TEST

START_TEST(bound_consistent_across_schemas)
{
    /* A bound at schema s is the bound of index 2k at s + 1 (the scale
     * lowering relies on it) and bounds ascend. */
    for (int32_t s = -4; s < 8; s++)
        for (int32_t k = -2000; k <= 2000; k++)
            ck_assert_msg(ob_exphist_bound(k, s) == ob_exphist_bound(2 * k, s + 1), "k %d s %d", k,
                          s);
    for (int32_t s = -4; s <= 8; s++) {
        /* From 2^-1000 to the last bound below DBL_MAX. */
        int32_t lo = s >= 0 ? -1000 * (1 << s) : -1000 / (1 << -s);
        int32_t hi = s >= 0 ? 1024 * (1 << s) : 1024 / (1 << -s);
        for (int32_t k = lo; k < hi; k++)
            ck_assert_msg(ob_exphist_bound(k, s) < ob_exphist_bound(k + 1, s), "k %d s %d", k, s);
        ck_assert(ob_exphist_bound(hi, s) == DBL_MAX);
    }
}
END_TEST

/* ---- classic fallback ----------------------------------------------------- */

/* For a bound b: the count of input buckets whose upper bound is <= b, on
 * the point lowered to scale 8 when above (as the fallback takes it).  Bounds
 * are compared as the doubles they round to, as the fallback does, which is
 * only ambiguous where they underflow (no double lies there). */
static double brute_cum(const struct ob_exphist_view *h, double b)
{
    if (h->scale > 8) {
        static double pos[512], neg[512];
        struct ob_exphist_view l = *h;
        if (h->n_pos)
            memcpy(pos, h->pos, h->n_pos * sizeof *pos);
        if (h->n_neg)
            memcpy(neg, h->neg, h->n_neg * sizeof *neg);
        l.n_pos = ob_exphist_downscale(pos, h->n_pos, &l.pos_offset, (unsigned)(h->scale - 8));
        l.n_neg = ob_exphist_downscale(neg, h->n_neg, &l.neg_offset, (unsigned)(h->scale - 8));
        l.pos = pos;
        l.neg = neg;
        l.scale = 8;
        return brute_cum(&l, b);
    }
    double sum = 0;
    for (uint32_t i = 0; i < h->n_neg; i++)
        if (-ob_exphist_bound(h->neg_offset + (int32_t)i, h->scale) <= b)
            sum += h->neg[i];
    if ((h->zero_threshold > 0 ? h->zero_threshold : 0) <= b)
        sum += h->zero_count;
    for (uint32_t i = 0; i < h->n_pos; i++)
        if (ob_exphist_bound(h->pos_offset + (int32_t)i + 1, h->scale) <= b)
            sum += h->pos[i];
    return sum < h->count ? sum : h->count;
}

/* Runs the fallback, checks the invariants and the brute force; returns n. */
static uint32_t classic(const struct ob_exphist_view *h, uint32_t max, double *bounds, double *cum)
{
    double scratch[512];
    ck_assert(h->n_pos + h->n_neg <= LEN(scratch));
    for (uint32_t i = 0; i < max + 1; i++)
        bounds[i] = cum[i] = -12345; /* poison, and one past max must stay */
    uint32_t n = ob_exphist_classic(h, max, bounds, cum, scratch);
    ck_assert_uint_le(n, max);
    ck_assert(bounds[max] == -12345 && cum[max] == -12345);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(bounds[i]) && !(bounds[i] == 0 && signbit(bounds[i])),
                      "bound %u = %g", i, bounds[i]);
        if (i > 0) {
            ck_assert_msg(bounds[i] > bounds[i - 1], "bounds %u, %u not ascending", i - 1, i);
            ck_assert(cum[i] >= cum[i - 1]);
        }
        ck_assert(cum[i] >= 0 && cum[i] <= h->count);
        double want = brute_cum(h, bounds[i]);
        ck_assert_msg(cum[i] == want, "le %.17g: %g, brute force %g", bounds[i], cum[i], want);
    }
    return n;
}

static void check_classic(const struct ob_exphist_view *h, uint32_t max, uint32_t want_n,
                          const double *want_bounds, const double *want_cum)
{
    double bounds[MAXB + 1], cum[MAXB + 1];
    uint32_t n = classic(h, max, bounds, cum);
    ck_assert_uint_eq(n, want_n);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_msg(bounds[i] == want_bounds[i], "bound %u: %.17g, want %.17g", i, bounds[i],
                      want_bounds[i]);
        ck_assert_msg(cum[i] == want_cum[i], "cumulative %u: %g, want %g", i, cum[i], want_cum[i]);
    }
}

START_TEST(classic_positive_only)
{
    /* Interior empty bucket kept; the empty zero bucket below is an end. */
    const double pos[] = {1, 2, 0, 3};
    struct ob_exphist_view h = {.scale = 0, .pos_offset = 0, .n_pos = 4, .pos = pos, .count = 6};
    check_classic(&h, 10, 4, (const double[]){2, 4, 8, 16}, (const double[]){1, 3, 3, 6});
    /* Empty buckets at both ends left out. */
    const double pos2[] = {0, 0, 1, 0, 1, 0, 0};
    h = (struct ob_exphist_view){.scale = 0, .pos_offset = -2, .n_pos = 7, .pos = pos2, .count = 2};
    check_classic(&h, 10, 3, (const double[]){2, 4, 8}, (const double[]){1, 1, 2});
    /* Exactly max_buckets: no lowering. */
    check_classic(&h, 3, 3, (const double[]){2, 4, 8}, (const double[]){1, 1, 2});
    /* One fewer: scale -1, bounds 4 and 16 (2 -> (1,4], 4 and 8 -> (4,16]). */
    check_classic(&h, 2, 2, (const double[]){4, 16}, (const double[]){1, 2});
}
END_TEST

START_TEST(classic_negative_zero_positive)
{
    /* Scale 1: negative buckets 0 [-r2, -1) and 1 [-2, -r2), zero bucket
     * [0, 0] with 3, positive -1 (r2/2, 1] and 0 (1, r2], r2 = sqrt(2) as
     * Prometheus has it. */
    const double r2 = ob_exphist_bound(1, 1);
    const double neg[] = {1, 2}, pos[] = {4, 5};
    struct ob_exphist_view h = {.scale = 1,
                                .zero_count = 3,
                                .neg_offset = 0,
                                .n_neg = 2,
                                .neg = neg,
                                .pos_offset = -1,
                                .n_pos = 2,
                                .pos = pos,
                                .count = 15};
    check_classic(&h, 10, 5, (const double[]){-r2, -1, 0, 1, r2},
                  (const double[]){2, 3, 6, 10, 15});
    /* Room for 4: scale 0, negative buckets merge to [-2, -1) with 3; the
     * positive ones stay apart, (0.5, 1] and (1, 2]. */
    check_classic(&h, 4, 4, (const double[]){-1, 0, 1, 2}, (const double[]){3, 6, 10, 15});
    /* Room for 3: the positive buckets lie either side of 1, a bound at every
     * scale, so even scale -4 has 4 bounds (-1, 0, 1, 65536): the lowest is
     * left out. */
    check_classic(&h, 3, 3, (const double[]){0, 1, 65536}, (const double[]){6, 10, 15});

    /* Count in the zero bucket with a zero threshold of 0, nothing else. */
    h = (struct ob_exphist_view){.scale = 3, .zero_count = 4, .count = 4};
    check_classic(&h, 10, 1, (const double[]){0}, (const double[]){4});

    /* Empty zero bucket between the sides: an interior bound, kept. */
    const double one[] = {1};
    h = (struct ob_exphist_view){.scale = 0,
                                 .neg_offset = 2,
                                 .n_neg = 1,
                                 .neg = one,
                                 .pos_offset = 2,
                                 .n_pos = 1,
                                 .pos = one,
                                 .count = 2};
    check_classic(&h, 10, 3, (const double[]){-4, 0, 8}, (const double[]){1, 1, 2});

    /* Negative only: the empty zero bucket above is an end. */
    h.n_pos = 0;
    h.count = 1;
    check_classic(&h, 10, 1, (const double[]){-4}, (const double[]){1});
}
END_TEST

START_TEST(classic_zero_threshold)
{
    /* zero_threshold 3 above the positive bucket (1, 2]: that one is counted
     * under le=3 (its values are below 3 too), bounds stay ascending. */
    const double pos[] = {1, 1, 1};
    struct ob_exphist_view h = {.scale = 0,
                                .zero_threshold = 3,
                                .zero_count = 2,
                                .pos_offset = 0,
                                .n_pos = 3,
                                .pos = pos,
                                .count = 5};
    check_classic(&h, 10, 3, (const double[]){3, 4, 8}, (const double[]){3, 4, 5});
    /* Empty zero bucket: (1, 2] still counted under 3. */
    h.zero_count = 0;
    h.count = 3;
    check_classic(&h, 10, 3, (const double[]){3, 4, 8}, (const double[]){1, 2, 3});
    /* Counted there before the scale is lowered: at scale -1 (1, 2] would
     * share (1, 4] with (2, 4] and leave le=3 short. */
    check_classic(&h, 2, 2, (const double[]){3, 16}, (const double[]){1, 3});
    /* A negative zero_threshold is taken as 0. */
    h.zero_threshold = -1;
    h.zero_count = 1;
    h.count = 4;
    check_classic(&h, 10, 4, (const double[]){0, 2, 4, 8}, (const double[]){1, 2, 3, 4});
}
END_TEST

START_TEST(classic_160_at_scale_8)
{
    double pos[160];
    for (int i = 0; i < 160; i++)
        pos[i] = 1 + i % 3;
    double want_b[41], want_c[41];
    /* Offset 0: two steps (160 -> 80 -> 40), scale 6. */
    struct ob_exphist_view h = {.scale = 8, .pos_offset = 0, .n_pos = 160, .pos = pos};
    double total = 0;
    for (int i = 0; i < 160; i++)
        total += pos[i];
    h.count = total;
    double run = 0;
    for (int j = 0; j < 40; j++) {
        for (int i = 4 * j; i < 4 * j + 4; i++)
            run += pos[i];
        want_b[j] = ob_exphist_bound(j + 1, 6);
        want_c[j] = run;
    }
    check_classic(&h, 40, 40, want_b, want_c);
    /* Offset 1: indexes 1..160 take 41 buckets at scale 6, so three steps,
     * scale 5: indexes 0..20, 21 bounds. */
    h.pos_offset = 1;
    run = 0;
    for (int j = 0; j < 21; j++) {
        for (int i = 8 * j - 1; i < 8 * j + 7; i++)
            if (i >= 0 && i < 160)
                run += pos[i];
        want_b[j] = ob_exphist_bound(j + 1, 5);
        want_c[j] = run;
    }
    check_classic(&h, 40, 21, want_b, want_c);
    /* And on the negative side, mirrored: same counts of bounds. */
    double b[MAXB + 1], c[MAXB + 1];
    h = (struct ob_exphist_view){
        .scale = 8, .neg_offset = 0, .n_neg = 160, .neg = pos, .count = total};
    ck_assert_uint_eq(classic(&h, 40, b, c), 40);
    ck_assert(b[39] == -1 && c[39] == total);
    h.neg_offset = 1;
    ck_assert_uint_eq(classic(&h, 40, b, c), 21);
}
END_TEST

START_TEST(classic_scale_above_8)
{
    /* Scale 10, lowered to 8 first: indexes 3..7 -> 0, 1, 1, 1, 1. */
    const double pos[] = {1, 2, 3, 4, 5};
    struct ob_exphist_view h = {.scale = 10, .pos_offset = 3, .n_pos = 5, .pos = pos, .count = 15};
    check_classic(&h, 10, 2, (const double[]){ob_exphist_bound(1, 8), ob_exphist_bound(2, 8)},
                  (const double[]){1, 15});
    /* Scale 20 (the SDKs' default start), 160 buckets from a large index. */
    double many[160];
    for (int i = 0; i < 160; i++)
        many[i] = 1;
    h = (struct ob_exphist_view){
        .scale = 20, .pos_offset = 5000000, .n_pos = 160, .pos = many, .count = 160};
    double b[MAXB + 1], c[MAXB + 1];
    uint32_t n = classic(&h, 40, b, c);
    ck_assert_uint_ge(n, 1);
    ck_assert(c[n - 1] == 160);
}
END_TEST

START_TEST(classic_lowest_left_out)
{
    /* At scale -4 already: 40 buckets, room for 10, the 10 highest stay and
     * the first of them counts everything below it. */
    double pos[40];
    for (int i = 0; i < 40; i++)
        pos[i] = 1;
    struct ob_exphist_view h = {
        .scale = -4, .pos_offset = -10, .n_pos = 40, .pos = pos, .count = 40};
    double want_b[10], want_c[10];
    for (int j = 0; j < 10; j++) {
        want_b[j] = ldexp(1, 16 * (-10 + 30 + j + 1));
        want_c[j] = 31 + j;
    }
    check_classic(&h, 10, 10, want_b, want_c);
    /* Room for one: the highest finite bound, with everything. */
    check_classic(&h, 1, 1, (const double[]){ldexp(1, 16 * 30)}, (const double[]){40});
    /* Both sides from scale 3, room for 1. */
    const double neg[] = {1, 1, 1}, p3[] = {1, 1};
    h = (struct ob_exphist_view){.scale = 3,
                                 .zero_count = 1,
                                 .neg_offset = 0,
                                 .n_neg = 3,
                                 .neg = neg,
                                 .pos_offset = 0,
                                 .n_pos = 2,
                                 .pos = p3,
                                 .count = 6};
    check_classic(&h, 1, 1, (const double[]){65536}, (const double[]){6});
}
END_TEST

START_TEST(classic_edges)
{
    double b[MAXB + 1], c[MAXB + 1];
    const double pos[] = {1, 2};
    struct ob_exphist_view h = {.scale = 0, .pos_offset = 0, .n_pos = 2, .pos = pos, .count = 3};
    /* max_buckets 0: everything in +Inf. */
    ck_assert_uint_eq(classic(&h, 0, b, c), 0);
    /* Count 0: nothing, even with buckets. */
    h.count = 0;
    ck_assert_uint_eq(classic(&h, 10, b, c), 0);
    h.count = NAN;
    ck_assert_uint_eq(classic(&h, 10, b, c), 0);
    /* No non-empty bucket. */
    const double zeros[] = {0, 0, 0};
    h = (struct ob_exphist_view){.scale = 2, .pos_offset = 4, .n_pos = 3, .pos = zeros, .count = 7};
    ck_assert_uint_eq(classic(&h, 10, b, c), 0);
    h = (struct ob_exphist_view){.scale = 2, .count = 7};
    ck_assert_uint_eq(classic(&h, 10, b, c), 0);
    /* Scale below -4: refused. */
    h = (struct ob_exphist_view){.scale = -5, .pos_offset = 0, .n_pos = 2, .pos = pos, .count = 3};
    ck_assert_uint_eq(classic(&h, 10, b, c), 0);
    /* Buckets adding up to more than count: clamped. */
    h = (struct ob_exphist_view){.scale = 0, .pos_offset = 0, .n_pos = 2, .pos = pos, .count = 2};
    check_classic(&h, 10, 2, (const double[]){2, 4}, (const double[]){1, 2});
    /* Bounds at the top of the doubles: DBL_MAX is written, +Inf is not. */
    h = (struct ob_exphist_view){
        .scale = 0, .pos_offset = 1023, .n_pos = 2, .pos = pos, .count = 3};
    check_classic(&h, 10, 1, (const double[]){DBL_MAX}, (const double[]){1});
    /* A negative bucket whose bound underflows to -0 is written as 0, and the
     * zero bucket's 0 merges with it. */
    const double one[] = {1};
    h = (struct ob_exphist_view){.scale = 0,
                                 .zero_count = 1,
                                 .neg_offset = -1100,
                                 .n_neg = 1,
                                 .neg = one,
                                 .count = 2};
    check_classic(&h, 10, 1, (const double[]){0}, (const double[]){2});
    /* A negative bucket with an infinite bound: counted by the next bound. */
    h = (struct ob_exphist_view){.scale = 0,
                                 .zero_count = 1,
                                 .neg_offset = 1030,
                                 .n_neg = 1,
                                 .neg = one,
                                 .count = 2};
    check_classic(&h, 10, 1, (const double[]){0}, (const double[]){2});
}
END_TEST

START_TEST(classic_random)
{
    double pos[64], neg[64], b[MAXB + 1], c[MAXB + 1];
    for (int t = 0; t < 20000; t++) {
        struct ob_exphist_view h = {.scale = (int32_t)rnd_range(-4, 12)};
        h.n_pos = (uint32_t)rnd_range(0, 60);
        h.n_neg = (uint32_t)rnd_range(0, 60);
        /* Indexes from about 2^-1050 (above the subnormals, where distinct
         * bounds could round to one double) to past +Inf, or near 1. */
        int64_t unit = h.scale >= 0 ? (int64_t)1 << h.scale : 1;
        int64_t div = h.scale >= 0 ? 1 : (int64_t)1 << -h.scale;
        int64_t lo = rnd() % 2 ? -1050 * unit / div : -3 * unit;
        int64_t hi = rnd() % 2 ? 1100 * unit / div : 3 * unit;
        h.pos_offset = (int32_t)rnd_range(lo, hi);
        h.neg_offset = (int32_t)rnd_range(lo, hi);
        double total = 0;
        for (uint32_t i = 0; i < h.n_pos; i++)
            total += pos[i] = rnd() % 3 ? 0 : (double)rnd_range(1, 5);
        for (uint32_t i = 0; i < h.n_neg; i++)
            total += neg[i] = rnd() % 3 ? 0 : (double)rnd_range(1, 5);
        h.pos = pos;
        h.neg = neg;
        h.zero_count = rnd() % 2 ? 0 : (double)rnd_range(1, 5);
        h.zero_threshold = rnd() % 2 ? 0 : ob_exphist_bound((int32_t)rnd_range(-40, 10), 0);
        total += h.zero_count;
        h.count = rnd() % 8 ? total : total - 1;
        uint32_t max = (uint32_t)rnd_range(0, MAXB);
        classic(&h, max, b, c);
    }
}
END_TEST

Suite *exphist_suite(void);
Suite *exphist_suite(void)
{
    Suite *s = suite_create("exphist");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, layout_prometheus_convert_buckets_layout);
    tcase_add_test(tc, layout_edges);
    tcase_add_test(tc, layout_big_counts);
    tcase_add_test(tc, layout_prometheus_exponential_to_native);
    tcase_add_test(tc, layout_prometheus_other_tests);
    tcase_add_test(tc, schema_mapping);
    tcase_add_test(tc, downscale_tables);
    tcase_add_test(tc, downscale_random);
    suite_add_tcase(s, tc);
    tc = tcase_create("bounds");
    tcase_add_test(tc, bound_schema_le_0_exact);
    tcase_add_test(tc, bound_prometheus_table);
    tcase_add_test(tc, bound_schema_gt_0_independent);
    tcase_add_test(tc, bound_consistent_across_schemas);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("classic");
    tcase_add_test(tc, classic_positive_only);
    tcase_add_test(tc, classic_negative_zero_positive);
    tcase_add_test(tc, classic_zero_threshold);
    tcase_add_test(tc, classic_160_at_scale_8);
    tcase_add_test(tc, classic_scale_above_8);
    tcase_add_test(tc, classic_lowest_left_out);
    tcase_add_test(tc, classic_edges);
    tcase_add_test(tc, classic_random);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
