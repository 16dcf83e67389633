/* ob_ingest.c: THE ingest function.
 *
 * One pass over a decoded ExportMetricsServiceRequest, one short static
 * function per protobuf level (cmetrics style):
 *
 *   ingest_resource  attributes rendered once; translator decides job,
 *                    instance, target_info and promoted attributes
 *   ingest_metric    type + temporality checks; family from the name cache
 *   ingest_point     label set (sanitised, collisions joined with ';',
 *                    sorted), values, ob_store_append(); rejections counted
 *
 * All scratch memory is per thread (struct worker) and reused across
 * requests; the protobuf tree and rendered strings live in the request arena.
 */
#include "ob_ingest.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ob_buf.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_expose.h"
#include "ob_float.h"
#include "ob_log.h"
#include "ob_names.h"
#include "ob_otlp.h"
#include "ob_otlp_json.h"
#include "ob_plugin_host.h"
#include "ob_store.h"
#include "ob_time.h"
#include "ob_utf8.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint summary_point;

#define MAX_VALUE_DEPTH 16                   /* nesting of array/kvlist attribute values */
#define TARGET_INFO "target_info"

/* One label while a set is built.  prio decides who wins a name:
 * 0 job/instance, 1 data-point attribute, 2 promoted resource attribute. */
struct label {
    struct ob_str name;
    struct ob_str value;
    struct ob_str orig; /* the OTLP key, for collision order */
    int prio;
};

/* The label block of a data point depends only on the translator, the
 * resource, the family and the point's raw attributes.  Each worker keeps
 * the blocks last built for raw attribute sets in a 4-way set-associative
 * cache, so a series seen before costs one hash and one memcmp instead of
 * name lookups, sorting and escaping, and its store hint skips the store's
 * index.  It starts at 4096 entries (288 KiB) and doubles, between
 * requests, whenever it is half full, up to one entry per store.max_series
 * series but no more than 262144 (18 MiB, plus ~150 bytes of labels per
 * entry in use): 4 ways at that load miss almost never (a 2-way cache of
 * 32768 entries missed 12 % of points at 10,000 series: sets of three
 * thrash), and beyond it a thread that sees more series pays the label
 * work of a miss (~2 us) rather than memory in proportion to every series.
 * Emptied when the translator changes. */
#define CACHE_WAYS 4
#define CACHE_START_SETS 1024u
#define CACHE_MIN_SETS 64u
#define CACHE_MAX_SETS 65536u

struct cached_series {
    uint64_t origin; /* hash of resource, metric and raw attributes; 0 = empty */
    uint64_t hash;   /* the store's series hash */
    char *data;      /* raw attributes, then the label block (malloc) */
    uint32_t family;
    uint32_t family_gen; /* a reclaimed and reused family id never matches */
    uint32_t raw_len;
    uint32_t block_len;
    uint64_t used;   /* the worker's request count when last hit or filled */
    struct ob_series_hint hint; /* where the store found the series */
};

static bool cache_hit(const struct cached_series *c, uint64_t origin, uint32_t family,
                      uint32_t family_gen, const struct ob_buf *raw)
{
    return c->origin == origin && c->family == family && c->family_gen == family_gen &&
           c->raw_len == raw->len &&
           (c->raw_len == 0 || memcmp(c->data, raw->data, c->raw_len) == 0);
}

/* A data point on its way through the three stages of the ingest loop,
 * which works on three points at once so that each stage's memory misses
 * are in flight while the other points are worked on:
 *   1. prepare (point i+2): raw attributes serialised and hashed; prefetch
 *      of the series-cache set;
 *   2. locate  (point i+1): the way whose tags match; prefetch of its raw
 *      attributes and of the store slot and sample ring its hint names;
 *   3. append  (point i):   raw attributes compared, sample stored. */
struct pending {
    struct ob_buf raw; /* raw attributes, see raw_attrs() */
    uint64_t origin;   /* hash of resource, metric and raw attributes */
    struct cached_series *way; /* stage 2's candidate; verified in stage 3 */
    bool ok;           /* false: an attribute value could not be rendered */
};
#define PIPELINE 3

struct worker {
    struct ob_arena arena;
    struct ob_names *names;
    struct cached_series *cache; /* (cache_mask + 1) * CACHE_WAYS entries */
    uint64_t cache_mask;         /* sets - 1 */
    uint64_t cache_max_sets;     /* growth stops here */
    uint64_t cache_used;         /* entries in use */
    uint64_t cache_generation;   /* translator the cache was filled with */
    uint32_t cache_victim;       /* rotates the way a miss replaces */
    uint64_t requests;           /* requests this worker ingested */
    uint64_t swept;              /* requests count at the last sweep */
    struct pending pend[PIPELINE]; /* point i in pend[i % PIPELINE] */
    struct ob_buf block;   /* rendered label block */
    struct ob_buf key;     /* target_info identity block */
    struct ob_buf json;    /* scratch for array/kvlist values */
    struct label *labels;
    size_t labels_cap;
    double *values;
    size_t values_cap;
    double *points; /* histogram bounds / summary quantiles */
    size_t points_cap;
};

/* The ways of the set origin falls in. */
static struct cached_series *cache_set(const struct worker *w, uint64_t origin)
{
    return &w->cache[(origin & w->cache_mask) * CACHE_WAYS];
}

/* What a resource contributes to each of its series. */
struct resource_ctx {
    struct label *fixed; /* job, instance and promoted attributes (arena) */
    size_t n_fixed;
    struct ob_attr *attrs; /* rendered resource attributes (arena) */
    size_t n_attrs;
    uint8_t *roles;
    bool target_info;
    uint64_t hash;       /* of all attributes: part of every series' origin */
    int64_t newest_ms;   /* newest accepted point, for target_info */
};

/* Everything one request needs on the way down. */
struct request {
    struct ob_ingest *in;
    struct worker *w;
    const struct ob_xlator *x;
    struct ob_ingest_result *res;
    int64_t now_ms;
    struct resource_ctx *rc;
    const struct ob_family_entry *fam;
    const struct ob_metric_view *mv; /* the metric being ingested */
    const char *metric_name; /* original OTLP name, for messages */
    uint64_t metric_hash;
};

