/* test_config.c: the option table, INI loading, overrides, errors, dump,
 * the committed etc/otlp-broker.ini, and the comparison a reload makes
 * (which keys changed, which of them a reload applies). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_log.h"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ob_config_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/c.ini", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/dump.ini", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

/* Writes text to <tmpdir>/c.ini and returns the path (static). */
static const char *ini(const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/c.ini", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static struct ob_config *load_ok(const char *path, const char *const *ov, size_t n_ov)
{
    struct ob_config *cfg = NULL;
    char err[OB_ERR_LEN];
    int rc = ob_config_load(path, ov, n_ov, &cfg, err);
    ck_assert_msg(rc == 0, "load failed: %d %s", rc, err);
    return cfg;
}

/* Loads expecting OB_E_CONFIG; every needle must occur in the message. */
static void load_fails(const char *path, const char *const *ov, size_t n_ov, const char *needle1,
                       const char *needle2)
{
    struct ob_config *cfg = NULL;
    char err[OB_ERR_LEN] = "";
    int rc = ob_config_load(path, ov, n_ov, &cfg, err);
    ck_assert_int_eq(rc, OB_E_CONFIG);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, needle1), "'%s' not in '%s'", needle1, err);
    if (needle2)
        ck_assert_msg(strstr(err, needle2), "'%s' not in '%s'", needle2, err);
}

static char *dump_text(const struct ob_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ob_config_dump(cfg, f);
    fclose(f);
    return text;
}

/* What --print-defaults prints (etc/otlp-broker.ini). */
static char *defaults_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ob_config_write_defaults(f);
    fclose(f);
    return text;
}

static void check_defaults(const struct ob_config *c)
{
    ck_assert_int_eq(c->log_level, OB_LOG_INFO);
    ck_assert_int_eq(c->housekeeping_ms, 1000);
    ck_assert_str_eq(c->http_listen, "127.0.0.1:4318");
    ck_assert_uint_eq(c->http_threads, 0);
    ck_assert_int_eq(c->http_timeout_ms, 30000);
    ck_assert_str_eq(c->store_path, "/otlp-broker");
    ck_assert_uint_eq(c->store_max_series, 100000);
    ck_assert_uint_eq(c->store_max_families, 10000);
    ck_assert_uint_eq(c->store_samples_per_series, 8);
    ck_assert_uint_eq(c->store_heap_bytes, 0);
    ck_assert_int_eq(c->store_ooo_window_ms, 600000);
    ck_assert_int_eq(c->store_series_ttl_ms, 300000);
    ck_assert(!c->store_recreate);
    ck_assert_str_eq(c->translator_plugin, "underscore_escaping_with_suffixes");
    ck_assert_ptr_nonnull(c->translator_plugin_dir);
    ck_assert(strstr(c->translator_plugin_dir, "/otlp-broker/plugins"));
    ck_assert_uint_eq(c->translator_n_kv, 0);
    ck_assert(!c->expose_timestamps);
    ck_assert_uint_eq(c->max_body_bytes, 32u << 20);
    ck_assert_uint_eq(c->max_labels_per_series, 128);
}

START_TEST(defaults_without_file)
{
    struct ob_config *c = load_ok(NULL, NULL, 0);
    check_defaults(c);
    ck_assert_uint_eq(c->n_rw, 0);
    ck_assert_uint_eq(c->rw_log_size, 256u << 20);
    ck_assert_str_eq(c->rw_log_path, "");
    ob_config_destroy(c);
}
END_TEST

START_TEST(defaults_from_empty_file)
{
    struct ob_config *a = load_ok(NULL, NULL, 0);
    struct ob_config *b = load_ok(ini(""), NULL, 0);
    check_defaults(b);
    char *da = dump_text(a), *db = dump_text(b);
    ck_assert_str_eq(da, db);
    free(da);
    free(db);
    ob_config_destroy(a);
    ob_config_destroy(b);
    /* Sections without keys and comments are fine too. */
    b = load_ok(ini("# comment\n; other comment\n[broker]\n[store]\n"), NULL, 0);
    check_defaults(b);
    ob_config_destroy(b);
}
END_TEST

START_TEST(every_type)
{
    struct ob_config *c = load_ok(ini("[broker]\n"
                                      "Log_Level = Debug\n"
                                      "housekeeping_interval = 250ms\n"
                                      "[http]\n"
                                      "listen = [::1]:0\n"
                                      "threads = 4\n"
                                      "timeout = 2m\n"
                                      "[store]\n"
                                      "path = /tmp/x store.bin\n"
                                      "max_series = 5000\n"
                                      "heap_size = 64 MiB\n"
                                      "out_of_order_window = 0\n"
                                      "series_ttl = 1h\n"
                                      "recreate = yes\n"
                                      "[exposition]\n"
                                      "timestamps = on\n"
                                      "[limits]\n"
                                      "max_body_bytes = 4KiB\n"
                                      "max_labels_per_series = 7\n"),
                                  NULL, 0);
    ck_assert_int_eq(c->log_level, OB_LOG_DEBUG);
    ck_assert_int_eq(c->housekeeping_ms, 250);
    ck_assert_str_eq(c->http_listen, "[::1]:0");
    ck_assert_uint_eq(c->http_threads, 4);
    ck_assert_int_eq(c->http_timeout_ms, 120000);
    ck_assert_str_eq(c->store_path, "/tmp/x store.bin");
    ck_assert_uint_eq(c->store_max_series, 5000);
    ck_assert_uint_eq(c->store_heap_bytes, 64u << 20);
    ck_assert_int_eq(c->store_ooo_window_ms, 0);
    ck_assert_int_eq(c->store_series_ttl_ms, 3600000);
    ck_assert(c->store_recreate);
    ck_assert(c->expose_timestamps);
    ck_assert_uint_eq(c->max_body_bytes, 4096);
    ck_assert_uint_eq(c->max_labels_per_series, 7);
    /* Untouched keys keep their defaults. */
    ck_assert_uint_eq(c->store_samples_per_series, 8);
    ck_assert_str_eq(c->translator_plugin, "underscore_escaping_with_suffixes");
    ob_config_destroy(c);
}
END_TEST

START_TEST(bool_spellings)
{
    static const char *const t[] = {"true", "TRUE", "yes", "Yes", "on", "1"};
    static const char *const f[] = {"false", "False", "no", "NO", "off", "0"};
    char ov[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(ov, sizeof ov, "exposition.timestamps=%s", t[i]);
        const char *o = ov;
        struct ob_config *c = load_ok(NULL, &o, 1);
        ck_assert_msg(c->expose_timestamps, "%s", t[i]);
        ob_config_destroy(c);
        snprintf(ov, sizeof ov, "store.recreate=%s", f[i]);
        const char *o2[] = {"store.recreate=true", ov};
        c = load_ok(NULL, o2, 2);
        ck_assert_msg(!c->store_recreate, "%s", f[i]);
        ob_config_destroy(c);
    }
    const char *bad = "exposition.timestamps=maybe";
    load_fails(NULL, &bad, 1, "exposition.timestamps", "'maybe'");
}
END_TEST

START_TEST(overrides_beat_file)
{
    const char *path = ini("[http]\nthreads = 2\nlisten = 0.0.0.0:9000\n[store]\nmax_series = 10\n");
    const char *ov[] = {"http.threads=3", " HTTP.Listen = 127.0.0.1:0 ", "store.path=/ob-test-1",
                        "http.threads=5"};
    struct ob_config *c = load_ok(path, ov, 4);
    ck_assert_uint_eq(c->http_threads, 5); /* the last override wins */
    ck_assert_str_eq(c->http_listen, "127.0.0.1:0");
    ck_assert_str_eq(c->store_path, "/ob-test-1");
    ck_assert_uint_eq(c->store_max_series, 10); /* from the file */
    ob_config_destroy(c);

    /* Overrides without a file. */
    const char *ov2[] = {"broker.log_level=warn", "store.samples_per_series=16"};
    c = load_ok(NULL, ov2, 2);
    ck_assert_int_eq(c->log_level, OB_LOG_WARN);
    ck_assert_uint_eq(c->store_samples_per_series, 16);
    ob_config_destroy(c);

    /* A value may contain '=' and '.'. */
    const char *ov3[] = {"store.path=/tmp/a=b.c"};
    c = load_ok(NULL, ov3, 1);
    ck_assert_str_eq(c->store_path, "/tmp/a=b.c");
    ob_config_destroy(c);
}
END_TEST

START_TEST(bad_override_syntax)
{
    const char *a = "threads=3";
    load_fails(NULL, &a, 1, "'threads=3'", "section.key=value");
    const char *b = "http.threads";
    load_fails(NULL, &b, 1, "'http.threads'", "section.key=value");
    const char *c = ".threads=1";
    load_fails(NULL, &c, 1, "section.key=value", NULL);
    const char *d = "http.=1";
    load_fails(NULL, &d, 1, "section.key=value", NULL);
}
END_TEST

START_TEST(unknown_key_and_section)
{
    /* The message names the key and lists the valid keys of the section. */
    load_fails(ini("[store]\nmaxseries = 5\n"), NULL, 0, "store.maxseries", "max_series");
    load_fails(ini("[http]\nport = 5\n"), NULL, 0, "http.port", "listen threads timeout");
    load_fails(ini("[nope]\nx = 1\n"), NULL, 0, "[nope]", "broker http store");
    load_fails(ini("[nope]\n"), NULL, 0, "[nope]", NULL);
    load_fails(ini("stray = 1\n[broker]\n"), NULL, 0, "stray", "outside");
    const char *o1 = "store.maxseries=5";
    load_fails(NULL, &o1, 1, "store.maxseries", "samples_per_series");
    const char *o2 = "nope.x=1";
    load_fails(NULL, &o2, 1, "[nope]", "limits");
}
END_TEST

