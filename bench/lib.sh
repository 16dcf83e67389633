# bench/lib.sh: what the benchmark scripts share (sourced).  Every figure a
# script prints is its own business; these only read the machine.

say() { printf '%s\n' "$*" >&2; }

# kv KEY "a=1 b=2 ...": the value of KEY in a RESULT line.
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# cpu_ticks PID: user + system CPU of a process, in clock ticks (getconf CLK_TCK).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# task_ticks PID TID: the same for one thread.
task_ticks() { sed 's/^.*) //' "/proc/$1/task/$2/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# cpu_idle: "idle total" ticks of all CPUs (/proc/stat).
cpu_idle() { awk '$1 == "cpu" {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# need_tools BUILD TOOL...: builds the broker and the tools when not run from
# make (make bench builds them first), then checks each is there.
need_tools() {
    local b=$1 f
    shift
    if [ -z "${MAKELEVEL:-}" ]; then
        make -s BUILD="$b" all "$@" || exit 1
    fi
    for f in "$BROKER" "$@"; do
        [ -x "$f" ] || { say "bench: $f is missing (make BUILD=$b all $*)"; exit 1; }
    done
}
