/* test_db.c - unit tests of the database layer (src/db/db.c, src/db/sqlite.c).
 *
 * Runs against ":memory:" and files in a fresh temporary directory (removed
 * at the end). Log lines go to a file in that directory so tests can check
 * what was logged. The fault-injection tests run a workload once to count
 * its database calls, then fail each call in turn and check that every run
 * ends with a clean error and unchanged data (run under ASan for leaks).
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db/db_internal.h"
#include "mz/db.h"

/* The temporary directory of this run. */
static char test_dir[64];
/* The log file inside it. */
static char log_path[128];
/* Its descriptor (mz_log writes there). */
static int log_fd = -1;

/* A path inside the temporary directory (a static buffer per slot). */
static const char *tmp_path(int slot, const char *name)
{
    static char paths[4][256];

    snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", test_dir, name);
    return paths[slot];
}

/* True if the log file contains needle. */
static bool log_contains(const char *needle)
{
    char buf[65536];
    ssize_t n;
    int fd = open(log_path, O_RDONLY);

    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* True if a file exists at path. */
static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Count the directory entries whose name contains needle. */
static int dir_count_matching(const char *needle)
{
    DIR *dir = opendir(test_dir);
    struct dirent *entry;
    int count = 0;

    assert_non_null(dir);
    for (entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        if (strstr(entry->d_name, needle) != NULL)
            count++;
    }
    closedir(dir);
    return count;
}

/* Write len bytes to a new file at path. */
static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Read a whole (small) file into a malloc'd buffer. */
static char *read_file(const char *path, size_t *len)
{
    struct stat st;
    char *data;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = mz_xmalloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return data;
}

/* Open a database with create=true and the given busy timeout. */
static struct mz_db *open_file(const char *path, int busy_timeout_ms)
{
    struct mz_db_options opts = {.create = true, .busy_timeout_ms = busy_timeout_ms};
    struct mz_db *db = NULL;

    assert_int_equal(mz_db_open(path, &opts, &db), MZ_OK);
    assert_non_null(db);
    return db;
}

/* Open an in-memory database. */
static struct mz_db *open_memory(void)
{
    struct mz_db *db = NULL;

    assert_int_equal(mz_db_open(":memory:", NULL, &db), MZ_OK);
    return db;
}

/* count(*) of a table. */
static int64_t count_rows(struct mz_db *db, const char *table)
{
    char sql[128];
    int64_t n = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(mz_db_query_int(db, sql, &n, 0, NULL), MZ_OK);
    return n;
}

/* A text result of a one-row query, copied into out. */
static void query_text(struct mz_db *db, const char *sql, char *out, size_t outlen)
{
    struct mz_stmt *stmt = NULL;

    assert_int_equal(mz_db_prepare(db, sql, &stmt), MZ_OK);
    assert_int_equal(mz_db_step(stmt), MZ_ROW);
    snprintf(out, outlen, "%s", mz_db_col_text(stmt, 0));
    mz_db_done(stmt);
}

/* Create the temporary directory and send the log there. */
static int group_setup(void **state)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/mz_test_db_XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(log_path, sizeof(log_path), "%s/test.log", test_dir);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd < 0)
        return -1;
    mz_log_set_fd(log_fd);
    return 0;
}

/* Remove the temporary directory (it holds only files). */
static int group_teardown(void **state)
{
    DIR *dir = opendir(test_dir);
    struct dirent *entry;
    char path[512];

    mz_log_set_fd(2);
    close(log_fd);
    if (dir == NULL)
        return -1;
    for (entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", test_dir, entry->d_name);
        unlink(path);
    }
    closedir(dir);
    return rmdir(test_dir);
}

/* --- statements ------------------------------------------------------------------ */

/* Every type round-trips through bind and column, including int64 extremes
 * and UTF-8 text. */
static void test_types_round_trip(void **state)
{
    static const char utf8[] = "民政局 · 低保审批 ✓ 😀 Ünïcödé";
    static const unsigned char blob[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    struct mz_db *db = open_memory();
    struct mz_stmt *stmt = NULL;

    assert_int_equal(mz_db_kind(db), MZ_DB_SQLITE);
    assert_string_equal(mz_db_kind_name(db), "sqlite");
    assert_int_equal(mz_db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, "
                                    "d REAL, s TEXT, b BLOB, n TEXT)"),
                     MZ_OK);

    assert_int_equal(
        mz_db_prepare(db, "INSERT INTO t (i, d, s, b, n) VALUES (?, ?, ?, ?, ?)", &stmt), MZ_OK);
    assert_int_equal(mz_db_param_count(stmt), 5);
    int64_t values[] = {INT64_MIN, INT64_MAX, 0, -1};
    for (size_t k = 0; k < MZ_ARRAY_LEN(values); k++) {
        assert_int_equal(mz_db_bind_int(stmt, 1, values[k]), MZ_OK);
        assert_int_equal(mz_db_bind_double(stmt, 2, -1234.5625), MZ_OK);
        assert_int_equal(mz_db_bind_text(stmt, 3, utf8), MZ_OK);
        assert_int_equal(mz_db_bind_blob(stmt, 4, blob, sizeof(blob)), MZ_OK);
        assert_int_equal(mz_db_bind_null(stmt, 5), MZ_OK);
        assert_int_equal(mz_db_step(stmt), MZ_DONE);
        assert_int_equal(mz_db_changes(db), 1);
        assert_int_equal(mz_db_last_id(db), (int64_t)k + 1);
        mz_db_reset(stmt);
    }
    /* textn takes a prefix (here the first two characters, 6 bytes); an empty
     * blob is a blob, not null; NULL text binds null. */
    assert_int_equal(
        mz_db_prepare(db, "INSERT INTO t (i, d, s, b, n) VALUES (?, ?, ?, ?, ?)", &stmt), MZ_OK);
    assert_int_equal(mz_db_bind_int(stmt, 1, 42), MZ_OK);
    assert_int_equal(mz_db_bind_double(stmt, 2, 0.0), MZ_OK);
    assert_int_equal(mz_db_bind_textn(stmt, 3, utf8, 6), MZ_OK);
    assert_int_equal(mz_db_bind_blob(stmt, 4, NULL, 0), MZ_OK);
    assert_int_equal(mz_db_bind_text(stmt, 5, NULL), MZ_OK);
    assert_int_equal(mz_db_step(stmt), MZ_DONE);
    mz_db_done(stmt);

    assert_int_equal(mz_db_prepare(db, "SELECT i, d, s, b, n FROM t ORDER BY id", &stmt), MZ_OK);
    assert_int_equal(mz_db_col_count(stmt), 5);
    assert_string_equal(mz_db_col_name(stmt, 2), "s");
    for (size_t k = 0; k < MZ_ARRAY_LEN(values); k++) {
        assert_int_equal(mz_db_step(stmt), MZ_ROW);
        assert_int_equal(mz_db_col_type(stmt, 0), MZ_COL_INT);
        assert_true(mz_db_col_int(stmt, 0) == values[k]);
        assert_int_equal(mz_db_col_type(stmt, 1), MZ_COL_REAL);
        assert_true(mz_db_col_double(stmt, 1) == -1234.5625);
        assert_int_equal(mz_db_col_type(stmt, 2), MZ_COL_TEXT);
        assert_string_equal(mz_db_col_text(stmt, 2), utf8);
        assert_int_equal(mz_db_col_bytes(stmt, 2), strlen(utf8));
        assert_int_equal(mz_db_col_type(stmt, 3), MZ_COL_BLOB);
        const void *got = mz_db_col_blob(stmt, 3);
        assert_int_equal(mz_db_col_bytes(stmt, 3), sizeof(blob));
        assert_memory_equal(got, blob, sizeof(blob));
        assert_int_equal(mz_db_col_type(stmt, 4), MZ_COL_NULL);
        assert_null(mz_db_col_text(stmt, 4));
    }
    assert_int_equal(mz_db_step(stmt), MZ_ROW);
    assert_string_equal(mz_db_col_text(stmt, 2), "民政");
    assert_int_equal(mz_db_col_type(stmt, 3), MZ_COL_BLOB);
    assert_int_equal(mz_db_col_bytes(stmt, 3), 0);
    assert_int_equal(mz_db_col_type(stmt, 4), MZ_COL_NULL);
    assert_int_equal(mz_db_step(stmt), MZ_DONE);
    mz_db_done(stmt);

    /* A bad parameter index is invalid input. */
    assert_int_equal(mz_db_prepare(db, "SELECT ?", &stmt), MZ_OK);
    assert_int_equal(mz_db_bind_int(stmt, 2, 1), MZ_ERR_INVALID);
    mz_db_done(stmt);
    mz_db_close(db);
}

/* The cache returns the same statement for the same SQL, with bindings
 * cleared; a statement still in use is not handed out twice; beyond the cap
 * statements are uncached and finalized on done (ASan checks the leaks). */
