/* temporary.c - 临时救助: one-off aid to a household in sudden hardship
 * (急难型: fire, accident, sudden illness, ...) or crushed by a necessary
 * expense (支出型: medical, schooling, ...).
 *
 * assistance_temporary_rules (city level maintains them): per category,
 * division and valid_from, the multiple of the monthly 低保 standard per
 * person (multiple_percent: 300 = 3 months) and the cap per household and
 * event. The rule in force is the most specific division, then the latest
 * valid_from on or before the day the hardship occurred.
 *
 *   standard = the 低保 standard (benefit.c look-up) of the case's
 *              division and zone for the month the hardship occurred
 *   ceiling  = standard × multiple_percent ÷ 100 × household size,
 *              rounded down to the fen, at most the cap
 *   aid      = the ceiling, or the documented need (need_fen) when lower
 *
 * A case: applicant, handling community (scope), zone, category, reason,
 * household size, the day it happened, the documented need, payee and
 * account; read-only the standard, the ceiling, the aid and its trace. Each
 * write shows the aid; approval fixes it. Workflow as 医疗救助 bills
 * (bills.c): draft -accept-> accepted -review-> checked -approve(district)->
 * approved -(payroll of program temporary)-> paid; reject with a written
 * reason from any state before approval.
 *
 * Tested by tests/api/temporary.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

const struct mz_dict_item assist_temporary_category_items[2] = {
    {"emergency", "急难型", "Sudden hardship"},
    {"expenditure", "支出型", "Crushing expense"},
};

/* --- rules -------------------------------------------------------------------------- */

