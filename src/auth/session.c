/* session.c - tokens, sessions, the login rate limit and authentication.
 *
 * A session token is "mzs_" + 64 hex digits (256 random bits from
 * randombytes_buf); a partner API token is "mzp_" + 64 hex digits. Only their
 * BLAKE2b-256 hashes are stored (mz_auth_sessions.token_hash,
 * mz_auth_token_secrets.token_hash): a copy of the database opens no session.
 * A plain hash is enough because the tokens carry 256 bits of entropy.
 *
 * Every authenticated request (the authenticate hook, run by the dispatcher
 * before anything else):
 *   1. takes `Authorization: Bearer <token>`, else the `mz_session` cookie;
 *   2. finds the session: older than the absolute timeout (12 h) or idle
 *      longer than the idle timeout (30 min) -> deleted, 401; else its
 *      last_seen moves (at most every 15 s, to spare the database);
 *   3. loads the user (roles, permissions, scope); a disabled, locked or
 *      deleted account is 401 and its sessions are gone;
 *   4. a cookie-authenticated request with a state-changing method needs the
 *      header X-CSRF-Token equal to the session's CSRF token (403 csrf);
 *   5. an account that must change its password may call only
 *      /auth/password, /auth/logout and /auth/me (403 must_change_password);
 *      one whose roles need a second factor and has none enrolled may also
 *      call the TOTP enrolment routes (403 totp_enrolment_required).
 * Partner tokens skip 2, 4 and 5; their status and expiry are checked.
 *
 * Time comes from mz_auth_now(): real time plus an offset that only the test
 * route POST /api/v1/test/clock (MZ_TEST_CLOCK=1) moves, so the timeout and
 * lockout tests do not sleep.
 *
 * The login rate limit counts failed logins per client address and minute of
 * the auth clock twice: in the shared counters of the database
 * (mz_rate_counters, key "login:<address>", see src/engine/ratelimit.c), so
 * that several servers behind one proxy hold one limit, and in a fixed
 * table of this process (1024 slots; a full table recycles the oldest slot),
 * which still counts when the shared hit is rolled back with its request (a
 * wrong old password on /auth/password). Either count at the limit refuses.
 * Tested by tests/api/auth.test.mjs and tests/api/multiserver.test.mjs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "auth/auth_internal.h"
#include "mz/db.h"

/* --- clock ------------------------------------------------------------------- */

static _Atomic int64_t clock_offset;

int64_t mz_auth_now(void)
{
    return (int64_t)time(NULL) + atomic_load(&clock_offset);
}

void mz_auth_clock_shift(int64_t seconds)
{
    atomic_fetch_add(&clock_offset, seconds);
}

/* --- tokens ------------------------------------------------------------------ */

void mz_token_new(const char *prefix, char *out)
{
    unsigned char raw[MZ_TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    sodium_bin2hex(out + n, 2 * MZ_TOKEN_BYTES + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

void mz_token_hash(const char *token, char *out)
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, MZ_TOKEN_HASH_HEX + 1, h, sizeof(h));
}

bool mz_secure_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t n = strlen(a);
    if (n != strlen(b) || n == 0)
        return false;
    return sodium_memcmp(a, b, n) == 0;
}

/* --- sessions ---------------------------------------------------------------- */

