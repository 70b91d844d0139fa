#!/usr/bin/env bash
# scripts/bench.sh - `make bench`: performance runs -> docs/benchmarks.md.
#
# Builds a temporary SQLite database of 1,000,000 sample_cases rows (bench/gen.sql),
# then measures build/minzheng-sample on loopback with wrk (64 connections, 2 wrk
# threads, a warm-up then a fixed run, --latency) and curl:
#   get       GET /api/v1/sample_cases/<random id>
#   bare      the same lookup on bench/bare.c (bare libmicrohttpd + SQLite)
#   list_div  GET /api/v1/sample_cases?division=<street|community>&size=20
#   list_kind GET /api/v1/sample_cases?kind=a&size=20&page=N
#   create    POST /api/v1/sample_cases
# plus start-up time (bench/startup.c, median of 10), resident memory, a
# 100,000-row CSV/XLSX export and a 10,000-row CSV import. Then the registry:
# `minzheng demo --persons BENCH_PERSONS` (time, peak memory, database size),
# a CSV import of BENCH_IMPORT_PERSONS synthetic persons into a fresh database
# (bench/persons_csv.c; POST /api/v1/persons/import?mode=all: time, server CPU,
# the server's peak memory during it (VmHWM reset before the upload) against
# its memory before the upload)
# and on that database:
#   person_get     GET /api/v1/persons/<random id>, 64 connections as issue 3
#                  states its goal (an unmasked, audited read: >= 40,000 req/s,
#                  p99 < 5 ms)
#   person_search  GET /api/v1/persons?q=<text>&size=20, 16 connections, an equal mix of name
#                  substrings, pinyin initials and exact ID numbers
# (bench/lua/person_*.lua), and the web workbench in Debian's chromium on that
# server (bench/browser.mjs: first load after login, navigation between two
# lists, each with the renderer main thread's busy and script time from CDP; BENCH_BROWSER_RUNS,
# default 7, medians). Then the same API runs on PostgreSQL (BENCH_PG=1, the
# default): a throwaway cluster (scripts/pg-lib.sh `bench`: fsync on,
# synchronous_commit off like SQLite's synchronous=NORMAL), each SQLite database copied into it with
# `minzheng migrate-data` (timed: the migration benchmark), and get, list_div,
# list_kind, an export, create, person_get and person_search measured again;
# docs/benchmarks.md shows both backends side by side. Raw outputs go to
# bench/out/ (gitignored); docs/benchmarks.md is regenerated every run, with
# bench/notes.md appended as its hand-written "Notes" section.
#
# Only 127.0.0.1 is ever contacted; servers bind 127.0.0.1 on a port the kernel
# picks. Every server started here is stopped on exit.
#
# Environment (all optional): BENCH_ROWS (1000000), BENCH_DURATION (15 s),
# BENCH_WARMUP (3 s), BENCH_ROUNDS (2: get and bare alternate, best run kept),
# BENCH_BIN (build/minzheng-sample), BENCH_CONNECTIONS (64), BENCH_WRK_THREADS (2), BENCH_DOC (docs/benchmarks.md),
# BENCH_PERSONS (1000000; 0 skips the registry runs), BENCH_PERSON_GET_CONNECTIONS
# (BENCH_CONNECTIONS: the person GET), BENCH_PERSON_CONNECTIONS (16: the person search),
# BENCH_IMPORT_PERSONS (1000000; 0 skips the persons import),
# BENCH_TMP (parent of the temporary directory, default /tmp), BENCH_QUIET_WAIT (5:
# before each measurement, wait up to this many seconds for other processes on
# the machine to go idle; 0 to never wait), BENCH_PG (1: also PostgreSQL; 0: SQLite only).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BENCH_BIN:-build/minzheng-sample}
OUT=bench/out
DOC=${BENCH_DOC:-docs/benchmarks.md}
NOTES=bench/notes.md
ROWS=${BENCH_ROWS:-1000000}
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-3}
ROUNDS=${BENCH_ROUNDS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
STARTUP_RUNS=10
PERSONS=${BENCH_PERSONS:-1000000}
PERSON_CONNS=${BENCH_PERSON_CONNECTIONS:-16}
PERSON_GET_CONNS=${BENCH_PERSON_GET_CONNECTIONS:-$CONNS}
IMPORT_PERSONS=${BENCH_IMPORT_PERSONS:-1000000}
QUIET_WAIT=${BENCH_QUIET_WAIT:-5}
PG=${BENCH_PG:-1}
HOST=127.0.0.1
CLK_TCK=$(getconf CLK_TCK)

# Loopback only: never let a proxy variable redirect curl.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy='*' NO_PROXY='*'
CURL=(curl -sS --noproxy '*' --max-time 300)

T_BEGIN=$(date +%s)
log() { printf '[bench %3ds] %s\n' "$(($(date +%s) - T_BEGIN))" "$*" >&2; }
die() {
    printf 'bench: FAILED: %s\n' "$*" >&2
    exit 1
}

for tool in wrk sqlite3 curl cc awk; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (make deps; wrk and sqlite3 are Debian packages)"
done
[ -x "$BIN" ] || die "$BIN is missing: run 'make build/minzheng-sample' (make bench builds it)"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.csv
TMP=$(mktemp -d "${BENCH_TMP:-/tmp}/minzheng-bench.XXXXXX")
DB=$TMP/bench.db
PIDS=()

stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    pg_cluster_stop
    rm -rf "$TMP"
}
. scripts/pg-lib.sh
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD...: start a server that logs "listening on
# http://127.0.0.1:PORT" to stderr; sets SRV_PID and SRV_PORT.
start_server() {
    local name=$1 i line
    shift
    "$@" >"$OUT/$name.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_PORT=
    for i in $(seq 1 100); do
        line=$(grep -o -m1 'listening on http://127\.0\.0\.1:[0-9]*' "$OUT/$name.log" || true)
        if [ -n "$line" ]; then
            SRV_PORT=${line##*:}
            break
        fi
        kill -0 "$SRV_PID" 2>/dev/null || {
            tail -20 "$OUT/$name.log" >&2
            die "$name exited during start-up (log above, $OUT/$name.log)"
        }
        sleep 0.1
    done
    [ -n "$SRV_PORT" ] || {
        tail -20 "$OUT/$name.log" >&2
        die "$name did not log 'listening on http://127.0.0.1:PORT' within 10 s"
    }
    log "$name: pid $SRV_PID on $HOST:$SRV_PORT"
}

# expect_status CODE URL [curl args...]: one request that must answer CODE.
expect_status() {
    local want=$1 url=$2 got
    shift 2
    got=$("${CURL[@]}" -o "$TMP/check.body" -w '%{http_code}' "$@" "$url") || die "curl $url failed"
    [ "$got" = "$want" ] || {
        head -c 600 "$TMP/check.body" >&2
        echo >&2
        die "$url answered $got, expected $want"
    }
}

vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
sys_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

declare -A R # results: R[name.key]

# wait_quiet: on a shared machine, wait (at most QUIET_WAIT s) until other
# processes use less than a quarter of a core, so runs do not overlap builds.
wait_quiet() {
    local waited=0 b0 b1 load
    while [ "$waited" -lt "$QUIET_WAIT" ]; do
        b0=$(sys_busy)
        sleep 1
        b1=$(sys_busy)
        load=$(calc "($b1 - $b0) / $CLK_TCK" 2)
        awk "BEGIN { exit !($load < 0.25) }" && return 0
        waited=$((waited + 1))
    done
    [ "$QUIET_WAIT" -gt 0 ] && log "the machine is still busy ($load cores) after ${QUIET_WAIT} s; measuring anyway"
    return 0
}

# wait_drain PID: when wrk stops, requests it sent may still be queued in the
# server (slow lists); wait (at most 90 s) until the server is idle so they
# do not spill into the next measurement.
wait_drain() {
    local pid=$1 i t0 t1
    for i in $(seq 1 180); do
        t0=$(proc_ticks "$pid")
        sleep 0.5
        t1=$(proc_ticks "$pid")
        [ $((t1 - t0)) -le 2 ] && return 0
    done
    log "WARNING: the server (pid $pid) is still busy 90 s after the run"
}

# run_wrk NAME PID PORT LUA [CONNECTIONS]: warm-up, then the measured run; parses
# the BENCH line of bench/lua/common.lua and the CPU used by the server, by
# wrk and by everything else on the machine during the run.
run_wrk() {
    local name=$1 pid=$2 port=$3 lua=$4 conns=${5:-$CONNS}
    local url="http://$HOST:$port/" kv s0 s1 b0 b1 wu ws
    wait_quiet
    wrk -t"$WRK_THREADS" -c"$conns" -d"${WARMUP}s" --timeout 30s --latency -s "bench/lua/$lua" \
        "$url" >"$OUT/$name.warmup.txt" 2>&1 || die "wrk warm-up $name failed ($OUT/$name.warmup.txt)"
    wait_drain "$pid"
    s0=$(proc_ticks "$pid")
    b0=$(sys_busy)
    TIMEFORMAT='%U %S'
    { time wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --timeout 30s --latency \
        -s "bench/lua/$lua" "$url" >"$OUT/$name.txt" 2>&1; } 2>"$TMP/wrk.time" ||
        die "wrk $name failed ($OUT/$name.txt)"
    s1=$(proc_ticks "$pid")
    b1=$(sys_busy)
    read -r wu ws <"$TMP/wrk.time"
    R[$name.conns]=$conns
    wait_drain "$pid"
    grep -q '^BENCH ' "$OUT/$name.txt" || die "no BENCH line in $OUT/$name.txt"
    for kv in $(grep '^BENCH ' "$OUT/$name.txt" | cut -d' ' -f2-); do
        R[$name.${kv%%=*}]=${kv#*=}
    done
    local dur=${R[$name.duration_s]}
    R[$name.srv_cpu]=$(calc "($s1 - $s0) / $CLK_TCK / $dur" 2)
    R[$name.wrk_cpu]=$(calc "($wu + $ws) / $dur" 2)
    R[$name.other_cpu]=$(calc "(($b1 - $b0) / $CLK_TCK - ($s1 - $s0) / $CLK_TCK - $wu - $ws) / $dur" 2)
    R[$name.us_per_req]=$(calc "($s1 - $s0) / $CLK_TCK * 1e6 / ${R[$name.requests]}" 0)
    R[$name.errors]=$((R[$name.err_connect] + R[$name.err_read] + R[$name.err_write] + R[$name.err_status] + R[$name.err_timeout]))
    log "$name: ${R[$name.rps]} req/s, p50 ${R[$name.p50_ms]} ms, p99 ${R[$name.p99_ms]} ms, errors ${R[$name.errors]}, server ${R[$name.srv_cpu]} cores, wrk ${R[$name.wrk_cpu]}, other ${R[$name.other_cpu]}"
}

# keep_best NAME ROUND: R[NAME.*] = the round of NAME with the highest req/s.
keep_best() {
    local name=$1 round=$2 k
    if [ -z "${R[$name.rps]:-}" ] || awk "BEGIN { exit !(${R[$name$round.rps]} > ${R[$name.rps]}) }"; then
        for k in "${!R[@]}"; do
            case $k in "$name$round".*) R[$name.${k#"$name$round".}]=${R[$k]} ;; esac
        done
        R[$name.round]=$round
    fi
}

# Background load: CPU busy on the machine before anything here starts (other
# jobs on a shared machine make every number below pessimistic).
bg_load() {
    local b0 b1
    b0=$(sys_busy)
    sleep 2
    b1=$(sys_busy)
    calc "($b1 - $b0) / $CLK_TCK / 2" 2
}
R[bg.before]=$(bg_load)
awk "BEGIN { exit !(${R[bg.before]} > 0.2) }" &&
    log "WARNING: the machine is already busy (${R[bg.before]} cores used by other processes); results will be pessimistic"

# --- 1. data ------------------------------------------------------------------------------
log "creating $ROWS rows in $DB"
t0=$(date +%s%N)
# (init's output may hold one-time passwords of the temporary database: kept in $TMP.)
"$BIN" init --db "$DB" >"$TMP/init.log" 2>&1 || {
    grep -v -i password "$TMP/init.log" | tail -20 >&2
    die "$BIN init failed (log above)"
}
sqlite3 "$DB" 'PRAGMA table_info(sample_cases)' >"$OUT/table_info.txt"
for col in id version created_at updated_at state title amount_fen apply_date division kind \
    members urgent deleted_at; do
    grep -q "^[0-9]*|$col|" "$OUT/table_info.txt" || die "sample_cases has no column $col (see $OUT/table_info.txt); update bench/gen.sql"
done
# Drop the table's indexes, load, then recreate them with the schema's own SQL.
IDX_SQL=$(sqlite3 "$DB" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sample_cases' AND sql IS NOT NULL")
DROP_SQL=$(sqlite3 "$DB" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sample_cases' AND sql IS NOT NULL")
sqlite3 "$DB" "$DROP_SQL"
sed "s/@ROWS@/$ROWS/" bench/gen.sql | sqlite3 "$DB" >/dev/null
t1=$(date +%s%N)
sqlite3 "$DB" "PRAGMA cache_size=-262144; $IDX_SQL ANALYZE; PRAGMA journal_mode=WAL;" >/dev/null
t2=$(date +%s%N)
got=$(sqlite3 "$DB" 'SELECT count(*) FROM sample_cases')
[ "$got" = "$ROWS" ] || die "expected $ROWS rows, found $got"
R[data.insert_s]=$(calc "($t1 - $t0) / 1e9" 1)
R[data.index_s]=$(calc "($t2 - $t1) / 1e9" 1)
R[data.total_s]=$(calc "($t2 - $t0) / 1e9" 1)
R[data.size_mb]=$(calc "$(stat -c %s "$DB") / 1048576" 0)
EXPORT_DIV=120101 # one district of ten: ~ROWS/10 rows
R[data.export_rows]=$(sqlite3 "$DB" "SELECT count(*) FROM sample_cases WHERE deleted_at IS NULL AND division >= '${EXPORT_DIV}000000' AND division < '${EXPORT_DIV}999999'")
log "data: ${R[data.total_s]} s (insert ${R[data.insert_s]} s, indexes + ANALYZE ${R[data.index_s]} s), ${R[data.size_mb]} MB"

# Authentication: when the binary has accounts (user-add), the runs use a
# bearer token of an account with every permission over all of Tianjin
# (role city_officer, scope 120000); each platform request then also pays
# the session lookup. Without accounts, requests go unauthenticated.
AUTH=none
if "$BIN" user-add --help >/dev/null 2>&1; then
    AUTH=token
    printf 'Ya-Ce-%s-Mima9\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$TMP/password"
    chmod 600 "$TMP/password"
    "$BIN" user-add --db "$DB" --username bench --password-file "$TMP/password" --scope 120000 \
        --name 压测 --roles city_officer --no-must-change >"$TMP/user-add.log" 2>&1 || {
        tail -5 "$TMP/user-add.log" >&2
        die "user-add failed (log above)"
    }
    # The account's permissions include personal data, which asks for a second
    # factor by default: switch that off in this temporary database.
    if "$BIN" auth-config --help >/dev/null 2>&1; then
        "$BIN" auth-config --db "$DB" --set totp_required=0 >"$TMP/auth-config.log" 2>&1 || {
            tail -5 "$TMP/auth-config.log" >&2
            die "auth-config failed (log above)"
        }
    fi
fi

# --- helpers ----------------------------------------------------------------------------------
cc -O2 -o "$TMP/bare" bench/bare.c -lmicrohttpd -lsqlite3 -lpthread || die "cannot build bench/bare.c"
cc -O2 -o "$TMP/startup" bench/startup.c || die "cannot build bench/startup.c"

# --- 2d. start-up time ------------------------------------------------------------------------
log "start-up: $STARTUP_RUNS runs"
wait_quiet
"$TMP/startup" "$STARTUP_RUNS" "$OUT/startup.log" "$BIN" serve --db "$DB" --listen "$HOST:{PORT}" \
    >"$OUT/startup.txt" || die "start-up runs failed ($OUT/startup.txt, $OUT/startup.log)"
for kv in $(tail -1 "$OUT/startup.txt"); do R[startup.${kv%%=*}]=${kv#*=}; done
log "start-up: median ${R[startup.median_ms]} ms"

# --- the platform -----------------------------------------------------------------------------
start_server platform "$BIN" serve --db "$DB" --listen "$HOST:0"
PF_PID=$SRV_PID
PF_PORT=$SRV_PORT
PF=http://$HOST:$PF_PORT
expect_status 200 "$PF/api/v1/health"
sleep 1
R[mem.idle_kb]=$(vm_kb "$PF_PID" VmRSS)
R[mem.idle_anon_kb]=$(vm_kb "$PF_PID" RssAnon)
R[mem.idle_file_kb]=$(vm_kb "$PF_PID" RssFile)
log "idle VmRSS ${R[mem.idle_kb]} kB"
export BENCH_TOKEN=
if [ "$AUTH" = token ]; then
    jq_token() { sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$1"; }
    printf '{"username":"bench","password":"%s"}' "$(head -1 "$TMP/password")" >"$TMP/login.json"
    expect_status 200 "$PF/api/v1/auth/login" -X POST -H 'Content-Type: application/json' \
        --data-binary "@$TMP/login.json"
    BENCH_TOKEN=$(jq_token "$TMP/check.body")
    [ -n "$BENCH_TOKEN" ] || die "login answered no token"
    CURL+=(-H "Authorization: Bearer $BENCH_TOKEN")
    log "logged in as bench (bearer token)"
fi
expect_status 200 "$PF/api/v1/sample_cases/$ROWS"
expect_status 200 "$PF/api/v1/sample_cases?division=120101001&size=20"
expect_status 200 "$PF/api/v1/sample_cases?kind=a&size=20&page=2"

start_server bare "$TMP/bare" "$DB"
BARE_PID=$SRV_PID
BARE_PORT=$SRV_PORT
expect_status 200 "http://$HOST:$BARE_PORT/api/v1/sample_cases/$ROWS"
R[mem.bare_idle_kb]=$(vm_kb "$BARE_PID" VmRSS)

export BENCH_ROWS=$ROWS
# 2a/2b: the platform and the baseline alternate; the best round of each is kept.
for round in $(seq 1 "$ROUNDS"); do
    run_wrk "get$round" "$PF_PID" "$PF_PORT" get.lua
    run_wrk "bare$round" "$BARE_PID" "$BARE_PORT" get.lua
    keep_best get "$round"
    keep_best bare "$round"
done
R[mem.bare_load_kb]=$(vm_kb "$BARE_PID" VmRSS)
R[mem.bare_load_anon_kb]=$(vm_kb "$BARE_PID" RssAnon)
R[mem.bare_load_file_kb]=$(vm_kb "$BARE_PID" RssFile)
stop_pid "$BARE_PID"

# 2c: lists.
run_wrk list_div "$PF_PID" "$PF_PORT" list_division.lua
# (8 connections: each request counts a full table scan, 64 would only queue.)
run_wrk list_kind "$PF_PID" "$PF_PORT" list_kind.lua 8

# 2f: export of one district (~100k rows) and import of 10,000 rows.
export_one() {
    local fmt=$1 res code
    res=$("${CURL[@]}" -o "$TMP/export.$fmt" -w '%{http_code} %{time_total} %{size_download}' \
        "$PF/api/v1/sample_cases/export?format=$fmt&division=$EXPORT_DIV") || die "export $fmt failed"
    read -r code R[export_$fmt.s] R[export_$fmt.bytes] <<<"$res"
    [ "$code" = 200 ] || die "export $fmt answered $code: $(head -c 300 "$TMP/export.$fmt")"
    log "export $fmt: ${R[export_$fmt.s]} s, ${R[export_$fmt.bytes]} bytes"
}
wait_quiet
export_one csv
R[export_csv.rows]=$(($(wc -l <"$TMP/export.csv") - 1))
[ "${R[export_csv.rows]}" = "${R[data.export_rows]}" ] ||
    die "the CSV export has ${R[export_csv.rows]} rows, expected ${R[data.export_rows]}"
head -3 "$TMP/export.csv" >"$OUT/export_head.csv"
export_one xlsx

IMPORT_ROWS=10000
awk -v n=$IMPORT_ROWS 'BEGIN {
    print "title,apply_date,division,amount_fen,kind,members,urgent,phone"
    for (i = 1; i <= n; i++)
        printf "导入案件%d,2023-%02d-%02d,1201%02d%03d%03d,%d,%s,%d,%s,139%08d\n", i, 1 + i % 12,
            1 + i % 28, 1 + i % 10, 1 + int(i / 10) % 10, 1 + i % 3, (i * 7919) % 5000000,
            (i % 3 ? "a" : "b"), 1 + i % 6, (i % 10 ? "false" : "true"), i
}' >"$TMP/import.csv"
wait_quiet
res=$("${CURL[@]}" -o "$TMP/import.json" -w '%{http_code} %{time_total}' -X POST \
    -H 'Content-Type: text/csv' --data-binary "@$TMP/import.csv" \
    "$PF/api/v1/sample_cases/import?mode=all") || die "import failed"
read -r code R[import.s] <<<"$res"
cp "$TMP/import.json" "$OUT/import.json"
[ "$code" = 200 ] || die "import answered $code: $(head -c 600 "$TMP/import.json")"
grep -q "\"imported\": *$IMPORT_ROWS" "$TMP/import.json" || die "import did not import $IMPORT_ROWS rows: $(head -c 600 "$TMP/import.json")"
R[import.rows]=$IMPORT_ROWS
R[import.rps]=$(calc "$IMPORT_ROWS / ${R[import.s]}" 0)
log "import: ${R[import.s]} s for $IMPORT_ROWS rows"

# 2e: creates.
expect_status 201 "$PF/api/v1/sample_cases" -X POST -H 'Content-Type: application/json' \
    --data '{"title":"压测检查","apply_date":"2024-01-02","division":"120101001001"}'
before=$(sqlite3 "$DB" 'SELECT max(id) FROM sample_cases')
run_wrk create "$PF_PID" "$PF_PORT" create.lua
after=$(sqlite3 "$DB" 'SELECT max(id) FROM sample_cases')
R[create.rows]=$((after - before))

R[mem.load_kb]=$(vm_kb "$PF_PID" VmRSS)
R[mem.load_anon_kb]=$(vm_kb "$PF_PID" RssAnon)
R[mem.load_file_kb]=$(vm_kb "$PF_PID" RssFile)
R[bg.after]=$(bg_load)
R[mem.hwm_kb]=$(vm_kb "$PF_PID" VmHWM)
log "VmRSS after load ${R[mem.load_kb]} kB (peak ${R[mem.hwm_kb]} kB)"
stop_pid "$PF_PID"

# bench_login PORT WHAT: log the bench account in on the server at PORT (when
# AUTH=token); sets BENCH_TOKEN and CURL (with the bearer header). WHAT names
# the server in the error.
bench_login() {
    CURL=(curl -sS --noproxy '*' --max-time 300)
    if [ "$AUTH" = token ]; then
        expect_status 200 "http://$HOST:$1/api/v1/auth/login" -X POST -H 'Content-Type: application/json' \
            --data-binary "@$TMP/login.json"
        BENCH_TOKEN=$(jq_token "$TMP/check.body")
        [ -n "$BENCH_TOKEN" ] || die "login on $2 answered no token"
        CURL+=(-H "Authorization: Bearer $BENCH_TOKEN")
    fi
}

# start_account_server NAME DB: the bench account in another database (when
# the binary has accounts), a server on it, and CURL logged in to it.
start_account_server() {
    local name=$1 db=$2
    if [ "$AUTH" = token ]; then
        "$BIN" user-add --db "$db" --username bench --password-file "$TMP/password" --scope 120000 \
            --name 压测 --roles city_officer --no-must-change >"$TMP/user-add.log" 2>&1 ||
            die "user-add on the $name database failed"
        if "$BIN" auth-config --help >/dev/null 2>&1; then
            "$BIN" auth-config --db "$db" --set totp_required=0 >"$TMP/auth-config.log" 2>&1 ||
                die "auth-config on the $name database failed"
        fi
    fi
    start_server "$name" "$BIN" serve --db "$db" --listen "$HOST:0"
    bench_login "$SRV_PORT" "the $name database"
}

# --- 4. the registry: demo city, person lookups and search ---------------------------------
if [ "$PERSONS" -gt 0 ]; then
    PDB=$TMP/persons.db
    log "registry: minzheng demo --persons $PERSONS"
    wait_quiet
    printf 'Ya-Ce-%s-Mima9\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$TMP/demo-password"
    TIMEV=()
    [ -x /usr/bin/time ] && TIMEV=(/usr/bin/time -v -o "$OUT/demo.time.txt")
    t0=$(date +%s%N)
    "${TIMEV[@]}" "$BIN" demo --db "$PDB" --persons "$PERSONS" --password "$(head -1 "$TMP/demo-password")" \
        >"$TMP/demo.json" 2>"$OUT/demo.log" || {
        tail -20 "$OUT/demo.log" >&2
        die "minzheng demo failed (log above)"
    }
    t1=$(date +%s%N)
    grep -v password "$TMP/demo.json" >"$OUT/demo.json" || sed 's/"password":"[^"]*"/"password":"-"/' "$TMP/demo.json" >"$OUT/demo.json"
    R[demo.s]=$(calc "($t1 - $t0) / 1e9" 1)
    R[demo.gen_s]=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$TMP/demo.json")
    R[demo.size_mb]=$(calc "$(stat -c %s "$PDB") / 1048576" 0)
    R[demo.rss_kb]=$([ -s "$OUT/demo.time.txt" ] && awk -F': ' '/Maximum resident/ { print $2 }' "$OUT/demo.time.txt" || echo 0)
    log "demo: ${R[demo.s]} s, ${R[demo.size_mb]} MB, peak RSS $(calc "${R[demo.rss_kb]} / 1024" 0) MB"

    start_account_server registry "$PDB"
    RG_PID=$SRV_PID
    RG=http://$HOST:$SRV_PORT
    expect_status 200 "$RG/api/v1/persons/$PERSONS"
    # The query mix: 100 each of name substrings (2-character pieces and whole
    # names), pinyin initials of whole names, and ID numbers (read through
    # the API: they are sealed in the database).
    Q=$TMP/person_queries.tsv
    sqlite3 "$PDB" "SELECT 'name', CASE WHEN abs(random()) % 2 THEN substr(name, 2, 2) ELSE name END
                    FROM persons WHERE id IN (SELECT abs(random()) % $PERSONS + 1 FROM persons LIMIT 100)" |
        tr '|' '\t' >"$Q"
    sqlite3 "$PDB" "SELECT 'initials', substr(initials, 1, instr(initials || ' ', ' ') - 1)
                    FROM person_search WHERE person_id IN (SELECT abs(random()) % $PERSONS + 1 FROM persons LIMIT 100)" |
        tr '|' '\t' >>"$Q"
    for i in $(seq 1 100); do
        # (echo: the reply has no final newline, which sed would not add)
        { "${CURL[@]}" "$RG/api/v1/persons/$(((RANDOM * 32768 + RANDOM) % PERSONS + 1))"; echo; } |
            sed -n 's/.*"id_number": *"\([0-9X]\{18\}\)".*/id\t\1/p'
    done >>"$Q"
    R[person_search.mix]="$(cut -f1 "$Q" | sort | uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2 }')"
    grep -q "^id	" "$Q" || log "WARNING: no unmasked ID numbers (the account lacks persons.view_sensitive): the mix has no ID lookups"
    cp "$Q" "$OUT/person_queries.tsv"
    export BENCH_PERSONS=$PERSONS BENCH_PERSON_QUERIES=$Q
    # Every text of the mix must answer 200 before it is measured.
    while IFS=$'\t' read -r kind text; do
        code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -G --data-urlencode "q=$text" "$RG/api/v1/persons?size=20")
        [ "$code" = 200 ] || die "search $kind '$text' answered $code"
    done <"$Q"
    run_wrk person_get "$RG_PID" "${RG##*:}" person_get.lua "$PERSON_GET_CONNS"
    run_wrk person_search "$RG_PID" "${RG##*:}" person_search.lua "$PERSON_CONNS"
    # The workbench in a browser on the same server (bench/browser.mjs): first
    # load after login and list-to-list navigation, medians of BENCH_BROWSER_RUNS.
    if [ "$AUTH" = token ] && [ -x "${MZ_CHROMIUM:-/usr/bin/chromium}" ] && [ -f web/dist/index.html ] &&
        [ -d web/node_modules/playwright-core ]; then
        log "browser: first load and list navigation (bench/browser.mjs)"
        wait_quiet
        R[browser.bg_before]=$(bg_load)
        if node bench/browser.mjs --base "$RG" --user bench --password-file "$TMP/password" \
            --runs "${BENCH_BROWSER_RUNS:-7}" >"$OUT/browser.json" 2>"$OUT/browser.log"; then
            R[browser.first_ms]=$(sed -n 's/.*"first_load_ms":{"median":\([0-9.]*\),"min":\([0-9.]*\),"max":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.first_range]=$(sed -n 's/.*"first_load_ms":{"median":[0-9.]*,"min":\([0-9.]*\),"max":\([0-9.]*\).*/\1–\2/p' "$OUT/browser.json")
            R[browser.nav_ms]=$(sed -n 's/.*"nav_ms":{"median":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.nav_range]=$(sed -n 's/.*"nav_ms":{"median":[0-9.]*,"min":\([0-9.]*\),"max":\([0-9.]*\).*/\1–\2/p' "$OUT/browser.json")
            R[browser.first_task]=$(sed -n 's/.*"first_load_cpu_ms":{"task":\([0-9.]*\),"script":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.first_script]=$(sed -n 's/.*"first_load_cpu_ms":{"task":[0-9.]*,"script":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.nav_task]=$(sed -n 's/.*"nav_cpu_ms":{"task":\([0-9.]*\),"script":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.nav_script]=$(sed -n 's/.*"nav_cpu_ms":{"task":[0-9.]*,"script":\([0-9.]*\).*/\1/p' "$OUT/browser.json")
            R[browser.bg_after]=$(bg_load)
            log "browser: first load ${R[browser.first_ms]} ms, list navigation ${R[browser.nav_ms]} ms (medians)"
        else
            tail -5 "$OUT/browser.log" >&2
            log "WARNING: bench/browser.mjs failed (bench/out/browser.log): no browser figures"
        fi
    else
        log "browser: skipped (needs chromium, web/dist and web/node_modules: make deps all)"
    fi
    R[mem.registry_kb]=$(vm_kb "$RG_PID" VmRSS)
    stop_pid "$RG_PID"
fi

# --- 4b. the registry: CSV import of IMPORT_PERSONS persons ---------------------------------
# A fresh database (the demo city's random ID numbers could collide with the
# file's), the bench account, one POST of the whole file in mode=all. Memory:
# the server's VmHWM after the import (reset just before) against its VmRSS
# just before it.
if [ "$IMPORT_PERSONS" -gt 0 ]; then
    [ -x build/bench/persons_csv ] || die "build/bench/persons_csv is missing: run 'make build/bench/persons_csv' (make bench builds it)"
    IDB=$TMP/import.db
    "$BIN" init --db "$IDB" >"$TMP/import-init.log" 2>&1 || die "init of the import database failed"
    sqlite3 "$IDB" "SELECT code FROM division_codes WHERE level = 5 AND valid_to IS NULL" >"$TMP/communities.txt"
    build/bench/persons_csv "$IMPORT_PERSONS" "$TMP/communities.txt" 1 >"$TMP/persons.csv" ||
        die "bench/persons_csv failed"
    R[pimport.mb]=$(calc "$(stat -c %s "$TMP/persons.csv") / 1048576" 0)
    head -3 "$TMP/persons.csv" >"$OUT/persons_head.csv"
    start_account_server import "$IDB"
    IM_PID=$SRV_PID
    IM=http://$HOST:$SRV_PORT
    CURL+=(--max-time 3600)
    log "import: $IMPORT_PERSONS persons (${R[pimport.mb]} MB of CSV) into a fresh database"
    wait_quiet
    R[pimport.bg_before]=$(bg_load)
    # The login's argon2id (64 MiB) is in the peak so far: reset it (clear_refs 5).
    echo 5 >"/proc/$IM_PID/clear_refs" 2>/dev/null || log "WARNING: cannot reset the server's VmHWM: the peak includes the login"
    R[pimport.rss_before_kb]=$(vm_kb "$IM_PID" VmRSS)
    s0=$(proc_ticks "$IM_PID")
    res=$("${CURL[@]}" -o "$TMP/pimport.json" -w '%{http_code} %{time_total}' -X POST \
        -H 'Content-Type: text/csv' --data-binary "@$TMP/persons.csv" \
        "$IM/api/v1/persons/import?mode=all") || die "persons import failed"
    s1=$(proc_ticks "$IM_PID")
    read -r code R[pimport.s] <<<"$res"
    cp "$TMP/pimport.json" "$OUT/persons_import.json"
    [ "$code" = 200 ] || die "persons import answered $code: $(head -c 600 "$TMP/pimport.json")"
    grep -q "\"imported\": *$IMPORT_PERSONS" "$TMP/pimport.json" ||
        die "persons import did not import $IMPORT_PERSONS rows: $(head -c 600 "$TMP/pimport.json")"
    R[pimport.cpu_s]=$(calc "($s1 - $s0) / $CLK_TCK" 1)
    R[pimport.us_row]=$(calc "($s1 - $s0) / $CLK_TCK * 1e6 / $IMPORT_PERSONS" 0)
    R[pimport.rps]=$(calc "$IMPORT_PERSONS / ${R[pimport.s]}" 0)
    R[pimport.hwm_kb]=$(vm_kb "$IM_PID" VmHWM)
    R[pimport.bg_after]=$(bg_load)
    got=$(sqlite3 "$IDB" 'SELECT count(*) FROM persons')
    [ "$got" = "$IMPORT_PERSONS" ] || die "the import database has $got persons, expected $IMPORT_PERSONS"
    R[pimport.db_mb]=$(calc "$(stat -c %s "$IDB") / 1048576" 0)
    log "import: ${R[pimport.s]} s, server CPU ${R[pimport.cpu_s]} s, peak RSS $(calc "${R[pimport.hwm_kb]} / 1024" 0) MB"
    stop_pid "$IM_PID"
    rm -f "$TMP/persons.csv" "$IDB" "$IDB-wal" "$IDB-shm"
fi

# --- 5. the verification module: the bulk re-check (bench/verify.c) ------------------------------
# 1,000,000 households and ~20,000,000 source rows, re-checked by the engine,
# by the same rules as SQL in SQLite and in a throwaway PostgreSQL; the three
# must agree on every household. BENCH_VERIFY_HOUSEHOLDS=0 skips it.
VERIFY_HH=${BENCH_VERIFY_HOUSEHOLDS:-1000000}
if [ "$VERIFY_HH" -gt 0 ]; then
    [ -x build/bench/verify ] || die "build/bench/verify is missing: run 'make build/bench/verify' (make bench builds it)"
    log "verify: bulk re-check of $VERIFY_HH households (bench/verify; several minutes)"
    if ! build/bench/verify --households "$VERIFY_HH" --dir "${BENCH_VERIFY_DIR:-$TMP/verify}" \
        --md "$OUT/verify.md" >"$OUT/verify.txt" 2>&1; then
        tail -20 "$OUT/verify.txt" >&2
        die "bench/verify failed (bench/out/verify.txt)"
    fi
fi

# --- 6. the assistance module: the monthly payroll (bench/payroll.c) -----------------------------
# BENCH_PAYROLL_HOUSEHOLDS (1000000) paying households: the run (written as packs) in
# one durable transaction, then the bank file, then the bank's return file of every
# line reconciled (reported, not part of the goal). BENCH_PAYROLL_HOUSEHOLDS=0 skips it.
PAYROLL_HH=${BENCH_PAYROLL_HOUSEHOLDS:-1000000}
if [ "$PAYROLL_HH" -gt 0 ]; then
    [ -x build/bench/payroll ] || die "build/bench/payroll is missing: run 'make build/bench/payroll'"
    log "payroll: $PAYROLL_HH households (bench/payroll)"
    mkdir -p "$TMP/payroll"
    build/bench/payroll "$PAYROLL_HH" "$TMP/payroll" >"$OUT/payroll.txt" 2>"$OUT/payroll.log" ||
        die "bench/payroll failed (bench/out/payroll.log)"
    PAYROLL_JSON=$(tail -1 "$OUT/payroll.txt")
    log "payroll: $PAYROLL_JSON"
fi

# --- 7. the same runs on PostgreSQL ------------------------------------------------------------
# pg_migrate NAME SQLITE_DB: a new database on the cluster, filled by
# `minzheng migrate-data` (timed), then VACUUM ANALYZE; sets PG_DB.
pg_migrate() {
    local name=$1 from=$2 t0 t1 summary
    "$PG_PSQL" "$PG_BASE dbname=postgres" -qc "CREATE DATABASE $name" >/dev/null || die "CREATE DATABASE $name failed"
    PG_DB="$PG_BASE dbname=$name"
    mkdir -p "$TMP/pgkey-$name"
    log "postgresql: migrate-data $from -> $name"
    wait_quiet
    t0=$(date +%s%N)
    "$BIN" migrate-data --from-sqlite "$from" --pg "$PG_DB" --key-file "$TMP/pgkey-$name/minzheng.key" \
        >"$OUT/migrate-$name.txt" 2>"$OUT/migrate-$name.log" || {
        tail -20 "$OUT/migrate-$name.log" >&2
        die "migrate-data into $name failed (log above)"
    }
    t1=$(date +%s%N)
    summary=$(tail -1 "$OUT/migrate-$name.txt")
    case $summary in *'"verified":true'*) ;; *) die "migrate-data into $name did not verify" ;; esac
    R[mig_$name.s]=$(calc "($t1 - $t0) / 1e9" 1)
    R[mig_$name.rows]=$(sed -n 's/.*"rows":\([0-9]*\),"audit_entries".*/\1/p' <<<"$summary")
    R[mig_$name.copy_s]=$(calc "$(sed -n 's/.*"copy_ms":\([0-9]*\).*/\1/p' <<<"$summary") / 1000" 1)
    R[mig_$name.verify_s]=$(calc "$(sed -n 's/.*"verify_ms":\([0-9]*\).*/\1/p' <<<"$summary") / 1000" 1)
    "$PG_PSQL" "$PG_DB" -qc "VACUUM ANALYZE" >/dev/null 2>&1 || die "VACUUM ANALYZE on $name failed"
    log "postgresql: $name: ${R[mig_$name.rows]} rows in ${R[mig_$name.s]} s (copy ${R[mig_$name.copy_s]} s, verify ${R[mig_$name.verify_s]} s)"
}
# pg_login PORT: log the bench account in on a PostgreSQL-backed server.
pg_login() {
    bench_login "$1" postgresql
}
if [ "$PG" = 1 ]; then
    pg_cluster_start bench 2>"$OUT/pg-cluster.log" || {
        cat "$OUT/pg-cluster.log" >&2
        die "the PostgreSQL cluster did not start (BENCH_PG=0 skips PostgreSQL)"
    }
    R[pg.version]=$("$PG_PSQL" "$PG_BASE dbname=postgres" -Atc 'SHOW server_version' | cut -d' ' -f1)
    pg_migrate bench "$DB"
    start_server pg_platform "$BIN" serve --pg "$PG_DB" --key-file "$TMP/pgkey-bench/minzheng.key" --listen "$HOST:0"
    PGP_PID=$SRV_PID
    PGP_PORT=$SRV_PORT
    PGP=http://$HOST:$PGP_PORT
    pg_login "$PGP_PORT"
    expect_status 200 "$PGP/api/v1/sample_cases/$ROWS"
    export BENCH_ROWS=$ROWS
    run_wrk pg_get "$PGP_PID" "$PGP_PORT" get.lua
    run_wrk pg_list_div "$PGP_PID" "$PGP_PORT" list_division.lua
    run_wrk pg_list_kind "$PGP_PID" "$PGP_PORT" list_kind.lua 8
    wait_quiet
    res=$("${CURL[@]}" -o "$TMP/export.pg.csv" -w '%{http_code} %{time_total}' \
        "$PGP/api/v1/sample_cases/export?format=csv&division=$EXPORT_DIV") || die "export on postgresql failed"
    read -r code R[pg_export_csv.s] <<<"$res"
    [ "$code" = 200 ] || die "export on postgresql answered $code: $(head -c 300 "$TMP/export.pg.csv")"
    R[pg_export_csv.rows]=$(($(wc -l <"$TMP/export.pg.csv") - 1))
    log "postgresql export csv: ${R[pg_export_csv.s]} s, ${R[pg_export_csv.rows]} rows"
    run_wrk pg_create "$PGP_PID" "$PGP_PORT" create.lua
    stop_pid "$PGP_PID"
    if [ "$PERSONS" -gt 0 ]; then
        pg_migrate persons "$PDB"
        start_server pg_registry "$BIN" serve --pg "$PG_DB" --key-file "$TMP/pgkey-persons/minzheng.key" --listen "$HOST:0"
        PGR_PID=$SRV_PID
        PGR_PORT=$SRV_PORT
        pg_login "$PGR_PORT"
        expect_status 200 "http://$HOST:$PGR_PORT/api/v1/persons/$PERSONS"
        run_wrk pg_person_get "$PGR_PID" "$PGR_PORT" person_get.lua "$PERSON_GET_CONNS"
        run_wrk pg_person_search "$PGR_PID" "$PGR_PORT" person_search.lua "$PERSON_CONNS"
        stop_pid "$PGR_PID"
    fi
    pg_cluster_stop
fi

# --- 3. docs/benchmarks.md -------------------------------------------------------------------
R[ratio]=$(calc "${R[bare.rps]} / ${R[get.rps]}" 2)
verdict() { awk "BEGIN { exit !($1) }" && echo "met" || echo "**not met**"; }
mb() { calc "$1 / 1024" 1; }
errs() {
    local n=${R[$1.errors]}
    [ "$n" = 0 ] && echo 0 || echo "$n (status ${R[$1.err_status]}, timeout ${R[$1.err_timeout]}, other $((n - R[$1.err_status] - R[$1.err_timeout])))"
}
wrk_row() {
    local n=$1 label=$2
    echo "| $label | ${R[$n.rps]} | ${R[$n.p50_ms]} | ${R[$n.p90_ms]} | ${R[$n.p99_ms]} | ${R[$n.max_ms]} | $(errs "$n") | ${R[$n.srv_cpu]} | ${R[$n.us_per_req]} | ${R[$n.wrk_cpu]} | ${R[$n.other_cpu]} |"
}

# The registry's rows of the results table (none when BENCH_PERSONS=0).
registry_rows() {
    [ "$PERSONS" -gt 0 ] || return 0
    local p95g p95s
    echo "| \`minzheng demo --persons $PERSONS\` (generation ${R[demo.gen_s]} s; database $(calc "${R[demo.size_mb]} / 1024" 2) GB; peak RSS $(calc "${R[demo.rss_kb]} / 1024" 0) MB) | ${R[demo.s]} s | 14,000,000 in < 300 s, < 2 GB | report (scale: $(calc "${R[demo.s]} * 14000000 / $PERSONS" 0) s at 14M if linear) |"
    p95g=${R[person_get.p95_ms]:-${R[person_get.p90_ms]}}
    p95s=${R[person_search.p95_ms]:-${R[person_search.p90_ms]}}
    echo "| GET /api/v1/persons/{id} on the demo city, unmasked and audited ($PERSON_GET_CONNS connections; p50 ${R[person_get.p50_ms]} ms, p95 $p95g ms): throughput | ${R[person_get.rps]} req/s | ≥ 40,000 req/s | $(verdict "${R[person_get.rps]} >= 40000") |"
    echo "| GET /api/v1/persons/{id}: p99 latency | ${R[person_get.p99_ms]} ms | < 5 ms | $(verdict "${R[person_get.p99_ms]} < 5") |"
    echo "| Person search mix, ?q= (${R[person_search.mix]}; $PERSON_CONNS connections; ${R[person_search.rps]} req/s, p99 ${R[person_search.p99_ms]} ms) | p95 $p95s ms | p95 < 50 ms | $(verdict "$p95s < 50") |"
    [ -n "${R[browser.first_ms]:-}" ] || return 0
    local bg="background load ${R[browser.bg_before]}–${R[browser.bg_after]} cores"
    echo "| Browser: first load of the 工作台 after login, navigation start → key figures shown (chromium headless without its per-window address-bar popup, bench/chromium.mjs; empty cache, demo city; median of ${BENCH_BROWSER_RUNS:-7}, range ${R[browser.first_range]} ms; renderer main thread busy ${R[browser.first_task]:-?} ms, of it script ${R[browser.first_script]:-?} ms; $bg) | ${R[browser.first_ms]} ms | < 1 s | $(verdict "${R[browser.first_ms]} < 1000") |"
    echo "| Browser: navigation between two lists (人员 ↔ 家庭, menu click → rows shown; median of ${BENCH_BROWSER_RUNS:-7}, range ${R[browser.nav_range]} ms; renderer main thread busy ${R[browser.nav_task]:-?} ms, of it script ${R[browser.nav_script]:-?} ms) | ${R[browser.nav_ms]} ms | < 200 ms | $(verdict "${R[browser.nav_ms]} < 200") |"
}

# The persons import row (none when BENCH_IMPORT_PERSONS=0).
import_rows() {
    [ "$IMPORT_PERSONS" -gt 0 ] && [ -n "${R[pimport.s]:-}" ] || return 0
    echo "| CSV import of $IMPORT_PERSONS persons (bench/persons_csv.c, ${R[pimport.mb]} MB, mode=all, one request; server CPU ${R[pimport.cpu_s]} s = ${R[pimport.us_row]} µs/row; background load ${R[pimport.bg_before]}–${R[pimport.bg_after]} cores) | ${R[pimport.s]} s (${R[pimport.rps]} rows/s) | 1,000,000 in < 60 s | $([ "$IMPORT_PERSONS" -ge 1000000 ] && verdict "${R[pimport.s]} < 60" || echo "report (scale: $(calc "${R[pimport.s]} * 1000000 / $IMPORT_PERSONS" 0) s at 1M if linear)") |"
    echo "| Server memory during that import: VmRSS before the upload → peak VmHWM (database afterwards ${R[pimport.db_mb]} MB) | $(mb "${R[pimport.rss_before_kb]}") → $(mb "${R[pimport.hwm_kb]}") MB | constant memory | report |"
}

# The PostgreSQL section of the document (none when BENCH_PG=0).
pg_row() { # NAME LABEL
    local n=$1 label=$2
    [ -n "${R[pg_$n.rps]:-}" ] || return 0
    echo "| $label | ${R[$n.rps]} | ${R[$n.p50_ms]} | ${R[$n.p99_ms]} | ${R[pg_$n.rps]} | ${R[pg_$n.p50_ms]} | ${R[pg_$n.p99_ms]} | $(errs "pg_$n") | $(calc "${R[pg_$n.rps]} / ${R[$n.rps]}" 2) |"
}
pg_section() {
    [ "$PG" = 1 ] || return 0
    echo
    echo "## SQLite and PostgreSQL"
    echo
    echo "The same binary, requests and data on both backends: each SQLite database above was copied"
    echo "into a throwaway PostgreSQL ${R[pg.version]} cluster on the same machine (scripts/pg-lib.sh"
    echo "\`bench\`: fsync and full-page writes on, data checksums, shared_buffers 512 MB, and"
    echo "synchronous_commit off — the SQLite backend's promise, WAL with synchronous=NORMAL: a crash"
    echo "may lose the last commits, never consistency) with \`minzheng migrate-data\`, then"
    echo "\`VACUUM ANALYZE\`, and the server ran with \`--pg\` (one connection per worker thread)."
    echo "PostgreSQL's own processes share the $(nproc) cores with the server and wrk: in the wrk table"
    echo "their CPU is in \"other\", and \"server CPU\" counts the minzheng process only. Every write"
    echo "transaction takes the advisory lock that serialises writers as SQLite does. get is one"
    echo "round on PostgreSQL (the best of $ROUNDS on SQLite)."
    echo
    echo "| Run | SQLite req/s | p50 ms | p99 ms | PostgreSQL req/s | p50 ms | p99 ms | PG errors | PG ÷ SQLite |"
    echo "|---|---|---|---|---|---|---|---|---|"
    pg_row get "GET /api/v1/sample_cases/{id} ($CONNS connections)"
    pg_row list_div "GET ?division=<street or community>&size=20 ($CONNS connections)"
    pg_row list_kind "GET ?kind=a&size=20&page=1..50 (8 connections)"
    pg_row create "POST /api/v1/sample_cases ($CONNS connections)"
    pg_row person_get "GET /api/v1/persons/{id}, demo city ($PERSON_GET_CONNS connections)"
    pg_row person_search "GET /api/v1/persons?q= mix, demo city ($PERSON_CONNS connections)"
    echo
    echo "| Measurement | SQLite | PostgreSQL |"
    echo "|---|---|---|"
    echo "| Export CSV, division=$EXPORT_DIV (${R[pg_export_csv.rows]} rows) | ${R[export_csv.s]} s | ${R[pg_export_csv.s]} s |"
    echo "| \`migrate-data\` of the sample_cases database (${R[mig_bench.rows]} rows in all tables; copy ${R[mig_bench.copy_s]} s, verify ${R[mig_bench.verify_s]} s, the rest creates the schema) | — | ${R[mig_bench.s]} s |"
    if [ "$PERSONS" -gt 0 ]; then
        echo "| \`migrate-data\` of the demo city ($PERSONS persons; ${R[mig_persons.rows]} rows in all tables; copy ${R[mig_persons.copy_s]} s, verify ${R[mig_persons.verify_s]} s) | — | ${R[mig_persons.s]} s |"
    fi
}

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([ -n "$(git status --porcelain 2>/dev/null)" ] && echo ", working tree with uncommitted changes" || true)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
RUNTIME=$(($(date +%s) - T_BEGIN))

{
    cat <<EOF
# Benchmarks

Generated by \`make bench\` (scripts/bench.sh) — do not edit by hand; the Notes section
comes from bench/notes.md. Raw wrk outputs of the last run are in bench/out/.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $COMMIT$DIRTY; binary $BIN built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) cores ($CPU_MODEL), ${MEM_GB} GB RAM, $(uname -sr); SQLite $(sqlite3 --version | cut -d' ' -f1), libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)
- Load generator: wrk on the same machine over loopback, $CONNS connections, $WRK_THREADS threads, ${WARMUP} s warm-up then ${DURATION} s measured, no pipelining (one request in flight per connection); the server uses its default thread count ($(nproc)). wrk and the server share the $(nproc) cores. The scripts (bench/lua) build each request's text once per wrk thread (wrk.format with the bearer token and Host headers) around its varying part and only join the random id, division code or page number to it per request (the person search draws from the mix's prebuilt requests; the creates still format each body): ids are uniform over all rows, as before.
- Authentication: $([ "$AUTH" = token ] && echo "every platform request carries a bearer token of an account with role city_officer and scope 120000 (all of Tianjin; TOTP switched off in the temporary database), so it pays the session lookup and the permission and scope checks; the bare baseline has no authentication" || echo "none (the binary has no accounts)").
- Data: a temporary database of $ROWS \`sample_cases\` rows (bench/gen.sql), ${R[data.size_mb]} MB.
- Background load (CPU busy on the machine with no benchmark running, in cores): ${R[bg.before]} before the run, ${R[bg.after]} at its end (the platform idle).
- Total run time: ${RUNTIME} s.

Reproduce: \`make bench\`.

## Results against the goals

| Measurement | Result | Goal | Status |
|---|---|---|---|
| Data creation: $ROWS rows (insert ${R[data.insert_s]} s, indexes + ANALYZE ${R[data.index_s]} s) | ${R[data.total_s]} s | — | report |
| GET /api/v1/sample_cases/{id}: throughput | ${R[get.rps]} req/s | ≥ 40,000 req/s | $(verdict "${R[get.rps]} >= 40000") |
| GET /api/v1/sample_cases/{id}: p99 latency (p50 ${R[get.p50_ms]} ms) | ${R[get.p99_ms]} ms | < 5 ms | $(verdict "${R[get.p99_ms]} < 5") |
| Bare libmicrohttpd + SQLite baseline (bench/bare.c), same lookup | ${R[bare.rps]} req/s, p99 ${R[bare.p99_ms]} ms | — | baseline |
| Baseline ÷ platform throughput | ${R[ratio]}× | ≤ 2× | $(verdict "${R[ratio]} <= 2") |
| GET ?division=<street or community>&size=20 | ${R[list_div.rps]} req/s, p99 ${R[list_div.p99_ms]} ms | ≥ 5,000 req/s | $(verdict "${R[list_div.rps]} >= 5000") |
| GET ?kind=a&size=20&page=1..50 (comparison; ${R[list_kind.conns]} connections) | ${R[list_kind.rps]} req/s, p99 ${R[list_kind.p99_ms]} ms | — | report |
| Start-up, exec to first 200 from /api/v1/health (median of $STARTUP_RUNS; min ${R[startup.min_ms]}, max ${R[startup.max_ms]}) | ${R[startup.median_ms]} ms | < 100 ms | $(verdict "${R[startup.median_ms]} < 100") |
| Idle resident memory (VmRSS 1 s after start-up; anonymous $(mb "${R[mem.idle_anon_kb]}") MB, file-backed $(mb "${R[mem.idle_file_kb]}") MB) | $(mb "${R[mem.idle_kb]}") MB | < 30 MB | $(verdict "${R[mem.idle_kb]} < 30720") |
| Resident memory after all load runs (anonymous $(mb "${R[mem.load_anon_kb]}") MB, file-backed $(mb "${R[mem.load_file_kb]}") MB; peak VmHWM $(mb "${R[mem.hwm_kb]}") MB) | $(mb "${R[mem.load_kb]}") MB | — | report |
| POST /api/v1/sample_cases (creates; ${R[create.rows]} rows written) | ${R[create.rps]} req/s, p99 ${R[create.p99_ms]} ms | — | report |
| Export CSV, division=$EXPORT_DIV (${R[export_csv.rows]} rows, $(calc "${R[export_csv.bytes]} / 1048576" 1) MB) | ${R[export_csv.s]} s | — | report |
| Export XLSX, same rows ($(calc "${R[export_xlsx.bytes]} / 1048576" 1) MB) | ${R[export_xlsx.s]} s | — | report |
| Import CSV, ${R[import.rows]} rows, mode=all | ${R[import.s]} s (${R[import.rps]} rows/s) | — | report |
$(registry_rows)
$(import_rows)

## wrk runs

Server CPU is what the server process used during the measured run, in cores (of $(nproc));
"other" is CPU used on the machine by neither the server nor wrk (other jobs on a shared
machine): when it is not near 0 the numbers are pessimistic. get and bare alternate for
$ROUNDS rounds and the best round of each is shown (get: round ${R[get.round]}, bare: round ${R[bare.round]}); every round is in bench/out/.

| Run | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU | server µs/req | wrk CPU | other CPU |
|---|---|---|---|---|---|---|---|---|---|---|
$(wrk_row get "platform GET by id")
$(wrk_row bare "bare GET by id")
$(for r in $(seq 1 "$ROUNDS"); do wrk_row "get$r" "platform GET, round $r"; wrk_row "bare$r" "bare GET, round $r"; done)
$(wrk_row list_div "list ?division=…&size=20")
$(wrk_row list_kind "list ?kind=a&size=20&page=N (${R[list_kind.conns]} connections)")
$(wrk_row create "POST create")
$([ "$PERSONS" -gt 0 ] && wrk_row person_get "GET /persons/{id} (demo city, $PERSON_GET_CONNS connections)")
$([ "$PERSONS" -gt 0 ] && wrk_row person_search "GET /persons?q= mix (demo city, $PERSON_CONNS connections)")
$(for n in get list_div list_kind create person_get person_search; do [ -n "${R[pg_$n.rps]:-}" ] && wrk_row "pg_$n" "PostgreSQL: $n"; done)

Memory of the bare baseline: $(mb "${R[mem.bare_idle_kb]}") MB idle, $(mb "${R[mem.bare_load_kb]}") MB after its runs (anonymous $(mb "${R[mem.bare_load_anon_kb]}") MB, file-backed $(mb "${R[mem.bare_load_file_kb]}") MB: database pages read through mmap count as resident).
Start-up runs: $(grep -o '[0-9.]* ms' "$OUT/startup.txt" | tr '\n' ' ' | sed 's/ ms /, /g; s/, $/ ms/').
$(pg_section)

EOF
    if [ "$VERIFY_HH" -gt 0 ] && [ -f "$OUT/verify.md" ]; then
        printf '## Verification: the bulk re-check (全面复核)\n\n'
        printf 'Reproduce: `make build/bench/verify && build/bench/verify --households %s --dir DIR`\n' "$VERIFY_HH"
        printf '(bench/verify.c; every household compared across the three ways). Goal (issue 7): under 5 s,\n'
        printf 'peak memory under 2 GB, at least 5x faster than PostgreSQL, identical results.\n\n'
        cat "$OUT/verify.md"
        printf '\n'
    fi
    if [ "$PAYROLL_HH" -gt 0 ] && [ -n "${PAYROLL_JSON:-}" ]; then
        printf '## Social assistance: the monthly payroll\n\n'
        printf 'Reproduce: `make build/bench/payroll && build/bench/payroll %s DIR` (bench/payroll.c).\n' "$PAYROLL_HH"
        printf 'Goal (issue 6): the run with its snapshot and ledger plus the bank file for 1,000,000\n'
        printf 'households under 5 s (`payroll_and_bank_file_s`), peak memory under 1 GB. Reported beside\n'
        printf 'it: the bank'"'"'s return file of every line (1 in 1,000 returned) reconciled (`reconcile_s`).\n\n```\n%s\n```\n\n' "$PAYROLL_JSON"
    fi
    if [ -f "$NOTES" ]; then
        cat "$NOTES"
    else
        printf '## Notes\n\n(bench/notes.md is missing.)\n'
    fi
} >"$DOC.tmp"
mv "$DOC.tmp" "$DOC"
log "wrote $DOC (${RUNTIME} s)"
