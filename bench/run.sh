#!/usr/bin/env bash
# bench/run.sh: the otlp-broker benchmarks (`make bench`).
#
#  1. protobuf-c decode throughput of the bench bodies on one core (decode_bench);
#  2. the real broker (own temp store, free port) under loadgen: the mixed
#     dataset (10,000 series, 500 points and ~75 KB per body, new timestamps on
#     every request) with 1 and 2 connections, in order and shuffled; broker
#     CPU (utime+stime from /proc/PID/stat over each run) and RSS;
#  3. /metrics scrape time, plain and gzip, at 100k and 1M series (filled with
#     loadgen --fill), in text 0.0.4, OpenMetrics and protobuf side by side,
#     and store bytes per series from the self-metrics;
#  4. kinds of points against each other, ingest in process (ingest_bench),
#     alternating rounds, beside protobuf-c decoding alone of the same
#     bodies: without and with one exemplar per point; explicit (10 bounds)
#     and exponential (160 buckets) histograms; cumulative and delta counters.
# Prints one table.  Timing never fails the run: the exit status is 1 only
# when something is broken (broker does not start or dies, nothing sent).
#
# Environment: OB_BUILD (build dir, default build), OB_BENCH_SECS (seconds per
# ingest run, default 8), OB_BENCH_BROKER (broker binary), OB_BENCH_OPTS
# (extra broker arguments, e.g. "-o store.samples_per_series=8").
set -u
source "$(dirname "$0")/lib.sh"

B=${OB_BUILD:-build}
BROKER=${OB_BENCH_BROKER:-$B/otlp-broker}
LOADGEN=$B/bench/loadgen
DECODE=$B/bench/decode_bench
INGEST=$B/bench/ingest_bench
SECS=${OB_BENCH_SECS:-8}
MAX_SERIES=1200000
SHM=/otlp-bench-$$
TMP=$(mktemp -d /tmp/otlp-bench.XXXXXX) || exit 1
PID=
broken=0


stop_broker() {
    [ -n "$PID" ] || return 0
    if kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$PID" 2>/dev/null; then
            say "bench: broker $PID did not stop on SIGTERM; SIGKILL"
            kill -KILL "$PID" 2>/dev/null
        fi
    fi
    wait "$PID" 2>/dev/null
    PID=
}

