/* main.c: otlp-broker's entry point.
 *
 * Start order: config -> log level -> translators -> store -> ingest ->
 * HTTP -> ZeroMQ -> gRPC -> ready.  Stop order is the reverse.  A reload (SIGHUP or
 * POST /-/reload) swaps the translators; keys that need a restart are named
 * in its answer and kept as they were.  Every signal is blocked in every
 * thread; the main thread takes them with sigtimedwait(), and between
 * signals does the housekeeping (series expiry).
 *
 * Exit codes: 0 clean stop, 1 run-time failure (store, bind), 2 usage or
 * configuration error (including a plugin refusing its settings).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_grpc.h"
#include "ob_http.h"
#include "ob_ingest.h"
#include "ob_log.h"
#include "ob_notify.h"
#include "ob_remote_write.h"
#include "ob_translator_host.h"
#include "ob_selfmetrics.h"
#include "ob_store.h"
#include "ob_time.h"
#include "ob_zmq.h"

/* The configuration read when -c is not given (make install puts it there). */
#ifndef OB_CONFIG_PATH
#define OB_CONFIG_PATH "/usr/local/etc/otlp-broker/otlp-broker.ini"
#endif

#define MAX_OVERRIDES 256
#define MAX_ENDPOINTS 32

struct args {
    const char *config_path;
    const char *overrides[MAX_OVERRIDES];
    size_t n_overrides;
    bool check_only;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: otlp-broker [-c FILE] [-o section.key=value]... [--check-config]\n"
            "\n"
            "Receives OpenTelemetry metrics (OTLP/HTTP, OTLP/gRPC, ZeroMQ) and serves them to\n"
            "Prometheus.\n"
            "\n"
            "  -c, --config FILE     INI configuration (every key has a default)\n"
            "  -o section.key=value  override one key; repeatable; wins over the file\n"
            "      --check-config    validate the configuration and the translator plugin,\n"
            "                        print the effective configuration, exit\n"
            "      --print-defaults  print every key with its default and meaning (INI)\n"
            "      --version         print the version and exit\n"
            "  -h, --help            this text\n"
            "\n"
            "Endpoints (default http://127.0.0.1:4318): POST /v1/metrics,\n"
            "POST /api/v1/otlp/v1/metrics, GET /metrics, GET /-/healthy, GET /-/ready;\n"
            "ZeroMQ PULL tcp://127.0.0.1:4319 and ROUTER tcp://127.0.0.1:4320;\n"
            "OTLP/gRPC (h2c) 127.0.0.1:4317.\n"
            "Signals: SIGTERM/SIGINT stop; SIGHUP (or POST /-/reload) re-reads the\n"
            "configuration and loads the translator plugin it names; other changed keys\n"
            "need a restart (the reload names them and keeps their running values).\n");
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--version")) {
            printf("otlp-broker %s\n", OB_VERSION);
            return 0;
        }
        if (!strcmp(arg, "--print-defaults")) {
            ob_config_write_defaults(stdout);
            return 0;
        }
        if (!strcmp(arg, "--check-config")) {
            a->check_only = true;
            continue;
        }
        bool is_c = !strcmp(arg, "-c") || !strcmp(arg, "--config");
        bool is_o = !strcmp(arg, "-o");
        if ((is_c || is_o) && i + 1 >= argc) {
            fprintf(stderr, "otlp-broker: %s needs a value\n", arg);
            return 2;
        }
        if (is_c) {
            a->config_path = argv[++i];
        } else if (is_o) {
            if (a->n_overrides == MAX_OVERRIDES) {
                fprintf(stderr, "otlp-broker: more than %d -o options\n", MAX_OVERRIDES);
                return 2;
            }
            a->overrides[a->n_overrides++] = argv[++i];
        } else {
            fprintf(stderr, "otlp-broker: unknown argument '%s' (try --help)\n", arg);
            return 2;
        }
    }
    return -1;
}

/* Room for a plugin loader's message and the section it came from. */
#define TRANSLATOR_ERR_LEN (OB_ERR_LEN + 32)

/* The translators in use: one host per frontend.  A frontend without its
 * own [translator_<frontend>] plugin shares the default instance. */
