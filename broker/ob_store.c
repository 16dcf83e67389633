/* ob_store.c: the shared-memory series store (format in ob_store_layout.h).
 *
 * Locking, in order: create lock, then one stripe lock.
 *   - create lock: heap, slot lists, series/family indexes, family lists,
 *     help texts, label/shape replacement.
 *   - stripe lock (hash % n_stripes): a series' samples, last_ms, origin.
 * Appends to an existing series take only the stripe lock; readers take none
 * (per-slot seqlock).  Memory a reader may still be looking at (an unlinked
 * slot, a replaced label or shape block) waits OB_STORE_GRACE_MS in limbo
 * before it is reused, so a scan following a stale `next` or label offset
 * reads old but intact bytes, and the seqlock tells it the slot moved on.
 */
#include "ob_store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "ob_error.h"
#include "ob_exphist.h"
#include "ob_fwdlog.h"
#include "ob_labels.h" /* OB_LABELS_QUOTED, for inspection */
#include "ob_ooo.h"
#include "ob_store_layout.h"
#include "ob_store_lock.h"
#include "ob_store_test.h"
#include "ob_time.h"

struct ob_store {
    unsigned char *base;
    size_t map_size;
    int fd;
    bool owner; /* writable, holds the fcntl lock */
    bool shm;
    struct ob_store_hdr *hdr;
    struct ob_store_state *st;
    struct ob_store_lock *create_lock;
    struct ob_store_lock *stripes;
    struct ob_store_family *fams;
    _Atomic uint32_t *fam_index;
    struct ob_store_slot *slots;
    _Atomic uint64_t *index;
    uint64_t heap_start; /* map offsets */
    uint64_t heap_end;
    uint32_t fam_mask;
    uint64_t index_mask;
    uint32_t max_series;
    uint32_t max_families;
    uint32_t cap; /* samples_per_series */
    uint32_t stripe_mask;
    _Atomic uint64_t repairs; /* since attach */
    /* Bumped (under the create lock) before any slot becomes reusable: a
     * series hint taken at the same count still names its slot. */
    _Atomic uint64_t recycles;
    /* ob_store_set_reclaim_hold: limbo retired at or after this stays. */
    _Atomic int64_t hold_ms;
};

/* The series path is a chain of cache misses (index entry, slot, labels,
 * data); prefetching the blocks as soon as their offsets are known overlaps
 * the last two. */
#define PREFETCH(p) __builtin_prefetch(p)

struct layout {
    uint64_t locks, fams, fam_index, slots, index, heap, map_size;
    uint32_t fam_index_cap;
    uint64_t index_cap;
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t round_up(uint64_t v, uint64_t to)
{
    return (v + to - 1) / to * to;
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 2;
    while (p < v)
        p <<= 1;
    return p;
}

static bool is_shm_path(const char *path)
{
    return path[0] == '/' && strchr(path + 1, '/') == NULL;
}

static uint64_t derived_heap(uint32_t max_series, uint32_t max_families, uint32_t cap)
{
    /* Per series a label block of up to ~190 bytes and a ring whose samples
     * average 5 values (a third of series being 10-bucket histograms).  The
     * mapping is sparse: pages never touched cost no memory. */
    return (uint64_t)max_series * (192u + 48u * ((uint64_t)cap + 1)) + (uint64_t)max_families * 256u;
}

/* Exemplars take 128 bytes per series unless told: one counter exemplar
 * with a trace and a span id. */
#define EXEMPLAR_BYTES_PER_SERIES 128u

static void compute_layout(uint64_t page, uint32_t max_series, uint32_t max_families,
                           uint64_t heap_bytes, struct layout *L)
{
    uint64_t off = page; /* page 0: header + state */
    L->locks = off;
    off += round_up((uint64_t)OB_STORE_CACHE_LINE * (1 + OB_STORE_STRIPES), page);
    L->fams = off;
    off += round_up((uint64_t)sizeof(struct ob_store_family) * max_families, page);
    L->fam_index_cap = (uint32_t)pow2_at_least(2ull * max_families);
    L->fam_index = off;
    off += round_up(4ull * L->fam_index_cap, page);
    L->slots = off;
    off += round_up((uint64_t)sizeof(struct ob_store_slot) * max_series, page);
    L->index_cap = pow2_at_least((uint64_t)max_series + (max_series + 1) / 2);
    L->index = off;
    off += round_up(8ull * L->index_cap, page);
    L->heap = off;
    off += round_up(heap_bytes, page);
    L->map_size = off;
}

/* LMDB-style fold of everything that makes two builds disagree on the bytes. */
static uint64_t layout_sig(void)
{
    static const union {
        uint32_t u;
        unsigned char c[4];
    } endian = {0x01020304u};
    const uint64_t v[] = {
        sizeof(struct ob_store_hdr),    alignof(struct ob_store_hdr),
        sizeof(struct ob_store_state),  alignof(struct ob_store_state),
        sizeof(struct ob_store_lock),   alignof(struct ob_store_lock),
        sizeof(struct ob_store_family), alignof(struct ob_store_family),
        sizeof(struct ob_store_slot),   alignof(struct ob_store_slot),
        sizeof(struct ob_store_block),  sizeof(struct ob_store_labels),
        sizeof(struct ob_store_shape),  sizeof(struct ob_store_text),
        sizeof(struct ob_store_exemplars), sizeof(struct ob_store_exemplar),
        sizeof(pthread_mutex_t),        alignof(pthread_mutex_t),
        OB_STORE_CACHE_LINE,            endian.c[0],
        OB_STORE_STRIPES,               OB_STORE_CLASSES,
        sizeof(double),                 OB_STORE_UNIT,
        OB_FAMILY__COUNT,               OB_SHAPE__COUNT,
    };
    uint64_t sig = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < OB_ARRAY_LEN(v); i++)
        sig = (sig ^ v[i]) * 0x100000001b3ull;
    return sig;
}

static uint64_t hdr_cksum(const struct ob_store_hdr *h)
{
    return XXH3_64bits(h, offsetof(struct ob_store_hdr, header_cksum));
}

uint64_t ob_store_hash(uint32_t family, const char *key, size_t key_len)
{
    return XXH3_64bits_withSeed(key, key_len, family);
}

/* ---- heap ----------------------------------------------------------------- */

static inline struct ob_store_block *blk(const struct ob_store *s, uint64_t off)
{
    return (struct ob_store_block *)(void *)(s->base + off);
}

static inline void *payload(const struct ob_store *s, uint64_t off)
{
    return s->base + off + sizeof(struct ob_store_block);
}

/* Size classes in 16-byte units: exact up to 64 units (1 KiB), then 8 steps
 * per power of two (at most 12.5 % waste).  Rounds *units up to the class. */
static uint32_t class_of(uint32_t *units)
{
    uint32_t u = *units;
    if (u <= 64)
        return u;
    uint32_t b = 31u - (uint32_t)__builtin_clz(u - 1); /* 2^b < u <= 2^(b+1) */
    uint32_t step = 1u << (b - 3);
    uint32_t r = (u + step - 1) & ~(step - 1);
    *units = r;
    return 64u + (b - 6u) * 8u + (r >> (b - 3)) - 8u;
}

/* Block offset, or 0 when the heap is full.  Create lock held. */
static uint64_t heap_alloc(struct ob_store *s, size_t bytes)
{
    uint64_t need = (bytes + sizeof(struct ob_store_block) + OB_STORE_UNIT - 1) / OB_STORE_UNIT;
    if (need > (1u << 30))
        return 0;
    uint32_t units = OB_MAX((uint32_t)need, OB_STORE_MIN_BLOCK / OB_STORE_UNIT);
    uint32_t c = class_of(&units);
    uint64_t off = s->st->free_list[c];
    if (off) {
        s->st->free_list[c] = *(uint64_t *)payload(s, off);
    } else {
        uint64_t size = (uint64_t)units * OB_STORE_UNIT;
        if (s->heap_end - s->st->heap_bump < size)
            return 0;
        off = s->st->heap_bump;
        blk(s, off)->units = units;
        blk(s, off)->tag = OB_BLOCK_USED;
        /* Header first, then the bump: a heap walk never meets a half block. */
        atomic_signal_fence(memory_order_seq_cst);
        s->st->heap_bump = off + size;
    }
    blk(s, off)->tag = OB_BLOCK_USED;
    atomic_fetch_add_explicit(&s->st->heap_used, (uint64_t)units * OB_STORE_UNIT, memory_order_relaxed);
    return off;
}

static void free_list_push(struct ob_store *s, uint64_t off)
{
    uint32_t units = blk(s, off)->units;
    uint32_t c = class_of(&units);
    blk(s, off)->tag = OB_BLOCK_FREE;
    *(uint64_t *)payload(s, off) = s->st->free_list[c];
    s->st->free_list[c] = off;
}

/* Returns a block nobody has seen (creation rolled back).  Create lock held. */
static void heap_free_now(struct ob_store *s, uint64_t off)
{
    atomic_fetch_sub_explicit(&s->st->heap_used, (uint64_t)blk(s, off)->units * OB_STORE_UNIT,
                              memory_order_relaxed);
    free_list_push(s, off);
}

/* Appends limbo record rec (a LIMBO block: next, time, target) to the limbo
 * FIFO.  Create lock held. */
static void limbo_link(struct ob_store *s, uint64_t rec, int64_t now_ms)
{
    uint64_t *p = payload(s, rec);
    p[0] = 0;
    p[1] = (uint64_t)now_ms;
    blk(s, rec)->tag = OB_BLOCK_LIMBO;
    if (s->st->limbo_tail)
        *(uint64_t *)payload(s, s->st->limbo_tail) = rec;
    else
        s->st->limbo_head = rec;
    s->st->limbo_tail = rec;
}

/* Puts a block readers may still hold into limbo, untouched: a reader that
 * saw it reads it whole until the grace is over.  The limbo link and time
 * live in a record block of their own (the minimum block, 24 bytes of
 * payload: next, time, the retired block); only when the heap has no room
 * for one does the block carry them itself (target 0), and then its first
 * 24 bytes change under a reader that still holds it.  Create lock held. */
static void heap_retire(struct ob_store *s, uint64_t off, int64_t now_ms)
{
    uint64_t rec = heap_alloc(s, 3 * sizeof(uint64_t));
    if (rec) {
        ((uint64_t *)payload(s, rec))[2] = off;
    } else {
        rec = off;
        ((uint64_t *)payload(s, rec))[2] = 0;
    }
    limbo_link(s, rec, now_ms);
}

static void slot_retire(struct ob_store *s, uint32_t i)
{
    s->slots[i].origin = OB_STORE_NIL;
    if (s->st->slot_limbo_tail != OB_STORE_NIL)
        s->slots[s->st->slot_limbo_tail].origin = i;
    else
        s->st->slot_limbo_head = i;
    s->st->slot_limbo_tail = i;
}

/* Moves limbo entries older than the grace period to the free lists. */
static void limbo_reclaim(struct ob_store *s, int64_t now_ms)
{
    struct ob_store_state *st = s->st;
    /* Entries retired at or after the hold may still be named by forward
     * log records not yet sent: they wait, like those inside the grace. */
    int64_t until = OB_MIN(now_ms - OB_STORE_GRACE_MS,
                           atomic_load_explicit(&s->hold_ms, memory_order_relaxed) - 1);
    while (st->limbo_head) {
        uint64_t off = st->limbo_head;
        uint64_t *p = payload(s, off);
        if ((int64_t)p[1] > until)
            break;
        st->limbo_head = p[0];
        if (!st->limbo_head)
            st->limbo_tail = 0;
        uint64_t target = p[2];
        heap_free_now(s, off); /* the record, then the block: reused first */
        if (target)
            heap_free_now(s, target);
    }
    while (st->fam_limbo_head != OB_STORE_NIL) {
        uint32_t f = st->fam_limbo_head;
        struct ob_store_family *fam = &s->fams[f];
        if (fam->empty_ms > until)
            break;
        st->fam_limbo_head = fam->link;
        if (st->fam_limbo_head == OB_STORE_NIL)
            st->fam_limbo_tail = OB_STORE_NIL;
        atomic_store_explicit(&fam->state, OB_FAM_FREE, memory_order_release);
        fam->link = st->fam_free;
        st->fam_free = f;
    }
    while (st->slot_limbo_head != OB_STORE_NIL) {
        uint32_t i = st->slot_limbo_head;
        struct ob_store_slot *sl = &s->slots[i];
        if (sl->last_ms > until)
            break;
        atomic_fetch_add_explicit(&s->recycles, 1, memory_order_relaxed);
        st->slot_limbo_head = (uint32_t)sl->origin;
        if (st->slot_limbo_head == OB_STORE_NIL)
            st->slot_limbo_tail = OB_STORE_NIL;
        atomic_store_explicit(&sl->state, OB_SLOT_FREE, memory_order_release);
        sl->origin = st->slot_free;
        st->slot_free = i;
    }
}

/* Checks that [off, off + need) lies in one block inside the heap; readers
 * call it on offsets they may have read torn. */
static inline bool block_ok(const struct ob_store *s, uint64_t off, uint64_t need)
{
    if (off < s->heap_start || off >= s->heap_end || (off & (OB_STORE_UNIT - 1)))
        return false;
    uint64_t size = (uint64_t)blk(s, off)->units * OB_STORE_UNIT;
    return size <= s->heap_end - off && need + sizeof(struct ob_store_block) <= size;
}

/* ---- shapes and text ------------------------------------------------------ */

static inline const struct ob_store_shape *shape_of(const struct ob_store *s, uint64_t data_off)
{
    return payload(s, data_off);
}

static inline const double *points_of(const struct ob_store_shape *sh)
{
    return (const double *)(const void *)(sh + 1);
}

static inline unsigned char *records_of(const struct ob_store_shape *sh)
{
    return (unsigned char *)(uintptr_t)(points_of(sh) + ob_shape_points(sh->kind, sh->n));
}

/* Bytes of a data block with `points` bounds or quantiles and samples of
 * `width` doubles. */
static size_t data_bytes(const struct ob_store *s, uint32_t points, uint32_t width)
{
    return sizeof(struct ob_store_shape) + 8u * (size_t)points + ob_ooo_bytes(s->cap, width);
}

/* Summaries always have a sum; a histogram says. */
static bool shape_has_sum(const struct ob_shape *sh)
{
    if (sh->kind == OB_SHAPE_HISTOGRAM || sh->kind == OB_SHAPE_EXPHIST)
        return sh->has_sum;
    return sh->kind == OB_SHAPE_SUMMARY;
}

static bool shape_matches(const struct ob_store_shape *have, const struct ob_shape *want)
{
    bool has_sum = shape_has_sum(want);
    uint32_t np = ob_shape_points(want->kind, want->n);
    return have->kind == (uint8_t)want->kind && have->n == want->n && have->has_sum == has_sum &&
           (np == 0 || memcmp(points_of(have), want->points, 8u * np) == 0);
}

/* Whether a series of shape have takes a sample of shape want as it comes:
 * the same shape, or for the running totals of exponential histograms any
 * room up to its own (the total is laid out anew anyway). */
static bool shape_takes(const struct ob_store_shape *have, const struct ob_shape *want, bool delta)
{
    if (delta && have->kind == OB_SHAPE_EXPHIST && want->kind == OB_SHAPE_EXPHIST)
        return have->delta && have->has_sum == want->has_sum && want->n <= have->n;
    return shape_matches(have, want);
}

/* New data block with the shape and an empty ring; 0 when the heap is full.
 * delta: its samples will be running totals (ob_store_accumulate). */
