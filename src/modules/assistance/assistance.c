/* assistance.c - the social-assistance module (社会救助): 低保, 低收入, 特困,
 * 临时救助, 医疗救助.
 *
 * What it owns: the effective-dated standards and 分类施保 increments staff
 * maintain (assistance_standards, assistance_increments), the cases and their
 * notices (cases.c), the payroll runs, payments and ledger (payroll.c), and
 * the routes POST /api/v1/assistance/quote (computes, saves nothing),
 * POST /api/v1/assistance/payroll and GET /api/v1/assistance/payroll/{run}/
 * bank-file. Every rate is a row with valid_from, a source and a note: the
 * seed (migration 2) is Tianjin's published history from domain.md §1.
 *
 * Invariants: standards and increments are written only by holders of
 * "assistance_standards.configure" (city level); money is integer fen;
 * a (program, month, division) is paid at most once, and a case at most once
 * a month, a returned payment reissued at most once (unique indexes,
 * migrations 1 and 4).
 *
 * Model, formula and workflow: docs/assistance.md. Tested by
 * tests/unit/test_assistance.c and tests/api/assistance.test.mjs.
 */
#include <stdio.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

/* --- dictionaries --------------------------------------------------------------- */
static const struct mz_dict_item program_items[] = {
    {"dibao", "最低生活保障（低保）", "Minimum living allowance"},
    {"low_income", "低收入家庭（低保边缘）救助", "Low-income household aid"},
    {"tekun", "特困人员救助供养", "Extreme-poverty support"},
    {"temporary", "临时救助", "Temporary assistance"},
    {"medical", "医疗救助", "Medical assistance"},
};
static const struct mz_dict_item zone_items[] = {
    {"urban", "城市", "Urban"},
    {"rural", "农村", "Rural"},
    {"all", "城乡统一", "Urban and rural"},
};
static const struct mz_dict_item category_items[] = {
    {"elderly", "老年人", "Elderly"},
    {"severe_disability", "重度残疾人", "Severe disability"},
    {"minor", "未成年人", "Minor"},
    {"serious_illness", "重病患者", "Serious illness"},
};
static const struct mz_dict_item basis_items[] = {
    {"per_person", "按人补差", "Per person, difference to income"},
    {"per_household", "按户定额", "Flat amount per household"},
};
static const struct mz_dict_item support_mode_items[] = {
    {"institutional", "集中供养", "Institutional"},
    {"home", "分散供养", "At home"},
    {"all", "不区分", "Either"},
};
static const struct mz_dict_item care_grade_items[] = {
    {"self_care", "生活自理", "Self-care"},
    {"partial", "部分丧失生活自理能力", "Partly dependent"},
    {"full", "完全丧失生活自理能力", "Fully dependent"},
};
static const struct mz_dict_item notice_kind_items[] = {
    {"hukou", "户籍地", "Hukou community"},
    {"residence", "居住地", "Residence community"},
};
static const struct mz_dict_item payment_status_items[] = {
    {"paid", "发放", "Paid"},
    {"skipped", "停发", "Skipped"},
    {"failed", "银行退回", "Returned by bank"},
};
static const struct mz_dict_item ledger_entry_items[] = {
    {"debit", "应发", "Due"},
    {"credit", "实发", "Paid out"},
};

#define DICT(var, dname, dzh, den, list)                                                      \
    static const struct mz_dict var = {.name = dname, .zh = dzh, .en = den, .items = list,   \
                                       .nitems = MZ_ARRAY_LEN(list)}
DICT(dict_program, "assistance_program", "救助项目", "Assistance program", program_items);
DICT(dict_zone, "assistance_zone", "城乡类别", "Urban or rural", zone_items);
DICT(dict_category, "assistance_category", "分类施保类别", "Member category", category_items);
DICT(dict_basis, "assistance_basis", "计发方式", "Basis", basis_items);
DICT(dict_support_mode, "assistance_support_mode", "供养方式", "Support mode", support_mode_items);
DICT(dict_care_grade, "assistance_care_grade", "护理等级", "Care grade", care_grade_items);
DICT(dict_notice_kind, "assistance_notice_kind", "公示地", "Notice place", notice_kind_items);
DICT(dict_payment_status, "assistance_payment_status", "发放状态", "Payment status",
     payment_status_items);
