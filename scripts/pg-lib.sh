# pg-lib.sh - a throwaway PostgreSQL cluster for tests and benchmarks (sourced
# by scripts/pg-test.sh, scripts/test.sh and scripts/bench.sh; bash).
#
#   . scripts/pg-lib.sh
#   pg_cluster_start [fast|bench] || exit     # sets PG_BASE, PG_PSQL, PG_DIR, PG_PORT, PG_USER
#   "$PG_PSQL" "$PG_BASE dbname=postgres" -c 'CREATE DATABASE x'
#   pg_cluster_stop                           # also safe when nothing was started
#
# The cluster lives in a temporary directory on a loopback port (no system
# service): initdb with trust authentication, sockets in the directory
# itself. initdb and postgres refuse to run as root, so as root the cluster
# runs as the user `nobody` (runuser, else setpriv). `fast` (the default, for
# tests) turns fsync, synchronous_commit and full_page_writes off; `bench`
# keeps fsync and full-page writes on and synchronous_commit off, the same
# promise as the SQLite backend's WAL with synchronous=NORMAL (a crash may
# lose the last commits, never consistency), with shared_buffers 512 MB.
# Data checksums are on either way.
# PG_BASE is the conninfo without dbname ("host=127.0.0.1 port=N user=U").
#
# Environment: MZ_PG_BINDIR (where initdb/pg_ctl/postgres are; found under
# /usr/lib/postgresql/*/bin otherwise), MZ_PG_PORT (default: a free port),
# MZ_PG_KEEP=1 keeps the cluster directory after stopping.
# Messages go to stderr; pg_cluster_start returns 2 when PostgreSQL is
# missing or does not start.

PG_STARTED=0
PG_DIR=
PG_RUN_AS=()

pg_cluster_start() {
    local mode=${1:-fast} bindir=${MZ_PG_BINDIR:-} d opts
    if [ -z "$bindir" ]; then
        for d in /usr/lib/postgresql/*/bin; do
            [ -x "$d/initdb" ] && bindir=$d
        done
    fi
    if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then
        bindir=$(dirname "$(command -v initdb)")
    fi
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
        echo "pg: initdb/pg_ctl not found (make deps installs Debian's postgresql)" >&2
        return 2
    fi
    PG_BINDIR=$bindir
    PG_PSQL=$bindir/psql
    [ -x "$PG_PSQL" ] || PG_PSQL=$(command -v psql || true)
    [ -n "$PG_PSQL" ] || { echo "pg: psql not found" >&2; return 2; }

    PG_USER=$(id -un)
    PG_RUN_AS=()
    if [ "$(id -u)" -eq 0 ]; then
        PG_USER=nobody
        if command -v runuser >/dev/null 2>&1; then
            PG_RUN_AS=(runuser -u nobody --)
        else
            PG_RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
        fi
    fi

    PG_PORT=${MZ_PG_PORT:-}
    if [ -z "$PG_PORT" ]; then
        PG_PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null ||
            python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    fi

    PG_DIR=$(mktemp -d /tmp/mz-pg-XXXXXX)
    chmod 755 "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$PG_DIR"
    if ! "${PG_RUN_AS[@]}" "$bindir/initdb" -D "$PG_DIR/data" -A trust -U "$PG_USER" -E UTF8 \
        --locale=C.UTF-8 --data-checksums >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg: initdb failed:" >&2
        cat "$PG_DIR/initdb.log" >&2
        rm -rf "$PG_DIR"
        return 2
    fi
    opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300"
    if [ "$mode" = fast ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB"
    else
        opts="$opts -c synchronous_commit=off -c shared_buffers=512MB -c max_wal_size=4GB"
    fi
    if ! "${PG_RUN_AS[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "$opts" start >/dev/null 2>&1; then
        echo "pg: the server did not start:" >&2
        tail -20 "$PG_DIR/server.log" >&2
        rm -rf "$PG_DIR"
        return 2
    fi
    PG_STARTED=1
    PG_BASE="host=127.0.0.1 port=$PG_PORT user=$PG_USER"
    echo "pg: cluster on 127.0.0.1:$PG_PORT ($PG_DIR, $mode), user $PG_USER" >&2
    return 0
}

pg_cluster_stop() {
    if [ "$PG_STARTED" = 1 ]; then
        "${PG_RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        PG_STARTED=0
    fi
    if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
        if [ "${MZ_PG_KEEP:-0}" = 1 ]; then
            echo "pg: cluster kept in $PG_DIR" >&2
        else
            rm -rf "$PG_DIR"
        fi
    fi
    PG_DIR=
}
