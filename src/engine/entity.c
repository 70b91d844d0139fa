/* entity.c - create, read, update and delete of declared entities.
 *
 * Invariants:
 *  - Every write runs inside the request's write transaction (the dispatcher
 *    opens it for MZ_ROUTE_WRITE routes and rolls back on any failure), so a
 *    rejected request changes nothing.
 *  - Validation reports every field error at once (422 validation_failed with
 *    `errors`), before any SQL writes.
 *  - Rows are never physically deleted: deleted_at is set, and every read adds
 *    `deleted_at IS NULL`. Unique indexes ignore deleted rows.
 *  - Optimistic concurrency: each row has a version; an UPDATE names the
 *    version it read, and a stale version is 409 version_conflict.
 *  - Every change leaves a history entry (mz_history) with the changed
 *    fields' before/after values, sensitive ones masked.
 *  - The caller's data scope (app->scope) is applied to every read and write
 *    of a scoped entity: out of scope is 404, exactly like absent.
 * Tested by tests/unit/test_engine.c and tests/api/crud.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

static void put_dumped(struct mz_buf *b, json_t *v);
static void put_value(struct mz_buf *b, json_t *v);
static bool put_string(struct mz_buf *b, const char *s, size_t n);
static void put_int(struct mz_buf *b, int64_t v);
static int history_add_text(struct mz_req *req, const struct mz_entity *e, int64_t id,
                            int64_t version, const char *action, json_t *changes,
                            const char *text, const char *comment);
static bool create_changes_text(struct mz_req *req, const struct mz_entity *e,
                                const json_t *row, struct mz_buf *b);

/* System column names a client may not set. */
static bool system_column(const char *name)
{
    static const char *const names[] = {"id",         "version",    "created_at", "updated_at",
                                        "created_by", "updated_by", "deleted_at", "state",
                                        "state_due"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

void mz_errors_add(json_t *errors, const char *field, const char *code, const char *message)
{
    json_t *e = json_object();
    json_object_set_new(e, "field", mz_json_str(field));
    json_object_set_new(e, "code", mz_json_str(code));
    json_object_set_new(e, "message", mz_json_str(message));
    json_array_append_new(errors, e);
}

/* Fail with 422 validation_failed carrying every field error. */
static int fail_validation(struct mz_req *req, json_t *errors)
{
    json_t *first = json_array_get(errors, 0);
    const char *field = json_string_value(json_object_get(first, "field"));
    const char *msg = json_string_value(json_object_get(first, "message"));
    char *message = mz_arena_printf(req->arena, "数据校验未通过（%zu 项）：%s", json_array_size(errors),
                                    msg ? msg : "");
    json_t *extra = json_object();
    json_object_set(extra, "errors", errors);
    if (field)
        json_object_set_new(extra, "field", json_string(field));
    return mz_fail_with(req, 422, "validation_failed", message, extra);
}

const struct mz_entity *mz_req_entity_or_fail(struct mz_req *req)
{
    const char *name = mz_req_param(req, "entity");
    const struct mz_entity *e = name ? mz_app_entity(req->app, name) : NULL;
    if (e != NULL)
        return e;
    /* Not an entity: if the path is a fixed route of another method (POST on
     * /api/v1/health), the answer is 405, not 404. */
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
    for (size_t i = 0; req->path && req->app->router && i < MZ_ARRAY_LEN(methods); i++) {
        struct mz_req probe = {.arena = req->arena};
        bool mismatch = false;
        if (req->method && strcmp(methods[i], req->method) == 0)
            continue;
        const struct mz_route *r =
            mz_router_match(req->app->router, methods[i], req->path, &probe, &mismatch);
        if (r && strstr(r->pattern, "{entity}") == NULL) {
            mz_fail(req, 405, "method_not_allowed", "该地址不支持这种请求方法");
            return NULL;
        }
    }
    mz_fail(req, 404, "not_found", "没有这类业务数据");
    return NULL;
}

int64_t mz_req_id_or_fail(struct mz_req *req)
{
    const char *s = mz_req_param(req, "id");
    int64_t v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 18)
        goto bad;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0)
        goto bad;
    return v;
bad:
    if (s && strlen(s) > 18 && strspn(s, "0123456789") == strlen(s)) {
        mz_fail(req, 404, "not_found", "记录不存在");
        return 0;
    }
    mz_fail_field(req, 400, "bad_id", "记录编号应为正整数", "id");
    return 0;
}

/* The caller's scope range for a scoped entity; false if unscoped. */
static bool scope_range(struct mz_req *req, const struct mz_entity_rt *rt, char lo[13],
                        char hi[13])
{
    if (rt->scope_field == NULL || req->app->scope == NULL)
        return false;
    const char *scope = req->app->scope(req);
    if (scope == NULL)
        return false;
    if (mz_division_range(scope, lo, hi) != MZ_OK) {
        /* An unusable scope sees nothing: fail closed. */
        strcpy(lo, "999999999999");
        strcpy(hi, "999999999999");
    }
    return true;
}

json_t *mz_row_from_stmt(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                         bool unmask)
{
    const struct mz_entity *e = rt->entity;
    json_t *row = json_object();
    json_object_set_new(row, "id", json_integer(mz_db_col_int(st, 0)));
    json_object_set_new(row, "version", json_integer(mz_db_col_int(st, 1)));
    json_object_set_new(row, "created_at", mz_json_str(mz_db_col_text(st, 2)));
    json_object_set_new(row, "updated_at", mz_json_str(mz_db_col_text(st, 3)));
    if (e->workflow) {
        json_object_set_new(row, "state", mz_json_str(mz_db_col_text(st, 4)));
        json_object_set_new(row, "state_due", mz_json_str(mz_db_col_text(st, 5)));
    }
    for (size_t i = 0; i < e->nfields; i++)
        json_object_set_new(row, e->fields[i].name,
                            mz_column_json(req, e, st, rt->field_col0 + (int)i, &e->fields[i]));
    if (!unmask)
        mz_row_present(req, e, row);
    return row;
}

/* The text of a non-sensitive field of a field/column source: a jansson row
 * (json_row_value) or the statement of row_text (stmt_row_value). */
static const struct mz_field *extra_field(const struct mz_entity *e, const char *name, int *index)
{
    for (size_t i = 0; i < e->nfields; i++) {
        if (strcmp(e->fields[i].name, name) == 0) {
            *index = (int)i;
            return (e->fields[i].flags & MZ_F_SENSITIVE) ? NULL : &e->fields[i];
        }
    }
    return NULL;
}

struct json_row_ctx {
    const struct mz_entity *e;
    json_t *row;
};

