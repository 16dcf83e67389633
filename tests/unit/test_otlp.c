/* test_otlp.c: arena (ob_arena.c), OTLP decode (ob_otlp_decode) and response encoding,
 * checked against bodies packed by ob_payloads and against hand-written wire
 * bytes for what protobuf-c would never emit itself (unpacked repeated
 * fields, unknown fields, deep nesting, framing errors). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_error.h"
#include "ob_otlp.h"
#include "ob_payloads.h"

#define TS_NS (INT64_C(1750000000123) * OB_NS_PER_MS + 456789) /* truncated to ...123 ms */
#define START_NS (OB_CALC_START_MS * OB_NS_PER_MS)

typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

/* ---- hand-written wire format ---- */

static void put_varint(struct ob_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        ob_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    ob_buf_putc(b, (char)v);
}

static void put_tag(struct ob_buf *b, unsigned field, unsigned wire)
{
    put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_fixed64(struct ob_buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        ob_buf_putc(b, (char)(v >> (8 * i)));
}

static void put_double(struct ob_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_fixed64(b, v);
}

/* Field `field` = the bytes of inner (a nested message or a string). */
static void put_bytes(struct ob_buf *b, unsigned field, const void *p, size_t n)
{
    put_tag(b, field, 2);
    put_varint(b, n);
    ob_buf_append(b, p, n);
}

static void put_msg(struct ob_buf *b, unsigned field, const struct ob_buf *inner)
{
    put_bytes(b, field, inner->data, inner->len);
}

static void put_str(struct ob_buf *b, unsigned field, const char *s)
{
    put_bytes(b, field, s, strlen(s));
}

/* Wraps a Metric body into request -> resource_metrics -> scope_metrics. */
static void wrap_metric(const struct ob_buf *metric, struct ob_buf *out)
{
    struct ob_buf sm, rm;
    ob_buf_init(&sm);
    ob_buf_init(&rm);
    put_msg(&sm, 2, metric);
    put_msg(&rm, 2, &sm);
    put_msg(out, 1, &rm);
    ob_buf_fini(&sm);
    ob_buf_fini(&rm);
}

static pb_metric *only_metric(ob_otlp_request *req)
{
    ck_assert_uint_eq(req->n_resource_metrics, 1);
    ck_assert_uint_eq(req->resource_metrics[0]->n_scope_metrics, 1);
    ck_assert_uint_eq(req->resource_metrics[0]->scope_metrics[0]->n_metrics, 1);
    return req->resource_metrics[0]->scope_metrics[0]->metrics[0];
}

static const pb_any *attr(pb_kv **kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kvs[i]->key && !strcmp(kvs[i]->key, key))
            return kvs[i]->value;
    return NULL;
}

static const char *attr_str(pb_kv **kvs, size_t n, const char *key)
{
    const pb_any *v = attr(kvs, n, key);
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
        return NULL;
    return v->string_value;
}

/* ---- arena ---- */

/* The arena's chunks are private: one chunk shows as consecutive
 * allocations, each 16-aligned right after the previous one.  (Check writes
 * a mark for every passing ck_assert, so hot loops test with plain ifs.) */
static bool one_chunk_sequence(struct ob_arena *a, size_t count)
{
    unsigned char *prev = NULL;
    size_t prev_n = 0;
    bool contiguous = true;
    for (size_t n = 0; n < count; n++) {
        unsigned char *p = ob_arena_alloc(a, n);
        if (!p || (uintptr_t)p % 16)
            ck_abort_msg("allocation %zu: %p", n, (void *)p);
        memset(p, 0xab, n); /* ASan: the whole block is ours */
        if (prev && p != prev + ((prev_n ? prev_n : 1) + 15) / 16 * 16)
            contiguous = false;
        prev = p;
        prev_n = n;
    }
    return contiguous;
}

START_TEST(arena_alignment_and_reset)
{
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    /* 45 KB does not fit one 4 KiB chunk. */
    ck_assert(!one_chunk_sequence(&a, 300));
    size_t used = a.used_total;
    ck_assert_uint_ge(used, 299 * 300 / 2);

    /* Spilled: reset replaces the chunks by one that fits the whole cycle. */
    ob_arena_reset(&a);
    ck_assert_uint_eq(a.used_total, 0);
    ck_assert(one_chunk_sequence(&a, 300));
    ck_assert_uint_eq(a.used_total, used);

    /* Not spilled: reset keeps the chunk and hands out the same memory. */
    ob_arena_reset(&a);
    void *p1 = ob_arena_alloc(&a, 24);
    ob_arena_reset(&a);
    void *p2 = ob_arena_alloc(&a, 24);
    ck_assert_ptr_eq(p1, p2);
    ob_arena_fini(&a);
    ck_assert_ptr_null(a.head);
    ob_arena_fini(&a); /* twice is harmless */
    ob_arena_fini(NULL);
}
END_TEST

START_TEST(arena_big_blocks)
{
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    char *small = ob_arena_alloc(&a, 100);
    /* A block over a quarter chunk gets its own chunk, so the room left in
     * the current one is not wasted. */
    char *big = ob_arena_alloc(&a, 1u << 20);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq((uintptr_t)big % 16, 0);
    memset(big, 1, 1u << 20);
    char *small2 = ob_arena_alloc(&a, 100);
    ck_assert_ptr_eq(small2, small + 112);
    ck_assert_ptr_null(ob_arena_alloc(&a, SIZE_MAX - 8));
    ck_assert(a.failed);
    ob_arena_reset(&a);
    ck_assert(!a.failed);
    ob_arena_fini(&a);
}
END_TEST

