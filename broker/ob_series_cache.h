/* ob_series_cache.h: per-thread memory of the series a thread has written,
 * and the pipeline that looks points up in it.
 *
 * The label block of a data point depends only on the translator, the
 * resource, the family and the point's raw attributes (ob_attrs.h).  The
 * cache keeps, for each such identity it has seen, the label block built
 * for it, the store's series hash and the store's hint (where the series
 * was found), so that a point of a known series costs one hash and one
 * memcmp instead of name lookups, sorting and escaping, and its append
 * skips the store's index.
 *
 * 4-way set-associative.  It starts at 4096 entries and doubles between
 * requests whenever it is half full, up to one entry per store.max_series
 * series but no more than 262144: 4 ways at that load miss almost never
 * (with 2 ways, sets of three thrash), and beyond it a thread that sees
 * more series pays the label work of a miss rather than memory in
 * proportion to every series (bench/README.md has the measurements).
 * Before it grows it is swept: entries not hit for max_age (the store's
 * series_ttl: after it the store has expired their series anyway) go, so
 * series churn does not grow it to its cap with series nobody sends; it
 * holds about the series the store holds, no more.
 * The owner empties it when the translator changes.  Not thread-safe: one
 * per thread.
 */
#ifndef OB_SERIES_CACHE_H
#define OB_SERIES_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_attrs.h"
#include "ob_buf.h"
#include "ob_store.h"

struct ob_cached_series {
    uint64_t origin;     /* hash of resource, metric and raw attributes; 0 = empty */
    uint64_t hash;       /* the store's series hash */
    char *data;          /* raw attributes, then the label block (malloc) */
    uint32_t family;
    uint32_t family_gen; /* a reclaimed and reused family id never matches */
    uint32_t raw_len;
    uint32_t block_len;
    int64_t used_ms;     /* the request time (wall ms) when last hit or filled */
    struct ob_series_hint hint; /* where the store found the series */
};

struct ob_series_cache {
    struct ob_cached_series *e; /* (mask + 1) * OB_SERIES_CACHE_WAYS entries */
    uint64_t mask;              /* sets - 1 */
    uint64_t max_sets;          /* growth stops here */
    uint64_t used;              /* entries in use */
    int64_t now_ms;             /* the current request's time (ob_series_cache_begin) */
    int64_t max_age_ms;         /* entries not hit for this long are swept */
    int64_t swept_ms;           /* time of the last sweep */
    uint32_t victim;            /* rotates the way a miss replaces */
};

#define OB_SERIES_CACHE_WAYS 4

/* Sized for a store of max_series series whose series expire after
 * max_age_ms without a sample.  0 or -ENOMEM. */
int ob_series_cache_init(struct ob_series_cache *c, uint64_t max_series, int64_t max_age_ms);
void ob_series_cache_fini(struct ob_series_cache *c);
/* Forgets every entry (a new translator names everything anew). */
void ob_series_cache_clear(struct ob_series_cache *c);
static inline size_t ob_series_cache_capacity(const struct ob_series_cache *c)
{
    return (c->mask + 1) * OB_SERIES_CACHE_WAYS;
}
/* A request starts, at now_ms (wall clock): the time its hits are stamped
 * with. */
static inline void ob_series_cache_begin(struct ob_series_cache *c, int64_t now_ms)
{
    c->now_ms = now_ms;
}
/* Between requests (entries handed out stay valid until then): sweeps and
 * grows as the policy above says. */
void ob_series_cache_request_done(struct ob_series_cache *c);

/* ---- looking a point up ------------------------------------------------
 *
 * One point's lookup goes through three stages, and the pipeline works on
 * three points at once, so that each stage's memory misses are in flight
 * while the other points are worked on:
 *   1. (point i+2) raw attributes serialised and hashed; prefetch of the
 *      cache set;
 *   2. (point i+1) the way whose tags match; prefetch of its raw
 *      attributes and of the store slot and sample ring its hint names;
 *   3. (point i)   raw attributes compared: ob_series_cache_find(), or on
 *      a miss the caller builds the label block and ob_series_cache_put()s
 *      it. */
struct ob_series_probe {
    struct ob_buf raw;           /* the point's raw attributes */
    uint64_t origin;             /* their hash, seeded per resource and metric */
    struct ob_cached_series *way; /* stage 2's candidate; verified in stage 3 */
    bool ok;                     /* false: an attribute could not be rendered */
};

#define OB_SERIES_PIPELINE 3

struct ob_kvs {
    key_value **kvs;
    size_t n;
};

struct ob_series_pipeline {
    struct ob_series_cache *cache;
    const struct ob_store *store; /* for prefetches */
    struct ob_attr_render *render;
    uint64_t seed;                /* hash of the resource and the metric */
    uint32_t family;              /* the metric's family */
    struct ob_series_probe probe[OB_SERIES_PIPELINE]; /* point i in probe[i % 3] */
};

void ob_series_pipeline_fini(struct ob_series_pipeline *p);

/* Moves the pipeline on to point i of n: stage 1 for point i+2, stage 2
 * for point i+1 (at i == 0 the first two points get their stages first);
 * returns point i's probe, ready for stage 3.  a[k] are point i+k's
 * attributes (ignored past n). */
struct ob_series_probe *ob_series_pipeline_advance(struct ob_series_pipeline *p, size_t i,
                                                   size_t n, const struct ob_kvs a[3]);

/* Stage 3: the entry of the probe's series in family (id and generation),
 * or NULL. */
struct ob_cached_series *ob_series_cache_find(struct ob_series_cache *c,
                                              const struct ob_series_probe *pr, uint32_t family,
                                              uint32_t family_gen);

/* A miss: keeps block (the label block built for the probe's point) under
 * the probe's identity, in an empty way or the next in rotation, with a
 * fresh hint.  NULL without memory. */
struct ob_cached_series *ob_series_cache_put(struct ob_series_cache *c,
                                             const struct ob_series_probe *pr, uint32_t family,
                                             uint32_t family_gen, const char *block,
                                             size_t block_len);

#endif
