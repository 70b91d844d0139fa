/* persons.c - the persons and organizations entities and their rules.
 *
 * A person is identified by the GB 11643 ID number: same number, same person
 * (unique among rows not deleted; the engine stores it sealed and indexes
 * its blind index "id_number_bidx"). The rules written in C:
 *  - sex and birth_date come from the ID number when omitted and must agree
 *    with it when given (422 naming the field); when an update corrects the
 *    ID number and leaves them alone, they are derived again;
 *  - hukou and residence divisions must be in the division registry at some
 *    time (a 2012 record in 120225 蓟县 still validates); the reply adds the
 *    names and, for a retired division, today's successor;
 *  - `separated` (人户分离) is derived: the residence division lies in
 *    another street (first 9 digits) than the hukou division;
 *  - a death source needs a death date, which lies between birth and today;
 *    a disability grade needs a category;
 *  - the name index for search (pinyin, trigram) is refreshed after writes,
 *    its keys also after a delete or a change of hukou_division.
 * The scope field is hukou_division: the bureau responsible for a person's
 * records is the one of the hukou (户籍地), which is how assistance is
 * granted; residence is a filter, not a scope (docs/registry.md).
 *
 * Organisations: GB 32100 code (unique), name, kind, division (scope).
 *
 * Tested by tests/unit/test_registry.c and tests/api/registry.test.mjs.
 */
#include "registry/registry_internal.h"

#if __has_include("mz/search.h")
#include "mz/search.h"
#define PERSONS_SEARCH mz_person_search
#define PERSONS_SEARCH_TERMS 1
#else
#define PERSONS_SEARCH NULL
#define PERSONS_SEARCH_TERMS 0
#endif

/* Does a text field differ between row and before? */
static bool changed(const json_t *row, const json_t *before, const char *key)
{
    if (before == NULL)
        return true;
    json_t *a = json_object_get(row, key), *b = json_object_get(before, key);
    return !json_equal(a ? a : json_null(), b ? b : json_null());
}

/* Should a derived field (sex, birth_date) be (re)derived rather than
 * checked? When absent, or when the ID number changed and the field did not. */
static bool derive_field(const struct mz_write *w, const char *key)
{
    json_t *v = json_object_get(w->row, key);
    if (v == NULL || json_is_null(v))
        return true;
    return w->before && changed(w->row, w->before, "id_number") && !changed(w->row, w->before, key);
}

/* mz_division_acceptable, remembered during an import (mz_import_memo_get). */
static bool division_ok(struct mz_req *req, const char *code)
{
    bool ok;
    if (mz_import_memo_get(req, "division", code, &ok))
        return ok;
    ok = mz_division_acceptable(req->db, code);
    mz_import_memo_put(req, "division", code, ok);
    return ok;
}

