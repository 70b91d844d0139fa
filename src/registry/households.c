/* households.c - households (户籍户 and 共同生活家庭) and their members.
 *
 * Data model: `households` (kind hukou|assistance, division = scope,
 * address, head_person_id) and `household_members` (household_id,
 * person_id, relation GB/T 4761, from_date, to_date, division copied from
 * the household so the scope check works on members alone). The two kinds
 * are separate households: a person is in at most one hukou household and at
 * most one assistance household at a time.
 *
 * Invariants:
 *  - a person has at most one open membership (to_date NULL) per household
 *    kind: another is 409 duplicate on person_id;
 *  - memberships are never rewritten to move someone: a move ends the open
 *    membership (to_date = the move date) and starts a new one, both through
 *    the engine, so both keep their history (POST /api/v1/persons/{id}/move);
 *  - a member's division follows its household's division;
 *  - creating a household with a head makes the head a member (relation 02).
 * The reply of a household lists its members ({person_id, relation, from,
 * to}, the contract's names).
 *
 * Tested by tests/api/registry.test.mjs.
 */
#include "registry/registry_internal.h"

/* The kind and division of a household (not deleted); false if absent. */
static bool household_info(struct mz_db *db, int64_t id, char kind[16], char division[13])
{
    struct mz_stmt *st;
    if (mz_db_prepare(db, "SELECT kind, division FROM households WHERE id = ? AND deleted_at IS NULL",
                      &st) != MZ_OK)
        return false;
    mz_db_bind_int(st, 1, id);
    bool found = false;
    if (mz_db_step(st) == MZ_ROW) {
        const char *k = mz_db_col_text(st, 0), *d = mz_db_col_text(st, 1);
        snprintf(kind, 16, "%s", k ? k : "");
        snprintf(division, 13, "%s", d ? d : "");
        found = true;
    }
    mz_db_done(st);
    return found;
}

/* The person's open membership of a household kind other than row id
 * `except`: its id, version and household, or 0. */
static int64_t open_membership(struct mz_db *db, int64_t person_id, const char *kind,
                               int64_t except, int64_t *version, int64_t *household_id)
{
    struct mz_stmt *st;
    if (mz_db_prepare(db,
                      "SELECT m.id, m.version, m.household_id FROM household_members m"
                      " JOIN households h ON h.id = m.household_id"
                      " WHERE m.person_id = ? AND m.to_date IS NULL AND m.deleted_at IS NULL"
                      " AND h.kind = ? AND m.id <> ? LIMIT 1",
                      &st) != MZ_OK)
        return -1;
    mz_db_bind_int(st, 1, person_id);
    mz_db_bind_text(st, 2, kind);
    mz_db_bind_int(st, 3, except);
    int64_t id = 0;
    if (mz_db_step(st) == MZ_ROW) {
        id = mz_db_col_int(st, 0);
        if (version)
            *version = mz_db_col_int(st, 1);
        if (household_id)
            *household_id = mz_db_col_int(st, 2);
    }
    mz_db_done(st);
    return id;
}

/* --- households ------------------------------------------------------------------ */

static int household_validate(struct mz_write *w)
{
    const char *div = registry_json_str(w->row, "division");
    if (div && (w->before == NULL || !json_equal(json_object_get(w->row, "division"),
                                                 json_object_get(w->before, "division"))) &&
        !mz_division_acceptable(w->req->db, div))
        mz_errors_add(w->errors, "division", "invalid_division", "所属区划代码不在区划库中");
    return 0;
}

/* The head becomes a member on create; members follow a division change. */
static int household_after_write(struct mz_write *w)
{
    if (strcmp(w->action, "create") == 0) {
        json_int_t head = json_integer_value(json_object_get(w->row, "head_person_id"));
        if (head <= 0)
            return 0;
        char today[11];
        mz_today(today);
        json_t *input = json_object();
        json_object_set_new(input, "household_id", json_integer(w->id));
        json_object_set_new(input, "person_id", json_integer(head));
        json_object_set_new(input, "relation", json_string("02"));
        json_object_set_new(input, "from_date", json_string(today));
        int status = mz_entity_create(w->req, &registry_household_members, input, NULL);
        json_decref(input);
        return status;
    }
    if (strcmp(w->action, "update") == 0 && w->before &&
        !json_equal(json_object_get(w->row, "division"), json_object_get(w->before, "division"))) {
        struct mz_stmt *st;
        int rc = mz_db_prepare(w->req->db,
                               "UPDATE household_members SET division = ? WHERE household_id = ?"
                               " AND deleted_at IS NULL",
                               &st);
        if (rc != MZ_OK)
            return mz_fail_err(w->req, rc);
        mz_db_bind_text(st, 1, registry_json_str(w->row, "division"));
        mz_db_bind_int(st, 2, w->id);
        rc = mz_db_step(st);
        mz_db_done(st);
        if (rc < 0)
            return mz_fail_err(w->req, rc);
    }
    return 0;
}

