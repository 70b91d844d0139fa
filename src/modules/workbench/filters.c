/* filters.c - saved list filters of the staff workbench (issue 5 item 3).
 *
 * A user keeps named views of a generic list: the list's URL query (filters,
 * sort, page size) and the columns shown, per entity, in mz_saved_filters.
 * Only the owner renames, changes or deletes them (another user's id is
 * 404). A filter marked `shared` is also listed (read-only, `mine` false,
 * with its owner's name) to every colleague who may read the entity; it
 * carries only a query, so applying it still shows each user only the rows
 * of their own scope.
 *
 *   GET    /api/v1/me/filters?entity=E       the caller's filters of E by name,
 *                                            then colleagues' shared ones
 *   POST   /api/v1/me/filters                {entity, name, query, columns?, shared?}
 *   PATCH  /api/v1/me/filters/{id}           {name?, query?, columns?, shared?}
 *   DELETE /api/v1/me/filters/{id}
 *
 * Validation: the entity must exist and be readable by the caller; the name
 * is 1..FILTER_NAME_MAX characters after trimming and unique per user and
 * entity (409 duplicate); query is an object of query-parameter names
 * ([a-z0-9_.], ≤ 64) to strings (≤ 500 characters), columns an array of
 * field names; the stored JSON is at most FILTER_QUERY_MAX bytes; at most
 * FILTER_COUNT_MAX filters per user and entity (409 too_many).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "modules/workbench/workbench_internal.h"
#include "mz/validate.h"

int wb_migrate_filters(struct mz_db *db)
{
    return wb_exec_ddl(db,
                       "CREATE TABLE mz_saved_filters (id %s, username TEXT NOT NULL,"
                       " entity TEXT NOT NULL, name TEXT NOT NULL, query TEXT NOT NULL,"
                       " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                       "CREATE UNIQUE INDEX ux_mz_saved_filters ON mz_saved_filters"
                       " (username, entity, name);",
                       mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK));
}

static const char *actor(struct mz_req *req)
{
    return req->actor ? req->actor : "-";
}

/* The entity named by text if the caller may read it; else NULL after 422. */
static const struct mz_entity *readable_entity(struct mz_req *req, const char *name)
{
    const struct mz_entity *e = name ? mz_app_entity(req->app, name) : NULL;
    char perm[128];
    if (e != NULL) {
        snprintf(perm, sizeof(perm), "%s.read", e->name);
        if (mz_req_may(req, perm))
            return e;
    }
    mz_fail_field(req, 422, "validation_failed", "数据类型不存在或无权查看", "entity");
    return NULL;
}

/* The trimmed name (arena) or NULL after 422. */
static const char *valid_name(struct mz_req *req, json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL) {
        mz_fail_field(req, 422, "validation_failed", "请填写筛选方案名称", "name");
        return NULL;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *name = mz_arena_strndup(req->arena, s, n);
    bool ctrl = false;
    for (size_t i = 0; i < n; i++)
        ctrl |= (unsigned char)name[i] < 0x20;
    if (n == 0 || ctrl || !mz_utf8_text_ok(name, n) || mz_utf8_length(name, n) > FILTER_NAME_MAX) {
        mz_fail_field(req, 422, "validation_failed",
                      n == 0 ? "请填写筛选方案名称" : "名称应为 1 到 40 个字符，不含控制字符",
                      "name");
        return NULL;
    }
    return name;
}

static bool param_name_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) || k[i] == '_' ||
              k[i] == '.'))
            return false;
    }
    return true;
}

/* {"query":{...},"columns":[...]} as compact JSON text (arena) built from the
 * input's members, or NULL after 422. fallback: the stored document (PATCH). */
