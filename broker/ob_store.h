/* ob_store.h: the shared-memory series store.
 *
 * One mapping (POSIX shm by default, or a file for persistence) holds every
 * metric family and series.  Nothing in it is a pointer.  One broker process
 * writes (many threads); any number of processes may read lock-free.
 *
 * A series is one metric family + one label set.  Its samples have a fixed
 * width chosen by its shape (scalar; histogram with n bounds; summary with n
 * quantiles): the layout of a sample is in ob_store_layout.h ("samples"),
 * with the values of the kinds and types the mapping stores.  A histogram
 * or summary point is stored and read as one unit.
 *
 * Each series keeps its last samples_per_series samples ordered by timestamp.
 * Append rules (out-of-order, duplicates) are in ob_store_append().
 */
#ifndef OB_STORE_H
#define OB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"
#include "ob_store_layout.h"

struct ob_store;
struct ob_fwd_batch;

struct ob_store_opts {
    const char *path;            /* "/name" = POSIX shm; otherwise a file path */
    uint32_t max_series;         /* series slots */
    uint32_t max_families;       /* family slots */
    uint32_t samples_per_series; /* samples kept per series (>= 1) */
    uint64_t heap_bytes;         /* label, shape and sample memory; 0 = derived */
    int64_t ooo_window_ms;       /* out-of-order window */
    int64_t series_ttl_ms;       /* series not updated for this long expire */
    uint64_t exemplar_bytes;     /* heap bytes exemplars may take (part of heap_bytes;
                                    a derived heap adds them); 0 = 128 per series */
    int64_t delta_reset_ms;      /* a gap this long between delta points restarts the
                                    running total; 0 = series_ttl_ms */
    bool recreate;               /* replace an incompatible segment instead of refusing */
};

/* Creates the segment or attaches to an existing one with the same layout.
 * An existing segment with another magic/version/layout/size is refused with
 * its own OB_E_STORE_* code and a message in err naming both values, unless
 * opts->recreate.  After an unclean shutdown (kill -9) the store is checked
 * and repaired before it is used; nothing published is lost. */
int ob_store_open(const struct ob_store_opts *opts, struct ob_store **out, char err[OB_ERR_LEN]);
/* Maps an existing store read-only (tools, tests).  Only scans work. */
int ob_store_open_readonly(const char *path, struct ob_store **out, char err[OB_ERR_LEN]);
/* Unmaps; marks a clean shutdown when the caller owns the store.  NULL ok. */
void ob_store_close(struct ob_store *s);
/* Removes the segment or file at path (tests). */
int ob_store_unlink(const char *path);

/* ---- families ----------------------------------------------------------- */

/* enum ob_family_type: in ob_store_layout.h (its values are stored). */

/* Gets or creates the family `name`.  Returns OB_E_TYPE_CONFLICT when it
 * exists with another type, OB_E_STORE_FULL when no slot is left.  The help
 * text of an existing family is replaced when it differs (latest wins).
 *
 * Families are reclaimed: one without a live series for series_ttl (and at
 * least the 30 s grace) is retired by ob_store_expire() and its slot, after
 * the grace, may come back under another name.  A family id is therefore
 * valid only with its generation, *out_gen (may be NULL): keep both, check
 * ob_store_family_valid() before trusting a kept id, and put the gen in
 * ob_series_ref.family_gen; an append with a stale one is refused with
 * OB_E_STALE_FAMILY, and the caller resolves the name again.  A family that
 * comes back gets the HELP and type of its new points. */
int ob_store_family(struct ob_store *s, const char *name, size_t name_len,
                    enum ob_family_type type, const char *help, size_t help_len,
                    uint32_t *out_family, uint32_t *out_gen);
/* Sets the UNIT metadata of family id (generation gen; empty: none).  The
 * latest wins, as for help.  0, OB_E_STALE_FAMILY, OB_E_STORE_FULL. */
