#!/bin/bash
# pg-test.sh - run the API suite (and tests/unit/test_pg) against a throwaway
# PostgreSQL cluster.
#
#   scripts/pg-test.sh [BIN] [node --test arguments...]
#
# BIN defaults to $MZ_BIN, else build/minzheng-sample. The cluster lives in a
# temporary directory on a loopback port (no system service): initdb with
# trust authentication, fsync off, sockets in the directory itself. initdb
# and postgres refuse to run as root, so as root the cluster runs as the
# user `nobody` (runuser). tests/api/lib.mjs sees MZ_TEST_PG (the conninfo of
# the cluster without dbname) and creates one database per server it starts
# (CREATE DATABASE through psql). The cluster is stopped and the directory
# removed on every exit (trap), also after a failure or Ctrl-C.
#
# Environment: MZ_PG_BINDIR (where initdb/pg_ctl/postgres are; found under
# /usr/lib/postgresql/*/bin otherwise), MZ_PG_PORT (default: a free port),
# MZ_PG_KEEP=1 keeps the cluster directory, MZ_PG_UNIT_BIN the test_pg
# binary to run first (default build/tests/test_pg if present).
#
# Prints the node --test summary; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

bin=${1:-${MZ_BIN:-build/minzheng-sample}}
[ $# -gt 0 ] && shift

# --- find the server binaries ------------------------------------------------
bindir=${MZ_PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && bindir=$d
    done
fi
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then
    bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "pg-test: initdb/pg_ctl not found (make deps installs Debian's postgresql)" >&2
    exit 2
fi
psql_bin=$bindir/psql
[ -x "$psql_bin" ] || psql_bin=$(command -v psql || true)
[ -n "$psql_bin" ] || { echo "pg-test: psql not found" >&2; exit 2; }

# --- who runs the cluster ------------------------------------------------------
run_as=()
pg_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    pg_user=nobody
    if command -v runuser >/dev/null 2>&1; then
        run_as=(runuser -u nobody --)
    else
        run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
    fi
fi

# --- a free loopback port ---------------------------------------------------------
port=${MZ_PG_PORT:-}
if [ -z "$port" ]; then
    port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
fi

dir=$(mktemp -d /tmp/mz-pg-XXXXXX)
chmod 755 "$dir"
data=$dir/data
started=0

cleanup() {
    if [ "$started" -eq 1 ]; then
        "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "${MZ_PG_KEEP:-0}" = 1 ]; then
        echo "pg-test: cluster kept in $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] && chown "$pg_user" "$dir"
if ! "${run_as[@]}" "$bindir/initdb" -D "$data" -A trust -U "$pg_user" -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1; then
    echo "pg-test: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 2
fi
if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" \
    start >/dev/null 2>&1; then
    echo "pg-test: the server did not start:" >&2
    tail -20 "$dir/server.log" >&2
    exit 2
fi
started=1

base="host=127.0.0.1 port=$port user=$pg_user"
export MZ_TEST_PG="$base"
export MZ_TEST_PG_PSQL="$psql_bin"
echo "pg-test: cluster on 127.0.0.1:$port ($dir), user $pg_user" >&2

status=0
unit=${MZ_PG_UNIT_BIN:-build/tests/test_pg}
if [ -x "$unit" ]; then
    "$psql_bin" "$base dbname=postgres" -qc "CREATE DATABASE mz_unit" >/dev/null || status=1
    MZ_TEST_PG_CONNINFO="$base dbname=mz_unit" "$unit" || status=1
fi

MZ_BIN="$bin" node --test --test-concurrency="${MZ_PG_CONCURRENCY:-2}" "${@:-tests/api/}" || status=1
exit $status
