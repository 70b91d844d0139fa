/* cases.c - assistance cases (救助申请), their workflow and the 公示 notices.
 *
 * A case is one assistance household's application for one program: the
 * household and applicant from the registry, a members snapshot (JSON: each
 * member's person id, relation, monthly income, 分类施保 categories and the
 * scan reference of the signed verification authorisation), the handling
 * community (division: the scope), the hukou and residence communities (for
 * 双向公示), the zone, the start month and reasons. The benefit
 * (monthly_benefit_fen) and its trace are read-only: before_write recomputes
 * them (benefit.c) whenever the case is written, for its start month.
 *
 * Workflow (declared below; permissions "assistance_cases.<action>", granted
 * to the built-in roles in src/auth/access.c):
 *   draft 申请 -accept(street)-> accepted -investigate-> investigated
 *   -verify(核对, manual result as the comment; every adult's authorisation
 *    must be on file)-> verified -deliberate(民主评议)-> reviewed
 *   -review(审核, street)-> checked -publicise(公示: notices in the hukou and,
 *    when different, the residence community, 7 days)-> publicised
 *   -approve(审批, district; only when the notice has run >= 7 days)-> approved
 *   -pay(发放, district)-> paying; paying <-suspend/reinstate-> suspended;
 *   paying|suspended -terminate-> terminated (final).
 *   publicised -object-> objected -resume-> publicised (the notice restarts).
 *   Any state before paying -reject-> refused (final, written reason), a
 *   decision of the county level (令649 art 11): district officers.
 * The notice rows are written by the effect with plain SQL because the
 * residence community may lie outside the acting officer's scope.
 *
 * Tested by tests/api/assistance.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

#define NOTICE_DAYS 7

/* A string member of a row, or NULL. */
static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

/* Parse the members of a row for the computation (errors into errors). */
static int row_members(struct mz_write *w, struct assist_member **members, int *n)
{
    json_t *arr = json_object_get(w->row, "members");
    return assist_parse_members(w->req, arr, true, members, n, w->errors);
}

/* The members must parse, and every person must exist. */
static int case_validate(struct mz_write *w)
{
    struct assist_member *m;
    int n;
    if (strcmp(w->action, "delete") == 0)
        return 0;
    assist_members_restore(w);
    return row_members(w, &m, &n);
}

/* Fill a division field from the applicant's registry record when absent. */
static int default_division(struct mz_write *w, const char *field, const char *column)
{
    if (row_str(w->row, field) != NULL)
        return 0;
    int64_t pid = json_integer_value(json_object_get(w->row, "applicant_person_id"));
    struct mz_stmt *st;
    char *sql = mz_arena_printf(w->req->arena,
                                "SELECT %s FROM persons WHERE id = ? AND deleted_at IS NULL", column);
    int rc = mz_db_prepare(w->req->db, sql, &st);
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    mz_db_bind_int(st, 1, pid);
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
        json_object_set_new(w->row, field, json_string(mz_db_col_text(st, 0)));
    mz_db_done(st);
    return 0;
}

