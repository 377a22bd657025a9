#!/usr/bin/env bash
# Where a server's CPU goes at 10,000 connections: the client example's load
# mode (10,000 connections, 400 echoes of 512 B each, closed loop) on CPU 1,
# the server on CPU 0, sampled by perf with a software clock (cpu-clock, so
# it works in a VM without hardware counters) for 6 s in mid-run. Prints the
# split between kernel and user space; the top symbols are in OUT/sym.txt.
# usage: benches/scripts/profile_10k.sh [SERVER_BINARY] [OUT]
#   SERVER_BINARY defaults to target/release/echo (mio_echo, tokio_echo and
#   the C floor work too); OUT defaults to a new temporary directory.
set -u
cd "$(dirname "$0")/../.."
source benches/scripts/listening.sh
SERVER=${1:-target/release/echo}
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release -q -p echo -p client
out=${2:-$(mktemp -d)}; mkdir -p "$out"
extra=()
[[ "$SERVER" == */echo ]] && extra=(--idle-timeout-secs 0 --write-timeout-secs 0)
taskset -c 0 "$SERVER" --listen 127.0.0.1:0 "${extra[@]}" >"$out/stdout" 2>/dev/null &
srv=$!
addr=$(listening_addr "$out/stdout" 5)
taskset -c 1 target/release/client --connections 10000 --messages 400 --size 512 "$addr" >"$out/client" 2>&1 &
client=$!
sleep 4 # connecting 10,000 clients and warming up; the sample is mid-run
perf record -q -e cpu-clock -F 4000 -p "$srv" -o "$out/perf.data" -- sleep 6 2>/dev/null
wait "$client"
# SIGINT stops the echo example gracefully; a server that ignores it gets SIGTERM.
kill -INT "$srv" 2>/dev/null
for _ in $(seq 50); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
perf report -i "$out/perf.data" --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -25 >"$out/sym.txt"
echo "$SERVER at 10,000 connections, share of its CPU samples by where they ran:"
perf report -i "$out/perf.data" --sort dso --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -5
tail -1 "$out/client"
echo "top symbols: $out/sym.txt"
