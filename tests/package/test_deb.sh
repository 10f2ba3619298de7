#!/bin/sh
# Build the .deb from a fresh tree configured for /usr, install it with
# dpkg, run the installed server the way its systemd unit does (through
# systemd when it is running, otherwise as "nobody" with the unit's
# ExecStart arguments), post a result and read it back, then purge the
# package.  It changes the system (dpkg -i), so it runs as root on a
# disposable machine: CI's.  A lock keeps two runs from overlapping, and
# every exit path removes what the run installed or started.
#
# usage: test_deb.sh SOURCE_DIR
set -eu

src=$(cd "${1:?usage: test_deb.sh SOURCE_DIR}" && pwd)
unit=/usr/lib/systemd/system/labgate.service
conf=/etc/labgate/labgate.json

fail() {
    echo "test_deb: FAIL: $*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    echo "test_deb: skipped: must run as root (it installs a package)" >&2
    exit 77
fi
for tool in cmake cpack dpkg dpkg-deb dpkg-shlibdeps curl jq setpriv sqlite3
do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

exec 9>/tmp/labgate-test-deb.lock
flock -w 600 9 || fail "another package test holds /tmp/labgate-test-deb.lock"

work=$(mktemp -d /tmp/labgate-deb-XXXXXX)
chmod 0755 "$work"
server_pid=""
dropin=""
installed=0

cleanup() {
    status=$?
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$dropin" ]; then
        systemctl stop labgate.service 2>/dev/null || true
        rm -rf "$dropin"
        systemctl daemon-reload 2>/dev/null || true
    fi
    if [ "$installed" -eq 1 ]; then
        dpkg --purge labgate >"$work/purge.log" 2>&1 || cat "$work/purge.log" >&2
    fi
    if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
        echo "--- server log" >&2
        cat "$work/server.log" >&2
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT INT TERM

echo "== build the package"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX=/usr -DLABGATE_TESTS=OFF >"$work/configure.log"
cmake --build "$work/build" -j 2 >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; fail "build failed"; }
(cd "$work/build" && cpack -G DEB -B "$work/out") >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(find "$work/out" -maxdepth 1 -name 'labgate_*.deb' | head -n 1)
[ -n "$deb" ] || fail "no .deb in $work/out"

echo "== check its metadata and contents"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libsqlite3-0 libcivetweb1 libjansson4; do
    echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" >"$work/contents"
for f in ./usr/bin/labgate-server ./usr/bin/labgate-tui \
    ./usr/share/man/man8/labgate-server.8.gz \
    ./usr/share/man/man1/labgate-tui.1.gz ./etc/labgate/labgate.json \
    ./usr/lib/systemd/system/labgate.service \
    ./usr/share/doc/labgate/openapi.yaml; do
    grep -q " $f\$" "$work/contents" || fail "$f is not in the package"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles"
grep -qx "$conf" "$work/conffiles" || fail "$conf is not a conffile"

echo "== install it"
if dpkg-query -W -f='${Status}' labgate 2>/dev/null | grep -q "ok installed"
then
    fail "labgate is already installed here; remove it first"
fi
installed=1
dpkg -i "$deb" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "dpkg -i failed"; }
[ "$(/usr/bin/labgate-server --version)" = \
    "labgate-server $(dpkg-deb -f "$deb" Version)" ] ||
    fail "installed labgate-server reports the wrong version"
zcat /usr/share/man/man8/labgate-server.8.gz | grep -q '^\.TH LABGATE-SERVER 8' ||
    fail "labgate-server(8) is not a man page"
for d in DynamicUser=yes StateDirectory=labgate ProtectSystem=strict \
    NoNewPrivileges=yes; do
    grep -qx "$d" "$unit" || fail "$unit lacks $d"
done

