/* ob_float.c: every decimal text of a double the broker writes.
 *
 * Two engines.  The plain one, ob_shortest_digits(), finds the shortest
 * round-trip digits with snprintf("%.*e") + strtod: not the fastest algorithm
 * (Ryu would be), but obviously correct, and all that the texts rendered off
 * the hot path need (attribute values that are doubles, le and quantile texts
 * rendered once per series shape).  The exposition writes one number per
 * sample, so ob_format_double() has exact fast paths for integers and for
 * decimals of up to 15 significant digits (128-bit integer arithmetic) and
 * only falls back to the plain engine for the rest (16-17 digit values, huge
 * integers, tiny numbers).
 */
#include "ob_float.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_common.h"

/* ---- the plain engine ---------------------------------------------------- */

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

/* ---- the exposition's fast paths ----------------------------------------- */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

char *ob_put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, 0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Powers of ten that are exact doubles (10^22 is the last one). */
static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A decimal 0.d[0]d[1]...d[nd-1] * 10^dp, the way Go's ftoa keeps it. */
struct digits {
    char d[24];
    int nd;
    int dp;
};

/* m's digits as 0.ddd * 10^dp with m = ddd * 10^(ndigits - frac). */
static void digits_from_u64(struct digits *ds, uint64_t m, int frac)
{
    char *end = put_u64(ds->d, m);
    int n = (int)(end - ds->d);
    ds->dp = n - frac;
    while (n > 1 && ds->d[n - 1] == '0')
        n--;
    ds->nd = n;
}

/* Shortest round-trip digits the plain way (ob_shortest_digits() above), for
 * what the fast paths below do not cover. */
static void digits_slow(double v, struct digits *ds)
{
    int e;
    ds->nd = ob_shortest_digits(v, ds->d, &e);
    ds->dp = e + 1;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* Whether the decimal m * 10^-k reads back as v = M * 2^E, all scaled by
 * 2^(2-s) where X = v * 10^k = N * 2^s, N = M * 5^k: X is 4N, m is m << sh,
 * and the half gaps to the neighbouring doubles are 2 * 5^k (only 5^k below
 * a power of two, where the doubles below are twice as dense).  A decimal
 * exactly on the boundary reads back as v when M is even (ties to even). */
struct exact_scale {
    u128 x4;       /* 4N */
    u128 half_up;  /* upper half gap */
    u128 half_low; /* lower half gap */
    int sh;        /* 2 - s */
    bool even;
};

static bool reads_back(const struct exact_scale *es, uint64_t m)
{
    u128 mm = (u128)m << es->sh;
    if (mm >= es->x4)
        return mm - es->x4 < es->half_up || (mm - es->x4 == es->half_up && es->even);
    return es->x4 - mm < es->half_low || (es->x4 - mm == es->half_low && es->even);
}

static bool exact_scale_init(struct exact_scale *es, double v, int k)
{
    static const uint64_t pow5[23] = {
        1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull,
        1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull,
        30517578125ull, 152587890625ull, 762939453125ull, 3814697265625ull,
        19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull,
    };
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t frac = bits & ((1ull << 52) - 1);
    int be = (int)(bits >> 52) & 0x7ff;
    if (be == 0 || k > 22) /* subnormal: not on this path */
        return false;
    uint64_t mant = frac | (1ull << 52);
    int s = k + be - 1075;
    if (s > 2 || 2 - s > 64) /* m << sh must stay below 2^128 (m < 2^57) */
        return false;
    es->sh = 2 - s;
    es->x4 = (u128)mant * pow5[k] * 4;
    es->half_up = (u128)pow5[k] * 2;
    es->half_low = frac == 0 && be > 1 ? (u128)pow5[k] : es->half_up;
    es->even = (mant & 1) == 0;
    return true;
}

/* Shortest digits of a normal, non-integer v by exact integer arithmetic.
 * With k chosen so that X = v * 10^k is in [1e15, 1e16), the decimals that
 * read back as v are the integers m (meaning m * 10^-k) in an interval
 * around X narrower than 2.3 (a double carries more than 15.9 digits):
 *   - one of <= 15 significant digits would be a multiple of 10 there, and
 *     only one multiple of 10 fits: trailing zeros stripped, it is the
 *     shortest form;
 *   - else a 16-digit one is the floor or the ceiling of X (the interval is
 *     contiguous and contains X); of two, the closer, ties to even, which is
 *     what Go's Ryu picks;
 *   - else the correctly rounded 17-digit decimal, which always reads back.
 * False when 10^k or 10^(k+1) is not an exact double (v < ~1e-7) or the
 * numbers would not fit in 128 bits. */
static bool digits_exact(double v, struct digits *ds)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e2 = (int)((bits >> 52) & 0x7ff) - 1023;
    /* floor(log10(2^e2)) <= floor(log10(v)) <= that + 1 */
    int k = 15 - (int)floor(e2 * 0.30102999566398120);
    struct exact_scale es;
    if (k < 0 || !exact_scale_init(&es, v, k))
        return false;
    uint64_t q = (uint64_t)(es.x4 >> es.sh);
    if (q >= 10000000000000000ull && k > 0 && exact_scale_init(&es, v, --k))
        q = (uint64_t)(es.x4 >> es.sh);
    if (q < 1000000000000000ull || q >= 10000000000000000ull)
        return false; /* not expected; the slow path is always right */

    uint64_t t = q - q % 10;
    if (reads_back(&es, t) || reads_back(&es, t += 10)) {
        digits_from_u64(ds, t, k);
        return true;
    }
    bool a = reads_back(&es, q), b = reads_back(&es, q + 1);
    if (a && b) {
        u128 da = es.x4 - ((u128)q << es.sh), db = ((u128)(q + 1) << es.sh) - es.x4;
        b = db < da || (db == da && (q & 1));
        a = !b;
    }
    if (a || b) {
        digits_from_u64(ds, a ? q : q + 1, k);
        return true;
    }
    if (!exact_scale_init(&es, v, ++k))
        return false;
    uint64_t m = (uint64_t)(es.x4 >> es.sh);
    if (es.sh > 0) { /* round half to even */
        u128 rem = es.x4 - ((u128)m << es.sh), half = (u128)1 << (es.sh - 1);
        if (rem > half || (rem == half && (m & 1)))
            m++;
    }
    digits_from_u64(ds, m, k);
    return true;
}
#else
static bool digits_exact(double v, struct digits *ds)
{
    OB_UNUSED(v);
    OB_UNUSED(ds);
    return false; /* no 128-bit integers: the snprintf path finds them */
}
#endif

