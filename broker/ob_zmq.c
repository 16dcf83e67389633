/* ob_zmq.c: the ZeroMQ frontend.  Framing and reply format: see ob_zmq.h.
 *
 * Per socket kind (pull, reply), one bound socket per endpoint:
 *
 *   threads == 1   bound sockets ── worker
 *   threads  > 1   bound sockets ── proxy thread ── inproc ──┬─ worker
 *                                                           └─ worker ...
 *
 * The thread that reads the bound sockets (the "receiver": the worker, or
 * the proxy) drains up to BURST messages per socket in turn, and follows the
 * senders' sequence frames in its own table (ob_zmq_seq.h); when it finds
 * nothing for a while it is idle, which is when closed senders are settled.
 * Through the proxy, a reply request gets one more envelope frame in front:
 * one byte, the index of the bound socket it came from, so that the worker
 * knows where to answer.  Reply workers send their answers on the bound
 * socket themselves, under the kind's lock, which the proxy holds while it
 * reads that socket (see flush_answers and proxy_main): answers never wake
 * the proxy.
 *
 * The proxy (proxy_main, not zmq_proxy: see there) moves zmq_msg_t frames:
 * for large messages libzmq passes reference-counted buffers over inproc, so
 * the body is never copied between the wire and ingest, which
 * reads it in place from the zmq_msg_t.
 *
 * Every socket is created and bound by ob_zmq_start() on the caller's thread,
 * then handed to the thread that uses it (thread creation is a full
 * barrier, which is all libzmq asks for a socket to migrate; so is a mutex,
 * for the bound sockets the proxy and the reply workers take turns with).
 * Each thread closes its own sockets after the context was shut down; the
 * proxy closes the bound sockets.
 */
#include "ob_zmq.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "ob_buf.h"
#include "ob_error.h"
#include "ob_log.h"
#include "ob_request.h"
#include "ob_selfmetrics.h"
#include "ob_time.h"
#include "ob_zmq_seq.h"

/* Envelope (endpoint index, identity, delimiter) + sequence + encoding +
 * body, with room for a few routing hops.  Longer messages are drained and
 * refused. */
#define MAX_FRAMES 10

/* Endpoints per socket kind (the endpoint index travels in one byte). */
#define MAX_ENDPOINTS 64

/* Messages taken from one bound socket before the next gets its turn. */
#define BURST 256

/* Answers to numbered requests of one client carried by one message at
 * most (see "batches" in ob_zmq.h): each ZeroMQ message costs both ends a
 * wake-up of another thread, which for small requests costs more than the
 * ingest. */
#define MAX_GROUPS 64
#define BATCH_FRAMES (MAX_FRAMES + 3 * MAX_GROUPS)

/* Clients a worker holds answers for at once.  The bound socket
 * fair-queues between clients, so that a worker's requests at hand come
 * from several, interleaved; with answers held for one client only, every
 * change of client cost a message. */
#define BATCHES 4

/* Requests answered by one batch at most: the answers held must not empty
 * a client's window (256 messages, 8 MiB by default in the C library) while
 * the worker goes on through the requests at hand (up to BURST), or the
 * client stops and waits, and the broker with it. */
#define BATCH_ANSWERS 16

/* Poll timeouts of a receiver: the ticks that expire senders, and more often
 * while closed senders wait to be settled. */
#define TICK_MS 1000
#define TICK_PENDING_MS 100

#define DEFAULT_MAX_SENDERS 4096
#define DEFAULT_SENDER_TTL_NS (300LL * 1000000000)

/* High-water mark of the inproc links between the proxy and the workers.
 * Small, so that what waits beyond it waits in the bound socket, where
 * zmq.rcv_hwm applies (with the configured mark here as well the broker
 * would hold several times rcv_hwm messages, cold in memory); but not too
 * small: a stream of small messages must not make the proxy and the workers
 * wake each other for every few messages.  16 bodies of 75 KB per worker
 * is 1.2 MB. */
#define INPROC_HWM 16

enum { KIND_PULL = 0, KIND_REPLY = 1, KIND__COUNT };

static const char *const kind_name[KIND__COUNT] = {"pull", "reply"};
static const char *const inproc_addr[KIND__COUNT] = {"inproc://ob-zmq-pull",
                                                     "inproc://ob-zmq-reply"};

/* One log site for lost messages per kind. */
static struct ob_complaint loss_complaints[KIND__COUNT];

struct kind;

/* Answers waiting to go out as one message: the envelope, then groups of
 * [sequence] response or [sequence] "error" message; frames are moved in,
 * not copied (responses are copied into new frames). */
