/* ob_expose.c: the /metrics writer (Prometheus text format 0.0.4).
 *
 * The store hands us families in creation order and, per family, series
 * views whose label block is already rendered and escaped, so a line is a
 * handful of memcpy()s plus one number.  Every line is written straight into
 * the output buffer after one reserve of an upper bound; nothing on the hot
 * path goes through printf.  Number formatting dominates the cost, so
 * ob_format_double() has exact fast paths for integers and for decimals of
 * up to 15 significant digits and only falls back to snprintf/strtod for the
 * rest (16-17 digit values, huge integers, tiny numbers).
 */
#include "ob_expose.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_float.h"

/* ---- numbers ------------------------------------------------------------- */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, 0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Powers of ten that are exact doubles (10^22 is the last one). */
static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A decimal 0.d[0]d[1]...d[nd-1] * 10^dp, the way Go's ftoa keeps it. */
struct digits {
    char d[24];
    int nd;
    int dp;
};

/* m's digits as 0.ddd * 10^dp with m = ddd * 10^(ndigits - frac). */
static void digits_from_u64(struct digits *ds, uint64_t m, int frac)
{
    char *end = put_u64(ds->d, m);
    int n = (int)(end - ds->d);
    ds->dp = n - frac;
    while (n > 1 && ds->d[n - 1] == '0')
        n--;
    ds->nd = n;
}

/* Shortest round-trip digits the plain way (ob_float.c), for what the fast
 * paths below do not cover. */
static void digits_slow(double v, struct digits *ds)
{
    int e;
    ds->nd = ob_shortest_digits(v, ds->d, &e);
    ds->dp = e + 1;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* Whether the decimal m * 10^-k reads back as v = M * 2^E, all scaled by
 * 2^(2-s) where X = v * 10^k = N * 2^s, N = M * 5^k: X is 4N, m is m << sh,
 * and the half gaps to the neighbouring doubles are 2 * 5^k (only 5^k below
 * a power of two, where the doubles below are twice as dense).  A decimal
 * exactly on the boundary reads back as v when M is even (ties to even). */
struct exact_scale {
    u128 x4;       /* 4N */
    u128 half_up;  /* upper half gap */
    u128 half_low; /* lower half gap */
    int sh;        /* 2 - s */
    bool even;
};

static bool reads_back(const struct exact_scale *es, uint64_t m)
{
    u128 mm = (u128)m << es->sh;
    if (mm >= es->x4)
        return mm - es->x4 < es->half_up || (mm - es->x4 == es->half_up && es->even);
    return es->x4 - mm < es->half_low || (es->x4 - mm == es->half_low && es->even);
}

static bool exact_scale_init(struct exact_scale *es, double v, int k)
{
    static const uint64_t pow5[23] = {
        1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull,
        1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull,
        30517578125ull, 152587890625ull, 762939453125ull, 3814697265625ull,
        19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull,
    };
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t frac = bits & ((1ull << 52) - 1);
    int be = (int)(bits >> 52) & 0x7ff;
    if (be == 0 || k > 22) /* subnormal: not on this path */
        return false;
    uint64_t mant = frac | (1ull << 52);
    int s = k + be - 1075;
    if (s > 2 || 2 - s > 64) /* m << sh must stay below 2^128 (m < 2^57) */
        return false;
    es->sh = 2 - s;
    es->x4 = (u128)mant * pow5[k] * 4;
    es->half_up = (u128)pow5[k] * 2;
    es->half_low = frac == 0 && be > 1 ? (u128)pow5[k] : es->half_up;
    es->even = (mant & 1) == 0;
    return true;
}

/* Shortest digits of a normal, non-integer v by exact integer arithmetic.
 * With k chosen so that X = v * 10^k is in [1e15, 1e16), the decimals that
 * read back as v are the integers m (meaning m * 10^-k) in an interval
 * around X narrower than 2.3 (a double carries more than 15.9 digits):
 *   - one of <= 15 significant digits would be a multiple of 10 there, and
 *     only one multiple of 10 fits: trailing zeros stripped, it is the
 *     shortest form;
 *   - else a 16-digit one is the floor or the ceiling of X (the interval is
 *     contiguous and contains X); of two, the closer, ties to even, which is
 *     what Go's Ryu picks;
 *   - else the correctly rounded 17-digit decimal, which always reads back.
 * False when 10^k or 10^(k+1) is not an exact double (v < ~1e-7) or the
 * numbers would not fit in 128 bits. */
static bool digits_exact(double v, struct digits *ds)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e2 = (int)((bits >> 52) & 0x7ff) - 1023;
    /* floor(log10(2^e2)) <= floor(log10(v)) <= that + 1 */
    int k = 15 - (int)floor(e2 * 0.30102999566398120);
    struct exact_scale es;
    if (k < 0 || !exact_scale_init(&es, v, k))
        return false;
    uint64_t q = (uint64_t)(es.x4 >> es.sh);
    if (q >= 10000000000000000ull && k > 0 && exact_scale_init(&es, v, --k))
        q = (uint64_t)(es.x4 >> es.sh);
    if (q < 1000000000000000ull || q >= 10000000000000000ull)
        return false; /* not expected; the slow path is always right */

    uint64_t t = q - q % 10;
    if (reads_back(&es, t) || reads_back(&es, t += 10)) {
        digits_from_u64(ds, t, k);
        return true;
    }
    bool a = reads_back(&es, q), b = reads_back(&es, q + 1);
    if (a && b) {
        u128 da = es.x4 - ((u128)q << es.sh), db = ((u128)(q + 1) << es.sh) - es.x4;
        b = db < da || (db == da && (q & 1));
        a = !b;
    }
    if (a || b) {
        digits_from_u64(ds, a ? q : q + 1, k);
        return true;
    }
    if (!exact_scale_init(&es, v, ++k))
        return false;
    uint64_t m = (uint64_t)(es.x4 >> es.sh);
    if (es.sh > 0) { /* round half to even */
        u128 rem = es.x4 - ((u128)m << es.sh), half = (u128)1 << (es.sh - 1);
        if (rem > half || (rem == half && (m & 1)))
            m++;
    }
    digits_from_u64(ds, m, k);
    return true;
}
#else
static bool digits_exact(double v, struct digits *ds)
{
    OB_UNUSED(v);
    OB_UNUSED(ds);
    return false; /* no 128-bit integers: the snprintf path finds them */
}
#endif

