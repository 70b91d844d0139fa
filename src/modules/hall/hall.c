/* hall.c - the citizen service hall module (网上办事大厅): the matters a
 * citizen may handle online (hall_matters: data staff maintain, seeded by
 * migration 1), online applications (apply.c), booking (booking.c),
 * progress tracking, and the public routes:
 *
 *   GET  /api/v1/public/divisions?parent=CODE  children in force today:
 *        [{code, name, level, has_children}], Cache-Control public 1 hour
 *   GET  /api/v1/public/hall/matters           the matters and whether open
 *   GET  /api/v1/public/hall/slots             open booking slots (booking.c)
 *   POST /api/v1/public/hall/track {"application_no","id_number"}  progress
 *        without login: both must match (404 otherwise, one message for
 *        either), MZ_TRACK_PER_MINUTE look-ups per client address a minute
 *        (default 10) in the counters all servers share, then 429
 *   GET  /api/v1/hall_applications/{id}/timeline  (engine read rules)
 *
 * Reference: docs/portal.md. Tests: tests/api/hall.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mz/registry.h"
#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"
#include "modules/hall/hall_internal.h"

/* --- helpers ----------------------------------------------------------------- */

bool hall_is_citizen(struct mz_req *req)
{
    return req->app->owner && req->app->owner(req) != NULL;
}

int hall_staff_only(struct mz_write *w)
{
    if (hall_is_citizen(w->req))
        return mz_fail(w->req, 403, "forbidden", "只有工作人员可以维护");
    return 0;
}

void hall_today(char out[11])
{
    assist_today(out);
}

void hall_now_hhmm(char out[6])
{
    time_t t = time(NULL) + 8 * 3600; /* Asia/Shanghai, no daylight saving */
    struct tm tm;
    gmtime_r(&t, &tm);
    unsigned h = (unsigned)tm.tm_hour % 24, m = (unsigned)tm.tm_min % 60;
    out[0] = (char)('0' + h / 10);
    out[1] = (char)('0' + h % 10);
    out[2] = ':';
    out[3] = (char)('0' + m / 10);
    out[4] = (char)('0' + m % 10);
    out[5] = '\0';
}

bool hall_matter_open(struct mz_req *req, const char *code, const char *kind, const char **program)
{
    struct mz_stmt *st;
    bool open = false;
    if (mz_db_prepare(req->db,
                      "SELECT program FROM hall_matters WHERE code = ? AND online = 1"
                      " AND (kind = ? OR kind = 'both') AND deleted_at IS NULL",
                      &st) != MZ_OK)
        return false;
    mz_db_bind_text(st, 1, code);
    mz_db_bind_text(st, 2, kind);
    if (mz_db_step(st) == MZ_ROW) {
        open = true;
        if (program)
            *program = mz_db_col_text(st, 0) ? mz_arena_strdup(req->arena, mz_db_col_text(st, 0))
                                             : NULL;
        if (program && *program == NULL && strcmp(kind, "apply") == 0)
            open = false; /* an apply matter must name its program */
    }
    mz_db_done(st);
    return open;
}

const char *hall_number(struct mz_req *req, const char *prefix)
{
    char today[11];
    hall_today(today);
    return mz_arena_printf(req->arena, "%s%.4s%.2s%.2s%06u", prefix, today, today + 5, today + 8,
                           (unsigned)randombytes_uniform(1000000));
}

/* --- dictionaries and matters ------------------------------------------------------ */

static const struct mz_dict_item relation_items[] = {
    {"self", "本人", "Self"},           {"spouse", "配偶", "Spouse"},
    {"child", "子女", "Child"},         {"parent", "父母", "Parent"},
    {"grandchild", "孙子女、外孙子女", "Grandchild"},
    {"grandparent", "祖父母、外祖父母", "Grandparent"},
    {"sibling", "兄弟姐妹", "Sibling"}, {"other", "其他共同生活人员", "Other"},
};
static const struct mz_dict_item kind_items[] = {
    {"apply", "网上申请", "Online application"},
    {"booking", "预约办理", "Booking"},
    {"both", "网上申请与预约", "Both"},
};
static const struct mz_dict dict_relation = {.name = "hall_relation", .zh = "与申请人关系",
                                             .en = "Relation to applicant",
                                             .items = relation_items,
                                             .nitems = MZ_ARRAY_LEN(relation_items)};
