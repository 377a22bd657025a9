#!/usr/bin/env bash
# Syscalls per echoed message of the echo server, counted by the kernel for its
# process (perf's raw_syscalls:sys_enter over the server's whole life), with the
# client example's load mode as the load. Server on CPU 0, client on CPU 1.
# usage: benches/scripts/syscalls_per_message.sh [CONNECTIONS] [MESSAGES] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/listening.sh
N=${1:-100}; M=${2:-5000}; S=${3:-512}
cargo build --release -q -p echo -p client
out=$(mktemp -d)
perf stat -e raw_syscalls:sys_enter -x, -o "$out/perf" -- \
    taskset -c 0 target/release/echo --listen 127.0.0.1:0 >"$out/stdout" 2>"$out/stderr" &
addr=$(listening_addr "$out/stdout" 10)
server=$(pgrep -f "^target/release/echo --listen 127.0.0.1:0" | head -1)
taskset -c 1 target/release/client --connections "$N" --messages "$M" --size "$S" "$addr"
kill -INT "$server"; wait
syscalls=$(awk -F, '/raw_syscalls/ {print $1}' "$out/perf")
grep -o 'accepted=.*' "$out/stderr"
python3 -c "m = $N * $M; print(f'server syscalls={$syscalls} messages={m} syscalls/message={$syscalls / m:.3f}')"
rm -r "$out"