/* The protobuf-c hooks allocate from the arena; their free is a no-op. */
START_TEST(arena_pbc_hooks)
{
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    char *p = ob_arena_pbc_alloc(&a, 10);
    char *q = ob_arena_pbc_alloc(&a, 10);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    ck_assert_ptr_eq(q, p + 16);
    ck_assert_uint_eq(a.used_total, 32);
    ob_arena_pbc_free(&a, p);
    ck_assert_uint_eq(a.used_total, 32);
    ck_assert_ptr_eq(ob_arena_pbc_alloc(&a, 1), q + 16);
    ob_arena_fini(&a);
}
END_TEST

/* ---- calculator round trip ---- */

static void check_calculator(ob_otlp_request *req, unsigned round)
{
    const int64_t ts = TS_NS - TS_NS % OB_NS_PER_MS;
    ck_assert_uint_eq(req->n_resource_metrics, 1);
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[0];
    ck_assert_ptr_nonnull(rm->resource);
    ck_assert_uint_eq(rm->resource->n_attributes, 4);
    pb_kv **ra = rm->resource->attributes;
    ck_assert_str_eq(attr_str(ra, 4, "service.name"), "calculator");
    ck_assert_str_eq(attr_str(ra, 4, "telemetry.sdk.language"), "nodejs");
    ck_assert_str_eq(attr_str(ra, 4, "telemetry.sdk.name"), "opentelemetry");
    ck_assert_str_eq(attr_str(ra, 4, "telemetry.sdk.version"), "2.12.0");
    ck_assert_uint_eq(rm->n_scope_metrics, 1);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[0];
    ck_assert_str_eq(sm->scope->name, "calculator");
    ck_assert_str_eq(sm->scope->version, "1.0.0");
    ck_assert_uint_eq(sm->n_metrics, 3);

    pb_metric *m = sm->metrics[0];
    ck_assert_str_eq(m->name, "calc_operation");
    ck_assert_str_eq(m->description, "Number of calculator operations");
    ck_assert_ptr_null(m->unit); /* absent proto2 string: NULL, see ob_otlp.h */
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    ck_assert(m->sum->has_is_monotonic && m->sum->is_monotonic);
    ck_assert_int_eq(m->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    ck_assert_uint_eq(m->sum->n_data_points, 2);
    for (size_t i = 0; i < 2; i++) {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = m->sum->data_points[i];
        ck_assert_uint_eq(p->start_time_unix_nano, (uint64_t)START_NS);
        ck_assert_uint_eq(p->time_unix_nano, (uint64_t)ts);
        ck_assert_int_eq(p->value_case,
                         OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
        const char *op = attr_str(p->attributes, p->n_attributes, "operation");
        ck_assert_ptr_nonnull(op);
        ck_assert_double_eq(p->as_double, (!strcmp(op, "add") ? 3.0 : 1.0) * round);
    }

    m = sm->metrics[1];
    ck_assert_str_eq(m->name, "http.server.duration");
    ck_assert_str_eq(m->unit, "ms");
    ck_assert_str_eq(m->description, "Duration of HTTP requests");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    ck_assert_uint_eq(m->histogram->n_data_points, 1);
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h = m->histogram->data_points[0];
    ck_assert_uint_eq(h->n_explicit_bounds, 15);
    ck_assert_double_eq(h->explicit_bounds[0], 0);
    ck_assert_double_eq(h->explicit_bounds[14], 10000);
    ck_assert_uint_eq(h->n_bucket_counts, 16);
    uint64_t n = 0;
    for (size_t i = 0; i < 16; i++) {
        bool hit = i == 1 || i == 3 || i == 5 || i == 8;
        ck_assert_uint_eq(h->bucket_counts[i], hit ? round : 0);
        n += h->bucket_counts[i];
    }
    ck_assert(h->has_count);
    ck_assert_uint_eq(h->count, n);
    ck_assert_uint_eq(h->count, OB_CALC_HIST_COUNT * round);
    ck_assert(h->has_sum && h->has_min && h->has_max);
    ck_assert_double_eq(h->sum, OB_CALC_HIST_SUM * round);
    ck_assert_double_eq(h->min, 3);
    ck_assert_double_eq(h->max, 420);
    ck_assert_str_eq(attr_str(h->attributes, h->n_attributes, "http.method"), "GET");
    const pb_any *code = attr(h->attributes, h->n_attributes, "http.status_code");
    ck_assert_ptr_nonnull(code);
    ck_assert_int_eq(code->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    ck_assert_int_eq(code->int_value, 200);

    m = sm->metrics[2];
    ck_assert_str_eq(m->name, "http.server.active_requests");
    ck_assert_str_eq(m->unit, "{request}");
    ck_assert_ptr_nonnull(m->description);
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    ck_assert(!m->sum->is_monotonic);
    ck_assert_uint_eq(m->sum->n_data_points, 1);
    ck_assert_uint_eq(m->sum->data_points[0]->n_attributes, 0);
    ck_assert_double_eq(m->sum->data_points[0]->as_double, 0);
    ck_assert_int_eq(m->sum->data_points[0]->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
}

START_TEST(calculator_round_trip)
{
    struct ob_arena a;
    ob_arena_init(&a, 16 * 1024);
    for (unsigned round = 1; round <= 3; round++) {
        struct ob_buf body;
        ob_buf_init(&body);
        ck_assert_int_eq(ob_payload_calculator(&body, START_NS, TS_NS, round), 0);
        ob_otlp_request *req = NULL;
        ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
        check_calculator(req, round);
        /* Re-encoding the decoded tree gives the same bytes. */
        size_t n = protobuf_c_message_get_packed_size(&req->base);
        ck_assert_uint_eq(n, body.len);
        uint8_t *again = malloc(n);
        ck_assert_ptr_nonnull(again);
        protobuf_c_message_pack(&req->base, again);
        ck_assert_mem_eq(again, body.data, n);
        free(again);
        ob_arena_reset(&a);
        ob_buf_fini(&body);
    }
    ob_arena_fini(&a);
}
END_TEST

/* The committed fixture equals what the builder packs today: a change in
 * either shows in review (regenerate with
 * `build/tests/tools/mkpayload calculator --ts-ms 1750000000123 --round 1`). */
START_TEST(calculator_fixture)
{
    FILE *f = fopen("tests/data/calculator-round1.bin", "rb");
    ck_assert_msg(f != NULL, "run from the repository root");
    char file[4096];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    struct ob_buf body;
    ob_buf_init(&body);
    ck_assert_int_eq(ob_payload_calculator(&body, START_NS, TS_NS, 1), 0);
    ck_assert_uint_eq(n, body.len);
    ck_assert_mem_eq(file, body.data, n);
    ob_buf_fini(&body);
}
END_TEST

/* ---- bench dataset ---- */

START_TEST(mixed_dataset)
{
    struct ob_mixed_opts o = {.ts0_ns = TS_NS - TS_NS % OB_NS_PER_MS};
    ck_assert_uint_eq(ob_mixed_batches_per_round(&o), 20);
    struct ob_arena a;
    ob_arena_init(&a, 64 * 1024);
    /* Batch 0 and 20 carry the same series one round apart. */
    uint64_t ts[2];
    double counter[2];
    for (int i = 0; i < 2; i++) {
        struct ob_buf body;
        ob_buf_init(&body);
        uint32_t points = 0;
        ck_assert_int_eq(ob_payload_mixed(&body, &o, (uint64_t)i * 20, &points), 0);
        ck_assert_uint_eq(points, 500);
        ck_assert_uint_ge(body.len, 50 * 1024);
        ck_assert_uint_le(body.len, 100 * 1024);
        ob_otlp_request *req;
        ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
        Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
            req->resource_metrics[0]->scope_metrics[0];
        ck_assert_uint_eq(sm->n_metrics, OB_MIXED_FAMILIES);
        size_t total = 0, hist = 0;
        for (size_t m = 0; m < sm->n_metrics; m++) {
            pb_metric *me = sm->metrics[m];
            switch (me->data_case) {
            case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
                total += me->gauge->n_data_points;
                ck_assert_uint_eq(me->gauge->data_points[0]->n_attributes, 3);
                break;
            case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
                total += me->sum->n_data_points;
                ck_assert(me->sum->is_monotonic);
                break;
            case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
                total += me->histogram->n_data_points;
                hist += me->histogram->n_data_points;
                ck_assert_uint_eq(me->histogram->data_points[0]->n_bucket_counts, 11);
                ck_assert_uint_eq(me->histogram->data_points[0]->n_attributes, 4);
                break;
            default:
                ck_abort_msg("unexpected metric type");
            }
        }
        ck_assert_uint_eq(total, 500);
        ck_assert_uint_ge(hist, 160);
        pb_metric *c = sm->metrics[1]; /* bench.requests.0 */
        ck_assert_str_eq(c->name, "bench.requests.0");
        ts[i] = c->sum->data_points[0]->time_unix_nano;
        counter[i] = c->sum->data_points[0]->as_double;
        ob_arena_reset(&a);
        ob_buf_fini(&body);
    }
    ck_assert_uint_eq(ts[1] - ts[0], 1000 * (uint64_t)OB_NS_PER_MS);
    ck_assert(counter[1] > counter[0]);

    /* Last batch of a round that does not divide evenly is shorter. */
    o.n_series = 1234;
    ck_assert_uint_eq(ob_mixed_batches_per_round(&o), 3);
    struct ob_buf body;
    ob_buf_init(&body);
    uint32_t points;
    ck_assert_int_eq(ob_payload_mixed(&body, &o, 2, &points), 0);
    ck_assert_uint_eq(points, 234);
    ob_buf_fini(&body);
    ob_arena_fini(&a);
}
END_TEST

START_TEST(mixed_shuffle)
{
    struct ob_mixed_opts o = {.n_series = 1000, .shuffle_window = 8};
    uint32_t per = ob_mixed_batches_per_round(&o);
    ck_assert_uint_eq(per, 2);
    bool out_of_order = false;
    for (uint64_t block = 0; block < 5; block++) {
        bool seen[8] = {false};
        uint64_t prev = 0;
        for (uint64_t i = 0; i < 8; i++) {
            uint64_t r0 = ob_mixed_round(&o, (block * 8 + i) * per);
            /* Both batches of a round carry the same round. */
            ck_assert_uint_eq(ob_mixed_round(&o, (block * 8 + i) * per + 1), r0);
            ck_assert_uint_ge(r0, block * 8);
            ck_assert_uint_lt(r0, block * 8 + 8);
            ck_assert(!seen[r0 - block * 8]);
            seen[r0 - block * 8] = true;
            if (i && r0 < prev)
                out_of_order = true;
            prev = r0;
        }
    }
    ck_assert(out_of_order);
    o.shuffle_window = 0;
    ck_assert_uint_eq(ob_mixed_round(&o, 7), 3);
}
END_TEST

START_TEST(fill_payload)
{
    struct ob_buf body;
    ob_buf_init(&body);
    ck_assert_int_eq(ob_payload_fill(&body, 9990, 20, TS_NS), 0);
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req;
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[0]->scope_metrics[0];
    ck_assert_uint_eq(sm->n_metrics, 2);
    ck_assert_str_eq(sm->metrics[0]->name, "bench_fill_000");
    ck_assert_uint_eq(sm->metrics[0]->gauge->n_data_points, 10);
    ck_assert_str_eq(sm->metrics[1]->name, "bench_fill_001");
    ck_assert_uint_eq(sm->metrics[1]->gauge->n_data_points, 10);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = sm->metrics[1]->gauge->data_points[0];
    ck_assert_str_eq(attr_str(p->attributes, p->n_attributes, "id"), "0010000");
    ck_assert_double_eq(p->as_double, 10000);
    ob_arena_fini(&a);
    ob_buf_fini(&body);
}
END_TEST

/* ---- malformed input ---- */

START_TEST(truncated_rejected)
{
    struct ob_buf body;
    ob_buf_init(&body);
    ck_assert_int_eq(ob_payload_calculator(&body, START_NS, TS_NS, 1), 0);
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req = NULL;
    /* An empty body is a valid, empty request. */
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, 0, &req), 0);
    ck_assert_uint_eq(req->n_resource_metrics, 0);
    /* The body is one top-level field: every proper prefix cuts it. */
    for (size_t n = 1; n < body.len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past the cut. */
        char *cut = malloc(n);
        if (!cut)
            ck_abort_msg("malloc");
        memcpy(cut, body.data, n);
        req = NULL;
        int rc = ob_otlp_decode(&a, cut, n, &req);
        if (rc != OB_E_MALFORMED || req)
            ck_abort_msg("prefix %zu: rc %d", n, rc);
        free(cut);
        ob_arena_reset(&a);
    }
    ob_arena_fini(&a);
    ob_buf_fini(&body);
}
END_TEST

START_TEST(garbage_rejected)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x0a\x05\x01", 3},                     /* length past the end */
        {"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* varint too long */
        {"\x0b\x0c", 2},                         /* group start/end: unsupported */
        {"\x0e", 1},                             /* wire type 6 */
        {"\x00\x01", 2},                         /* field number 0 */
        {"\x0d\x01\x02", 3},                     /* fixed32 cut */
        {"\x0a\x02\x12\x05", 4},                 /* nested length past its parent */
        {"\x08", 1},                             /* varint value missing */
        {"GET / HTTP/1.1\r\n\r\n", 18},
        {"{\"resourceMetrics\":[]}", 22},
    };
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    for (size_t i = 0; i < OB_ARRAY_LEN(cases); i++) {
        char *copy = malloc(cases[i].len);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, cases[i].bytes, cases[i].len);
        ob_otlp_request *req = NULL;
        int rc = ob_otlp_decode(&a, copy, cases[i].len, &req);
        ck_assert_msg(rc == OB_E_MALFORMED, "case %zu: rc %d", i, rc);
        free(copy);
        ob_arena_reset(&a);
    }
    ob_arena_fini(&a);
}
END_TEST

