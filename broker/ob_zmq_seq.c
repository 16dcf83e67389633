/* ob_zmq_seq.c: sequence frames and the per-sender loss table (see ob_zmq_seq.h).
 *
 * The table is an array of entries with a chained hash index on the sender
 * id and a doubly linked list in order of last message (most recent at the
 * head), so that eviction and expiry take from the tail.  Links are array
 * indexes; NIL ends a list.
 *
 * The window is OB_ZSEQ_WINDOW bits in 64-bit words: bit i (word i / 64,
 * bit i % 64) stands for number high - i; 1 = seen (or accounted before the
 * sender was first heard), 0 = not yet.
 */
#include "ob_zmq_seq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORDS (OB_ZSEQ_WINDOW / 64)
#define NIL UINT32_MAX

_Static_assert(OB_ZSEQ_WINDOW % 64 == 0, "the window is whole words");

static const uint8_t magic[4] = {0x00, 'O', 'B', 'Q'};

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

int ob_zseq_parse(const void *p, size_t n, struct ob_zseq_frame *out)
{
    const uint8_t *b = p;
    if (n < sizeof magic || memcmp(b, magic, sizeof magic) != 0)
        return 0;
    if (n != OB_ZSEQ_FRAME_LEN || b[4] != OB_ZSEQ_VERSION || (b[5] & ~OB_ZSEQ_FLAG_END) != 0 ||
        b[6] != 0 || b[7] != 0)
        return -1;
    out->flags = b[5];
    out->sender = get_le64(b + 8);
    out->seq = get_le64(b + 16);
    return out->sender != 0 ? 1 : -1;
}

void ob_zseq_encode(uint8_t out[OB_ZSEQ_FRAME_LEN], const struct ob_zseq_frame *f)
{
    memcpy(out, magic, sizeof magic);
    out[4] = OB_ZSEQ_VERSION;
    out[5] = f->flags;
    out[6] = out[7] = 0;
    put_le64(out + 8, f->sender);
    put_le64(out + 16, f->seq);
}

void ob_zseq_encode_set(uint8_t out[OB_ZSEQ_SET_LEN], uint64_t sender, uint64_t base,
                        uint64_t mask)
{
    struct ob_zseq_frame f = {.sender = sender, .seq = base, .flags = OB_ZSEQ_FLAG_SET};
    ob_zseq_encode(out, &f);
    put_le64(out + 24, mask);
}

bool ob_zseq_starts_group(const void *p, size_t n)
{
    struct ob_zseq_frame f;
    if (n == OB_ZSEQ_SET_LEN) {
        const uint8_t *b = p;
        return memcmp(b, magic, sizeof magic) == 0 && b[4] == OB_ZSEQ_VERSION &&
               b[5] == OB_ZSEQ_FLAG_SET;
    }
    return ob_zseq_parse(p, n, &f) == 1;
}

/* ---- window ------------------------------------------------------------ */

static unsigned zeros(const uint64_t *w)
{
    unsigned n = 0;
    for (int i = 0; i < WORDS; i++)
        n += 64 - (unsigned)__builtin_popcountll(w[i]);
    return n;
}

static bool all_seen(const uint64_t *w)
{
    for (int i = 0; i < WORDS; i++)
        if (w[i] != UINT64_MAX)
            return false;
    return true;
}

/* Shifts the window up by d numbers (0 < d): the d oldest bits leave, d zero
 * bits enter at the bottom.  Returns the count of unseen numbers that left,
 * including those skipped entirely when d exceeds the window. */
static uint64_t advance(uint64_t *w, uint64_t d)
{
    if (d >= OB_ZSEQ_WINDOW) {
        uint64_t lost = zeros(w) + (d - OB_ZSEQ_WINDOW);
        memset(w, 0, WORDS * sizeof *w);
        return lost;
    }
    unsigned ws = (unsigned)d / 64, bs = (unsigned)d % 64;
    /* Bits leaving: the top d of the window. */
    uint64_t lost = 0;
    for (unsigned i = OB_ZSEQ_WINDOW - (unsigned)d; i < OB_ZSEQ_WINDOW; i++)
        lost += !(w[i / 64] >> (i % 64) & 1);
    for (int i = WORDS - 1; i >= 0; i--) {
        int src = i - (int)ws;
        uint64_t v = src >= 0 ? w[src] << bs : 0;
        if (bs && src - 1 >= 0)
            v |= w[src - 1] >> (64 - bs);
        w[i] = v;
    }
    return lost;
}