struct batch {
    int ep;     /* the bound socket they go to; -1: empty */
    size_t n_env, n, groups;
    size_t answers; /* requests answered */
    size_t set_at;  /* index of the open set frame, or SIZE_MAX */
    uint64_t set_sender, set_base;
    zmq_msg_t f[BATCH_FRAMES];
};

struct worker {
    struct kind *k;
    void *sock;       /* inproc socket, owned by this worker once started;
                         NULL: the worker reads the bound sockets itself */
    pthread_t tid;
    bool started;
    struct ob_request_bufs bufs; /* inflated bodies and responses, reused */
    struct batch out[BATCHES]; /* answers not sent yet, one client each */
    unsigned next_out;         /* the batch to send when all are taken */
};

/* The state of the thread that reads the bound sockets. */
struct receiver {
    struct kind *k;
    struct ob_zseq *seq;
    int64_t next_tick_ns;
};

struct kind {
    struct ob_zmq *z;
    int kind;
    void *bound[MAX_ENDPOINTS]; /* one per endpoint, owned by the receiver */
    int sm_id[MAX_ENDPOINTS];   /* self-metric endpoint ids */
    char *endpoints[MAX_ENDPOINTS]; /* as bound (ZMQ_LAST_ENDPOINT) */
    size_t n_endpoints;
    void *back;       /* proxy side of the inproc link (threads > 1) */
    pthread_t proxy;
    bool proxy_started;
    zmq_msg_t held[MAX_FRAMES]; /* proxy: a request the backend had no room for */
    size_t n_held;              /* its frames; 0: none */
    bool held_overflow;
    unsigned held_ep;
    /* threads > 1: the bound sockets are the proxy's, and for reply the
     * workers' too, who send their answers on them; whoever uses one holds
     * this lock (libzmq lets a socket change threads across a full memory
     * barrier; it must never be used by two at once). */
    pthread_mutex_t lock;
    bool lock_made;
    bool ready[MAX_ENDPOINTS];  /* under lock: the bound socket may have requests */
    int wake_fd;                /* eventfd: a worker tells the proxy of ready; -1: none */
    struct receiver rx;
    struct worker *workers;
    size_t n_workers;
};

struct ob_zmq {
    void *ctx;
    struct ob_ingest *ingest;
    uint64_t max_body;
    struct kind kinds[KIND__COUNT];
};

/* ---- answer batches ---------------------------------------------------- */

static void batch_init(struct batch *b)
{
    b->ep = -1;
    b->n = b->n_env = b->groups = b->answers = 0;
    b->set_at = SIZE_MAX;
}

/* Adds number seq of sender to the batch's open set, if it has one that
 * can take it. */
static bool batch_set_add(struct batch *b, uint64_t sender, uint64_t seq)
{
    if (b->set_at == SIZE_MAX || b->set_sender != sender || seq < b->set_base ||
        seq - b->set_base >= 64)
        return false;
    uint8_t *mask = (uint8_t *)zmq_msg_data(&b->f[b->set_at]) + 24;
    mask[(seq - b->set_base) / 8] |= (uint8_t)(1u << ((seq - b->set_base) % 8));
    return true;
}

/* Sends what is held on sock (the last frame ends the message); frames not
 * sent are closed, all of them when sock is NULL (closed at shutdown).
 * Returns 0 or -ETERM. */
static int batch_send(struct batch *b, void *sock)
{
    int rc = sock ? 0 : -ETERM;
    for (size_t i = 0; i < b->n; i++) {
        if (rc == 0 && zmq_msg_send(&b->f[i], sock, i + 1 < b->n ? ZMQ_SNDMORE : 0) < 0)
            rc = -zmq_errno();
        zmq_msg_close(&b->f[i]); /* sent: empty; or never sent */
    }
    batch_init(b);
    return rc == -ETERM ? -ETERM : 0;
}

/* Whether an answer to bound socket ep with envelope env[0, n_env) can join
 * the batch. */
static bool batch_fits(struct batch *b, int ep, zmq_msg_t *env, size_t n_env, size_t frames)
{
    if (b->ep != ep || b->n_env != n_env || b->groups == MAX_GROUPS ||
        b->n + frames > BATCH_FRAMES)
        return false;
    for (size_t i = 0; i < n_env; i++) {
        size_t len = zmq_msg_size(&env[i]);
        if (len != zmq_msg_size(&b->f[i]) || memcmp(zmq_msg_data(&env[i]), zmq_msg_data(&b->f[i]), len))
            return false;
    }
    return true;
}

/* Starts an empty batch for bound socket ep: the envelope is moved in. */
static void batch_start(struct batch *b, int ep, zmq_msg_t *env, size_t n_env)
{
    b->ep = ep;
    b->n_env = n_env;
    for (size_t i = 0; i < n_env; i++) {
        zmq_msg_init(&b->f[b->n]);
        zmq_msg_move(&b->f[b->n++], &env[i]);
    }
}

