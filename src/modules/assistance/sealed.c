/* sealed.c - the members' incomes and the benefit trace sealed at rest.
 *
 * A case's members list (person, relation, categories, care grade, the
 * authorisation scan) is stored in clear: the verification module and the
 * payroll find the persons through it. The figures are not: each member's
 * monthly income lives in the declared sensitive field member_figures
 * ([{"person_id","monthly_income_fen"}], sealed by the engine under the
 * context "assistance_cases.member_figures"), and benefit_trace (which
 * repeats every income in its sentences) is a sensitive field too. The
 * payroll copies the sealed trace as is into assistance_payments.trace
 * (still sealed under the case's context; opened by the payments' present
 * hook for callers who may see it).
 *
 *   - before a write (validate, before_write): when the row's members are the
 *     stored ones (an update or action that did not send members), the
 *     incomes are put back from member_figures, so the computation sees them;
 *   - at the end of before_write: member_figures is rebuilt from the members
 *     and the incomes are taken out of the members list;
 *   - on the way out (present): the incomes are merged back into the members
 *     for callers with assistance_cases.view_sensitive, "***" for the others;
 *     member_figures itself is not shown;
 *   - migration 11 seals what databases written before hold in clear;
 *   - `minzheng rekey` (assist_rekey) re-seals the payments' trace copies and
 *     sealed accounts, the packed runs' trace copies (assistance_payment_traces)
 *     and the payroll's packs (packs.c; the engine re-seals the declared
 *     fields).
 *
 * Tested by tests/api/sealed.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "modules/assistance/assistance_internal.h"

#define FIGURES_CONTEXT "assistance_cases.member_figures"
#define TRACE_CONTEXT "assistance_cases.benefit_trace"

/* The figure entry of a member: by person id, else by position. */
static json_t *figure_of(json_t *figures, json_t *member, size_t index)
{
    json_int_t pid = json_integer_value(json_object_get(member, "person_id"));
    json_t *f;
    size_t i;
    json_array_foreach(figures, i, f) {
        if (pid > 0 && json_integer_value(json_object_get(f, "person_id")) == pid)
            return f;
    }
    f = json_array_get(figures, index);
    return f && json_integer_value(json_object_get(f, "person_id")) <= 0 ? f : NULL;
}

/* Put the incomes back into members (a new array) from figures. */
static json_t *merged(json_t *members, json_t *figures)
{
    json_t *out = json_deep_copy(members), *m;
    size_t i;
    json_array_foreach(out, i, m) {
        if (!json_is_object(m) || json_object_get(m, "monthly_income_fen") != NULL)
            continue;
        json_t *f = figure_of(figures, m, i);
        json_t *inc = f ? json_object_get(f, "monthly_income_fen") : NULL;
        if (inc)
            json_object_set(m, "monthly_income_fen", inc);
    }
    return out;
}

void assist_members_restore(struct mz_write *w)
{
    if (w->before == NULL || strcmp(w->action, "create") == 0)
        return;
    json_t *members = json_object_get(w->row, "members");
    json_t *stored = json_object_get(w->before, "members");
    json_t *figures = json_object_get(w->before, "member_figures");
    /* Only the stored list (without incomes) gets them back: members sent
     * by the client carry their own, and a missing one stays an error. */
    if (!json_is_array(members) || !json_is_array(figures) || !json_equal(members, stored))
        return;
    json_object_set_new(w->row, "members", merged(members, figures));
}

void assist_members_seal(struct mz_write *w)
{
    json_t *members = json_object_get(w->row, "members"), *m;
    size_t i;
    if (!json_is_array(members))
        return;
    json_t *figures = json_array(), *stripped = json_deep_copy(members);
    json_array_foreach(stripped, i, m) {
        if (!json_is_object(m))
            continue;
        json_t *inc = json_object_get(m, "monthly_income_fen");
        json_t *pid = json_object_get(m, "person_id");
        json_array_append_new(figures, json_pack("{s:O?, s:O?}", "person_id", pid,
                                                 "monthly_income_fen", inc));
        json_object_del(m, "monthly_income_fen");
    }
    json_object_set_new(w->row, "member_figures", figures);
    json_object_set_new(w->row, "members", stripped);
}

