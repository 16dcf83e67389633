/* rules.c: ordered match / rename / prefix / drop rules over a base strategy.
 *
 * The policy lives in the [translator] section (full reference in
 * plugins/README.md, "The rules plugin"):
 *
 *   base = underscore_escaping_with_suffixes  ; any of the four strategies
 *   drop_labels = k8s.pod.uid                 ; attribute keys dropped everywhere
 *   rename_labels = http.method:method        ; attribute keys renamed everywhere
 *   rule.10.match = http.server.*             ; glob (default) or regex
 *   rule.10.match_type = glob                 ; glob | regex
 *   rule.10.rename = web.$1                   ; new OTLP name, $0..$9 and $$
 *   rule.10.prefix = myapp                    ; like namespace, for this rule
 *   rule.10.action = keep                     ; keep | drop
 *   rule.10.drop_labels = a, b                ; per metric (host ABI >= 1.1)
 *   rule.10.rename_labels = old:new           ; per metric (host ABI >= 1.1)
 *   ... plus every key of the base strategy (namespace, target_info, ...)
 *
 * Rules are tried in ascending number; the first whose pattern matches the
 * whole OTLP metric name decides.  A kept name (renamed or not) is then
 * built by the base strategy exactly as the base plugin would, so units,
 * _total and escaping stay Prometheus' rules; unmatched names are untouched
 * by the rules.  Everything is parsed and compiled in init(); the callbacks
 * only read the state (regexec on a compiled regex_t is thread-safe), so they
 * may run on any number of threads.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ob_utf8.h"
#include "xl/xl.h"

#define MAX_GROUPS 10 /* $0 (whole name) .. $9 */
#define MAX_RULE_NUMBER 999999999ul

/* One attribute decision: drop the key, or rename it before the base
 * strategy escapes it. */
struct label_op {
    struct ob_str key; /* OTLP attribute key, exact */
    struct ob_str to;  /* new OTLP key; to.ptr == NULL: drop */
};

struct label_ops {
    struct label_op *ops;
    size_t n;
    char *bytes; /* owns the strings ops point into */
};

enum field { F_MATCH, F_MATCH_TYPE, F_ACTION, F_RENAME, F_PREFIX, F_DROP_LABELS, F_RENAME_LABELS, N_FIELDS };

static const char *const field_names[N_FIELDS] = {
    "match", "match_type", "action", "rename", "prefix", "drop_labels", "rename_labels",
};

/* A rule as written: values point into host->config, used during init only. */
struct rule_spec {
    unsigned long number;
    const char *field[N_FIELDS];
};

struct rule {
    unsigned long number;
    regex_t re;
    bool compiled;           /* re needs regfree */
    bool anchored;           /* glob: ^...$ built in; regex: whole-name check */
    bool drop;               /* action = drop */
    char *rename;            /* template, NULL: keep the name */
    char *ns;                /* "<namespace>_<prefix>" when a prefix is set */
    struct xl_state prefixed; /* the base state with ns: names of this rule */
    struct label_ops labels;
};

struct rules_state {
    struct xl_state *base;
    struct rule *rules; /* ascending number */
    size_t n_rules;
    bool rule_labels;        /* some rule has label ops */
    struct label_ops labels; /* global */
};

/* ---- matching ------------------------------------------------------------ */

/* The first rule whose pattern matches all of name[0..len), captures in pm.
 * regexec needs a NUL-terminated string: the name is copied (on the stack
 * when short).  A name with a NUL byte inside matches nothing. */
static const struct rule *find_rule(const struct rules_state *st, struct ob_str name,
                                    regmatch_t pm[MAX_GROUPS], bool *out_oom)
{
    *out_oom = false;
    if (st->n_rules == 0 || (name.len > 0 && memchr(name.ptr, '\0', name.len)))
        return NULL;
    char local[256];
    char *s = name.len < sizeof local ? local : malloc(name.len + 1);
    if (!s) {
        *out_oom = true;
        return NULL;
    }
    if (name.len > 0)
        memcpy(s, name.ptr, name.len);
    s[name.len] = '\0';
    const struct rule *found = NULL;
    for (size_t i = 0; i < st->n_rules && !found; i++) {
        const struct rule *r = &st->rules[i];
        /* POSIX picks the longest match at the leftmost position, so a
         * match of the whole name exists iff that one spans it. */
        if (regexec(&r->re, s, MAX_GROUPS, pm, 0) == 0 && pm[0].rm_so == 0 &&
            (size_t)pm[0].rm_eo == name.len)
            found = r;
    }
    if (s != local)
        free(s);
    return found;
}

