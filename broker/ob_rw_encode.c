/* ob_rw_encode.c: remote-write requests from forward-log records (see
 * ob_rw_encode.h).  Encoded by hand like the protobuf exposition
 * (ob_pbwrite.h); the field numbers are those of proto/prometheus/prompb
 * and proto/io/prometheus/write/v2, whose generated code the tests decode
 * the requests with. */
#include "ob_rw_encode.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ob_exphist.h"
#include "ob_float.h"
#include "ob_labels.h"
#include "ob_pbwrite.h"
#include "ob_prom_series.h"
#include "ob_store.h"

/* prometheus.WriteRequest (1.0) */
enum {
    WR_TIMESERIES = 1, WR_METADATA = 3,
    TS_LABELS = 1, TS_SAMPLES = 2, TS_EXEMPLARS = 3, TS_HISTOGRAMS = 4,
    EX_LABELS = 1, EX_VALUE = 2, EX_TIMESTAMP = 3, /* Exemplar, in both versions (2.0: refs) */
    LB_NAME = 1, LB_VALUE = 2,
    SM_VALUE = 1, SM_TIMESTAMP = 2,
    MD_TYPE = 1, MD_FAMILY = 2, MD_HELP = 4, MD_UNIT = 5,
};
/* io.prometheus.write.v2.Request (2.0) */
enum {
    R2_SYMBOLS = 4, R2_TIMESERIES = 5,
    T2_LABELS_REFS = 1, T2_SAMPLES = 2, T2_HISTOGRAMS = 3, T2_EXEMPLARS = 4, T2_METADATA = 5,
    T2_CREATED = 6,
    S2_START = 3,
    M2_TYPE = 1, M2_HELP_REF = 3, M2_UNIT_REF = 4,
};
/* Histogram and BucketSpan: the same numbers in both versions. */
enum {
    H_COUNT_INT = 1, H_COUNT_FLOAT = 2, H_SUM = 3, H_SCHEMA = 4, H_ZERO_THRESHOLD = 5,
    H_ZERO_COUNT_INT = 6, H_ZERO_COUNT_FLOAT = 7, H_NEG_SPANS = 8, H_NEG_DELTAS = 9,
    H_POS_SPANS = 11, H_POS_DELTAS = 12, H_TIMESTAMP = 15, H2_START = 17,
};
/* MetricMetadata.MetricType and Metadata.MetricType: the same values. */
enum { MT_UNKNOWN = 0, MT_COUNTER = 1, MT_GAUGE = 2, MT_HISTOGRAM = 3, MT_SUMMARY = 5 };

#define STALE_NAN_BITS UINT64_C(0x7ff0000000000002)
#define RECHECK_MS 1000
#define METADATA_EVERY_MS 60000
#define NATIVE UINT32_MAX /* a sub-series whose sample is a native histogram */

/* A string of a series: name or value, in the series' text. */
struct str {
    uint32_t off, len;
};

/* One Prometheus series of a stored series: its labels, sorted, as
 * indexes into the series' strings; its sample's place in a record. */
struct sub {
    uint32_t pairs;   /* first pair in series.pairs (name, value string indexes) */
    uint32_t n_pairs;
    uint32_t v1_off, v1_len; /* its 1.0 Label messages in series.v1 */
    uint32_t value;   /* index of its double in a record, NATIVE, or (stale) any */
};

struct series {
    uint64_t hash; /* 0 with text == NULL: never resolved */
    uint64_t labels_off, data_off;
    int64_t checked_ms;
    int64_t created_ms;
    bool exemplars;      /* the store keeps exemplars for it */
    int64_t *ex_sent;    /* per exemplar entry: the newest timestamp sent */
    uint32_t n_ex_sent;
    uint32_t family;
    uint16_t width;
    uint8_t kind;
    bool has_sum;
    uint32_t n_sub;
    struct sub *subs;
    char *text;
    struct str *strs;
    uint32_t n_strs;
    uint32_t *pairs; /* 2 per pair */
    uint32_t n_base;  /* the stored labels: strs[0 .. 2 * n_base), name and value each */
    uint32_t suffix0; /* strs[suffix0 + enum ob_prom_suffix]: the family name and suffix */
    double *last_bounds; /* classic exponential histogram: the bounds last sent */
    uint32_t n_last_bounds;
    char *v1;
    /* the current request */
    uint32_t req_gen;
    uint32_t head, tail; /* its records (request.recs indexes) */
    int64_t last_ts;
    bool unsorted;
    uint32_t refs_gen; /* 2.0: refs of strs in this request's symbols */
    uint32_t *refs;
};

struct family {
    char *name, *help, *unit;
    uint32_t name_len, help_len, unit_len;
    enum ob_family_type type;
    int64_t sent_ms; /* 1.0 metadata last sent */
    uint32_t req_gen;
    uint32_t refs_gen, help_ref, unit_ref;
};

struct rec {
    const struct ob_fwd_record *r;
    uint32_t seq;  /* its place in the request: ties in a sort keep the log's order */
    uint32_t next; /* the series' next record */
};

/* 2.0 symbols: open addressing over (pointer, length) keys that stay put
 * for the request (they live in series and family texts). */
struct sym {
    const char *p;
    uint32_t len, ref;
};

struct ob_rw_encoder {
    enum ob_rw_protocol proto;
    struct ob_store *store;
    uint32_t max_series, max_families;
    struct series *series; /* by store slot */
    struct family *fams;   /* by store family id */
    uint32_t gen;          /* request number */
    struct rec *recs;
    uint32_t n_recs, cap_recs;
    uint32_t *order; /* slots in order of first record */
    uint32_t n_order, cap_order;
    uint32_t *fam_list; /* families of this request */
    uint32_t n_fams, cap_fams;
    uint64_t dropped[OB_RW_DROP__COUNT];
    struct ob_buf build, scratch, hist, body, ex;
    unsigned char *ex_copy; /* a series' exemplars, as the store copies them */
    size_t ex_cap;
    struct ob_series_view ex_view;
    char **ex_texts; /* 2.0: exemplar label texts interned in this request */
    uint32_t n_ex_texts, cap_ex_texts;
    uint64_t exemplars_sent;
    uint32_t classic_max; /* exponential histograms as classic buckets, at most this many; 0: native */
    double *cb, *cv, *cs; /* their bounds, values, scratch */
    uint32_t cs_cap;
    struct sym *syms;
    uint32_t sym_mask, n_syms;
    const struct sym **sym_order;
    uint32_t cap_sym_order;
};

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint32_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

