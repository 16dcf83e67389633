/* ob_http.h: the HTTP frontend (libmicrohttpd: one acceptor thread deals
 * connections to one single-threaded epoll daemon per worker).
 *
 *   POST /v1/metrics, POST /api/v1/otlp/v1/metrics   OTLP/HTTP (protobuf or JSON; gzip)
 *   GET  /metrics                                     Prometheus text 0.0.4, or 1.0.0 with
 *                                                     UTF-8 names when the scraper asks
 *                                                     (gzip if asked)
 *   GET  /-/healthy, GET /-/ready, POST /-/reload
 */
#ifndef OB_HTTP_H
#define OB_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "ob_common.h"

struct ob_http;
struct ob_ingest;
struct ob_store;
struct ob_config;
struct ob_remote_write;

struct ob_http_deps {
    struct ob_ingest *ingest;
    struct ob_store *store;
    const struct ob_config *cfg;
    const struct ob_remote_write *remote_write; /* its self-metrics; NULL = none */
    _Atomic bool *ready; /* /-/ready answers 200 once true */
    /* POST /-/reload: returns 0 (200) or an error (500), with a message
     * for the answer in msg.  NULL: 503. */
    int (*reload)(void *ctx, char *msg, size_t cap);
    void *reload_ctx;
};

/* Binds cfg->http_listen and starts serving.  Returns 0 or -errno / OB_E_CONFIG
 * with err naming the address. */
int ob_http_start(const struct ob_http_deps *deps, struct ob_http **out, char err[OB_ERR_LEN]);
/* The bound port (useful with port 0). */
uint16_t ob_http_port(const struct ob_http *h);
/* Stops accepting, finishes requests in flight, frees.  NULL ok. */
void ob_http_stop(struct ob_http *h);

#endif
