/* sqlite.c - the SQLite backend of struct mz_db_ops.
 *
 * A connection belongs to one thread (SQLITE_OPEN_NOMUTEX); URI file names
 * are refused so a path is always a path. Opening checks the path first, so
 * a missing file, a missing directory or an unwritable file gets an English
 * message that says which (MZ_ERR_IO), and with create=false nothing is ever
 * created. It then reads the schema (a file that is not a database fails
 * here, also MZ_ERR_IO) and sets the connection up: WAL (files only),
 * synchronous NORMAL or FULL, foreign keys, busy timeout, temp store in
 * memory, a 16 MB page cache and 256 MB of mmap (a server's whole file,
 * through one map per process kept across commits: sqlite_map.c).
 *
 * Checkpoints. SQLite's default copies the WAL into the database (a PASSIVE
 * checkpoint) in the committing thread whenever a commit leaves 1000 frames
 * or more in the WAL. After a large transaction (an import of a million
 * persons leaves ~600,000 frames, 2.4 GB) that copy took ~15 s of the
 * request that committed, before its reply. Every file connection has a WAL
 * hook instead that does what the default does, except after a commit that
 * added checkpoint_background_frames frames or more: that one hands the file
 * to one background thread with its own connection, which runs the same
 * PASSIVE checkpoint (readers and writers go on meanwhile; the next commits
 * checkpoint inline as before, so the WAL is restarted as before). The data
 * is durable at the commit either way: a checkpoint only moves it.
 *
 * The WAL's length is bounded. A PASSIVE checkpoint copies frames but
 * cannot restart the WAL while a reader still uses it, and under a steady
 * stream of writes beside readers (two workers, requests always in flight)
 * that moment seldom comes: the WAL grew to ~3 GB in 15 s of creates. When a
 * commit's inline checkpoint leaves wal_limit_frames or more (1 GB), the
 * committing connection runs a TRUNCATE checkpoint: it takes the write lock,
 * copies what is left (little: the inline checkpoints kept up), waits for the
 * readers still in the WAL (new ones read the database file meanwhile) and
 * truncates the WAL to zero. It waits WAL_TRUNCATE_WAIT_MS for a lock at
 * most, so a long reader (an export's snapshot) holds that one request and
 * the writers behind it no longer than that; a failed attempt is tried again
 * only after the WAL has grown by another quarter of the limit. A background
 * thread could not do this: it would seldom win the write lock from a stream
 * of writers. Each truncation holds the writers back while it copies and
 * syncs: at a 256 MB limit, ten of them in 15 s of creates at 64 connections
 * raised the creates' p99 from ~60 to 210-360 ms; at 1 GB it stays ~60 ms.
 *
 * Errors use extended result codes: unique and primary-key violations are
 * MZ_ERR_CONFLICT, other constraints MZ_ERR_CONSTRAINT, BUSY and LOCKED
 * MZ_ERR_BUSY, NOMEM MZ_ERR_NOMEM, TOOBIG MZ_ERR_TOOBIG, a bad parameter
 * index MZ_ERR_INVALID, anything else MZ_ERR_DB. The message of the last
 * failure is copied into the connection, so it survives later successes.
 *
 * Backup uses the online backup API in steps of 256 pages (retrying while
 * the source is busy) into a temporary file beside the target, reopens the
 * copy, runs PRAGMA integrity_check on it and only then renames it over the
 * target and syncs the directory: a failed backup never leaves a file under
 * the final name.
 *
 * Tested in tests/unit/test_db.c.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db_internal.h"

/* Pages copied per sqlite3_backup_step(). */
#define BACKUP_STEP_PAGES 256
/* Milliseconds slept between backup steps that found the source busy. */
#define BACKUP_BUSY_SLEEP_MS 10

/* The memory map's size, where one is used (PRAGMA mmap_size). */
#define MMAP_SIZE_TEXT "268435456"

/* A connection. */
struct sqlite_conn {
    sqlite3 *db;         /* the SQLite connection */
    int busy_timeout_ms; /* how long a lock is waited for */
    int wal_frames;      /* frames in the WAL after this connection's last commit */
    char msg[512];       /* English message of the last failure ("" if none) */
};

/* Map a (possibly extended) SQLite result code to an mz_err. */
static int sqlite_map(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return MZ_ERR_CONFLICT;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return MZ_ERR_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MZ_ERR_BUSY;
    case SQLITE_NOMEM:
        return MZ_ERR_NOMEM;
    case SQLITE_TOOBIG:
        return MZ_ERR_TOOBIG;
    case SQLITE_RANGE:
        return MZ_ERR_INVALID;
    default:
        return MZ_ERR_DB;
    }
}

