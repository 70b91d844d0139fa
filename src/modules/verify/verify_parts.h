/* verify_parts.h - the verification module's smaller parts, used by
 * verify.c (routes, the module descriptor) and src/cli (demo):
 * bulkjob.c (background re-checks), demo.c (the demo city's share),
 * rekey.c (key rotation) and report_pdf.c (the printable report). */
#ifndef MZ_VERIFY_PARTS_H
#define MZ_VERIFY_PARTS_H

#include "modules/verify/verify_internal.h"

/* Start o in a background thread; replies 202 {"job",...} or fails (409
 * bulk_running when a run over an overlapping area is going on). */
int vf_bulkjob_start(struct mz_req *req, const struct vf_bulk_opts *o);
/* GET /api/v1/verify/bulk/{job}: the progress and, at the end, the result. */
int vf_h_bulkjob(struct mz_req *req);

/* Add about max_cases assistance cases of demo households, their
 * authorisations, one batch of each source, the cross-checks and one bulk
 * re-check, in one write transaction. *summary: counts (new reference). */
int vf_demo(struct mz_app *app, struct mz_db *db, uint64_t seed, int max_cases, json_t **summary);

/* The module's part of `minzheng rekey`. */
int vf_rekey(struct mz_app *app, struct mz_db *db, long *values);

/* GET /api/v1/verify/requests/{id}/report.pdf (when the PDF renderer is built in). */
int vf_h_report_pdf(struct mz_req *req);

#endif