/* Any decoded tree must be walkable: touch every string ASan can see.
 * Reads land in sink so the compiler keeps them. */
static volatile uint64_t sink;

static void walk_any(const pb_any *v, int depth);

static void walk_kvs(pb_kv **kvs, size_t n, int depth)
{
    for (size_t i = 0; i < n; i++) {
        if (kvs[i]->key)
            sink += strlen(kvs[i]->key);
        if (kvs[i]->value)
            walk_any(kvs[i]->value, depth + 1);
    }
}

static void walk_any(const pb_any *v, int depth)
{
    if (depth > 200)
        ck_abort_msg("decoded tree deeper than the decoder allows");
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        sink += strlen(v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        for (size_t i = 0; i < v->array_value->n_values; i++)
            walk_any(v->array_value->values[i], depth + 1);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        walk_kvs(v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        break;
    default:
        break;
    }
}

static uint64_t walk_request(const ob_otlp_request *req)
{
    uint64_t points = 0;
    for (size_t r = 0; r < req->n_resource_metrics; r++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[r];
        if (rm->resource)
            walk_kvs(rm->resource->attributes, rm->resource->n_attributes, 0);
        for (size_t s = 0; s < rm->n_scope_metrics; s++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[s];
            for (size_t m = 0; m < sm->n_metrics; m++) {
                const pb_metric *me = sm->metrics[m];
                if (me->name)
                    sink += strlen(me->name);
                switch (me->data_case) {
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
                    for (size_t i = 0; i < me->gauge->n_data_points; i++)
                        walk_kvs(me->gauge->data_points[i]->attributes,
                                 me->gauge->data_points[i]->n_attributes, 0);
                    points += me->gauge->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
                    for (size_t i = 0; i < me->sum->n_data_points; i++)
                        walk_kvs(me->sum->data_points[i]->attributes,
                                 me->sum->data_points[i]->n_attributes, 0);
                    points += me->sum->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
                    for (size_t i = 0; i < me->histogram->n_data_points; i++) {
                        const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h =
                            me->histogram->data_points[i];
                        walk_kvs(h->attributes, h->n_attributes, 0);
                        for (size_t k = 0; k < h->n_bucket_counts; k++)
                            sink += h->bucket_counts[k];
                        for (size_t k = 0; k < h->n_explicit_bounds; k++)
                            sink += h->explicit_bounds[k] > 0;
                    }
                    points += me->histogram->n_data_points;
                    break;
                default:
                    break;
                }
            }
        }
    }
    return points;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Bounded bit-flip fuzzing of valid bodies: decode must return 0 or
 * OB_E_MALFORMED and any tree it returns must be sound (ASan/UBSan watch). */
START_TEST(bit_flips)
{
    struct ob_buf bodies[3];
    for (size_t i = 0; i < 3; i++)
        ob_buf_init(&bodies[i]);
    ck_assert_int_eq(ob_payload_calculator(&bodies[0], START_NS, TS_NS, 2), 0);
    ck_assert_int_eq(ob_payload_any_values(&bodies[1], TS_NS), 0);
    struct ob_mixed_opts o = {.n_series = 60, .points_per_body = 60, .ts0_ns = TS_NS};
    ck_assert_int_eq(ob_payload_mixed(&bodies[2], &o, 0, NULL), 0);
    struct ob_arena a;
    ob_arena_init(&a, 16 * 1024);
    uint64_t seed = UINT64_C(0x0b0f1175);
    unsigned ok = 0, bad = 0;
    for (unsigned iter = 0; iter < 6000; iter++) {
        const struct ob_buf *src = &bodies[iter % 3];
        char *copy = malloc(src->len);
        if (!copy)
            ck_abort_msg("malloc");
        memcpy(copy, src->data, src->len);
        unsigned flips = 1 + (unsigned)(xorshift(&seed) % 4);
        for (unsigned f = 0; f < flips; f++) {
            uint64_t bit = xorshift(&seed) % (src->len * 8);
            copy[bit / 8] ^= (char)(1u << (bit % 8));
        }
        ob_otlp_request *req = NULL;
        int rc = ob_otlp_decode(&a, copy, src->len, &req);
        if (rc != 0 && rc != OB_E_MALFORMED)
            ck_abort_msg("iteration %u: rc %d", iter, rc);
        if (rc == 0) {
            walk_request(req);
            ok++;
        } else {
            bad++;
        }
        free(copy);
        ob_arena_reset(&a);
    }
    /* Both outcomes happen: the loop exercises the error paths and the
     * decoded-garbage paths. */
    ck_assert_uint_gt(ok, 100);
    ck_assert_uint_gt(bad, 100);
    ob_arena_fini(&a);
    for (size_t i = 0; i < 3; i++)
        ob_buf_fini(&bodies[i]);
}
END_TEST

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* AnyValue{array_value{values: AnyValue{...}}} nested `depth` times, as the
 * value of a resource attribute.  Sizes are computed inside out first so the
 * body is written in one pass (nesting by copying would be quadratic). */
static void nested_body(unsigned depth, struct ob_buf *out)
{
    size_t *any = malloc((depth + 1) * sizeof *any);
    size_t *arr = malloc((depth + 1) * sizeof *arr);
    ck_assert(any && arr);
    any[0] = 2 + 4; /* string_value "leaf" */
    for (unsigned i = 1; i <= depth; i++) {
        arr[i] = 1 + varint_len(any[i - 1]) + any[i - 1];
        any[i] = 1 + varint_len(arr[i]) + arr[i];
    }
    struct ob_buf cur, kvb, res, rm;
    ob_buf_init(&cur);
    for (unsigned i = depth; i >= 1; i--) {
        put_tag(&cur, 5, 2); /* AnyValue.array_value */
        put_varint(&cur, arr[i]);
        put_tag(&cur, 1, 2); /* ArrayValue.values */
        put_varint(&cur, any[i - 1]);
    }
    put_str(&cur, 1, "leaf"); /* AnyValue.string_value */
    ck_assert_uint_eq(cur.len, any[depth]);
    free(any);
    free(arr);
    ob_buf_init(&kvb);
    ob_buf_init(&res);
    ob_buf_init(&rm);
    put_str(&kvb, 1, "deep");
    put_msg(&kvb, 2, &cur);
    put_msg(&res, 1, &kvb);
    put_msg(&rm, 1, &res);
    put_msg(out, 1, &rm);
    ob_buf_fini(&cur);
    ob_buf_fini(&kvb);
    ob_buf_fini(&res);
    ob_buf_fini(&rm);
}

START_TEST(deep_nesting_refused)
{
    struct ob_arena a;
    ob_arena_init(&a, 16 * 1024);
    ob_otlp_request *req;
    struct ob_buf body;

    ob_buf_init(&body);
    nested_body(25, &body); /* 4 + 2 * 25 + 1 levels: fine */
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    const pb_any *v = req->resource_metrics[0]->resource->attributes[0]->value;
    for (int i = 0; i < 25; i++)
        v = v->array_value->values[0];
    ck_assert_str_eq(v->string_value, "leaf");
    ob_buf_fini(&body);
    ob_arena_reset(&a);

    /* The limit, 64 levels below the request, exactly: the innermost
     * AnyValue of nested_body(n) is at level 4 + 2n. */
    ob_buf_init(&body);
    nested_body(30, &body);
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    ob_buf_fini(&body);
    ob_arena_reset(&a);
    ob_buf_init(&body);
    nested_body(31, &body);
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), OB_E_MALFORMED);
    ob_buf_fini(&body);
    ob_arena_reset(&a);

    /* 200k levels would overflow a thread stack inside protobuf-c. */
    ob_buf_init(&body);
    nested_body(200000, &body);
    ck_assert(!body.failed);
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), OB_E_MALFORMED);
    ob_buf_fini(&body);
    ob_arena_fini(&a);
}
END_TEST

