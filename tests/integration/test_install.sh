#!/usr/bin/env bash
# make install into a DESTDIR, the installed broker run from there (its
# plugins found beside it, no plugin_dir given), systemd-analyze verify on
# the installed unit, the sd_notify protocol on a socket of ours, make
# uninstall leaving nothing behind.
source "$(dirname "$0")/lib.sh"
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$TMP/root
PFX=/usr/local
SANFLAG=0
case $OB_BUILD in *asan*) SANFLAG=1 ;; esac

make -s -C "$ROOT_DIR" BUILD="$OB_BUILD" SAN="$SANFLAG" install DESTDIR="$DEST" >"$TMP/install.log" 2>&1 &&
    ok "make install DESTDIR" || bad "make install: $(tail -3 "$TMP/install.log")"
for f in sbin/otlp-broker sbin/otlp-broker-inspect \
         lib/otlp-broker/plugins/underscore_escaping_with_suffixes.so \
         etc/otlp-broker/otlp-broker.ini include/otlp-broker/translator.h \
         share/man/man8/otlp-broker.8 share/man/man1/otlp-push.1 \
         lib/systemd/system/otlp-broker.service lib/sysusers.d/otlp-broker.conf bin/otlp-push \
         lib/libotlpbroker-client.a include/otlpbroker/client.h; do
    [ -e "$DEST$PFX/$f" ] && ok "installed $f" || bad "missing $PFX/$f"
done
check "the installed configuration is the defaults" "" \
    "$(diff "$ROOT_DIR/etc/otlp-broker.ini" "$DEST$PFX/etc/otlp-broker/otlp-broker.ini")"

# The installed broker, moved under DEST: the compiled-in plugin_dir
# ($PFX/lib/otlp-broker/plugins) is not there, the plugins beside it are.
cat >"$TMP/t.ini" <<INI
[broker]
log_format = logfmt
[http]
listen = 127.0.0.1:0
[grpc]
listen = 127.0.0.1:0
[store]
path = $STORE
[zmq]
pull = ipc://$TMP/pull
reply = ipc://$TMP/reply
INI
BROKER=$DEST$PFX/sbin/otlp-broker
NOTIFY_SOCKET=$TMP/notify /usr/bin/python3 - "$TMP/notify" "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w", buffering=1) as log:
    while True:
        msg = s.recv(4096).decode()
        log.write(msg.replace("\n", " ") + "\n")
        if "STOPPING=1" in msg:
            break
PY
LISTENER=$!
for _ in $(seq 1 100); do [ -S "$TMP/notify" ] && break; sleep 0.05; done
: >"$TMP/broker.log"
NOTIFY_SOCKET=$TMP/notify "$BROKER" -c "$TMP/t.ini" 2>>"$TMP/broker.log" &
BROKER_PID=$!
for _ in $(seq 1 200); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker.log" | tail -1)
    [ -n "$PORT" ] && curl -fs "$(url /-/ready)" >/dev/null 2>&1 && break
    sleep 0.05
done
check "installed broker ready" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /-/ready)")"
check "log_format=logfmt: every line" 0 "$(grep -cv '^ts=[0-9T:.-]*Z level=[a-z]* component=[a-z]* msg="' "$TMP/broker.log")"
grep -q "plugins from $DEST$PFX/sbin/../lib/otlp-broker/plugins" "$TMP/broker.log" &&
    ok "plugins found beside the installed executable, and said so" ||
    bad "plugin dir: $(grep translator "$TMP/broker.log" | head -3)"
"$MKPAYLOAD" calculator >"$TMP/calc.bin"
check "ingest through the installed broker" 200 "$(post /v1/metrics "$TMP/calc.bin")"
check "and scraped" 1 "$(scrape | grep -c '^calc_operation_total{job="calculator",operation="add"} 3$')"
for _ in $(seq 1 100); do grep -q READY=1 "$TMP/notify.log" 2>/dev/null && break; sleep 0.05; done
check "sd_notify: READY=1 once ready" 1 "$(grep -c '^READY=1 STATUS=serving MAINPID='"$BROKER_PID"'$' "$TMP/notify.log")"
kill -HUP "$BROKER_PID"
for _ in $(seq 1 100); do [ "$(grep -c '^READY=1$' "$TMP/notify.log")" -ge 1 ] && break; sleep 0.05; done
check "sd_notify: RELOADING=1 on SIGHUP, then READY=1" "RELOADING=1 READY=1" \
    "$(sed -n '2,3p' "$TMP/notify.log" | sed 's/ MONOTONIC_USEC=[0-9]*//' | tr '\n' ' ' | sed 's/ $//')"
stop_broker && ok "clean stop" || bad "clean stop"
wait "$LISTENER" 2>/dev/null
check "sd_notify: STOPPING=1 on SIGTERM" 1 "$(grep -c '^STOPPING=1$' "$TMP/notify.log")"

# The unit as installed, its paths pointed into DEST (systemd-analyze
# checks that the executables exist).
sed "s|$PFX/|$DEST$PFX/|g" "$DEST$PFX/lib/systemd/system/otlp-broker.service" >"$TMP/otlp-broker.service"
if systemd-analyze verify --man=no "$TMP/otlp-broker.service" >"$TMP/verify.log" 2>&1; then
    ok "systemd-analyze verify otlp-broker.service"
else
    bad "systemd-analyze verify: $(head -5 "$TMP/verify.log")"
fi

make -s -C "$ROOT_DIR" BUILD="$OB_BUILD" SAN="$SANFLAG" uninstall DESTDIR="$DEST" >"$TMP/uninstall.log" 2>&1 &&
    ok "make uninstall" || bad "make uninstall: $(tail -3 "$TMP/uninstall.log")"
check "nothing left but empty directories" "" "$(find "$DEST" -type f -o -type l)"
finish
