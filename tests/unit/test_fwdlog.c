/* test_fwdlog.c: the forward log (what remote write reads), alone and as the
 * store fills it. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_store.h"

static char log_name[64], store_name[64];
static char err[OB_ERR_LEN];

static void setup(void)
{
    static int counter;
    snprintf(log_name, sizeof log_name, "/obtest-fwd-%d-%d", (int)getpid(), counter);
    snprintf(store_name, sizeof store_name, "/obtest-fwdstore-%d-%d", (int)getpid(), counter++);
    ob_fwdlog_unlink(log_name);
    ob_store_unlink(store_name);
}

static void teardown(void)
{
    ob_fwdlog_unlink(log_name);
    ob_store_unlink(store_name);
}

static struct ob_fwdlog *open_log(uint64_t cap, int64_t store_id, bool want_restart)
{
    struct ob_fwdlog_opts o = {.path = log_name, .cap = cap, .store_created_ns = store_id};
    struct ob_fwdlog *l = NULL;
    bool restarted = true;
    int rc = ob_fwdlog_open(&o, &l, err, &restarted);
    ck_assert_msg(rc == 0, "open: %d %s", rc, err);
    ck_assert_msg(restarted == want_restart, "restarted %d: %s", restarted, err);
    return l;
}

/* Commits records slot = first .. first + n - 1 (ts = slot * 10, value =
 * slot / 2, width 1 or, every 7th, a wider one). */
static void put(struct ob_fwdlog *l, uint32_t first, uint32_t n)
{
    struct ob_fwd_batch b = {0};
    double v[12];
    for (uint32_t i = first; i < first + n; i++) {
        uint32_t width = i % 7 == 0 ? 12 : 1;
        for (uint32_t k = 0; k < width; k++)
            v[k] = i / 2.0 + k;
        ck_assert(ob_fwd_batch_add(&b, i, (uint64_t)i * 31, (int64_t)i * 10, v, width, 0));
    }
    ob_fwdlog_commit(l, &b, 1000 + first);
    ck_assert_uint_eq(b.n, 0);
    ob_fwd_batch_fini(&b);
}

/* Reads every chunk there is; checks each record is the next expected one
 * and well formed.  Returns records read. */
static uint64_t drain(struct ob_fwdlog *l, struct ob_fwd_reader *r, uint32_t *next_slot, uint64_t *lost)
{
    static unsigned char buf[sizeof(struct ob_fwd_chunk) + OB_FWDLOG_CHUNK_MAX];
    uint64_t got = 0, n_lost;
    enum ob_fwd_read rd;
    while ((rd = ob_fwdlog_read(l, r, buf, &n_lost)) != OB_FWD_EMPTY) {
        if (rd == OB_FWD_LOST) {
            *lost += n_lost;
            *next_slot += (uint32_t)n_lost;
            continue;
        }
        const struct ob_fwd_chunk *c = (const void *)buf;
        const unsigned char *p = (const unsigned char *)(c + 1);
        for (uint32_t i = 0; i < c->n_records; i++) {
            const struct ob_fwd_record *rec = (const void *)p;
            ck_assert_uint_eq(rec->slot, *next_slot);
            ck_assert_uint_eq(rec->hash, (uint64_t)rec->slot * 31);
            ck_assert_int_eq(rec->ts_ms, (int64_t)rec->slot * 10);
            ck_assert_uint_eq(rec->width, rec->slot % 7 == 0 ? 12 : 1);
            ck_assert(rec->v[rec->width - 1] == rec->slot / 2.0 + rec->width - 1);
            (*next_slot)++;
            p += ob_fwd_record_size(rec->width);
            got++;
        }
        ck_assert_ptr_eq(p, (const unsigned char *)c + c->bytes);
    }
    return got;
}

START_TEST(records_in_order_across_chunks_and_laps)
{
    struct ob_fwdlog *l = open_log(OB_FWDLOG_MIN_CAP, 7, false);
    struct ob_fwd_cursor *c = ob_fwdlog_cursor(l, "t");
    ck_assert_ptr_nonnull(c);
    struct ob_fwd_reader r = {atomic_load(&c->pos), atomic_load(&c->record)};
    uint32_t next = 0, slot = 0;
    uint64_t lost = 0, got = 0;
    /* Batches from 1 record to several chunks' worth; ten times the ring. */
    for (uint32_t round = 0; round < 400; round++) {
        uint32_t n = 1 + (round * 977) % 5000;
        put(l, slot, n);
        slot += n;
        got += drain(l, &r, &next, &lost);
        ob_fwdlog_ack(c, r.pos, r.record, 0);
    }
    ck_assert_uint_eq(lost, 0);
    ck_assert_uint_eq(got, slot);
    struct ob_fwdlog_stats st;
    ob_fwdlog_stats(l, &st);
    ck_assert_uint_eq(st.records, slot);
    ck_assert_uint_gt(st.head, 10 * st.cap);
    ck_assert_uint_le(st.used, st.cap);
    ck_assert_uint_eq(st.overwritten, 0);
    ck_assert_uint_eq(ob_fwdlog_pending(l, c), 0);
    ob_fwdlog_close(l);
}
END_TEST

