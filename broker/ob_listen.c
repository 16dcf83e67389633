/* ob_listen.c: see ob_listen.h. */
#include "ob_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ob_error.h"

/* "host:port", "[v6]:port" or ":port" (all IPv4 interfaces). */
static int split_listen(const char *s, char *host, size_t host_cap, char *port, size_t port_cap)
{
    const char *h = s, *hend, *p;
    if (*s == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':')
            return -EINVAL;
        p = hend + 2;
    } else {
        hend = strrchr(s, ':');
        if (!hend || memchr(s, ':', (size_t)(hend - s)))
            return -EINVAL; /* a bare IPv6 address needs brackets */
        p = hend + 1;
    }
    size_t hl = (size_t)(hend - h), pl = strlen(p);
    if (hl >= host_cap || pl == 0 || pl >= port_cap || strspn(p, "0123456789") != pl ||
        strtoul(p, NULL, 10) > 65535)
        return -EINVAL;
    if (hl == 0) {
        if (*s == '[')
            return -EINVAL;
        snprintf(host, host_cap, "0.0.0.0");
    } else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    memcpy(port, p, pl + 1);
    return 0;
}

int ob_listen_tcp(const char *key, const char *listen_s, bool nonblock, int *out_fd,
                  uint16_t *out_port, char *addr_text, size_t addr_cap, char err[OB_ERR_LEN])
{
    char host[256], port[8];
    if (split_listen(listen_s, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, OB_ERR_LEN,
                 "%s: cannot parse '%s': expected host:port or [v6]:port", key, listen_s);
        return OB_E_CONFIG;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int grc = getaddrinfo(host, port, &hints, &ai);
    if (grc != 0) {
        snprintf(err, OB_ERR_LEN, "%s: cannot resolve '%.128s': %s", key, host,
                 gai_strerror(grc));
        return OB_E_CONFIG;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    int rc = 0, one = 1;
    if (fd < 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "%s %s: socket: %s", key, listen_s, strerror(-rc));
        goto fail;
    }
    /* SO_REUSEADDR: a restart must not wait out TIME_WAIT.  V6ONLY: [::]
     * means IPv6, as written. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "%s %s: cannot listen: %s", key, listen_s, strerror(-rc));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char num[INET6_ADDRSTRLEN] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        rc = -errno;
        snprintf(err, OB_ERR_LEN, "%s %s: getsockname: %s", key, listen_s, strerror(-rc));
        goto fail;
    }
    getnameinfo((struct sockaddr *)&ss, sl, num, sizeof num, NULL, 0, NI_NUMERICHOST);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(addr_text, addr_cap, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", num,
             (unsigned)*out_port);
    freeaddrinfo(ai);
    *out_fd = fd;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}
