/* packs.c - the payroll's packed snapshot: the paid households of a run,
 * ASSIST_PACK_MAX (4,096) a row of assistance_payment_packs, sealed whole.
 *
 * A per-row snapshot writes ~400 bytes a household (payment and ledger rows
 * and their indexes): ~400 MB for a city's run, which puts the 1,000,000-
 * household goal out of reach (bench/notes.md). A pack holds a household in
 * ~40 bytes and a city in ~250 rows, the way the verification module keeps
 * its results (verify_result_packs). The design and how every reader finds
 * a household's payment: docs/assistance.md, "Packed payroll snapshot".
 *
 * A pack's plaintext: the number of distinct communities, their 12-digit
 * codes, then per household the variable-length integers (mz/varint.h)
 *   case id - previous case id (the first: the case id), household id -
 *   case id, payee person id - case id, persons, amount in fen, community
 *   (index into the codes), flags, trace copy id,
 * then the payee's name and the bank account, each as its length and bytes.
 * The whole is sealed (mz_crypto_seal_bin) under the context
 * "assistance_payment_packs:<run>:<seq>:<first position>", so a pack moved to
 * another run, seq or position does not open. Counts and sums are columns
 * in clear: totals and page skips need no decryption.
 *
 * Tested by tests/unit/test_assistance.c (round trip over several packs,
 * look-ups by case and position, forged and moved packs, refused input).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "mz/varint.h"
#include "modules/assistance/assistance_internal.h"

#define FIELDS 8 /* the integers of a household */
#define DIV_SLOTS 8192 /* open addressing over at most ASSIST_PACK_MAX codes */

static void pack_context(char out[96], int64_t run_id, int seq, int64_t first_position)
{
    snprintf(out, 96, "assistance_payment_packs:%lld:%d:%lld", (long long)run_id, seq,
             (long long)first_position);
}

int assist_packs_schema(struct mz_db *db)
{
    char sql[700];
    const char *i64 = mz_db_dialect(db, MZ_SQL_INT64);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS assistance_payment_packs (run_id %s NOT NULL,"
             " seq INTEGER NOT NULL, first_case_id %s NOT NULL, last_case_id %s NOT NULL,"
             " first_position %s NOT NULL, households INTEGER NOT NULL, persons %s NOT NULL,"
             " amount_fen %s NOT NULL, data %s NOT NULL, PRIMARY KEY (run_id, seq));"
             "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payment_packs_case ON"
             " assistance_payment_packs (run_id, last_case_id);"
             "CREATE UNIQUE INDEX IF NOT EXISTS ux_assistance_payment_packs_position ON"
             " assistance_payment_packs (run_id, first_position);",
             i64, i64, i64, i64, i64, i64, mz_db_dialect(db, MZ_SQL_BLOB));
    return mz_db_exec(db, sql);
}

int assist_packs_migrate(struct mz_db *db)
{
    char sql[1200];
    const char *i64 = mz_db_dialect(db, MZ_SQL_INT64);
    int rc = assist_packs_schema(db);
    if (rc != MZ_OK)
        return rc;
    /* A run's block of payment ids and whether its payments are packed
     * (0: every payment a row, as before this migration). The counter
     * starts after every id used so far. */
    snprintf(sql, sizeof(sql),
             "ALTER TABLE assistance_payroll_runs ADD COLUMN first_payment_id %s;"
             "ALTER TABLE assistance_payroll_runs ADD COLUMN payment_ids %s;"
             "ALTER TABLE assistance_payroll_runs ADD COLUMN packed INTEGER NOT NULL DEFAULT 0;"
             "CREATE INDEX IF NOT EXISTS ix_assistance_runs_first_payment ON"
             " assistance_payroll_runs (first_payment_id) WHERE first_payment_id IS NOT NULL;"
             "CREATE TABLE IF NOT EXISTS assistance_payment_seq (next %s NOT NULL);"
             "INSERT INTO assistance_payment_seq (next) SELECT coalesce(max(id), 0) + 1"
             " FROM assistance_payments;",
             i64, i64, i64);
    return mz_db_exec(db, sql);
}

/* Migration 16: the benefit traces as paid (assistance_payment_traces). A
 * run copies a case's sealed trace only when it differs from the case's
 * latest copy, and a packed household names its copy by id, so "who was
 * paid what and why" stays readable after the case changes. The copies are
 * sealed as the case's trace (the same context: copied as is). */
