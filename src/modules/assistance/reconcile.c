/* reconcile.c - the bank's return file (回盘) and the ledger balance.
 *
 * POST /api/v1/assistance/payroll/{run}/return-file takes the bank's return
 * for an exported run (CSV or XLSX: one row per payment with its result) and,
 * in one transaction: checks every row (the payment belongs to this run and
 * was sent, appears once, the result is 成功/失败, a failure says why, the
 * amount when given equals the one sent) and that no sent payment is missing
 * — any problem refuses the whole file (422 import_rejected, row errors) and
 * changes nothing; otherwise each success is credited in the ledger (实发),
 * each failure is marked `failed` with the bank's reason (no credit: the debit
 * stays outstanding), and the run moves to reconciled with its counts.
 * A failed payment is reissued by the next payroll run of its program that
 * covers the case (payroll.c), with the case's current bank account, as a
 * payment of the original month marked reissue_of; its success is credited
 * like any other. So for every case Σ debits − Σ credits is what is still
 * owed: GET /api/v1/assistance/ledger/balance?case_id= reports it.
 *
 * Tested by tests/api/reconcile.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mz/crypto.h"
#include "mz/table.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

struct sent {
    int64_t id, case_id, bill_id, temporary_id, amount;
    int64_t position;    /* a packed household's position in its run, -1 for a row */
    char division[13], month[8];
    int seen;            /* row number of the return line, 0 when not seen */
    bool ok;
    const char *reason;
};

/* A packed run's facts (packed = 0 for a run written per row). */
struct run_facts {
    int64_t packed, first_id;
    char program[32], month[8], created[40];
};

static int cmp_sent(const void *a, const void *b)
{
    int64_t x = ((const struct sent *)a)->id, y = ((const struct sent *)b)->id;
    return x < y ? -1 : x > y;
}

/* Which of our columns a header cell names: 0 id, 1 result, 2 reason, 3 amount, -1 other. */
static int column_of(const char *h)
{
    static const char *const names[4][6] = {
        {"payment_id", "明细号", "明细编号", "付款编号", NULL},
        {"result", "status", "处理结果", "状态", "结果", NULL},
        {"reason", "失败原因", "原因", "备注", NULL},
        {"amount_yuan", "amount", "金额", "金额（元）", "金额(元)", NULL},
    };
    for (int c = 0; c < 4; c++) {
        for (int k = 0; names[c][k]; k++) {
            if (strcmp(h, names[c][k]) == 0)
                return c;
        }
    }
    return -1;
}

static void row_error(json_t *errors, long row, const char *field, const char *code,
                      const char *message)
{
    if (json_array_size(errors) < 100)
        json_array_append_new(errors, json_pack("{s:I, s:s, s:s, s:s}", "row", (json_int_t)row,
                                                "field", field, "code", code, "message", message));
}

static struct sent *sent_add(struct sent **out, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *out = mz_xrealloc(*out, *cap * sizeof(**out));
    }
    struct sent *s = &(*out)[(*n)++];
    memset(s, 0, sizeof(*s));
    s->position = -1;
    return s;
}

