/* ob_remote_write.c: a thread per remote-write target (ob_remote_write.h).
 *
 * The thread's loop: read log chunks while every shard has room, handing
 * each record to the shard of its series; start a request on each idle
 * shard whose batch is full or due; poll the client (which finishes and
 * retries requests); move the cursor past the chunks whose records are all
 * done.  "Done" per shard is simple because a shard's records stay in log
 * order: the oldest record a shard still holds names the oldest chunk it
 * needs, and the cursor goes to the oldest chunk any shard needs.
 */
#include "ob_remote_write.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "ob_config.h"
#include "ob_error.h"
#include "ob_fwdlog.h"
#include "ob_labels.h"
#include "ob_log.h"
#include "ob_rw_client.h"
#include "ob_rw_encode.h"
#include "ob_store.h"
#include "ob_time.h"

#define IDLE_POLL_MS 10     /* how often an idle target looks at the log */
#define STOP_FLUSH_MS 1000  /* what stop gives the shards to send what they hold */
#define QUEUE_BATCHES 5     /* a shard holds up to this many batches' samples */

enum drop_reason {
    DROP_OVERWRITTEN = 0, /* the log overwrote them before they were sent */
    DROP_SERIES_GONE,     /* their series left the store before they were sent */
    DROP_RESHAPED,        /* their series changed bounds before they were sent */
    DROP_REFUSED,         /* the receiver refused the request (4xx) */
    DROP_NOT_WRITTEN,     /* 2.0: taken (2xx), but the receiver says it wrote fewer */
    DROP__COUNT
};
static const char *const drop_names[DROP__COUNT] = {"log_overwritten", "series_gone", "reshaped",
                                                    "refused", "not_written"};

/* A shard's records, oldest first, each with the number of its chunk. */
struct queue {
    unsigned char *data;
    size_t head, len, cap; /* record bytes [head, len) */
    uint64_t *seq;
    uint32_t *samples;
    uint32_t first, n, cap_n; /* records [first, n) */
    uint64_t n_samples;       /* in [first, n) */
    int64_t since_ms;         /* when the oldest was queued */
};

struct shard {
    struct queue q;
    bool busy;
    uint32_t in_flight;         /* records of the request on the wire (the queue's first) */
    uint32_t in_flight_samples;
    size_t in_flight_bytes;
    struct ob_rw_counts counts; /* of that request */
};

/* A chunk read and not yet done. */
struct chunk_ref {
    uint64_t seq, pos, record;
    int64_t wall_ms;
};

struct target {
    struct ob_remote_write *rw;
    struct ob_rw_target_cfg cfg; /* shallow copy: the strings are the config's */
    struct ob_fwd_cursor *cursor;
    struct ob_fwd_reader reader;
    struct ob_rw_client *client;
    struct ob_rw_encoder *enc;
    struct shard *shards;
    unsigned n_shards;
    uint64_t queue_cap; /* samples per shard */
    unsigned char *chunk; /* the chunk being handed out */
    uint32_t chunk_at, chunk_n;
    size_t chunk_off;
    uint64_t next_seq;
    struct chunk_ref *fifo;
    uint32_t fifo_head, fifo_n, fifo_cap;
    int64_t empty_ms; /* when the reader last found nothing newer */
    struct ob_buf body;
    char *packed;
    size_t packed_cap;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    struct ob_complaint refused_log, error_log;
    /* counters (relaxed: the metrics reader) */
    _Atomic uint64_t samples_sent, histograms_sent, exemplars_sent, metadata_sent;
    _Atomic uint64_t samples_retried; /* samples of requests sent again, once per retry */
    _Atomic uint64_t dropped[DROP__COUNT];
    _Atomic int64_t highest_sent_ms;
    _Atomic uint64_t last_status;
    _Atomic int64_t last_ok_ms, last_error_ms;
    char last_error[160]; /* under err_lock */
    pthread_mutex_t err_lock;
};

