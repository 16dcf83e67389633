/* ob_units.c: size (KiB/MiB/GiB/TiB) and duration (ms/s/m/h/d) parsers and
 * formatters.
 *
 * Each kind has one table, largest unit first.  The parser accepts every
 * name in it; the formatter writes the first canonical unit that divides
 * the value exactly, so a formatted value always parses back to itself.
 */
#include "ob_units.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_common.h"

struct unit {
    const char *name;
    uint64_t mult;
    bool alias; /* read, never written */
};

/* "" is the bare number (bytes). */
static const struct unit size_units[] = {
    {"TiB", OB_TIB, false}, {"T", OB_TIB, true},
    {"GiB", OB_GIB, false}, {"G", OB_GIB, true},
    {"MiB", OB_MIB, false}, {"M", OB_MIB, true},
    {"KiB", OB_KIB, false}, {"K", OB_KIB, true},
    {"", 1, false},         {"B", 1, true},
};

/* A bare number is no duration, except "0" (see ob_parse_duration). */
static const struct unit duration_units[] = {
    {"d", 86400000, false}, {"h", 3600000, false}, {"m", 60000, false},
    {"s", 1000, false},     {"ms", 1, false},
};

/* Splits "  123  unit " into a number and the unit after it. */
static int split(const char *s, uint64_t *out_num, const char **out_unit, size_t *out_unit_len)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    while (isspace((unsigned char)*end))
        end++;
    size_t n = strlen(end);
    while (n && isspace((unsigned char)end[n - 1]))
        n--;
    *out_num = v;
    *out_unit = end;
    *out_unit_len = n;
    return 0;
}

static int scale(uint64_t v, const char *unit, size_t unit_len, const struct unit *tab,
                 size_t n_tab, uint64_t *out)
{
    for (size_t i = 0; i < n_tab; i++) {
        if (strlen(tab[i].name) == unit_len && memcmp(tab[i].name, unit, unit_len) == 0) {
            if (v > UINT64_MAX / tab[i].mult)
                return -ERANGE;
            *out = v * tab[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

/* The inverse of scale: 0 is "0" in every kind (the one bare duration). */
static void format(uint64_t v, const struct unit *tab, size_t n_tab, char *buf, size_t cap)
{
    for (size_t i = 0; v && i < n_tab; i++) {
        if (!tab[i].alias && v % tab[i].mult == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", v / tab[i].mult, tab[i].name);
            return;
        }
    }
    snprintf(buf, cap, "%" PRIu64, v);
}

int ob_parse_size(const char *s, uint64_t *out_bytes)
{
    uint64_t v;
    const char *unit;
    size_t unit_len;
    int rc = split(s, &v, &unit, &unit_len);
    if (rc)
        return rc;
    return scale(v, unit, unit_len, size_units, OB_ARRAY_LEN(size_units), out_bytes);
}

int ob_parse_duration(const char *s, int64_t *out_ms)
{
    uint64_t v, ms;
    const char *unit;
    size_t unit_len;
    int rc = split(s, &v, &unit, &unit_len);
    if (rc)
        return rc;
    if (unit_len == 0) {
        if (v != 0)
            return -EINVAL; /* a bare number has no unit: say which */
        *out_ms = 0;
        return 0;
    }
    rc = scale(v, unit, unit_len, duration_units, OB_ARRAY_LEN(duration_units), &ms);
    if (rc)
        return rc;
    if (ms > INT64_MAX)
        return -ERANGE;
    *out_ms = (int64_t)ms;
    return 0;
}

void ob_format_size(uint64_t bytes, char *buf, size_t cap)
{
    format(bytes, size_units, OB_ARRAY_LEN(size_units), buf, cap);
}

void ob_format_duration(int64_t ms, char *buf, size_t cap)
{
    if (ms < 0) {
        snprintf(buf, cap, "%" PRId64 "ms", ms); /* never a configured value */
        return;
    }
    format((uint64_t)ms, duration_units, OB_ARRAY_LEN(duration_units), buf, cap);
}