static int run_facts_load(struct mz_db *db, int64_t run_id, struct run_facts *r)
{
    struct mz_stmt *st;
    memset(r, 0, sizeof(*r));
    int rc = mz_db_prepare(db,
                           "SELECT packed, coalesce(first_payment_id, 0), program, month,"
                           " created_at FROM assistance_payroll_runs WHERE id = ?",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    if ((rc = mz_db_step(st)) == MZ_ROW) {
        r->packed = mz_db_col_int(st, 0);
        r->first_id = mz_db_col_int(st, 1);
        snprintf(r->program, sizeof(r->program), "%s", mz_db_col_text(st, 2));
        snprintf(r->month, sizeof(r->month), "%s", mz_db_col_text(st, 3));
        snprintf(r->created, sizeof(r->created), "%s", mz_db_col_text(st, 4));
    }
    mz_db_done(st);
    return rc == MZ_ROW ? MZ_OK : rc < 0 ? rc : MZ_ERR_NOTFOUND;
}

/* The packed households a packed run sent (docs/assistance.md, "Packed
 * payroll snapshot"): payment id = the run's first id + position. A
 * household the bank returned already has its override row (status
 * failed) and is no longer sent. */
static int load_sent_packed(struct mz_db *db, int64_t run_id, const struct run_facts *r,
                            struct sent **out, size_t *n, size_t *cap)
{
    struct assist_pack_cursor *cur = NULL;
    struct assist_pack *p = assist_pack_new();
    int rc = assist_packs_begin(db, run_id, &cur);
    while (rc == MZ_OK && (rc = assist_packs_next(cur, p)) == MZ_ROW) {
        rc = MZ_OK;
        for (size_t i = 0; i < p->n; i++) {
            struct sent *s = sent_add(out, n, cap);
            s->position = p->first_position + (int64_t)i;
            s->id = r->first_id + s->position;
            s->case_id = p->rows[i].case_id;
            s->amount = p->rows[i].amount_fen;
            memcpy(s->division, p->rows[i].division, sizeof(s->division));
            memcpy(s->month, r->month, sizeof(s->month));
        }
    }
    if (cur)
        assist_packs_end(cur);
    assist_pack_free(p);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* Load the payments sent with the run, sorted by id: a packed run's packed
 * households, then the run's paid rows. */
static int load_sent(struct mz_db *db, int64_t run_id, const struct run_facts *r,
                     struct sent **out, size_t *n)
{
    struct mz_stmt *st;
    size_t cap = 0;
    int rc = r->packed == 1 ? load_sent_packed(db, run_id, r, out, n, &cap) : MZ_OK;
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_prepare(db,
                           "SELECT id, coalesce(case_id, 0), amount_fen, division, month,"
                           " coalesce(bill_id, 0), coalesce(temporary_id, 0) FROM assistance_payments"
                           " WHERE run_id = ? AND status = 'paid' AND deleted_at IS NULL ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        struct sent *s = sent_add(out, n, &cap);
        s->id = mz_db_col_int(st, 0);
        s->case_id = mz_db_col_int(st, 1);
        s->amount = mz_db_col_int(st, 2);
        snprintf(s->division, sizeof(s->division), "%s", mz_db_col_text(st, 3));
        snprintf(s->month, sizeof(s->month), "%s", mz_db_col_text(st, 4));
        s->bill_id = mz_db_col_int(st, 5);
        s->temporary_id = mz_db_col_int(st, 6);
    }
    mz_db_done(st);
    if (rc == MZ_DONE && *n > 1)
        qsort(*out, *n, sizeof(**out), cmp_sent);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* Read and check the file against the sent payments; errors collected. */
static int read_return(struct mz_req *req, const char *path, struct sent *sent, size_t n,
                       json_t *errors)
{
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    const char *const *cells;
    size_t ncells;
    long rowno = 0;
    enum mz_table_format fmt = mz_table_sniff(req->body, req->body_len);
    if (mz_table_open(path, fmt, &r, &reason) != MZ_OK)
        return mz_fail(req, 422, "bad_file", reason ? reason : "无法读取回盘文件");
    int rc = mz_table_next(r, &cells, &ncells, &rowno, &reason);
    if (rc <= 0) {
        mz_table_close(r);
        return mz_fail(req, 422, "bad_file", rc < 0 && reason ? reason : "回盘文件是空的");
    }
    int col[4] = {-1, -1, -1, -1};
    for (size_t i = 0; i < ncells; i++) {
        int c = column_of(cells[i] ? cells[i] : "");
        if (c >= 0 && col[c] < 0)
            col[c] = (int)i;
    }
    if (col[0] < 0 || col[1] < 0) {
        mz_table_close(r);
        return mz_fail(req, 422, "bad_file", "回盘文件须有“明细号”(payment_id) 和“处理结果”(result) 两列");
    }
    while ((rc = mz_table_next(r, &cells, &ncells, &rowno, &reason)) == 1) {
        const char *id_text = (size_t)col[0] < ncells ? cells[col[0]] : "";
        if (strncmp(id_text, "TOTAL", 5) == 0)
            continue; /* the trailer of our own bank file, echoed back */
        char *end = NULL;
        long long id = strtoll(id_text, &end, 10);
        struct sent probe = {.id = id}, *s = NULL;
        if (id > 0 && end && *end == '\0' && n > 0)
            s = bsearch(&probe, sent, n, sizeof(*sent), cmp_sent);
        if (s == NULL) {
            row_error(errors, rowno, "payment_id", "no_such_payment", "不是本批次发送给银行的明细");
            continue;
        }
        if (s->seen) {
            row_error(errors, rowno, "payment_id", "duplicate", "同一明细在回盘文件中出现了两次");
            continue;
        }
        s->seen = (int)rowno;
        const char *res = (size_t)col[1] < ncells ? cells[col[1]] : "";
        if (!strcmp(res, "成功") || !strcmp(res, "success") || !strcmp(res, "ok") ||
            !strcmp(res, "0"))
            s->ok = true;
        else if (!strcmp(res, "失败") || !strcmp(res, "failed") || !strcmp(res, "fail") ||
                 !strcmp(res, "1"))
            s->ok = false;
        else
            row_error(errors, rowno, "result", "not_in_dictionary", "处理结果应为“成功”或“失败”");
        const char *why = col[2] >= 0 && (size_t)col[2] < ncells ? cells[col[2]] : "";
        if (!s->ok) {
            if (why == NULL || *why == '\0')
                row_error(errors, rowno, "reason", "required", "失败的明细须写明失败原因");
            else if (strlen(why) > 200)
                row_error(errors, rowno, "reason", "too_long", "失败原因过长");
            else
                s->reason = mz_arena_strdup(req->arena, why);
        }
        if (col[3] >= 0 && (size_t)col[3] < ncells && cells[col[3]] && *cells[col[3]]) {
            int64_t fen = 0;
            const char *why2;
            if (mz_money_parse(cells[col[3]], &fen, &why2) != MZ_OK || fen != s->amount)
                row_error(errors, rowno, "amount_yuan", "amount_mismatch",
                          "金额与发送给银行的不一致");
        }
    }
    mz_table_close(r);
    if (rc < 0)
        return mz_fail(req, 422, "bad_file", reason ? reason : "无法读取回盘文件");
    size_t missing = 0;
    int64_t first = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sent[i].seen && missing++ == 0)
            first = sent[i].id;
    }
    if (missing)
        row_error(errors, 0, "payment_id", "missing",
                  mz_arena_printf(req->arena, "回盘文件缺少 %zu 条已发送的明细（例如明细号 %lld）",
                                  missing, (long long)first));
    return 0;
}

static int cmp_sent_division(const void *a, const void *b)
{
    const struct sent *x = *(const struct sent *const *)a, *y = *(const struct sent *const *)b;
    return strcmp(x->division, y->division);
}

/* The override row of a packed payment the bank returned: the household's
 * fields from its pack, with the packed payment's own id (it supersedes the
 * pack's entry everywhere), the trace copy the pack names, the account
 * sealed again under the column's context, status failed and the bank's
 * reason - what a per-row run's payment row says after the same return. */
static int packed_failure(struct mz_req *req, int64_t run_id, const struct run_facts *r,
                          struct assist_pack *p, const struct sent *s, const char *note,
                          const char *now, const char *actor)
{
    size_t i = 0;
    int rc = assist_pack_load_position(req->db, run_id, s->position, p, &i);
    if (rc != MZ_OK)
        return rc == MZ_ERR_NOTFOUND ? MZ_ERR_INVALID : rc;
    const struct assist_packed *h = &p->rows[i];
    const char *account =
        h->account_len ? mz_crypto_seal(req->arena, assist_account_context(0), h->account,
                                        h->account_len)
                       : NULL;
    return mz_db_run(req->db,
                     "INSERT INTO assistance_payments (id, version, created_at, updated_at,"
                     " created_by, updated_by, run_id, case_id, program, month, household_id,"
                     " payee_person_id, division, persons, amount_fen, status, note, trace,"
                     " account_sealed) VALUES (?, 2, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, 0),"
                     " nullif(?, 0), ?, ?, ?, 'failed', ?, (SELECT trace FROM"
                     " assistance_payment_traces WHERE id = ?), ?)",
                     "itttti" "itti" "iti" "itit",
                     s->id, r->created, now, actor, actor, run_id,
                     h->case_id, r->program, r->month, h->household_id,
                     h->payee_person_id, h->division, (int64_t)h->persons,
                     h->amount_fen, note, h->trace_id, account);
}

/* The credits of a packed run's packed payments the bank paid: one row per
 * community (case_id NULL), as its debits were written. */
static int packed_credits(struct mz_req *req, int64_t run_id, const struct run_facts *r,
                          struct sent *sent, size_t n, const char *now, const char *actor)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += sent[i].position >= 0 && sent[i].ok;
    if (m == 0)
        return MZ_OK;
    struct sent **paid = mz_xmalloc(m * sizeof(*paid));
    m = 0;
    for (size_t i = 0; i < n; i++) {
        if (sent[i].position >= 0 && sent[i].ok)
            paid[m++] = &sent[i];
    }
    qsort(paid, m, sizeof(*paid), cmp_sent_division);
    int rc = MZ_OK;
    for (size_t i = 0; i < m && rc == MZ_OK;) {
        size_t j = i;
        int64_t sum = 0;
        while (j < m && strcmp(paid[j]->division, paid[i]->division) == 0)
            sum += paid[j++]->amount;
        char note[96];
        snprintf(note, sizeof(note), "银行实发汇总（%zu 户，明细见发放批次）", j - i);
        rc = mz_db_run(req->db,
                       "INSERT INTO assistance_ledger (version, created_at, updated_at,"
                       " created_by, updated_by, run_id, month, entry, amount_fen, division, note)"
                       " VALUES (1, ?, ?, ?, ?, ?, ?, 'credit', ?, ?, ?)",
                       "ttttitit" "t", now, now, actor, actor, run_id, r->month, sum,
                       paid[i]->division, note);
        i = j;
    }
    free(paid);
    return rc;
}