static const struct mz_dict dict_kind = {.name = "hall_matter_kind", .zh = "办理方式",
                                         .en = "Matter kind", .items = kind_items,
                                         .nitems = MZ_ARRAY_LEN(kind_items)};
static const struct mz_dict *const hall_dicts[] = {&dict_relation, &dict_kind};

static int matter_validate(struct mz_write *w)
{
    int status = hall_staff_only(w);
    if (status)
        return status;
    /* Only an application matter that is open online needs a program the hall can turn into a
     * case; bookings and matters still closed are free. (Delete runs no validate hook.) */
    const char *kind = json_string_value(json_object_get(w->row, "kind"));
    if (!kind || strcmp(kind, "booking") == 0 || !json_is_true(json_object_get(w->row, "online")))
        return 0;
    json_t *prog = json_object_get(w->row, "program");
    if (prog == NULL || json_is_null(prog))
        mz_errors_add(w->errors, "program", "required", "网上申请的事项须指定救助项目");
    else if (json_is_string(prog) && !hall_case_program(json_string_value(prog)))
        mz_errors_add(w->errors, "online", "not_online_program",
                      "临时救助、医疗救助须到窗口当面登记，暂不能开通网上申请");
    return 0;
}

static const struct mz_hooks matter_hooks = {.validate = matter_validate};

static const struct mz_field matter_fields[] = {
    {.name = "code", .type = MZ_T_TEXT, .zh = "事项代码", .en = "Code",
     .pattern = "^[a-z][a-z0-9_]{1,39}$", .pattern_zh = "小写字母、数字和下划线",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_IMMUTABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "事项名称", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 60},
    {.name = "kind", .type = MZ_T_DICT, .zh = "办理方式", .en = "Kind", .dict = "hall_matter_kind",
     .flags = MZ_F_REQUIRED},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program"},
    {.name = "online", .type = MZ_T_BOOL, .zh = "已开通", .en = "Open", .def = "false"},
    {.name = "description", .type = MZ_T_TEXT, .zh = "说明", .en = "Description",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
    {.name = "sort_order", .type = MZ_T_INT, .zh = "排序", .en = "Order", .def = "100"},
};

const struct mz_entity hall_matters = {
    .name = "hall_matters",
    .zh = "办事事项",
    .en = "Hall matters",
    .fields = matter_fields,
    .nfields = MZ_ARRAY_LEN(matter_fields),
    .hooks = &matter_hooks,
    .write_permission = "hall_matters.configure",
    .title_field = "name",
    .default_sort = "sort_order,id",
};

/* --- public routes ------------------------------------------------------------------ */

int hall_h_public_matters(struct mz_req *req)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT code, name, kind, program, online, description FROM hall_matters"
                           " WHERE deleted_at IS NULL ORDER BY sort_order, id",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW)
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:s?, s:b, s:s?}", "code", mz_db_col_text(st, 0),
                             "name", mz_db_col_text(st, 1), "kind", mz_db_col_text(st, 2),
                             "program", mz_db_col_text(st, 3), "online",
                             mz_db_col_int(st, 4) != 0, "description", mz_db_col_text(st, 5)));
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

int hall_h_public_divisions(struct mz_req *req)
{
    const char *parent = mz_req_query(req, "parent"), *reason;
    char norm[13], today[11];
    if (parent == NULL || *parent == '\0')
        parent = "120000";
    if (mz_division_check(parent, norm, &reason) != MZ_OK || mz_division_level(norm) >= 5)
        return mz_fail_field(req, 400, "bad_filter", "上级区划代码无效", "parent");
    mz_today(today);
    struct mz_stmt *st;
    int rc = mz_db_prepare(
        req->db,
        "SELECT d.code, d.name, d.level, CASE WHEN EXISTS (SELECT 1 FROM division_codes c"
        " WHERE c.parent = d.code AND c.deleted_at IS NULL AND c.valid_from <= ?"
        " AND (c.valid_to IS NULL OR c.valid_to > ?)) THEN 1 ELSE 0 END FROM division_codes d"
        " WHERE d.parent = ? AND d.deleted_at IS NULL AND d.valid_from <= ?"
        " AND (d.valid_to IS NULL OR d.valid_to > ?) ORDER BY d.code",
        &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, today);
    mz_db_bind_text(st, 2, today);
    mz_db_bind_text(st, 3, norm);
    mz_db_bind_text(st, 4, today);
    mz_db_bind_text(st, 5, today);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        char shortc[13];
        mz_division_short(mz_db_col_text(st, 0), shortc);
        const char *lv = mz_db_col_text(st, 2);
        json_array_append_new(items, json_pack("{s:s, s:s, s:i, s:b}", "code", shortc, "name",
                                               mz_db_col_text(st, 1), "level", lv ? atoi(lv) : 0,
                                               "has_children", mz_db_col_int(st, 3) != 0));
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    char pshort[13];
    mz_division_short(norm, pshort);
    mz_req_add_header(req, "Cache-Control", "public, max-age=3600");
    return mz_reply_json(req, 200, json_pack("{s:s, s:o}", "parent", pshort, "items", items));
}

