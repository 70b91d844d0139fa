/* registry.c - the registry module (基础数据): its descriptor, the
 * dictionary_items entity, the seed migrations and the shared helpers.
 *
 * The registry owns the reference data every business system reads:
 * administrative divisions with history (divisions.c), dictionaries
 * (dicts.c), persons (persons.c), households and their members
 * (households.c), organisations (persons.c), duplicate review and merge
 * (duplicates.c) and the synthetic demo city (demo.c). It is the first
 * module in modules.def: the others reference its entities.
 *
 * Migrations (after the engine has created the entity tables):
 *   1 seed divisions        Tianjin, districts (current and retired), the NBS
 *                           streets, generated communities; change records
 *   2 seed dictionary items version 1 of every dictionary of every module
 *                           known at build time (the registry's C tables)
 *
 * Search and pinyin (src/registry/pinyin*.c, search.c) are another
 * engineer's: their functions are used when include/mz/pinyin.h exists at
 * build time, and skipped otherwise (registry_person_index, registry_pinyin).
 */
#include "registry/registry_internal.h"

#if __has_include("mz/pinyin.h") && __has_include("mz/search.h")
#include "mz/pinyin.h"
#include "mz/search.h"
#define REGISTRY_HAVE_PINYIN 1
#else
#define REGISTRY_HAVE_PINYIN 0
#endif

const char *registry_json_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

const char *registry_sex_code(char id_sex)
{
    return id_sex == 'M' ? "1" : "2";
}

int registry_person_index(struct mz_req *req, int64_t person_id, const char *name,
                          const char *former_names)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_index(req, person_id, name, former_names);
#else
    (void)req, (void)person_id, (void)name, (void)former_names;
    return 0;
#endif
}

int registry_person_index_done(struct mz_req *req, bool keep)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_index_done(req, keep);
#else
    (void)req, (void)keep;
    return 0;
#endif
}

int registry_person_unindex(struct mz_req *req, int64_t person_id)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_unindex(req, person_id);
#else
    (void)req, (void)person_id;
    return 0;
#endif
}

int registry_person_index_db(struct mz_db *db, struct mz_arena *arena, int64_t person_id,
                             const char *name, const char *former_names)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_index_db(db, arena, person_id, name, former_names);
#else
    (void)db, (void)arena, (void)person_id, (void)name, (void)former_names;
    return 0;
#endif
}

int registry_person_bulk_begin(struct mz_db *db, struct mz_person_bulk **out)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_bulk_begin(db, out);
#else
    (void)db;
    *out = NULL;
    return 0;
#endif
}

int registry_person_bulk_add(struct mz_person_bulk *b, int64_t person_id, const char *name,
                             const char *division)
{
#if REGISTRY_HAVE_PINYIN
    return b ? mz_person_bulk_add(b, person_id, name, NULL, division) : 0;
#else
    (void)b, (void)person_id, (void)name, (void)division;
    return 0;
#endif
}

int registry_person_bulk_write_keys(struct mz_person_bulk *b, struct mz_db *db)
{
#if REGISTRY_HAVE_PINYIN
    return b ? mz_person_bulk_write_keys(b, db) : 0;
#else
    (void)b, (void)db;
    return 0;
#endif
}

int registry_person_bulk_finish(struct mz_person_bulk *b)
{
#if REGISTRY_HAVE_PINYIN
    return b ? mz_person_bulk_finish(b) : 0;
#else
    (void)b;
    return 0;
#endif
}

void registry_person_bulk_abort(struct mz_person_bulk *b)
{
#if REGISTRY_HAVE_PINYIN
    mz_person_bulk_abort(b);
#else
    (void)b;
#endif
}

/* The search index tables (a migration step); nothing without the module. */
static int registry_search_migrate(struct mz_db *db)
{
#if REGISTRY_HAVE_PINYIN
    return mz_person_search_migrate(db);
#else
    (void)db;
    return MZ_OK;
#endif
}

char *registry_pinyin(struct mz_arena *a, const char *utf8)
{
#if REGISTRY_HAVE_PINYIN
    return mz_pinyin_full(a, utf8);
#else
    (void)a, (void)utf8;
    return NULL;
#endif
}

