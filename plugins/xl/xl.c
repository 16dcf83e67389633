/* xl.c: the naming rules shared by the strategy plugins and rules.c
 * (docs/otlp-to-prometheus.md, "the spec" below).
 *
 * Built once into $(BUILD)/plugins/libxl.a (-fPIC, hidden visibility) and
 * linked into each plugin that calls it, so every .so still carries its own
 * copy, exports only ob_translator_v1 and needs nothing at run time.  xl.h
 * declares what the plugins call; everything else here is static.
 *
 * Output follows the contract in translator.h: a callback writes what fits
 * into buf[0..cap), returns the full length (no NUL), or -1 to drop.  To stay
 * allocation-free the escaping builders run twice: a dry run into a null sink
 * tells the first bytes of the result (for the leading-digit and leading-'_'
 * rules), then the real run writes with the prefix decided.  Results are
 * cached by the host, so the second pass costs nothing that matters.
 *
 * State is built by xl_init() and read-only afterwards, so every callback is
 * safe to call from any number of threads at once.
 */
#include "xl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_utf8.h"

/* ---- small helpers ------------------------------------------------------ */

bool xl_is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

/* Label alphabet [A-Za-z0-9] (code point or byte). */
static bool is_label_char(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || xl_is_digit(c);
}

/* Metric alphabet [A-Za-z0-9:]; '_' is handled by each algorithm. */
static bool is_metric_char(unsigned char c)
{
    return is_label_char(c) || c == ':';
}

bool xl_is_metric_char_or_us(unsigned char c)
{
    return is_metric_char(c) || c == '_';
}

static bool str_is(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(p, lit, l) == 0;
}