int mz_session_create(struct mz_req *req, int64_t user_id, const char **token,
                      const char **csrf)
{
    char *t = mz_arena_alloc(req->arena, MZ_TOKEN_TEXT + 1);
    char *c = mz_arena_alloc(req->arena, 2 * MZ_TOKEN_BYTES + 1);
    char hash[MZ_TOKEN_HASH_HEX + 1];
    unsigned char raw[MZ_TOKEN_BYTES];
    struct mz_stmt *st;

    mz_token_new("mzs_", t);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(c, 2 * MZ_TOKEN_BYTES + 1, raw, sizeof(raw));
    mz_token_hash(t, hash);
    int rc = mz_db_prepare(req->db,
                           "INSERT INTO mz_auth_sessions (token_hash, user_id, csrf, created_at,"
                           " last_seen, ip) VALUES (?, ?, ?, ?, ?, ?)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    int64_t now = mz_auth_now();
    mz_db_bind_text(st, 1, hash);
    mz_db_bind_int(st, 2, user_id);
    mz_db_bind_text(st, 3, c);
    mz_db_bind_int(st, 4, now);
    mz_db_bind_int(st, 5, now);
    mz_db_bind_text(st, 6, req->client_ip);
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    *token = t;
    *csrf = c;
    return MZ_OK;
}

int mz_session_delete(struct mz_db *db, int64_t session_id)
{
    return mz_db_run(db, "DELETE FROM mz_auth_sessions WHERE id = ?", "i", session_id);
}

int mz_sessions_revoke_user(struct mz_db *db, int64_t user_id, int64_t keep_id)
{
    return mz_db_run(db, "DELETE FROM mz_auth_sessions WHERE user_id = ? AND id <> ?", "ii",
                     user_id, keep_id);
}

const char *mz_session_cookie(struct mz_req *req)
{
    const char *h = mz_req_header(req, "Cookie");
    if (h == NULL)
        return NULL;
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n > 11 && strncmp(p, "mz_session=", 11) == 0) {
            size_t v = n - 11;
            while (v > 0 && p[11 + v - 1] == ' ')
                v--;
            return mz_arena_strndup(req->arena, p + 11, v);
        }
        p += n;
    }
    return NULL;
}

/* The built-in roles' patterns, parsed once (they are constants) and kept
 * for the life of the process: a request no longer parses their JSON. */
#define BUILTIN_MAX 32
static struct builtin_parsed {
    const char **patterns;
    size_t n;
} builtin_parsed[BUILTIN_MAX];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_parse(void)
{
    for (size_t r = 0; r < mz_builtin_role_count && r < BUILTIN_MAX; r++) {
        json_t *perms = json_loads(mz_builtin_roles[r].permissions, 0, NULL);
        size_t n = json_is_array(perms) ? json_array_size(perms) : 0;
        builtin_parsed[r].patterns = mz_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            const char *p = json_string_value(json_array_get(perms, i));
            if (p)
                builtin_parsed[r].patterns[builtin_parsed[r].n++] = mz_xstrdup(p);
        }
        json_decref(perms);
    }
}

/* Append one pattern (not copied: the caller keeps it alive). */
static void add_pattern(struct mz_user *u, const char *p, bool admin)
{
    if (u->npatterns >= 256)
        return;
    u->patterns[u->npatterns] = p;
    u->pattern_admin[u->npatterns] = admin;
    u->npatterns++;
    if (mz_pattern_needs_totp(p))
        u->needs_totp = true;
}

/* Append the built-in or stored patterns of one role to the user. */
static int add_role_patterns(struct mz_req *req, struct mz_user *u, const char *role)
{
    bool admin = mz_role_is_admin(role);
    pthread_once(&builtin_once, builtin_parse);
    for (size_t i = 0; i < mz_builtin_role_count && i < BUILTIN_MAX; i++) {
        if (strcmp(mz_builtin_roles[i].name, role) == 0) {
            for (size_t k = 0; k < builtin_parsed[i].n; k++)
                add_pattern(u, builtin_parsed[i].patterns[k], admin);
            if (admin)
                u->needs_totp = true;
            return MZ_OK;
        }
    }
    json_t *perms = NULL;
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT permissions FROM roles WHERE name = ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, role);
    rc = mz_db_step(st);
    if (rc == MZ_ROW && mz_db_col_text(st, 0))
        perms = json_loads(mz_db_col_text(st, 0), 0, NULL);
    mz_db_done(st);
    if (rc < 0)
        return rc;
    if (!json_is_array(perms)) {
        json_decref(perms);
        return MZ_OK; /* an unknown role grants nothing */
    }
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) {
        if (json_is_string(p))
            add_pattern(u, mz_arena_strdup(req->arena, json_string_value(p)), admin);
    }
    if (admin)
        u->needs_totp = true;
    json_decref(perms);
    return MZ_OK;
}

/* The user columns every load reads, in the order user_from_stmt expects. */
#define USER_COLS(p)                                                                               \
    p "id, " p "username, " p "name, " p "unit, " p "scope_division, " p "status, "                \
    p "must_change_password, " p "roles, " p "totp_enrolled"

