/* test_rw_encode.c: remote-write requests from forward-log records, decoded
 * with the code protoc-c generates from proto/prometheus/prompb and
 * proto/io/prometheus/write/v2. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/prometheus/write/v2/types.pb-c.h"
#include "ob_buf.h"
#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_rw_encode.h"
#include "ob_store.h"
#include "prometheus/prompb/remote.pb-c.h"

static char store_name[64];
static char err[OB_ERR_LEN];
static struct ob_store *store;
static struct ob_fwd_batch batch;

static void setup(void)
{
    static int counter;
    snprintf(store_name, sizeof store_name, "/obtest-rwenc-%d-%d", (int)getpid(), counter++);
    ob_store_unlink(store_name);
    struct ob_store_opts o = {.path = store_name, .max_series = 64, .max_families = 16,
                              .samples_per_series = 8, .ooo_window_ms = 600000,
                              .series_ttl_ms = 300000};
    ck_assert_msg(ob_store_open(&o, &store, err) == 0, "%s", err);
    batch = (struct ob_fwd_batch){0};
}

static void teardown(void)
{
    ob_fwd_batch_fini(&batch);
    ob_store_close(store);
    ob_store_unlink(store_name);
}

static uint32_t fam(const char *name, enum ob_family_type t, const char *help, uint32_t *gen)
{
    uint32_t id;
    ck_assert_int_eq(ob_store_family(store, name, strlen(name), t, help, strlen(help), &id, gen), 0);
    return id;
}

static void put(uint32_t f, uint32_t gen, const char *labels, const struct ob_shape *sh, int64_t ts,
                const double *v, int64_t created)
{
    struct ob_series_ref ref = {.family = f, .family_gen = gen,
                                .hash = ob_store_hash(f, labels, strlen(labels)), .key = labels,
                                .key_len = (uint32_t)strlen(labels), .created_ms = created,
                                .fwd = &batch};
    ck_assert_int_eq(ob_store_append_at(store, &ref, sh, ts, v, 1000, NULL), 0);
}

/* Every record of the batch through one request. */
static void encode(struct ob_rw_encoder *e, struct ob_buf *out, struct ob_rw_counts *c)
{
    ob_rw_encode_begin(e);
    for (size_t at = 0; at < batch.len;) {
        const struct ob_fwd_record *r = (const void *)(batch.data + at);
        ob_rw_encode_add(e, r, 1000);
        at += ob_fwd_record_size(r->width);
    }
    ck_assert_int_eq(ob_rw_encode_end(e, out, 1000, c), 0);
}

static void put_value(struct ob_buf *t, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits == UINT64_C(0x7ff0000000000002))
        ob_buf_puts(t, "StaleNaN");
    else
        ob_buf_printf(t, "%.17g", v);
}

/* 1.0: one line per sample, "labels value ts", labels as sent (in order). */
static void text_v1(const struct ob_buf *body, struct ob_buf *t)
{
    Prometheus__WriteRequest *w =
        prometheus__write_request__unpack(NULL, body->len, (const uint8_t *)body->data);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < w->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = w->timeseries[i];
        struct ob_buf l;
        ob_buf_init(&l);
        for (size_t k = 0; k < ts->n_labels; k++) {
            if (k)
                ck_assert_int_lt(strcmp(ts->labels[k - 1]->name, ts->labels[k]->name), 0); /* sorted */
            ob_buf_printf(&l, "%s%s=%s", k ? "," : "", ts->labels[k]->name, ts->labels[k]->value);
        }
        for (size_t k = 0; k < ts->n_samples; k++) {
            ob_buf_printf(t, "%.*s ", (int)l.len, l.data);
            put_value(t, ts->samples[k]->value);
            ob_buf_printf(t, " %lld\n", (long long)ts->samples[k]->timestamp);
        }
        for (size_t k = 0; k < ts->n_histograms; k++) {
            const Prometheus__Histogram *h = ts->histograms[k];
            ob_buf_printf(t, "%.*s hist count=%llu sum=", (int)l.len, l.data,
                          (unsigned long long)h->count_int);
            put_value(t, h->sum);
            ob_buf_printf(t, " schema=%d zc=%llu pos=", h->schema, (unsigned long long)h->zero_count_int);
            for (size_t s = 0; s < h->n_positive_spans; s++)
                ob_buf_printf(t, "%d:%u,", h->positive_spans[s]->offset, h->positive_spans[s]->length);
            ob_buf_puts(t, " pd=");
            for (size_t s = 0; s < h->n_positive_deltas; s++)
                ob_buf_printf(t, "%lld,", (long long)h->positive_deltas[s]);
            ob_buf_printf(t, " %lld\n", (long long)h->timestamp);
        }
        ob_buf_fini(&l);
    }
    for (size_t i = 0; i < w->n_metadata; i++) {
        const Prometheus__MetricMetadata *m = w->metadata[i];
        ob_buf_printf(t, "# %s %d %s %s\n", m->metric_family_name, m->type, m->help ? m->help : "",
                      m->unit ? m->unit : "");
    }
    prometheus__write_request__free_unpacked(w, NULL);
}

