/* snapshot.c - a payroll run's snapshot written as packs (packs.c).
 *
 * assist_snapshot_packs() reads every case of the program paying in the
 * division for the month with one SELECT (the same cases and amounts as the
 * per-row snapshot of payroll.c: the previous benefit while a new one has
 * not started, skipped when the payee or a member died before the month or
 * no account is registered), keeps them in memory in case order (a city's
 * run reads them so; a district's run reads its range of the payroll index
 * and they are sorted here), then seals the paid ones ASSIST_PACK_MAX a
 * pack: the account of every household is opened (it goes into the sealed
 * pack in clear, so the bank file opens one pack instead of every account)
 * on this thread for the even packs and on a second thread for the odd
 * ones, and the packs are inserted in order. The skipped households and the
 * sums per community are handed back for the exception rows and the
 * ledger's summary debits (docs/assistance.md, "Packed payroll snapshot").
 * Cases another run of the program already holds for the month (a case
 * that moved to another district since) are left out and counted. Before
 * the read, the trace of every paying case whose trace differs from its
 * latest copy is copied (assistance_payment_traces, one INSERT ... SELECT),
 * and each packed household names its case's latest copy: what it was paid
 * with and why.
 *
 * Tested by tests/unit/test_assistance.c (amounts, order, skips and sums
 * against the cases written) and measured by bench/payroll.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

/* A paying case as read. */
struct snap_row {
    int64_t case_id, household_id, payee, amount, trace_id;
    int32_t persons;
    uint32_t flags;
    int skip;
    char division[13];
    char died[11];
    const char *account_sealed, *name; /* in the snapshot's arena */
};

#define SNAPSHOT_SQL                                                                             \
    "SELECT c.id, coalesce(c.household_id, 0),"                                                  \
    " coalesce(c.payee_person_id, c.applicant_person_id, 0), c.division,"                        \
    " coalesce(c.member_count, 0),"                                                              \
    " coalesce(CASE WHEN c.benefit_from IS NOT NULL AND ? < c.benefit_from"                      \
    "   THEN coalesce(c.previous_benefit_fen, c.monthly_benefit_fen)"                            \
    "   ELSE c.monthly_benefit_fen END, 0),"                                                     \
    " CASE WHEN c.benefit_from IS NOT NULL AND ? < c.benefit_from THEN 1 ELSE 0 END,"            \
    " CASE WHEN p.deceased_on IS NOT NULL AND p.deceased_on < ? THEN 1"                          \
    "   WHEN dm.died_on IS NOT NULL THEN 2 WHEN c.bank_account IS NULL THEN 3 ELSE 0 END,"       \
    " CASE WHEN p.deceased_on IS NOT NULL AND p.deceased_on < ? THEN p.deceased_on"              \
    "   ELSE dm.died_on END,"                                                                    \
    " c.bank_account, p.name,"                                                                   \
    " CASE WHEN c.benefit_trace IS NULL THEN 0 ELSE coalesce((SELECT max(t.id)"                  \
    "   FROM assistance_payment_traces t WHERE t.case_id = c.id), 0) END"                        \
    " FROM assistance_cases c%s"                                                                 \
    " LEFT JOIN persons p ON p.id = coalesce(c.payee_person_id, c.applicant_person_id)"          \
    DEAD_MEMBERS                                                                                 \
    " WHERE c.deleted_at IS NULL AND c.state = 'paying' AND c.program = ?"                       \
    " AND coalesce(c.start_month, '') <= ? AND c.division >= ? AND c.division < ?%s"

/* The paying cases' traces as paid: a copy of each whose trace differs from
 * its latest copy (the sealed text as is: it changes only when the benefit
 * is decided again), so the packs can name the latest copy of every case
 * (bound: program, month, lo, hi). */