struct translators {
    struct ob_translator_slot fe[OB_FE__COUNT];
};

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Where plugins are loaded from: the configured directory, or when it does
 * not exist (a broker run from its build tree, or installed under another
 * prefix than it was built for) plugins/ beside the executable, then
 * ../lib/otlp-broker/plugins relative to it: the first that exists, logged.
 * buf holds the path found. */
static const char *plugin_dir(const char *configured, char *buf, size_t cap)
{
    if (is_dir(configured))
        return configured;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return configured;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return configured;
    *slash = '\0';
    static const char *const beside[] = {"plugins", "../lib/otlp-broker/plugins"};
    for (size_t i = 0; i < OB_ARRAY_LEN(beside); i++) {
        int len = snprintf(buf, cap, "%s/%s", exe, beside[i]);
        if (len > 0 && (size_t)len < cap && is_dir(buf)) {
            OB_LOG_INFO("translator", "plugin_dir %s does not exist: plugins from %s", configured,
                        buf);
            return buf;
        }
    }
    return configured;
}

/* Loads (and initialises) every translator cfg names: all of them or none.
 * out[fe] each hold one reference.  err says which section failed. */
static int load_translators(const struct ob_config *cfg,
                            struct ob_translator_inst *out[OB_FE__COUNT], char *err, size_t cap)
{
    char why[OB_ERR_LEN], found[PATH_MAX];
    struct ob_translator_inst *def = NULL;
    int rc = ob_translator_load(cfg->translator_plugin,
                                plugin_dir(cfg->translator_plugin_dir, found, sizeof found),
                                cfg->translator_kv, cfg->translator_n_kv, &def, why);
    if (rc != 0) {
        snprintf(err, cap, "[translator] %s", why);
        return rc;
    }
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        const struct ob_listener_translator *t = &cfg->translator_fe[fe];
        if (!t->plugin[0]) {
            out[fe] = ob_translator_ref(def);
            continue;
        }
        const char *dir = t->plugin_dir[0] ? t->plugin_dir : cfg->translator_plugin_dir;
        rc = ob_translator_load(t->plugin, plugin_dir(dir, found, sizeof found), t->kv, t->n_kv,
                                &out[fe], why);
        if (rc != 0) {
            snprintf(err, cap, "[translator_%s] %s", ob_frontend_name((enum ob_frontend)fe), why);
            while (fe-- > 0)
                ob_translator_unref(out[fe]);
            break;
        }
    }
    ob_translator_unref(def);
    return rc;
}

/* "http: <plugin>, zmq: <plugin>": which translator each frontend uses. */
static void name_translators(struct ob_translator_inst *const x[OB_FE__COUNT], char *buf,
                             size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int fe = 0; fe < OB_FE__COUNT && len < cap; fe++) {
        int n = snprintf(buf + len, cap - len, "%s%s: %s", fe ? ", " : "",
                         ob_frontend_name((enum ob_frontend)fe), x[fe]->desc.name);
        len += n > 0 ? (size_t)n : 0;
    }
}

/* Publishes the loaded translators; requests in flight finish on the old
 * ones, the last of which unloads them. */
static void publish(struct translators *t, struct ob_translator_inst *x[OB_FE__COUNT])
{
    for (int fe = 0; fe < OB_FE__COUNT; fe++) {
        ob_sm_set_plugin((enum ob_frontend)fe, x[fe]->desc.name);
        ob_translator_slot_swap(&t->fe[fe], x[fe]);
    }
}

/* Splits a comma-separated list in place (spaces around items trimmed). */
static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok && n < max;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*tok)
            out[n++] = tok;
    }
    return n;
}

static int start_zmq(const struct ob_config *cfg, struct ob_ingest *ingest, struct ob_zmq **out)
{
    const char *pull[MAX_ENDPOINTS], *reply[MAX_ENDPOINTS];
    char *pull_s = strdup(cfg->zmq_pull), *reply_s = strdup(cfg->zmq_reply);
    int rc = -ENOMEM;
    if (pull_s && reply_s) {
        struct ob_zmq_opts zo = {
            .pull = pull,
            .n_pull = split_list(pull_s, pull, MAX_ENDPOINTS),
            .reply = reply,
            .n_reply = split_list(reply_s, reply, MAX_ENDPOINTS),
            .max_body_bytes = cfg->max_body_bytes,
            .rcv_hwm = (int)cfg->zmq_rcv_hwm,
            .threads = cfg->zmq_threads,
            .max_senders = cfg->zmq_max_senders,
            .sender_ttl_ns = cfg->zmq_sender_ttl_ms * 1000000,
        };
        char err[OB_ERR_LEN];
        rc = ob_zmq_start(&zo, ingest, out, err);
        if (rc != 0)
            OB_LOG_ERROR("zmq", "%s", err);
    }
    free(pull_s);
    free(reply_s);
    return rc;
}

