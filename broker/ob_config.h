/* ob_config.h: the broker's configuration.
 *
 * One static option table (section, key, type, default, field, range, help)
 * drives defaults, INI parsing (iniparser), `-o section.key=value` overrides,
 * range checks, --check-config output and the comments of etc/otlp-broker.ini,
 * and says of each key whether a reload applies it or it needs a restart.
 * Every key has a default, so an empty file runs.  Unknown keys and bad values
 * are errors naming the key.  Keys in [translator] other than the host's own
 * (plugin, plugin_dir) are handed to the plugin, which validates them.
 * [remote_write.NAME] sections, any number of them, each fill one struct
 * ob_rw_target_cfg from a second table of the same kind.
 */
#ifndef OB_CONFIG_H
#define OB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ob_common.h"
#include "ob_frontend.h"
#include "translator.h"

/* [translator_http] / [translator_zmq]: a frontend's own translator.  An
 * empty plugin means the frontend uses [translator]. */
struct ob_listener_translator {
    char *plugin;       /* plugin name or .so path; empty = [translator]'s */
    char *plugin_dir;   /* empty = [translator]'s plugin_dir */
    struct ob_kv *kv;   /* the plugin's own keys */
    size_t n_kv;
};

/* Remote-write protocol versions (Prometheus' remote write specs 1.0, 2.0). */
enum ob_rw_protocol { OB_RW_PROTO_1_0 = 1, OB_RW_PROTO_2_0 = 2 };

#define OB_RW_NAME_MAX 40 /* a target name: 1 to 40 of [a-z0-9_-] */

/* [remote_write.NAME]: one receiver.  Checked when loaded: url is http(s),
 * headers parse, at most one of bearer and basic auth, min <= max backoff. */
struct ob_rw_target_cfg {
    char name[OB_RW_NAME_MAX + 1];  /* NAME, lower-cased like every section name */
    char section[sizeof "remote_write." + OB_RW_NAME_MAX]; /* "remote_write.NAME" */
    char *url;                      /* http:// or https:// */
    int protocol;                   /* enum ob_rw_protocol */
    char *headers;                  /* as written: "Name: value, Name: value" */
    struct ob_kv *header_kv;        /* headers parsed, in order (key = name) */
    size_t n_headers;
    char *bearer_token_file;        /* "" = none */
    char *basic_auth_username;      /* "" = none; set together with the password file */
    char *basic_auth_password_file;
    int64_t timeout_ms;             /* one request, connecting included */
    uint32_t batch_size;            /* samples per request */
    int64_t batch_deadline_ms;      /* a partial batch is sent after this long */
    uint32_t shards;                /* requests in flight at once (connections) */
    int64_t min_backoff_ms;         /* first retry delay, doubling per retry ... */
    int64_t max_backoff_ms;         /* ... up to this */
    bool retry_on_429;              /* false: a 429 drops the batch like other 4xx */
    bool native_histograms;         /* exponential histograms native, else classic buckets */
    char *tls_ca_file;              /* "" = the system's CAs */
    char *tls_cert_file;            /* client certificate; set together with the key */
    char *tls_key_file;
    char *tls_server_name;          /* "" = the URL's host: SNI and certificate name */
    bool tls_insecure_skip_verify;
};

struct ob_config {
    /* [broker] */
    int log_level;                 /* enum ob_log_level; key broker.log_level */
    int log_format;                /* enum ob_log_format; key broker.log_format */
    int64_t housekeeping_ms;       /* broker.housekeeping_interval */

    /* [http] */
    char *http_listen;             /* host:port, [v6]:port; port 0 = any free port */
    uint32_t http_threads;         /* HTTP worker daemons; 0 = number of CPUs */
    int64_t http_timeout_ms;       /* idle connection timeout */

    /* [store] */
    char *store_path;              /* "/otlp-broker" (POSIX shm) or a file path */
    uint32_t store_max_series;
    uint32_t store_max_families;
    uint32_t store_samples_per_series;
    uint64_t store_heap_bytes;     /* 0 = derived from max_series */
    int64_t store_ooo_window_ms;   /* store.out_of_order_window */
    int64_t store_series_ttl_ms;   /* store.series_ttl */
    uint64_t store_exemplar_bytes; /* store.exemplar_memory; 0 = 128 B per series */
    int64_t store_delta_reset_ms;  /* store.delta_reset_after; 0 = series_ttl */
    bool store_recreate;           /* replace an incompatible segment */

