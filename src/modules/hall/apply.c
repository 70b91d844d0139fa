/* apply.c - online applications (网上申请) of the citizen service hall.
 *
 * A logged-in citizen applies for an assistance program the bureau accepts
 * online: the matter (a hall_matters row with kind apply and online on: which
 * matters are open is data), the applicant's name, ID number, phone, the
 * community (a real division of level 5), address, the household members
 * ([{name, id_number, relation, monthly_income_fen}]: GB 11643 check digits,
 * exactly one `self` whose number is the applicant's, no number twice),
 * reasons, and references to materials held elsewhere (`attachments`:
 * [{kind, name, ref}], shape checked only). The scans are files of the
 * generic attachment store (MZ_E_ATTACHMENTS; src/modules/workbench/
 * attachments.c), which the applicant uploads while the application waits
 * for acceptance (hall_applications.attach).
 *
 * The row is created through the engine (POST /api/v1/hall_applications), so
 * it gets 422 with every field error, history, audit and the engine's
 * ownership rule: its creator is the citizen's account, and a citizen sees
 * only the rows it created. `members` holds ID numbers: it is a sensitive
 * field (sealed at rest, masked for callers without view_sensitive); the
 * readonly `members_summary` repeats it with masked numbers for the citizen.
 * Duplicates are refused with 409 `duplicate_application`: the same
 * applicant with an open (submitted) application for the same program, or a
 * member already in an open assistance case of the program.
 *
 * Workflow `hall_application` (permissions hall_applications.<action>):
 *   submitted 已提交 -accept 受理-> accepted 已受理 (street officers: the
 *     members are found in the registry by ID number or added to it, an
 *     assistance case is created at 申请 and accepted at once, so it waits
 *     at 已受理 for the home visit; the case id is kept on the application);
 *   submitted -send_back 退回 (written reason, shown to the citizen)-> returned;
 *   submitted -withdraw 撤回-> withdrawn (the applicant's own act before it is
 *     accepted: permission hall_applications.withdraw, held by the citizen
 *     role; staff are refused with 403 applicant_only - they return instead).
 * Returned and withdrawn applications are not open: the citizen may apply again.
 * Staff see applications of their area (division is the scope field).
 *
 * Tested by tests/api/hall.test.mjs and tests/e2e/hall.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/registry.h"
#include "mz/validate.h"
#include "modules/hall/hall_internal.h"

#define MAX_MEMBERS 30
#define MAX_ATTACHMENTS 20

static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

static void member_error(struct mz_write *w, size_t i, const char *field, const char *code,
                         const char *message)
{
    mz_errors_add(w->errors, mz_arena_printf(w->req->arena, "members[%zu].%s", i, field), code,
                  message);
}

/* Relation codes (the hall_relation dictionary, hall.c). */
static bool relation_ok(struct mz_req *req, const char *code)
{
    const struct mz_dict *d = mz_app_dict(req->app, "hall_relation");
    for (size_t i = 0; d && code && i < d->nitems; i++) {
        if (strcmp(d->items[i].code, code) == 0)
            return true;
    }
    return false;
}

static const char *relation_zh(struct mz_req *req, const char *code)
{
    const struct mz_dict *d = mz_app_dict(req->app, "hall_relation");
    for (size_t i = 0; d && code && i < d->nitems; i++) {
        if (strcmp(d->items[i].code, code) == 0)
            return d->items[i].zh;
    }
    return code;
}

/* Check the members and replace them with their normalised form (ID number
 * of 18 characters, sex and birth date from it); the masked summary too. */
