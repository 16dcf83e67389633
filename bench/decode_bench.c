/* decode_bench: protobuf-c decoding throughput of the bench dataset on one
 * core.  Three ways over the same 500-point bodies:
 *   ob_otlp_decode   nesting pre-scan + unpack into the arena (what ingest does)
 *   arena unpack     protobuf-c unpack into the arena, no pre-scan
 *   malloc unpack    protobuf-c's default allocator + free_unpacked
 * Prints one line per way: points/s, MB/s, ns per point, measured in thread
 * CPU time so that other processes on a shared machine do not count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ob_error.h"
#include "ob_otlp.h"
#include "ob_payloads.h"

#define N_BODIES 40 /* two rounds of 10,000 series */

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

enum way { WAY_OB, WAY_ARENA, WAY_MALLOC };

/* Decodes every body `reps` times; returns seconds, or < 0 on a failure. */
static double run(enum way way, struct ob_buf *bodies, unsigned reps)
{
    const ProtobufCMessageDescriptor *d =
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    struct ob_arena a;
    ob_arena_init(&a, 64 * 1024);
    ProtobufCAllocator alloc = {ob_arena_pbc_alloc, ob_arena_pbc_free, &a}; /* as ob_otlp_decode */
    double t0 = cpu_s();
    for (unsigned r = 0; r < reps; r++) {
        for (unsigned i = 0; i < N_BODIES; i++) {
            const uint8_t *p = (const uint8_t *)bodies[i].data;
            size_t len = bodies[i].len;
            ob_otlp_request *req = NULL;
            switch (way) {
            case WAY_OB:
                if (ob_otlp_decode(&a, p, len, &req) != 0)
                    req = NULL;
                break;
            case WAY_ARENA:
                req = (ob_otlp_request *)protobuf_c_message_unpack(d, &alloc, len, p);
                break;
            case WAY_MALLOC:
                req = (ob_otlp_request *)protobuf_c_message_unpack(d, NULL, len, p);
                break;
            }
            if (!req) {
                ob_arena_fini(&a);
                return -1;
            }
            if (way == WAY_MALLOC)
                protobuf_c_message_free_unpacked(&req->base, NULL);
            else
                ob_arena_reset(&a);
        }
    }
    double t = cpu_s() - t0;
    ob_arena_fini(&a);
    return t;
}

int main(int argc, char **argv)
{
    double budget_s = argc > 1 ? atof(argv[1]) : 1.0; /* seconds per way */
    if (budget_s <= 0)
        budget_s = 1.0;
    struct ob_buf bodies[N_BODIES];
    struct ob_mixed_opts o = {.ts0_ns = INT64_C(1750000000000) * OB_NS_PER_MS};
    uint64_t points = 0, bytes = 0;
    for (unsigned i = 0; i < N_BODIES; i++) {
        uint32_t n;
        ob_buf_init(&bodies[i]);
        if (ob_payload_mixed(&bodies[i], &o, i, &n) != 0) {
            fprintf(stderr, "decode_bench: out of memory\n");
            return 1;
        }
        points += n;
        bytes += bodies[i].len;
    }
    printf("decode_bench: %u bodies, %.1f KB and %.0f points each (10,000 series mixed)\n",
           N_BODIES, (double)bytes / N_BODIES / 1024, (double)points / N_BODIES);
    static const char *const names[] = {"ob_otlp_decode", "arena unpack", "malloc unpack"};
    int rc = 0;
    for (int w = WAY_OB; w <= WAY_MALLOC; w++) {
        /* Calibrate with one pass, then run for about budget_s; best of 5
         * (the machine is shared: the best run is the least disturbed). */
        double one = run(w, bodies, 1);
        if (one < 0) {
            fprintf(stderr, "decode_bench: %s failed\n", names[w]);
            rc = 1;
            continue;
        }
        unsigned reps = (unsigned)(budget_s / 5 / (one > 1e-6 ? one : 1e-6)) + 1;
        double best = 1e30;
        for (int k = 0; k < 5; k++) {
            double t = run(w, bodies, reps);
            if (t >= 0 && t < best)
                best = t;
        }
        double pts = (double)points * reps / best;
        printf("DECODE way=\"%s\" points_per_s=%.0f mb_per_s=%.0f ns_per_point=%.0f\n", names[w],
               pts, (double)bytes * reps / best / 1e6, 1e9 / pts);
    }
    for (unsigned i = 0; i < N_BODIES; i++)
        ob_buf_fini(&bodies[i]);
    return rc;
}
