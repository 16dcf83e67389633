/* ob_rw_client.c: remote-write delivery over libcurl's multi interface.
 *
 * Each shard is one easy handle and one body.  A shard is idle, in flight
 * (its handle added to the multi handle) or waiting for a retry (handle
 * removed, retry_at set).  The multi handle keeps the connections, so a
 * shard's next request, or its retry, reuses the connection the last one
 * left open.  poll() is one round: transfer what is ready, finish what is
 * done, start the retries that fell due, wait for the next event.
 */
#include "ob_rw_client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "ob_error.h"
#include "ob_log.h"
#include "ob_time.h"

#ifndef OB_VERSION
#define OB_VERSION "0"
#endif

#define MESSAGE_MAX 256     /* of a refusal, as on_done gets it */
#define RESP_KEEP 1024      /* response bytes kept to make the message from */
#define SECRET_MAX 4096     /* a token or password file larger than this is refused */
#define RETRY_AFTER_MAX_S 3600 /* a receiver's Retry-After is honoured up to an hour */

/* A token or password file, read again when stat() says it changed (a
 * rotated Kubernetes secret is a new inode behind the same path). */
struct secret {
    char *path; /* NULL: none */
    char *value;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct shard {
    struct ob_rw_client *c;
    unsigned idx;
    CURL *easy;
    bool busy;          /* holds a body */
    bool in_multi;      /* in flight; else, when busy, waiting for retry_at */
    int64_t retry_at;   /* monotonic ns */
    int64_t backoff_ms; /* the next retry's delay before jitter */
    unsigned char *body;
    size_t len, cap;
    int protocol;
    struct curl_slist *headers; /* of the attempt in flight */
    char resp[RESP_KEEP];
    size_t resp_len;
    struct ob_rw_written written;
    bool written_seen;
    unsigned attempts;  /* of its body (kept after it is done, until the next submit) */
    char errbuf[CURL_ERROR_SIZE];
};

struct ob_rw_client {
    CURLM *multi;
    struct shard *shards;
    unsigned n_shards;
    char *name;            /* the target's, for the log */
    char *url;             /* the request URL (host = tls_server_name when set) */
    char *host_header;     /* "Host: ..." when the URL's host was replaced, else NULL */
    struct curl_slist *connect_to;
    struct curl_slist *fixed_headers; /* the target's own, as "Name: value" */
    struct secret bearer, password;
    char *username;
    int64_t timeout_ms, min_backoff_ms, max_backoff_ms;
    bool retry_on_429;
    uint64_t rng;
    int finished; /* bodies finished in this poll */
    struct ob_complaint retry_complaint; /* refusals are the caller's to log */
    _Atomic uint64_t requests, sent, dropped, retries, bytes_sent;
    _Atomic uint64_t failures[OB_RW_FAIL__COUNT];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe in every libcurl build: once, for the
 * process, and never cleaned up (other threads may still use libcurl). */
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void count(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* xorshift64*: jitter only, nothing to do with security. */
static uint64_t next_random(struct ob_rw_client *c)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ull;
}

/* Reads s->path again when it changed since the last read.  0, or -errno. */
static int secret_refresh(struct secret *s)
{
    struct stat st;
    if (stat(s->path, &st) != 0)
        return -errno;
    if (s->value && st.st_dev == s->dev && st.st_ino == s->ino && st.st_size == s->size &&
        st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec)
        return 0;
    FILE *f = fopen(s->path, "r");
    if (!f)
        return -errno;
    char buf[SECRET_MAX + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return -EIO;
    if (n > SECRET_MAX)
        return -EFBIG;
    /* Files written by editors and `echo` end in a newline: not part of it. */
    size_t start = 0;
    while (start < n && isspace((unsigned char)buf[start]))
        start++;
    while (n > start && isspace((unsigned char)buf[n - 1]))
        n--;
    if (memchr(buf + start, '\n', n - start) || memchr(buf + start, '\r', n - start) ||
        memchr(buf + start, '\0', n - start))
        return -EINVAL; /* would split or end the header */
    char *v = strndup(buf + start, n - start);
    if (!v)
        return -ENOMEM;
    free(s->value);
    s->value = v;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    return 0;
}

static void secret_free(struct secret *s)
{
    free(s->path);
    free(s->value);
}

/* A header value as a number; -1 when it is not one. */
static int64_t header_number(const char *v, size_t len)
{
    while (len && isspace((unsigned char)*v)) {
        v++;
        len--;
    }
    int64_t n = 0;
    size_t i = 0;
    for (; i < len && isdigit((unsigned char)v[i]); i++) {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    while (i < len && isspace((unsigned char)v[i]))
        i++;
    return i == len && len ? n : -1;
}

/* Response headers: the 2.0 -Written counts.  Every response (a 100
 * Continue too) starts over with its status line. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct shard *s = arg;
    size_t len = size * nmemb;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        s->written = (struct ob_rw_written){-1, -1, -1};
        s->written_seen = false;
        return len;
    }
    static const struct {
        const char *name;
        size_t off;
    } counts[] = {
        {"X-Prometheus-Remote-Write-Samples-Written:", offsetof(struct ob_rw_written, samples)},
        {"X-Prometheus-Remote-Write-Histograms-Written:",
         offsetof(struct ob_rw_written, histograms)},
        {"X-Prometheus-Remote-Write-Exemplars-Written:",
         offsetof(struct ob_rw_written, exemplars)},
    };
    for (size_t i = 0; i < OB_ARRAY_LEN(counts); i++) {
        size_t nlen = strlen(counts[i].name);
        if (len > nlen && strncasecmp(data, counts[i].name, nlen) == 0) {
            int64_t n = header_number(data + nlen, len - nlen);
            if (n >= 0) {
                *(int64_t *)((char *)&s->written + counts[i].off) = n;
                s->written_seen = true;
            }
        }
    }
    return len;
}

/* The response body: its start is kept for a refusal's message. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct shard *s = arg;
    size_t len = size * nmemb;
    size_t room = sizeof s->resp - s->resp_len;
    size_t n = len < room ? len : room;
    memcpy(s->resp + s->resp_len, data, n);
    s->resp_len += n;
    return len;
}

/* The kept response as one trimmed line of at most MESSAGE_MAX bytes. */
static void response_message(const struct shard *s, char out[MESSAGE_MAX + 1])
{
    size_t a = 0, b = s->resp_len;
    while (a < b && isspace((unsigned char)s->resp[a]))
        a++;
    while (b > a && isspace((unsigned char)s->resp[b - 1]))
        b--;
    size_t n = b - a < MESSAGE_MAX ? b - a : MESSAGE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s->resp[a + i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

static int set_tls(struct ob_rw_client *c, CURL *e, const struct ob_rw_target_cfg *cfg)
{
    CURLcode rc = CURLE_OK;
    if (cfg->tls_ca_file[0] && rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_CAINFO, cfg->tls_ca_file);
    if (cfg->tls_cert_file[0] && rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->tls_cert_file);
    if (cfg->tls_key_file[0] && rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->tls_key_file);
    if (cfg->tls_insecure_skip_verify && rc == CURLE_OK) {
        rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->connect_to && rc == CURLE_OK)
        rc = curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
    return rc == CURLE_OK ? 0 : -EINVAL;
}

/* What never changes between requests. */
static int setup_easy(struct ob_rw_client *c, struct shard *s, const struct ob_rw_target_cfg *cfg)
{
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, c->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_POST, 1L);
    /* HTTP/1.1 keep-alive, one connection per shard: the remote write 1.0
     * spec's way to "stream" (an h2 connection shared by all shards would
     * serialize them behind one TCP window). */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS timeouts: the broker is threaded */
    SET(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_USERAGENT, "otlp-broker/" OB_VERSION);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_PRIVATE, s);
#undef SET
    if (rc != CURLE_OK)
        return -EINVAL;
    return set_tls(c, e, cfg);
}

/* The request URL and, with tls_server_name, the connect-to mapping: the
 * URL names the server name (libcurl sends it in SNI and checks the
 * certificate against it; it has no option for either alone), the
 * connection goes to the URL's own host, and Host: keeps that host. */
static int setup_url(struct ob_rw_client *c, const struct ob_rw_target_cfg *cfg,
                     char err[OB_ERR_LEN])
{
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    int rc = 0;
    char *host = NULL, *port = NULL, *url = NULL;
    if (curl_url_set(u, CURLUPART_URL, cfg->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(err, OB_ERR_LEN, "%s.url: '%s' is not a URL libcurl takes", cfg->section,
                 cfg->url);
        rc = OB_E_CONFIG;
        goto out;
    }
    if (cfg->tls_server_name[0] && strncasecmp(cfg->url, "https:", 6) == 0) {
        char *explicit_port = NULL;
        bool has_port = curl_url_get(u, CURLUPART_PORT, &explicit_port, 0) == CURLUE_OK;
        curl_free(explicit_port);
        char line[512];
        if (curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0) != CURLUE_OK) {
            snprintf(err, OB_ERR_LEN, "%s.tls_server_name: '%s' is not a host name",
                     cfg->section, cfg->tls_server_name);
            rc = OB_E_CONFIG;
            goto out;
        }
        snprintf(line, sizeof line, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
        c->connect_to = curl_slist_append(NULL, line);
        snprintf(line, sizeof line, "Host: %s%s%s", host, has_port ? ":" : "",
                 has_port ? port : "");
        c->host_header = strdup(line);
        if (!c->connect_to || !c->host_header) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        rc = -ENOMEM;
        goto out;
    }
    c->url = strdup(url);
    if (!c->url)
        rc = -ENOMEM;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

int ob_rw_client_create(const struct ob_rw_target_cfg *cfg, struct ob_rw_client **out,
                        char err[OB_ERR_LEN])
{
    err[0] = '\0';
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, OB_ERR_LEN, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        return -EIO;
    }
    struct ob_rw_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = -ENOMEM;
    c->n_shards = cfg->shards ? cfg->shards : 1;
    c->timeout_ms = cfg->timeout_ms;
    c->min_backoff_ms = cfg->min_backoff_ms > 0 ? cfg->min_backoff_ms : 1;
    c->max_backoff_ms = OB_MAX(cfg->max_backoff_ms, c->min_backoff_ms);
    c->retry_on_429 = cfg->retry_on_429;
    c->rng = (uint64_t)ob_mono_ns() ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 1;
    c->name = strdup(cfg->name);
    if (!c->name)
        goto fail;
    rc = setup_url(c, cfg, err);
    if (rc)
        goto fail;
    rc = -ENOMEM;
    for (size_t i = 0; i < cfg->n_headers; i++) {
        char line[1024];
        snprintf(line, sizeof line, "%s: %s", cfg->header_kv[i].key, cfg->header_kv[i].value);
        struct curl_slist *l = curl_slist_append(c->fixed_headers, line);
        if (!l)
            goto fail;
        c->fixed_headers = l;
    }
    if (cfg->bearer_token_file[0] && !(c->bearer.path = strdup(cfg->bearer_token_file)))
        goto fail;
    if (cfg->basic_auth_username[0]) {
        c->username = strdup(cfg->basic_auth_username);
        c->password.path = strdup(cfg->basic_auth_password_file);
        if (!c->username || !c->password.path)
            goto fail;
    }
    c->multi = curl_multi_init();
    c->shards = calloc(c->n_shards, sizeof *c->shards);
    if (!c->multi || !c->shards)
        goto fail;
    /* Keep an idle connection per shard (the default keeps 4 times the
     * handles added, which are none between requests). */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->n_shards);
    for (unsigned i = 0; i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        s->c = c;
        s->idx = i;
        s->backoff_ms = c->min_backoff_ms;
        s->easy = curl_easy_init();
        if (!s->easy)
            goto fail;
        if (setup_easy(c, s, cfg) != 0) {
            snprintf(err, OB_ERR_LEN, "%s: libcurl refuses an option (TLS or URL)", cfg->section);
            rc = OB_E_CONFIG;
            goto fail;
        }
    }
    *out = c;
    return 0;

fail:
    if (rc == -ENOMEM && !err[0])
        snprintf(err, OB_ERR_LEN, "out of memory");
    ob_rw_client_destroy(c);
    return rc;
}

void ob_rw_client_destroy(struct ob_rw_client *c)
{
    if (!c)
        return;
    for (unsigned i = 0; c->shards && i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        if (s->in_multi)
            curl_multi_remove_handle(c->multi, s->easy);
        if (s->easy)
            curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
        free(s->body);
    }
    free(c->shards);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->connect_to);
    curl_slist_free_all(c->fixed_headers);
    secret_free(&c->bearer);
    secret_free(&c->password);
    free(c->username);
    free(c->host_header);
    free(c->url);
    free(c->name);
    free(c);
}

unsigned ob_rw_client_shards(const struct ob_rw_client *c)
{
    return c->n_shards;
}

bool ob_rw_client_busy(const struct ob_rw_client *c, unsigned shard)
{
    return shard < c->n_shards && c->shards[shard].busy;
}

static struct curl_slist *append(struct curl_slist *l, const char *line, bool *failed)
{
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n)
        *failed = true;
    return n ? n : l;
}

/* The request headers of one attempt; the credentials as they are now.
 * 0, -ENOMEM, or the secret file's -errno (OB_RW_FAIL_AUTH). */
static int build_headers(struct ob_rw_client *c, struct shard *s, int *errno_out)
{
    bool failed = false;
    struct curl_slist *h = NULL;
    bool v2 = s->protocol == OB_RW_PROTO_2_0;
    h = append(h, "Content-Encoding: snappy", &failed);
    h = append(h,
               v2 ? "Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request"
                  : "Content-Type: application/x-protobuf",
               &failed);
    h = append(h, v2 ? "X-Prometheus-Remote-Write-Version: 2.0.0"
                     : "X-Prometheus-Remote-Write-Version: 0.1.0",
               &failed);
    /* libcurl would wait up to a second for "100 Continue" before sending a
     * large body; receivers answer it, but the wait buys nothing here. */
    h = append(h, "Expect:", &failed);
    if (c->host_header)
        h = append(h, c->host_header, &failed);
    for (const struct curl_slist *f = c->fixed_headers; f; f = f->next)
        h = append(h, f->data, &failed);
    *errno_out = 0;
    if (c->bearer.path) {
        int rc = secret_refresh(&c->bearer);
        if (rc) {
            *errno_out = rc;
        } else {
            size_t n = strlen(c->bearer.value) + sizeof "Authorization: Bearer ";
            char *line = malloc(n);
            if (!line) {
                failed = true;
            } else {
                snprintf(line, n, "Authorization: Bearer %s", c->bearer.value);
                h = append(h, line, &failed);
                free(line);
            }
        }
    }
    if (c->password.path) {
        int rc = secret_refresh(&c->password);
        if (rc) {
            *errno_out = rc;
        } else {
            curl_easy_setopt(s->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(s->easy, CURLOPT_USERNAME, c->username);
            curl_easy_setopt(s->easy, CURLOPT_PASSWORD, c->password.value);
        }
    }
    curl_slist_free_all(s->headers);
    s->headers = h;
    if (failed)
        return -ENOMEM;
    return *errno_out ? *errno_out : 0;
}

static void schedule_retry(struct ob_rw_client *c, struct shard *s, enum ob_rw_fail kind,
                           int64_t retry_after_s, const char *why);

/* Sends s's body (again).  Failing to, it schedules a retry: an attempt
 * that cannot start is retried like one that failed. */
static void start(struct ob_rw_client *c, struct shard *s)
{
    s->resp_len = 0;
    s->errbuf[0] = '\0';
    s->written = (struct ob_rw_written){-1, -1, -1};
    s->written_seen = false;
    int secret_err = 0;
    int rc = build_headers(c, s, &secret_err);
    if (rc) {
        char why[160];
        if (secret_err)
            snprintf(why, sizeof why, "cannot read %s: %s",
                     c->bearer.path ? c->bearer.path : c->password.path, strerror(-secret_err));
        else
            snprintf(why, sizeof why, "out of memory");
        schedule_retry(c, s, OB_RW_FAIL_AUTH, 0, why);
        return;
    }
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    /* The size first: the body is binary (snappy), never a C string. */
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->len);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)s->body);
    if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK) {
        schedule_retry(c, s, OB_RW_FAIL_NETWORK, 0, "libcurl cannot add the request");
        return;
    }
    s->in_multi = true;
    count(&c->requests, 1);
    s->attempts++;
    count(&c->bytes_sent, s->len);
}