DICT(dict_ledger_entry, "assistance_ledger_entry", "借贷", "Ledger entry", ledger_entry_items);
static const struct mz_dict dict_medical_group = {
    .name = "assistance_medical_group", .zh = "医疗救助对象类别", .en = "Medical aid group",
    .items = assist_medical_group_items, .nitems = 5};
static const struct mz_dict dict_temporary_category = {
    .name = "assistance_temporary_category", .zh = "临时救助类型", .en = "Temporary aid category",
    .items = assist_temporary_category_items, .nitems = 2};
static const struct mz_dict dict_review_category = {
    .name = "assistance_review_category", .zh = "复核类别", .en = "Review category",
    .items = assist_review_category_items, .nitems = 3};

static const struct mz_dict *const assist_dicts[] = {
    &dict_program, &dict_zone,           &dict_category,    &dict_basis,
    &dict_notice_kind, &dict_payment_status, &dict_ledger_entry, &dict_review_category,
    &dict_medical_group, &dict_temporary_category, &dict_support_mode, &dict_care_grade, &assist_dict_bank_format,
    &assist_dict_bank_encoding,
};

/* --- standards and increments ------------------------------------------------- */

static const struct mz_field standard_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "zone", .type = MZ_T_DICT, .zh = "城乡类别", .en = "Urban or rural",
     .dict = "assistance_zone", .def = "\"all\"", .flags = MZ_F_REQUIRED},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "标准（分/人·月）", .en = "Amount (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000},
    {.name = "basis", .type = MZ_T_DICT, .zh = "计发方式", .en = "Basis", .dict = "assistance_basis",
     .def = "\"per_person\""},
    {.name = "support_mode", .type = MZ_T_DICT, .zh = "供养方式", .en = "Support mode",
     .dict = "assistance_support_mode", .def = "\"all\""},
    {.name = "band_program", .type = MZ_T_DICT, .zh = "收入区间参照项目", .en = "Band of",
     .dict = "assistance_program"},
    {.name = "band_percent", .type = MZ_T_INT, .zh = "收入区间上限（参照标准的%）",
     .en = "Band upper bound (%)", .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 1000},
    {.name = "minimum_fen", .type = MZ_T_MONEY, .zh = "最低救助金额（分/户·月）",
     .en = "Minimum benefit (fen)", .flags = MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0,
     .max = 100000000, .def = "0"},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

static const struct mz_entity assist_standards = {
    .name = "assistance_standards",
    .zh = "救助标准",
    .en = "Assistance standards",
    .fields = standard_fields,
    .nfields = MZ_ARRAY_LEN(standard_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "program,-valid_from",
};

static const struct mz_field increment_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "category", .type = MZ_T_DICT, .zh = "类别", .en = "Category",
     .dict = "assistance_category", .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "percent", .type = MZ_T_INT, .zh = "增发比例（标准的%）", .en = "Percent of standard",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

static const struct mz_entity assist_increments = {
    .name = "assistance_increments",
    .zh = "分类施保比例",
    .en = "Category increments",
    .fields = increment_fields,
    .nfields = MZ_ARRAY_LEN(increment_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "program,category,-valid_from",
};

static const struct mz_field care_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_INDEXED, .def = "\"tekun\""},
    {.name = "care_grade", .type = MZ_T_DICT, .zh = "护理等级", .en = "Care grade",
     .dict = "assistance_care_grade", .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "护理费（分/人·月）", .en = "Amount (fen)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 0, .max = 100000000},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

const struct mz_entity assist_care_standards = {
    .name = "assistance_care_standards",
    .zh = "护理标准",
    .en = "Care standards",
    .fields = care_fields,
    .nfields = MZ_ARRAY_LEN(care_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "program,care_grade,-valid_from",
};

/* --- members ------------------------------------------------------------------ */

/* A field error on members[i].name. */
static void member_error(struct mz_req *req, json_t *errors, size_t i, const char *name,
                         const char *code, const char *message)
{
    mz_errors_add(errors, mz_arena_printf(req->arena, "members[%zu].%s", i, name), code,
                  message);
}

int assist_parse_members(struct mz_req *req, json_t *array, bool case_members,
                         struct assist_member **out, int *n, json_t *errors)
{
    size_t before = json_array_size(errors), i;
    json_t *mem;
    *out = NULL;
    *n = 0;
    if (!json_is_array(array) || json_array_size(array) == 0) {
        mz_errors_add(errors, "members", "required", "至少需要一名家庭成员");
        return 0;
    }
    if (json_array_size(array) > ASSIST_MAX_MEMBERS) {
        mz_errors_add(errors, "members", "too_large", "家庭成员过多（最多 30 人）");
        return 0;
    }
    struct assist_member *m =
        mz_arena_calloc(req->arena, json_array_size(array), sizeof(*m));
    json_array_foreach(array, i, mem) {
        if (!json_is_object(mem)) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "members[%zu]", i), "type",
                          "家庭成员应为对象");
            continue;
        }
        json_t *inc = json_object_get(mem, "monthly_income_fen");
        if (!json_is_integer(inc))
            member_error(req, errors, i, "monthly_income_fen", inc ? "type" : "required",
                         "月收入应为整数（分）");
        else if (json_integer_value(inc) < 0 || json_integer_value(inc) > 100000000)
            member_error(req, errors, i, "monthly_income_fen", "too_small",
                         "月收入应在 0 至 100 万元之间");
        else
            m[i].income_fen = json_integer_value(inc);
        if (case_members) {
            json_t *pid = json_object_get(mem, "person_id");
            int64_t count = 0;
            char idtext[24];
            snprintf(idtext, sizeof(idtext), "%lld", (long long)json_integer_value(pid));
            const char *params[] = {idtext};
            if (!json_is_integer(pid) || json_integer_value(pid) <= 0)
                member_error(req, errors, i, "person_id", "required", "请选择家庭成员");
            else if (mz_db_query_int(req->db,
                                     "SELECT count(*) FROM persons WHERE id = ?"
                                     " AND deleted_at IS NULL",
                                     &count, 1, params) != MZ_OK ||
                     count == 0)
                member_error(req, errors, i, "person_id", "no_such_reference", "人员不存在");
            m[i].label = mz_arena_printf(req->arena, "人员#%s", idtext);
            json_t *scan = json_object_get(mem, "authorisation_scan");
            if (scan && !json_is_null(scan) && !json_is_string(scan))
                member_error(req, errors, i, "authorisation_scan", "type", "授权书扫描件应为文本");
        } else {
            json_t *id = json_object_get(mem, "id_number");
            struct mz_id_info info;
            const char *reason = NULL;
            if (id && !json_is_null(id)) {
                if (!json_is_string(id) ||
                    mz_id_check(json_string_value(id), NULL, &info, &reason) != MZ_OK)
                    member_error(req, errors, i, "id_number", "invalid_id_number",
                                 reason ? reason : "身份证号码无效");
                else
                    m[i].label = mz_arena_printf(req->arena, "%.6s********%.4s", info.number,
                                                 info.number + 14);
            }
        }
        json_t *grade = json_object_get(mem, "care_grade");
        if (grade && !json_is_null(grade)) {
            const char *g = json_string_value(grade);
            if (g == NULL || (strcmp(g, "self_care") && strcmp(g, "partial") && strcmp(g, "full")))
                member_error(req, errors, i, "care_grade", "not_in_dictionary",
                             "护理等级应为 self_care、partial 或 full");
            else
                m[i].care_grade = mz_arena_strdup(req->arena, g);
        }
        json_t *cats = json_object_get(mem, "categories"), *c;
        size_t k;
        if (cats && !json_is_null(cats) && !json_is_array(cats)) {
            member_error(req, errors, i, "categories", "type", "类别应为数组");
        } else if (json_array_size(cats) > ASSIST_MAX_CATEGORIES) {
            member_error(req, errors, i, "categories", "too_large", "类别过多");
        } else {
            json_array_foreach(cats, k, c) {
                const char *code = json_string_value(c);
                bool dup = false;
                for (int j = 0; j < m[i].ncategories; j++)
                    dup = dup || (code && strcmp(m[i].categories[j], code) == 0);
                if (!assist_category_ok(code) || dup)
                    member_error(req, errors, i, "categories", "not_in_dictionary",
                                 "类别应为 elderly、severe_disability、minor 或 serious_illness，且不重复");
                else
                    m[i].categories[m[i].ncategories++] =
                        mz_arena_strdup(req->arena, code);
            }
        }
    }
    if (json_array_size(errors) == before) {
        *out = m;
        *n = (int)json_array_size(array);
    }
    return 0;
}