static uint64_t data_create(struct ob_store *s, const struct ob_shape *want, bool delta)
{
    uint32_t n = want->kind == OB_SHAPE_SCALAR ? 0 : want->n;
    uint32_t np = ob_shape_points(want->kind, n);
    uint64_t off = heap_alloc(s, data_bytes(s, np, ob_sample_width(want->kind, n)));
    if (!off)
        return 0;
    struct ob_store_shape *d = payload(s, off);
    d->kind = (uint8_t)want->kind;
    d->has_sum = shape_has_sum(want);
    d->n = (uint16_t)n;
    d->delta = delta;
    memset(d->reserved0, 0, sizeof d->reserved0);
    d->created_ms = 0;
    d->exemplars_off = 0;
    d->delta_start_ms = 0;
    if (np)
        memcpy((double *)(d + 1), want->points, 8u * np);
    return off;
}

static inline void set_created(struct ob_store *s, uint64_t data_off, int64_t created_ms)
{
    struct ob_store_shape *d = payload(s, data_off);
    d->created_ms = created_ms;
}

static inline struct ob_ring ring_of(const struct ob_store *s, struct ob_store_slot *sl, uint64_t data_off)
{
    const struct ob_store_shape *d = shape_of(s, data_off);
    struct ob_ring r = {records_of(d), &sl->ring, s->cap, ob_sample_width(d->kind, d->n)};
    return r;
}

/* ---- labels --------------------------------------------------------------- */

static inline const char *ref_labels(const struct ob_series_ref *ref, uint32_t *out_len)
{
    if (!ref->labels) {
        *out_len = ref->key_len;
        return ref->key;
    }
    *out_len = ref->labels_len;
    return ref->labels;
}

static uint64_t labels_create(struct ob_store *s, const struct ob_series_ref *ref)
{
    uint32_t ll;
    const char *l = ref_labels(ref, &ll);
    bool shared = ll == ref->key_len && memcmp(l, ref->key, ll) == 0;
    uint64_t off = heap_alloc(s, sizeof(struct ob_store_labels) + ref->key_len + (shared ? 0 : ll));
    if (!off)
        return 0;
    struct ob_store_labels *lb = payload(s, off);
    lb->key_len = ref->key_len;
    lb->labels_len = shared ? (ll | OB_LABELS_SHARED) : ll;
    memcpy(lb->bytes, ref->key, ref->key_len);
    if (!shared)
        memcpy(lb->bytes + ref->key_len, l, ll);
    return off;
}

static inline const char *labels_text(const struct ob_store_labels *lb, uint32_t *out_len)
{
    *out_len = lb->labels_len & ~OB_LABELS_SHARED;
    return (lb->labels_len & OB_LABELS_SHARED) ? lb->bytes : lb->bytes + lb->key_len;
}

static bool key_matches(const struct ob_store *s, uint64_t labels_off, const struct ob_series_ref *ref)
{
    if (!block_ok(s, labels_off, sizeof(struct ob_store_labels) + ref->key_len))
        return false;
    const struct ob_store_labels *lb = payload(s, labels_off);
    return lb->key_len == ref->key_len && memcmp(lb->bytes, ref->key, ref->key_len) == 0;
}

static bool labels_match(const struct ob_store *s, uint64_t labels_off, const struct ob_series_ref *ref)
{
    const struct ob_store_labels *lb = payload(s, labels_off);
    if (!ref->labels && (lb->labels_len & OB_LABELS_SHARED))
        return true; /* labels are the key, which already matched */
    uint32_t want_len, have_len;
    const char *want = ref_labels(ref, &want_len);
    const char *have = labels_text(payload(s, labels_off), &have_len);
    return want_len == have_len && memcmp(want, have, want_len) == 0;
}

/* ---- seqlock ---------------------------------------------------------------- */

