#!/usr/bin/env bash
# Writes and reads per request of a kv server binary under redis-benchmark GET, pipeline 16, 50 clients,
# from the loop's own counters as INFO reports them. Needs redis-tools (apt-get install redis-tools).
# usage: benches/scripts/kv_writes_per_request.sh [KV_BINARY]   (default target/release/kv)
set -euo pipefail
BIN=${1:-target/release/kv}; N=200000
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark: apt-get install redis-tools" >&2; exit 1; }
out=$(mktemp); $BIN --listen 127.0.0.1:0 > $out 2>/dev/null & pid=$!
for _ in $(seq 50); do grep -q listening $out && break; sleep 0.1; done
P=$(sed 's/.*://' $out)
redis-cli -p $P set key:__rand_int__ x >/dev/null
before=$(redis-cli -p $P info stats | tr -d '\r' | grep -E "^(total_commands_processed|total_reads_processed|total_writes_processed|total_polls)" | tr '\n' ' ')
redis-benchmark -p $P -t get -P 16 -c 50 -n $N -q 2>/dev/null | tr '\r' '\n' | grep -v "^ *$" | grep -v rps= | tail -1
after=$(redis-cli -p $P info stats | tr -d '\r' | grep -E "^(total_commands_processed|total_reads_processed|total_writes_processed|total_polls)" | tr '\n' ' ')
echo "before: $before"; echo "after:  $after"; kill $pid; rm $out
