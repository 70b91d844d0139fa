/* engine_internal.h - what the engine's files share and nobody else sees.
 *
 * struct mz_entity_rt holds, per declared entity, the SQL text computed once at
 * start-up (column lists, the point lookup) so a request does no string work
 * for the common paths. The value helpers convert between JSON values and
 * database columns by field type; they are the one place storage formats live.
 */
#ifndef MZ_ENGINE_INTERNAL_H
#define MZ_ENGINE_INTERNAL_H

#include "mz/engine.h"
#include "mz/validate.h"

/* System columns every entity table has, in SELECT order before the fields. */
#define MZ_SYS_COLS "id, version, created_at, updated_at"
#define MZ_SYS_NCOLS 4

struct mz_entity_rt {
    const struct mz_entity *entity;
    char *select_cols;   /* "id, version, created_at, updated_at[, state, state_due], f1, ..." */
    char *select_one;    /* SELECT <cols> FROM t WHERE id = ? AND deleted_at IS NULL */
    /* The same with the scope range, the owner, both (index: 1 scope + 2
     * owner; [0] is select_one): built once, not per request. */
    char *select_one_by[4];
    char *insert;        /* INSERT INTO t (version, ..., f1[, f1_bidx], ...) VALUES (1, ?, ...) */
    char *insert_returning; /* the same with RETURNING id (PostgreSQL) */
    int field_col0;      /* index of the first field column in select_cols */
    const struct mz_field *scope_field; /* the MZ_F_SCOPE field or NULL */
    char *meta;          /* the entity's description in /meta, as JSON text */
};

struct mz_entity_rt *mz_entity_rt_of(const struct mz_app *app, const struct mz_entity *e);

/* True if the field's values are stored as INTEGER. */
bool mz_field_is_integer(const struct mz_field *f);

/* Bind a normalised JSON value of field f of entity e as parameter idx.
 * Sensitive fields are sealed (mz/crypto.h) with the context "<entity>.<field>". */
int mz_bind_field(struct mz_req *req, const struct mz_entity *e, struct mz_stmt *stmt, int idx,
                  const struct mz_field *f, const json_t *v);
/* Bind the blind index of a sensitive field's value (null for null). */
int mz_bind_blind(struct mz_req *req, const struct mz_entity *e, struct mz_stmt *stmt, int idx,
                  const struct mz_field *f, const json_t *v);
/* Read column col as a JSON value of field f (new reference; json null for
 * NULL; sensitive values are opened; one that fails to open reads as null
 * and is logged). */
json_t *mz_column_json(struct mz_req *req, const struct mz_entity *e, struct mz_stmt *stmt,
                       int col, const struct mz_field *f);
/* Is the field stored sealed with a blind index? */
bool mz_field_sealed(const struct mz_field *f);
/* Text form of a normalised value for CSV/XLSX cells and history; arena-owned. */
const char *mz_value_text(struct mz_arena *arena, const struct mz_field *f, const json_t *v);
/* Masked text of a sensitive value ("120101********123X", "138****5678", "**** 1234"). */
const char *mz_mask_value(struct mz_arena *arena, const struct mz_field *f, const char *text);

/* Build a row object from a SELECT of rt->select_cols positioned on a row. */
json_t *mz_row_from_stmt(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                         bool unmask);
/* Append the row the statement is on as the JSON text of
 * mz_row_from_stmt(..., false): written straight from the statement for an
 * entity without a present hook, through jansson otherwise (and for a row
 * whose text is not valid UTF-8). Masks, and audits an unmasked view, as
 * mz_row_present does. */
void mz_row_write(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                  struct mz_buf *b);
/* Mask sensitive fields of a row in place unless the caller may view them. */
void mz_row_present(struct mz_req *req, const struct mz_entity *e, json_t *row);

/* Division range of a code prefix: [lo, hi) of 12-digit codes. */
int mz_division_range(const char *code, char lo[13], char hi[13]);

/* The engine tables (history, transitions) and entity DDL. */
int mz_engine_migrate_entity(struct mz_db *db, const struct mz_entity *e, int *applied);
extern const struct mz_migration mz_engine_migrations[];
extern const size_t mz_engine_migration_count;

/* Create one row from an input object; field errors go to `errors` (then 422
 * is returned without mz_fail, so importers can collect them). Other failures
 * are recorded with mz_fail and their status returned. */
int mz_entity_create_collect(struct mz_req *req, const struct mz_entity *e, json_t *input,
                             json_t *errors, json_t **row_out);

/* Record a history entry. changes may be NULL. */
int mz_history_add(struct mz_req *req, const struct mz_entity *e, int64_t id, int64_t version,
                   const char *action, json_t *changes, const char *comment);
/* Diff two rows into {"field":{"from","to"}} with sensitive values masked. */
json_t *mz_row_diff(struct mz_req *req, const struct mz_entity *e, const json_t *before,
                    const json_t *after);
