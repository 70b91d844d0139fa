/* payroll.c - the monthly payroll (救助资金社会化发放), its snapshot, ledger and
 * bank file.
 *
 * A run is one (program, month, division). assist_payroll_run(), inside ONE
 * write transaction:
 *   1. refuses when a run for the same program and month exists whose
 *      division overlaps (is, contains or lies inside) the requested one:
 *      the existing run's summary is returned with MZ_ERR_CONFLICT (CLI exit
 *      3, HTTP 409); a unique index on (program, month, division), the
 *      unique (case_id, month) index of payment rows and the left-out cases
 *      another run of the month holds (paid_elsewhere) make a double payment
 *      impossible even if this check were bypassed;
 *   2. inserts the run row (state draft);
 *   3. a regular program's run (packed_steps) writes the paid households as
 *      packs (snapshot.c; docs/assistance.md, "Packed payroll snapshot"):
 *      every case in state paying, of the program, in the division, whose
 *      start_month <= month. A case whose payee or any member
 *      (assistance_case_members) died before the month's first day, or
 *      without a bank account, gets a row with status skipped, amount 0 and
 *      a note: nobody is paid, the reason is kept (a member's death means
 *      the benefit must be decided again before payment resumes). Every
 *      payment id lies in the run's block (paid households in case order,
 *      then the skipped ones, then the reissues);
 *   4. writes the ledger: one debit per community of the packed households;
 *   5. totals the run (households, persons, amount).
 * A one-off program's run (医疗救助 bills, 临时救助 cases: few rows) is
 * written as rows, one debit each (one_off_steps).
 *
 * Then, in the same run, reissues (补发) of payments the bank returned
 * (reconcile.c): the original month and amount, the case's current account,
 * reissue_of naming the returned payment (unique: reissued once).
 * The run's workflow: draft -approve-> approved -export-> exported
 * -reconcile-> reconciled (the bank's return file, reconcile.c). The bank file (GET .../bank-file, approved or
 * exported runs) is CSV: a header, one line per paid household (the account
 * decrypted for this file only), and a trailer with the control totals
 * (count, sum); producing it is audited.
 *
 * Runs written per row before the switch to packs (packed = 0) stay in the
 * database and are read as rows by every reader: their payment ids were
 * sent to the bank and cannot be renumbered into a block.
 *
 * Tested by tests/api/assistance.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "mz/crypto.h"
#include "mz/registry.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

/* Tests only: MZ_TEST_KILL_AT=<phase> kills the process (SIGKILL, as a
 * power cut would) when the run reaches that phase, to prove that a run is
 * written whole or not at all. */
void assist_test_kill_point(const char *phase)
{
    const char *at = getenv("MZ_TEST_KILL_AT");
    if (at && strcmp(at, phase) == 0)
        raise(SIGKILL);
}


/* Load a run's summary by id. */
static int summary_load(struct mz_db *db, int64_t run_id, struct assist_run_summary *out)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT id, program, month, division, coalesce(households, 0),"
                           " coalesce(persons, 0), coalesce(amount_fen, 0), coalesce(skipped, 0),"
                           " state FROM assistance_payroll_runs WHERE id = ?",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        memset(out, 0, sizeof(*out));
        out->run_id = mz_db_col_int(st, 0);
        snprintf(out->program, sizeof(out->program), "%s", mz_db_col_text(st, 1));
        snprintf(out->month, sizeof(out->month), "%s", mz_db_col_text(st, 2));
        snprintf(out->division, sizeof(out->division), "%s", mz_db_col_text(st, 3));
        out->households = mz_db_col_int(st, 4);
        out->persons = mz_db_col_int(st, 5);
        out->amount_fen = mz_db_col_int(st, 6);
        out->skipped = mz_db_col_int(st, 7);
        snprintf(out->status, sizeof(out->status), "%s", mz_db_col_text(st, 8));
        rc = MZ_OK;
    } else {
        rc = rc == MZ_DONE ? MZ_ERR_NOTFOUND : rc;
    }
    mz_db_done(st);
    return rc;
}

json_t *assist_summary_json(const struct assist_run_summary *s)
{
    char shortcode[13];
    mz_division_short(s->division, shortcode);
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "run_id",
                     (json_int_t)s->run_id, "program", s->program, "month", s->month, "division",
                     shortcode, "households", (json_int_t)s->households, "persons",
                     (json_int_t)s->persons, "amount_fen", (json_int_t)s->amount_fen, "status",
                     s->status, "skipped", (json_int_t)s->skipped);
}