static void check_members(struct mz_write *w)
{
    struct mz_req *req = w->req;
    json_t *arr = json_object_get(w->row, "members"), *mem;
    const char *applicant = row_str(w->row, "id_number");
    size_t i;
    int selves = 0;
    bool bad = false;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        mz_errors_add(w->errors, "members", "required", "请填写共同生活的家庭成员（至少一人：本人）");
        return;
    }
    if (json_array_size(arr) > MAX_MEMBERS) {
        mz_errors_add(w->errors, "members", "too_large", "家庭成员过多（最多 30 人）");
        return;
    }
    json_t *norm = json_array(), *summary = json_array();
    json_array_foreach(arr, i, mem) {
        if (!json_is_object(mem)) {
            mz_errors_add(w->errors, mz_arena_printf(req->arena, "members[%zu]", i), "type",
                          "家庭成员应为对象");
            bad = true;
            continue;
        }
        const char *key;
        json_t *v;
        json_object_foreach(mem, key, v) {
            if (strcmp(key, "name") && strcmp(key, "id_number") && strcmp(key, "relation") &&
                strcmp(key, "monthly_income_fen")) {
                member_error(w, i, key, "unknown_field", "不认识的字段");
                bad = true;
            }
        }
        const char *name = row_str(mem, "name");
        size_t nlen = name ? mz_utf8_length(name, strlen(name)) : 0;
        if (name == NULL || name[strspn(name, " ")] == '\0') {
            member_error(w, i, "name", "required", "请填写成员姓名");
            bad = true;
        } else if (nlen > 50) {
            member_error(w, i, "name", "too_long", "姓名最多 50 字");
            bad = true;
        }
        const char *idn = row_str(mem, "id_number"), *reason = NULL;
        struct mz_id_info info;
        char today[11];
        hall_today(today);
        if (idn == NULL || *idn == '\0') {
            member_error(w, i, "id_number", "required", "请填写成员身份证号码");
            bad = true;
        } else if (mz_id_check(idn, today, &info, &reason) != MZ_OK) {
            member_error(w, i, "id_number", "invalid_id_number", reason ? reason : "身份证号码无效");
            bad = true;
        } else {
            for (size_t k = 0; k < json_array_size(norm); k++) {
                if (strcmp(row_str(json_array_get(norm, k), "id_number"), info.number) == 0) {
                    member_error(w, i, "id_number", "duplicate", "同一身份证号码填写了两次");
                    bad = true;
                }
            }
        }
        const char *rel = row_str(mem, "relation");
        if (rel == NULL || *rel == '\0') {
            member_error(w, i, "relation", "required", "请选择与申请人关系");
            bad = true;
        } else if (!relation_ok(req, rel)) {
            member_error(w, i, "relation", "not_in_dictionary", "与申请人关系不在可选范围内");
            bad = true;
        } else if (strcmp(rel, "self") == 0) {
            selves++;
            if (applicant && idn && !bad && strcmp(info.number, applicant) != 0) {
                member_error(w, i, "id_number", "not_applicant", "关系为「本人」的成员应为申请人本人");
                bad = true;
            }
        }
        json_t *inc = json_object_get(mem, "monthly_income_fen");
        if (inc == NULL || json_is_null(inc)) {
            member_error(w, i, "monthly_income_fen", "required", "请填写月收入（无收入填 0）");
            bad = true;
        } else if (!json_is_integer(inc)) {
            member_error(w, i, "monthly_income_fen", "type", "月收入应为整数（分）");
            bad = true;
        } else if (json_integer_value(inc) < 0 || json_integer_value(inc) > 100000000) {
            member_error(w, i, "monthly_income_fen", "out_of_range", "月收入应在 0 至 100 万元之间");
            bad = true;
        }
        if (bad)
            continue;
        const char *sex = info.sex == 'M' ? "1" : "2";
        json_array_append_new(
            norm, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "name", name, "id_number", info.number,
                            "relation", rel, "sex", sex, "birth_date", info.birth,
                            "monthly_income_fen", json_integer_value(inc)));
        json_array_append_new(
            summary,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "name", name, "id_number",
                      mz_arena_printf(req->arena, "%.6s********%.4s", info.number, info.number + 14),
                      "relation", rel, "relation_zh", relation_zh(req, rel), "sex", sex,
                      "sex_zh", info.sex == 'M' ? "男" : "女", "monthly_income_fen",
                      json_integer_value(inc)));
    }
    if (!bad && selves != 1)
        mz_errors_add(w->errors, "members", "self_required",
                      "家庭成员中应有且只有一位「本人」（申请人）");
    if (!bad && json_array_size(w->errors) == 0) {
        json_object_set(w->row, "members", norm);
        json_object_set(w->row, "members_summary", summary);
    }
    json_decref(norm);
    json_decref(summary);
}

