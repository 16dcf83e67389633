/* ob_store_layout.h: the byte format of the shared-memory series store.
 *
 * Read-only tools include this file; ob_store.c implements it.  Any change to
 * a struct below (size, offset, meaning) bumps OB_STORE_LAYOUT_VERSION.
 * Nothing in the mapping is a pointer: uint32_t slot indexes, uint64_t byte
 * offsets from the start of the mapping.
 *
 *   offset              size                      contents
 *   ------------------  ------------------------  --------------------------------
 *   0                   256                       struct ob_store_hdr (fixed, checksummed)
 *   256                 page - 256                struct ob_store_state (counters, free lists,
 *                                                 limbo; changed under the create lock)
 *   page                64                        create lock (struct ob_store_lock)
 *   page + 64           64 * n_stripes            stripe locks, one per cache line
 *   locks_end (page)    128 * max_families        struct ob_store_family[max_families]
 *   fam_index (page)    4 * fam_index_cap         family index: family id + 1, 0 = empty
 *   slots (page)        64 * max_series           struct ob_store_slot[max_series]
 *   index (page)        8 * index_cap             series index: (hash >> 32) << 32 | slot + 1
 *   heap (page)         heap_bytes                blocks (struct ob_store_block + payload)
 *   map_size = heap + heap_bytes
 *
 * Every region starts on a page boundary; fam_index_cap is the power of two
 * >= 2 * max_families, index_cap the power of two >= 1.5 * max_series.
 *
 * Heap blocks are 16-byte aligned, at least 32 bytes, and walkable from the
 * heap start up to state.heap_bump: each starts with an 8-byte header (size
 * in 16-byte units, tag).  Payloads:
 *   name/help text   struct ob_store_text: len, bytes
 *   labels           struct ob_store_labels: key_len, labels_len (bit 31:
 *                    labels are the key bytes), key bytes, label bytes
 *   series data      struct ob_store_shape (kind, n, created time, exemplar
 *                    block), n doubles (bounds or quantiles),
 *                    then (cap + 1) sample records of int64 ts_ms + width
 *                    doubles (see "Samples" below; ob_ooo.h for the ring).
 *                    Only numbers: how they are written out (le="0.5") is
 *                    the exposition's business.
 *   exemplars        struct ob_store_exemplars (entries, stride), then n
 *                    entries of `stride` bytes: struct ob_store_exemplar
 *                    (time, value, label block length) and the label
 *                    block.  A counter has one entry, a histogram one per
 *                    bucket (bounds, then +Inf); gauges and summaries none.
 *                    Made on a series' first exemplar and replaced by a
 *                    wider one when a label block does not fit; changed
 *                    under the slot's seqlock like the samples.
 *   free             uint64 next free block of the same class
 *   limbo            a record: uint64 next limbo record, int64 freed_ms,
 *                    uint64 the retired block (a USED block left untouched
 *                    for readers), or 0: the record is the retired block
 *                    itself (no room was left for a record)
 *
 * Series index entry (uint64): 0 = empty; low 32 bits slot + 1, or
 * OB_STORE_TOMBSTONE for a deleted entry; high 32 bits the high hash bits.
 * Family index entry (uint32): 0 = empty, else family id + 1; a reclaimed
 * family's entry is deleted by shifting its probe run back (no tombstones).
 *
 * Families live like series slots: a LIVE family with no live series for
 * max(series_ttl, grace) is retired (state LIMBO, gen + 1, out of the index,
 * name and help blocks to heap limbo), and after the grace it is FREE and
 * its slot is handed out again.  gen only grows: whoever keeps a family id
 * keeps its gen too and must find both unchanged before writing
 * (ob_series_ref.family_gen).  Retire writes state before gen, and readers
 * load gen before state, so a reader that sees LIVE with a gen it keeps
 * knows the family was not retired before that gen was read.
 */
