#!/usr/bin/env bash
# otlp-broker-inspect on a live store, on one a kill -9 left behind, and on
# corrupted copies (a clear message and a non-zero exit).
source "$(dirname "$0")/lib.sh"
INSPECT=$OB_BUILD/otlp-broker-inspect
start_broker
T=$(( $(date +%s) * 1000 - 20000 ))
"$MKPAYLOAD" calculator --ts-ms "$T" --round 2 >"$TMP/r2.bin"
"$MKPAYLOAD" calculator --ts-ms $(( T - 5000 )) --round 1 >"$TMP/r1.bin"
check "ingest" 200 "$(post /v1/metrics "$TMP/r2.bin")"
check "an older round, out of order" 200 "$(post /v1/metrics "$TMP/r1.bin")"

"$INSPECT" "$STORE" >"$TMP/info.txt" && ok "info on a live store" || bad "info: $(cat "$TMP/info.txt")"
grep -q '^  series          5 live of 20000 slots' "$TMP/info.txt" && ok "info: series counted" ||
    bad "info: $(grep series "$TMP/info.txt")"
grep -q 'open (a broker uses it, or one died)' "$TMP/info.txt" && ok "info: open" || bad "info: not open"
"$INSPECT" "$STORE" --families >"$TMP/fam.txt"
check "families: the counter with its 2 series" 1 \
    "$(grep -c '^  calc_operation_total  *counter  *2$' "$TMP/fam.txt")"
"$INSPECT" "$STORE" --series calc_operation_total 'job="calculator",operation="add"' >"$TMP/ser.txt"
check "series: both samples, oldest first" "$(( T - 5000 )) 3;$T 6;" \
    "$(awk '/^  [0-9]/ {printf "%s %s;", $1, $3}' "$TMP/ser.txt")"
rc=0; "$INSPECT" "$STORE" --series calc_operation_total 'job="nope"' >/dev/null 2>"$TMP/err.txt" || rc=$?
check "series: an unknown one exits 1" 1 "$rc"
grep -q 'no such series' "$TMP/err.txt" && ok "series: says so" || bad "$(cat "$TMP/err.txt")"
rc=0; "$INSPECT" "$STORE" --check >"$TMP/check.txt" || rc=$?
check "check on a live store" "0 check /ob-it-$$: 0 problems" "$rc $(tail -1 "$TMP/check.txt")"

kill9_broker
rc=0; "$INSPECT" "$STORE" --check >"$TMP/check9.txt" || rc=$?
check "check after kill -9" 0 "$rc"

# A corrupted copy: the first heap block's size zeroed, then the magic.
cp "/dev/shm$STORE" "$TMP/copy.store"
HEAP=$(sed -n 's/.*at offset \([0-9]*\)$/\1/p' "$TMP/info.txt")
/usr/bin/python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(b"\0" * 8)' "$TMP/copy.store" "$HEAP"
rc=0; "$INSPECT" "$TMP/copy.store" --check >"$TMP/bad.txt" 2>&1 || rc=$?
check "check on a corrupted heap exits 1" 1 "$rc"
grep -q 'problem: heap: block at [0-9]* has a size of 0 units' "$TMP/bad.txt" &&
    ok "and names the block" || bad "check said: $(head -3 "$TMP/bad.txt")"
printf 'XXXXXXXX' | dd of="$TMP/copy.store" conv=notrunc bs=1 count=8 2>/dev/null
rc=0; "$INSPECT" "$TMP/copy.store" >"$TMP/magic.txt" 2>&1 || rc=$?
check "not a store: exits 3" 3 "$rc"
grep -q 'not an otlp-broker store' "$TMP/magic.txt" && ok "and says so" || bad "said: $(cat "$TMP/magic.txt")"

# The forward log a broker left behind with a receiver that never came:
# each target's backlog.  (A port nothing listens on: rwsink started and
# stopped there.)
start_sink --discard
stop_sink || true
rm -f "/dev/shm$STORE" "/dev/shm$STORE.forward"
start_broker -o "remote_write.away.url=http://127.0.0.1:$SINK_PORT/api/v1/write" -o remote_write.log_size=1MiB
check "ingest with a target away" 200 "$(post /v1/metrics "$TMP/r2.bin")"
kill9_broker
"$INSPECT" "$STORE" --forward >"$TMP/fwd.txt" && ok "forward log read" || bad "forward: $(cat "$TMP/fwd.txt")"
check "forward: the target's backlog, the 5 records of the request (4 points, target_info)" 1 \
    "$(grep -cE '^  away +5  20[0-9]{2}-' "$TMP/fwd.txt")"
grep -q '^  records         5 written' "$TMP/fwd.txt" && ok "forward: records counted" ||
    bad "forward: $(cat "$TMP/fwd.txt")"
rc=0; "$INSPECT" "$STORE" --forward "$TMP/nope" >/dev/null 2>&1 || rc=$?
check "forward: no such log exits 3" 3 "$rc"
finish
