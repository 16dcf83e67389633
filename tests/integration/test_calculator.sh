#!/usr/bin/env bash
# The Prometheus OpenTelemetry guide's calculator, as protobuf over both OTLP
# paths (plain and gzip); the whole exposition of its families is compared
# with tests/data/calculator-*.prom.
source "$(dirname "$0")/lib.sh"
DATA=tests/data
start_broker

T0=$(( $(date +%s) * 1000 - 60000 ))   # a minute ago, whole ms
FAMS="calc_operation http_server_duration_milliseconds http_server_active_requests target_info"

"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 15000)) --round 2 >"$TMP/r2.bin"

check "POST /v1/metrics (protobuf)" 200 "$(post /v1/metrics "$TMP/r1.bin")"
check "empty ExportMetricsServiceResponse" 0 "$(stat -c %s "$TMP/resp")"
scrape >"$TMP/s1.txt"
# shellcheck disable=SC2086
families "$TMP/s1.txt" $FAMS >"$TMP/f1.txt"
if diff -u "$DATA/calculator-round1.prom" "$TMP/f1.txt"; then ok "round 1 exposition"; else bad "round 1 exposition"; fi

gzip -c "$TMP/r2.bin" >"$TMP/r2.bin.gz"
check "POST /api/v1/otlp/v1/metrics (gzip)" 200 \
    "$(post /api/v1/otlp/v1/metrics "$TMP/r2.bin.gz" -H 'Content-Encoding: gzip')"
scrape >"$TMP/s2.txt"
# shellcheck disable=SC2086
families "$TMP/s2.txt" $FAMS >"$TMP/f2.txt"
if diff -u "$DATA/calculator-round2.prom" "$TMP/f2.txt"; then ok "round 2 exposition"; else bad "round 2 exposition"; fi

# A retry of the same export is a no-op; an older export inside the
# out-of-order window is accepted but the newest sample stays exposed.
check "resend round 2" 200 "$(post /v1/metrics "$TMP/r2.bin")"
check "resend has no partial_success" 0 "$(stat -c %s "$TMP/resp")"
check "late round 1 accepted" 200 "$(post /v1/metrics "$TMP/r1.bin")"
scrape >"$TMP/s3.txt"
# shellcheck disable=SC2086
families "$TMP/s3.txt" $FAMS >"$TMP/f3.txt"
if diff -u "$DATA/calculator-round2.prom" "$TMP/f3.txt"; then ok "newest sample still exposed"; else bad "newest sample still exposed"; fi

# Every family appears once, HELP/TYPE once each; no series twice.
dups=$(grep -v '^#' "$TMP/s3.txt" | sed 's/ [^ ]*$//' | sort | uniq -d | head -3)
check "no series exposed twice" "" "$dups"
dupmeta=$(grep '^# ' "$TMP/s3.txt" | awk '{print $2, $3}' | sort | uniq -d | head -3)
check "HELP/TYPE once per family" "" "$dupmeta"

# Self-metrics count what came in.
got=$(grep '^otlp_broker_data_points_received_total{frontend="http"}' "$TMP/s3.txt" | awk '{print $2}')
check "points received counted" 16 "$got"

stop_broker && ok "clean stop" || bad "clean stop"
finish
