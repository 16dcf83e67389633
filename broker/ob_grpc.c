/* ob_grpc.c: the OTLP/gRPC frontend on nghttp2 (see ob_grpc.h).
 *
 * Transport only: HTTP/2 (nghttp2_session_server per connection, fed with
 * mem_recv and drained with mem_send on our own non-blocking sockets), the
 * gRPC headers and the 5-byte length-prefixed framing.  The body goes to
 * the request path (ob_request.h); its verdict becomes a grpc-status through
 * outcome_status[].
 *
 * Memory per connection is bounded by: grpc.max_concurrent_streams streams
 * (nghttp2 refuses more with RST_STREAM REFUSED_STREAM), each with a fixed
 * struct, a header block of at most grpc.max_header_list bytes (only the
 * few headers we use are kept), and request bodies of at most
 * limits.max_body_bytes each and grpc.connection_memory together; there are
 * at most grpc.max_connections connections (one more is closed as it is
 * accepted, before it has a session).  nghttp2 itself limits queued control
 * frames (a client that floods PINGs or SETTINGS without reading the answers
 * gets its connection closed) and resets of streams per second (the "rapid
 * reset" attack).
 *
 * One slow client cannot stall others: no socket call blocks, a connection
 * whose peer does not read keeps its unsent frames and only waits for
 * EPOLLOUT, and the receive windows (grpc.stream_window per stream,
 * grpc.connection_window per connection) let a client send a whole typical
 * request at once without waiting for WINDOW_UPDATE round trips.
 */
#define _GNU_SOURCE /* accept4 */
#include "ob_grpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "ob_buf.h"
#include "ob_config.h"
#include "ob_error.h"
#include "ob_listen.h"
#include "ob_log.h"
#include "ob_request.h"
#include "ob_selfmetrics.h"
#include "ob_time.h"

#define COMPONENT "grpc"
#define PREFIX_LEN 5
#define READ_CHUNK (64 * 1024)
#define READS_PER_WAKE 8 /* then other connections get their turn */
#define MAX_EVENTS 64
#define OUT_GATHER (64 * 1024) /* bytes of frames gathered for one send() */
#define FEED_SLICE 4096 /* bytes per nghttp2_session_mem_recv() */
#define FLUSH_QUEUED 64 /* frames queued that make us write before reading on */
#define SWEEP_MAX_MS 1000
#define ACCEPT_PAUSE_NS (50 * 1000000LL)

/* gRPC status codes (grpc/status.h). */
enum {
    GS_OK = 0,
    GS_INVALID_ARGUMENT = 3,
    GS_DEADLINE_EXCEEDED = 4,
    GS_RESOURCE_EXHAUSTED = 8,
    GS_UNIMPLEMENTED = 12,
    GS_UNAVAILABLE = 14,
};

/* The answer to each outcome.  OTLP/gRPC: INVALID_ARGUMENT is not retried,
 * UNAVAILABLE is; RESOURCE_EXHAUSTED only with RetryInfo, which we do not
 * send (a body over the limit stays over it).  UNIMPLEMENTED: an encoding,
 * method or service we do not have, as gRPC says. */
static const int outcome_status[OB_OUT__COUNT] = {
    [OB_OUT_OK] = GS_OK,
    [OB_OUT_PARTIAL] = GS_OK,
    [OB_OUT_MALFORMED] = GS_INVALID_ARGUMENT,
    [OB_OUT_TOO_LARGE] = GS_RESOURCE_EXHAUSTED,
    [OB_OUT_UNSUPPORTED] = GS_UNIMPLEMENTED,
    [OB_OUT_OVERLOADED] = GS_UNAVAILABLE,
};

struct loop;
struct conn;

/* One call.  Lives from its HEADERS to nghttp2's stream close. */
struct stream {
    int32_t id;
    struct conn *c;
    struct stream *prev, *next; /* the connection's streams, for deadlines */
    /* Headers we use, and the size of the whole block. */
    char path[96];
    bool path_long, post, grpc_ctype, bad_timeout;
    char enc_name[24];
    size_t header_bytes;
    int64_t deadline_ns; /* 0: none */
    /* Framing: the prefix, then the message. */
    uint8_t prefix[PREFIX_LEN];
    unsigned prefix_len;
    bool compressed, got_msg;
    uint32_t msg_len;
    struct ob_buf body;
    size_t charged; /* of body, against grpc.connection_memory */
    bool answered;  /* later DATA is dropped */
    bool header_list_over; /* reset for a header block over grpc.max_header_list */
    /* The answer's DATA: prefix + response, sent by read_response(). */
    struct ob_buf out;
    size_t out_off;
};