/* Derived values: divisions from the applicant, the payee, and the benefit. */
static int case_before_write(struct mz_write *w)
{
    struct assist_member *m;
    struct assist_quote q;
    int n, status;
    char today[11], month[8];
    if (strcmp(w->action, "delete") == 0)
        return 0;
    assist_members_restore(w);
    if ((status = default_division(w, "hukou_division", "hukou_division")) != 0 ||
        (status = default_division(w, "residence_division", "residence_division")) != 0)
        return status;
    if (json_integer_value(json_object_get(w->row, "payee_person_id")) <= 0)
        json_object_set(w->row, "payee_person_id",
                        json_object_get(w->row, "applicant_person_id"));
    json_t *errors = json_array();
    status = assist_parse_members(w->req, json_object_get(w->row, "members"), true, &m, &n, errors);
    bool bad = json_array_size(errors) > 0;
    json_decref(errors);
    if (status || bad)
        return status ? status : mz_fail(w->req, 422, "validation_failed", "家庭成员信息有误");
    const char *start = row_str(w->row, "start_month");
    assist_today(today);
    snprintf(month, sizeof(month), "%.7s", start ? start : today);
    /* A change to a case being paid counts from next month (动态管理): the
     * new amount is computed with next month's standard; the payroll keeps
     * paying the previous amount for the months before. */
    const char *was = w->before ? row_str(w->before, "state") : NULL;
    bool paid = was && (strcmp(was, "paying") == 0 || strcmp(was, "suspended") == 0) &&
                strcmp(w->action, "update") == 0;
    char next[8] = "";
    if (paid) {
        int y = atoi(today), mo = atoi(today + 5) + 1;
        if (mo > 12) {
            mo = 1;
            y++;
        }
        char buf[32];
        snprintf(buf, sizeof(buf), "%04d-%02d", y % 10000, mo % 100);
        memcpy(next, buf, 7);
        next[7] = '\0';
        if (strcmp(next, month) > 0)
            memcpy(month, next, 8);
    }
    int rc = assist_compute_mode(w->req->db, row_str(w->row, "program"),
                                 row_str(w->row, "division"), row_str(w->row, "zone"),
                                 row_str(w->row, "support_mode"), month, m, n, &q);
    if (rc != MZ_OK)
        return assist_fail_lookup(w->req, rc, row_str(w->row, "program"));
    json_object_set_new(w->row, "member_count", json_integer(n));
    if (paid) {
        json_int_t before_amount =
            json_integer_value(json_object_get(w->before, "monthly_benefit_fen"));
        const char *pending = row_str(w->before, "benefit_from");
        if (q.monthly_benefit_fen != before_amount) {
            /* Several changes in one month keep the amount paid before them. */
            if (pending == NULL || strcmp(pending, next) != 0)
                json_object_set_new(w->row, "previous_benefit_fen", json_integer(before_amount));
            json_object_set_new(w->row, "benefit_from", json_string(next));
        }
    }
    json_object_set_new(w->row, "monthly_benefit_fen", json_integer(q.monthly_benefit_fen));
    json_object_set_new(w->row, "benefit_trace", q.trace);
    /* The incomes are stored sealed (member_figures), not in the list. */
    assist_members_seal(w);
    /* A new review category reschedules the next review of a case being
     * paid, from the last review (or today when none was recorded). */
    const char *state = row_str(w->row, "state");
    if (w->before && strcmp(w->action, "update") == 0 && state &&
        (strcmp(state, "paying") == 0 || strcmp(state, "suspended") == 0) &&
        !json_equal(json_object_get(w->row, "review_category"),
                    json_object_get(w->before, "review_category"))) {
        const char *last = row_str(w->row, "last_review_on");
        return assist_set_next_review(w, last ? last : today);
    }
    return 0;
}

/* Keep assistance_case_members (case, person) in step with the members JSON:
 * the payroll's and the checks' way to find a case's persons in SQL. */
static int case_after_write(struct mz_write *w)
{
    if (w->id == 0)
        return 0;
    int rc = mz_db_run(w->req->db, "DELETE FROM assistance_case_members WHERE case_id = ?", "i",
                       w->id);
    if (rc == MZ_OK && strcmp(w->action, "delete") != 0)
        rc = assist_case_members_insert(w->req->db, w->id, json_object_get(w->row, "members"));
    return rc == MZ_OK ? 0 : mz_fail_err(w->req, rc);
}

static const struct mz_hooks case_hooks = {
    .validate = case_validate,
    .before_write = case_before_write,
    .after_write = case_after_write,
    .present = assist_case_present,
};

/* --- guards and effects ------------------------------------------------------- */

