/* ob_otlp_json.c: OTLP/JSON -> the protobuf-c ExportMetricsServiceRequest tree.
 *
 * json-c parses the body into its own tree; one generic walker then decodes
 * every message type, driven by protobuf-c's own descriptors (field names,
 * types, offsets, has_x/case/count offsets, sub-message and enum
 * descriptors) plus a short table of what OTLP/JSON does differently (hex
 * ids, presence fields, the AnyValue nesting limit).  A message's JSON fields
 * are walked in document order (no hash lookups): the key's first letter
 * picks the candidate fields from a table built once per message type, and
 * name_eq() matches the snake_case proto name or its lowerCamelCase form.
 * Everything the ingest core sees (messages, repeated arrays, strings, bytes)
 * is allocated in the request arena; the json-c tree is freed before return.
 *
 * Errors carry the field path.  It costs nothing on the good path: a failing
 * leaf records why, and every level appends its key or index while the
 * recursion unwinds; the path is rendered once, outermost first.
 *
 * Values are written at the descriptors' offsets through pointers of the
 * members' C types, and repeated message fields through a generic void **
 * array, the way protobuf-c's own unpacker fills them: every object pointer
 * has the same representation on the platforms we build for.
 *
 * The response (partialSuccess) is a json-c object too, printed plain; only
 * the UTF-8 repair of the message (U+FFFD per bad byte) is ours.
 */
#include "ob_otlp_json.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "ob_common.h"
#include "ob_error.h"
#include "ob_utf8.h"

/* The fixed OTLP levels go about 15 deep (request ... exemplar, attribute,
 * value); each AnyValue level adds 3 (arrayValue) or 4 (kvlistValue).  The
 * tokener allows a little more than our own AnyValue cap, so that cap, with
 * its field path, is what a deep request normally meets. */
#define TOKENER_DEPTH (24 + 4 * OB_OTLP_JSON_MAX_VALUE_DEPTH)

/* One step of the error path: an object key, or (key == NULL) an array index. */
struct seg {
    const char *key;
    size_t idx;
};

struct dec {
    struct ob_arena *a;
    const char *why; /* leaf problem: static text, or why_buf */
    int rc;          /* OB_E_MALFORMED or -ENOMEM */
    int depth;       /* AnyValue nesting */
    size_t nseg;
    struct seg seg[TOKENER_DEPTH]; /* at most one per JSON nesting level */
    char why_buf[64];              /* a problem that names a type */
};

static const char E_OBJECT[] = "expected an object";
static const char E_ARRAY[] = "expected an array";
static const char E_STRING[] = "expected a string";
static const char E_INTEGER[] = "expected an integer";
static const char E_NUMBER[] = "expected a number";
static const char E_BOOL[] = "expected a boolean";
static const char E_RANGE[] = "integer out of range";
static const char E_NEGATIVE[] = "expected an unsigned integer";

/* ---- errors and allocation ----------------------------------------------- */

static int fail(struct dec *c, const char *why)
{
    c->why = why;
    c->rc = OB_E_MALFORMED;
    return -1;
}

static int nomem(struct dec *c)
{
    c->why = "out of memory";
    c->rc = -ENOMEM;
    return -1;
}

static int at_key(struct dec *c, const char *key)
{
    if (c->nseg < OB_ARRAY_LEN(c->seg))
        c->seg[c->nseg++] = (struct seg){key, 0};
    return -1;
}

static int at_idx(struct dec *c, size_t idx)
{
    if (c->nseg < OB_ARRAY_LEN(c->seg))
        c->seg[c->nseg++] = (struct seg){NULL, idx};
    return -1;
}

/* Appends s to err[*pos..cap), always NUL-terminating, truncating quietly. */
static void err_put(char *err, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos + 1 >= cap)
        return;
    n = OB_MIN(n, cap - 1 - *pos);
    memcpy(err + *pos, s, n);
    *pos += n;
    err[*pos] = '\0';
}