/* The members (current first, then past), with the contract's names. */
static void household_present(struct mz_req *req, const struct mz_entity *e, json_t *row)
{
    (void)e;
    struct mz_stmt *st;
    if (req->db == NULL ||
        mz_db_prepare(req->db,
                      "SELECT m.id, m.person_id, p.name, m.relation, m.from_date, m.to_date"
                      " FROM household_members m LEFT JOIN persons p ON p.id = m.person_id"
                      " WHERE m.household_id = ? AND m.deleted_at IS NULL"
                      " ORDER BY m.to_date IS NOT NULL, m.from_date, m.id",
                      &st) != MZ_OK)
        return;
    mz_db_bind_int(st, 1, json_integer_value(json_object_get(row, "id")));
    json_t *members = json_array();
    while (mz_db_step(st) == MZ_ROW) {
        json_t *m = json_object();
        json_object_set_new(m, "id", json_integer(mz_db_col_int(st, 0)));
        json_object_set_new(m, "person_id", json_integer(mz_db_col_int(st, 1)));
        json_object_set_new(m, "name", mz_json_str(mz_db_col_text(st, 2)));
        json_object_set_new(m, "relation", mz_json_str(mz_db_col_text(st, 3)));
        json_object_set_new(m, "from", mz_json_str(mz_db_col_text(st, 4)));
        json_object_set_new(m, "to", mz_json_str(mz_db_col_text(st, 5)));
        json_array_append_new(members, m);
    }
    mz_db_done(st);
    json_object_set_new(row, "members", members);
}

static const struct mz_hooks household_hooks = {
    .validate = household_validate,
    .after_write = household_after_write,
    .present = household_present,
};

static const struct mz_field household_fields[] = {
    {.name = "kind", .type = MZ_T_DICT, .zh = "家庭类型", .en = "Kind", .dict = "household_kind",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE, .def = "\"hukou\""},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所属区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "address", .type = MZ_T_TEXT, .zh = "住址", .en = "Address",
     .flags = MZ_F_HAS_MAX | MZ_F_SEARCHABLE, .max = 200},
    {.name = "head_person_id", .type = MZ_T_REF, .zh = "户主", .en = "Head of household",
     .ref = "persons"},
};

const struct mz_entity registry_households = {
    .name = "households",
    .zh = "家庭",
    .en = "Households",
    .fields = household_fields,
    .nfields = MZ_ARRAY_LEN(household_fields),
    .hooks = &household_hooks,
    .title_field = "address",
};

/* --- household_members --------------------------------------------------------------- */

static int member_validate(struct mz_write *w)
{
    const char *from = registry_json_str(w->row, "from_date");
    const char *to = registry_json_str(w->row, "to_date");
    if (from && to && strcmp(to, from) < 0)
        mz_errors_add(w->errors, "to_date", "too_small", "结束日期不能早于开始日期");
    char kind[16], division[13];
    int64_t hid = json_integer_value(json_object_get(w->row, "household_id"));
    if (!household_info(w->req->db, hid, kind, division))
        return 0; /* the engine reports the missing reference */
    int64_t pid = json_integer_value(json_object_get(w->row, "person_id"));
    if (to == NULL && pid > 0) {
        int64_t other = open_membership(w->req->db, pid, kind, w->id, NULL, NULL);
        if (other < 0)
            return mz_fail_err(w->req, MZ_ERR_DB);
        if (other > 0)
            mz_errors_add(w->errors, "person_id", "duplicate",
                          strcmp(kind, "hukou") == 0 ? "该人员已是另一户籍户的在册成员，请先办理迁出"
                                                     : "该人员已是另一共同生活家庭的在册成员");
    }
    return 0;
}

/* Copy the household's division; default the start date to today. */
static int member_before_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0)
        return 0;
    char kind[16], division[13];
    int64_t hid = json_integer_value(json_object_get(w->row, "household_id"));
    if (household_info(w->req->db, hid, kind, division))
        json_object_set_new(w->row, "division", json_string(division));
    if (registry_json_str(w->row, "from_date") == NULL) {
        char today[11];
        mz_today(today);
        json_object_set_new(w->row, "from_date", json_string(today));
    }
    return 0;
}

static const struct mz_hooks member_hooks = {
    .validate = member_validate,
    .before_write = member_before_write,
};

