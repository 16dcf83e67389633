/* test_otlp_json.c: OTLP/JSON -> protobuf-c tree, and the JSON response.
 *
 * Trees from two spellings of the same request are compared by packing both
 * with protobuf-c: equal bytes mean equal fields, presence flags and oneof
 * cases, which is exactly what the ingest core sees. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_error.h"
#include "ob_otlp_json.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar exemplar;

#define CALC_JSON "tests/data/otlp_json_calculator.json"
#define CALC_SNAKE_JSON "tests/data/otlp_json_calculator_snake.json"

static struct ob_arena arena;
static char err[OB_ERR_LEN];

static void setup(void)
{
    ob_arena_init(&arena, 64 * 1024);
    err[0] = '\0';
}

static void teardown(void)
{
    ob_arena_fini(&arena);
}

static char *slurp(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    *out_len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static ob_otlp_request *decode_ok(const char *json)
{
    ob_otlp_request *req = NULL;
    int rc = ob_otlp_json_decode(&arena, json, strlen(json), &req, err, sizeof err);
    ck_assert_msg(rc == 0, "rc %d: %s (input %.80s)", rc, err, json);
    ck_assert_ptr_nonnull(req);
    return req;
}

/* Decodes json expecting OB_E_MALFORMED and an error text equal to want. */
static void decode_err(const char *json, const char *want)
{
    ob_otlp_request *req = NULL;
    int rc = ob_otlp_json_decode(&arena, json, strlen(json), &req, err, sizeof err);
    ck_assert_msg(rc == OB_E_MALFORMED, "rc %d for %.120s", rc, json);
    ck_assert_ptr_null(req);
    ck_assert_str_eq(err, want);
}

/* protobuf-c encoding of a tree, malloc'd. */
static uint8_t *pack(const ob_otlp_request *req, size_t *out_len)
{
    size_t n = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(req);
    uint8_t *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    *out_len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(req, b);
    ck_assert_uint_eq(*out_len, n);
    return b;
}

static void assert_same_tree(const char *json_a, const char *json_b)
{
    size_t la, lb;
    uint8_t *a = pack(decode_ok(json_a), &la);
    uint8_t *b = pack(decode_ok(json_b), &lb);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "trees differ:\n%s\n%s", json_a, json_b);
    free(a);
    free(b);
}