static void schedule_retry(struct ob_rw_client *c, struct shard *s, enum ob_rw_fail kind,
                           int64_t retry_after_s, const char *why)
{
    count(&c->failures[kind], 1);
    int64_t delay_ms;
    if (retry_after_s > 0) {
        delay_ms = OB_MIN(retry_after_s, (int64_t)RETRY_AFTER_MAX_S) * 1000;
    } else {
        /* Equal jitter: half the backoff for sure, the other half at
         * random, so that shards (and brokers) that failed together do not
         * come back together. */
        int64_t b = s->backoff_ms;
        delay_ms = b / 2 + (int64_t)(next_random(c) % (uint64_t)(b - b / 2 + 1));
        s->backoff_ms = OB_MIN(b * 2, c->max_backoff_ms);
    }
    s->retry_at = ob_mono_ns() + delay_ms * 1000000;
    ob_complain(&c->retry_complaint, "remote_write", "%s: %s; retrying in %" PRId64 " ms",
                c->name, why, delay_ms);
}

/* The shard's body is done: the shard is free before on_done runs. */
static void finish(struct ob_rw_client *c, struct shard *s, enum ob_rw_outcome outcome,
                   int status, const char *message, ob_rw_done_fn *on_done, void *ctx)
{
    s->busy = false;
    s->backoff_ms = c->min_backoff_ms;
    struct ob_rw_written w = s->written;
    bool seen = s->written_seen;
    count(outcome == OB_RW_SENT ? &c->sent : &c->dropped, 1);
    c->finished++;
    if (on_done)
        on_done(ctx, s->idx, outcome, status, message, seen ? &w : NULL);
}

