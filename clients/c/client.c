/* client.c: the otlp-broker C client library.  API and semantics: client.h.
 *
 * Recording: the attribute set is brought into a canonical form (sorted by
 * key, a repeated key keeps its last value) and serialised into one byte
 * string, the series key:
 *
 *   per attribute:  key '\0'  type(1 byte)  value
 *                   value = string '\0' | int64 (8 bytes) | double (8 bytes) | bool (1 byte)
 *
 * The key is hashed outside any lock; then the instrument's mutex is held for
 * a hash-table probe and a few arithmetic operations.  A series is created
 * once per distinct key and lives until obc_close (cumulative temporality
 * exports every series on every flush, as an SDK does).
 *
 * Flushing: one flush at a time (flush_lock, which also owns the socket).
 * Each instrument is locked only while its series' values are copied into
 * the protobuf-c tree; the tree lives in a per-flush scratch arena, its
 * attribute strings point into the (immutable) series keys, and it is packed
 * and sent after all instrument locks are released.
 */
#define OBC_BUILDING 1
#include "otlpbroker/client.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_request;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse pb_response;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_histogram_point;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;

#define MAX_ATTRS 64            /* attributes per record call */
#define DEFAULT_MAX_SERIES 2000 /* the SDK's default cardinality limit */
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_WINDOW 256
#define DEFAULT_WINDOW_BYTES (8u << 20)
#define READ_BATCH 16
#define DEFAULT_RESEND_MS 1000
#define MAX_WINDOW 65536
/* Sequence frame (the broker's broker/ob_zmq_seq.h is the reference). */
#define SEQ_LEN 24
#define SEQ_FLAG_END 0x01
#define SEQ_FLAG_SET 0x02
#define SET_LEN 32
#define OB_ARRAY(a) (sizeof(a) / sizeof((a)[0]))
#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

static const double default_bounds[] = {0,   5,    10,   25,   50,   75,   100,  250,
                                        500, 750, 1000, 2500, 5000, 7500, 10000};

enum kind { K_COUNTER, K_UPDOWN, K_GAUGE, K_HISTOGRAM };

struct series {
    struct series *chain; /* same hash bucket */
    struct series *next;  /* creation order */
    uint64_t hash;
    char *key;            /* canonical attribute set, see the top of the file */
    uint32_t key_len;
    uint32_t n_attrs;
    int64_t start_ns;
    double value;         /* sum (counters) or last value (gauge) */
    uint64_t count;       /* histogram */
    double sum, min, max;
    uint64_t buckets[];   /* histogram: n_bounds + 1 */
};

struct obc_instrument {
    struct obc_client *client;
    struct obc_instrument *next;
    enum kind kind;
    char *name;
    char *unit;
    char *description;
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t lock; /* everything below */
    struct series **table;
    size_t mask;          /* table size - 1 (power of two) */
    struct series *head;
    struct series **tail;
    size_t n_series;
};

/* A body of the OBC_STREAM window: shared by the window and libzmq, which
 * sends it without a copy (zmq_msg_init_data) and drops its references on
 * its I/O thread, possibly after the answer came. */
struct shared_body {
    _Atomic unsigned refs;
    size_t len;
    unsigned char data[];
};

