/* ob_config.c: the option table and everything it drives.
 *
 * One static table (Redis' config.c pattern) gives, for every key, its
 * section, type, whether a reload applies it, default text, field in struct
 * ob_config, range and help.
 * Loading is: defaults from the table, then the INI file (iniparser), then
 * the -o overrides, each value parsed by the same function, so a default, a
 * file value and an override can never be read differently.  Every entry of
 * the file is checked against the table: iniparser itself answers a default
 * for any key it does not find, so without this walk a typo would be silently
 * ignored (Fluent Bit's properties_check).  ob_config_diff() walks the same
 * table to tell a reload which keys changed and which of them need a restart.
 */
#include "ob_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <iniparser.h>

#include "ob_error.h"
#include "ob_log.h"
#include "ob_units.h"

/* The install path of the plugins; the Makefile passes $(PREFIX)/lib/... */
#ifndef OB_PLUGIN_DIR
#define OB_PLUGIN_DIR "/usr/local/lib/otlp-broker/plugins"
#endif

enum opt_type { T_STRING, T_BOOL, T_U32, T_SIZE, T_DURATION, T_LOGLEVEL, T_LOGFORMAT, T_RWPROTO };

/* When a changed value takes effect.  RELOAD: reload() in main.c applies it
 * (SIGHUP, POST /-/reload); today that is the translator sections only.
 * RESTART: the running broker keeps the value it started with. */
enum opt_when { RESTART, RELOAD };

struct option {
    const char *section;
    const char *key;
    enum opt_type type;
    enum opt_when when;
    const char *def;
    size_t off;
    uint64_t min, max; /* numbers: inclusive range (durations in ms); strings: min 1 = non-empty */
    const char *help;  /* lines separated by '\n' */
};

#define F(field) offsetof(struct ob_config, field)

/* Keep options of one section together: the table order is the order of the
 * sections and keys in etc/otlp-broker.ini and in --check-config. */
