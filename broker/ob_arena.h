/* ob_arena.h: a bump allocator in chunks, for trees freed all at once.
 *
 * The OTLP decoders (protobuf and JSON) build each request's message tree in
 * one: no free per node, one reset per request, and the memory of the last
 * request is reused by the next.  Reset keeps one chunk for reuse: when the
 * last cycle spilled over several, one chunk as big as it needed (capped at
 * 8 MiB) replaces them.  Not thread-safe: one arena per thread or request.
 * Depends on nothing but libc.
 */
#ifndef OB_ARENA_H
#define OB_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct ob_arena {
    struct ob_arena_chunk *head;
    size_t chunk_size;  /* minimum chunk size */
    size_t used_total;  /* bytes handed out since the last reset */
    bool failed;        /* an allocation failed since the last reset/decode */
};

void ob_arena_init(struct ob_arena *a, size_t chunk_size);
void ob_arena_reset(struct ob_arena *a);
void ob_arena_fini(struct ob_arena *a);
void *ob_arena_alloc(struct ob_arena *a, size_t n); /* 16-byte aligned; NULL on ENOMEM */

/* ob_arena_alloc() and a no-op free shaped as ProtobufCAllocator's alloc and
 * free (data = the arena), for protobuf-c, which allocates ~16 times per data
 * point: the bump is inlined into them. */
void *ob_arena_pbc_alloc(void *arena, size_t n);
void ob_arena_pbc_free(void *arena, void *p);

#endif