/* ---- wire-format compatibility ---- */

START_TEST(packed_and_unpacked_repeated)
{
    /* HistogramDataPoint with bucket_counts and explicit_bounds unpacked (one
     * tag per element, as a proto2 sender would write them) ... */
    struct ob_buf dp, hist, metric, body;
    ob_buf_init(&dp);
    put_tag(&dp, 4, 1);
    put_fixed64(&dp, 6); /* count */
    for (int i = 1; i <= 3; i++) {
        put_tag(&dp, 6, 1);
        put_fixed64(&dp, (uint64_t)i);
    }
    put_tag(&dp, 7, 1);
    put_double(&dp, 0.5);
    put_tag(&dp, 7, 1);
    put_double(&dp, 1.0);
    /* ... then two more bounds packed: protobuf-c merges both forms. */
    struct ob_buf packed;
    ob_buf_init(&packed);
    put_double(&packed, 2.0);
    put_double(&packed, 4.0);
    put_msg(&dp, 7, &packed);
    ob_buf_init(&hist);
    put_msg(&hist, 1, &dp);
    ob_buf_init(&metric);
    put_str(&metric, 1, "h");
    put_msg(&metric, 9, &hist);
    ob_buf_init(&body);
    wrap_metric(&metric, &body);

    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req;
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    pb_metric *m = only_metric(req);
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h = m->histogram->data_points[0];
    ck_assert_uint_eq(h->n_bucket_counts, 3);
    ck_assert_uint_eq(h->bucket_counts[2], 3);
    ck_assert_uint_eq(h->n_explicit_bounds, 4);
    ck_assert_double_eq(h->explicit_bounds[0], 0.5);
    ck_assert_double_eq(h->explicit_bounds[3], 4.0);
    ck_assert(!h->has_sum); /* never sent: no _sum series */
    ck_assert(!h->has_min && !h->has_max);

    /* The builder's bodies carry them packed (tag 6, wire type 2 = 0x32). */
    struct ob_buf calc;
    ob_buf_init(&calc);
    ck_assert_int_eq(ob_payload_calculator(&calc, START_NS, TS_NS, 1), 0);
    static const char packed_counts[] = {0x32, 16 * 8};
    bool found = false;
    for (size_t i = 0; i + 1 < calc.len; i++)
        found |= !memcmp(calc.data + i, packed_counts, 2);
    ck_assert(found);

    ob_arena_fini(&a);
    ob_buf_fini(&calc);
    ob_buf_fini(&packed);
    ob_buf_fini(&dp);
    ob_buf_fini(&hist);
    ob_buf_fini(&metric);
    ob_buf_fini(&body);
}
END_TEST