struct ob_ingest {
    struct ob_store *store;
    struct ob_plugin_host *plugins;                /* the default translator */
    struct ob_plugin_host *fe_plugins[OB_FE__COUNT]; /* a frontend's own, or NULL */
    uint32_t max_labels;
    uint32_t max_series; /* sizes the series caches */
    uint32_t name_cache_entries; /* budget of each thread's name cache */
    uint64_t name_cache_bytes;
    int64_t window_ms;
    pthread_key_t worker_key;
};

/* ---- per-thread workers -------------------------------------------------- */

static size_t cache_entries(const struct worker *w)
{
    return (w->cache_mask + 1) * CACHE_WAYS;
}

static void cache_clear(struct worker *w)
{
    for (size_t i = 0; w->cache && i < cache_entries(w); i++) {
        free(w->cache[i].data);
        w->cache[i] = (struct cached_series){0};
    }
    w->cache_used = 0;
}

/* Doubles the cache (between requests: the pipeline holds pointers into it
 * during one).  Each old set splits into two new ones, so nothing is lost.
 * Without memory it stays as it is. */
/* Series churn (new series every minute, old ones expired) would fill the
 * cache with series nobody sends any more and keep it growing up to its cap.
 * When it is half full it is swept first, at most every SWEEP_EVERY
 * requests: entries not hit since the previous sweep go.  It grows only if
 * it is still half full with what is in use. */
#define SWEEP_EVERY 1024u

static void cache_sweep(struct worker *w)
{
    for (size_t i = 0; i < cache_entries(w); i++) {
        struct cached_series *c = &w->cache[i];
        if (c->origin && c->used < w->swept) {
            free(c->data);
            *c = (struct cached_series){0};
            w->cache_used--;
        }
    }
    w->swept = w->requests;
}

static void cache_grow(struct worker *w)
{
    size_t n_old = cache_entries(w);
    struct cached_series *old = w->cache;
    struct cached_series *fresh = calloc(2 * n_old, sizeof *fresh);
    if (!fresh)
        return;
    w->cache = fresh;
    w->cache_mask = 2 * (w->cache_mask + 1) - 1;
    for (size_t i = 0; i < n_old; i++) {
        if (!old[i].origin)
            continue;
        struct cached_series *set = cache_set(w, old[i].origin);
        int way = 0;
        while (set[way].origin) /* at most four old entries go to one new set */
            way++;
        set[way] = old[i];
    }
    free(old);
}

static void worker_destroy(void *p)
{
    struct worker *w = p;
    if (!w)
        return;
    ob_arena_fini(&w->arena);
    ob_names_destroy(w->names);
    cache_clear(w);
    free(w->cache);
    for (int i = 0; i < PIPELINE; i++)
        ob_buf_fini(&w->pend[i].raw);
    ob_buf_fini(&w->block);
    ob_buf_fini(&w->key);
    ob_buf_fini(&w->json);
    free(w->labels);
    free(w->values);
    free(w->points);
    free(w);
}

static struct worker *worker_get(struct ob_ingest *in)
{
    struct worker *w = pthread_getspecific(in->worker_key);
    if (OB_LIKELY(w))
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    ob_arena_init(&w->arena, 512 * 1024);
    w->cache_max_sets = CACHE_MIN_SETS;
    while (w->cache_max_sets * CACHE_WAYS < in->max_series && w->cache_max_sets < CACHE_MAX_SETS)
        w->cache_max_sets *= 2;
    uint64_t sets = OB_MIN(CACHE_START_SETS, w->cache_max_sets);
    w->cache_mask = sets - 1;
    w->cache = calloc(sets * CACHE_WAYS, sizeof *w->cache);
    if (!w->cache ||
        ob_names_create(in->name_cache_entries, in->name_cache_bytes, &w->names) != 0 ||
        pthread_setspecific(in->worker_key, w) != 0) {
        worker_destroy(w);
        return NULL;
    }
    return w;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

int ob_ingest_create(struct ob_store *store, struct ob_plugin_host *plugins,
                     const struct ob_config *cfg, struct ob_ingest **out)
{
    struct ob_ingest *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->store = store;
    in->plugins = plugins;
    in->max_labels = cfg->max_labels_per_series;
    in->max_series = cfg->store_max_series;
    in->window_ms = cfg->store_ooo_window_ms;
    in->name_cache_entries = cfg->name_cache_entries; /* 0 (a zeroed config): unbounded */
    in->name_cache_bytes = cfg->name_cache_bytes;
    int rc = pthread_key_create(&in->worker_key, worker_destroy);
    if (rc != 0) {
        free(in);
        return -rc;
    }
    *out = in;
    return 0;
}

void ob_ingest_set_plugins(struct ob_ingest *in, enum ob_frontend fe, struct ob_plugin_host *h)
{
    in->fe_plugins[fe] = h;
}

void ob_ingest_destroy(struct ob_ingest *in)
{
    if (!in)
        return;
    /* Other threads' workers were freed when those threads exited. */
    worker_destroy(pthread_getspecific(in->worker_key));
    pthread_key_delete(in->worker_key);
    free(in);
}

/* ---- rejections ----------------------------------------------------------- */

static void reject(struct request *r, enum ob_reason why, uint64_t n, const char *fmt, ...)
    OB_PRINTF(4, 5);

static void reject(struct request *r, enum ob_reason why, uint64_t n, const char *fmt, ...)
{
    if (!n)
        return;
    /* The first reason is kept for partial_success.error_message. */
    if (r->res->rejected == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->res->message, sizeof r->res->message, fmt, ap);
        va_end(ap);
    }
    r->res->rejected += n;
    r->res->rejected_by[why] += n;
}

static enum ob_reason reason_of(int rc)
{
    switch (rc) {
    case OB_E_OUT_OF_BOUNDS:
        return OB_REASON_OUT_OF_BOUNDS;
    case OB_E_DUPLICATE:
        return OB_REASON_DUPLICATE;
    case OB_E_TYPE_CONFLICT:
        return OB_REASON_TYPE_CONFLICT;
    default:
        return OB_REASON_LIMIT;
    }
}

