/* test_gzip.c: capped gunzip (bombs, corrupt and concatenated streams) and gzip. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_time.h"

/* Deterministic, mildly compressible bytes: OTLP-like, not all zeros. */
static unsigned char *make_data(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)("abcdefgh01234567"[x & 15]);
    }
    return p;
}

static void gz(const void *p, size_t n, struct ob_buf *out)
{
    ck_assert_int_eq(ob_gzip(p, n, 6, out), 0);
}

START_TEST(round_trip)
{
    static const size_t sizes[] = {0, 1, 100, 65536, 1u << 20, (3u << 20) + 7};
    for (size_t i = 0; i < OB_ARRAY_LEN(sizes); i++) {
        size_t n = sizes[i];
        unsigned char *data = make_data(n);
        struct ob_buf z, out;
        ob_buf_init(&z);
        ob_buf_init(&out);
        gz(data, n, &z);
        ck_assert_uint_eq((unsigned char)z.data[0], 0x1f);
        ck_assert_uint_eq((unsigned char)z.data[1], 0x8b);
        /* Exactly at the cap is fine. */
        ck_assert_int_eq(ob_gunzip(z.data, z.len, n, &out), 0);
        ck_assert_uint_eq(out.len, n);
        ck_assert(n == 0 || memcmp(out.data, data, n) == 0);
        /* One byte under the cap is not. */
        if (n) {
            out.len = 0;
            ck_assert_int_eq(ob_gunzip(z.data, z.len, n - 1, &out), OB_E_TOO_LARGE);
            ck_assert_uint_eq(out.len, 0);
        }
        ob_buf_fini(&z);
        ob_buf_fini(&out);
        free(data);
    }
}
END_TEST

START_TEST(appends_and_restores)
{
    struct ob_buf z, out;
    ob_buf_init(&z);
    ob_buf_init(&out);
    gz("world", 5, &z);
    ob_buf_puts(&out, "hello ");
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 5, &out), 0); /* the cap counts new bytes */
    ck_assert_uint_eq(out.len, 11);
    ck_assert(memcmp(out.data, "hello world", 11) == 0);
    ck_assert_int_eq(ob_gunzip(z.data, z.len - 1, 100, &out), OB_E_MALFORMED);
    ck_assert_uint_eq(out.len, 11);
    ob_buf_fini(&z);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(zlib_stream_accepted)
{
    unsigned char *data = make_data(10000);
    unsigned char comp[12000];
    uLongf clen = sizeof comp;
    ck_assert_int_eq(compress2(comp, &clen, data, 10000, 6), Z_OK);
    struct ob_buf out;
    ob_buf_init(&out);
    ck_assert_int_eq(ob_gunzip(comp, clen, 10000, &out), 0);
    ck_assert_uint_eq(out.len, 10000);
    ck_assert(memcmp(out.data, data, 10000) == 0);
    ob_buf_fini(&out);
    free(data);
}
END_TEST

