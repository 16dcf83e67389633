/* ob_units.h: size and duration parsers for configuration values.  Pure. */
#ifndef OB_UNITS_H
#define OB_UNITS_H

#include <stdint.h>

/* "4096", "64KiB", "4 MiB", "1GiB", "2TiB" (also B, K/M/G/T as binary
 * shorthands).  Returns 0 and *out_bytes, or -EINVAL / -ERANGE. */
int ob_parse_size(const char *s, uint64_t *out_bytes);
/* "250ms", "30s", "10m", "1h", "1d"; "0" alone is allowed.  Returns 0 and
 * *out_ms, or -EINVAL / -ERANGE. */
int ob_parse_duration(const char *s, int64_t *out_ms);

#endif
