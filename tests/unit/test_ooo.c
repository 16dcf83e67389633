/* test_ooo.c: the timestamp-ordered sample ring, without shared memory. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ob_error.h"
#include "ob_ooo.h"

struct tring {
    struct ob_ring r;
    _Atomic uint32_t word;
};

static void tring_init(struct tring *t, uint32_t cap, uint32_t width)
{
    t->r.rec = calloc(1, ob_ooo_bytes(cap, width));
    ck_assert_ptr_nonnull(t->r.rec);
    atomic_init(&t->word, 0);
    t->r.word = &t->word;
    t->r.cap = cap;
    t->r.width = width;
}

static int put1(struct tring *t, int64_t ts, double v, int64_t window)
{
    return ob_ooo_insert(&t->r, ts, &v, window);
}

static void expect_ts(struct tring *t, const int64_t *want, uint32_t n)
{
    ck_assert_uint_eq(ob_ooo_count(&t->r), n);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(ob_ooo_rec_ts(ob_ooo_record(&t->r, i)), want[i]);
}

START_TEST(in_order_and_eviction)
{
    struct tring t;
    tring_init(&t, 3, 1);
    ck_assert_uint_eq(ob_ooo_count(&t.r), 0);
    for (int64_t ts = 1; ts <= 5; ts++)
        ck_assert_int_eq(put1(&t, ts * 10, (double)ts, 0), OB_OOO_STORED);
    expect_ts(&t, (const int64_t[]){30, 40, 50}, 3);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 2))[0] == 5.0);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 0))[0] == 3.0);
    free(t.r.rec);
}
END_TEST

START_TEST(out_of_order_insert)
{
    struct tring t;
    tring_init(&t, 4, 1);
    ck_assert_int_eq(put1(&t, 100, 1, 1000), 0);
    ck_assert_int_eq(put1(&t, 300, 3, 1000), 0);
    ck_assert_int_eq(put1(&t, 200, 2, 1000), 0);
    expect_ts(&t, (const int64_t[]){100, 200, 300}, 3);
    ck_assert_int_eq(put1(&t, 50, 0.5, 1000), 0);
    expect_ts(&t, (const int64_t[]){50, 100, 200, 300}, 4);
    /* Full: an insert in the middle evicts the oldest. */
    ck_assert_int_eq(put1(&t, 250, 2.5, 1000), 0);
    expect_ts(&t, (const int64_t[]){100, 200, 250, 300}, 4);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 2))[0] == 2.5);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 3))[0] == 3.0);
    /* Full and older than everything kept: accepted, not kept. */
    ck_assert_int_eq(put1(&t, 90, 9, 1000), OB_OOO_DROPPED);
    expect_ts(&t, (const int64_t[]){100, 200, 250, 300}, 4);
    free(t.r.rec);
}
END_TEST

START_TEST(window_rule)
{
    struct tring t;
    tring_init(&t, 8, 1);
    ck_assert_int_eq(put1(&t, 1000, 1, 100), 0);
    ck_assert_int_eq(put1(&t, 899, 1, 100), OB_E_OUT_OF_BOUNDS);
    ck_assert_int_eq(put1(&t, 900, 1, 100), 0);
    ck_assert_int_eq(put1(&t, 999, 1, 0), OB_E_OUT_OF_BOUNDS);
    /* Extreme timestamps must not overflow the distance. */
    ck_assert_int_eq(put1(&t, INT64_MIN + 1, 1, 100), OB_E_OUT_OF_BOUNDS);
    ck_assert_int_eq(put1(&t, INT64_MAX, 1, 100), 0);
    ck_assert_int_eq(put1(&t, -5, 1, INT64_MAX), OB_E_OUT_OF_BOUNDS);
    ck_assert_int_eq(put1(&t, 0, 1, INT64_MAX), 0);
    expect_ts(&t, (const int64_t[]){0, 900, 1000, INT64_MAX}, 4);
    free(t.r.rec);
}
END_TEST

START_TEST(resend_and_duplicate)
{
    struct tring t;
    tring_init(&t, 4, 3);
    double a[3] = {1, 2, NAN}, b[3] = {1, 2, 3};
    ck_assert_int_eq(ob_ooo_insert(&t.r, 10, a, 100), 0);
    ck_assert_int_eq(ob_ooo_insert(&t.r, 20, b, 100), 0);
    /* Newest and older sample, identical (NaN included): no-op. */
    ck_assert_int_eq(ob_ooo_insert(&t.r, 20, b, 100), OB_OOO_RESEND);
    ck_assert_int_eq(ob_ooo_insert(&t.r, 10, a, 100), OB_OOO_RESEND);
    ck_assert_int_eq(ob_ooo_insert(&t.r, 10, b, 100), OB_E_DUPLICATE);
    ck_assert_int_eq(ob_ooo_insert(&t.r, 20, a, 100), OB_E_DUPLICATE);
    expect_ts(&t, (const int64_t[]){10, 20}, 2);
    ck_assert(isnan(ob_ooo_rec_values(ob_ooo_record(&t.r, 0))[2]));
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 1))[2] == 3.0);
    free(t.r.rec);
}
END_TEST

