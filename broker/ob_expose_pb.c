/* ob_expose_pb.c: the Prometheus protobuf exposition format.
 *
 * application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited: one MetricFamily message per family, each prefixed by
 * its length as a varint (proto/io/prometheus/client/metrics.proto has the
 * messages and their field numbers).  Encoded by hand, straight from the
 * store's views, as the text writer writes text: a family's messages are
 * built in the writer's buffers and go out when the family ends (the
 * length comes first).  Values as the client libraries write them: a
 * counter's, gauge's or untyped value as a double, counts as integers (as
 * doubles in the *_float fields when they are not whole), histogram buckets
 * cumulative without the +Inf one (the count says it) unless an exemplar
 * sits there, the sum only when the point had one.  Exemplars (when the
 * store has them) on counters and buckets, as OpenMetrics has them.
 */
#include "ob_expose.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ob_exphist.h"
#include "ob_pbwrite.h"
#include "ob_prom_series.h"

/* Field numbers (metrics.proto). */
enum {
    MF_NAME = 1, MF_HELP = 2, MF_TYPE = 3, MF_METRIC = 4, MF_UNIT = 5,
    M_LABEL = 1, M_GAUGE = 2, M_COUNTER = 3, M_SUMMARY = 4, M_UNTYPED = 5, M_TIMESTAMP_MS = 6,
    M_HISTOGRAM = 7,
    LP_NAME = 1, LP_VALUE = 2,
    VALUE = 1, /* Gauge, Counter, Untyped */
    S_COUNT = 1, S_SUM = 2, S_QUANTILE = 3, Q_QUANTILE = 1, Q_VALUE = 2,
    H_COUNT = 1, H_SUM = 2, H_BUCKET = 3, H_COUNT_FLOAT = 4, H_CREATED = 15,
    H_SCHEMA = 5, H_ZERO_THRESHOLD = 6, H_ZERO_COUNT = 7, H_ZERO_COUNT_FLOAT = 8,
    H_NEG_SPAN = 9, H_NEG_DELTA = 10, H_POS_SPAN = 12, H_POS_DELTA = 13, H_EXEMPLARS = 16,
    C_EXEMPLAR = 2, C_CREATED = 3, S_CREATED = 4, TS_SECONDS = 1, TS_NANOS = 2,
    B_COUNT = 1, B_BOUND = 2, B_EXEMPLAR = 3, B_COUNT_FLOAT = 4,
    E_LABEL = 1, E_VALUE = 2, E_TIMESTAMP = 3,
};

/* MetricType values. */
enum { T_COUNTER = 0, T_GAUGE = 1, T_SUMMARY = 2, T_UNTYPED = 3, T_HISTOGRAM = 4 };

/* A google.protobuf.Timestamp field of ms since the epoch. */
static void field_timestamp(struct ob_buf *b, struct ob_buf *scratch, unsigned field, int64_t ms)
{
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        sec--;
        rem += 1000;
    }
    scratch->len = 0;
    ob_pb_uint(scratch, TS_SECONDS, (uint64_t)sec);
    if (rem)
        ob_pb_uint(scratch, TS_NANOS, (uint64_t)(rem * 1000000));
    ob_pb_bytes(b, field, scratch->data, scratch->len);
}

/* Appends text from a label block to b as a protobuf string field: as it
 * is, or unescaped through scratch when it has escapes. */
static void field_label_text(struct ob_buf *b, struct ob_buf *scratch, unsigned field, const char *s,
                             size_t n)
{
    if (memchr(s, '\\', n)) {
        scratch->len = 0;
        ob_labels_unescape(scratch, s, n);
        s = scratch->data;
        n = scratch->len;
    }
    ob_pb_bytes(b, field, s, n);
}

/* Appends entry i of sv's exemplars, when it has one, as an Exemplar
 * message in field `field` of b.  False without memory. */
static bool field_exemplar(struct ob_expose_writer *w, struct ob_buf *b, unsigned field,
                           const struct ob_series_view *sv, uint32_t i)
{
    struct ob_exemplar_view ex;
    if (!ob_expose_exemplar(w, sv, i, &ex))
        return true;
    struct ob_buf *e = &w->pb_ex, *pair = &w->pb_ex_pair, *text = &w->pb_ex_text;
    e->len = 0;
    struct ob_labels_iter it;
    struct ob_label_pair lp;
    ob_labels_iter_init(&it, ex.labels, ex.labels_len);
    while (ob_labels_next(&it, &lp)) {
        pair->len = 0;
        field_label_text(pair, text, LP_NAME, lp.name, lp.name_len);
        field_label_text(pair, text, LP_VALUE, lp.value, lp.value_len);
        ob_pb_bytes(e, E_LABEL, pair->data, pair->len);
    }
    ob_pb_double(e, E_VALUE, ex.value);
    field_timestamp(e, pair, E_TIMESTAMP, ex.ts_ms);
    ob_pb_bytes(b, field, e->data, e->len);
    return !(e->failed || pair->failed || text->failed);
}