/* References to materials held elsewhere (the scans are in the attachment store). */
static void check_attachments(struct mz_write *w)
{
    json_t *arr = json_object_get(w->row, "attachments"), *a;
    size_t i;
    if (arr == NULL || json_is_null(arr))
        return;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_ATTACHMENTS) {
        mz_errors_add(w->errors, "attachments", "type", "附件应为列表（最多 20 个）");
        return;
    }
    json_array_foreach(arr, i, a) {
        const char *name = row_str(a, "name"), *ref = row_str(a, "ref");
        if (!json_is_object(a) || name == NULL || ref == NULL || *ref == '\0' ||
            strlen(name) > 200 || strlen(ref) > 200)
            mz_errors_add(w->errors, mz_arena_printf(w->req->arena, "attachments[%zu]", i), "type",
                          "附件应有名称（name）与存储引用（ref）");
    }
}

/* The programs an accepted application becomes an assistance case of (a
 * monthly 低保/低收入/特困 case). 临时救助 and 医疗救助 are one-off aid with
 * entities of their own (a bill, an event and its category, registered at
 * the window): an online application cannot become one yet. */
bool hall_case_program(const char *program)
{
    static const char *const ok[] = {"dibao", "low_income", "tekun"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(ok); i++) {
        if (strcmp(program, ok[i]) == 0)
            return true;
    }
    return false;
}

static int apply_validate(struct mz_write *w)
{
    struct mz_req *req = w->req;
    if (strcmp(w->action, "create") != 0)
        return mz_fail(req, 403, "forbidden", "已提交的申请不能修改；如需更正请联系受理窗口");
    /* Internal callers (the demo) have no user; staff apply through cases. */
    if (req->user != NULL && !hall_is_citizen(req))
        return mz_fail(req, 403, "forbidden", "网上申请由申请人本人通过网上办事大厅提交");
    const char *matter = row_str(w->row, "matter"), *program = NULL;
    if (matter && !hall_matter_open(req, matter, "apply", &program))
        mz_errors_add(w->errors, "matter", "not_open", "该事项暂未开通网上申请");
    else if (program && !hall_case_program(program))
        mz_errors_add(w->errors, "matter", "not_open",
                      "该事项须到社区（村）或街道（乡镇）窗口当面登记，暂不支持网上申请");
    const char *div = row_str(w->row, "division");
    if (div && (mz_division_level(div) != 5 || !mz_division_acceptable(req->db, div)))
        mz_errors_add(w->errors, "division", "invalid_division", "请选择所在社区（村）");
    check_members(w);
    check_attachments(w);
    if (program)
        json_object_set_new(w->row, "program", json_string(program));
    return 0;
}

/* Count rows for a query with text parameters (-1 on error). */
static int64_t count_of(struct mz_req *req, const char *sql, int n, const char *const *params)
{
    int64_t c = 0;
    return mz_db_query_int(req->db, sql, &c, n, params) == MZ_OK ? c : -1;
}

