/* snapshot.c - a payroll run's snapshot written as packs (packs.c).
 *
 * assist_snapshot_packs() reads every case of the program paying in the
 * division for the month with one SELECT (the previous benefit while a new
 * one has not started, skipped when the payee or a member died before the
 * month or no account is registered) in case order (a city's run scans the
 * table in rowid order; a district's run reads its range of the payroll
 * index and sorts it here), and seals the paid ones ASSIST_PACK_MAX a pack:
 * each full pack is handed to a worker thread while the read goes on (the
 * reader seals what is left once the read ends), which opens the account
 * of every household (it goes into the sealed pack in clear, so the bank
 * file opens one pack instead of every account) and seals the pack; the
 * packs are inserted in order. The skipped households and the
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

/* Copy at most size - 1 bytes of text (NULL: "") into buf, NUL-terminated. */
static void copy_text(char *buf, size_t size, const char *text)
{
    size_t n = text ? strnlen(text, size - 1) : 0;
    memcpy(buf, text ? text : "", n);
    buf[n] = '\0';
}

/* The current row of SNAPSHOT_SQL into r, its texts copied into a. */
static void row_from(struct mz_stmt *st, struct mz_arena *a, int64_t case_id, struct snap_row *r)
{
    r->case_id = case_id;
    r->household_id = mz_db_col_int(st, 1);
    r->payee = mz_db_col_int(st, 2);
    copy_text(r->division, sizeof(r->division), mz_db_col_text(st, 3));
    r->persons = (int32_t)mz_db_col_int(st, 4);
    r->amount = mz_db_col_int(st, 5);
    r->flags = mz_db_col_int(st, 6) ? ASSIST_PACKED_PREVIOUS : 0;
    r->skip = (int)mz_db_col_int(st, 7);
    copy_text(r->died, sizeof(r->died), mz_db_col_text(st, 8));
    const char *acc = mz_db_col_text(st, 9), *name = mz_db_col_text(st, 10);
    r->account_sealed = acc ? mz_arena_strdup(a, acc) : NULL;
    r->name = mz_arena_strdup(a, name ? name : "");
    r->trace_id = mz_db_col_int(st, 11);
}

/* One pack on its way: up to ASSIST_PACK_MAX paid rows in case order (texts
 * in a), sealed by a worker into blob; rows and a are freed once sealed. */
struct pack_job {
    struct snap_row *rows;
    size_t n;
    struct mz_arena *a;
    int seq;
    int64_t first_position;
    struct assist_pack_blob blob;
    struct pack_job *next; /* the queue */
};

/* The packs of a snapshot: the reader appends paid rows to the current job
 * and queues it when full; workers open the accounts and seal the queued
 * jobs - one thread while the cases are read, the reader too afterwards -
 * so reading and sealing overlap on two cores. */
struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pack_job *head, *tail; /* queued, not sealed yet */
    bool closed;                  /* nothing more will be queued */
    struct pack_job **jobs;       /* every job by seq (the reader's) */
    size_t njobs, cap;
    struct pack_job *cur;
    int64_t npaid, run_id;
    int rc;
    int64_t bad_case;
};

static void pipeline_queue(struct pipeline *pl, struct pack_job *j)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->tail)
        pl->tail->next = j;
    else
        pl->head = j;
    pl->tail = j;
    pthread_cond_signal(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
}

