#!/usr/bin/env bash
# Interop: the real OpenTelemetry JS SDK exports to the broker (proto and
# JSON, plain and gzip, /v1/metrics via OTEL_EXPORTER_OTLP_ENDPOINT and the
# Prometheus path; OTLP/gRPC plain and gzip); Debian's Prometheus scrapes the
# broker and answers PromQL; promtool checks every exposition; remote_write.sh
# forwards to Debian's Prometheus and VictoriaMetrics.
source "$(dirname "$0")/../integration/lib.sh"
HERE=tests/interop
NODE_DIR=$OB_BUILD/interop
PROM_PID=

command -v node >/dev/null || { bad "node is not installed (Node.js 20 expected)"; finish; }
command -v prometheus >/dev/null || { bad "prometheus is not installed (make deps)"; finish; }

# npm packages: pinned by the committed package-lock.json, cached under build/.
if ! cmp -s "$HERE/package-lock.json" "$NODE_DIR/package-lock.json" || [ ! -d "$NODE_DIR/node_modules" ]; then
    mkdir -p "$NODE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm_config_cache="$PWD/../npm-cache" npm ci --no-audit --no-fund --loglevel=error) \
        || { bad "npm ci"; finish; }
fi

prom_cleanup() {
    if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
    cleanup
}
trap prom_cleanup EXIT

start_broker

# promtool: 0 = clean, 3 = lint notes only (it flags _milliseconds), 1 = broken.
promtool_check() {
    local rc=0
    promtool check metrics <"$1" >"$TMP/promtool.out" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; then ok "promtool check metrics ($2)"
    else bad "promtool check metrics ($2): $(head -5 "$TMP/promtool.out")"; fi
}

# export DESCRIPTION ENV... -- ARGS: runs the SDK app, which fails on export errors.
sdk_export() {
    local what=$1; shift
    if env NODE_PATH="$NODE_DIR/node_modules" "$@" node "$HERE/calculator.js" ${SDK_ARGS:-} \
        >"$TMP/node.out" 2>&1; then
        ok "SDK export: $what"
    else
        bad "SDK export: $what: $(tail -3 "$TMP/node.out")"
    fi
    scrape >"$TMP/scrape.txt"
    check "add after $what" 'calc_operation_total{job="calculator",operation="add"} 3' \
        "$(grep '^calc_operation_total{job="calculator",operation="add"}' "$TMP/scrape.txt")"
    promtool_check "$TMP/scrape.txt" "$what"
}

BASE="http://127.0.0.1:$PORT"
SDK_ARGS=proto      sdk_export "proto via OTEL_EXPORTER_OTLP_ENDPOINT" OTEL_EXPORTER_OTLP_ENDPOINT="$BASE"
SDK_ARGS="proto gzip" sdk_export "proto+gzip /v1/metrics" OB_METRICS_URL="$BASE/v1/metrics"
SDK_ARGS=json       sdk_export "json via OTEL_EXPORTER_OTLP_ENDPOINT" OTEL_EXPORTER_OTLP_ENDPOINT="$BASE"
SDK_ARGS="json gzip" sdk_export "json+gzip Prometheus path" OB_METRICS_URL="$BASE/api/v1/otlp/v1/metrics"
SDK_ARGS=proto      sdk_export "proto Prometheus path" OB_METRICS_URL="$BASE/api/v1/otlp/v1/metrics"

s=$(grep -c '^http_server_duration_milliseconds_bucket{' "$TMP/scrape.txt")
check "histogram buckets exposed (15 bounds + Inf, 2 routes)" 32 "$s"
check "counter came as a double, point not rejected" 0 \
    "$(grep '^otlp_broker_data_points_rejected_total' "$TMP/scrape.txt" | awk '{s+=$2} END {print s}')"

# Exemplars: the JS SDK 2.x exports none, so a built payload brings them
# (tests/unit/ob_payloads.h, "exemplars").
"$MKPAYLOAD" exemplars >"$TMP/ex.bin"
check "exemplar payload accepted" 200 "$(post /v1/metrics "$TMP/ex.bin")"

# Prometheus scrapes the broker: by default (it asks for OpenMetrics first),
# with --enable-feature=exemplar-storage, and with
# --enable-feature=native-histograms,exemplar-storage (protobuf first).  The
# same PromQL answers every time; with exemplar-storage the exemplars are read
# back through /api/v1/query_exemplars (le="1.0" from protobuf: Prometheus
# writes the bounds it reads there that way).
PROM_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed "s/127.0.0.1:4318/127.0.0.1:$PORT/" "$HERE/prometheus.yml" >"$TMP/prometheus.yml"

