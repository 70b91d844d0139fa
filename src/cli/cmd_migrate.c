/* cmd_migrate.c - `minzheng migrate-data --from-sqlite FILE --pg CONNINFO`:
 * move a bureau from the embedded database to PostgreSQL, verified.
 *
 *  1. The source is opened read-only in one read transaction (one snapshot;
 *     stop the servers first all the same). Its key file (--from-key-file,
 *     else minzheng.key beside it) must open it: the key version the
 *     database records must be in the file and the audit chain must verify.
 *  2. The target must be empty: a database where minzheng never ran init
 *     (no mz_migrations rows), unless --replace, which replaces every row of
 *     the tables it copies (an audit log already in the target is never
 *     replaced: the command then refuses). The target is migrated to this
 *     binary's schema; the source must be at the same schema for every
 *     module it has (else: run `minzheng init --db FILE` on it first).
 *  3. The key file moves with the data: the target's key file (--key-file,
 *     else MZ_KEY_FILE, else ./minzheng.key) is written as a copy of the
 *     source's (0600, never overwritten); an existing one must be identical.
 *     Sealed columns, blind indexes and the audit chain's MAC all derive
 *     from it, so every server of the PostgreSQL database needs this file.
 *  4. In one write transaction on the target: each table shared by both
 *     schemas is emptied (a row a trigger keeps is overwritten instead) and
 *     its rows copied with their ids, read from the source in primary-key
 *     order (keyset batches of --batch rows, 1000 by default) and written as
 *     multi-row INSERT ... ON CONFLICT (key) DO UPDATE statements; then the
 *     sequences behind BIGSERIAL columns restart after the largest id.
 *     SQLite-only tables (FTS5 full-text indexes and their shadow tables,
 *     sqlite_stat1) are not copied: PostgreSQL has its own indexes.
 *  5. Still inside the transaction, every table is verified: the row count
 *     and a checksum computed the same way on both sides (scan_table and
 *     row_hash below: each row rendered by the target column's type class
 *     and hashed with BLAKE2b-128, the hashes added up mod 2^64 in two lanes,
 *     so the order rows come in does not matter), the audit chain is
 *     verified on the target, and one sealed value of every sensitive field
 *     is opened with the moved key. Any difference rolls everything back.
 *
 * Prints one line per table and a JSON summary last; exit 0 when copied and
 * verified, 1 when verification failed (nothing written), 2 on usage errors
 * or an unusable source, target or key. Tested by tests/api/migrate.test.mjs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mz/audit.h"
#include "mz/cli.h"
#include "mz/crypto.h"
#include "mz/db.h"

#define CMD "minzheng migrate-data"
#define MAX_PK 4

/* How a column's values are rendered for the copy and the checksum: by the
 * target column's type. */
enum col_class { CLS_INT, CLS_REAL, CLS_TEXT, CLS_BLOB };

struct column {
    char *name;
    enum col_class cls;
};

struct table {
    char *name;
    struct column *cols;
    int ncols;
    int pk[MAX_PK]; /* indexes into cols, in key order */
    int npk;
    const char *skipped; /* why it is not copied, or NULL */
    int64_t src_rows, dst_rows;
    uint64_t src_sum[2], dst_sum[2];
    int64_t ms;
    bool kept_rows; /* the target's rows could not be deleted: overwritten */
};

/* One buffered value of a row waiting for its INSERT. */
struct value {
    enum mz_col_type type;
    int64_t i;
    double d;
    char *p;
    size_t n;
};

/* A name that can be written into SQL as a quoted identifier. */
static bool ident_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 63)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static void tables_free(struct table *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        for (int c = 0; c < t[i].ncols; c++)
            free(t[i].cols[c].name);
        free(t[i].cols);
    }
    free(t);
}

/* --- reading a table in key order -------------------------------------------------- */

typedef int (*row_fn)(void *ctx, struct table *t, struct mz_stmt *st);

