/* engine.h - declared entities, workflows and modules.
 *
 * A business system is declared as data: an entity is a table of field
 * descriptors, a workflow a table of states and transitions, a module a const
 * descriptor listing them. From one declaration the engine gives the table and
 * its indexes (by migration), the REST endpoints with validation, lists with
 * filters, sort and paging, soft delete, optimistic concurrency, change
 * history, import and export, workflow actions, /meta and OpenAPI. C is written
 * only for real business rules, through hooks.
 *
 * How to declare an entity: see docs/architecture.md and tests/sample/.
 */
#ifndef MZ_ENGINE_H
#define MZ_ENGINE_H

#include <jansson.h>
#include "mz/base.h"
#include "mz/db.h"
#include "mz/http.h"
#include "mz/json.h"

enum mz_ftype {
    MZ_T_TEXT,      /* UTF-8 text; min/max are lengths in characters */
    MZ_T_INT,       /* int64; min/max are values */
    MZ_T_MONEY,     /* int64 fen; min/max are values in fen */
    MZ_T_DATE,      /* YYYY-MM-DD */
    MZ_T_DATETIME,  /* RFC 3339, stored in UTC */
    MZ_T_BOOL,      /* true/false, stored 0/1 */
    MZ_T_DICT,      /* a code from dictionary `dict` */
    MZ_T_IDNUM,     /* GB 11643 citizen ID, normalised to 18 characters */
    MZ_T_USCC,      /* GB 32100 unified social credit code */
    MZ_T_PHONE,     /* mainland mobile number */
    MZ_T_BANKCARD,  /* bank card number (Luhn) */
    MZ_T_DIVISION,  /* division code, normalised to 12 digits */
    MZ_T_REF,       /* id of a row of entity `ref` */
    MZ_T_JSON,      /* any JSON value, stored as text */
};

/* Field flags. */
enum {
    MZ_F_REQUIRED = 1 << 0,   /* must be present and non-empty on create */
    MZ_F_UNIQUE = 1 << 1,     /* unique among rows not deleted */
    MZ_F_SENSITIVE = 1 << 2,  /* personal data: masked in replies, encrypted at rest */
    MZ_F_SEARCHABLE = 1 << 3, /* matched by ?q= */
    MZ_F_SCOPE = 1 << 4,      /* the division code that scopes the row */
    MZ_F_READONLY = 1 << 5,   /* set by the system (hooks, workflow), never by clients */
    MZ_F_INDEXED = 1 << 6,    /* plain index for filters */
    MZ_F_IMMUTABLE = 1 << 7,  /* settable on create only */
    MZ_F_HAS_MIN = 1 << 8,    /* min is set */
    MZ_F_HAS_MAX = 1 << 9,    /* max is set */
    MZ_F_HIDDEN = 1 << 10,    /* not listed in tables by default (UI hint) */
    MZ_F_MULTILINE = 1 << 11, /* long text (UI hint) */
    MZ_F_NOINDEX = 1 << 12,   /* no automatic index (a reference never filtered on in bulk) */
};

struct mz_field {
    const char *name;      /* column and JSON name: [a-z][a-z0-9_]* */
    enum mz_ftype type;
    const char *zh;        /* label, Simplified Chinese */
    const char *en;        /* label, English */
    unsigned flags;
    int64_t min, max;      /* with MZ_F_HAS_MIN / MZ_F_HAS_MAX */
    const char *pattern;   /* POSIX extended regex the whole text must match */
    const char *pattern_zh;/* what the pattern means, for the error message */
    const char *dict;      /* dictionary name for MZ_T_DICT */
    const char *ref;       /* entity name for MZ_T_REF */
    const char *def;       /* default value as JSON text ("0", "\"draft\"") on create */
    /* Other column headers import accepts for this field besides name and zh,
     * "|"-separated ("公民身份号码|身份证号"): the layouts staff use. */
    const char *aliases;
};

/* Text fields without an explicit max are capped at this many characters. */
#define MZ_TEXT_MAX_DEFAULT 500
#define MZ_JSON_FIELD_MAX 65536

struct mz_entity;
struct mz_workflow;
struct mz_query;

/* What a hook sees: the request, the entity, the row as it will be written
 * (an object of field values, normalised), the row before (NULL on create) and
 * the id (0 on create). A validate hook adds field errors with
 * mz_errors_add(); other hooks fail with mz_fail(). */