/* ---- attribute values ------------------------------------------------------ */

static void json_string(struct ob_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ob_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            ob_buf_putc(b, '\\');
            ob_buf_putc(b, (char)c);
        } else if (c == '\n') {
            ob_buf_puts(b, "\\n");
        } else if (c == '\r') {
            ob_buf_puts(b, "\\r");
        } else if (c == '\t') {
            ob_buf_puts(b, "\\t");
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ob_buf_append(b, u, sizeof u);
        } else {
            ob_buf_putc(b, (char)c);
        }
    }
    ob_buf_putc(b, '"');
}

static void base64(struct ob_buf *b, const uint8_t *p, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < len ? tab[v >> 6 & 63] : '=',
                     i + 2 < len ? tab[v & 63] : '='};
        ob_buf_append(b, q, 4);
    }
}

static int kv_cmp(const void *a, const void *b)
{
    const key_value *x = *(key_value *const *)a, *y = *(key_value *const *)b;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

/* Appends v as JSON the way Go's encoding/json writes pdata's AsRaw():
 * maps with sorted keys, bytes as base64 strings, empty values as null. */
static bool value_json(struct ob_buf *b, const any_value *v, int depth)
{
    if (depth > MAX_VALUE_DEPTH)
        return false;
    if (!v) {
        ob_buf_puts(b, "null");
        return true;
    }
    char num[64];
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        json_string(b, v->string_value, strlen(v->string_value));
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        ob_buf_puts(b, v->bool_value ? "true" : "false");
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        ob_buf_printf(b, "%lld", (long long)v->int_value);
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (!isfinite(v->double_value))
            return false; /* encoding/json refuses these */
        ob_buf_append(b, num, ob_format_double_json(v->double_value, num));
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        ob_buf_putc(b, '"');
        base64(b, v->bytes_value.data, v->bytes_value.len);
        ob_buf_putc(b, '"');
        return true;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        ob_buf_putc(b, '[');
        const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
        for (size_t i = 0; a && i < a->n_values; i++) {
            if (i)
                ob_buf_putc(b, ',');
            if (!value_json(b, a->values[i], depth + 1))
                return false;
        }
        ob_buf_putc(b, ']');
        return true;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        const Opentelemetry__Proto__Common__V1__KeyValueList *kl = v->kvlist_value;
        size_t n = kl ? kl->n_values : 0;
        if (n > 1)
            qsort(kl->values, n, sizeof *kl->values, kv_cmp); /* the arena's copy: ours */
        ob_buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            const char *k = kl->values[i]->key ? kl->values[i]->key : "";
            if (i)
                ob_buf_putc(b, ',');
            json_string(b, k, strlen(k));
            ob_buf_putc(b, ':');
            if (!value_json(b, kl->values[i]->value, depth + 1))
                return false;
        }
        ob_buf_putc(b, '}');
        return true;
    }
    default:
        ob_buf_puts(b, "null");
        return true;
    }
}

/* Renders an attribute value as pdata's AsString() does.  Strings are not
 * copied; everything else is rendered into the arena.  False: invalid
 * UTF-8, or a value too deep or not representable. */
static bool value_string(struct worker *w, const any_value *v, struct ob_str *out)
{
    *out = (struct ob_str){"", 0};
    if (!v)
        return true;
    char num[64];
    const char *text = NULL;
    size_t len = 0;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        out->ptr = v->string_value;
        out->len = strlen(v->string_value);
        return ob_utf8_valid(out->ptr, out->len);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        text = v->bool_value ? "true" : "false";
        len = strlen(text);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        len = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->int_value);
        text = num;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        len = ob_format_double_json(v->double_value, num);
        text = num;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        w->json.len = 0;
        if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE)
            base64(&w->json, v->bytes_value.data, v->bytes_value.len);
        else if (!value_json(&w->json, v, 0))
            return false;
        if (w->json.failed || !ob_utf8_valid(w->json.data, w->json.len))
            return false;
        text = w->json.data;
        len = w->json.len;
        break;
    default:
        return true; /* empty AnyValue: "" */
    }
    char *copy = ob_arena_alloc(&w->arena, len + 1);
    if (!copy)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    *out = (struct ob_str){copy, len};
    return true;
}

/* ---- label sets -------------------------------------------------------------- */

static int label_order(const struct label *a, const struct label *b)
{
    size_t n = OB_MIN(a->name.len, b->name.len);
    int c = memcmp(a->name.ptr, b->name.ptr, n);
    if (c || a->name.len != b->name.len)
        return c ? c : (a->name.len < b->name.len ? -1 : 1);
    if (a->prio != b->prio)
        return a->prio - b->prio;
    n = OB_MIN(a->orig.len, b->orig.len);
    c = memcmp(a->orig.ptr, b->orig.ptr, n);
    return c ? c : (a->orig.len > b->orig.len) - (a->orig.len < b->orig.len);
}

/* Label sets are small: insertion sort beats qsort's call overhead. */
static void sort_labels(struct label *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct label t = l[i];
        size_t j = i;
        for (; j > 0 && label_order(&t, &l[j - 1]) < 0; j--)
            l[j] = l[j - 1];
        l[j] = t;
    }
}

/* Sorts, resolves name clashes and renders  name="value",...  into out.
 * A name keeps the values of its best-priority entries, joined with ';' in
 * original-key order (Prometheus' collision rule).  Returns the number of
 * labels written, or -1 on allocation failure. */
