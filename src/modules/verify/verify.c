/* verify.c - the verification module (家庭经济状况核对): entities, routes and
 * the module descriptor.
 *
 * What it owns:
 *  - verify_batches: one delivery of a data source (a department's file, or
 *    a partner system's push) as of a date; its rows live sealed in
 *    verify_chunks (store.c). The batch in force for a date is the latest
 *    whose as_of is on or before it; a wrong delivery is withdrawn (撤回),
 *    never edited, so every report can name the exact snapshots it used.
 *  - verify_rules: the thresholds per program, division and date (city level
 *    maintains them, like the assistance standards).
 *  - verify_authorisations: the signed 授权书 of each adult, by ID number.
 *    A verification whose adult members are not all authorised on the date is
 *    refused (single) or recorded as 缺少授权 (bulk).
 *  - verify_requests: every verification, single (one household, from a
 *    case, a registry household or members given directly by a partner) or
 *    bulk (全面复核: every active case of a program in the caller's area),
 *    with its report (single) or summary (bulk); verify_results: a bulk run's
 *    per-household outcome, flags and figures.
 * Routes: POST /api/v1/verify/sources/{source}/batches (import a CSV/XLSX
 * file, or JSON rows from a partner), GET /api/v1/verify/sources,
 * POST /api/v1/verify/requests (single), POST /api/v1/verify/bulk.
 * Every verification is audited ("verify"). Design: docs/verify.md.
 * Tested by tests/unit/test_verify.c and tests/api/verify.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "mz/crypto.h"
#include "mz/table.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_warnings.h"
#include "modules/verify/verify_parts.h"

#define MAX_BATCH_ROWS 2000000

/* --- dictionaries --------------------------------------------------------------- */

static const struct mz_dict_item source_items[VF_NSOURCES] = {
    {"hukou", "公安户籍", "Hukou (police)"},
    {"cremation", "殡葬火化", "Cremations"},
    {"vehicle", "车辆", "Vehicles"},
    {"realestate", "不动产", "Real estate"},
    {"deposit", "银行存款", "Bank deposits"},
    {"securities", "证券", "Securities"},
    {"business", "工商登记", "Business registrations"},
    {"tax", "税务", "Taxed income"},
    {"social_insurance", "社会保险", "Social insurance"},
    {"housing_fund", "住房公积金", "Housing fund"},
    {"public_employee", "财政供养人员", "Public employees"},
    {"staff_relatives", "经办人员近亲属备案", "Relatives of staff"},
};
static const struct mz_dict_item channel_items[] = {
    {"file", "文件导入", "File import"},
    {"partner", "系统对接", "Partner system"},
};
static const struct mz_dict_item severity_items[] = {
    {"refuse", "不符合条件", "Ineligible"},
    {"review", "需人工核实", "Needs review"},
};
static const struct mz_dict_item kind_items[] = {
    {"single", "单户核对", "Single household"},
    {"bulk", "批量复核", "Bulk re-check"},
};
static const struct mz_dict_item origin_items[] = {
    {"case", "救助案件", "Assistance case"},
    {"household", "登记家庭", "Registry household"},
    {"direct", "直接提交", "Submitted directly"},
    {"bulk", "全面复核", "Yearly re-check"},
};

#define DICT(var, dname, dzh, den, list)                                                      \
    static const struct mz_dict var = {.name = dname, .zh = dzh, .en = den, .items = list,   \
                                       .nitems = MZ_ARRAY_LEN(list)}
DICT(dict_source, "verify_source", "核对数据源", "Data source", source_items);
DICT(dict_channel, "verify_channel", "数据来源方式", "Channel", channel_items);
DICT(dict_rule, "verify_rule", "核对规则", "Rule", vf_rule_items);
DICT(dict_severity, "verify_severity", "规则结论", "Severity", severity_items);
DICT(dict_outcome, "verify_outcome", "核对结论", "Outcome", vf_outcome_items);
DICT(dict_kind, "verify_kind", "核对方式", "Kind", kind_items);
DICT(dict_origin, "verify_origin", "核对对象来源", "Origin", origin_items);
DICT(dict_warning, "verify_warning", "预警类型", "Warning", vf_warning_items);

static const struct mz_dict *const verify_dicts[] = {
    &dict_source, &dict_channel, &dict_rule, &dict_severity,
    &dict_outcome, &dict_kind, &dict_origin, &dict_warning,
};

/* --- batches ---------------------------------------------------------------------- */

static const struct mz_field batch_fields[] = {
    {.name = "source", .type = MZ_T_DICT, .zh = "数据源", .en = "Source", .dict = "verify_source",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "department", .type = MZ_T_TEXT, .zh = "提供部门", .en = "Department",
     .flags = MZ_F_READONLY | MZ_F_SEARCHABLE},
    {.name = "as_of", .type = MZ_T_DATE, .zh = "数据截止日期", .en = "As of",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "channel", .type = MZ_T_DICT, .zh = "来源方式", .en = "Channel",
     .dict = "verify_channel", .flags = MZ_F_READONLY},
    {.name = "file_name", .type = MZ_T_TEXT, .zh = "文件名", .en = "File name",
     .flags = MZ_F_READONLY},
    {.name = "rows_total", .type = MZ_T_INT, .zh = "总行数", .en = "Rows", .flags = MZ_F_READONLY},
    {.name = "rows_accepted", .type = MZ_T_INT, .zh = "入库行数", .en = "Accepted",
     .flags = MZ_F_READONLY},
    {.name = "rows_rejected", .type = MZ_T_INT, .zh = "拒收行数", .en = "Rejected",
     .flags = MZ_F_READONLY},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_READONLY | MZ_F_SCOPE},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

static const struct mz_wf_state batch_states[] = {
    {.name = "active", .zh = "在用", .en = "In force"},
    {.name = "withdrawn", .zh = "已撤回", .en = "Withdrawn", .final = true},
};
static const struct mz_transition batch_transitions[] = {
    {.from = "active", .action = "withdraw", .to = "withdrawn", .zh = "撤回", .en = "Withdraw",
     .comment_required = true},
};
static const struct mz_workflow batch_workflow = {
    .name = "verify_batch",
    .initial = "active",
    .states = batch_states,
    .nstates = MZ_ARRAY_LEN(batch_states),
    .transitions = batch_transitions,
    .ntransitions = MZ_ARRAY_LEN(batch_transitions),
};

static const struct mz_entity verify_batches = {
    .name = "verify_batches",
    .zh = "核对数据批次",
    .en = "Source batches",
    .fields = batch_fields,
    .nfields = MZ_ARRAY_LEN(batch_fields),
    .flags = MZ_E_NO_CREATE | MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
    .workflow = &batch_workflow,
    .default_sort = "-id",
};

/* --- rules ----------------------------------------------------------------------------- */

static const struct mz_field rule_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "rule", .type = MZ_T_DICT, .zh = "规则", .en = "Rule", .dict = "verify_rule",
     .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "enabled", .type = MZ_T_BOOL, .zh = "启用", .en = "Enabled", .def = "true"},
    {.name = "severity", .type = MZ_T_DICT, .zh = "命中结论", .en = "Severity",
     .dict = "verify_severity", .def = "\"refuse\""},
    {.name = "standard_program", .type = MZ_T_DICT, .zh = "对照标准", .en = "Standard of",
     .dict = "assistance_program"},
    {.name = "percent", .type = MZ_T_INT, .zh = "收入限额（标准的%）", .en = "Income limit (% of standard)",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 1000, .def = "100"},
    {.name = "months", .type = MZ_T_INT, .zh = "资产限额（标准的月数）", .en = "Assets limit (months of standard)",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 600, .def = "0"},
    {.name = "count_limit", .type = MZ_T_INT, .zh = "数量上限", .en = "Count limit",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100, .def = "0"},
    {.name = "value_limit_fen", .type = MZ_T_MONEY, .zh = "价值限额（分）", .en = "Value limit (fen)",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000000, .def = "0"},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source", .flags = MZ_F_HAS_MAX,
     .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

