# Sourced by the scripts beside it.
# listening_addr FILE [SECONDS]: waits (at most SECONDS, 30 by default) for
# a server's first line, "listening on ADDR", in FILE and prints ADDR;
# fails if it never comes.
listening_addr() {
    local file=$1 seconds=${2:-30} addr=""
    for _ in $(seq $((seconds * 10))); do
        addr=$(sed -n 's/.*listening on //p' "$file" 2>/dev/null | head -1)
        [[ -n "$addr" ]] && break
        sleep 0.1
    done
    [[ -n "$addr" ]] || { echo "no 'listening on' line in $file after $seconds s" >&2; return 1; }
    echo "$addr"
}