/* --- dictionary_items ---------------------------------------------------------- */

/* The same code may appear once per dictionary among items in force. */
static int dict_item_validate(struct mz_write *w)
{
    const char *from = registry_json_str(w->row, "valid_from");
    const char *to = registry_json_str(w->row, "valid_to");
    if (from && to && strcmp(to, from) <= 0)
        mz_errors_add(w->errors, "valid_to", "too_small", "失效日期应晚于生效日期");
    struct mz_stmt *st;
    int rc = mz_db_prepare(w->req->db,
                           "SELECT 1 FROM dictionary_items WHERE dict = ? AND code = ?"
                           " AND deleted_at IS NULL AND valid_to IS NULL AND id <> ? LIMIT 1",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    mz_db_bind_text(st, 1, registry_json_str(w->row, "dict"));
    mz_db_bind_text(st, 2, registry_json_str(w->row, "code"));
    mz_db_bind_int(st, 3, w->id);
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc == MZ_ROW && to == NULL)
        mz_errors_add(w->errors, "code", "duplicate", "该字典中已有相同代码的有效条目");
    return rc < 0 ? mz_fail_err(w->req, rc) : 0;
}

static const struct mz_hooks dict_item_hooks = {.validate = dict_item_validate};

/* Items of a dictionary in force today: not deleted, started, not ended. */
#define DICT_IN_FORCE                                                                              \
    " deleted_at IS NULL AND (valid_from IS NULL OR valid_from <= ?)"                             \
    " AND (valid_to IS NULL OR valid_to > ?)"

/* Does the database hold any item of dict (in force or not)? */
static bool dict_in_table(struct mz_db *db, const char *dict)
{
    struct mz_stmt *st;
    if (mz_db_prepare(db, "SELECT 1 FROM dictionary_items WHERE dict = ? AND deleted_at IS NULL"
                          " LIMIT 1", &st) != MZ_OK)
        return false;
    mz_db_bind_text(st, 1, dict);
    bool found = mz_db_step(st) == MZ_ROW;
    mz_db_done(st);
    return found;
}

/* app->dict_has: the dictionary as administrators edited it. A code is valid
 * when an item of dict with that code is in force today; a dictionary with
 * no items in the table at all (another module's, declared after the seed)
 * falls back to its declared C table. */
static bool registry_dict_has(struct mz_req *req, const char *dict, const char *code)
{
    struct mz_stmt *st;
    char today[11];
    mz_today(today);
    if (req->db == NULL || mz_db_prepare(req->db, "SELECT 1 FROM dictionary_items WHERE dict = ?"
                                                  " AND code = ? AND" DICT_IN_FORCE " LIMIT 1",
                                         &st) != MZ_OK)
        goto declared;
    mz_db_bind_text(st, 1, dict);
    mz_db_bind_text(st, 2, code);
    mz_db_bind_text(st, 3, today);
    mz_db_bind_text(st, 4, today);
    int rc = mz_db_step(st);
    mz_db_done(st);
    if (rc == MZ_ROW)
        return true;
    if (rc < 0 || dict_in_table(req->db, dict))
        return false;
declared:;
    const struct mz_dict *d = mz_app_dict(req->app, dict);
    for (size_t i = 0; d && i < d->nitems; i++) {
        if (strcmp(d->items[i].code, code) == 0)
            return true;
    }
    return false;
}

/* app->dict_items: the items in force today in their sort order, or NULL
 * when the table holds none of dict (the engine uses the C table). */
static json_t *registry_dict_items(struct mz_req *req, const char *dict)
{
    struct mz_stmt *st;
    char today[11];
    mz_today(today);
    if (req->db == NULL ||
        mz_db_prepare(req->db, "SELECT code, zh, en FROM dictionary_items WHERE dict = ? AND"
                               DICT_IN_FORCE " ORDER BY sort_order, code", &st) != MZ_OK)
        return NULL;
    mz_db_bind_text(st, 1, dict);
    mz_db_bind_text(st, 2, today);
    mz_db_bind_text(st, 3, today);
    json_t *items = json_array();
    int rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *x = json_object();
        json_object_set_new(x, "code", mz_json_str(mz_db_col_text(st, 0)));
        json_object_set_new(x, "zh", mz_json_str(mz_db_col_text(st, 1)));
        json_object_set_new(x, "en", mz_json_str(mz_db_col_text(st, 2)));
        json_array_append_new(items, x);
    }
    mz_db_done(st);
    if (rc < 0 || (json_array_size(items) == 0 && !dict_in_table(req->db, dict))) {
        json_decref(items);
        return NULL;
    }
    return items;
}