/* "path: why".  A path too long for err is cut in the middle, "a.b...y.z",
 * so that both the top of the path and the problem stay readable. */
static void render_error(const struct dec *c, char *err, size_t cap)
{
    char path[8192]; /* segments are known field names (< 32) or indexes: enough for every level */
    size_t pos = 0;
    if (!err || cap == 0)
        return;
    path[0] = '\0';
    for (size_t i = c->nseg; i-- > 0;) {
        const struct seg *s = &c->seg[i];
        if (s->key) {
            if (pos)
                err_put(path, sizeof path, &pos, ".", 1);
            err_put(path, sizeof path, &pos, s->key, strlen(s->key));
        } else {
            char b[32];
            int n = snprintf(b, sizeof b, "[%zu]", s->idx);
            err_put(path, sizeof path, &pos, b, (size_t)n);
        }
    }
    if (pos == 0)
        err_put(path, sizeof path, &pos, "request", 7);
    size_t why = strlen(c->why), room = cap - 1;
    if (pos + 2 + why > room && room > why + 2 + 3 + 16) {
        size_t keep = room - why - 2 - 3, head = keep / 2, tail = keep - head;
        snprintf(err, cap, "%.*s...%s: %s", (int)head, path, path + pos - tail, c->why);
    } else {
        snprintf(err, cap, "%s: %s", path, c->why);
    }
}

static void *alloc(struct dec *c, size_t n)
{
    return ob_arena_alloc(c->a, n);
}

/* ---- field names --------------------------------------------------------- */

/* True when key is the proto field name `snake` ("time_unix_nano") or its
 * lowerCamelCase JSON name ("timeUnixNano"). */
static bool name_eq(const char *key, const char *snake)
{
    for (;;) {
        char s = *snake++;
        char k = *key++;
        if (s == '_' && k >= 'A' && k <= 'Z') {
            if (k - 'A' + 'a' != *snake)
                return false;
            snake++;
            continue;
        }
        if (s != k)
            return false;
        if (s == '\0')
            return true;
    }
}

static bool is_object(struct json_object *o)
{
    return json_object_get_type(o) == json_type_object;
}

static struct lh_entry *first_field(struct json_object *o)
{
    return lh_table_head(json_object_get_object(o));
}

/* ---- scalars ------------------------------------------------------------- */

/* Digits only, no sign: the proto3 JSON string form of a 64-bit integer. */
static bool parse_u64_text(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* An integer-valued JSON number or decimal string, as sign and magnitude.
 * json-c 0.16 clamps integer literals beyond 64 bits to INT64_MIN and
 * UINT64_MAX without telling, so those two values are refused as out of
 * range rather than misread; the canonical string form has no such limit. */
static int get_integer(struct dec *c, struct json_object *v, bool *out_neg, uint64_t *out_mag)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MIN)
            return fail(c, E_RANGE);
        if (i == INT64_MAX) {
            uint64_t u = json_object_get_uint64(v);
            if (u == UINT64_MAX)
                return fail(c, E_RANGE);
            *out_neg = false;
            *out_mag = u;
            return 0;
        }
        *out_neg = i < 0;
        *out_mag = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
        return 0;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        if (d != floor(d)) /* also NaN and infinities */
            return fail(c, E_INTEGER);
        if (fabs(d) >= 18446744073709551616.0)
            return fail(c, E_RANGE);
        *out_neg = d < 0;
        *out_mag = (uint64_t)fabs(d);
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        bool neg = n > 0 && s[0] == '-';
        if (!parse_u64_text(s + neg, n - neg, out_mag)) {
            for (size_t i = neg; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                    return fail(c, E_INTEGER);
            return fail(c, n > (size_t)neg ? E_RANGE : E_INTEGER);
        }
        *out_neg = neg;
        return 0;
    }
    default:
        return fail(c, E_INTEGER);
    }
}