/* --- quote ---------------------------------------------------------------------- */

/* POST /api/v1/assistance/quote - compute a benefit without saving anything. */
int assist_h_quote(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    const char *program = NULL, *division = NULL, *month = NULL, *zone = NULL, *reason;
    char div12[13];
    struct assist_member *members;
    struct assist_quote q;
    int n = 0;
    if (body == NULL)
        return req->status;
    json_t *errors = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value) {
        if (strcmp(key, "program") && strcmp(key, "division") && strcmp(key, "month") &&
            strcmp(key, "zone") && strcmp(key, "members") && strcmp(key, "support_mode"))
            mz_errors_add(errors, key, "unknown_field", "未知字段");
    }
    if (mz_json_get_str(body, "program", &program) != MZ_OK || !assist_program_ok(program))
        mz_errors_add(errors, "program", program ? "not_in_dictionary" : "required",
                      "救助项目应为 dibao、low_income、tekun、temporary 或 medical");
    if (mz_json_get_str(body, "division", &division) != MZ_OK ||
        mz_division_check(division, div12, &reason) != MZ_OK)
        mz_errors_add(errors, "division", division ? "invalid_division" : "required",
                      "区划代码无效");
    if (mz_json_get_str(body, "month", &month) != MZ_OK || !assist_month_ok(month))
        mz_errors_add(errors, "month", month ? "pattern" : "required", "月份应为 YYYY-MM");
    int rc = mz_json_get_str(body, "zone", &zone);
    if (rc == MZ_ERR_INVALID ||
        (rc == MZ_OK && strcmp(zone, "urban") != 0 && strcmp(zone, "rural") != 0))
        mz_errors_add(errors, "zone", "not_in_dictionary", "城乡类别应为 urban 或 rural");
    if (rc != MZ_OK)
        zone = NULL;
    const char *mode = NULL;
    int mrc = mz_json_get_str(body, "support_mode", &mode);
    if (mrc == MZ_ERR_INVALID || (mrc == MZ_OK && strcmp(mode, "institutional") &&
                                  strcmp(mode, "home") && strcmp(mode, "all")))
        mz_errors_add(errors, "support_mode", "not_in_dictionary",
                      "供养方式应为 institutional（集中）、home（分散）或 all");
    if (mrc != MZ_OK)
        mode = NULL;
    assist_parse_members(req, json_object_get(body, "members"), false, &members, &n, errors);
    if (json_array_size(errors) > 0)
        return mz_fail_with(req, 422, "validation_failed", "请求参数有误",
                            json_pack("{s:O, s:o}", "field",
                                      json_object_get(json_array_get(errors, 0), "field"),
                                      "errors", errors));
    json_decref(errors);
    rc = assist_compute_mode(req->db, program, div12, zone, mode, month, members, n, &q);
    if (rc != MZ_OK)
        return assist_fail_lookup(req, rc, program);
    return mz_reply_json(
        req, 200,
        json_pack("{s:I, s:I, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:o, s:I, s:s}", "standard_fen",
                  (json_int_t)q.standard.amount_fen, "standard_id", (json_int_t)q.standard.id,
                  "standard_valid_from", q.standard.valid_from, "zone", q.standard.zone,
                  "members", q.members, "household_income_fen",
                  (json_int_t)q.household_income_fen, "per_capita_income_fen",
                  (json_int_t)q.per_capita_income_fen, "increments_fen",
                  (json_int_t)q.increments_fen, "monthly_benefit_fen",
                  (json_int_t)q.monthly_benefit_fen, "trace", q.trace, "care_fen",
                  (json_int_t)q.care_fen, "support_mode", q.standard.support_mode));
}

/* --- migrations: constraints and the seed --------------------------------------- */

#define SEED_COLS                                                                              \
    "INSERT INTO assistance_standards (version, created_at, updated_at, created_by, updated_by," \
    " program, division, zone, valid_from, amount_fen, basis, minimum_fen, source, note) VALUES "
