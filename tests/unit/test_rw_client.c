/* test_rw_client.c: the remote-write HTTP engine against a receiver inside
 * the test (libmicrohttpd on 127.0.0.1, a thread per connection) that
 * answers from a script and records every request: headers, body, arrival
 * time and the client's port (the same port twice = a kept-alive
 * connection).  Waits are checked from below only (a busy machine is
 * slower, never faster). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_log.h"
#include "ob_rw_client.h"
#include "ob_time.h"

/* One scripted answer. */
struct step {
    int status;
    const char *body;
    const char *retry_after;   /* NULL: no Retry-After */
    const char *written;       /* NULL, or "samples,histograms,exemplars" for the 2.0 headers */
    int delay_ms;              /* before answering */
};

/* What the receiver saw of one request. */
struct seen {
    char content_type[128], content_encoding[32], version[32], user_agent[64];
    char authorization[128], orgid[64], expect[32], host[64];
    unsigned char body[256];
    size_t len;
    int64_t at_ns; /* monotonic, when the body was complete */
    unsigned client_port;
    bool client_cert; /* mutual TLS: a client certificate the receiver's CA verified */
};

static struct receiver {
    struct MHD_Daemon *d;
    unsigned port;
    pthread_mutex_t mu;
    struct step steps[16];
    size_t n_steps, next;
    struct seen seen[64];
    size_t n_seen;
    int inflight, max_inflight;
    bool mtls; /* answer 403 to a request without a verified client certificate */
} rx;

