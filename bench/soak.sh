#!/usr/bin/env bash
# bench/soak.sh (make soak): the broker under hours-long-style churn, in
# OB_SOAK_SECS (default 1800) seconds.  Not part of make check.
#
# One broker (own shm store, free port, store.series_ttl=2m so that churn
# reaches its steady state within minutes).  Load:
#   - bench/loadgen at half the rate it reaches alone (measured first):
#     the mixed dataset, 10,000 series, timestamps 1 ms apart per round;
#   - every minute, a tenth of the names and series replaced: 3 new metric
#     families of 333 series each (bench/loadgen --fill with a new offset);
#     the old ones stop and are reclaimed after the ttl;
#   - a scrape of /metrics every second.
# Prints RSS, open fds, store bytes used, families and series live after the
# warm-up (a quarter of the run, at least 5 minutes) and at the end.
# Target: flat within 5 % after the warm-up, zero errors.  Exit 1 when an
# error happened or something grew by more than that.
#
# To find what grows: OB_SOAK_WRAP runs the broker under a tool (e.g.
# "valgrind --tool=massif --massif-out-file=/tmp/massif.out"), and
# OB_SOAK_RATE sets the ingest rate (points/s) instead of half the maximum.
set -u
source "$(dirname "$0")/lib.sh"
B=${OB_BUILD:-build}
SECS=${OB_SOAK_SECS:-1800}
LOADGEN=$B/bench/loadgen
SHM=/otlp-soak-$$
TMP=$(mktemp -d /tmp/otlp-soak.XXXXXX) || exit 1
PID= LOAD= SCRAPER=
cleanup() {
    for p in $SCRAPER $LOAD $PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -f "/dev/shm$SHM"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -z "${MAKELEVEL:-}" ]; then make -s BUILD="$B" all "$LOADGEN" || exit 1; fi
: >"$TMP/empty.ini"
${OB_SOAK_WRAP:-} "$B/otlp-broker" -c "$TMP/empty.ini" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 -o "store.path=$SHM" \
    -o store.max_series=200000 -o store.series_ttl=2m -o "translator.plugin_dir=$B/plugins" \
    -o zmq.pull= -o zmq.reply= 2>"$TMP/broker.log" &
PID=$!
PORT=
for _ in $(seq 1 600); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/broker.log" | head -n1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { say "soak: the broker did not start"; cat "$TMP/broker.log" >&2; exit 1; }

metric() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk -v s="$1" '$1 == s {print $2}'; }
sample() { # RSS_KB FDS BYTES FAMILIES SERIES
    printf '%s %s %s %s %s\n' "$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")" \
        "$(ls "/proc/$PID/fd" | wc -l)" "$(metric otlp_broker_store_bytes_used)" \
        "$(metric otlp_broker_families_live)" "$(metric otlp_broker_series_live)"
}

TS0=$(( $(date +%s) * 1000 - 60000 ))
R=$("$LOADGEN" --port "$PORT" --conns 2 --duration 5 --ts0-ms "$TS0" --step-ms 1 | grep '^RESULT')
MAX=$(kv points_per_s "$R")
RATE=${OB_SOAK_RATE:-$(( ${MAX%.*} / 2 ))}
say "soak: broker pid $PID port $PORT; alone loadgen reaches $MAX points/s, soak at $RATE for $SECS s"

"$LOADGEN" --port "$PORT" --conns 2 --duration "$SECS" --rate "$RATE" --step-ms 1 \
    --ts0-ms "$(( $(date +%s) * 1000 - 30000 ))" >"$TMP/load.out" 2>&1 &
LOAD=$!
( fails=0; while kill -0 "$PID" 2>/dev/null; do
      curl -fsS -o /dev/null "http://127.0.0.1:$PORT/metrics" || fails=$((fails + 1))
      echo "$fails" >"$TMP/scrape_fails"; sleep 1
  done ) &
SCRAPER=$!

WARM=$(( SECS / 4 )); [ "$WARM" -lt 300 ] && WARM=300; [ "$WARM" -ge "$SECS" ] && WARM=$(( SECS / 2 ))
start=$(date +%s) minute=0 churn_errors=0 warm=
while [ $(( $(date +%s) - start )) -lt "$SECS" ]; do
    for k in 0 1 2; do
        C=$("$LOADGEN" --port "$PORT" --fill 333 --fill-first $(( (minute * 3 + k) * 10000 + 1 )) \
                --fill-batch 333 | grep '^RESULT')
        [ "$(kv errors "$C")" = 0 ] && [ "$(kv rejected "$C")" = 0 ] || churn_errors=$((churn_errors + 1))
    done
    minute=$((minute + 1))
    if [ -z "$warm" ] && [ $(( $(date +%s) - start )) -ge "$WARM" ]; then
        warm=$(sample); say "soak: after the warm-up: $warm"
    fi
    kill -0 "$PID" 2>/dev/null || { say "soak: the broker died"; tail "$TMP/broker.log" >&2; exit 1; }
    sleep $(( 60 - ($(date +%s) - start) % 60 ))
done
wait "$LOAD"; LOAD=
end=$(sample)
[ -n "$warm" ] || warm=$end
L=$(grep '^RESULT' "$TMP/load.out")
fails=$(cat "$TMP/scrape_fails" 2>/dev/null || echo 0)
cat <<EOT

== soak: $SECS s at $RATE points/s (half of $MAX), 3 new metric names x 333 series a minute, a scrape a second
| when | RSS KiB | fds | store bytes used | families | series |
|---|---|---|---|---|---|
| after the warm-up (${WARM} s) | $(echo "$warm" | tr ' ' '|' | sed 's/|/ | /g') |
| end | $(echo "$end" | tr ' ' '|' | sed 's/|/ | /g') |
load: $(kv accepted "$L") points, rejected $(kv rejected "$L"), errors $(kv errors "$L"); churn errors $churn_errors; failed scrapes $fails
EOT
bad=0
[ "$(kv errors "$L")" = 0 ] && [ "$(kv rejected "$L")" = 0 ] && [ "$churn_errors" = 0 ] && [ "$fails" = 0 ] || bad=1
set -- $warm; w_rss=$1 w_fd=$2 w_bytes=$3
set -- $end; e_rss=$1 e_fd=$2 e_bytes=$3
for pair in "RSS $w_rss $e_rss" "fds $w_fd $e_fd" "bytes $w_bytes $e_bytes"; do
    set -- $pair
    if awk -v a="$2" -v b="$3" 'BEGIN {exit !(b > a * 1.05 + 16)}'; then say "soak: $1 grew from $2 to $3"; bad=1; fi
done
[ "$bad" = 0 ] && echo "soak: flat within 5 %, zero errors" || echo "soak: FAILED (see above)"
exit "$bad"