/* Map a result code met while opening: a file that cannot be read as a
 * database is an I/O failure. */
static int sqlite_map_open(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_IOERR:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return MZ_ERR_IO;
    default:
        return sqlite_map(rc);
    }
}

/* Record the connection's current SQLite error; return it mapped. */
static int conn_fail(struct sqlite_conn *conn, int rc)
{
    snprintf(conn->msg, sizeof(conn->msg), "%s", sqlite3_errmsg(conn->db));
    return sqlite_map(rc);
}

/* Record a message of our own; return err. */
static int conn_fail_msg(struct sqlite_conn *conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conn_fail_msg(struct sqlite_conn *conn, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(conn->msg, sizeof(conn->msg), fmt, ap);
    va_end(ap);
    return err;
}

/* --- open and close ---------------------------------------------------------------- */

/* Check a file path before SQLite sees it, for clear messages: it must be a
 * readable (and unless readonly, writable) file, or be creatable. */
static int check_path(const char *path, const struct mz_db_options *opts, char *errbuf,
                      size_t errlen)
{
    struct stat st;
    char *copy = NULL;
    const char *dir;
    int rc = MZ_OK;

    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "%s is a directory, not a database file", path);
            rc = MZ_ERR_IO;
        } else if (access(path, opts->readonly ? R_OK : R_OK | W_OK) != 0) {
            snprintf(errbuf, errlen, "database file %s is not %s: %s", path,
                     opts->readonly ? "readable" : "readable and writable", strerror(errno));
            rc = MZ_ERR_IO;
        }
        goto out;
    }
    if (errno != ENOENT) {
        snprintf(errbuf, errlen, "cannot open database file %s: %s", path, strerror(errno));
        rc = MZ_ERR_IO;
        goto out;
    }
    if (!opts->create) {
        snprintf(errbuf, errlen, "database file %s does not exist", path);
        rc = MZ_ERR_IO;
        goto out;
    }
    copy = mz_xstrdup(path);
    dir = dirname(copy);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "cannot create database file %s: directory %s does not exist",
                 path, dir);
        rc = MZ_ERR_IO;
    } else if (access(dir, W_OK | X_OK) != 0) {
        snprintf(errbuf, errlen, "cannot create database file %s: directory %s is not writable",
                 path, dir);
        rc = MZ_ERR_IO;
    }
out:
    free(copy);
    return rc;
}

/* Run one PRAGMA that returns a text row (journal_mode) into out. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    out[0] = '\0';
    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(stmt, 0);
        snprintf(out, outlen, "%s", text != NULL ? (const char *)text : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    sqlite3_finalize(stmt);
    return rc;
}

/* --- checkpoints (see the top of the file) -------------------------------------- */

#define CHECKPOINT_INLINE_FRAMES 1000 /* SQLite's default autocheckpoint */

static long checkpoint_background_frames = 32768; /* 128 MB of 4 KB pages */
static long wal_limit_frames = 262144;            /* 1 GB */
#define WAL_TRUNCATE_WAIT_MS 100
static int wal_truncate_failed_at; /* WAL frames at the last failed TRUNCATE, or 0 (atomic) */
static long wal_truncations;       /* TRUNCATE checkpoints that succeeded (atomic) */

