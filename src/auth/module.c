/* module.c - the auth module: users, roles and partner tokens as entities.
 *
 * The engine gives these entities their CRUD, lists, history and admin
 * screens; the hooks below add the rules:
 *  - users: the password hash, TOTP secret, failure count and lock live in
 *    mz_auth_credentials, a table no entity declares, so no list, export or
 *    history can show them. `roles`, `must_change_password`, `totp_enrolled`
 *    and `last_login_at` are read-only: roles change only through
 *    POST /api/v1/users/{id}/actions/assign_roles (the security
 *    administrator), the rest through the auth routes. Disabling, locking or
 *    deleting an account ends its sessions at once; nobody disables or
 *    deletes their own account.
 *  - roles: built-in roles (seeded by migration 2, flagged `builtin`) cannot be
 *    changed or deleted; a custom role may hold business permissions only.
 *  - api_tokens: scopes (business permission patterns) and an optional
 *    allow-list of entities; the secret is issued by
 *    POST /api/v1/api_tokens/{id}/actions/issue and stored only as a hash.
 * Every change of an account's status, of a role or of a token is audited.
 *
 * mz_auth_install() sets the app's may/scope hooks and the server's
 * authenticate hook; see access.c and session.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/auth_internal.h"

/* --- dictionaries --------------------------------------------------------------- */

static const struct mz_dict_item user_status_items[] = {
    {"active", "正常", "Active"},
    {"disabled", "停用", "Disabled"},
    {"locked", "锁定", "Locked"},
};
static const struct mz_dict user_status = {
    .name = "auth_user_status", .zh = "账号状态", .en = "Account status",
    .items = user_status_items, .nitems = MZ_ARRAY_LEN(user_status_items)};

static const struct mz_dict_item token_status_items[] = {
    {"active", "启用", "Active"},
    {"disabled", "停用", "Disabled"},
};
static const struct mz_dict token_status = {
    .name = "auth_token_status", .zh = "令牌状态", .en = "Token status",
    .items = token_status_items, .nitems = MZ_ARRAY_LEN(token_status_items)};

static const struct mz_dict *const auth_dicts[] = {&user_status, &token_status};

/* --- users ------------------------------------------------------------------------ */

