/* ob_zmq.c: the ZeroMQ frontend.  Framing and reply format: see ob_zmq.h.
 *
 * Per socket kind (pull, reply):
 *
 *   threads == 1   bound socket ── worker
 *   threads  > 1   bound socket ── proxy thread ── inproc ──┬─ worker
 *                                                          └─ worker ...
 *
 * The proxy (proxy_main, not zmq_proxy: see there) moves zmq_msg_t frames:
 * for large messages libzmq passes reference-counted buffers over inproc, so
 * the body is never copied between the wire and ob_ingest_body(), which
 * reads it in place from the zmq_msg_t.
 *
 * Every socket is created and bound by ob_zmq_start() on the caller's thread,
 * then handed to the one thread that uses it (thread creation is a full
 * barrier, which is all libzmq asks for a socket to migrate).  Each thread
 * closes its own sockets after the context was shut down.
 */
#include "ob_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ob_buf.h"
#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_ingest.h"
#include "ob_log.h"
#include "ob_otlp.h"
#include "ob_selfmetrics.h"

/* Envelope (identity, delimiter) + encoding + body, with room for a few
 * routing hops.  Longer messages are drained and refused. */
#define MAX_FRAMES 8

/* High-water mark of the inproc links between the proxy and the workers.
 * Small on purpose: a worker needs only the next message or two at hand, and
 * what waits beyond that should wait in the bound socket, where zmq.rcv_hwm
 * applies (with the configured mark on these links as well, the broker would
 * hold several times rcv_hwm messages, cold in memory). */
#define INPROC_HWM 4

enum { KIND_PULL = 0, KIND_REPLY = 1, KIND__COUNT };

static const char *const kind_name[KIND__COUNT] = {"pull", "reply"};
static const char *const inproc_addr[KIND__COUNT] = {"inproc://ob-zmq-pull",
                                                     "inproc://ob-zmq-reply"};

/* One site per outcome and kind, so a flood of one kind of garbage does not
 * hide the first line of another. */
static struct ob_complaint complaints[KIND__COUNT][OB_OUT__COUNT];

struct worker {
    struct ob_zmq *z;
    int kind;
    void *sock; /* owned by this worker once started */
    pthread_t tid;
    bool started;
    struct ob_buf inflated; /* gzip bodies, reused */
    struct ob_buf answer;   /* encoded responses, reused */
};

struct kind {
    struct ob_zmq *z;
    void *bound;       /* the socket bound to the endpoints; NULL = kind unused */
    void *back;        /* proxy side of the inproc link (threads > 1) */
    pthread_t proxy;
    bool proxy_started;
    char **endpoints;  /* as bound (ZMQ_LAST_ENDPOINT) */
    size_t n_endpoints;
    struct worker *workers;
    size_t n_workers;
};

struct ob_zmq {
    void *ctx;
    struct ob_ingest *ingest;
    uint64_t max_body;
    struct kind kinds[KIND__COUNT];
};

/* ---- one request ------------------------------------------------------- */

/* What became of a request: outcome for self-metrics, and for failures the
 * reason word of the error frame plus a message. */
struct verdict {
    enum ob_outcome outcome;
    const char *reason; /* NULL on success */
    char message[320];
};

static void fail_with(struct verdict *v, enum ob_outcome o, const char *reason, const char *fmt,
                      ...) OB_PRINTF(4, 5);

