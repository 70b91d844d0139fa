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
