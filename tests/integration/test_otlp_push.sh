#!/usr/bin/env bash
# otlp-push against the real broker: one metric over ZeroMQ push, --wait over
# the reply socket, a rejected payload file, HTTP on both paths, exit codes.
source "$(dirname "$0")/lib.sh"
PUSH=$OB_BUILD/clients/otlp-push
start_broker

# run_push ARGS...: runs otlp-push; its stdout in $OUT, exit code in $RC.
run_push() {
    RC=0
    OUT=$("$PUSH" "$@" 2>"$TMP/push.err") || RC=$?
}

# scrape_has LINE: waits (the push socket answers nothing) until LINE shows.
scrape_has() {
    for _ in $(seq 1 100); do
        scrape >"$TMP/wait.txt" && grep -qxF "$1" "$TMP/wait.txt" && return 0
        sleep 0.05
    done
    return 1
}

run_push --endpoint "ipc://$TMP/pull" counter calc_operation 1 operation=add
check "push: exit 0" 0 "$RC"
check "push: prints sent" sent "$OUT"
L='calc_operation_total{job="otlp-push",operation="add"} 1'
scrape_has "$L" && ok "push: $L" || bad "push: $L not in $(scrape | grep calc_operation)"

run_push --endpoint "ipc://$TMP/reply" --wait --service calculator --unit ms \
    --description 'Duration of HTTP requests' histogram http.server.duration 42 \
    --bounds 10,50,100 http.route=/add
check "wait: exit 0" 0 "$RC"
check "wait: answer" accepted "$OUT"
scrape >"$TMP/s.txt"
check "wait: stored bucket" \
    'http_server_duration_milliseconds_bucket{http_route="/add",job="calculator",le="50"} 1' \
    "$(grep -F 'le="50"' "$TMP/s.txt")"
check "wait: stored sum" 'http_server_duration_milliseconds_sum{http_route="/add",job="calculator"} 42' \
    "$(grep '^http_server_duration_milliseconds_sum' "$TMP/s.txt")"
check "wait: HELP from --description" '# HELP http_server_duration_milliseconds Duration of HTTP requests' \
    "$(grep '^# HELP http_server_duration' "$TMP/s.txt")"

"$MKPAYLOAD" unspecified >"$TMP/unspec.bin"
run_push --endpoint "ipc://$TMP/reply" --wait --file "$TMP/unspec.bin"
check "no temporality over zmq: exit 1" 1 "$RC"
case $OUT in
"partial_success: rejected_data_points=1 error_message=\""*"temporality unspecified"*) ok "no temporality over zmq: partial_success printed" ;;
*) bad "no temporality over zmq: printed '$OUT'" ;;
esac
gzip -c "$TMP/unspec.bin" >"$TMP/unspec.bin.gz"
run_push --endpoint "ipc://$TMP/reply" --wait --file "$TMP/unspec.bin.gz" --gzip
check "no temporality gzip over zmq: exit 1" 1 "$RC"

run_push --endpoint "http://127.0.0.1:$PORT" gauge room.temperature 21.5 room=lab
check "http /v1/metrics: exit 0" 0 "$RC"
check "http /v1/metrics: answer" accepted "$OUT"
run_push --endpoint "http://localhost:$PORT/api/v1/otlp/v1/metrics" --service calculator \
    updown http.server.active_requests -2
check "http /api/v1/otlp/v1/metrics (localhost): exit 0" 0 "$RC"
run_push --endpoint "http://127.0.0.1:$PORT" --file "$TMP/unspec.bin.gz" --gzip
check "http no temporality gzip: exit 1" 1 "$RC"
case $OUT in partial_success:*) ok "http no temporality: partial_success" ;; *) bad "http no temporality: '$OUT'" ;; esac
printf 'not protobuf' >"$TMP/garbage.bin"
run_push --endpoint "http://127.0.0.1:$PORT" --file "$TMP/garbage.bin"
check "http garbage: exit 1 (refused)" 1 "$RC"
case $OUT in "refused: HTTP 400"*) ok "http garbage: refused printed" ;; *) bad "http garbage: '$OUT'" ;; esac
run_push --endpoint "ipc://$TMP/reply" --wait --file "$TMP/garbage.bin"
check "zmq garbage: exit 1 (refused)" 1 "$RC"
case $OUT in "refused: malformed:"*) ok "zmq garbage: refused printed" ;; *) bad "zmq garbage: '$OUT'" ;; esac
scrape >"$TMP/s2.txt"
check "http gauge stored" 'room_temperature{job="otlp-push",room="lab"} 21.5' \
    "$(grep '^room_temperature{' "$TMP/s2.txt")"
check "http updown stored" 'http_server_active_requests{job="calculator"} -2' \
    "$(grep '^http_server_active_requests{' "$TMP/s2.txt")"

# Transport errors: 3.  Usage errors: 2.
run_push --endpoint "http://127.0.0.1:1" gauge x 1
check "http, nothing listening: exit 3" 3 "$RC"
run_push --endpoint "ipc://$TMP/nobody" --timeout 300 gauge x 1
check "push, nobody at the endpoint: exit 3" 3 "$RC"
run_push --endpoint "ipc://$TMP/pull" --wait --timeout 300 gauge x 1
check "--wait on a pull socket (no answer): exit 3" 3 "$RC"
run_push --endpoint "tcp://no-such-host" gauge x 1
check "malformed tcp endpoint: exit 3" 3 "$RC"
run_push counter x
check "missing VALUE: exit 2" 2 "$RC"
run_push counter x -1
check "negative counter: exit 2" 2 "$RC"
run_push --bogus gauge x 1
check "unknown option: exit 2" 2 "$RC"
run_push --endpoint "udp://127.0.0.1:1" gauge x 1
check "unknown scheme: exit 2" 2 "$RC"
run_push histogram x 1 --bounds 5,1
check "descending bounds: exit 2" 2 "$RC"
run_push --file "$TMP/no-such-file"
check "missing file: exit 2" 2 "$RC"
run_push --help
check "--help: exit 0" 0 "$RC"
grep -q -- '--endpoint' <<<"$OUT" && ok "--help documents --endpoint" || bad "--help text"

stop_broker && ok "clean stop" || bad "clean stop"
finish
