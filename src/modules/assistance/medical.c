/* medical.c - 医疗救助: the aid on a medical bill, by group, as dated data.
 *
 * assistance_medical_rules (city level maintains them) give, per group
 * (特困, 低保, 低收入/边缘, 返贫致贫, 重特大疾病 of other residents), division
 * and valid_from: the deductible (起付线, yuan per year), the ratio (percent
 * of the covered out-of-pocket cost above it) and the annual cap. The rule in
 * force is the most specific division, then the latest valid_from on or
 * before the bill's date.
 *
 *   eligible  = covered out-of-pocket cost (what is left after basic and
 *               critical-illness insurance) − the deductible not yet used
 *               this year (never below 0)
 *   aid       = eligible × ratio ÷ 100, rounded down to the fen, at most
 *               the cap left this year (cap − aid already paid this year)
 *
 * POST /api/v1/assistance/medical/quote computes it (saves nothing), with a
 * trace of each step for the decision notice. The seed is the local example
 * of domain.md §1 (Guangde 2024, marked as an example: Tianjin's own figures
 * are to be entered by the bureau).
 *
 * Tested by tests/unit/test_assistance.c and tests/api/reviews.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

const struct mz_dict_item assist_medical_group_items[5] = {
    {"tekun", "特困人员", "Extreme-poverty support"},
    {"dibao", "低保对象", "Minimum allowance"},
    {"low_income", "低收入（低保边缘）人员", "Low-income"},
    {"relapse", "返贫致贫人口", "Relapsed into poverty"},
    {"catastrophic", "因病致贫重病患者（重特大疾病）", "Catastrophic illness"},
};

static const struct mz_field rule_fields[] = {
    {.name = "target_group", .type = MZ_T_DICT, .zh = "救助对象类别", .en = "Group",
     .dict = "assistance_medical_group", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "deductible_fen", .type = MZ_T_MONEY, .zh = "年度起付线（分）", .en = "Deductible (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000},
    {.name = "ratio_percent", .type = MZ_T_INT, .zh = "救助比例（%）", .en = "Ratio (%)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100},
    {.name = "annual_cap_fen", .type = MZ_T_MONEY, .zh = "年度救助限额（分）", .en = "Annual cap (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 10000000000},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source", .flags = MZ_F_HAS_MAX,
     .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

const struct mz_entity assist_medical_rules = {
    .name = "assistance_medical_rules",
    .zh = "医疗救助规则",
    .en = "Medical assistance rules",
    .fields = rule_fields,
    .nfields = MZ_ARRAY_LEN(rule_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "target_group,-valid_from",
};

static bool group_ok(const char *g)
{
    for (size_t i = 0; g && i < MZ_ARRAY_LEN(assist_medical_group_items); i++) {
        if (strcmp(g, assist_medical_group_items[i].code) == 0)
            return true;
    }
    return false;
}

int assist_medical_compute(struct mz_db *db, const char *group, const char *division12,
                           const char *date, int64_t cost_fen, int64_t deductible_used_fen,
                           int64_t paid_this_year_fen, struct assist_medical *out)
{
    struct mz_stmt *st;
    memset(out, 0, sizeof(*out));
    const char *params[] = {group};
    int rc = assist_effective_row(db,
                                  "id, division, valid_from, deductible_fen, ratio_percent,"
                                  " annual_cap_fen",
                                  "assistance_medical_rules", "target_group = ?", params, 1,
                                  division12, date, NULL, &st);
    if (rc == MZ_OK) {
        out->rule_id = mz_db_col_int(st, 0);
        snprintf(out->valid_from, sizeof(out->valid_from), "%s",
                 mz_db_col_text(st, 2) ? mz_db_col_text(st, 2) : "");
        out->deductible_fen = mz_db_col_int(st, 3);
        out->ratio_percent = mz_db_col_int(st, 4);
        out->annual_cap_fen = mz_db_col_int(st, 5);
        mz_db_done(st);
    }
    if (rc != MZ_OK)
        return rc;
    int64_t deductible_left = out->deductible_fen - deductible_used_fen;
    if (deductible_left < 0)
        deductible_left = 0;
    out->deductible_applied_fen = cost_fen < deductible_left ? cost_fen : deductible_left;
    out->eligible_fen = cost_fen - out->deductible_applied_fen;
    out->aid_before_cap_fen = out->eligible_fen * out->ratio_percent / 100;
    out->cap_left_fen = out->annual_cap_fen - paid_this_year_fen;
    if (out->cap_left_fen < 0)
        out->cap_left_fen = 0;
    out->aid_fen = out->aid_before_cap_fen < out->cap_left_fen ? out->aid_before_cap_fen
                                                               : out->cap_left_fen;
    return MZ_OK;
}

static const char *yuan(struct mz_arena *a, int64_t fen)
{
    char buf[32];
    mz_money_format(fen, buf, sizeof(buf));
    return mz_arena_strdup(a, buf);
}

/* The Chinese trace of an aid computation (quote, bill, decision notice). */
json_t *assist_medical_trace(struct mz_arena *a, const struct assist_medical *mp, int64_t cost_fen,
                             int64_t paid_this_year_fen)
{
    const struct assist_medical m = *mp;
    return json_pack(
        "[{s:s, s:s, s:I, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "step", "rule", "zh",
        mz_arena_printf(a, "适用规则：起付线 %s 元，救助比例 %lld%%，年度限额 %s 元（%s 起执行）",
                        yuan(a, m.deductible_fen), (long long)m.ratio_percent,
                        yuan(a, m.annual_cap_fen), m.valid_from),
        "rule_id", (json_int_t)m.rule_id, "valid_from", m.valid_from, "step", "deductible", "zh",
        mz_arena_printf(a, "政策范围内自付 %s 元，扣除本年尚未用完的起付线 %s 元，可救助部分 %s 元",
                        yuan(a, cost_fen), yuan(a, m.deductible_applied_fen),
                        yuan(a, m.eligible_fen)),
        "step", "ratio", "zh",
        mz_arena_printf(a, "按 %lld%% 救助：%s 元（向下取整到分）", (long long)m.ratio_percent,
                        yuan(a, m.aid_before_cap_fen)),
        "step", "cap", "zh",
        mz_arena_printf(a, "本年度已救助 %s 元，剩余限额 %s 元，本次救助 %s 元",
                        yuan(a, paid_this_year_fen), yuan(a, m.cap_left_fen), yuan(a, m.aid_fen)));
}