/* The module's init: validation and /meta read the edited dictionaries. */
static int registry_init(struct mz_app *app, struct mz_db *db)
{
    (void)db;
    app->dict_has = registry_dict_has;
    app->dict_items = registry_dict_items;
    return MZ_OK;
}

static const struct mz_field dict_item_fields[] = {
    {.name = "dict", .type = MZ_T_TEXT, .zh = "字典", .en = "Dictionary",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED | MZ_F_HAS_MAX, .max = 48,
     .pattern = "^[a-z][a-z0-9_]*$", .pattern_zh = "小写字母、数字和下划线"},
    {.name = "code", .type = MZ_T_TEXT, .zh = "代码", .en = "Code",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 32},
    {.name = "zh", .type = MZ_T_TEXT, .zh = "中文名称", .en = "Chinese label",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 100},
    {.name = "en", .type = MZ_T_TEXT, .zh = "英文名称", .en = "English label",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "standard", .type = MZ_T_TEXT, .zh = "依据标准", .en = "Standard",
     .flags = MZ_F_HAS_MAX, .max = 100},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "生效日期", .en = "Valid from"},
    {.name = "valid_to", .type = MZ_T_DATE, .zh = "失效日期", .en = "Valid to"},
    {.name = "sort_order", .type = MZ_T_INT, .zh = "排序", .en = "Sort order"},
    {.name = "dict_version", .type = MZ_T_INT, .zh = "版本", .en = "Version", .def = "1",
     .flags = MZ_F_HAS_MIN, .min = 1},
};

const struct mz_entity registry_dictionary_items = {
    .name = "dictionary_items",
    .zh = "字典条目",
    .en = "Dictionary items",
    .fields = dict_item_fields,
    .nfields = MZ_ARRAY_LEN(dict_item_fields),
    .hooks = &dict_item_hooks,
    .title_field = "zh",
    .default_sort = "dict,sort_order",
};

int registry_seed_dictionary_items(struct mz_db *db)
{
    struct mz_stmt *st;
    char now[32];
    mz_now_rfc3339(now);
    int rc = mz_db_prepare(db,
                           "INSERT INTO dictionary_items (version, created_at, updated_at,"
                           " created_by, updated_by, dict, code, zh, en, standard, valid_from,"
                           " sort_order, dict_version) VALUES (1, ?, ?, 'seed', 'seed', ?, ?, ?, ?, ?,"
                           " ?, ?, 1)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    for (size_t i = 0; rc == MZ_OK && i < mz_registry_ndicts; i++) {
        const struct mz_dict *d = mz_registry_dicts[i];
        for (size_t k = 0; rc == MZ_OK && k < d->nitems; k++) {
            mz_db_bind_text(st, 1, now);
            mz_db_bind_text(st, 2, now);
            mz_db_bind_text(st, 3, d->name);
            mz_db_bind_text(st, 4, d->items[k].code);
            mz_db_bind_text(st, 5, d->items[k].zh);
            mz_db_bind_text(st, 6, d->items[k].en);
            mz_db_bind_text(st, 7, d->standard);
            mz_db_bind_text(st, 8, REGISTRY_COVERAGE_START);
            mz_db_bind_int(st, 9, (int64_t)(k + 1) * 10);
            int s = mz_db_step(st);
            mz_db_reset(st);
            rc = s == MZ_DONE ? MZ_OK : (s < 0 ? s : MZ_ERR_DB);
        }
    }
    mz_db_done(st);
    return rc;
}

/* --- the module ------------------------------------------------------------------ */