int assist_traces_migrate(struct mz_db *db)
{
    char sql[600];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS assistance_payment_traces (id %s,"
             " case_id %s NOT NULL, trace TEXT NOT NULL);"
             "CREATE INDEX IF NOT EXISTS ix_assistance_payment_traces_case ON"
             " assistance_payment_traces (case_id, id);",
             mz_db_dialect(db, MZ_SQL_AUTOINCREMENT_PK), mz_db_dialect(db, MZ_SQL_INT64));
    return mz_db_exec(db, sql);
}

int assist_trace_copy_load(struct mz_db *db, struct mz_arena *a, int64_t trace_id,
                           const char **sealed)
{
    struct mz_stmt *st;
    *sealed = NULL;
    int rc = mz_db_prepare(db, "SELECT trace FROM assistance_payment_traces WHERE id = ?", &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, trace_id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        *sealed = mz_arena_strdup(a, mz_db_col_text(st, 0));
        rc = MZ_OK;
    } else {
        rc = rc == MZ_DONE ? MZ_ERR_NOTFOUND : rc;
    }
    mz_db_done(st);
    return rc;
}

int assist_payment_ids_reserve(struct mz_db *db, int64_t count, int64_t *first)
{
    /* The UPDATE first: on PostgreSQL it locks the counter row until the
     * run commits, so two runs never get overlapping blocks. The counter
     * never lies below a row's id (a row written with an id of its own). */
    if (count < 0)
        return MZ_ERR_INVALID;
    int rc = mz_db_run(db,
                       "UPDATE assistance_payment_seq SET next = (SELECT CASE WHEN"
                       " coalesce(max(p.id), 0) + 1 > assistance_payment_seq.next THEN"
                       " coalesce(max(p.id), 0) + 1 ELSE assistance_payment_seq.next END"
                       " FROM assistance_payments p) + ?",
                       "i", count);
    if (rc != MZ_OK)
        return rc;
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)count);
    const char *params[] = {n};
    return mz_db_query_int(db, "SELECT next - CAST(? AS BIGINT) FROM assistance_payment_seq",
                           first, 1, params);
}

int assist_packs_rekey(struct mz_db *db, long *values)
{
    if (!mz_db_table_exists(db, "assistance_payment_packs"))
        return MZ_OK;
    struct mz_stmt *sel;
    int rc = mz_db_prepare_uncached(db,
                                    "SELECT run_id, seq, first_position, data"
                                    " FROM assistance_payment_packs ORDER BY run_id, seq",
                                    &sel);
    if (rc != MZ_OK)
        return rc;
    unsigned char *plain = NULL, *sealed = NULL;
    size_t cap = 0;
    long n = 0;
    while ((rc = mz_db_step(sel)) == MZ_ROW) {
        int64_t run_id = mz_db_col_int(sel, 0), first_position = mz_db_col_int(sel, 2);
        int seq = (int)mz_db_col_int(sel, 1);
        size_t len = mz_db_col_bytes(sel, 3);
        if (len < MZ_CRYPTO_SEAL_OVERHEAD) {
            rc = MZ_ERR_INVALID;
            break;
        }
        if (len > cap) {
            free(plain);
            free(sealed);
            plain = mz_xmalloc(len);
            sealed = mz_xmalloc(len);
            cap = len;
        }
        char ctx[96];
        pack_context(ctx, run_id, seq, first_position);
        if (mz_crypto_open_bin(ctx, mz_db_col_blob(sel, 3), len, plain) != MZ_OK) {
            mz_error("assistance_payment_packs: pack %d of run %lld does not open", seq,
                     (long long)run_id);
            rc = MZ_ERR_INVALID;
            break;
        }
        mz_crypto_seal_bin(ctx, plain, len - MZ_CRYPTO_SEAL_OVERHEAD, sealed);
        struct mz_stmt *up;
        rc = mz_db_prepare(db,
                           "UPDATE assistance_payment_packs SET data = ? WHERE run_id = ?"
                           " AND seq = ?",
                           &up);
        if (rc != MZ_OK)
            break;
        mz_db_bind_blob(up, 1, sealed, len);
        mz_db_bind_int(up, 2, run_id);
        mz_db_bind_int(up, 3, seq);
        rc = mz_db_step(up);
        mz_db_done(up);
        if (rc != MZ_DONE) {
            rc = rc < 0 ? rc : MZ_ERR_DB;
            break;
        }
        n++;
    }
    mz_db_finalize(sel);
    free(plain);
    free(sealed);
    if (values)
        *values += n;
    return rc == MZ_DONE ? MZ_OK : rc;
}