static int get_u64(struct dec *c, struct json_object *v, uint64_t *out)
{
    bool neg;
    uint64_t m;
    if (get_integer(c, v, &neg, &m))
        return -1;
    if (neg && m != 0)
        return fail(c, E_NEGATIVE);
    *out = m;
    return 0;
}

static int get_i64(struct dec *c, struct json_object *v, int64_t *out)
{
    bool neg;
    uint64_t m;
    if (get_integer(c, v, &neg, &m))
        return -1;
    if (m > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return fail(c, E_RANGE);
    *out = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

static int get_u32(struct dec *c, struct json_object *v, uint32_t *out)
{
    uint64_t u;
    if (get_u64(c, v, &u))
        return -1;
    if (u > UINT32_MAX)
        return fail(c, E_RANGE);
    *out = (uint32_t)u;
    return 0;
}

static int get_i32(struct dec *c, struct json_object *v, int32_t *out)
{
    int64_t i;
    if (get_i64(c, v, &i))
        return -1;
    if (i < INT32_MIN || i > INT32_MAX)
        return fail(c, E_RANGE);
    *out = (int32_t)i;
    return 0;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * strtod alone would also take hex, "inf", spaces and trailing junk. */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

static int get_double(struct dec *c, struct json_object *v, double *out)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        *out = json_object_get_double(v);
        return 0;
    case json_type_int: {
        bool neg;
        uint64_t m;
        if (get_integer(c, v, &neg, &m))
            return -1;
        *out = neg ? -(double)m : (double)m;
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n == 3 && memcmp(s, "NaN", 3) == 0)
            *out = NAN;
        else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
            *out = INFINITY;
        else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
            *out = -INFINITY;
        else if (is_json_number(s, n))
            *out = strtod(s, NULL); /* s is NUL-terminated right after the number */
        else
            return fail(c, E_NUMBER);
        return 0;
    }
    default:
        return fail(c, E_NUMBER);
    }
}

static int get_bool(struct dec *c, struct json_object *v, protobuf_c_boolean *out)
{
    if (json_object_get_type(v) != json_type_boolean)
        return fail(c, E_BOOL);
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 0;
}

/* Copies a JSON string into the arena.  keep_empty: a oneof member is
 * present even when empty; elsewhere "" stays NULL like an omitted proto3
 * string (the ingest core reads NULL as ""). */
static int get_str(struct dec *c, struct json_object *v, bool keep_empty, char **out)
{
    if (json_object_get_type(v) != json_type_string)
        return fail(c, E_STRING);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0 && !keep_empty) {
        *out = NULL;
        return 0;
    }
    char *s = alloc(c, n + 1);
    if (!s)
        return nomem(c);
    memcpy(s, json_object_get_string(v), n);
    s[n] = '\0';
    *out = s;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* OTLP/JSON sends trace and span ids as hex, not base64. */
static int get_hex(struct dec *c, struct json_object *v, ProtobufCBinaryData *out)
{
    if (json_object_get_type(v) != json_type_string)
        return fail(c, E_STRING);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n % 2)
        return fail(c, "expected an even number of hex digits");
    uint8_t *b = NULL;
    if (n && !(b = alloc(c, n / 2)))
        return nomem(c);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail(c, "expected hex digits");
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = (ProtobufCBinaryData){n / 2, b};
    return 0;
}

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* base64 as proto3 JSON readers take it: standard or URL-safe alphabet,
 * padding optional. */
