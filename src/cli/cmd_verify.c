/* cmd_verify.c - the verification platform from the command line:
 *
 *   minzheng verify-bulk --db FILE --program P [--as-of DATE] [--division D]
 *   minzheng crosscheck  --db FILE
 *
 * verify-bulk is the yearly 全面复核: vf_bulk() (src/modules/verify/bulk.c),
 * the same as POST /api/v1/verify/bulk, in one write transaction; progress
 * goes to stderr ("verify-bulk: sources ..."), the summary to stdout as one
 * JSON line. crosscheck runs the cross-checks (预警) now, as the daily job
 * does. Both are audited (actor "cli"). Exit 0 on success, 2 on usage
 * errors, 1 when the run failed (rolled back: nothing is written).
 * Tested by tests/api/verify.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/audit.h"
#include "mz/cli.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_warnings.h"

static void on_progress(void *ctx, const char *phase, int64_t done, int64_t total)
{
    (void)ctx;
    if (total > 0)
        fprintf(stderr, "verify-bulk: %s %lld/%lld\n", phase, (long long)done, (long long)total);
    else
        fprintf(stderr, "verify-bulk: %s\n", phase);
}

/* Open the database named by --db or --pg. */
static int open_db(const char *cmd, struct mz_app *app, const char *db_path, const char *pg,
                   const char *key, struct mz_db **db)
{
    const char *spec = pg && *pg ? pg : db_path;
    if (spec == NULL || *spec == '\0') {
        fprintf(stderr, "minzheng %s: --db FILE (or --pg CONNINFO) is required\n", cmd);
        return 2;
    }
    if (mz_app_init(app, spec, NULL, 0) != MZ_OK) {
        fprintf(stderr, "minzheng %s: the module declarations are inconsistent\n", cmd);
        return 2;
    }
    if (mz_cli_open(cmd, app, spec, key, false, db) != 0) {
        mz_app_free(app);
        return 2;
    }
    return 0;
}

/* Append the audit event and commit, or roll back. */
static int finish(const char *cmd, struct mz_db *db, int rc, const char *action, int64_t id,
                  json_t *summary)
{
    if (rc == MZ_OK) {
        char *detail = json_dumps(summary, JSON_COMPACT);
        struct mz_audit_event ev = {.actor = "cli", .action = action,
                                    .object = "verify_requests", .object_id = id,
                                    .success = true, .detail = detail};
        if (strcmp(action, "crosscheck") == 0)
            ev.object = "verify_warnings";
        rc = mz_audit_append(db, &ev, NULL);
        free(detail);
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    if (rc != MZ_OK) {
        if (mz_db_in_transaction(db))
            mz_db_rollback(db);
        fprintf(stderr, "minzheng %s: failed (%s): nothing was written\n", cmd, mz_err_name(rc));
        return 1;
    }
    char *text = json_dumps(summary, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    return 0;
}

int mz_cmd_verify_bulk(int argc, char **argv)
{
    const char *db_path = NULL, *pg = NULL, *key = NULL, *program = NULL, *as_of = NULL;
    const char *division = "120000", *note = NULL, *reason;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "SQLite database", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (instead of --db)", &pg, "MZ_PG"},
        {"key-file", "FILE", "data-encryption key", &key, "MZ_KEY_FILE"},
        {"program", "P", "dibao | low_income | tekun | temporary | medical", &program, NULL},
        {"as-of", "DATE", "check date YYYY-MM-DD (default today)", &as_of, NULL},
        {"division", "D", "division code (default 120000, the whole city)", &division, NULL},
        {"note", "TEXT", "a note kept with the run", &note, NULL},
    };
    int rc = mz_cli_parse(argc, argv,
                          "Yearly re-check (全面复核) of every active case of a program against "
                          "the data sources in force; the summary as one JSON line.",
                          opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    char today[11], lo[13], hi[13];
    assist_today(today);
    if (as_of == NULL)
        as_of = today;
    if (!assist_program_ok(program)) {
        fprintf(stderr, "minzheng %s: --program must be dibao, low_income, tekun, temporary or "
                        "medical\n", argv[0]);
        return 2;
    }
    if (mz_date_check(as_of, &reason) != MZ_OK || strcmp(as_of, today) > 0) {
        fprintf(stderr, "minzheng %s: --as-of must be a date YYYY-MM-DD not after today\n",
                argv[0]);
        return 2;
    }
    if (mz_division_range(division, lo, hi) != MZ_OK) {
        fprintf(stderr, "minzheng %s: --division is not a division code\n", argv[0]);
        return 2;
    }
    struct mz_app app;
    struct mz_db *db;
    if (open_db(argv[0], &app, db_path, pg, key, &db) != 0)
        return 2;
    struct mz_arena *a = mz_arena_new();
    struct vf_bulk_opts o = {.program = program, .as_of = as_of, .lo = lo, .hi = hi,
                             .actor = "cli", .note = note, .progress = on_progress,
                             .read_committed = true};
    int64_t id = 0;
    json_t *summary = NULL;
    rc = mz_db_begin_write(db);
    if (rc == MZ_OK)
        rc = vf_bulk(db, a, &o, &id, &summary);
    int status = finish(argv[0], db, rc, "verify_bulk", id, summary);
    json_decref(summary);
    mz_arena_free(a);
    mz_db_close(db);
    mz_app_free(&app);
    return status;
}

int mz_cmd_crosscheck(int argc, char **argv)
{
    const char *db_path = NULL, *pg = NULL, *key = NULL;
    struct mz_cli_option opts[] = {
        {"db", "FILE", "SQLite database", &db_path, "MZ_DB"},
        {"pg", "CONNINFO", "PostgreSQL connection string (instead of --db)", &pg, "MZ_PG"},
        {"key-file", "FILE", "data-encryption key", &key, "MZ_KEY_FILE"},
    };
    int rc = mz_cli_parse(argc, argv,
                          "Run the cross-checks (预警) now, as the daily job does; the counts of "
                          "new warnings as one JSON line.",
                          opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    struct mz_app app;
    struct mz_db *db;
    if (open_db(argv[0], &app, db_path, pg, key, &db) != 0)
        return 2;
    struct mz_arena *a = mz_arena_new();
    char today[11];
    assist_today(today);
    json_t *summary = NULL;
    rc = mz_db_begin_write(db);
    if (rc == MZ_OK)
        rc = vf_crosscheck(db, a, "cli", today, &summary);
    int status = finish(argv[0], db, rc, "crosscheck", 0, summary);
    json_decref(summary);
    mz_arena_free(a);
    mz_db_close(db);
    mz_app_free(&app);
    return status;
}
