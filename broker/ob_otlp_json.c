/* ob_otlp_json.c: OTLP/JSON -> the protobuf-c ExportMetricsServiceRequest tree.
 *
 * json-c parses the body into its own tree; one short static function per
 * message then walks each object's fields in document order (no hash
 * lookups), dispatching on the key's first character and matching the
 * snake_case proto name with name_eq(), which also accepts lowerCamelCase.
 * Everything the ingest core sees (messages, repeated arrays, strings, bytes)
 * is allocated in the request arena; the json-c tree is freed before return.
 *
 * Errors carry the field path.  It costs nothing on the good path: a failing
 * leaf records why, and every level appends its key or index while the
 * recursion unwinds; the path is rendered once, outermost first.
 *
 * Repeated message fields are filled through a generic void ** array, the way
 * protobuf-c's own unpacker fills them: every object pointer has the same
 * representation on the platforms we build for.
 */
#include "ob_otlp_json.h"

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

typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;
typedef Opentelemetry__Proto__Common__V1__ArrayValue array_value;
typedef Opentelemetry__Proto__Common__V1__KeyValueList kv_list;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef entity_ref;
typedef Opentelemetry__Proto__Resource__V1__Resource resource;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram exp_histogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint exp_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint summary_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar exemplar;

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
    const char *why; /* leaf problem, static text */
    int rc;          /* OB_E_MALFORMED or -ENOMEM */
    int depth;       /* AnyValue nesting */
    size_t nseg;
    struct seg seg[TOKENER_DEPTH]; /* at most one per JSON nesting level */
};

typedef int (*dec_fn)(struct dec *c, struct json_object *o, void *out);

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
static int get_hex(struct dec *c, struct json_object *v, ProtobufCBinaryData *out,
                   protobuf_c_boolean *out_has)
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
    *out_has = n != 0;
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

/* Non-presence scalars: has_x as protobuf decoding of a proto3 encoder's
 * output gives it, i.e. only for non-zero values. */
static int opt_u64(struct dec *c, struct json_object *v, uint64_t *out, protobuf_c_boolean *out_has)
{
    if (get_u64(c, v, out))
        return -1;
    *out_has = *out != 0;
    return 0;
}

static int opt_u32(struct dec *c, struct json_object *v, uint32_t *out, protobuf_c_boolean *out_has)
{
    if (get_u32(c, v, out))
        return -1;
    *out_has = *out != 0;
    return 0;
}

static int opt_i32(struct dec *c, struct json_object *v, int32_t *out, protobuf_c_boolean *out_has)
{
    if (get_i32(c, v, out))
        return -1;
    *out_has = *out != 0;
    return 0;
}

static int opt_double(struct dec *c, struct json_object *v, double *out, protobuf_c_boolean *out_has)
{
    if (get_double(c, v, out))
        return -1;
    *out_has = *out != 0 || signbit(*out); /* proto3 writes -0.0: its bits are not zero */
    return 0;
}

/* Presence fields (histogram sum, min, max): present whenever sent. */
static int has_double(struct dec *c, struct json_object *v, double *out, protobuf_c_boolean *out_has)
{
    if (get_double(c, v, out))
        return -1;
    *out_has = 1;
    return 0;
}

static int opt_bool(struct dec *c, struct json_object *v, protobuf_c_boolean *out,
                    protobuf_c_boolean *out_has)
{
    if (get_bool(c, v, out))
        return -1;
    *out_has = *out;
    return 0;
}

/* AggregationTemporality: the number, or the value's name. */
static int opt_temporality(struct dec *c, struct json_object *v,
                           Opentelemetry__Proto__Metrics__V1__AggregationTemporality *out,
                           protobuf_c_boolean *out_has)
{
    static const char *const names[] = {
        "AGGREGATION_TEMPORALITY_UNSPECIFIED",
        "AGGREGATION_TEMPORALITY_DELTA",
        "AGGREGATION_TEMPORALITY_CUMULATIVE",
    };
    int32_t t;
    if (json_object_get_type(v) == json_type_string) {
        const char *s = json_object_get_string(v);
        size_t i = 0;
        while (i < OB_ARRAY_LEN(names) && strcmp(s, names[i]) != 0)
            i++;
        if (i == OB_ARRAY_LEN(names))
            return fail(c, "unknown AggregationTemporality name");
        t = (int32_t)i;
    } else if (get_i32(c, v, &t)) {
        return -1;
    }
    /* Unknown numbers pass, as protobuf-c passes them; ingest decides. */
    *out = (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)t;
    *out_has = t != 0;
    return 0;
}

