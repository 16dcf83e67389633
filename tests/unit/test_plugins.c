/* test_plugins.c: the plugin loader (suite plugin_host).
 *
 * Loads the real build/plugins/<name>.so and the test plugins in
 * build/tests/plugins (tests/unit/plugins/<name>.c); OB_BUILD names the build
 * directory (default "build", sanitizer runs use build/asan). */
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob_error.h"
#include "ob_log.h"
#include "ob_translator_host.h"

static const char *const strategy_plugins[] = {
    "underscore_escaping_with_suffixes",
    "underscore_escaping_without_suffixes",
    "no_utf8_escaping_with_suffixes",
    "no_translation",
};

static const char *build_dir(void)
{
    const char *b = getenv("OB_BUILD");
    return b && *b ? b : "build";
}

static char *path_of(const char *sub, const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s/%s.so", build_dir(), sub, name);
    ck_assert_msg(access(p, R_OK) == 0, "%s missing: build the plugins first", p);
    return p;
}

static char *plugin_dir(void)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/plugins", build_dir());
    return buf;
}

static char *read_file(const char *path)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- refusals ------------------------------------------------------------ */

struct refusal {
    const char *plugin;
    int code;
    const char *needles[3];
};

static const struct refusal refusals[] = {
    {"bad_abi", OB_E_PLUGIN_ABI, {"ABI major 99", "host has ABI major 1", NULL}},
    {"bad_magic", OB_E_PLUGIN_ABI, {"magic", "0xdeadbeef", "0x4f42544c"}},
    {"short_desc", OB_E_PLUGIN_ABI, {"descriptor is", "at least", NULL}},
    {"no_symbol", OB_E_PLUGIN_SYMBOL, {"ob_translator_v1", NULL, NULL}},
    {"missing_callback", OB_E_PLUGIN_ABI, {"label_name", "required", NULL}},
    {"init_fails", OB_E_PLUGIN_INIT, {"init failed", "test plugin refuses to start", NULL}},
};

START_TEST(refuses_broken_plugins)
{
    const struct refusal *r = &refusals[_i];
    const char *path = path_of("tests/plugins", r->plugin);
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = (struct ob_translator_inst *)0x1;
    int rc = ob_translator_load(path, NULL, NULL, 0, &x, err);
    ck_assert_msg(rc == r->code, "%s: rc %d (%s), want %d", r->plugin, rc, ob_strerror(rc),
                  r->code);
    ck_assert_ptr_eq(x, (struct ob_translator_inst *)0x1); /* out untouched on failure */
    ck_assert_msg(strstr(err, path) != NULL, "%s: path not in '%s'", r->plugin, err);
    for (int i = 0; i < 3 && r->needles[i]; i++)
        ck_assert_msg(strstr(err, r->needles[i]) != NULL, "%s: '%s' not in '%s'", r->plugin,
                      r->needles[i], err);
}
END_TEST

START_TEST(refuses_missing_file)
{
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = NULL;
    ck_assert_int_eq(ob_translator_load("does_not_exist", "/nonexistent/dir", NULL, 0, &x, err),
                     OB_E_PLUGIN_OPEN);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(err, "/nonexistent/dir/does_not_exist.so"), "%s", err);
    /* A bare name needs a plugin_dir. */
    ck_assert_int_eq(ob_translator_load("no_translation", NULL, NULL, 0, &x, err), OB_E_PLUGIN_OPEN);
    ck_assert_msg(strstr(err, "no_translation"), "%s", err);
    ck_assert_int_eq(ob_translator_load("", plugin_dir(), NULL, 0, &x, err), OB_E_PLUGIN_OPEN);
    /* Not a shared object at all. */
    char dir[] = "/tmp/ob_plugins_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.so", dir);
    FILE *f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    ck_assert_int_eq(ob_translator_load(junk, NULL, NULL, 0, &x, err), OB_E_PLUGIN_OPEN);
    ck_assert_msg(strstr(err, junk), "%s", err);
    unlink(junk);
    rmdir(dir);
}
END_TEST

/* A failed load leaves the published instance alone. */
START_TEST(failed_load_keeps_current)
{
    struct ob_translator_slot host;
    ob_translator_slot_init(&host);
    char err[OB_ERR_LEN];
    struct ob_translator_inst *good = NULL;
    ck_assert_int_eq(ob_translator_load("underscore_escaping_with_suffixes", plugin_dir(), NULL, 0,
                                        &good, err),
                     0);
    uint64_t gen = good->generation;
    ob_translator_slot_swap(&host, good);
    for (size_t i = 0; i < OB_ARRAY_LEN(refusals); i++) {
        struct ob_translator_inst *bad = NULL;
        ck_assert_int_ne(ob_translator_load(path_of("tests/plugins", refusals[i].plugin), NULL, NULL,
                                            0, &bad, err),
                         0);
        ck_assert_ptr_null(bad);
        struct ob_translator_inst *cur = ob_translator_slot_acquire(&host);
        ck_assert_ptr_eq(cur, good);
        ck_assert_uint_eq(cur->generation, gen);
        /* still usable */
        char buf[64];
        struct ob_metric_view m = {{"a.b", 3}, {"s", 1}, {"", 0}, OB_METRIC_GAUGE, 0};
        ck_assert_int_eq(cur->desc.family_name(cur->state, &m, buf, sizeof buf), 11);
        ck_assert_int_eq(memcmp(buf, "a_b_seconds", 11), 0);
        ob_translator_unref(cur);
    }
    ob_translator_slot_fini(&host);
}
END_TEST

