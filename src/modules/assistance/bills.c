/* bills.c - 医疗救助 bills: one medical bill of one person, from application
 * to a one-off payment.
 *
 * A bill names the patient (registry person), the target group (the rule's
 * group: 特困, 低保, 低收入, 返贫致贫, 重特大疾病), the handling community
 * (division: the scope), the hospital, the admission and discharge dates,
 * the total cost and what basic and critical-illness insurance reimbursed;
 * self_paid_fen (total − insurance) is the covered out-of-pocket cost the
 * rules of medical.c apply to. The year of the bill is the discharge year
 * (admission when not discharged yet).
 *
 * Annual deductible and cap are per person and year across bills: the aid
 * is decided at approval from the bills of the same person and year already
 * approved or paid (their deductible_applied_fen and aid_fen). Writers are
 * serialised (SQLite BEGIN IMMEDIATE; PostgreSQL takes advisory lock 1 in
 * every write transaction), so two approvals racing see each other: the
 * second gets what is left of the cap, or is refused (422 cap_exhausted)
 * when nothing is left. Before approval every write shows a provisional
 * aid_fen from the same figures.
 *
 * Workflow (permissions "assistance_medical_bills.<action>", granted by the
 * role patterns of src/auth/access.c):
 *   draft 申请 -accept(受理: street, district)-> accepted
 *   -review(审核: street)-> checked -approve(审批: district; the aid fixed)->
 *   approved; the payroll of program "medical" pays it once (state paid).
 *   draft|accepted|checked -reject(不予救助, written reason: district)-> refused.
 *
 * Tested by tests/api/medical_bills.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

static int64_t row_int(const json_t *row, const char *key)
{
    return json_integer_value(json_object_get(row, key));
}

/* What the person's other bills of the year already used: deductible and aid. */
static int year_usage(struct mz_db *db, int64_t person, const char *year, int64_t self_id,
                      int64_t *deductible_used, int64_t *paid)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT coalesce(sum(deductible_applied_fen), 0),"
                           " coalesce(sum(aid_fen), 0) FROM assistance_medical_bills"
                           " WHERE person_id = ? AND year = ? AND id <> ? AND deleted_at IS NULL"
                           " AND state IN ('approved', 'paid')",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, person);
    mz_db_bind_text(st, 2, year);
    mz_db_bind_int(st, 3, self_id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        *deductible_used = mz_db_col_int(st, 0);
        *paid = mz_db_col_int(st, 1);
    }
    mz_db_done(st);
    return rc == MZ_ROW ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

/* Compute the aid of the bill in w->row from the year's usage (fills the
 * read-only fields). 0, or a failure status. */
static int bill_compute(struct mz_write *w, struct assist_medical *m)
{
    const char *date = row_str(w->row, "discharged_on");
    if (date == NULL)
        date = row_str(w->row, "admitted_on");
    int64_t cost = row_int(w->row, "self_paid_fen"), used = 0, paid = 0;
    char year[5];
    snprintf(year, sizeof(year), "%.4s", date ? date : "");
    int rc = year_usage(w->req->db, row_int(w->row, "person_id"), year, w->id, &used, &paid);
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    rc = assist_medical_compute(w->req->db, row_str(w->row, "target_group"),
                                row_str(w->row, "division"), date ? date : "", cost, used, paid, m);
    if (rc == MZ_ERR_NOTFOUND)
        return mz_fail_field(w->req, 422, "no_rule", "该地区该日期没有这一类对象的医疗救助规则",
                             "target_group");
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    json_object_set_new(w->row, "year", json_string(year));
    json_object_set_new(w->row, "rule_id", json_integer(m->rule_id));
    json_object_set_new(w->row, "deductible_applied_fen", json_integer(m->deductible_applied_fen));
    json_object_set_new(w->row, "aid_fen", json_integer(m->aid_fen));
    json_object_set_new(w->row, "aid_trace", assist_medical_trace(w->req->arena, m, cost, paid));
    return 0;
}

/* Figures must agree: insurance at most the total, discharge not before admission. */
static int bill_validate(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0)
        return 0;
    /* Decided bills keep their figures; only the account (a returned
     * payment is reissued to the corrected one) and the note change. */
    static const char *const fixed[] = {"person_id", "target_group", "division", "hospital",
                                        "admitted_on", "discharged_on", "total_fen",
                                        "insurance_fen"};
    int status = assist_oneoff_keep_figures(w, fixed, MZ_ARRAY_LEN(fixed));
    if (status)
        return status;
    int64_t total = row_int(w->row, "total_fen"), insured = row_int(w->row, "insurance_fen");
    if (insured > total)
        mz_errors_add(w->errors, "insurance_fen", "too_large",
                      "医保报销金额不能超过医疗费用总额");
    const char *in = row_str(w->row, "admitted_on"), *out = row_str(w->row, "discharged_on");
    if (in && out && strcmp(out, in) < 0)
        mz_errors_add(w->errors, "discharged_on", "before_admission", "出院日期不能早于入院日期");
    return 0;
}