struct mz_write {
    struct mz_req *req;
    const struct mz_entity *entity;
    json_t *row;           /* new values (full row after the change) */
    json_t *before;        /* previous row or NULL */
    json_t *errors;        /* array of {"field","code","message"} */
    int64_t id;
    const char *action;    /* "create", "update", "delete", or a workflow action */
};

struct mz_hooks {
    int (*validate)(struct mz_write *w);     /* after field checks; add errors */
    int (*before_write)(struct mz_write *w); /* inside the transaction, before SQL */
    int (*after_write)(struct mz_write *w);  /* inside the transaction, after SQL */
    /* Adjust a row on its way out (add derived values); row is owned by caller. */
    void (*present)(struct mz_req *req, const struct mz_entity *e, json_t *row);
    /* Derived values only, as members added after the row's own (called
     * after present): value(ctx, name) gives the text of a non-sensitive
     * field of the row (NULL when null or sensitive); returns a new object
     * or NULL. Unlike present it lets a single-row GET be written straight
     * from the statement, without a jansson tree of the row. */
    json_t *(*present_extra)(struct mz_req *req, const struct mz_entity *e,
                             const char *(*value)(void *ctx, const char *name), void *ctx);
    /* Replace the generic ?q= search (substring of searchable fields) with the
     * entity's own: append conditions with mz_query_add(). 0 or a status. */
    int (*search)(struct mz_req *req, const struct mz_entity *e, const char *text,
                  struct mz_query *q);
    /* End of a mode=all import that ran without per-row savepoints
     * (req->importing was true during its rows, so after_write may have put
     * index work off): keep (do the work now, 0 or a status) or drop it (the
     * rows were rolled back; return 0). */
    int (*import_done)(struct mz_req *req, const struct mz_entity *e, bool keep);
    /* On the import's helper thread, ahead of the writer: prepare work for
     * one row from its cells (cell(ctx, field) is the cell of that field as
     * written, NULL when absent or empty), allocated in a; no database, no
     * request. The result reaches the hooks as req->import_pre->hook while
     * the row is written, and must only be used where it matches the row. */
    void *(*import_prepare)(struct mz_arena *a, const struct mz_app *app,
                            const struct mz_entity *e,
                            const char *(*cell)(void *ctx, const char *field), void *ctx);
    /* The person-centric view (GET /api/v1/persons/{id}/records): rows of
     * the entity that name one of persons[0..n) (the person, then those
     * merged into it) in field f but are not rows of its table (a packed
     * payroll run's households); appended to rows as a list shows them,
     * the caller's scope applied. 0 or a status. */
    int (*person_rows)(struct mz_req *req, const struct mz_entity *e, const struct mz_field *f,
                       const int64_t *persons, size_t n, json_t *rows);
    /* A count of POST /api/v1/counts for an entity whose list a module
     * route answers (the request's query is the count's filter): *handled
     * false leaves it to the generic list's count; else *total and *capped
     * as that route's list would answer. 0 or a status after mz_fail. */
    int (*count)(struct mz_req *req, const struct mz_entity *e, bool *handled, int64_t *total,
                 bool *capped);
};

/* A sensitive cell of an import row sealed ahead on the helper thread: the
 * normalised text (plain), its sealed form and blind index (mz_bind_field,
 * mz_field_blind use them when the row's value is that text). */
struct mz_import_sealed {
    const struct mz_field *f;
    const char *plain, *sealed, *blind;
};

/* What the import's helper thread prepared for the row being written. */
struct mz_import_pre {
    const struct mz_import_sealed *sealed;
    size_t nsealed;
    void *hook; /* the entity's import_prepare result, or NULL */
};

/* Answers an import of an MZ_E_IMPORT_BULK entity remembers for its rows
 * (src/engine/io.c): whether a dictionary has a code, whether a division is
 * acceptable - what its own rows cannot change, and no other writer can
 * while it holds the write transaction; forgotten when the date changes.
 * get: true with *value when known; both do nothing outside such an import. */
bool mz_import_memo_get(const struct mz_req *req, const char *kind, const char *key,
                        bool *value);
void mz_import_memo_put(struct mz_req *req, const char *kind, const char *key, bool value);

/* A list query under construction (filters of lists and exports). */
struct mz_query;
/* Append " AND (<sql>)" to the query; sql uses ? placeholders bound in order
 * to the text values given. Column names in sql must come from declarations,
 * never from input. MZ_ERR_TOOBIG when the query holds too many parameters. */
