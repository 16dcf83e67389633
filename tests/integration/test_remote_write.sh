#!/usr/bin/env bash
# Remote write against rwsink (tests/tools/rwsink.c, a receiver that dumps
# what it decodes): what arrives is what /metrics shows, in 1.0 and 2.0;
# staleness markers when series expire; every acknowledged sample arrives
# across a broker kill -9 and across a receiver away for 30 s; a refused
# batch is dropped and counted while the rest flows; a receiver that never
# answers stalls nothing else.
source "$(dirname "$0")/lib.sh"
ZMQSEND=$OB_BUILD/tests/tools/zmqsend
CHECK="/usr/bin/python3 $(dirname "$0")/rw_check.py"

# A broker forwarding to the sink: target "t" (protocol $PROTO, default 1.0).
start_forwarding() {
    start_broker -o "remote_write.t.url=http://127.0.0.1:$SINK_PORT/api/v1/write" \
        -o "remote_write.t.protocol=${PROTO:-1.0}" -o remote_write.t.batch_deadline=50ms \
        -o remote_write.t.min_backoff=20ms -o remote_write.t.max_backoff=200ms \
        -o remote_write.log_size=16MiB "$@"
}

# metric NAME: the value of the target's self-metric NAME (summed over label sets).
metric() {
    scrape | awk -v n="otlp_broker_remote_storage_$1" \
        'index($0, n "{") == 1 && index($0, "remote_name=\"t\"") { s += $NF } END { print s + 0 }'
}

# wait_sent: until the target has nothing pending (at most 20 s).
wait_sent() {
    for _ in $(seq 1 400); do
        [ "$(metric samples_pending)" = 0 ] && return 0
        sleep 0.05
    done
    echo "still pending: $(metric samples_pending)"; return 1
}

check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@" >"$TMP/check.out" 2>&1; then
        PASS=$((PASS + 1)); echo "ok   $name"
    else
        FAIL=$((FAIL + 1)); echo "FAIL $name"; tail -20 "$TMP/check.out"
    fi
}

NOW=$(($(date +%s) * 1000))

# ---- 1.0 and 2.0: the receiver gets what a scrape shows ------------------------------
for PROTO in 1.0 2.0; do
    : >"$TMP/dump"
    SINK_PORT=
    start_sink --dump "$TMP/dump"
    # 1.0: exponential histograms as classic buckets (the default); 2.0: native.
    native=false
    [ "$PROTO" = 2.0 ] && native=true
    start_forwarding -o "remote_write.t.native_histograms=$native"
    for r in 1 2 3; do
        "$MKPAYLOAD" calculator --round $r --ts-ms $((NOW - 30000 + r * 1000)) >"$TMP/calc.bin"
        [ "$(post /v1/metrics "$TMP/calc.bin")" = 200 ]
    done
    "$ZMQSEND" --endpoint "ipc://$TMP/reply" --mode reply --count 200 >/dev/null
    "$MKPAYLOAD" exphist --ts-ms $((NOW - 1000)) >"$TMP/exp.bin"
    [ "$(post /v1/metrics "$TMP/exp.bin")" = 200 ]
    wait_sent
    scrape >"$TMP/scrape"
    check "$PROTO: every series of the scrape arrived with its value" \
        $CHECK same "$TMP/scrape" "$TMP/dump"
    check "$PROTO: the calculator's three rounds, in order" \
        bash -c "$CHECK keys '$TMP/dump' calc_operation_total | grep -c 'operation=\"add\"' | grep -qx 3"
    check "$PROTO: ZeroMQ's 200 gauges" \
        bash -c "$CHECK keys '$TMP/dump' bench_fill_ | wc -l | grep -qx 200"
    if [ "$native" = true ]; then
        check "$PROTO: the exponential histogram as a native histogram" \
            grep -q '^# HISTOGRAM .* schema=' "$TMP/dump"
    else
        check "$PROTO: the exponential histogram as the scrape's classic buckets" \
            bash -c "! grep -q '^# HISTOGRAM' '$TMP/dump' && grep -q '^request_size_bytes_bucket{.*le=\"+Inf\"' '$TMP/dump'"
    fi
    check "$PROTO: metadata" $CHECK meta "$TMP/dump" calc_operation_total counter
    if [ "$PROTO" = 2.0 ]; then
        check "2.0: created timestamps on counters" grep -qE '^calc_operation_total\{.* st=[0-9]+$' "$TMP/dump"
    fi
    check "$PROTO: nothing dropped" [ "$(metric samples_dropped_total)" = 0 ]
    stop_broker
    stop_sink || true
    rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward"
