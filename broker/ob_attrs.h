/* ob_attrs.h: OTLP attribute values as text, and a point's raw attributes.
 *
 * A label value is an attribute value rendered the way the OpenTelemetry
 * Collector's pdata AsString() renders it (Prometheus' OTLP receiver uses
 * it): strings as they are, booleans and integers in decimal, doubles in Go's
 * shortest 'g'-like JSON form, bytes as base64, arrays and maps as Go's
 * encoding/json writes them (map keys sorted), an empty value as "".  Every
 * result must be valid UTF-8: invalid input is refused, not repaired.
 *
 * The raw attributes of a point are its attributes serialised as they came
 * (key, value type, value bytes): with the resource and the metric they are
 * the identity of one OTLP stream, which the series cache keys on.
 */
#ifndef OB_ATTRS_H
#define OB_ATTRS_H

#include <stdbool.h>
#include <stddef.h>

#include "ob_arena.h"
#include "ob_buf.h"
#include "translator.h" /* struct ob_str */
#include "opentelemetry/proto/common/v1/common.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue key_value;

/* Where rendered values go: strings that are not in the request already are
 * copied into the arena (they live as long as the request); json is
 * scratch for arrays and maps, reused. */
struct ob_attr_render {
    struct ob_arena *arena;
    struct ob_buf json;
};

/* v rendered as text into *out (not copied for string values).  False:
 * invalid UTF-8, or a value nested too deep or not representable (a NaN in
 * an array: encoding/json refuses it). */
bool ob_attr_string(struct ob_attr_render *r, const any_value *v, struct ob_str *out);

/* The n attributes' raw bytes into b (emptied first).  False when a value
 * cannot be rendered (arrays and maps go in as their rendering) or memory
 * ran out. */
bool ob_attrs_raw(struct ob_attr_render *r, key_value **kvs, size_t n, struct ob_buf *b);

#endif