START_TEST(sum_presence)
{
    /* sum = 0 sent explicitly is present; no sum at all is absent. */
    struct ob_buf dp, hist, metric, body;
    ob_buf_init(&dp);
    put_tag(&dp, 4, 1);
    put_fixed64(&dp, 0);
    put_tag(&dp, 5, 1);
    put_double(&dp, 0.0);
    ob_buf_init(&hist);
    put_msg(&hist, 1, &dp);
    ob_buf_init(&metric);
    put_str(&metric, 1, "h");
    put_msg(&metric, 9, &hist);
    ob_buf_init(&body);
    wrap_metric(&metric, &body);
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req;
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h =
        only_metric(req)->histogram->data_points[0];
    ck_assert(h->has_sum);
    ck_assert_double_eq(h->sum, 0);
    ck_assert(h->has_count);
    ob_arena_reset(&a);

    struct ob_buf nrv;
    ob_buf_init(&nrv);
    ck_assert_int_eq(ob_payload_no_recorded_value(&nrv, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, nrv.data, nrv.len, &req), 0);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[0]->scope_metrics[0];
    ck_assert_uint_eq(sm->n_metrics, 2);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *g = sm->metrics[0]->gauge->data_points[0];
    ck_assert_uint_eq(g->flags, 1);
    ck_assert_int_eq(g->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET);
    h = sm->metrics[1]->histogram->data_points[0];
    ck_assert_uint_eq(h->flags, 1);
    ck_assert(!h->has_sum && !h->has_count);
    ck_assert_uint_eq(h->n_bucket_counts, 0);

    ob_arena_fini(&a);
    ob_buf_fini(&nrv);
    ob_buf_fini(&dp);
    ob_buf_fini(&hist);
    ob_buf_fini(&metric);
    ob_buf_fini(&body);
}
END_TEST