static inline uint64_t seq_begin(struct ob_store_slot *sl)
{
    uint64_t q = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    atomic_store_explicit(&sl->seq, q | 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return q | 1;
}

static inline void seq_end(struct ob_store_slot *sl, uint64_t odd)
{
    atomic_store_explicit(&sl->seq, odd + 1, memory_order_release);
}

/* ---- exemplars ------------------------------------------------------------- */

#define EX_HDR sizeof(struct ob_store_exemplar)
#define EX_ROOM_STEP 32u /* label room grows in steps, so that it seldom grows */

/* Entries of a series' exemplar block: a counter's one, a histogram's
 * buckets and +Inf, an exponential histogram's one (the newest, whatever
 * its bucket: its room for buckets changes); a summary keeps none. */
static inline uint32_t ex_entries(const struct ob_store_shape *d)
{
    switch (d->kind) {
    case OB_SHAPE_SCALAR:
    case OB_SHAPE_EXPHIST:
        return 1;
    case OB_SHAPE_HISTOGRAM:
        return d->n + 1u;
    default:
        return 0;
    }
}

static inline struct ob_store_exemplar *ex_entry(const struct ob_store_exemplars *e, uint32_t i)
{
    return (struct ob_store_exemplar *)(uintptr_t)((const unsigned char *)(e + 1) + (size_t)i * e->stride);
}

/* Whether the block at off (a block of the heap, possibly torn or stale)
 * holds an exemplar block that fits a series of shape d. */
static bool ex_valid(const struct ob_store *s, const struct ob_store_shape *d, uint64_t off)
{
    if (!block_ok(s, off, sizeof(struct ob_store_exemplars)))
        return false;
    const struct ob_store_exemplars *e = payload(s, off);
    uint32_t n = e->n, stride = e->stride;
    return n == ex_entries(d) && stride > EX_HDR && stride % 8 == 0 &&
           block_ok(s, off, sizeof *e + (uint64_t)n * stride);
}

/* Whether the series' exemplar block has room for every exemplar of ref. */
static bool ex_fits(const struct ob_store *s, const struct ob_store_shape *d, const struct ob_series_ref *ref)
{
    if (!d->exemplars_off)
        return false;
    const struct ob_store_exemplars *e = payload(s, d->exemplars_off);
    for (uint32_t i = 0; i < ref->n_exemplars; i++)
        if (ref->exemplars[i].labels_len > e->stride - EX_HDR)
            return false;
    return true;
}

/* A new exemplar block for a series of shape d, with room for ref's
 * exemplars and the entries of old (NULL: empty entries); 0 when the
 * exemplar budget or the heap is used up.  Create lock held. */
static uint64_t ex_create(struct ob_store *s, const struct ob_store_shape *d,
                          const struct ob_store_exemplars *old, const struct ob_series_ref *ref)
{
    uint32_t n = ex_entries(d);
    if (n == 0)
        return 0;
    uint32_t room = old ? old->stride - (uint32_t)EX_HDR : 0;
    for (uint32_t i = 0; i < ref->n_exemplars; i++)
        room = OB_MAX(room, ref->exemplars[i].labels_len);
    room = (uint32_t)round_up(OB_MAX(room, 1u), EX_ROOM_STEP);
    uint32_t stride = (uint32_t)EX_HDR + room;
    size_t bytes = sizeof(struct ob_store_exemplars) + (size_t)n * stride;
    uint64_t off = heap_alloc(s, bytes);
    if (!off)
        return 0;
    uint64_t size = (uint64_t)blk(s, off)->units * OB_STORE_UNIT;
    uint64_t used = atomic_load_explicit(&s->st->exemplar_used, memory_order_relaxed);
    if (used + size > s->hdr->exemplar_budget) {
        heap_free_now(s, off);
        return 0;
    }
    atomic_fetch_add_explicit(&s->st->exemplar_used, size, memory_order_relaxed);
    struct ob_store_exemplars *e = payload(s, off);
    e->n = n;
    e->stride = stride;
    for (uint32_t i = 0; i < n; i++) {
        struct ob_store_exemplar *to = ex_entry(e, i);
        const struct ob_store_exemplar *from = old ? ex_entry(old, i) : NULL;
        if (from && from->labels_len != OB_EXEMPLAR_EMPTY) {
            memcpy(to, from, EX_HDR + from->labels_len);
        } else {
            *to = (struct ob_store_exemplar){.labels_len = OB_EXEMPLAR_EMPTY};
        }
    }
    return off;
}

/* Retires an exemplar block (0: none) and gives its bytes back to the
 * budget.  Create lock held. */
static void ex_retire(struct ob_store *s, uint64_t off, int64_t now_ms)
{
    if (!off)
        return;
    atomic_fetch_sub_explicit(&s->st->exemplar_used, (uint64_t)blk(s, off)->units * OB_STORE_UNIT,
                              memory_order_relaxed);
    heap_retire(s, off, now_ms);
}

/* Gives the series at sl an exemplar block with room for ref's exemplars
 * (a wider copy of the one it has), published under the seqlock; false
 * when there is no memory for it.  Create and stripe lock held. */
static bool ex_grow(struct ob_store *s, struct ob_store_slot *sl, const struct ob_series_ref *ref,
                    int64_t now_ms)
{
    struct ob_store_shape *d = payload(s, sl->data_off);
    uint64_t old = d->exemplars_off;
    uint64_t off = ex_create(s, d, old ? payload(s, old) : NULL, ref);
    if (!off)
        return false;
    uint64_t q = seq_begin(sl);
    d->exemplars_off = off;
    seq_end(sl, q);
    ex_retire(s, old, now_ms);
    return true;
}

/* Writes ref's exemplars into their entries where they are at least as new
 * as the kept one and fit.  Stripe lock held, inside the slot's seqlock. */
static void ex_write(struct ob_store *s, const struct ob_store_shape *d, const struct ob_series_ref *ref)
{
    if (!d->exemplars_off)
        return;
    const struct ob_store_exemplars *e = payload(s, d->exemplars_off);
    for (uint32_t i = 0; i < ref->n_exemplars; i++) {
        const struct ob_exemplar *x = &ref->exemplars[i];
        if (x->index >= e->n || x->labels_len > e->stride - EX_HDR)
            continue;
        struct ob_store_exemplar *to = ex_entry(e, x->index);
        if (to->labels_len != OB_EXEMPLAR_EMPTY && to->ts_ms > x->ts_ms)
            continue;
        to->ts_ms = x->ts_ms;
        to->value = x->value;
        memcpy(to->labels, x->labels, x->labels_len);
        to->labels_len = x->labels_len;
    }
}

bool ob_series_exemplar(const struct ob_series_view *sv, uint32_t i, struct ob_exemplar_view *out)
{
    if (i >= sv->n_exemplars)
        return false;
    struct ob_store_exemplar e;
    const unsigned char *p = sv->exemplars + (size_t)i * sv->exemplar_stride;
    memcpy(&e, p, EX_HDR);
    if (e.labels_len == OB_EXEMPLAR_EMPTY || e.labels_len > sv->exemplar_stride - EX_HDR)
        return false;
    *out = (struct ob_exemplar_view){(const char *)p + EX_HDR, e.labels_len, e.ts_ms, e.value};
    return true;
}

/* ---- series index ------------------------------------------------------------ */

static inline bool slot_is(const struct ob_store *s, uint32_t i, const struct ob_series_ref *ref)
{
    const struct ob_store_slot *sl = &s->slots[i];
    return atomic_load_explicit(&sl->state, memory_order_acquire) == OB_SLOT_LIVE &&
           sl->hash == ref->hash && sl->family == ref->family && key_matches(s, sl->labels_off, ref);
}

/* A walk along hash's probe chain in the index. */
struct probe {
    uint64_t pos;
    uint64_t left; /* entries not yet looked at */
    uint32_t tag;  /* the hash's high half, kept in each entry */
};

static inline struct probe probe_start(const struct ob_store *s, uint64_t hash)
{
    return (struct probe){hash & s->index_mask, s->index_mask + 1, (uint32_t)(hash >> 32)};
}

/* The next slot on the chain whose entry carries the tag, or NIL at the
 * chain's end. */
static inline uint32_t probe_next(const struct ob_store *s, struct probe *p)
{
    while (p->left) {
        uint64_t e = atomic_load_explicit(&s->index[p->pos], memory_order_acquire);
        if (e == 0)
            return OB_STORE_NIL;
        p->pos = (p->pos + 1) & s->index_mask;
        p->left--;
        uint32_t sp1 = (uint32_t)e;
        if (sp1 != OB_STORE_TOMBSTONE && (uint32_t)(e >> 32) == p->tag && sp1 <= s->max_series)
            return sp1 - 1;
    }
    return OB_STORE_NIL;
}

/* Lock-free candidate for the hot path: live slot with the same family and
 * hash.  The caller compares the key under the stripe lock and falls back
 * to index_find() under the create lock when it differs (a 64-bit hash
 * collision), so the key bytes are compared once per append. */
static uint32_t index_candidate(const struct ob_store *s, const struct ob_series_ref *ref)
{
    struct probe p = probe_start(s, ref->hash);
    uint32_t i;
    while ((i = probe_next(s, &p)) != OB_STORE_NIL) {
        const struct ob_store_slot *sl = &s->slots[i];
        if (sl->hash == ref->hash && sl->family == ref->family) {
            uint64_t labels_off = sl->labels_off, data_off = sl->data_off;
            if (labels_off < s->heap_end && data_off < s->heap_end) {
                PREFETCH(s->base + labels_off);
                PREFETCH(s->base + data_off);
            }
            return i;
        }
    }
    return OB_STORE_NIL;
}

/* Exact lookup (key compared); lock-free, exact under the create lock. */
static uint32_t index_find(const struct ob_store *s, const struct ob_series_ref *ref)
{
    struct probe p = probe_start(s, ref->hash);
    uint32_t i;
    while ((i = probe_next(s, &p)) != OB_STORE_NIL)
        if (slot_is(s, i, ref))
            return i;
    return OB_STORE_NIL;
}

static void index_insert(struct ob_store *s, uint64_t hash, uint32_t slot)
{
    uint64_t pos = hash & s->index_mask;
    for (;;) {
        uint64_t e = atomic_load_explicit(&s->index[pos], memory_order_relaxed);
        if (e == 0 || (uint32_t)e == OB_STORE_TOMBSTONE) {
            if (e)
                s->st->index_tombstones--;
            atomic_store_explicit(&s->index[pos], (hash >> 32) << 32 | (uint64_t)(slot + 1),
                                  memory_order_release);
            return;
        }
        pos = (pos + 1) & s->index_mask;
    }
}

static void index_remove(struct ob_store *s, uint64_t hash, uint32_t slot)
{
    uint64_t pos = hash & s->index_mask;
    for (uint64_t probes = 0; probes <= s->index_mask; probes++, pos = (pos + 1) & s->index_mask) {
        uint64_t e = atomic_load_explicit(&s->index[pos], memory_order_relaxed);
        if (e == 0)
            return;
        if ((uint32_t)e == slot + 1) {
            atomic_store_explicit(&s->index[pos], OB_STORE_TOMBSTONE, memory_order_release);
            s->st->index_tombstones++;
            return;
        }
    }
}

/* Rebuilds the index from the live slots.  Lock-free lookups running
 * meanwhile may miss and fall back to the create lock, where they find the
 * series once this is done. */
static void index_rebuild(struct ob_store *s)
{
    for (uint64_t i = 0; i <= s->index_mask; i++)
        atomic_store_explicit(&s->index[i], 0, memory_order_relaxed);
    s->st->index_tombstones = 0;
    for (uint32_t i = 0; i < s->st->slots_used; i++)
        if (atomic_load_explicit(&s->slots[i].state, memory_order_relaxed) == OB_SLOT_LIVE)
            index_insert(s, s->slots[i].hash, i);
}

/* ---- family index and retirement --------------------------------------------- */

static inline const struct ob_store_text *text_at(const struct ob_store *s, uint64_t off)
{
    return payload(s, off);
}

static uint32_t fam_find(const struct ob_store *s, const char *name, size_t len, uint64_t h)
{
    uint32_t pos = (uint32_t)h & s->fam_mask;
    for (uint32_t probes = 0; probes <= s->fam_mask; probes++, pos = (pos + 1) & s->fam_mask) {
        uint32_t e = atomic_load_explicit(&s->fam_index[pos], memory_order_acquire);
        if (e == 0 || e > s->max_families)
            return OB_STORE_NIL;
        const struct ob_store_family *f = &s->fams[e - 1];
        if (f->name_hash == h) {
            const struct ob_store_text *t = text_at(s, f->name_off);
            if (t->len == len && memcmp(t->bytes, name, len) == 0)
                return e - 1;
        }
    }
    return OB_STORE_NIL;
}

static void fam_index_insert(struct ob_store *s, uint64_t h, uint32_t id)
{
    uint32_t pos = (uint32_t)h & s->fam_mask;
    while (atomic_load_explicit(&s->fam_index[pos], memory_order_relaxed) != 0)
        pos = (pos + 1) & s->fam_mask;
    atomic_store_explicit(&s->fam_index[pos], id + 1, memory_order_release);
}

/* Deletes family id's index entry, shifting the rest of its probe run back
 * so that no tombstone is needed.  Create lock held; a lock-free reader that
 * misses an entry while it moves takes the locked path and finds it. */
static void fam_index_remove(struct ob_store *s, uint64_t h, uint32_t id)
{
    uint32_t mask = s->fam_mask, pos = (uint32_t)h & mask;
    while (atomic_load_explicit(&s->fam_index[pos], memory_order_relaxed) != id + 1) {
        if (atomic_load_explicit(&s->fam_index[pos], memory_order_relaxed) == 0)
            return; /* not there (repair rebuilt the index) */
        pos = (pos + 1) & mask;
    }
    for (uint32_t j = (pos + 1) & mask;; j = (j + 1) & mask) {
        uint32_t e = atomic_load_explicit(&s->fam_index[j], memory_order_relaxed);
        if (e == 0)
            break;
        uint32_t home = (uint32_t)s->fams[e - 1].name_hash & mask;
        /* e may fill the hole when its home is not in (pos, j]. */
        if (((j - home) & mask) >= ((j - pos) & mask)) {
            atomic_store_explicit(&s->fam_index[pos], e, memory_order_release);
            pos = j;
        }
    }
    atomic_store_explicit(&s->fam_index[pos], 0, memory_order_release);
}

static uint64_t text_create(struct ob_store *s, const char *bytes, size_t len)
{
    uint64_t off = heap_alloc(s, sizeof(struct ob_store_text) + len);
    if (off) {
        struct ob_store_text *t = payload(s, off);
        t->len = (uint32_t)len;
        memcpy(t->bytes, bytes, len);
    }
    return off;
}

/* Whether the text at *off_p (0: none) is bytes[0, len). */
static bool text_matches(const struct ob_store *s, const _Atomic uint64_t *off_p, const char *bytes,
                         size_t len)
{
    uint64_t off = atomic_load_explicit(off_p, memory_order_acquire);
    if (!off)
        return len == 0;
    const struct ob_store_text *t = text_at(s, off);
    return t->len == len && memcmp(t->bytes, bytes, len) == 0;
}


/* ---- locks and repair ---------------------------------------------------------- */

static int create_repair(struct ob_store *s);

static int lock_create(struct ob_store *s)
{
    int rc = ob_lock_acquire(s->create_lock);
    if (OB_LIKELY(rc == 0))
        return 0;
    if (rc != OB_LOCK_REPAIR)
        return rc;
    rc = create_repair(s);
    if (rc == 0)
        rc = ob_lock_consistent(s->create_lock);
    if (rc) {
        /* Unlocking without consistent makes the mutex ENOTRECOVERABLE. */
        ob_lock_release(s->create_lock);
        return rc;
    }
    atomic_fetch_add(&s->repairs, 1);
    atomic_fetch_add(&s->st->repairs, 1);
    return 0;
}

/* Slot of a live series whose ring may be mid-change: fix it and its seq. */
static void slot_ring_repair(struct ob_store *s, struct ob_store_slot *sl)
{
    uint64_t q = atomic_load_explicit(&sl->seq, memory_order_relaxed);
    if (!(q & 1))
        return;
    if (atomic_load_explicit(&sl->state, memory_order_relaxed) == OB_SLOT_LIVE) {
        const struct ob_store_shape *d = shape_of(s, sl->data_off);
        if (block_ok(s, sl->data_off,
                     data_bytes(s, ob_shape_points(d->kind, d->n), ob_sample_width(d->kind, d->n)))) {
            struct ob_ring r = ring_of(s, sl, sl->data_off);
            ob_ooo_repair(&r);
        } else {
            atomic_store_explicit(&sl->ring, 0, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&sl->seq, q + 1, memory_order_release);
}

static void stripe_repair(struct ob_store *s, uint32_t stripe)
{
    uint32_t used = s->st->slots_used;
    for (uint32_t i = 0; i < used && i < s->max_series; i++) {
        struct ob_store_slot *sl = &s->slots[i];
        if ((sl->hash & s->stripe_mask) == stripe &&
            atomic_load_explicit(&sl->state, memory_order_relaxed) == OB_SLOT_LIVE)
            slot_ring_repair(s, sl);
    }
}

static int lock_stripe(struct ob_store *s, uint32_t stripe)
{
    int rc = ob_lock_acquire(&s->stripes[stripe]);
    if (OB_LIKELY(rc == 0))
        return 0;
    if (rc != OB_LOCK_REPAIR)
        return rc;
    stripe_repair(s, stripe);
    rc = ob_lock_consistent(&s->stripes[stripe]);
    if (rc) {
        ob_lock_release(&s->stripes[stripe]);
        return rc;
    }
    atomic_fetch_add(&s->repairs, 1);
    atomic_fetch_add(&s->st->repairs, 1);
    return 0;
}

static inline void set_bit(uint64_t *bits, uint64_t i)
{
    bits[i >> 6] |= 1ull << (i & 63);
}

static inline bool get_bit(const uint64_t *bits, uint64_t i)
{
    return (bits[i >> 6] >> (i & 63)) & 1;
}

/* Rebuilds everything the create lock protects from the slot array and a
 * heap walk: family index, free lists and limbo, slot lists, family lists
 * (keeping their order, appending live slots that were never linked) and
 * the series index.  Live rings are left alone (stripe locks own them). */
static int create_repair(struct ob_store *s)
{
    struct ob_store_state *st = s->st;
    int64_t now = ob_wall_ms_coarse();
    uint64_t nunits = (s->heap_end - s->heap_start) / OB_STORE_UNIT;
    uint64_t *starts = calloc(nunits / 64 + 1, 8);
    uint64_t *visited = calloc(s->max_series / 64 + 1, 8);
    int rc = -ENOMEM;
    if (!starts || !visited)
        goto fail;

    rc = OB_E_STORE_CORRUPT;
    if (st->heap_bump < s->heap_start || st->heap_bump > s->heap_end || st->slots_used > s->max_series)
        goto fail;
    uint32_t nf = atomic_load(&st->n_families);
    if (nf > s->max_families)
        goto fail;

    /* Heap walk: block starts, and no block may run past the bump. */
    for (uint64_t off = s->heap_start; off < st->heap_bump;) {
        uint64_t units = blk(s, off)->units;
        if (units < OB_STORE_MIN_BLOCK / OB_STORE_UNIT || units * OB_STORE_UNIT > st->heap_bump - off)
            goto fail;
        set_bit(starts, (off - s->heap_start) / OB_STORE_UNIT);
        blk(s, off)->tag &= ~OB_BLOCK_MARK;
        off += units * OB_STORE_UNIT;
    }
#define IS_BLOCK(off)                                                                              \
    ((off) >= s->heap_start && (off) < st->heap_bump && !((off) & (OB_STORE_UNIT - 1)) &&          \
     get_bit(starts, ((off) - s->heap_start) / OB_STORE_UNIT))

    /* Families by state: live ones need intact names (a help block that is
     * not drops to none) and go back into the index; retired ones go back
     * into the limbo (grace restarted, gen bumped once more: a crash may have
     * come between the state and the gen) or the free list.  Their text
     * blocks are not marked: limbo ones stay in limbo, others are freed. */
    for (uint32_t i = 0; i < s->fam_mask + 1; i++)
        atomic_store(&s->fam_index[i], 0);
    st->fam_free = st->fam_limbo_head = st->fam_limbo_tail = OB_STORE_NIL;
    uint32_t fams_live = 0;
    for (uint32_t f = 0; f < nf; f++) {
        struct ob_store_family *fam = &s->fams[f];
        uint32_t state = atomic_load(&fam->state);
        if (state != OB_FAM_LIVE) {
            fam->link = OB_STORE_NIL;
            atomic_store(&fam->help_off, 0);
            atomic_store(&fam->unit_off, 0);
            atomic_store(&fam->head, OB_STORE_NIL);
            fam->tail = OB_STORE_NIL;
            if (state == OB_FAM_LIMBO) {
                atomic_fetch_add(&fam->gen, 1);
                fam->empty_ms = now;
                if (st->fam_limbo_tail != OB_STORE_NIL)
                    s->fams[st->fam_limbo_tail].link = f;
                else
                    st->fam_limbo_head = f;
                st->fam_limbo_tail = f;
            } else {
                atomic_store(&fam->state, OB_FAM_FREE);
                fam->link = st->fam_free;
                st->fam_free = f;
            }
            continue;
        }
        if (!IS_BLOCK(fam->name_off))
            goto fail;
        blk(s, fam->name_off)->tag |= OB_BLOCK_MARK;
        uint64_t h = atomic_load(&fam->help_off);
        if (h && IS_BLOCK(h))
            blk(s, h)->tag |= OB_BLOCK_MARK;
        else if (h)
            atomic_store(&fam->help_off, 0);
        uint64_t u = atomic_load(&fam->unit_off);
        if (u && IS_BLOCK(u))
            blk(s, u)->tag |= OB_BLOCK_MARK;
        else if (u)
            atomic_store(&fam->unit_off, 0);
        fam_index_insert(s, fam->name_hash, f);
        fams_live++;
    }
    atomic_store(&st->families_live, fams_live);

    /* Slots: validate live ones and mark their blocks; rebuild the lists. */
    uint64_t ex_used = 0;
    atomic_fetch_add_explicit(&s->recycles, 1, memory_order_relaxed);
    st->slot_free = st->slot_limbo_head = st->slot_limbo_tail = OB_STORE_NIL;
    for (uint32_t i = 0; i < st->slots_used; i++) {
        struct ob_store_slot *sl = &s->slots[i];
        uint32_t state = atomic_load(&sl->state);
        if (state == OB_SLOT_LIVE) {
            uint32_t w = atomic_load(&sl->ring);
            bool ok = sl->family < nf && atomic_load(&s->fams[sl->family].state) == OB_FAM_LIVE &&
                      IS_BLOCK(sl->labels_off) && IS_BLOCK(sl->data_off) &&
                      OB_OOO_HEAD(w) <= s->cap && OB_OOO_N(w) <= s->cap;
            if (ok) {
                blk(s, sl->labels_off)->tag |= OB_BLOCK_MARK;
                blk(s, sl->data_off)->tag |= OB_BLOCK_MARK;
                /* An exemplar block that is not one (a crash between its
                 * allocation and its first use cannot leave that, but a
                 * torn store can) is dropped: only exemplars are lost. */
                struct ob_store_shape *d = payload(s, sl->data_off);
                uint64_t e = d->exemplars_off;
                if (e && IS_BLOCK(e) && ex_valid(s, d, e)) {
                    blk(s, e)->tag |= OB_BLOCK_MARK;
                    ex_used += (uint64_t)blk(s, e)->units * OB_STORE_UNIT;
                } else {
                    d->exemplars_off = 0;
                }
                continue;
            }
            atomic_store(&sl->state, OB_SLOT_FREE);
            state = OB_SLOT_FREE;
        }
        uint64_t q = atomic_load(&sl->seq);
        if (q & 1)
            atomic_store(&sl->seq, q + 1);
        if (state == OB_SLOT_LIMBO) {
            sl->last_ms = now;
            slot_retire(s, i);
        } else {
            atomic_store(&sl->state, OB_SLOT_FREE);
            sl->origin = st->slot_free;
            st->slot_free = i;
        }
    }

    /* Blocks in limbo stay there (a reader of another process may hold
     * them): their records are kept, the blocks they name marked. */
    for (uint64_t off = s->heap_start; off < st->heap_bump; off += (uint64_t)blk(s, off)->units * OB_STORE_UNIT) {
        if ((blk(s, off)->tag & ~OB_BLOCK_MARK) != OB_BLOCK_LIMBO)
            continue;
        uint64_t *p = payload(s, off);
        if (p[2] && IS_BLOCK(p[2]) && (blk(s, p[2])->tag & ~OB_BLOCK_MARK) == OB_BLOCK_USED)
            blk(s, p[2])->tag |= OB_BLOCK_MARK;
        else
            p[2] = 0;
    }

    /* Heap: unreferenced used blocks (an allocation cut short) become free. */
    memset(st->free_list, 0, sizeof st->free_list);
    st->limbo_head = st->limbo_tail = 0;
    uint64_t used = 0;
    for (uint64_t off = s->heap_start; off < st->heap_bump; off += (uint64_t)blk(s, off)->units * OB_STORE_UNIT) {
        struct ob_store_block *b = blk(s, off);
        if (b->tag & OB_BLOCK_MARK) {
            b->tag = OB_BLOCK_USED;
            used += (uint64_t)b->units * OB_STORE_UNIT;
        } else if (b->tag == OB_BLOCK_LIMBO) {
            limbo_link(s, off, now);
            used += (uint64_t)b->units * OB_STORE_UNIT;
        } else {
            free_list_push(s, off);
        }
    }
    atomic_store(&st->heap_used, used);
    atomic_store(&st->exemplar_used, ex_used);

    /* Family lists: keep the linked order, drop what is not live there,
     * append live slots that never got linked. */
    uint32_t live = 0;
    for (uint32_t f = 0; f < nf; f++) {
        struct ob_store_family *fam = &s->fams[f];
        uint32_t tail = OB_STORE_NIL, n = 0, cur = atomic_load(&fam->head);
        for (uint32_t steps = 0; cur < st->slots_used && steps < st->slots_used; steps++) {
            struct ob_store_slot *sl = &s->slots[cur];
            uint32_t nxt = atomic_load(&sl->next);
            if (atomic_load(&sl->state) == OB_SLOT_LIVE && sl->family == f && !get_bit(visited, cur)) {
                set_bit(visited, cur);
                if (tail == OB_STORE_NIL)
                    atomic_store(&fam->head, cur);
                else
                    atomic_store(&s->slots[tail].next, cur);
                tail = cur;
                n++;
            }
            cur = nxt;
        }
        if (tail == OB_STORE_NIL)
            atomic_store(&fam->head, OB_STORE_NIL);
        else
            atomic_store(&s->slots[tail].next, OB_STORE_NIL);
        fam->tail = tail;
        atomic_store(&fam->live, n);
        live += n;
    }
    for (uint32_t i = 0; i < st->slots_used; i++) {
        struct ob_store_slot *sl = &s->slots[i];
        if (atomic_load(&sl->state) != OB_SLOT_LIVE || get_bit(visited, i))
            continue;
        struct ob_store_family *fam = &s->fams[sl->family];
        atomic_store(&sl->next, OB_STORE_NIL);
        if (fam->tail == OB_STORE_NIL)
            atomic_store(&fam->head, i);
        else
            atomic_store(&s->slots[fam->tail].next, i);
        fam->tail = i;
        atomic_fetch_add(&fam->live, 1);
        live++;
    }
    atomic_store(&st->series_live, live);
    index_rebuild(s);
#undef IS_BLOCK
    rc = 0;
fail:
    free(starts);
    free(visited);
    return rc;
}

/* After an unclean shutdown nobody holds anything: fresh mutexes, every
 * half-written ring fixed, then the create-lock rebuild. */
static int full_repair(struct ob_store *s)
{
    int rc = ob_lock_init(s->create_lock);
    for (uint32_t i = 0; rc == 0 && i < OB_STORE_STRIPES; i++)
        rc = ob_lock_init(&s->stripes[i]);
    if (rc)
        return rc;
    if (s->st->slots_used > s->max_series)
        return OB_E_STORE_CORRUPT;
    for (uint32_t i = 0; i < s->st->slots_used; i++)
        slot_ring_repair(s, &s->slots[i]);
    rc = create_repair(s);
    if (rc)
        return rc;
    atomic_fetch_add(&s->repairs, 1);
    atomic_fetch_add(&s->st->repairs, 1);
    return 0;
}

/* ---- open / close -------------------------------------------------------------- */

static void set_views(struct ob_store *s)
{
    struct ob_store_hdr *h = (struct ob_store_hdr *)(void *)s->base;
    struct layout L;
    compute_layout(h->page_size, h->max_series, h->max_families, h->heap_bytes, &L);
    s->hdr = h;
    s->st = (struct ob_store_state *)(void *)(s->base + OB_STORE_HDR_SIZE);
    s->create_lock = (struct ob_store_lock *)(void *)(s->base + L.locks);
    s->stripes = s->create_lock + 1;
    s->fams = (struct ob_store_family *)(void *)(s->base + L.fams);
    s->fam_index = (_Atomic uint32_t *)(void *)(s->base + L.fam_index);
    s->fam_mask = L.fam_index_cap - 1;
    s->slots = (struct ob_store_slot *)(void *)(s->base + L.slots);
    s->index = (_Atomic uint64_t *)(void *)(s->base + L.index);
    s->index_mask = L.index_cap - 1;
    s->heap_start = L.heap;
    s->heap_end = L.heap + h->heap_bytes;
    s->max_series = h->max_series;
    s->max_families = h->max_families;
    s->cap = h->samples_per_series;
    s->stripe_mask = h->n_stripes - 1;
}

static int open_fd(const char *path, int flags, bool *out_shm)
{
    *out_shm = is_shm_path(path);
    int fd = *out_shm ? shm_open(path, flags, 0600) : open(path, flags, 0600);
    return fd < 0 ? -errno : fd;
}

static void printable(const char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[n] = '\0';
}

/* Validation in the documented order: magic, version, layout, checksum,
 * then (want != NULL) sizes against the configuration. */
static int check_header(const char *path, const struct ob_store_hdr *h, uint64_t file_size,
                        const struct ob_store_hdr *want, char err[OB_ERR_LEN])
{
    if (file_size < sizeof *h || memcmp(h->magic, OB_STORE_MAGIC, 8) != 0) {
        char have[9] = "";
        if (file_size >= sizeof *h)
            printable(h->magic, 8, have);
        snprintf(err, OB_ERR_LEN, "store %s: magic \"%s\" (%llu bytes), expected \"%s\": not an otlp-broker store",
                 path, have, (unsigned long long)file_size, OB_STORE_MAGIC);
        return OB_E_STORE_MAGIC;
    }
    if (h->layout_version != OB_STORE_LAYOUT_VERSION) {
        snprintf(err, OB_ERR_LEN, "store %s: layout version %u, this broker uses %u", path,
                 h->layout_version, OB_STORE_LAYOUT_VERSION);
        return OB_E_STORE_VERSION;
    }
    if (h->layout_sig != layout_sig()) {
        snprintf(err, OB_ERR_LEN, "store %s: layout signature %016llx, this build has %016llx", path,
                 (unsigned long long)h->layout_sig, (unsigned long long)layout_sig());
        return OB_E_STORE_LAYOUT;
    }
    if (h->header_cksum != hdr_cksum(h)) {
        snprintf(err, OB_ERR_LEN, "store %s: header checksum %016llx, computed %016llx", path,
                 (unsigned long long)h->header_cksum, (unsigned long long)hdr_cksum(h));
        return OB_E_STORE_CKSUM;
    }
    struct {
        const char *name;
        uint64_t have, want;
    } f[] = {
        {"max_series", h->max_series, want ? want->max_series : h->max_series},
        {"max_families", h->max_families, want ? want->max_families : h->max_families},
        {"samples_per_series", h->samples_per_series, want ? want->samples_per_series : h->samples_per_series},
        {"heap_bytes", h->heap_bytes, want ? want->heap_bytes : h->heap_bytes},
        {"map_size", h->map_size, want ? want->map_size : h->map_size},
        {"file size", file_size, h->map_size},
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(f); i++) {
        if (f[i].have != f[i].want) {
            snprintf(err, OB_ERR_LEN, "store %s: %s is %llu in the segment, %llu expected", path, f[i].name,
                     (unsigned long long)f[i].have, (unsigned long long)f[i].want);
            return OB_E_STORE_SIZE;
        }
    }
    return 0;
}

static int map_existing(struct ob_store *s, int prot, uint64_t file_size, const char *path,
                        const struct ob_store_hdr *want, char err[OB_ERR_LEN])
{
    struct ob_store_hdr h;
    memset(&h, 0, sizeof h);
    if (file_size >= sizeof h && pread(s->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
        snprintf(err, OB_ERR_LEN, "store %s: cannot read header: %s", path, strerror(errno));
        return -errno;
    }
    int rc = check_header(path, &h, file_size, want, err);
    if (rc)
        return rc;
    void *p = mmap(NULL, h.map_size, prot, MAP_SHARED, s->fd, 0);
    if (p == MAP_FAILED) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "store %s: mmap %llu bytes: %s", path, (unsigned long long)h.map_size,
                 strerror(errno));
        return rc;
    }
    s->base = p;
    s->map_size = h.map_size;
    set_views(s);
    return 0;
}

static int create_segment(struct ob_store *s, const struct ob_store_hdr *want, const char *path,
                          char err[OB_ERR_LEN])
{
    /* Truncate to zero first so every byte starts zeroed. */
    if (ftruncate(s->fd, 0) || ftruncate(s->fd, (off_t)want->map_size)) {
        int rc = -errno;
        snprintf(err, OB_ERR_LEN, "store %s: ftruncate %llu bytes: %s", path,
                 (unsigned long long)want->map_size, strerror(errno));
        return rc;
    }
    void *p = mmap(NULL, want->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (p == MAP_FAILED) {
        int rc = -errno;
        snprintf(err, OB_ERR_LEN, "store %s: mmap %llu bytes: %s", path,
                 (unsigned long long)want->map_size, strerror(errno));
        return rc;
    }
    s->base = p;
    s->map_size = want->map_size;
    struct ob_store_hdr *h = (struct ob_store_hdr *)p;
    *h = *want;
    memset(h->magic, 0, sizeof h->magic);
    set_views(s);

    struct ob_store_state *st = s->st;
    st->slot_free = st->slot_limbo_head = st->slot_limbo_tail = OB_STORE_NIL;
    st->fam_free = st->fam_limbo_head = st->fam_limbo_tail = OB_STORE_NIL;
    st->heap_bump = s->heap_start;
    for (uint32_t f = 0; f < s->max_families; f++) {
        atomic_store_explicit(&s->fams[f].head, OB_STORE_NIL, memory_order_relaxed);
        s->fams[f].tail = OB_STORE_NIL;
        s->fams[f].link = OB_STORE_NIL;
    }
    int rc = ob_lock_init(s->create_lock);
    for (uint32_t i = 0; rc == 0 && i < OB_STORE_STRIPES; i++)
        rc = ob_lock_init(&s->stripes[i]);
    if (rc) {
        snprintf(err, OB_ERR_LEN, "store %s: mutex init: %s", path, ob_strerror(rc));
        return rc;
    }
    /* The checksum covers the magic; the magic itself goes in last. */
    struct ob_store_hdr tmp = *h;
    memcpy(tmp.magic, OB_STORE_MAGIC, 8);
    h->header_cksum = hdr_cksum(&tmp);
    atomic_thread_fence(memory_order_release);
    memcpy(h->magic, OB_STORE_MAGIC, 8);
    return 0;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

int ob_store_open(const struct ob_store_opts *opts, struct ob_store **out, char err[OB_ERR_LEN])
{
    struct ob_store *s = NULL;
    int rc = OB_E_CONFIG;
    err[0] = '\0';
    *out = NULL;
    if (!opts->path || !opts->path[0] || opts->max_series == 0 || opts->max_series >= OB_STORE_NIL - 1 ||
        opts->max_families == 0 || opts->max_families >= OB_STORE_NIL - 1 || opts->samples_per_series == 0 ||
        opts->samples_per_series > OB_STORE_MAX_SAMPLES) {
        snprintf(err, OB_ERR_LEN, "store: need a path, max_series and max_families >= 1, "
                                  "samples_per_series in 1..%u", OB_STORE_MAX_SAMPLES);
        return OB_E_CONFIG;
    }
    long page = sysconf(_SC_PAGESIZE);
    struct ob_store_hdr want;
    memset(&want, 0, sizeof want);
    memcpy(want.magic, OB_STORE_MAGIC, 8);
    want.layout_version = OB_STORE_LAYOUT_VERSION;
    want.header_size = OB_STORE_HDR_SIZE;
    want.layout_sig = layout_sig();
    want.page_size = page > 0 ? (uint64_t)page : 4096u;
    want.max_series = opts->max_series;
    want.max_families = opts->max_families;
    want.samples_per_series = opts->samples_per_series;
    want.n_stripes = OB_STORE_STRIPES;
    uint64_t exemplar_budget = opts->exemplar_bytes ? opts->exemplar_bytes
                                                    : (uint64_t)opts->max_series * EXEMPLAR_BYTES_PER_SERIES;
    want.heap_bytes = round_up(opts->heap_bytes ? opts->heap_bytes
                                                : derived_heap(opts->max_series, opts->max_families,
                                                               opts->samples_per_series) +
                                                      exemplar_budget,
                               want.page_size);
    want.ooo_window_ms = opts->ooo_window_ms;
    want.series_ttl_ms = opts->series_ttl_ms;
    want.created_ns = ob_now_ns();
    struct layout L;
    compute_layout(want.page_size, want.max_series, want.max_families, want.heap_bytes, &L);
    want.map_size = L.map_size;

    s = calloc(1, sizeof *s);
    if (!s) {
        rc = -ENOMEM;
        goto fail;
    }
    s->owner = true;
    atomic_init(&s->hold_ms, INT64_MAX);
    rc = s->fd = open_fd(opts->path, O_RDWR | O_CREAT, &s->shm);
    if (rc < 0) {
        snprintf(err, OB_ERR_LEN, "store %s: open: %s", opts->path, strerror(-rc));
        s->fd = -1;
        goto fail;
    }
    /* One broker per store: an exclusive lock on byte 0, held until close.
     * (POSIX record locks belong to the process: closing any other fd of
     * this file in the same process would drop it.) */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(s->fd, F_SETLK, &fl) != 0) {
        rc = -errno;
        if (rc == -EACCES || rc == -EAGAIN) {
            struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
            long pid = fcntl(s->fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid : -1;
            snprintf(err, OB_ERR_LEN, "store %s is in use by another broker (pid %ld)", opts->path, pid);
            rc = OB_E_STORE_LOCKED;
        } else {
            snprintf(err, OB_ERR_LEN, "store %s: lock: %s", opts->path, strerror(-rc));
        }
        goto fail;
    }
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "store %s: stat: %s", opts->path, strerror(errno));
        goto fail;
    }
    bool fresh = sb.st_size == 0;
    if (!fresh) {
        /* A segment whose creator died before writing the magic is ours to redo. */
        char magic[8] = {0};
        if ((size_t)sb.st_size >= sizeof(struct ob_store_hdr) && pread(s->fd, magic, 8, 0) == 8 &&
            all_zero(magic, 8))
            fresh = true;
    }
    if (!fresh) {
        rc = map_existing(s, PROT_READ | PROT_WRITE, (uint64_t)sb.st_size, opts->path, &want, err);
        if (rc && opts->recreate) {
            fresh = true;
            err[0] = '\0';
        } else if (rc) {
            goto fail;
        }
    }
    if (fresh) {
        rc = create_segment(s, &want, opts->path, err);
        if (rc)
            goto fail;
    } else if (!s->hdr->clean_shutdown) {
        rc = full_repair(s);
        if (rc) {
            snprintf(err, OB_ERR_LEN, "store %s: repair after an unclean shutdown failed (%s); "
                     "start with store.recreate=true to replace it", opts->path, ob_strerror(rc));
            goto fail;
        }
    }
    struct ob_store_hdr *h = s->hdr;
    h->ooo_window_ms = opts->ooo_window_ms;
    h->series_ttl_ms = opts->series_ttl_ms;
    h->exemplar_budget = exemplar_budget;
    h->delta_reset_ms = opts->delta_reset_ms > 0 ? opts->delta_reset_ms : opts->series_ttl_ms;
    h->generation++;
    h->clean_shutdown = 0;
    h->header_cksum = hdr_cksum(h);
    *out = s;
    return 0;
fail:
    ob_store_close(s);
    return rc;
}

int ob_store_open_readonly(const char *path, struct ob_store **out, char err[OB_ERR_LEN])
{
    int rc;
    err[0] = '\0';
    *out = NULL;
    struct ob_store *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    rc = s->fd = open_fd(path, O_RDONLY, &s->shm);
    if (rc < 0) {
        snprintf(err, OB_ERR_LEN, "store %s: open: %s", path, strerror(-rc));
        s->fd = -1;
        goto fail;
    }
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "store %s: stat: %s", path, strerror(errno));
        goto fail;
    }
    rc = map_existing(s, PROT_READ, (uint64_t)sb.st_size, path, NULL, err);
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    ob_store_close(s);
    return rc;
}

