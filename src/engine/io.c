/* io.c - import of CSV and XLSX files into a declared entity.
 *
 * The body of POST /api/v1/<entity>/import is the file itself. It is spooled to
 * a temporary file and read row by row (mz_table_*), so memory stays flat for
 * large files. The header row maps columns to fields by name, Chinese label or
 * one of the field's aliases; a dictionary cell may hold a code or a label
 * (男, 汉族), turned into the code.
 * Each data row is validated exactly as an API create (same code path:
 * mz_entity_create_collect), and a failing row leaves no trace. mode=all
 * (default) imports nothing if any row fails: the request's transaction is
 * rolled back by the dispatcher. mode=valid keeps the good rows. The report
 * names every failing row (as the spreadsheet numbers it) and field.
 *
 * Cost of a large file (a million persons): the route spools the body to a
 * file as it arrives (MZ_ROUTE_SPOOL), each row's scratch memory comes from
 * an arena reset after the row, and rows are not each wrapped in a SAVEPOINT
 * (a savepoint per row costs three statements, copies every page the row
 * touches to the sub-journal and makes FTS5 flush its pending terms into a
 * new segment for every row). Almost every failing row fails before it
 * writes anything (validation, or a unique constraint, which SQLite undoes
 * by itself); a row that fails after writing (a hook refusing it late) is
 * seen by the connection's change counter. Then:
 *  - mode=valid (and dry runs): rows are written under one savepoint per
 *    batch of IMPORT_BATCH rows; the batch is rolled back to its savepoint
 *    and its good rows are written again, so the failed row leaves nothing;
 *  - mode=all: no savepoint at all while every row succeeds; at the first
 *    row that fails after writing, the import is started again from the
 *    top of the file in a new transaction (nothing else was written in the
 *    request's transaction) with the batches above, so the report is the
 *    same as if every row had had its own savepoint.
 * Where the backend has no change counter (PostgreSQL) every row keeps its
 * own savepoint. A helper thread reads the rows ahead and prepares what
 * needs no database (see "the helper thread" below). On SQLite the import's
 * connection gets a page cache of IMPORT_CACHE_KB for the duration (put
 * back after): a row touches random pages of several indexes (the blind
 * indexes, the search keys, the division indexes), and past a few hundred
 * thousand rows the worker's 16 MB cache made every row read and spill
 * pages (at 1,000,000 persons the indexes a row touches are ~300 MB).
 * For an entity declared MZ_E_IMPORT_BULK (persons): a large mode=all import
 * on SQLite drops the table's non-unique indexes once it has written
 * DEFER_ROWS rows (and a quarter of what the table held) and builds them
 * again at its end ("non-unique indexes built once at the end" below); the
 * rows leave their unique checks to the INSERT's unique index
 * (src/engine/entity.c, later_unique); and the dictionary and division
 * answers are remembered for the import (mz_import_memo_get).
 * Tested by tests/api/io.test.mjs, tests/api/registry.test.mjs and
 * tests/unit/test_engine.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "mz/crypto.h"
#include "mz/table.h"

#define IMPORT_MAX_ERRORS 1000
#define IMPORT_BATCH 32 /* rows per savepoint (see above) */
#define IMPORT_CACHE_KB (256 * 1024) /* SQLite page cache while importing */

