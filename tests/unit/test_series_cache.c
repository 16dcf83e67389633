/* test_series_cache.c: the per-thread series cache (ob_series_cache.h) on
 * its own: hits and misses by identity, family generations, the way a miss
 * replaces, sweeps, growth, and the pipeline's stages. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ob_series_cache.h"

static struct ob_series_probe probe_of(const char *raw, uint64_t origin)
{
    struct ob_series_probe p = {.origin = origin, .ok = true};
    ob_buf_init(&p.raw);
    ob_buf_append(&p.raw, raw, strlen(raw));
    return p;
}

START_TEST(hit_by_identity_and_generation)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 100000, 60000), 0);
    ck_assert_uint_eq(ob_series_cache_capacity(&c), 4096);
    struct ob_series_probe p = probe_of("k=v", 42);
    ck_assert_ptr_null(ob_series_cache_find(&c, &p, 7, 1));
    struct ob_cached_series *e = ob_series_cache_put(&c, &p, 7, 1, "k=\"v\"", 5);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(c.used, 1);
    ck_assert_uint_eq(e->hash, ob_store_hash(7, "k=\"v\"", 5));
    ck_assert(memcmp(e->data + e->raw_len, "k=\"v\"", 5) == 0);
    ck_assert_ptr_eq(ob_series_cache_find(&c, &p, 7, 1), e);
    /* Another family, a reused family id (new generation), other raw bytes
     * with the same hash: all misses. */
    ck_assert_ptr_null(ob_series_cache_find(&c, &p, 8, 1));
    ck_assert_ptr_null(ob_series_cache_find(&c, &p, 7, 2));
    struct ob_series_probe q = probe_of("k=w", 42);
    ck_assert_ptr_null(ob_series_cache_find(&c, &q, 7, 1));
    /* Stage two's guess is only a guess: a wrong one is not trusted. */
    q.way = e;
    ck_assert_ptr_null(ob_series_cache_find(&c, &q, 7, 1));
    ob_series_cache_clear(&c);
    ck_assert_uint_eq(c.used, 0);
    ck_assert_ptr_null(ob_series_cache_find(&c, &p, 7, 1));
    ob_buf_fini(&p.raw);
    ob_buf_fini(&q.raw);
    ob_series_cache_fini(&c);
}
END_TEST

/* Five series in one set of four ways: the fifth replaces a way in
 * rotation, and the others still hit. */
START_TEST(miss_replaces_in_rotation)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 1000, 60000), 0);
    uint64_t sets = c.mask + 1;
    struct ob_series_probe p[5];
    for (int i = 0; i < 5; i++) {
        char raw[8];
        snprintf(raw, sizeof raw, "s%d", i);
        p[i] = probe_of(raw, 5 + (uint64_t)i * sets); /* all in set 5 */
        ck_assert_ptr_nonnull(ob_series_cache_put(&c, &p[i], 1, 0, raw, 2));
    }
    ck_assert_uint_eq(c.used, 4);
    int hits = 0;
    for (int i = 0; i < 5; i++)
        hits += ob_series_cache_find(&c, &p[i], 1, 0) != NULL;
    ck_assert_int_eq(hits, 4);
    ck_assert_ptr_nonnull(ob_series_cache_find(&c, &p[4], 1, 0));
    for (int i = 0; i < 5; i++)
        ob_buf_fini(&p[i].raw);
    ob_series_cache_fini(&c);
}
END_TEST

static void fill(struct ob_series_cache *c, struct ob_series_probe *p, int n, uint64_t mult)
{
    for (int i = 0; i < n; i++) {
        char raw[24];
        snprintf(raw, sizeof raw, "r%llx", (unsigned long long)mult + (unsigned)i);
        p[i] = probe_of(raw, mult * (uint64_t)(i + 1));
        ck_assert_ptr_nonnull(ob_series_cache_put(c, &p[i], 1, 0, "b", 1));
    }
}

static void drop(struct ob_series_probe *p, int n)
{
    for (int i = 0; i < n; i++)
        ob_buf_fini(&p[i].raw);
}

enum { N = 3000 };

/* Half full, it grows between requests, and keeps every entry. */
START_TEST(grows_when_half_full)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 1u << 20, 60000), 0);
    size_t cap = ob_series_cache_capacity(&c);
    static struct ob_series_probe p[N];
    fill(&c, p, N, 0x9e3779b97f4a7c15ull);
    size_t used = c.used;
    ck_assert_uint_gt(used * 2, cap);
    size_t found = 0;
    for (int i = 0; i < N; i++)
        found += ob_series_cache_find(&c, &p[i], 1, 0) != NULL;
    ck_assert_uint_eq(found, used); /* the rest was lost to full sets */
    ob_series_cache_request_done(&c);
    ck_assert_uint_eq(ob_series_cache_capacity(&c), 2 * cap);
    found = 0;
    for (int i = 0; i < N; i++)
        found += ob_series_cache_find(&c, &p[i], 1, 0) != NULL;
    ck_assert_uint_eq(found, used);
    ck_assert_uint_eq(c.used, used);
    drop(p, N);
    ob_series_cache_fini(&c);
}
END_TEST

/* At its cap and half full it is swept: entries not hit for max_age (the
 * store's series_ttl) go, the ones in use stay; at most once a second. */