static bool all_underscores(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '_')
            return false;
    return true;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) and its code point in
 * *out_cp, or 0 if the byte at s[0] does not start one (ob_utf8.h, the
 * broker's own definition, header-only).  The caller then counts that
 * single byte as one invalid character, exactly as Go's
 * `for _, r := range s` yields one RuneError per bad byte. */
static size_t utf8_decode(const char *s, size_t n, uint32_t *out_cp)
{
    return ob_utf8_decode((const unsigned char *)s, n, out_cp);
}

/* Go's unicode.IsSpace, which strings.TrimSpace uses on unit parts. */
static bool is_go_space(uint32_t cp)
{
    switch (cp) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* strings.TrimSpace: whole code points from both ends. */
struct ob_str xl_trim_space(struct ob_str s)
{
    uint32_t cp = 0;
    size_t w;
    while (s.len > 0 && (w = utf8_decode(s.ptr, s.len, &cp)) > 0 && is_go_space(cp)) {
        s.ptr += w;
        s.len -= w;
    }
    /* From the end: a space is at most 3 bytes; find the start of the last
     * code point by skipping continuation bytes. */
    while (s.len > 0) {
        size_t start = s.len - 1;
        while (start > 0 && s.len - start < 4 && ((unsigned char)s.ptr[start] & 0xc0) == 0x80)
            start--;
        w = utf8_decode(s.ptr + start, s.len - start, &cp);
        if (w != s.len - start || !is_go_space(cp))
            break;
        s.len = start;
    }
    return s;
}

/* ---- output sink -------------------------------------------------------- */

/* Writes what fits, counts everything, and tracks what the rules need to
 * know about the whole result without keeping it. */
struct xl_out {
    char *buf;
    size_t cap;
    size_t len;
    const char *ref; /* the input: an unchanged result is never an error */
    size_t ref_len;
    bool same;       /* output so far equals ref's prefix */
    bool only_us;    /* output so far is all '_' */
    char head[2];    /* first two bytes */
};

static void out_init(struct xl_out *o, char *buf, size_t cap, const char *ref, size_t ref_len)
{
    o->buf = buf;
    o->cap = buf ? cap : 0;
    o->len = 0;
    o->ref = ref;
    o->ref_len = ref_len;
    o->same = true;
    o->only_us = true;
    o->head[0] = o->head[1] = 0;
}

static void out_put(struct xl_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = o->len + i;
        char c = s[i];
        if (at < o->cap)
            o->buf[at] = c;
        if (at < 2)
            o->head[at] = c;
        if (o->same && (at >= o->ref_len || o->ref[at] != c))
            o->same = false;
        if (c != '_')
            o->only_us = false;
    }
    o->len += n;
}

static void out_char(struct xl_out *o, char c)
{
    out_put(o, &c, 1);
}

/* Appends p with a '_' separator unless it is the first piece. */
static void out_join(struct xl_out *o, bool *first, const char *p, size_t n)
{
    if (!*first)
        out_char(o, '_');
    out_put(o, p, n);
    *first = false;
}

static bool out_unchanged(const struct xl_out *o)
{
    return o->same && o->len == o->ref_len;
}

/* Spec 3.1 step 8 / 3.2 step 4: empty is an error; a changed result made
 * only of '_' is an error. */
static long finish_escaped_name(const struct xl_out *o)
{
    if (o->len == 0)
        return -1;
    if (o->only_us && !out_unchanged(o))
        return -1;
    return (long)o->len;
}

/* ---- units (spec section 4) --------------------------------------------- */

struct xl_unit_map {
    const char *otlp;
    const char *word;
};

static const struct xl_unit_map xl_main_units[] = {
    {"d", "days"},          {"h", "hours"},         {"min", "minutes"},    {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"}, {"TiBy", "tibibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},  {"TBy", "terabytes"},
    {"m", "meters"},        {"V", "volts"},         {"A", "amperes"},      {"J", "joules"},
    {"W", "watts"},         {"g", "grams"},         {"Cel", "celsius"},    {"Hz", "hertz"},
    {"1", ""},              {"%", "percent"},
};

static const struct xl_unit_map xl_per_units[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"},   {"mo", "month"}, {"y", "year"},
};

/* Table word for s, or s itself when unknown (it then passes through). */
static struct ob_str unit_lookup(const struct xl_unit_map *map, size_t n, struct ob_str s)
{
    for (size_t i = 0; i < n; i++)
        if (str_is(s.ptr, s.len, map[i].otlp))
            return (struct ob_str){map[i].word, strlen(map[i].word)};
    return s;
}

static bool has_brace(struct ob_str s)
{
    return memchr(s.ptr, '{', s.len) || memchr(s.ptr, '}', s.len);
}

/* The unit split into its main word and per word (spec 4.1-4.3), raw: not
 * cleaned.  per is the word after "per_"; has_per says whether there is one. */
struct xl_unit_words {
    struct ob_str main;
    struct ob_str per;
    bool has_per;
};

static struct xl_unit_words parse_unit(struct ob_str unit)
{
    struct xl_unit_words u = {{"", 0}, {"", 0}, false};
    const char *slash = unit.len ? memchr(unit.ptr, '/', unit.len) : NULL;
    struct ob_str left = {unit.ptr, slash ? (size_t)(slash - unit.ptr) : unit.len};
    left = xl_trim_space(left);
    if (left.len > 0 && !has_brace(left))
        u.main = unit_lookup(xl_main_units, sizeof xl_main_units / sizeof xl_main_units[0], left);
    if (slash) {
        struct ob_str right = {slash + 1, unit.len - (size_t)(slash + 1 - unit.ptr)};
        right = xl_trim_space(right);
        if (right.len > 0 && !has_brace(right)) {
            u.per = unit_lookup(xl_per_units, sizeof xl_per_units / sizeof xl_per_units[0], right);
            u.has_per = u.per.len > 0;
        }
    }
    return u;
}

/* cleanUpUnit: every non-metric character (each bad byte, each non-ASCII
 * code point) becomes '_', runs of '_' collapse, one leading '_' goes.
 * Working on bytes gives the same result as on code points because every
 * byte of a non-ASCII character maps to '_' and the run collapses.
 * Writes at most n bytes to dst; returns the length. */
static size_t clean_unit(const char *s, size_t n, char *dst)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = is_metric_char((unsigned char)s[i]) ? s[i] : '_';
        if (c == '_' && len > 0 && dst[len - 1] == '_')
            continue;
        dst[len++] = c;
    }
    if (len > 0 && dst[0] == '_') {
        memmove(dst, dst + 1, len - 1);
        len--;
    }
    return len;
}

/* Cleaned unit words for the escaping rules: main, and per as "per_<word>"
 * (cleaning "per_"+word equals "per_" + cleaning word: the word's leading
 * '_' merges into the one of "per_").  Storage is a caller's scratch of at
 * least xl_units_scratch_size() bytes. */
struct xl_clean_units {
    struct ob_str main;
    struct ob_str per; /* empty if the unit has no per part */
};

static size_t xl_units_scratch_size(const struct xl_unit_words *w)
{
    return w->main.len + 4 + w->per.len;
}