/* The user in columns c0.. of a row of USER_COLS (status checked: NULL for
 * a missing, disabled or locked account), with roles and permissions. */
static struct mz_user *user_from_stmt(struct mz_req *req, struct mz_stmt *st, int c0)
{
    struct mz_user *u = NULL;
    json_t *roles = NULL;
    const char *status = mz_db_col_text(st, c0 + 5);
    if (mz_db_col_type(st, c0) == MZ_COL_NULL || status == NULL || strcmp(status, "active") != 0)
        return NULL;
    u = mz_arena_calloc(req->arena, 1, sizeof(*u));
    u->id = mz_db_col_int(st, c0);
    u->username = mz_arena_strdup(req->arena, mz_db_col_text(st, c0 + 1));
    u->name = mz_arena_strdup(req->arena,
                              mz_db_col_text(st, c0 + 2) ? mz_db_col_text(st, c0 + 2) : "");
    u->unit = mz_db_col_text(st, c0 + 3) ? mz_arena_strdup(req->arena, mz_db_col_text(st, c0 + 3))
                                         : NULL;
    u->scope = mz_db_col_text(st, c0 + 4) ? mz_arena_strdup(req->arena, mz_db_col_text(st, c0 + 4))
                                          : NULL;
    u->must_change = mz_db_col_int(st, c0 + 6) != 0;
    roles = mz_db_col_text(st, c0 + 7) ? json_loads(mz_db_col_text(st, c0 + 7), 0, NULL) : NULL;
    u->totp_enrolled = mz_db_col_int(st, c0 + 8) != 0;

    size_t nroles = json_is_array(roles) ? json_array_size(roles) : 0;
    if (nroles > 16)
        nroles = 16;
    u->roles = mz_arena_calloc(req->arena, nroles + 1, sizeof(char *));
    u->patterns = mz_arena_calloc(req->arena, 257, sizeof(char *));
    u->pattern_admin = mz_arena_calloc(req->arena, 257, sizeof(bool));
    for (size_t i = 0; i < nroles; i++) {
        const char *r = json_string_value(json_array_get(roles, i));
        if (r == NULL)
            continue;
        u->roles[u->nroles++] = mz_arena_strdup(req->arena, r);
    }
    json_decref(roles);
    return u;
}

/* Add the patterns of the user's roles (may read stored roles: call after
 * the user's statement is done). False on a database error. */
static bool user_add_patterns(struct mz_req *req, struct mz_user *u)
{
    /* A forbidden combination (written around the API) grants nothing. */
    if (mz_roles_check(u->roles, u->nroles) != NULL)
        return true;
    for (size_t i = 0; i < u->nroles; i++) {
        if (add_role_patterns(req, u, u->roles[i]) != MZ_OK)
            return false;
    }
    return true;
}

struct mz_user *mz_user_load(struct mz_req *req, int64_t user_id)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT " USER_COLS("") " FROM users WHERE id = ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return NULL;
    mz_db_bind_int(st, 1, user_id);
    rc = mz_db_step(st);
    struct mz_user *u = rc == MZ_ROW ? user_from_stmt(req, st, 0) : NULL;
    mz_db_done(st);
    if (u != NULL && !user_add_patterns(req, u))
        return NULL;
    return u;
}

/* --- authentication ------------------------------------------------------------ */

/* True if path is one of the routes a restricted session may still call. */
static bool gate_allows(const char *path, bool totp_routes)
{
    static const char *const always[] = {"/api/v1/auth/password", "/api/v1/auth/logout",
                                         "/api/v1/auth/me"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(always); i++) {
        if (strcmp(path, always[i]) == 0)
            return true;
    }
    return totp_routes && strncmp(path, "/api/v1/auth/totp/", 18) == 0;
}

/* The row of a token's hash (sql has that one parameter): 0 with *out on
 * its row, else the request failed (401 without a row, or the database's
 * error) and that status is returned. */
static int row_of_hash(struct mz_req *req, const char *sql, const char *hash, struct mz_stmt **out)
{
    int rc = mz_db_prepare(req->db, sql, out);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(*out, 1, hash);
    rc = mz_db_step(*out);
    if (rc == MZ_ROW)
        return 0;
    mz_db_done(*out);
    return rc < 0 ? mz_fail_err(req, rc) : mz_fail(req, 401, "unauthenticated", "请先登录");
}

