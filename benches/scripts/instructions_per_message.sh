#!/usr/bin/env bash
# User-space instructions per echoed message of a server, counted by
# callgrind (repeatable to the instruction, whatever else the machine does),
# with the client example's load mode as the load.
# usage: benches/scripts/instructions_per_message.sh [SERVER_BINARY] [CONNECTIONS] [MESSAGES] [SIZE]
#   SERVER_BINARY defaults to target/release/echo; it must take --listen and
#   print "listening on ADDR" first (echo, mio_echo, tokio_echo do).
set -euo pipefail
cd "$(dirname "$0")/../.."
SERVER=${1:-target/release/echo}; N=${2:-10}; M=${3:-5000}; S=${4:-512}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p echo -p client
out=$(mktemp -d)
extra=()
[[ "$SERVER" == */echo ]] && extra=(--idle-timeout-secs 0 --write-timeout-secs 0)
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$SERVER" --listen 127.0.0.1:0 "${extra[@]}" \
    >"$out/stdout" 2>"$out/stderr" &
for _ in $(seq 300); do grep -q listening "$out/stdout" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/.*listening on //p' "$out/stdout" | head -1)
target/release/client --connections "$N" --messages "$M" --size "$S" "$addr" >/dev/null
pkill -INT -f "callgrind-out-file=$out/cg" ; wait || true
total=$(callgrind_annotate "$out/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
echo "$SERVER: instructions=$total messages=$((N * M)) instructions/message=$((total / (N * M)))"
if [[ -n "${KEEP:-}" ]]; then cp "$out/cg" "$KEEP"; fi
rm -r "$out"
