/* routes.c - the auth routes and the administrators' account actions.
 *
 *   POST /api/v1/auth/login      {"username","password","totp"?} -> token, CSRF token,
 *                                user; Set-Cookie mz_session (HttpOnly, SameSite=Strict,
 *                                Secure behind TLS). Every failure is the same 401
 *                                (unknown user, wrong password, locked, disabled);
 *                                429 when the address failed too often this minute.
 *   POST /api/v1/auth/logout     ends the session
 *   GET  /api/v1/auth/me         the caller (and the CSRF token of the session)
 *   POST /api/v1/auth/password   {"old_password","new_password"}: ends the other sessions
 *   POST /api/v1/auth/totp/enrol -> secret and otpauth:// URI (pending until verified)
 *   POST /api/v1/auth/totp/verify {"code"}
 *   GET|PATCH /api/v1/auth/config  the policy (config.read / config.update)
 *   POST /api/v1/users/{id}/actions/reset_password   (sysadmin) one-time password
 *   POST /api/v1/users/{id}/actions/revoke_sessions  (sysadmin, secadmin)
 *   POST /api/v1/users/{id}/actions/assign_roles     (secadmin) {"roles":[...]}
 *   POST /api/v1/api_tokens/{id}/actions/issue       (secadmin) -> the token, once
 *   POST /api/v1/test/clock      {"offset_seconds"} only with MZ_TEST_CLOCK=1
 *
 * Login is a public route without the dispatcher's transaction: it opens its
 * own, so a failure (counted, maybe locking the account, audited) is
 * committed although the reply is 401. Nothing here logs a password, a
 * token or a TOTP code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth_internal.h"

/* Longest username/password accepted before any work is done. */
#define LOGIN_USERNAME_MAX 64
#define LOGIN_PASSWORD_MAX 512

/* The {id} path parameter as a positive integer, or 0 after 404. */
static int64_t path_id(struct mz_req *req)
{
    const char *s = mz_req_param(req, "id");
    int64_t v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s) ||
        (v = atoll(s)) <= 0) {
        mz_fail(req, 404, "not_found", "记录不存在");
        return 0;
    }
    return v;
}

/* The caller as JSON for login and /me. */
static json_t *user_json(struct mz_req *req, const struct mz_user *u)
{
    json_t *roles = json_array(), *o;
    for (size_t i = 0; i < u->nroles; i++)
        json_array_append_new(roles, json_string(u->roles[i]));
    bool totp_required =
        u->needs_totp && mz_auth_config_int(req->db, "totp_required", 1) != 0;
    o = json_pack("{s:I,s:s,s:s,s:s?,s:o,s:s?,s:b,s:b,s:b}", "id", (json_int_t)u->id,
                  "username", u->username, "name", u->name, "unit", u->unit, "roles", roles,
                  "scope", u->scope, "must_change_password", u->must_change, "totp_enrolled",
                  u->totp_enrolled, "totp_required", totp_required);
    /* The permission patterns of the user's roles: the web app's hint for
     * which buttons and menu entries to show (the server decides every call). */
    json_t *perms = json_array();
    for (size_t i = 0; i < u->npatterns; i++)
        json_array_append_new(perms, json_string(u->patterns[i]));
    json_object_set_new(o, "permissions", perms);
    return o;
}

/* --- login ------------------------------------------------------------------------- */

/* What the login lookup found. */
struct login_row {
    bool found;
    int64_t id;
    char status[16];
    char *pwhash;          /* malloc'd */
    int64_t failed, locked_until, totp_last_step, pw_changed_at;
    char totp_secret[64];
    const char *username;  /* as typed (the request's), for this client's failure count */
};

