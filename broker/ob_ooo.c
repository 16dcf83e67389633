/* ob_ooo.c: timestamp-ordered sample ring (see ob_ooo.h for the protocol). */
#include "ob_ooo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob_common.h"
#include "ob_error.h"

/* head <= cap and i <= cap + 1, so one conditional subtraction replaces a division. */
static inline unsigned char *rec_at(const struct ob_ring *r, uint32_t head, uint32_t i)
{
    uint32_t pos = head + i;
    if (pos > r->cap)
        pos -= r->cap + 1;
    return r->rec + (size_t)pos * ob_ooo_stride(r->width);
}

static inline void set_ts(unsigned char *rec, int64_t ts)
{
    *(int64_t *)(void *)rec = ts;
}

/* Fills a record that is visible: stamp, values, real ts.  The signal fences
 * keep the compiler from reordering the three steps; after a kill -9 every
 * store the process issued reaches the mapping, so program order is all the
 * repair relies on. */
static void put_visible(unsigned char *dst, int64_t ts, const double *values, size_t vbytes)
{
    set_ts(dst, OB_OOO_TS_WRITING);
    atomic_signal_fence(memory_order_seq_cst);
    memcpy(dst + 8, values, vbytes);
    atomic_signal_fence(memory_order_seq_cst);
    set_ts(dst, ts);
}

/* After a publish that grows the ring by one at the new end (or, when full,
 * drops the oldest), logical sample i of the old word is still record
 * rec_at(old_head, i). */
static inline uint32_t grown_word(uint32_t head, uint32_t n, uint32_t cap)
{
    return n < cap ? OB_OOO_WORD(head, n + 1) : OB_OOO_WORD((head + 1) % (cap + 1), n);
}

int ob_ooo_insert(const struct ob_ring *r, int64_t ts, const double *values, int64_t window_ms)
{
    uint32_t w = atomic_load_explicit(r->word, memory_order_relaxed);
    uint32_t head = OB_OOO_HEAD(w), n = OB_OOO_N(w), cap = r->cap;
    size_t vbytes = 8u * (size_t)r->width;

    if (OB_UNLIKELY(ts == OB_OOO_TS_WRITING))
        return OB_E_OUT_OF_BOUNDS;
    if (OB_LIKELY(n == 0 || ts > ob_ooo_rec_ts(rec_at(r, head, n - 1)))) {
        /* In order: fill the invisible record, then publish. */
        unsigned char *dst = rec_at(r, head, n);
        memcpy(dst + 8, values, vbytes);
        set_ts(dst, ts);
        atomic_store_explicit(r->word, grown_word(head, n, cap), memory_order_release);
        return OB_OOO_STORED;
    }

    /* ts <= newest, so the unsigned difference is the exact distance. */
    uint64_t window = window_ms > 0 ? (uint64_t)window_ms : 0;
    if ((uint64_t)ob_ooo_rec_ts(rec_at(r, head, n - 1)) - (uint64_t)ts > window)
        return OB_E_OUT_OF_BOUNDS;

    /* k = number of kept samples older than ts. */
    uint32_t k = n;
    while (k > 0 && ob_ooo_rec_ts(rec_at(r, head, k - 1)) >= ts) {
        const unsigned char *rec = rec_at(r, head, k - 1);
        if (ob_ooo_rec_ts(rec) == ts)
            return memcmp(rec + 8, values, vbytes) == 0 ? OB_OOO_RESEND : OB_E_DUPLICATE;
        k--;
    }
    if (n == cap && k == 0)
        return OB_OOO_DROPPED;

    /* Copy the newest into the invisible record, publish (duplicate visible,
     * oldest dropped when full), then shift k..n-2 up with stamps, then put
     * the new sample at k. */
    unsigned char *top = rec_at(r, head, n);
    memcpy(top, rec_at(r, head, n - 1), ob_ooo_stride(r->width));
    atomic_store_explicit(r->word, grown_word(head, n, cap), memory_order_release);
    for (uint32_t j = n - 1; j > k; j--) {
        const unsigned char *src = rec_at(r, head, j - 1);
        put_visible(rec_at(r, head, j), ob_ooo_rec_ts(src), ob_ooo_rec_values(src), vbytes);
    }
    put_visible(rec_at(r, head, k), ts, values, vbytes);
    atomic_thread_fence(memory_order_release);
    return OB_OOO_STORED;
}

uint32_t ob_ooo_count(const struct ob_ring *r)
{
    return OB_OOO_N(atomic_load_explicit(r->word, memory_order_acquire));
}

const unsigned char *ob_ooo_record(const struct ob_ring *r, uint32_t i)
{
    uint32_t w = atomic_load_explicit(r->word, memory_order_acquire);
    return rec_at(r, OB_OOO_HEAD(w), i);
}

int ob_ooo_repair(const struct ob_ring *r)
{
    uint32_t w = atomic_load_explicit(r->word, memory_order_relaxed);
    uint32_t head = OB_OOO_HEAD(w), n = OB_OOO_N(w), cap = r->cap;
    size_t stride = ob_ooo_stride(r->width);
    if (head > cap || n > cap) {
        atomic_store_explicit(r->word, OB_OOO_WORD(0, 0), memory_order_release);
        return (int)OB_MIN(n, cap);
    }
    unsigned char *tmp = malloc(((size_t)n + 1) * stride);
    if (!tmp)
        return -ENOMEM;
    /* Insertion sort into tmp, skipping stamped records and repeated ts. */
    uint32_t m = 0;
    int changed = 0;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *rec = rec_at(r, head, i);
        int64_t ts = ob_ooo_rec_ts(rec);
        changed |= ts == OB_OOO_TS_WRITING;
        if (ts == OB_OOO_TS_WRITING)
            continue;
        uint32_t pos = m;
        while (pos > 0 && ob_ooo_rec_ts(tmp + (size_t)(pos - 1) * stride) > ts)
            pos--;
        changed |= pos != m;
        if (pos > 0 && ob_ooo_rec_ts(tmp + (size_t)(pos - 1) * stride) == ts) {
            changed = 1;
            continue;
        }
        memmove(tmp + (size_t)(pos + 1) * stride, tmp + (size_t)pos * stride, (size_t)(m - pos) * stride);
        memcpy(tmp + (size_t)pos * stride, rec, stride);
        m++;
    }
    if (!changed) {
        free(tmp);
        return 0;
    }
    /* Hide everything, rewrite from record 0, publish.  (A second crash right
     * here would empty this one series rather than show a torn one.) */
    atomic_store_explicit(r->word, OB_OOO_WORD(0, 0), memory_order_release);
    memcpy(r->rec, tmp, (size_t)m * stride);
    atomic_store_explicit(r->word, OB_OOO_WORD(0, m), memory_order_release);
    free(tmp);
    return (int)(n - m);
}