void ob_store_close(struct ob_store *s)
{
    if (!s)
        return;
    if (s->base) {
        if (s->owner && s->hdr && memcmp(s->hdr->magic, OB_STORE_MAGIC, 8) == 0) {
            s->hdr->clean_shutdown = 1;
            s->hdr->header_cksum = hdr_cksum(s->hdr);
            if (!s->shm)
                msync(s->base, s->map_size, MS_SYNC);
        }
        munmap(s->base, s->map_size);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

int ob_store_unlink(const char *path)
{
    int rc = is_shm_path(path) ? shm_unlink(path) : unlink(path);
    return rc ? -errno : 0;
}

/* ---- families: the API ------------------------------------------------------ */

int ob_store_family(struct ob_store *s, const char *name, size_t name_len, enum ob_family_type type,
                    const char *help, size_t help_len, uint32_t *out_family, uint32_t *out_gen)
{
    if (!s->owner)
        return -EROFS;
    if (name_len == 0 || name_len > UINT16_MAX || help_len > UINT32_MAX / 2 || (unsigned)type > OB_FAMILY_SUMMARY)
        return -EINVAL;
    if (!help)
        help_len = 0;
    uint64_t h = XXH3_64bits(name, name_len);
    uint32_t id = fam_find(s, name, name_len, h);
    if (id != OB_STORE_NIL) {
        /* gen, then state (see ob_store_layout.h): LIVE means not retired
         * before this gen was read. */
        uint32_t gen = atomic_load_explicit(&s->fams[id].gen, memory_order_acquire);
        bool live = atomic_load_explicit(&s->fams[id].state, memory_order_acquire) == OB_FAM_LIVE;
        if (live && s->fams[id].type != (uint32_t)type)
            return OB_E_TYPE_CONFLICT;
        if (live && text_matches(s, &s->fams[id].help_off, help, help_len)) {
            *out_family = id;
            if (out_gen)
                *out_gen = gen;
            return 0;
        }
    }

    int rc = lock_create(s);
    if (rc)
        return rc;
    id = fam_find(s, name, name_len, h);
    if (id == OB_STORE_NIL) {
        /* A free family slot (retired, past the grace), else a new one. */
        struct ob_store_state *st = s->st;
        uint32_t nf = atomic_load_explicit(&st->n_families, memory_order_relaxed);
        rc = OB_E_STORE_FULL;
        if (st->fam_free == OB_STORE_NIL && nf >= s->max_families)
            goto out;
        uint64_t name_off = text_create(s, name, name_len);
        uint64_t help_off = help_len && name_off ? text_create(s, help, help_len) : 0;
        if (!name_off || (help_len && !help_off)) {
            if (name_off)
                heap_free_now(s, name_off);
            goto out;
        }
        bool reuse = st->fam_free != OB_STORE_NIL;
        id = reuse ? st->fam_free : nf;
        struct ob_store_family *f = &s->fams[id];
        if (reuse)
            st->fam_free = f->link;
        f->name_off = name_off;
        atomic_store_explicit(&f->help_off, help_off, memory_order_relaxed);
        f->name_hash = h;
        f->type = (uint32_t)type;
        atomic_store_explicit(&f->head, OB_STORE_NIL, memory_order_relaxed);
        f->tail = OB_STORE_NIL;
        atomic_store_explicit(&f->live, 0, memory_order_relaxed);
        f->empty_ms = ob_wall_ms_coarse(); /* reclaimed if no series ever comes */
        f->link = OB_STORE_NIL;
        /* Filled, then live, then findable (and, new, scannable). */
        atomic_store_explicit(&f->state, OB_FAM_LIVE, memory_order_release);
        if (!reuse)
            atomic_store_explicit(&st->n_families, nf + 1, memory_order_release);
        atomic_fetch_add_explicit(&st->families_live, 1, memory_order_relaxed);
        fam_index_insert(s, h, id);
    } else if (s->fams[id].type != (uint32_t)type) {
        rc = OB_E_TYPE_CONFLICT;
        goto out;
    } else if (!text_matches(s, &s->fams[id].help_off, help, help_len)) {
        /* Latest help wins; the old text waits in limbo for readers. */
        uint64_t help_off = help_len ? text_create(s, help, help_len) : 0;
        rc = OB_E_STORE_FULL;
        if (help_len && !help_off)
            goto out;
        uint64_t old = atomic_exchange(&s->fams[id].help_off, help_off);
        if (old)
            heap_retire(s, old, ob_wall_ms_coarse());
    }
    *out_family = id;
    if (out_gen)
        *out_gen = atomic_load_explicit(&s->fams[id].gen, memory_order_relaxed);
    rc = 0;
out:
    ob_lock_release(s->create_lock);
    return rc;
}

int ob_store_family_unit(struct ob_store *s, uint32_t id, uint32_t gen, const char *unit,
                         size_t len)
{
    if (!s->owner)
        return -EROFS;
    if (len > UINT16_MAX)
        return -EINVAL;
    if (!ob_store_family_valid(s, id, gen))
        return OB_E_STALE_FAMILY;
    if (text_matches(s, &s->fams[id].unit_off, unit, len))
        return 0; /* the common case: no lock */
    int rc = lock_create(s);
    if (rc)
        return rc;
    struct ob_store_family *f = &s->fams[id];
    if (atomic_load_explicit(&f->gen, memory_order_relaxed) != gen ||
        atomic_load_explicit(&f->state, memory_order_relaxed) != OB_FAM_LIVE) {
        rc = OB_E_STALE_FAMILY;
    } else if (!text_matches(s, &f->unit_off, unit, len)) {
        /* Latest unit wins; the old text waits in limbo for readers. */
        uint64_t off = len ? text_create(s, unit, len) : 0;
        if (len && !off) {
            rc = OB_E_STORE_FULL;
        } else {
            uint64_t old = atomic_exchange(&f->unit_off, off);
            if (old)
                heap_retire(s, old, ob_wall_ms_coarse());
        }
    }
    ob_lock_release(s->create_lock);
    return rc;
}

uint32_t ob_store_family_live(const struct ob_store *s, const char *name, size_t len)
{
    uint32_t f = fam_find(s, name, len, XXH3_64bits(name, len));
    return f == OB_STORE_NIL ? 0 : atomic_load_explicit(&s->fams[f].live, memory_order_relaxed);
}

bool ob_store_family_valid(const struct ob_store *s, uint32_t id, uint32_t gen)
{
    if (id >= atomic_load_explicit(&s->st->n_families, memory_order_acquire))
        return false;
    const struct ob_store_family *f = &s->fams[id];
    return atomic_load_explicit(&f->gen, memory_order_acquire) == gen &&
           atomic_load_explicit(&f->state, memory_order_acquire) == OB_FAM_LIVE;
}

static int crash_in_retire; /* test hook, see ob_store_test.h */

void ob_store_test_crash_in_retire(int step)
{
    crash_in_retire = step;
}

static void retire_step(int step)
{
    if (OB_UNLIKELY(crash_in_retire == step))
        _exit(0);
}

/* Retires family f (LIVE, no series for long enough): out of the index, its
 * texts to heap limbo, itself to the family limbo.  Create lock held.  The
 * order makes every crash point repairable (create_repair goes by state). */
static void fam_retire(struct ob_store *s, uint32_t f, int64_t now_ms)
{
    struct ob_store_state *st = s->st;
    struct ob_store_family *fam = &s->fams[f];
    atomic_store_explicit(&fam->state, OB_FAM_LIMBO, memory_order_release);
    retire_step(1);
    atomic_fetch_add_explicit(&fam->gen, 1, memory_order_release);
    atomic_fetch_sub_explicit(&st->families_live, 1, memory_order_relaxed);
    fam_index_remove(s, fam->name_hash, f);
    retire_step(2);
    heap_retire(s, fam->name_off, now_ms);
    uint64_t help = atomic_exchange_explicit(&fam->help_off, 0, memory_order_relaxed);
    if (help)
        heap_retire(s, help, now_ms);
    uint64_t unit = atomic_exchange_explicit(&fam->unit_off, 0, memory_order_relaxed);
    if (unit)
        heap_retire(s, unit, now_ms);
    retire_step(3);
    fam->empty_ms = now_ms; /* limbo since */
    fam->link = OB_STORE_NIL;
    if (st->fam_limbo_tail != OB_STORE_NIL)
        s->fams[st->fam_limbo_tail].link = f;
    else
        st->fam_limbo_head = f;
    st->fam_limbo_tail = f;
}

/* ---- append ----------------------------------------------------------------- */

static bool shape_valid(const struct ob_shape *sh)
{
    if (sh->kind == OB_SHAPE_SCALAR)
        return true;
    if (sh->kind == OB_SHAPE_EXPHIST)
        return sh->n <= OB_STORE_MAX_POINTS; /* room for counts, no bounds */
    if ((sh->kind != OB_SHAPE_HISTOGRAM && sh->kind != OB_SHAPE_SUMMARY) || sh->n > OB_STORE_MAX_POINTS)
        return false;
    return sh->n == 0 || sh->points != NULL;
}

/* Remembers slot i for the caller's next append of the same series; called
 * with the slot's stripe or the create lock held, so the slot cannot be
 * recycled before the count is read. */
static inline void hint_fill(struct ob_store *s, const struct ob_series_ref *ref, uint32_t i)
{
    if (ref->hint)
        *ref->hint = (struct ob_series_hint){
            .epoch = atomic_load_explicit(&s->recycles, memory_order_relaxed),
            .labels_off = s->slots[i].labels_off,
            .data_off = s->slots[i].data_off,
            .slot_plus1 = i + 1,
            .exemplars_unit = (uint32_t)(shape_of(s, s->slots[i].data_off)->exemplars_off / OB_STORE_UNIT),
        };
}

/* The slot a valid hint names, or NIL.  Stripe lock held.  Live with the
 * same hash, family and label block, and no slot recycled since the hint was
 * taken: then it is the slot the hint's append verified, still holding the
 * same series (retiring it needs this stripe, reusing it a recycle). */
static uint32_t hint_slot(const struct ob_store *s, const struct ob_series_ref *ref)
{
    const struct ob_series_hint *h = ref->hint;
    uint32_t i = h->slot_plus1 - 1;
    if (i >= s->max_series)
        return OB_STORE_NIL;
    const struct ob_store_slot *sl = &s->slots[i];
    if (atomic_load_explicit(&sl->state, memory_order_acquire) != OB_SLOT_LIVE ||
        sl->hash != ref->hash || sl->family != ref->family || sl->labels_off != h->labels_off ||
        atomic_load_explicit(&s->recycles, memory_order_relaxed) != h->epoch)
        return OB_STORE_NIL;
    return i;
}

void ob_store_prefetch(const struct ob_store *s, const struct ob_series_hint *h)
{
    uint32_t i = h->slot_plus1 - 1;
    if (!h->slot_plus1 || i >= s->max_series)
        return;
    PREFETCH(&s->slots[i]);
    if (h->data_off >= s->heap_start && h->data_off < s->heap_end)
        PREFETCH(s->base + h->data_off);
    uint64_t ex = (uint64_t)h->exemplars_unit * OB_STORE_UNIT;
    if (ex >= s->heap_start && ex < s->heap_end)
        PREFETCH(s->base + ex); /* a counter's whole block; a histogram's first entries */
}

/* A delta point on its way into a series (ob_store_accumulate). */
struct delta {
    int64_t start_ms; /* the point's start; 0 = unknown: right after the last one */
    double *values;   /* in: the delta; out: the running total to store */
    uint32_t room;    /* exponential histogram: the delta's room for counts */
    double *merged;   /* exponential histogram: the total (malloc), or NULL */
    uint32_t need;    /* NEED_ROOM: the room the total needs */
};

/* write_sample(): the series has too little room for the exponential
 * histogram total (dl->need); the caller makes room and tries again. */
#define NEED_ROOM (OB_E_LAST - 1)

/* One side of an exponential histogram sample: counts from index off. */
struct exp_side {
    int32_t off;
    uint32_t n;
    double *c;
};

/* Side `neg` of sample v (ob_store_layout.h), copied into c and lowered to
 * scale `to`. */
static struct exp_side exp_side_at(const double *v, bool neg, int32_t to, double *c)
{
    uint32_t np = (uint32_t)v[OB_SAMPLE_EXP_POS_N];
    struct exp_side sd = {
        (int32_t)v[neg ? OB_SAMPLE_EXP_NEG_OFFSET : OB_SAMPLE_EXP_POS_OFFSET],
        (uint32_t)v[neg ? OB_SAMPLE_EXP_NEG_N : OB_SAMPLE_EXP_POS_N], c,
    };
    memcpy(c, v + OB_SAMPLE_EXP_BUCKET0 + (neg ? np : 0), 8u * sd.n);
    sd.n = ob_exphist_downscale(c, sd.n, &sd.off, (unsigned)((int32_t)v[OB_SAMPLE_EXP_SCALE] - to));
    return sd;
}

/* a + b over the union of their index ranges, into out; how many. */
static uint32_t exp_side_add(const struct exp_side *a, const struct exp_side *b, double *out,
                             int32_t *off)
{
    if (!a->n || !b->n) {
        const struct exp_side *x = a->n ? a : b;
        memcpy(out, x->c, 8u * x->n);
        *off = x->off;
        return x->n;
    }
    int64_t lo = OB_MIN(a->off, b->off), hi = OB_MAX((int64_t)a->off + a->n, (int64_t)b->off + b->n);
    uint32_t n = (uint32_t)(hi - lo);
    memset(out, 0, 8u * n);
    for (uint32_t i = 0; i < a->n; i++)
        out[a->off - lo + i] += a->c[i];
    for (uint32_t i = 0; i < b->n; i++)
        out[b->off - lo + i] += b->c[i];
    *off = (int32_t)lo;
    return n;
}

/* The total of exponential histogram samples t (the series' newest, room
 * t_room) and x (a delta, room x_room), at the lower of their scales (the
 * collector's rule for deltas whose scale changed), into a new malloc'd
 * sample of `room` counts in dl->merged.  0, NEED_ROOM (dl->need: the
 * counts it has) or -ENOMEM. */
static int exp_add(const double *t, uint32_t t_room, const double *x, uint32_t x_room, uint32_t room,
                   struct delta *dl)
{
    int32_t to = (int32_t)OB_MIN(t[OB_SAMPLE_EXP_SCALE], x[OB_SAMPLE_EXP_SCALE]);
    double *tmp = malloc(8u * (2u * ((size_t)t_room + x_room) + ob_sample_width(OB_SHAPE_EXPHIST, room)));
    if (!tmp)
        return -ENOMEM;
    double *out = tmp + 2u * ((size_t)t_room + x_room);
    struct exp_side tp = exp_side_at(t, false, to, tmp), tn = exp_side_at(t, true, to, tmp + t_room);
    double *xc = tmp + 2u * (size_t)t_room;
    struct exp_side xp = exp_side_at(x, false, to, xc), xn = exp_side_at(x, true, to, xc + x_room);
    /* Ranges first: does the total fit? */
    int64_t np = !tp.n || !xp.n ? tp.n + xp.n
                                : OB_MAX((int64_t)tp.off + tp.n, (int64_t)xp.off + xp.n) - OB_MIN(tp.off, xp.off);
    int64_t nn = !tn.n || !xn.n ? tn.n + xn.n
                                : OB_MAX((int64_t)tn.off + tn.n, (int64_t)xn.off + xn.n) - OB_MIN(tn.off, xn.off);
    if (np + nn > room) {
        free(tmp);
        dl->need = (uint32_t)OB_MIN(np + nn, (int64_t)UINT32_MAX);
        return NEED_ROOM;
    }
    int32_t po, no;
    uint32_t pn = exp_side_add(&tp, &xp, out + OB_SAMPLE_EXP_BUCKET0, &po);
    uint32_t nnn = exp_side_add(&tn, &xn, out + OB_SAMPLE_EXP_BUCKET0 + pn, &no);
    memset(out + OB_SAMPLE_EXP_BUCKET0 + pn + nnn, 0, 8u * (room - pn - nnn));
    out[OB_SAMPLE_COUNT] = t[OB_SAMPLE_COUNT] + x[OB_SAMPLE_COUNT];
    out[OB_SAMPLE_SUM] = t[OB_SAMPLE_SUM] + x[OB_SAMPLE_SUM];
    out[OB_SAMPLE_EXP_ZERO_COUNT] = t[OB_SAMPLE_EXP_ZERO_COUNT] + x[OB_SAMPLE_EXP_ZERO_COUNT];
    out[OB_SAMPLE_EXP_ZERO_THRESHOLD] = OB_MAX(t[OB_SAMPLE_EXP_ZERO_THRESHOLD], x[OB_SAMPLE_EXP_ZERO_THRESHOLD]);
    out[OB_SAMPLE_EXP_SCALE] = to;
    out[OB_SAMPLE_EXP_POS_OFFSET] = po;
    out[OB_SAMPLE_EXP_POS_N] = pn;
    out[OB_SAMPLE_EXP_NEG_OFFSET] = no;
    out[OB_SAMPLE_EXP_NEG_N] = nnn;
    /* The sample goes where the scratch began: free(dl->merged) frees it all. */
    memmove(tmp, out, 8u * ob_sample_width(OB_SHAPE_EXPHIST, room));
    dl->merged = tmp;
    return 0;
}

static inline bool is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == OB_STALE_NAN_BITS;
}

/* Turns dl->values, a delta ending at ts, into the series' running total.
 * Returns 0 to store it, OB_OOO_RESEND for the last point added once more
 * (same start and end), OB_E_OUT_OF_ORDER for one that ends no later or
 * starts before the last one ended (adding it would count twice).  The
 * total starts over (*reset) after a gap over store.delta_reset_after and
 * at or after a stale marker.  *start: the start to remember.  Stripe lock
 * held (nothing else writes the ring). */
/* An exponential histogram delta that starts a total, padded from its room
 * to the series' (never less) into dl->merged. */
static int exp_pad(const double *x, uint32_t x_room, uint32_t room, struct delta *dl)
{
    uint32_t width = ob_sample_width(OB_SHAPE_EXPHIST, room);
    uint32_t keep = OB_MIN(width, ob_sample_width(OB_SHAPE_EXPHIST, x_room));
    double *v = malloc(8u * (size_t)width);
    if (!v)
        return -ENOMEM;
    memcpy(v, x, 8u * keep);
    memset(v + keep, 0, 8u * (width - keep));
    dl->merged = v;
    return 0;
}

static int delta_add(const struct ob_store *s, const struct ob_store_shape *d, const struct ob_ring *r,
                     struct delta *dl, int64_t ts, bool *reset, int64_t *start)
{
    uint32_t n = ob_ooo_count(r);
    if (n == 0) {
        *reset = true;
        *start = dl->start_ms;
        return 0;
    }
    const unsigned char *rec = ob_ooo_record(r, n - 1);
    int64_t end = ob_ooo_rec_ts(rec);
    *start = dl->start_ms ? dl->start_ms : end;
    if (ts == end && *start == d->delta_start_ms)
        return OB_OOO_RESEND;
    if (ts <= end || *start < end)
        return OB_E_OUT_OF_ORDER;
    const double *total = ob_ooo_rec_values(rec);
    *reset = *start - end > s->hdr->delta_reset_ms || is_stale(total[0]) || is_stale(dl->values[0]);
    if (d->kind == OB_SHAPE_EXPHIST)
        return *reset ? exp_pad(dl->values, dl->room, d->n, dl)
                      : exp_add(total, d->n, dl->values, dl->room, d->n, dl);
    if (!*reset)
        for (uint32_t i = 0; i < r->width; i++)
            dl->values[i] += total[i];
    return 0;
}

/* Inserts the sample (dl: a delta to add up) into a live series; stripe
 * lock held. */
/* The sample just stored in slot i, for remote write. */
static inline void fwd_record(const struct ob_store *s, const struct ob_series_ref *ref, uint32_t i,
                              int64_t ts_ms, const double *values)
{
    if (OB_LIKELY(!ref->fwd))
        return;
    const struct ob_store_slot *sl = &s->slots[i];
    const struct ob_store_shape *d = shape_of(s, sl->data_off);
    ob_fwd_batch_add(ref->fwd, i, sl->hash, ts_ms, values, ob_sample_width(d->kind, d->n), 0);
}

static int write_sample(struct ob_store *s, struct ob_store_slot *sl, const struct ob_series_ref *ref,
                        int64_t ts_ms, const double *values, struct delta *dl, int64_t now_ms,
                        unsigned *flags)
{
    struct ob_store_shape *d = payload(s, sl->data_off);
    if (OB_UNLIKELY(d->delta != (dl != NULL)))
        return OB_E_TEMPORALITY;
    struct ob_ring r = ring_of(s, sl, sl->data_off);
    int add = 0;
    bool reset = false;
    int64_t start = 0;
    if (OB_UNLIKELY(dl)) {
        add = delta_add(s, d, &r, dl, ts_ms, &reset, &start);
        if (add < 0)
            return add;
        values = dl->merged ? dl->merged : dl->values;
    }
    uint64_t q = seq_begin(sl);
    int rc = add == OB_OOO_RESEND ? OB_OOO_RESEND : ob_ooo_insert(&r, ts_ms, values, s->hdr->ooo_window_ms);
    if (OB_UNLIKELY(dl)) {
        if (rc == OB_OOO_STORED) {
            d->delta_start_ms = start;
            if (reset)
                d->created_ms = ref->created_ms; /* a new running total */
        }
    } else if (rc == OB_OOO_STORED && d->created_ms != ref->created_ms &&
               ob_ooo_rec_ts(ob_ooo_record(&r, ob_ooo_count(&r) - 1)) == ts_ms) {
        /* The newest sample's start time; a counter's stays the same from
         * one sample to the next, so the ring is read only when it changed. */
        d->created_ms = ref->created_ms;
    }
    if (rc >= 0) {
        if (rc == OB_OOO_RESEND)
            *flags |= OB_APPEND_RESEND;
        rc = 0;
        if (ref->n_exemplars)
            ex_write(s, shape_of(s, sl->data_off), ref);
        sl->last_ms = now_ms;
        if (ref->origin && ref->origin != sl->origin) {
            if (sl->origin)
                *flags |= OB_APPEND_COLLISION;
            sl->origin = ref->origin;
        }
    }
    seq_end(sl, q);
    if (rc == 0)
        fwd_record(s, ref, (uint32_t)(sl - s->slots), ts_ms, values);
    if (OB_UNLIKELY(dl && dl->merged)) {
        free(dl->merged);
        dl->merged = NULL;
    }
    return rc;
}

/* New series in a free slot; create lock held. */
static int create_series(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                         int64_t ts_ms, const double *values, struct delta *dl, int64_t now_ms,
                         uint32_t *out_slot, unsigned *flags)
{
    struct ob_store_state *st = s->st;
    struct ob_store_family *fam = &s->fams[ref->family];
    if (atomic_load_explicit(&fam->state, memory_order_relaxed) != OB_FAM_LIVE ||
        atomic_load_explicit(&fam->gen, memory_order_relaxed) != ref->family_gen)
        return OB_E_STALE_FAMILY; /* retired (or reused) since the caller resolved it */
    uint32_t i = st->slot_free;
    if (i == OB_STORE_NIL && st->slots_used >= s->max_series)
        return OB_E_STORE_FULL;
    uint64_t labels_off = labels_create(s, ref);
    uint64_t data_off = labels_off ? data_create(s, shape, dl != NULL) : 0;
    if (!data_off) {
        if (labels_off)
            heap_free_now(s, labels_off);
        return OB_E_STORE_FULL;
    }
    if (i != OB_STORE_NIL)
        st->slot_free = (uint32_t)s->slots[i].origin;
    else
        i = st->slots_used++;
    struct ob_store_shape *d = payload(s, data_off);
    if (ref->n_exemplars && !(d->exemplars_off = ex_create(s, d, NULL, ref)))
        *flags |= OB_APPEND_EXEMPLARS_FULL;
    if (dl)
        d->delta_start_ms = dl->start_ms; /* the first delta is the total */

    struct ob_store_slot *sl = &s->slots[i];
    uint64_t q = seq_begin(sl);
    sl->hash = ref->hash;
    sl->origin = ref->origin;
    sl->last_ms = now_ms;
    sl->labels_off = labels_off;
    sl->data_off = data_off;
    sl->family = ref->family;
    atomic_store_explicit(&sl->next, OB_STORE_NIL, memory_order_relaxed);
    atomic_store_explicit(&sl->ring, 0, memory_order_relaxed);
    struct ob_ring r = ring_of(s, sl, data_off);
    ob_ooo_insert(&r, ts_ms, values, 0);
    set_created(s, data_off, ref->created_ms);
    if (ref->n_exemplars)
        ex_write(s, d, ref);
    seq_end(sl, q);
    /* Live, then findable, then scannable. */
    atomic_store_explicit(&sl->state, OB_SLOT_LIVE, memory_order_release);
    index_insert(s, ref->hash, i);
    struct ob_store_family *f = fam;
    if (f->tail == OB_STORE_NIL)
        atomic_store_explicit(&f->head, i, memory_order_release);
    else
        atomic_store_explicit(&s->slots[f->tail].next, i, memory_order_release);
    f->tail = i;
    f->empty_ms = 0;
    atomic_fetch_add_explicit(&f->live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->series_live, 1, memory_order_relaxed);
    fwd_record(s, ref, i, ts_ms, values);
    *out_slot = i;
    return 0;
}

/* Moves an exponential histogram series into a data block with room for
 * shape->n bucket counts, keeping its samples (those with more buckets than
 * that are dropped: they are older than the point that needs less), its
 * created time, delta state and exemplars.  Create and stripe lock held. */
static int exp_resize(struct ob_store *s, struct ob_store_slot *sl, const struct ob_shape *shape,
                      int64_t now_ms)
{
    uint64_t old_off = sl->data_off;
    const struct ob_store_shape *old = shape_of(s, old_off);
    uint64_t off = data_create(s, shape, old->delta);
    uint32_t width = ob_sample_width(OB_SHAPE_EXPHIST, shape->n);
    double *v = off ? malloc(8u * (size_t)width) : NULL;
    if (!v) {
        if (off)
            heap_free_now(s, off);
        return OB_E_STORE_FULL;
    }
    struct ob_store_shape *d = payload(s, off);
    d->created_ms = old->created_ms;
    d->delta_start_ms = old->delta_start_ms;
    d->exemplars_off = old->exemplars_off; /* one entry either way */
    _Atomic uint32_t word = 0;
    struct ob_ring from = ring_of(s, sl, old_off);
    struct ob_ring to = {records_of(d), &word, s->cap, width};
    uint32_t room = shape->n, have_width = from.width;
    for (uint32_t i = 0; i < ob_ooo_count(&from); i++) {
        const unsigned char *rec = ob_ooo_record(&from, i);
        const double *x = ob_ooo_rec_values(rec);
        if (x[OB_SAMPLE_EXP_POS_N] + x[OB_SAMPLE_EXP_NEG_N] > room)
            continue;
        uint32_t keep = OB_MIN(width, have_width);
        memcpy(v, x, 8u * keep);
        memset(v + keep, 0, 8u * (width - keep));
        ob_ooo_insert(&to, ob_ooo_rec_ts(rec), v, INT64_MAX);
    }
    free(v);
    uint64_t q = seq_begin(sl);
    atomic_store_explicit(&sl->ring, atomic_load_explicit(&word, memory_order_relaxed),
                          memory_order_relaxed);
    sl->data_off = off;
    seq_end(sl, q);
    heap_retire(s, old_off, now_ms);
    return 0;
}

/* Create, reshape or relabel: create lock, then the stripe lock. */
static int append_slow(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                       int64_t ts_ms, const double *values, struct delta *dl, int64_t now_ms,
                       unsigned *flags)
{
    int rc = lock_create(s);
    if (rc)
        return rc;
    uint32_t i = index_find(s, ref);
    if (i == OB_STORE_NIL) {
        rc = create_series(s, ref, shape, ts_ms, values, dl, now_ms, &i, flags);
        if (rc == 0) {
            *flags |= OB_APPEND_NEW_SERIES;
            hint_fill(s, ref, i);
        }
        ob_lock_release(s->create_lock);
        return rc;
    }
    uint32_t stripe = (uint32_t)(ref->hash & s->stripe_mask);
    rc = lock_stripe(s, stripe);
    if (rc) {
        ob_lock_release(s->create_lock);
        return rc;
    }
    struct ob_store_slot *sl = &s->slots[i];
    const struct ob_store_shape *have = shape_of(s, sl->data_off);
    if (have->delta != (dl != NULL)) {
        rc = OB_E_TEMPORALITY;
    } else if (have->kind == OB_SHAPE_EXPHIST && shape->kind == OB_SHAPE_EXPHIST &&
               have->has_sum == shape_has_sum(shape) && !shape_takes(have, shape, dl != NULL)) {
        /* An exponential histogram that needs another room for its
         * buckets keeps its history (a running total's room only grows);
         * the sample goes in below. */
        struct ob_shape room = *shape;
        if (dl)
            room.n = OB_MAX(room.n, have->n);
        rc = exp_resize(s, sl, &room, now_ms);
    } else if (!shape_matches(have, shape)) {
        /* New bounds: the history goes; a delta series starts a new total. */
        uint64_t data_off = data_create(s, shape, dl != NULL);
        rc = OB_E_STORE_FULL;
        if (data_off) {
            uint64_t old = sl->data_off;
            struct ob_store_shape *d = payload(s, data_off);
            if (ref->n_exemplars && !(d->exemplars_off = ex_create(s, d, NULL, ref)))
                *flags |= OB_APPEND_EXEMPLARS_FULL;
            if (dl)
                d->delta_start_ms = dl->start_ms;
            uint64_t q = seq_begin(sl);
            atomic_store_explicit(&sl->ring, 0, memory_order_relaxed);
            sl->data_off = data_off;
            struct ob_ring r = ring_of(s, sl, data_off);
            ob_ooo_insert(&r, ts_ms, values, 0);
            set_created(s, data_off, ref->created_ms);
            if (ref->n_exemplars)
                ex_write(s, d, ref);
            sl->last_ms = now_ms;
            if (ref->origin)
                sl->origin = ref->origin;
            seq_end(sl, q);
            ex_retire(s, shape_of(s, old)->exemplars_off, now_ms);
            heap_retire(s, old, now_ms);
            fwd_record(s, ref, i, ts_ms, values);
            *flags |= OB_APPEND_RESHAPED;
            rc = 0;
        }
    } else {
        rc = 0;
    }
    if (rc == 0 && !labels_match(s, sl->labels_off, ref)) {
        uint64_t labels_off = labels_create(s, ref);
        if (labels_off) {
            uint64_t old = sl->labels_off;
            uint64_t q = seq_begin(sl);
            sl->labels_off = labels_off;
            seq_end(sl, q);
            heap_retire(s, old, now_ms);
        } else {
            rc = OB_E_STORE_FULL;
        }
    }
    if (rc == 0 && !(*flags & OB_APPEND_RESHAPED)) {
        if (ref->n_exemplars && !ex_fits(s, shape_of(s, sl->data_off), ref) && !ex_grow(s, sl, ref, now_ms))
            *flags |= OB_APPEND_EXEMPLARS_FULL;
        rc = write_sample(s, sl, ref, ts_ms, values, dl, now_ms, flags);
        if (rc == NEED_ROOM) {
            /* The running total of an exponential histogram grew past its
             * room: more room, then the same point again. */
            struct ob_shape room = {OB_SHAPE_EXPHIST, ob_exphist_room(dl->need), NULL,
                                    shape->has_sum};
            rc = room.n > OB_STORE_MAX_POINTS ? OB_E_STORE_FULL : exp_resize(s, sl, &room, now_ms);
            if (rc == 0)
                rc = write_sample(s, sl, ref, ts_ms, values, dl, now_ms, flags);
            if (rc == NEED_ROOM)
                rc = OB_E_STORE_FULL;
        }
    }
    if (rc == 0)
        hint_fill(s, ref, i);
    ob_lock_release(&s->stripes[stripe]);
    ob_lock_release(s->create_lock);
    return rc;
}

/* An append, or with dl an accumulation. */
static int append_at(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                     int64_t ts_ms, const double *values, struct delta *dl, int64_t now_ms,
                     unsigned *out_flags)
{
    unsigned flags = 0;
    int rc;
    if (OB_UNLIKELY(!s->owner))
        return -EROFS;
    if (OB_UNLIKELY(ref->family >= atomic_load_explicit(&s->st->n_families, memory_order_acquire) ||
                    !shape_valid(shape) || (!ref->key && ref->key_len) || (!ref->labels && ref->labels_len)))
        return -EINVAL;
    /* A family with live series is never retired, so for the paths that
     * find an existing series this check is enough; a new series checks
     * again under the create lock. */
    if (OB_UNLIKELY(atomic_load_explicit(&s->fams[ref->family].gen, memory_order_acquire) !=
                    ref->family_gen))
        return OB_E_STALE_FAMILY;

    uint32_t stripe = (uint32_t)(ref->hash & s->stripe_mask);
    if (ref->hint && ref->hint->slot_plus1 && !ref->labels) {
        /* The caller's hint: one slot, no index probe, no key compare. */
        rc = lock_stripe(s, stripe);
        if (OB_UNLIKELY(rc))
            return rc;
        uint32_t i = hint_slot(s, ref);
        if (OB_LIKELY(i != OB_STORE_NIL)) {
            struct ob_store_slot *sl = &s->slots[i];
            const struct ob_store_shape *d = shape_of(s, sl->data_off);
            if (OB_LIKELY(shape_takes(d, shape, dl != NULL) && (!ref->n_exemplars || ex_fits(s, d, ref)))) {
                rc = write_sample(s, sl, ref, ts_ms, values, dl, now_ms, &flags);
                ob_lock_release(&s->stripes[stripe]);
                if (OB_UNLIKELY(rc == NEED_ROOM))
                    goto slow;
                if (out_flags)
                    *out_flags = flags;
                return rc;
            }
        }
        ob_lock_release(&s->stripes[stripe]);
        ref->hint->slot_plus1 = 0;
    }
    uint32_t i = index_candidate(s, ref);
    if (OB_LIKELY(i != OB_STORE_NIL)) {
        rc = lock_stripe(s, stripe);
        if (OB_UNLIKELY(rc))
            return rc;
        struct ob_store_slot *sl = &s->slots[i];
        /* Re-verify: the slot cannot change identity while we hold its stripe. */
        if (OB_LIKELY(slot_is(s, i, ref) && shape_takes(shape_of(s, sl->data_off), shape, dl != NULL) &&
                      labels_match(s, sl->labels_off, ref) &&
                      (!ref->n_exemplars || ex_fits(s, shape_of(s, sl->data_off), ref)))) {
            rc = write_sample(s, sl, ref, ts_ms, values, dl, now_ms, &flags);
            hint_fill(s, ref, i);
            ob_lock_release(&s->stripes[stripe]);
            if (OB_UNLIKELY(rc == NEED_ROOM))
                goto slow;
            if (out_flags)
                *out_flags = flags;
            return rc;
        }
        ob_lock_release(&s->stripes[stripe]);
    }
slow:
    flags = 0;
    rc = append_slow(s, ref, shape, ts_ms, values, dl, now_ms, &flags);
    if (out_flags)
        *out_flags = flags;
    return rc;
}

int ob_store_append_at(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                       int64_t ts_ms, const double *values, int64_t now_ms, unsigned *out_flags)
{
    return append_at(s, ref, shape, ts_ms, values, NULL, now_ms, out_flags);
}

int ob_store_accumulate_at(struct ob_store *s, const struct ob_series_ref *ref,
                           const struct ob_shape *shape, int64_t start_ms, int64_t ts_ms,
                           double *values, int64_t now_ms, unsigned *out_flags)
{
    struct delta dl = {.start_ms = start_ms, .values = values, .room = shape->n};
    return append_at(s, ref, shape, ts_ms, values, &dl, now_ms, out_flags);
}

int ob_store_accumulate(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                        int64_t start_ms, int64_t ts_ms, double *values, unsigned *out_flags)
{
    return ob_store_accumulate_at(s, ref, shape, start_ms, ts_ms, values, ob_wall_ms_coarse(),
                                  out_flags);
}

int ob_store_append(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                    int64_t ts_ms, const double *values, unsigned *out_flags)
{
    return ob_store_append_at(s, ref, shape, ts_ms, values, ob_wall_ms_coarse(), out_flags);
}

/* ---- scan -------------------------------------------------------------------- */

/* A scan's copies: the newest sample's values, and the exemplar entries
 * (grown to the largest block met). */
struct scan_buf {
    double *values;
    unsigned char *ex;
    size_t ex_cap;
};

/* Copies the exemplar block at off of a series of shape d into the scan's
 * buffer and points sv at it; none when it is not a valid block (a torn
 * read: the seqlock check throws the copy away) or there is no memory. */
static void read_exemplars(const struct ob_store *s, const struct ob_store_shape *d, uint64_t off,
                           struct scan_buf *b, struct ob_series_view *sv)
{
    sv->n_exemplars = 0;
    if (!off || !ex_valid(s, d, off))
        return;
    const struct ob_store_exemplars *e = payload(s, off);
    uint32_t n = e->n, stride = e->stride;
    size_t bytes = (size_t)n * stride;
    if (bytes > b->ex_cap) {
        unsigned char *p = realloc(b->ex, bytes);
        if (!p)
            return;
        b->ex = p;
        b->ex_cap = bytes;
    }
    memcpy(b->ex, e + 1, bytes);
    sv->exemplars = b->ex;
    sv->n_exemplars = n;
    sv->exemplar_stride = stride;
}

/* One consistent copy of a live series' newest sample into sv (values, and
 * with OB_SCAN_EXEMPLARS its exemplars, into b).  Returns 1 when there is
 * something to show, 0 to skip it, -1 when the slot no longer belongs to
 * family f (reused: stop this family). */
static int read_series(const struct ob_store *s, const struct ob_store_slot *sl, uint32_t f, int64_t now_ms,
                       int64_t ttl, unsigned flags, struct scan_buf *b, struct ob_series_view *sv)
{
    double *scratch = b->values;
    for (int tries = 0; tries < 10000; tries++) {
        uint64_t q1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (q1 & 1) {
            if (tries > 100)
                sched_yield();
            continue;
        }
        uint32_t state = atomic_load_explicit(&sl->state, memory_order_relaxed);
        uint32_t family = sl->family;
        int64_t last = sl->last_ms;
        uint32_t w = atomic_load_explicit(&sl->ring, memory_order_relaxed);
        uint64_t data_off = sl->data_off, labels_off = sl->labels_off;
        if (data_off < s->heap_end && labels_off < s->heap_end) {
            PREFETCH(s->base + data_off);
            PREFETCH(s->base + labels_off);
        }
        int res = 0;
        if (family != f) {
            res = -1;
        } else if (state == OB_SLOT_LIVE && OB_OOO_N(w) > 0 && OB_OOO_N(w) <= s->cap &&
                   OB_OOO_HEAD(w) <= s->cap && now_ms - last <= ttl &&
                   block_ok(s, data_off, sizeof(struct ob_store_shape)) &&
                   block_ok(s, labels_off, sizeof(struct ob_store_labels))) {
            const struct ob_store_shape *d = shape_of(s, data_off);
            const struct ob_store_labels *lb = payload(s, labels_off);
            uint32_t n = d->n, width = ob_sample_width(d->kind, n);
            uint32_t ll = lb->labels_len & ~OB_LABELS_SHARED;
            uint64_t lneed = sizeof *lb + (uint64_t)lb->key_len + ((lb->labels_len & OB_LABELS_SHARED) ? 0 : ll);
            if (d->kind < OB_SHAPE__COUNT && n <= OB_STORE_MAX_POINTS &&
                block_ok(s, data_off, data_bytes(s, ob_shape_points(d->kind, n), width)) &&
                block_ok(s, labels_off, lneed)) {
                uint32_t rec = (OB_OOO_HEAD(w) + OB_OOO_N(w) - 1) % (s->cap + 1);
                const unsigned char *p = records_of(d) + (size_t)rec * ob_ooo_stride(width);
                sv->ts_ms = ob_ooo_rec_ts(p);
                memcpy(scratch, p + 8, 8u * (size_t)width);
                sv->labels = labels_text(lb, &sv->labels_len);
                sv->kind = (enum ob_shape_kind)d->kind;
                sv->n = n;
                sv->points = points_of(d);
                sv->has_sum = d->has_sum;
                sv->created_ms = d->created_ms;
                sv->values = scratch;
                sv->n_exemplars = 0;
                if (flags & OB_SCAN_EXEMPLARS)
                    read_exemplars(s, d, d->exemplars_off, b, sv);
                uint64_t first;
                memcpy(&first, scratch, sizeof first);
                res = sv->ts_ms != OB_OOO_TS_WRITING && first != OB_STALE_NAN_BITS;
            }
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == q1)
            return res;
    }
    return 0; /* a writer died mid-change; the next writer repairs it */
}

static void family_view(const struct ob_store *s, uint32_t f, struct ob_family_view *out)
{
    const struct ob_store_family *fam = &s->fams[f];
    const struct ob_store_text *name = text_at(s, fam->name_off);
    uint64_t help_off = atomic_load_explicit(&fam->help_off, memory_order_acquire);
    const struct ob_store_text *help = help_off ? text_at(s, help_off) : NULL;
    uint64_t unit_off = atomic_load_explicit(&fam->unit_off, memory_order_acquire);
    const struct ob_store_text *unit = unit_off ? text_at(s, unit_off) : NULL;
    *out = (struct ob_family_view){
        .id = f,
        .name = name->bytes,
        .name_len = name->len,
        .help = help ? help->bytes : "",
        .help_len = help ? help->len : 0,
        .unit = unit ? unit->bytes : "",
        .unit_len = unit ? unit->len : 0,
        .type = (enum ob_family_type)fam->type,
    };
}

int ob_store_scan(struct ob_store *s, int64_t now_ms, unsigned flags, ob_store_family_fn on_family,
                  ob_store_series_fn on_series, void *ctx)
{
    struct scan_buf b = {.values = malloc(8u * (OB_STORE_MAX_POINTS + OB_SAMPLE_EXP_BUCKET0))};
    if (!b.values)
        return -ENOMEM;
    int rc = 0;
    int64_t ttl = s->hdr->series_ttl_ms;
    uint32_t nf = atomic_load_explicit(&s->st->n_families, memory_order_acquire);
    for (uint32_t f = 0; f < nf && f < s->max_families && rc == 0; f++) {
        const struct ob_store_family *fam = &s->fams[f];
        if (atomic_load_explicit(&fam->live, memory_order_relaxed) == 0)
            continue;
        bool announced = false;
        uint32_t cur = atomic_load_explicit(&fam->head, memory_order_acquire);
        for (uint32_t steps = 0; cur < s->max_series && steps < s->max_series && rc == 0; steps++) {
            const struct ob_store_slot *sl = &s->slots[cur];
            uint32_t ahead = atomic_load_explicit(&sl->next, memory_order_relaxed);
            if (ahead < s->max_series)
                PREFETCH(&s->slots[ahead]);
            struct ob_series_view sv;
            int res = read_series(s, sl, f, now_ms, ttl, flags, &b, &sv);
            if (res < 0)
                break;
            if (res > 0) {
                if (!announced) {
                    /* Announce a family only once it has a series to show. */
                    struct ob_family_view fv;
                    family_view(s, f, &fv);
                    announced = true;
                    rc = on_family(ctx, &fv);
                    if (rc)
                        break;
                }
                rc = on_series(ctx, &sv);
            }
            cur = atomic_load_explicit(&sl->next, memory_order_acquire);
        }
    }
    free(b.values);
    free(b.ex);
    return rc;
}

int ob_store_series_at(const struct ob_store *s, uint32_t slot, uint64_t hash,
                       struct ob_series_desc *out)
{
    if (slot >= s->max_series)
        return -ENOENT;
    const struct ob_store_slot *sl = &s->slots[slot];
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t q1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (q1 & 1) {
            sched_yield();
            continue;
        }
        uint32_t state = atomic_load_explicit(&sl->state, memory_order_relaxed);
        uint32_t f = sl->family;
        uint64_t data_off = sl->data_off, labels_off = sl->labels_off;
        int rc = -ENOENT;
        if (sl->hash == hash && state != OB_SLOT_FREE && f < s->max_families &&
            block_ok(s, data_off, sizeof(struct ob_store_shape)) &&
            block_ok(s, labels_off, sizeof(struct ob_store_labels))) {
            const struct ob_store_shape *d = shape_of(s, data_off);
            const struct ob_store_labels *lb = payload(s, labels_off);
            *out = (struct ob_series_desc){
                .kind = (enum ob_shape_kind)d->kind,
                .n = d->n,
                .points = points_of(d),
                .has_sum = d->has_sum,
                .delta = d->delta,
                .created_ms = d->created_ms,
                .exemplars = d->exemplars_off != 0,
                .labels_off = labels_off,
                .data_off = data_off,
            };
            out->labels = labels_text(lb, &out->labels_len);
            rc = 0;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != q1)
            continue;
        if (rc == 0)
            family_view(s, f, &out->family); /* a family outlives its series' records */
        return rc;
    }
    return -EAGAIN;
}

