/* test_units.c: size and duration parsing. */
#include <check.h>
#include <errno.h>

#include "ob_units.h"

START_TEST(sizes)
{
    uint64_t v;
    ck_assert_int_eq(ob_parse_size("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(ob_parse_size("64KiB", &v), 0);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(ob_parse_size(" 4 MiB ", &v), 0);
    ck_assert_uint_eq(v, 4u << 20);
    ck_assert_int_eq(ob_parse_size("1GiB", &v), 0);
    ck_assert_uint_eq(v, 1u << 30);
    ck_assert_int_eq(ob_parse_size("2T", &v), 0);
    ck_assert_uint_eq(v, 2ull << 40);
    ck_assert_int_eq(ob_parse_size("12XB", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_size("-1", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_size("", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_size("MiB", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_size("99999999999999999999", &v), -ERANGE);
    ck_assert_int_eq(ob_parse_size("20000000TiB", &v), -ERANGE);
}
END_TEST

START_TEST(durations)
{
    int64_t v;
    ck_assert_int_eq(ob_parse_duration("250ms", &v), 0);
    ck_assert_int_eq(v, 250);
    ck_assert_int_eq(ob_parse_duration("30s", &v), 0);
    ck_assert_int_eq(v, 30000);
    ck_assert_int_eq(ob_parse_duration("10m", &v), 0);
    ck_assert_int_eq(v, 600000);
    ck_assert_int_eq(ob_parse_duration("1h", &v), 0);
    ck_assert_int_eq(v, 3600000);
    ck_assert_int_eq(ob_parse_duration("0", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(ob_parse_duration("10", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_duration("10 minutes", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_duration("5M", &v), -EINVAL);
    ck_assert_int_eq(ob_parse_duration("x", &v), -EINVAL);
}
END_TEST

Suite *units_suite(void);
Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, durations);
    suite_add_tcase(s, tc);
    return s;
}
