/* ob_otlp_json.h: OTLP/JSON decoding and response encoding (json-c).
 *
 * Decoding builds the same protobuf-c tree that ob_otlp_decode() builds from
 * protobuf, in the same per-request arena, so the ingest core walks both
 * encodings with one code path.  The rules are the OTLP "JSON Protobuf
 * Encoding": lowerCamelCase field names (the proto's snake_case names are
 * accepted too), 64-bit integers as decimal strings or JSON numbers, enums as
 * integers or their names, doubles as numbers or "NaN"/"Infinity"/"-Infinity",
 * trace and span ids as hex, AnyValue bytes as base64, unknown fields ignored,
 * null meaning absent.
 *
 * Presence follows protobuf decoding of what a proto3 encoder sends: a scalar
 * field without presence upstream (flags, counts, timestamps, strings outside
 * a oneof, ...) gets has_x only when non-zero, as a proto3 encoder omits
 * zeros; presence fields (histogram sum/min/max) and oneof members are
 * present whenever the key is there with a non-null value.
 */
#ifndef OB_OTLP_JSON_H
#define OB_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_otlp.h"

/* Nesting of AnyValue array/kvlist values accepted before the request is
 * refused as malformed. */
#define OB_OTLP_JSON_MAX_VALUE_DEPTH 64

/* Decodes an ExportMetricsServiceRequest in OTLP/JSON into the arena.  data
 * need not be NUL-terminated.  Returns 0 with *out set; OB_E_MALFORMED with a
 * message in err naming the offset (JSON syntax) or the field path and
 * problem, e.g. "resourceMetrics[0].scopeMetrics[0].metrics[2].sum.
 * dataPoints[0].asInt: expected an integer"; OB_E_TOO_LARGE for bodies of
 * 2 GiB or more (json-c takes an int length); -ENOMEM.  Thread-safe: each
 * thread keeps its own json-c tokener. */
int ob_otlp_json_decode(struct ob_arena *a, const void *data, size_t len, ob_otlp_request **out,
                        char *err, size_t err_cap);

/* Appends an ExportMetricsServiceResponse in JSON: "{}" when rejected == 0 and
 * msg is NULL or empty, else {"partialSuccess":{"rejectedDataPoints":"N",
 * "errorMessage":"..."}} with zero/empty members omitted (proto3 JSON), the
 * int64 as a string and msg JSON-escaped by json-c (\" \\ \b \f \n \r \t, other
 * control characters as \u00XX, '/' as it is; invalid UTF-8 becomes U+FFFD).
 * Returns 0 or -ENOMEM. */
int ob_otlp_json_encode_response(int64_t rejected, const char *msg, struct ob_buf *out);

#endif
