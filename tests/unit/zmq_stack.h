/* zmq_stack.h: the real broker path for the zmq and client suites.
 *
 * A store on a pid-named shm segment, the default translator plugin from
 * $OB_BUILD/plugins, an ingest, and ob_zmq bound to ipc:// endpoints in a
 * mkdtemp directory.  Results are checked on the exposition, as Prometheus
 * would see them, and on the self-metrics.
 */
#ifndef ZMQ_STACK_H
#define ZMQ_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_config.h"
#include "ob_translator_host.h"

struct zmq_stack {
    char dir[64];
    char shm[64];
    char pull[128];  /* endpoints as bound */
    char reply[128];
    struct ob_store *store;
    struct ob_translator_slot host;
    struct ob_config cfg;
    struct ob_ingest *ingest;
    struct ob_zmq *zmq;
};

/* Starts everything (ck_assert on failure).  threads: ob_zmq workers per
 * socket kind; max_body: limits.max_body_bytes (0 = 4 MiB). */
void zmq_stack_start(struct zmq_stack *s, unsigned threads, uint64_t max_body);
void zmq_stack_stop(struct zmq_stack *s);

/* Scrapes until every line of `lines` (NULL-terminated) is in the
 * exposition or timeout_ms passed.  True when all were found; otherwise the
 * exposition is printed to stderr for the failure report. */
bool zmq_stack_wait_lines(struct zmq_stack *s, const char *const *lines, int timeout_ms);
/* Value of one self-metric series, e.g.
 * otlp_broker_requests_total{frontend="zmq",outcome="ok"}; 0 if absent. */
uint64_t zmq_stack_selfmetric(struct zmq_stack *s, const char *series);

/* A packed ExportMetricsServiceRequest (malloc'd) with one resource
 * (service.name = service) and one Sum metric `name` holding one point:
 * attribute key=value, value, time ts_ns; cumulative when `cumulative`,
 * else without a temporality (which the broker refuses point by point). */
void *zmq_stack_counter_payload(const char *service, const char *name, const char *key,
                                const char *value, double v, uint64_t ts_ns, bool cumulative,
                                size_t *out_len);

/* Receives a whole message on sock; returns the frame count (<= max) and
 * fills frames[i]/lens[i] (malloc'd copies, NUL-terminated). */
int zmq_stack_recv(void *sock, char **frames, size_t *lens, int max);

#endif
