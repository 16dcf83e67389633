/* ob_request.c: limits, gunzip, decode, ingest, response, verdict: once for
 * every frontend (see ob_request.h). */
#include "ob_request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ob_error.h"
#include "ob_gzip.h"
#include "ob_log.h"
#include "ob_otlp.h"
#include "ob_otlp_json.h"
#include "ob_selfmetrics.h"
#include "ob_status.h"
#include "ob_time.h"

/* An inflate buffer bigger than this is freed after the request: one odd
 * 30 MiB body should not pin 30 MiB per thread forever. */
#define KEEP_INFLATE_BYTES (4u << 20)

/* One log site per frontend and outcome, so that a flood of one kind of
 * garbage does not hide the first line of another; and per frontend and
 * reason for the data points refused inside accepted requests. */
static struct ob_complaint complaints[OB_FE__COUNT][OB_OUT__COUNT];
static struct ob_complaint rejections[OB_FE__COUNT][OB_REASON__COUNT];

/* One line per reason a request's points were refused for (rate-limited
 * per reason): how many, the first metric's name, who sent them; so that a
 * user watching the log sees why a metric does not show up. */
static void log_rejections(const struct ob_request *rq, const struct ob_ingest_result *res)
{
    unsigned fe = (unsigned)rq->fe < OB_FE__COUNT ? (unsigned)rq->fe : 0;
    char who[96] = "";
    for (int i = 0; i < OB_REASON__COUNT; i++) {
        if (!res->rejected_by[i])
            continue;
        if (!who[0]) {
            snprintf(who, sizeof who, "an unknown peer");
            if (rq->peer)
                rq->peer(rq->peer_ctx, who, sizeof who);
        }
        ob_complain(&rejections[fe][i], ob_frontend_name(rq->fe),
                    "%llu data points rejected (%s) from %s, first metric %s",
                    (unsigned long long)res->rejected_by[i], ob_reason_name((enum ob_reason)i),
                    who, res->first_metric[i]);
        ob_status_refused(rq->fe, ob_reason_name((enum ob_reason)i), res->first_metric[i], who,
                          res->rejected_by[i], res->message, ob_now_ns() / 1000000);
    }
}

void ob_request_bufs_fini(struct ob_request_bufs *b)
{
    ob_buf_fini(&b->inflated);
    ob_buf_fini(&b->response);
}

/* Counts the request and its body's bytes (as sent, 0 for one refused before
 * its body was taken) and, for a refusal, logs it. */
static void account(const struct ob_request *rq, const struct ob_verdict *v)
{
    ob_sm_request(rq->fe, v->outcome);
    ob_sm_received_bytes(rq->fe, rq->len);
    if (v->outcome == OB_OUT_OK || v->outcome == OB_OUT_PARTIAL)
        return;
    unsigned fe = (unsigned)rq->fe < OB_FE__COUNT ? (unsigned)rq->fe : 0;
    struct ob_complaint *site = &complaints[fe][v->outcome];
    char who[96] = "an unknown peer";
    if (rq->peer)
        rq->peer(rq->peer_ctx, who, sizeof who);
    ob_complain(site, ob_frontend_name(rq->fe), "%s request from %s: %s",
                ob_outcome_name(v->outcome), who, v->message);
    ob_status_refused(rq->fe, ob_outcome_name(v->outcome), "", who, 0, v->message,
                      ob_now_ns() / 1000000);
}

static void vrefuse(struct ob_verdict *v, enum ob_outcome o, const char *fmt, va_list ap)
{
    v->outcome = o;
    v->response = NULL;
    v->response_len = 0;
    vsnprintf(v->message, sizeof v->message, fmt, ap);
}

static void refuse(struct ob_verdict *v, enum ob_outcome o, const char *fmt, ...) OB_PRINTF(3, 4);

static void refuse(struct ob_verdict *v, enum ob_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrefuse(v, o, fmt, ap);
    va_end(ap);
}

void ob_request_refuse(const struct ob_request *rq, enum ob_outcome o, struct ob_verdict *v,
                       const char *fmt, ...)
{
    *v = (struct ob_verdict){0};
    va_list ap;
    va_start(ap, fmt);
    vrefuse(v, o, fmt, ap);
    va_end(ap);
    account(rq, v);
}

bool ob_request_over_limit(const struct ob_request_path *path, const struct ob_request *rq,
                           uint64_t len, struct ob_verdict *v)
{
    uint64_t max = path->max_body;
    if (!max || len <= max)
        return false;
    if (len != UINT64_MAX)
        ob_request_refuse(rq, OB_OUT_TOO_LARGE, v,
                          "request body of %llu bytes is over the limit of %llu bytes "
                          "(limits.max_body_bytes)",
                          (unsigned long long)len, (unsigned long long)max);
    else
        ob_request_refuse(rq, OB_OUT_TOO_LARGE, v,
                          "request body is over the limit of %llu bytes (limits.max_body_bytes)",
                          (unsigned long long)max);
    return true;
}

int ob_request_encoding(const char *name, size_t len, enum ob_body_encoding *out)
{
    while (len && (*name == ' ' || *name == '\t')) {
        name++;
        len--;
    }
    while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    if (len == 0 || (len == 8 && strncasecmp(name, "identity", 8) == 0)) {
        *out = OB_ENC_IDENTITY;
        return 0;
    }
    if (len == 4 && strncasecmp(name, "gzip", 4) == 0) {
        *out = OB_ENC_GZIP;
        return 0;
    }
    return OB_E_UNSUPPORTED;
}