#define TRACE_COPIES                                                                             \
    "INSERT INTO assistance_payment_traces (case_id, trace)"                                     \
    " SELECT c.id, c.benefit_trace FROM assistance_cases c%s"                                    \
    " WHERE c.deleted_at IS NULL AND c.state = 'paying' AND c.program = ?"                       \
    " AND coalesce(c.start_month, '') <= ? AND c.division >= ? AND c.division < ?"               \
    " AND c.benefit_trace IS NOT NULL AND NOT EXISTS (SELECT 1 FROM assistance_payment_traces t" \
    "   WHERE t.id = (SELECT max(l.id) FROM assistance_payment_traces l WHERE l.case_id = c.id)" \
    "   AND t.trace = c.benefit_trace) ORDER BY c.id"

/* How a run reads its paying cases (the " FROM assistance_cases c" suffix of
 * SNAPSHOT_SQL and TRACE_COPIES): a city's run on SQLite scans the table in
 * rowid order (NOT INDEXED) - through the payroll or state index SQLite
 * looks every case up in its table, 4x the time at 1,000,000 cases
 * (bench/notes.md) -, a district's reads its range of the payroll index;
 * PostgreSQL's planner chooses. */
static const char *cases_table(struct mz_db *db, bool city)
{
    return city && strcmp(mz_db_kind_name(db), "sqlite") == 0 ? " NOT INDEXED" : "";
}

