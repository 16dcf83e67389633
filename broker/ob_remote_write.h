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
/* Each target's state as a JSON array (the status page). */
void ob_remote_write_status_json(const struct ob_remote_write *rw, struct ob_buf *out);

#endif