/* Find the account and its credentials by username. */
static int login_lookup(struct mz_req *req, const char *username, struct login_row *r)
{
    struct mz_stmt *st;
    memset(r, 0, sizeof(*r));
    int rc = mz_db_prepare(req->db,
                           "SELECT u.id, u.status, c.pwhash, c.failed, c.locked_until,"
                           " c.totp_secret, c.totp_last_step, c.pw_changed_at FROM users u"
                           " LEFT JOIN mz_auth_credentials c ON c.user_id = u.id"
                           " WHERE u.username = ? AND u.deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, username);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        r->found = true;
        r->id = mz_db_col_int(st, 0);
        snprintf(r->status, sizeof(r->status), "%s",
                 mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "");
        r->pwhash = mz_db_col_text(st, 2) ? mz_xstrdup(mz_db_col_text(st, 2)) : NULL;
        r->failed = mz_db_col_int(st, 3);
        r->locked_until = mz_db_col_int(st, 4);
        snprintf(r->totp_secret, sizeof(r->totp_secret), "%s",
                 mz_db_col_text(st, 5) ? mz_db_col_text(st, 5) : "");
        r->totp_last_step = mz_db_col_int(st, 6);
        r->pw_changed_at = mz_db_col_int(st, 7);
        rc = MZ_OK;
    } else {
        rc = rc < 0 ? rc : MZ_OK;
    }
    mz_db_done(st);
    return rc;
}

/* Count a failed login against the account; lock it at the threshold. Runs
 * in login_fail's write transaction and counts in the database (failed + 1,
 * then read back), so failures that arrive at several servers at once all
 * count: the lockout holds for the whole cluster. */
static int login_count_failure(struct mz_req *req, const struct login_row *r, int64_t now)
{
    if (!r->found || r->pwhash == NULL || r->locked_until > now)
        return MZ_OK;
    int rc = mz_db_run(req->db,
                       "UPDATE mz_auth_credentials SET failed = failed + 1 WHERE user_id = ?"
                       " AND locked_until <= ?",
                       "ii", r->id, now);
    if (rc != MZ_OK || mz_db_changes(req->db) == 0)
        return rc; /* locked meanwhile by another server */
    char id[24];
    const char *params[] = {id};
    int64_t failed = 0;
    snprintf(id, sizeof(id), "%lld", (long long)r->id);
    rc = mz_db_query_int(req->db, "SELECT failed FROM mz_auth_credentials WHERE user_id = ?",
                         &failed, 1, params);
    if (rc != MZ_OK)
        return rc;
    int64_t threshold = mz_auth_config_int(req->db, "lockout_threshold", 5);
    if (failed < threshold)
        return MZ_OK;
    int64_t until = now + mz_auth_config_int(req->db, "lockout_minutes", 30) * 60;
    mz_warn("login: account %lld locked after %lld failures", (long long)r->id,
            (long long)failed);
    json_t *d = json_pack("{s:I}", "failures", (json_int_t)failed);
    mz_audit(req, "account_locked", "users", r->id, true, d);
    json_decref(d);
    return mz_db_run(req->db,
                     "UPDATE mz_auth_credentials SET failed = 0, locked_until = ? WHERE user_id = ?",
                     "ii", until, r->id);
}

/* This client's failed logins for the name it typed, in the current window
 * of lockout_minutes (shared counters: all servers count into one row).
 * Counted alike for every kind of failure (unknown user, wrong password,
 * locked, disabled), so the answer it chooses depends only on what this
 * client did, never on whether the account exists or is locked: the same
 * five failures against a name that does not exist give the same lockout
 * message. The key holds a hash of the name, not the name (a password typed
 * into the wrong field must not be stored). 0 when it cannot be counted. */
static void client_failures_key(const struct mz_req *req, const char *username, char key[128])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof(h), (const unsigned char *)username, strlen(username), NULL, 0);
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(key, 128, "loginfail:%s:%s", req->client_ip ? req->client_ip : "-", hex);
}

