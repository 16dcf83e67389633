/* ob_remote_write.h: forwarding the store to remote-write receivers.
 *
 * One thread per [remote_write.NAME] target follows the forward log
 * (ob_fwdlog.h) from the target's cursor: records go to the target's
 * shards by series (so one series' samples stay in order on one
 * connection), a shard's batch (batch_size samples, or what it has after
 * batch_deadline) is encoded (ob_rw_encode.h), snappy-compressed and
 * delivered by ob_rw_client (retries, backoff, auth, TLS).  The cursor
 * moves past a chunk of the log only when every record of it has been
 * taken or refused by the receiver: a restart, or a kill -9, resumes
 * there, and what the broker acknowledged to its senders reaches the
 * receiver at least once.  A target that falls behind by more than the
 * log holds loses the oldest records (counted); ingest never waits.
 */
#ifndef OB_REMOTE_WRITE_H
#define OB_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_common.h"

struct ob_config;
struct ob_store;
struct ob_fwdlog;
struct ob_remote_write;

/* Starts a thread per target of cfg.  0, or -errno / OB_E_CONFIG with err. */
int ob_remote_write_start(const struct ob_config *cfg, struct ob_store *store, struct ob_fwdlog *log,
                          struct ob_remote_write **out, char err[OB_ERR_LEN]);
/* Sends what the shards hold for up to a second, then stops every thread
 * (what is left is sent after the next start).  NULL ok. */
void ob_remote_write_stop(struct ob_remote_write *rw);

/* The otlp_broker_remote_storage_* self-metrics, text exposition. */
void ob_remote_write_metrics(const struct ob_remote_write *rw, struct ob_buf *out);
/* A target's state, for the status page. */
struct ob_rw_target_status {
    const char *name, *url;
    const char *protocol;      /* "1.0" or "2.0" */
    unsigned shards;
    uint64_t samples_sent;     /* float samples taken by the receiver */
    uint64_t histograms_sent;
    uint64_t dropped;          /* every reason */
    uint64_t pending;          /* forward log records not yet taken */
    uint64_t retries;
    int last_status;           /* of the last finished request; 0 = none yet */
    int64_t last_ok_ms, last_error_ms, highest_sent_ms; /* 0 = never */
    char last_error[160];      /* the last refusal: "HTTP 400: ..." */
};
/* Targets (0 with rw NULL), and target i's state. */
size_t ob_remote_write_targets(const struct ob_remote_write *rw);
void ob_remote_write_target_status(const struct ob_remote_write *rw, size_t i,
                                   struct ob_rw_target_status *out);

#endif
