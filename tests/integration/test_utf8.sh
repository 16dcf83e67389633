#!/usr/bin/env bash
# UTF-8 names (no_utf8_escaping_with_suffixes): quoted for a scraper that
# sends escaping=allow-utf-8, escaped with underscores for any other.
source "$(dirname "$0")/lib.sh"
start_broker -o translator.plugin=no_utf8_escaping_with_suffixes
"$MKPAYLOAD" calculator --ts-ms $(( $(date +%s) * 1000 - 10000 )) --round 1 >"$TMP/r1.bin"
check "ingest" 200 "$(post /v1/metrics "$TMP/r1.bin")"

curl -fsS -D "$TMP/h1" "$(url /metrics)" >"$TMP/legacy.txt"
grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/h1" && ok "legacy content type" || bad "$(grep -i content-type "$TMP/h1")"
check "legacy: names escaped" 1 "$(grep -c '^http_server_duration_milliseconds_bucket{http_method="GET",http_route="/calculate",http_status_code="200",job="calculator",le="+Inf"} 4$' "$TMP/legacy.txt")"
check "legacy: no quoted names" 0 "$(grep -c '^{' "$TMP/legacy.txt")"
rc=0; promtool check metrics <"$TMP/legacy.txt" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] && ok "promtool accepts the legacy output" || bad "promtool rc $rc"

ACCEPT='text/plain;version=1.0.0;escaping=allow-utf-8;q=0.9,text/plain;version=0.0.4;q=0.3'
curl -fsS -D "$TMP/h2" -H "Accept: $ACCEPT" "$(url /metrics)" >"$TMP/utf8.txt"
grep -qi '^content-type: text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8' "$TMP/h2" &&
    ok "UTF-8 content type" || bad "$(grep -i content-type "$TMP/h2")"
check "UTF-8: TYPE line quoted" 1 "$(grep -c '^# TYPE "http.server.duration_milliseconds" histogram$' "$TMP/utf8.txt")"
check "UTF-8: series quoted" 1 "$(grep -c '^{"http.server.duration_milliseconds_count","http.method"="GET","http.route"="/calculate","http.status_code"="200",job="calculator"} 4$' "$TMP/utf8.txt")"
check "UTF-8: legacy names stay bare" 1 "$(grep -c '^calc_operation_total{job="calculator",operation="add"} 3$' "$TMP/utf8.txt")"
check "UTF-8: target_info labels quoted" 1 "$(grep -c '^target_info{job="calculator","telemetry.sdk.language"="nodejs"' "$TMP/utf8.txt")"

# Prometheus 3's default Accept: OpenMetrics with UTF-8 names, quoted.
PROM3='application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,application/openmetrics-text;version=0.0.1;q=0.9,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.8,text/plain;version=0.0.4;q=0.7,*/*;q=0.6'
curl -fsS -D "$TMP/h3" -H "Accept: $PROM3" "$(url /metrics)" >"$TMP/om.txt"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8' "$TMP/h3" &&
    ok "OpenMetrics UTF-8 content type" || bad "$(grep -i content-type "$TMP/h3")"
check "OpenMetrics UTF-8: TYPE line quoted" 1 "$(grep -c '^# TYPE "http.server.duration_milliseconds" histogram$' "$TMP/om.txt")"
check "OpenMetrics UTF-8: counter family without _total" 1 "$(grep -c '^# TYPE calc_operation counter$' "$TMP/om.txt")"
check "OpenMetrics UTF-8: ends with # EOF" "# EOF" "$(tail -n1 "$TMP/om.txt")"

stop_broker && ok "clean stop" || bad "clean stop"
finish
