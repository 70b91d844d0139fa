/* cli.c - `minzheng <command> [options]`: the command table and the commands
 * that wire the layers together (init, serve, backup, restore).
 *
 * Like git's command table, each command is one row {name, function, summary};
 * options are declared per command in a small table and parsed by one
 * function, so every command answers --help, accepts --opt VALUE and
 * --opt=VALUE, and rejects unknown options with exit status 2. Environment
 * variables (MZ_DB, MZ_PG, MZ_LISTEN) give defaults the options override.
 *
 * The database is a SQLite file (--db FILE) or a PostgreSQL server (--pg
 * CONNINFO, a libpq connection string: "postgresql://user@host/db" or
 * "host=... dbname=..."); --pg wins when both are given. The conninfo is the
 * database spec mz_db_open() routes to the libpq backend, and it is never
 * printed (it may hold a password). With PostgreSQL the key file defaults
 * to MZ_KEY_FILE, else ./minzheng.key (there is no database file to sit
 * beside); every server of one database needs the same key file.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "mz/auth.h"
#include "mz/cli.h"
#include "mz/audit.h"
#include "mz/crypto.h"
#include "mz/db.h"

/* Print a command's usage to f. */
static void usage(FILE *f, const char *command, const char *summary,
                  const struct mz_cli_option *opts, size_t n)
{
    fprintf(f, "usage: minzheng %s", command);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " [--%s%s%s]", opts[i].name, opts[i].arg ? " " : "",
                opts[i].arg ? opts[i].arg : "");
    fprintf(f, "\n\n%s\n\noptions:\n", summary);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(f, "  %-24s %s", left, opts[i].help);
        if (opts[i].env)
            fprintf(f, " (env %s)", opts[i].env);
        fputc('\n', f);
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help");
}

int mz_cli_parse(int argc, char **argv, const char *summary, struct mz_cli_option *opts,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].env && getenv(opts[i].env) && *getenv(opts[i].env))
            *opts[i].value = getenv(opts[i].env);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0], summary, opts, n);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "minzheng %s: unexpected argument '%s' (see --help)\n", argv[0], a);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        struct mz_cli_option *o = NULL;
        for (size_t k = 0; k < n; k++) {
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
                o = &opts[k];
        }
        if (o == NULL) {
            fprintf(stderr, "minzheng %s: unknown option '%s' (see --help)\n", argv[0], a);
            return 2;
        }
        if (o->arg == NULL) {
            if (eq) {
                fprintf(stderr, "minzheng %s: option --%s takes no value\n", argv[0], o->name);
                return 2;
            }
            *o->value = "1";
            continue;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            fprintf(stderr, "minzheng %s: option --%s needs a value (%s)\n", argv[0], o->name,
                    o->arg);
            return 2;
        }
    }
    return -1;
}

static const struct mz_module *const *cli_extra;
static size_t cli_nextra;

void mz_cli_extra_modules(const struct mz_module *const **extra, size_t *n)
{
    *extra = cli_extra;
    *n = cli_nextra;
}

/* Make --pg CONNINFO (or MZ_PG) the database spec when given: it must be a
 * libpq connection string. 0, or 2 after a message. */
static int use_pg(const char *command, const char *pg, const char **db_path)
{
    if (pg == NULL)
        return 0;
    if (!mz_db_spec_is_postgresql(pg)) {
        fprintf(stderr,
                "minzheng %s: --pg needs a libpq connection string (postgresql://... or "
                "host=... dbname=...)\n",
                command);
        return 2;
    }
    *db_path = pg;
    return 0;
}

/* How a database is named in messages: a conninfo may hold a password. */
static const char *db_label(const char *spec)
{
    return mz_db_spec_is_postgresql(spec) ? "(postgresql connection)" : spec;
}

