#!/usr/bin/env bash
# /metrics formats: the Accept header decides (ob_accept.h), the Content-Type
# says what was chosen, and third-party parsers (Debian's
# python3-prometheus-client: its strict OpenMetrics parser and its text
# parser) read every format with the same samples.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
start_broker
"$MKPAYLOAD" calculator --ts-ms $(( $(date +%s) * 1000 - 10000 )) --round 1 >"$TMP/r1.bin"
check "ingest calculator" 200 "$(post /v1/metrics "$TMP/r1.bin")"
"$OB_BUILD/bench/loadgen" --port "$PORT" --requests 20 >/dev/null 2>&1 && ok "ingest mixed dataset" ||
    bad "loadgen"
"$MKPAYLOAD" exemplars >"$TMP/ex.bin"
check "ingest exemplars" 200 "$(post /v1/metrics "$TMP/ex.bin")"

ctype() { grep -i '^content-type:' "$1" | tr -d '\r' | cut -d' ' -f2-; }
get() { # FILE ACCEPT [curl args]
    local f=$1 a=$2; shift 2
    curl -fsS -D "$f.h" ${a:+-H "Accept: $a"} "$@" "$(url /metrics)" >"$f"
}

PROM242='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
get "$TMP/om1" "$PROM242"
check "Prometheus 2.42's Accept: OpenMetrics 1.0.0" \
    "application/openmetrics-text; version=1.0.0; charset=utf-8" "$(ctype "$TMP/om1.h")"
check "OpenMetrics ends with # EOF" "# EOF" "$(tail -n1 "$TMP/om1")"
check "OpenMetrics: counter family without _total" 1 \
    "$(grep -c '^# TYPE calc_operation counter$' "$TMP/om1")"
check "OpenMetrics: its samples with _total" 1 \
    "$(grep -c '^calc_operation_total{job="calculator",operation="add"} 3$' "$TMP/om1")"
check "OpenMetrics: # UNIT from the translator" 1 \
    "$(grep -c '^# UNIT http_server_duration_milliseconds milliseconds$' "$TMP/om1")"
check "OpenMetrics: _created from the start time" 1 \
    "$(grep -c '^calc_operation_created{job="calculator",operation="add"} ' "$TMP/om1")"
check "text 0.0.4: neither UNIT nor _created" 0 \
    "$(curl -fsS "$(url /metrics)" | grep -c '^# UNIT\|_created{')"
check "OpenMetrics: self-metric counters too" 1 \
    "$(grep -c '^# TYPE otlp_broker_requests counter$' "$TMP/om1")"

get "$TMP/text" ""
check "no Accept: text 0.0.4" "text/plain; version=0.0.4; charset=utf-8" "$(ctype "$TMP/text.h")"
get "$TMP/curl" "*/*"
check "curl's */*: text 0.0.4" "text/plain; version=0.0.4; charset=utf-8" "$(ctype "$TMP/curl.h")"
get "$TMP/om0" "application/openmetrics-text"
check "OpenMetrics without version: 0.0.1" \
    "application/openmetrics-text; version=0.0.1; charset=utf-8" "$(ctype "$TMP/om0.h")"
get "$TMP/omesc" "application/openmetrics-text;version=1.0.0;escaping=underscores"
check "escaping asked: named in the answer" \
    "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores" \
    "$(ctype "$TMP/omesc.h")"
get "$TMP/om1.gz" "$PROM242" -H 'Accept-Encoding: gzip'
check "OpenMetrics gzip" "gzip" "$(grep -i '^content-encoding:' "$TMP/om1.gz.h" | tr -d '\r' | cut -d' ' -f2)"
check "OpenMetrics gzip inflates to # EOF" "# EOF" "$(gzip -dc <"$TMP/om1.gz" | tail -n1)"

