/* ob_selfmetrics.c: the broker's own otlp_broker_* metrics.
 *
 * Counters are process-global relaxed atomics: each is an independent
 * monotonic count, nothing is derived from two of them together, so no
 * ordering is needed and an increment is one locked add.  A scrape reads
 * each once.  Every label combination is always written (zeros included) so
 * that rate() and absent() work from the first scrape on.
 */
#include "ob_selfmetrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_labels.h"
#include "ob_store.h"

#ifndef OB_VERSION
#define OB_VERSION "unknown"
#endif

static _Atomic uint64_t requests[OB_FE__COUNT][OB_OUT__COUNT];
static _Atomic uint64_t received_bytes[OB_FE__COUNT];
static _Atomic uint64_t points_received[OB_FE__COUNT];
static _Atomic uint64_t points_rejected[OB_FE__COUNT][OB_REASON__COUNT];
static _Atomic uint64_t collisions;
static _Atomic uint64_t exemplars_kept;
static _Atomic uint64_t exemplars_dropped[OB_EXDROP__COUNT];
static _Atomic uint64_t reloads[2]; /* [0] failed, [1] succeeded */
static _Atomic uint64_t scrapes;
static _Atomic int64_t last_scrape_ns;
static _Atomic uint64_t last_scrape_bytes;

/* ZeroMQ endpoints: registered at start, counted by the receiving threads. */
struct zmq_endpoint {
    char *name;
    _Atomic uint64_t lost, duplicate, reordered;
};
static struct zmq_endpoint zmq_endpoints[OB_SM_MAX_ENDPOINTS];
static _Atomic uint64_t zmq_senders[2], zmq_evicted[2];
static const char *const zmq_kind_names[2] = {"pull", "reply"};

/* gRPC: HTTP/2 events and connections (written once enabled). */
static _Atomic bool grpc_enabled;
static _Atomic uint64_t grpc_events[OB_SM_GRPC__COUNT], grpc_bytes;
static _Atomic int64_t grpc_conns;

static _Atomic uint64_t name_hits[OB_NAME_CACHE__COUNT], name_misses[OB_NAME_CACHE__COUNT],
    name_evicted[OB_NAME_CACHE__COUNT], name_resets;
static const char *const name_cache_names[OB_NAME_CACHE__COUNT] = {"families", "labels",
                                                                   "metric_labels"};

/* Set at start and on reload, read by scrapes: a mutex is simplest. */
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static char *plugin_name[OB_FE__COUNT];

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Out-of-range enums are a caller bug; dropping the count beats writing
 * outside the arrays. */
void ob_sm_request(enum ob_frontend fe, enum ob_outcome o)
{
    if ((unsigned)fe < OB_FE__COUNT && (unsigned)o < OB_OUT__COUNT)
        add(&requests[fe][o], 1);
}

void ob_sm_received_bytes(enum ob_frontend fe, uint64_t n)
{
    if ((unsigned)fe < OB_FE__COUNT && n) /* no locked add of 0 (refusals before a body) */
        add(&received_bytes[fe], n);
}

void ob_sm_points_received(enum ob_frontend fe, uint64_t n)
{
    if ((unsigned)fe < OB_FE__COUNT)
        add(&points_received[fe], n);
}

void ob_sm_points_rejected(enum ob_frontend fe, enum ob_reason r, uint64_t n)
{
    if ((unsigned)fe < OB_FE__COUNT && (unsigned)r < OB_REASON__COUNT)
        add(&points_rejected[fe][r], n);
}

void ob_sm_exemplars(uint64_t kept, const uint64_t dropped[OB_EXDROP__COUNT])
{
    if (kept)
        add(&exemplars_kept, kept);
    for (int d = 0; d < OB_EXDROP__COUNT; d++)
        if (dropped[d])
            add(&exemplars_dropped[d], dropped[d]);
}

void ob_sm_collisions(uint64_t n)
{
    add(&collisions, n);
}