START_TEST(unknown_fields_ignored)
{
    /* A Metric with fields from a future schema at several levels and of
     * every wire type; the known ones still decode. */
    struct ob_buf dp, gauge, metric, body;
    ob_buf_init(&dp);
    put_tag(&dp, 3, 1);
    put_fixed64(&dp, 42);
    put_tag(&dp, 4, 1);
    put_double(&dp, 7.5);
    put_tag(&dp, 99, 0);
    put_varint(&dp, 123456789);
    put_str(&dp, 100, "future");
    put_tag(&dp, 101, 5);
    ob_buf_append(&dp, "\x01\x02\x03\x04", 4);
    put_tag(&dp, 102, 1);
    put_fixed64(&dp, 1);
    ob_buf_init(&gauge);
    put_msg(&gauge, 1, &dp);
    put_str(&gauge, 77, "x");
    ob_buf_init(&metric);
    put_str(&metric, 1, "g");
    put_tag(&metric, 4, 0); /* retired number, an old sender's field */
    put_varint(&metric, 1);
    put_msg(&metric, 5, &gauge);
    put_str(&metric, 13, "newer");
    ob_buf_init(&body);
    wrap_metric(&metric, &body);
    put_tag(&body, 2, 0); /* unknown at the top level too */
    put_varint(&body, 5);

    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req;
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    pb_metric *m = only_metric(req);
    ck_assert_str_eq(m->name, "g");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    ck_assert_uint_eq(m->gauge->n_data_points, 1);
    ck_assert_uint_eq(m->gauge->data_points[0]->time_unix_nano, 42);
    ck_assert_double_eq(m->gauge->data_points[0]->as_double, 7.5);
    ob_arena_fini(&a);
    ob_buf_fini(&dp);
    ob_buf_fini(&gauge);
    ob_buf_fini(&metric);
    ob_buf_fini(&body);
}
END_TEST

