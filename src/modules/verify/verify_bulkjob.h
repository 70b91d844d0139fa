/* verify_bulkjob.h - bulk re-checks in the background (bulkjob.c). */
#ifndef MZ_VERIFY_BULKJOB_H
#define MZ_VERIFY_BULKJOB_H

#include "modules/verify/verify_internal.h"

/* Start o in a background thread; replies 202 {"job",...} or fails (409
 * bulk_running when a run over an overlapping area is going on). */
int vf_bulkjob_start(struct mz_req *req, const struct vf_bulk_opts *o);
/* GET /api/v1/verify/bulk/{job}: the progress and, at the end, the result. */
int vf_h_bulkjob(struct mz_req *req);

#endif