/* Apply a checked return: credits, failures, the run's counts and state. A
 * packed run's packed payments: one credit per community for the paid ones,
 * an override row (status failed) per returned one. */
static int apply_return(struct mz_req *req, int64_t run_id, const struct run_facts *r,
                        struct sent *sent, size_t n, json_t **out)
{
    char now[32];
    mz_now_rfc3339(now);
    const char *actor = req->actor ? req->actor : "system";
    int64_t credited = 0, credited_fen = 0, failed = 0, failed_fen = 0;
    struct assist_pack *p = NULL;
    int rc = MZ_OK;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        struct sent *s = &sent[i];
        if (s->ok) {
            if (s->position < 0)
                rc = mz_db_run(req->db,
                               "INSERT INTO assistance_ledger (version, created_at, updated_at,"
                               " created_by, updated_by, case_id, bill_id, temporary_id, run_id,"
                               " month, entry, amount_fen, division, note) VALUES (1, ?, ?, ?, ?,"
                               " nullif(?, 0), nullif(?, 0), nullif(?, 0), ?, ?, 'credit', ?, ?,"
                               " '银行实发')",
                               "ttttiiiitit", now, now, actor, actor, s->case_id, s->bill_id,
                               s->temporary_id, run_id, s->month, s->amount, s->division);
            credited++;
            credited_fen += s->amount;
            continue;
        }
        const char *note = mz_arena_printf(req->arena, "银行退回：%s（待补发）", s->reason);
        if (s->position >= 0) {
            if (p == NULL)
                p = assist_pack_new();
            rc = packed_failure(req, run_id, r, p, s, note, now, actor);
        } else {
            rc = mz_db_run(req->db,
                           "UPDATE assistance_payments SET status = 'failed', note = ?,"
                           " updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?",
                           "ttti", note, now, actor, s->id);
        }
        failed++;
        failed_fen += s->amount;
    }
    assist_pack_free(p);
    if (rc == MZ_OK && r->packed == 1)
        rc = packed_credits(req, run_id, r, sent, n, now, actor);
    if (rc == MZ_OK)
        rc = mz_db_run(req->db,
                       "UPDATE assistance_payroll_runs SET returned = ?, paid_out_fen = ?"
                       " WHERE id = ?",
                       "iii", failed, credited_fen, run_id);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    const char *comment = mz_arena_printf(req->arena, "银行回盘：成功 %lld 笔，退回 %lld 笔",
                                          (long long)credited, (long long)failed);
    int status = mz_entity_act(req, &assist_runs, run_id, "reconcile", comment, NULL);
    if (status)
        return status;
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "run_id", (json_int_t)run_id, "credited",
                     (json_int_t)credited, "credited_fen", (json_int_t)credited_fen, "failed",
                     (json_int_t)failed, "failed_fen", (json_int_t)failed_fen, "state",
                     "reconciled");
    return 0;
}

