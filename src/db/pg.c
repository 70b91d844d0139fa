/* pg.c - the PostgreSQL backend of struct mz_db_ops, over libpq.
 *
 * A connection (one PGconn) belongs to one thread, like a SQLite connection:
 * the server opens one per worker thread through mz_db_open(). Opening sets
 * the session up so it behaves like the embedded database the engine was
 * written for: UTF-8, time zone UTC, standard_conforming_strings on (so
 * `LIKE ? ESCAPE '\'` means what it means on SQLite), notices silenced, and
 * lock_timeout = busy_timeout_ms so a lock wait ends in 55P03 (MZ_ERR_BUSY)
 * just as SQLite's busy timeout ends in SQLITE_BUSY.
 *
 * Statements. Callers write `?`; prepare rewrites each `?` outside string
 * literals, quoted identifiers and comments to $1..$n once per SQL text (the
 * statement cache in db.c keeps the result) and prepares it on the server
 * under a name of its own ("mz_<n>"), so the server parses and plans it once
 * per connection. Parameter types are left to the server to infer; values
 * go as text (an int64 as decimal text), blobs in binary format. A step
 * runs PQexecPrepared on the first call and keeps the whole result: rows
 * are then read one by one from memory. (Row-at-a-time streaming would
 * forbid the nested queries callers run inside their row loops, which
 * SQLite allows; a very large export therefore holds its result in memory.)
 *
 * Transactions. mz_db_begin() opens REPEATABLE READ: a read transaction sees
 * one snapshot, as a SQLite read transaction does, and a write that finds a
 * row changed since fails with 40001 (MZ_ERR_BUSY), as SQLite's deferred
 * transaction fails to upgrade with SQLITE_BUSY. mz_db_begin_write() opens
 * READ COMMITTED and takes the transaction-level advisory lock 1 at once, so
 * writers run one after another exactly like SQLite's BEGIN IMMEDIATE; READ
 * COMMITTED (not REPEATABLE READ) because the snapshot of a REPEATABLE READ
 * transaction would be taken by the lock statement itself, before the
 * previous writer committed: with READ COMMITTED every statement after the
 * lock sees everything committed before it. Single statements outside a
 * transaction do not take the lock (each is atomic by itself).
 *
 * SQLite undoes only the failed statement of a transaction; PostgreSQL
 * aborts the whole transaction. So that a caller may go on after, say, a
 * unique violation (as it may on SQLite), a write statement run inside a
 * transaction is wrapped in SAVEPOINT mz_stmt / RELEASE, and on failure
 * the savepoint is rolled back to: the transaction stays usable.
 *
 * Results: changes() is PQcmdTuples of the last INSERT/UPDATE/DELETE;
 * last_id() is the first column of the row an INSERT ... RETURNING gave
 * (the engine's inserts say RETURNING id), else lastval() of the session
 * (the BIGSERIAL sequence of the last insert). Column types come from the
 * result's type OIDs: integers and booleans are MZ_COL_INT (booleans read
 * as 1/0), float and numeric MZ_COL_REAL (numeric without a fraction, e.g.
 * sum() of bigint, MZ_COL_INT), bytea MZ_COL_BLOB, the rest MZ_COL_TEXT.
 *
 * Errors map by SQLSTATE: 23505 unique violation MZ_ERR_CONFLICT, other
 * class 23 MZ_ERR_CONSTRAINT, 40001/40P01/55P03 MZ_ERR_BUSY, 53200 MZ_ERR_NOMEM,
 * 54000 MZ_ERR_TOOBIG, anything else (and a lost connection) MZ_ERR_DB.
 *
 * Schema: DDL written for SQLite by hand-written module migrations says
 * `INTEGER PRIMARY KEY` (a rowid alias that numbers itself) and `INTEGER`
 * (64 bits on SQLite). exec() translates those two spellings, only inside
 * CREATE TABLE and ALTER TABLE statements, to BIGSERIAL PRIMARY KEY and
 * BIGINT (ddl_translate); this is the one place that does so, and new code
 * asks mz_db_dialect() instead. Backup is not offered (MZ_ERR_INVALID: use
 * pg_dump); the integrity check is a round trip (SELECT 1).
 *
 * Tested in tests/unit/test_pg.c (when MZ_TEST_PG_CONNINFO is set) and by
 * the API suite through scripts/pg-test.sh.
 */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db_internal.h"

