/* db.c - the public database interface (include/mz/db.h) over a backend.
 *
 * Every public function dispatches through the connection's struct
 * mz_db_ops (db_internal.h); what all backends share lives here:
 *
 *  - The statement cache. mz_db_prepare() looks the SQL text up in a hash map
 *    (FNV-1a, chained buckets) of at most MZ_DB_CACHE_MAX statements per
 *    connection. A cached statement is lent out (in_use) until mz_db_reset()
 *    or mz_db_done(); if the same SQL is prepared while it is lent out (a
 *    query run again inside its own row loop), or the cache is full, the
 *    caller gets an uncached statement that mz_db_done() finalizes. The
 *    cache finalizes its statements when the connection closes.
 *
 *  - Transactions. One level only: begin while a transaction is open is a
 *    bug (MZ_ERR_INTERNAL). db.c keeps its own state and asks the backend
 *    whether the server still holds the transaction, because SQLite rolls
 *    back by itself after some errors. A failed commit leaves the
 *    transaction open if the server still has it: the caller rolls back.
 *    Rollback is idempotent ("make sure no transaction is open").
 *
 *  - Fault injection (mz_db_fault_set). Calls to prepare, step, exec, begin
 *    and commit are counted process-wide with an atomic counter; the nth one
 *    fails with MZ_ERR_DB and the message "injected fault". Rollback is never
 *    counted, so clean-up paths always work. Tests loop N = 1..calls to prove
 *    every error path of a workload.
 *
 *  - Migrations: numbered steps per module, each applied in its own write
 *    transaction together with its row in mz_migrations.
 *
 *  - Error messages. A backend keeps the message of its last failure; a
 *    failure detected here (nesting, bad arguments, injected faults) is kept
 *    on the connection and shadows the backend's until the backend fails
 *    again, so mz_db_errmsg() always describes the latest failure.
 *
 * Tested in tests/unit/test_db.c.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db_internal.h"

/* The mz_migrations table (portable SQL). */
#define MIGRATIONS_DDL                                                                             \
    "CREATE TABLE IF NOT EXISTS mz_migrations (module TEXT NOT NULL, number INTEGER NOT NULL, "    \
    "name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (module, number))"

/* --- errors ------------------------------------------------------------------- */