#ifndef OB_STORE_LAYOUT_H
#define OB_STORE_LAYOUT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define OB_STORE_MAGIC "OBSTORE1"
#define OB_STORE_LAYOUT_VERSION 6u     /* 2: families are reclaimed (state, gen, lists);
                                          3: no rendered point texts in series data;
                                          4: the series' created timestamp, the
                                             family's unit (families of 128 bytes);
                                          5: exemplars (shapes of 24 bytes);
                                          6: delta series (shapes of 32 bytes) */
#define OB_STORE_CACHE_LINE 64u
#define OB_STORE_HDR_SIZE 256u
#define OB_STORE_STRIPES 256u            /* power of two */
#define OB_STORE_MAX_SAMPLES 4096u       /* samples_per_series limit (ring word has 16 bits) */
#define OB_STORE_MAX_POINTS 4096u        /* bounds / quantiles per series */
#define OB_STORE_NIL UINT32_MAX          /* no slot */
#define OB_STORE_TOMBSTONE UINT32_MAX    /* index entry of a deleted series */
#define OB_STORE_UNIT 16u                /* heap granularity */
#define OB_STORE_MIN_BLOCK 32u           /* room for a limbo link and time */
#define OB_STORE_CLASSES 280u            /* heap size classes, see ob_store.c */
#define OB_STORE_GRACE_MS 30000          /* limbo time before freed memory is reused */

/* ---- values stored in the mapping ---------------------------------------
 *
 * These numbers are written into the mapping (family.type, shape.kind), so
 * they are part of the format, not of the API: never renumber; a new value
 * is added at the end, before the count, which layout_sig() folds, so that
 * a build that knows more kinds refuses a store made by one that knew fewer
 * (and the other way round) instead of misreading it. */
enum ob_family_type {
    OB_FAMILY_UNKNOWN = 0,
    OB_FAMILY_GAUGE = 1,
    OB_FAMILY_COUNTER = 2,
    OB_FAMILY_HISTOGRAM = 3,
    OB_FAMILY_SUMMARY = 4,
    OB_FAMILY__COUNT
};

enum ob_shape_kind {
    OB_SHAPE_SCALAR = 0,
    OB_SHAPE_HISTOGRAM = 1,
    OB_SHAPE_SUMMARY = 2,
    OB_SHAPE_EXPHIST = 3, /* OTLP exponential histogram (a native histogram) */
    OB_SHAPE__COUNT
};

/* ---- samples ---------------------------------------------------------------
 *
 * One sample of a series is `width` doubles, by the series' shape (kind and
 * n, the number of bounds or quantiles; for an exponential histogram the
 * room for bucket counts, and no bounds are stored):
 *
 *   kind        width   v[0]    v[1]   v[2 .. 2+n-1]                    v[2+n]
 *   scalar      1       value
 *   histogram   n + 3   count   sum    cumulative count <= bound i      count (+Inf)
 *   summary     n + 2   count   sum    value at quantile i
 *   exphist     n + 9   count   sum    v[2] zero count, v[3] zero threshold,
 *                                      v[4] scale (-4 .. 8), v[5] positive offset,
 *                                      v[6] positive buckets p, v[7] negative offset,
 *                                      v[8] negative buckets q, v[9 .. 9+p) positive
 *                                      counts, then q negative counts, then zeros
 *                                      (OTLP indexes: bucket offset + i covers
 *                                      (base^(offset+i), base^(offset+i+1)])
 *
 * A histogram without a sum (OTLP leaves it out when it would be
 * meaningless) is stored with has_sum 0 and v[1] = 0.  A sample whose v[0]
 * has the bits OB_STALE_NAN_BITS (ob_store.h) marks the series as ended.
 * Ingest writes samples only through ob_sample_histogram() and the
 * indexes below, the exposition reads them the same way: this table is the
 * one description of the layout. */
