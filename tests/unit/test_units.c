/* test_units.c: size and duration parsing, formatting and the round trip
 * between them. */
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

static const char *size_text(uint64_t v)
{
    static char buf[32];
    ob_format_size(v, buf, sizeof buf);
    return buf;
}

static const char *duration_text(int64_t ms)
{
    static char buf[32];
    ob_format_duration(ms, buf, sizeof buf);
    return buf;
}

/* The largest unit that divides the value exactly; 0 and values no unit
 * divides are bare numbers (0 is the one bare duration). */
START_TEST(formatting)
{
    static const struct {
        uint64_t bytes;
        const char *text;
    } size_cases[] = {
        {0, "0"},
        {1, "1"},
        {1000, "1000"},
        {1024, "1KiB"},
        {1536, "1536"},
        {3072 * OB_KIB, "3MiB"},
        {32 * OB_MIB, "32MiB"},
        {OB_GIB + OB_KIB, "1048577KiB"},
        {OB_TIB, "1TiB"},
        {2048 * OB_TIB, "2048TiB"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof size_cases / sizeof size_cases[0]; i++)
        ck_assert_str_eq(size_text(size_cases[i].bytes), size_cases[i].text);
    static const struct {
        int64_t ms;
        const char *text;
    } duration_cases[] = {
        {0, "0"},           {1, "1ms"},     {1500, "1500ms"},
        {30000, "30s"},     {90000, "90s"}, {600000, "10m"},
        {3600000, "1h"},    {30 * 86400000ll, "30d"},
        {INT64_MAX, "9223372036854775807ms"},
    };
    for (size_t i = 0; i < sizeof duration_cases / sizeof duration_cases[0]; i++)
        ck_assert_str_eq(duration_text(duration_cases[i].ms), duration_cases[i].text);
    /* A short buffer truncates like snprintf. */
    char small[3];
    ob_format_size(32 * OB_MIB, small, sizeof small);
    ck_assert_str_eq(small, "32");
}
END_TEST

/* Whatever is formatted parses back to the same number. */
START_TEST(round_trip_numbers)
{
    static const uint64_t bytes[] = {0, 1, 7, 1023, 1024, 1025, 4096, 65536, 1536 * OB_KIB,
                                     OB_MIB - 1, 32 * OB_MIB, OB_GIB, 3 * OB_GIB + OB_MIB,
                                     OB_TIB, 5 * OB_TIB, UINT64_MAX / OB_TIB * OB_TIB,
                                     UINT64_MAX};
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        uint64_t back = 0;
        const char *t = size_text(bytes[i]);
        ck_assert_msg(ob_parse_size(t, &back) == 0, "'%s' does not parse", t);
        ck_assert_uint_eq(back, bytes[i]);
    }
    static const int64_t ms[] = {0,        1,        10,       999,     1000,
                                 1001,     59999,    60000,    90000,   3600000,
                                 5400000,  86400000, 86401000, 30 * 86400000ll,
                                 INT64_MAX};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int64_t back = -1;
        const char *t = duration_text(ms[i]);
        ck_assert_msg(ob_parse_duration(t, &back) == 0, "'%s' does not parse", t);
        ck_assert_int_eq(back, ms[i]);
    }
}
END_TEST

/* Canonical text parses and formats back to itself; shorthands and spaces
 * come back canonical. */
START_TEST(round_trip_text)
{
    static const char *const size_pairs[][2] = {
        {"0", "0"},         {"4096", "4KiB"},  {"64KiB", "64KiB"}, {" 4 MiB ", "4MiB"},
        {"2T", "2TiB"},     {"3G", "3GiB"},    {"5M", "5MiB"},     {"9K", "9KiB"},
        {"100B", "100"},    {"1024MiB", "1GiB"}, {"1000KiB", "1000KiB"},
    };
    for (size_t i = 0; i < sizeof size_pairs / sizeof size_pairs[0]; i++) {
        uint64_t v;
        ck_assert_int_eq(ob_parse_size(size_pairs[i][0], &v), 0);
        ck_assert_str_eq(size_text(v), size_pairs[i][1]);
    }
    static const char *const duration_pairs[][2] = {
        {"0", "0"},      {"250ms", "250ms"}, {"1000ms", "1s"}, {"60s", "1m"},
        {"90s", "90s"},  {"120m", "2h"},     {"24h", "1d"},    {" 7 d ", "7d"},
    };
    for (size_t i = 0; i < sizeof duration_pairs / sizeof duration_pairs[0]; i++) {
        int64_t v;
        ck_assert_int_eq(ob_parse_duration(duration_pairs[i][0], &v), 0);
        ck_assert_str_eq(duration_text(v), duration_pairs[i][1]);
    }
}
END_TEST

Suite *units_suite(void);
Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, formatting);
    tcase_add_test(tc, round_trip_numbers);
    tcase_add_test(tc, round_trip_text);
    suite_add_tcase(s, tc);
    return s;
}