/* What a reload needs; shared by SIGHUP (main thread) and POST /-/reload
 * (an HTTP thread), serialised by the mutex. */
struct reloader {
    pthread_mutex_t lock;
    const struct args *args;
    struct translators *translators;
    /* The configuration the broker started with: a key that needs a
     * restart runs with its value here until the broker restarts. */
    const struct ob_config *running;
};

/* A reload's answer is kept to what POST /-/reload sends back whole: the
 * HTTP frontend's text answers hold 510 bytes (respond_text() in ob_http.c).
 * The log has every key. */
#define ANSWER_MAX 510

/* The answer of a reload, and how many restart-only keys did not fit in it. */
struct answer {
    char *msg;
    size_t cap, left_out;
};

/* A changed key that needs a restart: logged, and said in the answer while
 * there is room (keeping enough for the count of the rest). */
static void note_restart_key(void *ctx, const struct ob_config_change *c)
{
    struct answer *a = ctx;
    if (c->reloadable)
        return;
    char note[3 * OB_CONFIG_VALUE_LEN + 128];
    snprintf(note, sizeof note, "%s.%s changed (%s -> %s): needs a restart; kept %s", c->section,
             c->key, c->was, c->now, c->was);
    OB_LOG_WARN("reload", "%s", note);
    size_t len = strlen(a->msg);
    if (a->left_out == 0 && len + 2 + strlen(note) + 80 < a->cap)
        snprintf(a->msg + len, a->cap - len, "; %s", note);
    else
        a->left_out++;
}

/* Re-reads the configuration and loads the translator it names.  On any
 * failure the running plugin stays.  Every other changed key needs a
 * restart: the answer and the log name each, and the running value stays. */
static int reload(void *ctx, char *msg, size_t cap)
{
    struct reloader *rl = ctx;
    const struct args *a = rl->args;
    char err[TRANSLATOR_ERR_LEN];
    struct ob_config *cfg = NULL;
    int rc;
    pthread_mutex_lock(&rl->lock);
    ob_notify("RELOADING=1\nMONOTONIC_USEC=%lld", (long long)(ob_mono_ns() / 1000));
    rc = ob_config_load(a->config_path, a->overrides, a->n_overrides, &cfg, err);
    if (rc != 0) {
        snprintf(msg, cap, "configuration rejected, keeping the running one: %s", err);
        goto done;
    }
    struct ob_translator_inst *x[OB_FE__COUNT];
    rc = load_translators(cfg, x, err, sizeof err);
    if (rc != 0) {
        snprintf(msg, cap, "translator not loaded, keeping the running one: %s", err);
        goto done;
    }
    publish(rl->translators, x);
    char names[256];
    name_translators(x, names, sizeof names);
    snprintf(msg, cap, "reloaded: translator %s (%s)", cfg->translator_plugin, names);
    OB_LOG_INFO("reload", "%s", msg);
    struct answer ans = {.msg = msg, .cap = OB_MIN(cap, ANSWER_MAX + 1)};
    ob_config_diff(rl->running, cfg, note_restart_key, &ans);
    size_t len = strlen(msg);
    if (ans.left_out && len < ans.cap) {
        snprintf(msg + len, ans.cap - len, "; not listed here, see the log: %zu more changed "
                 "keys that need a restart", ans.left_out);
    }
done:
    ob_notify("READY=1");
    ob_sm_reload(rc == 0);
    if (rc != 0)
        OB_LOG_ERROR("reload", "%s", msg);
    pthread_mutex_unlock(&rl->lock);
    ob_config_destroy(cfg);
    return rc;
}

/* Expires old series.  With remote write, the store keeps what the
 * targets have yet to send, and each expired series' staleness marker goes
 * to the forward log. */