/* An existing run of the program and month whose division overlaps; 0 if none. */
static int overlapping_run(struct mz_db *db, const char *program, const char *month,
                           const char *division12, int64_t *run_id)
{
    char anc[5][13], lo[13], hi[13];
    struct mz_stmt *st;
    *run_id = 0;
    assist_ancestors(division12, anc);
    int rc = mz_division_range(division12, lo, hi);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_prepare(db,
                       "SELECT id FROM assistance_payroll_runs WHERE deleted_at IS NULL"
                       " AND program = ? AND month = ? AND (division IN (?, ?, ?, ?, ?)"
                       " OR (division >= ? AND division < ?)) ORDER BY id LIMIT 1",
                       &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, program);
    mz_db_bind_text(st, 2, month);
    for (int i = 0; i < 5; i++)
        mz_db_bind_text(st, 3 + i, anc[i]);
    mz_db_bind_text(st, 8, lo);
    mz_db_bind_text(st, 9, hi);
    rc = mz_db_step(st);
    if (rc == MZ_ROW)
        *run_id = mz_db_col_int(st, 0);
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

struct one_off;
static int one_off_steps(struct mz_db *db, const struct one_off *once, const char *actor,
                         const char *program, const char *month, const char *division12,
                         const char *lo, const char *hi, struct assist_run_summary *out);

static int packed_steps(struct mz_db *db, const char *actor, const char *program,
                        const char *month, const char *division12, const char *lo,
                        const char *hi, struct assist_run_summary *out);
static const struct one_off *one_off_of(const char *program);

int assist_payroll_run(struct mz_db *db, const char *actor, const char *program,
                       const char *month, const char *division12,
                       struct assist_run_summary *out)
{
    char lo[13], hi[13];
    int64_t existing = 0;
    int rc = overlapping_run(db, program, month, division12, &existing);
    if (rc != MZ_OK)
        return rc;
    if (existing > 0) {
        rc = summary_load(db, existing, out);
        return rc == MZ_OK ? MZ_ERR_CONFLICT : rc;
    }
    if ((rc = mz_division_range(division12, lo, hi)) != MZ_OK)
        return rc;
    const struct one_off *once = one_off_of(program);
    return once ? one_off_steps(db, once, actor, program, month, division12, lo, hi, out)
                : packed_steps(db, actor, program, month, division12, lo, hi, out);
}

/* One-off programs: a run pays every approved row of the program's table
 * (医疗救助 bills, bills.c; 临时救助 cases, temporary.c) in the division that
 * has no regular payment yet, once each (a unique index on the payments'
 * reference column), then marks them paid. Table and column names are
 * constants of this file, never input. */
struct one_off {
    const char *program, *table, *ref, *note;
};
static const struct one_off one_offs[] = {
    {"medical", "assistance_medical_bills", "bill_id",
     "b.hospital || ' ' || b.admitted_on || ' 医疗救助'"},
    {"temporary", "assistance_temporary_cases", "temporary_id",
     "b.occurred_on || ' 临时救助'"},
};

static const struct one_off *one_off_of(const char *program)
{
    for (size_t i = 0; i < MZ_ARRAY_LEN(one_offs); i++) {
        if (strcmp(one_offs[i].program, program) == 0)
            return &one_offs[i];
    }
    return NULL;
}

/* The rows a statement is about to insert get their ids from the payments'
 * counter (assist_payment_ids_reserve), as a packed run's do, so that no
 * payment row ever takes an id of a packed run's block: count them
 * (count_sql with text params), reserve that many; *first is the first. */
static int reserve_for(struct mz_db *db, const char *count_sql, int nparams, const char **params,
                       int64_t *first)
{
    int64_t n = 0;
    int rc = mz_db_query_int(db, count_sql, &n, nparams, params);
    return rc == MZ_OK ? assist_payment_ids_reserve(db, n, first) : rc;
}

/* reserve_for the rows of a one-off statement: from (its FROM and WHERE,
 * bound: lo, hi). */
static int reserve_one_off(struct mz_db *db, const char *from, const char *lo, const char *hi,
                           int64_t *first)
{
    char sql[700];
    snprintf(sql, sizeof(sql), "SELECT count(*)%s", from);
    const char *params[] = {lo, hi};
    return reserve_for(db, sql, 2, params, first);
}

/* The snapshot of a one-off run: an approved row always has an account
 * (approval requires it). */
static int one_off_snapshot(struct mz_db *db, const struct one_off *o, const char *now,
                            const char *actor, int64_t run_id, const char *month, const char *lo,
                            const char *hi)
{
    char sql[1400], from[500];
    int64_t first = 0;
    snprintf(from, sizeof(from),
             " FROM %s b WHERE b.deleted_at IS NULL AND b.state = 'approved'"
             " AND b.bank_account IS NOT NULL AND b.division >= ? AND b.division < ?"
             " AND NOT EXISTS (SELECT 1 FROM assistance_payments x WHERE x.%s = b.id"
             " AND x.reissue_of IS NULL AND x.deleted_at IS NULL)",
             o->table, o->ref);
    int rc = reserve_one_off(db, from, lo, hi, &first);
    if (rc != MZ_OK)
        return rc;
    snprintf(sql, sizeof(sql),
             "INSERT INTO assistance_payments (id, version, created_at, updated_at, created_by,"
             " updated_by, run_id, %s, program, month, payee_person_id, division, persons,"
             " amount_fen, status, note, account_sealed)"
             " SELECT ? + row_number() OVER (ORDER BY b.id) - 1, 1, ?, ?, ?, ?, ?, b.id, '%s', ?,"
             " coalesce(b.payee_person_id, b.person_id),"
             " b.division, %s, b.aid_fen, 'paid', %s, b.bank_account%s ORDER BY b.id",
             o->ref, o->program, strcmp(o->program, "temporary") == 0 ? "b.household_size" : "1",
             o->note, from);
    rc = mz_db_run(db, sql, "ittttitt" "tt", first, now, now, actor, actor, run_id, month, lo, hi);
    if (rc != MZ_OK)
        return rc;
    /* The rows paid by this run are paid (once). */
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET state = 'paid', version = version + 1, updated_at = ?,"
             " updated_by = ? WHERE id IN (SELECT %s FROM assistance_payments WHERE run_id = ?"
             " AND %s IS NOT NULL AND reissue_of IS NULL)",
             o->table, o->ref, o->ref);
    return mz_db_run(db, sql, "tti", now, actor, run_id);
}