static const struct option options[] = {
    {"broker", "log_level", T_LOGLEVEL, RESTART, "info", F(log_level), 0, 0,
     "Least severe level that is logged (to stderr)."},
    {"broker", "log_format", T_LOGFORMAT, RESTART, "text", F(log_format), 0, 0,
     "text: 2026-12-01T12:00:00.123Z WARN  http: message; logfmt (as Prometheus):\n"
     "ts=2026-12-01T12:00:00.123Z level=warn component=http msg=\"message\"."},
    {"broker", "housekeeping_interval", T_DURATION, RESTART, "1s", F(housekeeping_ms), 10, 3600000,
     "How often the main thread expires old series and refreshes self-metrics."},

    {"http", "listen", T_STRING, RESTART, "127.0.0.1:4318", F(http_listen), 1, 0,
     "Address of the HTTP frontend (OTLP/HTTP and /metrics): host:port or [v6]:port.\n"
     "Port 0 picks a free port (the log says which)."},
    {"http", "threads", T_U32, RESTART, "0", F(http_threads), 0, 1024,
     "Threads serving HTTP; 0 = one per CPU."},
    {"http", "timeout", T_DURATION, RESTART, "30s", F(http_timeout_ms), 0, 86400000,
     "An idle connection is closed after this long (whole seconds); 0 = never."},

    /* 100000 series: 8 scalar samples, labels and index cost ~0.3-1 KiB per
     * series, so the segment stays in the tens of MiB, and one scrape of all
     * of them (~10 MB of text) renders well inside a Prometheus scrape
     * timeout (README, "Performance").  A million series on one host is a
     * much larger segment and scrape: something to ask for, not a default. */
    {"store", "path", T_STRING, RESTART, "/otlp-broker", F(store_path), 1, 0,
     "Where the series live: \"/name\" is POSIX shared memory (/dev/shm/name),\n"
     "any other path is a file (persists across reboots)."},
    {"store", "max_series", T_U32, RESTART, "100000", F(store_max_series), 1, 1u << 26,
     "Series slots (one metric name plus one label set each).  When all are\n"
     "taken, new series are rejected (reason \"limit\"); existing ones keep working."},
    {"store", "max_families", T_U32, RESTART, "10000", F(store_max_families), 1, 1u << 24,
     "Metric family slots (distinct metric names)."},
    {"store", "samples_per_series", T_U32, RESTART, "8", F(store_samples_per_series), 1, 1024,
     "Newest samples kept per series, ordered by timestamp (room for out-of-order data)."},
    {"store", "heap_size", T_SIZE, RESTART, "0", F(store_heap_bytes), 0, 1 * OB_TIB,
     "Memory for labels, histogram bounds and samples; 0 = derived from max_series\n"
     "and samples_per_series."},
    {"store", "out_of_order_window", T_DURATION, RESTART, "10m", F(store_ooo_window_ms), 0,
     86400000,
     "A sample older than the series' newest by more than this is rejected\n"
     "(reason \"out_of_bounds\"); 10m is what Prometheus recommends for OTLP."},
    {"store", "series_ttl", T_DURATION, RESTART, "5m", F(store_series_ttl_ms), 1000,
     30 * 86400000ull,
     "A series not updated for this long leaves /metrics and its slot is reused."},
    {"store", "delta_reset_after", T_DURATION, RESTART, "0", F(store_delta_reset_ms), 0,
     30 * 86400000ull,
     "Delta points (sums, histograms) are added up into cumulative series in the\n"
     "store; a gap between two points longer than this starts the total over, with\n"
     "a new created timestamp.  0 = series_ttl."},
    {"store", "exemplar_memory", T_SIZE, RESTART, "0", F(store_exemplar_bytes), 0, 1 * OB_TIB,
     "Heap memory for exemplars (the latest per counter and per histogram bucket);\n"
     "0 = 128 bytes per series (one trace and span id each).  A derived heap_size\n"
     "grows by it.  When it is used up, a series that had none gets no exemplars\n"
     "(counted as dropped, reason \"memory\"); its points are stored as always."},
    {"store", "recreate", T_BOOL, RESTART, "false", F(store_recreate), 0, 0,
     "Replace an existing store with another layout or size instead of refusing\n"
     "to start (its series are lost)."},

    {"translator", "plugin", T_STRING, RELOAD, "underscore_escaping_with_suffixes",
     F(translator_plugin), 1, 0,
     "How OTLP names become Prometheus names: a plugin name (loads\n"
     "<plugin_dir>/<name>.so) or a path to a .so.  Every other key in this section\n"
     "is handed to the plugin, which checks it."},
    {"translator", "plugin_dir", T_STRING, RELOAD, OB_PLUGIN_DIR, F(translator_plugin_dir), 1, 0,
     "Directory of the plugins named by plugin."},

    {"zmq", "pull", T_STRING, RESTART, "tcp://127.0.0.1:4319", F(zmq_pull), 0, 0,
     "ZeroMQ PULL endpoints (comma-separated; tcp:// or ipc://), fire-and-forget:\n"
     "one message = one OTLP ExportMetricsServiceRequest in protobuf, optionally\n"
     "after a frame \"gzip\".  Empty = no PULL socket."},
    {"zmq", "reply", T_STRING, RESTART, "tcp://127.0.0.1:4320", F(zmq_reply), 0, 0,
     "ZeroMQ ROUTER endpoints (comma-separated) answering each request with an\n"
     "ExportMetricsServiceResponse, or frames \"error\" + message.  Empty = none."},
    {"zmq", "threads", T_U32, RESTART, "2", F(zmq_threads), 1, 64,
     "Ingest threads per ZeroMQ socket kind."},
    {"zmq", "rcv_hwm", T_U32, RESTART, "1000", F(zmq_rcv_hwm), 0, 10000000,
     "Messages queued per ZeroMQ socket before senders block or drop; 0 = unlimited."},
    {"zmq", "max_senders", T_U32, RESTART, "4096", F(zmq_max_senders), 1, 1u << 20,
     "Senders whose sequence frames are followed to count lost, duplicate and\n"
     "reordered messages, per socket kind (about 100 bytes each); when full, the\n"
     "sender heard least recently is forgotten."},
    {"zmq", "sender_ttl", T_DURATION, RESTART, "5m", F(zmq_sender_ttl_ms), 1000, 86400000,
     "A sender not heard for this long is forgotten; numbers it skipped that never\n"
     "came are counted lost then."},

    {"grpc", "listen", T_STRING, RESTART, "127.0.0.1:4317", F(grpc_listen), 0, 0,
     "Address of the OTLP/gRPC frontend (h2c, HTTP/2 with prior knowledge):\n"
     "host:port or [v6]:port; port 0 picks a free port.  Empty = no gRPC frontend."},
    {"grpc", "threads", T_U32, RESTART, "0", F(grpc_threads), 0, 1024,
     "Event-loop threads serving gRPC connections; 0 = one per CPU."},
    {"grpc", "max_connections", T_U32, RESTART, "1024", F(grpc_max_conns), 1, 1u << 20,
     "Connections open at once; one more is closed as it is accepted (and counted\n"
     "in otlp_broker_grpc_connections_refused_total; clients retry with backoff).\n"
     "With grpc.max_concurrent_streams and grpc.connection_memory it bounds what\n"
     "gRPC clients can make the broker hold."},
    {"grpc", "max_concurrent_streams", T_U32, RESTART, "100", F(grpc_max_streams), 1, 100000,
     "Streams (calls) one connection may have open at once; more are refused\n"
     "(RST_STREAM REFUSED_STREAM, which clients retry)."},
    {"grpc", "stream_window", T_SIZE, RESTART, "1MiB", F(grpc_stream_window), 64 * OB_KIB,
     2 * OB_GIB - 1,
     "HTTP/2 receive window of each stream: what a client may send on one call\n"
     "before the broker has read it."},
    {"grpc", "connection_window", T_SIZE, RESTART, "16MiB", F(grpc_conn_window), 64 * OB_KIB,
     2 * OB_GIB - 1,
     "HTTP/2 receive window of each connection (all its streams together)."},
    {"grpc", "connection_memory", T_SIZE, RESTART, "64MiB", F(grpc_conn_memory), 64 * OB_KIB,
     64 * OB_GIB,
     "Request bytes one connection may have buffered in calls not complete yet;\n"
     "a call that would go over is answered RESOURCE_EXHAUSTED."},
    {"grpc", "max_header_list", T_SIZE, RESTART, "16KiB", F(grpc_max_header_list), 1 * OB_KIB,
     1 * OB_MIB,
     "Largest header block of a call (SETTINGS_MAX_HEADER_LIST_SIZE); a larger\n"
     "one resets the stream."},
    {"grpc", "idle_timeout", T_DURATION, RESTART, "5m", F(grpc_idle_timeout_ms), 0, 86400000,
     "A connection without calls for this long gets GOAWAY and is closed; 0 = never."},

/* [translator_<frontend>]: one pair of rows per frontend (ob_frontend.h). */
#define FRONTEND_TRANSLATOR(fe, section, title)                                                   \
    {section, "plugin", T_STRING, RELOAD, "", F(translator_fe[fe].plugin), 0, 0,                   \
     "A translator for the " title " frontend only (empty: the one of [translator]).\n"          \
     "Every other key of this section is handed to that plugin."},                                \
    {section, "plugin_dir", T_STRING, RELOAD, "", F(translator_fe[fe].plugin_dir), 0, 0,           \
     "Its plugin directory (empty: [translator] plugin_dir)."}
    FRONTEND_TRANSLATOR(OB_FE_HTTP, "translator_http", "HTTP"),
    FRONTEND_TRANSLATOR(OB_FE_ZMQ, "translator_zmq", "ZeroMQ"),
    FRONTEND_TRANSLATOR(OB_FE_GRPC, "translator_grpc", "gRPC"),

    {"exposition", "timestamps", T_BOOL, RESTART, "false", F(expose_timestamps), 0, 0,
     "Write each sample's timestamp (ms) in /metrics; without it Prometheus uses\n"
     "the scrape time."},
    {"exposition", "exponential_max_buckets", T_U32, RESTART, "40", F(expose_exp_max_buckets), 1,
     4096,
     "Scrapers that cannot read native histograms (text, OpenMetrics) get an\n"
     "exponential histogram as a classic one with at most this many buckets (exact\n"
     "bounds base^k, the scale lowered until they fit)."},

    {"limits", "max_body_bytes", T_SIZE, RESTART, "32MiB", F(max_body_bytes), 1 * OB_KIB,
     1 * OB_GIB,
     "Largest OTLP request body, compressed and again after gunzip (413 above).\n"
     "One request holds at most this much memory while it is read."},
    {"limits", "max_labels_per_series", T_U32, RESTART, "128", F(max_labels_per_series), 1, 65535,
     "Data points with more labels are rejected (reason \"limit\")."},
    {"limits", "max_exemplar_label_bytes", T_U32, RESTART, "512", F(max_exemplar_label_bytes), 128,
     4096,
     "Largest label set of an exemplar as written in /metrics (trace_id, span_id\n"
     "and its filtered attributes); over it, or over the 128 characters OpenMetrics\n"
     "allows, an exemplar keeps only its trace_id and span_id."},
    {"limits", "name_cache_entries", T_U32, RESTART, "100000", F(name_cache_entries), 100, 1u << 26,
     "Translated names (metrics, attribute keys) each ingest thread keeps; a cache\n"
     "over this or name_cache_bytes is emptied before the next request, so made-up\n"
     "names cannot grow the broker without end.  (Each thread's series cache is\n"
     "bounded on its own: one entry per store.max_series, at most 262144 entries of\n"
     "80 bytes plus the series' raw attributes and label block.)"},
    {"limits", "name_cache_bytes", T_SIZE, RESTART, "16MiB", F(name_cache_bytes), 64 * OB_KIB,
     1 * OB_GIB,
     "Bytes each ingest thread's name cache may hold (keys, names, table)."},

    /* Keep [remote_write] last: the commented target example (rw_options)
     * follows it in the defaults file. */
    {"remote_write", "log_size", T_SIZE, RESTART, "256MiB", F(rw_log_size), 1 * OB_MIB, 1 * OB_TIB,
     "Room of the forward log every [remote_write.NAME] target reads: samples not\n"
     "yet acknowledged by a target wait there, across restarts.  A target that\n"
     "falls behind by more than it holds loses its oldest samples (counted)."},
    {"remote_write", "log_path", T_STRING, RESTART, "", F(rw_log_path), 0, 0,
     "Where the forward log lives: \"/name\" is POSIX shared memory, any other\n"
     "path a file; empty = store.path with \".forward\" appended (beside the\n"
     "store, in the same kind of memory).  Unused while no target is configured."},
};

