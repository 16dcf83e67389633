/* ob_fwdlog.c: the forward log (ob_fwdlog.h says what and why). */
#define _GNU_SOURCE /* MAP_POPULATE */
#include "ob_fwdlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob_error.h"
#include "ob_store_lock.h"
#include "ob_time.h"

#define HDR sizeof(struct ob_fwd_chunk)

struct ob_fwdlog {
    unsigned char *base;
    size_t map_size;
    struct ob_fwdlog_hdr *hdr;
    struct ob_fwdlog_state *st;
    unsigned char *ring;
    uint64_t cap;
};

_Static_assert(sizeof(struct ob_fwdlog_hdr) == 256, "fwdlog header size");
_Static_assert(256 + sizeof(struct ob_fwdlog_state) <= 4096, "fwdlog page 0");
_Static_assert(sizeof(struct ob_fwd_record) == 24 && sizeof(struct ob_fwd_chunk) == 32, "fwdlog records");

/* ---- batches --------------------------------------------------------------- */

bool ob_fwd_batch_add(struct ob_fwd_batch *b, uint32_t slot, uint64_t hash, int64_t ts_ms,
                      const double *v, uint32_t width, uint16_t flags)
{
    size_t need = ob_fwd_record_size(width);
    if (OB_UNLIKELY(b->len + need > b->cap)) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + need)
            cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = true;
            return false;
        }
        b->data = p;
        b->cap = cap;
    }
    struct ob_fwd_record *r = (struct ob_fwd_record *)(b->data + b->len);
    r->slot = slot;
    r->width = (uint16_t)width;
    r->flags = flags;
    r->hash = hash;
    r->ts_ms = ts_ms;
    if (width)
        memcpy(r->v, v, 8u * width);
    b->len += need;
    b->n++;
    return true;
}

void ob_fwd_batch_fini(struct ob_fwd_batch *b)
{
    free(b->data);
    *b = (struct ob_fwd_batch){0};
}

/* ---- the ring -------------------------------------------------------------- */

static inline uint64_t room_to_end(const struct ob_fwdlog *l, uint64_t pos)
{
    return l->cap - pos % l->cap;
}

static inline struct ob_fwd_chunk *chunk_at(const struct ob_fwdlog *l, uint64_t pos)
{
    return (struct ob_fwd_chunk *)(l->ring + pos % l->cap);
}

/* The position after the chunk (or the too-small remainder) at pos; 0 when
 * what is there is not a chunk that starts at pos (a damaged log). */
static uint64_t next_pos(const struct ob_fwdlog *l, uint64_t pos, uint32_t *n_records)
{
    uint64_t rest = room_to_end(l, pos);
    *n_records = 0;
    if (rest < HDR)
        return pos + rest;
    const struct ob_fwd_chunk *c = chunk_at(l, pos);
    if (c->pos != pos || c->bytes < HDR || c->bytes % 8 || c->bytes > rest ||
        (c->n_records == 0 && c->bytes != rest))
        return 0;
    *n_records = c->n_records;
    return pos + c->bytes;
}

static uint64_t min_cursor_record(const struct ob_fwdlog *l)
{
    uint64_t m = UINT64_MAX;
    for (uint32_t i = 0; i < OB_FWDLOG_TARGETS; i++) {
        const struct ob_fwd_cursor *c = &l->st->cursors[i];
        if (c->name[0])
            m = OB_MIN(m, atomic_load_explicit(&c->record, memory_order_relaxed));
    }
    return m;
}

/* Moves tail until [end - cap, end) is free to write.  Lock held.  A
 * reader copying a chunk checks tail after the copy, so tail moves before
 * the bytes are overwritten (seq_cst: the store is ordered before them). */
