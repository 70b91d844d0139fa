/* app.c - the application: modules in, lookup tables, routes and schema out.
 *
 * mz_app_init() walks the module list once: it collects entities and
 * dictionaries (names must be unique across modules), computes each entity's
 * SQL text (struct mz_entity_rt) and fills the router with the core routes,
 * every module's own routes, and the generic entity routes. Literal module
 * routes win over the generic `{entity}` patterns in the router.
 *
 * mz_app_migrate() brings a database to the declared schema: the engine's own
 * tables (numbered steps of the "engine" module), then for each entity its
 * table, any columns added to the declaration since, and its indexes (each
 * change recorded in mz_migrations under the module "entity:<name>"), then
 * each module's hand-written numbered steps. Running it again changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

/* Run a migration's DDL after putting the dialect's words in: every "%1$s"
 * becomes the auto-numbered primary key, every "%2$s" the 64-bit integer type. */
static int engine_ddl(struct mz_db *db, const char *fmt)
{
    struct mz_buf sql;
    int rc;

    mz_buf_init(&sql, 0);
    for (const char *p = fmt; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == '1' || p[1] == '2') && p[2] == '$' && p[3] == 's') {
            mz_buf_puts(&sql, mz_db_dialect(db, p[1] == '1' ? MZ_SQL_AUTOINCREMENT_PK
                                                            : MZ_SQL_INT64));
            p += 3;
        } else {
            mz_buf_append(&sql, p, 1);
        }
    }
    rc = mz_db_exec(db, sql.data);
    mz_buf_free(&sql);
    return rc;
}

/* Engine step 1: the change history of every entity row. */
static int engine_history(struct mz_db *db)
{
    return engine_ddl(db, "CREATE TABLE mz_history (id %1$s, entity TEXT NOT NULL,"
                          " row_id %2$s NOT NULL, version %2$s NOT NULL, action TEXT NOT NULL,"
                          " actor TEXT NOT NULL, at TEXT NOT NULL, changes TEXT, comment TEXT);"
                          "CREATE INDEX ix_mz_history_row ON mz_history(entity, row_id, id);");
}

/* Engine step 2: workflow transitions. */
static int engine_transitions(struct mz_db *db)
{
    return engine_ddl(db, "CREATE TABLE mz_transitions (id %1$s, entity TEXT NOT NULL,"
                          " row_id %2$s NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,"
                          " action TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL,"
                          " comment TEXT);"
                          "CREATE INDEX ix_mz_transitions_row ON mz_transitions(entity, row_id, id);");
}

/* Engine step 3: the key version in use (one row; its id is given, not numbered). */
static int engine_keystate(struct mz_db *db)
{
    return engine_ddl(db, "CREATE TABLE mz_keystate (id %2$s PRIMARY KEY CHECK (id = 1),"
                          " version %2$s NOT NULL, changed_at TEXT NOT NULL);");
}

/* Engine step 4: what several servers on one database share besides the
 * data: per-minute counters (ratelimit.c) and job leases (jobs.c). */
static int engine_shared(struct mz_db *db)
{
    return engine_ddl(db, "CREATE TABLE mz_rate_counters (key TEXT PRIMARY KEY,"
                          " minute %2$s NOT NULL, hits %2$s NOT NULL);"
                          "CREATE TABLE mz_job_leases (name TEXT PRIMARY KEY, holder TEXT,"
                          " due_at %2$s NOT NULL, runs %2$s NOT NULL DEFAULT 0,"
                          " started_at %2$s, finished_at %2$s, last_ok %2$s);");
}

/* Tables the engine itself needs (DDL through engine_ddl for the dialect). */
const struct mz_migration mz_engine_migrations[] = {
    {1, "history", NULL, engine_history},
    {2, "transitions", NULL, engine_transitions},
    {3, "keystate", NULL, engine_keystate},
    {4, "shared counters and job leases", NULL, engine_shared},
};
const size_t mz_engine_migration_count = MZ_ARRAY_LEN(mz_engine_migrations);

bool mz_req_may(struct mz_req *req, const char *permission)
{
    if (req->app == NULL || req->app->may == NULL)
        return true;
    return req->app->may(req, permission);
}

int mz_audit(struct mz_req *req, const char *action, const char *object, int64_t id,
             bool success, json_t *detail)
{
    if (req->app == NULL || req->app->audit == NULL)
        return 0;
    return req->app->audit(req, action, object, id, success, detail);
}

