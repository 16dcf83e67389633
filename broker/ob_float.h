/* ob_float.h: every double -> text the broker writes: shortest round-trip
 * decimal digits and the three layouts built on them (Prometheus' exposition,
 * Go's 'f' for le and quantile, Go's encoding/json for attribute values).
 * Pure. */
#ifndef OB_FLOAT_H
#define OB_FLOAT_H

#include <stddef.h>
#include <stdint.h>

/* Shortest digit string d (no dot, no sign, 1..17 digits) and decimal
 * exponent e such that 0.d x 10^e ... precisely: v = d[0].d[1..] x 10^e,
 * reads back as |v|.  v must be finite and non-zero.  Returns the digit count. */
int ob_shortest_digits(double v, char digits[24], int *out_exp10);

/* Shortest text that reads back as the same double, laid out as Prometheus'
 * expfmt writes it (Go strconv.FormatFloat(v, 'g', -1, 64)): %f layout for
 * decimal exponents -4..5 ("123456", "0.0001", "3.14"), otherwise %e with at
 * least two exponent digits ("1e+06", "1.5e-05", "1e+100"); NaN, +Inf, -Inf;
 * -0 is written "0" as expfmt does.  NUL-terminated; returns the length (< 32).
 * The exposition's hot path: one call per sample. */
size_t ob_format_double(double v, char buf[32]);

/* Writes v in decimal at p (at most 20 bytes, no NUL); returns the end.  The
 * exposition's timestamps, with the digit writer of ob_format_double(). */
char *ob_put_i64(char *p, int64_t v);

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