/* Type OIDs (pg_type.h is server-side; these are fixed since 7.x). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* Bytes kept of an error message. */
#define PG_MSG_MAX 512

/* A connection. */
struct pg_conn {
    PGconn *pg;            /* the libpq connection */
    unsigned long next_id; /* number of the next server-side statement name */
    int64_t changes;       /* rows changed by the last INSERT/UPDATE/DELETE */
    int64_t last_id;       /* id returned by the last INSERT ... RETURNING */
    bool last_id_known;    /* last_id holds the last insert's id (else lastval()) */
    char msg[PG_MSG_MAX];  /* English message of the last failure ("" if none) */
};

/* A statement. */
struct pg_stmt {
    struct pg_conn *conn; /* its connection (finalize deallocates on it) */
    char name[32];        /* server-side name */
    int nparams;          /* number of $n parameters */
    char **values;        /* bound values (owned copies, NULL for null) */
    int *lengths;         /* their lengths (binary parameters) */
    int *formats;         /* 0 text, 1 binary (blobs) */
    bool is_write;        /* INSERT/UPDATE/DELETE: savepoint inside transactions */
    bool is_insert;       /* INSERT: sets last_id */
    PGresult *res;        /* the result of the run, while stepping */
    int row;              /* current row of res (-1 before the first) */
    PGresult *desc;       /* PQdescribePrepared, for columns asked before a step */
    unsigned char **blobs;/* decoded bytea per column of the current row */
    size_t *blob_lens;    /* their sizes */
    int nblobs;           /* entries of blobs (columns of res) */
};

/* --- errors --------------------------------------------------------------------- */

/* Map a SQLSTATE (NULL when the server gave none) to an mz_err. */
static int pg_map_sqlstate(const char *state)
{
    if (state == NULL)
        return MZ_ERR_DB;
    if (strcmp(state, "23505") == 0)
        return MZ_ERR_CONFLICT;
    if (strncmp(state, "23", 2) == 0)
        return MZ_ERR_CONSTRAINT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
        return MZ_ERR_BUSY;
    if (strcmp(state, "53200") == 0)
        return MZ_ERR_NOMEM;
    if (strcmp(state, "54000") == 0)
        return MZ_ERR_TOOBIG;
    return MZ_ERR_DB;
}

