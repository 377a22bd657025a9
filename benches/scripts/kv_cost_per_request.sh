#!/usr/bin/env bash
# What one pipelined request costs a kv server: a handler that answers every
# request of a read with its own small send. redis-benchmark GET, pipeline 16,
# 50 clients, against a fresh server per measurement:
#   1. writes, reads and polls per request, from the loop's own counters (INFO);
#   2. syscalls per request, counted by the kernel (perf stat; skipped without perf);
#   3. user-space instructions per request (callgrind; skipped without valgrind).
# Needs redis-tools (apt-get install redis-tools).
# usage: benches/scripts/kv_cost_per_request.sh [KV_BINARY]   (default target/release/kv)
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/listening.sh
BIN=${1:-target/release/kv}; N=200000; N_CALLGRIND=50000
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark: apt-get install redis-tools" >&2; exit 1; }
[[ "$BIN" == target/release/kv ]] && cargo build --release -q -p kv
out=$(mktemp -d)

# start_server PREFIX...: runs "PREFIX... $BIN --listen 127.0.0.1:0", sets $server and $port.
start_server() {
    : >"$out/stdout"
    "$@" "$BIN" --listen 127.0.0.1:0 >"$out/stdout" 2>>"$out/stderr" &
    server=$!
    local addr
    addr=$(listening_addr "$out/stdout")
    port=${addr##*:}
    redis-cli -p "$port" set key:__rand_int__ x >/dev/null
}
# Stops the server itself: under perf, perf's child (perf waits for it).
stop_server() {
    local pid
    pid=$(pgrep -P "$server" | head -1 || true)
    pid=${pid:-$server}
    kill -INT "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}
counters() {
    redis-cli -p "$port" info stats | tr -d '\r' |
        awk -F: '/^(total_commands_processed|total_reads_processed|total_writes_processed|total_polls):/ {print $1, $2}'
}
load() {
    redis-benchmark -p "$port" -t get -P 16 -c 50 -n "$1" -q 2>/dev/null | tr '\r' '\n' | grep -v "^ *$" | grep -v rps= | tail -1
}

start_server
counters >"$out/before"
load "$N"
counters >"$out/after"
stop_server
awk 'NR == FNR {before[$1] = $2; next} {delta[$1] = $2 - before[$1]}
     END {c = delta["total_commands_processed"];
          printf "per request: writes %.4f, reads %.4f, polls %.4f (%d requests)\n",
                 delta["total_writes_processed"] / c, delta["total_reads_processed"] / c, delta["total_polls"] / c, c}' \
    "$out/before" "$out/after"

if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
    start_server perf stat -e raw_syscalls:sys_enter -x, -o "$out/perf" --
    load "$N" >/dev/null
    stop_server
    syscalls=$(awk -F, '/raw_syscalls/ {print $1}' "$out/perf")
    echo "per request: syscalls $(awk -v s="$syscalls" -v n="$N" 'BEGIN {printf "%.4f", s / n}') (the server's whole life: $syscalls for $N requests)"
else
    echo "syscalls per request skipped: perf missing or not permitted (apt-get install linux-perf)"
fi

if command -v valgrind >/dev/null; then
    start_server valgrind --tool=callgrind --callgrind-out-file="$out/cg"
    load "$N_CALLGRIND" >/dev/null
    stop_server
    total=$(callgrind_annotate "$out/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
    echo "per request: instructions $((total / N_CALLGRIND)) (the server's whole life: $total for $N_CALLGRIND requests)"
else
    echo "instructions per request skipped: no valgrind (apt-get install valgrind)"
fi
rm -r "$out"
