/* test_request.c: the frontend-neutral request path (ob_request.h) against
 * the real store and the default translator: limits, gunzip, decode, the
 * response in the request's format, outcomes and their counts. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest_fixture.h"
#include "ob_buf.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_log.h"
#include "ob_time.h"
#include "ob_payloads.h"
#include "ob_translator_host.h"
#include "ob_request.h"
#include "ob_selfmetrics.h"
#include "ob_store.h"

static struct ingest_fixture fx;
static struct ob_ingest *ingest;
static struct ob_request_bufs bufs;

static void setup(void)
{
    ingest_fixture_open(&fx, "request", 1000, NULL, 0);
    ingest = fx.ingest;
    ob_sm_reset();
    bufs = (struct ob_request_bufs){0};
}

static void teardown(void)
{
    ob_request_bufs_fini(&bufs);
    ingest_fixture_close(&fx);
}

static void peer(const void *ctx, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", (const char *)ctx);
}

static struct ob_request request(enum ob_payload_format fmt, enum ob_body_encoding enc,
                                 const struct ob_buf *body)
{
    return (struct ob_request){.fe = OB_FE_ZMQ, .format = fmt, .encoding = enc,
                               .body = body->data ? body->data : "", .len = body->len,
                               .peer = peer, .peer_ctx = "test"};
}

START_TEST(accepted_plain_and_gzip)
{
    struct ob_request_path path = {.ingest = ingest, .max_body = 1u << 20};
    struct ob_buf body, z;
    ob_buf_init(&body);
    ob_buf_init(&z);
    int64_t ts = ob_now_ns() / 1000000 * 1000000;
    ck_assert_int_eq(ob_payload_calculator(&body, ts - 1000000000, ts, 1), 0);
    struct ob_request rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_IDENTITY, &body);
    struct ob_verdict v;
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_OK);
    ck_assert_uint_eq(v.response_len, 0); /* all accepted: an empty protobuf response */
    ck_assert_uint_gt(v.result.points, 0);
    uint64_t points = v.result.points;

    ck_assert_int_eq(ob_gzip(body.data, body.len, 6, &z), 0);
    rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_GZIP, &z);
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_OK);
    ck_assert_uint_eq(v.result.points, points);

    char line[128];
    snprintf(line, sizeof line, "otlp_broker_data_points_received_total{frontend=\"zmq\"} %llu\n",
             (unsigned long long)(2 * points));
    ck_assert(selfmetrics_have(line));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"ok\"} 2\n"));
    /* The bytes as sent: the plain body and the compressed one, not inflated. */
    snprintf(line, sizeof line, "otlp_broker_received_bytes_total{frontend=\"zmq\"} %zu\n",
             body.len + z.len);
    ck_assert_msg(selfmetrics_have(line), "missing %s", line);
    ck_assert(selfmetrics_have("otlp_broker_received_bytes_total{frontend=\"http\"} 0\n"));
    ck_assert(selfmetrics_have("otlp_broker_received_bytes_total{frontend=\"grpc\"} 0\n"));
    ob_buf_fini(&body);
    ob_buf_fini(&z);
}
END_TEST

/* A rejected point: partial, with the response in the request's format and
 * the reason most points had. */
START_TEST(partial_in_both_formats)
{
    struct ob_request_path path = {.ingest = ingest, .max_body = 1u << 20};
    struct ob_buf body;
    ob_buf_init(&body);
    ck_assert_int_eq(ob_payload_unspecified_sum(&body, ob_now_ns()), 0);
    struct ob_request rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_IDENTITY, &body);
    struct ob_verdict v;
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_PARTIAL);
    ck_assert_int_eq(v.reason, OB_REASON_TEMPORALITY);
    ck_assert_uint_gt(v.response_len, 0);
    ck_assert_ptr_nonnull(strstr(v.message, "temporality"));
    uint64_t zmq_rejected = v.result.rejected;
    ck_assert_uint_gt(zmq_rejected, 0);

    static const char json[] =
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"d\",\"sum\":{"
        "\"dataPoints\":[{\"timeUnixNano\":\"1\",\"asInt\":\"1\"}]}}]}]}]}";
    struct ob_buf jb = {.data = (char *)json, .len = sizeof json - 1};
    rq = request(OB_PAYLOAD_JSON, OB_ENC_IDENTITY, &jb);
    rq.fe = OB_FE_HTTP; /* counted under the frontend the request names */
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_PARTIAL);
    ck_assert_uint_gt(v.response_len, 0);
    ck_assert_int_eq(((const char *)v.response)[0], '{');
    ck_assert_uint_eq(v.result.rejected, 1);
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"partial\"} 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"http\",outcome=\"partial\"} 1\n"));
    char line[128];
    snprintf(line, sizeof line,
             "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"temporality\"} %llu\n",
             (unsigned long long)zmq_rejected);
    ck_assert_msg(selfmetrics_have(line), "missing %s", line);
    ck_assert(selfmetrics_have(
        "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"temporality\"} 1\n"));
    ck_assert(selfmetrics_have(
        "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"temporality\"} 0\n"));
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON_TEMPORALITY), zmq_rejected + 1);
    snprintf(line, sizeof line, "otlp_broker_received_bytes_total{frontend=\"http\"} %zu\n",
             sizeof json - 1);
    ck_assert_msg(selfmetrics_have(line), "missing %s", line);
    ob_buf_fini(&body);
}
END_TEST