/* 经济状况核对 needs the signed authorisation of every adult member. */
static int verify_guard(struct mz_write *w)
{
    char today[11];
    json_t *arr = json_object_get(w->row, "members"), *mem;
    size_t i;
    assist_today(today);
    json_array_foreach(arr, i, mem) {
        int64_t pid = json_integer_value(json_object_get(mem, "person_id"));
        struct mz_stmt *st;
        int rc = mz_db_prepare(w->req->db,
                               "SELECT birth_date FROM persons WHERE id = ? AND deleted_at IS NULL",
                               &st);
        if (rc != MZ_OK)
            return mz_fail_err(w->req, rc);
        mz_db_bind_int(st, 1, pid);
        bool adult = true; /* unknown age: treat as adult (ask for the authorisation) */
        if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0) &&
            strlen(mz_db_col_text(st, 0)) == 10) {
            const char *birth = mz_db_col_text(st, 0);
            char of_age[24];
            snprintf(of_age, sizeof(of_age), "%04d%.6s", atoi(birth) + 18, birth + 4);
            adult = strcmp(of_age, today) <= 0;
        }
        mz_db_done(st);
        const char *scan = json_string_value(json_object_get(mem, "authorisation_scan"));
        if (adult && (scan == NULL || *scan == '\0'))
            mz_errors_add(w->errors,
                          mz_arena_printf(w->req->arena, "members[%zu].authorisation_scan", i),
                          "authorisation_missing",
                          mz_arena_printf(w->req->arena,
                                          "成员%zu 已成年，须上传签字的家庭经济状况核对授权书", i + 1));
    }
    return 0;
}

int (*assist_case_check)(struct mz_write *w, json_t **result);

/* Record the verification result: the staff's comment and, when the
 * verification module is built in, its check of the household (the report
 * is kept as a verification request, referenced by the case). */
static int verify_effect(struct mz_write *w)
{
    const char *comment = NULL;
    if (w->req->json)
        mz_json_get_str(w->req->json, "comment", &comment);
    json_object_set_new(w->row, "verification_result", mz_json_str(comment));
    if (assist_case_check == NULL)
        return 0;
    json_t *r = NULL;
    int status = assist_case_check(w, &r);
    if (status)
        return status;
    const char *flags = json_string_value(json_object_get(r, "flags"));
    json_object_set_new(
        w->row, "verification_result",
        json_string(mz_arena_printf(w->req->arena, "%s\n系统核对：%s（核对编号 %lld%s%s）",
                                    comment ? comment : "",
                                    json_string_value(json_object_get(r, "outcome_zh")),
                                    (long long)json_integer_value(json_object_get(r, "request_id")),
                                    flags && *flags ? "，命中规则：" : "", flags ? flags : "")));
    json_object_set(w->row, "verification_request_id", json_object_get(r, "request_id"));
    json_decref(r);
    return 0;
}

/* Insert one notice row. */
static int notice_insert(struct mz_write *w, const char *division, const char *kind,
                         const char *start, const char *end)
{
    struct mz_stmt *st;
    char now[32];
    int rc = mz_db_prepare(
        w->req->db,
        "INSERT INTO assistance_notices (version, created_at, updated_at, created_by, updated_by,"
        " case_id, program, division, kind, start_date, end_date, applicant_name,"
        " household_size, amount_fen) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " (SELECT name FROM persons WHERE id = ?), ?, ?)",
        &st);
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    const char *actor = w->req->actor ? w->req->actor : "anonymous";
    mz_now_rfc3339(now);
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, actor);
    mz_db_bind_text(st, 4, actor);
    mz_db_bind_int(st, 5, w->id);
    mz_db_bind_text(st, 6, row_str(w->row, "program"));
    mz_db_bind_text(st, 7, division);
    mz_db_bind_text(st, 8, kind);
    mz_db_bind_text(st, 9, start);
    mz_db_bind_text(st, 10, end);
    mz_db_bind_int(st, 11, json_integer_value(json_object_get(w->row, "applicant_person_id")));
    mz_db_bind_int(st, 12, json_integer_value(json_object_get(w->row, "member_count")));
    mz_db_bind_int(st, 13, json_integer_value(json_object_get(w->row, "monthly_benefit_fen")));
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? 0 : mz_fail_err(w->req, rc < 0 ? rc : MZ_ERR_DB);
}