/* An exponential histogram as a native histogram (Histogram fields 5-16). */
static bool native_histogram(struct ob_expose_writer *w, struct ob_buf *v,
                             const struct ob_series_view *sv)
{
    static const struct ob_native_fields fields = {
        H_COUNT, H_COUNT_FLOAT, H_SUM, H_SCHEMA, H_ZERO_THRESHOLD, H_ZERO_COUNT, H_ZERO_COUNT_FLOAT,
        H_NEG_SPAN, H_NEG_DELTA, H_POS_SPAN, H_POS_DELTA,
    };
    int rc = ob_exphist_write_native(v, &w->pb_spans, &fields, sv->values, sv->n, sv->has_sum);
    if (rc <= 0)
        return rc == 0; /* 0: not a sample the store would write */
    if (sv->created_ms > 0)
        field_timestamp(v, &w->pb_pair, H_CREATED, sv->created_ms);
    return sv->n_exemplars == 0 || field_exemplar(w, v, H_EXEMPLARS, sv, 0);
}

int ob_expose_pb_flush(struct ob_expose_writer *w)
{
    if (!w->pb_open)
        return 0;
    w->pb_open = false;
    ob_pb_varint(w->out, w->pb_family.len);
    ob_buf_append(w->out, w->pb_family.data, w->pb_family.len);
    return w->out->failed || w->pb_family.failed ? -ENOMEM : 0;
}

int ob_expose_pb_family(struct ob_expose_writer *w, const struct ob_family_view *f,
                        const char *name, size_t name_len)
{
    int rc = ob_expose_pb_flush(w);
    if (rc)
        return rc;
    static const unsigned types[] = {
        [OB_FAMILY_UNKNOWN] = T_UNTYPED,    [OB_FAMILY_GAUGE] = T_GAUGE,
        [OB_FAMILY_COUNTER] = T_COUNTER,    [OB_FAMILY_HISTOGRAM] = T_HISTOGRAM,
        [OB_FAMILY_SUMMARY] = T_SUMMARY,
    };
    struct ob_buf *b = &w->pb_family;
    b->len = 0;
    ob_pb_bytes(b, MF_NAME, name, name_len);
    if (f->help_len)
        ob_pb_bytes(b, MF_HELP, f->help, f->help_len);
    w->pb_type = (unsigned)f->type < OB_ARRAY_LEN(types) ? types[f->type] : T_UNTYPED;
    ob_pb_uint(b, MF_TYPE, w->pb_type);
    if (f->unit_len)
        ob_pb_bytes(b, MF_UNIT, f->unit, f->unit_len);
    w->pb_open = true;
    return b->failed ? -ENOMEM : 0;
}

/* ---- a series: sizes first, then the bytes in one go ---------------------- */

