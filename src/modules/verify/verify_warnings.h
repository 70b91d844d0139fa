/* verify_warnings.h - cross-checks (预警) of the verification module:
 * warnings.c, used by verify.c (routes, job, entity) and tests. */
#ifndef MZ_VERIFY_WARNINGS_H
#define MZ_VERIFY_WARNINGS_H

#include "mz/engine.h"

enum vf_warning {
    VF_W_DECEASED_PAID,
    VF_W_DUPLICATE_PROGRAM,
    VF_W_DUPLICATE_DISTRICT,
    VF_W_STAFF_RELATIVE,
    VF_W_MINOR_ADULT,
    VF_W_ELDERLY_80,
    VF_W_REVIEW_DUE,
    VF_NWARNINGS
};

extern const struct mz_dict_item vf_warning_items[VF_NWARNINGS];
extern const struct mz_entity vf_warnings_entity;

/* Run every cross-check as of today inside the caller's write transaction;
 * new warnings only (a fingerprint is raised once). *summary: counts. */
int vf_crosscheck(struct mz_db *db, struct mz_arena *a, const char *actor, const char *today,
                  json_t **summary);

int vf_h_crosscheck(struct mz_req *req);
int vf_h_dashboard(struct mz_req *req);
int vf_job_crosscheck(struct mz_app *app, struct mz_db *db);

#endif