#define OB_SAMPLE_VALUE 0  /* scalar */
#define OB_SAMPLE_COUNT 0
#define OB_SAMPLE_SUM 1
#define OB_SAMPLE_POINT0 2 /* first bucket or quantile */
#define OB_SAMPLE_EXP_ZERO_COUNT 2
#define OB_SAMPLE_EXP_ZERO_THRESHOLD 3
#define OB_SAMPLE_EXP_SCALE 4
#define OB_SAMPLE_EXP_POS_OFFSET 5
#define OB_SAMPLE_EXP_POS_N 6
#define OB_SAMPLE_EXP_NEG_OFFSET 7
#define OB_SAMPLE_EXP_NEG_N 8
#define OB_SAMPLE_EXP_BUCKET0 9

static inline uint32_t ob_sample_width(uint32_t kind, uint32_t n)
{
    switch (kind) {
    case OB_SHAPE_SCALAR:
        return 1;
    case OB_SHAPE_HISTOGRAM:
        return n + 3;
    case OB_SHAPE_EXPHIST:
        return n + OB_SAMPLE_EXP_BUCKET0;
    default:
        return n + 2;
    }
}

/* The room for counts an exponential histogram series gets for `need`
 * counts: a multiple of 16, so that one that grows a bucket at a time moves
 * to a bigger data block every 16 buckets only.  Ingest asks for it, and the
 * store when a running total outgrows its series. */
static inline uint32_t ob_exphist_room(uint32_t need)
{
    return need <= 16 ? 16 : (need + 15) / 16 * 16;
}

/* Bounds or quantiles a shape stores (an exponential histogram's n is room). */
static inline uint32_t ob_shape_points(uint32_t kind, uint32_t n)
{
    return kind == OB_SHAPE_EXPHIST || kind == OB_SHAPE_SCALAR ? 0 : n;
}

/* Fills a histogram sample from its count, sum and the counts of the
 * buckets of its n bounds (counts[0 .. n-1], not cumulative; +Inf takes
 * the total count, as Prometheus' OTLP translation does). */
static inline void ob_sample_histogram(double *v, uint32_t n, uint64_t count, double sum,
                                       const uint64_t *counts)
{
    v[OB_SAMPLE_COUNT] = (double)count;
    v[OB_SAMPLE_SUM] = sum;
    uint64_t cum = 0;
    for (uint32_t b = 0; b < n; b++) {
        cum += counts[b];
        v[OB_SAMPLE_POINT0 + b] = (double)cum;
    }
    v[OB_SAMPLE_POINT0 + n] = (double)count;
}

/* ---- regions -------------------------------------------------------------- */

/* Page 0: fixed header.  Fixed-width fields only; header_cksum is XXH3 over
 * the bytes before it.  The owner rewrites it (and the checksum) only at
 * attach and close. */
struct ob_store_hdr {
    char magic[8];              /* OB_STORE_MAGIC, written last at creation */
    uint32_t layout_version;    /* OB_STORE_LAYOUT_VERSION */
    uint32_t header_size;       /* OB_STORE_HDR_SIZE */
    uint64_t layout_sig;        /* fold of struct sizes, mutex size, cache line, endianness */
    uint64_t page_size;
    uint64_t map_size;
    uint32_t max_series;
    uint32_t max_families;
    uint32_t samples_per_series;
    uint32_t n_stripes;
    uint64_t heap_bytes;
    int64_t ooo_window_ms;      /* runtime settings: updated at each attach */
    int64_t series_ttl_ms;
    int64_t created_ns;         /* CLOCK_REALTIME */
    uint64_t generation;        /* writable attaches so far */
    uint32_t clean_shutdown;    /* 1 after ob_store_close, 0 while open */
    uint32_t reserved0;
    uint64_t exemplar_budget;   /* runtime setting: heap bytes exemplar blocks may take */
    int64_t delta_reset_ms;     /* runtime setting: a delta gap this long restarts the total */
    uint64_t reserved[16];
    uint64_t header_cksum;
};