START_TEST(swept_at_its_cap)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 4096, 1000), 0); /* cap: 4096 entries */
    size_t cap = ob_series_cache_capacity(&c);
    static struct ob_series_probe p[N];
    ob_series_cache_begin(&c, 100000);
    fill(&c, p, N, 0x9e3779b97f4a7c15ull);
    size_t filled = c.used;
    ck_assert_uint_gt(filled * 2, cap);
    /* 0.9 s later the first 100 are hit: nothing is old enough yet. */
    ob_series_cache_begin(&c, 100900);
    int live = 0;
    for (int i = 0; i < 100; i++)
        live += ob_series_cache_find(&c, &p[i], 1, 0) != NULL;
    ob_series_cache_request_done(&c);
    ck_assert_uint_eq(c.used, filled);
    /* A second later (sweeps come at most once a second) the rest is
     * older than max_age: swept. */
    ob_series_cache_begin(&c, 101900);
    ob_series_cache_request_done(&c);
    ck_assert_uint_eq(ob_series_cache_capacity(&c), cap);
    ck_assert_uint_eq(c.used, (size_t)live);
    int kept = 0;
    for (int i = 0; i < 100; i++)
        kept += ob_series_cache_find(&c, &p[i], 1, 0) != NULL;
    ck_assert_int_eq(kept, live);
    drop(p, N);
    ob_series_cache_fini(&c);
}
END_TEST

/* Series churn (new series all the time, old ones gone) keeps it at the
 * size of what is live within max_age instead of doubling it to its cap. */
START_TEST(churn_does_not_grow_it)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 1u << 20, 2000), 0);
    static struct ob_series_probe p[200];
    size_t cap_seen = 0;
    for (int round = 0; round < 100; round++) { /* 100 s, 200 new series a second */
        ob_series_cache_begin(&c, 1000000 + round * 1000);
        for (int i = 0; i < 200; i++) {
            char raw[24];
            snprintf(raw, sizeof raw, "c%d.%d", round, i);
            p[i] = probe_of(raw, 0x9e3779b97f4a7c15ull * (uint64_t)(round * 200 + i + 1));
            ck_assert_ptr_nonnull(ob_series_cache_put(&c, &p[i], 1, 0, "b", 1));
        }
        drop(p, 200);
        ob_series_cache_request_done(&c);
        if (ob_series_cache_capacity(&c) > cap_seen)
            cap_seen = ob_series_cache_capacity(&c);
    }
    ck_assert_uint_eq(cap_seen, 4096); /* about 600 live at a time: never grew */
    ck_assert_uint_le(c.used, 800);
    ob_series_cache_fini(&c);
}
END_TEST

/* The pipeline hashes each point's raw attributes with the seed and hands
 * out point i's probe at step i; the same attributes give the same origin. */
START_TEST(pipeline_stages)
{
    struct ob_series_cache c;
    ck_assert_int_eq(ob_series_cache_init(&c, 1000, 60000), 0);
    struct ob_arena arena;
    ob_arena_init(&arena, 4096);
    struct ob_attr_render render = {.arena = &arena};
    ob_buf_init(&render.json);
    struct ob_series_pipeline pl = {.cache = &c, .store = NULL, .render = &render, .seed = 99,
                                    .family = 3};
    Opentelemetry__Proto__Common__V1__AnyValue v[2];
    Opentelemetry__Proto__Common__V1__KeyValue kv[2];
    key_value *kvs[2][1];
    const char *vals[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        opentelemetry__proto__common__v1__any_value__init(&v[i]);
        v[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v[i].string_value = (char *)vals[i];
        opentelemetry__proto__common__v1__key_value__init(&kv[i]);
        kv[i].key = "k";
        kv[i].value = &v[i];
        kvs[i][0] = &kv[i];
    }
    /* points: a, b, a, b */
    struct ob_kvs pts[6] = {{kvs[0], 1}, {kvs[1], 1}, {kvs[0], 1}, {kvs[1], 1}, {0}, {0}};
    uint64_t origin[4];
    for (size_t i = 0; i < 4; i++) {
        struct ob_series_probe *pr = ob_series_pipeline_advance(&pl, i, 4, &pts[i]);
        ck_assert(pr->ok);
        origin[i] = pr->origin;
        if (i < 2) {
            ck_assert_ptr_null(ob_series_cache_find(&c, pr, 3, 0));
            ck_assert_ptr_nonnull(ob_series_cache_put(&c, pr, 3, 0, "x", 1));
        } else {
            ck_assert_ptr_nonnull(pr->way); /* stage two found it */
            ck_assert_ptr_nonnull(ob_series_cache_find(&c, pr, 3, 0));
        }
    }
    ck_assert(origin[0] == origin[2] && origin[1] == origin[3] && origin[0] != origin[1]);
    ob_series_pipeline_fini(&pl);
    ob_buf_fini(&render.json);
    ob_arena_fini(&arena);
    ob_series_cache_fini(&c);
}
END_TEST

Suite *series_cache_suite(void);
Suite *series_cache_suite(void)
{
    Suite *s = suite_create("series_cache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hit_by_identity_and_generation);
    tcase_add_test(tc, miss_replaces_in_rotation);
    tcase_add_test(tc, grows_when_half_full);
    tcase_add_test(tc, swept_at_its_cap);
    tcase_add_test(tc, churn_does_not_grow_it);
    tcase_add_test(tc, pipeline_stages);
    suite_add_tcase(s, tc);
    return s;
}
