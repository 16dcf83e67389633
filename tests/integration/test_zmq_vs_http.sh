#!/usr/bin/env bash
# ZeroMQ ingest gives exactly what HTTP ingest gives.  The guide's calculator
# (two rounds) and four bodies of the bench's mixed dataset (gauges, counters,
# histograms) go to one broker over ZeroMQ (round 1 over the PULL socket,
# plain and gzip; round 2 over the ROUTER reply socket) and to a fresh broker
# over HTTP (both paths, plain and gzip); the expositions (everything but the
# broker's own otlp_broker_* metrics) must be identical after each round.
source "$(dirname "$0")/lib.sh"
PUSH=$OB_BUILD/clients/otlp-push
DATA=tests/data

T0=$(( $(date +%s) * 1000 - 60000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 15000)) --round 2 >"$TMP/r2.bin"
for b in 0 1 2 3; do   # 1500 series: batches 0-2 are round 0, batch 3 round 1
    "$MKPAYLOAD" mixed --series 1500 --batch "$b" --ts-ms "$T0" >"$TMP/m$b.bin"
done
gzip -c "$TMP/m2.bin" >"$TMP/m2.bin.gz"
gzip -c "$TMP/m3.bin" >"$TMP/m3.bin.gz"

# exposition FILE: the scrape without self-metrics.
exposition() { scrape | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' >"$1"; }
zmq_ok() { scrape | sed -n 's/^otlp_broker_requests_total{frontend="zmq",outcome="ok"} //p'; }

# ---- over ZeroMQ
start_broker
for f in r1.bin m0.bin m1.bin; do
    "$PUSH" -e "ipc://$TMP/pull" --file "$TMP/$f" >/dev/null || bad "push $f"
done
"$PUSH" -e "ipc://$TMP/pull" --file "$TMP/m2.bin.gz" --gzip >/dev/null || bad "push m2 (gzip)"
# Nothing answers on PULL: wait until the broker counted the 4 requests.
for _ in $(seq 1 200); do [ "$(zmq_ok)" = 4 ] && break; sleep 0.05; done
check "4 requests over PULL ingested" 4 "$(zmq_ok)"
exposition "$TMP/zmq1.txt"
"$PUSH" -e "ipc://$TMP/reply" --wait --file "$TMP/r2.bin" >"$TMP/out" || bad "reply r2: $(cat "$TMP/out")"
"$PUSH" -e "ipc://$TMP/reply" --wait --file "$TMP/m3.bin.gz" --gzip >"$TMP/out" || bad "reply m3: $(cat "$TMP/out")"
check "reply answers" accepted "$(cat "$TMP/out")"
exposition "$TMP/zmq2.txt"
stop_broker && ok "zmq broker: clean stop" || bad "zmq broker: clean stop"
rm -f "/dev/shm$STORE"

# ---- over HTTP, a fresh broker and store
STORE=$STORE-http
start_broker
for f in r1.bin m0.bin m1.bin; do
    check "POST /v1/metrics $f" 200 "$(post /v1/metrics "$TMP/$f")"
done
check "POST m2 (gzip)" 200 "$(post /api/v1/otlp/v1/metrics "$TMP/m2.bin.gz" -H 'Content-Encoding: gzip')"
exposition "$TMP/http1.txt"
check "POST r2" 200 "$(post /api/v1/otlp/v1/metrics "$TMP/r2.bin")"
check "POST m3 (gzip)" 200 "$(post /v1/metrics "$TMP/m3.bin.gz" -H 'Content-Encoding: gzip')"
exposition "$TMP/http2.txt"
stop_broker && ok "http broker: clean stop" || bad "http broker: clean stop"

n=$(grep -vc '^#' "$TMP/http1.txt")
[ "$n" -gt 1500 ] && ok "round 1 exposes $n samples" || bad "round 1 exposes only $n samples"
if diff -u "$TMP/http1.txt" "$TMP/zmq1.txt" >"$TMP/d1"; then ok "round 1: PULL == HTTP"; else bad "round 1: PULL != HTTP"; head -20 "$TMP/d1"; fi
if diff -u "$TMP/http2.txt" "$TMP/zmq2.txt" >"$TMP/d2"; then ok "round 2: reply == HTTP"; else bad "round 2: reply != HTTP"; head -20 "$TMP/d2"; fi
cmp -s "$TMP/zmq1.txt" "$TMP/zmq2.txt" && bad "round 2 changed nothing" || ok "round 2 changed the exposition"
families "$TMP/zmq2.txt" calc_operation http_server_duration_milliseconds http_server_active_requests \
    target_info | grep -v 'job="bench"' >"$TMP/calc2.txt"
if diff -u "$DATA/calculator-round2.prom" "$TMP/calc2.txt"; then ok "calculator over ZeroMQ == calculator-round2.prom"; else bad "calculator over ZeroMQ"; fi
finish