#define R(field) offsetof(struct ob_rw_target_cfg, field)

/* The keys of each [remote_write.NAME] section.  Defaults follow Prometheus'
 * remote_write and queue_config where it has the key (remote_timeout 30s,
 * max_samples_per_send 2000, batch_send_deadline 5s, min_backoff 30ms,
 * max_backoff 5s).  Shards are fixed, not resharded as Prometheus does:
 * one broker's rate is known and small next to a Prometheus server's. */
static const struct option rw_options[] = {
    /* url is required: check_target() says so, naming the target. */
    {"remote_write.NAME", "url", T_STRING, RESTART, "", R(url), 0, 0,
     "The receiver's remote-write endpoint, http:// or https:// (required).\n"
     "Prometheus: /api/v1/write; Mimir, Cortex: /api/v1/push; Thanos Receive:\n"
     "/api/v1/receive; VictoriaMetrics: /api/v1/write."},
    {"remote_write.NAME", "protocol", T_RWPROTO, RESTART, "1.0", R(protocol), 0, 0,
     "Remote-write protocol version: 1.0 (prometheus.WriteRequest, what every\n"
     "receiver takes) or 2.0 (io.prometheus.write.v2.Request)."},
    {"remote_write.NAME", "headers", T_STRING, RESTART, "", R(headers), 0, 0,
     "Extra request headers, comma-separated \"Name: value\" pairs, for example\n"
     "X-Scope-OrgID: tenant1, X-Other: v (a value cannot hold a comma).  The\n"
     "protocol's own headers (Content-Type, Content-Encoding, User-Agent,\n"
     "X-Prometheus-Remote-Write-Version, Host, ...) cannot be set, nor\n"
     "Authorization together with bearer or basic auth."},
    {"remote_write.NAME", "bearer_token_file", T_STRING, RESTART, "", R(bearer_token_file), 0, 0,
     "File holding a token sent as \"Authorization: Bearer <token>\" (blanks around\n"
     "it dropped); re-read when it changes, so it can be rotated.  Empty = none."},
    {"remote_write.NAME", "basic_auth_username", T_STRING, RESTART, "", R(basic_auth_username),
     0, 0,
     "User name for HTTP basic auth, with basic_auth_password_file; not together\n"
     "with bearer_token_file.  Empty = none."},
    {"remote_write.NAME", "basic_auth_password_file", T_STRING, RESTART, "",
     R(basic_auth_password_file), 0, 0,
     "File holding the basic auth password (blanks around it dropped); re-read\n"
     "when it changes."},
    {"remote_write.NAME", "timeout", T_DURATION, RESTART, "30s", R(timeout_ms), 1, 3600000,
     "One request, connecting included, fails after this long (then it is\n"
     "retried)."},
    {"remote_write.NAME", "batch_size", T_U32, RESTART, "2000", R(batch_size), 1, 1000000,
     "Samples per request at most."},
    {"remote_write.NAME", "batch_deadline", T_DURATION, RESTART, "5s", R(batch_deadline_ms), 1,
     3600000,
     "A batch that has not filled up is sent after this long."},
    {"remote_write.NAME", "shards", T_U32, RESTART, "4", R(shards), 1, 64,
     "Requests in flight at once, each on its own kept-alive connection."},
    {"remote_write.NAME", "min_backoff", T_DURATION, RESTART, "30ms", R(min_backoff_ms), 1,
     3600000,
     "First delay before a failed request (network error, timeout, 5xx, 429) is\n"
     "retried; it doubles with every retry up to max_backoff, with jitter.  A\n"
     "Retry-After header from the receiver is honoured instead."},
    {"remote_write.NAME", "max_backoff", T_DURATION, RESTART, "5s", R(max_backoff_ms), 1,
     3600000,
     "Longest delay between retries (not less than min_backoff)."},
    {"remote_write.NAME", "retry_on_429", T_BOOL, RESTART, "true", R(retry_on_429), 0, 0,
     "Retry a request answered 429 Too Many Requests; false drops it like other\n"
     "4xx answers (counted, with the receiver's message logged)."},
    {"remote_write.NAME", "native_histograms", T_BOOL, RESTART, "false", R(native_histograms), 0, 0,
     "Send exponential histograms as native histograms; false sends the classic\n"
     "_bucket{le}, _sum and _count series a text scrape gets, which every receiver\n"
     "takes (Prometheus 2.x needs --enable-feature=native-histograms for native\n"
     "ones, and answers 500 without it; VictoriaMetrics 1.79 drops them)."},
    {"remote_write.NAME", "tls_ca_file", T_STRING, RESTART, "", R(tls_ca_file), 0, 0,
     "CA certificates (PEM) that the receiver's certificate must chain to; empty =\n"
     "the system's."},
    {"remote_write.NAME", "tls_cert_file", T_STRING, RESTART, "", R(tls_cert_file), 0, 0,
     "Client certificate (PEM) for mutual TLS, with tls_key_file."},
    {"remote_write.NAME", "tls_key_file", T_STRING, RESTART, "", R(tls_key_file), 0, 0,
     "Private key (PEM) of tls_cert_file."},
    {"remote_write.NAME", "tls_server_name", T_STRING, RESTART, "", R(tls_server_name), 0, 0,
     "Name sent in SNI and checked in the receiver's certificate, when it is not\n"
     "the URL's host (the connection still goes to the URL's host).  Empty = the\n"
     "URL's host."},
    {"remote_write.NAME", "tls_insecure_skip_verify", T_BOOL, RESTART, "false",
     R(tls_insecure_skip_verify), 0, 0,
     "Accept any certificate from the receiver (testing only)."},
};