/* POST /api/v1/assistance/payroll/{run}/return-file */
int assist_h_return_file(struct mz_req *req)
{
    const char *s = mz_req_param(req, "run");
    char *end = NULL;
    long long run_id = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || run_id <= 0)
        return mz_fail_field(req, 400, "bad_id", "批次编号应为正整数", "run");
    if (req->body_len == 0)
        return mz_fail(req, 400, "bad_request", "没有收到回盘文件");
    json_t *run = mz_entity_get(req, &assist_runs, run_id);
    if (run == NULL)
        return req->status;
    const char *state = json_string_value(json_object_get(run, "state"));
    bool exported = state && strcmp(state, "exported") == 0;
    json_decref(run);
    if (!exported)
        return mz_fail(req, 409, "not_exported", "只有已报送银行、尚未对账的批次才能导入回盘文件");
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-return-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return mz_fail_err(req, MZ_ERR_IO);
    size_t off = 0;
    while (off < req->body_len) {
        ssize_t w = write(fd, req->body + off, req->body_len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    if (off != req->body_len) {
        unlink(path);
        return mz_fail_err(req, MZ_ERR_IO);
    }
    struct sent *sent = NULL;
    size_t n = 0;
    json_t *errors = json_array(), *summary = NULL;
    int status = 0;
    struct run_facts facts;
    int rc = run_facts_load(req->db, run_id, &facts);
    if (rc == MZ_OK)
        rc = load_sent(req->db, run_id, &facts, &sent, &n);
    if (rc != MZ_OK)
        status = mz_fail_err(req, rc);
    else
        status = read_return(req, path, sent, n, errors);
    unlink(path);
    if (status == 0 && json_array_size(errors) > 0)
        status = mz_fail_with(req, 422, "import_rejected", "回盘文件有误，未做任何对账处理",
                              json_pack("{s:O}", "errors", errors));
    if (status == 0)
        status = apply_return(req, run_id, &facts, sent, n, &summary);
    if (status == 0) {
        status = mz_audit(req, "reconcile", "assistance_payroll_runs", run_id, true, summary);
        if (status == 0)
            status = mz_reply_json(req, 200, summary);
        else
            json_decref(summary);
    }
    json_decref(errors);
    free(sent);
    return status;
}

/* A case's part of the packed runs (docs/assistance.md, "Packed payroll
 * snapshot"), added to *debit and *credit: every packed run of its program
 * with a pack whose case range holds it, the household found in that pack;
 * debited its amount (the run's community debit holds it), credited it when
 * the run was reconciled and the payment has no override row (the bank
 * returned it: no credit, as a per-row run's failed payment). */
static int case_packed_balance(struct mz_db *db, int64_t case_id, int64_t *debit,
                               int64_t *credit)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT r.id, r.first_payment_id, r.state FROM assistance_payroll_runs r"
                           " JOIN assistance_cases c ON c.id = ? AND c.program = r.program"
                           " WHERE r.packed = 1 AND r.deleted_at IS NULL AND EXISTS (SELECT 1"
                           " FROM assistance_payment_packs k WHERE k.run_id = r.id"
                           " AND k.first_case_id <= ? AND k.last_case_id >= ?) ORDER BY r.id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, case_id);
    mz_db_bind_int(st, 2, case_id);
    mz_db_bind_int(st, 3, case_id);
    struct { int64_t id, first; bool reconciled; } *runs = NULL;
    size_t n = 0, cap = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            runs = mz_xrealloc(runs, cap * sizeof(*runs));
        }
        runs[n].id = mz_db_col_int(st, 0);
        runs[n].first = mz_db_col_int(st, 1);
        runs[n++].reconciled = strcmp(mz_db_col_text(st, 2), "reconciled") == 0;
    }
    mz_db_done(st);
    rc = rc == MZ_DONE ? MZ_OK : rc;
    struct assist_pack *p = n ? assist_pack_new() : NULL;
    for (size_t k = 0; k < n && rc == MZ_OK; k++) {
        size_t i = 0;
        rc = assist_pack_load_case(db, runs[k].id, case_id, p, &i);
        if (rc == MZ_ERR_NOTFOUND) {
            rc = MZ_OK;
            continue;
        }
        if (rc != MZ_OK)
            break;
        int64_t amount = p->rows[i].amount_fen, over = 0;
        *debit += amount;
        if (!runs[k].reconciled)
            continue;
        struct mz_stmt *ov;
        if ((rc = mz_db_prepare(db,
                                "SELECT count(*) FROM assistance_payments WHERE id = ?"
                                " AND deleted_at IS NULL",
                                &ov)) != MZ_OK)
            break;
        mz_db_bind_int(ov, 1, runs[k].first + p->first_position + (int64_t)i);
        if ((rc = mz_db_step(ov)) == MZ_ROW) {
            over = mz_db_col_int(ov, 0);
            rc = MZ_OK;
        }
        mz_db_done(ov);
        if (rc == MZ_OK && over == 0)
            *credit += amount;
    }
    assist_pack_free(p);
    free(runs);
    return rc;
}