/* Authenticate a partner token. */
static int token_authenticate(struct mz_req *req, const char *token)
{
    char hash[MZ_TOKEN_HASH_HEX + 1], today[11];
    struct mz_stmt *st;
    mz_token_hash(token, hash);
    int rc = row_of_hash(req,
                         "SELECT t.id, t.name, t.scopes, t.entities, t.scope_division,"
                         " t.status, t.expires_on FROM mz_auth_token_secrets s"
                         " JOIN api_tokens t ON t.id = s.token_id"
                         " WHERE s.token_hash = ? AND t.deleted_at IS NULL",
                         hash, &st);
    if (rc != 0)
        return rc;
    mz_today(today);
    const char *status = mz_db_col_text(st, 5), *expires = mz_db_col_text(st, 6);
    if (status == NULL || strcmp(status, "active") != 0 ||
        (expires && strcmp(expires, today) < 0)) {
        mz_db_done(st);
        return mz_fail(req, 401, "unauthenticated", "访问令牌已停用或过期");
    }
    struct mz_user *u = mz_arena_calloc(req->arena, 1, sizeof(*u));
    u->is_token = true;
    u->id = mz_db_col_int(st, 0);
    u->name = mz_arena_strdup(req->arena, mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "");
    u->username = mz_arena_printf(req->arena, "token:%s", u->name);
    u->scope = mz_db_col_text(st, 4) ? mz_arena_strdup(req->arena, mz_db_col_text(st, 4)) : NULL;
    json_t *scopes = mz_db_col_text(st, 2) ? json_loads(mz_db_col_text(st, 2), 0, NULL) : NULL;
    json_t *ents = mz_db_col_text(st, 3) ? json_loads(mz_db_col_text(st, 3), 0, NULL) : NULL;
    mz_db_done(st);
    size_t n = json_is_array(scopes) ? json_array_size(scopes) : 0;
    u->patterns = mz_arena_calloc(req->arena, n + 1, sizeof(char *));
    u->pattern_admin = mz_arena_calloc(req->arena, n + 1, sizeof(bool));
    /* Stored scopes were checked on write; check again (fail closed). */
    if (scopes && mz_patterns_check(scopes) == NULL) {
        for (size_t i = 0; i < n; i++)
            u->patterns[u->npatterns++] =
                mz_arena_strdup(req->arena, json_string_value(json_array_get(scopes, i)));
    }
    if (json_is_array(ents)) {
        size_t m = json_array_size(ents);
        u->entities = mz_arena_calloc(req->arena, m + 1, sizeof(char *));
        for (size_t i = 0; i < m; i++) {
            const char *s = json_string_value(json_array_get(ents, i));
            if (s)
                u->entities[u->nentities++] = mz_arena_strdup(req->arena, s);
        }
    }
    json_decref(scopes);
    json_decref(ents);
    req->user = u;
    req->actor = u->username;
    return 0;
}

/* --- the session cache ----------------------------------------------------------
 *
 * Per worker thread, the sessions it authenticated lately (SESSION_SLOTS,
 * one slot per token hash), each kept with the database's data version
 * (mz_db_data_version: PRAGMA data_version, which moves on any commit by
 * another connection of this or another process, and this connection's own
 * count of changed rows) read in the same read transaction as the session.
 * A slot is used only while both numbers are unchanged, i.e. while nothing
 * at all was written anywhere since it was filled: a revoked session, a
 * disabled, locked or deleted account, a changed role, scope or permission,
 * a changed policy — every one of them is a write, so the very next request
 * on any server reads the session again. The times (idle, absolute) and the
 * request's own checks (CSRF, gates) are applied on every request as before.
 * Not used inside a transaction, nor on PostgreSQL (no data version: the
 * session is read every time there). */
#define SESSION_SLOTS 32

struct session_slot {
    char hash[MZ_TOKEN_HASH_HEX + 1]; /* "" when free */
    uint64_t db;                      /* mz_db_serial() of the connection */
    int64_t version[2];               /* mz_db_data_version() when read */
    int64_t created, seen;            /* the session's times */
    struct mz_user user;              /* strings and arrays in arena */
    bool *owned;                      /* per pattern: a copy (stored role), not a constant */
    struct mz_arena *arena;
};