int ob_rw_encoder_create(enum ob_rw_protocol proto, struct ob_store *store, uint32_t max_series,
                         uint32_t max_families, struct ob_rw_encoder **out)
{
    struct ob_rw_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->proto = proto;
    e->store = store;
    e->max_series = max_series;
    e->max_families = max_families;
    e->series = calloc(max_series, sizeof *e->series);
    e->fams = calloc(max_families, sizeof *e->fams);
    if (!e->series || !e->fams) {
        ob_rw_encoder_destroy(e);
        return -ENOMEM;
    }
    *out = e;
    return 0;
}

int ob_rw_encoder_classic(struct ob_rw_encoder *e, uint32_t max_buckets)
{
    free(e->cb);
    free(e->cv);
    e->cb = e->cv = NULL;
    e->classic_max = max_buckets;
    if (!max_buckets)
        return 0;
    e->cb = malloc(sizeof *e->cb * max_buckets);
    e->cv = malloc(sizeof *e->cv * ((size_t)max_buckets + 3));
    return e->cb && e->cv ? 0 : -ENOMEM;
}

static void series_free(struct series *s)
{
    free(s->last_bounds);
    free(s->ex_sent);
    free(s->subs);
    free(s->text);
    free(s->strs);
    free(s->pairs);
    free(s->v1);
    free(s->refs);
    *s = (struct series){0};
}

static void family_free(struct family *f)
{
    free(f->name);
    free(f->help);
    free(f->unit);
    *f = (struct family){0};
}

void ob_rw_encoder_destroy(struct ob_rw_encoder *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; e->series && i < e->max_series; i++)
        series_free(&e->series[i]);
    for (uint32_t i = 0; e->fams && i < e->max_families; i++)
        family_free(&e->fams[i]);
    free(e->series);
    free(e->fams);
    free(e->recs);
    free(e->order);
    free(e->fam_list);
    free(e->syms);
    free(e->sym_order);
    ob_buf_fini(&e->build);
    ob_buf_fini(&e->scratch);
    ob_buf_fini(&e->hist);
    ob_buf_fini(&e->body);
    ob_buf_fini(&e->ex);
    free(e->ex_copy);
    for (uint32_t i = 0; i < e->n_ex_texts; i++)
        free(e->ex_texts[i]);
    free(e->ex_texts);
    free(e->cb);
    free(e->cv);
    free(e->cs);
    free(e);
}

/* ---- resolving a series ------------------------------------------------------ */

