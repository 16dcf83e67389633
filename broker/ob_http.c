/* ob_http.c: the HTTP frontend on libmicrohttpd.
 *
 * A thin layer: route, check the headers, collect the body (within
 * limits.max_body_bytes), hand it to the request path (ob_request.h: gunzip,
 * decode, ingest, response), map its verdict to a status code.  No decoding
 * and no naming here.
 *
 * libmicrohttpd calls the access handler several times per request:
 *   1. headers are in, *con_cls == NULL: route and check; a request that can
 *      be answered at once (GET, or a POST refused by its headers) is
 *      answered here, before its body is read;
 *   2. once per piece of body (chunked or not: MHD removes the chunking);
 *   3. with *upload_data_size == 0: the body is complete, answer.
 * A POST refused in step 1 makes MHD close the connection after the answer
 * (it will not read the body); clients that send "Expect: 100-continue"
 * (curl above 1 MiB) then never send it at all.  A body that turns out too
 * large in step 2 (no Content-Length) is read to its end and dropped as it
 * arrives, so memory stays bounded and the connection stays usable; the 413
 * goes out in step 3.
 */
#include "ob_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ob_accept.h"
#include "ob_buf.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_expose.h"
#include "ob_gzip.h"
#include "ob_listen.h"
#include "ob_log.h"
#include "ob_remote_write.h"
#include "ob_request.h"
#include "ob_selfmetrics.h"
#include "ob_status.h"
#include "ob_time.h"

#define COMPONENT "http"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROTOBUF "application/x-protobuf"
#define CT_JSON "application/json"
#define CONN_MEMORY_BYTES (64 * 1024)

/* Connections are dealt round-robin by our own acceptor thread to one
 * single-threaded epoll daemon per worker.  MHD's own thread pool lets the
 * workers race for accept(), which on this 2-core class of machine often put
 * both of a client's connections on one worker and halved throughput. */
struct ob_http {
    struct MHD_Daemon **workers;
    unsigned n_workers;
    int listen_fd;
    pthread_t acceptor;
    bool acceptor_running;
    _Atomic bool stopping;
    struct ob_http_deps deps;
    uint16_t port;
    pthread_key_t scratch_key;
};

/* Per-thread buffers, reused across requests so that a scrape renders into
 * memory that is already the right size. */
struct scratch {
    struct ob_buf text;    /* /metrics exposition */
    struct ob_buf gz;      /* its gzip form */
    struct ob_buf own;     /* the self-metrics as text, for the other formats' writers */
    struct ob_request_bufs req; /* an OTLP request's inflated body and response */
};

/* One OTLP POST being received. */
struct req {
    struct ob_buf body;
    enum ob_body_encoding encoding;
    bool json;      /* application/json: OTLP/JSON in, JSON response out */
    bool too_large; /* body over the limit: the rest is dropped as it arrives */
    bool no_memory;
};

enum route_kind {
    ROUTE_OTLP, ROUTE_METRICS, ROUTE_HEALTHY, ROUTE_READY, ROUTE_RELOAD,
    ROUTE_STATUS_PAGE, ROUTE_STATUS_JSON, ROUTE_NAMES_JSON,
};

static const struct route {
    const char *path;
    enum route_kind kind;
    const char *allow; /* the Allow header of a 405 */
} routes[] = {
    {"/v1/metrics", ROUTE_OTLP, "POST"},
    {"/api/v1/otlp/v1/metrics", ROUTE_OTLP, "POST"},
    {"/metrics", ROUTE_METRICS, "GET, HEAD"},
    {"/-/healthy", ROUTE_HEALTHY, "GET, HEAD"},
    {"/-/ready", ROUTE_READY, "GET, HEAD"},
    {"/-/reload", ROUTE_RELOAD, "POST"},
    {"/", ROUTE_STATUS_PAGE, "GET, HEAD"},
    {"/status", ROUTE_STATUS_PAGE, "GET, HEAD"},
    {"/api/v1/status", ROUTE_STATUS_JSON, "GET, HEAD"},
    {"/api/v1/names", ROUTE_NAMES_JSON, "GET, HEAD"},
};

