/* cmd_payroll.c - `minzheng payroll --db FILE --program P --month YYYY-MM
 * [--division D]`: the monthly assistance payroll run from the command line.
 *
 * The work is assist_payroll_run() (src/modules/assistance/payroll.c), the
 * same as POST /api/v1/assistance/payroll, in one write transaction. Prints
 * the run's summary as one JSON line: {"run_id","program","month",
 * "division","households","persons","amount_fen","status",...}. Exit 0 for a
 * new run; 3 with the existing run's summary when the program and month were
 * already run for that division (or one overlapping it): nothing changes;
 * 2 on usage errors; 1 when the run failed (rolled back).
 * Tested by tests/api/assistance.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/cli.h"
#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

/* Usage text. */
static void payroll_usage(FILE *f)
{
    fprintf(f, "usage: minzheng payroll --db FILE --program P --month YYYY-MM [--division D]\n\n"
               "Snapshot every case being paid (state paying) of program P for the month into\n"
               "a payroll run with its payments and ledger, in one transaction. Running the same\n"
               "program and month again for the same or an overlapping division changes nothing\n"
               "and exits 3, printing the existing run's summary.\n\n"
               "  --db FILE        SQLite database (or MZ_DB)\n"
               "  --program P      dibao | low_income | tekun | temporary | medical\n"
               "  --month YYYY-MM  the month paid\n"
               "  --division D     division code (default 120000, the whole city)\n"
               "  --key-file FILE  data-encryption key (or MZ_KEY_FILE)\n");
}

int mz_cmd_payroll(int argc, char **argv)
{
    const char *db_path = getenv("MZ_DB"), *program = NULL, *month = NULL, *division = "120000";
    const char *key = NULL, *reason;
    char div12[13];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            payroll_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--db") == 0)
            slot = &db_path;
        else if (strcmp(a, "--program") == 0)
            slot = &program;
        else if (strcmp(a, "--month") == 0)
            slot = &month;
        else if (strcmp(a, "--division") == 0)
            slot = &division;
        else if (strcmp(a, "--key-file") == 0)
            slot = &key;
        if (slot == NULL) {
            fprintf(stderr, "minzheng payroll: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            fprintf(stderr, "minzheng payroll: option %s needs a value\n", a);
            return 2;
        }
        *slot = argv[++i];
    }
    if (db_path == NULL || *db_path == '\0') {
        fprintf(stderr, "minzheng payroll: --db FILE is required (or set MZ_DB)\n");
        return 2;
    }
    if (!assist_program_ok(program)) {
        fprintf(stderr, "minzheng payroll: --program must be dibao, low_income, tekun, "
                        "temporary or medical\n");
        return 2;
    }
    if (!assist_month_ok(month)) {
        fprintf(stderr, "minzheng payroll: --month must be YYYY-MM\n");
        return 2;
    }
    if (mz_division_check(division, div12, &reason) != MZ_OK) {
        fprintf(stderr, "minzheng payroll: --division is not a division code\n");
        return 2;
    }
    struct mz_app app;
    if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK)
        return 2;
    struct mz_db *db;
    if (mz_cli_open("payroll", &app, db_path, key, false, &db) != 0) {
        mz_app_free(&app);
        return 2;
    }
    struct assist_run_summary s;
    int rc = mz_db_begin_write(db);
    if (rc == MZ_OK)
        rc = assist_payroll_run(db, "cli:payroll", program, month, div12, &s);
    int status;
    if (rc == MZ_OK && (rc = mz_db_commit(db)) == MZ_OK) {
        assist_test_kill_point("commit");
        status = 0;
    } else {
        mz_db_rollback(db);
        status = rc == MZ_ERR_CONFLICT ? 3 : 1;
        if (rc != MZ_ERR_CONFLICT)
            fprintf(stderr, "minzheng payroll: the run failed (%s); nothing was written\n",
                    mz_err_name(rc));
    }
    if (status != 1) {
        json_t *j = assist_summary_json(&s);
        char *text = mz_json_dump(j, NULL);
        puts(text);
        free(text);
        json_decref(j);
        if (status == 3)
            fprintf(stderr, "minzheng payroll: run %lld already exists for this month; "
                            "nothing changed\n",
                    (long long)s.run_id);
    }
    mz_db_close(db);
    mz_app_free(&app);
    return status;
}
