/* ob_zmq.h: the ZeroMQ frontend (libzmq).
 *
 * Two socket kinds, each bound to a list of endpoints (tcp:// or ipc://):
 *
 *   pull   PULL, fire-and-forget.  Nothing is answered.
 *   reply  ROUTER, one answer per request, for DEALER and REQ clients.
 *
 * A request is one ZeroMQ message of one or two frames:
 *
 *   [body]              body = ExportMetricsServiceRequest, protobuf
 *   [encoding][body]    encoding = "gzip": body is gzip (or zlib) compressed;
 *                       "identity": body is plain; anything else is refused
 *
 * On the reply socket the routing envelope comes first, as ZeroMQ puts it
 * there: the identity the ROUTER adds, and for REQ clients (or anything that
 * routes through further ROUTER/DEALER hops) the frames up to and including
 * the first empty delimiter frame.  The answer carries the same envelope back,
 * so REQ and DEALER clients both see only the answer:
 *
 *   success   one frame: ExportMetricsServiceResponse, protobuf.  When points
 *             were rejected its partial_success says how many and why, exactly
 *             as OTLP/HTTP answers with 200.  All accepted: an empty response
 *             (a zero-length frame, which decodes as a response without
 *             partial_success).
 *   error     two frames: "error", then a UTF-8 message that starts with the
 *             reason and a colon:
 *               "malformed: ..."    the body does not decode (HTTP 400)
 *               "too_large: ..."    over max_body_bytes, compressed or
 *                                   inflated (HTTP 413)
 *               "unsupported: ..."  unknown encoding frame or too many frames
 *               "unavailable: ..."  broker not ready (HTTP 503); retry later
 *             Nothing of such a request was stored.
 *
 * A success is always exactly one frame, an error always two, so a client can
 * tell them apart by the frame count alone.
 *
 * Every request is counted with ob_sm_request(OB_FE_ZMQ, outcome); ingest
 * counts its points; failures are logged through ob_complain (rate limited).
 * All bodies go through ob_ingest_body(): no decoding or naming here.
 *
 * Threads: per socket kind, `threads` workers.  With one worker it reads the
 * bound socket itself; with more, a proxy thread forwards from the
 * bound socket to the workers over inproc (PUSH/PULL for pull, DEALER/DEALER
 * for reply).  Messages are received into zmq_msg_t and ingested in place:
 * no copy of the body between the wire and the decoder.  A slow store only
 * slows these threads; the HTTP frontend has its own.
 */
#ifndef OB_ZMQ_H
#define OB_ZMQ_H

#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"

struct ob_zmq;
struct ob_ingest;

#define OB_ZMQ_DEFAULT_PULL "tcp://127.0.0.1:4319"
#define OB_ZMQ_DEFAULT_REPLY "tcp://127.0.0.1:4320"

struct ob_zmq_opts {
    const char *const *pull;  /* PULL endpoints; n_pull == 0: no pull socket */
    size_t n_pull;
    const char *const *reply; /* ROUTER endpoints; n_reply == 0: no reply socket */
    size_t n_reply;
    uint64_t max_body_bytes;  /* limit on the body, compressed and inflated; 0 = none */
    int rcv_hwm;              /* ZMQ_RCVHWM (and reply SNDHWM), messages; 0 = unlimited */
    unsigned threads;         /* workers per socket kind; 0 is taken as 1 */
};

/* Creates a context, binds every endpoint and starts the threads.  Returns 0,
 * or -errno with err naming the endpoint (EADDRINUSE, EINVAL for a malformed
 * endpoint, EPROTONOSUPPORT for an unknown transport).  Nothing is left
 * running on failure. */
int ob_zmq_start(const struct ob_zmq_opts *opts, struct ob_ingest *ingest, struct ob_zmq **out,
                 char err[OB_ERR_LEN]);

/* The endpoint actually bound for the i-th pull (reply = 0) or reply
 * (reply = 1) endpoint, e.g. "tcp://127.0.0.1:40123" for "tcp://127.0.0.1:*".
 * NULL when i is out of range. */
const char *ob_zmq_endpoint(const struct ob_zmq *z, int reply, size_t i);

/* Stops: shuts the context down (blocked calls return ETERM), joins every
 * thread, closes sockets with linger 0 and frees.  Messages still queued are
 * dropped; a request being ingested finishes first.  NULL ok. */
void ob_zmq_stop(struct ob_zmq *z);

#endif