START_TEST(name_and_path_resolution)
{
    char err[OB_ERR_LEN];
    struct ob_translator_inst *a = NULL, *b = NULL;
    ck_assert_int_eq(ob_translator_load("no_translation", plugin_dir(), NULL, 0, &a, err), 0);
    ck_assert_str_eq(a->desc.name, "no_translation");
    ck_assert_msg(strstr(a->path, "/no_translation.so"), "%s", a->path);
    /* With a '/', plugin_dir is not used. */
    ck_assert_int_eq(ob_translator_load(path_of("plugins", "no_translation"), "/nonexistent", NULL, 0,
                                        &b, err),
                     0);
    ck_assert_str_eq(b->path, path_of("plugins", "no_translation"));
    /* Unique, increasing generations even for the same .so. */
    ck_assert_uint_gt(b->generation, a->generation);
    ck_assert_uint_eq(atomic_load(&a->refs), 1);
    ck_assert_uint_eq(a->host.magic, OB_HOST_MAGIC);
    ck_assert_uint_eq(a->host.abi_major, OB_ABI_MAJOR);
    ck_assert_uint_eq(a->host.size, sizeof(struct ob_host));
    ck_assert_ptr_nonnull(a->desc.unit_name);
    ck_assert_ptr_nonnull(a->desc.fini);
    ob_translator_unref(a);
    ob_translator_unref(b);
    ob_translator_unref(NULL);
}
END_TEST

/* Real plugins refuse a host of another major (the loader never asks). */
START_TEST(entry_refuses_other_major)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(strategy_plugins); i++) {
        void *h = dlopen(path_of("plugins", strategy_plugins[i]), RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(h != NULL, "%s", dlerror());
        ob_translator_entry_fn fn;
        *(void **)&fn = dlsym(h, OB_TRANSLATOR_ENTRY);
        ck_assert_ptr_nonnull(fn);
        ck_assert_ptr_null(fn(OB_ABI_MAJOR + 1, 0));
        const struct ob_translator *d = fn(OB_ABI_MAJOR, OB_ABI_MINOR + 3);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->hdr.magic, OB_TRANSLATOR_MAGIC);
        ck_assert_uint_eq(d->hdr.size, sizeof(struct ob_translator));
        ck_assert_str_eq(d->name, strategy_plugins[i]);
        dlclose(h);
    }
}
END_TEST

/* nm -D --defined-only: ob_translator_v1 is the only symbol of ours. */
START_TEST(exports_one_symbol)
{
    static const char *const linker[] = {"_init", "_fini", "__bss_start", "_edata", "_end"};
    for (size_t i = 0; i < OB_ARRAY_LEN(strategy_plugins); i++) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", path_of("plugins", strategy_plugins[i]));
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        char line[512];
        int entry = 0, other = 0;
        while (fgets(line, sizeof line, p)) {
            char addr[64], type[8], sym[256];
            if (sscanf(line, "%63s %7s %255s", addr, type, sym) != 3)
                continue;
            bool ignored = false;
            for (size_t j = 0; j < OB_ARRAY_LEN(linker); j++)
                ignored |= strcmp(sym, linker[j]) == 0;
            if (ignored)
                continue;
            if (strcmp(sym, "ob_translator_v1") == 0 && (type[0] == 'T' || type[0] == 't'))
                entry++;
            else if (strchr("TtDdBbRrVvWwGgSsiu", type[0])) {
                other++;
                ck_assert_msg(0, "%s exports %s (%s)", strategy_plugins[i], sym, type);
            }
        }
        ck_assert_int_eq(pclose(p), 0);
        ck_assert_int_eq(entry, 1);
        ck_assert_int_eq(other, 0);
    }
}
END_TEST

/* ---- lifecycle ----------------------------------------------------------- */