static void fail_with(struct verdict *v, enum ob_outcome o, const char *reason, const char *fmt,
                      ...)
{
    v->outcome = o;
    v->reason = reason;
    int n = snprintf(v->message, sizeof v->message, "%s: ", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message + n, sizeof v->message - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* Checks the frames ([encoding] body), inflates, ingests.  res is filled
 * when the body reached ingest. */
static void process(struct worker *w, zmq_msg_t *f, size_t n, bool overflow,
                    struct ob_ingest_result *res, struct verdict *v)
{
    uint64_t max = w->z->max_body;
    *v = (struct verdict){.outcome = OB_OUT_OK};
    if (overflow || n == 0 || n > 2) {
        fail_with(v, OB_OUT_UNSUPPORTED, "unsupported",
                  "expected one body frame, optionally after an encoding frame; got %s%zu frames",
                  overflow ? "more than " : "", n);
        return;
    }
    const void *body = zmq_msg_data(&f[n - 1]);
    size_t len = zmq_msg_size(&f[n - 1]);
    bool gzip = false;
    if (n == 2) {
        if (frame_is(&f[0], "gzip")) {
            gzip = true;
        } else if (!frame_is(&f[0], "identity")) {
            size_t el = zmq_msg_size(&f[0]);
            fail_with(v, OB_OUT_UNSUPPORTED, "unsupported",
                      "unknown encoding frame \"%.*s\" (gzip or identity)",
                      (int)OB_MIN(el, (size_t)32), (const char *)zmq_msg_data(&f[0]));
            return;
        }
    }
    if (max && len > max) {
        fail_with(v, OB_OUT_TOO_LARGE, "too_large", "body of %zu bytes is over the limit of %llu",
                  len, (unsigned long long)max);
        return;
    }
    if (gzip) {
        w->inflated.len = 0;
        int rc = ob_gunzip(body, len, max ? (size_t)max : SIZE_MAX, &w->inflated);
        if (rc == OB_E_TOO_LARGE) {
            fail_with(v, OB_OUT_TOO_LARGE, "too_large",
                      "inflated body is over the limit of %llu bytes", (unsigned long long)max);
            return;
        }
        if (rc != 0) {
            bool nomem = rc == -ENOMEM;
            fail_with(v, nomem ? OB_OUT_OVERLOADED : OB_OUT_MALFORMED,
                      nomem ? "unavailable" : "malformed", "gzip body: %s", ob_strerror(rc));
            return;
        }
        body = w->inflated.data;
        len = w->inflated.len;
    }
    int rc = ob_ingest_body(w->z->ingest, OB_FE_ZMQ, OB_PAYLOAD_PROTOBUF, body, len, res);
    if (rc == 0) {
        v->outcome = res->rejected ? OB_OUT_PARTIAL : OB_OUT_OK;
    } else if (rc == OB_E_MALFORMED) {
        fail_with(v, OB_OUT_MALFORMED, "malformed", "%s", res->message);
    } else if (rc == -EAGAIN || rc == -ENOMEM) {
        fail_with(v, OB_OUT_OVERLOADED, "unavailable", "%s",
                  res->message[0] ? res->message : ob_strerror(rc));
    } else {
        fail_with(v, OB_OUT_UNSUPPORTED, "unsupported", "%s",
                  res->message[0] ? res->message : ob_strerror(rc));
    }
}

/* Sends the envelope back (the received frames are moved, not copied), then
 * the response or the two error frames. */
static void answer(struct worker *w, zmq_msg_t *env, size_t n_env,
                   const struct ob_ingest_result *res, const struct verdict *v)
{
    for (size_t i = 0; i < n_env; i++)
        if (zmq_msg_send(&env[i], w->sock, ZMQ_SNDMORE) < 0)
            return; /* ETERM: shutting down */
    if (v->reason) {
        if (zmq_send(w->sock, "error", 5, ZMQ_SNDMORE) >= 0)
            zmq_send(w->sock, v->message, strlen(v->message), 0);
        return;
    }
    w->answer.len = 0;
    if (ob_otlp_encode_response((int64_t)res->rejected, res->rejected ? res->message : NULL,
                                &w->answer) != 0 ||
        w->answer.failed) {
        w->answer.failed = false;
        static const char oom[] = "unavailable: out of memory encoding the response";
        if (zmq_send(w->sock, "error", 5, ZMQ_SNDMORE) >= 0)
            zmq_send(w->sock, oom, sizeof oom - 1, 0);
        return;
    }
    zmq_send(w->sock, w->answer.data, w->answer.len, 0);
}

static void handle(struct worker *w, zmq_msg_t *f, size_t n, bool overflow)
{
    /* Reply socket: the envelope is the identity, or everything up to the
     * first empty delimiter (REQ clients, routing hops).  The last frame is
     * always the body, never a delimiter. */
    size_t first = 0;
    if (w->kind == KIND_REPLY) {
        first = 1;
        for (size_t i = 1; i + 1 < n; i++) {
            if (zmq_msg_size(&f[i]) == 0) {
                first = i + 1;
                break;
            }
        }
    }
    struct ob_ingest_result res = {0};
    struct verdict v;
    process(w, f + first, n - first, overflow, &res, &v);
    ob_sm_request(OB_FE_ZMQ, v.outcome);
    if (v.reason)
        ob_complain(&complaints[w->kind][v.outcome], "zmq", "%s request refused: %s",
                    kind_name[w->kind], v.message);
    if (w->kind == KIND_REPLY)
        answer(w, f, first, &res, &v);
}

/* Receives one whole message into f (at most MAX_FRAMES; the rest is read
 * and dropped, *out_overflow set).  Returns the frame count or -errno. */
static int receive(void *sock, zmq_msg_t *f, bool *out_overflow)
{
    size_t n = 0;
    *out_overflow = false;
    for (;;) {
        zmq_msg_t spill;
        zmq_msg_t *m = n < MAX_FRAMES ? &f[n] : &spill;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(m);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            return -e;
        }
        bool more = zmq_msg_more(m);
        if (m == &spill) {
            zmq_msg_close(m);
            *out_overflow = true;
        } else {
            n++;
        }
        if (!more)
            return (int)n;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    zmq_msg_t f[MAX_FRAMES];
    for (;;) {
        bool overflow;
        int n = receive(w->sock, f, &overflow);
        if (n == -ETERM)
            break;
        if (n < 0)
            continue; /* EINTR; signals are blocked here, but be safe */
        handle(w, f, (size_t)n, overflow);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
    zmq_close(w->sock);
    w->sock = NULL;
    return NULL;
}

/* Moves one whole message (every frame) from one socket to another; the
 * frames are handed over, not copied.  Returns 0, or -errno of the failing
 * call (-ETERM when the context shuts down).  A message that cannot be sent
 * on is dropped whole. */
static int forward(void *from, void *to)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    bool dropping = false;
    for (;;) {
        if (zmq_msg_recv(&m, from, 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&m);
            return -e;
        }
        bool more = zmq_msg_more(&m);
        if (!dropping && zmq_msg_send(&m, to, more ? ZMQ_SNDMORE : 0) < 0) {
            if (zmq_errno() == ETERM) {
                zmq_msg_close(&m);
                return -ETERM;
            }
            dropping = true;
        }
        if (!more) {
            zmq_msg_close(&m);
            return 0;
        }
    }
}

/* The fan-out between the bound socket and the workers.  Not zmq_proxy():
 * libzmq 4.3's proxy keeps polling the frontend for input while the backend
 * is at its high-water mark and then loops without sleeping, burning a core
 * that the workers need exactly when they are behind (seen with perf: a
 * third of the broker's CPU in poll/getpid under a PULL backlog).
 *
 * pull:  blocking receive, blocking send: PUSH waits for a worker with room.
 * reply: requests only while the backend can take one (ZMQ_EVENTS), answers
 *        always; when the backend is full, wait for it to drain (POLLOUT) or
 *        for answers, never for new requests. */
static void *proxy_main(void *arg)
{
    struct kind *k = arg;
    if (k == &k->z->kinds[KIND_PULL]) {
        while (forward(k->bound, k->back) != -ETERM)
            ;
    } else {
        for (;;) {
            int events = 0;
            size_t sz = sizeof events;
            if (zmq_getsockopt(k->back, ZMQ_EVENTS, &events, &sz) != 0 && zmq_errno() == ETERM)
                break;
            bool room = events & ZMQ_POLLOUT;
            zmq_pollitem_t it[2] = {
                {.socket = k->back, .events = (short)(ZMQ_POLLIN | (room ? 0 : ZMQ_POLLOUT))},
                {.socket = k->bound, .events = room ? ZMQ_POLLIN : 0},
            };
            if (zmq_poll(it, 2, -1) < 0) {
                if (zmq_errno() == ETERM)
                    break;
                continue;
            }
            if ((it[0].revents & ZMQ_POLLIN) && forward(k->back, k->bound) == -ETERM)
                break;
            if ((it[1].revents & ZMQ_POLLIN) && forward(k->bound, k->back) == -ETERM)
                break;
        }
    }
    zmq_close(k->bound);
    zmq_close(k->back);
    k->bound = k->back = NULL;
    return NULL;
}

/* ---- setup and teardown ------------------------------------------------- */

static int new_socket(struct ob_zmq *z, int type, int hwm, void **out)
{
    void *s = zmq_socket(z->ctx, type);
    if (!s)
        return -zmq_errno();
    int zero = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) {
        int e = zmq_errno();
        zmq_close(s);
        return -e;
    }
    *out = s;
    return 0;
}

/* Creates the kind's bound socket, binds it, and the inproc fan-out when
 * there is more than one worker.  Threads are not started here. */
static int setup_kind(struct ob_zmq *z, int kind, const char *const *eps, size_t n_eps,
                      const struct ob_zmq_opts *o, char err[OB_ERR_LEN])
{
    struct kind *k = &z->kinds[kind];
    k->z = z;
    if (n_eps == 0)
        return 0;
    int hwm = o->rcv_hwm > 0 ? o->rcv_hwm : 0;
    int rc = new_socket(z, kind == KIND_PULL ? ZMQ_PULL : ZMQ_ROUTER, hwm, &k->bound);
    if (rc != 0) {
        snprintf(err, OB_ERR_LEN, "zmq %s socket: %s", kind_name[kind], zmq_strerror(-rc));
        return rc;
    }
    k->endpoints = calloc(n_eps, sizeof *k->endpoints);
    if (!k->endpoints) {
        snprintf(err, OB_ERR_LEN, "zmq: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_eps; i++) {
        char last[256];
        size_t last_len = sizeof last;
        /* IPv6 only for [v6] literals: with it on, "tcp://127.0.0.1:*"
         * would report itself as tcp://[::ffff:127.0.0.1]:port. */
        int v6 = strchr(eps[i], '[') != NULL;
        if (zmq_setsockopt(k->bound, ZMQ_IPV6, &v6, sizeof v6) != 0 ||
            zmq_bind(k->bound, eps[i]) != 0 ||
            zmq_getsockopt(k->bound, ZMQ_LAST_ENDPOINT, last, &last_len) != 0) {
            rc = -zmq_errno();
            snprintf(err, OB_ERR_LEN, "zmq.%s: cannot bind %s: %s", kind_name[kind], eps[i],
                     zmq_strerror(-rc));
            return rc;
        }
        last[sizeof last - 1] = '\0';
        if (!(k->endpoints[i] = strdup(last))) {
            snprintf(err, OB_ERR_LEN, "zmq: out of memory");
            return -ENOMEM;
        }
        k->n_endpoints++;
    }

    size_t nw = o->threads ? o->threads : 1;
    k->workers = calloc(nw, sizeof *k->workers);
    if (!k->workers) {
        snprintf(err, OB_ERR_LEN, "zmq: out of memory");
        return -ENOMEM;
    }
    k->n_workers = nw;
    for (size_t i = 0; i < nw; i++) {
        struct worker *w = &k->workers[i];
        *w = (struct worker){.z = z, .kind = kind};
        ob_buf_init(&w->inflated);
        ob_buf_init(&w->answer);
    }
    if (nw == 1) {
        k->workers[0].sock = k->bound;
        k->bound = NULL; /* the worker owns it */
        return 0;
    }
    int back_type = kind == KIND_PULL ? ZMQ_PUSH : ZMQ_DEALER;
    int work_type = kind == KIND_PULL ? ZMQ_PULL : ZMQ_DEALER;
    rc = new_socket(z, back_type, INPROC_HWM, &k->back);
    if (rc == 0 && zmq_bind(k->back, inproc_addr[kind]) != 0)
        rc = -zmq_errno();
    for (size_t i = 0; rc == 0 && i < nw; i++) {
        rc = new_socket(z, work_type, INPROC_HWM, &k->workers[i].sock);
        if (rc == 0 && zmq_connect(k->workers[i].sock, inproc_addr[kind]) != 0)
            rc = -zmq_errno();
    }
    if (rc != 0)
        snprintf(err, OB_ERR_LEN, "zmq %s workers: %s", kind_name[kind], zmq_strerror(-rc));
    return rc;
}

int ob_zmq_start(const struct ob_zmq_opts *opts, struct ob_ingest *ingest, struct ob_zmq **out,
                 char err[OB_ERR_LEN])
{
    int rc;
    struct ob_zmq *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, OB_ERR_LEN, "zmq: out of memory");
        return -ENOMEM;
    }
    z->ingest = ingest;
    z->max_body = opts->max_body_bytes;
    z->ctx = zmq_ctx_new();
    if (!z->ctx) {
        rc = -zmq_errno();
        snprintf(err, OB_ERR_LEN, "zmq: cannot create a context: %s", zmq_strerror(-rc));
        goto fail;
    }
    if ((rc = setup_kind(z, KIND_PULL, opts->pull, opts->n_pull, opts, err)) != 0 ||
        (rc = setup_kind(z, KIND_REPLY, opts->reply, opts->n_reply, opts, err)) != 0)
        goto fail;

    /* Signals belong to the main thread: block them in ours. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int kind = 0; kind < KIND__COUNT && rc == 0; kind++) {
        struct kind *k = &z->kinds[kind];
        for (size_t i = 0; i < k->n_workers && rc == 0; i++) {
            rc = -pthread_create(&k->workers[i].tid, NULL, worker_main, &k->workers[i]);
            k->workers[i].started = rc == 0;
        }
        if (rc == 0 && k->back) {
            rc = -pthread_create(&k->proxy, NULL, proxy_main, k);
            k->proxy_started = rc == 0;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, OB_ERR_LEN, "zmq: cannot start a thread: %s", ob_strerror(rc));
        goto fail;
    }
    for (int kind = 0; kind < KIND__COUNT; kind++)
        for (size_t i = 0; i < z->kinds[kind].n_endpoints; i++)
            OB_LOG_INFO("zmq", "%s on %s (%zu worker%s)", kind_name[kind],
                        z->kinds[kind].endpoints[i], z->kinds[kind].n_workers,
                        z->kinds[kind].n_workers == 1 ? "" : "s");
    *out = z;
    return 0;
fail:
    ob_zmq_stop(z);
    return rc;
}

const char *ob_zmq_endpoint(const struct ob_zmq *z, int reply, size_t i)
{
    const struct kind *k = &z->kinds[reply ? KIND_REPLY : KIND_PULL];
    return i < k->n_endpoints ? k->endpoints[i] : NULL;
}

void ob_zmq_stop(struct ob_zmq *z)
{
    if (!z)
        return;
    /* Every blocking call in our threads now returns ETERM; each thread
     * closes its sockets and exits.  Sockets of threads that never started
     * are closed here. */
    if (z->ctx)
        zmq_ctx_shutdown(z->ctx);
    for (int kind = 0; kind < KIND__COUNT; kind++) {
        struct kind *k = &z->kinds[kind];
        if (k->proxy_started)
            pthread_join(k->proxy, NULL);
        else {
            if (k->bound)
                zmq_close(k->bound);
            if (k->back)
                zmq_close(k->back);
        }
        for (size_t i = 0; i < k->n_workers; i++) {
            struct worker *w = &k->workers[i];
            if (w->started)
                pthread_join(w->tid, NULL);
            else if (w->sock)
                zmq_close(w->sock);
            ob_buf_fini(&w->inflated);
            ob_buf_fini(&w->answer);
        }
        free(k->workers);
        for (size_t i = 0; i < k->n_endpoints; i++)
            free(k->endpoints[i]);
        free(k->endpoints);
    }
    if (z->ctx)
        zmq_ctx_term(z->ctx);
    free(z);
}
