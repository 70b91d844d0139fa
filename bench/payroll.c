/* bench/payroll.c - the monthly payroll for N beneficiary households.
 *
 *   build/bench/payroll [HOUSEHOLDS] [DIR]      (default 1000000, /tmp)
 *
 * Generates a SQLite database in DIR with HOUSEHOLDS 低保 cases being paid
 * (two members each, the payee's bank account sealed as the engine seals it,
 * about 0.5% of the second members dead before the month so their household
 * is skipped), then measures, as `minzheng payroll` does it: one write
 * transaction with assist_payroll_run() (the snapshot of every case written
 * as packs, the skipped rows, one ledger debit per community, the totals)
 * and its durable commit; then the bank file (every account opened, control
 * totals); then the bank's return file of every line (1 in 1,000 returned)
 * reconciled by the handler of POST .../return-file in one durable
 * transaction (reconcile_s, reconcile_cpu_s). Prints one JSON line with the
 * times, the counts and the peak resident memory. Synthetic data only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mz/crypto.h"
#include "mz/engine.h"
#include "modules/assistance/assistance_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) used so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int check(int rc, const char *what, struct mz_db *db)
{
    if (rc != MZ_OK && rc != MZ_DONE) {
        fprintf(stderr, "bench/payroll: %s failed (%s): %s\n", what, mz_err_name(rc),
                db ? mz_db_errmsg(db) : "");
        exit(1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    long households = argc > 1 ? atol(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (households <= 0)
        households = 1000000;
    char path[512];
    snprintf(path, sizeof(path), "%s/payroll-bench.db", dir);
    /* BENCH_GENERATE_ONLY=1 stops after generating (the database is kept);
     * BENCH_REUSE=1 runs on a database generated so (for profiling). */
    bool generate_only = getenv("BENCH_GENERATE_ONLY") != NULL;
    bool reuse = getenv("BENCH_REUSE") != NULL;
    if (!reuse)
        remove(path);
    char keypath[512];
    snprintf(keypath, sizeof(keypath), "%s/payroll-bench.key", dir);
    if (!reuse)
        remove(keypath);
    check(mz_crypto_load(keypath, true), "key", NULL);
    struct mz_app app;
    struct mz_db *db;
    struct mz_db_options o = {.create = true, .busy_timeout_ms = 5000};
    int applied = 0;
    check(mz_app_init(&app, path, NULL, 0), "app init", NULL);
    check(mz_db_open(path, &o, &db), "open", NULL);
    check(mz_app_migrate(&app, db, &applied), "migrate", db);

    /* --- generation ----------------------------------------------------------------- */
    double t0 = now_s();
    long dead = 0;
    if (reuse)
        goto generated;
    static const char *const communities[] = {"120101001001", "120101002003", "120102003001",
                                              "120103004002", "120104005001", "120105006002",
                                              "120106007001", "120110008003", "120111009001",
                                              "120112010002"};
    struct mz_stmt *pst, *cst, *mst;
    check(mz_db_begin_write(db), "begin", db);
    check(mz_db_prepare(db,
                        "INSERT INTO persons (id, version, created_at, updated_at, name,"
                        " hukou_division, deceased_on) VALUES (?, 1, 'x', 'x', ?, ?, ?)",
                        &pst),
          "prepare persons", db);
    check(mz_db_prepare(db,
                        "INSERT INTO assistance_cases (id, version, created_at, updated_at, state,"
                        " program, applicant_person_id, payee_person_id, division, members,"
                        " member_count, start_month, monthly_benefit_fen, bank_account)"
                        " VALUES (?, 1, 'x', 'x', 'paying', 'dibao', ?, ?, ?, ?, 2, '2025-01', ?, ?)",
                        &cst),
          "prepare cases", db);
    check(mz_db_prepare(db, "INSERT INTO assistance_case_members (case_id, person_id) VALUES (?, ?)",
                        &mst),
          "prepare members", db);
    struct mz_arena *a = mz_arena_new();
    for (long h = 1; h <= households; h++) {
        int64_t p1 = 2 * h - 1, p2 = 2 * h;
        const char *div = communities[h % 10];
        bool died = rnd() % 1000 < 5;
        dead += died;
        for (int k = 0; k < 2; k++) {
            mz_db_bind_int(pst, 1, k == 0 ? p1 : p2);
            mz_db_bind_text(pst, 2, k == 0 ? "收款人（合成）" : "家庭成员（合成）");
            mz_db_bind_text(pst, 3, div);
            mz_db_bind_text(pst, 4, k == 1 && died ? "2025-08-15" : NULL);
            check(mz_db_step(pst), "insert person", db);
            mz_db_reset(pst);
        }
        char card[20], members[160];
        snprintf(card, sizeof(card), "6228480%012llu", (unsigned long long)(rnd() % 1000000000000ull));
        snprintf(members, sizeof(members),
                 "[{\"person_id\":%lld,\"monthly_income_fen\":0},"
                 "{\"person_id\":%lld,\"monthly_income_fen\":0}]",
                 (long long)p1, (long long)p2);
        mz_db_bind_int(cst, 1, h);
        mz_db_bind_int(cst, 2, p1);
        mz_db_bind_int(cst, 3, p1);
        mz_db_bind_text(cst, 4, div);
        mz_db_bind_text(cst, 5, members);
        mz_db_bind_int(cst, 6, 100000 + (int64_t)(rnd() % 109000));
        mz_db_bind_text(cst, 7,
                        mz_crypto_seal(a, "assistance_cases.bank_account", card, strlen(card)));
        check(mz_db_step(cst), "insert case", db);
        mz_db_reset(cst);
        for (int k = 0; k < 2; k++) {
            mz_db_bind_int(mst, 1, h);
            mz_db_bind_int(mst, 2, k == 0 ? p1 : p2);
            check(mz_db_step(mst), "insert member", db);
            mz_db_reset(mst);
        }
        if (h % 4096 == 0) {
            mz_arena_free(a);
            a = mz_arena_new();
        }
    }
    mz_arena_free(a);
    mz_db_done(pst);
    mz_db_done(cst);
    mz_db_done(mst);
    check(mz_db_commit(db), "commit generation", db);
    if (generate_only) {
        mz_db_close(db);
        mz_app_free(&app);
        return 0;
    }