void ob_sm_reload(bool ok)
{
    add(&reloads[ok], 1);
}

void ob_sm_scrape_done(int64_t duration_ns, uint64_t bytes)
{
    atomic_store_explicit(&last_scrape_ns, duration_ns, memory_order_relaxed);
    atomic_store_explicit(&last_scrape_bytes, bytes, memory_order_relaxed);
    add(&scrapes, 1);
}

void ob_sm_set_plugin(enum ob_frontend fe, const char *name)
{
    if ((unsigned)fe >= OB_FE__COUNT)
        return;
    char *copy = name ? strdup(name) : NULL;
    pthread_mutex_lock(&plugin_lock);
    char *old = plugin_name[fe];
    plugin_name[fe] = copy; /* on ENOMEM the info metric disappears, nothing breaks */
    pthread_mutex_unlock(&plugin_lock);
    free(old);
}

void ob_sm_plugin(enum ob_frontend fe, char *buf, size_t cap)
{
    pthread_mutex_lock(&plugin_lock);
    snprintf(buf, cap, "%s", (unsigned)fe < OB_FE__COUNT && plugin_name[fe] ? plugin_name[fe] : "");
    pthread_mutex_unlock(&plugin_lock);
}

uint64_t ob_sm_rejected(enum ob_reason r)
{
    uint64_t n = 0;
    for (int fe = 0; fe < OB_FE__COUNT && (unsigned)r < OB_REASON__COUNT; fe++)
        n += get(&points_rejected[fe][r]);
    return n;
}

void ob_sm_name_cache(enum ob_name_cache c, uint64_t hits, uint64_t misses, uint64_t evicted)
{
    if ((unsigned)c >= OB_NAME_CACHE__COUNT)
        return;
    if (hits)
        add(&name_hits[c], hits);
    if (misses)
        add(&name_misses[c], misses);
    if (evicted)
        add(&name_evicted[c], evicted);
}

void ob_sm_name_cache_reset(void)
{
    add(&name_resets, 1);
}

int ob_sm_zmq_endpoint(const char *endpoint)
{
    char *copy = strdup(endpoint);
    int id = -1;
    pthread_mutex_lock(&plugin_lock);
    for (int i = 0; copy && i < OB_SM_MAX_ENDPOINTS; i++) {
        if (!zmq_endpoints[i].name) {
            zmq_endpoints[i].name = copy;
            id = i;
            break;
        }
    }
    pthread_mutex_unlock(&plugin_lock);
    if (id < 0)
        free(copy);
    return id;
}

void ob_sm_zmq_seq(int endpoint, uint64_t lost, uint64_t duplicate, uint64_t reordered)
{
    if (endpoint < 0 || endpoint >= OB_SM_MAX_ENDPOINTS)
        return;
    struct zmq_endpoint *e = &zmq_endpoints[endpoint];
    if (lost)
        add(&e->lost, lost);
    if (duplicate)
        add(&e->duplicate, duplicate);
    if (reordered)
        add(&e->reordered, reordered);
}

void ob_sm_zmq_senders(int kind, uint64_t followed, uint64_t evicted)
{
    if (kind < 0 || kind > 1)
        return;
    atomic_store_explicit(&zmq_senders[kind], followed, memory_order_relaxed);
    if (evicted)
        add(&zmq_evicted[kind], evicted);
}

void ob_sm_grpc_enable(void)
{
    atomic_store(&grpc_enabled, true);
}

void ob_sm_grpc_event(enum ob_sm_grpc e)
{
    if ((unsigned)e < OB_SM_GRPC__COUNT)
        add(&grpc_events[e], 1);
}

void ob_sm_grpc_bytes(uint64_t received)
{
    add(&grpc_bytes, received);
}

void ob_sm_grpc_connections(int delta)
{
    atomic_fetch_add_explicit(&grpc_conns, delta, memory_order_relaxed);
}

