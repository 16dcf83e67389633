/* rwsink: a Prometheus remote-write receiver for the tests and benchmarks of
 * the broker's remote-write sender.  It listens on 127.0.0.1 only, takes
 * POSTs of remote write 1.0 (prometheus.WriteRequest) and 2.0
 * (io.prometheus.write.v2.Request), checks the headers the specifications
 * require, decodes the snappy-compressed protobuf body and either appends
 * what it carried to a text file (--dump) or only counts it (--discard).
 * Faults (error codes, a request that is never answered) are injected on
 * demand.  The usage text below is the reference for the dump format; the
 * sender's tests are written against it.
 *
 * One thread per connection (libmicrohttpd's own): a hanging request blocks
 * only its connection, and a sender with several shards is decoded in
 * parallel.  The dump file is written under a lock, one request at a time,
 * and flushed after each. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <snappy-c.h>

#include "io/prometheus/write/v2/types.pb-c.h"
#include "ob_arena.h"
#include "ob_utf8.h"
#include "ob_buf.h"
#include "ob_float.h"
#include "prometheus/prompb/remote.pb-c.h"

/* Bodies past these are answered 413: far above any sane batch, low enough
 * that a broken sender cannot make the sink swap. */
#define MAX_BODY (64u << 20)
#define MAX_RAW (512u << 20)
#define MAX_FAIL_NTH 32

/* The value Prometheus writes for a staleness marker (a NaN with this
 * payload, value.StaleNaN); told apart from other NaNs in the dump. */
#define STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

static void usage(FILE *f)
{
    fputs(
        "usage: rwsink [options]\n"
        "\n"
        "A Prometheus remote-write receiver on 127.0.0.1 for tests.  Any path takes\n"
        "POST; GET /-/stats answers the counters line (below).  Prints the port on\n"
        "stdout (one line) unless --port-file is given; SIGTERM or SIGINT stops it\n"
        "and prints the counters line on stdout.\n"
        "\n"
        "  --port N           listen on 127.0.0.1:N (default 0: a free port)\n"
        "  --port-file FILE   write the port to FILE (atomically, once listening)\n"
        "  --dump FILE        append what each request carried to FILE (format below)\n"
        "  --discard          count only, walking every field of the wire format\n"
        "                     without building messages (the default without --dump)\n"
        "  --status CODE      answer CODE to every request; >= 300: not decoded\n"
        "  --fail-nth N:CODE  answer CODE to the N-th POST (from 1) only, not decoded;\n"
        "                     repeatable\n"
        "  --hang             never answer a POST (the connection stays open)\n"
        "  --retry-after S    send Retry-After: S with 429 and 503 answers\n"
        "  -h, --help         this text\n"
        "\n"
        "Requests: Content-Encoding must be snappy (else 415).  Content-Type\n"
        "application/x-protobuf;proto=io.prometheus.write.v2.Request is 2.0;\n"
        "application/x-protobuf, with proto=prometheus.WriteRequest or none, or no\n"
        "Content-Type at all, is 1.0; anything else 415.  X-Prometheus-Remote-Write-Version\n"
        "must be 0.1.0 (1.0) or 2.0.0 (2.0) and User-Agent present, as both\n"
        "specifications require (else 400).  Bodies that are not snappy, do not\n"
        "decode or break the rules (1.0 and 2.0: __name__ present, label names\n"
        "sorted and unique; 2.0: symbols[0] is \"\", refs in range and paired, not\n"
        "both samples and histograms in one series) are answered 400 with the\n"
        "reason and counted as bad.  Success is 204 (or --status's 2xx); 2.0 answers\n"
        "carry X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written.\n"
        "\n"
        "Dump, per accepted request, in request order (a line per item):\n"
        "  # REQUEST <n> <v1|v2> series=S samples=F histograms=H exemplars=E metadata=M\n"
        "  # TYPE <name> <unknown|counter|gauge|histogram|gaugehistogram|summary|info|stateset>\n"
        "  # HELP <name> <help, \\ and newline escaped>      (when not empty)\n"
        "  # UNIT <name> <unit>                            (when not empty)\n"
        "  # CREATED <series> <ms>                         (2.0 created_timestamp, rc.3)\n"
        "  <series> <value> <ms>[ st=<ms>]                  (a float sample; st: 2.0 rc.4)\n"
        "  # HISTOGRAM <series> <ms> count=<n>|count_float=<x> sum=<x> schema=<s>\n"
        "      zero_threshold=<x> zero_count=<n>|zero_count_float=<x>\n"
        "      reset=<unknown|yes|no|gauge>[ neg=<off>:<len>,..][ nd=<d>,..][ nc=<x>,..]\n"
        "      [ pos=..][ pd=..][ pc=..][ custom=<x>,..][ st=<ms>]   (one line)\n"
        "  # EXEMPLAR <series> {<labels>} <value> <ms>\n"
        "<series> is name{l1=\"v1\",...}: __name__ first, then the other labels in the\n"
        "order sent (sorted by name), values escaped as in the text format (\\\\ \\\" \\n);\n"
        "just name when it has no other label.  Values as Prometheus prints them\n"
        "(shortest round trip, NaN, +Inf, -Inf), a staleness marker as StaleNaN.\n"
        "1.0 metadata lines come first, as sent; 2.0 metadata comes per series (type\n"
        "unspecified prints as unknown), its lines only when something is set and\n"
        "they differ from the previous series' in that request.  Only lines of\n"
        "float samples do not start with '#'.\n"
        "\n"
        "Counters line: requests=N ok=N bad=N injected=N series=N samples=N\n"
        "histograms=N exemplars=N metadata=N bytes=N raw_bytes=N (requests: POSTs\n"
        "received; bytes: compressed bodies, raw_bytes: after snappy).\n",
        f);
}