static int cmp_case(const void *a, const void *b)
{
    int64_t x = ((const struct snap_row *)a)->case_id, y = ((const struct snap_row *)b)->case_id;
    return x < y ? -1 : x > y;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Read the cases into *rows (texts in a), leaving out those in paid (sorted). */
static int read_cases(struct mz_db *db, struct mz_arena *a, const char *program, const char *month,
                      const char *lo, const char *hi, bool city, const struct assist_id_set *paid,
                      struct snap_row **rows, size_t *n, size_t *left_out)
{
    char first[11];
    snprintf(first, sizeof(first), "%s-01", month);
    struct mz_stmt *st;
    /* A city's run reads in table order (keys appended, bench/notes.md); a
     * district's would walk the whole city's paying cases with the ORDER BY. */
    char sql[2048];
    snprintf(sql, sizeof(sql), SNAPSHOT_SQL, cases_table(db, city), city ? " ORDER BY c.id" : "");
    int rc = mz_db_prepare(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    const char *binds[] = {month, month, first, first, first, program, month, lo, hi};
    for (int i = 0; i < (int)MZ_ARRAY_LEN(binds); i++)
        mz_db_bind_text(st, i + 1, binds[i]);
    size_t cap = 0;
    bool sorted = true;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t case_id = mz_db_col_int(st, 0);
        if (paid && paid->n > 0 &&
            bsearch(&case_id, paid->ids, paid->n, sizeof(*paid->ids), cmp_id) != NULL) {
            ++*left_out;
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            *rows = mz_xrealloc(*rows, cap * sizeof(**rows));
        }
        struct snap_row *r = &(*rows)[*n];
        memset(r, 0, sizeof(*r));
        r->case_id = case_id;
        r->household_id = mz_db_col_int(st, 1);
        r->payee = mz_db_col_int(st, 2);
        snprintf(r->division, sizeof(r->division), "%s", mz_db_col_text(st, 3));
        r->persons = (int32_t)mz_db_col_int(st, 4);
        r->amount = mz_db_col_int(st, 5);
        r->flags = mz_db_col_int(st, 6) ? ASSIST_PACKED_PREVIOUS : 0;
        r->skip = (int)mz_db_col_int(st, 7);
        const char *died = mz_db_col_text(st, 8);
        snprintf(r->died, sizeof(r->died), "%s", died ? died : "");
        const char *acc = mz_db_col_text(st, 9), *name = mz_db_col_text(st, 10);
        r->account_sealed = acc ? mz_arena_strdup(a, acc) : NULL;
        r->name = mz_arena_strdup(a, name ? name : "");
        r->trace_id = mz_db_col_int(st, 11);
        if (*n > 0 && r->case_id <= (*rows)[*n - 1].case_id)
            sorted = false;
        (*n)++;
    }
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    if (!sorted)
        qsort(*rows, *n, sizeof(**rows), cmp_case);
    return MZ_OK;
}

/* The packs of a snapshot, sealed by two threads. */
struct sealer {
    const struct snap_row *const *paid; /* the paid rows in case order */
    size_t npaid, npacks;
    int64_t run_id;
    struct assist_pack_blob *blobs;
    int first;  /* this sealer's packs: first, first + 2, ... */
    int rc;
    int64_t bad_case;
};

static void *seal_packs(void *arg)
{
    struct sealer *s = arg;
    struct assist_packed *rows = mz_xcalloc(ASSIST_PACK_MAX, sizeof(*rows));
    s->rc = MZ_OK;
    for (size_t k = (size_t)s->first; k < s->npacks && s->rc == MZ_OK; k += 2) {
        struct mz_arena *a = mz_arena_new();
        size_t from = k * ASSIST_PACK_MAX;
        size_t n = s->npaid - from < ASSIST_PACK_MAX ? s->npaid - from : ASSIST_PACK_MAX;
        for (size_t i = 0; i < n && s->rc == MZ_OK; i++) {
            const struct snap_row *r = s->paid[from + i];
            struct assist_packed *o = &rows[i];
            char *account = NULL;
            size_t len = 0;
            if (mz_crypto_open(a, assist_account_context(0), r->account_sealed, &account, &len) !=
                MZ_OK) {
                s->rc = MZ_ERR_INVALID;
                s->bad_case = r->case_id;
                break;
            }
            memset(o, 0, sizeof(*o));
            o->case_id = r->case_id;
            o->household_id = r->household_id;
            o->payee_person_id = r->payee;
            o->persons = r->persons;
            o->amount_fen = r->amount;
            o->flags = r->flags;
            o->trace_id = r->trace_id;
            memcpy(o->division, r->division, sizeof(o->division));
            o->name = r->name;
            o->name_len = strlen(r->name);
            if (o->name_len > ASSIST_PACK_TEXT_MAX)
                o->name_len = ASSIST_PACK_TEXT_MAX;
            o->account = account;
            o->account_len = len;
        }
        if (s->rc == MZ_OK)
            s->rc = assist_pack_seal(s->run_id, (int)k, (int64_t)from, rows, n, &s->blobs[k]);
        if (s->rc != MZ_OK && s->bad_case == 0)
            s->bad_case = s->paid[from]->case_id;
        mz_arena_free(a);
    }
    free(rows);
    return NULL;
}

static int cmp_division(const void *a, const void *b)
{
    return strcmp(((const struct assist_community_sum *)a)->division,
                  ((const struct assist_community_sum *)b)->division);
}

static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The sums per community of the paid rows (sorted by division). */
static void community_sums(const struct snap_row *const *paid, size_t n,
                           struct assist_snapshot *out)
{
    size_t cap = 64, used = 0;
    int32_t *slot = NULL;
    struct assist_community_sum *sums = mz_xcalloc(cap / 2, sizeof(*sums));
    slot = mz_xmalloc(cap * sizeof(*slot));
    memset(slot, 0xff, cap * sizeof(*slot));
    for (size_t i = 0; i < n; i++) {
        const struct snap_row *r = paid[i];
        size_t j = text_hash(r->division) & (cap - 1);
        while (slot[j] >= 0 && strcmp(sums[slot[j]].division, r->division) != 0)
            j = (j + 1) & (cap - 1);
        if (slot[j] < 0) {
            slot[j] = (int32_t)used;
            memcpy(sums[used].division, r->division, sizeof(sums[used].division));
            used++;
        }
        struct assist_community_sum *c = &sums[slot[j]];
        c->households++;
        c->persons += r->persons;
        c->amount_fen += r->amount;
        if (used == cap / 2) { /* keep the table at most half full: grow and rehash */
            cap *= 2;
            sums = mz_xrealloc(sums, cap / 2 * sizeof(*sums));
            memset(sums + used, 0, (cap / 2 - used) * sizeof(*sums));
            slot = mz_xrealloc(slot, cap * sizeof(*slot));
            memset(slot, 0xff, cap * sizeof(*slot));
            for (size_t k = 0; k < used; k++) {
                size_t m = text_hash(sums[k].division) & (cap - 1);
                while (slot[m] >= 0)
                    m = (m + 1) & (cap - 1);
                slot[m] = (int32_t)k;
            }
        }
    }
    free(slot);
    qsort(sums, used, sizeof(*sums), cmp_division);
    out->communities = sums;
    out->ncommunities = used;
}

int assist_snapshot_packs(struct mz_db *db, int64_t run_id, const char *program,
                          const char *month, const char *lo, const char *hi,
                          const struct assist_id_set *elsewhere, struct assist_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    struct mz_arena *a = mz_arena_new();
    struct snap_row *rows = NULL;
    size_t n = 0;
    /* A province-level run (Tianjin's city: level 1, "120000") is the city's. */
    bool city = mz_division_level(lo) == 1;
    char copies[1024];
    snprintf(copies, sizeof(copies), TRACE_COPIES, cases_table(db, city));
    int rc = mz_db_run(db, copies, "ssss", program, month, lo, hi);
    if (rc == MZ_OK)
        rc = read_cases(db, a, program, month, lo, hi, city, elsewhere, &rows, &n,
                        &out->paid_elsewhere);
    const struct snap_row **paid = NULL;
    size_t npaid = 0;
    if (rc == MZ_OK && n > 0) {
        paid = mz_xmalloc(n * sizeof(*paid));
        out->skipped = mz_xcalloc(n, sizeof(*out->skipped));
        for (size_t i = 0; i < n; i++) {
            const struct snap_row *r = &rows[i];
            if (r->skip == 0) {
                paid[npaid++] = r;
                out->persons += r->persons;
                out->amount_fen += r->amount;
                continue;
            }
            struct assist_skip *k = &out->skipped[out->nskipped++];
            k->case_id = r->case_id;
            k->household_id = r->household_id;
            k->payee_person_id = r->payee;
            k->persons = r->persons;
            k->reason = (enum assist_skip_reason)r->skip;
            memcpy(k->division, r->division, sizeof(k->division));
            memcpy(k->died_on, r->died, sizeof(k->died_on));
        }
        out->households = (int64_t)npaid;
    }
    size_t npacks = (npaid + ASSIST_PACK_MAX - 1) / ASSIST_PACK_MAX;
    struct assist_pack_blob *blobs = npacks ? mz_xcalloc(npacks, sizeof(*blobs)) : NULL;
    if (rc == MZ_OK && npacks > 0) {
        struct sealer s[2];
        for (int t = 0; t < 2; t++)
            s[t] = (struct sealer){.paid = paid, .npaid = npaid, .npacks = npacks,
                                   .run_id = run_id, .blobs = blobs, .first = t};
        pthread_t th;
        bool threaded = npacks > 1 && pthread_create(&th, NULL, seal_packs, &s[1]) == 0;
        seal_packs(&s[0]);
        if (threaded)
            pthread_join(th, NULL);
        else if (npacks > 1)
            seal_packs(&s[1]);
        rc = s[0].rc != MZ_OK ? s[0].rc : s[1].rc;
        if (rc != MZ_OK)
            mz_error("payroll run %lld: the account of case %lld does not open", (long long)run_id,
                     (long long)(s[0].rc != MZ_OK ? s[0].bad_case : s[1].bad_case));
    }
    for (size_t k = 0; k < npacks && rc == MZ_OK; k++)
        rc = assist_pack_insert(db, &blobs[k]);
    if (rc == MZ_OK) {
        out->npacks = npacks;
        community_sums(paid, npaid, out);
    }
    for (size_t k = 0; k < npacks; k++)
        assist_pack_blob_free(&blobs[k]);
    free(blobs);
    free(paid);
    free(rows);
    mz_arena_free(a);
    if (rc != MZ_OK)
        assist_snapshot_free(out);
    return rc;
}

void assist_snapshot_free(struct assist_snapshot *s)
{
    free(s->skipped);
    free(s->communities);
    memset(s, 0, sizeof(*s));
}