cleanup() {
    stop_broker
    rm -f "/dev/shm$SHM"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need_tools "$B" "$LOADGEN" "$DECODE" "$INGEST"
command -v curl >/dev/null || { say "bench: curl is missing (make deps)"; exit 1; }

# key=value from a RESULT line

# utime+stime of PID in clock ticks (fields 14 and 15; comm may hold spaces)
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
TCK=$(getconf CLK_TCK)

# ---- 1. decode throughput -------------------------------------------------
say "bench: decode throughput (one core)"
DEC_OUT=$("$DECODE" 2) || broken=1
printf '%s\n' "$DEC_OUT" >&2
dec_field() {
    printf '%s\n' "$DEC_OUT" | grep "way=\"$1\"" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# ---- 2. broker under load -------------------------------------------------
: > "$TMP/empty.ini"
# shellcheck disable=SC2086 # OB_BENCH_OPTS is split on purpose
"$BROKER" -c "$TMP/empty.ini" \
    -o http.listen=127.0.0.1:0 -o grpc.listen=127.0.0.1:0 \
    -o "store.path=$SHM" \
    -o "store.max_series=$MAX_SERIES" \
    -o "translator.plugin_dir=$B/plugins" \
    ${OB_BENCH_OPTS:-} 2>"$TMP/broker.log" &
PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/broker.log" | head -n1)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    say "bench: the broker did not start; its log:"
    tail -n 20 "$TMP/broker.log" >&2
    exit 1
fi
say "bench: broker pid $PID on 127.0.0.1:$PORT, store $SHM"

alive() {
    kill -0 "$PID" 2>/dev/null && return 0
    say "bench: the broker died; its log:"
    tail -n 20 "$TMP/broker.log" >&2
    broken=1
    return 1
}

# Warm-up: one round creates the 10,000 series, so runs measure steady state.
TS0=$(( $(date +%s) * 1000 - 120000 ))
W=$("$LOADGEN" --port "$PORT" --requests 20 --ts0-ms "$TS0" 2>/dev/null | grep '^RESULT')
[ -n "$W" ] || { alive; say "bench: warm-up sent nothing"; exit 1; }
TS0=$(( $(kv last_ts_ms "$W") + 1000 ))

ROWS=()
for conns in 1 2; do
    for mode in inorder shuffled; do
        alive || break 2
        shuffle=0
        [ "$mode" = shuffled ] && shuffle=16
        c0=$(cpu_ticks "$PID")
        t0=$(date +%s.%N)
        R=$("$LOADGEN" --port "$PORT" --conns "$conns" --duration "$SECS" \
                --shuffle "$shuffle" --ts0-ms "$TS0" 2>"$TMP/loadgen.err" | grep '^RESULT')
        t1=$(date +%s.%N)
        alive || break 2
        c1=$(cpu_ticks "$PID")
        if [ -z "$R" ] || [ "$(kv requests "$R")" = 0 ]; then
            say "bench: loadgen sent nothing ($mode, $conns conn):"
            cat "$TMP/loadgen.err" >&2
            broken=1
            continue
        fi
        say "$R"
        TS0=$(( $(kv last_ts_ms "$R") + 1000 ))
        cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v s0="$t0" -v s1="$t1" \
              'BEGIN {printf "%.0f", 100 * (b - a) / t / (s1 - s0)}')
        rss=$(status_kb "$PID" VmRSS)
        ROWS+=("$(printf '| %-8s | %5s | %7.0f | %9.0f | %8s | %6s | %6.2f | %6.2f | %8s%% | %6.0f |' \
            "$mode" "$conns" "$(kv req_per_s "$R")" "$(kv points_per_s "$R")" \
            "$(kv rejected "$R")" "$(kv errors "$R")" \
            "$(awk -v u="$(kv p50_us "$R")" 'BEGIN {print u / 1000}')" \
            "$(awk -v u="$(kv p99_us "$R")" 'BEGIN {print u / 1000}')" \
            "$cpu" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')")")
        [ "$(kv errors "$R")" = 0 ] || say "bench: WARNING: $(kv errors "$R") failed requests ($mode, $conns conn)"
    done
done

# ---- 3. scrapes at 100k and 1M series -------------------------------------
# scrape N plain|gzip [ACCEPT]: "ms MB" of the median of N scrapes of /metrics.
scrape() {
    local n=$1 enc=$2 accept=${3:-} i out
    local hdr=()
    [ "$enc" = gzip ] && hdr=(-H 'Accept-Encoding: gzip')
    [ -n "$accept" ] && hdr+=(-H "Accept: $accept")
    for i in $(seq 1 "$n"); do
        out=$(curl -s -o /dev/null "${hdr[@]}" --max-time 60 \
              -w '%{http_code} %{time_total} %{size_download}' "http://127.0.0.1:$PORT/metrics")
        [ "${out%% *}" = 200 ] || { say "bench: scrape answered '$out'"; broken=1; return; }
        printf '%s\n' "${out#* }"
    done | sort -n | awk '{t[NR] = $1; s[NR] = $2} END {m = int((NR + 1) / 2); if (NR) printf "%.1f %.2f", t[m] * 1000, s[m] / 1e6}'
}

# Sum of a self-metric's samples (every label set), empty when absent.
metric() {
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $NF; f = 1}
                   END {if (f) printf "%.0f", s}' "$TMP/scrape.txt"
}