static const char *json_row_value(void *ctx, const char *name)
{
    const struct json_row_ctx *c = ctx;
    int index;
    if (extra_field(c->e, name, &index) == NULL)
        return NULL;
    return json_string_value(json_object_get(c->row, name));
}

/* Add present_extra's members to the row (in their order); steals extra. */
static void add_extra(json_t *row, json_t *extra)
{
    const char *key;
    json_t *v;
    json_object_foreach(extra, key, v) json_object_set(row, key, v);
    json_decref(extra);
}

/* May the caller see entity e's sensitive values unmasked? */
static bool may_unmask(struct mz_req *req, const struct mz_entity *e)
{
    static const char suffix[] = ".view_sensitive";
    const char *name = e->permission ? e->permission : e->name;
    size_t n = strlen(name);
    char perm[96];

    if (n + sizeof(suffix) > sizeof(perm))
        return false; /* no declared name is this long */
    memcpy(perm, name, n); /* joined by hand: this runs on every GET */
    memcpy(perm + n, suffix, sizeof(suffix));
    return mz_req_may(req, perm);
}

void mz_row_present(struct mz_req *req, const struct mz_entity *e, json_t *row)
{
    bool unmask = may_unmask(req, e);
    if (unmask) {
        /* An unmasked view of personal data is audited. */
        for (size_t i = 0; i < e->nfields; i++) {
            json_t *v = json_object_get(row, e->fields[i].name);
            if ((e->fields[i].flags & MZ_F_SENSITIVE) && v && !json_is_null(v)) {
                mz_audit(req, "view_sensitive", e->name,
                         json_integer_value(json_object_get(row, "id")), true, NULL);
                break;
            }
        }
    } else {
        for (size_t i = 0; i < e->nfields; i++) {
            const struct mz_field *f = &e->fields[i];
            if (!(f->flags & MZ_F_SENSITIVE))
                continue;
            json_t *v = json_object_get(row, f->name);
            if (v == NULL || json_is_null(v))
                continue;
            const char *text = mz_value_text(req->arena, f, v);
            json_object_set_new(row, f->name, mz_json_str(mz_mask_value(req->arena, f, text)));
        }
    }
    if (e->hooks && e->hooks->present)
        e->hooks->present(req, e, row);
    if (e->hooks && e->hooks->present_extra)
        add_extra(row, e->hooks->present_extra(req, e, json_row_value,
                                               &(struct json_row_ctx){e, row}));
}

/* Prepare, bind and step the select of one row by id with the scope
 * applied: MZ_ROW with *stp on the row (the caller ends it with
 * mz_db_done), MZ_DONE when absent or out of scope, or an error. */
static int select_row_stmt(struct mz_req *req, const struct mz_entity_rt *rt, int64_t id,
                           struct mz_stmt **stp)
{
    char lo[13], hi[13];
    struct mz_stmt *st;
    bool scoped = scope_range(req, rt, lo, hi);
    const char *owner = req->app->owner ? req->app->owner(req) : NULL;
    const char *sql = rt->select_one_by[(scoped ? 1 : 0) + (owner ? 2 : 0)];
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    int idx = 1;
    mz_db_bind_int(st, idx++, id);
    if (scoped) {
        mz_db_bind_text(st, idx++, lo);
        mz_db_bind_text(st, idx++, hi);
    }
    if (owner)
        mz_db_bind_text(st, idx++, owner);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        *stp = st;
        return MZ_ROW;
    }
    mz_db_done(st);
    return rc < 0 ? rc : MZ_DONE;
}

/* Select one row by id with the scope applied; a new row or NULL if absent. */
static json_t *select_row(struct mz_req *req, const struct mz_entity *e, int64_t id, bool unmask,
                          int *err)
{
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    struct mz_stmt *st;
    int rc = select_row_stmt(req, rt, id, &st);
    if (rc != MZ_ROW) {
        *err = rc == MZ_DONE ? MZ_OK : rc;
        return NULL;
    }
    json_t *row = mz_row_from_stmt(req, rt, st, unmask);
    mz_db_done(st);
    return row;
}

/* select_row, recording 404 (absent or out of scope) or the database error. */
static json_t *select_row_or_fail(struct mz_req *req, const struct mz_entity *e, int64_t id,
                                  bool unmask)
{
    int err = MZ_OK;
    json_t *row = select_row(req, e, id, unmask, &err);
    if (row == NULL) {
        if (err != MZ_OK)
            mz_fail_err(req, err);
        else
            mz_fail(req, 404, "not_found", "记录不存在");
    }
    return row;
}

json_t *mz_row_load(struct mz_req *req, const struct mz_entity *e, int64_t id)
{
    return select_row_or_fail(req, e, id, true);
}

json_t *mz_entity_get(struct mz_req *req, const struct mz_entity *e, int64_t id)
{
    return select_row_or_fail(req, e, id, false);
}

/* Normalise one input member into row, or add an error. */
static void take_value(struct mz_req *req, const struct mz_entity *e, const char *key,
                       json_t *value, json_t *row, const json_t *before, json_t *errors)
{
    const struct mz_field *f = mz_entity_field(e, key);
    const char *code, *message;
    json_t *norm;
    if (f == NULL) {
        if (system_column(key))
            mz_errors_add(errors, key, "readonly", "系统字段，不能修改");
        else
            mz_errors_add(errors, key, "unknown_field", "没有这个字段");
        return;
    }
    if (f->flags & MZ_F_READONLY) {
        mz_errors_add(errors, key, "readonly", "该字段由系统填写，不能修改");
        return;
    }
    /* An empty string means "no value" for optional text-like fields. */
    if (json_is_string(value) && json_string_length(value) == 0 && f->type != MZ_T_JSON)
        value = NULL;
    /* With the request: dictionary codes as administrators edited them. */
    if (mz_field_normalise_req(req, f, value, &norm, &code, &message) != MZ_OK) {
        mz_errors_add(errors, key, code, message);
        return;
    }
    if (before && (f->flags & MZ_F_IMMUTABLE)) {
        json_t *old = json_object_get(before, key);
        if (!json_equal(old ? old : json_null(), norm)) {
            mz_errors_add(errors, key, "immutable", "该字段创建后不能修改");
            json_decref(norm);
            return;
        }
    }
    json_object_set_new(row, key, norm);
}

/* Is the row's scope field inside the caller's scope? (Writing a row into
 * another area is refused exactly like reading one.) */
