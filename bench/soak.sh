#!/bin/sh
# Soak: run the AddressSanitizer build of labgate (LeakSanitizer on) on
# loopback, measure its maximum open-route rate for 10 s, then hold half
# of it for MINUTES (default 10) with wrk's per-request delay (set from a
# 10 s probe), sampling the server's resident memory every 30 s.  At the end the
# server gets SIGTERM and its leak report (if any) is printed.
#
# With SOAK_BUILD=release the release build (build-bench/) runs instead,
# for resident-memory figures without AddressSanitizer's own growth.
#
# usage: [SOAK_BUILD=release] bench/soak.sh [MINUTES]
set -eu
minutes=${1:-10}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-asan
flags="-DCMAKE_BUILD_TYPE=Debug -DLABGATE_SANITIZE=ON"
if [ "${SOAK_BUILD:-asan}" = release ]; then
    build=$top/build-bench
    flags="-DCMAKE_BUILD_TYPE=Release -DLABGATE_TESTS=OFF"
fi
work=$(mktemp -d /tmp/labgate-soak-XXXXXX)
export LABGATE_BENCH_DIR=$top/bench
lab_pid=""
cleanup() {
    [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2086
"$top/scripts/build" "$build" $flags >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/labgate.json" <<JSON
{"listen": "127.0.0.1:$port", "database": "$work/labgate.db",
 "log_level": "warn", "jwt": {}, "iam": {}}
JSON
ASAN_OPTIONS=detect_leaks=1 "$build/server/labgate-server" \
    --config "$work/labgate.json" 2>"$work/labgate.log" &
lab_pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$lab_pid/status"; }

max=$(wrk -t2 -c64 -d10s -s "$top/bench/post_open.lua" \
    "http://127.0.0.1:$port" | awk '/^RESULT/ { sub("rps=", "", $2);
    print $2 }')
# 64 connections, each waiting so that together they send max/2 a second:
# a connection's cycle is its delay plus the latency, which falls with the
# load, so guess the latency at full load first, then measure the rate a
# 10 s probe reaches, take the latency it implies and set the delay again.
delay=$(awk -v m="$max" 'BEGIN { d = 64000 / (m / 2) - 64000 / m;
    printf "%d", d < 1 ? 1 : d }')
probe=$(DELAY_MS=$delay wrk -t2 -c64 -d10s -s "$top/bench/post_open_paced.lua" \
    "http://127.0.0.1:$port" | awk '/^RESULT/ { sub("rps=", "", $2);
    print $2 }')
delay=$(awk -v m="$max" -v p="$probe" -v d="$delay" 'BEGIN {
    lat = 64000 / p - d; d = 64000 / (m / 2) - lat;
    printf "%d", d < 1 ? 1 : d + 0.5 }')
echo "maximum: $max posts/s; a 10 s probe paced at half reached $probe;" \
    "pacing each of 64 connections by ${delay} ms"
echo "minute rss_kb"
DELAY_MS=$delay wrk -t2 -c64 -d"${minutes}m" --timeout 5s \
    -s "$top/bench/post_open_paced.lua" "http://127.0.0.1:$port" \
    >"$work/wrk.out" &
wrk_pid=$!
i=0
while kill -0 "$wrk_pid" 2>/dev/null; do
    echo "$(awk -v s="$i" 'BEGIN { printf "%.1f", s / 60 }') $(rss)"
    sleep 30
    i=$((i + 30))
done
wait "$wrk_pid" || true
grep RESULT "$work/wrk.out"
echo "final rss_kb $(rss)"
kill -TERM "$lab_pid"
wait "$lab_pid" || echo "labgate exited with status $?"
lab_pid=""
echo "rows: $(sqlite3 "$work/labgate.db" 'SELECT count(*) FROM results')"
if [ "${SOAK_BUILD:-asan}" = release ]; then
    echo "release build: no leak check (run without SOAK_BUILD for one)"
elif grep -q "LeakSanitizer" "$work/labgate.log"; then
    grep -A20 "LeakSanitizer" "$work/labgate.log"
else
    echo "LeakSanitizer: no leaks reported at shutdown"
fi
grep -E "level=(warn|error)" "$work/labgate.log" | head -5 || true
