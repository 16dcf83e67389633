#!/usr/bin/env bash
# bench/rw.sh: Prometheus remote write, what it costs ingest and how fast it
# forwards (`make bench` runs it after bench/grpc.sh).
#
# Brokers of the same build, each with its own temp store and forward log,
# all started at the beginning and fed the mixed dataset of bench/loadgen
# (10,000 series, 500 points and ~75 KB per body, pre-encoded, new
# timestamps per body) over OTLP/HTTP with 2 connections:
#   a      no remote-write target: ingest at full speed, the reference;
#   b1 b2  one target "t" (protocol 1.0 / 2.0) to its own rwsink --discard
#          (tests/tools/rwsink, decodes and counts) on loopback, ingest at
#          full speed: ingest points/s against (a), samples/s forwarded during
#          the run (otlp_broker_remote_storage_samples_total), then the wait
#          until samples_pending is 0 again;
#   c1 c2  the forward rate alone: the target points to a port where no
#          rwsink runs; OB_RW_FILL bodies are ingested, then rwsink starts on
#          that port and the drain is timed until samples_pending is 0.
# Runs are interleaved (a, b1, b2, c1, c2 per round) OB_RW_REPS times
# (default 3) and the median printed.  CPU: the broker's utime+stime per
# million points ingested; the target thread's (comm "rw:t", from
# /proc/PID/task/*/stat) and rwsink's per million samples forwarded.  On
# this 2-core VM loadgen, the broker, its rw:t thread and rwsink share the
# two cores.  Targets (issue 16): one target costs ingest at most 15 %
# (b / a >= 0.85), the sender forwards at least 2 M samples/s (c).
# Timing never fails the run: exit 1 only when something is broken (a broker
# or rwsink does not start or dies, nothing was sent, errors, rwsink got a
# bad request, samples dropped, the log does not drain).
#
# Environment: OB_BUILD (default build), OB_BENCH_SECS (seconds per ingest
# run, default 5), OB_RW_REPS, OB_RW_FILL (bodies ingested before a drain,
# default 2000: 1 M points, ~5 M samples), OB_RW_LOG_SIZE (forward log of each broker,
# default 2GiB: (b) must not overwrite what the target has yet to send),
# OB_RW_OPTS (extra target options, e.g. "-o remote_write.t.shards=8"),
# OB_BENCH_OPTS (extra broker arguments).
set -u
source "$(dirname "$0")/lib.sh"

B=${OB_BUILD:-build}
BROKER=${OB_BENCH_BROKER:-$B/otlp-broker}
LOADGEN=$B/bench/loadgen
SINK=$B/tests/tools/rwsink
SECS=${OB_BENCH_SECS:-5}
REPS=${OB_RW_REPS:-3}
FILL=${OB_RW_FILL:-2000}
LOG_SIZE=${OB_RW_LOG_SIZE:-2GiB}
CONNS=2
DRAIN_MAX=120 # seconds a drain may take before the log counts as stuck
TMP=$(mktemp -d /tmp/otlp-bench-rw.XXXXXX) || exit 1
SHM=/otlp-bench-rw-$$
KINDS="a b1 b2 c1 c2"
declare -A PID PORT TID SPID SPORT
broken=0