static const struct mz_field rule_fields[] = {
    {.name = "category", .type = MZ_T_DICT, .zh = "救助类型", .en = "Category",
     .dict = "assistance_temporary_category", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "multiple_percent", .type = MZ_T_INT, .zh = "低保标准倍数（%，每人）",
     .en = "Multiple of the standard (%, per person)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 10000},
    {.name = "cap_fen", .type = MZ_T_MONEY, .zh = "每户每次上限（分）", .en = "Cap per event (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 10000000000},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source", .flags = MZ_F_HAS_MAX,
     .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

const struct mz_entity assist_temporary_rules = {
    .name = "assistance_temporary_rules",
    .zh = "临时救助标准",
    .en = "Temporary assistance rules",
    .fields = rule_fields,
    .nfields = MZ_ARRAY_LEN(rule_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "category,-valid_from",
};

/* The rule in force for a category, division and date; MZ_ERR_NOTFOUND. */
static int rule_lookup(struct mz_db *db, const char *category, const char *division12,
                       const char *date, int64_t *id, int64_t *multiple, int64_t *cap,
                       char valid_from[11])
{
    struct mz_stmt *st;
    const char *params[] = {category};
    *id = 0;
    int rc = assist_effective_row(db, "id, division, valid_from, multiple_percent, cap_fen",
                                  "assistance_temporary_rules", "category = ?", params, 1,
                                  division12, date, NULL, &st);
    if (rc == MZ_OK) {
        *id = mz_db_col_int(st, 0);
        snprintf(valid_from, 11, "%s", mz_db_col_text(st, 2) ? mz_db_col_text(st, 2) : "");
        *multiple = mz_db_col_int(st, 3);
        *cap = mz_db_col_int(st, 4);
        mz_db_done(st);
    }
    return rc;
}

/* --- cases ---------------------------------------------------------------------------- */

static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

static int64_t row_int(const json_t *row, const char *key)
{
    return json_integer_value(json_object_get(row, key));
}

static const char *yuan(struct mz_arena *a, int64_t fen)
{
    char buf[32];
    mz_money_format(fen, buf, sizeof(buf));
    return mz_arena_strdup(a, buf);
}

/* Compute the aid of the case in w->row (fills the read-only fields). */
static int temp_compute(struct mz_write *w, int64_t *aid_out)
{
    struct mz_arena *a = w->req->arena;
    const char *date = row_str(w->row, "occurred_on"), *category = row_str(w->row, "category");
    const char *division = row_str(w->row, "division");
    int64_t size = row_int(w->row, "household_size"), rule = 0, multiple = 0, cap = 0;
    char from[11] = "", month[8];
    snprintf(month, sizeof(month), "%.7s", date ? date : "");
    int rc = rule_lookup(w->req->db, category, division, date ? date : "", &rule, &multiple, &cap,
                         from);
    if (rc == MZ_ERR_NOTFOUND)
        return mz_fail_field(w->req, 422, "no_rule", "该地区该日期没有这一类临时救助标准",
                             "category");
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    struct assist_standard s;
    rc = assist_standard_lookup(w->req->db, "dibao", division, row_str(w->row, "zone"), month, &s);
    if (rc != MZ_OK)
        return assist_fail_lookup(w->req, rc, "dibao");
    int64_t ceiling = s.amount_fen * multiple / 100 * size;
    bool capped = ceiling > cap;
    if (capped)
        ceiling = cap;
    json_t *need = json_object_get(w->row, "need_fen");
    int64_t aid = ceiling;
    if (json_is_integer(need) && json_integer_value(need) < aid)
        aid = json_integer_value(need);
    json_t *trace = json_pack(
        "[{s:s, s:s, s:I}, {s:s, s:s, s:I}, {s:s, s:s}]", "step", "standard", "zh",
        mz_arena_printf(a, "低保标准 %s 元/人·月（%s 起执行）", yuan(a, s.amount_fen), s.valid_from),
        "standard_id", (json_int_t)s.id, "step", "rule", "zh",
        mz_arena_printf(a, "临时救助标准：每人 %lld.%02lld 倍低保标准，每户每次不超过 %s 元（%s 起执行）；"
                           "%lld 人，上限 %s 元%s",
                        (long long)(multiple / 100), (long long)(multiple % 100), yuan(a, cap), from,
                        (long long)size, yuan(a, ceiling), capped ? "（已按每户上限）" : ""),
        "rule_id", (json_int_t)rule, "step", "aid", "zh",
        json_is_integer(need)
            ? mz_arena_printf(a, "经核实的困难金额 %s 元，救助 %s 元", yuan(a, json_integer_value(need)),
                              yuan(a, aid))
            : mz_arena_printf(a, "救助 %s 元", yuan(a, aid)));
    json_object_set_new(w->row, "standard_fen", json_integer(s.amount_fen));
    json_object_set_new(w->row, "rule_id", json_integer(rule));
    json_object_set_new(w->row, "ceiling_fen", json_integer(ceiling));
    json_object_set_new(w->row, "aid_fen", json_integer(aid));
    json_object_set_new(w->row, "aid_trace", trace);
    if (aid_out)
        *aid_out = aid;
    return 0;
}

static int temp_validate(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0)
        return 0;
    static const char *const fixed[] = {"person_id", "division", "zone", "category",
                                        "household_size", "occurred_on", "need_fen"};
    int status = assist_oneoff_keep_figures(w, fixed, MZ_ARRAY_LEN(fixed));
    if (status)
        return status;
    const char *category = row_str(w->row, "category");
    json_t *need = json_object_get(w->row, "need_fen");
    if (category && strcmp(category, "expenditure") == 0 && (need == NULL || json_is_null(need)))
        mz_errors_add(w->errors, "need_fen", "required", "支出型临时救助须填写经核实的困难金额");
    return 0;
}

static int temp_before_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0)
        return 0;
    if (assist_oneoff_decided(w))
        return 0;
    if (row_int(w->row, "payee_person_id") <= 0)
        json_object_set(w->row, "payee_person_id", json_object_get(w->row, "person_id"));
    return temp_compute(w, NULL);
}

static int approve_guard(struct mz_write *w)
{
    int64_t aid = 0;
    int status = assist_oneoff_need_account(w);
    if (status == 0)
        status = temp_compute(w, &aid);
    if (status)
        return status;
    if (aid <= 0)
        return mz_fail(w->req, 422, "no_aid", "救助金额为零，应作不予救助处理");
    assist_oneoff_decided_today(w);
    return 0;
}

static const struct mz_hooks temp_hooks = {
    .validate = temp_validate,
    .before_write = temp_before_write,
};

static const struct mz_transition temp_transitions[] = {ASSIST_ONEOFF_TRANSITIONS(approve_guard)};

static const struct mz_workflow temp_workflow = {
    .name = "assistance_temporary_case",
    .initial = "draft",
    .states = assist_oneoff_states,
    .nstates = MZ_ARRAY_LEN(assist_oneoff_states),
    .transitions = temp_transitions,
    .ntransitions = MZ_ARRAY_LEN(temp_transitions),
};

static const struct mz_field temp_fields[] = {
    {.name = "person_id", .type = MZ_T_REF, .zh = "申请人", .en = "Applicant", .ref = "persons",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "受理社区", .en = "Handling community",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "zone", .type = MZ_T_DICT, .zh = "城乡类别", .en = "Urban or rural",
     .dict = "assistance_zone"},
    {.name = "category", .type = MZ_T_DICT, .zh = "救助类型", .en = "Category",
     .dict = "assistance_temporary_category", .flags = MZ_F_REQUIRED},
    {.name = "reason", .type = MZ_T_TEXT, .zh = "困难情形", .en = "Hardship",
     .flags = MZ_F_REQUIRED | MZ_F_MULTILINE | MZ_F_HAS_MAX, .max = 1000},
    {.name = "occurred_on", .type = MZ_T_DATE, .zh = "发生日期", .en = "Occurred on",
     .flags = MZ_F_REQUIRED},
    {.name = "household_size", .type = MZ_T_INT, .zh = "家庭人口", .en = "Household size",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = ASSIST_MAX_MEMBERS},
    {.name = "need_fen", .type = MZ_T_MONEY, .zh = "经核实的困难金额（分）", .en = "Documented need (fen)",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 10000000000},
    {.name = "payee_person_id", .type = MZ_T_REF, .zh = "收款人", .en = "Payee", .ref = "persons"},
    {.name = "bank_account", .type = MZ_T_BANKCARD, .zh = "银行账号", .en = "Bank account",
     .flags = MZ_F_SENSITIVE},
    {.name = "standard_fen", .type = MZ_T_MONEY, .zh = "低保标准（分）", .en = "Standard (fen)",
     .flags = MZ_F_READONLY},
    {.name = "rule_id", .type = MZ_T_INT, .zh = "适用标准", .en = "Rule", .flags = MZ_F_READONLY},
    {.name = "ceiling_fen", .type = MZ_T_MONEY, .zh = "救助上限（分）", .en = "Ceiling (fen)",
     .flags = MZ_F_READONLY},
    {.name = "aid_fen", .type = MZ_T_MONEY, .zh = "救助金额（分）", .en = "Aid (fen)",
     .flags = MZ_F_READONLY},
    {.name = "aid_trace", .type = MZ_T_JSON, .zh = "计算过程", .en = "Trace",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "decided_on", .type = MZ_T_DATE, .zh = "决定日期", .en = "Decided on",
     .flags = MZ_F_READONLY},
};

const struct mz_entity assist_temporary_cases = {
    .name = "assistance_temporary_cases",
    .zh = "临时救助",
    .en = "Temporary assistance",
    .fields = temp_fields,
    .nfields = MZ_ARRAY_LEN(temp_fields),
    .hooks = &temp_hooks,
    .workflow = &temp_workflow,
    /* No deletion: a bill or case counts towards caps and payments. */
    .flags = MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
    .default_sort = "-id",
};
