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

/* Install the auth hooks on the app and the server hooks (called by serve). */
void mz_auth_install(struct mz_app *app, struct mz_server_hooks *hooks);

/* Create the demo accounts of the contract (sysadmin, secadmin, auditadmin,
 * city_officer, heping_officer, hexi_officer, heping_street, heping_community),
 * all with this password and no forced change. Idempotent. */
int mz_auth_demo_accounts(struct mz_app *app, struct mz_db *db, const char *password);

#endif
