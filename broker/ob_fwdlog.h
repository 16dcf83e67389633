/* ob_fwdlog.h: the forward log, what remote write sends from.
 *
 * Every sample the store accepts (appended, a delta's new running total, an
 * out-of-order one inside the window, a resend of one already kept) and
 * every staleness marker of an expired series is also written here as a
 * record: (series slot, series hash, timestamp, the sample's doubles).
 * Remote-write targets read the log in order, each with its own cursor:
 * the position of the oldest record it has not had acknowledged.  The log
 * lives in its own mapping beside the store (shared memory or a file, like
 * the store), so records and cursors survive a restart or kill -9: a
 * target resumes where its receiver left off.
 *
 * Layout (nothing is a pointer; positions are byte counts since the log
 * was made, a position's place in the ring is pos % cap):
 *
 *   0        struct ob_fwdlog_hdr (magic, sizes, the store it belongs to)
 *   256      struct ob_fwdlog_state (lock, head, tail, cursors)
 *   page     the ring: cap bytes of chunks
 *
 * A chunk is a struct ob_fwd_chunk then records back to back; chunks never
 * wrap: one that would is preceded by a padding chunk (n_records 0) to the
 * ring's end, or, when fewer than a header's bytes are left, by nothing
 * (readers skip such a remainder).  Writers commit whole chunks under the
 * log's lock and publish head after the bytes; readers take no lock: they
 * copy a chunk below head and then check that tail has not passed it (a
 * writer moves tail before it overwrites).  A writer that dies holding the
 * lock leaves head where it was: its half-written chunk is never read.
 *
 * When the ring is full the oldest chunks are overwritten: ingest is never
 * held up by a slow target; a target that falls behind by more than the
 * log loses the records it had not read, and learns how many. */
#ifndef OB_FWDLOG_H
#define OB_FWDLOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"
#include "ob_store_layout.h" /* struct ob_store_lock */

#define OB_FWDLOG_MAGIC "OBFWLOG1"
#define OB_FWDLOG_VERSION 1u
#define OB_FWDLOG_TARGETS 32u       /* cursors: remote-write targets at most */
#define OB_FWDLOG_NAME_MAX 48u      /* a target's name, NUL included */
#define OB_FWDLOG_CHUNK_MAX 65536u  /* bytes of records per chunk at most */
#define OB_FWDLOG_MIN_CAP (1u << 20)

/* One record.  flags: OB_FWD_STALE, the series ended (a staleness marker;
 * no doubles follow, width is 0). */
#define OB_FWD_STALE 1u
struct ob_fwd_record {
    uint32_t slot;   /* the series' store slot */
    uint16_t width;  /* doubles that follow (the series' sample width) */
    uint16_t flags;
    uint64_t hash;   /* the series' hash: a slot reused by another series has another */
    int64_t ts_ms;
    double v[];      /* width doubles, laid out as ob_store_layout.h "samples" says */
};

static inline size_t ob_fwd_record_size(uint32_t width)
{
    return sizeof(struct ob_fwd_record) + 8u * width;
}

struct ob_fwd_chunk {
    uint64_t pos;          /* its own position: a reader's check */
    uint64_t first_record; /* number of its first record (records ever written before it) */
    uint32_t bytes;        /* header included, a multiple of 8 */
    uint32_t n_records;    /* 0: padding to the ring's end */
    int64_t wall_ms;       /* when it was written */
};

struct ob_fwd_cursor {
    char name[OB_FWDLOG_NAME_MAX]; /* "" = free */
    _Atomic uint64_t pos;          /* first chunk not wholly acknowledged */
    _Atomic uint64_t record;       /* number of the first record at pos */
    _Atomic int64_t wall_ms;       /* the chunk at pos was written then, or (nothing
                                      left) when its reader last found no newer one */
};

struct ob_fwdlog_hdr {
    char magic[8];
    uint32_t version;
    uint32_t hdr_size;
    uint64_t page_size;
    uint64_t cap;             /* ring bytes */
    uint64_t data_off;        /* the ring's offset in the mapping */
    int64_t store_created_ns; /* the store the slots belong to (its created_ns) */
    uint64_t reserved[26];
};

struct ob_fwdlog_state {
    struct ob_store_lock lock;     /* robust, process-shared: writers and cursor changes */
    _Atomic uint64_t head;         /* next chunk's position */
    _Atomic uint64_t tail;         /* oldest chunk still in the ring */
    _Atomic uint64_t records;      /* records ever written (the next one's number) */
    _Atomic uint64_t tail_record;  /* number of the first record at tail */
    _Atomic uint64_t overwritten;  /* records overwritten before every target read them */
    _Atomic int64_t tail_wall_ms;  /* the chunk at tail was written then (0: none yet) */
    uint64_t reserved[2];
    struct ob_fwd_cursor cursors[OB_FWDLOG_TARGETS];
};

/* ---- writing ------------------------------------------------------------- */

/* Records one request made, kept by the caller (the ingest's per-thread
 * worker) and committed in one go after the request, before it is
 * answered: one lock per request, not per point. */
struct ob_fwd_batch {
    unsigned char *data;
    size_t len, cap;
    uint32_t n;
    bool oom; /* a record could not be added (no memory): counted at commit */
};

