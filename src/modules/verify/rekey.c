/* rekey.c - the verification module's part of `minzheng rekey`.
 *
 * Two things here depend on the key beyond the declared sensitive fields
 * (which the engine re-seals): the authorisations' person_key column (the
 * blind index under the registry's persons.id_number context, the module's
 * join key) and the snapshot chunks (rows keyed by that blind index, sealed
 * whole). With the new key version current, person_key is recomputed from
 * the opened ID number, and every batch's rows are opened, re-keyed from the
 * ID number kept in their sealed detail, sorted again and written as new
 * chunks sealed under the new key. All in rekey's one transaction: a failure
 * leaves everything under the old key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_parts.h"

static int rekey_authorisations(struct mz_db *db, long *values)
{
    struct mz_stmt *sel, *upd;
    int rc = mz_db_prepare_uncached(db, "SELECT id, id_number FROM verify_authorisations", &sel);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_prepare_uncached(db, "UPDATE verify_authorisations SET person_key = ? WHERE id = ?",
                                &upd);
    if (rc != MZ_OK) {
        mz_db_finalize(sel);
        return rc;
    }
    while ((rc = mz_db_step(sel)) == MZ_ROW) {
        struct mz_arena *a = mz_arena_new();
        char *plain = NULL, hex[33];
        const char *sealed = mz_db_col_text(sel, 1);
        if (sealed == NULL ||
            mz_crypto_open(a, "verify_authorisations.id_number", sealed, &plain, NULL) != MZ_OK) {
            mz_arena_free(a);
            rc = MZ_ERR_INVALID;
            break;
        }
        mz_crypto_blind(VF_KEY_CONTEXT, plain, strlen(plain), hex);
        mz_db_bind_text(upd, 1, hex);
        mz_db_bind_int(upd, 2, mz_db_col_int(sel, 0));
        rc = mz_db_step(upd);
        mz_db_reset(upd);
        mz_arena_free(a);
        if (rc != MZ_DONE) {
            rc = rc < 0 ? rc : MZ_ERR_DB;
            break;
        }
        (*values)++;
    }
    mz_db_finalize(sel);
    mz_db_finalize(upd);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* Rows of one batch being re-keyed. */
struct rows {
    struct vf_parsed *v;
    size_t n, cap;
    struct mz_arena *arena;
    int rc;
};

static void take(void *ctx, enum vf_source_id src, int64_t batch, const struct vf_chunk *c,
                 const struct vf_row *r)
{
    struct rows *x = ctx;
    (void)src;
    (void)batch;
    if (x->rc != MZ_OK)
        return;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4096;
        struct vf_parsed *p = realloc(x->v, cap * sizeof(*p));
        if (p == NULL) {
            x->rc = MZ_ERR_NOMEM;
            return;
        }
        x->v = p;
        x->cap = cap;
    }
    struct vf_parsed *p = &x->v[x->n++];
    p->row = *r;
    p->detail = mz_arena_strndup(x->arena, c->strings + r->str_off, r->str_len);
    p->detail_len = r->str_len;
    const char *id = vf_detail(x->arena, c->strings, r, 0);
    if (strlen(id) != 18) {
        x->rc = MZ_ERR_INVALID;
        return;
    }
    mz_crypto_blind_raw(VF_KEY_CONTEXT, id, 18, p->row.key);
}

static int rekey_batches(struct mz_db *db, long *values)
{
    struct mz_stmt *st;
    int64_t *ids = NULL;
    char (*sources)[24] = NULL;
    size_t n = 0, cap = 0;
    int rc = mz_db_prepare_uncached(db, "SELECT id, source FROM verify_batches ORDER BY id", &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ids = realloc(ids, cap * sizeof(*ids));
            sources = realloc(sources, cap * sizeof(*sources));
            if (ids == NULL || sources == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
        }
        ids[n] = mz_db_col_int(st, 0);
        snprintf(sources[n], sizeof(sources[n]), "%s",
                 mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "");
        n++;
    }
    mz_db_finalize(st);
    rc = rc < 0 ? rc : MZ_OK;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        const struct vf_source *s = vf_source_find(sources[i]);
        if (s == NULL) {
            rc = MZ_ERR_INVALID;
            break;
        }
        struct rows x = {.arena = mz_arena_new(), .rc = MZ_OK};
        rc = vf_store_scan(db, ids[i], s->id, take, &x);
        if (rc == MZ_OK)
            rc = x.rc;
        if (rc == MZ_OK)
            rc = mz_db_run(db, "DELETE FROM verify_chunks WHERE batch_id = ?", "i", ids[i]);
        if (rc == MZ_OK && x.n > 0)
            rc = vf_store_write(db, ids[i], s->id, x.v, x.n);
        if (rc == MZ_OK)
            *values += (long)x.n;
        free(x.v);
        mz_arena_free(x.arena);
    }
    free(ids);
    free(sources);
    return rc;
}

int vf_rekey(struct mz_app *app, struct mz_db *db, long *values)
{
    (void)app;
    int rc = rekey_authorisations(db, values);
    return rc == MZ_OK ? rekey_batches(db, values) : rc;
}