struct upload {
    unsigned char data[256];
    size_t len;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void copy_header(struct MHD_Connection *conn, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    struct upload *u = *con_cls;
    if (!u) {
        *con_cls = u = calloc(1, sizeof *u);
        return u ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        size_t n = OB_MIN(*upload_data_size, sizeof u->data - u->len);
        memcpy(u->data + u->len, upload_data, n);
        u->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct step st = {.status = 200};
    pthread_mutex_lock(&rx.mu);
    if (rx.next < rx.n_steps)
        st = rx.steps[rx.next++];
    if (rx.n_seen < OB_ARRAY_LEN(rx.seen)) {
        struct seen *s = &rx.seen[rx.n_seen++];
        copy_header(conn, "Content-Type", s->content_type, sizeof s->content_type);
        copy_header(conn, "Content-Encoding", s->content_encoding, sizeof s->content_encoding);
        copy_header(conn, "X-Prometheus-Remote-Write-Version", s->version, sizeof s->version);
        copy_header(conn, "User-Agent", s->user_agent, sizeof s->user_agent);
        copy_header(conn, "Authorization", s->authorization, sizeof s->authorization);
        copy_header(conn, "X-Scope-OrgID", s->orgid, sizeof s->orgid);
        copy_header(conn, "Expect", s->expect, sizeof s->expect);
        copy_header(conn, "Host", s->host, sizeof s->host);
        memcpy(s->body, u->data, u->len);
        s->len = u->len;
        s->at_ns = ob_mono_ns();
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr->sa_family == AF_INET)
            s->client_port = ntohs(((const struct sockaddr_in *)ci->client_addr)->sin_port);
        if (rx.mtls) {
            /* libmicrohttpd asks for a client certificate when it has a CA
             * to trust (MHD_OPTION_HTTPS_MEM_TRUST); checking it is ours. */
            const union MHD_ConnectionInfo *ti =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
            unsigned status = 1, n = 0;
            if (ti && gnutls_certificate_verify_peers2((gnutls_session_t)ti->tls_session, &status) == 0)
                gnutls_certificate_get_peers((gnutls_session_t)ti->tls_session, &n);
            s->client_cert = status == 0 && n > 0;
            if (!s->client_cert)
                st = (struct step){.status = 403, .body = "client certificate required"};
        }
    }
    rx.inflight++;
    rx.max_inflight = OB_MAX(rx.max_inflight, rx.inflight);
    pthread_mutex_unlock(&rx.mu);

    if (st.delay_ms)
        sleep_ms(st.delay_ms);
    const char *body = st.body ? st.body : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (st.retry_after)
        MHD_add_response_header(r, "Retry-After", st.retry_after);
    if (st.written) {
        char s[32], h[32], e[32];
        if (sscanf(st.written, "%31[^,],%31[^,],%31s", s, h, e) == 3) {
            MHD_add_response_header(r, "X-Prometheus-Remote-Write-Samples-Written", s);
            MHD_add_response_header(r, "X-Prometheus-Remote-Write-Histograms-Written", h);
            MHD_add_response_header(r, "X-Prometheus-Remote-Write-Exemplars-Written", e);
        }
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)st.status, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&rx.mu);
    rx.inflight--;
    pthread_mutex_unlock(&rx.mu);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* A CA and a certificate it signed for DNS:rw.test (not for 127.0.0.1),
 * valid 2020 to 2120; P-256 keys.  Test material only. */
static const char TEST_CA[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBcDCCARWgAwIBAgIBATAKBggqhkjOPQQDAjAeMRwwGgYDVQQDDBNvdGxwLWJy\n"
    "b2tlciB0ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAe\n"
    "MRwwGgYDVQQDDBNvdGxwLWJyb2tlciB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZI\n"
    "zj0DAQcDQgAExaNLupPo6GC/Ymxri4aZCxAq40Wq8o6WTooUSYxBOB96sbYpKijn\n"
    "vsC42Yym8MvfkstR6P1I+KWDkpXvr1J77qNCMEAwDwYDVR0TAQH/BAUwAwEB/zAO\n"
    "BgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFNvx2DVpqW2/7NLO6sX7hl9alQ7TMAoG\n"
    "CCqGSM49BAMCA0kAMEYCIQD2hUrzia22WgvIbrW219q0rALpA7Q3S7K1FNF0Ie71\n"
    "zQIhAPSWes3YekwfTC65GOiszc2OrTcIyk/j9xuvWPRQQulL\n"
    "-----END CERTIFICATE-----\n";
static const char TEST_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBpTCCAUygAwIBAgIBAjAKBggqhkjOPQQDAjAeMRwwGgYDVQQDDBNvdGxwLWJy\n"
    "b2tlciB0ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAS\n"
    "MRAwDgYDVQQDDAdydy50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYeGn\n"
    "zOpzv5HgCoghVv42tIZ7dvBdrqwy0B4UFOrBoy0nm0oFsrajFzbdDjWKGvYjgvFt\n"
    "dXX5Szj1h7BuDdZyi6OBhDCBgTASBgNVHREECzAJggdydy50ZXN0MAkGA1UdEwQC\n"
    "MAAwCwYDVR0PBAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMB8GA1UdIwQYMBaA\n"
    "FNvx2DVpqW2/7NLO6sX7hl9alQ7TMB0GA1UdDgQWBBRPSNWh79APUTwSVkB/Vf8r\n"
    "INP0qzAKBggqhkjOPQQDAgNHADBEAiB7VcZLqNq3HwsH6VXueeQ6GlNLmrZ1aqMv\n"
    "DHv6zz+7bAIgb7JY4cXvR+1EBcj8o7j6zFwWDzMRKnfPPFoj6YoPp3o=\n"
    "-----END CERTIFICATE-----\n";
static const char TEST_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVNgYPvc09cXx1AP6\n"
    "9JWKKu8QorBwKlllzOPvA+Lp2mOhRANCAARh4afM6nO/keAKiCFW/ja0hnt28F2u\n"
    "rDLQHhQU6sGjLSebSgWytqMXNt0ONYoa9iOC8W11dflLOPWHsG4N1nKL\n"
    "-----END PRIVATE KEY-----\n";

/* Mutual TLS: a second CA (its key is not kept), a server certificate it
 * signed for IP:127.0.0.1 and a client certificate (clientAuth), valid to
 * 2126; P-256 keys.  Test material only. */
static const char MTLS_CA[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlTCCATqgAwIBAgIBATAKBggqhkjOPQQDAjAgMR4wHAYDVQQDDBVvdGxwLWJy\n"
    "b2tlciB0ZXN0IENBIDIwIBcNMjYxMjAxMTgwOTQwWhgPMjEyNjExMDcxODA5NDBa\n"
    "MCAxHjAcBgNVBAMMFW90bHAtYnJva2VyIHRlc3QgQ0EgMjBZMBMGByqGSM49AgEG\n"
    "CCqGSM49AwEHA0IABHP4b8I5pXSKTyVfMwb7+fRNNc/TtrBFAzFu1LyEME6qWBG5\n"
    "jp02uB03/L8L+3BvOZzmts37nhMzO3O9ID6LB5qjYzBhMB0GA1UdDgQWBBSdTJeK\n"
    "CcZlVTiMYL/1NgPu8anInDAfBgNVHSMEGDAWgBSdTJeKCcZlVTiMYL/1NgPu8anI\n"
    "nDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNJ\n"
    "ADBGAiEAxyVouzjnRZPvlWk3rfsN5+8kHNzZyoYxJgoHGI6l+XQCIQD9qDFoCka3\n"
    "fGbP7/4gy2XsGJL1i/P9jRGIOv2658hejQ==\n"
    "-----END CERTIFICATE-----\n";
static const char MTLS_SERVER_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBpzCCAUygAwIBAgICK9EwCgYIKoZIzj0EAwIwIDEeMBwGA1UEAwwVb3RscC1i\n"
    "cm9rZXIgdGVzdCBDQSAyMCAXDTI2MTIwMTE4MDk0MFoYDzIxMjYxMTA3MTgwOTQw\n"
    "WjATMREwDwYDVQQDDAhzcnYudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA\n"
    "BAGRDW6sVUza4Opisb62OOkQsu5pjdhezm7eCLhPKfaL6fCnhAgpQzNPMTRnGGrZ\n"
    "7dQcvs6N4qOkpDBcLYNIIQajgYAwfjAPBgNVHREECDAGhwR/AAABMAkGA1UdEwQC\n"
    "MAAwCwYDVR0PBAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMB0GA1UdDgQWBBSa\n"
    "foHz+exAaEm7RgBXwAfR1hXHZzAfBgNVHSMEGDAWgBSdTJeKCcZlVTiMYL/1NgPu\n"
    "8anInDAKBggqhkjOPQQDAgNJADBGAiEApeXrPB1Av+wNEOOChgF1VflkseF27WO4\n"
    "1OxnnmfbyJACIQCbtNl70QJSxBeB+f50p2ad49BuCGMvWhdKoxKxfQrPow==\n"
    "-----END CERTIFICATE-----\n";
static const char MTLS_SERVER_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgExqRwRTqqjHIfnVw\n"
    "7uY0TYNgzTsdjMTQbTotpS5Q3W6hRANCAAQBkQ1urFVM2uDqYrG+tjjpELLuaY3Y\n"
    "Xs5u3gi4Tyn2i+nwp4QIKUMzTzE0Zxhq2e3UHL7OjeKjpKQwXC2DSCEG\n"
    "-----END PRIVATE KEY-----\n";
static const char MTLS_CLIENT_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBkzCCATqgAwIBAgICR9UwCgYIKoZIzj0EAwIwIDEeMBwGA1UEAwwVb3RscC1i\n"
    "cm9rZXIgdGVzdCBDQSAyMCAXDTI2MTIwMTE4MDk0MFoYDzIxMjYxMTA3MTgwOTQw\n"
    "WjATMREwDwYDVQQDDAhjbGkudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA\n"
    "BDhOE1V0ZqJT8H3TgkvO48x60I+d65Qzji5wFdA793xBZcfEvieoPouGPzEt/8Dc\n"
    "HE6y0LDyaxcwSdPqNBs5mjijbzBtMAkGA1UdEwQCMAAwCwYDVR0PBAQDAgeAMBMG\n"
    "A1UdJQQMMAoGCCsGAQUFBwMCMB0GA1UdDgQWBBTPvKIwHFVF3/i0o8nMCmP0sN9v\n"
    "TzAfBgNVHSMEGDAWgBSdTJeKCcZlVTiMYL/1NgPu8anInDAKBggqhkjOPQQDAgNH\n"
    "ADBEAiATr7ZBMSw7hLJKpmqTtphmh19Iw0OHk+jnOBA4jh6w4gIgB/zRYypcidg6\n"
    "+hNJbWtsqGRqnCm2+caIiXspyJGcyes=\n"
    "-----END CERTIFICATE-----\n";
static const char MTLS_CLIENT_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQge1HsSvJseuqw//+1\n"
    "qLMW87tjRxl6CCFNZopHYEyH8/ShRANCAAQ4ThNVdGaiU/B904JLzuPMetCPneuU\n"
    "M44ucBXQO/d8QWXHxL4nqD6Lhj8xLf/A3BxOstCw8msXMEnT6jQbOZo4\n"
    "-----END PRIVATE KEY-----\n";

enum rx_mode { RX_PLAIN, RX_TLS, RX_MTLS };

static void rx_start(enum rx_mode mode)
{
    memset(&rx, 0, sizeof rx);
    pthread_mutex_init(&rx.mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (mode == RX_TLS)
        rx.d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, NULL,
                                MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                                on_completed, NULL, MHD_OPTION_HTTPS_MEM_KEY, TEST_KEY,
                                MHD_OPTION_HTTPS_MEM_CERT, TEST_CERT, MHD_OPTION_END);
    else if (mode == RX_MTLS)
        rx.d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, NULL,
                                MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                                on_completed, NULL, MHD_OPTION_HTTPS_MEM_KEY, MTLS_SERVER_KEY,
                                MHD_OPTION_HTTPS_MEM_CERT, MTLS_SERVER_CERT, MHD_OPTION_HTTPS_MEM_TRUST,
                                MTLS_CA, MHD_OPTION_END);
    else
        rx.d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(rx.d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(rx.d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(di);
    rx.port = di->port;
    ck_assert_uint_ne(rx.port, 0);
    rx.mtls = mode == RX_MTLS;
}

static void rx_stop(void)
{
    if (rx.d)
        MHD_stop_daemon(rx.d);
    rx.d = NULL;
    pthread_mutex_destroy(&rx.mu);
}

static void rx_script(const struct step *steps, size_t n)
{
    pthread_mutex_lock(&rx.mu);
    memcpy(rx.steps, steps, n * sizeof *steps);
    rx.n_steps = n;
    rx.next = 0;
    pthread_mutex_unlock(&rx.mu);
}

static size_t rx_count(void)
{
    pthread_mutex_lock(&rx.mu);
    size_t n = rx.n_seen;
    pthread_mutex_unlock(&rx.mu);
    return n;
}

/* A target with the defaults, to rx (or to port), with short backoffs. */
static struct ob_rw_target_cfg target_cfg(unsigned port)
{
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/write", port);
    return (struct ob_rw_target_cfg){
        .name = "t",
        .section = "remote_write.t",
        .url = url,
        .protocol = OB_RW_PROTO_1_0,
        .headers = "",
        .bearer_token_file = "",
        .basic_auth_username = "",
        .basic_auth_password_file = "",
        .timeout_ms = 5000,
        .batch_size = 2000,
        .batch_deadline_ms = 5000,
        .shards = 1,
        .min_backoff_ms = 10,
        .max_backoff_ms = 40,
        .retry_on_429 = true,
        .tls_ca_file = "",
        .tls_cert_file = "",
        .tls_key_file = "",
        .tls_server_name = "",
    };
}

static struct ob_rw_client *client(const struct ob_rw_target_cfg *cfg)
{
    struct ob_rw_client *c = NULL;
    char err[OB_ERR_LEN];
    int rc = ob_rw_client_create(cfg, &c, err);
    ck_assert_msg(rc == 0, "create: %d %s", rc, err);
    return c;
}

/* What on_done reported. */
struct result {
    unsigned shard;
    enum ob_rw_outcome outcome;
    int status;
    char message[300];
    bool has_written;
    struct ob_rw_written written;
};
static struct done {
    struct result r[16];
    size_t n;
} done;

static void on_done(void *ctx, unsigned shard, enum ob_rw_outcome outcome, int http_status,
                    const char *message, const struct ob_rw_written *written)
{
    struct done *d = ctx;
    ck_assert_uint_lt(d->n, OB_ARRAY_LEN(d->r));
    struct result *r = &d->r[d->n++];
    r->shard = shard;
    r->outcome = outcome;
    r->status = http_status;
    snprintf(r->message, sizeof r->message, "%s", message);
    r->has_written = written != NULL;
    if (written)
        r->written = *written;
}

/* Polls until n bodies are done in all (fails after max_ms). */
static void run_until(struct ob_rw_client *c, size_t n, int max_ms)
{
    int64_t end = ob_mono_ns() + (int64_t)max_ms * 1000000;
    while (done.n < n) {
        ck_assert_msg(ob_mono_ns() < end, "only %zu of %zu done", done.n, n);
        ck_assert_int_ge(ob_rw_client_poll(c, 50, on_done, &done), 0);
    }
}

/* Polls for ms, whatever happens. */
static void run_for(struct ob_rw_client *c, int ms)
{
    int64_t end = ob_mono_ns() + (int64_t)ms * 1000000;
    while (ob_mono_ns() < end)
        ck_assert_int_ge(ob_rw_client_poll(c, 20, on_done, &done), 0);
}

static void setup(void)
{
    ob_log_set_level(OB_LOG_ERROR); /* the retries and drops the tests cause are expected */
    memset(&done, 0, sizeof done);
    rx_start(RX_PLAIN);
}

static void teardown(void)
{
    rx_stop();
}

static const unsigned char BODY[] = {0x00, 0xff, 's', 'n', 'a', 'p', 'p', 'y', 0x0a, 0x00, 0x7f};

START_TEST(sent_with_headers)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    struct ob_kv hdr = {"X-Scope-OrgID", "tenant1"};
    cfg.header_kv = &hdr;
    cfg.n_headers = 1;
    struct ob_rw_client *c = client(&cfg);
    ck_assert_uint_eq(ob_rw_client_shards(c), 1);
    struct step steps[] = {{.status = 200}, {.status = 204, .written = "3,1,0"}};
    rx_script(steps, 2);

    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    ck_assert(ob_rw_client_busy(c, 0));
    run_until(c, 1, 5000);
    ck_assert(!ob_rw_client_busy(c, 0));
    ck_assert_int_eq(done.r[0].outcome, OB_RW_SENT);
    ck_assert_int_eq(done.r[0].status, 200);
    ck_assert_str_eq(done.r[0].message, "");
    ck_assert(!done.r[0].has_written); /* 1.0 receivers send no counts */
    ck_assert_uint_eq(rx_count(), 1);
    const struct seen *s = &rx.seen[0];
    ck_assert_str_eq(s->content_type, "application/x-protobuf");
    ck_assert_str_eq(s->content_encoding, "snappy");
    ck_assert_str_eq(s->version, "0.1.0");
    ck_assert_str_eq(s->user_agent, "otlp-broker/" OB_VERSION);
    ck_assert_str_eq(s->orgid, "tenant1");
    ck_assert_str_eq(s->expect, "");
    ck_assert_str_eq(s->authorization, "");
    ck_assert_uint_eq(s->len, sizeof BODY);
    ck_assert_mem_eq(s->body, BODY, sizeof BODY);

    /* 2.0 on the same shard: its headers, the counts, the same connection. */
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, 5, OB_RW_PROTO_2_0), 0);
    run_until(c, 2, 5000);
    ck_assert_int_eq(done.r[1].outcome, OB_RW_SENT);
    ck_assert_int_eq(done.r[1].status, 204);
    ck_assert(done.r[1].has_written);
    ck_assert_int_eq(done.r[1].written.samples, 3);
    ck_assert_int_eq(done.r[1].written.histograms, 1);
    ck_assert_int_eq(done.r[1].written.exemplars, 0);
    s = &rx.seen[1];
    ck_assert_str_eq(s->content_type,
                     "application/x-protobuf;proto=io.prometheus.write.v2.Request");
    ck_assert_str_eq(s->version, "2.0.0");
    ck_assert_uint_eq(s->len, 5);
    ck_assert_uint_eq(s->client_port, rx.seen[0].client_port); /* kept alive */

    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_eq(st.requests, 2);
    ck_assert_uint_eq(st.sent, 2);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.bytes_sent, sizeof BODY + 5);
    ob_rw_client_destroy(c);
}
END_TEST