query() { # query PROMQL -> prints "value" of the first result, or nothing
    curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)["data"]["result"]
print(d[0]["value"][1] if d else "")' 2>/dev/null || true
}
count() { query "count($1)"; }

# The exemplars Prometheus stored for a series selector, one line each:
# "series-labels | exemplar-labels | value", sorted.
exemplars() {
    local now
    now=$(date +%s)
    curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query_exemplars" --data-urlencode "query=$1" \
        --data-urlencode "start=$((now - 600))" --data-urlencode "end=$((now + 60))" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys
lab = lambda d: ",".join("%s=%s" % kv for kv in sorted(d.items()) if kv[0] not in ("instance",))
for s in json.load(sys.stdin)["data"]:
    for e in s["exemplars"]:
        print("%s | %s | %s" % (lab(s["seriesLabels"]), lab(e["labels"]), e["value"]))' 2>/dev/null |
        sort -u || true
}

# prom_exemplars WHAT LE USER: LE is how Prometheus writes the bound 1 it
# read, USER the exemplar label value u-"2" as it keeps it (its OpenMetrics
# parser, 2.42, leaves the escapes of exemplar label values in; protobuf and
# the strict Python parser give the value itself).
prom_exemplars() {
    local what=$1 le1=$2 user=$3 got=
    for _ in $(seq 1 20); do
        got=$(exemplars 'checkout_requests_total{route="/a"}')
        [ -n "$got" ] && break
        sleep 0.5
    done
    check "$what: query_exemplars on the counter" \
        "__name__=checkout_requests_total,job=special,route=/a | span_id=b7ad6b7169203331,trace_id=0af7651916cd43dd8448eb211c80319c,user_id=$user | 2" \
        "$got"
    check "$what: query_exemplars on the buckets" \
        "$(printf '%s\n' \
            '__name__=checkout_duration_seconds_bucket,job=special,le=+Inf | span_id=eee19b7ec3c1b174,trace_id=0af7651916cd43dd8448eb211c80319c | 3' \
            '__name__=checkout_duration_seconds_bucket,job=special,le=0.1 | span_id=eee19b7ec3c1b174,trace_id=5b8efff798038103d269b633813fc60c | 0.05' \
            "__name__=checkout_duration_seconds_bucket,job=special,le=$le1 | span_id=b7ad6b7169203331,trace_id=0af7651916cd43dd8448eb211c80319c | 1")" \
        "$(exemplars 'checkout_duration_seconds_bucket')"
    check "$what: no exemplars on the gauge" "" "$(exemplars 'checkout_inflight')"
}

# prom_round WHAT [prometheus flags...]: a fresh Prometheus, the checks, stop.
prom_round() {
    local what=$1; shift
    rm -rf "$TMP/prom-data"
    prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn "$@" >"$TMP/prom.log" 2>&1 &
    PROM_PID=$!
    local got=
    for _ in $(seq 1 60); do
        got=$(query 'calc_operation_total{job="calculator",operation="add"}')
        [ -n "$got" ] && break
        sleep 0.5
    done
    check "$what: PromQL calc_operation_total{job=\"calculator\",operation=\"add\"}" 3 "$got"
    check "$what: PromQL le series up to +Inf" 1 "$(count 'http_server_duration_milliseconds_bucket{job="calculator",le="+Inf"} > 0' | sed 's/^[1-9][0-9]*$/1/')"
    check "$what: PromQL 16 le values per route" 16 "$(query 'count(count by (le) (http_server_duration_milliseconds_bucket{job="calculator",http_route="/add"}))')"
    check "$what: PromQL _count" 3 "$(query 'http_server_duration_milliseconds_count{job="calculator",http_route="/add"}')"
    check "$what: PromQL _sum" 312 "$(query 'http_server_duration_milliseconds_sum{job="calculator",http_route="/add"}')"
    check "$what: PromQL up-down counter" 0 "$(query 'http_server_active_requests{job="calculator",http_method="GET"}')"
    check "$what: PromQL target_info" 1 "$(query 'target_info{job="calculator",telemetry_sdk_language="nodejs"}')"
    check "$what: PromQL up" 1 "$(query 'up{job="otlp-broker"}')"
    check "$what: PromQL a self-metric counter" 1 "$(count 'otlp_broker_requests_total{frontend="http",outcome="ok"} > 0')"
    local health
    health=$(curl -fs "http://127.0.0.1:$PROM_PORT/api/v1/targets" | /usr/bin/python3 -c 'import json,sys
t=json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(x["health"]+":"+x["lastError"] for x in t))')
    check "$what: Prometheus target health" "up:" "$health"
    case "$*" in
    *native-histograms*exemplar-storage*) prom_exemplars "$what" 1.0 'u-"2"' ;;
    *exemplar-storage*) prom_exemplars "$what" 1 'u-\"2\"' ;;
    esac
    kill "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=
}
prom_round "OpenMetrics"
prom_round "OpenMetrics with exemplars" --enable-feature=exemplar-storage
prom_round "protobuf" --enable-feature=native-histograms,exemplar-storage
stop_broker && ok "clean stop" || bad "clean stop"