generated:;
    double t1 = now_s();

    /* --- the payroll run ------------------------------------------------------------ */
    double c1 = cpu_s();
    struct assist_run_summary s;
    check(mz_db_begin_write(db), "begin run", db);
    check(assist_payroll_run(db, "bench", "dibao", "2025-10", "120000000000", &s), "payroll", db);
    check(mz_db_commit(db), "commit run", db);
    double t2 = now_s();

    /* --- the bank file --------------------------------------------------------------- */
    char bank[512];
    snprintf(bank, sizeof(bank), "%s/payroll-bench-bank.csv", dir);
    FILE *f = fopen(bank, "w");
    int64_t count = 0, sum = 0;
    if (f == NULL)
        check(MZ_ERR_IO, "open bank file", NULL);
    check(assist_bank_file_write(db, s.run_id, f, &count, &sum), "bank file", db);
    fclose(f);
    double t3 = now_s();
    double c3 = cpu_s();

    /* --- the bank's return file and its reconciliation --------------------------------- */
    /* The bank answers every line of the file: 1 in 1,000 returned (账户已销户). The return
     * file is made from the bank file (not timed); then POST .../return-file's handler runs
     * as the server runs it, in one write transaction (the run approved and exported
     * first, as the workflow would). */
    struct mz_buf ret;
    int64_t returned = 0;
    mz_buf_init(&ret, 0);
    mz_buf_puts(&ret, "明细号,处理结果,失败原因,金额（元）\r\n");
    f = fopen(bank, "r");
    if (f == NULL)
        check(MZ_ERR_IO, "read bank file", NULL);
    char line[512];
    for (long k = 0; fgets(line, sizeof(line), f) != NULL; k++) {
        char *c[6] = {line};
        int nc = 1;
        for (char *q = line; *q && nc < 6; q++)
            if (*q == ',') {
                *q = '\0';
                c[nc++] = q + 1;
            }
        if (k == 0 || nc < 6 || strcmp(c[0], "TOTAL") == 0)
            continue;
        c[5][strcspn(c[5], "\r\n")] = '\0';
        bool fail = rnd() % 1000 == 0;
        returned += fail;
        mz_buf_printf(&ret, "%s,%s,%s,%s\r\n", c[1], fail ? "失败" : "成功", fail ? "账户已销户" : "",
                      c[5]);
    }
    fclose(f);
    char runid[24];
    snprintf(runid, sizeof(runid), "%lld", (long long)s.run_id);
    check(mz_db_run(db, "UPDATE assistance_payroll_runs SET state = 'exported' WHERE id = ?", "i",
                    s.run_id),
          "export", db);
    struct mz_req req = {.app = &app, .db = db, .reply_fd = -1, .actor = "bench"};
    req.arena = mz_arena_new();
    req.method = "POST";
    req.param_names[0] = "run";
    req.param_values[0] = runid;
    req.nparams = 1;
    req.body = ret.data;
    req.body_len = ret.len;
    double t4 = now_s(), c4 = cpu_s();
    check(mz_db_begin_write(db), "begin reconcile", db);
    int status = assist_h_return_file(&req);
    if (status != 200) {
        char *why = req.reply_json ? json_dumps(req.reply_json, 0) : NULL;
        fprintf(stderr, "bench/payroll: reconciliation answered %d: %s\n", status, why ? why : "");
        exit(1);
    }
    check(mz_db_commit(db), "commit reconcile", db);
    double t5 = now_s(), c5 = cpu_s();
    json_t *rs = req.reply_json;
    int64_t credited = json_integer_value(json_object_get(rs, "credited"));
    int64_t failed = json_integer_value(json_object_get(rs, "failed"));
    json_decref(rs);
    req.reply_json = NULL;
    mz_arena_free(req.arena);
    mz_buf_free(&ret);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"households\":%ld,\"generate_s\":%.2f,\"payroll_s\":%.2f,\"bank_file_s\":%.2f,"
           "\"payroll_and_bank_file_s\":%.2f,\"cpu_s\":%.2f,\"paid\":%lld,\"skipped\":%lld,\"dead_members\":%ld,"
           "\"amount_fen\":%lld,\"bank_rows\":%lld,\"bank_sum_fen\":%lld,\"reconcile_s\":%.2f,"
           "\"reconcile_cpu_s\":%.2f,\"credited\":%lld,\"returned\":%lld,\"peak_rss_mb\":%.0f}\n",
           households, t1 - t0, t2 - t1, t3 - t2, t3 - t1, c3 - c1, (long long)s.households,
           (long long)s.skipped, dead, (long long)s.amount_fen, (long long)count, (long long)sum,
           t5 - t4, c5 - c4, (long long)credited, (long long)failed,
           (double)ru.ru_maxrss / 1024.0);
    mz_db_close(db);
    mz_app_free(&app);
    if (!reuse) {
        remove(path);
        remove(keypath);
    }
    remove(bank);
    return s.households == count && s.amount_fen == sum && (reuse || s.skipped == dead) &&
                   failed == returned && credited + failed == count
               ? 0
               : 1;
}