int ob_store_family_unit(struct ob_store *s, uint32_t id, uint32_t gen, const char *unit,
                         size_t len);

/* Live series of the live family `name`; 0 when there is none. */
uint32_t ob_store_family_live(const struct ob_store *s, const char *name, size_t len);

/* Whether family id still has generation gen (not retired since). */
bool ob_store_family_valid(const struct ob_store *s, uint32_t id, uint32_t gen);

/* ---- series and samples -------------------------------------------------- */

/* enum ob_shape_kind: in ob_store_layout.h (its values are stored). */
struct ob_shape {
    enum ob_shape_kind kind;
    uint32_t n;             /* histogram: bounds; summary: quantiles; scalar: 0 */
    const double *points;   /* the n bounds or quantiles, ascending */
    bool has_sum;           /* histogram only: no _sum series when false */
};

/* Prometheus' staleness marker.  A series whose newest sample starts with
 * this NaN (OTLP flag NoRecordedValue) has ended: scans leave it out. */
#define OB_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

/* Number of doubles in one sample of this shape. */
static inline uint32_t ob_shape_width(const struct ob_shape *sh)
{
    return ob_sample_width(sh->kind, sh->n);
}

/* Where a series was found last time, kept by the caller across appends of
 * the same series (the ingest's series cache).  With a valid hint an append
 * goes straight to the slot: no index probe, no key compare.  The store
 * fills it on every successful append and ignores it when anything it
 * vouches for changed; a zeroed hint is "none". */
struct ob_series_hint {
    uint64_t epoch;      /* store's slot-recycle count when the hint was taken */
    uint64_t labels_off; /* the series' label block then */
    uint64_t data_off;   /* its samples then: only prefetched, never trusted */
    uint32_t slot_plus1; /* 0 = no hint */
    uint32_t exemplars_unit; /* its exemplar block's offset / 16 (0 = none): only prefetched */
};

/* An exemplar of a point, for the entry `index` of its series: 0 for a
 * counter; a histogram's bucket (bound index, n = +Inf).  labels is a label
 * block (ob_labels.h) without braces. */
struct ob_exemplar {
    uint32_t index;
    uint32_t labels_len;
    const char *labels;
    int64_t ts_ms;
    double value;
};

/* Identity and text of a series.  `key` identifies it (with the family and
 * `hash`, which the caller computes over family id and key).  `labels` is the
 * label block (ob_labels.h) without braces, e.g.  job="calc",operation="add"
 * (already escaped); NULL means labels == key.  A series whose key matches but
 * whose labels differ gets the new labels (target_info: one series per
 * job/instance, latest resource wins). */
struct ob_series_ref {
    uint32_t family;
    uint32_t family_gen; /* the family's generation when its id was resolved */
    uint64_t hash;
    const char *key;
    uint32_t key_len;
    const char *labels;
    uint32_t labels_len;
    uint64_t origin; /* hash of the OTLP identity that produced this point; 0 = none */
    int64_t created_ms; /* the point's start time (ms; 0 = unknown): the series
                           keeps its newest sample's */
    const struct ob_exemplar *exemplars; /* the point's, for counters and histograms */
    uint32_t n_exemplars;
    struct ob_series_hint *hint; /* in/out, NULL = none; used only when labels == NULL */
    struct ob_fwd_batch *fwd; /* NULL, or the stored sample is also added here as a forward
                                 log record (ob_fwdlog.h): appended, kept or not, or resent */
};

enum ob_append_flags {
    OB_APPEND_NEW_SERIES = 1u << 0, /* a series was created */
    OB_APPEND_COLLISION = 1u << 1,  /* origin differs from the series' last origin */
    OB_APPEND_RESEND = 1u << 2,     /* identical sample already stored: no-op */
    OB_APPEND_RESHAPED = 1u << 3,   /* bounds/quantiles changed: history dropped */
    OB_APPEND_EXEMPLARS_FULL = 1u << 4, /* exemplars not kept: budget or heap used up */
};