/* SELECT of the table's columns in key order, after the last key when more. */
static void scan_sql(struct mz_buf *b, const struct table *t, bool after, int limit)
{
    mz_buf_puts(b, "SELECT ");
    for (int c = 0; c < t->ncols; c++)
        mz_buf_printf(b, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
    mz_buf_printf(b, " FROM \"%s\"", t->name);
    if (t->npk == 0)
        return; /* no key: one read of the whole table */
    if (after) {
        mz_buf_puts(b, " WHERE (");
        for (int k = 0; k < t->npk; k++)
            mz_buf_printf(b, "%s\"%s\"", k ? ", " : "", t->cols[t->pk[k]].name);
        mz_buf_puts(b, ") > (");
        for (int k = 0; k < t->npk; k++)
            mz_buf_puts(b, k ? ", ?" : "?");
        mz_buf_puts(b, ")");
    }
    mz_buf_puts(b, " ORDER BY ");
    for (int k = 0; k < t->npk; k++)
        mz_buf_printf(b, "%s\"%s\"", k ? ", " : "", t->cols[t->pk[k]].name);
    mz_buf_printf(b, " LIMIT %d", limit);
}

/* Call fn for every row of t in db, reading batch rows at a time. */
static int scan_table(struct mz_db *db, struct table *t, int batch, row_fn fn, void *ctx)
{
    struct mz_buf first, next;
    struct mz_stmt *s1 = NULL, *s2 = NULL;
    struct value last[MAX_PK];
    int rc;
    memset(last, 0, sizeof(last));
    mz_buf_init(&first, 0);
    mz_buf_init(&next, 0);
    scan_sql(&first, t, false, batch);
    scan_sql(&next, t, true, batch);
    rc = mz_db_prepare_uncached(db, first.data, &s1);
    if (rc == MZ_OK && t->npk > 0)
        rc = mz_db_prepare_uncached(db, next.data, &s2);
    struct mz_stmt *st = s1;
    while (rc == MZ_OK) {
        int n = 0, step;
        while ((step = mz_db_step(st)) == MZ_ROW) {
            n++;
            rc = fn(ctx, t, st);
            if (rc != MZ_OK)
                break;
            for (int k = 0; k < t->npk; k++) {
                int c = t->pk[k];
                free(last[k].p);
                last[k] = (struct value){.type = mz_db_col_type(st, c)};
                if (t->cols[c].cls == CLS_INT)
                    last[k].i = mz_db_col_int(st, c);
                else
                    last[k].p = mz_xstrdup(mz_db_col_text(st, c) ? mz_db_col_text(st, c) : "");
            }
        }
        if (rc == MZ_OK && step < 0)
            rc = step;
        mz_db_reset(st);
        if (rc != MZ_OK || t->npk == 0 || n < batch)
            break;
        st = s2;
        for (int k = 0; k < t->npk; k++) {
            if (t->cols[t->pk[k]].cls == CLS_INT)
                mz_db_bind_int(st, k + 1, last[k].i);
            else
                mz_db_bind_text(st, k + 1, last[k].p);
        }
    }
    for (int k = 0; k < MAX_PK; k++)
        free(last[k].p);
    if (s1)
        mz_db_finalize(s1);
    if (s2)
        mz_db_finalize(s2);
    mz_buf_free(&first);
    mz_buf_free(&next);
    return rc;
}

/* --- the checksum -------------------------------------------------------------------- */

struct sum_ctx {
    int64_t rows;
    uint64_t sum[2];
};

/* Add one row's hash: each column as a class tag and its canonical bytes. */
static int row_hash(void *vctx, struct table *t, struct mz_stmt *st)
{
    struct sum_ctx *ctx = vctx;
    crypto_generichash_state h;
    unsigned char out[16];
    crypto_generichash_init(&h, NULL, 0, sizeof(out));
    for (int c = 0; c < t->ncols; c++) {
        unsigned char tag;
        uint64_t len;
        if (mz_db_col_type(st, c) == MZ_COL_NULL) {
            tag = 'N';
            crypto_generichash_update(&h, &tag, 1);
            continue;
        }
        switch (t->cols[c].cls) {
        case CLS_INT: {
            char num[24];
            int n = snprintf(num, sizeof(num), "%lld", (long long)mz_db_col_int(st, c));
            tag = 'I';
            crypto_generichash_update(&h, &tag, 1);
            crypto_generichash_update(&h, (const unsigned char *)num, (size_t)n + 1);
            break;
        }
        case CLS_REAL: {
            char num[40];
            int n = snprintf(num, sizeof(num), "%.17g", mz_db_col_double(st, c));
            tag = 'R';
            crypto_generichash_update(&h, &tag, 1);
            crypto_generichash_update(&h, (const unsigned char *)num, (size_t)n + 1);
            break;
        }
        case CLS_BLOB:
        case CLS_TEXT: {
            const void *p = t->cols[c].cls == CLS_BLOB ? mz_db_col_blob(st, c)
                                                      : (const void *)mz_db_col_text(st, c);
            len = mz_db_col_bytes(st, c);
            tag = t->cols[c].cls == CLS_BLOB ? 'B' : 'T';
            crypto_generichash_update(&h, &tag, 1);
            crypto_generichash_update(&h, (const unsigned char *)&len, sizeof(len));
            if (p && len)
                crypto_generichash_update(&h, p, (size_t)len);
            break;
        }
        }
    }
    crypto_generichash_final(&h, out, sizeof(out));
    uint64_t a, b;
    memcpy(&a, out, 8);
    memcpy(&b, out + 8, 8);
    ctx->sum[0] += a;
    ctx->sum[1] += b;
    ctx->rows++;
    return MZ_OK;
}

static int table_sum(struct mz_db *db, struct table *t, int batch, int64_t *rows,
                     uint64_t sum[2])
{
    struct sum_ctx ctx = {0};
    int rc = scan_table(db, t, batch, row_hash, &ctx);
    *rows = ctx.rows;
    sum[0] = ctx.sum[0];
    sum[1] = ctx.sum[1];
    return rc;
}

/* --- the copy ------------------------------------------------------------------------- */

struct copy_ctx {
    struct mz_db *dst;
    struct table *t;
    int per_stmt;         /* rows per full INSERT */
    struct mz_stmt *full; /* INSERT of per_stmt rows */
    struct value *buf;    /* per_stmt * ncols values */
    int nbuf;             /* rows buffered */
};

/* INSERT of n rows of t, overwriting a row with the same key. */
static void insert_sql(struct mz_buf *b, const struct table *t, int n)
{
    mz_buf_printf(b, "INSERT INTO \"%s\" (", t->name);
    for (int c = 0; c < t->ncols; c++)
        mz_buf_printf(b, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
    mz_buf_puts(b, ") VALUES ");
    for (int r = 0; r < n; r++) {
        mz_buf_puts(b, r ? ", (" : "(");
        for (int c = 0; c < t->ncols; c++)
            mz_buf_puts(b, c ? ", ?" : "?");
        mz_buf_puts(b, ")");
    }
    if (t->npk == 0)
        return;
    mz_buf_puts(b, " ON CONFLICT (");
    for (int k = 0; k < t->npk; k++)
        mz_buf_printf(b, "%s\"%s\"", k ? ", " : "", t->cols[t->pk[k]].name);
    mz_buf_puts(b, ") DO ");
    int set = 0;
    for (int c = 0; c < t->ncols; c++) {
        bool key = false;
        for (int k = 0; k < t->npk; k++)
            key = key || t->pk[k] == c;
        if (!key)
            mz_buf_printf(b, "%s\"%s\" = excluded.\"%s\"", set++ ? ", " : "UPDATE SET ",
                          t->cols[c].name, t->cols[c].name);
    }
    if (set == 0)
        mz_buf_puts(b, "NOTHING");
}

static void value_clear(struct value *v)
{
    free(v->p);
    memset(v, 0, sizeof(*v));
}

/* Write the n buffered rows with st (prepared for n rows). */
static int flush_rows(struct copy_ctx *ctx, struct mz_stmt *st, int n)
{
    int idx = 1;
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < ctx->t->ncols; c++, idx++) {
            struct value *v = &ctx->buf[r * ctx->t->ncols + c];
            switch (v->type) {
            case MZ_COL_NULL:
                mz_db_bind_null(st, idx);
                break;
            case MZ_COL_INT:
                mz_db_bind_int(st, idx, v->i);
                break;
            case MZ_COL_REAL:
                mz_db_bind_double(st, idx, v->d);
                break;
            case MZ_COL_BLOB:
                mz_db_bind_blob(st, idx, v->p, v->n);
                break;
            case MZ_COL_TEXT:
                mz_db_bind_textn(st, idx, v->p, v->n);
                break;
            }
        }
    }
    int rc = mz_db_step(st);
    mz_db_reset(st);
    for (int i = 0; i < n * ctx->t->ncols; i++)
        value_clear(&ctx->buf[i]);
    ctx->nbuf = 0;
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

/* Buffer one source row (as the target column's class wants it). */
static int copy_row(void *vctx, struct table *t, struct mz_stmt *st)
{
    struct copy_ctx *ctx = vctx;
    struct value *row = &ctx->buf[ctx->nbuf * t->ncols];
    for (int c = 0; c < t->ncols; c++) {
        struct value *v = &row[c];
        enum mz_col_type type = mz_db_col_type(st, c);
        v->type = type;
        if (type == MZ_COL_NULL)
            continue;
        if (t->cols[c].cls == CLS_INT && type == MZ_COL_INT) {
            v->i = mz_db_col_int(st, c);
        } else if (t->cols[c].cls == CLS_REAL && (type == MZ_COL_REAL || type == MZ_COL_INT)) {
            v->type = MZ_COL_REAL;
            v->d = mz_db_col_double(st, c);
        } else if (t->cols[c].cls == CLS_BLOB) {
            v->type = MZ_COL_BLOB;
            v->n = mz_db_col_bytes(st, c);
            v->p = mz_xmalloc(v->n + 1);
            if (v->n)
                memcpy(v->p, mz_db_col_blob(st, c), v->n);
        } else {
            /* Text, or a value the target parses from its text. */
            const char *s = mz_db_col_text(st, c);
            v->type = MZ_COL_TEXT;
            v->n = mz_db_col_bytes(st, c);
            v->p = mz_xmalloc(v->n + 1);
            if (s && v->n)
                memcpy(v->p, s, v->n);
            v->p[v->n] = '\0';
        }
    }
    if (++ctx->nbuf == ctx->per_stmt)
        return flush_rows(ctx, ctx->full, ctx->nbuf);
    return MZ_OK;
}

/* Empty the target table (or note that a trigger keeps its rows), then copy. */
static int copy_table(struct mz_db *src, struct mz_db *dst, struct table *t, int batch)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"", t->name);
    struct mz_stmt *del;
    int rc = mz_db_prepare_uncached(dst, sql, &del);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_step(del);
    mz_db_finalize(del);
    if (rc == MZ_ERR_CONSTRAINT && t->npk > 0)
        t->kept_rows = true; /* e.g. mz_audit_settings: rows are overwritten by key */
    else if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;

    struct copy_ctx ctx = {.dst = dst, .t = t};
    ctx.per_stmt = 30000 / t->ncols;
    if (ctx.per_stmt > 500)
        ctx.per_stmt = 500;
    if (ctx.per_stmt < 1)
        ctx.per_stmt = 1;
    ctx.buf = mz_xcalloc((size_t)ctx.per_stmt * (size_t)t->ncols, sizeof(struct value));
    struct mz_buf b;
    mz_buf_init(&b, 0);
    insert_sql(&b, t, ctx.per_stmt);
    rc = mz_db_prepare_uncached(dst, b.data, &ctx.full);
    if (rc == MZ_OK)
        rc = scan_table(src, t, batch, copy_row, &ctx);
    if (rc == MZ_OK && ctx.nbuf > 0) {
        struct mz_stmt *tail;
        mz_buf_reset(&b);
        insert_sql(&b, t, ctx.nbuf);
        rc = mz_db_prepare_uncached(dst, b.data, &tail);
        if (rc == MZ_OK) {
            rc = flush_rows(&ctx, tail, ctx.nbuf);
            mz_db_finalize(tail);
        }
    }
    for (int i = 0; i < ctx.per_stmt * t->ncols; i++)
        value_clear(&ctx.buf[i]);
    free(ctx.buf);
    if (ctx.full)
        mz_db_finalize(ctx.full);
    mz_buf_free(&b);
    return rc;
}