static const struct mz_entity verify_rules = {
    .name = "verify_rules",
    .zh = "核对规则",
    .en = "Verification rules",
    .fields = rule_fields,
    .nfields = MZ_ARRAY_LEN(rule_fields),
    .write_permission = "verify_rules.configure",
    .default_sort = "program,rule,-valid_from",
};

/* --- authorisations ----------------------------------------------------------------------- */

static int auth_validate(struct mz_write *w)
{
    const char *from = json_string_value(json_object_get(w->row, "signed_on"));
    const char *until = json_string_value(json_object_get(w->row, "valid_until"));
    if (from && until && strcmp(until, from) < 0)
        mz_errors_add(w->errors, "valid_until", "too_small", "有效期至不能早于签署日期");
    char today[11];
    assist_today(today);
    if (from && strcmp(from, today) > 0)
        mz_errors_add(w->errors, "signed_on", "too_large", "签署日期不能晚于今天");
    return 0;
}

/* The join key beside the sealed ID number (an undeclared column). */
static int auth_after_write(struct mz_write *w)
{
    const char *id = json_string_value(json_object_get(w->row, "id_number"));
    if (id == NULL || w->id == 0)
        return 0;
    char hex[33];
    mz_crypto_blind(VF_KEY_CONTEXT, id, strlen(id), hex);
    int rc = mz_db_run(w->req->db, "UPDATE verify_authorisations SET person_key = ? WHERE id = ?",
                       "ti", hex, w->id);
    return rc == MZ_OK ? 0 : mz_fail_err(w->req, rc);
}

static const struct mz_hooks auth_hooks = {.validate = auth_validate,
                                           .after_write = auth_after_write};

static const struct mz_field auth_fields[] = {
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "身份证号码", .en = "ID number",
     .aliases = "公民身份号码|身份证号",
     .flags = MZ_F_REQUIRED | MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 50},
    {.name = "household_id", .type = MZ_T_REF, .zh = "家庭", .en = "Household", .ref = "households"},
    {.name = "signed_on", .type = MZ_T_DATE, .zh = "签署日期", .en = "Signed on",
     .flags = MZ_F_REQUIRED},
    {.name = "valid_until", .type = MZ_T_DATE, .zh = "有效期至", .en = "Valid until",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "scan", .type = MZ_T_TEXT, .zh = "授权书扫描件", .en = "Signed scan",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MAX, .max = 200},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "受理区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note", .flags = MZ_F_HAS_MAX,
     .max = 200},
};

static const struct mz_entity verify_authorisations = {
    .name = "verify_authorisations",
    .zh = "核对授权书",
    .en = "Authorisations",
    .fields = auth_fields,
    .nfields = MZ_ARRAY_LEN(auth_fields),
    .hooks = &auth_hooks,
    .title_field = "name",
    .default_sort = "-id",
    .flags = MZ_E_ATTACHMENTS, /* the signed form's scan */
};

/* --- requests and results ------------------------------------------------------------------ */

static const struct mz_field request_fields[] = {
    {.name = "kind", .type = MZ_T_DICT, .zh = "核对方式", .en = "Kind", .dict = "verify_kind",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "origin", .type = MZ_T_DICT, .zh = "对象来源", .en = "Origin", .dict = "verify_origin",
     .flags = MZ_F_READONLY},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "as_of", .type = MZ_T_DATE, .zh = "核对日期", .en = "As of", .flags = MZ_F_READONLY},
    {.name = "household_id", .type = MZ_T_REF, .zh = "家庭", .en = "Household", .ref = "households",
     .flags = MZ_F_READONLY},
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case", .ref = "assistance_cases",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "区划", .en = "Division",
     .flags = MZ_F_READONLY | MZ_F_SCOPE},
    {.name = "outcome", .type = MZ_T_DICT, .zh = "核对结论", .en = "Outcome", .dict = "verify_outcome",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "flags", .type = MZ_T_TEXT, .zh = "命中规则", .en = "Flags", .flags = MZ_F_READONLY},
    {.name = "member_count", .type = MZ_T_INT, .zh = "人数", .en = "Members", .flags = MZ_F_READONLY},
    {.name = "households", .type = MZ_T_INT, .zh = "户数", .en = "Households", .flags = MZ_F_READONLY},
    {.name = "flagged", .type = MZ_T_INT, .zh = "异常户数", .en = "Flagged", .flags = MZ_F_READONLY},
    {.name = "duration_ms", .type = MZ_T_INT, .zh = "用时（毫秒）", .en = "Duration (ms)",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "summary", .type = MZ_T_JSON, .zh = "汇总", .en = "Summary",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "report", .type = MZ_T_JSON, .zh = "核对报告", .en = "Report",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note", .flags = MZ_F_READONLY},
};

static const struct mz_entity verify_requests = {
    .name = "verify_requests",
    .zh = "核对记录",
    .en = "Verifications",
    .fields = request_fields,
    .nfields = MZ_ARRAY_LEN(request_fields),
    .flags = MZ_E_READONLY,
    .default_sort = "-id",
};

static const struct mz_field result_fields[] = {
    {.name = "request_id", .type = MZ_T_REF, .zh = "复核批次", .en = "Run", .ref = "verify_requests",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case", .ref = "assistance_cases",
     .flags = MZ_F_READONLY},
    {.name = "household_id", .type = MZ_T_REF, .zh = "家庭", .en = "Household", .ref = "households",
     .flags = MZ_F_READONLY},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "区划", .en = "Division",
     .flags = MZ_F_READONLY | MZ_F_SCOPE},
    {.name = "outcome", .type = MZ_T_DICT, .zh = "核对结论", .en = "Outcome", .dict = "verify_outcome",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "flags", .type = MZ_T_TEXT, .zh = "命中规则", .en = "Flags", .flags = MZ_F_READONLY},
    {.name = "member_count", .type = MZ_T_INT, .zh = "人数", .en = "Members", .flags = MZ_F_READONLY},
    {.name = "income_fen", .type = MZ_T_MONEY, .zh = "核实月收入（分）", .en = "Income (fen)",
     .flags = MZ_F_READONLY},
    {.name = "assets_fen", .type = MZ_T_MONEY, .zh = "金融资产（分）", .en = "Assets (fen)",
     .flags = MZ_F_READONLY},
    {.name = "figures", .type = MZ_T_JSON, .zh = "核对数据", .en = "Figures",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
};

static const struct mz_entity verify_results = {
    .name = "verify_results",
    .zh = "复核结果",
    .en = "Re-check results",
    .fields = result_fields,
    .nfields = MZ_ARRAY_LEN(result_fields),
    .flags = MZ_E_READONLY,
    .default_sort = "request_id,id",
};

/* --- helpers --------------------------------------------------------------------------- */

int64_t vf_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

bool vf_hex16(const char *hex, unsigned char out[16])
{
    if (hex == NULL || strlen(hex) != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return false;
        }
        out[i] = (unsigned char)v;
    }
    return true;
}

/* Insert a system row: the engine's columns first, then the given ones
 * ('i': an int64_t *, 't': a string). */
int vf_insert_row(struct mz_db *db, struct mz_arena *a, const char *actor, const char *table,
                  const char *cols, int n, const char *types, const void *const *values,
                  int64_t *id)
{
    return vf_insert_row_unique(db, a, actor, table, cols, n, types, values, NULL, id);
}