struct conn {
    int fd;
    struct loop *l;
    nghttp2_session *s;
    struct conn *prev, *next;
    struct stream *streams;
    unsigned n_streams;
    char peer[64];
    size_t buffered;       /* request bytes held by this connection's streams */
    struct ob_buf out;     /* frames from mem_send gathered for one send() */
    size_t out_off;        /* of out, written already */
    size_t pend_len;       /* out.len - out_off: bytes not written yet */
    bool out_armed;        /* EPOLLOUT registered */
    bool closing;          /* GOAWAY submitted: closed after the next write of it */
    bool goaway_counted;   /* conn_fail() counted and logged it */
    int64_t last_active_ns;
};

struct loop {
    struct ob_grpc *g;
    unsigned idx;
    int ep;
    int pipe_rd, pipe_wr; /* new connections (fd), -1 = stop */
    pthread_t th;
    bool running;
    struct conn *conns;
    struct ob_request_bufs bufs;
    uint8_t rbuf[READ_CHUNK];
    int64_t next_sweep_ns;
    int64_t accept_resume_ns; /* loop 0: accepting paused until then (0: not paused) */
};

struct ob_grpc {
    struct ob_grpc_deps deps;
    struct ob_request_path path;
    int listen_fd;
    uint16_t port;
    unsigned n_loops;
    unsigned next_loop; /* loop 0 only */
    /* Connections accepted and not closed yet, handed-off ones included:
     * raised by loop 0 alone (at accept), lowered by any loop. */
    _Atomic uint32_t n_conns;
    struct loop *loops;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    nghttp2_settings_entry settings[4];
};

static struct ob_complaint complain_accept, complain_conn;

/* ---- answers -------------------------------------------------------------- */

/* grpc-message is percent-encoded: bytes outside printable ASCII, and '%'. */
static void percent_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static void release_body(struct stream *st)
{
    st->c->buffered -= st->charged;
    st->charged = 0;
    ob_buf_fini(&st->body);
}

/* Trailers-only: one HEADERS frame with END_STREAM.  http_status is 200 but
 * for a content type that is not gRPC's (415, as gRPC says). */