void ob_sm_reset(void)
{
    atomic_store(&grpc_enabled, false);
    for (int e = 0; e < OB_SM_GRPC__COUNT; e++)
        atomic_store(&grpc_events[e], 0);
    atomic_store(&grpc_bytes, 0);
    atomic_store(&grpc_conns, 0);
    pthread_mutex_lock(&plugin_lock);
    for (int i = 0; i < OB_SM_MAX_ENDPOINTS; i++) {
        free(zmq_endpoints[i].name);
        zmq_endpoints[i].name = NULL;
        atomic_store(&zmq_endpoints[i].lost, 0);
        atomic_store(&zmq_endpoints[i].duplicate, 0);
        atomic_store(&zmq_endpoints[i].reordered, 0);
    }
    pthread_mutex_unlock(&plugin_lock);
    for (int k = 0; k < 2; k++) {
        atomic_store(&zmq_senders[k], 0);
        atomic_store(&zmq_evicted[k], 0);
    }
    for (int c = 0; c < OB_NAME_CACHE__COUNT; c++) {
        atomic_store(&name_hits[c], 0);
        atomic_store(&name_misses[c], 0);
        atomic_store(&name_evicted[c], 0);
    }
    atomic_store(&name_resets, 0);
    for (size_t f = 0; f < OB_FE__COUNT; f++) {
        for (size_t o = 0; o < OB_OUT__COUNT; o++)
            atomic_store(&requests[f][o], 0);
        atomic_store(&received_bytes[f], 0);
        atomic_store(&points_received[f], 0);
        for (size_t r = 0; r < OB_REASON__COUNT; r++)
            atomic_store(&points_rejected[f][r], 0);
    }
    atomic_store(&collisions, 0);
    atomic_store(&exemplars_kept, 0);
    for (size_t d = 0; d < OB_EXDROP__COUNT; d++)
        atomic_store(&exemplars_dropped[d], 0);
    atomic_store(&reloads[0], 0);
    atomic_store(&reloads[1], 0);
    atomic_store(&scrapes, 0);
    atomic_store(&last_scrape_ns, 0);
    atomic_store(&last_scrape_bytes, 0);
    for (size_t fe = 0; fe < OB_FE__COUNT; fe++)
        ob_sm_set_plugin((enum ob_frontend)fe, NULL);
}