/* ---- repeated fields ----------------------------------------------------- */

/* A JSON array of messages of `size` bytes each, decoded by fn into one
 * arena block, with the pointer array protobuf-c uses.  The product cannot
 * overflow: every element took at least one byte of a < 2 GiB body. */
static int get_messages(struct dec *c, struct json_object *v, size_t size, dec_fn fn,
                        size_t *out_n, void *out_arr)
{
    if (json_object_get_type(v) != json_type_array)
        return fail(c, E_ARRAY);
    size_t n = json_object_array_length(v);
    void **ptrs = NULL;
    if (n) {
        char *msgs = alloc(c, n * size);
        ptrs = alloc(c, n * sizeof *ptrs);
        if (!msgs || !ptrs)
            return nomem(c);
        for (size_t i = 0; i < n; i++) {
            ptrs[i] = msgs + i * size;
            if (fn(c, json_object_array_get_idx(v, i), ptrs[i]))
                return at_idx(c, i);
        }
    }
    *out_n = n;
    memcpy(out_arr, &ptrs, sizeof ptrs);
    return 0;
}

/* A single optional sub-message. */
static int get_message(struct dec *c, struct json_object *v, size_t size, dec_fn fn, void *out_ptr)
{
    void *m = alloc(c, size);
    if (!m)
        return nomem(c);
    if (fn(c, v, m))
        return -1;
    memcpy(out_ptr, &m, sizeof m);
    return 0;
}

static int get_u64s(struct dec *c, struct json_object *v, size_t *out_n, uint64_t **out)
{
    if (json_object_get_type(v) != json_type_array)
        return fail(c, E_ARRAY);
    size_t n = json_object_array_length(v);
    uint64_t *a = NULL;
    if (n && !(a = alloc(c, n * sizeof *a)))
        return nomem(c);
    for (size_t i = 0; i < n; i++)
        if (get_u64(c, json_object_array_get_idx(v, i), &a[i]))
            return at_idx(c, i);
    *out_n = n;
    *out = a;
    return 0;
}

static int get_doubles(struct dec *c, struct json_object *v, size_t *out_n, double **out)
{
    if (json_object_get_type(v) != json_type_array)
        return fail(c, E_ARRAY);
    size_t n = json_object_array_length(v);
    double *a = NULL;
    if (n && !(a = alloc(c, n * sizeof *a)))
        return nomem(c);
    for (size_t i = 0; i < n; i++)
        if (get_double(c, json_object_array_get_idx(v, i), &a[i]))
            return at_idx(c, i);
    *out_n = n;
    *out = a;
    return 0;
}

/* Repeated string elements are always present, even when empty. */
static int get_strs(struct dec *c, struct json_object *v, size_t *out_n, char ***out)
{
    if (json_object_get_type(v) != json_type_array)
        return fail(c, E_ARRAY);
    size_t n = json_object_array_length(v);
    char **a = NULL;
    if (n && !(a = alloc(c, n * sizeof *a)))
        return nomem(c);
    for (size_t i = 0; i < n; i++)
        if (get_str(c, json_object_array_get_idx(v, i), true, &a[i]))
            return at_idx(c, i);
    *out_n = n;
    *out = a;
    return 0;
}

/* ---- common.v1 ------------------------------------------------------------ */

static int dec_key_value(struct dec *c, struct json_object *o, void *out);

static int dec_array_value(struct dec *c, struct json_object *o, void *out);

static int dec_kv_list(struct dec *c, struct json_object *o, void *out);

static int get_attrs(struct dec *c, struct json_object *v, size_t *out_n, key_value ***out)
{
    return get_messages(c, v, sizeof(key_value), dec_key_value, out_n, out);
}

