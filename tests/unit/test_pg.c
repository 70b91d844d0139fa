/* test_pg.c - unit tests of the PostgreSQL backend (src/db/pg.c) through the
 * database interface.
 *
 * Runs only when MZ_TEST_PG_CONNINFO names a database it may fill (tables
 * named pgt_* are dropped and created); without it every test is skipped and
 * the reason printed. scripts/pg-test.sh starts a throwaway cluster, creates
 * the database mz_unit and runs this binary against it.
 *
 * Covered: placeholders (also `?` inside literals and comments), binding and
 * reading every type, int64 extremes, NULL, blobs, unique violation →
 * MZ_ERR_CONFLICT, NOT NULL → MZ_ERR_CONSTRAINT, RETURNING id and last_id,
 * changes, transactions (commit, rollback, a failed statement leaves the
 * transaction usable), begin_write serialising two connections, nested
 * queries inside a row loop, table/column existence, the DDL translation of
 * INTEGER PRIMARY KEY, the dialect items, migrations run twice, backup refused.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mz/db.h"

/* The conninfo under test, NULL to skip. */
static const char *conninfo;

/* Open a connection, or skip the test when no database is configured. */
static struct mz_db *open_or_skip(void)
{
    struct mz_db *db = NULL;

    if (conninfo == NULL)
        skip();
    assert_int_equal(mz_db_open(conninfo, NULL, &db), MZ_OK);
    assert_int_equal(mz_db_kind(db), MZ_DB_POSTGRESQL);
    assert_string_equal(mz_db_kind_name(db), "postgresql");
    return db;
}

/* Run SQL that must work. */
static void exec_ok(struct mz_db *db, const char *sql)
{
    int rc = mz_db_exec(db, sql);

    if (rc != MZ_OK)
        fail_msg("%s: %s", sql, mz_db_errmsg(db));
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

/* Insert (name, n) into pgt_person; the step result. */
static int insert_person(struct mz_db *db, const char *name, int64_t n)
{
    struct mz_stmt *st = NULL;
    int rc = mz_db_prepare(db, "INSERT INTO pgt_person (name, n) VALUES (?, ?) RETURNING id", &st);

    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, name);
    mz_db_bind_int(st, 2, n);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc;
}

/* A fresh pgt_person table (DDL in SQLite's spelling, translated). */
static void make_person_table(struct mz_db *db)
{
    exec_ok(db, "DROP TABLE IF EXISTS pgt_person");
    exec_ok(db, "CREATE TABLE pgt_person (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                " n INTEGER, r REAL, b BYTEA, flag BOOLEAN)");
}

