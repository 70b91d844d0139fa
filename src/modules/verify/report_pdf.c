/* report_pdf.c - a verification report as a printable PDF.
 *
 * GET /api/v1/verify/requests/{id}/report.pdf: the report kept with a single
 * verification (verify_requests.report), read through the engine so the
 * caller's scope applies (another area's report is 404), laid out as the
 * document model of mz/pdf.h: the household and outcome, the members (ID
 * numbers masked as in the report), the figures, one section per rule with
 * its sentence and evidence rows, and the snapshots used. Bulk runs have no
 * per-household report: 422 not_single.
 */
#include <stdio.h>
#include <string.h>

#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_parts.h"

#if __has_include("mz/pdf.h")
#include "mz/pdf.h"

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *yuan(struct mz_arena *a, json_t *fen)
{
    json_int_t v = json_integer_value(fen);
    return mz_arena_printf(a, "%s%lld.%02lld 元", v < 0 ? "-" : "", (long long)(v < 0 ? -v : v) / 100,
                           (long long)(v < 0 ? -v : v) % 100);
}

/* The Chinese label of a code in a dictionary item table. */
static const char *label(const struct mz_dict_item *items, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i].code, code) == 0)
            return items[i].zh;
    }
    return code;
}

/* An evidence row as one line of text: its fields other than the common ones. */
static const char *evidence_text(struct mz_arena *a, json_t *row)
{
    const char *key;
    json_t *v;
    char *out = mz_arena_strdup(a, "");
    json_object_foreach(row, key, v) {
        if (!strcmp(key, "source") || !strcmp(key, "source_zh") || !strcmp(key, "batch_id") ||
            !strcmp(key, "person") || !strcmp(key, "name") || json_is_null(v))
            continue;
        size_t kl = strlen(key);
        if (kl > 3 && strcmp(key + kl - 3, "_zh") == 0)
            continue;
        json_t *zh = json_object_get(row, mz_arena_printf(a, "%s_zh", key));
        const char *text;
        if (zh)
            text = json_string_value(zh);
        else if (json_is_integer(v) && (strstr(key, "income") || strstr(key, "balance") ||
                                        strstr(key, "value") || strstr(key, "capital") ||
                                        strstr(key, "amount") || strstr(key, "base") ||
                                        strstr(key, "deposit")))
            text = yuan(a, v);
        else if (json_is_integer(v))
            text = mz_arena_printf(a, "%lld", (long long)json_integer_value(v));
        else
            text = json_string_value(v);
        if (text && *text)
            out = mz_arena_printf(a, "%s%s%s", out, *out ? "；" : "", text);
    }
    return out;
}