static long render_labels(struct label *l, size_t n, struct ob_buf *out)
{
    sort_labels(l, n);
    out->len = 0;
    /* UTF-8 strategies may give names a legacy scraper cannot read: such a
     * block is marked and its odd names quoted (see OB_LABELS_QUOTED). */
    bool quoted = false;
    for (size_t i = 0; i < n && !quoted; i++)
        quoted = !ob_legacy_label_name(l[i].name.ptr, l[i].name.len);
    if (quoted)
        ob_buf_putc(out, OB_LABELS_QUOTED);
    long count = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && l[j].name.len == l[i].name.len &&
               memcmp(l[j].name.ptr, l[i].name.ptr, l[i].name.len) == 0)
            j++;
        if (count++)
            ob_buf_putc(out, ',');
        if (quoted && !ob_legacy_label_name(l[i].name.ptr, l[i].name.len)) {
            ob_buf_putc(out, '"');
            ob_escape_label_value(out, l[i].name.ptr, l[i].name.len);
            ob_buf_putc(out, '"');
        } else {
            ob_buf_append(out, l[i].name.ptr, l[i].name.len);
        }
        ob_buf_append(out, "=\"", 2);
        ob_escape_label_value(out, l[i].value.ptr, l[i].value.len);
        for (size_t k = i + 1; k < j && l[k].prio == l[i].prio; k++) {
            ob_buf_putc(out, ';');
            ob_escape_label_value(out, l[k].value.ptr, l[k].value.len);
        }
        ob_buf_putc(out, '"');
        i = j;
    }
    return out->failed ? -1 : count;
}

/* Appends data-point (or resource) attributes as labels.  False when an
 * attribute is not valid UTF-8 or cannot be rendered. */
static bool add_attr_labels(struct request *r, key_value **kvs, size_t n, size_t *io_n)
{
    struct worker *w = r->w;
    if (!grow((void **)&w->labels, &w->labels_cap, *io_n + n + r->rc->n_fixed, sizeof *w->labels))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *key = kvs[i]->key ? kvs[i]->key : "";
        size_t key_len = strlen(key);
        struct ob_str value, name;
        if (!ob_utf8_valid(key, key_len) || !value_string(w, kvs[i]->value, &value))
            return false;
        /* Empty values are no labels in Prometheus; __name__ is never an attribute. */
        if (value.len == 0 || strcmp(key, "__name__") == 0)
            continue;
        if (!ob_names_metric_label(w->names, r->x, r->fam, r->mv, key, key_len, &name))
            continue;
        w->labels[(*io_n)++] = (struct label){name, value, {key, key_len}, 1};
    }
    return true;
}

/* Serialises a point's raw attributes into b: the identity of its
 * OTLP stream within the resource and metric.  Scalars go in as their wire
 * bytes; arrays and maps (rare) as their rendering.  False if a value cannot
 * be rendered. */
static bool raw_attrs(struct worker *w, key_value **kvs, size_t n, struct ob_buf *b)
{
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = kvs[i]->key ? kvs[i]->key : "";
        const any_value *v = kvs[i]->value;
        uint32_t kind = v ? (uint32_t)v->value_case : 0;
        const void *val = NULL;
        size_t val_len = 0;
        struct ob_str rendered;
        switch (kind) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
            val = v->string_value;
            val_len = strlen(v->string_value);
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
            val = kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
                      ? (const void *)&v->bool_value
                  : kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
                      ? (const void *)&v->int_value
                      : (const void *)&v->double_value;
            val_len = kind == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
                          ? sizeof v->bool_value
                          : 8;
            break;
        case 0:
            break;
        default:
            if (!value_string(w, v, &rendered))
                return false;
            val = rendered.ptr;
            val_len = rendered.len;
            break;
        }
        uint32_t lens[3] = {(uint32_t)strlen(key), kind, (uint32_t)val_len};
        if (!ob_buf_reserve(b, sizeof lens + lens[0] + val_len))
            return false;
        char *p = b->data + b->len;
        memcpy(p, lens, sizeof lens);
        memcpy(p + sizeof lens, key, lens[0]);
        if (val_len)
            memcpy(p + sizeof lens + lens[0], val, val_len);
        b->len += sizeof lens + lens[0] + val_len;
    }
    return true;
}

/* Stage one of a data point: its stream identity, and a prefetch of the
 * series-cache set that stage two will read. */
static void prepare_point(struct request *r, key_value **kvs, size_t n, struct pending *pd)
{
    struct worker *w = r->w;
    pd->way = NULL;
    pd->ok = raw_attrs(w, kvs, n, &pd->raw);
    if (!pd->ok)
        return;
    uint64_t origin = XXH3_64bits_withSeed(pd->raw.data, pd->raw.len, r->rc->hash ^ r->metric_hash);
    pd->origin = origin ? origin : 1; /* 0 means "no origin" to the store */
    const char *set = (const char *)cache_set(w, pd->origin);
    for (size_t off = 0; off < CACHE_WAYS * sizeof(struct cached_series); off += 64)
        __builtin_prefetch(set + off);
}

/* Stage two: the way that probably holds the point's series (tags only;
 * stage three compares the raw attributes), and prefetches of what stage
 * three will read there and in the store. */
static void locate_point(struct request *r, struct pending *pd)
{
    if (!pd->ok)
        return;
    struct cached_series *set = cache_set(r->w, pd->origin);
    for (int way = 0; way < CACHE_WAYS; way++) {
        struct cached_series *c = &set[way];
        if (c->origin == pd->origin && c->family == r->fam->family) {
            pd->way = c;
            __builtin_prefetch(c->data);
            if (c->raw_len > 64)
                __builtin_prefetch(c->data + 64);
            ob_store_prefetch(r->in->store, &c->hint);
            return;
        }
    }
}

/* The raw attributes of one data point, for advance(). */
struct point_attrs {
    key_value **kvs;
    size_t n;
};

/* Moves the pipeline on to point i of n: stage one for point i+2, stage two
 * for point i+1 (at i == 0 the first two points get their stages first);
 * returns point i, ready for stage three.  a[k] are point i+k's attributes. */
static struct pending *advance(struct request *r, size_t i, size_t n, const struct point_attrs a[3])
{
    struct pending *pend = r->w->pend;
    if (i == 0) {
        prepare_point(r, a[0].kvs, a[0].n, &pend[0]);
        if (n > 1)
            prepare_point(r, a[1].kvs, a[1].n, &pend[1]);
        locate_point(r, &pend[0]);
    }
    if (i + 2 < n)
        prepare_point(r, a[2].kvs, a[2].n, &pend[(i + 2) % PIPELINE]);
    if (i + 1 < n)
        locate_point(r, &pend[(i + 1) % PIPELINE]);
    return &pend[i % PIPELINE];
}

