/* ob_ooo.h: one series' sample ring, ordered by timestamp (pure logic).
 *
 * A ring keeps up to `cap` samples in cap + 1 records of ob_ooo_stride(width)
 * bytes: int64 ts_ms, then `width` doubles.  The packed word (head << 16 | n)
 * says which records are visible: logical sample i (0 = oldest) lives in
 * record (head + i) % (cap + 1).  One record is always invisible, so an
 * in-order append writes a record nobody can see and then publishes the word
 * with one release store: a writer killed at any instant leaves either the old
 * or the new ring.
 *
 * An out-of-order insert shifts the newer samples up by one.  Each record it
 * overwrites while visible is first stamped with OB_OOO_TS_WRITING, then
 * filled, then given its real timestamp, so a kill -9 mid-shift leaves at most
 * one stamped record and duplicates of intact samples; ob_ooo_repair() drops,
 * sorts and dedupes them.  Concurrent readers are the caller's business (the
 * store wraps every change in the series' seqlock).
 *
 * The caller serialises writers to one ring.
 */
#ifndef OB_OOO_H
#define OB_OOO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define OB_OOO_TS_WRITING INT64_MIN
#define OB_OOO_WORD(head, n) (((uint32_t)(head) << 16) | (uint32_t)(n))
#define OB_OOO_HEAD(w) ((uint32_t)(w) >> 16)
#define OB_OOO_N(w) ((uint32_t)(w) & 0xffffu)

struct ob_ring {
    unsigned char *rec;     /* cap + 1 records, 8-byte aligned */
    _Atomic uint32_t *word; /* head << 16 | n */
    uint32_t cap;           /* samples kept, 1 .. 65534 */
    uint32_t width;         /* doubles per sample */
};

/* ob_ooo_insert() results that are not errors. */
enum {
    OB_OOO_STORED = 0,  /* sample is now in the ring */
    OB_OOO_RESEND = 1,  /* identical sample already kept: nothing changed */
    OB_OOO_DROPPED = 2, /* ring full and ts older than every kept sample: accepted, not kept */
};

static inline size_t ob_ooo_stride(uint32_t width)
{
    return 8u * ((size_t)width + 1u);
}

/* Bytes of the record area of a ring. */
static inline size_t ob_ooo_bytes(uint32_t cap, uint32_t width)
{
    return ((size_t)cap + 1u) * ob_ooo_stride(width);
}

/* Inserts (ts, values[width]) in timestamp order.
 *   ts older than the newest kept sample by more than window_ms: OB_E_OUT_OF_BOUNDS.
 *   same ts as a kept sample: bitwise equal values -> OB_OOO_RESEND (NaN
 *   resends match), else OB_E_DUPLICATE.
 * Returns OB_OOO_* or OB_E_*. */
int ob_ooo_insert(const struct ob_ring *r, int64_t ts, const double *values, int64_t window_ms);

/* Number of kept samples. */
uint32_t ob_ooo_count(const struct ob_ring *r);

/* Record of logical sample i (0 = oldest, count - 1 = newest). */
const unsigned char *ob_ooo_record(const struct ob_ring *r, uint32_t i);

static inline int64_t ob_ooo_rec_ts(const unsigned char *rec)
{
    return *(const int64_t *)(const void *)rec;
}

static inline const double *ob_ooo_rec_values(const unsigned char *rec)
{
    return (const double *)(const void *)(rec + 8);
}

/* Restores the ring invariants after a writer died mid-change: drops stamped
 * records, sorts by ts, removes duplicate timestamps, rewrites the ring from
 * record 0.  An invalid word empties the ring.  Returns the number of records
 * dropped, or -ENOMEM. */
int ob_ooo_repair(const struct ob_ring *r);

#endif