/* Record a failure detected in db.c and return err. */
static int fail_local(struct mz_db *db, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_local(struct mz_db *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
    va_end(ap);
    db->errmsg_local = true;
    db->failures++;
    return err;
}

/* Pass on a backend result; a failure makes the backend's message current. */
static int backend_result(struct mz_db *db, int rc)
{
    if (rc < 0) {
        db->errmsg_local = false;
        db->failures++;
    }
    return rc;
}

/* The message of the latest failure, from db.c or from the backend. */
const char *mz_db_errmsg(const struct mz_db *db)
{
    if (db->errmsg_local)
        return db->errmsg;
    return db->ops->errmsg(db->handle);
}

/* --- fault injection ------------------------------------------------------------ */

/* The counted call that fails (1-based); 0 when injection is off. */
static atomic_long fault_nth;
/* Counted calls since the last mz_db_fault_set(). */
static atomic_long fault_count;
/* The last connection serial handed out (mz_db_serial). */
static _Atomic uint64_t db_serials;

/* Arm injection for the nth counted call from now (0: off) and restart the count. */
void mz_db_fault_set(long nth)
{
    atomic_store(&fault_nth, nth > 0 ? nth : 0);
    atomic_store(&fault_count, 0);
}

/* Counted calls since the last mz_db_fault_set(). */
long mz_db_fault_calls(void)
{
    return atomic_load(&fault_count);
}

/* Count one call; true if it is the one chosen to fail (its message is then
 * recorded on db). */
static bool fault_hit(struct mz_db *db)
{
    long n = atomic_fetch_add(&fault_count, 1) + 1;
    long nth = atomic_load(&fault_nth);

    if (nth == 0 || n != nth)
        return false;
    fail_local(db, MZ_ERR_DB, "injected fault");
    return true;
}

/* --- open and close ------------------------------------------------------------- */

/* True if spec names a PostgreSQL server rather than a SQLite file. */
bool mz_db_spec_is_postgresql(const char *spec)
{
    return spec != NULL && (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0 ||
           strncmp(spec, "host=", 5) == 0 || strncmp(spec, "dbname=", 7) == 0);
}

/* Pick the backend by spec, apply the default options and open. Failures are
 * logged here: there is no connection yet to keep the message on. */
int mz_db_open(const char *spec, const struct mz_db_options *opts, struct mz_db **out)
{
    struct mz_db_options options = {.create = true, .busy_timeout_ms = 5000};
    const struct mz_db_ops *ops = &mz_db_sqlite_ops;
    struct mz_db *db;
    void *handle = NULL;
    char errbuf[512] = "";
    int rc;

    *out = NULL;
    if (spec == NULL || spec[0] == '\0') {
        mz_error("cannot open database: no database given");
        return MZ_ERR_INVALID;
    }
    /* A PostgreSQL spec may hold a password: it is never logged. */
    if (mz_db_spec_is_postgresql(spec))
        ops = &mz_db_pg_ops;
    if (opts != NULL)
        options = *opts;
    if (options.busy_timeout_ms <= 0)
        options.busy_timeout_ms = 5000;
    if (options.readonly)
        options.create = false;

    rc = ops->open(spec, &options, &handle, errbuf, sizeof(errbuf));
    if (rc != MZ_OK) {
        mz_error("cannot open database: %s", errbuf);
        return rc;
    }
    db = mz_xcalloc(1, sizeof(*db));
    db->ops = ops;
    db->handle = handle;
    db->serial = atomic_fetch_add(&db_serials, 1) + 1;
    db->txn = MZ_DB_TXN_NONE;
    *out = db;
    return MZ_OK;
}

/* Finalize and free every cached statement. */
static void cache_clear(struct mz_db *db)
{
    for (size_t i = 0; i < MZ_DB_CACHE_BUCKETS; i++) {
        struct mz_db_cache_entry *entry = db->cache[i];
        while (entry != NULL) {
            struct mz_db_cache_entry *next = entry->next;
            db->ops->finalize(entry->stmt->handle);
            free(entry->stmt);
            free(entry->sql);
            free(entry);
            entry = next;
        }
        db->cache[i] = NULL;
    }
    db->cache_count = 0;
    memset(db->memo, 0, sizeof(db->memo));
}

/* Roll back what is open, finalize the cached statements, close. */
void mz_db_close(struct mz_db *db)
{
    if (db == NULL)
        return;
    if (db->ops->in_transaction(db->handle)) {
        mz_warn("closing a database connection with an open transaction: rolling back");
        if (db->ops->exec(db->handle, db->ops->sql_rollback) != MZ_OK)
            mz_error("rollback on close failed: %s", db->ops->errmsg(db->handle));
    }
    cache_clear(db);
    if (db->snap_begin)
        db->ops->finalize(db->snap_begin);
    if (db->snap_end)
        db->ops->finalize(db->snap_end);
    db->ops->close(db->handle);
    free(db);
}

/* Which backend runs. */
enum mz_db_kind mz_db_kind(const struct mz_db *db)
{
    return db->ops->kind;
}

/* The backend's name for logs. */
const char *mz_db_kind_name(const struct mz_db *db)
{
    return db->ops->name;
}

/* Run SQL without parameters or results (counted for fault injection). */
int mz_db_exec(struct mz_db *db, const char *sql)
{
    if (sql == NULL)
        return fail_local(db, MZ_ERR_INVALID, "exec: no sql given");
    mz_db_snapshot_end(db);
    if (fault_hit(db))
        return MZ_ERR_DB;
    return backend_result(db, db->ops->exec(db->handle, sql));
}

/* --- statements and the cache ------------------------------------------------------ */

/* FNV-1a hash of a SQL text. */
static uint64_t sql_hash(const char *sql)
{
    uint64_t hash = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    return hash;
}

/* The memo slot of a SQL text's address. */
static size_t memo_slot(const char *sql)
{
    uintptr_t a = (uintptr_t)sql;
    return (size_t)((a >> 3) ^ (a >> 11)) & (MZ_DB_MEMO_SLOTS - 1);
}

/* The cache entry for sql, or NULL. */
static struct mz_db_cache_entry *cache_find(struct mz_db *db, const char *sql, uint64_t hash)
{
    struct mz_db_cache_entry *entry = db->cache[hash & (MZ_DB_CACHE_BUCKETS - 1)];

    for (; entry != NULL; entry = entry->next) {
        if (entry->hash == hash && strcmp(entry->sql, sql) == 0)
            return entry;
    }
    return NULL;
}

/* Add a statement to the cache (the caller checked it is absent and the
 * cache has room). */
static void cache_add(struct mz_db *db, const char *sql, uint64_t hash, struct mz_stmt *stmt)
{
    struct mz_db_cache_entry *entry = mz_xmalloc(sizeof(*entry));
    size_t bucket = hash & (MZ_DB_CACHE_BUCKETS - 1);

    entry->sql = mz_xstrdup(sql);
    entry->hash = hash;
    entry->stmt = stmt;
    entry->next = db->cache[bucket];
    db->cache[bucket] = entry;
    db->cache_count++;
}

/* Prepare sql, from or into the cache when use_cache. */
static int prepare_common(struct mz_db *db, const char *sql, bool use_cache, struct mz_stmt **out)
{
    struct mz_db_cache_entry *entry = NULL;
    struct mz_stmt *stmt;
    uint64_t hash = 0;
    void *handle = NULL;
    bool cache_it = false;
    int rc;

    *out = NULL;
    if (sql == NULL)
        return fail_local(db, MZ_ERR_INVALID, "prepare: no sql given");
    if (fault_hit(db))
        return MZ_ERR_DB;
    if (use_cache) {
        size_t slot = memo_slot(sql);
        if (db->memo[slot].sql == sql && strcmp(db->memo[slot].entry->sql, sql) == 0) {
            entry = db->memo[slot].entry;
            hash = entry->hash;
        } else {
            hash = sql_hash(sql);
            entry = cache_find(db, sql, hash);
            if (entry != NULL) {
                db->memo[slot].sql = sql;
                db->memo[slot].entry = entry;
            }
        }
        if (entry != NULL && !entry->stmt->in_use) {
            entry->stmt->in_use = true;
            *out = entry->stmt;
            return MZ_OK;
        }
        cache_it = entry == NULL && db->cache_count < MZ_DB_CACHE_MAX;
    }
    rc = db->ops->prepare(db->handle, sql, cache_it, &handle);
    if (rc != MZ_OK)
        return backend_result(db, rc);
    stmt = mz_xcalloc(1, sizeof(*stmt));
    stmt->db = db;
    stmt->handle = handle;
    stmt->cached = cache_it;
    stmt->in_use = cache_it;
    if (cache_it)
        cache_add(db, sql, hash, stmt);
    *out = stmt;
    return MZ_OK;
}

/* A statement from the cache, or prepared into it. */
int mz_db_prepare(struct mz_db *db, const char *sql, struct mz_stmt **out)
{
    return prepare_common(db, sql, true, out);
}

/* A statement of its own, finalized by mz_db_finalize() or mz_db_done(). */
int mz_db_prepare_uncached(struct mz_db *db, const char *sql, struct mz_stmt **out)
{
    return prepare_common(db, sql, false, out);
}

/* Rewind, clear the bindings and give a cached statement back. */
void mz_db_reset(struct mz_stmt *stmt)
{
    if (stmt == NULL)
        return;
    stmt->db->ops->reset(stmt->handle);
    stmt->in_use = false;
}

/* A cached statement belongs to the cache: finalizing it only resets it. */
void mz_db_finalize(struct mz_stmt *stmt)
{
    if (stmt == NULL)
        return;
    if (stmt->cached) {
        mz_db_reset(stmt);
        return;
    }
    stmt->db->ops->finalize(stmt->handle);
    free(stmt);
}

/* Finished with a statement: reset if cached, finalized if not. */
void mz_db_done(struct mz_stmt *stmt)
{
    mz_db_finalize(stmt);
}

/* Bind a 64-bit integer. */
int mz_db_bind_int(struct mz_stmt *stmt, int idx, int64_t value)
{
    struct mz_db *db = stmt->db;

    return backend_result(db, db->ops->bind_int(db->handle, stmt->handle, idx, value));
}

/* Bind a double. */
int mz_db_bind_double(struct mz_stmt *stmt, int idx, double value)
{
    struct mz_db *db = stmt->db;

    return backend_result(db, db->ops->bind_double(db->handle, stmt->handle, idx, value));
}

/* Bind NUL-terminated text (NULL binds null). */
int mz_db_bind_text(struct mz_stmt *stmt, int idx, const char *text)
{
    if (text == NULL)
        return mz_db_bind_null(stmt, idx);
    return mz_db_bind_textn(stmt, idx, text, strlen(text));
}

/* Bind len bytes of text (NULL binds null). */
int mz_db_bind_textn(struct mz_stmt *stmt, int idx, const char *text, size_t len)
{
    struct mz_db *db = stmt->db;

    if (text == NULL)
        return mz_db_bind_null(stmt, idx);
    return backend_result(db, db->ops->bind_text(db->handle, stmt->handle, idx, text, len));
}

/* Bind len bytes as a blob (len 0 binds an empty blob, not null). */
int mz_db_bind_blob(struct mz_stmt *stmt, int idx, const void *data, size_t len)
{
    struct mz_db *db = stmt->db;

    if (data == NULL && len > 0)
        return fail_local(db, MZ_ERR_INVALID, "bind: blob of %zu bytes without data", len);
    return backend_result(db, db->ops->bind_blob(db->handle, stmt->handle, idx, data, len));
}

/* Bind SQL null. */
int mz_db_bind_null(struct mz_stmt *stmt, int idx)
{
    struct mz_db *db = stmt->db;

    return backend_result(db, db->ops->bind_null(db->handle, stmt->handle, idx));
}

/* Number of parameters of the statement. */
int mz_db_param_count(struct mz_stmt *stmt)
{
    return stmt->db->ops->param_count(stmt->handle);
}

/* Run to the next row (counted for fault injection). */
int mz_db_step(struct mz_stmt *stmt)
{
    struct mz_db *db = stmt->db;

    if (fault_hit(db))
        return MZ_ERR_DB;
    if (db->snapshot && db->ops->stmt_not_read(stmt->handle))
        mz_db_snapshot_end(db);
    return backend_result(db, db->ops->step(db->handle, stmt->handle));
}

/* Columns of the result. */
int mz_db_col_count(struct mz_stmt *stmt)
{
    return stmt->db->ops->col_count(stmt->handle);
}

/* Name of a result column. */
const char *mz_db_col_name(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_name(stmt->handle, col);
}

/* Type of a column of the current row. */
enum mz_col_type mz_db_col_type(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_type(stmt->handle, col);
}

/* A column as a 64-bit integer. */
int64_t mz_db_col_int(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_int(stmt->handle, col);
}

/* A column as a double. */
double mz_db_col_double(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_double(stmt->handle, col);
}

/* A column as text (NULL for SQL null); valid until the next step/reset. */
const char *mz_db_col_text(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_text(stmt->handle, col);
}

/* A column as bytes; valid until the next step/reset. */
const void *mz_db_col_blob(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_blob(stmt->handle, col);
}

/* Size of a text or blob column (ask after col_text/col_blob). */
size_t mz_db_col_bytes(struct mz_stmt *stmt, int col)
{
    return stmt->db->ops->col_bytes(stmt->handle, col);
}

/* --- transactions --------------------------------------------------------------- */

/* Open a transaction: a deferred one, or one holding the write lock. */
static int begin_common(struct mz_db *db, bool write)
{
    int rc;

    if (db->txn != MZ_DB_TXN_NONE)
        return fail_local(db, MZ_ERR_INTERNAL, "begin: a transaction is already open");
    mz_db_snapshot_end(db);
    if (fault_hit(db))
        return MZ_ERR_DB;
    rc = db->ops->exec(db->handle, write ? db->ops->sql_begin_write : db->ops->sql_begin);
    if (rc != MZ_OK) {
        /* A begin of several statements (PostgreSQL: BEGIN, then the write
         * lock) may fail after the transaction opened: close it again. */
        if (db->ops->in_transaction(db->handle) &&
            db->ops->exec(db->handle, db->ops->sql_rollback) != MZ_OK)
            mz_error("rollback after a failed begin failed");
        return backend_result(db, rc);
    }
    db->txn = write ? MZ_DB_TXN_WRITE : MZ_DB_TXN_READ;
    return MZ_OK;
}

/* Run one of the snapshot's prepared statements (prepared on first use). */
static int snapshot_run(struct mz_db *db, void **stmt, const char *sql)
{
    if (*stmt == NULL && db->ops->prepare(db->handle, sql, true, stmt) != MZ_OK) {
        *stmt = NULL;
        return MZ_ERR_DB;
    }
    int rc = db->ops->step(db->handle, *stmt);
    db->ops->reset(*stmt);
    return rc == MZ_DONE ? MZ_OK : MZ_ERR_DB;
}

/* See db.h. Not counted by the fault injection: it changes no result. */
void mz_db_snapshot_begin(struct mz_db *db)
{
    if (db->snapshot || db->txn != MZ_DB_TXN_NONE || db->ops->stmt_not_read == NULL ||
        db->ops->in_transaction(db->handle))
        return;
    if (snapshot_run(db, &db->snap_begin, db->ops->sql_begin) != MZ_OK) {
        if (db->ops->in_transaction(db->handle))
            (void)db->ops->exec(db->handle, db->ops->sql_rollback);
        return; /* no snapshot: every statement its own, as without */
    }
    db->snapshot = true;
}

/* See db.h. */
void mz_db_snapshot_end(struct mz_db *db)
{
    if (!db->snapshot)
        return;
    db->snapshot = false;
    /* A read transaction: COMMIT only releases the snapshot. */
    if (db->ops->in_transaction(db->handle) &&
        snapshot_run(db, &db->snap_end, db->ops->sql_commit) != MZ_OK &&
        db->ops->in_transaction(db->handle))
        (void)db->ops->exec(db->handle, db->ops->sql_rollback);
}

/* A deferred transaction (locks taken on first use). */
int mz_db_begin(struct mz_db *db)
{
    return begin_common(db, false);
}

/* A transaction that holds the write lock from the start. */
int mz_db_begin_write(struct mz_db *db)
{
    return begin_common(db, true);
}

/* Commit; on failure the transaction stays open if the server still has it. */
int mz_db_commit(struct mz_db *db)
{
    int rc;

    if (db->txn == MZ_DB_TXN_NONE)
        return fail_local(db, MZ_ERR_INTERNAL, "commit: no transaction is open");
    if (fault_hit(db))
        return MZ_ERR_DB;
    if (!db->ops->in_transaction(db->handle)) {
        db->txn = MZ_DB_TXN_NONE;
        return fail_local(db, MZ_ERR_DB,
                          "commit: the database already rolled the transaction back");
    }
    rc = db->ops->exec(db->handle, db->ops->sql_commit);
    if (rc != MZ_OK) {
        /* Still open (e.g. busy): the caller must roll back. */
        if (!db->ops->in_transaction(db->handle))
            db->txn = MZ_DB_TXN_NONE;
        return backend_result(db, rc);
    }
    db->txn = MZ_DB_TXN_NONE;
    return MZ_OK;
}

/* Make sure no transaction is open: MZ_OK if none was. */
int mz_db_rollback(struct mz_db *db)
{
    int rc;

    db->snapshot = false;
    if (!db->ops->in_transaction(db->handle)) {
        db->txn = MZ_DB_TXN_NONE;
        return MZ_OK;
    }
    rc = db->ops->exec(db->handle, db->ops->sql_rollback);
    if (!db->ops->in_transaction(db->handle))
        db->txn = MZ_DB_TXN_NONE;
    if (rc != MZ_OK)
        mz_error("rollback failed: %s", db->ops->errmsg(db->handle));
    return backend_result(db, rc);
}

/* True between a successful begin and commit/rollback. */
bool mz_db_in_transaction(const struct mz_db *db)
{
    return db->txn != MZ_DB_TXN_NONE;
}

/* Rows changed by the last write. */
int64_t mz_db_changes(struct mz_db *db)
{
    return db->ops->changes(db->handle);
}

/* See db.h. */
int64_t mz_db_total_changes(struct mz_db *db)
{
    return db->ops->total_changes ? db->ops->total_changes(db->handle) : -1;
}

/* See db.h: PRAGMA data_version (commits by any other connection, in this
 * process or another) and this connection's own row changes. */
int mz_db_data_version(struct mz_db *db, int64_t out[2])
{
    struct mz_stmt *st;
    int rc;

    if (db->ops->total_changes == NULL)
        return MZ_ERR_NOTFOUND;
    rc = mz_db_prepare(db, "PRAGMA data_version", &st);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_step(st);
    if (rc == MZ_ROW)
        out[0] = mz_db_col_int(st, 0);
    mz_db_done(st);
    if (rc != MZ_ROW)
        return rc < 0 ? rc : MZ_ERR_DB;
    out[1] = db->ops->total_changes(db->handle);
    return MZ_OK;
}

/* See db.h. */
uint64_t mz_db_serial(const struct mz_db *db)
{
    return db->serial;
}

/* Id of the last inserted row. */
int64_t mz_db_last_id(struct mz_db *db)
{
    return db->ops->last_id(db->handle);
}

/* --- convenience queries ----------------------------------------------------------- */

/* A SQL null in the result counts as no integer: MZ_ERR_NOTFOUND. */
int mz_db_run(struct mz_db *db, const char *sql, const char *types, ...)
{
    struct mz_stmt *st;
    va_list ap;
    int rc = mz_db_prepare(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 'i')
            mz_db_bind_int(st, i + 1, va_arg(ap, int64_t));
        else
            mz_db_bind_text(st, i + 1, va_arg(ap, const char *));
    }
    va_end(ap);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE || rc == MZ_ROW ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

int mz_db_query_int(struct mz_db *db, const char *sql, int64_t *out, int nparams,
                    const char *const *params)
{
    struct mz_stmt *stmt = NULL;
    int rc;

    if (nparams < 0 || (nparams > 0 && params == NULL))
        return fail_local(db, MZ_ERR_INVALID, "query: %d parameters without values", nparams);
    rc = mz_db_prepare(db, sql, &stmt);
    if (rc != MZ_OK)
        goto out;
    for (int i = 0; i < nparams; i++) {
        rc = mz_db_bind_text(stmt, i + 1, params[i]);
        if (rc != MZ_OK)
            goto out;
    }
    rc = mz_db_step(stmt);
    if (rc == MZ_DONE) {
        rc = fail_local(db, MZ_ERR_NOTFOUND, "query returned no row");
        goto out;
    }
    if (rc != MZ_ROW)
        goto out;
    if (mz_db_col_type(stmt, 0) == MZ_COL_NULL) {
        rc = fail_local(db, MZ_ERR_NOTFOUND, "query returned null");
        goto out;
    }
    *out = mz_db_col_int(stmt, 0);
    rc = MZ_OK;
out:
    mz_db_done(stmt);
    return rc;
}

int mz_db_indexes_drop(struct mz_db *db, const char *const *tables, size_t ntables, bool unique,
                       struct mz_db_indexes *out)
{
    int rc = MZ_OK;
    for (size_t t = 0; rc == MZ_OK && t < ntables; t++) {
        struct mz_stmt *st;
        rc = mz_db_prepare_uncached(db,
                                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                                    " AND tbl_name = ? AND sql IS NOT NULL AND (? OR sql NOT"
                                    " LIKE 'CREATE UNIQUE%') ORDER BY name",
                                    &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_text(st, 1, tables[t]);
        mz_db_bind_int(st, 2, unique);
        char **names = NULL;
        size_t n = 0;
        while ((rc = mz_db_step(st)) == MZ_ROW) {
            names = mz_xrealloc(names, (n + 1) * sizeof(*names));
            names[n++] = mz_xstrdup(mz_db_col_text(st, 0));
            out->sql = mz_xrealloc(out->sql, (out->n + 1) * sizeof(*out->sql));
            out->tbl = mz_xrealloc(out->tbl, (out->n + 1) * sizeof(*out->tbl));
            out->sql[out->n] = mz_xstrdup(mz_db_col_text(st, 1));
            out->tbl[out->n++] = mz_xstrdup(tables[t]);
        }
        mz_db_finalize(st);
        rc = rc < 0 ? rc : MZ_OK;
        for (size_t i = 0; i < n; i++) {
            if (rc == MZ_OK) {
                char sql[256];
                snprintf(sql, sizeof(sql), "DROP INDEX \"%s\"", names[i]);
                rc = mz_db_exec(db, sql);
            }
            free(names[i]);
        }
        free(names);
    }
    return rc;
}

void mz_db_indexes_free(struct mz_db_indexes *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->sql[i]);
        free(ix->tbl[i]);
    }
    free(ix->sql);
    free(ix->tbl);
    ix->sql = ix->tbl = NULL;
    ix->n = 0;
}