/* Restart the sequence of every serial column of t after its largest value. */
static int reset_sequences(struct mz_db *dst, const struct table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'),"
                 " (SELECT COALESCE(max(\"%s\"), 0) + 1 FROM \"%s\"), false)"
                 " WHERE pg_get_serial_sequence('\"%s\"', '%s') IS NOT NULL",
                 t->name, t->cols[c].name, t->cols[c].name, t->name, t->name, t->cols[c].name);
        if (t->cols[c].cls != CLS_INT)
            continue;
        struct mz_stmt *st;
        int rc = mz_db_prepare_uncached(dst, sql, &st);
        if (rc != MZ_OK)
            return rc;
        rc = mz_db_step(st);
        mz_db_finalize(st);
        if (rc < 0)
            return rc;
    }
    return MZ_OK;
}

/* --- schemas ---------------------------------------------------------------------------- */

/* The class of a PostgreSQL column type (information_schema data_type). */
static enum col_class pg_class(const char *type)
{
    if (strcmp(type, "bigint") == 0 || strcmp(type, "integer") == 0 ||
        strcmp(type, "smallint") == 0 || strcmp(type, "boolean") == 0)
        return CLS_INT;
    if (strcmp(type, "double precision") == 0 || strcmp(type, "real") == 0 ||
        strcmp(type, "numeric") == 0)
        return CLS_REAL;
    if (strcmp(type, "bytea") == 0)
        return CLS_BLOB;
    return CLS_TEXT;
}