int vf_insert_row_unique(struct mz_db *db, struct mz_arena *a, const char *actor,
                         const char *table, const char *cols, int n, const char *types,
                         const void *const *values, const char *unique_col, int64_t *id)
{
    char now[32];
    mz_now_rfc3339(now);
    char *q = mz_arena_strdup(a, "");
    for (int i = 0; i < n; i++)
        q = mz_arena_printf(a, "%s, ?", q);
    const char *sql = mz_arena_printf(a,
                                      "INSERT INTO %s (version, created_at, updated_at, created_by,"
                                      " updated_by, %s) VALUES (1, ?, ?, ?, ?%s)%s%s%s",
                                      table, cols, q, unique_col ? " ON CONFLICT (" : "",
                                      unique_col ? unique_col : "",
                                      unique_col ? ") DO NOTHING" : "");
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, actor ? actor : "system");
    mz_db_bind_text(st, 4, actor ? actor : "system");
    for (int i = 0; i < n; i++) {
        if (types[i] == 'i')
            mz_db_bind_int(st, 5 + i, *(const int64_t *)values[i]);
        else
            mz_db_bind_text(st, 5 + i, values[i]);
    }
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    /* With ON CONFLICT DO NOTHING a skipped row changes nothing (and on
     * PostgreSQL the sequence moved anyway: no id to report). */
    *id = unique_col && mz_db_changes(db) == 0 ? 0 : mz_db_last_id(db);
    return MZ_OK;
}

/* --- import of a batch ------------------------------------------------------------------------ */

/* Rows accepted so far, growing. */
struct rowbuf {
    struct vf_parsed *rows;
    size_t n, cap;
};

static int rowbuf_add(struct rowbuf *b, const struct vf_parsed *p)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        struct vf_parsed *r = realloc(b->rows, cap * sizeof(*r));
        if (r == NULL)
            return MZ_ERR_NOMEM;
        b->rows = r;
        b->cap = cap;
    }
    b->rows[b->n++] = *p;
    return MZ_OK;
}

/* Rows from a CSV/XLSX body (spooled to a file). */
static int read_file_rows(struct mz_req *req, const struct vf_source *s, struct rowbuf *buf,
                          long *total, json_t *errors)
{
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-verify-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return mz_fail(req, 500, "internal", "无法保存上传的文件");
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(req->body, 1, req->body_len, f) == req->body_len;
    if (f)
        ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(path);
        return mz_fail(req, 500, "internal", "无法保存上传的文件");
    }
    const char *format = mz_req_query(req, "format");
    enum mz_table_format fmt = mz_table_sniff(req->body, req->body_len);
    if (format && strcmp(format, "csv") == 0)
        fmt = MZ_TABLE_CSV;
    else if (format && strcmp(format, "xlsx") == 0)
        fmt = MZ_TABLE_XLSX;
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    const char *const *cells;
    size_t ncells;
    long rowno = 0;
    int status = 0;
    if (mz_table_open(path, fmt, &r, &reason) != MZ_OK) {
        status = mz_fail(req, 422, "bad_file", reason ? reason : "无法读取文件");
        goto out;
    }
    int rc = mz_table_next(r, &cells, &ncells, &rowno, &reason);
    if (rc <= 0) {
        status = mz_fail(req, 422, "bad_file",
                         rc < 0 && reason ? reason : "文件是空的，缺少表头行");
        goto out;
    }
    int *map = mz_arena_calloc(req->arena, ncells ? ncells : 1, sizeof(int));
    size_t nmap = ncells;
    if (vf_map_header(s, cells, ncells, map, errors) > 0)
        goto out; /* the caller reports the header errors */
    while ((rc = mz_table_next(r, &cells, &ncells, &rowno, &reason)) == 1) {
        struct vf_parsed p;
        if (++*total > MAX_BATCH_ROWS) {
            status = mz_fail(req, 413, "too_large", "一个批次最多 200 万行，请分批导入");
            goto out;
        }
        if (ncells > nmap)
            ncells = nmap;
        if (vf_parse_row(req->arena, s, map, cells, ncells, rowno, &p, errors) == 0 &&
            rowbuf_add(buf, &p) != MZ_OK) {
            status = mz_fail_err(req, MZ_ERR_NOMEM);
            goto out;
        }
    }
    if (rc < 0)
        status = mz_fail(req, 422, "bad_file", reason ? reason : "无法读取文件");
out:
    if (r)
        mz_table_close(r);
    unlink(path);
    return status;
}

/* Rows from a JSON push: {"as_of", "department", "rows": [...]}. */
static int read_json_rows(struct mz_req *req, const struct vf_source *s, json_t *body,
                          struct rowbuf *buf, long *total, json_t *errors)
{
    json_t *rows = json_object_get(body, "rows"), *row;
    size_t i;
    if (!json_is_array(rows) || json_array_size(rows) == 0)
        return mz_fail_field(req, 422, "validation_failed", "rows 应为非空数组", "rows");
    if (json_array_size(rows) > 100000)
        return mz_fail_field(req, 413, "too_large", "一次推送最多 10 万行，请分批或用文件导入",
                             "rows");
    json_array_foreach(rows, i, row) {
        struct vf_parsed p;
        ++*total;
        if (vf_parse_object(req->arena, s, row, (long)i + 1, &p, errors) == 0 &&
            rowbuf_add(buf, &p) != MZ_OK)
            return mz_fail_err(req, MZ_ERR_NOMEM);
    }
    return 0;
}

/* POST /api/v1/verify/sources/{source}/batches */
static int h_import(struct mz_req *req)
{
    const struct vf_source *s = vf_source_find(mz_req_param(req, "source"));
    if (s == NULL)
        return mz_fail_field(req, 404, "not_found", "没有这个核对数据源", "source");
    if (req->body_len == 0)
        return mz_fail(req, 400, "bad_request", "没有收到数据");
    if (mz_rate_check(req, "import"))
        return req->status;
    const char *as_of = mz_req_query(req, "as_of"), *department = mz_req_query(req, "department");
    const char *mode = mz_req_query(req, "mode"), *note = mz_req_query(req, "note");
    const char *file_name = mz_req_query(req, "file_name");
    json_t *body = NULL;
    const char *p = req->body;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (*p == '{') {
        json_error_t jerr;
        body = json_loadb(req->body, req->body_len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            return mz_fail(req, 400, "bad_json", "JSON 格式错误");
        }
        mz_json_get_str(body, "as_of", &as_of);
        mz_json_get_str(body, "department", &department);
        mz_json_get_str(body, "mode", &mode);
        mz_json_get_str(body, "note", &note);
        as_of = as_of ? mz_arena_strdup(req->arena, as_of) : NULL;
        department = department ? mz_arena_strdup(req->arena, department) : NULL;
        mode = mode ? mz_arena_strdup(req->arena, mode) : NULL;
        note = note ? mz_arena_strdup(req->arena, note) : NULL;
    }
    const char *reason = NULL;
    int status = 0;
    struct rowbuf buf = {0};
    json_t *errors = json_array();
    long total = 0;
    bool all_or_nothing = mode == NULL || strcmp(mode, "all") == 0;
    if (mode && strcmp(mode, "all") != 0 && strcmp(mode, "valid") != 0) {
        status = mz_fail_field(req, 400, "bad_request",
                               "导入方式应为 all（全部有效才入库）或 valid（只入库有效行）", "mode");
        goto out;
    }
    if (as_of == NULL || mz_date_check(as_of, &reason) != MZ_OK) {
        status = mz_fail_field(req, 422, "validation_failed", "请填写数据截止日期（YYYY-MM-DD）",
                               "as_of");
        goto out;
    }
    char today[11];
    assist_today(today);
    if (strcmp(as_of, today) > 0) {
        status = mz_fail_field(req, 422, "validation_failed", "数据截止日期不能晚于今天", "as_of");
        goto out;
    }
    if (department && strlen(department) > 100) {
        status = mz_fail_field(req, 422, "validation_failed", "提供部门名称过长", "department");
        goto out;
    }
    status = body ? read_json_rows(req, s, body, &buf, &total, errors)
                  : read_file_rows(req, s, &buf, &total, errors);
    if (status)
        goto out;
    bool header_bad = json_array_size(errors) > 0 &&
                      strcmp(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                             "header") == 0;
    long rejected = (long)(total - (long)buf.n);
    if (header_bad || (all_or_nothing && rejected > 0) || buf.n == 0) {
        status = mz_fail_with(req, 422, "import_rejected",
                              header_bad     ? "表头与数据源的列不符，整批未入库"
                              : buf.n == 0   ? "没有可入库的有效行，整批未入库"
                                             : "有无效行，整批未入库（可改用 mode=valid 只入库有效行）",
                              json_pack("{s:I, s:I, s:I, s:O}", "total", (json_int_t)total,
                                        "accepted", (json_int_t)0, "rejected",
                                        (json_int_t)rejected, "errors", errors));
        goto out;
    }
    int64_t batch_id = 0, accepted = (int64_t)buf.n, total64 = total, rejected64 = rejected;
    const char *division = "120000000000";
    const char *channel = body ? "partner" : "file";
    const char *state = "active";
    const void *values[] = {state,  s->code,    department ? department : s->department,
                            as_of,  channel,    file_name,
                            &total64, &accepted, &rejected64,
                            division, note};
    int rc = vf_insert_row(req->db, req->arena, req->actor, "verify_batches",
                        "state, source, department, as_of, channel, file_name, rows_total,"
                        " rows_accepted, rows_rejected, division, note",
                        11, "ttttttiiitt", values, &batch_id);
    if (rc == MZ_OK)
        rc = vf_store_write(req->db, batch_id, s->id, buf.rows, buf.n);
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    json_t *detail = json_pack("{s:s, s:s, s:I, s:I}", "source", s->code, "as_of", as_of, "rows",
                               (json_int_t)accepted, "rejected", (json_int_t)rejected);
    status = mz_audit(req, "import", "verify_batches", batch_id, true, detail);
    json_decref(detail);
    if (status)
        goto out;
    status = mz_reply_json(req, 201,
                           json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:O}", "batch_id",
                                     (json_int_t)batch_id, "source", s->code, "as_of", as_of,
                                     "total", (json_int_t)total, "accepted",
                                     (json_int_t)accepted, "rejected", (json_int_t)rejected,
                                     "errors", errors));