static void make_room(struct ob_fwdlog *l, uint64_t end, uint64_t *min_rec)
{
    struct ob_fwdlog_state *st = l->st;
    uint64_t tail = atomic_load_explicit(&st->tail, memory_order_relaxed);
    if (end - tail <= l->cap)
        return;
    uint64_t rec = atomic_load_explicit(&st->tail_record, memory_order_relaxed);
    if (*min_rec == UINT64_MAX - 1)
        *min_rec = min_cursor_record(l);
    while (end - tail > l->cap) {
        uint32_t n;
        uint64_t next = next_pos(l, tail, &n);
        if (!next) { /* cannot happen in a log that was checked at open */
            next = end - l->cap;
            n = 0;
        }
        if (*min_rec < rec + n)
            atomic_fetch_add_explicit(&st->overwritten, rec + n - OB_MAX(rec, *min_rec),
                                      memory_order_relaxed);
        rec += n;
        tail = next;
    }
    atomic_store_explicit(&st->tail_record, rec, memory_order_relaxed);
    /* The new oldest chunk's time, for ob_fwdlog_hold: read before the
     * bytes are overwritten (tail < end - cap + cap: still whole). */
    uint32_t ignored;
    if (tail < atomic_load_explicit(&st->head, memory_order_relaxed) && next_pos(l, tail, &ignored) &&
        room_to_end(l, tail) >= HDR)
        atomic_store_explicit(&st->tail_wall_ms, chunk_at(l, tail)->wall_ms, memory_order_relaxed);
    atomic_store_explicit(&st->tail, tail, memory_order_seq_cst);
}

/* Writes one chunk of `bytes` of records at head (padding first when it
 * would cross the ring's end).  Lock held; head is published by the caller. */
static void put_chunk(struct ob_fwdlog *l, uint64_t *head, const unsigned char *recs, uint32_t bytes,
                      uint32_t n, int64_t wall_ms, uint64_t *min_rec)
{
    struct ob_fwdlog_state *st = l->st;
    uint64_t rest = room_to_end(l, *head);
    if (rest < HDR + bytes) {
        make_room(l, *head + rest, min_rec);
        if (rest >= HDR)
            *chunk_at(l, *head) = (struct ob_fwd_chunk){
                .pos = *head,
                .first_record = atomic_load_explicit(&st->records, memory_order_relaxed),
                .bytes = (uint32_t)rest,
                .wall_ms = wall_ms,
            };
        *head += rest;
    }
    make_room(l, *head + HDR + bytes, min_rec);
    struct ob_fwd_chunk *c = chunk_at(l, *head);
    uint64_t first = atomic_load_explicit(&st->records, memory_order_relaxed);
    *c = (struct ob_fwd_chunk){.pos = *head, .first_record = first, .bytes = (uint32_t)(HDR + bytes),
                               .n_records = n, .wall_ms = wall_ms};
    memcpy(c + 1, recs, bytes);
    atomic_store_explicit(&st->records, first + n, memory_order_relaxed);
    *head += HDR + bytes;
}

static void lock(struct ob_fwdlog *l)
{
    /* A writer that died holding the lock left head where it was: the
     * chunk it was writing is beyond head and never read; nothing to mend. */
    if (ob_lock_acquire(&l->st->lock) == OB_LOCK_REPAIR)
        ob_lock_consistent(&l->st->lock);
}

void ob_fwdlog_commit(struct ob_fwdlog *l, struct ob_fwd_batch *b, int64_t wall_ms)
{
    if (!b->n)
        return;
    lock(l);
    struct ob_fwdlog_state *st = l->st;
    uint64_t head = atomic_load_explicit(&st->head, memory_order_relaxed);
    uint64_t min_rec = UINT64_MAX - 1; /* not computed yet: only a full ring needs it */
    size_t from = 0, at = 0;
    uint32_t n = 0;
    while (at < b->len) {
        const struct ob_fwd_record *r = (const struct ob_fwd_record *)(b->data + at);
        size_t sz = ob_fwd_record_size(r->width);
        if (at + sz - from > OB_FWDLOG_CHUNK_MAX) {
            put_chunk(l, &head, b->data + from, (uint32_t)(at - from), n, wall_ms, &min_rec);
            from = at;
            n = 0;
        }
        at += sz;
        n++;
    }
    put_chunk(l, &head, b->data + from, (uint32_t)(at - from), n, wall_ms, &min_rec);
    atomic_store_explicit(&st->head, head, memory_order_release);
    ob_lock_release(&st->lock);
    b->len = 0;
    b->n = 0;
    b->oom = false;
}

