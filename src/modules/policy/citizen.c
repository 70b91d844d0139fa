/* citizen.c - citizen accounts of the service hall (网上办事大厅).
 *
 *   POST /api/v1/public/register {"id_number","name","phone","password"}
 *
 * A public write route (no login, the dispatcher's one transaction). It
 * creates, all or nothing:
 *  - an account through the auth module's mz_auth_add_user with the role
 *    `citizen`, scope 120000 (a citizen is bounded by ownership, not area),
 *    and the username "c<phone>": usernames must start with a letter, and an
 *    ID number must never be a username (usernames reach created_by, history
 *    and the audit log in clear; the log scan of tests/api/storage.test.mjs
 *    forbids ID numbers there). Citizens log in with /api/v1/auth/login; the
 *    hall's login page turns a phone number into that username.
 *  - a citizen_profiles row (name, ID number and phone, both sealed at rest
 *    with blind indexes, unique) created by the engine with the new username
 *    as its creator, so the citizen reads its own profile and nobody else's.
 * Checks: every field error at once (422, the engine's codes: required,
 * invalid_id_number with the GB 11643 check digit, invalid_phone), then the
 * password policy (422 on `password`), then duplicates (409 `duplicate`:
 * `phone` when the account exists, `id_number` when the person registered
 * before). The demo skips SMS verification of the phone.
 * Rate limit: MZ_REGISTER_PER_MINUTE attempts per client address per minute
 * (default 10), then 429 `rate_limited` with Retry-After; counted per server
 * and in the counters all servers of the database share (mz_rate_hit).
 * Nothing here logs an ID number, a phone number or a password.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modules/policy/policy_internal.h"
#include "mz/auth.h"

/* Longest password looked at (the auth module's own cap is lower). */
#define REGISTER_PASSWORD_MAX 512
/* Slots of the per-address counters (collisions only make the limit stricter). */
#define RATE_SLOTS 256

static const struct mz_field profile_fields[] = {
    {.name = "username", .type = MZ_T_TEXT, .zh = "登录名", .en = "Username",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE | MZ_F_HAS_MAX,
     .max = 32},
    {.name = "name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 2, .max = 50},
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "身份证号", .en = "ID number",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SENSITIVE | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE},
    {.name = "phone", .type = MZ_T_PHONE, .zh = "手机号", .en = "Mobile phone",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SENSITIVE | MZ_F_IMMUTABLE | MZ_F_SEARCHABLE},
};

const struct mz_entity policy_citizen_profiles = {
    .name = "citizen_profiles",
    .zh = "公众账号",
    .en = "Citizen accounts",
    .fields = profile_fields,
    .nfields = MZ_ARRAY_LEN(profile_fields),
    /* Rows come from registration only. */
    .flags = MZ_E_READONLY | MZ_E_NO_CREATE | MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
    .title_field = "name",
};

/* One per-address counter of the current minute. */
struct rate_slot {
    uint64_t key;   /* FNV-1a of the address, 0 unused */
    int64_t window; /* minute of the count */
    int count;
};
static struct rate_slot rate_slots[RATE_SLOTS];
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* True if one more registration attempt from this address is allowed now
 * (and count it). */