/* Columns that exports write and imports ignore. */
static bool ignored_column(const char *name)
{
    static const char *const names[] = {"id", "version", "state", "state_due", "created_at",
                                        "updated_at"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* Trim ASCII spaces in place (header cells). */
static const char *trim(struct mz_arena *a, const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return mz_arena_strndup(a, s, n);
}

/* Is name one of the "|"-separated aliases? */
static bool alias_match(const char *aliases, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = aliases; p && *p;) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* For an MZ_T_DICT column: an object mapping each item's code, zh and en
 * label to its code (codes win over a label spelled like another code), so
 * cells may hold 男 or 汉族 as staff write them. The items are the app's
 * dictionary as edited (app->dict_items) or else the declared table. */
static json_t *dict_labels(struct mz_req *req, const struct mz_field *f)
{
    json_t *map = json_object();
    json_t *items = req->app->dict_items ? req->app->dict_items(req, f->dict) : NULL;
    if (items == NULL) {
        const struct mz_dict *d = mz_app_dict(req->app, f->dict);
        items = json_array();
        for (size_t i = 0; d && i < d->nitems; i++)
            json_array_append_new(items, json_pack("{s:s,s:s?,s:s?}", "code", d->items[i].code,
                                                   "zh", d->items[i].zh, "en", d->items[i].en));
    }
    size_t i;
    json_t *x;
    json_array_foreach(items, i, x) {
        json_t *code = json_object_get(x, "code");
        const char *zh = json_string_value(json_object_get(x, "zh"));
        const char *en = json_string_value(json_object_get(x, "en"));
        if (zh && *zh)
            json_object_set(map, zh, code);
        if (en && *en)
            json_object_set(map, en, code);
    }
    json_array_foreach(items, i, x) {
        json_t *code = json_object_get(x, "code");
        if (json_is_string(code))
            json_object_set(map, json_string_value(code), code);
    }
    json_decref(items);
    return map;
}

/* A cell's text as the JSON value the field expects, or NULL with *reason.
 * labels (dictionary columns, from dict_labels) turns a label into its code;
 * a cell that is neither is passed on for validation to reject. */
static json_t *cell_value(const struct mz_field *f, const json_t *labels, const char *cell,
                          const char **reason)
{
    switch (f->type) {
    case MZ_T_INT:
    case MZ_T_MONEY:
    case MZ_T_REF: {
        char *end;
        errno = 0;
        long long v = strtoll(cell, &end, 10);
        if (errno != 0 || *end != '\0' || end == cell) {
            *reason = f->type == MZ_T_MONEY ? "金额应为整数（单位：分）" : "应为整数";
            return NULL;
        }
        return json_integer(v);
    }
    case MZ_T_BOOL:
        if (strcmp(cell, "true") == 0 || strcmp(cell, "1") == 0 || strcmp(cell, "是") == 0 ||
            strcmp(cell, "TRUE") == 0)
            return json_true();
        if (strcmp(cell, "false") == 0 || strcmp(cell, "0") == 0 || strcmp(cell, "否") == 0 ||
            strcmp(cell, "FALSE") == 0)
            return json_false();
        *reason = "应为 true/false（或 是/否）";
        return NULL;
    case MZ_T_JSON: {
        json_t *v = json_loads(cell, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (v == NULL)
            *reason = "不是有效的 JSON";
        return v;
    }
    case MZ_T_DICT: {
        json_t *code = labels ? json_object_get(labels, cell) : NULL;
        return code ? json_incref(code) : mz_json_str(cell);
    }
    default:
        return mz_json_str(cell);
    }
}

/* Where a row's error points: the file's column header and the cell as
 * written (personal data masked), for the error report. */
struct cell_ref {
    const char *column;
    const char *value;
};

/* Add an import error for a row. */
static void report_error(json_t *errors, long row, const char *field, const char *code,
                         const char *message, const struct cell_ref *ref)
{
    if (json_array_size(errors) >= IMPORT_MAX_ERRORS)
        return;
    json_t *e = json_object();
    json_object_set_new(e, "row", json_integer(row));
    json_object_set_new(e, "field", mz_json_str(field));
    json_object_set_new(e, "code", mz_json_str(code));
    json_object_set_new(e, "message", mz_json_str(message));
    if (ref && ref->column)
        json_object_set_new(e, "column", mz_json_str(ref->column));
    if (ref && ref->value)
        json_object_set_new(e, "value", mz_json_str(ref->value));
    json_array_append_new(errors, e);
}

/* The column of field f in this file and its cell in this row. */
static struct cell_ref cell_of(struct mz_arena *a, const struct mz_field *const *map,
                               const char *const *heads, size_t ncols, const char *const *cells,
                               size_t ncells, const char *field)
{
    struct cell_ref ref = {NULL, NULL};
    for (size_t i = 0; field && i < ncols; i++) {
        if (map[i] == NULL || strcmp(map[i]->name, field) != 0)
            continue;
        ref.column = heads[i];
        const char *v = i < ncells && cells[i] ? cells[i] : "";
        if (map[i]->flags & MZ_F_SENSITIVE) {
            size_t n = strlen(v);
            v = n > 6 ? mz_arena_printf(a, "%.3s***%s", v, v + n - 2) : (n ? "***" : "");
        } else if (strlen(v) > 200) {
            v = mz_arena_printf(a, "%.200s…", v);
        }
        ref.value = mz_arena_strdup(a, v);
        break;
    }
    return ref;
}

/* The errors as an Excel sheet (行号, 列, 字段, 单元格内容, 错误原因): the
 * reply, a file download. */
static int reply_error_report(struct mz_req *req, const struct mz_entity *e, json_t *errors)
{
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-report-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return mz_fail(req, 500, "internal", "无法生成错误报告");
    close(fd);
    struct mz_table_writer *w = NULL;
    int rc = mz_table_writer_open(path, MZ_TABLE_XLSX, "导入错误报告", &w);
    static const char *const head[] = {"行号", "列", "字段", "单元格内容", "错误原因", "错误代码"};
    if (rc == MZ_OK)
        rc = mz_table_write_row(w, head, NULL, 6);
    size_t i;
    json_t *x;
    json_array_foreach(errors, i, x) {
        if (rc != MZ_OK)
            break;
        const char *field = json_string_value(json_object_get(x, "field"));
        const struct mz_field *f = field ? mz_entity_field(e, field) : NULL;
        const char *cells[6] = {
            mz_arena_printf(req->arena, "%lld", (long long)json_integer_value(json_object_get(x, "row"))),
            json_string_value(json_object_get(x, "column")),
            f ? f->zh : field,
            json_string_value(json_object_get(x, "value")),
            json_string_value(json_object_get(x, "message")),
            json_string_value(json_object_get(x, "code")),
        };
        rc = mz_table_write_row(w, cells, "nsssss", 6);
    }
    int crc = w ? mz_table_writer_close(w) : MZ_ERR_IO;
    fd = rc == MZ_OK && crc == MZ_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    unlink(path);
    if (fd < 0)
        return mz_fail(req, 500, "internal", "无法生成错误报告");
    return mz_reply_file(req, 200,
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", fd,
                         mz_arena_printf(req->arena, "%s-import-errors.xlsx", e->name));
}

/* Rows written since the batch savepoint: their inputs, to write them again
 * if a later row of the batch fails after writing. */
struct import_batch {
    json_t *inputs; /* array */
    bool open;      /* SAVEPOINT mz_import_batch is open */
    bool per_row;   /* no change counter: one savepoint per row */
    bool direct;    /* mode=all: no savepoints, start again on a late failure */
};

#define IMPORT_RESTART (-2) /* import_row: start again with batches (mode=all) */

/* Leave the direct mode (req->importing): the entity's import_done hook
 * keeps or drops what its after_write put off. 0 or a status. */
static int import_finish(struct mz_req *req, const struct mz_entity *e, bool keep)
{
    if (!req->importing)
        return 0;
    /* The rows' audit events the audit module still holds (written before
     * anything else is appended, or dropped with the transaction). */
    int st = req->app->audit_import_end ? req->app->audit_import_end(req, keep) : 0;
    req->importing = false;
    int done = e->hooks && e->hooks->import_done ? e->hooks->import_done(req, e, keep) : 0;
    return st ? st : done;
}

/* Close the batch's savepoint (its rows stay). */
static int batch_release(struct mz_req *req, struct import_batch *b)
{
    json_array_clear(b->inputs);
    if (!b->open)
        return MZ_OK;
    b->open = false;
    return mz_db_exec(req->db, "RELEASE mz_import_batch");
}

/* Import one row (input) as an API create, leaving no trace when it fails.
 * Returns 0 (written), 422 with row_errors filled, or another status after
 * recording a failure of the database (the import stops). */
static int import_row(struct mz_req *req, const struct mz_entity *e, json_t *input,
                      json_t *row_errors, struct import_batch *b)
{
    int rc;
    if (b->per_row) {
        if ((rc = mz_db_exec(req->db, "SAVEPOINT mz_import_row")) != MZ_OK)
            return mz_fail_err(req, rc);
        int st = mz_entity_create_collect(req, e, input, row_errors, NULL);
        if (st == 0) {
            rc = mz_db_exec(req->db, "RELEASE mz_import_row");
        } else {
            rc = mz_db_exec(req->db, "ROLLBACK TO mz_import_row");
            if (rc == MZ_OK)
                rc = mz_db_exec(req->db, "RELEASE mz_import_row");
        }
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
        return st;
    }
    if (b->direct) {
        int64_t changes = mz_db_total_changes(req->db);
        int st = mz_entity_create_collect(req, e, input, row_errors, NULL);
        if (st == 422 && !req->failed && mz_db_total_changes(req->db) != changes)
            return IMPORT_RESTART;
        return st;
    }
    if (!b->open) {
        if ((rc = mz_db_exec(req->db, "SAVEPOINT mz_import_batch")) != MZ_OK)
            return mz_fail_err(req, rc);
        b->open = true;
    }
    int64_t changes = mz_db_total_changes(req->db);
    int st = mz_entity_create_collect(req, e, input, row_errors, NULL);
    if (st == 0) {
        json_array_append(b->inputs, input);
        if (json_array_size(b->inputs) >= IMPORT_BATCH && (rc = batch_release(req, b)) != MZ_OK)
            return mz_fail_err(req, rc);
        return 0;
    }
    if (st != 422 || req->failed || mz_db_total_changes(req->db) == changes)
        return st;
    /* The row wrote something before it failed: undo the batch and write
     * its good rows again. They passed a moment ago on the same data. */
    if ((rc = mz_db_exec(req->db, "ROLLBACK TO mz_import_batch")) != MZ_OK)
        return mz_fail_err(req, rc);
    size_t i;
    json_t *x;
    json_array_foreach(b->inputs, i, x) {
        json_t *again = json_array();
        int st2 = mz_entity_create_collect(req, e, x, again, NULL);
        json_decref(again);
        if (st2 != 0) {
            mz_error("import: a row of the batch failed when written again (%d)", st2);
            return req->failed ? req->status : mz_fail_err(req, MZ_ERR_INTERNAL);
        }
    }
    return st;
}

/* --- the helper thread ---------------------------------------------------------
 * Reading the file, sealing the sensitive cells (AEAD with a fresh nonce, and
 * the blind index) and the entity's import_prepare (persons: the search terms,
 * pinyin) need no database: a helper thread does them for the rows ahead while
 * the request's thread writes, PRE_QUEUE batches of PRE_BATCH rows at most
 * (bounded memory). The writer uses a prepared value only where it is the
 * row's own (mz_bind_field, mz_field_blind compare the normalised text), so
 * the stored rows are those of an API create. */
#define PRE_BATCH 256
#define PRE_QUEUE 4

struct pre_row {
    long rowno;
    const char *const *cells;
    size_t ncells;
    struct mz_import_pre pre;
};

struct pre_batch {
    struct mz_arena *arena; /* everything of the batch's rows */
    struct pre_row rows[PRE_BATCH];
    size_t n;
    int end;            /* after these rows: 0 more, 1 end of file, -1 unreadable */
    const char *reason; /* end -1: why */
    struct pre_batch *next;
};

struct prefetch {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pre_batch *head, *tail; /* ready, in file order */
    size_t queued;
    bool stop, started;
    /* set before the thread starts, read-only after */
    const char *path;
    enum mz_table_format fmt;
    const struct mz_app *app;
    const struct mz_entity *e;
    const struct mz_field *const *map;
    size_t ncols;
    /* the writer's */
    struct pre_batch *cur;
    size_t pos;
};

/* Context of the import_prepare hook's cell(): one row. */
struct pre_cells {
    const struct prefetch *p;
    const char *const *cells;
    size_t ncells;
};

static const char *pre_cell(void *ctx, const char *field)
{
    const struct pre_cells *c = ctx;
    for (size_t i = 0; i < c->p->ncols && i < c->ncells; i++) {
        if (c->p->map[i] && strcmp(c->p->map[i]->name, field) == 0)
            return c->cells[i] && c->cells[i][0] ? c->cells[i] : NULL;
    }
    return NULL;
}

/* Prepare one row of a batch: copy its cells, seal its sensitive ones, run
 * the entity's hook. */
static void pre_row_fill(const struct prefetch *p, struct pre_batch *b, long rowno,
                         const char *const *cells, size_t ncells)
{
    struct pre_row *row = &b->rows[b->n++];
    const char **copy = mz_arena_calloc(b->arena, ncells ? ncells : 1, sizeof(*copy));
    struct mz_import_sealed *sealed = mz_arena_calloc(b->arena, p->ncols ? p->ncols : 1,
                                                      sizeof(*sealed));
    size_t nsealed = 0;
    for (size_t i = 0; i < ncells; i++)
        copy[i] = cells[i] ? mz_arena_strdup(b->arena, cells[i]) : NULL;
    for (size_t i = 0; i < p->ncols && i < ncells; i++) {
        const struct mz_field *f = p->map[i];
        if (f == NULL || !mz_field_sealed(f) || copy[i] == NULL || copy[i][0] == '\0')
            continue;
        json_t *v = mz_json_str(copy[i]), *norm = NULL;
        const char *code, *message;
        if (mz_field_normalise(p->app, f, v, &norm, &code, &message) == MZ_OK &&
            json_is_string(norm)) {
            const char *text = mz_value_text(b->arena, f, norm);
            const char *ctx = mz_arena_printf(b->arena, "%s.%s", p->e->name, f->name);
            char *blind = mz_arena_alloc(b->arena, 33);
            mz_crypto_blind(ctx, text, strlen(text), blind);
            sealed[nsealed++] = (struct mz_import_sealed){
                f, text, mz_crypto_seal(b->arena, ctx, text, strlen(text)), blind};
        }
        json_decref(norm);
        json_decref(v);
    }
    struct pre_cells c = {p, copy, ncells};
    row->rowno = rowno;
    row->cells = copy;
    row->ncells = ncells;
    row->pre = (struct mz_import_pre){sealed, nsealed, NULL};
    if (p->e->hooks && p->e->hooks->import_prepare)
        row->pre.hook = p->e->hooks->import_prepare(b->arena, p->app, p->e, pre_cell, &c);
}

/* Hand a batch to the writer; false when told to stop (b is freed). */
static bool pre_push(struct prefetch *p, struct pre_batch *b)
{
    pthread_mutex_lock(&p->lock);
    while (p->queued >= PRE_QUEUE && !p->stop)
        pthread_cond_wait(&p->cond, &p->lock);
    bool stop = p->stop;
    if (!stop) {
        if (p->tail)
            p->tail->next = b;
        else
            p->head = b;
        p->tail = b;
        p->queued++;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    if (stop) {
        mz_arena_free(b->arena);
        free(b);
    }
    return !stop;
}

static void *pre_main(void *arg)
{
    struct prefetch *p = arg;
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    const char *const *cells;
    size_t ncells;
    long rowno = 0;
    int rc = mz_table_open(p->path, p->fmt, &r, &reason);
    if (rc == MZ_OK)
        rc = mz_table_next(r, &cells, &ncells, &rowno, &reason) > 0 ? MZ_OK : MZ_ERR_IO;
    for (;;) {
        struct pre_batch *b = mz_xcalloc(1, sizeof(*b));
        b->arena = mz_arena_new();
        if (rc != MZ_OK) {
            b->end = -1;
        }
        while (b->end == 0 && b->n < PRE_BATCH) {
            int got = mz_table_next(r, &cells, &ncells, &rowno, &reason);
            if (got > 0)
                pre_row_fill(p, b, rowno, cells, ncells);
            else
                b->end = got == 0 ? 1 : -1;
        }
        if (b->end < 0)
            b->reason = reason ? mz_arena_strdup(b->arena, reason) : NULL;
        int end = b->end;
        if (!pre_push(p, b) || end != 0)
            break;
    }
    if (r)
        mz_table_close(r);
    return NULL;
}

/* Start the helper on the file (its header row is skipped). */
static int pre_start(struct prefetch *p)
{
    p->head = p->tail = p->cur = NULL;
    p->queued = p->pos = 0;
    p->stop = false;
    if (pthread_create(&p->thread, NULL, pre_main, p) != 0)
        return MZ_ERR_INTERNAL;
    p->started = true;
    return MZ_OK;
}

/* Stop the helper and free what it prepared. Idempotent. */
static void pre_stop(struct prefetch *p)
{
    if (!p->started)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->started = false;
    if (p->cur) {
        mz_arena_free(p->cur->arena);
        free(p->cur);
    }
    for (struct pre_batch *b = p->head, *next; b; b = next) {
        next = b->next;
        mz_arena_free(b->arena);
        free(b);
    }
    p->head = p->tail = p->cur = NULL;
    p->queued = 0;
}

/* The next row as mz_table_next gives it (1, 0 at the end, -1 with
 * *reason), and what was prepared for it. */
static int pre_next(struct prefetch *p, const char *const **cells, size_t *ncells, long *rowno,
                    const char **reason, const struct mz_import_pre **pre)
{
    for (;;) {
        if (p->cur && p->pos < p->cur->n) {
            struct pre_row *row = &p->cur->rows[p->pos++];
            *cells = row->cells;
            *ncells = row->ncells;
            *rowno = row->rowno;
            *pre = &row->pre;
            return 1;
        }
        if (p->cur && p->cur->end != 0) {
            *reason = p->cur->reason;
            return p->cur->end > 0 ? 0 : -1;
        }
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL)
            pthread_cond_wait(&p->cond, &p->lock);
        struct pre_batch *b = p->head;
        p->head = b->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        if (p->cur) {
            mz_arena_free(p->cur->arena);
            free(p->cur);
        }
        p->cur = b;
        p->pos = 0;
    }
}

/* --- non-unique indexes built once at the end ---------------------------------
 * An entity declared MZ_E_IMPORT_BULK (persons) has indexes whose keys are
 * random (blind indexes, names, divisions): a row inserted into a large
 * table costs a seek into each of them, on pages that no cache keeps. A
 * mode=all import on SQLite that has written DEFER_ROWS rows, and at least
 * a quarter as many as the table held before it, drops the table's
 * non-unique indexes and creates them again from their own SQL once the
 * rows are written (one sorted pass each, in the same transaction). The
 * unique indexes stay: they answer the duplicate checks. A small import
 * into a large table never drops anything (rebuilding would cost more than
 * it saves). If the import fails, the request's transaction is rolled back
 * and the indexes with it. */
#define DEFER_ROWS 16384

/* DEFER_ROWS, or with MZ_TEST_CLOCK=1 (tests only) MZ_TEST_IMPORT_DEFER_ROWS,
 * so that a test file of a few rows reaches the point. */
static long defer_rows(void)
{
    const char *clock = getenv("MZ_TEST_CLOCK"), *n = getenv("MZ_TEST_IMPORT_DEFER_ROWS");
    long v = clock && strcmp(clock, "1") == 0 && n ? strtol(n, NULL, 10) : 0;
    return v > 0 ? v : DEFER_ROWS;
}

/* Worker threads of SQLite's sorter while the indexes are built (PRAGMA
 * threads, as the demo load builds its own): the helper thread has finished
 * by then, so the other core sorts and merges the runs while the request's
 * thread scans the table and writes the index. */
#define SORT_THREADS "2"

struct deferred_indexes {
    bool on;             /* this import may drop them (SQLite, mode=all, direct) */
    long every;          /* rows between two looks (defer_rows) */
    int64_t rows_before; /* max(id) of the table when the import started */
    struct mz_db_indexes dropped; /* to create again */
};

/* Forget the dropped indexes (the transaction that dropped them is being
 * rolled back, which brings them back). */
static void deferred_forget(struct deferred_indexes *d)
{
    mz_db_indexes_free(&d->dropped);
}

/* Drop the entity's non-unique indexes when the import is large enough
 * (see above); called between rows. MZ_OK or an error. */
static int deferred_maybe_drop(struct mz_req *req, const struct mz_entity *e,
                               struct deferred_indexes *d, long imported)
{
    if (!d->on || imported % d->every != 0 ||
        (int64_t)imported * 4 < d->rows_before)
        return MZ_OK;
    d->on = false; /* once */
    int rc = mz_db_indexes_drop(req->db, &e->name, 1, false, &d->dropped);
    if (rc == MZ_OK)
        mz_info("import: %zu indexes of %s put off after %ld rows (%lld before)", d->dropped.n,
                e->name, imported, (long long)d->rows_before);
    return rc;
}

/* Create the dropped indexes again (the rows are kept). MZ_OK or an error.
 * As the demo load builds its own: a 2 MB page cache, and the sorter's runs
 * in temporary files sorted and merged by worker threads. The runs follow the
 * cache's size, and runs that fit the CPU caches, merged, sort faster than a
 * few large ones (with the connection's temp_store=MEMORY the sorter makes no
 * runs at all: one sort of every key on the request's thread). The
 * connection's own settings are set back after. */
static int deferred_restore(struct mz_req *req, const struct mz_entity *e,
                            struct deferred_indexes *d)
{
    int rc = MZ_OK;
    int64_t cache = 0, threads = 0, temp_store = 0;
    bool small = d->dropped.n > 0 &&
                 mz_db_query_int(req->db, "PRAGMA cache_size", &cache, 0, NULL) == MZ_OK &&
                 mz_db_exec(req->db, "PRAGMA cache_size=-2048") == MZ_OK;
    /* Sorts in temporary files (the connection's temp_store is MEMORY, with
     * which SQLite's sorter keeps every key in memory and sorts them on this
     * thread alone) on worker threads; only when the connection has no
     * temporary tables, since SQLite refuses to change temp_store inside a
     * transaction otherwise (then the builds go as before). */
    bool sorters = d->dropped.n > 0 &&
                   mz_db_query_int(req->db, "PRAGMA temp_store", &temp_store, 0, NULL) == MZ_OK &&
                   mz_db_query_int(req->db, "PRAGMA threads", &threads, 0, NULL) == MZ_OK &&
                   mz_db_exec(req->db, "PRAGMA temp_store=FILE") == MZ_OK;
    if (sorters && mz_db_exec(req->db, "PRAGMA threads=" SORT_THREADS) != MZ_OK)
        mz_warn("import: the sorter's threads were not set");
    for (size_t i = 0; rc == MZ_OK && i < d->dropped.n; i++)
        rc = mz_db_exec(req->db, d->dropped.sql[i]);
    if (sorters) {
        char sql[80];
        snprintf(sql, sizeof(sql), "PRAGMA threads=%lld; PRAGMA temp_store=%lld",
                 (long long)threads, (long long)temp_store);
        int set = mz_db_exec(req->db, sql);
        rc = rc == MZ_OK ? set : rc;
    }
    if (small) {
        char sql[48];
        snprintf(sql, sizeof(sql), "PRAGMA cache_size=%lld", (long long)cache);
        int set = mz_db_exec(req->db, sql);
        rc = rc == MZ_OK ? set : rc;
    }
    if (rc == MZ_OK && d->dropped.n > 0)
        mz_info("import: %zu indexes of %s built again", d->dropped.n, e->name);
    deferred_forget(d);
    return rc;
}

/* --- answers remembered for the rows (mz_import_memo_get) ----------------------- */
#define MEMO_SLOTS 65536 /* a power of two; half of it: distinct answers kept at most
                          * (a city has ~4,000 communities, ~300 dictionary codes) */

struct mz_import_memo {
    struct mz_arena *arena;
    char today[11];
    size_t n;
    struct memo_slot {
        const char *kind, *key; /* NULL: empty */
        bool value;
    } slots[MEMO_SLOTS];
};

static size_t memo_hash(const char *kind, const char *key)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (const char *s = kind; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    h = (h ^ 0xFF) * 0x100000001B3ull;
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (size_t)(h & (MEMO_SLOTS - 1));
}

/* The slot of (kind, key), or the empty one where it would go. */
static struct memo_slot *memo_find(struct mz_import_memo *m, const char *kind, const char *key)
{
    size_t j = memo_hash(kind, key);
    while (m->slots[j].key &&
           (strcmp(m->slots[j].kind, kind) != 0 || strcmp(m->slots[j].key, key) != 0))
        j = (j + 1) & (MEMO_SLOTS - 1);
    return &m->slots[j];
}

bool mz_import_memo_get(const struct mz_req *req, const char *kind, const char *key,
                        bool *value)
{
    if (req->import_memo == NULL || kind == NULL || key == NULL)
        return false;
    const struct memo_slot *s = memo_find(req->import_memo, kind, key);
    if (s->key == NULL)
        return false;
    *value = s->value;
    return true;
}

void mz_import_memo_put(struct mz_req *req, const char *kind, const char *key, bool value)
{
    struct mz_import_memo *m = req->import_memo;
    if (m == NULL || kind == NULL || key == NULL || (m->n + 1) * 2 > MEMO_SLOTS)
        return;
    struct memo_slot *s = memo_find(m, kind, key);
    if (s->key == NULL) {
        s->kind = mz_arena_strdup(m->arena, kind);
        s->key = mz_arena_strdup(m->arena, key);
        m->n++;
    }
    s->value = value;
}

/* Forget everything when the date changed (dictionary items and divisions
 * are in force by date). */
static void memo_check_date(struct mz_import_memo *m)
{
    char today[11];
    if (m == NULL)
        return;
    mz_today(today);
    if (strcmp(today, m->today) == 0)
        return;
    memcpy(m->today, today, sizeof(today));
    memset(m->slots, 0, sizeof(m->slots));
    m->n = 0;
}

static void memo_free(struct mz_import_memo *m)
{
    if (m == NULL)
        return;
    mz_arena_free(m->arena);
    free(m);
}

/* Spool the request body to a temporary file; its path or NULL. */
static char *spool_body(struct mz_req *req)
{
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-import-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    size_t off = 0;
    while (off < req->body_len) {
        ssize_t w = write(fd, req->body + off, req->body_len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            unlink(path);
            return NULL;
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

int mz_h_import(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    if (e->flags & (MZ_E_NO_IMPORT | MZ_E_NO_CREATE | MZ_E_READONLY))
        return mz_fail(req, 405, "method_not_allowed", "这类数据不能导入");
    const char *mode = mz_req_query(req, "mode");
    bool all_or_nothing = true;
    if (mode && strcmp(mode, "valid") == 0)
        all_or_nothing = false;
    else if (mode && strcmp(mode, "all") != 0)
        return mz_fail_field(req, 400, "bad_request", "导入方式应为 all（全部成功才导入）或 valid（只导入有效行）",
                             "mode");
    /* dry_run=1: check every row as an import would, then undo it all;
     * report=xlsx: reply with the errors as an Excel sheet (dry runs and
     * mode=valid, whose replies are not failures). */
    const char *dry = mz_req_query(req, "dry_run"), *report_fmt = mz_req_query(req, "report");
    bool dry_run = dry && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    if (dry && !dry_run && strcmp(dry, "0") != 0 && strcmp(dry, "false") != 0)
        return mz_fail_field(req, 400, "bad_request", "dry_run 应为 1 或 0", "dry_run");
    bool xlsx_report = report_fmt && strcmp(report_fmt, "xlsx") == 0;
    if (report_fmt && !xlsx_report && strcmp(report_fmt, "json") != 0)
        return mz_fail_field(req, 400, "bad_request", "report 应为 json 或 xlsx", "report");
    if (xlsx_report && all_or_nothing && !dry_run)
        return mz_fail_field(req, 400, "bad_request",
                             "Excel 错误报告请与 dry_run=1（只检查不导入）或 mode=valid 一起使用",
                             "report");
    if (req->body_len == 0)
        return mz_fail(req, 400, "bad_request", "没有收到导入文件");
    if (mz_rate_check(req, "import"))
        return req->status;
    const char *format = mz_req_query(req, "format");
    enum mz_table_format fmt = mz_table_sniff(req->body, req->body_len);
    if (format && strcmp(format, "csv") == 0)
        fmt = MZ_TABLE_CSV;
    else if (format && strcmp(format, "xlsx") == 0)
        fmt = MZ_TABLE_XLSX;
    else if (format)
        return mz_fail_field(req, 400, "bad_request", "文件格式应为 csv 或 xlsx", "format");

    /* The import route spools the body itself (MZ_ROUTE_SPOOL); a handler
     * reached with the body in memory writes it out. */
    char *path = req->body_file ? (char *)req->body_file : spool_body(req);
    if (path == NULL)
        return mz_fail(req, 500, "internal", "无法保存上传的文件");

    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    const char *const *cells;
    size_t ncells;
    long rowno = 0;
    int status = 0, rc;
    const struct mz_field **map = NULL;
    json_t **labels = NULL; /* per column: dictionary label -> code, or NULL */
    size_t ncols = 0;
    json_t *errors = json_array();
    long total = 0, imported = 0, failed = 0;
    struct mz_arena *req_arena = req->arena, *row_arena = mz_arena_new();
    struct import_batch batch = {json_array(), false, mz_db_total_changes(req->db) < 0, false};
    int64_t cache_size = 0; /* the connection's own, to put back (SQLite) */
    struct prefetch pf = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    const struct mz_import_pre *pre = NULL;
    struct deferred_indexes deferred = {0};

    if (mz_table_open(path, fmt, &r, &reason) != MZ_OK) {
        status = mz_fail(req, 422, "bad_file", reason ? reason : "无法读取文件");
        goto out;
    }
    rc = mz_table_next(r, &cells, &ncells, &rowno, &reason);
    if (rc < 0) {
        status = mz_fail(req, 422, "bad_file", reason ? reason : "无法读取文件");
        goto out;
    }
    if (rc == 0) {
        status = mz_fail(req, 422, "bad_file", "文件是空的，缺少表头行");
        goto out;
    }
    /* The header row. */
    ncols = ncells;
    map = mz_arena_calloc(req->arena, ncols ? ncols : 1, sizeof(*map));
    labels = mz_arena_calloc(req->arena, ncols ? ncols : 1, sizeof(*labels));
    const char **heads = mz_arena_calloc(req->arena, ncols ? ncols : 1, sizeof(*heads));
    for (size_t i = 0; i < ncols; i++) {
        const char *name = trim(req->arena, cells[i] ? cells[i] : "");
        heads[i] = name;
        if (*name == '\0' || ignored_column(name))
            continue;
        const struct mz_field *f = mz_entity_field(e, name);
        for (size_t j = 0; f == NULL && j < e->nfields; j++) {
            if (strcmp(e->fields[j].zh, name) == 0)
                f = &e->fields[j];
        }
        /* Then the other headers staff use for a field (struct mz_field.aliases). */
        for (size_t j = 0; f == NULL && j < e->nfields; j++) {
            if (alias_match(e->fields[j].aliases, name))
                f = &e->fields[j];
        }
        if (f != NULL && (f->flags & MZ_F_READONLY))
            continue; /* exported, set by the system: ignored like id and state */
        if (f == NULL) {
            status = mz_fail_field(req, 422, "unknown_column",
                                   mz_arena_printf(req->arena, "表头中的「%s」不是可导入的字段", name),
                                   name);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (map[j] == f) {
                status = mz_fail_field(req, 422, "duplicate_column",
                                       mz_arena_printf(req->arena, "表头中「%s」出现了两次", name),
                                       name);
                goto out;
            }
        }
        map[i] = f;
        if (f->type == MZ_T_DICT && f->dict)
            labels[i] = dict_labels(req, f);
    }
    if (dry_run && (rc = mz_db_exec(req->db, "SAVEPOINT mz_import_dry")) != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    if (mz_db_kind(req->db) == MZ_DB_SQLITE &&
        mz_db_query_int(req->db, "PRAGMA cache_size", &cache_size, 0, NULL) == MZ_OK &&
        cache_size != 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d", IMPORT_CACHE_KB);
        if (mz_db_exec(req->db, sql) != MZ_OK)
            cache_size = 0;
    }
    batch.direct = all_or_nothing && !dry_run && !batch.per_row && mz_db_in_transaction(req->db);
    req->importing = batch.direct;
    if (e->flags & MZ_E_IMPORT_BULK) {
        req->import_memo = mz_xcalloc(1, sizeof(*req->import_memo));
        req->import_memo->arena = mz_arena_new();
    }
    if (batch.direct && mz_db_kind(req->db) == MZ_DB_SQLITE && (e->flags & MZ_E_IMPORT_BULK)) {
        char *sql = mz_arena_printf(req->arena, "SELECT coalesce(max(id), 0) FROM %s", e->name);
        deferred.on = mz_db_query_int(req->db, sql, &deferred.rows_before, 0, NULL) == MZ_OK;
        deferred.every = defer_rows();
    }
    /* The rows come from the helper thread now (its own reader). */
    mz_table_close(r);
    r = NULL;
    pf.path = path;
    pf.fmt = fmt;
    pf.app = req->app;
    pf.e = e;
    pf.map = map;
    pf.ncols = ncols;
    if (pre_start(&pf) != MZ_OK) {
        status = mz_fail(req, 500, "internal", "无法启动导入线程");
        goto out;
    }
    /* The data rows; each takes its scratch memory from row_arena. */
    for (;;) {
        mz_arena_reset(row_arena);
        req->arena = row_arena;
        rc = pre_next(&pf, &cells, &ncells, &rowno, &reason, &pre);
        if (rc == 0)
            break;
        if (rc < 0) {
            status = mz_fail(req, 422, "bad_file", reason ? reason : "无法读取文件");
            goto out;
        }
        total++;
        memo_check_date(req->import_memo);
        json_t *input = json_object();
        bool row_ok = true;
        for (size_t i = 0; i < ncells && i < ncols; i++) {
            if (map[i] == NULL || cells[i] == NULL || cells[i][0] == '\0')
                continue;
            const char *why = NULL;
            json_t *v = cell_value(map[i], labels[i], cells[i], &why);
            if (v == NULL) {
                struct cell_ref ref = cell_of(req->arena, map, heads, ncols, cells, ncells,
                                              map[i]->name);
                report_error(errors, rowno, map[i]->name, "type", why, &ref);
                row_ok = false;
                continue;
            }
            json_object_set_new(input, map[i]->name, v);
        }
        for (size_t i = ncols; i < ncells; i++) {
            if (cells[i] && cells[i][0]) {
                report_error(errors, rowno, NULL, "extra_cell", "该行的单元格多于表头的列数",
                             NULL);
                row_ok = false;
                break;
            }
        }
        if (!row_ok) {
            failed++;
            json_decref(input);
            continue;
        }
        json_t *row_errors = json_array();
        req->import_pre = pre;
        int st = import_row(req, e, input, row_errors, &batch);
        req->import_pre = NULL;
        json_decref(input);
        if (st == IMPORT_RESTART) {
            /* A row failed after writing (mode=all): undo everything, read
             * the file again from the top, this time with batches. */
            json_decref(row_errors);
            pre_stop(&pf);
            batch.direct = false;
            deferred.on = false;
            deferred_forget(&deferred); /* the rollback below brings them back */
            import_finish(req, e, false);
            json_array_clear(errors);
            total = imported = failed = 0;
            if ((rc = mz_db_rollback(req->db)) != MZ_OK || (rc = mz_db_begin_write(req->db)) != MZ_OK) {
                status = mz_fail_err(req, rc == MZ_ERR_BUSY ? MZ_ERR_BUSY : MZ_ERR_INTERNAL);
                goto out;
            }
            if (pre_start(&pf) != MZ_OK) {
                status = mz_fail(req, 500, "internal", "无法重新读取导入文件");
                goto out;
            }
            continue;
        }
        if (st == 0) {
            imported++;
            /* (Not once a row failed: mode=all rolls everything back.) */
            if (failed == 0 && (rc = deferred_maybe_drop(req, e, &deferred, imported)) != MZ_OK) {
                json_decref(row_errors);
                status = mz_fail_err(req, rc);
                goto out;
            }
        } else {
            if (st != 422 || req->failed) {
                /* Not a row problem: the database failed. Abort. */
                json_decref(row_errors);
                status = req->failed ? req->status : mz_fail_err(req, MZ_ERR_DB);
                goto out;
            }
            failed++;
            size_t i;
            json_t *x;
            json_array_foreach(row_errors, i, x) {
                const char *field = json_string_value(json_object_get(x, "field"));
                struct cell_ref ref = cell_of(req->arena, map, heads, ncols, cells, ncells, field);
                report_error(errors, rowno, field, json_string_value(json_object_get(x, "code")),
                             json_string_value(json_object_get(x, "message")), &ref);
            }
        }
        json_decref(row_errors);
    }
    req->arena = req_arena;
    pre_stop(&pf);
    if ((rc = batch_release(req, &batch)) != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    /* What the rows' after_write put off first (persons: the last batch of
     * search keys, whose memory is then free while the indexes are built). */
    if ((status = import_finish(req, e, failed == 0)) != 0)
        goto out;
    /* mode=all with a failed row is rolled back (the dropped indexes with
     * it): nothing to finish. */
    if (failed == 0 && (rc = deferred_restore(req, e, &deferred)) != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }

    if (dry_run) {
        rc = mz_db_exec(req->db, "ROLLBACK TO mz_import_dry");
        if (rc == MZ_OK)
            rc = mz_db_exec(req->db, "RELEASE mz_import_dry");
        if (rc != MZ_OK) {
            status = mz_fail_err(req, rc);
            goto out;
        }
    }
    json_t *report = json_object();
    json_object_set_new(report, "mode", json_string(all_or_nothing ? "all" : "valid"));
    if (dry_run) {
        json_object_set_new(report, "dry_run", json_true());
        json_object_set_new(report, "would_import",
                            json_integer(all_or_nothing && failed ? 0 : imported));
        imported = 0;
    }
    json_object_set_new(report, "total", json_integer(total));
    json_object_set_new(report, "imported", json_integer(all_or_nothing && failed ? 0 : imported));
    json_object_set_new(report, "failed", json_integer(failed));
    json_object_set(report, "errors", errors);
    json_t *detail = json_pack("{s:s,s:I,s:I,s:I}", "mode", all_or_nothing ? "all" : "valid",
                               "total", (json_int_t)total, "imported",
                               (json_int_t)(all_or_nothing && failed ? 0 : imported), "failed",
                               (json_int_t)failed);
    int audited = mz_audit(req, dry_run ? "import_check" : "import", e->name, 0,
                           !(all_or_nothing && failed > 0), detail);
    json_decref(detail);
    if (audited != 0) {
        json_decref(report);
        status = req->failed ? req->status : mz_fail(req, 500, "internal", "审计记录失败");
        goto out;
    }
    if (xlsx_report) {
        json_decref(report);
        status = reply_error_report(req, e, errors);
        goto out;
    }
    if (all_or_nothing && failed > 0 && !dry_run) {
        json_t *first = json_array_get(errors, 0);
        status = mz_fail_with(req, 422, "import_rejected",
                              mz_arena_printf(req->arena,
                                              "导入未执行：共 %ld 行，其中 %ld 行有错误（第 %lld 行起），"
                                              "请修改后重新导入",
                                              total, failed,
                                              (long long)json_integer_value(
                                                  json_object_get(first, "row"))),
                              report);
        goto out;
    }
    status = mz_reply_json(req, 200, report);
out:
    req->arena = req_arena;
    req->import_pre = NULL;
    memo_free(req->import_memo);
    req->import_memo = NULL;
    pre_stop(&pf);
    pthread_mutex_destroy(&pf.lock);
    pthread_cond_destroy(&pf.cond);
    import_finish(req, e, false);
    /* Still dropped here only when the request failed: its transaction is
     * rolled back by the dispatcher, which brings them back. */
    deferred_forget(&deferred);
    mz_arena_free(row_arena);
    if (cache_size != 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA cache_size=%lld", (long long)cache_size);
        if (mz_db_exec(req->db, sql) != MZ_OK)
            mz_warn("import: could not put the page cache size back");
        malloc_trim(0); /* hand the import's cache pages back to the system */
    }
    json_decref(batch.inputs);
    if (r)
        mz_table_close(r);
    if (path != req->body_file)
        unlink(path);
    json_decref(errors);
    for (size_t i = 0; labels && i < ncols; i++)
        json_decref(labels[i]);
    return status;
}