/* The seed rows' creation time: a fixed literal keeps the seed portable SQL
 * (SQLite's strftime does not exist on PostgreSQL). */
#define NOW "'2026-11-28T00:00:00.000Z'"
#define SEED(program, zone, from, fen, basis, source, note)                                    \
    "(1, " NOW ", " NOW ", 'system', 'system', '" program "', '120000000000', '" zone "', '"    \
    from "', " fen ", '" basis "', 0, '" source "', '" note "')"

static const struct mz_migration assist_migrations[] = {
    {1, "payroll constraints",
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_runs ON assistance_payroll_runs"
     " (program, month, division) WHERE deleted_at IS NULL;"
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payments_case_month ON assistance_payments"
     " (case_id, month) WHERE deleted_at IS NULL;"
     "ALTER TABLE assistance_payments ADD COLUMN account_sealed TEXT;"
     "CREATE INDEX IF NOT EXISTS ix_assistance_cases_payroll ON assistance_cases"
     " (program, state, division) WHERE deleted_at IS NULL;",
     NULL},
    {2, "tianjin standards history",
     SEED_COLS
     SEED("dibao", "urban", "2009-04-01", "43000", "per_person", "sohu 2009-05-22",
          "天津市城市低保标准 430 元/人·月") ","
     SEED("dibao", "rural", "2009-04-01", "23000", "per_person", "sohu 2009-05-22",
          "天津市农村低保标准 230 元/人·月") ","
     SEED("dibao", "urban", "2016-04-01", "78000", "per_person", "huaxia 2016-03-21",
          "城市 780 元/人·月") ","
     SEED("dibao", "rural", "2016-04-01", "70000", "per_person", "huaxia 2016-03-21",
          "农村 700 元/人·月") ","
     SEED("dibao", "all", "2018-04-01", "92000", "per_person", "cnr 2018-04-04",
          "城乡统一 920 元/人·月；来源只说 2018 年，执行日按 4 月 1 日录入，待核实") ","
     SEED("dibao", "all", "2019-04-01", "98000", "per_person", "[P] 部分证实",
          "城乡统一 980 元/人·月") ","
     SEED("dibao", "all", "2025-09-01", "104500", "per_person", "津民规〔2025〕6号",
          "城乡统一 1045 元/人·月（原 1010 元，其间调整日期未录入）") ","
     SEED("low_income", "all", "2018-04-01", "27600", "per_household", "domain.md §1 [C]",
          "低收入（低保边缘）家庭按户救助：低保标准的 30%（276 元/户·月）") ","
     SEED("low_income", "all", "2025-09-01", "31400", "per_household", "domain.md §1 [C]",
          "低收入（低保边缘）家庭按户救助：低保标准的 30%（314 元/户·月）") ","
     SEED("tekun", "all", "2025-01-01", "187000", "per_person", "domain.md §1 [C] 天津 2025",
          "特困人员基本生活标准 1870 元/人·月（城乡集中供养）；农村分散供养为 1530 元，"
          "供养方式维度尚未建模；执行日按 2025-01-01 录入，待核实") ";",
     NULL},
    {3, "example increments",
     "INSERT INTO assistance_increments (version, created_at, updated_at, created_by,"
     " updated_by, program, category, division, percent, valid_from, source, note) VALUES"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'elderly', '120000000000', 10,"
     " '2019-04-01', '示例', '示例数据，可配置：老年人按标准的 10% 增发'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'severe_disability', '120000000000',"
     " 20, '2019-04-01', '示例', '示例数据，可配置：重度残疾人按标准的 20% 增发'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'minor', '120000000000', 10,"
     " '2019-04-01', '示例', '示例数据，可配置：未成年人按标准的 10% 增发'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'serious_illness', '120000000000',"
     " 15, '2019-04-01', '示例', '示例数据，可配置：重病患者按标准的 15% 增发');",
     NULL},
    {4, "reissues",
     "DROP INDEX IF EXISTS ux_assistance_payments_case_month;"
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payments_case_month_once ON"
     " assistance_payments (case_id, month) WHERE reissue_of IS NULL AND deleted_at IS NULL;"
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payments_reissue ON assistance_payments"
     " (reissue_of) WHERE reissue_of IS NOT NULL AND deleted_at IS NULL;",
     NULL},
    {5, "review schedules",
     "INSERT INTO assistance_review_rules (version, created_at, updated_at, created_by,"
     " updated_by, program, category, division, zone, months, valid_from, source, note) VALUES"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'variable', '120000000000', 'urban', 1,"
     " '2012-09-01', '国发〔2012〕45号', '收入来源不固定的家庭：城市按月复核'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'variable', '120000000000', 'rural', 3,"
     " '2012-09-01', '国发〔2012〕45号', '收入来源不固定的家庭：农村按季复核'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'stable', '120000000000', 'all', 6,"
     " '2012-09-01', '示例', '示例数据，可配置：短期内收入变化不大的家庭每半年复核'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', 'fixed', '120000000000', 'all', 12,"
     " '2012-09-01', '示例', '示例数据，可配置：收入基本无变化的家庭每年复核');",
     NULL},
    {6, "low-income band",
     "UPDATE assistance_standards SET band_program = 'dibao', band_percent = 150"
     " WHERE program = 'low_income' AND basis = 'per_household' AND band_program IS NULL;",
     NULL},
    {7, "case members as rows", NULL, assist_case_members_migrate},
    {8, "public notices index",
     "CREATE INDEX IF NOT EXISTS ix_assistance_notices_public ON assistance_notices"
     " (division, start_date) WHERE deleted_at IS NULL;",
     NULL},
    {9, "medical assistance example rules",
     "INSERT INTO assistance_medical_rules (version, created_at, updated_at, created_by,"
     " updated_by, target_group, division, valid_from, deductible_fen, ratio_percent,"
     " annual_cap_fen, source, note) VALUES"
     " (1, " NOW ", " NOW ", 'system', 'system', 'tekun', '120000000000', '2024-01-01', 0, 80,"
     " 5000000, '示例（domain.md §1，广德 2024）', '示例数据，非天津标准，可配置'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'dibao', '120000000000', '2024-01-01', 0, 75,"
     " 5000000, '示例（domain.md §1，广德 2024）', '示例数据，非天津标准，可配置'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'relapse', '120000000000', '2024-01-01', 150000,"
     " 70, 5000000, '示例（domain.md §1，广德 2024）', '示例数据，非天津标准，可配置'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'low_income', '120000000000', '2024-01-01',"
     " 300000, 60, 5000000, '示例（domain.md §1，广德 2024）', '示例数据，非天津标准，可配置');",
     NULL},
    {10, "tekun support modes",
     SEED_COLS
     SEED("tekun", "rural", "2025-01-01", "153000", "per_person", "domain.md §1 [C] 天津 2025",
          "特困人员基本生活标准：农村分散供养 1530 元/人·月；执行日按 2025-01-01 录入，待核实") ";"
     "UPDATE assistance_standards SET support_mode = 'home' WHERE program = 'tekun'"
     " AND zone = 'rural' AND amount_fen = 153000 AND support_mode IS NULL;"
     "UPDATE assistance_standards SET support_mode = 'all', note = '特困人员基本生活标准 1870 元/人·月"
     "（城乡集中供养；城市分散供养暂按此标准）；执行日按 2025-01-01 录入，待核实'"
     " WHERE program = 'tekun' AND amount_fen = 187000;"
     "UPDATE assistance_standards SET support_mode = 'all' WHERE support_mode IS NULL;",
     NULL},
    {11, "member incomes and traces sealed", NULL, assist_sealed_migrate},
    /* Payroll speed: the indexes a run's snapshot does not need go (the
     * unique reissue index serves reissue_of); the returned payments a run
     * reissues are found without reading every payment ever made. */
    {12, "payment indexes",
     "DROP INDEX IF EXISTS ix_assistance_payments_household_id;"
     "DROP INDEX IF EXISTS ix_assistance_payments_payee_person_id;"
     "DROP INDEX IF EXISTS ix_assistance_payments_reissue_of;"
     "CREATE INDEX IF NOT EXISTS ix_assistance_payments_failed ON assistance_payments"
     " (program, case_id) WHERE status = 'failed' AND deleted_at IS NULL;",
     NULL},
    /* 医疗救助 bills (bills.c): a bill is paid once; its ledger rows. */
    {13, "medical bill payments",
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payments_bill ON assistance_payments"
     " (bill_id) WHERE bill_id IS NOT NULL AND reissue_of IS NULL AND deleted_at IS NULL;"
     "CREATE INDEX IF NOT EXISTS ix_assistance_ledger_bill ON assistance_ledger (bill_id)"
     " WHERE bill_id IS NOT NULL AND deleted_at IS NULL;",
     NULL},
    /* 临时救助 cases (temporary.c): paid once; their ledger rows; the example
     * rules (configurable: the bureau's own figures are to be entered). */
    {14, "temporary assistance",
     "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payments_temporary ON assistance_payments"
     " (temporary_id) WHERE temporary_id IS NOT NULL AND reissue_of IS NULL"
     " AND deleted_at IS NULL;"
     "CREATE INDEX IF NOT EXISTS ix_assistance_ledger_temporary ON assistance_ledger"
     " (temporary_id) WHERE temporary_id IS NOT NULL AND deleted_at IS NULL;"
     "INSERT INTO assistance_temporary_rules (version, created_at, updated_at, created_by,"
     " updated_by, category, division, valid_from, multiple_percent, cap_fen, source, note)"
     " VALUES (1, " NOW ", " NOW ", 'system', 'system', 'emergency', '120000000000',"
     " '2019-01-01', 300, 3000000, '示例（民发〔2018〕23号：一般不超过当地低保标准的若干倍）',"
     " '示例数据，非天津标准，可配置：每人 3 个月低保标准，每户每次不超过 3 万元'),"
     " (1, " NOW ", " NOW ", 'system', 'system', 'expenditure', '120000000000', '2019-01-01',"
     " 600, 5000000, '示例（民发〔2018〕23号）',"
     " '示例数据，非天津标准，可配置：每人 6 个月低保标准，每户每次不超过 5 万元');",
     NULL},
    /* The packed payroll snapshot (packs.c; docs/assistance.md). */
    {15, "payment packs", NULL, assist_packs_migrate},
    /* The benefit traces as paid, referred to by the packs (packs.c). */
    {16, "payment trace copies", NULL, assist_traces_migrate},
};

