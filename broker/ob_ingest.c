/* ob_ingest.c: THE ingest function.
 *
 * One pass over a decoded ExportMetricsServiceRequest, one short static
 * function per protobuf level (cmetrics style):
 *
 *   ingest_resource  attributes rendered once; translator decides job,
 *                    instance, target_info and promoted attributes
 *   ingest_metric    type + temporality checks; family from the name cache
 *   ingest_*_points  per point kind: values laid out as the store's sample
 *                    layout says; the series from the series cache
 *                    (ob_series_cache.h) or a new label set (ob_labels.h);
 *                    exemplars of counters and histograms; ob_store_append();
 *                    rejections counted
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

#include "ob_attrs.h"
#include "ob_buf.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_exphist.h"
#include "ob_fwdlog.h"
#include "ob_labels.h"
#include "ob_float.h"
#include "ob_log.h"
#include "ob_names.h"
#include "ob_otlp.h"
#include "ob_otlp_json.h"
#include "ob_translator_host.h"
#include "ob_series_cache.h"
#include "ob_status.h"
#include "ob_store.h"
#include "ob_time.h"
#include "ob_utf8.h"

typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint summary_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint exphist_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exphist_buckets;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar exemplar_msg;

#define TARGET_INFO "target_info"


struct worker {
    struct ob_arena arena;
    struct ob_names *names;
    struct ob_series_cache cache;
    uint64_t cache_generation;   /* translator the cache was filled with */
    struct ob_series_pipeline pipe; /* the current metric's points */
    struct ob_buf block;   /* rendered label block */
    struct ob_buf key;     /* target_info identity block */
    struct ob_attr_render render; /* attribute values to text (its arena: ours) */
    struct ob_label *labels;
    size_t labels_cap;
    double *values;
    size_t values_cap;
    double *points; /* histogram bounds / summary quantiles */
    size_t points_cap;
    struct ob_exemplar *ex; /* the current point's exemplars */
    size_t ex_cap;
    struct ob_buf ex_text;  /* their label blocks, back to back */
    struct ob_buf ex_block; /* one label block while it is rendered */
    struct ob_fwd_batch fwd; /* the request's forward log records */
};

/* What a resource contributes to each of its series. */
struct resource_ctx {
    struct ob_label *fixed; /* job, instance and promoted attributes (arena) */
    size_t n_fixed;
    struct ob_attr *attrs; /* rendered resource attributes (arena) */
    size_t n_attrs;
    uint8_t *roles;
    bool target_info;
    uint64_t hash;       /* of all attributes: part of every series' origin */
    struct ob_str service; /* service.name, for the status page's name map */
    int64_t newest_ms;   /* newest accepted point, for target_info */
};

/* Everything one request needs on the way down. */
struct request {
    struct ob_ingest *in;
    enum ob_frontend fe;
    struct worker *w;
    const struct ob_translator_inst *x;
    struct ob_ingest_result *res;
    int64_t now_ms;
    struct resource_ctx *rc;
    const struct ob_family_entry *fam;
    const struct ob_metric_view *mv; /* the metric being ingested */
    const char *metric_name; /* original OTLP name, for messages */
    uint64_t metric_hash;
    bool exemplars;          /* the metric's type keeps exemplars */
    bool delta;              /* delta temporality: points are added up in the store */
    int last_reason;         /* of the last rejected point, -1: none yet */
};

struct ob_ingest {
    struct ob_store *store;
    struct ob_translator_slot *translators[OB_FE__COUNT]; /* each frontend's (may be shared) */
    uint32_t max_labels;
    uint32_t max_exemplar_bytes; /* an exemplar's label block */
    uint32_t max_series; /* sizes the series caches */
    uint32_t name_cache_entries; /* budget of each thread's name cache */
    uint64_t name_cache_bytes;
    int64_t window_ms;
    int64_t series_ttl_ms; /* series caches forget what the store expired */
    struct ob_fwdlog *fwd; /* remote write's log; NULL = no remote write */
    _Atomic uint64_t fwd_oom; /* records not logged for want of memory */
    pthread_key_t worker_key;
};

/* ---- per-thread workers -------------------------------------------------- */