/* One attempt is over: done, or a retry to schedule. */
static void attempt_done(struct ob_rw_client *c, struct shard *s, CURLcode result,
                         ob_rw_done_fn *on_done, void *ctx)
{
    curl_multi_remove_handle(c->multi, s->easy);
    s->in_multi = false;
    if (result != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 64];
        snprintf(why, sizeof why, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
        schedule_retry(c, s,
                       result == CURLE_OPERATION_TIMEDOUT ? OB_RW_FAIL_TIMEOUT : OB_RW_FAIL_NETWORK,
                       0, why);
        return;
    }
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        finish(c, s, OB_RW_SENT, (int)status, "", on_done, ctx);
        return;
    }
    if (status >= 500 || (status == 429 && c->retry_on_429)) {
        curl_off_t after = 0; /* seconds; libcurl reads both forms of Retry-After */
        if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &after) != CURLE_OK)
            after = 0;
        /* The receiver's words say why it keeps failing (Prometheus:
         * "native histograms are disabled"): they go in the log line. */
        char message[MESSAGE_MAX + 1], why[MESSAGE_MAX + 32];
        response_message(s, message);
        snprintf(why, sizeof why, "HTTP %ld%s%s", status, message[0] ? ": " : "", message);
        schedule_retry(c, s, status == 429 ? OB_RW_FAIL_429 : OB_RW_FAIL_5XX, (int64_t)after,
                       why);
        return;
    }
    char message[MESSAGE_MAX + 1];
    response_message(s, message);
    count(&c->failures[status == 429 ? OB_RW_FAIL_429 : OB_RW_FAIL_4XX], 1);
    finish(c, s, OB_RW_DROPPED, (int)status, message, on_done, ctx);
}

