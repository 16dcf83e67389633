/* ob_grpc.h: the OTLP/gRPC frontend (nghttp2; h2c with prior knowledge).
 *
 *   POST /opentelemetry.proto.collector.metrics.v1.MetricsService/Export
 *        content-type application/grpc (or application/grpc+proto), one
 *        length-prefixed ExportMetricsServiceRequest; grpc-encoding gzip or
 *        identity; grpc-timeout honoured
 *
 * Answers: HEADERS, DATA (the ExportMetricsServiceResponse, partial_success
 * as the request path builds it), trailers grpc-status 0; a refusal is a
 * trailers-only answer with grpc-status and a percent-encoded grpc-message.
 * The statuses come from the request path's outcomes (ob_request.h), in one
 * table in ob_grpc.c.
 *
 * Threads: grpc.threads event loops (epoll, non-blocking sockets), each with
 * its own connections; the first also accepts and deals new connections to
 * the loops in turn.  A request is ingested on the loop that read it.
 */
#ifndef OB_GRPC_H
#define OB_GRPC_H

#include <stdint.h>

#include "ob_common.h"

struct ob_grpc;
struct ob_ingest;
struct ob_config;

#define OB_GRPC_EXPORT_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

struct ob_grpc_deps {
    struct ob_ingest *ingest; /* NULL: every call is answered UNAVAILABLE (not ready) */
    const struct ob_config *cfg;
};

/* Binds cfg->grpc_listen (which must not be empty) and starts the loops.
 * Returns 0 or -errno / OB_E_CONFIG with err naming the address; nothing is
 * left running on failure. */
int ob_grpc_start(const struct ob_grpc_deps *deps, struct ob_grpc **out, char err[OB_ERR_LEN]);
/* The bound port (useful with port 0). */
uint16_t ob_grpc_port(const struct ob_grpc *g);
/* Stops the loops, closes every connection (calls in flight are dropped;
 * one being ingested finishes first), frees.  NULL ok. */
void ob_grpc_stop(struct ob_grpc *g);

#endif