START_TEST(retry_500_same_bytes)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    struct ob_rw_client *c = client(&cfg);
    struct step steps[] = {{.status = 500, .body = "try later"}, {.status = 200}};
    rx_script(steps, 2);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_SENT);
    ck_assert_int_eq(done.r[0].status, 200);
    ck_assert_uint_eq(rx_count(), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(rx.seen[i].len, sizeof BODY);
        ck_assert_mem_eq(rx.seen[i].body, BODY, sizeof BODY);
    }
    /* At least half the first backoff (equal jitter) between the two. */
    ck_assert_int_ge(rx.seen[1].at_ns - rx.seen[0].at_ns, 5 * 1000000);
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_eq(st.requests, 2);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.failures[OB_RW_FAIL_5XX], 1);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.bytes_sent, 2 * sizeof BODY);
    ck_assert_uint_eq(ob_rw_client_attempts(c, 0), 2); /* kept after the body is done */
    ob_rw_client_destroy(c);
}
END_TEST

START_TEST(retry_after_429)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    struct ob_rw_client *c = client(&cfg);
    struct step steps[] = {{.status = 429, .retry_after = "1"}, {.status = 200}};
    rx_script(steps, 2);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_SENT);
    ck_assert_uint_eq(rx_count(), 2);
    /* Retry-After: 1 beats max_backoff (40 ms). */
    ck_assert_int_ge(rx.seen[1].at_ns - rx.seen[0].at_ns, 950 * 1000000ll);
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.failures[OB_RW_FAIL_429], 1);
    ob_rw_client_destroy(c);
}
END_TEST