/* Errors read as "no such table". */
bool mz_db_table_exists(struct mz_db *db, const char *table)
{
    const char *params[] = {table};
    int64_t count = 0;

    if (mz_db_query_int(db, db->ops->sql_table_exists, &count, 1, params) != MZ_OK)
        return false;
    return count > 0;
}

/* Errors read as "no such column". */
bool mz_db_column_exists(struct mz_db *db, const char *table, const char *column)
{
    const char *params[] = {table, column};
    int64_t count = 0;

    if (mz_db_query_int(db, db->ops->sql_column_exists, &count, 2, params) != MZ_OK)
        return false;
    return count > 0;
}

/* SQL text of a dialect item for this backend. */
const char *mz_db_dialect(const struct mz_db *db, enum mz_dialect_item item)
{
    return db->ops->dialect(item);
}

/* --- backup, restore, integrity ------------------------------------------------------ */

/* Online backup to to_path (replaced only by a verified copy). */
int mz_db_backup(struct mz_db *db, const char *to_path)
{
    if (to_path == NULL || to_path[0] == '\0')
        return fail_local(db, MZ_ERR_INVALID, "backup: no target path given");
    return backend_result(db, db->ops->backup(db->handle, to_path));
}

/* The backend's integrity check: MZ_OK if the database is sound. */
int mz_db_integrity_check(struct mz_db *db)
{
    return backend_result(db, db->ops->integrity_check(db->handle));
}