/* Reissues of a one-off program's payments the bank returned, to the row's
 * current account. */
static int one_off_reissue(struct mz_db *db, const struct one_off *o, const char *now,
                           const char *actor, int64_t run_id, const char *lo, const char *hi)
{
    char sql[1400], from[600];
    int64_t first = 0;
    snprintf(from, sizeof(from),
             " FROM assistance_payments f JOIN %s b ON b.id = f.%s"
             " WHERE f.status = 'failed' AND f.deleted_at IS NULL AND f.program = '%s'"
             " AND b.deleted_at IS NULL AND b.bank_account IS NOT NULL AND b.division >= ?"
             " AND b.division < ? AND NOT EXISTS (SELECT 1 FROM assistance_payments r"
             " WHERE r.reissue_of = f.id AND r.deleted_at IS NULL)",
             o->table, o->ref, o->program);
    int rc = reserve_one_off(db, from, lo, hi, &first);
    if (rc != MZ_OK)
        return rc;
    snprintf(sql, sizeof(sql),
             "INSERT INTO assistance_payments (id, version, created_at, updated_at, created_by,"
             " updated_by, run_id, %s, program, month, payee_person_id, division, persons,"
             " amount_fen, status, note, account_sealed, reissue_of)"
             " SELECT ? + row_number() OVER (ORDER BY f.id) - 1, 1, ?, ?, ?, ?, ?, f.%s,"
             " f.program, f.month,"
             " coalesce(b.payee_person_id, b.person_id), b.division, f.persons, f.amount_fen,"
             " 'paid', '补发 ' || f.month || ' 月（原明细 ' || f.id || ' 被银行退回）',"
             " b.bank_account, f.id%s",
             o->ref, o->ref, from);
    return mz_db_run(db, sql, "ittttitt", first, now, now, actor, actor, run_id, lo, hi);
}

/* Total a run: its rows in one pass (paid households, persons and amount,
 * skipped, reissued), plus a packed run's packed households (packed: count,
 * persons, amount; NULL for none), into the run row. */