/* The rename template with $0..$9 replaced by the captures and $$ by $.
 * Writes what fits into dst[0..cap) and returns the full length. */
static size_t expand(const char *tmpl, const char *name, const regmatch_t pm[MAX_GROUPS], char *dst,
                     size_t cap)
{
    size_t len = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *src = p;
        size_t n = 1;
        if (*p == '$') {
            p++; /* init checked: a digit or '$' follows */
            if (*p != '$') {
                const regmatch_t *g = &pm[*p - '0'];
                n = g->rm_so < 0 ? 0 : (size_t)(g->rm_eo - g->rm_so);
                src = name + (g->rm_so < 0 ? 0 : g->rm_so);
            } else {
                src = p;
            }
        }
        for (size_t i = 0; i < n; i++)
            if (len + i < cap)
                dst[len + i] = src[i];
        len += n;
    }
    return len;
}

/* ---- callbacks ----------------------------------------------------------- */

static long family_name(void *state, const struct ob_metric_view *m, char *buf, size_t cap)
{
    const struct rules_state *st = state;
    regmatch_t pm[MAX_GROUPS];
    bool oom;
    const struct rule *r = find_rule(st, m->name, pm, &oom);
    if (oom)
        return -1;
    if (!r)
        return xl_family_name(st->base, m, buf, cap);
    if (r->drop)
        return -1;
    const struct xl_state *naming = r->ns ? &r->prefixed : st->base;
    if (!r->rename)
        return xl_family_name((void *)naming, m, buf, cap);

    /* The renamed OTLP name, then the base strategy on it. */
    struct ob_metric_view mv = *m;
    char local[256];
    size_t need = expand(r->rename, m->name.ptr, pm, NULL, 0);
    char *name = need <= sizeof local ? local : malloc(need);
    if (!name)
        return -1;
    expand(r->rename, m->name.ptr, pm, name, need);
    mv.name = (struct ob_str){name, need};
    long n = xl_family_name((void *)naming, &mv, buf, cap);
    if (name != local)
        free(name);
    return n;
}

static const struct label_op *find_op(const struct label_ops *ops, const char *key, size_t len)
{
    for (size_t i = 0; i < ops->n; i++)
        if (ops->ops[i].key.len == len && memcmp(ops->ops[i].key.ptr, key, len) == 0)
            return &ops->ops[i];
    return NULL;
}

/* A key named by the rule's label ops is decided by the rule; any other
 * key by the global ops; a kept key is then escaped by the base strategy. */
static long name_label(const struct rules_state *st, const struct rule *r, const char *key,
                       size_t key_len, char *buf, size_t cap)
{
    const struct label_op *op = r ? find_op(&r->labels, key, key_len) : NULL;
    if (!op)
        op = find_op(&st->labels, key, key_len);
    if (op) {
        if (!op->to.ptr)
            return -1;
        key = op->to.ptr;
        key_len = op->to.len;
    }
    return xl_label_name(st->base, key, key_len, buf, cap);
}

static long label_name(void *state, const char *key, size_t key_len, char *buf, size_t cap)
{
    return name_label(state, NULL, key, key_len, buf, cap);
}

/* ABI 1.1: a data-point attribute of metric m (see translator.h). */
static long metric_label_name(void *state, const struct ob_metric_view *m, const char *key,
                              size_t key_len, char *buf, size_t cap)
{
    const struct rules_state *st = state;
    const struct rule *r = NULL;
    if (st->rule_labels) {
        regmatch_t pm[MAX_GROUPS];
        bool oom;
        r = find_rule(st, m->name, pm, &oom);
        if (oom)
            return -1;
    }
    return name_label(st, r, key, key_len, buf, cap);
}

static long resource(void *state, const struct ob_resource_view *r, struct ob_resource_out *out)
{
    const struct rules_state *st = state;
    return xl_resource(st->base, r, out);
}

/* ---- init / fini --------------------------------------------------------- */

static void label_ops_free(struct label_ops *ops)
{
    free(ops->ops);
    free(ops->bytes);
    *ops = (struct label_ops){0};
}