/* Placeholders, types, int64 extremes, NULL, blobs, column names. */
static void test_bind_and_columns(void **state)
{
    struct mz_db *db = open_or_skip();
    struct mz_stmt *st = NULL;
    static const unsigned char blob[] = {0, 1, 2, 0xff, '\\', '\''};

    (void)state;
    make_person_table(db);
    assert_int_equal(mz_db_prepare(db,
                                   "INSERT INTO pgt_person (name, n, r, b, flag) -- a ? here\n"
                                   " VALUES (?, ?, ?, ?, ?) /* and ? here */ RETURNING id",
                                   &st),
                     MZ_OK);
    assert_int_equal(mz_db_param_count(st), 5);
    assert_int_equal(mz_db_bind_text(st, 1, "张三'?"), MZ_OK);
    assert_int_equal(mz_db_bind_int(st, 2, INT64_MAX), MZ_OK);
    assert_int_equal(mz_db_bind_double(st, 3, 0.1), MZ_OK);
    assert_int_equal(mz_db_bind_blob(st, 4, blob, sizeof(blob)), MZ_OK);
    assert_int_equal(mz_db_bind_text(st, 5, "true"), MZ_OK);
    assert_int_equal(mz_db_bind_int(st, 6, 1), MZ_ERR_INVALID);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_int_equal(mz_db_col_int(st, 0), 1);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);
    assert_int_equal(mz_db_last_id(db), 1);
    assert_int_equal(mz_db_changes(db), 1);
    assert_int_equal(insert_person(db, "李四", INT64_MIN), MZ_ROW);
    assert_int_equal(mz_db_last_id(db), 2);

    assert_int_equal(mz_db_prepare(db,
                                   "SELECT id, name, n, r, b, flag, NULL AS nothing, '?' AS q"
                                   " FROM pgt_person WHERE name = ? OR name = ? ORDER BY id",
                                   &st),
                     MZ_OK);
    mz_db_bind_text(st, 1, "张三'?");
    mz_db_bind_text(st, 2, "李四");
    assert_int_equal(mz_db_col_count(st), 8);
    assert_string_equal(mz_db_col_name(st, 1), "name");
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_int_equal(mz_db_col_type(st, 0), MZ_COL_INT);
    assert_int_equal(mz_db_col_type(st, 1), MZ_COL_TEXT);
    assert_string_equal(mz_db_col_text(st, 1), "张三'?");
    assert_int_equal(mz_db_col_bytes(st, 1), strlen("张三'?"));
    assert_true(mz_db_col_int(st, 2) == INT64_MAX);
    assert_int_equal(mz_db_col_type(st, 3), MZ_COL_REAL);
    assert_true(mz_db_col_double(st, 3) == 0.1);
    assert_int_equal(mz_db_col_type(st, 4), MZ_COL_BLOB);
    assert_int_equal(mz_db_col_bytes(st, 4), sizeof(blob));
    assert_memory_equal(mz_db_col_blob(st, 4), blob, sizeof(blob));
    assert_int_equal(mz_db_col_type(st, 5), MZ_COL_INT);
    assert_int_equal(mz_db_col_int(st, 5), 1);
    assert_string_equal(mz_db_col_text(st, 5), "1");
    assert_int_equal(mz_db_col_type(st, 6), MZ_COL_NULL);
    assert_null(mz_db_col_text(st, 6));
    assert_string_equal(mz_db_col_text(st, 7), "?");
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_true(mz_db_col_int(st, 2) == INT64_MIN);
    assert_int_equal(mz_db_col_type(st, 3), MZ_COL_NULL);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);

    /* sum() of bigint is numeric: still an integer column. */
    assert_int_equal(mz_db_prepare(db, "SELECT sum(id) FROM pgt_person", &st), MZ_OK);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_int_equal(mz_db_col_type(st, 0), MZ_COL_INT);
    assert_int_equal(mz_db_col_int(st, 0), 3);
    mz_db_done(st);

    /* LIKE with ESCAPE '\' as the engine writes it. */
    int64_t n = 0;
    const char *like[] = {"张三\\'%"};
    assert_int_equal(mz_db_query_int(db, "SELECT count(*) FROM pgt_person WHERE name LIKE ? ESCAPE '\\'",
                                     &n, 1, like),
                     MZ_OK);
    assert_int_equal(n, 1);
    mz_db_close(db);
}

/* Unique violation → CONFLICT, NOT NULL → CONSTRAINT, bad SQL → DB; changes(). */
static void test_errors_and_changes(void **state)
{
    struct mz_db *db = open_or_skip();
    struct mz_stmt *st = NULL;

    (void)state;
    make_person_table(db);
    assert_int_equal(insert_person(db, "a", 1), MZ_ROW);
    assert_int_equal(insert_person(db, "a", 2), MZ_ERR_CONFLICT);
    assert_non_null(strstr(mz_db_errmsg(db), "duplicate key"));
    assert_int_equal(mz_db_prepare(db, "INSERT INTO pgt_person (name) VALUES (?)", &st), MZ_OK);
    mz_db_bind_null(st, 1);
    assert_int_equal(mz_db_step(st), MZ_ERR_CONSTRAINT);
    mz_db_done(st);
    assert_int_equal(mz_db_prepare(db, "SELEKT 1", &st), MZ_ERR_DB);
    assert_int_equal(mz_db_prepare(db, "SELECT 1; SELECT 2", &st), MZ_ERR_DB);
    assert_int_equal(mz_db_prepare(db, "SELECT * FROM pgt_nothing", &st), MZ_ERR_DB);

    assert_int_equal(insert_person(db, "b", 1), MZ_ROW);
    assert_int_equal(insert_person(db, "c", 1), MZ_ROW);
    assert_int_equal(mz_db_prepare(db, "UPDATE pgt_person SET n = n + 1 WHERE n = ?", &st), MZ_OK);
    mz_db_bind_int(st, 1, 1);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);
    assert_int_equal(mz_db_changes(db), 3);
    /* A SELECT does not change changes(). */
    assert_int_equal(count_rows(db, "pgt_person"), 3);
    assert_int_equal(mz_db_changes(db), 3);
    assert_int_equal(mz_db_integrity_check(db), MZ_OK);
    assert_int_equal(mz_db_backup(db, "/tmp/pg-backup-never"), MZ_ERR_INVALID);
    assert_non_null(strstr(mz_db_errmsg(db), "pg_dump"));
    mz_db_close(db);
}