static int run_totals(struct mz_db *db, int64_t run_id, const int64_t *packed)
{
    struct mz_stmt *tst;
    int64_t tot[5] = {0, 0, 0, 0, 0};
    int rc = mz_db_prepare(db,
                       "SELECT coalesce(sum(CASE WHEN status = 'paid' THEN 1 ELSE 0 END), 0),"
                       " coalesce(sum(CASE WHEN status = 'paid' THEN persons ELSE 0 END), 0),"
                       " coalesce(sum(CASE WHEN status = 'paid' THEN amount_fen ELSE 0 END), 0),"
                       " coalesce(sum(CASE WHEN status = 'skipped' THEN 1 ELSE 0 END), 0),"
                       " coalesce(sum(CASE WHEN reissue_of IS NOT NULL THEN 1 ELSE 0 END), 0)"
                       " FROM assistance_payments WHERE run_id = ?",
                       &tst);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(tst, 1, run_id);
    rc = mz_db_step(tst);
    if (rc == MZ_ROW)
        for (int k = 0; k < 5; k++)
            tot[k] = mz_db_col_int(tst, k);
    mz_db_done(tst);
    if (rc != MZ_ROW)
        return rc < 0 ? rc : MZ_ERR_DB;
    for (int k = 0; packed && k < 3; k++)
        tot[k] += packed[k];
    return mz_db_run(db,
                     "UPDATE assistance_payroll_runs SET households = ?, persons = ?,"
                     " amount_fen = ?, skipped = ?, reissued = ? WHERE id = ?",
                     "iiiiii", tot[0], tot[1], tot[2], tot[3], tot[4], run_id);
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Insert a run row (draft), packed or not; the kill point "run". */
static int run_insert(struct mz_db *db, const char *now, const char *actor, const char *program,
                      const char *month, const char *division12, int64_t packed, int64_t *run_id)
{
    int rc = mz_db_run(db,
                       "INSERT INTO assistance_payroll_runs (version, created_at, updated_at,"
                       " created_by, updated_by, state, program, month, division, households,"
                       " persons, amount_fen, skipped, packed) VALUES (1, ?, ?, ?, ?, 'draft', ?,"
                       " ?, ?, 0, 0, 0, 0, ?)",
                       "sssssssi", now, now, actor, actor, program, month, division12, packed);
    if (rc != MZ_OK)
        return rc;
    *run_id = mz_db_last_id(db);
    assist_test_kill_point("run");
    return MZ_OK;
}

/* Reissues (补发) of a regular program's payments the bank returned, not
 * reissued yet, of cases still paid or suspended in [lo, hi), to the case's
 * current account (bound: now, now, actor, actor, run, program, lo, hi). */
#define REISSUE_COLS                                                                             \
    "version, created_at, updated_at, created_by, updated_by, run_id, case_id, program, month,"  \
    " household_id, payee_person_id, division, persons, amount_fen, status, note, trace,"        \
    " account_sealed, reissue_of)"
#define REISSUE_VALUES                                                                           \
    "1, ?, ?, ?, ?, ?, f.case_id, f.program, f.month, f.household_id,"                           \
    " coalesce(c.payee_person_id, c.applicant_person_id), c.division, f.persons,"                \
    " f.amount_fen, 'paid', '补发 ' || f.month || ' 月（原明细 ' || f.id || ' 被银行退回）',"    \
    " f.trace, c.bank_account, f.id"
#define REISSUE_FROM                                                                             \
    " FROM assistance_payments f JOIN assistance_cases c ON c.id = f.case_id"                    \
    " WHERE f.status = 'failed' AND f.deleted_at IS NULL AND f.program = ?"                      \
    " AND c.deleted_at IS NULL AND c.state IN ('paying', 'suspended')"                           \
    " AND c.bank_account IS NOT NULL AND c.division >= ? AND c.division < ?"                     \
    " AND NOT EXISTS (SELECT 1 FROM assistance_payments r WHERE r.reissue_of = f.id"             \
    "   AND r.deleted_at IS NULL)"

/* Insert the reissues of a regular program, their ids from first on (-1:
 * reserved here, for as many as there are). */
static int case_reissues(struct mz_db *db, const char *now, const char *actor, int64_t run_id,
                         const char *program, const char *lo, const char *hi, int64_t first)
{
    const char *params[] = {program, lo, hi};
    int rc = first >= 0 ? MZ_OK
                        : reserve_for(db, "SELECT count(*)" REISSUE_FROM, 3, params, &first);
    if (rc != MZ_OK)
        return rc;
    return mz_db_run(db,
                     "INSERT INTO assistance_payments (id, " REISSUE_COLS
                     " SELECT ? + row_number() OVER (ORDER BY f.id) - 1, " REISSUE_VALUES
                     REISSUE_FROM,
                     "issssisss", first, now, now, actor, actor, run_id, program, lo, hi);
}

/* The steps of a one-off program's run (assist_payroll_run): one row per
 * approved row not paid yet, the reissues of returned ones, one ledger debit
 * per paid row (a reissue's debit was written with the payment it reissues),
 * the totals; the kill points of a packed run. */
static int one_off_steps(struct mz_db *db, const struct one_off *once, const char *actor,
                         const char *program, const char *month, const char *division12,
                         const char *lo, const char *hi, struct assist_run_summary *out)
{
    char now[32];
    int64_t run_id = 0;
    int rc;
    mz_now_rfc3339(now);
    if ((rc = run_insert(db, now, actor, program, month, division12, 0, &run_id)) != MZ_OK)
        return rc;
    if ((rc = one_off_snapshot(db, once, now, actor, run_id, month, lo, hi)) != MZ_OK)
        return rc;
    assist_test_kill_point("snapshot");
    if ((rc = one_off_reissue(db, once, now, actor, run_id, lo, hi)) != MZ_OK)
        return rc;
    assist_test_kill_point("reissue");
    rc = mz_db_run(db,
                     "INSERT INTO assistance_ledger (version, created_at, updated_at,"
                     " created_by, updated_by, case_id, bill_id, temporary_id, run_id, month, entry,"
                     " amount_fen, division, note) SELECT 1, ?, ?, ?, ?, case_id, bill_id,"
                     " temporary_id, run_id,"
                     " month, 'debit', amount_fen, division, '应发' FROM assistance_payments"
                     " WHERE run_id = ? AND status = 'paid' AND reissue_of IS NULL"
                     " AND deleted_at IS NULL",
                     "ssssi", now, now, actor, actor, run_id);
    if (rc != MZ_OK)
        return rc;
    assist_test_kill_point("ledger");
    rc = run_totals(db, run_id, NULL);
    if (rc != MZ_OK)
        return rc;
    assist_test_kill_point("totals");
    rc = summary_load(db, run_id, out);
    if (rc == MZ_OK)
        mz_info("payroll run %lld: program %s month %s households %lld", (long long)run_id,
                program, month, (long long)out->households);
    return rc;
}

/* The cases the other runs of the program hold for the month (a case that
 * moved to another district after its run): the packed households of the
 * packed runs and the case rows of every run, sorted and unique. A run's
 * divisions never overlap another's of the month, so these are the only
 * way a case could be paid twice. */
static int paid_elsewhere(struct mz_db *db, const char *program, const char *month,
                          int64_t run_id, struct assist_id_set *out)
{
    struct mz_stmt *st;
    int64_t *runs = NULL, *packed = NULL;
    size_t nruns = 0, cap = 0, idcap = 0;
    int rc = mz_db_prepare(db,
                           "SELECT id, packed FROM assistance_payroll_runs WHERE program = ?"
                           " AND month = ? AND id <> ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, program);
    mz_db_bind_text(st, 2, month);
    mz_db_bind_int(st, 3, run_id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (nruns == cap) {
            cap = cap ? 2 * cap : 16;
            runs = mz_xrealloc(runs, cap * sizeof(*runs));
            packed = mz_xrealloc(packed, cap * sizeof(*packed));
        }
        runs[nruns] = mz_db_col_int(st, 0);
        packed[nruns++] = mz_db_col_int(st, 1);
    }
    mz_db_done(st);
    rc = rc == MZ_DONE ? MZ_OK : rc;
    struct assist_pack *p = nruns ? assist_pack_new() : NULL;
    for (size_t k = 0; k < nruns && rc == MZ_OK; k++) {
        struct assist_pack_cursor *cur = NULL;
        if (packed[k] == 1 && (rc = assist_packs_begin(db, runs[k], &cur)) == MZ_OK) {
            while ((rc = assist_packs_next(cur, p)) == MZ_ROW) {
                if (out->n + p->n > idcap) {
                    idcap = 2 * (out->n + p->n);
                    out->ids = mz_xrealloc(out->ids, idcap * sizeof(*out->ids));
                }
                for (size_t i = 0; i < p->n; i++)
                    out->ids[out->n++] = p->rows[i].case_id;
            }
            assist_packs_end(cur);
            rc = rc == MZ_DONE ? MZ_OK : rc;
        }
        if (rc != MZ_OK)
            break;
        rc = mz_db_prepare(db,
                           "SELECT case_id FROM assistance_payments WHERE run_id = ?"
                           " AND case_id IS NOT NULL AND reissue_of IS NULL AND deleted_at IS NULL",
                           &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_int(st, 1, runs[k]);
        while ((rc = mz_db_step(st)) == MZ_ROW) {
            if (out->n == idcap) {
                idcap = idcap ? 2 * idcap : 1024;
                out->ids = mz_xrealloc(out->ids, idcap * sizeof(*out->ids));
            }
            out->ids[out->n++] = mz_db_col_int(st, 0);
        }
        mz_db_done(st);
        rc = rc == MZ_DONE ? MZ_OK : rc;
    }
    assist_pack_free(p);
    free(runs);
    free(packed);
    if (rc == MZ_OK && out->n > 1) {
        qsort(out->ids, out->n, sizeof(*out->ids), cmp_int64);
        size_t u = 1;
        for (size_t i = 1; i < out->n; i++) {
            if (out->ids[i] != out->ids[u - 1])
                out->ids[u++] = out->ids[i];
        }
        out->n = u;
    }
    return rc;
}

/* The steps of a regular program's run (assist_payroll_run; docs/assistance.md,
 * "Packed payroll snapshot"): the run row, the paid households as packs
 * (snapshot.c), the run's block of payment ids (paid households in case
 * order, then the skipped ones, then the reissues), the skipped households
 * and the reissues as rows with their ids, one ledger debit per community
 * for the packed households (a reissue's debit was written with the
 * payment it reissues), the totals. Kill points: run, snapshot, reissue,
 * ledger, totals (MZ_TEST_KILL_AT).
 * A case another run of the month holds is left out (paid_elsewhere). */
static int packed_steps(struct mz_db *db, const char *actor, const char *program,
                        const char *month, const char *division12, const char *lo,
                        const char *hi, struct assist_run_summary *out)
{
    char now[32];
    int64_t run_id = 0, reissues = 0, first_id = 0;
    mz_now_rfc3339(now);
    int rc = run_insert(db, now, actor, program, month, division12, 1, &run_id);
    if (rc != MZ_OK)
        return rc;
    struct assist_snapshot s;
    struct assist_id_set paid = {NULL, 0};
    rc = paid_elsewhere(db, program, month, run_id, &paid);
    if (rc == MZ_OK)
        rc = assist_snapshot_packs(db, run_id, program, month, lo, hi, &paid, &s);
    free(paid.ids);
    if (rc != MZ_OK)
        return rc;
    if (s.paid_elsewhere > 0)
        mz_info("payroll run %lld: %zu cases left out, another run of %s holds them",
                (long long)run_id, s.paid_elsewhere, month);
    assist_test_kill_point("snapshot");
    const char *params[] = {program, lo, hi};
    rc = mz_db_query_int(db, "SELECT count(*)" REISSUE_FROM, &reissues, 3, params);
    int64_t block = s.households + (int64_t)s.nskipped + reissues;
    if (rc == MZ_OK)
        rc = assist_payment_ids_reserve(db, block, &first_id);
    if (rc == MZ_OK)
        rc = mz_db_run(db,
                       "UPDATE assistance_payroll_runs SET first_payment_id = ?, payment_ids = ?"
                       " WHERE id = ?",
                       "iii", first_id, block, run_id);
    for (size_t k = 0; k < s.nskipped && rc == MZ_OK; k++) {
        const struct assist_skip *x = &s.skipped[k];
        char note[160];
        if (x->reason == ASSIST_SKIP_PAYEE_DEAD)
            snprintf(note, sizeof(note), "收款人已于 %s 死亡，自次月起停发", x->died_on);
        else if (x->reason == ASSIST_SKIP_MEMBER_DEAD)
            snprintf(note, sizeof(note), "家庭成员已于 %s 死亡，须重新核定救助金额后恢复发放",
                     x->died_on);
        else
            snprintf(note, sizeof(note), "未登记银行账号，本月未发放");
        rc = mz_db_run(db,
                       "INSERT INTO assistance_payments (id, version, created_at, updated_at,"
                       " created_by, updated_by, run_id, case_id, program, month, household_id,"
                       " payee_person_id, division, persons, amount_fen, status, note, trace,"
                       " account_sealed) SELECT ?, 1, ?, ?, ?, ?, ?, c.id, c.program, ?,"
                       " c.household_id, nullif(?, 0), c.division, c.member_count, 0, 'skipped',"
                       " ?, c.benefit_trace, c.bank_account FROM assistance_cases c WHERE c.id = ?",
                       "issssisisi", first_id + s.households + (int64_t)k, now, now, actor, actor,
                       run_id, month, x->payee_person_id, note, x->case_id);
    }
    if (rc == MZ_OK)
        rc = case_reissues(db, now, actor, run_id, program, lo, hi,
                           first_id + s.households + (int64_t)s.nskipped);
    if (rc == MZ_OK)
        assist_test_kill_point("reissue");
    for (size_t k = 0; k < s.ncommunities && rc == MZ_OK; k++) {
        const struct assist_community_sum *c = &s.communities[k];
        char note[96];
        snprintf(note, sizeof(note), "应发汇总（%lld 户，明细见发放批次）",
                 (long long)c->households);
        rc = mz_db_run(db,
                       "INSERT INTO assistance_ledger (version, created_at, updated_at,"
                       " created_by, updated_by, run_id, month, entry, amount_fen, division, note)"
                       " VALUES (1, ?, ?, ?, ?, ?, ?, 'debit', ?, ?, ?)",
                       "ssssisiss", now, now, actor, actor, run_id, month, c->amount_fen,
                       c->division, note);
    }
    if (rc == MZ_OK)
        assist_test_kill_point("ledger");
    int64_t packed[3] = {s.households, s.persons, s.amount_fen};
    if (rc == MZ_OK)
        rc = run_totals(db, run_id, packed);
    assist_snapshot_free(&s);
    if (rc != MZ_OK)
        return rc;
    assist_test_kill_point("totals");
    rc = summary_load(db, run_id, out);
    if (rc == MZ_OK)
        mz_info("payroll run %lld (packed): program %s month %s households %lld",
                (long long)run_id, program, month, (long long)out->households);
    return rc;
}

/* POST /api/v1/assistance/payroll {"program","month","division"} */
int assist_h_payroll(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    const char *program = NULL, *month = NULL, *division = NULL, *reason;
    char div12[13];
    struct assist_run_summary s;
    if (body == NULL)
        return req->status;
    json_t *errors = json_array();
    if (mz_json_get_str(body, "program", &program) != MZ_OK || !assist_program_ok(program))
        mz_errors_add(errors, "program", "not_in_dictionary",
                      "救助项目应为 dibao、low_income、tekun、temporary 或 medical");
    if (mz_json_get_str(body, "month", &month) != MZ_OK || !assist_month_ok(month))
        mz_errors_add(errors, "month", "pattern", "月份应为 YYYY-MM");
    int rc = mz_json_get_str(body, "division", &division);
    if (rc == MZ_ERR_NOTFOUND) {
        const char *scope = req->app->scope ? req->app->scope(req) : NULL;
        division = scope ? scope : "120000";
    }
    if (rc == MZ_ERR_INVALID || mz_division_check(division, div12, &reason) != MZ_OK)
        mz_errors_add(errors, "division", "invalid_division", "区划代码无效");
    if (json_array_size(errors) > 0)
        return mz_fail_with(req, 422, "validation_failed", "请求参数有误",
                            json_pack("{s:o, s:O}", "errors", errors, "field",
                                      json_object_get(json_array_get(errors, 0), "field")));
    json_decref(errors);
    json_t *probe = json_pack("{s:s}", "division", div12);
    int status = mz_row_check_scope(req, &assist_runs, probe);
    json_decref(probe);
    if (status)
        return status;
    rc = assist_payroll_run(req->db, req->actor ? req->actor : "anonymous", program, month, div12,
                            &s);
    if (rc == MZ_ERR_CONFLICT)
        return mz_fail_with(req, 409, "payroll_exists", "该项目该月份已生成发放批次，不能重复发放",
                            json_pack("{s:o}", "run", assist_summary_json(&s)));
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    return mz_reply_json(req, 201, assist_summary_json(&s));
}

/* The default CSV line of a paid row. */
static int csv_line(void *ctx, const struct assist_bank_row *r, struct mz_buf *out,
                    struct mz_arena *a)
{
    (void)ctx;
    (void)a;
    char money[32];
    mz_money_format(r->amount_fen, money, sizeof(money));
    return mz_buf_printf(out, "%lld,%lld,%lld,%s,%.*s,%s\r\n", (long long)r->seq,
                         (long long)r->payment_id, (long long)r->ref_id, r->name,
                         (int)r->account_len, r->account, money);
}

/* Write a run's bank file to f: a header, one line per paid row (the
 * account opened for this file only, bank_rows.c), the trailer with the
 * control totals. */
int assist_bank_file_write(struct mz_db *db, int64_t run_id, FILE *f, int64_t *count_out,
                           int64_t *sum_out)
{
    int64_t count = 0, sum = 0, bad = 0;
    char money[32];
    fputs("\xEF\xBB\xBF" "seq,payment_id,case_id,payee_name,account,amount_yuan\r\n", f);
    int rc = assist_bank_rows(db, run_id, f, csv_line, NULL, &count, &sum, &bad);
    if (rc != MZ_OK)
        return rc;
    mz_money_format(sum, money, sizeof(money));
    fprintf(f, "TOTAL,%lld,,,,%s\r\n", (long long)count, money);
    if (fflush(f) != 0 || ferror(f))
        return MZ_ERR_IO;
    *count_out = count;
    *sum_out = sum;
    return MZ_OK;
}

/* GET /api/v1/assistance/payroll/{run}/bank-file - CSV with control totals. */
int assist_h_bank_file(struct mz_req *req)
{
    const char *s = mz_req_param(req, "run");
    char *end = NULL;
    long long run_id = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || run_id <= 0)
        return mz_fail_field(req, 400, "bad_id", "批次编号应为正整数", "run");
    json_t *run = mz_entity_get(req, &assist_runs, run_id);
    if (run == NULL)
        return req->status;
    const char *state = json_string_value(json_object_get(run, "state"));
    bool ready = state && (strcmp(state, "approved") == 0 || strcmp(state, "exported") == 0);
    json_decref(run);
    if (!ready)
        return mz_fail(req, 409, "not_approved", "发放批次审批后才能生成银行代发文件");
    /* ?layout=CODE: the bank's own layout (bank_layouts.c). */
    const char *code = mz_req_query(req, "layout");
    json_t *layout = NULL;
    if (code) {
        struct mz_stmt *lst;
        int64_t lid = 0;
        int lrc = mz_db_prepare(req->db,
                                "SELECT id FROM assistance_bank_layouts WHERE code = ?"
                                " AND deleted_at IS NULL",
                                &lst);
        if (lrc != MZ_OK)
            return mz_fail_err(req, lrc);
        mz_db_bind_text(lst, 1, code);
        if (mz_db_step(lst) == MZ_ROW)
            lid = mz_db_col_int(lst, 0);
        mz_db_done(lst);
        if (lid == 0)
            return mz_fail_field(req, 422, "no_such_layout", "没有这个银行文件格式", "layout");
        layout = mz_entity_get(req, &assist_bank_layouts, lid);
        if (layout == NULL)
            return req->status;
    }
    FILE *f = tmpfile();
    if (f == NULL) {
        json_decref(layout);
        return mz_fail_err(req, MZ_ERR_IO);
    }
    int64_t count = 0, sum = 0, bad = 0;
    int rc = layout ? assist_bank_file_layout(req->db, req->arena, run_id, layout, f, &count, &sum,
                                              &bad)
                    : assist_bank_file_write(req->db, run_id, f, &count, &sum);
    json_decref(layout);
    if (rc == MZ_ERR_TOOBIG) {
        fclose(f);
        return mz_fail_with(req, 422, "field_too_wide",
                            "有明细的内容超过该银行格式的列宽，请调整格式后再生成",
                            json_pack("{s:I}", "payment_id", (json_int_t)bad));
    }
    if (rc != MZ_OK) {
        fclose(f);
        mz_error("bank file of run %lld failed: %s", run_id, mz_err_name(rc));
        return mz_fail(req, 500, "internal", "生成银行代发文件失败");
    }

    json_t *detail = json_pack("{s:I, s:I, s:I}", "run_id", (json_int_t)run_id, "rows",
                               (json_int_t)count, "amount_fen", (json_int_t)sum);
    int status = mz_audit(req, "export", "assistance_payroll_runs", run_id, true, detail);
    json_decref(detail);
    if (status) {
        fclose(f);
        return status;
    }
    int fd = dup(fileno(f));
    fclose(f);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        if (fd >= 0)
            close(fd);
        return mz_fail_err(req, MZ_ERR_IO);
    }
    return mz_reply_file(req, 200,
                         code ? "application/octet-stream" : "text/csv; charset=utf-8", fd,
                         mz_arena_printf(req->arena, "payroll-%lld%s%s.%s", run_id,
                                         code ? "-" : "", code ? code : "", code ? "txt" : "csv"));
}

/* --- entities ---------------------------------------------------------------------- */

static const struct mz_wf_state run_states[] = {
    {.name = "draft", .zh = "待审批", .en = "Draft"},
    {.name = "approved", .zh = "已审批", .en = "Approved"},
    {.name = "exported", .zh = "已报送银行", .en = "Sent to bank"},
    {.name = "reconciled", .zh = "已对账", .en = "Reconciled", .final = true},
};

static const struct mz_transition run_transitions[] = {
    {.from = "draft", .action = "approve", .to = "approved", .zh = "审批", .en = "Approve"},
    {.from = "approved", .action = "export", .to = "exported", .zh = "报送银行",
     .en = "Send to bank"},
    {.from = "exported", .action = "reconcile", .to = "reconciled", .zh = "对账",
     .en = "Reconcile"},
};

static const struct mz_workflow run_workflow = {
    .name = "assistance_payroll_run",
    .initial = "draft",
    .states = run_states,
    .nstates = MZ_ARRAY_LEN(run_states),
    .transitions = run_transitions,
    .ntransitions = MZ_ARRAY_LEN(run_transitions),
};

static const struct mz_field run_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_READONLY},
    {.name = "month", .type = MZ_T_TEXT, .zh = "发放月份", .en = "Month", .flags = MZ_F_READONLY},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "区划", .en = "Division",
     .flags = MZ_F_SCOPE | MZ_F_READONLY},
    {.name = "households", .type = MZ_T_INT, .zh = "户数", .en = "Households",
     .flags = MZ_F_READONLY},
    {.name = "persons", .type = MZ_T_INT, .zh = "人数", .en = "Persons", .flags = MZ_F_READONLY},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "金额（分）", .en = "Amount (fen)",
     .flags = MZ_F_READONLY},
    {.name = "skipped", .type = MZ_T_INT, .zh = "停发户数", .en = "Skipped",
     .flags = MZ_F_READONLY},
    {.name = "reissued", .type = MZ_T_INT, .zh = "补发笔数", .en = "Reissued",
     .flags = MZ_F_READONLY},
    {.name = "returned", .type = MZ_T_INT, .zh = "银行退回笔数", .en = "Returned by bank",
     .flags = MZ_F_READONLY},
    {.name = "paid_out_fen", .type = MZ_T_MONEY, .zh = "实发金额（分）", .en = "Paid out (fen)",
     .flags = MZ_F_READONLY},
};