/* ---- reading --------------------------------------------------------------- */

static enum ob_fwd_read lost(struct ob_fwdlog *l, struct ob_fwd_reader *r, uint64_t *n_lost)
{
    lock(l);
    uint64_t tail = atomic_load_explicit(&l->st->tail, memory_order_relaxed);
    uint64_t rec = atomic_load_explicit(&l->st->tail_record, memory_order_relaxed);
    ob_lock_release(&l->st->lock);
    *n_lost = rec > r->record ? rec - r->record : 0;
    r->pos = tail;
    r->record = rec;
    return OB_FWD_LOST;
}

enum ob_fwd_read ob_fwdlog_read(struct ob_fwdlog *l, struct ob_fwd_reader *r, void *buf,
                                uint64_t *n_lost)
{
    struct ob_fwdlog_state *st = l->st;
    *n_lost = 0;
    for (;;) {
        uint64_t head = atomic_load_explicit(&st->head, memory_order_acquire);
        if (r->pos >= head)
            return OB_FWD_EMPTY;
        if (r->pos < atomic_load_explicit(&st->tail, memory_order_acquire))
            return lost(l, r, n_lost);
        uint64_t rest = room_to_end(l, r->pos);
        if (rest < HDR) {
            r->pos += rest;
            continue;
        }
        struct ob_fwd_chunk *c = buf;
        memcpy(c, chunk_at(l, r->pos), HDR);
        bool sane = c->pos == r->pos && c->bytes >= HDR && c->bytes % 8 == 0 && c->bytes <= rest &&
                    c->bytes <= HDR + OB_FWDLOG_CHUNK_MAX;
        if (sane)
            memcpy(c + 1, chunk_at(l, r->pos) + 1, c->bytes - HDR);
        atomic_thread_fence(memory_order_acquire);
        if (r->pos < atomic_load_explicit(&st->tail, memory_order_seq_cst))
            return lost(l, r, n_lost); /* overwritten while we copied */
        if (!sane) /* below head and not overwritten: cannot happen */
            return lost(l, r, n_lost);
        r->pos += c->bytes;
        if (c->n_records == 0)
            continue; /* padding */
        r->record = c->first_record + c->n_records;
        return OB_FWD_CHUNK;
    }
}

/* ---- cursors ----------------------------------------------------------------- */

struct ob_fwd_cursor *ob_fwdlog_cursor(struct ob_fwdlog *l, const char *name)
{
    size_t len = strlen(name);
    if (!len || len >= OB_FWDLOG_NAME_MAX)
        return NULL;
    struct ob_fwd_cursor *found = NULL, *free_one = NULL;
    lock(l);
    for (uint32_t i = 0; i < OB_FWDLOG_TARGETS && !found; i++) {
        struct ob_fwd_cursor *c = &l->st->cursors[i];
        if (strcmp(c->name, name) == 0)
            found = c;
        else if (!c->name[0] && !free_one)
            free_one = c;
    }
    if (!found && free_one) {
        found = free_one;
        atomic_store(&found->pos, atomic_load(&l->st->head));
        atomic_store(&found->record, atomic_load(&l->st->records));
        atomic_store(&found->wall_ms, ob_now_ns() / 1000000);
        memcpy(found->name, name, len + 1);
    }
    ob_lock_release(&l->st->lock);
    return found;
}