/* Appends one sample of width ob_shape_width(shape) at ts_ms.
 *   - Finds or creates the series (OB_E_STORE_FULL when it would need a new
 *     slot or heap space and none is left; existing series keep working).
 *   - ts older than the series' newest by more than ooo_window_ms:
 *     OB_E_OUT_OF_BOUNDS.  Inside the window: inserted in timestamp order
 *     (when the ring is full and ts is older than every kept sample it is
 *     accepted but not kept).
 *   - Same ts as a kept sample: identical values -> 0 with OB_APPEND_RESEND;
 *     different values -> OB_E_DUPLICATE.
 *   - A different shape (bounds, quantiles, has_sum) replaces the series'
 *     shape and drops its older samples (OB_APPEND_RESHAPED).
 *   - Updates the series' last-update time (for series_ttl) to now.
 *   - Exemplars (ref->exemplars, entries a counter or histogram has) of a
 *     sample that was accepted replace the kept exemplar of their entry
 *     when they are at least as new.  The first exemplar of a series, and
 *     one whose labels are longer than any before, need heap from the
 *     exemplar budget; without it they are not kept
 *     (OB_APPEND_EXEMPLARS_FULL) and the sample is stored anyway.
 * *out_flags (may be NULL) gets OB_APPEND_* bits.  Thread-safe. */
int ob_store_append(struct ob_store *s, const struct ob_series_ref *ref,
                    const struct ob_shape *shape, int64_t ts_ms, const double *values,
                    unsigned *out_flags);

/* Adds a delta point (start_ms .. ts_ms; start 0 = unknown, taken to follow
 * the last point) to the series' running total, stored as a sample at
 * ts_ms, as the OpenTelemetry collector's deltatocumulative processor does:
 *   - the first point of a series is its total (created time: ref->created_ms);
 *   - a point that starts at or after the last one's end is added: values
 *     (the delta) is overwritten with the total that was stored;
 *   - the last point again (same start and end): 0 with OB_APPEND_RESEND;
 *   - a point ending no later, or starting before the last one ended:
 *     OB_E_OUT_OF_ORDER (never counted twice);
 *   - after a gap longer than delta_reset_ms, or a stale marker, the total
 *     starts over from this point with ref->created_ms as its created time;
 *   - a series made by ob_store_append (or the other way round):
 *     OB_E_TEMPORALITY.
 * The totals live in the store: they survive restarts like samples do.
 * Otherwise as ob_store_append (shapes, exemplars, flags). */
int ob_store_accumulate(struct ob_store *s, const struct ob_series_ref *ref, const struct ob_shape *shape,
                        int64_t start_ms, int64_t ts_ms, double *values, unsigned *out_flags);
int ob_store_accumulate_at(struct ob_store *s, const struct ob_series_ref *ref,
                           const struct ob_shape *shape, int64_t start_ms, int64_t ts_ms,
                           double *values, int64_t now_ms, unsigned *out_flags);

/* Starts loading the slot and samples a hint names, for an append soon
 * after (the ingest pipeline calls it a point ahead).  Never faults. */
void ob_store_prefetch(const struct ob_store *s, const struct ob_series_hint *h);

/* ob_store_append() with the caller's clock: now_ms (wall clock, ms) becomes
 * the series' last-update time, as ob_store_expire() and ob_store_scan()
 * compare it.  ob_store_append() passes the coarse wall clock; tests and
 * replays use this one. */
int ob_store_append_at(struct ob_store *s, const struct ob_series_ref *ref,
                       const struct ob_shape *shape, int64_t ts_ms, const double *values,
                       int64_t now_ms, unsigned *out_flags);

/* A hash for ob_series_ref.hash: XXH3-64 of the key seeded with the family
 * id.  Any good 64-bit hash over (family, key) works; the store uses its low
 * bits for the index slot and the stripe, its high 32 bits as index tag. */
