#!/usr/bin/env bash
# rwsink, the remote-write receiver the sender's tests use: mkrw's fixed 1.0
# and 2.0 requests, posted with curl, must give exactly the dump below; bad
# requests are refused and counted; injected faults, Retry-After and a hang
# behave as the usage text says; SIGTERM stops it cleanly.
source "$(dirname "$0")/lib.sh"
MKRW=$OB_BUILD/tests/tools/mkrw

V1_CT='application/x-protobuf'
V2_CT='application/x-protobuf;proto=io.prometheus.write.v2.Request'
# rw FILE CONTENT-TYPE VERSION [curl args...]: POSTs; prints the status,
# headers in $TMP/headers, body in $TMP/resp.  Content-Encoding from $CE
# (default snappy; empty: none).
rw() {
    local file=$1 ct=$2 ver=$3 ce=(); shift 3
    [ -z "${CE-snappy}" ] || ce=(-H "Content-Encoding: ${CE-snappy}")
    curl -s -o "$TMP/resp" -D "$TMP/headers" -w '%{http_code}' -H "Content-Type: $ct" "${ce[@]}" \
        -H "X-Prometheus-Remote-Write-Version: $ver" "$@" \
        --data-binary "@$file" "$(url /api/v1/write)"
}
header() { tr -d '\r' <"$TMP/headers" | sed -n "s/^$1: //Ip"; }

"$MKRW" v1 >"$TMP/v1.sz"
"$MKRW" v2 >"$TMP/v2.sz"
"$MKRW" v1 --raw >"$TMP/v1.pb"

start_sink --dump "$TMP/dump.txt"
PORT=$SINK_PORT
check "v1 accepted" 204 "$(rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
check "v1 named proto accepted" 204 "$(rw "$TMP/v1.sz" "$V1_CT;proto=prometheus.WriteRequest" 0.1.0)"
check "v2 accepted" 204 "$(rw "$TMP/v2.sz" "$V2_CT" 2.0.0)"
check "v2 samples written" 3 "$(header X-Prometheus-Remote-Write-Samples-Written)"
check "v2 histograms written" 1 "$(header X-Prometheus-Remote-Write-Histograms-Written)"
check "v2 exemplars written" 1 "$(header X-Prometheus-Remote-Write-Exemplars-Written)"

check "not snappy -> 400" 400 "$(rw "$TMP/v1.pb" "$V1_CT" 0.1.0)"
grep -q 'not snappy' "$TMP/resp" && ok "400 says why" || bad "answer: $(cat "$TMP/resp")"
check "v1 with version 2.0.0 -> 400" 400 "$(rw "$TMP/v1.sz" "$V1_CT" 2.0.0)"
check "v2 with version 0.1.0 -> 400" 400 "$(rw "$TMP/v2.sz" "$V2_CT" 0.1.0)"
check "unknown proto -> 415" 415 "$(rw "$TMP/v1.sz" "$V1_CT;proto=foo.Bar" 0.1.0)"
check "gzip -> 415" 415 "$(CE=gzip rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
check "no Content-Encoding -> 415" 415 "$(CE= rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
check "no User-Agent -> 400" 400 "$(rw "$TMP/v1.sz" "$V1_CT" 0.1.0 -A '')"
head -c 100 "$TMP/v1.sz" >"$TMP/cut.sz"
check "truncated body -> 400" 400 "$(rw "$TMP/cut.sz" "$V1_CT" 0.1.0)"
check "GET -> 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /api/v1/write)")"
check "stats" "requests=11 ok=3 bad=8" "$(curl -s "$(url /-/stats)" | cut -d' ' -f1-3)"
stop_sink && ok "clean stop" || bad "clean stop"
check "counters at exit" "requests=11 ok=3 bad=8 injected=0 series=9 samples=11" \
    "$(cut -d' ' -f1-6 "$TMP/sink.out")"