static void shared_unref(void *data, void *hint)
{
    (void)data;
    struct shared_body *b = hint;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* A message of the OBC_STREAM window, kept until it is answered. */
struct inflight {
    bool used;
    uint64_t seq;
    int64_t sent_ms;  /* last (re)send; 0 = not on the wire yet */
    uint64_t points;
    char *encoding;   /* NULL or owned */
    struct shared_body *body; /* one reference */
    size_t len;
};

struct obc_client {
    enum obc_mode mode;
    int64_t timeout_ms;
    uint32_t max_series;
    bool immediate;
    char *endpoint;
    void *ctx;
    char *scope_name;
    char *resource_key; /* canonical resource attribute set */
    size_t resource_len;
    uint32_t n_resource;

    pthread_mutex_t lock; /* the instrument list */
    struct obc_instrument *instruments;
    struct obc_instrument **inst_tail;

    pthread_mutex_t flush_lock; /* one flush at a time; owns sock and below */
    void *sock;
    uint64_t sender;            /* random, not 0: the sequence frames' sender id */
    uint64_t next_seq;          /* number of the next new message */
    struct obc_stats stats;
    struct inflight *win;       /* OBC_STREAM: window slots, seq % window */
    uint32_t window;
    uint64_t window_bytes;      /* OBC_STREAM: body bytes in flight at most */
    uint64_t bytes;             /* OBC_STREAM: body bytes in flight */
    uint64_t low;               /* OBC_STREAM: lowest number not answered */
    uint32_t unread;            /* OBC_STREAM: messages sent since answers were read */
    int64_t next_due_ms;        /* OBC_STREAM: earliest resend due (INT64_MAX: none) */
    int64_t resend_ms;
    int queue;                  /* ZMQ_SNDHWM; 0 = libzmq's */
    void (*on_ack)(void *arg, int rc, const struct obc_result *res);
    void *on_ack_arg;

    pthread_mutex_t stop_lock;  /* background flusher */
    pthread_cond_t stop_cond;
    bool stopping;
    bool thread_started;
    pthread_t thread;
    int64_t interval_ms;
    void (*on_flush)(void *arg, int rc, const struct obc_result *res);
    void *on_flush_arg;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- canonical attribute sets ----------------------------------------------- */

static size_t value_size(const struct obc_attr *a)
{
    switch (a->type) {
    case OBC_ATTR_STRING:
        return strlen(a->v.s) + 1;
    case OBC_ATTR_INT:
    case OBC_ATTR_DOUBLE:
        return 8;
    default:
        return 1;
    }
}

/* Serialises attrs canonically into stack (or a malloc'd buffer when it does
 * not fit).  *out_n gets the number of attributes kept. */
static int canonical(const struct obc_attr *attrs, size_t n, char *stack, size_t stack_cap,
                     char **out_key, size_t *out_len, uint32_t *out_n)
{
    if (n > MAX_ATTRS || (n && !attrs))
        return -EINVAL;
    uint8_t idx[MAX_ATTRS];
    for (size_t i = 0; i < n; i++) {
        const struct obc_attr *a = &attrs[i];
        if (!a->key || (unsigned)a->type > OBC_ATTR_BOOL || (a->type == OBC_ATTR_STRING && !a->v.s))
            return -EINVAL;
        /* Stable insertion sort: equal keys stay in call order. */
        size_t j = i;
        for (; j > 0 && strcmp(attrs[idx[j - 1]].key, a->key) > 0; j--)
            idx[j] = idx[j - 1];
        idx[j] = (uint8_t)i;
    }
    size_t len = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        const struct obc_attr *a = &attrs[idx[i]];
        if (i + 1 < n && strcmp(a->key, attrs[idx[i + 1]].key) == 0)
            continue; /* a later value for the same key wins */
        len += strlen(a->key) + 2 + value_size(a);
        kept++;
    }
    char *key = len <= stack_cap ? stack : malloc(len);
    if (!key)
        return -ENOMEM;
    char *p = key;
    for (size_t i = 0; i < n; i++) {
        const struct obc_attr *a = &attrs[idx[i]];
        if (i + 1 < n && strcmp(a->key, attrs[idx[i + 1]].key) == 0)
            continue;
        size_t kl = strlen(a->key) + 1;
        memcpy(p, a->key, kl);
        p += kl;
        *p++ = (char)a->type;
        switch (a->type) {
        case OBC_ATTR_STRING: {
            size_t vl = strlen(a->v.s) + 1;
            memcpy(p, a->v.s, vl);
            p += vl;
            break;
        }
        case OBC_ATTR_INT:
            memcpy(p, &a->v.i, 8);
            p += 8;
            break;
        case OBC_ATTR_DOUBLE:
            memcpy(p, &a->v.d, 8);
            p += 8;
            break;
        default:
            *p++ = a->v.b ? 1 : 0;
            break;
        }
    }
    *out_key = key;
    *out_len = len;
    *out_n = (uint32_t)kept;
    return 0;
}

/* FNV-1a, 64 bit: keys are short, and this needs no dependency. */
static uint64_t hash_key(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- instruments ------------------------------------------------------------- */

static void instrument_free(struct obc_instrument *in)
{
    if (!in)
        return;
    for (struct series *s = in->head, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    free(in->table);
    free(in->name);
    free(in->unit);
    free(in->description);
    free(in->bounds);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int instrument(struct obc_client *c, enum kind kind, const char *name, const char *unit,
                      const char *description, const double *bounds, size_t n_bounds,
                      struct obc_instrument **out)
{
    if (!c || !name || !*name || !out)
        return -EINVAL;
    if (kind == K_HISTOGRAM) {
        if (!bounds || !n_bounds) {
            bounds = default_bounds;
            n_bounds = sizeof default_bounds / sizeof default_bounds[0];
        }
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
                return -EINVAL;
    }
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    for (struct obc_instrument *in = c->instruments; in; in = in->next) {
        if (strcmp(in->name, name) != 0)
            continue;
        bool same = in->kind == kind && same_text(in->unit, unit) &&
                    in->n_bounds == n_bounds &&
                    (!n_bounds || memcmp(in->bounds, bounds, n_bounds * sizeof *bounds) == 0);
        if (same)
            *out = in;
        rc = same ? 0 : OBC_E_CONFLICT;
        goto done;
    }
    struct obc_instrument *in = calloc(1, sizeof *in);
    if (!in) {
        rc = -ENOMEM;
        goto done;
    }
    in->client = c;
    in->kind = kind;
    in->mask = 15;
    in->tail = &in->head;
    in->n_bounds = n_bounds;
    in->name = strdup(name);
    in->unit = dup_or_null(unit);
    in->description = dup_or_null(description);
    in->table = calloc(in->mask + 1, sizeof *in->table);
    if (n_bounds && (in->bounds = malloc(n_bounds * sizeof *bounds)))
        memcpy(in->bounds, bounds, n_bounds * sizeof *bounds);
    if (!in->name || (unit && !in->unit) || (description && !in->description) || !in->table ||
        (n_bounds && !in->bounds) || pthread_mutex_init(&in->lock, NULL) != 0) {
        free(in->bounds);
        free(in->table);
        free(in->name);
        free(in->unit);
        free(in->description);
        free(in);
        rc = -ENOMEM;
        goto done;
    }
    *c->inst_tail = in;
    c->inst_tail = &in->next;
    *out = in;
done:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int obc_counter(struct obc_client *c, const char *name, const char *unit, const char *description,
                struct obc_instrument **out)
{
    return instrument(c, K_COUNTER, name, unit, description, NULL, 0, out);
}

int obc_updown_counter(struct obc_client *c, const char *name, const char *unit,
                       const char *description, struct obc_instrument **out)
{
    return instrument(c, K_UPDOWN, name, unit, description, NULL, 0, out);
}

int obc_gauge(struct obc_client *c, const char *name, const char *unit, const char *description,
              struct obc_instrument **out)
{
    return instrument(c, K_GAUGE, name, unit, description, NULL, 0, out);
}

int obc_histogram(struct obc_client *c, const char *name, const char *unit,
                  const char *description, const double *bounds, size_t n_bounds,
                  struct obc_instrument **out)
{
    return instrument(c, K_HISTOGRAM, name, unit, description, bounds, n_bounds, out);
}

/* ---- recording ------------------------------------------------------------------ */

/* Doubles the table when it holds more series than buckets.  Lock held. */
static void maybe_grow(struct obc_instrument *in)
{
    if (in->n_series <= in->mask)
        return;
    size_t mask = in->mask * 2 + 1;
    struct series **t = calloc(mask + 1, sizeof *t);
    if (!t)
        return; /* longer chains, still correct */
    for (struct series *s = in->head; s; s = s->next) {
        s->chain = t[s->hash & mask];
        t[s->hash & mask] = s;
    }
    free(in->table);
    in->table = t;
    in->mask = mask;
}

/* Finds or creates the series of key.  Lock held. */
static int series_get(struct obc_instrument *in, uint64_t h, const char *key, size_t len,
                      uint32_t n_attrs, struct series **out)
{
    for (struct series *s = in->table[h & in->mask]; s; s = s->chain) {
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) {
            *out = s;
            return 0;
        }
    }
    if (in->n_series >= in->client->max_series)
        return OBC_E_LIMIT;
    size_t nb = in->kind == K_HISTOGRAM ? in->n_bounds + 1 : 0;
    struct series *s = calloc(1, sizeof *s + nb * sizeof s->buckets[0] + len + 1);
    if (!s)
        return -ENOMEM;
    s->key = (char *)&s->buckets[nb];
    memcpy(s->key, key, len);
    s->key_len = (uint32_t)len;
    s->n_attrs = n_attrs;
    s->hash = h;
    s->start_ns = now_ns();
    s->min = INFINITY;
    s->max = -INFINITY;
    s->chain = in->table[h & in->mask];
    in->table[h & in->mask] = s;
    *in->tail = s;
    in->tail = &s->next;
    in->n_series++;
    maybe_grow(in);
    *out = s;
    return 0;
}

/* First bucket whose upper bound is >= v; n_bounds is the +Inf bucket. */
static size_t bucket_of(const double *bounds, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int update(struct obc_instrument *in, double v, const struct obc_attr *attrs, size_t n)
{
    char stack[512];
    char *key;
    size_t len;
    uint32_t kept;
    int rc = canonical(attrs, n, stack, sizeof stack, &key, &len, &kept);
    if (rc != 0)
        return rc;
    uint64_t h = hash_key(key, len);
    size_t b = in->kind == K_HISTOGRAM ? bucket_of(in->bounds, in->n_bounds, v) : 0;

    pthread_mutex_lock(&in->lock);
    struct series *s;
    rc = series_get(in, h, key, len, kept, &s);
    if (rc == 0) {
        switch (in->kind) {
        case K_COUNTER:
        case K_UPDOWN:
            s->value += v;
            break;
        case K_GAUGE:
            s->value = v;
            s->count = 1; /* has a value */
            break;
        case K_HISTOGRAM:
            s->buckets[b]++;
            s->count++;
            s->sum += v;
            if (v < s->min)
                s->min = v;
            if (v > s->max)
                s->max = v;
            break;
        }
    }
    pthread_mutex_unlock(&in->lock);
    if (key != stack)
        free(key);
    return rc;
}

int obc_add(struct obc_instrument *in, double value, const struct obc_attr *attrs,
            size_t n_attrs)
{
    if (!in || !isfinite(value))
        return -EINVAL;
    if (in->kind != K_COUNTER && in->kind != K_UPDOWN)
        return OBC_E_KIND;
    if (in->kind == K_COUNTER && value < 0)
        return -EINVAL; /* a counter only goes up */
    return update(in, value, attrs, n_attrs);
}

int obc_record(struct obc_instrument *in, double value, const struct obc_attr *attrs,
               size_t n_attrs)
{
    if (!in)
        return -EINVAL;
    if (in->kind != K_GAUGE && in->kind != K_HISTOGRAM)
        return OBC_E_KIND;
    if (in->kind == K_HISTOGRAM && !isfinite(value))
        return -EINVAL;
    return update(in, value, attrs, n_attrs);
}

/* ---- encoding ------------------------------------------------------------------------- */

/* Bump allocator for one flush's protobuf-c tree: one free at the end. */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    alignas(16) unsigned char data[];
};

struct scratch {
    struct chunk *head;
    bool failed;
};

static void *salloc(struct scratch *sc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = sc->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) {
            sc->failed = true;
            return NULL;
        }
        c->next = sc->head;
        c->used = 0;
        c->cap = cap;
        sc->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static void scratch_free(struct scratch *sc)
{
    for (struct chunk *c = sc->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    sc->head = NULL;
}

/* KeyValues for a canonical key.  The strings point into key. */
static pb_kv **attrs_of(struct scratch *sc, const char *key, size_t len, uint32_t n)
{
    pb_kv **kvs = salloc(sc, (n ? n : 1) * sizeof *kvs);
    if (!kvs)
        return NULL;
    const char *p = key, *end = key + len;
    for (uint32_t i = 0; i < n && p < end; i++) {
        pb_kv *kv = salloc(sc, sizeof *kv);
        pb_any *v = salloc(sc, sizeof *v);
        if (!kv || !v)
            return NULL;
        *kv = (pb_kv)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        *v = (pb_any)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        kv->key = (char *)p;
        kv->value = v;
        p += strlen(p) + 1;
        switch (*p++) {
        case OBC_ATTR_STRING:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            v->string_value = (char *)p;
            p += strlen(p) + 1;
            break;
        case OBC_ATTR_INT:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            memcpy(&v->int_value, p, 8);
            p += 8;
            break;
        case OBC_ATTR_DOUBLE:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            memcpy(&v->double_value, p, 8);
            p += 8;
            break;
        default:
            v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            v->bool_value = *p++ != 0;
            break;
        }
        kvs[i] = kv;
    }
    return kvs;
}

/* Copies one instrument's series into m.  Returns the number of points
 * (0: nothing to export) or -ENOMEM. */
static long metric_of(struct scratch *sc, struct obc_instrument *in, int64_t now, pb_metric *m)
{
    *m = (pb_metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    m->name = in->name;
    m->unit = in->unit;
    m->description = in->description;
    long rc = 0;
    pthread_mutex_lock(&in->lock);
    size_t n = in->n_series;
    void **points = n ? salloc(sc, n * sizeof *points) : NULL;
    if (n && !points) {
        rc = -ENOMEM;
        goto done;
    }
    size_t i = 0;
    for (struct series *s = in->head; s && i < n; s = s->next, i++) {
        pb_kv **kvs = attrs_of(sc, s->key, s->key_len, s->n_attrs);
        if (!kvs) {
            rc = -ENOMEM;
            goto done;
        }
        if (in->kind == K_HISTOGRAM) {
            pb_histogram_point *p = salloc(sc, sizeof *p);
            uint64_t *buckets = salloc(sc, (in->n_bounds + 1) * sizeof *buckets);
            if (!p || !buckets) {
                rc = -ENOMEM;
                goto done;
            }
            *p = (pb_histogram_point)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
            memcpy(buckets, s->buckets, (in->n_bounds + 1) * sizeof *buckets);
            p->n_attributes = s->n_attrs;
            p->attributes = kvs;
            p->has_start_time_unix_nano = p->has_time_unix_nano = true;
            p->start_time_unix_nano = (uint64_t)s->start_ns;
            p->time_unix_nano = (uint64_t)now;
            p->has_count = p->has_sum = true;
            p->count = s->count;
            p->sum = s->sum;
            p->n_bucket_counts = in->n_bounds + 1;
            p->bucket_counts = buckets;
            p->n_explicit_bounds = in->n_bounds;
            p->explicit_bounds = in->bounds;
            if (s->count) {
                p->has_min = p->has_max = true;
                p->min = s->min;
                p->max = s->max;
            }
            points[i] = p;
        } else {
            pb_number_point *p = salloc(sc, sizeof *p);
            if (!p) {
                rc = -ENOMEM;
                goto done;
            }
            *p = (pb_number_point)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
            p->n_attributes = s->n_attrs;
            p->attributes = kvs;
            p->has_start_time_unix_nano = p->has_time_unix_nano = true;
            p->start_time_unix_nano = (uint64_t)s->start_ns;
            p->time_unix_nano = (uint64_t)now;
            p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
            p->as_double = s->value;
            points[i] = p;
        }
    }
    rc = (long)i;
done:
    pthread_mutex_unlock(&in->lock);
    if (rc <= 0)
        return rc;
    switch (in->kind) {
    case K_COUNTER:
    case K_UPDOWN: {
        pb_sum *sum = salloc(sc, sizeof *sum);
        if (!sum)
            return -ENOMEM;
        *sum = (pb_sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
        sum->n_data_points = (size_t)rc;
        sum->data_points = (pb_number_point **)points;
        sum->has_aggregation_temporality = sum->has_is_monotonic = true;
        sum->aggregation_temporality = CUMULATIVE;
        sum->is_monotonic = in->kind == K_COUNTER;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m->sum = sum;
        break;
    }
    case K_GAUGE: {
        pb_gauge *g = salloc(sc, sizeof *g);
        if (!g)
            return -ENOMEM;
        *g = (pb_gauge)OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
        g->n_data_points = (size_t)rc;
        g->data_points = (pb_number_point **)points;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = g;
        break;
    }
    case K_HISTOGRAM: {
        pb_histogram *h = salloc(sc, sizeof *h);
        if (!h)
            return -ENOMEM;
        *h = (pb_histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
        h->n_data_points = (size_t)rc;
        h->data_points = (pb_histogram_point **)points;
        h->has_aggregation_temporality = true;
        h->aggregation_temporality = CUMULATIVE;
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = h;
        break;
    }
    }
    return rc;
}

/* Builds and packs the request.  *out_buf NULL (and 0) when there is no
 * point to send. */
static int encode(struct obc_client *c, void **out_buf, size_t *out_len, uint64_t *out_points)
{
    struct scratch sc = {0};
    int rc = 0;
    *out_buf = NULL;
    *out_len = 0;
    *out_points = 0;

    pthread_mutex_lock(&c->lock);
    size_t n_inst = 0;
    for (struct obc_instrument *in = c->instruments; in; in = in->next)
        n_inst++;
    pb_metric *metrics = salloc(&sc, (n_inst ? n_inst : 1) * sizeof *metrics);
    pb_metric **mptr = salloc(&sc, (n_inst ? n_inst : 1) * sizeof *mptr);
    size_t n_metrics = 0;
    int64_t now = now_ns();
    for (struct obc_instrument *in = c->instruments; in && metrics && mptr; in = in->next) {
        long n = metric_of(&sc, in, now, &metrics[n_metrics]);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n > 0) {
            mptr[n_metrics] = &metrics[n_metrics];
            n_metrics++;
            *out_points += (uint64_t)n;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0 || sc.failed) {
        rc = -ENOMEM;
        goto done;
    }
    if (n_metrics == 0)
        goto done;

    pb_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = c->scope_name;
    scope.version = (char *)OBC_VERSION;
    pb_scope_metrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.scope = &scope;
    sm.n_metrics = n_metrics;
    sm.metrics = mptr;
    pb_scope_metrics *smp = &sm;
    pb_resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = c->n_resource;
    res.attributes = attrs_of(&sc, c->resource_key, c->resource_len, c->n_resource);
    pb_resource_metrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &res;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    pb_resource_metrics *rmp = &rm;
    pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;
    if (!res.attributes) {
        rc = -ENOMEM;
        goto done;
    }
    size_t len =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(
            &req);
    void *buf = malloc(len ? len : 1);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, buf);
    *out_buf = buf;
    *out_len = len;
done:
    scratch_free(&sc);
    return rc;
}

int obc_encode(struct obc_client *c, void **out_buf, size_t *out_len)
{
    if (!c || !out_buf || !out_len)
        return -EINVAL;
    uint64_t points;
    int rc = encode(c, out_buf, out_len, &points);
    if (rc == 0 && !*out_buf) {
        /* Nothing recorded yet: the empty request, which is valid. */
        *out_buf = malloc(1);
        if (!*out_buf)
            return -ENOMEM;
    }
    return rc;
}

/* ---- transport ----------------------------------------------------------------------- */

static int socket_open(struct obc_client *c)
{
    int type = c->mode == OBC_PUSH ? ZMQ_PUSH : ZMQ_DEALER;
    void *s = zmq_socket(c->ctx, type);
    if (!s)
        return -zmq_errno();
    int linger = (int)c->timeout_ms, sndtimeo = (int)c->timeout_ms;
    int v6 = strchr(c->endpoint, '[') != NULL; /* [v6] literal */
    int immediate = c->immediate;
    /* The stream's window bounds what it queues: the socket must take a
     * whole window, or sends would wait for a resend round. */
    int hwm = c->queue;
    if (c->mode == OBC_STREAM && hwm && hwm < (int)c->window)
        hwm = (int)c->window;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0 ||
        zmq_setsockopt(s, ZMQ_IPV6, &v6, sizeof v6) != 0 ||
        (hwm && zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) ||
        zmq_connect(s, c->endpoint) != 0) {
        int e = zmq_errno();
        zmq_close(s);
        return -e;
    }
    c->sock = s;
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seq_encode(uint8_t out[SEQ_LEN], uint64_t sender, uint64_t seq, uint8_t flags)
{
    static const uint8_t magic[4] = {0x00, 'O', 'B', 'Q'};
    memcpy(out, magic, 4);
    out[4] = 1; /* version */
    out[5] = flags;
    out[6] = out[7] = 0;
    for (int i = 0; i < 8; i++) {
        out[8 + i] = (uint8_t)(sender >> (8 * i));
        out[16 + i] = (uint8_t)(seq >> (8 * i));
    }
}

/* The number in an echoed sequence frame of ours (or the base of a set
 * frame), or false. */
static bool seq_decode(const zmq_msg_t *m, uint64_t sender, uint64_t *seq, uint8_t *flags)
{
    const uint8_t *p = zmq_msg_data((zmq_msg_t *)m);
    size_t len = zmq_msg_size((zmq_msg_t *)m);
    if ((len != SEQ_LEN && len != SET_LEN) || p[0] != 0 || p[1] != 'O' || p[2] != 'B' ||
        p[3] != 'Q' || p[4] != 1 || (len == SET_LEN) != ((p[5] & SEQ_FLAG_SET) != 0))
        return false;
    uint64_t s = 0, q = 0;
    for (int i = 7; i >= 0; i--) {
        s = s << 8 | p[8 + i];
        q = q << 8 | p[16 + i];
    }
    *seq = q;
    *flags = p[5];
    return s == sender;
}

/* The frames before a body: [sequence] [encoding].  flags: ZMQ_DONTWAIT or
 * 0, for the first frame; once it is queued the rest of the message follows. */
static int send_head(struct obc_client *c, uint64_t seq, const char *encoding, int flags)
{
    uint8_t f[SEQ_LEN];
    seq_encode(f, c->sender, seq, 0);
    if (zmq_send(c->sock, f, sizeof f, ZMQ_SNDMORE | flags) < 0)
        return -zmq_errno();
    if (encoding && zmq_send(c->sock, encoding, strlen(encoding), ZMQ_SNDMORE) < 0)
        return -zmq_errno();
    return 0;
}

/* Sends one message: [sequence] [encoding] body. */
static int send_message(struct obc_client *c, uint64_t seq, const char *encoding,
                        const void *body, size_t len, int flags)
{
    int rc = send_head(c, seq, encoding, flags);
    if (rc == 0 && zmq_send(c->sock, body, len, 0) < 0)
        rc = -zmq_errno();
    return rc;
}

/* The same for a window body, sent without a copy. */
static int send_shared(struct obc_client *c, uint64_t seq, const char *encoding,
                       struct shared_body *b, int flags)
{
    int rc = send_head(c, seq, encoding, flags);
    if (rc != 0)
        return rc;
    zmq_msg_t m;
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    if (zmq_msg_init_data(&m, b->data, b->len, shared_unref, b) != 0) {
        shared_unref(b->data, b);
        return -zmq_errno();
    }
    if (zmq_msg_send(&m, c->sock, 0) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m); /* drops the reference */
        return -e;
    }
    return 0;
}

/* What read_answers() found about one request. */
typedef void answer_fn(struct obc_client *c, int rc, uint64_t seq, bool end,
                       struct obc_result *res, void *arg);

/* Decodes one group's answer frames (after its sequence frame): a response,
 * or "error" + message.  Returns 0, OBC_E_REFUSED or OBC_E_PROTOCOL. */
static int decode_group(zmq_msg_t *g, size_t n, struct obc_result *res)
{
    if (n == 1) {
        pb_response *r =
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
                NULL, zmq_msg_size(&g[0]), zmq_msg_data(&g[0]));
        if (!r) {
            snprintf(res->message, sizeof res->message,
                     "the answer is not an ExportMetricsServiceResponse");
            return OBC_E_PROTOCOL;
        }
        res->answered = true;
        if (r->partial_success) {
            res->rejected = r->partial_success->rejected_data_points;
            if (r->partial_success->error_message)
                snprintf(res->message, sizeof res->message, "%s",
                         r->partial_success->error_message);
        }
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
            r, NULL);
        return 0;
    }
    if (n == 2 && zmq_msg_size(&g[0]) == 5 && memcmp(zmq_msg_data(&g[0]), "error", 5) == 0) {
        res->answered = true;
        size_t ml = zmq_msg_size(&g[1]);
        if (ml >= sizeof res->message)
            ml = sizeof res->message - 1;
        memcpy(res->message, zmq_msg_data(&g[1]), ml);
        res->message[ml] = '\0';
        return OBC_E_REFUSED;
    }
    snprintf(res->message, sizeof res->message, "an answer of %zu frames", n);
    return OBC_E_PROTOCOL;
}

/* Reads one answer message (see broker/ob_zmq.h): one or more groups of
 * [sequence] then a response or "error" + message; calls fn for each group
 * whose sequence frame is ours.  Returns 0, -EAGAIN when none is there, or
 * OBC_E_PROTOCOL for a message that does not start with a sequence frame
 * (a broker that does not number its answers). */
static int read_answers(struct obc_client *c, answer_fn *fn, void *arg)
{
    zmq_msg_t g[3];   /* the open group's frames after its sequence frame */
    size_t n = 0;     /* frames in the open group (may exceed g: an error) */
    bool open = false, ours = false, end = false, more = true;
    uint64_t seq = 0, mask = 1; /* the group's numbers: seq + bit */
    int rc = 0;
    for (size_t i = 0; more; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, i == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            rc = -zmq_errno();
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        size_t ml = zmq_msg_size(&m);
        bool is_seq = (ml == SEQ_LEN || ml == SET_LEN) && ((uint8_t *)zmq_msg_data(&m))[0] == 0;
        if (is_seq || !more) {
            if (!is_seq && open) { /* the last frame of the last group */
                if (n < OB_ARRAY(g))
                    zmq_msg_init(&g[n]), zmq_msg_move(&g[n], &m);
                n++;
            }
            if (open && ours) { /* a group is complete */
                struct obc_result res = {.seq = seq};
                int grc = n <= OB_ARRAY(g) ? decode_group(g, n, &res) : OBC_E_PROTOCOL;
                for (unsigned b = 0; b < 64; b++) /* a set: every number in it */
                    if (mask >> b & 1) {
                        res.seq = seq + b;
                        struct obc_result r = res;
                        fn(c, grc, seq + b, end, &r, arg);
                    }
            }
            for (size_t k = 0; k < n && k < OB_ARRAY(g); k++)
                zmq_msg_close(&g[k]);
            n = 0;
            open = false;
            if (is_seq) {
                uint8_t flags = 0;
                uint64_t s = 0;
                ours = seq_decode(&m, c->sender, &s, &flags);
                seq = s;
                end = flags & SEQ_FLAG_END;
                mask = 1;
                if (ours && (flags & SEQ_FLAG_SET)) {
                    const uint8_t *p = zmq_msg_data(&m);
                    mask = 0;
                    for (int k = 7; k >= 0; k--)
                        mask = mask << 8 | p[24 + k];
                }
                open = true;
            } else if (i == 0) {
                rc = OBC_E_PROTOCOL; /* a one-frame answer: no sequence frame */
            }
        } else if (!open) {
            rc = OBC_E_PROTOCOL; /* no sequence frame in front */
        } else {
            if (n < OB_ARRAY(g))
                zmq_msg_init(&g[n]), zmq_msg_move(&g[n], &m);
            n++;
        }
        zmq_msg_close(&m);
    }
    if (open && ours && rc == 0) { /* a sequence frame last: an empty group */
        struct obc_result res = {.seq = seq};
        for (unsigned b = 0; b < 64; b++)
            if (mask >> b & 1)
                res.seq = seq + b, fn(c, OBC_E_PROTOCOL, seq + b, end, &res, arg);
    }
    for (size_t k = 0; k < n && k < OB_ARRAY(g); k++)
        zmq_msg_close(&g[k]);
    return rc;
}

static void count_answer(struct obc_client *c, int rc, const struct obc_result *res)
{
    c->stats.acked++;
    if (rc == OBC_E_REFUSED)
        c->stats.refused++;
    if (res->rejected > 0)
        c->stats.rejected_points += (uint64_t)res->rejected;
}

struct awaited {
    uint64_t seq;
    bool got;
    int rc;
    struct obc_result res;
};

static void got_awaited(struct obc_client *c, int rc, uint64_t seq, bool end,
                        struct obc_result *res, void *arg)
{
    (void)c;
    struct awaited *a = arg;
    if (end || seq != a->seq || a->got)
        return; /* an END's answer, or a late one to an earlier request */
    a->got = true;
    a->rc = rc;
    a->res = *res;
}

/* OBC_REPLY: waits up to timeout_ms for the answer to message seq; late
 * answers to earlier messages are read and dropped. */
static int await_answer(struct obc_client *c, uint64_t seq, struct obc_result *res)
{
    int64_t deadline = mono_ms() + c->timeout_ms;
    struct awaited a = {.seq = seq};
    for (;;) {
        zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLIN};
        int64_t left = deadline - mono_ms();
        int n = left > 0 ? zmq_poll(&pi, 1, (long)left) : 0;
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0)
            return -zmq_errno();
        if (n == 0)
            return -ETIMEDOUT;
        int rc;
        while ((rc = read_answers(c, got_awaited, &a)) != -EAGAIN) {
            if (rc == OBC_E_PROTOCOL) {
                snprintf(res->message, sizeof res->message,
                         "the answer has no sequence frame (a broker older than this client?)");
                return rc;
            }
            if (a.got) {
                uint64_t points = res->points;
                *res = a.res;
                res->points = points;
                count_answer(c, a.rc, res);
                return a.rc;
            }
        }
    }
}

/* ---- OBC_STREAM window ------------------------------------------------------------------- */

static uint64_t in_flight(const struct obc_client *c)
{
    return c->next_seq - c->low;
}

static void slot_free(struct obc_client *c, struct inflight *m)
{
    if (m->used)
        c->bytes -= m->len;
    if (m->body)
        shared_unref(m->body->data, m->body);
    free(m->encoding);
    *m = (struct inflight){0};
}

static void got_window(struct obc_client *c, int rc, uint64_t seq, bool end,
                       struct obc_result *r, void *arg)
{
    (void)arg;
    if (end || seq < c->low || seq >= c->next_seq)
        return; /* an END's answer, or a duplicate of an answered one */
    struct inflight *m = &c->win[seq % c->window];
    if (!m->used || m->seq != seq)
        return; /* answered already */
    r->points = m->points;
    slot_free(c, m);
    count_answer(c, rc, r);
    if (c->on_ack)
        c->on_ack(c->on_ack_arg, rc, r);
}

/* Reads every answer that is there; each acknowledges its message once. */
static void take_answers(struct obc_client *c)
{
    c->unread = 0;
    while (read_answers(c, got_window, NULL) != -EAGAIN)
        ;
    while (c->low < c->next_seq && !c->win[c->low % c->window].used)
        c->low++;
}

/* Sends again what waited resend_ms for an answer (or never left).
 * Returns the ms until the next one is due (INT64_MAX: none).  The window
 * is walked only when something is due: next_due_ms is the earliest due
 * time, exact because new messages are always due last. */
static int64_t resend_overdue(struct obc_client *c)
{
    int64_t now = mono_ms();
    if (now < c->next_due_ms)
        return c->next_due_ms == INT64_MAX ? INT64_MAX : c->next_due_ms - now;
    int64_t next = INT64_MAX;
    for (uint64_t s = c->low; s < c->next_seq; s++) {
        struct inflight *m = &c->win[s % c->window];
        if (!m->used)
            continue;
        int64_t due = m->sent_ms ? m->sent_ms + c->resend_ms : now;
        if (due <= now) {
            if (send_shared(c, m->seq, m->encoding, m->body, ZMQ_DONTWAIT) != 0) {
                c->next_due_ms = now; /* the socket takes nothing now: soon again */
                return 0;
            }
            if (m->sent_ms)
                c->stats.resent++;
            m->sent_ms = now;
            due = now + c->resend_ms;
        }
        if (due < next)
            next = due;
    }
    c->next_due_ms = next;
    return next == INT64_MAX ? INT64_MAX : next - now;
}

/* Whether the window takes one more message of len bytes (a message larger
 * than window_bytes still goes, alone). */
static bool has_room(const struct obc_client *c, size_t len)
{
    return in_flight(c) < c->window && (c->bytes == 0 || c->bytes + len <= c->window_bytes);
}

/* Reads answers and resends for up to wait_ms, returning as soon as the
 * window has room for len bytes, or (len SIZE_MAX) is empty. */
static void pump(struct obc_client *c, int64_t wait_ms, size_t len)
{
    int64_t deadline = mono_ms() + wait_ms;
    for (;;) {
        take_answers(c);
        int64_t next = resend_overdue(c);
        if (len == SIZE_MAX ? in_flight(c) == 0 : has_room(c, len))
            return;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return;
        if (next == 0)
            next = 10; /* the socket was full: a short pause */
        zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&pi, 1, (long)(next < left ? next : left)) < 0 && zmq_errno() != EINTR)
            return;
    }
}

