#!/bin/sh
# Fill a database through the open route with wrk, then time
# `labgate-server audit verify` and a CSV export over it.
#   bench/audit_verify.sh BUILD_DIR [SECONDS]
# About 20,000 posts/s on the 2-core development machine: 55 s gives
# roughly a million rows.
set -eu
build=$1
secs=${2:-55}
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/server/labgate-server"
dir=$(mktemp -d /tmp/labgate-bench-XXXXXX)
port=18190

"$bin" --listen "127.0.0.1:$port" --db "$dir/b.db" 2>/dev/null &
pid=$!
sleep 1
wrk -t2 -c64 -d"${secs}s" -s "$top/bench/post_open.lua" \
    "http://127.0.0.1:$port" | grep -E 'requests in|Requests/sec'
kill "$pid"
wait "$pid" || true
/usr/bin/time -f 'verify: %e s, %M KB' "$bin" audit verify --db "$dir/b.db"
/usr/bin/time -f 'export csv: %e s' sh -c \
    "'$bin' audit export --format csv --db '$dir/b.db' | wc -l"
rm -rf "$dir"