static bool row_in_scope(struct mz_req *req, const struct mz_entity *e, const json_t *row)
{
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    char lo[13], hi[13];
    if (!scope_range(req, rt, lo, hi))
        return true;
    const char *v = json_string_value(json_object_get(row, rt->scope_field->name));
    return v != NULL && strcmp(v, lo) >= 0 && strcmp(v, hi) < 0;
}

int mz_row_check_scope(struct mz_req *req, const struct mz_entity *e, const json_t *row)
{
    if (row_in_scope(req, e, row))
        return 0;
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    return mz_fail_field(req, 403, "out_of_scope", "所属区划超出您的管辖范围",
                         rt->scope_field->name);
}

/* Required fields of a full row: every one missing is reported. */
static void check_required(const struct mz_entity *e, const json_t *row, json_t *errors)
{
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        json_t *v = json_object_get(row, f->name);
        if ((v == NULL || json_is_null(v)) && (f->flags & MZ_F_REQUIRED) &&
            !(f->flags & MZ_F_READONLY)) {
            /* A value rejected earlier is already reported under its field. */
            bool reported = false;
            size_t k;
            json_t *x;
            json_array_foreach(errors, k, x) {
                const char *name = json_string_value(json_object_get(x, "field"));
                if (name && strcmp(name, f->name) == 0)
                    reported = true;
            }
            if (!reported)
                mz_errors_add(errors, f->name, "required", "必填项");
        }
    }
}

/* References and unique values of a full row, checked against the database;
 * only fields whose value differs from before. With unique false the unique
 * values are left to the INSERT (see later_unique). */
static int check_row(struct mz_req *req, const struct mz_entity *e, const json_t *row,
                     const json_t *before, int64_t id, bool unique, json_t *errors)
{
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        json_t *v = json_object_get(row, f->name);
        if (v == NULL || json_is_null(v))
            continue;
        json_t *old = before ? json_object_get(before, f->name) : NULL;
        if (old && json_equal(old, v))
            continue;
        if (f->type == MZ_T_REF) {
            const struct mz_entity *target = mz_app_entity(req->app, f->ref);
            int err = MZ_OK;
            json_t *ref = select_row(req, target, json_integer_value(v), true, &err);
            if (err != MZ_OK)
                return mz_fail_err(req, err);
            if (ref == NULL)
                mz_errors_add(errors, f->name, "no_such_reference", "引用的记录不存在");
            json_decref(ref);
        }
        if ((f->flags & MZ_F_UNIQUE) && unique) {
            struct mz_stmt *st;
            bool sealed = mz_field_sealed(f);
            char *sql = mz_arena_printf(req->arena,
                                        "SELECT id FROM %s WHERE %s%s = ? AND deleted_at IS NULL"
                                        " AND id <> ? LIMIT 1",
                                        e->name, f->name, sealed ? "_bidx" : "");
            int rc = mz_db_prepare(req->db, sql, &st);
            if (rc != MZ_OK)
                return mz_fail_err(req, rc);
            if (sealed)
                mz_bind_blind(req, e, st, 1, f, v);
            else
                mz_bind_field(req, e, st, 1, f, v);
            mz_db_bind_int(st, 2, id);
            rc = mz_db_step(st);
            mz_db_done(st);
            if (rc < 0)
                return mz_fail_err(req, rc);
            if (rc == MZ_ROW)
                mz_errors_add(errors, f->name, "duplicate", "该值已被其他记录使用");
        }
    }
    return 0;
}

/* The status for a non-empty error list: 409 when the only problem is a
 * duplicate, else 422. */
static int fail_errors(struct mz_req *req, json_t *errors)
{
    size_t i;
    json_t *x;
    bool only_duplicates = true;
    json_array_foreach(errors, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "code")), "duplicate") != 0)
            only_duplicates = false;
    }
    json_t *first = json_array_get(errors, 0);
    if (json_array_size(errors) == 1 &&
        strcmp(json_string_value(json_object_get(first, "code")), "out_of_scope") == 0)
        return mz_fail_field(req, 403, "out_of_scope", "所属区划超出您的管辖范围",
                             json_string_value(json_object_get(first, "field")));
    if (only_duplicates) {
        const char *field = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
        json_t *extra = json_object();
        json_object_set(extra, "errors", errors);
        if (field)
            json_object_set_new(extra, "field", json_string(field));
        return mz_fail_with(req, 409, "duplicate", "该值已被其他记录使用", extra);
    }
    return fail_validation(req, errors);
}

const char *mz_state_due(struct mz_req *req, const struct mz_workflow *w, const char *state)
{
    for (size_t i = 0; i < w->nstates; i++) {
        if (strcmp(w->states[i].name, state) == 0 && w->states[i].deadline_days > 0) {
            char today[11], *due = mz_arena_alloc(req->arena, 11);
            mz_today(today);
            mz_days_to_date(mz_date_to_days(today) + w->states[i].deadline_days, due);
            return due;
        }
    }
    return NULL;
}

/* The entity's declared write permission (mz_entity.write_permission): 403
 * without it, before anything is checked or written. */
static int check_write_permission(struct mz_req *req, const struct mz_entity *e)
{
    if (e->write_permission == NULL || mz_req_may(req, e->write_permission))
        return 0;
    return mz_fail(req, 403, "forbidden",
                   mz_arena_printf(req->arena, "只有市级业务人员可以维护%s", e->zh ? e->zh : e->name));
}

/* Does an import row leave its unique checks to the INSERT? On SQLite, for
 * entities declared MZ_E_IMPORT_BULK (whose hooks do not change unique
 * fields), the unique index answers with the seek the INSERT makes anyway
 * instead of a query before it. Whenever such a row fails (a hook's errors,
 * its scope, or the unique index itself), unique_errors gives it the
 * errors an API create would have reported. */
static bool later_unique(const struct mz_req *req, const struct mz_entity *e)
{
    return req->import_pre != NULL && (e->flags & MZ_E_IMPORT_BULK) &&
           mz_db_kind(req->db) == MZ_DB_SQLITE;
}

/* A failing row whose unique values were left to the INSERT: run check_row
 * in full as an API create runs it before any hook; if a value is taken,
 * those are the row's errors (the create would have stopped there), else
 * errors stay. 0, or the status of a database failure. */
static int unique_errors(struct mz_req *req, const struct mz_entity *e, const json_t *row,
                         json_t *errors)
{
    json_t *again = json_array();
    int status = check_row(req, e, row, NULL, 0, true, again);
    bool taken = false;
    size_t i;
    json_t *x;
    json_array_foreach(again, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "code")), "duplicate") == 0)
            taken = true;
    }
    if (status == 0 && taken) {
        json_array_clear(errors);
        json_array_extend(errors, again);
    }
    json_decref(again);
    return status;
}

