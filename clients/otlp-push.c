/* otlp-push: send one metric, or a ready OTLP payload, to otlp-broker.
 *
 *   otlp-push [options] counter|updown|gauge|histogram NAME VALUE [KEY=VALUE...]
 *   otlp-push [options] --file PAYLOAD [--gzip]
 *
 * One metric is built with the client library (one instrument, one record,
 * cumulative, start time = now) and sent as one ExportMetricsServiceRequest;
 * a file is sent byte for byte.  Transports, by the endpoint's scheme:
 *
 *   tcp://, ipc://   ZeroMQ through the client library: a PUSH socket
 *                    (fire-and-forget), or with --wait a DEALER on the
 *                    broker's reply socket, which answers.
 *   http://          a blocking HTTP/1.1 POST of our own on one socket
 *                    (Connection: close), which always waits for the answer.
 *
 * The PUSH socket is opened with ZMQ_IMMEDIATE, so "sent" means the message
 * went to a live connection: with nobody at the endpoint the send fails after
 * --timeout instead of sitting in a queue until the process exits.
 *
 * Exit codes: 0 accepted (every point), 1 the broker answered and did not
 * take everything (partial_success with rejected points, or the request
 * refused as malformed/too large/unsupported), 2 usage, 3 transport or
 * protocol (cannot connect, no answer in time, an answer that is not OTLP,
 * the broker unavailable).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "otlpbroker/client.h"

#define EXIT_ACCEPTED 0
#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_TRANSPORT 3

#define DEFAULT_PULL "tcp://127.0.0.1:4319"
#define DEFAULT_REPLY "tcp://127.0.0.1:4320"
#define MAX_ATTRS 64
#define MAX_BOUNDS 256
#define MAX_FILE (64u << 20)      /* payload files; the broker's limit is lower */
#define MAX_RESPONSE (1u << 20)   /* HTTP answers are a few hundred bytes */

struct opts {
    const char *endpoint;
    bool wait;
    int64_t timeout_ms;
    const char *unit;
    const char *description;
    const char *service;
    struct obc_attr resource[MAX_ATTRS];
    size_t n_resource;
    const char *file;
    bool gzip;
    double bounds[MAX_BOUNDS];
    size_t n_bounds;
    bool have_bounds;
    /* one metric */
    const char *kind;
    const char *name;
    double value;
    struct obc_attr attrs[MAX_ATTRS];
    size_t n_attrs;
};