static int dec_any_value(struct dec *c, struct json_object *o, void *out)
{
    any_value *m = out;
    *m = (any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    if (++c->depth > OB_OTLP_JSON_MAX_VALUE_DEPTH)
        return fail(c, "values nested too deeply");
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc = 0;
        if (!v)
            continue;
        switch (k[0]) {
        case 's':
            if (name_eq(k, "string_value")) {
                m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
                rc = get_str(c, v, true, &m->string_value);
            } else if (name_eq(k, "string_value_strindex")) {
                m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE_STRINDEX;
                rc = get_i32(c, v, &m->string_value_strindex);
            } else {
                continue;
            }
            break;
        case 'b':
            if (name_eq(k, "bool_value")) {
                m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
                rc = get_bool(c, v, &m->bool_value);
            } else if (name_eq(k, "bytes_value")) {
                m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
                rc = get_base64(c, v, &m->bytes_value);
            } else {
                continue;
            }
            break;
        case 'i':
            if (!name_eq(k, "int_value"))
                continue;
            m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            rc = get_i64(c, v, &m->int_value);
            break;
        case 'd':
            if (!name_eq(k, "double_value"))
                continue;
            m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            rc = get_double(c, v, &m->double_value);
            break;
        case 'a':
            if (!name_eq(k, "array_value"))
                continue;
            m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
            rc = get_message(c, v, sizeof(array_value), dec_array_value, &m->array_value);
            break;
        case 'k':
            if (!name_eq(k, "kvlist_value"))
                continue;
            m->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
            rc = get_message(c, v, sizeof(kv_list), dec_kv_list, &m->kvlist_value);
            break;
        default:
            continue;
        }
        if (rc)
            return at_key(c, k);
    }
    c->depth--;
    return 0;
}

static int dec_array_value(struct dec *c, struct json_object *o, void *out)
{
    array_value *m = out;
    *m = (array_value)OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        if (v && name_eq(k, "values") &&
            get_messages(c, v, sizeof(any_value), dec_any_value, &m->n_values, &m->values))
            return at_key(c, k);
    }
    return 0;
}

static int dec_kv_list(struct dec *c, struct json_object *o, void *out)
{
    kv_list *m = out;
    *m = (kv_list)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        if (v && name_eq(k, "values") && get_attrs(c, v, &m->n_values, &m->values))
            return at_key(c, k);
    }
    return 0;
}

static int dec_key_value(struct dec *c, struct json_object *o, void *out)
{
    key_value *m = out;
    *m = (key_value)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "key"))
            rc = get_str(c, v, false, &m->key);
        else if (name_eq(k, "value"))
            rc = get_message(c, v, sizeof(any_value), dec_any_value, &m->value);
        else if (name_eq(k, "key_strindex"))
            rc = opt_i32(c, v, &m->key_strindex, &m->has_key_strindex);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_scope(struct dec *c, struct json_object *o, void *out)
{
    scope *m = out;
    *m = (scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "name"))
            rc = get_str(c, v, false, &m->name);
        else if (name_eq(k, "version"))
            rc = get_str(c, v, false, &m->version);
        else if (name_eq(k, "attributes"))
            rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
        else if (name_eq(k, "dropped_attributes_count"))
            rc = opt_u32(c, v, &m->dropped_attributes_count, &m->has_dropped_attributes_count);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_entity_ref(struct dec *c, struct json_object *o, void *out)
{
    entity_ref *m = out;
    *m = (entity_ref)OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "schema_url"))
            rc = get_str(c, v, false, &m->schema_url);
        else if (name_eq(k, "type"))
            rc = get_str(c, v, false, &m->type);
        else if (name_eq(k, "id_keys"))
            rc = get_strs(c, v, &m->n_id_keys, &m->id_keys);
        else if (name_eq(k, "description_keys"))
            rc = get_strs(c, v, &m->n_description_keys, &m->description_keys);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

/* ---- resource.v1 ---------------------------------------------------------- */

