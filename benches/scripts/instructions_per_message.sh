#!/usr/bin/env bash
# User-space instructions per echoed message of a server, counted by
# callgrind (repeatable to the instruction, whatever else the machine does),
# with the client example's load mode as the load.
# usage: benches/scripts/instructions_per_message.sh [SERVER_BINARY] [CONNECTIONS] [MESSAGES] [SIZE]
#   SERVER_BINARY defaults to target/release/echo; it must take --listen and
#   print "listening on ADDR" first (echo, mio_echo, tokio_echo and the C
#   floor do). CACHE=1 also simulates the caches and prints first-level and
#   last-level data-cache misses per message (slower); KEEP=FILE keeps the
#   callgrind output.
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/scripts/listening.sh
SERVER=${1:-target/release/echo}; N=${2:-10}; M=${3:-5000}; S=${4:-512}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p echo -p client
out=$(mktemp -d)
extra=()
[[ "$SERVER" == */echo ]] && extra=(--idle-timeout-secs 0 --write-timeout-secs 0)
cache=()
[[ -n "${CACHE:-}" ]] && cache=(--cache-sim=yes)
valgrind --tool=callgrind "${cache[@]}" --callgrind-out-file="$out/cg" "$SERVER" --listen 127.0.0.1:0 "${extra[@]}" \
    >"$out/stdout" 2>"$out/stderr" &
server=$!
addr=$(listening_addr "$out/stdout")
target/release/client --connections "$N" --messages "$M" --size "$S" "$addr" >/dev/null
# SIGINT stops the echo example gracefully; a server that ignores it gets SIGTERM.
kill -INT "$server"
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$server" 2>/dev/null || true
wait "$server" || true
# awk reads to the end: exiting early would make callgrind_annotate die of SIGPIPE.
summary=$(callgrind_annotate "$out/cg" 2>/dev/null)
totals=$(awk '/PROGRAM TOTALS/ && !done {gsub(",", ""); gsub(/\([0-9.]+%\)/, ""); print; done = 1}' <<<"$summary")
events=$(awk '/^Events shown:/ && !done {sub("Events shown: *", ""); print; done = 1}' <<<"$summary")
read -r -a names <<<"$events"
read -r -a values <<<"$totals"
messages=$((N * M))
line="$SERVER, $N connections: messages=$messages"
for i in "${!names[@]}"; do
    case "${names[$i]}" in
        Ir) line+=" instructions/message=$((values[i] / messages))" ;;
        D1mr | D1mw | DLmr | DLmw) line+=" ${names[$i]}/message=$(awk -v v="${values[i]}" -v m="$messages" 'BEGIN {printf "%.2f", v / m}')" ;;
    esac
done
echo "$line"
if [[ -n "${KEEP:-}" ]]; then cp "$out/cg" "$KEEP"; fi
rm -r "$out"
