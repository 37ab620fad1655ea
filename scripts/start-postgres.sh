#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL for the test suite and print its DATABASE_URL.
# Works as root (runs the server as the `postgres` user) and as an ordinary user.
set -euo pipefail

port=${FINSYNC_PG_PORT:-54329}
dir=${FINSYNC_PG_DIR:-/tmp/finsync-pg-$port}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    else
        echo "PostgreSQL is not installed (need initdb and pg_ctl)" >&2
        exit 1
    fi
fi

as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
if ! as_server_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server_user "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
    fi
    # Durability is pointless for a throwaway test server; speed is not.
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
fi
"$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='finsync'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres finsync
echo "postgres://postgres@127.0.0.1:$port/finsync"