static int get_base64(struct dec *c, struct json_object *v, ProtobufCBinaryData *out)
{
    if (json_object_get_type(v) != json_type_string)
        return fail(c, E_STRING);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return fail(c, "invalid base64");
    uint8_t *b = alloc(c, n / 4 * 3 + 3);
    if (!b)
        return nomem(c);
    size_t len = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64val(s[i]);
        if (d < 0)
            return fail(c, "invalid base64");
        acc = acc << 6 | (uint32_t)d;
        if (i % 4 == 3) {
            b[len++] = (uint8_t)(acc >> 16);
            b[len++] = (uint8_t)(acc >> 8);
            b[len++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        b[len++] = (uint8_t)(acc >> 4);
    } else if (n % 4 == 3) {
        b[len++] = (uint8_t)(acc >> 10);
        b[len++] = (uint8_t)(acc >> 2);
    }
    *out = (ProtobufCBinaryData){len, b};
    return 0;
}

/* ---- field tables --------------------------------------------------------- */

/* How a field's JSON value is read.  Almost all of it follows from the
 * protobuf-c field type; K_HEX is the one OTLP/JSON exception. */
enum kind { K_U64, K_I64, K_U32, K_I32, K_DOUBLE, K_BOOL, K_ENUM, K_STRING, K_BASE64, K_HEX, K_MESSAGE };

/* Bytes per element of a repeated field (a message's element is its
 * pointer); is_default() relies on the scalars being 4 or 8 bytes. */
static const uint8_t kind_size[] = {
    [K_U64] = sizeof(uint64_t),    [K_I64] = sizeof(int64_t),
    [K_U32] = sizeof(uint32_t),    [K_I32] = sizeof(int32_t),
    [K_DOUBLE] = sizeof(double),   [K_BOOL] = sizeof(protobuf_c_boolean),
    [K_ENUM] = sizeof(int32_t),    [K_STRING] = sizeof(char *),
    [K_BASE64] = sizeof(ProtobufCBinaryData), [K_HEX] = sizeof(ProtobufCBinaryData),
    [K_MESSAGE] = sizeof(void *),
};
_Static_assert(sizeof(protobuf_c_boolean) == sizeof(uint32_t), "is_default() reads a bool as 32 bits");

struct msg;

/* One field, flattened from its ProtobufCFieldDescriptor for the walk. */
struct field {
    const char *name;                  /* snake_case; name_eq() also takes lowerCamelCase */
    const struct msg *sub;             /* K_MESSAGE */
    const ProtobufCEnumDescriptor *en; /* K_ENUM */
    unsigned id;                       /* the oneof case value */
    unsigned offset;                   /* value, or array pointer when repeated */
    unsigned qoffset;                  /* has_x, x_case or n_x; 0 when there is none */
    uint8_t kind;
    bool repeated;
    bool oneof;
    bool always_present; /* has_x even for a zero: a proto3 `optional` upstream */
};

/* One message type.  Its fields are sorted by first letter: those starting
 * with 'a' + i are fields[first[i] .. first[i + 1]), so a key is compared
 * with at most three field names (NumberDataPoint's "a": as_double, as_int,
 * attributes). */
struct msg {
    const ProtobufCMessageDescriptor *d;
    const struct field *fields;
    bool nesting; /* counts towards OB_OTLP_JSON_MAX_VALUE_DEPTH */
    uint8_t first[27];
};

/* What the descriptors cannot say about OTLP/JSON.  field NULL: the rule is
 * about the message itself. */
enum rule { R_NONE, R_HEX, R_PRESENT, R_NESTING };

static const struct {
    const ProtobufCMessageDescriptor *msg;
    const char *field;
    enum rule rule;
} exceptions[] = {
    /* OTLP/JSON sends trace and span ids as hex, not base64. */
    {&opentelemetry__proto__metrics__v1__exemplar__descriptor, "trace_id", R_HEX},
    {&opentelemetry__proto__metrics__v1__exemplar__descriptor, "span_id", R_HEX},
    /* Presence fields: proto3 `optional` upstream, so has_x whenever sent,
     * zero included; our proto2 copy cannot tell them from the rest. */
    {&opentelemetry__proto__metrics__v1__histogram_data_point__descriptor, "sum", R_PRESENT},
    {&opentelemetry__proto__metrics__v1__histogram_data_point__descriptor, "min", R_PRESENT},
    {&opentelemetry__proto__metrics__v1__histogram_data_point__descriptor, "max", R_PRESENT},
    {&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor, "sum", R_PRESENT},
    {&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor, "min", R_PRESENT},
    {&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor, "max", R_PRESENT},
    /* The one recursion a client controls (AnyValue -> ArrayValue/KeyValueList -> AnyValue). */
    {&opentelemetry__proto__common__v1__any_value__descriptor, NULL, R_NESTING},
};

/* Built once (pthread_once) from the request's descriptor down: the OTLP
 * metrics protos have 23 message types and 98 fields. */
static struct msg msgs[32];
static struct field fields[128];
static size_t n_msgs, n_fields;
static const struct msg *request_table;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static enum rule rule_for(const ProtobufCMessageDescriptor *d, const char *field)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(exceptions); i++) {
        const char *ef = exceptions[i].field;
        if (exceptions[i].msg == d && (ef == field || (ef && field && strcmp(ef, field) == 0)))
            return exceptions[i].rule;
    }
    return R_NONE;
}