/* Commit keeps, rollback undoes, a failed statement leaves the transaction
 * usable (as on SQLite), nesting is refused. */
static void test_transactions(void **state)
{
    struct mz_db *db = open_or_skip();

    (void)state;
    make_person_table(db);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    assert_true(mz_db_in_transaction(db));
    assert_int_equal(mz_db_begin(db), MZ_ERR_INTERNAL);
    assert_int_equal(insert_person(db, "a", 1), MZ_ROW);
    assert_int_equal(insert_person(db, "a", 1), MZ_ERR_CONFLICT);
    assert_int_equal(insert_person(db, "b", 1), MZ_ROW);
    assert_int_equal(mz_db_commit(db), MZ_OK);
    assert_false(mz_db_in_transaction(db));
    assert_int_equal(count_rows(db, "pgt_person"), 2);

    assert_int_equal(mz_db_begin(db), MZ_OK);
    assert_int_equal(insert_person(db, "c", 1), MZ_ROW);
    assert_int_equal(mz_db_rollback(db), MZ_OK);
    assert_int_equal(count_rows(db, "pgt_person"), 2);
    assert_int_equal(mz_db_rollback(db), MZ_OK); /* idempotent */
    mz_db_close(db);
}

/* Arguments of the second writer thread. */
struct writer_arg {
    atomic_bool opened; /* its connection is open: begin_write comes next */
    int64_t locked_at;  /* mz_mono_us() when its begin_write returned */
    int rc;             /* its result */
};

/* Open a second connection and note when its begin_write gets the lock. */
static void *second_writer(void *p)
{
    struct writer_arg *arg = p;
    struct mz_db *db = NULL;

    arg->rc = mz_db_open(conninfo, NULL, &db);
    atomic_store(&arg->opened, true);
    if (arg->rc != MZ_OK)
        return NULL;
    arg->rc = mz_db_begin_write(db);
    arg->locked_at = mz_mono_us();
    if (arg->rc == MZ_OK)
        arg->rc = insert_person(db, "second", 2) == MZ_ROW ? mz_db_commit(db) : MZ_ERR_DB;
    mz_db_close(db);
    return NULL;
}

/* begin_write serialises writers like BEGIN IMMEDIATE: the second waits for
 * the first to commit and then sees its row. */
static void test_writers_serialise(void **state)
{
    struct mz_db *db = open_or_skip();
    struct writer_arg arg = {.rc = MZ_ERR_INTERNAL};
    pthread_t thread;
    int64_t commit_at;

    (void)state;
    make_person_table(db);
    assert_int_equal(mz_db_begin_write(db), MZ_OK);
    assert_int_equal(insert_person(db, "first", 1), MZ_ROW);
    atomic_init(&arg.opened, false);
    assert_int_equal(pthread_create(&thread, NULL, second_writer, &arg), 0);
    while (!atomic_load(&arg.opened))
        usleep(1000);
    usleep(200 * 1000); /* the second writer now waits in begin_write */
    commit_at = mz_mono_us();
    assert_int_equal(mz_db_commit(db), MZ_OK);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(arg.rc, MZ_OK);
    assert_true(arg.locked_at >= commit_at); /* it got the lock only after the commit */
    assert_int_equal(count_rows(db, "pgt_person"), 2);
    mz_db_close(db);
}