int mz_query_add(struct mz_query *q, const char *sql, int nparams, const char *const *params);
/* The same, where sql may also hold "{where}": each is replaced by the
 * query's filters so far (deleted rows, scope, field filters; columns of the
 * entity's table, unqualified) with their parameters, so that a search hook
 * can filter inside a subquery and stop it early with a LIMIT. */
int mz_query_add_sub(struct mz_query *q, const char *sql, int nparams,
                     const char *const *params);
/* How many matches, in the default order (id descending), the caller will
 * look at: a list's count cap + 1 or the end of its page, whichever is more;
 * 0 when it needs every match (an export, a sort of the caller's choosing).
 * A search hook may then return, of the matches, any set holding these first
 * ones (or, for a match set larger than this, any this many of them). */
int64_t mz_query_depth(const struct mz_query *q);
/* Are the query's filters so far only "not deleted" and the caller's scope
 * (narrowed by a filter on the scope field)? Then true, with *lo and *hi the
 * scope field's range [lo, hi) (both NULL: no range, every row in scope);
 * false when any other filter is present (field filters, owner, an empty
 * scope), and the hook must filter with {where} (mz_query_add_sub). */
bool mz_query_scope_only(const struct mz_query *q, const char **lo, const char **hi);
/* A search hook that found the matches itself, with nothing but the
 * filters mz_query_scope_only described, hands them over instead of adding
 * a condition: every id kept by those filters and the search, or, when the
 * match is larger than mz_query_depth, at least that many of them (as for
 * mz_query_add_sub). The list then counts and pages these ids without
 * running the filters again, and reads only the page's rows (still through
 * the query's filters). Copied; any order, repeats dropped. Only with a
 * depth (never for an export). MZ_OK or MZ_ERR_NOMEM. */
int mz_query_set_ids(struct mz_query *q, const int64_t *ids, size_t n);

/* Entity flags. */
enum {
    MZ_E_NO_DELETE = 1 << 0,   /* no DELETE endpoint */
    MZ_E_NO_IMPORT = 1 << 1,
    MZ_E_NO_CREATE = 1 << 2,   /* rows come from hooks/workflows only */
    MZ_E_READONLY = 1 << 3,    /* no write endpoints at all */
    MZ_E_CITIZEN = 1 << 4,     /* citizens may create and act on their own rows (the
                                * citizen role's writes reach no other entity) */
    MZ_E_ATTACHMENTS = 1 << 5, /* records take attachments (scans; src/modules/workbench) */
    MZ_E_IMPORT_BULK = 1 << 6, /* a large mode=all import on SQLite may drop the table's
                                * non-unique indexes and build them again at its end, and
                                * an import remembers dictionary and division answers
                                * (src/engine/io.c): only for entities whose hooks never
                                * look their own table up through those indexes nor write
                                * dictionaries or divisions */
};

struct mz_entity {
    const char *name;          /* URL and table name: persons -> /api/v1/persons */
    const char *zh, *en;
    const struct mz_field *fields;
    size_t nfields;
    unsigned flags;
    const struct mz_hooks *hooks;
    const struct mz_workflow *workflow;  /* adds a `state` column and actions */
    const char *title_field;   /* the field that names a row in lists and references */
    const char *default_sort;  /* e.g. "-id" */
    const char *permission;    /* prefix for permissions, default: the name */
    /* A permission every create, update and delete needs besides
     * <prefix>.<action> (configuration only the city level maintains, e.g.
     * "assistance_standards.configure"); NULL: none. */
    const char *write_permission;
};

/* --- workflow --------------------------------------------------------------- */
struct mz_wf_state {
    const char *name;      /* stored in the `state` column */
    const char *zh, *en;
    int deadline_days;     /* 0: none; else a due date is set on entry */
    bool final;
};

/* A guard decides whether the transition may happen (0, or a status after
 * mz_fail); an effect does its work inside the same transaction. */
struct mz_transition {
    const char *from;      /* state name, or "*" for any non-final state */
    const char *action;    /* URL segment: /actions/<action> */
    const char *to;
    const char *zh, *en;
    const char *permission;/* NULL: "<entity>.<action>" */
    int (*guard)(struct mz_write *w);
    int (*effect)(struct mz_write *w);
    bool comment_required;
};

struct mz_workflow {
    const char *name;
    const char *initial;   /* state of a new row */
    const struct mz_wf_state *states;
    size_t nstates;
    const struct mz_transition *transitions;
    size_t ntransitions;
};

/* --- modules ---------------------------------------------------------------- */
struct mz_menu {
    const char *key;       /* "assistance/cases" */
    const char *zh, *en;
    const char *entity;    /* the entity it lists, or NULL with a route */
    const char *route;     /* the web route for a custom screen */
    const char *permission;
};