START_TEST(bad_values)
{
    load_fails(ini("[http]\nthreads = abc\n"), NULL, 0, "http.threads", "'abc'");
    load_fails(ini("[http]\nthreads = -1\n"), NULL, 0, "http.threads", "integer");
    load_fails(ini("[http]\nthreads = 3x\n"), NULL, 0, "http.threads", "integer");
    load_fails(ini("[store]\nheap_size = 12XB\n"), NULL, 0, "store.heap_size", "size");
    load_fails(ini("[store]\nseries_ttl = 10\n"), NULL, 0, "store.series_ttl", "duration");
    load_fails(ini("[store]\nseries_ttl = 10 minutes\n"), NULL, 0, "'10 minutes'", "duration");
    load_fails(ini("[broker]\nlog_level = loud\n"), NULL, 0, "broker.log_level",
               "error, warn, info or debug");
    load_fails(ini("[translator]\nplugin = \"\"\n"), NULL, 0, "translator.plugin", "empty");
    load_fails(ini("[store]\nmax_series = 99999999999999999999999\n"), NULL, 0,
               "store.max_series", "out of range");
    /* iniparser's own syntax errors come back as a message, not on stderr. */
    load_fails(ini("[store]\nno equals sign here\n"), NULL, 0, "syntax error", NULL);
}
END_TEST

START_TEST(range_errors)
{
    load_fails(ini("[http]\nthreads = 5000\n"), NULL, 0, "http.threads",
               "out of range: expected an integer from 0 to 1024");
    load_fails(ini("[limits]\nmax_body_bytes = 10\n"), NULL, 0, "limits.max_body_bytes",
               "from 1KiB to 1GiB");
    load_fails(ini("[broker]\nhousekeeping_interval = 1ms\n"), NULL, 0,
               "broker.housekeeping_interval", "from 10ms to 1h");
    load_fails(ini("[store]\nsamples_per_series = 0\n"), NULL, 0, "store.samples_per_series",
               "from 1 to 1024");
    const char *o = "store.series_ttl=0";
    load_fails(NULL, &o, 1, "store.series_ttl", "from 1s to 30d");
    /* The bounds themselves are accepted. */
    const char *ok[] = {"http.threads=1024", "limits.max_body_bytes=1GiB",
                        "broker.housekeeping_interval=10ms"};
    struct ob_config *c = load_ok(NULL, ok, 3);
    ck_assert_uint_eq(c->http_threads, 1024);
    ck_assert_uint_eq(c->max_body_bytes, 1u << 30);
    ob_config_destroy(c);
}
END_TEST

START_TEST(missing_file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/does-not-exist.ini", tmpdir);
    load_fails(path, NULL, 0, path, strerror(ENOENT));
}
END_TEST

static const char *kv_get(const struct ob_config *c, const char *key)
{
    for (size_t i = 0; i < c->translator_n_kv; i++)
        if (strcmp(c->translator_kv[i].key, key) == 0)
            return c->translator_kv[i].value;
    return NULL;
}

START_TEST(translator_passthrough)
{
    const char *path = ini("[translator]\n"
                           "plugin = rules\n"
                           "Base = no_translation\n"
                           "rule.1 = \"drop ^debug_\"\n"
                           "prefix = app_\n");
    const char *ov[] = {"translator.prefix=svc_", "translator.extra=1",
                        "translator.plugin_dir=/opt/ob/plugins"};
    struct ob_config *c = load_ok(path, ov, 3);
    ck_assert_str_eq(c->translator_plugin, "rules");
    ck_assert_str_eq(c->translator_plugin_dir, "/opt/ob/plugins");
    ck_assert_uint_eq(c->translator_n_kv, 4);
    /* Keys arrive lower-cased, values as written, overrides replace. */
    ck_assert_str_eq(kv_get(c, "base"), "no_translation");
    ck_assert_str_eq(kv_get(c, "rule.1"), "drop ^debug_");
    ck_assert_str_eq(kv_get(c, "prefix"), "svc_");
    ck_assert_str_eq(kv_get(c, "extra"), "1");
    ck_assert_ptr_null(kv_get(c, "plugin"));
    ob_config_destroy(c);
}
END_TEST