static struct xl_clean_units clean_units(const struct xl_unit_words *w, char *scratch)
{
    struct xl_clean_units c = {{scratch, 0}, {"", 0}};
    c.main.len = clean_unit(w->main.ptr, w->main.len, scratch);
    if (w->has_per) {
        char *p = scratch + c.main.len;
        memcpy(p, "per_", 4);
        c.per.ptr = p;
        c.per.len = 4 + clean_unit(w->per.ptr, w->per.len, p + 4);
    }
    return c;
}

/* Scratch for clean_units(): on the stack for any sane unit, else heap. */
struct xl_scratch {
    char local[256];
    char *heap;
};

static char *scratch_get(struct xl_scratch *s, size_t need)
{
    s->heap = NULL;
    if (need <= sizeof s->local)
        return s->local;
    s->heap = malloc(need);
    return s->heap;
}

/* m's unit parsed and its words cleaned (into sc: free(sc->heap) after);
 * false without memory. */
static bool unit_words_cleaned(const struct ob_metric_view *m, struct xl_scratch *sc,
                               struct xl_clean_units *out)
{
    struct xl_unit_words w = parse_unit(m->unit);
    char *scratch = scratch_get(sc, xl_units_scratch_size(&w));
    if (!scratch)
        return false;
    *out = clean_units(&w, scratch);
    return true;
}

/* ---- metric family names (spec section 3) ------------------------------- */

/* Next maximal run of bytes for which keep() holds, from *pos on. */
static bool next_field(const char *s, size_t n, size_t *pos, bool (*keep)(unsigned char),
                       struct ob_str *out_field)
{
    size_t i = *pos;
    while (i < n && !keep((unsigned char)s[i]))
        i++;
    if (i == n) {
        *pos = n;
        return false;
    }
    size_t start = i;
    while (i < n && keep((unsigned char)s[i]))
        i++;
    *out_field = (struct ob_str){s + start, i - start};
    *pos = i;
    return true;
}

static bool name_has_token(struct ob_str name, struct ob_str tok)
{
    size_t pos = 0;
    struct ob_str f;
    while (next_field(name.ptr, name.len, &pos, is_metric_char, &f))
        if (f.len == tok.len && memcmp(f.ptr, tok.ptr, tok.len) == 0)
            return true;
    return false;
}

/* Spec 3.1 steps 3-6 after the unit words are cleaned; writes the joined
 * tokens, with a '_' in front when digit_prefix (step 7). */
static void emit_suffixed(const struct xl_state *st, const struct ob_metric_view *m,
                          struct xl_clean_units u, bool digit_prefix, struct xl_out *o)
{
    bool counter = m->type == OB_METRIC_COUNTER;
    bool ratio = m->type == OB_METRIC_GAUGE && str_is(m->unit.ptr, m->unit.len, "1");
    bool first = true;
    if (digit_prefix)
        out_char(o, '_');
    if (st->ns_len > 0)
        out_join(o, &first, st->ns, st->ns_len);
    size_t pos = 0;
    struct ob_str tok;
    while (next_field(m->name.ptr, m->name.len, &pos, is_metric_char, &tok)) {
        if ((counter && str_is(tok.ptr, tok.len, "total")) ||
            (ratio && str_is(tok.ptr, tok.len, "ratio")))
            continue;
        out_join(o, &first, tok.ptr, tok.len);
    }
    /* The unit words are tokens too: step 4 and 5 remove them as well. */
    if (u.main.len > 0 && !(counter && str_is(u.main.ptr, u.main.len, "total")) &&
        !(ratio && str_is(u.main.ptr, u.main.len, "ratio")))
        out_join(o, &first, u.main.ptr, u.main.len);
    if (u.per.len > 0)
        out_join(o, &first, u.per.ptr, u.per.len);
    if (counter)
        out_join(o, &first, "total", 5);
    if (ratio)
        out_join(o, &first, "ratio", 5);
}