static int dec_resource(struct dec *c, struct json_object *o, void *out)
{
    resource *m = out;
    *m = (resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "attributes"))
            rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
        else if (name_eq(k, "dropped_attributes_count"))
            rc = opt_u32(c, v, &m->dropped_attributes_count, &m->has_dropped_attributes_count);
        else if (name_eq(k, "entity_refs"))
            rc = get_messages(c, v, sizeof(entity_ref), dec_entity_ref, &m->n_entity_refs,
                              &m->entity_refs);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

/* ---- metrics.v1: data points ---------------------------------------------- */

static int dec_exemplar(struct dec *c, struct json_object *o, void *out)
{
    exemplar *m = out;
    *m = (exemplar)OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "time_unix_nano")) {
            rc = opt_u64(c, v, &m->time_unix_nano, &m->has_time_unix_nano);
        } else if (name_eq(k, "as_double")) {
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
            rc = get_double(c, v, &m->as_double);
        } else if (name_eq(k, "as_int")) {
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
            rc = get_i64(c, v, &m->as_int);
        } else if (name_eq(k, "span_id")) {
            rc = get_hex(c, v, &m->span_id, &m->has_span_id);
        } else if (name_eq(k, "trace_id")) {
            rc = get_hex(c, v, &m->trace_id, &m->has_trace_id);
        } else if (name_eq(k, "filtered_attributes")) {
            rc = get_attrs(c, v, &m->n_filtered_attributes, &m->filtered_attributes);
        } else {
            continue;
        }
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int get_exemplars(struct dec *c, struct json_object *v, size_t *out_n, exemplar ***out)
{
    return get_messages(c, v, sizeof(exemplar), dec_exemplar, out_n, out);
}

/* The hottest function: a switch on the key's first letter keeps it to one
 * name_eq() per field. */
