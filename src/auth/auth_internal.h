/* auth_internal.h - what the files of src/auth share and nobody else sees.
 *
 *   password.c  argon2id hashing and the password policy (length, common list,
 *               complexity classes)
 *   totp.c      RFC 4648 base32 and RFC 6238 TOTP (HMAC-SHA1 from libcrypto)
 *   access.c    permission patterns, built-in roles, 三员 separation, may(),
 *               scope() and the row scope check
 *   session.c   the auth clock, tokens, sessions, the login rate limit and
 *               the authenticate hook (cookie + CSRF, bearer, gates)
 *   routes.c    /api/v1/auth/... and the administrators' user actions
 *   module.c    the entities (users, roles, api_tokens), their hooks, the
 *               tables and seed of the module, mz_auth_install
 *   accounts.c  accounts made outside requests (init, demo, user-add) and the
 *               policy settings (mz_auth_config)
 */
#ifndef MZ_AUTH_INTERNAL_H
#define MZ_AUTH_INTERNAL_H

#include "mz/auth.h"

/* Lengths of the secrets we make. */
#define MZ_TOKEN_BYTES 32                       /* 256-bit session and API tokens */
#define MZ_TOKEN_TEXT (4 + 2 * MZ_TOKEN_BYTES)  /* "mzs_" + hex */
#define MZ_TOKEN_HASH_HEX 64                    /* BLAKE2b-256 of a token, hex */
#define MZ_TOTP_SECRET_BYTES 20
#define MZ_PASSWORD_MIN 8
#define MZ_PASSWORD_MAX 128

/* The authenticated caller (req->user). Everything lives in the request's arena. */
struct mz_user {
    int64_t id;              /* users.id, or api_tokens.id for a token */
    const char *username;    /* "token:<name>" for partner tokens */
    const char *name;
    const char *unit;
    const char *scope;       /* 12-digit division */
    const char *id_number;   /* citizens: their own ID number (never logged) */
    const char **roles;      /* role names */
    size_t nroles;
    /* Permission patterns with the kind of role they came from. */
    const char **patterns;
    bool *pattern_admin;     /* true: from one of the 三员 roles */
    size_t npatterns;
    const char **entities;   /* partner tokens: allow-list of entities, NULL: any */
    size_t nentities;
    bool is_token;           /* a partner API token */
    bool via_cookie;         /* authenticated by the session cookie */
    bool must_change;        /* must_change_password: only the password routes */
    bool needs_totp;         /* the roles need a second factor */
    bool totp_enrolled;
    int64_t session_id;      /* mz_auth_sessions.id, 0 for tokens */
    const char *csrf;        /* the session's CSRF token */
};

/* --- password.c ------------------------------------------------------------ */
/* Hash with argon2id (64 MiB, t=2; 8 MiB with MZ_TEST_FAST_HASH=1) into out. */
int mz_pw_hash(const char *password, char out[128]);
/* True if password matches the stored hash (constant time in libsodium). */
bool mz_pw_verify(const char *stored, const char *password);
/* True if the stored hash uses other parameters than the current ones. */
bool mz_pw_needs_rehash(const char *stored);
/* Spend the time of one verification (unknown users: no timing oracle). */
void mz_pw_dummy_verify(const char *password);
/* Policy check: NULL if acceptable, else a Chinese reason. classes is the
 * number of character classes required (0..4: lower, upper, digit, other). */
const char *mz_pw_policy(const char *password, const char *username, int classes);
/* True if the password (case-folded) is on the common-password list. */
bool mz_pw_is_common(const char *password);
/* A random one-time password of 16 characters from an unambiguous alphabet. */
void mz_pw_generate(char out[32]);

/* --- totp.c ---------------------------------------------------------------- */
/* RFC 4648 base32 without padding. out must hold 8*len/5+2 bytes. */
void mz_base32_encode(const unsigned char *data, size_t len, char *out);
/* Decode base32 (case-insensitive, padding and spaces ignored); -1 if bad. */
int mz_base32_decode(const char *text, unsigned char *out, size_t cap);
/* HOTP (RFC 4226) value of counter, digits digits. */
uint32_t mz_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits);
/* Verify a 6-digit code against a base32 secret at unix time now, within ±1
 * step of 30 s. The matching step goes to *step (for replay refusal). */
bool mz_totp_verify(const char *secret_b32, const char *code, int64_t now, int64_t *step);

/* --- access.c -------------------------------------------------------------- */
/* Glob match of a permission pattern ('*' matches any run of characters). */
bool mz_perm_match(const char *pattern, const char *permission);
/* True if the permission is about a system entity (users, roles, tokens,
 * configuration, audit): only the three administrators may hold it. */