START_TEST(dropped_400)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    struct ob_rw_client *c = client(&cfg);
    struct step steps[] = {{.status = 400, .body = "  bad labels\n"}};
    rx_script(steps, 1);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_DROPPED);
    ck_assert_int_eq(done.r[0].status, 400);
    ck_assert_str_eq(done.r[0].message, "bad labels");
    ck_assert(!ob_rw_client_busy(c, 0));
    run_for(c, 150); /* longer than every backoff: no retry comes */
    ck_assert_uint_eq(rx_count(), 1);
    ck_assert_uint_eq(done.n, 1);
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.failures[OB_RW_FAIL_4XX], 1);
    ob_rw_client_destroy(c);

    /* A long message is cut to 256 bytes, on one line. */
    static char long_body[600];
    memset(long_body, 'x', sizeof long_body - 1);
    long_body[10] = '\n';
    struct step long_step[] = {{.status = 422, .body = long_body}};
    rx_script(long_step, 1);
    c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 2, 5000);
    ck_assert_int_eq(done.r[1].outcome, OB_RW_DROPPED);
    ck_assert_uint_eq(strlen(done.r[1].message), 256);
    ck_assert_ptr_null(strchr(done.r[1].message, '\n'));
    ob_rw_client_destroy(c);
}
END_TEST

