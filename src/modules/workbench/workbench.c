/* workbench.c - the staff workbench's own server parts (issue 5): saved list
 * filters per user (filters.c) and attachments of records (attachments.c).
 * Neither declares an entity: both serve every entity of the other modules
 * (attachments only those declared with MZ_E_ATTACHMENTS). See docs/web.md
 * and docs/api.md; tested by tests/api/workbench.test.mjs and
 * tests/e2e/workbench_extras.test.mjs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "modules/workbench/workbench_internal.h"

int wb_exec_ddl(struct mz_db *db, const char *fmt, ...)
{
    va_list ap;
    char *sql = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&sql, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MZ_ERR_NOMEM;
    int rc = mz_db_exec(db, sql);
    free(sql);
    return rc;
}

static const struct mz_dict_item kind_items[] = {
    {"authorization", "授权书", "Authorization"},
    {"identity", "身份证明", "Proof of identity"},
    {"income", "收入证明", "Proof of income"},
    {"household", "户籍证明", "Household registration"},
    {"disability", "残疾证明", "Disability certificate"},
    {"medical", "医疗证明", "Medical record"},
    {"other", "其他", "Other"},
};
static const struct mz_dict kind_dict = {
    "attachment_kind", "附件类型", "Attachment kind", NULL, kind_items, MZ_ARRAY_LEN(kind_items)};
static const struct mz_dict *const wb_dicts[] = {&kind_dict};

/* The attachment upload: its cap is MZ_ATTACHMENT_MAX_BYTES, refused at once. */
static const struct mz_body_rule attachment_body = {wb_attachment_max, wb_attachment_too_large};

static const struct mz_route wb_routes[] = {
    {"GET", "/api/v1/me/filters", wb_filters_list, 0, NULL, 0, NULL, "我的筛选方案"},
    {"POST", "/api/v1/me/filters", wb_filters_create, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "保存筛选方案"},
    {"PATCH", "/api/v1/me/filters/{id}", wb_filters_update, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "修改筛选方案"},
    {"DELETE", "/api/v1/me/filters/{id}", wb_filters_delete, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "删除筛选方案"},
    {"GET", "/api/v1/{entity}/{id}/attachments", wb_attachments_list, 0, "{entity}.read", 0, NULL,
     "附件列表"},
    {"POST", "/api/v1/{entity}/{id}/attachments", wb_attachments_upload,
     MZ_ROUTE_WRITE | MZ_ROUTE_RAW_BODY | MZ_ROUTE_BODY_RULE,
     NULL /* {entity}.update, or .attach: may_upload */,
     MZ_BODY_LIMIT_UPLOAD, &attachment_body, "上传附件（请求体为文件内容）"},
    {"GET", "/api/v1/{entity}/{id}/attachments/{aid}", wb_attachments_download, 0, "{entity}.read",
     0, NULL, "下载附件"},
    {"DELETE", "/api/v1/{entity}/{id}/attachments/{aid}", wb_attachments_delete, MZ_ROUTE_WRITE,
     "{entity}.update", 0, NULL, "删除附件（须填原因）"},
};

static const struct mz_migration wb_migrations[] = {
    {1, "saved filters", NULL, wb_migrate_filters},
    {2, "attachments", NULL, wb_migrate_attachments},
    {3, "shared saved filters",
     "ALTER TABLE mz_saved_filters ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX ix_mz_saved_filters_shared ON mz_saved_filters (entity, shared);",
     NULL},
};

const struct mz_module mz_module_workbench = {
    .name = "workbench",
    .zh = "工作台",
    .en = "Workbench",
    .routes = wb_routes,
    .nroutes = MZ_ARRAY_LEN(wb_routes),
    .migrations = wb_migrations,
    .nmigrations = MZ_ARRAY_LEN(wb_migrations),
    .dicts = wb_dicts,
    .ndicts = MZ_ARRAY_LEN(wb_dicts),
    .rekey = wb_attachments_rekey,
};
