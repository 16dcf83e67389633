/* ob_float.h: shortest round-trip decimal digits of a double, and the
 * layouts built on them.  Pure. */
#ifndef OB_FLOAT_H
#define OB_FLOAT_H

#include <stddef.h>

/* Shortest digit string d (no dot, no sign, 1..17 digits) and decimal
 * exponent e such that 0.d x 10^e ... precisely: v = d[0].d[1..] x 10^e,
 * reads back as |v|.  v must be finite and non-zero.  Returns the digit count. */
int ob_shortest_digits(double v, char digits[24], int *out_exp10);

/* Longest ob_format_double_fixed() text: 1 sign + 309 digits + point + 17. */
#define OB_FIXED_LEN 400

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read
 * back as v, never an exponent (1e-9 -> 0.000000001), as Prometheus writes
 * `le` and `quantile`; NaN, +Inf, -Inf.  Returns the length. */
size_t ob_format_double_fixed(double v, char buf[OB_FIXED_LEN]);

/* Go's strconv.FormatFloat(v, 'f', -1, 64) for |v| in [1e-6, 1e21), else
 * 'e' with the exponent unpadded: the ES6 / encoding/json form that OTLP's
 * pdata AsString() gives a double attribute (1e-7, 0.000001, 1e+21, 3.5).
 * NaN and infinities as Go's json would refuse them:
 * "json: unsupported value: NaN".  Returns the length; buf is NUL-terminated. */
size_t ob_format_double_json(double v, char buf[64]);

#endif