cleanup() {
    local k
    for k in "${!SPID[@]}"; do
        [ -n "${SPID[$k]}" ] && kill -TERM "${SPID[$k]}" 2>/dev/null && wait "${SPID[$k]}" 2>/dev/null
    done
    for k in "${!PID[@]}"; do
        kill -TERM "${PID[$k]}" 2>/dev/null
        wait "${PID[$k]}" 2>/dev/null
    done
    for k in $KINDS; do rm -f "/dev/shm$SHM-$k" "/dev/shm$SHM-$k.forward"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need_tools "$B" "$LOADGEN" "$SINK"

TCK=$(getconf CLK_TCK)
now() { date +%s.%N; }

# start_sink KIND PORT: rwsink --discard on 127.0.0.1:PORT (0: a free one).
start_sink() {
    local k=$1 p=$2
    rm -f "$TMP/sink-$k.port"
    "$SINK" --discard --port "$p" --port-file "$TMP/sink-$k.port" >>"$TMP/sink-$k.out" \
        2>>"$TMP/sink-$k.err" &
    SPID[$k]=$!
    for _ in $(seq 1 250); do
        [ -s "$TMP/sink-$k.port" ] && SPORT[$k]=$(cat "$TMP/sink-$k.port") && return 0
        kill -0 "${SPID[$k]}" 2>/dev/null || break
        sleep 0.02
    done
    say "bench: rwsink did not start:"; cat "$TMP/sink-$k.err" >&2
    exit 1
}
# stop_sink KIND: SIGTERM; its last counters line stays in $TMP/sink-KIND.out.
stop_sink() {
    [ -n "${SPID[$1]:-}" ] || return 0
    kill -TERM "${SPID[$1]}" 2>/dev/null
    wait "${SPID[$1]}" 2>/dev/null
    SPID[$1]=
}
sink_stats() { curl -s --max-time 5 "http://127.0.0.1:${SPORT[$1]}/-/stats"; }

# start_broker KIND [args]: a broker on a free HTTP port; its rw:t thread id in TID.
start_broker() {
    local k=$1; shift
    : >"$TMP/empty.ini"
    # shellcheck disable=SC2086 # OB_BENCH_OPTS is split on purpose
    "$BROKER" -c "$TMP/empty.ini" -o http.listen=127.0.0.1:0 -o grpc.listen= \
        -o "store.path=$SHM-$k" -o store.max_series=200000 -o "translator.plugin_dir=$B/plugins" \
        -o zmq.pull= -o zmq.reply= "$@" ${OB_BENCH_OPTS:-} 2>"$TMP/broker-$k.log" &
    PID[$k]=$!
    local p=
    for _ in $(seq 1 100); do
        p=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/broker-$k.log")
        [ -n "$p" ] && break
        kill -0 "${PID[$k]}" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$p" ]; then
        say "bench: broker $k did not start; its log:"; tail -n 20 "$TMP/broker-$k.log" >&2
        exit 1
    fi
    PORT[$k]=$p
    TID[$k]=
    local t
    for _ in $(seq 1 50); do
        for t in /proc/"${PID[$k]}"/task/*; do
            [ "$(cat "$t/comm" 2>/dev/null)" = "rw:t" ] && TID[$k]=${t##*/}
        done
        [ "$k" = a ] || [ -n "${TID[$k]}" ] && break
        sleep 0.1
    done
    if [ "$k" != a ] && [ -z "${TID[$k]}" ]; then
        say "bench: broker $k has no thread rw:t"; exit 1
    fi
    say "bench: broker $k pid ${PID[$k]} HTTP 127.0.0.1:$p${TID[$k]:+, rw:t tid ${TID[$k]}}"
}
alive() {
    kill -0 "${PID[$1]}" 2>/dev/null && return 0
    say "bench: broker $1 died; its log:"; tail -n 20 "$TMP/broker-$1.log" >&2
    exit 1
}