/* --check-config output loads back into the same configuration. */
START_TEST(dump_round_trip)
{
    const char *ov[] = {"store.path=/tmp/has;semicolon", "http.timeout=1500ms",
                        "store.heap_size=3072KiB", "broker.log_level=error",
                        "translator.note=# not a comment", "exposition.timestamps=true",
                        "store.max_series=12345"};
    struct ob_config *a = load_ok(NULL, ov, OB_ARRAY_LEN(ov));
    char *da = dump_text(a);
    ck_assert(strstr(da, "[translator]\nplugin = underscore_escaping_with_suffixes\n"));
    ck_assert(strstr(da, "heap_size = 3MiB\n"));
    ck_assert(strstr(da, "timeout = 1500ms\n"));

    char path[128];
    snprintf(path, sizeof path, "%s/dump.ini", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(da, f);
    fclose(f);
    struct ob_config *b = load_ok(path, NULL, 0);
    ck_assert_str_eq(b->store_path, "/tmp/has;semicolon");
    ck_assert_str_eq(kv_get(b, "note"), "# not a comment");
    char *db = dump_text(b);
    ck_assert_str_eq(da, db);
    free(da);
    free(db);
    ob_config_destroy(a);
    ob_config_destroy(b);
}
END_TEST

/* The defaults file loads, and gives exactly the built-in defaults. */
START_TEST(defaults_text_loads)
{
    char *text = defaults_text();
    struct ob_config *c = load_ok(ini(text), NULL, 0);
    check_defaults(c);
    ob_config_destroy(c);
    /* Uncommenting every key gives the defaults too: the shown values parse. */
    for (char *p = text; (p = strstr(p, "\n#")); p++)
        if (p[2] != ' ' && p[2] != '\n')
            memmove(p + 1, p + 2, strlen(p + 2) + 1);
    c = load_ok(ini(text), NULL, 0);
    check_defaults(c);
    ob_config_destroy(c);
    free(text);
}
END_TEST

static char *slurp(FILE *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(m);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    return text;
}

/* etc/otlp-broker.ini is exactly what ob_config_write_defaults() prints.
 * The one build-dependent line is plugin_dir (the install PREFIX): the
 * committed file shows the default PREFIX. */
START_TEST(committed_ini_matches)
{
    static const char *const candidates[] = {"etc/otlp-broker.ini", "../etc/otlp-broker.ini",
                                             "../../etc/otlp-broker.ini"};
    FILE *f = NULL;
    for (size_t i = 0; !f && i < OB_ARRAY_LEN(candidates); i++)
        f = fopen(candidates[i], "r");
    ck_assert_msg(f != NULL, "etc/otlp-broker.ini not found from the cwd (run from the repo root)");
    char *committed = slurp(f);
    fclose(f);

    char *text = defaults_text();
    size_t len = strlen(text);

    struct ob_config *c = load_ok(NULL, NULL, 0);
    char built[512], canonical[512];
    snprintf(built, sizeof built, "\n#plugin_dir = %s\n", c->translator_plugin_dir);
    snprintf(canonical, sizeof canonical, "\n#plugin_dir = %s\n",
             "/usr/local/lib/otlp-broker/plugins");
    ob_config_destroy(c);
    char *at = strstr(text, built);
    ck_assert_ptr_nonnull(at);
    char *want = malloc(len + strlen(canonical) + 1);
    ck_assert_ptr_nonnull(want);
    size_t head = (size_t)(at - text);
    memcpy(want, text, head);
    strcpy(want + head, canonical);
    strcat(want, at + strlen(built));

    ck_assert_msg(strcmp(committed, want) == 0,
                  "etc/otlp-broker.ini differs from ob_config_write_defaults(): regenerate it");
    free(want);
    free(text);
    free(committed);
}
END_TEST

/* What ob_config_diff reports, collected. */
struct changes {
    size_t n;
    struct ob_config_change c[16];
};

static void collect(void *ctx, const struct ob_config_change *c)
{
    struct changes *ch = ctx;
    ck_assert_uint_lt(ch->n, OB_ARRAY_LEN(ch->c));
    ch->c[ch->n++] = *c;
}

static void check_change(const struct ob_config_change *c, const char *name, bool reloadable,
                         const char *was, const char *now)
{
    char got[128];
    snprintf(got, sizeof got, "%s.%s", c->section, c->key);
    ck_assert_str_eq(got, name);
    ck_assert_msg(c->reloadable == reloadable, "%s: reloadable %d", name, c->reloadable);
    ck_assert_str_eq(c->was, was);
    ck_assert_str_eq(c->now, now);
}

START_TEST(diff_same)
{
    struct ob_config *a = load_ok(NULL, NULL, 0);
    /* Another spelling of the same values, and plugin keys, are no change. */
    const char *ov[] = {"store.max_series=100000", "limits.max_body_bytes=32768KiB",
                        "broker.housekeeping_interval=1000ms", "translator.prefix=app_"};
    struct ob_config *b = load_ok(NULL, ov, OB_ARRAY_LEN(ov));
    struct changes ch = {0};
    ck_assert_uint_eq(ob_config_diff(a, b, collect, &ch), 0);
    ck_assert_uint_eq(ch.n, 0);
    ck_assert_uint_eq(ob_config_diff(a, a, NULL, NULL), 0);
    ob_config_destroy(a);
    ob_config_destroy(b);
}
END_TEST

START_TEST(diff_lists_changed_keys)
{
    struct ob_config *running = load_ok(NULL, NULL, 0);
    const char *ov[] = {"limits.max_body_bytes=64MiB", "store.max_series=200000",
                        "translator.plugin=rules",     "zmq.pull=",
                        "http.listen=127.0.0.1:0",     "broker.log_level=debug",
                        "translator_zmq.plugin=no_translation",
                        "exposition.timestamps=true",  "store.series_ttl=90s"};
    struct ob_config *next = load_ok(NULL, ov, OB_ARRAY_LEN(ov));
    struct changes ch = {0};
    ck_assert_uint_eq(ob_config_diff(running, next, collect, &ch), 9);
    ck_assert_uint_eq(ch.n, 9);
    /* In table order, values written as --check-config writes them. */
    check_change(&ch.c[0], "broker.log_level", false, "info", "debug");
    check_change(&ch.c[1], "http.listen", false, "127.0.0.1:4318", "127.0.0.1:0");
    check_change(&ch.c[2], "store.max_series", false, "100000", "200000");
    check_change(&ch.c[3], "store.series_ttl", false, "5m", "90s");
    check_change(&ch.c[4], "translator.plugin", true, "underscore_escaping_with_suffixes",
                 "rules");
    check_change(&ch.c[5], "zmq.pull", false, "tcp://127.0.0.1:4319", "\"\"");
    check_change(&ch.c[6], "translator_zmq.plugin", true, "\"\"", "no_translation");
    check_change(&ch.c[7], "exposition.timestamps", false, "false", "true");
    check_change(&ch.c[8], "limits.max_body_bytes", false, "32MiB", "64MiB");
    /* Without a callback it only counts; the other way round swaps the values. */
    ck_assert_uint_eq(ob_config_diff(running, next, NULL, NULL), 9);
    ch.n = 0;
    ob_config_diff(next, running, collect, &ch);
    check_change(&ch.c[2], "store.max_series", false, "200000", "100000");
    ob_config_destroy(running);
    ob_config_destroy(next);
}
END_TEST

/* A value longer than a change holds is cut and says so. */
START_TEST(diff_long_value)
{
    char ov[300];
    snprintf(ov, sizeof ov, "store.path=/%0250d", 7);
    const char *o = ov;
    struct ob_config *running = load_ok(NULL, NULL, 0);
    struct ob_config *next = load_ok(NULL, &o, 1);
    struct changes ch = {0};
    ck_assert_uint_eq(ob_config_diff(running, next, collect, &ch), 1);
    ck_assert_str_eq(ch.c[0].was, "/otlp-broker");
    ck_assert_uint_eq(strlen(ch.c[0].now), OB_CONFIG_VALUE_LEN - 1);
    ck_assert(strncmp(ch.c[0].now, "/000", 4) == 0);
    ck_assert_str_eq(ch.c[0].now + OB_CONFIG_VALUE_LEN - 4, "...");
    ob_config_destroy(running);
    ob_config_destroy(next);
}
END_TEST

/* A reload applies exactly the translator sections' keys (main.c's
 * reload() loads the translators and nothing else). */
START_TEST(reloadable_keys)
{
    static const char *const reloadable[][2] = {
        {"translator", "plugin"},      {"translator", "plugin_dir"},
        {"translator_http", "plugin"}, {"translator_http", "plugin_dir"},
        {"translator_zmq", "plugin"},  {"translator_zmq", "plugin_dir"},
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(reloadable); i++)
        ck_assert_int_eq(ob_config_reloadable(reloadable[i][0], reloadable[i][1]), 1);
    static const char *const restart[][2] = {
        {"broker", "log_level"}, {"broker", "housekeeping_interval"}, {"http", "listen"},
        {"store", "max_series"}, {"store", "path"},                   {"zmq", "threads"},
        {"limits", "max_body_bytes"}, {"exposition", "timestamps"},
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(restart); i++)
        ck_assert_int_eq(ob_config_reloadable(restart[i][0], restart[i][1]), 0);
    ck_assert_int_eq(ob_config_reloadable("store", "nope"), -ENOENT);
    ck_assert_int_eq(ob_config_reloadable("translator", "prefix"), -ENOENT); /* a plugin key */
}
END_TEST

/* In the defaults file every key that needs a restart, and only those, has
 * "# Needs a restart." just above its "#key = default" line. */
START_TEST(defaults_mark_restart_keys)
{
    char *text = defaults_text();
    char section[64] = "";
    const char *prev = "", *marker = "# Needs a restart.";
    size_t keys = 0, marked = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char key[64];
        if (sscanf(line, "[%63[^]]]", section) == 1 || sscanf(line, "#[%63[^]]]", section) == 1) {
            /* a section header, or the commented [remote_write.NAME] example */
        } else if (line[0] == '#' && line[1] != ' ' && sscanf(line + 1, "%63s =", key) == 1) {
            int r = ob_config_reloadable(section, key);
            ck_assert_msg(r >= 0, "%s.%s not in the table", section, key);
            bool has = strcmp(prev, marker) == 0;
            ck_assert_msg(has == (r == 0), "%s.%s: marker %d, reloadable %d", section, key, has,
                          r);
            keys++;
            marked += has;
        }
        prev = line;
    }
    ck_assert_uint_ge(keys, 50);
    ck_assert_uint_eq(keys - marked, 8);
    free(text);
}
END_TEST

