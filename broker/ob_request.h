/* ob_request.h: the one request path every frontend takes.
 *
 * A frontend owns its transport: sockets, framing, headers, how an answer is
 * sent.  Everything between "a body arrived" and "this is the answer" is
 * here, written once:
 *
 *   limits (limits.max_body_bytes, compressed and inflated) -> gunzip ->
 *   decode (protobuf or JSON, by the request's format) -> ingest ->
 *   the ExportMetricsServiceResponse in the request's format -> a verdict
 *
 * and, for every request, the otlp_broker_requests_total count of its
 * outcome, the data point counts, and a rate-limited log line (one site per
 * frontend and outcome) when it was refused.  A frontend then needs only a
 * table from enum ob_outcome to its status codes or error frames.
 *
 * A transport that refuses a request before it has the body (a content type
 * or a framing it does not take) reports that through ob_request_refuse(),
 * so the count, the log line and the message are the same as for a refusal
 * made here.
 */
#ifndef OB_REQUEST_H
#define OB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_common.h"
#include "ob_frontend.h"
#include "ob_ingest.h"

enum ob_body_encoding { OB_ENC_IDENTITY = 0, OB_ENC_GZIP = 1 };

/* Where a request goes: ingest (NULL: not ready, every request is answered
 * "overloaded") and the body limit (0: none). */
struct ob_request_path {
    struct ob_ingest *ingest;
    uint64_t max_body;
};

struct ob_request {
    enum ob_frontend fe;
    enum ob_payload_format format;  /* of the body, and of the response */
    enum ob_body_encoding encoding; /* of the body */
    const void *body;               /* not NULL, even when len is 0 */
    size_t len;
    /* Who sent it, for log lines, asked only when one is written (NULL:
     * unknown): writes a NUL-terminated text of at most cap bytes. */
    void (*peer)(const void *peer_ctx, char *buf, size_t cap);
    const void *peer_ctx;
};

/* Buffers a frontend keeps per thread and hands to every request: the
 * inflated body and the encoded response.  Zero-initialised is ready. */
struct ob_request_bufs {
    struct ob_buf inflated;
    struct ob_buf response;
};
void ob_request_bufs_fini(struct ob_request_bufs *b);

struct ob_verdict {
    enum ob_outcome outcome;
    /* OK, PARTIAL: the ExportMetricsServiceResponse in the request's format
     * (in the bufs handed in; an all-accepted protobuf response is empty). */
    const void *response;
    size_t response_len;
    /* PARTIAL: the reason most of the rejected points had. */
    enum ob_reason reason;
    /* What ingest saw (zero when the body never reached it). */
    struct ob_ingest_result result;
    /* Refused: what was wrong, for the sender ("request body of ... bytes is
     * over the limit ..."); PARTIAL: partial_success.error_message. */
    char message[320];
};

/* Takes one request to its verdict (never fails: every failure is an
 * outcome).  Thread-safe; bufs are the calling thread's. */
void ob_request_handle(const struct ob_request_path *path, const struct ob_request *rq,
                       struct ob_request_bufs *bufs, struct ob_verdict *v);

/* A request the transport refused itself: fills v with outcome o and the
 * message, counts and logs it as ob_request_handle() does. */
void ob_request_refuse(const struct ob_request *rq, enum ob_outcome o, struct ob_verdict *v,
                       const char *fmt, ...) OB_PRINTF(4, 5);

/* A body of len bytes (announced, or UINT64_MAX: more than the limit, how
 * much more unknown) over the limit: refuses it with a message naming both
 * sizes.  Returns whether it was refused. */
bool ob_request_over_limit(const struct ob_request_path *path, const struct ob_request *rq,
                           uint64_t len, struct ob_verdict *v);

/* "gzip" or "identity" (and "" for identity), ASCII case-insensitive, spaces
 * around ignored: 0 and *out set; OB_E_UNSUPPORTED for anything else. */
int ob_request_encoding(const char *name, size_t len, enum ob_body_encoding *out);

#endif