out:
    json_decref(errors);
    json_decref(body);
    free(buf.rows);
    return status;
}

/* GET /api/v1/verify/sources: the declared sources, their columns and the
 * batch in force today. */
static int h_sources(struct mz_req *req)
{
    char today[11];
    assist_today(today);
    json_t *list = json_array();
    for (int i = 0; i < VF_NSOURCES; i++) {
        const struct vf_source *s = &vf_sources[i];
        json_t *cols = json_array(), *kinds = json_array();
        for (int k = 0; k < s->ncols; k++)
            json_array_append_new(cols, json_pack("{s:s, s:s, s:b}", "name", s->cols[k].name, "zh",
                                                  s->cols[k].zh, "required", s->cols[k].required));
        for (int k = 0; k < s->nkinds; k++)
            json_array_append_new(kinds, json_pack("{s:s, s:s}", "code", s->kinds[k].code, "zh",
                                                   s->kinds[k].zh));
        int64_t batch = 0;
        char as_of[11];
        int rc = vf_current_batch(req->db, s->id, today, &batch, as_of);
        if (rc != MZ_OK) {
            json_decref(cols);
            json_decref(kinds);
            json_decref(list);
            return mz_fail_err(req, rc);
        }
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "source", s->code, "zh", s->zh,
                            "department", s->department, "columns", cols, "kinds", kinds,
                            "batch_id", batch ? json_integer(batch) : json_null(), "as_of",
                            batch ? json_string(as_of) : json_null()));
    }
    return mz_reply_json(req, 200, json_pack("{s:o}", "items", list));
}

/* --- single verification ---------------------------------------------------------------------- */

/* Is the person of key authorised on date? */
static int authorised(struct mz_db *db, const unsigned char key[16], const char *date, bool *out)
{
    char hex[33];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[32] = '\0';
    int64_t n = 0;
    const char *params[] = {hex, date, date};
    int rc = mz_db_query_int(db,
                             "SELECT count(*) FROM verify_authorisations WHERE person_key = ?"
                             " AND signed_on <= ? AND valid_until >= ? AND deleted_at IS NULL",
                             &n, 3, params);
    *out = rc == MZ_OK && n > 0;
    return rc;
}


static void mask_id(const char *id, char out[19])
{
    if (id && strlen(id) == 18)
        snprintf(out, 19, "%.6s********%.4s", id, id + 14);
    else
        snprintf(out, 19, "******");
}

/* A registry person's key, name and birth date (read directly: the case or
 * household that names the person was scope-checked already). */
struct person_info {
    unsigned char key[16];
    const char *name;
    char masked[19];
    int32_t birth;
};

static int person_info(struct mz_db *db, struct mz_arena *a, int64_t person_id,
                       struct person_info *out)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT id_number_bidx, name, birth_date, id_number FROM persons"
                           " WHERE id = ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, person_id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        const char *sealed = mz_db_col_text(st, 3);
        char *plain = NULL;
        rc = vf_hex16(mz_db_col_text(st, 0), out->key) ? MZ_OK : MZ_ERR_INVALID;
        out->name = mz_arena_strdup(a, mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "");
        out->birth = vf_date_int(mz_db_col_text(st, 2));
        if (sealed && mz_crypto_open(a, "persons.id_number", sealed, &plain, NULL) == MZ_OK)
            mask_id(plain, out->masked);
        else
            mask_id(NULL, out->masked);
    } else {
        rc = rc == MZ_DONE ? MZ_ERR_NOTFOUND : rc;
    }
    mz_db_done(st);
    return rc;
}

static int add_registry_member(struct mz_req *req, struct vf_run *run, int64_t person_id,
                               json_t *errors, const char *field)
{
    struct person_info pi;
    int rc = person_info(req->db, req->arena, person_id, &pi);
    if (rc == MZ_ERR_NOTFOUND) {
        mz_errors_add(errors, field, "no_such_reference", "人员不存在");
        return MZ_OK;
    }
    if (rc != MZ_OK)
        return rc;
    return vf_run_member(run, pi.key, person_id, pi.name, pi.masked, pi.birth);
}