START_TEST(concatenated_members)
{
    struct ob_buf z, out;
    ob_buf_init(&z);
    ob_buf_init(&out);
    gz("one ", 4, &z);
    gz("", 0, &z); /* an empty member in the middle */
    gz("two ", 4, &z);
    gz("three", 5, &z);
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 13, &out), 0);
    ck_assert_uint_eq(out.len, 13);
    ck_assert(memcmp(out.data, "one two three", 13) == 0);
    /* The cap spans all members. */
    out.len = 0;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 12, &out), OB_E_TOO_LARGE);
    ob_buf_fini(&z);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(malformed)
{
    unsigned char *data = make_data(50000);
    struct ob_buf z, out;
    ob_buf_init(&z);
    ob_buf_init(&out);
    gz(data, 50000, &z);

    /* Truncated anywhere: inside the header, the data, the trailer. */
    static const size_t cuts[] = {0, 1, 5, 10, 200};
    for (size_t i = 0; i < OB_ARRAY_LEN(cuts); i++)
        ck_assert_int_eq(ob_gunzip(z.data, cuts[i], 1u << 20, &out), OB_E_MALFORMED);
    ck_assert_int_eq(ob_gunzip(z.data, z.len / 2, 1u << 20, &out), OB_E_MALFORMED);
    ck_assert_int_eq(ob_gunzip(z.data, z.len - 1, 1u << 20, &out), OB_E_MALFORMED);
    ck_assert_int_eq(ob_gunzip(z.data, z.len - 4, 1u << 20, &out), OB_E_MALFORMED);

    /* Bad CRC and bad length in the trailer. */
    z.data[z.len - 8] ^= 0x01;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 1u << 20, &out), OB_E_MALFORMED);
    z.data[z.len - 8] ^= 0x01;
    z.data[z.len - 1] ^= 0x01;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 1u << 20, &out), OB_E_MALFORMED);
    z.data[z.len - 1] ^= 0x01;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 1u << 20, &out), 0);

    /* Trailing garbage, even a single byte or zero padding. */
    static const char *const tails[] = {"x", "garbage after the stream", "\0\0\0\0"};
    static const size_t tail_lens[] = {1, 24, 4};
    for (size_t i = 0; i < OB_ARRAY_LEN(tails); i++) {
        size_t len = z.len;
        ob_buf_append(&z, tails[i], tail_lens[i]);
        out.len = 0;
        ck_assert_int_eq(ob_gunzip(z.data, z.len, 1u << 20, &out), OB_E_MALFORMED);
        ck_assert_uint_eq(out.len, 0);
        z.len = len;
    }
    /* Not compressed at all. */
    ck_assert_int_eq(ob_gunzip("plain text body", 15, 1u << 20, &out), OB_E_MALFORMED);
    ck_assert_int_eq(ob_gunzip("", 0, 1u << 20, &out), OB_E_MALFORMED);
    /* A corrupt byte in the deflate data. */
    z.data[z.len / 2] ^= 0xff;
    out.len = 0;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 1u << 20, &out), OB_E_MALFORMED);
    ck_assert_uint_eq(out.len, 0);

    ob_buf_fini(&z);
    ob_buf_fini(&out);
    free(data);
}
END_TEST

/* A valid single-member gzip of mib MiB of zeros, built without ever holding
 * the plain data: one MiB of zeros deflated with Z_FULL_FLUSH ends on a byte
 * boundary with no history, so that block can be repeated; the trailer's CRC
 * is combined arithmetically. */
static void zero_bomb(size_t mib, struct ob_buf *out)
{
    static unsigned char zeros[1u << 20];
    unsigned char tmp[1u << 16];
    struct ob_buf first, block, again, fin;
    ob_buf_init(&first);
    ob_buf_init(&block);
    ob_buf_init(&again);
    ob_buf_init(&fin);
    z_stream zs = {0};
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    struct ob_buf *parts[] = {&first, &block, &again, &fin};
    for (size_t p = 0; p < OB_ARRAY_LEN(parts); p++) {
        bool finish = p == OB_ARRAY_LEN(parts) - 1;
        zs.next_in = zeros;
        zs.avail_in = finish ? 0 : sizeof zeros;
        int zrc;
        do {
            zs.next_out = tmp;
            zs.avail_out = sizeof tmp;
            zrc = deflate(&zs, finish ? Z_FINISH : Z_FULL_FLUSH);
            ck_assert(zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR);
            ck_assert(ob_buf_append(parts[p], tmp, sizeof tmp - zs.avail_out));
        } while (zs.avail_out == 0);
    }
    deflateEnd(&zs);
    /* The repeatable block really repeats. */
    ck_assert_uint_eq(block.len, again.len);
    ck_assert(memcmp(block.data, again.data, block.len) == 0);
    ck_assert_uint_gt(fin.len, 8);

    uLong crc1 = crc32(0, zeros, sizeof zeros), crc = crc1;
    ck_assert(ob_buf_append(out, first.data, first.len));
    for (size_t i = 1; i < mib; i++) {
        ck_assert(ob_buf_append(out, block.data, block.len));
        crc = crc32_combine(crc, crc1, sizeof zeros);
    }
    ck_assert(ob_buf_append(out, fin.data, fin.len - 8)); /* final block, our trailer */
    uint32_t isize = (uint32_t)(mib << 20);
    unsigned char trailer[8];
    for (int i = 0; i < 4; i++) {
        trailer[i] = (unsigned char)(crc >> (8 * i));
        trailer[4 + i] = (unsigned char)(isize >> (8 * i));
    }
    ck_assert(ob_buf_append(out, trailer, 8));
    ob_buf_fini(&first);
    ob_buf_fini(&block);
    ob_buf_fini(&again);
    ob_buf_fini(&fin);
}

