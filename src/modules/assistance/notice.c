/* notice.c - the decision notice of an assistance case as a printable PDF:
 * GET /api/v1/assistance_cases/{id}/notice.pdf.
 *
 * A case that was approved (approved, paying, suspended, terminated) gets a
 * 救助决定通知书; a refused one a 不予救助决定书 with the written reason
 * and the remedies (administrative reconsideration within 60 days, litigation
 * within 6 months). A case still under way has no decision yet: 409
 * not_decided. The notice shows the applicant, household size, program, the
 * monthly benefit in 元 (formatted from integer fen, never through floating
 * point), the benefit trace lines the case row holds (benefit_trace), the
 * state and decision with its date (the approve/reject transition), the
 * handling community, and the issuing district civil-affairs bureau with the
 * date as the stamp.
 *
 * The case is read with mz_entity_get(), so the caller's scope applies (out
 * of scope is 404) like every read; the route needs assistance_cases.read.
 * The document is rendered by src/core/pdf.c; its production is audited as an
 * export (it carries personal data). Tested by tests/api/pdf.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mz/pdf.h"
#include "mz/registry.h"
#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

/* The named statements of this file. */
#define SQL_APPLICANT "SELECT name FROM persons WHERE id = ?"
#define SQL_DECISION(entity)                                                                 \
    "SELECT at, comment FROM mz_transitions WHERE entity = '" entity "' AND row_id = ?"       \
    " AND action IN ('approve', 'reject') ORDER BY id DESC LIMIT 1"

/* A string member of a row ("" when absent). */
static const char *str_of(const json_t *row, const char *key)
{
    const char *s = json_string_value(json_object_get(row, key));
    return s ? s : "";
}

/* The Chinese label of a dictionary code (the code itself when unknown). */
static const char *dict_zh(struct mz_req *req, const char *dict, const char *code)
{
    const struct mz_dict *d = mz_app_dict(req->app, dict);
    for (size_t i = 0; d != NULL && i < d->nitems; i++) {
        if (strcmp(d->items[i].code, code) == 0)
            return d->items[i].zh;
    }
    return code;
}

/* The Chinese name of a workflow state. */
static const char *state_zh(const char *state)
{
    const struct mz_workflow *wf = assist_cases.workflow;
    for (size_t i = 0; i < wf->nstates; i++) {
        if (strcmp(wf->states[i].name, state) == 0)
            return wf->states[i].zh;
    }
    return state;
}

/* A division's name ("" when unknown). */
static const char *division_name(struct mz_req *req, const char *code)
{
    struct mz_division d;
    if (code == NULL || *code == '\0' || mz_division_get(req->db, code, NULL, &d) != MZ_OK)
        return "";
    return mz_arena_strdup(req->arena, d.name);
}

/* One text column of one row, or NULL (arena copy). */
static const char *query_text(struct mz_req *req, const char *sql, int64_t id, int col,
                              int *rc_out)
{
    struct mz_stmt *st;
    const char *out = NULL;
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc == MZ_OK) {
        mz_db_bind_int(st, 1, id);
        rc = mz_db_step(st);
        if (rc == MZ_ROW && mz_db_col_text(st, col) != NULL)
            out = mz_arena_strdup(req->arena, mz_db_col_text(st, col));
        rc = rc == MZ_ROW || rc == MZ_DONE ? MZ_OK : rc;
        mz_db_done(st);
    }
    *rc_out = rc;
    return out;
}

/* An RFC 3339 UTC instant as the Asia/Shanghai date (UTC+8, no DST) into out[11]. */
static void shanghai_date(const char *instant, char out[11])
{
    char day[11];
    snprintf(day, sizeof(day), "%.10s", instant);
    int64_t days = mz_date_to_days(day);
    if (strlen(instant) >= 13 && atoi(instant + 11) >= 16)
        days++;
    mz_days_to_date(days, out);
}

/* The issuing unit of a handling community: 天津市和平区民政局. */
static const char *issuer_of(struct mz_req *req, const char *division)
{
    char district_code[7], city_code[7];
    snprintf(district_code, sizeof(district_code), "%.6s", division);
    snprintf(city_code, sizeof(city_code), "%.2s0000", division);
    return mz_arena_printf(req->arena, "%s%s民政局", division_name(req, city_code),
                           division_name(req, district_code));
}

/* The numbered table of a trace's Chinese sentences (a masked trace: none). */
static json_t *trace_table(const json_t *trace)
{
    json_t *rows = json_array();
    const json_t *step;
    size_t i;
    json_array_foreach(trace, i, step) {
        const char *zh = json_string_value(json_object_get(step, "zh"));
        if (zh != NULL)
            json_array_append_new(rows, json_pack("[I, s]", (json_int_t)(i + 1), zh));
    }
    return json_pack("{s:{s:[s,s], s:o, s:[i,i]}}", "table", "columns", "序号", "计算过程", "rows",
                     rows, "widths", 1, 9);
}

