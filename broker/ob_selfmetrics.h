/* ob_selfmetrics.h: the broker's own otlp_broker_* metrics.
 *
 * Process-local relaxed atomic counters, bumped by frontends and ingest and
 * written after the store's families on every scrape.
 */
#ifndef OB_SELFMETRICS_H
#define OB_SELFMETRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_frontend.h"

struct ob_store;
struct ob_store_stats;

void ob_sm_request(enum ob_frontend fe, enum ob_outcome o);
/* Bytes of request bodies as they came (compressed when gzip), per frontend. */
void ob_sm_received_bytes(enum ob_frontend fe, uint64_t n);
void ob_sm_points_received(enum ob_frontend fe, uint64_t n);
void ob_sm_points_rejected(enum ob_frontend fe, enum ob_reason r, uint64_t n);
void ob_sm_collisions(uint64_t n);
void ob_sm_exemplars(uint64_t kept, const uint64_t dropped[OB_EXDROP__COUNT]);
void ob_sm_scrape_done(int64_t duration_ns, uint64_t bytes);
/* Info metric: the translator frontend fe uses (NULL: none); copies. */
void ob_sm_set_plugin(enum ob_frontend fe, const char *name);
/* The translator plugin frontend fe uses into buf ("" when none). */
void ob_sm_plugin(enum ob_frontend fe, char *buf, size_t cap);
/* Data points rejected for reason r since start, all frontends together. */
uint64_t ob_sm_rejected(enum ob_reason r);
void ob_sm_reload(bool ok);               /* SIGHUP or POST /-/reload */

/* The per-thread name caches (ob_names.h). */
enum ob_name_cache {
    OB_NAME_CACHE_FAMILIES = 0,  /* OTLP metric -> family */
    OB_NAME_CACHE_LABELS,        /* attribute key -> label name */
    OB_NAME_CACHE_METRIC_LABELS, /* (metric, attribute key) -> label name */
    OB_NAME_CACHE__COUNT
};
void ob_sm_name_cache(enum ob_name_cache c, uint64_t hits, uint64_t misses, uint64_t evicted);
void ob_sm_name_cache_reset(void); /* a cache was emptied for being over budget */

/* ZeroMQ endpoints, for the counters of sequence frames (ob_zmq_seq.h).
 * Registers an endpoint as bound (copied) and returns its id, or -1 when
 * OB_SM_MAX_ENDPOINTS are registered already (its counts are then dropped). */
#define OB_SM_MAX_ENDPOINTS 64
int ob_sm_zmq_endpoint(const char *endpoint);
void ob_sm_zmq_seq(int endpoint, uint64_t lost, uint64_t duplicate, uint64_t reordered);
/* Senders followed, and forgotten to make room, per socket kind (0 pull, 1 reply). */
void ob_sm_zmq_senders(int kind, uint64_t followed, uint64_t evicted);

/* The gRPC frontend's HTTP/2 events (ob_grpc.c).  Its families are written
 * once ob_sm_grpc_enable() was called (a broker without gRPC shows none). */
enum ob_sm_grpc {
    OB_SM_GRPC_REFUSED = 0, /* streams over max_concurrent_streams: RST_STREAM REFUSED_STREAM */
    OB_SM_GRPC_RESET,       /* other streams reset (a malformed header block, flow control...) */
    OB_SM_GRPC_GOAWAY,      /* connections ended for a protocol error (GOAWAY) */
    OB_SM_GRPC_IDLE,        /* connections closed by grpc.idle_timeout */
    OB_SM_GRPC_HEADER_LIST, /* streams reset for a header block over grpc.max_header_list */
    OB_SM_GRPC_CONN_REFUSED, /* connections closed at accept: grpc.max_connections open */
    OB_SM_GRPC__COUNT
};
void ob_sm_grpc_enable(void);
void ob_sm_grpc_event(enum ob_sm_grpc e);
void ob_sm_grpc_bytes(uint64_t received);
void ob_sm_grpc_connections(int delta);

/* Appends the self-metric families in Prometheus text 0.0.4 (s may be NULL:
 * no store families then).  An allocation failure shows as out->failed. */
void ob_selfmetrics_write(struct ob_store *s, struct ob_buf *out);
/* The same from given store statistics (NULL = none): what _write does after
 * ob_store_stats(), separate so the text can be tested without a store. */
void ob_selfmetrics_render(const struct ob_store_stats *st, struct ob_buf *out);
/* Zeroes every counter and forgets the plugin name (tests). */
void ob_sm_reset(void);

#endif
