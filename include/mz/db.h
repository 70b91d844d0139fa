/* db.h - the one database interface every module uses.
 *
 * A connection (struct mz_db) belongs to one thread. Statements are written
 * with `?` placeholders in portable SQL and prepared once per connection: the
 * connection caches them by their SQL text, so a module may call
 * mz_db_prepare() on every request and pay for parsing only the first time.
 * A statement from the cache must be finished with mz_db_reset() (or
 * mz_db_done()) before the same SQL is prepared again.
 *
 * The backend is chosen by the open spec: a file path (or ":memory:") opens
 * SQLite; a libpq connection string ("postgresql://...", "postgres://...",
 * "host=...", "dbname=...") opens PostgreSQL (src/db/pg.c).
 * Backends implement struct mz_db_ops (src/db/db_internal.h); nothing outside
 * src/db knows which one runs. Dialect differences live in mz_db_dialect().
 */
#ifndef MZ_DB_H
#define MZ_DB_H

#include "mz/base.h"

struct mz_db;
struct mz_stmt;

enum mz_db_kind { MZ_DB_SQLITE, MZ_DB_POSTGRESQL };

/* Step results (besides negative mz_err). */
#define MZ_ROW 1
#define MZ_DONE 0

/* Column types as reported by mz_db_col_type(). */
enum mz_col_type { MZ_COL_NULL, MZ_COL_INT, MZ_COL_REAL, MZ_COL_TEXT, MZ_COL_BLOB };

struct mz_db_options {
    bool readonly;
    bool create;          /* create the file if missing (default: must exist) */
    int busy_timeout_ms;  /* default 5000 */
    bool synchronous_full;/* PRAGMA synchronous=FULL (money, audit); default NORMAL */
};

/* True if spec names a PostgreSQL server (a libpq connection string) rather
 * than a SQLite file. */
bool mz_db_spec_is_postgresql(const char *spec);

/* SQLite: a commit that leaves `frames` frames or more in the WAL has its
 * checkpoint run by a background thread instead of the committing one
 * (src/db/sqlite.c; default 32768, i.e. 128 MB; tests lower it). */
void mz_db_checkpoint_background_at(long frames);
/* Wait until the background checkpointer has nothing pending; the number of
 * checkpoints it ran so far. */
long mz_db_checkpoint_wait(void);
/* SQLite: a commit whose checkpoint leaves `frames` frames or more in the WAL
 * (not restarted: readers were in it) truncates the WAL (a TRUNCATE checkpoint
 * waiting 100 ms at most; default 262144, i.e. 1 GB; tests lower it). */
void mz_db_wal_limit_at(long frames);
/* TRUNCATE checkpoints of the WAL limit that succeeded so far. */
long mz_db_wal_truncations(void);

/* SQLite, for a one-shot bulk load (src/db/sqlite_bulk.c): make a VFS that
 * reads ahead and gathers writes the default one, for the connections
 * opened after (idempotent; MZ_OK or MZ_ERR_DB). mz_db_bulk_io turns its
 * buffering on or off (off by default: every call passed through); only
 * for files no other connection or process uses while it is on. False
 * when the VFS is not the default (nothing changes then). */
int mz_db_bulk_vfs_install(void);

/* SQLite, for a server (src/db/sqlite_map.c): make a VFS the default for
 * the connections opened after (idempotent; MZ_OK or MZ_ERR_DB) that reads
 * each main database file through one memory map per process, kept across
 * commits, and keeps a connection's WAL read lock between its read
 * transactions until another connection of the process needs it. */
int mz_db_map_vfs_install(void);
/* Tests: the least address space a file's map reserves (0: the default,
 * 1 GiB; a file that outgrows its map gets a new one twice its size), and
 * what the VFS did so far. */
void mz_db_map_reserve_min(int64_t bytes);
struct mz_db_map_stats {
    long regions_made;   /* maps made */
    long pages_fetched;  /* pages handed out from them */
    long locks_passed;   /* read-mark lock calls passed to the wrapped VFS */
    long locks_unparked; /* read-mark locks taken back without a call */
};
void mz_db_map_stats(struct mz_db_map_stats *out);
bool mz_db_bulk_io(bool on);

/* Open a connection. opts may be NULL for defaults (create=true). */
int mz_db_open(const char *spec, const struct mz_db_options *opts, struct mz_db **out);
void mz_db_close(struct mz_db *db);
enum mz_db_kind mz_db_kind(const struct mz_db *db);
/* "sqlite" or "postgresql" */
const char *mz_db_kind_name(const struct mz_db *db);
/* The last error's English text from the backend (for logs only). */
const char *mz_db_errmsg(const struct mz_db *db);