static char *dup_text(const char *s, uint32_t n)
{
    char *p = malloc((size_t)n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool same_text(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* The family cache entry of fv, refreshed when its texts changed (a family
 * id reused for another name, new help): then its metadata goes again. */
static bool family_update(struct ob_rw_encoder *e, const struct ob_family_view *fv)
{
    if (fv->id >= e->max_families)
        return false;
    struct family *f = &e->fams[fv->id];
    if (f->name && f->type == fv->type && same_text(f->name, f->name_len, fv->name, fv->name_len) &&
        same_text(f->help, f->help_len, fv->help, fv->help_len) &&
        same_text(f->unit, f->unit_len, fv->unit, fv->unit_len))
        return true;
    family_free(f);
    f->name = dup_text(fv->name, fv->name_len);
    f->help = dup_text(fv->help, fv->help_len);
    f->unit = dup_text(fv->unit, fv->unit_len);
    if (!f->name || !f->help || !f->unit) {
        family_free(f);
        return false;
    }
    f->name_len = fv->name_len;
    f->help_len = fv->help_len;
    f->unit_len = fv->unit_len;
    f->type = fv->type;
    return true;
}

/* While a series is built: its strings go into e->build, then are copied. */
static uint32_t add_str(struct ob_rw_encoder *e, struct ob_buf *strs, const char *p, size_t n,
                        bool escaped)
{
    struct str s = {(uint32_t)e->build.len, 0};
    if (escaped && memchr(p, '\\', n))
        ob_labels_unescape(&e->build, p, n);
    else
        ob_buf_append(&e->build, p, n);
    s.len = (uint32_t)(e->build.len - s.off);
    ob_buf_append(strs, &s, sizeof s);
    return (uint32_t)(strs->len / sizeof s - 1);
}

/* A label while a label set is sorted by name: its texts, and (for a
 * cached series) their indexes in the series' strings. */
struct sort_pair {
    const char *name, *value;
    uint32_t name_len, value_len;
    uint32_t name_idx, value_idx;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct sort_pair *x = a, *y = b;
    uint32_t n = OB_MIN(x->name_len, y->name_len);
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void put_label_v1(struct ob_buf *b, const char *name, uint32_t nl, const char *value, uint32_t vl)
{
    ob_pb_tag(b, TS_LABELS, OB_PB_LEN);
    ob_pb_varint(b, 2 + ob_pb_varint_len(nl) + nl + ob_pb_varint_len(vl) + vl);
    ob_pb_bytes(b, LB_NAME, name, nl);
    ob_pb_bytes(b, LB_VALUE, value, vl);
}

/* Builds slot's cache entry from the store's description of it. */
static bool series_build(struct ob_rw_encoder *e, struct series *s, const struct ob_series_desc *d,
                         uint64_t hash, int64_t now_ms)
{
    series_free(s);
    if (!family_update(e, &d->family))
        return false;
    struct ob_buf strs, pairs;
    ob_buf_init(&strs);
    ob_buf_init(&pairs);
    e->build.len = 0;

    /* The stored labels, unescaped. */
    uint32_t n_base = 0;
    struct ob_labels_iter it;
    struct ob_label_pair lp;
    ob_labels_iter_init(&it, d->labels, d->labels_len);
    while (ob_labels_next(&it, &lp)) {
        add_str(e, &strs, lp.name, lp.name_len, true);
        add_str(e, &strs, lp.value, lp.value_len, true);
        n_base++;
    }
    uint32_t name_key = add_str(e, &strs, "__name__", 8, false);

    /* The Prometheus series the shape stands for: a view whose values are
     * their own indexes tells which double each sample is. */
    uint32_t width = ob_sample_width(d->kind, d->n);
    double idx[OB_STORE_MAX_POINTS + OB_SAMPLE_EXP_BUCKET0];
    for (uint32_t i = 0; i < width && i < OB_ARRAY_LEN(idx); i++)
        idx[i] = i;
    struct ob_series_view sv = {.kind = d->kind, .n = d->n, .points = d->points,
                                .has_sum = d->has_sum, .values = idx};
    uint32_t n_sub = d->kind == OB_SHAPE_EXPHIST ? 1 : (d->kind == OB_SHAPE_SCALAR ? 1 : d->n + 3);
    s->subs = calloc(n_sub, sizeof *s->subs);
    struct sort_pair *sp = malloc(sizeof *sp * (n_base + 2));
    if (!s->subs || !sp)
        goto fail;
    const struct family *f = &e->fams[d->family.id];
    uint32_t extra_name[3] = {0};
    if (d->kind == OB_SHAPE_HISTOGRAM)
        extra_name[OB_PROM_LE] = add_str(e, &strs, "le", 2, false);
    if (d->kind == OB_SHAPE_SUMMARY)
        extra_name[OB_PROM_QUANTILE] = add_str(e, &strs, "quantile", 8, false);
    uint32_t suffix_name[4];
    for (int x = 0; x < 4; x++) {
        const char *suf = ob_prom_suffix_text((enum ob_prom_suffix)x);
        size_t at = e->build.len;
        ob_buf_append(&e->build, f->name, f->name_len);
        ob_buf_puts(&e->build, suf);
        struct str st = {(uint32_t)at, (uint32_t)(e->build.len - at)};
        ob_buf_append(&strs, &st, sizeof st);
        suffix_name[x] = (uint32_t)(strs.len / sizeof st - 1);
    }
    s->suffix0 = suffix_name[0];
    s->n_base = n_base;
    struct ob_prom_iter pit;
    struct ob_prom_sample ps;
    ob_prom_iter_init(&pit, &sv);
    uint32_t k = 0;
    struct {
        uint32_t name, extra_name, extra_value;
    } plan[OB_STORE_MAX_POINTS + 3];
    if (d->kind == OB_SHAPE_EXPHIST) {
        plan[0].name = suffix_name[OB_PROM_PLAIN];
        plan[0].extra_name = 0;
        s->subs[0].value = NATIVE;
        k = 1;
    } else {
        while (k < n_sub && ob_prom_next(&pit, &ps)) {
            plan[k].name = suffix_name[ps.suffix];
            plan[k].extra_name = ps.extra == OB_PROM_NO_EXTRA ? 0 : extra_name[ps.extra];
            if (ps.extra != OB_PROM_NO_EXTRA) {
                char num[32];
                size_t nl = ps.point < d->n ? ob_format_double(d->points[ps.point], num) : 4;
                plan[k].extra_value = add_str(e, &strs, ps.point < d->n ? num : "+Inf", nl, false);
            }
            s->subs[k].value = (uint32_t)ps.value;
            k++;
        }
    }
    n_sub = k;
    if (e->build.failed || strs.failed)
        goto fail;
    const struct str *st = (const struct str *)(void *)strs.data;
    /* Each sub-series' labels, sorted by name (the stored ones already are,
     * by their escaped text; sorting them all again costs nothing that
     * matters, a series is built once). */
    for (uint32_t j = 0; j < n_sub; j++) {
        uint32_t n = 0;
        for (uint32_t b = 0; b < n_base; b++, n++)
            sp[n] = (struct sort_pair){.name = e->build.data + st[2 * b].off, .name_len = st[2 * b].len,
                                       .name_idx = 2 * b, .value_idx = 2 * b + 1};
        sp[n++] = (struct sort_pair){.name = "__name__", .name_len = 8, .name_idx = name_key,
                                     .value_idx = plan[j].name};
        if (plan[j].extra_name)
            sp[n++] = (struct sort_pair){.name = e->build.data + st[plan[j].extra_name].off,
                                         .name_len = st[plan[j].extra_name].len,
                                         .name_idx = plan[j].extra_name, .value_idx = plan[j].extra_value};
        qsort(sp, n, sizeof *sp, pair_cmp);
        s->subs[j].pairs = (uint32_t)(pairs.len / (2 * sizeof(uint32_t)));
        s->subs[j].n_pairs = n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t two[2] = {sp[i].name_idx, sp[i].value_idx};
            ob_buf_append(&pairs, two, sizeof two);
        }
    }
    if (pairs.failed)
        goto fail;
    s->n_strs = (uint32_t)(strs.len / sizeof(struct str));
    s->text = malloc(e->build.len + 1);
    s->strs = (struct str *)(void *)strs.data;
    s->pairs = (uint32_t *)(void *)pairs.data;
    strs.data = pairs.data = NULL;
    if (!s->text)
        goto fail;
    memcpy(s->text, e->build.data, e->build.len);
    s->n_sub = n_sub;
    if (e->proto == OB_RW_PROTO_1_0) {
        struct ob_buf v1;
        ob_buf_init(&v1);
        for (uint32_t j = 0; j < n_sub; j++) {
            s->subs[j].v1_off = (uint32_t)v1.len;
            const uint32_t *p = s->pairs + 2 * s->subs[j].pairs;
            for (uint32_t i = 0; i < s->subs[j].n_pairs; i++) {
                const struct str *nm = &s->strs[p[2 * i]], *va = &s->strs[p[2 * i + 1]];
                put_label_v1(&v1, s->text + nm->off, nm->len, s->text + va->off, va->len);
            }
            s->subs[j].v1_len = (uint32_t)(v1.len - s->subs[j].v1_off);
        }
        if (v1.failed) {
            ob_buf_fini(&v1);
            goto fail;
        }
        s->v1 = v1.data;
    } else {
        s->refs = malloc(sizeof *s->refs * s->n_strs);
        if (!s->refs)
            goto fail;
    }
    free(sp);
    s->hash = hash;
    s->labels_off = d->labels_off;
    s->data_off = d->data_off;
    s->checked_ms = now_ms;
    s->created_ms = d->created_ms;
    s->exemplars = d->exemplars;
    s->family = d->family.id;
    s->width = (uint16_t)width;
    s->kind = (uint8_t)d->kind;
    s->has_sum = d->has_sum;
    return true;
fail:
    free(sp);
    ob_buf_fini(&strs);
    ob_buf_fini(&pairs);
    series_free(s);
    return false;
}

/* The cache entry of record r's series, checked against the store at most
 * once a second; NULL (and why in *why) when the record cannot be sent. */
static struct series *series_of(struct ob_rw_encoder *e, const struct ob_fwd_record *r, int64_t now_ms,
                                enum ob_rw_drop *why)
{
    *why = OB_RW_DROP_GONE;
    if (r->slot >= e->max_series)
        return NULL;
    struct series *s = &e->series[r->slot];
    bool fresh = s->text && s->hash == r->hash && now_ms - s->checked_ms < RECHECK_MS;
    if (!fresh) {
        struct ob_series_desc d;
        if (ob_store_series_at(e->store, r->slot, r->hash, &d) != 0)
            return NULL;
        if (s->text && s->hash == r->hash && s->labels_off == d.labels_off && s->data_off == d.data_off &&
            e->fams[s->family].name && family_update(e, &d.family)) {
            s->checked_ms = now_ms;
            s->created_ms = d.created_ms;
            s->exemplars = d.exemplars;
        } else if (!series_build(e, s, &d, r->hash, now_ms)) {
            return NULL;
        }
    }
    /* A record of other bounds than the series has now cannot be named
     * (an exponential histogram's sample says its own layout). */
    if (r->width && r->width != s->width && s->kind != OB_SHAPE_EXPHIST) {
        *why = OB_RW_DROP_RESHAPED;
        return NULL;
    }
    return s;
}

uint32_t ob_rw_record_samples(struct ob_rw_encoder *e, const struct ob_fwd_record *r, int64_t now_ms,
                              enum ob_rw_drop *why)
{
    struct series *s = series_of(e, r, now_ms, why);
    if (s && s->kind == OB_SHAPE_EXPHIST && e->classic_max)
        return e->classic_max + 3; /* at most: buckets, +Inf, _sum, _count */
    return s ? s->n_sub : 0;
}

/* ---- a request ------------------------------------------------------------------ */

void ob_rw_encode_begin(struct ob_rw_encoder *e)
{
    e->gen++;
    if (e->gen == 0)
        e->gen = 1; /* 0 is "never" in the entries */
    e->n_recs = e->n_order = e->n_fams = 0;
    memset(e->dropped, 0, sizeof e->dropped);
    for (uint32_t i = 0; i < e->n_ex_texts; i++)
        free(e->ex_texts[i]);
    e->n_ex_texts = 0;
    e->exemplars_sent = 0;
}

void ob_rw_encode_add(struct ob_rw_encoder *e, const struct ob_fwd_record *r, int64_t now_ms)
{
    enum ob_rw_drop why;
    struct series *s = series_of(e, r, now_ms, &why);
    if (!s || !grow((void **)&e->recs, &e->cap_recs, e->n_recs + 1, sizeof *e->recs)) {
        e->dropped[s ? OB_RW_DROP_GONE : why]++;
        return;
    }
    uint32_t i = e->n_recs++;
    e->recs[i] = (struct rec){r, i, UINT32_MAX};
    if (s->req_gen != e->gen) {
        if (!grow((void **)&e->order, &e->cap_order, e->n_order + 1, sizeof *e->order)) {
            e->n_recs--;
            e->dropped[OB_RW_DROP_GONE]++;
            return;
        }
        e->order[e->n_order++] = r->slot;
        s->req_gen = e->gen;
        s->head = s->tail = i;
        s->unsorted = false;
        struct family *f = &e->fams[s->family];
        if (f->req_gen != e->gen &&
            grow((void **)&e->fam_list, &e->cap_fams, e->n_fams + 1, sizeof *e->fam_list)) {
            f->req_gen = e->gen;
            e->fam_list[e->n_fams++] = s->family;
        }
    } else {
        e->recs[s->tail].next = i;
        s->tail = i;
        s->unsorted |= r->ts_ms < s->last_ts;
    }
    s->last_ts = r->ts_ms;
}

static int rec_ts_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->r->ts_ms != y->r->ts_ms)
        return x->r->ts_ms < y->r->ts_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* A series' records in timestamp order (a stable sort: the same timestamp
 * keeps the log's order), relinked as copies at the end of the request's
 * records when they came out of order. */
static void sort_series(struct ob_rw_encoder *e, struct series *s)
{
    uint32_t n = 0;
    for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next)
        n++;
    if (!grow((void **)&e->recs, &e->cap_recs, e->n_recs + n, sizeof *e->recs))
        return; /* sent in log order */
    uint32_t first = e->n_recs;
    for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next)
        e->recs[e->n_recs++] = e->recs[i];
    qsort(e->recs + first, n, sizeof *e->recs, rec_ts_cmp);
    for (uint32_t j = first; j < e->n_recs; j++)
        e->recs[j].next = j + 1 < e->n_recs ? j + 1 : UINT32_MAX;
    s->head = first;
    s->tail = e->n_recs - 1;
    s->unsorted = false;
}