/* ---- table ------------------------------------------------------------- */

struct sender {
    uint64_t id;
    uint64_t high;       /* highest number heard (valid once seen) */
    uint64_t end;        /* ended: the count of messages the sender sent */
    uint64_t win[WORDS];
    int64_t last_ns;     /* last message (or END) */
    uint32_t chain;      /* next in the hash bucket, or in the free list */
    uint32_t prev, next; /* recency list */
    uint16_t endpoint;
    bool ended;
    bool seen;           /* a message (not only an END) was heard */
};

struct ob_zseq {
    struct sender *e;
    uint32_t *bucket;
    uint32_t n_buckets; /* power of two */
    uint32_t cap, used;
    uint32_t free_head;
    uint32_t head, tail; /* most and least recently heard */
    uint32_t pending_ends;
    int64_t ttl_ns;
};

static uint32_t bucket_of(const struct ob_zseq *t, uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL; /* murmur3 fmix64: ids are random, but be safe */
    id ^= id >> 33;
    return (uint32_t)id & (t->n_buckets - 1);
}

int ob_zseq_create(size_t max_senders, int64_t ttl_ns, struct ob_zseq **out)
{
    if (max_senders == 0 || max_senders >= NIL / 2 || ttl_ns <= 0)
        return -EINVAL;
    struct ob_zseq *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->cap = (uint32_t)max_senders;
    t->n_buckets = 1;
    while (t->n_buckets < t->cap)
        t->n_buckets <<= 1;
    t->e = calloc(t->cap, sizeof *t->e);
    t->bucket = malloc(t->n_buckets * sizeof *t->bucket);
    if (!t->e || !t->bucket) {
        ob_zseq_destroy(t);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < t->n_buckets; i++)
        t->bucket[i] = NIL;
    for (uint32_t i = 0; i < t->cap; i++)
        t->e[i].chain = i + 1 < t->cap ? i + 1 : NIL;
    t->free_head = 0;
    t->head = t->tail = NIL;
    t->ttl_ns = ttl_ns;
    *out = t;
    return 0;
}

void ob_zseq_destroy(struct ob_zseq *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->bucket);
    free(t);
}

static void unlink_recency(struct ob_zseq *t, uint32_t i)
{
    struct sender *s = &t->e[i];
    if (s->prev != NIL)
        t->e[s->prev].next = s->next;
    else
        t->head = s->next;
    if (s->next != NIL)
        t->e[s->next].prev = s->prev;
    else
        t->tail = s->prev;
}

static void push_front(struct ob_zseq *t, uint32_t i)
{
    struct sender *s = &t->e[i];
    s->prev = NIL;
    s->next = t->head;
    if (t->head != NIL)
        t->e[t->head].prev = i;
    else
        t->tail = i;
    t->head = i;
}

static uint32_t find(const struct ob_zseq *t, uint64_t id)
{
    for (uint32_t i = t->bucket[bucket_of(t, id)]; i != NIL; i = t->e[i].chain)
        if (t->e[i].id == id)
            return i;
    return NIL;
}

/* The numbers of entry i still missing: unseen ones in the window, and
 * those a closed sender sent above the highest heard. */
static uint64_t missing(const struct sender *s)
{
    if (!s->seen)
        return s->ended ? s->end : 0;
    uint64_t n = zeros(s->win);
    if (s->ended && s->end > s->high + 1)
        n += s->end - (s->high + 1);
    return n;
}

static bool complete(const struct sender *s)
{
    return s->ended && (s->end == 0 || (s->seen && s->high + 1 >= s->end && all_seen(s->win)));
}

/* Forgets entry i; returns its missing numbers (now lost). */
static uint64_t drop(struct ob_zseq *t, uint32_t i)
{
    struct sender *s = &t->e[i];
    uint64_t lost = missing(s);
    uint32_t *p = &t->bucket[bucket_of(t, s->id)];
    while (*p != i)
        p = &t->e[*p].chain;
    *p = s->chain;
    unlink_recency(t, i);
    if (s->ended)
        t->pending_ends--;
    s->chain = t->free_head;
    t->free_head = i;
    t->used--;
    return lost;
}