/* Run SQL without parameters or results (DDL, PRAGMA); may hold several
 * statements separated by semicolons. */
int mz_db_exec(struct mz_db *db, const char *sql);

/* Prepare (or fetch from the cache) a statement; bound values are cleared.
 * MZ_ERR_DB with the message in mz_db_errmsg() when the SQL is bad. */
int mz_db_prepare(struct mz_db *db, const char *sql, struct mz_stmt **out);
/* Prepare outside the cache (for one-off dynamic SQL); finish with mz_db_finalize(). */
int mz_db_prepare_uncached(struct mz_db *db, const char *sql, struct mz_stmt **out);
void mz_db_finalize(struct mz_stmt *stmt);

/* Parameters are 1-based as in SQL. Text is copied by the backend. */
int mz_db_bind_int(struct mz_stmt *stmt, int idx, int64_t value);
int mz_db_bind_double(struct mz_stmt *stmt, int idx, double value);
int mz_db_bind_text(struct mz_stmt *stmt, int idx, const char *text); /* NULL binds null */
int mz_db_bind_textn(struct mz_stmt *stmt, int idx, const char *text, size_t len);
int mz_db_bind_blob(struct mz_stmt *stmt, int idx, const void *data, size_t len);
int mz_db_bind_null(struct mz_stmt *stmt, int idx);
int mz_db_param_count(struct mz_stmt *stmt);

/* MZ_ROW, MZ_DONE or a negative mz_err (MZ_ERR_CONFLICT on unique violation,
 * MZ_ERR_CONSTRAINT on other constraints, MZ_ERR_BUSY when locked). */
int mz_db_step(struct mz_stmt *stmt);
/* Reset a statement for reuse and clear its bindings. */
void mz_db_reset(struct mz_stmt *stmt);
/* Finish with a statement: reset if cached, finalize if not. */
void mz_db_done(struct mz_stmt *stmt);

/* Columns are 0-based. Text pointers are valid until the next step/reset. */
int mz_db_col_count(struct mz_stmt *stmt);
const char *mz_db_col_name(struct mz_stmt *stmt, int col);
enum mz_col_type mz_db_col_type(struct mz_stmt *stmt, int col);
int64_t mz_db_col_int(struct mz_stmt *stmt, int col);
double mz_db_col_double(struct mz_stmt *stmt, int col);
const char *mz_db_col_text(struct mz_stmt *stmt, int col); /* NULL for SQL null */
const void *mz_db_col_blob(struct mz_stmt *stmt, int col);
size_t mz_db_col_bytes(struct mz_stmt *stmt, int col);

/* Transactions. begin_write takes the write lock at once (BEGIN IMMEDIATE on
 * SQLite) so a writer never fails half-way on a lock upgrade. Nesting is not
 * supported: MZ_ERR_INTERNAL if a transaction is already open. */
/* A read snapshot for a request that only reads (SQLite): the statements
 * that follow share one read transaction (one WAL lock round instead of one
 * per statement) until mz_db_snapshot_end(), or until one of them is not a
 * plain read (a write, a transaction or connection statement), mz_db_exec()
 * or a begin: those end the snapshot first and then run as they would
 * without it, so a handler may still write (in autocommit, or in its own
 * transaction) and sees the latest data from then on. Invisible to
 * mz_db_in_transaction(). Does nothing on PostgreSQL, inside a transaction,
 * or if BEGIN fails. */
void mz_db_snapshot_begin(struct mz_db *db);
void mz_db_snapshot_end(struct mz_db *db);
int mz_db_begin(struct mz_db *db);
int mz_db_begin_write(struct mz_db *db);
int mz_db_commit(struct mz_db *db);
int mz_db_rollback(struct mz_db *db);
bool mz_db_in_transaction(const struct mz_db *db);

/* Rows changed by the last INSERT/UPDATE/DELETE, and the last inserted rowid. */
int64_t mz_db_changes(struct mz_db *db);
/* Rows changed by every statement of this connection so far (a counter that
 * moves on any write): -1 where the backend has none (PostgreSQL). */
int64_t mz_db_total_changes(struct mz_db *db);
int64_t mz_db_last_id(struct mz_db *db);
/* A version of the whole database as this connection sees it: two numbers
 * that both stay the same only while nothing was written, by this connection
 * or any other (other threads' connections, other processes). Lets a cache
 * of query results be checked with one cheap statement. SQLite only:
 * MZ_ERR_NOTFOUND on PostgreSQL (use no such cache there). */