/* Check that the database path can be used: its directory exists. */
static int check_db_path(const char *command, const char *path)
{
    if (path == NULL) {
        fprintf(stderr, "minzheng %s: --db FILE or --pg CONNINFO is required (or set MZ_DB or "
                        "MZ_PG)\n",
                command);
        return 2;
    }
    if (strcmp(path, ":memory:") == 0 || mz_db_spec_is_postgresql(path))
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "minzheng %s: cannot use database '%s': directory '%s' does not exist\n",
                command, path, dir);
        return 2;
    }
    return 0;
}

/* The key file for a database: the option, else MZ_KEY_FILE, else beside it. */
static char *key_file_path(const char *db_path, const char *key_opt)
{
    if (key_opt == NULL || *key_opt == '\0')
        key_opt = getenv("MZ_KEY_FILE");
    if (key_opt != NULL && *key_opt != '\0')
        return mz_xstrdup(key_opt);
    return mz_crypto_default_path(db_path);
}

/* Load the key file and make current the version recorded in the database
 * (recording the newest one in a new database). */
static int load_keys(const char *command, const char *db_path, const char *key_path,
                     struct mz_db *db, bool create)
{
    char *owned = NULL;
    int rc;
    if (strcmp(db_path, ":memory:") == 0 && key_path == NULL && getenv("MZ_KEY_FILE") == NULL) {
        mz_crypto_init_ephemeral();
    } else {
        key_path = owned = key_file_path(db_path, key_path);
        rc = mz_crypto_load(key_path, create);
        if (rc != MZ_OK) {
            fprintf(stderr,
                    "minzheng %s: cannot load the data-encryption key '%s' (%s); it is created "
                    "by init, must be mode 0600, and is set by --key-file or MZ_KEY_FILE\n",
                    command, key_path, mz_err_name(rc));
            free(owned);
            return 2;
        }
    }
    free(owned);
    int64_t version = 0;
    rc = mz_db_query_int(db, "SELECT version FROM mz_keystate WHERE id = 1", &version, 0, NULL);
    if (rc == MZ_ERR_NOTFOUND) {
        char v[24];
        const char *params[] = {v};
        snprintf(v, sizeof(v), "%d", mz_crypto_latest());
        struct mz_stmt *st;
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO mz_keystate (id, version, changed_at) VALUES (1, ?, %s)",
                 mz_db_dialect(db, MZ_SQL_NOW));
        rc = mz_db_prepare(db, sql, &st);
        if (rc == MZ_OK) {
            mz_db_bind_text(st, 1, params[0]);
            rc = mz_db_step(st) == MZ_DONE ? MZ_OK : MZ_ERR_DB;
            mz_db_done(st);
        }
        version = mz_crypto_latest();
    }
    if (rc != MZ_OK || mz_crypto_use((int)version) != MZ_OK) {
        fprintf(stderr, "minzheng %s: the key file lacks key version %lld used by the database\n",
                command, (long long)version);
        return 2;
    }
    return 0;
}

int mz_cli_open(const char *command, struct mz_app *app, const char *db_path,
                const char *key_path, bool create, struct mz_db **out)
{
    struct mz_db_options o = {.create = create, .busy_timeout_ms = 5000};
    struct mz_db *db = NULL;
    int applied = 0;
    if (check_db_path(command, db_path))
        return 2;
    int rc = mz_db_open(db_path, &o, &db);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng %s: cannot open database '%s'%s\n", command,
                db_label(db_path), create ? "" : " (run init first)");
        return 2;
    }
    /* An existing database gets its keys before the migrations: a module's
     * step may seal what an earlier version stored in clear (assistance
     * migration 11). A new one records the newest version after them. */
    bool keys_first = mz_db_table_exists(db, "mz_keystate");
    if (keys_first && load_keys(command, db_path, key_path, db, create) != 0) {
        mz_db_close(db);
        return 2;
    }
    rc = mz_app_migrate(app, db, &applied);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng %s: migrating '%s' failed: %s\n", command,
                db_label(db_path), mz_db_errmsg(db));
        mz_db_close(db);
        return 2;
    }
    if (applied > 0)
        mz_info("%d migration steps applied", applied);
    if (!keys_first && load_keys(command, db_path, key_path, db, create) != 0) {
        mz_db_close(db);
        return 2;
    }
    *out = db;
    return 0;
}