/* The background checkpointer: one thread, one pending file at a time. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stop, busy;
    char *pending;  /* the file to checkpoint next, or NULL */
    sqlite3 *db;    /* the thread's connection (set and cleared under lock) */
    char *db_path;  /* its file */
    long done;      /* checkpoints run */
} checkpointer = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *checkpointer_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&checkpointer.lock);
    for (;;) {
        while (!checkpointer.stop && checkpointer.pending == NULL)
            pthread_cond_wait(&checkpointer.cond, &checkpointer.lock);
        if (checkpointer.stop)
            break;
        char *path = checkpointer.pending;
        checkpointer.pending = NULL;
        checkpointer.busy = true;
        sqlite3 *db = checkpointer.db;
        if (db == NULL || strcmp(checkpointer.db_path, path) != 0) {
            /* A connection to this file (the one to another file closed). */
            checkpointer.db = NULL;
            free(checkpointer.db_path);
            checkpointer.db_path = NULL;
            pthread_mutex_unlock(&checkpointer.lock);
            sqlite3_close(db);
            db = NULL;
            int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(db, 5000);
                /* A first read opens the WAL (else the checkpoint sees none). */
                rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
            }
            if (rc != SQLITE_OK) {
                mz_warn("sqlite: background checkpoint: cannot open the database: %s",
                        db != NULL ? sqlite3_errmsg(db) : "out of memory");
                sqlite3_close(db);
                db = NULL;
            }
            pthread_mutex_lock(&checkpointer.lock);
            checkpointer.db = db; /* set under the lock: checkpointer_stop interrupts it */
            checkpointer.db_path = db != NULL ? mz_xstrdup(path) : NULL;
        }
        pthread_mutex_unlock(&checkpointer.lock);
        if (db != NULL) {
            int frames = 0, copied = 0;
            int64_t t0 = mz_mono_us();
            int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &frames,
                                               &copied);
            if (rc == SQLITE_OK)
                mz_info("sqlite: background checkpoint: %d of %d frames in %.1f s", copied,
                        frames, (double)(mz_mono_us() - t0) / 1e6);
            else
                mz_warn("sqlite: background checkpoint failed: %s", sqlite3_errmsg(db));
        }
        free(path);
        pthread_mutex_lock(&checkpointer.lock);
        checkpointer.busy = false;
        checkpointer.done++;
        pthread_cond_broadcast(&checkpointer.cond);
    }
    sqlite3 *db = checkpointer.db;
    checkpointer.db = NULL;
    pthread_mutex_unlock(&checkpointer.lock);
    sqlite3_close(db); /* the last connection to close a file checkpoints what is left */
    return NULL;
}

/* At exit: stop the thread (a checkpoint under way is interrupted; closing
 * the thread's connection finishes it when it is the file's last). */
static void checkpointer_stop(void)
{
    pthread_mutex_lock(&checkpointer.lock);
    if (!checkpointer.started) {
        pthread_mutex_unlock(&checkpointer.lock);
        return;
    }
    checkpointer.stop = true;
    if (checkpointer.busy && checkpointer.db != NULL)
        sqlite3_interrupt(checkpointer.db);
    pthread_cond_broadcast(&checkpointer.cond);
    pthread_mutex_unlock(&checkpointer.lock);
    pthread_join(checkpointer.thread, NULL);
    pthread_mutex_lock(&checkpointer.lock);
    checkpointer.started = false;
    free(checkpointer.pending);
    free(checkpointer.db_path);
    checkpointer.pending = checkpointer.db_path = NULL;
    pthread_cond_broadcast(&checkpointer.cond); /* mz_db_checkpoint_wait */
    pthread_mutex_unlock(&checkpointer.lock);
}

/* Hand path to the thread (started on first use). False when it cannot
 * take it (another file is pending, or no thread): checkpoint inline. */
static bool checkpointer_request(const char *path)
{
    bool taken = false;
    pthread_mutex_lock(&checkpointer.lock);
    if (!checkpointer.started && !checkpointer.stop) {
        if (pthread_create(&checkpointer.thread, NULL, checkpointer_main, NULL) == 0) {
            checkpointer.started = true;
            atexit(checkpointer_stop);
        }
    }
    if (checkpointer.started && !checkpointer.stop) {
        if (checkpointer.pending == NULL)
            checkpointer.pending = mz_xstrdup(path);
        taken = strcmp(checkpointer.pending, path) == 0;
        pthread_cond_broadcast(&checkpointer.cond);
    }
    pthread_mutex_unlock(&checkpointer.lock);
    return taken;
}

/* The WAL hook of every file connection, called after each commit with the
 * frames in the WAL: SQLite's autocheckpoint, except for a commit that
 * added the background threshold's frames or more, which the checkpointer
 * takes. What decides is the frames the commit added (as far as this
 * connection can tell: the count since its previous commit, other
 * connections' commits in between included), not the WAL's length: under
 * a steady stream of small commits beside readers the WAL is seldom wholly
 * copied at the moment a writer begins, so it is not restarted and stays
 * long, and handing every such commit over let it grow without end (4 GB
 * in a minute of creates) while the inline checkpoints keep it bounded. */
