/* ob_float.c: shortest round-trip digits via snprintf("%.*e") + strtod,
 * the one engine behind every decimal the broker writes off the hot path
 * (the exposition's fast paths fall back to it too).
 * Not the fastest algorithm (Ryu would be), but obviously correct, and only
 * used off the hot path (attribute values that are doubles, le and quantile
 * texts rendered once per series shape). */
#include "ob_float.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds one unit in the last place of the mantissa of s ("d.ddde±XX"), in
 * place.  False when the carry would change the exponent (all nines): that
 * decimal has fewer digits and was tried already. */
static bool round_up_last(char *s)
{
    char *e = strchr(s, 'e');
    for (char *p = e - 1; p >= s; p--) {
        if (*p == '.')
            continue;
        if (*p != '9') {
            (*p)++;
            return true;
        }
        *p = '0';
    }
    return false;
}

/* The fewest significant digits whose correctly rounded decimal (glibc's %e
 * is exact) reads back as v; that is also the closest such decimal, which is
 * what Go (Ryu) picks.  Normal numbers need at least 15 digits unless a
 * shorter form exists, and then the 15-digit rounding is that form padded
 * with zeros (a double carries more than 15 digits, so a round-tripping
 * <= 15-digit decimal is within half a unit of the 15th digit); subnormals
 * have less precision and start at 1.  17 digits always round-trip. */
int ob_shortest_digits(double v, char digits[24], int *out_exp10)
{
    char tmp[40];
    v = fabs(v);
    int prec = v < DBL_MIN ? 0 : 14;
    for (;; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (prec >= 16 || strtod(tmp, NULL) == v)
            break;
        /* At a power of two the doubles below are twice as dense as those
         * above, so the closest 16-digit decimal can fall short below while
         * the next one up still reads back (2^-1017 is 7.120236347223045e-307,
         * not ...0444e-307). */
        if (prec == 15 && frexp(v, &(int){0}) == 0.5 && round_up_last(tmp) &&
            strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is d[.ddd]e±XX */
    int n = 0;
    const char *p = tmp;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *out_exp10 = (int)strtol(p + 1, NULL, 10);
    return n;
}

/* Writes digits d (n of them) with decimal exponent e in plain positional
 * form, no exponent: Go's 'f' layout.  Returns the end. */
static char *put_fixed(char *p, const char *d, int n, int e)
{
    if (e < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > e; i--)
            *p++ = '0';
        memcpy(p, d, (size_t)n);
        return p + n;
    }
    for (int i = 0; i <= e || i < n; i++) {
        if (i == e + 1)
            *p++ = '.';
        *p++ = i < n ? d[i] : '0';
    }
    return p;
}

size_t ob_format_double_fixed(double v, char buf[OB_FIXED_LEN])
{
    if (isnan(v))
        return (size_t)snprintf(buf, OB_FIXED_LEN, "NaN");
    if (isinf(v))
        return (size_t)snprintf(buf, OB_FIXED_LEN, "%sInf", v > 0 ? "+" : "-");
    if (v == 0)
        return (size_t)snprintf(buf, OB_FIXED_LEN, "%s", signbit(v) ? "-0" : "0");
    char d[24];
    int e;
    int n = ob_shortest_digits(v, d, &e);
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    p = put_fixed(p, d, n, e);
    *p = '\0';
    return (size_t)(p - buf);
}

size_t ob_format_double_json(double v, char buf[64])
{
    if (isnan(v))
        return (size_t)snprintf(buf, 64, "json: unsupported value: NaN");
    if (isinf(v))
        return (size_t)snprintf(buf, 64, "json: unsupported value: %sInf", v > 0 ? "+" : "-");
    if (v == 0)
        return (size_t)snprintf(buf, 64, "%s", signbit(v) ? "-0" : "0");
    char d[24];
    int e;
    int n = ob_shortest_digits(v, d, &e);
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    double a = fabs(v);
    if (a < 1e-6 || a >= 1e21) {
        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        p += sprintf(p, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else {
        p = put_fixed(p, d, n, e);
    }
    *p = '\0';
    return (size_t)(p - buf);
}
