/* workbench_internal.h - shared by the staff workbench's server parts:
 * saved list filters (filters.c) and record attachments (attachments.c). */
#ifndef MZ_WORKBENCH_INTERNAL_H
#define MZ_WORKBENCH_INTERNAL_H

#include "engine/engine_internal.h"

/* Saved filters: at most this many per user and entity, each name at most
 * FILTER_NAME_MAX characters, each query at most FILTER_QUERY_MAX bytes of JSON. */
#define FILTER_COUNT_MAX 30
#define FILTER_NAME_MAX  40
#define FILTER_QUERY_MAX 4096

/* Attachments: default size cap (MZ_ATTACHMENT_MAX_BYTES overrides), count
 * per record, file name length in characters, delete reason length. */
#define ATTACHMENT_MAX_DEFAULT (10 * 1024 * 1024)
#define ATTACHMENT_COUNT_MAX   50
#define ATTACHMENT_NAME_MAX    120
#define ATTACHMENT_REASON_MAX  200

int wb_filters_list(struct mz_req *req);
int wb_filters_create(struct mz_req *req);
int wb_filters_update(struct mz_req *req);
int wb_filters_delete(struct mz_req *req);

int wb_attachments_list(struct mz_req *req);
int wb_attachments_upload(struct mz_req *req);
int wb_attachments_download(struct mz_req *req);
int wb_attachments_delete(struct mz_req *req);
/* The size cap in force (bytes). */
size_t wb_attachment_max(void);
int wb_attachment_too_large(struct mz_req *req);
/* Re-seal every stored attachment under the current key (minzheng rekey). */
int wb_attachments_rekey(struct mz_app *app, struct mz_db *db, long *values);

/* Run DDL made from fmt with printf arguments (dialect words). */
int wb_exec_ddl(struct mz_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Migrations (DDL written for the database's dialect). */
int wb_migrate_filters(struct mz_db *db);
int wb_migrate_attachments(struct mz_db *db);

#endif