static bool register_rate_ok(const char *ip)
{
    const char *v = getenv("MZ_REGISTER_PER_MINUTE");
    int limit = v && atoi(v) > 0 ? atoi(v) : 10;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = ip ? ip : "-"; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = h ? h : 1;
    int64_t window = mz_mono_us() / 60000000;
    bool ok;
    pthread_mutex_lock(&rate_lock);
    struct rate_slot *s = &rate_slots[h % RATE_SLOTS];
    if (s->key != h || s->window != window) {
        s->key = h;
        s->window = window;
        s->count = 0;
    }
    ok = s->count < limit;
    if (ok)
        s->count++;
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

/* Normalise one input field against its declaration into out (adds an error
 * and leaves out alone when bad). */
static void take_field(struct mz_req *req, json_t *in, const char *name, json_t *out,
                       json_t *errors)
{
    const struct mz_field *f = mz_entity_field(&policy_citizen_profiles, name);
    json_t *v = json_object_get(in, name), *norm = NULL;
    const char *code, *message;
    if (v == NULL || json_is_null(v) || (json_is_string(v) && *json_string_value(v) == '\0')) {
        mz_errors_add(errors, name, "required", mz_arena_printf(req->arena, "请填写%s", f->zh));
        return;
    }
    if (mz_field_normalise(req->app, f, v, &norm, &code, &message) != MZ_OK) {
        mz_errors_add(errors, name, code, message);
        return;
    }
    json_object_set_new(out, name, norm);
}

/* 422 validation_failed with every field error. */
static int fail_fields(struct mz_req *req, json_t *errors)
{
    json_t *extra = json_object();
    json_object_set(extra, "errors", errors);
    json_object_set(extra, "field", json_object_get(json_array_get(errors, 0), "field"));
    return mz_fail_with(req, 422, "validation_failed", "填写的信息有误", extra);
}

static int register_in_transaction(struct mz_req *req);

/* POST /api/v1/public/register. The route manages its own transaction: the
 * attempt is first counted in the counters every server of the database
 * shares (committed at once, so a refused registration still counts), then
 * the registration runs in one write transaction, committed only when it
 * succeeds. */
int policy_h_register(struct mz_req *req)
{
    const char *v = getenv("MZ_REGISTER_PER_MINUTE");
    int limit = v && atoi(v) > 0 ? atoi(v) : 10;
    int64_t hits = 0;
    bool ok = register_rate_ok(req->client_ip);
    if (ok) {
        const char *k = mz_arena_printf(req->arena, "register:%s",
                                        req->client_ip ? req->client_ip : "-");
        int rc = mz_rate_hit(req->db, k, (int64_t)time(NULL) / 60, &hits);
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
        ok = hits <= limit;
    }
    if (!ok) {
        mz_req_add_header(req, "Retry-After", "60");
        mz_warn("register: rate limit reached for %s", req->client_ip ? req->client_ip : "-");
        return mz_fail(req, 429, "rate_limited", "注册过于频繁，请稍后再试");
    }
    int rc = mz_db_begin_write(req->db);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc == MZ_ERR_BUSY ? MZ_ERR_BUSY : MZ_ERR_INTERNAL);
    int status = register_in_transaction(req);
    if (!req->failed && req->status > 0 && req->status < 400) {
        rc = mz_db_commit(req->db);
        if (rc != MZ_OK) {
            if (mz_db_in_transaction(req->db))
                mz_db_rollback(req->db);
            return mz_fail_err(req, rc == MZ_ERR_BUSY ? MZ_ERR_BUSY : MZ_ERR_INTERNAL);
        }
    } else if (mz_db_in_transaction(req->db)) {
        mz_db_rollback(req->db);
    }
    return status;
}

static int register_in_transaction(struct mz_req *req)
{
    static const char *const allowed[] = {"id_number", "name", "phone", "password"};
    const char *key, *password = NULL, *why = NULL;
    json_t *value, *profile = NULL, *errors = NULL;
    int status;

    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    errors = json_array();
    profile = json_object();
    json_object_foreach(in, key, value) {
        bool known = false;
        for (size_t i = 0; i < MZ_ARRAY_LEN(allowed); i++)
            known = known || strcmp(key, allowed[i]) == 0;
        if (!known)
            mz_errors_add(errors, key, "unknown_field", "不认识的字段");
    }
    take_field(req, in, "name", profile, errors);
    take_field(req, in, "id_number", profile, errors);
    take_field(req, in, "phone", profile, errors);
    if (mz_json_get_str(in, "password", &password) != MZ_OK || *password == '\0')
        mz_errors_add(errors, "password", "required", "请设置密码");
    else if (strlen(password) > REGISTER_PASSWORD_MAX)
        mz_errors_add(errors, "password", "too_long", "密码过长");
    if (json_array_size(errors) > 0) {
        status = fail_fields(req, errors);
        goto out;
    }

    const char *phone = json_string_value(json_object_get(profile, "phone"));
    const char *name = json_string_value(json_object_get(profile, "name"));
    const char *username = mz_arena_printf(req->arena, "c%s", phone);
    int rc = mz_auth_add_user(req->db, username, name, password, "citizen", "120000", false, &why);
    if (rc == MZ_ERR_CONFLICT) {
        status = mz_fail_field(req, 409, "duplicate", "该手机号已注册，请直接登录", "phone");
        goto out;
    }
    if (rc == MZ_ERR_INVALID) {
        mz_errors_add(errors, "password", "weak_password", why ? why : "密码不符合要求");
        status = fail_fields(req, errors);
        goto out;
    }
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    /* The profile belongs to the new account: it is its creator. */
    req->actor = username;
    json_object_set_new(profile, "username", json_string(username));
    status = mz_entity_create(req, &policy_citizen_profiles, profile, NULL);
    if (status)
        goto out;
    mz_audit(req, "register", "citizen_profiles", 0, true, NULL);
    status = mz_reply_json(req, 201,
                           json_pack("{s:s,s:s,s:s}", "username", username, "name", name, "login",
                                     "请使用手机号和密码登录"));
out:
    json_decref(errors);
    json_decref(profile);
    return status;
}