/* Shortest round-trip digits of a finite v > 0. */
static void shortest_digits(double v, struct digits *ds)
{
    if (v < 9007199254740992.0) { /* 2^53: every integer below is exact */
        uint64_t i = (uint64_t)v;
        if ((double)i == v) {
            /* Any other decimal with fewer digits is >= 1 away, and the
             * neighbouring doubles are at most 1 away: the integer itself is
             * the shortest form. */
            digits_from_u64(ds, i, 0);
            return;
        }
        /* Quick exit for decimals with few fractional digits (12.5, 3.14):
         * m and 10^k are exact doubles, so m / 10^k is correctly rounded,
         * i.e. exactly what strtod("m e-k") returns, and the fewest
         * fractional digits means the fewest significant digits. */
        for (int k = 1; k <= 3; k++) {
            double x = v * pow10_exact[k];
            if (x >= 1e15)
                break;
            uint64_t m = (uint64_t)(x + 0.5);
            if ((double)m / pow10_exact[k] == v) {
                digits_from_u64(ds, m, k);
                return;
            }
        }
        if (v >= DBL_MIN && digits_exact(v, ds))
            return;
    }
    digits_slow(v, ds);
}

/* Go's strconv 'g' layout for shortest digits: %e when the decimal exponent
 * is < -4 or >= 6 (eprec is 6 when the precision is "shortest"), else %f. */
static char *layout_g(char *p, const struct digits *ds)
{
    int exp = ds->dp - 1;
    int nd = ds->nd;
    if (exp < -4 || exp >= 6) {
        *p++ = ds->d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, ds->d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        if (exp < 0) {
            *p++ = '-';
            exp = -exp;
        } else {
            *p++ = '+';
        }
        if (exp >= 100) {
            *p++ = (char)('0' + exp / 100);
            exp %= 100;
        }
        memcpy(p, digit_pairs + 2 * exp, 2);
        return p + 2;
    }
    if (ds->dp <= 0) {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-ds->dp);
        p += -ds->dp;
        memcpy(p, ds->d, (size_t)nd);
        return p + nd;
    }
    if (ds->dp >= nd) {
        memcpy(p, ds->d, (size_t)nd);
        p += nd;
        memset(p, '0', (size_t)(ds->dp - nd));
        return p + (ds->dp - nd);
    }
    memcpy(p, ds->d, (size_t)ds->dp);
    p += ds->dp;
    *p++ = '.';
    memcpy(p, ds->d + ds->dp, (size_t)(nd - ds->dp));
    return p + (nd - ds->dp);
}

size_t ob_format_double(double v, char buf[32])
{
    char *p = buf;
    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (v == 0) { /* also -0: expfmt writes "0" for f == 0 */
        memcpy(buf, "0", 2);
        return 1;
    }
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    /* The common case: a count or an integral gauge, printed as is. */
    if (v < 1e6) {
        uint64_t i = (uint64_t)v;
        if ((double)i == v) {
            p = put_u64(p, i);
            *p = '\0';
            return (size_t)(p - buf);
        }
    }
    struct digits ds;
    shortest_digits(v, &ds);
    p = layout_g(p, &ds);
    *p = '\0';
    return (size_t)(p - buf);
}

/* ---- escaping ------------------------------------------------------------ */