static void family(struct ob_buf *out, const char *name, const char *type, const char *help)
{
    ob_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(struct ob_buf *out, const char *name, uint64_t v)
{
    ob_buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* A family of one unlabelled sample. */
static void metric_u64(struct ob_buf *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    family(out, name, type, help);
    sample_u64(out, name, v);
}

/* Label value escaping of text format 0.0.4: backslash, quote, newline. */
static void store_families(const struct ob_store_stats *st, struct ob_buf *out)
{
    metric_u64(out, "otlp_broker_series_live", "gauge", "Series in the store that are not expired.",
               st->series_live);
    metric_u64(out, "otlp_broker_series_max", "gauge",
               "Series slots of the store (store.max_series).", st->series_max);
    metric_u64(out, "otlp_broker_families_live", "gauge", "Metric families in the store.",
               st->families);
    metric_u64(out, "otlp_broker_families_max", "gauge",
               "Metric family slots of the store (store.max_families).", st->families_max);
    metric_u64(out, "otlp_broker_store_bytes_used", "gauge",
               "Bytes of the store heap (labels, shapes, samples) in use.", st->heap_used);
    metric_u64(out, "otlp_broker_store_bytes_capacity", "gauge", "Bytes of the store heap.",
               st->heap_bytes);
    metric_u64(out, "otlp_broker_store_mapping_bytes", "gauge",
               "Size of the store's shared memory mapping.", st->map_bytes);
    metric_u64(out, "otlp_broker_store_exemplar_bytes", "gauge",
               "Bytes of the store heap holding exemplars.", st->exemplar_bytes);
    metric_u64(out, "otlp_broker_store_exemplar_bytes_capacity", "gauge",
               "Bytes of the store heap exemplars may take (store.exemplar_memory).",
               st->exemplar_budget);
    metric_u64(out, "otlp_broker_store_repairs_total", "counter",
               "Lock stripes repaired after a writer died holding them, since the store was "
               "attached.",
               st->repairs);
}

static void grpc_families(struct ob_buf *out)
{
    if (!atomic_load(&grpc_enabled))
        return;
    family(out, "otlp_broker_grpc_connections", "gauge", "Open gRPC (HTTP/2) connections.");
    ob_buf_printf(out, "otlp_broker_grpc_connections %" PRId64 "\n",
                  atomic_load_explicit(&grpc_conns, memory_order_relaxed));
    family(out, "otlp_broker_grpc_received_bytes_total", "counter",
           "Bytes read from gRPC connections: every HTTP/2 frame, headers and control "
           "frames included.");
    sample_u64(out, "otlp_broker_grpc_received_bytes_total", get(&grpc_bytes));
    family(out, "otlp_broker_grpc_streams_reset_total", "counter",
           "gRPC streams the broker reset, by reason: refused (over "
           "grpc.max_concurrent_streams, clients retry them), header_list (a header block "
           "over grpc.max_header_list) or error.");
    ob_buf_printf(out, "otlp_broker_grpc_streams_reset_total{reason=\"refused\"} %" PRIu64 "\n",
                  get(&grpc_events[OB_SM_GRPC_REFUSED]));
    ob_buf_printf(out,
                  "otlp_broker_grpc_streams_reset_total{reason=\"header_list\"} %" PRIu64 "\n",
                  get(&grpc_events[OB_SM_GRPC_HEADER_LIST]));
    ob_buf_printf(out, "otlp_broker_grpc_streams_reset_total{reason=\"error\"} %" PRIu64 "\n",
                  get(&grpc_events[OB_SM_GRPC_RESET]));
    metric_u64(out, "otlp_broker_grpc_connections_refused_total", "counter",
               "gRPC connections closed as they were accepted: grpc.max_connections were open.",
               get(&grpc_events[OB_SM_GRPC_CONN_REFUSED]));
    family(out, "otlp_broker_grpc_connections_closed_total", "counter",
           "gRPC connections the broker ended, by reason: protocol_error (GOAWAY) or idle.");
    ob_buf_printf(out,
                  "otlp_broker_grpc_connections_closed_total{reason=\"protocol_error\"} %" PRIu64
                  "\n", get(&grpc_events[OB_SM_GRPC_GOAWAY]));
    ob_buf_printf(out, "otlp_broker_grpc_connections_closed_total{reason=\"idle\"} %" PRIu64 "\n",
                  get(&grpc_events[OB_SM_GRPC_IDLE]));
}

/* One family per sequence counter, a sample per registered endpoint; the
 * sender gauges per socket kind.  Written only once an endpoint exists (a
 * broker without ZeroMQ shows none of them). */
static void zmq_families(struct ob_buf *out)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } fam[] = {
        {"otlp_broker_zmq_messages_lost_total",
         "ZeroMQ messages that never arrived, from the gaps in their senders' sequence frames.",
         offsetof(struct zmq_endpoint, lost)},
        {"otlp_broker_zmq_messages_duplicate_total",
         "ZeroMQ messages whose sequence number had arrived before (resends).",
         offsetof(struct zmq_endpoint, duplicate)},
        {"otlp_broker_zmq_messages_reordered_total",
         "ZeroMQ messages that arrived after a higher sequence number of their sender.",
         offsetof(struct zmq_endpoint, reordered)},
    };
    pthread_mutex_lock(&plugin_lock);
    if (zmq_endpoints[0].name) {
        for (size_t f = 0; f < OB_ARRAY_LEN(fam); f++) {
            family(out, fam[f].name, "counter", fam[f].help);
            for (int i = 0; i < OB_SM_MAX_ENDPOINTS && zmq_endpoints[i].name; i++) {
                ob_buf_printf(out, "%s{endpoint=\"", fam[f].name);
                ob_escape_label_value(out, zmq_endpoints[i].name, strlen(zmq_endpoints[i].name));
                ob_buf_printf(out, "\"} %" PRIu64 "\n",
                              get((_Atomic uint64_t *)((char *)&zmq_endpoints[i] + fam[f].off)));
            }
        }
        family(out, "otlp_broker_zmq_senders", "gauge",
               "ZeroMQ senders whose sequence frames are followed, by socket kind.");
        for (int k = 0; k < 2; k++)
            ob_buf_printf(out, "otlp_broker_zmq_senders{socket=\"%s\"} %" PRIu64 "\n",
                          zmq_kind_names[k], get(&zmq_senders[k]));
        family(out, "otlp_broker_zmq_senders_evicted_total", "counter",
               "ZeroMQ senders forgotten to make room (zmq.max_senders), by socket kind.");
        for (int k = 0; k < 2; k++)
            ob_buf_printf(out,
                          "otlp_broker_zmq_senders_evicted_total{socket=\"%s\"} %" PRIu64 "\n",
                          zmq_kind_names[k], get(&zmq_evicted[k]));
    }
    pthread_mutex_unlock(&plugin_lock);
}

