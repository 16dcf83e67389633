#!/usr/bin/env bash
# bench/ab.sh: two broker builds, alternately, under the same load: the
# before/after check of a change on a machine whose speed drifts (a single
# run of each says little; alternating runs put both in the same weather).
#
#   bash bench/ab.sh OLD_BROKER NEW_BROKER [ROUNDS]
#
# Each round starts OLD then NEW on a fresh store, sends the mixed dataset
# (bench/loadgen, 2 connections, in order, OB_AB_SECS seconds, default 5),
# and prints points/s and the broker's CPU per million points; then the
# median /metrics render time of the 10,000-series exposition
# (otlp_broker_scrape_duration_seconds), and whether both expositions are the
# same bytes.  Plugins come from $OB_BUILD/plugins (the ABI is stable).
# Timing never fails it; exit 1 only when a broker does not start.
set -u
source "$(dirname "$0")/lib.sh"
B=${OB_BUILD:-build}
OLD=${1:?old broker binary}
NEW=${2:?new broker binary}
ROUNDS=${3:-3}
SECS=${OB_AB_SECS:-5}
LOADGEN=$B/bench/loadgen
TMP=$(mktemp -d /tmp/otlp-ab.XXXXXX) || exit 1
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; rm -f /dev/shm/otlp-ab-$$-*' EXIT
[ -x "$LOADGEN" ] || make -s BUILD="$B" "$LOADGEN" || exit 1
TCK=$(getconf CLK_TCK)

start() { # BROKER TAG -> PID, PORT
    : >"$TMP/e.ini"
    "$1" -c "$TMP/e.ini" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 -o "store.path=/otlp-ab-$$-$2" \
        -o store.max_series=200000 -o "translator.plugin_dir=$B/plugins" \
        -o zmq.pull= -o zmq.reply= 2>"$TMP/log" &
    PID=$!
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/log" | head -n1)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "ab: $1 did not start:"; cat "$TMP/log"; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; rm -f "/dev/shm/otlp-ab-$$-$1"; }

run() { # BROKER TAG: "points/s cpu_s_per_Mpoints render_ms"
    start "$1" "$2"
    local ts=$(( $(date +%s) * 1000 - 120000 ))
    local w r c0 c1
    w=$("$LOADGEN" --port "$PORT" --requests 20 --ts0-ms "$ts" 2>/dev/null | grep '^RESULT')
    ts=$(( $(kv last_ts_ms "$w") + 1000 ))
    c0=$(cpu_ticks "$PID")
    r=$("$LOADGEN" --port "$PORT" --conns 2 --duration "$SECS" --ts0-ms "$ts" 2>/dev/null | grep '^RESULT')
    c1=$(cpu_ticks "$PID")
    local ms
    ms=$(for _ in $(seq 1 11); do
             curl -s "http://127.0.0.1:$PORT/metrics" |
                 awk '$1 == "otlp_broker_scrape_duration_seconds" {print $2 * 1000}'
         done | sort -n | sed -n 6p)
    curl -s "http://127.0.0.1:$PORT/metrics" | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' \
        >"$TMP/$2.prom"
    stop "$2"
    awk -v p="$(kv points_per_s "$r")" -v n="$(kv accepted "$r")" -v a="$c0" -v b="$c1" \
        -v t="$TCK" -v ms="$ms" 'BEGIN {printf "%10.0f | %8.2f | %9.2f", p, (b - a) / t / (n / 1e6), ms}'
}

printf '%-5s | %-3s | %10s | %8s | %8s\n' round who 'points/s' 'CPU s/Mp' 'render ms'
for i in $(seq 1 "$ROUNDS"); do
    printf '%-5s | %-3s | %s\n' "$i" old "$(run "$OLD" old)"
    printf '%-5s | %-3s | %s\n' "$i" new "$(run "$NEW" new)"
done
# Timestamps differ between the runs only in what loadgen sent; the
# expositions are compared after the same warm-up from one start time.
cmp -s "$TMP/old.prom" "$TMP/new.prom" && echo "expositions: the same bytes" ||
    echo "expositions: differ ($(diff "$TMP/old.prom" "$TMP/new.prom" | grep -c '^[<>]') lines)"