static const struct mz_field member_fields[] = {
    {.name = "household_id", .type = MZ_T_REF, .zh = "家庭", .en = "Household", .ref = "households",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE},
    {.name = "person_id", .type = MZ_T_REF, .zh = "成员", .en = "Person", .ref = "persons",
     .flags = MZ_F_REQUIRED},
    {.name = "relation", .type = MZ_T_DICT, .zh = "与户主关系", .en = "Relationship to head",
     .dict = "family_relation", .flags = MZ_F_REQUIRED},
    {.name = "from_date", .type = MZ_T_DATE, .zh = "开始日期", .en = "From"},
    {.name = "to_date", .type = MZ_T_DATE, .zh = "结束日期", .en = "To", .flags = MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "所属区划", .en = "Division",
     .flags = MZ_F_SCOPE | MZ_F_READONLY},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note", .flags = MZ_F_HAS_MAX, .max = 200},
};

const struct mz_entity registry_household_members = {
    .name = "household_members",
    .zh = "家庭成员",
    .en = "Household members",
    .fields = member_fields,
    .nfields = MZ_ARRAY_LEN(member_fields),
    .hooks = &member_hooks,
    .default_sort = "household_id,from_date",
};

/* --- moving a person ------------------------------------------------------------------ */

int registry_move_person(struct mz_req *req, int64_t person_id, int64_t household_id,
                         const char *relation, const char *date, json_t **membership_out)
{
    char kind[16], division[13];
    int64_t version = 0, from_household = 0;
    *membership_out = NULL;
    json_t *target = mz_entity_get(req, &registry_households, household_id);
    if (target == NULL)
        return req->status;
    json_decref(target);
    if (!household_info(req->db, household_id, kind, division))
        return mz_fail(req, 404, "not_found", "目标家庭不存在");
    int64_t open = open_membership(req->db, person_id, kind, 0, &version, &from_household);
    if (open < 0)
        return mz_fail_err(req, MZ_ERR_DB);
    if (open > 0 && from_household == household_id)
        return mz_fail_field(req, 409, "duplicate", "该人员已是这个家庭的在册成员", "to_household");
    if (open > 0) {
        json_t *end = json_object();
        json_object_set_new(end, "to_date", json_string(date));
        int status = mz_entity_update(req, &registry_household_members, open, end, version, NULL);
        json_decref(end);
        if (status)
            return status;
    }
    json_t *input = json_object();
    json_object_set_new(input, "household_id", json_integer(household_id));
    json_object_set_new(input, "person_id", json_integer(person_id));
    json_object_set_new(input, "relation", json_string(relation));
    json_object_set_new(input, "from_date", json_string(date));
    int status = mz_entity_create(req, &registry_household_members, input, membership_out);
    json_decref(input);
    return status;
}

/* POST /api/v1/persons/{id}/move {"to_household","relation","date"} - end the
 * person's open membership of that household kind on date and start a new
 * one. 200 {"ended": id or null, "membership": row}. */
int registry_h_person_move(struct mz_req *req)
{
    const char *s = mz_req_param(req, "id");
    char *end = NULL;
    long long pid = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || pid <= 0)
        return mz_fail_field(req, 400, "bad_id", "记录编号应为正整数", "id");
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    int64_t hid = 0;
    const char *relation = NULL, *date = NULL, *reason;
    if (mz_json_get_int(body, "to_household", &hid) != MZ_OK || hid <= 0)
        return mz_fail_field(req, 422, "validation_failed", "请指定迁入的家庭（to_household）",
                             "to_household");
    if (mz_json_get_str(body, "relation", &relation) != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "请填写与户主关系（relation）", "relation");
    int rc = mz_json_get_str(body, "date", &date);
    if (rc == MZ_ERR_INVALID || (rc == MZ_OK && mz_date_check(date, &reason) != MZ_OK))
        return mz_fail_field(req, 422, "validation_failed", "迁移日期无效，应为 YYYY-MM-DD", "date");
    if (rc != MZ_OK) {
        char *today = mz_arena_alloc(req->arena, 11);
        mz_today(today);
        date = today;
    }
    json_t *person = mz_entity_get(req, &registry_persons, pid);
    if (person == NULL)
        return req->status;
    json_decref(person);
    /* Which membership ends (for the reply). */
    char kind[16], division[13];
    int64_t ended = 0;
    if (household_info(req->db, hid, kind, division))
        ended = open_membership(req->db, pid, kind, 0, NULL, NULL);
    json_t *membership = NULL;
    int status = registry_move_person(req, pid, hid, relation, date, &membership);
    if (status)
        return status;
    json_t *reply = json_object();
    json_object_set_new(reply, "ended", ended > 0 ? json_integer(ended) : json_null());
    json_object_set_new(reply, "membership", membership ? membership : json_null());
    return mz_reply_json(req, 200, reply);
}
