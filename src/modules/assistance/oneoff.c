/* oneoff.c - what the one-off programs share: 医疗救助 bills (bills.c) and
 * 临时救助 cases (temporary.c) are decided once and paid once by the
 * payroll (payroll.c, one_offs[]).
 *
 * Their workflow states, the refusal's effect, the rule that a decided row
 * keeps its figures, the account an approval needs, and the sealing context
 * of a payment's account by its origin.
 */
#include <stdio.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

const struct mz_wf_state assist_oneoff_states[6] = {
    {.name = "draft", .zh = "申请", .en = "Applied"},
    {.name = "accepted", .zh = "已受理", .en = "Accepted"},
    {.name = "checked", .zh = "已审核", .en = "Checked"},
    {.name = "approved", .zh = "已审批待发放", .en = "Approved"},
    {.name = "paid", .zh = "已发放", .en = "Paid", .final = true},
    {.name = "refused", .zh = "不予救助", .en = "Refused", .final = true},
};

const char *assist_account_context(int64_t origin)
{
    return origin == 1   ? "assistance_medical_bills.bank_account"
           : origin == 2 ? "assistance_temporary_cases.bank_account"
                         : "assistance_cases.bank_account";
}

bool assist_oneoff_decided(const struct mz_write *w)
{
    const char *was = w->before ? json_string_value(json_object_get(w->before, "state")) : NULL;
    const char *now = json_string_value(json_object_get(w->row, "state"));
    for (int i = 0; i < 2; i++) {
        const char *s = i ? now : was;
        if (s && (strcmp(s, "approved") == 0 || strcmp(s, "paid") == 0 ||
                  strcmp(s, "refused") == 0))
            return true;
    }
    return false;
}

int assist_oneoff_keep_figures(struct mz_write *w, const char *const *fixed, size_t n)
{
    const char *was = w->before ? json_string_value(json_object_get(w->before, "state")) : NULL;
    if (was == NULL || strcmp(w->action, "update") != 0 ||
        (strcmp(was, "approved") && strcmp(was, "paid") && strcmp(was, "refused")))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!json_equal(json_object_get(w->row, fixed[i]), json_object_get(w->before, fixed[i])))
            return mz_fail_field(w->req, 409, "decided", "已作出决定，不能再修改救助信息（账号和说明除外）",
                                 fixed[i]);
    }
    return 0;
}

int assist_oneoff_need_account(struct mz_write *w)
{
    json_t *acc = json_object_get(w->row, "bank_account");
    if (acc == NULL || json_is_null(acc))
        return mz_fail_field(w->req, 422, "no_account", "请先登记收款银行账号再审批", "bank_account");
    return 0;
}

void assist_oneoff_decided_today(struct mz_write *w)
{
    char today[11];
    assist_today(today);
    json_object_set_new(w->row, "decided_on", json_string(today));
}

int assist_oneoff_reject_effect(struct mz_write *w)
{
    assist_oneoff_decided_today(w);
    json_object_set_new(w->row, "aid_fen", json_integer(0));
    return 0;
}

/* --- demo data ------------------------------------------------------------------------ */

/* Clear a refused create so the demo goes on with the next household. */
static void demo_forget(struct mz_req *req)
{
    req->failed = false;
    req->status = 0;
    json_decref(req->error);
    req->error = NULL;
}

/* Create a row and put it at a stage (demo data only: states set directly,
 * approved rows dated today). */
static int demo_row(struct mz_req *req, const char *entity, json_t *input, const char *state,
                    const char *today, int *made)
{
    json_t *row = NULL;
    const struct mz_entity *e = mz_app_entity(req->app, entity);
    int status = e ? mz_entity_create(req, e, input, &row) : 0;
    json_decref(input);
    if (e == NULL || status) {
        demo_forget(req);
        return MZ_OK;
    }
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    char *sql = mz_arena_printf(req->arena,
                                "UPDATE %s SET state = ?, decided_on = CASE WHEN ? = 'approved'"
                                " THEN ? ELSE NULL END WHERE id = ?",
                                entity);
    int rc = mz_db_run(req->db, sql, "ttti", state, state, today, id);
    if (rc == MZ_OK)
        (*made)++;
    return rc;
}

int assist_demo_oneoff(struct mz_req *req, int64_t person, const char *division,
                       const char *program, int household_size, const char *today,
                       const char *card, int64_t roll, int *made)
{
    static const char *const stages[] = {"draft", "accepted", "checked", "approved", "approved"};
    const char *stage = stages[roll % 5];
    if (roll < 15) {
        /* 医疗救助: a hospital stay last month, 30-70% reimbursed. */
        int64_t total = 300000 + roll * 250000, insured = total * (30 + roll * 3) / 100;
        char admitted[11], discharged[11];
        int64_t day = mz_date_to_days(today) - 40 + roll;
        mz_days_to_date(day, admitted);
        mz_days_to_date(day + 3 + roll % 9, discharged);
        static const char *const hospitals[] = {"天津市第一中心医院（演示）", "天津医科大学总医院（演示）",
                                                "天津市人民医院（演示）"};
        return demo_row(req, "assistance_medical_bills",
                        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
                                  "person_id", (json_int_t)person, "target_group",
                                  strcmp(program, "paying") ? program : "dibao", "division",
                                  division, "hospital", hospitals[roll % 3], "admitted_on",
                                  admitted, "discharged_on", discharged, "total_fen",
                                  (json_int_t)total, "insurance_fen", (json_int_t)insured,
                                  "bank_account", card, "note", "演示数据"),
                        stage, today, made);
    }
    /* 临时救助: 急难型 (a fire, an accident) or 支出型 with the need documented. */
    bool expense = roll % 2 == 1;
    char occurred[11];
    mz_days_to_date(mz_date_to_days(today) - 10 - roll, occurred);
    json_t *input = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s}", "person_id", (json_int_t)person,
                              "division", division, "category", expense ? "expenditure" : "emergency",
                              "reason", expense ? "子女上学费用支出过大（演示数据）" : "住房失火（演示数据）",
                              "occurred_on", occurred, "household_size", household_size,
                              "bank_account", card);
    if (expense)
        json_object_set_new(input, "need_fen", json_integer(200000 + roll * 40000));
    return demo_row(req, "assistance_temporary_cases", input, stage, today, made);
}