/* 2.0, rendered the same way (so both versions can be compared); created
 * timestamps and metadata types as lines of their own. */
static void text_v2(const struct ob_buf *body, struct ob_buf *t, struct ob_buf *meta)
{
    Io__Prometheus__Write__V2__Request *w =
        io__prometheus__write__v2__request__unpack(NULL, body->len, (const uint8_t *)body->data);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_gt(w->n_symbols, 0);
    ck_assert_str_eq(w->symbols[0], "");
    for (size_t i = 0; i < w->n_timeseries; i++) {
        const Io__Prometheus__Write__V2__TimeSeries *ts = w->timeseries[i];
        ck_assert_uint_eq(ts->n_labels_refs % 2, 0);
        struct ob_buf l;
        ob_buf_init(&l);
        for (size_t k = 0; k < ts->n_labels_refs; k += 2) {
            ck_assert_uint_lt(ts->labels_refs[k + 1], w->n_symbols);
            ob_buf_printf(&l, "%s%s=%s", k ? "," : "", w->symbols[ts->labels_refs[k]],
                          w->symbols[ts->labels_refs[k + 1]]);
        }
        for (size_t k = 0; k < ts->n_samples; k++) {
            ob_buf_printf(t, "%.*s ", (int)l.len, l.data);
            put_value(t, ts->samples[k]->value);
            ob_buf_printf(t, " %lld\n", (long long)ts->samples[k]->timestamp);
            if (ts->samples[k]->start_timestamp)
                ob_buf_printf(meta, "start %.*s %lld\n", (int)l.len, l.data,
                              (long long)ts->samples[k]->start_timestamp);
        }
        for (size_t k = 0; k < ts->n_histograms; k++) {
            const Io__Prometheus__Write__V2__Histogram *h = ts->histograms[k];
            ob_buf_printf(t, "%.*s hist count=%llu sum=", (int)l.len, l.data,
                          (unsigned long long)h->count_int);
            put_value(t, h->sum);
            ob_buf_printf(t, " schema=%d zc=%llu pos=", h->schema, (unsigned long long)h->zero_count_int);
            for (size_t s = 0; s < h->n_positive_spans; s++)
                ob_buf_printf(t, "%d:%u,", h->positive_spans[s]->offset, h->positive_spans[s]->length);
            ob_buf_puts(t, " pd=");
            for (size_t s = 0; s < h->n_positive_deltas; s++)
                ob_buf_printf(t, "%lld,", (long long)h->positive_deltas[s]);
            ob_buf_printf(t, " %lld\n", (long long)h->timestamp);
        }
        if (ts->metadata)
            ob_buf_printf(meta, "meta %.*s %d %s %s\n", (int)l.len, l.data, ts->metadata->type,
                          w->symbols[ts->metadata->help_ref], w->symbols[ts->metadata->unit_ref]);
        if (ts->created_timestamp)
            ob_buf_printf(meta, "created %.*s %lld\n", (int)l.len, l.data,
                          (long long)ts->created_timestamp);
        ob_buf_fini(&l);
    }
    io__prometheus__write__v2__request__free_unpacked(w, NULL);
}