int mz_entity_create_collect(struct mz_req *req, const struct mz_entity *e, json_t *input,
                             json_t *errors, json_t **row_out)
{
    if (row_out)
        *row_out = NULL;
    int denied = check_write_permission(req, e);
    if (denied)
        return denied;
    const char *key;
    json_t *value, *row = json_object();
    struct mz_stmt *st = NULL;
    char now[32];
    int status = 0, rc;

    json_object_foreach(input, key, value) {
        take_value(req, e, key, value, row, NULL, errors);
    }
    /* Defaults for absent fields. */
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        if (json_object_get(row, f->name) != NULL)
            continue;
        if (f->def == NULL) {
            json_object_set_new(row, f->name, json_null());
            continue;
        }
        json_t *d = json_loads(f->def, JSON_DECODE_ANY, NULL), *norm = NULL;
        const char *code, *message;
        if (d && mz_field_normalise_req(req, f, d, &norm, &code, &message) == MZ_OK)
            json_object_set_new(row, f->name, norm);
        else
            json_object_set_new(row, f->name, json_null());
        json_decref(d);
    }
    check_required(e, row, errors);
    bool unique_later = false;
    if (json_array_size(errors) == 0) {
        unique_later = later_unique(req, e);
        status = check_row(req, e, row, NULL, 0, !unique_later, errors);
        if (status)
            goto out;
    }
    struct mz_write w = {req, e, row, NULL, errors, 0, "create"};
    if (json_array_size(errors) == 0 && e->hooks && e->hooks->validate) {
        status = e->hooks->validate(&w);
        if (status)
            goto out;
    }
    if (json_array_size(errors) > 0) {
        status = unique_later ? unique_errors(req, e, row, errors) : 0;
        if (status == 0)
            status = 422;
        goto out;
    }
    if (e->hooks && e->hooks->before_write) {
        status = e->hooks->before_write(&w);
        if (status)
            goto out;
    }
    /* After before_write: a hook may fill the scope field (a member takes
     * its household's division). */
    if (!row_in_scope(req, e, row)) {
        const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
        mz_errors_add(errors, rt->scope_field->name, "out_of_scope", "所属区划超出您的管辖范围");
        status = unique_later ? unique_errors(req, e, row, errors) : 0;
        if (status == 0)
            status = 422;
        goto out;
    }
    const char *state = e->workflow ? e->workflow->initial : NULL;
    mz_now_rfc3339(now);
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    bool returning = mz_db_kind(req->db) != MZ_DB_SQLITE;
    rc = mz_db_prepare(req->db, returning ? rt->insert_returning : rt->insert, &st);
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    int idx = 1;
    const char *actor = req->actor ? req->actor : "anonymous";
    mz_db_bind_text(st, idx++, now);
    mz_db_bind_text(st, idx++, now);
    mz_db_bind_text(st, idx++, actor);
    mz_db_bind_text(st, idx++, actor);
    if (e->workflow) {
        mz_db_bind_text(st, idx++, state);
        mz_db_bind_text(st, idx++, mz_state_due(req, e->workflow, state));
    }
    for (size_t i = 0; i < e->nfields; i++) {
        json_t *v = json_object_get(row, e->fields[i].name);
        mz_bind_field(req, e, st, idx++, &e->fields[i], v);
        if (mz_field_sealed(&e->fields[i]))
            mz_bind_blind(req, e, st, idx++, &e->fields[i], v);
    }
    rc = mz_db_step(st);
    if (rc != (returning ? MZ_ROW : MZ_DONE)) {
        if (rc == MZ_ERR_CONFLICT) {
            mz_db_done(st);
            st = NULL;
            mz_errors_add(errors, NULL, "duplicate", "与已有记录重复");
            status = unique_later ? unique_errors(req, e, row, errors) : 0;
            if (status == 0)
                status = 422;
        } else {
            status = mz_fail_err(req, rc < 0 ? rc : MZ_ERR_DB);
        }
        goto out;
    }
    w.id = returning ? mz_db_col_int(st, 0) : mz_db_last_id(req->db);
    mz_db_done(st);
    st = NULL;
    json_object_set_new(row, "id", json_integer(w.id));
    if (e->hooks && e->hooks->after_write) {
        status = e->hooks->after_write(&w);
        if (status)
            goto out;
    }
    /* The changes' text written straight from the row; their jansson form
     * only where the audit hook needs it (outside a transaction, or an app
     * without audit_text). */
    struct mz_buf text;
    mz_buf_init(&text, 0);
    json_t *changes = NULL;
    bool text_only = req->app->audit_text != NULL && mz_db_in_transaction(req->db);
    if (!text_only || !create_changes_text(req, e, row, &text)) {
        changes = mz_row_diff(req, e, NULL, row);
        mz_buf_free(&text);
        mz_buf_init(&text, 0);
        char *dumped = mz_json_dump(changes, NULL);
        mz_buf_puts(&text, dumped);
        free(dumped);
    }
    rc = history_add_text(req, e, w.id, 1, "create", changes, text.data, NULL);
    json_decref(changes);
    mz_buf_free(&text);
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    if (row_out) {
        *row_out = select_row_or_fail(req, e, w.id, false);
        if (*row_out == NULL)
            status = req->status;
    }
out:
    if (st)
        mz_db_done(st);
    json_decref(row);
    return status;
}

int mz_entity_create(struct mz_req *req, const struct mz_entity *e, json_t *input,
                     json_t **row_out)
{
    json_t *errors = json_array();
    int status = mz_entity_create_collect(req, e, input, errors, row_out);
    if (status == 422 && !req->failed)
        status = fail_errors(req, errors);
    json_decref(errors);
    return status;
}

json_t *mz_row_diff(struct mz_req *req, const struct mz_entity *e, const json_t *before,
                    const json_t *after)
{
    json_t *d = json_object();
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        json_t *a = before ? json_object_get(before, f->name) : NULL;
        json_t *b = after ? json_object_get(after, f->name) : NULL;
        if (a == NULL)
            a = json_null();
        if (b == NULL)
            b = json_null();
        if (json_equal(a, b))
            continue;
        json_t *c = json_object();
        if (f->flags & MZ_F_SENSITIVE) {
            json_object_set_new(
                c, "from", mz_json_str(mz_mask_value(req->arena, f, mz_value_text(req->arena, f, a))));
            json_object_set_new(
                c, "to", mz_json_str(mz_mask_value(req->arena, f, mz_value_text(req->arena, f, b))));
        } else {
            json_object_set(c, "from", a);
            json_object_set(c, "to", b);
        }
        json_object_set_new(d, f->name, c);
    }
    return d;
}