/* What came back, in either transport. */
struct answer {
    bool answered;
    int64_t rejected;
    char message[512];
    int http_status; /* 0 for ZeroMQ */
    bool refused;    /* the whole request was refused (error frame, HTTP 4xx) */
    bool unavailable; /* refused as unavailable (HTTP 5xx, "unavailable:") */
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: otlp-push [options] counter|updown|gauge|histogram NAME VALUE [KEY=VALUE...]\n"
        "       otlp-push [options] --file PAYLOAD [--gzip]\n"
        "\n"
        "Sends one metric data point, or an OTLP ExportMetricsServiceRequest file\n"
        "(protobuf) as it is, to otlp-broker over ZeroMQ or HTTP.\n"
        "\n"
        "  counter    monotonic sum; VALUE >= 0       (Prometheus: NAME_total)\n"
        "  updown     non-monotonic sum (UpDownCounter)\n"
        "  gauge      last value\n"
        "  histogram  one observation into explicit buckets (see --bounds)\n"
        "  KEY=VALUE  data point attributes (strings), e.g. operation=add\n"
        "\n"
        "options:\n"
        "  -e, --endpoint URL   where to send (default " DEFAULT_PULL ",\n"
        "                       or " DEFAULT_REPLY " with --wait):\n"
        "                         tcp://HOST:PORT, ipc://PATH   ZeroMQ: the broker's zmq.pull\n"
        "                                                       socket, or zmq.reply with --wait\n"
        "                         http://HOST[:PORT][/PATH]     OTLP/HTTP; PATH defaults to\n"
        "                                                       /v1/metrics, PORT to 80\n"
        "  -w, --wait           ZeroMQ: send over the reply socket (DEALER) and wait for\n"
        "                       the answer.  Implied for http://.\n"
        "  -t, --timeout MS     send/answer timeout in ms (default 5000)\n"
        "  -u, --unit UNIT      metric unit, e.g. ms, By, 1\n"
        "  -d, --description TEXT\n"
        "  -s, --service NAME   resource service.name (default otlp-push): becomes job=\"NAME\"\n"
        "  -r, --resource K=V   further resource attribute (repeatable)\n"
        "  -b, --bounds LIST    histogram bucket bounds, ascending, comma-separated\n"
        "                       (default 0,5,10,25,50,75,100,250,500,750,1000,2500,5000,7500,10000)\n"
        "  -f, --file PAYLOAD   send this file as it is instead of building a metric\n"
        "  -z, --gzip           the file is gzip-compressed: sent with the gzip encoding\n"
        "                       (ZeroMQ encoding frame, HTTP Content-Encoding)\n"
        "  -h, --help           this text\n"
        "  -V, --version\n"
        "\n"
        "With an answer (--wait, http://) it prints one line:\n"
        "  accepted                        every data point was stored\n"
        "  partial_success: rejected_data_points=N error_message=\"...\"\n"
        "  refused: REASON: MESSAGE        nothing was stored (malformed, too large, ...)\n"
        "Without --wait over ZeroMQ it prints \"sent\" once the message left.\n"
        "\n"
        "exit status: 0 accepted (or sent), 1 some or all points rejected by the broker,\n"
        "             2 usage error, 3 transport or protocol error (cannot connect, no\n"
        "             answer within --timeout, broker unavailable, an answer that is not OTLP)\n"
        "\n"
        "examples:\n"
        "  otlp-push counter calc_operation 1 operation=add\n"
        "  otlp-push --wait --service calculator --unit ms histogram http.server.duration 42 \\\n"
        "      http.route=/add\n"
        "  otlp-push --endpoint http://127.0.0.1:4318 gauge room.temperature 21.5 room=lab\n"
        "  otlp-push --endpoint ipc:///run/otlp-broker/reply --wait --file body.bin.gz --gzip\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "otlp-push: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see otlp-push --help)\n");
    return -EINVAL;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

/* "k=v" into a string attribute pointing into s (argv outlives the run). */
static int parse_kv(char *s, struct obc_attr *out)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return -EINVAL;
    *eq = '\0';
    *out = OBC_STR(s, eq + 1);
    return 0;
}

static int parse_bounds(char *s, struct opts *o)
{
    o->n_bounds = 0;
    for (char *tok = s, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (o->n_bounds == MAX_BOUNDS || parse_double(tok, &o->bounds[o->n_bounds]) != 0)
            return -EINVAL;
        if (o->n_bounds && !(o->bounds[o->n_bounds] > o->bounds[o->n_bounds - 1]))
            return -EINVAL;
        o->n_bounds++;
    }
    o->have_bounds = true;
    return 0;
}

