/* ob_units.h: sizes and durations of configuration values, both ways.  Pure.
 *
 * One unit table per kind (ob_units.c) serves the parsers and the
 * formatters, so whatever is written (--print-defaults, --check-config,
 * range errors) reads back to the same number.
 */
#ifndef OB_UNITS_H
#define OB_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define OB_KIB (1ull << 10)
#define OB_MIB (1ull << 20)
#define OB_GIB (1ull << 30)
#define OB_TIB (1ull << 40)

/* "4096", "64KiB", "4 MiB", "1GiB", "2TiB" (also B, K/M/G/T as binary
 * shorthands).  Returns 0 and *out_bytes, or -EINVAL / -ERANGE. */
int ob_parse_size(const char *s, uint64_t *out_bytes);
/* "250ms", "30s", "10m", "1h", "1d"; "0" alone is allowed.  Returns 0 and
 * *out_ms, or -EINVAL / -ERANGE. */
int ob_parse_duration(const char *s, int64_t *out_ms);

/* Writes bytes with the largest binary unit that divides it exactly
 * ("3MiB"; "1000" when no unit does; "0").  ob_parse_size reads it back.
 * Truncates like snprintf; 32 bytes always suffice. */
void ob_format_size(uint64_t bytes, char *buf, size_t cap);
/* Writes ms with the largest unit that divides it exactly ("10m", "1500ms";
 * "0").  ob_parse_duration reads it back (ms >= 0). */
void ob_format_duration(int64_t ms, char *buf, size_t cap);

#endif