struct ob_remote_write {
    struct ob_store *store;
    struct ob_fwdlog *log;
    struct target *targets;
    size_t n;
};

/* ---- shard queues ------------------------------------------------------------------ */

static bool queue_push(struct queue *q, const struct ob_fwd_record *r, uint64_t seq, uint32_t samples,
                       int64_t now_ms)
{
    size_t sz = ob_fwd_record_size(r->width);
    if (q->head && q->head >= q->len / 2) { /* compact: the sent half goes */
        memmove(q->data, q->data + q->head, q->len - q->head);
        q->len -= q->head;
        q->head = 0;
        memmove(q->seq, q->seq + q->first, (q->n - q->first) * sizeof *q->seq);
        memmove(q->samples, q->samples + q->first, (q->n - q->first) * sizeof *q->samples);
        q->n -= q->first;
        q->first = 0;
    }
    if (q->len + sz > q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 65536;
        while (cap < q->len + sz)
            cap *= 2;
        unsigned char *p = realloc(q->data, cap);
        if (!p)
            return false;
        q->data = p;
        q->cap = cap;
    }
    if (q->n == q->cap_n) {
        uint32_t cap = q->cap_n ? q->cap_n * 2 : 1024;
        uint64_t *s = realloc(q->seq, cap * sizeof *s);
        if (s)
            q->seq = s;
        uint32_t *m = s ? realloc(q->samples, cap * sizeof *m) : NULL;
        if (!m)
            return false;
        q->samples = m;
        q->cap_n = cap;
    }
    memcpy(q->data + q->len, r, sz);
    q->len += sz;
    if (q->first == q->n)
        q->since_ms = now_ms;
    q->seq[q->n] = seq;
    q->samples[q->n++] = samples;
    q->n_samples += samples;
    return true;
}

/* Drops the queue's first k records (their request is done). */
static void queue_pop(struct queue *q, uint32_t k, int64_t now_ms)
{
    for (uint32_t i = 0; i < k; i++) {
        const struct ob_fwd_record *r = (const void *)(q->data + q->head);
        q->head += ob_fwd_record_size(r->width);
        q->n_samples -= q->samples[q->first++];
    }
    if (q->first == q->n) {
        q->head = q->len = 0;
        q->first = q->n = 0;
    }
    q->since_ms = now_ms; /* the rest waited for a shard that was busy */
}

static void queue_free(struct queue *q)
{
    free(q->data);
    free(q->seq);
    free(q->samples);
}

/* ---- reading the log --------------------------------------------------------------- */

static bool fifo_push(struct target *t, const struct ob_fwd_chunk *c, uint64_t seq)
{
    if (t->fifo_n == t->fifo_cap) {
        uint32_t cap = t->fifo_cap ? t->fifo_cap * 2 : 256;
        struct chunk_ref *f = malloc(cap * sizeof *f);
        if (!f)
            return false;
        for (uint32_t i = 0; i < t->fifo_n; i++)
            f[i] = t->fifo[(t->fifo_head + i) % t->fifo_cap];
        free(t->fifo);
        t->fifo = f;
        t->fifo_head = 0;
        t->fifo_cap = cap;
    }
    t->fifo[(t->fifo_head + t->fifo_n++) % t->fifo_cap] =
        (struct chunk_ref){seq, c->pos, c->first_record, c->wall_ms};
    return true;
}

static inline unsigned shard_of(const struct target *t, const struct ob_fwd_record *r)
{
    return (unsigned)((r->hash >> 32) % t->n_shards);
}

/* Hands out the current chunk's records; false when a shard is full (the
 * rest waits) or nothing is left. */