/* HELP text: \\ and \n (label values are escaped by ob_labels). */
void ob_escape_help(struct ob_buf *out, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' && s[i] != '\n')
            continue;
        ob_buf_append(out, s + start, i - start);
        ob_buf_append(out, s[i] == '\n' ? "\\n" : "\\\\", 2);
        start = i + 1;
    }
    ob_buf_append(out, s + start, len - start);
}

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
}

static const char *type_name(enum ob_family_type t)
{
    switch (t) {
    case OB_FAMILY_GAUGE:
        return "gauge";
    case OB_FAMILY_COUNTER:
        return "counter";
    case OB_FAMILY_HISTOGRAM:
        return "histogram";
    case OB_FAMILY_SUMMARY:
        return "summary";
    case OB_FAMILY_UNKNOWN:
    case OB_FAMILY__COUNT:
        break;
    }
    return "untyped";
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
    if (!ob_buf_reserve(&w->names, 4 * n + 17))
        return -ENOMEM;
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
    static const char *const suffix[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < OB_ARRAY_LEN(suffix); i++) {
        ob_buf_append(&w->names, w->names.data, n);
        ob_buf_puts(&w->names, suffix[i]);
    }
    if (w->names.failed)
        return -ENOMEM;
    w->name_len = (uint32_t)n;
    const char *name = w->names.data;

    if (f->help_len) {
        put_meta_name(w, "# HELP ", name, n);
        ob_escape_help(out, f->help, f->help_len);
        ob_buf_putc(out, '\n');
    }
    put_meta_name(w, "# TYPE ", name, n);
    ob_buf_puts(out, type_name(f->type));
    ob_buf_putc(out, '\n');
    return out->failed ? -ENOMEM : 0;
}

/* The extra label of a bucket or quantile line: le="0.5" or quantile="0.9". */
struct extra_label {
    const char *prefix; /* `le="` or `quantile="`; NULL = none */
    size_t prefix_len;
    const char *text;
    size_t text_len;
};

/* {"name",labels,extra} value[ ts]\n: a UTF-8 name for a scraper that takes it. */
static int put_quoted_line(struct ob_expose_writer *w, const char *name, size_t name_len,
                           const struct ob_series_view *sv, const struct extra_label *x, double v)
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
    if (w->timestamps)
        ob_buf_printf(out, " %lld", (long long)sv->ts_ms);
    ob_buf_putc(out, '\n');
    return out->failed ? -ENOMEM : 0;
}

/* Appends name{labels,extra} value[ ts]\n with one reserve. */
static int put_line(struct ob_expose_writer *w, const char *name, size_t name_len,
                    const struct ob_series_view *sv, const struct extra_label *x, double v)
{
    if (OB_UNLIKELY(w->quote_name))
        return put_quoted_line(w, name, name_len, sv, x, v);
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
        p = put_i64(p, sv->ts_ms);
    }
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
    return 0;
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
    const char *names = w->names.data;
    size_t n = w->name_len;
    const char *name = names, *bucket = names + n, *sum = names + 2 * n + 7,
               *count = names + 3 * n + 11;
    const double *v = sv->values;
    int rc;

    if (OB_LIKELY(sv->kind == OB_SHAPE_SCALAR))
        return put_line(w, name, n, sv, NULL, v[0]);

    /* The sample layout: ob_store_layout.h, "samples". */
    bool hist = sv->kind == OB_SHAPE_HISTOGRAM;
    struct extra_label x = hist ? (struct extra_label){"le=\"", 4, NULL, 0}
                                : (struct extra_label){"quantile=\"", 10, NULL, 0};
    const char *text = point_texts(w, sv);
    if (!text)
        return -ENOMEM;
    for (uint32_t i = 0; i < sv->n; i++) {
        x.text = text;
        x.text_len = strlen(text);
        text += x.text_len + 1;
        double vi = v[OB_SAMPLE_POINT0 + i];
        rc = hist ? put_line(w, bucket, n + 7, sv, &x, vi) : put_line(w, name, n, sv, &x, vi);
        if (rc)
            return rc;
    }
    if (hist) {
        /* +Inf carries the count, so _bucket{le="+Inf"} and _count agree. */
        x.text = "+Inf";
        x.text_len = 4;
        if ((rc = put_line(w, bucket, n + 7, sv, &x, v[OB_SAMPLE_POINT0 + sv->n])))
            return rc;
    }
    if ((!hist || sv->has_sum) && (rc = put_line(w, sum, n + 4, sv, NULL, v[OB_SAMPLE_SUM])))
        return rc;
    return put_line(w, count, n + 6, sv, NULL, v[OB_SAMPLE_COUNT]);
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
    int rc = ob_store_scan(s, now_ms, on_family, on_series, &w);
    ob_expose_writer_fini(&w);
    if (rc == 0 && out->failed)
        rc = -ENOMEM;
    return rc;
}
