/* test_selfmetrics.c: counters and their exact text 0.0.4 rendering. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_selfmetrics.h"
#include "ob_store.h"

#ifndef OB_VERSION
#define OB_VERSION "unknown"
#endif

static const char *const head =
    "# HELP otlp_broker_build_info Version of the running broker.\n"
    "# TYPE otlp_broker_build_info gauge\n"
    "otlp_broker_build_info{version=\"" OB_VERSION "\"} 1\n"
    "# HELP otlp_broker_requests_total OTLP export requests received, by frontend and outcome.\n"
    "# TYPE otlp_broker_requests_total counter\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"ok\"} 3\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"partial\"} 0\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"malformed\"} 1\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"too_large\"} 0\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"unsupported\"} 0\n"
    "otlp_broker_requests_total{frontend=\"http\",outcome=\"overloaded\"} 0\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"ok\"} 0\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"partial\"} 1\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"malformed\"} 0\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"too_large\"} 0\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"unsupported\"} 0\n"
    "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"overloaded\"} 2\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"ok\"} 0\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"partial\"} 0\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"malformed\"} 0\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"too_large\"} 0\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"unsupported\"} 0\n"
    "otlp_broker_requests_total{frontend=\"grpc\",outcome=\"overloaded\"} 0\n"
    "# HELP otlp_broker_received_bytes_total Bytes of OTLP export request bodies received, as "
    "sent (before gunzip), by frontend.\n"
    "# TYPE otlp_broker_received_bytes_total counter\n"
    "otlp_broker_received_bytes_total{frontend=\"http\"} 0\n"
    "otlp_broker_received_bytes_total{frontend=\"zmq\"} 4096\n"
    "otlp_broker_received_bytes_total{frontend=\"grpc\"} 75\n"
    "# HELP otlp_broker_data_points_received_total OTLP data points received, by frontend.\n"
    "# TYPE otlp_broker_data_points_received_total counter\n"
    "otlp_broker_data_points_received_total{frontend=\"http\"} 1500\n"
    "otlp_broker_data_points_received_total{frontend=\"zmq\"} 18446744073709551615\n"
    "otlp_broker_data_points_received_total{frontend=\"grpc\"} 0\n"
    "# HELP otlp_broker_data_points_rejected_total OTLP data points rejected, by frontend and "
    "reason.\n"
    "# TYPE otlp_broker_data_points_rejected_total counter\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"out_of_bounds\"} 7\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"duplicate\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"limit\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"malformed\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"translation\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"temporality\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"type_conflict\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"unsupported\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"http\",reason=\"out_of_order\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"out_of_bounds\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"duplicate\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"limit\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"malformed\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"translation\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"temporality\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"type_conflict\"} 2\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"unsupported\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"zmq\",reason=\"out_of_order\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"out_of_bounds\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"duplicate\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"limit\"} 1\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"malformed\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"translation\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"temporality\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"type_conflict\"} 3\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"unsupported\"} 0\n"
    "otlp_broker_data_points_rejected_total{frontend=\"grpc\",reason=\"out_of_order\"} 0\n"
    "# HELP otlp_broker_series_collisions_total Samples written to a series last written from "
    "another OTLP identity.\n"
    "# TYPE otlp_broker_series_collisions_total counter\n"
    "otlp_broker_series_collisions_total 4\n"
    "# HELP otlp_broker_exemplars_stored_total Exemplars of accepted data points written to the "
    "store.\n"
    "# TYPE otlp_broker_exemplars_stored_total counter\n"
    "otlp_broker_exemplars_stored_total 6\n"
    "# HELP otlp_broker_exemplars_dropped_total Exemplars not kept (their data points are), by "
    "reason.\n"
    "# TYPE otlp_broker_exemplars_dropped_total counter\n"
    "otlp_broker_exemplars_dropped_total{reason=\"invalid\"} 1\n"
    "otlp_broker_exemplars_dropped_total{reason=\"type\"} 0\n"
    "otlp_broker_exemplars_dropped_total{reason=\"memory\"} 2\n";

static const char *const store_part =
    "# HELP otlp_broker_series_live Series in the store that are not expired.\n"
    "# TYPE otlp_broker_series_live gauge\n"
    "otlp_broker_series_live 42\n"
    "# HELP otlp_broker_series_max Series slots of the store (store.max_series).\n"
    "# TYPE otlp_broker_series_max gauge\n"
    "otlp_broker_series_max 100000\n"
    "# HELP otlp_broker_families_live Metric families in the store.\n"
    "# TYPE otlp_broker_families_live gauge\n"
    "otlp_broker_families_live 5\n"
    "# HELP otlp_broker_families_max Metric family slots of the store (store.max_families).\n"
    "# TYPE otlp_broker_families_max gauge\n"
    "otlp_broker_families_max 10000\n"
    "# HELP otlp_broker_store_bytes_used Bytes of the store heap (labels, shapes, samples) in "
    "use.\n"
    "# TYPE otlp_broker_store_bytes_used gauge\n"
    "otlp_broker_store_bytes_used 123456\n"
    "# HELP otlp_broker_store_bytes_capacity Bytes of the store heap.\n"
    "# TYPE otlp_broker_store_bytes_capacity gauge\n"
    "otlp_broker_store_bytes_capacity 67108864\n"
    "# HELP otlp_broker_store_mapping_bytes Size of the store's shared memory mapping.\n"
    "# TYPE otlp_broker_store_mapping_bytes gauge\n"
    "otlp_broker_store_mapping_bytes 80000000\n"
    "# HELP otlp_broker_store_exemplar_bytes Bytes of the store heap holding exemplars.\n"
    "# TYPE otlp_broker_store_exemplar_bytes gauge\n"
    "otlp_broker_store_exemplar_bytes 4096\n"
    "# HELP otlp_broker_store_exemplar_bytes_capacity Bytes of the store heap exemplars may take "
    "(store.exemplar_memory).\n"
    "# TYPE otlp_broker_store_exemplar_bytes_capacity gauge\n"
    "otlp_broker_store_exemplar_bytes_capacity 12800000\n"
    "# HELP otlp_broker_store_repairs_total Lock stripes repaired after a writer died holding "
    "them, since the store was attached.\n"
    "# TYPE otlp_broker_store_repairs_total counter\n"
    "otlp_broker_store_repairs_total 1\n";

static const char *const tail =
    "# HELP otlp_broker_name_cache_lookups_total Lookups in the ingest threads' translated-name "
    "caches, by cache and result.\n"
    "# TYPE otlp_broker_name_cache_lookups_total counter\n"
    "otlp_broker_name_cache_lookups_total{cache=\"families\",result=\"hit\"} 9\n"
    "otlp_broker_name_cache_lookups_total{cache=\"families\",result=\"miss\"} 1\n"
    "otlp_broker_name_cache_lookups_total{cache=\"labels\",result=\"hit\"} 0\n"
    "otlp_broker_name_cache_lookups_total{cache=\"labels\",result=\"miss\"} 3\n"
    "otlp_broker_name_cache_lookups_total{cache=\"metric_labels\",result=\"hit\"} 0\n"
    "otlp_broker_name_cache_lookups_total{cache=\"metric_labels\",result=\"miss\"} 0\n"
    "# HELP otlp_broker_name_cache_evictions_total Entries dropped from the name caches for being "
    "over their budget (limits.name_cache_entries, limits.name_cache_bytes), by cache.\n"
    "# TYPE otlp_broker_name_cache_evictions_total counter\n"
    "otlp_broker_name_cache_evictions_total{cache=\"families\"} 0\n"
    "otlp_broker_name_cache_evictions_total{cache=\"labels\"} 5\n"
    "otlp_broker_name_cache_evictions_total{cache=\"metric_labels\"} 0\n"
    "# HELP otlp_broker_name_cache_resets_total Times an ingest thread emptied its name caches "
    "for being over budget.\n"
    "# TYPE otlp_broker_name_cache_resets_total counter\n"
    "otlp_broker_name_cache_resets_total 1\n"
    "# HELP otlp_broker_scrape_duration_seconds Time taken to render the previous /metrics "
    "response.\n"
    "# TYPE otlp_broker_scrape_duration_seconds gauge\n"
    "otlp_broker_scrape_duration_seconds 0.0015\n"
    "# HELP otlp_broker_scrape_size_bytes Size of the previous /metrics response before "
    "compression.\n"
    "# TYPE otlp_broker_scrape_size_bytes gauge\n"
    "otlp_broker_scrape_size_bytes 2048\n"
    "# HELP otlp_broker_scrapes_total /metrics responses rendered.\n"
    "# TYPE otlp_broker_scrapes_total counter\n"
    "otlp_broker_scrapes_total 2\n"
    "# HELP otlp_broker_reloads_total Configuration reloads (SIGHUP, POST /-/reload), by "
    "result.\n"
    "# TYPE otlp_broker_reloads_total counter\n"
    "otlp_broker_reloads_total{result=\"success\"} 1\n"
    "otlp_broker_reloads_total{result=\"failure\"} 2\n";

static void bump(void)
{
    ob_sm_reset();
    for (int i = 0; i < 3; i++)
        ob_sm_request(OB_FE_HTTP, OB_OUT_OK);
    ob_sm_request(OB_FE_HTTP, OB_OUT_MALFORMED);
    ob_sm_request(OB_FE_ZMQ, OB_OUT_PARTIAL);
    ob_sm_request(OB_FE_ZMQ, OB_OUT_OVERLOADED);
    ob_sm_request(OB_FE_ZMQ, OB_OUT_OVERLOADED);
    ob_sm_points_received(OB_FE_HTTP, 1000);
    ob_sm_points_received(OB_FE_HTTP, 500);
    ob_sm_points_received(OB_FE_ZMQ, UINT64_MAX);
    ob_sm_received_bytes(OB_FE_ZMQ, 4000);
    ob_sm_received_bytes(OB_FE_ZMQ, 96);
    ob_sm_received_bytes(OB_FE_GRPC, 75);
    ob_sm_received_bytes(OB_FE_HTTP, 0);
    ob_sm_points_rejected(OB_FE_HTTP, OB_REASON_OUT_OF_BOUNDS, 7);
    ob_sm_points_rejected(OB_FE_ZMQ, OB_REASON_TYPE_CONFLICT, 2);
    ob_sm_points_rejected(OB_FE_GRPC, OB_REASON_TYPE_CONFLICT, 1);
    ob_sm_points_rejected(OB_FE_GRPC, OB_REASON_TYPE_CONFLICT, 2);
    ob_sm_points_rejected(OB_FE_GRPC, OB_REASON_LIMIT, 1);
    ob_sm_collisions(4);
    ob_sm_exemplars(5, (const uint64_t[OB_EXDROP__COUNT]){1, 0, 0});
    ob_sm_exemplars(1, (const uint64_t[OB_EXDROP__COUNT]){0, 0, 2});
    ob_sm_reload(true);
    ob_sm_reload(false);
    ob_sm_reload(false);
    ob_sm_scrape_done(2000000000, 999);
    ob_sm_scrape_done(1500000, 2048); /* the last one is shown */
    ob_sm_name_cache(OB_NAME_CACHE_FAMILIES, 9, 1, 0);
    ob_sm_name_cache(OB_NAME_CACHE_LABELS, 0, 3, 5);
    ob_sm_name_cache_reset();
    ob_sm_name_cache(OB_NAME_CACHE__COUNT, 1, 1, 1); /* dropped */
    /* Out-of-range enums are dropped, not written out of bounds. */
    ob_sm_request(OB_FE__COUNT, OB_OUT_OK);
    ob_sm_request(OB_FE_HTTP, OB_OUT__COUNT);
    ob_sm_points_received(OB_FE__COUNT, 1);
    ob_sm_points_rejected(OB_FE_HTTP, OB_REASON__COUNT, 1);
    ob_sm_points_rejected(OB_FE__COUNT, OB_REASON_LIMIT, 1);
    ob_sm_received_bytes(OB_FE__COUNT, 1);
}