/* Puts one message into the window and sends it; body and encoding are
 * taken over (freed on failure).  flush_lock held. */
static int stream_send(struct obc_client *c, char *encoding, struct shared_body *body,
                       uint64_t points, struct obc_result *res)
{
    size_t len = body->len;
    /* Answers are read in batches, every READ_BATCH messages out, or when
     * the window is full: an empty read costs libzmq a poll(2) and a
     * getpid(2), too much for every small message (with a window more than
     * half full, which is the steady state, this read on every send). */
    if (c->unread >= READ_BATCH || mono_ms() >= c->next_due_ms)
        pump(c, 0, len);
    if (!has_room(c, len))
        pump(c, c->timeout_ms, len);
    if (!has_room(c, len)) {
        shared_unref(body->data, body);
        free(encoding);
        return -ETIMEDOUT;
    }
    uint64_t seq = c->next_seq++;
    struct inflight *m = &c->win[seq % c->window];
    *m = (struct inflight){
        .used = true, .seq = seq, .points = points, .encoding = encoding, .body = body, .len = len};
    c->bytes += len;
    c->stats.sent++;
    c->unread++;
    res->seq = seq;
    int64_t now = mono_ms();
    if (send_shared(c, seq, encoding, body, ZMQ_DONTWAIT) == 0)
        m->sent_ms = now;
    else
        now -= c->resend_ms; /* not out: due with the next round */
    if (now + c->resend_ms < c->next_due_ms)
        c->next_due_ms = now + c->resend_ms;
    return 0;
}

