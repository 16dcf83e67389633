#!/usr/bin/env bash
# ZeroMQ delivery: a loss over ipc:// PULL is counted exactly, and the
# acknowledged stream loses nothing it acknowledged across a kill -9 of the
# broker.  Senders are tests/tools/zmqsend (the C client library).
source "$(dirname "$0")/lib.sh"
ZMQSEND=$OB_BUILD/tests/tools/zmqsend

metric() { # metric SERIES: its value in the exposition, 0 when absent
    scrape | awk -v s="$1" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'
}
OK_REQS='otlp_broker_requests_total{frontend="zmq",outcome="ok"}'

# ---- 1. the loss pattern: a sender fills the broker's pipe while the broker
# is held back (SIGSTOP), then closes.  What the broker never read is lost;
# the sender's END (on a fresh connection) lets the broker count it.
start_broker -o zmq.rcv_hwm=10 -o zmq.threads=1
kill -STOP "$BROKER_PID"
"$ZMQSEND" --endpoint "ipc://$TMP/pull" --mode push --until-full --count 100000 \
    --timeout 2000 >"$TMP/send.out" 2>&1 &
SENDER=$!
for _ in $(seq 1 200); do grep -q closing "$TMP/send.out" && break; sleep 0.05; done
sleep 0.2                      # the close has begun: data socket lingering
kill -CONT "$BROKER_PID"
wait "$SENDER" || true
SENT=$(sed -n 's/^RESULT sent=\([0-9]*\).*/\1/p' "$TMP/send.out")
LOST_SERIES="otlp_broker_zmq_messages_lost_total{endpoint=\"ipc://$TMP/pull\"}"
ingested=0 lost=0
for _ in $(seq 1 100); do      # the broker settles a closed sender once idle
    ingested=$(metric "$OK_REQS")
    lost=$(metric "$LOST_SERIES")
    [ $((ingested + lost)) -ge "${SENT:-1}" ] && break
    sleep 0.1
done
echo "     sender numbered $SENT messages, broker ingested $ingested, counted $lost lost"
check "lost = sent - ingested" "$((SENT - ingested))" "$lost"
if [ "$lost" -gt 0 ]; then ok "the loss happened and was counted"
else bad "no loss: the test did not exercise the counter (sent $SENT)"; fi
grep -q "messages* lost (missing from its sequence)" "$TMP/broker.log" \
    && ok "loss logged with the sender" || bad "no loss line in the log"
check "no duplicates" 0 "$(metric "otlp_broker_zmq_messages_duplicate_total{endpoint=\"ipc://$TMP/pull\"}")"
stop_broker && ok "clean stop" || bad "clean stop"

# ---- 2. the acknowledged stream across kill -9: every message reported as
# acknowledged is stored; the client resends the rest to the new broker.
start_broker
"$ZMQSEND" --endpoint "ipc://$TMP/reply" --mode stream --count 4000 --rate 2000 \
    --window 64 --resend 300 --timeout 20000 --acked "$TMP/acked" >"$TMP/stream.out" 2>&1 &
SENDER=$!
for _ in $(seq 1 200); do [ "$(metric "$OK_REQS")" -ge 600 ] && break; sleep 0.02; done
kill9_broker
sleep 0.3
start_broker
wait "$SENDER" && ok "stream sender exit 0" || bad "stream sender: $(cat "$TMP/stream.out")"
cat "$TMP/stream.out" | sed 's/^/     /'
check "stream: nothing unacknowledged" "0" "$(sed -n 's/.* unacked=\([0-9]*\).*/\1/p' "$TMP/stream.out")"
check "stream: all 4000 acknowledged" "4000" "$(sort -u "$TMP/acked" | wc -l)"
scrape >"$TMP/after.prom"
grep -o 'bench_fill_000{id="[0-9]*",job="bench"}' "$TMP/after.prom" \
    | sed 's/.*id="\([0-9]*\)".*/\1/' | sort -u >"$TMP/stored"
missing=$(comm -23 <(sort -u "$TMP/acked") "$TMP/stored" | wc -l)
check "every acknowledged message is stored" 0 "$missing"
stop_broker && ok "clean stop" || bad "clean stop"
finish