/* True if both paths exist and are the same file. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The source is checked before anything touches to_path; the copy goes
 * through mz_db_backup() (temporary file, verified, renamed) and the file
 * under its final name is checked once more. */
int mz_db_restore(const char *from_path, const char *to_path)
{
    struct mz_db_options source_opts = {.readonly = true, .busy_timeout_ms = 5000};
    struct mz_db_options target_opts = {.busy_timeout_ms = 5000};
    struct mz_db *source = NULL;
    struct mz_db *target = NULL;
    int rc;

    if (from_path == NULL || to_path == NULL || from_path[0] == '\0' || to_path[0] == '\0' ||
        mz_db_spec_is_postgresql(from_path) || mz_db_spec_is_postgresql(to_path) ||
        strcmp(from_path, ":memory:") == 0 || strcmp(to_path, ":memory:") == 0) {
        mz_error("restore: source and target must be sqlite database files");
        rc = MZ_ERR_INVALID;
        goto out;
    }
    if (strcmp(from_path, to_path) == 0 || same_file(from_path, to_path)) {
        mz_error("restore: source and target are the same file: %s", to_path);
        rc = MZ_ERR_INVALID;
        goto out;
    }
    rc = mz_db_open(from_path, &source_opts, &source);
    if (rc != MZ_OK) {
        mz_error("restore: %s is not a usable database: %s", from_path, mz_err_name(rc));
        rc = MZ_ERR_INVALID;
        goto out;
    }
    rc = mz_db_integrity_check(source);
    if (rc != MZ_OK) {
        mz_error("restore: %s fails the integrity check: %s", from_path, mz_db_errmsg(source));
        rc = MZ_ERR_INVALID;
        goto out;
    }
    rc = mz_db_backup(source, to_path);
    if (rc != MZ_OK) {
        mz_error("restore: copy of %s to %s failed: %s", from_path, to_path, mz_db_errmsg(source));
        goto out;
    }
    rc = mz_db_open(to_path, &target_opts, &target);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_integrity_check(target);
    if (rc != MZ_OK)
        mz_error("restore: %s fails the integrity check: %s", to_path, mz_db_errmsg(target));
out:
    mz_db_close(target);
    mz_db_close(source);
    return rc;
}

