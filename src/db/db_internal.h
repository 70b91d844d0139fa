/* db_internal.h - what lies behind include/mz/db.h: the backend vtable and
 * the connection and statement structs.
 *
 * db.c owns everything backends have in common: the statement cache, the
 * transaction state, fault injection, migrations and the error message of
 * failures it detects itself. A backend (sqlite.c, pg.c) implements
 * struct mz_db_ops over opaque handles and knows nothing of struct mz_db, so
 * adding one touches no caller: db.c picks the ops by the open spec.
 *
 * Backend contract:
 *  - Fallible calls return MZ_OK (or MZ_ROW/MZ_DONE for step) or a negative
 *    enum mz_err, and then leave an English message that errmsg() returns
 *    until the next failure (a success does not clear it).
 *  - Statement calls that can fail take the connection handle too, so the
 *    backend can record the message on it.
 *  - SQL uses `?` placeholders; a backend whose server wants `$1` rewrites.
 */
#ifndef MZ_DB_INTERNAL_H
#define MZ_DB_INTERNAL_H

#include "mz/db.h"

/* Statements kept per connection; beyond this they are prepared uncached. */
#define MZ_DB_CACHE_MAX 512
/* Hash buckets of the statement cache (a power of two, twice the cap). */
#define MZ_DB_CACHE_BUCKETS 1024
/* Slots of the statement cache's memo by SQL text address (a power of two). */
#define MZ_DB_MEMO_SLOTS 64
/* Bytes kept of an error message detected in db.c. */
#define MZ_DB_ERRMSG_MAX 256

/* A backend: a table of functions over its own connection and statement
 * handles, plus the few SQL texts db.c needs that differ between dialects. */
struct mz_db_ops {
    enum mz_db_kind kind; /* what mz_db_kind() reports */
    const char *name;     /* what mz_db_kind_name() reports: "sqlite" */

    /* SQL db.c runs for transactions and schema questions. */
    const char *sql_begin;         /* a deferred transaction: "BEGIN" */
    const char *sql_begin_write;   /* take the write lock now: "BEGIN IMMEDIATE" */
    const char *sql_commit;        /* "COMMIT" */
    const char *sql_rollback;      /* "ROLLBACK" */
    const char *sql_table_exists;  /* count(*) of tables named ?1 */
    const char *sql_column_exists; /* count(*) of columns named ?2 in table ?1 */

    /* Open the connection named by spec with complete options (defaults
     * applied). On failure *handle is untouched and errbuf holds an English
     * message (the caller has no connection to keep it on). */
    int (*open)(const char *spec, const struct mz_db_options *opts, void **handle, char *errbuf,
                size_t errlen);
    /* Close the connection; every statement has been finalized before. */
    void (*close)(void *conn);
    /* Run one or more statements without parameters or results. */
    int (*exec)(void *conn, const char *sql);
    /* Prepare exactly one statement; persistent hints that it will be cached
     * and reused many times. More than one statement is an error. */
    int (*prepare)(void *conn, const char *sql, bool persistent, void **stmt);
    /* Free a statement. */
    void (*finalize)(void *stmt);

    /* Bind a parameter (1-based). Text and blobs are copied. */
    int (*bind_int)(void *conn, void *stmt, int idx, int64_t value);
    int (*bind_double)(void *conn, void *stmt, int idx, double value);
    int (*bind_text)(void *conn, void *stmt, int idx, const char *text, size_t len);
    int (*bind_blob)(void *conn, void *stmt, int idx, const void *data, size_t len);
    int (*bind_null)(void *conn, void *stmt, int idx);
    /* Number of parameters the statement takes. */
    int (*param_count)(void *stmt);

    /* Run to the next row: MZ_ROW, MZ_DONE or a negative mz_err. */
    int (*step)(void *conn, void *stmt);
    /* Rewind the statement and clear its bindings. */
    void (*reset)(void *stmt);

    /* Columns of the current row (0-based). */
    int (*col_count)(void *stmt);
    const char *(*col_name)(void *stmt, int col);
    enum mz_col_type (*col_type)(void *stmt, int col);
    int64_t (*col_int)(void *stmt, int col);
    double (*col_double)(void *stmt, int col);
    const char *(*col_text)(void *stmt, int col);
    const void *(*col_blob)(void *stmt, int col);
    size_t (*col_bytes)(void *stmt, int col);

