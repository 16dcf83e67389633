/* test_names.c: the naming rules of every strategy plugin (suite naming),
 * through the real build/plugins/<name>.so loaded with ob_translator_load().
 * Expected values follow docs/otlp-to-prometheus.md ("spec" below) and the
 * reference implementation's own test cases. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_error.h"
#include "ob_translator_host.h"

#define UES "underscore_escaping_with_suffixes"
#define UEW "underscore_escaping_without_suffixes"
#define NUS "no_utf8_escaping_with_suffixes"
#define NT "no_translation"

static const char *const all_plugins[] = {UES, UEW, NUS, NT};

enum { G = OB_METRIC_GAUGE, C = OB_METRIC_COUNTER, U = OB_METRIC_UPDOWNCOUNTER,
       H = OB_METRIC_HISTOGRAM, E = OB_METRIC_EXP_HISTOGRAM, S = OB_METRIC_SUMMARY };

static const char *plugin_dir(void)
{
    static char buf[512];
    const char *b = getenv("OB_BUILD");
    snprintf(buf, sizeof buf, "%s/plugins", b && *b ? b : "build");
    return buf;
}

/* Loads plugin with config pairs "k", "v", ..., NULL. */
static struct ob_translator_inst *load_kv(const char *plugin, const char *const *pairs)
{
    struct ob_kv kv[16];
    size_t n = 0;
    for (; pairs && pairs[2 * n]; n++)
        kv[n] = (struct ob_kv){pairs[2 * n], pairs[2 * n + 1]};
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = NULL;
    int rc = ob_translator_load(plugin, plugin_dir(), kv, n, &x, err);
    ck_assert_msg(rc == 0, "load %s: %s (%s)", plugin, err, ob_strerror(rc));
    return x;
}

static struct ob_translator_inst *load(const char *plugin)
{
    return load_kv(plugin, NULL);
}

/* Runs a naming callback the way the host does: first into a buffer that is
 * too small (checking nothing is written past cap), then into one of the
 * size asked for.  Returns a malloc'd string, or NULL when dropped. */
typedef long (*call_fn)(struct ob_translator_inst *x, const void *arg, char *buf, size_t cap);

static char *run(struct ob_translator_inst *x, call_fn fn, const void *arg)
{
    char small[4] = {'#', '#', '#', '#'};
    long n = fn(x, arg, small, 2);
    if (n < 0)
        return NULL;
    ck_assert_int_eq(small[2], '#');
    ck_assert_int_eq(small[3], '#');
    char *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fn(x, arg, buf, (size_t)n), n);
    buf[n] = '\0';
    return buf;
}

struct mcase {
    const char *name;
    const char *unit;
    int type;
    const char *want; /* NULL: dropped */
};

static long call_family(struct ob_translator_inst *x, const void *arg, char *buf, size_t cap)
{
    const struct mcase *c = arg;
    struct ob_metric_view m = {{c->name, strlen(c->name)}, {c->unit, strlen(c->unit)}, {"", 0},
                               (enum ob_metric_type)c->type, OB_TEMPORALITY_CUMULATIVE};
    return x->desc.family_name(x->state, &m, buf, cap);
}

static long call_unit(struct ob_translator_inst *x, const void *arg, char *buf, size_t cap)
{
    const char *unit = arg;
    struct ob_metric_view m = {{"m", 1}, {unit, strlen(unit)}, {"", 0}, OB_METRIC_GAUGE, 0};
    return x->desc.unit_name(x->state, &m, buf, cap);
}

static long call_label(struct ob_translator_inst *x, const void *arg, char *buf, size_t cap)
{
    const char *key = arg;
    return x->desc.label_name(x->state, key, strlen(key), buf, cap);
}

static void check_cases(struct ob_translator_inst *x, const struct mcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct mcase *c = &cases[i];
        char *got = run(x, call_family, c);
        if (!c->want)
            ck_assert_msg(got == NULL, "%s: %s [%s] type %d: got '%s', want drop", x->desc.name,
                          c->name, c->unit, c->type, got);
        else
            ck_assert_msg(got && strcmp(got, c->want) == 0,
                          "%s: %s [%s] type %d: got '%s', want '%s'", x->desc.name, c->name,
                          c->unit, c->type, got ? got : "(drop)", c->want);
        free(got);
    }
}

#define CHECK(x, cases) check_cases((x), (cases), sizeof(cases) / sizeof((cases)[0]))

/* ---- 3.1 UnderscoreEscapingWithSuffixes ------------------------------------ */

