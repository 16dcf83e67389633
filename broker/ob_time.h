/* ob_time.h: the broker's clocks, in one place.
 *
 * Wall time (CLOCK_REALTIME) is what samples, expiry and the store's creation
 * are stamped with, because Prometheus and OTLP speak it.  Monotonic time
 * (CLOCK_MONOTONIC) measures intervals: complaint back-off, scrape durations,
 * ZeroMQ sequence ages.  The coarse wall clock is for the store's append
 * path, which reads the time once per sample.
 *
 * Header-only: each clock is one clock_gettime(), a vDSO read, inlined.
 */
#ifndef OB_TIME_H
#define OB_TIME_H

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME in nanoseconds. */
static inline int64_t ob_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t ob_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall time in milliseconds, from CLOCK_REALTIME_COARSE where there is one
 * (no syscall, ~4 ms resolution). */
static inline int64_t ob_wall_ms_coarse(void)
{
    struct timespec ts;
#ifdef CLOCK_REALTIME_COARSE
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