    /* [translator] */
    char *translator_plugin;       /* plugin name or path to a .so */
    char *translator_plugin_dir;
    struct ob_kv *translator_kv;   /* the plugin's own keys */
    size_t translator_n_kv;

    /* [zmq] */
    char *zmq_pull;                /* comma-separated endpoints; empty = none */
    char *zmq_reply;               /* comma-separated endpoints; empty = none */
    uint32_t zmq_threads;
    uint32_t zmq_rcv_hwm;
    uint32_t zmq_max_senders;      /* senders whose sequence numbers are followed */
    int64_t zmq_sender_ttl_ms;     /* a sender not heard for this long is forgotten */

    /* [grpc] */
    char *grpc_listen;             /* host:port, [v6]:port; empty = no gRPC frontend */
    uint32_t grpc_threads;         /* event-loop threads; 0 = number of CPUs */
    uint32_t grpc_max_conns;       /* open connections; more are closed at accept */
    uint32_t grpc_max_streams;     /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint64_t grpc_stream_window;   /* SETTINGS_INITIAL_WINDOW_SIZE */
    uint64_t grpc_conn_window;     /* the connection's receive window */
    uint64_t grpc_conn_memory;     /* request bodies buffered per connection */
    uint64_t grpc_max_header_list; /* SETTINGS_MAX_HEADER_LIST_SIZE */
    int64_t grpc_idle_timeout_ms;  /* a connection without streams is closed after it */

    /* [translator_<frontend>]: [translator_http], [translator_zmq], [translator_grpc] */
    struct ob_listener_translator translator_fe[OB_FE__COUNT];

    /* [exposition] */
    bool expose_timestamps;        /* exposition.timestamps */
    uint32_t expose_exp_max_buckets; /* exposition.exponential_max_buckets */

    /* [limits] */
    uint64_t max_body_bytes;       /* limits.max_body_bytes (compressed and inflated) */
    uint32_t max_labels_per_series;/* limits.max_labels_per_series */
    uint32_t max_exemplar_label_bytes; /* limits.max_exemplar_label_bytes */
    uint32_t name_cache_entries;   /* limits.name_cache_entries, per ingest thread */
    uint64_t name_cache_bytes;     /* limits.name_cache_bytes, per ingest thread */

    /* [remote_write]: the forward log all targets share */
    uint64_t rw_log_size;          /* remote_write.log_size */
    char *rw_log_path;             /* remote_write.log_path; "" = derived from store.path */
    /* [remote_write.NAME], in the order they first appear (file, then -o) */
    struct ob_rw_target_cfg *rw;
    size_t n_rw;
};

/* Loads path (NULL = defaults only), then applies overrides ("section.key=value").
 * Returns 0, or OB_E_CONFIG with a message naming the key in err. */
int ob_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                   struct ob_config **out, char err[OB_ERR_LEN]);
void ob_config_destroy(struct ob_config *cfg);
/* Writes every key with its effective value as INI (for --check-config). */
void ob_config_dump(const struct ob_config *cfg, FILE *f);
/* Writes the documented default INI file (etc/otlp-broker.ini is this output). */
void ob_config_write_defaults(FILE *f);

/* Room for one value in a change: longer strings are cut, ending in "...". */
#define OB_CONFIG_VALUE_LEN 96

/* One key of the option table whose value differs between two configurations. */
struct ob_config_change {
    /* The option table's (static), or for a [remote_write.NAME] key the
     * section name inside running or next (valid during the call). */
    const char *section, *key;
    bool reloadable;           /* a reload applies it; false: it needs a restart */
    char was[OB_CONFIG_VALUE_LEN], now[OB_CONFIG_VALUE_LEN]; /* as --check-config writes them */
};
typedef void ob_config_change_fn(void *ctx, const struct ob_config_change *change);

/* Calls fn (NULL: none) for every key of the option table whose value
 * differs from running to next, in table order, and returns how many differ.
 * Then the remote-write targets, matched by name: each changed key of a
 * target in both, and the url of a target in only one ("(none)" on the
 * other side).
 * The plugins' own keys in the translator sections are not compared: a
 * reload hands all of them to the plugin it loads. */
size_t ob_config_diff(const struct ob_config *running, const struct ob_config *next,
                      ob_config_change_fn *fn, void *ctx);
/* 1 if a reload applies section.key, 0 if it needs a restart, -ENOENT for a
 * key not in the table ("remote_write.NAME" sections: any NAME). */
int ob_config_reloadable(const char *section, const char *key);

#endif