static struct ob_complaint complain_internal, complain_accept;

/* ---- small helpers -------------------------------------------------------- */

static void scratch_free(void *p)
{
    struct scratch *s = p;
    if (!s)
        return;
    ob_buf_fini(&s->text);
    ob_buf_fini(&s->gz);
    ob_buf_fini(&s->own);
    ob_request_bufs_fini(&s->req);
    free(s);
}

static struct scratch *scratch_get(struct ob_http *h)
{
    struct scratch *s = pthread_getspecific(h->scratch_key);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (s && pthread_setspecific(h->scratch_key, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static void buf_reset(struct ob_buf *b)
{
    b->len = 0;
    b->failed = false;
}

static void client_text(struct MHD_Connection *c, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    getnameinfo(ci->client_addr, len, buf, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
}

/* Queues a response whose body MHD copies.  extra: NULL-terminated
 * name/value pairs. */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                               const void *body, size_t len, const char *const *extra)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO; /* MHD closes the connection */
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (; extra && extra[0]; extra += 2)
        MHD_add_response_header(r, extra[0], extra[1]);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

OB_PRINTF(3, 4)
static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *fmt,
                                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : OB_MIN((size_t)n, sizeof msg - 2);
    msg[len++] = '\n';
    static const char *const retry[] = {"Retry-After", "1", NULL};
    return respond(c, status, CT_TEXT, msg, len,
                   status == MHD_HTTP_SERVICE_UNAVAILABLE ? retry : NULL);
}

/* Compares the media type of a Content-Type value, ignoring case, blanks
 * and any parameters after ';'. */
static bool media_type_is(const char *value, const char *want)
{
    if (!value)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(want);
    if (strncasecmp(value, want, n) != 0)
        return false;
    value += n;
    while (*value == ' ' || *value == '\t')
        value++;
    return *value == '\0' || *value == ';';
}

static bool token_is(const char *s, size_t len, const char *want)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

/* Accept-Encoding names gzip (or *) without q=0. */
static bool accepts_gzip(const char *value)
{
    for (const char *p = value; p && *p;) {
        size_t n = strcspn(p, ",");
        size_t name_len = strcspn(p, ",;");
        if (name_len > n)
            name_len = n;
        if (token_is(p, name_len, "gzip") || token_is(p, name_len, "*")) {
            const char *q = p + name_len;
            bool zero = false;
            while (q < p + n) {
                q++;
                while (*q == ' ' || *q == '\t')
                    q++;
                if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
                    zero = strtod(q + 2, NULL) <= 0.0;
                q += strcspn(q, ",;");
            }
            if (!zero)
                return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

/* ---- OTLP POST -------------------------------------------------------- */

/* Appends within the limit; the buffer never grows past it. */
static void body_append(struct req *r, const char *data, size_t n, uint64_t max)
{
    if (r->too_large || r->no_memory)
        return;
    if (n > max - r->body.len) {
        r->too_large = true;
        ob_buf_fini(&r->body); /* release it now, the rest is dropped */
        return;
    }
    if (!ob_buf_reserve_max(&r->body, n, (size_t)max)) {
        r->no_memory = true;
        ob_buf_fini(&r->body);
        return;
    }
    memcpy(r->body.data + r->body.len, data, n);
    r->body.len += n;
}

/* The HTTP answer to each outcome.  OTLP/HTTP: 400 is not retried, 413
 * and 415 neither; 503 is, honouring Retry-After. */
static const unsigned outcome_status[OB_OUT__COUNT] = {
    [OB_OUT_OK] = MHD_HTTP_OK,
    [OB_OUT_PARTIAL] = MHD_HTTP_OK,
    [OB_OUT_MALFORMED] = MHD_HTTP_BAD_REQUEST,
    [OB_OUT_TOO_LARGE] = MHD_HTTP_CONTENT_TOO_LARGE,
    [OB_OUT_UNSUPPORTED] = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
    [OB_OUT_OVERLOADED] = MHD_HTTP_SERVICE_UNAVAILABLE,
};

/* OTLP/HTTP says a 4xx body SHOULD be a protobuf google.rpc.Status.  We
 * answer text/plain: SDKs only log the body (the status code alone decides
 * retries), a person with curl can read it, and it cannot fail to encode. */
static enum MHD_Result respond_verdict(struct MHD_Connection *c, const struct ob_request *rq,
                                       const struct ob_verdict *v)
{
    unsigned status = outcome_status[v->outcome];
    if (v->outcome == OB_OUT_OK || v->outcome == OB_OUT_PARTIAL)
        return respond(c, status, rq->format == OB_PAYLOAD_JSON ? CT_JSON : CT_PROTOBUF,
                       v->response, v->response_len, NULL);
    return respond_text(c, status, "%s", v->message);
}

static void peer_text(const void *ctx, char *buf, size_t cap)
{
    client_text((struct MHD_Connection *)ctx, buf, cap);
}

static struct ob_request_path request_path(const struct ob_http *h)
{
    return (struct ob_request_path){.ingest = h->deps.ingest,
                                    .max_body = h->deps.cfg->max_body_bytes};
}

/* Step 1 of a POST: the headers decide whether it is read at all. */
static enum MHD_Result otlp_begin(struct ob_http *h, struct MHD_Connection *c, void **con_cls)
{
    struct ob_request rq = {.fe = OB_FE_HTTP, .peer = peer_text, .peer_ctx = c};
    struct ob_request_path path = request_path(h);
    struct ob_verdict v;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool json = media_type_is(ctype, CT_JSON);
    if (!json && !media_type_is(ctype, CT_PROTOBUF)) {
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, &v,
                          "unsupported content type '%s': expected " CT_PROTOBUF " or " CT_JSON,
                          ctype ? ctype : "");
        return respond_verdict(c, &rq, &v);
    }
    const char *enc =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    enum ob_body_encoding encoding = OB_ENC_IDENTITY;
    if (enc && ob_request_encoding(enc, strlen(enc), &encoding) != 0) {
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, &v,
                          "unsupported content encoding '%s': expected gzip or identity", enc);
        return respond_verdict(c, &rq, &v);
    }
    const char *clen =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t announced = clen ? strtoull(clen, NULL, 10) : 0;
    if (ob_request_over_limit(&path, &rq, announced, &v))
        return respond_verdict(c, &rq, &v);
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    r->encoding = encoding;
    r->json = json;
    /* A known length is allocated once, exactly. */
    if (announced) {
        r->body.data = malloc((size_t)announced);
        r->body.cap = r->body.data ? (size_t)announced : 0;
        r->no_memory = !r->body.data;
    }
    *con_cls = r;
    return MHD_YES;
}

/* Step 3 of a POST: the whole body is in. */
static enum MHD_Result otlp_end(struct ob_http *h, struct MHD_Connection *c, struct req *r)
{
    struct ob_request rq = {
        .fe = OB_FE_HTTP,
        .format = r->json ? OB_PAYLOAD_JSON : OB_PAYLOAD_PROTOBUF,
        .encoding = r->encoding,
        .body = r->body.data ? r->body.data : "", /* an empty body is a valid (empty) request */
        .len = r->body.len,
        .peer = peer_text,
        .peer_ctx = c,
    };
    struct ob_request_path path = request_path(h);
    struct ob_verdict v;
    struct scratch *s = scratch_get(h);
    if (r->too_large)
        ob_request_over_limit(&path, &rq, UINT64_MAX, &v);
    else if (r->no_memory || !s)
        ob_request_refuse(&rq, OB_OUT_OVERLOADED, &v, "out of memory");
    else
        ob_request_handle(&path, &rq, &s->req, &v);
    return respond_verdict(c, &rq, &v);
}

/* ---- GET ------------------------------------------------------------------ */

static enum MHD_Result serve_metrics(struct ob_http *h, struct MHD_Connection *c)
{
    int64_t t0 = ob_mono_ns();
    struct scratch *s = scratch_get(h);
    if (!s)
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    buf_reset(&s->text);
    int rc = 0;
    struct ob_expo_choice fmt = ob_accept_negotiate(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT), true);
    bool om = fmt.format == OB_EXPO_OPENMETRICS_1 || fmt.format == OB_EXPO_OPENMETRICS_0;
    struct ob_expose_opts opts = {.timestamps = h->deps.cfg->expose_timestamps,
                                  .utf8 = fmt.escaping == OB_ESC_ALLOW_UTF8,
                                  .openmetrics = om,
                                  .protobuf = fmt.format == OB_EXPO_PROTOBUF,
                                  .exponential_max_buckets = h->deps.cfg->expose_exp_max_buckets};
    if (h->deps.store)
        rc = ob_expose_store(h->deps.store, &opts, ob_now_ns() / 1000000, &s->text);
    if (rc == 0 && fmt.format == OB_EXPO_TEXT) {
        ob_selfmetrics_write(h->deps.store, &s->text);
        ob_remote_write_metrics(h->deps.remote_write, &s->text);
    } else if (rc == 0) {
        /* The self-metrics are rendered once, as text, and go through the
         * writer of the format asked for. */
        buf_reset(&s->own);
        ob_selfmetrics_write(h->deps.store, &s->own);
        ob_remote_write_metrics(h->deps.remote_write, &s->own);
        struct ob_expose_writer w;
        ob_expose_writer_init(&w, &opts, &s->text);
        rc = s->own.failed ? -ENOMEM : ob_expose_text(&w, s->own.data, s->own.len);
        ob_expose_writer_fini(&w);
        if (om)
            ob_buf_puts(&s->text, "# EOF\n");
    }
    if (rc || s->text.failed) {
        ob_complain(&complain_internal, COMPONENT, "/metrics: %s",
                    ob_strerror(rc ? rc : -ENOMEM));
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", ob_strerror(rc ? rc : -ENOMEM));
    }

    const char *ae =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const void *body = s->text.data;
    size_t len = s->text.len;
    static const char *const plain_hdrs[] = {"Vary", "Accept, Accept-Encoding", NULL};
    static const char *const gzip_hdrs[] = {"Vary", "Accept, Accept-Encoding", "Content-Encoding",
                                            "gzip", NULL};
    const char *const *hdrs = plain_hdrs;
    if (accepts_gzip(ae)) {
        buf_reset(&s->gz);
        /* Level 1: exposition text shrinks ~10x even so, at several times
         * the speed of the default level. */
        if (ob_gzip(s->text.data, s->text.len, 1, &s->gz) == 0) {
            body = s->gz.data;
            len = s->gz.len;
            hdrs = gzip_hdrs;
        }
    }
    ob_sm_scrape_done(ob_mono_ns() - t0, s->text.len);
    return respond(c, MHD_HTTP_OK, ob_expo_content_type(fmt), body, len, hdrs);
}

/* The status page and its JSON (ob_status.h), rendered per request. */
static enum MHD_Result serve_status(struct ob_http *h, struct MHD_Connection *c,
                                    enum route_kind kind)
{
    struct scratch *s = scratch_get(h);
    if (!s)
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    buf_reset(&s->text);
    const struct ob_config *cfg = h->deps.cfg;
    char zmq[512];
    snprintf(zmq, sizeof zmq, "%s%s%s%s", cfg->zmq_pull[0] ? "pull " : "", cfg->zmq_pull,
             cfg->zmq_reply[0] ? (cfg->zmq_pull[0] ? ", reply " : "reply ") : "", cfg->zmq_reply);
    /* a port 0 listener: the port it got */
    char http[300];
    size_t n = strlen(cfg->http_listen);
    if (n > 2 && strcmp(cfg->http_listen + n - 2, ":0") == 0)
        snprintf(http, sizeof http, "%.*s:%u", (int)(n - 2), cfg->http_listen, h->port);
    else
        snprintf(http, sizeof http, "%s", cfg->http_listen);
    struct ob_status_listeners l = {.address = {[OB_FE_HTTP] = http, [OB_FE_ZMQ] = zmq,
                                                [OB_FE_GRPC] = cfg->grpc_listen},
                                    .remote_write = h->deps.remote_write};
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    int rc = kind == ROUTE_STATUS_PAGE ? ob_status_html(h->deps.store, &l, ob_now_ns() / 1000000, q,
                                                        &s->text)
             : kind == ROUTE_STATUS_JSON ? ob_status_json(h->deps.store, &l, &s->text)
                                         : ob_status_names_json(h->deps.store, &s->text);
    if (rc != 0)
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    return respond(c, MHD_HTTP_OK,
                   kind == ROUTE_STATUS_PAGE ? "text/html; charset=utf-8" : "application/json",
                   s->text.data, s->text.len, NULL);
}

static enum MHD_Result serve_get(struct ob_http *h, struct MHD_Connection *c,
                                 const struct route *rt)
{
    switch (rt->kind) {
    case ROUTE_STATUS_PAGE:
    case ROUTE_STATUS_JSON:
    case ROUTE_NAMES_JSON:
        return serve_status(h, c, rt->kind);
    case ROUTE_METRICS:
        return serve_metrics(h, c);
    case ROUTE_READY:
        if (!h->deps.ready || !atomic_load(h->deps.ready))
            return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready");
        return respond(c, MHD_HTTP_OK, CT_TEXT, "OK\n", 3, NULL);
    case ROUTE_HEALTHY:
        return respond(c, MHD_HTTP_OK, CT_TEXT, "OK\n", 3, NULL);
    case ROUTE_RELOAD: {
        if (!h->deps.reload)
            return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "reload not available");
        char msg[OB_ERR_LEN * 2];
        int rc = h->deps.reload(h->deps.reload_ctx, msg, sizeof msg);
        return respond_text(c, rc == 0 ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                            msg);
    }
    case ROUTE_OTLP:
        break;
    }
    return MHD_NO;
}

/* ---- dispatch ------------------------------------------------------------- */

/* Between the first and the last call of a GET, *con_cls is its route. */
static const struct route *pending_get(void *con_cls)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(routes); i++)
        if (con_cls == &routes[i])
            return &routes[i];
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    OB_UNUSED(version);
    struct ob_http *h = cls;

    const struct route *get = pending_get(*con_cls);
    if (get) {
        /* A body, if any, is ignored. */
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        *con_cls = NULL;
        return serve_get(h, c, get);
    }
    struct req *r = *con_cls;
    if (r) {
        if (*upload_data_size) {
            body_append(r, upload_data, *upload_data_size, h->deps.cfg->max_body_bytes);
            *upload_data_size = 0;
            return MHD_YES;
        }
        return otlp_end(h, c, r);
    }

    const struct route *rt = NULL;
    for (size_t i = 0; i < OB_ARRAY_LEN(routes) && !rt; i++)
        if (strcmp(url, routes[i].path) == 0)
            rt = &routes[i];
    if (!rt)
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: %s", url);

    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                  strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool wants_post = rt->kind == ROUTE_OTLP || rt->kind == ROUTE_RELOAD;
    if (wants_post ? !is_post : !is_get) {
        const char *allow[] = {MHD_HTTP_HEADER_ALLOW, rt->allow, NULL};
        char msg[128];
        int n = snprintf(msg, sizeof msg, "method %s not allowed on %s; allowed: %s\n", method,
                         rt->path, rt->allow);
        return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, CT_TEXT, msg,
                       OB_MIN((size_t)n, sizeof msg - 1), allow);
    }

    if (rt->kind == ROUTE_OTLP)
        return otlp_begin(h, c, con_cls);
    /* Answered in the last call: a GET answered already in the first one
     * makes MHD 0.9.75 close the connection (no keep-alive for scrapers).
     * A body sent to /-/reload is read and ignored the same way. */
    *con_cls = (void *)rt;
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    OB_UNUSED(cls);
    OB_UNUSED(c);
    OB_UNUSED(toe);
    struct req *r = *con_cls;
    if (r && !pending_get(r)) {
        ob_buf_fini(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    OB_UNUSED(cls);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    OB_LOG_WARN(COMPONENT, "libmicrohttpd: %s", msg);
}

/* ---- start and stop --------------------------------------------------------- */


/* Accepts connections and hands them to the workers in turn. */
static void *acceptor_main(void *arg)
{
    struct ob_http *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (unsigned next = 0;;) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int c = accept(h->listen_fd, (struct sockaddr *)&sa, &len);
        if (c < 0) {
            if (atomic_load(&h->stopping))
                return NULL;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            /* Out of descriptors or memory: back off instead of spinning. */
            ob_complain(&complain_accept, COMPONENT, "accept: %s", strerror(errno));
            struct timespec pause = {0, 50 * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        /* MHD owns c from here, and closes it even when it refuses it. */
        MHD_add_connection(h->workers[next], c, (struct sockaddr *)&sa, len);
        next = (next + 1) % h->n_workers;
    }
}

static void stop_workers(struct ob_http *h)
{
    for (unsigned i = 0; i < h->n_workers; i++)
        MHD_stop_daemon(h->workers[i]);
    free(h->workers);
    h->workers = NULL;
    h->n_workers = 0;
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    h->listen_fd = -1;
}

int ob_http_start(const struct ob_http_deps *deps, struct ob_http **out, char err[OB_ERR_LEN])
{
    err[0] = '\0';
    const struct ob_config *cfg = deps->cfg;
    struct ob_http *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->deps = *deps;
    h->listen_fd = -1;
    int rc = -pthread_key_create(&h->scratch_key, scratch_free);
    if (rc) {
        free(h);
        snprintf(err, OB_ERR_LEN, "http: pthread_key_create: %s", strerror(-rc));
        return rc;
    }

    int fd = -1;
    char addr[INET6_ADDRSTRLEN + 16];
    rc = ob_listen_tcp("http.listen", cfg->http_listen, false, &fd, &h->port, addr, sizeof addr,
                       err);
    if (rc)
        goto fail;

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->http_threads ? cfg->http_threads : (unsigned)(cpus > 0 ? cpus : 1);
    h->listen_fd = fd;
    h->workers = calloc(threads, sizeof *h->workers);
    if (!h->workers) {
        rc = -ENOMEM;
        goto fail;
    }
    /* MHD counts the timeout in whole seconds; round up so 1500ms is not 1s. */
    unsigned timeout_s = (unsigned)((cfg->http_timeout_ms + 999) / 1000);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
    for (; h->n_workers < threads; h->n_workers++) {
        /* The logger first: MHD logs option errors with whatever is set so far. */
        struct MHD_Daemon *d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
            MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
            /* Twice MHD's default 32 KiB: a 70 KB OTLP body arrives in two
             * or three recv()s.  More costs more than it saves: MHD zeroes
             * the whole pool after every request (bench/README.md has the
             * measurement). */
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_BYTES,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
        if (!d) {
            snprintf(err, OB_ERR_LEN, "http.listen %s: libmicrohttpd failed to start",
                     cfg->http_listen);
            rc = OB_E_CONFIG;
            goto fail;
        }
        h->workers[h->n_workers] = d;
    }
    rc = -pthread_create(&h->acceptor, NULL, acceptor_main, h);
    if (rc) {
        snprintf(err, OB_ERR_LEN, "http: cannot start the acceptor: %s", strerror(-rc));
        goto fail;
    }
    h->acceptor_running = true;
    OB_LOG_INFO(COMPONENT, "listening on http://%s (%u threads, %s)", addr, threads,
                flags & MHD_USE_EPOLL ? "epoll" : "poll");
    *out = h;
    return 0;

fail:
    stop_workers(h);
    pthread_key_delete(h->scratch_key);
    free(h);
    return rc;
}

uint16_t ob_http_port(const struct ob_http *h)
{
    return h->port;
}

void ob_http_stop(struct ob_http *h)
{
    if (!h)
        return;
    /* Joins MHD's threads; their scratch buffers go with them (key
     * destructor). */
    atomic_store(&h->stopping, true);
    shutdown(h->listen_fd, SHUT_RDWR); /* wakes the acceptor out of accept() */
    if (h->acceptor_running)
        pthread_join(h->acceptor, NULL);
    stop_workers(h);
    pthread_key_delete(h->scratch_key);
    free(h);
}
