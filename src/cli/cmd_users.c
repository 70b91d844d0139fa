/* cmd_users.c - `minzheng user-add` and `minzheng auth-config`.
 *
 * Operators (and the API test harness) create accounts and read or set the
 * login and password policy from the command line, on a database that
 * `init` has prepared. Passwords come from a file (never from argv, where
 * `ps` would show them). Both commands write in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/auth.h"
#include "mz/cli.h"
#include "mz/db.h"

/* Open an initialised database for writing. */
static struct mz_db *open_db(const char *command, const char *path)
{
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 5000};
    struct mz_db *db = NULL;
    if (path == NULL) {
        fprintf(stderr, "minzheng %s: --db FILE or --pg CONNINFO is required (or set MZ_DB)\n",
                command);
        return NULL;
    }
    if (mz_db_open(path, &o, &db) != MZ_OK || !mz_db_table_exists(db, "mz_auth_credentials")) {
        fprintf(stderr, "minzheng %s: '%s' is not an initialised database (run init)\n", command,
                mz_db_spec_is_postgresql(path) ? "(postgresql connection)" : path);
        mz_db_close(db);
        return NULL;
    }
    return db;
}

int mz_cmd_user_add(int argc, char **argv)
{
    const char *db_path = getenv("MZ_DB"), *username = NULL, *name = NULL, *pw_file = NULL,
               *roles = "", *scope = NULL, *no_change = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "database (initialised by init)", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection instead of --db", &db_path, "MZ_PG"},
        {"username", "U", "login name (a letter, then letters, digits, _ . -)", &username, NULL},
        {"name", "NAME", "the person's name", &name, NULL},
        {"password-file", "FILE", "file whose first line is the password", &pw_file, NULL},
        {"roles", "r1,r2", "built-in or custom role names (may be empty)", &roles, NULL},
        {"scope", "DIVISION", "the account's division (120000 for the city)", &scope, NULL},
        {"no-must-change", NULL, "do not force a password change at first login", &no_change,
         NULL},
    };
    static const char usage[] =
        "Create an account. The password (first line of FILE) must pass the policy;\n"
        "the account must change it at first login unless --no-must-change.";
    int rc = mz_cli_parse(argc, argv, usage, opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (username == NULL || pw_file == NULL || scope == NULL) {
        fprintf(stderr, "minzheng user-add: --username, --password-file and --scope are required\n");
        return 2;
    }
    char pw[512] = "";
    FILE *f = fopen(pw_file, "r");
    if (f == NULL || fgets(pw, sizeof(pw), f) == NULL) {
        fprintf(stderr, "minzheng user-add: cannot read a password from '%s'\n", pw_file);
        if (f)
            fclose(f);
        return 2;
    }
    fclose(f);
    pw[strcspn(pw, "\r\n")] = '\0';
    struct mz_db *db = open_db(argv[0], db_path);
    if (db == NULL)
        return 2;
    const char *why = NULL;
    rc = mz_db_begin_write(db);
    if (rc == MZ_OK)
        rc = mz_auth_add_user(db, username, name, pw, roles, scope, no_change == NULL, &why);
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    if (rc != MZ_OK && mz_db_in_transaction(db))
        mz_db_rollback(db);
    memset(pw, 0, sizeof(pw));
    mz_db_close(db);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng user-add: cannot create '%s': %s\n", username,
                why ? why : mz_err_name(rc));
        return 1;
    }
    printf("{\"username\":\"%s\",\"created\":true}\n", username);
    return 0;
}

int mz_cmd_auth_config(int argc, char **argv)
{
    const char *db_path = getenv("MZ_DB"), *set = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "database (initialised by init)", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection instead of --db", &db_path, "MZ_PG"},
        {"set", "KEY=VALUE", "set one policy value first", &set, NULL},
    };
    static const char usage[] =
        "Show the login and password policy as JSON, or set one value first.\n"
        "Keys: totp_required, lockout_threshold, lockout_minutes,\n"
        "login_failures_per_minute, idle_minutes, absolute_hours, password_classes,\n"
        "password_rotation_days.";
    int rc = mz_cli_parse(argc, argv, usage, opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    struct mz_db *db = open_db(argv[0], db_path);
    if (db == NULL)
        return 2;
    if (set) {
        char key[64];
        const char *eq = strchr(set, '=');
        if (eq == NULL || (size_t)(eq - set) >= sizeof(key)) {
            fprintf(stderr, "minzheng auth-config: --set wants KEY=VALUE\n");
            mz_db_close(db);
            return 2;
        }
        memcpy(key, set, (size_t)(eq - set));
        key[eq - set] = '\0';
        rc = mz_auth_config_set(db, key, eq + 1);
        if (rc != MZ_OK) {
            fprintf(stderr, "minzheng auth-config: cannot set %s (unknown key or value out of "
                            "range)\n", key);
            mz_db_close(db);
            return 1;
        }
    }
    struct mz_stmt *st;
    printf("{");
    if (mz_db_prepare(db, "SELECT key, value FROM mz_auth_config ORDER BY key", &st) == MZ_OK) {
        for (int k = 0; mz_db_step(st) == MZ_ROW; k++)
            printf("%s\"%s\":%s", k ? "," : "", mz_db_col_text(st, 0), mz_db_col_text(st, 1));
        mz_db_done(st);
    }
    printf("}\n");
    mz_db_close(db);
    return 0;
}