# The v1 request twice (once per Content-Type form), then v2.
cat >"$TMP/v1.expect" <<'EOF'
# TYPE http_requests_total counter
# HELP http_requests_total Requests.\nAll of them.
# TYPE rpc_seconds histogram
# UNIT rpc_seconds seconds
http_requests_total{code="200",path="/a \"b\"\n"} 3 1700000000000
http_requests_total{code="200",path="/a \"b\"\n"} 4.5 1700000001000
http_requests_total{code="200",path="/a \"b\"\n"} StaleNaN 1700000002000
# EXEMPLAR http_requests_total{code="200",path="/a \"b\"\n"} {trace_id="4bf92f3577b34da6"} 1 1700000000500
up +Inf 1700000000000
# HISTOGRAM rpc_seconds{job="x"} 1700000000000 count=7 sum=12.25 schema=3 zero_threshold=1e-128 zero_count=1 reset=no pos=-2:2,3:1 pd=2,-1,3
EOF
{
    echo '# REQUEST 1 v1 series=3 samples=4 histograms=1 exemplars=1 metadata=2'
    cat "$TMP/v1.expect"
    echo '# REQUEST 2 v1 series=3 samples=4 histograms=1 exemplars=1 metadata=2'
    cat "$TMP/v1.expect"
    cat <<'EOF'
# REQUEST 3 v2 series=3 samples=3 histograms=1 exemplars=1 metadata=3
# TYPE http_requests_total counter
# HELP http_requests_total Requests.
# CREATED http_requests_total{code="200"} 1699999940000
http_requests_total{code="200"} 10 1700000000000
http_requests_total{code="200"} 0.001 1700000001000
# EXEMPLAR http_requests_total{code="200"} {trace_id="4bf92f3577b34da6"} 1 1700000000500
http_requests_total{code="500"} 2 1700000000000 st=1699999940000
# TYPE rpc_seconds gaugehistogram
# UNIT rpc_seconds seconds
# HISTOGRAM rpc_seconds{job="x"} 1700000000000 count_float=3.5 sum=2.75 schema=-53 zero_threshold=0 zero_count_float=0 reset=gauge pos=0:3 pc=1.5,0,2 custom=0.1,1 st=1699999999000
EOF
} >"$TMP/dump.expect"
if diff -u "$TMP/dump.expect" "$TMP/dump.txt" >"$TMP/dump.diff"; then
    ok "dump as expected"
else
    bad "dump differs:"; cat "$TMP/dump.diff"
fi

# A label value that is not UTF-8 is refused, decoded or walked.
"$MKRW" v1bad >"$TMP/v1bad.sz"
for mode in --dump --discard; do
    if [ "$mode" = --dump ]; then start_sink --dump "$TMP/bad.dump"; else start_sink --discard; fi
    PORT=$SINK_PORT
    check "$mode: not UTF-8 refused" 400 "$(rw "$TMP/v1bad.sz" "$V1_CT" 0.1.0)"
    grep -q 'UTF-8' "$TMP/resp" && ok "$mode: the answer says why" || bad "$mode answer: $(cat "$TMP/resp")"
    stop_sink || bad "$mode: clean stop"
done

# Faults: the 2nd request fails with the code asked, the others pass.
start_sink --discard --fail-nth 2:400 --fail-nth 3:503 --retry-after 7
PORT=$SINK_PORT
check "1st passes" 204 "$(rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
check "2nd injected 400" 400 "$(rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
grep -q 'injected 400 for request 2' "$TMP/resp" && ok "400 with a message" || bad "answer: $(cat "$TMP/resp")"
check "3rd injected 503" 503 "$(rw "$TMP/v2.sz" "$V2_CT" 2.0.0)"
check "503 Retry-After" 7 "$(header Retry-After)"
check "503 on v2 wrote nothing" 0 "$(header X-Prometheus-Remote-Write-Samples-Written)"
check "4th passes" 204 "$(rw "$TMP/v2.sz" "$V2_CT" 2.0.0)"
stop_sink && ok "clean stop" || bad "clean stop"
check "counters: injected, not bad" "requests=4 ok=2 bad=0 injected=2 series=6 samples=7" \
    "$(cut -d' ' -f1-6 "$TMP/sink.out")"

start_sink --status 429
PORT=$SINK_PORT
check "--status 429" 429 "$(rw "$TMP/v1.sz" "$V1_CT" 0.1.0)"
check "no Retry-After unless asked" "" "$(header Retry-After)"
stop_sink && ok "clean stop" || bad "clean stop"

# A hanging receiver: the client times out, SIGTERM still stops it at once.
start_sink --hang
PORT=$SINK_PORT
rc=0; rw "$TMP/v1.sz" "$V1_CT" 0.1.0 --max-time 1 >/dev/null || rc=$?
check "--hang: curl times out" 28 "$rc"
stop_sink && ok "stops while hanging" || bad "stops while hanging"
check "hung request counted" "requests=1 ok=0" "$(cut -d' ' -f1-2 "$TMP/sink.out")"
finish