/* mz_history_add with the changes' text given (text, as mz_json_dump(changes)
 * makes it; changes may be NULL when the audit hook takes the text alone). */
static int history_add_text(struct mz_req *req, const struct mz_entity *e, int64_t id,
                            int64_t version, const char *action, json_t *changes,
                            const char *text, const char *comment)
{
    struct mz_stmt *st;
    char now[32];
    int rc = mz_db_prepare(req->db,
                           "INSERT INTO mz_history (entity, row_id, version, action, actor, at,"
                           " changes, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_now_rfc3339(now);
    mz_db_bind_text(st, 1, e->name);
    mz_db_bind_int(st, 2, id);
    mz_db_bind_int(st, 3, version);
    mz_db_bind_text(st, 4, action);
    mz_db_bind_text(st, 5, req->actor ? req->actor : "anonymous");
    mz_db_bind_text(st, 6, now);
    mz_db_bind_text(st, 7, text);
    mz_db_bind_text(st, 8, comment);
    rc = mz_db_step(st);
    mz_db_done(st);
    /* Every write is audited in the same transaction (fail closed); the
     * audit row's detail is the same text as the history row's. */
    if (rc == MZ_DONE && mz_audit_text(req, action, e->name, id, true, changes, text) != 0)
        rc = MZ_ERR_INTERNAL;
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    return MZ_OK;
}

int mz_history_add(struct mz_req *req, const struct mz_entity *e, int64_t id, int64_t version,
                   const char *action, json_t *changes, const char *comment)
{
    char *text = changes ? mz_json_dump(changes, NULL) : NULL;
    int rc = history_add_text(req, e, id, version, action, changes, text, comment);
    free(text);
    return rc;
}

/* The changes of a create (every field with a value, from null) as the text
 * mz_json_dump(mz_row_diff(req, e, NULL, row)) gives, written straight into
 * b: no jansson tree and no dump for each row of an import. Members in field
 * order, sensitive values masked, JSON values through jansson, as there.
 * False when a text is not valid UTF-8 (the caller then takes that path). */
static bool create_changes_text(struct mz_req *req, const struct mz_entity *e,
                                const json_t *row, struct mz_buf *b)
{
    bool first = true;
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        json_t *v = json_object_get(row, f->name);
        if (v == NULL || json_is_null(v))
            continue;
        mz_buf_append(b, first ? "{\"" : ",\"", 2);
        first = false;
        mz_buf_puts(b, f->name); /* declared names need no escaping */
        mz_buf_puts(b, "\":{\"from\":null,\"to\":");
        if (f->flags & MZ_F_SENSITIVE) {
            const char *masked = mz_mask_value(req->arena, f, mz_value_text(req->arena, f, v));
            if (masked == NULL)
                mz_buf_append(b, "null", 4);
            else if (!put_string(b, masked, strlen(masked)))
                return false;
        } else if (json_is_string(v) && f->type != MZ_T_JSON) {
            if (!put_string(b, json_string_value(v), json_string_length(v)))
                return false;
        } else {
            put_value(b, v);
        }
        mz_buf_append(b, "}", 1);
    }
    mz_buf_puts(b, first ? "{}" : "}");
    return true;
}

int mz_row_save(struct mz_req *req, const struct mz_entity *e, int64_t id, int64_t version,
                const json_t *before, const json_t *after, const char *state,
                const char *due)
{
    struct mz_buf sql;
    struct mz_stmt *st = NULL;
    char now[32];
    int rc, n = 0;
    const struct mz_field *changed[256];

    for (size_t i = 0; i < e->nfields && n < (int)MZ_ARRAY_LEN(changed); i++) {
        const struct mz_field *f = &e->fields[i];
        json_t *a = json_object_get(before, f->name), *b = json_object_get(after, f->name);
        if (!json_equal(a ? a : json_null(), b ? b : json_null()))
            changed[n++] = f;
    }
    if (n == 0 && state == NULL)
        return MZ_OK;
    mz_buf_init(&sql, 0);
    mz_buf_printf(&sql, "UPDATE %s SET version = version + 1, updated_at = ?, updated_by = ?",
                  e->name);
    if (state)
        mz_buf_puts(&sql, ", state = ?, state_due = ?");
    for (int i = 0; i < n; i++) {
        mz_buf_printf(&sql, ", %s = ?", changed[i]->name);
        if (mz_field_sealed(changed[i]))
            mz_buf_printf(&sql, ", %s_bidx = ?", changed[i]->name);
    }
    mz_buf_puts(&sql, " WHERE id = ? AND version = ? AND deleted_at IS NULL");
    rc = mz_db_prepare(req->db, sql.data, &st);
    if (rc != MZ_OK)
        goto out;
    mz_now_rfc3339(now);
    int idx = 1;
    mz_db_bind_text(st, idx++, now);
    mz_db_bind_text(st, idx++, req->actor ? req->actor : "anonymous");
    if (state) {
        mz_db_bind_text(st, idx++, state);
        mz_db_bind_text(st, idx++, due);
    }
    for (int i = 0; i < n; i++) {
        json_t *v = json_object_get(after, changed[i]->name);
        mz_bind_field(req, e, st, idx++, changed[i], v);
        if (mz_field_sealed(changed[i]))
            mz_bind_blind(req, e, st, idx++, changed[i], v);
    }
    mz_db_bind_int(st, idx++, id);
    mz_db_bind_int(st, idx++, version);
    rc = mz_db_step(st);
    if (rc == MZ_DONE)
        rc = mz_db_changes(req->db) == 1 ? MZ_OK : MZ_ERR_CONFLICT;
    else if (rc >= 0)
        rc = MZ_ERR_DB;
out:
    if (st)
        mz_db_done(st);
    mz_buf_free(&sql);
    return rc;
}

/* Fail 409 version_conflict naming the current version. */
static int fail_version(struct mz_req *req, int64_t current)
{
    json_t *extra = json_object();
    json_object_set_new(extra, "current_version", json_integer(current));
    json_object_set_new(extra, "field", json_string("version"));
    return mz_fail_with(req, 409, "version_conflict", "记录已被他人修改，请刷新后重试", extra);
}