void ob_fwdlog_keep_only(struct ob_fwdlog *l, const char *const *names, size_t n)
{
    lock(l);
    for (uint32_t i = 0; i < OB_FWDLOG_TARGETS; i++) {
        struct ob_fwd_cursor *c = &l->st->cursors[i];
        bool keep = false;
        for (size_t k = 0; k < n && !keep; k++)
            keep = strcmp(c->name, names[k]) == 0;
        if (!keep)
            memset(c->name, 0, sizeof c->name);
    }
    ob_lock_release(&l->st->lock);
}

bool ob_fwdlog_unread(const struct ob_fwdlog *l, const struct ob_fwd_reader *r)
{
    return r->pos < atomic_load_explicit(&l->st->head, memory_order_acquire);
}

void ob_fwdlog_ack(struct ob_fwd_cursor *c, uint64_t pos, uint64_t record, int64_t wall_ms)
{
    atomic_store_explicit(&c->wall_ms, wall_ms, memory_order_relaxed);
    atomic_store_explicit(&c->record, record, memory_order_relaxed);
    atomic_store_explicit(&c->pos, pos, memory_order_release);
}

int64_t ob_fwdlog_hold(const struct ob_fwdlog *l)
{
    int64_t hold = INT64_MAX;
    uint64_t tail = atomic_load_explicit(&l->st->tail, memory_order_acquire);
    int64_t tail_ms = atomic_load_explicit(&l->st->tail_wall_ms, memory_order_relaxed);
    for (uint32_t i = 0; i < OB_FWDLOG_TARGETS; i++) {
        const struct ob_fwd_cursor *c = &l->st->cursors[i];
        if (!c->name[0])
            continue;
        int64_t ms = atomic_load_explicit(&c->wall_ms, memory_order_relaxed);
        if (atomic_load_explicit(&c->pos, memory_order_relaxed) < tail)
            ms = OB_MAX(ms, tail_ms);
        hold = OB_MIN(hold, ms);
    }
    return hold;
}

uint64_t ob_fwdlog_pending(const struct ob_fwdlog *l, const struct ob_fwd_cursor *c)
{
    uint64_t all = atomic_load_explicit(&l->st->records, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&c->record, memory_order_relaxed);
    return all > done ? all - done : 0;
}

void ob_fwdlog_stats(const struct ob_fwdlog *l, struct ob_fwdlog_stats *out)
{
    const struct ob_fwdlog_state *st = l->st;
    out->cap = l->cap;
    out->head = atomic_load_explicit(&st->head, memory_order_relaxed);
    out->tail = atomic_load_explicit(&st->tail, memory_order_relaxed);
    out->used = out->head - out->tail;
    out->records = atomic_load_explicit(&st->records, memory_order_relaxed);
    out->overwritten = atomic_load_explicit(&st->overwritten, memory_order_relaxed);
}

/* ---- open, check, close -------------------------------------------------------- */

/* "/name" is POSIX shared memory, any other path a file: the store's rule. */
static bool is_shm(const char *path)
{
    return path[0] == '/' && !strchr(path + 1, '/');
}

static int open_path(const char *path, int flags)
{
    return is_shm(path) ? shm_open(path, flags, 0600) : open(path, flags, 0600);
}

/* Whether the chunks from tail lead exactly to head with consecutive record
 * numbers; cursors outside [tail, head] or between chunks are moved to the
 * next chunk (a cursor before the tail stays: its reader learns what it
 * lost).  Attach, before any reader or writer. */