START_TEST(a_reader_left_behind_learns_what_it_lost)
{
    struct ob_fwdlog *l = open_log(OB_FWDLOG_MIN_CAP, 7, false);
    struct ob_fwd_cursor *c = ob_fwdlog_cursor(l, "slow");
    struct ob_fwd_reader r = {atomic_load(&c->pos), atomic_load(&c->record)};
    uint32_t slot = 0;
    for (int i = 0; i < 30; i++, slot += 3000) /* about 3 MB of records: 3 laps */
        put(l, slot, 3000);
    ck_assert_uint_eq(ob_fwdlog_pending(l, c), slot);
    uint32_t next = 0;
    uint64_t lost = 0;
    uint64_t got = drain(l, &r, &next, &lost);
    ck_assert_uint_gt(lost, 0);
    ck_assert_uint_eq(lost + got, slot); /* every record read or counted lost */
    struct ob_fwdlog_stats st;
    ob_fwdlog_stats(l, &st);
    ck_assert_uint_eq(st.overwritten, lost); /* overwritten before the only cursor acked them */
    /* The store is not held for what the ring no longer has: a cursor the
     * ring lapped holds it from the oldest chunk left. */
    ob_fwdlog_ack(c, 0, 0, 5);
    int64_t hold = ob_fwdlog_hold(l);
    ck_assert_int_gt(hold, 1000); /* the chunks' wall_ms are 1000 + their first slot */
    ck_assert_int_le(hold, 1000 + (int64_t)slot);
    ob_fwdlog_close(l);
}
END_TEST

START_TEST(cursors_and_records_survive_a_reopen)
{
    struct ob_fwdlog *l = open_log(2 * OB_FWDLOG_MIN_CAP, 7, false);
    struct ob_fwd_cursor *a = ob_fwdlog_cursor(l, "a");
    ck_assert_ptr_nonnull(ob_fwdlog_cursor(l, "b"));
    put(l, 0, 100);
    put(l, 100, 100);
    struct ob_fwd_reader r = {atomic_load(&a->pos), atomic_load(&a->record)};
    static unsigned char buf[sizeof(struct ob_fwd_chunk) + OB_FWDLOG_CHUNK_MAX];
    uint64_t n_lost;
    ck_assert_int_eq(ob_fwdlog_read(l, &r, buf, &n_lost), OB_FWD_CHUNK);
    ob_fwdlog_ack(a, r.pos, r.record, 1100); /* the first batch done */
    ob_fwdlog_close(l);

    /* The same log: a resumes after its first batch, b from the start. */
    l = open_log(2 * OB_FWDLOG_MIN_CAP, 7, false);
    a = ob_fwdlog_cursor(l, "a");
    struct ob_fwd_cursor *b = ob_fwdlog_cursor(l, "b");
    ck_assert_uint_eq(ob_fwdlog_pending(l, a), 100);
    ck_assert_uint_eq(ob_fwdlog_pending(l, b), 200);
    /* The store is held for the oldest unacknowledged chunk: b's first (1000). */
    ck_assert_int_eq(ob_fwdlog_hold(l), 1000);
    r = (struct ob_fwd_reader){atomic_load(&a->pos), atomic_load(&a->record)};
    uint32_t next = 100;
    uint64_t lost = 0;
    ck_assert_uint_eq(drain(l, &r, &next, &lost), 100);
    /* A target no longer configured gives its cursor back. */
    const char *keep[] = {"a"};
    ob_fwdlog_keep_only(l, keep, 1);
    struct ob_fwd_cursor *b2 = ob_fwdlog_cursor(l, "b");
    ck_assert_uint_eq(ob_fwdlog_pending(l, b2), 0); /* a new cursor starts at the head */
    ob_fwdlog_close(l);

    /* Another store, or another size: started over, and said why. */
    l = open_log(2 * OB_FWDLOG_MIN_CAP, 8, true);
    ck_assert_ptr_nonnull(strstr(err, "another store"));
    ob_fwdlog_close(l);
    l = open_log(3 * OB_FWDLOG_MIN_CAP, 8, true);
    ck_assert_ptr_nonnull(strstr(err, "another size"));
    ob_fwdlog_close(l);
}
END_TEST

