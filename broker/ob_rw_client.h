/* ob_rw_client.h: delivers remote-write request bodies to one receiver.
 *
 * libcurl's multi interface, driven by the caller's thread: the client has
 * no thread of its own; ob_rw_client_poll() does all its I/O.  One easy
 * handle per shard, so each shard has at most one request in flight and
 * keeps its connection alive between requests (HTTP/1.1).
 *
 * A body is copied at submit and kept until it is done: SENT (a 2xx) or
 * DROPPED (the receiver refused it: a 4xx other than 429, a 429 when
 * retry_on_429 is off, or any status that is neither 2xx, 4xx nor 5xx).
 * Network errors, timeouts, 5xx and 429 are retried by the client itself
 * with the same bytes, after min_backoff doubling to max_backoff (with
 * jitter), or after the receiver's Retry-After when it sends one.  A body
 * is never given up on while the client lives: the caller's forward log
 * holds it until on_done says SENT or DROPPED, so what a destroyed client
 * had in flight is simply sent again by the next one.
 *
 * Requests carry the headers of the remote write specs (Content-Encoding:
 * snappy; Content-Type application/x-protobuf, with
 * ;proto=io.prometheus.write.v2.Request for 2.0;
 * X-Prometheus-Remote-Write-Version 0.1.0 or 2.0.0; User-Agent
 * otlp-broker/<version>), the target's headers, and its bearer token or
 * basic auth, read from their files and read again when a file changes.
 *
 * Retries are logged here (rate-limited: only the client sees them);
 * refusals are not: on_done hands over the receiver's message, and the
 * caller, which knows what the body held, logs it.
 *
 * Not thread-safe, except ob_rw_client_wakeup() and ob_rw_client_stats().
 */
#ifndef OB_RW_CLIENT_H
#define OB_RW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"
#include "ob_config.h"

enum ob_rw_outcome {
    OB_RW_SENT = 0,    /* the receiver took it (2xx) */
    OB_RW_DROPPED = 1, /* the receiver refused it; sending it again would not help */
};

/* Why an attempt failed, for the counters. */
enum ob_rw_fail {
    OB_RW_FAIL_NETWORK = 0, /* connect, DNS, TLS, reset... (retried) */
    OB_RW_FAIL_TIMEOUT,     /* the target's timeout elapsed (retried) */
    OB_RW_FAIL_5XX,         /* retried */
    OB_RW_FAIL_429,         /* retried when retry_on_429, else dropped */
    OB_RW_FAIL_4XX,         /* other 4xx, and statuses not 2xx/4xx/5xx: dropped */
    OB_RW_FAIL_AUTH,        /* the token or password file is unreadable (retried) */
    OB_RW_FAIL__COUNT
};

/* A 2.0 receiver's X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}
 * -Written headers: what it says it wrote; -1 for a header it did not send. */
struct ob_rw_written {
    int64_t samples, histograms, exemplars;
};

/* Called from ob_rw_client_poll() once per finished body.  http_status is
 * the final answer's (0 for none).  message: for DROPPED the receiver's
 * response body, trimmed, at most 256 bytes, one line; "" otherwise.
 * written: NULL unless the answer had at least one -Written header (the 2.0
 * spec: a 2xx without them says nothing about what was written).  The shard
 * is free again when this runs: the callback may submit to it. */
typedef void ob_rw_done_fn(void *ctx, unsigned shard, enum ob_rw_outcome outcome,
                           int http_status, const char *message,
                           const struct ob_rw_written *written);

/* Counts since create. */
struct ob_rw_client_stats {
    uint64_t requests;                    /* HTTP attempts started, retries included */
    uint64_t sent;                        /* bodies taken (2xx) */
    uint64_t dropped;                     /* bodies refused */
    uint64_t retries;                     /* attempts that repeated a body */
    uint64_t failures[OB_RW_FAIL__COUNT]; /* failed attempts, by kind */
    uint64_t bytes_sent;                  /* body bytes of every attempt, as sent */
};

struct ob_rw_client;

/* A client for target cfg (copied: cfg may go away), with cfg->shards
 * shards.  Returns 0, or OB_E_CONFIG / -ENOMEM with a message in err. */
int ob_rw_client_create(const struct ob_rw_target_cfg *cfg, struct ob_rw_client **out,
                        char err[OB_ERR_LEN]);
/* Aborts what is in flight (no callbacks) and frees everything. */
void ob_rw_client_destroy(struct ob_rw_client *c);

unsigned ob_rw_client_shards(const struct ob_rw_client *c);

/* Starts sending len bytes of body (snappy-compressed protobuf of the given
 * protocol) on shard; the bytes are copied.  0, -EBUSY when the shard still
 * has a body, -EINVAL for a bad shard or an empty body, -ENOMEM. */
int ob_rw_client_submit(struct ob_rw_client *c, unsigned shard, const void *body, size_t len,
                        enum ob_rw_protocol protocol);
/* The shard holds a body (in flight, or waiting to be retried). */
bool ob_rw_client_busy(const struct ob_rw_client *c, unsigned shard);

/* Waits up to timeout_ms (0: not at all) for network activity, a retry
 * falling due or ob_rw_client_wakeup(), does the I/O that is ready, starts
 * due retries and calls on_done for each body finished.  Returns how many
 * finished, or -EIO when libcurl's multi handle fails. */
int ob_rw_client_poll(struct ob_rw_client *c, int timeout_ms, ob_rw_done_fn *on_done, void *ctx);
/* HTTP attempts made with the shard's body so far: in on_done, its
 * attempts in all (1 when it was not retried). */
unsigned ob_rw_client_attempts(const struct ob_rw_client *c, unsigned shard);

/* Makes a poll that waits (or the next one) return at once.  Any thread. */
void ob_rw_client_wakeup(struct ob_rw_client *c);

/* The counters (relaxed reads: any thread). */
void ob_rw_client_stats(const struct ob_rw_client *c, struct ob_rw_client_stats *out);

#endif