# Delta temporality (the SDK's own OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE):
# the broker adds the deltas up in its store, across a kill -9 and restart
# between the SDK's two exports.  A fresh store: the series above were
# cumulative, and one series takes one temporality.
rm -f "/dev/shm$STORE"
start_broker
BASE="http://127.0.0.1:$PORT"
env NODE_PATH="$NODE_DIR/node_modules" OTEL_EXPORTER_OTLP_ENDPOINT="$BASE" \
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta OB_BETWEEN_EXPORTS="$TMP/go" \
    node "$HERE/calculator.js" proto >"$TMP/node.out" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 200); do grep -q 'first export done' "$TMP/node.out" && break; sleep 0.05; done
check "delta: first export" 'calc_operation_total{job="calculator",operation="add"} 2' \
    "$(scrape | grep '^calc_operation_total{job="calculator",operation="add"}')"
kill9_broker
start_broker -o "http.listen=127.0.0.1:$PORT"
touch "$TMP/go"
wait "$NODE_PID" && ok "delta: SDK export after the broker's kill -9 and restart" ||
    bad "delta: SDK: $(tail -3 "$TMP/node.out")"
scrape >"$TMP/delta.txt"
check "delta: calc_operation_total counts every operation across the restart" \
    'calc_operation_total{job="calculator",operation="add"} 3' \
    "$(grep '^calc_operation_total{job="calculator",operation="add"}' "$TMP/delta.txt")"
check "delta: the other series kept its total" \
    'calc_operation_total{job="calculator",operation="sub"} 1' \
    "$(grep '^calc_operation_total{job="calculator",operation="sub"}' "$TMP/delta.txt")"
check "delta: histogram count added up" 1 \
    "$(grep -c '^http_server_duration_milliseconds_count{http_method="GET",http_route="/add",job="calculator"} 3$' "$TMP/delta.txt")"
check "delta: no point refused" 0 \
    "$(grep '^otlp_broker_data_points_rejected_total' "$TMP/delta.txt" | awk '{s+=$2} END {print s}')"
promtool_check "$TMP/delta.txt" "delta"
stop_broker && ok "clean stop" || bad "clean stop"

# Exponential histograms (the SDK's exponential-histogram view on
# http.server.duration): Prometheus with native-histograms reads them as
# native histograms from protobuf, one without the flag gets classic buckets;
# /add recorded 12, 40 and 260 ms, /sub 7 ms.
rm -f "/dev/shm$STORE"
start_broker
env NODE_PATH="$NODE_DIR/node_modules" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" \
    OB_EXPONENTIAL=1 node "$HERE/calculator.js" proto >"$TMP/node.out" 2>&1 &&
    ok "exponential: SDK export" || bad "exponential: SDK: $(tail -3 "$TMP/node.out")"
scrape >"$TMP/exp.txt"
check "exponential: no point refused" 0 \
    "$(grep '^otlp_broker_data_points_rejected_total' "$TMP/exp.txt" | awk '{s+=$2} END {print s}')"
check "exponential: classic count" 1 \
    "$(grep -c '^http_server_duration_milliseconds_count{http_method="GET",http_route="/add",job="calculator"} 3$' "$TMP/exp.txt")"
promtool_check "$TMP/exp.txt" "exponential, classic buckets"

