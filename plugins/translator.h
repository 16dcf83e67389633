/* translator.h: THE contract between otlp-broker and a translator plugin.
 *
 * A translator decides how OTLP names become Prometheus names.  The broker owns
 * decoding, data-point expansion (_bucket/_sum/_count, le, quantile), storage
 * and exposition; the plugin owns naming policy only.
 *
 * A plugin is a shared object that exports exactly one symbol:
 *
 *     OB_TRANSLATOR_EXPORT const struct ob_translator *
 *     ob_translator_v1(uint32_t host_abi_major, uint32_t host_abi_minor);
 *
 * It returns a pointer to a static, const descriptor (or NULL to refuse the
 * host).  The host checks magic, major version and size, copies the descriptor
 * into a zeroed host-owned struct (fields past hdr.size read as NULL), checks
 * the required callbacks and calls init().
 *
 * Versioning rules
 *  - Appending a field to struct ob_translator or struct ob_host bumps
 *    OB_ABI_MINOR.  Fields are never reordered, changed or removed within a
 *    major version; every v1 field has a _Static_assert on its offset below.
 *  - Any other change bumps OB_ABI_MAJOR and renames the entry symbol
 *    (ob_translator_v2), so a stale plugin fails at dlsym() with a clear name.
 *
 * Data crossing the boundary
 *  - Inputs are plain views owned by the broker (pointer + length, not NUL
 *    terminated), valid for the duration of the call.  Plugins never see
 *    protobuf-c types and never allocate in the store.
 *  - Outputs go into buffers the host provides.  A naming callback returns the
 *    length it needs (without a terminating NUL), snprintf-style: when that is
 *    larger than `cap` the host grows its buffer and calls again.  A negative
 *    return means "drop": the metric (or attribute) is not stored and the
 *    host counts it (for a metric: reason "translation").
 *
 * Threading
 *  - Callbacks may run on any HTTP or ZeroMQ thread at the same time.  All
 *    state lives behind init()'s *out_state and is read-only after init, so the
 *    same .so can be instantiated more than once (per listener).
 *  - The host caches results: family_name() is called once per distinct
 *    (name, unit, type, temporality) and label_name() once per distinct key,
 *    per loaded instance.  Callbacks must be pure functions of their inputs and
 *    of the state set up by init().
 *
 * Lifecycle: entry -> init(host, &state) -> naming calls ... -> fini(state) ->
 * dlclose.  On reload a new instance is initialised completely before it takes
 * over; the old one gets fini() once the last request using it has finished.
 */
#ifndef OB_TRANSLATOR_H
#define OB_TRANSLATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_ABI_MAJOR 1u
#define OB_ABI_MINOR 1u
#define OB_TRANSLATOR_MAGIC 0x4f42544cu /* "OBTL" */
#define OB_HOST_MAGIC 0x4f42484fu       /* "OBHO" */
#define OB_TRANSLATOR_ENTRY "ob_translator_v1"

#define OB_TRANSLATOR_EXPORT __attribute__((visibility("default")))

/* ---- views ------------------------------------------------------------ */

struct ob_str {
    const char *ptr;
    size_t len;
};

/* One attribute, value already rendered as Prometheus would (AnyValue
 * AsString: strings as is, true/false, decimal ints, shortest doubles, JSON
 * for arrays and maps, base64 for bytes). */
struct ob_attr {
    struct ob_str key;
    struct ob_str value;
};

/* Namer type, from the OTLP data type (docs/otlp-to-prometheus.md §1). */
enum ob_metric_type {
    OB_METRIC_GAUGE = 0,
    OB_METRIC_COUNTER = 1,       /* Sum, is_monotonic = true */
    OB_METRIC_UPDOWNCOUNTER = 2, /* Sum, is_monotonic = false */
    OB_METRIC_HISTOGRAM = 3,
    OB_METRIC_EXP_HISTOGRAM = 4,
    OB_METRIC_SUMMARY = 5,
};

/* Same numbers as OTLP's AggregationTemporality. */
enum ob_temporality {
    OB_TEMPORALITY_UNSPECIFIED = 0,
    OB_TEMPORALITY_DELTA = 1,
    OB_TEMPORALITY_CUMULATIVE = 2,
};

struct ob_metric_view {
    struct ob_str name;
    struct ob_str unit;        /* UCUM, may be empty */
    struct ob_str description; /* may be empty */
    enum ob_metric_type type;
    enum ob_temporality temporality; /* UNSPECIFIED for gauges and summaries */
};

struct ob_resource_view {
    const struct ob_attr *attrs;
    size_t n_attrs;
};

/* What resource() decides.  The host zeroes the struct and provides the
 * buffers; the plugin sets *_len (bytes needed) and the has_* flags, and one
 * OB_RES_* bit set per attribute in attr_roles[0..n_attrs).  The shipped
 * plugins set OB_RES_TARGET_INFO bits only when target_info is true. */
enum {
    OB_RES_TARGET_INFO = 1u << 0, /* becomes a label of target_info */
    OB_RES_PROMOTE = 1u << 1,     /* copied to every series of this resource */
};

struct ob_resource_out {
    char *job;                /* host buffer */
    size_t job_cap;
    size_t job_len;           /* set by plugin */
    char *instance;           /* host buffer */
    size_t instance_cap;
    size_t instance_len;      /* set by plugin */
    bool has_job;             /* set by plugin */
    bool has_instance;        /* set by plugin */
    bool target_info;         /* set by plugin: emit target_info for this resource */
    uint8_t *attr_roles;      /* host array of n_attrs, zeroed; plugin sets OB_RES_* */
};

