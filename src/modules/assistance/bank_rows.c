/* bank_rows.c - the paid rows of a run as the bank files write them, with
 * the accounts opened on a second thread.
 *
 * Both bank files (payroll.c's default CSV, bank_layouts.c's per-bank
 * layouts) need every paid row of a run with its sealed account opened:
 * a million decryptions for a city's run. assist_bank_rows() reads the rows
 * (SQLite, this thread) in batches of BATCH and hands each batch to a
 * worker thread that opens the accounts and formats the lines (libsodium is
 * thread-safe after sodium_init); while the worker formats batch k, this
 * thread reads batch k + 1, then writes batch k's lines to the file. Batches
 * are written in order, so the file is exactly what one thread would write.
 * At most one worker runs at a time, so a line function's own state (an
 * iconv handle) is never used by two threads at once. Without a thread
 * (pthread_create fails) every batch is formatted here.
 *
 * A packed run (packs.c, docs/assistance.md "Packed payroll snapshot")
 * first writes its packed households, one pack opened at a time on this
 * thread (the pack holds the accounts: nothing to open per row), then its
 * paid rows as above.
 *
 * Tested by tests/api/assistance.test.mjs and tests/api/reconcile.test.mjs
 * (the files' lines and control totals), bench/payroll.c at scale.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "modules/assistance/assistance_internal.h"

#define BATCH 4096

struct batch {
    struct assist_bank_row rows[BATCH];
    const char *sealed[BATCH];
    int origin[BATCH];
    size_t n;
    struct mz_arena *arena; /* the batch's texts and opened accounts */
    struct mz_buf out;      /* the batch's lines */
    assist_bank_line_fn fn;
    void *ctx;
    int rc;
    int64_t bad_payment;
    pthread_t thread;
};

/* Open the accounts and format the lines of one batch. */
static void *batch_format(void *arg)
{
    struct batch *b = arg;
    b->rc = MZ_OK;
    for (size_t i = 0; i < b->n && b->rc == MZ_OK; i++) {
        struct assist_bank_row *r = &b->rows[i];
        char *account = NULL;
        if (b->sealed[i] == NULL ||
            mz_crypto_open(b->arena, assist_account_context(b->origin[i]), b->sealed[i], &account,
                           &r->account_len) != MZ_OK) {
            b->rc = MZ_ERR_INVALID;
        } else {
            r->account = account;
            b->rc = b->fn(b->ctx, r, &b->out, b->arena);
        }
        if (b->rc != MZ_OK)
            b->bad_payment = r->payment_id;
    }
    return NULL;
}

static const char *copy_text(struct mz_arena *a, const char *s)
{
    return s ? mz_arena_strdup(a, s) : "";
}

/* Read up to BATCH rows of st into b (seq numbers and totals counted here);
 * *done once the statement has returned its last row (stepping it again
 * would start it over). */
static int batch_read(struct mz_stmt *st, struct batch *b, int64_t *count, int64_t *sum, bool *done)
{
    int rc = MZ_ROW;
    mz_arena_free(b->arena);
    b->arena = mz_arena_new();
    mz_buf_reset(&b->out);
    b->n = 0;
    while (!*done && b->n < BATCH && (rc = mz_db_step(st)) == MZ_ROW) {
        struct assist_bank_row *r = &b->rows[b->n];
        const char *sealed = mz_db_col_text(st, 3);
        memset(r, 0, sizeof(*r));
        r->seq = ++*count;
        r->payment_id = mz_db_col_int(st, 0);
        r->ref_id = mz_db_col_int(st, 1);
        r->name = copy_text(b->arena, mz_db_col_text(st, 2));
        r->amount_fen = mz_db_col_int(st, 4);
        r->month = copy_text(b->arena, mz_db_col_text(st, 5));
        r->division = copy_text(b->arena, mz_db_col_text(st, 6));
        b->sealed[b->n] = sealed ? mz_arena_strdup(b->arena, sealed) : NULL;
        b->origin[b->n] = (int)mz_db_col_int(st, 7);
        *sum += r->amount_fen;
        b->n++;
    }
    if (rc == MZ_DONE)
        *done = true;
    return rc == MZ_ROW || rc == MZ_DONE ? MZ_OK : rc;
}

/* Write a formatted batch to f; its error if it had one. */
static int batch_write(struct batch *b, FILE *f, int64_t *bad_payment)
{
    if (b->rc != MZ_OK) {
        *bad_payment = b->bad_payment;
        return b->rc;
    }
    if (b->out.len > 0 && fwrite(b->out.data, 1, b->out.len, f) != b->out.len)
        return MZ_ERR_IO;
    return MZ_OK;
}

/* A packed run's households (packs.c), before its paid rows: formatted on
 * this thread, since opening a pack opened its accounts (one decryption per
 * 4,096 households); payment ids first_id + position, in order. */