int mz_entity_update(struct mz_req *req, const struct mz_entity *e, int64_t id, json_t *input,
                     int64_t expected_version, json_t **row_out)
{
    json_t *before = mz_row_load(req, e, id);
    json_t *after = NULL, *errors = json_array(), *changes = NULL;
    int status = 0, rc;
    const char *key;
    json_t *value;

    if (row_out)
        *row_out = NULL;
    if (before == NULL) {
        status = req->status;
        goto out;
    }
    status = check_write_permission(req, e);
    if (status)
        goto out;
    int64_t current = json_integer_value(json_object_get(before, "version"));
    if (expected_version != current) {
        status = fail_version(req, current);
        goto out;
    }
    after = json_deep_copy(before);
    json_object_foreach(input, key, value) {
        if (strcmp(key, "version") == 0)
            continue;
        take_value(req, e, key, value, after, before, errors);
    }
    check_required(e, after, errors);
    if (json_array_size(errors) == 0) {
        status = check_row(req, e, after, before, id, true, errors);
        if (status)
            goto out;
    }
    struct mz_write w = {req, e, after, before, errors, id, "update"};
    if (json_array_size(errors) == 0 && e->hooks && e->hooks->validate) {
        status = e->hooks->validate(&w);
        if (status)
            goto out;
    }
    if (json_array_size(errors) > 0) {
        status = fail_errors(req, errors);
        goto out;
    }
    if (e->hooks && e->hooks->before_write) {
        status = e->hooks->before_write(&w);
        if (status)
            goto out;
    }
    status = mz_row_check_scope(req, e, after);
    if (status)
        goto out;
    changes = mz_row_diff(req, e, before, after);
    if (json_object_size(changes) > 0) {
        rc = mz_row_save(req, e, id, current, before, after, NULL, NULL);
        if (rc == MZ_ERR_CONFLICT) {
            status = fail_version(req, current);
            goto out;
        }
        if (rc != MZ_OK) {
            status = mz_fail_err(req, rc);
            goto out;
        }
        if (e->hooks && e->hooks->after_write) {
            status = e->hooks->after_write(&w);
            if (status)
                goto out;
        }
        rc = mz_history_add(req, e, id, current + 1, "update", changes, NULL);
        if (rc != MZ_OK) {
            status = mz_fail_err(req, rc);
            goto out;
        }
    }
    if (row_out) {
        *row_out = select_row_or_fail(req, e, id, false);
        if (*row_out == NULL)
            status = req->status;
    }
out:
    json_decref(before);
    json_decref(after);
    json_decref(errors);
    json_decref(changes);
    return status;
}

int mz_entity_delete(struct mz_req *req, const struct mz_entity *e, int64_t id,
                     int64_t expected_version)
{
    json_t *before = mz_row_load(req, e, id);
    int status = 0, rc;
    struct mz_stmt *st = NULL;
    char now[32];

    if (before == NULL)
        return req->status;
    status = check_write_permission(req, e);
    if (status)
        goto out;
    int64_t current = json_integer_value(json_object_get(before, "version"));
    if (expected_version > 0 && expected_version != current) {
        status = fail_version(req, current);
        goto out;
    }
    struct mz_write w = {req, e, before, before, NULL, id, "delete"};
    if (e->hooks && e->hooks->before_write) {
        status = e->hooks->before_write(&w);
        if (status)
            goto out;
    }
    char *sql = mz_arena_printf(req->arena,
                                "UPDATE %s SET deleted_at = ?, version = version + 1,"
                                " updated_at = ?, updated_by = ?"
                                " WHERE id = ? AND version = ? AND deleted_at IS NULL",
                                e->name);
    rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    mz_now_rfc3339(now);
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, req->actor ? req->actor : "anonymous");
    mz_db_bind_int(st, 4, id);
    mz_db_bind_int(st, 5, current);
    rc = mz_db_step(st);
    if (rc != MZ_DONE || mz_db_changes(req->db) != 1) {
        status = rc < 0 ? mz_fail_err(req, rc) : fail_version(req, current);
        goto out;
    }
    if (e->hooks && e->hooks->after_write) {
        status = e->hooks->after_write(&w);
        if (status)
            goto out;
    }
    rc = mz_history_add(req, e, id, current + 1, "delete", NULL, NULL);
    if (rc != MZ_OK)
        status = mz_fail_err(req, rc);
out:
    if (st)
        mz_db_done(st);
    json_decref(before);
    return status;
}

/* --- handlers ------------------------------------------------------------------ */

/* POST /api/v1/{entity} */
static int h_create(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    if (e->flags & (MZ_E_NO_CREATE | MZ_E_READONLY))
        return mz_fail(req, 405, "method_not_allowed", "这类数据不能直接新增");
    json_t *input = mz_req_object_or_fail(req);
    if (input == NULL)
        return req->status;
    json_t *row;
    int status = mz_entity_create(req, e, input, &row);
    if (status)
        return status;
    return mz_reply_json(req, 201, row);
}

/* --- GET of one row written straight into the reply -------------------------------- */

/* Append a JSON value dumped by jansson (the fields whose value needs it). */
static void put_dumped(struct mz_buf *b, json_t *v)
{
    char *text = mz_json_dump(v, NULL);
    mz_buf_puts(b, text);
    free(text);
}

/* Append a JSON value as jansson's compact dump writes it: strings,
 * integers, booleans and null here, other types through jansson (and a
 * string put_string refuses, which mz_json_str never makes). Saves
 * a jansson dump (an allocation and a copy) per sealed value and per
 * present_extra member of a GET. */
static void put_value(struct mz_buf *b, json_t *v)
{
    size_t mark = b->len;

    switch (json_typeof(v)) {
    case JSON_STRING:
        if (put_string(b, json_string_value(v), json_string_length(v)))
            return;
        b->len = mark; /* what put_string wrote of it */
        if (b->data)
            b->data[mark] = '\0';
        put_dumped(b, v);
        return;
    case JSON_INTEGER:
        put_int(b, json_integer_value(v));
        return;
    case JSON_TRUE:
        mz_buf_append(b, "true", 4);
        return;
    case JSON_FALSE:
        mz_buf_append(b, "false", 5);
        return;
    case JSON_NULL:
        mz_buf_append(b, "null", 4);
        return;
    default:
        put_dumped(b, v);
    }
}

/* Append s (n bytes) as a JSON string, escaped as jansson's compact dump
 * escapes it ('"', '\\', \b \f \n \r \t, other controls as \u00XX); false
 * when s is not valid UTF-8 (the caller then takes the jansson path). */
static bool put_string(struct mz_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    mz_buf_append(b, "\"", 1);
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x80) {
            uint32_t cp;
            size_t len = mz_utf8_decode(p, (size_t)(end - p), &cp);
            if (len == 0)
                return false;
            p += len;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        mz_buf_append(b, run, (size_t)(p - run));
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        mz_buf_append(b, esc, len);
        run = ++p;
    }
    mz_buf_append(b, run, (size_t)(p - run));
    mz_buf_append(b, "\"", 1);
    return true;
}