/* A negative number is a value, not an option. */
static bool is_option(const char *a)
{
    return a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.timeout_ms = 5000, .service = "otlp-push"};
    char *pos[3 + MAX_ATTRS];
    size_t n_pos = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (options_done || !is_option(a)) {
            if (n_pos == sizeof pos / sizeof pos[0])
                return usage_error("too many arguments at %s", a);
            pos[n_pos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(EXIT_ACCEPTED);
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("otlp-push %s\n", OBC_VERSION);
            exit(EXIT_ACCEPTED);
        }
        if (!strcmp(a, "-w") || !strcmp(a, "--wait")) {
            o->wait = true;
            continue;
        }
        if (!strcmp(a, "-z") || !strcmp(a, "--gzip")) {
            o->gzip = true;
            continue;
        }
        /* Everything else takes a value: "--opt VALUE" or "--opt=VALUE". */
        char *v = strchr(a, '=');
        if (v && a[1] == '-')
            *v++ = '\0';
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return usage_error("%s needs a value", a);
        if (!strcmp(a, "-e") || !strcmp(a, "--endpoint")) {
            o->endpoint = v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--timeout")) {
            char *end;
            errno = 0;
            long long ms = strtoll(v, &end, 10);
            if (errno || end == v || *end || ms <= 0 || ms > INT32_MAX)
                return usage_error("bad --timeout %s (ms, > 0)", v);
            o->timeout_ms = ms;
        } else if (!strcmp(a, "-u") || !strcmp(a, "--unit")) {
            o->unit = v;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--description")) {
            o->description = v;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--service")) {
            o->service = v;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--resource")) {
            if (o->n_resource == MAX_ATTRS - 1 || parse_kv(v, &o->resource[o->n_resource]) != 0)
                return usage_error("bad --resource %s (KEY=VALUE)", v);
            o->n_resource++;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--bounds")) {
            if (parse_bounds(v, o) != 0)
                return usage_error("bad --bounds %s (ascending finite numbers, comma-separated)",
                                   v);
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            o->file = v;
        } else {
            return usage_error("unknown option %s", a);
        }
    }

    if (o->file) {
        if (n_pos)
            return usage_error("--file takes no metric arguments (got %s)", pos[0]);
        return 0;
    }
    if (o->gzip)
        return usage_error("%s only goes with --file", "--gzip");
    if (n_pos < 3)
        return usage_error("%s", n_pos ? "expected KIND NAME VALUE [KEY=VALUE...]"
                                       : "nothing to send: give KIND NAME VALUE or --file");
    o->kind = pos[0];
    o->name = pos[1];
    if (strcmp(o->kind, "counter") && strcmp(o->kind, "updown") && strcmp(o->kind, "gauge") &&
        strcmp(o->kind, "histogram"))
        return usage_error("unknown kind %s (counter, updown, gauge, histogram)", o->kind);
    if (!o->name[0])
        return usage_error("%sempty metric name", "");
    if (parse_double(pos[2], &o->value) != 0)
        return usage_error("bad VALUE %s (a finite number)", pos[2]);
    if (!strcmp(o->kind, "counter") && o->value < 0)
        return usage_error("a counter only goes up: VALUE %s < 0", pos[2]);
    if (o->have_bounds && strcmp(o->kind, "histogram"))
        return usage_error("%s only goes with histogram", "--bounds");
    for (size_t i = 3; i < n_pos; i++)
        if (parse_kv(pos[i], &o->attrs[o->n_attrs++]) != 0)
            return usage_error("bad attribute %s (KEY=VALUE)", pos[i]);
    return 0;
}

/* ---- payload ------------------------------------------------------------------ */

static int read_file(const char *path, void **out_buf, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (len == cap) {
            if (cap >= MAX_FILE) {
                rc = -EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
    }
    fclose(f);
    if (!buf)
        return -ENOMEM;
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out_buf = buf;
    *out_len = len;
    return 0;
}

/* Records the metric of the command line into c. */
static int record(struct obc_client *c, const struct opts *o)
{
    struct obc_instrument *in;
    int rc;
    if (!strcmp(o->kind, "counter"))
        rc = obc_counter(c, o->name, o->unit, o->description, &in);
    else if (!strcmp(o->kind, "updown"))
        rc = obc_updown_counter(c, o->name, o->unit, o->description, &in);
    else if (!strcmp(o->kind, "gauge"))
        rc = obc_gauge(c, o->name, o->unit, o->description, &in);
    else
        rc = obc_histogram(c, o->name, o->unit, o->description,
                           o->have_bounds ? o->bounds : NULL, o->n_bounds, &in);
    if (rc != 0)
        return rc;
    if (!strcmp(o->kind, "counter") || !strcmp(o->kind, "updown"))
        return obc_add(in, o->value, o->attrs, o->n_attrs);
    return obc_record(in, o->value, o->attrs, o->n_attrs);
}

/* ---- HTTP --------------------------------------------------------------------- */

struct url {
    char host[256];
    char port[8];
    char path[1024];
};

/* http://HOST[:PORT][/PATH] with HOST a name, an IPv4 literal or [IPv6]. */
static int parse_url(const char *s, struct url *u)
{
    if (strncmp(s, "http://", 7) != 0)
        return -EINVAL;
    s += 7;
    const char *host = s, *host_end;
    if (*s == '[') {
        host = s + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return -EINVAL;
        s = host_end + 1;
    } else {
        s += strcspn(s, ":/");
        host_end = s;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof u->host)
        return -EINVAL;
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    snprintf(u->port, sizeof u->port, "80");
    if (*s == ':') {
        s++;
        size_t pl = strspn(s, "0123456789");
        if (pl == 0 || pl > 5 || atoi(s) > 65535 || atoi(s) == 0)
            return -EINVAL;
        memcpy(u->port, s, pl);
        u->port[pl] = '\0';
        s += pl;
    }
    if (*s && *s != '/')
        return -EINVAL;
    if (!*s || !strcmp(s, "/"))
        s = "/v1/metrics";
    if (strlen(s) >= sizeof u->path || strpbrk(s, " \r\n"))
        return -EINVAL;
    snprintf(u->path, sizeof u->path, "%s", s);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passed. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n > 0)
            return 0;
    }
}