/* GET /api/v1/assistance/ledger/balance?case_id=N (or ?bill_id=N: a
 * 医疗救助 bill, bills.c; ?temporary_id=N: a 临时救助 case, temporary.c) */
int assist_h_balance(struct mz_req *req)
{
    static const struct {
        const char *key;
        const struct mz_entity *e;
        const char *sql;
    } kinds[] = {
#define BALANCE_SQL(col)                                                                      \
    "SELECT coalesce(sum(CASE WHEN entry = 'debit' THEN amount_fen ELSE 0 END), 0),"          \
    " coalesce(sum(CASE WHEN entry = 'credit' THEN amount_fen ELSE 0 END), 0)"                \
    " FROM assistance_ledger WHERE " col " = ? AND deleted_at IS NULL"
        {"case_id", &assist_cases, BALANCE_SQL("case_id")},
        {"bill_id", &assist_medical_bills, BALANCE_SQL("bill_id")},
        {"temporary_id", &assist_temporary_cases, BALANCE_SQL("temporary_id")},
#undef BALANCE_SQL
    };
    size_t k = 0;
    for (size_t i = 0; i < MZ_ARRAY_LEN(kinds); i++) {
        if (mz_req_query(req, kinds[i].key) != NULL) {
            k = i;
            break;
        }
    }
    const char *key = kinds[k].key;
    const char *s = mz_req_query(req, key);
    char *end = NULL;
    long long case_id = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || case_id <= 0)
        return mz_fail_field(req, 400, "bad_request",
                             "请指定救助案件编号 case_id（或 bill_id、temporary_id）", key);
    json_t *c = mz_entity_get(req, kinds[k].e, case_id);
    if (c == NULL)
        return req->status;
    json_decref(c);
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db, kinds[k].sql, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, case_id);
    int64_t debit = 0, credit = 0;
    if ((rc = mz_db_step(st)) == MZ_ROW) {
        debit = mz_db_col_int(st, 0);
        credit = mz_db_col_int(st, 1);
    }
    mz_db_done(st);
    if (rc < 0)
        return mz_fail_err(req, rc);
    if (kinds[k].e == &assist_cases &&
        (rc = case_packed_balance(req->db, case_id, &debit, &credit)) != MZ_OK)
        return mz_fail_err(req, rc);
    return mz_reply_json(req, 200,
                         json_pack("{s:I, s:I, s:I, s:I}", key, (json_int_t)case_id,
                                   "debit_fen", (json_int_t)debit, "credit_fen", (json_int_t)credit,
                                   "outstanding_fen", (json_int_t)(debit - credit)));
}