static int packed_rows(struct mz_db *db, int64_t run_id, int64_t first_id, const char *month,
                       FILE *f, assist_bank_line_fn fn, void *ctx, int64_t *count, int64_t *sum,
                       int64_t *bad_payment)
{
    struct assist_pack_cursor *cur;
    int rc = assist_packs_begin(db, run_id, &cur);
    if (rc != MZ_OK)
        return rc;
    struct assist_pack *p = assist_pack_new();
    struct mz_buf out;
    mz_buf_init(&out, 0);
    while (rc == MZ_OK && (rc = assist_packs_next(cur, p)) == MZ_ROW) {
        struct mz_arena *a = mz_arena_new();
        mz_buf_reset(&out);
        rc = MZ_OK;
        for (size_t i = 0; i < p->n && rc == MZ_OK; i++) {
            const struct assist_packed *h = &p->rows[i];
            struct assist_bank_row r = {
                .seq = ++*count,
                .payment_id = first_id + p->first_position + (int64_t)i,
                .ref_id = h->case_id,
                .amount_fen = h->amount_fen,
                .name = h->name,
                .month = month,
                .division = h->division,
                .account = h->account,
                .account_len = h->account_len,
            };
            *sum += h->amount_fen;
            if ((rc = fn(ctx, &r, &out, a)) != MZ_OK)
                *bad_payment = r.payment_id;
        }
        if (rc == MZ_OK && out.len > 0 && fwrite(out.data, 1, out.len, f) != out.len)
            rc = MZ_ERR_IO;
        mz_arena_free(a);
    }
    if (rc == MZ_DONE)
        rc = MZ_OK;
    mz_buf_free(&out);
    assist_pack_free(p);
    assist_packs_end(cur);
    return rc;
}

/* Is the run packed: its first payment id and month (*first_id 0: not). */
static int run_packing(struct mz_db *db, int64_t run_id, int64_t *first_id, char month[8])
{
    struct mz_stmt *st;
    *first_id = 0;
    int rc = mz_db_prepare(db,
                           "SELECT packed, coalesce(first_payment_id, 0), month"
                           " FROM assistance_payroll_runs WHERE id = ?",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW && mz_db_col_int(st, 0) == 1) {
        *first_id = mz_db_col_int(st, 1);
        snprintf(month, 8, "%s", mz_db_col_text(st, 2));
    }
    mz_db_done(st);
    return rc == MZ_ROW || rc == MZ_DONE ? MZ_OK : rc;
}

int assist_bank_rows(struct mz_db *db, int64_t run_id, FILE *f, assist_bank_line_fn fn, void *ctx,
                     int64_t *count_out, int64_t *sum_out, int64_t *bad_payment)
{
    struct mz_stmt *st;
    *bad_payment = 0;
    int64_t first_id = 0, count = 0, sum = 0;
    char month[8] = "";
    int rc = run_packing(db, run_id, &first_id, month);
    if (rc == MZ_OK && first_id > 0)
        rc = packed_rows(db, run_id, first_id, month, f, fn, ctx, &count, &sum, bad_payment);
    if (rc != MZ_OK)
        return rc;
    /* Then the run's paid rows (a packed run's: reissues and one-offs). */
    rc = mz_db_prepare(
        db,
        "SELECT pm.id, coalesce(pm.case_id, pm.bill_id, pm.temporary_id), p.name,"
        " pm.account_sealed, pm.amount_fen, pm.month, pm.division, " ASSIST_ACCOUNT_ORIGIN
        " FROM assistance_payments pm LEFT JOIN persons p"
        " ON p.id = pm.payee_person_id WHERE pm.run_id = ?"
        " AND pm.status = 'paid' AND pm.deleted_at IS NULL ORDER BY pm.id",
        &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    struct batch *b = calloc(2, sizeof(*b));
    if (b == NULL) {
        mz_db_done(st);
        return MZ_ERR_NOMEM;
    }
    int cur = 0;
    bool running = false; /* b[1 - cur] is being formatted on its thread */
    bool done = false;
    for (int k = 0; k < 2; k++) {
        mz_buf_init(&b[k].out, 0);
        b[k].fn = fn;
        b[k].ctx = ctx;
    }
    for (;;) {
        int read_rc = batch_read(st, &b[cur], &count, &sum, &done);
        if (running) {
            pthread_join(b[1 - cur].thread, NULL);
            running = false;
            rc = batch_write(&b[1 - cur], f, bad_payment);
        }
        if (rc == MZ_OK)
            rc = read_rc;
        if (rc != MZ_OK || b[cur].n == 0)
            break;
        if (pthread_create(&b[cur].thread, NULL, batch_format, &b[cur]) == 0) {
            running = true;
        } else {
            batch_format(&b[cur]);
            if ((rc = batch_write(&b[cur], f, bad_payment)) != MZ_OK)
                break;
        }
        cur = 1 - cur;
    }
    if (running)
        pthread_join(b[1 - cur].thread, NULL);
    mz_db_done(st);
    for (int k = 0; k < 2; k++) {
        mz_arena_free(b[k].arena);
        mz_buf_free(&b[k].out);
    }
    free(b);
    *count_out = count;
    *sum_out = sum;
    return rc;
}