/* Shortest round-trip digits of a finite v > 0. */
static void shortest_digits(double v, struct digits *ds)
{
    if (v < 9007199254740992.0) { /* 2^53: every integer below is exact */
        uint64_t i = (uint64_t)v;
        if ((double)i == v) {
            /* Any other decimal with fewer digits is >= 1 away, and the
             * neighbouring doubles are at most 1 away: the integer itself is
             * the shortest form. */
            digits_from_u64(ds, i, 0);
            return;
        }
        /* Quick exit for decimals with few fractional digits (12.5, 3.14):
         * m and 10^k are exact doubles, so m / 10^k is correctly rounded,
         * i.e. exactly what strtod("m e-k") returns, and the fewest
         * fractional digits means the fewest significant digits. */
        for (int k = 1; k <= 3; k++) {
            double x = v * pow10_exact[k];
            if (x >= 1e15)
                break;
            uint64_t m = (uint64_t)(x + 0.5);
            if ((double)m / pow10_exact[k] == v) {
                digits_from_u64(ds, m, k);
                return;
            }
        }
        if (v >= DBL_MIN && digits_exact(v, ds))
            return;
    }
    digits_slow(v, ds);
}

/* Go's strconv 'g' layout for shortest digits: %e when the decimal exponent
 * is < -4 or >= 6 (eprec is 6 when the precision is "shortest"), else %f. */
static char *layout_g(char *p, const struct digits *ds)
{
    int exp = ds->dp - 1;
    int nd = ds->nd;
    if (exp < -4 || exp >= 6) {
        *p++ = ds->d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, ds->d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        if (exp < 0) {
            *p++ = '-';
            exp = -exp;
        } else {
            *p++ = '+';
        }
        if (exp >= 100) {
            *p++ = (char)('0' + exp / 100);
            exp %= 100;
        }
        memcpy(p, digit_pairs + 2 * exp, 2);
        return p + 2;
    }
    if (ds->dp <= 0) {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-ds->dp);
        p += -ds->dp;
        memcpy(p, ds->d, (size_t)nd);
        return p + nd;
    }
    if (ds->dp >= nd) {
        memcpy(p, ds->d, (size_t)nd);
        p += nd;
        memset(p, '0', (size_t)(ds->dp - nd));
        return p + (ds->dp - nd);
    }
    memcpy(p, ds->d, (size_t)ds->dp);
    p += ds->dp;
    *p++ = '.';
    memcpy(p, ds->d + ds->dp, (size_t)(nd - ds->dp));
    return p + (nd - ds->dp);
}

size_t ob_format_double(double v, char buf[32])
{
    char *p = buf;
    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (v == 0) { /* also -0: expfmt writes "0" for f == 0 */
        memcpy(buf, "0", 2);
        return 1;
    }
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    /* The common case: a count or an integral gauge, printed as is. */
    if (v < 1e6) {
        uint64_t i = (uint64_t)v;
        if ((double)i == v) {
            p = put_u64(p, i);
            *p = '\0';
            return (size_t)(p - buf);
        }
    }
    struct digits ds;
    shortest_digits(v, &ds);
    p = layout_g(p, &ds);
    *p = '\0';
    return (size_t)(p - buf);
}