/* Read up to three non-empty lines of a password file into pw[] (malloc'd). */
static int read_password_file(const char *path, char *pw[3])
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    if (f == NULL) {
        fprintf(stderr, "minzheng init: cannot read '%s'\n", path);
        return 2;
    }
    while (n < 3 && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            pw[n++] = mz_xstrdup(line);
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "minzheng init: '%s' holds no password\n", path);
        return 2;
    }
    for (int i = n; i < 3; i++)
        pw[i] = mz_xstrdup(pw[n == 3 ? i : 0]);
    return 0;
}

/* Create the three administrators (三员) if missing and print the summary
 * line, with the one-time passwords when they were generated (printed once). */
static int init_admins(struct mz_db *db, const char *pw_file, const char *head)
{
    char *pw[3] = {NULL, NULL, NULL}, generated[3][32];
    int created = 0, rc = 0;
    if (pw_file && read_password_file(pw_file, pw) != 0)
        return 2;
    const char *const pws[3] = {pw[0], pw[1], pw[2]};
    if (mz_db_begin_write(db) != MZ_OK ||
        mz_auth_init_admins(db, pw_file ? pws : NULL, generated, &created) != MZ_OK ||
        mz_db_commit(db) != MZ_OK) {
        if (mz_db_in_transaction(db))
            mz_db_rollback(db);
        fprintf(stderr, "minzheng init: cannot create the administrators (is the password long "
                        "enough, 8-128 characters, and not a common one?)\n");
        rc = 2;
    } else {
        printf("%s,\"admins_created\":%d", head, created);
        if (created > 0 && pw_file == NULL) {
            static const char *const names[3] = {"sysadmin", "secadmin", "auditadmin"};
            printf(",\"one_time_passwords\":{");
            for (int i = 0, k = 0; i < 3; i++) {
                if (generated[i][0])
                    printf("%s\"%s\":\"%s\"", k++ ? "," : "", names[i], generated[i]);
            }
            printf("}");
        }
        printf("}\n");
    }
    for (int i = 0; i < 3; i++)
        free(pw[i]);
    return rc;
}

/* minzheng init */
static int cmd_init(int argc, char **argv)
{
    const char *db_path = NULL, *pg = NULL, *key = NULL, *admin_pw_file = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "SQLite database file to create or migrate", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (instead of --db)", &pg, "MZ_PG"},
        {"key-file", "FILE", "data-encryption key (created if missing)", &key, "MZ_KEY_FILE"},
        {"admin-password-file", "FILE",
         "initial password(s) of sysadmin, secadmin, auditadmin (one line, or three)",
         &admin_pw_file, NULL},
    };
    int rc = mz_cli_parse(argc, argv, "Create or migrate a database (idempotent).", opts,
                           MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (use_pg(argv[0], pg, &db_path) || check_db_path(argv[0], db_path))
        return 2;
    struct mz_app app;
    if (mz_app_init(&app, db_path, cli_extra, cli_nextra) != MZ_OK) {
        fprintf(stderr, "minzheng init: the module declarations are inconsistent\n");
        return 2;
    }
    struct mz_db *db;
    rc = mz_cli_open("init", &app, db_path, key, true, &db);
    if (rc == 0) {
        char head[128];
        snprintf(head, sizeof(head), "{\"db\":\"%s\",\"key_version\":%d", mz_db_kind_name(db),
                 mz_crypto_version());
        rc = init_admins(db, admin_pw_file, head);
        mz_db_close(db);
    }
    mz_app_free(&app);
    return rc;
}

/* --- serve ------------------------------------------------------------------ */

/* Every worker thread's connection, closed at shutdown. */
static pthread_mutex_t thread_dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mz_db *thread_dbs[256];
static size_t thread_dbs_len;
static _Thread_local struct mz_db *thread_db_conn;