/* Ingest's answer -> outcome, response bytes. */
static void conclude(const struct ob_request *rq, int rc, struct ob_request_bufs *bufs,
                     struct ob_verdict *v)
{
    const struct ob_ingest_result *res = &v->result;
    switch (rc) {
    case 0:
        break;
    case OB_E_MALFORMED:
        refuse(v, OB_OUT_MALFORMED, "%s", res->message[0] ? res->message : ob_strerror(rc));
        return;
    case OB_E_TOO_LARGE:
        refuse(v, OB_OUT_TOO_LARGE, "%s", ob_strerror(rc));
        return;
    case OB_E_UNSUPPORTED:
        refuse(v, OB_OUT_UNSUPPORTED, "%s", ob_strerror(rc));
        return;
    default:
        /* Ours, not the sender's (not ready, out of memory): retryable. */
        refuse(v, OB_OUT_OVERLOADED, "%s", res->message[0] ? res->message : ob_strerror(rc));
        return;
    }
    /* The answer comes in the request's format (OTLP/HTTP says so; the
     * other frontends take protobuf only). */
    const char *msg = res->rejected ? res->message : NULL;
    bufs->response.len = 0;
    rc = rq->format == OB_PAYLOAD_JSON
             ? ob_otlp_json_encode_response((int64_t)res->rejected, msg, &bufs->response)
             : ob_otlp_encode_response((int64_t)res->rejected, msg, &bufs->response);
    if (rc != 0 || bufs->response.failed) {
        bufs->response.failed = false;
        refuse(v, OB_OUT_OVERLOADED, "out of memory encoding the response");
        return;
    }
    v->outcome = res->rejected ? OB_OUT_PARTIAL : OB_OUT_OK;
    v->response = bufs->response.len ? bufs->response.data : "";
    v->response_len = bufs->response.len;
    if (res->rejected) {
        int most = 0;
        for (int i = 1; i < OB_REASON__COUNT; i++)
            if (res->rejected_by[i] > res->rejected_by[most])
                most = i;
        v->reason = (enum ob_reason)most;
        snprintf(v->message, sizeof v->message, "%s", res->message);
    }
}

/* The body as ingest reads it: inflated into bufs when gzip.  Returns false
 * with v refused when it cannot be had. */
static bool plain_body(const struct ob_request_path *path, const struct ob_request *rq,
                       struct ob_request_bufs *bufs, const void **body, size_t *len,
                       struct ob_verdict *v)
{
    *body = rq->body;
    *len = rq->len;
    if (rq->encoding != OB_ENC_GZIP)
        return true;
    uint64_t max = path->max_body;
    bufs->inflated.len = 0;
    int rc = ob_gunzip(rq->body, rq->len, max ? (size_t)max : SIZE_MAX, &bufs->inflated);
    if (rc == OB_E_TOO_LARGE) {
        refuse(v, OB_OUT_TOO_LARGE, "gzip body inflates to over %llu bytes (limits.max_body_bytes)",
               (unsigned long long)max);
        return false;
    }
    if (rc == OB_E_MALFORMED) {
        refuse(v, OB_OUT_MALFORMED, "body is not valid gzip (corrupt, truncated or trailing bytes)");
        return false;
    }
    if (rc != 0) {
        refuse(v, OB_OUT_OVERLOADED, "gzip body: %s", ob_strerror(rc));
        return false;
    }
    *body = bufs->inflated.len ? bufs->inflated.data : "";
    *len = bufs->inflated.len;
    return true;
}

void ob_request_handle(const struct ob_request_path *path, const struct ob_request *rq,
                       struct ob_request_bufs *bufs, struct ob_verdict *v)
{
    *v = (struct ob_verdict){.outcome = OB_OUT_OK};
    const void *body;
    size_t len;
    if (ob_request_over_limit(path, rq, rq->len, v))
        return; /* counted there */
    if (!plain_body(path, rq, bufs, &body, &len, v)) {
        /* refused: the sender's body, whether we are ready or not */
    } else if (!path->ingest) {
        refuse(v, OB_OUT_OVERLOADED, "not ready");
    } else {
        int rc = ob_ingest_body(path->ingest, rq->fe, rq->format, body, len, &v->result);
        conclude(rq, rc, bufs, v);
        const struct ob_ingest_result *res = &v->result;
        ob_sm_points_received(rq->fe, res->points);
        for (int i = 0; i < OB_REASON__COUNT && res->rejected; i++)
            if (res->rejected_by[i]) /* no locked add of 0 on a line all threads share */
                ob_sm_points_rejected(rq->fe, (enum ob_reason)i, res->rejected_by[i]);
        if (res->rejected)
            log_rejections(rq, res);
        if (res->collisions)
            ob_sm_collisions(res->collisions);
        ob_sm_exemplars(res->exemplars, res->exemplars_dropped);
    }
    if (bufs->inflated.cap > KEEP_INFLATE_BYTES)
        ob_buf_fini(&bufs->inflated);
    account(rq, v);
}
