#!/bin/sh
# Benchmark: durable posting throughput with and without 100 watching
# dashboards.  Starts labgate-server on a temporary database, runs wrk
# (bench/post_open.lua) alone, then while 100 idle long-polls wait, then
# while 100 followers run exactly as labgate-tui does.
#   [ROUNDS=N] bench/dashboard_load.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-10}
conns=${3:-64}
tmp=$(mktemp -d /tmp/labgate-dash-XXXXXX)
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/c.json" <<JSON
{"listen":"127.0.0.1:0","database":"$tmp/b.db","jwt":{},"iam":{},
 "log_level":"info"}
JSON
"$build/server/labgate-server" --config "$tmp/c.json" --listen 127.0.0.1:0 \
    2>"$tmp/log" &
srv=$!
for _ in $(seq 100); do
    port=$(sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' "$tmp/log")
    [ -n "$port" ] && break
    sleep 0.1
done
url="http://127.0.0.1:$port"

run_wrk() {
    wrk -t2 -c"$conns" -d"${secs}s" -s "$top/bench/post_open.lua" "$url" |
        awk -v what="$1" '/Requests\/sec/ {rps=$2} /Latency/ {lat=$2}
            /Non-2xx/ {bad=$NF}
            END {printf "%-28s posts/s=%s avg_latency=%s non2xx=%s\n",
                 what, rps, lat, bad ? bad : 0}'
}

wake() { # let long-polls left by a finished phase run out (wait=5)
    sleep 6
}

for round in $(seq "${ROUNDS:-1}"); do
    run_wrk "no watchers"
    "$build/tui/labgate-watchers-bench" "$url" 100 idle $((secs + 3)) &
    w=$!
    sleep 2
    run_wrk "100 idle long-polls"
    wait $w
    wake
    "$build/tui/labgate-watchers-bench" "$url" 100 follow $((secs + 3)) &
    w=$!
    sleep 2
    run_wrk "100 following dashboards"
    wait $w
    wake
done
