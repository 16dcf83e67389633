#!/usr/bin/env bash
# bench/zmq.sh: ZeroMQ PULL ingest against HTTP ingest of the same bodies
# (`make bench` runs it after bench/run.sh).
#
# One broker (own temp store, free ports) with PULL on ipc:// and tcp://.
# bench/zmqload sends, from 2 threads with a socket each:
#   raw     the mixed dataset of bench/loadgen (10,000 series, 500 points and
#           ~75 KB per body, new timestamps per body), pre-encoded;
#   client  the C client library: 2 applications x 3000 series (gauges,
#           counters, 10-bound histograms), record every series, flush, repeat.
# over HTTP (POST /v1/metrics, keep-alive, one request in flight per
# connection), ZeroMQ ipc and ZeroMQ tcp.  PULL answers nothing: the rate
# counts until the broker's otlp_broker_data_points_received_total took every
# point sent (zmqload fails, and the bench with it, when it never does).
# Then the acknowledged stream (the C library's OBC_STREAM to zmq.reply)
# against PULL with raw bodies of 1, 10 and 500 points, over ipc and tcp:
# the stream is done when every message was answered.  Runs are interleaved (HTTP, ipc, tcp, HTTP, ...) OB_ZMQ_REPS
# times (default 3) and the median is printed, with the broker's CPU per
# million points, which a busy shared machine disturbs less than the rate.
# Timing never fails the run: exit 1 only when something is broken.
#
# Environment: OB_BUILD (default build), OB_BENCH_SECS (send seconds per run,
# default 5), OB_ZMQ_REPS, OB_ACK_SECS (seconds per stream/PULL run, default
# 3), OB_BENCH_OPTS (extra broker arguments, e.g. "-o zmq.threads=1").
set -u
source "$(dirname "$0")/lib.sh"

B=${OB_BUILD:-build}
BROKER=${OB_BENCH_BROKER:-$B/otlp-broker}
ZMQLOAD=$B/bench/zmqload
SECS=${OB_BENCH_SECS:-5}
ACK_SECS=${OB_ACK_SECS:-3}
REPS=${OB_ZMQ_REPS:-3}
SHM=/otlp-bench-zmq-$$
TMP=$(mktemp -d /tmp/otlp-bench-zmq.XXXXXX) || exit 1
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

need_tools "$B" "$ZMQLOAD"

TCK=$(getconf CLK_TCK)

: >"$TMP/empty.ini"
# shellcheck disable=SC2086 # OB_BENCH_OPTS is split on purpose
"$BROKER" -c "$TMP/empty.ini" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 -o "store.path=$SHM" \
    -o store.max_series=200000 -o "translator.plugin_dir=$B/plugins" \
    -o "zmq.pull=ipc://$TMP/pull,tcp://127.0.0.1:0" -o "zmq.reply=ipc://$TMP/reply,tcp://127.0.0.1:0" \
    ${OB_BENCH_OPTS:-} 2>"$TMP/broker.log" &
PID=$!
PORT= TCP= TCP_REPLY=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/broker.log" | head -n1)
    TCP=$(sed -n 's|.*zmq: pull on \(tcp://[0-9.:]*\).*|\1|p' "$TMP/broker.log" | head -n1)
    TCP_REPLY=$(sed -n 's|.*zmq: reply on \(tcp://[0-9.:]*\).*|\1|p' "$TMP/broker.log" | head -n1)
    [ -n "$PORT" ] && [ -n "$TCP" ] && [ -n "$TCP_REPLY" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ] || [ -z "$TCP" ]; then
    say "bench: the broker did not start; its log:"
    tail -n 20 "$TMP/broker.log" >&2
    exit 1
fi
THREADS=$(sed -n 's|.*zmq: pull on tcp://.*(\([0-9]*\) worker.*|\1|p' "$TMP/broker.log" | head -n1)
say "bench: broker pid $PID, http 127.0.0.1:$PORT, pull ipc://$TMP/pull and $TCP ($THREADS workers)"

declare -A EP=([http]="http://127.0.0.1:$PORT" [ipc]="ipc://$TMP/pull" [tcp]="$TCP"
              [ipc-ack]="ipc://$TMP/reply" [tcp-ack]="$TCP_REPLY")
TS0=$(( $(date +%s) * 1000 - 300000 ))