int ob_store_series_exemplars(const struct ob_store *s, uint32_t slot, uint64_t hash,
                              unsigned char **buf, size_t *cap, struct ob_series_view *out)
{
    out->n_exemplars = 0;
    if (slot >= s->max_series)
        return -ENOENT;
    const struct ob_store_slot *sl = &s->slots[slot];
    struct scan_buf b = {.ex = *buf, .ex_cap = *cap};
    int rc = -EAGAIN;
    for (int tries = 0; tries < 1000 && rc == -EAGAIN; tries++) {
        uint64_t q1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (q1 & 1) {
            sched_yield();
            continue;
        }
        uint64_t data_off = sl->data_off;
        rc = -ENOENT;
        if (sl->hash == hash && atomic_load_explicit(&sl->state, memory_order_relaxed) != OB_SLOT_FREE &&
            block_ok(s, data_off, sizeof(struct ob_store_shape))) {
            const struct ob_store_shape *d = shape_of(s, data_off);
            read_exemplars(s, d, d->exemplars_off, &b, out);
            rc = 0;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != q1)
            rc = -EAGAIN;
    }
    *buf = b.ex;
    *cap = b.ex_cap;
    return rc;
}

/* ---- housekeeping ------------------------------------------------------------ */

void ob_store_set_reclaim_hold(struct ob_store *s, int64_t hold_ms)
{
    atomic_store_explicit(&s->hold_ms, hold_ms, memory_order_relaxed);
}