    /* Rows changed by the last write; rowid or id of the last insert. */
    int64_t (*changes)(void *conn);
    int64_t (*last_id)(void *conn);
    /* Rows changed by this connection since it opened (inserts, updates,
     * deletes, rolled back or not); NULL when the backend cannot tell
     * (then mz_db_data_version() is unsupported). */
    int64_t (*total_changes)(void *conn);
    /* True if running stmt may write or control transactions (anything but
     * a plain read); NULL when the backend has no read snapshots
     * (mz_db_snapshot_begin() then does nothing). */
    bool (*stmt_not_read)(void *stmt);
    /* Message of the last failure ("" if none yet). */
    const char *(*errmsg)(void *conn);
    /* True while the server holds a transaction open on this connection
     * (it may roll one back by itself after some errors). */
    bool (*in_transaction)(void *conn);

    /* Online copy to a new file, verified, then renamed into place. */
    int (*backup)(void *conn, const char *to_path);
    /* MZ_OK if the database passes the backend's integrity check. */
    int (*integrity_check)(void *conn);
    /* SQL text for a dialect item, NULL for an unknown item. */
    const char *(*dialect)(enum mz_dialect_item item);
};

/* The SQLite backend (sqlite.c). */
extern const struct mz_db_ops mz_db_sqlite_ops;
/* The library's process-wide settings (no memory statistics: they take a
 * global mutex per allocation), then sqlite3_initialize; once, before the
 * first connection or VFS (sqlite_bulk.c). */
void mz_sqlite_configure(void);
/* The PostgreSQL backend (pg.c). */
extern const struct mz_db_ops mz_db_pg_ops;

/* Transaction state of a connection as db.c sees it. */
enum mz_db_txn {
    MZ_DB_TXN_NONE,  /* autocommit */
    MZ_DB_TXN_READ,  /* opened by mz_db_begin() */
    MZ_DB_TXN_WRITE, /* opened by mz_db_begin_write() */
};

/* A prepared statement as callers see it. */
struct mz_stmt {
    struct mz_db *db; /* the connection it belongs to */
    void *handle;     /* the backend's statement */
    bool cached;      /* owned by the cache: done/finalize only reset it */
    bool in_use;      /* cached and handed out, not yet reset */
};

/* One statement of the cache, chained in its hash bucket. */
struct mz_db_cache_entry {
    char *sql;                      /* the SQL text, the key (owned) */
    uint64_t hash;                  /* FNV-1a of sql */
    struct mz_stmt *stmt;           /* the cached statement (owned) */
    struct mz_db_cache_entry *next; /* next entry of the same bucket */
};

/* A connection. */
struct mz_db {
    const struct mz_db_ops *ops; /* the backend */
    void *handle;                /* the backend's connection */
    /* Statement cache: hash map from SQL text to statement. */
    struct mz_db_cache_entry *cache[MZ_DB_CACHE_BUCKETS];
    size_t cache_count;            /* entries in the cache, at most MZ_DB_CACHE_MAX */
    /* The cache entry last found for a SQL text at this address: most SQL is
     * a string literal, so the next prepare of it skips the hash of its text
     * (a hit is still compared with strcmp, so reused memory never matches
     * another statement). Direct-mapped by address; cleared with the cache. */
    struct {
        const char *sql;
        struct mz_db_cache_entry *entry;
    } memo[MZ_DB_MEMO_SLOTS];
    enum mz_db_txn txn;            /* transaction opened through this API */
    uint64_t serial;               /* unique per connection opened by this process */
    bool snapshot;                 /* a read snapshot is open (mz_db_snapshot_begin) */
    void *snap_begin, *snap_end;   /* its prepared BEGIN and COMMIT (backend statements) */
    unsigned long failures;        /* failures so far (did a call leave a message?) */
    bool errmsg_local;             /* the last failure was detected in db.c */
    char errmsg[MZ_DB_ERRMSG_MAX]; /* its message, while errmsg_local */
};

#endif