/* The target type class of table.column, or -1 if the target has no such column. */
static int target_class(struct mz_db *dst, const char *table, const char *column)
{
    struct mz_stmt *st;
    int cls = -1;
    if (mz_db_prepare(dst,
                      "SELECT data_type FROM information_schema.columns WHERE table_schema ="
                      " current_schema() AND table_name = ? AND column_name = ?",
                      &st) != MZ_OK)
        return -1;
    mz_db_bind_text(st, 1, table);
    mz_db_bind_text(st, 2, column);
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
        cls = (int)pg_class(mz_db_col_text(st, 0));
    mz_db_done(st);
    return cls;
}

/* True if name is an FTS5/FTS4 table of the source or one of its shadow tables. */
static bool sqlite_fts(struct mz_db *src, const char *name)
{
    struct mz_stmt *st;
    bool fts = false;
    if (mz_db_prepare(src,
                      "SELECT name FROM sqlite_master WHERE type = 'table' AND"
                      " sql LIKE 'CREATE VIRTUAL TABLE%'",
                      &st) != MZ_OK)
        return false;
    while (!fts && mz_db_step(st) == MZ_ROW) {
        const char *v = mz_db_col_text(st, 0);
        size_t n = v ? strlen(v) : 0;
        fts = n > 0 && strncmp(name, v, n) == 0 && (name[n] == '\0' || name[n] == '_');
    }
    mz_db_done(st);
    return fts;
}

/* The tables to copy, with their columns, key and target classes. 0, or 2
 * after a message when the schemas do not match. */