int ob_rw_client_submit(struct ob_rw_client *c, unsigned shard, const void *body, size_t len,
                        enum ob_rw_protocol protocol)
{
    if (shard >= c->n_shards || len == 0)
        return -EINVAL;
    struct shard *s = &c->shards[shard];
    if (s->busy)
        return -EBUSY;
    if (len > s->cap) {
        unsigned char *b = realloc(s->body, len);
        if (!b)
            return -ENOMEM;
        s->body = b;
        s->cap = len;
    }
    memcpy(s->body, body, len);
    s->len = len;
    s->protocol = protocol;
    s->busy = true;
    s->backoff_ms = c->min_backoff_ms;
    s->attempts = 0;
    start(c, s);
    return 0;
}

/* Starts the retries due by now; returns ms until the next one (-1: none). */
static int64_t start_due(struct ob_rw_client *c)
{
    int64_t now = ob_mono_ns(), next = -1;
    for (unsigned i = 0; i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        if (!s->busy || s->in_multi)
            continue;
        if (s->retry_at <= now) {
            count(&c->retries, 1);
            start(c, s);
        }
        if (!s->in_multi) { /* not due, or could not start: scheduled again */
            int64_t ms = (s->retry_at - now + 999999) / 1000000;
            if (next < 0 || ms < next)
                next = ms;
        }
    }
    return next;
}