/* Members of a registry household today. */
static int add_household_members(struct mz_req *req, struct vf_run *run, int64_t household_id,
                                 json_t *errors)
{
    struct mz_stmt *st;
    int64_t ids[64];
    int n = 0;
    int rc = mz_db_prepare(req->db,
                           "SELECT person_id FROM household_members WHERE household_id = ?"
                           " AND to_date IS NULL AND deleted_at IS NULL ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, household_id);
    while ((rc = mz_db_step(st)) == MZ_ROW && n < 64)
        ids[n++] = mz_db_col_int(st, 0);
    mz_db_done(st);
    if (rc < 0)
        return rc;
    if (n == 0)
        mz_errors_add(errors, "household_id", "empty", "该家庭没有在册成员");
    for (int i = 0; i < n; i++) {
        rc = add_registry_member(req, run, ids[i], errors, "household_id");
        if (rc != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

/* Members given directly: [{"id_number","name","authorisation"?:{...}}].
 * An authorisation given with a member is recorded first (engine create). */
static int add_direct_members(struct mz_req *req, struct vf_run *run, json_t *list,
                              const char *division, json_t *errors)
{
    size_t i;
    json_t *m;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 30) {
        mz_errors_add(errors, "members", "required", "家庭成员应为 1 至 30 人的数组");
        return MZ_OK;
    }
    const struct mz_entity *auth = mz_app_entity(req->app, "verify_authorisations");
    json_array_foreach(list, i, m) {
        const char *id = NULL, *name = NULL, *reason = NULL;
        const char *field = mz_arena_printf(req->arena, "members[%zu].id_number", i);
        struct mz_id_info info;
        if (!json_is_object(m) || mz_json_get_str(m, "id_number", &id) != MZ_OK ||
            mz_id_check(id, NULL, &info, &reason) != MZ_OK) {
            mz_errors_add(errors, field, "invalid_id_number", reason ? reason : "身份证号码无效");
            continue;
        }
        mz_json_get_str(m, "name", &name);
        json_t *a = json_object_get(m, "authorisation");
        if (json_is_object(a)) {
            json_t *input = json_deep_copy(a);
            json_object_set_new(input, "id_number", json_string(info.number));
            json_object_set_new(input, "name", mz_json_str(name));
            json_object_set_new(input, "division", json_string(division));
            int status = mz_entity_create(req, auth, input, NULL);
            json_decref(input);
            if (status)
                return MZ_ERR_INVALID; /* the request holds the error */
        } else if (a && !json_is_null(a)) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "members[%zu].authorisation", i),
                          "type", "授权书应为对象 {signed_on, valid_until, scan}");
            continue;
        }
        unsigned char key[16];
        char masked[19];
        mz_crypto_blind_raw(VF_KEY_CONTEXT, info.number, strlen(info.number), key);
        mask_id(info.number, masked);
        int rc = vf_run_member(run, key, 0, name ? mz_arena_strdup(req->arena, name) : NULL,
                               masked, vf_date_int(info.birth));
        if (rc != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

static int fail_errors(struct mz_req *req, json_t *errors)
{
    return mz_fail_with(req, 422, "validation_failed", "请求参数有误",
                        json_pack("{s:O, s:o}", "field",
                                  json_object_get(json_array_get(errors, 0), "field"), "errors",
                                  errors));
}

/* The program and date of a request body (errors added). */
static void program_and_date(struct mz_req *req, json_t *body, const char **program,
                             char as_of[11], json_t *errors)
{
    const char *date = NULL, *reason;
    char today[11];
    assist_today(today);
    *program = NULL;
    if (mz_json_get_str(body, "program", program) != MZ_OK || !assist_program_ok(*program))
        mz_errors_add(errors, "program", *program ? "not_in_dictionary" : "required",
                      "救助项目应为 dibao、low_income、tekun、temporary 或 medical");
    int rc = mz_json_get_str(body, "as_of", &date);
    if (rc == MZ_OK && (mz_date_check(date, &reason) != MZ_OK || strcmp(date, today) > 0))
        mz_errors_add(errors, "as_of", "invalid_date", "核对日期应为不晚于今天的 YYYY-MM-DD");
    else if (rc == MZ_ERR_INVALID)
        mz_errors_add(errors, "as_of", "type", "核对日期应为文本");
    snprintf(as_of, 11, "%s", rc == MZ_OK ? date : today);
    (void)req;
}

/* Run, store and audit one household's verification: 0 and the report in
 * *out (new reference, with request_id), or a failure status. */
static int store_single(struct mz_req *req, struct vf_run *run, const char *origin,
                        const char *note, int64_t started, json_t **out)
{
    *out = NULL;
    int rc = vf_run_batches(run, req->db);
    if (rc == MZ_OK)
        rc = vf_run_scan(run, req->db, false);
    if (rc == MZ_OK)
        rc = vf_run_evaluate(run, req->db);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    struct vf_household *h = &run->households[0];
    json_t *report = vf_household_report(run, req->db, 0);
    char *report_text = json_dumps(report, JSON_COMPACT);
    char *fig_text = json_dumps(json_object_get(report, "figures"), JSON_COMPACT);
    int64_t hid = h->household_id, cid = h->case_id, members = h->n, one = 1,
            flagged = h->outcome != VF_PASS, took = vf_now_ms() - started, id = 0;
    const void *values[] = {"single", origin, run->program, run->as_of,
                            &hid, &cid, h->division, vf_outcome_items[h->outcome].code,
                            vf_flags_text(req->arena, h->flags), &members, &one, &flagged,
                            &took, fig_text, report_text, note};
    rc = vf_insert_row(req->db, req->arena, req->actor, "verify_requests",
                    "kind, origin, program, as_of, household_id, case_id, division, outcome,"
                    " flags, member_count, households, flagged, duration_ms, summary, report,"
                    " note",
                    16, "ttttiitttiiiittt", values, &id);
    free(report_text);
    free(fig_text);
    if (rc != MZ_OK) {
        json_decref(report);
        return mz_fail_err(req, rc);
    }
    if (hid == 0)
        mz_db_run(req->db, "UPDATE verify_requests SET household_id = NULL WHERE id = ?", "i", id);
    if (cid == 0)
        mz_db_run(req->db, "UPDATE verify_requests SET case_id = NULL WHERE id = ?", "i", id);
    json_t *detail = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "program", run->program,
                               "as_of", run->as_of, "origin", origin, "household_id",
                               (json_int_t)hid, "case_id", (json_int_t)cid, "outcome",
                               vf_outcome_items[h->outcome].code);
    int status = mz_audit(req, "verify", "verify_requests", id, true, detail);
    json_decref(detail);
    if (status) {
        json_decref(report);
        return status;
    }
    json_object_set_new(report, "request_id", json_integer(id));
    *out = report;
    return 0;
}

/* The same, replying 201 with the report. */
static int finish_single(struct mz_req *req, struct vf_run *run, const char *origin,
                         const char *note, int64_t started)
{
    json_t *report = NULL;
    int status = store_single(req, run, origin, note, started, &report);
    return status ? status : mz_reply_json(req, 201, report);
}

/* The assistance case's 经济状况核对 step (its verify action): the adult
 * members' signed scans on the case are recorded as authorisations (valid a
 * year from today) when none is in force, then the household is checked like
 * POST /api/v1/verify/requests with case_id, and the outcome goes back to the
 * case. Installed as assist_case_check by the module's init. */
static int case_check(struct mz_write *w, json_t **result)
{
    struct mz_req *req = w->req;
    char today[11], until[11];
    assist_today(today);
    mz_days_to_date(mz_date_to_days(today) + 365, until);
    struct vf_run run;
    const char *program = json_string_value(json_object_get(w->row, "program"));
    vf_run_init(&run, req->arena, program ? program : "dibao", today);
    vf_run_household(&run, json_integer_value(json_object_get(w->row, "household_id")), w->id,
                     json_string_value(json_object_get(w->row, "division")),
                     json_string_value(json_object_get(w->row, "zone")));
    json_t *errors = json_array(), *m;
    size_t i;
    int rc = MZ_OK;
    const struct mz_entity *ae = mz_app_entity(req->app, "verify_authorisations");
    json_array_foreach(json_object_get(w->row, "members"), i, m) {
        int64_t pid = json_integer_value(json_object_get(m, "person_id"));
        rc = add_registry_member(req, &run, pid, errors,
                                 mz_arena_printf(req->arena, "members[%zu]", i));
        if (rc != MZ_OK || json_array_size(errors) > 0)
            break;
        struct vf_member *vm = &run.members[run.nmembers - 1];
        rc = authorised(req->db, run.persons[vm->person].key, today, &vm->authorised);
        const char *scan = json_string_value(json_object_get(m, "authorisation_scan"));
        if (rc != MZ_OK || !vm->adult || vm->authorised || scan == NULL || *scan == '\0')
            continue;
        /* Record the case's scan as the authorisation (the ID number opened
         * from the registry, never from the request). */
        struct mz_stmt *st;
        char *plain = NULL;
        rc = mz_db_prepare(req->db, "SELECT id_number FROM persons WHERE id = ?", &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_int(st, 1, pid);
        if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
            mz_crypto_open(req->arena, "persons.id_number", mz_db_col_text(st, 0), &plain, NULL);
        mz_db_done(st);
        if (plain == NULL)
            continue;
        json_t *input = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id_number", plain, "name",
                                  vm->name ? vm->name : "", "signed_on", today, "valid_until",
                                  until, "scan", scan, "division",
                                  json_string_value(json_object_get(w->row, "division")), "note",
                                  "由救助案件的授权书扫描件登记");
        if (json_integer_value(json_object_get(w->row, "household_id")) > 0)
            json_object_set(input, "household_id", json_object_get(w->row, "household_id"));
        int status = mz_entity_create(req, ae, input, NULL);
        json_decref(input);
        if (status) {
            json_decref(errors);
            vf_run_free(&run);
            return status;
        }
        vm->authorised = true;
    }
    if (rc != MZ_OK || json_array_size(errors) > 0) {
        json_decref(errors);
        vf_run_free(&run);
        return rc != MZ_OK ? mz_fail_err(req, rc)
                           : mz_fail(req, 422, "validation_failed", "救助案件的家庭成员不在人员登记中");
    }
    json_decref(errors);
    json_t *report = NULL;
    int status = store_single(req, &run, "case", "救助案件经济状况核对", vf_now_ms(), &report);
    vf_run_free(&run);
    if (status)
        return status;
    *result = json_pack("{s:O, s:O, s:O, s:O}", "request_id", json_object_get(report, "request_id"),
                        "outcome", json_object_get(report, "outcome"), "outcome_zh",
                        json_object_get(report, "outcome_zh"), "flags",
                        json_object_get(report, "flags"));
    json_decref(report);
    return 0;
}

static int verify_init(struct mz_app *app, struct mz_db *db)
{
    (void)app;
    (void)db;
    assist_case_check = case_check;
    return MZ_OK;
}

/* POST /api/v1/verify/requests {"program","as_of"?, one of "case_id",
 * "household_id", "members" (+ "division"), "note"?} */
static int h_request(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    int64_t started = vf_now_ms();
    json_t *errors = json_array();
    const char *program, *note = NULL, *key;
    char as_of[11];
    json_t *value;
    json_object_foreach(body, key, value) {
        if (strcmp(key, "program") && strcmp(key, "as_of") && strcmp(key, "case_id") &&
            strcmp(key, "household_id") && strcmp(key, "members") && strcmp(key, "division") &&
            strcmp(key, "note"))
            mz_errors_add(errors, key, "unknown_field", "未知字段");
    }
    program_and_date(req, body, &program, as_of, errors);
    if (mz_json_get_str(body, "note", &note) == MZ_OK && strlen(note) > 500)
        mz_errors_add(errors, "note", "too_long", "备注最多 500 字");
    json_t *case_id = json_object_get(body, "case_id"), *hh = json_object_get(body, "household_id");
    json_t *members = json_object_get(body, "members");
    int given = (case_id != NULL) + (hh != NULL) + (members != NULL);
    if (given != 1)
        mz_errors_add(errors, "case_id", "required",
                      "请指定一个核对对象：救助案件 case_id、家庭 household_id 或家庭成员 members");
    if (json_array_size(errors) > 0)
        return fail_errors(req, errors);

    struct vf_run run;
    vf_run_init(&run, req->arena, program, as_of);
    const char *origin;
    int rc = MZ_OK, status = 0;
    if (case_id) {
        origin = "case";
        const struct mz_entity *ce = mz_app_entity(req->app, "assistance_cases");
        json_t *c = json_is_integer(case_id) ? mz_entity_get(req, ce, json_integer_value(case_id))
                                             : NULL;
        if (c == NULL) {
            json_decref(errors);
            vf_run_free(&run);
            return req->status >= 400 ? req->status
                                      : mz_fail_field(req, 422, "validation_failed",
                                                      "救助案件编号应为整数", "case_id");
        }
        const char *div = json_string_value(json_object_get(c, "division"));
        const char *zone = json_string_value(json_object_get(c, "zone"));
        vf_run_household(&run, json_integer_value(json_object_get(c, "household_id")),
                         json_integer_value(case_id), div, zone);
        json_t *ms = json_object_get(c, "members"), *m;
        size_t i;
        json_array_foreach(ms, i, m) {
            rc = add_registry_member(req, &run, json_integer_value(json_object_get(m, "person_id")),
                                     errors, mz_arena_printf(req->arena, "members[%zu]", i));
            if (rc != MZ_OK)
                break;
        }
        json_decref(c);
    } else if (hh) {
        origin = "household";
        const struct mz_entity *he = mz_app_entity(req->app, "households");
        json_t *row = json_is_integer(hh) ? mz_entity_get(req, he, json_integer_value(hh)) : NULL;
        if (row == NULL) {
            json_decref(errors);
            vf_run_free(&run);
            return req->status >= 400 ? req->status
                                      : mz_fail_field(req, 422, "validation_failed",
                                                      "家庭编号应为整数", "household_id");
        }
        vf_run_household(&run, json_integer_value(hh), 0,
                         json_string_value(json_object_get(row, "division")), NULL);
        json_decref(row);
        rc = add_household_members(req, &run, json_integer_value(hh), errors);
    } else {
        origin = "direct";
        const char *division = NULL, *reason;
        char div12[13];
        if (mz_json_get_str(body, "division", &division) != MZ_OK ||
            mz_division_check(division, div12, &reason) != MZ_OK) {
            mz_errors_add(errors, "division", division ? "invalid_division" : "required",
                          "请填写家庭所在区划代码");
            return fail_errors(req, errors);
        }
        const struct mz_entity *re = mz_app_entity(req->app, "verify_requests");
        json_t *probe = json_pack("{s:s}", "division", div12);
        status = mz_row_check_scope(req, re, probe);
        json_decref(probe);
        if (status) {
            json_decref(errors);
            return status;
        }
        vf_run_household(&run, 0, 0, div12, NULL);
        rc = add_direct_members(req, &run, members, div12, errors);
        if (rc == MZ_ERR_INVALID && req->status >= 400) {
            json_decref(errors);
            vf_run_free(&run);
            return req->status;
        }
    }
    if (rc != MZ_OK) {
        json_decref(errors);
        vf_run_free(&run);
        return mz_fail_err(req, rc);
    }
    if (json_array_size(errors) > 0) {
        vf_run_free(&run);
        return fail_errors(req, errors);
    }
    /* Every adult member must have signed an authorisation in force. */
    for (int i = 0; i < run.nmembers && rc == MZ_OK; i++) {
        struct vf_member *m = &run.members[i];
        rc = authorised(req->db, run.persons[m->person].key, as_of, &m->authorised);
        if (rc == MZ_OK && m->adult && !m->authorised) {
            json_t *e = json_pack("{s:s, s:s, s:s, s:s?}", "field",
                                  mz_arena_printf(req->arena, "members[%d]", i), "code",
                                  "authorisation_missing", "message",
                                  mz_arena_printf(req->arena, "成年家庭成员 %s（%s）没有在有效期内的核对授权书",
                                                  m->name ? m->name : "", m->id_masked),
                                  "id_number", m->id_masked);
            json_array_append_new(errors, e);
        }
    }
    if (rc != MZ_OK) {
        json_decref(errors);
        vf_run_free(&run);
        return mz_fail_err(req, rc);
    }
    if (json_array_size(errors) > 0) {
        vf_run_free(&run);
        return mz_fail_with(req, 422, "authorisation_missing",
                            "有成年家庭成员没有签署核对授权书，不能发起核对",
                            json_pack("{s:O, s:o}", "field",
                                      json_object_get(json_array_get(errors, 0), "field"),
                                      "errors", errors));
    }
    json_decref(errors);
    status = finish_single(req, &run, origin, note, started);
    vf_run_free(&run);
    return status;
}

/* --- bulk re-check ---------------------------------------------------------------------------- */

/* POST /api/v1/verify/bulk {"program","as_of"?,"division"?,"note"?,"async"?} */
static int h_bulk(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    json_t *errors = json_array(), *value;
    const char *program, *division = NULL, *note = NULL, *key, *reason;
    char as_of[11], div12[13], lo[13], hi[13];
    json_object_foreach(body, key, value) {
        if (strcmp(key, "program") && strcmp(key, "as_of") && strcmp(key, "division") &&
            strcmp(key, "note") && strcmp(key, "async"))
            mz_errors_add(errors, key, "unknown_field", "未知字段");
    }
    json_t *async = json_object_get(body, "async");
    if (async && !json_is_boolean(async))
        mz_errors_add(errors, "async", "type", "async 应为 true 或 false");
    program_and_date(req, body, &program, as_of, errors);
    if (mz_json_get_str(body, "note", &note) == MZ_OK && strlen(note) > 500)
        mz_errors_add(errors, "note", "too_long", "备注最多 500 字");
    int rc = mz_json_get_str(body, "division", &division);
    if (rc == MZ_OK && mz_division_check(division, div12, &reason) != MZ_OK)
        mz_errors_add(errors, "division", "invalid_division", "区划代码无效");
    else if (rc == MZ_ERR_INVALID)
        mz_errors_add(errors, "division", "type", "区划代码应为文本");
    if (json_array_size(errors) > 0)
        return fail_errors(req, errors);
    json_decref(errors);
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    if (rc != MZ_OK)
        snprintf(div12, sizeof(div12), "%s", scope ? scope : "120000");
    if (mz_division_range(div12, lo, hi) != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "区划代码无效", "division");
    if (scope) {
        char slo[13], shi[13];
        if (mz_division_range(scope, slo, shi) != MZ_OK || strcmp(lo, slo) < 0 ||
            strcmp(hi, shi) > 0)
            return mz_fail_field(req, 403, "out_of_scope", "所属区划超出您的管辖范围", "division");
    }
    struct vf_bulk_opts o = {.program = program, .as_of = as_of, .lo = lo, .hi = hi,
                             .actor = req->actor, .note = note, .read_committed = true};
    if (json_is_true(async))
        return vf_bulkjob_start(req, &o);
    int64_t id = 0;
    json_t *summary = NULL;
    rc = vf_bulk(req->db, req->arena, &o, &id, &summary);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *detail = json_pack("{s:s, s:s, s:s, s:O}", "program", program, "as_of", as_of,
                               "division", lo, "households", json_object_get(summary, "households"));
    int status = mz_audit(req, "verify_bulk", "verify_requests", id, true, detail);
    json_decref(detail);
    if (status) {
        json_decref(summary);
        return status;
    }
    return mz_reply_json(req, 201, summary);
}

/* GET /api/v1/verify/requests/{id}/results?outcome=&rule=&division=&page=&size=
 * - a bulk run's per-household results from its sealed packs (every run has
 * them; runs over VF_BULK_ALL_ROWS households have no verify_results rows),
 * filtered and paged, in the run's case order. */
static int h_bulk_results(struct mz_req *req)
{
    const char *idtext = mz_req_param(req, "id"), *outcome = mz_req_query(req, "outcome");
    const char *rule = mz_req_query(req, "rule"), *division = mz_req_query(req, "division");
    char *end = NULL;
    long long id = idtext ? strtoll(idtext, &end, 10) : 0;
    if (id <= 0 || (end && *end))
        return mz_fail(req, 400, "bad_id", "编号应为正整数");
    int want_outcome = -1;
    for (int k = 0; outcome && k < 4; k++)
        if (strcmp(outcome, vf_outcome_items[k].code) == 0)
            want_outcome = k;
    if (outcome && want_outcome < 0)
        return mz_fail_field(req, 400, "bad_filter", "核对结论应为 pass、review、ineligible 或 unauthorised",
                             "outcome");
    int want_rule = -1;
    for (int k = 0; rule && k < VF_NRULES; k++)
        if (strcmp(rule, vf_rule_items[k].code) == 0)
            want_rule = k;
    if (rule && want_rule < 0)
        return mz_fail_field(req, 400, "bad_filter", "没有这条核对规则", "rule");
    char lo[13] = "000000000000", hi[13] = "999999999999";
    if (division && mz_division_range(division, lo, hi) != MZ_OK)
        return mz_fail_field(req, 400, "bad_filter", "区划代码无效", "division");
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    char slo[13] = "000000000000", shi[13] = "999999999999";
    if (scope && mz_division_range(scope, slo, shi) != MZ_OK)
        strcpy(slo, shi);
    const char *p = mz_req_query(req, "page"), *z = mz_req_query(req, "size");
    long page = p ? strtol(p, &end, 10) : 1;
    if (p && (*end || page < 1))
        return mz_fail_field(req, 400, "bad_page", "页码应为正整数", "page");
    long size = z ? strtol(z, &end, 10) : 20;
    if (z && (*end || size < 1 || size > 500))
        return mz_fail_field(req, 400, "bad_size", "每页条数应为 1-500", "size");
    json_t *row = mz_entity_get(req, &verify_requests, id);
    if (row == NULL)
        return req->status;
    bool bulk = strcmp(json_string_value(json_object_get(row, "kind")), "bulk") == 0;
    json_decref(row);
    if (!bulk)
        return mz_fail(req, 422, "not_bulk", "这是单户核对，结果见其核对报告");
    struct vf_result_reader *rd = NULL;
    int rc = vf_results_open(req->db, id, &rd);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *items = json_array();
    long total = 0, first = (page - 1) * size;
    struct vf_result_row r;
    while ((rc = vf_results_next(rd, &r)) == MZ_ROW) {
        if ((want_outcome >= 0 && (int)r.outcome != want_outcome) ||
            (want_rule >= 0 && !((r.flags >> want_rule) & 1u)) || strcmp(r.division, lo) < 0 ||
            strcmp(r.division, hi) >= 0 || strcmp(r.division, slo) < 0 ||
            strcmp(r.division, shi) >= 0)
            continue;
        if (total >= first && total < first + size)
            json_array_append_new(
                items, json_pack("{s:I, s:o, s:s, s:s, s:s, s:i, s:o}", "case_id",
                                 (json_int_t)r.case_id, "household_id",
                                 r.household_id ? json_integer(r.household_id) : json_null(),
                                 "division", r.division, "outcome", vf_outcome_items[r.outcome].code,
                                 "flags", vf_flags_text(req->arena, r.flags), "member_count",
                                 r.member_count, "figures", vf_figures_json(&r.fig)));
        total++;
    }
    vf_results_close(rd);
    if (rc != MZ_DONE) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 200,
                         json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
                                   (json_int_t)total, "page", (json_int_t)page, "size",
                                   (json_int_t)size));
}