/* Open the job's accounts and seal it; MZ_OK or MZ_ERR_INVALID with the case. */
static int seal_job(int64_t run_id, struct pack_job *j, struct assist_packed *rows,
                    int64_t *bad_case)
{
    int rc = MZ_OK;
    for (size_t i = 0; i < j->n && rc == MZ_OK; i++) {
        const struct snap_row *r = &j->rows[i];
        struct assist_packed *o = &rows[i];
        char *account = NULL;
        size_t len = 0;
        if (mz_crypto_open(j->a, assist_account_context(0), r->account_sealed, &account, &len) !=
            MZ_OK) {
            *bad_case = r->case_id;
            return MZ_ERR_INVALID;
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
    rc = assist_pack_seal(run_id, j->seq, j->first_position, rows, j->n, &j->blob);
    if (rc != MZ_OK && *bad_case == 0)
        *bad_case = j->rows[0].case_id;
    return rc;
}

/* A worker: seal queued jobs until the queue is closed and empty. */
static void *pipeline_work(void *arg)
{
    struct pipeline *pl = arg;
    struct assist_packed *rows = mz_xcalloc(ASSIST_PACK_MAX, sizeof(*rows));
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (pl->head == NULL && !pl->closed)
            pthread_cond_wait(&pl->cv, &pl->mu);
        struct pack_job *j = pl->head;
        if (j) {
            pl->head = j->next;
            if (pl->head == NULL)
                pl->tail = NULL;
        }
        bool failed = pl->rc != MZ_OK;
        pthread_mutex_unlock(&pl->mu);
        if (j == NULL)
            break;
        int64_t bad = 0;
        int rc = failed ? MZ_OK : seal_job(pl->run_id, j, rows, &bad);
        mz_arena_free(j->a);
        j->a = NULL;
        free(j->rows);
        j->rows = NULL;
        if (rc != MZ_OK) {
            pthread_mutex_lock(&pl->mu);
            if (pl->rc == MZ_OK) {
                pl->rc = rc;
                pl->bad_case = bad;
            }
            pthread_mutex_unlock(&pl->mu);
        }
    }
    free(rows);
    return NULL;
}

/* A new current job (the next seq). */
static struct snap_row *pipeline_slot(struct pipeline *pl, struct mz_arena **a)
{
    if (pl->cur && pl->cur->n == ASSIST_PACK_MAX) {
        pipeline_queue(pl, pl->cur);
        pl->cur = NULL;
    }
    if (pl->cur == NULL) {
        struct pack_job *j = mz_xcalloc(1, sizeof(*j));
        j->rows = mz_xmalloc(ASSIST_PACK_MAX * sizeof(*j->rows));
        j->a = mz_arena_new();
        j->seq = (int)pl->njobs;
        j->first_position = pl->npaid;
        if (pl->njobs == pl->cap) {
            pl->cap = pl->cap ? 2 * pl->cap : 64;
            pl->jobs = mz_xrealloc(pl->jobs, pl->cap * sizeof(*pl->jobs));
        }
        pl->jobs[pl->njobs++] = j;
        pl->cur = j;
    }
    *a = pl->cur->a;
    return &pl->cur->rows[pl->cur->n];
}

/* Sums per community, grown as paid rows come (open addressing, at most
 * half full). */
struct sums {
    struct assist_community_sum *sums;
    int32_t *slot;
    size_t cap, used;
};

static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void sums_add(struct sums *t, const struct snap_row *r)
{
    if (t->cap == 0) {
        t->cap = 64;
        t->sums = mz_xcalloc(t->cap / 2, sizeof(*t->sums));
        t->slot = mz_xmalloc(t->cap * sizeof(*t->slot));
        memset(t->slot, 0xff, t->cap * sizeof(*t->slot));
    }
    size_t j = text_hash(r->division) & (t->cap - 1);
    while (t->slot[j] >= 0 && strcmp(t->sums[t->slot[j]].division, r->division) != 0)
        j = (j + 1) & (t->cap - 1);
    if (t->slot[j] < 0) {
        t->slot[j] = (int32_t)t->used;
        memcpy(t->sums[t->used].division, r->division, sizeof(t->sums[t->used].division));
        t->used++;
    }
    struct assist_community_sum *c = &t->sums[t->slot[j]];
    c->households++;
    c->persons += r->persons;
    c->amount_fen += r->amount;
    if (t->used == t->cap / 2) { /* grow and rehash */
        t->cap *= 2;
        t->sums = mz_xrealloc(t->sums, t->cap / 2 * sizeof(*t->sums));
        memset(t->sums + t->used, 0, (t->cap / 2 - t->used) * sizeof(*t->sums));
        t->slot = mz_xrealloc(t->slot, t->cap * sizeof(*t->slot));
        memset(t->slot, 0xff, t->cap * sizeof(*t->slot));
        for (size_t k = 0; k < t->used; k++) {
            size_t m = text_hash(t->sums[k].division) & (t->cap - 1);
            while (t->slot[m] >= 0)
                m = (m + 1) & (t->cap - 1);
            t->slot[m] = (int32_t)k;
        }
    }
}

static int cmp_division(const void *a, const void *b)
{
    return strcmp(((const struct assist_community_sum *)a)->division,
                  ((const struct assist_community_sum *)b)->division);
}

/* What the reader does with each case, in case order: a paid one goes to
 * the current pack (and the sums), a skipped one to out->skipped. */
struct taker {
    struct pipeline *pl;
    struct sums sums;
    struct assist_snapshot *out;
    size_t skipcap;
};

static struct snap_row *take_slot(struct taker *t, struct mz_arena **a)
{
    return pipeline_slot(t->pl, a);
}

/* The row filled in the slot take_slot gave: keep it paid, or move it to
 * the skipped ones. */
static void take_row(struct taker *t, const struct snap_row *r)
{
    struct assist_snapshot *out = t->out;
    if (r->skip == 0) {
        t->pl->cur->n++;
        t->pl->npaid++;
        out->persons += r->persons;
        out->amount_fen += r->amount;
        sums_add(&t->sums, r);
        return;
    }
    if (out->nskipped == t->skipcap) {
        t->skipcap = t->skipcap ? 2 * t->skipcap : 256;
        out->skipped = mz_xrealloc(out->skipped, t->skipcap * sizeof(*out->skipped));
    }
    struct assist_skip *k = &out->skipped[out->nskipped++];
    memset(k, 0, sizeof(*k));
    k->case_id = r->case_id;
    k->household_id = r->household_id;
    k->payee_person_id = r->payee;
    k->persons = r->persons;
    k->reason = (enum assist_skip_reason)r->skip;
    memcpy(k->division, r->division, sizeof(k->division));
    memcpy(k->died_on, r->died, sizeof(k->died_on));
}

/* Read the cases, leaving out those in paid (sorted), and hand them to t
 * in case order: a city's run as they come (read in table order), a
 * district's read whole (its range of the payroll index) and sorted first. */
static int read_cases(struct mz_db *db, const char *program, const char *month, const char *lo,
                      const char *hi, bool city, const struct assist_id_set *paid, struct taker *t)
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
    struct snap_row *rows = NULL;
    size_t n = 0, cap = 0;
    struct mz_arena *a = city ? NULL : mz_arena_new();
    int64_t last = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t case_id = mz_db_col_int(st, 0);
        if (paid && paid->n > 0 &&
            bsearch(&case_id, paid->ids, paid->n, sizeof(*paid->ids), cmp_id) != NULL) {
            t->out->paid_elsewhere++;
            continue;
        }
        if (city) {
            if (case_id <= last) { /* ORDER BY c.id: never */
                rc = MZ_ERR_INTERNAL;
                break;
            }
            last = case_id;
            struct mz_arena *ja;
            struct snap_row *r = take_slot(t, &ja);
            row_from(st, ja, case_id, r);
            take_row(t, r);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            rows = mz_xrealloc(rows, cap * sizeof(*rows));
        }
        row_from(st, a, case_id, &rows[n++]);
    }
    mz_db_done(st);
    if (rc == MZ_DONE) {
        rc = MZ_OK;
        if (n > 1)
            qsort(rows, n, sizeof(*rows), cmp_case);
        for (size_t i = 0; i < n; i++) {
            struct mz_arena *ja;
            struct snap_row *r = take_slot(t, &ja);
            *r = rows[i];
            r->account_sealed = r->account_sealed ? mz_arena_strdup(ja, r->account_sealed) : NULL;
            r->name = mz_arena_strdup(ja, r->name);
            take_row(t, r);
        }
    } else if (rc >= 0) {
        rc = MZ_ERR_DB;
    }
    free(rows);
    if (a)
        mz_arena_free(a);
    return rc;
}

