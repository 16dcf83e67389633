/* ob_zmq.h: the ZeroMQ frontend (libzmq).
 *
 * Two socket kinds, each bound to a list of endpoints (tcp:// or ipc://):
 *
 *   pull   PULL, fire-and-forget.  Nothing is answered.
 *   reply  ROUTER, one answer per request, for DEALER and REQ clients.
 *
 * A request is one ZeroMQ message; after the routing envelope (reply socket,
 * below) come, in this order:
 *
 *   [sequence]          optional, 24 bytes starting with a zero byte: the
 *                       sender's id and the message's number (ob_zmq_seq.h
 *                       has the byte layout).  The project's clients send
 *                       it; plain messages without it work as before.
 *   [encoding]          optional: "gzip": body is gzip (or zlib) compressed;
 *                       "identity": body is plain; anything else is refused
 *   [body]              ExportMetricsServiceRequest, protobuf
 *
 * A message that is only a sequence frame with the END flag says the sender
 * closes after `seq` messages; it is not a request (not counted, nothing
 * ingested; the reply socket answers it like an empty request).  The broker
 * follows each sender's numbers and counts messages lost, duplicated
 * (resent) and reordered, per endpoint (otlp_broker_zmq_messages_*_total),
 * with a rate-limited log line naming the sender for every loss.
 *
 * On the reply socket the routing envelope comes first, as ZeroMQ puts it
 * there: the identity the ROUTER adds, and for REQ clients (or anything that
 * routes through further ROUTER/DEALER hops) the frames up to and including
 * the first empty delimiter frame.  The answer carries the same envelope back,
 * so REQ and DEALER clients both see only the answer, and then the request's
 * sequence frame, byte for byte, when it had one (so that a client with many
 * requests in flight knows which one is answered):
 *
 *   success   [sequence] ExportMetricsServiceResponse, protobuf.  When points
 *             were rejected its partial_success says how many and why, exactly
 *             as OTLP/HTTP answers with 200.  All accepted: an empty response
 *             (a zero-length frame, which decodes as a response without
 *             partial_success).
 *   error     [sequence] "error", then a UTF-8 message that starts with the
 *             reason and a colon:
 *               "malformed: ..."    the body does not decode (HTTP 400)
 *               "too_large: ..."    over max_body_bytes, compressed or
 *                                   inflated (HTTP 413)
 *               "unsupported: ..."  unknown encoding frame, a malformed
 *                                   sequence frame, or too many frames
 *               "unavailable: ..."  broker not ready (HTTP 503); retry later
 *             Nothing of such a request was stored.
 *
 * Without a sequence frame a success is always exactly one frame and an error
 * two; with one, two and three.
 *
 * Batches: the answers to several numbered requests of one client may come
 * in one message, one group after the other behind the envelope:
 *
 *   [sequence] response  |  [sequence] "error" message   (repeated)
 *
 *   [set] response                                      (the same, once)
 *
 * A group starts at a sequence frame or a set frame, which no response and
 * no "error" frame can be mistaken for (a response never starts with a
 * zero byte).  A set frame (32 bytes, ob_zmq_seq.h) names up to 64 numbers
 * of one sender at once, a base and a bit mask, and the response after it
 * is the answer to each of them: the broker uses it for requests whose
 * points were all accepted (an empty response), so that a burst of small
 * requests costs one group, not one per request.  The broker batches what
 * it has at hand for one client, up to 64 groups: every ZeroMQ message and
 * frame costs both ends, and a wake-up of another thread costs more than
 * the ingest of a small request.  Answers to requests without a sequence
 * frame are never batched (REQ sockets expect exactly one reply).
 *
 * Every request goes through the request path (ob_request.h), which
 * inflates, decodes, ingests, counts it (frontend "zmq") and logs refusals at
 * a rate limit; the error frames' reason words are its outcomes, in one
 * table in ob_zmq.c.  No decoding or naming here.
 *
 * Threads: per socket kind, `threads` workers.  Each endpoint has a socket
 * of its own (so that counts can name it).  With one worker it reads the
 * bound sockets itself; with more, a proxy thread forwards from the
 * bound sockets to the workers over inproc (PUSH/PULL), and reply workers
 * send their answers on the bound socket themselves, taking turns with the
 * proxy under a lock.  A worker holds the answers to the requests it has at
 * hand for up to 4 clients, 16 requests' worth per client at most, and sends
 * them when it runs out of requests.  The thread that reads the bound
 * sockets follows the sequence numbers.  Messages are received into
 * zmq_msg_t and ingested in place: no copy of the body between the wire and
 * the decoder.  A slow store only slows these threads; the HTTP frontend has
 * its own.
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
    uint32_t max_senders;     /* senders followed per socket kind; 0 = 4096 */
    int64_t sender_ttl_ns;    /* forget a sender not heard for this long; 0 = 5 min */
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