static bool distribute(struct target *t, int64_t now_ms)
{
    while (t->chunk_at < t->chunk_n) {
        const struct ob_fwd_record *r = (const void *)(t->chunk + t->chunk_off);
        struct shard *sh = &t->shards[shard_of(t, r)];
        if (sh->q.n_samples >= t->queue_cap)
            return false;
        enum ob_rw_drop why;
        uint32_t samples = ob_rw_record_samples(t->enc, r, now_ms, &why);
        if (samples == 0) {
            atomic_fetch_add_explicit(&t->dropped[why == OB_RW_DROP_RESHAPED ? DROP_RESHAPED : DROP_SERIES_GONE],
                                      1, memory_order_relaxed);
        } else if (!queue_push(&sh->q, r, t->next_seq - 1, samples, now_ms)) {
            return false; /* no memory: try again later */
        }
        t->chunk_off += ob_fwd_record_size(r->width);
        t->chunk_at++;
    }
    return true;
}

/* Reads chunks while the shards take their records. */
static void read_log(struct target *t, int64_t now_ms)
{
    struct ob_fwdlog *log = t->rw->log;
    if (!distribute(t, now_ms))
        return;
    for (int chunks = 0; chunks < 64; chunks++) {
        uint64_t lost = 0;
        enum ob_fwd_read rd = ob_fwdlog_read(log, &t->reader, t->chunk, &lost);
        if (rd == OB_FWD_EMPTY) {
            t->empty_ms = now_ms; /* taken before the look: a chunk after it is newer */
            return;
        }
        if (rd == OB_FWD_LOST) {
            atomic_fetch_add_explicit(&t->dropped[DROP_OVERWRITTEN], lost, memory_order_relaxed);
            ob_complain(&t->error_log, "remote_write",
                        "%s: %llu samples overwritten in the forward log before they were sent "
                        "(the receiver was away longer than remote_write.log_size holds)",
                        t->cfg.name, (unsigned long long)lost);
            continue;
        }
        const struct ob_fwd_chunk *c = (const void *)t->chunk;
        if (!fifo_push(t, c, t->next_seq))
            return; /* read again later: the reader goes back */
        t->next_seq++;
        t->chunk_at = 0;
        t->chunk_n = c->n_records;
        t->chunk_off = sizeof *c;
        if (!distribute(t, now_ms))
            return;
    }
}

/* ---- requests ------------------------------------------------------------------------ */

static void send_batch(struct target *t, unsigned i, int64_t now_ms)
{
    struct shard *sh = &t->shards[i];
    struct queue *q = &sh->q;
    ob_rw_encode_begin(t->enc);
    uint32_t k = 0;
    uint64_t samples = 0;
    size_t off = q->head;
    while (q->first + k < q->n && (k == 0 || samples + q->samples[q->first + k] <= t->cfg.batch_size)) {
        const struct ob_fwd_record *r = (const void *)(q->data + off);
        ob_rw_encode_add(t->enc, r, now_ms);
        samples += q->samples[q->first + k];
        off += ob_fwd_record_size(r->width);
        k++;
    }
    int rc = ob_rw_encode_end(t->enc, &t->body, now_ms, &sh->counts);
    if (rc == 0 && t->body.len == 0)
        rc = 1; /* every record was dropped: nothing to send */
    size_t need = snappy_max_compressed_length(t->body.len);
    if (rc == 0 && need > t->packed_cap) {
        char *p = realloc(t->packed, need);
        if (p) {
            t->packed = p;
            t->packed_cap = need;
        } else {
            rc = -ENOMEM;
        }
    }
    size_t packed = need;
    if (rc == 0 && snappy_compress(t->body.data, t->body.len, t->packed, &packed) != SNAPPY_OK)
        rc = -EIO;
    if (rc == 0)
        rc = ob_rw_client_submit(t->client, i, t->packed, packed, (enum ob_rw_protocol)t->cfg.protocol);
    atomic_fetch_add_explicit(&t->dropped[DROP_SERIES_GONE], sh->counts.dropped[OB_RW_DROP_GONE],
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&t->dropped[DROP_RESHAPED], sh->counts.dropped[OB_RW_DROP_RESHAPED],
                              memory_order_relaxed);
    if (rc == 1) {
        queue_pop(q, k, now_ms);
        return;
    }
    if (rc < 0) {
        /* Nothing was sent; the records stay and go with the next try. */
        ob_complain(&t->error_log, "remote_write", "%s: cannot build a request: %s", t->cfg.name,
                    ob_strerror(rc));
        return;
    }
    sh->busy = true;
    sh->in_flight = k;
    sh->in_flight_samples = (uint32_t)samples;
    sh->in_flight_bytes = packed;
}