/* The calling worker thread's connection, opened on first use. */
static struct mz_db *serve_thread_db(struct mz_app *app)
{
    if (thread_db_conn)
        return thread_db_conn;
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 5000, };
    struct mz_db *db = NULL;
    if (mz_db_open(app->db_spec, &o, &db) != MZ_OK) {
        mz_error("worker cannot open the database");
        return NULL;
    }
    pthread_mutex_lock(&thread_dbs_lock);
    if (thread_dbs_len < MZ_ARRAY_LEN(thread_dbs))
        thread_dbs[thread_dbs_len++] = db;
    pthread_mutex_unlock(&thread_dbs_lock);
    thread_db_conn = db;
    return db;
}

/* Expand "{entity}.{action}" with the request's path parameters and ask the
 * app's access control. */
static int serve_authorize(struct mz_req *req, const char *permission)
{
    if (permission == NULL)
        return 0;
    char out[128];
    size_t o = 0;
    for (const char *p = permission; *p && o < sizeof(out) - 1;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL)
                break;
            char name[32];
            size_t n = (size_t)(end - p - 1);
            if (n >= sizeof(name))
                n = sizeof(name) - 1;
            memcpy(name, p + 1, n);
            name[n] = '\0';
            const char *v = mz_req_param(req, name);
            for (; v && *v && o < sizeof(out) - 1; v++)
                out[o++] = *v;
            p = end + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    if (mz_req_may(req, out))
        return 0;
    return mz_fail(req, 403, "forbidden", "没有执行该操作的权限");
}

/* minzheng serve */
static int cmd_serve(int argc, char **argv)
{
    const char *db_path = NULL, *pg = NULL, *listen = "127.0.0.1:8080", *web = NULL,
               *access_log = NULL, *threads = NULL, *key = NULL, *proxies = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "SQLite database file", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (instead of --db)", &pg, "MZ_PG"},
        {"listen", "HOST:PORT", "address to listen on (default 127.0.0.1:8080)", &listen,
         "MZ_LISTEN"},
        {"web", "DIR", "built web app to serve (default web/dist if present)", &web, "MZ_WEB"},
        {"access-log", "FILE", "access log as JSON lines ('-' for stderr)", &access_log,
         "MZ_ACCESS_LOG"},
        {"threads", "N", "worker threads (default: number of cores)", &threads, NULL},
        {"key-file", "FILE", "data-encryption key", &key, "MZ_KEY_FILE"},
        {"trusted-proxy", "ADDRS", "reverse proxies (comma-separated) whose X-Real-IP header "
                                   "names the client", &proxies, "MZ_TRUSTED_PROXY"},
    };
    int rc = mz_cli_parse(argc, argv, "Serve the platform over HTTP.", opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (use_pg(argv[0], pg, &db_path) || check_db_path(argv[0], db_path))
        return 2;
    int nthreads = 0;
    if (threads) {
        char *end;
        long t = strtol(threads, &end, 10);
        if (*end != '\0' || t < 1 || t > 128) {
            fprintf(stderr, "minzheng serve: --threads must be 1..128\n");
            return 2;
        }
        nthreads = (int)t;
    }
    if (web == NULL) {
        struct stat st;
        if (stat("web/dist/index.html", &st) == 0)
            web = "web/dist";
    }
    /* Every connection of the server through the shared map and parked read
     * locks (src/db/sqlite_map.c); SQLite's default VFS if it cannot be made. */
    if (pg == NULL && mz_db_map_vfs_install() != MZ_OK)
        mz_warn("serve: the database's shared map could not be set up; using SQLite's default");
    struct mz_app app;
    if (mz_app_init(&app, db_path, cli_extra, cli_nextra) != MZ_OK) {
        fprintf(stderr, "minzheng serve: the module declarations are inconsistent\n");
        return 2;
    }
    struct mz_db *db;
    rc = mz_cli_open("serve", &app, db_path, key, false, &db);
    if (rc != 0) {
        mz_app_free(&app);
        return rc;
    }
    mz_db_close(db);
    app.web_root = web;

    struct mz_server_hooks hooks = {
        .authenticate = NULL,
        .authorize = serve_authorize,
        .thread_db = serve_thread_db,
    };
    mz_auth_install(&app, &hooks);
    struct mz_server_options so = {
        .listen = listen, .web_root = web, .access_log = access_log, .threads = nthreads,
        .trusted_proxies = proxies};
    struct mz_server *server = NULL;
    mz_audit_install(&app);
    rc = mz_server_start(&app, app.router, &hooks, &so, &server);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng serve: cannot listen on %s (or a --trusted-proxy address is not an "
                        "IP address)\n", listen);
        mz_app_free(&app);
        return 2;
    }
    if (mz_audit_start(&app) != MZ_OK || mz_jobs_start(&app) != MZ_OK)
        fprintf(stderr, "minzheng serve: audit queue or job runner failed to start\n");
    mz_server_wait(server);
    mz_server_stop(server);
    mz_jobs_stop();
    mz_audit_stop();
    pthread_mutex_lock(&thread_dbs_lock);
    for (size_t i = 0; i < thread_dbs_len; i++)
        mz_db_close(thread_dbs[i]);
    thread_dbs_len = 0;
    pthread_mutex_unlock(&thread_dbs_lock);
    mz_app_free(&app);
    return 0;
}