static int64_t client_failures(struct mz_req *req, const char *username, int64_t now)
{
    if (username == NULL)
        return 0;
    char key[128];
    client_failures_key(req, username, key);
    int64_t window = mz_auth_config_int(req->db, "lockout_minutes", 30);
    int64_t minute = now / 60 / window * window, hits = 0;
    return mz_rate_hit(req->db, key, minute, &hits) == MZ_OK ? hits : 0;
}

/* Record a failed login (own transaction) and answer the generic 401; once
 * this client has failed lockout_threshold times for the name it typed, the
 * answer says that the account is locked (see client_failures). */
static int login_fail(struct mz_req *req, struct login_row *r, const char *reason,
                      bool count, int status, const char *code, const char *message)
{
    int64_t now = mz_auth_now();
    bool generic = strcmp(code, "login_failed") == 0 && strcmp(reason, "bad_totp") != 0;
    if (mz_db_begin_write(req->db) == MZ_OK) {
        mz_login_rate_note(req->db, req->client_ip);
        if (generic &&
            client_failures(req, r->username, now) >= mz_auth_config_int(req->db, "lockout_threshold", 5))
            message = mz_arena_printf(req->arena,
                                      "连续登录失败次数过多，账号已被锁定 %lld 分钟，请稍后再试或联系管理员",
                                      (long long)mz_auth_config_int(req->db, "lockout_minutes", 30));
        int rc = count ? login_count_failure(req, r, now) : MZ_OK;
        json_t *d = json_pack("{s:s}", "reason", reason);
        mz_audit(req, "login", "users", r->found ? r->id : 0, false, d);
        json_decref(d);
        if (rc == MZ_OK)
            rc = mz_db_commit(req->db);
        if (rc != MZ_OK && mz_db_in_transaction(req->db))
            mz_db_rollback(req->db);
    }
    mz_info("login failed from %s: %s", req->client_ip ? req->client_ip : "-", reason);
    free(r->pwhash);
    r->pwhash = NULL;
    return mz_fail(req, status, code, message);
}

/* Build the Set-Cookie header value for a session token (or a deletion). */
static const char *session_cookie(struct mz_req *req, const char *token)
{
    const char *proto = mz_req_header(req, "X-Forwarded-Proto");
    bool tls = proto && strcmp(proto, "https") == 0;
    if (token == NULL)
        return mz_arena_printf(req->arena,
                               "mz_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
                               tls ? "; Secure" : "");
    return mz_arena_printf(req->arena, "mz_session=%s; HttpOnly; SameSite=Strict; Path=/%s",
                           token, tls ? "; Secure" : "");
}

/* The old session of this browser, ended at login (session fixation). */
static void drop_presented_session(struct mz_req *req)
{
    const char *old = mz_session_cookie(req);
    char hash[MZ_TOKEN_HASH_HEX + 1];
    if (old == NULL || strlen(old) != MZ_TOKEN_TEXT)
        return;
    mz_token_hash(old, hash);
    (void)mz_db_run(req->db, "DELETE FROM mz_auth_sessions WHERE token_hash = ?", "t", hash);
}