# rwm KIND: the target's self-metrics, one "name value" line each (summed over labels).
rwm() {
    curl -s --max-time 10 "http://127.0.0.1:${PORT[$1]}/metrics" | awk '
        /^otlp_broker_remote_storage_/ && index($0, "remote_name=\"t\"") {
            n = $1; sub(/\{.*/, "", n); s[n] += $NF }
        /^otlp_broker_forward_log_records_total / { s["records"] = $NF }
        END { for (n in s) print n, s[n] }' | sed 's/^otlp_broker_remote_storage_//'
}
get() { awk -v n="$1" '$1 == n {print $2; f = 1} END {if (!f) print 0}' "$2"; }

# drain KIND FILE: until samples_pending is 0 (polled every 50 ms); FILE gets the last metrics.
drain() {
    local k=$1 f=$2 end
    end=$(( $(date +%s) + DRAIN_MAX ))
    while :; do
        rwm "$k" >"$f"
        [ -s "$f" ] && [ "$(get samples_pending "$f")" = 0 ] && return 0
        alive "$k"
        if [ "$(date +%s)" -ge "$end" ]; then
            say "bench: $k: still $(get samples_pending "$f") pending after ${DRAIN_MAX} s"
            broken=1; return 1
        fi
        sleep 0.05
    done
}

# dropped FILE KIND: warn (and mark broken) when the target dropped samples.
check_dropped() {
    local d
    d=$(get samples_dropped_total "$1")
    [ "${d%.*}" = 0 ] || { say "bench: $2: $d samples dropped (see its log)"; broken=1; }
}

TS0=$(( $(date +%s) * 1000 - 600000 ))
# load KIND [loadgen args]: one loadgen run against KIND; the RESULT line in $R.
R=
load() {
    local k=$1; shift
    R=$("$LOADGEN" --port "${PORT[$k]}" --ts0-ms "$TS0" "$@" 2>"$TMP/err" | grep '^RESULT')
    alive "$k"
    if [ -z "$R" ] || [ "$(kv requests "$R")" = 0 ]; then
        say "bench: $k: loadgen sent nothing:"; cat "$TMP/err" >&2; exit 1
    fi
    [ "$(kv errors "$R")" = 0 ] || { say "bench: WARNING: $(kv errors "$R") errors ($k)"; broken=1; }
    [ "$(kv rejected "$R")" = 0 ] || say "bench: WARNING: $(kv rejected "$R") points rejected ($k)"
    TS0=$(( $(kv last_ts_ms "$R") + 1000 ))
}

TGT=(-o remote_write.t.batch_size=2000 -o remote_write.t.shards=4
     -o remote_write.t.batch_deadline=50ms -o remote_write.t.min_backoff=10ms
     -o remote_write.t.max_backoff=50ms -o "remote_write.log_size=$LOG_SIZE")
# shellcheck disable=SC2206 # OB_RW_OPTS is split on purpose
TGT+=(${OB_RW_OPTS:-})
start_broker a
for v in 1 2; do
    start_sink "b$v" 0
    start_broker "b$v" -o "remote_write.t.url=http://127.0.0.1:${SPORT[b$v]}/api/v1/write" \
        -o "remote_write.t.protocol=$v.0" "${TGT[@]}"
    # (c): a port nothing listens on until the drain: a free one, taken and let go.
    start_sink "c$v" 0
    stop_sink "c$v"
    start_broker "c$v" -o "remote_write.t.url=http://127.0.0.1:${SPORT[c$v]}/api/v1/write" \
        -o "remote_write.t.protocol=$v.0" "${TGT[@]}"
done
for k in $KINDS; do load "$k" --conns "$CONNS" --requests 20; done # the series exist
for k in b1 b2; do drain "$k" "$TMP/m" || exit 1; done

: >"$TMP/rows"
# run_ingest KIND: (a) or (b): appends
#   KIND points/s broker-CPU/Mpt fwd-samples/s rw:t-CPU/Msample sink-CPU/Msample drain-s
#   broker-CPU-without-rw:t/Mpt
run_ingest() {
    local k=$1 c0 c1 r0=0 r1=0 s0 s1 t0 t1 t2 pts fs fw=0 rw=0 sk=0 dr=0
    if [ "$k" != a ]; then rwm "$k" >"$TMP/m0"; r0=$(task_ticks "${PID[$k]}" "${TID[$k]}")
        s0=$(cpu_ticks "${SPID[$k]}"); fi
    c0=$(cpu_ticks "${PID[$k]}")
    t0=$(now)
    load "$k" --conns "$CONNS" --duration "$SECS"
    t1=$(now)
    c1=$(cpu_ticks "${PID[$k]}")
    pts=$(kv accepted "$R")
    if [ "$k" != a ]; then
        r1=$(task_ticks "${PID[$k]}" "${TID[$k]}"); s1=$(cpu_ticks "${SPID[$k]}")
        rwm "$k" >"$TMP/m1"
        drain "$k" "$TMP/m2" || return
        t2=$(now)
        check_dropped "$TMP/m2" "$k"
        fs=$(awk -v a="$(get samples_total "$TMP/m0")" -v b="$(get samples_total "$TMP/m1")" \
             'BEGIN {print b - a}')
        read -r fw rw sk dr < <(awk -v f="$fs" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v r0="$r0" \
            -v r1="$r1" -v s0="$s0" -v s1="$s1" -v t="$TCK" 'BEGIN {
                if (f <= 0) { print 0, 0, 0, t2 - t1; exit }
                printf "%.0f %.3f %.3f %.2f\n", f / (t1 - t0), (r1 - r0) / t / f * 1e6,
                       (s1 - s0) / t / f * 1e6, t2 - t1 }')
        [ "$fw" != 0 ] || { say "bench: $k forwarded nothing during the run"; broken=1; }
    fi
    say "$k: $R; forwarded $fw samples/s, drained in $dr s after the run"
    awk -v k="$k" -v p="$pts" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
        -v x="$c0" -v y="$c1" -v t="$TCK" -v fw="$fw" -v rw="$rw" -v sk="$sk" -v dr="$dr" \
        -v r0="$r0" -v r1="$r1" \
        'BEGIN {printf "%s %.0f %.3f %s %s %s %s %.3f\n", k, p / s, (p > 0 ? (y - x) / t / p * 1e6 : 0),
                fw, rw, sk, dr, (p > 0 ? (y - x - (r1 - r0)) / t / p * 1e6 : 0)}' >>"$TMP/rows"
}

