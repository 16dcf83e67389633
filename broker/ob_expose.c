/* ob_expose.c: the /metrics writer (Prometheus text format 0.0.4).
 *
 * The store hands us families in creation order and, per family, series
 * views whose label block is already rendered and escaped, so a line is a
 * handful of memcpy()s plus one number.  Every line is written straight into
 * the output buffer after one reserve of an upper bound; nothing on the hot
 * path goes through printf.  Number formatting dominates the cost: that is
 * ob_format_double() (ob_float.c), with its fast paths for the common values.
 */
#include "ob_expose.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob_exphist.h"
#include "ob_float.h"
#include "ob_prom_series.h"

/* ---- escaping ------------------------------------------------------------ */

/* ---- the writer ---------------------------------------------------------- */

/* Bytes a line needs besides its name, label block and extra label text:
 * braces, comma, `quantile="`, closing quote, spaces, a number (< 32), a
 * timestamp (<= 20) and the newline, rounded up. */
#define LINE_SLACK 96

void ob_expose_writer_init(struct ob_expose_writer *w, const struct ob_expose_opts *o,
                           struct ob_buf *out)
{
    w->out = out;
    w->timestamps = o && o->timestamps;
    w->utf8 = o && o->utf8;
    w->openmetrics = o && o->openmetrics;
    w->protobuf = o && o->protobuf;
    w->pb_open = false;
    w->pb_type = 0;
    ob_buf_init(&w->pb_family);
    ob_buf_init(&w->pb_pairs);
    ob_buf_init(&w->pb_value);
    ob_buf_init(&w->pb_pair);
    ob_buf_init(&w->pb_text);
    ob_buf_init(&w->pb_ex);
    ob_buf_init(&w->pb_ex_pair);
    ob_buf_init(&w->pb_ex_text);
    ob_buf_init(&w->ex_labels);
    ob_buf_init(&w->pb_spans);
    ob_buf_init(&w->exp_bounds);
    ob_buf_init(&w->exp_values);
    ob_buf_init(&w->exp_scratch);
    w->exp_max_buckets = o && o->exponential_max_buckets ? o->exponential_max_buckets : 40;
    w->quote_name = false;
    ob_buf_init(&w->names);
    ob_buf_init(&w->labels);
    ob_buf_init(&w->point_text);
    ob_buf_init(&w->points);
    w->name_len = 0;
    w->n_points = 0;
}

void ob_expose_writer_fini(struct ob_expose_writer *w)
{
    if (!w)
        return;
    ob_buf_fini(&w->names);
    ob_buf_fini(&w->labels);
    ob_buf_fini(&w->point_text);
    ob_buf_fini(&w->points);
    ob_buf_fini(&w->pb_family);
    ob_buf_fini(&w->pb_pairs);
    ob_buf_fini(&w->pb_value);
    ob_buf_fini(&w->pb_pair);
    ob_buf_fini(&w->pb_text);
    ob_buf_fini(&w->pb_ex);
    ob_buf_fini(&w->pb_ex_pair);
    ob_buf_fini(&w->pb_ex_text);
    ob_buf_fini(&w->ex_labels);
    ob_buf_fini(&w->pb_spans);
    ob_buf_fini(&w->exp_bounds);
    ob_buf_fini(&w->exp_values);
    ob_buf_fini(&w->exp_scratch);
}

int ob_expose_flush(struct ob_expose_writer *w)
{
    return w->protobuf ? ob_expose_pb_flush(w) : 0;
}

bool ob_expose_exemplar(struct ob_expose_writer *w, const struct ob_series_view *sv, uint32_t i,
                        struct ob_exemplar_view *out)
{
    if (!ob_series_exemplar(sv, i, out))
        return false;
    if (out->labels_len && out->labels[0] == OB_LABELS_QUOTED) {
        if (w->utf8) {
            out->labels++;
            out->labels_len--;
        } else {
            ob_labels_legacy(&w->ex_labels, out->labels, out->labels_len);
            if (w->ex_labels.failed) {
                w->ex_labels.failed = false;
                return false;
            }
            out->labels = w->ex_labels.data;
            out->labels_len = (uint32_t)w->ex_labels.len;
        }
    }
    return true;
}

