#!/usr/bin/env bash
# Hot swap of the translator: POST /-/reload and SIGHUP re-read the config
# file; a plugin that does not load leaves the running one; ten flips under
# continuous load answer every request 200; a key that needs a restart is
# named in the answer and the log and keeps its running value.
source "$(dirname "$0")/lib.sh"
INI=$TMP/broker.ini
plugin() { printf '[translator]\nplugin = %s\n' "$1" >"$INI"; }
reload() { curl -s -o "$TMP/reload.txt" -w '%{http_code}' -X POST "$(url /-/reload)"; }

plugin underscore_escaping_with_suffixes
start_broker -c "$INI"
T0=$(( $(date +%s) * 1000 - 30000 ))
"$MKPAYLOAD" calculator --ts-ms "$T0" --round 1 >"$TMP/r1.bin"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 1000)) --round 2 >"$TMP/r2.bin"
check "ingest under the default" 200 "$(post /v1/metrics "$TMP/r1.bin")"
check "default names" 2 "$(scrape | grep -c '^calc_operation_total{')"

plugin underscore_escaping_without_suffixes
check "POST /-/reload" 200 "$(reload)"
grep -q 'reloaded: translator underscore_escaping_without_suffixes' "$TMP/reload.txt" &&
    ok "reload answer names the plugin" || bad "reload answer: $(cat "$TMP/reload.txt")"
check "ingest after reload" 200 "$(post /v1/metrics "$TMP/r2.bin")"
scrape >"$TMP/s.txt"
check "new names without suffixes" 2 "$(grep -c '^calc_operation{' "$TMP/s.txt")"
check "old series still served" 2 "$(grep -c '^calc_operation_total{' "$TMP/s.txt")"
check "info metric follows" 1 \
    "$(grep -c '^otlp_broker_translator_info{listener="http",plugin="underscore_escaping_without_suffixes"} 1' "$TMP/s.txt")"

plugin does_not_exist
check "reload with a missing plugin -> 500" 500 "$(reload)"
grep -q 'keeping the running one' "$TMP/reload.txt" && ok "500 says the old one stays" ||
    bad "answer: $(cat "$TMP/reload.txt")"
printf '[translator]\nplugin = underscore_escaping_with_suffixes\nno_such_key = 1\n' >"$INI"
check "reload with a key the plugin refuses -> 500" 500 "$(reload)"
grep -q 'no_such_key' "$TMP/reload.txt" && ok "500 names the key" || bad "answer: $(cat "$TMP/reload.txt")"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 2000)) --round 3 >"$TMP/r3.bin"
check "old plugin still serving" 200 "$(post /v1/metrics "$TMP/r3.bin")"
check "still without suffixes" 1 \
    "$(scrape | grep -c '^calc_operation{job="calculator",operation="add"} 9$')"

plugin underscore_escaping_with_suffixes
kill -HUP "$BROKER_PID"
for _ in $(seq 1 50); do grep -q 'generation' "$TMP/broker.log" && break; sleep 0.1; done
sleep 0.2
grep -q 'reload: reloaded: translator underscore_escaping_with_suffixes (http: underscore_escaping_with_suffixes' "$TMP/broker.log" &&
    ok "SIGHUP reloads" || bad "SIGHUP: $(grep reload "$TMP/broker.log" | tail -2)"

