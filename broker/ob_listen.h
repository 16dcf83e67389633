/* ob_listen.h: a listening TCP socket from a `host:port` setting, for every
 * frontend that owns one (HTTP hands it to libmicrohttpd, gRPC to its epoll
 * loops), so that a bind error comes back with its errno and a port 0 gets
 * its real port. */
#ifndef OB_LISTEN_H
#define OB_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ob_common.h"

/* Binds and listens on `listen_s` ("host:port", "[v6]:port" or ":port" for
 * all IPv4 interfaces): SO_REUSEADDR, IPV6_V6ONLY for an IPv6 address,
 * close-on-exec, non-blocking when asked.  key names the setting in err
 * (e.g. "http.listen").  *out_fd, *out_port and the bound address as text
 * in addr.  0, OB_E_CONFIG for an address that does not parse or resolve,
 * or -errno. */
int ob_listen_tcp(const char *key, const char *listen_s, bool nonblock, int *out_fd,
                  uint16_t *out_port, char *addr, size_t addr_cap, char err[OB_ERR_LEN]);

#endif