static int plan_tables(struct mz_db *src, struct mz_db *dst, struct table **out, size_t *nout)
{
    struct mz_stmt *st;
    size_t n = 0, cap = 64;
    struct table *t = mz_xcalloc(cap, sizeof(*t));
    int rc = mz_db_prepare_uncached(src,
                                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                                    " AND name <> 'mz_migrations' ORDER BY name",
                                    &st);
    if (rc != MZ_OK) {
        free(t);
        return 2;
    }
    while (mz_db_step(st) == MZ_ROW) {
        if (n == cap) {
            cap *= 2;
            t = realloc(t, cap * sizeof(*t));
            if (t == NULL)
                abort();
        }
        memset(&t[n], 0, sizeof(t[n]));
        t[n++].name = mz_xstrdup(mz_db_col_text(st, 0));
    }
    mz_db_finalize(st);
    *out = t;
    *nout = n;
    for (size_t i = 0; i < n; i++) {
        struct table *tb = &t[i];
        if (strncmp(tb->name, "sqlite_", 7) == 0) {
            tb->skipped = "SQLite statistics";
            continue;
        }
        if (!ident_ok(tb->name)) {
            fprintf(stderr, CMD ": 源库中的表名 '%s' 无法迁移 (unexpected table name)\n", tb->name);
            return 2;
        }
        if (!mz_db_table_exists(dst, tb->name)) {
            if (sqlite_fts(src, tb->name)) {
                tb->skipped = "SQLite full-text index (PostgreSQL uses its own indexes)";
                continue;
            }
            fprintf(stderr,
                    CMD ": 源库中的表 %s 在目标库的结构中不存在；源库可能来自更新的版本或含有"
                    "本程序没有的模块 (table %s is not in this binary's schema)\n",
                    tb->name, tb->name);
            return 2;
        }
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT name, pk FROM pragma_table_info('%s')", tb->name);
        if (mz_db_prepare_uncached(src, sql, &st) != MZ_OK)
            return 2;
        int cap_cols = 16;
        tb->cols = mz_xcalloc((size_t)cap_cols, sizeof(*tb->cols));
        int pk_order[MAX_PK + 1] = {0};
        int pk_col[MAX_PK + 1];
        while (mz_db_step(st) == MZ_ROW) {
            if (tb->ncols == cap_cols) {
                cap_cols *= 2;
                tb->cols = realloc(tb->cols, (size_t)cap_cols * sizeof(*tb->cols));
                if (tb->cols == NULL)
                    abort();
            }
            const char *name = mz_db_col_text(st, 0);
            int64_t pk = mz_db_col_int(st, 1);
            struct column *c = &tb->cols[tb->ncols];
            c->name = mz_xstrdup(name ? name : "");
            if (pk > 0 && pk <= MAX_PK) {
                pk_order[pk] = 1;
                pk_col[pk] = tb->ncols;
            } else if (pk > MAX_PK) {
                tb->npk = -1;
            }
            tb->ncols++;
        }
        mz_db_finalize(st);
        if (tb->npk == 0) {
            for (int k = 1; k <= MAX_PK && pk_order[k]; k++)
                tb->pk[tb->npk++] = pk_col[k];
        } else {
            tb->npk = 0; /* a key too wide: read without one */
        }
        for (int c = 0; c < tb->ncols; c++) {
            int cls = ident_ok(tb->cols[c].name) ? target_class(dst, tb->name, tb->cols[c].name)
                                                 : -1;
            if (cls < 0) {
                fprintf(stderr,
                        CMD ": 源库的 %s.%s 列在目标库中不存在；请先用本程序对源库运行 minzheng "
                        "init --db FILE 升级 (column %s.%s is not in the target schema)\n",
                        tb->name, tb->cols[c].name, tb->name, tb->cols[c].name);
                return 2;
            }
            tb->cols[c].cls = (enum col_class)cls;
        }
    }
    return 0;
}

/* Every migration step the source recorded must be in the target, and every
 * step of the target for a module the source has must be in the source. */
static int check_steps(struct mz_db *src, struct mz_db *dst)
{
    struct mz_stmt *st;
    int bad = 0;
    if (mz_db_prepare_uncached(src, "SELECT module, number FROM mz_migrations", &st) != MZ_OK)
        return 2;
    while (!bad && mz_db_step(st) == MZ_ROW) {
        int64_t n = 0;
        char num[24];
        snprintf(num, sizeof(num), "%lld", (long long)mz_db_col_int(st, 1));
        const char *params[] = {mz_db_col_text(st, 0), num};
        if (mz_db_query_int(dst, "SELECT count(*) FROM mz_migrations WHERE module = ? AND number = ?",
                            &n, 2, params) != MZ_OK || n == 0) {
            fprintf(stderr,
                    CMD ": 源库的结构比本程序新（模块 %s 的第 %s 步迁移本程序没有）；请用与源库"
                    "相同或更新版本的 minzheng 迁移 (the source is newer than this binary)\n",
                    params[0], num);
            bad = 2;
        }
    }
    mz_db_finalize(st);
    if (bad)
        return bad;
    if (mz_db_prepare_uncached(dst, "SELECT module, number FROM mz_migrations", &st) != MZ_OK)
        return 2;
    while (!bad && mz_db_step(st) == MZ_ROW) {
        int64_t has_module = 0, has_step = 0;
        char num[24];
        snprintf(num, sizeof(num), "%lld", (long long)mz_db_col_int(st, 1));
        const char *params[] = {mz_db_col_text(st, 0), num};
        if (mz_db_query_int(src, "SELECT count(*) FROM mz_migrations WHERE module = ?",
                            &has_module, 1, params) != MZ_OK ||
            mz_db_query_int(src, "SELECT count(*) FROM mz_migrations WHERE module = ? AND number = ?",
                            &has_step, 2, params) != MZ_OK) {
            bad = 2;
        } else if (has_module > 0 && has_step == 0) {
            fprintf(stderr,
                    CMD ": 源库尚未升级到本程序的结构（模块 %s 缺第 %s 步迁移）；请先运行 "
                    "minzheng init --db FILE (the source needs init first)\n",
                    params[0], num);
            bad = 2;
        }
    }
    mz_db_finalize(st);
    return bad;
}

/* --- the key file -------------------------------------------------------------------------- */