uint32_t ob_store_expire(struct ob_store *s, int64_t now_ms)
{
    return ob_store_expire_fwd(s, now_ms, NULL);
}

/* The staleness marker of the series in slot i, which expires at now_ms:
 * after its newest sample, which a clock ahead may have put later. */
static void fwd_stale(struct ob_store *s, uint32_t i, int64_t now_ms, struct ob_fwd_batch *fwd)
{
    struct ob_store_slot *sl = &s->slots[i];
    struct ob_ring r = ring_of(s, sl, sl->data_off);
    uint32_t n = ob_ooo_count(&r);
    int64_t ts = now_ms;
    if (n) {
        int64_t newest = ob_ooo_rec_ts(ob_ooo_record(&r, n - 1));
        if (newest >= ts)
            ts = newest + 1;
    }
    ob_fwd_batch_add(fwd, i, sl->hash, ts, NULL, 0, OB_FWD_STALE);
}

uint32_t ob_store_expire_fwd(struct ob_store *s, int64_t now_ms, struct ob_fwd_batch *fwd)
{
    if (!s->owner || lock_create(s) != 0)
        return 0;
    limbo_reclaim(s, now_ms);
    int64_t ttl = s->hdr->series_ttl_ms;
    uint32_t expired = 0;
    uint32_t nf = atomic_load_explicit(&s->st->n_families, memory_order_relaxed);
    for (uint32_t f = 0; f < nf; f++) {
        struct ob_store_family *fam = &s->fams[f];
        uint32_t prev = OB_STORE_NIL, cur = atomic_load_explicit(&fam->head, memory_order_relaxed);
        while (cur != OB_STORE_NIL) {
            struct ob_store_slot *sl = &s->slots[cur];
            uint32_t nxt = atomic_load_explicit(&sl->next, memory_order_relaxed);
            if (now_ms - sl->last_ms <= ttl) {
                prev = cur;
                cur = nxt;
                continue;
            }
            uint32_t stripe = (uint32_t)(sl->hash & s->stripe_mask);
            if (lock_stripe(s, stripe) != 0)
                break;
            bool gone = now_ms - sl->last_ms > ttl; /* an append may have raced us */
            if (gone) {
                if (fwd)
                    fwd_stale(s, cur, now_ms, fwd);
                uint64_t q = seq_begin(sl);
                atomic_store_explicit(&sl->state, OB_SLOT_LIMBO, memory_order_relaxed);
                sl->last_ms = now_ms; /* limbo since */
                seq_end(sl, q);
            }
            ob_lock_release(&s->stripes[stripe]);
            if (!gone) {
                prev = cur;
                cur = nxt;
                continue;
            }
            /* Unlink; sl->next stays so a reader standing here walks on. */
            if (prev == OB_STORE_NIL)
                atomic_store_explicit(&fam->head, nxt, memory_order_release);
            else
                atomic_store_explicit(&s->slots[prev].next, nxt, memory_order_release);
            if (fam->tail == cur)
                fam->tail = prev;
            atomic_fetch_sub_explicit(&fam->live, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&s->st->series_live, 1, memory_order_relaxed);
            index_remove(s, sl->hash, cur);
            /* Labels last: freed last, they are the first block of their
             * size handed out again, so the next series in this slot
             * usually gets them: the hard case for series hints, which the
             * store's tests build on purpose. */
            ex_retire(s, shape_of(s, sl->data_off)->exemplars_off, now_ms);
            heap_retire(s, sl->data_off, now_ms);
            heap_retire(s, sl->labels_off, now_ms);
            slot_retire(s, cur);
            expired++;
            cur = nxt;
        }
        if (atomic_load_explicit(&fam->live, memory_order_relaxed) == 0 && fam->empty_ms == 0)
            fam->empty_ms = now_ms;
    }
    /* Families without a series for series_ttl, and at least the grace (so
     * that their series' slots are out of limbo too), give their slot back. */
    int64_t wait = ttl > OB_STORE_GRACE_MS ? ttl : OB_STORE_GRACE_MS;
    for (uint32_t f = 0; f < nf; f++) {
        struct ob_store_family *fam = &s->fams[f];
        if (atomic_load_explicit(&fam->state, memory_order_relaxed) == OB_FAM_LIVE &&
            atomic_load_explicit(&fam->live, memory_order_relaxed) == 0 && fam->empty_ms &&
            now_ms - fam->empty_ms >= wait)
            fam_retire(s, f, now_ms);
    }
    if (s->st->index_tombstones > (s->index_mask + 1) / 4)
        index_rebuild(s);
    ob_lock_release(s->create_lock);
    return expired;
}

