#!/bin/bash
# pg-test.sh - run the API suite (and tests/unit/test_pg) against a throwaway
# PostgreSQL cluster (scripts/pg-lib.sh). make test runs the same through
# scripts/test.sh; this script is for running it alone.
#
#   scripts/pg-test.sh [BIN] [node --test arguments...]
#
# BIN defaults to $MZ_BIN, else build/minzheng-sample. tests/api/lib.mjs sees
# MZ_TEST_PG (the conninfo of the cluster without dbname) and creates one
# database per server it starts (CREATE DATABASE through psql). The cluster
# is stopped and its directory removed on every exit (trap), also after a
# failure or Ctrl-C.
#
# Environment: as scripts/pg-lib.sh (MZ_PG_BINDIR, MZ_PG_PORT, MZ_PG_KEEP=1),
# MZ_PG_UNIT_BIN the test_pg binary to run first (default build/tests/test_pg
# if present), MZ_PG_CONCURRENCY (node --test concurrency, default 2).
#
# Prints the node --test summary; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
. scripts/pg-lib.sh

bin=${1:-${MZ_BIN:-build/minzheng-sample}}
[ $# -gt 0 ] && shift

trap pg_cluster_stop EXIT
trap 'exit 130' INT TERM
pg_cluster_start fast || exit 2

export MZ_TEST_PG="$PG_BASE"
export MZ_TEST_PG_PSQL="$PG_PSQL"

status=0
unit=${MZ_PG_UNIT_BIN:-build/tests/test_pg}
if [ -x "$unit" ]; then
    "$PG_PSQL" "$PG_BASE dbname=postgres" -qc "CREATE DATABASE mz_unit" >/dev/null || status=1
    MZ_TEST_PG_CONNINFO="$PG_BASE dbname=mz_unit" "$unit" || status=1
fi

MZ_BIN="$bin" node --test --test-concurrency="${MZ_PG_CONCURRENCY:-2}" "${@:-tests/api/}" || status=1
exit $status