static void batch_move(struct batch *b, zmq_msg_t *m)
{
    zmq_msg_init(&b->f[b->n]);
    zmq_msg_move(&b->f[b->n++], m);
}

static void batch_copy(struct batch *b, const void *data, size_t len)
{
    zmq_msg_t *m = &b->f[b->n];
    if (zmq_msg_init_size(m, len) != 0) {
        zmq_msg_init(m); /* ENOMEM: an empty frame keeps the framing */
        len = 0;
    }
    if (len)
        memcpy(zmq_msg_data(m), data, len);
    b->n++;
}

/* ---- one message ------------------------------------------------------- */

/* Where the parts of a received message are: frames [0, env) are the
 * envelope, of which [env0, env) goes back with the answer (env0 is 1 after
 * the proxy's endpoint byte), [body0, n) the request proper; seq is the
 * index of the sequence frame or -1. */
struct layout {
    size_t env0, env, body0;
    int seq;
    int seq_valid;              /* ob_zseq_parse() of that frame */
    struct ob_zseq_frame frame;
};

/* Reply messages: the envelope is the endpoint byte when proxied, then the
 * identity, or everything up to the first empty delimiter (REQ clients,
 * routing hops).  The last frame is always the request, never a delimiter. */
static void locate(int kind, bool proxied, zmq_msg_t *f, size_t n, struct layout *l)
{
    *l = (struct layout){.seq = -1};
    if (kind == KIND_REPLY) {
        size_t first = proxied ? 1 : 0;
        l->env0 = first;
        l->env = first + 1;
        for (size_t i = first + 1; i + 1 < n; i++) {
            if (zmq_msg_size(&f[i]) == 0) {
                l->env = i + 1;
                break;
            }
        }
        if (l->env > n)
            l->env = n;
    }
    l->body0 = l->env;
    if (l->body0 < n) {
        int v = ob_zseq_parse(zmq_msg_data(&f[l->body0]), zmq_msg_size(&f[l->body0]), &l->frame);
        if (v != 0) {
            l->seq = (int)l->body0;
            l->seq_valid = v;
            l->body0++;
        }
    }
}

static bool is_end_only(const struct layout *l, size_t n)
{
    return l->seq_valid == 1 && (l->frame.flags & OB_ZSEQ_FLAG_END) && l->body0 == n;
}

/* The reason word that starts the message of an error answer (ob_zmq.h). */
static const char *const outcome_word[OB_OUT__COUNT] = {
    [OB_OUT_MALFORMED] = "malformed",
    [OB_OUT_TOO_LARGE] = "too_large",
    [OB_OUT_UNSUPPORTED] = "unsupported",
    [OB_OUT_OVERLOADED] = "unavailable",
};

static void peer_text(const void *ctx, char *buf, size_t cap)
{
    const struct kind *k = ctx;
    snprintf(buf, cap, "a %s socket", kind_name[k->kind]);
}

/* Checks the request frames ([encoding] body) and takes the request to its
 * verdict. */
static void process(struct worker *w, zmq_msg_t *f, size_t n, bool overflow, int seq_valid,
                    struct ob_verdict *v)
{
    struct ob_request rq = {.fe = OB_FE_ZMQ, .format = OB_PAYLOAD_PROTOBUF,
                            .peer = peer_text, .peer_ctx = w->k};
    if (seq_valid < 0) {
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, v,
                          "malformed sequence frame (24 bytes: magic 00 'OBQ', version 1, flags, "
                          "sender id, number)");
        return;
    }
    if (overflow || n == 0 || n > 2) {
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, v,
                          "expected one body frame, optionally after a sequence and an encoding "
                          "frame; got %s%zu frames after the envelope",
                          overflow ? "more than " : "", n + (seq_valid ? 1 : 0));
        return;
    }
    if (n == 2 && ob_request_encoding(zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), &rq.encoding) != 0) {
        size_t el = zmq_msg_size(&f[0]);
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, v,
                          "unknown encoding frame \"%.*s\" (gzip or identity)",
                          (int)OB_MIN(el, (size_t)32), (const char *)zmq_msg_data(&f[0]));
        return;
    }
    rq.body = zmq_msg_data(&f[n - 1]);
    rq.len = zmq_msg_size(&f[n - 1]);
    if (!rq.body)
        rq.body = "";
    struct ob_request_path path = {.ingest = w->k->z->ingest, .max_body = w->k->z->max_body};
    ob_request_handle(&path, &rq, &w->bufs, v);
}