static const struct option *find_option(const char *section, const char *key)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++)
        if (strcmp(options[i].section, section) == 0 && strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

static const struct option *find_rw_option(const char *key)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++)
        if (strcmp(rw_options[i].key, key) == 0)
            return &rw_options[i];
    return NULL;
}

#define RW_PREFIX "remote_write."
#define RW_PREFIX_LEN (sizeof RW_PREFIX - 1)

/* "remote_write.<anything>": a target section, its name still to check. */
static bool rw_section(const char *section)
{
    return strncmp(section, RW_PREFIX, RW_PREFIX_LEN) == 0;
}

static bool rw_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > OB_RW_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return false;
    return true;
}

static bool section_known(const char *section)
{
    if (rw_section(section))
        return true; /* the name is checked where the target is made */
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++)
        if (strcmp(options[i].section, section) == 0)
            return true;
    return false;
}

/* Appends to err (NUL-terminated, truncated at OB_ERR_LEN). */
OB_PRINTF(2, 3) static void err_append(char err[OB_ERR_LEN], const char *fmt, ...)
{
    size_t len = strnlen(err, OB_ERR_LEN - 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + len, OB_ERR_LEN - len, fmt, ap);
    va_end(ap);
}

static int err_unknown_key(const char *section, const char *key, char err[OB_ERR_LEN])
{
    snprintf(err, OB_ERR_LEN, "unknown key %s.%s; [%s] has:", section, key, section);
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++)
        if (strcmp(options[i].section, section) == 0)
            err_append(err, " %s", options[i].key);
    return OB_E_CONFIG;
}

static int err_unknown_section(const char *section, char err[OB_ERR_LEN])
{
    snprintf(err, OB_ERR_LEN, "unknown section [%s]; sections are:", section);
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++)
        if (i == 0 || strcmp(options[i].section, options[i - 1].section) != 0)
            err_append(err, " %s", options[i].section);
    err_append(err, " %s", rw_options[0].section);
    return OB_E_CONFIG;
}

static void fmt_number(enum opt_type t, uint64_t v, char *buf, size_t cap)
{
    if (t == T_SIZE)
        ob_format_size(v, buf, cap);
    else if (t == T_DURATION)
        ob_format_duration((int64_t)v, buf, cap);
    else
        snprintf(buf, cap, "%" PRIu64, v);
}

/* What a value of this type looks like, for errors and the ini comments. */
static const char *type_text(enum opt_type t)
{
    switch (t) {
    case T_STRING: return "a string";
    case T_BOOL: return "true or false (also yes/no, on/off, 1/0)";
    case T_U32: return "an integer";
    case T_SIZE: return "a size (B, KiB, MiB, GiB, TiB)";
    case T_DURATION: return "a duration (ms, s, m, h, d)";
    case T_LOGLEVEL: return "error, warn, info or debug";
    case T_LOGFORMAT: return "text or logfmt";
    case T_RWPROTO: return "1.0 or 2.0";
    }
    return "?";
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < OB_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_rw_protocol(const char *s, int *out)
{
    if (strcmp(s, "1.0") == 0)
        *out = OB_RW_PROTO_1_0;
    else if (strcmp(s, "2.0") == 0)
        *out = OB_RW_PROTO_2_0;
    else
        return -EINVAL;
    return 0;
}

/* Parses text for opt into the struct at base (struct ob_config, or struct
 * ob_rw_target_cfg for rw_options).  Errors name section.key, the value and
 * what is expected. */
static int set_value(void *base, const char *section, const struct option *opt,
                     const char *text, char err[OB_ERR_LEN])
{
    char *field = (char *)base + opt->off;
    uint64_t v = 0;
    int rc = 0;

    switch (opt->type) {
    case T_STRING: {
        if (opt->min && !*text) {
            snprintf(err, OB_ERR_LEN, "%s.%s: must not be empty", section, opt->key);
            return OB_E_CONFIG;
        }
        char *copy = strdup(text);
        if (!copy)
            return -ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case T_BOOL:
        rc = parse_bool(text, (bool *)field);
        break;
    case T_LOGLEVEL: {
        int level = ob_log_level_parse(text);
        if (level >= 0)
            *(int *)field = level;
        rc = level < 0 ? level : 0;
        break;
    }
    case T_LOGFORMAT: {
        int format = ob_log_format_parse(text);
        if (format >= 0)
            *(int *)field = format;
        rc = format < 0 ? format : 0;
        break;
    }
    case T_U32:
        rc = parse_u64(text, &v);
        break;
    case T_SIZE:
        rc = ob_parse_size(text, &v);
        break;
    case T_DURATION: {
        int64_t ms;
        rc = ob_parse_duration(text, &ms);
        v = (uint64_t)ms; /* never negative: the parser takes digits only */
        break;
    }
    case T_RWPROTO:
        rc = parse_rw_protocol(text, (int *)field);
        break;
    }
    if (rc == 0 && (opt->type == T_U32 || opt->type == T_SIZE || opt->type == T_DURATION) &&
        (v < opt->min || v > opt->max))
        rc = -ERANGE;
    if (rc == -ERANGE) {
        char lo[32], hi[32];
        fmt_number(opt->type, opt->min, lo, sizeof lo);
        fmt_number(opt->type, opt->max, hi, sizeof hi);
        snprintf(err, OB_ERR_LEN, "%s.%s: '%s' is out of range: expected %s from %s to %s",
                 section, opt->key, text, type_text(opt->type), lo, hi);
        return OB_E_CONFIG;
    }
    if (rc) {
        snprintf(err, OB_ERR_LEN, "%s.%s: invalid value '%s': expected %s", section, opt->key,
                 text, type_text(opt->type));
        return OB_E_CONFIG;
    }
    switch (opt->type) {
    case T_U32: *(uint32_t *)field = (uint32_t)v; break;
    case T_SIZE: *(uint64_t *)field = v; break;
    case T_DURATION: *(int64_t *)field = (int64_t)v; break;
    default: break;
    }
    return 0;
}

/* A plugin key: replaces an earlier value of the same key (an override
 * beats the file). */
static int kv_set(struct ob_kv **io_kv, size_t *io_n, const char *key, const char *value)
{
    for (size_t i = 0; i < *io_n; i++) {
        if (strcmp((*io_kv)[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -ENOMEM;
            free((char *)(*io_kv)[i].value);
            (*io_kv)[i].value = v;
            return 0;
        }
    }
    struct ob_kv *kv = realloc(*io_kv, (*io_n + 1) * sizeof *kv);
    if (!kv)
        return -ENOMEM;
    *io_kv = kv;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    kv[(*io_n)++] = (struct ob_kv){k, v};
    return 0;
}

static void kv_free(struct ob_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

/* The plugin key array of a translator section, or NULL for other sections. */
static bool plugin_section(struct ob_config *cfg, const char *section, struct ob_kv ***out_kv,
                           size_t **out_n)
{
    if (strcmp(section, "translator") == 0) {
        *out_kv = &cfg->translator_kv;
        *out_n = &cfg->translator_n_kv;
        return true;
    }
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        if (strncmp(section, "translator_", 11) == 0 &&
            strcmp(section + 11, ob_frontend_name((enum ob_frontend)fe)) == 0) {
            *out_kv = &cfg->translator_fe[fe].kv;
            *out_n = &cfg->translator_fe[fe].n_kv;
            return true;
        }
    }
    return false;
}

static void rw_target_free(struct ob_rw_target_cfg *t)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++)
        if (rw_options[i].type == T_STRING)
            free(*(char **)((char *)t + rw_options[i].off));
    kv_free(t->header_kv, t->n_headers);
}

/* The target of section "remote_write.NAME", made with the defaults when it
 * is new.  NULL with err set for a bad name or no memory. */
static struct ob_rw_target_cfg *rw_target(struct ob_config *cfg, const char *section,
                                          char err[OB_ERR_LEN])
{
    const char *name = section + RW_PREFIX_LEN;
    if (!rw_name_ok(name)) {
        snprintf(err, OB_ERR_LEN,
                 "[%s]: a target name is 1 to %d letters, digits, '_' or '-'", section,
                 OB_RW_NAME_MAX);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_rw; i++)
        if (strcmp(cfg->rw[i].name, name) == 0)
            return &cfg->rw[i];
    struct ob_rw_target_cfg *rw = realloc(cfg->rw, (cfg->n_rw + 1) * sizeof *rw);
    if (!rw) {
        snprintf(err, OB_ERR_LEN, "out of memory");
        return NULL;
    }
    cfg->rw = rw;
    struct ob_rw_target_cfg *t = &rw[cfg->n_rw];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->section, sizeof t->section, "%s", section);
    for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++) {
        if (set_value(t, section, &rw_options[i], rw_options[i].def, err)) {
            rw_target_free(t); /* a bad default: the table is wrong (the tests catch it) */
            return NULL;
        }
    }
    cfg->n_rw++;
    return t;
}