/* Adds a record; false (and batch->oom) when out of memory. */
bool ob_fwd_batch_add(struct ob_fwd_batch *b, uint32_t slot, uint64_t hash, int64_t ts_ms,
                      const double *v, uint32_t width, uint16_t flags);
void ob_fwd_batch_fini(struct ob_fwd_batch *b);

struct ob_fwdlog;

struct ob_fwdlog_opts {
    const char *path;         /* "/name" = POSIX shm, else a file */
    uint64_t cap;             /* ring bytes (rounded up to a page; at least OB_FWDLOG_MIN_CAP) */
    int64_t store_created_ns; /* the store's: a log made for another store is started over */
};

/* Creates the log or attaches to the existing one.  A log with another
 * magic, version or size, made for another store, or found inconsistent
 * after a crash is started over (the reason in err, for a warning; 0 is
 * still returned: the log is usable).  -errno with err on failure. */
int ob_fwdlog_open(const struct ob_fwdlog_opts *o, struct ob_fwdlog **out, char err[OB_ERR_LEN],
                   bool *out_restarted);
/* Maps an existing log read-only (otlp-broker-inspect): stats and targets
 * only.  -ENOENT, OB_E_STORE_MAGIC / OB_E_STORE_VERSION (not a forward log of
 * this version), -errno; err says which. */
int ob_fwdlog_open_readonly(const char *path, struct ob_fwdlog **out, char err[OB_ERR_LEN]);
void ob_fwdlog_close(struct ob_fwdlog *l);
int ob_fwdlog_unlink(const char *path);

/* Writes the batch's records (in chunks of at most OB_FWDLOG_CHUNK_MAX) and
 * empties it.  Overwrites the oldest chunks when the ring is full.
 * Thread-safe. */
void ob_fwdlog_commit(struct ob_fwdlog *l, struct ob_fwd_batch *b, int64_t wall_ms);

/* ---- reading (one reader per cursor) -------------------------------------- */

/* The cursor of target `name`, made at the head when it is new (a new
 * target starts from now, not from the log's past).  NULL when all
 * OB_FWDLOG_TARGETS are taken.  Cursors of targets no longer configured
 * are freed by ob_fwdlog_keep_only(). */
struct ob_fwd_cursor *ob_fwdlog_cursor(struct ob_fwdlog *l, const char *name);
/* Frees every cursor whose name is not in names[0 .. n-1]. */
void ob_fwdlog_keep_only(struct ob_fwdlog *l, const char *const *names, size_t n);

/* A reader's place: where it reads next (ahead of its cursor: what is read
 * but not yet acknowledged lies between). */
struct ob_fwd_reader {
    uint64_t pos;
    uint64_t record;
};

enum ob_fwd_read {
    OB_FWD_EMPTY = 0, /* nothing at pos yet */
    OB_FWD_CHUNK = 1, /* *out filled: a copy of the chunk (header and records) */
    OB_FWD_LOST = 2,  /* pos was overwritten: r moved to the tail, *lost records are gone */
};

/* Copies the chunk at r->pos into buf (at least OB_FWDLOG_CHUNK_MAX +
 * header bytes) and moves r past it.  Padding is skipped. */
enum ob_fwd_read ob_fwdlog_read(struct ob_fwdlog *l, struct ob_fwd_reader *r, void *buf,
                                uint64_t *lost);

/* Whether there is something to read at r (a chunk, or what it lost). */
bool ob_fwdlog_unread(const struct ob_fwdlog *l, const struct ob_fwd_reader *r);

/* Sets a cursor: everything before pos (record number `record`) is done;
 * wall_ms as struct ob_fwd_cursor says. */
void ob_fwdlog_ack(struct ob_fwd_cursor *c, uint64_t pos, uint64_t record, int64_t wall_ms);

/* The oldest wall_ms of any cursor (for a cursor the ring has overwritten,
 * that of the oldest chunk left: what it points at is gone anyway, and a
 * receiver away for long must not keep the store from reusing memory), or
 * INT64_MAX without cursors: the store keeps the slots and memory of
 * expired series at least until then, so that a record's series can still
 * be read when it is sent (ob_store_set_reclaim_hold). */
int64_t ob_fwdlog_hold(const struct ob_fwdlog *l);

struct ob_fwdlog_stats {
    uint64_t cap, used;     /* ring bytes; bytes between tail and head */
    uint64_t head, tail;
    uint64_t records;       /* ever written */
    uint64_t overwritten;   /* before every target had read them */
};
void ob_fwdlog_stats(const struct ob_fwdlog *l, struct ob_fwdlog_stats *out);

/* Cursor i (0 .. OB_FWDLOG_TARGETS - 1) as a target's state; false when the
 * cursor is free. */
struct ob_fwdlog_target {
    char name[OB_FWDLOG_NAME_MAX];
    uint64_t pos, record; /* the first record not yet taken */
    uint64_t pending;     /* records from there to the head */
    int64_t wall_ms;      /* the oldest of them was written then (or the target caught up then) */
    bool lapped;          /* the ring overwrote some of them: they are lost */
};
bool ob_fwdlog_target(const struct ob_fwdlog *l, uint32_t i, struct ob_fwdlog_target *out);

/* Records at or after cursor c: what its target has yet to get acknowledged. */
uint64_t ob_fwdlog_pending(const struct ob_fwdlog *l, const struct ob_fwd_cursor *c);

#endif
