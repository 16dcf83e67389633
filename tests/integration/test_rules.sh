#!/usr/bin/env bash
# The rules translator plugin in the real broker: the calculator payload under
# tests/data/rules-calculator.ini (rename + base suffixes, prefix, drop, global
# label drop/rename), compared with tests/data/rules-calculator-round1.prom;
# a policy with a bad regex keeps the broker from starting, naming the key.
source "$(dirname "$0")/lib.sh"
DATA=tests/data
start_broker -c "$DATA/rules-calculator.ini"
grep -q 'plugin rules: 3 rules over base underscore_escaping_with_suffixes' "$TMP/broker.log" \
    && ok "rules plugin loaded" || bad "no load line: $(cat "$TMP/broker.log")"

T0=$(( $(date +%s) * 1000 - 60000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
check "POST /v1/metrics" 200 "$(post /v1/metrics "$TMP/r1.bin")"
# http.server.active_requests (one point) is dropped by rule 30.
grep -q 'translator refused' "$TMP/resp" && ok "partial_success names the dropped metric" \
    || bad "response: $(tr -cd '[:print:]' <"$TMP/resp")"

scrape >"$TMP/s1.txt"
families "$TMP/s1.txt" myapp_calc_operation web_latency_milliseconds target_info >"$TMP/f1.txt"
if diff -u "$DATA/rules-calculator-round1.prom" "$TMP/f1.txt"; then ok "exposition under the rules"
else bad "exposition under the rules"; fi
check "no series under the original names" 0 \
    "$(grep -cE '^(calc_operation|http_server_duration|http_server_active)' "$TMP/s1.txt" || true)"
check "dropped points counted (reason translation)" 1 \
    "$(grep -F 'otlp_broker_data_points_rejected_total{frontend="http",reason="translation"}' "$TMP/s1.txt" | awk '{print $2}')"
stop_broker && ok "clean stop" || bad "clean stop"

# A policy init() refuses: the broker does not start and says which key.
: >"$TMP/bad.log"
rc=0
timeout 20 "$BROKER" -c "$DATA/rules-bad.ini" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 -o store.path="$STORE" \
    -o translator.plugin_dir="$OB_BUILD/plugins" 2>"$TMP/bad.log" || rc=$?
[ "$rc" -ne 0 ] && ok "bad policy refused (exit $rc)" || bad "broker started with a bad policy"
grep -q "rule.2.match: bad regex '(unclosed'" "$TMP/bad.log" && ok "error names rule.2.match" \
    || bad "log: $(cat "$TMP/bad.log")"

# -o overrides reach the plugin too: an unknown key is refused by name.
rc=0
timeout 20 "$BROKER" -c "$DATA/rules-calculator.ini" -o translator.rule.5.mtch=x -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 \
    -o store.path="$STORE" -o translator.plugin_dir="$OB_BUILD/plugins" 2>"$TMP/bad2.log" || rc=$?
[ "$rc" -ne 0 ] && grep -q "rule.5.mtch: unknown rule field" "$TMP/bad2.log" \
    && ok "unknown rule field refused" || bad "rc $rc, log: $(cat "$TMP/bad2.log")"
finish