static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static bool slots_ok; /* false: no cache (read every time) */

static void slots_free(void *p)
{
    struct session_slot *slots = p;
    for (size_t i = 0; i < SESSION_SLOTS; i++)
        mz_arena_free(slots[i].arena);
    free(slots);
}

static void slots_key_create(void)
{
    slots_ok = pthread_key_create(&slots_key, slots_free) == 0;
}

/* The slot for a token hash on this thread, NULL without a cache. */
static struct session_slot *session_slot(const char *hash)
{
    pthread_once(&slots_once, slots_key_create);
    if (!slots_ok)
        return NULL;
    struct session_slot *slots = pthread_getspecific(slots_key);
    if (slots == NULL) {
        slots = mz_xcalloc(SESSION_SLOTS, sizeof(*slots));
        if (pthread_setspecific(slots_key, slots) != 0) {
            free(slots);
            return NULL;
        }
    }
    /* The hash is uniformly random: its first two hex digits pick the slot. */
    unsigned h = (unsigned)(hash[0] & 0x0f) * 16u + (unsigned)(hash[1] & 0x0f);
    return &slots[h % SESSION_SLOTS];
}

/* True when p is one of the built-in roles' patterns (kept for the life of
 * the process, so a copy of the user may point at it). */
static bool pattern_is_builtin(const char *p)
{
    for (size_t r = 0; r < mz_builtin_role_count && r < BUILTIN_MAX; r++) {
        for (size_t k = 0; k < builtin_parsed[r].n; k++) {
            if (builtin_parsed[r].patterns[k] == p)
                return true;
        }
    }
    return false;
}

/* Copy of a text into arena (NULL stays NULL). */
static const char *dup_or_null(struct mz_arena *arena, const char *s)
{
    return s != NULL ? mz_arena_strdup(arena, s) : NULL;
}

/* A copy of a session user (not a token) in arena: texts and arrays copied,
 * built-in patterns shared (constants); owned[i] (NULL: none) says which
 * patterns are copies, and owned_out (NULL: not wanted) receives the same
 * for the copy. */
static struct mz_user *user_copy(struct mz_arena *arena, const struct mz_user *src,
                                 const bool *owned, bool **owned_out)
{
    struct mz_user *u = mz_arena_alloc(arena, sizeof(*u));
    *u = *src;
    u->username = dup_or_null(arena, src->username);
    u->name = dup_or_null(arena, src->name);
    u->unit = dup_or_null(arena, src->unit);
    u->scope = dup_or_null(arena, src->scope);
    u->id_number = NULL; /* citizens' sessions are never cached: see session_cacheable */
    u->csrf = dup_or_null(arena, src->csrf);
    u->roles = mz_arena_calloc(arena, src->nroles + 1, sizeof(char *));
    for (size_t i = 0; i < src->nroles; i++)
        u->roles[i] = mz_arena_strdup(arena, src->roles[i]);
    u->patterns = mz_arena_calloc(arena, src->npatterns + 1, sizeof(char *));
    u->pattern_admin = mz_arena_calloc(arena, src->npatterns + 1, sizeof(bool));
    bool *own = owned_out != NULL ? mz_arena_calloc(arena, src->npatterns + 1, sizeof(bool)) : NULL;
    for (size_t i = 0; i < src->npatterns; i++) {
        bool copy = owned != NULL ? owned[i] : !pattern_is_builtin(src->patterns[i]);
        u->patterns[i] = copy ? mz_arena_strdup(arena, src->patterns[i]) : src->patterns[i];
        u->pattern_admin[i] = src->pattern_admin[i];
        if (own != NULL)
            own[i] = copy;
    }
    if (owned_out != NULL)
        *owned_out = own;
    return u;
}

/* True when the user of a session may be kept in the cache (an ordinary
 * account; nothing else hangs off struct mz_user for it). */
static bool session_cacheable(const struct mz_user *u)
{
    return !u->is_token && u->id_number == NULL && u->entities == NULL;
}