static const struct mcase ues_cases[] = {
    /* metric_namer_test.go TestMetricNamer_Build (UTF8Allowed false,
     * WithMetricSuffixes true), with a few of our own. */
    {"simple_metric", "", G, "simple_metric"},
    {"requests", "", C, "requests_total"},
    {"cpu_usage", "1", G, "cpu_usage_ratio"},
    {"items", "1", C, "items_total"},
    {"response_time", "ms", G, "response_time_milliseconds"},
    {"memory_usage", "By", G, "memory_usage_bytes"},
    {"requests", "1/s", G, "requests_per_second"},
    {"throughput", "By/s", G, "throughput_bytes_per_second"},
    {"custom_metric", "custom_unit", G, "custom_metric_custom_unit"},
    {"custom_metric", "{custom}", G, "custom_metric"},
    {"custom_metric", "By/{custom}", G, "custom_metric_bytes"},
    {"requests_total", "", C, "requests_total"},
    {"cpu_usage_ratio", "1", G, "cpu_usage_ratio"},
    {"response_time_seconds", "s", G, "response_time_seconds"},
    {"metric__with__multiple__underscores", "unit__multiple__underscores", G,
     "metric_with_multiple_underscores_unit_multiple_underscores"},
    {"custom_metric", "unit@with#special/chars", G, "custom_metric_unit_with_special_per_chars"},
    {"@#$%", "", G, NULL},
    {"", "", G, NULL},
    {"_", "", G, NULL},
    {"request_duration", "s", H, "request_duration_seconds"},
    {"request_size", "By", E, "request_size_bytes"},
    {"response_time", "ms", S, "response_time_milliseconds"},
    {"active_connections", "", U, "active_connections"},
    {"http.request.duration", "ms", H, "http_request_duration_milliseconds"},
    {"http.requests", "1", C, "http_requests_total"},
    {"123metric", "", G, "_123metric"},
    {"metric@with#special$chars", "", G, "metric_with_special_chars"},
    /* Consequences and quirks of the token algorithm (spec 3.1). */
    {"foo.bytes.count", "By", G, "foo_bytes_count"},
    {"bytes.sent", "By", G, "bytes_sent"},
    {"foo_total_bar", "", C, "foo_bar_total"},
    {"total.requests.total", "", C, "requests_total"},
    {"ratio_of_cpu", "1", G, "of_cpu_ratio"},
    {"ratio_of_cpu", "1", U, "ratio_of_cpu"},
    {"requests_per_second", "1/s", G, "requests_per_second_per_second"},
    {"x", "foo$", G, "x_foo_"},
    {"x", "foo$/s", G, "x_foo_per_second"},
    {"x", "total", C, "x_total"},
    {":foo::bar", "", G, ":foo::bar"},
    {"__foo__bar__", "", G, "foo_bar"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_x", "", G, "metric_with_x"},
    {"a\xff" "b", "", G, "a_b"},
    {"some.delta.total", "", U, "some_delta_total"},
    {"metric", "By/", G, "metric_bytes"},
    {"metric", " By / s ", G, "metric_bytes_per_second"},
    {"metric", "\xc2\xa0" "By\xe3\x80\x80/\ts", G, "metric_bytes_per_second"},
    {"metric", "/", G, "metric"},
    /* Type suffixes with unit 1: only gauges get _ratio. */
    {"x", "1", C, "x_total"},
    {"x", "1", U, "x"},
    {"x", "1", G, "x_ratio"},
    {"x", "1", H, "x"},
    {"x", "1", S, "x"},
    {"x", "1", E, "x"},
    {"x", "", H, "x"},
    {"x", "", S, "x"},
    {"x", "1/s", C, "x_per_second_total"},
    /* metric_name_builder_test.go: normalizeName() tests (TestByte ..
     * TestOTelReceivers) and TestBuildCompliantMetricNameWithSuffixes. */
    {"system.filesystem.usage", "By", G, "system_filesystem_usage_bytes"},
    {"system.io", "By", C, "system_io_bytes_total"},
    {"network_transmitted_bytes_total", "By", C, "network_transmitted_bytes_total"},
    {"\t system.filesystem.usage       ", "  By\t", G, "system_filesystem_usage_bytes"},
    {"system.network.dropped", "{packets}", G, "system_network_dropped"},
    {"system.network.dropped", "nonstandard:_1", G, "system_network_dropped_nonstandard:_1"},
    {"system.network.dropped", "{packets}", C, "system_network_dropped_total"},
    {"system.network.dropped", "packets", G, "system_network_dropped_packets"},
    {"system.network.packets.dropped", "packets", G, "system_network_packets_dropped"},
    {"system.network.packets", "packets", G, "system_network_packets"},
    {"system.network.dropped", "packets", C, "system_network_dropped_packets_total"},
    {"system.network.packets.dropped", "packets", C, "system_network_packets_dropped_total"},
    {"system.network.packets", "packets", C, "system_network_packets_total"},
    {"hw.gpu.memory.utilization", "1", G, "hw_gpu_memory_utilization_ratio"},
    {"hw.fan.speed_ratio", "1", G, "hw_fan_speed_ratio"},
    {"objects", "1", C, "objects_total"},
    {"hw.cpu.speed_limit", "Hz", G, "hw_cpu_speed_limit_hertz"},
    {"broken.metric.speed", "km/h", G, "broken_metric_speed_km_per_hour"},
    {"astro.light.speed_limit", "m/s", G, "astro_light_speed_limit_meters_per_second"},
    {"system.network.dropped", "non/standard:_1", G, "system_network_dropped_non_per_standard:_1"},
    {"broken.metric.speed", "km/\xc2\xb0", G, "broken_metric_speed_km"},
    {"broken.metric.success_ratio", "%", G, "broken_metric_success_ratio_percent"},
    {"broken.metric.success_percent", "%", G, "broken_metric_success_percent"},
    {"test.metric.no_unit", "", G, "test_metric_no_unit"},
    {"test.metric.spaces", "   \t  ", G, "test_metric_spaces"},
    {"active_directory.ds.replication.network.io", "By", C,
     "active_directory_ds_replication_network_io_bytes_total"},
    {"active_directory.ds.replication.sync.object.pending", "{objects}", C,
     "active_directory_ds_replication_sync_object_pending_total"},
    {"active_directory.ds.replication.object.rate", "{objects}/s", G,
     "active_directory_ds_replication_object_rate_per_second"},
    {"active_directory.ds.name_cache.hit_rate", "%", G,
     "active_directory_ds_name_cache_hit_rate_percent"},
    {"active_directory.ds.ldap.bind.last_successful.time", "ms", G,
     "active_directory_ds_ldap_bind_last_successful_time_milliseconds"},
    {"apache.current_connections", "connections", G, "apache_current_connections"},
    {"apache.workers", "connections", G, "apache_workers_connections"},
    {"apache.requests", "1", C, "apache_requests_total"},
    {"bigip.virtual_server.request.count", "{requests}", C,
     "bigip_virtual_server_request_count_total"},
    {"system.cpu.utilization", "1", G, "system_cpu_utilization_ratio"},
    {"system.disk.operation_time", "s", C, "system_disk_operation_time_seconds_total"},
    {"system.cpu.load_average.15m", "1", G, "system_cpu_load_average_15m_ratio"},
    {"memcached.operation_hit_ratio", "%", G, "memcached_operation_hit_ratio_percent"},
    {"mongodbatlas.process.asserts", "{assertions}/s", G, "mongodbatlas_process_asserts_per_second"},
    {"mongodbatlas.process.journaling.data_files", "MiBy", G,
     "mongodbatlas_process_journaling_data_files_mebibytes"},
    {"mongodbatlas.process.network.io", "By/s", G, "mongodbatlas_process_network_io_bytes_per_second"},
    {"mongodbatlas.process.oplog.rate", "GiBy/h", G, "mongodbatlas_process_oplog_rate_gibibytes_per_hour"},
    {"mongodbatlas.process.db.query_targeting.scanned_per_returned", "{scanned}/{returned}", G,
     "mongodbatlas_process_db_query_targeting_scanned_per_returned"},
    {"nginx.requests", "requests", G, "nginx_requests"},
    {"nginx.connections_accepted", "connections", G, "nginx_connections_accepted"},
    {"nsxt.node.memory.usage", "KBy", G, "nsxt_node_memory_usage_kilobytes"},
    {"redis.latest_fork", "us", G, "redis_latest_fork_microseconds"},
    {"3.14 digits", "", G, "_3_14_digits"},
    {"envoy__rule_engine_zlib_buf_error", "", G, "envoy_rule_engine_zlib_buf_error"},
    {":foo::bar", "", C, ":foo::bar_total"},
    {"foo.bar", "1", G, "foo_bar_ratio"},
    {"system.io", "foo/bar", C, "system_io_foo_per_bar_total"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters", "", C,
     "metric_with_foreign_characters_total"},
    {"temperature", "%*()\xc2\xb0:C", G, "temperature_:C"},
    /* metric_name_builder_test.go TestAddUnitTokens, reached through the
     * unit string: trailing '_' of the main unit dropped before a per unit,
     * trailing '_' of the per unit dropped, a bare "per_" dropped. */
    {"token1", "main_/per", G, "token1_main_per_per"},
    {"token1", "main_unit/seconds_", G, "token1_main_unit_per_seconds"},
    {"token1", "main_unit/\xc2\xb0", G, "token1_main_unit"},
};

/* Units through the family name (spec 4). */
static const struct mcase unit_cases[] = {
    {"uptime", "d", G, "uptime_days"},
    {"duration", "h", G, "duration_hours"},
    {"timeout", "min", G, "timeout_minutes"},
    {"t", "s", G, "t_seconds"},
    {"latency", "us", G, "latency_microseconds"},
    {"precision_time", "ns", G, "precision_time_nanoseconds"},
    {"cache_size", "KiBy", G, "cache_size_kibibytes"},
    {"memory", "MiBy", G, "memory_mebibytes"},
    {"storage", "GiBy", G, "storage_gibibytes"},
    {"capacity", "TiBy", G, "capacity_tibibytes"},
    {"transfer", "KBy", G, "transfer_kilobytes"},
    {"download", "MBy", G, "download_megabytes"},
    {"backup", "GBy", G, "backup_gigabytes"},
    {"archive", "TBy", G, "archive_terabytes"},
    {"size", "kBy", G, "size_kBy"},
    {"distance", "m", G, "distance_meters"},
    {"voltage", "V", G, "voltage_volts"},
    {"current", "A", G, "current_amperes"},
    {"energy", "J", G, "energy_joules"},
    {"power", "W", G, "power_watts"},
    {"weight", "g", G, "weight_grams"},
    {"temperature", "Cel", G, "temperature_celsius"},
    {"frequency", "Hz", G, "frequency_hertz"},
    {"cpu_usage", "%", G, "cpu_usage_percent"},
    {"requests", "1/m", G, "requests_per_minute"},
    {"rate", "/m", G, "rate_per_minute"},
    {"events", "1/h", G, "events_per_hour"},
    {"transactions", "1/d", G, "transactions_per_day"},
    {"reports", "1/w", G, "reports_per_week"},
    {"invoices", "1/mo", G, "invoices_per_month"},
    {"renewals", "1/y", G, "renewals_per_year"},
    {"custom", "1/custom_unit", G, "custom_per_custom_unit"},
    {"packets", "{packets}", C, "packets_total"},
    {"requests", "k{req}", C, "requests_total"},
    {"objects", "{objects}/s", G, "objects_per_second"},
    {"temp", "\xc2\xb0" "F", G, "temp_F"},
    {"metric", "non/standard:_1", G, "metric_non_per_standard:_1"},
    {"dist", "km/\xc2\xb0", G, "dist_km"},
    {"x", "By/_", G, "x_bytes"},
};

/* Units too long for the stack scratch take the heap path. */
static void check_long_unit(struct ob_translator_inst *x, const char *prefix)
{
    char unit[700], want[800];
    memset(unit, 'u', 300);
    memcpy(unit + 300, "/", 1);
    memset(unit + 301, 'v', 300);
    unit[601] = '\0';
    snprintf(want, sizeof want, "%s%.300s_per_%.300s", prefix, unit, unit + 301);
    struct mcase c = {"m", unit, G, want};
    check_cases(x, &c, 1);
    char *got = run(x, call_unit, unit);
    ck_assert_str_eq(got, want + strlen(prefix));
    free(got);
}

START_TEST(escaping_with_suffixes)
{
    struct ob_translator_inst *x = load(UES);
    CHECK(x, ues_cases);
    CHECK(x, unit_cases);
    check_long_unit(x, "m_");
    ob_translator_unref(x);
    x = load(NUS);
    check_long_unit(x, "m_");
    ob_translator_unref(x);
}
END_TEST

/* ---- 3.2 UnderscoreEscapingWithoutSuffixes ----------------------------------- */

static const struct mcase uew_cases[] = {
    /* metric_namer_test.go TestMetricNamer_Build (UTF8Allowed false,
     * WithMetricSuffixes false), with a few of our own. */
    {"simple_metric", "", G, "simple_metric"},
    {"metric@with#special$chars", "", G, "metric_with_special_chars"},
    {"123metric", "", G, "_123metric"},
    {"", "", G, NULL},
    {"metric@@##$$name", "", G, "metric_name"},
    {"@#$%", "", G, NULL},
    {"@_#_$_%", "", G, NULL},
    {"___", "", G, "___"},
    {"envoy__rule", "", G, "envoy__rule"},
    {"..foo.bar..", "", G, "foo_bar"},
    {"_foo_", "", G, "_foo_"},
    {":a:", "", G, ":a:"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_x", "", G, "metric_with___x"},
    {"http.requests", "1", C, "http_requests"},
    {"requests", "By/s", C, "requests"},
    {"cpu_usage", "1", G, "cpu_usage"},
    {"http.request.duration", "ms", H, "http_request_duration"},
    /* metric_name_builder_test.go TestBuildCompliantMetricNameWithoutSuffixes. */
    {"system.io", "By", C, "system_io"},
    {"network (I/O)", "By", C, "network_I_O"},
    {"3.14 digits", "By", G, "_3_14_digits"},
    {"envoy__rule_engine_zlib_buf_error", "", G, "envoy__rule_engine_zlib_buf_error"},
    {":foo::bar", "", G, ":foo::bar"},
    {":foo::bar", "", C, ":foo::bar"},
    {"foo.bar", "1", G, "foo_bar"},
    {"system.io", "foo/bar", C, "system_io"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters", "", C,
     "metric_with___foreign_characters"},
};

START_TEST(escaping_without_suffixes)
{
    struct ob_translator_inst *x = load(UEW);
    CHECK(x, uew_cases);
    ob_translator_unref(x);
}
END_TEST

/* ---- 3.3 NoUTF8EscapingWithSuffixes -------------------------------------- */

static const struct mcase nus_cases[] = {
    /* metric_namer_test.go TestMetricNamer_Build (UTF8Allowed true,
     * WithMetricSuffixes true), with a few of our own. */
    {"requests_total", "", C, "requests_total"},
    {"cpu_usage_ratio", "1", G, "cpu_usage_ratio"},
    {"response_time_seconds", "s", G, "response_time_seconds"},
    {"cpu_seconds_total", "s", C, "cpu_seconds_total"},
    {"requ\xc3\xaasts", "", C, "requ\xc3\xaasts_total"},
    {"cpu_usag\xc3\xa9", "1", G, "cpu_usag\xc3\xa9_ratio"},
    {"resp\xc3\xb8nse_time", "ms", G, "resp\xc3\xb8nse_time_milliseconds"},
    {"requ\xc3\xaasts", "1/s", G, "requ\xc3\xaasts_per_second"},
    {"@#$%", "", C, "@#$%_total"},
    {"http.request.duration", "ms", H, "http.request.duration_milliseconds"},
    {"http.requests", "1", C, "http.requests_total"},
    {"x", "1", U, "x"},
    {"x", "1/s", C, "x_per_second_total"},
    {"x_per_second", "1/s", G, "x_per_second"},
    {"x.per_second", "1/s", G, "x_per_second"},
    {"x", "\xc2\xb0" "C", G, "x_\xc2\xb0" "C"},
    {"x", "%*()", G, "x_%*()"},
    {"x", "By/{custom}", G, "x_bytes"},
    {"x", "{packets}", C, "x_total"},
    {"test.histogram", "By", H, "test.histogram_bytes"},
    /* Only suffixes are deduplicated; the cut is blind to separators. */
    {"cpuratio", "1", G, "cp_ratio"},
    {"abtotal", "", C, "a_total"},
    {"foobytes", "By", G, "foobytes"},
    {"ratio", "1", G, "ratio_ratio"},
    {"xratio", "1", G, "xratio_ratio"}, /* not longer than "_ratio": kept */
    {"xyratio", "1", G, "x_ratio"},
    {"total", "", C, "total_total"},
    {"", "", G, NULL},
    {"a\xff", "", G, NULL},
    /* metric_name_builder_test.go TestBuildMetricNameWithSuffixes (the last
     * two as the current MetricNamer trims: older builder tests expected
     * "system_io_seconds_seconds" and "system_io_total_total"). */
    {"system.io", "By", C, "system.io_bytes_total"},
    {"3.14 digits", "", G, "3.14 digits"},
    {"envoy__rule_engine_zlib_buf_error", "", G, "envoy__rule_engine_zlib_buf_error"},
    {":foo::bar", "", G, ":foo::bar"},
    {":foo::bar", "", C, ":foo::bar_total"},
    {"foo.bar", "1", G, "foo.bar_ratio"},
    {"system.io", "foo/bar", C, "system.io_foo_per_bar_total"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters", "", C,
     "metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters_total"},
    {"temperature", "%*()\xc2\xb0" "C", G, "temperature_%*()\xc2\xb0" "C"},
    {"system_io_seconds", "s", G, "system_io_seconds"},
    {"system_io_total", "", C, "system_io_total"},
};

START_TEST(utf8_with_suffixes)
{
    struct ob_translator_inst *x = load(NUS);
    CHECK(x, nus_cases);
    ob_translator_unref(x);
}
END_TEST

/* ---- 3.4 NoTranslation ------------------------------------------------------ */

static const struct mcase nt_cases[] = {
    /* metric_namer_test.go TestMetricNamer_Build (UTF8Allowed true,
     * WithMetricSuffixes false), with a few of our own. */
    {"http.request.duration", "ms", H, "http.request.duration"},
    {"http.requests", "1", C, "http.requests"},
    {"cpu_usage", "1", G, "cpu_usage"},
    {"m\xc3\xa9tric_with_\xc3\xb1_chars", "", G, "m\xc3\xa9tric_with_\xc3\xb1_chars"},
    {"@#$%", "", C, "@#$%"},
    {"__", "", G, "__"},
    {"", "", G, NULL},
    {"\xc0\xaf", "", G, NULL},
    /* metric_name_builder_test.go TestBuildMetricNameWithoutSuffixes. */
    {"system.io", "By", C, "system.io"},
    {"3.14 digits", "", G, "3.14 digits"},
    {"envoy__rule_engine_zlib_buf_error", "", G, "envoy__rule_engine_zlib_buf_error"},
    {":foo::bar", "", G, ":foo::bar"},
    {":foo::bar", "", C, ":foo::bar"},
    {"foo.bar", "1", G, "foo.bar"},
    {"metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters", "", C,
     "metric_with_\xe5\xad\x97\xe7\xac\xa6_foreign_characters"},
    {"system_io_seconds", "s", G, "system_io_seconds"},
    {"system_io_total", "", C, "system_io_total"},
};

START_TEST(no_translation)
{
    struct ob_translator_inst *x = load(NT);
    CHECK(x, nt_cases);
    ob_translator_unref(x);
}
END_TEST

/* ---- 3.5 namespace ---------------------------------------------------------- */

struct nscase {
    const char *plugin;
    const char *ns;
    struct mcase c;
};

static const struct nscase ns_cases[] = {
    {UES, "app", {"requests", "1/s", C, "app_requests_per_second_total"}},
    {UES, "app", {"123_requests", "", C, "app_123_requests_total"}},
    {UES, "test@ns", {"metric", "", C, "test@ns_metric_total"}},
    {UES, "1ns", {"metric", "", G, "_1ns_metric"}},
    {UES, "app", {"@#$%", "", G, "app"}},
    {UES, "_", {"@#$%", "", G, NULL}},
    {UEW, "test_namespace", {"simple_metric", "", G, "test_namespace_simple_metric"}},
    {UEW, "test@namespace!!??", {"metric", "", G, "test_namespace_metric"}},
    {UEW, "1ns", {"metric", "", G, "1ns_metric"}},
    {UEW, "ns", {"1metric", "", G, "ns_1metric"}},
    {NUS, "\xc3\xb1" "amespace", {"requ\xc3\xaasts", "1/s", C,
                                  "\xc3\xb1" "amespace_requ\xc3\xaasts_per_second_total"}},
    {NUS, "test@namespace", {"metric", "", C, "test@namespace_metric_total"}},
    {NUS, "ns", {"", "", C, "ns__total"}},
    {NT, "test_namespace", {"m\xc3\xa9tric_with_\xc3\xb1_chars", "", G,
                            "test_namespace_m\xc3\xa9tric_with_\xc3\xb1_chars"}},
    {NT, "1ns", {"x.y", "s", C, "1ns_x.y"}},
    /* metric_name_builder_test.go: TestNamespace, the *WithNamespace tests
     * and the namespace cases of the With/WithoutSuffixes tests. */
    {UES, "space", {"test", "", G, "space_test"}},
    {UES, "space", {"#test", "", G, "space_test"}},
    {UES, "system", {"network.io", "By", C, "system_network_io_bytes_total"}},
    {UEW, "namespace", {"system.io", "", C, "namespace_system_io"}},
    {UEW, "system", {"network.io", "By", C, "system_network_io"}},
    {UEW, "system", {"network (I/O)", "By", C, "system_network_I_O"}},
    {NUS, "system", {"network.io", "By", C, "system_network.io_bytes_total"}},
    {NT, "namespace", {"system.io", "", C, "namespace_system.io"}},
};

START_TEST(namespaces)
{
    const struct nscase *c = &ns_cases[_i];
    const char *const kv[] = {"namespace", c->ns, NULL};
    struct ob_translator_inst *x = load_kv(c->plugin, kv);
    check_cases(x, &c->c, 1);
    ob_translator_unref(x);
}
END_TEST

/* ---- 4.5 UNIT metadata ------------------------------------------------------ */

static const char *const unit_meta[][2] = {
    {"", ""},
    {"   ", ""},
    {"s", "seconds"},
    {"ms", "milliseconds"},
    {"us", "microseconds"},
    {"ns", "nanoseconds"},
    {"min", "minutes"},
    {"h", "hours"},
    {"d", "days"},
    {"By", "bytes"},
    {"KiBy", "kibibytes"},
    {"MiBy", "mebibytes"},
    {"GiBy", "gibibytes"},
    {"TiBy", "tibibytes"},
    {"KBy", "kilobytes"},
    {"MBy", "megabytes"},
    {"GBy", "gigabytes"},
    {"TBy", "terabytes"},
    {"kBy", "kBy"},
    {"m", "meters"},
    {"V", "volts"},
    {"A", "amperes"},
    {"J", "joules"},
    {"W", "watts"},
    {"g", "grams"},
    {"Cel", "celsius"},
    {"Hz", "hertz"},
    {"%", "percent"},
    {"1", ""},
    {"1/s", "per_second"},
    {"1/m", "per_minute"},
    {"1/h", "per_hour"},
    {"1/d", "per_day"},
    {"1/w", "per_week"},
    {"1/mo", "per_month"},
    {"1/y", "per_year"},
    {"By/s", "bytes_per_second"},
    {"KBy/s", "kilobytes_per_second"},
    {"MBy/h", "megabytes_per_hour"},
    {"requests/m", "requests_per_minute"},
    {"W/h", "watts_per_hour"},
    {"custom_unit", "custom_unit"},
    {"1/custom", "per_custom"},
    {"custom/custom", "custom_per_custom"},
    {"{custom}", ""},
    {"{packets}", ""},
    {"k{req}", ""},
    {"By/{custom}", "bytes"},
    {"{custom}/s", "per_second"},
    {"{objects}/s", "per_second"},
    {"{custom}/{invalid}", ""},
    {"custom@unit#with$chars", "custom_unit_with_chars"},
    {"By/custom@per#unit", "bytes_per_custom_per_unit"},
    {"unit@@##$$name", "unit_name"},
    {"unit__with__multiple__underscores", "unit_with_multiple_underscores"},
    {"unit@with#special/chars", "unit_with_special_per_chars"},
    {"@#$%", ""},
    {"/", ""},
    {"By/", "bytes"},
    {"seconds/", "seconds"},
    {"/s", "per_second"},
    {"_custom_unit", "custom_unit"},
    {"custom_unit_", "custom_unit"},
    {"By/_custom__unit_", "bytes_per_custom_unit"},
    {" By / s ", "bytes_per_second"},
    {"\xc2\xb0" "F", "F"},
    {"non/standard:_1", "non_per_standard:_1"},
    {"km/\xc2\xb0", "km_per"},
    /* metric_namer_test.go wantUnitName not listed above. */
    {"unit__multiple__underscores", "unit_multiple_underscores"},
    /* metric_name_builder_test.go: TestCleanUpUnit, TestUnitMapGetOrDefault,
     * TestPerUnitMapGetOrDefault and TestBuildUnitSuffixes, through the
     * unit namer. */
    {"a b", "a_b"},
    {"hello, world", "hello_world"},
    {"hello you 2", "hello_you_2"},
    {"$1000", "1000"},
    {"*+$^=)", ""},
    {"invalid", "invalid"},
    {"1/invalid", "per_invalid"},
    {"{invalid}/second", "per_second"},
    {"bytes/{invalid}", "bytes"},
};

/* Every strategy uses the escaping unit namer for metadata. */
START_TEST(unit_metadata)
{
    for (size_t p = 0; p < OB_ARRAY_LEN(all_plugins); p++) {
        struct ob_translator_inst *x = load(all_plugins[p]);
        for (size_t i = 0; i < OB_ARRAY_LEN(unit_meta); i++) {
            char *got = run(x, call_unit, unit_meta[i][0]);
            ck_assert_msg(got && strcmp(got, unit_meta[i][1]) == 0, "%s: unit '%s' -> '%s', want '%s'",
                          all_plugins[p], unit_meta[i][0], got ? got : "(drop)", unit_meta[i][1]);
            free(got);
        }
        ob_translator_unref(x);
    }
}
END_TEST

/* ---- 6 label names ---------------------------------------------------------- */

/* want[0]: both flags off; [1]: preserve multiple underscores only;
 * [2]: underscore sanitization only; [3]: both (the Prometheus default).
 * NULL: dropped. */
struct lcase {
    const char *key;
    const char *want[4];
};

static const struct lcase label_cases[] = {
    /* label_namer_test.go labelTestCases (TestBuildLabel, its four flag
     * combinations; TestBuildLabel_UTF8Allowed through check_labels) and
     * the older normalize_label_test.go TestNormalizeLabel (column 3). */
    {"label:with:colons", {"label_with_colons", "label_with_colons", "label_with_colons", "label_with_colons"}},
    {"LabelWithCapitalLetters", {"LabelWithCapitalLetters", "LabelWithCapitalLetters", "LabelWithCapitalLetters", "LabelWithCapitalLetters"}},
    {"label!with&special$chars)", {"label_with_special_chars_", "label_with_special_chars_", "label_with_special_chars_", "label_with_special_chars_"}},
    {"label_with_foreign_characters_\xe5\xad\x97\xe7\xac\xa6", {"label_with_foreign_characters_", "label_with_foreign_characters___", "label_with_foreign_characters_", "label_with_foreign_characters___"}},
    {"label.with.dots", {"label_with_dots", "label_with_dots", "label_with_dots", "label_with_dots"}},
    {".foo", {"_foo", "_foo", "key_foo", "key_foo"}},
    {"123label", {"key_123label", "key_123label", "key_123label", "key_123label"}},
    {"_label_starting_with_underscore", {"_label_starting_with_underscore", "_label_starting_with_underscore", "key_label_starting_with_underscore", "key_label_starting_with_underscore"}},
    {"__label_starting_with_2underscores", {"_label_starting_with_2underscores", "__label_starting_with_2underscores", "key_label_starting_with_2underscores", "__label_starting_with_2underscores"}},
    /* With only the underscore flag, "_" becomes "key_" before the
     * only-underscores check (reference order), so it survives. */
    {"\xe3\x82\x88\xe3\x81\x86\xe3\x81\x93\xe3\x81\x9d", {NULL, NULL, "key_", NULL}},
    {"label__with__double__underscores", {"label_with_double_underscores", "label__with__double__underscores", "label_with_double_underscores", "label__with__double__underscores"}},
    {"label.name__with&&special##chars", {"label_name_with_special_chars", "label_name__with__special__chars", "label_name_with_special_chars", "label_name__with__special__chars"}},
    {"__reserved__label__name__", {"__reserved_label_name__", "__reserved__label__name__", "__reserved_label_name__", "__reserved__label__name__"}},
    {"trailing_underscores___", {"trailing_underscores_", "trailing_underscores___", "trailing_underscores_", "trailing_underscores___"}},
    {"", {NULL, NULL, NULL, NULL}},
    {"__", {NULL, NULL, "key_", NULL}}, /* collapses to "_" first */
    {"____", {NULL, NULL, NULL, NULL}},
    {"_private", {"_private", "_private", "key_private", "key_private"}},
    {"label___multi", {"label_multi", "label___multi", "label_multi", "label___multi"}},
    {"__reserved__", {"__reserved__", "__reserved__", "__reserved__", "__reserved__"}},
    {"__name__", {"__name__", "__name__", "__name__", "__name__"}},
    {"trailing___", {"trailing_", "trailing___", "trailing_", "trailing___"}},
    {"a__b", {"a_b", "a__b", "a_b", "a__b"}},
    {"\xe5\xad\x97\xe7\xac\xa6", {NULL, NULL, "key_", NULL}},
    {"_", {NULL, NULL, "key_", "key_"}},
    {".", {NULL, NULL, "key_", "key_"}},
    {"9", {"key_9", "key_9", "key_9", "key_9"}},
    {"a\xff\xfe" "b", {"a_b", "a__b", "a_b", "a__b"}},
    /* Overlong '/' and a UTF-16 surrogate: three invalid bytes each. */
    {"a\xe0\x80\xaf" "b", {"a_b", "a___b", "a_b", "a___b"}},
    {"a\xed\xa0\x80" "b", {"a_b", "a___b", "a_b", "a___b"}},
    {"\xf0\x9f\x98\x80" "x", {"_x", "_x", "key_x", "key_x"}},
    {"http.method", {"http_method", "http_method", "http_method", "http_method"}},
    {"__.a__", {"___a__", "___a__", "___a__", "___a__"}},
    /* label_namer_test.go TestBuildLabel_Underscores. */
    {"regular label", {"regular_label", "regular_label", "regular_label", "regular_label"}},
};

static const char *const flag_values[4][2] = {
    {"false", "false"}, {"false", "true"}, {"true", "false"}, {"true", "true"},
};

static void check_labels(struct ob_translator_inst *x, int col, bool utf8)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(label_cases); i++) {
        const struct lcase *c = &label_cases[i];
        const char *want = c->want[col];
        if (utf8) /* untouched unless empty, only '_' or invalid UTF-8 */
            want = (!*c->key || strspn(c->key, "_") == strlen(c->key) ||
                    strchr(c->key, '\xff') || strstr(c->key, "\xe0\x80") ||
                    strstr(c->key, "\xed\xa0"))
                       ? NULL
                       : c->key;
        char *got = run(x, call_label, c->key);
        if (!want)
            ck_assert_msg(got == NULL, "%s [%d]: '%s' -> '%s', want drop", x->desc.name, col,
                          c->key, got);
        else
            ck_assert_msg(got && strcmp(got, want) == 0, "%s [%d]: '%s' -> '%s', want '%s'",
                          x->desc.name, col, c->key, got ? got : "(drop)", want);
        free(got);
    }
}