/* [remote_write.NAME] targets. */

static const struct ob_rw_target_cfg *target(const struct ob_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_rw; i++)
        if (strcmp(c->rw[i].name, name) == 0)
            return &c->rw[i];
    ck_abort_msg("no target %s", name);
    return NULL;
}

static void check_target_defaults(const struct ob_rw_target_cfg *t)
{
    ck_assert_int_eq(t->protocol, OB_RW_PROTO_1_0);
    ck_assert_str_eq(t->headers, "");
    ck_assert_uint_eq(t->n_headers, 0);
    ck_assert_str_eq(t->bearer_token_file, "");
    ck_assert_str_eq(t->basic_auth_username, "");
    ck_assert_str_eq(t->basic_auth_password_file, "");
    ck_assert_int_eq(t->timeout_ms, 30000);
    ck_assert_uint_eq(t->batch_size, 2000);
    ck_assert_int_eq(t->batch_deadline_ms, 5000);
    ck_assert_uint_eq(t->shards, 4);
    ck_assert_int_eq(t->min_backoff_ms, 30);
    ck_assert_int_eq(t->max_backoff_ms, 5000);
    ck_assert(t->retry_on_429);
    ck_assert_str_eq(t->tls_ca_file, "");
    ck_assert_str_eq(t->tls_cert_file, "");
    ck_assert_str_eq(t->tls_key_file, "");
    ck_assert_str_eq(t->tls_server_name, "");
    ck_assert(!t->tls_insecure_skip_verify);
}