START_TEST(no_retry_on_429_when_off)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.retry_on_429 = false;
    struct ob_rw_client *c = client(&cfg);
    struct step steps[] = {{.status = 429, .body = "slow down", .retry_after = "1"}};
    rx_script(steps, 1);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_DROPPED);
    ck_assert_int_eq(done.r[0].status, 429);
    ck_assert_str_eq(done.r[0].message, "slow down");
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_eq(st.failures[OB_RW_FAIL_429], 1);
    ck_assert_uint_eq(st.retries, 0);
    ob_rw_client_destroy(c);
}
END_TEST

/* A receiver that takes the connection and never answers. */
START_TEST(timeout_then_backoff)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);

    struct ob_rw_target_cfg cfg = target_cfg(ntohs(sa.sin_port));
    cfg.timeout_ms = 300;
    cfg.min_backoff_ms = 50;
    cfg.max_backoff_ms = 100;
    struct ob_rw_client *c = client(&cfg);
    int64_t t0 = ob_mono_ns();
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    struct ob_rw_client_stats st;
    do {
        run_for(c, 50);
        ob_rw_client_stats(c, &st);
        ck_assert_msg(ob_mono_ns() - t0 < 8000 * 1000000ll, "no second timeout");
    } while (st.failures[OB_RW_FAIL_TIMEOUT] < 2);
    /* Two timeouts of 300 ms and a backoff of at least 25 ms between. */
    ck_assert_int_ge(ob_mono_ns() - t0, 625 * 1000000ll);
    ck_assert_uint_ge(st.retries, 1);
    ck_assert_uint_ge(st.requests, 2);
    ck_assert_uint_eq(done.n, 0); /* nothing given up */
    ck_assert(ob_rw_client_busy(c, 0));
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, 1, OB_RW_PROTO_1_0), -EBUSY);
    ob_rw_client_destroy(c);
    close(fd);
}
END_TEST

