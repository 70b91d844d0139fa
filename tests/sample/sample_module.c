/* sample_module.c - a module that exists only to prove the engine.
 *
 * It is linked into build/minzheng-sample (never into build/minzheng). Its two
 * entities are declared and nothing else: every endpoint, validation, list,
 * import, export, history and workflow action the API tests exercise comes
 * from the engine. The one piece of C is a guard with a business rule (an
 * approval ceiling), to prove hooks.
 */
#include "mz/cli.h"

/* A made-up dictionary of case kinds. */
static const struct mz_dict_item sample_kind_items[] = {
    {"a", "甲类", "Kind A"},
    {"b", "乙类", "Kind B"},
};
static const struct mz_dict sample_kind = {
    .name = "sample_kind",
    .zh = "测试类别",
    .en = "Sample kind",
    .items = sample_kind_items,
    .nitems = MZ_ARRAY_LEN(sample_kind_items),
};
static const struct mz_dict *const sample_dicts[] = {&sample_kind};

static const struct mz_field sample_case_fields[] = {
    {.name = "title", .type = MZ_T_TEXT, .zh = "标题", .en = "Title",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 2, .max = 50},
    {.name = "code", .type = MZ_T_TEXT, .zh = "编号", .en = "Code",
     .flags = MZ_F_UNIQUE | MZ_F_IMMUTABLE, .pattern = "^[A-Z]{2}[0-9]{4}$",
     .pattern_zh = "两个大写字母加四位数字"},
    {.name = "applicant_id", .type = MZ_T_IDNUM, .zh = "申请人身份证号", .en = "Applicant ID",
     .flags = MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "phone", .type = MZ_T_PHONE, .zh = "联系电话", .en = "Phone",
     .flags = MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "金额（分）", .en = "Amount (fen)",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000},
    {.name = "apply_date", .type = MZ_T_DATE, .zh = "申请日期", .en = "Application date",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所属区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "kind", .type = MZ_T_DICT, .zh = "类别", .en = "Kind", .dict = "sample_kind",
     .def = "\"a\""},
    {.name = "members", .type = MZ_T_INT, .zh = "人数", .en = "Members",
     .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 20},
    {.name = "urgent", .type = MZ_T_BOOL, .zh = "加急", .en = "Urgent", .def = "false"},
    {.name = "org_uscc", .type = MZ_T_USCC, .zh = "单位信用代码", .en = "Organisation USCC"},
    {.name = "bank_card", .type = MZ_T_BANKCARD, .zh = "银行卡号", .en = "Bank card",
     .flags = MZ_F_SENSITIVE},
    {.name = "visited_at", .type = MZ_T_DATETIME, .zh = "入户时间", .en = "Visited at"},
    {.name = "extra", .type = MZ_T_JSON, .zh = "附加信息", .en = "Extra"},
    {.name = "decided_by", .type = MZ_T_TEXT, .zh = "审批人", .en = "Decided by",
     .flags = MZ_F_READONLY},
};

/* The approval ceiling: a made-up business rule that needs C. */
static int approve_guard(struct mz_write *w)
{
    int64_t amount = 0;
    if (mz_json_get_int(w->row, "amount_fen", &amount) == MZ_OK && amount > 5000000)
        return mz_fail_field(w->req, 422, "over_limit", "金额超过审批上限（5万元）", "amount_fen");
    return 0;
}

/* Record who approved: an effect writing a read-only field. */
static int approve_effect(struct mz_write *w)
{
    json_object_set_new(w->row, "decided_by", mz_json_str(w->req->actor));
    return 0;
}

static const struct mz_wf_state sample_states[] = {
    {.name = "draft", .zh = "草稿", .en = "Draft"},
    {.name = "submitted", .zh = "已提交", .en = "Submitted", .deadline_days = 5},
    {.name = "accepted", .zh = "已受理", .en = "Accepted", .deadline_days = 10},
    {.name = "approved", .zh = "已批准", .en = "Approved", .final = true},
    {.name = "rejected", .zh = "不予批准", .en = "Rejected", .final = true},
};

static const struct mz_transition sample_transitions[] = {
    {.from = "draft", .action = "submit", .to = "submitted", .zh = "提交", .en = "Submit"},
    {.from = "submitted", .action = "accept", .to = "accepted", .zh = "受理", .en = "Accept"},
    {.from = "accepted", .action = "send_back", .to = "draft", .zh = "退回", .en = "Send back",
     .comment_required = true},
    {.from = "accepted", .action = "approve", .to = "approved", .zh = "批准", .en = "Approve",
     .guard = approve_guard, .effect = approve_effect},
    {.from = "*", .action = "reject", .to = "rejected", .zh = "不予批准", .en = "Reject",
     .comment_required = true},
};

static const struct mz_workflow sample_workflow = {
    .name = "sample_case",
    .initial = "draft",
    .states = sample_states,
    .nstates = MZ_ARRAY_LEN(sample_states),
    .transitions = sample_transitions,
    .ntransitions = MZ_ARRAY_LEN(sample_transitions),
};

static const struct mz_entity sample_cases = {
    .name = "sample_cases",
    .zh = "测试案件",
    .en = "Sample cases",
    .fields = sample_case_fields,
    .nfields = MZ_ARRAY_LEN(sample_case_fields),
    .workflow = &sample_workflow,
    .title_field = "title",
    /* citizens: the citizen-ownership tests create sample cases */
    .flags = MZ_E_CITIZEN | MZ_E_ATTACHMENTS,
};

static const struct mz_field sample_note_fields[] = {
    {.name = "case_id", .type = MZ_T_REF, .zh = "案件", .en = "Case", .ref = "sample_cases",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "body", .type = MZ_T_TEXT, .zh = "内容", .en = "Body",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_MULTILINE | MZ_F_HAS_MAX, .max = 2000},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所属区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
};

static const struct mz_entity sample_notes = {
    .name = "sample_notes",
    .zh = "测试备注",
    .en = "Sample notes",
    .fields = sample_note_fields,
    .nfields = MZ_ARRAY_LEN(sample_note_fields),
    .title_field = "body",
};

static const struct mz_entity *const sample_entities[] = {&sample_cases, &sample_notes};

static const struct mz_menu sample_menus[] = {
    {.key = "sample/cases", .zh = "测试案件", .en = "Sample cases", .entity = "sample_cases"},
};

const struct mz_module mz_sample_module = {
    .name = "sample",
    .zh = "测试模块",
    .en = "Sample module",
    .entities = sample_entities,
    .nentities = MZ_ARRAY_LEN(sample_entities),
    .menus = sample_menus,
    .nmenus = MZ_ARRAY_LEN(sample_menus),
    .dicts = sample_dicts,
    .ndicts = MZ_ARRAY_LEN(sample_dicts),
};