START_TEST(special_payloads)
{
    struct ob_arena a;
    ob_arena_init(&a, 4096);
    ob_otlp_request *req;
    struct ob_buf b;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("delta", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    pb_metric *m = only_metric(req);
    ck_assert_int_eq(m->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
    ck_assert_int_eq(m->sum->data_points[0]->as_int, 5);
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("summary", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    m = only_metric(req);
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *sp = m->summary->data_points[0];
    ck_assert_uint_eq(sp->count, 10);
    ck_assert_double_eq(sp->sum, 2.5);
    ck_assert_uint_eq(sp->n_quantile_values, 4);
    ck_assert_double_eq(sp->quantile_values[0]->quantile, 0);
    ck_assert_double_eq(sp->quantile_values[2]->quantile, 0.9);
    ck_assert_double_eq(sp->quantile_values[3]->value, 0.9);
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("exphist", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    m = only_metric(req);
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *ep =
        m->exponential_histogram->data_points[0];
    ck_assert_int_eq(ep->scale, 2);
    ck_assert_uint_eq(ep->zero_count, 1);
    ck_assert_int_eq(ep->positive->offset, 3);
    ck_assert_uint_eq(ep->positive->n_bucket_counts, 3);
    ck_assert_int_eq(ep->negative->offset, -1);
    ck_assert_uint_eq(ep->negative->bucket_counts[0], 4);
    ck_assert(ep->has_sum && ep->has_min && ep->has_max);
    ck_assert_double_eq(ep->min, -3);
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("empty", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    sm = req->resource_metrics[0]->scope_metrics[0];
    ck_assert_uint_eq(sm->n_metrics, 4);
    ck_assert_int_eq(sm->metrics[0]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    ck_assert_uint_eq(sm->metrics[0]->gauge->n_data_points, 0);
    ck_assert_uint_eq(sm->metrics[1]->sum->n_data_points, 0);
    ck_assert_int_eq(sm->metrics[2]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA__NOT_SET);
    ck_assert_uint_eq(sm->metrics[3]->gauge->n_data_points, 1);
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("anyvalues", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = only_metric(req)->gauge->data_points[0];
    ck_assert_uint_eq(p->n_attributes, 8);
    ck_assert_int_eq(attr(p->attributes, 8, "b")->bool_value, 1);
    ck_assert_int_eq(attr(p->attributes, 8, "i")->int_value, -42);
    ck_assert_double_eq(attr(p->attributes, 8, "d")->double_value, 1.5);
    const pb_any *bytes = attr(p->attributes, 8, "bytes");
    ck_assert_int_eq(bytes->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    ck_assert_uint_eq(bytes->bytes_value.len, 3);
    ck_assert_mem_eq(bytes->bytes_value.data, "\x00\x01\xfe", 3);
    const pb_any *arr = attr(p->attributes, 8, "arr");
    ck_assert_uint_eq(arr->array_value->n_values, 3);
    ck_assert_int_eq(arr->array_value->values[1]->int_value, 1);
    const pb_any *kvl = attr(p->attributes, 8, "kv");
    ck_assert_uint_eq(kvl->kvlist_value->n_values, 2);
    ck_assert_str_eq(kvl->kvlist_value->values[0]->value->string_value, "v1");
    ck_assert_int_eq(attr(p->attributes, 8, "empty")->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    /* protobuf-c does not validate UTF-8 in proto2 strings: the bytes reach
     * the broker unchanged and the translator decides. */
    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("badutf8", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    m = only_metric(req);
    ck_assert_str_eq(m->name, "bad\xff\xfeutf8");
    ck_assert_str_eq(m->gauge->data_points[0]->attributes[0]->key, "key\xc3");
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("manylabels", &b, TS_NS), 0);
    ck_assert_int_eq(ob_otlp_decode(&a, b.data, b.len, &req), 0);
    p = only_metric(req)->gauge->data_points[0];
    ck_assert_uint_eq(p->n_attributes, 200);
    ck_assert_str_eq(p->attributes[199]->key, "label_199");
    ob_buf_fini(&b);
    ob_arena_reset(&a);

    ob_buf_init(&b);
    ck_assert_int_eq(ob_payload_special("nope", &b, TS_NS), -EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ob_buf_fini(&b);
    ob_arena_fini(&a);
}
END_TEST

/* ---- arena reuse under repeated decodes ---- */

START_TEST(arena_reuse)
{
    struct ob_buf body;
    ob_buf_init(&body);
    struct ob_mixed_opts o = {.ts0_ns = TS_NS};
    ck_assert_int_eq(ob_payload_mixed(&body, &o, 3, NULL), 0);
    struct ob_arena a;
    ob_arena_init(&a, 32 * 1024);
    ob_otlp_request *req;
    ck_assert_int_eq(ob_otlp_decode(&a, body.data, body.len, &req), 0);
    size_t used = a.used_total;
    ck_assert_uint_gt(used, body.len); /* the tree is bigger than the wire */
    ob_arena_reset(&a);
    void *first = ob_arena_alloc(&a, 1);
    ob_arena_reset(&a);
    for (int i = 0; i < 200; i++) {
        int rc = ob_otlp_decode(&a, body.data, body.len, &req);
        uint64_t points = rc == 0 ? walk_request(req) : 0;
        /* Same size every time, served from the one kept chunk. */
        size_t got = a.used_total;
        ob_arena_reset(&a);
        if (rc != 0 || points != 500 || got != used || ob_arena_alloc(&a, 1) != first)
            ck_abort_msg("cycle %d: rc %d points %llu used %zu/%zu", i, rc,
                         (unsigned long long)points, got, used);
        ob_arena_reset(&a);
    }
    ob_arena_fini(&a);
    ob_buf_fini(&body);
}
END_TEST

/* ---- response encoding ---- */

static Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *
decode_response(const struct ob_buf *b)
{
    return opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
        NULL, b->len, (const uint8_t *)b->data);
}

START_TEST(encode_response)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert_int_eq(ob_otlp_encode_response(0, NULL, &b), 0);
    ck_assert_uint_eq(b.len, 0); /* the empty message: no partial_success */
    ck_assert_int_eq(ob_otlp_encode_response(0, "", &b), 0);
    ck_assert_uint_eq(b.len, 0);

    ck_assert_int_eq(ob_otlp_encode_response(7, "3 points out of bounds", &b), 0);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r = decode_response(&b);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(r->partial_success);
    ck_assert(r->partial_success->has_rejected_data_points);
    ck_assert_int_eq(r->partial_success->rejected_data_points, 7);
    ck_assert_str_eq(r->partial_success->error_message, "3 points out of bounds");
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(r, NULL);

    /* A warning without rejections: partial_success with the message only. */
    b.len = 0;
    ck_assert_int_eq(ob_otlp_encode_response(0, "deprecated field", &b), 0);
    r = decode_response(&b);
    ck_assert_ptr_nonnull(r->partial_success);
    ck_assert(!r->partial_success->has_rejected_data_points);
    ck_assert_str_eq(r->partial_success->error_message, "deprecated field");
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(r, NULL);

    /* Appends: the exact bytes of {partial_success{rejected_data_points: 3}}. */
    b.len = 0;
    ob_buf_puts(&b, "X");
    ck_assert_int_eq(ob_otlp_encode_response(3, NULL, &b), 0);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_mem_eq(b.data, "X\x0a\x02\x08\x03", 5);
    ob_buf_fini(&b);
}
END_TEST

Suite *otlp_suite(void);
Suite *otlp_suite(void)
{
    Suite *s = suite_create("otlp");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, arena_alignment_and_reset);
    tcase_add_test(tc, arena_big_blocks);
    tcase_add_test(tc, arena_pbc_hooks);
    tcase_add_test(tc, arena_reuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_test(tc, calculator_round_trip);
    tcase_add_test(tc, calculator_fixture);
    tcase_add_test(tc, mixed_dataset);
    tcase_add_test(tc, mixed_shuffle);
    tcase_add_test(tc, fill_payload);
    tcase_add_test(tc, packed_and_unpacked_repeated);
    tcase_add_test(tc, sum_presence);
    tcase_add_test(tc, unknown_fields_ignored);
    tcase_add_test(tc, special_payloads);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 60); /* fuzz loop and 200k-level body under ASan */
    tcase_add_test(tc, truncated_rejected);
    tcase_add_test(tc, garbage_rejected);
    tcase_add_test(tc, bit_flips);
    tcase_add_test(tc, deep_nesting_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, encode_response);
    suite_add_tcase(s, tc);
    return s;
}
