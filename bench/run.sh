#!/bin/sh
# labgate benchmarks: build in release mode, start the ceiling server and
# labgate on loopback with a fresh database, load each route with wrk at
# several connection counts, and print a Markdown table of requests/s,
# latency percentiles and the ratio to the ceiling measured in this run.
#
# Routes: "open" (POST /lab/results), "jwt-reuse" (POST
# /lab/results-secure with a pool of 64 tokens, each reused, as CI jobs
# posting several results do) and "jwt-fresh" (a new token on every
# request, so each pays a full RS256 verification).  Tokens come from
# bench-mint, a static test issuer served from a directory on loopback.
# "iam" posts to /lab/results-ci with a pool of 64 requests pre-signed by
# bench/presign.py (botocore; presigned queries valid for an hour, since
# wrk's Lua cannot sign and header signatures expire with the clock-skew
# window), each reused, as CI jobs reuse their credentials.
#
# -s adds the scale check: open-route posting, GET /lab/results (newest
# 50, and newest 50 of one source address), GET /lab/summary latency and
# the server's resident memory on an empty database, then with 6,000
# suite and auth cells of one row each (the summary's baseline: its size
# follows the cells, not the rows), then with those cells holding
# 1,000,000 rows (bench/fill.sql).
#
# usage: bench/run.sh [-d SECONDS] [-c "1 16 64 256"] [-t THREADS]
#                     [-r "open jwt-reuse jwt-fresh iam"] [-n FRESH_TOKENS] [-s]
# Every load is bounded by -d; nothing leaves 127.0.0.1.
set -eu

duration=10
conns="1 16 64 256"
threads=320
routes="open jwt-reuse jwt-fresh iam"
fresh=400000
scale=0
while getopts d:c:t:r:n:s opt; do
    case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    t) threads=$OPTARG ;;
    r) routes=$OPTARG ;;
    n) fresh=$OPTARG ;;
    s) scale=1 ;;
    *) echo "usage: $0 [-d SECONDS] [-c CONNS] [-t THREADS] [-r ROUTES]" \
            "[-n FRESH_TOKENS] [-s]" >&2; exit 2 ;;
    esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench
work=$(mktemp -d /tmp/labgate-bench-XXXXXX)
export LABGATE_BENCH_DIR=$top/bench
pids=""
lab_pid=""
cleanup() {
    for p in $pids $lab_pid; do kill "$p" 2>/dev/null || true; done
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

# run_wrk URL SCRIPT CONNS: prints
# "rps p50 p99 p999 errors non2xx reused requests".
run_wrk() {
    t=2
    [ "$3" -lt 2 ] && t=1
    WRK_THREADS=$t wrk -t"$t" -c"$3" -d"${duration}s" --timeout 5s \
        -s "$2" "$1" |
        awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "=");
             v[kv[1]] = kv[2] } }
             /^WRAPS/ { w = $2 }
             END { printf "%s %s %s %s %s %s %d %s\n", v["rps"], v["p50"],
             v["p99"], v["p999"], v["errors"], v["non2xx"], w,
             v["requests"] }'
}

# The test issuer: keys, discovery document and tokens, served statically.
iss_port=$(free_port)
mkdir -p "$work/issuer"
"$build/bench/bench-mint" "$work/issuer" "http://127.0.0.1:$iss_port" \
    "$fresh"
python3 -m http.server "$iss_port" --bind 127.0.0.1 \
    --directory "$work/issuer" >"$work/issuer.log" 2>&1 &
pids="$pids $!"
export TOKENS="$work/issuer/tokens.txt"

ceil_port=$(free_port)
"$build/bench/bench-ceiling" "127.0.0.1:$ceil_port" "$threads" \
    2>"$work/ceiling.log" &
pids="$pids $!"
wait_port "$ceil_port"
wait_port "$iss_port"

lab_port=$(free_port)
cat >"$work/labgate.json" <<JSON
{"listen": "127.0.0.1:$lab_port", "database": "$work/labgate.db",
 "limits": {"threads": $threads},
 "iam": {"account": "123456789012", "static_keys": [
   {"access_key_id": "AKIABENCHMARK0000001",
    "secret_access_key": "benchSecretKey0123456789abcdefghijklmnop",
    "principal_arn": "arn:aws:iam::123456789012:user/bench",
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
               "Action": "execute-api:Invoke", "Resource": "*"}]}}]},
 "jwt": {"issuers": [{"issuer": "http://127.0.0.1:$iss_port",
                      "audiences": ["lab-api"],
                      "allow_insecure_http": true}]}}
JSON
start_labgate() {
    "$build/server/labgate-server" --config "$work/labgate.json" \
        2>>"$work/labgate.log" &
    lab_pid=$!
    wait_port "$lab_port"
}
stop_labgate() {
    kill "$lab_pid"
    wait "$lab_pid" || true
    lab_pid=""
}
rss_mb() {
    awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$lab_pid/status"
}
start_labgate
python3 "$top/bench/presign.py" "http://127.0.0.1:$lab_port" \
    AKIABENCHMARK0000001 benchSecretKey0123456789abcdefghijklmnop 64 \
    >"$work/iam-requests.txt"
export REQUESTS="$work/iam-requests.txt"