static bool check_log(struct ob_fwdlog *l, char why[OB_ERR_LEN / 2])
{
    struct ob_fwdlog_state *st = l->st;
    uint64_t head = st->head, tail = st->tail, rec = st->tail_record;
    if (tail > head || head - tail > l->cap || rec > st->records) {
        snprintf(why, OB_ERR_LEN / 2, "tail %llu, head %llu, capacity %llu", (unsigned long long)tail,
                 (unsigned long long)head, (unsigned long long)l->cap);
        return false;
    }
    bool fixed[OB_FWDLOG_TARGETS] = {false};
    for (uint64_t p = tail;;) {
        for (uint32_t i = 0; i < OB_FWDLOG_TARGETS; i++) {
            struct ob_fwd_cursor *c = &st->cursors[i];
            if (!c->name[0] || fixed[i])
                continue;
            if (c->pos < tail) {
                fixed[i] = true;
            } else if (c->pos <= p) { /* at p, or between chunks before it */
                c->pos = p;
                c->record = rec;
                if (p == head)
                    c->wall_ms = ob_now_ns() / 1000000;
                else if (room_to_end(l, p) >= HDR)
                    c->wall_ms = chunk_at(l, p)->wall_ms;
                fixed[i] = true;
            }
        }
        if (p == head)
            break;
        uint32_t n;
        uint64_t next = next_pos(l, p, &n);
        if (!next || next > head || (n && chunk_at(l, p)->first_record != rec)) {
            snprintf(why, OB_ERR_LEN / 2, "no valid chunk at position %llu", (unsigned long long)p);
            return false;
        }
        rec += n;
        p = next;
    }
    if (rec != st->records) {
        snprintf(why, OB_ERR_LEN / 2, "%llu records counted, %llu recorded", (unsigned long long)rec,
                 (unsigned long long)st->records);
        return false;
    }
    return true;
}

static void init_log(struct ob_fwdlog *l, const struct ob_fwdlog_opts *o, uint64_t page)
{
    struct ob_fwdlog_hdr *h = l->hdr;
    memset(l->base, 0, page); /* the ring's bytes are never read before written */
    h->version = OB_FWDLOG_VERSION;
    h->hdr_size = sizeof *h;
    h->page_size = page;
    h->cap = l->cap;
    h->data_off = page;
    h->store_created_ns = o->store_created_ns;
    ob_lock_init(&l->st->lock);
    atomic_thread_fence(memory_order_release);
    memcpy(h->magic, OB_FWDLOG_MAGIC, 8);
}