/* --- migrations ---------------------------------------------------------------------------------- */

static int migrate_store(struct mz_db *db)
{
    char *sql = NULL;
    int n = asprintf(&sql,
                     "CREATE TABLE IF NOT EXISTS verify_chunks (batch_id %s NOT NULL,"
                     " seq INTEGER NOT NULL, nrows INTEGER NOT NULL, min_key %s NOT NULL,"
                     " max_key %s NOT NULL, data %s NOT NULL, PRIMARY KEY (batch_id, seq));"
                     "CREATE INDEX IF NOT EXISTS ix_verify_chunks_key ON verify_chunks"
                     " (batch_id, min_key);"
                     "ALTER TABLE verify_authorisations ADD COLUMN person_key TEXT;"
                     "CREATE INDEX IF NOT EXISTS ix_verify_authorisations_key ON"
                     " verify_authorisations (person_key) WHERE deleted_at IS NULL;"
                     "CREATE INDEX IF NOT EXISTS ix_verify_batches_current ON verify_batches"
                     " (source, as_of) WHERE deleted_at IS NULL;"
                     "CREATE INDEX IF NOT EXISTS ix_verify_results_run ON verify_results"
                     " (request_id, outcome);",
                     mz_db_dialect(db, MZ_SQL_INT64), mz_db_dialect(db, MZ_SQL_INT64),
                     mz_db_dialect(db, MZ_SQL_INT64), mz_db_dialect(db, MZ_SQL_BLOB));
    if (n < 0)
        return MZ_ERR_NOMEM;
    int rc = mz_db_exec(db, sql);
    free(sql);
    return rc;
}