/* --- routes, menus, module -------------------------------------------------------- */

static const struct mz_route assist_routes[] = {
    {"POST", "/api/v1/assistance/quote", assist_h_quote, 0, "assistance_standards.read", 0,
     NULL, "救助金额试算（不保存）"},
    {"POST", "/api/v1/assistance/payroll", assist_h_payroll, MZ_ROUTE_WRITE,
     "assistance_payroll_runs.run", 0, NULL, "生成月度发放批次"},
    {"GET", "/api/v1/assistance/payroll/{run}/bank-file", assist_h_bank_file, 0,
     "assistance_payroll_runs.export", 0, NULL, "银行代发文件（默认 CSV 或 ?layout= 银行格式，含控制合计）"},
    {"POST", "/api/v1/assistance/payroll/{run}/return-file", assist_h_return_file,
     MZ_ROUTE_WRITE | MZ_ROUTE_RAW_BODY, "assistance_payroll_runs.reconcile", MZ_BODY_LIMIT_UPLOAD,
     NULL, "导入银行回盘文件并对账"},
    {"GET", "/api/v1/assistance/ledger/balance", assist_h_balance, 0, "assistance_ledger.read", 0,
     NULL, "救助台账余额（应发 − 实发）"},
    /* The payments of packed runs live in packs (payments.c): these replace
     * the generic list, export and get of assistance_payments. */
    {"GET", "/api/v1/assistance_payments", assist_h_payments, 0, "assistance_payments.read", 0,
     NULL, "救助发放明细（含打包发放批次）"},
    {"GET", "/api/v1/assistance_payments/export", assist_h_payments_export, 0,
     "assistance_payments.export", 0, NULL, "导出救助发放明细（含打包发放批次）"},
    {"GET", "/api/v1/assistance_payments/{id}", assist_h_payment, 0, "assistance_payments.read",
     0, NULL, "查看救助发放明细（含打包发放批次）"},
    {"GET", "/api/v1/assistance/reviews/due", assist_h_reviews_due, 0, "assistance_cases.read", 0,
     NULL, "到期待复核的案件"},
    {"POST", "/api/v1/assistance/medical/quote", assist_h_medical_quote, 0,
     "assistance_standards.read", 0, NULL, "医疗救助金额试算（不保存）"},
    {"GET", "/api/v1/public/notices", assist_h_public_notices, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "救助公示（公众查看，仅公示期内）"},
    {"GET", "/api/v1/assistance/reports/monthly", assist_h_monthly_report, 0,
     "assistance_payments.read", 0, NULL, "救助月报（按下级区划和项目；可导出 Excel）"},
    {"GET", "/api/v1/assistance_cases/{id}/notice.pdf", assist_h_notice_pdf, 0,
     "assistance_cases.read", 0, NULL, "救助决定通知书 / 不予救助决定书（PDF）"},
    {"GET", "/api/v1/assistance_medical_bills/{id}/notice.pdf", assist_h_bill_notice_pdf, 0,
     "assistance_medical_bills.read", 0, NULL, "医疗救助决定通知书 / 不予救助决定书（PDF）"},
    {"GET", "/api/v1/assistance_temporary_cases/{id}/notice.pdf", assist_h_temporary_notice_pdf, 0,
     "assistance_temporary_cases.read", 0, NULL, "临时救助决定通知书 / 不予救助决定书（PDF）"},
};