/* Read a whole small file; NULL on error. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = mz_xmalloc(65536);
    *len = fread(buf, 1, 65535, f);
    bool bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        sodium_memzero(buf, 65536);
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* Make dst a copy of the key file src (0600), or check that it is one. 0 or 2. */
static int move_key(const char *src, const char *dst, const char **what)
{
    size_t n = 0, m = 0;
    char *a = slurp(src, &n);
    if (a == NULL) {
        fprintf(stderr, CMD ": 无法读取源库的密钥文件 %s (%s)\n", src, strerror(errno));
        return 2;
    }
    struct stat sa, sb;
    if (stat(dst, &sb) == 0) {
        int rc = 0;
        if (stat(src, &sa) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) {
            *what = "same file";
        } else {
            char *b = slurp(dst, &m);
            if (b == NULL || m != n || sodium_memcmp(a, b, n) != 0) {
                fprintf(stderr,
                        CMD ": 目标密钥文件 %s 已存在且与源库的密钥文件 %s 不同；不会覆盖。请移走"
                        "它或用 --key-file 指定新路径 (the target key file differs)\n",
                        dst, src);
                rc = 2;
            } else {
                *what = "identical file present";
            }
            if (b) {
                sodium_memzero(b, m);
                free(b);
            }
        }
        sodium_memzero(a, n);
        free(a);
        return rc;
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t w = fd >= 0 ? write(fd, a, n) : -1;
    bool ok = fd >= 0 && w == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    sodium_memzero(a, n);
    free(a);
    if (!ok) {
        fprintf(stderr, CMD ": 无法写入目标密钥文件 %s (%s)\n", dst, strerror(errno));
        if (fd >= 0)
            unlink(dst);
        return 2;
    }
    *what = "copied";
    return 0;
}

/* Open one sealed value of every sensitive field of every entity with the
 * loaded key: *checked counts them. MZ_OK, or MZ_ERR_INVALID naming the field. */
static int check_sealed(struct mz_app *app, struct mz_db *db, int *checked, char *bad, size_t n)
{
    *checked = 0;
    for (size_t i = 0; i < app->nentities; i++) {
        const struct mz_entity *e = app->entities[i];
        for (size_t j = 0; j < e->nfields; j++) {
            const struct mz_field *f = &e->fields[j];
            if (!(f->flags & MZ_F_SENSITIVE) || !mz_db_table_exists(db, e->name))
                continue;
            char sql[256], context[160];
            snprintf(sql, sizeof(sql),
                     "SELECT \"%s\" FROM \"%s\" WHERE \"%s\" IS NOT NULL ORDER BY id LIMIT 1",
                     f->name, e->name, f->name);
            struct mz_stmt *st;
            if (mz_db_prepare_uncached(db, sql, &st) != MZ_OK)
                continue;
            int rc = MZ_OK;
            if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0) &&
                mz_crypto_is_sealed(mz_db_col_text(st, 0))) {
                struct mz_arena *a = mz_arena_new();
                char *plain;
                size_t len;
                snprintf(context, sizeof(context), "%s.%s", e->name, f->name);
                rc = mz_crypto_open(a, context, mz_db_col_text(st, 0), &plain, &len);
                mz_arena_free(a);
                if (rc == MZ_OK)
                    (*checked)++;
                else
                    snprintf(bad, n, "%s", context);
            }
            mz_db_finalize(st);
            if (rc != MZ_OK)
                return MZ_ERR_INVALID;
        }
    }
    return MZ_OK;
}

/* --- the command ------------------------------------------------------------------------------ */

static const char *hex_sum(const uint64_t s[2], char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)s[0], (unsigned long long)s[1]);
    return out;
}