int mz_auth_h_login(struct mz_req *req)
{
    const char *username = NULL, *password = NULL, *totp = NULL;
    struct login_row r;
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    if (mz_json_get_str(in, "username", &username) != MZ_OK ||
        mz_json_get_str(in, "password", &password) != MZ_OK || *username == '\0')
        return mz_fail(req, 400, "bad_request", "请输入用户名和密码");
    if (mz_json_get_str(in, "totp", &totp) != MZ_OK)
        totp = NULL;
    memset(&r, 0, sizeof(r));
    int per_minute = (int)mz_auth_config_int(req->db, "login_failures_per_minute", 10);
    if (!mz_login_rate_ok(req->db, req->client_ip, per_minute)) {
        mz_req_add_header(req, "Retry-After", "60");
        mz_warn("login: rate limit reached for %s", req->client_ip ? req->client_ip : "-");
        return mz_fail(req, 429, "rate_limited", "登录尝试过于频繁，请稍后再试");
    }
    if (strlen(username) > LOGIN_USERNAME_MAX || strlen(password) > LOGIN_PASSWORD_MAX)
        return login_fail(req, &r, "too_long", false, 401, "login_failed", "用户名或密码错误");
    int rc = login_lookup(req, username, &r);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    r.username = username;
    int64_t now = mz_auth_now();
    bool pw_ok;
    if (r.found && r.pwhash)
        pw_ok = mz_pw_verify(r.pwhash, password);
    else {
        mz_pw_dummy_verify(password);
        pw_ok = false;
    }
    if (!r.found)
        return login_fail(req, &r, "unknown_user", false, 401, "login_failed", "用户名或密码错误");
    if (r.locked_until > now)
        return login_fail(req, &r, "locked", false, 401, "login_failed", "用户名或密码错误");
    if (!pw_ok)
        return login_fail(req, &r, "bad_password", true, 401, "login_failed", "用户名或密码错误");
    if (strcmp(r.status, "active") != 0)
        return login_fail(req, &r, "not_active", false, 401, "login_failed", "用户名或密码错误");

    struct mz_user *u = mz_user_load(req, r.id);
    if (u == NULL)
        return login_fail(req, &r, "not_active", false, 401, "login_failed", "用户名或密码错误");
    int64_t step = 0;
    bool totp_used = false;
    if (u->needs_totp && u->totp_enrolled && r.totp_secret[0] &&
        mz_auth_config_int(req->db, "totp_required", 1) != 0) {
        if (totp == NULL || *totp == '\0') {
            free(r.pwhash);
            return mz_fail(req, 401, "totp_required", "请输入动态口令");
        }
        if (!mz_totp_verify(r.totp_secret, totp, now, &step) || step <= r.totp_last_step)
            return login_fail(req, &r, "bad_totp", true, 401, "login_failed", "动态口令不正确");
        totp_used = true;
    }

    /* Success: one transaction for the counters, the rehash and the session. */
    const char *token = NULL, *csrf = NULL;
    char now_text[32];
    rc = mz_db_begin_write(req->db);
    if (rc != MZ_OK) {
        free(r.pwhash);
        return mz_fail_err(req, rc);
    }
    mz_now_rfc3339(now_text);
    rc = mz_db_run(req->db, "UPDATE mz_auth_credentials SET failed = 0, locked_until = 0"
                           " WHERE user_id = ?", "i", r.id);
    if (rc == MZ_OK) {
        /* The account's failures start again, and so does this client's count. */
        char key[128];
        client_failures_key(req, username, key);
        rc = mz_db_run(req->db, "DELETE FROM mz_rate_counters WHERE key = ?", "t", key);
    }
    if (rc == MZ_OK && totp_used)
        rc = mz_db_run(req->db, "UPDATE mz_auth_credentials SET totp_last_step = ? WHERE user_id = ?",
                      "ii", step, r.id);
    if (rc == MZ_OK && mz_pw_needs_rehash(r.pwhash)) {
        char hash[128];
        if (mz_pw_hash(password, hash) == MZ_OK)
            rc = mz_db_run(req->db, "UPDATE mz_auth_credentials SET pwhash = ? WHERE user_id = ?",
                          "ti", hash, r.id);
        sodium_memzero(hash, sizeof(hash));
    }
    int64_t rotation = mz_auth_config_int(req->db, "password_rotation_days", 0);
    if (rc == MZ_OK && rotation > 0 && now - r.pw_changed_at > rotation * 86400) {
        rc = mz_db_run(req->db, "UPDATE users SET must_change_password = 1 WHERE id = ?", "i", r.id);
        u->must_change = true;
    }
    if (rc == MZ_OK)
        rc = mz_db_run(req->db, "UPDATE users SET last_login_at = ? WHERE id = ?", "ti", now_text,
                      r.id);
    if (rc == MZ_OK) {
        drop_presented_session(req);
        rc = mz_session_create(req, r.id, &token, &csrf);
    }
    if (rc == MZ_OK) {
        req->user = u;
        req->actor = u->username;
        mz_audit(req, "login", "users", r.id, true, NULL);
        rc = mz_db_commit(req->db);
    }
    free(r.pwhash);
    if (rc != MZ_OK) {
        if (mz_db_in_transaction(req->db))
            mz_db_rollback(req->db);
        return mz_fail_err(req, rc);
    }
    mz_req_add_header(req, "Set-Cookie", session_cookie(req, token));
    json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "token", token, "csrf_token", csrf,
                             "csrf_header", "X-CSRF-Token", "user", user_json(req, u));
    return mz_reply_json(req, 200, body);
}

