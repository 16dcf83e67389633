/* ob_float.c: shortest round-trip digits via snprintf("%.*e") + strtod.
 * Not the fastest algorithm (Ryu would be), but obviously correct, and only
 * used off the hot path (attribute values that are doubles, le and quantile
 * texts rendered once per series shape). */
#include "ob_float.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ob_shortest_digits(double v, char digits[24], int *out_exp10)
{
    char tmp[40];
    v = fabs(v);
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v || prec == 16) {
            /* tmp is d[.ddd]e[+-]xx */
            int n = 0;
            const char *p = tmp;
            for (; *p && *p != 'e'; p++)
                if (*p != '.')
                    digits[n++] = *p;
            while (n > 1 && digits[n - 1] == '0')
                n--;
            digits[n] = '\0';
            *out_exp10 = atoi(p + 1);
            return n;
        }
    }
    return 0; /* not reached: %.16e always round-trips */
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
