/* ob_labels.c: the label block (grammar in ob_labels.h): render, escape,
 * legacy names, the rewrite for legacy scrapers, and a reader of pairs. */
#include "ob_labels.h"

#include <string.h>

/* ---- escaping and names --------------------------------------------------- */

static void escape(struct ob_buf *out, const char *s, size_t len, bool quote)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        if (s[i] == '\\')
            rep = "\\\\";
        else if (s[i] == '\n')
            rep = "\\n";
        else if (s[i] == '"' && quote)
            rep = "\\\"";
        else
            continue;
        ob_buf_append(out, s + start, i - start);
        ob_buf_append(out, rep, 2);
        start = i + 1;
    }
    ob_buf_append(out, s + start, len - start);
}

void ob_escape_label_value(struct ob_buf *out, const char *s, size_t len)
{
    escape(out, s, len, true);
}

void ob_escape_help(struct ob_buf *out, const char *s, size_t len)
{
    escape(out, s, len, false);
}

static bool legacy_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

static bool legacy_name(const char *s, size_t len, bool colon)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!legacy_char(s[i], i == 0, colon))
            return false;
    return true;
}

bool ob_legacy_metric_name(const char *s, size_t len)
{
    return legacy_name(s, len, true);
}

bool ob_legacy_label_name(const char *s, size_t len)
{
    return legacy_name(s, len, false);
}

void ob_escape_underscores(struct ob_buf *b, const char *s, size_t len, bool colon,
                           bool quoted)
{
    size_t out = 0;
    for (size_t i = 0; i < len; out++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && legacy_char((char)c, out == 0, colon)) {
            ob_buf_putc(b, (char)c);
            i++;
            continue;
        }
        ob_buf_putc(b, '_');
        if (quoted && c == '\\')
            i += 2;
        else
            for (i++; i < len && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
                ; /* the rest of a UTF-8 sequence */
    }
}

/* ---- rendering ------------------------------------------------------------ */

static int label_order(const struct ob_label *a, const struct ob_label *b)
{
    size_t n = OB_MIN(a->name.len, b->name.len);
    int c = memcmp(a->name.ptr, b->name.ptr, n);
    if (c || a->name.len != b->name.len)
        return c ? c : (a->name.len < b->name.len ? -1 : 1);
    if (a->prio != b->prio)
        return a->prio - b->prio;
    n = OB_MIN(a->orig.len, b->orig.len);
    c = memcmp(a->orig.ptr, b->orig.ptr, n);
    return c ? c : (a->orig.len > b->orig.len) - (a->orig.len < b->orig.len);
}

/* Label sets are small: insertion sort beats qsort's call overhead. */
static void sort_labels(struct ob_label *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct ob_label t = l[i];
        size_t j = i;
        for (; j > 0 && label_order(&t, &l[j - 1]) < 0; j--)
            l[j] = l[j - 1];
        l[j] = t;
    }
}

/* A name keeps the values of its best-priority entries, joined with ';' in
 * original-key order (Prometheus' collision rule). */
long ob_labels_render(struct ob_label *l, size_t n, struct ob_buf *out)
{
    sort_labels(l, n);
    out->len = 0;
    /* UTF-8 strategies may give names a legacy scraper cannot read: such a
     * block is marked and its odd names quoted (see OB_LABELS_QUOTED). */
    bool quoted = false;
    for (size_t i = 0; i < n && !quoted; i++)
        quoted = !ob_legacy_label_name(l[i].name.ptr, l[i].name.len);
    if (quoted)
        ob_buf_putc(out, OB_LABELS_QUOTED);
    long count = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && l[j].name.len == l[i].name.len &&
               memcmp(l[j].name.ptr, l[i].name.ptr, l[i].name.len) == 0)
            j++;
        if (count++)
            ob_buf_putc(out, ',');
        if (quoted && !ob_legacy_label_name(l[i].name.ptr, l[i].name.len)) {
            ob_buf_putc(out, '"');
            ob_escape_label_value(out, l[i].name.ptr, l[i].name.len);
            ob_buf_putc(out, '"');
        } else {
            ob_buf_append(out, l[i].name.ptr, l[i].name.len);
        }
        ob_buf_append(out, "=\"", 2);
        ob_escape_label_value(out, l[i].value.ptr, l[i].value.len);
        for (size_t k = i + 1; k < j && l[k].prio == l[i].prio; k++) {
            ob_buf_putc(out, ';');
            ob_escape_label_value(out, l[k].value.ptr, l[k].value.len);
        }
        ob_buf_putc(out, '"');
        i = j;
    }
    return out->failed ? -1 : count;
}

/* ---- reading -------------------------------------------------------------- */

void ob_labels_legacy(struct ob_buf *b, const char *block, size_t len)
{
    b->len = 0;
    const char *s = block + 1; /* after the marker */
    len--;
    for (size_t i = 0; i < len;) {
        if (s[i] == '"') { /* quoted name: up to the unescaped closing quote */
            size_t start = ++i;
            while (i < len && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            ob_escape_underscores(b, s + start, OB_MIN(i, len) - start, false, true);
            i++;
        } else {
            size_t start = i;
            while (i < len && s[i] != '=')
                i++;
            ob_buf_append(b, s + start, i - start);
        }
        /* ="value" and a following comma, verbatim */
        size_t start = i;
        i += 2; /* =" */
        while (i < len && s[i] != '"')
            i += s[i] == '\\' ? 2 : 1;
        i++;
        if (i < len && s[i] == ',')
            i++;
        ob_buf_append(b, s + start, OB_MIN(i, len) - start);
    }
}


void ob_labels_iter_init(struct ob_labels_iter *it, const char *block, size_t len)
{
    it->p = block;
    it->end = block + len;
    if (len && block[0] == OB_LABELS_QUOTED)
        it->p++;
}

/* The end of escaped text that starts at p: its closing quote, or NULL. */
static const char *closing_quote(const char *p, const char *end)
{
    while (p < end && *p != '"')
        p += *p == '\\' ? 2 : 1;
    return p < end ? p : NULL;
}

bool ob_labels_next(struct ob_labels_iter *it, struct ob_label_pair *out)
{
    const char *p = it->p, *end = it->end;
    if (p < end && *p == ',')
        p++;
    if (p >= end)
        return false;
    if (*p == '"') {
        const char *q = closing_quote(p + 1, end);
        if (!q)
            return false;
        out->name = p + 1;
        out->name_len = (size_t)(q - p - 1);
        p = q + 1;
    } else {
        const char *q = memchr(p, '=', (size_t)(end - p));
        if (!q)
            return false;
        out->name = p;
        out->name_len = (size_t)(q - p);
        p = q;
    }
    if (end - p < 2 || p[0] != '=' || p[1] != '"')
        return false;
    const char *q = closing_quote(p + 2, end);
    if (!q)
        return false;
    out->value = p + 2;
    out->value_len = (size_t)(q - p - 2);
    it->p = q + 1;
    return true;
}

void ob_labels_unescape(struct ob_buf *out, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 == len)
            continue;
        ob_buf_append(out, s + start, i - start);
        ob_buf_putc(out, s[i + 1] == 'n' ? '\n' : s[i + 1]);
        start = i + 2;
        i++;
    }
    ob_buf_append(out, s + start, len - start);
}