static void test_statement_cache(void **state)
{
    struct mz_db *db = open_memory();
    struct mz_stmt *first = NULL;
    struct mz_stmt *second = NULL;
    struct mz_stmt *stmt = NULL;
    char sql[64];

    assert_int_equal(mz_db_prepare(db, "SELECT ?", &first), MZ_OK);
    assert_true(first->cached);
    assert_int_equal(mz_db_bind_int(first, 1, 7), MZ_OK);
    assert_int_equal(mz_db_step(first), MZ_ROW);
    assert_int_equal(mz_db_col_int(first, 0), 7);
    mz_db_done(first);

    assert_int_equal(mz_db_prepare(db, "SELECT ?", &second), MZ_OK);
    assert_ptr_equal(first, second);
    assert_int_equal(mz_db_step(second), MZ_ROW);
    assert_int_equal(mz_db_col_type(second, 0), MZ_COL_NULL); /* binding cleared */

    /* Prepared again while in use: a separate, uncached statement. */
    assert_int_equal(mz_db_prepare(db, "SELECT ?", &stmt), MZ_OK);
    assert_ptr_not_equal(stmt, second);
    assert_false(stmt->cached);
    mz_db_done(stmt);
    mz_db_done(second);

    /* Uncached on request. */
    assert_int_equal(mz_db_prepare_uncached(db, "SELECT ?", &stmt), MZ_OK);
    assert_ptr_not_equal(stmt, first);
    assert_false(stmt->cached);
    mz_db_finalize(stmt);

    /* Fill the cache to its cap; the next ones are uncached. */
    for (int i = 1; i < MZ_DB_CACHE_MAX; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        assert_int_equal(mz_db_prepare(db, sql, &stmt), MZ_OK);
        assert_true(stmt->cached);
        mz_db_done(stmt);
    }
    assert_int_equal(db->cache_count, MZ_DB_CACHE_MAX);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mz_db_prepare(db, "SELECT 'not cached'", &stmt), MZ_OK);
        assert_false(stmt->cached);
        assert_int_equal(mz_db_step(stmt), MZ_ROW);
        assert_string_equal(mz_db_col_text(stmt, 0), "not cached");
        mz_db_done(stmt);
    }
    assert_int_equal(db->cache_count, MZ_DB_CACHE_MAX);
    assert_int_equal(mz_db_prepare(db, "SELECT 17", &stmt), MZ_OK);
    assert_true(stmt->cached);
    /* finalize on a cached statement only gives it back to the cache. */
    mz_db_finalize(stmt);
    assert_int_equal(mz_db_prepare(db, "SELECT 17", &second), MZ_OK);
    assert_ptr_equal(stmt, second);
    mz_db_done(second);

    /* The cache also remembers entries by the address of the SQL text: one
     * buffer holding one text after another still gives each text its own
     * statement, and the same text the same statement. */
    for (int i = 1; i <= 3; i++) {
        for (int again = 0; again < 2; again++) {
            snprintf(sql, sizeof(sql), "SELECT %d", i);
            assert_int_equal(mz_db_prepare(db, sql, &stmt), MZ_OK);
            assert_true(stmt->cached);
            assert_int_equal(mz_db_step(stmt), MZ_ROW);
            assert_int_equal(mz_db_col_int(stmt, 0), i);
            if (again)
                assert_ptr_equal(stmt, first);
            first = stmt;
            mz_db_done(stmt);
        }
    }
    mz_db_close(db);
}

/* Bad SQL is MZ_ERR_DB with a message; several statements are refused by
 * prepare but run by exec. */
static void test_prepare_errors(void **state)
{
    struct mz_db *db = open_memory();
    struct mz_stmt *stmt = NULL;

    assert_int_equal(mz_db_prepare(db, "SELEKT 1", &stmt), MZ_ERR_DB);
    assert_null(stmt);
    assert_non_null(strstr(mz_db_errmsg(db), "syntax error"));
    assert_int_equal(mz_db_prepare(db, "SELECT 1; SELECT 2", &stmt), MZ_ERR_DB);
    assert_non_null(strstr(mz_db_errmsg(db), "more than one statement"));
    assert_int_equal(mz_db_prepare(db, "   ", &stmt), MZ_ERR_DB);
    assert_int_equal(mz_db_prepare(db, "SELECT 1; -- a comment\n  ", &stmt), MZ_OK);
    mz_db_done(stmt);
    assert_int_equal(mz_db_prepare(db, "SELECT * FROM missing", &stmt), MZ_ERR_DB);
    assert_non_null(strstr(mz_db_errmsg(db), "no such table"));

    assert_int_equal(mz_db_exec(db, "CREATE TABLE a (x); CREATE TABLE b (y); "
                                    "INSERT INTO a VALUES (1); INSERT INTO b VALUES (2);"),
                     MZ_OK);
    assert_int_equal(count_rows(db, "a"), 1);
    assert_int_equal(count_rows(db, "b"), 1);
    assert_int_equal(mz_db_exec(db, "INSERT INTO a VALUES (2); NONSENSE"), MZ_ERR_DB);
    mz_db_close(db);
}

/* Unique and primary-key violations are conflicts; other constraints are
 * constraint errors. */
static void test_constraint_mapping(void **state)
{
    struct mz_db *db = open_memory();
    struct mz_stmt *stmt = NULL;

    assert_int_equal(mz_db_exec(db, "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE, "
                                    "n INTEGER NOT NULL CHECK (n >= 0));"
                                    "CREATE TABLE c (id INTEGER PRIMARY KEY, "
                                    "p_id INTEGER REFERENCES p(id));"
                                    "CREATE TABLE k (a TEXT, b TEXT, PRIMARY KEY (a, b));"
                                    "INSERT INTO p VALUES (1, 'x', 0);"
                                    "INSERT INTO k VALUES ('a', 'b');"),
                     MZ_OK);

    assert_int_equal(mz_db_prepare(db, "INSERT INTO p (id, code, n) VALUES (?, ?, ?)", &stmt),
                     MZ_OK);
    mz_db_bind_int(stmt, 1, 2);
    mz_db_bind_text(stmt, 2, "x");
    mz_db_bind_int(stmt, 3, 0);
    assert_int_equal(mz_db_step(stmt), MZ_ERR_CONFLICT);
    assert_non_null(strstr(mz_db_errmsg(db), "UNIQUE"));
    mz_db_reset(stmt);
    mz_db_bind_int(stmt, 1, 1);
    mz_db_bind_text(stmt, 2, "y");
    mz_db_bind_int(stmt, 3, 0);
    assert_int_equal(mz_db_step(stmt), MZ_ERR_CONFLICT); /* integer primary key */
    mz_db_reset(stmt);
    mz_db_bind_int(stmt, 1, 3);
    mz_db_bind_text(stmt, 2, "z");
    mz_db_bind_int(stmt, 3, -1);
    assert_int_equal(mz_db_step(stmt), MZ_ERR_CONSTRAINT); /* check */
    mz_db_reset(stmt);
    mz_db_bind_int(stmt, 1, 3);
    mz_db_bind_text(stmt, 2, "z");
    assert_int_equal(mz_db_step(stmt), MZ_ERR_CONSTRAINT); /* not null */
    mz_db_done(stmt);

    assert_int_equal(mz_db_exec(db, "INSERT INTO k VALUES ('a', 'b')"), MZ_ERR_CONFLICT);
    assert_int_equal(mz_db_exec(db, "INSERT INTO c VALUES (1, 99)"), MZ_ERR_CONSTRAINT);
    assert_int_equal(count_rows(db, "c"), 0);
    mz_db_close(db);
}

/* --- transactions ------------------------------------------------------------------ */

/* Commit and rollback are visible; nesting and stray commits are bugs;
 * closing rolls back. */