struct mz_job {
    const char *name;
    int interval_seconds;
    int (*run)(struct mz_app *app, struct mz_db *db);
};

struct mz_dict_item {
    const char *code;
    const char *zh, *en;
};

struct mz_dict {
    const char *name;      /* "sex" */
    const char *zh, *en;
    const char *standard;  /* "GB/T 2261.1-2003" */
    const struct mz_dict_item *items;
    size_t nitems;
};

struct mz_module {
    const char *name;      /* "registry" */
    const char *zh, *en;
    const struct mz_entity *const *entities;
    size_t nentities;
    const struct mz_route *routes;
    size_t nroutes;
    const struct mz_menu *menus;
    size_t nmenus;
    const struct mz_migration *migrations;  /* hand-written steps beyond the entities */
    size_t nmigrations;
    const struct mz_job *jobs;
    size_t njobs;
    const struct mz_dict *const *dicts;
    size_t ndicts;
    /* Called once at start-up (after migrations) to check or prepare things. */
    int (*init)(struct mz_app *app, struct mz_db *db);
    /* Called by `minzheng rekey` inside its transaction, after every declared
     * sensitive field was re-sealed, with the new key version current: re-seal
     * or re-index what the module keeps outside declared fields (blind keys in
     * undeclared columns, sealed blobs). *values counts what it changed. */
    int (*rekey)(struct mz_app *app, struct mz_db *db, long *values);
};

/* --- the application -------------------------------------------------------- */
struct mz_app {
    const char *db_spec;        /* file path or PostgreSQL conninfo */
    const struct mz_module *const *modules;
    size_t nmodules;
    struct mz_router *router;
    const char *web_root;
    /* Fast lookup filled by mz_app_init. */
    const struct mz_entity **entities;
    size_t nentities;
    const struct mz_entity **entity_by_name; /* the entities sorted by name (mz_app_entity) */
    const struct mz_dict **dicts;
    size_t ndicts;
    struct mz_entity_rt *rt;    /* per-entity runtime data (SQL text), same order */
    /* Access-control hooks (the auth module sets them; NULL allows all). */
    bool (*may)(struct mz_req *req, const char *permission);
    /* The caller's scope as a division code (6/9/12 digits), NULL for all. */
    const char *(*scope)(struct mz_req *req);
    /* For callers who may see only their own rows (citizens): the name their
     * rows carry in created_by; NULL for everyone else. Applied by the engine
     * to every get, list, count, export, update, delete and action. */
    const char *(*owner)(struct mz_req *req);
    /* Record an audit event (the audit module sets it; NULL records nothing).
     * action: "create", "update", "delete", "export", "import", "view_sensitive"
     * or a workflow action; object: the entity name; id 0 when none; detail may
     * be NULL (borrowed). Called inside the request's transaction for writes. */
    int (*audit)(struct mz_req *req, const char *action, const char *object, int64_t id,
                 bool success, json_t *detail);
    /* The same with detail already dumped by the caller (detail_text is
     * mz_json_dump(detail), so it is not dumped twice when the caller wrote
     * it elsewhere too: the history row). NULL: app->audit is called. */
    int (*audit_text)(struct mz_req *req, const char *action, const char *object, int64_t id,
                      bool success, json_t *detail, const char *detail_text);
    /* The end of an import whose rows were audited while req->importing:
     * keep writes what the audit module still holds of them, else it is
     * dropped. 0 or a status after mz_fail(). NULL: nothing held. */
    int (*audit_import_end)(struct mz_req *req, bool keep);
    /* Dictionaries administrators edit at run time (the registry sets both in
     * its init; NULL: the declared C tables only). dict_has: is code an item
     * of dict in force today? dict_items: dict's items in force as a JSON
     * array of {"code","zh","en"} (new reference), or NULL when the database
     * holds no items of dict (the declared table is used then). */
    bool (*dict_has)(struct mz_req *req, const char *dict, const char *code);
    json_t *(*dict_items)(struct mz_req *req, const char *dict);
};

/* Call app->audit if set; returns its status (0 when none). */
int mz_audit(struct mz_req *req, const char *action, const char *object, int64_t id,
             bool success, json_t *detail);
/* The same with detail's text as mz_json_dump(detail) made it (app->audit_text). */
int mz_audit_text(struct mz_req *req, const char *action, const char *object, int64_t id,
                  bool success, json_t *detail, const char *detail_text);