static char *put_bytes(char *p, unsigned field, const char *s, size_t n)
{
    *p++ = (char)(field << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* A label's name and value as protobuf strings: the block's text when it
 * has no escapes (nearly always), else unescaped into the writer's text. */
struct pair {
    const char *name, *value;
    size_t name_len, value_len;
};

static size_t pair_len(const struct pair *p)
{
    return 1 + ob_pb_varint_len(p->name_len) + p->name_len + 1 + ob_pb_varint_len(p->value_len) + p->value_len;
}

/* The pairs of a block into w->pb_pairs; returns how many, or -1 without
 * memory.  Escaped texts are unescaped into w->pb_text, whose data must
 * not move while the pairs point into it: it is sized for the whole block
 * first (unescaping never makes text longer). */
static long gather(struct ob_expose_writer *w, const char *block, size_t len)
{
    struct ob_buf *t = &w->pb_text, *pairs = &w->pb_pairs;
    t->len = 0;
    pairs->len = 0;
    if (!ob_buf_reserve(t, len))
        return -1;
    struct ob_labels_iter it;
    struct ob_label_pair lp;
    long n = 0;
    ob_labels_iter_init(&it, block, len);
    while (ob_labels_next(&it, &lp)) {
        struct pair p = {lp.name, lp.value, lp.name_len, lp.value_len};
        if (memchr(lp.name, '\\', lp.name_len)) {
            size_t at = t->len;
            ob_labels_unescape(t, lp.name, lp.name_len);
            p.name = t->data + at;
            p.name_len = t->len - at;
        }
        if (memchr(lp.value, '\\', lp.value_len)) {
            size_t at = t->len;
            ob_labels_unescape(t, lp.value, lp.value_len);
            p.value = t->data + at;
            p.value_len = t->len - at;
        }
        ob_buf_append(pairs, &p, sizeof p);
        n++;
    }
    return pairs->failed || t->failed ? -1 : n;
}

int ob_expose_pb_series(struct ob_expose_writer *w, const struct ob_series_view *sv,
                        const char *block, size_t block_len)
{
    long n_pairs = gather(w, block, block_len);
    if (n_pairs < 0)
        return -ENOMEM;
    const struct pair *pairs = (const struct pair *)(const void *)w->pb_pairs.data;
    /* The value message: a scalar's is 9 bytes (tag, double); histograms and
     * summaries are built in pb_value. */
    struct ob_buf *v = &w->pb_value, *x = &w->pb_pair;
    const double *d = sv->values;
    unsigned vfield;
    v->len = 0;
    if (sv->kind == OB_SHAPE_SCALAR) {
        vfield = w->pb_type == T_COUNTER ? M_COUNTER : w->pb_type == T_GAUGE ? M_GAUGE : M_UNTYPED;
        ob_pb_double(v, VALUE, d[OB_SAMPLE_VALUE]);
        if (vfield == M_COUNTER && sv->n_exemplars && !field_exemplar(w, v, C_EXEMPLAR, sv, 0))
            return -ENOMEM;
        if (vfield == M_COUNTER && sv->created_ms > 0)
            field_timestamp(v, x, C_CREATED, sv->created_ms);
    } else if (sv->kind == OB_SHAPE_EXPHIST) {
        vfield = M_HISTOGRAM;
        if (!native_histogram(w, v, sv))
            return -ENOMEM;
    } else if (sv->kind == OB_SHAPE_HISTOGRAM) {
        vfield = M_HISTOGRAM;
        ob_pb_count(v, H_COUNT, H_COUNT_FLOAT, d[OB_SAMPLE_COUNT]);
        if (sv->has_sum)
            ob_pb_double(v, H_SUM, d[OB_SAMPLE_SUM]);
        for (uint32_t i = 0; i < sv->n; i++) {
            x->len = 0;
            ob_pb_count(x, B_COUNT, B_COUNT_FLOAT, d[OB_SAMPLE_POINT0 + i]);
            ob_pb_double(x, B_BOUND, sv->points[i]);
            if (sv->n_exemplars && !field_exemplar(w, x, B_EXEMPLAR, sv, i))
                return -ENOMEM;
            ob_pb_bytes(v, H_BUCKET, x->data, x->len);
        }
        /* The +Inf bucket is left out (the count says it) unless it has an
         * exemplar to carry, as client_golang does. */
        struct ob_exemplar_view inf;
        if (sv->n_exemplars > sv->n && ob_series_exemplar(sv, sv->n, &inf)) {
            x->len = 0;
            ob_pb_count(x, B_COUNT, B_COUNT_FLOAT, d[OB_SAMPLE_POINT0 + sv->n]);
            ob_pb_double(x, B_BOUND, INFINITY);
            if (!field_exemplar(w, x, B_EXEMPLAR, sv, sv->n))
                return -ENOMEM;
            ob_pb_bytes(v, H_BUCKET, x->data, x->len);
        }
        if (sv->created_ms > 0)
            field_timestamp(v, x, H_CREATED, sv->created_ms);
    } else {
        vfield = M_SUMMARY;
        double count = d[OB_SAMPLE_COUNT]; /* no float field here */
        ob_pb_uint(v, S_COUNT, count > 0 && count < 18446744073709551616.0 ? (uint64_t)count : 0);
        ob_pb_double(v, S_SUM, d[OB_SAMPLE_SUM]);
        for (uint32_t i = 0; i < sv->n; i++) {
            x->len = 0;
            ob_pb_double(x, Q_QUANTILE, sv->points[i]);
            ob_pb_double(x, Q_VALUE, d[OB_SAMPLE_POINT0 + i]);
            ob_pb_bytes(v, S_QUANTILE, x->data, x->len);
        }
        if (sv->created_ms > 0)
            field_timestamp(v, x, S_CREATED, sv->created_ms);
    }
    if (v->failed || x->failed)
        return -ENOMEM;

    size_t mlen = 1 + ob_pb_varint_len(v->len) + v->len;
    for (long i = 0; i < n_pairs; i++) {
        size_t pl = pair_len(&pairs[i]);
        mlen += 1 + ob_pb_varint_len(pl) + pl;
    }
    if (w->timestamps)
        mlen += 1 + ob_pb_varint_len((uint64_t)sv->ts_ms);
    struct ob_buf *f = &w->pb_family;
    if (!ob_buf_reserve(f, 1 + ob_pb_varint_len(mlen) + mlen))
        return -ENOMEM;
    char *p = f->data + f->len;
    *p++ = (char)(MF_METRIC << 3 | OB_PB_LEN);
    p = ob_pb_put_varint(p, mlen);
    for (long i = 0; i < n_pairs; i++) {
        *p++ = (char)(M_LABEL << 3 | OB_PB_LEN);
        p = ob_pb_put_varint(p, pair_len(&pairs[i]));
        p = put_bytes(p, LP_NAME, pairs[i].name, pairs[i].name_len);
        p = put_bytes(p, LP_VALUE, pairs[i].value, pairs[i].value_len);
    }
    p = put_bytes(p, vfield, v->data, v->len);
    if (w->timestamps) {
        *p++ = (char)(M_TIMESTAMP_MS << 3 | OB_PB_VARINT);
        p = ob_pb_put_varint(p, (uint64_t)sv->ts_ms);
    }
    f->len = (size_t)(p - f->data);
    return 0;
}