static int wal_hook(void *arg, sqlite3 *db, const char *schema, int frames)
{
    struct sqlite_conn *conn = arg;
    int added = frames >= conn->wal_frames ? frames - conn->wal_frames : frames;
    conn->wal_frames = frames;
    if (frames < CHECKPOINT_INLINE_FRAMES)
        return SQLITE_OK;
    const char *path = sqlite3_db_filename(db, schema);
    if (added >= checkpoint_background_frames && strcmp(schema, "main") == 0 && path &&
        *path && checkpointer_request(path))
        return SQLITE_OK;
    int left = 0;
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &left, NULL);
    if (left >= wal_limit_frames) {
        /* Still long after the copy: not restarted (see the top of the file). */
        int failed_at = __atomic_load_n(&wal_truncate_failed_at, __ATOMIC_RELAXED);
        if (failed_at == 0 || left < failed_at || left >= failed_at + wal_limit_frames / 4) {
            sqlite3_busy_timeout(db, WAL_TRUNCATE_WAIT_MS);
            int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
            sqlite3_busy_timeout(db, conn->busy_timeout_ms);
            __atomic_store_n(&wal_truncate_failed_at, rc == SQLITE_OK ? 0 : left,
                             __ATOMIC_RELAXED);
            if (rc == SQLITE_OK)
                __atomic_add_fetch(&wal_truncations, 1, __ATOMIC_RELAXED);
            else
                mz_info("sqlite: the WAL (%d frames) could not be truncated yet: %s", left,
                        sqlite3_errmsg(db));
        }
    }
    return SQLITE_OK; /* as the default hook: a checkpoint that fails is not the commit's */
}

void mz_db_wal_limit_at(long frames)
{
    wal_limit_frames = frames > 0 ? frames : 262144;
    __atomic_store_n(&wal_truncate_failed_at, 0, __ATOMIC_RELAXED);
}

long mz_db_wal_truncations(void)
{
    return __atomic_load_n(&wal_truncations, __ATOMIC_RELAXED);
}

void mz_db_checkpoint_background_at(long frames)
{
    checkpoint_background_frames = frames > 0 ? frames : 32768;
}

long mz_db_checkpoint_wait(void)
{
    pthread_mutex_lock(&checkpointer.lock);
    while (checkpointer.started && (checkpointer.pending != NULL || checkpointer.busy))
        pthread_cond_wait(&checkpointer.cond, &checkpointer.lock);
    long done = checkpointer.done;
    pthread_mutex_unlock(&checkpointer.lock);
    return done;
}

/* Set a fresh connection up; errbuf says what failed. */
static int configure(sqlite3 *db, const char *path, bool memory, const struct mz_db_options *opts,
                     char *errbuf, size_t errlen)
{
    static const char *const pragmas[] = {
        "PRAGMA foreign_keys=ON",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA cache_size=-16000",
        "PRAGMA mmap_size=" MMAP_SIZE_TEXT,
    };
    char mode[32];
    int rc;

    /* Reading the schema is the first read of the file: a file that is not
     * a database fails here rather than on the first query. */
    rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            snprintf(errbuf, errlen, "%s is not a sqlite database file", path);
        else
            snprintf(errbuf, errlen, "cannot read database file %s: %s", path, sqlite3_errmsg(db));
        return sqlite_map_open(rc);
    }
    if (!memory && !opts->readonly) {
        rc = pragma_text(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot set wal journal mode on %s: %s", path,
                     sqlite3_errmsg(db));
            return sqlite_map_open(rc);
        }
        if (strcasecmp(mode, "wal") != 0) {
            snprintf(errbuf, errlen, "cannot set wal journal mode on %s: journal mode is %s", path,
                     mode);
            return MZ_ERR_IO;
        }
    }
    rc = sqlite3_exec(
        db, opts->synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL,
        NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < MZ_ARRAY_LEN(pragmas); i++)
        rc = sqlite3_exec(db, pragmas[i], NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot configure database %s: %s", path, sqlite3_errmsg(db));
        return sqlite_map_open(rc);
    }
    return MZ_OK;
}

/* Process-wide SQLite settings, applied once before the library starts:
 * memory statistics off, since with them every allocation in every
 * connection takes one global mutex, which serialised the worker threads. */
static void sqlite_configure_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

void mz_sqlite_configure(void)
{
    pthread_once(&sqlite_configured, sqlite_configure_once);
}

