#!/bin/sh
# Benchmark: durable posting throughput with and without 100 watching
# dashboards.  Each measurement starts a fresh labgate-server on a new
# temporary database (so results do not pile up between phases), then
# runs wrk (bench/post_open.lua, 64 connections) alone, beside 100 idle
# long-polls (a filter nothing matches: every commit makes them look),
# or beside 100 followers that run exactly as labgate-tui does.  Rounds
# interleave the three so drift on a shared machine hits all alike.
#   [ROUNDS=N] [WATCHERS_NICE=19] bench/dashboard_load.sh [BUILD_DIR] [SECONDS]
#       [CONNECTIONS]
# WATCHERS_NICE runs the simulated dashboards at that nice level, so on
# one machine they take less of the CPU the server needs, as dashboards
# on other machines would.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-10}
conns=${3:-64}
tmp=$(mktemp -d /tmp/labgate-dash-XXXXXX)
srv=""
trap 'stop_server; rm -rf "$tmp"' EXIT

start_server() {
    rm -f "$tmp"/b.db*
    cat >"$tmp/c.json" <<JSON
{"listen":"127.0.0.1:0","database":"$tmp/b.db","jwt":{},"iam":{},
 "log_level":"info"}
JSON
    : >"$tmp/log"
    "$build/server/labgate-server" --config "$tmp/c.json" 2>"$tmp/log" &
    srv=$!
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' \
            "$tmp/log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    url="http://127.0.0.1:$port"
}

stop_server() {
    if [ -n "$srv" ]; then
        kill "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    srv=""
}

cpu_ticks() { # user+system clock ticks the server has used
    awk '{print $14 + $15}' "/proc/$srv/stat"
}

# run_wrk LABEL: posts/s, latency, and the server's CPU time per 1000
# posts, which drifts less than throughput on a shared machine.
run_wrk() {
    t0=$(cpu_ticks)
    wrk -t2 -c"$conns" -d"${secs}s" -s "$top/bench/post_open.lua" "$url" \
        >"$tmp/wrk.out"
    t1=$(cpu_ticks)
    awk -v what="$1" -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
        -v secs="$secs" '/Requests\/sec/ {rps=$2} /Latency/ {lat=$2}
        /Non-2xx/ {bad=$NF}
        END {printf "%-26s posts/s=%s avg_latency=%s non2xx=%s " \
                    "server_cpu_ms_per_1000_posts=%.1f\n", what, rps, lat,
                    bad ? bad : 0, ticks * 1000 / hz * 1000 / (rps * secs)}' \
        "$tmp/wrk.out"
}

# measure LABEL [idle|follow]: one fresh server, optional watchers, wrk
measure() {
    start_server
    w=""
    if [ $# -gt 1 ]; then
        ${WATCHERS_NICE:+nice -n "$WATCHERS_NICE"} \
            "$build/tui/labgate-watchers-bench" "$url" 100 "$2" $((secs + 3)) \
            >"$tmp/watchers.out" &
        w=$!
        sleep 2
    fi
    run_wrk "$1"
    [ -n "$w" ] && wait "$w" && sed 's/^/    /' "$tmp/watchers.out"
    stop_server
}

for round in $(seq "${ROUNDS:-1}"); do
    echo "round $round"
    measure "no watchers"
    measure "100 idle long-polls" idle
    measure "100 following dashboards" follow
done
