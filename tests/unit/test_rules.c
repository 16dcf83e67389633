/* test_rules.c: the rules plugin (suite rules) and the plugin author's guide
 * example, plugins/minimal_example.c (suite example_plugin).
 *
 * Both load the real build/plugins/<name>.so through ob_translator_load, as the
 * broker does; OB_BUILD names the build directory (default "build").  The
 * INI fixtures tests/data/rules*.ini go through ob_config_load first, so
 * iniparser's handling (lower-cased keys, quotes, comments) is covered. */
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_translator_host.h"

/* ---- helpers --------------------------------------------------------------- */

static const char *build_dir(void)
{
    const char *b = getenv("OB_BUILD");
    return b && *b ? b : "build";
}

static const char *plugin_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/plugins/%s.so", build_dir(), name);
    ck_assert_msg(access(p, R_OK) == 0, "%s missing: build the plugins first", p);
    return p;
}

/* Loads plugin with config lines "key=value" (split at the first '=');
 * returns the load's return code, *out set on success. */
static int try_load(const char *plugin, const char *const *lines, struct ob_translator_inst **out,
                    char err[OB_ERR_LEN])
{
    struct ob_kv kv[32];
    char store[32][256];
    size_t n = 0;
    for (; lines && lines[n]; n++) {
        ck_assert_uint_lt(n, 32);
        snprintf(store[n], sizeof store[n], "%s", lines[n]);
        char *eq = strchr(store[n], '=');
        ck_assert_msg(eq != NULL, "bad test line %s", lines[n]);
        *eq = '\0';
        kv[n] = (struct ob_kv){store[n], eq + 1};
    }
    *out = NULL;
    return ob_translator_load(plugin_path(plugin), NULL, kv, n, out, err);
}

static struct ob_translator_inst *load(const char *plugin, const char *const *lines)
{
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x;
    int rc = try_load(plugin, lines, &x, err);
    ck_assert_msg(rc == 0, "load %s: %s", plugin, err);
    return x;
}

static struct ob_metric_view metric(const char *name, const char *unit, enum ob_metric_type type)
{
    struct ob_metric_view m = {{name, strlen(name)}, {unit, strlen(unit)}, {"", 0}, type,
                               OB_TEMPORALITY_UNSPECIFIED};
    if (type != OB_METRIC_GAUGE && type != OB_METRIC_SUMMARY)
        m.temporality = OB_TEMPORALITY_CUMULATIVE;
    return m;
}

/* The snprintf contract on every call: a first call with a tiny buffer
 * must not write past it and must ask for the same length. */
#define GUARD 0x5a
static long call_checked(long (*fn)(void *, const void *, char *, size_t), void *x,
                         const void *arg, char *out, size_t out_cap)
{
    char small[4] = {GUARD, GUARD, GUARD, GUARD};
    long need = fn(x, arg, small, 2);
    ck_assert_int_eq(small[2], GUARD);
    ck_assert_int_eq(small[3], GUARD);
    char *buf = malloc(out_cap + 1);
    ck_assert_ptr_nonnull(buf);
    memset(buf, GUARD, out_cap + 1);
    long n = fn(x, arg, buf, out_cap);
    ck_assert_int_eq(n, need);
    if (n >= 0) {
        ck_assert_uint_lt((size_t)n, out_cap);
        ck_assert_int_eq(buf[n], GUARD); /* nothing past the answer */
        memcpy(out, buf, (size_t)n);
        out[n] = '\0';
    } else {
        out[0] = '\0';
    }
    free(buf);
    return n;
}

static long fam_thunk(void *x, const void *m, char *buf, size_t cap)
{
    const struct ob_translator_inst *xl = x;
    return xl->desc.family_name(xl->state, m, buf, cap);
}

struct label_arg {
    const struct ob_metric_view *m; /* NULL: label_name */
    const char *key;
};

static long label_thunk(void *x, const void *arg, char *buf, size_t cap)
{
    const struct ob_translator_inst *xl = x;
    const struct label_arg *a = arg;
    if (a->m)
        return xl->desc.metric_label_name(xl->state, a->m, a->key, strlen(a->key), buf, cap);
    return xl->desc.label_name(xl->state, a->key, strlen(a->key), buf, cap);
}

/* Family name of (name, unit, type) as a string, or "<drop>". */
static const char *fam(const struct ob_translator_inst *x, const char *name, const char *unit,
                       enum ob_metric_type type)
{
    static char out[4][2048];
    static int next;
    char *o = out[next++ % 4];
    struct ob_metric_view m = metric(name, unit, type);
    if (call_checked(fam_thunk, (void *)x, &m, o, sizeof out[0]) < 0)
        return "<drop>";
    return o;
}

static const char *lab(const struct ob_translator_inst *x, const char *key)
{
    static char out[4][512];
    static int next;
    char *o = out[next++ % 4];
    struct label_arg a = {NULL, key};
    if (call_checked(label_thunk, (void *)x, &a, o, sizeof out[0]) < 0)
        return "<drop>";
    return o;
}

