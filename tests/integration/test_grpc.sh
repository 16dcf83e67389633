#!/usr/bin/env bash
# OTLP/gRPC with a second, independent gRPC stack: Python's grpcio (the gRPC
# C core) sends the guide's calculator and bodies of the bench's mixed
# dataset, plain and gzip, with messages from protoc --python_out of proto/
# (grpc_client.py), and checks the statuses of what the broker refuses.  The
# exposition must equal the one a fresh broker gives for the same bodies
# over HTTP; the self-metrics count the calls under frontend "grpc".
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

T0=$(( $(date +%s) * 1000 - 60000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 15000)) --round 2 >"$TMP/r2.bin"
for b in 0 1 2 3; do
    "$MKPAYLOAD" mixed --series 1500 --batch "$b" --ts-ms "$T0" >"$TMP/m$b.bin"
done
"$MKPAYLOAD" unspecified --ts-ms "$T0" >"$TMP/unspecified.bin"

mkdir -p "$TMP/py"
protoc -I "$ROOT/proto" --python_out="$TMP/py" \
    "$ROOT/proto/opentelemetry/proto/collector/metrics/v1/metrics_service.proto" \
    "$ROOT/proto/opentelemetry/proto/metrics/v1/metrics.proto" \
    "$ROOT/proto/opentelemetry/proto/common/v1/common.proto" \
    "$ROOT/proto/opentelemetry/proto/resource/v1/resource.proto" &&
    ok "protoc generates the OTLP messages for Python" || bad "protoc"

exposition() { scrape | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' >"$1"; }
metric() { scrape | grep -F "$1 " | sed 's/.* //'; }

# ---- over gRPC
start_broker -o limits.max_body_bytes=256KiB
GPORT=$(sed -n 's|.*listening on grpc://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log" | tail -1)
[ -n "$GPORT" ] && ok "gRPC listens (port $GPORT)" || bad "no gRPC port in the log"
while IFS= read -r line; do
    case $line in ok*) ok "grpcio: ${line#ok   }" ;; *) bad "grpcio: ${line#FAIL }" ;; esac
done < <("$PY" "$(dirname "$0")/grpc_client.py" "$TMP/py" "$GPORT" "$TMP" 2>&1)
exposition "$TMP/grpc.txt"
check "requests ok (6 bodies, 200 empty calls)" 206 \
    "$(metric 'otlp_broker_requests_total{frontend="grpc",outcome="ok"}')"
check "requests partial" 1 \
    "$(metric 'otlp_broker_requests_total{frontend="grpc",outcome="partial"}')"
check "requests malformed" 1 \
    "$(metric 'otlp_broker_requests_total{frontend="grpc",outcome="malformed"}')"
check "requests too_large" 2 \
    "$(metric 'otlp_broker_requests_total{frontend="grpc",outcome="too_large"}')"
check "requests unsupported" 1 \
    "$(metric 'otlp_broker_requests_total{frontend="grpc",outcome="unsupported"}')"
check "rejected points counted under frontend grpc" 1 \
    "$(metric 'otlp_broker_data_points_rejected_total{frontend="grpc",reason="temporality"}')"
check "no rejected points under frontend http" 0 \
    "$(metric 'otlp_broker_data_points_rejected_total{frontend="http",reason="temporality"}')"
n=$(metric 'otlp_broker_received_bytes_total{frontend="grpc"}')
[ "${n:-0}" -gt 0 ] && ok "received bytes counted under frontend grpc ($n)" ||
    bad "received bytes of grpc: '$n'"
check "translator per listener" underscore_escaping_with_suffixes \
    "$(scrape | sed -n 's/^otlp_broker_translator_info{listener="grpc",plugin="\(.*\)"} 1$/\1/p')"
# HTTP still serves beside it.
check "HTTP beside gRPC" 200 "$(post /v1/metrics "$TMP/r2.bin")"
check "HTTP body bytes counted under frontend http" "$(stat -c %s "$TMP/r2.bin")" \
    "$(metric 'otlp_broker_received_bytes_total{frontend="http"}')"
stop_broker && ok "grpc broker: clean stop" || bad "grpc broker: clean stop"
rm -f "/dev/shm$STORE"

# ---- the same bodies over HTTP, a fresh broker and store
STORE=$STORE-http
start_broker -o grpc.listen=
grep -q 'listening on grpc' "$TMP/broker.log" && bad "grpc.listen= still listens" ||
    ok "empty grpc.listen: no gRPC frontend"
scrape | grep -q otlp_broker_grpc_connections && bad "gRPC self-metrics without gRPC" ||
    ok "no gRPC self-metrics without gRPC"
for f in r1.bin m0.bin m1.bin m2.bin m3.bin r2.bin unspecified.bin; do
    post /v1/metrics "$TMP/$f" >/dev/null
done
exposition "$TMP/http.txt"
check "HTTP body bytes: the seven bodies as sent" \
    "$(cat "$TMP"/{r1,m0,m1,m2,m3,r2,unspecified}.bin | wc -c)" \
    "$(metric 'otlp_broker_received_bytes_total{frontend="http"}')"
check "HTTP rejected points under frontend http" 1 \
    "$(metric 'otlp_broker_data_points_rejected_total{frontend="http",reason="temporality"}')"
if cmp -s "$TMP/grpc.txt" "$TMP/http.txt"; then
    ok "gRPC exposition equals HTTP's ($(wc -l <"$TMP/http.txt") lines)"
else
    bad "gRPC exposition differs from HTTP's: $(diff "$TMP/grpc.txt" "$TMP/http.txt" | head -5)"
fi
stop_broker && ok "http broker: clean stop" || bad "http broker: clean stop"
finish