uint64_t ob_store_hash(uint32_t family, const char *key, size_t key_len);


/* ---- scanning (exposition) ---------------------------------------------- */

struct ob_family_view {
    uint32_t id;
    const char *name;
    uint32_t name_len;
    const char *help;
    uint32_t help_len;
    enum ob_family_type type;
    const char *unit; /* UNIT metadata; may be empty */
    uint32_t unit_len;
};

/* One consistent copy of a series' newest sample.  Valid during the callback. */
struct ob_series_view {
    const char *labels; /* rendered block without braces; may be empty */
    uint32_t labels_len;
    enum ob_shape_kind kind;
    uint32_t n;               /* bounds / quantiles */
    const double *points;     /* the bounds / quantiles */
    bool has_sum;
    int64_t ts_ms;            /* newest sample */
    int64_t created_ms;       /* its start time (0 = unknown): OpenMetrics _created */
    const double *values;     /* ob_sample_width() doubles, laid out as ob_store_layout.h says */
    /* With OB_SCAN_EXEMPLARS: a copy of the series' exemplar entries
     * (ob_series_exemplar reads them); n_exemplars 0 = none. */
    const unsigned char *exemplars;
    uint32_t n_exemplars, exemplar_stride;
};

struct ob_exemplar_view {
    const char *labels; /* label block without braces */
    uint32_t labels_len;
    int64_t ts_ms;
    double value;
};

/* Exemplar entry i of sv (0: a counter's; a histogram's bucket i, n = +Inf)
 * into out; false when it has none. */
bool ob_series_exemplar(const struct ob_series_view *sv, uint32_t i, struct ob_exemplar_view *out);

/* Called once per family that has at least one live series, before its
 * series; return nonzero to stop the scan. */
typedef int (*ob_store_family_fn)(void *ctx, const struct ob_family_view *f);
/* Called for each live series of the current family, in creation order. */
typedef int (*ob_store_series_fn)(void *ctx, const struct ob_series_view *sv);

enum ob_scan_flags {
    OB_SCAN_EXEMPLARS = 1u << 0, /* copy each series' exemplars into its view */
};

/* Walks families in creation order and their live series (not expired at
 * now_ms, not stale).  Never blocks writers; retries a series whose sequence
 * counter moved.  The pointers in the views stay valid for at least the
 * store's grace period (30 s) after the scan saw them.  Returns 0, -ENOMEM
 * or the callback's nonzero value. */
int ob_store_scan(struct ob_store *s, int64_t now_ms, unsigned flags, ob_store_family_fn on_family,
                  ob_store_series_fn on_series, void *ctx);

/* A copy of the exemplars of the series in slot `slot` (if it still has
 * hash `hash`) into *buf (grown as needed, the caller frees it), read as
 * ob_series_exemplar() reads a scan's: fills out's exemplars,
 * n_exemplars (0 = none) and exemplar_stride.  0, -ENOENT, -EAGAIN, -ENOMEM. */
int ob_store_series_exemplars(const struct ob_store *s, uint32_t slot, uint64_t hash,
                              unsigned char **buf, size_t *cap, struct ob_series_view *out);

/* ---- housekeeping and statistics --------------------------------------- */

/* Frees series not updated for series_ttl_ms before now_ms; returns how many.
 * Their slots and memory are reused only 30 s (the grace period) later, so
 * a concurrent scan never reads reused memory; the housekeeping thread calls
 * this periodically with the wall clock, which also recycles limbo.  Retires
 * the families left without series (see ob_store_family). */
uint32_t ob_store_expire(struct ob_store *s, int64_t now_ms);
/* The same, adding a staleness marker record (OB_FWD_STALE, at now_ms or
 * just after the series' newest sample) to fwd for each series it expires,
 * so that remote-write receivers see the series end as a scrape would. */