START_TEST(rw_targets)
{
    struct ob_config *c = load_ok(ini("[remote_write]\n"
                                      "log_size = 1GiB\n"
                                      "log_path = /var/lib/ob/rw.log\n"
                                      "[remote_write.Mimir]\n"
                                      "url = https://mimir.example:8080/api/v1/push\n"
                                      "protocol = 2.0\n"
                                      "headers = X-Scope-OrgID: tenant1|tenant2 ,X-Other:v w\n"
                                      "bearer_token_file = /run/secrets/token\n"
                                      "timeout = 300ms\n"
                                      "batch_size = 500\n"
                                      "batch_deadline = 1s\n"
                                      "shards = 64\n"
                                      "min_backoff = 100ms\n"
                                      "max_backoff = 1m\n"
                                      "retry_on_429 = false\n"
                                      "tls_ca_file = /etc/ca.pem\n"
                                      "tls_cert_file = /etc/c.pem\n"
                                      "tls_key_file = /etc/k.pem\n"
                                      "tls_server_name = mimir.internal\n"
                                      "tls_insecure_skip_verify = yes\n"
                                      "[remote_write.vm-1]\n"
                                      "url = http://127.0.0.1:8428/api/v1/write\n"
                                      "basic_auth_username = ob\n"
                                      "basic_auth_password_file = /run/pw\n"),
                                  NULL, 0);
    ck_assert_uint_eq(c->rw_log_size, 1u << 30);
    ck_assert_str_eq(c->rw_log_path, "/var/lib/ob/rw.log");
    ck_assert_uint_eq(c->n_rw, 2);
    const struct ob_rw_target_cfg *m = &c->rw[0];
    ck_assert_str_eq(m->name, "mimir"); /* section names are lower-cased */
    ck_assert_str_eq(m->section, "remote_write.mimir");
    ck_assert_str_eq(m->url, "https://mimir.example:8080/api/v1/push");
    ck_assert_int_eq(m->protocol, OB_RW_PROTO_2_0);
    ck_assert_uint_eq(m->n_headers, 2);
    ck_assert_str_eq(m->header_kv[0].key, "X-Scope-OrgID");
    ck_assert_str_eq(m->header_kv[0].value, "tenant1|tenant2");
    ck_assert_str_eq(m->header_kv[1].key, "X-Other");
    ck_assert_str_eq(m->header_kv[1].value, "v w");
    ck_assert_str_eq(m->bearer_token_file, "/run/secrets/token");
    ck_assert_int_eq(m->timeout_ms, 300);
    ck_assert_uint_eq(m->batch_size, 500);
    ck_assert_int_eq(m->batch_deadline_ms, 1000);
    ck_assert_uint_eq(m->shards, 64);
    ck_assert_int_eq(m->min_backoff_ms, 100);
    ck_assert_int_eq(m->max_backoff_ms, 60000);
    ck_assert(!m->retry_on_429);
    ck_assert_str_eq(m->tls_ca_file, "/etc/ca.pem");
    ck_assert_str_eq(m->tls_cert_file, "/etc/c.pem");
    ck_assert_str_eq(m->tls_key_file, "/etc/k.pem");
    ck_assert_str_eq(m->tls_server_name, "mimir.internal");
    ck_assert(m->tls_insecure_skip_verify);
    const struct ob_rw_target_cfg *v = target(c, "vm-1");
    ck_assert_str_eq(v->basic_auth_username, "ob");
    ck_assert_str_eq(v->basic_auth_password_file, "/run/pw");
    ob_config_destroy(c);

    /* Only url given: every other key has its default. */
    c = load_ok(ini("[remote_write.a]\nurl = http://h/api/v1/write\n"), NULL, 0);
    ck_assert_uint_eq(c->n_rw, 1);
    check_target_defaults(target(c, "a"));
    ob_config_destroy(c);
}
END_TEST

