/* ob_log.h: one-line leveled logger to stderr.
 *
 *   2026-11-25T12:00:00.123Z WARN  http: body over 4 MiB from 127.0.0.1
 *
 * OB_LOG_* test the level before evaluating their arguments.  Per-request
 * failures go through ob_complain(), which backs off exponentially per call
 * site so that one bad client cannot flood the log (collectd's c_complain).
 */
#ifndef OB_LOG_H
#define OB_LOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "ob_common.h"

enum ob_log_level { OB_LOG_ERROR = 0, OB_LOG_WARN = 1, OB_LOG_INFO = 2, OB_LOG_DEBUG = 3 };

extern enum ob_log_level ob_log_level_current;

void ob_log_set_level(enum ob_log_level level);

/* The line format: text (above), or logfmt (key=value, as Prometheus logs):
 *   ts=2026-11-25T12:00:00.123Z level=warn component=http msg="body over 4 MiB" */
enum ob_log_format { OB_LOG_TEXT = 0, OB_LOG_LOGFMT = 1 };
void ob_log_set_format(enum ob_log_format format);
/* "text" or "logfmt" (any case): the format, or -EINVAL; and the other way. */
int ob_log_format_parse(const char *name);
const char *ob_log_format_name(int format);
/* Parses "error", "warn", "info", "debug" (any case): the level, or -EINVAL.
 * What broker.log_level takes. */
int ob_log_level_parse(const char *name);
/* "error" .. "debug", the names ob_log_level_parse() reads; NULL out of range. */
const char *ob_log_level_name(int level);
void ob_log(enum ob_log_level level, const char *component, const char *fmt, ...) OB_PRINTF(3, 4);

#define OB_LOG(level, comp, ...)                                                                   \
    do {                                                                                           \
        if ((level) <= ob_log_level_current)                                                       \
            ob_log((level), (comp), __VA_ARGS__);                                                  \
    } while (0)
#define OB_LOG_ERROR(comp, ...) OB_LOG(OB_LOG_ERROR, comp, __VA_ARGS__)
#define OB_LOG_WARN(comp, ...) OB_LOG(OB_LOG_WARN, comp, __VA_ARGS__)
#define OB_LOG_INFO(comp, ...) OB_LOG(OB_LOG_INFO, comp, __VA_ARGS__)
#define OB_LOG_DEBUG(comp, ...) OB_LOG(OB_LOG_DEBUG, comp, __VA_ARGS__)

/* Rate limiter state for one complaint site; zero-initialise (static). */
struct ob_complaint {
    _Atomic int64_t next_ns;     /* do not log before this time */
    _Atomic int64_t interval_ns; /* current back-off, doubles up to 1 h */
    _Atomic uint64_t suppressed; /* complaints swallowed since the last line */
};

/* Logs at WARN unless the site is backing off; notes how many were swallowed. */
void ob_complain(struct ob_complaint *c, const char *component, const char *fmt, ...)
    OB_PRINTF(3, 4);

#endif
