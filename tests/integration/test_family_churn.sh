#!/usr/bin/env bash
# Metric-name churn beyond store.max_families on the real broker: families
# without series for store.series_ttl (and the 30 s grace) are reclaimed by
# the broker's housekeeping, and new names are accepted again.  About 70 s.
source "$(dirname "$0")/lib.sh"

metric() { scrape | awk -v s="$1" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'; }

# body PREFIX N: one OTLP/JSON request with N gauges PREFIX_0 .. PREFIX_N-1
body() {
    local ts=$(( $(date +%s) * 1000000000 )) i sep=
    printf '{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"churn"}}]},"scopeMetrics":[{"metrics":['
    for ((i = 0; i < $2; i++)); do
        printf '%s{"name":"%s_%d","gauge":{"dataPoints":[{"asDouble":%d,"timeUnixNano":"%d"}]}}' "$sep" "$1" "$i" "$i" "$ts"
        sep=,
    done
    printf ']}]}]}'
}

push() { # push PREFIX N: prints the HTTP status and the rejected points (0 if none)
    body "$1" "$2" >"$TMP/body.json"
    local code
    code=$(CT=application/json post /v1/metrics "$TMP/body.json")
    local rej
    rej=$(sed -n 's/.*"rejectedDataPoints":"*\([0-9]*\).*/\1/p' "$TMP/resp")
    echo "$code ${rej:-0}"
}

start_broker -o store.max_families=200 -o store.series_ttl=2s -o broker.housekeeping_interval=1s

check "150 first names accepted" "200 0" "$(push first 150)"
check "families live" 150 "$(metric otlp_broker_families_live)"
# 150 more now: only 50 slots left (they are still live for the ttl)
r=$(push early 150)
check "150 more before the reclaim: 100 refused, for want of a family slot" "200 100" "$r"
grep -q "no room for a new metric family" "$TMP/resp" && ok "the answer says why" || bad "no reason in $(cat "$TMP/resp")"

# The broker's housekeeping reclaims them: no series for 2 s, at least the
# 30 s grace, then 30 s more before a slot takes a new name.
live=
for _ in $(seq 1 100); do
    live=$(metric otlp_broker_families_live)
    [ "$live" = 0 ] && break
    sleep 1
done
check "every family reclaimed once its series expired" 0 "$live"
for _ in $(seq 1 40); do   # the slots' grace
    r=$(push second 150)
    [ "$r" = "200 0" ] && break
    sleep 1
done
check "150 new names accepted after the reclaim" "200 0" "$r"
check "families live" 150 "$(metric otlp_broker_families_live)"
scrape >"$TMP/after.prom"
check "the new names are exposed" 150 "$(grep -c '^second_[0-9]*[{ ]' "$TMP/after.prom" || true)"
check "the old ones are not" 0 "$(grep -c '^first_[0-9]*[{ ]\|^early_[0-9]*[{ ]' "$TMP/after.prom" || true)"
stop_broker && ok "clean stop" || bad "clean stop"
finish
