# lib.sh: shared helpers for the integration tests (sourced).
#
# Each test starts the real broker on a free loopback port with its own temp
# store and stops it by pid.  OB_BUILD selects the build tree (build/asan for
# the sanitizer run).
set -euo pipefail

OB_BUILD=${OB_BUILD:-build}
BROKER=$OB_BUILD/otlp-broker
MKPAYLOAD=$OB_BUILD/tests/tools/mkpayload
TMP=$(mktemp -d /tmp/ob-it.XXXXXX)
STORE=/ob-it-$$
BROKER_PID=
PORT=
PASS=0
FAIL=0

cleanup() {
    stop_sink || true
    stop_broker || true
    rm -f "/dev/shm${STORE}" "/dev/shm${STORE}.forward" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# start_broker [extra -o options...]: starts on 127.0.0.1:0, waits for ready.
start_broker() {
    : >"$TMP/broker.log"
    "$BROKER" -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 -o store.path="$STORE" \
        -o translator.plugin_dir="$OB_BUILD/plugins" -o store.max_series=20000 \
        -o zmq.pull="ipc://$TMP/pull" -o zmq.reply="ipc://$TMP/reply" \
        -o broker.log_level=info "$@" 2>>"$TMP/broker.log" &
    BROKER_PID=$!
    for _ in $(seq 1 200); do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log" | tail -1)
        if [ -n "$PORT" ] && curl -fs "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "broker did not start:"; cat "$TMP/broker.log"
    return 1
}

# rwsink, the remote-write receiver of the tests (tests/tools/rwsink.c).
SINK=$OB_BUILD/tests/tools/rwsink
SINK_PID=
SINK_PORT=

# start_sink [rwsink args...]: on $SINK_PORT when it is set (a restart on the
# same port), else on a free one, which sets SINK_PORT; waits for its port
# file.  Its stdout (the counters at exit) in $TMP/sink.out, stderr sink.err.
start_sink() {
    rm -f "$TMP/sink.port"
    "$SINK" --port "${SINK_PORT:-0}" --port-file "$TMP/sink.port" "$@" >"$TMP/sink.out" 2>"$TMP/sink.err" &
    SINK_PID=$!
    for _ in $(seq 1 200); do
        [ -s "$TMP/sink.port" ] && SINK_PORT=$(cat "$TMP/sink.port") && return 0
        sleep 0.02
    done
    echo "rwsink did not start:"; cat "$TMP/sink.err"
    return 1
}

# stop_sink: SIGTERM and wait; fails when rwsink did not exit cleanly.
stop_sink() {
    [ -n "$SINK_PID" ] || return 0
    kill -TERM "$SINK_PID" 2>/dev/null || true
    local rc=0
    wait "$SINK_PID" 2>/dev/null || rc=$?
    SINK_PID=
    [ "$rc" -eq 0 ] || { echo "rwsink exited with $rc"; cat "$TMP/sink.err"; return 1; }
}

stop_broker() {
    [ -n "$BROKER_PID" ] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    local rc=0
    wait "$BROKER_PID" 2>/dev/null || rc=$?
    BROKER_PID=
    # A sanitizer report makes the broker exit non-zero: that is a failure.
    if [ "$rc" -ne 0 ]; then
        echo "broker exited with $rc"; tail -50 "$TMP/broker.log"; return 1
    fi
}

kill9_broker() {
    kill -KILL "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}

url() { echo "http://127.0.0.1:$PORT$1"; }

# post PATH FILE [curl args...]: prints the HTTP status; body in $TMP/resp.
# Content type from $CT (default protobuf).
post() {
    local path=$1 file=$2; shift 2
    curl -s -o "$TMP/resp" -w '%{http_code}' -X POST \
        -H "Content-Type: ${CT:-application/x-protobuf}" "$@" --data-binary "@$file" "$(url "$path")"
}

scrape() { curl -fsS "$(url /metrics)"; }

# families NAME...: the exposition lines of the named families (HELP, TYPE, samples)
families() {
    local out=$1; shift
    local re=""
    for f in "$@"; do re="$re${re:+|}$f"; done
    grep -E "^(# (HELP|TYPE) )?($re)(_bucket|_sum|_count|_total)?[ {]" "$out" || true
}

ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
