/* example.c: the guide's calculator metrics pushed with libotlpbroker-client.
 *
 *   build/clients/example [endpoint] [--push | --stream | --reply]
 *
 * endpoint defaults to tcp://127.0.0.1:4319 (the broker's pull socket); with
 * --stream or --reply use the reply endpoint (tcp://127.0.0.1:4320), and the
 * answer is printed (--reply) or every message is acknowledged before the
 * example exits (--stream).  Without a mode: stream for ipc:// endpoints,
 * push otherwise.  Afterwards GET /metrics shows e.g.
 *   calc_operation_total{job="calculator",operation="add"} 3
 *   http_server_duration_milliseconds_bucket{job="calculator",le="5"} 2
 */
#include <stdio.h>
#include <string.h>

#include "otlpbroker/client.h"

static int check(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "example: %s: %s\n", what, obc_strerror(rc));
    return rc;
}

int main(int argc, char **argv)
{
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = "tcp://127.0.0.1:4319";
    o.service_name = "calculator";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reply") == 0)
            o.mode = OBC_REPLY;
        else if (strcmp(argv[i], "--push") == 0)
            o.mode = OBC_PUSH;
        else if (strcmp(argv[i], "--stream") == 0)
            o.mode = OBC_STREAM;
        else
            o.endpoint = argv[i];
    }

    struct obc_client *c;
    if (check(obc_open(&o, &c), "open") != 0)
        return 1;
    struct obc_instrument *ops, *duration, *active, *memory;
    static const double bounds[] = {1, 5, 10, 50, 100};
    if (check(obc_counter(c, "calc_operation", "1", "Calculator operations", &ops), "counter") ||
        check(obc_histogram(c, "http.server.duration", "ms", "Request duration", bounds, 5,
                            &duration), "histogram") ||
        check(obc_updown_counter(c, "http.server.active_requests", "{request}",
                                 "Requests in flight", &active), "up-down counter") ||
        check(obc_gauge(c, "process.memory.usage", "By", "Resident memory", &memory), "gauge")) {
        obc_close(c, NULL);
        return 1;
    }

    static const char *const names[] = {"add", "add", "subtract", "multiply", "add", "divide"};
    static const double took_ms[] = {0.4, 3.2, 7.5, 12, 0.9, 250};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct obc_attr route[] = {OBC_STR("http.route", "/calc"), OBC_INT("http.status_code", 200)};
        struct obc_attr op[] = {OBC_STR("operation", names[i])};
        obc_add(active, 1, NULL, 0);
        obc_add(ops, 1, op, 1);
        obc_record(duration, took_ms[i], route, 2);
        obc_add(active, -1, NULL, 0);
    }
    obc_record(memory, 12.5e6, NULL, 0);

    struct obc_result res;
    int rc = obc_close(c, &res);
    if (check(rc, "flush") != 0) {
        if (res.message[0])
            fprintf(stderr, "example: broker says: %s\n", res.message);
        return 1;
    }
    if (o.mode == OBC_REPLY)
        printf("sent %llu points, %lld rejected%s%s\n", (unsigned long long)res.points,
               (long long)res.rejected, res.message[0] ? ": " : "", res.message);
    else if (o.mode == OBC_STREAM || (o.mode == OBC_AUTO && strncmp(o.endpoint, "ipc://", 6) == 0))
        printf("sent %llu points, acknowledged\n", (unsigned long long)res.points);
    else
        printf("sent %llu points\n", (unsigned long long)res.points);
    return 0;
}