/* Transfers what is ready and finishes what is done. */
static int perform(struct ob_rw_client *c, ob_rw_done_fn *on_done, void *ctx)
{
    int running;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return -EIO;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode result = m->data.result; /* m is gone once the handle is removed */
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        attempt_done(c, (struct shard *)priv, result, on_done, ctx);
    }
    return 0;
}

int ob_rw_client_poll(struct ob_rw_client *c, int timeout_ms, ob_rw_done_fn *on_done, void *ctx)
{
    c->finished = 0;
    if (perform(c, on_done, ctx))
        return -EIO;
    int64_t next = start_due(c);
    int64_t wait = timeout_ms < 0 ? 0 : timeout_ms;
    if (c->finished)
        wait = 0; /* hand back what finished now; the caller polls again */
    if (next >= 0 && next < wait)
        wait = next;
    if (curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
        return -EIO;
    if (perform(c, on_done, ctx))
        return -EIO;
    start_due(c);
    return c->finished;
}

void ob_rw_client_wakeup(struct ob_rw_client *c)
{
    curl_multi_wakeup(c->multi);
}

void ob_rw_client_stats(const struct ob_rw_client *c, struct ob_rw_client_stats *out)
{
    /* The counters are atomics only so that other threads can read them. */
    struct ob_rw_client *m = (struct ob_rw_client *)c;
    out->requests = atomic_load_explicit(&m->requests, memory_order_relaxed);
    out->sent = atomic_load_explicit(&m->sent, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
    out->retries = atomic_load_explicit(&m->retries, memory_order_relaxed);
    out->bytes_sent = atomic_load_explicit(&m->bytes_sent, memory_order_relaxed);
    for (int i = 0; i < OB_RW_FAIL__COUNT; i++)
        out->failures[i] = atomic_load_explicit(&m->failures[i], memory_order_relaxed);
}

unsigned ob_rw_client_attempts(const struct ob_rw_client *c, unsigned shard)
{
    return shard < c->n_shards ? c->shards[shard].attempts : 0;
}