# exp_round WHAT [flags]: a fresh Prometheus, then the histogram's count and
# median (40 ms, inside the bucket that holds it: native buckets at scale 8
# are 0.3 % wide; classic ones after merging to 40 buckets, wider).
exp_round() {
    local what=$1 lo=$2 hi=$3; shift 3
    rm -rf "$TMP/prom-data"
    prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn "$@" >"$TMP/prom.log" 2>&1 &
    PROM_PID=$!
    local sel='{job="calculator",http_route="/add"}' count= median=
    for _ in $(seq 1 60); do
        count=$(query "histogram_count(http_server_duration_milliseconds$sel)")
        [ -n "$count" ] || count=$(query "http_server_duration_milliseconds_count$sel")
        [ -n "$count" ] && break
        sleep 0.5
    done
    case "$*" in
    *native-histograms*)
        check "$what: histogram_count of the native series" 3 "$count"
        median=$(query "histogram_quantile(0.5, http_server_duration_milliseconds$sel)")
        check "$what: no classic series beside it" "" \
            "$(query "count(http_server_duration_milliseconds_bucket$sel)")" ;;
    *)
        check "$what: _count of the classic series" 3 "$count"
        median=$(query "histogram_quantile(0.5, http_server_duration_milliseconds_bucket$sel)") ;;
    esac
    awk -v m="$median" -v lo="$lo" -v hi="$hi" 'BEGIN {exit !(m != "" && m >= lo && m <= hi)}' &&
        ok "$what: histogram_quantile(0.5) = $median (40 recorded)" ||
        bad "$what: histogram_quantile(0.5) = '$median', want $lo..$hi"
    kill "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
    PROM_PID=
}
sed "s/127.0.0.1:4318/127.0.0.1:$PORT/" "$HERE/prometheus.yml" >"$TMP/prometheus.yml" # this broker
exp_round "exponential, native (protobuf)" 39.5 40.5 --enable-feature=native-histograms
exp_round "exponential, classic (OpenMetrics)" 32 64
stop_broker && ok "clean stop" || bad "clean stop"

# OTLP/gRPC: the SDK's gRPC exporter (@grpc/grpc-js), plain and gzip, via
# OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port> and
# OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc, each into a fresh broker and
# store; the exposition (self-metrics aside) must equal the one the same app
# gives over OTLP/HTTP (proto) to another fresh broker.  Prometheus scrapes
# the gRPC-fed broker.
expo_of() { scrape | grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' >"$1"; }
grpc_port() {
    sed -n 's|.*listening on grpc://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log" | tail -1
}
# fresh_run NAME ARGS ENDPOINT-KIND: a fresh broker, the app once, its exposition in $TMP/NAME.txt
fresh_run() {
    local name=$1 args=$2 kind=$3 endpoint
    rm -f "/dev/shm$STORE"
    start_broker
    if [ "$kind" = grpc ]; then endpoint="http://127.0.0.1:$(grpc_port)"
    else endpoint="http://127.0.0.1:$PORT"; fi
    SDK_ARGS=$args sdk_export "$name" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" \
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="$kind"
    expo_of "$TMP/$name.txt"
}
fresh_run http-proto proto http/protobuf
stop_broker || bad "clean stop (http-proto)"
fresh_run grpc-gzip "grpc gzip" grpc
check "grpc+gzip: 3 exports (2 flushes, shutdown) under frontend grpc" 3 \
    "$(scrape | sed -n 's/^otlp_broker_requests_total{frontend="grpc",outcome="ok"} //p')"
stop_broker || bad "clean stop (grpc-gzip)"
fresh_run grpc-plain grpc grpc
check "grpc: 3 exports under frontend grpc" 3 \
    "$(scrape | sed -n 's/^otlp_broker_requests_total{frontend="grpc",outcome="ok"} //p')"
for g in grpc-plain grpc-gzip; do
    if cmp -s "$TMP/http-proto.txt" "$TMP/$g.txt"; then
        ok "$g: exposition equals OTLP/HTTP's ($(wc -l <"$TMP/$g.txt") lines)"
    else
        bad "$g: exposition differs: $(diff "$TMP/http-proto.txt" "$TMP/$g.txt" | head -5)"
    fi
done
sed "s/127.0.0.1:4318/127.0.0.1:$PORT/" "$HERE/prometheus.yml" >"$TMP/prometheus.yml"
rm -rf "$TMP/prom-data"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prom.log" 2>&1 &
PROM_PID=$!
got=
for _ in $(seq 1 60); do
    got=$(query 'calc_operation_total{job="calculator",operation="add"}')
    [ -n "$got" ] && break
    sleep 0.5
done
check "gRPC-fed: PromQL calc_operation_total{operation=\"add\"}" 3 "$got"
check "gRPC-fed: PromQL _sum" 312 \
    "$(query 'http_server_duration_milliseconds_sum{job="calculator",http_route="/add"}')"
check "gRPC-fed: PromQL the grpc self-metric" 3 \
    "$(query 'otlp_broker_requests_total{frontend="grpc",outcome="ok"}')"
kill "$PROM_PID" 2>/dev/null || true
wait "$PROM_PID" 2>/dev/null || true
PROM_PID=
stop_broker && ok "clean stop" || bad "clean stop"

# Remote write into Debian's Prometheus and VictoriaMetrics: its own script
# (own brokers, receivers and temp dirs), counted here as one result.
echo "== $HERE/remote_write.sh"
if OB_BUILD=$OB_BUILD bash "$HERE/remote_write.sh"; then ok "remote write interop"
else bad "remote write interop"; fi
finish