/* minzheng backup */
static int cmd_backup(int argc, char **argv)
{
    const char *db_path = NULL, *to = NULL, *pg = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "database to back up (may be in use)", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (refused: use pg_dump)", &pg, "MZ_PG"},
        {"to", "FILE", "backup file to write (verified by an integrity check)", &to, NULL},
    };
    int rc = mz_cli_parse(argc, argv, "Online backup of a database, verified.", opts,
                           MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (use_pg(argv[0], pg, &db_path) || check_db_path(argv[0], db_path))
        return 2;
    if (mz_db_spec_is_postgresql(db_path)) {
        fprintf(stderr, "minzheng backup: a postgresql database is backed up with pg_dump (or "
                        "the server's base backups), not by minzheng\n");
        return 2;
    }
    if (to == NULL || check_db_path(argv[0], to) || mz_db_spec_is_postgresql(to)) {
        fprintf(stderr, "minzheng backup: --to FILE is required (in an existing directory)\n");
        return 2;
    }
    struct mz_db_options o = {.create = false, .readonly = true};
    struct mz_db *db;
    if (mz_db_open(db_path, &o, &db) != MZ_OK) {
        fprintf(stderr, "minzheng backup: cannot open database '%s'\n", db_path);
        return 2;
    }
    int64_t t0 = mz_mono_us();
    rc = mz_db_backup(db, to);
    mz_db_close(db);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng backup: backup failed (%s)\n", mz_err_name(rc));
        return 1;
    }
    printf("{\"backup\":\"%s\",\"verified\":true,\"ms\":%lld}\n", to,
           (long long)((mz_mono_us() - t0) / 1000));
    return 0;
}

