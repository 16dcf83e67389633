/* mkrw: writes one fixed Prometheus remote-write request body to stdout,
 * snappy block compressed (or not, with --raw), for the tests of rwsink
 * (tests/integration/test_rwsink.sh holds the dump they must give).  Built
 * with the generated protobuf-c code, as the broker's sender is, so the
 * test also shows that code and rwsink's decoding agree. */
#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "io/prometheus/write/v2/types.pb-c.h"
#include "prometheus/prompb/remote.pb-c.h"

#define T0 INT64_C(1700000000000)

static double stale_nan(void)
{
    uint64_t bits = UINT64_C(0x7ff0000000000002);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ---- 1.0 ---- */

static bool bad_utf8; /* v1bad: a label value that is not UTF-8 */

static size_t pack_v1(uint8_t **out)
{
    /* http_requests_total{code="200",path="/a \"b\"\n"}: two samples and a
     * staleness marker, with metadata and an exemplar. */
    Prometheus__Label l1[3] = {PROMETHEUS__LABEL__INIT, PROMETHEUS__LABEL__INIT,
                               PROMETHEUS__LABEL__INIT};
    l1[0].name = "__name__", l1[0].value = "http_requests_total";
    l1[1].name = "code", l1[1].value = "200";
    l1[2].name = "path", l1[2].value = bad_utf8 ? "/a \xff" : "/a \"b\"\n";
    Prometheus__Label *pl1[3] = {&l1[0], &l1[1], &l1[2]};
    Prometheus__Sample s1[3] = {PROMETHEUS__SAMPLE__INIT, PROMETHEUS__SAMPLE__INIT,
                                PROMETHEUS__SAMPLE__INIT};
    s1[0].has_value = s1[0].has_timestamp = 1, s1[0].value = 3, s1[0].timestamp = T0;
    s1[1].has_value = s1[1].has_timestamp = 1, s1[1].value = 4.5, s1[1].timestamp = T0 + 1000;
    s1[2].has_value = s1[2].has_timestamp = 1, s1[2].value = stale_nan();
    s1[2].timestamp = T0 + 2000;
    Prometheus__Sample *ps1[3] = {&s1[0], &s1[1], &s1[2]};
    Prometheus__Label el = PROMETHEUS__LABEL__INIT;
    el.name = "trace_id", el.value = "4bf92f3577b34da6";
    Prometheus__Label *pel[1] = {&el};
    Prometheus__Exemplar ex = PROMETHEUS__EXEMPLAR__INIT;
    ex.n_labels = 1, ex.labels = pel;
    ex.has_value = ex.has_timestamp = 1, ex.value = 1, ex.timestamp = T0 + 500;
    Prometheus__Exemplar *pex[1] = {&ex};
    Prometheus__TimeSeries ts1 = PROMETHEUS__TIME_SERIES__INIT;
    ts1.n_labels = 3, ts1.labels = pl1;
    ts1.n_samples = 3, ts1.samples = ps1;
    ts1.n_exemplars = 1, ts1.exemplars = pex;

    /* up: no other label, +Inf. */
    Prometheus__Label l2 = PROMETHEUS__LABEL__INIT;
    l2.name = "__name__", l2.value = "up";
    Prometheus__Label *pl2[1] = {&l2};
    Prometheus__Sample s2 = PROMETHEUS__SAMPLE__INIT;
    s2.has_value = s2.has_timestamp = 1, s2.value = INFINITY, s2.timestamp = T0;
    Prometheus__Sample *ps2[1] = {&s2};
    Prometheus__TimeSeries ts2 = PROMETHEUS__TIME_SERIES__INIT;
    ts2.n_labels = 1, ts2.labels = pl2;
    ts2.n_samples = 1, ts2.samples = ps2;

    /* rpc_seconds{job="x"}: an integer native histogram. */
    Prometheus__Label l3[2] = {PROMETHEUS__LABEL__INIT, PROMETHEUS__LABEL__INIT};
    l3[0].name = "__name__", l3[0].value = "rpc_seconds";
    l3[1].name = "job", l3[1].value = "x";
    Prometheus__Label *pl3[2] = {&l3[0], &l3[1]};
    Prometheus__BucketSpan sp[2] = {PROMETHEUS__BUCKET_SPAN__INIT, PROMETHEUS__BUCKET_SPAN__INIT};
    sp[0].has_offset = sp[0].has_length = 1, sp[0].offset = -2, sp[0].length = 2;
    sp[1].has_offset = sp[1].has_length = 1, sp[1].offset = 3, sp[1].length = 1;
    Prometheus__BucketSpan *psp[2] = {&sp[0], &sp[1]};
    int64_t deltas[3] = {2, -1, 3};
    Prometheus__Histogram h = PROMETHEUS__HISTOGRAM__INIT;
    h.count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT, h.count_int = 7;
    h.has_sum = 1, h.sum = 12.25;
    h.has_schema = 1, h.schema = 3;
    h.has_zero_threshold = 1, h.zero_threshold = 1e-128;
    h.zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT, h.zero_count_int = 1;
    h.n_positive_spans = 2, h.positive_spans = psp;
    h.n_positive_deltas = 3, h.positive_deltas = deltas;
    h.has_reset_hint = 1, h.reset_hint = PROMETHEUS__HISTOGRAM__RESET_HINT__NO;
    h.has_timestamp = 1, h.timestamp = T0;
    Prometheus__Histogram *ph[1] = {&h};
    Prometheus__TimeSeries ts3 = PROMETHEUS__TIME_SERIES__INIT;
    ts3.n_labels = 2, ts3.labels = pl3;
    ts3.n_histograms = 1, ts3.histograms = ph;

    Prometheus__MetricMetadata md[2] = {PROMETHEUS__METRIC_METADATA__INIT,
                                        PROMETHEUS__METRIC_METADATA__INIT};
    md[0].has_type = 1, md[0].type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER;
    md[0].metric_family_name = "http_requests_total", md[0].help = "Requests.\nAll of them.";
    md[1].has_type = 1, md[1].type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM;
    md[1].metric_family_name = "rpc_seconds", md[1].unit = "seconds";
    Prometheus__MetricMetadata *pmd[2] = {&md[0], &md[1]};

    Prometheus__TimeSeries *pts[3] = {&ts1, &ts2, &ts3};
    Prometheus__WriteRequest w = PROMETHEUS__WRITE_REQUEST__INIT;
    w.n_timeseries = 3, w.timeseries = pts;
    w.n_metadata = 2, w.metadata = pmd;
    size_t n = prometheus__write_request__get_packed_size(&w);
    *out = malloc(n ? n : 1);
    if (*out)
        prometheus__write_request__pack(&w, *out);
    return n;
}

/* ---- 2.0 ---- */

static size_t pack_v2(uint8_t **out)
{
    char *symbols[] = {
        "",                       /* 0 */
        "__name__",               /* 1 */
        "http_requests_total",    /* 2 */
        "code",                   /* 3 */
        "200",                    /* 4 */
        "Requests.",              /* 5 */
        "rpc_seconds",            /* 6 */
        "seconds",                /* 7 */
        "job",                    /* 8 */
        "x",                      /* 9 */
        "trace_id",               /* 10 */
        "4bf92f3577b34da6",       /* 11 */
        "500",                    /* 12 */
    };
    /* http_requests_total{code="200"} and {code="500"}: one family, so one
     * set of metadata lines; the first with rc.3's created_timestamp, the
     * second with rc.4's per-sample start_timestamp. */
    uint32_t r1[] = {1, 2, 3, 4}, r2[] = {1, 2, 3, 12}, r3[] = {1, 6, 8, 9}, er[] = {10, 11};
    Io__Prometheus__Write__V2__Metadata m1 = IO__PROMETHEUS__WRITE__V2__METADATA__INIT;
    m1.has_type = 1, m1.type = IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER;
    m1.has_help_ref = 1, m1.help_ref = 5;
    m1.has_unit_ref = 1, m1.unit_ref = 0;
    Io__Prometheus__Write__V2__Sample s[3] = {IO__PROMETHEUS__WRITE__V2__SAMPLE__INIT,
                                              IO__PROMETHEUS__WRITE__V2__SAMPLE__INIT,
                                              IO__PROMETHEUS__WRITE__V2__SAMPLE__INIT};
    s[0].has_value = s[0].has_timestamp = 1, s[0].value = 10, s[0].timestamp = T0;
    s[1].has_value = s[1].has_timestamp = 1, s[1].value = 0.001, s[1].timestamp = T0 + 1000;
    s[2].has_value = s[2].has_timestamp = 1, s[2].value = 2, s[2].timestamp = T0;
    s[2].has_start_timestamp = 1, s[2].start_timestamp = T0 - 60000;
    Io__Prometheus__Write__V2__Sample *ps1[2] = {&s[0], &s[1]}, *ps2[1] = {&s[2]};
    Io__Prometheus__Write__V2__Exemplar ex = IO__PROMETHEUS__WRITE__V2__EXEMPLAR__INIT;
    ex.n_labels_refs = 2, ex.labels_refs = er;
    ex.has_value = ex.has_timestamp = 1, ex.value = 1, ex.timestamp = T0 + 500;
    Io__Prometheus__Write__V2__Exemplar *pex[1] = {&ex};
    Io__Prometheus__Write__V2__TimeSeries ts1 = IO__PROMETHEUS__WRITE__V2__TIME_SERIES__INIT;
    ts1.n_labels_refs = 4, ts1.labels_refs = r1;
    ts1.n_samples = 2, ts1.samples = ps1;
    ts1.n_exemplars = 1, ts1.exemplars = pex;
    ts1.metadata = &m1;
    ts1.has_created_timestamp = 1, ts1.created_timestamp = T0 - 60000;
    Io__Prometheus__Write__V2__TimeSeries ts2 = IO__PROMETHEUS__WRITE__V2__TIME_SERIES__INIT;
    ts2.n_labels_refs = 4, ts2.labels_refs = r2;
    ts2.n_samples = 1, ts2.samples = ps2;
    ts2.metadata = &m1;

    /* rpc_seconds{job="x"}: a float native histogram with custom buckets. */
    Io__Prometheus__Write__V2__BucketSpan sp = IO__PROMETHEUS__WRITE__V2__BUCKET_SPAN__INIT;
    sp.has_offset = sp.has_length = 1, sp.offset = 0, sp.length = 3;
    Io__Prometheus__Write__V2__BucketSpan *psp[1] = {&sp};
    double counts[3] = {1.5, 0, 2}, bounds[2] = {0.1, 1};
    Io__Prometheus__Write__V2__Histogram h = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__INIT;
    h.count_case = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__COUNT_COUNT_FLOAT, h.count_float = 3.5;
    h.has_sum = 1, h.sum = 2.75;
    h.has_schema = 1, h.schema = -53;
    h.zero_count_case = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT;
    h.zero_count_float = 0;
    h.n_positive_spans = 1, h.positive_spans = psp;
    h.n_positive_counts = 3, h.positive_counts = counts;
    h.n_custom_values = 2, h.custom_values = bounds;
    h.has_reset_hint = 1;
    h.reset_hint = IO__PROMETHEUS__WRITE__V2__HISTOGRAM__RESET_HINT__RESET_HINT_GAUGE;
    h.has_timestamp = 1, h.timestamp = T0;
    h.has_start_timestamp = 1, h.start_timestamp = T0 - 1000;
    Io__Prometheus__Write__V2__Histogram *ph[1] = {&h};
    Io__Prometheus__Write__V2__Metadata m3 = IO__PROMETHEUS__WRITE__V2__METADATA__INIT;
    m3.has_type = 1;
    m3.type = IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_GAUGEHISTOGRAM;
    m3.has_unit_ref = 1, m3.unit_ref = 7;
    Io__Prometheus__Write__V2__TimeSeries ts3 = IO__PROMETHEUS__WRITE__V2__TIME_SERIES__INIT;
    ts3.n_labels_refs = 4, ts3.labels_refs = r3;
    ts3.n_histograms = 1, ts3.histograms = ph;
    ts3.metadata = &m3;

    Io__Prometheus__Write__V2__TimeSeries *pts[3] = {&ts1, &ts2, &ts3};
    Io__Prometheus__Write__V2__Request w = IO__PROMETHEUS__WRITE__V2__REQUEST__INIT;
    w.n_symbols = sizeof symbols / sizeof *symbols, w.symbols = symbols;
    w.n_timeseries = 3, w.timeseries = pts;
    size_t n = io__prometheus__write__v2__request__get_packed_size(&w);
    *out = malloc(n ? n : 1);
    if (*out)
        io__prometheus__write__v2__request__pack(&w, *out);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--raw")) ||
        (strcmp(argv[1], "v1") && strcmp(argv[1], "v2") && strcmp(argv[1], "v1bad"))) {
        fputs("usage: mkrw v1|v2|v1bad [--raw] > body\n"
              "Writes a fixed remote-write 1.0 or 2.0 request, snappy compressed unless\n"
              "--raw (see tests/integration/test_rwsink.sh for what it holds); v1bad:\n"
              "the 1.0 one with a label value that is not UTF-8.\n",
              stderr);
        return 2;
    }
    bad_utf8 = !strcmp(argv[1], "v1bad");
    uint8_t *pb;
    size_t n = strcmp(argv[1], "v2") ? pack_v1(&pb) : pack_v2(&pb);
    if (!pb)
        return 1;
    const char *body = (const char *)pb;
    size_t len = n;
    char *z = NULL;
    if (argc == 2) {
        len = snappy_max_compressed_length(n);
        z = malloc(len);
        if (!z || snappy_compress((const char *)pb, n, z, &len) != SNAPPY_OK)
            return 1;
        body = z;
    }
    int rc = fwrite(body, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    free(z);
    free(pb);
    return rc;
}