static void answer_error(struct stream *st, const char *http_status, int status, const char *msg)
{
    char code[12], text[3 * 320 + 1];
    snprintf(code, sizeof code, "%d", status);
    percent_encode(msg, text, sizeof text);
    nghttp2_nv nva[] = {
        NV(":status", http_status),
        NV("content-type", "application/grpc"),
        NV("grpc-status", code),
        NV("grpc-message", text),
        NV("grpc-accept-encoding", "gzip,identity"),
    };
    /* grpc-accept-encoding only where it tells the client something. */
    size_t n = status == GS_UNIMPLEMENTED ? 5 : 4;
    st->answered = true;
    release_body(st);
    if (nghttp2_submit_response(st->c->s, st->id, nva, n, NULL) != 0)
        nghttp2_submit_rst_stream(st->c->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

static ssize_t read_response(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                             uint32_t *flags, nghttp2_data_source *src, void *user)
{
    OB_UNUSED(user);
    struct stream *st = src->ptr;
    size_t n = OB_MIN(len, st->out.len - st->out_off);
    memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailers[] = {NV("grpc-status", "0")};
        if (nghttp2_submit_trailer(s, id, trailers, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* The store could take none of the points for want of room: the sender
 * should hear RESOURCE_EXHAUSTED (OTLP/gRPC), not OK with partial_success. */
static bool store_full(const struct ob_verdict *v)
{
    return v->outcome == OB_OUT_PARTIAL && v->reason == OB_REASON_LIMIT &&
           v->result.rejected == v->result.points;
}

static void answer_verdict(struct stream *st, const struct ob_verdict *v)
{
    int status = store_full(v) ? GS_RESOURCE_EXHAUSTED : outcome_status[v->outcome];
    if (status != GS_OK) {
        answer_error(st, "200", status, v->message);
        return;
    }
    st->answered = true;
    release_body(st);
    size_t n = v->response_len;
    uint8_t pfx[PREFIX_LEN] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                               (uint8_t)n};
    st->out.len = 0;
    ob_buf_append(&st->out, pfx, sizeof pfx);
    ob_buf_append(&st->out, v->response, n);
    if (st->out.failed) {
        ob_buf_fini(&st->out);
        nghttp2_submit_rst_stream(st->c->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_response};
    if (nghttp2_submit_response(st->c->s, st->id, nva, 2, &dp) != 0)
        nghttp2_submit_rst_stream(st->c->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

static void peer_text(const void *ctx, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", ((const struct conn *)ctx)->peer);
}

static struct ob_request base_request(const struct stream *st)
{
    return (struct ob_request){.fe = OB_FE_GRPC, .format = OB_PAYLOAD_PROTOBUF, .body = "",
                               .peer = peer_text, .peer_ctx = st->c};
}

/* A refusal made here: counted and logged by the request path. */
OB_PRINTF(4, 5)
static void refuse(struct stream *st, enum ob_outcome o, int status, const char *fmt, ...)
{
    struct ob_request rq = base_request(st);
    struct ob_verdict v;
    char msg[sizeof v.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ob_request_refuse(&rq, o, &v, "%s", msg);
    answer_error(st, "200", status >= 0 ? status : outcome_status[o], v.message);
}

static void refuse_verdict(struct stream *st, const struct ob_verdict *v)
{
    answer_error(st, "200", outcome_status[v->outcome], v->message);
}

/* ---- a call ----------------------------------------------------------------- */

/* grpc-timeout: up to 8 digits and a unit (H M S m u n).  Returns ns, or -1. */
static int64_t parse_timeout(const uint8_t *v, size_t len)
{
    if (len < 2 || len > 9)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    static const struct {
        char unit;
        int64_t ns;
    } units[] = {{'H', 3600000000000}, {'M', 60000000000}, {'S', 1000000000},
                 {'m', 1000000},       {'u', 1000},        {'n', 1}};
    for (size_t i = 0; i < OB_ARRAY_LEN(units); i++)
        if (v[len - 1] == units[i].unit)
            return n > INT64_MAX / units[i].ns ? INT64_MAX : n * units[i].ns;
    return -1;
}

static bool media_type_grpc(const uint8_t *v, size_t len)
{
    static const char want[] = "application/grpc";
    size_t w = sizeof want - 1;
    if (len < w || strncasecmp((const char *)v, want, w) != 0)
        return false;
    if (len == w || v[w] == ';')
        return true;
    static const char proto[] = "+proto";
    size_t p = sizeof proto - 1;
    return len >= w + p && strncasecmp((const char *)v + w, proto, p) == 0 &&
           (len == w + p || v[w + p] == ';');
}

/* The request's headers are complete: refuse now what cannot succeed. */
static void headers_done(struct stream *st)
{
    const struct ob_grpc *g = st->c->l->g;
    enum ob_body_encoding enc;
    if (!st->grpc_ctype) {
        struct ob_request rq = base_request(st);
        struct ob_verdict v;
        ob_request_refuse(&rq, OB_OUT_UNSUPPORTED, &v,
                          "content-type is not application/grpc");
        answer_error(st, "415", GS_UNIMPLEMENTED, v.message);
    } else if (!st->post || st->path_long || strcmp(st->path, OB_GRPC_EXPORT_PATH) != 0) {
        refuse(st, OB_OUT_UNSUPPORTED, GS_UNIMPLEMENTED,
               "unknown method %s%s: only " OB_GRPC_EXPORT_PATH, st->path,
               st->path_long ? "..." : "");
    } else if (ob_request_encoding(st->enc_name, strlen(st->enc_name), &enc) != 0) {
        refuse(st, OB_OUT_UNSUPPORTED, GS_UNIMPLEMENTED,
               "grpc-encoding '%s' is not supported: gzip or identity", st->enc_name);
    } else if (st->bad_timeout) {
        refuse(st, OB_OUT_MALFORMED, -1, "malformed grpc-timeout");
    } else if (st->deadline_ns && st->deadline_ns <= ob_mono_ns()) {
        refuse(st, OB_OUT_OVERLOADED, GS_DEADLINE_EXCEEDED, "deadline exceeded before the call");
    } else if (!g->deps.ingest) {
        refuse(st, OB_OUT_OVERLOADED, -1, "not ready");
    }
}

/* The prefix is complete: check it and make room for the message. */
static bool start_message(struct stream *st)
{
    const struct ob_grpc *g = st->c->l->g;
    uint8_t flag = st->prefix[0];
    st->compressed = flag & 1;
    st->msg_len = (uint32_t)st->prefix[1] << 24 | (uint32_t)st->prefix[2] << 16 |
                  (uint32_t)st->prefix[3] << 8 | st->prefix[4];
    enum ob_body_encoding enc = OB_ENC_IDENTITY;
    ob_request_encoding(st->enc_name, strlen(st->enc_name), &enc);
    if (flag > 1) {
        refuse(st, OB_OUT_MALFORMED, -1, "bad message flag %u", (unsigned)flag);
        return false;
    }
    if (st->compressed && enc == OB_ENC_IDENTITY) {
        refuse(st, OB_OUT_MALFORMED, -1, "compressed flag set without a grpc-encoding");
        return false;
    }
    struct ob_request rq = base_request(st);
    struct ob_verdict v;
    if (ob_request_over_limit(&g->path, &rq, st->msg_len, &v)) {
        refuse_verdict(st, &v);
        return false;
    }
    struct conn *c = st->c;
    if (st->msg_len > g->deps.cfg->grpc_conn_memory - c->buffered) {
        refuse(st, OB_OUT_TOO_LARGE, -1,
               "message of %u bytes: the connection has %zu bytes of calls buffered "
               "(grpc.connection_memory)",
               st->msg_len, c->buffered);
        return false;
    }
    if (st->msg_len && !ob_buf_reserve_max(&st->body, st->msg_len, st->msg_len)) {
        refuse(st, OB_OUT_OVERLOADED, -1, "out of memory");
        return false;
    }
    st->charged = st->body.cap;
    c->buffered += st->charged;
    st->got_msg = st->msg_len == 0;
    return true;
}

/* DATA: the prefix, then the message, possibly over many frames. */
static void feed(struct stream *st, const uint8_t *p, size_t len)
{
    while (len && !st->answered) {
        if (st->got_msg) {
            refuse(st, OB_OUT_MALFORMED, -1, "more than one request message in a unary call");
            return;
        }
        if (st->prefix_len < PREFIX_LEN) {
            size_t n = OB_MIN(len, PREFIX_LEN - st->prefix_len);
            memcpy(st->prefix + st->prefix_len, p, n);
            st->prefix_len += (unsigned)n;
            p += n;
            len -= n;
            if (st->prefix_len == PREFIX_LEN && !start_message(st))
                return;
            continue;
        }
        size_t n = OB_MIN(len, st->msg_len - st->body.len);
        memcpy(st->body.data + st->body.len, p, n);
        st->body.len += n;
        p += n;
        len -= n;
        st->got_msg = st->body.len == st->msg_len;
    }
}

/* END_STREAM: the call is complete. */
static void finish(struct stream *st)
{
    if (st->answered)
        return;
    if (st->deadline_ns && st->deadline_ns <= ob_mono_ns()) {
        refuse(st, OB_OUT_OVERLOADED, GS_DEADLINE_EXCEEDED, "deadline exceeded");
        return;
    }
    if (!st->got_msg) {
        if (st->prefix_len == 0)
            refuse(st, OB_OUT_MALFORMED, -1, "no request message");
        else if (st->prefix_len < PREFIX_LEN)
            refuse(st, OB_OUT_MALFORMED, -1, "truncated message prefix");
        else
            refuse(st, OB_OUT_MALFORMED, -1, "message of %u bytes ends after %zu", st->msg_len,
                   st->body.len);
        return;
    }
    struct loop *l = st->c->l;
    struct ob_request rq = base_request(st);
    enum ob_body_encoding enc = OB_ENC_IDENTITY;
    ob_request_encoding(st->enc_name, strlen(st->enc_name), &enc);
    rq.encoding = st->compressed ? enc : OB_ENC_IDENTITY;
    rq.body = st->body.len ? (const void *)st->body.data : "";
    rq.len = st->body.len;
    struct ob_verdict v;
    ob_request_handle(&l->g->path, &rq, &l->bufs, &v);
    answer_verdict(st, &v);
}

/* ---- nghttp2 callbacks ------------------------------------------------------ */

static struct stream *stream_of(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    struct conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->id = f->hd.stream_id;
    st->c = c;
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    c->n_streams++;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t len, bool *too_long)
{
    size_t n = OB_MIN(len, cap - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    if (too_long)
        *too_long = n < len;
}

/* A header block (or trailers) over grpc.max_header_list: the stream is
 * reset (RST_STREAM INTERNAL_ERROR, what nghttp2 sends for a header callback
 * that fails; the rest of the block is not handed to us), counted under its
 * own reason when the reset goes out (on_frame_send), and the call counted as
 * a request refused too_large, unless it had been answered already. */
static int header_list_over(struct stream *st)
{
    if (!st->header_list_over && !st->answered) {
        struct ob_request rq = base_request(st);
        struct ob_verdict v;
        ob_request_refuse(&rq, OB_OUT_TOO_LARGE, &v,
                          "header block over %llu bytes (grpc.max_header_list): stream reset",
                          (unsigned long long)st->c->l->g->deps.cfg->grpc_max_header_list);
        st->answered = true;
    }
    st->header_list_over = true;
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    OB_UNUSED(flags);
    struct conn *c = user;
    struct stream *st = stream_of(s, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    /* HTTP/2's accounting of a header list: 32 bytes per field. */
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > c->l->g->deps.cfg->grpc_max_header_list)
        return header_list_over(st);
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers: nothing we use */
    if (IS(":path")) {
        copy_value(st->path, sizeof st->path, value, valuelen, &st->path_long);
    } else if (IS(":method")) {
        st->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (IS("content-type")) {
        st->grpc_ctype = media_type_grpc(value, valuelen);
    } else if (IS("grpc-encoding")) {
        bool longer;
        copy_value(st->enc_name, sizeof st->enc_name, value, valuelen, &longer);
        if (longer) /* no encoding we know is that long: keep it unknown */
            memcpy(st->enc_name + sizeof st->enc_name - 4, "...", 4);
    } else if (IS("grpc-timeout")) {
        int64_t ns = parse_timeout(value, valuelen);
        st->bad_timeout = ns < 0;
        if (ns >= 0) {
            int64_t now = ob_mono_ns();
            st->deadline_ns = ns > INT64_MAX - now ? 0 : now + ns;
            if (st->deadline_ns && st->deadline_ns < c->l->next_sweep_ns)
                c->l->next_sweep_ns = st->deadline_ns;
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    OB_UNUSED(user);
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct stream *st = stream_of(s, f->hd.stream_id);
    if (!st)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        headers_done(st);
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        finish(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    OB_UNUSED(flags);
    OB_UNUSED(user);
    struct stream *st = stream_of(s, id);
    if (st)
        feed(st, data, len);
    return 0;
}

static void stream_free(struct conn *c, struct stream *st)
{
    release_body(st);
    ob_buf_fini(&st->out);
    if (st->prev)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    c->n_streams--;
    free(st);
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user)
{
    OB_UNUSED(error_code);
    struct stream *st = stream_of(s, id);
    if (st) {
        nghttp2_session_set_stream_user_data(s, id, NULL);
        stream_free(user, st);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    struct conn *c = user;
    /* GOAWAYs for errors nghttp2 sends on its own (a frame that breaks the
     * protocol makes mem_recv send one and go on); conn_fail() counts ours. */
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
        !c->goaway_counted) {
        c->goaway_counted = true;
        ob_sm_grpc_event(OB_SM_GRPC_GOAWAY);
        ob_complain(&complain_conn, COMPONENT, "connection from %s: GOAWAY %s%s%.*s", c->peer,
                    nghttp2_http2_strerror(f->goaway.error_code),
                    f->goaway.opaque_data_len ? ": " : "", (int)f->goaway.opaque_data_len,
                    (const char *)f->goaway.opaque_data);
        return 0;
    }
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        uint32_t e = f->rst_stream.error_code;
        struct stream *st = stream_of(s, f->hd.stream_id);
        if (st && st->header_list_over)
            ob_sm_grpc_event(OB_SM_GRPC_HEADER_LIST);
        else if (e == NGHTTP2_REFUSED_STREAM)
            ob_sm_grpc_event(OB_SM_GRPC_REFUSED);
        else if (e != NGHTTP2_NO_ERROR)
            ob_sm_grpc_event(OB_SM_GRPC_RESET);
        return 0;
    }
    /* An answer sent before the client finished sending (a refusal): tell
     * it to stop with RST_STREAM NO_ERROR (RFC 9113 8.1), so that the rest
     * of a large body is not sent for nothing. */
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        nghttp2_stream *ns = nghttp2_session_find_stream(s, f->hd.stream_id);
        if (ns && nghttp2_stream_get_state(ns) == NGHTTP2_STREAM_STATE_OPEN)
            nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

/* Closes an accepted socket and frees its place under grpc.max_connections. */
static void close_accepted(struct ob_grpc *g, int fd)
{
    close(fd);
    atomic_fetch_sub_explicit(&g->n_conns, 1, memory_order_relaxed);
}

static void conn_close(struct conn *c)
{
    struct loop *l = c->l;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close_accepted(l->g, c->fd);
    nghttp2_session_del(c->s); /* without stream close callbacks: */
    while (c->streams)
        stream_free(c, c->streams);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ob_sm_grpc_connections(-1);
    ob_buf_fini(&c->out);
    free(c);
}

static void arm_out(struct conn *c, bool on)
{
    if (c->out_armed == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(c->l->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

/* Gathers what nghttp2 has to send (it hands out one frame at a time) into
 * one buffer of up to OUT_GATHER bytes: an answer is three frames, and one
 * send() of them is one wake-up of the client instead of three. */
static bool gather(struct conn *c)
{
    while (c->out.len < OUT_GATHER) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->s, &p);
        if (n < 0) {
            ob_complain(&complain_conn, COMPONENT, "%s: %s", c->peer, nghttp2_strerror((int)n));
            return false;
        }
        if (n == 0)
            break;
        if (!ob_buf_append(&c->out, p, (size_t)n))
            return false;
    }
    return true;
}

/* Writes what nghttp2 has to send until the socket is full.  Returns false
 * when the connection is to be closed. */
static bool conn_flush(struct conn *c)
{
    for (;;) {
        if (!c->pend_len) {
            c->out.len = c->out_off = 0;
            if (!gather(c))
                return false;
            if (!c->out.len)
                break;
            c->pend_len = c->out.len;
        }
        ssize_t w = send(c->fd, c->out.data + c->out_off, c->pend_len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm_out(c, true);
            return true;
        }
        if (w < 0)
            return false;
        c->out_off += (size_t)w;
        c->pend_len -= (size_t)w;
    }
    /* A burst's buffer is not kept by an idle connection. */
    if (c->out.cap > 2 * OUT_GATHER)
        ob_buf_fini(&c->out);
    arm_out(c, false);
    return nghttp2_session_want_read(c->s) || nghttp2_session_want_write(c->s);
}

/* A frame nghttp2 could not take: GOAWAY with the error, then close.  The
 * GOAWAY goes out with what the socket takes at once; a peer that does not
 * read (a flood) is not waited for. */
static void conn_fail(struct conn *c, int rc)
{
    ob_sm_grpc_event(OB_SM_GRPC_GOAWAY);
    c->goaway_counted = true;
    ob_complain(&complain_conn, COMPONENT, "connection from %s: %s: closed", c->peer,
                nghttp2_strerror(rc));
    if (rc != NGHTTP2_ERR_BAD_CLIENT_MAGIC) /* else not HTTP/2: nothing to say GOAWAY to */
        nghttp2_session_terminate_session(c->s, rc == NGHTTP2_ERR_FLOODED
                                                    ? NGHTTP2_ENHANCE_YOUR_CALM
                                                    : NGHTTP2_PROTOCOL_ERROR);
    c->closing = true;
}

/* Hands what was read to nghttp2 in slices, writing out what piled up in
 * between: a burst of frames that each want an answer (thousands of
 * streams over the limit, each refused with a RST_STREAM) is then answered
 * as it comes instead of tripping nghttp2's flood limit on queued frames
 * (1000), which is kept for clients that do not read.  Returns false when
 * the connection is to be closed. */
static bool conn_feed(struct conn *c, const uint8_t *p, size_t n)
{
    while (n && !c->closing) {
        size_t k = OB_MIN(n, (size_t)FEED_SLICE);
        ssize_t rc = nghttp2_session_mem_recv(c->s, p, k);
        if (rc < 0) {
            conn_fail(c, (int)rc);
            break;
        }
        p += k;
        n -= k;
        if (n && !c->pend_len && nghttp2_session_get_outbound_queue_size(c->s) > FLUSH_QUEUED &&
            !conn_flush(c))
            return false;
    }
    return true;
}

static void conn_read(struct conn *c)
{
    struct loop *l = c->l;
    for (int i = 0; i < READS_PER_WAKE && !c->closing; i++) {
        ssize_t n = recv(c->fd, l->rbuf, sizeof l->rbuf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        ob_sm_grpc_bytes((uint64_t)n);
        c->last_active_ns = ob_mono_ns();
        if (!conn_feed(c, l->rbuf, (size_t)n)) {
            conn_close(c);
            return;
        }
    }
    if (!conn_flush(c) || c->closing)
        conn_close(c);
}

static void conn_writable(struct conn *c)
{
    if (!conn_flush(c) || c->closing)
        conn_close(c);
}

static void conn_add(struct loop *l, int fd)
{
    struct ob_grpc *g = l->g;
    struct conn *c = calloc(1, sizeof *c);
    if (!c || nghttp2_session_server_new2(&c->s, g->cbs, c, g->opt) != 0) {
        free(c);
        close_accepted(g, fd);
        return;
    }
    c->fd = fd;
    c->l = l;
    c->last_active_ns = ob_mono_ns();
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(c->peer, sizeof c->peer, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    /* The connection window is opened beyond the 64 KiB HTTP/2 starts with
     * at once, with the SETTINGS. */
    int32_t conn_window = (int32_t)g->deps.cfg->grpc_conn_window;
    if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, g->settings, OB_ARRAY_LEN(g->settings)) ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, conn_window)) {
        nghttp2_session_del(c->s);
        free(c);
        close_accepted(g, fd);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        nghttp2_session_del(c->s);
        free(c);
        close_accepted(g, fd);
        return;
    }
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    ob_sm_grpc_connections(1);
    if (!conn_flush(c))
        conn_close(c);
}

/* ---- the loops -------------------------------------------------------------- */

static void accept_all(struct loop *l)
{
    struct ob_grpc *g = l->g;
    for (;;) {
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* Out of descriptors or memory: the listening socket stays
             * readable, so stop watching it for a while instead of spinning. */
            ob_complain(&complain_accept, COMPONENT, "accept: %s", strerror(errno));
            epoll_ctl(l->ep, EPOLL_CTL_DEL, g->listen_fd, NULL);
            l->accept_resume_ns = ob_mono_ns() + ACCEPT_PAUSE_NS;
            l->next_sweep_ns = OB_MIN(l->next_sweep_ns, l->accept_resume_ns);
            return;
        }
        /* Over grpc.max_connections: closed before it costs a session.  A
         * client sees the connection fail (UNAVAILABLE) and retries with
         * backoff; a GOAWAY would need the session we mean not to make. */
        if (atomic_load_explicit(&g->n_conns, memory_order_relaxed) >=
            g->deps.cfg->grpc_max_conns) {
            close(fd);
            ob_sm_grpc_event(OB_SM_GRPC_CONN_REFUSED);
            ob_complain(&complain_accept, COMPONENT,
                        "connection refused: %u open (grpc.max_connections)",
                        (unsigned)g->deps.cfg->grpc_max_conns);
            continue;
        }
        atomic_fetch_add_explicit(&g->n_conns, 1, memory_order_relaxed);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        unsigned to = g->next_loop;
        g->next_loop = (g->next_loop + 1) % g->n_loops;
        if (to == l->idx) {
            conn_add(l, fd);
        } else if (write(g->loops[to].pipe_wr, &fd, sizeof fd) != sizeof fd) {
            close_accepted(g, fd);
        }
    }
}

/* Returns false on the stop message. */
static bool take_handoffs(struct loop *l)
{
    int fds[64];
    bool go_on = true;
    ssize_t n = read(l->pipe_rd, fds, sizeof fds);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof(int); i++) {
        if (fds[i] < 0)
            go_on = false;
        else
            conn_add(l, fds[i]); /* closed by ob_grpc_stop() if stopping */
    }
    return go_on;
}

/* Deadlines of calls still arriving, and idle connections.  Returns when
 * the next sweep is due. */
static int64_t sweep(struct loop *l, int64_t now)
{
    int64_t next = now + (int64_t)SWEEP_MAX_MS * 1000000;
    int64_t idle = l->g->deps.cfg->grpc_idle_timeout_ms * 1000000;
    if (l->accept_resume_ns && now >= l->accept_resume_ns) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->g->listen_fd};
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->g->listen_fd, &ev);
        l->accept_resume_ns = 0;
    } else if (l->accept_resume_ns) {
        next = OB_MIN(next, l->accept_resume_ns);
    }
    for (struct conn *c = l->conns, *cn; c; c = cn) {
        cn = c->next;
        bool touched = false;
        for (struct stream *st = c->streams; st; st = st->next) {
            if (!st->deadline_ns || st->answered)
                continue;
            if (st->deadline_ns <= now) {
                refuse(st, OB_OUT_OVERLOADED, GS_DEADLINE_EXCEEDED, "deadline exceeded");
                touched = true;
            } else if (st->deadline_ns < next) {
                next = st->deadline_ns;
            }
        }
        if (idle && !c->n_streams && !c->closing && now - c->last_active_ns >= idle) {
            ob_sm_grpc_event(OB_SM_GRPC_IDLE);
            nghttp2_session_terminate_session(c->s, NGHTTP2_NO_ERROR);
            c->closing = true;
            touched = true;
        } else if (idle && !c->n_streams && c->last_active_ns + idle < next) {
            next = c->last_active_ns + idle;
        }
        if (touched && (!conn_flush(c) || c->closing))
            conn_close(c);
    }
    return next;
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    struct epoll_event evs[MAX_EVENTS];
    l->next_sweep_ns = ob_mono_ns();
    for (;;) {
        int64_t now = ob_mono_ns();
        if (now >= l->next_sweep_ns)
            l->next_sweep_ns = sweep(l, now);
        int wait_ms = (int)((l->next_sweep_ns - now + 999999) / 1000000);
        int n = epoll_wait(l->ep, evs, MAX_EVENTS, OB_MAX(wait_ms, 0));
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &l->g->listen_fd) {
                accept_all(l);
            } else if (p == l) {
                if (!take_handoffs(l))
                    return NULL;
            } else {
                /* A connection closed earlier in this batch cannot come up
                 * again: epoll drops a closed fd's events, and each fd is
                 * in one batch at most once. */
                struct conn *c = p;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_read(c);
                else if (evs[i].events & EPOLLOUT)
                    conn_writable(c);
            }
        }
    }
}

/* ---- start and stop --------------------------------------------------------- */

static int setup_nghttp2(struct ob_grpc *g)
{
    const struct ob_config *cfg = g->deps.cfg;
    if (nghttp2_session_callbacks_new(&g->cbs) || nghttp2_option_new(&g->opt))
        return -ENOMEM;
    nghttp2_session_callbacks_set_on_begin_headers_callback(g->cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g->cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(g->cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(g->cbs, on_frame_send);
    /* Until the client acknowledges our SETTINGS, nghttp2 holds it to
     * these limits anyway (a flood sent before the ACK is refused too). */
    nghttp2_option_set_max_settings(g->opt, 32);
    g->settings[0] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                              cfg->grpc_max_streams};
    g->settings[1] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                              (uint32_t)cfg->grpc_stream_window};
    g->settings[2] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                              (uint32_t)cfg->grpc_max_header_list};
    g->settings[3] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
    return 0;
}

static void free_all(struct ob_grpc *g)
{
    for (unsigned i = 0; i < g->n_loops; i++) {
        struct loop *l = &g->loops[i];
        while (l->conns)
            conn_close(l->conns);
        ob_request_bufs_fini(&l->bufs);
        if (l->ep >= 0)
            close(l->ep);
        if (l->pipe_rd >= 0)
            close(l->pipe_rd);
        if (l->pipe_wr >= 0)
            close(l->pipe_wr);
    }
    free(g->loops);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    nghttp2_session_callbacks_del(g->cbs);
    nghttp2_option_del(g->opt);
    free(g);
}

static int loop_init(struct ob_grpc *g, unsigned i)
{
    struct loop *l = &g->loops[i];
    int p[2];
    l->g = g;
    l->idx = i;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
    l->pipe_rd = p[0];
    l->pipe_wr = p[1];
    /* Hand-offs must not be lost when the pipe is full: block the writer. */
    fcntl(l->pipe_wr, F_SETFL, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->pipe_rd, &ev) != 0)
        return -errno;
    if (i == 0) {
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, g->listen_fd, &lev) != 0)
            return -errno;
    }
    return 0;
}

int ob_grpc_start(const struct ob_grpc_deps *deps, struct ob_grpc **out, char err[OB_ERR_LEN])
{
    err[0] = '\0';
    const struct ob_config *cfg = deps->cfg;
    struct ob_grpc *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->deps = *deps;
    g->path = (struct ob_request_path){.ingest = deps->ingest, .max_body = cfg->max_body_bytes};
    g->listen_fd = -1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->grpc_threads ? cfg->grpc_threads : (unsigned)(cpus > 0 ? cpus : 1);
    char addr[INET6_ADDRSTRLEN + 16];
    int rc = setup_nghttp2(g);
    if (rc == 0)
        rc = ob_listen_tcp("grpc.listen", cfg->grpc_listen, true, &g->listen_fd, &g->port, addr,
                           sizeof addr, err);
    if (rc == 0 && !(g->loops = calloc(threads, sizeof *g->loops)))
        rc = -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < threads; i++) {
        g->loops[i].ep = g->loops[i].pipe_rd = g->loops[i].pipe_wr = -1;
        g->n_loops = i + 1;
        rc = loop_init(g, i);
    }
    for (unsigned i = 0; rc == 0 && i < g->n_loops; i++) {
        rc = -pthread_create(&g->loops[i].th, NULL, loop_main, &g->loops[i]);
        g->loops[i].running = rc == 0;
    }
    if (rc != 0) {
        if (!err[0])
            snprintf(err, OB_ERR_LEN, "grpc: cannot start: %s", ob_strerror(rc));
        ob_grpc_stop(g);
        return rc;
    }
    ob_sm_grpc_enable();
    OB_LOG_INFO(COMPONENT, "listening on grpc://%s (h2c, %u threads)", addr, threads);
    *out = g;
    return 0;
}

uint16_t ob_grpc_port(const struct ob_grpc *g)
{
    return g->port;
}

void ob_grpc_stop(struct ob_grpc *g)
{
    if (!g)
        return;
    int stop = -1;
    for (unsigned i = 0; i < g->n_loops; i++)
        if (g->loops[i].running && write(g->loops[i].pipe_wr, &stop, sizeof stop) != sizeof stop)
            OB_LOG_ERROR(COMPONENT, "cannot stop loop %u: %s", i, strerror(errno));
    for (unsigned i = 0; i < g->n_loops; i++)
        if (g->loops[i].running)
            pthread_join(g->loops[i].th, NULL);
    /* Connections handed to a loop that stopped before it read them. */
    for (unsigned i = 0; i < g->n_loops; i++) {
        int fd;
        while (g->loops[i].pipe_rd >= 0 && read(g->loops[i].pipe_rd, &fd, sizeof fd) == sizeof fd)
            if (fd >= 0)
                close_accepted(g, fd);
    }
    free_all(g);
}