/* Label name of key on a series of metric name (unit-less gauge). */
static const char *mlab(const struct ob_translator_inst *x, const char *name, const char *key)
{
    static char out[4][512];
    static int next;
    char *o = out[next++ % 4];
    struct ob_metric_view m = metric(name, "", OB_METRIC_GAUGE);
    struct label_arg a = {&m, key};
    ck_assert_ptr_nonnull(x->desc.metric_label_name);
    if (call_checked(label_thunk, (void *)x, &a, o, sizeof out[0]) < 0)
        return "<drop>";
    return o;
}

#define FAM_EQ(x, name, unit, type, want) ck_assert_str_eq(fam(x, name, unit, type), want)

/* ---- rules: matching and renaming ------------------------------------------ */

START_TEST(glob_parts_and_any)
{
    static const char *const cfg[] = {
        "rule.1.match=http.server.*",
        "rule.1.rename=web.$1",
        "rule.2.match=db.**",
        "rule.2.rename=storage.$1",
        "rule.3.match=*.*.queue*",
        "rule.3.rename=q.$1.$2.$3",
        "rule.4.match=a+b(c)[d]{1}|^$\\?",
        "rule.4.rename=literal",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    /* '*' is one dot-separated part, possibly empty. */
    FAM_EQ(x, "http.server.duration", "ms", OB_METRIC_HISTOGRAM, "web_duration_milliseconds");
    FAM_EQ(x, "http.server.", "", OB_METRIC_GAUGE, "web");
    FAM_EQ(x, "http.server.request.duration", "ms", OB_METRIC_HISTOGRAM,
           "http_server_request_duration_milliseconds");
    FAM_EQ(x, "xhttp.server.a", "", OB_METRIC_GAUGE, "xhttp_server_a");
    /* '**' crosses dots. */
    FAM_EQ(x, "db.client.connections.usage", "", OB_METRIC_GAUGE,
           "storage_client_connections_usage");
    FAM_EQ(x, "db", "", OB_METRIC_GAUGE, "db");
    /* Several wildcards, each a capture. */
    FAM_EQ(x, "a.b.queue_depth", "", OB_METRIC_GAUGE, "q_a_b_depth");
    FAM_EQ(x, "a.b.c.queue", "", OB_METRIC_GAUGE, "a_b_c_queue");
    /* Regex metacharacters in a glob are literal. */
    FAM_EQ(x, "a+b(c)[d]{1}|^$\\?", "", OB_METRIC_GAUGE, "literal");
    FAM_EQ(x, "aab(c)[d]{1}|^$\\?", "", OB_METRIC_GAUGE, "aab_c_d_1");
    ob_translator_unref(x);
}
END_TEST

START_TEST(regex_captures_and_anchoring)
{
    static const char *const cfg[] = {
        "rule.1.match_type=regex",
        "rule.1.match=db\\.([a-z]+)\\.(calls|errors)",
        "rule.1.rename=$2.of.$1",
        "rule.2.match_type=regex",
        "rule.2.match=a|ab",
        "rule.2.rename=alt.$0",
        "rule.3.match_type=regex",
        "rule.3.match=(x)?y\\.(.*)",
        "rule.3.rename=opt$1.$2",
        "rule.4.match_type=regex",
        "rule.4.match=mid",
        "rule.4.rename=never",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    FAM_EQ(x, "db.redis.calls", "1", OB_METRIC_COUNTER, "calls_of_redis_total");
    FAM_EQ(x, "db.Redis.calls", "", OB_METRIC_COUNTER, "db_Redis_calls_total"); /* case matters */
    /* The whole name must match: POSIX leftmost-longest, so a|ab takes "ab". */
    FAM_EQ(x, "ab", "", OB_METRIC_GAUGE, "alt_ab");
    FAM_EQ(x, "a", "", OB_METRIC_GAUGE, "alt_a");
    FAM_EQ(x, "abc", "", OB_METRIC_GAUGE, "abc");
    FAM_EQ(x, "in.mid.dle", "", OB_METRIC_GAUGE, "in_mid_dle");
    FAM_EQ(x, "mid.x", "", OB_METRIC_GAUGE, "mid_x");
    /* An unmatched optional group expands to nothing. */
    FAM_EQ(x, "y.z", "", OB_METRIC_GAUGE, "opt_z");
    FAM_EQ(x, "xy.z", "", OB_METRIC_GAUGE, "optx_z");
    ob_translator_unref(x);
}
END_TEST

START_TEST(rename_then_base)
{
    static const char *const cfg[] = {
        "rule.1.match=http.server.duration", "rule.1.rename=web.latency",
        "rule.2.match=jobs.done",            "rule.2.rename=jobs.finished.total",
        "rule.3.match=cpu.*",                "rule.3.rename=$1",
        "rule.4.match=money",                "rule.4.rename=cost$$",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    /* Units, _total and escaping follow the base on the new name. */
    FAM_EQ(x, "http.server.duration", "ms", OB_METRIC_HISTOGRAM, "web_latency_milliseconds");
    FAM_EQ(x, "jobs.done", "1", OB_METRIC_COUNTER, "jobs_finished_total");
    FAM_EQ(x, "cpu.1m", "1", OB_METRIC_GAUGE, "_1m_ratio"); /* leading digit rule */
    FAM_EQ(x, "cpu.", "", OB_METRIC_GAUGE, "<drop>");       /* empty after rename */
    FAM_EQ(x, "money", "", OB_METRIC_GAUGE, "cost");        /* '$' escaped, trailing junk gone */
    /* UNIT metadata comes from the metric's unit, not the name. */
    struct ob_metric_view m = metric("http.server.duration", "ms", OB_METRIC_HISTOGRAM);
    char buf[64];
    ck_assert_int_eq(x->desc.unit_name(x->state, &m, buf, sizeof buf), 12);
    ck_assert_int_eq(memcmp(buf, "milliseconds", 12), 0);
    ob_translator_unref(x);

    static const char *const raw[] = {
        "base=no_translation", "rule.1.match=money", "rule.1.rename=cost$$ in €", NULL,
    };
    x = load("rules", raw);
    FAM_EQ(x, "money", "", OB_METRIC_GAUGE, "cost$ in €");
    ob_translator_unref(x);
}
END_TEST

START_TEST(prefix_like_namespace)
{
    static const char *const cfg[] = {
        "rule.1.match=calc.*", "rule.1.prefix=myapp", "rule.2.match=web.*",
        "rule.2.prefix=1st",   "rule.2.rename=$1",    NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    FAM_EQ(x, "calc.operation", "1", OB_METRIC_COUNTER, "myapp_calc_operation_total");
    /* docs/otlp-to-prometheus.md §3.5: the digit rule applies after the prefix. */
    FAM_EQ(x, "web.hits", "", OB_METRIC_GAUGE, "_1st_hits");
    FAM_EQ(x, "other", "", OB_METRIC_GAUGE, "other");
    ob_translator_unref(x);

    /* With a namespace: <namespace>_<prefix>_<name>; the others get the namespace. */
    static const char *const ns[] = {
        "namespace=corp", "rule.1.match=calc.*", "rule.1.prefix=myapp", NULL,
    };
    x = load("rules", ns);
    FAM_EQ(x, "calc.operation", "1", OB_METRIC_COUNTER, "corp_myapp_calc_operation_total");
    FAM_EQ(x, "other", "s", OB_METRIC_GAUGE, "corp_other_seconds");
    ob_translator_unref(x);

    /* Under the other bases the prefix behaves as their namespace does. */
    static const char *const plain[] = {
        "base=underscore_escaping_without_suffixes", "rule.1.match=**", "rule.1.prefix=p:x_", NULL,
    };
    x = load("rules", plain);
    FAM_EQ(x, "a.b", "s", OB_METRIC_COUNTER, "p:x__a_b");
    ob_translator_unref(x);
    static const char *const utf8[] = {
        "base=no_utf8_escaping_with_suffixes", "rule.1.match=**", "rule.1.prefix=mön", NULL,
    };
    x = load("rules", utf8);
    FAM_EQ(x, "a.b", "s", OB_METRIC_COUNTER, "mön_a.b_seconds_total");
    ob_translator_unref(x);
}
END_TEST

START_TEST(drop_keep_and_first_match)
{
    /* Listed out of order: numbers decide, and gaps are fine. */
    static const char *const cfg[] = {
        "rule.900.match=**",
        "rule.900.action=drop",
        "rule.20.match=app.*.count",
        "rule.20.rename=second",
        "rule.7.match=app.**",
        "rule.7.rename=first.$1",
        "rule.3.match=app.keep",
        "rule.3.action=keep",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    FAM_EQ(x, "app.keep", "", OB_METRIC_GAUGE, "app_keep"); /* an exception before drop-all */
    FAM_EQ(x, "app.x.count", "", OB_METRIC_GAUGE, "first_x_count");
    FAM_EQ(x, "other", "", OB_METRIC_GAUGE, "<drop>");
    FAM_EQ(x, "", "", OB_METRIC_GAUGE, "<drop>");
    ob_translator_unref(x);
}
END_TEST

/* Names longer than the stack buffers take the heap path. */
START_TEST(long_names)
{
    static const char *const cfg[] = {"rule.1.match=long.*", "rule.1.rename=$1.$1", NULL};
    struct ob_translator_inst *x = load("rules", cfg);
    char name[700], want[1400];
    memcpy(name, "long.", 5);
    memset(name + 5, 'z', 600);
    name[605] = '\0';
    memset(want, 'z', 600);
    want[600] = '_';
    memset(want + 601, 'z', 600);
    strcpy(want + 1201, "_seconds");
    FAM_EQ(x, name, "s", OB_METRIC_GAUGE, want);
    ob_translator_unref(x);
}
END_TEST

/* ---- rules: unmatched names equal the base plugin alone ---------------------- */

struct name_case {
    const char *name, *unit;
    enum ob_metric_type type;
};

static const struct name_case name_table[] = {
    {"http.server.duration", "ms", OB_METRIC_HISTOGRAM},
    {"http.server.active_requests", "{request}", OB_METRIC_UPDOWNCOUNTER},
    {"system.cpu.utilization", "1", OB_METRIC_GAUGE},
    {"requests_total", "1", OB_METRIC_COUNTER},
    {"foo.bytes.count", "By", OB_METRIC_COUNTER},
    {"requests_per_second", "1/s", OB_METRIC_GAUGE},
    {"x", "foo$", OB_METRIC_GAUGE},
    {"1st.metric", "s", OB_METRIC_SUMMARY},
    {":foo::bar", "", OB_METRIC_GAUGE},
    {"envoy__rule", "", OB_METRIC_GAUGE},
    {"metric_with_字符_x", "KiBy/min", OB_METRIC_HISTOGRAM},
    {"@#$%", "", OB_METRIC_GAUGE},
    {"___", "", OB_METRIC_GAUGE},
    {"", "", OB_METRIC_GAUGE},
    {"some.delta.total", "", OB_METRIC_UPDOWNCOUNTER},
    {"test.histogram", "By", OB_METRIC_HISTOGRAM},
    {"bad\xff utf8", "", OB_METRIC_GAUGE},
};

static const char *const label_table[] = {
    "http.method", "_private", "label___multi", "__reserved__", "123label", ".foo",
    "ようこそ",   "__",       "",              "service.name", "a-b-c",    "bad\xff",
};

static const char *const bases[] = {
    "underscore_escaping_with_suffixes",
    "underscore_escaping_without_suffixes",
    "no_utf8_escaping_with_suffixes",
    "no_translation",
};

START_TEST(unmatched_equals_base)
{
    const char *base = bases[_i];
    char base_kv[128];
    snprintf(base_kv, sizeof base_kv, "base=%s", base);
    /* Rules that match none of the table's names, and base settings. */
    const char *const cfg[] = {
        base_kv,
        "namespace=ns",
        "label_name_underscore_sanitization=false",
        "promote_resource_attributes=k8s.pod.name",
        "rule.1.match=nothing.matches.*",
        "rule.1.action=drop",
        "rule.2.match_type=regex",
        "rule.2.match=zz.*",
        "rule.2.rename=x",
        NULL,
    };
    const char *const base_cfg[] = {cfg[1], cfg[2], cfg[3], NULL};
    struct ob_translator_inst *r = load("rules", cfg), *b = load(base, base_cfg);
    for (size_t i = 0; i < sizeof name_table / sizeof name_table[0]; i++) {
        const struct name_case *c = &name_table[i];
        for (int t = 0; t <= OB_METRIC_SUMMARY; t++) {
            const char *got = fam(r, c->name, c->unit, (enum ob_metric_type)t);
            const char *want = fam(b, c->name, c->unit, (enum ob_metric_type)t);
            ck_assert_msg(strcmp(got, want) == 0, "%s: '%s' %s type %d: rules '%s', base '%s'",
                          base, c->name, c->unit, t, got, want);
        }
    }
    for (size_t i = 0; i < sizeof label_table / sizeof label_table[0]; i++) {
        ck_assert_str_eq(lab(r, label_table[i]), lab(b, label_table[i]));
        ck_assert_str_eq(mlab(r, "any.metric", label_table[i]), lab(b, label_table[i]));
    }
    /* Resources: same decisions as the base. */
    struct ob_attr attrs[] = {
        {{"service.name", 12}, {"calc", 4}},
        {{"service.instance.id", 19}, {"i-1", 3}},
        {{"k8s.pod.name", 12}, {"pod", 3}},
        {{"host.name", 9}, {"h", 1}},
    };
    struct ob_resource_view view = {attrs, 4};
    char job[2][64], inst[2][64];
    uint8_t roles[2][4] = {{0}};
    struct ob_translator_inst *xs[2] = {r, b};
    struct ob_resource_out out[2];
    for (int k = 0; k < 2; k++) {
        out[k] = (struct ob_resource_out){.job = job[k], .job_cap = 64, .instance = inst[k],
                                          .instance_cap = 64, .attr_roles = roles[k]};
        ck_assert_int_eq(xs[k]->desc.resource(xs[k]->state, &view, &out[k]), 0);
    }
    ck_assert_uint_eq(out[0].job_len, 4);
    ck_assert_int_eq(memcmp(job[0], "calc", 4), 0);
    ck_assert_int_eq(out[0].has_job, out[1].has_job);
    ck_assert_int_eq(out[0].has_instance, out[1].has_instance);
    ck_assert_uint_eq(out[0].instance_len, out[1].instance_len);
    ck_assert_int_eq(out[0].target_info, out[1].target_info);
    ck_assert_int_eq(memcmp(roles[0], roles[1], 4), 0);
    ck_assert_uint_eq(roles[0][2], OB_RES_PROMOTE | OB_RES_TARGET_INFO);
    ob_translator_unref(r);
    ob_translator_unref(b);
}
END_TEST

/* ---- rules: attributes --------------------------------------------------------- */

START_TEST(global_label_rules)
{
    static const char *const cfg[] = {
        "drop_labels=telemetry.sdk.version, k8s.pod.uid",
        "rename_labels=http.status_code : status, net.peer.name:peer.name, x:__",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    ck_assert_str_eq(lab(x, "telemetry.sdk.version"), "<drop>");
    ck_assert_str_eq(lab(x, "k8s.pod.uid"), "<drop>");
    ck_assert_str_eq(lab(x, "http.status_code"), "status");
    ck_assert_str_eq(lab(x, "net.peer.name"), "peer_name"); /* new key escaped by the base */
    ck_assert_str_eq(lab(x, "x"), "<drop>");                /* renamed to something unusable */
    ck_assert_str_eq(lab(x, "http.method"), "http_method");
    ck_assert_str_eq(lab(x, "k8s.pod.uid2"), "k8s_pod_uid2"); /* exact keys only */
    /* The same on every metric's series. */
    ck_assert_str_eq(mlab(x, "calc.operation", "k8s.pod.uid"), "<drop>");
    ck_assert_str_eq(mlab(x, "calc.operation", "http.status_code"), "status");
    ob_translator_unref(x);
}
END_TEST

START_TEST(rule_label_rules)
{
    static const char *const cfg[] = {
        "drop_labels=http.route",
        "rename_labels=http.method:verb",
        "rule.1.match=http.server.*",
        "rule.1.drop_labels=http.scheme",
        "rule.1.rename_labels=http.route:route, http.status_code:code",
        "rule.2.match=http.client.*",
        "rule.2.rename=out.$1",
        "rule.3.match=db.*",
        "rule.3.rename_labels=http.method:op",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    /* A key the rule names is decided by the rule, even against the globals. */
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.scheme"), "<drop>");
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.route"), "route");
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.status_code"), "code");
    /* Other keys fall to the global rules, then the base. */
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.method"), "verb");
    ck_assert_str_eq(mlab(x, "http.server.duration", "server.address"), "server_address");
    ck_assert_str_eq(mlab(x, "db.calls", "http.method"), "op");
    /* A matching rule without label rules, and no rule at all: globals only. */
    ck_assert_str_eq(mlab(x, "http.client.duration", "http.scheme"), "http_scheme");
    ck_assert_str_eq(mlab(x, "http.client.duration", "http.route"), "<drop>");
    ck_assert_str_eq(mlab(x, "other", "http.status_code"), "http_status_code");
    /* Without a metric (resource attributes) only the globals apply. */
    ck_assert_str_eq(lab(x, "http.scheme"), "http_scheme");
    ck_assert_str_eq(lab(x, "http.route"), "<drop>");
    ck_assert_str_eq(lab(x, "http.method"), "verb");
    ob_translator_unref(x);
}
END_TEST

/* A broker of ABI 1.0 cannot call metric_label_name: init refuses rule
 * label rules there instead of silently ignoring them. */
START_TEST(rule_labels_need_abi_1_1)
{
    void *h = dlopen(plugin_path("rules"), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "%s", dlerror());
    ob_translator_entry_fn fn;
    *(void **)&fn = dlsym(h, OB_TRANSLATOR_ENTRY);
    ck_assert_ptr_nonnull(fn);
    ck_assert_ptr_null(fn(OB_ABI_MAJOR + 1, 0));
    const struct ob_translator *d = fn(OB_ABI_MAJOR, 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->hdr.abi_minor, 1);
    ck_assert_uint_eq(d->hdr.size, sizeof(struct ob_translator));
    ck_assert_uint_ge(d->hdr.size, OB_TRANSLATOR_V1_1_SIZE);
    ck_assert_ptr_nonnull(d->metric_label_name);

    struct ob_kv kv[] = {{"rule.1.match", "a.*"}, {"rule.1.drop_labels", "x"}};
    struct ob_host host = {OB_HOST_MAGIC, OB_ABI_MAJOR, 0, sizeof host, NULL, kv, 2, NULL};
    char err[256] = "";
    void *state = NULL;
    ck_assert_int_ne(d->init(&host, &state, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "rule.1.drop_labels") && strstr(err, "ABI 1.1") &&
                      strstr(err, "this one has 1.0"),
                  "%s", err);
    /* Global label rules work on any host. */
    struct ob_kv kv2[] = {{"rule.1.match", "a.*"}, {"drop_labels", "x"}};
    host.config = kv2;
    ck_assert_int_eq(d->init(&host, &state, err, sizeof err), 0);
    char buf[16];
    ck_assert_int_lt(d->label_name(state, "x", 1, buf, sizeof buf), 0);
    d->fini(state);
    /* And so do per-rule ones on a 1.1 host. */
    host.abi_minor = 1;
    host.config = kv;
    ck_assert_int_eq(d->init(&host, &state, err, sizeof err), 0);
    struct ob_metric_view m = metric("a.b", "", OB_METRIC_GAUGE);
    ck_assert_int_lt(d->metric_label_name(state, &m, "x", 1, buf, sizeof buf), 0);
    d->fini(state);
    dlclose(h);
}
END_TEST

/* ---- rules: config errors --------------------------------------------------------- */

struct cfg_error {
    const char *lines[4];
    const char *needles[3];
};

static const struct cfg_error cfg_errors[] = {
    {{"foo=1"}, {"unknown key 'foo'", "rule.<N>.<field>", "namespace"}},
    {{"base=prometheus"}, {"base: unknown strategy 'prometheus'", "no_translation"}},
    {{"rule.1.mtch=a"}, {"rule.1.mtch: unknown rule field 'mtch'", "match_type"}},
    {{"rule.01.match=a"}, {"rule.01.match:", "no leading zeros"}},
    {{"rule.0.match=a"}, {"rule.0.match:", "rule.<N>.<field>"}},
    {{"rule.x.match=a"}, {"rule.x.match:"}},
    {{"rule.1=a"}, {"rule.1:"}},
    {{"rule.1000000000.match=a"}, {"rule.1000000000.match:"}},
    {{"rule.3.action=drop"}, {"rule.3.match: missing"}},
    {{"rule.3.match="}, {"rule.3.match: empty"}},
    {{"rule.2.match=a", "rule.2.match_type=re"}, {"rule.2.match_type: unknown 're'", "glob, regex"}},
    {{"rule.2.match=a", "rule.2.action=delete"}, {"rule.2.action: unknown 'delete'", "keep, drop"}},
    {{"rule.2.match=a", "rule.2.action=drop", "rule.2.rename=b"}, {"rule.2.rename:", "drops"}},
    {{"rule.2.match=a", "rule.2.action=drop", "rule.2.prefix=b"}, {"rule.2.prefix:", "drops"}},
    {{"rule.2.match=a", "rule.2.action=drop", "rule.2.drop_labels=b"}, {"rule.2.drop_labels:"}},
    {{"rule.5.match=a.***"}, {"rule.5.match:", "'***'"}},
    {{"rule.5.match=a.*", "rule.5.rename=$2"}, {"rule.5.rename: $2", "1 capture group"}},
    {{"rule.5.match=a", "rule.5.rename=x$"}, {"rule.5.rename: '$' must be followed"}},
    {{"rule.5.match=a", "rule.5.rename=$a"}, {"rule.5.rename: '$' must be followed"}},
    {{"rule.5.match=a", "rule.5.rename="}, {"rule.5.rename: empty"}},
    {{"rule.5.match=a", "rule.5.prefix=my-app"}, {"rule.5.prefix:", "'-'"}},
    {{"rule.5.match=a", "rule.5.prefix="}, {"rule.5.prefix: empty"}},
    {{"rule.6.match=a", "rule.6.rename_labels=a.b"}, {"rule.6.rename_labels: 'a.b' is not old:new"}},
    {{"rule.6.match=a", "rule.6.rename_labels=a:"}, {"rule.6.rename_labels:", "both sides"}},
    {{"rule.6.match=a", "rule.6.drop_labels=a,,b"}, {"rule.6.drop_labels: empty entry"}},
    {{"rule.6.match=a", "rule.6.drop_labels=a", "rule.6.rename_labels=a:b"},
     {"rule.6.rename_labels: 'a' is already dropped or renamed"}},
    {{"rename_labels=a:b, a:c"}, {"rename_labels: 'a' is already"}},
    {{"drop_labels=a, a"}, {"drop_labels: duplicate entry 'a'"}},
    {{"target_info=maybe"}, {"target_info: bad boolean 'maybe'"}},
    {{"promote_all_resource_attributes=true", "promote_resource_attributes=a"},
     {"mutually exclusive"}},
    {{"rule.1.match=a", "rule.1.match=b"}, {"rule.1.match: given twice"}},
};

START_TEST(config_errors)
{
    const struct cfg_error *c = &cfg_errors[_i];
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x;
    int rc = try_load("rules", c->lines, &x, err);
    ck_assert_msg(rc == OB_E_PLUGIN_INIT, "%s: rc %d (%s)", c->lines[0], rc, err);
    ck_assert_ptr_null(x);
    for (int i = 0; i < 3 && c->needles[i]; i++)
        ck_assert_msg(strstr(err, c->needles[i]) != NULL, "'%s' not in '%s'", c->needles[i], err);
}
END_TEST

/* A bad regex is reported with regerror()'s own words. */
START_TEST(bad_regex_message)
{
    static const char *const pats[] = {"(a", "a{2,1}", "[z-a]", "*a"};
    char line[64];
    snprintf(line, sizeof line, "rule.4.match=%s", pats[_i]);
    const char *const cfg[] = {"rule.4.match_type=regex", line, NULL};
    regex_t re;
    int rc = regcomp(&re, pats[_i], REG_EXTENDED);
    if (rc == 0) { /* this libc accepts it: then so must the plugin */
        regfree(&re);
        ob_translator_unref(load("rules", cfg));
        return;
    }
    char why[256], want[400], err[OB_ERR_LEN];
    regerror(rc, &re, why, sizeof why);
    snprintf(want, sizeof want, "rule.4.match: bad regex '%s': %s", pats[_i], why);
    struct ob_translator_inst *x;
    ck_assert_int_eq(try_load("rules", cfg, &x, err), OB_E_PLUGIN_INIT);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' not in '%s'", want, err);
}
END_TEST

/* ---- rules: INI fixtures through the broker's config loader --------------------- */

static struct ob_translator_inst *load_ini(const char *file, char err[OB_ERR_LEN], int *out_rc)
{
    char path[256], dir[512];
    snprintf(path, sizeof path, "tests/data/%s", file);
    snprintf(dir, sizeof dir, "%s/plugins", build_dir());
    struct ob_config *cfg = NULL;
    ck_assert_msg(ob_config_load(path, NULL, 0, &cfg, err) == 0, "%s", err);
    ck_assert_str_eq(cfg->translator_plugin, "rules");
    struct ob_translator_inst *x = NULL;
    *out_rc = ob_translator_load(cfg->translator_plugin, dir, cfg->translator_kv,
                                 cfg->translator_n_kv, &x, err);
    ob_config_destroy(cfg);
    return x;
}

START_TEST(ini_fixture)
{
    char err[OB_ERR_LEN];
    int rc;
    struct ob_translator_inst *x = load_ini("rules.ini", err, &rc);
    ck_assert_msg(rc == 0, "%s", err);
    FAM_EQ(x, "http.server.duration", "ms", OB_METRIC_HISTOGRAM, "web_latency_milliseconds");
    FAM_EQ(x, "calc_operation", "1", OB_METRIC_COUNTER, "myapp_calc_operation_total");
    FAM_EQ(x, "http.server.active_requests", "{request}", OB_METRIC_UPDOWNCOUNTER, "<drop>");
    FAM_EQ(x, "jvm.gc;pause#1", "", OB_METRIC_GAUGE, "gc_pause");       /* quoted regex */
    FAM_EQ(x, "process.cpu.time", "s", OB_METRIC_COUNTER, "process_cpu_time_seconds_total");
    ck_assert_str_eq(lab(x, "telemetry.sdk.version"), "<drop>");
    ck_assert_str_eq(lab(x, "http.status_code"), "status");
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.route"), "route");
    ck_assert_str_eq(mlab(x, "calc_operation", "http.route"), "http_route");
    ob_translator_unref(x);

    x = load_ini("rules-bad.ini", err, &rc);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(rc, OB_E_PLUGIN_INIT);
    ck_assert_msg(strstr(err, "rule.2.match: bad regex"), "%s", err);
}
END_TEST

/* The README's example policy gives the names its comments promise. */
START_TEST(readme_example)
{
    char err[OB_ERR_LEN];
    int rc;
    struct ob_translator_inst *x = load_ini("rules-readme.ini", err, &rc);
    ck_assert_msg(rc == 0, "%s", err);
    FAM_EQ(x, "http.server.duration", "ms", OB_METRIC_HISTOGRAM,
           "corp_web_latency_milliseconds");
    FAM_EQ(x, "calc_operation", "", OB_METRIC_COUNTER, "corp_myapp_calc_operation_total");
    FAM_EQ(x, "db.redis.calls", "", OB_METRIC_COUNTER, "corp_db_calls_by_system_redis_total");
    FAM_EQ(x, "debug.cache.hits", "", OB_METRIC_COUNTER, "<drop>");
    FAM_EQ(x, "http.client.duration", "s", OB_METRIC_HISTOGRAM,
           "corp_http_client_duration_seconds");
    ck_assert_str_eq(lab(x, "telemetry.sdk.version"), "<drop>");
    ck_assert_str_eq(lab(x, "http.status_code"), "status");
    ck_assert_str_eq(mlab(x, "http.server.duration", "http.route"), "route");
    ck_assert_str_eq(mlab(x, "http.client.duration", "http.route"), "http_route");
    ob_translator_unref(x);
}
END_TEST

/* ---- rules: descriptor, exports, threads ------------------------------------------ */

static void assert_exports_only_entry(const char *plugin)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", plugin_path(plugin));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    int entry = 0;
    while (fgets(line, sizeof line, p)) {
        char addr[64], type[8], sym[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, sym) != 3)
            continue;
        if (!strcmp(sym, "_init") || !strcmp(sym, "_fini") || !strcmp(sym, "__bss_start") ||
            !strcmp(sym, "_edata") || !strcmp(sym, "_end"))
            continue;
        ck_assert_msg(strcmp(sym, "ob_translator_v1") == 0, "%s exports %s", plugin, sym);
        entry++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(entry, 1);
}

START_TEST(descriptor_and_exports)
{
    struct ob_translator_inst *x = load("rules", NULL);
    ck_assert_str_eq(x->desc.name, "rules");
    ck_assert_ptr_nonnull(x->desc.metric_label_name);
    ck_assert_ptr_nonnull(x->desc.unit_name);
    /* No config: the default base, no rules. */
    FAM_EQ(x, "http.server.duration", "ms", OB_METRIC_HISTOGRAM,
           "http_server_duration_milliseconds");
    ob_translator_unref(x);
    assert_exports_only_entry("rules");
}
END_TEST

struct hammer {
    const struct ob_translator_inst *x;
    int bad;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    const struct ob_translator_inst *x = h->x;
    char buf[128];
    for (int i = 0; i < 3000; i++) {
        struct ob_metric_view m = metric(i % 2 ? "http.server.duration" : "db.redis.calls",
                                         i % 2 ? "ms" : "1",
                                         i % 2 ? OB_METRIC_HISTOGRAM : OB_METRIC_COUNTER);
        const char *want = i % 2 ? "web_duration_milliseconds" : "calls_of_redis_total";
        long n = x->desc.family_name(x->state, &m, buf, sizeof buf);
        if (n != (long)strlen(want) || memcmp(buf, want, (size_t)n) != 0)
            h->bad++;
        n = x->desc.metric_label_name(x->state, &m, "http.route", 10, buf, sizeof buf);
        if (i % 2 ? n != 5 || memcmp(buf, "route", 5) : n != 10 || memcmp(buf, "http_route", 10))
            h->bad++;
    }
    return NULL;
}

START_TEST(concurrent_calls)
{
    static const char *const cfg[] = {
        "rule.1.match=http.server.*",
        "rule.1.rename=web.$1",
        "rule.1.rename_labels=http.route:route",
        "rule.2.match_type=regex",
        "rule.2.match=db\\.([a-z]+)\\.(calls|errors)",
        "rule.2.rename=$2.of.$1",
        NULL,
    };
    struct ob_translator_inst *x = load("rules", cfg);
    pthread_t t[4];
    struct hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){x, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(h[i].bad, 0);
    }
    ob_translator_unref(x);
}
END_TEST

/* ---- the author's guide example: plugins/minimal_example.c ------------------------ */

START_TEST(example_names)
{
    struct ob_translator_inst *x = load("minimal_example", NULL);
    ck_assert_str_eq(x->desc.name, "minimal_example");
    ck_assert_ptr_null(x->desc.unit_name);
    ck_assert_ptr_null(x->desc.metric_label_name);
    FAM_EQ(x, "HTTP.Server-Duration", "ms", OB_METRIC_HISTOGRAM, "http_server_duration");
    FAM_EQ(x, "requests", "1", OB_METRIC_COUNTER, "requests"); /* no suffixes */
    FAM_EQ(x, "a:b_c", "", OB_METRIC_GAUGE, "a:b_c");
    FAM_EQ(x, "1up", "", OB_METRIC_GAUGE, "_1up");
    FAM_EQ(x, "café", "", OB_METRIC_GAUGE, "caf__"); /* two bytes, two '_' */
    FAM_EQ(x, "", "", OB_METRIC_GAUGE, "<drop>");
    ck_assert_str_eq(lab(x, "http.Method"), "http_method");
    ck_assert_str_eq(lab(x, "a:b"), "a_b");
    ck_assert_str_eq(lab(x, "9lives"), "_9lives");
    ck_assert_str_eq(lab(x, "__reserved"), "<drop>");
    ck_assert_str_eq(lab(x, ""), "<drop>");
    ob_translator_unref(x);
}
END_TEST

START_TEST(example_resource)
{
    struct ob_translator_inst *x = load("minimal_example", NULL);
    struct ob_attr attrs[] = {
        {{"host.name", 9}, {"h", 1}},
        {{"service.name", 12}, {"calculator-service", 18}},
        {{"service.instance.id", 19}, {"i-1", 3}},
    };
    struct ob_resource_view view = {attrs, 3};
    char job[8], inst[8];
    uint8_t roles[3] = {0};
    /* Too small: the plugin asks for the larger length. */
    struct ob_resource_out o = {.job = job, .job_cap = 8, .instance = inst, .instance_cap = 8,
                                .attr_roles = roles};
    ck_assert_int_eq(x->desc.resource(x->state, &view, &o), 18);
    char big[32];
    o = (struct ob_resource_out){.job = big, .job_cap = 32, .instance = inst, .instance_cap = 8,
                                 .attr_roles = roles};
    ck_assert_int_eq(x->desc.resource(x->state, &view, &o), 0);
    ck_assert(o.has_job && o.has_instance && !o.target_info);
    ck_assert_uint_eq(o.job_len, 18);
    ck_assert_int_eq(memcmp(big, "calculator-service", 18), 0);
    ck_assert_uint_eq(o.instance_len, 3);
    ck_assert_int_eq(memcmp(inst, "i-1", 3), 0);
    ck_assert_int_eq(roles[0] | roles[1] | roles[2], 0);
    /* No service.name: no job. */
    view.attrs = attrs;
    view.n_attrs = 1;
    o = (struct ob_resource_out){.job = big, .job_cap = 32, .instance = inst, .instance_cap = 8,
                                 .attr_roles = roles};
    ck_assert_int_eq(x->desc.resource(x->state, &view, &o), 0);
    ck_assert(!o.has_job && !o.has_instance);
    ob_translator_unref(x);
}
END_TEST

START_TEST(example_refuses_config_and_exports_one_symbol)
{
    static const char *const cfg[] = {"namespace=x", NULL};
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x;
    ck_assert_int_eq(try_load("minimal_example", cfg, &x, err), OB_E_PLUGIN_INIT);
    ck_assert_msg(strstr(err, "unknown key 'namespace'"), "%s", err);
    assert_exports_only_entry("minimal_example");
}
END_TEST

Suite *rules_suite(void);
Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("naming");
    tcase_add_test(tc, glob_parts_and_any);
    tcase_add_test(tc, regex_captures_and_anchoring);
    tcase_add_test(tc, rename_then_base);
    tcase_add_test(tc, prefix_like_namespace);
    tcase_add_test(tc, drop_keep_and_first_match);
    tcase_add_test(tc, long_names);
    tcase_add_loop_test(tc, unmatched_equals_base, 0, (int)(sizeof bases / sizeof bases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("labels");
    tcase_add_test(tc, global_label_rules);
    tcase_add_test(tc, rule_label_rules);
    tcase_add_test(tc, rule_labels_need_abi_1_1);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_loop_test(tc, config_errors, 0, (int)(sizeof cfg_errors / sizeof cfg_errors[0]));
    tcase_add_loop_test(tc, bad_regex_message, 0, 4);
    tcase_add_test(tc, ini_fixture);
    tcase_add_test(tc, readme_example);
    suite_add_tcase(s, tc);
    tc = tcase_create("plugin");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, descriptor_and_exports);
    tcase_add_test(tc, concurrent_calls);
    suite_add_tcase(s, tc);
    return s;
}

Suite *example_plugin_suite(void);
Suite *example_plugin_suite(void)
{
    Suite *s = suite_create("example_plugin");
    TCase *tc = tcase_create("minimal_example");
    tcase_add_test(tc, example_names);
    tcase_add_test(tc, example_resource);
    tcase_add_test(tc, example_refuses_config_and_exports_one_symbol);
    suite_add_tcase(s, tc);
    return s;
}