/* Open a file or ":memory:" as described at the top of this file. */
static int sqlite_open(const char *spec, const struct mz_db_options *opts, void **handle,
                       char *errbuf, size_t errlen)
{
    struct sqlite_conn *conn;
    sqlite3 *db = NULL;
    bool memory = strcmp(spec, ":memory:") == 0;
    int flags = SQLITE_OPEN_NOMUTEX;
    int rc;
    mz_sqlite_configure();
    if (strncmp(spec, "file:", 5) == 0) {
        snprintf(errbuf, errlen, "uri file names are not accepted: %s", spec);
        rc = MZ_ERR_INVALID;
        goto out;
    }
    if (!memory) {
        rc = check_path(spec, opts, errbuf, errlen);
        if (rc != MZ_OK)
            goto out;
    }
    if (opts->readonly)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (opts->create ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(spec, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open database file %s: %s", spec,
                 db != NULL ? sqlite3_errmsg(db) : "out of memory");
        rc = sqlite_map_open(rc);
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, opts->busy_timeout_ms);
    rc = configure(db, spec, memory, opts, errbuf, errlen);
    if (rc != MZ_OK)
        goto out;
    conn = mz_xcalloc(1, sizeof(*conn));
    conn->db = db;
    conn->busy_timeout_ms = opts->busy_timeout_ms;
    if (!memory && !opts->readonly) /* WAL (configure): instead of the autocheckpoint */
        sqlite3_wal_hook(db, wal_hook, conn);
    db = NULL;
    *handle = conn;
out:
    sqlite3_close(db);
    return rc;
}

/* Close the connection (a checkpoint runs on the last close of a file). */
static void sqlite_close(void *handle)
{
    struct sqlite_conn *conn = handle;

    if (conn == NULL)
        return;
    if (sqlite3_close(conn->db) != SQLITE_OK) {
        /* Statements were leaked: a bug. Close once they are finalized. */
        mz_error("database close failed: %s", sqlite3_errmsg(conn->db));
        sqlite3_close_v2(conn->db);
    }
    free(conn);
}

/* --- statements --------------------------------------------------------------------- */

/* Run one or more statements (sqlite3_exec). */
static int sqlite_exec(void *handle, const char *sql)
{
    struct sqlite_conn *conn = handle;
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return conn_fail(conn, rc);
    return MZ_OK;
}

/* Exactly one statement: anything but blanks and comments after it is an
 * error, since it would be silently ignored. */
static int sqlite_prepare(void *handle, const char *sql, bool persistent, void **out)
{
    struct sqlite_conn *conn = handle;
    sqlite3_stmt *stmt = NULL;
    sqlite3_stmt *extra = NULL;
    const char *tail = NULL;
    int rc;

    rc = sqlite3_prepare_v3(conn->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
                            &tail);
    if (rc != SQLITE_OK) {
        rc = conn_fail(conn, rc);
        goto out;
    }
    if (stmt == NULL) {
        rc = conn_fail_msg(conn, MZ_ERR_DB, "prepare: no statement in the sql");
        goto out;
    }
    while (tail != NULL && *tail != '\0') {
        const char *next = NULL;
        rc = sqlite3_prepare_v2(conn->db, tail, -1, &extra, &next);
        if (rc != SQLITE_OK) {
            rc = conn_fail(conn, rc);
            goto out;
        }
        if (extra != NULL) {
            rc = conn_fail_msg(conn, MZ_ERR_DB,
                               "prepare: more than one statement in the sql (use mz_db_exec)");
            goto out;
        }
        if (next == tail)
            break;
        tail = next;
    }
    *out = stmt;
    stmt = NULL;
    rc = MZ_OK;
out:
    sqlite3_finalize(extra);
    sqlite3_finalize(stmt);
    return rc;
}

/* Free a statement. */
static void sqlite_finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

/* Check a bind result. */
static int bind_result(struct sqlite_conn *conn, int rc)
{
    if (rc != SQLITE_OK)
        return conn_fail(conn, rc);
    return MZ_OK;
}

/* Bind a 64-bit integer. */
static int sqlite_bind_int(void *handle, void *stmt, int idx, int64_t value)
{
    return bind_result(handle, sqlite3_bind_int64(stmt, idx, value));
}

/* Bind a double. */
static int sqlite_bind_double(void *handle, void *stmt, int idx, double value)
{
    return bind_result(handle, sqlite3_bind_double(stmt, idx, value));
}