struct fail_nth {
    unsigned long long n;
    unsigned code;
};

static struct {
    const char *dump_path;
    FILE *dump;
    unsigned status;     /* 0: none */
    struct fail_nth fail[MAX_FAIL_NTH];
    size_t n_fail;
    bool hang;
    long retry_after;    /* < 0: none */
} opt = {.retry_after = -1};

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stopping;

static struct {
    atomic_ullong requests, ok, bad, injected, series, samples, histograms, exemplars, metadata,
        bytes, raw_bytes;
} stats;

static void stats_line(char *buf, size_t len)
{
    snprintf(buf, len,
             "requests=%llu ok=%llu bad=%llu injected=%llu series=%llu samples=%llu "
             "histograms=%llu exemplars=%llu metadata=%llu bytes=%llu raw_bytes=%llu\n",
             atomic_load(&stats.requests), atomic_load(&stats.ok), atomic_load(&stats.bad),
             atomic_load(&stats.injected), atomic_load(&stats.series),
             atomic_load(&stats.samples), atomic_load(&stats.histograms),
             atomic_load(&stats.exemplars), atomic_load(&stats.metadata),
             atomic_load(&stats.bytes), atomic_load(&stats.raw_bytes));
}

/* ---- text ---- */

/* A label as both versions can give it: v1 carries the strings, v2 indexes
 * into the request's symbols. */
struct label {
    const char *name, *value;
};

/* What one request counted, added to the totals only once it is accepted. */
struct counts {
    unsigned long long series, samples, histograms, exemplars, metadata;
};

/* Per-request scratch: the dump text, the current series' text, labels. */
struct req {
    struct ob_buf out, series;
    struct label *labels;
    size_t cap_labels;
    char err[256];
    struct counts n;
};

static bool fail(struct req *r, const char *fmt, ...) OB_PRINTF(2, 3);
static bool fail(struct req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return false;
}

static struct label *labels_room(struct req *r, size_t n)
{
    if (n > r->cap_labels) {
        struct label *l = realloc(r->labels, n * sizeof *l);
        if (!l)
            return NULL;
        r->labels = l;
        r->cap_labels = n;
    }
    return r->labels;
}

/* Label values and help text as the text exposition format escapes them. */
static void put_escaped(struct ob_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            ob_buf_puts(b, "\\\\");
        else if (*s == '\n')
            ob_buf_puts(b, "\\n");
        else if (quote && *s == '"')
            ob_buf_puts(b, "\\\"");
        else
            ob_buf_putc(b, *s);
    }
}

static void put_value(struct ob_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits == STALE_NAN_BITS) {
        ob_buf_puts(b, "StaleNaN");
        return;
    }
    char tmp[32];
    size_t n = ob_format_double(v, tmp);
    ob_buf_append(b, tmp, n);
}

/* {a="b",c="d"} of every label but skip (NULL: none). */
static void put_labels(struct ob_buf *b, const struct label *l, size_t n, const struct label *skip)
{
    ob_buf_putc(b, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (&l[i] == skip)
            continue;
        if (!first)
            ob_buf_putc(b, ',');
        first = false;
        ob_buf_puts(b, l[i].name);
        ob_buf_puts(b, "=\"");
        put_escaped(b, l[i].value, true);
        ob_buf_putc(b, '"');
    }
    ob_buf_putc(b, '}');
}

/* Checks a series' labels (the 1.0 specification's rules, which 2.0 keeps)
 * and writes its text into r->series.  Returns the __name__ label. */
static const struct label *series_text(struct req *r, const struct label *l, size_t n)
{
    const struct label *name = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!*l[i].name)
            return fail(r, "empty label name"), NULL;
        if (i && strcmp(l[i - 1].name, l[i].name) >= 0)
            return fail(r, "labels not sorted by name or repeated: %s before %s", l[i - 1].name,
                        l[i].name),
                   NULL;
        if (!ob_utf8_valid(l[i].name, strlen(l[i].name)) || !ob_utf8_valid(l[i].value, strlen(l[i].value)))
            return fail(r, "label %s: not valid UTF-8", l[i].name), NULL;
        if (!strcmp(l[i].name, "__name__"))
            name = &l[i];
    }
    if (!name || !*name->value)
        return fail(r, "series without __name__"), NULL;
    r->series.len = 0;
    ob_buf_puts(&r->series, name->value);
    if (n > 1)
        put_labels(&r->series, l, n, name);
    return name;
}

static void put_series(struct req *r)
{
    ob_buf_append(&r->out, r->series.data, r->series.len);
}

static void put_sample(struct req *r, double v, int64_t ts, int64_t st)
{
    put_series(r);
    ob_buf_putc(&r->out, ' ');
    put_value(&r->out, v);
    ob_buf_printf(&r->out, " %" PRId64, ts);
    if (st)
        ob_buf_printf(&r->out, " st=%" PRId64, st);
    ob_buf_putc(&r->out, '\n');
}

