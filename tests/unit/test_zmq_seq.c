/* test_zmq_seq.c: sequence frames and the per-sender loss table, pure. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ob_zmq_seq.h"

#define S 1000000000LL /* one second in ns */

static struct ob_zseq *t;
static struct ob_zseq_counts c;
static uint64_t tick_lost;
static unsigned tick_calls;

static void setup(void)
{
    ck_assert_int_eq(ob_zseq_create(4, 60 * S, &t), 0);
    memset(&c, 0, sizeof c);
    tick_lost = 0;
    tick_calls = 0;
}

static void teardown(void)
{
    ob_zseq_destroy(t);
    t = NULL;
}

static void on_loss(void *arg, unsigned endpoint, uint64_t sender, uint64_t lost)
{
    (void)arg;
    ck_assert_uint_eq(endpoint, 3);
    ck_assert_uint_ne(sender, 0);
    tick_lost += lost;
    tick_calls++;
}

static void msg(uint64_t sender, uint64_t seq, int64_t now)
{
    struct ob_zseq_frame f = {.sender = sender, .seq = seq};
    bool evicted;
    ob_zseq_observe(t, 3, &f, now, &c, &evicted);
}

static void end(uint64_t sender, uint64_t count, int64_t now)
{
    struct ob_zseq_frame f = {.sender = sender, .seq = count, .flags = OB_ZSEQ_FLAG_END};
    bool evicted;
    ob_zseq_observe(t, 3, &f, now, &c, &evicted);
}

START_TEST(frame_round_trip_and_refusals)
{
    uint8_t b[OB_ZSEQ_FRAME_LEN];
    struct ob_zseq_frame f = {.sender = 0x0123456789abcdefULL, .seq = 42, .flags = 1}, g;
    ob_zseq_encode(b, &f);
    static const uint8_t want[OB_ZSEQ_FRAME_LEN] = {
        0x00, 'O',  'B',  'Q',  1,    1,    0,    0,    0xef, 0xcd, 0xab, 0x89,
        0x67, 0x45, 0x23, 0x01, 42,   0,    0,    0,    0,    0,    0,    0};
    ck_assert_mem_eq(b, want, sizeof want);
    ck_assert_int_eq(ob_zseq_parse(b, sizeof b, &g), 1);
    ck_assert_uint_eq(g.sender, f.sender);
    ck_assert_uint_eq(g.seq, 42);
    ck_assert_uint_eq(g.flags, 1);

    /* Not ours: a protobuf body, an encoding name, an empty frame. */
    ck_assert_int_eq(ob_zseq_parse("\x0a\x02", 2, &g), 0);
    ck_assert_int_eq(ob_zseq_parse("gzip", 4, &g), 0);
    ck_assert_int_eq(ob_zseq_parse("", 0, &g), 0);
    /* Ours but broken: short, long, version, flags, reserved, sender 0. */
    ck_assert_int_eq(ob_zseq_parse(b, 23, &g), -1);
    uint8_t x[OB_ZSEQ_FRAME_LEN + 1];
    memcpy(x, b, sizeof b);
    ck_assert_int_eq(ob_zseq_parse(x, sizeof x, &g), -1);
    memcpy(x, b, sizeof b), x[4] = 2;
    ck_assert_int_eq(ob_zseq_parse(x, sizeof b, &g), -1);
    memcpy(x, b, sizeof b), x[5] = 2;
    ck_assert_int_eq(ob_zseq_parse(x, sizeof b, &g), -1);
    memcpy(x, b, sizeof b), x[7] = 1;
    ck_assert_int_eq(ob_zseq_parse(x, sizeof b, &g), -1);
    memcpy(x, b, sizeof b), memset(x + 8, 0, 8);
    ck_assert_int_eq(ob_zseq_parse(x, sizeof b, &g), -1);
}
END_TEST

START_TEST(in_order_counts_nothing)
{
    for (uint64_t i = 0; i < 5000; i++)
        msg(7, i, 1 * S);
    ck_assert_uint_eq(c.lost + c.duplicate + c.reordered, 0);
    ck_assert_uint_eq(ob_zseq_senders(t), 1);
    end(7, 5000, 2 * S);
    ck_assert_uint_eq(ob_zseq_senders(t), 0); /* complete: settled at once */
    ck_assert_uint_eq(c.lost, 0);
}
END_TEST