static void on_done(void *ctx, unsigned shard, enum ob_rw_outcome outcome, int status,
                    const char *message, const struct ob_rw_written *written)
{
    struct target *t = ctx;
    struct shard *sh = &t->shards[shard];
    int64_t now_ms = ob_now_ns() / 1000000;
    atomic_store_explicit(&t->last_status, (uint64_t)status, memory_order_relaxed);
    unsigned attempts = ob_rw_client_attempts(t->client, shard);
    if (attempts > 1)
        atomic_fetch_add_explicit(&t->samples_retried,
                                  (uint64_t)(attempts - 1) * (sh->counts.samples + sh->counts.histograms),
                                  memory_order_relaxed);
    if (outcome == OB_RW_SENT) {
        atomic_fetch_add_explicit(&t->samples_sent, sh->counts.samples, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->histograms_sent, sh->counts.histograms, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->metadata_sent, sh->counts.metadata, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->exemplars_sent, sh->counts.exemplars, memory_order_relaxed);
        if (sh->counts.newest_ms > atomic_load_explicit(&t->highest_sent_ms, memory_order_relaxed))
            atomic_store_explicit(&t->highest_sent_ms, sh->counts.newest_ms, memory_order_relaxed);
        atomic_store_explicit(&t->last_ok_ms, now_ms, memory_order_relaxed);
        /* A 2.0 receiver says what it wrote (the -Written headers); what it
         * did not, it will not take if sent again (the spec: no retry). */
        uint64_t short_by = 0;
        if (written && written->samples >= 0 && (uint64_t)written->samples < sh->counts.samples)
            short_by += sh->counts.samples - (uint64_t)written->samples;
        if (written && written->histograms >= 0 && (uint64_t)written->histograms < sh->counts.histograms)
            short_by += sh->counts.histograms - (uint64_t)written->histograms;
        if (short_by) {
            atomic_fetch_add_explicit(&t->dropped[DROP_NOT_WRITTEN], short_by, memory_order_relaxed);
            ob_complain(&t->refused_log, "remote_write",
                        "%s: the receiver wrote %lld of %llu samples and %lld of %llu histograms it took",
                        t->cfg.name, (long long)written->samples, (unsigned long long)sh->counts.samples,
                        (long long)written->histograms, (unsigned long long)sh->counts.histograms);
        }
    } else {
        atomic_fetch_add_explicit(&t->dropped[DROP_REFUSED], sh->counts.samples + sh->counts.histograms,
                                  memory_order_relaxed);
        atomic_store_explicit(&t->last_error_ms, now_ms, memory_order_relaxed);
        pthread_mutex_lock(&t->err_lock);
        snprintf(t->last_error, sizeof t->last_error, "HTTP %d: %s", status, message);
        pthread_mutex_unlock(&t->err_lock);
        ob_complain(&t->refused_log, "remote_write", "%s: the receiver refused %llu samples: HTTP %d: %s",
                    t->cfg.name, (unsigned long long)(sh->counts.samples + sh->counts.histograms),
                    status, message);
    }
    queue_pop(&sh->q, sh->in_flight, now_ms);
    sh->busy = false;
    sh->in_flight = 0;
}