int mz_audit_text(struct mz_req *req, const char *action, const char *object, int64_t id,
                  bool success, json_t *detail, const char *detail_text)
{
    if (req->app != NULL && req->app->audit_text != NULL)
        return req->app->audit_text(req, action, object, id, success, detail, detail_text);
    return mz_audit(req, action, object, id, success, detail);
}

/* bsearch/qsort over entity_by_name: a name (bsearch's key) or an entity
 * against an entity. */
static int entity_key_cmp(const void *key, const void *elem)
{
    return strcmp(*(const char *const *)key, (*(const struct mz_entity *const *)elem)->name);
}
static int entity_name_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct mz_entity *const *)a)->name,
                  (*(const struct mz_entity *const *)b)->name);
}

/* By bsearch over entity_by_name once mz_app_init has sorted it (every
 * request naming an entity in its path looks it up); linear before. */
const struct mz_entity *mz_app_entity(const struct mz_app *app, const char *name)
{
    if (app->entity_by_name == NULL) {
        for (size_t i = 0; i < app->nentities; i++) {
            if (strcmp(app->entities[i]->name, name) == 0)
                return app->entities[i];
        }
        return NULL;
    }
    const struct mz_entity *const *e =
        bsearch(&name, app->entity_by_name, app->nentities, sizeof(*app->entity_by_name),
                entity_key_cmp);
    return e != NULL ? *e : NULL;
}

const struct mz_dict *mz_app_dict(const struct mz_app *app, const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < app->ndicts; i++) {
        if (strcmp(app->dicts[i]->name, name) == 0)
            return app->dicts[i];
    }
    return NULL;
}

const struct mz_field *mz_entity_field(const struct mz_entity *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++) {
        if (strcmp(e->fields[i].name, name) == 0)
            return &e->fields[i];
    }
    return NULL;
}

struct mz_entity_rt *mz_entity_rt_of(const struct mz_app *app, const struct mz_entity *e)
{
    for (size_t i = 0; i < app->nentities; i++) {
        if (app->entities[i] == e)
            return &app->rt[i];
    }
    return NULL;
}

/* Is s a safe SQL identifier ([a-z][a-z0-9_]*, at most 48 chars)? */
static bool identifier_ok(const char *s)
{
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n <= 48;
}

/* Names the engine uses itself: no field may take them. */
static bool reserved_name(const char *s)
{
    static const char *const reserved[] = {"id", "version", "created_at", "updated_at",
                                           "created_by", "updated_by", "deleted_at", "state",
                                           "state_due", "q", "page", "size", "sort", "format",
                                           "mode"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(reserved); i++) {
        if (strcmp(s, reserved[i]) == 0)
            return true;
    }
    return false;
}

/* Check one entity's declaration; log and return MZ_ERR_INVALID on a mistake. */
static int check_entity(const struct mz_app *app, const struct mz_entity *e)
{
    if (!identifier_ok(e->name)) {
        mz_error("entity name %s is not an identifier", e->name ? e->name : "(null)");
        return MZ_ERR_INVALID;
    }
    int scopes = 0;
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        if (!identifier_ok(f->name) || reserved_name(f->name)) {
            mz_error("entity %s: bad or reserved field name %s", e->name, f->name);
            return MZ_ERR_INVALID;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(e->fields[j].name, f->name) == 0) {
                mz_error("entity %s: field %s declared twice", e->name, f->name);
                return MZ_ERR_INVALID;
            }
        }
        if (f->zh == NULL || f->en == NULL) {
            mz_error("entity %s: field %s needs zh and en labels", e->name, f->name);
            return MZ_ERR_INVALID;
        }
        if (f->type == MZ_T_DICT && mz_app_dict(app, f->dict) == NULL) {
            mz_error("entity %s: field %s names unknown dictionary %s", e->name, f->name,
                     f->dict ? f->dict : "(null)");
            return MZ_ERR_INVALID;
        }
        if (f->type == MZ_T_REF && mz_app_entity(app, f->ref) == NULL) {
            mz_error("entity %s: field %s references unknown entity %s", e->name, f->name,
                     f->ref ? f->ref : "(null)");
            return MZ_ERR_INVALID;
        }
        if (f->flags & MZ_F_SCOPE) {
            if (f->type != MZ_T_DIVISION) {
                mz_error("entity %s: scope field %s must be a division", e->name, f->name);
                return MZ_ERR_INVALID;
            }
            scopes++;
        }
    }
    if (scopes > 1) {
        mz_error("entity %s has more than one scope field", e->name);
        return MZ_ERR_INVALID;
    }
    if (e->workflow) {
        const struct mz_workflow *w = e->workflow;
        for (size_t i = 0; i < w->ntransitions; i++) {
            const struct mz_transition *t = &w->transitions[i];
            if (!identifier_ok(t->action)) {
                mz_error("workflow %s: bad action name", w->name);
                return MZ_ERR_INVALID;
            }
        }
    }
    return MZ_OK;
}