static inline double stale_nan(void)
{
    double v;
    uint64_t bits = STALE_NAN_BITS;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline double rec_value(const struct ob_fwd_record *r, uint32_t value)
{
    if (r->flags & OB_FWD_STALE || r->width == 0)
        return stale_nan();
    return value < r->width ? r->v[value] : NAN;
}

static inline bool is_stale_value(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == STALE_NAN_BITS;
}

/* Sample{value, timestamp[, start_timestamp]} as a field of a TimeSeries. */
static inline size_t sample_len(int64_t ts, int64_t start)
{
    return 9 + 1 + ob_pb_varint_len((uint64_t)ts) + (start ? 1 + ob_pb_varint_len((uint64_t)start) : 0);
}

static inline char *put_sample(char *p, unsigned field, double v, int64_t ts, int64_t start)
{
    size_t len = sample_len(ts, start);
    *p++ = (char)(field << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, len);
    *p++ = (char)(SM_VALUE << 3 | OB_PB_I64);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; i++)
        *p++ = (char)(bits >> (8 * i));
    *p++ = (char)(SM_TIMESTAMP << 3 | OB_PB_VARINT);
    p = ob_pb_put_varint(p, (uint64_t)ts);
    if (start) {
        *p++ = (char)(S2_START << 3 | OB_PB_VARINT);
        p = ob_pb_put_varint(p, (uint64_t)start);
    }
    return p;
}

/* A record of an exponential histogram series as a native Histogram
 * message into e->hist (emptied first).  A staleness marker: the sum is
 * StaleNaN, as Prometheus marks a native histogram stale. */
static bool native_histogram(struct ob_rw_encoder *e, const struct series *s, const struct ob_fwd_record *r,
                             int64_t start)
{
    struct ob_buf *h = &e->hist;
    h->len = 0;
    const double *d = r->v;
    bool stale = (r->flags & OB_FWD_STALE) || r->width < OB_SAMPLE_EXP_BUCKET0 ||
                 is_stale_value(d[OB_SAMPLE_COUNT]);
    if (stale) {
        ob_pb_uint(h, H_COUNT_INT, 0);
        ob_pb_double(h, H_SUM, stale_nan());
        ob_pb_uint(h, H_TIMESTAMP, (uint64_t)r->ts_ms);
        return !h->failed;
    }
    static const struct ob_native_fields fields = {
        H_COUNT_INT, H_COUNT_FLOAT, H_SUM, H_SCHEMA, H_ZERO_THRESHOLD, H_ZERO_COUNT_INT, H_ZERO_COUNT_FLOAT,
        H_NEG_SPANS, H_NEG_DELTAS, H_POS_SPANS, H_POS_DELTAS,
    };
    if (ob_exphist_write_native(h, &e->scratch, &fields, d, r->width - OB_SAMPLE_EXP_BUCKET0, s->has_sum) <= 0)
        return false;
    ob_pb_uint(h, H_TIMESTAMP, (uint64_t)r->ts_ms);
    if (start)
        ob_pb_uint(h, H2_START, (uint64_t)start);
    return !h->failed;
}

