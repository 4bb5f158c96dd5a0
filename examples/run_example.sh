#!/bin/sh
# SPDX-License-Identifier: MIT
# run_example.sh [--jetstream] EXAMPLE EXPECTED...
#
# Runs one example program against a fresh nats-server on a free loopback
# port and checks that its output contains every EXPECTED string. With
# --jetstream the server runs with JetStream, storing in its temp dir.
# Like tests/fixture/server.c: `nats-server -a 127.0.0.1 -p -1
# --ports_file_dir DIR`, then the URL is read from DIR/nats-server_<pid>.ports.
# The server binary is $NB_TEST_NATS_SERVER, else nats-server on PATH.
set -u

jetstream=no
if [ "${1:-}" = --jetstream ]; then
    jetstream=yes
    shift
fi
exe=$1
shift
server=${NB_TEST_NATS_SERVER:-nats-server}
dir=$(mktemp -d "${TMPDIR:-/tmp}/nbexample-XXXXXX") || exit 1
pid=

stop_server() {
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 250 ]; do # 5 s
        sleep 0.02
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}

cleanup() {
    stop_server
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ $jetstream = yes ]; then
    "$server" -a 127.0.0.1 -p -1 --ports_file_dir "$dir" -js -sd "$dir/js" >"$dir/server.log" 2>&1 &
else
    "$server" -a 127.0.0.1 -p -1 --ports_file_dir "$dir" >"$dir/server.log" 2>&1 &
fi
pid=$!

# The ports file appears once the server listens; its write is not atomic,
# so only a complete, quoted URL counts.
url=
i=0
while [ -z "$url" ] && [ $i -lt 500 ]; do # 10 s
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run_example: nats-server exited early:" >&2
        cat "$dir/server.log" >&2
        exit 1
    fi
    if [ -f "$dir/nats-server_$pid.ports" ]; then
        url=$(grep -o '"nats://[^"]*"' "$dir/nats-server_$pid.ports" | head -n 1 | tr -d '"')
    fi
    [ -n "$url" ] || sleep 0.02
    i=$((i + 1))
done
if [ -z "$url" ]; then
    echo "run_example: nats-server wrote no ports file within 10 s" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

echo "run_example: $exe with NATS_URL=$url"
NATS_URL=$url timeout 30 "$exe" >"$dir/out.txt" 2>&1
rc=$?
cat "$dir/out.txt"
if [ $rc -ne 0 ]; then
    echo "run_example: $exe exited with $rc" >&2
    exit 1
fi
for want in "$@"; do
    if ! grep -F -q -- "$want" "$dir/out.txt"; then
        echo "run_example: output lacks \"$want\"" >&2
        exit 1
    fi
done
echo "run_example: ok"
