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

/* The entry point; extra modules (tests/sample) are added to the built-in ones. */
int mz_cli_main(int argc, char **argv, const struct mz_module *const *extra, size_t nextra);

int mz_cmd_check_id(int argc, char **argv);
int mz_cmd_check_uscc(int argc, char **argv);

/* Names for a 6-digit division code from a static table (provinces, and every
 * Tianjin district/county code since 2009 including retired ones); NULL if
 * unknown. Used where no database is at hand (check-id). */
const char *mz_division_static_name(const char *code6);

#endif