static void worker_destroy(void *p)
{
    struct worker *w = p;
    if (!w)
        return;
    ob_arena_fini(&w->arena);
    ob_names_destroy(w->names);
    ob_series_cache_fini(&w->cache);
    ob_series_pipeline_fini(&w->pipe);
    ob_buf_fini(&w->block);
    ob_buf_fini(&w->key);
    ob_buf_fini(&w->render.json);
    free(w->labels);
    free(w->values);
    free(w->points);
    free(w->ex);
    ob_buf_fini(&w->ex_text);
    ob_buf_fini(&w->ex_block);
    ob_fwd_batch_fini(&w->fwd);
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
    w->render.arena = &w->arena;
    w->pipe = (struct ob_series_pipeline){.cache = &w->cache, .store = in->store,
                                          .render = &w->render};
    if (ob_series_cache_init(&w->cache, in->max_series, in->series_ttl_ms) != 0 ||
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

int ob_ingest_create(struct ob_store *store, const struct ob_config *cfg,
                     struct ob_translator_slot *const translators[OB_FE__COUNT],
                     struct ob_ingest **out)
{
    struct ob_ingest *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->store = store;
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        in->translators[fe] = translators[fe];
    in->max_labels = cfg->max_labels_per_series;
    in->max_exemplar_bytes = cfg->max_exemplar_label_bytes ? cfg->max_exemplar_label_bytes : 512;
    in->max_series = cfg->store_max_series;
    in->window_ms = cfg->store_ooo_window_ms;
    in->series_ttl_ms = cfg->store_series_ttl_ms;
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

void ob_ingest_set_fwdlog(struct ob_ingest *in, struct ob_fwdlog *log)
{
    in->fwd = log;
}

uint64_t ob_ingest_fwd_oom(const struct ob_ingest *in)
{
    return atomic_load_explicit(&in->fwd_oom, memory_order_relaxed);
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
    r->last_reason = (int)why;
    if (!r->res->first_metric[why][0])
        snprintf(r->res->first_metric[why], sizeof r->res->first_metric[why], "%s",
                 r->metric_name && r->metric_name[0] ? r->metric_name : "(no name)");
}

static enum ob_reason reason_of(int rc)
{
    switch (rc) {
    case OB_E_OUT_OF_BOUNDS:
        return OB_REASON_OUT_OF_BOUNDS;
    case OB_E_DUPLICATE:
        return OB_REASON_DUPLICATE;
    case OB_E_TYPE_CONFLICT:
    case OB_E_TEMPORALITY:
        return OB_REASON_TYPE_CONFLICT;
    case OB_E_OUT_OF_ORDER:
        return OB_REASON_OUT_OF_ORDER;
    default:
        return OB_REASON_LIMIT;
    }
}

/* ---- label sets -------------------------------------------------------------- */

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
        if (!ob_utf8_valid(key, key_len) || !ob_attr_string(&w->render, kvs[i]->value, &value))
            return false;
        /* Empty values are no labels in Prometheus; __name__ is never an attribute. */
        if (value.len == 0 || strcmp(key, "__name__") == 0)
            continue;
        if (!ob_names_metric_label(w->names, r->x, r->fam, r->mv, key, key_len, &name))
            continue;
        w->labels[(*io_n)++] = (struct ob_label){name, value, {key, key_len}, 1};
    }
    return true;
}

/* point i+k's attributes, any OTLP point type (all have attributes). */
#define POINT_ATTRS(pts, j, n)                                                                     \
    ((j) < (n) ? (struct ob_kvs){(pts)[j]->attributes, (pts)[j]->n_attributes}                     \
               : (struct ob_kvs){NULL, 0})

/* The series pipeline moved on to point i of pts (ob_series_cache.h). */
#define ADVANCE(r, pts, i, n)                                                                      \
    ob_series_pipeline_advance(&(r)->w->pipe, (i), (n),                                            \
                               (const struct ob_kvs[3]){POINT_ATTRS(pts, i, n),                    \
                                                        POINT_ATTRS(pts, (i) + 1, n),              \
                                                        POINT_ATTRS(pts, (i) + 2, n)})

/* Builds the series identity of one data point into ref: from the worker's
 * series cache when the same raw attributes were seen for this family and
 * resource before, else by naming, sorting and rendering the labels.
 * 0, or the reason to reject the point. */
static int point_series(struct request *r, key_value **kvs, size_t n_kvs,
                        const struct ob_series_probe *pd, struct ob_series_ref *ref)
{
    struct worker *w = r->w;
    if (!pd->ok)
        return OB_E_MALFORMED;
    uint32_t family = r->fam->family, gen = r->fam->gen;
    struct ob_cached_series *c = ob_series_cache_find(&w->cache, pd, family, gen);
    if (!c) {
        size_t n = 0;
        if (!add_attr_labels(r, kvs, n_kvs, &n))
            return OB_E_MALFORMED;
        if (r->rc->n_fixed) /* never memcpy to a NULL labels array */
            memcpy(w->labels + n, r->rc->fixed, r->rc->n_fixed * sizeof *w->labels);
        n += r->rc->n_fixed;
        long count = ob_labels_render(w->labels, n, &w->block);
        if (count < 0)
            return -ENOMEM;
        if ((uint64_t)count > r->in->max_labels)
            return OB_E_TOO_MANY_LABELS;
        if (pd->raw.len + w->block.len > INT32_MAX) /* lengths are 32-bit */
            return OB_E_TOO_MANY_LABELS;
        c = ob_series_cache_put(&w->cache, pd, family, gen, w->block.data, w->block.len);
        if (!c)
            return -ENOMEM;
    }
    *ref = (struct ob_series_ref){
        .family = family,
        .family_gen = gen,
        .hash = c->hash,
        .key = c->data + c->raw_len,
        .key_len = c->block_len,
        .origin = c->origin,
        .hint = &c->hint,
        .fwd = r->in->fwd ? &w->fwd : NULL,
    };
    return 0;
}

/* ---- data points ---------------------------------------------------------------- */

static int64_t point_ts_ms(const struct request *r, uint64_t time_unix_nano)
{
    /* A point without a timestamp is taken as "now" rather than 1970. */
    return time_unix_nano ? (int64_t)(time_unix_nano / 1000000u) : r->now_ms;
}

/* The created timestamp of a point (ms): its start time, unless OTLP says
 * it is unknown (0, or equal to the point's time). */
static int64_t created_ms(uint64_t start_unix_nano, uint64_t time_unix_nano)
{
    if (!start_unix_nano || start_unix_nano == time_unix_nano)
        return 0;
    return (int64_t)(start_unix_nano / 1000000u);
}

/* ---- exemplars (docs/otlp-to-prometheus.md, section 11) ----------------------- */

/* OpenMetrics: an exemplar's label names and values together are at most
 * 128 code points. */
#define EXEMPLAR_MAX_RUNES 128

static size_t runes(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

/* An id in lowercase hex into out (2 * len bytes); false when it is all
 * zeros (no id, for OTLP). */
static bool hex(const ProtobufCBinaryData *id, char *out)
{
    static const char digits[] = "0123456789abcdef";
    unsigned any = 0;
    for (size_t i = 0; i < id->len; i++) {
        uint8_t b = id->data[i];
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 15];
        any |= b;
    }
    return any != 0;
}

/* The label block of the ids alone (span_id sorts first), appended to b. */
static void put_id_labels(struct ob_buf *b, const char *span, const char *trace)
{
    if (!ob_buf_reserve(b, 72))
        return;
    char *p = b->data + b->len;
    if (span) {
        memcpy(p, "span_id=\"", 9);
        memcpy(p + 9, span, 16);
        p[25] = '"';
        p += 26;
    }
    if (trace) {
        if (span)
            *p++ = ',';
        memcpy(p, "trace_id=\"", 10);
        memcpy(p + 10, trace, 32);
        p[42] = '"';
        p += 43;
    }
    b->len = (size_t)(p - b->data);
}

/* Appends exemplar e's label block to w->ex_text: trace_id and span_id in
 * lowercase hex (when not zero), with its filtered attributes only when the
 * whole stays within EXEMPLAR_MAX_RUNES and limits.max_exemplar_label_bytes.
 * False for a bad exemplar: an id of the wrong length, an attribute that is
 * not UTF-8. */
static bool exemplar_labels(struct request *r, const exemplar_msg *e)
{
    struct worker *w = r->w;
    const ProtobufCBinaryData *tid = &e->trace_id, *sid = &e->span_id;
    if ((tid->len && tid->len != 16) || (sid->len && sid->len != 8))
        return false;
    char trace[32], span[16];
    bool has_trace = hex(tid, trace), has_span = hex(sid, span);
    size_t n_attrs = e->n_filtered_attributes;
    if (n_attrs) {
        if (!grow((void **)&w->labels, &w->labels_cap, n_attrs + 2, sizeof *w->labels))
            return false;
        size_t n = 0, count = 0;
        if (has_span)
            w->labels[n++] = (struct ob_label){{"span_id", 7}, {span, 16}, {"", 0}, 0};
        if (has_trace)
            w->labels[n++] = (struct ob_label){{"trace_id", 8}, {trace, 32}, {"", 0}, 0};
        count = (has_span ? 7 + 16 : 0) + (has_trace ? 8 + 32 : 0);
        for (size_t i = 0; i < n_attrs; i++) {
            const key_value *kv = e->filtered_attributes[i];
            const char *key = kv->key ? kv->key : "";
            size_t key_len = strlen(key);
            struct ob_str value, name;
            if (!ob_utf8_valid(key, key_len) || !ob_attr_string(&w->render, kv->value, &value))
                return false;
            if (value.len == 0 || !ob_names_label(w->names, r->x, key, key_len, &name))
                continue;
            count += runes(name.ptr, name.len) + runes(value.ptr, value.len);
            w->labels[n++] = (struct ob_label){name, value, {key, key_len}, 1};
        }
        if (count <= EXEMPLAR_MAX_RUNES && ob_labels_render(w->labels, n, &w->ex_block) >= 0 &&
            w->ex_block.len <= r->in->max_exemplar_bytes) {
            ob_buf_append(&w->ex_text, w->ex_block.data, w->ex_block.len);
            return true;
        }
    }
    put_id_labels(&w->ex_text, has_span ? span : NULL, has_trace ? trace : NULL);
    return true;
}

/* The point's exemplars as the store takes them, into w->ex; returns how
 * many.  A counter's go to its one entry; a histogram's each to the first
 * bucket whose bound is >= its value, +Inf above the last bound
 * (Prometheus' rule; a NaN value fits no bucket).  An exemplar without a
 * time takes the point's.  Bad ones, and those of types that carry none,
 * are counted and left out. */
static uint32_t point_exemplars(struct request *r, exemplar_msg **xs, size_t n, int64_t ts_ms,
                                const double *bounds, size_t nb, bool histogram)
{
    struct worker *w = r->w;
    if (OB_LIKELY(n == 0))
        return 0;
    if (!r->exemplars) {
        r->res->exemplars_dropped[OB_EXDROP_TYPE] += n;
        return 0;
    }
    if (!grow((void **)&w->ex, &w->ex_cap, n, sizeof *w->ex)) {
        r->res->exemplars_dropped[OB_EXDROP_MEMORY] += n;
        return 0;
    }
    w->ex_text.len = 0;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const exemplar_msg *e = xs[i];
        double v;
        if (e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE)
            v = e->as_double;
        else if (e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT)
            v = (double)e->as_int;
        else
            v = NAN;
        uint32_t index = 0;
        if (histogram) {
            size_t lo = 0, hi = nb; /* the first bound >= v */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (bounds[mid] < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            index = (uint32_t)lo;
        }
        size_t at = w->ex_text.len;
        if (isnan(v) || !exemplar_labels(r, e)) {
            w->ex_text.len = at;
            r->res->exemplars_dropped[OB_EXDROP_INVALID]++;
            continue;
        }
        w->ex[k++] = (struct ob_exemplar){
            .index = index,
            .labels_len = (uint32_t)(w->ex_text.len - at),
            .labels = (const char *)(uintptr_t)at, /* an offset until the text stops moving */
            .ts_ms = e->time_unix_nano ? (int64_t)(e->time_unix_nano / 1000000u) : ts_ms,
            .value = v,
        };
    }
    if (w->ex_text.failed) {
        w->ex_text.failed = false;
        r->res->exemplars_dropped[OB_EXDROP_MEMORY] += k;
        return 0;
    }
    for (uint32_t i = 0; i < k; i++)
        w->ex[i].labels = w->ex_text.data + (uintptr_t)w->ex[i].labels;
    return k;
}

/* A point's start time in ms, 0 when it has none. */
static int64_t start_ms(uint64_t start_unix_nano)
{
    return (int64_t)(start_unix_nano / 1000000u);
}

/* Writes one sample into the store: appended, or for a delta metric added
 * to the series' running total (values is the delta, and is overwritten). */
static int store_point(struct request *r, const struct ob_series_ref *ref, const struct ob_shape *shape,
                       int64_t start, int64_t ts_ms, double *values, unsigned *flags)
{
    if (OB_UNLIKELY(r->delta))
        return ob_store_accumulate(r->in->store, ref, shape, start, ts_ms, values, flags);
    return ob_store_append(r->in->store, ref, shape, ts_ms, values, flags);
}

/* Stores one sample of the current family, with its exemplars (n_ex of
 * w->ex); counts what happened.  start: the point's start time (ms, 0 =
 * none); created: its created timestamp. */
static void append(struct request *r, const struct ob_series_probe *pd,
                   const struct ob_shape *shape, int64_t start, int64_t ts_ms, int64_t created,
                   key_value **kvs, size_t n_kvs, double *values, uint32_t n_ex)
{
    struct ob_series_ref ref;
    int rc = point_series(r, kvs, n_kvs, pd, &ref);
    ref.created_ms = created;
    ref.exemplars = r->w->ex;
    ref.n_exemplars = n_ex;
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
        rc = store_point(r, &ref, shape, start, ts_ms, values, &flags);
        if (rc == OB_E_STALE_FAMILY) {
            /* The store reclaimed the family since the name was looked up
             * (it had no series for series_ttl): look it up again (the
             * entry is updated in place) and build the series anew. */
            const struct ob_family_entry *fam =
                ob_names_resolve_family(r->w->names, r->x, r->in->store, r->mv);
            if (fam)
                r->w->pipe.family = fam->family; /* the next points' guesses */
            if (fam && fam->status == OB_FAMILY_OK &&
                point_series(r, kvs, n_kvs, pd, &ref) == 0) {
                ref.created_ms = created;
                ref.exemplars = r->w->ex;
                ref.n_exemplars = n_ex;
                rc = store_point(r, &ref, shape, start, ts_ms, values, &flags);
            }
        }
        if (rc == 0) {
            if (flags & OB_APPEND_COLLISION)
                r->res->collisions++;
            if (OB_UNLIKELY(n_ex)) {
                if (flags & OB_APPEND_EXEMPLARS_FULL)
                    r->res->exemplars_dropped[OB_EXDROP_MEMORY] += n_ex;
                else
                    r->res->exemplars += n_ex;
            }
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
        struct ob_series_probe *pd = ADVANCE(r, pts, i, n);
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
        int64_t ts = point_ts_ms(r, p->time_unix_nano);
        uint32_t n_ex = point_exemplars(r, p->exemplars, p->n_exemplars, ts, NULL, 0, false);
        append(r, pd, &scalar, start_ms(p->start_time_unix_nano), ts,
               created_ms(p->start_time_unix_nano, p->time_unix_nano), p->attributes,
               p->n_attributes, &v, n_ex);
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
        struct ob_series_probe *pd = ADVANCE(r, pts, i, n);
        /* Prometheus walks min(bounds, counts); +Inf is the count field. */
        size_t nb = OB_MIN(p->n_explicit_bounds, p->n_bucket_counts);
        if (!ascending(p->explicit_bounds, p->n_explicit_bounds)) {
            reject(r, OB_REASON_MALFORMED, 1, "metric %s: histogram bounds not ascending",
                   r->metric_name);
            continue;
        }
        uint32_t width = ob_sample_width(OB_SHAPE_HISTOGRAM, (uint32_t)nb);
        if (!grow((void **)&w->values, &w->values_cap, width, sizeof(double))) {
            reject(r, OB_REASON_LIMIT, 1, "metric %s: out of memory", r->metric_name);
            continue;
        }
        struct ob_shape shape = {.kind = OB_SHAPE_HISTOGRAM,
                                 .n = (uint32_t)nb,
                                 .points = p->explicit_bounds,
                                 .has_sum = p->has_sum};
        double *v = w->values;
        if (stale(p->flags)) {
            fill_stale(v, width);
        } else {
            ob_sample_histogram(v, (uint32_t)nb, p->count, p->has_sum ? p->sum : 0,
                                p->bucket_counts);
        }
        int64_t ts = point_ts_ms(r, p->time_unix_nano);
        uint32_t n_ex = point_exemplars(r, p->exemplars, p->n_exemplars, ts, p->explicit_bounds,
                                        nb, true);
        append(r, pd, &shape, start_ms(p->start_time_unix_nano), ts,
               created_ms(p->start_time_unix_nano, p->time_unix_nano), p->attributes,
               p->n_attributes, v, n_ex);
    }
}

/* One side's counts into v (as doubles), lowered by `by` scale steps;
 * returns how many, *offset the index of the first. */
static uint32_t exp_side(const exphist_buckets *b, unsigned by, double *v, int32_t *offset)
{
    *offset = b ? b->offset : 0;
    uint32_t n = b ? (uint32_t)b->n_bucket_counts : 0;
    for (uint32_t i = 0; i < n; i++)
        v[i] = (double)b->bucket_counts[i];
    return ob_exphist_downscale(v, n, offset, by);
}

static void ingest_exphist_points(struct request *r, exphist_point **pts, size_t n)
{
    struct worker *w = r->w;
    for (size_t i = 0; i < n; i++) {
        const exphist_point *p = pts[i];
        struct ob_series_probe *pd = ADVANCE(r, pts, i, n);
        int32_t schema;
        unsigned by;
        if (!ob_exphist_schema(p->scale, &schema, &by)) {
            reject(r, OB_REASON_UNSUPPORTED, 1,
                   "metric %s: exponential histogram scale %d is below -4, which Prometheus "
                   "cannot hold", r->metric_name, (int)p->scale);
            continue;
        }
        size_t np = p->positive ? p->positive->n_bucket_counts : 0;
        size_t nn = p->negative ? p->negative->n_bucket_counts : 0;
        if (np + nn > OB_STORE_MAX_POINTS) {
            reject(r, OB_REASON_LIMIT, 1, "metric %s: more than %u exponential histogram buckets",
                   r->metric_name, OB_STORE_MAX_POINTS);
            continue;
        }
        /* Room for the counts as they come, lowered in place. */
        uint32_t most = ob_sample_width(OB_SHAPE_EXPHIST, ob_exphist_room((uint32_t)(np + nn)));
        if (!grow((void **)&w->values, &w->values_cap, most, sizeof(double))) {
            reject(r, OB_REASON_LIMIT, 1, "metric %s: out of memory", r->metric_name);
            continue;
        }
        double *v = w->values;
        int32_t pos_off, neg_off;
        uint32_t pos_n = exp_side(p->positive, by, v + OB_SAMPLE_EXP_BUCKET0, &pos_off);
        uint32_t neg_n = exp_side(p->negative, by, v + OB_SAMPLE_EXP_BUCKET0 + pos_n, &neg_off);
        uint32_t room = ob_exphist_room(pos_n + neg_n);
        uint32_t width = ob_sample_width(OB_SHAPE_EXPHIST, room);
        if (stale(p->flags)) {
            fill_stale(v, width);
        } else {
            v[OB_SAMPLE_COUNT] = (double)p->count;
            v[OB_SAMPLE_SUM] = p->has_sum ? p->sum : 0;
            v[OB_SAMPLE_EXP_ZERO_COUNT] = (double)p->zero_count;
            v[OB_SAMPLE_EXP_ZERO_THRESHOLD] = p->zero_threshold;
            v[OB_SAMPLE_EXP_SCALE] = schema;
            v[OB_SAMPLE_EXP_POS_OFFSET] = pos_off;
            v[OB_SAMPLE_EXP_POS_N] = pos_n;
            v[OB_SAMPLE_EXP_NEG_OFFSET] = neg_off;
            v[OB_SAMPLE_EXP_NEG_N] = neg_n;
            memset(v + OB_SAMPLE_EXP_BUCKET0 + pos_n + neg_n, 0, 8u * (room - pos_n - neg_n));
        }
        struct ob_shape shape = {.kind = OB_SHAPE_EXPHIST, .n = room, .has_sum = p->has_sum};
        int64_t ts = point_ts_ms(r, p->time_unix_nano);
        uint32_t n_ex = point_exemplars(r, p->exemplars, p->n_exemplars, ts, NULL, 0, false);
        append(r, pd, &shape, start_ms(p->start_time_unix_nano), ts,
               created_ms(p->start_time_unix_nano, p->time_unix_nano), p->attributes,
               p->n_attributes, v, n_ex);
    }
}

static void ingest_summary_points(struct request *r, summary_point **pts, size_t n)
{
    struct worker *w = r->w;
    for (size_t i = 0; i < n; i++) {
        const summary_point *p = pts[i];
        struct ob_series_probe *pd = ADVANCE(r, pts, i, n);
        size_t nq = p->n_quantile_values;
        uint32_t width = ob_sample_width(OB_SHAPE_SUMMARY, (uint32_t)nq);
        if (!grow((void **)&w->values, &w->values_cap, width, sizeof(double)) ||
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
            fill_stale(v, width);
        } else {
            v[OB_SAMPLE_COUNT] = (double)p->count;
            v[OB_SAMPLE_SUM] = p->sum;
            for (size_t q = 0; q < nq; q++)
                v[OB_SAMPLE_POINT0 + q] = p->quantile_values[q]->value;
        }
        append(r, pd, &shape, start_ms(p->start_time_unix_nano), point_ts_ms(r, p->time_unix_nano),
               created_ms(p->start_time_unix_nano, p->time_unix_nano), p->attributes, p->n_attributes,
               v, 0);
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


/* The OTLP type and temporality of a metric, as the status page names them. */
static const char *otlp_type(const metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return "gauge";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return "sum";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return "histogram";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return "exponential_histogram";
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return "summary";
    default:
        return "";
    }
}

/* Gauges and summaries have none; a sum or histogram without one says so. */
static const char *otlp_temporality(const metric *m, enum ob_temporality t)
{
    if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE ||
        m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY)
        return "";
    return t == OB_TEMPORALITY_CUMULATIVE ? "cumulative"
           : t == OB_TEMPORALITY_DELTA    ? "delta"
                                          : "unspecified";
}

static void ingest_metric_points(struct request *r, const metric *m, struct ob_metric_view *mv);

/* One metric: its points, then its line in the status page's name map. */
static void ingest_metric(struct request *r, const metric *m)
{
    size_t n = point_count(m);
    if (n == 0)
        return; /* Prometheus too skips metrics without points */
    uint64_t rejected = r->res->rejected;
    r->last_reason = -1;
    struct ob_metric_view mv = {0};
    r->fam = NULL;
    ingest_metric_points(r, m, &mv);
    const char *name = m->name ? m->name : "", *unit = m->unit ? m->unit : "";
    const struct ob_status_metric st = {
        .fe = r->fe,
        .name = name,
        .name_len = strlen(name),
        .unit = unit,
        .unit_len = strlen(unit),
        .service = r->rc->service.ptr ? r->rc->service.ptr : "",
        .service_len = r->rc->service.len,
        .type = otlp_type(m),
        .temporality = otlp_temporality(m, mv.temporality),
        .family = r->fam && r->fam->status == OB_FAMILY_OK ? r->fam->name : "",
        .points = n,
        .rejected = r->res->rejected - rejected,
        .reason = r->last_reason,
    };
    ob_status_seen(&st, r->now_ms);
}

/* The metric's points into the store; *out_mv gets its temporality. */
static void ingest_metric_points(struct request *r, const metric *m, struct ob_metric_view *out_mv)
{
    size_t n = point_count(m);
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
        mv.type = OB_METRIC_EXP_HISTOGRAM;
        mv.temporality = (enum ob_temporality)m->exponential_histogram->aggregation_temporality;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        mv.type = OB_METRIC_SUMMARY;
        break;
    default:
        return;
    }
    out_mv->temporality = mv.temporality;
    /* Delta sums and histograms become cumulative series in the store. */
    if (mv.type != OB_METRIC_GAUGE && mv.type != OB_METRIC_SUMMARY &&
        mv.temporality != OB_TEMPORALITY_CUMULATIVE && mv.temporality != OB_TEMPORALITY_DELTA) {
        reject(r, OB_REASON_TEMPORALITY, n,
               "metric %s: temporality unspecified, export cumulative or delta", r->metric_name);
        return;
    }
    r->delta = mv.temporality == OB_TEMPORALITY_DELTA;

    r->mv = &mv;
    /* Only counters and histograms carry exemplars in any exposition. */
    r->exemplars = mv.type == OB_METRIC_COUNTER || mv.type == OB_METRIC_HISTOGRAM ||
                   mv.type == OB_METRIC_EXP_HISTOGRAM;
    r->fam = ob_names_resolve_family(r->w->names, r->x, r->in->store, &mv);
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
    r->w->pipe.seed = r->rc->hash ^ r->metric_hash;
    r->w->pipe.family = r->fam->family;

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
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        ingest_exphist_points(r, m->exponential_histogram->data_points,
                              m->exponential_histogram->n_data_points);
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
        if (!ob_utf8_valid(key, strlen(key)) || !ob_attr_string(&w->render, res->attributes[i]->value, &value))
            return false;
        rc->attrs[rc->n_attrs++] = (struct ob_attr){{key, strlen(key)}, value};
        if (strcmp(key, "service.name") == 0)
            rc->service = value;
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
        rc->fixed[rc->n_fixed++] = (struct ob_label){name, rc->attrs[i].value, rc->attrs[i].key, 2};
    }
    if (o.has_job && o.job_len)
        rc->fixed[rc->n_fixed++] = (struct ob_label){{"job", 3}, {o.job, o.job_len}, {"", 0}, 0};
    if (o.has_instance && o.instance_len)
        rc->fixed[rc->n_fixed++] =
            (struct ob_label){{"instance", 8}, {o.instance, o.instance_len}, {"", 0}, 0};
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
    if (ob_labels_render(w->labels, n, &w->key) < 0)
        return;
    for (size_t i = 0; i < rc->n_attrs; i++) {
        struct ob_str name;
        if (!(rc->roles[i] & OB_RES_TARGET_INFO) || rc->attrs[i].value.len == 0 ||
            !ob_names_label(w->names, r->x, rc->attrs[i].key.ptr, rc->attrs[i].key.len, &name))
            continue;
        w->labels[n++] = (struct ob_label){name, rc->attrs[i].value, rc->attrs[i].key, 1};
    }
    if (ob_labels_render(w->labels, n, &w->block) < 0)
        return;

    /* Named by the translator like any gauge, so a namespace applies
     * (<ns>_target_info, as Prometheus does); cached like any metric. */
    static const struct ob_metric_view target = {
        .name = {TARGET_INFO, sizeof TARGET_INFO - 1},
        .description = {"Target metadata", sizeof "Target metadata" - 1},
        .type = OB_METRIC_GAUGE,
    };
    const struct ob_family_entry *fam = ob_names_resolve_family(w->names, r->x, r->in->store,
                                                                &target);
    if (!fam || fam->status != OB_FAMILY_OK)
        return;
    uint32_t family = fam->family;
    static const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};
    const double one = 1;
    struct ob_series_ref ref = {
        .family = family,
        .family_gen = fam->gen,
        .hash = ob_store_hash(family, w->key.data, w->key.len),
        .key = w->key.data,
        .key_len = (uint32_t)w->key.len,
        .labels = w->block.data,
        .labels_len = (uint32_t)w->block.len,
        .fwd = r->in->fwd ? &w->fwd : NULL,
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
    struct ob_translator_slot *slot = (unsigned)fe < OB_FE__COUNT ? in->translators[fe] : NULL;
    struct ob_translator_inst *x = slot ? ob_translator_slot_acquire(slot) : NULL;
    if (!w || !x) {
        ob_translator_unref(x);
        snprintf(out->message, sizeof out->message, "broker not ready");
        return -EAGAIN;
    }
    ob_names_bind(w->names, x);
    if (w->cache_generation != x->generation) {
        ob_series_cache_clear(&w->cache);
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
    struct request r = {.in = in, .fe = fe, .w = w, .x = x, .res = out,
                        .now_ms = ob_now_ns() / 1000000};
    ob_series_cache_begin(&w->cache, r.now_ms);
    for (size_t i = 0; i < req->n_resource_metrics; i++)
        ingest_resource(&r, req->resource_metrics[i]);
    summarise(out);
    ob_series_cache_request_done(&w->cache);
    if (in->fwd) {
        /* Logged before the request is answered: what a sender was told
         * is stored, remote write will send, even across a crash. */
        if (OB_UNLIKELY(w->fwd.oom))
            atomic_fetch_add_explicit(&in->fwd_oom, 1, memory_order_relaxed);
        ob_fwdlog_commit(in->fwd, &w->fwd, r.now_ms);
    }

    ob_names_publish(w->names);
done:
    ob_translator_unref(x);
    return rc;
}