int ob_fwdlog_open(const struct ob_fwdlog_opts *o, struct ob_fwdlog **out, char err[OB_ERR_LEN],
                   bool *out_restarted)
{
    err[0] = '\0';
    *out = NULL;
    *out_restarted = false;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t cap = OB_MAX(o->cap, (uint64_t)OB_FWDLOG_MIN_CAP);
    cap = (cap + page - 1) / page * page;
    uint64_t size = page + cap;
    int fd = open_path(o->path, O_RDWR | O_CREAT);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, OB_ERR_LEN, "forward log %s: %s", o->path, strerror(errno));
        return rc;
    }
    struct stat stt;
    struct ob_fwdlog_hdr h = {0};
    bool fits = fstat(fd, &stt) == 0 && (uint64_t)stt.st_size == size &&
                pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
    if (!fits || memcmp(h.magic, OB_FWDLOG_MAGIC, 8) || h.version != OB_FWDLOG_VERSION ||
        h.cap != cap || h.page_size != page || h.store_created_ns != o->store_created_ns) {
        if (stt.st_size > 0) {
            *out_restarted = true;
            snprintf(err, OB_ERR_LEN,
                     "forward log %s: %s; started over (unsent records are lost)", o->path,
                     !fits && (uint64_t)stt.st_size != size ? "another size"
                     : memcmp(h.magic, OB_FWDLOG_MAGIC, 8) || h.version != OB_FWDLOG_VERSION
                         ? "not a forward log of this version"
                     : h.store_created_ns != o->store_created_ns ? "made for another store"
                                                                  : "another layout");
        }
        if (ftruncate(fd, 0) || ftruncate(fd, (off_t)size)) {
            int rc = -errno;
            snprintf(err, OB_ERR_LEN, "forward log %s: ftruncate %llu bytes: %s", o->path,
                     (unsigned long long)size, strerror(errno));
            close(fd);
            return rc;
        }
        h.magic[0] = '\0';
    }
    /* Populated now: the ring is written round and round, so every page is
     * needed soon anyway; faulting them in here keeps page faults (and the
     * kernel zeroing pages) off the ingest path, and a host short of memory
     * shows it at start rather than mid-ingest. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        int rc = -errno;
        snprintf(err, OB_ERR_LEN, "forward log %s: mmap %llu bytes: %s", o->path,
                 (unsigned long long)size, strerror(errno));
        return rc;
    }
    struct ob_fwdlog *l = calloc(1, sizeof *l);
    if (!l) {
        munmap(p, size);
        return -ENOMEM;
    }
    *l = (struct ob_fwdlog){.base = p, .map_size = size, .hdr = p,
                            .st = (struct ob_fwdlog_state *)((unsigned char *)p + 256),
                            .ring = (unsigned char *)p + page, .cap = cap};
    char why[OB_ERR_LEN / 2];
    if (!h.magic[0]) {
        init_log(l, o, page);
    } else if (!check_log(l, why)) {
        *out_restarted = true;
        snprintf(err, OB_ERR_LEN, "forward log %s: %s; started over (unsent records are lost)",
                 o->path, why);
        memset(l->hdr->magic, 0, 8);
        init_log(l, o, page);
    }
    *out = l;
    return 0;
}

int ob_fwdlog_open_readonly(const char *path, struct ob_fwdlog **out, char err[OB_ERR_LEN])
{
    *out = NULL;
    int fd = open_path(path, O_RDONLY);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, OB_ERR_LEN, "forward log %s: %s", path, strerror(errno));
        return rc;
    }
    struct stat st;
    struct ob_fwdlog_hdr h = {0};
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof h || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, OB_FWDLOG_MAGIC, 8) != 0) {
        close(fd);
        snprintf(err, OB_ERR_LEN, "forward log %s: not a forward log", path);
        return OB_E_STORE_MAGIC;
    }
    if (h.version != OB_FWDLOG_VERSION || h.data_off + h.cap != (uint64_t)st.st_size) {
        close(fd);
        snprintf(err, OB_ERR_LEN, "forward log %s: version %u, %llu bytes; this build reads version %u",
                 path, h.version, (unsigned long long)st.st_size, OB_FWDLOG_VERSION);
        return OB_E_STORE_VERSION;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    struct ob_fwdlog *l = p == MAP_FAILED ? NULL : calloc(1, sizeof *l);
    if (!l) {
        if (p != MAP_FAILED)
            munmap(p, (size_t)st.st_size);
        snprintf(err, OB_ERR_LEN, "forward log %s: cannot map it", path);
        return -ENOMEM;
    }
    *l = (struct ob_fwdlog){.base = p, .map_size = (size_t)st.st_size, .hdr = p,
                            .st = (struct ob_fwdlog_state *)((unsigned char *)p + 256),
                            .ring = (unsigned char *)p + h.data_off, .cap = h.cap};
    *out = l;
    return 0;
}

bool ob_fwdlog_target(const struct ob_fwdlog *l, uint32_t i, struct ob_fwdlog_target *out)
{
    if (i >= OB_FWDLOG_TARGETS || !l->st->cursors[i].name[0])
        return false;
    const struct ob_fwd_cursor *c = &l->st->cursors[i];
    memcpy(out->name, c->name, sizeof out->name);
    out->name[sizeof out->name - 1] = '\0';
    out->pos = atomic_load_explicit(&c->pos, memory_order_relaxed);
    out->record = atomic_load_explicit(&c->record, memory_order_relaxed);
    out->wall_ms = atomic_load_explicit(&c->wall_ms, memory_order_relaxed);
    out->pending = ob_fwdlog_pending(l, c);
    out->lapped = out->pos < atomic_load_explicit(&l->st->tail, memory_order_relaxed);
    return true;
}

void ob_fwdlog_close(struct ob_fwdlog *l)
{
    if (!l)
        return;
    munmap(l->base, l->map_size);
    free(l);
}

int ob_fwdlog_unlink(const char *path)
{
    return (is_shm(path) ? shm_unlink(path) : unlink(path)) ? -errno : 0;
}