/* point i+k's attributes, any OTLP point type (all have attributes). */
#define POINT_ATTRS(pts, j, n)                                                                     \
    ((j) < (n) ? (struct point_attrs){(pts)[j]->attributes, (pts)[j]->n_attributes}                \
               : (struct point_attrs){NULL, 0})

/* advance() for point i of pts. */
#define ADVANCE(r, pts, i, n)                                                                      \
    advance((r), (i), (n),                                                                         \
            (const struct point_attrs[3]){POINT_ATTRS(pts, i, n), POINT_ATTRS(pts, (i) + 1, n),    \
                                          POINT_ATTRS(pts, (i) + 2, n)})

/* Builds the series identity of one data point into ref: from the worker's
 * series cache when the same raw attributes were seen for this family and
 * resource before, else by naming, sorting and rendering the labels.
 * 0, or the reason to reject the point. */
static int point_series(struct request *r, key_value **kvs, size_t n_kvs,
                        const struct pending *pd, struct ob_series_ref *ref)
{
    struct worker *w = r->w;
    if (!pd->ok)
        return OB_E_MALFORMED;
    const struct ob_buf *raw = &pd->raw;
    uint64_t origin = pd->origin;
    uint32_t family = r->fam->family, gen = r->fam->gen;
    struct cached_series *set = cache_set(w, origin), *c = pd->way;
    if (c && cache_hit(c, origin, family, gen, raw)) /* stage two's guess, usually right */
        goto found;
    for (int way = 0; way < CACHE_WAYS; way++) {
        c = &set[way];
        if (cache_hit(c, origin, family, gen, raw))
            goto found;
    }
    /* A miss takes an empty way, else the next in rotation: under cyclic
     * access to more series than ways, LRU would evict every one in turn. */
    c = NULL;
    for (int way = 0; way < CACHE_WAYS && !c; way++)
        if (set[way].origin == 0)
            c = &set[way];
    if (!c)
        c = &set[w->cache_victim++ % CACHE_WAYS];
    bool was_empty = c->origin == 0;

    size_t n = 0;
    if (!add_attr_labels(r, kvs, n_kvs, &n))
        return OB_E_MALFORMED;
    if (r->rc->n_fixed) /* never memcpy to a NULL labels array */
        memcpy(w->labels + n, r->rc->fixed, r->rc->n_fixed * sizeof *w->labels);
    n += r->rc->n_fixed;
    long count = render_labels(w->labels, n, &w->block);
    if (count < 0)
        return -ENOMEM;
    if ((uint64_t)count > r->in->max_labels)
        return OB_E_TOO_MANY_LABELS;
    size_t need = raw->len + w->block.len;
    if (need > INT32_MAX) /* lengths are 32-bit */
        return OB_E_TOO_MANY_LABELS;
    char *p = realloc(c->data, need ? need : 1);
    if (!p)
        return -ENOMEM;
    c->data = p;
    if (raw->len) /* an empty buffer may have no memory at all */
        memcpy(c->data, raw->data, raw->len);
    if (w->block.len)
        memcpy(c->data + raw->len, w->block.data, w->block.len);
    w->cache_used += was_empty;
    c->origin = origin;
    c->family = family;
    c->family_gen = gen;
    c->raw_len = (uint32_t)raw->len;
    c->block_len = (uint32_t)w->block.len;
    c->hash = XXH3_64bits_withSeed(w->block.data, w->block.len, family);
    c->hint = (struct ob_series_hint){0};
found:
    c->used = w->requests;
    *ref = (struct ob_series_ref){
        .family = family,
        .family_gen = gen,
        .hash = c->hash,
        .key = c->data + c->raw_len,
        .key_len = c->block_len,
        .origin = origin,
        .hint = &c->hint,
    };
    return 0;
}

/* ---- data points ---------------------------------------------------------------- */

static int64_t point_ts_ms(const struct request *r, uint64_t time_unix_nano)
{
    /* A point without a timestamp is taken as "now" rather than 1970. */
    return time_unix_nano ? (int64_t)(time_unix_nano / 1000000u) : r->now_ms;
}

/* Stores one sample of the current family; counts what happened. */
static void append(struct request *r, const struct pending *pd, const struct ob_shape *shape,
                   int64_t ts_ms, key_value **kvs, size_t n_kvs, const double *values)
{
    struct ob_series_ref ref;
    int rc = point_series(r, kvs, n_kvs, pd, &ref);
    if (rc == OB_E_MALFORMED) {
        reject(r, OB_REASON_MALFORMED, 1, "metric %s: attribute is not valid UTF-8",
               r->metric_name);
        return;
    }
    if (rc == OB_E_TOO_MANY_LABELS) {
        reject(r, OB_REASON_LIMIT, 1, "metric %s: more than %u labels", r->metric_name,
               r->in->max_labels);
        return;
    }
    if (rc == 0 && ts_ms > r->now_ms + r->in->window_ms)
        rc = OB_E_OUT_OF_BOUNDS; /* a clock far ahead would block the series */
    if (rc == 0) {
        unsigned flags = 0;
        rc = ob_store_append(r->in->store, &ref, shape, ts_ms, values, &flags);
        if (rc == OB_E_STALE_FAMILY) {
            /* The store reclaimed the family since the name was looked up
             * (it had no series for series_ttl): look it up again (the
             * entry is updated in place) and build the series anew. */
            const struct ob_family_entry *fam =
                ob_names_family(r->w->names, r->x, r->in->store, r->mv);
            if (fam && fam->status == OB_FAMILY_OK &&
                point_series(r, kvs, n_kvs, pd, &ref) == 0)
                rc = ob_store_append(r->in->store, &ref, shape, ts_ms, values, &flags);
        }
        if (rc == 0) {
            if (flags & OB_APPEND_COLLISION)
                r->res->collisions++;
            if (ts_ms > r->rc->newest_ms)
                r->rc->newest_ms = ts_ms;
            return;
        }
    }
    reject(r, reason_of(rc), 1, "metric %s (%s): %s", r->metric_name, r->fam->name,
           ob_strerror(rc));
}