static char tmpdir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(bearer_and_basic_auth)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ob_rw_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char token[128], pw[128];
    snprintf(token, sizeof token, "%s/token", tmpdir);
    snprintf(pw, sizeof pw, "%s/pw", tmpdir);

    /* The token file is missing at first: retried until it is there. */
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.bearer_token_file = token;
    struct ob_rw_client *c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_for(c, 60);
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_ge(st.failures[OB_RW_FAIL_AUTH], 1);
    ck_assert_uint_eq(rx_count(), 0);
    write_file(token, "  tok-1\n");
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_SENT);
    ck_assert_str_eq(rx.seen[0].authorization, "Bearer tok-1");
    /* Rotated: the next request has the new one. */
    write_file(token, "tok-22\n");
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 2, 5000);
    ck_assert_str_eq(rx.seen[1].authorization, "Bearer tok-22");
    ob_rw_client_destroy(c);

    cfg = target_cfg(rx.port);
    cfg.basic_auth_username = "ob";
    cfg.basic_auth_password_file = pw;
    write_file(pw, "secret\n");
    c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 3, 5000);
    ck_assert_int_eq(done.r[2].outcome, OB_RW_SENT);
    ck_assert_str_eq(rx.seen[2].authorization, "Basic b2I6c2VjcmV0"); /* ob:secret */
    ob_rw_client_destroy(c);

    unlink(token);
    unlink(pw);
    rmdir(tmpdir);
}
END_TEST