/* The remedies of a refusal, or what a granted person must do. */
#define NOTICE_REMEDIES                                                                       \
    "如对本决定不服，可以自收到本决定书之日起六十日内依法申请行政复议，"                      \
    "或者在六个月内依法提起行政诉讼。"

/* "2025-10" as "2025年10月". */
static const char *month_zh(struct mz_req *req, const char *month)
{
    if (strlen(month) < 7)
        return month;
    return mz_arena_printf(req->arena, "%d年%d月", atoi(month), atoi(month + 5));
}

/* The PDF document of the notice. */
static json_t *notice_doc(struct mz_req *req, const json_t *row, bool granted,
                          const char *applicant, const char *decided_on, const char *reason)
{
    char money[32];
    int64_t id = json_integer_value(json_object_get(row, "id"));
    const char *program = dict_zh(req, "assistance_program", str_of(row, "program"));
    const char *division = str_of(row, "division");
    const char *community = division_name(req, division);
    const char *issuer = issuer_of(req, division);
    int64_t persons = json_integer_value(json_object_get(row, "member_count"));
    mz_money_format(json_integer_value(json_object_get(row, "monthly_benefit_fen")), money,
                    sizeof(money));
    const char *start = month_zh(req, str_of(row, "start_month"));
    const char *applied_on = mz_arena_printf(req->arena, "%.10s", str_of(row, "created_at"));

    json_t *meta = json_pack("[[s,s],[s,s],[s,I],[s,s],[s,I],[s,s]]", "申请人", applicant,
                             "救助项目", program, "保障人数", (json_int_t)persons, "受理社区",
                             community[0] ? community : division, "案件编号", (json_int_t)id,
                             "决定日期", decided_on);
    json_t *blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s}", "paragraph",
                                            mz_arena_printf(req->arena, "%s：", applicant)));
    if (granted) {
        json_array_append_new(
            blocks,
            json_pack("{s:s}", "paragraph",
                      mz_arena_printf(req->arena,
                                      "你（你家）于 %s 提出的%s申请，经受理、入户调查、家庭经济状况"
                                      "核对、民主评议、审核和公示，依据《社会救助暂行办法》的规定，"
                                      "决定自%s起给予%s，保障人数 %lld 人，月救助金额 %s 元。",
                                      applied_on, program, start, program, (long long)persons,
                                      money)));
    } else {
        json_array_append_new(
            blocks,
            json_pack("{s:s}", "paragraph",
                      mz_arena_printf(req->arena,
                                      "你（你家）于 %s 提出的%s申请，经审核，不符合救助条件，"
                                      "依据《社会救助暂行办法》的规定，决定不予救助。理由：%s",
                                      applied_on, program, reason ? reason : "（未记录）")));
    }
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "一、决定事项"));
    json_array_append_new(
        blocks,
        json_pack("{s:[[s,s],[s,s],[s,s],[s,s]]}", "kv", "决定", granted ? "给予救助" : "不予救助",
                  "月救助金额", granted ? mz_arena_printf(req->arena, "%s 元", money) : "—",
                  "起始月份", granted ? start : "—", "当前状态",
                  state_zh(str_of(row, "state"))));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "二、救助金额计算过程"));
    json_array_append_new(blocks, trace_table(json_object_get(row, "benefit_trace")));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "三、告知事项"));
    json_array_append_new(
        blocks,
        json_pack("{s:s}", "paragraph",
                  granted ? "救助金按月发放至你提供的银行账户。家庭人口、收入、财产状况发生变化的，"
                            "应当及时告知社区（村）或街道（乡镇）。"
                          : NOTICE_REMEDIES));
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "title",
                     granted ? "救助决定通知书" : "不予救助决定书", "subtitle",
                     mz_arena_printf(req->arena, "%s · 案件 %lld", program, (long long)id), "meta",
                     meta, "blocks", blocks, "footer",
                     mz_arena_printf(req->arena, "%s · 本文书由民政综合业务平台生成", issuer),
                     "stamp", issuer);
}

static int reply_pdf(struct mz_req *req, json_t *doc, const char *decided_on, const char *entity,
                     int64_t id, bool granted, const char *title);