START_TEST(label_names)
{
    for (size_t p = 0; p < OB_ARRAY_LEN(all_plugins); p++) {
        bool utf8 = p >= 2;
        for (int col = 0; col < 4; col++) {
            const char *const kv[] = {"label_name_underscore_sanitization", flag_values[col][0],
                                      "label_name_preserve_multiple_underscores",
                                      flag_values[col][1], NULL};
            struct ob_translator_inst *x = load_kv(all_plugins[p], kv);
            check_labels(x, col, utf8);
            ob_translator_unref(x);
        }
        /* No config: both flags default to true, like a Prometheus server. */
        struct ob_translator_inst *x = load(all_plugins[p]);
        check_labels(x, 3, utf8);
        ob_translator_unref(x);
    }
}
END_TEST

/* ---- 7 resources ------------------------------------------------------------ */

#define A(k, v) {{k, sizeof(k) - 1}, {v, sizeof(v) - 1}}

struct rres {
    long rc;
    char job[64];
    char instance[64];
    struct ob_resource_out out;
    uint8_t roles[16];
};

static void run_resource(struct ob_translator_inst *x, const struct ob_attr *attrs, size_t n,
                         struct rres *r)
{
    memset(r, 0, sizeof *r);
    memset(r->roles, 0xee, sizeof r->roles);
    memset(r->roles, 0, n);
    r->out.job = r->job;
    r->out.job_cap = sizeof r->job - 1;
    r->out.instance = r->instance;
    r->out.instance_cap = sizeof r->instance - 1;
    r->out.attr_roles = r->roles;
    struct ob_resource_view v = {attrs, n};
    r->rc = x->desc.resource(x->state, &v, &r->out);
    ck_assert_int_eq(r->rc, 0);
    r->job[r->out.job_len] = '\0';
    r->instance[r->out.instance_len] = '\0';
    ck_assert_int_eq(r->roles[n], 0xee); /* nothing written past n_attrs */
}

