/* ob_status.h: what the broker has seen, for people (GET / and /status)
 * and tools (/api/v1/status, /api/v1/names).
 *
 * The name map answers "where did my metric go?": every OTLP metric seen,
 * per listener, with its unit, type, temporality and the resource's
 * service.name, next to the Prometheus family it became, its series count
 * (from the store), when it was last sent and why points of it were last
 * refused.  The rejection log keeps the last OB_STATUS_REJECTIONS refusals:
 * data points refused for a reason, and whole requests refused.
 *
 * Bounded (OB_STATUS_NAMES entries; when a part of the map is full the entry
 * sent least recently there goes), thread-safe (16 independently locked
 * parts), updated by ingest once per metric of a request, not per point.
 */
#ifndef OB_STATUS_H
#define OB_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "ob_buf.h"
#include "ob_frontend.h"

struct ob_store;

#define OB_STATUS_NAMES 16384
#define OB_STATUS_REJECTIONS 100

/* One OTLP metric of one request, as ingest saw it. */
struct ob_status_metric {
    enum ob_frontend fe;
    const char *name; /* OTLP name, unit, service.name: lengths given */
    size_t name_len;
    const char *unit;
    size_t unit_len;
    const char *service;
    size_t service_len;
    const char *type;        /* "gauge", "sum", "histogram", "exponential_histogram", "summary" */
    const char *temporality; /* "cumulative", "delta" or "" */
    const char *family;      /* the Prometheus family ("" when refused before naming) */
    uint64_t points, rejected;
    int reason; /* enum ob_reason of its last rejected point, -1: none */
};
void ob_status_seen(const struct ob_status_metric *m, int64_t now_ms);

/* A refusal for the rejection log: `what` is a reason or an outcome name,
 * metric the first metric concerned ("" for a whole request), peer who sent
 * it, detail a message (may be ""). */
void ob_status_refused(enum ob_frontend fe, const char *what, const char *metric,
                       const char *peer, uint64_t points, const char *detail, int64_t now_ms);

/* What the page shows besides the maps: the listeners as configured, and
 * the remote-write targets. */
struct ob_remote_write;
struct ob_status_listeners {
    const char *address[OB_FE__COUNT]; /* "" = that listener is off */
    const struct ob_remote_write *remote_write; /* NULL = none */
};

/* Rows of the name map the page shows (the JSON has them all): those with
 * rejections first, newest first, then the ones sent last; a search narrows
 * them.  Enough to find a metric, few enough for a browser to render at once. */
#define OB_STATUS_PAGE_ROWS 100

/* The page (HTML, no external assets), /api/v1/status and /api/v1/names
 * (JSON) into out.  s may be NULL (no store yet).  query: the page's search
 * (metrics whose OTLP name or family contains it; NULL or "" = all).  0 or
 * -ENOMEM. */
int ob_status_html(struct ob_store *s, const struct ob_status_listeners *l, int64_t now_ms,
                   const char *query, struct ob_buf *out);
int ob_status_json(struct ob_store *s, const struct ob_status_listeners *l, struct ob_buf *out);
int ob_status_names_json(struct ob_store *s, struct ob_buf *out);

/* Forgets everything (tests). */
void ob_status_reset(void);

#endif