static const struct mz_migration registry_migrations[] = {
    {1, "seed divisions", NULL, registry_seed_divisions},
    {2, "seed dictionary items", NULL, registry_seed_dictionary_items},
    {3, "division lookup indexes",
     "CREATE INDEX IF NOT EXISTS ix_division_codes_parent ON division_codes(parent, code)"
     " WHERE deleted_at IS NULL;"
     "CREATE INDEX IF NOT EXISTS ix_persons_dup ON persons(name, birth_date)"
     " WHERE deleted_at IS NULL;"
     "CREATE INDEX IF NOT EXISTS ix_household_members_open ON household_members(person_id, to_date)"
     " WHERE deleted_at IS NULL;",
     NULL},
    {4, "person search index", NULL, registry_search_migrate},
    {5, "dictionary item lookup index",
     "CREATE INDEX IF NOT EXISTS ix_dictionary_items_code ON dictionary_items(dict, code)"
     " WHERE deleted_at IS NULL",
     NULL},
    /* person_key with each key's scope division, only persons not deleted
     * (the same idempotent step: upgrades a database indexed before). */
    {6, "person search keys with the scope division", NULL, registry_search_migrate},
};

static const struct mz_entity *const registry_entities[] = {
    &registry_division_codes, &registry_division_changes, &registry_dictionary_items,
    &registry_persons,        &registry_households,       &registry_household_members,
    &registry_organizations,
};

static const struct mz_route registry_routes[] = {
    {"GET", "/api/v1/divisions", registry_h_divisions, 0, NULL, 0, NULL,
     "行政区划：下级区划列表（at= 按日期解析历史）"},
    {"GET", "/api/v1/divisions/{code}", registry_h_division, 0, NULL, 0, NULL,
     "行政区划：单个代码及其沿革"},
    {"POST", "/api/v1/persons/{id}/move", registry_h_person_move, MZ_ROUTE_WRITE,
     "household_members.create", 0, NULL, "人员迁移：结束原家庭成员关系并加入新家庭"},
    {"GET", "/api/v1/persons/duplicates", registry_h_duplicates, 0, "persons.read", 0, NULL,
     "疑似重复人员"},
    {"POST", "/api/v1/persons/merge", registry_h_merge, MZ_ROUTE_WRITE, "persons.merge", 0, NULL,
     "合并重复人员"},
    {"GET", "/api/v1/persons/{id}/records", registry_h_person_records, 0, "persons.read", 0,
     NULL, "以人为中心：各业务中与该人员有关的记录"},
};

static const struct mz_menu registry_menus[] = {
    {.key = "registry/persons", .zh = "人员信息", .en = "Persons", .entity = "persons"},
    {.key = "registry/households", .zh = "家庭信息", .en = "Households", .entity = "households"},
    {.key = "registry/household_members", .zh = "家庭成员", .en = "Household members",
     .entity = "household_members"},
    {.key = "registry/organizations", .zh = "单位信息", .en = "Organisations",
     .entity = "organizations"},
    {.key = "registry/duplicates", .zh = "疑似重复人员", .en = "Duplicate review",
     .route = "/registry/duplicates", .permission = "persons.merge"},
    {.key = "registry/divisions", .zh = "行政区划", .en = "Divisions", .entity = "division_codes"},
    {.key = "registry/division_changes", .zh = "区划变更", .en = "Division changes",
     .entity = "division_changes"},
    {.key = "registry/dictionary_items", .zh = "数据字典", .en = "Dictionaries",
     .entity = "dictionary_items"},
};

const struct mz_module mz_module_registry = {
    .name = "registry",
    .zh = "基础数据",
    .en = "Registry",
    .entities = registry_entities,
    .nentities = MZ_ARRAY_LEN(registry_entities),
    .routes = registry_routes,
    .nroutes = MZ_ARRAY_LEN(registry_routes),
    .menus = registry_menus,
    .nmenus = MZ_ARRAY_LEN(registry_menus),
    .migrations = registry_migrations,
    .nmigrations = MZ_ARRAY_LEN(registry_migrations),
    .dicts = mz_registry_dicts,
    .ndicts = REGISTRY_NDICTS,
    .init = registry_init,
};