/* The created timestamp a series' samples carry (counters, histograms and
 * summaries only; 0 = none). */
static int64_t start_of(const struct ob_rw_encoder *e, const struct series *s)
{
    if (e->proto != OB_RW_PROTO_2_0 || s->created_ms <= 0)
        return 0;
    enum ob_family_type t = e->fams[s->family].type;
    return t == OB_FAMILY_COUNTER || t == OB_FAMILY_HISTOGRAM || t == OB_FAMILY_SUMMARY ? s->created_ms : 0;
}

/* ---- exemplars -------------------------------------------------------------------- */

static uint32_t sym_ref(struct ob_rw_encoder *e, const char *p, uint32_t n);

/* The store's exemplar entry sub-series j carries, or -1: a counter's one,
 * a histogram's bucket j (j = n: +Inf), an exponential histogram's one. */
static int exemplar_entry(const struct ob_rw_encoder *e, const struct series *s, uint32_t j)
{
    switch (s->kind) {
    case OB_SHAPE_SCALAR:
        return e->fams[s->family].type == OB_FAMILY_COUNTER ? 0 : -1;
    case OB_SHAPE_HISTOGRAM:
        return s->subs[j].value >= OB_SAMPLE_POINT0 ? (int)(s->subs[j].value - OB_SAMPLE_POINT0) : -1;
    case OB_SHAPE_EXPHIST:
        return 0;
    default:
        return -1;
    }
}

/* 2.0: the ref of a text from an exemplar's label block (unescaped, kept
 * until the request is written). */
static uint32_t ex_ref(struct ob_rw_encoder *e, const char *p, size_t n)
{
    struct ob_buf *t = &e->scratch;
    t->len = 0;
    ob_labels_unescape(t, p, n);
    if (t->failed || !grow((void **)&e->ex_texts, &e->cap_ex_texts, e->n_ex_texts + 1, sizeof *e->ex_texts))
        return UINT32_MAX;
    char *copy = dup_text(t->data ? t->data : "", (uint32_t)t->len);
    if (!copy)
        return UINT32_MAX;
    e->ex_texts[e->n_ex_texts++] = copy;
    return sym_ref(e, copy, (uint32_t)t->len);
}

/* The exemplar of sub-series j, when the store has one newer than the last
 * sent, as an Exemplar field of ts.  The series' exemplars are read from the
 * store once per request (j == 0). */
static bool put_exemplar(struct ob_rw_encoder *e, struct ob_buf *ts, struct series *s, uint32_t j,
                         unsigned field)
{
    if (!s->exemplars)
        return true;
    if (j == 0) {
        uint32_t slot = (uint32_t)(s - e->series);
        if (ob_store_series_exemplars(e->store, slot, s->hash, &e->ex_copy, &e->ex_cap, &e->ex_view) != 0)
            e->ex_view.n_exemplars = 0;
        if (e->ex_view.n_exemplars > s->n_ex_sent) {
            int64_t *p = realloc(s->ex_sent, sizeof *p * e->ex_view.n_exemplars);
            if (!p)
                return false;
            memset(p + s->n_ex_sent, 0, sizeof *p * (e->ex_view.n_exemplars - s->n_ex_sent));
            s->ex_sent = p;
            s->n_ex_sent = e->ex_view.n_exemplars;
        }
    }
    int entry = exemplar_entry(e, s, j);
    struct ob_exemplar_view ev;
    if (entry < 0 || (uint32_t)entry >= s->n_ex_sent || !ob_series_exemplar(&e->ex_view, (uint32_t)entry, &ev) ||
        ev.ts_ms <= s->ex_sent[entry])
        return true;
    s->ex_sent[entry] = ev.ts_ms;
    struct ob_buf *x = &e->ex;
    x->len = 0;
    struct ob_labels_iter it;
    struct ob_label_pair lp;
    ob_labels_iter_init(&it, ev.labels, ev.labels_len);
    if (e->proto == OB_RW_PROTO_2_0) {
        struct ob_buf *refs = &e->hist; /* free while exemplars are written */
        refs->len = 0;
        while (ob_labels_next(&it, &lp)) {
            uint32_t nr = ex_ref(e, lp.name, lp.name_len), vr = ex_ref(e, lp.value, lp.value_len);
            if (nr == UINT32_MAX || vr == UINT32_MAX)
                return false;
            ob_pb_varint(refs, nr);
            ob_pb_varint(refs, vr);
        }
        ob_pb_bytes(x, EX_LABELS, refs->data, refs->len);
    } else {
        struct ob_buf *t = &e->scratch, *pair = &e->hist;
        while (ob_labels_next(&it, &lp)) {
            pair->len = 0;
            t->len = 0;
            ob_labels_unescape(t, lp.name, lp.name_len);
            ob_pb_bytes(pair, LB_NAME, t->data ? t->data : "", t->len);
            t->len = 0;
            ob_labels_unescape(t, lp.value, lp.value_len);
            ob_pb_bytes(pair, LB_VALUE, t->data ? t->data : "", t->len);
            ob_pb_bytes(x, EX_LABELS, pair->data, pair->len);
        }
    }
    ob_pb_double(x, EX_VALUE, ev.value);
    ob_pb_uint(x, EX_TIMESTAMP, (uint64_t)ev.ts_ms);
    ob_pb_bytes(ts, field, x->data, x->len);
    e->exemplars_sent++;
    return !x->failed && !ts->failed;
}

/* Bytes of sub-series j's samples (each a Sample field) in s's records. */
static size_t samples_size(const struct ob_rw_encoder *e, const struct series *s, int64_t start)
{
    size_t n = 0;
    for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next) {
        size_t len = sample_len(e->recs[i].r->ts_ms, start);
        n += 1 + ob_pb_varint_len(len) + len;
    }
    return n;
}

static char *put_samples_at(struct ob_rw_encoder *e, char *p, const struct series *s, uint32_t j,
                            unsigned field, int64_t start, struct ob_rw_counts *c)
{
    for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next) {
        const struct ob_fwd_record *r = e->recs[i].r;
        p = put_sample(p, field, rec_value(r, s->subs[j].value), r->ts_ms, start);
        c->samples++;
        c->newest_ms = OB_MAX(c->newest_ms, r->ts_ms);
    }
    return p;
}