/* --- migrations --------------------------------------------------------------------- */

/* Whether step number of module is recorded in mz_migrations. */
static int migration_recorded(struct mz_db *db, const char *module, int number, bool *recorded)
{
    struct mz_stmt *stmt = NULL;
    int rc;

    rc = mz_db_prepare(db, "SELECT count(*) FROM mz_migrations WHERE module = ? AND number = ?",
                       &stmt);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_bind_text(stmt, 1, module);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_bind_int(stmt, 2, number);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_step(stmt);
    if (rc != MZ_ROW) {
        if (rc == MZ_DONE)
            rc = fail_local(db, MZ_ERR_INTERNAL, "count(*) returned no row");
        goto out;
    }
    *recorded = mz_db_col_int(stmt, 0) > 0;
    rc = MZ_OK;
out:
    mz_db_done(stmt);
    return rc;
}

/* Insert the row of an applied step. */
static int migration_record(struct mz_db *db, const char *module, const struct mz_migration *step)
{
    struct mz_stmt *stmt = NULL;
    char now[32];
    int rc;

    mz_now_rfc3339(now);
    rc = mz_db_prepare(db,
                       "INSERT INTO mz_migrations (module, number, name, applied_at) "
                       "VALUES (?, ?, ?, ?)",
                       &stmt);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_bind_text(stmt, 1, module);
    if (rc == MZ_OK)
        rc = mz_db_bind_int(stmt, 2, step->number);
    if (rc == MZ_OK)
        rc = mz_db_bind_text(stmt, 3, step->name);
    if (rc == MZ_OK)
        rc = mz_db_bind_text(stmt, 4, now);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_step(stmt);
    if (rc == MZ_DONE)
        rc = MZ_OK;
    else if (rc == MZ_ROW)
        rc = fail_local(db, MZ_ERR_INTERNAL, "insert returned a row");
out:
    mz_db_done(stmt);
    return rc;
}

