/* ob_accept.h: which exposition format a scraper gets (HTTP Accept).
 *
 * The negotiation of Prometheus' client libraries (client_golang's expfmt,
 * NegotiateIncludingOpenMetrics): the Accept header's clauses are sorted by
 * q (highest first; among equals, a concrete type before a wildcard one), and
 * the first clause that names a format this broker writes wins:
 *
 *   application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 *       encoding=delimited                       protobuf (when offered)
 *   text/plain, version 0.0.4 or none            text 0.0.4
 *   application/openmetrics-text, version 1.0.0  OpenMetrics 1.0.0
 *   application/openmetrics-text, version 0.0.1 or none   OpenMetrics 0.0.1
 *
 * Anything else (no header, a wildcard such as curl's, other versions): text
 * 0.0.4, so that curl and browsers see text.  (Newer client_golang versions
 * answer a wildcard with their first format; a person with curl expects
 * text.)  The escaping of names (escaping=allow-utf-8 in any
 * clause read before the match, as client_golang does) says whether UTF-8
 * metric and label names may be written quoted; otherwise they are escaped
 * with underscores.
 */
#ifndef OB_ACCEPT_H
#define OB_ACCEPT_H

#include <stdbool.h>

enum ob_expo_format {
    OB_EXPO_TEXT = 0,        /* Prometheus text 0.0.4 (1.0.0 with UTF-8 names) */
    OB_EXPO_OPENMETRICS_1,   /* application/openmetrics-text; version=1.0.0 */
    OB_EXPO_OPENMETRICS_0,   /* application/openmetrics-text; version=0.0.1 */
    OB_EXPO_PROTOBUF,        /* delimited io.prometheus.client.MetricFamily */
};

enum ob_expo_escaping {
    OB_ESC_NONE_ASKED = 0, /* no escaping parameter: underscores, not named */
    OB_ESC_UNDERSCORES,    /* asked for one we write as underscores (underscores,
                              dots, values: only underscores is implemented) */
    OB_ESC_ALLOW_UTF8,     /* allow-utf-8: names written as they are, quoted */
};

struct ob_expo_choice {
    enum ob_expo_format format;
    enum ob_expo_escaping escaping;
};

/* Chooses for an Accept header value (NULL: none).  protobuf: whether the
 * protobuf format may be chosen. */
struct ob_expo_choice ob_accept_negotiate(const char *accept, bool protobuf);

/* The Content-Type of an answer in that format and escaping, naming both. */
const char *ob_expo_content_type(struct ob_expo_choice c);

#endif