const struct mz_entity assist_runs = {
    .name = "assistance_payroll_runs",
    .zh = "发放批次",
    .en = "Payroll runs",
    .fields = run_fields,
    .nfields = MZ_ARRAY_LEN(run_fields),
    .workflow = &run_workflow,
    .flags = MZ_E_NO_CREATE | MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
};

static const struct mz_field payment_fields[] = {
    {.name = "run_id", .type = MZ_T_REF, .zh = "发放批次", .en = "Run",
     .ref = "assistance_payroll_runs", .flags = MZ_F_INDEXED},
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case",
     .ref = "assistance_cases", .flags = MZ_F_INDEXED},
    /* A 医疗救助 bill's payment (bills.c); unique index of migration 13. */
    {.name = "bill_id", .type = MZ_T_REF, .zh = "医疗救助", .en = "Medical bill",
     .ref = "assistance_medical_bills", .flags = MZ_F_NOINDEX},
    {.name = "temporary_id", .type = MZ_T_REF, .zh = "临时救助", .en = "Temporary assistance",
     .ref = "assistance_temporary_cases", .flags = MZ_F_NOINDEX},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program"},
    {.name = "month", .type = MZ_T_TEXT, .zh = "月份", .en = "Month"},
    /* Not indexed: a payment is found by run, case or community; an index
     * more costs every row of a city's run (bench/notes.md). */
    {.name = "household_id", .type = MZ_T_REF, .zh = "家庭", .en = "Household", .ref = "households",
     .flags = MZ_F_NOINDEX},
    {.name = "payee_person_id", .type = MZ_T_REF, .zh = "收款人", .en = "Payee", .ref = "persons",
     .flags = MZ_F_NOINDEX},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "社区", .en = "Community",
     .flags = MZ_F_SCOPE},
    {.name = "persons", .type = MZ_T_INT, .zh = "人数", .en = "Persons"},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "金额（分）", .en = "Amount (fen)"},
    {.name = "status", .type = MZ_T_DICT, .zh = "发放状态", .en = "Status",
     .dict = "assistance_payment_status"},
    {.name = "note", .type = MZ_T_TEXT, .zh = "说明", .en = "Note"},
    /* Indexed by the partial unique index of migration 4 (reissues only). */
    {.name = "reissue_of", .type = MZ_T_INT, .zh = "补发原明细", .en = "Reissue of"},
    /* The case's trace copied sealed (sealed.c opens it on the way out). */
    {.name = "trace", .type = MZ_T_TEXT, .zh = "计算过程", .en = "Trace", .flags = MZ_F_HIDDEN},
};