static enum kind kind_of(const ProtobufCFieldDescriptor *fd, enum rule r)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return K_U64;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return K_I64;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return K_U32;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return K_I32;
    case PROTOBUF_C_TYPE_DOUBLE:
        return K_DOUBLE;
    case PROTOBUF_C_TYPE_BOOL:
        return K_BOOL;
    case PROTOBUF_C_TYPE_ENUM:
        return K_ENUM;
    case PROTOBUF_C_TYPE_STRING:
        return K_STRING;
    case PROTOBUF_C_TYPE_BYTES:
        return r == R_HEX ? K_HEX : K_BASE64;
    default:
        /* No float in the OTLP metrics protos. */
        assert(fd->type == PROTOBUF_C_TYPE_MESSAGE);
        return K_MESSAGE;
    }
}

static const struct msg *table_for(const ProtobufCMessageDescriptor *d);

static void fill_field(struct field *f, const ProtobufCMessageDescriptor *d,
                       const ProtobufCFieldDescriptor *fd)
{
    enum rule r = rule_for(d, fd->name);
    *f = (struct field){
        .name = fd->name,
        .en = fd->type == PROTOBUF_C_TYPE_ENUM ? fd->descriptor : NULL,
        .id = fd->id,
        .offset = fd->offset,
        .qoffset = fd->quantifier_offset,
        .kind = (uint8_t)kind_of(fd, r),
        .repeated = fd->label == PROTOBUF_C_LABEL_REPEATED,
        .oneof = (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0,
        .always_present = r == R_PRESENT,
    };
    /* After *f is written: table_for() recurses, and the graph has a cycle. */
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        f->sub = table_for(fd->descriptor);
}

/* d's table, built on first use; fields sorted by first letter. */
static const struct msg *table_for(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_msgs; i++)
        if (msgs[i].d == d)
            return &msgs[i];
    assert(n_msgs < OB_ARRAY_LEN(msgs) && n_fields + d->n_fields <= OB_ARRAY_LEN(fields));
    struct msg *t = &msgs[n_msgs++];
    struct field *fs = &fields[n_fields];
    n_fields += d->n_fields;
    t->d = d;
    t->fields = fs;
    t->nesting = rule_for(d, NULL) == R_NESTING;
    unsigned j = 0;
    for (unsigned ch = 0; ch < 26; ch++) {
        t->first[ch] = (uint8_t)j;
        for (unsigned i = 0; i < d->n_fields; i++)
            if (d->fields[i].name[0] == (char)('a' + ch))
                fill_field(&fs[j++], d, &d->fields[i]);
    }
    t->first[26] = (uint8_t)j;
    assert(j == d->n_fields); /* proto field names are lower_snake_case */
    return t;
}