# systemd's own check of the unit works without a running systemd.  The
# Documentation= check needs a man database, which may not be built yet.
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || true
    if grep -v "Command 'man labgate-server(8)' failed" "$work/verify.log" |
        grep -q .; then
        cat "$work/verify.log" >&2
        fail "systemd-analyze verify found problems in $unit"
    fi
    # The sandboxing, scored by systemd: 0 is fully locked down, 10 is
    # none at all; up to 2 is what systemd calls "OK".
    systemd-analyze security --offline=true --no-pager "$unit" \
        >"$work/security.log" 2>&1 || true
    level=$(sed -n 's/.*Overall exposure level for labgate.service: \([0-9.]*\).*/\1/p' \
        "$work/security.log")
    [ -n "$level" ] || { cat "$work/security.log" >&2; fail "no exposure level"; }
    awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
        fail "exposure level $level of $unit is above 2.0"
    echo "systemd exposure level: $level"
fi

# The unit's ExecStart, split into words (it has no quoting).
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$execstart" ] || fail "no ExecStart in $unit"

# "port=N" from the server's listening line in $1, or nothing yet.
listening_port() {
    sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' "$1" | head -n 1
}

running=$(systemctl is-system-running 2>/dev/null || true)
case "$running" in
running | degraded)
    echo "== start the service with systemd ($running)"
    # A drop-in moves it to a free port and a scratch database.
    dropin=/run/systemd/system/labgate.service.d
    mkdir -p "$dropin"
    printf '[Service]\nExecStart=\nExecStart=%s --listen 127.0.0.1:0\n' \
        "$execstart" >"$dropin/test.conf"
    systemctl daemon-reload
    systemctl restart labgate.service
    port=""
    for _ in $(seq 100); do
        journalctl -u labgate.service --no-pager -o cat >"$work/server.log" \
            2>/dev/null || true
        port=$(listening_port "$work/server.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || fail "the service did not start listening"
    systemctl is-active --quiet labgate.service || fail "service not active"
    ;;
*)
    echo "== systemd is not running ($running): run ExecStart as nobody"
    # What the unit's StateDirectory= and DynamicUser= would provide.
    state="$work/state"
    mkdir -m 0700 "$state"
    chown nobody:nogroup "$state"
    # shellcheck disable=SC2086
    setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
        $execstart --listen 127.0.0.1:0 --db "$state/labgate.db" \
        >"$work/server.log" 2>&1 &
    server_pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(listening_port "$work/server.log")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
        sleep 0.1
    done
    [ -n "$port" ] || fail "the server did not start listening"
    ;;
esac

echo "== post a result to port $port and read it back"
base="http://127.0.0.1:$port"
curl -sS -o "$work/post.json" -w '%{http_code}' -X POST "$base/lab/results" \
    -H 'content-type: application/json' \
    -d '{"status":"pass","suite":"deb-package"}' >"$work/code"
[ "$(cat "$work/code")" = 201 ] ||
    fail "POST answered $(cat "$work/code"): $(cat "$work/post.json")"
id=$(jq -r .id "$work/post.json")
curl -sS -f "$base/lab/results/$id" >"$work/get.json" || fail "GET $id failed"
[ "$(jq -r .suite "$work/get.json")" = deb-package ] || fail "wrong suite"
[ "$(jq -r .identity.source_addr "$work/get.json")" = 127.0.0.1 ] ||
    fail "wrong source address"
curl -sS -f "$base/readyz" >/dev/null || fail "/readyz is not 200"

if [ -n "$server_pid" ]; then
    [ "$(stat -c %U "$state/labgate.db")" = nobody ] ||
        fail "the database is not owned by the unprivileged user"
    [ "$(sqlite3 "$state/labgate.db" \
        "SELECT suite FROM results WHERE id = $id")" = deb-package ] ||
        fail "row $id is not in the database"
    kill -TERM "$server_pid"
    wait "$server_pid" || fail "the server did not exit 0 on SIGTERM"
    server_pid=""
fi

echo "== purge it"
installed=0
dpkg --purge labgate >"$work/purge.log" 2>&1 ||
    { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
[ ! -e /usr/bin/labgate-server ] || fail "purge left /usr/bin/labgate-server"
[ ! -e "$conf" ] || fail "purge left $conf"
echo "test_deb: ok"