static int bill_before_write(struct mz_write *w)
{
    struct assist_medical m;
    if (strcmp(w->action, "delete") == 0)
        return 0;
    /* Approved, paid or refused: the figures decided stay as they are. */
    if (assist_oneoff_decided(w))
        return 0;
    if (json_integer_value(json_object_get(w->row, "payee_person_id")) <= 0)
        json_object_set(w->row, "payee_person_id", json_object_get(w->row, "person_id"));
    json_object_set_new(w->row, "self_paid_fen",
                        json_integer(row_int(w->row, "total_fen") - row_int(w->row, "insurance_fen")));
    return bill_compute(w, &m);
}

/* 审批: the aid is fixed from the year's usage at this moment; nothing left
 * of the cap is a refusal with the reason. */
static int approve_guard(struct mz_write *w)
{
    struct assist_medical m;
    int status = assist_oneoff_need_account(w);
    if (status == 0)
        status = bill_compute(w, &m);
    if (status)
        return status;
    if (m.aid_fen <= 0)
        return mz_fail_with(
            w->req, 422, m.cap_left_fen <= 0 ? "cap_exhausted" : "no_aid",
            m.cap_left_fen <= 0 ? "该救助对象本年度医疗救助限额已用完，应作不予救助处理"
                                : "政策范围内自付费用未超过起付线，没有可救助的金额，应作不予救助处理",
            json_pack("{s:I, s:I}", "cap_left_fen", (json_int_t)m.cap_left_fen, "aid_fen",
                      (json_int_t)m.aid_fen));
    assist_oneoff_decided_today(w);
    return 0;
}

static const struct mz_hooks bill_hooks = {
    .validate = bill_validate,
    .before_write = bill_before_write,
};

static const struct mz_transition bill_transitions[] = {ASSIST_ONEOFF_TRANSITIONS(approve_guard)};

static const struct mz_workflow bill_workflow = {
    .name = "assistance_medical_bill",
    .initial = "draft",
    .states = assist_oneoff_states,
    .nstates = MZ_ARRAY_LEN(assist_oneoff_states),
    .transitions = bill_transitions,
    .ntransitions = MZ_ARRAY_LEN(bill_transitions),
};

static const struct mz_field bill_fields[] = {
    {.name = "person_id", .type = MZ_T_REF, .zh = "患者", .en = "Patient", .ref = "persons",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED | MZ_F_IMMUTABLE},
    {.name = "target_group", .type = MZ_T_DICT, .zh = "救助对象类别", .en = "Group",
     .dict = "assistance_medical_group", .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "受理社区", .en = "Handling community",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "hospital", .type = MZ_T_TEXT, .zh = "就诊医院", .en = "Hospital",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MAX, .max = 100},
    {.name = "admitted_on", .type = MZ_T_DATE, .zh = "入院（就诊）日期", .en = "Admitted on",
     .flags = MZ_F_REQUIRED},
    {.name = "discharged_on", .type = MZ_T_DATE, .zh = "出院日期", .en = "Discharged on"},
    {.name = "total_fen", .type = MZ_T_MONEY, .zh = "医疗费用总额（分）", .en = "Total (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000000},
    {.name = "insurance_fen", .type = MZ_T_MONEY, .zh = "医保报销（分）",
     .en = "Reimbursed by insurance (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000000},
    {.name = "self_paid_fen", .type = MZ_T_MONEY, .zh = "政策范围内个人自付（分）",
     .en = "Self-paid (fen)", .flags = MZ_F_READONLY},
    {.name = "payee_person_id", .type = MZ_T_REF, .zh = "收款人", .en = "Payee", .ref = "persons"},
    {.name = "bank_account", .type = MZ_T_BANKCARD, .zh = "银行账号", .en = "Bank account",
     .flags = MZ_F_SENSITIVE},
    {.name = "year", .type = MZ_T_TEXT, .zh = "救助年度", .en = "Year", .flags = MZ_F_READONLY},
    {.name = "rule_id", .type = MZ_T_INT, .zh = "适用规则", .en = "Rule", .flags = MZ_F_READONLY},
    {.name = "deductible_applied_fen", .type = MZ_T_MONEY, .zh = "本次扣除起付线（分）",
     .en = "Deductible applied (fen)", .flags = MZ_F_READONLY},
    {.name = "aid_fen", .type = MZ_T_MONEY, .zh = "救助金额（分）", .en = "Aid (fen)",
     .flags = MZ_F_READONLY},
    {.name = "aid_trace", .type = MZ_T_JSON, .zh = "计算过程", .en = "Trace",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN | MZ_F_SENSITIVE},
    {.name = "decided_on", .type = MZ_T_DATE, .zh = "决定日期", .en = "Decided on",
     .flags = MZ_F_READONLY},
    {.name = "note", .type = MZ_T_TEXT, .zh = "说明", .en = "Note",
     .flags = MZ_F_MULTILINE | MZ_F_HAS_MAX, .max = 1000},
};

const struct mz_entity assist_medical_bills = {
    .name = "assistance_medical_bills",
    .zh = "医疗救助",
    .en = "Medical assistance",
    .fields = bill_fields,
    .nfields = MZ_ARRAY_LEN(bill_fields),
    .hooks = &bill_hooks,
    .workflow = &bill_workflow,
    /* No deletion: a bill or case counts towards caps and payments. */
    .flags = MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
    .default_sort = "-id",
};