static const char *valid_query(struct mz_req *req, json_t *input, json_t *fallback)
{
    json_t *query = json_object_get(input, "query");
    json_t *columns = json_object_get(input, "columns");
    if (query == NULL && fallback)
        query = json_object_get(fallback, "query");
    if (columns == NULL && fallback)
        columns = json_object_get(fallback, "columns");
    if (!json_is_object(query)) {
        mz_fail_field(req, 422, "validation_failed", "筛选条件应为对象（查询参数 → 值）", "query");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(query, k, v)
    {
        const char *s = json_string_value(v);
        if (!param_name_ok(k) || s == NULL || !mz_utf8_text_ok(s, strlen(s)) ||
            mz_utf8_length(s, strlen(s)) > 500) {
            mz_fail_field(
                req, 422, "validation_failed",
                "筛选条件的参数名只能含小写字母、数字、下划线和点，值应为不超过 500 字的文本",
                "query");
            return NULL;
        }
    }
    if (columns != NULL && !json_is_null(columns)) {
        size_t i;
        bool ok = json_is_array(columns) && json_array_size(columns) <= 200;
        json_array_foreach(columns, i, v)
        {
            if (!ok)
                break;
            ok = json_is_string(v) && param_name_ok(json_string_value(v));
        }
        if (!ok) {
            mz_fail_field(req, 422, "validation_failed", "显示列应为字段名数组", "columns");
            return NULL;
        }
    }
    json_t *doc = json_object();
    json_object_set(doc, "query", query);
    if (columns && !json_is_null(columns))
        json_object_set(doc, "columns", columns);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (text == NULL) {
        mz_fail(req, 500, "internal", "内部错误");
        return NULL;
    }
    size_t n = strlen(text);
    char *out = n <= FILTER_QUERY_MAX ? mz_arena_strdup(req->arena, text) : NULL;
    free(text);
    if (out == NULL)
        mz_fail_field(req, 422, "validation_failed", "筛选方案过大（最多 4096 字节）", "query");
    return out;
}

static json_t *filter_json(struct mz_req *req, struct mz_stmt *st)
{
    json_t *o = json_object();
    const char *doc_text = mz_db_col_text(st, 3);
    json_t *doc = doc_text ? json_loads(doc_text, 0, NULL) : NULL;
    json_object_set_new(o, "id", json_integer(mz_db_col_int(st, 0)));
    json_object_set_new(o, "entity", mz_json_str(mz_db_col_text(st, 1)));
    json_object_set_new(o, "name", mz_json_str(mz_db_col_text(st, 2)));
    json_t *q = doc ? json_object_get(doc, "query") : NULL;
    json_t *c = doc ? json_object_get(doc, "columns") : NULL;
    json_object_set_new(o, "query", q ? json_incref(q) : json_object());
    json_object_set_new(o, "columns", c ? json_incref(c) : json_null());
    json_object_set_new(o, "created_at", mz_json_str(mz_db_col_text(st, 4)));
    json_object_set_new(o, "updated_at", mz_json_str(mz_db_col_text(st, 5)));
    json_object_set_new(o, "shared", json_boolean(mz_db_col_int(st, 6) != 0));
    const char *owner = mz_db_col_text(st, 7);
    bool mine = owner && strcmp(owner, actor(req)) == 0;
    json_object_set_new(o, "mine", json_boolean(mine));
    if (!mine) {
        const char *owner_name = mz_db_col_text(st, 8);
        json_object_set_new(o, "owner", mz_json_str(owner));
        json_object_set_new(o, "owner_name", mz_json_str(owner_name ? owner_name : owner));
    }
    json_decref(doc);
    return o;
}

#define FILTER_COLS                                                                          \
    "f.id, f.entity, f.name, f.query, f.created_at, f.updated_at, f.shared, f.username,"   \
    " (SELECT u.name FROM users u WHERE u.username = f.username AND u.deleted_at IS NULL)"

/* shared: absent keeps *out, else a boolean (422 otherwise). */
static int valid_shared(struct mz_req *req, json_t *input, bool *out)
{
    json_t *v = json_object_get(input, "shared");
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return mz_fail_field(req, 422, "validation_failed", "是否共享应为 true 或 false", "shared");
    *out = json_is_true(v);
    return 0;
}

/* The caller's filter id as JSON, or NULL after 404. */
static json_t *load_own(struct mz_req *req, int64_t id)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(
        req->db, "SELECT " FILTER_COLS " FROM mz_saved_filters f WHERE f.id = ? AND f.username = ?",
        &st);
    if (rc != MZ_OK) {
        mz_fail_err(req, rc);
        return NULL;
    }
    mz_db_bind_int(st, 1, id);
    mz_db_bind_text(st, 2, actor(req));
    rc = mz_db_step(st);
    json_t *o = rc == MZ_ROW ? filter_json(req, st) : NULL;
    mz_db_done(st);
    if (rc < 0)
        mz_fail_err(req, rc);
    else if (o == NULL)
        mz_fail(req, 404, "not_found", "筛选方案不存在");
    return o;
}

/* 409 duplicate when another filter of the caller on entity has name. */
static int check_unique(struct mz_req *req, const char *entity, const char *name, int64_t self)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)self);
    const char *params[] = {actor(req), entity, name, idtext};
    int64_t n = 0;
    int rc =
        mz_db_query_int(req->db,
                        "SELECT count(*) FROM mz_saved_filters WHERE username = ? AND entity = ?"
                        " AND name = ? AND id <> ?",
                        &n, 4, params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (n > 0)
        return mz_fail_field(req, 409, "duplicate", "已有同名的筛选方案", "name");
    return 0;
}