/* Field checks that need the ID number or the database. */
static int person_validate(struct mz_write *w)
{
    const char *id = registry_json_str(w->row, "id_number");
    struct mz_id_info info;
    const char *reason = NULL;
    char today[11];
    bool id_ok = false;
    mz_today(today);
    if (id && mz_id_check(id, today, &info, &reason) == MZ_OK) {
        id_ok = true;
        const char *sex = registry_json_str(w->row, "sex");
        if (!derive_field(w, "sex") && sex && strcmp(sex, registry_sex_code(info.sex)) != 0)
            mz_errors_add(w->errors, "sex", "id_mismatch", "性别与身份证号不符");
        const char *birth = registry_json_str(w->row, "birth_date");
        if (!derive_field(w, "birth_date") && birth && strcmp(birth, info.birth) != 0)
            mz_errors_add(w->errors, "birth_date", "id_mismatch", "出生日期与身份证号不符");
    } else if (id) {
        mz_errors_add(w->errors, "id_number", "invalid_id_number",
                      reason ? reason : "身份证号码无效");
    }
    const char *hukou = registry_json_str(w->row, "hukou_division");
    if (hukou && changed(w->row, w->before, "hukou_division") &&
        !division_ok(w->req, hukou))
        mz_errors_add(w->errors, "hukou_division", "invalid_division", "户籍地区划代码不在区划库中");
    const char *res = registry_json_str(w->row, "residence_division");
    if (res && changed(w->row, w->before, "residence_division") &&
        !division_ok(w->req, res))
        mz_errors_add(w->errors, "residence_division", "invalid_division",
                      "居住地区划代码不在区划库中");
    const char *died = registry_json_str(w->row, "deceased_on");
    const char *birth = id_ok ? info.birth : registry_json_str(w->row, "birth_date");
    if (died && strcmp(died, today) > 0)
        mz_errors_add(w->errors, "deceased_on", "too_large", "死亡日期不能晚于今天");
    else if (died && birth && strcmp(died, birth) < 0)
        mz_errors_add(w->errors, "deceased_on", "too_small", "死亡日期不能早于出生日期");
    if (!died && registry_json_str(w->row, "death_source"))
        mz_errors_add(w->errors, "death_source", "required_with", "填写死亡信息来源时须填写死亡日期");
    if (registry_json_str(w->row, "disability_grade") && !registry_json_str(w->row, "disability"))
        mz_errors_add(w->errors, "disability_grade", "required_with", "填写残疾等级时须填写残疾类别");
    return 0;
}

/* Derived values: sex and birth date from the ID number, 人户分离. */
static int person_before_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0)
        return 0;
    const char *id = registry_json_str(w->row, "id_number");
    struct mz_id_info info;
    const char *reason;
    if (id && mz_id_check(id, NULL, &info, &reason) == MZ_OK) {
        if (derive_field(w, "sex"))
            json_object_set_new(w->row, "sex", json_string(registry_sex_code(info.sex)));
        if (derive_field(w, "birth_date"))
            json_object_set_new(w->row, "birth_date", json_string(info.birth));
    }
    const char *hukou = registry_json_str(w->row, "hukou_division");
    const char *res = registry_json_str(w->row, "residence_division");
    bool separated = hukou && res && strncmp(hukou, res, 9) != 0;
    json_object_set_new(w->row, "separated", json_boolean(separated));
    return 0;
}

/* Refresh the search index when the names changed, and its keys when the
 * person was deleted or moved to another hukou division (the keys carry the
 * scope division and exist only for persons not deleted). */
static int person_after_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") != 0 && w->before && !changed(w->row, w->before, "name") &&
        !changed(w->row, w->before, "former_names") &&
        !changed(w->row, w->before, "hukou_division"))
        return 0;
    int rc = registry_person_index(w->req, w->id, registry_json_str(w->row, "name"),
                                   registry_json_str(w->row, "former_names"));
    if (rc > 0)
        return rc;
    return rc < 0 ? mz_fail_err(w->req, rc) : 0;
}

/* End of a persons import: write (or forget) the FTS rows it put off. */
static int person_import_done(struct mz_req *req, const struct mz_entity *e, bool keep)
{
    (void)e;
    int rc = registry_person_index_done(req, keep);
    return rc == MZ_OK ? 0 : mz_fail_err(req, rc);
}

/* On the import's helper thread: the search terms of a row's names, as
 * after_write will index them (the names normalised like the row's). */
static void *person_import_prepare(struct mz_arena *a, const struct mz_app *app,
                                   const struct mz_entity *e,
                                   const char *(*cell)(void *ctx, const char *field), void *ctx)
{
    const char *names[2] = {"name", "former_names"}, *text[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        const char *c = cell(ctx, names[i]);
        if (c == NULL)
            continue;
        json_t *v = json_string(c), *norm = NULL;
        const char *code, *message;
        bool ok = v && mz_field_normalise(app, mz_entity_field(e, names[i]), v, &norm, &code,
                                          &message) == MZ_OK;
        if (ok && json_is_string(norm))
            text[i] = mz_arena_strdup(a, json_string_value(norm));
        json_decref(norm);
        json_decref(v);
        if (!ok)
            return NULL;
    }
#if PERSONS_SEARCH_TERMS
    return mz_person_import_prepare(a, text[0], text[1]);
#else
    return NULL;
#endif
}