/* 公示 (and its restart after an objection): a notice in the hukou community
 * and, for 人户分离, one in the residence community; 7 days from today. */
static int publicise_effect(struct mz_write *w)
{
    char start[11], end[11];
    assist_today(start);
    mz_days_to_date(mz_date_to_days(start) + NOTICE_DAYS, end);
    const char *hukou = row_str(w->row, "hukou_division");
    const char *residence = row_str(w->row, "residence_division");
    if (hukou == NULL)
        hukou = row_str(w->row, "division");
    int status = notice_insert(w, hukou, "hukou", start, end);
    if (status == 0 && residence && strcmp(residence, hukou) != 0)
        status = notice_insert(w, residence, "residence", start, end);
    if (status)
        return status;
    json_object_set_new(w->row, "notice_start", json_string(start));
    json_object_set_new(w->row, "notice_end", json_string(end));
    return 0;
}

/* 审批 only after the notice has run its 7 days. */
static int approve_guard(struct mz_write *w)
{
    char today[11];
    const char *start = row_str(w->row, "notice_start");
    assist_today(today);
    if (start == NULL)
        return mz_fail(w->req, 422, "publicity_missing", "尚未公示，不能审批");
    int64_t days = mz_date_to_days(today) - mz_date_to_days(start);
    if (days < NOTICE_DAYS)
        return mz_fail_with(w->req, 422, "publicity_too_short",
                            mz_arena_printf(w->req->arena,
                                            "公示期不少于 %d 天：%s 起公示，至今 %lld 天", NOTICE_DAYS,
                                            start, (long long)days),
                            json_pack("{s:s, s:I}", "notice_start", start, "days",
                                      (json_int_t)days));
    return 0;
}

static const struct mz_wf_state case_states[] = {
    {.name = "draft", .zh = "申请", .en = "Application"},
    {.name = "accepted", .zh = "已受理", .en = "Accepted", .deadline_days = 10},
    {.name = "investigated", .zh = "已入户调查", .en = "Home visit done"},
    {.name = "verified", .zh = "已核对经济状况", .en = "Means verified"},
    {.name = "reviewed", .zh = "已民主评议", .en = "Community review done"},
    {.name = "checked", .zh = "已审核", .en = "Checked by street"},
    {.name = "publicised", .zh = "公示中", .en = "Public notice"},
    {.name = "objected", .zh = "公示有异议", .en = "Objection raised"},
    {.name = "approved", .zh = "已审批", .en = "Approved"},
    {.name = "paying", .zh = "发放中", .en = "Being paid"},
    {.name = "suspended", .zh = "暂停发放", .en = "Suspended"},
    {.name = "refused", .zh = "不予救助", .en = "Refused", .final = true},
    {.name = "terminated", .zh = "已终止", .en = "Terminated", .final = true},
};

#define REJECT_FROM(state)                                                                      \
    {.from = state, .action = "reject", .to = "refused", .zh = "不予救助", .en = "Refuse",       \
     .comment_required = true}