/* Moves the cursor past every chunk no shard holds a record of. */
static void advance_cursor(struct target *t)
{
    uint64_t low = t->chunk_at < t->chunk_n ? t->next_seq - 1 : UINT64_MAX;
    for (unsigned i = 0; i < t->n_shards; i++) {
        const struct queue *q = &t->shards[i].q;
        if (q->first < q->n && q->seq[q->first] < low)
            low = q->seq[q->first];
    }
    bool moved = false;
    while (t->fifo_n && t->fifo[t->fifo_head].seq < low) {
        t->fifo_head = (t->fifo_head + 1) % t->fifo_cap;
        t->fifo_n--;
        moved = true;
    }
    if (!moved && t->fifo_n)
        return;
    if (t->fifo_n) {
        const struct chunk_ref *c = &t->fifo[t->fifo_head];
        ob_fwdlog_ack(t->cursor, c->pos, c->record, c->wall_ms);
    } else {
        ob_fwdlog_ack(t->cursor, t->reader.pos, t->reader.record, t->empty_ms);
    }
}

static void *target_main(void *arg)
{
    struct target *t = arg;
    char comm[16];
    memcpy(comm, "rw:", 3); /* rw:NAME, cut to 15: top -H, /proc/PID/task */
    snprintf(comm + 3, sizeof comm - 3, "%.12s", t->cfg.name);
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    int64_t stop_at = 0;
    for (;;) {
        int64_t now_ms = ob_now_ns() / 1000000;
        bool stopping = atomic_load_explicit(&t->stop, memory_order_acquire);
        if (stopping && !stop_at)
            stop_at = now_ms + STOP_FLUSH_MS;
        if (!stopping)
            read_log(t, now_ms);
        int wait_ms = IDLE_POLL_MS;
        bool busy = false;
        for (unsigned i = 0; i < t->n_shards; i++) {
            struct shard *sh = &t->shards[i];
            if (sh->busy) {
                busy = true;
                continue;
            }
            if (sh->q.first == sh->q.n)
                continue;
            int64_t due = sh->q.since_ms + t->cfg.batch_deadline_ms;
            if (sh->q.n_samples >= t->cfg.batch_size || now_ms >= due || stopping) {
                send_batch(t, i, now_ms);
                busy |= sh->busy;
            } else if (due - now_ms < wait_ms) {
                wait_ms = (int)(due - now_ms);
            }
        }
        advance_cursor(t);
        if (stopping && (!busy || now_ms >= stop_at))
            break;
        /* Records waiting in the log that the shards have room for: only a
         * look at the client, then read on.  Otherwise wait for the network,
         * a batch falling due, or a while for new records. */
        bool more = !stopping && t->chunk_at >= t->chunk_n && ob_fwdlog_unread(t->rw->log, &t->reader);
        if (ob_rw_client_poll(t->client, more ? 0 : wait_ms, on_done, t) < 0)
            ob_complain(&t->error_log, "remote_write", "%s: libcurl's multi handle failed", t->cfg.name);
        advance_cursor(t);
    }
    return NULL;
}

/* ---- start, stop ---------------------------------------------------------------------- */

static void target_free(struct target *t)
{
    ob_rw_client_destroy(t->client);
    ob_rw_encoder_destroy(t->enc);
    for (unsigned i = 0; t->shards && i < t->n_shards; i++)
        queue_free(&t->shards[i].q);
    free(t->shards);
    free(t->chunk);
    free(t->fifo);
    free(t->packed);
    ob_buf_fini(&t->body);
    pthread_mutex_destroy(&t->err_lock);
}