/* Compute the per-entity SQL text once. */
static void build_rt(struct mz_entity_rt *rt, const struct mz_entity *e)
{
    struct mz_buf b;
    mz_buf_init(&b, 0);
    mz_buf_puts(&b, MZ_SYS_COLS);
    rt->field_col0 = MZ_SYS_NCOLS;
    if (e->workflow) {
        mz_buf_puts(&b, ", state, state_due");
        rt->field_col0 += 2;
    }
    for (size_t i = 0; i < e->nfields; i++) {
        mz_buf_printf(&b, ", %s", e->fields[i].name);
        if (e->fields[i].flags & MZ_F_SCOPE)
            rt->scope_field = &e->fields[i];
    }
    rt->entity = e;
    rt->select_cols = mz_buf_steal(&b, NULL);
    mz_buf_init(&b, 0);
    mz_buf_printf(&b, "SELECT %s FROM %s WHERE id = ? AND deleted_at IS NULL", rt->select_cols,
                  e->name);
    rt->select_one = mz_buf_steal(&b, NULL);
    rt->select_one_by[0] = rt->select_one;
    for (int k = 1; k < 4; k++) {
        mz_buf_init(&b, 0);
        mz_buf_puts(&b, rt->select_one);
        if ((k & 1) && rt->scope_field != NULL)
            mz_buf_printf(&b, " AND %s >= ? AND %s < ?", rt->scope_field->name,
                          rt->scope_field->name);
        if (k & 2)
            mz_buf_puts(&b, " AND created_by = ?");
        rt->select_one_by[k] = mz_buf_steal(&b, NULL);
    }
    /* The create's INSERT: SQLite reads the new id from the connection
     * (RETURNING would open an ephemeral table for every row inserted),
     * PostgreSQL from RETURNING. */
    mz_buf_init(&b, 0);
    mz_buf_printf(&b, "INSERT INTO %s (version, created_at, updated_at, created_by, updated_by%s",
                  e->name, e->workflow ? ", state, state_due" : "");
    for (size_t i = 0; i < e->nfields; i++) {
        mz_buf_printf(&b, ", %s", e->fields[i].name);
        if (mz_field_sealed(&e->fields[i]))
            mz_buf_printf(&b, ", %s_bidx", e->fields[i].name);
    }
    mz_buf_puts(&b, ") VALUES (1, ?, ?, ?, ?");
    if (e->workflow)
        mz_buf_puts(&b, ", ?, ?");
    for (size_t i = 0; i < e->nfields; i++)
        mz_buf_puts(&b, mz_field_sealed(&e->fields[i]) ? ", ?, ?" : ", ?");
    mz_buf_puts(&b, ")");
    rt->insert = mz_buf_steal(&b, NULL);
    mz_buf_init(&b, 0);
    mz_buf_printf(&b, "%s RETURNING id", rt->insert);
    rt->insert_returning = mz_buf_steal(&b, NULL);
    rt->meta = mz_meta_entity_text(e);
}

/* Core routes that are not per entity. */
static const struct mz_route core_routes[] = {
    {"GET", "/api/v1/health", mz_h_health, MZ_ROUTE_PUBLIC, NULL, 0, NULL, "健康检查"},
    {"GET", "/api/v1/meta", mz_h_meta, 0, NULL, 0, NULL, "元数据：实体、字段、字典、工作流、菜单"},
    {"GET", "/api/v1/openapi.json", mz_h_openapi, MZ_ROUTE_PUBLIC, NULL, 0, NULL, "OpenAPI 文档"},
    /* Reads only (no write transaction, one snapshot); POST for the body. */
    {"POST", "/api/v1/counts", mz_h_counts, 0, NULL, 0, NULL, "多个列表的记录数（一次请求）"},
};