START_TEST(a_damaged_log_is_started_over)
{
    struct ob_fwdlog *l = open_log(OB_FWDLOG_MIN_CAP, 7, false);
    ob_fwdlog_cursor(l, "a");
    put(l, 0, 10);
    put(l, 10, 10);
    ob_fwdlog_close(l);
    /* Spoil the second chunk's header (the ring starts one page in). */
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", log_name);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    long page = sysconf(_SC_PAGESIZE);
    uint32_t first_bytes = 0;
    ck_assert_int_eq(fseek(f, page + 16, SEEK_SET), 0); /* chunk 1's bytes field */
    ck_assert_uint_eq(fread(&first_bytes, 4, 1, f), 1);
    ck_assert_int_eq(fseek(f, page + first_bytes, SEEK_SET), 0);
    uint64_t junk = 12345;
    ck_assert_uint_eq(fwrite(&junk, 8, 1, f), 1); /* chunk 2's pos */
    fclose(f);
    l = open_log(OB_FWDLOG_MIN_CAP, 7, true);
    ck_assert_msg(strstr(err, "no valid chunk") != NULL, "%s", err);
    struct ob_fwdlog_stats st;
    ob_fwdlog_stats(l, &st);
    ck_assert_uint_eq(st.records, 0);
    ob_fwdlog_close(l);
}
END_TEST

/* Two writers commit while a reader follows: every record exactly once,
 * each writer's in the order it wrote them. */
struct writer_arg {
    struct ob_fwdlog *l;
    uint32_t id;
};

static void *writer(void *p)
{
    struct writer_arg *a = p;
    struct ob_fwd_batch b = {0};
    for (uint32_t i = 0; i < 200000; i++) {
        double v = i;
        ob_fwd_batch_add(&b, a->id, i, i, &v, 1, 0);
        if (b.n == 1 + i % 97)
            ob_fwdlog_commit(a->l, &b, 1);
    }
    ob_fwdlog_commit(a->l, &b, 1);
    ob_fwd_batch_fini(&b);
    return NULL;
}

