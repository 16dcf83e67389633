/* ob_notify.h: the service manager's readiness protocol (sd_notify).
 *
 * When the broker runs under systemd with Type=notify, NOTIFY_SOCKET names
 * a datagram socket (a path, or @name in the abstract namespace) that takes
 * newline-separated assignments: READY=1, RELOADING=1 (with MONOTONIC_USEC),
 * STOPPING=1, STATUS=text.  The plain protocol, no libsystemd: one sendto().
 * Without NOTIFY_SOCKET every call is a no-op.
 */
#ifndef OB_NOTIFY_H
#define OB_NOTIFY_H

#include "ob_common.h"

/* Sends the assignments in fmt (printf-style).  0, or -errno (logged by
 * the caller if it cares: a service manager that went away is not fatal). */
int ob_notify(const char *fmt, ...) OB_PRINTF(1, 2);

#endif