START_TEST(rw_overrides)
{
    const char *path = ini("[remote_write.a]\nurl = http://h/w\nshards = 2\n");
    const char *ov[] = {"remote_write.a.shards=8", "Remote_Write.B.url = http://other/w",
                        "remote_write.log_size=16MiB", "remote_write.b.headers=A: 1"};
    struct ob_config *c = load_ok(path, ov, OB_ARRAY_LEN(ov));
    ck_assert_uint_eq(c->n_rw, 2);
    ck_assert_uint_eq(target(c, "a")->shards, 8);
    ck_assert_str_eq(target(c, "b")->url, "http://other/w");
    ck_assert_uint_eq(target(c, "b")->n_headers, 1);
    ck_assert_uint_eq(c->rw_log_size, 16u << 20);
    ob_config_destroy(c);
    /* A target from overrides alone. */
    const char *ov2[] = {"remote_write.x.url=https://x/api/v1/write"};
    c = load_ok(NULL, ov2, 1);
    ck_assert_uint_eq(c->n_rw, 1);
    check_target_defaults(target(c, "x"));
    ob_config_destroy(c);
}
END_TEST

START_TEST(rw_errors)
{
    load_fails(ini("[remote_write.a]\n"), NULL, 0, "remote_write.a.url", "missing");
    load_fails(ini("[remote_write.a]\nshards = 2\n"), NULL, 0, "remote_write.a.url", "missing");
    load_fails(ini("[remote_write.a]\nurl = ftp://h/w\n"), NULL, 0, "remote_write.a.url",
               "http:// or https://");
    load_fails(ini("[remote_write.a]\nurl = http:///w\n"), NULL, 0, "remote_write.a.url",
               "no host");
    load_fails(ini("[remote_write.a b]\nurl = http://h/w\n"), NULL, 0, "[remote_write.a b]",
               "target name");
    load_fails(ini("[remote_write.]\nurl = http://h/w\n"), NULL, 0, "[remote_write.]",
               "target name");
    load_fails(ini("[remote_write.a1234567890123456789012345678901234567890]\nurl = http://h\n"),
               NULL, 0, "target name", NULL);
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nshard = 2\n"), NULL, 0,
               "remote_write.a.shard", "shards");
    load_fails(ini("[remote_write]\nurl = http://h/w\n"), NULL, 0, "remote_write.url",
               "log_size");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nprotocol = 3\n"), NULL, 0,
               "remote_write.a.protocol", "1.0 or 2.0");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nshards = 0\n"), NULL, 0,
               "remote_write.a.shards", "from 1 to 64");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nshards = 65\n"), NULL, 0,
               "remote_write.a.shards", "from 1 to 64");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\ntimeout = soon\n"), NULL, 0,
               "remote_write.a.timeout", "duration");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nretry_on_429 = perhaps\n"), NULL, 0,
               "remote_write.a.retry_on_429", "true or false");
    load_fails(ini("[remote_write]\nlog_size = 1KiB\n"), NULL, 0, "remote_write.log_size",
               "out of range");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nbearer_token_file = /t\n"
                   "basic_auth_username = u\nbasic_auth_password_file = /p\n"),
               NULL, 0, "remote_write.a", "pick one");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nbasic_auth_username = u\n"), NULL, 0,
               "remote_write.a", "go together");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\ntls_cert_file = /c\n"), NULL, 0,
               "remote_write.a", "tls_key_file");
    load_fails(ini("[remote_write.a]\nurl = http://h/w\nmin_backoff = 10s\nmax_backoff = 1s\n"),
               NULL, 0, "remote_write.a.min_backoff", "max_backoff");
    /* Headers: syntax, the protocol's own, Authorization with auth, twice. */
    static const char *const bad_headers[][2] = {
        {"NoColon", "'NoColon'"},
        {"A: 1, B", "'B'"},
        {"Accept: a, b", "'b'"},
        {"A: 1,", "comma"},
        {"Bad Name: 1", "'Bad Name: 1'"},
        {"A:", "'A:'"},
        {": v", "': v'"},
        {"Content-Type: text/plain", "Content-Type is the protocol's own"},
        {"content-encoding: gzip", "content-encoding is the protocol's own"},
        {"X-Prometheus-Remote-Write-Version: 9", "protocol's own"},
        {"User-Agent: me", "protocol's own"},
        {"Host: h", "protocol's own"},
        {"A: 1, a: 2", "twice"},
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(bad_headers); i++) {
        char ov[128];
        snprintf(ov, sizeof ov, "remote_write.a.headers=%s", bad_headers[i][0]);
        const char *o[] = {"remote_write.a.url=http://h/w", ov};
        load_fails(NULL, o, 2, "remote_write.a.headers", bad_headers[i][1]);
    }
    const char *o[] = {"remote_write.a.url=http://h/w", "remote_write.a.bearer_token_file=/t",
                       "remote_write.a.headers=Authorization: Bearer x"};
    load_fails(NULL, o, 3, "remote_write.a.headers", "Authorization");
    /* Authorization alone is the user's to set. */
    struct ob_config *c = load_ok(NULL, o, 1);
    ob_config_destroy(c);
    const char *o2[] = {"remote_write.a.url=http://h/w",
                        "remote_write.a.headers=Authorization: Bearer x"};
    c = load_ok(NULL, o2, 2);
    ck_assert_uint_eq(target(c, "a")->n_headers, 1);
    ob_config_destroy(c);
}
END_TEST