START_TEST(bomb_builder_is_valid)
{
    struct ob_buf z, out;
    ob_buf_init(&z);
    ob_buf_init(&out);
    zero_bomb(5, &z);
    ck_assert_int_eq(ob_gunzip(z.data, z.len, 5u << 20, &out), 0);
    ck_assert_uint_eq(out.len, 5u << 20);
    for (size_t i = 0; i < out.len; i++)
        if (out.data[i])
            ck_abort_msg("byte %zu is not zero", i);
    ob_buf_fini(&z);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(bomb_single_member)
{
    struct ob_buf z, out;
    ob_buf_init(&z);
    ob_buf_init(&out);
    zero_bomb(1024, &z); /* 1 GiB of zeros */
    ck_assert_uint_lt(z.len, 2u << 20);
    const size_t cap = 32u << 20;
    int64_t t0 = ob_mono_ns();
    ck_assert_int_eq(ob_gunzip(z.data, z.len, cap, &out), OB_E_TOO_LARGE);
    int64_t ns = ob_mono_ns() - t0;
    /* Memory is bounded by the cap, not by what the stream claims. */
    ck_assert_uint_le(out.cap, cap + 1);
    ck_assert_uint_eq(out.len, 0);
    /* Inflating 32 MiB takes milliseconds; the full GiB would take seconds. */
    ck_assert_msg(ns < 1500000000, "bomb took %lld ms", (long long)(ns / 1000000));
    ob_buf_fini(&z);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(bomb_many_members)
{
    static unsigned char zeros[1u << 20];
    struct ob_buf member, z, out;
    ob_buf_init(&member);
    ob_buf_init(&z);
    ob_buf_init(&out);
    ck_assert_int_eq(ob_gzip(zeros, sizeof zeros, 9, &member), 0);
    for (int i = 0; i < 1024; i++)
        ck_assert(ob_buf_append(&z, member.data, member.len));
    const size_t cap = 8u << 20;
    ck_assert_int_eq(ob_gunzip(z.data, z.len, cap, &out), OB_E_TOO_LARGE);
    ck_assert_uint_le(out.cap, cap + 1);
    ob_buf_fini(&member);
    ob_buf_fini(&z);
    ob_buf_fini(&out);
}
END_TEST

START_TEST(gzip_levels)
{
    unsigned char *data = make_data(200000);
    struct ob_buf z1, z9, out;
    ob_buf_init(&z1);
    ob_buf_init(&z9);
    ob_buf_init(&out);
    ck_assert_int_eq(ob_gzip(data, 200000, 1, &z1), 0);
    ck_assert_int_eq(ob_gzip(data, 200000, 9, &z9), 0);
    ck_assert_uint_lt(z9.len, 200000);
    ck_assert_uint_le(z9.len, z1.len);
    ck_assert_int_eq(ob_gunzip(z1.data, z1.len, 200000, &out), 0);
    ck_assert(memcmp(out.data, data, 200000) == 0);
    size_t before = z1.len;
    ck_assert_int_eq(ob_gzip(data, 10, 42, &z1), -EINVAL);
    ck_assert_uint_eq(z1.len, before);
    ob_buf_fini(&z1);
    ob_buf_fini(&z9);
    ob_buf_fini(&out);
    free(data);
}
END_TEST

Suite *gzip_suite(void);
Suite *gzip_suite(void)
{
    Suite *s = suite_create("gzip");
    TCase *tc = tcase_create("gzip");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, appends_and_restores);
    tcase_add_test(tc, zlib_stream_accepted);
    tcase_add_test(tc, concatenated_members);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, bomb_builder_is_valid);
    tcase_add_test(tc, bomb_single_member);
    tcase_add_test(tc, bomb_many_members);
    tcase_add_test(tc, gzip_levels);
    suite_add_tcase(s, tc);
    return s;
}