static const struct mz_field user_fields[] = {
    {.name = "username", .type = MZ_T_TEXT, .zh = "用户名", .en = "Username",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE,
     .pattern = "^[a-z][a-z0-9_.-]{2,31}$",
     .pattern_zh = "3-32 位小写字母、数字、下划线、点或短横线，以字母开头"},
    {.name = "name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 50},
    {.name = "unit", .type = MZ_T_TEXT, .zh = "单位", .en = "Unit",
     .flags = MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 100},
    {.name = "scope_division", .type = MZ_T_DIVISION, .zh = "管辖区划", .en = "Scope",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "status", .type = MZ_T_DICT, .zh = "状态", .en = "Status",
     .dict = "auth_user_status", .def = "\"active\""},
    {.name = "must_change_password", .type = MZ_T_BOOL, .zh = "须修改密码",
     .en = "Must change password", .flags = MZ_F_READONLY, .def = "true"},
    {.name = "roles", .type = MZ_T_JSON, .zh = "角色", .en = "Roles", .flags = MZ_F_READONLY,
     .def = "[]"},
    {.name = "totp_enrolled", .type = MZ_T_BOOL, .zh = "已绑定动态口令", .en = "TOTP enrolled",
     .flags = MZ_F_READONLY, .def = "false"},
    {.name = "last_login_at", .type = MZ_T_DATETIME, .zh = "最近登录", .en = "Last login",
     .flags = MZ_F_READONLY},
};

/* The status of a row (or "" if none). */
static const char *row_status(const json_t *row)
{
    const char *s = row ? json_string_value(json_object_get(row, "status")) : NULL;
    return s ? s : "";
}

/* Nobody disables, locks or deletes their own account. */
static int user_validate(struct mz_write *w)
{
    const struct mz_user *u = w->req->user;
    if (w->before && u && !u->is_token && u->id == w->id &&
        strcmp(row_status(w->row), row_status(w->before)) != 0)
        mz_errors_add(w->errors, "status", "forbidden", "不能更改自己账号的状态");
    return 0;
}

/* Refuse deleting one's own account. */
static int user_before_write(struct mz_write *w)
{
    const struct mz_user *u = w->req->user;
    if (strcmp(w->action, "delete") == 0 && u && !u->is_token && u->id == w->id)
        return mz_fail(w->req, 403, "forbidden", "不能删除自己的账号");
    return 0;
}

/* End the sessions of an account that stops being active; audit it. */
static int user_after_write(struct mz_write *w)
{
    bool deleted = strcmp(w->action, "delete") == 0;
    bool stopped = w->before && strcmp(row_status(w->row), "active") != 0 &&
                   strcmp(row_status(w->before), "active") == 0;
    if (deleted || stopped) {
        int rc = mz_sessions_revoke_user(w->req->db, w->id, 0);
        if (rc != MZ_OK)
            return mz_fail_err(w->req, rc);
        json_t *d = json_pack("{s:s}", "status", deleted ? "deleted" : row_status(w->row));
        mz_audit(w->req, deleted ? "account_delete" : "account_disable", "users", w->id, true, d);
        json_decref(d);
    } else if (w->before && strcmp(row_status(w->before), "active") != 0 &&
               strcmp(row_status(w->row), "active") == 0) {
        mz_audit(w->req, "account_enable", "users", w->id, true, NULL);
    }
    return 0;
}

static const struct mz_hooks user_hooks = {
    .validate = user_validate,
    .before_write = user_before_write,
    .after_write = user_after_write,
};

static const struct mz_entity users = {
    .name = "users", .zh = "用户", .en = "Users",
    .fields = user_fields, .nfields = MZ_ARRAY_LEN(user_fields),
    .flags = MZ_E_NO_IMPORT,
    .hooks = &user_hooks,
    .title_field = "username",
};

/* --- roles ------------------------------------------------------------------------ */

static const struct mz_field role_fields[] = {
    {.name = "name", .type = MZ_T_TEXT, .zh = "角色代码", .en = "Role",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE,
     .pattern = "^[a-z][a-z0-9_]{1,31}$", .pattern_zh = "2-32 位小写字母、数字或下划线，以字母开头"},
    {.name = "zh", .type = MZ_T_TEXT, .zh = "角色名称", .en = "Name (Chinese)",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 50},
    {.name = "permissions", .type = MZ_T_JSON, .zh = "权限", .en = "Permissions",
     .flags = MZ_F_REQUIRED},
    {.name = "builtin", .type = MZ_T_BOOL, .zh = "内置", .en = "Built-in",
     .flags = MZ_F_READONLY, .def = "false"},
};

/* Custom roles hold business permissions only. */
static int role_validate(struct mz_write *w)
{
    const char *bad = mz_patterns_check(json_object_get(w->row, "permissions"));
    if (bad)
        mz_errors_add(w->errors, "permissions", "invalid_permission", bad);
    return 0;
}

/* Built-in roles are fixed. */
static int role_before_write(struct mz_write *w)
{
    if (w->before && json_is_true(json_object_get(w->before, "builtin")))
        return mz_fail(w->req, 403, "forbidden", "内置角色不能修改或删除");
    return 0;
}

/* Audit every change of a role. */
static int role_after_write(struct mz_write *w)
{
    json_t *d = json_pack("{s:O?}", "permissions", json_object_get(w->row, "permissions"));
    mz_audit(w->req, strcmp(w->action, "create") == 0   ? "role_create"
                     : strcmp(w->action, "delete") == 0 ? "role_delete"
                                                        : "role_update",
             "roles", w->id, true, d);
    json_decref(d);
    return 0;
}

static const struct mz_hooks role_hooks = {
    .validate = role_validate,
    .before_write = role_before_write,
    .after_write = role_after_write,
};

static const struct mz_entity roles = {
    .name = "roles", .zh = "角色", .en = "Roles",
    .fields = role_fields, .nfields = MZ_ARRAY_LEN(role_fields),
    .flags = MZ_E_NO_IMPORT,
    .hooks = &role_hooks,
    .title_field = "zh",
    .default_sort = "id",
};

/* --- api tokens ---------------------------------------------------------------------- */

static const struct mz_field token_fields[] = {
    {.name = "name", .type = MZ_T_TEXT, .zh = "名称", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 50},
    {.name = "scopes", .type = MZ_T_JSON, .zh = "权限范围", .en = "Scopes",
     .flags = MZ_F_REQUIRED},
    {.name = "entities", .type = MZ_T_JSON, .zh = "允许访问的数据", .en = "Allowed entities"},
    {.name = "scope_division", .type = MZ_T_DIVISION, .zh = "管辖区划", .en = "Scope",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE},
    {.name = "status", .type = MZ_T_DICT, .zh = "状态", .en = "Status",
     .dict = "auth_token_status", .def = "\"active\""},
    {.name = "expires_on", .type = MZ_T_DATE, .zh = "有效期至", .en = "Expires on"},
    {.name = "token_hint", .type = MZ_T_TEXT, .zh = "令牌前缀", .en = "Token hint",
     .flags = MZ_F_READONLY},
};

/* Scopes are business patterns; entities an array of names. */
static int token_validate(struct mz_write *w)
{
    const char *bad = mz_patterns_check(json_object_get(w->row, "scopes"));
    if (bad)
        mz_errors_add(w->errors, "scopes", "invalid_permission", bad);
    json_t *ents = json_object_get(w->row, "entities");
    if (ents && !json_is_null(ents)) {
        size_t i;
        json_t *x;
        bool ok = json_is_array(ents) && json_array_size(ents) <= 100;
        if (ok) {
            json_array_foreach(ents, i, x) {
                const char *s = json_string_value(x);
                if (s == NULL || mz_perm_is_system(s) ||
                    mz_app_entity(w->req->app, s) == NULL)
                    ok = false;
            }
        }
        if (!ok)
            mz_errors_add(w->errors, "entities", "invalid_entity", "允许访问的数据应为业务数据名称数组");
    }
    return 0;
}

/* Audit token changes; a deleted token's secret goes too. */
static int token_after_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0) {
        struct mz_stmt *st;
        if (mz_db_prepare(w->req->db, "DELETE FROM mz_auth_token_secrets WHERE token_id = ?",
                          &st) == MZ_OK) {
            mz_db_bind_int(st, 1, w->id);
            mz_db_step(st);
            mz_db_done(st);
        }
    }
    mz_audit(w->req, strcmp(w->action, "create") == 0 ? "token_create" : "token_change",
             "api_tokens", w->id, true, NULL);
    return 0;
}