static void housekeeping(struct ob_store *store, struct ob_fwdlog *log)
{
    static struct ob_fwd_batch markers; /* this thread's only */
    int64_t now_ms = ob_now_ns() / 1000000;
    uint32_t n;
    if (log) {
        ob_store_set_reclaim_hold(store, ob_fwdlog_hold(log));
        n = ob_store_expire_fwd(store, now_ms, &markers);
        ob_fwdlog_commit(log, &markers, now_ms);
    } else {
        n = ob_store_expire(store, now_ms);
    }
    if (n)
        OB_LOG_DEBUG("store", "%u series expired", n);
}

/* The forward log of remote write, beside the store; NULL with no target. */
static int open_forward_log(const struct ob_config *cfg, struct ob_store *store, struct ob_fwdlog **out)
{
    *out = NULL;
    if (!cfg->n_rw)
        return 0;
    char path[4096];
    if (cfg->rw_log_path && cfg->rw_log_path[0])
        snprintf(path, sizeof path, "%s", cfg->rw_log_path);
    else
        snprintf(path, sizeof path, "%s.forward", cfg->store_path);
    struct ob_store_info info;
    ob_store_info(store, &info);
    struct ob_fwdlog_opts o = {.path = path, .cap = cfg->rw_log_size,
                               .store_created_ns = info.hdr->created_ns};
    char err[OB_ERR_LEN];
    bool restarted;
    int rc = ob_fwdlog_open(&o, out, err, &restarted);
    if (rc) {
        OB_LOG_ERROR("remote_write", "%s", err);
        return rc;
    }
    if (restarted && err[0])
        OB_LOG_WARN("remote_write", "%s", err);
    const char *names[OB_FWDLOG_TARGETS];
    for (size_t i = 0; i < cfg->n_rw && i < OB_FWDLOG_TARGETS; i++)
        names[i] = cfg->rw[i].name;
    ob_fwdlog_keep_only(*out, names, OB_MIN(cfg->n_rw, (size_t)OB_FWDLOG_TARGETS));
    struct ob_fwdlog_stats ls;
    ob_fwdlog_stats(*out, &ls);
    OB_LOG_INFO("remote_write", "forward log %s: %llu MiB, %llu records written so far", path,
                (unsigned long long)(ls.cap >> 20), (unsigned long long)ls.records);
    return 0;
}