/* TYPE words of text 0.0.4 (OpenMetrics says "unknown" for untyped). */
static const char *const type_names[OB_FAMILY__COUNT] = {
    [OB_FAMILY_UNKNOWN] = "untyped", [OB_FAMILY_GAUGE] = "gauge",
    [OB_FAMILY_COUNTER] = "counter", [OB_FAMILY_HISTOGRAM] = "histogram",
    [OB_FAMILY_SUMMARY] = "summary",
};

static const char *type_name(enum ob_family_type t)
{
    return (unsigned)t < OB_FAMILY__COUNT ? type_names[t] : "untyped";
}

/* "# HELP name " or "# TYPE name ", the name quoted when it must be. */
static void put_meta_name(struct ob_expose_writer *w, const char *what, const char *name, size_t n)
{
    ob_buf_puts(w->out, what);
    if (w->quote_name) {
        ob_buf_putc(w->out, '"');
        ob_escape_label_value(w->out, name, n);
        ob_buf_putc(w->out, '"');
    } else {
        ob_buf_append(w->out, name, n);
    }
    ob_buf_putc(w->out, ' ');
}

int ob_expose_family(struct ob_expose_writer *w, const struct ob_family_view *f)
{
    struct ob_buf *out = w->out;
    size_t n = f->name_len;

    /* name, name_bucket, name_sum, name_count: copied because the view is
     * only promised for the callback, and rendered once for all series. */
    w->names.len = 0;
    w->name_len = 0;
    if (!ob_buf_reserve(&w->names, 6 * n + 31))
        return -ENOMEM;
    w->type = f->type;
    /* A name that is not legacy is quoted for a UTF-8 scraper (and then
     * written inside the braces), escaped with underscores for any other. */
    bool legacy = ob_legacy_metric_name(f->name, n);
    w->quote_name = !legacy && w->utf8;
    if (!legacy && !w->utf8) {
        ob_escape_underscores(&w->names, f->name, n, true, false);
        n = w->names.len;
    } else {
        ob_buf_append(&w->names, f->name, n);
    }
    /* Copies from its own buffer: safe, the reserve above already holds
     * all four names (escaping never makes a name longer). */
    static const char *const suffix[] = {"_bucket", "_sum", "_count", "_total"};
    for (size_t i = 0; i < OB_ARRAY_LEN(suffix); i++) {
        ob_buf_append(&w->names, w->names.data, n);
        ob_buf_puts(&w->names, suffix[i]);
    }
    if (w->names.failed)
        return -ENOMEM;
    w->name_len = (uint32_t)n;
    if (w->protobuf)
        return ob_expose_pb_family(w, f, w->names.data, n);
    w->meta_len = (uint32_t)n;
    w->plain_off = 0;
    w->plain_len = (uint32_t)n;
    const char *name = w->names.data;
    /* OpenMetrics: a counter family is `x`, its sample `x_total`. */
    if (w->openmetrics && f->type == OB_FAMILY_COUNTER) {
        if (n > 6 && memcmp(name + n - 6, "_total", 6) == 0) {
            w->meta_len = (uint32_t)(n - 6);
        } else {
            w->plain_off = (uint32_t)(4 * n + 17); /* name_total */
            w->plain_len = (uint32_t)(n + 6);
        }
    }
    /* and x_created, from the family's name without _total (the reserve
     * above holds it too) */
    w->created_off = (uint32_t)w->names.len;
    w->created_len = w->meta_len + 8;
    ob_buf_append(&w->names, w->names.data, w->meta_len);
    ob_buf_puts(&w->names, "_created");
    name = w->names.data;

    if (f->help_len) {
        put_meta_name(w, "# HELP ", name, w->meta_len);
        if (w->openmetrics)
            ob_escape_label_value(out, f->help, f->help_len); /* \\ \n and \" */
        else
            ob_escape_help(out, f->help, f->help_len);
        ob_buf_putc(out, '\n');
    }
    put_meta_name(w, "# TYPE ", name, w->meta_len);
    ob_buf_puts(out, f->type == OB_FAMILY_UNKNOWN && w->openmetrics ? "unknown" : type_name(f->type));
    ob_buf_putc(out, '\n');
    /* OpenMetrics: UNIT only where the name ends with it, as it must. */
    size_t u = f->unit_len, m = w->meta_len;
    if (w->openmetrics && u && m > u + 1 && name[m - u - 1] == '_' &&
        memcmp(name + m - u, f->unit, u) == 0) {
        put_meta_name(w, "# UNIT ", name, m);
        ob_buf_append(out, f->unit, u);
        ob_buf_putc(out, '\n');
    }
    return out->failed ? -ENOMEM : 0;
}