static bool division_ok(const char *d)
{
    for (int i = 0; i < 12; i++) {
        if (d[i] < '0' || d[i] > '9')
            return false;
    }
    return d[12] == '\0';
}

static uint32_t division_hash(const char *d)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 12; i++)
        h = (h ^ (unsigned char)d[i]) * 16777619u;
    return h;
}

static unsigned char *put_text(unsigned char *p, const char *s, size_t len)
{
    p = mz_varint_put(p, (int64_t)len);
    if (len)
        memcpy(p, s, len);
    return p + len;
}

int assist_pack_seal(int64_t run_id, int seq, int64_t first_position,
                     const struct assist_packed *rows, size_t n, struct assist_pack_blob *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0 || n > ASSIST_PACK_MAX || run_id <= 0 || seq < 0 || first_position < 0)
        return MZ_ERR_INVALID;
    /* The distinct communities, in order of first appearance. */
    int16_t *slot = malloc(DIV_SLOTS * sizeof(*slot));
    uint16_t *div_of = malloc(n * sizeof(*div_of));
    const char **codes = malloc(n * sizeof(*codes));
    size_t ncodes = 0, cap = MZ_VARINT_MAX + 12 * n;
    int rc = slot && div_of && codes ? MZ_OK : MZ_ERR_NOMEM;
    if (slot)
        memset(slot, 0xff, DIV_SLOTS * sizeof(*slot)); /* -1: empty */
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        const struct assist_packed *r = &rows[i];
        if ((i > 0 && r->case_id <= rows[i - 1].case_id) || r->case_id <= 0 ||
            r->amount_fen < 0 || r->persons < 0 || r->trace_id < 0 ||
            r->name_len > ASSIST_PACK_TEXT_MAX || r->account_len > ASSIST_PACK_TEXT_MAX ||
            (r->name_len && r->name == NULL) || (r->account_len && r->account == NULL) ||
            !division_ok(r->division)) {
            rc = MZ_ERR_INVALID;
            break;
        }
        uint32_t h = division_hash(r->division) % DIV_SLOTS;
        while (slot[h] >= 0 && memcmp(codes[slot[h]], r->division, 12) != 0)
            h = (h + 1) % DIV_SLOTS;
        if (slot[h] < 0) {
            slot[h] = (int16_t)ncodes;
            codes[ncodes++] = r->division;
        }
        div_of[i] = (uint16_t)slot[h];
        cap += FIELDS * MZ_VARINT_MAX + 2 * MZ_VARINT_MAX + r->name_len + r->account_len;
    }
    unsigned char *plain = rc == MZ_OK ? malloc(cap) : NULL;
    if (rc == MZ_OK && plain == NULL)
        rc = MZ_ERR_NOMEM;
    if (rc == MZ_OK) {
        unsigned char *p = mz_varint_put(plain, (int64_t)ncodes);
        for (size_t k = 0; k < ncodes; k++, p += 12)
            memcpy(p, codes[k], 12);
        int64_t prev = 0;
        for (size_t i = 0; i < n; i++) {
            const struct assist_packed *r = &rows[i];
            p = mz_varint_put(p, r->case_id - prev);
            prev = r->case_id;
            p = mz_varint_put(p, r->household_id - r->case_id);
            p = mz_varint_put(p, r->payee_person_id - r->case_id);
            p = mz_varint_put(p, r->persons);
            p = mz_varint_put(p, r->amount_fen);
            p = mz_varint_put(p, div_of[i]);
            p = mz_varint_put(p, (int64_t)r->flags);
            p = mz_varint_put(p, r->trace_id);
            p = put_text(p, r->name, r->name_len);
            p = put_text(p, r->account, r->account_len);
            out->persons += r->persons;
            out->amount_fen += r->amount_fen;
        }
        size_t len = (size_t)(p - plain);
        out->data = malloc(len + MZ_CRYPTO_SEAL_OVERHEAD);
        if (out->data == NULL) {
            rc = MZ_ERR_NOMEM;
        } else {
            char ctx[96];
            pack_context(ctx, run_id, seq, first_position);
            mz_crypto_seal_bin(ctx, plain, len, out->data);
            out->len = len + MZ_CRYPTO_SEAL_OVERHEAD;
            out->run_id = run_id;
            out->seq = seq;
            out->first_position = first_position;
            out->households = n;
            out->first_case_id = rows[0].case_id;
            out->last_case_id = rows[n - 1].case_id;
        }
    }
    free(plain);
    free(slot);
    free(div_of);
    free(codes);
    if (rc != MZ_OK) {
        free(out->data);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void assist_pack_blob_free(struct assist_pack_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int assist_pack_insert(struct mz_db *db, const struct assist_pack_blob *b)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "INSERT INTO assistance_payment_packs (run_id, seq, first_case_id,"
                           " last_case_id, first_position, households, persons, amount_fen, data)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, b->run_id);
    mz_db_bind_int(st, 2, b->seq);
    mz_db_bind_int(st, 3, b->first_case_id);
    mz_db_bind_int(st, 4, b->last_case_id);
    mz_db_bind_int(st, 5, b->first_position);
    mz_db_bind_int(st, 6, (int64_t)b->households);
    mz_db_bind_int(st, 7, b->persons);
    mz_db_bind_int(st, 8, b->amount_fen);
    mz_db_bind_blob(st, 9, b->data, b->len);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

struct assist_pack *assist_pack_new(void)
{
    return mz_xcalloc(1, sizeof(struct assist_pack));
}

void assist_pack_free(struct assist_pack *p)
{
    if (p == NULL)
        return;
    free(p->plain);
    free(p->text);
    free(p);
}

/* Read a length-prefixed text into the pack's text area (NUL-terminated). */
static const unsigned char *get_text(const unsigned char *q, const unsigned char *end,
                                     char **t, const char **s, size_t *len)
{
    int64_t l = 0;
    q = mz_varint_get(q, end, &l);
    if (q == NULL || l < 0 || l > ASSIST_PACK_TEXT_MAX || end - q < l)
        return NULL;
    memcpy(*t, q, (size_t)l);
    (*t)[l] = '\0';
    *s = *t;
    *len = (size_t)l;
    *t += l + 1;
    return q + l;
}

int assist_pack_open(struct assist_pack *p, int64_t run_id, int seq, int64_t first_position,
                     size_t households, const void *data, size_t len)
{
    p->n = 0;
    if (len < MZ_CRYPTO_SEAL_OVERHEAD || households == 0 || households > ASSIST_PACK_MAX)
        return MZ_ERR_INVALID;
    size_t plen = len - MZ_CRYPTO_SEAL_OVERHEAD;
    if (p->plain_cap < plen + 1) {
        free(p->plain);
        p->plain = mz_xmalloc(plen + 1);
        p->plain_cap = plen + 1;
    }
    /* Every text fits: the plaintext's bytes plus a NUL per text. */
    if (p->text_cap < plen + 2 * households) {
        free(p->text);
        p->text = mz_xmalloc(plen + 2 * households);
        p->text_cap = plen + 2 * households;
    }
    char ctx[96];
    pack_context(ctx, run_id, seq, first_position);
    if (mz_crypto_open_bin(ctx, data, len, p->plain) != MZ_OK)
        return MZ_ERR_INVALID;
    const unsigned char *q = p->plain, *end = p->plain + plen;
    int64_t ncodes = 0;
    q = mz_varint_get(q, end, &ncodes);
    if (q == NULL || ncodes <= 0 || ncodes > (int64_t)households || end - q < 12 * ncodes)
        return MZ_ERR_INVALID;
    const unsigned char *codes = q;
    q += 12 * ncodes;
    char *t = p->text;
    int64_t prev = 0;
    for (size_t i = 0; i < households; i++) {
        int64_t v[FIELDS];
        for (int k = 0; k < FIELDS; k++) {
            if ((q = mz_varint_get(q, end, &v[k])) == NULL)
                return MZ_ERR_INVALID;
        }
        if (v[0] <= 0 || v[3] < 0 || v[3] > INT32_MAX || v[4] < 0 || v[5] < 0 ||
            v[5] >= ncodes || v[6] < 0 || v[6] > UINT32_MAX || v[7] < 0)
            return MZ_ERR_INVALID;
        struct assist_packed *r = &p->rows[i];
        r->case_id = prev + v[0];
        prev = r->case_id;
        r->household_id = r->case_id + v[1];
        r->payee_person_id = r->case_id + v[2];
        r->persons = (int32_t)v[3];
        r->amount_fen = v[4];
        memcpy(r->division, codes + 12 * v[5], 12);
        r->division[12] = '\0';
        r->flags = (uint32_t)v[6];
        r->trace_id = v[7];
        if ((q = get_text(q, end, &t, &r->name, &r->name_len)) == NULL ||
            (q = get_text(q, end, &t, &r->account, &r->account_len)) == NULL)
            return MZ_ERR_INVALID;
    }
    if (q != end)
        return MZ_ERR_INVALID;
    p->run_id = run_id;
    p->seq = seq;
    p->first_position = first_position;
    p->n = households;
    return MZ_OK;
}

#define PACK_COLS "seq, first_position, households, data"

/* Open the pack of the current row of st (columns PACK_COLS). */
static int open_row(struct mz_stmt *st, int64_t run_id, struct assist_pack *p)
{
    return assist_pack_open(p, run_id, (int)mz_db_col_int(st, 0), mz_db_col_int(st, 1),
                            (size_t)mz_db_col_int(st, 2), mz_db_col_blob(st, 3),
                            mz_db_col_bytes(st, 3));
}

/* Load the one pack sql (bound: run, key) selects. */
static int load_one(struct mz_db *db, const char *sql, int64_t run_id, int64_t key,
                    struct assist_pack *p)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, run_id);
    mz_db_bind_int(st, 2, key);
    rc = mz_db_step(st);
    if (rc == MZ_ROW)
        rc = open_row(st, run_id, p);
    else if (rc == MZ_DONE)
        rc = MZ_ERR_NOTFOUND;
    mz_db_done(st);
    return rc;
}