static int dec_number_point(struct dec *c, struct json_object *o, void *out)
{
    number_point *m = out;
    *m = (number_point)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        switch (k[0]) {
        case 'a':
            if (name_eq(k, "as_double")) {
                m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                rc = get_double(c, v, &m->as_double);
            } else if (name_eq(k, "as_int")) {
                m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                rc = get_i64(c, v, &m->as_int);
            } else if (name_eq(k, "attributes")) {
                rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
            } else {
                continue;
            }
            break;
        case 's':
            if (!name_eq(k, "start_time_unix_nano"))
                continue;
            rc = opt_u64(c, v, &m->start_time_unix_nano, &m->has_start_time_unix_nano);
            break;
        case 't':
            if (!name_eq(k, "time_unix_nano"))
                continue;
            rc = opt_u64(c, v, &m->time_unix_nano, &m->has_time_unix_nano);
            break;
        case 'e':
            if (!name_eq(k, "exemplars"))
                continue;
            rc = get_exemplars(c, v, &m->n_exemplars, &m->exemplars);
            break;
        case 'f':
            if (!name_eq(k, "flags"))
                continue;
            rc = opt_u32(c, v, &m->flags, &m->has_flags);
            break;
        default:
            continue;
        }
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_histogram_point(struct dec *c, struct json_object *o, void *out)
{
    histogram_point *m = out;
    *m = (histogram_point)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        switch (k[0]) {
        case 'a':
            if (!name_eq(k, "attributes"))
                continue;
            rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
            break;
        case 's':
            if (name_eq(k, "start_time_unix_nano"))
                rc = opt_u64(c, v, &m->start_time_unix_nano, &m->has_start_time_unix_nano);
            else if (name_eq(k, "sum"))
                rc = has_double(c, v, &m->sum, &m->has_sum);
            else
                continue;
            break;
        case 't':
            if (!name_eq(k, "time_unix_nano"))
                continue;
            rc = opt_u64(c, v, &m->time_unix_nano, &m->has_time_unix_nano);
            break;
        case 'c':
            if (!name_eq(k, "count"))
                continue;
            rc = opt_u64(c, v, &m->count, &m->has_count);
            break;
        case 'b':
            if (!name_eq(k, "bucket_counts"))
                continue;
            rc = get_u64s(c, v, &m->n_bucket_counts, &m->bucket_counts);
            break;
        case 'e':
            if (name_eq(k, "explicit_bounds"))
                rc = get_doubles(c, v, &m->n_explicit_bounds, &m->explicit_bounds);
            else if (name_eq(k, "exemplars"))
                rc = get_exemplars(c, v, &m->n_exemplars, &m->exemplars);
            else
                continue;
            break;
        case 'f':
            if (!name_eq(k, "flags"))
                continue;
            rc = opt_u32(c, v, &m->flags, &m->has_flags);
            break;
        case 'm':
            if (name_eq(k, "min"))
                rc = has_double(c, v, &m->min, &m->has_min);
            else if (name_eq(k, "max"))
                rc = has_double(c, v, &m->max, &m->has_max);
            else
                continue;
            break;
        default:
            continue;
        }
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_exp_buckets(struct dec *c, struct json_object *o, void *out)
{
    exp_buckets *m = out;
    *m = (exp_buckets)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "offset"))
            rc = opt_i32(c, v, &m->offset, &m->has_offset);
        else if (name_eq(k, "bucket_counts"))
            rc = get_u64s(c, v, &m->n_bucket_counts, &m->bucket_counts);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_exp_point(struct dec *c, struct json_object *o, void *out)
{
    exp_point *m = out;
    *m = (exp_point)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "attributes"))
            rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
        else if (name_eq(k, "start_time_unix_nano"))
            rc = opt_u64(c, v, &m->start_time_unix_nano, &m->has_start_time_unix_nano);
        else if (name_eq(k, "time_unix_nano"))
            rc = opt_u64(c, v, &m->time_unix_nano, &m->has_time_unix_nano);
        else if (name_eq(k, "count"))
            rc = opt_u64(c, v, &m->count, &m->has_count);
        else if (name_eq(k, "sum"))
            rc = has_double(c, v, &m->sum, &m->has_sum);
        else if (name_eq(k, "scale"))
            rc = opt_i32(c, v, &m->scale, &m->has_scale);
        else if (name_eq(k, "zero_count"))
            rc = opt_u64(c, v, &m->zero_count, &m->has_zero_count);
        else if (name_eq(k, "positive"))
            rc = get_message(c, v, sizeof(exp_buckets), dec_exp_buckets, &m->positive);
        else if (name_eq(k, "negative"))
            rc = get_message(c, v, sizeof(exp_buckets), dec_exp_buckets, &m->negative);
        else if (name_eq(k, "flags"))
            rc = opt_u32(c, v, &m->flags, &m->has_flags);
        else if (name_eq(k, "exemplars"))
            rc = get_exemplars(c, v, &m->n_exemplars, &m->exemplars);
        else if (name_eq(k, "min"))
            rc = has_double(c, v, &m->min, &m->has_min);
        else if (name_eq(k, "max"))
            rc = has_double(c, v, &m->max, &m->has_max);
        else if (name_eq(k, "zero_threshold"))
            rc = opt_double(c, v, &m->zero_threshold, &m->has_zero_threshold);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_quantile(struct dec *c, struct json_object *o, void *out)
{
    quantile *m = out;
    *m = (quantile)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "quantile"))
            rc = opt_double(c, v, &m->quantile, &m->has_quantile);
        else if (name_eq(k, "value"))
            rc = opt_double(c, v, &m->value, &m->has_value);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

/* Summary sum has no presence upstream (unlike the histograms'). */
static int dec_summary_point(struct dec *c, struct json_object *o, void *out)
{
    summary_point *m = out;
    *m = (summary_point)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "attributes"))
            rc = get_attrs(c, v, &m->n_attributes, &m->attributes);
        else if (name_eq(k, "start_time_unix_nano"))
            rc = opt_u64(c, v, &m->start_time_unix_nano, &m->has_start_time_unix_nano);
        else if (name_eq(k, "time_unix_nano"))
            rc = opt_u64(c, v, &m->time_unix_nano, &m->has_time_unix_nano);
        else if (name_eq(k, "count"))
            rc = opt_u64(c, v, &m->count, &m->has_count);
        else if (name_eq(k, "sum"))
            rc = opt_double(c, v, &m->sum, &m->has_sum);
        else if (name_eq(k, "quantile_values"))
            rc = get_messages(c, v, sizeof(quantile), dec_quantile, &m->n_quantile_values,
                              &m->quantile_values);
        else if (name_eq(k, "flags"))
            rc = opt_u32(c, v, &m->flags, &m->has_flags);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