/* Apply one step unless recorded: checked again under the write lock, since
 * another process may have applied it meanwhile. *did_apply tells which. On
 * failure everything is rolled back and the failure is logged. */
static int migration_step(struct mz_db *db, const char *module, const struct mz_migration *step,
                          bool *did_apply)
{
    bool recorded = false;
    int rc;

    *did_apply = false;
    rc = migration_recorded(db, module, step->number, &recorded);
    if (rc != MZ_OK || recorded)
        goto out;
    rc = mz_db_begin_write(db);
    if (rc != MZ_OK)
        goto out;
    rc = migration_recorded(db, module, step->number, &recorded);
    if (rc != MZ_OK)
        goto out;
    if (!recorded) {
        unsigned long failures_before = db->failures;
        if (step->sql != NULL)
            rc = mz_db_exec(db, step->sql);
        else
            rc = step->fn(db);
        if (rc > 0)
            rc = fail_local(db, MZ_ERR_INTERNAL, "migration function returned %d", rc);
        else if (rc < 0 && db->failures == failures_before)
            rc = fail_local(db, rc, "migration function failed without a database error");
        if (rc != MZ_OK)
            goto out;
        rc = migration_record(db, module, step);
        if (rc != MZ_OK)
            goto out;
    }
    rc = mz_db_commit(db);
    if (rc == MZ_OK)
        *did_apply = !recorded;
out:
    if (rc != MZ_OK) {
        mz_error("migration %s %d (%s) failed: %s: %s", module, step->number, step->name,
                 mz_err_name(rc), mz_db_errmsg(db));
        mz_db_rollback(db);
    }
    return rc;
}