static const struct mz_hooks token_hooks = {
    .validate = token_validate,
    .after_write = token_after_write,
};

static const struct mz_entity api_tokens = {
    .name = "api_tokens", .zh = "接口令牌", .en = "API tokens",
    .fields = token_fields, .nfields = MZ_ARRAY_LEN(token_fields),
    .flags = MZ_E_NO_IMPORT,
    .hooks = &token_hooks,
    .title_field = "name",
};

static const struct mz_entity *const auth_entities[] = {&users, &roles, &api_tokens};

/* --- tables and seed ------------------------------------------------------------------ */

/* Seed the built-in roles (idempotent: existing names are kept). */
static int seed_roles(struct mz_db *db)
{
    char now[32];
    mz_now_rfc3339(now);
    for (size_t i = 0; i < mz_builtin_role_count; i++) {
        struct mz_stmt *st;
        int rc = mz_db_prepare(db,
                               "INSERT INTO roles (version, created_at, updated_at, created_by,"
                               " updated_by, name, zh, permissions, builtin)"
                               " SELECT 1, ?, ?, 'system', 'system', ?, ?, ?, 1"
                               " WHERE NOT EXISTS (SELECT 1 FROM roles WHERE name = ?"
                               " AND deleted_at IS NULL)",
                               &st);
        if (rc != MZ_OK)
            return rc;
        mz_db_bind_text(st, 1, now);
        mz_db_bind_text(st, 2, now);
        mz_db_bind_text(st, 3, mz_builtin_roles[i].name);
        mz_db_bind_text(st, 4, mz_builtin_roles[i].zh);
        mz_db_bind_text(st, 5, mz_builtin_roles[i].permissions);
        mz_db_bind_text(st, 6, mz_builtin_roles[i].name);
        rc = mz_db_step(st);
        mz_db_done(st);
        if (rc != MZ_DONE)
            return rc < 0 ? rc : MZ_ERR_DB;
    }
    return MZ_OK;
}