int hall_h_track(struct mz_req *req)
{
    const char *v = getenv("MZ_TRACK_PER_MINUTE");
    int limit = v && atoi(v) > 0 ? atoi(v) : 10;
    int64_t hits = 0;
    const char *k = mz_arena_printf(req->arena, "hall_track:%s", req->client_ip ? req->client_ip : "-");
    int rc = mz_rate_hit(req->db, k, (int64_t)time(NULL) / 60, &hits);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (hits > limit) {
        mz_req_add_header(req, "Retry-After", "60");
        return mz_fail(req, 429, "rate_limited", "查询过于频繁，请一分钟后再试");
    }
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    const char *no = NULL, *idn = NULL, *reason = NULL;
    json_t *errors = json_array();
    struct mz_id_info info;
    mz_json_get_str(in, "application_no", &no);
    mz_json_get_str(in, "id_number", &idn);
    if (no == NULL || *no == '\0')
        mz_errors_add(errors, "application_no", "required", "请填写申请编号");
    else if (strlen(no) > 40)
        mz_errors_add(errors, "application_no", "too_long", "申请编号无效");
    if (idn == NULL || *idn == '\0')
        mz_errors_add(errors, "id_number", "required", "请填写申请人身份证号码");
    else if (mz_id_check(idn, NULL, &info, &reason) != MZ_OK)
        mz_errors_add(errors, "id_number", "invalid_id_number", reason ? reason : "身份证号码无效");
    if (json_array_size(errors) > 0) {
        json_t *extra = json_pack("{s:o, s:O}", "errors", errors, "field",
                                  json_object_get(json_array_get(errors, 0), "field"));
        return mz_fail_with(req, 422, "validation_failed", "填写的信息有误", extra);
    }
    json_decref(errors);
    const struct mz_field *f = mz_entity_field(&hall_applications, "id_number");
    struct mz_stmt *st;
    rc = mz_db_prepare(req->db,
                       "SELECT id, application_no, matter, program, state, created_at, case_id,"
                       " return_reason FROM hall_applications WHERE application_no = ?"
                       " AND id_number_bidx = ? AND deleted_at IS NULL",
                       &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, no);
    mz_db_bind_text(st, 2, mz_field_blind(req, &hall_applications, f, info.number));
    if (mz_db_step(st) != MZ_ROW) {
        mz_db_done(st);
        return mz_fail(req, 404, "not_found", "没有找到该申请：请核对申请编号和身份证号码");
    }
    json_t *row = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:s?}", "id",
                            (json_int_t)mz_db_col_int(st, 0), "application_no",
                            mz_db_col_text(st, 1), "matter", mz_db_col_text(st, 2), "program",
                            mz_db_col_text(st, 3), "state", mz_db_col_text(st, 4), "created_at",
                            mz_db_col_text(st, 5), "case_id", (json_int_t)mz_db_col_int(st, 6),
                            "return_reason", mz_db_col_text(st, 7));
    mz_db_done(st);
    json_t *t = hall_timeline(req, row);
    json_decref(row);
    if (t == NULL)
        return mz_fail_err(req, MZ_ERR_DB);
    return mz_reply_json(req, 200, t);
}

/* --- module ------------------------------------------------------------------------- */

