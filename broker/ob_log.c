/* ob_log.c: leveled one-line logger and the complaint rate limiter. */
#include "ob_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "ob_time.h"

enum ob_log_level ob_log_level_current = OB_LOG_INFO;
static enum ob_log_format log_format = OB_LOG_TEXT;

static const char *const format_names[] = {"text", "logfmt"};

void ob_log_set_format(enum ob_log_format format)
{
    log_format = format;
}

int ob_log_format_parse(const char *name)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(format_names); i++)
        if (strcasecmp(name, format_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

const char *ob_log_format_name(int format)
{
    return format >= 0 && (size_t)format < OB_ARRAY_LEN(format_names) ? format_names[format] : NULL;
}

/* Indexed by enum ob_log_level: as configured, and as a log line shows it. */
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void ob_log_set_level(enum ob_log_level level)
{
    ob_log_level_current = level;
}

int ob_log_level_parse(const char *name)
{
    for (size_t i = 0; i < OB_ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

const char *ob_log_level_name(int level)
{
    return level >= 0 && (size_t)level < OB_ARRAY_LEN(level_names) ? level_names[level] : NULL;
}

/* Advances off by what (v)snprintf reported, clamped to the buffer. */
static size_t append_capped(size_t cap, size_t off, int wrote)
{
    if (wrote <= 0)
        return off;
    return off + (size_t)wrote < cap ? off + (size_t)wrote : cap - 1;
}

static void vlog(enum ob_log_level level, const char *component, const char *suffix,
                 const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    char msg[900];
    size_t mlen = append_capped(sizeof msg, 0, vsnprintf(msg, sizeof msg, fmt, ap));
    if (suffix)
        mlen = append_capped(sizeof msg, mlen, snprintf(msg + mlen, sizeof msg - mlen, "%s", suffix));
    size_t off;
    if (log_format == OB_LOG_LOGFMT) {
        int n = snprintf(line, sizeof line, "ts=%s level=%s component=%s msg=\"", stamp,
                         level_names[level], component);
        off = n > 0 && (size_t)n < sizeof line ? (size_t)n : 0;
        /* logfmt quoting: backslash and quote escaped (newlines fold below) */
        for (size_t i = 0; i < mlen && off + 3 < sizeof line; i++) {
            if (msg[i] == '"' || msg[i] == '\\')
                line[off++] = '\\';
            line[off++] = msg[i];
        }
        line[off++] = '"';
    } else {
        int n = snprintf(line, sizeof line, "%s %-5s %s: %s", stamp, level_tags[level], component,
                         msg);
        off = append_capped(sizeof line, 0, n);
    }
    /* One event is one line: fold any newline in the message. */
    for (size_t i = 0; i < off; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    if (off > sizeof line - 2)
        off = sizeof line - 2;
    line[off++] = '\n';
    fwrite(line, 1, off, stderr);
}

void ob_log(enum ob_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, NULL, fmt, ap);
    va_end(ap);
}

void ob_complain(struct ob_complaint *c, const char *component, const char *fmt, ...)
{
    const int64_t min_ns = 1000000000LL, max_ns = 3600LL * 1000000000LL;
    int64_t now = ob_mono_ns();
    int64_t next = atomic_load_explicit(&c->next_ns, memory_order_relaxed);
    if (now < next || OB_LOG_WARN > ob_log_level_current) {
        atomic_fetch_add_explicit(&c->suppressed, 1, memory_order_relaxed);
        return;
    }
    int64_t interval = atomic_load_explicit(&c->interval_ns, memory_order_relaxed);
    interval = interval ? (interval * 2 > max_ns ? max_ns : interval * 2) : min_ns;
    /* Only one thread wins the right to log this period. */
    if (!atomic_compare_exchange_strong(&c->next_ns, &next, now + interval)) {
        atomic_fetch_add_explicit(&c->suppressed, 1, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&c->interval_ns, interval, memory_order_relaxed);
    uint64_t swallowed = atomic_exchange(&c->suppressed, 0);
    char suffix[64] = "";
    if (swallowed)
        snprintf(suffix, sizeof suffix, " (%llu similar suppressed)",
                 (unsigned long long)swallowed);
    va_list ap;
    va_start(ap, fmt);
    vlog(OB_LOG_WARN, component, suffix, fmt, ap);
    va_end(ap);
}
