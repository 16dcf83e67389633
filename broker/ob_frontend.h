/* ob_frontend.h: the words every frontend, ingest and the self-metrics share.
 *
 * Which frontend a request came through, how it ended, and why a data point
 * was rejected.  The names are label values of the otlp_broker_* metrics and
 * words of log lines, so they are part of the broker's interface: add at the
 * end of a list, never rename.
 */
#ifndef OB_FRONTEND_H
#define OB_FRONTEND_H

enum ob_frontend { OB_FE_HTTP = 0, OB_FE_ZMQ = 1, OB_FE_GRPC = 2, OB_FE__COUNT };

/* How a request ended (label "outcome").  Each frontend maps these to its
 * transport's answers (HTTP status codes, ZeroMQ error frames) in one table. */
enum ob_outcome {
    OB_OUT_OK = 0,      /* all points accepted */
    OB_OUT_PARTIAL,     /* answered with partial_success */
    OB_OUT_MALFORMED,   /* body does not decode */
    OB_OUT_TOO_LARGE,   /* over limits.max_body_bytes, compressed or inflated */
    OB_OUT_UNSUPPORTED, /* content type, encoding or framing not supported */
    OB_OUT_OVERLOADED,  /* not ready or out of memory: retry later */
    OB_OUT__COUNT
};

/* Why a data point was rejected (label "reason"). */
enum ob_reason {
    OB_REASON_OUT_OF_BOUNDS = 0, /* older than the out-of-order window */
    OB_REASON_DUPLICATE,         /* same timestamp, different value */
    OB_REASON_LIMIT,             /* store full, too many labels */
    OB_REASON_MALFORMED,         /* point without value, bad histogram */
    OB_REASON_TRANSLATION,       /* name the translator refused */
    OB_REASON_TEMPORALITY,       /* delta / unspecified temporality */
    OB_REASON_TYPE_CONFLICT,     /* family exists with another type */
    OB_REASON_UNSUPPORTED,       /* cannot be exposed (exponential histogram) */
    OB_REASON_OUT_OF_ORDER,      /* a delta point overlapping what was added before */
    OB_REASON__COUNT
};

/* Why an exemplar was not kept (label "reason"); its point is not affected. */
enum ob_exemplar_drop {
    OB_EXDROP_INVALID = 0, /* trace or span id of the wrong length, no value, bad UTF-8 */
    OB_EXDROP_TYPE,        /* on a gauge, up-down counter or summary: nothing carries it */
    OB_EXDROP_MEMORY,      /* store.exemplar_memory used up */
    OB_EXDROP__COUNT
};

/* "http", "ok", "out_of_bounds"...; "unknown" out of range.  Never NULL. */
const char *ob_frontend_name(enum ob_frontend fe);
const char *ob_outcome_name(enum ob_outcome o);
const char *ob_reason_name(enum ob_reason r);
const char *ob_exemplar_drop_name(enum ob_exemplar_drop d);

#endif