static const struct mz_transition case_transitions[] = {
    {.from = "draft", .action = "accept", .to = "accepted", .zh = "受理", .en = "Accept"},
    {.from = "accepted", .action = "investigate", .to = "investigated", .zh = "入户调查",
     .en = "Home visit"},
    {.from = "investigated", .action = "verify", .to = "verified", .zh = "经济状况核对",
     .en = "Verify means", .guard = verify_guard, .effect = verify_effect,
     .comment_required = true},
    {.from = "verified", .action = "deliberate", .to = "reviewed", .zh = "民主评议",
     .en = "Community review"},
    {.from = "reviewed", .action = "review", .to = "checked", .zh = "审核", .en = "Check"},
    {.from = "checked", .action = "publicise", .to = "publicised", .zh = "公示", .en = "Publicise",
     .effect = publicise_effect},
    {.from = "publicised", .action = "object", .to = "objected", .zh = "公示异议",
     .en = "Objection", .comment_required = true},
    {.from = "objected", .action = "resume", .to = "publicised", .zh = "恢复公示",
     .en = "Resume notice", .effect = publicise_effect, .comment_required = true},
    {.from = "publicised", .action = "approve", .to = "approved", .zh = "审批", .en = "Approve",
     .guard = approve_guard},
    {.from = "approved", .action = "pay", .to = "paying", .zh = "发放", .en = "Start payment",
     .effect = assist_pay_effect},
    {.from = "paying", .action = "recheck", .to = "paying", .zh = "定期复核", .en = "Periodic review",
     .effect = assist_recheck_effect, .comment_required = true},
    {.from = "suspended", .action = "recheck", .to = "suspended", .zh = "定期复核",
     .en = "Periodic review", .effect = assist_recheck_effect, .comment_required = true},
    {.from = "paying", .action = "suspend", .to = "suspended", .zh = "暂停发放", .en = "Suspend",
     .comment_required = true},
    {.from = "suspended", .action = "reinstate", .to = "paying", .zh = "恢复发放",
     .en = "Reinstate"},
    {.from = "paying", .action = "terminate", .to = "terminated", .zh = "终止救助",
     .en = "Terminate", .comment_required = true},
    {.from = "suspended", .action = "terminate", .to = "terminated", .zh = "终止救助",
     .en = "Terminate", .comment_required = true},
    REJECT_FROM("draft"),
    REJECT_FROM("accepted"),
    REJECT_FROM("investigated"),
    REJECT_FROM("verified"),
    REJECT_FROM("reviewed"),
    REJECT_FROM("checked"),
    REJECT_FROM("publicised"),
    REJECT_FROM("objected"),
    REJECT_FROM("approved"),
};

static const struct mz_workflow case_workflow = {
    .name = "assistance_case",
    .initial = "draft",
    .states = case_states,
    .nstates = MZ_ARRAY_LEN(case_states),
    .transitions = case_transitions,
    .ntransitions = MZ_ARRAY_LEN(case_transitions),
};