static char *render(const struct ob_store_stats *st)
{
    struct ob_buf b;
    ob_buf_init(&b);
    ob_selfmetrics_render(st, &b);
    ck_assert(!b.failed);
    ob_buf_putc(&b, '\0');
    return b.data;
}

START_TEST(render_without_store)
{
    bump();
    char *got = render(NULL);
    char want[32768];
    snprintf(want, sizeof want, "%s%s", head, tail);
    ck_assert_str_eq(got, want);
    free(got);
}
END_TEST

START_TEST(render_with_store_and_plugin)
{
    bump();
    ob_sm_set_plugin(OB_FE_HTTP, "first");
    ob_sm_set_plugin(OB_FE_HTTP, "/opt/x \"y\"\\z.so"); /* latest wins; escaped */
    ob_sm_set_plugin(OB_FE_ZMQ, "second");
    struct ob_store_stats st = {.map_bytes = 80000000, .heap_bytes = 64u << 20,
                                .heap_used = 123456, .series_live = 42, .series_max = 100000,
                                .families = 5, .families_max = 10000, .repairs = 1,
                                .exemplar_bytes = 4096, .exemplar_budget = 12800000};
    char *got = render(&st);
    char want[32768];
    snprintf(want, sizeof want,
             "%s%s%s"
             "# HELP otlp_broker_translator_info Translator plugin in use, per listener.\n"
             "# TYPE otlp_broker_translator_info gauge\n"
             "otlp_broker_translator_info{listener=\"http\",plugin=\"/opt/x \\\"y\\\"\\\\z.so\"} 1\n"
             "otlp_broker_translator_info{listener=\"zmq\",plugin=\"second\"} 1\n",
             head, store_part, tail);
    ck_assert_str_eq(got, want);
    free(got);
}
END_TEST

