/* ob_ingest.h: THE ingest function.  The request path (ob_request.h) hands
 * it every body, whichever frontend it came through.
 *
 * bytes -> decode (ob_otlp) -> walk resource/scope/metric/point -> names from
 * the translator (cached per distinct OTLP metric) -> ob_store_append().
 * The result carries what OTLP partial_success needs.
 */
#ifndef OB_INGEST_H
#define OB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"
#include "ob_frontend.h"

struct ob_ingest;
struct ob_store;
struct ob_config;
struct ob_translator_slot;

enum ob_payload_format { OB_PAYLOAD_PROTOBUF = 0, OB_PAYLOAD_JSON = 1 };

struct ob_ingest_result {
    uint64_t points;                         /* data points seen */
    uint64_t rejected;                       /* data points rejected */
    uint64_t rejected_by[OB_REASON__COUNT];
    uint64_t collisions;
    char first_metric[OB_REASON__COUNT][64]; /* the OTLP name of the first point
                                                rejected for each reason ("" = none) */
    uint64_t exemplars;                      /* exemplars kept */
    uint64_t exemplars_dropped[OB_EXDROP__COUNT];
    char message[256];                       /* partial_success.error_message or decode error */
};

/* An ingest on store, with limits from cfg, naming each frontend's points
 * with the translator in its slot (frontends may share one; a NULL slot:
 * that frontend's requests are answered "not ready").  The slots are read
 * per request, so a reload that swaps a translator in a slot applies at
 * once. */
int ob_ingest_create(struct ob_store *store, const struct ob_config *cfg,
                     struct ob_translator_slot *const translators[OB_FE__COUNT],
                     struct ob_ingest **out);
void ob_ingest_destroy(struct ob_ingest *in);

/* Remote write: every sample stored from now on is also written to log
 * (ob_fwdlog.h), a request's records before it is answered.  Set before
 * the frontends start; NULL: none. */
struct ob_fwdlog;
void ob_ingest_set_fwdlog(struct ob_ingest *in, struct ob_fwdlog *log);
/* Requests some of whose records were not logged (no memory). */
uint64_t ob_ingest_fwd_oom(const struct ob_ingest *in);

/* Ingests one ExportMetricsServiceRequest.  Returns 0 when the body decoded
 * (some points may still be rejected: see out), OB_E_MALFORMED (out->message
 * says why) when it did not.  Thread-safe.  Frontends call it through the
 * request path (ob_request.h), which counts the request and its points. */
int ob_ingest_body(struct ob_ingest *in, enum ob_frontend fe, enum ob_payload_format fmt,
                   const void *body, size_t len, struct ob_ingest_result *out);

#endif
