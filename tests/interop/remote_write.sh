#!/usr/bin/env bash
# Remote write into real receivers, started here on loopback with temp data
# dirs and stopped by pid: Debian's Prometheus (remote-write receiver, a 10m
# out-of-order window, native histograms) and Debian's VictoriaMetrics.
#
# Each gets a fresh broker whose [remote_write.NAME] target points at it
# (protocol 1.0, batch_deadline 200ms).  The guide's calculator goes in over
# OTLP/HTTP (both paths) and ZeroMQ (PULL and the answered ROUTER socket):
# rounds 1, 3, 5, 7 in time order, then, once the receiver has taken those,
# rounds 2, 4, 6 at times between them (out of order).  receiver_check.py then
# compares the receiver's raw samples (Prometheus: a range selector through
# /api/v1/query; VictoriaMetrics: /api/v1/export) with the broker's /metrics:
# the same series with the same labels (buckets with le, _sum, _count,
# _total, target_info), nothing more, one sample per round with its value.
# Prometheus also gets a summary and an exponential histogram (a native
# histogram there: histogram_count and histogram_sum).
# VictoriaMetrics then takes 100,000 samples (1000 series x 100 timestamps,
# mkpayload shuffled: one random order over series and time, 20 OTLP
# requests) and its /api/v1/export must hold each exactly once.
#
# Metadata: the broker sends it (otlp_broker_remote_storage_metadata_total is
# checked), but neither receiver keeps remote-written metadata: Prometheus
# 2.42's /api/v1/metadata lists what its scrapes saw, VictoriaMetrics 1.79's
# is a stub.
source "$(dirname "$0")/../integration/lib.sh"
HERE=tests/interop
CHECK="/usr/bin/python3 $HERE/receiver_check.py"
PUSH=$OB_BUILD/clients/otlp-push
RCV_PID=