enum { TI = OB_RES_TARGET_INFO, PR = OB_RES_PROMOTE };

static void check_roles(const struct rres *r, const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(r->roles[i] == want[i], "attr %zu: role %u, want %u", i, r->roles[i],
                      want[i]);
}

START_TEST(resource_job_instance_target_info)
{
    struct ob_translator_inst *x = load(all_plugins[_i]);
    struct rres r;
    const struct ob_attr full[] = {A("service.name", "svc"), A("service.namespace", "shop"),
                                   A("service.instance.id", "i-1"), A("host.name", "h1"),
                                   A("k8s.pod.name", "p")};
    run_resource(x, full, 5, &r);
    ck_assert(r.out.has_job && r.out.has_instance && r.out.target_info);
    ck_assert_str_eq(r.job, "shop/svc");
    ck_assert_str_eq(r.instance, "i-1");
    check_roles(&r, (const uint8_t[]){0, 0, 0, TI, TI}, 5);

    /* Only identifying attributes: no target_info. */
    run_resource(x, full, 3, &r);
    ck_assert(r.out.has_job && r.out.has_instance && !r.out.target_info);
    check_roles(&r, (const uint8_t[]){0, 0, 0}, 3);

    /* service.name alone: job without namespace, no instance. */
    const struct ob_attr name_only[] = {A("host.name", "h1"), A("service.name", "svc")};
    run_resource(x, name_only, 2, &r);
    ck_assert(r.out.has_job && !r.out.has_instance && r.out.target_info);
    ck_assert_str_eq(r.job, "svc");
    ck_assert_uint_eq(r.out.instance_len, 0);
    check_roles(&r, (const uint8_t[]){TI, 0}, 2);

    /* A namespace without a name gives no job; no instance either: no
     * target_info although there are other attributes. */
    const struct ob_attr ns_only[] = {A("service.namespace", "shop"), A("host.name", "h1")};
    run_resource(x, ns_only, 2, &r);
    ck_assert(!r.out.has_job && !r.out.has_instance && !r.out.target_info);
    ck_assert_uint_eq(r.out.job_len, 0);
    check_roles(&r, (const uint8_t[]){0, 0}, 2);

    /* instance alone is enough. */
    const struct ob_attr inst_only[] = {A("service.instance.id", "i-2"), A("os.type", "linux")};
    run_resource(x, inst_only, 2, &r);
    ck_assert(!r.out.has_job && r.out.has_instance && r.out.target_info);
    ck_assert_str_eq(r.instance, "i-2");
    check_roles(&r, (const uint8_t[]){0, TI}, 2);

    /* Empty resource. */
    run_resource(x, NULL, 0, &r);
    ck_assert(!r.out.has_job && !r.out.has_instance && !r.out.target_info);
    ob_translator_unref(x);
}
END_TEST