static void fini(void *state)
{
    struct rules_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_rules; i++) {
        struct rule *r = &st->rules[i];
        if (r->compiled)
            regfree(&r->re);
        free(r->rename);
        free(r->ns);
        label_ops_free(&r->labels);
    }
    free(st->rules);
    label_ops_free(&st->labels);
    xl_fini(st->base);
    free(st);
}

/* drop_labels and rename_labels ("old:new", split at the first ':') of one
 * scope (a rule, or the whole config) into ops.  drop_key and rename_key are
 * the config keys, for messages. */
static int parse_label_ops(const char *drop_key, const char *drop, const char *rename_key,
                           const char *rename, struct label_ops *out, char *err, size_t err_cap)
{
    struct ob_str *drops = NULL, *renames = NULL;
    size_t n_drops = 0, n_renames = 0;
    int rc = -1;
    if (xl_parse_list(drop_key, drop, &drops, &n_drops, err, err_cap) != 0 ||
        xl_parse_list(rename_key, rename, &renames, &n_renames, err, err_cap) != 0)
        goto fail;
    size_t n = n_drops + n_renames, bytes = 1;
    out->ops = calloc(n + 1, sizeof *out->ops);
    if (!out->ops) {
        xl_set_err(err, err_cap, "%s: out of memory", drop_key);
        goto fail;
    }
    for (size_t i = 0; i < n_drops; i++) {
        out->ops[out->n++].key = drops[i]; /* to.ptr NULL: drop */
        bytes += drops[i].len;
    }
    for (size_t i = 0; i < n_renames; i++) {
        struct ob_str e = renames[i];
        const char *colon = memchr(e.ptr, ':', e.len);
        if (!colon) {
            xl_set_err(err, err_cap, "%s: '%.*s' is not old:new", rename_key, (int)e.len, e.ptr);
            goto fail;
        }
        struct ob_str from = xl_trim_space((struct ob_str){e.ptr, (size_t)(colon - e.ptr)});
        struct ob_str to =
            xl_trim_space((struct ob_str){colon + 1, e.len - (size_t)(colon + 1 - e.ptr)});
        if (from.len == 0 || to.len == 0) {
            xl_set_err(err, err_cap, "%s: '%.*s' needs a key on both sides of ':'", rename_key,
                       (int)e.len, e.ptr);
            goto fail;
        }
        if (find_op(out, from.ptr, from.len)) {
            xl_set_err(err, err_cap, "%s: '%.*s' is already dropped or renamed", rename_key,
                       (int)from.len, from.ptr);
            goto fail;
        }
        out->ops[out->n++] = (struct label_op){from, to};
        bytes += from.len + to.len;
    }
    /* Own the strings: copy every key into one block. */
    out->bytes = malloc(bytes);
    if (!out->bytes) {
        xl_set_err(err, err_cap, "%s: out of memory", drop_key);
        goto fail;
    }
    char *p = out->bytes;
    for (size_t i = 0; i < out->n; i++) {
        struct ob_str *s[2] = {&out->ops[i].key, &out->ops[i].to};
        for (int j = 0; j < 2; j++) {
            if (!s[j]->ptr)
                continue;
            memcpy(p, s[j]->ptr, s[j]->len);
            s[j]->ptr = p;
            p += s[j]->len;
        }
    }
    rc = 0;
fail:
    free(drops);
    free(renames);
    if (rc != 0)
        label_ops_free(out);
    return rc;
}

/* "rule.<N>.<field>": N is a positive decimal without leading zeros. */
static int parse_rule_key(const char *key, unsigned long *out_number, enum field *out_field,
                          char *err, size_t err_cap)
{
    const char *p = key + 5; /* after "rule." */
    unsigned long n = 0;
    if (*p < '1' || *p > '9')
        goto bad;
    while (xl_is_digit((unsigned char)*p)) {
        n = n * 10 + (unsigned long)(*p++ - '0');
        if (n > MAX_RULE_NUMBER)
            goto bad;
    }
    if (*p++ != '.')
        goto bad;
    for (int f = 0; f < N_FIELDS; f++) {
        if (strcmp(p, field_names[f]) == 0) {
            *out_number = n;
            *out_field = (enum field)f;
            return 0;
        }
    }
    xl_set_err(err, err_cap,
               "%s: unknown rule field '%s' (valid: match, match_type, action, rename, prefix, "
               "drop_labels, rename_labels)",
               key, p);
    return -1;
bad:
    xl_set_err(err, err_cap,
               "%s: expected rule.<N>.<field> with N from 1 to %lu, no leading zeros", key,
               MAX_RULE_NUMBER);
    return -1;
}