SROWS=()
FROWS=()
STORE_ROWS=()
OM_ACCEPT='application/openmetrics-text;version=1.0.0'
PB_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a"}'; }
filled=0
for target in 100000 1000000; do
    alive || break
    f0=$(date +%s.%N)
    F=$("$LOADGEN" --port "$PORT" --conns 2 --fill $((target - filled)) --fill-first "$filled" \
            2>"$TMP/loadgen.err" | grep '^RESULT')
    f1=$(date +%s.%N)
    alive || break
    if [ -z "$F" ]; then
        say "bench: fill to $target sent nothing:"
        cat "$TMP/loadgen.err" >&2
        broken=1
        break
    fi
    say "$F"
    fill_rate=$(awk -v n=$((target - filled)) -v a="$f0" -v b="$f1" 'BEGIN {printf "%.0f", n / (b - a)}')
    filled=$target
    reps=5
    [ "$target" -ge 1000000 ] && reps=3
    read -r pt pm <<<"$(scrape $reps plain)"
    read -r gt gm <<<"$(scrape $reps gzip)"
    read -r ot om <<<"$(scrape $reps plain "$OM_ACCEPT")"
    read -r ogt ogm <<<"$(scrape $reps gzip "$OM_ACCEPT")"
    read -r bt bm <<<"$(scrape $reps plain "$PB_ACCEPT")"
    read -r bgt bgm <<<"$(scrape $reps gzip "$PB_ACCEPT")"
    FROWS+=("$(printf '| %9s | %-11s | %8s | %8s | %8s | %7s | %9s |' "$target" "text 0.0.4" \
        "${pt:-n/a}" "${pm:-n/a}" "${gt:-n/a}" "1.00x" "1.00x")")
    FROWS+=("$(printf '| %9s | %-11s | %8s | %8s | %8s | %7s | %9s |' "$target" "OpenMetrics" \
        "${ot:-n/a}" "${om:-n/a}" "${ogt:-n/a}" "$(ratio "$ot" "$pt")" "$(ratio "$ogt" "$gt")")")
    FROWS+=("$(printf '| %9s | %-11s | %8s | %8s | %8s | %7s | %9s |' "$target" "protobuf" \
        "${bt:-n/a}" "${bm:-n/a}" "${bgt:-n/a}" "$(ratio "$bt" "$pt")" "$(ratio "$bgt" "$gt")")")
    curl -s --max-time 60 "http://127.0.0.1:$PORT/metrics" -o "$TMP/scrape.txt"
    lines=$(grep -vc '^#' "$TMP/scrape.txt")
    live=$(metric otlp_broker_series_live)
    used=$(metric otlp_broker_store_bytes_used)
    mapb=$(metric otlp_broker_store_mapping_bytes)
    per_used=$(awk -v u="${used:-0}" -v l="${live:-0}" 'BEGIN {if (l > 0 && u > 0) printf "%.0f", u / l; else print "n/a"}')
    per_map=$(awk -v u="${mapb:-0}" -v l="${live:-0}" 'BEGIN {if (l > 0 && u > 0) printf "%.0f", u / l; else print "n/a"}')
    SROWS+=("$(printf '| %9s | %8s | %10s | %8s | %8s | %8s | %9s |' \
        "$target" "$lines" "$fill_rate" "${pt:-n/a}" "${pm:-n/a}" "${gt:-n/a}" "${gm:-n/a}")")
    STORE_ROWS+=("$(printf '| %9s | %11s | %12s | %14s | %12s | %10s | %10s |' \
        "$target" "${live:-n/a}" "${used:-n/a}" "$per_used" "${mapb:-n/a}" "$per_map" \
        "$(awk -v k="$(status_kb "$PID" VmHWM)" 'BEGIN {printf "%.0f", k / 1024}')")")
done

alive || true
stop_broker

# ---- the table ------------------------------------------------------------
cat <<EOF

== otlp-broker bench ($(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)); figures are orientation, not pass/fail

