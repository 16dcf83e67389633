/* ob_utf8.h: well-formed UTF-8 (RFC 3629), the one definition the broker uses.
 *
 * Well-formed means: no stray continuation bytes, no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no sequence cut short.
 * Ingest refuses names and attributes that are not (the exposition must be
 * UTF-8); the OTLP/JSON response replaces each offending byte by U+FFFD.
 *
 * Header-only, static inline and free of any other broker header, so that
 * translator plugins can include it as well.
 */
#ifndef OB_UTF8_H
#define OB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the well-formed sequence that starts s[0..n): its length (1..4)
 * and code point, or 0 when none does (n == 0, or s[0] starts no sequence
 * that is complete and valid; *cp is then left alone). */
static inline size_t ob_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    /* 0x80..0xbf continue a sequence, 0xc0 and 0xc1 start only overlong
     * ones, 0xf5.. only code points past U+10FFFF. */
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    size_t len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (len > n)
        return 0;
    uint32_t c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Length (1..4) of the well-formed sequence that starts s[0..n), or 0. */
static inline size_t ob_utf8_seq_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return ob_utf8_decode(s, n, &cp);
}

/* Whether s[0..len) is well-formed UTF-8 throughout. */
static inline bool ob_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (*p < 0x80) { /* ASCII, the common case */
            p++;
            continue;
        }
        size_t n = ob_utf8_seq_len(p, (size_t)(end - p));
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

#endif