static const struct mz_migration auth_migrations[] = {
    {1, "auth tables",
     "CREATE TABLE mz_auth_credentials (user_id INTEGER PRIMARY KEY, pwhash TEXT NOT NULL,"
     " pw_changed_at INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0,"
     " locked_until INTEGER NOT NULL DEFAULT 0, totp_secret TEXT, totp_pending TEXT,"
     " totp_last_step INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE mz_auth_sessions (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
     " user_id INTEGER NOT NULL, csrf TEXT NOT NULL, created_at INTEGER NOT NULL,"
     " last_seen INTEGER NOT NULL, ip TEXT);"
     "CREATE INDEX ix_mz_auth_sessions_user ON mz_auth_sessions(user_id);"
     "CREATE TABLE mz_auth_token_secrets (token_id INTEGER PRIMARY KEY,"
     " token_hash TEXT NOT NULL UNIQUE);"
     "CREATE TABLE mz_auth_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
     NULL},
    {2, "built-in roles", NULL, seed_roles},
};

static const struct mz_menu auth_menus[] = {
    {.key = "system/users", .zh = "用户管理", .en = "Users", .entity = "users",
     .permission = "users.read"},
    {.key = "system/roles", .zh = "角色权限", .en = "Roles", .entity = "roles",
     .permission = "roles.read"},
    {.key = "system/tokens", .zh = "接口令牌", .en = "API tokens", .entity = "api_tokens",
     .permission = "api_tokens.read"},
};

static const struct mz_route auth_routes[] = {
    {"POST", "/api/v1/auth/login", mz_auth_h_login, MZ_ROUTE_PUBLIC, NULL, 4096, NULL, "登录"},
    {"POST", "/api/v1/auth/logout", mz_auth_h_logout, MZ_ROUTE_WRITE, NULL, 0, NULL, "退出登录"},
    {"GET", "/api/v1/auth/me", mz_auth_h_me, 0, NULL, 0, NULL, "当前用户"},
    {"POST", "/api/v1/auth/password", mz_auth_h_password, MZ_ROUTE_WRITE, NULL, 4096, NULL,
     "修改密码"},
    {"POST", "/api/v1/auth/totp/enrol", mz_auth_h_totp_enrol, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "绑定动态口令"},
    {"POST", "/api/v1/auth/totp/verify", mz_auth_h_totp_verify, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "确认动态口令"},
    {"GET", "/api/v1/auth/config", mz_auth_h_config_get, 0, "config.read", 0, NULL,
     "安全策略"},
    {"PATCH", "/api/v1/auth/config", mz_auth_h_config_set, MZ_ROUTE_WRITE, "config.update", 0,
     NULL, "修改安全策略"},
    {"POST", "/api/v1/users/{id}/actions/reset_password", mz_auth_h_reset_password,
     MZ_ROUTE_WRITE, "users.reset_password", 0, NULL, "重置密码"},
    {"POST", "/api/v1/users/{id}/actions/revoke_sessions", mz_auth_h_revoke_sessions,
     MZ_ROUTE_WRITE, "users.revoke_sessions", 0, NULL, "强制下线"},
    {"POST", "/api/v1/users/{id}/actions/assign_roles", mz_auth_h_assign_roles, MZ_ROUTE_WRITE,
     "users.assign_roles", 0, NULL, "分配角色"},
    {"POST", "/api/v1/api_tokens/{id}/actions/issue", mz_auth_h_token_issue, MZ_ROUTE_WRITE,
     "api_tokens.issue", 0, NULL, "签发令牌"},
};

