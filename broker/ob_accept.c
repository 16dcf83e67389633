/* ob_accept.c: exposition format negotiation (see ob_accept.h). */
#include "ob_accept.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ob_common.h"

#define MAX_CLAUSES 32
#define MAX_PARAMS 8

struct span {
    const char *p;
    size_t n;
};

struct clause {
    struct span type, subtype;
    struct span key[MAX_PARAMS], value[MAX_PARAMS];
    size_t n_params;
    double q;
};

static struct span trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct span){p, n};
}

static bool is(struct span s, const char *want)
{
    return s.n == strlen(want) && strncasecmp(s.p, want, s.n) == 0;
}

static bool is_star(struct span s)
{
    return s.n == 1 && s.p[0] == '*';
}

/* The value of parameter key, or an empty span. */
static struct span param(const struct clause *c, const char *key)
{
    for (size_t i = 0; i < c->n_params; i++)
        if (is(c->key[i], key))
            return c->value[i];
    return (struct span){"", 0};
}

/* One clause: type/subtype, then ;key=value parameters, q among them.  A
 * clause without a '/' (other than a lone *) is skipped, as goautoneg does. */
static bool parse_clause(const char *p, size_t n, struct clause *c)
{
    *c = (struct clause){.q = 1.0};
    const char *end = p + n;
    const char *semi = memchr(p, ';', n);
    struct span range = trim(p, (size_t)((semi ? semi : end) - p));
    const char *slash = memchr(range.p, '/', range.n);
    if (slash) {
        c->type = trim(range.p, (size_t)(slash - range.p));
        c->subtype = trim(slash + 1, (size_t)(range.p + range.n - slash - 1));
    } else if (is_star(range)) {
        c->type = c->subtype = range;
    } else {
        return false;
    }
    for (const char *q = semi; q && q < end;) {
        q++;
        const char *next = memchr(q, ';', (size_t)(end - q));
        const char *stop = next ? next : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq) {
            struct span k = trim(q, (size_t)(eq - q)), v = trim(eq + 1, (size_t)(stop - eq - 1));
            if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"')
                v = (struct span){v.p + 1, v.n - 2};
            if (is(k, "q")) {
                char num[32];
                size_t len = OB_MIN(v.n, sizeof num - 1);
                memcpy(num, v.p, len);
                num[len] = '\0';
                char *e;
                double d = strtod(num, &e);
                c->q = e != num && *e == '\0' ? d : 0; /* unparsable: 0, as in Go */
            } else if (c->n_params < MAX_PARAMS) {
                c->key[c->n_params] = k;
                c->value[c->n_params++] = v;
            }
        }
        q = next;
    }
    return true;
}

/* goautoneg's order, its Less() as it is: a higher q first, else a concrete
 * type before "*", else a concrete subtype before "*" (a concrete type with a
 * lower q also goes before a wildcard: Go's insertion sort, which sorts
 * short lists, moves it there, and so does this). */
static bool before(const struct clause *a, const struct clause *b)
{
    if (a->q > b->q)
        return true;
    if (!is_star(a->type) && is_star(b->type))
        return true;
    return !is_star(a->subtype) && is_star(b->subtype);
}

/* The format clause c names, or -1. */
static int format_of(const struct clause *c, bool protobuf)
{
    struct span ver = param(c, "version");
    if (protobuf && is(c->type, "application") && is(c->subtype, "vnd.google.protobuf") &&
        is(param(c, "proto"), "io.prometheus.client.MetricFamily") &&
        is(param(c, "encoding"), "delimited"))
        return OB_EXPO_PROTOBUF;
    if (is(c->type, "text") && is(c->subtype, "plain") && (ver.n == 0 || is(ver, "0.0.4")))
        return OB_EXPO_TEXT;
    if (is(c->type, "application") && is(c->subtype, "openmetrics-text")) {
        if (is(ver, "1.0.0"))
            return OB_EXPO_OPENMETRICS_1;
        if (ver.n == 0 || is(ver, "0.0.1"))
            return OB_EXPO_OPENMETRICS_0;
    }
    return -1;
}

struct ob_expo_choice ob_accept_negotiate(const char *accept, bool protobuf)
{
    struct ob_expo_choice out = {OB_EXPO_TEXT, OB_ESC_NONE_ASKED};
    if (!accept)
        return out;
    struct clause c[MAX_CLAUSES];
    size_t n = 0;
    for (const char *p = accept; *p && n < MAX_CLAUSES;) {
        size_t len = strcspn(p, ",");
        if (parse_clause(p, len, &c[n])) {
            /* insertion: after every clause it does not come before */
            size_t at = n++;
            struct clause t = c[at];
            while (at > 0 && before(&t, &c[at - 1])) {
                c[at] = c[at - 1];
                at--;
            }
            c[at] = t;
        }
        p += len + (p[len] == ',');
    }
    for (size_t i = 0; i < n; i++) {
        struct span esc = param(&c[i], "escaping");
        if (is(esc, "allow-utf-8"))
            out.escaping = OB_ESC_ALLOW_UTF8;
        else if (is(esc, "underscores") || is(esc, "dots") || is(esc, "values"))
            out.escaping = OB_ESC_UNDERSCORES;
        int f = format_of(&c[i], protobuf);
        if (f >= 0) {
            out.format = (enum ob_expo_format)f;
            return out;
        }
    }
    return out;
}

const char *ob_expo_content_type(struct ob_expo_choice c)
{
    static const char *const types[4][3] = {
        [OB_EXPO_TEXT] = {"text/plain; version=0.0.4; charset=utf-8",
                          "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
                          "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8"},
        [OB_EXPO_OPENMETRICS_1] =
            {"application/openmetrics-text; version=1.0.0; charset=utf-8",
             "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
             "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"},
        [OB_EXPO_OPENMETRICS_0] =
            {"application/openmetrics-text; version=0.0.1; charset=utf-8",
             "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores",
             "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=allow-utf-8"},
        [OB_EXPO_PROTOBUF] = {"application/vnd.google.protobuf; "
                              "proto=io.prometheus.client.MetricFamily; encoding=delimited",
                              "application/vnd.google.protobuf; "
                              "proto=io.prometheus.client.MetricFamily; encoding=delimited; "
                              "escaping=underscores",
                              "application/vnd.google.protobuf; "
                              "proto=io.prometheus.client.MetricFamily; encoding=delimited; "
                              "escaping=allow-utf-8"},
    };
    unsigned f = (unsigned)c.format < 4 ? (unsigned)c.format : 0;
    unsigned e = (unsigned)c.escaping < 3 ? (unsigned)c.escaping : 0;
    return types[f][e];
}