/* Bind UTF-8 text, copied. */
static int sqlite_bind_text(void *handle, void *stmt, int idx, const char *text, size_t len)
{
    return bind_result(handle,
                       sqlite3_bind_text64(stmt, idx, text, len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

/* An empty blob is bound as a zero-length blob, not as null. */
static int sqlite_bind_blob(void *handle, void *stmt, int idx, const void *data, size_t len)
{
    if (len == 0)
        return bind_result(handle, sqlite3_bind_zeroblob(stmt, idx, 0));
    return bind_result(handle, sqlite3_bind_blob64(stmt, idx, data, len, SQLITE_TRANSIENT));
}

/* Bind null. */
static int sqlite_bind_null(void *handle, void *stmt, int idx)
{
    return bind_result(handle, sqlite3_bind_null(stmt, idx));
}

/* Number of parameters. */
static int sqlite_param_count(void *stmt)
{
    return sqlite3_bind_parameter_count(stmt);
}

/* Step: MZ_ROW, MZ_DONE or the mapped error. */
static int sqlite_step(void *handle, void *stmt)
{
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_ROW)
        return MZ_ROW;
    if (rc == SQLITE_DONE)
        return MZ_DONE;
    return conn_fail(handle, rc);
}

/* Anything but a plain read: a write, or a statement that SQLite calls
 * read-only but that controls transactions or the connection. */
static bool sqlite_stmt_not_read(void *stmt)
{
    static const char *const control[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT",
                                          "RELEASE", "ATTACH", "DETACH", "VACUUM"};
    if (!sqlite3_stmt_readonly(stmt))
        return true;
    const char *sql = sqlite3_sql(stmt);
    if (sql == NULL)
        return true;
    while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
        sql++;
    if (strncasecmp(sql, "PRAGMA", 6) == 0)
        return strncasecmp(sql, "PRAGMA data_version", 19) != 0;
    for (size_t i = 0; i < sizeof(control) / sizeof(control[0]); i++) {
        size_t n = strlen(control[i]);
        if (strncasecmp(sql, control[i], n) == 0)
            return true;
    }
    return false;
}

/* The error sqlite3_reset() repeats was already reported by step. */
static void sqlite_reset(void *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Result columns. */
static int sqlite_col_count(void *stmt)
{
    return sqlite3_column_count(stmt);
}

/* Name of a result column. */
static const char *sqlite_col_name(void *stmt, int col)
{
    return sqlite3_column_name(stmt, col);
}

/* Storage class of a column of the current row. */
static enum mz_col_type sqlite_col_type(void *stmt, int col)
{
    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
        return MZ_COL_INT;
    case SQLITE_FLOAT:
        return MZ_COL_REAL;
    case SQLITE_TEXT:
        return MZ_COL_TEXT;
    case SQLITE_BLOB:
        return MZ_COL_BLOB;
    default:
        return MZ_COL_NULL;
    }
}

/* A column as a 64-bit integer. */
static int64_t sqlite_col_int(void *stmt, int col)
{
    return sqlite3_column_int64(stmt, col);
}

/* A column as a double. */
static double sqlite_col_double(void *stmt, int col)
{
    return sqlite3_column_double(stmt, col);
}

/* A column as UTF-8 text, NULL for null. */
static const char *sqlite_col_text(void *stmt, int col)
{
    return (const char *)sqlite3_column_text(stmt, col);
}

/* A column as bytes. */
static const void *sqlite_col_blob(void *stmt, int col)
{
    return sqlite3_column_blob(stmt, col);
}

/* Bytes of a text or blob column. */
static size_t sqlite_col_bytes(void *stmt, int col)
{
    return (size_t)sqlite3_column_bytes(stmt, col);
}

/* --- connection state ------------------------------------------------------------------ */

/* Rows changed by the last write. */
static int64_t sqlite_changes(void *handle)
{
    struct sqlite_conn *conn = handle;

    return sqlite3_changes64(conn->db);
}

/* Rows changed by this connection since it opened. */
static int64_t sqlite_total_changes(void *handle)
{
    struct sqlite_conn *conn = handle;

    return sqlite3_total_changes64(conn->db);
}

/* Rowid of the last insert. */
static int64_t sqlite_last_id(void *handle)
{
    struct sqlite_conn *conn = handle;

    return sqlite3_last_insert_rowid(conn->db);
}

/* The message of the last failure on this connection. */
static const char *sqlite_errmsg(void *handle)
{
    struct sqlite_conn *conn = handle;

    return conn->msg;
}

/* True unless the connection is in autocommit mode. */
static bool sqlite_in_transaction(void *handle)
{
    struct sqlite_conn *conn = handle;

    return sqlite3_get_autocommit(conn->db) == 0;
}

/* --- integrity and backup --------------------------------------------------------------- */

/* PRAGMA integrity_check on db: MZ_OK if its first row is "ok"; otherwise
 * msg holds the first problem reported. */
static int check_integrity(sqlite3 *db, char *msg, size_t msglen)
{
    sqlite3_stmt *stmt = NULL;
    const char *text;
    int rc;

    rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, msglen, "integrity check failed: %s", sqlite3_errmsg(db));
        rc = MZ_ERR_DB;
        goto out;
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        snprintf(msg, msglen, "integrity check failed: %s", sqlite3_errmsg(db));
        rc = MZ_ERR_DB;
        goto out;
    }
    text = (const char *)sqlite3_column_text(stmt, 0);
    if (text == NULL || strcmp(text, "ok") != 0) {
        snprintf(msg, msglen, "integrity check failed: %s", text != NULL ? text : "no result");
        rc = MZ_ERR_DB;
        goto out;
    }
    rc = MZ_OK;
out:
    sqlite3_finalize(stmt);
    return rc;
}