# The same samples through both parsers (scraped once more, after the
# broker's own counters moved on: compare the store's families only).
get "$TMP/om_b" "$PROM242"
get "$TMP/text_b" ""
grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' "$TMP/text_b" >"$TMP/text_s"
{ grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' "$TMP/om_b"; } >"$TMP/om_s"
while IFS= read -r line; do
    case $line in ok*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac
done < <("$PY" "$(dirname "$0")/formats_check.py" "$TMP/om_s" "$TMP/text_s" 2>&1)
# and the whole OpenMetrics answer, self-metrics included
"$PY" -c "
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as p
list(p(open(sys.argv[1]).read()))" "$TMP/om_b" 2>"$TMP/py.err" &&
    ok "the whole OpenMetrics answer parses (self-metrics included)" || bad "$(tail -1 "$TMP/py.err")"

# Prometheus protobuf (what Prometheus with --enable-feature=native-histograms
# asks for first): decoded with code protoc generates from proto/, compared
# with the text exposition series by series.
PB='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'
PROMNH="$PB,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
get "$TMP/pb" "$PROMNH"
check "native-histograms Accept: protobuf" \
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited" \
    "$(ctype "$TMP/pb.h")"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$TMP/py"
protoc -I "$ROOT/proto" --python_out="$TMP/py" "$ROOT/proto/io/prometheus/client/metrics.proto" &&
    ok "protoc generates Python from proto/" || bad "protoc"
get "$TMP/pb_b" "$PB"
get "$TMP/text_c" ""
grep -v '^otlp_broker_\|^# [A-Z]* otlp_broker_' "$TMP/text_c" >"$TMP/text_cs"
"$PY" - "$TMP/pb_b" "$TMP/pb_s" <<'PYEOF'
import sys   # the protobuf answer without the self-metric families (they moved on)
data = open(sys.argv[1], "rb").read()
out, i = bytearray(), 0
while i < len(data):
    n, shift, j = 0, 0, i
    while True:
        b = data[j]; j += 1; n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80:
            break
    body = data[j:j + n]
    # field 1 (name) comes first: tag 0x0a, a length, the name
    ln, k, shift = 0, 1, 0
    while True:
        b = body[k]; k += 1; ln |= (b & 0x7F) << shift; shift += 7
        if b < 0x80:
            break
    if not body[k:k + ln].startswith(b"otlp_broker_"):
        out += data[i:j + n]
    i = j + n
open(sys.argv[2], "wb").write(out)
PYEOF
while IFS= read -r line; do
    case $line in ok*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac
done < <("$PY" "$(dirname "$0")/pb_check.py" "$TMP/py/io/prometheus/client/metrics_pb2.py" \
             "$TMP/pb_s" "$TMP/text_cs" 2>&1)

# Exemplars: the same in OpenMetrics (strict parser) and protobuf; none in
# text 0.0.4 (3 counter series and buckets 0.1, 1 and +Inf of mkpayload's).
get "$TMP/om_x" "$PROM242"
get "$TMP/pb_x" "$PB"
while IFS= read -r line; do
    case $line in ok*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac
done < <("$PY" "$(dirname "$0")/exemplar_check.py" "$TMP/py/io/prometheus/client/metrics_pb2.py" \
             "$TMP/pb_x" "$TMP/om_x" 5 2>&1)
check "OpenMetrics: the newest counter exemplar, ids in hex" 1 \
    "$(grep -c '^checkout_requests_total{job="special",route="/a"} 7 # {span_id="b7ad6b7169203331",trace_id="0af7651916cd43dd8448eb211c80319c",user_id="u-\\"2\\""} 2 ' "$TMP/om_x")"
check "text 0.0.4: no exemplars" 0 "$(curl -fsS "$(url /metrics)" | grep -c ' # {')"
check "exemplars counted" 1 \
    "$(curl -fsS "$(url /metrics)" | grep -c '^otlp_broker_exemplars_dropped_total{reason="invalid"} 2$')"

stop_broker && ok "clean stop" || bad "clean stop"
finish
