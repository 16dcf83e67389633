/* ob_otlp.c: OTLP protobuf decoding into an arena, response encoding.
 *
 * Why an arena: protobuf-c allocates every submessage, string and repeated
 * array separately; with malloc that is ~40 calls per data point and the
 * matching free_unpacked walk.  A bump allocator handed to protobuf-c as its
 * ProtobufCAllocator makes decoding about twice as fast (bench/decode_bench;
 * figures in bench/README.md) and "freeing" the whole tree is one
 * ob_arena_reset().
 *
 * Why a pre-scan: protobuf-c (1.4.1) recurses once per nested submessage and
 * has no depth limit.  AnyValue -> ArrayValue/KeyValueList -> AnyValue is a
 * cycle in the schema, so a few hundred KB of nested array headers would
 * overflow the stack of the HTTP thread.  ob_otlp_decode first walks the wire
 * format with a table built from the message descriptors (no allocation, a
 * few % of the unpack time) and refuses bodies nested deeper than MAX_DEPTH.
 */
#include "ob_otlp.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ob_common.h"
#include "ob_error.h"

#define ARENA_ALIGN 16
/* Largest chunk kept across resets: a one-off huge body must not pin its
 * whole tree's memory for the life of the thread. */
#define ARENA_KEEP_MAX ((size_t)8 << 20)
/* Deepest legitimate OTLP nesting is 8 levels (request, resource metrics,
 * scope metrics, metric, sum, point, key/value, any value) plus what the
 * attribute values nest; 64 leaves room for deep kvlists. */
#define MAX_DEPTH 64

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

static void *arena_pbc_alloc(void *data, size_t size)
{
    return ob_arena_alloc(data, size);
}

static void arena_pbc_free(void *data, void *p)
{
    /* Freed all at once by ob_arena_reset(). */
    OB_UNUSED(data);
    OB_UNUSED(p);
}

/* Reads a base-128 varint; false when truncated or longer than 10 bytes. */
static bool read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out_v)
{
    const uint8_t *p = *pp;
    if (OB_LIKELY(p < end && *p < 0x80)) { /* tags and short lengths: one byte */
        *out_v = *p;
        *pp = p + 1;
        return true;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p == end)
            return false;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out_v = v;
            return true;
        }
    }
    return false;
}

/* The scan's view of the schema: for each message type, the node of the
 * message type of each field number (NULL: not a submessage).  Built once
 * from the descriptors; an array index instead of protobuf-c's field search
 * per field keeps the pre-scan cheap. */
#define SCAN_FIELDS 32 /* OTLP field numbers stop at 14 */
#define SCAN_TYPES 64  /* OTLP has ~25 message types */

struct scan_node {
    const struct scan_node *child[SCAN_FIELDS];
};

static struct scan_node scan_nodes[SCAN_TYPES];
static const ProtobufCMessageDescriptor *scan_types[SCAN_TYPES];
static size_t n_scan_types;
static pthread_once_t scan_once = PTHREAD_ONCE_INIT;

static const struct scan_node *scan_build(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_scan_types; i++)
        if (scan_types[i] == d)
            return &scan_nodes[i];
    assert(n_scan_types < SCAN_TYPES);
    size_t me = n_scan_types++;
    scan_types[me] = d; /* registered first: the schema has cycles */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        assert(f->id < SCAN_FIELDS); /* a schema change must grow SCAN_FIELDS */
        scan_nodes[me].child[f->id] = scan_build(f->descriptor);
    }
    return &scan_nodes[me];
}

static void scan_init(void)
{
    scan_build(&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor);
}

/* Walks one message's fields, descending into submessage fields long enough
 * to nest past MAX_DEPTH, and fails past MAX_DEPTH or on framing protobuf-c
 * would reject anyway.  Field content (strings, packed arrays) and the
 * framing inside short submessages are left to protobuf-c. */
static bool scan_depth(const struct scan_node *node, const uint8_t *p, const uint8_t *end,
                       int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    while (p < end) {
        uint64_t tag;
        if (!read_varint(&p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
            return false;
        uint64_t n;
        switch (tag & 7) {
        case 0: /* varint */
            if (!read_varint(&p, end, &n))
                return false;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return false;
            p += 4;
            break;
        case 2: { /* length-delimited */
            if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return false;
            uint64_t field = tag >> 3;
            const struct scan_node *child = field < SCAN_FIELDS ? node->child[field] : NULL;
            /* Each level of nesting costs at least a tag and a length byte,
             * so n bytes nest at most n / 2 levels: most submessages (every
             * attribute, most data points) are too short to need a look. */
            if (child && depth + 1 + n / 2 > MAX_DEPTH && !scan_depth(child, p, p + n, depth + 1))
                return false;
            p += n;
            break;
        }
        default: /* groups (3, 4) and reserved types: protobuf-c refuses them too */
            return false;
        }
    }
    return true;
}

int ob_otlp_decode(struct ob_arena *a, const void *data, size_t len, ob_otlp_request **out)
{
    const ProtobufCMessageDescriptor *d =
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    static const uint8_t empty[1];
    const uint8_t *p = len ? data : empty; /* no arithmetic on a NULL body */
    if (!p)
        return OB_E_MALFORMED;
    pthread_once(&scan_once, scan_init);
    if (!scan_depth(&scan_nodes[0], p, p + len, 0))
        return OB_E_MALFORMED;
    ProtobufCAllocator alloc = {arena_pbc_alloc, arena_pbc_free, a};
    a->failed = false;
    ob_otlp_request *req = (ob_otlp_request *)protobuf_c_message_unpack(d, &alloc, len, p);
    if (!req)
        return a->failed ? -ENOMEM : OB_E_MALFORMED;
    *out = req;
    return 0;
}

int ob_otlp_encode_response(int64_t rejected, const char *msg, struct ob_buf *out)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
    /* Emit what proto3 would: zero and "" are absent on the wire. */
    if (rejected != 0) {
        ps.has_rejected_data_points = true;
        ps.rejected_data_points = rejected;
    }
    if (msg && *msg)
        ps.error_message = (char *)msg;
    if (ps.has_rejected_data_points || ps.error_message)
        resp.partial_success = &ps;
    size_t n = protobuf_c_message_get_packed_size(&resp.base);
    if (n == 0)
        return 0;
    if (!ob_buf_reserve(out, n))
        return -ENOMEM;
    out->len += protobuf_c_message_pack(&resp.base, (uint8_t *)out->data + out->len);
    return 0;
}