static void expect_text(const struct ob_buf *t, const char *want)
{
    ck_assert_msg(t->len == strlen(want) && memcmp(t->data, want, t->len) == 0, "got:\n%.*s\nwant:\n%s",
                  (int)t->len, t->data, want);
}

/* Every record of the batch through a new encoder of protocol p (classic:
 * exponential histograms as classic buckets, at most that many), decoded
 * back to text: the samples into t, 2.0's metadata lines into meta. */
struct round_trip {
    struct ob_buf t, meta;
    struct ob_rw_counts cnt;
};

static void round_trip(enum ob_rw_protocol p, uint32_t classic, struct round_trip *rt)
{
    struct ob_rw_encoder *e;
    ck_assert_int_eq(ob_rw_encoder_create(p, store, 64, 16, &e), 0);
    ck_assert_int_eq(ob_rw_encoder_classic(e, classic), 0);
    struct ob_buf body;
    ob_buf_init(&body);
    ob_buf_init(&rt->t);
    ob_buf_init(&rt->meta);
    encode(e, &body, &rt->cnt);
    if (p == OB_RW_PROTO_1_0)
        text_v1(&body, &rt->t);
    else
        text_v2(&body, &rt->t, &rt->meta);
    ob_buf_fini(&body);
    ob_rw_encoder_destroy(e);
}

static void round_trip_fini(struct round_trip *rt)
{
    ob_buf_fini(&rt->t);
    ob_buf_fini(&rt->meta);
}

static const struct ob_shape scalar = {.kind = OB_SHAPE_SCALAR};