static int target_init(struct ob_remote_write *rw, struct target *t, const struct ob_rw_target_cfg *cfg,
                       const struct ob_config *all, char err[OB_ERR_LEN])
{
    t->rw = rw;
    t->cfg = *cfg;
    pthread_mutex_init(&t->err_lock, NULL);
    ob_buf_init(&t->body);
    t->cursor = ob_fwdlog_cursor(rw->log, cfg->name);
    if (!t->cursor) {
        snprintf(err, OB_ERR_LEN, "remote_write.%s: more than %u targets", cfg->name, OB_FWDLOG_TARGETS);
        return OB_E_CONFIG;
    }
    t->reader = (struct ob_fwd_reader){atomic_load(&t->cursor->pos), atomic_load(&t->cursor->record)};
    t->empty_ms = ob_now_ns() / 1000000;
    int rc = ob_rw_client_create(cfg, &t->client, err);
    if (rc)
        return rc;
    rc = ob_rw_encoder_create((enum ob_rw_protocol)cfg->protocol, rw->store,
                              all->store_max_series, all->store_max_families, &t->enc);
    if (rc == 0 && !cfg->native_histograms)
        rc = ob_rw_encoder_classic(t->enc, all->expose_exp_max_buckets ? all->expose_exp_max_buckets : 40);
    t->n_shards = ob_rw_client_shards(t->client);
    t->shards = calloc(t->n_shards, sizeof *t->shards);
    t->chunk = malloc(sizeof(struct ob_fwd_chunk) + OB_FWDLOG_CHUNK_MAX);
    if (rc || !t->shards || !t->chunk) {
        snprintf(err, OB_ERR_LEN, "remote_write.%s: out of memory", cfg->name);
        return -ENOMEM;
    }
    t->queue_cap = (uint64_t)cfg->batch_size * QUEUE_BATCHES;
    return 0;
}

int ob_remote_write_start(const struct ob_config *cfg, struct ob_store *store, struct ob_fwdlog *log,
                          struct ob_remote_write **out, char err[OB_ERR_LEN])
{
    *out = NULL;
    struct ob_remote_write *rw = calloc(1, sizeof *rw);
    if (!rw)
        return -ENOMEM;
    rw->store = store;
    rw->log = log;
    rw->targets = calloc(cfg->n_rw ? cfg->n_rw : 1, sizeof *rw->targets);
    if (!rw->targets) {
        free(rw);
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < cfg->n_rw && rc == 0; i++) {
        rw->n = i + 1;
        rc = target_init(rw, &rw->targets[i], &cfg->rw[i], cfg, err);
    }
    for (size_t i = 0; i < rw->n && rc == 0; i++) {
        rc = -pthread_create(&rw->targets[i].thread, NULL, target_main, &rw->targets[i]);
        rw->targets[i].started = rc == 0;
        if (rc)
            snprintf(err, OB_ERR_LEN, "remote_write: thread: %s", strerror(-rc));
    }
    if (rc) {
        ob_remote_write_stop(rw);
        return rc;
    }
    *out = rw;
    return 0;
}

void ob_remote_write_stop(struct ob_remote_write *rw)
{
    if (!rw)
        return;
    for (size_t i = 0; i < rw->n; i++) {
        atomic_store_explicit(&rw->targets[i].stop, true, memory_order_release);
        if (rw->targets[i].client)
            ob_rw_client_wakeup(rw->targets[i].client);
    }
    for (size_t i = 0; i < rw->n; i++) {
        if (rw->targets[i].started)
            pthread_join(rw->targets[i].thread, NULL);
        target_free(&rw->targets[i]);
    }
    free(rw->targets);
    free(rw);
}

/* ---- self-metrics and status ---------------------------------------------------------- */

static void family(struct ob_buf *out, const char *name, const char *type, const char *help)
{
    ob_buf_printf(out, "# HELP otlp_broker_remote_storage_%s %s\n# TYPE otlp_broker_remote_storage_%s %s\n",
                  name, help, name, type);
}

/* One sample: otlp_broker_remote_storage_NAME{remote_name,url[,EXTRA]} value. */
static void sample_text(struct ob_buf *out, const char *name, const struct target *t, const char *extra,
                        const char *value)
{
    ob_buf_printf(out, "otlp_broker_remote_storage_%s{remote_name=\"", name);
    ob_escape_label_value(out, t->cfg.name, strlen(t->cfg.name));
    ob_buf_puts(out, "\",url=\"");
    ob_escape_label_value(out, t->cfg.url, strlen(t->cfg.url));
    ob_buf_printf(out, "\"%s%s} %s\n", extra ? "," : "", extra ? extra : "", value);
}

