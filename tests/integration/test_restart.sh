#!/usr/bin/env bash
# kill -9 the broker, start it again on the same store: same series, same values.
source "$(dirname "$0")/lib.sh"
start_broker

T0=$(( $(date +%s) * 1000 - 30000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
"$MKPAYLOAD" mixed --batch 0 --series 2000 --ts-ms "$T0" >"$TMP/m0.bin"
check "calculator accepted" 200 "$(post /v1/metrics "$TMP/r1.bin")"
check "mixed batch accepted" 200 "$(post /v1/metrics "$TMP/m0.bin")"
scrape | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' >"$TMP/before.txt"
lines=$(grep -vc '^#' "$TMP/before.txt")
[ "$lines" -gt 500 ] && ok "stored $lines series lines" || bad "only $lines series lines"

kill9_broker
start_broker
scrape | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' >"$TMP/after.txt"
if diff -u "$TMP/before.txt" "$TMP/after.txt" >"$TMP/diff.txt"; then
    ok "same exposition after kill -9 and restart"
else
    bad "exposition changed after restart"; head -20 "$TMP/diff.txt"
fi
# The restarted broker keeps accepting into the same series.
"$MKPAYLOAD" calculator --ts-ms $((T0 + 10000)) --round 2 >"$TMP/r2.bin"
check "ingest after restart" 200 "$(post /v1/metrics "$TMP/r2.bin")"
got=$(scrape | grep -c '^calc_operation_total{')
check "calc_operation_total series after restart" 2 "$got"

stop_broker && ok "clean stop" || bad "clean stop"
finish