START_TEST(every_kind_named_as_the_exposition_names_it)
{
    uint32_t gg, cg, hg, sg;
    uint32_t g = fam("temp_celsius", OB_FAMILY_GAUGE, "Temperature", &gg);
    uint32_t c = fam("ops_total", OB_FAMILY_COUNTER, "Operations", &cg);
    uint32_t h = fam("lat_seconds", OB_FAMILY_HISTOGRAM, "", &hg);
    uint32_t s = fam("rpc", OB_FAMILY_SUMMARY, "", &sg);
    /* Labels sort around __name__: an upper-case name comes before it. */
    put(g, gg, "Zone=\"a\",job=\"j\",path=\"x\\\"y\"", &scalar, 5000, (double[]){21.5}, 0);
    put(c, cg, "job=\"j\"", &scalar, 5000, (double[]){7}, 4000);
    const double bounds[] = {0.5, 1};
    const struct ob_shape hs = {OB_SHAPE_HISTOGRAM, 2, bounds, true};
    double hv[5];
    ob_sample_histogram(hv, 2, 4, 2.5, (const uint64_t[]){1, 2});
    put(h, hg, "job=\"j\"", &hs, 5000, hv, 3000);
    const double qs[] = {0.9};
    const struct ob_shape ss = {OB_SHAPE_SUMMARY, 1, qs, true};
    put(s, sg, "", &ss, 5000, (double[]){10, 20, 3}, 0);

    struct ob_rw_encoder *e;
    ck_assert_int_eq(ob_rw_encoder_create(OB_RW_PROTO_1_0, store, 64, 16, &e), 0);
    struct ob_buf body, t;
    ob_buf_init(&body);
    ob_buf_init(&t);
    struct ob_rw_counts cnt;
    encode(e, &body, &cnt);
    text_v1(&body, &t);
    const char *want =
        "Zone=a,__name__=temp_celsius,job=j,path=x\"y 21.5 5000\n"
        "__name__=ops_total,job=j 7 5000\n"
        "__name__=lat_seconds_bucket,job=j,le=0.5 1 5000\n"
        "__name__=lat_seconds_bucket,job=j,le=1 3 5000\n"
        "__name__=lat_seconds_bucket,job=j,le=+Inf 4 5000\n"
        "__name__=lat_seconds_sum,job=j 2.5 5000\n"
        "__name__=lat_seconds_count,job=j 4 5000\n"
        "__name__=rpc,quantile=0.9 3 5000\n"
        "__name__=rpc_sum 20 5000\n"
        "__name__=rpc_count 10 5000\n";
    struct ob_buf meta;
    ob_buf_init(&meta);
    char full[2048];
    snprintf(full, sizeof full, "%s%s", want,
             "# temp_celsius 2 Temperature \n# ops_total 1 Operations \n# lat_seconds 3  \n# rpc 5  \n");
    expect_text(&t, full);
    ck_assert_uint_eq(cnt.samples, 10);
    ck_assert_uint_eq(cnt.series, 10);
    ck_assert_uint_eq(cnt.metadata, 4);
    ck_assert_int_eq(cnt.newest_ms, 5000);
    /* Metadata again only after a minute. */
    encode(e, &body, &cnt);
    ck_assert_uint_eq(cnt.metadata, 0);
    ob_rw_encoder_destroy(e);

    /* 2.0: the same series and samples, types and help on each series,
     * created timestamps on the counter's and the histogram's. */
    ck_assert_int_eq(ob_rw_encoder_create(OB_RW_PROTO_2_0, store, 64, 16, &e), 0);
    encode(e, &body, &cnt);
    t.len = 0;
    text_v2(&body, &t, &meta);
    expect_text(&t, want);
    ck_assert_ptr_nonnull(strstr(meta.data, "meta Zone=a,__name__=temp_celsius,job=j,path=x\"y 2 Temperature \n"));
    ck_assert_ptr_nonnull(strstr(meta.data, "meta __name__=ops_total,job=j 1 Operations \n"));
    ck_assert_ptr_nonnull(strstr(meta.data, "created __name__=ops_total,job=j 4000\n"));
    ck_assert_ptr_nonnull(strstr(meta.data, "start __name__=ops_total,job=j 4000\n"));
    ck_assert_ptr_nonnull(strstr(meta.data, "created __name__=lat_seconds_count,job=j 3000\n"));
    ck_assert_ptr_null(strstr(meta.data, "created Zone")); /* a gauge has none */
    ob_rw_encoder_destroy(e);
    ob_buf_fini(&body);
    ob_buf_fini(&t);
    ob_buf_fini(&meta);
}
END_TEST

START_TEST(a_series_samples_in_timestamp_order_and_stale_markers)
{
    uint32_t gen;
    uint32_t g = fam("g", OB_FAMILY_GAUGE, "", &gen);
    put(g, gen, "k=\"1\"", &scalar, 3000, (double[]){3}, 0);
    put(g, gen, "k=\"2\"", &scalar, 3000, (double[]){30}, 0);
    put(g, gen, "k=\"1\"", &scalar, 1000, (double[]){1}, 0); /* out of order, inside the window */
    put(g, gen, "k=\"1\"", &scalar, 2000, (double[]){2}, 0);
    /* The series expires: its marker. */
    ck_assert_uint_eq(ob_store_expire_fwd(store, 1000 + 300001, &batch), 2);
    for (int v = 1; v <= 2; v++) {
        struct round_trip rt;
        round_trip(v == 1 ? OB_RW_PROTO_1_0 : OB_RW_PROTO_2_0, 0, &rt);
        char want[512];
        snprintf(want, sizeof want,
                 "__name__=g,k=1 1 1000\n__name__=g,k=1 2 2000\n__name__=g,k=1 3 3000\n"
                 "__name__=g,k=1 StaleNaN %d\n__name__=g,k=2 30 3000\n__name__=g,k=2 StaleNaN %d\n%s",
                 301001, 301001, v == 1 ? "# g 2  \n" : "");
        expect_text(&rt.t, want);
        round_trip_fini(&rt);
    }
}
END_TEST

/* An exponential histogram sample at 7000 ms in family "dur" with labels:
 * scale 0, count 6, sum 12.5, zero count 1, positive buckets at offset 0
 * holding 2, 0, 3. */