static const struct mz_field case_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_INDEXED},
    {.name = "household_id", .type = MZ_T_REF, .zh = "救助家庭", .en = "Household",
     .ref = "households", .flags = MZ_F_INDEXED},
    {.name = "applicant_person_id", .type = MZ_T_REF, .zh = "申请人", .en = "Applicant",
     .ref = "persons", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "payee_person_id", .type = MZ_T_REF, .zh = "收款人", .en = "Payee", .ref = "persons"},
    {.name = "bank_name", .type = MZ_T_TEXT, .zh = "开户银行", .en = "Bank",
     .flags = MZ_F_HAS_MAX, .max = 60},
    {.name = "bank_account", .type = MZ_T_BANKCARD, .zh = "银行账号", .en = "Bank account",
     .flags = MZ_F_SENSITIVE},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "受理社区", .en = "Handling community",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "hukou_division", .type = MZ_T_DIVISION, .zh = "户籍地社区", .en = "Hukou community"},
    {.name = "residence_division", .type = MZ_T_DIVISION, .zh = "居住地社区",
     .en = "Residence community"},
    {.name = "zone", .type = MZ_T_DICT, .zh = "城乡类别", .en = "Urban or rural",
     .dict = "assistance_zone"},
    {.name = "support_mode", .type = MZ_T_DICT, .zh = "供养方式（特困）", .en = "Support mode",
     .dict = "assistance_support_mode"},
    {.name = "members", .type = MZ_T_JSON, .zh = "共同生活家庭成员", .en = "Members",
     .flags = MZ_F_REQUIRED},
    /* The members' incomes, sealed at rest (sealed.c); merged back into
     * members on the way out, never shown as such. */
    {.name = "member_figures", .type = MZ_T_JSON, .zh = "成员收入（加密）",
     .en = "Member incomes (sealed)", .flags = MZ_F_READONLY | MZ_F_HIDDEN | MZ_F_SENSITIVE},
    {.name = "member_count", .type = MZ_T_INT, .zh = "保障人数", .en = "Persons",
     .flags = MZ_F_READONLY},
    {.name = "start_month", .type = MZ_T_TEXT, .zh = "起始月份", .en = "From month",
     .pattern = "^[12][0-9]{3}-(0[1-9]|1[0-2])$", .pattern_zh = "年月，如 2025-10",
     .flags = MZ_F_INDEXED},
    {.name = "reason", .type = MZ_T_TEXT, .zh = "申请理由", .en = "Reasons",
     .flags = MZ_F_MULTILINE | MZ_F_HAS_MAX, .max = 2000},
    {.name = "verification_result", .type = MZ_T_TEXT, .zh = "经济状况核对结果",
     .en = "Verification result", .flags = MZ_F_READONLY | MZ_F_MULTILINE},
    {.name = "verification_request_id", .type = MZ_T_INT, .zh = "核对编号",
     .en = "Verification", .flags = MZ_F_READONLY},
    {.name = "monthly_benefit_fen", .type = MZ_T_MONEY, .zh = "月救助金额（分）",
     .en = "Monthly benefit (fen)", .flags = MZ_F_READONLY},
    {.name = "benefit_from", .type = MZ_T_TEXT, .zh = "新金额起始月份", .en = "New amount from",
     .flags = MZ_F_READONLY},
    {.name = "previous_benefit_fen", .type = MZ_T_MONEY, .zh = "此前月救助金额（分）",
     .en = "Previous benefit (fen)", .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "benefit_trace", .type = MZ_T_JSON, .zh = "计算过程", .en = "Benefit trace",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN | MZ_F_SENSITIVE},
    {.name = "notice_start", .type = MZ_T_DATE, .zh = "公示开始", .en = "Notice from",
     .flags = MZ_F_READONLY},
    {.name = "notice_end", .type = MZ_T_DATE, .zh = "公示结束", .en = "Notice until",
     .flags = MZ_F_READONLY},
    {.name = "review_category", .type = MZ_T_DICT, .zh = "复核类别", .en = "Review category",
     .dict = "assistance_review_category", .def = "\"stable\""},
    {.name = "last_review_on", .type = MZ_T_DATE, .zh = "上次复核", .en = "Last reviewed",
     .flags = MZ_F_READONLY},
    {.name = "next_review_on", .type = MZ_T_DATE, .zh = "下次复核", .en = "Next review",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
};

const struct mz_entity assist_cases = {
    .name = "assistance_cases",
    .zh = "救助案件",
    .en = "Assistance cases",
    .fields = case_fields,
    .nfields = MZ_ARRAY_LEN(case_fields),
    .hooks = &case_hooks,
    .workflow = &case_workflow,
    .flags = MZ_E_NO_IMPORT | MZ_E_ATTACHMENTS,
};

static const struct mz_field notice_fields[] = {
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case",
     .ref = "assistance_cases", .flags = MZ_F_INDEXED},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program"},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "公示社区", .en = "Community",
     .flags = MZ_F_SCOPE},
    {.name = "kind", .type = MZ_T_DICT, .zh = "公示地", .en = "Where", .dict = "assistance_notice_kind"},
    {.name = "start_date", .type = MZ_T_DATE, .zh = "公示开始", .en = "From"},
    {.name = "end_date", .type = MZ_T_DATE, .zh = "公示结束", .en = "Until"},
    {.name = "applicant_name", .type = MZ_T_TEXT, .zh = "申请人", .en = "Applicant"},
    {.name = "household_size", .type = MZ_T_INT, .zh = "保障人数", .en = "Persons"},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "月救助金额（分）", .en = "Amount (fen)"},
};

const struct mz_entity assist_notices = {
    .name = "assistance_notices",
    .zh = "救助公示",
    .en = "Assistance notices",
    .fields = notice_fields,
    .nfields = MZ_ARRAY_LEN(notice_fields),
    .flags = MZ_E_READONLY,
    .default_sort = "-id",
};
