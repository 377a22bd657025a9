# Sourced by the scripts beside it.
# listening_addr FILE: waits (at most 30 s) for a server's first line,
# "listening on ADDR", in FILE and prints ADDR; fails if it never comes.
listening_addr() {
    local addr=""
    for _ in $(seq 300); do
        addr=$(sed -n 's/.*listening on //p' "$1" 2>/dev/null | head -1)
        [[ -n "$addr" ]] && break
        sleep 0.1
    done
    [[ -n "$addr" ]] || { echo "no 'listening on' line in $1 after 30 s" >&2; return 1; }
    echo "$addr"
}