/* Record a message of our own; return err. */
static int conn_fail_msg(struct pg_conn *conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conn_fail_msg(struct pg_conn *conn, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(conn->msg, sizeof(conn->msg), fmt, ap);
    va_end(ap);
    return err;
}

/* Record the failure of res (or of the connection when res is NULL) without
 * the trailing newline libpq adds; return it mapped. */
static int conn_fail_res(struct pg_conn *conn, const PGresult *res)
{
    const char *text = res != NULL ? PQresultErrorMessage(res) : "";
    size_t n;

    if (text == NULL || text[0] == '\0')
        text = PQerrorMessage(conn->pg);
    snprintf(conn->msg, sizeof(conn->msg), "%s", text != NULL && text[0] ? text : "unknown error");
    n = strlen(conn->msg);
    while (n > 0 && (conn->msg[n - 1] == '\n' || conn->msg[n - 1] == ' '))
        conn->msg[--n] = '\0';
    return pg_map_sqlstate(res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL);
}

/* True if res says the command worked. */
static bool res_ok(const PGresult *res)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

/* Run sql without parameters (it may hold several statements); MZ_OK or the
 * mapped failure, recorded. */
static int run_simple(struct pg_conn *conn, const char *sql)
{
    PGresult *res = PQexec(conn->pg, sql);
    int rc = MZ_OK;

    if (!res_ok(res))
        rc = conn_fail_res(conn, res);
    PQclear(res);
    return rc;
}

/* --- the dialect translations ----------------------------------------------------- */

/* Length of the literal, quoted identifier or comment starting at p (0 if p
 * starts none of them): '...' (with '' inside), "...", -- to the end of the
 * line, and block comments. */
static size_t skip_quoted(const char *p)
{
    const char *q = p;

    if (*p == '\'' || *p == '"') {
        char quote = *p;
        for (q = p + 1; *q != '\0'; q++) {
            if (*q == quote) {
                if (q[1] == quote) {
                    q++;
                    continue;
                }
                return (size_t)(q + 1 - p);
            }
        }
        return (size_t)(q - p);
    }
    if (p[0] == '-' && p[1] == '-') {
        q = strchr(p, '\n');
        return q != NULL ? (size_t)(q - p) : strlen(p);
    }
    if (p[0] == '/' && p[1] == '*') {
        q = strstr(p + 2, "*/");
        return q != NULL ? (size_t)(q + 2 - p) : strlen(p);
    }
    return 0;
}

/* sql with each `?` outside literals and comments replaced by $1..$n
 * (malloc'd); *nparams gets n. */
static char *placeholders_translate(const char *sql, int *nparams)
{
    struct mz_buf b;
    int n = 0;

    mz_buf_init(&b, 0);
    for (const char *p = sql; *p != '\0';) {
        size_t skip = skip_quoted(p);
        if (skip > 0) {
            mz_buf_append(&b, p, skip);
            p += skip;
        } else if (*p == '?') {
            mz_buf_printf(&b, "$%d", ++n);
            p++;
        } else {
            mz_buf_append(&b, p, 1);
            p++;
        }
    }
    *nparams = n;
    return mz_buf_steal(&b, NULL);
}

/* True if the word at p (case-insensitive) is word and ends there. */
static bool word_at(const char *p, const char *word)
{
    size_t n = strlen(word);

    return strncasecmp(p, word, n) == 0 && !(isalnum((unsigned char)p[n]) || p[n] == '_');
}

/* The first keyword of sql after blanks and comments, compared with word. */
static bool starts_with_word(const char *sql, const char *word)
{
    const char *p = sql;

    for (;;) {
        while (isspace((unsigned char)*p) || *p == '(')
            p++;
        if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*'))
            p += skip_quoted(p);
        else
            break;
    }
    return word_at(p, word);
}

/* SQLite's DDL spellings in PostgreSQL terms: inside CREATE TABLE and ALTER
 * TABLE statements, "INTEGER PRIMARY KEY" becomes "BIGSERIAL PRIMARY KEY"
 * (SQLite numbers such a column by itself) and any other "INTEGER" becomes
 * "BIGINT" (SQLite integers have 64 bits). Everything else is copied as it
 * is. Returns a malloc'd copy. */
static char *ddl_translate(const char *sql)
{
    struct mz_buf b;
    bool in_ddl = false;
    bool statement_start = true;

    mz_buf_init(&b, 0);
    for (const char *p = sql; *p != '\0';) {
        size_t skip = skip_quoted(p);
        if (skip > 0) {
            mz_buf_append(&b, p, skip);
            p += skip;
            continue;
        }
        if (*p == ';') {
            statement_start = true;
            in_ddl = false;
            mz_buf_append(&b, p++, 1);
            continue;
        }
        if (statement_start && !isspace((unsigned char)*p)) {
            statement_start = false;
            in_ddl = (word_at(p, "CREATE") && (starts_with_word(p + 6, "TABLE") ||
                                               starts_with_word(p + 6, "TEMP") ||
                                               starts_with_word(p + 6, "TEMPORARY"))) ||
                     (word_at(p, "ALTER") && starts_with_word(p + 5, "TABLE"));
        }
        bool word_start = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        if (in_ddl && word_start && word_at(p, "INTEGER")) {
            const char *q = p + 7;
            while (isspace((unsigned char)*q))
                q++;
            if (word_at(q, "PRIMARY")) {
                mz_buf_puts(&b, "BIGSERIAL");
            } else {
                mz_buf_puts(&b, "BIGINT");
            }
            p += 7;
            continue;
        }
        mz_buf_append(&b, p++, 1);
    }
    return mz_buf_steal(&b, NULL);
}

/* --- open and close ------------------------------------------------------------------ */

/* Notices (e.g. "relation already exists, skipping") are not errors: to the debug log. */
static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    mz_debug("postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

/* Connect with the conninfo spec (URI or key=value) and set the session up
 * as described at the top of this file. The spec may hold a password: it
 * never appears in a message. */
static int pg_open(const char *spec, const struct mz_db_options *opts, void **handle, char *errbuf,
                   size_t errlen)
{
    struct pg_conn *conn = NULL;
    PGconn *pg;
    char setup[512];
    PGresult *res;
    int rc = MZ_OK;

    pg = PQconnectdb(spec);
    if (pg == NULL) {
        snprintf(errbuf, errlen, "cannot connect to postgresql: out of memory");
        return MZ_ERR_NOMEM;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(errbuf, errlen, "cannot connect to postgresql: %.*s",
                 (int)strcspn(PQerrorMessage(pg), "\n"), PQerrorMessage(pg));
        rc = MZ_ERR_IO;
        goto out;
    }
    PQsetNoticeProcessor(pg, pg_notice, NULL);
    snprintf(setup, sizeof(setup),
             "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC';"
             " SET standard_conforming_strings = on; SET client_min_messages = warning;"
             " SET lock_timeout = %d; SET default_transaction_read_only = %s",
             opts->busy_timeout_ms, opts->readonly ? "on" : "off");
    res = PQexec(pg, setup);
    if (!res_ok(res)) {
        snprintf(errbuf, errlen, "cannot configure the postgresql session: %.*s",
                 (int)strcspn(PQresultErrorMessage(res), "\n"), PQresultErrorMessage(res));
        rc = MZ_ERR_DB;
    }
    PQclear(res);
    if (rc != MZ_OK)
        goto out;
    conn = mz_xcalloc(1, sizeof(*conn));
    conn->pg = pg;
    pg = NULL;
    *handle = conn;
out:
    if (pg != NULL)
        PQfinish(pg);
    return rc;
}

/* Close the connection (the server drops its prepared statements). */
static void pg_close(void *handle)
{
    struct pg_conn *conn = handle;

    if (conn == NULL)
        return;
    PQfinish(conn->pg);
    free(conn);
}

/* --- statements ---------------------------------------------------------------------- */

/* Run one or more statements, DDL translated (ddl_translate). */
static int pg_exec(void *handle, const char *sql)
{
    struct pg_conn *conn = handle;
    char *translated = ddl_translate(sql);
    int rc = run_simple(conn, translated);

    free(translated);
    return rc;
}

/* Free the decoded blobs of the current row. */
static void stmt_clear_blobs(struct pg_stmt *st)
{
    for (int i = 0; i < st->nblobs; i++) {
        free(st->blobs[i]);
        st->blobs[i] = NULL;
    }
    free(st->blobs);
    free(st->blob_lens);
    st->blobs = NULL;
    st->blob_lens = NULL;
    st->nblobs = 0;
}

/* Drop the result of the last run. */
static void stmt_clear_result(struct pg_stmt *st)
{
    stmt_clear_blobs(st);
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
}

/* Free the bound values. */
static void stmt_clear_bindings(struct pg_stmt *st)
{
    for (int i = 0; i < st->nparams; i++) {
        free(st->values[i]);
        st->values[i] = NULL;
        st->lengths[i] = 0;
        st->formats[i] = 0;
    }
}

/* Free a statement and deallocate it on the server (errors ignored: the
 * session may be in an aborted transaction, and a leftover prepared
 * statement only lives until the connection closes). */
static void pg_finalize(void *handle)
{
    struct pg_stmt *st = handle;
    char sql[64];

    if (st == NULL)
        return;
    stmt_clear_result(st);
    stmt_clear_bindings(st);
    PQclear(st->desc);
    if (st->name[0] != '\0' && PQstatus(st->conn->pg) == CONNECTION_OK &&
        PQtransactionStatus(st->conn->pg) != PQTRANS_INERROR) {
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
        PQclear(PQexec(st->conn->pg, sql));
    }
    free(st->values);
    free(st->lengths);
    free(st->formats);
    free(st);
}

/* Run a piece of work inside a savepoint when a transaction is open, so a
 * failure leaves the transaction usable (see the top of this file). */
static bool savepoint_begin(struct pg_conn *conn)
{
    if (PQtransactionStatus(conn->pg) != PQTRANS_INTRANS)
        return false;
    PQclear(PQexec(conn->pg, "SAVEPOINT mz_stmt"));
    return true;
}

/* End the savepoint of savepoint_begin(): released after success, rolled
 * back to after a failure. */
static void savepoint_end(struct pg_conn *conn, bool ok)
{
    PQclear(PQexec(conn->pg, ok ? "RELEASE SAVEPOINT mz_stmt"
                                : "ROLLBACK TO SAVEPOINT mz_stmt; RELEASE SAVEPOINT mz_stmt"));
}

/* Translate the placeholders and prepare exactly one statement on the
 * server under a name of its own. */
static int pg_prepare(void *handle, const char *sql, bool persistent, void **out)
{
    struct pg_conn *conn = handle;
    struct pg_stmt *st;
    char *translated;
    PGresult *res;
    bool savepoint;
    int nparams = 0;
    int rc;

    (void)persistent; /* every statement is named: uncached ones are deallocated */
    /* More than one statement cannot be prepared: the server says so (42601). */
    translated = placeholders_translate(sql, &nparams);
    st = mz_xcalloc(1, sizeof(*st));
    st->conn = conn;
    st->row = -1;
    st->nparams = nparams;
    st->values = mz_xcalloc((size_t)nparams + 1, sizeof(*st->values));
    st->lengths = mz_xcalloc((size_t)nparams + 1, sizeof(*st->lengths));
    st->formats = mz_xcalloc((size_t)nparams + 1, sizeof(*st->formats));
    st->is_insert = starts_with_word(sql, "INSERT");
    st->is_write = st->is_insert || starts_with_word(sql, "UPDATE") ||
                   starts_with_word(sql, "DELETE") || starts_with_word(sql, "WITH");
    snprintf(st->name, sizeof(st->name), "mz_%lu", ++conn->next_id);
    savepoint = savepoint_begin(conn);
    res = PQprepare(conn->pg, st->name, translated, 0, NULL);
    rc = res_ok(res) ? MZ_OK : conn_fail_res(conn, res);
    PQclear(res);
    if (savepoint)
        savepoint_end(conn, rc == MZ_OK);
    free(translated);
    if (rc != MZ_OK) {
        st->name[0] = '\0';
        pg_finalize(st);
        return rc;
    }
    *out = st;
    return MZ_OK;
}

/* Check a parameter index; MZ_ERR_INVALID (recorded) if out of range. */
static int check_index(struct pg_conn *conn, struct pg_stmt *st, int idx)
{
    if (idx < 1 || idx > st->nparams)
        return conn_fail_msg(conn, MZ_ERR_INVALID, "bind: parameter %d out of range (1..%d)", idx,
                             st->nparams);
    return MZ_OK;
}

/* Keep a copy of len bytes as parameter idx in the given format. */
static int bind_bytes(struct pg_conn *conn, struct pg_stmt *st, int idx, const char *data,
                      size_t len, int format)
{
    int rc = check_index(conn, st, idx);
    char *copy;

    if (rc != MZ_OK)
        return rc;
    if (len > (size_t)0x3fffffff)
        return conn_fail_msg(conn, MZ_ERR_TOOBIG, "bind: value of %zu bytes is too big", len);
    copy = mz_xmalloc(len + 1);
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    free(st->values[idx - 1]);
    st->values[idx - 1] = copy;
    st->lengths[idx - 1] = (int)len;
    st->formats[idx - 1] = format;
    return MZ_OK;
}

/* Bind a 64-bit integer as decimal text. */
static int pg_bind_int(void *handle, void *stmt, int idx, int64_t value)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%lld", (long long)value);

    return bind_bytes(handle, stmt, idx, text, (size_t)n, 0);
}

/* Bind a double as text that reads back as the same double. */
static int pg_bind_double(void *handle, void *stmt, int idx, double value)
{
    char text[40];
    int n = snprintf(text, sizeof(text), "%.17g", value);

    return bind_bytes(handle, stmt, idx, text, (size_t)n, 0);
}

/* Bind UTF-8 text (copied; a NUL inside cannot go to the server as text). */
static int pg_bind_text(void *handle, void *stmt, int idx, const char *text, size_t len)
{
    if (memchr(text, '\0', len) != NULL)
        return conn_fail_msg(handle, MZ_ERR_INVALID, "bind: text holds a nul byte");
    return bind_bytes(handle, stmt, idx, text, len, 0);
}

/* Bind bytes in binary format (bytea). */
static int pg_bind_blob(void *handle, void *stmt, int idx, const void *data, size_t len)
{
    return bind_bytes(handle, stmt, idx, data, len, 1);
}

/* Bind null. */
static int pg_bind_null(void *handle, void *stmt, int idx)
{
    struct pg_stmt *st = stmt;
    int rc = check_index(handle, st, idx);

    if (rc != MZ_OK)
        return rc;
    free(st->values[idx - 1]);
    st->values[idx - 1] = NULL;
    st->lengths[idx - 1] = 0;
    st->formats[idx - 1] = 0;
    return MZ_OK;
}

/* Number of parameters. */
static int pg_param_count(void *stmt)
{
    return ((struct pg_stmt *)stmt)->nparams;
}

/* Record changes() and last_id of a finished write. */
static void note_write(struct pg_conn *conn, struct pg_stmt *st, PGresult *res)
{
    const char *status = PQcmdStatus(res);
    const char *tuples = PQcmdTuples(res);

    if (!(strncmp(status, "INSERT", 6) == 0 || strncmp(status, "UPDATE", 6) == 0 ||
          strncmp(status, "DELETE", 6) == 0 || strncmp(status, "MERGE", 5) == 0))
        return;
    conn->changes = tuples[0] != '\0' ? strtoll(tuples, NULL, 10) : 0;
    if (st->is_insert && strncmp(status, "INSERT", 6) == 0) {
        conn->last_id_known = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
                              PQnfields(res) > 0 && !PQgetisnull(res, 0, 0);
        if (conn->last_id_known)
            conn->last_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
}

/* Run the statement (on its first step) and go to the next row. */
static int pg_step(void *handle, void *stmt)
{
    struct pg_conn *conn = handle;
    struct pg_stmt *st = stmt;
    bool savepoint = false;
    int rc;

    if (st->res == NULL) {
        if (st->is_write)
            savepoint = savepoint_begin(conn);
        st->res = PQexecPrepared(conn->pg, st->name, st->nparams,
                                 (const char *const *)st->values, st->lengths, st->formats, 0);
        rc = res_ok(st->res) ? MZ_OK : conn_fail_res(conn, st->res);
        if (savepoint)
            savepoint_end(conn, rc == MZ_OK);
        if (rc != MZ_OK) {
            PQclear(st->res);
            st->res = NULL;
            return rc;
        }
        note_write(conn, st, st->res);
        st->row = -1;
    }
    stmt_clear_blobs(st);
    if (PQresultStatus(st->res) != PGRES_TUPLES_OK || st->row + 1 >= PQntuples(st->res)) {
        st->row = PQresultStatus(st->res) == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
        return MZ_DONE;
    }
    st->row++;
    return MZ_ROW;
}

/* Rewind: drop the result and the bindings. */
static void pg_reset(void *stmt)
{
    struct pg_stmt *st = stmt;

    stmt_clear_result(st);
    stmt_clear_bindings(st);
}

/* The result describing the columns: the run's, else the server's description. */
static const PGresult *columns_of(struct pg_stmt *st)
{
    if (st->res != NULL)
        return st->res;
    if (st->desc == NULL)
        st->desc = PQdescribePrepared(st->conn->pg, st->name);
    return st->desc;
}

/* True if col is a column of the current row holding a value. */
static bool has_value(struct pg_stmt *st, int col)
{
    return st->res != NULL && st->row >= 0 && st->row < PQntuples(st->res) && col >= 0 &&
           col < PQnfields(st->res) && !PQgetisnull(st->res, st->row, col);
}

/* Result columns. */
static int pg_col_count(void *stmt)
{
    const PGresult *res = columns_of(stmt);

    return res != NULL ? PQnfields(res) : 0;
}

/* Name of a result column. */
static const char *pg_col_name(void *stmt, int col)
{
    const PGresult *res = columns_of(stmt);

    return res != NULL ? PQfname(res, col) : NULL;
}

/* True if text is a number without fraction or exponent. */
static bool integral(const char *text)
{
    return strpbrk(text, ".eE") == NULL;
}

/* Type of a column of the current row, from its type OID. */
static enum mz_col_type pg_col_type(void *stmt, int col)
{
    struct pg_stmt *st = stmt;

    if (!has_value(st, col))
        return MZ_COL_NULL;
    switch (PQftype(st->res, col)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return MZ_COL_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return MZ_COL_REAL;
    case OID_NUMERIC:
        return integral(PQgetvalue(st->res, st->row, col)) ? MZ_COL_INT : MZ_COL_REAL;
    case OID_BYTEA:
        return MZ_COL_BLOB;
    default:
        return MZ_COL_TEXT;
    }
}

/* A column as a 64-bit integer (booleans 1/0, reals truncated, text parsed). */
static int64_t pg_col_int(void *stmt, int col)
{
    struct pg_stmt *st = stmt;
    const char *text;

    if (!has_value(st, col))
        return 0;
    text = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == OID_BOOL)
        return text[0] == 't';
    if (!integral(text))
        return (int64_t)strtod(text, NULL);
    return strtoll(text, NULL, 10);
}

/* A column as a double. */
static double pg_col_double(void *stmt, int col)
{
    struct pg_stmt *st = stmt;
    const char *text;

    if (!has_value(st, col))
        return 0.0;
    text = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == OID_BOOL)
        return text[0] == 't' ? 1.0 : 0.0;
    return strtod(text, NULL);
}

