/* ob_otlp.h: OTLP protobuf decoding and response encoding (protobuf-c).
 *
 * Decoding allocates from a per-request arena handed to protobuf-c as its
 * ProtobufCAllocator: no free_unpacked walk, one reset per request.  The
 * protobuf-c tree never outlives the arena and never leaves the ingest core.
 */
#ifndef OB_OTLP_H
#define OB_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_arena.h"
#include "ob_buf.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest ob_otlp_request;

/* Unpacks an ExportMetricsServiceRequest into the arena.  Returns 0,
 * OB_E_MALFORMED (protobuf-c gives no reason; nesting deeper than 64 levels
 * is refused too) or -ENOMEM.  *out lives until the next ob_arena_reset().
 * Absent proto2 strings (name, unit, description, key, string_value) are NULL,
 * not "": callers must treat NULL as empty. */
int ob_otlp_decode(struct ob_arena *a, const void *data, size_t len, ob_otlp_request **out);

/* Encodes an ExportMetricsServiceResponse.  rejected == 0 and msg == NULL
 * gives the empty response (no partial_success field). */
int ob_otlp_encode_response(int64_t rejected, const char *msg, struct ob_buf *out);

#endif