/* Sends one request; OBC_REPLY waits for its answer, OBC_STREAM for room in
 * the window.  body is taken over when own, else copied as needed.
 * flush_lock held. */
static int transmit(struct obc_client *c, const char *encoding, void *body, size_t len, bool own,
                    struct obc_result *res)
{
    int rc;
    if (!c->endpoint) {
        rc = -ENOTCONN;
        goto out;
    }
    if (c->mode == OBC_STREAM) {
        /* The one copy: the window keeps the body until it is answered. */
        char *enc = encoding ? strdup(encoding) : NULL;
        struct shared_body *sb = malloc(sizeof *sb + (len ? len : 1));
        if ((encoding && !enc) || !sb) {
            free(enc);
            free(sb);
            rc = -ENOMEM;
            goto out;
        }
        atomic_init(&sb->refs, 1);
        sb->len = len;
        if (len)
            memcpy(sb->data, body, len);
        if (own)
            free(body);
        return stream_send(c, enc, sb, res->points, res);
    }
    /* A message that could not be queued keeps no number: the broker
     * would count it lost. */
    uint64_t seq = c->next_seq;
    rc = send_message(c, seq, encoding, body, len, 0);
    if (rc == 0) {
        c->next_seq++;
        c->stats.sent++;
        res->seq = seq;
    }
    if (rc == 0 && c->mode == OBC_REPLY)
        rc = await_answer(c, seq, res);
out:
    if (own)
        free(body);
    return rc;
}

