/* auth.h - identity and access control (users, roles, sessions).
 *
 * The auth module (src/auth/) declares users, roles and tokens as entities,
 * adds the login/logout/password/TOTP routes, and sets the app's hooks:
 * authenticate (session cookie + CSRF header, or bearer token), may (the
 * caller's permissions), scope (the caller's division). See docs/security.md.
 */
#ifndef MZ_AUTH_H
#define MZ_AUTH_H

#include "mz/engine.h"

/* The module descriptor (listed in src/modules/modules.def). */
extern const struct mz_module mz_module_auth;

/* Install the auth hooks on the app and the server hooks (called by serve).
 * With the environment variable MZ_TEST_CLOCK=1 it also registers the public
 * test route POST /api/v1/test/clock (and logs a loud warning). */
void mz_auth_install(struct mz_app *app, struct mz_server_hooks *hooks);

/* Create the demo accounts of the contract (sysadmin, secadmin, auditadmin,
 * city_officer, heping_officer, hexi_officer, heping_street, heping_community),
 * all with this password and no forced change. Idempotent. */
int mz_auth_demo_accounts(struct mz_app *app, struct mz_db *db, const char *password);
/* Hashes of one password made ahead of their use (src/auth/password.c):
 * `minzheng demo` gives its accounts one password, and their argon2id
 * hashes are made by a thread of the load that would otherwise wait.
 * begin: n hashes of password wanted; one: make one more (any thread;
 * false when none is wanted any more); every password hash made after
 * (mz_auth_add_user, mz_auth_set_password) takes one while there are -
 * each made with its own salt and the parameters in force, as at that
 * time; end: wipe and forget what is left. */
void mz_auth_hash_ahead_begin(const char *password, int n);
bool mz_auth_hash_ahead_one(void);
void mz_auth_hash_ahead_end(void);

/* The three administrators (三员) for `init`: creates those that do not exist
 * yet, each with must_change_password set. passwords[i] for sysadmin,
 * secadmin, auditadmin; a NULL entry gets a random one-time password, written
 * into generated[i] (at least 32 bytes; "" when not generated). *created
 * counts new accounts. Existing accounts are left alone. */
int mz_auth_init_admins(struct mz_db *db, const char *const passwords[3],
                        char generated[3][32], int *created);

/* One account, for `minzheng user-add` and the test harness. roles is a
 * comma-separated list of role names; scope a division code (6/9/12 digits).
 * The password must pass the policy. MZ_ERR_CONFLICT if the username exists,
 * MZ_ERR_INVALID (with *why set to a Chinese reason) for bad input. */
int mz_auth_add_user(struct mz_db *db, const char *username, const char *name,
                     const char *password, const char *roles, const char *scope,
                     bool must_change, const char **why);

/* Set one policy value (mz_auth_config): "totp_required", "lockout_threshold",
 * ... MZ_ERR_INVALID for an unknown key or a value out of range. */
int mz_auth_config_set(struct mz_db *db, const char *key, const char *value);

/* Commands (src/cli/cmd_users.c): `user-add` and `auth-config`. */
int mz_cmd_user_add(int argc, char **argv);
int mz_cmd_auth_config(int argc, char **argv);

#endif