START_TEST(resource_config)
{
    const struct ob_attr attrs[] = {A("service.name", "svc"), A("service.namespace", "shop"),
                                    A("service.instance.id", "i-1"), A("host.name", "h1"),
                                    A("k8s.pod.name", "p")};
    struct rres r;

    const char *const keep[] = {"keep_identifying_resource_attributes", "true", NULL};
    struct ob_translator_inst *x = load_kv(UES, keep);
    run_resource(x, attrs, 5, &r);
    ck_assert(r.out.target_info);
    check_roles(&r, (const uint8_t[]){TI, TI, TI, TI, TI}, 5);
    run_resource(x, attrs, 3, &r); /* still needs a non-identifying attribute */
    ck_assert(!r.out.target_info);
    check_roles(&r, (const uint8_t[]){0, 0, 0}, 3);
    ob_translator_unref(x);

    const char *const off[] = {"target_info", "false", NULL};
    x = load_kv(NUS, off);
    run_resource(x, attrs, 5, &r);
    ck_assert(!r.out.target_info && r.out.has_job && r.out.has_instance);
    check_roles(&r, (const uint8_t[]){0, 0, 0, 0, 0}, 5);
    ob_translator_unref(x);

    const char *const promote[] = {"promote_resource_attributes", " k8s.pod.name ,service.name,x",
                                   NULL};
    x = load_kv(UEW, promote);
    run_resource(x, attrs, 5, &r);
    check_roles(&r, (const uint8_t[]){PR, 0, 0, TI, TI | PR}, 5);
    ob_translator_unref(x);

    const char *const all[] = {"promote_all_resource_attributes", "true",
                               "ignore_resource_attributes", "service.instance.id, host.name",
                               NULL};
    x = load_kv(NT, all);
    run_resource(x, attrs, 5, &r);
    check_roles(&r, (const uint8_t[]){PR, PR, 0, TI, TI | PR}, 5);
    ob_translator_unref(x);

    const char *const all_plain[] = {"promote_all_resource_attributes", "true",
                                     "promote_resource_attributes", "", NULL};
    x = load_kv(UES, all_plain);
    run_resource(x, attrs, 5, &r);
    check_roles(&r, (const uint8_t[]){PR, PR, PR, TI | PR, TI | PR}, 5);
    ob_translator_unref(x);
}
END_TEST