static int apply_before_write(struct mz_write *w)
{
    struct mz_req *req = w->req;
    if (strcmp(w->action, "create") != 0)
        return 0;
    const char *program = row_str(w->row, "program");
    const struct mz_field *f = mz_entity_field(&hall_applications, "id_number");
    const char *p1[] = {mz_field_blind(req, &hall_applications, f, row_str(w->row, "id_number")),
                        program};
    int64_t open = count_of(req,
                            "SELECT count(*) FROM hall_applications WHERE id_number_bidx = ?"
                            " AND program = ? AND state = 'submitted' AND deleted_at IS NULL",
                            2, p1);
    if (open < 0)
        return mz_fail_err(req, MZ_ERR_DB);
    if (open > 0)
        return mz_fail_field(req, 409, "duplicate_application",
                             "您已提交过该事项的申请，正在等待受理，请勿重复申请", "matter");
    const struct mz_entity *pe = mz_app_entity(req->app, "persons");
    json_t *mem;
    size_t i;
    if (pe && mz_app_entity(req->app, "assistance_cases")) {
        json_array_foreach(json_object_get(w->row, "members"), i, mem) {
            const char *p2[] = {
                mz_field_blind(req, pe, mz_entity_field(pe, "id_number"), row_str(mem, "id_number")),
                program};
            int64_t n = count_of(req,
                                 "SELECT count(*) FROM assistance_case_members m"
                                 " JOIN assistance_cases c ON c.id = m.case_id"
                                 " JOIN persons p ON p.id = m.person_id"
                                 " WHERE p.id_number_bidx = ? AND c.program = ?"
                                 " AND c.state NOT IN ('refused', 'terminated')"
                                 " AND c.deleted_at IS NULL AND p.deleted_at IS NULL",
                                 2, p2);
            if (n < 0)
                return mz_fail_err(req, MZ_ERR_DB);
            if (n > 0)
                return mz_fail_field(
                    req, 409, "duplicate_application",
                    mz_arena_printf(req->arena, "家庭成员%s已在该项目的救助中（案件办理中或正在享受），不能重复申请",
                                    row_str(mem, "name")),
                    mz_arena_printf(req->arena, "members[%zu].id_number", i));
        }
    }
    json_object_set_new(w->row, "application_no", json_string(hall_number(req, "WS")));
    return 0;
}

static const struct mz_hooks apply_hooks = {
    .validate = apply_validate,
    .before_write = apply_before_write,
};

/* --- accept: into a real assistance case --------------------------------------- */

/* The registry id of the person with this ID number, adding the person when
 * the registry does not know them yet. 0 after a failure (recorded). */
static int64_t person_for(struct mz_write *w, const struct mz_entity *pe, json_t *mem, bool self)
{
    struct mz_req *req = w->req;
    const char *idn = row_str(mem, "id_number");
    const char *p[] = {mz_field_blind(req, pe, mz_entity_field(pe, "id_number"), idn)};
    int64_t id = 0;
    int rc = mz_db_query_int(req->db,
                             "SELECT id FROM persons WHERE id_number_bidx = ? AND deleted_at IS NULL"
                             " ORDER BY id LIMIT 1",
                             &id, 1, p);
    if (rc == MZ_OK && id > 0)
        return id;
    if (rc != MZ_ERR_NOTFOUND && rc != MZ_OK) {
        mz_fail_err(req, rc);
        return 0;
    }
    json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id_number", idn, "name",
                           row_str(mem, "name"), "sex", row_str(mem, "sex"), "birth_date",
                           row_str(mem, "birth_date"), "hukou_division",
                           row_str(w->row, "division"), "residence_division",
                           row_str(w->row, "division"));
    if (row_str(w->row, "address"))
        json_object_set_new(in, "residence_address", json_string(row_str(w->row, "address")));
    if (self && row_str(w->row, "phone"))
        json_object_set_new(in, "phone", json_string(row_str(w->row, "phone")));
    json_t *row = NULL;
    int status = mz_entity_create(req, pe, in, &row);
    json_decref(in);
    if (status)
        return 0;
    id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    return id;
}