static void put_exphist(const char *labels)
{
    uint32_t gen;
    uint32_t h = fam("dur", OB_FAMILY_HISTOGRAM, "", &gen);
    double v[16 + OB_SAMPLE_EXP_BUCKET0] = {0};
    v[OB_SAMPLE_COUNT] = 6;
    v[OB_SAMPLE_SUM] = 12.5;
    v[OB_SAMPLE_EXP_ZERO_COUNT] = 1;
    v[OB_SAMPLE_EXP_POS_N] = 3;
    v[OB_SAMPLE_EXP_BUCKET0] = 2;
    v[OB_SAMPLE_EXP_BUCKET0 + 2] = 3;
    const struct ob_shape es = {OB_SHAPE_EXPHIST, 16, NULL, true};
    put(h, gen, labels, &es, 7000, v, 0);
}

START_TEST(exponential_histograms_go_native)
{
    put_exphist("");
    for (int p = 1; p <= 2; p++) {
        struct round_trip rt;
        round_trip(p == 1 ? OB_RW_PROTO_1_0 : OB_RW_PROTO_2_0, 0, &rt);
        ck_assert_uint_eq(rt.cnt.histograms, 1);
        /* Prometheus' layout: index offset + 1, the empty bucket between
         * written as a zero delta. */
        expect_text(&rt.t, p == 1 ? "__name__=dur hist count=6 sum=12.5 schema=0 zc=1 pos=1:3, pd=2,-2,3, 7000\n# dur 3  \n"
                                  : "__name__=dur hist count=6 sum=12.5 schema=0 zc=1 pos=1:3, pd=2,-2,3, 7000\n");
        round_trip_fini(&rt);
    }
}
END_TEST

/* For receivers without native histograms: the classic buckets a text
 * scrape gets, at Prometheus' bounds; a marker ends them. */
START_TEST(exponential_histograms_as_classic_buckets)
{
    put_exphist("job=\"j\"");
    ck_assert_uint_eq(ob_store_expire_fwd(store, 1000 + 300001, &batch), 1);
    const char *buckets =
        "__name__=dur_bucket,job=j,le=0 1 7000\n__name__=dur_bucket,job=j,le=2 3 7000\n"
        "__name__=dur_bucket,job=j,le=4 3 7000\n__name__=dur_bucket,job=j,le=8 6 7000\n"
        "__name__=dur_bucket,job=j,le=+Inf 6 7000\n__name__=dur_sum,job=j 12.5 7000\n"
        "__name__=dur_count,job=j 6 7000\n"
        "__name__=dur_bucket,job=j,le=0 StaleNaN 301001\n__name__=dur_bucket,job=j,le=2 StaleNaN 301001\n"
        "__name__=dur_bucket,job=j,le=4 StaleNaN 301001\n__name__=dur_bucket,job=j,le=8 StaleNaN 301001\n"
        "__name__=dur_bucket,job=j,le=+Inf StaleNaN 301001\n__name__=dur_sum,job=j StaleNaN 301001\n"
        "__name__=dur_count,job=j StaleNaN 301001\n";
    struct ob_rw_encoder *e;
    ck_assert_int_eq(ob_rw_encoder_create(OB_RW_PROTO_1_0, store, 64, 16, &e), 0);
    ck_assert_int_eq(ob_rw_encoder_classic(e, 40), 0);
    enum ob_rw_drop why;
    ck_assert_uint_eq(ob_rw_record_samples(e, (const void *)batch.data, 1000, &why), 43); /* at most */
    ob_rw_encoder_destroy(e);
    for (int p = 1; p <= 2; p++) {
        struct round_trip rt;
        round_trip(p == 1 ? OB_RW_PROTO_1_0 : OB_RW_PROTO_2_0, 40, &rt);
        ck_assert_uint_eq(rt.cnt.histograms, 0);
        ck_assert_uint_eq(rt.cnt.samples, 14);
        char want[2048];
        snprintf(want, sizeof want, "%s%s", buckets, p == 1 ? "# dur 3  \n" : "");
        expect_text(&rt.t, want);
        round_trip_fini(&rt);
    }
}
END_TEST