/* The bytes of a bytea column of the current row, decoded once per row and
 * NUL-terminated (so col_text may hand them out too). */
static const unsigned char *blob_of(struct pg_stmt *st, int col, size_t *len)
{
    if (st->blobs == NULL) {
        st->nblobs = PQnfields(st->res);
        st->blobs = mz_xcalloc((size_t)st->nblobs, sizeof(*st->blobs));
        st->blob_lens = mz_xcalloc((size_t)st->nblobs, sizeof(*st->blob_lens));
    }
    if (st->blobs[col] == NULL) {
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea(
            (const unsigned char *)PQgetvalue(st->res, st->row, col), &n);
        if (raw == NULL)
            abort(); /* out of memory: one policy */
        st->blobs[col] = mz_xmalloc(n + 1);
        memcpy(st->blobs[col], raw, n);
        st->blobs[col][n] = '\0';
        st->blob_lens[col] = n;
        PQfreemem(raw);
    }
    *len = st->blob_lens[col];
    return st->blobs[col];
}

/* A column as UTF-8 text, NULL for null (booleans as "1"/"0", like SQLite). */
static const char *pg_col_text(void *stmt, int col)
{
    struct pg_stmt *st = stmt;
    size_t len;

    if (!has_value(st, col))
        return NULL;
    switch (PQftype(st->res, col)) {
    case OID_BOOL:
        return PQgetvalue(st->res, st->row, col)[0] == 't' ? "1" : "0";
    case OID_BYTEA:
        return (const char *)blob_of(st, col, &len);
    default:
        return PQgetvalue(st->res, st->row, col);
    }
}