/* PRAGMA integrity_check on the main database. */
static int sqlite_integrity_check(void *handle)
{
    struct sqlite_conn *conn = handle;

    return check_integrity(conn->db, conn->msg, sizeof(conn->msg));
}

/* Remove the WAL, shared-memory and rollback journal files of path, so a
 * file renamed to path is not paired with the journal of its predecessor. */
static void remove_side_files(const char *path)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    char name[PATH_MAX];

    for (size_t i = 0; i < MZ_ARRAY_LEN(suffixes); i++) {
        int n = snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
        if (n < 0 || (size_t)n >= sizeof(name))
            continue; /* no such file can exist */
        if (unlink(name) != 0 && errno != ENOENT)
            mz_warn("cannot remove %s: %s", name, strerror(errno));
    }
}

/* fsync the directory holding path, so a rename into it is durable. */
static void sync_directory(const char *path)
{
    char *copy = mz_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0)
        mz_warn("cannot sync the directory of %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
}

/* Open the finished copy afresh (so pages come from the file, not a cache)
 * and check it. */
static int verify_copy(const char *path, char *msg, size_t msglen)
{
    sqlite3 *db = NULL;
    int rc;

    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(msg, msglen, "cannot open the copy %s: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : "out of memory");
        rc = MZ_ERR_IO;
        goto out;
    }
    rc = check_integrity(db, msg, msglen);
out:
    sqlite3_close(db);
    return rc;
}