/* A new entry for id, evicting the least recently heard sender when full
 * (its losses go to *c, *evicted set). */
static uint32_t insert(struct ob_zseq *t, uint64_t id, struct ob_zseq_counts *c, bool *evicted)
{
    if (t->free_head == NIL) {
        c->lost += drop(t, t->tail);
        *evicted = true;
    }
    uint32_t i = t->free_head;
    struct sender *s = &t->e[i];
    t->free_head = s->chain;
    *s = (struct sender){.id = id};
    uint32_t b = bucket_of(t, id);
    s->chain = t->bucket[b];
    t->bucket[b] = i;
    push_front(t, i);
    t->used++;
    return i;
}

static void touch(struct ob_zseq *t, uint32_t i, int64_t now_ns)
{
    t->e[i].last_ns = now_ns;
    if (t->head != i) {
        unlink_recency(t, i);
        push_front(t, i);
    }
}

void ob_zseq_observe(struct ob_zseq *t, unsigned endpoint, const struct ob_zseq_frame *f,
                     int64_t now_ns, struct ob_zseq_counts *c, bool *evicted)
{
    *evicted = false;
    bool end = f->flags & OB_ZSEQ_FLAG_END;
    uint32_t i = find(t, f->sender);
    if (i == NIL) {
        if (end && f->seq == 0)
            return; /* opened and closed without sending anything */
        i = insert(t, f->sender, c, evicted);
        memset(t->e[i].win, 0xff, sizeof t->e[i].win);
    }
    struct sender *s = &t->e[i];
    if (end) {
        /* The count is not a message: the numbers up to it are only due.
         * The END often overtakes them (it came on a new connection), so
         * nothing is lost before the sender is settled. */
        if (!s->ended)
            t->pending_ends++;
        s->ended = true;
        s->end = f->seq;
    } else if (!s->seen) {
        /* First message.  After an END the sender's numbers start at 0:
         * those below this one are due (as if the highest were -1). */
        s->seen = true;
        if (s->ended)
            c->lost += advance(s->win, f->seq + 1);
        s->high = f->seq;
        s->win[0] |= 1;
    } else if (f->seq > s->high) {
        c->lost += advance(s->win, f->seq - s->high);
        s->high = f->seq;
        s->win[0] |= 1;
    } else {
        uint64_t back = s->high - f->seq;
        if (back >= OB_ZSEQ_WINDOW) {
            c->reordered++;
        } else if (s->win[back / 64] >> (back % 64) & 1) {
            c->duplicate++;
        } else {
            s->win[back / 64] |= 1ULL << (back % 64);
            c->reordered++;
        }
    }
    s->endpoint = (uint16_t)endpoint;
    touch(t, i, now_ns);
    if (complete(s))
        drop(t, i); /* closed, and every message came: nothing to wait for */
}

void ob_zseq_tick(struct ob_zseq *t, int64_t now_ns, bool idle, ob_zseq_loss_fn *fn, void *arg)
{
    while (t->tail != NIL && now_ns - t->e[t->tail].last_ns >= t->ttl_ns) {
        struct sender s = t->e[t->tail];
        uint64_t lost = drop(t, t->tail);
        if (lost && fn)
            fn(arg, s.endpoint, s.id, lost);
    }
    if (!idle || t->pending_ends == 0)
        return;
    for (uint32_t i = t->tail; i != NIL;) {
        struct sender s = t->e[i];
        uint32_t prev = s.prev;
        if (now_ns - s.last_ns < OB_ZSEQ_END_GRACE_NS)
            break; /* the rest were heard even more recently */
        if (s.ended) {
            uint64_t lost = drop(t, i);
            if (lost && fn)
                fn(arg, s.endpoint, s.id, lost);
        }
        i = prev;
    }
}

size_t ob_zseq_senders(const struct ob_zseq *t)
{
    return t->used;
}

size_t ob_zseq_pending_ends(const struct ob_zseq *t)
{
    return t->pending_ends;
}