/* Spec 3.1: UnderscoreEscapingWithSuffixes. */
static long name_escaped_suffixed(const struct xl_state *st, const struct ob_metric_view *m,
                                  char *buf, size_t cap)
{
    struct xl_scratch sc;
    struct xl_clean_units u;
    if (!unit_words_cleaned(m, &sc, &u))
        return -1;
    /* Step 3: the main word is dropped when it is any token of the name. */
    if (u.main.len > 0 && name_has_token(m->name, u.main))
        u.main.len = 0;
    /* A bare "per_" is dropped, else one trailing '_' goes.  (A per word is
     * never among the tokens: it contains '_'.) */
    if (u.per.len == 4)
        u.per.len = 0;
    else if (u.per.len > 0 && u.per.ptr[u.per.len - 1] == '_')
        u.per.len--;
    if (u.per.len > 0 && u.main.len > 0 && u.main.ptr[u.main.len - 1] == '_')
        u.main.len--;

    struct xl_out o;
    out_init(&o, NULL, 0, m->name.ptr, m->name.len);
    emit_suffixed(st, m, u, false, &o);
    bool digit = o.len > 0 && xl_is_digit((unsigned char)o.head[0]);
    out_init(&o, buf, cap, m->name.ptr, m->name.len);
    emit_suffixed(st, m, u, digit, &o);
    free(sc.heap);
    return finish_escaped_name(&o);
}

/* Spec 3.2 step 1: fields of [A-Za-z0-9:_] joined with '_'. */
static void emit_fields(const char *s, size_t n, struct xl_out *o)
{
    size_t pos = 0;
    bool first = true;
    struct ob_str f;
    while (next_field(s, n, &pos, xl_is_metric_char_or_us, &f))
        out_join(o, &first, f.ptr, f.len);
}

/* Spec 3.2 and 3.5: UnderscoreEscapingWithoutSuffixes. */
static long name_escaped_plain(const struct xl_state *st, const struct ob_metric_view *m,
                               char *buf, size_t cap)
{
    struct xl_out o;
    if (st->ns_len > 0) {
        /* Namespace branch: no leading-digit fix (1ns -> 1ns_metric). */
        out_init(&o, buf, cap, m->name.ptr, m->name.len);
        emit_fields(st->ns, st->ns_len, &o);
        out_char(&o, '_');
        emit_fields(m->name.ptr, m->name.len, &o);
        return finish_escaped_name(&o);
    }
    out_init(&o, NULL, 0, m->name.ptr, m->name.len);
    emit_fields(m->name.ptr, m->name.len, &o);
    bool digit = o.len > 0 && xl_is_digit((unsigned char)o.head[0]);
    out_init(&o, buf, cap, m->name.ptr, m->name.len);
    if (digit)
        out_char(&o, '_');
    emit_fields(m->name.ptr, m->name.len, &o);
    return finish_escaped_name(&o);
}

/* The UTF-8 strategies work on "<ns>_<name>" without building it: a view of
 * up to three pieces. */
struct xl_vname {
    struct ob_str part[3];
    size_t n_parts;
    size_t len;
};

static struct xl_vname vname_make(const struct xl_state *st, struct ob_str name)
{
    struct xl_vname v = {{{0, 0}}, 0, 0};
    if (st->ns_len > 0) {
        v.part[v.n_parts++] = (struct ob_str){st->ns, st->ns_len};
        v.part[v.n_parts++] = (struct ob_str){"_", 1};
    }
    v.part[v.n_parts++] = name;
    for (size_t i = 0; i < v.n_parts; i++)
        v.len += v.part[i].len;
    return v;
}

static char vname_at(const struct xl_vname *v, size_t i)
{
    for (size_t p = 0;; p++) {
        if (i < v->part[p].len)
            return v->part[p].ptr[i];
        i -= v->part[p].len;
    }
}

/* Does v[0..len) end with prefix+word? */
static bool vname_ends_with(const struct xl_vname *v, size_t len, const char *prefix,
                            struct ob_str word)
{
    size_t pl = strlen(prefix), n = pl + word.len;
    if (n > len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char want = i < pl ? prefix[i] : word.ptr[i - pl];
        if (vname_at(v, len - n + i) != want)
            return false;
    }
    return true;
}

/* trimSuffixAndDelimiter: cut prefix+word plus the one character before it
 * (assumed, not checked, to be a separator) if v is longer than that. */
static size_t vname_trim(const struct xl_vname *v, size_t len, const char *prefix,
                         struct ob_str word)
{
    size_t n = strlen(prefix) + word.len;
    if (len > n + 1 && vname_ends_with(v, len, prefix, word))
        return len - (n + 1);
    return len;
}

static void vname_emit(const struct xl_vname *v, size_t len, struct xl_out *o)
{
    for (size_t p = 0; p < v->n_parts && len > 0; p++) {
        size_t n = v->part[p].len < len ? v->part[p].len : len;
        out_put(o, v->part[p].ptr, n);
        len -= n;
    }
}