#define NOW "'2026-11-28T00:00:00.000Z'"
#define RULE(program, rule, sev, std, pct, months, count, value, note)                         \
    "(1, " NOW ", " NOW ", 'system', 'system', '" program "', '" rule                           \
    "', '120000000000', '2019-04-01', 1, '" sev "', '" std "', " pct ", " months ", " count     \
    ", " value ", '示例，可配置', '" note "')"
#define RULES_OF(p, std, pct)                                                                  \
    RULE(p, "income", "refuse", std, pct, "0", "0", "0",                                       \
         "核实的家庭人均月收入超过对照标准的限额") ","                                           \
    RULE(p, "assets", "refuse", std, "0", "24", "0", "0",                                       \
         "家庭人均金融资产超过 24 个月的对照标准") ","                                          \
    RULE(p, "vehicles", "refuse", p, "0", "0", "1", "5000000",                                 \
         "汽车超过 1 辆，或单车评估价值超过 5 万元（摩托车、残疾人专用车不计）") ","             \
    RULE(p, "property", "refuse", p, "0", "0", "1", "0", "住宅超过 1 套") ","                  \
    RULE(p, "business", "refuse", p, "0", "0", "0", "0",                                       \
         "家庭成员为企业法定代表人、股东或个体工商户经营者") ","                                 \
    RULE(p, "public_employee", "refuse", p, "0", "0", "0", "0", "家庭成员为财政供养人员") ","  \
    RULE(p, "staff_relative", "review", p, "0", "0", "0", "0",                                 \
         "经办人员及近亲属申请须备案并从严审核") ","                                             \
    RULE(p, "deceased", "review", p, "0", "0", "0", "0", "成员已死亡的须核减保障人数")

