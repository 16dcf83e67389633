#!/usr/bin/env bash
# OTLP/JSON on both paths (plain and gzip): stored like protobuf, answered in JSON.
source "$(dirname "$0")/lib.sh"
start_broker
J=tests/data/otlp_json_calculator.json

check "POST /v1/metrics (JSON)" 200 "$(CT=application/json post /v1/metrics "$J")"
check "JSON response body" '{}' "$(cat "$TMP/resp")"
gzip -c "$J" >"$TMP/calc.json.gz"
check "POST /api/v1/otlp/v1/metrics (JSON, gzip)" 200 \
    "$(CT=application/json post /api/v1/otlp/v1/metrics "$TMP/calc.json.gz" -H 'Content-Encoding: gzip')"
check "resend is a no-op" '{}' "$(cat "$TMP/resp")"

scrape >"$TMP/s.txt"
check "counter from JSON" 'calc_operation_total{job="calculator",operation="add"} 3' \
    "$(grep '^calc_operation_total{job="calculator",operation="add"}' "$TMP/s.txt")"
check "histogram +Inf from JSON" 1 \
    "$(grep -c '^http_server_duration_milliseconds_bucket{http_route="/calc",job="calculator",le="+Inf"} 4$' "$TMP/s.txt")"

echo '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"nope"}]}}]}]}]}' >"$TMP/bad.json"
check "wrong JSON type -> 400" 400 "$(CT=application/json post /v1/metrics "$TMP/bad.json")"
grep -q 'asInt' "$TMP/resp" && ok "400 names the field" || bad "400 body: $(cat "$TMP/resp")"
printf '{"resourceMetrics":[' >"$TMP/trunc.json"
check "truncated JSON -> 400" 400 "$(CT=application/json post /v1/metrics "$TMP/trunc.json")"

now=$(date +%s)000000000
echo '{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"d"}}]},"scopeMetrics":[{"metrics":[{"name":"reqs","sum":{"isMonotonic":true,"dataPoints":[{"timeUnixNano":"'"$now"'","asInt":"5"}]}}]}]}]}' >"$TMP/unspec.json"
check "no temporality in JSON -> 200" 200 "$(CT=application/json post /v1/metrics "$TMP/unspec.json")"
grep -q '"partialSuccess":{"rejectedDataPoints":"1"' "$TMP/resp" && ok "JSON partialSuccess" || bad "response: $(cat "$TMP/resp")"

stop_broker && ok "clean stop" || bad "clean stop"
finish