/* The samples of sub-series j of s into ts (a TimeSeries being built). */
static bool put_samples(struct ob_rw_encoder *e, struct ob_buf *ts, const struct series *s, uint32_t j,
                        unsigned sample_field, unsigned hist_field, struct ob_rw_counts *c)
{
    int64_t start = start_of(e, s);
    if (s->subs[j].value == NATIVE) {
        for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next) {
            if (!native_histogram(e, s, e->recs[i].r, start))
                continue;
            ob_pb_bytes(ts, hist_field, e->hist.data, e->hist.len);
            c->histograms++;
            c->newest_ms = OB_MAX(c->newest_ms, e->recs[i].r->ts_ms);
        }
        return !ts->failed;
    }
    if (!ob_buf_reserve(ts, samples_size(e, s, start)))
        return false;
    ts->len = (size_t)(put_samples_at(e, ts->data + ts->len, s, j, sample_field, start, c) - ts->data);
    return true;
}

static unsigned metric_type(enum ob_family_type t)
{
    switch (t) {
    case OB_FAMILY_COUNTER:
        return MT_COUNTER;
    case OB_FAMILY_GAUGE:
        return MT_GAUGE;
    case OB_FAMILY_HISTOGRAM:
        return MT_HISTOGRAM;
    case OB_FAMILY_SUMMARY:
        return MT_SUMMARY;
    default:
        return MT_UNKNOWN;
    }
}

/* ---- the common case, written in one pass ------------------------------------------ */

/* 1.0, a float sub-series of a series without exemplars (nearly every
 * one): the TimeSeries' size is known beforehand, so its labels and samples
 * go straight into the request, with no TimeSeries buffer to copy from. */
static bool put_plain_v1(struct ob_rw_encoder *e, struct ob_buf *out, const struct series *s, uint32_t j,
                         struct ob_rw_counts *c)
{
    size_t len = s->subs[j].v1_len + samples_size(e, s, 0);
    if (!ob_buf_reserve(out, 1 + 10 + len))
        return false;
    char *p = out->data + out->len;
    *p++ = (char)(WR_TIMESERIES << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, len);
    memcpy(p, s->v1 + s->subs[j].v1_off, s->subs[j].v1_len);
    p = put_samples_at(e, p + s->subs[j].v1_len, s, j, TS_SAMPLES, 0, c);
    out->len = (size_t)(p - out->data);
    c->series++;
    return true;
}

/* 2.0, the same: labels_refs (packed), samples, metadata, created time. */
static bool put_plain_v2(struct ob_rw_encoder *e, struct ob_buf *out, const struct series *s, uint32_t j,
                         const struct family *f, int64_t start, struct ob_rw_counts *c)
{
    const uint32_t *pr = s->pairs + 2 * s->subs[j].pairs;
    uint32_t n_refs = 2 * s->subs[j].n_pairs;
    size_t refs_len = 0;
    for (uint32_t i = 0; i < n_refs; i++)
        refs_len += ob_pb_varint_len(s->refs[pr[i]]);
    size_t md_len = 2 + (f->help_ref ? 1 + ob_pb_varint_len(f->help_ref) : 0) +
                    (f->unit_ref ? 1 + ob_pb_varint_len(f->unit_ref) : 0);
    size_t len = 1 + ob_pb_varint_len(refs_len) + refs_len + samples_size(e, s, start) + 1 +
                 ob_pb_varint_len(md_len) + md_len + (start ? 1 + ob_pb_varint_len((uint64_t)start) : 0);
    if (!ob_buf_reserve(out, 1 + 10 + len))
        return false;
    char *p = out->data + out->len;
    *p++ = (char)(R2_TIMESERIES << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, len);
    *p++ = (char)(T2_LABELS_REFS << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, refs_len);
    for (uint32_t i = 0; i < n_refs; i++)
        p = ob_pb_put_varint(p, s->refs[pr[i]]);
    p = put_samples_at(e, p, s, j, T2_SAMPLES, start, c);
    *p++ = (char)(T2_METADATA << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, md_len);
    *p++ = (char)(M2_TYPE << 3 | OB_PB_VARINT);
    *p++ = (char)metric_type(f->type);
    if (f->help_ref) {
        *p++ = (char)(M2_HELP_REF << 3 | OB_PB_VARINT);
        p = ob_pb_put_varint(p, f->help_ref);
    }
    if (f->unit_ref) {
        *p++ = (char)(M2_UNIT_REF << 3 | OB_PB_VARINT);
        p = ob_pb_put_varint(p, f->unit_ref);
    }
    if (start) {
        *p++ = (char)(T2_CREATED << 3 | OB_PB_VARINT);
        p = ob_pb_put_varint(p, (uint64_t)start);
    }
    out->len = (size_t)(p - out->data);
    c->series++;
    return true;
}

/* ---- exponential histograms as classic buckets ------------------------------------ */

/* The labels of s with the name of suffix x and an le label (le == NULL:
 * none), sorted, into ts: 1.0 Label fields, or 2.0 labels_refs. */
static bool put_classic_labels(struct ob_rw_encoder *e, struct ob_buf *ts, const struct series *s,
                               enum ob_prom_suffix x, const char *le, uint32_t le_len)
{
    uint32_t n = s->n_base + 2;
    struct sort_pair stack[32], *p = n <= 32 ? stack : malloc(sizeof *p * n);
    if (!p)
        return false;
    uint32_t k = 0;
    for (uint32_t b = 0; b < s->n_base; b++, k++)
        p[k] = (struct sort_pair){.name = s->text + s->strs[2 * b].off, .value = s->text + s->strs[2 * b + 1].off,
                                  .name_len = s->strs[2 * b].len, .value_len = s->strs[2 * b + 1].len};
    const struct str *nm = &s->strs[s->suffix0 + x];
    p[k++] = (struct sort_pair){.name = "__name__", .value = s->text + nm->off, .name_len = 8,
                                .value_len = nm->len};
    if (le)
        p[k++] = (struct sort_pair){.name = "le", .value = le, .name_len = 2, .value_len = le_len};
    qsort(p, k, sizeof *p, pair_cmp);
    bool ok = true;
    if (e->proto == OB_RW_PROTO_2_0) {
        /* le's text is the caller's: a copy is interned (ex_ref, which
         * uses the scratch buffer: before the refs are put there). */
        uint32_t le_ref = le ? ex_ref(e, le, le_len) : 0;
        struct ob_buf *refs = &e->scratch;
        refs->len = 0;
        for (uint32_t i = 0; i < k && ok; i++) {
            uint32_t nr = sym_ref(e, p[i].name, p[i].name_len);
            uint32_t vr = le && p[i].value == le ? le_ref : sym_ref(e, p[i].value, p[i].value_len);
            ok = nr != UINT32_MAX && vr != UINT32_MAX;
            ob_pb_varint(refs, nr);
            ob_pb_varint(refs, vr);
        }
        ob_pb_bytes(ts, T2_LABELS_REFS, refs->data, refs->len);
    } else {
        for (uint32_t i = 0; i < k; i++)
            put_label_v1(ts, p[i].name, p[i].name_len, p[i].value, p[i].value_len);
    }
    if (p != stack)
        free(p);
    return ok && !ts->failed;
}