START_TEST(rw_dump_round_trip)
{
    const char *ov[] = {"remote_write.a.url=http://h:9/api/v1/write",
                        "remote_write.a.headers=X-Scope-OrgID: t1, X-B: 2",
                        "remote_write.a.protocol=2.0", "remote_write.b.url=https://b/w",
                        "remote_write.b.timeout=1500ms"};
    struct ob_config *a = load_ok(NULL, ov, OB_ARRAY_LEN(ov));
    char *da = dump_text(a);
    ck_assert(strstr(da, "\n[remote_write.a]\nurl = http://h:9/api/v1/write\nprotocol = 2.0\n"));
    ck_assert(strstr(da, "\n[remote_write.b]\n"));
    char path[128];
    snprintf(path, sizeof path, "%s/dump.ini", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(da, f);
    fclose(f);
    struct ob_config *b = load_ok(path, NULL, 0);
    ck_assert_uint_eq(b->n_rw, 2);
    ck_assert_uint_eq(target(b, "a")->n_headers, 2);
    ck_assert_int_eq(target(b, "b")->timeout_ms, 1500);
    char *db = dump_text(b);
    ck_assert_str_eq(da, db);
    ck_assert_uint_eq(ob_config_diff(a, b, NULL, NULL), 0);
    free(da);
    free(db);
    ob_config_destroy(a);
    ob_config_destroy(b);
}
END_TEST

START_TEST(rw_diff)
{
    const char *ov1[] = {"remote_write.a.url=http://a/w", "remote_write.gone.url=http://g/w"};
    const char *ov2[] = {"remote_write.a.url=http://a/w", "remote_write.a.shards=8",
                         "remote_write.new.url=http://n/w", "remote_write.log_size=1GiB"};
    struct ob_config *running = load_ok(NULL, ov1, OB_ARRAY_LEN(ov1));
    struct ob_config *next = load_ok(NULL, ov2, OB_ARRAY_LEN(ov2));
    struct changes ch = {0};
    ck_assert_uint_eq(ob_config_diff(running, next, collect, &ch), 4);
    ck_assert_uint_eq(ch.n, 4);
    check_change(&ch.c[0], "remote_write.log_size", false, "256MiB", "1GiB");
    check_change(&ch.c[1], "remote_write.a.shards", false, "4", "8");
    check_change(&ch.c[2], "remote_write.gone.url", false, "http://g/w", "(none)");
    check_change(&ch.c[3], "remote_write.new.url", false, "(none)", "http://n/w");
    ob_config_destroy(running);
    ob_config_destroy(next);

    ck_assert_int_eq(ob_config_reloadable("remote_write", "log_size"), 0);
    ck_assert_int_eq(ob_config_reloadable("remote_write", "log_path"), 0);
    ck_assert_int_eq(ob_config_reloadable("remote_write.any", "url"), 0);
    ck_assert_int_eq(ob_config_reloadable("remote_write.any", "tls_server_name"), 0);
    ck_assert_int_eq(ob_config_reloadable("remote_write.any", "nope"), -ENOENT);
}
END_TEST

Suite *config_suite(void);
Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_without_file);
    tcase_add_test(tc, defaults_from_empty_file);
    tcase_add_test(tc, every_type);
    tcase_add_test(tc, bool_spellings);
    tcase_add_test(tc, overrides_beat_file);
    tcase_add_test(tc, bad_override_syntax);
    tcase_add_test(tc, unknown_key_and_section);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, range_errors);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, translator_passthrough);
    tcase_add_test(tc, dump_round_trip);
    tcase_add_test(tc, defaults_text_loads);
    tcase_add_test(tc, committed_ini_matches);
    suite_add_tcase(s, tc);
    TCase *diff = tcase_create("reload");
    tcase_add_test(diff, diff_same);
    tcase_add_test(diff, diff_lists_changed_keys);
    tcase_add_test(diff, diff_long_value);
    tcase_add_test(diff, reloadable_keys);
    tcase_add_test(diff, defaults_mark_restart_keys);
    suite_add_tcase(s, diff);
    TCase *rw = tcase_create("remote_write");
    tcase_add_checked_fixture(rw, setup, teardown);
    tcase_add_test(rw, rw_targets);
    tcase_add_test(rw, rw_overrides);
    tcase_add_test(rw, rw_errors);
    tcase_add_test(rw, rw_dump_round_trip);
    tcase_add_test(rw, rw_diff);
    suite_add_tcase(s, rw);
    return s;
}
