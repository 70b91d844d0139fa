/* access.c - who may do what, and where.
 *
 * Permissions are "<entity>.<action>" (sample_cases.read, persons.approve,
 * users.reset_password, config.update, audit.read); a role holds patterns in
 * which '*' matches any run of characters ("*.read", "sample_*.*", "*").
 *
 * 三员分立 is enforced here, at every check, not only in the seed:
 *  - a permission is "system" when its entity is one of the auth and audit
 *    modules' (users, roles, api_tokens, config, audit*): patterns from the
 *    three administrators' roles (sysadmin, secadmin, auditadmin) match only
 *    system permissions, patterns from every other role match only business
 *    ones, so "*" in a business role never reaches users or the audit log, and
 *    no administrator ever reads a business row;
 *  - the built-in roles' permissions are fixed in this file (the seed copies
 *    them; module.c refuses edits), and a custom role or token may hold only
 *    business patterns (mz_patterns_check);
 *  - no account may hold two of the 三员 roles, or one of them with any other
 *    role (mz_roles_check, called on every role assignment).
 * Partner tokens match their own scopes (business only) and, when set, an
 * allow-list of entities.
 *
 * Data scope: every user and token has a 12-digit division; the engine
 * restricts every read of a scoped entity to the division's range, and
 * The engine refuses writing a row whose division lies outside it
 * (mz_row_check_scope in src/engine/entity.c).
 * Citizens get a scope that matches no division (fail closed) until the
 * engine grows the "own rows" filter (docs/security.md).
 * Tested by tests/unit/test_auth.c and tests/api/{auth,matrix}.test.mjs.
 */
#include <string.h>

#include "auth/auth_internal.h"
#include "engine/engine_internal.h"

/* Scope text that matches no division: the engine then sees nothing. */
#define SCOPE_NOTHING "none"

const struct mz_builtin_role mz_builtin_roles[] = {
    {"sysadmin", "系统管理员",
     "[\"users.read\",\"users.create\",\"users.update\",\"users.delete\",\"users.export\","
     "\"users.reset_password\",\"users.revoke_sessions\",\"config.read\",\"config.update\"]",
     true},
    {"secadmin", "安全管理员",
     "[\"roles.*\",\"api_tokens.*\",\"users.read\",\"users.assign_roles\","
     "\"users.revoke_sessions\",\"config.read\"]",
     true},
    {"auditadmin", "审计管理员", "[\"audit*.read\"]", true},
    {"community_worker", "社区工作人员",
     "[\"*.read\",\"*.create\",\"*.update\",\"*.import\",\"*.submit\",\"*.view_sensitive\","
     "\"assistance_cases.investigate\",\"assistance_cases.verify\","
     "\"assistance_cases.deliberate\",\"assistance_cases.object\",\"verify_requests.run\","
     "\"verify_warnings.check\",\"verify_warnings.handle\",\"assistance_cases.recheck\"]",
     false},
    {"street_officer", "街道业务",
     "[\"*.read\",\"*.create\",\"*.update\",\"*.submit\",\"*.accept\",\"*.review\","
     "\"*.send_back\",\"*.export\",\"*.view_sensitive\","
     "\"assistance_cases.investigate\",\"assistance_cases.verify\","
     "\"assistance_cases.deliberate\",\"assistance_cases.object\","
     "\"assistance_cases.publicise\",\"assistance_cases.resume\",\"verify_requests.run\","
     "\"verify_warnings.check\",\"verify_warnings.handle\",\"verify_warnings.close\","
     "\"verify_warnings.dismiss\",\"assistance_cases.recheck\"]",
     false},
    {"district_officer", "区级业务",
     "[\"*.read\",\"*.update\",\"*.accept\",\"*.send_back\",\"*.approve\",\"*.reject\","
     "\"*.export\",\"*.view_sensitive\",\"assistance_cases.pay\",\"assistance_cases.suspend\","
     "\"assistance_cases.reinstate\",\"assistance_cases.terminate\","
     "\"assistance_payroll_runs.run\",\"assistance_payroll_runs.reconcile\","
     "\"verify_requests.run\",\"verify_requests.bulk\",\"verify_warnings.close\","
     "\"verify_warnings.dismiss\",\"verify_warnings.run\",\"assistance_cases.recheck\"]",
     false},
    {"city_officer", "市级业务", "[\"*\"]", false},
    {"leader", "领导", "[\"*.read\"]", false},
    {"citizen", "公众", "[\"*.read\",\"*.create\",\"*.submit\",\"hall_bookings.cancel\",\"hall_applications.withdraw\",\"hall_applications.attach\"]", false},
    {"partner", "合作系统", "[]", false},
};
const size_t mz_builtin_role_count = MZ_ARRAY_LEN(mz_builtin_roles);

