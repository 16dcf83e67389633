#!/usr/bin/env bash
# bench/grpc.sh: OTLP/gRPC ingest against OTLP/HTTP ingest of the same bodies
# (`make bench` runs it after bench/zmq.sh).
#
# One broker (own temp store, free ports, both frontends with their default
# threads).  The mixed dataset of bench/loadgen (10,000 series, 500 points
# and ~75 KB per body, new timestamps per body, pre-encoded) goes over
#   http     loadgen: keep-alive HTTP/1.1, one request in flight per connection;
#   grpc     grpcload: nghttp2 h2c, one call in flight per connection;
#   grpc16   grpcload: 16 calls in flight on one connection;
# with 1 and 2 connections.  Runs are interleaved (http, grpc, ... per round)
# OB_GRPC_REPS times (default 3) and the median is printed, with the broker's
# CPU per million points.  Then latency at half of each one's median maximum
# rate (1 connection, --rate): the p99 target is 2 ms.  Timing never fails
# the run: exit 1 only when something is broken.
#
# Environment: OB_BUILD (default build), OB_BENCH_SECS (seconds per run,
# default 5), OB_GRPC_REPS, OB_BENCH_OPTS (extra broker arguments).
set -u
source "$(dirname "$0")/lib.sh"

B=${OB_BUILD:-build}
BROKER=${OB_BENCH_BROKER:-$B/otlp-broker}
LOADGEN=$B/bench/loadgen
GRPCLOAD=$B/bench/grpcload
SECS=${OB_BENCH_SECS:-5}
REPS=${OB_GRPC_REPS:-3}
SHM=/otlp-bench-grpc-$$
TMP=$(mktemp -d /tmp/otlp-bench-grpc.XXXXXX) || exit 1
PID=
broken=0

cleanup() {
    if [ -n "$PID" ]; then
        kill -TERM "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -f "/dev/shm$SHM"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need_tools "$B" "$LOADGEN" "$GRPCLOAD"

TCK=$(getconf CLK_TCK)

: >"$TMP/empty.ini"
# shellcheck disable=SC2086 # OB_BENCH_OPTS is split on purpose
"$BROKER" -c "$TMP/empty.ini" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 \
    -o "store.path=$SHM" -o store.max_series=200000 -o "translator.plugin_dir=$B/plugins" \
    -o zmq.pull= -o zmq.reply= ${OB_BENCH_OPTS:-} 2>"$TMP/broker.log" &
PID=$!
HPORT= GPORT=
for _ in $(seq 1 100); do
    HPORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log")
    GPORT=$(sed -n 's|.*listening on grpc://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log")
    [ -n "$HPORT" ] && [ -n "$GPORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$HPORT" ] || [ -z "$GPORT" ]; then
    say "bench: the broker did not start; its log:"
    tail -n 20 "$TMP/broker.log" >&2
    exit 1
fi
say "bench: broker pid $PID, HTTP 127.0.0.1:$HPORT, gRPC 127.0.0.1:$GPORT"

TS0=$(( $(date +%s) * 1000 - 300000 ))
W=$("$LOADGEN" --port "$HPORT" --requests 20 --ts0-ms "$TS0" 2>/dev/null | grep '^RESULT')
[ -n "$W" ] || { say "bench: warm-up sent nothing"; exit 1; }
TS0=$(( $(kv last_ts_ms "$W") + 1000 ))

# run KIND CONNS [extra args]: one run; appends "kind conns points/s p50 p99 cpu/Mpt" to $TMP/rows
run() {
    local kind=$1 conns=$2; shift 2
    local c0 c1 t0 t1 R
    c0=$(cpu_ticks "$PID")
    t0=$(date +%s.%N)
    case $kind in
    http) R=$("$LOADGEN" --port "$HPORT" --conns "$conns" --duration "$SECS" --ts0-ms "$TS0" "$@" \
              2>"$TMP/err" | grep '^RESULT') ;;
    grpc) R=$("$GRPCLOAD" --port "$GPORT" --conns "$conns" --duration "$SECS" --ts0-ms "$TS0" "$@" \
              2>"$TMP/err" | grep '^RESULT') ;;
    grpc16) R=$("$GRPCLOAD" --port "$GPORT" --conns "$conns" --streams 16 --duration "$SECS" \
              --ts0-ms "$TS0" "$@" 2>"$TMP/err" | grep '^RESULT') ;;
    esac
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$PID")
    kill -0 "$PID" 2>/dev/null || { say "bench: the broker died"; tail "$TMP/broker.log" >&2; exit 1; }
    if [ -z "$R" ] || [ "$(kv requests "$R")" = 0 ]; then
        say "bench: $kind sent nothing:"; cat "$TMP/err" >&2; broken=1; return
    fi
    say "$kind: $R"
    [ "$(kv errors "$R")" = 0 ] || { say "bench: WARNING: $(kv errors "$R") errors ($kind)"; broken=1; }
    [ "$(kv rejected "$R")" = 0 ] || say "bench: WARNING: $(kv rejected "$R") points rejected ($kind)"
    TS0=$(( $(kv last_ts_ms "$R") + 1000 ))
    awk -v k="$kind" -v c="$conns" -v p="$(kv points_per_s "$R")" -v a="$(kv p50_us "$R")" \
        -v b="$(kv p99_us "$R")" -v x="$c0" -v y="$c1" -v t="$TCK" -v s0="$t0" -v s1="$t1" \
        'BEGIN {pts = p * (s1 - s0); cpu = pts > 0 ? (y - x) / t / pts * 1e6 : 0
                printf "%s %s %.0f %.2f %.2f %.2f\n", k, c, p, a / 1000, b / 1000, cpu}' \
        >>"$TMP/${ROWS:-rows}"
}

