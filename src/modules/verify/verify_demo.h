/* verify_demo.h - the verification module's parts of `minzheng demo` (demo.c)
 * and `minzheng rekey` (rekey.c). */
#ifndef MZ_VERIFY_DEMO_H
#define MZ_VERIFY_DEMO_H

#include "mz/engine.h"

/* Add about max_cases paying 低保 cases of demo households, their
 * authorisations, one batch of each source, the cross-checks and one bulk
 * re-check, in one write transaction. *summary: counts (new reference). */
int vf_demo(struct mz_app *app, struct mz_db *db, uint64_t seed, int max_cases, json_t **summary);

/* The module's part of `minzheng rekey` (rekey.c). */
int vf_rekey(struct mz_app *app, struct mz_db *db, long *values);

#endif