/* Sends the worker's batches of answers: only `one`, or all when it is
 * NULL.  Through the proxy the bound socket is shared (see kind.lock), and
 * a send may have taken the command that tells of new requests, without
 * which the proxy, asleep in poll(2) on the socket's fd, would not see
 * them: the worker asks the socket (ZMQ_EVENTS) and tells the proxy when
 * requests wait.  This costs the worker a poll(2); the answers' former way
 * back through the proxy woke the proxy for every batch.  Returns 0 or
 * -ETERM. */
static int send_answers(struct worker *w, struct batch *one)
{
    struct kind *k = w->k;
    struct batch *from = one ? one : w->out, *to = one ? one + 1 : w->out + BATCHES;
    int rc = 0;
    if (!w->sock) { /* the worker's own sockets */
        for (struct batch *b = from; b < to; b++)
            if (b->ep >= 0 && batch_send(b, k->bound[b->ep]) == -ETERM)
                rc = -ETERM;
        return rc;
    }
    bool tell = false;
    pthread_mutex_lock(&k->lock);
    for (struct batch *b = from; b < to; b++) {
        int ep = b->ep;
        if (ep < 0)
            continue;
        void *s = k->bound[ep]; /* NULL once the proxy closed it */
        if (batch_send(b, s) == -ETERM) {
            rc = -ETERM;
            continue;
        }
        if (!k->ready[ep]) {
            int events = 0;
            size_t sz = sizeof events;
            k->ready[ep] =
                zmq_getsockopt(s, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN);
            tell |= k->ready[ep];
        }
    }
    pthread_mutex_unlock(&k->lock);
    if (tell)
        (void)eventfd_write(k->wake_fd, 1); /* EAGAIN: the count is full, it wakes anyway */
    return rc;
}

static int flush_answers(struct worker *w)
{
    return send_answers(w, NULL);
}

/* The batch for answers to bound socket ep with envelope env: the one that
 * holds some already, else an empty one, else one is sent to make room. */
static struct batch *batch_for(struct worker *w, int ep, zmq_msg_t *env, size_t n_env)
{
    struct batch *empty = NULL;
    for (struct batch *b = w->out; b < w->out + BATCHES; b++) {
        if (b->ep < 0) {
            if (!empty)
                empty = b;
        } else if (batch_fits(b, ep, env, n_env, 0)) {
            return b;
        }
    }
    if (empty)
        return empty;
    struct batch *b = &w->out[w->next_out++ % BATCHES];
    send_answers(w, b);
    return b;
}

/* Answers a request from bound socket ep: the envelope back (the received
 * frames are moved, not copied), the request's sequence frame if it had
 * one, then the response or the two error frames.  Answers to numbered
 * requests join the worker's batch for their client (sent when the worker
 * runs out of requests at hand, when it answers BATCH_ANSWERS requests or
 * is full, or when its place is needed for a fifth client); others go at
 * once, after those held for their client. */
static void answer(struct worker *w, int ep, zmq_msg_t *f, const struct layout *l,
                   const struct ob_verdict *v)
{
    bool ok = v->outcome == OB_OUT_OK || v->outcome == OB_OUT_PARTIAL;
    char err[sizeof v->message + 16];
    if (!ok)
        snprintf(err, sizeof err, "%s: %s", outcome_word[v->outcome], v->message);
    /* All accepted (an empty response) for a numbered request: a bit in a
     * set frame is enough. */
    bool settable = ok && v->response_len == 0 && l->seq_valid == 1 &&
                    !(l->frame.flags & OB_ZSEQ_FLAG_END);
    zmq_msg_t *env = f + l->env0;
    size_t n_env = l->env - l->env0;
    struct batch *b = batch_for(w, ep, env, n_env);
    if (settable && b->ep >= 0 && batch_set_add(b, l->frame.sender, l->frame.seq)) {
        if (++b->answers == BATCH_ANSWERS)
            send_answers(w, b);
        return;
    }
    if (b->ep >= 0 && (l->seq_valid != 1 || !batch_fits(b, ep, env, n_env, ok ? 2 : 3)) &&
        send_answers(w, b) == -ETERM)
        return;
    if (b->ep < 0)
        batch_start(b, ep, env, n_env);
    if (settable) {
        uint8_t set[OB_ZSEQ_SET_LEN];
        ob_zseq_encode_set(set, l->frame.sender, l->frame.seq, 1);
        b->set_at = b->n;
        b->set_sender = l->frame.sender;
        b->set_base = l->frame.seq;
        batch_copy(b, set, sizeof set);
        batch_copy(b, "", 0);
    } else {
        if (l->seq >= 0)
            batch_move(b, &f[l->seq]);
        if (!ok) {
            batch_copy(b, "error", 5);
            batch_copy(b, err, strlen(err));
        } else {
            batch_copy(b, v->response, v->response_len);
        }
    }
    b->groups++;
    if (l->seq_valid != 1 || b->groups == MAX_GROUPS || ++b->answers == BATCH_ANSWERS)
        send_answers(w, b);
}