# Ten flips while one client keeps pushing over HTTP keep-alive connections
# and another over the ZeroMQ reply socket, each request checked.
"$OB_BUILD/bench/loadgen" --port "$PORT" --conns 2 --duration 6 --series 2000 >"$TMP/load.txt" 2>&1 &
LOAD=$!
(
    n=0 failed=0
    end=$(( $(date +%s) + 6 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        n=$((n + 1))
        "$OB_BUILD/clients/otlp-push" --endpoint "ipc://$TMP/reply" --wait --service zmqload \
            counter zmq.pushes "$n" client=zmq >/dev/null 2>&1 || failed=$((failed + 1))
    done
    echo "$n $failed" >"$TMP/zmqload.txt"
) &
ZLOAD=$!
for i in $(seq 1 10); do
    if [ $((i % 2)) -eq 0 ]; then plugin underscore_escaping_with_suffixes; else plugin no_utf8_escaping_with_suffixes; fi
    [ "$(reload)" = 200 ] || bad "flip $i: $(cat "$TMP/reload.txt")"
    sleep 0.4
done
wait "$LOAD"
wait "$ZLOAD"
read -r zn zfailed <"$TMP/zmqload.txt"
check "every ZeroMQ request under flips accepted ($zn requests)" 0 "$zfailed"
[ "${zn:-0}" -gt 10 ] && ok "ZeroMQ load ran" || bad "ZeroMQ load: $zn"
res=$(tail -1 "$TMP/load.txt")
errors=$(echo "$res" | tr ' ' '\n' | sed -n 's/^errors=//p')
reqs=$(echo "$res" | tr ' ' '\n' | sed -n 's/^requests=//p')
check "every request under flips answered 200 ($reqs requests)" 0 "$errors"
[ "${reqs:-0}" -gt 10 ] && ok "load ran ($reqs requests)" || bad "load: $res"
scrape >"$TMP/s2.txt"
check "reloads counted" 'otlp_broker_reloads_total{result="success"} 12' \
    "$(grep '^otlp_broker_reloads_total{result="success"}' "$TMP/s2.txt")"
check "failures counted" 'otlp_broker_reloads_total{result="failure"} 2' \
    "$(grep '^otlp_broker_reloads_total{result="failure"}' "$TMP/s2.txt")"
check "store intact: calculator series" 2 "$(grep -c '^calc_operation_total{' "$TMP/s2.txt")"
check "POST only" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$(url /-/reload)")"

# Keys that need a restart: the reload still loads the translator and answers
# 200, names each such key with both values, and the broker keeps the value it
# started with: the store keeps its 10000 family slots, /metrics stays without
# timestamps.  (start_broker's -o options, such as store.max_series, beat the
# file: those cannot change at a reload at all.)
KEPT='store.max_families changed (10000 -> 500): needs a restart; kept 10000'
printf '[translator]\nplugin = underscore_escaping_without_suffixes\n[store]\nmax_families = 500\n[exposition]\ntimestamps = true\n' >"$INI"
check "reload changing keys that need a restart -> 200" 200 "$(reload)"
grep -q 'reloaded: translator underscore_escaping_without_suffixes' "$TMP/reload.txt" &&
    ok "the translator is reloaded all the same" || bad "answer: $(cat "$TMP/reload.txt")"
grep -qF "; $KEPT" "$TMP/reload.txt" && ok "answer names store.max_families" ||
    bad "answer: $(cat "$TMP/reload.txt")"
grep -qF 'exposition.timestamps changed (false -> true): needs a restart; kept false' \
    "$TMP/reload.txt" && ok "answer names exposition.timestamps" ||
    bad "answer: $(cat "$TMP/reload.txt")"
grep -qF "reload: $KEPT" "$TMP/broker.log" && ok "log names store.max_families" ||
    bad "log: $(grep reload "$TMP/broker.log" | tail -3)"
"$MKPAYLOAD" calculator --ts-ms $((T0 + 3000)) --round 4 >"$TMP/r4.bin"
check "ingest after that reload" 200 "$(post /v1/metrics "$TMP/r4.bin")"
scrape >"$TMP/s3.txt"
check "family slots kept" 'otlp_broker_families_max 10000' \
    "$(grep '^otlp_broker_families_max ' "$TMP/s3.txt")"
check "still no timestamps" 1 "$(grep -c '^calc_operation{job="calculator",operation="add"} [0-9.e+]*$' "$TMP/s3.txt")"
check "new translator in use" 1 \
    "$(grep -c '^otlp_broker_translator_info{listener="http",plugin="underscore_escaping_without_suffixes"} 1' "$TMP/s3.txt")"
# Compared with what runs, not with the file read last: the same change says
# it again, and a file whose only change needs a restart still succeeds.
printf '[store]\nmax_families = 500\n' >"$INI"
check "reload with only a restart-only key changed -> 200" 200 "$(reload)"
grep -qF "; $KEPT" "$TMP/reload.txt" && ok "said again" || bad "answer: $(cat "$TMP/reload.txt")"
grep -q 'exposition.timestamps' "$TMP/reload.txt" && bad "answer: $(cat "$TMP/reload.txt")" ||
    ok "only keys that differ from the running value are named"
plugin underscore_escaping_with_suffixes
check "reload back to the start-up values -> 200" 200 "$(reload)"
grep -q 'needs a restart' "$TMP/reload.txt" && bad "answer: $(cat "$TMP/reload.txt")" ||
    ok "nothing to restart for"

stop_broker && ok "clean stop" || bad "clean stop"
finish