protobuf-c decode, one core, mixed bodies (500 points, ~75 KB):
| way             | points/s | MB/s | ns/point |
|-----------------|----------|------|----------|
EOF
for w in "ob_otlp_decode" "arena unpack" "malloc unpack"; do
    printf '| %-15s | %8s | %4s | %8s |\n' "$w" "$(dec_field "$w" points_per_s)" \
        "$(dec_field "$w" mb_per_s)" "$(dec_field "$w" ns_per_point)"
done
cat <<EOF

ingest over HTTP (mixed dataset: 10,000 series, gauges/counters/10-bound histograms,
500 points per request, new timestamps per request; shuffled = rounds permuted in
blocks of 16; ${SECS} s per run; CPU = broker utime+stime / wall, 100% = one core):
| mode     | conns |   req/s |  points/s | rejected | errors | p50 ms | p99 ms | brokerCPU | RSS MB |
|----------|-------|---------|-----------|----------|--------|--------|--------|-----------|--------|
EOF
for r in "${ROWS[@]+"${ROWS[@]}"}"; do printf '%s\n' "$r"; done
cat <<EOF

GET /metrics (fill = gauge series created per second by loadgen --fill, 2 conns;
times are the median of 5 (100k) or 3 (1M) scrapes, curl time_total):
|    series | samples  | fill ser/s | plain ms | plain MB | gzip ms  | gzip MB   |
|-----------|----------|------------|----------|----------|----------|-----------|
EOF
for r in "${SROWS[@]+"${SROWS[@]}"}"; do printf '%s\n' "$r"; done
cat <<EOF

GET /metrics per format, the same store in the same run (median ms; ratio to text 0.0.4):
|    series | format      | plain ms | plain MB |  gzip ms |  x text | gzip x tx |
|-----------|-------------|----------|----------|----------|---------|-----------|
EOF
for r in "${FROWS[@]+"${FROWS[@]}"}"; do printf '%s\n' "$r"; done
cat <<EOF

store (self-metrics otlp_broker_series_live, _store_bytes_used, _store_mapping_bytes):
|    filled | series live | bytes used   | used B/series  | mapping B    | map B/ser  | VmHWM MB   |
|-----------|-------------|--------------|----------------|--------------|------------|------------|
EOF
for r in "${STORE_ROWS[@]+"${STORE_ROWS[@]}"}"; do printf '%s\n' "$r"; done

# ---- 4. kinds of points -------------------------------------------------------
say "bench: ingest of kinds of points against each other (one core, in process)"
cat <<EOF

Kinds of points: ingest in process, 30 alternating rounds of the dataset per pair (one
thread, CPU time; decode = protobuf-c alone on the same bodies, the floor no broker code
can lower); ratio = B's ingest time per point over A's:
| set        | points                      | bytes/point | ingest ns/point | decode ns/point | points/s   | ratio |
|------------|-----------------------------|-------------|-----------------|-----------------|------------|-------|
EOF
for set in exemplars histograms counters forward; do
    ING_OUT=$(OB_BUILD=$B "$INGEST" 30 "$set") || { broken=1; continue; }
    printf '%s\n' "$ING_OUT" | awk -v set="$set" '
        /^RESULT/ {
            name = $0; sub(/^[^"]*"/, "", name); sub(/".*$/, "", name)
            for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            n++; ns[n] = f["ingest_ns_per_point"]
            printf "| %-10s | %-27s | %11s | %15s | %15s | %10s | %5s |\n", set, name,
                f["bytes_per_point"], f["ingest_ns_per_point"], f["decode_ns_per_point"],
                f["points_per_s"], ((n == 2 && ns[1] > 0) ? sprintf("%.2fx", ns[2] / ns[1]) : "")
        }'
done
echo
if [ "$broken" != 0 ]; then
    say "bench: something was broken (see above)"
    exit 1
fi
exit 0