/* Entity names of the auth and audit modules, found at install. */
static const char *system_entities[32];
static size_t nsystem_entities;

void mz_access_set_app(const struct mz_app *app)
{
    nsystem_entities = 0;
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        if (strcmp(m->name, "auth") != 0 && strcmp(m->name, "audit") != 0)
            continue;
        for (size_t k = 0; k < m->nentities && nsystem_entities < 32; k++)
            system_entities[nsystem_entities++] = m->entities[k]->name;
    }
}

bool mz_perm_match(const char *pattern, const char *permission)
{
    /* Iterative glob with one backtrack point: linear enough for short names. */
    const char *p = pattern, *s = permission, *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool mz_perm_is_system(const char *permission)
{
    static const char *const fixed[] = {"users", "roles", "api_tokens", "config", "auth",
                                        "sessions"};
    size_t n = strcspn(permission, ".");
    if (n >= 5 && strncmp(permission, "audit", 5) == 0)
        return true;
    for (size_t i = 0; i < MZ_ARRAY_LEN(fixed); i++) {
        if (strlen(fixed[i]) == n && strncmp(permission, fixed[i], n) == 0)
            return true;
    }
    for (size_t i = 0; i < nsystem_entities; i++) {
        if (strlen(system_entities[i]) == n && strncmp(permission, system_entities[i], n) == 0)
            return true;
    }
    return false;
}

bool mz_role_is_admin(const char *role)
{
    return strcmp(role, "sysadmin") == 0 || strcmp(role, "secadmin") == 0 ||
           strcmp(role, "auditadmin") == 0;
}

const char *mz_roles_check(const char *const *roles, size_t n)
{
    size_t admins = 0, others = 0, citizens = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(roles[i], roles[k]) == 0)
                return "角色重复";
        }
        if (mz_role_is_admin(roles[i]))
            admins++;
        else if (strcmp(roles[i], "citizen") == 0)
            citizens++;
        else
            others++;
    }
    if (admins > 1)
        return "三员分立：系统管理员、安全管理员、审计管理员不能由同一账号兼任";
    if (admins == 1 && (others > 0 || citizens > 0))
        return "三员分立：管理员账号不能同时拥有业务角色";
    if (citizens > 0 && others > 0)
        return "公众账号不能同时拥有工作人员角色";
    return NULL;
}

bool mz_pattern_needs_totp(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && (s[n - 1] == '*' || (n >= 7 && strcmp(s + n - 7, "approve") == 0));
}

bool mz_patterns_need_totp(const json_t *patterns)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p) {
        if (mz_pattern_needs_totp(json_string_value(p)))
            return true;
    }
    return false;
}