/* POST /api/v1/assistance/medical/quote {"group","division","date",
 * "cost_fen","deductible_used_fen"?,"paid_this_year_fen"?} */
int assist_h_medical_quote(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    json_t *errors = json_array(), *v;
    const char *group = NULL, *division = NULL, *date = NULL, *reason, *key;
    char div12[13];
    json_object_foreach(body, key, v) {
        if (strcmp(key, "group") && strcmp(key, "division") && strcmp(key, "date") &&
            strcmp(key, "cost_fen") && strcmp(key, "deductible_used_fen") &&
            strcmp(key, "paid_this_year_fen"))
            mz_errors_add(errors, key, "unknown_field", "未知字段");
    }
    if (mz_json_get_str(body, "group", &group) != MZ_OK || !group_ok(group))
        mz_errors_add(errors, "group", group ? "not_in_dictionary" : "required",
                      "救助对象类别应为 tekun、dibao、low_income、relapse 或 catastrophic");
    if (mz_json_get_str(body, "division", &division) != MZ_OK ||
        mz_division_check(division, div12, &reason) != MZ_OK)
        mz_errors_add(errors, "division", division ? "invalid_division" : "required", "区划代码无效");
    if (mz_json_get_str(body, "date", &date) != MZ_OK || mz_date_check(date, &reason) != MZ_OK)
        mz_errors_add(errors, "date", date ? "invalid_date" : "required", "费用发生日期应为 YYYY-MM-DD");
    int64_t amounts[3] = {0, 0, 0};
    static const char *const names[] = {"cost_fen", "deductible_used_fen", "paid_this_year_fen"};
    for (int i = 0; i < 3; i++) {
        v = json_object_get(body, names[i]);
        if (v == NULL && i > 0)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 100000000000)
            mz_errors_add(errors, names[i], v ? "type" : "required",
                          "金额应为 0 至 10 亿元之间的整数（分）");
        else
            amounts[i] = json_integer_value(v);
    }
    if (json_array_size(errors) > 0)
        return mz_fail_with(req, 422, "validation_failed", "请求参数有误",
                            json_pack("{s:O, s:o}", "field",
                                      json_object_get(json_array_get(errors, 0), "field"),
                                      "errors", errors));
    json_decref(errors);
    struct assist_medical m;
    int rc = assist_medical_compute(req->db, group, div12, date, amounts[0], amounts[1],
                                    amounts[2], &m);
    if (rc == MZ_ERR_NOTFOUND)
        return mz_fail(req, 422, "no_rule", "该地区该日期没有这一类对象的医疗救助规则");
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *trace = assist_medical_trace(req->arena, &m, amounts[0], amounts[2]);
    return mz_reply_json(
        req, 200,
        json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "rule_id",
                  (json_int_t)m.rule_id, "valid_from", m.valid_from, "deductible_fen",
                  (json_int_t)m.deductible_fen, "ratio_percent", (json_int_t)m.ratio_percent,
                  "annual_cap_fen", (json_int_t)m.annual_cap_fen, "deductible_applied_fen",
                  (json_int_t)m.deductible_applied_fen, "eligible_fen", (json_int_t)m.eligible_fen,
                  "cap_left_fen", (json_int_t)m.cap_left_fen, "aid_before_cap_fen",
                  (json_int_t)m.aid_before_cap_fen, "aid_fen", (json_int_t)m.aid_fen, "trace",
                  trace));
}