/* A glob as an anchored POSIX ERE: '*' -> ([^.]*), one dot-separated part
 * of the name (statsd_exporter's meaning); '**' -> (.*), any run including
 * dots; every other byte literal.  Each wildcard is a capture group. */
static char *glob_to_ere(const char *key, const char *glob, char *err, size_t err_cap)
{
    size_t n = strlen(glob);
    char *re = malloc(7 * n + 3), *o = re;
    if (!re) {
        xl_set_err(err, err_cap, "%s: out of memory", key);
        return NULL;
    }
    *o++ = '^';
    for (size_t i = 0; i < n;) {
        if (glob[i] == '*') {
            size_t run = 0;
            while (glob[i + run] == '*')
                run++;
            if (run > 2) {
                xl_set_err(err, err_cap,
                           "%s: '%s' has '***' (use * for one dot-separated part, ** for any run)",
                           key, glob);
                free(re);
                return NULL;
            }
            const char *g = run == 1 ? "([^.]*)" : "(.*)";
            memcpy(o, g, strlen(g));
            o += strlen(g);
            i += run;
            continue;
        }
        if (strchr("^.[$()|*+?{\\", glob[i]))
            *o++ = '\\';
        *o++ = glob[i++];
    }
    *o++ = '$';
    *o = '\0';
    return re;
}

/* $0..$9 up to the pattern's group count, $$; anything else after '$' is
 * an error. */
static int check_template(const char *key, const char *tmpl, size_t n_groups, char *err,
                          size_t err_cap)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '$')
            continue;
        p++;
        if (*p == '$')
            continue;
        if (!xl_is_digit((unsigned char)*p)) {
            xl_set_err(err, err_cap, "%s: '$' must be followed by a digit 0-9 or '$' in '%s'", key,
                       tmpl);
            return -1;
        }
        if ((size_t)(*p - '0') > n_groups) {
            xl_set_err(err, err_cap, "%s: $%c in '%s', but the pattern has %zu capture group%s",
                       key, *p, tmpl, n_groups, n_groups == 1 ? "" : "s");
            return -1;
        }
    }
    return 0;
}

/* A prefix becomes part of the namespace, which the with-suffixes strategy
 * joins unescaped (docs/otlp-to-prometheus.md §3.5): insist on characters
 * every strategy keeps. */
static int check_prefix(const char *key, const char *prefix, unsigned strategy, char *err,
                        size_t err_cap)
{
    size_t n = strlen(prefix);
    if (n == 0) {
        xl_set_err(err, err_cap, "%s: empty prefix", key);
        return -1;
    }
    if (!(strategy & XL_ESCAPE)) {
        if (ob_utf8_valid(prefix, n))
            return 0;
        xl_set_err(err, err_cap, "%s: not valid UTF-8", key);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!xl_is_metric_char_or_us((unsigned char)prefix[i])) {
            xl_set_err(err, err_cap, "%s: '%s' has '%c'; a prefix is made of [A-Za-z0-9_:]", key,
                       prefix, prefix[i]);
            return -1;
        }
    }
    return 0;
}

static int cmp_spec(const void *a, const void *b)
{
    unsigned long x = ((const struct rule_spec *)a)->number, y = ((const struct rule_spec *)b)->number;
    return (x > y) - (x < y);
}

/* Builds rule r from its spec.  r starts zeroed; on failure it holds what
 * was made so far, for fini(). */