const char *mz_patterns_check(const json_t *patterns)
{
    size_t i;
    json_t *p;
    if (!json_is_array(patterns))
        return "权限应为字符串数组";
    if (json_array_size(patterns) > 200)
        return "权限条目过多";
    json_array_foreach(patterns, i, p) {
        const char *s = json_string_value(p);
        if (s == NULL || *s == '\0' || strlen(s) > 96)
            return "权限应为非空字符串";
        if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.*") != strlen(s))
            return "权限只能由小写字母、数字、下划线、点和 * 组成";
        if (strcmp(s, "*") != 0 && strchr(s, '.') == NULL)
            return "权限格式应为 实体.操作";
        /* A pattern reaching a system permission belongs to the 三员 only. */
        static const char *const probes[] = {"users.read", "roles.update", "api_tokens.create",
                                             "config.update", "audit.read", "auth.read",
                                             "users.assign_roles"};
        if (strcmp(s, "*") != 0 && strncmp(s, "*.", 2) != 0) {
            for (size_t k = 0; k < MZ_ARRAY_LEN(probes); k++) {
                if (mz_perm_match(s, probes[k]))
                    return "业务角色不能拥有系统管理权限（三员分立）";
            }
            char entity[97];
            size_t n = strcspn(s, ".");
            memcpy(entity, s, n);
            entity[n] = '\0';
            if (strchr(entity, '*') == NULL && mz_perm_is_system(s))
                return "业务角色不能拥有系统管理权限（三员分立）";
        }
    }
    return NULL;
}

/* The entity part of a permission equals name. */
static bool perm_entity_is(const char *permission, const char *name)
{
    size_t n = strcspn(permission, ".");
    return strlen(name) == n && strncmp(permission, name, n) == 0;
}

static bool is_citizen(const struct mz_user *u);

/* A citizen writes only to the entities made for citizens (MZ_E_CITIZEN):
 * the role's "*.create" must not reach staff entities such as cases. */
static bool citizen_may_write(const struct mz_req *req, const char *permission)
{
    const char *dot = strchr(permission, '.');
    if (dot == NULL || strcmp(dot + 1, "read") == 0)
        return true;
    char name[97];
    size_t n = (size_t)(dot - permission);
    if (n >= sizeof(name) || req->app == NULL)
        return false;
    memcpy(name, permission, n);
    name[n] = '\0';
    const struct mz_entity *e = mz_app_entity(req->app, name);
    return e != NULL && (e->flags & MZ_E_CITIZEN);
}

bool mz_auth_may(struct mz_req *req, const char *permission)
{
    const struct mz_user *u = req->user;
    if (permission == NULL)
        return u != NULL;
    if (u == NULL)
        return false;
    if (is_citizen(u) && !citizen_may_write(req, permission))
        return false;
    bool system = mz_perm_is_system(permission);
    if (u->is_token) {
        if (system)
            return false;
        if (u->entities) {
            bool listed = false;
            for (size_t i = 0; i < u->nentities && !listed; i++)
                listed = perm_entity_is(permission, u->entities[i]);
            if (!listed)
                return false;
        }
    }
    for (size_t i = 0; i < u->npatterns; i++) {
        if (u->pattern_admin[i] != system)
            continue;
        if (mz_perm_match(u->patterns[i], permission))
            return true;
    }
    return false;
}

/* Does the caller hold the citizen role? */
static bool is_citizen(const struct mz_user *u)
{
    for (size_t i = 0; u && i < u->nroles; i++) {
        if (strcmp(u->roles[i], "citizen") == 0)
            return true;
    }
    return false;
}

const char *mz_auth_scope(struct mz_req *req)
{
    const struct mz_user *u = req->user;
    if (u == NULL)
        return SCOPE_NOTHING;
    /* A citizen is bounded by ownership (mz_auth_owner), not by area. */
    if (is_citizen(u))
        return req->app && req->app->owner ? NULL : SCOPE_NOTHING;
    if (u->scope == NULL)
        return SCOPE_NOTHING;
    return u->scope;
}

const char *mz_auth_owner(struct mz_req *req)
{
    const struct mz_user *u = req->user;
    if (u == NULL || !is_citizen(u))
        return NULL;
    return req->actor ? req->actor : SCOPE_NOTHING;
}