static void finish_ts_v2(struct ob_rw_encoder *e, struct ob_buf *ts, const struct family *f, int64_t start);

/* One classic series of a classic exponential histogram sample: labels,
 * the sample, (2.0) metadata; then the TimeSeries into out. */
static bool put_classic_series(struct ob_rw_encoder *e, struct ob_buf *out, const struct series *s,
                               enum ob_prom_suffix x, const char *le, uint32_t le_len, double v,
                               int64_t ts_ms, int64_t start, struct ob_rw_counts *c)
{
    struct ob_buf *ts = &e->body;
    ts->len = 0;
    bool v2 = e->proto == OB_RW_PROTO_2_0;
    if (!put_classic_labels(e, ts, s, x, le, le_len) || !ob_buf_reserve(ts, 32))
        return false;
    char *p = put_sample(ts->data + ts->len, v2 ? T2_SAMPLES : TS_SAMPLES, v, ts_ms, start);
    ts->len = (size_t)(p - ts->data);
    if (v2)
        finish_ts_v2(e, ts, &e->fams[s->family], start);
    ob_pb_bytes(out, v2 ? R2_TIMESERIES : WR_TIMESERIES, ts->data, ts->len);
    c->samples++;
    c->series++;
    c->newest_ms = OB_MAX(c->newest_ms, ts_ms);
    return !out->failed;
}

/* Each record of an exponential histogram series as the classic histogram a
 * text scrape gets (ob_exphist_classic_sample): its bounds can change from
 * one sample to the next, so every record is its own series of buckets.  A
 * staleness marker ends the buckets last sent. */
static bool put_classic(struct ob_rw_encoder *e, struct ob_buf *out, struct series *s, struct ob_rw_counts *c)
{
    int64_t start = start_of(e, s);
    for (uint32_t i = s->head; i != UINT32_MAX; i = e->recs[i].next) {
        const struct ob_fwd_record *r = e->recs[i].r;
        bool stale = (r->flags & OB_FWD_STALE) || r->width < OB_SAMPLE_EXP_BUCKET0 ||
                     is_stale_value(r->v[OB_SAMPLE_COUNT]);
        uint32_t k;
        if (stale) {
            k = s->n_last_bounds;
            if (k)
                memcpy(e->cb, s->last_bounds, sizeof *e->cb * k);
            for (uint32_t b = 0; b < k + 3; b++)
                e->cv[b] = stale_nan();
        } else {
            uint32_t room = r->width - OB_SAMPLE_EXP_BUCKET0;
            if (room + 1 > e->cs_cap) {
                double *p = realloc(e->cs, sizeof *p * (room + 1));
                if (!p)
                    return false;
                e->cs = p;
                e->cs_cap = room + 1;
            }
            int got = ob_exphist_classic_sample(r->v, room, e->classic_max, e->cb, e->cv, e->cs);
            if (got < 0)
                continue;
            k = (uint32_t)got;
            double *lb = realloc(s->last_bounds, sizeof *lb * (k ? k : 1));
            if (lb) {
                memcpy(lb, e->cb, sizeof *lb * k);
                s->last_bounds = lb;
                s->n_last_bounds = k;
            }
        }
        for (uint32_t b = 0; b <= k; b++) {
            char num[32];
            size_t nl = b < k ? ob_format_double(e->cb[b], num) : 4;
            if (!put_classic_series(e, out, s, OB_PROM_BUCKET, b < k ? num : "+Inf", (uint32_t)nl,
                                    e->cv[OB_SAMPLE_POINT0 + b], r->ts_ms, start, c))
                return false;
        }
        if ((s->has_sum && !put_classic_series(e, out, s, OB_PROM_SUM, NULL, 0, e->cv[OB_SAMPLE_SUM], r->ts_ms,
                                               start, c)) ||
            !put_classic_series(e, out, s, OB_PROM_COUNT, NULL, 0, e->cv[OB_SAMPLE_COUNT], r->ts_ms, start, c))
            return false;
    }
    return true;
}

static int end_v1(struct ob_rw_encoder *e, struct ob_buf *out, int64_t now_ms, struct ob_rw_counts *c)
{
    struct ob_buf *ts = &e->body;
    for (uint32_t o = 0; o < e->n_order; o++) {
        struct series *s = &e->series[e->order[o]];
        if (s->unsorted)
            sort_series(e, s);
        if (s->kind == OB_SHAPE_EXPHIST && e->classic_max) {
            if (!put_classic(e, out, s, c))
                return -ENOMEM;
            continue;
        }
        for (uint32_t j = 0; j < s->n_sub; j++) {
            if (!s->exemplars && s->subs[j].value != NATIVE) {
                if (!put_plain_v1(e, out, s, j, c))
                    return -ENOMEM;
                continue;
            }
            ts->len = 0;
            ob_buf_append(ts, s->v1 + s->subs[j].v1_off, s->subs[j].v1_len);
            if (!put_samples(e, ts, s, j, TS_SAMPLES, TS_HISTOGRAMS, c) ||
                !put_exemplar(e, ts, s, j, TS_EXEMPLARS))
                return -ENOMEM;
            ob_pb_bytes(out, WR_TIMESERIES, ts->data, ts->len);
            c->series++;
        }
    }
    /* Metadata of the request's families, at most once a minute each, as
     * Prometheus sends it beside the samples. */
    for (uint32_t i = 0; i < e->n_fams; i++) {
        struct family *f = &e->fams[e->fam_list[i]];
        if (f->sent_ms && now_ms - f->sent_ms < METADATA_EVERY_MS)
            continue;
        f->sent_ms = now_ms;
        ts->len = 0;
        ob_pb_uint(ts, MD_TYPE, metric_type(f->type));
        ob_pb_bytes(ts, MD_FAMILY, f->name, f->name_len);
        if (f->help_len)
            ob_pb_bytes(ts, MD_HELP, f->help, f->help_len);
        if (f->unit_len)
            ob_pb_bytes(ts, MD_UNIT, f->unit, f->unit_len);
        ob_pb_bytes(out, WR_METADATA, ts->data, ts->len);
        c->metadata++;
    }
    return out->failed || ts->failed ? -ENOMEM : 0;
}

/* ---- 2.0 symbols ------------------------------------------------------------------ */