static const struct mz_route hall_routes[] = {
    {"GET", "/api/v1/public/divisions", hall_h_public_divisions, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "行政区划（公开）：下级区划的代码、名称、级别"},
    {"GET", "/api/v1/public/hall/matters", hall_h_public_matters, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "网上办事大厅（公开）：办事事项及是否开通"},
    {"GET", "/api/v1/public/hall/slots", hall_h_public_slots, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "网上办事大厅（公开）：街道的可预约时段"},
    /* Not MZ_ROUTE_WRITE: the look-up is counted in the shared counters
     * (committed at once) and reads nothing else it could change. */
    {"POST", "/api/v1/public/hall/track", hall_h_track, MZ_ROUTE_PUBLIC, NULL, 4096, NULL,
     "办件进度查询（公开）：申请编号与身份证号码"},
    {"GET", "/api/v1/hall_applications/{id}/timeline", hall_h_timeline, 0,
     "hall_applications.read", 0, NULL, "网上申请的办理进度"},
    {"POST", "/api/v1/hall_slots/generate", hall_h_slots_generate, MZ_ROUTE_WRITE,
     "hall_slots.create", 16384, NULL, "批量生成预约时段（dry_run 只计数）"},
};

static const struct mz_migration hall_migrations[] = {
    {.number = 1,
     .name = "seed: hall matters",
     .sql = "INSERT INTO hall_matters (version, created_at, updated_at, created_by, updated_by,"
            " code, name, kind, program, online, description, sort_order) VALUES"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'dibao',"
            " '最低生活保障（低保）申请', 'apply', 'dibao', 1,"
            " '共同生活的家庭成员人均收入低于当地低保标准、财产状况符合规定的家庭', 10),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'temporary',"
            " '临时救助申请', 'apply', 'temporary', 1,"
            " '因火灾、交通事故、突发重大疾病等原因导致基本生活暂时出现严重困难的家庭或个人', 20),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'tekun',"
            " '特困人员救助供养申请', 'apply', 'tekun', 0,"
            " '无劳动能力、无生活来源、无法定赡养抚养扶养义务人的老年人、残疾人和未成年人', 30),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'low_income',"
            " '低收入家庭认定申请', 'apply', 'low_income', 0, '低保边缘家庭的认定', 40),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system',"
            " 'assistance_window', '社会救助窗口办理预约', 'booking', NULL, 1,"
            " '预约到街道（乡镇）便民服务中心社会救助窗口当面办理、咨询', 50),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'marriage',"
            " '婚姻登记预约', 'booking', NULL, 0, '结婚登记、离婚登记预约', 60),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'elderly_allowance',"
            " '高龄津贴申请', 'apply', NULL, 0, NULL, 70),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'disability_subsidy',"
            " '残疾人两项补贴申请', 'apply', NULL, 0, NULL, 80),"
            " (1, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'system', 'system', 'social_org',"
            " '社会组织登记', 'apply', NULL, 0, NULL, 90);"},
    /* An accepted online application becomes a monthly assistance case;
     * 临时救助 is one-off aid registered at the window (hall_case_program). */
    {.number = 2,
     .name = "临时救助 not online",
     .sql = "UPDATE hall_matters SET online = 0 WHERE code = 'temporary' AND updated_by = 'system';"},
};

static const struct mz_entity *const hall_entities[] = {
    &hall_matters, &hall_applications, &hall_slots, &hall_closed_days, &hall_bookings,
};

static const struct mz_menu hall_menus[] = {
    {.key = "hall/applications", .zh = "网上申请", .en = "Online applications",
     .entity = "hall_applications"},
    {.key = "hall/bookings", .zh = "预约办理", .en = "Bookings", .entity = "hall_bookings"},
    {.key = "hall/slots", .zh = "预约时段", .en = "Booking slots", .entity = "hall_slots"},
    {.key = "hall/closed_days", .zh = "不办公日", .en = "Closed days", .entity = "hall_closed_days"},
    {.key = "hall/matters", .zh = "办事事项", .en = "Hall matters", .entity = "hall_matters"},
};

const struct mz_module mz_module_hall = {
    .name = "hall",
    .zh = "网上办事大厅",
    .en = "Citizen service hall",
    .entities = hall_entities,
    .nentities = MZ_ARRAY_LEN(hall_entities),
    .routes = hall_routes,
    .nroutes = MZ_ARRAY_LEN(hall_routes),
    .menus = hall_menus,
    .nmenus = MZ_ARRAY_LEN(hall_menus),
    .migrations = hall_migrations,
    .nmigrations = MZ_ARRAY_LEN(hall_migrations),
    .dicts = hall_dicts,
    .ndicts = MZ_ARRAY_LEN(hall_dicts),
};