START_TEST(records_of_a_gone_or_reshaped_series_are_dropped)
{
    uint32_t gen;
    uint32_t h = fam("h", OB_FAMILY_HISTOGRAM, "", &gen);
    const double b1[] = {1}, b2[] = {1, 2};
    const struct ob_shape s1 = {OB_SHAPE_HISTOGRAM, 1, b1, true}, s2 = {OB_SHAPE_HISTOGRAM, 2, b2, true};
    double v1[4], v2[5];
    ob_sample_histogram(v1, 1, 1, 1, (const uint64_t[]){1});
    ob_sample_histogram(v2, 2, 1, 1, (const uint64_t[]){1, 0});
    put(h, gen, "", &s1, 1000, v1, 0);
    put(h, gen, "", &s2, 2000, v2, 0); /* new bounds: the first record cannot be named */
    struct ob_fwd_record gone = {.slot = 63, .width = 0, .hash = 12345, .ts_ms = 1};
    struct ob_rw_encoder *e;
    ck_assert_int_eq(ob_rw_encoder_create(OB_RW_PROTO_1_0, store, 64, 16, &e), 0);
    enum ob_rw_drop why;
    ck_assert_uint_eq(ob_rw_record_samples(e, &gone, 1000, &why), 0);
    ck_assert_int_eq(why, OB_RW_DROP_GONE);
    struct ob_buf body;
    ob_buf_init(&body);
    struct ob_rw_counts cnt;
    ob_rw_encode_begin(e);
    ob_rw_encode_add(e, &gone, 1000);
    const struct ob_fwd_record *r1 = (const void *)batch.data;
    const struct ob_fwd_record *r2 = (const void *)(batch.data + ob_fwd_record_size(r1->width));
    ck_assert_uint_eq(ob_rw_record_samples(e, r1, 1000, &why), 0); /* the old bounds */
    ck_assert_int_eq(why, OB_RW_DROP_RESHAPED);
    ck_assert_uint_eq(ob_rw_record_samples(e, r2, 1000, &why), 5);
    ob_rw_encode_add(e, r1, 1000);
    ob_rw_encode_add(e, r2, 1000);
    ck_assert_int_eq(ob_rw_encode_end(e, &body, 1000, &cnt), 0);
    ck_assert_uint_eq(cnt.dropped[OB_RW_DROP_GONE], 1);
    ck_assert_uint_eq(cnt.dropped[OB_RW_DROP_RESHAPED], 1);
    ck_assert_uint_eq(cnt.samples, 5);
    ob_rw_encoder_destroy(e);
    ob_buf_fini(&body);
}
END_TEST

/* The store's newest exemplar of a counter and of a histogram bucket go
 * with their series, once each; 2.0 refers to its labels by symbol. */