static int accept_effect(struct mz_write *w)
{
    struct mz_req *req = w->req;
    const struct mz_entity *pe = mz_app_entity(req->app, "persons");
    const struct mz_entity *ce = mz_app_entity(req->app, "assistance_cases");
    if (pe == NULL || ce == NULL)
        return mz_fail(req, 409, "not_available", "救助业务模块未启用，不能受理");
    /* Internal callers (the demo) have no user and no permissions to check. */
    if (req->user != NULL &&
        (!mz_req_may(req, "assistance_cases.create") || !mz_req_may(req, "assistance_cases.accept")))
        return mz_fail(req, 403, "forbidden", "没有受理救助申请的权限");
    /* The nested engine calls must not see this request's body (its
     * version belongs to the application, not to the case). */
    json_t *body = req->json;
    req->json = NULL;
    int status = 0;
    json_t *members = json_array(), *mem, *row = NULL;
    int64_t applicant = 0;
    size_t i;
    json_array_foreach(json_object_get(w->row, "members"), i, mem) {
        bool self = strcmp(row_str(mem, "relation"), "self") == 0;
        int64_t pid = person_for(w, pe, mem, self);
        if (pid == 0) {
            status = req->status >= 400 ? req->status : mz_fail_err(req, MZ_ERR_INTERNAL);
            goto out;
        }
        if (self)
            applicant = pid;
        json_array_append_new(members, json_pack("{s:I, s:s, s:O}", "person_id", (json_int_t)pid,
                                                 "relation", row_str(mem, "relation"),
                                                 "monthly_income_fen",
                                                 json_object_get(mem, "monthly_income_fen")));
    }
    char today[11];
    hall_today(today);
    json_t *in = json_pack("{s:s, s:I, s:s, s:O, s:s}", "program", row_str(w->row, "program"),
                           "applicant_person_id", (json_int_t)applicant, "division",
                           row_str(w->row, "division"), "members", members, "start_month",
                           mz_arena_printf(req->arena, "%.7s", today));
    json_object_set_new(
        in, "reason",
        json_string(mz_arena_printf(req->arena, "【网上申请 %s】%s", row_str(w->row, "application_no"),
                                    row_str(w->row, "reason") ? row_str(w->row, "reason") : "")));
    status = mz_entity_create(req, ce, in, &row);
    json_decref(in);
    if (status)
        goto out;
    int64_t case_id = json_integer_value(json_object_get(row, "id"));
    const char *comment = NULL;
    if (body)
        mz_json_get_str(body, "comment", &comment);
    status = mz_entity_act(req, ce, case_id, "accept",
                           mz_arena_printf(req->arena, "网上申请 %s 受理%s%s",
                                           row_str(w->row, "application_no"),
                                           comment && *comment ? "：" : "", comment ? comment : ""),
                           NULL);
    if (status)
        goto out;
    json_object_set_new(w->row, "case_id", json_integer(case_id));
out:
    req->json = body;
    json_decref(members);
    json_decref(row);
    return status;
}

static int send_back_effect(struct mz_write *w)
{
    const char *comment = NULL;
    if (w->req->json)
        mz_json_get_str(w->req->json, "comment", &comment);
    json_object_set_new(w->row, "return_reason", mz_json_str(comment));
    return 0;
}

/* Only the applicant withdraws (a citizen sees only the rows it created). */
static int withdraw_guard(struct mz_write *w)
{
    if (!hall_is_citizen(w->req))
        return mz_fail(w->req, 403, "applicant_only", "撤回申请只能由申请人本人在网上办事大厅操作；工作人员请使用“退回”");
    return 0;
}

static const struct mz_wf_state apply_states[] = {
    {.name = "submitted", .zh = "已提交，待受理", .en = "Submitted", .deadline_days = 5},
    {.name = "accepted", .zh = "已受理", .en = "Accepted", .final = true},
    {.name = "returned", .zh = "已退回", .en = "Returned", .final = true},
    {.name = "withdrawn", .zh = "已撤回", .en = "Withdrawn", .final = true},
};