# row ROUTE CONNS CEILING RESULT...: one Markdown table row.
row() {
    awk -v r="$1" -v c="$2" -v ceil="$3" -v rps="$4" -v p50="$5" \
        -v p99="$6" -v p999="$7" -v err="$8" -v non="$9" 'BEGIN {
        printf "| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %d |\n",
            r, c, ceil, rps, rps / ceil, p50 / 1000, p99 / 1000,
            p999 / 1000, err + non }'
}

script_for() {
    case $1 in
    open) echo "$top/bench/post_open.lua" ;;
    jwt-*) echo "$top/bench/post_jwt_pool.lua" ;;
    iam) echo "$top/bench/post_iam_pool.lua" ;;
    esac
}

echo "## $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r)"
echo
echo "wrk ${duration}s per row; latency in ms; ratio = labgate rps / ceiling rps at the same connections."
echo
echo "| route | conns | ceiling rps | labgate rps | ratio | p50 | p99 | p99.9 | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
wraps=0
export TOKEN_OFFSET=0
for c in $conns; do
    set -- $(run_wrk "http://127.0.0.1:$ceil_port/lab/results" \
        "$top/bench/post_open.lua" "$c")
    ceil=$1
    for r in $routes; do
        export MODE=${r#jwt-}
        set -- $(run_wrk "http://127.0.0.1:$lab_port" "$(script_for "$r")" \
            "$c")
        row "$r" "$c" "$ceil" "$@"
        if [ "$r" = jwt-fresh ]; then
            wraps=$((wraps + $7))
            TOKEN_OFFSET=$((TOKEN_OFFSET + $8))
        fi
    done
done
rows=$(sqlite3 "$work/labgate.db" "SELECT count(*) FROM results")
echo
echo "Rows stored during the run: $rows (every 201 committed with synchronous=FULL)."
echo "jwt-fresh: $fresh distinct tokens; requests that had to reuse one: $wraps."
echo "jwt-fresh requests in all: $TOKEN_OFFSET."
echo "Resident memory of labgate-server after the run: $(rss_mb) MB."

[ "$scale" = 1 ] || exit 0

# scale ROWS_LABEL: open-route posts and list latency at 64 connections.
scale_rows() {
    export MODE=reuse
    set -- $(run_wrk "http://127.0.0.1:$lab_port" \
        "$top/bench/post_open.lua" 64)
    printf "| %s | post, 64 conns | %.0f | %.2f | %.2f | %d |\n" "$label" \
        "$1" "$(echo "$2" | awk '{print $1/1000}')" \
        "$(echo "$3" | awk '{print $1/1000}')" $(($5 + $6))
    set -- $(run_wrk "http://127.0.0.1:$lab_port" \
        "$top/bench/get_list.lua" 16)
    printf "| %s | GET /lab/results?limit=50, 16 conns | %.0f | %.2f | %.2f | %d |\n" \
        "$label" "$1" "$(echo "$2" | awk '{print $1/1000}')" \
        "$(echo "$3" | awk '{print $1/1000}')" $(($5 + $6))
    # Source address is folded into principal for open-route rows only
    # (migrations/0007): this filter reads both of its index arms.
    set -- $(LIST_FILTER=source_addr=10.0.7.7 run_wrk \
        "http://127.0.0.1:$lab_port" "$top/bench/get_list.lua" 16)
    printf "| %s | GET /lab/results?source_addr=..., 16 conns | %.0f | %.2f | %.2f | %d |\n" \
        "$label" "$1" "$(echo "$2" | awk '{print $1/1000}')" \
        "$(echo "$3" | awk '{print $1/1000}')" $(($5 + $6))
    set -- $(run_wrk "http://127.0.0.1:$lab_port" \
        "$top/bench/get_summary.lua" 16)
    printf "| %s | GET /lab/summary, 16 conns | %.0f | %.2f | %.2f | %d |\n" \
        "$label" "$1" "$(echo "$2" | awk '{print $1/1000}')" \
        "$(echo "$3" | awk '{print $1/1000}')" $(($5 + $6))
    echo "| $label | resident memory | $(rss_mb) MB | | | |"
}

echo
echo "### Scale: empty database against 1,000,000 rows"
echo
echo "| database | load | rps | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|---|"
stop_labgate
rm -f "$work/labgate.db" "$work/labgate.db-wal" "$work/labgate.db-shm"
start_labgate
label="empty"
scale_rows
# fill FROM TO: rows FROM..TO of bench/fill.sql's sequence, server stopped.
fill() {
    stop_labgate
    sqlite3 -cmd ".parameter set @from $1" -cmd ".parameter set @to $2" \
        "$work/labgate.db" <"$top/bench/fill.sql" >/dev/null
    # The fill runs with synchronous=OFF: flush its hundreds of MB now,
    # or the kernel writes them back during the next measurement and
    # every fdatasync of labgate's WAL queues behind them (measured: post
    # p99 177 ms against 9.5 ms after a sync).
    sync
    start_labgate
}
# The summary's size follows the number of suites, not of results: the
# same 6,000 cells with one result each are the baseline for its latency.
fill 1 6000
label="6,000 cells, 6,000 filled rows"
scale_rows
start=$(date +%s)
fill 6001 1000000
fill_secs=$(($(date +%s) - start))
label="1,000,000 rows"
scale_rows
echo
echo "Filling rows 6,001 to 1,000,000 with bench/fill.sql took ${fill_secs}s;" \
    "database $(du -m "$work/labgate.db" | cut -f1) MB."