/* Random inserts against a model: sorted, deduplicated, last cap kept. */
START_TEST(random_against_model)
{
    srand(12345);
    for (int round = 0; round < 50; round++) {
        uint32_t cap = 1 + (uint32_t)(rand() % 7), width = 1 + (uint32_t)(rand() % 4);
        struct tring t;
        tring_init(&t, cap, width);
        int64_t model[64];
        uint32_t mn = 0;
        int64_t window = 20;
        for (int op = 0; op < 200; op++) {
            int64_t ts = rand() % 400;
            double v[4];
            for (uint32_t k = 0; k < width; k++)
                v[k] = (double)(ts * 7 + k);
            int want;
            int64_t newest = mn ? model[mn - 1] : INT64_MIN;
            bool kept_same = false;
            for (uint32_t i = 0; i < mn; i++)
                kept_same |= model[i] == ts;
            if (mn && ts <= newest && newest - ts > window)
                want = OB_E_OUT_OF_BOUNDS;
            else if (kept_same)
                want = OB_OOO_RESEND;
            else if (mn == cap && ts < model[0])
                want = OB_OOO_DROPPED;
            else {
                want = OB_OOO_STORED;
                uint32_t pos = mn;
                while (pos > 0 && model[pos - 1] > ts)
                    pos--;
                memmove(model + pos + 1, model + pos, (mn - pos) * sizeof model[0]);
                model[pos] = ts;
                if (++mn > cap)
                    memmove(model, model + 1, --mn * sizeof model[0]);
            }
            ck_assert_int_eq(ob_ooo_insert(&t.r, ts, v, window), want);
            expect_ts(&t, model, mn);
            for (uint32_t i = 0; i < mn; i++) {
                const double *got = ob_ooo_rec_values(ob_ooo_record(&t.r, i));
                for (uint32_t k = 0; k < width; k++)
                    ck_assert(got[k] == (double)(model[i] * 7 + k));
            }
        }
        free(t.r.rec);
    }
}
END_TEST

/* Sets the record of logical sample i of a ring with head `head`. */
static void poke(struct tring *t, uint32_t head, uint32_t i, int64_t ts, double v)
{
    unsigned char *rec = t->r.rec + ((head + i) % (t->r.cap + 1)) * ob_ooo_stride(1);
    memcpy(rec, &ts, 8);
    memcpy(rec + 8, &v, 8);
}

START_TEST(repair)
{
    struct tring t;
    tring_init(&t, 5, 1);
    /* Clean ring: nothing to do. */
    ck_assert_int_eq(put1(&t, 10, 1, 100), 0);
    ck_assert_int_eq(put1(&t, 20, 2, 100), 0);
    ck_assert_int_eq(ob_ooo_repair(&t.r), 0);
    expect_ts(&t, (const int64_t[]){10, 20}, 2);

    /* Killed mid-shift: duplicate of the newest, one stamped record. */
    atomic_store(&t.word, OB_OOO_WORD(4, 5));
    poke(&t, 4, 0, 10, 1);
    poke(&t, 4, 1, 20, 2);
    poke(&t, 4, 2, OB_OOO_TS_WRITING, 77);
    poke(&t, 4, 3, 40, 4);
    poke(&t, 4, 4, 40, 4);
    ck_assert_int_eq(ob_ooo_repair(&t.r), 2);
    expect_ts(&t, (const int64_t[]){10, 20, 40}, 3);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 2))[0] == 4.0);
    /* The repaired ring works as before. */
    ck_assert_int_eq(put1(&t, 30, 3, 100), 0);
    ck_assert_int_eq(put1(&t, 50, 5, 100), 0);
    expect_ts(&t, (const int64_t[]){10, 20, 30, 40, 50}, 5);

    /* Out of order records are sorted back. */
    atomic_store(&t.word, OB_OOO_WORD(0, 3));
    poke(&t, 0, 0, 30, 3);
    poke(&t, 0, 1, 10, 1);
    poke(&t, 0, 2, 20, 2);
    ck_assert_int_eq(ob_ooo_repair(&t.r), 0);
    expect_ts(&t, (const int64_t[]){10, 20, 30}, 3);
    ck_assert(ob_ooo_rec_values(ob_ooo_record(&t.r, 0))[0] == 1.0);

    /* A word that cannot be right empties the ring. */
    atomic_store(&t.word, OB_OOO_WORD(9, 2));
    ck_assert_int_eq(ob_ooo_repair(&t.r), 2);
    ck_assert_uint_eq(ob_ooo_count(&t.r), 0);
    free(t.r.rec);
}
END_TEST

Suite *ooo_suite(void);
Suite *ooo_suite(void)
{
    Suite *s = suite_create("ooo");
    TCase *tc = tcase_create("ring");
    tcase_add_test(tc, in_order_and_eviction);
    tcase_add_test(tc, out_of_order_insert);
    tcase_add_test(tc, window_rule);
    tcase_add_test(tc, resend_and_duplicate);
    tcase_add_test(tc, random_against_model);
    tcase_add_test(tc, repair);
    suite_add_tcase(s, tc);
    return s;
}