done
PROTO=1.0

# ---- staleness markers when series expire ---------------------------------------------
: >"$TMP/dump"
SINK_PORT=
start_sink --dump "$TMP/dump"
start_forwarding -o store.series_ttl=1s -o broker.housekeeping_interval=100ms
"$MKPAYLOAD" fill --count 20 --ts-ms "$NOW" >"$TMP/fill.bin"
[ "$(post /v1/metrics "$TMP/fill.bin")" = 200 ]
sleep 1.6
wait_sent
check "expired series end with StaleNaN" $CHECK stale "$TMP/dump" bench_fill_
stop_broker
stop_sink || true
rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward"

# ---- kill -9: every acknowledged sample arrives after the restart ------------------------
: >"$TMP/dump"
SINK_PORT=
start_sink --dump "$TMP/dump"
# Long batches: at the kill most records are read but not yet sent.
start_forwarding -o remote_write.t.batch_deadline=2s
: >"$TMP/acked"
for i in $(seq 1 60); do
    "$MKPAYLOAD" fill --count 25 --ts-ms $((NOW - 60000 + i * 100)) >"$TMP/f.bin"
    if [ "$(post /v1/metrics "$TMP/f.bin")" = 200 ]; then
        echo "$((NOW - 60000 + i * 100))" >>"$TMP/acked"
    fi
    [ "$i" = 45 ] && kill9_broker && break
done
start_forwarding -o remote_write.t.batch_deadline=2s
wait_sent
$CHECK keys "$TMP/dump" bench_fill_ | awk '{print $NF}' | sort | uniq -c | awk '$1 == 25 {print $2}' \
    | sort >"$TMP/arrived"
check "kill -9: all $(wc -l <"$TMP/acked") acknowledged requests arrived, 25 samples each" \
    bash -c "sort '$TMP/acked' | comm -23 - '$TMP/arrived' | wc -l | grep -qx 0"
stop_broker

# ---- the receiver away for 30 s during continuous ingest --------------------------------
start_forwarding
stop_sink || true
: >"$TMP/acked"
end=$(($(date +%s) + 30))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    ts=$((NOW + i * 100))
    "$MKPAYLOAD" fill --first 100 --count 10 --ts-ms $ts >"$TMP/f.bin"
    [ "$(post /v1/metrics "$TMP/f.bin")" = 200 ] && echo $ts >>"$TMP/acked"
    sleep 0.2
done
check "the receiver away: ingest went on ($(wc -l <"$TMP/acked") requests)" [ "$(wc -l <"$TMP/acked")" -gt 50 ]
check "the receiver away: retried with backoff" [ "$(metric retries_total)" -gt 0 ]
start_sink --dump "$TMP/dump"
wait_sent
$CHECK keys "$TMP/dump" bench_fill_ | grep -E 'id="00001[0-9][0-9]"' | awk '{print $NF}' | sort | uniq -c \
    | awk '$1 == 10 {print $2}' | sort >"$TMP/arrived"
check "the receiver back: every sample of the 30 s arrived" \
    bash -c "sort '$TMP/acked' | comm -23 - '$TMP/arrived' | wc -l | grep -qx 0"
check "the receiver back: its samples counted as retried" [ "$(metric samples_retried_total)" -gt 0 ]
stop_broker
stop_sink || true
rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward"