/* One received message laid out by locate(): ingest it and, on the reply
 * socket, answer it on bound socket ep, where it came from. */
static void handle(struct worker *w, int ep, zmq_msg_t *f, size_t n, bool overflow,
                   const struct layout *l)
{
    int kind = w->k->kind;
    struct ob_verdict v = {.outcome = OB_OUT_OK};
    if (is_end_only(l, n)) {
        /* A sender's close: the receiver accounted for it; not a request. */
        if (kind == KIND_REPLY)
            answer(w, ep, f, l, &v);
        return;
    }
    process(w, f + l->body0, n - l->body0, overflow, l->seq_valid, &v);
    if (kind == KIND_REPLY)
        answer(w, ep, f, l, &v);
}

/* Receives one whole message into f (at most MAX_FRAMES; the rest is read
 * and dropped, *out_overflow set).  Returns the frame count or -errno
 * (-EAGAIN with ZMQ_DONTWAIT and nothing there). */
static int receive(void *sock, zmq_msg_t *f, bool *out_overflow, int flags)
{
    size_t n = 0;
    *out_overflow = false;
    for (;;) {
        zmq_msg_t spill;
        zmq_msg_t *m = n < MAX_FRAMES ? &f[n] : &spill;
        zmq_msg_init(m);
        /* Once the first frame is here the rest are too (messages are atomic). */
        if (zmq_msg_recv(m, sock, n == 0 ? flags : 0) < 0) {
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

static void close_frames(zmq_msg_t *f, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* ---- the receiver: sequence numbers ------------------------------------ */

static void report_loss(void *arg, unsigned endpoint, uint64_t sender, uint64_t lost)
{
    struct kind *k = arg;
    ob_sm_zmq_seq(k->sm_id[endpoint], lost, 0, 0);
    ob_complain(&loss_complaints[k->kind], "zmq",
                "%s %s: sender %016llx: %llu message%s lost (missing from its sequence)",
                kind_name[k->kind], k->endpoints[endpoint], (unsigned long long)sender,
                (unsigned long long)lost, lost == 1 ? "" : "s");
}

/* Accounts a message that came from bound socket ep; returns the layout. */
static void rx_observe(struct receiver *rx, unsigned ep, zmq_msg_t *f, size_t n,
                       struct layout *l)
{
    locate(rx->k->kind, false, f, n, l);
    if (l->seq_valid != 1)
        return;
    struct ob_zseq_counts c = {0};
    bool evicted;
    ob_zseq_observe(rx->seq, ep, &l->frame, ob_mono_ns(), &c, &evicted);
    if (c.lost || c.duplicate || c.reordered)
        ob_sm_zmq_seq(rx->k->sm_id[ep], 0, c.duplicate, c.reordered);
    if (c.lost)
        report_loss(rx->k, ep, l->frame.sender, c.lost);
    if (evicted)
        ob_sm_zmq_senders(rx->k->kind, ob_zseq_senders(rx->seq), 1);
}

/* Expiry and settling of closed senders, at most once per TICK_MS unless
 * idle (every poll that timed out). */
static void rx_tick(struct receiver *rx, bool idle)
{
    int64_t now = ob_mono_ns();
    if (!idle && now < rx->next_tick_ns)
        return;
    rx->next_tick_ns = now + (int64_t)TICK_MS * 1000000;
    ob_zseq_tick(rx->seq, now, idle, report_loss, rx->k);
    ob_sm_zmq_senders(rx->k->kind, ob_zseq_senders(rx->seq), 0);
}

static long rx_timeout(const struct receiver *rx)
{
    return ob_zseq_pending_ends(rx->seq) ? TICK_PENDING_MS : TICK_MS;
}

/* ---- threads ------------------------------------------------------------ */

/* threads == 1: the worker reads the bound sockets itself. */
static void direct_loop(struct worker *w)
{
    struct kind *k = w->k;
    zmq_pollitem_t it[MAX_ENDPOINTS];
    for (size_t i = 0; i < k->n_endpoints; i++)
        it[i] = (zmq_pollitem_t){.socket = k->bound[i], .events = ZMQ_POLLIN};
    zmq_msg_t f[MAX_FRAMES];
    for (;;) {
        int r = zmq_poll(it, (int)k->n_endpoints, rx_timeout(&k->rx));
        if (r < 0) {
            if (zmq_errno() == ETERM)
                return;
            continue; /* EINTR; signals are blocked here, but be safe */
        }
        if (r == 0) {
            rx_tick(&k->rx, true);
            continue;
        }
        for (size_t i = 0; i < k->n_endpoints; i++) {
            if (!(it[i].revents & ZMQ_POLLIN))
                continue;
            for (int b = 0; b < BURST; b++) {
                bool overflow;
                int n = receive(k->bound[i], f, &overflow, ZMQ_DONTWAIT);
                if (n == -ETERM)
                    return;
                if (n < 0)
                    break; /* EAGAIN: this socket is drained */
                struct layout l;
                rx_observe(&k->rx, (unsigned)i, f, (size_t)n, &l);
                handle(w, (int)i, f, (size_t)n, overflow, &l);
                close_frames(f, n);
            }
            if (flush_answers(w) == -ETERM)
                return;
        }
        rx_tick(&k->rx, false);
    }
}

/* threads > 1: the worker reads its inproc socket: waits for a request,
 * then takes what else is at hand before it sends the answers. */
static void pooled_loop(struct worker *w)
{
    zmq_msg_t f[MAX_FRAMES];
    for (;;) {
        for (int b = 0; b < BURST; b++) {
            bool overflow;
            int n = receive(w->sock, f, &overflow, b == 0 ? 0 : ZMQ_DONTWAIT);
            if (n == -ETERM)
                return;
            if (n < 0)
                break; /* EAGAIN: nothing more at hand (or EINTR) */
            /* Reply: the proxy's endpoint byte in front says where from. */
            int ep = w->k->kind == KIND_REPLY && zmq_msg_size(&f[0]) == 1
                         ? *(uint8_t *)zmq_msg_data(&f[0])
                         : 0;
            struct layout l;
            locate(w->k->kind, true, f, (size_t)n, &l);
            handle(w, ep, f, (size_t)n, overflow, &l);
            close_frames(f, n);
        }
        if (flush_answers(w) == -ETERM)
            return;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < BATCHES; i++)
        batch_init(&w->out[i]);
    if (w->sock) {
        pooled_loop(w);
        flush_answers(w); /* ETERM: only closes the frames */
        zmq_close(w->sock);
        w->sock = NULL;
    } else {
        direct_loop(w);
        flush_answers(w);
        struct kind *k = w->k;
        for (size_t i = 0; i < k->n_endpoints; i++) {
            zmq_close(k->bound[i]);
            k->bound[i] = NULL;
        }
    }
    return NULL;
}

/* Sends one frame; once sent, m is an empty message (to be closed). */
static int send_frame(zmq_msg_t *m, void *to, bool more, int flags)
{
    if (zmq_msg_send(m, to, (more ? ZMQ_SNDMORE : 0) | flags) < 0)
        return -zmq_errno();
    zmq_msg_init(m);
    return 0;
}

/* Sends frames [from, n) of f on to `to`, prefixed with the one-byte
 * endpoint index when prefix >= 0.  first (ZMQ_DONTWAIT or 0) is for the
 * first frame: once that is queued the rest goes at once (libzmq queues a
 * multipart message whole).  The frames are handed over, not copied, and
 * those not sent are closed; except on -EAGAIN (no room for the first frame),
 * when nothing was sent and f is untouched.  Returns 0, -EAGAIN or -ETERM. */
static int pass_on(zmq_msg_t *f, size_t from, size_t n, bool overflow, int prefix, void *to,
                   int first)
{
    int rc;
    size_t i = from;
    if (prefix >= 0) {
        uint8_t b = (uint8_t)prefix;
        rc = zmq_send(to, &b, 1, ZMQ_SNDMORE | first) < 0 ? -zmq_errno() : 0;
    } else {
        rc = send_frame(&f[i], to, i + 1 < n || overflow, first);
        i++;
    }
    if (rc == -EAGAIN)
        return -EAGAIN;
    /* An overflowing message keeps more than MAX_FRAMES frames so the worker
     * refuses it too: add one empty frame for the dropped rest. */
    for (; i < n && rc == 0; i++)
        rc = send_frame(&f[i], to, i + 1 < n || overflow, 0);
    if (rc == 0 && overflow && zmq_send(to, "", 0, 0) < 0)
        rc = -zmq_errno();
    close_frames(f + from, (int)(n - from));
    return rc == -ETERM ? -ETERM : 0;
}

/* Moves requests from the bound sockets to the workers while the backend
 * takes them: first the one held back for want of room, then up to BURST
 * from each bound socket that may have some (ready).  A request the backend
 * has no room for is held.  Returns the number of requests moved, or
 * -ETERM. */
static int proxy_requests(struct kind *k)
{
    bool reply = k->kind == KIND_REPLY;
    int moved = 0;
    if (k->n_held) {
        int rc = pass_on(k->held, 0, k->n_held, k->held_overflow, reply ? (int)k->held_ep : -1,
                         k->back, ZMQ_DONTWAIT);
        if (rc == -EAGAIN)
            return 0;
        k->n_held = 0;
        if (rc == -ETERM)
            return -ETERM;
        moved++;
    }
    for (size_t i = 0; i < k->n_endpoints; i++) {
        for (int b = 0; b < BURST; b++) {
            bool overflow;
            int n = -EAGAIN;
            pthread_mutex_lock(&k->lock);
            if (k->ready[i]) {
                n = receive(k->bound[i], k->held, &overflow, ZMQ_DONTWAIT);
                if (n < 0)
                    k->ready[i] = false; /* drained: its fd signals what comes */
            }
            pthread_mutex_unlock(&k->lock);
            if (n == -ETERM)
                return -ETERM;
            if (n < 0)
                break;
            moved++;
            struct layout l;
            rx_observe(&k->rx, (unsigned)i, k->held, (size_t)n, &l);
            if (!reply && is_end_only(&l, (size_t)n)) {
                close_frames(k->held, n); /* accounted; nothing to ingest */
                continue;
            }
            int rc = pass_on(k->held, 0, (size_t)n, overflow, reply ? (int)i : -1, k->back,
                             ZMQ_DONTWAIT);
            if (rc == -EAGAIN) {
                k->n_held = (size_t)n;
                k->held_overflow = overflow;
                k->held_ep = (unsigned)i;
                return moved;
            }
            if (rc == -ETERM)
                return -ETERM;
        }
    }
    return moved;
}

/* The fan-out between the bound sockets and the workers.  Not zmq_proxy()
 * nor zmq_poll(): libzmq asks a socket for its state (ZMQ_EVENTS) with a
 * poll(2) and a getpid(2) whenever its command queue is empty, and
 * zmq_poll() does that for every socket, twice when it waits, on top of its
 * own poll(2): with three sockets, up to 8 poll(2) and 6 getpid(2) per
 * wake-up, most of the proxy's CPU.  Here the bound sockets are read without
 * waiting until nothing moves; then the proxy sleeps in one poll(2) on the
 * sockets' file descriptors (ZMQ_FD), which become readable when a socket
 * has news, and on wake_fd, where reply workers say that requests wait (see
 * flush_answers).  A bound socket is read only when it said so (ready), or
 * when its last read found a message.  While the backend has no room (a
 * request is held) the bound sockets are not read, so that the backlog
 * waits in them, where zmq.rcv_hwm applies. */
static void *proxy_main(void *arg)
{
    struct kind *k = arg;
    struct pollfd pfd[MAX_ENDPOINTS + 2];
    size_t n_pfd = 0;
    int fd;
    size_t fd_len = sizeof fd;
    /* The backend first: alone while a request is held. */
    if (zmq_getsockopt(k->back, ZMQ_FD, &fd, &fd_len) != 0)
        goto out;
    pfd[n_pfd++].fd = fd;
    pfd[n_pfd++].fd = k->wake_fd;
    for (size_t i = 0; i < k->n_endpoints; i++) {
        fd_len = sizeof fd;
        if (zmq_getsockopt(k->bound[i], ZMQ_FD, &fd, &fd_len) != 0)
            goto out;
        pfd[n_pfd++].fd = fd;
    }
    for (;;) {
        int r = proxy_requests(k);
        if (r < 0)
            break;
        rx_tick(&k->rx, false);
        if (r > 0)
            continue;
        /* Held: the backend alone (its fd says it has news, maybe room);
         * otherwise all but the backend, whose news do not matter then. */
        struct pollfd *p = k->n_held ? pfd : pfd + 1;
        size_t n = k->n_held ? 1 : n_pfd - 1;
        for (size_t i = 0; i < n; i++)
            p[i].events = POLLIN, p[i].revents = 0;
        r = poll(p, (nfds_t)n, (int)rx_timeout(&k->rx));
        if (r == 0)
            rx_tick(&k->rx, !k->n_held); /* idle only if the bound sockets were asked */
        if (r > 0 && k->n_held) {
            /* Its commands, so that the fd no longer signals them (a send
             * takes them only once a millisecond). */
            int events;
            size_t sz = sizeof events;
            if (zmq_getsockopt(k->back, ZMQ_EVENTS, &events, &sz) != 0 && zmq_errno() == ETERM)
                break;
        }
        if (r <= 0 || k->n_held)
            continue;
        if (pfd[1].revents) {
            eventfd_t v;
            (void)eventfd_read(k->wake_fd, &v); /* ready was set by the worker */
        }
        pthread_mutex_lock(&k->lock);
        for (size_t i = 0; i < k->n_endpoints; i++)
            if (pfd[i + 2].revents)
                k->ready[i] = true;
        pthread_mutex_unlock(&k->lock);
    }
out:
    close_frames(k->held, (int)k->n_held);
    k->n_held = 0;
    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < k->n_endpoints; i++) {
        zmq_close(k->bound[i]);
        k->bound[i] = NULL;
    }
    pthread_mutex_unlock(&k->lock);
    zmq_close(k->back);
    k->back = NULL;
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

/* Creates and binds one socket per endpoint of the kind, and the inproc
 * fan-out when there is more than one worker.  Threads are not started
 * here. */
static int setup_kind(struct ob_zmq *z, int kind, const char *const *eps, size_t n_eps,
                      const struct ob_zmq_opts *o, char err[OB_ERR_LEN])
{
    struct kind *k = &z->kinds[kind];
    k->z = z;
    k->kind = kind;
    k->rx.k = k;
    if (n_eps == 0)
        return 0;
    if (n_eps > MAX_ENDPOINTS) {
        snprintf(err, OB_ERR_LEN, "zmq.%s: %zu endpoints, at most %d", kind_name[kind], n_eps,
                 MAX_ENDPOINTS);
        return -EINVAL;
    }
    int hwm = o->rcv_hwm > 0 ? o->rcv_hwm : 0;
    int rc;
    for (size_t i = 0; i < n_eps; i++) {
        void *s;
        rc = new_socket(z, kind == KIND_PULL ? ZMQ_PULL : ZMQ_ROUTER, hwm, &s);
        if (rc != 0) {
            snprintf(err, OB_ERR_LEN, "zmq %s socket: %s", kind_name[kind], zmq_strerror(-rc));
            return rc;
        }
        k->bound[k->n_endpoints++] = s;
        char last[256];
        size_t last_len = sizeof last;
        /* IPv6 only for [v6] literals: with it on, "tcp://127.0.0.1:*"
         * would report itself as tcp://[::ffff:127.0.0.1]:port. */
        int v6 = strchr(eps[i], '[') != NULL;
        if (zmq_setsockopt(s, ZMQ_IPV6, &v6, sizeof v6) != 0 || zmq_bind(s, eps[i]) != 0 ||
            zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &last_len) != 0) {
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
        k->sm_id[i] = ob_sm_zmq_endpoint(last);
    }
    rc = ob_zseq_create(o->max_senders ? o->max_senders : DEFAULT_MAX_SENDERS,
                        o->sender_ttl_ns > 0 ? o->sender_ttl_ns : DEFAULT_SENDER_TTL_NS,
                        &k->rx.seq);
    if (rc != 0) {
        snprintf(err, OB_ERR_LEN, "zmq: sender table: %s", ob_strerror(rc));
        return rc;
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
        *w = (struct worker){.k = k};
        w->bufs = (struct ob_request_bufs){0};
    }
    if (nw == 1)
        return 0; /* the worker reads the bound sockets */
    if ((rc = -pthread_mutex_init(&k->lock, NULL)) != 0) {
        snprintf(err, OB_ERR_LEN, "zmq: lock: %s", ob_strerror(rc));
        return rc;
    }
    k->lock_made = true;
    for (size_t i = 0; i < k->n_endpoints; i++)
        k->ready[i] = true; /* read them first; their fds tell what comes later */
    if ((k->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "zmq: eventfd: %s", ob_strerror(rc));
        return rc;
    }
    rc = new_socket(z, ZMQ_PUSH, INPROC_HWM, &k->back);
    if (rc == 0 && zmq_bind(k->back, inproc_addr[kind]) != 0)
        rc = -zmq_errno();
    for (size_t i = 0; rc == 0 && i < nw; i++) {
        rc = new_socket(z, ZMQ_PULL, INPROC_HWM, &k->workers[i].sock);
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
    for (int kind = 0; kind < KIND__COUNT; kind++)
        z->kinds[kind].wake_fd = -1; /* ob_zmq_stop() closes what is open */
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
        bool direct_started = k->n_workers == 1 && k->workers[0].started;
        if (k->proxy_started)
            pthread_join(k->proxy, NULL);
        for (size_t i = 0; i < k->n_workers; i++) {
            struct worker *w = &k->workers[i];
            if (w->started)
                pthread_join(w->tid, NULL);
            else if (w->sock)
                zmq_close(w->sock);
            ob_request_bufs_fini(&w->bufs);
        }
        if (!k->proxy_started && !direct_started) {
            for (size_t i = 0; i < k->n_endpoints; i++)
                if (k->bound[i])
                    zmq_close(k->bound[i]);
            if (k->back)
                zmq_close(k->back);
        }
        free(k->workers);
        if (k->lock_made)
            pthread_mutex_destroy(&k->lock);
        if (k->wake_fd >= 0)
            close(k->wake_fd);
        for (size_t i = 0; i < k->n_endpoints; i++)
            free(k->endpoints[i]);
        ob_zseq_destroy(k->rx.seq);
    }
    if (z->ctx)
        zmq_ctx_term(z->ctx);
    free(z);
}