static const struct mz_transition apply_transitions[] = {
    {.from = "submitted", .action = "accept", .to = "accepted", .zh = "受理（转为救助案件）",
     .en = "Accept into a case", .effect = accept_effect},
    {.from = "submitted", .action = "send_back", .to = "returned", .zh = "退回",
     .en = "Return", .effect = send_back_effect, .comment_required = true},
    {.from = "submitted", .action = "withdraw", .to = "withdrawn", .zh = "撤回申请",
     .en = "Withdraw", .permission = "hall_applications.withdraw", .guard = withdraw_guard},
};

static const struct mz_workflow apply_workflow = {
    .name = "hall_application",
    .initial = "submitted",
    .states = apply_states,
    .nstates = MZ_ARRAY_LEN(apply_states),
    .transitions = apply_transitions,
    .ntransitions = MZ_ARRAY_LEN(apply_transitions),
};

static const struct mz_field apply_fields[] = {
    {.name = "application_no", .type = MZ_T_TEXT, .zh = "申请编号", .en = "Application number",
     .flags = MZ_F_READONLY | MZ_F_UNIQUE | MZ_F_SEARCHABLE},
    {.name = "matter", .type = MZ_T_TEXT, .zh = "申请事项", .en = "Matter",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_HAS_MAX, .max = 40},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "applicant_name", .type = MZ_T_TEXT, .zh = "申请人姓名", .en = "Applicant",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX,
     .min = 2, .max = 50},
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "申请人身份证号码", .en = "Applicant ID number",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_SENSITIVE},
    {.name = "phone", .type = MZ_T_PHONE, .zh = "联系电话", .en = "Phone",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_SENSITIVE},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所在社区（村）", .en = "Community",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_SCOPE},
    {.name = "address", .type = MZ_T_TEXT, .zh = "居住地址", .en = "Address",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 4, .max = 200},
    {.name = "members", .type = MZ_T_JSON, .zh = "共同生活家庭成员", .en = "Household members",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_SENSITIVE | MZ_F_HIDDEN},
    {.name = "members_summary", .type = MZ_T_JSON, .zh = "家庭成员（脱敏）",
     .en = "Members (masked)", .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "reason", .type = MZ_T_TEXT, .zh = "申请理由", .en = "Reasons",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_MULTILINE | MZ_F_HAS_MIN | MZ_F_HAS_MAX,
     .min = 4, .max = 2000},
    {.name = "attachments", .type = MZ_T_JSON, .zh = "附件", .en = "Attachments",
     .flags = MZ_F_IMMUTABLE | MZ_F_HIDDEN},
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Assistance case",
     .ref = "assistance_cases", .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "return_reason", .type = MZ_T_TEXT, .zh = "退回理由", .en = "Reason for return",
     .flags = MZ_F_READONLY | MZ_F_MULTILINE},
};

const struct mz_entity hall_applications = {
    .name = "hall_applications",
    .zh = "网上申请",
    .en = "Online applications",
    .fields = apply_fields,
    .nfields = MZ_ARRAY_LEN(apply_fields),
    .hooks = &apply_hooks,
    .workflow = &apply_workflow,
    .flags = MZ_E_NO_IMPORT | MZ_E_NO_DELETE | MZ_E_CITIZEN | MZ_E_ATTACHMENTS,
    .title_field = "application_no",
    .default_sort = "-id",
};

/* --- timeline ----------------------------------------------------------------- */

static const char *state_zh(const struct mz_workflow *wf, const char *state)
{
    for (size_t i = 0; wf && state && i < wf->nstates; i++) {
        if (strcmp(wf->states[i].name, state) == 0)
            return wf->states[i].zh;
    }
    return state;
}

static const char *action_zh(const struct mz_workflow *wf, const char *action)
{
    for (size_t i = 0; wf && action && i < wf->ntransitions; i++) {
        if (strcmp(wf->transitions[i].action, action) == 0)
            return wf->transitions[i].zh;
    }
    return action;
}