int obc_send(struct obc_client *c, const void *body, size_t len, const char *encoding,
             struct obc_result *out)
{
    struct obc_result res = {0};
    if (!c || (len && !body))
        return -EINVAL;
    pthread_mutex_lock(&c->flush_lock);
    int rc = transmit(c, encoding, (void *)body, len, false, &res);
    pthread_mutex_unlock(&c->flush_lock);
    if (out)
        *out = res;
    return rc;
}

int obc_flush(struct obc_client *c, struct obc_result *out)
{
    struct obc_result res = {0};
    if (!c)
        return -EINVAL;
    pthread_mutex_lock(&c->flush_lock);
    void *buf = NULL;
    size_t len = 0;
    int rc = c->endpoint ? encode(c, &buf, &len, &res.points) : -ENOTCONN;
    if (rc == 0 && buf)
        rc = transmit(c, NULL, buf, len, true, &res);
    else
        free(buf);
    if (rc == 0 && !buf && c->mode == OBC_STREAM && c->sock)
        pump(c, 0, 0); /* nothing new: still read what came */
    pthread_mutex_unlock(&c->flush_lock);
    if (out)
        *out = res;
    return rc;
}

int obc_wait(struct obc_client *c, int64_t timeout_ms)
{
    if (!c || timeout_ms < 0)
        return -EINVAL;
    pthread_mutex_lock(&c->flush_lock);
    int rc = 0;
    if (c->mode == OBC_STREAM && c->sock) {
        pump(c, timeout_ms, SIZE_MAX);
        rc = in_flight(c) ? -ETIMEDOUT : 0;
    }
    pthread_mutex_unlock(&c->flush_lock);
    return rc;
}