/* job and instance that do not fit: the plugin says how much it needs. */
START_TEST(resource_grow)
{
    struct ob_translator_inst *x = load(UES);
    const struct ob_attr attrs[] = {A("service.name", "a-long-service-name"),
                                    A("service.namespace", "ns"),
                                    A("service.instance.id", "instance-0123456789")};
    char job[4] = "###", inst[4] = "###";
    uint8_t roles[3] = {0};
    struct ob_resource_out out = {job, 2, 0, inst, 2, 0, false, false, false, roles};
    struct ob_resource_view v = {attrs, 3};
    ck_assert_int_eq(x->desc.resource(x->state, &v, &out), 22);
    ck_assert_uint_eq(out.job_len, 22);
    ck_assert_uint_eq(out.instance_len, 19);
    ck_assert_int_eq(job[2], '#');
    ck_assert_int_eq(inst[2], '#');
    char bjob[22], binst[19];
    out = (struct ob_resource_out){bjob, 22, 0, binst, 19, 0, false, false, false, roles};
    ck_assert_int_eq(x->desc.resource(x->state, &v, &out), 0);
    ck_assert_int_eq(memcmp(bjob, "ns/a-long-service-name", 22), 0);
    ck_assert_int_eq(memcmp(binst, "instance-0123456789", 19), 0);
    ob_translator_unref(x);
}
END_TEST