/* True if path exists and is the file db has open as "main". */
static bool is_own_file(sqlite3 *db, const char *path)
{
    const char *own = sqlite3_db_filename(db, "main");
    struct stat a, b;

    if (own == NULL || own[0] == '\0' || stat(own, &a) != 0 || stat(path, &b) != 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Copy the main database of conn to a temporary file beside to_path, verify
 * it and rename it to to_path. */
static int sqlite_backup(void *handle, const char *to_path)
{
    struct sqlite_conn *conn = handle;
    sqlite3_backup *backup = NULL;
    sqlite3 *dest = NULL;
    size_t tmp_len = strlen(to_path) + 16;
    char *tmp = mz_xmalloc(tmp_len);
    bool tmp_exists = false;
    int busy_waited_ms = 0;
    int fd, rc;

    if (is_own_file(conn->db, to_path)) {
        rc =
            conn_fail_msg(conn, MZ_ERR_INVALID, "backup target %s is the database itself", to_path);
        goto out;
    }
    snprintf(tmp, tmp_len, "%s.tmp-XXXXXX", to_path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = conn_fail_msg(conn, MZ_ERR_IO, "cannot create a temporary file beside %s: %s", to_path,
                           strerror(errno));
        goto out;
    }
    close(fd);
    tmp_exists = true;
    rc = sqlite3_open_v2(tmp, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = conn_fail_msg(conn, MZ_ERR_IO, "cannot open backup file %s: %s", tmp,
                           dest != NULL ? sqlite3_errmsg(dest) : "out of memory");
        goto out;
    }
    backup = sqlite3_backup_init(dest, "main", conn->db, "main");
    if (backup == NULL) {
        rc = conn_fail_msg(conn, sqlite_map(sqlite3_extended_errcode(dest)),
                           "cannot start backup to %s: %s", to_path, sqlite3_errmsg(dest));
        goto out;
    }
    for (;;) {
        rc = sqlite3_backup_step(backup, BACKUP_STEP_PAGES);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK) {
            busy_waited_ms = 0;
            continue;
        }
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            rc = conn_fail_msg(conn, sqlite_map(rc), "backup to %s failed: %s", to_path,
                               sqlite3_errstr(rc));
            goto out;
        }
        if (busy_waited_ms >= conn->busy_timeout_ms) {
            rc = conn_fail_msg(conn, MZ_ERR_BUSY, "backup to %s: database busy for %d ms", to_path,
                               busy_waited_ms);
            goto out;
        }
        sqlite3_sleep(BACKUP_BUSY_SLEEP_MS);
        busy_waited_ms += BACKUP_BUSY_SLEEP_MS;
    }
    rc = sqlite3_backup_finish(backup);
    backup = NULL;
    if (rc != SQLITE_OK) {
        rc = conn_fail_msg(conn, sqlite_map(rc), "backup to %s failed: %s", to_path,
                           sqlite3_errmsg(dest));
        goto out;
    }
    rc = sqlite3_close(dest);
    dest = NULL;
    if (rc != SQLITE_OK) {
        rc = conn_fail_msg(conn, MZ_ERR_IO, "cannot close backup file %s: %s", tmp,
                           sqlite3_errstr(rc));
        goto out;
    }
    rc = verify_copy(tmp, conn->msg, sizeof(conn->msg));
    if (rc != MZ_OK)
        goto out;
    remove_side_files(to_path);
    if (rename(tmp, to_path) != 0) {
        rc = conn_fail_msg(conn, MZ_ERR_IO, "cannot rename %s to %s: %s", tmp, to_path,
                           strerror(errno));
        goto out;
    }
    tmp_exists = false;
    sync_directory(to_path);
    rc = MZ_OK;
out:
    if (backup != NULL)
        sqlite3_backup_finish(backup);
    sqlite3_close(dest);
    if (tmp_exists) {
        unlink(tmp);
        remove_side_files(tmp);
    }
    free(tmp);
    return rc;
}

/* --- dialect ------------------------------------------------------------------------------ */

/* SQLite's SQL for the dialect items. */
static const char *sqlite_dialect(enum mz_dialect_item item)
{
    switch (item) {
    case MZ_SQL_AUTOINCREMENT_PK:
        return "INTEGER PRIMARY KEY";
    case MZ_SQL_NOW:
        return "strftime('%Y-%m-%dT%H:%M:%fZ','now')";
    case MZ_SQL_NO_INDEX:
        /* SQLite (without STAT4) cannot tell a range covering the whole table
         * from a narrow one; a unary plus stops it from using the index. */
        return "+";
    case MZ_SQL_BLOB:
        return "BLOB";
    case MZ_SQL_INT64:
        return "INTEGER";
    }
    return NULL;
}

/* The backend table db.c uses for file paths and ":memory:". */
const struct mz_db_ops mz_db_sqlite_ops = {
    .kind = MZ_DB_SQLITE,
    .name = "sqlite",
    .sql_begin = "BEGIN",
    .sql_begin_write = "BEGIN IMMEDIATE",
    .sql_commit = "COMMIT",
    .sql_rollback = "ROLLBACK",
    .sql_table_exists =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
    .sql_column_exists = "SELECT count(*) FROM pragma_table_info(?) WHERE name = ? COLLATE NOCASE",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .bind_int = sqlite_bind_int,
    .bind_double = sqlite_bind_double,
    .bind_text = sqlite_bind_text,
    .bind_blob = sqlite_bind_blob,
    .bind_null = sqlite_bind_null,
    .param_count = sqlite_param_count,
    .step = sqlite_step,
    .reset = sqlite_reset,
    .col_count = sqlite_col_count,
    .col_name = sqlite_col_name,
    .col_type = sqlite_col_type,
    .col_int = sqlite_col_int,
    .col_double = sqlite_col_double,
    .col_text = sqlite_col_text,
    .col_blob = sqlite_col_blob,
    .col_bytes = sqlite_col_bytes,
    .changes = sqlite_changes,
    .last_id = sqlite_last_id,
    .total_changes = sqlite_total_changes,
    .stmt_not_read = sqlite_stmt_not_read,
    .errmsg = sqlite_errmsg,
    .in_transaction = sqlite_in_transaction,
    .backup = sqlite_backup,
    .integrity_check = sqlite_integrity_check,
    .dialect = sqlite_dialect,
};