command -v prometheus >/dev/null || { bad "prometheus is not installed (make deps)"; finish; }
command -v victoria-metrics >/dev/null || { bad "victoria-metrics is not installed (make deps)"; finish; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
stop_receiver() {
    [ -n "$RCV_PID" ] || return 0
    kill "$RCV_PID" 2>/dev/null || true
    wait "$RCV_PID" 2>/dev/null || true
    RCV_PID=
}
trap 'stop_receiver; cleanup' EXIT

# wait_http URL: up to 30 s for a 200.
wait_http() {
    for _ in $(seq 1 300); do
        curl -fs -o /dev/null "$1" 2>/dev/null && return 0
        kill -0 "$RCV_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# rw_start NAME URL [broker args...]: a fresh broker and store forwarding to URL.
rw_start() {
    local name=$1 to=$2
    shift 2
    stop_broker || bad "clean stop"
    rm -f "/dev/shm$STORE" "/dev/shm$STORE.forward"
    start_broker -o remote_write.log_size=32MiB -o "remote_write.$name.url=$to" \
        -o "remote_write.$name.protocol=1.0" -o "remote_write.$name.batch_deadline=200ms" "$@"
}

# rw_metric NAME [LABEL-FILTER]: the sum of a self-metric's samples.
rw_metric() {
    scrape | grep "^$1[{ ]" | grep -- "${2:-}" | awk '{s += $NF} END {printf "%d\n", s}'
}

# rw_drain SAMPLES: until the target has taken SAMPLES float samples and has
# nothing pending (30 s at most); then checks that nothing was dropped.
rw_drain() {
    local want=$1 sent= pending=
    for _ in $(seq 1 300); do
        sent=$(rw_metric otlp_broker_remote_storage_samples_total)
        pending=$(rw_metric otlp_broker_remote_storage_samples_pending)
        [ "$sent" -ge "$want" ] && [ "$pending" = 0 ] && break
        sleep 0.1
    done
    check "$WHAT: the receiver took $want samples, none pending" "$want 0" "$sent $pending"
}

rw_healthy() {
    check "$WHAT: no sample dropped (refused, overwritten, ...)" 0 \
        "$(rw_metric otlp_broker_remote_storage_samples_dropped_total)"
    check "$WHAT: no failed request" 0 "$(rw_metric otlp_broker_remote_storage_failed_requests_total)"
    check "$WHAT: no data point rejected at ingest" 0 "$(rw_metric otlp_broker_data_points_rejected_total)"
}

zmq_ok() { rw_metric otlp_broker_requests_total 'frontend="zmq",outcome="ok"'; }

# calculator_rounds: rounds 1, 3, 5, 7 (20 s apart, from 2 minutes ago) over
# HTTP, ZeroMQ PULL, the Prometheus OTLP path and ZeroMQ ROUTER; after the
# receiver took them, rounds 2, 4, 6 between them (out of order).  Sets
# ROUNDS for receiver_check.py.  22 samples a round: 2 counters, 16 buckets, _sum,
# _count, the gauge, target_info.
calculator_rounds() {
    local t0=$(( ($(date +%s) - 120) * 1000 )) k
    for k in 1 2 3 4 5 6 7; do
        "$MKPAYLOAD" calculator --ts-ms $((t0 + (k - 1) * 10000)) --round "$k" >"$TMP/calc$k.bin"
    done
    ROUNDS=$(for k in 1 2 3 4 5 6 7; do printf '%s:%s,' "$k" $((t0 + (k - 1) * 10000)); done)
    ROUNDS=${ROUNDS%,}
    check "$WHAT: round 1 over OTLP/HTTP /v1/metrics" 200 "$(post /v1/metrics "$TMP/calc1.bin")"
    "$PUSH" -e "ipc://$TMP/pull" --file "$TMP/calc3.bin" >/dev/null || bad "$WHAT: push round 3"
    for _ in $(seq 1 200); do [ "$(zmq_ok)" = 1 ] && break; sleep 0.05; done
    check "$WHAT: round 3 over ZeroMQ PULL ingested" 1 "$(zmq_ok)"
    check "$WHAT: round 5 over OTLP/HTTP /api/v1/otlp/v1/metrics" 200 \
        "$(post /api/v1/otlp/v1/metrics "$TMP/calc5.bin")"
    check "$WHAT: round 7 over ZeroMQ ROUTER" accepted \
        "$("$PUSH" -e "ipc://$TMP/reply" --wait --file "$TMP/calc7.bin" 2>&1)"
    scrape >"$TMP/calc.scrape"
    rw_drain 88
    # Out of order, now that the receiver holds newer samples of every series.
    "$PUSH" -e "ipc://$TMP/pull" --file "$TMP/calc2.bin" >/dev/null || bad "$WHAT: push round 2"
    check "$WHAT: round 4 (out of order) over OTLP/HTTP" 200 "$(post /v1/metrics "$TMP/calc4.bin")"
    check "$WHAT: round 6 (out of order) over ZeroMQ ROUTER" accepted \
        "$("$PUSH" -e "ipc://$TMP/reply" --wait --file "$TMP/calc6.bin" 2>&1)"
    for _ in $(seq 1 200); do [ "$(zmq_ok)" = 4 ] && break; sleep 0.05; done
    check "$WHAT: 4 ZeroMQ requests ingested" 4 "$(zmq_ok)"
    rw_drain 154
    scrape >"$TMP/calc.scrape2"
    if diff <(grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' "$TMP/calc.scrape") \
        <(grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' "$TMP/calc.scrape2") >/dev/null; then
        ok "$WHAT: /metrics still shows round 7 after the out-of-order rounds"
    else
        bad "$WHAT: the out-of-order rounds changed /metrics"
    fi
    check "$WHAT: metadata sent for the 4 families" 4 \
        "$(rw_metric otlp_broker_remote_storage_metadata_total)"
}

# calc_check FORMAT FILE [SCRAPE ROUNDS]: receiver_check.py rounds on the
# receiver's answer (default: the calculator's).
calc_check() {
    local out rc=0
    out=$($CHECK rounds "${3:-$TMP/calc.scrape}" "${4:-$ROUNDS}" "$1" "$2" 2>&1) || rc=$?
    [ "$rc" = 0 ] && ok "$WHAT: $out" || bad "$WHAT: $out"
}

# ---------------- Prometheus 2.42
SECONDS=0
WHAT=prometheus
PROM_PORT=$(free_port)
PROM="http://127.0.0.1:$PROM_PORT"
cat >"$TMP/prom-rw.yml" <<'EOF'
# No scrapes: everything arrives by remote write.
global:
  evaluation_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 10m
EOF
prometheus --config.file="$TMP/prom-rw.yml" --storage.tsdb.path="$TMP/prom-rw-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms,exemplar-storage --log.level=warn >"$TMP/prom-rw.log" 2>&1 &
RCV_PID=$!
wait_http "$PROM/-/ready" && ok "$WHAT: ready" || { bad "$WHAT: not ready: $(tail -3 "$TMP/prom-rw.log")"; finish; }
check "$WHAT: the config's out_of_order_time_window taken" 1 \
    "$(curl -fs "$PROM/api/v1/status/config" | grep -c 'out_of_order_time_window: 10m')"

rw_start prom "$PROM/api/v1/write" -o remote_write.prom.native_histograms=true
calculator_rounds
curl -fsG "$PROM/api/v1/query" --data-urlencode 'query={job="calculator"}[10m]' \
    --data-urlencode "time=$(date +%s)" >"$TMP/prom-raw.json"
calc_check prom "$TMP/prom-raw.json"
# The out-of-order rounds went through Prometheus' out-of-order head.
curl -fs "$PROM/metrics" >"$TMP/prom-self.txt"
ooo=$(awk '/^prometheus_tsdb_head_out_of_order_samples_appended_total /{print $2}' "$TMP/prom-self.txt")
check "$WHAT: the 66 out-of-order samples appended as such" 66 "$ooo"
check "$WHAT: no sample refused as out of order/bounds" "0 0" \
    "$(awk '/^prometheus_tsdb_out_of_order_samples_total /{a=$2} /^prometheus_tsdb_out_of_bound_samples_total /{b=$2} END {print a+0, b+0}' "$TMP/prom-self.txt")"
# A summary (quantile series, _sum, _count), the exemplars payload's series
# and its exemplars, and an exponential histogram, which goes as a native
# histogram here (native_histograms = true: count 11, sum 123.5; /metrics
# shows it as classic buckets, left out of the comparison).
ts=$(( $(date +%s) * 1000 - 5000 ))
for k in summary exemplars exphist; do
    "$MKPAYLOAD" "$k" --ts-ms "$ts" >"$TMP/$k.bin"
    check "$WHAT: $k over OTLP/HTTP" 200 "$(post /v1/metrics "$TMP/$k.bin")"
done
rw_drain 168
for _ in $(seq 1 100); do
    [ "$(rw_metric otlp_broker_remote_storage_histograms_total)" -ge 1 ] &&
        [ "$(rw_metric otlp_broker_remote_storage_samples_pending)" = 0 ] && break
    sleep 0.1
done
scrape | grep 'job="special"' | grep -v '^request_size_bytes' >"$TMP/special.scrape"
curl -fsG "$PROM/api/v1/query" --data-urlencode 'query={job="special",__name__!~"request_size_bytes.*"}[10m]' \
    --data-urlencode "time=$(date +%s)" >"$TMP/prom-special.json"
calc_check prom "$TMP/prom-special.json" "$TMP/special.scrape" "1:$ts"
prom_value() {
    curl -fsG "$PROM/api/v1/query" --data-urlencode "query=$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(x["value"][1] for x in json.load(sys.stdin)["data"]["result"]))'
}
check "$WHAT: native histogram count, sum" "11 123.5" \
    "$(prom_value 'histogram_count(request_size_bytes{job="special"})') $(prom_value 'histogram_sum(request_size_bytes{job="special"})')"
check "$WHAT: as a native histogram only" "" "$(prom_value 'request_size_bytes_count')"
ex=$(curl -fsG "$PROM/api/v1/query_exemplars" --data-urlencode 'query=checkout_requests_total' \
    --data-urlencode "start=$(( $(date +%s) - 600 ))" --data-urlencode "end=$(( $(date +%s) + 60 ))" |
    /usr/bin/python3 -c 'import json,sys
for s in json.load(sys.stdin)["data"]:
    for e in s["exemplars"]:
        print(e["labels"].get("trace_id", ""), e["value"])')
check "$WHAT: the counters' exemplars, by remote write" \
    "0af7651916cd43dd8448eb211c80319c 2 5b8efff798038103d269b633813fc60c 3" "$(echo $ex | sort)"
rw_healthy
check "$WHAT: nothing in its log at warn or above" "" "$(grep -v '^$' "$TMP/prom-rw.log" | head -3)"
stop_broker && ok "$WHAT: broker clean stop" || bad "$WHAT: broker clean stop"
stop_receiver
echo "   ($WHAT: ${SECONDS}s)"

# ---------------- VictoriaMetrics 1.79
SECONDS=0
WHAT=victoria-metrics
VM_PORT=$(free_port)
VM="http://127.0.0.1:$VM_PORT"
victoria-metrics -httpListenAddr="127.0.0.1:$VM_PORT" -storageDataPath="$TMP/vm-data" \
    -retentionPeriod=100y -search.latencyOffset=0 -dedup.minScrapeInterval=1ms \
    -loggerLevel=WARN >"$TMP/vm.log" 2>&1 &
RCV_PID=$!
wait_http "$VM/health" && ok "$WHAT: ready" || { bad "$WHAT: not ready: $(tail -3 "$TMP/vm.log")"; finish; }

rw_start vm "$VM/api/v1/write"
calculator_rounds
curl -fs -o /dev/null "$VM/internal/force_flush"
curl -fsG "$VM/api/v1/export" --data-urlencode 'match[]={job="calculator"}' \
    --data-urlencode "start=$(( $(date +%s) - 600 ))" >"$TMP/vm-calc.jsonl"
calc_check vm "$TMP/vm-calc.jsonl"

# 100,000 samples in a shuffled order: 1000 series x 100 timestamps 2 s
# apart, from 5 minutes ago, in 20 requests of 5000 points.
T0=$(( ($(date +%s) - 300) * 1000 ))
posted=0
for b in $(seq 0 19); do
    "$MKPAYLOAD" shuffled --series 1000 --count 100 --points 5000 --batch "$b" \
        --ts-ms "$T0" --step-ms 2000 >"$TMP/grid.bin"
    [ "$(post /v1/metrics "$TMP/grid.bin")" = 200 ] && posted=$((posted + 1))
done
check "$WHAT: 20 shuffled requests of 5000 points accepted" 20 "$posted"
rw_drain 100154
curl -fs -o /dev/null "$VM/internal/force_flush"
curl -fsG "$VM/api/v1/export" --data-urlencode 'match[]={__name__="rw_shuffle"}' \
    --data-urlencode "start=$(( T0 / 1000 - 60 ))" >"$TMP/vm-grid.jsonl"
rc=0; out=$($CHECK grid 1000 100 "$T0" 2000 "$TMP/vm-grid.jsonl" 2>&1) || rc=$?
[ "$rc" = 0 ] && ok "$WHAT: $out" || bad "$WHAT: $out"
rw_healthy
check "$WHAT: nothing in its log at warn or above" "" "$(grep -v '^$' "$TMP/vm.log" | head -3)"
stop_broker && ok "$WHAT: broker clean stop" || bad "$WHAT: broker clean stop"
stop_receiver
echo "   ($WHAT: ${SECONDS}s)"
finish