static struct ob_translator_inst *load_lifecycle(const char *marker, const char *tag)
{
    /* The kv array and its strings are freed right after load: the host must
     * have copied them (lifecycle.c reads them again in fini). */
    struct ob_kv *kv = calloc(2, sizeof *kv);
    char *k0 = strdup("marker"), *v0 = strdup(marker), *k1 = strdup("tag"), *v1 = strdup(tag);
    kv[0] = (struct ob_kv){k0, v0};
    kv[1] = (struct ob_kv){k1, v1};
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = NULL;
    int rc = ob_translator_load(path_of("tests/plugins", "lifecycle"), NULL, kv, 2, &x, err);
    memset(v0, 'X', strlen(v0));
    free(k0), free(v0), free(k1), free(v1), free(kv);
    ck_assert_msg(rc == 0, "%s", err);
    return x;
}

START_TEST(last_release_runs_fini)
{
    char dir[] = "/tmp/ob_plugins_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char marker[600], logf[600];
    snprintf(marker, sizeof marker, "%s/marker", dir);
    snprintf(logf, sizeof logf, "%s/stderr", dir);

    /* Capture stderr to see the plugin's log line. */
    fflush(stderr);
    int saved = dup(2), fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    ob_log_set_level(OB_LOG_INFO);
    struct ob_translator_inst *a = load_lifecycle(marker, "A");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    const char *logged = read_file(logf);
    ck_assert_msg(strstr(logged, "WARN") && strstr(logged, "plugin lifecycle: hello from init, tag A"),
                  "log was '%s'", logged);

    struct ob_translator_slot host;
    ob_translator_slot_init(&host);
    ck_assert_ptr_null(ob_translator_slot_acquire(&host));
    ob_translator_slot_swap(&host, a);
    struct ob_translator_inst *req = ob_translator_slot_acquire(&host); /* a request in flight */
    ck_assert_ptr_eq(req, a);

    struct ob_translator_inst *b = load_lifecycle(marker, "B");
    ob_translator_slot_swap(&host, b);
    ck_assert_str_eq(read_file(marker), ""); /* a still in use */
    struct ob_translator_inst *req2 = ob_translator_slot_acquire(&host);
    ck_assert_ptr_eq(req2, b);
    ob_translator_unref(req);
    ck_assert_str_eq(read_file(marker), "fini A\n");
    ob_translator_unref(req2);
    ck_assert_str_eq(read_file(marker), "fini A\n");
    ob_translator_slot_fini(&host);
    ck_assert_str_eq(read_file(marker), "fini A\nfini B\n");
    unlink(marker);
    unlink(logf);
    rmdir(dir);
}
END_TEST

/* Requests acquire and release while the main thread keeps swapping. */
struct churn {
    struct ob_translator_slot *host;
    _Atomic int stop;
    _Atomic long calls;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    char buf[64];
    struct ob_metric_view m = {{"http.requests", 13}, {"1", 1}, {"", 0}, OB_METRIC_COUNTER, 2};
    while (!atomic_load(&c->stop)) {
        struct ob_translator_inst *x = ob_translator_slot_acquire(c->host);
        ck_assert_ptr_nonnull(x);
        long n = x->desc.family_name(x->state, &m, buf, sizeof buf);
        ck_assert_int_eq(n, 19);
        ck_assert_int_eq(memcmp(buf, "http_requests_total", 19), 0);
        ob_translator_unref(x);
        atomic_fetch_add(&c->calls, 1);
    }
    return NULL;
}

START_TEST(swap_under_load)
{
    struct ob_translator_slot host;
    ob_translator_slot_init(&host);
    char err[OB_ERR_LEN];
    struct ob_translator_inst *x = NULL;
    ck_assert_int_eq(ob_translator_load("underscore_escaping_with_suffixes", plugin_dir(), NULL, 0,
                                        &x, err),
                     0);
    ob_translator_slot_swap(&host, x);
    struct churn c = {&host, 0, 0};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn_thread, &c), 0);
    /* At least 50 swaps, and go on until the readers have done real work. */
    for (int i = 0; i < 50 || atomic_load(&c.calls) < 2000; i++) {
        ck_assert_int_eq(ob_translator_load("underscore_escaping_with_suffixes", plugin_dir(), NULL,
                                            0, &x, err),
                         0);
        ob_translator_slot_swap(&host, x);
    }
    atomic_store(&c.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_gt(atomic_load(&c.calls), 0);
    ob_translator_slot_fini(&host);
}
END_TEST

Suite *plugin_host_suite(void);
Suite *plugin_host_suite(void)
{
    Suite *s = suite_create("plugin_host");
    TCase *tc = tcase_create("load");
    tcase_add_loop_test(tc, refuses_broken_plugins, 0, (int)OB_ARRAY_LEN(refusals));
    tcase_add_test(tc, refuses_missing_file);
    tcase_add_test(tc, failed_load_keeps_current);
    tcase_add_test(tc, name_and_path_resolution);
    tcase_add_test(tc, entry_refuses_other_major);
    tcase_add_test(tc, exports_one_symbol);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, last_release_runs_fini);
    tcase_add_test(tc, swap_under_load);
    suite_add_tcase(s, tc);
    return s;
}