/* --- the caller's own routes ---------------------------------------------------------- */

int mz_auth_h_logout(struct mz_req *req)
{
    struct mz_user *u = req->user;
    if (u && u->session_id) {
        int rc = mz_session_delete(req->db, u->session_id);
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
        mz_audit(req, "logout", "users", u->id, true, NULL);
    }
    mz_req_add_header(req, "Set-Cookie", session_cookie(req, NULL));
    return mz_reply_bytes(req, 204, NULL, NULL, 0);
}

int mz_auth_h_me(struct mz_req *req)
{
    struct mz_user *u = req->user;
    if (u->is_token) {
        json_t *scopes = json_array();
        for (size_t i = 0; i < u->npatterns; i++)
            json_array_append_new(scopes, json_string(u->patterns[i]));
        return mz_reply_json(req, 200,
                             json_pack("{s:{s:I,s:s,s:s?,s:o}}", "token", "id",
                                       (json_int_t)u->id, "name", u->name, "scope", u->scope,
                                       "scopes", scopes));
    }
    json_t *body = json_pack("{s:o,s:s}", "user", user_json(req, u), "csrf_header",
                             "X-CSRF-Token");
    if (u->csrf)
        json_object_set_new(body, "csrf_token", json_string(u->csrf));
    return mz_reply_json(req, 200, body);
}

/* The caller's stored password hash (malloc'd) or NULL. */
static char *stored_hash(struct mz_req *req, int64_t user_id)
{
    struct mz_stmt *st;
    char *h = NULL;
    if (mz_db_prepare(req->db, "SELECT pwhash FROM mz_auth_credentials WHERE user_id = ?", &st) !=
        MZ_OK)
        return NULL;
    mz_db_bind_int(st, 1, user_id);
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
        h = mz_xstrdup(mz_db_col_text(st, 0));
    mz_db_done(st);
    return h;
}

int mz_auth_h_password(struct mz_req *req)
{
    struct mz_user *u = req->user;
    const char *old_pw, *new_pw;
    if (u->is_token)
        return mz_fail(req, 403, "forbidden", "接口令牌不能修改密码");
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    if (mz_json_get_str(in, "old_password", &old_pw) != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "请输入原密码", "old_password");
    if (mz_json_get_str(in, "new_password", &new_pw) != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "请输入新密码", "new_password");
    if (strlen(old_pw) > LOGIN_PASSWORD_MAX)
        return mz_fail_field(req, 422, "validation_failed", "原密码不正确", "old_password");
    char *hash = stored_hash(req, u->id);
    bool ok = hash && mz_pw_verify(hash, old_pw);
    free(hash);
    if (!ok) {
        mz_login_rate_note(req->db, req->client_ip);
        return mz_fail_field(req, 422, "validation_failed", "原密码不正确", "old_password");
    }
    int classes = (int)mz_auth_config_int(req->db, "password_classes", 0);
    const char *why = mz_pw_policy(new_pw, u->username, classes);
    if (why == NULL && strcmp(new_pw, old_pw) == 0)
        why = "新密码不能与原密码相同";
    if (why)
        return mz_fail_field(req, 422, "validation_failed", why, "new_password");
    int rc = mz_auth_set_password(req->db, u->id, new_pw, false);
    if (rc == MZ_OK)
        rc = mz_sessions_revoke_user(req->db, u->id, u->session_id);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_audit(req, "password_change", "users", u->id, true, NULL);
    u->must_change = false;
    return mz_reply_json(req, 200, json_pack("{s:o}", "user", user_json(req, u)));
}