/* minzheng restore */
static int cmd_restore(int argc, char **argv)
{
    const char *from = NULL, *db_path = NULL;
    struct mz_cli_option opts[] = {
        {"from", "FILE", "backup file to restore", &from, NULL},
        {"db", "FILE", "database to replace", &db_path, "MZ_DB"},
    };
    int rc = mz_cli_parse(argc, argv,
                           "Restore a database from a backup; the backup is checked first and "
                           "the result verified.",
                           opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (from == NULL) {
        fprintf(stderr, "minzheng restore: --from FILE is required\n");
        return 2;
    }
    if (check_db_path(argv[0], db_path))
        return 2;
    rc = mz_db_restore(from, db_path);
    if (rc != MZ_OK) {
        fprintf(stderr, "minzheng restore: '%s' is not a sound backup (%s); nothing changed\n",
                from, mz_err_name(rc));
        return 1;
    }
    printf("{\"restored\":\"%s\",\"verified\":true}\n", db_path);
    return 0;
}

/* Re-seal every sealed value of one entity and recompute its blind indexes
 * with the current key version. Runs inside the caller's transaction. */
static int rekey_entity(struct mz_app *app, struct mz_db *db, const struct mz_entity *e,
                        long *values)
{
    struct mz_buf cols, set;
    struct mz_stmt *sel = NULL, *upd = NULL;
    int rc = MZ_OK, nsealed = 0;
    mz_buf_init(&cols, 0);
    mz_buf_init(&set, 0);
    for (size_t i = 0; i < e->nfields; i++) {
        if (!(e->fields[i].flags & MZ_F_SENSITIVE))
            continue;
        mz_buf_printf(&cols, ", %s", e->fields[i].name);
        mz_buf_printf(&set, "%s%s = ?, %s_bidx = ?", nsealed ? ", " : "", e->fields[i].name,
                      e->fields[i].name);
        nsealed++;
    }
    if (nsealed == 0)
        goto out;
    char sql[8192];
    snprintf(sql, sizeof(sql), "SELECT id%s FROM %s", cols.data, e->name);
    rc = mz_db_prepare_uncached(db, sql, &sel);
    if (rc != MZ_OK)
        goto out;
    snprintf(sql, sizeof(sql), "UPDATE %s SET %s WHERE id = ?", e->name, set.data);
    rc = mz_db_prepare_uncached(db, sql, &upd);
    if (rc != MZ_OK)
        goto out;
    struct mz_req req = {.app = app, .db = db, .reply_fd = -1};
    while ((rc = mz_db_step(sel)) == MZ_ROW) {
        req.arena = mz_arena_new();
        int col = 1, idx = 1;
        for (size_t i = 0; i < e->nfields; i++) {
            const struct mz_field *f = &e->fields[i];
            if (!(f->flags & MZ_F_SENSITIVE))
                continue;
            bool was_null = mz_db_col_type(sel, col) == MZ_COL_NULL;
            json_t *v = mz_column_json(&req, e, sel, col++, f);
            if (json_is_null(v) && !was_null) {
                json_decref(v);
                mz_arena_free(req.arena);
                mz_error("rekey: a value of %s.%s does not open; nothing changed", e->name,
                         f->name);
                rc = MZ_ERR_INVALID;
                goto out;
            }
            mz_bind_field(&req, e, upd, idx++, f, v);
            mz_bind_blind(&req, e, upd, idx++, f, v);
            json_decref(v);
            (*values)++;
        }
        mz_db_bind_int(upd, idx, mz_db_col_int(sel, 0));
        rc = mz_db_step(upd);
        mz_db_reset(upd);
        mz_arena_free(req.arena);
        if (rc != MZ_DONE) {
            rc = rc < 0 ? rc : MZ_ERR_DB;
            goto out;
        }
    }
    if (rc == MZ_DONE)
        rc = MZ_OK;
out:
    if (sel)
        mz_db_finalize(sel);
    if (upd)
        mz_db_finalize(upd);
    mz_buf_free(&cols);
    mz_buf_free(&set);
    return rc;
}

/* minzheng rekey */
static int cmd_rekey(int argc, char **argv)
{
    const char *db_path = NULL, *key = NULL, *pg = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "database whose sealed values are re-encrypted", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (instead of --db)", &pg, "MZ_PG"},
        {"key-file", "FILE", "data-encryption key file (a new version is appended)", &key,
         "MZ_KEY_FILE"},
    };
    int rc = mz_cli_parse(argc, argv,
                           "Rotate the data-encryption key: append a new key version, re-seal "
                           "every sensitive value and recompute the blind indexes in one "
                           "transaction. Stop the servers first; restart them after.",
                           opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (use_pg(argv[0], pg, &db_path))
        return 2;
    struct mz_app app;
    if (mz_app_init(&app, db_path, cli_extra, cli_nextra) != MZ_OK)
        return 2;
    struct mz_db *db;
    if (mz_cli_open("rekey", &app, db_path, key, false, &db) != 0) {
        mz_app_free(&app);
        return 2;
    }
    char *path = key_file_path(db_path, key);
    int old = mz_crypto_version();
    long values = 0;
    int64_t t0 = mz_mono_us();
    rc = mz_crypto_add_version(path);
    if (rc == MZ_OK)
        rc = mz_crypto_use(mz_crypto_latest());
    if (rc == MZ_OK)
        rc = mz_db_begin_write(db);
    for (size_t i = 0; rc == MZ_OK && i < app.nentities; i++)
        rc = rekey_entity(&app, db, app.entities[i], &values);
    for (size_t i = 0; rc == MZ_OK && i < app.nmodules; i++) {
        if (app.modules[i]->rekey)
            rc = app.modules[i]->rekey(&app, db, &values);
    }
    if (rc == MZ_OK) {
        char v[24];
        snprintf(v, sizeof(v), "%d", mz_crypto_version());
        const char *params[] = {v};
        struct mz_stmt *st;
        char sql[256];
        snprintf(sql, sizeof(sql), "UPDATE mz_keystate SET version = ?, changed_at = %s WHERE id = 1",
                 mz_db_dialect(db, MZ_SQL_NOW));
        rc = mz_db_prepare(db, sql, &st);
        if (rc == MZ_OK) {
            mz_db_bind_text(st, 1, params[0]);
            rc = mz_db_step(st) == MZ_DONE ? MZ_OK : MZ_ERR_DB;
            mz_db_done(st);
        }
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    if (rc != MZ_OK) {
        mz_db_rollback(db);
        fprintf(stderr, "minzheng rekey: failed (%s); the data still uses key version %d\n",
                mz_err_name(rc), old);
    } else {
        printf("{\"from_version\":%d,\"to_version\":%d,\"values\":%ld,\"ms\":%lld}\n", old,
               mz_crypto_version(), values, (long long)((mz_mono_us() - t0) / 1000));
    }
    free(path);
    mz_db_close(db);
    mz_app_free(&app);
    return rc == MZ_OK ? 0 : 1;
}

/* One command. */
struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct cli_command commands[] = {
    {"init", cmd_init, "create or migrate a database"},
    {"serve", cmd_serve, "serve the platform over HTTP"},
    {"check-id", mz_cmd_check_id, "validate a GB 11643 citizen ID number"},
    {"check-uscc", mz_cmd_check_uscc, "validate a GB 32100 unified social credit code"},
    {"demo", mz_cmd_demo, "fill a database with a synthetic Tianjin and the demo accounts"},
    {"backup", cmd_backup, "online backup of a database, verified"},
    {"restore", cmd_restore, "restore a database from a verified backup"},
    {"user-add", mz_cmd_user_add, "create an account (operators, test harness)"},
    {"auth-config", mz_cmd_auth_config, "show or set the login and password policy"},
    {"rekey", cmd_rekey, "rotate the data-encryption key and re-seal personal data"},
    {"audit-verify", mz_cmd_audit_verify, "verify the audit log's hash chain"},
    {"audit-anchor", mz_cmd_audit_anchor, "export the audit chain head (daily anchor)"},
    {"payroll", mz_cmd_payroll, "monthly social-assistance payroll run"},
    {"verify-bulk", mz_cmd_verify_bulk, "yearly re-check of a program's cases (核对)"},
    {"crosscheck", mz_cmd_crosscheck, "run the cross-checks (预警) now"},
    {"migrate-data", mz_cmd_migrate_data, "copy a SQLite database into PostgreSQL, verified"},
};

/* Top-level usage. */
static void main_usage(FILE *f)
{
    fprintf(f, "usage: minzheng <command> [options]\n\nminzheng %s - 民政综合业务平台\n\n"
               "commands:\n",
            MZ_VERSION);
    for (size_t i = 0; i < MZ_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'minzheng <command> --help' describes a command.\n");
}

int mz_cli_main(int argc, char **argv, const struct mz_module *const *extra, size_t nextra)
{
    cli_extra = extra;
    cli_nextra = nextra;
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("minzheng %s\n", MZ_VERSION);
        return 0;
    }
    for (size_t i = 0; i < MZ_ARRAY_LEN(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "minzheng: unknown command '%s' (see --help)\n", argv[1]);
    return 2;
}