static int err_unknown_rw_key(const char *section, const char *key, char err[OB_ERR_LEN])
{
    snprintf(err, OB_ERR_LEN, "unknown key %s.%s; [%s] has:", section, key, section);
    for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++)
        err_append(err, " %s", rw_options[i].key);
    return OB_E_CONFIG;
}

static int apply(struct ob_config *cfg, const char *section, const char *key, const char *value,
                 char err[OB_ERR_LEN])
{
    if (!section_known(section))
        return err_unknown_section(section, err);
    if (rw_section(section)) {
        struct ob_rw_target_cfg *t = rw_target(cfg, section, err);
        if (!t)
            return OB_E_CONFIG;
        const struct option *opt = find_rw_option(key);
        return opt ? set_value(t, section, opt, value, err) : err_unknown_rw_key(section, key, err);
    }
    const struct option *opt = find_option(section, key);
    if (opt)
        return set_value(cfg, section, opt, value, err);
    struct ob_kv **kv;
    size_t *n;
    if (plugin_section(cfg, section, &kv, &n))
        return kv_set(kv, n, key, value);
    return err_unknown_key(section, key, err);
}

/* iniparser reports syntax errors through a callback that has no context
 * argument; loading runs on one thread at a time (start, reload), but keep
 * the text per thread anyway. */
static _Thread_local char ini_error[OB_ERR_LEN];

static int ini_error_cb(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ini_error, sizeof ini_error, fmt, ap);
    va_end(ap);
    /* "iniparser: syntax error in F (2):\n-> line": one line for the log. */
    for (char *p = ini_error; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return n;
}

static int load_file(struct ob_config *cfg, const char *path, char err[OB_ERR_LEN])
{
    /* iniparser would only print "cannot open"; say why. */
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, OB_ERR_LEN, "cannot read config file %s: %s", path, strerror(e));
        return OB_E_CONFIG;
    }
    fclose(f);

    ini_error[0] = '\0';
    iniparser_set_error_callback(ini_error_cb);
    dictionary *d = iniparser_load(path);
    iniparser_set_error_callback(NULL);
    if (!d) {
        snprintf(err, OB_ERR_LEN, "%s", ini_error[0] ? ini_error : "cannot parse config file");
        return OB_E_CONFIG;
    }

    /* Walk the dictionary itself rather than getnsec/getseckeys: those never
     * show a key written before the first [section] (stored as ":key"), and
     * that is a mistake to report too.  A section is an entry without a
     * value; a key is "section:key", both lower-cased by iniparser. */
    int rc = 0;
    for (ssize_t i = 0; i < d->size && rc == 0; i++) {
        const char *name = d->key[i];
        if (!name)
            continue;
        if (!d->val[i]) {
            if (!section_known(name))
                rc = err_unknown_section(name, err);
            else if (rw_section(name) && !rw_target(cfg, name, err))
                rc = OB_E_CONFIG; /* an empty target section still is a target */
            continue;
        }
        const char *colon = strchr(name, ':');
        if (!colon || colon == name) {
            snprintf(err, OB_ERR_LEN, "%s: key '%s' is outside any [section]", path,
                     colon ? colon + 1 : name);
            rc = OB_E_CONFIG;
            break;
        }
        char section[sizeof RW_PREFIX + 64];
        size_t slen = (size_t)(colon - name);
        if (slen >= sizeof section) {
            snprintf(err, OB_ERR_LEN, "%s: section of '%s' is too long", path, name);
            rc = OB_E_CONFIG;
            break;
        }
        memcpy(section, name, slen);
        section[slen] = '\0';
        rc = apply(cfg, section, colon + 1, d->val[i], err);
    }
    iniparser_freedict(d);
    return rc;
}

/* "section.key=value"; section and key lower-cased like iniparser does for
 * the file, surrounding blanks dropped. */