void ob_store_stats(struct ob_store *s, struct ob_store_stats *out)
{
    memset(out, 0, sizeof *out);
    out->map_bytes = s->map_size;
    out->heap_bytes = s->heap_end - s->heap_start;
    out->heap_used = atomic_load_explicit(&s->st->heap_used, memory_order_relaxed);
    out->series_live = atomic_load_explicit(&s->st->series_live, memory_order_relaxed);
    out->series_max = s->max_series;
    out->families = atomic_load_explicit(&s->st->families_live, memory_order_relaxed);
    out->families_max = s->max_families;
    out->repairs = atomic_load_explicit(&s->repairs, memory_order_relaxed);
    out->exemplar_bytes = atomic_load_explicit(&s->st->exemplar_used, memory_order_relaxed);
    out->exemplar_budget = s->hdr->exemplar_budget;
}

/* ---- test hooks ----------------------------------------------------------------- */

int ob_store_test_hold_lock(struct ob_store *s, int what, uint64_t hash)
{
    if (what == OB_TEST_HOLD_CREATE)
        return ob_lock_acquire(s->create_lock) < 0 ? OB_E_STORE_CORRUPT : 0;
    uint32_t stripe = (uint32_t)(hash & s->stripe_mask);
    if (ob_lock_acquire(&s->stripes[stripe]) < 0)
        return OB_E_STORE_CORRUPT;
    if (what != OB_TEST_HOLD_HALF_WRITE)
        return 0;
    for (uint32_t i = 0; i < s->st->slots_used; i++) {
        struct ob_store_slot *sl = &s->slots[i];
        if (sl->hash != hash || atomic_load(&sl->state) != OB_SLOT_LIVE)
            continue;
        struct ob_ring r = ring_of(s, sl, sl->data_off);
        uint32_t w = atomic_load(&sl->ring), head = OB_OOO_HEAD(w), n = OB_OOO_N(w);
        if (n == 0 || n >= s->cap)
            return -EINVAL;
        size_t stride = ob_ooo_stride(r.width);
        unsigned char *top = r.rec + (size_t)((head + n) % (s->cap + 1)) * stride;
        unsigned char *newest = r.rec + (size_t)((head + n - 1) % (s->cap + 1)) * stride;
        seq_begin(sl);
        memcpy(top, newest, stride);
        atomic_store(&sl->ring, OB_OOO_WORD(head, n + 1));
        *(int64_t *)(void *)newest = OB_OOO_TS_WRITING;
        return 0;
    }
    return -ENOENT;
}

