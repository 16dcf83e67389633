/* otlpbroker/client.h: push OpenTelemetry metrics to otlp-broker over ZeroMQ.
 *
 *   struct obc_client *c;
 *   struct obc_options o = OBC_OPTIONS_INIT;
 *   o.endpoint = "tcp://127.0.0.1:4319";
 *   o.service_name = "calculator";
 *   o.flush_interval_ms = 10000;
 *   if (obc_open(&o, &c) != 0) ...
 *   struct obc_instrument *ops;
 *   obc_counter(c, "calc_operation", "1", "Operations done", &ops);
 *   struct obc_attr a[] = {OBC_STR("operation", "add")};
 *   obc_add(ops, 1, a, 1);
 *   ...
 *   obc_close(c);   (flushes once more)
 *
 * Aggregation is an OpenTelemetry SDK's with CUMULATIVE temporality: each
 * instrument keeps one series per distinct attribute set (order of the
 * attributes does not matter; a repeated key keeps its last value) with its
 * start time, and every flush exports every series: counters and up-down
 * counters as the running sum, gauges as the last value, histograms as
 * per-bucket counts (a value v falls in the first bucket whose bound >= v; the
 * last bucket is +Inf) plus count, sum, min and max.  Timestamps are the
 * flush time in ns.
 *
 * Transport (one socket per client; every message carries a sequence frame,
 * the client's random id and the message's number, so that the broker counts
 * messages lost, resent or reordered on the way):
 *   OBC_PUSH    ZMQ PUSH to the broker's pull endpoint: fire-and-forget.
 *               Fastest; nothing is confirmed.  Over ipc:// with libzmq
 *               <= 4.3.5 a sender that closes while the broker is behind can
 *               lose the tail it sent (libzmq issue 4660); the broker counts
 *               such losses (obc_close tells it how many messages there were).
 *   OBC_STREAM  ZMQ DEALER to the broker's reply endpoint, acknowledged at
 *               nearly PUSH speed: up to `window` messages (and
 *               `window_bytes`) in flight, each
 *               answered with its partial_success (on_ack); a flush returns
 *               once its message is sent and waits only while the window is
 *               full.  A message not answered within resend_ms is sent again
 *               (an identical resend is a no-op in the broker's store), so
 *               a broker restart loses nothing that was acknowledged or is
 *               still in the window.  obc_close waits up to timeout_ms for
 *               every answer and reports what was not acknowledged.
 *   OBC_REPLY   ZMQ DEALER to the broker's reply endpoint, one at a time:
 *               each flush waits up to timeout_ms for its answer and reports
 *               partial_success in struct obc_result.  Simplest, slowest.
 *   OBC_AUTO    (the default) OBC_STREAM for ipc:// endpoints, OBC_PUSH for
 *               the others: point ipc:// clients at the broker's zmq.reply.
 *
 * Threads: recording and instrument creation are safe from any number of
 * threads.  Recording locks only its instrument, briefly.  A background
 * thread flushes every flush_interval_ms (0: only obc_flush and obc_close).
 *
 * Errors: every function returns 0 or a negative code: -errno for system and
 * ZeroMQ failures (-EINVAL bad argument, -ENOMEM, -ETIMEDOUT no answer in
 * time, -EAGAIN could not queue the message in time, -ENOTCONN no endpoint),
 * or OBC_E_*.  obc_strerror() names both.  The library never prints.
 */
#ifndef OTLPBROKER_CLIENT_H
#define OTLPBROKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(OBC_BUILDING)
#define OBC_API __attribute__((visibility("default")))
#else
#define OBC_API
#endif

#define OBC_VERSION "0.1.0"

enum {
    OBC_E_REFUSED = -2000,  /* the broker answered with an error (result.message says why) */
    OBC_E_PROTOCOL = -2001, /* the answer is not an ExportMetricsServiceResponse */
    OBC_E_KIND = -2002,     /* operation does not fit the instrument kind */
    OBC_E_CONFLICT = -2003, /* name already used with another kind, unit or bounds */
    OBC_E_LIMIT = -2004,    /* instrument has max_series attribute sets already */
};