START_TEST(duplicates_and_reorders)
{
    msg(7, 0, S);
    msg(7, 1, S);
    msg(7, 1, S); /* duplicate */
    msg(7, 3, S);
    msg(7, 2, S); /* reordered: filled the gap */
    msg(7, 2, S); /* now a duplicate */
    msg(7, 0, S); /* duplicate, from deep in the window */
    ck_assert_uint_eq(c.duplicate, 3);
    ck_assert_uint_eq(c.reordered, 1);
    ck_assert_uint_eq(c.lost, 0);
    end(7, 4, 2 * S);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
}
END_TEST

START_TEST(gap_leaving_the_window_is_lost)
{
    msg(7, 0, S);
    msg(7, 5, S); /* 1..4 unseen, still hoped for */
    ck_assert_uint_eq(c.lost, 0);
    msg(7, OB_ZSEQ_WINDOW, S); /* the window is [1, WINDOW]: 1..4 still in */
    ck_assert_uint_eq(c.lost, 0);
    msg(7, OB_ZSEQ_WINDOW + 8, S); /* now [9, WINDOW + 8]: 1-4 and 6-8 left */
    ck_assert_uint_eq(c.lost, 7);
    c.lost = 0;
    /* A jump further than the window: all of it lost at once. */
    msg(9, 0, S);
    msg(9, 10 * OB_ZSEQ_WINDOW, S);
    ck_assert_uint_eq(c.lost, 9 * OB_ZSEQ_WINDOW); /* the last WINDOW - 1 still hoped for */
    /* A late one below the window: reordered (it was counted lost). */
    msg(9, 1, S);
    ck_assert_uint_eq(c.reordered, 1);
}
END_TEST

START_TEST(window_shift_is_exact)
{
    /* Every shift distance across word boundaries: send 0, then numbers
     * with gaps of d, fill every gap but one per step, and count. */
    for (unsigned d = 1; d < 3 * 64 + 5; d += 7) {
        teardown();
        setup();
        uint64_t hi = 0, missing = 0;
        msg(5, 0, S);
        for (int step = 0; step < 40; step++) {
            uint64_t next = hi + d;
            msg(5, next, S);
            for (uint64_t s = hi + 1; s < next; s++) {
                if (s == hi + 1)
                    missing++; /* leave this one out */
                else
                    msg(5, s, S);
            }
            hi = next;
        }
        /* Push the holes out of the window: exactly they are lost. */
        msg(5, hi + OB_ZSEQ_WINDOW, S);
        ck_assert_uint_eq(c.lost, missing);
        ck_assert_uint_eq(c.duplicate, 0);
    }
}
END_TEST

START_TEST(end_settles_when_idle_after_grace)
{
    for (uint64_t i = 0; i < 100; i++)
        if (i % 10 != 0 || i == 0)
            msg(7, i, S);
    end(7, 250, S); /* 9 holes + 150 never seen */
    ck_assert_uint_eq(ob_zseq_pending_ends(t), 1);
    ob_zseq_tick(t, S + OB_ZSEQ_END_GRACE_NS, false, on_loss, NULL); /* busy: waits */
    ob_zseq_tick(t, S + 1, true, on_loss, NULL);                     /* too soon */
    ck_assert_uint_eq(tick_calls, 0);
    /* Messages of the old connection still come after the END, which
     * overtook them on its new one: nothing unusual. */
    msg(7, 120, S + 2);
    ck_assert_uint_eq(c.reordered + c.lost + c.duplicate, 0);
    ob_zseq_tick(t, S + 2 + OB_ZSEQ_END_GRACE_NS, true, on_loss, NULL);
    ck_assert_uint_eq(tick_calls, 1);
    ck_assert_uint_eq(tick_lost, 9 + 20 + (250 - 121)); /* holes, 100-119, 121-249 */
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
    ck_assert_uint_eq(ob_zseq_pending_ends(t), 0);
}
END_TEST