/* Waits for signals; does the housekeeping every interval. */
static void serve(struct reloader *rl, const struct ob_config *cfg, struct ob_store *store,
                  struct ob_fwdlog *log, const sigset_t *set)
{
    int64_t interval_ms = cfg->housekeeping_ms > 0 ? cfg->housekeeping_ms : 1000;
    struct timespec tick = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            OB_LOG_INFO("broker", "signal %d: stopping", sig);
            ob_notify("STOPPING=1");
            return;
        }
        if (sig == SIGHUP) {
            char msg[OB_ERR_LEN * 2];
            reload(rl, msg, sizeof msg);
        }
        housekeeping(store, log);
    }
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    char err[TRANSLATOR_ERR_LEN];
    struct ob_config *cfg = NULL;
    if (!a.config_path && access(OB_CONFIG_PATH, R_OK) == 0)
        a.config_path = OB_CONFIG_PATH; /* the installed one */
    if (ob_config_load(a.config_path, a.overrides, a.n_overrides, &cfg, err) != 0) {
        fprintf(stderr, "otlp-broker: %s\n", err);
        return 2;
    }
    ob_log_set_level((enum ob_log_level)cfg->log_level);
    ob_log_set_format((enum ob_log_format)cfg->log_format);
    if (a.config_path)
        OB_LOG_INFO("config", "read %s", a.config_path);
    else
        OB_LOG_INFO("config", "defaults: no -c, and %s does not exist", OB_CONFIG_PATH);

    int exit_code = 1;
    struct ob_store *store = NULL;
    struct translators translators;
    struct ob_ingest *ingest = NULL;
    struct ob_fwdlog *fwdlog = NULL;
    struct ob_remote_write *rwrite = NULL;
    struct ob_http *http = NULL;
    struct ob_zmq *zmq = NULL;
    struct ob_grpc *grpc = NULL;
    _Atomic bool ready = false;
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        ob_translator_slot_init(&translators.fe[fe]);

    /* Block signals before any thread exists, so only main takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct ob_translator_inst *x[OB_FE__COUNT];
    rc = load_translators(cfg, x, err, sizeof err);
    if (rc != 0) {
        OB_LOG_ERROR("translator", "%s", err);
        exit_code = rc == OB_E_PLUGIN_INIT ? 2 : 1;
        goto out;
    }
    publish(&translators, x);
    if (a.check_only) {
        ob_config_dump(cfg, stdout);
        exit_code = 0;
        goto out;
    }

    struct ob_store_opts so = {
        .path = cfg->store_path,
        .max_series = cfg->store_max_series,
        .max_families = cfg->store_max_families,
        .samples_per_series = cfg->store_samples_per_series,
        .heap_bytes = cfg->store_heap_bytes,
        .ooo_window_ms = cfg->store_ooo_window_ms,
        .series_ttl_ms = cfg->store_series_ttl_ms,
        .exemplar_bytes = cfg->store_exemplar_bytes,
        .delta_reset_ms = cfg->store_delta_reset_ms,
        .recreate = cfg->store_recreate,
    };
    rc = ob_store_open(&so, &store, err);
    if (rc != 0) {
        OB_LOG_ERROR("store", "%s", err);
        goto out;
    }
    struct ob_store_stats st;
    ob_store_stats(store, &st);
    OB_LOG_INFO("store", "%s: %u series live of %u, %llu MiB mapped", cfg->store_path,
                st.series_live, st.series_max, (unsigned long long)(st.map_bytes >> 20));

    struct ob_translator_slot *slots[OB_FE__COUNT];
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        slots[fe] = &translators.fe[fe];
    rc = ob_ingest_create(store, cfg, slots, &ingest);
    if (rc != 0) {
        OB_LOG_ERROR("ingest", "%s", ob_strerror(rc));
        goto out;
    }
    if (open_forward_log(cfg, store, &fwdlog) != 0)
        goto out;
    if (fwdlog) {
        ob_store_set_reclaim_hold(store, ob_fwdlog_hold(fwdlog));
        ob_ingest_set_fwdlog(ingest, fwdlog);
        rc = ob_remote_write_start(cfg, store, fwdlog, &rwrite, err);
        if (rc != 0) {
            OB_LOG_ERROR("remote_write", "%s", err);
            goto out;
        }
        for (size_t i = 0; i < cfg->n_rw; i++)
            OB_LOG_INFO("remote_write", "%s: %s, protocol %s, %u shards", cfg->rw[i].name, cfg->rw[i].url,
                        cfg->rw[i].protocol == OB_RW_PROTO_2_0 ? "2.0" : "1.0", cfg->rw[i].shards);
    }
    struct reloader rl = {.lock = PTHREAD_MUTEX_INITIALIZER, .args = &a,
                         .translators = &translators, .running = cfg};
    struct ob_http_deps deps = {.ingest = ingest,
                                .store = store,
                                .cfg = cfg,
                                .remote_write = rwrite,
                                .ready = &ready,
                                .reload = reload,
                                .reload_ctx = &rl};
    rc = ob_http_start(&deps, &http, err);
    if (rc != 0) {
        OB_LOG_ERROR("http", "%s", err);
        goto out;
    }
    if (start_zmq(cfg, ingest, &zmq) != 0)
        goto out;
    if (cfg->grpc_listen[0]) {
        struct ob_grpc_deps gd = {.ingest = ingest, .cfg = cfg};
        rc = ob_grpc_start(&gd, &grpc, err);
        if (rc != 0) {
            OB_LOG_ERROR("grpc", "%s", err);
            goto out;
        }
    }
    atomic_store(&ready, true);
    ob_notify("READY=1\nSTATUS=serving\nMAINPID=%ld", (long)getpid());
    char names[256];
    name_translators(x, names, sizeof names);
    OB_LOG_INFO("broker", "otlp-broker %s ready (translator %s)", OB_VERSION, names);

    serve(&rl, cfg, store, fwdlog, &set);
    exit_code = 0;

out:
    atomic_store(&ready, false);
    ob_grpc_stop(grpc);
    ob_http_stop(http);
    ob_zmq_stop(zmq);
    ob_remote_write_stop(rwrite); /* after the frontends: what they stored goes too */
    ob_fwdlog_close(fwdlog);
    ob_ingest_destroy(ingest);
    for (int fe = 0; fe < OB_FE__COUNT; fe++)
        ob_translator_slot_fini(&translators.fe[fe]);
    ob_store_close(store);
    ob_config_destroy(cfg);
    return exit_code;
}