/* A column as bytes (bytea decoded; other types their text). */
static const void *pg_col_blob(void *stmt, int col)
{
    struct pg_stmt *st = stmt;
    size_t len;

    if (!has_value(st, col))
        return NULL;
    if (PQftype(st->res, col) == OID_BYTEA)
        return blob_of(st, col, &len);
    return pg_col_text(stmt, col);
}

/* Bytes of a text or blob column. */
static size_t pg_col_bytes(void *stmt, int col)
{
    struct pg_stmt *st = stmt;
    size_t len = 0;

    if (!has_value(st, col))
        return 0;
    if (PQftype(st->res, col) == OID_BYTEA) {
        blob_of(st, col, &len);
        return len;
    }
    if (PQftype(st->res, col) == OID_BOOL)
        return 1;
    return (size_t)PQgetlength(st->res, st->row, col);
}

/* --- connection state ------------------------------------------------------------------ */

/* Rows changed by the last write. */
static int64_t pg_changes(void *handle)
{
    return ((struct pg_conn *)handle)->changes;
}

/* Id of the last insert: what RETURNING gave, else lastval() of the session. */
static int64_t pg_last_id(void *handle)
{
    struct pg_conn *conn = handle;
    PGresult *res;
    int64_t id = 0;

    if (conn->last_id_known)
        return conn->last_id;
    if (PQtransactionStatus(conn->pg) == PQTRANS_INERROR)
        return 0;
    res = PQexec(conn->pg, "SELECT lastval()");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return id;
}