uint32_t ob_store_expire_fwd(struct ob_store *s, int64_t now_ms, struct ob_fwd_batch *fwd);

/* Keeps the slots, families and heap blocks of series and families retired
 * at or after hold_ms (wall clock ms) out of reuse, past the usual grace:
 * remote write still has records of them to send and reads their names
 * then (ob_fwdlog_hold gives the time).  INT64_MAX (the default): no hold.
 * Thread-safe; the housekeeping thread sets it before each expiry. */
void ob_store_set_reclaim_hold(struct ob_store *s, int64_t hold_ms);

/* What a forward-log record's series is: family, labels, shape.  Pointers
 * into the mapping, valid while the record's series is held (above). */
struct ob_series_desc {
    struct ob_family_view family;
    const char *labels; /* label block without braces, as the exposition writes it */
    uint32_t labels_len;
    enum ob_shape_kind kind;
    uint32_t n;           /* bounds / quantiles (an exponential histogram's: room) */
    const double *points; /* the bounds / quantiles */
    bool has_sum;
    bool delta;           /* running totals of delta points */
    int64_t created_ms;   /* of the newest sample */
    bool exemplars;       /* it has kept exemplars (ob_store_series_exemplars) */
    uint64_t labels_off, data_off; /* identity of this label block and shape, for caches */
};

/* The series in slot `slot` if it still has hash `hash` (live, or expired
 * and not yet reused); -ENOENT otherwise, -EAGAIN when a writer kept
 * changing it. */
int ob_store_series_at(const struct ob_store *s, uint32_t slot, uint64_t hash,
                       struct ob_series_desc *out);

struct ob_store_stats {
    uint64_t map_bytes;      /* size of the mapping */
    uint64_t heap_bytes;     /* heap capacity */
    uint64_t heap_used;      /* heap bytes in use */
    uint32_t series_live;
    uint32_t series_max;
    uint32_t families;
    uint32_t families_max;
    uint64_t repairs;        /* repairs after a dead writer or an unclean shutdown, since attach */
    uint64_t exemplar_bytes; /* heap bytes in exemplar blocks */
    uint64_t exemplar_budget;
};

void ob_store_stats(struct ob_store *s, struct ob_store_stats *out);

/* ---- inspection (otlp-broker-inspect) -------------------------------------
 *
 * Read-only and lock-free, on a store a broker is using or one left by a
 * dead broker (ob_store_open_readonly). */

/* The header and bookkeeping as they are in the mapping. */
struct ob_store_info {
    const struct ob_store_hdr *hdr;
    uint64_t heap_start, heap_end, heap_bump; /* map offsets */
    uint32_t slots_used, families_ever, index_cap, fam_index_cap;
};
void ob_store_info(const struct ob_store *s, struct ob_store_info *out);

/* The checks a repair makes on attach, without repairing: the heap walks
 * from its start to the bump, every live family's name block, every live
 * series' blocks, ring word, shape and exemplar block, the series and
 * family counts, and that the index finds every live series and nothing
 * else.  Calls problem() with a sentence for each one found (a store being
 * written may show passing ones); returns how many. */
typedef void (*ob_store_problem_fn)(void *ctx, const char *what);
uint64_t ob_store_check(const struct ob_store *s, ob_store_problem_fn problem, void *ctx);

/* Every kept sample of the series of family `family` whose label block is
 * `labels` (as the exposition shows it between the braces, e.g.
 * job="calc",operation="add"; "" = none), oldest first, one consistent copy:
 * fn(ctx, ts_ms, values, width) for each.  Returns the number of samples,
 * -ENOENT when there is no such series, -EAGAIN when a writer kept changing
 * it, -ENOMEM. */
typedef void (*ob_store_sample_fn)(void *ctx, int64_t ts_ms, const double *values, uint32_t width);
long ob_store_series_samples(struct ob_store *s, const char *family, const char *labels,
                             ob_store_sample_fn fn, void *ctx);

#endif
