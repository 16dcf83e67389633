#!/usr/bin/env bash
# The otlpbroker Python module and the calculator example against the real
# broker (tests/integration/test_python.py).  Needs /usr/bin/python3 with
# Debian's python3-zmq, python3-protobuf and python3-flask (`make deps`) and
# the generated protobuf code in $OB_BUILD/python (`make python`).
source "$(dirname "$0")/lib.sh"
PY=${OB_PYTHON:-/usr/bin/python3}
start_broker

export PYTHONPATH="clients/python:$OB_BUILD/python"
export OB_PULL="ipc://$TMP/pull" OB_REPLY="ipc://$TMP/reply" OB_URL="http://127.0.0.1:$PORT"
# For the test that starts (and kill -9s) a broker of its own.
export OB_BROKER="$BROKER" OB_PLUGINS="$OB_BUILD/plugins"
export TMPDIR=$TMP PYTHONDONTWRITEBYTECODE=1
if "$PY" tests/integration/test_python.py 2>"$TMP/py.log"; then
    ok "python tests ($(grep -c ' ... ok$' "$TMP/py.log") passed)"
else
    cat "$TMP/py.log"
    bad "python tests"
fi
grep -q ' ... skipped' "$TMP/py.log" && bad "python tests skipped: $(grep ' ... skipped' "$TMP/py.log")"

stop_broker && ok "clean stop" || bad "clean stop"
finish