/* Append ,"name": (declared names need no escaping). */
static void put_key(struct mz_buf *b, const char *name)
{
    mz_buf_append(b, ",\"", 2);
    mz_buf_puts(b, name);
    mz_buf_append(b, "\":", 2);
}

/* Append an integer as jansson writes it ("%lld"). */
static void put_int(struct mz_buf *b, int64_t v)
{
    char text[24], *p = text + sizeof(text);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    mz_buf_append(b, p, (size_t)(text + sizeof(text) - p));
}

/* Append "name": and the text column as a JSON string (or null). */
static bool put_text_member(struct mz_buf *b, const char *name, struct mz_stmt *st, int col)
{
    put_key(b, name);
    if (mz_db_col_type(st, col) == MZ_COL_NULL) {
        mz_buf_append(b, "null", 4);
        return true;
    }
    return put_string(b, mz_db_col_text(st, col), mz_db_col_bytes(st, col));
}

struct stmt_row_ctx {
    const struct mz_entity_rt *rt;
    struct mz_stmt *st;
};

static const char *stmt_row_value(void *ctx, const char *name)
{
    const struct stmt_row_ctx *c = ctx;
    int index;
    if (extra_field(c->rt->entity, name, &index) == NULL)
        return NULL;
    return mz_db_col_text(c->st, c->rt->field_col0 + index);
}

/* The row the statement is on, as the JSON text mz_row_from_stmt and
 * mz_row_present give for an entity without a present hook (present_extra
 * members are added after the fields, as there): members in the
 * same order, sensitive values masked unless the caller may view them (and
 * then the view audited), sealed and JSON values through jansson as there.
 * False when a text is not valid UTF-8: the caller then takes that path. */
static bool row_text(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                     struct mz_buf *b)
{
    const struct mz_entity *e = rt->entity;
    bool unmask = may_unmask(req, e), audit = false;
    int64_t id = mz_db_col_int(st, 0);
    mz_buf_append(b, "{\"id\":", 6);
    put_int(b, id);
    put_key(b, "version");
    put_int(b, mz_db_col_int(st, 1));
    if (!put_text_member(b, "created_at", st, 2) || !put_text_member(b, "updated_at", st, 3))
        return false;
    if (e->workflow &&
        (!put_text_member(b, "state", st, 4) || !put_text_member(b, "state_due", st, 5)))
        return false;
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        int col = rt->field_col0 + (int)i;
        bool null = mz_db_col_type(st, col) == MZ_COL_NULL;
        if (!null && ((f->flags & MZ_F_SENSITIVE) || f->type == MZ_T_JSON || mz_field_sealed(f))) {
            json_t *v = mz_column_json(req, e, st, col, f);
            put_key(b, f->name);
            if ((f->flags & MZ_F_SENSITIVE) && !json_is_null(v)) {
                if (unmask) {
                    audit = true;
                } else {
                    const char *text = mz_mask_value(req->arena, f, mz_value_text(req->arena, f, v));
                    json_decref(v);
                    v = mz_json_str(text);
                }
            }
            put_value(b, v);
            json_decref(v);
            continue;
        }
        switch (null ? MZ_T_TEXT : f->type) {
        case MZ_T_INT:
        case MZ_T_MONEY:
        case MZ_T_REF:
            put_key(b, f->name);
            put_int(b, mz_db_col_int(st, col));
            break;
        case MZ_T_BOOL:
            put_key(b, f->name);
            mz_buf_puts(b, mz_db_col_int(st, col) ? "true" : "false");
            break;
        default:
            if (!put_text_member(b, f->name, st, col))
                return false;
        }
    }
    if (e->hooks && e->hooks->present_extra) {
        struct stmt_row_ctx ctx = {rt, st};
        json_t *extra = e->hooks->present_extra(req, e, stmt_row_value, &ctx);
        const char *key;
        json_t *v;
        json_object_foreach(extra, key, v) {
            put_key(b, key); /* names the hook chose: declared, no escaping */
            put_value(b, v);
        }
        json_decref(extra);
    }
    mz_buf_append(b, "}", 1);
    /* An unmasked view of personal data is audited (as mz_row_present does). */
    if (audit)
        mz_audit(req, "view_sensitive", e->name, id, true, NULL);
    return true;
}

void mz_row_write(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                  struct mz_buf *b)
{
    const struct mz_entity *e = rt->entity;
    size_t mark = b->len;
    if (!(e->hooks && e->hooks->present) && row_text(req, rt, st, b))
        return;
    /* row_text stopped at a text that is not valid UTF-8 (nothing audited
     * yet): drop what it wrote and take jansson's path for this row. */
    b->len = mark;
    if (b->data)
        b->data[mark] = '\0';
    json_t *row = mz_row_from_stmt(req, rt, st, false);
    put_dumped(b, row);
    json_decref(row);
}

/* GET of one row of an entity without a present hook (present_extra is
 * fine), written straight
 * from the statement: no jansson tree and no dump (about a sixth of the
 * CPU of an authenticated GET). 0 when it answered (row, 404 or error);
 * 1 when the caller must take the jansson path. */
static int get_row_direct(struct mz_req *req, const struct mz_entity *e, int64_t id)
{
    if (e->hooks && e->hooks->present)
        return 1;
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    struct mz_stmt *st;
    int rc = select_row_stmt(req, rt, id, &st);
    if (rc == MZ_DONE) {
        mz_fail(req, 404, "not_found", "记录不存在");
        return 0;
    }
    if (rc != MZ_ROW) {
        mz_fail_err(req, rc);
        return 0;
    }
    struct mz_buf b;
    mz_buf_init(&b, 0);
    bool ok = row_text(req, rt, st, &b);
    mz_db_done(st);
    if (ok)
        mz_reply_json_text(req, 200, b.data, b.len);
    mz_buf_free(&b);
    return ok ? 0 : 1;
}

/* GET /api/v1/{entity}/{id} */
int mz_h_get(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    if (get_row_direct(req, e, id) == 0)
        return req->status;
    json_t *row = mz_entity_get(req, e, id);
    if (row == NULL)
        return req->status;
    return mz_reply_json(req, 200, row);
}