/* Check a module's steps: named, ascending, exactly one of sql and fn. */
static int migration_validate(struct mz_db *db, const char *module,
                              const struct mz_migration *steps, size_t nsteps)
{
    if (module == NULL || module[0] == '\0')
        return fail_local(db, MZ_ERR_INVALID, "migrate: no module name given");
    if (nsteps > 0 && steps == NULL)
        return fail_local(db, MZ_ERR_INVALID, "migrate: %s has no steps array", module);
    for (size_t i = 0; i < nsteps; i++) {
        const struct mz_migration *step = &steps[i];
        if (step->number <= 0 || step->name == NULL || (step->sql == NULL) == (step->fn == NULL))
            return fail_local(db, MZ_ERR_INVALID,
                              "migrate: step %zu of %s needs a positive number, a name and "
                              "either sql or fn",
                              i, module);
        if (i > 0 && step->number <= steps[i - 1].number)
            return fail_local(db, MZ_ERR_INVALID,
                              "migrate: steps of %s are not in ascending order at %d after %d",
                              module, step->number, steps[i - 1].number);
    }
    return MZ_OK;
}

/* Validate the steps, create mz_migrations if missing, apply each new step in
 * its own write transaction; stop at the first failure and return it. */
int mz_db_migrate(struct mz_db *db, const char *module, const struct mz_migration *steps,
                  size_t nsteps, int *applied)
{
    bool did_apply;
    int count = 0;
    int rc;

    rc = migration_validate(db, module, steps, nsteps);
    if (rc != MZ_OK) {
        mz_error("%s", db->errmsg);
        goto out;
    }
    if (db->txn != MZ_DB_TXN_NONE) {
        rc = fail_local(db, MZ_ERR_INTERNAL, "migrate: a transaction is already open");
        mz_error("%s", db->errmsg);
        goto out;
    }
    if (!mz_db_table_exists(db, "mz_migrations")) {
        rc = mz_db_exec(db, MIGRATIONS_DDL);
        if (rc != MZ_OK) {
            mz_error("migration %s: cannot create mz_migrations: %s", module, mz_db_errmsg(db));
            goto out;
        }
    }
    for (size_t i = 0; i < nsteps; i++) {
        rc = migration_step(db, module, &steps[i], &did_apply);
        if (rc != MZ_OK)
            goto out;
        if (did_apply) {
            count++;
            mz_debug("migration %s %d (%s) applied", module, steps[i].number, steps[i].name);
        }
    }
out:
    if (applied != NULL)
        *applied = count;
    return rc;
}
