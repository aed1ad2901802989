#!/usr/bin/env bash
# The commune server's tests (tests/test_server_*.py, tests/test_sync_*.py)
# against a real PostgreSQL: a throwaway cluster on a loopback port, removed
# again at the end. Not part of `make test` or CI: the default run stays on
# SQLite and needs no database server.
#
#   tests/postgres/run.sh [pytest arguments...]
#   tests/postgres/run.sh --run COMMAND...   run COMMAND instead of the tests
#                                            (the benchmarks: make bench-postgres)
#
# HAILONG_PG_FSYNC=on keeps the cluster's fsync on, as a commune's server
# has it (the tests run without: their data need not survive a power cut).
#
# Installs PostgreSQL (Debian's packages, needs root) and the driver (the
# `postgres` extra) when they are missing. PostgreSQL refuses to run as root,
# so as root the cluster runs as the `postgres` user the package creates.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
PGUSER_NAME=hailong

find_pg_bin() {
    # Debian keeps the server programs out of PATH, one directory per major version.
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

if ! PGBIN=$(find_pg_bin); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "PostgreSQL is not installed; as root: apt-get install -y postgresql" >&2
        exit 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    PGBIN=$(find_pg_bin)
fi

if ! "$PYTHON" -c "import psycopg" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet -e '.[postgres]'
fi

# As root, everything the cluster touches belongs to the user it runs as.
if [ "$(id -u)" -eq 0 ]; then
    RUN_AS=(runuser -u postgres --)
else
    RUN_AS=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hailong-pg.XXXXXX")
chmod 755 "$WORK"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$WORK"; fi

stop_cluster() {
    if [ -f "$WORK/data/postmaster.pid" ]; then
        "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap stop_cluster EXIT INT TERM

# A free port on the loopback interface (the kernel picks it).
PORT=${HAILONG_PG_PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# Trust authentication is safe only because the cluster listens on loopback
# alone and lives for this run; its data is test data. The default collation
# is Vietnamese, as a commune's own server would likely have, not the C
# locale that would hide any ordering that differs from SQLite's.
init() {
    "${RUN_AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U "$PGUSER_NAME" -A trust -E UTF8 --no-sync "$@" \
        >"$WORK/initdb.log" 2>&1
}
if ! init --locale-provider=icu --icu-locale=vi-VN; then
    # A server built without ICU (or older than version 15): its default locale then.
    rm -rf "$WORK/data"
    init || { cat "$WORK/initdb.log" >&2; exit 1; }
fi
# fsync off by default: a throwaway cluster need not survive a power cut, and
# the tests create and drop a database per server they start.
FSYNC=${HAILONG_PG_FSYNC:-off}
"${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$WORK -c fsync=$FSYNC -c max_connections=300" \
    >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

export HAILONG_TEST_DATABASE_URL="postgresql+psycopg://$PGUSER_NAME@127.0.0.1:$PORT/postgres"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
status=0
if [ "${1:-}" = "--run" ]; then
    shift
    "$@" || status=$?
else
    "$PYTHON" -m pytest -o addopts= -ra tests/test_server_*.py tests/test_sync_*.py -q "$@" || status=$?
fi
if [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ]; then
    echo "--- the end of the PostgreSQL log ---" >&2
    tail -n 40 "$WORK/server.log" >&2
fi
exit "$status"