START_TEST(end_from_an_unknown_sender)
{
    end(8, 0, S); /* opened and closed, sent nothing */
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
    end(8, 3, S); /* the END overtook all three */
    ck_assert_uint_eq(ob_zseq_senders(t), 1);
    msg(8, 1, S);
    msg(8, 0, S); /* 0 came after 1 */
    ck_assert_uint_eq(c.reordered, 1);
    ck_assert_uint_eq(c.lost, 0);
    ob_zseq_tick(t, 2 * S, true, on_loss, NULL);
    ck_assert_uint_eq(tick_lost, 1); /* number 2 */
    /* An END and then nothing at all: everything it counted is lost. */
    end(10, 700, S);
    ob_zseq_tick(t, 3 * S, true, on_loss, NULL);
    ck_assert_uint_eq(tick_lost, 701);
    /* An END far ahead of messages that all come, in order, later. */
    memset(&c, 0, sizeof c);
    end(11, 2000, S);
    for (uint64_t i = 0; i < 2000; i++)
        msg(11, i, S);
    ck_assert_uint_eq(c.lost + c.reordered + c.duplicate, 0);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
    /* Everything came: settled without waiting. */
    end(9, 2, S);
    msg(9, 0, S);
    msg(9, 1, S);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
    ck_assert_uint_eq(c.lost, 0);
}
END_TEST

START_TEST(first_number_starts_the_accounting)
{
    msg(7, 1000, S); /* after a broker restart: nothing is assumed lost */
    msg(7, 1001, S);
    ck_assert_uint_eq(c.lost, 0);
    end(7, 1002, S);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
}
END_TEST

START_TEST(expiry_and_eviction)
{
    msg(1, 0, S);
    msg(1, 2, S); /* 1 missing */
    msg(2, 0, 2 * S);
    msg(3, 0, 3 * S);
    msg(4, 0, 4 * S);
    ck_assert_uint_eq(ob_zseq_senders(t), 4);
    /* Full: a fifth sender evicts the least recently heard, sender 1,
     * whose hole is lost now. */
    struct ob_zseq_frame f = {.sender = 5, .seq = 0};
    bool evicted;
    ob_zseq_observe(t, 3, &f, 5 * S, &c, &evicted);
    ck_assert(evicted);
    ck_assert_uint_eq(c.lost, 1);
    ck_assert_uint_eq(ob_zseq_senders(t), 4);
    /* Sender 2 heard again: it is now the most recent. */
    msg(2, 1, 6 * S);
    msg(2, 3, 6 * S); /* 2 missing */
    /* ttl 60 s: at 64 s senders 3, 4 (3, 4 s) expire; 5 (5 s) too. */
    ob_zseq_tick(t, 65 * S, false, on_loss, NULL);
    ck_assert_uint_eq(ob_zseq_senders(t), 1);
    ck_assert_uint_eq(tick_lost, 0);
    ob_zseq_tick(t, 66 * S, false, on_loss, NULL);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
    ck_assert_uint_eq(tick_lost, 1);
    /* Thousands of senders through a table of four. */
    for (uint64_t s = 100; s < 5100; s++)
        msg(s, 0, 70 * S);
    ck_assert_uint_eq(ob_zseq_senders(t), 4);
    ob_zseq_tick(t, 200 * S, false, on_loss, NULL);
    ck_assert_uint_eq(ob_zseq_senders(t), 0);
}
END_TEST

Suite *zmq_seq_suite(void);

Suite *zmq_seq_suite(void)
{
    Suite *s = suite_create("zmq_seq");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, frame_round_trip_and_refusals);
    tcase_add_test(tc, in_order_counts_nothing);
    tcase_add_test(tc, duplicates_and_reorders);
    tcase_add_test(tc, gap_leaving_the_window_is_lost);
    tcase_add_test(tc, window_shift_is_exact);
    tcase_add_test(tc, end_settles_when_idle_after_grace);
    tcase_add_test(tc, end_from_an_unknown_sender);
    tcase_add_test(tc, first_number_starts_the_accounting);
    tcase_add_test(tc, expiry_and_eviction);
    suite_add_tcase(s, tc);
    return s;
}
