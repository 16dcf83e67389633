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
 * Transport (one socket per client):
 *   OBC_PUSH    ZMQ PUSH to the broker's pull endpoint: fire-and-forget.
 *   OBC_REPLY   ZMQ DEALER to the broker's reply endpoint: each flush waits
 *               up to timeout_ms for the ExportMetricsServiceResponse and
 *               reports partial_success in struct obc_result.
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
    OBC_PUSH = 0,  /* PUSH socket, fire-and-forget */
    OBC_REPLY = 1, /* DEALER socket, waits for the broker's answer */
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

/* What one flush or send got back. */
struct obc_result {
    bool answered;          /* an answer came (OBC_REPLY) */
    int64_t rejected;       /* partial_success.rejected_data_points */
    uint64_t points;        /* data points sent */
    char message[256];      /* partial_success.error_message, or the broker's error */
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
    int64_t timeout_ms;         /* send (PUSH) / answer (REPLY) wait, and linger at close;
                                   0 = 5000 */
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
};

#define OBC_OPTIONS_INIT {.mode = OBC_PUSH, .timeout_ms = 5000}

struct obc_client;
struct obc_instrument;

/* Opens the client (socket connected, background thread started). */
OBC_API int obc_open(const struct obc_options *opts, struct obc_client **out);
/* Stops the background thread, flushes one last time (out may be NULL),
 * waits up to timeout_ms for queued messages to leave, frees everything
 * including the instruments.  Returns the last flush's code.  NULL ok. */
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
 * when there is nothing to send).  out (may be NULL) gets the answer. */
OBC_API int obc_flush(struct obc_client *c, struct obc_result *out);
/* The request obc_flush would send, without sending it: *out_buf is malloc'd
 * (free() it), *out_len its length. */
OBC_API int obc_encode(struct obc_client *c, void **out_buf, size_t *out_len);
/* Sends a ready body (ExportMetricsServiceRequest, protobuf) as is over the
 * client's socket; encoding NULL, "identity" or "gzip" (body already
 * compressed) becomes the encoding frame.  As obc_flush otherwise. */
OBC_API int obc_send(struct obc_client *c, const void *body, size_t len, const char *encoding,
                     struct obc_result *out);

/* Text for any code these functions return.  Never NULL. */
OBC_API const char *obc_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif
