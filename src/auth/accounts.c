/* accounts.c - accounts made outside requests, and the policy settings.
 *
 * `init` creates the three administrators (三员) with one-time passwords
 * (printed once by the command) or passwords from --admin-password-file; all
 * must be changed at first login. `demo` creates the contract's demo
 * accounts. `user-add` creates one account (operators, the test harness).
 * These paths write the users table directly, with the same columns the
 * engine writes, and the credentials table (mz_auth_credentials) that no
 * entity declares, so password hashes and TOTP secrets never leave it.
 *
 * The policy lives in mz_auth_config (key, value): each key has a default, a
 * range and a meaning (see config_keys). Readers cache it per thread and
 * reload when this process changed it (a generation counter), another
 * database is used, or the copy is older than CONFIG_TTL_US: a change made
 * by another server of the same database (or by `minzheng auth-config`)
 * reaches every server within that time. The API that changes it
 * (PATCH /api/v1/auth/config) goes through mz_auth_config_set.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth_internal.h"
#include "mz/validate.h"

/* One policy setting. */
struct config_key {
    const char *key;
    int64_t def, min, max;
    const char *zh;
};

static const struct config_key config_keys[] = {
    {"totp_required", 1, 0, 1, "管理员与审批人员必须使用动态口令"},
    {"lockout_threshold", 5, 1, 100, "连续登录失败多少次后锁定账号"},
    {"lockout_minutes", 30, 1, 10080, "账号锁定时长（分钟）"},
    {"login_failures_per_minute", 10, 1, 100000, "同一地址每分钟允许的登录失败次数"},
    {"idle_minutes", 30, 1, 1440, "会话空闲超时（分钟）"},
    {"absolute_hours", 12, 1, 720, "会话绝对超时（小时）"},
    {"password_classes", 0, 0, 4, "密码须包含的字符类别数（大写、小写、数字、符号）"},
    {"password_rotation_days", 0, 0, 3650, "密码有效期（天，0 为不强制更换）"},
};
#define NKEYS MZ_ARRAY_LEN(config_keys)

/* How long a thread trusts its copy of the policy (5 s). */
#define CONFIG_TTL_US 5000000

static _Atomic int config_generation = 1;
static _Thread_local struct {
    int generation;          /* generation loaded, 0: never */
    int64_t loaded_us;       /* mz_mono_us() of the load */
    const struct mz_db *db;  /* connection it was loaded from */
    int64_t values[NKEYS];
} config_cache;