static int apply_override(struct ob_config *cfg, const char *ov, char err[OB_ERR_LEN])
{
    const char *eq = strchr(ov, '=');
    const char *dot = eq ? memchr(ov, '.', (size_t)(eq - ov)) : NULL;
    char name[128];
    if (!eq || !dot || (size_t)(eq - ov) >= sizeof name) {
        snprintf(err, OB_ERR_LEN, "-o '%s': expected section.key=value", ov);
        return OB_E_CONFIG;
    }
    size_t n = (size_t)(eq - ov);
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)ov[i]);
    while (n && isspace((unsigned char)name[n - 1]))
        n--;
    name[n] = '\0';
    char *section = name;
    while (isspace((unsigned char)*section))
        section++;
    size_t dot_at = (size_t)(dot - ov);
    name[dot_at] = '\0';
    for (size_t e = dot_at; e > 0 && isspace((unsigned char)name[e - 1]); e--)
        name[e - 1] = '\0';
    char *key = name + dot_at + 1;
    while (isspace((unsigned char)*key))
        key++;
    /* remote_write.NAME.key: the target's section takes the next dot too
     * (only there; a plugin key in [translator] may hold dots). */
    char rw_sec[sizeof name];
    char *dot2 = strcmp(section, "remote_write") == 0 ? strchr(key, '.') : NULL;
    if (dot2) {
        snprintf(rw_sec, sizeof rw_sec, "remote_write.%.*s", (int)(dot2 - key), key);
        section = rw_sec;
        key = dot2 + 1;
    }
    if (!*section || !*key) {
        snprintf(err, OB_ERR_LEN, "-o '%s': expected section.key=value", ov);
        return OB_E_CONFIG;
    }

    const char *v = eq + 1;
    while (isspace((unsigned char)*v))
        v++;
    size_t vlen = strlen(v);
    while (vlen && isspace((unsigned char)v[vlen - 1]))
        vlen--;
    char *value = strndup(v, vlen);
    if (!value)
        return -ENOMEM;
    int rc = apply(cfg, section, key, value, err);
    free(value);
    return rc;
}

/* Header names a target cannot set: what the protocol itself sends or HTTP
 * manages (Prometheus refuses the same in remote_write headers). */
static const char *const reserved_headers[] = {
    "Host", "Content-Encoding", "Content-Length", "Content-Type", "User-Agent", "Connection",
    "Keep-Alive", "Transfer-Encoding", "Expect", "TE", "Upgrade", "Accept-Encoding",
    "Proxy-Authenticate", "Proxy-Authorization", "WWW-Authenticate",
    "X-Prometheus-Remote-Write-Version", "X-Prometheus-Scrape-Timeout-Seconds",
};

/* RFC 9110 token characters, what a header name is made of. */
static bool tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* t->headers ("Name: value, Name: value") into t->header_kv. */
static int parse_headers(struct ob_rw_target_cfg *t, char err[OB_ERR_LEN])
{
    const char *p = t->headers;
    while (isspace((unsigned char)*p))
        p++;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *colon = memchr(p, ':', len);
        size_t nlen = colon ? (size_t)(colon - p) : 0;
        bool name_ok = nlen > 0;
        for (size_t i = 0; i < nlen; i++)
            name_ok = name_ok && tchar((unsigned char)p[i]);
        const char *v = colon ? colon + 1 : p + len, *vend = p + len;
        while (v < vend && isspace((unsigned char)*v))
            v++;
        while (vend > v && isspace((unsigned char)vend[-1]))
            vend--;
        bool value_ok = vend > v;
        for (const char *c = v; c < vend; c++)
            value_ok = value_ok && ((unsigned char)*c >= 0x20 || *c == '\t') && *c != 0x7f;
        if (!name_ok || !value_ok) {
            snprintf(err, OB_ERR_LEN,
                     "%s.headers: '%.*s' is not \"Name: value\" (headers are comma-separated;"
                     " a value cannot hold a comma)",
                     t->section, (int)len, p);
            return OB_E_CONFIG;
        }
        char name[128];
        if (nlen >= sizeof name) {
            snprintf(err, OB_ERR_LEN, "%s.headers: header name '%.*s...' is too long",
                     t->section, 32, p);
            return OB_E_CONFIG;
        }
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        for (size_t i = 0; i < OB_ARRAY_LEN(reserved_headers); i++) {
            if (strcasecmp(name, reserved_headers[i]) == 0) {
                snprintf(err, OB_ERR_LEN, "%s.headers: %s is the protocol's own header",
                         t->section, name);
                return OB_E_CONFIG;
            }
        }
        if (strcasecmp(name, "Authorization") == 0 &&
            (t->bearer_token_file[0] || t->basic_auth_username[0])) {
            snprintf(err, OB_ERR_LEN,
                     "%s.headers: Authorization cannot be set together with bearer or basic auth",
                     t->section);
            return OB_E_CONFIG;
        }
        for (size_t i = 0; i < t->n_headers; i++) {
            if (strcasecmp(name, t->header_kv[i].key) == 0) {
                snprintf(err, OB_ERR_LEN, "%s.headers: %s is given twice", t->section, name);
                return OB_E_CONFIG;
            }
        }
        char *value = strndup(v, (size_t)(vend - v));
        if (!value)
            return -ENOMEM;
        int rc = kv_set(&t->header_kv, &t->n_headers, name, value);
        free(value);
        if (rc)
            return rc;
        p += len;
        if (*p == ',') {
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (!*p) {
                snprintf(err, OB_ERR_LEN, "%s.headers: ends in a comma", t->section);
                return OB_E_CONFIG;
            }
        }
    }
    return 0;
}

/* What a target needs beyond each key's own value, checked once every key
 * is known (the file and the overrides can set them in any order). */