/* The extra label of a bucket or quantile line: le="0.5" or quantile="0.9". */
struct extra_label {
    const char *prefix; /* `le="` or `quantile="`; NULL = none */
    size_t prefix_len;
    const char *text;
    size_t text_len;
};

/* A sample timestamp: ms (text) or seconds with 3 decimals (OpenMetrics). */
static char *put_ts(const struct ob_expose_writer *w, char *p, int64_t ms)
{
    if (!w->openmetrics)
        return ob_put_i64(p, ms);
    if (ms < 0) {
        *p++ = '-';
        ms = -ms;
    }
    p = ob_put_i64(p, ms / 1000);
    int frac = (int)(ms % 1000);
    *p++ = '.';
    *p++ = (char)('0' + frac / 100);
    *p++ = (char)('0' + frac / 10 % 10);
    *p++ = (char)('0' + frac % 10);
    return p;
}

/* OpenMetrics: ` # {labels} value ts` after a sample's value. */
static void put_exemplar(struct ob_expose_writer *w, const struct ob_exemplar_view *ex)
{
    struct ob_buf *out = w->out;
    char num[48];
    ob_buf_append(out, " # {", 4);
    ob_buf_append(out, ex->labels, ex->labels_len);
    ob_buf_append(out, "} ", 2);
    ob_buf_append(out, num, ob_format_double(ex->value, num));
    num[0] = ' ';
    ob_buf_append(out, num, (size_t)(put_ts(w, num + 1, ex->ts_ms) - num));
}

/* {"name",labels,extra} value[ ts][ exemplar]\n: a UTF-8 name for a
 * scraper that takes it. */
static int put_quoted_line(struct ob_expose_writer *w, const char *name, size_t name_len,
                           const struct ob_series_view *sv, const struct extra_label *x, double v,
                           const struct ob_exemplar_view *ex)
{
    struct ob_buf *out = w->out;
    char num[32];
    ob_buf_append(out, "{\"", 2);
    ob_escape_label_value(out, name, name_len);
    ob_buf_putc(out, '"');
    if (sv->labels_len) {
        ob_buf_putc(out, ',');
        ob_buf_append(out, sv->labels, sv->labels_len);
    }
    if (x) {
        ob_buf_putc(out, ',');
        ob_buf_append(out, x->prefix, x->prefix_len);
        ob_buf_append(out, x->text, x->text_len);
        ob_buf_putc(out, '"');
    }
    ob_buf_append(out, "} ", 2);
    ob_buf_append(out, num, ob_format_double(v, num));
    if (w->timestamps) {
        char ts[32] = {' '};
        ob_buf_append(out, ts, (size_t)(put_ts(w, ts + 1, sv->ts_ms) - ts));
    }
    if (ex)
        put_exemplar(w, ex);
    ob_buf_putc(out, '\n');
    return out->failed ? -ENOMEM : 0;
}

/* Appends name{labels,extra} value[ ts][ exemplar]\n, the sample with one
 * reserve. */