int mz_app_init(struct mz_app *app, const char *db_spec, const struct mz_module *const *extra,
                size_t nextra)
{
    memset(app, 0, sizeof(*app));
    app->db_spec = db_spec;
    app->nmodules = mz_builtin_module_count + nextra;
    const struct mz_module **mods = mz_xcalloc(app->nmodules, sizeof(*mods));
    for (size_t i = 0; i < mz_builtin_module_count; i++)
        mods[i] = mz_builtin_modules[i];
    for (size_t i = 0; i < nextra; i++)
        mods[mz_builtin_module_count + i] = extra[i];
    app->modules = (const struct mz_module *const *)mods;

    size_t ne = 0, nd = 0;
    for (size_t i = 0; i < app->nmodules; i++) {
        ne += mods[i]->nentities;
        nd += mods[i]->ndicts;
    }
    app->entities = mz_xcalloc(ne, sizeof(*app->entities));
    app->dicts = mz_xcalloc(nd, sizeof(*app->dicts));
    app->rt = mz_xcalloc(ne, sizeof(*app->rt));
    for (size_t i = 0; i < app->nmodules; i++) {
        for (size_t j = 0; j < mods[i]->ndicts; j++) {
            if (mz_app_dict(app, mods[i]->dicts[j]->name)) {
                mz_error("dictionary %s declared twice", mods[i]->dicts[j]->name);
                return MZ_ERR_INVALID;
            }
            app->dicts[app->ndicts++] = mods[i]->dicts[j];
        }
        for (size_t j = 0; j < mods[i]->nentities; j++) {
            if (mz_app_entity(app, mods[i]->entities[j]->name)) {
                mz_error("entity %s declared twice", mods[i]->entities[j]->name);
                return MZ_ERR_INVALID;
            }
            app->entities[app->nentities++] = mods[i]->entities[j];
        }
    }
    for (size_t i = 0; i < app->nentities; i++) {
        int rc = check_entity(app, app->entities[i]);
        if (rc != MZ_OK)
            return rc;
        build_rt(&app->rt[i], app->entities[i]);
    }
    app->entity_by_name =
        mz_xcalloc(app->nentities ? app->nentities : 1, sizeof(*app->entity_by_name));
    memcpy(app->entity_by_name, app->entities, app->nentities * sizeof(*app->entity_by_name));
    qsort(app->entity_by_name, app->nentities, sizeof(*app->entity_by_name), entity_name_cmp);

    app->router = mz_router_new();
    for (size_t i = 0; i < MZ_ARRAY_LEN(core_routes); i++)
        mz_router_add(app->router, &core_routes[i]);
    for (size_t i = 0; i < app->nmodules; i++) {
        for (size_t j = 0; j < mods[i]->nroutes; j++)
            mz_router_add(app->router, &mods[i]->routes[j]);
    }
    for (size_t i = 0; i < mz_engine_route_count; i++)
        mz_router_add(app->router, &mz_engine_routes[i]);
    return MZ_OK;
}

void mz_app_free(struct mz_app *app)
{
    for (size_t i = 0; i < app->nentities; i++) {
        free(app->rt[i].select_cols);
        for (int k = 1; k < 4; k++)
            free(app->rt[i].select_one_by[k]);
        free(app->rt[i].select_one);
        free(app->rt[i].insert);
        free(app->rt[i].insert_returning);
        free(app->rt[i].meta);
    }
    free(app->rt);
    free((void *)app->entity_by_name);
    free((void *)app->entities);
    free((void *)app->dicts);
    free((void *)app->modules);
    if (app->router)
        mz_router_free(app->router);
    memset(app, 0, sizeof(*app));
}

/* SQL column type of a field (integers are 64-bit on every backend). */
static const char *column_type(struct mz_db *db, const struct mz_field *f)
{
    return mz_field_is_integer(f) && !mz_field_sealed(f) ? mz_db_dialect(db, MZ_SQL_INT64)
                                                         : "TEXT";
}

/* Does the field get a plain index? */
static bool wants_index(const struct mz_field *f)
{
    if ((f->flags & MZ_F_NOINDEX) && !(f->flags & (MZ_F_INDEXED | MZ_F_SCOPE)))
        return false;
    return (f->flags & (MZ_F_INDEXED | MZ_F_SCOPE)) || f->type == MZ_T_REF ||
           f->type == MZ_T_DIVISION || f->type == MZ_T_IDNUM;
}

/* One recorded schema step for an entity: run sql once under a name. */
static int entity_step(struct mz_db *db, const char *module, int number, const char *name,
                       const char *sql, int *applied)
{
    struct mz_migration step = {number, name, sql, NULL};
    int n = 0;
    int rc = mz_db_migrate(db, module, &step, 1, &n);
    *applied += n;
    return rc;
}