static bool vname_valid_utf8(const struct xl_vname *v)
{
    for (size_t p = 0; p < v->n_parts; p++)
        if (!ob_utf8_valid(v->part[p].ptr, v->part[p].len))
            return false;
    return true;
}

/* Spec 3.3 (suffixes) and 3.4 (none): no character changes.  A name that is
 * empty or not valid UTF-8 cannot be exposed, so it is dropped. */
static long name_utf8(const struct xl_state *st, const struct ob_metric_view *m, char *buf,
                      size_t cap)
{
    struct xl_vname v = vname_make(st, m->name);
    if (!vname_valid_utf8(&v))
        return -1;
    struct xl_out o;
    out_init(&o, buf, cap, NULL, 0);
    if (!(st->strategy & XL_SUFFIXES)) {
        vname_emit(&v, v.len, &o);
        return o.len > 0 ? (long)o.len : -1;
    }
    static const struct ob_str none = {"", 0};
    bool ratio = m->type == OB_METRIC_GAUGE && str_is(m->unit.ptr, m->unit.len, "1");
    bool total = m->type == OB_METRIC_COUNTER;
    struct xl_unit_words w = parse_unit(m->unit);
    size_t len = v.len;
    /* Outside in: ratio, total, per are trimmed and re-appended; the main
     * word is only appended when the name does not already end with it. */
    if (ratio)
        len = vname_trim(&v, len, "ratio", none);
    if (total)
        len = vname_trim(&v, len, "total", none);
    if (w.has_per)
        len = vname_trim(&v, len, "per_", w.per);
    bool main = w.main.len > 0 && !vname_ends_with(&v, len, "", w.main);
    vname_emit(&v, len, &o);
    if (main) {
        out_char(&o, '_');
        out_put(&o, w.main.ptr, w.main.len);
    }
    if (w.has_per) {
        out_put(&o, "_per_", 5);
        out_put(&o, w.per.ptr, w.per.len);
    }
    if (total)
        out_put(&o, "_total", 6);
    if (ratio)
        out_put(&o, "_ratio", 6);
    return o.len > 0 ? (long)o.len : -1;
}

long xl_family_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap)
{
    const struct xl_state *st = state;
    switch (st->strategy & (XL_ESCAPE | XL_SUFFIXES)) {
    case XL_ESCAPE | XL_SUFFIXES:
        return name_escaped_suffixed(st, m, buf, cap);
    case XL_ESCAPE:
        return name_escaped_plain(st, m, buf, cap);
    default:
        return name_utf8(st, m, buf, cap);
    }
}

/* Spec 4.5: the UNIT metadata string.  Prometheus always uses the escaping
 * unit namer here, whatever the strategy, so every plugin shares this. */
long xl_unit_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap)
{
    (void)state;
    struct xl_scratch sc;
    struct xl_clean_units u;
    if (!unit_words_cleaned(m, &sc, &u))
        return -1;
    /* Joined main_per, then one leading and one trailing '_' removed.  The
     * leading trim never fires (a cleaned main word has no leading '_' and
     * the per word starts with "per_"), but it is kept as the rule says. */
    struct ob_str main = u.main, per = u.per;
    if (main.len > 0 && main.ptr[0] == '_') {
        main.ptr++;
        main.len--;
    }
    struct ob_str *last = per.len > 0 ? &per : &main;
    if (last->len > 0 && last->ptr[last->len - 1] == '_')
        last->len--;
    struct xl_out o;
    out_init(&o, buf, cap, NULL, 0);
    out_put(&o, main.ptr, main.len);
    if (main.len > 0 && per.len > 0)
        out_char(&o, '_');
    out_put(&o, per.ptr, per.len);
    free(sc.heap);
    return (long)o.len;
}

/* ---- label names (spec section 6) --------------------------------------- */

/* Spec 6.1 steps 2-3 with both flags, plus an optional prefix ("key_" for a
 * leading digit, "key" for a single leading '_'). */