START_TEST(concurrent_writers_and_a_reader)
{
    struct ob_fwdlog *l = open_log(64 * OB_FWDLOG_MIN_CAP, 7, false);
    struct ob_fwd_cursor *c = ob_fwdlog_cursor(l, "t");
    struct ob_fwd_reader r = {atomic_load(&c->pos), atomic_load(&c->record)};
    pthread_t t[2];
    struct writer_arg args[2] = {{l, 0}, {l, 1}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    static unsigned char buf[sizeof(struct ob_fwd_chunk) + OB_FWDLOG_CHUNK_MAX];
    uint64_t next[2] = {0, 0}, n_lost, record = r.record;
    bool done = false;
    while (!done || next[0] + next[1] < 400000) {
        done = next[0] == 200000 && next[1] == 200000;
        enum ob_fwd_read rd = ob_fwdlog_read(l, &r, buf, &n_lost);
        ck_assert_int_ne(rd, OB_FWD_LOST); /* 64 MiB hold it all */
        if (rd == OB_FWD_EMPTY) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        const struct ob_fwd_chunk *ch = (const void *)buf;
        ck_assert_uint_eq(ch->first_record, record);
        record += ch->n_records;
        const unsigned char *p = (const unsigned char *)(ch + 1);
        for (uint32_t i = 0; i < ch->n_records; i++, p += ob_fwd_record_size(1)) {
            const struct ob_fwd_record *rec = (const void *)p;
            ck_assert_uint_lt(rec->slot, 2);
            ck_assert_uint_eq(rec->hash, next[rec->slot]);
            next[rec->slot]++;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(next[0], 200000);
    ck_assert_uint_eq(next[1], 200000);
    ob_fwdlog_close(l);
}
END_TEST

/* ---- as the store fills it ------------------------------------------------------- */

static struct ob_store *open_store(int64_t ttl_ms)
{
    struct ob_store_opts o = {.path = store_name, .max_series = 8, .max_families = 4,
                              .samples_per_series = 4, .ooo_window_ms = 600000,
                              .series_ttl_ms = ttl_ms};
    struct ob_store *s = NULL;
    ck_assert_msg(ob_store_open(&o, &s, err) == 0, "%s", err);
    return s;
}

struct got {
    uint32_t n;
    struct ob_fwd_record rec[16];
    double v[16][8];
};

static void records_of(const struct ob_fwd_batch *b, struct got *g)
{
    memset(g, 0, sizeof *g);
    for (size_t at = 0; at < b->len && g->n < 16; g->n++) {
        const struct ob_fwd_record *r = (const void *)(b->data + at);
        g->rec[g->n] = *r;
        memcpy(g->v[g->n], r->v, 8u * OB_MIN(r->width, 8u));
        at += ob_fwd_record_size(r->width);
    }
}

START_TEST(the_store_records_what_it_stores)
{
    struct ob_store *s = open_store(300000);
    uint32_t g, gen, c, cgen;
    ck_assert_int_eq(ob_store_family(s, "g", 1, OB_FAMILY_GAUGE, "", 0, &g, &gen), 0);
    ck_assert_int_eq(ob_store_family(s, "c_total", 7, OB_FAMILY_COUNTER, "", 0, &c, &cgen), 0);
    struct ob_fwd_batch b = {0};
    struct ob_series_ref ref = {.family = g, .family_gen = gen, .hash = ob_store_hash(g, "a=\"1\"", 5),
                                .key = "a=\"1\"", .key_len = 5, .fwd = &b};
    const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};
    double v = 1;
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 1000, &v, 5000, NULL), 0); /* new */
    v = 2;
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 2000, &v, 5000, NULL), 0);
    v = 1.5;
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 1500, &v, 5000, NULL), 0); /* out of order */
    unsigned fl = 0;
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 2000, (double[]){2}, 5000, &fl), 0);
    ck_assert(fl & OB_APPEND_RESEND); /* a resend: recorded again (a retried request) */
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 2000, (double[]){3}, 5000, NULL),
                     OB_E_DUPLICATE); /* refused: not recorded */
    /* A delta counter: the record holds the running total. */
    struct ob_series_ref cref = {.family = c, .family_gen = cgen, .hash = ob_store_hash(c, "", 0),
                                 .key = "", .key_len = 0, .fwd = &b};
    double d = 5;
    ck_assert_int_eq(ob_store_accumulate_at(s, &cref, &scalar, 1000, 2000, &d, 5000, NULL), 0);
    d = 3;
    ck_assert_int_eq(ob_store_accumulate_at(s, &cref, &scalar, 2000, 3000, &d, 5000, NULL), 0);

    struct got got;
    records_of(&b, &got);
    ck_assert_uint_eq(got.n, 6);
    const int64_t ts[] = {1000, 2000, 1500, 2000, 2000, 3000};
    const double val[] = {1, 2, 1.5, 2, 5, 8};
    for (uint32_t i = 0; i < 6; i++) {
        ck_assert_int_eq(got.rec[i].ts_ms, ts[i]);
        ck_assert(got.v[i][0] == val[i]);
        ck_assert_uint_eq(got.rec[i].width, 1);
        ck_assert_uint_eq(got.rec[i].hash, i < 4 ? ref.hash : cref.hash);
    }
    /* A record's series is found again by slot and hash. */
    struct ob_series_desc sd;
    ck_assert_int_eq(ob_store_series_at(s, got.rec[0].slot, got.rec[0].hash, &sd), 0);
    ck_assert_int_eq((int)sd.labels_len, 5);
    ck_assert_int_eq(memcmp(sd.labels, "a=\"1\"", 5), 0);
    ck_assert_int_eq(memcmp(sd.family.name, "g", 1), 0);
    ck_assert_int_eq(sd.kind, OB_SHAPE_SCALAR);
    ck_assert_int_eq(ob_store_series_at(s, got.rec[4].slot, got.rec[4].hash, &sd), 0);
    ck_assert(sd.delta);
    ck_assert_int_eq(sd.family.type, OB_FAMILY_COUNTER);
    ck_assert_int_eq(ob_store_series_at(s, got.rec[0].slot, got.rec[0].hash + 1, &sd), -ENOENT);

    /* A histogram record carries the whole sample. */
    b.len = b.n = 0;
    uint32_t h, hgen;
    ck_assert_int_eq(ob_store_family(s, "h", 1, OB_FAMILY_HISTOGRAM, "", 0, &h, &hgen), 0);
    const double bounds[] = {1, 5};
    const struct ob_shape hs = {.kind = OB_SHAPE_HISTOGRAM, .n = 2, .points = bounds, .has_sum = true};
    double hv[5];
    ob_sample_histogram(hv, 2, 6, 17.5, (const uint64_t[]){1, 2});
    struct ob_series_ref href = {.family = h, .family_gen = hgen, .hash = ob_store_hash(h, "", 0),
                                 .key = "", .fwd = &b};
    ck_assert_int_eq(ob_store_append_at(s, &href, &hs, 1000, hv, 5000, NULL), 0);
    records_of(&b, &got);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_uint_eq(got.rec[0].width, 5);
    ck_assert(memcmp(got.v[0], hv, sizeof hv) == 0);
    ob_fwd_batch_fini(&b);
    ob_store_close(s);
}
END_TEST