/* Mutable bookkeeping; written under the create lock, read with atomics. */
struct ob_store_state {
    _Atomic uint32_t n_families;     /* family slots ever handed out (bump); published
                                        after the family is filled */
    uint32_t slots_used;             /* slots ever handed out (bump) */
    _Atomic uint32_t series_live;
    uint32_t index_tombstones;
    uint32_t slot_free;              /* free slot list head (link: slot.origin) */
    uint32_t slot_limbo_head;        /* FIFO of expired slots (link: origin, time: last_ms) */
    uint32_t slot_limbo_tail;
    uint32_t reserved0;
    uint64_t heap_bump;              /* heap offset of the first never-used byte */
    _Atomic uint64_t heap_used;      /* bytes in USED and LIMBO blocks */
    uint64_t limbo_head;             /* FIFO of freed blocks (map offsets), 0 = none */
    uint64_t limbo_tail;
    _Atomic uint64_t repairs;        /* repairs since creation */
    uint32_t fam_free;               /* free family list head (link: family.link) */
    uint32_t fam_limbo_head;         /* FIFO of retired families (time: family.empty_ms) */
    uint32_t fam_limbo_tail;
    _Atomic uint32_t families_live;  /* LIVE families */
    _Atomic uint64_t exemplar_used;  /* bytes of USED exemplar blocks (the budget's use) */
    uint64_t reserved[5];
    uint64_t free_list[OB_STORE_CLASSES]; /* per size class, map offsets, 0 = none */
};

/* A robust process-shared mutex on its own cache line. */
struct ob_store_lock {
    pthread_mutex_t mutex;
    char pad[OB_STORE_CACHE_LINE - sizeof(pthread_mutex_t)];
};

struct ob_store_family {
    uint64_t name_off;               /* struct ob_store_text; immutable */
    _Atomic uint64_t help_off;       /* struct ob_store_text; replaced under the create lock */
    uint64_t name_hash;              /* XXH3 of the name */
    uint32_t type;                   /* enum ob_family_type (above) */
    _Atomic uint32_t head;           /* first series slot (creation order) or OB_STORE_NIL */
    uint32_t tail;                   /* last series slot (writers only) */
    _Atomic uint32_t live;           /* linked series */
    _Atomic uint32_t state;          /* enum ob_store_family_state */
    _Atomic uint32_t gen;            /* + 1 at every retire; never goes back */
    int64_t empty_ms;                /* LIVE: since when live == 0 (0 = has series);
                                        LIMBO: retired at */
    uint32_t link;                   /* LIMBO/FREE list link, or OB_STORE_NIL */
    uint32_t reserved0;
    _Atomic uint64_t unit_off;       /* struct ob_store_text, the UNIT metadata (OpenMetrics,
                                        protobuf); replaced under the create lock; 0 = none */
    uint64_t reserved[7];            /* 0; pads to two cache lines */
};

enum ob_store_family_state { OB_FAM_LIVE = 0, OB_FAM_LIMBO = 1, OB_FAM_FREE = 2 };

enum ob_store_slot_state { OB_SLOT_FREE = 0, OB_SLOT_LIVE = 1, OB_SLOT_LIMBO = 2 };

/* One series.  seq is a seqlock: odd while a writer changes the slot or its
 * ring; it only grows, also across slot reuse.  ring packs the sample ring
 * position (head << 16 | n) and is published after the samples it covers. */
struct ob_store_slot {
    _Atomic uint64_t seq;
    uint64_t hash;                   /* caller's hash over family + key */
    uint64_t origin;                 /* last OTLP origin; free/limbo: next slot link */
    int64_t last_ms;                 /* last append (wall clock ms); limbo: time freed */
    uint64_t labels_off;             /* struct ob_store_labels */
    uint64_t data_off;               /* struct ob_store_shape + points + text + ring */
    uint32_t family;
    _Atomic uint32_t next;           /* next series of the family or OB_STORE_NIL */
    _Atomic uint32_t ring;           /* head << 16 | n (see ob_ooo.h) */
    _Atomic uint32_t state;          /* enum ob_store_slot_state */
};

enum ob_store_block_tag { OB_BLOCK_FREE = 1, OB_BLOCK_USED = 2, OB_BLOCK_LIMBO = 3 };
#define OB_BLOCK_MARK 0x80000000u     /* repair: referenced */