/* ---- metrics.v1: metric kinds --------------------------------------------- */

static int dec_gauge(struct dec *c, struct json_object *o, void *out)
{
    gauge *m = out;
    *m = (gauge)OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        if (v && name_eq(k, "data_points") &&
            get_messages(c, v, sizeof(number_point), dec_number_point, &m->n_data_points,
                         &m->data_points))
            return at_key(c, k);
    }
    return 0;
}

static int dec_sum(struct dec *c, struct json_object *o, void *out)
{
    sum *m = out;
    *m = (sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "data_points"))
            rc = get_messages(c, v, sizeof(number_point), dec_number_point, &m->n_data_points,
                              &m->data_points);
        else if (name_eq(k, "aggregation_temporality"))
            rc = opt_temporality(c, v, &m->aggregation_temporality,
                                 &m->has_aggregation_temporality);
        else if (name_eq(k, "is_monotonic"))
            rc = opt_bool(c, v, &m->is_monotonic, &m->has_is_monotonic);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_histogram(struct dec *c, struct json_object *o, void *out)
{
    histogram *m = out;
    *m = (histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "data_points"))
            rc = get_messages(c, v, sizeof(histogram_point), dec_histogram_point,
                              &m->n_data_points, &m->data_points);
        else if (name_eq(k, "aggregation_temporality"))
            rc = opt_temporality(c, v, &m->aggregation_temporality,
                                 &m->has_aggregation_temporality);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_exp_histogram(struct dec *c, struct json_object *o, void *out)
{
    exp_histogram *m = out;
    *m = (exp_histogram)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "data_points"))
            rc = get_messages(c, v, sizeof(exp_point), dec_exp_point, &m->n_data_points,
                              &m->data_points);
        else if (name_eq(k, "aggregation_temporality"))
            rc = opt_temporality(c, v, &m->aggregation_temporality,
                                 &m->has_aggregation_temporality);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_summary(struct dec *c, struct json_object *o, void *out)
{
    summary *m = out;
    *m = (summary)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        if (v && name_eq(k, "data_points") &&
            get_messages(c, v, sizeof(summary_point), dec_summary_point, &m->n_data_points,
                         &m->data_points))
            return at_key(c, k);
    }
    return 0;
}

/* Metric.data is a oneof: like protobuf, the last member sent wins. */
static int dec_metric(struct dec *c, struct json_object *o, void *out)
{
    metric *m = out;
    *m = (metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        Opentelemetry__Proto__Metrics__V1__Metric__DataCase dc;
        size_t size;
        dec_fn fn;
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "name")) {
            rc = get_str(c, v, false, &m->name);
        } else if (name_eq(k, "unit")) {
            rc = get_str(c, v, false, &m->unit);
        } else if (name_eq(k, "description")) {
            rc = get_str(c, v, false, &m->description);
        } else if (name_eq(k, "metadata")) {
            rc = get_attrs(c, v, &m->n_metadata, &m->metadata);
        } else {
            if (name_eq(k, "sum")) {
                dc = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
                size = sizeof(sum);
                fn = dec_sum;
            } else if (name_eq(k, "gauge")) {
                dc = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
                size = sizeof(gauge);
                fn = dec_gauge;
            } else if (name_eq(k, "histogram")) {
                dc = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
                size = sizeof(histogram);
                fn = dec_histogram;
            } else if (name_eq(k, "exponential_histogram")) {
                dc = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
                size = sizeof(exp_histogram);
                fn = dec_exp_histogram;
            } else if (name_eq(k, "summary")) {
                dc = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
                size = sizeof(summary);
                fn = dec_summary;
            } else {
                continue;
            }
            /* All union members are pointers; write through the sum member. */
            void *data = NULL;
            rc = get_message(c, v, size, fn, &data);
            m->data_case = dc;
            m->sum = data;
        }
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