static void sample(struct ob_buf *out, const char *name, const struct target *t, const char *extra,
                   uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    sample_text(out, name, t, extra, num);
}

#define EACH_TARGET(rw, t) for (const struct target *t = (rw)->targets; t < (rw)->targets + (rw)->n; t++)

/* What each target's counters and client say, by family. */
enum rw_value {
    V_SAMPLES, V_HISTOGRAMS, V_EXEMPLARS, V_METADATA, V_RETRIED, V_REQUESTS, V_RETRIES, V_BYTES, V_PENDING,
    V_SHARDS,
};

static uint64_t value_of(const struct ob_remote_write *rw, const struct target *t, enum rw_value v)
{
    struct ob_rw_client_stats cs;
    ob_rw_client_stats(t->client, &cs);
    switch (v) {
    case V_SAMPLES:
        return atomic_load_explicit(&t->samples_sent, memory_order_relaxed);
    case V_HISTOGRAMS:
        return atomic_load_explicit(&t->histograms_sent, memory_order_relaxed);
    case V_EXEMPLARS:
        return atomic_load_explicit(&t->exemplars_sent, memory_order_relaxed);
    case V_METADATA:
        return atomic_load_explicit(&t->metadata_sent, memory_order_relaxed);
    case V_RETRIED:
        return atomic_load_explicit(&t->samples_retried, memory_order_relaxed);
    case V_REQUESTS:
        return cs.requests;
    case V_RETRIES:
        return cs.retries;
    case V_BYTES:
        return cs.bytes_sent;
    case V_PENDING:
        return ob_fwdlog_pending(rw->log, t->cursor);
    case V_SHARDS:
        return t->n_shards;
    }
    return 0;
}