/* Cases on their way out: the incomes back in place (or masked). */
void assist_case_present(struct mz_req *req, const struct mz_entity *e, json_t *row)
{
    (void)req;
    (void)e;
    json_t *members = json_object_get(row, "members"), *figures = json_object_get(row, "member_figures");
    if (json_is_array(members)) {
        if (json_is_array(figures)) {
            json_object_set_new(row, "members", merged(members, figures));
        } else if (json_is_string(figures)) {
            /* Masked: the caller may not see personal figures. */
            json_t *m;
            size_t i;
            json_array_foreach(members, i, m) {
                if (json_is_object(m) && json_object_get(m, "monthly_income_fen") == NULL)
                    json_object_set_new(m, "monthly_income_fen", json_string("***"));
            }
        }
    }
    json_object_del(row, "member_figures");
    if (json_is_string(json_object_get(row, "benefit_trace")))
        json_object_set_new(row, "benefit_trace", json_string("***"));
}

/* Payments on their way out: the trace copy opened for callers who may see
 * the case's figures, else masked. */
void assist_payment_present(struct mz_req *req, const struct mz_entity *e, json_t *row)
{
    (void)e;
    const char *sealed = json_string_value(json_object_get(row, "trace"));
    if (sealed == NULL)
        return;
    char *plain = NULL;
    size_t len = 0;
    json_t *trace = NULL;
    if (mz_req_may(req, "assistance_cases.view_sensitive") && mz_crypto_is_sealed(sealed) &&
        mz_crypto_open(req->arena, TRACE_CONTEXT, sealed, &plain, &len) == MZ_OK)
        trace = json_loadb(plain, len, JSON_DECODE_ANY, NULL);
    json_object_set_new(row, "trace", trace ? trace : json_string("***"));
}

/* --- migration 11: seal what was stored in clear ---------------------------------- */

/* One case: members without incomes, member_figures and the trace sealed. */
static int seal_case(struct mz_db *db, struct mz_arena *a, int64_t id, const char *members_text,
                     const char *trace_text)
{
    json_t *members = members_text ? json_loads(members_text, 0, NULL) : NULL;
    const char *new_members = members_text, *figures_sealed = NULL, *trace_sealed = trace_text;
    char fig_bidx[33] = "", trace_bidx[33] = "";
    if (json_is_array(members)) {
        json_t *figures = json_array(), *m;
        size_t i;
        json_array_foreach(members, i, m) {
            if (!json_is_object(m))
                continue;
            json_array_append_new(figures,
                                  json_pack("{s:O?, s:O?}", "person_id",
                                            json_object_get(m, "person_id"), "monthly_income_fen",
                                            json_object_get(m, "monthly_income_fen")));
            json_object_del(m, "monthly_income_fen");
        }
        char *ft = json_dumps(figures, JSON_COMPACT);
        char *mt = json_dumps(members, JSON_COMPACT);
        json_decref(figures);
        if (ft == NULL || mt == NULL) {
            free(ft);
            free(mt);
            json_decref(members);
            return MZ_ERR_NOMEM;
        }
        figures_sealed = mz_crypto_seal(a, FIGURES_CONTEXT, ft, strlen(ft));
        mz_crypto_blind(FIGURES_CONTEXT, ft, strlen(ft), fig_bidx);
        new_members = mz_arena_strdup(a, mt);
        free(ft);
        free(mt);
    }
    json_decref(members);
    if (trace_text && !mz_crypto_is_sealed(trace_text)) {
        trace_sealed = mz_crypto_seal(a, TRACE_CONTEXT, trace_text, strlen(trace_text));
        mz_crypto_blind(TRACE_CONTEXT, trace_text, strlen(trace_text), trace_bidx);
    }
    return mz_db_run(db,
                     "UPDATE assistance_cases SET members = ?, member_figures = ?,"
                     " member_figures_bidx = ?, benefit_trace = ?,"
                     " benefit_trace_bidx = coalesce(?, benefit_trace_bidx) WHERE id = ?",
                     "ssssti", new_members, figures_sealed, fig_bidx[0] ? fig_bidx : NULL,
                     trace_sealed, trace_bidx[0] ? trace_bidx : NULL, id);
}