/* ---- metrics.v1: containers ----------------------------------------------- */

static int dec_scope_metrics(struct dec *c, struct json_object *o, void *out)
{
    scope_metrics *m = out;
    *m = (scope_metrics)OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "metrics"))
            rc = get_messages(c, v, sizeof(metric), dec_metric, &m->n_metrics, &m->metrics);
        else if (name_eq(k, "scope"))
            rc = get_message(c, v, sizeof(scope), dec_scope, &m->scope);
        else if (name_eq(k, "schema_url"))
            rc = get_str(c, v, false, &m->schema_url);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_resource_metrics(struct dec *c, struct json_object *o, void *out)
{
    resource_metrics *m = out;
    *m = (resource_metrics)OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        int rc;
        if (!v)
            continue;
        if (name_eq(k, "scope_metrics"))
            rc = get_messages(c, v, sizeof(scope_metrics), dec_scope_metrics,
                              &m->n_scope_metrics, &m->scope_metrics);
        else if (name_eq(k, "resource"))
            rc = get_message(c, v, sizeof(resource), dec_resource, &m->resource);
        else if (name_eq(k, "schema_url"))
            rc = get_str(c, v, false, &m->schema_url);
        else
            continue;
        if (rc)
            return at_key(c, k);
    }
    return 0;
}

static int dec_request(struct dec *c, struct json_object *o, void *out)
{
    ob_otlp_request *m = out;
    *m = (ob_otlp_request)OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    if (!is_object(o))
        return fail(c, E_OBJECT);
    for (struct lh_entry *e = first_field(o); e; e = lh_entry_next(e)) {
        const char *k = lh_entry_k(e);
        struct json_object *v = (struct json_object *)lh_entry_v(e);
        if (v && name_eq(k, "resource_metrics") &&
            get_messages(c, v, sizeof(resource_metrics), dec_resource_metrics,
                         &m->n_resource_metrics, &m->resource_metrics))
            return at_key(c, k);
    }
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
    if (!tok) {
        if (err && err_cap)
            snprintf(err, err_cap, "out of memory");
        return -ENOMEM;
    }
    struct json_object *root = parse(tok, data, len, err, err_cap, &rc);
    if (!root)
        return rc;

    struct dec c = {.a = a};
    ob_otlp_request *req = NULL;
    if (get_message(&c, root, sizeof *req, dec_request, &req) != 0) {
        render_error(&c, err, err_cap); /* keys live in the json-c tree: render first */
        json_object_put(root);
        return c.rc;
    }
    json_object_put(root);
    *out = req;
    return 0;
}

/* ---- response ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (len > n)
        return 0;
    cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put_json_string(struct ob_buf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    ob_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char ch = s[i];
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            size_t j = i + 1;
            while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\')
                j++;
            ob_buf_append(b, s + i, j - i);
            i = j;
        } else if (ch >= 0x80) {
            size_t l = utf8_seq(s + i, n - i);
            if (l) {
                ob_buf_append(b, s + i, l);
                i += l;
            } else {
                ob_buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for each bad byte */
                i++;
            }
        } else {
            const char *esc = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\n' ? "\\n"
                            : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
            if (esc) {
                ob_buf_puts(b, esc);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
                ob_buf_append(b, u, sizeof u);
            }
            i++;
        }
    }
    ob_buf_putc(b, '"');
}

int ob_otlp_json_encode_response(int64_t rejected, const char *msg, struct ob_buf *out)
{
    bool has_msg = msg && msg[0];
    if (rejected == 0 && !has_msg) {
        ob_buf_puts(out, "{}");
    } else {
        ob_buf_puts(out, "{\"partialSuccess\":{");
        if (rejected != 0)
            ob_buf_printf(out, "\"rejectedDataPoints\":\"%lld\"%s", (long long)rejected,
                          has_msg ? "," : "");
        if (has_msg) {
            ob_buf_puts(out, "\"errorMessage\":");
            put_json_string(out, msg);
        }
        ob_buf_puts(out, "}}");
    }
    return out->failed ? -ENOMEM : 0;
}