/* Append the transitions of one row; comments only for the actions named
 * in public (their comment is the written reason the applicant is owed). */
static int add_transitions(struct mz_req *req, json_t *steps, const char *entity, int64_t id,
                           const struct mz_workflow *wf, const char *public_comment,
                           const char *skip)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT action, to_state, at, comment FROM mz_transitions"
                           " WHERE entity = ? AND row_id = ? ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, entity);
    mz_db_bind_int(st, 2, id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *action = mz_db_col_text(st, 0);
        if (skip && action && strcmp(action, skip) == 0)
            continue;
        json_t *s = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "source",
                              strcmp(entity, "hall_applications") == 0 ? "application" : "case",
                              "action", action ? action : "", "action_zh", action_zh(wf, action),
                              "state", mz_db_col_text(st, 1), "state_zh",
                              state_zh(wf, mz_db_col_text(st, 1)), "at", mz_db_col_text(st, 2));
        if (public_comment && action && strstr(public_comment, action) && mz_db_col_text(st, 3))
            json_object_set_new(s, "reason", json_string(mz_db_col_text(st, 3)));
        json_array_append_new(steps, s);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

json_t *hall_timeline(struct mz_req *req, json_t *row)
{
    int64_t id = json_integer_value(json_object_get(row, "id"));
    int64_t case_id = json_integer_value(json_object_get(row, "case_id"));
    const struct mz_workflow *wf = hall_applications.workflow;
    json_t *steps = json_array();
    json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "source", "application",
                                           "action", "submit", "action_zh", "提交申请", "state",
                                           "submitted", "at", row_str(row, "created_at")));
    int rc = add_transitions(req, steps, "hall_applications", id, wf, "send_back", NULL);
    json_t *out = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)id,
                            "application_no", row_str(row, "application_no"), "matter",
                            row_str(row, "matter"), "program", row_str(row, "program"), "state",
                            row_str(row, "state"), "state_zh", state_zh(wf, row_str(row, "state")),
                            "submitted_at", row_str(row, "created_at"), "return_reason",
                            row_str(row, "return_reason"));
    const struct mz_entity *ce = mz_app_entity(req->app, "assistance_cases");
    if (rc == MZ_OK && case_id > 0 && ce) {
        rc = add_transitions(req, steps, "assistance_cases", case_id, ce->workflow, "reject",
                             "accept");
        struct mz_stmt *st;
        if (rc == MZ_OK &&
            (rc = mz_db_prepare(req->db,
                                "SELECT state FROM assistance_cases WHERE id = ? AND deleted_at IS NULL",
                                &st)) == MZ_OK) {
            mz_db_bind_int(st, 1, case_id);
            if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0)) {
                const char *cs = mz_db_col_text(st, 0);
                json_object_set_new(out, "case_state", json_string(cs));
                json_object_set_new(out, "case_state_zh", json_string(state_zh(ce->workflow, cs)));
            }
            mz_db_done(st);
        }
    }
    if (rc != MZ_OK) {
        json_decref(out);
        json_decref(steps);
        return NULL;
    }
    json_object_set_new(out, "steps", steps);
    return out;
}

/* GET /api/v1/hall_applications/{id}/timeline - the engine's read rules
 * (ownership for citizens, scope for staff) decide who sees it. */
int hall_h_timeline(struct mz_req *req)
{
    int64_t id = 0;
    const char *p = mz_req_param(req, "id");
    char *end = NULL;
    if (p)
        id = strtoll(p, &end, 10);
    if (p == NULL || *end != '\0' || id <= 0)
        return mz_fail(req, 404, "not_found", "申请不存在");
    json_t *row = mz_entity_get(req, &hall_applications, id);
    if (row == NULL)
        return req->status;
    json_t *t = hall_timeline(req, row);
    json_decref(row);
    if (t == NULL)
        return mz_fail_err(req, MZ_ERR_DB);
    return mz_reply_json(req, 200, t);
}