/* The message of the last failure on this connection. */
static const char *pg_errmsg(void *handle)
{
    return ((struct pg_conn *)handle)->msg;
}

/* True while the server holds a transaction (also an aborted one) open. */
static bool pg_in_transaction(void *handle)
{
    PGTransactionStatusType st = PQtransactionStatus(((struct pg_conn *)handle)->pg);

    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

/* --- integrity and backup --------------------------------------------------------------- */

/* The server keeps its own consistency (checksums, WAL): a round trip
 * proves the connection works. */
static int pg_integrity_check(void *handle)
{
    return run_simple(handle, "SELECT 1");
}

/* Not offered: a PostgreSQL database is backed up with pg_dump (or by the
 * server's base backups and WAL archiving). */
static int pg_backup(void *handle, const char *to_path)
{
    (void)to_path;
    return conn_fail_msg(handle, MZ_ERR_INVALID,
                         "backup of a postgresql database: use pg_dump or the server's backups");
}

/* --- dialect ------------------------------------------------------------------------------ */

/* PostgreSQL's SQL for the dialect items. */
static const char *pg_dialect(enum mz_dialect_item item)
{
    switch (item) {
    case MZ_SQL_AUTOINCREMENT_PK:
        return "BIGSERIAL PRIMARY KEY";
    case MZ_SQL_NOW:
        /* The same text as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ','now'). */
        return "to_char(clock_timestamp() AT TIME ZONE 'UTC',"
               " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
    case MZ_SQL_NO_INDEX:
        /* The planner has statistics: nothing to keep an index out. */
        return "";
    case MZ_SQL_BLOB:
        return "BYTEA";
    case MZ_SQL_INT64:
        return "BIGINT";
    }
    return NULL;
}

/* The backend table db.c uses for "postgresql://..." and "host=..." specs. */
const struct mz_db_ops mz_db_pg_ops = {
    .kind = MZ_DB_POSTGRESQL,
    .name = "postgresql",
    .sql_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ",
    .sql_begin_write = "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(1)",
    .sql_commit = "COMMIT",
    .sql_rollback = "ROLLBACK",
    .sql_table_exists = "SELECT count(*) FROM information_schema.tables"
                        " WHERE table_schema = current_schema() AND table_name = lower(?)",
    .sql_column_exists = "SELECT count(*) FROM information_schema.columns"
                         " WHERE table_schema = current_schema() AND table_name = lower(?)"
                         " AND column_name = lower(?)",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .param_count = pg_param_count,
    .step = pg_step,
    .reset = pg_reset,
    .col_count = pg_col_count,
    .col_name = pg_col_name,
    .col_type = pg_col_type,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_bytes = pg_col_bytes,
    .changes = pg_changes,
    .last_id = pg_last_id,
    .errmsg = pg_errmsg,
    .in_transaction = pg_in_transaction,
    .backup = pg_backup,
    .integrity_check = pg_integrity_check,
    .dialect = pg_dialect,
};