# run MODE TRANSPORT SECS [KEY ZMQLOAD-ARGS...]: one zmqload run; appends
# "points_per_s cpu_s_per_Mpoints" to $TMP/KEY (default MODE.TRANSPORT).
# TRANSPORT ipc-ack / tcp-ack: the acknowledged stream to zmq.reply.
run() {
    local mode=$1 tr=$2 secs=$3 key=${4:-$1.$2} R c0 c1 ack=
    if [ $# -ge 4 ]; then shift 4; else shift $#; fi
    case $tr in *-ack) ack=--ack ;; esac
    kill -0 "$PID" 2>/dev/null || { say "bench: the broker died"; tail -n 20 "$TMP/broker.log" >&2; broken=1; return 1; }
    c0=$(cpu_ticks "$PID")
    R=$("$ZMQLOAD" --endpoint "${EP[$tr]}" --metrics-port "$PORT" --mode "$mode" --conns 2 \
            --duration "$secs" --ts0-ms "$TS0" $ack "$@" 2>"$TMP/zmqload.err" | grep '^RESULT')
    c1=$(cpu_ticks "$PID")
    if [ -z "$R" ] || [ "$(kv errors "$R")" != 0 ] || [ "$(kv rejected "$R")" != 0 ]; then
        say "bench: zmqload $mode over $tr failed: ${R:-no result}"
        cat "$TMP/zmqload.err" >&2
        broken=1
        return 1
    fi
    say "$R"
    [ "$mode" = raw ] && TS0=$(( $(kv last_ts_ms "$R") + 1000 ))
    awk -v p="$(kv points_per_s "$R")" -v n="$(kv points "$R")" -v a="$c0" -v b="$c1" -v t="$TCK" \
        'BEGIN {printf "%.0f %.2f\n", p, (b - a) / t / (n / 1e6)}' >>"$TMP/$key"
}

# Warm-up: creates the series of both modes.
run raw http 2 && run client http 2 || exit 1
rm -f "$TMP"/raw.* "$TMP"/client.*
for _ in $(seq 1 "$REPS"); do
    for mode in raw client; do
        for tr in http ipc tcp; do run "$mode" "$tr" "$SECS" || break 3; done
    done
done

# med FILE COLUMN: median of a column
med() { [ -s "$1" ] && sort -n -k"$2","$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {print v[int((NR + 1) / 2)]}' || echo 0; }

cat <<EOF

== ZeroMQ PULL vs HTTP ingest ($(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ), zmq.threads=${THREADS:-?}); median of $REPS runs of ${SECS} s, 2 senders
raw = the mixed dataset bodies (500 points, ~75 KB); client = libotlpbroker-client, 2 apps x 3000 series, record all + flush
CPU = broker utime+stime per million points (lower is better); ratio = points/s over HTTP's
| payload | HTTP points/s | ipc points/s | tcp points/s | ipc/HTTP | tcp/HTTP | CPU s/Mpt http | ipc  | tcp  |
|---------|---------------|--------------|--------------|----------|----------|----------------|------|------|
EOF
for mode in raw client; do
    h=$(med "$TMP/$mode.http" 1) i=$(med "$TMP/$mode.ipc" 1) t=$(med "$TMP/$mode.tcp" 1)
    awk -v m="$mode" -v h="$h" -v i="$i" -v t="$t" -v ch="$(med "$TMP/$mode.http" 2)" \
        -v ci="$(med "$TMP/$mode.ipc" 2)" -v ct="$(med "$TMP/$mode.tcp" 2)" 'BEGIN {
        printf "| %-7s | %13.0f | %12.0f | %12.0f | %7.2fx | %7.2fx | %14.2f | %4.2f | %4.2f |\n",
            m, h, i, t, (h > 0 ? i / h : 0), (h > 0 ? t / h : 0), ch, ci, ct }'
done

# ---- the acknowledged stream against PULL, small and large messages.
for P in 1 10 500; do
    run raw ipc 1 "warm.$P" --points "$P" || break  # the dataset's series at P points
    for _ in $(seq 1 "$REPS"); do
        for tr in ipc ipc-ack tcp tcp-ack; do
            run raw "$tr" "$ACK_SECS" "ack$P.$tr" --points "$P" || break 3
        done
    done
done

cat <<EOF

== Acknowledged stream (OBC_STREAM, window 256 / 8 MiB) vs PULL; median of $REPS runs of ${ACK_SECS} s, 2 senders, raw bodies
| points/msg | ipc PULL points/s | ipc stream | stream/PULL | tcp PULL | tcp stream | stream/PULL | CPU s/Mpt ipc PULL | ipc stream |
|------------|-------------------|------------|-------------|----------|------------|-------------|--------------------|------------|
EOF
for P in 1 10 500; do
    awk -v p="$P" -v ip="$(med "$TMP/ack$P.ipc" 1)" -v ia="$(med "$TMP/ack$P.ipc-ack" 1)" \
        -v tp="$(med "$TMP/ack$P.tcp" 1)" -v ta="$(med "$TMP/ack$P.tcp-ack" 1)" \
        -v cp="$(med "$TMP/ack$P.ipc" 2)" -v ca="$(med "$TMP/ack$P.ipc-ack" 2)" 'BEGIN {
        printf "| %10d | %17.0f | %10.0f | %10.2fx | %8.0f | %10.0f | %10.2fx | %18.2f | %10.2f |\n",
            p, ip, ia, (ip > 0 ? ia / ip : 0), tp, ta, (tp > 0 ? ta / tp : 0), cp, ca }'
done
echo
[ "$broken" = 0 ] || { say "bench: something was broken (see above)"; exit 1; }
exit 0