/* Keep a session read from the database (in the read transaction whose data
 * version is version) in its slot. */
static void session_keep(struct session_slot *slot, struct mz_db *db, const char *hash,
                         const int64_t version[2], int64_t created, int64_t seen,
                         const struct mz_user *u)
{
    if (slot == NULL || !session_cacheable(u))
        return;
    mz_arena_free(slot->arena);
    slot->arena = mz_arena_new();
    slot->user = *user_copy(slot->arena, u, NULL, &slot->owned);
    memcpy(slot->hash, hash, sizeof(slot->hash));
    slot->db = mz_db_serial(db);
    slot->version[0] = version[0];
    slot->version[1] = version[1];
    slot->created = created;
    slot->seen = seen;
}

/* Authenticate a session token; via_cookie selects the CSRF rule. The
 * session and its user come from one statement (one B-tree walk less per
 * request than two), or from this thread's session cache while nothing was
 * written anywhere since they were read (see above), so a revoked session
 * or a disabled, locked or changed account is refused or seen on the very
 * next request, on every server sharing the database. */
static int session_authenticate(struct mz_req *req, const char *token, bool via_cookie)
{
    char hash[MZ_TOKEN_HASH_HEX + 1];
    struct mz_stmt *st;
    struct mz_user *u = NULL;
    int64_t version[2], sid, uid, created, seen;
    const char *csrf;
    int64_t now = mz_auth_now();
    int64_t idle = mz_auth_config_int(req->db, "idle_minutes", 30) * 60;
    int64_t absolute = mz_auth_config_int(req->db, "absolute_hours", 12) * 3600;
    mz_token_hash(token, hash);
    /* The version first: in a read snapshot it opens the read transaction
     * the session is then read in. */
    struct session_slot *slot = NULL;
    if (!mz_db_in_transaction(req->db) && mz_db_data_version(req->db, version) == MZ_OK)
        slot = session_slot(hash);
    if (slot != NULL && slot->arena != NULL && slot->db == mz_db_serial(req->db) &&
        slot->version[0] == version[0] && slot->version[1] == version[1] &&
        memcmp(slot->hash, hash, sizeof(hash)) == 0) {
        sid = slot->user.session_id;
        created = slot->created;
        seen = slot->seen;
        if (now - seen > idle || now - created > absolute) {
            mz_session_delete(req->db, sid);
            return mz_fail(req, 401, "unauthenticated", "登录已超时，请重新登录");
        }
        u = user_copy(req->arena, &slot->user, slot->owned, NULL);
        csrf = u->csrf;
    } else {
        int rc = row_of_hash(req,
                             "SELECT s.id, s.user_id, s.csrf, s.created_at, s.last_seen, " USER_COLS(
                                 "u.") " FROM mz_auth_sessions s LEFT JOIN users u"
                                       " ON u.id = s.user_id AND u.deleted_at IS NULL"
                                       " WHERE s.token_hash = ?",
                             hash, &st);
        if (rc != 0)
            return rc;
        sid = mz_db_col_int(st, 0);
        uid = mz_db_col_int(st, 1);
        csrf = mz_arena_strdup(req->arena, mz_db_col_text(st, 2));
        created = mz_db_col_int(st, 3);
        seen = mz_db_col_int(st, 4);
        if (now - seen > idle || now - created > absolute) {
            mz_db_done(st);
            mz_session_delete(req->db, sid);
            return mz_fail(req, 401, "unauthenticated", "登录已超时，请重新登录");
        }
        u = user_from_stmt(req, st, 5);
        mz_db_done(st);
        if (u != NULL && !user_add_patterns(req, u))
            u = NULL;
        if (u == NULL) {
            mz_sessions_revoke_user(req->db, uid, 0);
            return mz_fail(req, 401, "unauthenticated", "账号不可用，请联系系统管理员");
        }
        u->session_id = sid;
        u->csrf = csrf;
        /* Only what was read under this version: a statement of this
         * request that wrote (none so far) would have moved it. */
        session_keep(slot, req->db, hash, version, created, seen, u);
    }
    u->via_cookie = via_cookie;
    req->user = u;
    req->actor = u->username;
    if (now - seen >= 15)
        (void)mz_db_run(req->db, "UPDATE mz_auth_sessions SET last_seen = ? WHERE id = ?", "ii",
                        (int64_t)now, (int64_t)sid);

    const char *m = req->method;
    bool safe = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
    if (via_cookie && (!safe || (req->route && (req->route->flags & MZ_ROUTE_WRITE)))) {
        if (!mz_secure_equal(mz_req_header(req, "X-CSRF-Token"), csrf))
            return mz_fail(req, 403, "csrf", "安全校验失败，请刷新页面后重试");
    }
    if (u->must_change && !gate_allows(req->path, false))
        return mz_fail(req, 403, "must_change_password", "请先修改密码");
    if (u->needs_totp && !u->totp_enrolled &&
        mz_auth_config_int(req->db, "totp_required", 1) != 0 && !gate_allows(req->path, true))
        return mz_fail(req, 403, "totp_enrolment_required", "请先绑定动态口令（双因素认证）");
    return 0;
}