int mz_auth_h_totp_enrol(struct mz_req *req)
{
    struct mz_user *u = req->user;
    unsigned char raw[MZ_TOTP_SECRET_BYTES];
    char secret[64];
    if (u->is_token)
        return mz_fail(req, 403, "forbidden", "接口令牌不能绑定动态口令");
    if (u->totp_enrolled)
        return mz_fail(req, 409, "already_enrolled", "已绑定动态口令；如需更换请联系系统管理员重置");
    randombytes_buf(raw, sizeof(raw));
    mz_base32_encode(raw, sizeof(raw), secret);
    sodium_memzero(raw, sizeof(raw));
    int rc = mz_db_run(req->db, "UPDATE mz_auth_credentials SET totp_pending = ? WHERE user_id = ?",
                      "ti", secret, u->id);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    char *uri = mz_arena_printf(req->arena,
                                "otpauth://totp/minzheng:%s?secret=%s&issuer=minzheng"
                                "&algorithm=SHA1&digits=6&period=30",
                                u->username, secret);
    return mz_reply_json(req, 200, json_pack("{s:s,s:s}", "secret", secret, "uri", uri));
}

int mz_auth_h_totp_verify(struct mz_req *req)
{
    struct mz_user *u = req->user;
    const char *code;
    struct mz_stmt *st;
    char pending[64] = "";
    if (u->is_token)
        return mz_fail(req, 403, "forbidden", "接口令牌不能绑定动态口令");
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    if (mz_json_get_str(in, "code", &code) != MZ_OK)
        return mz_fail_field(req, 422, "validation_failed", "请输入动态口令", "code");
    int rc = mz_db_prepare(req->db, "SELECT totp_pending FROM mz_auth_credentials WHERE user_id = ?",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, u->id);
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
        snprintf(pending, sizeof(pending), "%s", mz_db_col_text(st, 0));
    mz_db_done(st);
    if (pending[0] == '\0')
        return mz_fail(req, 409, "not_enrolling", "请先申请绑定动态口令");
    int64_t step;
    if (!mz_totp_verify(pending, code, mz_auth_now(), &step))
        return mz_fail_field(req, 422, "validation_failed", "动态口令不正确", "code");
    rc = mz_db_run(req->db,
                  "UPDATE mz_auth_credentials SET totp_secret = totp_pending, totp_pending = NULL,"
                  " totp_last_step = ? WHERE user_id = ?",
                  "ii", step, u->id);
    if (rc == MZ_OK)
        rc = mz_db_run(req->db, "UPDATE users SET totp_enrolled = 1 WHERE id = ?", "i", u->id);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_audit(req, "totp_enrol", "users", u->id, true, NULL);
    u->totp_enrolled = true;
    return mz_reply_json(req, 200, json_pack("{s:o}", "user", user_json(req, u)));
}

/* --- policy ------------------------------------------------------------------------------ */

int mz_auth_h_config_get(struct mz_req *req)
{
    return mz_reply_json(req, 200, mz_auth_config_json(req->db));
}

int mz_auth_h_config_set(struct mz_req *req)
{
    json_t *in = mz_req_object_or_fail(req);
    const char *key;
    json_t *value;
    if (in == NULL)
        return req->status;
    json_object_foreach(in, key, value) {
        char text[32];
        if (!json_is_integer(value) && !json_is_boolean(value))
            return mz_fail_field(req, 422, "validation_failed", "取值应为整数", key);
        snprintf(text, sizeof(text), "%lld",
                 json_is_boolean(value) ? (long long)json_is_true(value)
                                        : (long long)json_integer_value(value));
        int rc = mz_auth_config_set(req->db, key, text);
        if (rc == MZ_ERR_INVALID)
            return mz_fail_field(req, 422, "validation_failed", "未知的策略项或取值超出范围", key);
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
    }
    mz_audit(req, "config_change", "config", 0, true, in);
    return mz_reply_json(req, 200, mz_auth_config_json(req->db));
}