/* Registered only when MZ_TEST_CLOCK=1 (mz_auth_install). */
static const struct mz_route clock_route = {
    "POST", "/api/v1/test/clock", mz_auth_h_test_clock, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
    "测试时钟（仅测试）"};
static const struct mz_route jobs_route = {
    "GET", "/api/v1/test/jobs", mz_auth_h_test_jobs, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
    "定时任务租约（仅测试）"};

/* Hourly job: delete sessions past their timeouts and shared counters of
 * minutes long gone, so neither table grows with every visitor. Wall-clock
 * time, not the auth clock: a test that moves the auth clock forward never
 * sees its sessions pruned under it (in production the two agree). A
 * session is kept until it is stale by both timeouts' worth of slack (the
 * request that finds it expired answers the timeout message itself). */
static int auth_prune_job(struct mz_app *app, struct mz_db *db)
{
    (void)app;
    int64_t now = (int64_t)time(NULL);
    int64_t idle = mz_auth_config_int(db, "idle_minutes", 30) * 60;
    int64_t absolute = mz_auth_config_int(db, "absolute_hours", 12) * 3600;
    int rc = mz_db_run(db,
                       "DELETE FROM mz_auth_sessions WHERE last_seen < ? OR created_at < ?", "ii",
                       now - 2 * idle, now - 2 * absolute);
    int64_t sessions = rc == MZ_OK ? mz_db_changes(db) : 0;
    if (rc == MZ_OK)
        rc = mz_db_run(db, "DELETE FROM mz_rate_counters WHERE minute < ?", "i", now / 60 - 60);
    if (rc == MZ_OK && sessions > 0)
        mz_info("auth prune: %lld expired sessions deleted", (long long)sessions);
    return rc;
}

static const struct mz_job auth_jobs[] = {
    {"auth-prune", 3600, auth_prune_job},
};

const struct mz_module mz_module_auth = {
    .name = "auth", .zh = "身份与权限", .en = "Identity and access",
    .entities = auth_entities, .nentities = MZ_ARRAY_LEN(auth_entities),
    .routes = auth_routes, .nroutes = MZ_ARRAY_LEN(auth_routes),
    .menus = auth_menus, .nmenus = MZ_ARRAY_LEN(auth_menus),
    .migrations = auth_migrations, .nmigrations = MZ_ARRAY_LEN(auth_migrations),
    .dicts = auth_dicts, .ndicts = MZ_ARRAY_LEN(auth_dicts),
    .jobs = auth_jobs, .njobs = MZ_ARRAY_LEN(auth_jobs),
};

void mz_auth_install(struct mz_app *app, struct mz_server_hooks *hooks)
{
    if (sodium_init() < 0)
        abort();
    mz_access_set_app(app);
    app->may = mz_auth_may;
    app->scope = mz_auth_scope;
    app->owner = mz_auth_owner;
    hooks->authenticate = mz_auth_authenticate;
    const char *clock = getenv("MZ_TEST_CLOCK");
    if (clock && strcmp(clock, "1") == 0) {
        mz_warn("MZ_TEST_CLOCK=1: the public test route POST /api/v1/test/clock can move the "
                "auth clock; NEVER run production like this");
        mz_router_add(app->router, &clock_route);
        mz_router_add(app->router, &jobs_route);
    }
}