int mz_auth_authenticate(struct mz_req *req)
{
    const char *authz = mz_req_header(req, "Authorization");
    const char *token;
    bool via_cookie = false;
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return mz_fail(req, 401, "unauthenticated", "请先登录");
        token = authz + 7;
        while (*token == ' ')
            token++;
    } else {
        token = mz_session_cookie(req);
        via_cookie = true;
    }
    if (token == NULL || strlen(token) != MZ_TOKEN_TEXT)
        return mz_fail(req, 401, "unauthenticated", "请先登录");
    if (strncmp(token, "mzp_", 4) == 0 && !via_cookie)
        return token_authenticate(req, token);
    if (strncmp(token, "mzs_", 4) == 0)
        return session_authenticate(req, token, via_cookie);
    return mz_fail(req, 401, "unauthenticated", "请先登录");
}

/* --- login rate limit ------------------------------------------------------------ */

struct rate_slot {
    char ip[48];        /* client address */
    int64_t minute;     /* auth-clock minute of the count */
    int count;          /* failures in that minute */
};

static struct rate_slot rate_slots[1024];
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot for ip (lock held): found, or the least recent recycled. */
static struct rate_slot *rate_slot(const char *ip, int64_t minute)
{
    uint32_t h = 2166136261u;
    for (const char *p = ip; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct rate_slot *oldest = NULL;
    for (int i = 0; i < 8; i++) {
        struct rate_slot *s = &rate_slots[(h + (uint32_t)i) % MZ_ARRAY_LEN(rate_slots)];
        if (strcmp(s->ip, ip) == 0)
            return s;
        if (oldest == NULL || s->minute < oldest->minute)
            oldest = s;
    }
    snprintf(oldest->ip, sizeof(oldest->ip), "%s", ip);
    oldest->minute = minute;
    oldest->count = 0;
    return oldest;
}

/* The shared counter's key of an address (arena-less: a fixed buffer). */
static void login_key(char *out, size_t n, const char *ip)
{
    snprintf(out, n, "login:%s", ip ? ip : "-");
}

bool mz_login_rate_ok(struct mz_db *db, const char *ip, int per_minute)
{
    int64_t minute = mz_auth_now() / 60, hits = 0;
    char key[64];
    login_key(key, sizeof(key), ip);
    if (db != NULL && mz_rate_hits(db, key, minute, &hits) == MZ_OK && hits >= per_minute)
        return false;
    pthread_mutex_lock(&rate_lock);
    struct rate_slot *s = rate_slot(ip ? ip : "-", minute);
    if (s->minute != minute) {
        s->minute = minute;
        s->count = 0;
    }
    bool ok = s->count < per_minute;
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

void mz_login_rate_note(struct mz_db *db, const char *ip)
{
    int64_t minute = mz_auth_now() / 60, hits = 0;
    char key[64];
    login_key(key, sizeof(key), ip);
    if (db != NULL && mz_rate_hit(db, key, minute, &hits) != MZ_OK)
        mz_warn("login: the shared failure counter was not updated");
    pthread_mutex_lock(&rate_lock);
    struct rate_slot *s = rate_slot(ip ? ip : "-", minute);
    if (s->minute != minute) {
        s->minute = minute;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&rate_lock);
}