/* ---- config errors ---------------------------------------------------------- */

static void expect_init_error(const char *plugin, const char *const *pairs, const char *n1,
                              const char *n2)
{
    struct ob_kv kv[8];
    size_t n = 0;
    for (; pairs[2 * n]; n++)
        kv[n] = (struct ob_kv){pairs[2 * n], pairs[2 * n + 1]};
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = NULL;
    int rc = ob_translator_load(plugin, plugin_dir(), kv, n, &x, err);
    ck_assert_msg(rc == OB_E_PLUGIN_INIT, "%s: rc %d (%s)", plugin, rc, err);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(err, n1), "%s: '%s' not in '%s'", plugin, n1, err);
    if (n2)
        ck_assert_msg(strstr(err, n2), "%s: '%s' not in '%s'", plugin, n2, err);
}

START_TEST(config_errors)
{
    static const char *const valid[] = {
        "namespace", "target_info", "promote_resource_attributes",
        "promote_all_resource_attributes", "ignore_resource_attributes",
        "keep_identifying_resource_attributes", "label_name_underscore_sanitization",
        "label_name_preserve_multiple_underscores"};
    const char *plugin = all_plugins[_i];
    const char *const unknown[] = {"namespace", "x", "translation_strategy", "NoTranslation", NULL};
    expect_init_error(plugin, unknown, "unknown key 'translation_strategy'", NULL);
    for (size_t i = 0; i < OB_ARRAY_LEN(valid); i++)
        expect_init_error(plugin, unknown, valid[i], NULL);

    const char *const bad_bool[] = {"target_info", "yes", NULL};
    expect_init_error(plugin, bad_bool, "target_info", "'yes'");
    const char *const bad_bool2[] = {"label_name_preserve_multiple_underscores", "TRUE ", NULL};
    expect_init_error(plugin, bad_bool2, "label_name_preserve_multiple_underscores", "'TRUE '");

    const char *const empty_entry[] = {"promote_resource_attributes", "a,,b", NULL};
    expect_init_error(plugin, empty_entry, "promote_resource_attributes", "empty");
    const char *const trailing[] = {"promote_resource_attributes", "a, ", NULL};
    expect_init_error(plugin, trailing, "promote_resource_attributes", "empty");
    const char *const dup[] = {"promote_resource_attributes", "a, b ,a", NULL};
    expect_init_error(plugin, dup, "promote_resource_attributes", "duplicate entry 'a'");
    const char *const both[] = {"promote_all_resource_attributes", "true",
                                "promote_resource_attributes", "a", NULL};
    expect_init_error(plugin, both, "promote_all_resource_attributes", "mutually exclusive");
    const char *const ignore_alone[] = {"ignore_resource_attributes", "a", NULL};
    expect_init_error(plugin, ignore_alone, "ignore_resource_attributes",
                      "promote_all_resource_attributes");
    const char *const ignore_dup[] = {"promote_all_resource_attributes", "true",
                                      "ignore_resource_attributes", "a,a", NULL};
    expect_init_error(plugin, ignore_dup, "ignore_resource_attributes", "duplicate");

    /* Valid combinations load. */
    const char *const ok[] = {"namespace", "", "promote_resource_attributes", "",
                              "ignore_resource_attributes", "", "target_info", "false",
                              "keep_identifying_resource_attributes", "true",
                              "promote_all_resource_attributes", "false", NULL};
    ob_translator_unref(load_kv(plugin, ok));
}
END_TEST