: >"$TMP/rows"
for _ in $(seq 1 "$REPS"); do
    for conns in 1 2; do
        run http "$conns"
        run grpc "$conns"
    done
    run grpc16 1
done

# med KIND CONNS COLUMN: the median of a column over the runs of one kind
med() {
    awk -v k="$1" -v c="$2" -v col="$3" '$1 == k && $2 == c {print $col}' "$TMP/rows" | sort -g |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "n/a"}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a"}'; }

# Latency at half of each one's maximum (1 connection, one call in flight).
: >"$TMP/half"
HALF_H=$(awk -v p="$(med http 1 3)" 'BEGIN {printf "%.0f", p / 2}')
HALF_G=$(awk -v p="$(med grpc 1 3)" 'BEGIN {printf "%.0f", p / 2}')
ROWS=half run http 1 --rate "$HALF_H"
ROWS=half run grpc 1 --rate "$HALF_G"
half() { awk -v k="$1" -v col="$2" '$1 == k {print $col}' "$TMP/half"; }

cat <<EOF

== OTLP/gRPC vs OTLP/HTTP ingest ($(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)); median of $REPS runs of ${SECS} s
mixed dataset, 500 points (~75 KB) per call; CPU = broker utime+stime per million points
| frontend          | conns | in flight |  points/s | vs HTTP | p50 ms | p99 ms | CPU s/Mpt |
|-------------------|-------|-----------|-----------|---------|--------|--------|-----------|
EOF
for conns in 1 2; do
    for k in http grpc; do
        printf '| %-17s | %5s | %9s | %9s | %7s | %6s | %6s | %9s |\n' \
            "$([ $k = http ] && echo "HTTP (loadgen)" || echo "gRPC (grpcload)")" "$conns" "$conns" \
            "$(med $k "$conns" 3)" "$(ratio "$(med $k "$conns" 3)" "$(med http "$conns" 3)")" \
            "$(med $k "$conns" 4)" "$(med $k "$conns" 5)" "$(med $k "$conns" 6)"
    done
done
printf '| %-17s | %5s | %9s | %9s | %7s | %6s | %6s | %9s |\n' "gRPC (grpcload)" 1 16 \
    "$(med grpc16 1 3)" "$(ratio "$(med grpc16 1 3)" "$(med http 1 3)")" "$(med grpc16 1 4)" \
    "$(med grpc16 1 5)" "$(med grpc16 1 6)"
cat <<EOF

latency at half of each one's median maximum rate (1 connection, one call in flight; target p99 < 2 ms):
| frontend | rate points/s | got points/s | p50 ms | p99 ms |
|----------|---------------|--------------|--------|--------|
EOF
printf '| %-8s | %13s | %12s | %6s | %6s |\n' HTTP "$HALF_H" "$(half http 3)" "$(half http 4)" \
    "$(half http 5)"
printf '| %-8s | %13s | %12s | %6s | %6s |\n' gRPC "$HALF_G" "$(half grpc 3)" "$(half grpc 4)" \
    "$(half grpc 5)"
exit "$broken"