static int check_target(struct ob_rw_target_cfg *t, char err[OB_ERR_LEN])
{
    if (!t->url[0]) {
        snprintf(err, OB_ERR_LEN, "%s.url: missing: every target needs the receiver's URL",
                 t->section);
        return OB_E_CONFIG;
    }
    if (strncasecmp(t->url, "http://", 7) != 0 && strncasecmp(t->url, "https://", 8) != 0) {
        snprintf(err, OB_ERR_LEN, "%s.url: '%s' is not an http:// or https:// URL", t->section,
                 t->url);
        return OB_E_CONFIG;
    }
    const char *host = strstr(t->url, "//") + 2;
    if (!*host || *host == '/' || *host == ':' || strpbrk(t->url, " \t")) {
        snprintf(err, OB_ERR_LEN, "%s.url: '%s' has no host or holds blanks", t->section, t->url);
        return OB_E_CONFIG;
    }
    if (t->bearer_token_file[0] && (t->basic_auth_username[0] || t->basic_auth_password_file[0])) {
        snprintf(err, OB_ERR_LEN,
                 "%s: bearer_token_file and basic_auth_* cannot both be set: pick one",
                 t->section);
        return OB_E_CONFIG;
    }
    if (!t->basic_auth_username[0] != !t->basic_auth_password_file[0]) {
        snprintf(err, OB_ERR_LEN,
                 "%s: basic_auth_username and basic_auth_password_file go together", t->section);
        return OB_E_CONFIG;
    }
    if (!t->tls_cert_file[0] != !t->tls_key_file[0]) {
        snprintf(err, OB_ERR_LEN, "%s: tls_cert_file and tls_key_file go together", t->section);
        return OB_E_CONFIG;
    }
    if (t->min_backoff_ms > t->max_backoff_ms) {
        snprintf(err, OB_ERR_LEN, "%s.min_backoff: longer than max_backoff", t->section);
        return OB_E_CONFIG;
    }
    kv_free(t->header_kv, t->n_headers); /* a reload parses a fresh config; be safe anyway */
    t->header_kv = NULL;
    t->n_headers = 0;
    return parse_headers(t, err);
}

int ob_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                   struct ob_config **out, char err[OB_ERR_LEN])
{
    int rc;
    err[0] = '\0';
    struct ob_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -ENOMEM;

    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++) {
        rc = set_value(cfg, options[i].section, &options[i], options[i].def, err);
        if (rc)
            goto fail; /* a bad default: the table is wrong (the tests catch it) */
    }
    if (path) {
        rc = load_file(cfg, path, err);
        if (rc)
            goto fail;
    }
    for (size_t i = 0; i < n_overrides; i++) {
        rc = apply_override(cfg, overrides[i], err);
        if (rc)
            goto fail;
    }
    for (size_t i = 0; i < cfg->n_rw; i++) {
        rc = check_target(&cfg->rw[i], err);
        if (rc)
            goto fail;
    }
    *out = cfg;
    return 0;

fail:
    if (rc == -ENOMEM && !err[0])
        snprintf(err, OB_ERR_LEN, "out of memory");
    ob_config_destroy(cfg);
    return rc;
}

void ob_config_destroy(struct ob_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++)
        if (options[i].type == T_STRING)
            free(*(char **)((char *)cfg + options[i].off));
    kv_free(cfg->translator_kv, cfg->translator_n_kv);
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        kv_free(cfg->translator_fe[fe].kv, cfg->translator_fe[fe].n_kv);
    for (size_t i = 0; i < cfg->n_rw; i++)
        rw_target_free(&cfg->rw[i]);
    free(cfg->rw);
    free(cfg);
}

/* The quote a string value needs so that iniparser reads it back unchanged
 * ('\0': none): quoted when empty, padded, or holding a comment character.
 * iniparser has no escapes: a value with both quotes is lost. */
static char string_quote(const char *s)
{
    size_t n = strlen(s);
    bool quote = n == 0 || strpbrk(s, ";#\"'") || isspace((unsigned char)s[0]) ||
                 isspace((unsigned char)s[n - 1]);
    return !quote ? '\0' : !strchr(s, '"') ? '"' : '\'';
}

static void put_string(FILE *f, const char *s)
{
    char q = string_quote(s);
    if (q)
        fprintf(f, "%c%s%c", q, s, q);
    else
        fputs(s, f);
}

/* opt's value in cfg as the INI file writes it, cut to cap ("..." at the
 * end when cut). */
static void value_text(const void *base, const struct option *opt, char *buf, size_t cap)
{
    const char *field = (const char *)base + opt->off;
    int n = 0;
    switch (opt->type) {
    case T_STRING: {
        const char *s = *(char *const *)field;
        char q = string_quote(s);
        n = q ? snprintf(buf, cap, "%c%s%c", q, s, q) : snprintf(buf, cap, "%s", s);
        break;
    }
    case T_BOOL: snprintf(buf, cap, "%s", *(const bool *)field ? "true" : "false"); break;
    case T_LOGLEVEL: {
        const char *name = ob_log_level_name(*(const int *)field);
        snprintf(buf, cap, "%s", name ? name : "info");
        break;
    }
    case T_LOGFORMAT: {
        const char *name = ob_log_format_name(*(const int *)field);
        snprintf(buf, cap, "%s", name ? name : "text");
        break;
    }
    case T_U32: fmt_number(T_U32, *(const uint32_t *)field, buf, cap); break;
    case T_SIZE: fmt_number(T_SIZE, *(const uint64_t *)field, buf, cap); break;
    case T_DURATION: fmt_number(T_DURATION, (uint64_t) * (const int64_t *)field, buf, cap);
        break;
    case T_RWPROTO:
        snprintf(buf, cap, "%s", *(const int *)field == OB_RW_PROTO_2_0 ? "2.0" : "1.0");
        break;
    }
    if (n > 0 && (size_t)n >= cap && cap > 3)
        memcpy(buf + cap - 4, "...", 4);
}

/* Writes the whole value: strings can be longer than any buffer. */
static void put_value(FILE *f, const void *base, const struct option *opt)
{
    if (opt->type == T_STRING) {
        put_string(f, *(char *const *)((const char *)base + opt->off));
        return;
    }
    char text[32];
    value_text(base, opt, text, sizeof text);
    fputs(text, f);
}

static bool same_value(const void *a, const void *b, const struct option *opt)
{
    const char *fa = (const char *)a + opt->off, *fb = (const char *)b + opt->off;
    switch (opt->type) {
    case T_STRING: return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
    case T_BOOL: return *(const bool *)fa == *(const bool *)fb;
    case T_LOGLEVEL:
    case T_LOGFORMAT:
    case T_RWPROTO: return *(const int *)fa == *(const int *)fb;
    case T_U32: return *(const uint32_t *)fa == *(const uint32_t *)fb;
    case T_SIZE: return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case T_DURATION: return *(const int64_t *)fa == *(const int64_t *)fb;
    }
    return false;
}

static const struct ob_rw_target_cfg *target_named(const struct ob_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_rw; i++)
        if (strcmp(cfg->rw[i].name, name) == 0)
            return &cfg->rw[i];
    return NULL;
}

/* A target in only one of the two: its url against "(none)". */
static void target_alone(const struct ob_rw_target_cfg *t, bool in_running,
                         ob_config_change_fn *fn, void *ctx)
{
    if (!fn)
        return;
    struct ob_config_change c = {.section = t->section, .key = "url", .reloadable = false};
    const struct option *url = find_rw_option("url");
    value_text(t, url, in_running ? c.was : c.now, OB_CONFIG_VALUE_LEN);
    snprintf(in_running ? c.now : c.was, OB_CONFIG_VALUE_LEN, "(none)");
    fn(ctx, &c);
}

