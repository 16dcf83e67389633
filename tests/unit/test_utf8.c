/* test_utf8.c: ob_utf8.h, the UTF-8 validator of ingest and the OTLP/JSON
 * response: every code point's encoding is accepted (surrogates excepted),
 * and each way a byte string can fail to be UTF-8 is refused. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "ob_utf8.h"

/* The UTF-8 encoding of cp (no checks); returns the length. */
static size_t encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

START_TEST(every_code_point)
{
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        unsigned char s[4];
        size_t n = encode(cp, s);
        bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
        size_t got = ob_utf8_seq_len(s, n);
        if (got != (surrogate ? 0 : n) || ob_utf8_valid((const char *)s, n) == surrogate)
            ck_abort_msg("U+%04X: length %zu", (unsigned)cp, got);
        /* Cut short, it is no sequence. */
        if (n > 1 && ob_utf8_seq_len(s, n - 1) != 0)
            ck_abort_msg("U+%04X cut to %zu bytes accepted", (unsigned)cp, n - 1);
    }
}
END_TEST

START_TEST(ill_formed)
{
    static const char *const bad[] = {
        "\x80",             /* stray continuation */
        "a\xbfz",           /* inside ASCII */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong U+007F */
        "\xe0\x9f\xbf",     /* overlong U+07FF */
        "\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
        "\xed\xa0\x80",     /* U+D800 */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead past U+10FFFF */
        "\xf8\x88\x80\x80\x80",
        "\xff",
        "\xe2\x82",         /* truncated */
        "\xe2\x28\xa1",     /* not a continuation */
        "\xc3\xa9\xa9",     /* one continuation too many */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ob_utf8_valid(bad[i], strlen(bad[i])), "case %zu accepted", i);
    static const char *const good[] = {
        "", "plain ascii", "\x7f", "\xc2\x80", "caf\xc3\xa9", "\xe2\x82\xac", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(ob_utf8_valid(good[i], strlen(good[i])), "case %zu refused", i);
    ck_assert_uint_eq(ob_utf8_seq_len((const unsigned char *)"", 0), 0);
    ck_assert_uint_eq(ob_utf8_seq_len((const unsigned char *)"\xe2\x82\xac!", 4), 3);
}
END_TEST

Suite *utf8_suite(void);
Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, every_code_point);
    tcase_add_test(tc, ill_formed);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