static const struct mz_migration verify_migrations[] = {
    {1, "snapshot store and keys", NULL, migrate_store},
    {2, "example rules",
     "INSERT INTO verify_rules (version, created_at, updated_at, created_by, updated_by, program,"
     " rule, division, valid_from, enabled, severity, standard_program, percent, months,"
     " count_limit, value_limit_fen, source, note) VALUES " RULES_OF("dibao", "dibao", "100") ","
     RULES_OF("low_income", "dibao", "150") "," RULES_OF("tekun", "tekun", "100") ";",
     NULL},
    {3, "warning fingerprints",
     "CREATE INDEX IF NOT EXISTS ix_verify_warnings_fp ON verify_warnings (fingerprint);", NULL},
    {4, "result packs", NULL, vf_packs_table},
    /* A unique fingerprint, so that two runs at once cannot raise one warning
     * twice; rows raised twice before this step keep their history under a
     * fingerprint of their own. */
    {5, "unique warning fingerprints",
     "UPDATE verify_warnings SET fingerprint = fingerprint || ':dup' || CAST(id AS TEXT)"
     " WHERE id NOT IN (SELECT min(id) FROM verify_warnings GROUP BY fingerprint);"
     "DROP INDEX IF EXISTS ix_verify_warnings_fp;"
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_verify_warnings_fp ON verify_warnings (fingerprint);",
     NULL},
    /* Covering indexes for the bulk re-check (bulk.c): it walks them in key
     * order instead of passing over the persons' and authorisations' wide
     * rows and sorting the keys. deleted_at (always NULL in them) is a
     * column too: SQLite (3.40) counts an index as covering only when it
     * holds every column the query names, the partial index's own condition
     * included. The authorisations' key index is covered by the new one
     * (same first column), so it goes. */
    {6, "covering indexes for bulk re-checks",
     "CREATE INDEX IF NOT EXISTS ix_verify_persons_key ON persons"
     " (id_number_bidx, birth_date, id, deleted_at) WHERE deleted_at IS NULL;"
     "CREATE INDEX IF NOT EXISTS ix_verify_authorisations_in_force ON verify_authorisations"
     " (person_key, signed_on, valid_until, deleted_at) WHERE deleted_at IS NULL;"
     "DROP INDEX IF EXISTS ix_verify_authorisations_key;",
     NULL},
};

/* --- routes, menus, module ------------------------------------------------------------------------ */

static const struct mz_route verify_routes[] = {
    {"GET", "/api/v1/verify/sources", h_sources, 0, "verify_batches.read", 0, NULL,
     "核对数据源及在用批次"},
    {"POST", "/api/v1/verify/sources/{source}/batches", h_import,
     MZ_ROUTE_WRITE | MZ_ROUTE_RAW_BODY, "verify_batches.receive", MZ_BODY_LIMIT_UPLOAD, NULL,
     "接收一个数据源批次（CSV/XLSX 文件或 JSON 推送）"},
    {"POST", "/api/v1/verify/requests", h_request, MZ_ROUTE_WRITE, "verify_requests.run", 0, NULL,
     "发起单户家庭经济状况核对"},
    {"POST", "/api/v1/verify/bulk", h_bulk, MZ_ROUTE_WRITE, "verify_requests.bulk", 0, NULL,
     "批量复核（全面复核）"},
#if __has_include("mz/pdf.h")
    {"GET", "/api/v1/verify/requests/{id}/report.pdf", vf_h_report_pdf, 0, "verify_requests.read",
     0, NULL, "核对报告（PDF）"},
#endif
    {"GET", "/api/v1/verify/requests/{id}/results", h_bulk_results, 0, "verify_requests.read", 0,
     NULL, "批量复核的逐户结果（分页、按结论/规则/区划筛选）"},
    {"GET", "/api/v1/verify/bulk/{job}", vf_h_bulkjob, 0, "verify_requests.bulk", 0, NULL,
     "后台批量复核的进度与结果"},
    {"POST", "/api/v1/verify/crosscheck", vf_h_crosscheck, MZ_ROUTE_WRITE, "verify_warnings.run", 0,
     NULL, "立即运行预警比对"},
    {"GET", "/api/v1/verify/dashboard", vf_h_dashboard, 0, "verify_warnings.read", 0, NULL,
     "核对与预警概况（本辖区）"},
};

static const struct mz_job verify_jobs[] = {
    {"verify_crosscheck", 86400, vf_job_crosscheck},
};

static const struct mz_menu verify_menus[] = {
    {.key = "verify/warnings", .zh = "预警处置", .en = "Warnings", .entity = "verify_warnings"},
    {.key = "verify/requests", .zh = "核对记录", .en = "Verifications",
     .entity = "verify_requests"},
    {.key = "verify/results", .zh = "复核结果", .en = "Re-check results",
     .entity = "verify_results"},
    {.key = "verify/authorisations", .zh = "核对授权书", .en = "Authorisations",
     .entity = "verify_authorisations"},
    {.key = "verify/batches", .zh = "核对数据批次", .en = "Source batches",
     .entity = "verify_batches"},
    {.key = "verify/rules", .zh = "核对规则", .en = "Rules", .entity = "verify_rules"},
};

static const struct mz_entity *const verify_entities[] = {
    &verify_batches, &verify_rules, &verify_authorisations, &verify_requests, &verify_results,
    &vf_warnings_entity,
};

const struct mz_module mz_module_verify = {
    .name = "verify",
    .zh = "经济状况核对",
    .en = "Means verification",
    .entities = verify_entities,
    .nentities = MZ_ARRAY_LEN(verify_entities),
    .routes = verify_routes,
    .nroutes = MZ_ARRAY_LEN(verify_routes),
    .menus = verify_menus,
    .nmenus = MZ_ARRAY_LEN(verify_menus),
    .migrations = verify_migrations,
    .nmigrations = MZ_ARRAY_LEN(verify_migrations),
    .dicts = verify_dicts,
    .ndicts = MZ_ARRAY_LEN(verify_dicts),
    .jobs = verify_jobs,
    .njobs = MZ_ARRAY_LEN(verify_jobs),
    .rekey = vf_rekey,
    .init = verify_init,
};