# run_drain KIND: (c): appends
#   KIND records-drained samples samples/s rw:t-CPU/Msample sink-CPU/Msample drain-s records/s
#   machine-busy-%
run_drain() {
    local k=$1 r0 r1 s1 t0 t1 rec i0 i1
    load "$k" --conns "$CONNS" --requests "$FILL"
    rwm "$k" >"$TMP/m0"
    rec=$(get samples_pending "$TMP/m0")
    r0=$(task_ticks "${PID[$k]}" "${TID[$k]}")
    i0=$(cpu_idle)
    t0=$(now)
    start_sink "$k" "${SPORT[$k]}"
    drain "$k" "$TMP/m1" || { stop_sink "$k"; return; }
    t1=$(now)
    i1=$(cpu_idle)
    r1=$(task_ticks "${PID[$k]}" "${TID[$k]}")
    s1=$(cpu_ticks "${SPID[$k]}")
    stop_sink "$k"
    check_dropped "$TMP/m1" "$k"
    if grep -q 'bad=[1-9]' "$TMP/sink-$k.out"; then
        say "bench: $k: rwsink refused requests: $(tail -n 1 "$TMP/sink-$k.out")"; broken=1
    fi
    awk -v k="$k" -v rec="$rec" -v a="$(get samples_total "$TMP/m0")" \
        -v b="$(get samples_total "$TMP/m1")" -v t0="$t0" -v t1="$t1" -v r0="$r0" -v r1="$r1" \
        -v s1="$s1" -v t="$TCK" -v i0="$i0" -v i1="$i1" 'BEGIN {f = b - a; d = t1 - t0
            split(i0, x, " "); split(i1, y, " "); tot = y[2] - x[2]
            printf "%s %d %d %.0f %.3f %.3f %.2f %.0f %.0f\n", k, rec, f, f / d,
                   (f > 0 ? (r1 - r0) / t / f * 1e6 : 0), (f > 0 ? s1 / t / f * 1e6 : 0), d, rec / d,
                   (tot > 0 ? 100 * (1 - (y[1] - x[1]) / tot) : 0)}' \
        >>"$TMP/rows"
    say "$k: drained $(tail -n 1 "$TMP/rows" | cut -d' ' -f2-)"
    [ "$(tail -n 1 "$TMP/rows" | cut -d' ' -f3)" != 0 ] || { say "bench: $k forwarded nothing"; broken=1; }
}

for _ in $(seq 1 "$REPS"); do
    run_ingest a
    run_ingest b1
    run_ingest b2
    run_drain c1
    run_drain c2
done