static int put_line(struct ob_expose_writer *w, const char *name, size_t name_len,
                    const struct ob_series_view *sv, const struct extra_label *x, double v,
                    const struct ob_exemplar_view *ex)
{
    if (OB_UNLIKELY(w->quote_name))
        return put_quoted_line(w, name, name_len, sv, x, v, ex);
    struct ob_buf *out = w->out;
    size_t need = name_len + sv->labels_len + LINE_SLACK + (x ? x->text_len : 0);
    if (OB_UNLIKELY(!ob_buf_reserve(out, need)))
        return -ENOMEM;
    char *p = out->data + out->len;
    memcpy(p, name, name_len);
    p += name_len;
    if (sv->labels_len || x) {
        *p++ = '{';
        memcpy(p, sv->labels, sv->labels_len);
        p += sv->labels_len;
        if (x) {
            if (sv->labels_len)
                *p++ = ',';
            memcpy(p, x->prefix, x->prefix_len);
            p += x->prefix_len;
            memcpy(p, x->text, x->text_len);
            p += x->text_len;
            *p++ = '"';
        }
        *p++ = '}';
    }
    *p++ = ' ';
    p += ob_format_double(v, p);
    if (w->timestamps) {
        *p++ = ' ';
        p = put_ts(w, p, sv->ts_ms);
    }
    if (OB_UNLIKELY(ex)) {
        out->len = (size_t)(p - out->data);
        put_exemplar(w, ex);
        ob_buf_putc(out, '\n');
        return out->failed ? -ENOMEM : 0;
    }
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
    return 0;
}

/* OpenMetrics: name_created{labels} <start time in seconds> for counters,
 * histograms and summaries whose start time is known. */
static int created_line(struct ob_expose_writer *w, const struct ob_series_view *sv)
{
    if (!w->openmetrics || sv->created_ms <= 0 ||
        (w->type != OB_FAMILY_COUNTER && w->type != OB_FAMILY_HISTOGRAM &&
         w->type != OB_FAMILY_SUMMARY))
        return 0;
    return put_line(w, w->names.data + w->created_off, w->created_len, sv, NULL,
                    (double)sv->created_ms / 1000.0, NULL);
}

/* The le / quantile texts of sv's bounds, NUL-terminated back to back, in
 * the fixed layout Prometheus' OTLP translation gives them; NULL without
 * memory.  Formatted again only when the bounds differ from the last. */
static const char *point_texts(struct ob_expose_writer *w, const struct ob_series_view *sv)
{
    size_t bytes = 8u * sv->n;
    if (w->n_points == sv->n && w->points.len == bytes &&
        (bytes == 0 || memcmp(w->points.data, sv->points, bytes) == 0))
        return w->point_text.data ? w->point_text.data : "";
    w->n_points = 0;
    w->points.len = 0;
    w->point_text.len = 0;
    ob_buf_append(&w->points, sv->points, bytes);
    for (uint32_t i = 0; i < sv->n; i++) {
        if (!ob_buf_reserve(&w->point_text, OB_FIXED_LEN + 1))
            break;
        char *p = w->point_text.data + w->point_text.len;
        w->point_text.len += ob_format_double_fixed(sv->points[i], p) + 1;
    }
    if (w->points.failed || w->point_text.failed) {
        w->points.failed = w->point_text.failed = false;
        w->points.len = 0;
        return NULL;
    }
    w->n_points = sv->n;
    return w->point_text.data ? w->point_text.data : "";
}

/* Text and OpenMetrics cannot carry native histograms: an exponential
 * histogram becomes a classic one (ob_exphist_classic: exact bounds base^k,
 * at most exp_max_buckets of them) in the writer's buffers, with the same
 * count, sum and created time; its exemplar is not carried over. */
static bool classic_view(struct ob_expose_writer *w, const struct ob_series_view *sv,
                         struct ob_series_view *out)
{
    uint32_t max = w->exp_max_buckets;
    w->exp_bounds.len = w->exp_values.len = w->exp_scratch.len = 0;
    if (!ob_buf_reserve(&w->exp_bounds, 8u * max) || !ob_buf_reserve(&w->exp_values, 8u * ((size_t)max + 3)) ||
        !ob_buf_reserve(&w->exp_scratch, 8u * ((size_t)sv->n + 1)))
        return false;
    double *bounds = (double *)(void *)w->exp_bounds.data;
    double *v = (double *)(void *)w->exp_values.data;
    int k = ob_exphist_classic_sample(sv->values, sv->n, max, bounds, v, (double *)(void *)w->exp_scratch.data);
    if (k < 0)
        return false;
    *out = *sv;
    out->kind = OB_SHAPE_HISTOGRAM;
    out->n = (uint32_t)k;
    out->points = bounds;
    out->values = v;
    out->n_exemplars = 0;
    return true;
}