/* ---- inspection ------------------------------------------------------------------- */

void ob_store_info(const struct ob_store *s, struct ob_store_info *out)
{
    *out = (struct ob_store_info){
        .hdr = s->hdr,
        .heap_start = s->heap_start,
        .heap_end = s->heap_end,
        .heap_bump = s->st->heap_bump,
        .slots_used = s->st->slots_used,
        .families_ever = atomic_load_explicit(&s->st->n_families, memory_order_acquire),
        .index_cap = (uint32_t)(s->index_mask + 1),
        .fam_index_cap = s->fam_mask + 1,
    };
}

struct checker {
    const struct ob_store *s;
    ob_store_problem_fn problem;
    void *ctx;
    uint64_t found;
    uint64_t *starts; /* heap block starts, one bit per unit */
};

static void flag(struct checker *c, const char *fmt, ...) OB_PRINTF(2, 3);

static void flag(struct checker *c, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->found++;
    c->problem(c->ctx, what);
}

/* Whether off is the start of a USED block of the walked heap. */
static bool used_block(const struct checker *c, uint64_t off)
{
    const struct ob_store *s = c->s;
    return off >= s->heap_start && off < s->st->heap_bump && !(off & (OB_STORE_UNIT - 1)) &&
           get_bit(c->starts, (off - s->heap_start) / OB_STORE_UNIT) &&
           (blk(s, off)->tag & ~OB_BLOCK_MARK) == OB_BLOCK_USED;
}

static void check_heap(struct checker *c)
{
    const struct ob_store *s = c->s;
    uint64_t bump = s->st->heap_bump;
    if (bump < s->heap_start || bump > s->heap_end) {
        flag(c, "heap: bump %llu outside the heap [%llu, %llu)", (unsigned long long)bump,
             (unsigned long long)s->heap_start, (unsigned long long)s->heap_end);
        return;
    }
    for (uint64_t off = s->heap_start; off < bump;) {
        uint64_t units = blk(s, off)->units;
        uint32_t tag = blk(s, off)->tag & ~OB_BLOCK_MARK;
        if (units < OB_STORE_MIN_BLOCK / OB_STORE_UNIT || units * OB_STORE_UNIT > bump - off) {
            flag(c, "heap: block at %llu has a size of %llu units: the walk stops there",
                 (unsigned long long)off, (unsigned long long)units);
            return;
        }
        if (tag != OB_BLOCK_FREE && tag != OB_BLOCK_USED && tag != OB_BLOCK_LIMBO)
            flag(c, "heap: block at %llu has tag %u", (unsigned long long)off, tag);
        set_bit(c->starts, (off - s->heap_start) / OB_STORE_UNIT);
        off += units * OB_STORE_UNIT;
    }
}

static void check_families(struct checker *c, uint32_t nf)
{
    const struct ob_store *s = c->s;
    uint32_t live = 0;
    for (uint32_t f = 0; f < nf; f++) {
        const struct ob_store_family *fam = &s->fams[f];
        uint32_t state = atomic_load_explicit(&fam->state, memory_order_acquire);
        if (state > OB_FAM_FREE) {
            flag(c, "family %u: state %u", f, state);
            continue;
        }
        if (state != OB_FAM_LIVE)
            continue;
        live++;
        if (!used_block(c, fam->name_off)) {
            flag(c, "family %u: its name is not a block in use", f);
            continue;
        }
        if (fam->type >= OB_FAMILY__COUNT)
            flag(c, "family %u (%.*s): type %u", f, (int)text_at(s, fam->name_off)->len,
                 text_at(s, fam->name_off)->bytes, fam->type);
        uint64_t h = atomic_load(&fam->help_off), u = atomic_load(&fam->unit_off);
        if ((h && !used_block(c, h)) || (u && !used_block(c, u)))
            flag(c, "family %u: help or unit is not a block in use", f);
    }
    uint32_t counted = atomic_load_explicit(&s->st->families_live, memory_order_relaxed);
    if (counted != live)
        flag(c, "families: %u live, the count says %u", live, counted);
}

/* A live slot's blocks, ring and shape; true when it is a series. */
static bool check_slot(struct checker *c, uint32_t i, uint32_t nf)
{
    const struct ob_store *s = c->s;
    const struct ob_store_slot *sl = &s->slots[i];
    uint32_t w = atomic_load_explicit(&sl->ring, memory_order_relaxed);
    if (sl->family >= nf || atomic_load(&s->fams[sl->family].state) != OB_FAM_LIVE) {
        flag(c, "series %u: family %u is not live", i, sl->family);
        return false;
    }
    if (!used_block(c, sl->labels_off) || !used_block(c, sl->data_off)) {
        flag(c, "series %u: labels or samples are not a block in use", i);
        return false;
    }
    const struct ob_store_shape *d = shape_of(s, sl->data_off);
    uint32_t width = ob_sample_width(d->kind, d->n);
    if (d->kind >= OB_SHAPE__COUNT || d->n > OB_STORE_MAX_POINTS ||
        !block_ok(s, sl->data_off, data_bytes(s, ob_shape_points(d->kind, d->n), width)))
        flag(c, "series %u: shape (kind %u, %u points) does not fit its block", i, d->kind, d->n);
    else if (OB_OOO_HEAD(w) > s->cap || OB_OOO_N(w) > s->cap)
        flag(c, "series %u: ring word %08x out of range", i, w);
    if (d->exemplars_off && (!used_block(c, d->exemplars_off) || !ex_valid(s, d, d->exemplars_off)))
        flag(c, "series %u: exemplar block is not one", i);
    return true;
}

static void check_series(struct checker *c, uint32_t nf)
{
    const struct ob_store *s = c->s;
    uint32_t used = s->st->slots_used, live = 0;
    if (used > s->max_series) {
        flag(c, "series: %u slots used of %u", used, s->max_series);
        return;
    }
    uint64_t *indexed = calloc(used / 64 + 1, 8);
    if (!indexed) {
        flag(c, "out of memory for the index check");
        return;
    }
    for (uint64_t k = 0; k <= s->index_mask; k++) {
        uint64_t e = atomic_load_explicit(&s->index[k], memory_order_relaxed);
        uint32_t lo = (uint32_t)e;
        if (!e || lo == OB_STORE_TOMBSTONE)
            continue;
        uint32_t i = lo - 1;
        if (i >= used || atomic_load(&s->slots[i].state) != OB_SLOT_LIVE ||
            (uint32_t)(s->slots[i].hash >> 32) != (uint32_t)(e >> 32))
            flag(c, "index entry %llu names slot %u, which is not that live series",
                 (unsigned long long)k, i);
        else
            set_bit(indexed, i);
    }
    for (uint32_t i = 0; i < used; i++) {
        uint32_t state = atomic_load_explicit(&s->slots[i].state, memory_order_acquire);
        if (state > OB_SLOT_LIMBO)
            flag(c, "series %u: state %u", i, state);
        if (state != OB_SLOT_LIVE)
            continue;
        live++;
        if (check_slot(c, i, nf) && !get_bit(indexed, i))
            flag(c, "series %u: live, but the index does not find it", i);
    }
    free(indexed);
    uint32_t counted = atomic_load_explicit(&s->st->series_live, memory_order_relaxed);
    if (counted != live)
        flag(c, "series: %u live, the count says %u", live, counted);
}

uint64_t ob_store_check(const struct ob_store *s, ob_store_problem_fn problem, void *ctx)
{
    struct checker c = {.s = s, .problem = problem, .ctx = ctx};
    uint64_t nunits = (s->heap_end - s->heap_start) / OB_STORE_UNIT;
    c.starts = calloc(nunits / 64 + 1, 8);
    if (!c.starts) {
        flag(&c, "out of memory for the heap check");
        return c.found;
    }
    uint32_t nf = atomic_load_explicit(&s->st->n_families, memory_order_acquire);
    if (nf > s->max_families) {
        flag(&c, "families: %u handed out of %u", nf, s->max_families);
        nf = s->max_families;
    }
    check_heap(&c);
    check_families(&c, nf);
    check_series(&c, nf);
    free(c.starts);
    return c.found;
}

long ob_store_series_samples(struct ob_store *s, const char *family, const char *labels,
                             ob_store_sample_fn fn, void *ctx)
{
    size_t flen = strlen(family), llen = strlen(labels);
    uint32_t f = fam_find(s, family, flen, XXH3_64bits(family, flen));
    if (f == OB_STORE_NIL)
        return -ENOENT;
    uint32_t cur = atomic_load_explicit(&s->fams[f].head, memory_order_acquire);
    for (uint32_t steps = 0; cur < s->max_series && steps < s->max_series; steps++) {
        const struct ob_store_slot *sl = &s->slots[cur];
        uint32_t text_len;
        const char *text = labels_text(payload(s, sl->labels_off), &text_len);
        if (text_len && text[0] == OB_LABELS_QUOTED) {
            text++;
            text_len--;
        }
        if (sl->family == f && text_len == llen && memcmp(text, labels, llen) == 0) {
            for (int tries = 0; tries < 1000; tries++) {
                uint64_t q = atomic_load_explicit(&sl->seq, memory_order_acquire);
                if (q & 1)
                    continue;
                struct ob_ring r = ring_of(s, (struct ob_store_slot *)(uintptr_t)sl, sl->data_off);
                uint32_t n = ob_ooo_count(&r);
                size_t stride = ob_ooo_stride(r.width);
                unsigned char *copy = malloc((size_t)n * stride + 1);
                if (!copy)
                    return -ENOMEM;
                for (uint32_t k = 0; k < n; k++)
                    memcpy(copy + k * stride, ob_ooo_record(&r, k), stride);
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != q) {
                    free(copy);
                    continue;
                }
                for (uint32_t k = 0; k < n; k++)
                    fn(ctx, ob_ooo_rec_ts(copy + k * stride), ob_ooo_rec_values(copy + k * stride),
                       r.width);
                free(copy);
                return n;
            }
            return -EAGAIN;
        }
        cur = atomic_load_explicit(&sl->next, memory_order_acquire);
    }
    return -ENOENT;
}