int wb_filters_list(struct mz_req *req)
{
    const char *name = mz_req_query(req, "entity");
    if (name == NULL || name[0] == '\0')
        return mz_fail_field(req, 400, "bad_request", "请指定数据类型（entity）", "entity");
    const struct mz_entity *e = readable_entity(req, name);
    if (e == NULL)
        return req->status;
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT " FILTER_COLS " FROM mz_saved_filters f WHERE f.entity = ?"
                           " AND (f.username = ? OR f.shared = 1)"
                           " ORDER BY CASE WHEN f.username = ? THEN 0 ELSE 1 END, f.name, f.id",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, e->name);
    mz_db_bind_text(st, 2, actor(req));
    mz_db_bind_text(st, 3, actor(req));
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW)
        json_array_append_new(items, filter_json(req, st));
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    json_t *body = json_object();
    json_object_set_new(body, "items", items);
    json_object_set_new(body, "max", json_integer(FILTER_COUNT_MAX));
    return mz_reply_json(req, 200, body);
}

int wb_filters_create(struct mz_req *req)
{
    json_t *input = mz_req_object_or_fail(req);
    if (input == NULL)
        return req->status;
    const struct mz_entity *e =
        readable_entity(req, json_string_value(json_object_get(input, "entity")));
    if (e == NULL)
        return req->status;
    const char *name = valid_name(req, json_object_get(input, "name"));
    if (name == NULL)
        return req->status;
    const char *doc = valid_query(req, input, NULL);
    if (doc == NULL)
        return req->status;
    bool shared = false;
    int status = valid_shared(req, input, &shared);
    if (status)
        return status;
    status = check_unique(req, e->name, name, 0);
    if (status)
        return status;
    const char *params[] = {actor(req), e->name};
    int64_t n = 0;
    int rc = mz_db_query_int(
        req->db, "SELECT count(*) FROM mz_saved_filters WHERE username = ? AND entity = ?", &n, 2,
        params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (n >= FILTER_COUNT_MAX)
        return mz_fail(req, 409, "too_many",
                       mz_arena_printf(req->arena, "每类数据最多保存 %d 个筛选方案，请先删除不用的",
                                       FILTER_COUNT_MAX));
    char now[32];
    mz_now_rfc3339(now);
    rc = mz_db_run(req->db,
                   "INSERT INTO mz_saved_filters (username, entity, name, query, created_at,"
                   " updated_at, shared) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   "tttttti", actor(req), e->name, name, doc, now, now, (int64_t)shared);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    const char *p2[] = {actor(req), e->name, name};
    int64_t id = 0;
    rc = mz_db_query_int(
        req->db, "SELECT id FROM mz_saved_filters WHERE username = ? AND entity = ? AND name = ?",
        &id, 3, p2);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *row = load_own(req, id);
    if (row == NULL)
        return req->status;
    return mz_reply_json(req, 201, row);
}

int wb_filters_update(struct mz_req *req)
{
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    json_t *input = mz_req_object_or_fail(req);
    if (input == NULL)
        return req->status;
    json_t *cur = load_own(req, id);
    if (cur == NULL)
        return req->status;
    int status = 0;
    const char *entity = json_string_value(json_object_get(cur, "entity"));
    const char *name = json_string_value(json_object_get(cur, "name"));
    if (json_object_get(input, "name")) {
        name = valid_name(req, json_object_get(input, "name"));
        if (name == NULL || (status = check_unique(req, entity, name, id)) != 0)
            goto out;
    }
    const char *doc = valid_query(req, input, cur);
    if (doc == NULL)
        goto out;
    bool shared = json_is_true(json_object_get(cur, "shared"));
    if ((status = valid_shared(req, input, &shared)) != 0)
        goto out;
    char now[32];
    mz_now_rfc3339(now);
    int rc = mz_db_run(req->db,
                       "UPDATE mz_saved_filters SET name = ?, query = ?, updated_at = ?, shared = ?"
                       " WHERE id = ? AND username = ?",
                       "tttiit", name, doc, now, (int64_t)shared, id, actor(req));
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    json_decref(cur);
    cur = load_own(req, id);
    if (cur == NULL)
        return req->status;
    return mz_reply_json(req, 200, cur);
out:
    json_decref(cur);
    return status ? status : req->status;
}

int wb_filters_delete(struct mz_req *req)
{
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    int rc = mz_db_run(req->db, "DELETE FROM mz_saved_filters WHERE id = ? AND username = ?", "it",
                       id, actor(req));
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (mz_db_changes(req->db) == 0)
        return mz_fail(req, 404, "not_found", "筛选方案不存在");
    return mz_reply_bytes(req, 204, NULL, NULL, 0);
}