START_TEST(shards_in_parallel)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.shards = 4;
    struct ob_rw_client *c = client(&cfg);
    ck_assert_uint_eq(ob_rw_client_shards(c), 4);
    struct step steps[4];
    for (int i = 0; i < 4; i++)
        steps[i] = (struct step){.status = 200, .delay_ms = 500};
    rx_script(steps, 4);
    unsigned char bodies[4][8];
    for (unsigned i = 0; i < 4; i++) {
        memset(bodies[i], 'a' + (int)i, sizeof bodies[i]);
        ck_assert_int_eq(ob_rw_client_submit(c, i, bodies[i], sizeof bodies[i], OB_RW_PROTO_1_0),
                         0);
    }
    for (unsigned i = 0; i < 4; i++)
        ck_assert(ob_rw_client_busy(c, i));
    ck_assert_int_eq(ob_rw_client_submit(c, 2, BODY, 1, OB_RW_PROTO_1_0), -EBUSY);
    ck_assert_int_eq(ob_rw_client_submit(c, 4, BODY, 1, OB_RW_PROTO_1_0), -EINVAL);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, 0, OB_RW_PROTO_1_0), -EINVAL);
    ck_assert(!ob_rw_client_busy(c, 4));
    run_until(c, 4, 8000);
    pthread_mutex_lock(&rx.mu);
    int max_inflight = rx.max_inflight;
    pthread_mutex_unlock(&rx.mu);
    ck_assert_int_eq(max_inflight, 4); /* each answer takes 500 ms: all four overlapped */
    bool seen_shard[4] = {false};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(done.r[i].outcome, OB_RW_SENT);
        seen_shard[done.r[i].shard] = true;
    }
    for (int i = 0; i < 4; i++)
        ck_assert(seen_shard[i]);
    /* Each body arrived once, intact. */
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(rx.seen[i].len, 8);
        for (size_t k = 1; k < 8; k++)
            ck_assert_int_eq(rx.seen[i].body[k], rx.seen[i].body[0]);
    }
    ob_rw_client_destroy(c);
}
END_TEST

static void *wake_later(void *arg)
{
    sleep_ms(100);
    ob_rw_client_wakeup(arg);
    return NULL;
}

START_TEST(wakeup)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    struct ob_rw_client *c = client(&cfg);
    /* From another thread, during a poll that would wait 10 s. */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, wake_later, c), 0);
    int64_t t0 = ob_mono_ns();
    ck_assert_int_eq(ob_rw_client_poll(c, 10000, on_done, &done), 0);
    ck_assert_int_lt(ob_mono_ns() - t0, 10000 * 1000000ll); /* it did not wait it out */
    pthread_join(t, NULL);
    /* Before the poll: that poll returns at once. */
    ob_rw_client_wakeup(c);
    t0 = ob_mono_ns();
    ck_assert_int_eq(ob_rw_client_poll(c, 10000, on_done, &done), 0);
    ck_assert_int_lt(ob_mono_ns() - t0, 10000 * 1000000ll);
    ob_rw_client_destroy(c);
}
END_TEST

/* https with the test CA: tls_server_name is the name the certificate is
 * checked against, while the connection goes to the URL's 127.0.0.1 and
 * Host: still names it. */
