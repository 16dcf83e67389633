/* test_buf.c: ob_buf growth, with and without a ceiling. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "ob_buf.h"

START_TEST(reserve_doubles)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert(ob_buf_reserve(&b, 1));
    ck_assert_uint_eq(b.cap, 256);
    b.len = 256;
    ck_assert(ob_buf_reserve(&b, 1));
    ck_assert_uint_eq(b.cap, 512);
    ck_assert(ob_buf_reserve(&b, 5000));
    ck_assert_uint_eq(b.cap, 8192);
    ck_assert(!ob_buf_reserve(&b, SIZE_MAX)); /* len + extra overflows */
    ck_assert(b.failed);
    ob_buf_fini(&b);
}
END_TEST

/* The ceiling clips the doubling and refuses what would pass it, without
 * marking the buffer failed. */
START_TEST(reserve_max_ceiling)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert(ob_buf_reserve_max(&b, 100, 1000));
    ck_assert_uint_eq(b.cap, 256);
    b.len = 256;
    ck_assert(ob_buf_reserve_max(&b, 300, 1000));
    ck_assert_uint_eq(b.cap, 1000); /* 1024 clipped */
    b.len = 900;
    ck_assert(ob_buf_reserve_max(&b, 100, 1000)); /* fits as it is */
    ck_assert_uint_eq(b.cap, 1000);
    ck_assert(!ob_buf_reserve_max(&b, 101, 1000));
    ck_assert(!b.failed);
    ck_assert_uint_eq(b.cap, 1000);
    ck_assert(!ob_buf_reserve_max(&b, SIZE_MAX, SIZE_MAX));
    ck_assert(!b.failed);
    /* A small ceiling is the exact size. */
    struct ob_buf s;
    ob_buf_init(&s);
    ck_assert(ob_buf_reserve_max(&s, 10, 10));
    ck_assert_uint_eq(s.cap, 10);
    ck_assert(ob_buf_append(&s, "0123456789", 10));
    ck_assert(!ob_buf_reserve_max(&s, 1, 10));
    ob_buf_fini(&s);
    ob_buf_fini(&b);
}
END_TEST

Suite *buf_suite(void);
Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("grow");
    tcase_add_test(tc, reserve_doubles);
    tcase_add_test(tc, reserve_max_ceiling);
    suite_add_tcase(s, tc);
    return s;
}