int mz_engine_migrate_entity(struct mz_db *db, const struct mz_entity *e, int *applied)
{
    char module[80];
    struct mz_buf sql;
    int rc = MZ_OK;
    snprintf(module, sizeof(module), "entity:%s", e->name);
    mz_buf_init(&sql, 0);

    /* The table is created with the system columns only; each field is then
     * its own recorded step (module "entity:<name>.<field>"), so a field added
     * to the declaration later becomes an ALTER TABLE on the next init. */
    mz_buf_printf(&sql,
                  "CREATE TABLE IF NOT EXISTS %s (id %s,"
                  " version %s NOT NULL DEFAULT 1, created_at TEXT NOT NULL,"
                  " updated_at TEXT NOT NULL, created_by TEXT, updated_by TEXT,"
                  " deleted_at TEXT%s)",
                  e->name, mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK),
                  mz_db_dialect(db, MZ_SQL_INT64),
                  e->workflow ? ", state TEXT NOT NULL, state_due TEXT" : "");
    rc = entity_step(db, module, 1, "create table", sql.data, applied);
    if (rc != MZ_OK)
        goto out;
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        char colmod[160];
        snprintf(colmod, sizeof(colmod), "%s.%s", module, f->name);
        mz_buf_reset(&sql);
        mz_buf_printf(&sql, "ALTER TABLE %s ADD COLUMN %s %s", e->name, f->name, column_type(db, f));
        if (mz_field_sealed(f))
            mz_buf_printf(&sql, "; ALTER TABLE %s ADD COLUMN %s_bidx TEXT", e->name, f->name);
        rc = entity_step(db, colmod, 1, "add column", sql.data, applied);
        if (rc != MZ_OK)
            goto out;
    }
    /* Indexes: unique ones ignore deleted rows; all are IF NOT EXISTS. */
    mz_buf_reset(&sql);
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        /* A sealed field is found through its blind index only. */
        const char *suffix = mz_field_sealed(f) ? "_bidx" : "";
        if (f->flags & MZ_F_UNIQUE)
            mz_buf_printf(&sql,
                          "CREATE UNIQUE INDEX IF NOT EXISTS ux_%s_%s ON %s(%s%s)"
                          " WHERE deleted_at IS NULL;",
                          e->name, f->name, e->name, f->name, suffix);
        else if (wants_index(f) || (mz_field_sealed(f) && (f->flags & MZ_F_SEARCHABLE)))
            mz_buf_printf(&sql,
                          "CREATE INDEX IF NOT EXISTS ix_%s_%s ON %s(%s%s)"
                          " WHERE deleted_at IS NULL;",
                          e->name, f->name, e->name, f->name, suffix);
    }
    if (e->workflow)
        mz_buf_printf(&sql,
                      "CREATE INDEX IF NOT EXISTS ix_%s_state ON %s(state)"
                      " WHERE deleted_at IS NULL;",
                      e->name, e->name);
    if (sql.len > 0) {
        rc = mz_db_exec(db, sql.data);
        if (rc != MZ_OK)
            mz_error("creating indexes of %s failed: %s", e->name, mz_db_errmsg(db));
    }
out:
    mz_buf_free(&sql);
    return rc;
}

int mz_app_migrate(struct mz_app *app, struct mz_db *db, int *applied)
{
    int n = 0, rc;
    *applied = 0;
    rc = mz_db_migrate(db, "engine", mz_engine_migrations, mz_engine_migration_count, &n);
    if (rc != MZ_OK)
        return rc;
    *applied += n;
    for (size_t i = 0; i < app->nentities; i++) {
        rc = mz_engine_migrate_entity(db, app->entities[i], applied);
        if (rc != MZ_OK) {
            mz_error("migrating entity %s failed: %s", app->entities[i]->name, mz_db_errmsg(db));
            return rc;
        }
    }
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        if (m->nmigrations == 0)
            continue;
        n = 0;
        rc = mz_db_migrate(db, m->name, m->migrations, m->nmigrations, &n);
        if (rc != MZ_OK)
            return rc;
        *applied += n;
    }
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        if (m->init) {
            rc = m->init(app, db);
            if (rc != MZ_OK) {
                mz_error("module %s failed to initialise", m->name);
                return rc;
            }
        }
    }
    return MZ_OK;
}