static const char *const type_names[] = {
    "unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset",
};

static void put_metadata(struct req *r, const char *name, int type, const char *help,
                         const char *unit)
{
    if (type >= 0 && (size_t)type < sizeof type_names / sizeof *type_names)
        ob_buf_printf(&r->out, "# TYPE %s %s\n", name, type_names[type]);
    else
        ob_buf_printf(&r->out, "# TYPE %s %d\n", name, type);
    if (*help) {
        ob_buf_printf(&r->out, "# HELP %s ", name);
        put_escaped(&r->out, help, false);
        ob_buf_putc(&r->out, '\n');
    }
    if (*unit)
        ob_buf_printf(&r->out, "# UNIT %s %s\n", name, unit);
}

/* ---- histograms: the two versions' messages have the same fields under
 * different C types, so only the text is shared ---- */

struct hist_head {
    bool float_count, float_zero;
    uint64_t count_int, zero_int;
    double count_float, zero_float, sum, zero_threshold;
    int32_t schema;
    int reset;
    int64_t ts;
};

static void put_hist_head(struct req *r, const struct hist_head *h)
{
    static const char *const resets[] = {"unknown", "yes", "no", "gauge"};
    struct ob_buf *b = &r->out;
    ob_buf_puts(b, "# HISTOGRAM ");
    put_series(r);
    ob_buf_printf(b, " %" PRId64, h->ts);
    if (h->float_count) {
        ob_buf_puts(b, " count_float=");
        put_value(b, h->count_float);
    } else {
        ob_buf_printf(b, " count=%" PRIu64, h->count_int);
    }
    ob_buf_puts(b, " sum=");
    put_value(b, h->sum);
    ob_buf_printf(b, " schema=%" PRId32 " zero_threshold=", h->schema);
    put_value(b, h->zero_threshold);
    if (h->float_zero) {
        ob_buf_puts(b, " zero_count_float=");
        put_value(b, h->zero_float);
    } else {
        ob_buf_printf(b, " zero_count=%" PRIu64, h->zero_int);
    }
    if (h->reset >= 0 && h->reset < 4)
        ob_buf_printf(b, " reset=%s", resets[h->reset]);
    else
        ob_buf_printf(b, " reset=%d", h->reset);
}

/* The i-th span of a list: " key=off:len" for the first, ",off:len" after. */
static void put_span(struct ob_buf *b, const char *key, size_t i, int32_t off, uint32_t len)
{
    if (!i)
        ob_buf_printf(b, " %s=", key);
    else
        ob_buf_putc(b, ',');
    ob_buf_printf(b, "%" PRId32 ":%" PRIu32, off, len);
}

static void put_i64s(struct ob_buf *b, const char *key, const int64_t *v, size_t n)
{
    if (!n)
        return;
    ob_buf_printf(b, " %s=", key);
    for (size_t i = 0; i < n; i++)
        ob_buf_printf(b, "%s%" PRId64, i ? "," : "", v[i]);
}

static void put_doubles(struct ob_buf *b, const char *key, const double *v, size_t n)
{
    if (!n)
        return;
    ob_buf_printf(b, " %s=", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ob_buf_putc(b, ',');
        put_value(b, v[i]);
    }
}

static void put_hist_v1(struct req *r, const Prometheus__Histogram *m)
{
    struct hist_head h = {
        .float_count = m->count_case == PROMETHEUS__HISTOGRAM__COUNT_COUNT_FLOAT,
        .count_int = m->count_case == PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT ? m->count_int : 0,
        .float_zero = m->zero_count_case == PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT,
        .zero_int = m->zero_count_case == PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT
                        ? m->zero_count_int
                        : 0,
        .sum = m->sum, .zero_threshold = m->zero_threshold, .schema = m->schema,
        .reset = (int)m->reset_hint, .ts = m->timestamp,
    };
    h.count_float = h.float_count ? m->count_float : 0;
    h.zero_float = h.float_zero ? m->zero_count_float : 0;
    put_hist_head(r, &h);
    struct ob_buf *b = &r->out;
    for (size_t i = 0; i < m->n_negative_spans; i++)
        put_span(b, "neg", i, m->negative_spans[i]->offset, m->negative_spans[i]->length);
    put_i64s(b, "nd", m->negative_deltas, m->n_negative_deltas);
    put_doubles(b, "nc", m->negative_counts, m->n_negative_counts);
    for (size_t i = 0; i < m->n_positive_spans; i++)
        put_span(b, "pos", i, m->positive_spans[i]->offset, m->positive_spans[i]->length);
    put_i64s(b, "pd", m->positive_deltas, m->n_positive_deltas);
    put_doubles(b, "pc", m->positive_counts, m->n_positive_counts);
    put_doubles(b, "custom", m->custom_values, m->n_custom_values);
    ob_buf_putc(b, '\n');
}