static int compile_rule(const struct rules_state *st, const struct rule_spec *sp,
                        uint32_t host_minor, struct rule *r, char *err, size_t err_cap)
{
    char key[N_FIELDS][48];
    for (int f = 0; f < N_FIELDS; f++)
        snprintf(key[f], sizeof key[f], "rule.%lu.%s", sp->number, field_names[f]);
    const char *const *v = sp->field;
    r->number = sp->number;

    if (!v[F_MATCH] || !*v[F_MATCH]) {
        xl_set_err(err, err_cap, "%s: %s (every rule needs a pattern)", key[F_MATCH],
                   v[F_MATCH] ? "empty" : "missing");
        return -1;
    }
    bool regex = false;
    if (v[F_MATCH_TYPE] && strcmp(v[F_MATCH_TYPE], "regex") == 0)
        regex = true;
    else if (v[F_MATCH_TYPE] && strcmp(v[F_MATCH_TYPE], "glob") != 0) {
        xl_set_err(err, err_cap, "%s: unknown '%s' (valid: glob, regex)", key[F_MATCH_TYPE],
                   v[F_MATCH_TYPE]);
        return -1;
    }
    if (v[F_ACTION] && strcmp(v[F_ACTION], "drop") == 0)
        r->drop = true;
    else if (v[F_ACTION] && strcmp(v[F_ACTION], "keep") != 0) {
        xl_set_err(err, err_cap, "%s: unknown '%s' (valid: keep, drop)", key[F_ACTION],
                   v[F_ACTION]);
        return -1;
    }
    for (int f = F_RENAME; r->drop && f < N_FIELDS; f++) {
        if (v[f]) {
            xl_set_err(err, err_cap, "%s: rule %lu drops the metric, so it cannot also set %s",
                       key[f], sp->number, field_names[f]);
            return -1;
        }
    }

    char *ere = regex ? NULL : glob_to_ere(key[F_MATCH], v[F_MATCH], err, err_cap);
    if (!regex && !ere)
        return -1;
    int rc = regcomp(&r->re, regex ? v[F_MATCH] : ere, REG_EXTENDED);
    free(ere);
    if (rc != 0) {
        char why[256];
        regerror(rc, &r->re, why, sizeof why);
        xl_set_err(err, err_cap, "%s: bad %s '%s': %s", key[F_MATCH], regex ? "regex" : "glob",
                   v[F_MATCH], why);
        return -1;
    }
    r->compiled = true;

    if (v[F_RENAME]) {
        if (!*v[F_RENAME]) {
            xl_set_err(err, err_cap, "%s: empty name", key[F_RENAME]);
            return -1;
        }
        if (check_template(key[F_RENAME], v[F_RENAME], r->re.re_nsub, err, err_cap) != 0)
            return -1;
        r->rename = strdup(v[F_RENAME]);
        if (!r->rename)
            goto oom;
    }
    if (v[F_PREFIX]) {
        if (check_prefix(key[F_PREFIX], v[F_PREFIX], st->base->strategy, err, err_cap) != 0)
            return -1;
        /* namespace, then the rule's prefix: <namespace>_<prefix>_<name>. */
        size_t pl = strlen(v[F_PREFIX]), nl = st->base->ns_len;
        r->ns = malloc(nl + 1 + pl + 1);
        if (!r->ns)
            goto oom;
        memcpy(r->ns, st->base->ns, nl);
        if (nl > 0)
            r->ns[nl++] = '_';
        memcpy(r->ns + nl, v[F_PREFIX], pl + 1);
        r->prefixed = *st->base; /* shares the base's lists: never freed through here */
        r->prefixed.ns = r->ns;
        r->prefixed.ns_len = nl + pl;
    }
    if (v[F_DROP_LABELS] || v[F_RENAME_LABELS]) {
        int f = v[F_DROP_LABELS] ? F_DROP_LABELS : F_RENAME_LABELS;
        if (host_minor < 1) {
            xl_set_err(err, err_cap,
                       "%s: per-rule label rules need a broker with plugin ABI 1.1 "
                       "(metric_label_name); this one has 1.%u: use the global %s instead",
                       key[f], (unsigned)host_minor, field_names[f]);
            return -1;
        }
        if (parse_label_ops(key[F_DROP_LABELS], v[F_DROP_LABELS] ? v[F_DROP_LABELS] : "",
                            key[F_RENAME_LABELS], v[F_RENAME_LABELS] ? v[F_RENAME_LABELS] : "",
                            &r->labels, err, err_cap) != 0)
            return -1;
    }
    return 0;
oom:
    xl_set_err(err, err_cap, "rule.%lu: out of memory", sp->number);
    return -1;
}