/* GET /api/v1/assistance_cases/{id}/notice.pdf - the decision notice. */
int assist_h_notice_pdf(struct mz_req *req)
{
    const char *s = mz_req_param(req, "id");
    char *end = NULL;
    long long id = s ? strtoll(s, &end, 10) : 0;
    int rc;
    if (s == NULL || *end != '\0' || id <= 0)
        return mz_fail_field(req, 400, "bad_id", "案件编号应为正整数", "id");
    json_t *row = mz_entity_get(req, &assist_cases, id);
    if (row == NULL)
        return req->status;
    const char *state = str_of(row, "state");
    bool refused = strcmp(state, "refused") == 0;
    bool granted = strcmp(state, "approved") == 0 || strcmp(state, "paying") == 0 ||
                   strcmp(state, "suspended") == 0 || strcmp(state, "terminated") == 0;
    if (!refused && !granted) {
        const char *message = mz_arena_printf(
            req->arena, "该案件尚未作出救助决定（当前状态：%s），不能出具决定书", state_zh(state));
        json_decref(row); /* state points into row */
        return mz_fail(req, 409, "not_decided", message);
    }
    const char *applicant = query_text(
        req, SQL_APPLICANT, json_integer_value(json_object_get(row, "applicant_person_id")), 0, &rc);
    const char *decided_at = rc == MZ_OK ? query_text(req, SQL_DECISION("assistance_cases"), id, 0, &rc) : NULL;
    const char *reason = rc == MZ_OK ? query_text(req, SQL_DECISION("assistance_cases"), id, 1, &rc) : NULL;
    if (rc != MZ_OK) {
        json_decref(row);
        return mz_fail_err(req, rc);
    }
    char decided_on[11];
    if (decided_at != NULL)
        shanghai_date(decided_at, decided_on);
    else
        assist_today(decided_on);

    json_t *doc = notice_doc(req, row, granted, applicant ? applicant : "", decided_on, reason);
    json_decref(row);
    return reply_pdf(req, doc, decided_on, "assistance_cases", id, granted,
                     granted ? "救助决定通知书" : "不予救助决定书");
}

/* Render doc, audit its production as an export of the row, reply it. */
static int reply_pdf(struct mz_req *req, json_t *doc, const char *decided_on, const char *entity,
                     int64_t id, bool granted, const char *title)
{
    struct mz_pdf_options opts = {.date = decided_on};
    struct mz_pdf_result res;
    FILE *f = tmpfile();
    if (f == NULL) {
        json_decref(doc);
        return mz_fail_err(req, MZ_ERR_IO);
    }
    int rc = mz_pdf_write_fd(doc, &opts, fileno(f), &res);
    json_decref(doc);
    if (rc != MZ_OK) {
        fclose(f);
        mz_error("notice of %s %lld: pdf failed: %s", entity, (long long)id, mz_err_name(rc));
        return mz_fail(req, 500, "internal", "生成决定书失败");
    }
    json_t *detail = json_pack("{s:s, s:i}", "document", granted ? "decision_notice" : "refusal_notice",
                               "pages", res.pages);
    int status = mz_audit(req, "export", entity, id, true, detail);
    json_decref(detail);
    if (status) {
        fclose(f);
        return status;
    }
    int fd = dup(fileno(f));
    fclose(f);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        if (fd >= 0)
            close(fd);
        return mz_fail_err(req, MZ_ERR_IO);
    }
    return mz_reply_file(req, 200, "application/pdf", fd,
                         mz_arena_printf(req->arena, "%s-%lld.pdf", title, (long long)id));
}

/* --- one-off aid: 医疗救助 bills and 临时救助 cases ---------------------------------------- */

/* The decision of a bill or a 临时救助 case: the figures as kv rows. */
static json_t *oneoff_figures(struct mz_req *req, const json_t *row, bool bill)
{
    struct mz_arena *a = req->arena;
    char m[5][32];
    static const char *const bill_keys[] = {"total_fen", "insurance_fen", "self_paid_fen", "aid_fen"};
    static const char *const temp_keys[] = {"standard_fen", "ceiling_fen", "need_fen", "aid_fen"};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(row, bill ? bill_keys[i] : temp_keys[i]);
        if (json_is_integer(v))
            mz_money_format(json_integer_value(v), m[i], sizeof(m[i]));
        else
            snprintf(m[i], sizeof(m[i]), "—");
    }
    if (bill)
        return json_pack("{s:[[s,s],[s,s],[s,s],[s,s],[s,s],[s,s]]}", "kv", "就诊医院",
                         str_of(row, "hospital"), "就诊日期",
                         mz_arena_printf(a, "%s 至 %s", str_of(row, "admitted_on"),
                                         str_of(row, "discharged_on")),
                         "医疗费用总额", mz_arena_printf(a, "%s 元", m[0]), "医保报销",
                         mz_arena_printf(a, "%s 元", m[1]), "政策范围内个人自付",
                         mz_arena_printf(a, "%s 元", m[2]), "医疗救助金额",
                         mz_arena_printf(a, "%s 元", m[3]));
    return json_pack("{s:[[s,s],[s,s],[s,I],[s,s],[s,s],[s,s]]}", "kv", "救助类型",
                     dict_zh(req, "assistance_temporary_category", str_of(row, "category")),
                     "发生日期", str_of(row, "occurred_on"), "家庭人口",
                     (json_int_t)json_integer_value(json_object_get(row, "household_size")),
                     "低保标准", mz_arena_printf(a, "%s 元/人·月", m[0]), "救助上限",
                     mz_arena_printf(a, "%s 元", m[1]), "临时救助金额",
                     mz_arena_printf(a, "%s 元", m[3]));
}