static void put_hist_v2(struct req *r, const Io__Prometheus__Write__V2__Histogram *m)
{
    struct hist_head h = {
        .float_count = m->count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_FLOAT,
        .count_int = m->count_case == IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_INT
                         ? m->count_int
                         : 0,
        .float_zero = m->zero_count_case ==
                      IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT,
        .zero_int = m->zero_count_case ==
                            IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT
                        ? m->zero_count_int
                        : 0,
        .sum = m->sum, .zero_threshold = m->zero_threshold, .schema = m->schema,
        .reset = (int)m->reset_hint, .ts = m->timestamp,
    };
    h.count_float = h.float_count ? m->count_float : 0;
    h.zero_float = h.float_zero ? m->zero_count_float : 0;
    put_hist_head(r, &h);
    struct ob_buf *b = &r->out;
    for (size_t i = 0; i < m->n_negative_spans; i++)
        put_span(b, "neg", i, m->negative_spans[i]->offset, m->negative_spans[i]->length);
    put_i64s(b, "nd", m->negative_deltas, m->n_negative_deltas);
    put_doubles(b, "nc", m->negative_counts, m->n_negative_counts);
    for (size_t i = 0; i < m->n_positive_spans; i++)
        put_span(b, "pos", i, m->positive_spans[i]->offset, m->positive_spans[i]->length);
    put_i64s(b, "pd", m->positive_deltas, m->n_positive_deltas);
    put_doubles(b, "pc", m->positive_counts, m->n_positive_counts);
    put_doubles(b, "custom", m->custom_values, m->n_custom_values);
    if (m->start_timestamp)
        ob_buf_printf(b, " st=%" PRId64, m->start_timestamp);
    ob_buf_putc(b, '\n');
}

/* ---- 1.0 ---- */

static bool v1_labels(struct req *r, Prometheus__Label **in, size_t n)
{
    struct label *l = labels_room(r, n);
    if (n && !l)
        return fail(r, "out of memory");
    for (size_t i = 0; i < n; i++) {
        l[i].name = in[i]->name ? in[i]->name : "";
        l[i].value = in[i]->value ? in[i]->value : "";
    }
    return true;
}

static bool v1_request(struct req *r, const Prometheus__WriteRequest *w, bool dump)
{
    for (size_t i = 0; i < w->n_metadata; i++) {
        const Prometheus__MetricMetadata *m = w->metadata[i];
        const char *name = m->metric_family_name ? m->metric_family_name : "";
        if (!*name)
            return fail(r, "metadata %zu without metric_family_name", i);
        if (dump)
            put_metadata(r, name, (int)m->type, m->help ? m->help : "", m->unit ? m->unit : "");
    }
    r->n.metadata = w->n_metadata;
    for (size_t i = 0; i < w->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = w->timeseries[i];
        if (!v1_labels(r, ts->labels, ts->n_labels) || !series_text(r, r->labels, ts->n_labels))
            return false;
        r->n.series++;
        r->n.samples += ts->n_samples;
        r->n.histograms += ts->n_histograms;
        r->n.exemplars += ts->n_exemplars;
        if (!dump)
            continue;
        for (size_t k = 0; k < ts->n_samples; k++)
            put_sample(r, ts->samples[k]->value, ts->samples[k]->timestamp, 0);
        for (size_t k = 0; k < ts->n_histograms; k++)
            put_hist_v1(r, ts->histograms[k]);
        for (size_t k = 0; k < ts->n_exemplars; k++) {
            const Prometheus__Exemplar *e = ts->exemplars[k];
            /* The series' text is kept in r->series; the exemplar's labels
             * go to r->labels, which that text no longer needs. */
            if (!v1_labels(r, e->labels, e->n_labels))
                return false;
            ob_buf_puts(&r->out, "# EXEMPLAR ");
            put_series(r);
            ob_buf_putc(&r->out, ' ');
            put_labels(&r->out, r->labels, e->n_labels, NULL);
            ob_buf_putc(&r->out, ' ');
            put_value(&r->out, e->value);
            ob_buf_printf(&r->out, " %" PRId64 "\n", e->timestamp);
        }
    }
    return true;
}

/* ---- 2.0 ---- */