static int init(const struct ob_host *host, void **out_state, char *err, size_t err_cap)
{
    size_t n_config = host ? host->n_config : 0;
    struct rules_state *st = calloc(1, sizeof *st);
    struct rule_spec *specs = calloc(n_config + 1, sizeof *specs);
    struct ob_kv *base_kv = calloc(n_config + 1, sizeof *base_kv);
    size_t n_specs = 0, n_base_kv = 0;
    const char *base = "underscore_escaping_with_suffixes", *drop = "", *rename = "";
    if (!st || !specs || !base_kv) {
        xl_set_err(err, err_cap, "out of memory");
        goto fail;
    }

    for (size_t i = 0; i < n_config; i++) {
        const char *k = host->config[i].key, *v = host->config[i].value;
        if (!k || !v) {
            xl_set_err(err, err_cap, "config entry %zu has no key or value", i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(host->config[j].key, k) == 0) {
                xl_set_err(err, err_cap, "%s: given twice", k);
                goto fail;
            }
        }
        if (strcmp(k, "base") == 0) {
            base = v;
        } else if (strcmp(k, "drop_labels") == 0) {
            drop = v;
        } else if (strcmp(k, "rename_labels") == 0) {
            rename = v;
        } else if (strncmp(k, "rule.", 5) == 0) {
            unsigned long number;
            enum field f;
            if (parse_rule_key(k, &number, &f, err, err_cap) != 0)
                goto fail;
            size_t s = 0;
            while (s < n_specs && specs[s].number != number)
                s++;
            if (s == n_specs)
                specs[n_specs++].number = number;
            specs[s].field[f] = v;
        } else if (xl_is_key(k)) {
            base_kv[n_base_kv++] = host->config[i];
        } else {
            char valid[600];
            size_t off = (size_t)snprintf(valid, sizeof valid,
                                          "base, drop_labels, rename_labels, rule.<N>.<field>");
            for (size_t j = 0; xl_key(j) && off < sizeof valid; j++)
                off += (size_t)snprintf(valid + off, sizeof valid - off, ", %s", xl_key(j));
            xl_set_err(err, err_cap, "unknown key '%s' (valid: %s)", k, valid);
            goto fail;
        }
    }

    unsigned strategy;
    if (!xl_strategy_by_name(base, &strategy)) {
        xl_set_err(err, err_cap,
                   "base: unknown strategy '%s' (valid: underscore_escaping_with_suffixes, "
                   "underscore_escaping_without_suffixes, no_utf8_escaping_with_suffixes, "
                   "no_translation)",
                   base);
        goto fail;
    }
    /* The base strategy reads its own keys from a host table of its own. */
    struct ob_host sub = {0};
    if (host)
        sub = *host;
    sub.config = base_kv;
    sub.n_config = n_base_kv;
    void *base_state = NULL;
    if (xl_init(&sub, strategy, &base_state, err, err_cap) != 0)
        goto fail;
    st->base = base_state;
    if (parse_label_ops("drop_labels", drop, "rename_labels", rename, &st->labels, err,
                        err_cap) != 0)
        goto fail;

    qsort(specs, n_specs, sizeof *specs, cmp_spec);
    st->rules = calloc(n_specs + 1, sizeof *st->rules);
    if (!st->rules) {
        xl_set_err(err, err_cap, "out of memory");
        goto fail;
    }
    uint32_t host_minor = host ? host->abi_minor : 0;
    for (size_t i = 0; i < n_specs; i++) {
        st->n_rules = i + 1; /* fini() frees a half-built rule too */
        if (compile_rule(st, &specs[i], host_minor, &st->rules[i], err, err_cap) != 0)
            goto fail;
        st->rule_labels |= st->rules[i].labels.n > 0;
    }
    if (host && host->log)
        host->log(host, OB_PLOG_INFO, "%zu rule%s over base %s", st->n_rules,
                  st->n_rules == 1 ? "" : "s", base);
    free(specs);
    free(base_kv);
    *out_state = st;
    return 0;
fail:
    free(specs);
    free(base_kv);
    fini(st);
    return -1;
}

static const struct ob_translator descriptor = {
    .hdr = OB_TRANSLATOR_HEADER,
    .name = "rules",
    .version = OB_VERSION,
    .init = init,
    .fini = fini,
    .family_name = family_name,
    .label_name = label_name,
    .resource = resource,
    .unit_name = xl_unit_name,
    .metric_label_name = metric_label_name,
};

OB_TRANSLATOR_EXPORT const struct ob_translator *ob_translator_v1(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor)
{
    /* A 1.0 host copies only the 1.0 part of the descriptor; init() refuses
     * per-rule label rules there (host->abi_minor), which it cannot honour. */
    (void)host_abi_minor;
    return host_abi_major == OB_ABI_MAJOR ? &descriptor : NULL;
}