int assist_pack_load_case(struct mz_db *db, int64_t run_id, int64_t case_id,
                          struct assist_pack *p, size_t *index)
{
    int rc = load_one(db,
                      "SELECT " PACK_COLS " FROM assistance_payment_packs WHERE run_id = ?"
                      " AND last_case_id >= ? ORDER BY last_case_id LIMIT 1",
                      run_id, case_id, p);
    if (rc != MZ_OK)
        return rc;
    /* Binary search: the rows are in ascending case order. */
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->rows[mid].case_id < case_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n || p->rows[lo].case_id != case_id)
        return MZ_ERR_NOTFOUND;
    *index = lo;
    return MZ_OK;
}

int assist_pack_load_position(struct mz_db *db, int64_t run_id, int64_t position,
                              struct assist_pack *p, size_t *index)
{
    if (position < 0)
        return MZ_ERR_NOTFOUND;
    int rc = load_one(db,
                      "SELECT " PACK_COLS " FROM assistance_payment_packs WHERE run_id = ?"
                      " AND first_position <= ? ORDER BY first_position DESC LIMIT 1",
                      run_id, position, p);
    if (rc != MZ_OK)
        return rc;
    if (position - p->first_position >= (int64_t)p->n)
        return MZ_ERR_NOTFOUND;
    *index = (size_t)(position - p->first_position);
    return MZ_OK;
}

struct assist_pack_cursor {
    struct mz_stmt *st;
    int64_t run_id;
};

int assist_packs_begin(struct mz_db *db, int64_t run_id, struct assist_pack_cursor **out)
{
    struct assist_pack_cursor *c = mz_xcalloc(1, sizeof(*c));
    /* Uncached: a reader may look single packs up while it walks a run. */
    int rc = mz_db_prepare_uncached(db,
                                    "SELECT " PACK_COLS " FROM assistance_payment_packs"
                                    " WHERE run_id = ? ORDER BY seq",
                                    &c->st);
    if (rc != MZ_OK) {
        free(c);
        return rc;
    }
    mz_db_bind_int(c->st, 1, run_id);
    c->run_id = run_id;
    *out = c;
    return MZ_OK;
}

int assist_packs_next(struct assist_pack_cursor *c, struct assist_pack *p)
{
    int rc = mz_db_step(c->st);
    if (rc != MZ_ROW)
        return rc;
    rc = open_row(c->st, c->run_id, p);
    return rc == MZ_OK ? MZ_ROW : rc;
}

void assist_packs_end(struct assist_pack_cursor *c)
{
    if (c == NULL)
        return;
    mz_db_done(c->st);
    free(c);
}