static bool stale(uint32_t flags)
{
    return flags & OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK;
}

static void fill_stale(double *v, size_t n)
{
    uint64_t bits = OB_STALE_NAN_BITS;
    for (size_t i = 0; i < n; i++)
        memcpy(&v[i], &bits, sizeof bits);
}

static void ingest_number_points(struct request *r, number_point **pts, size_t n)
{
    static const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};
    for (size_t i = 0; i < n; i++) {
        const number_point *p = pts[i];
        struct pending *pd = ADVANCE(r, pts, i, n);
        double v;
        if (stale(p->flags))
            fill_stale(&v, 1);
        else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
            v = p->as_double;
        else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
            v = (double)p->as_int;
        else {
            reject(r, OB_REASON_MALFORMED, 1, "metric %s: data point without a value",
                   r->metric_name);
            continue;
        }
        append(r, pd, &scalar, point_ts_ms(r, p->time_unix_nano), p->attributes, p->n_attributes,
               &v);
    }
}

static bool ascending(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(v[i]) || (i && v[i] <= v[i - 1]))
            return false;
    return true;
}

static void ingest_histogram_points(struct request *r, histogram_point **pts, size_t n)
{
    struct worker *w = r->w;
    for (size_t i = 0; i < n; i++) {
        const histogram_point *p = pts[i];
        struct pending *pd = ADVANCE(r, pts, i, n);
        /* Prometheus walks min(bounds, counts); +Inf is the count field. */
        size_t nb = OB_MIN(p->n_explicit_bounds, p->n_bucket_counts);
        if (!ascending(p->explicit_bounds, p->n_explicit_bounds)) {
            reject(r, OB_REASON_MALFORMED, 1, "metric %s: histogram bounds not ascending",
                   r->metric_name);
            continue;
        }
        if (!grow((void **)&w->values, &w->values_cap, nb + 3, sizeof(double))) {
            reject(r, OB_REASON_LIMIT, 1, "metric %s: out of memory", r->metric_name);
            continue;
        }
        struct ob_shape shape = {.kind = OB_SHAPE_HISTOGRAM,
                                 .n = (uint32_t)nb,
                                 .points = p->explicit_bounds,
                                 .has_sum = p->has_sum};
        double *v = w->values;
        if (stale(p->flags)) {
            fill_stale(v, nb + 3);
        } else {
            v[0] = (double)p->count;
            v[1] = p->has_sum ? p->sum : 0;
            uint64_t cum = 0;
            for (size_t b = 0; b < nb; b++) {
                cum += p->bucket_counts[b];
                v[2 + b] = (double)cum;
            }
            v[2 + nb] = (double)p->count;
        }
        append(r, pd, &shape, point_ts_ms(r, p->time_unix_nano), p->attributes, p->n_attributes,
               v);
    }
}

static void ingest_summary_points(struct request *r, summary_point **pts, size_t n)
{
    struct worker *w = r->w;
    for (size_t i = 0; i < n; i++) {
        const summary_point *p = pts[i];
        struct pending *pd = ADVANCE(r, pts, i, n);
        size_t nq = p->n_quantile_values;
        if (!grow((void **)&w->values, &w->values_cap, nq + 2, sizeof(double)) ||
            !grow((void **)&w->points, &w->points_cap, nq + 1, sizeof(double))) {
            reject(r, OB_REASON_LIMIT, 1, "metric %s: out of memory", r->metric_name);
            continue;
        }
        for (size_t q = 0; q < nq; q++)
            w->points[q] = p->quantile_values[q]->quantile;
        if (!ascending(w->points, nq)) {
            reject(r, OB_REASON_MALFORMED, 1, "metric %s: summary quantiles not ascending",
                   r->metric_name);
            continue;
        }
        struct ob_shape shape = {.kind = OB_SHAPE_SUMMARY, .n = (uint32_t)nq, .points = w->points};
        double *v = w->values;
        if (stale(p->flags)) {
            fill_stale(v, nq + 2);
        } else {
            v[0] = (double)p->count;
            v[1] = p->sum;
            for (size_t q = 0; q < nq; q++)
                v[2 + q] = p->quantile_values[q]->value;
        }
        append(r, pd, &shape, point_ts_ms(r, p->time_unix_nano), p->attributes, p->n_attributes,
               v);
    }
}

/* ---- metrics ---------------------------------------------------------------------- */

static size_t point_count(const metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return m->summary->n_data_points;
    default:
        return 0;
    }
}

static const char *temporality_text(int t)
{
    return t == OB_TEMPORALITY_DELTA ? "delta" : "unspecified";
}