/* Zeros are written too: every family and every label value from the start. */
START_TEST(zeros_present)
{
    ob_sm_reset();
    char *got = render(NULL);
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        for (int r = 0; r < OB_REASON__COUNT; r++) {
            char line[160];
            snprintf(line, sizeof line,
                     "otlp_broker_data_points_rejected_total{frontend=\"%s\",reason=\"%s\"} 0\n",
                     ob_frontend_name((enum ob_frontend)fe), ob_reason_name((enum ob_reason)r));
            ck_assert_msg(strstr(got, line), "missing %s", line);
        }
        char line[96];
        snprintf(line, sizeof line, "otlp_broker_received_bytes_total{frontend=\"%s\"} 0\n",
                 ob_frontend_name((enum ob_frontend)fe));
        ck_assert_msg(strstr(got, line), "missing %s", line);
    }
    ck_assert(strstr(got, "otlp_broker_requests_total{frontend=\"zmq\",outcome=\"overloaded\"} 0\n"));
    ck_assert(strstr(got, "otlp_broker_scrape_duration_seconds 0\n"));
    ck_assert(!strstr(got, "translator_info"));
    free(got);
}
END_TEST

/* promtool-style rules: HELP and TYPE once per family, before its samples;
 * counters end in _total, nothing else does; every sample belongs to the
 * family announced last. */