/* Add a division's name, and today's successor when it was retired (from
 * the per-thread cache of mz_division_names). */
static void present_division(struct mz_req *req, json_t *extra, const char *field,
                             const char *code)
{
    if (code == NULL)
        return;
    struct mz_division_names n;
    char key[64];
    if (mz_division_names(req->db, code, &n) != MZ_OK)
        return;
    snprintf(key, sizeof(key), "%s_name", field);
    if (n.found)
        json_object_set_new(extra, key, json_string(n.name));
    if (n.moved) {
        snprintf(key, sizeof(key), "%s_current", field);
        json_object_set_new(extra, key, json_string(n.current));
        snprintf(key, sizeof(key), "%s_current_name", field);
        if (n.current_found)
            json_object_set_new(extra, key, json_string(n.current_name));
    }
}

/* Derived display values: division names and successors, alive. */
static json_t *person_present(struct mz_req *req, const struct mz_entity *e,
                              const char *(*value)(void *ctx, const char *name), void *ctx)
{
    (void)e;
    if (req->db == NULL)
        return NULL;
    json_t *extra = json_object();
    present_division(req, extra, "hukou_division", value(ctx, "hukou_division"));
    present_division(req, extra, "residence_division", value(ctx, "residence_division"));
    json_object_set_new(extra, "alive", json_boolean(value(ctx, "deceased_on") == NULL));
    return extra;
}

static const struct mz_hooks person_hooks = {
    .validate = person_validate,
    .before_write = person_before_write,
    .after_write = person_after_write,
    .present_extra = person_present,
    .search = PERSONS_SEARCH,
    .import_done = person_import_done,
    .import_prepare = person_import_prepare,
};

/* Field names are the contract's; zh labels are the column headers staff
 * use in their spreadsheets, aliases the other spellings of those headers
 * (import matches name, zh and aliases; dictionary cells may hold labels). */