static void ingest_metric(struct request *r, const metric *m)
{
    size_t n = point_count(m);
    if (n == 0)
        return; /* Prometheus too skips metrics without points */
    r->res->points += n;
    r->metric_name = m->name ? m->name : "";

    struct ob_metric_view mv = {
        .name = {r->metric_name, strlen(r->metric_name)},
        .unit = {m->unit ? m->unit : "", m->unit ? strlen(m->unit) : 0},
        .description = {m->description ? m->description : "",
                        m->description ? strlen(m->description) : 0},
    };
    if (!ob_utf8_valid(mv.name.ptr, mv.name.len) || !ob_utf8_valid(mv.unit.ptr, mv.unit.len) ||
        !ob_utf8_valid(mv.description.ptr, mv.description.len)) {
        reject(r, OB_REASON_MALFORMED, n, "a metric name, unit or description is not valid UTF-8");
        return;
    }
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        mv.type = OB_METRIC_GAUGE;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        mv.type = m->sum->is_monotonic ? OB_METRIC_COUNTER : OB_METRIC_UPDOWNCOUNTER;
        mv.temporality = (enum ob_temporality)m->sum->aggregation_temporality;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        mv.type = OB_METRIC_HISTOGRAM;
        mv.temporality = (enum ob_temporality)m->histogram->aggregation_temporality;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        reject(r, OB_REASON_UNSUPPORTED, n,
               "metric %s: exponential histograms cannot be exposed in the text format",
               r->metric_name);
        return;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        mv.type = OB_METRIC_SUMMARY;
        break;
    default:
        return;
    }
    if (mv.type != OB_METRIC_GAUGE && mv.type != OB_METRIC_SUMMARY &&
        mv.temporality != OB_TEMPORALITY_CUMULATIVE) {
        reject(r, OB_REASON_TEMPORALITY, n,
               "metric %s: %s temporality is not supported, export cumulative", r->metric_name,
               temporality_text(mv.temporality));
        return;
    }

    r->mv = &mv;
    r->fam = ob_names_family(r->w->names, r->x, r->in->store, &mv);
    if (!r->fam || r->fam->status != OB_FAMILY_OK) {
        enum ob_family_status st = r->fam ? r->fam->status : OB_FAMILY_FULL;
        if (st == OB_FAMILY_DROPPED)
            reject(r, OB_REASON_TRANSLATION, n, "metric %s: the translator refused the name",
                   r->metric_name);
        else if (st == OB_FAMILY_CONFLICT)
            reject(r, OB_REASON_TYPE_CONFLICT, n,
                   "metric %s: %s already exists with another type", r->metric_name,
                   r->fam->name);
        else
            reject(r, OB_REASON_LIMIT, n, "metric %s: no room for a new metric family",
                   r->metric_name);
        return;
    }
    r->metric_hash = XXH3_64bits(mv.name.ptr, mv.name.len);

    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        ingest_number_points(r, m->gauge->data_points, m->gauge->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        ingest_number_points(r, m->sum->data_points, m->sum->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        ingest_histogram_points(r, m->histogram->data_points, m->histogram->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        ingest_summary_points(r, m->summary->data_points, m->summary->n_data_points);
        break;
    default:
        break;
    }
}

/* ---- resources ----------------------------------------------------------------------- */

static uint64_t resource_points(const resource_metrics *rm)
{
    uint64_t n = 0;
    for (size_t s = 0; s < rm->n_scope_metrics; s++)
        for (size_t m = 0; m < rm->scope_metrics[s]->n_metrics; m++)
            n += point_count(rm->scope_metrics[s]->metrics[m]);
    return n;
}

/* Calls the translator's resource() with buffers, growing them once. */
static bool resource_decide(struct request *r, struct resource_ctx *rc, struct ob_resource_out *o)
{
    struct ob_resource_view view = {rc->attrs, rc->n_attrs};
    size_t cap = 256;
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(rc->roles, 0, rc->n_attrs);
        *o = (struct ob_resource_out){
            .job = ob_arena_alloc(&r->w->arena, cap),
            .job_cap = cap,
            .instance = ob_arena_alloc(&r->w->arena, cap),
            .instance_cap = cap,
            .attr_roles = rc->roles,
        };
        if (!o->job || !o->instance)
            return false;
        long need = r->x->desc.resource(r->x->state, &view, o);
        if (need == 0 && o->job_len <= cap && o->instance_len <= cap)
            return true;
        cap = (size_t)OB_MAX(need, (long)OB_MAX(o->job_len, o->instance_len)) + 1;
    }
    return false;
}

/* Renders the resource's attributes, asks the translator what they become,
 * and prepares the labels every series of the resource carries. */
static bool resource_prepare(struct request *r, const resource_metrics *rm, struct resource_ctx *rc)
{
    struct worker *w = r->w;
    const Opentelemetry__Proto__Resource__V1__Resource *res = rm->resource;
    size_t n = res ? res->n_attributes : 0;
    *rc = (struct resource_ctx){.newest_ms = INT64_MIN};
    rc->attrs = ob_arena_alloc(&w->arena, (n + 1) * sizeof *rc->attrs);
    rc->roles = ob_arena_alloc(&w->arena, n + 1);
    rc->fixed = ob_arena_alloc(&w->arena, (n + 2) * sizeof *rc->fixed);
    if (!rc->attrs || !rc->roles || !rc->fixed)
        return false;
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = res->attributes[i]->key ? res->attributes[i]->key : "";
        struct ob_str value;
        if (!ob_utf8_valid(key, strlen(key)) || !value_string(w, res->attributes[i]->value, &value))
            return false;
        rc->attrs[rc->n_attrs++] = (struct ob_attr){{key, strlen(key)}, value};
        h = XXH3_64bits_withSeed(key, strlen(key), h);
        h = XXH3_64bits_withSeed(value.ptr, value.len, h);
    }
    rc->hash = h;

    struct ob_resource_out o;
    if (!resource_decide(r, rc, &o))
        return false;
    rc->target_info = o.target_info;
    for (size_t i = 0; i < rc->n_attrs; i++) {
        struct ob_str name;
        if (!(rc->roles[i] & OB_RES_PROMOTE) || rc->attrs[i].value.len == 0 ||
            !ob_names_label(w->names, r->x, rc->attrs[i].key.ptr, rc->attrs[i].key.len, &name))
            continue;
        rc->fixed[rc->n_fixed++] = (struct label){name, rc->attrs[i].value, rc->attrs[i].key, 2};
    }
    if (o.has_job && o.job_len)
        rc->fixed[rc->n_fixed++] = (struct label){{"job", 3}, {o.job, o.job_len}, {"", 0}, 0};
    if (o.has_instance && o.instance_len)
        rc->fixed[rc->n_fixed++] =
            (struct label){{"instance", 8}, {o.instance, o.instance_len}, {"", 0}, 0};
    return true;
}

/* target_info: one series per job/instance pair (its identity), carrying the
 * latest resource's attributes, value 1 at the resource's newest sample. */