/* A query run again inside its own row loop, and one-off statements. */
static void test_nested_and_uncached(void **state)
{
    struct mz_db *db = open_or_skip();
    struct mz_stmt *outer = NULL, *inner = NULL, *once = NULL;
    int rows = 0;

    (void)state;
    make_person_table(db);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        assert_int_equal(insert_person(db, name, i), MZ_ROW);
    }
    assert_int_equal(mz_db_prepare(db, "SELECT id FROM pgt_person WHERE n >= ? ORDER BY id", &outer),
                     MZ_OK);
    mz_db_bind_int(outer, 1, 0);
    while (mz_db_step(outer) == MZ_ROW) {
        assert_int_equal(
            mz_db_prepare(db, "SELECT id FROM pgt_person WHERE n >= ? ORDER BY id", &inner), MZ_OK);
        mz_db_bind_int(inner, 1, mz_db_col_int(outer, 0) - 1); /* n = id - 1 */
        assert_int_equal(mz_db_step(inner), MZ_ROW);
        mz_db_done(inner);
        rows++;
    }
    mz_db_done(outer);
    assert_int_equal(rows, 5);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mz_db_prepare_uncached(db, "SELECT count(*) FROM pgt_person", &once),
                         MZ_OK);
        assert_int_equal(mz_db_step(once), MZ_ROW);
        assert_int_equal(mz_db_col_int(once, 0), 5);
        mz_db_finalize(once);
    }
    mz_db_close(db);
}

/* Schema questions, dialect items and migrations (twice: nothing the second time). */
static void test_schema_and_migrations(void **state)
{
    struct mz_db *db = open_or_skip();
    struct mz_stmt *st = NULL;
    char sql[256];
    int applied = -1;

    (void)state;
    exec_ok(db, "DROP TABLE IF EXISTS pgt_m1; DROP TABLE IF EXISTS pgt_m2");
    if (mz_db_table_exists(db, "mz_migrations"))
        exec_ok(db, "DELETE FROM mz_migrations WHERE module = 'pgt'");
    static const struct mz_migration steps[] = {
        {1, "one", "CREATE TABLE pgt_m1 (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)", NULL},
        {2, "two", "ALTER TABLE pgt_m1 ADD COLUMN big INTEGER; CREATE TABLE pgt_m2 (k TEXT)",
         NULL},
    };
    assert_int_equal(mz_db_migrate(db, "pgt", steps, 2, &applied), MZ_OK);
    assert_int_equal(applied, 2);
    assert_int_equal(mz_db_migrate(db, "pgt", steps, 2, &applied), MZ_OK);
    assert_int_equal(applied, 0);
    assert_true(mz_db_table_exists(db, "pgt_m1"));
    assert_true(mz_db_table_exists(db, "PGT_M1"));
    assert_false(mz_db_table_exists(db, "pgt_none"));
    assert_true(mz_db_column_exists(db, "pgt_m1", "big"));
    assert_false(mz_db_column_exists(db, "pgt_m1", "small"));

    /* INTEGER PRIMARY KEY numbers itself; INTEGER holds 64 bits. */
    assert_int_equal(mz_db_prepare(db, "INSERT INTO pgt_m1 (v, big) VALUES (?, ?)", &st), MZ_OK);
    mz_db_bind_int(st, 1, 7);
    mz_db_bind_int(st, 2, INT64_C(1) << 40);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);
    assert_int_equal(mz_db_last_id(db), 1);

    assert_string_equal(mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK), "BIGSERIAL PRIMARY KEY");
    assert_string_equal(mz_db_dialect(db, MZ_SQL_BLOB), "BYTEA");
    assert_string_equal(mz_db_dialect(db, MZ_SQL_INT64), "BIGINT");
    assert_string_equal(mz_db_dialect(db, MZ_SQL_NO_INDEX), "");
    snprintf(sql, sizeof(sql), "SELECT %s", mz_db_dialect(db, MZ_SQL_NOW));
    assert_int_equal(mz_db_prepare(db, sql, &st), MZ_OK);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    const char *now = mz_db_col_text(st, 0);
    /* 2026-11-28T23:31:35.123Z */
    assert_int_equal(strlen(now), 24);
    assert_int_equal(now[10], 'T');
    assert_int_equal(now[19], '.');
    assert_int_equal(now[23], 'Z');
    mz_db_done(st);
    mz_db_close(db);
}

/* Choose: run against MZ_TEST_PG_CONNINFO, or skip every test and say why. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_and_columns),
        cmocka_unit_test(test_errors_and_changes),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_writers_serialise),
        cmocka_unit_test(test_nested_and_uncached),
        cmocka_unit_test(test_schema_and_migrations),
    };

    conninfo = getenv("MZ_TEST_PG_CONNINFO");
    if (conninfo != NULL && conninfo[0] == '\0')
        conninfo = NULL;
    if (conninfo == NULL)
        printf("test_pg: MZ_TEST_PG_CONNINFO is not set: every test skipped "
               "(scripts/pg-test.sh runs them against a throwaway cluster)\n");
    mz_log_set_level(MZ_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