static const struct mz_field person_fields[] = {
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "身份证号码", .en = "ID number",
     .aliases = "公民身份号码|身份证号|身份证|证件号码|公民身份证号码",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name", .aliases = "人员姓名",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 50},
    {.name = "former_names", .type = MZ_T_TEXT, .zh = "曾用名", .en = "Former names",
     .flags = MZ_F_HAS_MAX | MZ_F_HIDDEN, .max = 200},
    {.name = "sex", .type = MZ_T_DICT, .zh = "性别", .en = "Sex", .dict = "sex"},
    {.name = "birth_date", .type = MZ_T_DATE, .zh = "出生日期", .en = "Birth date",
     .aliases = "出生年月日|出生年月"},
    {.name = "ethnicity", .type = MZ_T_DICT, .zh = "民族", .en = "Ethnic group",
     .dict = "ethnicity"},
    {.name = "hukou_division", .type = MZ_T_DIVISION, .zh = "户籍地区划", .en = "Hukou division",
     .aliases = "户籍地区划代码|户籍区划代码|户籍地行政区划代码",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "hukou_address", .type = MZ_T_TEXT, .zh = "户籍地址", .en = "Hukou address",
     .aliases = "户籍地详址|户籍所在地|户口所在地|户籍住址",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "residence_division", .type = MZ_T_DIVISION, .zh = "居住地区划",
     .en = "Residence division", .aliases = "居住地区划代码|现居住地区划|现居住地区划代码", .flags = MZ_F_INDEXED},
    {.name = "residence_address", .type = MZ_T_TEXT, .zh = "居住地址", .en = "Residence address",
     .aliases = "现居住地址|现住址|现住地址|实际居住地址|居住地详址",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "phone", .type = MZ_T_PHONE, .zh = "联系电话", .en = "Phone",
     .aliases = "联系方式|手机号码|手机号|电话|电话号码",
     .flags = MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "marital_status", .type = MZ_T_DICT, .zh = "婚姻状况", .en = "Marital status",
     .aliases = "婚姻状态",
     .dict = "marital_status"},
    {.name = "education", .type = MZ_T_DICT, .zh = "文化程度", .en = "Education", .aliases = "学历",
     .dict = "education", .flags = MZ_F_HIDDEN},
    {.name = "disability", .type = MZ_T_DICT, .zh = "残疾类别", .en = "Disability category",
     .aliases = "残疾类型",
     .dict = "disability"},
    {.name = "disability_grade", .type = MZ_T_DICT, .zh = "残疾等级", .en = "Disability grade",
     .dict = "disability_grade"},
    {.name = "political_status", .type = MZ_T_DICT, .zh = "政治面貌", .en = "Political status",
     .dict = "political_status", .flags = MZ_F_HIDDEN},
    {.name = "hukou_type", .type = MZ_T_DICT, .zh = "户口性质", .en = "Hukou type", .aliases = "户口类型|户籍性质",
     .dict = "hukou_type", .flags = MZ_F_HIDDEN},
    {.name = "deceased_on", .type = MZ_T_DATE, .zh = "死亡日期", .en = "Date of death",
     .flags = MZ_F_INDEXED},
    {.name = "death_source", .type = MZ_T_DICT, .zh = "死亡信息来源", .en = "Source of death record",
     .dict = "death_source", .flags = MZ_F_HIDDEN},
    {.name = "separated", .type = MZ_T_BOOL, .zh = "人户分离", .en = "Living away from hukou",
     .flags = MZ_F_READONLY},
    {.name = "merged_into", .type = MZ_T_INT, .zh = "已合并至", .en = "Merged into",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
};

const struct mz_entity registry_persons = {
    .name = "persons",
    .zh = "人员",
    .en = "Persons",
    .fields = person_fields,
    .nfields = MZ_ARRAY_LEN(person_fields),
    /* Its hooks read persons by id only: a large import builds the
     * non-unique indexes once at its end (src/engine/io.c). */
    .flags = MZ_E_IMPORT_BULK,
    .hooks = &person_hooks,
    .title_field = "name",
};

/* --- organizations ------------------------------------------------------------------ */

/* The division must be in the registry. */
static int org_validate(struct mz_write *w)
{
    const char *div = registry_json_str(w->row, "division");
    if (div && changed(w->row, w->before, "division") && !mz_division_acceptable(w->req->db, div))
        mz_errors_add(w->errors, "division", "invalid_division", "所属区划代码不在区划库中");
    return 0;
}

static const struct mz_hooks org_hooks = {.validate = org_validate};

static const struct mz_field org_fields[] = {
    {.name = "uscc", .type = MZ_T_USCC, .zh = "统一社会信用代码", .en = "Unified social credit code",
     .aliases = "社会信用代码|信用代码",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SEARCHABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "单位名称", .en = "Name", .aliases = "机构名称|组织名称",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 2, .max = 100},
    {.name = "kind", .type = MZ_T_DICT, .zh = "单位类型", .en = "Kind", .dict = "org_kind",
     .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所属区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "address", .type = MZ_T_TEXT, .zh = "地址", .en = "Address",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "legal_representative", .type = MZ_T_TEXT, .zh = "法定代表人", .en = "Legal representative",
     .aliases = "法人代表|负责人",
     .flags = MZ_F_HAS_MAX | MZ_F_SEARCHABLE, .max = 50},
};

const struct mz_entity registry_organizations = {
    .name = "organizations",
    .zh = "单位",
    .en = "Organisations",
    .fields = org_fields,
    .nfields = MZ_ARRAY_LEN(org_fields),
    .hooks = &org_hooks,
    .title_field = "name",
};