int mz_cmd_migrate_data(int argc, char **argv)
{
    const char *from = NULL, *pg = NULL, *key = NULL, *from_key = NULL, *batch_s = NULL,
               *replace = NULL;
    struct mz_cli_option opts[] = {
        {"from-sqlite", "FILE", "SQLite database to copy (read-only; stop its servers first)",
         &from, NULL},
        {"pg", "CONNINFO", "PostgreSQL database to fill (empty, or see --replace)", &pg, "MZ_PG"},
        {"from-key-file", "FILE", "key file of the source (default: minzheng.key beside it)",
         &from_key, NULL},
        {"key-file", "FILE", "key file for the target: written as a copy of the source's "
                             "(default ./minzheng.key)", &key, "MZ_KEY_FILE"},
        {"batch", "N", "rows read per batch (default 1000)", &batch_s, NULL},
        {"replace", NULL, "replace the rows of a target that already has minzheng data", &replace,
         NULL},
    };
    int rc = mz_cli_parse(argc, argv,
                          "Copy a SQLite database into PostgreSQL: migrate the target schema, copy "
                          "every table with its ids in one transaction, reset the sequences, and "
                          "verify row counts and a checksum per table, the audit chain and the "
                          "sealed values before committing. The key file moves with the data.",
                          opts, MZ_ARRAY_LEN(opts));
    if (rc >= 0)
        return rc;
    if (from == NULL || *from == '\0' || mz_db_spec_is_postgresql(from)) {
        fprintf(stderr, CMD ": 请用 --from-sqlite FILE 指定源 SQLite 数据库文件\n");
        return 2;
    }
    if (pg == NULL || !mz_db_spec_is_postgresql(pg)) {
        fprintf(stderr, CMD ": 请用 --pg CONNINFO 指定目标 PostgreSQL 数据库（postgresql://... 或 "
                        "host=... dbname=...）\n");
        return 2;
    }
    int batch = 1000;
    if (batch_s) {
        char *end;
        long b = strtol(batch_s, &end, 10);
        if (*end != '\0' || b < 1 || b > 100000) {
            fprintf(stderr, CMD ": --batch 应为 1 到 100000 之间的整数\n");
            return 2;
        }
        batch = (int)b;
    }
    struct stat sst;
    if (stat(from, &sst) != 0 || !S_ISREG(sst.st_mode)) {
        fprintf(stderr, CMD ": 源数据库文件 %s 不存在\n", from);
        return 2;
    }
    int64_t t0 = mz_mono_us();
    struct mz_app app;
    const struct mz_module *const *extra;
    size_t nextra;
    mz_cli_extra_modules(&extra, &nextra);
    if (mz_app_init(&app, pg, extra, nextra) != MZ_OK) {
        fprintf(stderr, CMD ": the module declarations are inconsistent\n");
        return 2;
    }
    struct mz_db *src = NULL, *dst = NULL;
    struct table *tables = NULL;
    size_t ntables = 0;
    char *src_key = from_key ? mz_xstrdup(from_key) : mz_crypto_default_path(from);
    char *dst_key = key && *key ? mz_xstrdup(key) : mz_crypto_default_path(pg);
    const char *key_what = "";
    int status = 2;

    /* 1. The source and its key. */
    struct mz_db_options so = {.readonly = true, .create = false, .busy_timeout_ms = 5000};
    if (mz_db_open(from, &so, &src) != MZ_OK || !mz_db_table_exists(src, "mz_migrations")) {
        fprintf(stderr, CMD ": %s 不是 minzheng 的 SQLite 数据库 (no mz_migrations table)\n", from);
        goto out;
    }
    if (mz_crypto_load(src_key, false) != MZ_OK) {
        fprintf(stderr,
                CMD ": 无法加载源库的密钥文件 %s（应为 0600 权限；用 --from-key-file 指定）\n",
                src_key);
        goto out;
    }
    int64_t key_version = 0;
    if (mz_db_query_int(src, "SELECT version FROM mz_keystate WHERE id = 1", &key_version, 0,
                        NULL) != MZ_OK ||
        mz_crypto_use((int)key_version) != MZ_OK) {
        fprintf(stderr, CMD ": 密钥文件 %s 中没有源库使用的密钥版本 %lld\n", src_key,
                (long long)key_version);
        goto out;
    }
    if (mz_db_begin(src) != MZ_OK) {
        fprintf(stderr, CMD ": 无法读取源库 %s: %s\n", from, mz_db_errmsg(src));
        goto out;
    }
    struct mz_audit_check chk;
    if (mz_audit_verify(src, &chk) != MZ_OK || !chk.intact) {
        fprintf(stderr,
                CMD ": 源库的审计日志哈希链校验失败（第 %lld 条，%s）；密钥文件不对或日志被改动，"
                "不迁移 (%s)\n",
                (long long)chk.bad_seq, chk.problem ? chk.problem : "?", chk.message);
        goto out;
    }
    int64_t audit_entries = chk.entries;

    /* 2. The target: empty (or --replace), then migrated. */
    struct mz_db_options to = {.create = true, .busy_timeout_ms = 5000};
    if (mz_db_open(pg, &to, &dst) != MZ_OK) {
        fprintf(stderr, CMD ": 无法连接目标 PostgreSQL 数据库 (cannot connect)\n");
        goto out;
    }
    if (mz_db_table_exists(dst, "mz_migrations")) {
        int64_t steps = 0, audit = 0;
        mz_db_query_int(dst, "SELECT count(*) FROM mz_migrations", &steps, 0, NULL);
        if (steps > 0 && replace == NULL) {
            fprintf(stderr,
                    CMD ": 目标数据库不是空库（已初始化或已迁移过）。请迁移到新建的空数据库"
                    "（createdb），或加 --replace 用源库的内容替换目标库中的数据 (the target is "
                    "not empty)\n");
            goto out;
        }
        if (mz_db_table_exists(dst, "mz_audit") &&
            mz_db_query_int(dst, "SELECT count(*) FROM mz_audit", &audit, 0, NULL) == MZ_OK &&
            audit > 0) {
            fprintf(stderr,
                    CMD ": 目标数据库已有 %lld 条审计日志，审计日志不可删除或覆盖；请迁移到新建的"
                    "空数据库 (the target has an audit log)\n",
                    (long long)audit);
            goto out;
        }
    }
    int applied = 0;
    if (mz_app_migrate(&app, dst, &applied) != MZ_OK) {
        fprintf(stderr, CMD ": 目标库结构迁移失败: %s\n", mz_db_errmsg(dst));
        goto out;
    }
    if (check_steps(src, dst) != 0 || plan_tables(src, dst, &tables, &ntables) != 0)
        goto out;

    /* 3. The key file moves with the data. */
    if (move_key(src_key, dst_key, &key_what) != 0)
        goto out;

    /* 4. Copy, in one transaction. */
    if (mz_db_begin_write(dst) != MZ_OK) {
        fprintf(stderr, CMD ": 无法开始目标库事务: %s\n", mz_db_errmsg(dst));
        goto out;
    }
    int64_t rows = 0;
    int64_t t_copy = mz_mono_us();
    rc = MZ_OK;
    for (size_t i = 0; rc == MZ_OK && i < ntables; i++) {
        struct table *t = &tables[i];
        if (t->skipped)
            continue;
        int64_t ts = mz_mono_us();
        rc = copy_table(src, dst, t, batch);
        if (rc == MZ_OK)
            rc = reset_sequences(dst, t);
        t->ms = (mz_mono_us() - ts) / 1000;
        if (rc != MZ_OK)
            fprintf(stderr, CMD ": 复制表 %s 失败: %s (%s)\n", t->name, mz_err_name(rc),
                    mz_db_errmsg(dst));
    }
    int64_t copy_ms = (mz_mono_us() - t_copy) / 1000;

    /* 5. Verify before committing. */
    bool same = rc == MZ_OK;
    int64_t t_verify = mz_mono_us();
    for (size_t i = 0; rc == MZ_OK && i < ntables; i++) {
        struct table *t = &tables[i];
        if (t->skipped)
            continue;
        rc = table_sum(src, t, batch, &t->src_rows, t->src_sum);
        if (rc == MZ_OK)
            rc = table_sum(dst, t, batch, &t->dst_rows, t->dst_sum);
        if (rc == MZ_OK && (t->src_rows != t->dst_rows || t->src_sum[0] != t->dst_sum[0] ||
                            t->src_sum[1] != t->dst_sum[1]))
            same = false;
        rows += t->src_rows;
    }
    if (rc != MZ_OK) {
        fprintf(stderr, CMD ": 校验时读取失败: %s (%s)\n", mz_err_name(rc), mz_db_errmsg(dst));
        same = false;
    }
    struct mz_audit_check dchk = {0};
    bool audit_ok = same && mz_audit_verify(dst, &dchk) == MZ_OK && dchk.intact &&
                    dchk.entries == audit_entries;
    int sealed = 0;
    char bad_field[160] = "";
    bool sealed_ok = same && check_sealed(&app, dst, &sealed, bad_field, sizeof(bad_field)) == MZ_OK;
    int64_t verify_ms = (mz_mono_us() - t_verify) / 1000;

    /* The report: one line per table, then the JSON summary. */
    printf("%-32s %12s %12s  %-32s %s\n", "table", "source rows", "target rows", "checksum",
           "result");
    for (size_t i = 0; i < ntables; i++) {
        struct table *t = &tables[i];
        char h1[33], h2[33];
        if (t->skipped) {
            printf("%-32s %12s %12s  %-32s skipped: %s\n", t->name, "-", "-", "-", t->skipped);
            continue;
        }
        bool ok = t->src_rows == t->dst_rows && t->src_sum[0] == t->dst_sum[0] &&
                  t->src_sum[1] == t->dst_sum[1];
        printf("%-32s %12lld %12lld  %-32s %s%s\n", t->name, (long long)t->src_rows,
               (long long)t->dst_rows, hex_sum(t->dst_sum, h1),
               ok ? "ok" : "MISMATCH source ", ok ? "" : hex_sum(t->src_sum, h2));
    }
    if (!same || !audit_ok || !sealed_ok) {
        mz_db_rollback(dst);
        if (same && !audit_ok)
            fprintf(stderr, CMD ": 目标库的审计日志哈希链校验失败: %s\n", dchk.message);
        if (same && !sealed_ok)
            fprintf(stderr, CMD ": 目标库中 %s 的加密值无法用密钥文件解开\n", bad_field);
        fprintf(stderr, CMD ": 校验未通过，目标库的改动已全部回滚（nothing was written）\n");
        status = 1;
        goto out;
    }
    if (mz_db_commit(dst) != MZ_OK) {
        fprintf(stderr, CMD ": 提交失败: %s\n", mz_db_errmsg(dst));
        status = 1;
        goto out;
    }
    printf("{\"migrated\":true,\"verified\":true,\"tables\":[");
    int k = 0;
    for (size_t i = 0; i < ntables; i++) {
        char h[33];
        if (tables[i].skipped)
            continue;
        printf("%s{\"name\":\"%s\",\"rows\":%lld,\"checksum\":\"%s\",\"ms\":%lld}", k++ ? "," : "",
               tables[i].name, (long long)tables[i].dst_rows, hex_sum(tables[i].dst_sum, h),
               (long long)tables[i].ms);
    }
    printf("],\"skipped\":[");
    k = 0;
    for (size_t i = 0; i < ntables; i++) {
        if (tables[i].skipped)
            printf("%s\"%s\"", k++ ? "," : "", tables[i].name);
    }
    json_t *key_json = json_string(dst_key); /* a path: escaped as JSON */
    char *key_text = key_json ? json_dumps(key_json, JSON_ENCODE_ANY) : NULL;
    printf("],\"rows\":%lld,\"audit_entries\":%lld,\"sealed_fields_checked\":%d,"
           "\"key_version\":%lld,\"key_file\":%s,\"key_file_action\":\"%s\","
           "\"copy_ms\":%lld,\"verify_ms\":%lld,\"ms\":%lld}\n",
           (long long)rows, (long long)audit_entries, sealed, (long long)key_version,
           key_text ? key_text : "null", key_what, (long long)copy_ms, (long long)verify_ms,
           (long long)((mz_mono_us() - t0) / 1000));
    free(key_text);
    json_decref(key_json);
    status = 0;
out:
    if (src) {
        if (mz_db_in_transaction(src))
            mz_db_rollback(src);
        mz_db_close(src);
    }
    if (dst) {
        if (mz_db_in_transaction(dst))
            mz_db_rollback(dst);
        mz_db_close(dst);
    }
    tables_free(tables, ntables);
    free(src_key);
    free(dst_key);
    mz_app_free(&app);
    return status;
}