static void write_target_info(struct request *r, const struct resource_ctx *rc)
{
    struct worker *w = r->w;
    if (!rc->target_info || rc->newest_ms == INT64_MIN)
        return;
    size_t n = 0;
    if (!grow((void **)&w->labels, &w->labels_cap, rc->n_attrs + rc->n_fixed, sizeof *w->labels))
        return;
    for (size_t i = 0; i < rc->n_fixed; i++)
        if (rc->fixed[i].prio == 0)
            w->labels[n++] = rc->fixed[i];
    if (render_labels(w->labels, n, &w->key) < 0)
        return;
    for (size_t i = 0; i < rc->n_attrs; i++) {
        struct ob_str name;
        if (!(rc->roles[i] & OB_RES_TARGET_INFO) || rc->attrs[i].value.len == 0 ||
            !ob_names_label(w->names, r->x, rc->attrs[i].key.ptr, rc->attrs[i].key.len, &name))
            continue;
        w->labels[n++] = (struct label){name, rc->attrs[i].value, rc->attrs[i].key, 1};
    }
    if (render_labels(w->labels, n, &w->block) < 0)
        return;

    /* Named by the translator like any gauge, so a namespace applies
     * (<ns>_target_info, as Prometheus does); cached like any metric. */
    static const struct ob_metric_view target = {
        .name = {TARGET_INFO, sizeof TARGET_INFO - 1},
        .description = {"Target metadata", sizeof "Target metadata" - 1},
        .type = OB_METRIC_GAUGE,
    };
    const struct ob_family_entry *fam = ob_names_family(w->names, r->x, r->in->store, &target);
    if (!fam || fam->status != OB_FAMILY_OK)
        return;
    uint32_t family = fam->family;
    static const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};
    const double one = 1;
    struct ob_series_ref ref = {
        .family = family,
        .family_gen = fam->gen,
        .hash = XXH3_64bits_withSeed(w->key.data, w->key.len, family),
        .key = w->key.data,
        .key_len = (uint32_t)w->key.len,
        .labels = w->block.data,
        .labels_len = (uint32_t)w->block.len,
    };
    /* An older or repeated resource changes nothing; not a data point. */
    ob_store_append(r->in->store, &ref, &scalar, rc->newest_ms, &one, NULL);
}

static void ingest_resource(struct request *r, const resource_metrics *rm)
{
    struct resource_ctx rc;
    if (!resource_prepare(r, rm, &rc)) {
        uint64_t n = resource_points(rm);
        r->res->points += n;
        reject(r, OB_REASON_MALFORMED, n,
               "a resource attribute is not valid UTF-8 or cannot be rendered");
        return;
    }
    r->rc = &rc;
    for (size_t s = 0; s < rm->n_scope_metrics; s++) {
        const scope_metrics *sm = rm->scope_metrics[s];
        for (size_t m = 0; m < sm->n_metrics; m++)
            ingest_metric(r, sm->metrics[m]);
    }
    write_target_info(r, &rc);
    r->rc = NULL;
}

/* ---- entry ------------------------------------------------------------------------- */

static void summarise(struct ob_ingest_result *res)
{
    if (!res->rejected)
        return;
    char first[sizeof res->message];
    memcpy(first, res->message, sizeof first);
    int len = snprintf(res->message, sizeof res->message, "%llu of %llu data points rejected (",
                       (unsigned long long)res->rejected, (unsigned long long)res->points);
    const char *sep = "";
    for (int i = 0; i < OB_REASON__COUNT && len > 0 && (size_t)len < sizeof res->message; i++) {
        if (!res->rejected_by[i])
            continue;
        len += snprintf(res->message + len, sizeof res->message - (size_t)len, "%s%s=%llu", sep,
                        ob_reason_name((enum ob_reason)i),
                        (unsigned long long)res->rejected_by[i]);
        sep = ", ";
    }
    if (len > 0 && (size_t)len < sizeof res->message)
        snprintf(res->message + len, sizeof res->message - (size_t)len, "); first: %s", first);
}

int ob_ingest_body(struct ob_ingest *in, enum ob_frontend fe, enum ob_payload_format fmt,
                   const void *body, size_t len, struct ob_ingest_result *out)
{
    *out = (struct ob_ingest_result){0};
    struct worker *w = worker_get(in);
    struct ob_plugin_host *host = in->fe_plugins[fe] ? in->fe_plugins[fe] : in->plugins;
    struct ob_xlator *x = ob_plugin_host_acquire(host);
    if (!w || !x) {
        ob_xlator_unref(x);
        snprintf(out->message, sizeof out->message, "broker not ready");
        return -EAGAIN;
    }
    ob_names_bind(w->names, x);
    if (w->cache_generation != x->generation) {
        cache_clear(w);
        w->cache_generation = x->generation;
    }
    ob_arena_reset(&w->arena);

    int rc;
    ob_otlp_request *req = NULL;
    if (fmt == OB_PAYLOAD_JSON) {
        rc = ob_otlp_json_decode(&w->arena, body, len, &req, out->message, sizeof out->message);
    } else {
        rc = ob_otlp_decode(&w->arena, body, len, &req);
        if (rc != 0)
            snprintf(out->message, sizeof out->message,
                     "body is not a valid protobuf ExportMetricsServiceRequest");
    }
    if (rc != 0)
        goto done;
    struct request r = {.in = in, .w = w, .x = x, .res = out, .now_ms = ob_now_ns() / 1000000};
    for (size_t i = 0; i < req->n_resource_metrics; i++)
        ingest_resource(&r, req->resource_metrics[i]);
    summarise(out);
    w->requests++;
    if (w->cache_used * 2 > cache_entries(w) && w->requests - w->swept >= SWEEP_EVERY)
        cache_sweep(w);
    if (w->cache_used * 2 > cache_entries(w) && w->cache_mask + 1 < w->cache_max_sets)
        cache_grow(w);

    ob_names_publish(w->names);
    ob_sm_points_received(fe, out->points);
    for (int i = 0; i < OB_REASON__COUNT; i++)
        ob_sm_points_rejected((enum ob_reason)i, out->rejected_by[i]);
    if (out->collisions)
        ob_sm_collisions(out->collisions);
done:
    ob_xlator_unref(x);
    return rc;
}
