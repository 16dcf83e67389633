/* test_float.c: every double -> text of ob_float.c.
 *
 * The exposition's numbers (ob_format_double) against outputs of Go's
 * strconv.FormatFloat(v, 'g', -1, 64) (what Prometheus' expfmt writes) plus a
 * randomized round-trip and minimality check; shortest digits; the JSON/ES6
 * layout of attribute values; the 'f' layout of le and quantile.
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_float.h"

/* ---- the exposition's layout (Go 'g') ------------------------------------ */

static void check_fmt(double v, const char *want)
{
    char buf[32];
    size_t n = ob_format_double(v, buf);
    ck_assert_msg(n == strlen(want) && memcmp(buf, want, n) == 0 && buf[n] == '\0',
                  "format(%.17g) = '%.*s', want '%s'", v, (int)n, buf, want);
}

START_TEST(format_known)
{
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "0"}, /* expfmt: case f == 0 */
        {1, "1"},
        {-1, "-1"},
        {3, "3"},
        {42, "42"},
        {100000, "100000"},
        {123456, "123456"},
        {999999, "999999"},
        {-999999, "-999999"},
        {1e6, "1e+06"},
        {-1e6, "-1e+06"},
        {1234567, "1.234567e+06"},
        {1e7, "1e+07"},
        {12345678, "1.2345678e+07"},
        {123456789, "1.23456789e+08"},
        {1e15, "1e+15"},
        {1e16, "1e+16"},
        {1e21, "1e+21"},
        {1e22, "1e+22"},
        {1e23, "1e+23"},
        {1e100, "1e+100"},
        {9007199254740992.0, "9.007199254740992e+15"},
        {18446744073709551616.0, "1.8446744073709552e+19"},
        {1152921504606846976.0, "1.152921504606847e+18"}, /* 2^60 */
        {123456789012345680.0, "1.2345678901234568e+17"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {0.1, "0.1"},
        {0.5, "0.5"},
        {-2.5, "-2.5"},
        {3.14, "3.14"},
        {4.35, "4.35"},
        {2.675, "2.675"},
        {100.25, "100.25"},
        {123456.7, "123456.7"},
        {999999.5, "999999.5"},
        {1234567.8, "1.2345678e+06"},
        {0.0009765625, "0.0009765625"},
        {0.0001, "0.0001"},
        {0.00012, "0.00012"},
        {-0.000123, "-0.000123"},
        {0.00001, "1e-05"},
        {0.000015, "1.5e-05"},
        {9.9999e-05, "9.9999e-05"},
        {-2.5e-07, "-2.5e-07"},
        {1e-100, "1e-100"},
        {0.30000000000000004, "0.30000000000000004"},
        {0.3333333333333333, "0.3333333333333333"},
        {0.6666666666666666, "0.6666666666666666"},
        {1.2100000000000002, "1.2100000000000002"},
        {1.5000000000000002e-05, "1.5000000000000002e-05"},
        {7.120236347223045e-307, "7.120236347223045e-307"}, /* 2^-1017 */
        {DBL_MIN, "2.2250738585072014e-308"},
        {1e-310, "1e-310"},
        {3e-323, "3e-323"},
        {5e-324, "5e-324"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_fmt(cases[i].v, cases[i].s);
    /* computed, so the compiler's own decimal parsing is not what is tested */
    check_fmt(0.1 + 0.2, "0.30000000000000004");
    check_fmt(1.0 / 3, "0.3333333333333333");
    check_fmt(ldexp(1, -1017), "7.120236347223045e-307");
    check_fmt(ldexp(1, -1074), "5e-324");
}
END_TEST

START_TEST(format_integers)
{
    char buf[32], want[32];
    for (int64_t i = -1000000 + 1; i < 1000000; i++) {
        size_t n = ob_format_double((double)i, buf);
        int wn = snprintf(want, sizeof want, "%" PRId64, i);
        ck_assert_msg(n == (size_t)wn && memcmp(buf, want, n) == 0, "%s vs %s", buf, want);
    }
}
END_TEST

/* Significant digits of s (as written by ob_format_double), leading zeros
 * dropped, trailing zeros of an integer part kept out. */
static int count_digits(const char *s)
{
    char d[40];
    int n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && (n || *s != '0'))
            d[n++] = *s;
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

/* The decimal mant * 10^exp10 as a double. */
static double parse_scaled(uint64_t mant, int exp10)
{
    char s[48];
    snprintf(s, sizeof s, "%" PRIu64 "e%d", mant, exp10);
    return strtod(s, NULL);
}

/* Checks that no decimal with nd-1 significant digits reads back as v:
 * only the two around v (and the closest, which is one of them) can. */
static void check_no_shorter(double v, int nd)
{
    if (nd <= 1)
        return;
    char s[48];
    snprintf(s, sizeof s, "%.*e", nd - 2, fabs(v));
    uint64_t mant = 0;
    const char *p = s;
    for (; *p != 'e'; p++)
        if (*p != '.')
            mant = mant * 10 + (uint64_t)(*p - '0');
    int exp10 = atoi(p + 1) - (nd - 2);
    for (int d = -1; d <= 1; d++) {
        if (mant == 0 && d < 0)
            continue;
        double r = parse_scaled(mant + (uint64_t)(int64_t)d, exp10);
        ck_assert_msg(r != fabs(v), "%.17g: %d digits suffice (%" PRIu64 "e%d)", v, nd - 1,
                      mant + (uint64_t)(int64_t)d, exp10);
    }
}

static void check_roundtrip(double v)
{
    char buf[32];
    size_t n = ob_format_double(v, buf);
    ck_assert_uint_lt(n, 32);
    ck_assert_uint_eq(strlen(buf), n);
    double r = strtod(buf, NULL);
    ck_assert_msg(r == v || (isnan(v) && isnan(r)), "%.17g -> %s -> %.17g", v, buf, r);
    if (!isfinite(v) || v == 0)
        return;
    /* Go's layout: exponent form exactly outside [1e-4, 1e6). */
    bool has_e = strchr(buf, 'e') != NULL;
    ck_assert_msg(has_e == (fabs(v) < 1e-4 || fabs(v) >= 1e6), "%.17g -> %s", v, buf);
    int nd = count_digits(buf);
    check_no_shorter(v, nd);
    /* Of the decimals with nd digits, the closest that reads back (Go/Ryu):
     * the correctly rounded one whenever that one reads back. */
    char closest[48];
    snprintf(closest, sizeof closest, "%.*e", nd - 1, v);
    if (strtod(closest, NULL) == v) {
        char a[40], b[40];
        int na = 0, nb = 0;
        for (const char *p = buf; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9' && (na || *p != '0'))
                a[na++] = *p;
        for (const char *p = closest; *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                b[nb++] = *p;
        while (na < nb)
            a[na++] = '0';
        ck_assert_msg(na >= nb && memcmp(a, b, (size_t)nb) == 0, "%.17g -> %s, closest %s", v,
                      buf, closest);
    }
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* splitmix64: fixed seed, so a failure reproduces */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

START_TEST(format_roundtrip_random)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
    rng_state = 0x5eed;
    for (int e = -1074; e <= 1023; e++) {
        check_roundtrip(ldexp(1, e));
        check_roundtrip(-ldexp(1, e));
        check_roundtrip(nextafter(ldexp(1, e), 0));
        check_roundtrip(nextafter(ldexp(1, e), INFINITY));
    }
    for (int i = 0; i < 60000; i++) {
        uint64_t bits = rng();
        double v;
        switch (i % 6) {
        case 0: /* any finite double */
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                continue;
            break;
        case 1: /* human decimals: 12.5, 0.003, 1234.567 */
            v = (double)(int64_t)(bits % 2000000001 - 1000000000) / p10[(bits >> 40) % 13];
            break;
        case 2: /* large integers, also past 2^53 */
            v = (double)(bits >> (bits & 31));
            break;
        case 3: /* values in a metric's usual range with full precision */
            v = (double)(bits >> 11) / 9007199254740992.0 * p10[(bits >> 3) % 13];
            break;
        case 4: /* subnormals */
            bits >>= 12;
            memcpy(&v, &bits, sizeof v);
            break;
        default: /* near powers of ten */
            v = nextafter(pow(10, (double)(int)(bits % 600) - 300), (bits & 1) ? 0 : INFINITY);
            break;
        }
        check_roundtrip(v);
    }
    check_roundtrip(NAN);
    check_roundtrip(INFINITY);
    check_roundtrip(-INFINITY);
}
END_TEST

static void check_i64(int64_t v)
{
    char buf[24], want[24];
    char *end = ob_put_i64(buf, v);
    int n = snprintf(want, sizeof want, "%" PRId64, v);
    ck_assert_msg(end - buf == n && memcmp(buf, want, (size_t)n) == 0, "%.*s, want %s",
                  (int)(end - buf), buf, want);
}

/* The exposition's timestamps: plain decimal, every digit count and sign. */
START_TEST(put_i64)
{
    for (int64_t v = 1; v <= INT64_MAX / 10; v *= 10)
        for (int64_t d = -1; d <= 1; d++) {
            check_i64(v * 10 + d);
            check_i64(v + d);
            check_i64(-v + d);
        }
    check_i64(INT64_MIN);
    check_i64(INT64_MAX);
}
END_TEST

/* ---- the other layouts ---------------------------------------------------- */

static void expect_json(double v, const char *want)
{
    char buf[64];
    size_t n = ob_format_double_json(v, buf);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

/* Expected texts are what Go's pcommon.Value.AsString() gives a double. */
START_TEST(json_layout)
{
    expect_json(0, "0");
    expect_json(1, "1");
    expect_json(-2.5, "-2.5");
    expect_json(3.14, "3.14");
    expect_json(0.1, "0.1");
    expect_json(100, "100");
    expect_json(1e6, "1000000");
    expect_json(123456789012, "123456789012");
    expect_json(1e20, "100000000000000000000");
    expect_json(1e21, "1e+21");
    expect_json(1.5e300, "1.5e+300");
    expect_json(0.000001, "0.000001");
    expect_json(0.0000001, "1e-7");
    expect_json(1.25e-10, "1.25e-10");
    expect_json(0.05, "0.05");
    expect_json(1.0 / 3, "0.3333333333333333");
    expect_json(5e-324, "5e-324");
    expect_json(1.7976931348623157e308, "1.7976931348623157e+308");
    expect_json(ldexp(1, -1017), "7.120236347223045e-307"); /* power of two: 16 digits, not 17 */
    expect_json(NAN, "json: unsupported value: NaN");
    expect_json(INFINITY, "json: unsupported value: +Inf");
    expect_json(-INFINITY, "json: unsupported value: -Inf");
}
END_TEST

/* Go's FormatFloat(v, 'f', -1, 64): Prometheus' le and quantile texts. */
START_TEST(fixed_layout)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},       {10, "10"},         {0.005, "0.005"},   {1e-9, "0.000000001"},
        {2.5e6, "2500000"}, {1e21, "1000000000000000000000"}, {-0.25, "-0.25"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[OB_FIXED_LEN];
        size_t n = ob_format_double_fixed(cases[i].v, buf);
        ck_assert_str_eq(buf, cases[i].want);
        ck_assert_uint_eq(n, strlen(cases[i].want));
    }
}
END_TEST

START_TEST(shortest_round_trips)
{
    srand(42);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v) || v == 0)
            continue;
        char d[24], text[64];
        int e;
        int n = ob_shortest_digits(v, d, &e);
        ck_assert_int_ge(n, 1);
        ck_assert_int_le(n, 17);
        snprintf(text, sizeof text, "%c.%se%d", d[0], n > 1 ? d + 1 : "0", e);
        ck_assert(strtod(text, NULL) == fabs(v));
        ob_format_double_json(v, text);
        ck_assert(strtod(text, NULL) == v);
    }
}
END_TEST

Suite *float_suite(void);
Suite *float_suite(void)
{
    Suite *s = suite_create("float");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, format_known);
    tcase_add_test(tc, format_integers);
    tcase_add_test(tc, format_roundtrip_random);
    tcase_add_test(tc, put_i64);
    tcase_add_test(tc, json_layout);
    tcase_add_test(tc, fixed_layout);
    tcase_add_test(tc, shortest_round_trips);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