static int oneoff_notice(struct mz_req *req, const struct mz_entity *e, bool bill)
{
    const char *s = mz_req_param(req, "id");
    char *end = NULL;
    long long id = s ? strtoll(s, &end, 10) : 0;
    int rc = MZ_OK;
    if (s == NULL || *end != '\0' || id <= 0)
        return mz_fail_field(req, 400, "bad_id", "编号应为正整数", "id");
    json_t *row = mz_entity_get(req, e, id);
    if (row == NULL)
        return req->status;
    const char *state = str_of(row, "state");
    bool refused = strcmp(state, "refused") == 0;
    bool granted = strcmp(state, "approved") == 0 || strcmp(state, "paid") == 0;
    if (!refused && !granted) {
        json_decref(row);
        return mz_fail(req, 409, "not_decided", "尚未作出救助决定，不能出具决定书");
    }
    const char *program = bill ? "医疗救助" : "临时救助";
    const char *person = query_text(req, SQL_APPLICANT,
                                    json_integer_value(json_object_get(row, "person_id")), 0, &rc);
    const char *reason =
        rc == MZ_OK && refused
            ? query_text(req, bill ? SQL_DECISION("assistance_medical_bills")
                                   : SQL_DECISION("assistance_temporary_cases"),
                         id, 1, &rc)
            : NULL;
    if (rc != MZ_OK) {
        json_decref(row);
        return mz_fail_err(req, rc);
    }
    char decided_on[11];
    snprintf(decided_on, sizeof(decided_on), "%s", str_of(row, "decided_on"));
    if (decided_on[0] == '\0')
        assist_today(decided_on);
    const char *division = str_of(row, "division");
    const char *community = division_name(req, division);
    const char *issuer = issuer_of(req, division);
    const char *who = person ? person : "";
    const char *applied_on = mz_arena_printf(req->arena, "%.10s", str_of(row, "created_at"));
    char aid[32];
    mz_money_format(json_integer_value(json_object_get(row, "aid_fen")), aid, sizeof(aid));
    json_t *blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s}", "paragraph",
                                            mz_arena_printf(req->arena, "%s：", who)));
    json_array_append_new(
        blocks,
        json_pack("{s:s}", "paragraph",
                  granted ? mz_arena_printf(req->arena,
                                            "你（你家）于 %s 提出的%s申请，经受理、审核和审批，依据"
                                            "《社会救助暂行办法》的规定，决定给予%s %s 元，一次性发放。",
                                            applied_on, program, program, aid)
                          : mz_arena_printf(req->arena,
                                            "你（你家）于 %s 提出的%s申请，经审核，不符合救助条件，"
                                            "依据《社会救助暂行办法》的规定，决定不予救助。理由：%s",
                                            applied_on, program, reason ? reason : "（未记录）")));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "一、救助事项"));
    json_array_append_new(blocks, oneoff_figures(req, row, bill));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "二、救助金额计算过程"));
    json_array_append_new(blocks, trace_table(json_object_get(row, "aid_trace")));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "三、告知事项"));
    json_array_append_new(blocks,
                          json_pack("{s:s}", "paragraph",
                                    granted ? "救助金一次性发放至你提供的银行账户。" : NOTICE_REMEDIES));
    const char *title = granted ? (bill ? "医疗救助决定通知书" : "临时救助决定通知书") : "不予救助决定书";
    json_t *doc = json_pack(
        "{s:s, s:s, s:[[s,s],[s,s],[s,s],[s,I],[s,s]], s:o, s:s, s:s}", "title", title,
        "subtitle", mz_arena_printf(req->arena, "%s · 编号 %lld", program, id), "meta",
        bill ? "患者" : "申请人", who, "救助项目", program, "受理社区",
        community[0] ? community : division, "编号", (json_int_t)id, "决定日期", decided_on,
        "blocks", blocks, "footer",
        mz_arena_printf(req->arena, "%s · 本文书由民政综合业务平台生成", issuer), "stamp", issuer);
    json_decref(row);
    return reply_pdf(req, doc, decided_on, e->name, id, granted, title);
}

/* GET /api/v1/assistance_medical_bills/{id}/notice.pdf */
int assist_h_bill_notice_pdf(struct mz_req *req)
{
    return oneoff_notice(req, &assist_medical_bills, true);
}

/* GET /api/v1/assistance_temporary_cases/{id}/notice.pdf */
int assist_h_temporary_notice_pdf(struct mz_req *req)
{
    return oneoff_notice(req, &assist_temporary_cases, false);
}
