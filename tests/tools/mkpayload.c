/* mkpayload: writes one OTLP ExportMetricsServiceRequest body (protobuf) to
 * stdout, built by tests/unit/ob_payloads.c, for shell integration tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ob_payloads.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mkpayload KIND [options] > body.bin\n"
        "\n"
        "Writes one OTLP/protobuf ExportMetricsServiceRequest to stdout.\n"
        "Times are ms since the epoch; --ts-ms defaults to now.\n"
        "\n"
        "kinds:\n"
        "  calculator [--ts-ms N] [--start-ms S] [--round K]\n"
        "      the Prometheus OpenTelemetry guide's app as the JS SDK sends it:\n"
        "      calc_operation{operation=add|sub} = 3K|K, http.server.duration\n"
        "      (ms, 15 default bounds, 4 observations 3,12,60,420 per round),\n"
        "      http.server.active_requests = 0.  K >= 1 (default 1); S defaults\n"
        "      to %lld (or N if earlier) so later rounds share it.\n"
        "  mixed [--batch I] [--series N] [--points P] [--ts-ms T0] [--step-ms D]\n"
        "        [--shuffle W]\n"
        "      bench dataset: body I (default 0) of N series (default 10000),\n"
        "      P points per body (default 500), gauges/counters/10-bound\n"
        "      histograms; round r = I / ceil(N/P) has time T0 + r*D (D default\n"
        "      1000); W > 1 permutes rounds within blocks of W.\n"
        "  shuffled [--batch I] [--series N] [--count T] [--points P] [--ts-ms T0]\n"
        "           [--step-ms D]\n"
        "      N (default 1000) gauge series rw_shuffle{series=\"NNNN\"} x T (default\n"
        "      100) times T0 + t*D (D default 1000), value s*1000+t, in one fixed\n"
        "      random order cut into bodies of P points (default 500): body I\n"
        "      (default 0).\n"
        "  fill [--first F] [--count C] [--ts-ms N]\n"
        "      C (default 500) gauge series bench_fill_NNN{id=...} from F.\n"
        "  delta | summary | exphist | norecorded | empty | anyvalues |\n"
        "  badutf8 | manylabels | exemplars | unspecified [--ts-ms N]\n"
        "      special cases (see tests/unit/ob_payloads.h).\n"
        "\n"
        "  -h, --help       this text\n",
        (long long)OB_CALC_START_MS);
}

static int parse_i64(const char *s, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -EINVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    const char *kind = argv[1];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ts_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    long long start_ms = -1, round = 1, batch = 0, series = -1, points = 500, step_ms = 1000;
    long long shuffle = 0, first = 0, count = -1; /* -1: the kind's default */
    for (int i = 2; i < argc; i++) {
        const struct {
            const char *name;
            long long *dst;
            long long min;
        } opts[] = {
            {"--ts-ms", &ts_ms, 0},     {"--start-ms", &start_ms, 0}, {"--round", &round, 1},
            {"--batch", &batch, 0},     {"--series", &series, 1},     {"--points", &points, 1},
            {"--step-ms", &step_ms, 1}, {"--shuffle", &shuffle, 0},   {"--first", &first, 0},
            {"--count", &count, 0},
        };
        size_t k = 0;
        while (k < sizeof opts / sizeof opts[0] && strcmp(argv[i], opts[k].name))
            k++;
        if (k == sizeof opts / sizeof opts[0] || i + 1 == argc ||
            parse_i64(argv[i + 1], opts[k].min, opts[k].dst) != 0) {
            fprintf(stderr, "mkpayload: bad option or value: %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (series > UINT32_MAX || points > UINT32_MAX || shuffle > 256 || first > UINT32_MAX ||
        count > UINT32_MAX || round > UINT32_MAX) {
        fprintf(stderr, "mkpayload: value out of range\n");
        return 2;
    }

    struct ob_buf out;
    ob_buf_init(&out);
    int rc;
    if (!strcmp(kind, "calculator")) {
        if (start_ms < 0)
            start_ms = ts_ms < OB_CALC_START_MS ? ts_ms : OB_CALC_START_MS;
        rc = ob_payload_calculator(&out, start_ms * OB_NS_PER_MS, ts_ms * OB_NS_PER_MS,
                                   (unsigned)round);
    } else if (!strcmp(kind, "mixed")) {
        struct ob_mixed_opts o = {
            .n_series = series < 0 ? 10000 : (uint32_t)series,
            .points_per_body = (uint32_t)points,
            .ts0_ns = ts_ms * OB_NS_PER_MS,
            .step_ns = step_ms * OB_NS_PER_MS,
            .shuffle_window = (uint32_t)shuffle,
        };
        rc = ob_payload_mixed(&out, &o, (uint64_t)batch, NULL);
    } else if (!strcmp(kind, "shuffled")) {
        struct ob_shuffled_opts o = {
            .n_series = series < 0 ? 1000 : (uint32_t)series,
            .n_ts = count < 0 ? 100 : (uint32_t)count,
            .ts0_ns = ts_ms * OB_NS_PER_MS,
            .step_ns = step_ms * OB_NS_PER_MS,
            .points_per_body = (uint32_t)points,
        };
        if (batch > UINT32_MAX) {
            fprintf(stderr, "mkpayload: value out of range\n");
            return 2;
        }
        rc = ob_payload_shuffled(&out, &o, (uint32_t)batch);
    } else if (!strcmp(kind, "fill")) {
        rc = ob_payload_fill(&out, (uint32_t)first, count < 0 ? 500 : (uint32_t)count,
                             ts_ms * OB_NS_PER_MS);
    } else {
        rc = ob_payload_special(kind, &out, ts_ms * OB_NS_PER_MS);
        if (rc == -EINVAL) {
            fprintf(stderr, "mkpayload: unknown kind '%s' (see --help)\n", kind);
            return 2;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "mkpayload: %s\n", strerror(-rc));
        ob_buf_fini(&out);
        return 1;
    }
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(STDOUT_FILENO, out.data + off, out.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "mkpayload: write: %s\n", strerror(errno));
            ob_buf_fini(&out);
            return 1;
        }
        off += (size_t)w;
    }
    ob_buf_fini(&out);
    return 0;
}