int mz_db_data_version(struct mz_db *db, int64_t out[2]);
/* A number that names this connection among all opened by this process
 * (never reused, unlike its address): keys per-connection caches. */
uint64_t mz_db_serial(const struct mz_db *db);

/* Convenience: run a one-row query returning one integer (e.g. count(*)).
 * Parameters are text values (NULL entries bind null). MZ_ERR_NOTFOUND if no row. */
int mz_db_query_int(struct mz_db *db, const char *sql, int64_t *out, int nparams,
                    const char *const *params);

/* Secondary indexes dropped with their DDL kept, to be created again after a
 * bulk load (each then built in one sorted pass instead of row by row). */
struct mz_db_indexes {
    size_t n;
    char **sql; /* CREATE INDEX ... */
    char **tbl; /* its table */
};
/* SQLite: drop the indexes of the tables tables[0..ntables) that have SQL (not the automatic ones); with unique false the UNIQUE
 * ones stay. Appends them to out (mz_db_indexes_free it). MZ_OK or an error. */
int mz_db_indexes_drop(struct mz_db *db, const char *const *tables, size_t ntables, bool unique,
                       struct mz_db_indexes *out);
void mz_db_indexes_free(struct mz_db_indexes *ix);

/* Run one statement that returns no rows (INSERT/UPDATE/DELETE) with its
 * parameters given by a format: 'i' binds the next int64_t, 't' the next
 * const char * (NULL binds null). MZ_OK, or the step's negative mz_err. */
int mz_db_run(struct mz_db *db, const char *sql, const char *types, ...);

/* True if the table exists; columns of a table into a caller array. */
bool mz_db_table_exists(struct mz_db *db, const char *table);
bool mz_db_column_exists(struct mz_db *db, const char *table, const char *column);

/* Online backup to a new file, then an integrity check of the copy. */
int mz_db_backup(struct mz_db *db, const char *to_path);
/* PRAGMA integrity_check (SQLite) or the backend's equivalent: MZ_OK if "ok". */
int mz_db_integrity_check(struct mz_db *db);

/* Dialect: the few places SQL differs between backends. */
enum mz_dialect_item {
    MZ_SQL_AUTOINCREMENT_PK, /* "INTEGER PRIMARY KEY" | "BIGSERIAL PRIMARY KEY" */
    MZ_SQL_NOW,              /* an expression for the current UTC time as RFC 3339 text */
    MZ_SQL_BLOB,             /* "BLOB" | "BYTEA" */
    MZ_SQL_NO_INDEX,         /* prefix that keeps a column's index out of a plan: "+" | "" */
    MZ_SQL_INT64,            /* column type of a 64-bit integer: "INTEGER" | "BIGINT" */
};
const char *mz_db_dialect(const struct mz_db *db, enum mz_dialect_item item);

/* --- migrations ------------------------------------------------------------ */
/* A numbered step of a module. Steps run in order, each in a transaction, and
 * are recorded in mz_migrations(module, number, name, applied_at); applied
 * steps are skipped, so running them again changes nothing. Either sql or fn. */
struct mz_migration {
    int number;
    const char *name;
    const char *sql;                       /* portable SQL, may hold several statements */
    int (*fn)(struct mz_db *db);           /* for steps SQL alone cannot express */
};

/* Apply the module's steps that are not yet recorded. *applied counts new ones. */
int mz_db_migrate(struct mz_db *db, const char *module, const struct mz_migration *steps,
                  size_t nsteps, int *applied);

/* --- restore ----------------------------------------------------------------- */
/* Restore a SQLite database file: the source must be a database that passes
 * the integrity check (else MZ_ERR_INVALID, and to_path is not touched); it
 * is copied with the backup API to a temporary file beside to_path, renamed
 * into place (atomic), and the result checked again. to_path must not be open. */
int mz_db_restore(const char *from_path, const char *to_path);

/* --- fault injection (tests only) --------------------------------------------- */
/* After mz_db_fault_set(n), the nth call from now among prepare, step, exec,
 * begin and commit (counted process-wide, atomically) fails with MZ_ERR_DB and
 * mz_db_errmsg() "injected fault"; 0 disables. Rollback is never failed.
 * mz_db_fault_calls() tells how many calls were counted since the last
 * mz_db_fault_set(), so a test can run a workload once with 0 and then loop
 * n = 1..calls, proving every error path. */
void mz_db_fault_set(long nth);
long mz_db_fault_calls(void);

#endif