static size_t diff_targets(const struct ob_config *running, const struct ob_config *next,
                           ob_config_change_fn *fn, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < running->n_rw; i++) {
        const struct ob_rw_target_cfg *a = &running->rw[i], *b = target_named(next, a->name);
        if (!b) {
            target_alone(a, true, fn, ctx);
            n++;
            continue;
        }
        for (size_t k = 0; k < OB_ARRAY_LEN(rw_options); k++) {
            const struct option *opt = &rw_options[k];
            if (same_value(a, b, opt))
                continue;
            n++;
            if (!fn)
                continue;
            struct ob_config_change c = {.section = a->section, .key = opt->key};
            value_text(a, opt, c.was, sizeof c.was);
            value_text(b, opt, c.now, sizeof c.now);
            fn(ctx, &c);
        }
    }
    for (size_t i = 0; i < next->n_rw; i++) {
        if (!target_named(running, next->rw[i].name)) {
            target_alone(&next->rw[i], false, fn, ctx);
            n++;
        }
    }
    return n;
}

size_t ob_config_diff(const struct ob_config *running, const struct ob_config *next,
                      ob_config_change_fn *fn, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++) {
        const struct option *opt = &options[i];
        if (same_value(running, next, opt))
            continue;
        n++;
        if (!fn)
            continue;
        struct ob_config_change c = {
            .section = opt->section,
            .key = opt->key,
            .reloadable = opt->when == RELOAD,
        };
        value_text(running, opt, c.was, sizeof c.was);
        value_text(next, opt, c.now, sizeof c.now);
        fn(ctx, &c);
    }
    return n + diff_targets(running, next, fn, ctx);
}

int ob_config_reloadable(const char *section, const char *key)
{
    const struct option *opt =
        rw_section(section) ? find_rw_option(key) : find_option(section, key);
    return opt ? opt->when == RELOAD : -ENOENT;
}

static bool starts_section(size_t i)
{
    return i == 0 || strcmp(options[i].section, options[i - 1].section) != 0;
}

void ob_config_dump(const struct ob_config *cfg, FILE *f)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++) {
        const struct option *opt = &options[i];
        if (starts_section(i))
            fprintf(f, "%s[%s]\n", i ? "\n" : "", opt->section);
        fprintf(f, "%s = ", opt->key);
        put_value(f, cfg, opt);
        fputc('\n', f);
        bool last_of_section = i + 1 == OB_ARRAY_LEN(options) || starts_section(i + 1);
        struct ob_kv **kv;
        size_t *n;
        /* dump does not change cfg: plugin_section only hands out pointers */
        if (last_of_section && plugin_section((struct ob_config *)cfg, opt->section, &kv, &n)) {
            for (size_t k = 0; k < *n; k++) {
                fprintf(f, "%s = ", (*kv)[k].key);
                put_string(f, (*kv)[k].value);
                fputc('\n', f);
            }
        }
    }
    for (size_t t = 0; t < cfg->n_rw; t++) {
        fprintf(f, "\n[%s]\n", cfg->rw[t].section);
        for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++) {
            fprintf(f, "%s = ", rw_options[i].key);
            put_value(f, &cfg->rw[t], &rw_options[i]);
            fputc('\n', f);
        }
    }
}

/* What the defaults file shows for the one key without a default. */
#define RW_URL_EXAMPLE "http://127.0.0.1:9090/api/v1/write"

/* One key of the defaults file: its help, type and range, restart note and
 * the commented "#key = value" line (the default, or example when given). */
static void write_option_doc(FILE *f, const struct option *opt, const char *example)
{
    for (const char *line = opt->help; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(f, "# %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    if (opt->type == T_STRING) {
        /* nothing to add: the help says what the string is */
    } else if (opt->type == T_U32 || opt->type == T_SIZE || opt->type == T_DURATION) {
        char lo[32], hi[32];
        fmt_number(opt->type, opt->min, lo, sizeof lo);
        fmt_number(opt->type, opt->max, hi, sizeof hi);
        const char *t = type_text(opt->type);
        fprintf(f, "# %c%s, %s to %s.\n", toupper((unsigned char)t[0]), t + 1, lo, hi);
    } else {
        const char *t = type_text(opt->type);
        fprintf(f, "# %c%s.\n", toupper((unsigned char)t[0]), t + 1);
    }
    if (opt->when == RESTART)
        fputs("# Needs a restart.\n", f);
    fprintf(f, "#%s = %s\n", opt->key, example ? example : opt->def);
}

void ob_config_write_defaults(FILE *f)
{
    fputs("# otlp-broker configuration.\n"
          "#\n"
          "# Every key is optional: each is shown commented out with its default, so\n"
          "# this file as it stands runs the defaults.  Uncomment a line to change it.\n"
          "# Any key can also be set on the command line with -o section.key=value,\n"
          "# which wins over this file.  Unknown keys and bad values stop the broker.\n"
          "# Sizes take B, KiB, MiB, GiB, TiB; durations ms, s, m, h, d.\n"
          "#\n"
          "# SIGHUP or POST /-/reload re-reads this file and applies the translator\n"
          "# sections.  A key marked \"Needs a restart\" keeps its running value until\n"
          "# the broker restarts; a reload that changes one says so and goes on.\n"
          "#\n"
          "# This text is what ob_config_write_defaults() prints (a unit test keeps\n"
          "# the two equal): change the option table in broker/ob_config.c, not this.\n",
          f);
    for (size_t i = 0; i < OB_ARRAY_LEN(options); i++) {
        const struct option *opt = &options[i];
        if (starts_section(i))
            fprintf(f, "\n[%s]\n", opt->section);
        else
            fputc('\n', f);
        write_option_doc(f, opt, NULL);
    }
    /* The target example stays commented: the defaults have no target, and
     * a target without a url is an error. */
    fputs("\n# A remote-write target: one section per receiver, as many as wanted,\n"
          "# [remote_write.NAME] with NAME 1 to 40 letters, digits, '_' or '-' (section\n"
          "# names are case-insensitive).  Every stored sample is forwarded to each\n"
          "# target; url is required, every other key has a default.  Override one\n"
          "# with -o remote_write.NAME.key=value.\n"
          "#[remote_write.NAME]\n",
          f);
    for (size_t i = 0; i < OB_ARRAY_LEN(rw_options); i++) {
        fputc('\n', f);
        const struct option *opt = &rw_options[i];
        write_option_doc(f, opt, strcmp(opt->key, "url") == 0 ? RW_URL_EXAMPLE : NULL);
    }
}