struct ob_store_block {
    uint32_t units;                  /* block size / OB_STORE_UNIT, header included */
    uint32_t tag;                    /* enum ob_store_block_tag (| OB_BLOCK_MARK in repair) */
};

struct ob_store_text {
    uint32_t len;
    char bytes[];
};

#define OB_LABELS_SHARED 0x80000000u  /* labels_len flag: labels == key */
struct ob_store_labels {
    uint32_t key_len;
    uint32_t labels_len;
    char bytes[];
};

struct ob_store_shape {
    uint8_t kind;                    /* enum ob_shape_kind (above) */
    uint8_t has_sum;
    uint16_t n;                      /* bounds / quantiles */
    uint8_t delta;                   /* 1: samples are running totals of delta points */
    uint8_t reserved0[3];            /* 0; keeps the points 8-aligned */
    int64_t created_ms;              /* start time of the newest sample's counting
                                        (OTLP start_time_unix_nano); 0 = unknown.
                                        Written under the slot's seqlock */
    uint64_t exemplars_off;          /* struct ob_store_exemplars, 0 = none yet.
                                        Written under the slot's seqlock */
    int64_t delta_start_ms;          /* delta: start time of the last point added
                                        (its end is the newest sample's time) */
};

struct ob_store_exemplars {
    uint32_t n;                      /* entries: 1 (counter), bounds + 1 (histogram) */
    uint32_t stride;                 /* bytes per entry, a multiple of 8 */
};

#define OB_EXEMPLAR_EMPTY UINT32_MAX /* labels_len of an entry that has none yet */
struct ob_store_exemplar {
    int64_t ts_ms;                   /* the exemplar's time */
    double value;
    uint32_t labels_len;             /* of the label block (ob_labels.h); OB_EXEMPLAR_EMPTY */
    uint32_t reserved0;
    char labels[];                   /* stride - 24 bytes of room */
};

_Static_assert(sizeof(struct ob_store_hdr) == OB_STORE_HDR_SIZE, "header size");
_Static_assert(offsetof(struct ob_store_hdr, layout_version) == 8, "hdr layout_version");
_Static_assert(offsetof(struct ob_store_hdr, header_size) == 12, "hdr header_size");
_Static_assert(offsetof(struct ob_store_hdr, layout_sig) == 16, "hdr layout_sig");
_Static_assert(offsetof(struct ob_store_hdr, page_size) == 24, "hdr page_size");
_Static_assert(offsetof(struct ob_store_hdr, map_size) == 32, "hdr map_size");
_Static_assert(offsetof(struct ob_store_hdr, max_series) == 40, "hdr max_series");
_Static_assert(offsetof(struct ob_store_hdr, max_families) == 44, "hdr max_families");
_Static_assert(offsetof(struct ob_store_hdr, samples_per_series) == 48, "hdr samples");
_Static_assert(offsetof(struct ob_store_hdr, n_stripes) == 52, "hdr n_stripes");
_Static_assert(offsetof(struct ob_store_hdr, heap_bytes) == 56, "hdr heap_bytes");
_Static_assert(offsetof(struct ob_store_hdr, ooo_window_ms) == 64, "hdr ooo_window_ms");
_Static_assert(offsetof(struct ob_store_hdr, series_ttl_ms) == 72, "hdr series_ttl_ms");
_Static_assert(offsetof(struct ob_store_hdr, created_ns) == 80, "hdr created_ns");
_Static_assert(offsetof(struct ob_store_hdr, generation) == 88, "hdr generation");
_Static_assert(offsetof(struct ob_store_hdr, clean_shutdown) == 96, "hdr clean_shutdown");
_Static_assert(offsetof(struct ob_store_hdr, exemplar_budget) == 104, "hdr exemplar_budget");
_Static_assert(offsetof(struct ob_store_hdr, delta_reset_ms) == 112, "hdr delta_reset_ms");
_Static_assert(offsetof(struct ob_store_hdr, reserved) == 120, "hdr reserved");
_Static_assert(offsetof(struct ob_store_hdr, header_cksum) == 248, "hdr cksum");

