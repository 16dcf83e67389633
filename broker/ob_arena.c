/* ob_arena.c: the bump allocator decoded requests live in (ob_arena.h).
 *
 * Chunks of at least chunk_size bytes, 16-byte aligned blocks.  The common
 * allocation is a bump of the head chunk, inlined into the protobuf-c hook
 * below; anything else (a new chunk, a big block, an impossible size) is the
 * out-of-line slow path.
 */
#include "ob_arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "ob_common.h"

#define ARENA_ALIGN 16
/* Largest chunk kept across resets: a one-off huge body must not pin its
 * whole tree's memory for the life of the thread. */
#define ARENA_KEEP_MAX ((size_t)8 << 20)

struct ob_arena_chunk {
    struct ob_arena_chunk *next;
    size_t size; /* bytes in data[] */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};
_Static_assert(offsetof(struct ob_arena_chunk, data) % ARENA_ALIGN == 0, "chunk data alignment");

static size_t align_up(size_t n)
{
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

static struct ob_arena_chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct ob_arena_chunk))
        return NULL;
    struct ob_arena_chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void ob_arena_init(struct ob_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size < 1024 ? 1024 : align_up(chunk_size);
    a->used_total = 0;
    a->failed = false;
}

/* ob_arena_alloc() when the head chunk has no room (or n is 0 or huge). */
static OB_NOINLINE void *arena_alloc_slow(struct ob_arena *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN) {
        a->failed = true;
        return NULL;
    }
    n = align_up(n ? n : 1);
    struct ob_arena_chunk *c = a->head;
    if (OB_UNLIKELY(!c || c->size - c->used < n)) {
        if (n > a->chunk_size / 4 && c) {
            /* Big block: its own chunk behind the head, so the room left in
             * the current chunk stays usable for the small ones. */
            struct ob_arena_chunk *big = chunk_new(n);
            if (!big) {
                a->failed = true;
                return NULL;
            }
            big->used = n;
            big->next = c->next;
            c->next = big;
            a->used_total += n;
            return big->data;
        }
        c = chunk_new(OB_MAX(a->chunk_size, n));
        if (!c) {
            a->failed = true;
            return NULL;
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used_total += n;
    return p;
}

void *ob_arena_alloc(struct ob_arena *a, size_t n)
{
    /* protobuf-c calls this ~16 times per data point: the common case is a
     * bump of the head chunk.  Chunk sizes and fill are multiples of
     * ARENA_ALIGN, so n <= room implies align_up(n) <= room. */
    struct ob_arena_chunk *c = a->head;
    if (OB_LIKELY(c && n - 1 < c->size - c->used)) {
        n = align_up(n);
        void *p = c->data + c->used;
        c->used += n;
        a->used_total += n;
        return p;
    }
    return arena_alloc_slow(a, n);
}

void ob_arena_reset(struct ob_arena *a)
{
    struct ob_arena_chunk *c = a->head;
    if (c && c->next) {
        /* The last cycle spilled over one chunk: replace them all by one as
         * big as it needed (capped), so the same request size next time is
         * served from a single chunk without calling malloc. */
        size_t want = a->used_total + a->used_total / 4;
        want = OB_MAX(OB_MIN(want, ARENA_KEEP_MAX), a->chunk_size);
        while (c) {
            struct ob_arena_chunk *next = c->next;
            free(c);
            c = next;
        }
        c = chunk_new(align_up(want)); /* NULL is fine: the next alloc retries */
    }
    if (c)
        c->used = 0;
    a->head = c;
    a->used_total = 0;
    a->failed = false;
}

void ob_arena_fini(struct ob_arena *a)
{
    if (!a)
        return;
    struct ob_arena_chunk *c = a->head;
    while (c) {
        struct ob_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *ob_arena_pbc_alloc(void *arena, size_t n)
{
    return ob_arena_alloc(arena, n); /* inlined: the same translation unit */
}

void ob_arena_pbc_free(void *arena, void *p)
{
    /* Freed all at once by ob_arena_reset(). */
    OB_UNUSED(arena);
    OB_UNUSED(p);
}
