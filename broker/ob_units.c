/* ob_units.c: size (KiB/MiB/GiB/TiB) and duration (ms/s/m/h/d) parsers. */
#include "ob_units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob_common.h"

struct suffix {
    const char *name;
    uint64_t mult;
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

static int scale(uint64_t v, const char *unit, size_t unit_len, const struct suffix *tab,
                 size_t n_tab, uint64_t *out)
{
    for (size_t i = 0; i < n_tab; i++) {
        if (strlen(tab[i].name) == unit_len && memcmp(tab[i].name, unit, unit_len) == 0) {
            if (tab[i].mult && v > UINT64_MAX / tab[i].mult)
                return -ERANGE;
            *out = v * tab[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

int ob_parse_size(const char *s, uint64_t *out_bytes)
{
    static const struct suffix tab[] = {
        {"", 1},           {"B", 1},
        {"KiB", 1ull << 10}, {"K", 1ull << 10},
        {"MiB", 1ull << 20}, {"M", 1ull << 20},
        {"GiB", 1ull << 30}, {"G", 1ull << 30},
        {"TiB", 1ull << 40}, {"T", 1ull << 40},
    };
    uint64_t v;
    const char *unit;
    size_t unit_len;
    int rc = split(s, &v, &unit, &unit_len);
    if (rc)
        return rc;
    return scale(v, unit, unit_len, tab, OB_ARRAY_LEN(tab), out_bytes);
}

int ob_parse_duration(const char *s, int64_t *out_ms)
{
    static const struct suffix tab[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
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
    rc = scale(v, unit, unit_len, tab, OB_ARRAY_LEN(tab), &ms);
    if (rc)
        return rc;
    if (ms > INT64_MAX)
        return -ERANGE;
    *out_ms = (int64_t)ms;
    return 0;
}