static void assert_kv_str(const key_value *kv, const char *key, const char *value)
{
    ck_assert_str_eq(kv->key, key);
    ck_assert_ptr_nonnull(kv->value);
    ck_assert_int_eq(kv->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    ck_assert_str_eq(kv->value->string_value, value);
}

/* A one-point request around a data point (as JSON text) of a given kind. */
static const char *with_point(char *buf, size_t cap, const char *kind, const char *point)
{
    snprintf(buf, cap,
             "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"%s\":"
             "{\"dataPoints\":[%s]}}]}]}]}",
             kind, point);
    return buf;
}

static const number_point *first_number_point(const ob_otlp_request *req)
{
    const metric *m = req->resource_metrics[0]->scope_metrics[0]->metrics[0];
    return m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
               ? m->gauge->data_points[0]
               : m->sum->data_points[0];
}

/* ---- the calculator as the OpenTelemetry JS SDK sends it ------------------ */

START_TEST(calculator_js_sdk)
{
    size_t len;
    char *body = slurp(CALC_JSON, &len);
    ob_otlp_request *req = NULL;
    ck_assert_int_eq(ob_otlp_json_decode(&arena, body, len, &req, err, sizeof err), 0);
    ck_assert_str_eq(err, "");

    ck_assert_uint_eq(req->n_resource_metrics, 1);
    const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[0];
    ck_assert_ptr_null(rm->schema_url);
    ck_assert_ptr_nonnull(rm->resource);
    ck_assert_uint_eq(rm->resource->n_attributes, 1);
    assert_kv_str(rm->resource->attributes[0], "service.name", "calculator");
    ck_assert(!rm->resource->has_dropped_attributes_count); /* 0 sent: proto3 omits it */
    ck_assert_uint_eq(rm->n_scope_metrics, 1);

    const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[0];
    ck_assert_str_eq(sm->scope->name, "calculator");
    ck_assert_ptr_null(sm->scope->version); /* "" sent */
    ck_assert_uint_eq(sm->n_metrics, 4);

    /* Counter: as_double, cumulative, monotonic. */
    const metric *m = sm->metrics[0];
    ck_assert_str_eq(m->name, "calc_operation");
    ck_assert_str_eq(m->description, "Calculator operations");
    ck_assert_ptr_null(m->unit);
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    ck_assert(m->sum->has_aggregation_temporality);
    ck_assert_int_eq(m->sum->aggregation_temporality,
                     OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    ck_assert(m->sum->has_is_monotonic && m->sum->is_monotonic);
    ck_assert_uint_eq(m->sum->n_data_points, 2);
    const number_point *p = m->sum->data_points[0];
    ck_assert_uint_eq(p->n_attributes, 1);
    assert_kv_str(p->attributes[0], "operation", "add");
    ck_assert(p->has_start_time_unix_nano && p->has_time_unix_nano);
    ck_assert_uint_eq(p->start_time_unix_nano, 1718000000123000000ull);
    ck_assert_uint_eq(p->time_unix_nano, 1718000005123000000ull);
    ck_assert_int_eq(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    ck_assert(p->as_double == 3.0);
    ck_assert(!p->has_flags);
    ck_assert_uint_eq(p->n_exemplars, 0);
    p = m->sum->data_points[1];
    assert_kv_str(p->attributes[0], "operation", "sub");
    ck_assert_uint_eq(p->start_time_unix_nano, 1718000000124000000ull);
    ck_assert(p->as_double == 1.0);

    /* Histogram in ms: per-bucket counts, 15 bounds, sum/min/max present. */
    m = sm->metrics[1];
    ck_assert_str_eq(m->name, "http.server.duration");
    ck_assert_str_eq(m->unit, "ms");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    ck_assert_int_eq(m->histogram->aggregation_temporality, 2);
    ck_assert_uint_eq(m->histogram->n_data_points, 1);
    const histogram_point *h = m->histogram->data_points[0];
    assert_kv_str(h->attributes[0], "http.route", "/calc");
    ck_assert(h->has_count);
    ck_assert_uint_eq(h->count, 4);
    ck_assert(h->has_sum && h->sum == 37.5);
    ck_assert(h->has_min && h->min == 2.5);
    ck_assert(h->has_max && h->max == 20.0);
    ck_assert_uint_eq(h->n_bucket_counts, 16);
    static const uint64_t buckets[16] = {0, 1, 1, 1, 1};
    for (size_t i = 0; i < 16; i++)
        ck_assert_uint_eq(h->bucket_counts[i], buckets[i]);
    static const double bounds[15] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
    ck_assert_uint_eq(h->n_explicit_bounds, 15);
    for (size_t i = 0; i < 15; i++)
        ck_assert(h->explicit_bounds[i] == bounds[i]);

    /* UpDownCounter: non-monotonic sum; a 0.0 as_double is still a value. */
    m = sm->metrics[2];
    ck_assert_str_eq(m->name, "http.server.active_requests");
    ck_assert_ptr_null(m->description);
    ck_assert_str_eq(m->unit, "{request}");
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    ck_assert(!m->sum->has_is_monotonic && !m->sum->is_monotonic);
    p = m->sum->data_points[0];
    ck_assert_uint_eq(p->n_attributes, 0);
    ck_assert_int_eq(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    ck_assert(p->as_double == 0.0);

    /* Integer gauge: as_int, int attribute, empty exemplars, no start time. */
    m = sm->metrics[3];
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    p = m->gauge->data_points[0];
    ck_assert_int_eq(p->attributes[0]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    ck_assert_int_eq(p->attributes[0]->value->int_value, 2);
    ck_assert(!p->has_start_time_unix_nano);
    ck_assert_int_eq(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    ck_assert_int_eq(p->as_int, 7);
    free(body);
}
END_TEST

START_TEST(snake_case_names)
{
    size_t la, lb;
    char *a = slurp(CALC_JSON, &la);
    char *b = slurp(CALC_SNAKE_JSON, &lb);
    a[la] = b[lb] = '\0';
    assert_same_tree(a, b);
    free(a);
    free(b);
}
END_TEST

/* 64-bit integers as strings or numbers, numbers as strings, enum names. */
START_TEST(numbers_and_strings)
{
    char x[1024], y[1024];
    assert_same_tree(
        with_point(x, sizeof x, "gauge", "{\"timeUnixNano\":\"1718000005123000000\",\"asInt\":\"-42\",\"flags\":\"1\"}"),
        with_point(y, sizeof y, "gauge", "{\"timeUnixNano\":1718000005123000000,\"asInt\":-42,\"flags\":1}"));
    assert_same_tree(
        with_point(x, sizeof x, "gauge", "{\"asDouble\":\"2.5e3\"}"),
        with_point(y, sizeof y, "gauge", "{\"asDouble\":2500}"));
    assert_same_tree(
        with_point(x, sizeof x, "histogram", "{\"count\":\"3\",\"bucketCounts\":[\"1\",\"2\"],\"explicitBounds\":[\"1.5\"],\"sum\":\"4\"}"),
        with_point(y, sizeof y, "histogram", "{\"count\":3.0,\"bucketCounts\":[1,2e0],\"explicitBounds\":[1.5],\"sum\":4}"));
    assert_same_tree(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"aggregationTemporality\":\"AGGREGATION_TEMPORALITY_DELTA\"}}]}]}]}",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"aggregationTemporality\":1}}]}]}]}");

    /* Extremes that fit. */
    ob_otlp_request *req = decode_ok(with_point(x, sizeof x, "gauge",
        "{\"timeUnixNano\":\"18446744073709551615\",\"startTimeUnixNano\":18446744073709551614,\"asInt\":\"-9223372036854775808\"}"));
    const number_point *p = first_number_point(req);
    ck_assert_uint_eq(p->time_unix_nano, UINT64_MAX);
    ck_assert_uint_eq(p->start_time_unix_nano, UINT64_MAX - 1);
    ck_assert(p->as_int == INT64_MIN);
    req = decode_ok(with_point(x, sizeof x, "gauge", "{\"asInt\":9223372036854775807}"));
    ck_assert(first_number_point(req)->as_int == INT64_MAX);
    /* An integer as a double is fine when it is one. */
    req = decode_ok(with_point(x, sizeof x, "sum", "{\"asInt\":-1e3}"));
    ck_assert_int_eq(first_number_point(req)->as_int, -1000);
    /* Integers into doubles, beyond 2^53 too. */
    req = decode_ok(with_point(x, sizeof x, "sum", "{\"asDouble\":12345678901234567890}"));
    ck_assert(first_number_point(req)->as_double == 12345678901234567890.0);
}
END_TEST

/* Zeros of fields without presence upstream decode as protobuf decodes a
 * proto3 encoder's output (which omits them); presence fields keep theirs. */
START_TEST(presence)
{
    char x[1024], y[1024];
    assert_same_tree(
        with_point(x, sizeof x, "gauge", "{\"timeUnixNano\":\"0\",\"flags\":0,\"attributes\":[{\"key\":\"\",\"value\":{}}]}"),
        with_point(y, sizeof y, "gauge", "{\"attributes\":[{\"value\":{}}]}"));
    ob_otlp_request *req = decode_ok(with_point(x, sizeof x, "gauge", "{\"flags\":0,\"asDouble\":0}"));
    const number_point *p = first_number_point(req);
    ck_assert(!p->has_flags);
    ck_assert_int_eq(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);

    /* Histogram without sum, min, max: has_* stay false; null is absent. */
    req = decode_ok(with_point(x, sizeof x, "histogram", "{\"count\":2,\"sum\":null,\"bucketCounts\":[2]}"));
    const histogram_point *h = req->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    ck_assert(!h->has_sum && !h->has_min && !h->has_max);
    ck_assert_uint_eq(h->count, 2);
    /* A zero sum is a sum. */
    req = decode_ok(with_point(x, sizeof x, "histogram", "{\"sum\":0,\"min\":0,\"max\":-0.0}"));
    h = req->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    ck_assert(h->has_sum && h->has_min && h->has_max);
    ck_assert(h->sum == 0 && signbit(h->max));
}
END_TEST

START_TEST(any_value_kinds)
{
    char x[2048];
    ob_otlp_request *req = decode_ok(with_point(x, sizeof x, "gauge",
        "{\"attributes\":["
        "{\"key\":\"s\",\"value\":{\"stringValue\":\"\"}},"
        "{\"key\":\"b\",\"value\":{\"boolValue\":false}},"
        "{\"key\":\"i\",\"value\":{\"intValue\":\"-7\"}},"
        "{\"key\":\"d\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
        "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1},{\"stringValue\":\"x\"},{}]}}},"
        "{\"key\":\"k\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\",\"value\":{\"boolValue\":true}}]}}},"
        "{\"key\":\"y\",\"value\":{\"bytesValue\":\"aGVsbG8=\"}},"
        "{\"key\":\"y2\",\"value\":{\"bytes_value\":\"_-8\"}},"
        "{\"key\":\"e\",\"value\":{\"arrayValue\":{}}},"
        "{\"key\":\"n\"}]}"));
    const number_point *p = first_number_point(req);
    ck_assert_uint_eq(p->n_attributes, 10);
    const any_value *s = p->attributes[0]->value;
    ck_assert_int_eq(s->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    ck_assert_str_eq(s->string_value, ""); /* a oneof member is there even when empty */
    const any_value *b = p->attributes[1]->value;
    ck_assert_int_eq(b->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    ck_assert(!b->bool_value);
    ck_assert_int_eq(p->attributes[2]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    ck_assert_int_eq(p->attributes[2]->value->int_value, -7);
    ck_assert_int_eq(p->attributes[3]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
    ck_assert(p->attributes[3]->value->double_value == -INFINITY);
    const any_value *a = p->attributes[4]->value;
    ck_assert_int_eq(a->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
    ck_assert_uint_eq(a->array_value->n_values, 3);
    ck_assert_int_eq(a->array_value->values[0]->int_value, 1);
    ck_assert_str_eq(a->array_value->values[1]->string_value, "x");
    ck_assert_int_eq(a->array_value->values[2]->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    const any_value *k = p->attributes[5]->value;
    ck_assert_int_eq(k->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
    ck_assert_uint_eq(k->kvlist_value->n_values, 1);
    ck_assert_str_eq(k->kvlist_value->values[0]->key, "in");
    ck_assert(k->kvlist_value->values[0]->value->bool_value);
    const any_value *y = p->attributes[6]->value;
    ck_assert_int_eq(y->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    ck_assert_uint_eq(y->bytes_value.len, 5);
    ck_assert(memcmp(y->bytes_value.data, "hello", 5) == 0);
    y = p->attributes[7]->value; /* URL-safe alphabet, no padding */
    ck_assert_uint_eq(y->bytes_value.len, 2);
    ck_assert(y->bytes_value.data[0] == 0xff && y->bytes_value.data[1] == 0xef);
    ck_assert_uint_eq(p->attributes[8]->value->array_value->n_values, 0);
    ck_assert_ptr_null(p->attributes[9]->value);
}
END_TEST

START_TEST(exemplar_ids)
{
    char x[1024];
    ob_otlp_request *req = decode_ok(with_point(x, sizeof x, "sum",
        "{\"asInt\":1,\"exemplars\":[{\"timeUnixNano\":\"5\",\"asDouble\":\"NaN\","
        "\"spanId\":\"00F067aa0ba902b7\",\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
        "\"filteredAttributes\":[{\"key\":\"user\",\"value\":{\"stringValue\":\"u1\"}}]},"
        "{\"as_int\":\"-3\",\"span_id\":\"\"}]}"));
    const number_point *p = first_number_point(req);
    ck_assert_uint_eq(p->n_exemplars, 2);
    const exemplar *e = p->exemplars[0];
    ck_assert(e->has_time_unix_nano && e->time_unix_nano == 5);
    ck_assert_int_eq(e->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE);
    ck_assert(isnan(e->as_double));
    ck_assert(e->has_span_id && e->span_id.len == 8);
    ck_assert(memcmp(e->span_id.data, "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8) == 0);
    ck_assert(e->has_trace_id && e->trace_id.len == 16);
    ck_assert(memcmp(e->trace_id.data, "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16) == 0);
    assert_kv_str(e->filtered_attributes[0], "user", "u1");
    e = p->exemplars[1];
    ck_assert_int_eq(e->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT);
    ck_assert_int_eq(e->as_int, -3);
    ck_assert(!e->has_span_id && !e->has_trace_id);
}
END_TEST

START_TEST(nan_and_infinity)
{
    char x[1024];
    ob_otlp_request *req = decode_ok(with_point(x, sizeof x, "histogram",
        "{\"sum\":\"NaN\",\"min\":\"-Infinity\",\"max\":\"Infinity\",\"explicitBounds\":[1,\"Infinity\"]}"));
    const histogram_point *h = req->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    ck_assert(h->has_sum && isnan(h->sum));
    ck_assert(h->min == -INFINITY && h->max == INFINITY);
    ck_assert(h->explicit_bounds[1] == INFINITY);
    req = decode_ok(with_point(x, sizeof x, "gauge", "{\"asDouble\":\"NaN\"}"));
    ck_assert(isnan(first_number_point(req)->as_double));
}
END_TEST

START_TEST(other_kinds)
{
    ob_otlp_request *req = decode_ok(
        "{\"resourceMetrics\":[{\"schemaUrl\":\"https://s\",\"resource\":{\"entityRefs\":[{\"type\":\"host\",\"idKeys\":[\"host.id\",\"\"]}]},"
        "\"scopeMetrics\":[{\"scope\":{\"name\":\"lib\",\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"b\"}}],\"droppedAttributesCount\":2},"
        "\"metrics\":[{\"name\":\"e\",\"metadata\":[{\"key\":\"m\",\"value\":{\"intValue\":1}}],\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{"
        "\"count\":\"6\",\"sum\":1.5,\"scale\":-2,\"zeroCount\":1,\"zeroThreshold\":0.001,\"positive\":{\"offset\":-1,\"bucketCounts\":[\"2\",3]},"
        "\"negative\":{},\"min\":-1,\"max\":9}]}},"
        "{\"name\":\"q\",\"summary\":{\"dataPoints\":[{\"count\":3,\"sum\":0,\"quantileValues\":[{\"quantile\":0.5,\"value\":2},{\"quantile\":1,\"value\":3}]}]}}]}]}]}");
    const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[0];
    ck_assert_str_eq(rm->schema_url, "https://s");
    ck_assert_uint_eq(rm->resource->n_entity_refs, 1);
    ck_assert_str_eq(rm->resource->entity_refs[0]->type, "host");
    ck_assert_uint_eq(rm->resource->entity_refs[0]->n_id_keys, 2);
    ck_assert_str_eq(rm->resource->entity_refs[0]->id_keys[1], "");
    const Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = rm->scope_metrics[0]->scope;
    ck_assert(sc->has_dropped_attributes_count && sc->dropped_attributes_count == 2);
    assert_kv_str(sc->attributes[0], "a", "b");
    const metric *m = rm->scope_metrics[0]->metrics[0];
    ck_assert_uint_eq(m->n_metadata, 1);
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
    ck_assert_int_eq(m->exponential_histogram->aggregation_temporality, 1);
    const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *e = m->exponential_histogram->data_points[0];
    ck_assert_uint_eq(e->count, 6);
    ck_assert(e->has_sum && e->sum == 1.5);
    ck_assert(e->has_scale && e->scale == -2);
    ck_assert_uint_eq(e->zero_count, 1);
    ck_assert(e->has_zero_threshold && e->zero_threshold == 0.001);
    ck_assert_int_eq(e->positive->offset, -1);
    ck_assert_uint_eq(e->positive->n_bucket_counts, 2);
    ck_assert_uint_eq(e->positive->bucket_counts[1], 3);
    ck_assert_ptr_nonnull(e->negative);
    ck_assert_uint_eq(e->negative->n_bucket_counts, 0);
    ck_assert(e->has_min && e->min == -1 && e->has_max && e->max == 9);
    m = rm->scope_metrics[0]->metrics[1];
    ck_assert_int_eq(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
    const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *s = m->summary->data_points[0];
    ck_assert_uint_eq(s->count, 3);
    ck_assert(!s->has_sum); /* summary sum has no presence upstream */
    ck_assert_uint_eq(s->n_quantile_values, 2);
    ck_assert(s->quantile_values[0]->quantile == 0.5 && s->quantile_values[1]->value == 3);
}
END_TEST

START_TEST(empty_and_unknown)
{
    ck_assert_uint_eq(decode_ok("{}")->n_resource_metrics, 0);
    ck_assert_uint_eq(decode_ok(" \n{ }\r\n\t")->n_resource_metrics, 0);
    ck_assert_uint_eq(decode_ok("{\"resourceMetrics\":null}")->n_resource_metrics, 0);
    ck_assert_uint_eq(decode_ok("{\"resourceMetrics\":[]}")->n_resource_metrics, 0);
    char x[1024], y[1024];
    assert_same_tree(
        "{\"future\":{\"deep\":[1,{\"x\":null}]},\"resourceMetrics\":[{\"resource\":{\"attributes\":[],\"whatever\":3},"
        "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"Name\":5,\"gauge\":{\"dataPoints\":[{\"asInt\":1,\"as_int_x\":\"q\"}]}}]}]}]}",
        "{\"resourceMetrics\":[{\"resource\":{},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\",\"gauge\":{\"dataPoints\":[{\"asInt\":1}]}}]}]}]}");
    /* null members are absent; a oneof member set to null leaves the case unset. */
    assert_same_tree(with_point(x, sizeof x, "gauge", "{\"asInt\":null,\"timeUnixNano\":null}"),
                     with_point(y, sizeof y, "gauge", "{}"));
}
END_TEST

/* ---- every field of every message type ----------------------------------- */

/* One request that sets every field of every OTLP metrics message to a
 * non-default value (each oneof member in some message), camelCase.  No
 * uppercase letters in values, so snake_of() can respell its keys. */
static const char ALL_FIELDS[] =
    "{\"resourceMetrics\":[{\"schemaUrl\":\"r\",\"resource\":{\"droppedAttributesCount\":1,"
    "\"attributes\":[{\"key\":\"s\",\"keyStrindex\":3,\"value\":{\"stringValue\":\"v\"}},"
    "{\"key\":\"b\",\"value\":{\"boolValue\":true}},{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":0.5}},{\"key\":\"y\",\"value\":{\"bytesValue\":\"abcd\"}},"
    "{\"key\":\"x\",\"value\":{\"stringValueStrindex\":4}},"
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":1}]}}},"
    "{\"key\":\"k\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\",\"value\":{\"boolValue\":true}}]}}}],"
    "\"entityRefs\":[{\"schemaUrl\":\"e\",\"type\":\"host\",\"idKeys\":[\"host.id\"],\"descriptionKeys\":[\"host.name\"]}]},"
    "\"scopeMetrics\":[{\"schemaUrl\":\"s\",\"scope\":{\"name\":\"lib\",\"version\":\"1\",\"droppedAttributesCount\":2,"
    "\"attributes\":[{\"key\":\"sa\",\"value\":{\"stringValue\":\"sv\"}}]},\"metrics\":["
    "{\"name\":\"g\",\"description\":\"d\",\"unit\":\"u\",\"metadata\":[{\"key\":\"m\",\"value\":{\"intValue\":1}}],"
    "\"gauge\":{\"dataPoints\":[{\"attributes\":[{\"key\":\"p\",\"value\":{\"stringValue\":\"q\"}}],"
    "\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"asDouble\":1.5,\"flags\":1,\"exemplars\":[{"
    "\"filteredAttributes\":[{\"key\":\"f\",\"value\":{\"intValue\":2}}],\"timeUnixNano\":\"3\",\"asInt\":\"4\","
    "\"spanId\":\"0102030405060708\",\"traceId\":\"a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8\"}]}]}},"
    "{\"name\":\"s\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[{\"asInt\":-7,"
    "\"exemplars\":[{\"asDouble\":2.5}]}]}},"
    "{\"name\":\"h\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{\"attributes\":[{\"key\":\"h\"}],"
    "\"startTimeUnixNano\":5,\"timeUnixNano\":6,\"count\":\"3\",\"sum\":4.5,\"bucketCounts\":[\"1\",2],"
    "\"explicitBounds\":[1.0],\"exemplars\":[{\"asInt\":1}],\"flags\":1,\"min\":0.5,\"max\":3}]}},"
    "{\"name\":\"e\",\"exponentialHistogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{"
    "\"attributes\":[{\"key\":\"e\"}],\"startTimeUnixNano\":7,\"timeUnixNano\":8,\"count\":\"18446744073709551615\","
    "\"sum\":9.5,\"scale\":-3,\"zeroCount\":\"2\",\"positive\":{\"offset\":\"-4\",\"bucketCounts\":[\"18446744073709551614\",0]},"
    "\"negative\":{\"offset\":5,\"bucketCounts\":[6]},\"flags\":1,\"exemplars\":[{\"asDouble\":-1}],"
    "\"min\":-2,\"max\":11,\"zeroThreshold\":1e-9}]}},"
    "{\"name\":\"q\",\"summary\":{\"dataPoints\":[{\"attributes\":[{\"key\":\"q\"}],\"startTimeUnixNano\":9,"
    "\"timeUnixNano\":10,\"count\":4,\"sum\":8.5,\"quantileValues\":[{\"quantile\":0.5,\"value\":2}],\"flags\":1}]}}"
    "]}]}]}";

/* The same document with snake_case keys ("timeUnixNano" -> "time_unix_nano"). */
static const char *snake_of(const char *camel, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *s = camel; *s; s++) {
        ck_assert_uint_lt(n + 2, cap);
        if (*s >= 'A' && *s <= 'Z') {
            buf[n++] = '_';
            buf[n++] = (char)(*s - 'A' + 'a');
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Which fields of which message types hold a value, found by walking a tree
 * with protobuf-c's descriptors (proto2: has_x, a oneof case, a count, or a
 * non-NULL pointer). */
struct seen {
    const ProtobufCMessageDescriptor *d[32];
    uint32_t fields[32]; /* bit i: d->fields[i] */
    size_t n;
};

static void mark_fields(struct seen *s, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    size_t k = 0;
    while (k < s->n && s->d[k] != d)
        k++;
    if (k == s->n) {
        ck_assert_uint_lt(s->n, 32);
        s->d[s->n++] = d;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *q = base + f->quantifier_offset, *p = base + f->offset;
        size_t n = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            memcpy(&n, q, sizeof n);
        else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            n = *(const uint32_t *)q == f->id;
        else if (f->quantifier_offset)
            n = *(const protobuf_c_boolean *)q != 0;
        else
            n = *(void *const *)p != NULL;
        if (n)
            s->fields[k] |= 1u << i;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !n)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            for (size_t j = 0; j < n; j++)
                mark_fields(s, (*(ProtobufCMessage *const *const *)p)[j]);
        else
            mark_fields(s, *(ProtobufCMessage *const *)p);
    }
}

START_TEST(every_field_of_every_message)
{
    static char snake[sizeof ALL_FIELDS * 2];
    ob_otlp_request *req = decode_ok(ALL_FIELDS);
    struct seen s = {.n = 0};
    mark_fields(&s, &req->base);
    ck_assert_uint_eq(s.n, 23); /* every message type the request can hold */
    for (size_t k = 0; k < s.n; k++)
        for (unsigned i = 0; i < s.d[k]->n_fields; i++)
            ck_assert_msg(s.fields[k] & 1u << i, "%s.%s not decoded", s.d[k]->short_name,
                          s.d[k]->fields[i].name);
    assert_same_tree(ALL_FIELDS, snake_of(ALL_FIELDS, snake, sizeof snake));

    /* Values of each kind land in the right members. */
    const Opentelemetry__Proto__Resource__V1__Resource *r = req->resource_metrics[0]->resource;
    ck_assert_int_eq(r->attributes[0]->key_strindex, 3);
    ck_assert_int_eq(r->attributes[2]->value->int_value, -5);
    ck_assert(r->attributes[3]->value->double_value == 0.5);
    ck_assert_uint_eq(r->attributes[4]->value->bytes_value.len, 3);
    ck_assert(memcmp(r->attributes[4]->value->bytes_value.data, "\x69\xb7\x1d", 3) == 0);
    ck_assert_int_eq(r->attributes[5]->value->string_value_strindex, 4);
    ck_assert_str_eq(r->entity_refs[0]->description_keys[0], "host.name");
    metric *const *ms = req->resource_metrics[0]->scope_metrics[0]->metrics;
    const exemplar *ex = ms[0]->gauge->data_points[0]->exemplars[0];
    ck_assert_int_eq(ex->as_int, 4);
    ck_assert(memcmp(ex->span_id.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    ck_assert(ex->trace_id.len == 16 && ex->trace_id.data[15] == 0xb8);
    ck_assert_int_eq(ms[1]->sum->data_points[0]->as_int, -7);
    const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *e =
        ms[3]->exponential_histogram->data_points[0];
    ck_assert_uint_eq(e->count, UINT64_MAX);
    ck_assert_int_eq(e->scale, -3);
    ck_assert_int_eq(e->positive->offset, -4);
    ck_assert_uint_eq(e->positive->n_bucket_counts, 2);
    ck_assert_uint_eq(e->positive->bucket_counts[0], UINT64_MAX - 1);
    ck_assert_uint_eq(e->positive->bucket_counts[1], 0);
    ck_assert(e->negative->has_offset && e->negative->offset == 5);
    ck_assert_uint_eq(e->negative->bucket_counts[0], 6);
    ck_assert(e->zero_threshold == 1e-9 && e->min == -2 && e->max == 11);
    ck_assert_int_eq(e->exemplars[0]->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE);
    const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *q = ms[4]->summary->data_points[0];
    ck_assert(q->has_sum && q->sum == 8.5 && q->has_flags && q->flags == 1);
    ck_assert(q->quantile_values[0]->quantile == 0.5 && q->quantile_values[0]->value == 2);
}
END_TEST

/* Enum values by every name the schema gives them; unknown numbers pass
 * through as protobuf-c passes them; unknown names and non-integers fail. */
START_TEST(enum_names)
{
    const ProtobufCEnumDescriptor *ed = &opentelemetry__proto__metrics__v1__aggregation_temporality__descriptor;
    char x[512];
    ck_assert_uint_eq(ed->n_values, 3);
    for (unsigned i = 0; i < ed->n_values; i++) {
        snprintf(x, sizeof x, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":"
                 "{\"aggregationTemporality\":\"%s\"}}]}]}]}", ed->values[i].name);
        const Opentelemetry__Proto__Metrics__V1__Histogram *h =
            decode_ok(x)->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram;
        ck_assert_int_eq(h->aggregation_temporality, ed->values[i].value);
        ck_assert_int_eq(h->has_aggregation_temporality, ed->values[i].value != 0);
    }
    const Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *e = decode_ok(
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"exponentialHistogram\":"
        "{\"aggregationTemporality\":7}}]}]}]}")->resource_metrics[0]->scope_metrics[0]->metrics[0]->exponential_histogram;
    ck_assert(e->has_aggregation_temporality && e->aggregation_temporality == 7);
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":"
               "{\"aggregationTemporality\":\"aggregation_temporality_delta\"}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.aggregationTemporality: "
               "unknown AggregationTemporality name");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":"
               "{\"aggregation_temporality\":true}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregation_temporality: expected an integer");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":"
               "{\"aggregationTemporality\":2147483648}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality: integer out of range");
}
END_TEST

/* has_x per kind of field: zeros of fields without presence upstream stay
 * absent, presence fields and oneof members are there whenever sent. */
START_TEST(presence_per_kind)
{
    char x[2048];
    ob_otlp_request *req = decode_ok(
        "{\"resourceMetrics\":[{\"resource\":{\"droppedAttributesCount\":0,\"attributes\":[{\"key\":\"k\",\"keyStrindex\":0,"
        "\"value\":{\"intValue\":0}},{\"key\":\"\",\"value\":{\"stringValue\":\"\"}},{\"value\":{\"boolValue\":false}},"
        "{\"value\":{\"doubleValue\":0,\"stringValue\":\"last wins\"}}]},"
        "\"scopeMetrics\":[{\"scope\":{\"name\":\"\",\"droppedAttributesCount\":0},\"metrics\":["
        "{\"name\":\"\",\"sum\":{\"aggregationTemporality\":0,\"isMonotonic\":false,\"dataPoints\":[{\"asDouble\":0,"
        "\"exemplars\":[{\"asInt\":0,\"timeUnixNano\":0,\"spanId\":\"\",\"traceId\":\"\"}]}]}},"
        "{\"exponentialHistogram\":{\"dataPoints\":[{\"count\":0,\"sum\":0,\"min\":-0.0,\"max\":0,\"scale\":0,"
        "\"zeroCount\":0,\"zeroThreshold\":0,\"flags\":0,\"positive\":{\"offset\":0}}]}},"
        "{\"summary\":{\"dataPoints\":[{\"sum\":-0.0,\"count\":0,\"quantileValues\":[{\"quantile\":0,\"value\":-1}]}]}}]}]}]}");
    const Opentelemetry__Proto__Resource__V1__Resource *r = req->resource_metrics[0]->resource;
    ck_assert(!r->has_dropped_attributes_count);
    ck_assert(!r->attributes[0]->has_key_strindex);
    ck_assert_int_eq(r->attributes[0]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
    ck_assert_ptr_null(r->attributes[1]->key); /* "" outside a oneof: absent */
    ck_assert_str_eq(r->attributes[1]->value->string_value, ""); /* inside one: kept */
    ck_assert_int_eq(r->attributes[2]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
    ck_assert_int_eq(r->attributes[3]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
    ck_assert_str_eq(r->attributes[3]->value->string_value, "last wins");
    const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[0]->scope_metrics[0];
    ck_assert_ptr_null(sm->scope->name);
    ck_assert(!sm->scope->has_dropped_attributes_count);
    ck_assert_ptr_null(sm->metrics[0]->name);
    const Opentelemetry__Proto__Metrics__V1__Sum *su = sm->metrics[0]->sum;
    ck_assert(!su->has_aggregation_temporality && !su->has_is_monotonic);
    ck_assert_int_eq(su->data_points[0]->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    const exemplar *ex = su->data_points[0]->exemplars[0];
    ck_assert_int_eq(ex->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT);
    ck_assert(!ex->has_time_unix_nano && !ex->has_span_id && !ex->has_trace_id);
    const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *e =
        sm->metrics[1]->exponential_histogram->data_points[0];
    ck_assert(e->has_sum && e->has_min && e->has_max); /* proto3 `optional` upstream */
    ck_assert(signbit(e->min));
    ck_assert(!e->has_count && !e->has_scale && !e->has_zero_count && !e->has_zero_threshold && !e->has_flags);
    ck_assert(!e->positive->has_offset);
    const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *q = sm->metrics[2]->summary->data_points[0];
    ck_assert(q->has_sum && signbit(q->sum)); /* -0.0 is not the proto3 default */
    ck_assert(!q->has_count);
    ck_assert(!q->quantile_values[0]->has_quantile && q->quantile_values[0]->has_value);
    /* A histogram's zero sum/min/max were tested in `presence`; all three
     * absent stay absent here too. */
    req = decode_ok(with_point(x, sizeof x, "exponentialHistogram", "{\"count\":1}"));
    e = req->resource_metrics[0]->scope_metrics[0]->metrics[0]->exponential_histogram->data_points[0];
    ck_assert(!e->has_sum && !e->has_min && !e->has_max && e->has_count);
}
END_TEST

START_TEST(errors_name_the_field)
{
    char x[1024];
    /* The brief's example path: third metric, a sum point. */
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{},{\"gauge\":{}},"
               "{\"sum\":{\"dataPoints\":[{\"asInt\":{}}]}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[2].sum.dataPoints[0].asInt: expected an integer");
    /* Keys are quoted as sent. */
    decode_err("{\"resource_metrics\":[{\"scope_metrics\":[{\"metrics\":[{\"gauge\":{\"data_points\":[{},{\"as_int\":1.5}]}}]}]}]}",
               "resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[1].as_int: expected an integer");
    decode_err(with_point(x, sizeof x, "histogram", "{\"count\":-1}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].count: expected an unsigned integer");
    decode_err(with_point(x, sizeof x, "histogram", "{\"bucketCounts\":[1,\"x\"]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an integer");
    decode_err(with_point(x, sizeof x, "gauge", "{\"timeUnixNano\":\"12a\"}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: expected an integer");
    decode_err(with_point(x, sizeof x, "gauge", "{\"timeUnixNano\":\"18446744073709551616\"}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"timeUnixNano\":1e20}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"asInt\":9223372036854775808}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"asInt\":\"-9223372036854775809\"}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt: integer out of range");
    /* Beyond 64 bits json-c clamps a literal; we refuse rather than misread. */
    decode_err(with_point(x, sizeof x, "gauge", "{\"startTimeUnixNano\":99999999999999999999999}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].startTimeUnixNano: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"asDouble\":-99999999999999999999999}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"flags\":4294967296}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].flags: integer out of range");
    decode_err(with_point(x, sizeof x, "gauge", "{\"asDouble\":\"1,5\"}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: expected a number");
    decode_err(with_point(x, sizeof x, "gauge", "{\"asDouble\":true}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: expected a number");
    decode_err(with_point(x, sizeof x, "gauge", "{\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"ab!d\"}}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes[0].value.bytesValue: invalid base64");
    decode_err(with_point(x, sizeof x, "gauge", "{\"attributes\":[{\"key\":7}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes[0].key: expected a string");
    decode_err(with_point(x, sizeof x, "gauge", "{\"attributes\":[null]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes[0]: expected an object");
    decode_err(with_point(x, sizeof x, "sum", "{\"exemplars\":[{\"spanId\":\"abc\"}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].spanId: expected an even number of hex digits");
    decode_err(with_point(x, sizeof x, "sum", "{\"exemplars\":[{\"traceId\":\"zz\"}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].traceId: expected hex digits");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"isMonotonic\":\"true\"}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: expected a boolean");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"aggregationTemporality\":\"CUMULATIVE\"}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality: unknown AggregationTemporality name");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":[]}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].name: expected a string");
    decode_err("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":{}}}]}]}]}",
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints: expected an array");
    decode_err("{\"resourceMetrics\":{}}", "resourceMetrics: expected an array");
    decode_err("[]", "request: expected an object");
    decode_err("5", "request: expected an object");
    decode_err("\"x\"", "request: expected an object");
}
END_TEST

START_TEST(syntax_errors)
{
    decode_err("{\"resourceMetrics\":[", "JSON parse error at offset 20: unexpected end of data");
    decode_err("{} x", "JSON parse error at offset 3: unexpected character");
    decode_err("{\"a\":1,}", "JSON parse error at offset 7: unexpected character");
    decode_err("", "JSON parse error at offset 0: unexpected end of data");
    decode_err("{\"a\" 1}", "JSON parse error at offset 5: object property name separator ':' expected");
    /* A NUL byte inside the body: json-c stops there; we refuse. */
    ob_otlp_request *req = NULL;
    ck_assert_int_eq(ob_otlp_json_decode(&arena, "{}\0{}", 5, &req, err, sizeof err), OB_E_MALFORMED);
    ck_assert_ptr_null(req);
    ck_assert_ptr_nonnull(strstr(err, "JSON parse error at offset"));
    ck_assert_int_eq(ob_otlp_json_decode(&arena, "{\"a\":\0}", 7, &req, err, sizeof err), OB_E_MALFORMED);
    /* The error buffer is never overrun and always terminated. */
    char small[8];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(ob_otlp_json_decode(&arena, "[]", 2, &req, small, sizeof small), OB_E_MALFORMED);
    ck_assert_str_eq(small, "request");
    ck_assert_int_eq(ob_otlp_json_decode(&arena, "[]", 2, &req, NULL, 0), OB_E_MALFORMED);
}
END_TEST

static void nest_values(char *buf, size_t cap, int levels, bool kvlist)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":");
    for (int i = 1; i < levels; i++)
        n += (size_t)snprintf(buf + n, cap - n, kvlist ? "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":"
                                                       : "{\"arrayValue\":{\"values\":[");
    n += (size_t)snprintf(buf + n, cap - n, "{\"intValue\":1}");
    for (int i = 1; i < levels; i++)
        n += (size_t)snprintf(buf + n, cap - n, kvlist ? "}]}}" : "]}}");
    snprintf(buf + n, cap - n, "}]}}]}");
}

START_TEST(nesting_depth)
{
    static char buf[64 * 1024];
    nest_values(buf, sizeof buf, OB_OTLP_JSON_MAX_VALUE_DEPTH, false);
    ob_otlp_request *req = decode_ok(buf);
    const any_value *v = req->resource_metrics[0]->resource->attributes[0]->value;
    for (int i = 1; i < OB_OTLP_JSON_MAX_VALUE_DEPTH; i++)
        v = v->array_value->values[0];
    ck_assert_int_eq(v->int_value, 1);
    nest_values(buf, sizeof buf, OB_OTLP_JSON_MAX_VALUE_DEPTH, true);
    decode_ok(buf);

    nest_values(buf, sizeof buf, OB_OTLP_JSON_MAX_VALUE_DEPTH + 1, false);
    ob_otlp_request *out = NULL;
    ck_assert_int_eq(ob_otlp_json_decode(&arena, buf, strlen(buf), &out, err, sizeof err), OB_E_MALFORMED);
    static const char head[] = "resourceMetrics[0].resource.attributes[0].value.arrayValue.values[0].arrayValue";
    ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "values nested too deeply"));
    nest_values(buf, sizeof buf, OB_OTLP_JSON_MAX_VALUE_DEPTH + 1, true);
    ck_assert_int_eq(ob_otlp_json_decode(&arena, buf, strlen(buf), &out, err, sizeof err), OB_E_MALFORMED);
    ck_assert_msg(strstr(err, ".kvlistValue.values[0].value: values nested too deeply") != NULL, "%s", err);

    /* Far deeper than any request: json-c's own limit stops the parse. */
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        buf[n++] = '[';
    buf[n] = '\0';
    ck_assert_int_eq(ob_otlp_json_decode(&arena, buf, n, &out, err, sizeof err), OB_E_MALFORMED);
    ck_assert_msg(strstr(err, "nesting too deep") != NULL, "%s", err);
}
END_TEST

/* Every prefix and many byte mutations of a valid body: an error or a tree,
 * never a crash or a leak (this suite also runs under ASan/UBSan). */
START_TEST(truncations_and_mutations)
{
    size_t len;
    char *body = slurp(CALC_JSON, &len);
    while (len && (body[len - 1] == '\n' || body[len - 1] == ' '))
        len--;
    char *copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    for (size_t cut = 0; cut < len; cut++) {
        ob_arena_reset(&arena);
        memcpy(copy, body, cut); /* exact-size buffer: ASan sees any over-read */
        ob_otlp_request *req = NULL;
        int rc = ob_otlp_json_decode(&arena, copy, cut, &req, err, sizeof err);
        ck_assert_msg(rc == OB_E_MALFORMED, "prefix %zu: rc %d", cut, rc);
        ck_assert(err[0] != '\0');
    }
    static const char junk[] = "{}[]\",:0-9eE.\\ntx\x80\xff";
    srand(7);
    for (int i = 0; i < 20000; i++) {
        ob_arena_reset(&arena);
        memcpy(copy, body, len);
        for (int j = rand() % 3; j >= 0; j--)
            copy[(size_t)rand() % len] = junk[rand() % (int)(sizeof junk - 1)];
        ob_otlp_request *req = NULL;
        int rc = ob_otlp_json_decode(&arena, copy, len, &req, err, sizeof err);
        ck_assert_msg(rc == 0 || rc == OB_E_MALFORMED, "mutation %d: rc %d", i, rc);
        ck_assert(rc != 0 || req != NULL);
        if (rc == 0) { /* whatever decoded must pack (a consistent tree) */
            size_t n;
            free(pack(req, &n));
        }
    }
    free(copy);
    free(body);
}
END_TEST

struct thread_arg {
    const char *body;
    size_t len;
    int ok;
};

static void *decode_thread(void *p)
{
    struct thread_arg *t = p;
    struct ob_arena a;
    char e[OB_ERR_LEN];
    ob_arena_init(&a, 16 * 1024);
    for (int i = 0; i < 200; i++) {
        ob_otlp_request *req = NULL;
        ob_arena_reset(&a);
        if (ob_otlp_json_decode(&a, t->body, t->len, &req, e, sizeof e) == 0 &&
            req->resource_metrics[0]->scope_metrics[0]->n_metrics == 4)
            t->ok++;
        ob_arena_reset(&a);
        if (ob_otlp_json_decode(&a, "{\"x\":", 5, &req, e, sizeof e) == OB_E_MALFORMED)
            t->ok++;
    }
    ob_arena_fini(&a);
    return NULL;
}

START_TEST(threads)
{
    size_t len;
    char *body = slurp(CALC_JSON, &len);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){body, len, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, decode_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(args[i].ok, 400);
    }
    free(body);
}
END_TEST

/* ---- response ------------------------------------------------------------- */

static void expect_response(int64_t rejected, const char *msg, const char *want)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert_int_eq(ob_otlp_json_encode_response(rejected, msg, &b), 0);
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_msg(memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len, b.data);
    ob_buf_fini(&b);
}

START_TEST(response)
{
    expect_response(0, NULL, "{}");
    expect_response(0, "", "{}");
    expect_response(3, "metric x: bad", "{\"partialSuccess\":{\"rejectedDataPoints\":\"3\",\"errorMessage\":\"metric x: bad\"}}");
    expect_response(9223372036854775807, NULL, "{\"partialSuccess\":{\"rejectedDataPoints\":\"9223372036854775807\"}}");
    expect_response(0, "warning", "{\"partialSuccess\":{\"errorMessage\":\"warning\"}}");
    expect_response(1, "q\"b\\s/\n\t\r\x01\x1f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                    "{\"partialSuccess\":{\"rejectedDataPoints\":\"1\",\"errorMessage\":"
                    "\"q\\\"b\\\\s/\\n\\t\\r\\u0001\\u001f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}");
    /* Invalid UTF-8 (stray continuation, overlong, surrogate, truncated) -> U+FFFD per byte. */
    expect_response(1, "a\x80z\xc0\xaf\xed\xa0\x80\xe2\x82",
                    "{\"partialSuccess\":{\"rejectedDataPoints\":\"1\",\"errorMessage\":\"a\xef\xbf\xbdz"
                    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}}");
}
END_TEST

/* The response is strict JSON: json-c accepts it (the decoder ignores the
 * unknown partialSuccess member, so a valid object decodes to an empty request). */
START_TEST(response_is_json)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ck_assert_int_eq(ob_otlp_json_encode_response(5, "x\"\x01\xff", &b), 0);
    ob_otlp_request *req = NULL;
    ck_assert_int_eq(ob_otlp_json_decode(&arena, b.data, b.len, &req, err, sizeof err), 0);
    ck_assert_uint_eq(req->n_resource_metrics, 0);
    ob_buf_fini(&b);
}
END_TEST

Suite *otlp_json_suite(void);
Suite *otlp_json_suite(void)
{
    Suite *s = suite_create("otlp_json");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, calculator_js_sdk);
    tcase_add_test(tc, snake_case_names);
    tcase_add_test(tc, numbers_and_strings);
    tcase_add_test(tc, presence);
    tcase_add_test(tc, any_value_kinds);
    tcase_add_test(tc, exemplar_ids);
    tcase_add_test(tc, nan_and_infinity);
    tcase_add_test(tc, other_kinds);
    tcase_add_test(tc, empty_and_unknown);
    tcase_add_test(tc, every_field_of_every_message);
    tcase_add_test(tc, enum_names);
    tcase_add_test(tc, presence_per_kind);
    tcase_add_test(tc, errors_name_the_field);
    tcase_add_test(tc, syntax_errors);
    tcase_add_test(tc, nesting_depth);
    tcase_add_test(tc, truncations_and_mutations);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    TCase *tt = tcase_create("threads");
    tcase_add_test(tt, threads);
    tcase_set_timeout(tt, 60);
    suite_add_tcase(s, tt);

    TCase *tr = tcase_create("response");
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, response);
    tcase_add_test(tr, response_is_json);
    suite_add_tcase(s, tr);
    return s;
}
