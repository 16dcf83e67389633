/* zmqsend: sends numbered one-point messages through the C client library,
 * for the delivery tests (tests/integration/test_zmq_delivery.sh).
 *
 *   zmqsend --endpoint EP --mode push|stream|reply [options]
 *
 * Message i (0-based) is one gauge point bench_fill_NNN{id="000000i"} = i
 * (tests/unit/ob_payloads.h, job="bench"), sent with obc_send: message i is
 * the client's sequence number i.
 *
 *   --count N        messages to send (default 1000)
 *   --first F        id of the first message (default 0)
 *   --until-full     push: stop at the first send that times out (the
 *                    client's queue and the socket are full)
 *   --rate R         at most R messages per second (default: no limit)
 *   --timeout MS     the client's timeout_ms (default 5000)
 *   --window N, --resend MS   stream mode (defaults: the library's)
 *   --acked FILE     stream: write the id of every acknowledged message
 *
 * Prints "sent N" and "closing" (flushed) before obc_close, then one line:
 *   RESULT sent= acked= resent= refused= unacked= close_rc=
 * Exit 0, or 1 on a send error other than the --until-full stop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ob_buf.h"
#include "ob_payloads.h"
#include "otlpbroker/client.h"

struct acked {
    uint32_t first;
    FILE *f;
    unsigned long n;
};

static void on_ack(void *arg, int rc, const struct obc_result *res)
{
    struct acked *a = arg;
    a->n++;
    if (rc == 0 && a->f)
        fprintf(a->f, "%07llu\n", (unsigned long long)(a->first + res->seq));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pace(int64_t t0, uint64_t i, double rate)
{
    if (rate <= 0)
        return;
    int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
    int64_t left = due - now_ns();
    if (left > 0) {
        struct timespec ts = {left / 1000000000, left % 1000000000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *mode = "push", *acked_path = NULL;
    unsigned long count = 1000, first = 0, window = 0;
    long timeout = 5000, resend = 0;
    double rate = 0;
    int until_full = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--until-full")) {
            until_full = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "zmqsend: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--endpoint"))
            endpoint = v;
        else if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--count"))
            count = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--first"))
            first = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rate"))
            rate = strtod(v, NULL);
        else if (!strcmp(a, "--timeout"))
            timeout = strtol(v, NULL, 10);
        else if (!strcmp(a, "--window"))
            window = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--resend"))
            resend = strtol(v, NULL, 10);
        else if (!strcmp(a, "--acked"))
            acked_path = v;
        else {
            fprintf(stderr, "zmqsend: unknown option %s\n", a);
            return 2;
        }
    }
    if (!endpoint) {
        fprintf(stderr, "usage: zmqsend --endpoint EP [--mode push|stream|reply] [options]\n");
        return 2;
    }
    struct acked ack = {.first = (uint32_t)first};
    if (acked_path && !(ack.f = fopen(acked_path, "w"))) {
        perror(acked_path);
        return 2;
    }
    struct obc_options o = OBC_OPTIONS_INIT;
    o.endpoint = endpoint;
    o.mode = !strcmp(mode, "stream") ? OBC_STREAM : !strcmp(mode, "reply") ? OBC_REPLY : OBC_PUSH;
    o.timeout_ms = timeout;
    o.window = (uint32_t)window;
    o.resend_ms = resend;
    o.on_ack = on_ack;
    o.on_ack_arg = &ack;
    struct obc_client *c;
    int rc = obc_open(&o, &c);
    if (rc != 0) {
        fprintf(stderr, "zmqsend: obc_open: %s\n", obc_strerror(rc));
        return 1;
    }
    struct ob_buf body;
    ob_buf_init(&body);
    int failed = 0;
    unsigned long sent = 0;
    int64_t t0 = now_ns();
    for (unsigned long i = 0; i < count; i++) {
        pace(t0, i, rate);
        body.len = 0;
        if (ob_payload_fill(&body, (uint32_t)(first + i), 1, now_ns()) != 0) {
            fprintf(stderr, "zmqsend: cannot build message %lu\n", i);
            failed = 1;
            break;
        }
        struct obc_result res;
        rc = obc_send(c, body.data, body.len, NULL, &res);
        if (rc != 0) {
            if (!(until_full && rc == -EAGAIN)) {
                fprintf(stderr, "zmqsend: message %lu: %s %s\n", i, obc_strerror(rc), res.message);
                failed = 1;
            }
            break;
        }
        sent++;
    }
    printf("sent %lu\nclosing\n", sent);
    fflush(stdout);
    struct obc_stats st;
    obc_stats(c, &st);
    struct obc_result res;
    int close_rc = obc_close(c, &res); /* frees c: st is from just before */
    printf("RESULT sent=%llu acked=%lu resent=%llu refused=%llu unacked=%llu close_rc=%d\n",
           (unsigned long long)st.sent, ack.n, (unsigned long long)st.resent,
           (unsigned long long)st.refused, (unsigned long long)res.unacked, close_rc);
    ob_buf_fini(&body);
    if (ack.f)
        fclose(ack.f);
    return failed;
}