int obc_stats(struct obc_client *c, struct obc_stats *out)
{
    if (!c || !out)
        return -EINVAL;
    pthread_mutex_lock(&c->flush_lock);
    *out = c->stats;
    out->in_flight = c->mode == OBC_STREAM ? in_flight(c) : 0;
    pthread_mutex_unlock(&c->flush_lock);
    return 0;
}

/* At close: tells the broker how many messages this client sent, so that it
 * can count what never arrived.  OBC_PUSH sends it over a fresh connection,
 * because the tail of the old one is what libzmq may lose (ob_zmq.h); the
 * DEALER modes over their own socket, unanswered. */
static void send_end(struct obc_client *c)
{
    if (!c->endpoint || c->next_seq == 0)
        return;
    uint8_t f[SEQ_LEN];
    seq_encode(f, c->sender, c->next_seq, SEQ_FLAG_END);
    if (c->mode != OBC_PUSH) {
        if (c->sock)
            zmq_send(c->sock, f, sizeof f, ZMQ_DONTWAIT);
        return;
    }
    if (c->sock) {
        zmq_close(c->sock); /* lingers up to timeout_ms for what is queued */
        c->sock = NULL;
    }
    bool immediate = c->immediate;
    c->immediate = false; /* queue it even before the connection is up */
    if (socket_open(c) == 0)
        zmq_send(c->sock, f, sizeof f, ZMQ_DONTWAIT);
    c->immediate = immediate;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void *flusher(void *arg)
{
    struct obc_client *c = arg;
    pthread_mutex_lock(&c->stop_lock);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!c->stopping) {
        next.tv_sec += (time_t)(c->interval_ms / 1000);
        next.tv_nsec += (long)(c->interval_ms % 1000) * 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        int rc = 0;
        while (!c->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&c->stop_cond, &c->stop_lock, &next);
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->stop_lock);
        struct obc_result res;
        int frc = obc_flush(c, &res);
        if (c->on_flush)
            c->on_flush(c->on_flush_arg, frc, &res);
        pthread_mutex_lock(&c->stop_lock);
        /* A flush that overran the period does not cause a burst after it. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now;
    }
    pthread_mutex_unlock(&c->stop_lock);
    return NULL;
}

static void client_free(struct obc_client *c)
{
    for (struct obc_instrument *in = c->instruments, *next; in; in = next) {
        next = in->next;
        instrument_free(in);
    }
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    if (c->win) {
        for (uint32_t i = 0; i < c->window; i++)
            slot_free(c, &c->win[i]);
        free(c->win);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->flush_lock);
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c->endpoint);
    free(c->scope_name);
    free(c->resource_key);
    free(c);
}

int obc_open(const struct obc_options *o, struct obc_client **out)
{
    if (!o || !out || (unsigned)o->mode > OBC_STREAM || o->timeout_ms < 0 ||
        o->flush_interval_ms < 0 || o->timeout_ms > INT32_MAX || o->n_resource >= MAX_ATTRS ||
        o->window > MAX_WINDOW || o->resend_ms < 0 || o->queue > INT32_MAX)
        return -EINVAL;
    struct obc_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = -ENOMEM;
    pthread_condattr_t ca;
    bool cond_ok = false;
    if (pthread_condattr_init(&ca) == 0) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&c->stop_cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cond_ok || pthread_mutex_init(&c->lock, NULL) != 0 ||
        pthread_mutex_init(&c->flush_lock, NULL) != 0 ||
        pthread_mutex_init(&c->stop_lock, NULL) != 0) {
        free(c); /* nothing to destroy that could fail to exist on Linux */
        return -ENOMEM;
    }
    c->mode = o->mode;
    if (c->mode == OBC_AUTO)
        c->mode = o->endpoint && strncmp(o->endpoint, "ipc://", 6) == 0 ? OBC_STREAM : OBC_PUSH;
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->window = o->window ? o->window : DEFAULT_WINDOW;
    c->window_bytes = o->window_bytes ? o->window_bytes : DEFAULT_WINDOW_BYTES;
    c->resend_ms = o->resend_ms ? o->resend_ms : DEFAULT_RESEND_MS;
    c->next_due_ms = INT64_MAX;
    c->queue = (int)o->queue;
    c->on_ack = o->on_ack;
    c->on_ack_arg = o->on_ack_arg;
    while (c->sender == 0)
        if (getrandom(&c->sender, sizeof c->sender, 0) != sizeof c->sender)
            c->sender = ((uint64_t)now_ns() * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)getpid();
    c->max_series = o->max_series ? o->max_series : DEFAULT_MAX_SERIES;
    c->interval_ms = o->flush_interval_ms;
    c->immediate = o->immediate;
    c->on_flush = o->on_flush;
    c->on_flush_arg = o->on_flush_arg;
    c->inst_tail = &c->instruments;
    c->scope_name = strdup(o->scope_name ? o->scope_name : "otlpbroker-client");
    if (!c->scope_name)
        goto fail;

    /* service.name first; a service.name among o->resource comes later and wins. */
    struct obc_attr res[MAX_ATTRS];
    res[0] = OBC_STR("service.name", o->service_name ? o->service_name : "unknown_service");
    if (o->n_resource) {
        if (!o->resource) {
            rc = -EINVAL;
            goto fail;
        }
        memcpy(&res[1], o->resource, o->n_resource * sizeof *res);
    }
    char *key;
    size_t len;
    rc = canonical(res, o->n_resource + 1, NULL, 0, &key, &len, &c->n_resource);
    if (rc != 0)
        goto fail;
    c->resource_key = key;
    c->resource_len = len;

    if (o->endpoint) {
        rc = -ENOMEM;
        if (!(c->endpoint = strdup(o->endpoint)) || !(c->ctx = zmq_ctx_new()))
            goto fail;
        if (c->mode == OBC_STREAM && !(c->win = calloc(c->window, sizeof *c->win)))
            goto fail;
        if ((rc = socket_open(c)) != 0)
            goto fail;
    }
    if (c->interval_ms > 0) {
        rc = -pthread_create(&c->thread, NULL, flusher, c);
        if (rc != 0)
            goto fail;
        c->thread_started = true;
    }
    *out = c;
    return 0;
