#!/bin/sh
# labgate benchmarks: build in release mode, start the ceiling server and
# labgate on loopback with a fresh database, load each route with wrk at
# several connection counts, and print a Markdown table of requests/s,
# latency percentiles and the ratio to the ceiling measured in this run.
#
# usage: bench/run.sh [-d SECONDS] [-c "1 16 64 256"] [-t THREADS]
# Every load is bounded by -d; nothing leaves 127.0.0.1.
set -eu

duration=10
conns="1 16 64 256"
threads=320
while getopts d:c:t: opt; do
    case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    t) threads=$OPTARG ;;
    *) echo "usage: $0 [-d SECONDS] [-c CONNS] [-t THREADS]" >&2; exit 2 ;;
    esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench
work=$(mktemp -d /tmp/labgate-bench-XXXXXX)
export LABGATE_BENCH_DIR=$top/bench
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$top/scripts/deps"
"$top/scripts/build" "$build" -DCMAKE_BUILD_TYPE=Release \
    -DLABGATE_TESTS=OFF >/dev/null

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    echo "bench: nothing listens on port $1" >&2
    exit 1
}

# run_wrk URL SCRIPT CONNS: prints "rps p50 p99 p999 errors non2xx".
run_wrk() {
    t=2
    [ "$3" -lt 2 ] && t=1
    wrk -t"$t" -c"$3" -d"${duration}s" --timeout 5s -s "$2" "$1" |
        awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "=");
             v[kv[1]] = kv[2] }
             printf "%s %s %s %s %s %s\n", v["rps"], v["p50"], v["p99"],
             v["p999"], v["errors"], v["non2xx"] }'
}

ceil_port=$(free_port)
"$build/bench/bench-ceiling" "127.0.0.1:$ceil_port" "$threads" \
    2>"$work/ceiling.log" &
pids="$pids $!"
wait_port "$ceil_port"

lab_port=$(free_port)
cat >"$work/labgate.json" <<JSON
{"listen": "127.0.0.1:$lab_port", "database": "$work/labgate.db",
 "jwt": {}, "iam": {}, "limits": {"threads": $threads}}
JSON
"$build/server/labgate-server" --config "$work/labgate.json" \
    2>"$work/labgate.log" &
pids="$pids $!"
wait_port "$lab_port"

echo "## $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r)"
echo
echo "wrk ${duration}s per row; latency in ms; ratio = labgate rps / ceiling rps at the same connections."
echo
echo "| route | conns | ceiling rps | labgate rps | ratio | p50 | p99 | p99.9 | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $conns; do
    set -- $(run_wrk "http://127.0.0.1:$ceil_port/lab/results" \
        "$top/bench/post_open.lua" "$c")
    ceil=$1
    set -- $(run_wrk "http://127.0.0.1:$lab_port" \
        "$top/bench/post_open.lua" "$c")
    awk -v r=open -v c="$c" -v ceil="$ceil" -v rps="$1" -v p50="$2" \
        -v p99="$3" -v p999="$4" -v err="$5" -v non="$6" 'BEGIN {
        printf "| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %d |\n",
            r, c, ceil, rps, rps / ceil, p50 / 1000, p99 / 1000,
            p999 / 1000, err + non }'
done
rows=$(sqlite3 "$work/labgate.db" "SELECT count(*) FROM results")
echo
echo "Rows stored during the run: $rows (every 201 committed with synchronous=FULL)."