/* Write a row's changed fields (after vs before) and bump its version. */
int mz_row_save(struct mz_req *req, const struct mz_entity *e, int64_t id, int64_t version,
                const json_t *before, const json_t *after, const char *state,
                const char *state_due);

/* The due date (YYYY-MM-DD, arena-owned) of a state entered today, or NULL
 * when the state has no deadline. */
const char *mz_state_due(struct mz_req *req, const struct mz_workflow *w, const char *state);

/* 403 out_of_scope naming the scope field when a row about to be written lies
 * outside the caller's scope; 0 when it is inside or the entity is unscoped. */
int mz_row_check_scope(struct mz_req *req, const struct mz_entity *e, const json_t *row);

/* Count a costly request (import, export) of the caller: 0, or 429
 * rate_limited recorded when the caller exceeds the per-minute limit. */
int mz_rate_check(struct mz_req *req, const char *what);

/* Run sql (parameters: entity name, row id) and return its rows as an array
 * of objects named by names; kinds[i] is 'i' integer, 's' text or 'j' JSON
 * text. NULL after recording a failure. */
json_t *mz_row_items(struct mz_req *req, const char *sql, const char *entity, int64_t id,
                     const char *const *names, const char *kinds);

/* Load a row for writing (unmasked, scope applied); NULL + 404 recorded if absent. */
json_t *mz_row_load(struct mz_req *req, const struct mz_entity *e, int64_t id);

/* Parse the {id} path parameter; 0 after recording 400 bad_id. */
int64_t mz_req_id_or_fail(struct mz_req *req);

/* Handlers registered per entity (list.c, io.c, workflow.c, meta.c). */
int mz_h_list(struct mz_req *req);
/* GET /api/v1/{entity}/{id} (entity.c); a module route replacing it for one
 * entity may hand rows on to it. */
int mz_h_get(struct mz_req *req);
/* POST /api/v1/counts: many list totals in one request (list.c). */
int mz_h_counts(struct mz_req *req);
int mz_h_export(struct mz_req *req);
/* The rows of an export: open (build the query, prepare; 0 or a status after
 * mz_fail; *filters: the conditions for the audit record), then next (MZ_ROW
 * with *row a new reference of the row as the API shows it, MZ_DONE at the
 * end, else an error code). */
struct mz_export_source {
    int (*open)(void *ctx, struct mz_req *req, const char **filters);
    int (*next)(void *ctx, struct mz_req *req, json_t **row);
    void *ctx;
};
/* GET /api/v1/<e>/export's reply (format, script, rate limit, the file,
 * audit) over the rows of src: mz_h_export's own, or a module's route
 * replacing it for one entity. */
int mz_export_reply(struct mz_req *req, const struct mz_entity *e,
                    const struct mz_export_source *src);
int mz_h_import(struct mz_req *req);
int mz_h_actions(struct mz_req *req);
int mz_h_act(struct mz_req *req);
int mz_h_transitions(struct mz_req *req);
int mz_h_meta(struct mz_req *req);
/* The entity's description in /meta as compact JSON text (malloc'd): from
 * its declaration alone, so built once with the entity's SQL texts. */
char *mz_meta_entity_text(const struct mz_entity *e);
int mz_h_openapi(struct mz_req *req);
int mz_h_health(struct mz_req *req);

/* The list query shared by list and export: filters, q, sort from the query
 * string. Fills where (with a leading " WHERE ..."), order and params. */
struct mz_sql_param {
    bool is_int;
    int64_t i;
    const char *s;
};

struct mz_query {
    struct mz_buf where;
    const char *order;
    struct mz_sql_param params[64];
    int nparams;
    int64_t depth; /* matches the caller looks at in id DESC order; 0: all */
    /* The division range as an index range in where ("AND col >= ? AND
     * col < ?" at [range_at, range_end)), when it was written so: a page in
     * id order may rather walk the table and skip the range's index. */
    const char *range_col;
    size_t range_at, range_end;
    /* The filters are only deleted_at IS NULL and the scope field's range
     * [scope_lo, scope_hi) (empty strings: no range): mz_query_scope_only. */
    bool scope_only;
    char scope_lo[13], scope_hi[13];
    /* The matches a search hook found itself (mz_query_set_ids), in id
     * order descending without repeats; has_ids false: none given. */
    bool has_ids;
    int64_t *ids;
    size_t nids;
};

/* depth: see mz_query_depth (mz/engine.h); lists give it, exports 0. */
int mz_query_build(struct mz_req *req, const struct mz_entity *e, struct mz_query *q,
                   int64_t depth);
void mz_query_bind(struct mz_stmt *st, const struct mz_query *q, int first);
void mz_query_free(struct mz_query *q);

/* The entity named by the {entity} path parameter; NULL + 404 recorded. */
const struct mz_entity *mz_req_entity_or_fail(struct mz_req *req);

#endif