/* True if the caller holds permission (always true until access control is set). */
bool mz_req_may(struct mz_req *req, const char *permission);

/* The built-in module list (src/modules/modules.def) plus extras (tests). */
extern const struct mz_module *const mz_builtin_modules[];
extern const size_t mz_builtin_module_count;

/* Build the lookup tables and router from the modules. Does not touch the db. */
int mz_app_init(struct mz_app *app, const char *db_spec, const struct mz_module *const *extra,
                size_t nextra);
void mz_app_free(struct mz_app *app);
/* Create or migrate the database: engine tables, each entity's table and
 * indexes (added columns too), then each module's numbered steps. Idempotent. */
int mz_app_migrate(struct mz_app *app, struct mz_db *db, int *applied);

const struct mz_entity *mz_app_entity(const struct mz_app *app, const char *name);
const struct mz_dict *mz_app_dict(const struct mz_app *app, const char *name);
const struct mz_field *mz_entity_field(const struct mz_entity *e, const char *name);

/* --- engine operations (used by routes, importers, modules) ----------------- */
/* Add a field error to an errors array. */
void mz_errors_add(json_t *errors, const char *field, const char *code, const char *message);

/* Validate and normalise one field value (JSON) into *out (new reference).
 * Returns MZ_OK or MZ_ERR_INVALID with code/message set (static strings). */
int mz_field_normalise(const struct mz_app *app, const struct mz_field *f, json_t *value,
                       json_t **out, const char **code, const char **message);
/* The same for a request: dictionary codes are checked through
 * app->dict_has (the edited dictionaries) when it is set. */
int mz_field_normalise_req(struct mz_req *req, const struct mz_field *f, json_t *value,
                           json_t **out, const char **code, const char **message);

/* Create / update / delete through the engine (validation, hooks, history,
 * scope). The caller holds a write transaction. On failure the request holds
 * the error (mz_fail) and the return is a status >= 400; on success the new
 * row is returned in *row_out (may be NULL) and 0. */
int mz_entity_create(struct mz_req *req, const struct mz_entity *e, json_t *input,
                     json_t **row_out);
int mz_entity_update(struct mz_req *req, const struct mz_entity *e, int64_t id, json_t *input,
                     int64_t expected_version, json_t **row_out);
int mz_entity_delete(struct mz_req *req, const struct mz_entity *e, int64_t id,
                     int64_t expected_version);
/* Fetch one row as JSON (NULL and 404 recorded if absent or out of scope). */
json_t *mz_entity_get(struct mz_req *req, const struct mz_entity *e, int64_t id);
/* Run a workflow action on a row. */
int mz_entity_act(struct mz_req *req, const struct mz_entity *e, int64_t id, const char *action,
                  const char *comment, json_t **row_out);

/* Sensitive fields are stored sealed (mz/crypto.h) in their column, with an
 * exact-match blind index in the column "<field>_bidx". For a normalised value
 * of such a field, the text to compare with that column (arena-owned). */
const char *mz_field_blind(struct mz_req *req, const struct mz_entity *e,
                           const struct mz_field *f, const char *value);

/* The routes every entity gets (registered by mz_app_init). */
extern const struct mz_route mz_engine_routes[];
extern const size_t mz_engine_route_count;

/* The /openapi.json document (/meta is written by its route, src/engine/meta.c). */
json_t *mz_openapi_document(const struct mz_app *app);

/* --- shared per-minute counters (src/engine/ratelimit.c) -------------------- */
/* Count one hit of key in minute (unix seconds / 60) in the table every
 * server of the database shares; *hits gets that minute's count including
 * this hit. mz_rate_hits() only reads it (0 when none). */
int mz_rate_hit(struct mz_db *db, const char *key, int64_t minute, int64_t *hits);
int mz_rate_hits(struct mz_db *db, const char *key, int64_t minute, int64_t *hits);

/* --- scheduled jobs (src/engine/jobs.c) ------------------------------------- */
/* Start one thread, on its own connection, that runs every module's jobs
 * (struct mz_job) at their intervals, coordinated with the other servers of
 * the database through lease rows (mz_job_leases): each interval of a job
 * runs on one server only. */
int mz_jobs_start(struct mz_app *app);
/* Stop it: wait for a running job, close the connection. Idempotent. */
void mz_jobs_stop(void);
/* The lease rows: [{name, holder, due_at, runs, started_at, finished_at,
 * last_ok}] (unix seconds; null where never run). */
json_t *mz_jobs_leases(struct mz_db *db);

#endif