enum obc_mode {
    OBC_AUTO = 0,   /* OBC_STREAM for ipc:// endpoints, else OBC_PUSH */
    OBC_PUSH = 1,   /* PUSH socket, fire-and-forget */
    OBC_REPLY = 2,  /* DEALER socket, waits for each answer */
    OBC_STREAM = 3, /* DEALER socket, a window of answered messages in flight */
};

enum obc_attr_type { OBC_ATTR_STRING = 0, OBC_ATTR_INT, OBC_ATTR_DOUBLE, OBC_ATTR_BOOL };

/* One attribute: key and a typed value.  Strings are copied when a new
 * attribute set is first seen; the caller's memory is not kept. */
struct obc_attr {
    const char *key;
    enum obc_attr_type type;
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
    } v;
};

#define OBC_STR(k, val) ((struct obc_attr){.key = (k), .type = OBC_ATTR_STRING, .v.s = (val)})
#define OBC_INT(k, val) ((struct obc_attr){.key = (k), .type = OBC_ATTR_INT, .v.i = (val)})
#define OBC_DOUBLE(k, val) ((struct obc_attr){.key = (k), .type = OBC_ATTR_DOUBLE, .v.d = (val)})
#define OBC_BOOL(k, val) ((struct obc_attr){.key = (k), .type = OBC_ATTR_BOOL, .v.b = (val)})

/* What one flush or send got back, or (on_ack) what one answer said. */
struct obc_result {
    bool answered;          /* an answer came (OBC_REPLY; on_ack) */
    int64_t rejected;       /* partial_success.rejected_data_points */
    uint64_t points;        /* data points sent */
    uint64_t seq;           /* number of the message (0 for the client's first) */
    uint64_t unacked;       /* obc_close, OBC_STREAM: messages never acknowledged */
    char message[256];      /* partial_success.error_message, or the broker's error */
};

/* Counts of a client since obc_open. */
struct obc_stats {
    uint64_t sent;            /* messages numbered and sent (resends not included) */
    uint64_t acked;           /* answered (OBC_REPLY, OBC_STREAM) */
    uint64_t resent;          /* sent again after resend_ms without an answer */
    uint64_t refused;         /* answered with an error (counted in acked too) */
    uint64_t rejected_points; /* partial_success.rejected_data_points, summed */
    uint64_t in_flight;       /* OBC_STREAM: sent, not answered yet */
};

struct obc_options {
    const char *endpoint;       /* e.g. "tcp://127.0.0.1:4319", "ipc:///run/ob.sock";
                                   NULL: no socket (obc_encode only; flush -ENOTCONN) */
    enum obc_mode mode;
    const char *service_name;   /* resource service.name; NULL = "unknown_service" */
    const struct obc_attr *resource; /* further resource attributes (copied) */
    size_t n_resource;
    const char *scope_name;     /* instrumentation scope; NULL = "otlpbroker-client" */
    int64_t flush_interval_ms;  /* background flush period; 0 = none */
    int64_t timeout_ms;         /* send (PUSH) / answer (REPLY) / window room (STREAM)
                                   wait, and the wait at close; 0 = 5000 */
    uint32_t max_series;        /* attribute sets per instrument; 0 = 2000 */
    /* Called after every background flush (not for obc_flush/obc_close):
     * rc as obc_flush returns it.  Runs on the flush thread. */
    void (*on_flush)(void *arg, int rc, const struct obc_result *res);
    void *on_flush_arg;
    /* Queue messages only on a completed connection (ZMQ_IMMEDIATE): with no
     * broker at the endpoint a send then fails with -EAGAIN after timeout_ms
     * instead of waiting in the queue for one to appear.  For tools that must
     * tell "delivered" from "nobody there" (otlp-push); an application
     * usually wants the default (false), which rides out a broker restart. */
    bool immediate;
    /* OBC_STREAM: messages in flight at most (0 = 256) and their bytes at
     * most (0 = 8 MiB; one larger message still goes, alone), and how long
     * one waits for its answer before it is sent again (0 = 1000 ms). */
    uint32_t window;
    uint64_t window_bytes;
    int64_t resend_ms;
    /* Messages queued in the socket before a send waits (ZMQ_SNDHWM);
     * 0 = libzmq's default, 1000; OBC_STREAM takes at least `window`.  A
     * small queue makes a fast producer wait for the broker instead of
     * holding seconds of bodies in memory. */
    uint32_t queue;
    /* OBC_STREAM: called once per answered message (res->seq says which;
     * rc 0, or OBC_E_REFUSED / OBC_E_PROTOCOL with res->message), on the
     * thread that happened to read the answer, inside the client's send
     * lock: it must not call obc_flush, obc_send, obc_wait or obc_close. */
    void (*on_ack)(void *arg, int rc, const struct obc_result *res);
    void *on_ack_arg;
};