static void build_tables(void)
{
    request_table = table_for(&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor);
}

static const struct field *find_field(const struct msg *t, const char *key)
{
    unsigned ch = (unsigned)((unsigned char)key[0] - 'a');
    if (ch >= 26)
        return NULL;
    for (unsigned i = t->first[ch]; i < t->first[ch + 1]; i++)
        if (name_eq(key, t->fields[i].name))
            return &t->fields[i];
    return NULL;
}

/* ---- the walk -------------------------------------------------------------- */

/* An enum as its number or its value's name.  Unknown numbers pass, as
 * protobuf-c passes them; the ingest core decides. */
static int get_enum(struct dec *c, const ProtobufCEnumDescriptor *en, struct json_object *v,
                    void *out)
{
    int32_t x;
    if (json_object_get_type(v) != json_type_string) {
        if (get_i32(c, v, &x))
            return -1;
    } else {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(en, json_object_get_string(v));
        if (!ev) {
            snprintf(c->why_buf, sizeof c->why_buf, "unknown %s name", en->short_name);
            return fail(c, c->why_buf);
        }
        x = ev->value;
    }
    memcpy(out, &x, sizeof x); /* an enum-typed member: protobuf-c makes them int-sized */
    return 0;
}

static int dec_message(struct dec *c, const struct msg *t, struct json_object *o, void *out);

/* A single sub-message, in its own arena block. */
static int get_message(struct dec *c, const struct msg *t, struct json_object *v, void *out_ptr)
{
    void *m = alloc(c, t->d->sizeof_message);
    if (!m)
        return nomem(c);
    memcpy(out_ptr, &m, sizeof m);
    return dec_message(c, t, v, m);
}

/* Decodes one value of field f into p, which has the member's C type. */
static int get_value(struct dec *c, const struct field *f, struct json_object *v, void *p)
{
    switch ((enum kind)f->kind) {
    case K_U64:
        return get_u64(c, v, p);
    case K_I64:
        return get_i64(c, v, p);
    case K_U32:
        return get_u32(c, v, p);
    case K_I32:
        return get_i32(c, v, p);
    case K_ENUM:
        return get_enum(c, f->en, v, p);
    case K_DOUBLE:
        return get_double(c, v, p);
    case K_BOOL:
        return get_bool(c, v, p);
    case K_STRING:
        /* A oneof member is present even when empty, and so is an array
         * element; elsewhere "" stays NULL like an omitted proto3 string (the
         * ingest core reads NULL as ""). */
        return get_str(c, v, f->oneof || f->repeated, p);
    case K_BASE64:
        return get_base64(c, v, p);
    case K_HEX:
        return get_hex(c, v, p);
    case K_MESSAGE:
        break;
    }
    return get_message(c, f->sub, v, p);
}

/* Whether the scalar at p is the proto3 default, which a proto3 encoder
 * omits: empty bytes, or all bits zero (so -0.0 and NaN are sent). */
static bool is_default(const void *p, enum kind k)
{
    if (k == K_BASE64 || k == K_HEX)
        return ((const ProtobufCBinaryData *)p)->len == 0;
    if (kind_size[k] == sizeof(uint64_t)) {
        uint64_t bits;
        memcpy(&bits, p, sizeof bits);
        return bits == 0;
    }
    uint32_t bits; /* the 32-bit kinds, bool and enums included */
    memcpy(&bits, p, sizeof bits);
    return bits == 0;
}

/* A JSON array into a repeated field: n_x and the element array.  Messages
 * go into one arena block behind the pointer array protobuf-c uses.  The
 * products cannot overflow: every element took at least one byte of a
 * < 2 GiB body. */