/* --- administrators' actions on accounts ---------------------------------------------- */

/* The users row in the caller's scope (404 otherwise); new reference. */
static json_t *user_row(struct mz_req *req, int64_t id)
{
    const struct mz_entity *e = mz_app_entity(req->app, "users");
    return e ? mz_entity_get(req, e, id) : NULL;
}

/* True if the row's roles include one of the 三员. */
static bool row_is_admin(const json_t *row)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(row, "roles"), i, r) {
        if (json_string_value(r) && mz_role_is_admin(json_string_value(r)))
            return true;
    }
    return false;
}

int mz_auth_h_reset_password(struct mz_req *req)
{
    int64_t id = path_id(req);
    if (id == 0)
        return req->status;
    json_t *row = user_row(req, id);
    if (row == NULL)
        return req->status;
    bool admin = row_is_admin(row);
    json_decref(row);
    if (id == req->user->id)
        return mz_fail(req, 403, "forbidden", "请通过“修改密码”更改自己的密码");
    /* Resetting another administrator's password would let one of the 三员
     * take over another's duties. */
    if (admin)
        return mz_fail(req, 403, "forbidden", "三员分立：不能重置其他管理员的密码");
    char pw[32];
    mz_pw_generate(pw);
    int rc = mz_auth_set_password(req->db, id, pw, true);
    if (rc == MZ_OK)
        rc = mz_db_run(req->db,
                      "UPDATE mz_auth_credentials SET totp_secret = NULL, totp_pending = NULL"
                      " WHERE user_id = ?",
                      "i", id);
    if (rc == MZ_OK)
        rc = mz_db_run(req->db, "UPDATE users SET totp_enrolled = 0 WHERE id = ?", "i", id);
    if (rc == MZ_OK)
        rc = mz_sessions_revoke_user(req->db, id, 0);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_audit(req, "password_reset", "users", id, true, NULL);
    json_t *body = json_pack("{s:s,s:b}", "password", pw, "must_change_password", 1);
    sodium_memzero(pw, sizeof(pw));
    return mz_reply_json(req, 200, body);
}

int mz_auth_h_revoke_sessions(struct mz_req *req)
{
    int64_t id = path_id(req);
    if (id == 0)
        return req->status;
    json_t *row = user_row(req, id);
    if (row == NULL)
        return req->status;
    json_decref(row);
    int rc = mz_sessions_revoke_user(req->db, id, 0);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_audit(req, "revoke_sessions", "users", id, true, NULL);
    return mz_reply_json(req, 200, json_pack("{s:I}", "revoked", (json_int_t)mz_db_changes(req->db)));
}