static void emit_label(const struct xl_state *st, const char *key, size_t n, const char *prefix,
                       struct xl_out *o)
{
    if (prefix)
        out_put(o, prefix, strlen(prefix));
    bool preserve = st->preserve_multiple_underscores;
    bool reserved = !preserve && n >= 4 && key[0] == '_' && key[1] == '_' && key[n - 2] == '_' &&
                    key[n - 1] == '_';
    size_t i = 0, end = n;
    if (reserved) {
        out_put(o, "__", 2);
        i = 2;
        end = n - 2;
    }
    bool prev_us = false; /* as in the reference: the "__" marker does not count */
    while (i < end) {
        uint32_t cp = 0;
        size_t w = utf8_decode(key + i, end - i, &cp);
        if (w == 0) {
            w = 1; /* one invalid byte, one invalid character */
            cp = 0xfffd;
        }
        if (is_label_char(cp)) {
            out_char(o, (char)cp);
            prev_us = false;
        } else if (preserve || !prev_us) {
            out_char(o, '_');
            prev_us = true;
        }
        i += w;
    }
    if (reserved)
        out_put(o, "__", 2);
}

long xl_label_name(void *state, const char *key, size_t key_len, char *buf, size_t cap)
{
    const struct xl_state *st = state;
    if (key_len == 0)
        return -1;
    struct xl_out o;
    if (!(st->strategy & XL_ESCAPE)) {
        /* Spec 6.2: untouched, but never empty or only '_'; invalid UTF-8
         * could not be exposed, so it is dropped too. */
        if (all_underscores(key, key_len) || !ob_utf8_valid(key, key_len))
            return -1;
        out_init(&o, buf, cap, NULL, 0);
        out_put(&o, key, key_len);
        return (long)o.len;
    }
    out_init(&o, NULL, 0, NULL, 0);
    emit_label(st, key, key_len, NULL, &o);
    const char *prefix = NULL;
    if (xl_is_digit((unsigned char)o.head[0]))
        prefix = "key_";
    else if (st->underscore_sanitization && o.head[0] == '_' && !(o.len > 1 && o.head[1] == '_'))
        prefix = "key";
    out_init(&o, buf, cap, NULL, 0);
    emit_label(st, key, key_len, prefix, &o);
    return o.only_us ? -1 : (long)o.len;
}

/* ---- resources (spec section 7) ----------------------------------------- */

static bool is_identifying(struct ob_str key)
{
    return str_is(key.ptr, key.len, "service.name") ||
           str_is(key.ptr, key.len, "service.namespace") ||
           str_is(key.ptr, key.len, "service.instance.id");
}

static const struct ob_attr *find_attr(const struct ob_resource_view *r, const char *key)
{
    for (size_t i = 0; i < r->n_attrs; i++)
        if (str_is(r->attrs[i].key.ptr, r->attrs[i].key.len, key))
            return &r->attrs[i];
    return NULL;
}

static bool list_has(const struct ob_str *list, size_t n, struct ob_str key)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].len == key.len && memcmp(list[i].ptr, key.ptr, key.len) == 0)
            return true;
    return false;
}

static void put_capped(char *dst, size_t cap, size_t at, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (at + i < cap)
            dst[at + i] = src[i];
}

long xl_resource(void *state, const struct ob_resource_view *r, struct ob_resource_out *out)
{
    const struct xl_state *st = state;
    const struct ob_attr *name = find_attr(r, "service.name");
    const struct ob_attr *ns = find_attr(r, "service.namespace");
    const struct ob_attr *inst = find_attr(r, "service.instance.id");

    /* job = [<service.namespace>/]<service.name>; no name, no job. */
    out->has_job = name != NULL;
    out->job_len = 0;
    if (name) {
        if (ns) {
            put_capped(out->job, out->job_cap, 0, ns->value.ptr, ns->value.len);
            put_capped(out->job, out->job_cap, ns->value.len, "/", 1);
            out->job_len = ns->value.len + 1;
        }
        put_capped(out->job, out->job_cap, out->job_len, name->value.ptr, name->value.len);
        out->job_len += name->value.len;
    }
    out->has_instance = inst != NULL;
    out->instance_len = 0;
    if (inst) {
        put_capped(out->instance, out->instance_cap, 0, inst->value.ptr, inst->value.len);
        out->instance_len = inst->value.len;
    }

    size_t n_other = 0;
    for (size_t i = 0; i < r->n_attrs; i++)
        n_other += !is_identifying(r->attrs[i].key);
    out->target_info = st->target_info && n_other > 0 && (out->has_job || out->has_instance);

    for (size_t i = 0; i < r->n_attrs; i++) {
        struct ob_str key = r->attrs[i].key;
        uint8_t role = 0;
        if (out->target_info && (st->keep_identifying || !is_identifying(key)))
            role |= OB_RES_TARGET_INFO;
        if (st->promote_all ? !list_has(st->ignore, st->n_ignore, key)
                            : list_has(st->promote, st->n_promote, key))
            role |= OB_RES_PROMOTE;
        out->attr_roles[i] = role;
    }

    if (out->job_len > out->job_cap || out->instance_len > out->instance_cap)
        return (long)(out->job_len > out->instance_len ? out->job_len : out->instance_len);
    return 0;
}