static void test_transactions(void **state)
{
    struct mz_db *db = open_memory();

    assert_int_equal(mz_db_exec(db, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_false(mz_db_in_transaction(db));

    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    assert_true(mz_db_in_transaction(db));
    assert_int_equal(mz_db_exec(db, "INSERT INTO t VALUES (1)"), MZ_OK);
    assert_int_equal(mz_db_commit(db), MZ_OK);
    assert_false(mz_db_in_transaction(db));
    assert_int_equal(count_rows(db, "t"), 1);

    assert_int_equal(mz_db_begin(db), MZ_OK);
    assert_int_equal(mz_db_exec(db, "INSERT INTO t VALUES (2)"), MZ_OK);
    assert_int_equal(count_rows(db, "t"), 2);
    assert_int_equal(mz_db_rollback(db), MZ_OK);
    assert_false(mz_db_in_transaction(db));
    assert_int_equal(count_rows(db, "t"), 1);

    /* Nesting is a bug; the open transaction is unaffected. */
    assert_int_equal(mz_db_begin(db), MZ_OK);
    assert_int_equal(mz_db_begin(db), MZ_ERR_INTERNAL);
    assert_int_equal(mz_db_begin_write(db), MZ_ERR_INTERNAL);
    assert_non_null(strstr(mz_db_errmsg(db), "already open"));
    assert_true(mz_db_in_transaction(db));
    assert_int_equal(mz_db_exec(db, "INSERT INTO t VALUES (3)"), MZ_OK);
    assert_int_equal(mz_db_commit(db), MZ_OK);
    assert_int_equal(count_rows(db, "t"), 2);

    /* Commit without a transaction is a bug; rollback is idempotent. */
    assert_int_equal(mz_db_commit(db), MZ_ERR_INTERNAL);
    assert_int_equal(mz_db_rollback(db), MZ_OK);
    assert_int_equal(mz_db_rollback(db), MZ_OK);
    mz_db_close(db);

    /* Closing with an open transaction rolls it back. */
    db = open_file(tmp_path(0, "txn.db"), 5000);
    assert_int_equal(mz_db_exec(db, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    assert_int_equal(mz_db_exec(db, "INSERT INTO t VALUES (1)"), MZ_OK);
    mz_db_close(db);
    db = open_file(tmp_path(0, "txn.db"), 5000);
    assert_int_equal(count_rows(db, "t"), 0);
    mz_db_close(db);
}

/* --- convenience and schema questions ------------------------------------------------ */

/* mz_db_query_int, table/column existence and the dialect strings. */
static void test_query_int_and_schema(void **state)
{
    struct mz_db *db = open_memory();
    const char *params[] = {"b", NULL};
    int64_t n = 0;
    char now[64];

    assert_int_equal(mz_db_exec(db, "CREATE TABLE Person (id INTEGER PRIMARY KEY, name TEXT);"
                                    "INSERT INTO Person (name) VALUES ('a'), ('b'), ('b')"),
                     MZ_OK);
    assert_int_equal(
        mz_db_query_int(db, "SELECT count(*) FROM Person WHERE name = ?", &n, 1, params), MZ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(
        mz_db_query_int(db, "SELECT count(*) FROM Person WHERE name IS ?", &n, 1, &params[1]),
        MZ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mz_db_query_int(db, "SELECT id FROM Person WHERE name = 'zz'", &n, 0, NULL),
                     MZ_ERR_NOTFOUND);
    assert_int_equal(mz_db_query_int(db, "SELECT max(id) FROM Person WHERE id > 10", &n, 0, NULL),
                     MZ_ERR_NOTFOUND);
    assert_int_equal(mz_db_query_int(db, "SELECT nonsense(", &n, 0, NULL), MZ_ERR_DB);

    assert_true(mz_db_table_exists(db, "Person"));
    assert_true(mz_db_table_exists(db, "person"));
    assert_false(mz_db_table_exists(db, "household"));
    assert_true(mz_db_column_exists(db, "Person", "name"));
    assert_false(mz_db_column_exists(db, "Person", "division"));
    assert_false(mz_db_column_exists(db, "household", "name"));

    assert_string_equal(mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK), "INTEGER PRIMARY KEY");
    assert_string_equal(mz_db_dialect(db, MZ_SQL_BLOB), "BLOB");
    assert_string_equal(mz_db_dialect(db, MZ_SQL_INT64), "INTEGER");
    snprintf(now, sizeof(now), "SELECT %s", mz_db_dialect(db, MZ_SQL_NOW));
    query_text(db, now, now, sizeof(now));
    /* 2026-11-28T23:31:35.123Z */
    assert_int_equal(strlen(now), 24);
    assert_int_equal(now[10], 'T');
    assert_int_equal(now[19], '.');
    assert_int_equal(now[23], 'Z');
    mz_db_close(db);
}

/* --- migrations ----------------------------------------------------------------------- */

/* A step written in C: inserts one row into a. */
static int migration_fn_insert(struct mz_db *db)
{
    return mz_db_exec(db, "INSERT INTO a (x) VALUES ('from fn')");
}

/* A step that fails after doing some work. */
static int migration_fn_fail(struct mz_db *db)
{
    int rc = mz_db_exec(db, "CREATE TABLE half_done (x)");

    if (rc != MZ_OK)
        return rc;
    return MZ_ERR_CONFLICT;
}

/* Steps apply once; a failing step is rolled back and not recorded; badly
 * declared steps are refused. */
static void test_migrations(void **state)
{
    static const struct mz_migration steps[] = {
        {1, "create a", "CREATE TABLE a (x TEXT); CREATE INDEX a_x ON a (x);", NULL},
        {2, "seed a", NULL, migration_fn_insert},
        {5, "add column", "ALTER TABLE a ADD COLUMN y INTEGER", NULL},
    };
    static const struct mz_migration more[] = {
        {1, "create a", "CREATE TABLE a (x TEXT); CREATE INDEX a_x ON a (x);", NULL},
        {2, "seed a", NULL, migration_fn_insert},
        {5, "add column", "ALTER TABLE a ADD COLUMN y INTEGER", NULL},
        {6, "create b", "CREATE TABLE b (z)", NULL},
        {7, "broken", "CREATE TABLE partial (x); CREATE TABLE a (again);", NULL},
        {8, "never reached", "CREATE TABLE c (z)", NULL},
    };
    static const struct mz_migration fn_fails[] = {
        {1, "half done", NULL, migration_fn_fail},
    };
    static const struct mz_migration unordered[] = {
        {1, "one", "CREATE TABLE o1 (x)", NULL},
        {3, "three", "CREATE TABLE o3 (x)", NULL},
        {2, "two", "CREATE TABLE o2 (x)", NULL},
    };
    static const struct mz_migration duplicate[] = {
        {1, "one", "CREATE TABLE d1 (x)", NULL},
        {1, "one again", "CREATE TABLE d2 (x)", NULL},
    };
    static const struct mz_migration both[] = {
        {1, "sql and fn", "CREATE TABLE e (x)", migration_fn_insert},
    };
    struct mz_db *db = open_memory();
    int applied = -1;
    int64_t n = 0;

    assert_int_equal(mz_db_migrate(db, "demo", steps, MZ_ARRAY_LEN(steps), &applied), MZ_OK);
    assert_int_equal(applied, 3);
    assert_true(mz_db_column_exists(db, "a", "y"));
    assert_int_equal(count_rows(db, "a"), 1);
    assert_int_equal(count_rows(db, "mz_migrations"), 3);
    assert_true(mz_db_column_exists(db, "mz_migrations", "applied_at"));

    /* Run again: nothing changes. */
    assert_int_equal(mz_db_migrate(db, "demo", steps, MZ_ARRAY_LEN(steps), &applied), MZ_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(count_rows(db, "a"), 1);

    /* Another module has its own numbers. */
    assert_int_equal(mz_db_migrate(db, "other", fn_fails, 0, &applied), MZ_OK);
    assert_int_equal(applied, 0);

    /* A failing step: earlier new steps stay, the failing one leaves nothing,
     * later ones do not run; the failure is logged with module, number, name. */
    assert_int_equal(mz_db_migrate(db, "demo", more, MZ_ARRAY_LEN(more), &applied), MZ_ERR_DB);
    assert_int_equal(applied, 1);
    assert_false(mz_db_in_transaction(db));
    assert_true(mz_db_table_exists(db, "b"));
    assert_false(mz_db_table_exists(db, "partial"));
    assert_false(mz_db_table_exists(db, "c"));
    const char *p7[] = {"demo"};
    assert_int_equal(
        mz_db_query_int(db, "SELECT max(number) FROM mz_migrations WHERE module = ?", &n, 1, p7),
        MZ_OK);
    assert_int_equal(n, 6);
    assert_true(log_contains("migration demo 7 (broken) failed"));

    /* A failing C step is rolled back too, and its error returned. */
    assert_int_equal(mz_db_migrate(db, "other", fn_fails, 1, &applied), MZ_ERR_CONFLICT);
    assert_int_equal(applied, 0);
    assert_false(mz_db_table_exists(db, "half_done"));
    assert_true(log_contains("migration other 1 (half done) failed: conflict: migration "
                             "function failed without a database error"));

    /* Badly declared steps are refused before anything runs. */
    assert_int_equal(mz_db_migrate(db, "unordered", unordered, 3, &applied), MZ_ERR_INVALID);
    assert_int_equal(applied, 0);
    assert_false(mz_db_table_exists(db, "o1"));
    assert_int_equal(mz_db_migrate(db, "duplicate", duplicate, 2, &applied), MZ_ERR_INVALID);
    assert_false(mz_db_table_exists(db, "d1"));
    assert_int_equal(mz_db_migrate(db, "both", both, 1, &applied), MZ_ERR_INVALID);
    assert_int_equal(mz_db_migrate(db, "", steps, 1, &applied), MZ_ERR_INVALID);

    /* Inside a transaction: refused. */
    assert_int_equal(mz_db_begin(db), MZ_OK);
    assert_int_equal(mz_db_migrate(db, "demo", steps, 1, &applied), MZ_ERR_INTERNAL);
    assert_int_equal(mz_db_rollback(db), MZ_OK);
    mz_db_close(db);
}

/* --- files: pragmas, sharing, locking ---------------------------------------------------- */

/* Size of the file at path (0 when missing). */
static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* The WAL file of a database file (in a static buffer). */
static const char *wal_path(const char *path)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s-wal", path);
    return buf;
}

/* Write n pages' worth of rows in one transaction of a fresh table. */
static void write_pages(struct mz_db *db, const char *table, int n)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE TABLE %s (id INTEGER PRIMARY KEY, b BLOB)", table);
    assert_int_equal(mz_db_exec(db, sql), MZ_OK);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO %s (b) SELECT randomblob(3000) FROM n", n, table);
    assert_int_equal(mz_db_exec(db, sql), MZ_OK);
    assert_int_equal(mz_db_commit(db), MZ_OK);
}

/* A commit that leaves many frames in the WAL is checkpointed by the
 * background thread (the file grows by them without the committer copying
 * them); below the threshold the committer does it, as SQLite's default;
 * the data reads back from another connection either way. */
static void test_background_checkpoint(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "checkpoint.db");
    struct mz_db *db = open_file(path, 0);
    int64_t n = 0;

    /* Below the threshold (the default): inline, nothing handed over. */
    long before = mz_db_checkpoint_wait();
    write_pages(db, "inline_rows", 1500);
    assert_int_equal(mz_db_checkpoint_wait(), before);
    assert_true(file_size(path) >= 1500LL * 3000);

    /* From the threshold on: the background thread, once per commit. */
    mz_db_checkpoint_background_at(1000);
    long size = file_size(path);
    write_pages(db, "background_rows", 1500);
    assert_int_equal(mz_db_checkpoint_wait(), before + 1);
    assert_true(file_size(path) >= size + 1500LL * 3000);
    /* A small commit after it hands nothing over. */
    assert_int_equal(mz_db_exec(db, "INSERT INTO inline_rows (b) VALUES (x'00')"), MZ_OK);
    assert_int_equal(mz_db_checkpoint_wait(), before + 1);

    /* Small commits while a reader keeps its snapshot: the WAL cannot be
     * restarted and grows past the threshold, yet each commit added only a
     * few frames, so they checkpoint inline (handing each over let the WAL
     * grow without end under a stream of creates beside readers). */
    struct mz_db *reader = open_file(path, 0);
    mz_db_snapshot_begin(reader);
    assert_int_equal(mz_db_query_int(reader, "SELECT count(*) FROM inline_rows", &n, 0, NULL),
                     MZ_OK);
    for (int i = 0; i < 400; i++)
        assert_int_equal(mz_db_exec(db, "INSERT INTO inline_rows (b) VALUES (randomblob(6000))"),
                         MZ_OK);
    assert_true(file_size(wal_path(path)) > 1000LL * 4096); /* past the threshold */
    assert_int_equal(mz_db_checkpoint_wait(), before + 1);
    mz_db_snapshot_end(reader);
    mz_db_close(reader);
    mz_db_checkpoint_background_at(0); /* the default again */

    struct mz_db *other = open_file(path, 0);
    assert_int_equal(mz_db_query_int(other, "SELECT count(*) FROM background_rows", &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 1500);
    assert_int_equal(mz_db_query_int(other, "SELECT count(*) FROM inline_rows", &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 1901);
    mz_db_close(other);
    mz_db_close(db);
}

/* Readers always in flight, as a server's workers under load: each begins a
 * read snapshot, holds it a moment and ends it, again and again. */
struct busy_readers {
    const char *path;
    volatile int stop;
    long reads;
};

static void *busy_reader_main(void *arg)
{
    struct busy_readers *r = arg;
    struct mz_db *db = open_file(r->path, 0);
    int64_t n = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        mz_db_snapshot_begin(db);
        mz_db_query_int(db, "SELECT count(*) FROM sqlite_master", &n, 0, NULL);
        usleep(1000);
        mz_db_snapshot_end(db);
        r->reads++;
    }
    mz_db_close(db);
    return NULL;
}

/* Small commits while readers are always in flight: a PASSIVE checkpoint
 * copies the frames but the WAL is never restarted (a reader is always in
 * it), so it grew without end (~3 GB in 15 s of creates). Past the limit
 * the background thread truncates it: the WAL stays within twice the
 * limit and every row is there. */
static void test_wal_limit(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "wal_limit.db");
    struct mz_db *db = open_file(path, 0);
    const long limit = 1000; /* frames (the hook checkpoints from 1,000 on) */
    mz_db_wal_limit_at(limit);
    assert_int_equal(mz_db_exec(db, "CREATE TABLE rows (id INTEGER PRIMARY KEY, b BLOB)"), MZ_OK);
    long truncated = mz_db_wal_truncations();

    /* Two readers, so that one is nearly always in the WAL. */
    struct busy_readers readers[2] = {{.path = path}, {.path = path}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, busy_reader_main, &readers[i]), 0);
    long long largest = 0;
    int commits = 0;
    /* ~4 frames a commit (a 6,000-byte row spans pages): 16x the limit. */
    for (; commits < 4000; commits++) {
        assert_int_equal(mz_db_exec(db, "INSERT INTO rows (b) VALUES (randomblob(6000))"), MZ_OK);
        long long size = file_size(wal_path(path));
        if (size > largest)
            largest = size;
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&readers[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(threads[i], NULL);
        assert_true(readers[i].reads > 0);
    }
    assert_true(mz_db_wal_truncations() > truncated);
    /* 4,000 commits wrote ~16,000 frames (~64 MB); the WAL stayed within twice the limit. */
    assert_true(largest < 2 * limit * 4120LL);
    int64_t n = 0;
    assert_int_equal(mz_db_query_int(db, "SELECT count(*) FROM rows", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, commits);
    char text[32];
    query_text(db, "PRAGMA integrity_check", text, sizeof(text));
    assert_string_equal(text, "ok");
    mz_db_wal_limit_at(0); /* the default again */
    mz_db_close(db);
}

/* A file database runs in WAL mode with the configured pragmas. */
static void test_file_pragmas(void **state)
{
    struct mz_db_options full = {.create = true, .synchronous_full = true};
    const char *path = tmp_path(0, "pragmas.db");
    struct mz_db *db = open_file(path, 0);
    char text[32];
    int64_t n = 0;

    query_text(db, "PRAGMA journal_mode", text, sizeof(text));
    assert_string_equal(text, "wal");
    assert_int_equal(mz_db_query_int(db, "PRAGMA synchronous", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 1); /* NORMAL */
    assert_int_equal(mz_db_query_int(db, "PRAGMA foreign_keys", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mz_db_query_int(db, "PRAGMA busy_timeout", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 5000);
    assert_int_equal(mz_db_query_int(db, "PRAGMA temp_store", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 2); /* MEMORY */
    assert_int_equal(mz_db_query_int(db, "PRAGMA cache_size", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, -16000);
    mz_db_close(db);

    db = NULL;
    assert_int_equal(mz_db_open(path, &full, &db), MZ_OK);
    assert_int_equal(mz_db_query_int(db, "PRAGMA synchronous", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 2); /* FULL */
    mz_db_close(db);

    /* In memory there is no WAL. */
    db = open_memory();
    query_text(db, "PRAGMA journal_mode", text, sizeof(text));
    assert_string_equal(text, "memory");
    mz_db_close(db);
}

/* Two connections on one file see each other's commits. */
static void test_two_connections(void **state)
{
    const char *path = tmp_path(0, "shared.db");
    struct mz_db *a = open_file(path, 5000);
    struct mz_db *b = open_file(path, 5000);

    assert_int_equal(mz_db_exec(a, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_int_equal(mz_db_exec(a, "INSERT INTO t VALUES (1)"), MZ_OK);
    assert_int_equal(count_rows(b, "t"), 1);

    assert_int_equal(mz_db_begin_write(b), MZ_OK);
    assert_int_equal(mz_db_exec(b, "INSERT INTO t VALUES (2)"), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 1); /* not yet committed */
    assert_int_equal(mz_db_commit(b), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 2);
    mz_db_close(a);
    mz_db_close(b);
}

/* A read snapshot: reads share one read transaction (they do not see a
 * commit made meanwhile by another connection); the first write ends it
 * and then succeeds (no stale-snapshot failure) and sees the latest rows. */
static void test_read_snapshot(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "snapshot.db");
    struct mz_db *a = open_file(path, 5000);
    struct mz_db *b = open_file(path, 5000);

    assert_int_equal(mz_db_exec(a, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_int_equal(mz_db_exec(a, "INSERT INTO t VALUES (1)"), MZ_OK);

    mz_db_snapshot_begin(a);
    assert_false(mz_db_in_transaction(a)); /* invisible to callers */
    assert_int_equal(count_rows(a, "t"), 1);
    assert_int_equal(mz_db_run(b, "INSERT INTO t VALUES (2)", ""), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 1); /* still the snapshot */
    /* A write through a prepared statement ends the snapshot first. */
    assert_int_equal(mz_db_run(a, "INSERT INTO t VALUES (3)", ""), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 3);
    mz_db_snapshot_end(a); /* already ended: nothing to do */

    /* A begin ends it too, and the transaction then works as usual. */
    mz_db_snapshot_begin(a);
    assert_int_equal(count_rows(a, "t"), 3);
    assert_int_equal(mz_db_run(b, "INSERT INTO t VALUES (4)", ""), MZ_OK);
    assert_int_equal(mz_db_begin_write(a), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 4);
    assert_int_equal(mz_db_run(a, "INSERT INTO t VALUES (5)", ""), MZ_OK);
    assert_int_equal(mz_db_commit(a), MZ_OK);
    assert_int_equal(count_rows(b, "t"), 5);

    /* So does mz_db_exec; ending a snapshot releases it for writers. */
    mz_db_snapshot_begin(a);
    assert_int_equal(count_rows(a, "t"), 5);
    assert_int_equal(mz_db_exec(a, "DELETE FROM t WHERE v = 5"), MZ_OK);
    assert_int_equal(count_rows(b, "t"), 4);
    mz_db_snapshot_begin(a);
    assert_int_equal(count_rows(a, "t"), 4);
    mz_db_snapshot_end(a);
    assert_int_equal(mz_db_run(b, "INSERT INTO t VALUES (6)", ""), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 5);

    /* Inside a transaction a snapshot is not taken. */
    assert_int_equal(mz_db_begin(a), MZ_OK);
    mz_db_snapshot_begin(a);
    assert_int_equal(mz_db_commit(a), MZ_OK);
    assert_false(mz_db_in_transaction(a));
    mz_db_close(a);
    mz_db_close(b);
}

/* The count and the sum of t's values, in a read snapshot of its own. */
static void snapshot_sums(struct mz_db *db, int64_t *count, int64_t *sum)
{
    mz_db_snapshot_begin(db);
    *count = count_rows(db, "t");
    assert_int_equal(mz_db_query_int(db, "SELECT coalesce(sum(v), 0) FROM t", sum, 0, NULL), MZ_OK);
    mz_db_snapshot_end(db);
}

/* Insert rows v = from..to with a 1,000-byte pad each (four to a page). */
static void insert_rows(struct mz_db *db, int from, int to)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(v) AS (SELECT %d UNION ALL SELECT v + 1 FROM n WHERE v < %d) "
             "INSERT INTO t SELECT v, randomblob(1000) FROM n",
             from, to);
    assert_int_equal(mz_db_exec(db, sql), MZ_OK);
}

/* PRAGMA wal_checkpoint(mode) on db: whether it was busy, and the frames in
 * the WAL not copied into the database (0 when the WAL was truncated). */
static void checkpoint(struct mz_db *db, const char *mode, int64_t *busy, int64_t *frames)
{
    char sql[64];
    struct mz_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "PRAGMA wal_checkpoint(%s)", mode);
    assert_int_equal(mz_db_prepare_uncached(db, sql, &st), MZ_OK);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    *busy = mz_db_col_int(st, 0);
    *frames = mz_db_col_int(st, 1) - mz_db_col_int(st, 2);
    mz_db_finalize(st);
}

/* The server's VFS (src/db/sqlite_map.c; the default for every connection
 * opened after the first run of this test): rows read through the shared
 * map are right while another connection commits, checkpoints, grows the
 * file past the map and shrinks it with VACUUM; the map outlives the commits
 * (no new map while the file fits it) and is shared by the process's
 * connections to the file; read locks are parked between read transactions
 * and never hold back this process's checkpoints or the WAL's truncation. */
static void test_map_vfs(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "map.db");
    struct mz_db *w = NULL, *r = NULL, *r2 = NULL;
    struct mz_db_map_stats s0, s1, s2;
    int64_t count, sum, busy = -1, frames = -1;

    assert_int_equal(mz_db_map_vfs_install(), MZ_OK);
    assert_int_equal(mz_db_map_vfs_install(), MZ_OK); /* idempotent */
    mz_db_map_reserve_min(256 * 1024);                 /* a file of ~1 MB outgrows it */
    mz_db_map_stats(&s0);
    w = open_file(path, 5000);
    mz_db_map_stats(&s1);
    assert_int_equal(s1.regions_made, s0.regions_made + 1);
    assert_int_equal(mz_db_exec(w, "CREATE TABLE t (v INTEGER, pad BLOB)"), MZ_OK);
    insert_rows(w, 1, 40);
    assert_int_equal(mz_db_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)"), MZ_OK);
    r = open_file(path, 5000);
    snapshot_sums(r, &count, &sum);
    assert_int_equal(count, 40);
    assert_int_equal(sum, 40 * 41 / 2);
    mz_db_map_stats(&s2);
    assert_int_equal(s2.regions_made, s1.regions_made); /* one map for both */
    assert_true(s2.pages_fetched > s1.pages_fetched);   /* the pages came from it */

    /* Read transactions with nothing committed between them take their
     * parked read lock back without a call to the wrapped VFS. */
    mz_db_map_stats(&s1);
    for (int i = 0; i < 50; i++) {
        snapshot_sums(r, &count, &sum);
        assert_int_equal(count, 40);
    }
    mz_db_map_stats(&s2);
    assert_true(s2.locks_unparked - s1.locks_unparked >= 49);
    assert_true(s2.locks_passed - s1.locks_passed <= 2);

    /* Commits that leave the file inside the map: rows right after each,
     * read from the same map (no new one), the checkpointed pages too. */
    mz_db_map_stats(&s1);
    for (int i = 0; i < 10; i++) {
        insert_rows(w, 41 + 4 * i, 44 + 4 * i);
        if (i % 3 == 2)
            assert_int_equal(mz_db_exec(w, "PRAGMA wal_checkpoint(PASSIVE)"), MZ_OK);
        snapshot_sums(r, &count, &sum);
        assert_int_equal(count, 44 + 4 * i);
        assert_int_equal(sum, (44 + 4 * i) * (45 + 4 * i) / 2);
    }
    mz_db_map_stats(&s2);
    assert_int_equal(s2.regions_made, s1.regions_made);
    assert_true(s2.pages_fetched > s1.pages_fetched);

    /* r's lock is parked now: a checkpoint of everything and the WAL's
     * truncation still succeed (not busy, no frame left). */
    checkpoint(w, "TRUNCATE", &busy, &frames);
    assert_int_equal(busy, 0);
    assert_int_equal(frames, 0);

    /* A second connection to the file reads through the same map. */
    mz_db_map_stats(&s1);
    r2 = open_file(path, 5000);
    snapshot_sums(r2, &count, &sum);
    assert_int_equal(count, 80);
    mz_db_map_stats(&s2);
    assert_int_equal(s2.regions_made, s1.regions_made);

    /* The file grows past the map (~1.3 MB against 512 KB): a larger map,
     * rows right on both connections throughout, each checkpoint complete
     * with both connections' locks parked. */
    for (int i = 0; i < 10; i++) {
        insert_rows(w, 81 + 100 * i, 180 + 100 * i);
        snapshot_sums(r2, &count, &sum);
        checkpoint(w, "PASSIVE", &busy, &frames);
        assert_int_equal(busy, 0);
        assert_int_equal(frames, 0);
        snapshot_sums(r, &count, &sum);
        assert_int_equal(count, 180 + 100 * i);
        assert_int_equal(sum, (int64_t)(180 + 100 * i) * (181 + 100 * i) / 2);
    }
    snapshot_sums(r2, &count, &sum);
    assert_int_equal(count, 1080);
    assert_int_equal(sum, 1080 * 1081 / 2);
    mz_db_map_stats(&s1);
    assert_true(s1.regions_made > s2.regions_made);

    /* VACUUM shrinks the file under the maps: no page past its end is read. */
    assert_int_equal(mz_db_exec(w, "DELETE FROM t WHERE v > 10"), MZ_OK);
    assert_int_equal(mz_db_exec(w, "VACUUM"), MZ_OK);
    assert_int_equal(mz_db_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)"), MZ_OK);
    snapshot_sums(r, &count, &sum);
    assert_int_equal(count, 10);
    assert_int_equal(sum, 55);
    insert_rows(w, 11, 500);
    snapshot_sums(r2, &count, &sum);
    assert_int_equal(count, 500);
    assert_int_equal(sum, 500 * 501 / 2);
    assert_int_equal(mz_db_exec(r2, "UPDATE t SET v = v WHERE v = 1"), MZ_OK); /* it writes too */
    snapshot_sums(r, &count, &sum);
    assert_int_equal(count, 500);

    mz_db_close(r2);
    mz_db_close(r);
    mz_db_close(w);
    mz_db_map_reserve_min(0);
}

/* The server's VFS keeps the process's locks on the database file: with two
 * connections open through it (the second one's file already mapped),
 * another process that writes and closes is not the file's last user, so
 * it leaves the WAL for them (a descriptor of the file closed by the VFS
 * would have dropped the process's locks: that process then checkpointed
 * and deleted the WAL under them, and their next reads found the file
 * malformed). */
static void test_map_vfs_locks(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "maplocks.db");
    char wal[300];

    assert_int_equal(mz_db_map_vfs_install(), MZ_OK);
    struct mz_db *a = open_file(path, 5000);
    assert_int_equal(mz_db_exec(a, "CREATE TABLE t (v INTEGER, pad BLOB)"), MZ_OK);
    insert_rows(a, 1, 100);
    struct mz_db *b = open_file(path, 5000);
    assert_int_equal(count_rows(b, "t"), 100);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Another process: it sees this one's shared lock on the database
         * file (SQLite's shared range, from 0x40000002: a write lock there
         * would conflict), then writes a row and closes with SQLite's VFS. */
        int fd = open(path, O_RDONLY);
        struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x40000002,
                              .l_len = 510};
        if (fd < 0 || fcntl(fd, F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK)
            _exit(2);
        close(fd);
        sqlite3 *db = NULL;
        int ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix") == SQLITE_OK &&
                 sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
                 sqlite3_exec(db, "INSERT INTO t VALUES (101, NULL)", NULL, NULL, NULL) == SQLITE_OK;
        ok = sqlite3_close(db) == SQLITE_OK && ok;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(access(wal, F_OK), 0); /* still there: this process uses it */
    assert_int_equal(count_rows(a, "t"), 101);
    assert_int_equal(count_rows(b, "t"), 101);
    assert_int_equal(mz_db_integrity_check(b), MZ_OK);
    mz_db_close(b);
    mz_db_close(a);
}

/* The data version moves on a commit by another connection and on this
 * connection's own writes, and only then. */
static void test_data_version(void **state)
{
    (void)state;
    const char *path = tmp_path(0, "version.db");
    struct mz_db *a = open_file(path, 5000);
    struct mz_db *b = open_file(path, 5000);
    int64_t v0[2], v1[2], v2[2], v3[2];

    assert_int_equal(mz_db_exec(a, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_int_equal(mz_db_data_version(a, v0), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 0);
    assert_int_equal(mz_db_data_version(a, v1), MZ_OK);
    assert_true(v0[0] == v1[0] && v0[1] == v1[1]); /* a read changes nothing */
    assert_int_equal(mz_db_run(b, "INSERT INTO t VALUES (1)", ""), MZ_OK);
    assert_int_equal(mz_db_data_version(a, v2), MZ_OK);
    assert_true(v2[0] != v1[0]); /* another connection committed */
    assert_int_equal(mz_db_run(a, "INSERT INTO t VALUES (2)", ""), MZ_OK);
    assert_int_equal(mz_db_data_version(a, v3), MZ_OK);
    assert_true(v3[1] != v2[1]); /* this connection wrote */

    /* Read first in a snapshot, the version is the snapshot's, and so are
     * the reads that follow (what the session cache relies on): another
     * connection's commit shows only once the snapshot ended. */
    int64_t v4[2], v5[2];
    mz_db_snapshot_begin(a);
    assert_int_equal(mz_db_data_version(a, v4), MZ_OK);
    assert_int_equal(mz_db_run(b, "INSERT INTO t VALUES (3)", ""), MZ_OK);
    assert_int_equal(mz_db_data_version(a, v5), MZ_OK);
    assert_true(v4[0] == v5[0] && v4[1] == v5[1]);
    assert_int_equal(count_rows(a, "t"), 2);
    mz_db_snapshot_end(a);
    assert_int_equal(mz_db_data_version(a, v5), MZ_OK);
    assert_true(v5[0] != v4[0]);
    assert_int_equal(count_rows(a, "t"), 3);

    /* Serials name connections, never reused (unlike addresses). */
    uint64_t sa = mz_db_serial(a);
    assert_true(sa != 0 && sa != mz_db_serial(b));
    mz_db_close(a);
    a = open_file(path, 5000);
    assert_true(mz_db_serial(a) != sa && mz_db_serial(a) != mz_db_serial(b));
    mz_db_close(a);
    mz_db_close(b);
}

/* A second writer waits for its busy timeout, then gets MZ_ERR_BUSY. */
static void test_busy_timeout(void **state)
{
    const char *path = tmp_path(0, "busy.db");
    struct mz_db *a = open_file(path, 5000);
    struct mz_db *b = open_file(path, 150);
    int64_t start, elapsed_ms;

    assert_int_equal(mz_db_exec(a, "CREATE TABLE t (v INTEGER)"), MZ_OK);
    assert_int_equal(mz_db_begin_write(a), MZ_OK);
    assert_int_equal(mz_db_exec(a, "INSERT INTO t VALUES (1)"), MZ_OK);

    start = mz_mono_us();
    assert_int_equal(mz_db_begin_write(b), MZ_ERR_BUSY);
    elapsed_ms = (mz_mono_us() - start) / 1000;
    assert_true(elapsed_ms >= 120);
    assert_true(elapsed_ms < 3000);
    assert_false(mz_db_in_transaction(b));
    assert_int_equal(mz_db_exec(b, "INSERT INTO t VALUES (2)"), MZ_ERR_BUSY);
    /* Readers are not blocked in WAL mode. */
    assert_int_equal(count_rows(b, "t"), 0);

    assert_int_equal(mz_db_commit(a), MZ_OK);
    assert_int_equal(mz_db_begin_write(b), MZ_OK);
    assert_int_equal(mz_db_exec(b, "INSERT INTO t VALUES (2)"), MZ_OK);
    assert_int_equal(mz_db_commit(b), MZ_OK);
    assert_int_equal(count_rows(a, "t"), 2);
    mz_db_close(a);
    mz_db_close(b);
}

/* --- open errors ----------------------------------------------------------------------- */

/* Bad specs and files fail with clear messages and create nothing. */
static void test_open_errors(void **state)
{
    struct mz_db_options must_exist = {.create = false};
    struct mz_db_options create = {.create = true};
    const char *missing = tmp_path(0, "missing.db");
    const char *garbage = tmp_path(1, "garbage.db");
    char text[4096];
    struct mz_db *db = NULL;

    assert_int_equal(mz_db_open(missing, &must_exist, &db), MZ_ERR_IO);
    assert_null(db);
    assert_false(file_exists(missing));
    assert_true(log_contains("does not exist"));
    assert_int_equal(dir_count_matching("missing.db"), 0); /* no -wal, -shm either */

    assert_int_equal(mz_db_open(tmp_path(2, "no/such/dir/x.db"), &create, &db), MZ_ERR_IO);
    assert_true(log_contains("directory"));

    assert_int_equal(mz_db_open(test_dir, &create, &db), MZ_ERR_IO);
    assert_true(log_contains("is a directory"));

    memset(text, 'x', sizeof(text));
    write_file(garbage, text, sizeof(text));
    assert_int_equal(mz_db_open(garbage, &create, &db), MZ_ERR_IO);
    assert_true(log_contains("is not a sqlite database file"));
    assert_int_equal(mz_db_open(garbage, &must_exist, &db), MZ_ERR_IO);

    /* PostgreSQL specs go to the libpq backend: no server listens on port 1. */
    assert_int_equal(mz_db_open("postgresql://minzheng@127.0.0.1:1/mz", NULL, &db), MZ_ERR_IO);
    assert_true(log_contains("cannot connect to postgresql"));
    assert_int_equal(mz_db_open("host=127.0.0.1 port=1 dbname=mz", NULL, &db), MZ_ERR_IO);
    assert_int_equal(mz_db_open("dbname=mz host=127.0.0.1 port=1", NULL, &db), MZ_ERR_IO);
    assert_int_equal(mz_db_open("file:x.db?mode=memory", NULL, &db), MZ_ERR_INVALID);
    assert_int_equal(mz_db_open("", NULL, &db), MZ_ERR_INVALID);
    assert_null(db);

    /* create=false on an existing file works; readonly refuses writes. */
    struct mz_db_options readonly = {.readonly = true};
    db = open_file(missing, 0);
    assert_int_equal(mz_db_exec(db, "CREATE TABLE t (v)"), MZ_OK);
    mz_db_close(db);
    assert_int_equal(mz_db_open(missing, &must_exist, &db), MZ_OK);
    mz_db_close(db);
    assert_int_equal(mz_db_open(missing, &readonly, &db), MZ_OK);
    assert_int_equal(count_rows(db, "t"), 0);
    assert_int_equal(mz_db_exec(db, "INSERT INTO t VALUES (1)"), MZ_ERR_DB);
    mz_db_close(db);
}

/* --- backup and restore ------------------------------------------------------------------- */

/* Create a file database with some rows. */
static void make_sample(const char *path, int rows)
{
    struct mz_db *db = open_file(path, 0);
    struct mz_stmt *stmt = NULL;

    assert_int_equal(mz_db_exec(db, "CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT);"
                                    "CREATE INDEX person_name ON person (name)"),
                     MZ_OK);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    for (int i = 0; i < rows; i++) {
        assert_int_equal(mz_db_prepare(db, "INSERT INTO person (name) VALUES (?)", &stmt), MZ_OK);
        char name[64];
        snprintf(name, sizeof(name), "张三 %06d padding padding padding padding", i);
        assert_int_equal(mz_db_bind_text(stmt, 1, name), MZ_OK);
        assert_int_equal(mz_db_step(stmt), MZ_DONE);
        mz_db_done(stmt);
    }
    assert_int_equal(mz_db_commit(db), MZ_OK);
    mz_db_close(db);
}

/* Online backup of a busy file database, verified, replacing an old copy;
 * failures leave no file behind. */
static void test_backup(void **state)
{
    const char *source = tmp_path(0, "live.db");
    const char *copy = tmp_path(1, "live.backup");
    struct mz_db *db;
    struct mz_db *reader;
    struct mz_db *check;
    char text[128];

    make_sample(source, 5000); /* several times 256 pages */
    db = open_file(source, 5000);
    reader = open_file(source, 5000);
    /* Online: another connection is reading and this one has unflushed WAL. */
    assert_int_equal(mz_db_begin(reader), MZ_OK);
    assert_int_equal(count_rows(reader, "person"), 5000);
    assert_int_equal(mz_db_exec(db, "INSERT INTO person (name) VALUES ('李四')"), MZ_OK);

    assert_int_equal(mz_db_backup(db, copy), MZ_OK);
    assert_int_equal(dir_count_matching(".tmp-"), 0);
    assert_int_equal(mz_db_integrity_check(db), MZ_OK);
    assert_int_equal(mz_db_rollback(reader), MZ_OK);

    check = open_file(copy, 5000);
    assert_int_equal(mz_db_integrity_check(check), MZ_OK);
    assert_int_equal(count_rows(check, "person"), 5001);
    query_text(check, "SELECT name FROM person WHERE id = 5001", text, sizeof(text));
    assert_string_equal(text, "李四");
    mz_db_close(check);

    /* Backing up again replaces the old copy. */
    assert_int_equal(mz_db_exec(db, "DELETE FROM person WHERE id > 100"), MZ_OK);
    assert_int_equal(mz_db_backup(db, copy), MZ_OK);
    check = open_file(copy, 5000);
    assert_int_equal(count_rows(check, "person"), 100);
    mz_db_close(check);

    /* A failed backup leaves nothing behind; a backup onto itself is refused. */
    assert_int_equal(mz_db_backup(db, tmp_path(2, "nodir/x.backup")), MZ_ERR_IO);
    assert_non_null(strstr(mz_db_errmsg(db), "temporary file"));
    assert_int_equal(mz_db_backup(db, source), MZ_ERR_INVALID);
    assert_int_equal(count_rows(db, "person"), 100);
    assert_int_equal(dir_count_matching(".tmp-"), 0);

    mz_db_close(reader);
    mz_db_close(db);

    /* An in-memory database can be backed up too. */
    db = open_memory();
    assert_int_equal(mz_db_exec(db, "CREATE TABLE m (v); INSERT INTO m VALUES (1)"), MZ_OK);
    assert_int_equal(mz_db_backup(db, tmp_path(2, "memory.backup")), MZ_OK);
    mz_db_close(db);
    check = open_file(tmp_path(2, "memory.backup"), 0);
    assert_int_equal(count_rows(check, "m"), 1);
    mz_db_close(check);
}

/* Restore into a new path; a bad source is refused and the target untouched. */
static void test_restore(void **state)
{
    const char *backup = tmp_path(0, "restore-src.db");
    const char *target = tmp_path(1, "restored.db");
    const char *garbage = tmp_path(2, "restore-garbage.db");
    struct mz_db *db;
    char junk[8192];
    char *before, *after;
    size_t before_len, after_len;

    make_sample(backup, 300);
    assert_int_equal(mz_db_restore(backup, target), MZ_OK);
    db = open_file(target, 0);
    assert_int_equal(mz_db_integrity_check(db), MZ_OK);
    assert_int_equal(count_rows(db, "person"), 300);
    assert_int_equal(mz_db_exec(db, "INSERT INTO person (name) VALUES ('王五')"), MZ_OK);
    mz_db_close(db);
    assert_int_equal(dir_count_matching(".tmp-"), 0);

    /* A garbage source is refused and the target stays as it was. */
    before = read_file(target, &before_len);
    memset(junk, 0x5a, sizeof(junk));
    memcpy(junk, "SQLite format 3", 16); /* a right header is not enough */
    write_file(garbage, junk, sizeof(junk));
    assert_int_equal(mz_db_restore(garbage, target), MZ_ERR_INVALID);
    write_file(garbage, "hello", 5);
    assert_int_equal(mz_db_restore(garbage, target), MZ_ERR_INVALID);
    assert_int_equal(mz_db_restore(tmp_path(2, "absent.db"), target), MZ_ERR_INVALID);
    assert_false(file_exists(tmp_path(2, "absent.db")));
    assert_int_equal(mz_db_restore(target, target), MZ_ERR_INVALID);
    after = read_file(target, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
    assert_int_equal(dir_count_matching(".tmp-"), 0);

    db = open_file(target, 0);
    assert_int_equal(count_rows(db, "person"), 301);
    mz_db_close(db);
}

/* --- fault injection ------------------------------------------------------------------------ */

/* Begin, two inserts, commit; on any error roll back and return it. */
static int fault_workload(struct mz_db *db)
{
    struct mz_stmt *stmt = NULL;
    int rc;

    rc = mz_db_begin_write(db);
    if (rc != MZ_OK)
        goto out;
    for (int i = 0; i < 2; i++) {
        rc = mz_db_prepare(db, "INSERT INTO ledger (amount_fen) VALUES (?)", &stmt);
        if (rc != MZ_OK)
            goto out;
        rc = mz_db_bind_int(stmt, 1, 100 + i);
        if (rc != MZ_OK)
            goto out;
        rc = mz_db_step(stmt);
        mz_db_done(stmt);
        stmt = NULL;
        if (rc != MZ_DONE)
            goto out;
    }
    rc = mz_db_commit(db);
out:
    mz_db_done(stmt);
    if (rc != MZ_OK)
        mz_db_rollback(db);
    return rc;
}

/* Fail each call of begin, insert, insert, commit in turn: every run ends in
 * a clean error, no transaction left open, the ledger unchanged. */
static void test_fault_injection_workload(void **state)
{
    struct mz_db *db = open_file(tmp_path(0, "fault.db"), 5000);
    int64_t rows, sum;
    long calls;

    assert_int_equal(mz_db_exec(db, "CREATE TABLE ledger (id INTEGER PRIMARY KEY, "
                                    "amount_fen INTEGER NOT NULL)"),
                     MZ_OK);
    mz_db_fault_set(0);
    assert_int_equal(fault_workload(db), MZ_OK);
    calls = mz_db_fault_calls();
    assert_int_equal(calls, 6); /* begin, 2 x (prepare, step), commit */
    rows = count_rows(db, "ledger");
    assert_int_equal(mz_db_query_int(db, "SELECT sum(amount_fen) FROM ledger", &sum, 0, NULL),
                     MZ_OK);

    for (long nth = 1; nth <= calls; nth++) {
        int64_t now_sum = 0;
        mz_db_fault_set(nth);
        int rc = fault_workload(db);
        mz_db_fault_set(0);
        assert_int_equal(rc, MZ_ERR_DB);
        assert_string_equal(mz_db_errmsg(db), "injected fault");
        assert_false(mz_db_in_transaction(db));
        assert_int_equal(count_rows(db, "ledger"), rows);
        assert_int_equal(
            mz_db_query_int(db, "SELECT sum(amount_fen) FROM ledger", &now_sum, 0, NULL), MZ_OK);
        assert_int_equal(now_sum, sum);
    }
    /* Beyond the workload's calls nothing fails. */
    mz_db_fault_set(calls + 1);
    assert_int_equal(fault_workload(db), MZ_OK);
    mz_db_fault_set(0);
    assert_int_equal(count_rows(db, "ledger"), rows + 2);
    mz_db_close(db);
}

/* A migration C step that inserts one row into seeded. */
static int migration_fn_seed(struct mz_db *db)
{
    struct mz_stmt *stmt = NULL;
    int rc;

    rc = mz_db_prepare(db, "INSERT INTO seeded (v) VALUES (?)", &stmt);
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_bind_text(stmt, 1, "种子");
    if (rc != MZ_OK)
        goto out;
    rc = mz_db_step(stmt);
    if (rc == MZ_DONE)
        rc = MZ_OK;
out:
    mz_db_done(stmt);
    return rc;
}

/* Every step is recorded exactly when its effect is present. */
static void assert_migrations_consistent(struct mz_db *db)
{
    const char *module[] = {"fault"};
    int64_t recorded = 0;
    bool has_mz = mz_db_table_exists(db, "mz_migrations");
    bool step1 = false, step2 = false;

    if (has_mz) {
        assert_int_equal(mz_db_query_int(db,
                                         "SELECT count(*) FROM mz_migrations WHERE module = ? "
                                         "AND number = 1",
                                         &recorded, 1, module),
                         MZ_OK);
        step1 = recorded == 1;
        assert_int_equal(mz_db_query_int(db,
                                         "SELECT count(*) FROM mz_migrations WHERE module = ? "
                                         "AND number = 2",
                                         &recorded, 1, module),
                         MZ_OK);
        step2 = recorded == 1;
    }
    assert_int_equal(mz_db_table_exists(db, "seeded"), step1);
    if (step1)
        assert_int_equal(count_rows(db, "seeded"), step2 ? 1 : 0);
    else
        assert_false(step2);
}

/* The bulk-load workload of test_bulk_io on a fresh file: a table written
 * through a 64 KB page cache (pages spilled and read back), rewritten in
 * part, an index built by the sorter in temporary files on two threads,
 * rows deleted and the file shrunk by VACUUM; with bulk I/O on or off.
 * Its results: a digest of the rows in index order, their count, and
 * integrity_check's answer. */
static void bulk_workload(const char *path, bool bulk, int64_t *digest, int64_t *rows,
                          char check[16])
{
    struct mz_db *db;
    char sql[256];
    unlink(path);
    assert_int_equal(mz_db_open(path, NULL, &db), MZ_OK);
    assert_int_equal(mz_db_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                                    " PRAGMA cache_size=-64; PRAGMA temp_store=FILE;"
                                    " PRAGMA threads=2; PRAGMA mmap_size=0"),
                     MZ_OK);
    assert_true(mz_db_bulk_io(bulk) || !bulk);
    assert_int_equal(mz_db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w BLOB)"),
                     MZ_OK);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    /* ~9 MB: rows of 100-400 bytes, some with overflow pages (6 KB). */
    assert_int_equal(mz_db_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                                    " FROM n WHERE i < 30000) INSERT INTO t SELECT i,"
                                    " printf('%08d-%s', (i * 7919) % 30011,"
                                    " substr(hex(zeroblob(200)), 1, 50 + (i * 13) % 300)),"
                                    " CASE WHEN i % 97 = 0 THEN zeroblob(6000) END FROM n"),
                     MZ_OK);
    assert_int_equal(mz_db_commit(db), MZ_OK);
    assert_int_equal(mz_db_exec(db, "UPDATE t SET v = v || '-x' WHERE id % 5 = 0"), MZ_OK);
    assert_int_equal(mz_db_exec(db, "CREATE INDEX t_v ON t(v)"), MZ_OK);
    assert_int_equal(mz_db_exec(db, "DELETE FROM t WHERE id > 20000 OR id % 11 = 0"), MZ_OK);
    assert_int_equal(mz_db_exec(db, "VACUUM"), MZ_OK);
    snprintf(sql, sizeof(sql),
             "SELECT sum((rn %% 1000003) * (length(v) + length(w) + unicode(substr(v, 9))))"
             " FROM (SELECT row_number() OVER (ORDER BY v) AS rn, v, coalesce(w, '') AS w FROM"
             " t INDEXED BY t_v WHERE v > '')");
    assert_int_equal(mz_db_query_int(db, sql, digest, 0, NULL), MZ_OK);
    assert_int_equal(mz_db_query_int(db, "SELECT count(*) FROM t", rows, 0, NULL), MZ_OK);
    mz_db_bulk_io(false);
    struct mz_stmt *st;
    assert_int_equal(mz_db_prepare_uncached(db, "PRAGMA integrity_check", &st), MZ_OK);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    snprintf(check, 16, "%s", mz_db_col_text(st, 0));
    mz_db_finalize(st);
    mz_db_close(db);
}

/* The demo load's VFS (src/db/sqlite_bulk.c): the same workload through it
 * with bulk I/O on gives the same rows as with it off, a sound file, and
 * the file reads back the same through a plain connection afterwards.
 * Installs the VFS as the default: this test runs last. */
static void test_bulk_io(void **state)
{
    (void)state;
    int64_t d0 = 0, n0 = 0, d1 = 0, n1 = 0, d2 = 0, n2 = 0;
    char c0[16], c1[16];
    assert_false(mz_db_bulk_io(true)); /* not installed: nothing changes */
    bulk_workload(tmp_path(0, "plain.db"), false, &d0, &n0, c0);
    assert_int_equal(mz_db_bulk_vfs_install(), MZ_OK);
    assert_int_equal(mz_db_bulk_vfs_install(), MZ_OK); /* idempotent */
    bulk_workload(tmp_path(1, "bulk.db"), true, &d1, &n1, c1);
    assert_string_equal(c0, "ok");
    assert_string_equal(c1, "ok");
    assert_int_equal(n0, 18182); /* 20,000 less the 1,818 multiples of 11 */
    assert_int_equal(n1, n0);
    assert_true(d0 != 0);
    assert_true(d1 == d0);
    /* Read back after the bulk connection closed. */
    struct mz_db *db;
    assert_int_equal(mz_db_open(tmp_path(1, "bulk.db"), NULL, &db), MZ_OK);
    assert_int_equal(mz_db_query_int(db,
                                     "SELECT sum((rn % 1000003) * (length(v) + length(w) +"
                                     " unicode(substr(v, 9)))) FROM (SELECT row_number() OVER"
                                     " (ORDER BY v) AS rn, v, coalesce(w, '') AS w FROM t INDEXED"
                                     " BY t_v WHERE v > '')",
                                     &d2, 0, NULL),
                     MZ_OK);
    assert_int_equal(mz_db_query_int(db, "SELECT count(*) FROM t", &n2, 0, NULL), MZ_OK);
    mz_db_close(db);
    assert_true(d2 == d0);
    assert_int_equal(n2, n0);
    unlink(tmp_path(0, "plain.db"));
    unlink(tmp_path(1, "bulk.db"));
}

/* Fail each call of a migration in turn: every step is recorded exactly
 * when its effect is there, and a clean rerun completes it once. */
static void test_fault_injection_migrate(void **state)
{
    static const struct mz_migration steps[] = {
        {1, "create seeded", "CREATE TABLE seeded (v TEXT); CREATE INDEX seeded_v ON seeded (v)",
         NULL},
        {2, "seed", NULL, migration_fn_seed},
    };
    struct mz_db *db = open_memory();
    int applied = 0;
    long calls;

    mz_db_fault_set(0);
    assert_int_equal(mz_db_migrate(db, "fault", steps, 2, &applied), MZ_OK);
    calls = mz_db_fault_calls();
    assert_int_equal(applied, 2);
    assert_true(calls > 10);
    mz_db_close(db);

    for (long nth = 1; nth <= calls; nth++) {
        int first_applied = 0, second_applied = 0;
        db = open_memory();
        mz_db_fault_set(nth);
        int rc = mz_db_migrate(db, "fault", steps, 2, &first_applied);
        mz_db_fault_set(0);
        assert_true(rc == MZ_OK || rc == MZ_ERR_DB);
        assert_false(mz_db_in_transaction(db));
        assert_migrations_consistent(db);
        /* Run again without faults: everything ends applied exactly once. */
        assert_int_equal(mz_db_migrate(db, "fault", steps, 2, &second_applied), MZ_OK);
        assert_int_equal(first_applied + second_applied, 2);
        assert_int_equal(count_rows(db, "seeded"), 1);
        assert_int_equal(count_rows(db, "mz_migrations"), 2);
        mz_db_close(db);
    }
}

/* Run every test in one temporary directory. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_round_trip),
        cmocka_unit_test(test_statement_cache),
        cmocka_unit_test(test_prepare_errors),
        cmocka_unit_test(test_constraint_mapping),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_background_checkpoint),
        cmocka_unit_test(test_wal_limit),
        cmocka_unit_test(test_query_int_and_schema),
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_file_pragmas),
        cmocka_unit_test(test_two_connections),
        cmocka_unit_test(test_read_snapshot),
        cmocka_unit_test(test_map_vfs),
        cmocka_unit_test(test_map_vfs_locks),
        cmocka_unit_test(test_data_version),
        cmocka_unit_test(test_busy_timeout),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_backup),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_fault_injection_workload),
        cmocka_unit_test(test_fault_injection_migrate),
        cmocka_unit_test(test_bulk_io), /* last: installs a default VFS */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