# Each rwsink took every sample its broker counts as sent (at least once).
for k in b1 b2; do
    rwm "$k" >"$TMP/m"
    stop_sink "$k"
    got=$(sed -n 's/.*samples=\([0-9]*\).*/\1/p' "$TMP/sink-$k.out" | tail -n 1)
    if grep -q 'bad=[1-9]' "$TMP/sink-$k.out"; then
        say "bench: $k: rwsink refused requests: $(tail -n 1 "$TMP/sink-$k.out")"; broken=1
    fi
    if [ -z "$got" ] || awk -v g="$got" -v s="$(get samples_total "$TMP/m")" 'BEGIN {exit !(g < s)}'; then
        say "bench: $k: rwsink counted ${got:-nothing}, the broker sent $(get samples_total "$TMP/m")"
        broken=1
    fi
done

# med KIND COLUMN: the median of a column over the runs of one kind
med() {
    awk -v k="$1" -v col="$2" '$1 == k {print $col}' "$TMP/rows" | sort -g |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "n/a"}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2fx", a / b; else print "n/a"}'; }
A=$(med a 2)
AC=$(med a 3)
cat <<EOF

== Remote write ($(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)); median of $REPS interleaved runs
mixed dataset, 500 points (~75 KB) per body, OTLP/HTTP with $CONNS connections (loadgen);
target t: rwsink --discard on loopback, batch_size 2000, 4 shards; loadgen, broker, rw:t
and rwsink share the $(nproc) cores.  Reference (a): no target, $A points/s, $AC s broker CPU/Mpt.
samples = otlp_broker_remote_storage_samples_total (float samples; a histogram point is
several); CPU s/M = seconds of CPU per million points (ingest) or samples (forwarding).

(a), (b): ingest at full speed for ${SECS} s; forwarded = samples sent during the run,
drain = seconds after the run until samples_pending was 0 (target: ingest >= 0.85x (a));
broker CPU includes its rw:t thread, "without rw:t" is the ingest side alone
| run                 |  points/s | vs (a)  | broker CPU s/Mpt | without rw:t | (a) CPU | forwarded samples/s | rw:t CPU s/M | rwsink CPU s/M | drain s |
|---------------------|-----------|---------|------------------|--------------|---------|---------------------|--------------|----------------|---------|
EOF
printf '| %-19s | %9s | %7s | %16s | %12s | %7s | %19s | %12s | %14s | %7s |\n' \
    "(a) no target" "$A" "1.00x" "$AC" "$AC" "$AC" "-" "-" "-" "-"
for v in 1 2; do
    printf '| %-19s | %9s | %7s | %16s | %12s | %7s | %19s | %12s | %14s | %7s |\n' \
        "(b) target, $v.0" "$(med "b$v" 2)" "$(ratio "$(med "b$v" 2)" "$A")" "$(med "b$v" 3)" \
        "$(med "b$v" 8)" "$AC" \
        "$(med "b$v" 4)" "$(med "b$v" 5)" "$(med "b$v" 6)" "$(med "b$v" 7)"
done
cat <<EOF

(c): the forward rate alone: $FILL bodies in the log, rwsink started, timed until
samples_pending was 0 (target: >= 2 M samples/s); (a) ingest beside it in points/s;
CPUs busy: all $(nproc) cores over the drain (rw:t, rwsink, the broker answering the polls)
| run                 | log records | samples  | samples/s | vs (a) ingest | records/s | rw:t CPU s/M | rwsink CPU s/M | CPUs busy | drain s |
|---------------------|-------------|----------|-----------|---------------|-----------|--------------|----------------|-----------|---------|
EOF
for v in 1 2; do
    printf '| %-19s | %11s | %8s | %9s | %13s | %9s | %12s | %14s | %9s | %7s |\n' \
        "(c) drain, $v.0" "$(med "c$v" 2)" "$(med "c$v" 3)" "$(med "c$v" 4)" \
        "$(ratio "$(med "c$v" 4)" "$A")" "$(med "c$v" 8)" "$(med "c$v" 5)" "$(med "c$v" 6)" \
        "$(med "c$v" 9)%" "$(med "c$v" 7)"
done
[ "$broken" = 0 ] || say "bench: something was broken (above)"
exit "$broken"