START_TEST(exemplars_go_once)
{
    uint32_t cg, hg;
    uint32_t c = fam("req_total", OB_FAMILY_COUNTER, "", &cg);
    uint32_t h = fam("lat", OB_FAMILY_HISTOGRAM, "", &hg);
    struct ob_exemplar ex = {.index = 0, .labels = "trace_id=\"ab\"", .labels_len = 13,
                             .ts_ms = 4999, .value = 1};
    struct ob_series_ref ref = {.family = c, .family_gen = cg, .hash = ob_store_hash(c, "", 0), .key = "",
                                .exemplars = &ex, .n_exemplars = 1, .fwd = &batch};
    ck_assert_int_eq(ob_store_append_at(store, &ref, &scalar, 5000, (double[]){1}, 1000, NULL), 0);
    const double bounds[] = {1};
    const struct ob_shape hs = {OB_SHAPE_HISTOGRAM, 1, bounds, true};
    double hv[4];
    ob_sample_histogram(hv, 1, 2, 3, (const uint64_t[]){1});
    struct ob_exemplar hex = {.index = 1, .labels = "span_id=\"cd\"", .labels_len = 12, .ts_ms = 4998,
                              .value = 2.5};
    struct ob_series_ref href = {.family = h, .family_gen = hg, .hash = ob_store_hash(h, "", 0), .key = "",
                                 .exemplars = &hex, .n_exemplars = 1, .fwd = &batch};
    ck_assert_int_eq(ob_store_append_at(store, &href, &hs, 5000, hv, 1000, NULL), 0);
    for (int p = 1; p <= 2; p++) {
        struct ob_rw_encoder *e;
        ck_assert_int_eq(ob_rw_encoder_create(p == 1 ? OB_RW_PROTO_1_0 : OB_RW_PROTO_2_0, store, 64, 16, &e), 0);
        struct ob_buf body;
        ob_buf_init(&body);
        struct ob_rw_counts cnt;
        encode(e, &body, &cnt);
        ck_assert_uint_eq(cnt.exemplars, 2);
        struct ob_buf got;
        ob_buf_init(&got);
        if (p == 1) {
            Prometheus__WriteRequest *w =
                prometheus__write_request__unpack(NULL, body.len, (const uint8_t *)body.data);
            ck_assert_ptr_nonnull(w);
            for (size_t i = 0; i < w->n_timeseries; i++)
                for (size_t k = 0; k < w->timeseries[i]->n_exemplars; k++) {
                    const Prometheus__Exemplar *x = w->timeseries[i]->exemplars[k];
                    ob_buf_printf(&got, "%s %s=%s %g %lld\n", w->timeseries[i]->labels[0]->value,
                                  x->labels[0]->name, x->labels[0]->value, x->value, (long long)x->timestamp);
                }
            prometheus__write_request__free_unpacked(w, NULL);
        } else {
            Io__Prometheus__Write__V2__Request *w =
                io__prometheus__write__v2__request__unpack(NULL, body.len, (const uint8_t *)body.data);
            ck_assert_ptr_nonnull(w);
            for (size_t i = 0; i < w->n_timeseries; i++)
                for (size_t k = 0; k < w->timeseries[i]->n_exemplars; k++) {
                    const Io__Prometheus__Write__V2__Exemplar *x = w->timeseries[i]->exemplars[k];
                    ck_assert_uint_eq(x->n_labels_refs, 2);
                    ob_buf_printf(&got, "%s %s=%s %g %lld\n", w->symbols[w->timeseries[i]->labels_refs[1]],
                                  w->symbols[x->labels_refs[0]], w->symbols[x->labels_refs[1]], x->value,
                                  (long long)x->timestamp);
                }
            io__prometheus__write__v2__request__free_unpacked(w, NULL);
        }
        /* On _total, and on the le="+Inf" bucket (the histogram's entry 1). */
        ob_buf_putc(&got, '\0');
        ck_assert_str_eq(got.data, "req_total trace_id=ab 1 4999\nlat_bucket span_id=cd 2.5 4998\n");
        ck_assert_ptr_nonnull(strstr(got.data, "lat_bucket"));
        encode(e, &body, &cnt); /* the same exemplars: not again */
        ck_assert_uint_eq(cnt.exemplars, 0);
        ob_buf_fini(&got);
        ob_buf_fini(&body);
        ob_rw_encoder_destroy(e);
    }
}
END_TEST

Suite *rw_encode_suite(void);
Suite *rw_encode_suite(void)
{
    Suite *s = suite_create("rw_encode");
    TCase *tc = tcase_create("encode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_kind_named_as_the_exposition_names_it);
    tcase_add_test(tc, a_series_samples_in_timestamp_order_and_stale_markers);
    tcase_add_test(tc, exponential_histograms_go_native);
    tcase_add_test(tc, records_of_a_gone_or_reshaped_series_are_dropped);
    tcase_add_test(tc, exemplars_go_once);
    tcase_add_test(tc, exponential_histograms_as_classic_buckets);
    suite_add_tcase(s, tc);
    return s;
}
