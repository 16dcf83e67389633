/* ob_series_cache.c: the per-thread series cache and its lookup pipeline
 * (see ob_series_cache.h). */
#include "ob_series_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ob_common.h"

/* The README's memory formula and limits.name_cache_entries' help give this size. */
_Static_assert(sizeof(struct ob_cached_series) == 80, "series cache entry size");

#define WAYS OB_SERIES_CACHE_WAYS
#define START_SETS 1024u
#define MIN_SETS 64u
#define MAX_SETS 65536u

/* A sweep at most this often (it walks the whole cache). */
#define SWEEP_EVERY_MS 1000

/* The ways of the set origin falls in. */
static struct ob_cached_series *set_of(const struct ob_series_cache *c, uint64_t origin)
{
    return &c->e[(origin & c->mask) * WAYS];
}

int ob_series_cache_init(struct ob_series_cache *c, uint64_t max_series, int64_t max_age_ms)
{
    *c = (struct ob_series_cache){.max_age_ms = max_age_ms > 0 ? max_age_ms : INT64_MAX / 4};
    c->max_sets = MIN_SETS;
    while (c->max_sets * WAYS < max_series && c->max_sets < MAX_SETS)
        c->max_sets *= 2;
    uint64_t sets = OB_MIN(START_SETS, c->max_sets);
    c->mask = sets - 1;
    c->e = calloc(sets * WAYS, sizeof *c->e);
    return c->e ? 0 : -ENOMEM;
}

void ob_series_cache_clear(struct ob_series_cache *c)
{
    for (size_t i = 0; c->e && i < ob_series_cache_capacity(c); i++) {
        free(c->e[i].data);
        c->e[i] = (struct ob_cached_series){0};
    }
    c->used = 0;
}

void ob_series_cache_fini(struct ob_series_cache *c)
{
    ob_series_cache_clear(c);
    free(c->e);
    c->e = NULL;
}

/* Entries not hit for max_age go. */
static void sweep(struct ob_series_cache *c)
{
    int64_t before = c->now_ms - c->max_age_ms;
    for (size_t i = 0; i < ob_series_cache_capacity(c); i++) {
        struct ob_cached_series *e = &c->e[i];
        if (e->origin && e->used_ms < before) {
            free(e->data);
            *e = (struct ob_cached_series){0};
            c->used--;
        }
    }
    c->swept_ms = c->now_ms;
}

/* Doubles the cache.  Each old set splits into two new ones, so nothing is
 * lost.  Without memory it stays as it is. */
static void grow(struct ob_series_cache *c)
{
    size_t n_old = ob_series_cache_capacity(c);
    struct ob_cached_series *old = c->e;
    struct ob_cached_series *fresh = calloc(2 * n_old, sizeof *fresh);
    if (!fresh)
        return;
    c->e = fresh;
    c->mask = 2 * (c->mask + 1) - 1;
    for (size_t i = 0; i < n_old; i++) {
        if (!old[i].origin)
            continue;
        struct ob_cached_series *set = set_of(c, old[i].origin);
        int way = 0;
        while (set[way].origin) /* at most four old entries go to one new set */
            way++;
        set[way] = old[i];
    }
    free(old);
}

void ob_series_cache_request_done(struct ob_series_cache *c)
{
    if (c->used * 2 > ob_series_cache_capacity(c) && c->now_ms - c->swept_ms >= SWEEP_EVERY_MS)
        sweep(c);
    if (c->used * 2 > ob_series_cache_capacity(c) && c->mask + 1 < c->max_sets)
        grow(c);
}

static bool hit(const struct ob_cached_series *e, const struct ob_series_probe *pr,
                uint32_t family, uint32_t family_gen)
{
    return e->origin == pr->origin && e->family == family && e->family_gen == family_gen &&
           e->raw_len == pr->raw.len &&
           (e->raw_len == 0 || memcmp(e->data, pr->raw.data, e->raw_len) == 0);
}