int ob_expose_series(struct ob_expose_writer *w, const struct ob_series_view *sv)
{
    struct ob_series_view quoted;
    if (OB_UNLIKELY(sv->labels_len && sv->labels[0] == OB_LABELS_QUOTED)) {
        quoted = *sv;
        if (w->utf8) {
            quoted.labels++;
            quoted.labels_len--;
        } else {
            ob_labels_legacy(&w->labels, sv->labels, sv->labels_len);
            if (w->labels.failed)
                return -ENOMEM;
            quoted.labels = w->labels.data;
            quoted.labels_len = (uint32_t)w->labels.len;
        }
        sv = &quoted;
    }
    if (w->protobuf)
        return ob_expose_pb_series(w, sv, sv->labels, sv->labels_len);
    struct ob_series_view classic;
    if (OB_UNLIKELY(sv->kind == OB_SHAPE_EXPHIST)) {
        if (!classic_view(w, sv, &classic))
            return -ENOMEM;
        sv = &classic;
    }
    const char *names = w->names.data;
    size_t n = w->name_len;
    /* OpenMetrics: exemplars on a counter's _total and a histogram's buckets. */
    bool exemplars = w->openmetrics && sv->n_exemplars &&
                     (w->type == OB_FAMILY_COUNTER || w->type == OB_FAMILY_HISTOGRAM);
    struct ob_exemplar_view ex;
    if (OB_LIKELY(sv->kind == OB_SHAPE_SCALAR)) {
        bool has_ex = exemplars && w->type == OB_FAMILY_COUNTER && ob_expose_exemplar(w, sv, 0, &ex);
        int rc = put_line(w, names + w->plain_off, w->plain_len, sv, NULL,
                          sv->values[OB_SAMPLE_VALUE], has_ex ? &ex : NULL);
        return rc ? rc : created_line(w, sv);
    }

    /* name, name_bucket, name_sum, name_count (see ob_expose_family) */
    const char *const variant[] = {names + w->plain_off, names + n, names + 2 * n + 7,
                                   names + 3 * n + 11};
    const size_t variant_len[] = {w->plain_len, n + 7, n + 4, n + 6};
    const char *text = point_texts(w, sv), *next_text = text;
    if (!text)
        return -ENOMEM;
    struct ob_prom_iter it;
    struct ob_prom_sample ps;
    ob_prom_iter_init(&it, sv);
    while (ob_prom_next(&it, &ps)) {
        /* OpenMetrics: a histogram's _count only with its _sum (the +Inf
         * bucket still says the count). */
        if (w->openmetrics && ps.suffix == OB_PROM_COUNT && sv->kind == OB_SHAPE_HISTOGRAM &&
            !sv->has_sum)
            continue;
        struct extra_label x, *xp = NULL;
        if (ps.extra != OB_PROM_NO_EXTRA) {
            x = ps.extra == OB_PROM_LE ? (struct extra_label){"le=\"", 4, NULL, 0}
                                       : (struct extra_label){"quantile=\"", 10, NULL, 0};
            if (ps.point < sv->n) { /* points come in order: walk the texts */
                x.text = next_text;
                x.text_len = strlen(next_text);
                next_text += x.text_len + 1;
            } else {
                x.text = "+Inf";
                x.text_len = 4;
            }
            xp = &x;
        }
        bool has_ex = exemplars && ps.suffix == OB_PROM_BUCKET &&
                      ob_expose_exemplar(w, sv, ps.point, &ex);
        int rc = put_line(w, variant[ps.suffix], variant_len[ps.suffix], sv, xp, ps.value,
                          has_ex ? &ex : NULL);
        if (rc)
            return rc;
    }
    return created_line(w, sv);
}

/* ---- the broker's own text, again ---------------------------------------- */