#define OBC_OPTIONS_INIT {.mode = OBC_AUTO, .timeout_ms = 5000}

struct obc_client;
struct obc_instrument;

/* Opens the client (socket connected, background thread started). */
OBC_API int obc_open(const struct obc_options *opts, struct obc_client **out);
/* Stops the background thread, flushes one last time (out may be NULL),
 * waits up to timeout_ms for queued messages to leave (OBC_STREAM: for every
 * answer; out->unacked says how many never came, and the return is then
 * -ETIMEDOUT), tells the broker how many messages it sent (OBC_PUSH),
 * frees everything including the instruments.  Returns the last flush's
 * code.  NULL ok. */
OBC_API int obc_close(struct obc_client *c, struct obc_result *out);

/* Instruments live until obc_close.  Asking again for an existing name with
 * the same kind, unit and bounds returns the same instrument; anything else
 * is OBC_E_CONFLICT.  name is required; unit and description may be NULL. */
OBC_API int obc_counter(struct obc_client *c, const char *name, const char *unit,
                        const char *description, struct obc_instrument **out);
OBC_API int obc_updown_counter(struct obc_client *c, const char *name, const char *unit,
                               const char *description, struct obc_instrument **out);
OBC_API int obc_gauge(struct obc_client *c, const char *name, const char *unit,
                      const char *description, struct obc_instrument **out);
/* bounds: strictly ascending, finite; NULL/0 = the OpenTelemetry default
 * (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000). */
OBC_API int obc_histogram(struct obc_client *c, const char *name, const char *unit,
                          const char *description, const double *bounds, size_t n_bounds,
                          struct obc_instrument **out);

/* Counter (value >= 0) and up-down counter: adds to the series' sum. */
OBC_API int obc_add(struct obc_instrument *inst, double value, const struct obc_attr *attrs,
                    size_t n_attrs);
/* Gauge: sets the last value.  Histogram: records one observation (finite). */
OBC_API int obc_record(struct obc_instrument *inst, double value, const struct obc_attr *attrs,
                       size_t n_attrs);

/* Encodes every series now and sends one ExportMetricsServiceRequest (none
 * when there is nothing to send).  out (may be NULL) gets the answer
 * (OBC_REPLY), or the message's number (OBC_STREAM: the answer goes to
 * on_ack; -ETIMEDOUT when the window stayed full for timeout_ms, and then
 * nothing was sent). */
OBC_API int obc_flush(struct obc_client *c, struct obc_result *out);
/* The request obc_flush would send, without sending it: *out_buf is malloc'd
 * (free() it), *out_len its length. */
OBC_API int obc_encode(struct obc_client *c, void **out_buf, size_t *out_len);
/* Sends a ready body (ExportMetricsServiceRequest, protobuf) as is over the
 * client's socket; encoding NULL, "identity" or "gzip" (body already
 * compressed) becomes the encoding frame.  As obc_flush otherwise. */
OBC_API int obc_send(struct obc_client *c, const void *body, size_t len, const char *encoding,
                     struct obc_result *out);

/* OBC_STREAM: reads answers (resending what is overdue) until none is
 * outstanding or timeout_ms passed: 0 or -ETIMEDOUT.  Other modes: 0. */
OBC_API int obc_wait(struct obc_client *c, int64_t timeout_ms);
/* The client's counts (waits for a flush in progress). */
OBC_API int obc_stats(struct obc_client *c, struct obc_stats *out);

/* Text for any code these functions return.  Never NULL. */
OBC_API const char *obc_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif
