/* store.c - source snapshots as sealed, key-sorted chunks.
 *
 * A batch (verify_batches, one department's delivery as of a date) is kept
 * as its rows sorted by key (the blind index of the ID number) and cut into
 * chunks of VF_CHUNK_ROWS rows. A chunk is one row of verify_chunks:
 * (batch_id, seq, nrows, min_key, max_key, data), where data is
 *     header (4 x uint32: magic, nrows, strings_len, flags) | rows
 * sealed with XChaCha20-Poly1305 (mz_crypto_seal_bin) under the context
 * "verify_chunks:<batch>:<seq>", so a chunk moved to another place does not
 * open. The chunk's detail texts (ID numbers, names, the text cells: what
 * reports show) are the row (batch_id, -1 - seq) of the same table, sealed
 * under "verify_chunks:<batch>:<seq>:strings" (flags bit 0). A bulk
 * re-check reads and opens only the rows (48 bytes each: all it needs; the
 * texts are 40 % of the bytes); a single household's report opens both.
 * Chunks of the first format (flags 0: the texts after the rows in the same
 * sealed data) still open.
 * min_key/max_key are the first 8 key bytes as a signed integer whose
 * order is the keys' order: a single household's look-up reads only the
 * chunks whose range covers its members' keys; a bulk run streams them all
 * (and routes each to the worker thread whose key range it covers).
 *
 * Why not one table row per source row: a 20-million-row re-check then costs
 * 20 million SQL steps; here it is ~5,000 blob reads and a decryption at
 * memory speed, and the data stays sealed at rest (amounts included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "modules/verify/verify_internal.h"

#define CHUNK_MAGIC 0x31434656u /* "VFC1" */
#define HEADER_BYTES 16
#define TEXTS_APART 1u /* header flag: the detail texts are row -1 - seq */

/* The first 8 key bytes, big-endian, sign bit flipped: ordered like memcmp. */
int64_t vf_key_prefix(const unsigned char key[16])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | key[i];
    return (int64_t)(v ^ 0x8000000000000000ull);
}

static void chunk_context(char out[64], int64_t batch_id, int seq, bool strings)
{
    snprintf(out, 64, "verify_chunks:%lld:%d%s", (long long)batch_id, seq,
             strings ? ":strings" : "");
}

int vf_current_batch(struct mz_db *db, enum vf_source_id src, const char *as_of,
                     int64_t *batch_id, char as_of_out[11])
{
    struct mz_stmt *st;
    *batch_id = 0;
    as_of_out[0] = '\0';
    int rc = mz_db_prepare(db,
                           "SELECT id, as_of FROM verify_batches WHERE source = ? AND as_of <= ?"
                           " AND deleted_at IS NULL AND state = 'active'"
                           " ORDER BY as_of DESC, id DESC LIMIT 1",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, vf_sources[src].code);
    mz_db_bind_text(st, 2, as_of);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        *batch_id = mz_db_col_int(st, 0);
        const char *t = mz_db_col_text(st, 1);
        snprintf(as_of_out, 11, "%s", t ? t : "");
        rc = MZ_OK;
    } else if (rc == MZ_DONE) {
        rc = MZ_OK;
    }
    mz_db_done(st);
    return rc;
}

static int cmp_parsed(const void *a, const void *b)
{
    const struct vf_parsed *x = a, *y = b;
    int c = memcmp(x->row.key, y->row.key, 16);
    if (c)
        return c;
    /* Stable for equal keys: by date then figure, so output is deterministic. */
    if (x->row.date != y->row.date)
        return x->row.date < y->row.date ? -1 : 1;
    return x->row.a < y->row.a ? -1 : x->row.a > y->row.a;
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static int insert_chunk_row(struct mz_db *db, int64_t batch_id, int64_t seq, int64_t nrows,
                            int64_t min_key, int64_t max_key, const void *data, size_t len)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "INSERT INTO verify_chunks (batch_id, seq, nrows, min_key, max_key,"
                           " data) VALUES (?, ?, ?, ?, ?, ?)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, batch_id);
    mz_db_bind_int(st, 2, seq);
    mz_db_bind_int(st, 3, nrows);
    mz_db_bind_int(st, 4, min_key);
    mz_db_bind_int(st, 5, max_key);
    mz_db_bind_blob(st, 6, data, len);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

int vf_store_write(struct mz_db *db, int64_t batch_id, enum vf_source_id src,
                   struct vf_parsed *rows, size_t n)
{
    (void)src;
    qsort(rows, n, sizeof(*rows), cmp_parsed);
    int rc = MZ_OK;
    size_t cap = 0;
    unsigned char *plain = NULL, *sealed = NULL;
    for (size_t first = 0, seq = 0; first < n && rc == MZ_OK; first += VF_CHUNK_ROWS, seq++) {
        size_t cnt = n - first < VF_CHUNK_ROWS ? n - first : VF_CHUNK_ROWS;
        size_t slen = 0;
        for (size_t i = 0; i < cnt; i++)
            slen += rows[first + i].detail_len;
        size_t rows_len = HEADER_BYTES + cnt * sizeof(struct vf_row);
        size_t need = rows_len + slen;
        if (need > cap) {
            free(plain);
            free(sealed);
            cap = need;
            plain = malloc(cap);
            sealed = malloc(cap + 2 * MZ_CRYPTO_SEAL_OVERHEAD);
            if (plain == NULL || sealed == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
        }
        put32(plain, CHUNK_MAGIC);
        put32(plain + 4, (uint32_t)cnt);
        put32(plain + 8, (uint32_t)slen);
        put32(plain + 12, TEXTS_APART);
        struct vf_row *out = (struct vf_row *)(plain + HEADER_BYTES);
        char *strings = (char *)(plain + rows_len);
        size_t off = 0;
        for (size_t i = 0; i < cnt; i++) {
            out[i] = rows[first + i].row;
            out[i].str_off = (uint32_t)off;
            out[i].str_len = (uint32_t)rows[first + i].detail_len;
            memcpy(strings + off, rows[first + i].detail, rows[first + i].detail_len);
            off += rows[first + i].detail_len;
        }
        char ctx[64];
        unsigned char *sealed_texts = sealed + rows_len + MZ_CRYPTO_SEAL_OVERHEAD;
        chunk_context(ctx, batch_id, (int)seq, false);
        mz_crypto_seal_bin(ctx, plain, rows_len, sealed);
        chunk_context(ctx, batch_id, (int)seq, true);
        mz_crypto_seal_bin(ctx, strings, slen, sealed_texts);
        int64_t lo = vf_key_prefix(out[0].key), hi = vf_key_prefix(out[cnt - 1].key);
        rc = insert_chunk_row(db, batch_id, (int64_t)seq, (int64_t)cnt, lo, hi, sealed,
                              rows_len + MZ_CRYPTO_SEAL_OVERHEAD);
        if (rc == MZ_OK)
            rc = insert_chunk_row(db, batch_id, -1 - (int64_t)seq, 0, lo, hi, sealed_texts,
                                  slen + MZ_CRYPTO_SEAL_OVERHEAD);
    }
    free(plain);
    free(sealed);
    return rc;
}

void vf_chunk_free(struct vf_chunk *c)
{
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

static int reserve(struct vf_chunk *c, size_t n)
{
    if (n > c->cap) {
        unsigned char *b = realloc(c->buf, n);
        if (b == NULL)
            return MZ_ERR_NOMEM;
        c->buf = b;
        c->cap = n;
    }
    return MZ_OK;
}

/* Point c's rows and strings into c->buf (after a reserve moved it). */
static void chunk_pointers(struct vf_chunk *c, bool strings)
{
    size_t rows_len = (size_t)HEADER_BYTES + (size_t)c->nrows * sizeof(struct vf_row);
    c->rows = (const struct vf_row *)(c->buf + HEADER_BYTES);
    c->strings = strings ? (const char *)(c->buf + rows_len) : NULL;
}

static int check_strings(const struct vf_chunk *c)
{
    for (uint32_t i = 0; i < c->nrows; i++) {
        if ((uint64_t)c->rows[i].str_off + c->rows[i].str_len > c->strings_len)
            return MZ_ERR_INVALID;
    }
    return MZ_OK;
}

/* Open a chunk's rows; *apart tells whether its texts are a row of their
 * own (then c->strings is NULL and c->strings_len their length). */
static int open_rows(struct vf_chunk *c, int64_t batch_id, int seq, const void *sealed,
                     size_t len, bool *apart)
{
    if (len < MZ_CRYPTO_SEAL_OVERHEAD + HEADER_BYTES)
        return MZ_ERR_INVALID;
    size_t plen = len - MZ_CRYPTO_SEAL_OVERHEAD;
    if (reserve(c, plen) != MZ_OK)
        return MZ_ERR_NOMEM;
    char ctx[64];
    chunk_context(ctx, batch_id, seq, false);
    if (mz_crypto_open_bin(ctx, sealed, len, c->buf) != MZ_OK)
        return MZ_ERR_INVALID;
    uint32_t h[4];
    memcpy(h, c->buf, sizeof(h));
    size_t rows_len = (size_t)HEADER_BYTES + (size_t)h[1] * sizeof(struct vf_row);
    *apart = h[3] & TEXTS_APART;
    if (h[0] != CHUNK_MAGIC || (h[3] & ~TEXTS_APART) ||
        rows_len + (*apart ? 0 : h[2]) != plen)
        return MZ_ERR_INVALID;
    c->batch_id = batch_id;
    c->seq = seq;
    c->nrows = h[1];
    c->strings_len = h[2];
    chunk_pointers(c, !*apart);
    return *apart ? MZ_OK : check_strings(c);
}

/* Open the texts row of a chunk whose rows are open. */
static int open_texts(struct vf_chunk *c, const void *sealed, size_t len)
{
    size_t rows_len = (size_t)HEADER_BYTES + (size_t)c->nrows * sizeof(struct vf_row);
    if (len != (size_t)c->strings_len + MZ_CRYPTO_SEAL_OVERHEAD)
        return MZ_ERR_INVALID;
    if (reserve(c, rows_len + c->strings_len) != MZ_OK)
        return MZ_ERR_NOMEM;
    chunk_pointers(c, false);
    char ctx[64];
    chunk_context(ctx, c->batch_id, c->seq, true);
    if (mz_crypto_open_bin(ctx, sealed, len, c->buf + rows_len) != MZ_OK)
        return MZ_ERR_INVALID;
    chunk_pointers(c, true);
    return check_strings(c);
}

int vf_chunk_open(struct vf_chunk *c, int64_t batch_id, int seq, const void *sealed, size_t len)
{
    bool apart;
    return open_rows(c, batch_id, seq, sealed, len, &apart);
}

int vf_chunk_open_rows(struct vf_chunk *c, int64_t batch_id, int seq, const void *sealed,
                       size_t len)
{
    bool apart;
    int rc = open_rows(c, batch_id, seq, sealed, len, &apart);
    c->strings = NULL;
    return rc;
}

/* Open chunk (batch_id, seq) with its texts. */
static int load_chunk(struct mz_db *db, struct vf_chunk *c, int64_t batch_id, int seq)
{
    struct mz_stmt *st;
    bool apart = false;
    for (int part = 0; part < 2; part++) {
        int rc = mz_db_prepare(db, "SELECT data FROM verify_chunks WHERE batch_id = ? AND seq = ?",
                               &st);
        if (rc != MZ_OK)
            return rc;
        mz_db_bind_int(st, 1, batch_id);
        mz_db_bind_int(st, 2, part == 0 ? seq : -1 - (int64_t)seq);
        rc = mz_db_step(st);
        if (rc == MZ_ROW)
            rc = part == 0 ? open_rows(c, batch_id, seq, mz_db_col_blob(st, 0),
                                       mz_db_col_bytes(st, 0), &apart)
                           : open_texts(c, mz_db_col_blob(st, 0), mz_db_col_bytes(st, 0));
        else
            rc = rc == MZ_DONE ? MZ_ERR_NOTFOUND : rc;
        mz_db_done(st);
        if (rc != MZ_OK || !apart)
            return rc;
    }
    return MZ_OK;
}

/* Rows of chunk c whose key equals key. */
static void match_in_chunk(const struct vf_chunk *c, enum vf_source_id src,
                           const unsigned char key[16], vf_row_fn fn, void *ctx)
{
    uint32_t lo = 0, hi = c->nrows;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(c->rows[mid].key, key, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint32_t i = lo; i < c->nrows && memcmp(c->rows[i].key, key, 16) == 0; i++)
        fn(ctx, src, c->batch_id, c, &c->rows[i]);
}

int vf_store_lookup(struct mz_db *db, int64_t batch_id, enum vf_source_id src,
                    const unsigned char (*keys)[16], size_t n, vf_row_fn fn, void *ctx)
{
    struct vf_chunk c = {0};
    int open_seq = -1, rc = MZ_OK;
    for (size_t k = 0; k < n && rc == MZ_OK; k++) {
        if (k > 0 && memcmp(keys[k], keys[k - 1], 16) == 0)
            continue;
        int64_t prefix = vf_key_prefix(keys[k]);
        /* The chunks starting at or before the key, last first, while their
         * range still reaches it (a key's rows may straddle a boundary). */
        struct mz_stmt *st;
        int seqs[8], nseqs = 0;
        rc = mz_db_prepare(db,
                           "SELECT seq, max_key FROM verify_chunks WHERE batch_id = ?"
                           " AND min_key <= ? AND seq >= 0 ORDER BY min_key DESC, seq DESC",
                           &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_int(st, 1, batch_id);
        mz_db_bind_int(st, 2, prefix);
        while ((rc = mz_db_step(st)) == MZ_ROW && nseqs < 8) {
            if (mz_db_col_int(st, 1) < prefix)
                break;
            seqs[nseqs++] = (int)mz_db_col_int(st, 0);
        }
        mz_db_done(st);
        if (rc < 0)
            break;
        rc = MZ_OK;
        for (int i = nseqs - 1; i >= 0 && rc == MZ_OK; i--) {
            if (seqs[i] != open_seq) {
                rc = load_chunk(db, &c, batch_id, seqs[i]);
                if (rc != MZ_OK) {
                    open_seq = -1;
                    break;
                }
                open_seq = seqs[i];
            }
            match_in_chunk(&c, src, keys[k], fn, ctx);
        }
    }
    vf_chunk_free(&c);
    return rc;
}

int vf_store_scan(struct mz_db *db, int64_t batch_id, enum vf_source_id src, vf_row_fn fn,
                  void *ctx)
{
    struct vf_chunk c = {0};
    struct mz_stmt *st;
    int rc = mz_db_prepare_uncached(db,
                                    "SELECT seq FROM verify_chunks WHERE batch_id = ? AND seq >= 0"
                                    " ORDER BY seq",
                                    &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, batch_id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        rc = load_chunk(db, &c, batch_id, (int)mz_db_col_int(st, 0));
        if (rc != MZ_OK)
            break;
        for (uint32_t i = 0; i < c.nrows; i++)
            fn(ctx, src, batch_id, &c, &c.rows[i]);
    }
    mz_db_finalize(st);
    vf_chunk_free(&c);
    return rc == MZ_DONE ? MZ_OK : rc;
}

int vf_store_chunks(struct mz_db *db, int64_t batch_id, int64_t from_key, int64_t to_key,
                    vf_chunk_fn fn, void *ctx)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT seq, min_key, max_key, data FROM verify_chunks"
                           " WHERE batch_id = ? AND seq >= 0 AND max_key >= ? AND min_key <= ?"
                           " ORDER BY seq",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, batch_id);
    mz_db_bind_int(st, 2, from_key);
    mz_db_bind_int(st, 3, to_key);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        rc = fn(ctx, (int)mz_db_col_int(st, 0), mz_db_col_int(st, 1), mz_db_col_int(st, 2),
                mz_db_col_blob(st, 3), mz_db_col_bytes(st, 3));
        if (rc != MZ_OK)
            break;
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}