/* PATCH /api/v1/{entity}/{id} */
static int h_update(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    if (e->flags & MZ_E_READONLY)
        return mz_fail(req, 405, "method_not_allowed", "这类数据不能修改");
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    json_t *input = mz_req_object_or_fail(req);
    if (input == NULL)
        return req->status;
    int64_t version;
    int rc = mz_json_get_int(input, "version", &version);
    if (rc == MZ_ERR_NOTFOUND) {
        json_t *errors = json_array();
        mz_errors_add(errors, "version", "required", "缺少版本号（version），请先读取记录");
        rc = fail_validation(req, errors);
        json_decref(errors);
        return rc;
    }
    if (rc != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "版本号应为整数", "version");
    json_t *row;
    int status = mz_entity_update(req, e, id, input, version, &row);
    if (status)
        return status;
    return mz_reply_json(req, 200, row);
}

/* DELETE /api/v1/{entity}/{id}[?version=N] */
static int h_delete(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    if (e->flags & (MZ_E_NO_DELETE | MZ_E_READONLY))
        return mz_fail(req, 405, "method_not_allowed", "这类数据不能删除");
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    int64_t version = 0;
    const char *v = mz_req_query(req, "version");
    if (v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || x <= 0)
            return mz_fail_field(req, 400, "bad_request", "版本号应为正整数", "version");
        version = x;
    }
    int status = mz_entity_delete(req, e, id, version);
    if (status)
        return status;
    return mz_reply_bytes(req, 204, NULL, NULL, 0);
}

/* GET /api/v1/{entity}/{id}/history */
static int h_history(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    /* The row must exist in scope (deleted rows' history stays visible to
     * nobody through this path: they are gone for clients). */
    int err = MZ_OK;
    json_t *row = select_row(req, e, id, true, &err);
    if (row == NULL) {
        /* A deleted row still has a history; show it if it was in scope. */
        struct mz_stmt *st;
        const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
        char lo[13], hi[13];
        bool scoped = scope_range(req, rt, lo, hi);
        const char *owner = req->app->owner ? req->app->owner(req) : NULL;
        char *sql = scoped ? mz_arena_printf(req->arena,
                                             "SELECT 1 FROM %s WHERE id = ? AND %s >= ? AND %s < ?",
                                             e->name, rt->scope_field->name,
                                             rt->scope_field->name)
                           : mz_arena_printf(req->arena, "SELECT 1 FROM %s WHERE id = ?", e->name);
        if (owner)
            sql = mz_arena_printf(req->arena, "%s AND created_by = ?", sql);
        if (mz_db_prepare(req->db, sql, &st) != MZ_OK)
            return mz_fail_err(req, MZ_ERR_DB);
        mz_db_bind_int(st, 1, id);
        if (scoped) {
            mz_db_bind_text(st, 2, lo);
            mz_db_bind_text(st, 3, hi);
        }
        if (owner)
            mz_db_bind_text(st, scoped ? 4 : 2, owner);
        int rc = mz_db_step(st);
        mz_db_done(st);
        if (rc != MZ_ROW)
            return mz_fail(req, 404, "not_found", "记录不存在");
    }
    json_decref(row);
    static const char *const names[] = {"version", "action", "actor", "at", "changes", "comment"};
    json_t *items = mz_row_items(req,
                                 "SELECT version, action, actor, at, changes, comment FROM mz_history"
                                 " WHERE entity = ? AND row_id = ? ORDER BY id",
                                 e->name, id, names, "isssjs");
    if (items == NULL)
        return req->status;
    json_t *body = json_object();
    json_object_set_new(body, "items", items);
    return mz_reply_json(req, 200, body);
}

json_t *mz_row_items(struct mz_req *req, const char *sql, const char *entity, int64_t id,
                     const char *const *names, const char *kinds)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK) {
        mz_fail_err(req, rc);
        return NULL;
    }
    mz_db_bind_text(st, 1, entity);
    mz_db_bind_int(st, 2, id);
    json_t *items = json_array();
    size_t ncols = strlen(kinds);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *item = json_object();
        for (size_t i = 0; i < ncols; i++) {
            json_t *v;
            if (kinds[i] == 'i') {
                v = json_integer(mz_db_col_int(st, (int)i));
            } else if (kinds[i] == 'j') {
                const char *text = mz_db_col_text(st, (int)i);
                v = text ? json_loads(text, 0, NULL) : NULL;
                if (v == NULL)
                    v = json_object();
            } else {
                v = mz_json_str(mz_db_col_text(st, (int)i));
            }
            json_object_set_new(item, names[i], v);
        }
        json_array_append_new(items, item);
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        mz_fail_err(req, rc);
        return NULL;
    }
    return items;
}

int mz_h_health(struct mz_req *req)
{
    json_t *body = json_object();
    json_object_set_new(body, "status", json_string("ok"));
    json_object_set_new(body, "db", json_string(req->db ? mz_db_kind_name(req->db) : "none"));
    json_object_set_new(body, "version", json_string(MZ_VERSION));
    return mz_reply_json(req, 200, body);
}

const struct mz_route mz_engine_routes[] = {
    {"GET", "/api/v1/{entity}", mz_h_list, 0, "{entity}.read", 0, NULL, "列表查询"},
    {"POST", "/api/v1/{entity}", h_create, MZ_ROUTE_WRITE, "{entity}.create", 0, NULL, "新增"},
    {"GET", "/api/v1/{entity}/export", mz_h_export, 0, "{entity}.export", 0, NULL, "导出"},
    {"POST", "/api/v1/{entity}/import", mz_h_import,
     MZ_ROUTE_WRITE | MZ_ROUTE_RAW_BODY | MZ_ROUTE_SPOOL, "{entity}.import", MZ_BODY_LIMIT_SPOOL,
     NULL, "导入"},
    {"GET", "/api/v1/{entity}/{id}", mz_h_get, 0, "{entity}.read", 0, NULL, "查看"},
    {"PATCH", "/api/v1/{entity}/{id}", h_update, MZ_ROUTE_WRITE, "{entity}.update", 0, NULL,
     "修改"},
    {"DELETE", "/api/v1/{entity}/{id}", h_delete, MZ_ROUTE_WRITE, "{entity}.delete", 0, NULL,
     "删除"},
    {"GET", "/api/v1/{entity}/{id}/history", h_history, 0, "{entity}.read", 0, NULL, "变更历史"},
    {"GET", "/api/v1/{entity}/{id}/transitions", mz_h_transitions, 0, "{entity}.read", 0, NULL,
     "流转记录"},
    {"GET", "/api/v1/{entity}/{id}/actions", mz_h_actions, 0, "{entity}.read", 0, NULL,
     "可执行的操作"},
    {"POST", "/api/v1/{entity}/{id}/actions/{action}", mz_h_act, MZ_ROUTE_WRITE,
     "{entity}.{action}", 0, NULL, "执行流程操作"},
};
const size_t mz_engine_route_count = MZ_ARRAY_LEN(mz_engine_routes);