int mz_auth_h_assign_roles(struct mz_req *req)
{
    int64_t id = path_id(req);
    if (id == 0)
        return req->status;
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    json_t *roles = json_object_get(in, "roles");
    if (!json_is_array(roles) || json_array_size(roles) > 16)
        return mz_fail_field(req, 422, "validation_failed", "角色应为角色代码数组", "roles");
    if (id == req->user->id)
        return mz_fail(req, 403, "forbidden", "不能给自己分配角色");
    json_t *row = user_row(req, id);
    if (row == NULL)
        return req->status;
    const char *names[16];
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        const char *s = json_string_value(r);
        int64_t found = 0;
        const char *params[] = {s};
        if (s == NULL ||
            mz_db_query_int(req->db,
                            "SELECT count(*) FROM roles WHERE name = ? AND deleted_at IS NULL",
                            &found, 1, params) != MZ_OK ||
            found == 0) {
            json_decref(row);
            return mz_fail_field(req, 422, "validation_failed", "角色不存在", "roles");
        }
        names[n++] = s;
    }
    const char *bad = mz_roles_check(names, n);
    if (bad) {
        json_decref(row);
        return mz_fail_field(req, 422, "separation_of_duties", bad, "roles");
    }
    json_t *before = json_incref(json_object_get(row, "roles"));
    json_decref(row);
    char *text = mz_json_dump(roles, NULL), now[32];
    mz_now_rfc3339(now);
    int rc = mz_db_run(req->db,
                      "UPDATE users SET roles = ?, version = version + 1, updated_at = ?,"
                      " updated_by = ? WHERE id = ? AND deleted_at IS NULL",
                      "ttti", text, now, req->actor, id);
    free(text);
    if (rc != MZ_OK) {
        json_decref(before);
        return mz_fail_err(req, rc);
    }
    json_t *d = json_pack("{s:o,s:O}", "from", before ? before : json_array(), "to", roles);
    mz_audit(req, "role_assign", "users", id, true, d);
    json_decref(d);
    json_t *out = user_row(req, id);
    if (out == NULL)
        return req->status;
    return mz_reply_json(req, 200, out);
}

int mz_auth_h_token_issue(struct mz_req *req)
{
    int64_t id = path_id(req);
    if (id == 0)
        return req->status;
    const struct mz_entity *e = mz_app_entity(req->app, "api_tokens");
    json_t *row = e ? mz_entity_get(req, e, id) : NULL;
    if (row == NULL)
        return req->status;
    json_decref(row);
    char token[MZ_TOKEN_TEXT + 1], hash[MZ_TOKEN_HASH_HEX + 1], hint[16];
    mz_token_new("mzp_", token);
    mz_token_hash(token, hash);
    snprintf(hint, sizeof(hint), "%.10s…", token);
    int rc = mz_db_run(req->db,
                      "INSERT INTO mz_auth_token_secrets (token_id, token_hash) VALUES (?, ?)"
                      " ON CONFLICT (token_id) DO UPDATE SET token_hash = excluded.token_hash",
                      "it", id, hash);
    if (rc == MZ_OK)
        rc = mz_db_run(req->db, "UPDATE api_tokens SET token_hint = ? WHERE id = ?", "ti", hint, id);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_audit(req, "token_issue", "api_tokens", id, true, NULL);
    json_t *body = json_pack("{s:s}", "token", token);
    sodium_memzero(token, sizeof(token));
    return mz_reply_json(req, 200, body);
}

/* --- test clock --------------------------------------------------------------------------- */

int mz_auth_h_test_clock(struct mz_req *req)
{
    int64_t offset;
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    if (mz_json_get_int(in, "offset_seconds", &offset) != MZ_OK || offset < -86400 * 400 ||
        offset > 86400 * 400)
        return mz_fail_field(req, 422, "validation_failed", "offset_seconds 应为整数", "offset_seconds");
    mz_auth_clock_shift(offset);
    mz_warn("test clock moved by %lld s", (long long)offset);
    /* Moving back, the failed-login counts of the minutes left behind are
     * forgotten (this process's table resets on a minute change anyway): a
     * test that puts the clock back must not meet its own future failures
     * when real time reaches those minutes again. */
    if (offset < 0)
        (void)mz_db_run(req->db, "DELETE FROM mz_rate_counters WHERE key LIKE 'login:%' AND minute > ?",
                        "i", mz_auth_now() / 60);
    return mz_reply_json(req, 200, json_pack("{s:I}", "now", (json_int_t)mz_auth_now()));
}

int mz_auth_h_test_jobs(struct mz_req *req)
{
    return mz_reply_json(req, 200, json_pack("{s:o}", "items", mz_jobs_leases(req->db)));
}