static json_t *document(struct mz_arena *a, json_t *req, json_t *rep)
{
    json_t *blocks = json_array();
    json_t *members = json_array(), *m;
    size_t i;
    json_array_foreach(json_object_get(rep, "members"), i, m) {
        json_array_append_new(
            members, json_pack("[s, s, s, s]", mz_arena_printf(a, "%zu", i + 1), str(m, "name"),
                               str(m, "id_number"),
                               json_is_true(json_object_get(m, "adult"))
                                   ? (json_is_true(json_object_get(m, "authorised")) ? "成年，已授权"
                                                                                      : "成年，未授权")
                                   : "未成年"));
    }
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "一、家庭成员"));
    json_array_append_new(blocks,
                          json_pack("{s:{s:[s,s,s,s], s:o, s:[i,i,i,i]}}", "table", "columns",
                                    "序号", "姓名", "身份证号码", "授权情况", "rows", members,
                                    "widths", 1, 2, 3, 2));
    json_t *f = json_object_get(rep, "figures");
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "二、核对数据汇总"));
    json_array_append_new(
        blocks,
        json_pack("{s:[[s,s],[s,s],[s,s],[s,s],[s,s],[s,s],[s,s],[s,s]]}", "kv", "核实的家庭月收入",
                  yuan(a, json_object_get(f, "income_fen")), "家庭金融资产",
                  yuan(a, json_object_get(f, "financial_assets_fen")), "机动车辆",
                  mz_arena_printf(a, "%lld 辆（最高评估价值 %s）",
                                  (long long)json_integer_value(json_object_get(f, "vehicles")),
                                  yuan(a, json_object_get(f, "vehicle_value_max_fen"))),
                  "住宅", mz_arena_printf(a, "%lld 套", (long long)json_integer_value(json_object_get(f, "properties"))),
                  "工商登记",
                  mz_arena_printf(a, "%lld 条（最高认缴出资 %s）",
                                  (long long)json_integer_value(json_object_get(f, "businesses")),
                                  yuan(a, json_object_get(f, "business_capital_max_fen"))),
                  "财政供养人员",
                  mz_arena_printf(a, "%lld 人", (long long)json_integer_value(json_object_get(f, "public_employees"))),
                  "经办人员近亲属",
                  mz_arena_printf(a, "%lld 人", (long long)json_integer_value(json_object_get(f, "staff_relatives"))),
                  "死亡（火化）记录",
                  mz_arena_printf(a, "%lld 人", (long long)json_integer_value(json_object_get(f, "deceased")))));
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "三、规则核对"));
    json_t *rule;
    json_array_foreach(json_object_get(rep, "rules"), i, rule) {
        const char *result = str(rule, "result");
        const char *verdict = strcmp(result, "flagged") == 0
                                  ? (strcmp(str(rule, "severity"), "refuse") == 0 ? "不符合"
                                                                                  : "需核实")
                              : strcmp(result, "passed") == 0 ? "符合"
                                                              : "需核实";
        json_array_append_new(blocks,
                              json_pack("{s:s}", "paragraph",
                                        mz_arena_printf(a, "（%zu）%s：%s。%s（规则 %lld，%s 起执行）", i + 1,
                                                        str(rule, "zh"), verdict,
                                                        str(rule, "sentence"),
                                                        (long long)json_integer_value(json_object_get(rule, "rule_id")),
                                                        str(rule, "valid_from"))));
        json_t *ev = json_object_get(rule, "evidence"), *row;
        size_t k;
        if (json_array_size(ev) == 0)
            continue;
        json_t *rows = json_array();
        json_array_foreach(ev, k, row) {
            json_array_append_new(rows, json_pack("[s, s, s, s]", str(row, "source_zh"),
                                                  str(row, "name"), str(row, "person"),
                                                  evidence_text(a, row)));
        }
        json_array_append_new(blocks,
                              json_pack("{s:{s:[s,s,s,s], s:o, s:[i,i,i,i]}}", "table", "columns",
                                        "数据源", "姓名", "身份证号码", "记录", "rows", rows, "widths",
                                        2, 2, 3, 6));
    }
    json_t *sources = json_array(), *s;
    json_array_foreach(json_object_get(rep, "sources"), i, s) {
        json_t *batch = json_object_get(s, "batch_id");
        json_array_append_new(
            sources, json_pack("[s, s, s, s]", str(s, "zh"), str(s, "department"),
                               json_is_integer(batch)
                                   ? mz_arena_printf(a, "%lld", (long long)json_integer_value(batch))
                                   : "（无在用数据）",
                               str(s, "as_of")));
    }
    json_array_append_new(blocks, json_pack("{s:s}", "heading", "四、使用的数据批次"));
    json_array_append_new(blocks,
                          json_pack("{s:{s:[s,s,s,s], s:o}}", "table", "columns", "数据源", "提供部门",
                                    "批次号", "数据截止日期", "rows", sources));
    const char *program = str(rep, "program");
    json_t *doc = json_pack(
        "{s:s, s:s, s:[[s,s],[s,s],[s,s],[s,s],[s,s]], s:o, s:s, s:s}", "title",
        "家庭经济状况核对报告", "subtitle",
        mz_arena_printf(a, "核对编号 %lld", (long long)json_integer_value(json_object_get(req, "id"))),
        "meta", "救助项目",
        label((const struct mz_dict_item[]){{"dibao", "最低生活保障", ""},
                                            {"low_income", "低收入家庭救助", ""},
                                            {"tekun", "特困人员救助供养", ""},
                                            {"temporary", "临时救助", ""},
                                            {"medical", "医疗救助", ""}},
              5, program),
        "核对日期", str(rep, "as_of"), "家庭所在区划", str(rep, "division"), "家庭人数",
        mz_arena_printf(a, "%lld 人", (long long)json_integer_value(json_object_get(rep, "member_count"))),
        "核对结论", str(rep, "outcome_zh"), "blocks", blocks, "footer",
        "本报告依据家庭成员签署的授权书查询，仅用于社会救助审核，不得挪作他用", "stamp",
        "家庭经济状况核对机构");
    return doc;
}

/* GET /api/v1/verify/requests/{id}/report.pdf */
int vf_h_report_pdf(struct mz_req *req)
{
    const char *idtext = mz_req_param(req, "id");
    char *end = NULL;
    long long id = idtext ? strtoll(idtext, &end, 10) : 0;
    if (id <= 0 || (end && *end))
        return mz_fail(req, 400, "bad_id", "编号应为正整数");
    const struct mz_entity *e = mz_app_entity(req->app, "verify_requests");
    json_t *row = mz_entity_get(req, e, id);
    if (row == NULL)
        return req->status;
    json_t *rep = json_object_get(row, "report");
    if (!json_is_object(rep)) {
        json_decref(row);
        return mz_fail(req, 422, "not_single", "批量复核没有单户报告，请打开复核结果中的家庭");
    }
    json_t *doc = document(req->arena, row, rep);
    const char *pdf = NULL;
    size_t len = 0;
    struct mz_pdf_result res;
    int rc = mz_pdf_render_arena(req->arena, doc, NULL, &pdf, &len, &res);
    json_decref(doc);
    json_decref(row);
    if (rc != MZ_OK)
        return rc == MZ_ERR_INVALID ? mz_fail(req, 500, "internal", res.reason)
                                    : mz_fail_err(req, rc);
    int status = mz_audit(req, "export", "verify_requests", id, true, NULL);
    if (status)
        return status;
    mz_req_add_header(req, "Content-Disposition",
                      mz_arena_printf(req->arena,
                                      "attachment; filename=\"verify-%lld.pdf\"; "
                                      "filename*=UTF-8''%%E6%%A0%%B8%%E5%%AF%%B9%%E6%%8A%%A5%%E5%%91%%8A-%lld.pdf",
                                      id, id));
    return mz_reply_bytes(req, 200, "application/pdf", pdf, len);
}
#endif