START_TEST(expiry_records_stale_markers_and_the_hold_keeps_the_series)
{
    struct ob_store *s = open_store(1000);
    uint32_t g, gen;
    ck_assert_int_eq(ob_store_family(s, "g", 1, OB_FAMILY_GAUGE, "", 0, &g, &gen), 0);
    const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};
    struct ob_series_ref ref = {.family = g, .family_gen = gen, .hash = ob_store_hash(g, "k=\"a\"", 5),
                                .key = "k=\"a\"", .key_len = 5};
    /* A sample ahead of the clock: the marker comes after it. */
    ck_assert_int_eq(ob_store_append_at(s, &ref, &scalar, 10000, (double[]){1}, 1000, NULL), 0);
    struct ob_fwd_batch b = {0};
    ob_store_set_reclaim_hold(s, 5000); /* a target still has records from before 5 s */
    ck_assert_uint_eq(ob_store_expire_fwd(s, 3000, &b), 1);
    struct got got;
    records_of(&b, &got);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_uint_eq(got.rec[0].flags, OB_FWD_STALE);
    ck_assert_uint_eq(got.rec[0].width, 0);
    ck_assert_int_eq(got.rec[0].ts_ms, 10001);
    uint32_t slot = got.rec[0].slot;

    /* Past the grace the slot would be reused, but a target has yet to
     * send the records of 3 s on (the marker among them). */
    ob_store_set_reclaim_hold(s, 3000);
    ob_store_expire(s, 3000 + 31000);
    struct ob_series_desc sd;
    ck_assert_int_eq(ob_store_series_at(s, slot, ref.hash, &sd), 0); /* kept: held */
    ck_assert_int_eq(memcmp(sd.labels, "k=\"a\"", 5), 0);
    /* Its family, retired meanwhile, is made anew (in another slot); every
     * new series gets another slot than the held one. */
    ck_assert(!ob_store_family_valid(s, g, gen));
    ck_assert_int_eq(ob_store_family(s, "g", 1, OB_FAMILY_GAUGE, "", 0, &g, &gen), 0);
    for (int i = 0; i < 7; i++) {
        char key[16];
        int n = snprintf(key, sizeof key, "k=\"%d\"", i);
        struct ob_series_ref o = {.family = g, .family_gen = gen,
                                  .hash = ob_store_hash(g, key, (size_t)n), .key = key,
                                  .key_len = (uint32_t)n};
        ck_assert_int_eq(ob_store_append_at(s, &o, &scalar, 40000, (double[]){1}, 34000, NULL), 0);
    }
    ck_assert_int_eq(ob_store_series_at(s, slot, ref.hash, &sd), 0);
    /* The target caught up: the slot goes back to the free list. */
    ob_store_set_reclaim_hold(s, INT64_MAX);
    ob_store_expire(s, 34000);
    ck_assert_int_eq(ob_store_series_at(s, slot, ref.hash, &sd), -ENOENT);
    ob_fwd_batch_fini(&b);
    ob_store_close(s);
}
END_TEST

Suite *fwdlog_suite(void);
Suite *fwdlog_suite(void)
{
    Suite *s = suite_create("fwdlog");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, records_in_order_across_chunks_and_laps);
    tcase_add_test(tc, a_reader_left_behind_learns_what_it_lost);
    tcase_add_test(tc, cursors_and_records_survive_a_reopen);
    tcase_add_test(tc, a_damaged_log_is_started_over);
    tcase_add_test(tc, concurrent_writers_and_a_reader);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("store");
    tcase_add_checked_fixture(st, setup, teardown);
    tcase_add_test(st, the_store_records_what_it_stores);
    tcase_add_test(st, expiry_records_stale_markers_and_the_hold_keeps_the_series);
    suite_add_tcase(s, st);
    return s;
}