void ob_remote_write_metrics(const struct ob_remote_write *rw, struct ob_buf *out)
{
    if (!rw || !rw->n)
        return;
    static const struct {
        const char *name, *type, *help;
        enum rw_value v;
    } plain[] = {
        {"samples_total", "counter", "Float samples sent to the receiver and taken.", V_SAMPLES},
        {"histograms_total", "counter", "Native histograms sent to the receiver and taken.", V_HISTOGRAMS},
        {"exemplars_total", "counter", "Exemplars sent to the receiver and taken.", V_EXEMPLARS},
        {"metadata_total", "counter", "Metric metadata sent to the receiver and taken.", V_METADATA},
        {"samples_retried_total", "counter",
         "Samples (and histograms) sent again, counted once per retry of their request.", V_RETRIED},
        {"requests_total", "counter", "HTTP requests made, retries included.", V_REQUESTS},
        {"retries_total", "counter", "Requests sent again after a network error, a timeout, a 5xx or a 429.",
         V_RETRIES},
        {"bytes_total", "counter", "Compressed request bytes sent, retries included.", V_BYTES},
        {"samples_pending", "gauge",
         "Forward log records the receiver has yet to take (each a sample or a histogram or summary point).",
         V_PENDING},
        {"shards", "gauge", "Parallel connections to the receiver.", V_SHARDS},
    };
    for (size_t k = 0; k < OB_ARRAY_LEN(plain); k++) {
        family(out, plain[k].name, plain[k].type, plain[k].help);
        EACH_TARGET(rw, t)
        sample(out, plain[k].name, t, NULL, value_of(rw, t, plain[k].v));
    }
    char extra[64];
    family(out, "samples_dropped_total", "counter",
           "Samples (and histograms) not sent, by reason: log_overwritten, series_gone, reshaped, refused "
           "(the receiver answered 4xx), not_written (a 2.0 receiver took them but says it wrote fewer).");
    EACH_TARGET(rw, t)
    for (int r = 0; r < DROP__COUNT; r++) {
        snprintf(extra, sizeof extra, "reason=\"%s\"", drop_names[r]);
        sample(out, "samples_dropped_total", t, extra,
               atomic_load_explicit(&t->dropped[r], memory_order_relaxed));
    }
    static const char *const fails[OB_RW_FAIL__COUNT] = {"network", "timeout", "5xx", "429", "4xx", "auth"};
    family(out, "failed_requests_total", "counter", "Request attempts that failed, by kind.");
    EACH_TARGET(rw, t)
    {
        struct ob_rw_client_stats cs;
        ob_rw_client_stats(t->client, &cs);
        for (int f = 0; f < OB_RW_FAIL__COUNT; f++) {
            snprintf(extra, sizeof extra, "kind=\"%s\"", fails[f]);
            sample(out, "failed_requests_total", t, extra, cs.failures[f]);
        }
    }
    family(out, "queue_highest_sent_timestamp_seconds", "gauge",
           "Newest sample timestamp the receiver has taken.");
    EACH_TARGET(rw, t)
    {
        int64_t ms = atomic_load_explicit(&t->highest_sent_ms, memory_order_relaxed);
        char num[32];
        snprintf(num, sizeof num, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
        sample_text(out, "queue_highest_sent_timestamp_seconds", t, NULL, num);
    }
    struct ob_fwdlog_stats ls;
    ob_fwdlog_stats(rw->log, &ls);
    ob_buf_printf(out,
                  "# HELP otlp_broker_forward_log_bytes Bytes of the forward log in use.\n"
                  "# TYPE otlp_broker_forward_log_bytes gauge\notlp_broker_forward_log_bytes %llu\n"
                  "# HELP otlp_broker_forward_log_capacity_bytes Size of the forward log.\n"
                  "# TYPE otlp_broker_forward_log_capacity_bytes gauge\n"
                  "otlp_broker_forward_log_capacity_bytes %llu\n"
                  "# HELP otlp_broker_forward_log_records_total Records written to the forward log.\n"
                  "# TYPE otlp_broker_forward_log_records_total counter\n"
                  "otlp_broker_forward_log_records_total %llu\n",
                  (unsigned long long)ls.used, (unsigned long long)ls.cap, (unsigned long long)ls.records);
}

size_t ob_remote_write_targets(const struct ob_remote_write *rw)
{
    return rw ? rw->n : 0;
}

void ob_remote_write_target_status(const struct ob_remote_write *rw, size_t i,
                                   struct ob_rw_target_status *out)
{
    struct target *t = &rw->targets[i];
    struct ob_rw_client_stats cs;
    ob_rw_client_stats(t->client, &cs);
    *out = (struct ob_rw_target_status){
        .name = t->cfg.name,
        .url = t->cfg.url,
        .protocol = t->cfg.protocol == OB_RW_PROTO_2_0 ? "2.0" : "1.0",
        .shards = t->n_shards,
        .samples_sent = atomic_load_explicit(&t->samples_sent, memory_order_relaxed),
        .histograms_sent = atomic_load_explicit(&t->histograms_sent, memory_order_relaxed),
        .pending = ob_fwdlog_pending(rw->log, t->cursor),
        .retries = cs.retries,
        .last_status = (int)atomic_load_explicit(&t->last_status, memory_order_relaxed),
        .last_ok_ms = atomic_load_explicit(&t->last_ok_ms, memory_order_relaxed),
        .last_error_ms = atomic_load_explicit(&t->last_error_ms, memory_order_relaxed),
        .highest_sent_ms = atomic_load_explicit(&t->highest_sent_ms, memory_order_relaxed),
    };
    for (int r = 0; r < DROP__COUNT; r++)
        out->dropped += atomic_load_explicit(&t->dropped[r], memory_order_relaxed);
    pthread_mutex_lock(&t->err_lock);
    memcpy(out->last_error, t->last_error, sizeof out->last_error);
    pthread_mutex_unlock(&t->err_lock);
}