fail:
    client_free(c);
    return rc;
}

int obc_close(struct obc_client *c, struct obc_result *out)
{
    if (out)
        *out = (struct obc_result){0};
    if (!c)
        return 0;
    if (c->thread_started) {
        pthread_mutex_lock(&c->stop_lock);
        c->stopping = true;
        pthread_cond_signal(&c->stop_cond);
        pthread_mutex_unlock(&c->stop_lock);
        pthread_join(c->thread, NULL);
    }
    int rc = c->endpoint ? obc_flush(c, out) : 0;
    if (c->mode == OBC_STREAM && c->sock) {
        pump(c, c->timeout_ms, SIZE_MAX);
        uint64_t left = in_flight(c);
        if (out)
            out->unacked = left;
        if (left && rc == 0)
            rc = -ETIMEDOUT;
    }
    send_end(c);
    client_free(c); /* zmq_close lingers up to timeout_ms for what is queued */
    return rc;
}

const char *obc_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case OBC_E_REFUSED:
        return "the broker refused the request";
    case OBC_E_PROTOCOL:
        return "the answer is not an ExportMetricsServiceResponse";
    case OBC_E_KIND:
        return "operation does not fit the instrument kind";
    case OBC_E_CONFLICT:
        return "instrument name already used with another kind, unit or bounds";
    case OBC_E_LIMIT:
        return "too many attribute sets on this instrument";
    default:
        return rc < 0 ? zmq_strerror(-rc) : "unknown error";
    }
}