struct ob_cached_series *ob_series_cache_find(struct ob_series_cache *c,
                                              const struct ob_series_probe *pr, uint32_t family,
                                              uint32_t family_gen)
{
    struct ob_cached_series *e = pr->way;
    if (!(e && hit(e, pr, family, family_gen))) { /* stage two's guess, usually right */
        struct ob_cached_series *set = set_of(c, pr->origin);
        e = NULL;
        for (int way = 0; way < WAYS && !e; way++)
            if (hit(&set[way], pr, family, family_gen))
                e = &set[way];
    }
    if (e)
        e->used_ms = c->now_ms;
    return e;
}

struct ob_cached_series *ob_series_cache_put(struct ob_series_cache *c,
                                             const struct ob_series_probe *pr, uint32_t family,
                                             uint32_t family_gen, const char *block,
                                             size_t block_len)
{
    /* An empty way, else the next in rotation: under cyclic access to more
     * series than ways, LRU would evict every one in turn. */
    struct ob_cached_series *set = set_of(c, pr->origin), *e = NULL;
    for (int way = 0; way < WAYS && !e; way++)
        if (set[way].origin == 0)
            e = &set[way];
    if (!e)
        e = &set[c->victim++ % WAYS];
    size_t raw_len = pr->raw.len, need = raw_len + block_len;
    char *p = realloc(e->data, need ? need : 1);
    if (!p)
        return NULL;
    if (raw_len) /* an empty buffer may have no memory at all */
        memcpy(p, pr->raw.data, raw_len);
    if (block_len)
        memcpy(p + raw_len, block, block_len);
    c->used += e->origin == 0;
    *e = (struct ob_cached_series){
        .origin = pr->origin,
        .hash = ob_store_hash(family, block, block_len),
        .data = p,
        .family = family,
        .family_gen = family_gen,
        .raw_len = (uint32_t)raw_len,
        .block_len = (uint32_t)block_len,
        .used_ms = c->now_ms,
    };
    return e;
}

/* ---- the pipeline -------------------------------------------------------- */

void ob_series_pipeline_fini(struct ob_series_pipeline *p)
{
    for (int i = 0; i < OB_SERIES_PIPELINE; i++)
        ob_buf_fini(&p->probe[i].raw);
}

/* Stage one: the point's stream identity, and a prefetch of the set stage
 * two will read. */
static void stage_hash(struct ob_series_pipeline *p, const struct ob_kvs *a,
                       struct ob_series_probe *pr)
{
    pr->way = NULL;
    pr->ok = ob_attrs_raw(p->render, a->kvs, a->n, &pr->raw);
    if (!pr->ok)
        return;
    uint64_t origin = XXH3_64bits_withSeed(pr->raw.data, pr->raw.len, p->seed);
    pr->origin = origin ? origin : 1; /* 0 means "no origin" to the store */
    const char *set = (const char *)set_of(p->cache, pr->origin);
    for (size_t off = 0; off < WAYS * sizeof(struct ob_cached_series); off += 64)
        __builtin_prefetch(set + off);
}

/* Stage two: the way that probably holds the series (tags only; stage
 * three compares the raw attributes), and prefetches of what stage three
 * will read there and in the store. */
static void stage_guess(struct ob_series_pipeline *p, struct ob_series_probe *pr)
{
    if (!pr->ok)
        return;
    struct ob_cached_series *set = set_of(p->cache, pr->origin);
    for (int way = 0; way < WAYS; way++) {
        struct ob_cached_series *e = &set[way];
        if (e->origin == pr->origin && e->family == p->family) {
            pr->way = e;
            __builtin_prefetch(e->data);
            if (e->raw_len > 64)
                __builtin_prefetch(e->data + 64);
            ob_store_prefetch(p->store, &e->hint);
            return;
        }
    }
}

struct ob_series_probe *ob_series_pipeline_advance(struct ob_series_pipeline *p, size_t i,
                                                   size_t n, const struct ob_kvs a[3])
{
    struct ob_series_probe *pr = p->probe;
    if (i == 0) {
        stage_hash(p, &a[0], &pr[0]);
        if (n > 1)
            stage_hash(p, &a[1], &pr[1]);
        stage_guess(p, &pr[0]);
    }
    if (i + 2 < n)
        stage_hash(p, &a[2], &pr[(i + 2) % OB_SERIES_PIPELINE]);
    if (i + 1 < n)
        stage_guess(p, &pr[(i + 1) % OB_SERIES_PIPELINE]);
    return &pr[i % OB_SERIES_PIPELINE];
}