static enum ob_family_type type_of(const char *s, size_t n)
{
    for (int t = 0; t < OB_FAMILY__COUNT; t++)
        if (n == strlen(type_names[t]) && memcmp(s, type_names[t], n) == 0)
            return (enum ob_family_type)t;
    return OB_FAMILY_UNKNOWN;
}

int ob_expose_text(struct ob_expose_writer *w, const char *text, size_t len)
{
    struct ob_buf help;
    ob_buf_init(&help);
    int rc = 0;
    size_t help_name_len = 0;
    const char *help_name = NULL;
    for (const char *p = text, *end = text + len; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 7 && memcmp(p, "# HELP ", 7) == 0) {
            const char *name = p + 7, *sp = memchr(name, ' ', (size_t)(eol - name));
            if (!sp) {
                rc = -EINVAL;
                break;
            }
            help_name = name;
            help_name_len = (size_t)(sp - name);
            help.len = 0;
            ob_labels_unescape(&help, sp + 1, (size_t)(eol - sp - 1));
        } else if (n > 7 && memcmp(p, "# TYPE ", 7) == 0) {
            const char *name = p + 7, *sp = memchr(name, ' ', (size_t)(eol - name));
            if (!sp) {
                rc = -EINVAL;
                break;
            }
            size_t name_len = (size_t)(sp - name);
            bool helped = help_name && help_name_len == name_len &&
                          memcmp(help_name, name, name_len) == 0;
            struct ob_family_view f = {.name = name,
                                       .name_len = (uint32_t)name_len,
                                       .help = helped ? help.data : "",
                                       .help_len = helped ? (uint32_t)help.len : 0,
                                       .type = type_of(sp + 1, (size_t)(eol - sp - 1))};
            rc = ob_expose_family(w, &f);
            help_name = NULL;
        } else if (n > 0 && *p != '#') {
            /* name{labels} value: the labels are a label block as they are */
            const char *brace = memchr(p, '{', n), *sp;
            struct ob_series_view sv = {.kind = OB_SHAPE_SCALAR, .labels = "", .labels_len = 0};
            if (brace) {
                const char *close = memchr(brace, '}', (size_t)(eol - brace));
                if (!close) {
                    rc = -EINVAL;
                    break;
                }
                sv.labels = brace + 1;
                sv.labels_len = (uint32_t)(close - brace - 1);
                sp = close + 1;
            } else {
                sp = memchr(p, ' ', n);
            }
            if (!sp || sp >= eol || *sp != ' ') {
                rc = -EINVAL;
                break;
            }
            char num[64];
            size_t vl = OB_MIN((size_t)(eol - sp - 1), sizeof num - 1);
            memcpy(num, sp + 1, vl);
            num[vl] = '\0';
            char *rest;
            double v = strtod(num, &rest);
            if (rest == num || *rest != '\0') {
                rc = -EINVAL;
                break;
            }
            sv.values = &v;
            rc = ob_expose_series(w, &sv);
        }
        p = eol + 1;
    }
    ob_buf_fini(&help);
    if (rc == 0)
        rc = ob_expose_flush(w);
    if (rc == 0 && w->out->failed)
        rc = -ENOMEM;
    return rc;
}

static int on_family(void *ctx, const struct ob_family_view *f)
{
    return ob_expose_family(ctx, f);
}

static int on_series(void *ctx, const struct ob_series_view *sv)
{
    return ob_expose_series(ctx, sv);
}

int ob_expose_store(struct ob_store *s, const struct ob_expose_opts *o, int64_t now_ms,
                    struct ob_buf *out)
{
    struct ob_expose_writer w;
    ob_expose_writer_init(&w, o, out);
    /* Text 0.0.4 has no exemplars: they are not even copied for it. */
    unsigned flags = o && (o->openmetrics || o->protobuf) ? OB_SCAN_EXEMPLARS : 0;
    int rc = ob_store_scan(s, now_ms, flags, on_family, on_series, &w);
    if (rc == 0)
        rc = ob_expose_flush(&w);
    ob_expose_writer_fini(&w);
    if (rc == 0 && out->failed)
        rc = -ENOMEM;
    return rc;
}