/* ---- init / fini -------------------------------------------------------- */

static const char *const xl_keys[] = {
    "namespace",
    "target_info",
    "promote_resource_attributes",
    "promote_all_resource_attributes",
    "ignore_resource_attributes",
    "keep_identifying_resource_attributes",
    "label_name_underscore_sanitization",
    "label_name_preserve_multiple_underscores",
};

void xl_fini(void *state)
{
    struct xl_state *st = state;
    if (!st)
        return;
    free(st->ns);
    free(st->promote);
    free(st->ignore);
    free(st->lists);
    free(st);
}

void xl_set_err(char *err, size_t err_cap, const char *fmt, ...)
{
    if (!err || err_cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
}

static int parse_bool(const char *key, const char *value, bool *out_b, char *err, size_t err_cap)
{
    if (strcmp(value, "true") == 0) {
        *out_b = true;
        return 0;
    }
    if (strcmp(value, "false") == 0) {
        *out_b = false;
        return 0;
    }
    xl_set_err(err, err_cap, "%s: bad boolean '%s' (use true or false)", key, value);
    return -1;
}

/* A comma-separated list, entries trimmed; an empty or repeated entry is an
 * error (as Prometheus validates its otlp: lists).  "" is the empty list.
 * The entries point into value; own_lists() copies them afterwards. */
int xl_parse_list(const char *key, const char *value, struct ob_str **out_list, size_t *out_n,
                  char *err, size_t err_cap)
{
    *out_list = NULL;
    *out_n = 0;
    size_t vlen = strlen(value);
    if (xl_trim_space((struct ob_str){value, vlen}).len == 0)
        return 0;
    size_t n = 1;
    for (size_t i = 0; i < vlen; i++)
        n += value[i] == ',';
    struct ob_str *list = calloc(n, sizeof *list);
    if (!list) {
        xl_set_err(err, err_cap, "%s: out of memory", key);
        return -1;
    }
    size_t got = 0;
    const char *p = value, *end = value + vlen;
    while (got < n) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        struct ob_str e = xl_trim_space((struct ob_str){p, (size_t)(stop - p)});
        if (e.len == 0) {
            xl_set_err(err, err_cap, "%s: empty entry in '%s'", key, value);
            goto fail;
        }
        if (list_has(list, got, e)) {
            xl_set_err(err, err_cap, "%s: duplicate entry '%.*s'", key, (int)e.len, e.ptr);
            goto fail;
        }
        list[got++] = e;
        p = stop + 1;
    }
    *out_list = list;
    *out_n = got;
    return 0;
fail:
    free(list);
    return -1;
}

/* Moves list entries into memory the state owns (the host's strings are
 * valid until fini, but owning them keeps the state self-contained). */
static int own_lists(struct xl_state *st)
{
    size_t bytes = 1;
    for (size_t i = 0; i < st->n_promote; i++)
        bytes += st->promote[i].len;
    for (size_t i = 0; i < st->n_ignore; i++)
        bytes += st->ignore[i].len;
    st->lists = malloc(bytes);
    if (!st->lists)
        return -1;
    char *p = st->lists;
    for (size_t i = 0; i < st->n_promote; i++) {
        memcpy(p, st->promote[i].ptr, st->promote[i].len);
        st->promote[i].ptr = p;
        p += st->promote[i].len;
    }
    for (size_t i = 0; i < st->n_ignore; i++) {
        memcpy(p, st->ignore[i].ptr, st->ignore[i].len);
        st->ignore[i].ptr = p;
        p += st->ignore[i].len;
    }
    return 0;
}

/* ---- helpers for plugins built on top of a strategy (rules.c) ------------ */

/* The strategy bits of a shipped strategy plugin's name; false if name is
 * none of the four. */