START_TEST(refusals)
{
    struct ob_request_path path = {.ingest = ingest, .max_body = 1000};
    struct ob_verdict v;
    struct ob_buf body;
    ob_buf_init(&body);
    /* Over the limit as sent. */
    static char big[1001];
    struct ob_buf bb = {.data = big, .len = sizeof big};
    struct ob_request rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_IDENTITY, &bb);
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(v.message, "1001 bytes"));
    ck_assert_ptr_nonnull(strstr(v.message, "limits.max_body_bytes"));
    /* Over the limit inflated: a gzip bomb. */
    static char zeros[100000];
    ck_assert_int_eq(ob_gzip(zeros, sizeof zeros, 9, &body), 0);
    ck_assert_uint_lt(body.len, 1000);
    rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_GZIP, &body);
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(v.message, "inflates"));
    /* Broken gzip, and a body that does not decode. */
    body.len = 0;
    ck_assert_int_eq(ob_gzip("abc", 3, 6, &body), 0);
    body.len -= 3;
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_MALFORMED);
    struct ob_buf junk = {.data = "\xff\xff", .len = 2};
    rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_IDENTITY, &junk);
    ob_request_handle(&path, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_MALFORMED);
    ck_assert_ptr_null(v.response);
    /* Not ready. */
    struct ob_request_path none = {.ingest = NULL, .max_body = 1000};
    struct ob_buf empty = {0};
    rq = request(OB_PAYLOAD_PROTOBUF, OB_ENC_IDENTITY, &empty);
    ob_request_handle(&none, &rq, &bufs, &v);
    ck_assert_int_eq(v.outcome, OB_OUT_OVERLOADED);
    ck_assert_str_eq(v.message, "not ready");
    /* Refused by the transport, and a streamed body of unknown size. */
    ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, &v, "bad %s", "framing");
    ck_assert_int_eq(v.outcome, OB_OUT_UNSUPPORTED);
    ck_assert_str_eq(v.message, "bad framing");
    ck_assert(ob_request_over_limit(&path, &rq, UINT64_MAX, &v));
    ck_assert_str_eq(v.message, "request body is over the limit of 1000 bytes (limits.max_body_bytes)");
    ck_assert(!ob_request_over_limit(&path, &rq, 1000, &v));
    ck_assert(!ob_request_over_limit(&none, &rq, 0, &v));

    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"too_large\"} 3\n"));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"malformed\"} 2\n"));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"overloaded\"} 1\n"));
    ck_assert(selfmetrics_have("otlp_broker_requests_total{frontend=\"zmq\",outcome=\"unsupported\"} 1\n"));
    ob_buf_fini(&body);
}
END_TEST

START_TEST(encodings)
{
    enum ob_body_encoding e = OB_ENC_GZIP;
    ck_assert_int_eq(ob_request_encoding("", 0, &e), 0);
    ck_assert_int_eq(e, OB_ENC_IDENTITY);
    ck_assert_int_eq(ob_request_encoding(" GZip ", 6, &e), 0);
    ck_assert_int_eq(e, OB_ENC_GZIP);
    ck_assert_int_eq(ob_request_encoding("identity", 8, &e), 0);
    ck_assert_int_eq(e, OB_ENC_IDENTITY);
    ck_assert_int_eq(ob_request_encoding("br", 2, &e), OB_E_UNSUPPORTED);
    ck_assert_int_eq(ob_request_encoding("gzip, br", 8, &e), OB_E_UNSUPPORTED);
}
END_TEST

Suite *request_suite(void);
Suite *request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, accepted_plain_and_gzip);
    tcase_add_test(tc, partial_in_both_formats);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, encodings);
    suite_add_tcase(s, tc);
    return s;
}