/* Re-seal (or seal) a text column of a table (assistance_payments, or the
 * trace copies assistance_payment_traces with a fixed context) under a
 * context (NULL: the account's, by the payment's origin): every value not
 * sealed yet, or (rekey) every value. Table and column are constants. */
static int reseal_column(struct mz_db *db, const char *table, const char *column,
                         const char *fixed, bool all, long *values)
{
    char sql[300];
    struct mz_stmt *sel;
    snprintf(sql, sizeof(sql), "SELECT id, %s, %s FROM %s pm WHERE %s IS NOT NULL", column,
             fixed ? "0" : ASSIST_ACCOUNT_ORIGIN, table, column);
    int rc = mz_db_prepare_uncached(db, sql, &sel);
    if (rc != MZ_OK)
        return rc;
    snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ? WHERE id = ?", table, column);
    struct mz_arena *a = mz_arena_new();
    long n = 0;
    while ((rc = mz_db_step(sel)) == MZ_ROW) {
        const char *text = mz_db_col_text(sel, 1);
        const char *context = fixed ? fixed : assist_account_context(mz_db_col_int(sel, 2));
        char *plain = NULL;
        size_t len = 0;
        if (text == NULL)
            continue;
        if (mz_crypto_is_sealed(text)) {
            if (!all)
                continue;
            if (mz_crypto_open(a, context, text, &plain, &len) != MZ_OK) {
                mz_error("%s.%s of row %lld does not open", table, column,
                         (long long)mz_db_col_int(sel, 0));
                rc = MZ_ERR_INVALID;
                break;
            }
        } else {
            plain = (char *)text;
            len = strlen(text);
        }
        if (!mz_crypto_ready()) {
            mz_error("assistance: sealing the payments' traces needs the data-encryption key");
            rc = MZ_ERR_INVALID;
            break;
        }
        rc = mz_db_run(db, sql, "si", mz_crypto_seal(a, context, plain, len),
                       mz_db_col_int(sel, 0));
        if (rc != MZ_OK)
            break;
        if (++n % 4096 == 0) {
            mz_arena_free(a);
            a = mz_arena_new();
        }
    }
    mz_db_finalize(sel);
    mz_arena_free(a);
    if (values)
        *values += n;
    return rc == MZ_DONE ? MZ_OK : rc;
}

int assist_sealed_migrate(struct mz_db *db)
{
    struct mz_stmt *sel;
    int rc = mz_db_prepare_uncached(db,
                                    "SELECT id, members, benefit_trace FROM assistance_cases"
                                    " WHERE member_figures IS NULL",
                                    &sel);
    if (rc != MZ_OK)
        return rc;
    struct mz_arena *a = mz_arena_new();
    long n = 0;
    while ((rc = mz_db_step(sel)) == MZ_ROW) {
        if (!mz_crypto_ready()) {
            mz_error("assistance: sealing the case members needs the data-encryption key");
            rc = MZ_ERR_INVALID;
            break;
        }
        rc = seal_case(db, a, mz_db_col_int(sel, 0), mz_db_col_text(sel, 1),
                       mz_db_col_text(sel, 2));
        if (rc != MZ_OK)
            break;
        if (++n % 1024 == 0) {
            mz_arena_free(a);
            a = mz_arena_new();
        }
    }
    mz_db_finalize(sel);
    mz_arena_free(a);
    if (rc != MZ_DONE)
        return rc;
    return reseal_column(db, "assistance_payments", "trace", TRACE_CONTEXT, false, NULL);
}

int assist_rekey(struct mz_app *app, struct mz_db *db, long *values)
{
    (void)app;
    int rc = reseal_column(db, "assistance_payments", "trace", TRACE_CONTEXT, true, values);
    if (rc == MZ_OK)
        rc = reseal_column(db, "assistance_payments", "account_sealed", NULL, true, values);
    /* The packed runs' trace copies (none before migration 16). */
    if (rc == MZ_OK && mz_db_table_exists(db, "assistance_payment_traces"))
        rc = reseal_column(db, "assistance_payment_traces", "trace", TRACE_CONTEXT, true, values);
    return rc == MZ_OK ? assist_packs_rekey(db, values) : rc;
}