_Static_assert(offsetof(struct ob_store_state, heap_bump) == 32, "state heap_bump");
_Static_assert(offsetof(struct ob_store_state, repairs) == 64, "state repairs");
_Static_assert(offsetof(struct ob_store_state, fam_free) == 72, "state fam_free");
_Static_assert(offsetof(struct ob_store_state, families_live) == 84, "state families_live");
_Static_assert(offsetof(struct ob_store_state, exemplar_used) == 88, "state exemplar_used");
_Static_assert(offsetof(struct ob_store_state, free_list) == 136, "state free_list");
_Static_assert(sizeof(struct ob_store_state) == 136 + 8 * OB_STORE_CLASSES, "state size");
_Static_assert(OB_STORE_HDR_SIZE + sizeof(struct ob_store_state) <= 4096, "page 0 overflow");

_Static_assert(sizeof(struct ob_store_lock) == OB_STORE_CACHE_LINE, "lock padding");

_Static_assert(sizeof(struct ob_store_family) == 128, "family size");
_Static_assert(offsetof(struct ob_store_family, unit_off) == 64, "family unit_off");
_Static_assert(offsetof(struct ob_store_family, help_off) == 8, "family help_off");
_Static_assert(offsetof(struct ob_store_family, name_hash) == 16, "family name_hash");
_Static_assert(offsetof(struct ob_store_family, type) == 24, "family type");
_Static_assert(offsetof(struct ob_store_family, head) == 28, "family head");
_Static_assert(offsetof(struct ob_store_family, tail) == 32, "family tail");
_Static_assert(offsetof(struct ob_store_family, live) == 36, "family live");
_Static_assert(offsetof(struct ob_store_family, state) == 40, "family state");
_Static_assert(offsetof(struct ob_store_family, gen) == 44, "family gen");
_Static_assert(offsetof(struct ob_store_family, empty_ms) == 48, "family empty_ms");
_Static_assert(offsetof(struct ob_store_family, link) == 56, "family link");

_Static_assert(sizeof(struct ob_store_slot) == 64, "slot size");
_Static_assert(offsetof(struct ob_store_slot, hash) == 8, "slot hash");
_Static_assert(offsetof(struct ob_store_slot, origin) == 16, "slot origin");
_Static_assert(offsetof(struct ob_store_slot, last_ms) == 24, "slot last_ms");
_Static_assert(offsetof(struct ob_store_slot, labels_off) == 32, "slot labels_off");
_Static_assert(offsetof(struct ob_store_slot, data_off) == 40, "slot data_off");
_Static_assert(offsetof(struct ob_store_slot, family) == 48, "slot family");
_Static_assert(offsetof(struct ob_store_slot, next) == 52, "slot next");
_Static_assert(offsetof(struct ob_store_slot, ring) == 56, "slot ring");
_Static_assert(offsetof(struct ob_store_slot, state) == 60, "slot state");

_Static_assert(sizeof(struct ob_store_block) == 8, "block header");
_Static_assert(sizeof(struct ob_store_text) == 4, "text header");
_Static_assert(sizeof(struct ob_store_labels) == 8, "labels header");
_Static_assert(sizeof(struct ob_store_shape) == 32, "shape header");
_Static_assert(offsetof(struct ob_store_shape, delta) == 4, "shape delta");
_Static_assert(offsetof(struct ob_store_shape, delta_start_ms) == 24, "shape delta_start_ms");
_Static_assert(offsetof(struct ob_store_shape, exemplars_off) == 16, "shape exemplars_off");
_Static_assert(sizeof(struct ob_store_exemplars) == 8, "exemplars header");
_Static_assert(sizeof(struct ob_store_exemplar) == 24, "exemplar entry header");
_Static_assert(offsetof(struct ob_store_shape, created_ms) == 8, "shape created_ms");
_Static_assert(offsetof(struct ob_store_shape, n) == 2, "shape n");

/* Readers rely on these being plain loads and stores. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

#endif