static const struct mz_hooks payment_hooks = {.present = assist_payment_present,
                                              .person_rows = assist_payment_person_rows,
                                              .count = assist_payment_count};

const struct mz_entity assist_payments = {
    .name = "assistance_payments",
    .zh = "救助发放明细",
    .en = "Payments",
    .fields = payment_fields,
    .nfields = MZ_ARRAY_LEN(payment_fields),
    .hooks = &payment_hooks,
    .flags = MZ_E_READONLY,
};

static const struct mz_field ledger_fields[] = {
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case",
     .ref = "assistance_cases", .flags = MZ_F_INDEXED},
    {.name = "bill_id", .type = MZ_T_REF, .zh = "医疗救助", .en = "Medical bill",
     .ref = "assistance_medical_bills", .flags = MZ_F_NOINDEX},
    {.name = "temporary_id", .type = MZ_T_REF, .zh = "临时救助", .en = "Temporary assistance",
     .ref = "assistance_temporary_cases", .flags = MZ_F_NOINDEX},
    {.name = "run_id", .type = MZ_T_REF, .zh = "发放批次", .en = "Run",
     .ref = "assistance_payroll_runs"},
    {.name = "month", .type = MZ_T_TEXT, .zh = "月份", .en = "Month"},
    {.name = "entry", .type = MZ_T_DICT, .zh = "借贷", .en = "Debit/credit",
     .dict = "assistance_ledger_entry"},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "金额（分）", .en = "Amount (fen)"},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "社区", .en = "Community",
     .flags = MZ_F_SCOPE},
    {.name = "note", .type = MZ_T_TEXT, .zh = "摘要", .en = "Note"},
};

const struct mz_entity assist_ledger = {
    .name = "assistance_ledger",
    .zh = "救助台账",
    .en = "Ledger",
    .fields = ledger_fields,
    .nfields = MZ_ARRAY_LEN(ledger_fields),
    .flags = MZ_E_READONLY,
};