bool mz_perm_is_system(const char *permission);
/* True for sysadmin, secadmin, auditadmin. */
bool mz_role_is_admin(const char *role);
/* Check a role set: NULL if acceptable, else a Chinese reason (two 三员 roles,
 * or a 三员 role with a business role). */
const char *mz_roles_check(const char *const *roles, size_t n);
/* True if a role with these patterns must use a second factor. */
bool mz_patterns_need_totp(const json_t *patterns);
/* True if this one pattern asks for a second factor (mz_patterns_need_totp). */
bool mz_pattern_needs_totp(const char *pattern);
/* Validate a JSON array of permission patterns for a business role or token:
 * NULL if fine, else a Chinese reason. */
const char *mz_patterns_check(const json_t *patterns);
/* The app hooks. */
bool mz_auth_may(struct mz_req *req, const char *permission);
const char *mz_auth_scope(struct mz_req *req);
/* Citizens see only rows they created: their username for created_by, else NULL. */
const char *mz_auth_owner(struct mz_req *req);
/* Remember the system entity names of the loaded modules (auth, audit). */
void mz_access_set_app(const struct mz_app *app);

/* The built-in roles (seeded by the migration; permissions immutable). */
struct mz_builtin_role {
    const char *name;
    const char *zh;
    const char *permissions; /* JSON array text */
    bool admin;              /* one of the 三员 */
};
extern const struct mz_builtin_role mz_builtin_roles[];
extern const size_t mz_builtin_role_count;

/* --- session.c ------------------------------------------------------------- */
/* Unix seconds on the auth clock (real time plus the test offset). */
int64_t mz_auth_now(void);
void mz_auth_clock_shift(int64_t seconds);
/* A new random token "<prefix><64 hex>" into out[MZ_TOKEN_TEXT + 1]. */
void mz_token_new(const char *prefix, char *out);
/* BLAKE2b-256 of a token as hex into out[MZ_TOKEN_HASH_HEX + 1]. */
void mz_token_hash(const char *token, char *out);
/* Constant-time string equality. */
bool mz_secure_equal(const char *a, const char *b);
/* Create a session for a user; the token and CSRF token into the arena. */
int mz_session_create(struct mz_req *req, int64_t user_id, const char **token,
                      const char **csrf);
/* Delete sessions: one by id, or all of a user except keep_id (0: all). */
int mz_session_delete(struct mz_db *db, int64_t session_id);
int mz_sessions_revoke_user(struct mz_db *db, int64_t user_id, int64_t keep_id);
/* The session token the request carries in its cookie, or NULL. */
const char *mz_session_cookie(struct mz_req *req);
/* Load the user with roles and permissions into the arena; NULL if absent
 * or not active. */
struct mz_user *mz_user_load(struct mz_req *req, int64_t user_id);
/* The authenticate hook. */
int mz_auth_authenticate(struct mz_req *req);
/* Login rate limit by client address: true if one more failure is allowed
 * now; note a failure. */
bool mz_login_rate_ok(struct mz_db *db, const char *ip, int per_minute);
void mz_login_rate_note(struct mz_db *db, const char *ip);

/* --- accounts.c ------------------------------------------------------------ */
/* An integer policy value (mz_auth_config), or def if unset. */
int64_t mz_auth_config_int(struct mz_db *db, const char *key, int64_t def);
/* The whole policy as a JSON object (new reference). */
json_t *mz_auth_config_json(struct mz_db *db);
/* Store a new password hash for a user (creating the credentials row),
 * clearing failures and lock; must_change sets users.must_change_password. */
int mz_auth_set_password(struct mz_db *db, int64_t user_id, const char *password,
                         bool must_change);

/* --- routes.c (the route table is in module.c) ----------------------------- */
int mz_auth_h_login(struct mz_req *req);
int mz_auth_h_logout(struct mz_req *req);
int mz_auth_h_me(struct mz_req *req);
int mz_auth_h_password(struct mz_req *req);
int mz_auth_h_totp_enrol(struct mz_req *req);
int mz_auth_h_totp_verify(struct mz_req *req);
int mz_auth_h_config_get(struct mz_req *req);
int mz_auth_h_config_set(struct mz_req *req);
int mz_auth_h_reset_password(struct mz_req *req);
int mz_auth_h_revoke_sessions(struct mz_req *req);
int mz_auth_h_assign_roles(struct mz_req *req);
int mz_auth_h_token_issue(struct mz_req *req);
int mz_auth_h_test_clock(struct mz_req *req);
/* GET /api/v1/test/jobs (MZ_TEST_CLOCK=1 only): the job lease rows. */
int mz_auth_h_test_jobs(struct mz_req *req);

#endif