bool xl_strategy_by_name(const char *name, unsigned *out_strategy)
{
    static const struct {
        const char *name;
        unsigned strategy;
    } table[] = {
        {"underscore_escaping_with_suffixes", XL_ESCAPE | XL_SUFFIXES},
        {"underscore_escaping_without_suffixes", XL_ESCAPE},
        {"no_utf8_escaping_with_suffixes", XL_SUFFIXES},
        {"no_translation", 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            *out_strategy = table[i].strategy;
            return true;
        }
    }
    return false;
}

/* Is key one of the keys xl_init() understands? */
bool xl_is_key(const char *key)
{
    for (size_t i = 0; i < sizeof xl_keys / sizeof xl_keys[0]; i++)
        if (strcmp(key, xl_keys[i]) == 0)
            return true;
    return false;
}

/* The i-th of those keys, NULL past the last: for "valid: ..." messages. */
const char *xl_key(size_t i)
{
    return i < sizeof xl_keys / sizeof xl_keys[0] ? xl_keys[i] : NULL;
}

/* Parses host->config into a fresh state for the given strategy.  Every
 * plugin accepts the same keys; the label flags have no effect under the
 * UTF-8 strategies (names are not escaped there). */
int xl_init(const struct ob_host *host, unsigned strategy, void **out_state, char *err,
            size_t err_cap)
{
    struct xl_state *st = calloc(1, sizeof *st);
    const char *ns = "", *promote = "", *ignore = "";
    if (!st) {
        xl_set_err(err, err_cap, "out of memory");
        return -1;
    }
    st->strategy = strategy;
    st->underscore_sanitization = true; /* Prometheus server defaults */
    st->preserve_multiple_underscores = true;
    st->target_info = true;

    for (size_t i = 0; host && i < host->n_config; i++) {
        const char *k = host->config[i].key, *v = host->config[i].value;
        if (!k || !v) {
            xl_set_err(err, err_cap, "config entry %zu has no key or value", i);
            goto fail;
        }
        int rc = 0;
        if (strcmp(k, "namespace") == 0)
            ns = v;
        else if (strcmp(k, "target_info") == 0)
            rc = parse_bool(k, v, &st->target_info, err, err_cap);
        else if (strcmp(k, "promote_resource_attributes") == 0)
            promote = v;
        else if (strcmp(k, "promote_all_resource_attributes") == 0)
            rc = parse_bool(k, v, &st->promote_all, err, err_cap);
        else if (strcmp(k, "ignore_resource_attributes") == 0)
            ignore = v;
        else if (strcmp(k, "keep_identifying_resource_attributes") == 0)
            rc = parse_bool(k, v, &st->keep_identifying, err, err_cap);
        else if (strcmp(k, "label_name_underscore_sanitization") == 0)
            rc = parse_bool(k, v, &st->underscore_sanitization, err, err_cap);
        else if (strcmp(k, "label_name_preserve_multiple_underscores") == 0)
            rc = parse_bool(k, v, &st->preserve_multiple_underscores, err, err_cap);
        else {
            char valid[512];
            size_t off = 0;
            for (size_t j = 0; j < sizeof xl_keys / sizeof xl_keys[0]; j++)
                off += (size_t)snprintf(valid + off, sizeof valid - off, "%s%s", j ? ", " : "",
                                        xl_keys[j]);
            xl_set_err(err, err_cap, "unknown key '%s' (valid: %s)", k, valid);
            goto fail;
        }
        if (rc != 0)
            goto fail;
    }

    if (xl_parse_list("promote_resource_attributes", promote, &st->promote, &st->n_promote, err,
                      err_cap) != 0 ||
        xl_parse_list("ignore_resource_attributes", ignore, &st->ignore, &st->n_ignore, err,
                      err_cap) != 0)
        goto fail;
    if (st->promote_all && st->n_promote > 0) {
        xl_set_err(err, err_cap,
                   "promote_all_resource_attributes and promote_resource_attributes are mutually "
                   "exclusive");
        goto fail;
    }
    if (!st->promote_all && st->n_ignore > 0) {
        xl_set_err(err, err_cap,
                   "ignore_resource_attributes is only allowed with "
                   "promote_all_resource_attributes = true");
        goto fail;
    }
    st->ns_len = strlen(ns);
    st->ns = malloc(st->ns_len + 1);
    if (!st->ns || own_lists(st) != 0) {
        xl_set_err(err, err_cap, "out of memory");
        goto fail;
    }
    memcpy(st->ns, ns, st->ns_len + 1);
    *out_state = st;
    return 0;
fail:
    xl_fini(st);
    return -1;
}