static int get_repeated(struct dec *c, const struct field *f, struct json_object *v, char *m)
{
    if (json_object_get_type(v) != json_type_array)
        return fail(c, E_ARRAY);
    size_t n = json_object_array_length(v);
    char *arr = NULL, *block = NULL;
    if (n && !(arr = alloc(c, n * kind_size[f->kind])))
        return nomem(c);
    if (n && f->kind == K_MESSAGE && !(block = alloc(c, n * f->sub->d->sizeof_message)))
        return nomem(c);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        int rc;
        if (block) {
            void *sub = block + i * f->sub->d->sizeof_message;
            memcpy(arr + i * sizeof sub, &sub, sizeof sub);
            rc = dec_message(c, f->sub, e, sub);
        } else {
            rc = get_value(c, f, e, arr + i * kind_size[f->kind]);
        }
        if (rc)
            return at_idx(c, i);
    }
    memcpy(m + f->qoffset, &n, sizeof n);
    memcpy(m + f->offset, &arr, sizeof arr);
    return 0;
}

/* One field of message m, with its presence: a oneof member sets the case
 * (like protobuf, the last member sent wins); a presence field (has_x) is set
 * as protobuf decoding of a proto3 encoder's output sets it, i.e. only for a
 * value other than the default, unless the field is a proto3 `optional`
 * upstream. */
static int get_field(struct dec *c, const struct field *f, struct json_object *v, char *m)
{
    if (f->repeated)
        return get_repeated(c, f, v, m);
    if (get_value(c, f, v, m + f->offset))
        return -1;
    if (f->oneof) {
        uint32_t id = f->id;
        memcpy(m + f->qoffset, &id, sizeof id);
    } else if (f->qoffset) {
        protobuf_c_boolean has = f->always_present || !is_default(m + f->offset, f->kind);
        memcpy(m + f->qoffset, &has, sizeof has);
    }
    return 0;
}

/* Every message type: fields in document order (no hash lookups), unknown
 * keys skipped, null meaning absent. */
static int dec_message(struct dec *c, const struct msg *t, struct json_object *o, void *out)
{
    t->d->message_init(out);
    if (!is_object(o))
        return fail(c, E_OBJECT);
    if (t->nesting && ++c->depth > OB_OTLP_JSON_MAX_VALUE_DEPTH)
        return fail(c, "values nested too deeply");
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        const struct field *f;
        if (v && (f = find_field(t, k)) && get_field(c, f, v, out))
            return at_key(c, k);
    }
    if (t->nesting)
        c->depth--;
    return 0;
}

/* ---- entry points --------------------------------------------------------- */

/* One tokener per thread, kept across requests: it owns a parse stack and a
 * string buffer that has grown to the longest string seen. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;
static int tok_key_rc;

static void tok_free(void *p)
{
    json_tokener_free(p);
}

static void tok_key_init(void)
{
    tok_key_rc = pthread_key_create(&tok_key, tok_free);
}

static struct json_tokener *thread_tokener(void)
{
    if (pthread_once(&tok_once, tok_key_init) != 0 || tok_key_rc != 0)
        return NULL;
    struct json_tokener *tok = pthread_getspecific(tok_key);
    if (!tok) {
        tok = json_tokener_new_ex(TOKENER_DEPTH);
        if (!tok)
            return NULL;
        if (pthread_setspecific(tok_key, tok) != 0) {
            json_tokener_free(tok);
            return NULL;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    } else {
        json_tokener_reset(tok);
    }
    return tok;
}

static struct json_object *parse(struct json_tokener *tok, const char *s, size_t len, char *err,
                                 size_t err_cap, int *out_rc)
{
    struct json_object *root = json_tokener_parse_ex(tok, s, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!root && je == json_tokener_continue) {
        /* A body ending in a bare number needs the terminating NUL to finish. */
        root = json_tokener_parse_ex(tok, "", 1);
        je = json_tokener_get_error(tok);
        end = len;
    }
    if (root && end < len) {
        json_object_put(root);
        root = NULL;
        je = json_tokener_error_parse_unexpected;
    }
    if (!root) {
        if (err && err_cap)
            snprintf(err, err_cap, "JSON parse error at offset %zu: %s",
                     OB_MIN(end, len), json_tokener_error_desc(je));
        *out_rc = OB_E_MALFORMED;
    }
    return root;
}