int assist_snapshot_packs(struct mz_db *db, int64_t run_id, const char *program,
                          const char *month, const char *lo, const char *hi,
                          const struct assist_id_set *elsewhere, struct assist_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    /* A province-level run (Tianjin's city: level 1, "120000") is the city's. */
    bool city = mz_division_level(lo) == 1;
    char copies[1024];
    snprintf(copies, sizeof(copies), TRACE_COPIES, cases_table(db, city));
    int rc = mz_db_run(db, copies, "ssss", program, month, lo, hi);
    if (rc != MZ_OK)
        return rc;
    struct pipeline pl = {.run_id = run_id, .rc = MZ_OK};
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv, NULL);
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, pipeline_work, &pl) == 0;
    struct taker t = {.pl = &pl, .out = out};
    rc = read_cases(db, program, month, lo, hi, city, elsewhere, &t);
    /* The last pack (an empty current job is dropped: no paid row read). */
    if (pl.cur && pl.cur->n == 0) {
        mz_arena_free(pl.cur->a);
        free(pl.cur->rows);
        free(pl.cur);
        pl.njobs--;
    } else if (pl.cur) {
        pipeline_queue(&pl, pl.cur);
    }
    pl.cur = NULL;
    pthread_mutex_lock(&pl.mu);
    pl.closed = true;
    pthread_cond_broadcast(&pl.cv);
    pthread_mutex_unlock(&pl.mu);
    pipeline_work(&pl); /* this thread seals what is left too */
    if (threaded)
        pthread_join(th, NULL);
    if (rc == MZ_OK && pl.rc != MZ_OK) {
        rc = pl.rc;
        mz_error("payroll run %lld: the account of case %lld does not open", (long long)run_id,
                 (long long)pl.bad_case);
    }
    for (size_t k = 0; k < pl.njobs && rc == MZ_OK; k++)
        rc = assist_pack_insert(db, &pl.jobs[k]->blob);
    for (size_t k = 0; k < pl.njobs; k++) {
        assist_pack_blob_free(&pl.jobs[k]->blob);
        free(pl.jobs[k]);
    }
    free(pl.jobs);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.cv);
    if (rc == MZ_OK) {
        out->households = pl.npaid;
        out->npacks = pl.njobs;
        if (t.sums.used > 1)
            qsort(t.sums.sums, t.sums.used, sizeof(*t.sums.sums), cmp_division);
        out->communities = t.sums.sums;
        out->ncommunities = t.sums.used;
        t.sums.sums = NULL;
    }
    free(t.sums.sums);
    free(t.sums.slot);
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
