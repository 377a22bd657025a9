#!/usr/bin/env bash
# kv over a Unix-domain socket beside redis-server over one, both driven by
# `redis-benchmark -s`: server CPU per request (utime + stime from /proc,
# over each invocation), requests per second, SET and GET, 50 clients, one
# request at a time (P=1) and 16 pipelined (P=16). Each server is pinned to
# CPU 0 and redis-benchmark to CPU 1, as the kv bench does; medians of RUNS.
# usage: benches/scripts/kv_unix.sh [RUNS] [REQUESTS_P1] [REQUESTS_P16]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}; N1=${2:-200000}; N16=${3:-1000000}
for tool in redis-benchmark redis-server taskset; do
    command -v "$tool" >/dev/null || {
        echo "needs $tool (apt-get install redis-tools redis-server util-linux)" >&2
        exit 1
    }
done
cargo build --release -q -p kv
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
clk=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start NAME SOCKET: prints the server's pid once its socket accepts.
start() {
    local name=$1 sock=$2
    case $name in
        kv) taskset -c 0 target/release/kv --listen 127.0.0.1:0 --unixsocket "$sock" >"$dir/$name.log" 2>&1 & ;;
        redis) taskset -c 0 redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' \
            --appendonly no >"$dir/$name.log" 2>&1 & ;;
    esac
    local pid=$!
    for _ in $(seq 100); do
        redis-cli -s "$sock" ping >/dev/null 2>&1 && { echo "$pid"; return; }
        sleep 0.1
    done
    echo "$name did not start; its log:" >&2
    cat "$dir/$name.log" >&2
    exit 1
}

printf '%-6s %-4s %-3s %12s %14s\n' server test P 'requests/s' 'cpu µs/request'
declare -A cpu
for name in kv redis; do
    sock="$dir/$name.sock"
    pid=$(start "$name" "$sock")
    for p in 1 16; do
        n=$N1; [[ $p == 16 ]] && n=$N16
        for test in set get; do
            rates=(); costs=()
            for _ in $(seq "$RUNS"); do
                before=$(ticks "$pid")
                out=$(taskset -c 1 redis-benchmark -s "$sock" -c 50 -n "$n" -P "$p" -t "$test" -q 2>/dev/null | tr '\r' '\n' | grep -i "requests per second" | tail -1)
                after=$(ticks "$pid")
                rates+=("$(awk '{print $2}' <<<"$out")")
                costs+=("$(awk -v t=$((after - before)) -v c="$clk" -v n="$n" 'BEGIN {printf "%.3f", t / c / n * 1e6}')")
            done
            rate=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
            cost=$(printf '%s\n' "${costs[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
            cpu[$name,$test,$p]=$cost
            printf '%-6s %-4s %-3s %12s %14s\n' "$name" "$test" "$p" "$rate" "$cost"
        done
    done
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
done
echo
echo "kv / redis-server, CPU per request (below 1.00: kv spends less):"
for p in 1 16; do
    for test in set get; do
        awk -v k="${cpu[kv,$test,$p]}" -v r="${cpu[redis,$test,$p]}" -v t="$test" -v p="$p" \
            'BEGIN {printf "  %-4s P=%-3s %.2f (%s vs %s µs)\n", t, p, (r > 0 ? k / r : 0), k, r}'
    done
done