/* ---- host table: what the broker offers a plugin ------------------------ */

struct ob_kv {
    const char *key;   /* NUL-terminated, lower case */
    const char *value; /* NUL-terminated */
};

enum ob_plugin_log_level { OB_PLOG_ERROR = 0, OB_PLOG_WARN = 1, OB_PLOG_INFO = 2, OB_PLOG_DEBUG = 3 };

struct ob_host {
    uint32_t magic; /* OB_HOST_MAGIC */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* sizeof(struct ob_host) as the host knows it */
    /* Logs one line; the host prefixes the plugin's name. */
    void (*log)(const struct ob_host *host, enum ob_plugin_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* The plugin's config section ([translator] keys other than the host's
     * own), valid until fini().  Unknown keys should be refused in init(). */
    const struct ob_kv *config;
    size_t n_config;
    void *host_private; /* for the host only */
};

/* ---- the descriptor ----------------------------------------------------- */

struct ob_translator_hdr {
    uint32_t magic;     /* OB_TRANSLATOR_MAGIC */
    uint32_t abi_major; /* OB_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor; /* OB_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(struct ob_translator) the plugin was built with */
};

#define OB_TRANSLATOR_HEADER                                                                       \
    {                                                                                              \
        OB_TRANSLATOR_MAGIC, OB_ABI_MAJOR, OB_ABI_MINOR, (uint32_t)sizeof(struct ob_translator)    \
    }

struct ob_translator {
    struct ob_translator_hdr hdr;
    const char *name;    /* required: short name, e.g. "underscore_escaping_with_suffixes" */
    const char *version; /* optional: plugin version string */

    /* Optional.  Parses host->config; returns 0, or nonzero after writing a
     * reason into err (NUL-terminated, at most err_cap bytes). */
    int (*init)(const struct ob_host *host, void **out_state, char *err, size_t err_cap);
    /* Optional.  Releases what init() made. */
    void (*fini)(void *state);

    /* Required.  Metric family name (before _bucket/_sum/_count). */
    long (*family_name)(void *state, const struct ob_metric_view *m, char *buf, size_t cap);
    /* Required.  Label name for a data-point or resource attribute key.
     * Negative: the attribute is dropped. */
    long (*label_name)(void *state, const char *key, size_t key_len, char *buf, size_t cap);
    /* Required.  job, instance, target_info and promoted attributes of a
     * resource.  Returns 0, or a positive byte count when job or instance did
     * not fit (the larger of job_len and instance_len; the host grows the
     * buffers to job_len / instance_len and calls again). */
    long (*resource)(void *state, const struct ob_resource_view *r, struct ob_resource_out *out);
    /* Optional.  UNIT metadata string (docs/otlp-to-prometheus.md §4.5); 0 = no unit.
     * The host asks once per distinct metric, with family_name(), and writes
     * it as OpenMetrics # UNIT (where the family name ends with it) and as
     * the protobuf format's unit. */
    long (*unit_name)(void *state, const struct ob_metric_view *m, char *buf, size_t cap);

    /* ---- ABI 1.1 ---- */
    /* Optional.  Label name for a data-point attribute key of a series of
     * metric m (the same view family_name() was given), so that a plugin
     * can name or drop attributes per metric.  A host of ABI >= 1.1 calls
     * it, when present, instead of label_name() for data-point attributes
     * and caches the answer per (metric, key); label_name() still names
     * attributes that belong to no metric (promoted resource attributes,
     * target_info).  Same return convention as label_name(). */
    long (*metric_label_name)(void *state, const struct ob_metric_view *m, const char *key,
                              size_t key_len, char *buf, size_t cap);
    /* New fields go here, and bump OB_ABI_MINOR. */
};

/* The v1.0 layout: a plugin descriptor shorter than this is refused. */
#define OB_TRANSLATOR_V1_0_SIZE ((uint32_t)(offsetof(struct ob_translator, unit_name) + sizeof(void *)))
/* The v1.1 layout (metric_label_name); a host reads that field only from a
 * descriptor at least this long (the zeroed copy does that by itself). */
#define OB_TRANSLATOR_V1_1_SIZE                                                                    \
    ((uint32_t)(offsetof(struct ob_translator, metric_label_name) + sizeof(void *)))

typedef const struct ob_translator *(*ob_translator_entry_fn)(uint32_t host_abi_major,
                                                               uint32_t host_abi_minor);

/* The entry every plugin defines (declared here so plugins compile with
 * -Wmissing-prototypes).  The host never calls it by name: it uses dlsym. */
OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

/* Layout guards: v1 fields never move. */
_Static_assert(offsetof(struct ob_translator, hdr) == 0, "abi");
_Static_assert(offsetof(struct ob_translator, name) == 16, "abi");
_Static_assert(offsetof(struct ob_translator, version) == 16 + sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, init) == 16 + 2 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, fini) == 16 + 3 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, family_name) == 16 + 4 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, label_name) == 16 + 5 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, resource) == 16 + 6 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, unit_name) == 16 + 7 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_translator, metric_label_name) == 16 + 8 * sizeof(void *), "abi");
_Static_assert(OB_TRANSLATOR_V1_0_SIZE == 16 + 8 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_host, log) == 16, "abi");
_Static_assert(offsetof(struct ob_host, config) == 16 + sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_host, n_config) == 16 + 2 * sizeof(void *), "abi");
_Static_assert(offsetof(struct ob_host, host_private) == 16 + 3 * sizeof(void *), "abi");

#endif