# ---- away longer than the log holds: the oldest dropped, counted; ingest unaffected ------
: >"$TMP/dump"
SINK_PORT=
start_sink --dump "$TMP/dump"
stop_sink # its port, now closed: the target is away from the start
start_forwarding -o remote_write.log_size=1MiB -o remote_write.t.batch_size=500
for i in $(seq 1 20); do
    "$MKPAYLOAD" fill --first 200000 --count 5000 --ts-ms $((NOW + i)) >"$TMP/f.bin"
    [ "$(post /v1/metrics "$TMP/f.bin")" = 200 ] || echo "ingest refused request $i"
done
start_sink --dump "$TMP/dump"
wait_sent
lost=$(scrape | awk '/^otlp_broker_remote_storage_samples_dropped_total\{remote_name="t".*reason="log_overwritten"/ {print $NF}')
got=$($CHECK keys "$TMP/dump" bench_fill_ | wc -l)
check "away too long: the oldest overwritten and counted ($lost), the rest arrived ($got)" \
    [ "$lost" -gt 0 ] && [ $((lost + got)) -eq 100000 ]
stop_broker
stop_sink || true
rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward"

# ---- a refused batch: dropped, counted, the rest flows ----------------------------------
: >"$TMP/dump"
SINK_PORT=
start_sink --dump "$TMP/dump" --fail-nth 2:400
start_forwarding -o remote_write.t.shards=1
for i in 1 2 3; do
    "$MKPAYLOAD" fill --first $((i * 1000)) --count 10 --ts-ms "$NOW" >"$TMP/f.bin"
    [ "$(post /v1/metrics "$TMP/f.bin")" = 200 ]
    sleep 0.3 # one request each
done
wait_sent
scrape >"$TMP/scrape"
check "400: that batch dropped and counted as refused" \
    grep -q 'samples_dropped_total{remote_name="t",.*reason="refused"} 10$' "$TMP/scrape"
check "400: the other batches arrived" bash -c "$CHECK keys '$TMP/dump' bench_fill_ | wc -l | grep -qx 20"
check "400: the receiver's message logged" grep -q 'refused 10 samples: HTTP 400' "$TMP/broker.log"
curl -fsS "$(url /api/v1/status)" >"$TMP/status.json"
check "400: the status page names the target and its last refusal" /usr/bin/python3 -c "
import json, sys
t = json.load(open('$TMP/status.json'))['remote_write'][0]
sys.exit(not (t['name'] == 't' and t['samples_sent'] == 20 and t['dropped'] == 10 and
              t['last_refusal_message'].startswith('HTTP 400') and t['pending'] == 0))"
check "400: the HTML status page has the target" bash -c "curl -fsS '$(url /status)' | grep -q '<table id=remote_write>'"
stop_broker
stop_sink || true
rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward"

# ---- a receiver that never answers ------------------------------------------------------
SINK_PORT=
start_sink --hang
start_forwarding -o remote_write.t.timeout=300ms
"$MKPAYLOAD" fill --count 10 --ts-ms "$NOW" >"$TMP/f.bin"
[ "$(post /v1/metrics "$TMP/f.bin")" = 200 ]
sleep 1.5
scrape >"$TMP/scrape"
check "hang: timeouts counted and retried" \
    grep -qE 'failed_requests_total\{remote_name="t",.*kind="timeout"\} [1-9]' "$TMP/scrape"
ok=0
for i in $(seq 1 20); do
    "$MKPAYLOAD" fill --first 50 --count 10 --ts-ms $((NOW + i)) >"$TMP/f.bin"
    [ "$(post /v1/metrics "$TMP/f.bin")" = 200 ] && ok=$((ok + 1))
done
check "hang: ingest and scrapes go on" [ "$ok" = 20 ]
check "hang: what waits is pending, not lost" [ "$(metric samples_pending)" -ge 210 ]
stop_broker
stop_sink || true

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
