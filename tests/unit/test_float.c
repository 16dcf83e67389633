/* test_float.c: shortest digits and the JSON/ES6 double layout of attribute values. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_float.h"

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
    tcase_add_test(tc, json_layout);
    tcase_add_test(tc, fixed_layout);
    tcase_add_test(tc, shortest_round_trips);
    suite_add_tcase(s, tc);
    return s;
}