/* The host can name target_info through family_name(): the namespace is
 * applied the same way in every strategy. */
START_TEST(target_info_name)
{
    const char *const kv[] = {"namespace", "ns", NULL};
    for (size_t p = 0; p < OB_ARRAY_LEN(all_plugins); p++) {
        struct ob_translator_inst *x = load_kv(all_plugins[p], kv);
        struct mcase c = {"target_info", "", G, "ns_target_info"};
        check_cases(x, &c, 1);
        ob_translator_unref(x);
    }
}
END_TEST

Suite *naming_suite(void);
Suite *naming_suite(void)
{
    Suite *s = suite_create("naming");
    TCase *tc = tcase_create("metric");
    tcase_add_test(tc, escaping_with_suffixes);
    tcase_add_test(tc, escaping_without_suffixes);
    tcase_add_test(tc, utf8_with_suffixes);
    tcase_add_test(tc, no_translation);
    tcase_add_loop_test(tc, namespaces, 0, (int)OB_ARRAY_LEN(ns_cases));
    tcase_add_test(tc, unit_metadata);
    tcase_add_test(tc, target_info_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("label");
    tcase_add_test(tc, label_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("resource");
    tcase_add_loop_test(tc, resource_job_instance_target_info, 0, (int)OB_ARRAY_LEN(all_plugins));
    tcase_add_test(tc, resource_config);
    tcase_add_test(tc, resource_grow);
    tcase_add_loop_test(tc, config_errors, 0, (int)OB_ARRAY_LEN(all_plugins));
    suite_add_tcase(s, tc);
    return s;
}