START_TEST(tls_server_name)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return; /* libmicrohttpd built without TLS: nothing to test against */
    rx_stop();
    rx_start(RX_TLS);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ob_rw_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char ca[128], url[96], host[64];
    snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
    write_file(ca, TEST_CA);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/api/v1/write", rx.port);
    snprintf(host, sizeof host, "127.0.0.1:%u", rx.port);

    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.url = url;
    cfg.tls_ca_file = ca;
    cfg.tls_server_name = "rw.test";
    struct ob_rw_client *c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_SENT);
    ck_assert_uint_eq(rx_count(), 1);
    ck_assert_str_eq(rx.seen[0].host, host);
    ck_assert_mem_eq(rx.seen[0].body, BODY, sizeof BODY);
    ob_rw_client_destroy(c);

    /* Without it the certificate does not name 127.0.0.1: refused, retried. */
    cfg.tls_server_name = "";
    c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_for(c, 200);
    struct ob_rw_client_stats st;
    ob_rw_client_stats(c, &st);
    ck_assert_uint_ge(st.failures[OB_RW_FAIL_NETWORK], 1);
    ck_assert_uint_eq(done.n, 1);
    ck_assert_uint_eq(rx_count(), 1);
    ob_rw_client_destroy(c);

    /* tls_insecure_skip_verify takes any certificate. */
    cfg.tls_ca_file = "";
    cfg.tls_insecure_skip_verify = true;
    c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 2, 5000);
    ck_assert_int_eq(done.r[1].outcome, OB_RW_SENT);
    ob_rw_client_destroy(c);

    unlink(ca);
    rmdir(tmpdir);
}
END_TEST

/* Mutual TLS: a receiver that wants a client certificate refuses a client
 * without one (403: dropped, not retried) and takes one with
 * tls_cert_file and tls_key_file, which its CA verifies. */
START_TEST(tls_client_certificate)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return; /* libmicrohttpd built without TLS: nothing to test against */
    rx_stop();
    rx_start(RX_MTLS);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ob_rw_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char ca[128], cert[128], key[128], url[96];
    snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
    snprintf(cert, sizeof cert, "%s/client.pem", tmpdir);
    snprintf(key, sizeof key, "%s/client.key", tmpdir);
    write_file(ca, MTLS_CA);
    write_file(cert, MTLS_CLIENT_CERT);
    write_file(key, MTLS_CLIENT_KEY);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/api/v1/write", rx.port);

    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.url = url;
    cfg.tls_ca_file = ca;
    struct ob_rw_client *c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 1, 5000);
    ck_assert_int_eq(done.r[0].outcome, OB_RW_DROPPED);
    ck_assert_int_eq(done.r[0].status, 403);
    ck_assert(!rx.seen[0].client_cert);
    ob_rw_client_destroy(c);

    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    c = client(&cfg);
    ck_assert_int_eq(ob_rw_client_submit(c, 0, BODY, sizeof BODY, OB_RW_PROTO_1_0), 0);
    run_until(c, 2, 5000);
    ck_assert_int_eq(done.r[1].outcome, OB_RW_SENT);
    ck_assert(rx.seen[1].client_cert);
    ck_assert_mem_eq(rx.seen[1].body, BODY, sizeof BODY);
    ob_rw_client_destroy(c);

    unlink(ca);
    unlink(cert);
    unlink(key);
    rmdir(tmpdir);
}
END_TEST

/* A URL libcurl cannot take is a configuration error at create. */
START_TEST(bad_url)
{
    struct ob_rw_target_cfg cfg = target_cfg(rx.port);
    cfg.url = "http://bad host/w";
    struct ob_rw_client *c = NULL;
    char err[OB_ERR_LEN];
    ck_assert_int_eq(ob_rw_client_create(&cfg, &c, err), OB_E_CONFIG);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "remote_write.t.url"), "%s", err);
}
END_TEST

Suite *rw_client_suite(void);
Suite *rw_client_suite(void)
{
    Suite *s = suite_create("rw_client");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sent_with_headers);
    tcase_add_test(tc, retry_500_same_bytes);
    tcase_add_test(tc, retry_after_429);
    tcase_add_test(tc, dropped_400);
    tcase_add_test(tc, no_retry_on_429_when_off);
    tcase_add_test(tc, timeout_then_backoff);
    tcase_add_test(tc, bearer_and_basic_auth);
    tcase_add_test(tc, shards_in_parallel);
    tcase_add_test(tc, wakeup);
    tcase_add_test(tc, tls_server_name);
    tcase_add_test(tc, tls_client_certificate);
    tcase_add_test(tc, bad_url);
    suite_add_tcase(s, tc);
    return s;
}
