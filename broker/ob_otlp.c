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

#include "ob_common.h"
#include "ob_error.h"

/* Deepest legitimate OTLP nesting is 8 levels (request, resource metrics,
 * scope metrics, metric, sum, point, key/value, any value) plus what the
 * attribute values nest; 64 leaves room for deep kvlists. */
#define MAX_DEPTH 64

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
    ProtobufCAllocator alloc = {ob_arena_pbc_alloc, ob_arena_pbc_free, a};
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
