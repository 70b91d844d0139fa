/* cli.h - the commands of `minzheng <command>`.
 *
 * Each command is `int cmd(int argc, char **argv)` where argv[0] is the
 * command name; it returns the process exit status: 0 success, 1 a negative
 * answer (invalid ID, tampered log), 2 usage errors (unknown option, missing
 * argument, unusable path), 3 "already done" (payroll re-run).
 * Every command answers --help.
 */
#ifndef MZ_CLI_H
#define MZ_CLI_H

#include "mz/engine.h"

/* One option of a command: --name VALUE or --name=VALUE (a flag when arg is
 * NULL: its value becomes "1"). */
struct mz_cli_option {
    const char *name;      /* "db" for --db */
    const char *arg;       /* placeholder shown in help ("FILE"), NULL for a flag */
    const char *help;      /* one line, English */
    const char **value;    /* where the value goes */
    const char *env;       /* environment variable giving the default, or NULL */
};

/* Parse argv (argv[0] is the command) against opts, printing usage for --help.
 * Returns -1 to go on, else the exit status (0 after --help, 2 on a usage
 * error: unknown option, missing value, positional argument). */
int mz_cli_parse(int argc, char **argv, const char *summary, struct mz_cli_option *opts,
                 size_t n);

/* The entry point; extra modules (tests/sample) are added to the built-in ones. */
int mz_cli_main(int argc, char **argv, const struct mz_module *const *extra, size_t nextra);

/* Open a database for a command: check the path, open (creating it when
 * create is set), migrate to the declared schema, and load the data-encryption
 * key (key_path, else MZ_KEY_FILE, else minzheng.key beside the database;
 * created with the database) making current the version the database's blind
 * indexes use. Prints a clear message and returns 2 on failure, else 0. */
int mz_cli_open(const char *command, struct mz_app *app, const char *db_path,
                const char *key_path, bool create, struct mz_db **out);

int mz_cmd_check_id(int argc, char **argv);
int mz_cmd_check_uscc(int argc, char **argv);
/* Synthetic demo city and demo accounts (src/cli/cmd_demo.c). */
int mz_cmd_demo(int argc, char **argv);
/* Audit log (src/cli/cmd_audit.c): verify the chain (exit 1 naming the first
 * bad entry), export its head as the daily anchor. */
int mz_cmd_audit_verify(int argc, char **argv);
int mz_cmd_audit_anchor(int argc, char **argv);

/* The extra modules given to mz_cli_main (for commands in other files). */
void mz_cli_extra_modules(const struct mz_module *const **extra, size_t *n);

/* Copy a SQLite database into PostgreSQL, verified (src/cli/cmd_migrate.c):
 * exit 1 when verification failed (nothing written). */
int mz_cmd_migrate_data(int argc, char **argv);

/* Monthly assistance payroll (src/cli/cmd_payroll.c): exit 3 on a re-run. */
int mz_cmd_payroll(int argc, char **argv);

/* Verification (src/cli/cmd_verify.c): the bulk re-check and the cross-checks. */
int mz_cmd_verify_bulk(int argc, char **argv);
int mz_cmd_crosscheck(int argc, char **argv);

/* Names for a 6-digit division code from a static table (provinces, and every
 * Tianjin district/county code since 2009 including retired ones); NULL if
 * unknown. Used where no database is at hand (check-id). */
const char *mz_division_static_name(const char *code6);

#endif
