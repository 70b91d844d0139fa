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

#include "mz/table.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

struct sent {
    int64_t id, case_id, bill_id, temporary_id, amount;
    char division[13], month[8];
    int seen;            /* row number of the return line, 0 when not seen */
    bool ok;
    const char *reason;
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

/* Load the payments sent with the run, sorted by id. */
static int load_sent(struct mz_db *db, int64_t run_id, struct sent **out, size_t *n)
{
    struct mz_stmt *st;
    size_t cap = 0;
    int rc = mz_db_prepare(db,
                           "SELECT id, coalesce(case_id, 0), amount_fen, division, month,"
                           " coalesce(bill_id, 0), coalesce(temporary_id, 0) FROM assistance_payments"
                           " WHERE run_id = ? AND status = 'paid' AND deleted_at IS NULL ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            struct sent *p = realloc(*out, cap * sizeof(*p));
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            *out = p;
        }
        struct sent *s = &(*out)[(*n)++];
        memset(s, 0, sizeof(*s));
        s->id = mz_db_col_int(st, 0);
        s->case_id = mz_db_col_int(st, 1);
        s->amount = mz_db_col_int(st, 2);
        snprintf(s->division, sizeof(s->division), "%s", mz_db_col_text(st, 3));
        snprintf(s->month, sizeof(s->month), "%s", mz_db_col_text(st, 4));
        s->bill_id = mz_db_col_int(st, 5);
        s->temporary_id = mz_db_col_int(st, 6);
    }
    mz_db_done(st);
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

/* Apply a checked return: credits, failures, the run's counts and state. */
static int apply_return(struct mz_req *req, int64_t run_id, struct sent *sent, size_t n,
                        json_t **out)
{
    char now[32];
    mz_now_rfc3339(now);
    const char *actor = req->actor ? req->actor : "system";
    int64_t credited = 0, credited_fen = 0, failed = 0, failed_fen = 0;
    int rc = MZ_OK;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        struct sent *s = &sent[i];
        if (s->ok) {
            rc = mz_db_run(req->db,
                           "INSERT INTO assistance_ledger (version, created_at, updated_at,"
                           " created_by, updated_by, case_id, bill_id, temporary_id, run_id, month,"
                           " entry, amount_fen, division, note) VALUES (1, ?, ?, ?, ?, nullif(?, 0),"
                           " nullif(?, 0), nullif(?, 0), ?, ?, 'credit', ?, ?, '银行实发')",
                           "ttttiiiitit", now, now, actor, actor, s->case_id, s->bill_id,
                           s->temporary_id, run_id, s->month, s->amount, s->division);
            credited++;
            credited_fen += s->amount;
        } else {
            rc = mz_db_run(req->db,
                           "UPDATE assistance_payments SET status = 'failed', note = ?,"
                           " updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?",
                           "ttti", mz_arena_printf(req->arena, "银行退回：%s（待补发）", s->reason),
                           now, actor, s->id);
            failed++;
            failed_fen += s->amount;
        }
    }
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
    int rc = load_sent(req->db, run_id, &sent, &n);
    if (rc != MZ_OK)
        status = mz_fail_err(req, rc);
    else
        status = read_return(req, path, sent, n, errors);
    unlink(path);
    if (status == 0 && json_array_size(errors) > 0)
        status = mz_fail_with(req, 422, "import_rejected", "回盘文件有误，未做任何对账处理",
                              json_pack("{s:O}", "errors", errors));
    if (status == 0)
        status = apply_return(req, run_id, sent, n, &summary);
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
    return mz_reply_json(req, 200,
                         json_pack("{s:I, s:I, s:I, s:I}", key, (json_int_t)case_id,
                                   "debit_fen", (json_int_t)debit, "credit_fen", (json_int_t)credit,
                                   "outstanding_fen", (json_int_t)(debit - credit)));
}