static uint32_t sym_hash(const char *p, uint32_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

static bool sym_reset(struct ob_rw_encoder *e, uint32_t expect)
{
    uint32_t cap = 1024;
    while (cap < 2 * expect)
        cap *= 2;
    if (cap - 1 != e->sym_mask || !e->syms) {
        free(e->syms);
        e->syms = malloc(sizeof *e->syms * cap);
        if (!e->syms)
            return false;
        e->sym_mask = cap - 1;
    }
    memset(e->syms, 0, sizeof *e->syms * cap);
    e->n_syms = 0;
    return true;
}

/* The ref of string p (interned on first use); UINT32_MAX without memory. */
static uint32_t sym_ref(struct ob_rw_encoder *e, const char *p, uint32_t n)
{
    if (2 * (e->n_syms + 1) > e->sym_mask + 1) {
        /* Grow: re-insert what is there. */
        uint32_t old_cap = e->sym_mask + 1;
        struct sym *old = e->syms;
        e->syms = calloc((size_t)old_cap * 2, sizeof *e->syms);
        if (!e->syms) {
            e->syms = old;
            return UINT32_MAX;
        }
        e->sym_mask = old_cap * 2 - 1;
        for (uint32_t i = 0; i < old_cap; i++) {
            if (!old[i].p)
                continue;
            uint32_t h = sym_hash(old[i].p, old[i].len) & e->sym_mask;
            while (e->syms[h].p)
                h = (h + 1) & e->sym_mask;
            e->syms[h] = old[i];
        }
        free(old);
        if (!grow((void **)&e->sym_order, &e->cap_sym_order, e->sym_mask + 1, sizeof *e->sym_order))
            return UINT32_MAX;
        for (uint32_t i = 0; i <= e->sym_mask; i++)
            if (e->syms[i].p)
                e->sym_order[e->syms[i].ref] = &e->syms[i];
    }
    uint32_t h = sym_hash(p, n) & e->sym_mask;
    while (e->syms[h].p) {
        if (e->syms[h].len == n && memcmp(e->syms[h].p, p, n) == 0)
            return e->syms[h].ref;
        h = (h + 1) & e->sym_mask;
    }
    if (!grow((void **)&e->sym_order, &e->cap_sym_order, e->n_syms + 1, sizeof *e->sym_order))
        return UINT32_MAX;
    e->syms[h] = (struct sym){p, n, e->n_syms};
    e->sym_order[e->n_syms] = &e->syms[h];
    return e->n_syms++;
}

/* A 2.0 TimeSeries' metadata (the family's type, help, unit) and created
 * timestamp. */
static void finish_ts_v2(struct ob_rw_encoder *e, struct ob_buf *ts, const struct family *f, int64_t start)
{
    struct ob_buf *m = &e->scratch;
    m->len = 0;
    ob_pb_uint(m, M2_TYPE, metric_type(f->type));
    if (f->help_ref)
        ob_pb_uint(m, M2_HELP_REF, f->help_ref);
    if (f->unit_ref)
        ob_pb_uint(m, M2_UNIT_REF, f->unit_ref);
    ob_pb_bytes(ts, T2_METADATA, m->data, m->len);
    if (start)
        ob_pb_uint(ts, T2_CREATED, (uint64_t)start);
}

static int end_v2(struct ob_rw_encoder *e, struct ob_buf *out, struct ob_rw_counts *c)
{
    if (!sym_reset(e, 8 * e->n_order + 16))
        return -ENOMEM;
    sym_ref(e, "", 0); /* symbols[0] is the empty string */
    struct ob_buf *all = &e->build, *ts = &e->body, *refs = &e->scratch;
    all->len = 0;
    for (uint32_t o = 0; o < e->n_order; o++) {
        struct series *s = &e->series[e->order[o]];
        if (s->unsorted)
            sort_series(e, s);
        if (s->refs_gen != e->gen) {
            for (uint32_t i = 0; i < s->n_strs; i++)
                if ((s->refs[i] = sym_ref(e, s->text + s->strs[i].off, s->strs[i].len)) == UINT32_MAX)
                    return -ENOMEM;
            s->refs_gen = e->gen;
        }
        struct family *f = &e->fams[s->family];
        if (f->refs_gen != e->gen) {
            f->help_ref = sym_ref(e, f->help, f->help_len);
            f->unit_ref = sym_ref(e, f->unit, f->unit_len);
            if (f->help_ref == UINT32_MAX || f->unit_ref == UINT32_MAX)
                return -ENOMEM;
            f->refs_gen = e->gen;
            c->metadata++;
        }
        int64_t start = start_of(e, s);
        if (s->kind == OB_SHAPE_EXPHIST && e->classic_max) {
            if (!put_classic(e, all, s, c))
                return -ENOMEM;
            continue;
        }
        for (uint32_t j = 0; j < s->n_sub; j++) {
            if (!s->exemplars && s->subs[j].value != NATIVE) {
                if (!put_plain_v2(e, all, s, j, f, start, c))
                    return -ENOMEM;
                continue;
            }
            ts->len = 0;
            refs->len = 0;
            const uint32_t *p = s->pairs + 2 * s->subs[j].pairs;
            for (uint32_t i = 0; i < 2 * s->subs[j].n_pairs; i++)
                ob_pb_varint(refs, s->refs[p[i]]);
            ob_pb_bytes(ts, T2_LABELS_REFS, refs->data, refs->len);
            if (!put_samples(e, ts, s, j, T2_SAMPLES, T2_HISTOGRAMS, c) ||
                !put_exemplar(e, ts, s, j, T2_EXEMPLARS))
                return -ENOMEM;
            finish_ts_v2(e, ts, f, start);
            ob_pb_bytes(all, R2_TIMESERIES, ts->data, ts->len);
            c->series++;
        }
    }
    for (uint32_t i = 0; i < e->n_syms; i++)
        ob_pb_bytes(out, R2_SYMBOLS, e->sym_order[i]->p, e->sym_order[i]->len);
    ob_buf_append(out, all->data, all->len);
    return out->failed || all->failed || ts->failed || refs->failed ? -ENOMEM : 0;
}

int ob_rw_encode_end(struct ob_rw_encoder *e, struct ob_buf *out, int64_t now_ms,
                     struct ob_rw_counts *counts)
{
    *counts = (struct ob_rw_counts){.newest_ms = INT64_MIN};
    out->len = 0;
    out->failed = false;
    int rc = e->proto == OB_RW_PROTO_2_0 ? end_v2(e, out, counts) : end_v1(e, out, now_ms, counts);
    memcpy(counts->dropped, e->dropped, sizeof e->dropped);
    counts->exemplars = e->exemplars_sent;
    return rc;
}