int ob_otlp_json_decode(struct ob_arena *a, const void *data, size_t len, ob_otlp_request **out,
                        char *err, size_t err_cap)
{
    int rc = OB_E_MALFORMED;
    if (err && err_cap)
        err[0] = '\0';
    if (len >= INT_MAX) {
        if (err && err_cap)
            snprintf(err, err_cap, "JSON body of %zu bytes is too large", len);
        return OB_E_TOO_LARGE;
    }
    struct json_tokener *tok = thread_tokener();
    if (!tok || pthread_once(&tables_once, build_tables) != 0) {
        if (err && err_cap)
            snprintf(err, err_cap, "out of memory");
        return -ENOMEM;
    }
    struct json_object *root = parse(tok, data, len, err, err_cap, &rc);
    if (!root)
        return rc;

    struct dec c = {.a = a};
    ob_otlp_request *req = NULL;
    if (get_message(&c, request_table, root, &req) != 0) {
        render_error(&c, err, err_cap); /* keys live in the json-c tree: render first */
        json_object_put(root);
        return c.rc;
    }
    json_object_put(root);
    *out = req;
    return 0;
}

/* ---- response ------------------------------------------------------------- */

/* Appends s[0..n) with each byte that starts no well-formed UTF-8 sequence
 * replaced by U+FFFD: json-c copies bytes >= 0x80 as they are, and the
 * response must be UTF-8. */
static void put_replacing_bad_utf8(struct ob_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        size_t l = ob_utf8_seq_len(u + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        ob_buf_append(b, s + start, i - start);
        ob_buf_puts(b, "\xef\xbf\xbd");
        start = ++i;
    }
    ob_buf_append(b, s + start, n - start);
}

/* Adds val to obj under key, taking val in every case.  0 or -ENOMEM. */
static int add_member(struct json_object *obj, const char *key, struct json_object *val)
{
    if (!val)
        return -ENOMEM;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -ENOMEM;
    }
    return 0;
}

static int add_string(struct json_object *obj, const char *key, const char *s, size_t n)
{
    if (n > INT_MAX) /* json-c takes an int length */
        return -ENOMEM;
    return add_member(obj, key, json_object_new_string_len(s, (int)n));
}

int ob_otlp_json_encode_response(int64_t rejected, const char *msg, struct ob_buf *out)
{
    struct json_object *root = json_object_new_object();
    if (!root)
        return -ENOMEM;
    struct ob_buf clean;
    ob_buf_init(&clean);
    bool has_msg = msg && msg[0];
    int rc = 0;
    if (rejected != 0 || has_msg) {
        struct json_object *ps = json_object_new_object();
        rc = add_member(root, "partialSuccess", ps);
        if (rc == 0 && rejected != 0) {
            char num[24]; /* an int64 is a JSON string in OTLP/JSON */
            int n = snprintf(num, sizeof num, "%lld", (long long)rejected);
            rc = add_string(ps, "rejectedDataPoints", num, (size_t)n);
        }
        if (rc == 0 && has_msg) {
            size_t n = strlen(msg);
            if (!ob_utf8_valid(msg, n)) {
                put_replacing_bad_utf8(&clean, msg, n);
                msg = clean.data;
                n = clean.len;
                if (clean.failed)
                    rc = -ENOMEM;
            }
            if (rc == 0)
                rc = add_string(ps, "errorMessage", msg, n);
        }
    }
    if (rc == 0) {
        const char *text = json_object_to_json_string_ext(
            root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || !ob_buf_puts(out, text))
            rc = -ENOMEM;
    }
    json_object_put(root);
    ob_buf_fini(&clean);
    return rc;
}