/* Resolves pairs of symbol refs into r->labels. */
static bool v2_labels(struct req *r, const Io__Prometheus__Write__V2__Request *w,
                      const uint32_t *refs, size_t n, const char *what)
{
    if (n % 2)
        return fail(r, "%s: odd number of labels_refs (%zu)", what, n);
    struct label *l = labels_room(r, n / 2);
    if (n && !l)
        return fail(r, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (refs[i] >= w->n_symbols)
            return fail(r, "%s: labels_refs[%zu] = %" PRIu32 " past the %zu symbols", what, i,
                        refs[i], w->n_symbols);
    for (size_t i = 0; i < n / 2; i++) {
        l[i].name = w->symbols[refs[2 * i]];
        l[i].value = w->symbols[refs[2 * i + 1]];
    }
    return true;
}

static bool v2_request(struct req *r, const Io__Prometheus__Write__V2__Request *w, bool dump)
{
    if (w->n_timeseries && (!w->n_symbols || *w->symbols[0]))
        return fail(r, "symbols must start with the empty string");
    /* Metadata is per series in 2.0: print it when it changes, so a family's
     * series in a row give one set of lines. */
    struct {
        const char *name, *help, *unit;
        int type;
    } last = {NULL, NULL, NULL, -1};
    for (size_t i = 0; i < w->n_timeseries; i++) {
        const Io__Prometheus__Write__V2__TimeSeries *ts = w->timeseries[i];
        if (!v2_labels(r, w, ts->labels_refs, ts->n_labels_refs, "series"))
            return false;
        const struct label *name_label = series_text(r, r->labels, ts->n_labels_refs / 2);
        if (!name_label)
            return false;
        /* A symbol: it outlives r->labels, which the exemplars reuse. */
        const char *name = name_label->value;
        if (ts->n_samples && ts->n_histograms)
            return fail(r, "series %s has both samples and histograms", name);
        const char *help = "", *unit = "";
        int type = 0;
        if (ts->metadata) {
            const Io__Prometheus__Write__V2__Metadata *m = ts->metadata;
            if (m->help_ref >= w->n_symbols || m->unit_ref >= w->n_symbols)
                return fail(r, "series %s: metadata refs past the %zu symbols", name,
                            w->n_symbols);
            help = w->symbols[m->help_ref];
            unit = w->symbols[m->unit_ref];
            type = (int)m->type;
        }
        bool has_meta = type || *help || *unit;
        r->n.series++;
        r->n.metadata += has_meta;
        r->n.samples += ts->n_samples;
        r->n.histograms += ts->n_histograms;
        r->n.exemplars += ts->n_exemplars;
        for (size_t k = 0; k < ts->n_exemplars; k++)
            if (!v2_labels(r, w, ts->exemplars[k]->labels_refs, ts->exemplars[k]->n_labels_refs,
                           "exemplar"))
                return false;
        if (!dump)
            continue;
        if (has_meta && !(last.name && !strcmp(last.name, name) && last.type == type &&
                          !strcmp(last.help, help) && !strcmp(last.unit, unit))) {
            put_metadata(r, name, type, help, unit);
            last.name = name, last.help = help, last.unit = unit, last.type = type;
        }
        if (ts->created_timestamp) {
            ob_buf_puts(&r->out, "# CREATED ");
            put_series(r);
            ob_buf_printf(&r->out, " %" PRId64 "\n", ts->created_timestamp);
        }
        for (size_t k = 0; k < ts->n_samples; k++)
            put_sample(r, ts->samples[k]->value, ts->samples[k]->timestamp,
                       ts->samples[k]->start_timestamp);
        for (size_t k = 0; k < ts->n_histograms; k++)
            put_hist_v2(r, ts->histograms[k]);
        for (size_t k = 0; k < ts->n_exemplars; k++) {
            const Io__Prometheus__Write__V2__Exemplar *e = ts->exemplars[k];
            if (!v2_labels(r, w, e->labels_refs, e->n_labels_refs, "exemplar"))
                return false;
            ob_buf_puts(&r->out, "# EXEMPLAR ");
            put_series(r);
            ob_buf_putc(&r->out, ' ');
            put_labels(&r->out, r->labels, e->n_labels_refs / 2, NULL);
            ob_buf_putc(&r->out, ' ');
            put_value(&r->out, e->value);
            ob_buf_printf(&r->out, " %" PRId64 "\n", e->timestamp);
        }
    }
    return true;
}

/* ---- HTTP ---- */

struct conn {
    struct ob_buf body;
    bool too_big;
};

struct answer {
    unsigned code;
    char msg[320];
    int version;           /* 2: add the -Written headers */
    struct counts written;
    bool bad;              /* refused for what the sender sent, not injected */
};

static enum MHD_Result send_answer(struct MHD_Connection *c, const struct answer *a)
{
    /* 204 carries no body. */
    const char *msg = a->code == MHD_HTTP_NO_CONTENT ? "" : a->msg;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (*msg)
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (opt.retry_after >= 0 && (a->code == 429 || a->code == 503)) {
        char s[24];
        snprintf(s, sizeof s, "%ld", opt.retry_after);
        MHD_add_response_header(resp, "Retry-After", s);
    }
    if (a->version == 2) {
        char s[24];
        snprintf(s, sizeof s, "%llu", a->written.samples);
        MHD_add_response_header(resp, "X-Prometheus-Remote-Write-Samples-Written", s);
        snprintf(s, sizeof s, "%llu", a->written.histograms);
        MHD_add_response_header(resp, "X-Prometheus-Remote-Write-Histograms-Written", s);
        snprintf(s, sizeof s, "%llu", a->written.exemplars);
        MHD_add_response_header(resp, "X-Prometheus-Remote-Write-Exemplars-Written", s);
    }
    enum MHD_Result rc = MHD_queue_response(c, a->code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void set(struct answer *a, unsigned code, const char *fmt, ...) OB_PRINTF(3, 4);
static void set(struct answer *a, unsigned code, const char *fmt, ...)
{
    a->code = code;
    a->bad = code >= 400;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->msg, sizeof a->msg - 1, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        size_t len = strlen(a->msg);
        a->msg[len] = '\n';
        a->msg[len + 1] = '\0';
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* 1 or 2 for the remote write version the Content-Type names, 0 for none. */
static int content_type_version(const char *ct)
{
    if (!ct)
        return 1; /* both specifications: no Content-Type means 1.0 */
    char buf[256];
    if (strlen(ct) >= sizeof buf)
        return 0;
    strcpy(buf, ct);
    char *save = NULL, *part = strtok_r(buf, ";", &save);
    if (!part || strcasecmp(trim(part), "application/x-protobuf"))
        return 0;
    int version = 1;
    while ((part = strtok_r(NULL, ";", &save))) {
        char *p = trim(part), *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcasecmp(trim(p), "proto"))
            continue;
        char *v = trim(eq + 1);
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
            v[n - 1] = '\0', v++;
        if (!strcmp(v, "prometheus.WriteRequest"))
            version = 1;
        else if (!strcmp(v, "io.prometheus.write.v2.Request"))
            version = 2;
        else
            return 0;
    }
    return version;
}

/* Waits, unanswered, until the sink stops. */
/* ---- --discard: the wire format walked, no messages built ---- */

/* protobuf-c builds a message per label and per sample (allocations,
 * pointers): in a benchmark that measures the receiver's allocator more
 * than the sender.  --discard walks every field instead, as a receiver's
 * own parser would, checking what the decoding path checks: the framing,
 * labels sorted with a __name__, 2.0 refs within the symbols, no series
 * with both samples and histograms. */
struct wire {
    const uint8_t *p, *end;
};

static bool wire_varint(struct wire *w, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
        uint8_t b = *w->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The next field: its number, wire type and (length-delimited) bytes. */
static bool wire_field(struct wire *w, uint32_t *field, struct wire *sub)
{
    uint64_t key, n;
    if (!wire_varint(w, &key))
        return false;
    *field = (uint32_t)(key >> 3);
    *sub = (struct wire){w->p, w->p};
    switch (key & 7) {
    case 0:
        return wire_varint(w, &n);
    case 1:
        if (w->end - w->p < 8)
            return false;
        w->p += 8;
        return true;
    case 5:
        if (w->end - w->p < 4)
            return false;
        w->p += 4;
        return true;
    case 2:
        if (!wire_varint(w, &n) || n > (uint64_t)(w->end - w->p))
            return false;
        *sub = (struct wire){w->p, w->p + n};
        w->p += n;
        return true;
    default:
        return false;
    }
}

/* A Label (1.0): its name into *name; false when it does not decode or a
 * string is not UTF-8. */
static bool wire_label(struct wire l, struct wire *name)
{
    uint32_t f;
    struct wire v;
    *name = (struct wire){NULL, NULL};
    while (l.p < l.end) {
        if (!wire_field(&l, &f, &v) ||
            ((f == 1 || f == 2) && !ob_utf8_valid((const char *)v.p, (size_t)(v.end - v.p))))
            return false;
        if (f == 1)
            *name = v;
    }
    return true;
}

static int wire_cmp(struct wire a, struct wire b)
{
    size_t na = (size_t)(a.end - a.p), nb = (size_t)(b.end - b.p);
    int c = memcmp(a.p, b.p, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static bool wire_v1(struct req *r, const char *raw, size_t len)
{
    struct wire w = {(const uint8_t *)raw, (const uint8_t *)raw + len}, ts, x;
    uint32_t f;
    while (w.p < w.end) {
        if (!wire_field(&w, &f, &ts))
            return fail(r, "cannot decode the body as prometheus.WriteRequest");
        if (f == 3) {
            r->n.metadata++;
            continue;
        }
        if (f != 1)
            continue;
        struct wire prev = {NULL, NULL}, name;
        bool has_name = false;
        r->n.series++;
        while (ts.p < ts.end) {
            if (!wire_field(&ts, &f, &x))
                return fail(r, "cannot decode the body as prometheus.WriteRequest");
            if (f == 1) {
                if (!wire_label(x, &name) || !name.p)
                    return fail(r, "series %llu: a label without a name, or not UTF-8", r->n.series);
                if (prev.p && wire_cmp(prev, name) >= 0)
                    return fail(r, "series %llu: labels not sorted or repeated", r->n.series);
                has_name |= name.end - name.p == 8 && !memcmp(name.p, "__name__", 8);
                prev = name;
            } else if (f == 2) {
                r->n.samples++;
            } else if (f == 3) {
                r->n.exemplars++;
            } else if (f == 4) {
                r->n.histograms++;
            }
        }
        if (!has_name)
            return fail(r, "series %llu without __name__", r->n.series);
    }
    return true;
}

static bool wire_v2(struct req *r, const char *raw, size_t len)
{
    struct wire w = {(const uint8_t *)raw, (const uint8_t *)raw + len}, x, y;
    uint32_t f;
    uint64_t n_symbols = 0;
    bool first_empty = false;
    /* Symbols first (the sender writes them before the series; a receiver
     * that reads them in any order would need two passes). */
    for (struct wire s = w; s.p < s.end;) {
        if (!wire_field(&s, &f, &x))
            return fail(r, "cannot decode the body as io.prometheus.write.v2.Request");
        if (f == 4 && !ob_utf8_valid((const char *)x.p, (size_t)(x.end - x.p)))
            return fail(r, "symbol %llu: not valid UTF-8", (unsigned long long)n_symbols);
        if (f == 4 && n_symbols++ == 0)
            first_empty = x.p == x.end;
    }
    if (!first_empty)
        return fail(r, "symbols must start with the empty string");
    while (w.p < w.end) {
        if (!wire_field(&w, &f, &x))
            return fail(r, "cannot decode the body as io.prometheus.write.v2.Request");
        if (f != 5)
            continue;
        r->n.series++;
        unsigned long long samples = 0, hists = 0;
        while (x.p < x.end) {
            if (!wire_field(&x, &f, &y))
                return fail(r, "cannot decode the body as io.prometheus.write.v2.Request");
            if (f == 1) {
                uint64_t ref, k = 0;
                while (y.p < y.end) {
                    if (!wire_varint(&y, &ref) || ref >= n_symbols)
                        return fail(r, "series %llu: a labels_refs past the %llu symbols", r->n.series,
                                    (unsigned long long)n_symbols);
                    k++;
                }
                if (k % 2)
                    return fail(r, "series %llu: odd number of labels_refs", r->n.series);
            } else if (f == 2) {
                samples++;
            } else if (f == 3) {
                hists++;
            } else if (f == 4) {
                r->n.exemplars++;
            } else if (f == 5) {
                r->n.metadata++;
            }
        }
        if (samples && hists)
            return fail(r, "series %llu has both samples and histograms", r->n.series);
        r->n.samples += samples;
        r->n.histograms += hists;
    }
    return true;
}

static void hang(void)
{
    const struct timespec tick = {0, 50 * 1000 * 1000};
    while (!atomic_load(&stopping))
        nanosleep(&tick, NULL);
}

static void handle_post(struct MHD_Connection *c, struct conn *k, unsigned long long nth,
                        struct answer *a)
{
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  "X-Prometheus-Remote-Write-Version");
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    if (k->too_big)
        return set(a, 413, "body over %u bytes", MAX_BODY);
    int version = content_type_version(ct);
    if (!version)
        return set(a, 415, "unsupported Content-Type %s", ct);
    a->version = version;
    if (!ce || strcasecmp(ce, "snappy"))
        return set(a, 415, "Content-Encoding must be snappy, got %s", ce ? ce : "none");
    const char *want = version == 2 ? "2.0.0" : "0.1.0";
    if (!ver || strcmp(ver, want))
        return set(a, 400, "X-Prometheus-Remote-Write-Version must be %s for %s, got %s", want,
                   version == 2 ? "io.prometheus.write.v2.Request" : "prometheus.WriteRequest",
                   ver ? ver : "none");
    if (!ua || !*ua)
        return set(a, 400, "no User-Agent (the specification requires one)");

    unsigned code = opt.status;
    for (size_t i = 0; i < opt.n_fail; i++)
        if (opt.fail[i].n == nth)
            code = opt.fail[i].code;
    if (code >= 300) {
        atomic_fetch_add(&stats.injected, 1);
        set(a, code, "rwsink: injected %u for request %llu", code, nth);
        a->bad = false;
        return;
    }

    size_t raw_len;
    if (snappy_uncompressed_length(k->body.data, k->body.len, &raw_len) != SNAPPY_OK)
        return set(a, 400, "body is not snappy block compressed");
    if (raw_len > MAX_RAW)
        return set(a, 413, "uncompressed body of %zu bytes, over %u", raw_len, MAX_RAW);
    char *raw = malloc(raw_len ? raw_len : 1);
    if (!raw)
        return set(a, 500, "out of memory");
    if (snappy_uncompress(k->body.data, k->body.len, raw, &raw_len) != SNAPPY_OK) {
        free(raw);
        return set(a, 400, "body is not snappy block compressed");
    }
    atomic_fetch_add(&stats.raw_bytes, raw_len);

    bool dump = opt.dump != NULL;
    struct req r = {0};
    ob_buf_init(&r.out);
    ob_buf_init(&r.series);
    /* The message tree goes to an arena, freed at once: protobuf-c allocates
     * a few times per sample, and malloc/free would be half the cost. */
    struct ob_arena arena;
    ob_arena_init(&arena, 1 << 20);
    ProtobufCAllocator alloc = {ob_arena_pbc_alloc, ob_arena_pbc_free, &arena};
    bool ok;
    if (!dump) {
        ok = version == 2 ? wire_v2(&r, raw, raw_len) : wire_v1(&r, raw, raw_len);
    } else if (version == 2) {
        Io__Prometheus__Write__V2__Request *w =
            io__prometheus__write__v2__request__unpack(&alloc, raw_len, (const uint8_t *)raw);
        ok = w ? v2_request(&r, w, dump)
               : fail(&r, "cannot decode the body as io.prometheus.write.v2.Request");
    } else {
        Prometheus__WriteRequest *w =
            prometheus__write_request__unpack(&alloc, raw_len, (const uint8_t *)raw);
        ok = w ? v1_request(&r, w, dump)
               : fail(&r, "cannot decode the body as prometheus.WriteRequest");
    }
    bool oom = arena.failed || r.out.failed || r.series.failed;
    ob_arena_fini(&arena);
    free(raw);
    if (oom) {
        set(a, 500, "out of memory");
    } else if (ok) {
        if (dump) {
            pthread_mutex_lock(&dump_lock);
            fprintf(opt.dump,
                    "# REQUEST %llu v%d series=%llu samples=%llu histograms=%llu "
                    "exemplars=%llu metadata=%llu\n",
                    nth, version, r.n.series, r.n.samples, r.n.histograms, r.n.exemplars,
                    r.n.metadata);
            fwrite(r.out.data, 1, r.out.len, opt.dump);
            fflush(opt.dump);
            pthread_mutex_unlock(&dump_lock);
        }
        atomic_fetch_add(&stats.series, r.n.series);
        atomic_fetch_add(&stats.samples, r.n.samples);
        atomic_fetch_add(&stats.histograms, r.n.histograms);
        atomic_fetch_add(&stats.exemplars, r.n.exemplars);
        atomic_fetch_add(&stats.metadata, r.n.metadata);
        atomic_fetch_add(&stats.ok, 1);
        a->written = r.n;
        a->code = code ? code : MHD_HTTP_NO_CONTENT;
        a->msg[0] = '\0';
    } else {
        set(a, 400, "%s", r.err);
    }
    ob_buf_fini(&r.out);
    ob_buf_fini(&r.series);
    free(r.labels);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls, (void)version;
    struct conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        ob_buf_init(&k->body);
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!k->too_big && !ob_buf_reserve_max(&k->body, *upload_data_size, MAX_BODY))
            k->too_big = true;
        if (!k->too_big)
            ob_buf_append(&k->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct answer a = {0};
    if (!strcmp(method, "GET") && !strcmp(url, "/-/stats")) {
        a.code = 200;
        stats_line(a.msg, sizeof a.msg);
        return send_answer(c, &a);
    }
    if (strcmp(method, "POST")) {
        set(&a, 405, "POST only");
        return send_answer(c, &a);
    }
    unsigned long long nth = atomic_fetch_add(&stats.requests, 1) + 1;
    atomic_fetch_add(&stats.bytes, k->body.len);
    if (opt.hang) {
        hang();
        return MHD_NO; /* closes the connection, still unanswered */
    }
    handle_post(c, k, nth, &a);
    if (a.bad)
        atomic_fetch_add(&stats.bad, 1);
    return send_answer(c, &a);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct conn *k = *con_cls;
    if (k) {
        ob_buf_fini(&k->body);
        free(k);
        *con_cls = NULL;
    }
}

/* ---- main ---- */

static bool parse_ull(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int bad_arg(const char *what, const char *v)
{
    fprintf(stderr, "rwsink: bad %s '%s' (--help)\n", what, v ? v : "");
    return 2;
}

/* The port file appears whole or not at all: tests poll for it. */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) || rename(tmp, path)) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long port = 0, v;
    const char *port_file = NULL;
    bool discard = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--discard")) {
            discard = true;
        } else if (!strcmp(a, "--hang")) {
            opt.hang = true;
        } else if (!val) {
            return bad_arg("option", a);
        } else if (!strcmp(a, "--port")) {
            if (!parse_ull(val, 0, 65535, &port))
                return bad_arg("--port", val);
            i++;
        } else if (!strcmp(a, "--port-file")) {
            port_file = val, i++;
        } else if (!strcmp(a, "--dump")) {
            opt.dump_path = val, i++;
        } else if (!strcmp(a, "--status")) {
            if (!parse_ull(val, 200, 599, &v))
                return bad_arg("--status", val);
            opt.status = (unsigned)v, i++;
        } else if (!strcmp(a, "--retry-after")) {
            if (!parse_ull(val, 0, 86400, &v))
                return bad_arg("--retry-after", val);
            opt.retry_after = (long)v, i++;
        } else if (!strcmp(a, "--fail-nth")) {
            char n[32];
            const char *colon = strchr(val, ':');
            unsigned long long nth, code;
            if (!colon || (size_t)(colon - val) >= sizeof n || opt.n_fail == MAX_FAIL_NTH)
                return bad_arg("--fail-nth", val);
            memcpy(n, val, (size_t)(colon - val));
            n[colon - val] = '\0';
            if (!parse_ull(n, 1, UINT64_MAX, &nth) || !parse_ull(colon + 1, 200, 599, &code))
                return bad_arg("--fail-nth", val);
            opt.fail[opt.n_fail++] = (struct fail_nth){nth, (unsigned)code};
            i++;
        } else {
            return bad_arg("option", a);
        }
    }
    if (discard && opt.dump_path) {
        fprintf(stderr, "rwsink: --dump and --discard exclude each other\n");
        return 2;
    }
    if (opt.dump_path && !(opt.dump = fopen(opt.dump_path, "a"))) {
        perror(opt.dump_path);
        return 1;
    }

    /* Only loopback: a test receiver must not be reachable from elsewhere. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        fprintf(stderr, "rwsink: 127.0.0.1:%llu: %s\n", port, strerror(errno));
        return 1;
    }

    /* Every thread MHD starts inherits this mask: the signals reach
     * sigwait() below only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "rwsink: libmicrohttpd failed to start\n");
        return 1;
    }
    unsigned bound = ntohs(sa.sin_port);
    if (port_file) {
        if (write_port_file(port_file, bound))
            return 1;
    } else {
        printf("%u\n", bound);
        fflush(stdout);
    }

    int sig;
    sigwait(&sigs, &sig);
    atomic_store(&stopping, true);
    MHD_stop_daemon(d);
    close(fd);
    char line[512];
    stats_line(line, sizeof line);
    fputs(line, stdout);
    if (opt.dump && fclose(opt.dump)) {
        perror(opt.dump_path);
        return 1;
    }
    return 0;
}