/* Connects to the first address of host:port that answers. */
static int http_connect(const struct url *u, int64_t deadline, char *err, size_t err_cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0) {
        snprintf(err, err_cap, "cannot resolve %s: %s", u->host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        /* Non-blocking, so --timeout bounds the connect and every read and
         * write after it. */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            rc = -errno;
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        rc = -errno;
        if (rc == -EINPROGRESS && (rc = wait_fd(fd, POLLOUT, deadline)) == 0) {
            int so = 0;
            socklen_t sl = sizeof so;
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 ? -errno : -so;
            if (rc == 0) {
                freeaddrinfo(res);
                return fd;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(err, err_cap, "cannot connect to %s:%s: %s", u->host, u->port, strerror(-rc));
    return rc;
}

static int send_all(int fd, const void *p, size_t n, int64_t deadline)
{
    const char *c = p;
    while (n > 0) {
        int rc = wait_fd(fd, POLLOUT, deadline);
        if (rc != 0)
            return rc;
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return -errno;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; returns its length or -EPROTO. */
static long dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        const char *nl = memchr(b + in, '\n', n - in);
        if (!nl)
            return -EPROTO;
        unsigned long sz = strtoul(b + in, &end, 16);
        if (end == b + in)
            return -EPROTO;
        in = (size_t)(nl - b) + 1;
        if (sz == 0)
            return (long)out;
        if (sz > n - in)
            return -EPROTO;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz;
        if (in + 2 <= n && b[in] == '\r')
            in += 2;
        else if (in + 1 <= n && b[in] == '\n')
            in += 1;
        else
            return -EPROTO;
    }
}

/* Fills ans from an ExportMetricsServiceResponse body; -EPROTO when it is not one. */
static int decode_response(const void *body, size_t len, struct answer *ans)
{
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, len, body);
    if (!r)
        return -EPROTO;
    ans->answered = true;
    if (r->partial_success) {
        ans->rejected = r->partial_success->rejected_data_points;
        if (r->partial_success->error_message)
            snprintf(ans->message, sizeof ans->message, "%s", r->partial_success->error_message);
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
        r, NULL);
    return 0;
}

/* POSTs body and reads the whole answer (the server closes after it). */
static int http_post(const struct url *u, const void *body, size_t len, bool gzip,
                     int64_t timeout_ms, struct answer *ans, char *err, size_t err_cap)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = http_connect(u, deadline, err, err_cap);
    if (fd < 0)
        return fd;
    char hdr[1536];
    bool v6 = strchr(u->host, ':') != NULL;
    int hl = snprintf(hdr, sizeof hdr,
                      "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: otlp-push/%s\r\n"
                      "Content-Type: application/x-protobuf\r\n%sContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, OBC_VERSION,
                      gzip ? "Content-Encoding: gzip\r\n" : "", len);
    char *resp = NULL;
    size_t rlen = 0;
    int rc = send_all(fd, hdr, (size_t)hl, deadline);
    if (rc == 0)
        rc = send_all(fd, body, len, deadline);
    if (rc != 0) {
        snprintf(err, err_cap, "sending to %s:%s: %s", u->host, u->port, strerror(-rc));
        goto done;
    }
    resp = malloc(MAX_RESPONSE + 1);
    if (!resp) {
        rc = -ENOMEM;
        snprintf(err, err_cap, "out of memory");
        goto done;
    }
    for (;;) {
        if ((rc = wait_fd(fd, POLLIN, deadline)) != 0) {
            snprintf(err, err_cap, "no answer from %s:%s within %lld ms", u->host, u->port,
                     (long long)timeout_ms);
            goto done;
        }
        ssize_t r = recv(fd, resp + rlen, MAX_RESPONSE - rlen, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, err_cap, "reading the answer: %s", strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        rlen += (size_t)r;
        if (rlen == MAX_RESPONSE) {
            rc = -EPROTO;
            snprintf(err, err_cap, "answer over %u bytes", MAX_RESPONSE);
            goto done;
        }
    }
    resp[rlen] = '\0';

    /* Status line, headers, body. */
    rc = -EPROTO;
    snprintf(err, err_cap, "not an HTTP answer from %s:%s", u->host, u->port);
    char *hend = strstr(resp, "\r\n\r\n");
    if (rlen < 12 || strncmp(resp, "HTTP/1.", 7) != 0 || !hend)
        goto done;
    int status = atoi(resp + 9);
    if (status < 100 || status > 599)
        goto done;
    char *b = hend + 4;
    size_t blen = rlen - (size_t)(b - resp);
    long long clen = -1;
    bool chunked = false, gz_answer = false;
    *hend = '\0';
    for (char *line = strstr(resp, "\r\n"); line && line < hend; line = strstr(line, "\r\n")) {
        line += 2;
        if (!strncasecmp(line, "content-length:", 15))
            clen = atoll(line + 15);
        else if (!strncasecmp(line, "transfer-encoding:", 18))
            chunked = strstr(line, "chunked") != NULL;
        else if (!strncasecmp(line, "content-encoding:", 17))
            gz_answer = strstr(line, "gzip") != NULL;
    }
    if (chunked) {
        long n = dechunk(b, blen);
        if (n < 0)
            goto done;
        blen = (size_t)n;
    } else if (clen >= 0) {
        if ((size_t)clen > blen)
            goto done; /* cut short */
        blen = (size_t)clen;
    }
    if (gz_answer)
        goto done; /* we sent no Accept-Encoding */
    b[blen] = '\0';
    ans->http_status = status;
    if (status == 200) {
        if (decode_response(b, blen, ans) != 0) {
            snprintf(err, err_cap, "HTTP 200 whose body is not an ExportMetricsServiceResponse");
            goto done;
        }
    } else {
        /* The broker's error bodies are one line of text (or JSON). */
        ans->answered = true;
        /* 429 and 5xx ask to retry later: unavailable, not refused. */
        ans->refused = status >= 400 && status < 500 && status != 429;
        ans->unavailable = !ans->refused;
        while (blen && (b[blen - 1] == '\n' || b[blen - 1] == '\r'))
            b[--blen] = '\0';
        snprintf(ans->message, sizeof ans->message, "HTTP %d%s%.*s", status, blen ? ": " : "",
                 (int)(blen > 400 ? 400 : blen), b);
    }
    rc = 0;
done:
    free(resp);
    close(fd);
    return rc;
}

/* ---- ZeroMQ ------------------------------------------------------------------- */

/* Sends body (NULL: the command line's metric).  *out_usage is set when the
 * metric itself was refused by the library (a usage error, not transport). */
static int zmq_transport(const struct opts *o, const void *body, size_t len, bool *out_usage,
                         struct answer *ans, char *err, size_t err_cap)
{
    struct obc_options co = OBC_OPTIONS_INIT;
    co.endpoint = o->endpoint;
    co.mode = o->wait ? OBC_REPLY : OBC_PUSH;
    co.timeout_ms = o->timeout_ms;
    co.service_name = o->service;
    co.resource = o->resource;
    co.n_resource = o->n_resource;
    co.scope_name = "otlp-push";
    co.immediate = true;
    struct obc_client *c;
    int rc = obc_open(&co, &c);
    if (rc != 0) {
        snprintf(err, err_cap, "cannot open %s: %s", o->endpoint, obc_strerror(rc));
        return rc;
    }
    /* A metric is sent by obc_close's final flush (an explicit flush
     * first would send it twice: cumulative series go out on every flush);
     * closing a PUSH socket waits (linger = timeout) until the message left. */
    struct obc_result res = {0};
    if (body) {
        rc = obc_send(c, body, len, o->gzip ? "gzip" : NULL, &res);
        obc_close(c, NULL);
    } else if ((rc = record(c, o)) != 0) {
        snprintf(err, err_cap, "%s: %s", o->name, obc_strerror(rc));
        obc_close(c, NULL);
        *out_usage = true;
        return rc;
    } else {
        rc = obc_close(c, &res);
    }
    ans->answered = res.answered;
    ans->rejected = res.rejected;
    snprintf(ans->message, sizeof ans->message, "%s", res.message);
    if (rc == OBC_E_REFUSED) {
        ans->refused = strncmp(res.message, "unavailable:", 12) != 0;
        ans->unavailable = !ans->refused;
        return 0;
    }
    if (rc == -EAGAIN)
        snprintf(err, err_cap, "no broker took the message at %s within %lld ms", o->endpoint,
                 (long long)o->timeout_ms);
    else if (rc == -ETIMEDOUT)
        snprintf(err, err_cap, "no answer from %s within %lld ms%s", o->endpoint,
                 (long long)o->timeout_ms,
                 o->wait ? " (is it the broker's reply endpoint?)" : "");
    else if (rc != 0)
        snprintf(err, err_cap, "%s: %s", o->endpoint, obc_strerror(rc));
    return rc;
}

/* ---- main ----------------------------------------------------------------------- */

static int report(const struct answer *ans)
{
    if (ans->refused || ans->unavailable) {
        printf("refused: %s\n", ans->message);
        return ans->refused ? EXIT_REJECTED : EXIT_TRANSPORT;
    }
    if (ans->rejected) {
        printf("partial_success: rejected_data_points=%lld error_message=\"%s\"\n",
               (long long)ans->rejected, ans->message);
        return EXIT_REJECTED;
    }
    if (ans->message[0]) /* a warning with nothing rejected */
        printf("accepted: %s\n", ans->message);
    else
        printf("accepted\n");
    return EXIT_ACCEPTED;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return EXIT_USAGE;
    bool http = o.endpoint && !strncmp(o.endpoint, "http://", 7);
    struct url u;
    if (!o.endpoint) {
        o.endpoint = o.wait ? DEFAULT_REPLY : DEFAULT_PULL;
    } else if (http) {
        if (parse_url(o.endpoint, &u) != 0) {
            usage_error("bad endpoint %s (http://HOST[:PORT][/PATH])", o.endpoint);
            return EXIT_USAGE;
        }
    } else if (strncmp(o.endpoint, "tcp://", 6) && strncmp(o.endpoint, "ipc://", 6)) {
        usage_error("bad endpoint %s (tcp://, ipc:// or http://)", o.endpoint);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);

    void *body = NULL;
    size_t len = 0;
    if (o.file) {
        int rc = read_file(o.file, &body, &len);
        if (rc != 0) {
            fprintf(stderr, "otlp-push: %s: %s\n", o.file, strerror(-rc));
            return EXIT_USAGE;
        }
    }

    struct answer ans = {0};
    char err[512] = "";
    bool usage_err = false;
    int rc;
    if (http) {
        if (!body) {
            /* Build the request with the library, without a socket. */
            struct obc_options co = OBC_OPTIONS_INIT;
            co.service_name = o.service;
            co.resource = o.resource;
            co.n_resource = o.n_resource;
            co.scope_name = "otlp-push";
            struct obc_client *c = NULL;
            rc = obc_open(&co, &c);
            if (rc == 0 && (rc = record(c, &o)) == 0)
                rc = obc_encode(c, &body, &len);
            if (c)
                obc_close(c, NULL);
            if (rc != 0) {
                fprintf(stderr, "otlp-push: %s: %s\n", o.name, obc_strerror(rc));
                return EXIT_USAGE;
            }
        }
        rc = http_post(&u, body, len, o.gzip, o.timeout_ms, &ans, err, sizeof err);
    } else {
        rc = zmq_transport(&o, o.file ? body : NULL, len, &usage_err, &ans, err, sizeof err);
    }
    free(body);
    if (usage_err) {
        fprintf(stderr, "otlp-push: %s\n", err);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "otlp-push: %s\n", err[0] ? err : strerror(-rc));
        return EXIT_TRANSPORT;
    }
    if (!http && !o.wait) {
        printf("sent\n");
        return EXIT_ACCEPTED;
    }
    return report(&ans);
}
