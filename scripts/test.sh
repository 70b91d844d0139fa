#!/bin/bash
# Run every suite and print one closing line "N passed, N failed".
#
#   unit     cmocka tests (build/tests/test_*), in-process, :memory: SQLite
#   fuzz     each libFuzzer target replays its corpus (tests/fuzz/corpus/<name>)
#   api      node --test tests/api against the real binary on loopback
#   pg       tests/unit/test_pg and the API suite again on PostgreSQL: a
#            throwaway cluster (scripts/pg-lib.sh, as `nobody` when root)
#   e2e      browser tests (tests/e2e), when the web app is built
#   asan     unit + api again, built with -fsanitize=address,undefined
#
# Counts come from each runner's own summary. Exit 0 only if nothing failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

note() { printf '== %s\n' "$*"; }

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:".
run_unit() { # $1 = directory of test binaries, $2 = label
    local dir=$1 label=$2 t
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        run_unit_one "$t" "$label"
    done
}

run_unit_one() { # $1 = test binary, $2 = label
    local t=$1 label=$2 out p f
    out="$log_dir/$label-$(basename "$t").log"
    "$t" >"$out" 2>&1
    local rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$out"; then f=$((f + 1)); fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '   %-40s %3d passed, %d failed\n' "$label/$(basename "$t")" "$p" "$f"
    [ "$f" -eq 0 ] || { echo "---- $out"; tail -40 "$out"; }
}

# node --test prints "# pass N" and "# fail N".
run_api() { # $1 = binary, $2 = label
    local bin=$1 label=$2 out="$log_dir/$2-api.log"
    [ -d tests/api ] && ls tests/api/*.test.mjs >/dev/null 2>&1 || return 0
    MZ_BIN="$bin" node --test --test-concurrency=2 tests/api/ >"$out" 2>&1
    local rc=$?
    local p f
    p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out" | tail -1)
    c=$(sed -n 's/^# cancelled \([0-9]*\)/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    f=$((f + c)) # a cancelled test (its hook failed) did not pass
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '   %-40s %3d passed, %d failed\n' "$label/api" "$p" "$f"
    [ "$f" -eq 0 ] || { echo "---- $out"; grep -B2 -A25 '^not ok' "$out" | head -150; }
}

# Each fuzz target replays its corpus once (no new fuzzing in make test).
run_fuzz() {
    local src name bin corpus out
    command -v clang >/dev/null 2>&1 || { echo "clang missing: run make deps"; failed=$((failed + 1)); return; }
    mkdir -p build/fuzz
    for src in tests/fuzz/fuzz_*.c; do
        [ -f "$src" ] || continue
        name=$(basename "$src" .c)
        bin=build/fuzz/$name
        corpus=tests/fuzz/corpus/${name#fuzz_}
        out="$log_dir/$name.log"
        if ! make --no-print-directory -j"$(nproc)" -s "$bin" >"$out" 2>&1; then
            failed=$((failed + 1)); echo "   fuzz/$name: build failed"; tail -20 "$out"; continue
        fi
        if [ -d "$corpus" ] && "$bin" -runs=0 "$corpus" >>"$out" 2>&1; then
            passed=$((passed + 1)); printf '   %-40s replayed %s inputs\n' "fuzz/$name" "$(ls "$corpus" | wc -l)"
        else
            failed=$((failed + 1)); echo "   fuzz/$name: FAILED"; tail -30 "$out"
        fi
    done
}

# The PostgreSQL stage: one throwaway cluster (stopped on any exit), test_pg
# on a database of its own, then the whole API suite with MZ_TEST_PG set
# (tests/api/lib.mjs gives every server a database of its own). A cluster
# that cannot start counts as a failure: the backend must stay green.
. scripts/pg-lib.sh
trap pg_cluster_stop EXIT
run_pg() {
    if ! pg_cluster_start fast 2>"$log_dir/pg-cluster.log"; then
        failed=$((failed + 1))
        echo "   pg: the PostgreSQL cluster did not start"
        cat "$log_dir/pg-cluster.log"
        return
    fi
    if [ -x build/tests/test_pg ] &&
        "$PG_PSQL" "$PG_BASE dbname=postgres" -qc "CREATE DATABASE mz_unit" >>"$log_dir/pg-cluster.log" 2>&1; then
        MZ_TEST_PG_CONNINFO="$PG_BASE dbname=mz_unit" run_unit_one build/tests/test_pg pg
    else
        failed=$((failed + 1)); echo "   pg/test_pg: cannot run (build/tests/test_pg, CREATE DATABASE)"
    fi
    MZ_TEST_PG="$PG_BASE" MZ_TEST_PG_PSQL="$PG_PSQL" run_api build/minzheng-sample pg
    pg_cluster_stop
}

run_e2e() {
    [ -d tests/e2e ] && ls tests/e2e/*.test.mjs >/dev/null 2>&1 || return 0
    local out="$log_dir/e2e.log" shots="$PWD/build/test-artifacts/screenshots"
    rm -rf "$shots" && mkdir -p "$shots"
    MZ_E2E_SHOTS="$shots" MZ_BIN=build/minzheng-sample node --test --test-concurrency=1 tests/e2e/ >"$out" 2>&1
    local rc=$? p f c
    p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out" | tail -1)
    c=$(sed -n 's/^# cancelled \([0-9]*\)/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    f=$((f + c))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '   %-40s %3d passed, %d failed\n' "e2e" "$p" "$f"
    echo "   screenshots: $(find "$shots" -name '*.png' | wc -l) in build/test-artifacts/screenshots/" | tee -a "$out"
    [ "$f" -eq 0 ] || { echo "---- $out"; grep -B2 -A25 '^not ok' "$out" | head -100; }
}

note "unit"
run_unit build unit
note "fuzz corpora"
run_fuzz
note "api"
run_api build/minzheng-sample api
note "postgresql"
run_pg
note "e2e"
run_e2e
note "sanitizers (ASan+UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0  # one-time fontconfig leak, see the file
run_unit build/asan asan
run_api build/asan/minzheng-sample asan

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