void ob_selfmetrics_render(const struct ob_store_stats *st, struct ob_buf *out)
{
    family(out, "otlp_broker_build_info", "gauge", "Version of the running broker.");
    ob_buf_puts(out, "otlp_broker_build_info{version=\"");
    ob_escape_label_value(out, OB_VERSION, strlen(OB_VERSION));
    ob_buf_puts(out, "\"} 1\n");

    family(out, "otlp_broker_requests_total", "counter",
           "OTLP export requests received, by frontend and outcome.");
    for (size_t f = 0; f < OB_FE__COUNT; f++)
        for (size_t o = 0; o < OB_OUT__COUNT; o++)
            ob_buf_printf(out,
                          "otlp_broker_requests_total{frontend=\"%s\",outcome=\"%s\"} %" PRIu64
                          "\n",
                          ob_frontend_name((enum ob_frontend)f),
                          ob_outcome_name((enum ob_outcome)o), get(&requests[f][o]));

    family(out, "otlp_broker_received_bytes_total", "counter",
           "Bytes of OTLP export request bodies received, as sent (before gunzip), by "
           "frontend.");
    for (size_t f = 0; f < OB_FE__COUNT; f++)
        ob_buf_printf(out, "otlp_broker_received_bytes_total{frontend=\"%s\"} %" PRIu64 "\n",
                      ob_frontend_name((enum ob_frontend)f), get(&received_bytes[f]));

    family(out, "otlp_broker_data_points_received_total", "counter",
           "OTLP data points received, by frontend.");
    for (size_t f = 0; f < OB_FE__COUNT; f++)
        ob_buf_printf(out, "otlp_broker_data_points_received_total{frontend=\"%s\"} %" PRIu64 "\n",
                      ob_frontend_name((enum ob_frontend)f), get(&points_received[f]));

    family(out, "otlp_broker_data_points_rejected_total", "counter",
           "OTLP data points rejected, by frontend and reason.");
    for (size_t f = 0; f < OB_FE__COUNT; f++)
        for (size_t r = 0; r < OB_REASON__COUNT; r++)
            ob_buf_printf(out,
                          "otlp_broker_data_points_rejected_total{frontend=\"%s\",reason=\"%s\"} "
                          "%" PRIu64 "\n",
                          ob_frontend_name((enum ob_frontend)f),
                          ob_reason_name((enum ob_reason)r), get(&points_rejected[f][r]));

    metric_u64(out, "otlp_broker_series_collisions_total", "counter",
               "Samples written to a series last written from another OTLP identity.",
               get(&collisions));

    metric_u64(out, "otlp_broker_exemplars_stored_total", "counter",
               "Exemplars of accepted data points written to the store.", get(&exemplars_kept));
    family(out, "otlp_broker_exemplars_dropped_total", "counter",
           "Exemplars not kept (their data points are), by reason.");
    for (size_t d = 0; d < OB_EXDROP__COUNT; d++)
        ob_buf_printf(out, "otlp_broker_exemplars_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                      ob_exemplar_drop_name((enum ob_exemplar_drop)d), get(&exemplars_dropped[d]));

    if (st)
        store_families(st, out);

    family(out, "otlp_broker_name_cache_lookups_total", "counter",
           "Lookups in the ingest threads' translated-name caches, by cache and result.");
    for (int c = 0; c < OB_NAME_CACHE__COUNT; c++) {
        ob_buf_printf(out,
                      "otlp_broker_name_cache_lookups_total{cache=\"%s\",result=\"hit\"} %" PRIu64
                      "\n",
                      name_cache_names[c], get(&name_hits[c]));
        ob_buf_printf(out,
                      "otlp_broker_name_cache_lookups_total{cache=\"%s\",result=\"miss\"} %" PRIu64
                      "\n",
                      name_cache_names[c], get(&name_misses[c]));
    }
    family(out, "otlp_broker_name_cache_evictions_total", "counter",
           "Entries dropped from the name caches for being over their budget "
           "(limits.name_cache_entries, limits.name_cache_bytes), by cache.");
    for (int c = 0; c < OB_NAME_CACHE__COUNT; c++)
        ob_buf_printf(out, "otlp_broker_name_cache_evictions_total{cache=\"%s\"} %" PRIu64 "\n",
                      name_cache_names[c], get(&name_evicted[c]));
    metric_u64(out, "otlp_broker_name_cache_resets_total", "counter",
               "Times an ingest thread emptied its name caches for being over budget.",
               get(&name_resets));

    /* The scrape being answered is not finished yet: these describe the
     * previous one. */
    int64_t ns = atomic_load_explicit(&last_scrape_ns, memory_order_relaxed);
    family(out, "otlp_broker_scrape_duration_seconds", "gauge",
           "Time taken to render the previous /metrics response.");
    ob_buf_printf(out, "otlp_broker_scrape_duration_seconds %.9g\n", (double)ns / 1e9);
    metric_u64(out, "otlp_broker_scrape_size_bytes", "gauge",
               "Size of the previous /metrics response before compression.",
               get(&last_scrape_bytes));
    metric_u64(out, "otlp_broker_scrapes_total", "counter", "/metrics responses rendered.",
               get(&scrapes));

    family(out, "otlp_broker_reloads_total", "counter",
           "Configuration reloads (SIGHUP, POST /-/reload), by result.");
    ob_buf_printf(out, "otlp_broker_reloads_total{result=\"success\"} %" PRIu64 "\n",
                  get(&reloads[1]));
    ob_buf_printf(out, "otlp_broker_reloads_total{result=\"failure\"} %" PRIu64 "\n",
                  get(&reloads[0]));

    zmq_families(out);
    grpc_families(out);

    pthread_mutex_lock(&plugin_lock);
    bool any = false;
    for (size_t fe = 0; fe < OB_FE__COUNT; fe++) {
        if (!plugin_name[fe])
            continue;
        if (!any)
            family(out, "otlp_broker_translator_info", "gauge",
                   "Translator plugin in use, per listener.");
        any = true;
        ob_buf_printf(out, "otlp_broker_translator_info{listener=\"%s\",plugin=\"",
                      ob_frontend_name((enum ob_frontend)fe));
        ob_escape_label_value(out, plugin_name[fe], strlen(plugin_name[fe]));
        ob_buf_puts(out, "\"} 1\n");
    }
    pthread_mutex_unlock(&plugin_lock);
}

void ob_selfmetrics_write(struct ob_store *s, struct ob_buf *out)
{
    if (!s) {
        ob_selfmetrics_render(NULL, out);
        return;
    }
    struct ob_store_stats st;
    ob_store_stats(s, &st);
    ob_selfmetrics_render(&st, out);
}