static const struct mz_menu assist_menus[] = {
    {.key = "assistance/cases", .zh = "救助案件", .en = "Cases", .entity = "assistance_cases"},
    {.key = "assistance/notices", .zh = "救助公示", .en = "Notices", .entity = "assistance_notices"},
    {.key = "assistance/runs", .zh = "发放批次", .en = "Payroll runs",
     .entity = "assistance_payroll_runs"},
    {.key = "assistance/standards", .zh = "救助标准", .en = "Standards",
     .entity = "assistance_standards"},
    {.key = "assistance/bank_layouts", .zh = "银行文件格式", .en = "Bank file layouts",
     .entity = "assistance_bank_layouts"},
    {.key = "assistance/care_standards", .zh = "护理标准", .en = "Care standards",
     .entity = "assistance_care_standards"},
    {.key = "assistance/temporary_cases", .zh = "临时救助", .en = "Temporary assistance",
     .entity = "assistance_temporary_cases"},
    {.key = "assistance/temporary_rules", .zh = "临时救助标准", .en = "Temporary aid rules",
     .entity = "assistance_temporary_rules"},
    {.key = "assistance/medical_bills", .zh = "医疗救助", .en = "Medical assistance",
     .entity = "assistance_medical_bills"},
    {.key = "assistance/medical_rules", .zh = "医疗救助规则", .en = "Medical aid rules",
     .entity = "assistance_medical_rules"},
    {.key = "assistance/review_rules", .zh = "复核周期", .en = "Review schedules",
     .entity = "assistance_review_rules"},
    {.key = "assistance/increments", .zh = "分类施保比例", .en = "Increments",
     .entity = "assistance_increments"},
};

static const struct mz_entity *const assist_entities[] = {
    &assist_standards, &assist_increments, &assist_cases,  &assist_notices,
    &assist_runs,      &assist_payments,   &assist_ledger, &assist_review_rules,
    &assist_medical_rules, &assist_care_standards, &assist_bank_layouts, &assist_medical_bills,
    &assist_temporary_rules, &assist_temporary_cases,
};

const struct mz_module mz_module_assistance = {
    .name = "assistance",
    .zh = "社会救助",
    .en = "Social assistance",
    .entities = assist_entities,
    .nentities = MZ_ARRAY_LEN(assist_entities),
    .routes = assist_routes,
    .nroutes = MZ_ARRAY_LEN(assist_routes),
    .menus = assist_menus,
    .nmenus = MZ_ARRAY_LEN(assist_menus),
    .migrations = assist_migrations,
    .nmigrations = MZ_ARRAY_LEN(assist_migrations),
    .dicts = assist_dicts,
    .ndicts = MZ_ARRAY_LEN(assist_dicts),
    .rekey = assist_rekey,
};