START_TEST(lint_rules)
{
    bump();
    ob_sm_set_plugin(OB_FE_HTTP, "p");
    struct ob_store_stats st = {0};
    char *text = render(&st);
    char current[128] = "";
    char seen[64][128];
    size_t n_seen = 0;
    bool is_counter = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], type[32];
        if (sscanf(line, "# HELP %127s", name) == 1) {
            for (size_t i = 0; i < n_seen; i++)
                ck_assert_msg(strcmp(seen[i], name) != 0, "family %s twice", name);
            ck_assert_uint_lt(n_seen, 64);
            strcpy(seen[n_seen++], name);
            strcpy(current, name);
            continue;
        }
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            ck_assert_str_eq(name, current);
            is_counter = strcmp(type, "counter") == 0;
            size_t len = strlen(name);
            bool total = len > 6 && strcmp(name + len - 6, "_total") == 0;
            ck_assert_msg(is_counter == total, "%s: type %s", name, type);
            ck_assert(is_counter || strcmp(type, "gauge") == 0);
            continue;
        }
        ck_assert_msg(line[0] != '#', "stray comment %s", line);
        size_t n = strcspn(line, "{ ");
        ck_assert_msg(strlen(current) == n && strncmp(line, current, n) == 0,
                      "sample %s outside its family %s", line, current);
        ck_assert(strncmp(line, "otlp_broker_", 12) == 0);
    }
    ck_assert_uint_eq(n_seen, 26);
    free(text);
}
END_TEST

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        ob_sm_request(OB_FE_HTTP, OB_OUT_OK);
        ob_sm_points_received(OB_FE_ZMQ, 2);
    }
    return NULL;
}

START_TEST(concurrent_counts)
{
    ob_sm_reset();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *got = render(NULL);
    ck_assert(strstr(got, "otlp_broker_requests_total{frontend=\"http\",outcome=\"ok\"} 400000\n"));
    ck_assert(strstr(got, "otlp_broker_data_points_received_total{frontend=\"zmq\"} 800000\n"));
    free(got);
}
END_TEST

/* The status page's totals per reason are the sums over the frontends. */
START_TEST(rejected_totals)
{
    bump();
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON_TYPE_CONFLICT), 5);
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON_OUT_OF_BOUNDS), 7);
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON_LIMIT), 1);
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON_DUPLICATE), 0);
    ck_assert_uint_eq(ob_sm_rejected(OB_REASON__COUNT), 0);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(ob_frontend_name(OB_FE_ZMQ), "zmq");
    ck_assert_str_eq(ob_outcome_name(OB_OUT_TOO_LARGE), "too_large");
    ck_assert_str_eq(ob_reason_name(OB_REASON_OUT_OF_BOUNDS), "out_of_bounds");
    ck_assert_str_eq(ob_reason_name(OB_REASON__COUNT), "unknown");
}
END_TEST

Suite *selfmetrics_suite(void);
Suite *selfmetrics_suite(void)
{
    Suite *s = suite_create("selfmetrics");
    TCase *tc = tcase_create("render");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, render_without_store);
    tcase_add_test(tc, render_with_store_and_plugin);
    tcase_add_test(tc, zeros_present);
    tcase_add_test(tc, lint_rules);
    tcase_add_test(tc, concurrent_counts);
    tcase_add_test(tc, rejected_totals);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}
