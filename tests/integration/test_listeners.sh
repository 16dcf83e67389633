#!/usr/bin/env bash
# Per-listener translators: the HTTP frontend names with its own plugin
# ([translator_http]), ZeroMQ with the default; both show in translator_info
# and both follow a reload.
source "$(dirname "$0")/lib.sh"
PUSH=$OB_BUILD/clients/otlp-push
INI=$TMP/broker.ini
printf '[translator_http]\nplugin = underscore_escaping_without_suffixes\n' >"$INI"
start_broker -c "$INI"
T0=$(( $(date +%s) * 1000 - 30000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"

check "HTTP ingest" 200 "$(post /v1/metrics "$TMP/r1.bin")"
"$PUSH" --endpoint "ipc://$TMP/reply" --wait --file "$TMP/r1.bin" >"$TMP/push.txt" 2>&1 &&
    ok "ZeroMQ ingest" || bad "otlp-push: $(cat "$TMP/push.txt")"
scrape >"$TMP/s.txt"
check "HTTP names: no suffixes" 2 "$(grep -c '^calc_operation{job="calculator"' "$TMP/s.txt")"
check "ZeroMQ names: default" 2 "$(grep -c '^calc_operation_total{job="calculator"' "$TMP/s.txt")"
check "info: http" 1 "$(grep -c '^otlp_broker_translator_info{listener="http",plugin="underscore_escaping_without_suffixes"} 1$' "$TMP/s.txt")"
check "info: zmq" 1 "$(grep -c '^otlp_broker_translator_info{listener="zmq",plugin="underscore_escaping_with_suffixes"} 1$' "$TMP/s.txt")"

# The HTTP listener goes back to the default; ZeroMQ gets its own.
printf '[translator_zmq]\nplugin = underscore_escaping_without_suffixes\n' >"$INI"
check "reload" 200 "$(curl -s -o "$TMP/reload.txt" -w '%{http_code}' -X POST "$(url /-/reload)")"
scrape >"$TMP/s2.txt"
check "info after reload: http" 1 "$(grep -c '^otlp_broker_translator_info{listener="http",plugin="underscore_escaping_with_suffixes"} 1$' "$TMP/s2.txt")"
check "info after reload: zmq" 1 "$(grep -c '^otlp_broker_translator_info{listener="zmq",plugin="underscore_escaping_without_suffixes"} 1$' "$TMP/s2.txt")"

# A listener section naming a missing plugin fails the reload as a whole.
printf '[translator_http]\nplugin = nope\n' >"$INI"
check "reload with a bad listener plugin -> 500" 500 "$(curl -s -o "$TMP/reload.txt" -w '%{http_code}' -X POST "$(url /-/reload)")"
grep -q 'translator_http' "$TMP/reload.txt" && ok "500 names the section" || bad "answer: $(cat "$TMP/reload.txt")"
check "zmq keeps its plugin" 1 "$(scrape | grep -c '^otlp_broker_translator_info{listener="zmq",plugin="underscore_escaping_without_suffixes"} 1$')"

stop_broker && ok "clean stop" || bad "clean stop"
finish