/* Index of a key or -1. */
static int config_index(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(config_keys[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

/* Reload this thread's cache when stale. */
static void config_load(struct mz_db *db)
{
    int gen = atomic_load(&config_generation);
    int64_t now = mz_mono_us();
    if (config_cache.generation == gen && config_cache.db == db &&
        now - config_cache.loaded_us < CONFIG_TTL_US)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        config_cache.values[i] = config_keys[i].def;
    struct mz_stmt *st;
    if (mz_db_prepare(db, "SELECT key, value FROM mz_auth_config", &st) == MZ_OK) {
        while (mz_db_step(st) == MZ_ROW) {
            int k = config_index(mz_db_col_text(st, 0) ? mz_db_col_text(st, 0) : "");
            const char *v = mz_db_col_text(st, 1);
            if (k >= 0 && v) {
                long long x = atoll(v);
                if (x >= config_keys[k].min && x <= config_keys[k].max)
                    config_cache.values[k] = x;
            }
        }
        mz_db_done(st);
    }
    config_cache.generation = gen;
    config_cache.db = db;
    config_cache.loaded_us = now;
}

int64_t mz_auth_config_int(struct mz_db *db, const char *key, int64_t def)
{
    int k = config_index(key);
    if (k < 0)
        return def;
    config_load(db);
    return config_cache.values[k];
}

json_t *mz_auth_config_json(struct mz_db *db)
{
    json_t *o = json_object();
    config_load(db);
    for (size_t i = 0; i < NKEYS; i++)
        json_object_set_new(o, config_keys[i].key, json_integer(config_cache.values[i]));
    return o;
}

int mz_auth_config_set(struct mz_db *db, const char *key, const char *value)
{
    int k = config_index(key);
    char *end;
    if (k < 0 || value == NULL || *value == '\0')
        return MZ_ERR_INVALID;
    long long x = strtoll(value, &end, 10);
    if (*end != '\0' || x < config_keys[k].min || x > config_keys[k].max)
        return MZ_ERR_INVALID;
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "INSERT INTO mz_auth_config (key, value) VALUES (?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           &st);
    if (rc != MZ_OK)
        return rc;
    char text[32];
    snprintf(text, sizeof(text), "%lld", x);
    mz_db_bind_text(st, 1, key);
    mz_db_bind_text(st, 2, text);
    rc = mz_db_step(st);
    mz_db_done(st);
    atomic_fetch_add(&config_generation, 1);
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

int mz_auth_set_password(struct mz_db *db, int64_t user_id, const char *password,
                         bool must_change)
{
    char hash[128];
    struct mz_stmt *st;
    int rc = mz_pw_hash(password, hash);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_prepare(db,
                       "INSERT INTO mz_auth_credentials (user_id, pwhash, pw_changed_at, failed,"
                       " locked_until) VALUES (?, ?, ?, 0, 0) ON CONFLICT (user_id) DO UPDATE SET"
                       " pwhash = excluded.pwhash, pw_changed_at = excluded.pw_changed_at,"
                       " failed = 0, locked_until = 0",
                       &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, user_id);
    mz_db_bind_text(st, 2, hash);
    mz_db_bind_int(st, 3, mz_auth_now());
    rc = mz_db_step(st);
    mz_db_done(st);
    sodium_memzero(hash, sizeof(hash));
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    rc = mz_db_prepare(db, "UPDATE users SET must_change_password = ? WHERE id = ?", &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, must_change ? 1 : 0);
    mz_db_bind_int(st, 2, user_id);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

/* True if a role of that name exists (built-in or stored). */
static bool role_exists(struct mz_db *db, const char *name)
{
    for (size_t i = 0; i < mz_builtin_role_count; i++) {
        if (strcmp(mz_builtin_roles[i].name, name) == 0)
            return true;
    }
    int64_t n = 0;
    const char *params[] = {name};
    if (mz_db_query_int(db, "SELECT count(*) FROM roles WHERE name = ? AND deleted_at IS NULL",
                        &n, 1, params) != MZ_OK)
        return false;
    return n > 0;
}

/* The id of a live user by name, 0 if none. */
static int64_t user_id_of(struct mz_db *db, const char *username)
{
    int64_t id = 0;
    const char *params[] = {username};
    if (mz_db_query_int(db, "SELECT id FROM users WHERE username = ? AND deleted_at IS NULL", &id,
                        1, params) != MZ_OK)
        return 0;
    return id;
}

/* True if the username has the declared shape. */
static bool username_ok(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n < 3 || n > 32 || u[0] < 'a' || u[0] > 'z')
        return false;
    return strspn(u, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* Parse "a,b" into a JSON array of role names, checked; NULL + *why if bad. */
static json_t *parse_roles(struct mz_db *db, const char *roles, const char **why)
{
    json_t *arr = json_array();
    const char *names[16];
    char buf[512];
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", roles ? roles : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t == '\0')
            continue;
        if (n >= MZ_ARRAY_LEN(names) || !role_exists(db, t)) {
            *why = "角色不存在";
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_string(t));
        names[n++] = json_string_value(json_array_get(arr, json_array_size(arr) - 1));
    }
    const char *bad = mz_roles_check(names, n);
    if (bad) {
        *why = bad;
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int mz_auth_add_user(struct mz_db *db, const char *username, const char *name,
                     const char *password, const char *roles, const char *scope,
                     bool must_change, const char **why)
{
    static const char *ignored;
    char division[13], now[32];
    const char *reason = NULL;
    struct mz_stmt *st;
    if (why == NULL)
        why = &ignored;
    *why = NULL;
    if (!username_ok(username)) {
        *why = "用户名应为 3-32 位小写字母、数字、下划线、点或短横线，以字母开头";
        return MZ_ERR_INVALID;
    }
    if (scope == NULL || mz_division_check(scope, division, &reason) != MZ_OK) {
        *why = "管辖区划代码无效";
        return MZ_ERR_INVALID;
    }
    int classes = (int)mz_auth_config_int(db, "password_classes", 0);
    if ((*why = mz_pw_policy(password, username, classes)) != NULL)
        return MZ_ERR_INVALID;
    json_t *role_arr = parse_roles(db, roles, why);
    if (role_arr == NULL)
        return MZ_ERR_INVALID;
    if (user_id_of(db, username) != 0) {
        json_decref(role_arr);
        *why = "用户名已存在";
        return MZ_ERR_CONFLICT;
    }
    char *role_text = mz_json_dump(role_arr, NULL);
    json_decref(role_arr);
    int rc = mz_db_prepare(db,
                           "INSERT INTO users (version, created_at, updated_at, created_by,"
                           " updated_by, username, name, unit, scope_division, status,"
                           " must_change_password, roles, totp_enrolled)"
                           " VALUES (1, ?, ?, 'system', 'system', ?, ?, NULL, ?, 'active', ?, ?, 0)",
                           &st);
    if (rc != MZ_OK) {
        free(role_text);
        return rc;
    }
    mz_now_rfc3339(now);
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, username);
    mz_db_bind_text(st, 4, name && *name ? name : username);
    mz_db_bind_text(st, 5, division);
    mz_db_bind_int(st, 6, must_change ? 1 : 0);
    mz_db_bind_text(st, 7, role_text);
    rc = mz_db_step(st);
    mz_db_done(st);
    free(role_text);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    return mz_auth_set_password(db, mz_db_last_id(db), password, must_change);
}

int mz_auth_init_admins(struct mz_db *db, const char *const passwords[3],
                        char generated[3][32], int *created)
{
    static const char *const names[3][2] = {
        {"sysadmin", "系统管理员"}, {"secadmin", "安全管理员"}, {"auditadmin", "审计管理员"}};
    *created = 0;
    for (int i = 0; i < 3; i++) {
        generated[i][0] = '\0';
        if (user_id_of(db, names[i][0]) != 0)
            continue;
        const char *pw = passwords ? passwords[i] : NULL;
        if (pw == NULL) {
            mz_pw_generate(generated[i]);
            pw = generated[i];
        }
        const char *why = NULL;
        int rc = mz_auth_add_user(db, names[i][0], names[i][1], pw, names[i][0], "120000", true,
                                  &why);
        if (rc != MZ_OK) {
            mz_error("init: cannot create %s: %s", names[i][0], mz_err_name(rc));
            return rc;
        }
        (*created)++;
    }
    return MZ_OK;
}

int mz_auth_demo_accounts(struct mz_app *app, struct mz_db *db, const char *password)
{
    static const char *const demo[][4] = {
        {"sysadmin", "系统管理员", "sysadmin", "120000"},
        {"secadmin", "安全管理员", "secadmin", "120000"},
        {"auditadmin", "审计管理员", "auditadmin", "120000"},
        {"city_officer", "市级业务员", "city_officer", "120000"},
        {"heping_officer", "和平区业务员", "district_officer", "120101"},
        {"hexi_officer", "河西区业务员", "district_officer", "120103"},
        {"heping_street", "劝业场街道业务员", "street_officer", "120101001"},
        {"heping_community", "社区工作人员", "community_worker", "120101001001"},
    };
    (void)app;
    int rc = mz_auth_config_set(db, "totp_required", "0");
    if (rc != MZ_OK)
        return rc;
    for (size_t i = 0; i < MZ_ARRAY_LEN(demo); i++) {
        const char *why = NULL;
        int64_t id = user_id_of(db, demo[i][0]);
        if (id != 0) {
            /* Existing (init made the administrators): the demo password, no forced change. */
            rc = mz_auth_set_password(db, id, password, false);
        } else {
            rc = mz_auth_add_user(db, demo[i][0], demo[i][1], password, demo[i][2], demo[i][3],
                                  false, &why);
        }
        if (rc != MZ_OK) {
            mz_error("demo: cannot create account %s: %s", demo[i][0], mz_err_name(rc));
            return rc;
        }
    }
    return MZ_OK;
}
