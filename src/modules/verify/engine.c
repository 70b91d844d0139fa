/* engine.c - the matching engine and the rules of the 核对 platform.
 *
 * A run holds the households to check and their members, each member
 * pointing at one person slot (a person in two households is one slot, so
 * figures are never counted twice for a person). Source rows are streamed
 * from the snapshots in force on the run's date (store.c): a row's key is
 * looked up in an open-addressing hash of the person slots and, when it
 * matches, updates that person's figures. Then every household's figures are
 * the sums over its members and the rules in force for its program, division
 * and date are evaluated, each with the standard it is measured against.
 *
 * The figures (all integer fen, monthly where income):
 *   wage        = max(average monthly taxed income over the 12 months before
 *                 the run's month, highest social-insurance contribution
 *                 base, highest housing-fund base) in that window
 *   pension     = highest pension + highest unemployment benefit in the window
 *   income      = Σ members (wage + pension)
 *   assets      = Σ members (deposits + securities), the snapshot's balances
 *   vehicles    = cars and trucks (not motorcycles or disabled persons' cars)
 *   properties  = residential units; businesses = registrations as legal
 *                 representative, shareholder or sole trader
 * The rules (verify_rules rows; thresholds per program, division, date):
 *   income      flags when income x 100 > standard x members x percent
 *   assets      flags when assets > standard x members x months
 *   vehicles    flags when count > count_limit, or a vehicle's value >
 *               value_limit_fen (when that is > 0)
 *   property    flags when residential units > count_limit
 *   business    flags when registrations > count_limit and the largest
 *               capital >= value_limit_fen
 *   public_employee / staff_relative / deceased: flags when count > count_limit
 * A rule whose severity is "refuse" makes the outcome 不符合 (ineligible),
 * "review" makes it 需核实; a rule that needs a standard when none is in
 * force makes the outcome 需核实 too. Design: docs/verify.md.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/assistance/assistance_internal.h"
#include "modules/verify/verify_internal.h"

const struct mz_dict_item vf_rule_items[VF_NRULES] = {
    {"income", "家庭收入", "Household income"},
    {"assets", "金融资产", "Financial assets"},
    {"vehicles", "机动车辆", "Vehicles"},
    {"property", "房产", "Real estate"},
    {"business", "工商登记", "Business ownership"},
    {"public_employee", "财政供养人员", "Public employee"},
    {"staff_relative", "经办人员近亲属", "Relative of staff"},
    {"deceased", "死亡信息", "Death records"},
};

const struct mz_dict_item vf_outcome_items[4] = {
    {"pass", "符合", "Passed"},
    {"review", "需核实", "Needs review"},
    {"ineligible", "不符合", "Ineligible"},
    {"unauthorised", "缺少授权", "No authorisation"},
};

/* --- run set-up ----------------------------------------------------------------- */

_Static_assert(sizeof(struct vf_person) <= 96, "a bulk run holds millions of persons");

void vf_run_init(struct vf_run *r, struct mz_arena *a, const char *program, const char *as_of)
{
    memset(r, 0, sizeof(*r));
    r->arena = a;
    r->program = program;
    snprintf(r->as_of, sizeof(r->as_of), "%s", as_of);
    int y = atoi(as_of), m = atoi(as_of + 5);
    r->window_to = y * 10000 + m * 100 + 1;
    r->window_from = (y - 1) * 10000 + m * 100 + 1;
    r->as_of_int = vf_date_int(r->as_of);
}

void vf_run_free(struct vf_run *r)
{
    if (r->evidence) {
        for (int i = 0; i < r->npersons; i++)
            json_decref(r->evidence[i]);
    }
    free(r->evidence);
    free(r->persons);
    free(r->buckets);
    free(r->members);
    free(r->households);
    memset(r, 0, sizeof(*r));
}

static uint64_t key_hash(const unsigned char key[16])
{
    uint64_t h;
    memcpy(&h, key, 8); /* the key is a keyed hash already: its bytes are uniform */
    return h;
}

void vf_huge_pages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    /* The 2 MB-aligned inside of a large block: a few hundred page faults
     * instead of a hundred thousand when it is first written. */
    const uintptr_t huge = 2u << 20;
    uintptr_t from = ((uintptr_t)p + huge - 1) & ~(huge - 1), to = ((uintptr_t)p + n) & ~(huge - 1);
    if (n >= 4 * huge && to > from)
        madvise((void *)from, to - from, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static int grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return MZ_OK;
    int n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (q == NULL)
        return MZ_ERR_NOMEM;
    vf_huge_pages(q, (size_t)n * size);
    *p = q;
    *cap = n;
    return MZ_OK;
}

static int rehash(struct vf_run *r, size_t nb)
{
    int *b = malloc(nb * sizeof(int));
    if (b == NULL)
        return MZ_ERR_NOMEM;
    memset(b, 0xff, nb * sizeof(int));
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = nb;
    for (int i = 0; i < r->npersons; i++) {
        size_t j = key_hash(r->persons[i].key) & (nb - 1);
        while (b[j] >= 0)
            j = (j + 1) & (nb - 1);
        b[j] = i;
    }
    return MZ_OK;
}

static int keycmp(const unsigned char *a, const unsigned char *b);

int vf_run_find(const struct vf_run *r, const unsigned char key[16])
{
    if (r->nbuckets == 0 && r->key_order) {
        /* Persons set in key order by vf_run_set_persons: no hash. */
        int lo = 0, hi = r->npersons;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            int c = keycmp(r->persons[mid].key, key);
            if (c == 0)
                return mid;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return -1;
    }
    if (r->nbuckets == 0)
        return -1;
    size_t j = key_hash(key) & (r->nbuckets - 1);
    for (;;) {
        int i = r->buckets[j];
        if (i < 0)
            return -1;
        if (memcmp(r->persons[i].key, key, 16) == 0)
            return i;
        j = (j + 1) & (r->nbuckets - 1);
    }
}

static int person_slot(struct vf_run *r, const unsigned char key[16])
{
    if (r->nbuckets == 0 && r->npersons > 0) {
        size_t nb = 1024;
        while (nb < (size_t)r->npersons * 2 + 2)
            nb *= 2;
        if (rehash(r, nb) != MZ_OK)
            return -1;
    }
    int i = vf_run_find(r, key);
    if (i >= 0)
        return i;
    if ((size_t)(r->npersons + 1) * 2 > r->nbuckets &&
        rehash(r, r->nbuckets ? r->nbuckets * 2 : 1024) != MZ_OK)
        return -1;
    if (grow((void **)&r->persons, &r->cap_persons, r->npersons + 1, sizeof(*r->persons)) !=
        MZ_OK)
        return -1;
    i = r->npersons++;
    r->key_order = false;
    memset(&r->persons[i], 0, sizeof(r->persons[i]));
    memcpy(r->persons[i].key, key, 16);
    size_t j = key_hash(key) & (r->nbuckets - 1);
    while (r->buckets[j] >= 0)
        j = (j + 1) & (r->nbuckets - 1);
    r->buckets[j] = i;
    return i;
}

int vf_run_reserve(struct vf_run *r, int households, int members, int persons)
{
    if (grow((void **)&r->households, &r->cap_households, households, sizeof(*r->households)) !=
            MZ_OK ||
        grow((void **)&r->members, &r->cap_members, members, sizeof(*r->members)) != MZ_OK ||
        grow((void **)&r->persons, &r->cap_persons, persons, sizeof(*r->persons)) != MZ_OK)
        return MZ_ERR_NOMEM;
    if (persons == 0)
        return MZ_OK;
    size_t nb = r->nbuckets ? r->nbuckets : 1024;
    while (nb < (size_t)persons * 2 + 2)
        nb *= 2;
    return nb > r->nbuckets ? rehash(r, nb) : MZ_OK;
}

void vf_copy_text(char *out, size_t size, const char *text)
{
    size_t n = text ? strnlen(text, size - 1) : 0;
    memcpy(out, text ? text : "", n);
    out[n] = '\0';
}

int vf_run_prefault(struct vf_run *r, int households, int members, int persons)
{
    if (vf_run_reserve(r, households, members, 0) != MZ_OK ||
        grow((void **)&r->persons, &r->cap_persons, persons, sizeof(*r->persons)) != MZ_OK)
        return MZ_ERR_NOMEM;
    memset(r->households, 0, (size_t)households * sizeof(*r->households));
    memset(r->members, 0, (size_t)members * sizeof(*r->members));
    memset(r->persons, 0, (size_t)persons * sizeof(*r->persons));
    return MZ_OK;
}

int vf_run_set_persons(struct vf_run *r, const struct vf_key_slot *sorted, size_t n)
{
    if (r->npersons != 0 || n > INT32_MAX)
        return MZ_ERR_INVALID;
    if (grow((void **)&r->persons, &r->cap_persons, (int)n, sizeof(*r->persons)) != MZ_OK)
        return MZ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        struct vf_person *p = &r->persons[i];
        memset(p, 0, sizeof(*p));
        uint64_t hi = __builtin_bswap64(sorted[i].hi), lo = __builtin_bswap64(sorted[i].lo);
        memcpy(p->key, &hi, 8);
        memcpy(p->key + 8, &lo, 8);
    }
    r->npersons = (int)n;
    r->key_order = true;
    return MZ_OK;
}

int vf_run_member_slot(struct vf_run *r, int slot, int64_t person_id, int32_t birth)
{
    if (r->nhouseholds == 0 || slot < 0 || slot >= r->npersons ||
        grow((void **)&r->members, &r->cap_members, r->nmembers + 1, sizeof(*r->members)) !=
            MZ_OK)
        return MZ_ERR_NOMEM;
    struct vf_member *m = &r->members[r->nmembers++];
    memset(m, 0, sizeof(*m));
    m->person = slot;
    m->person_id = person_id;
    m->adult = birth > 0 && birth + 180000 <= r->as_of_int;
    r->households[r->nhouseholds - 1].n++;
    return MZ_OK;
}

int vf_run_household(struct vf_run *r, int64_t household_id, int64_t case_id,
                     const char *division12, const char *zone)
{
    if (grow((void **)&r->households, &r->cap_households, r->nhouseholds + 1,
             sizeof(*r->households)) != MZ_OK)
        return -1;
    struct vf_household *h = &r->households[r->nhouseholds];
    memset(h, 0, sizeof(*h));
    h->household_id = household_id;
    h->case_id = case_id;
    vf_copy_text(h->division, sizeof(h->division), division12);
    vf_copy_text(h->zone, sizeof(h->zone), zone);
    h->first = r->nmembers;
    return r->nhouseholds++;
}

int vf_run_member(struct vf_run *r, const unsigned char key[16], int64_t person_id,
                  const char *name, const char *id_masked, int32_t birth)
{
    if (r->nhouseholds == 0 ||
        grow((void **)&r->members, &r->cap_members, r->nmembers + 1, sizeof(*r->members)) !=
            MZ_OK)
        return MZ_ERR_NOMEM;
    int p = person_slot(r, key);
    if (p < 0)
        return MZ_ERR_NOMEM;
    struct vf_member *m = &r->members[r->nmembers++];
    memset(m, 0, sizeof(*m));
    m->person = p;
    m->person_id = person_id;
    m->name = name;
    snprintf(m->id_masked, sizeof(m->id_masked), "%s", id_masked ? id_masked : "");
    m->adult = birth > 0 && birth + 180000 <= r->as_of_int;
    r->households[r->nhouseholds - 1].n++;
    return MZ_OK;
}

int vf_run_batches(struct vf_run *r, struct mz_db *db)
{
    for (int s = 0; s < VF_NSOURCES; s++) {
        int rc = vf_current_batch(db, (enum vf_source_id)s, r->as_of, &r->batches[s].id,
                                  r->batches[s].as_of);
        if (rc != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

/* --- applying rows ------------------------------------------------------------------ */

static void max64(int64_t *a, int64_t b)
{
    if (b > *a)
        *a = b;
}

/* One source row for person p. */
static void apply(struct vf_run *r, struct vf_person *p, enum vf_source_id src,
                  const struct vf_row *row)
{
    bool in_window = row->date >= r->window_from && row->date < r->window_to;
    int32_t as_of = r->as_of_int;
    switch (src) {
    case VF_SRC_HUKOU:
        if (row->kind == 2 && (row->date == 0 || row->date <= as_of) &&
            (p->dead_date == 0 || (row->date && row->date < p->dead_date)))
            p->dead_date = row->date ? row->date : as_of;
        break;
    case VF_SRC_CREMATION:
        if (row->date <= as_of && (p->dead_date == 0 || row->date < p->dead_date))
            p->dead_date = row->date;
        break;
    case VF_SRC_VEHICLE:
        if (row->kind == 1 || row->kind == 2) {
            p->vehicles++;
            max64(&p->vehicle_value_max, row->a);
        }
        break;
    case VF_SRC_REALESTATE:
        if (row->kind == 1)
            p->residential++;
        break;
    case VF_SRC_DEPOSIT:
    case VF_SRC_SECURITIES:
        p->assets += row->a;
        break;
    case VF_SRC_BUSINESS:
        p->businesses++;
        max64(&p->business_capital_max, row->a);
        break;
    case VF_SRC_TAX:
        if (in_window) {
            p->tax_sum += row->a;
            p->tax_months++;
        }
        break;
    case VF_SRC_SOCIAL_INSURANCE:
        if (!in_window)
            break;
        if (row->kind == 1)
            max64(&p->base, row->a);
        else if (row->kind == 2)
            max64(&p->pension, row->a);
        else if (row->kind == 3)
            max64(&p->unemployment, row->a);
        break;
    case VF_SRC_HOUSING_FUND:
        if (in_window)
            max64(&p->base, row->a);
        break;
    case VF_SRC_PUBLIC_EMPLOYEE:
        p->public_employee = true;
        break;
    case VF_SRC_STAFF_RELATIVES:
        p->staff_relative = true;
        break;
    case VF_NSOURCES:
        break;
    }
}

static void on_row(void *ctx, enum vf_source_id src, int64_t batch_id, const struct vf_chunk *c,
                   const struct vf_row *row)
{
    struct vf_run *r = ctx;
    int p = vf_run_find(r, row->key);
    if (p < 0)
        return;
    apply(r, &r->persons[p], src, row);
    if (r->collect) {
        if (r->evidence[p] == NULL)
            r->evidence[p] = json_array();
        if (json_array_size(r->evidence[p]) < 200)
            json_array_append_new(r->evidence[p], vf_row_json(r->arena, &vf_sources[src],
                                                              batch_id, c->strings, row));
    }
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* --- the bulk scan: a merge join on two threads ---------------------------------------
 *
 * A bulk run reads every chunk of every snapshot in force. The persons are
 * put in key order first (the slots renumbered, members and hash follow),
 * so a chunk, itself key-sorted, is matched by walking both in step: no
 * hashing, and the person figures are updated in memory order. The persons
 * are split in two halves by key, one per worker thread; the calling
 * thread reads the chunks (its connection, its transaction) and hands each
 * to the worker(s) whose half its key range touches, where it is opened
 * (rows only) and merged. A worker only ever updates the persons of its
 * half, so the figures never race, and the result is the same as one
 * thread's: per person the rows of a source arrive in key order, and
 * every figure is a sum, count, max or min, which do not depend on the
 * order of sources.
 */

#define SCAN_WORKERS 2
#define SCAN_QUEUE 8

struct scan_job {
    unsigned char *data;
    size_t len;
    enum vf_source_id src;
    int64_t batch_id;
    int seq;
    atomic_int refs;
};

struct scan_worker {
    pthread_t thread;
    struct vf_run *run;
    int lo, hi;                /* persons [lo, hi) by key order */
    int64_t lo_prefix, hi_prefix; /* their first keys' prefixes (hi: of person hi) */
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    struct scan_job *queue[SCAN_QUEUE];
    int head, count;
    bool closed;
    int rc;
    struct vf_chunk chunk;
};

static int keycmp(const unsigned char *a, const unsigned char *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y)
        return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    memcpy(&x, a + 8, 8);
    memcpy(&y, b + 8, 8);
    if (x != y)
        return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    return 0;
}

static void job_release(struct scan_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        free(j->data);
        free(j);
    }
}

/* Merge the rows of an opened chunk into the worker's persons. */
static void merge_chunk(struct scan_worker *w, const struct vf_chunk *c, enum vf_source_id src)
{
    struct vf_run *r = w->run;
    struct vf_person *p = r->persons;
    if (c->nrows == 0 || w->lo >= w->hi)
        return;
    /* The first person at or after the chunk's first key. */
    int lo = w->lo, hi = w->hi;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (keycmp(p[mid].key, c->rows[0].key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int i = lo;
    for (uint32_t k = 0; k < c->nrows && i < w->hi; k++) {
        const struct vf_row *row = &c->rows[k];
        int d;
        while ((d = keycmp(p[i].key, row->key)) < 0) {
            if (++i == w->hi)
                return;
        }
        if (d == 0)
            apply(r, &p[i], src, row);
    }
}

static void *scan_worker_main(void *arg)
{
    struct scan_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->count == 0 && !w->closed)
            pthread_cond_wait(&w->nonempty, &w->mu);
        if (w->count == 0) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        struct scan_job *j = w->queue[w->head];
        w->head = (w->head + 1) % SCAN_QUEUE;
        w->count--;
        pthread_cond_signal(&w->nonfull);
        pthread_mutex_unlock(&w->mu);
        if (w->rc == MZ_OK) {
            int rc = vf_chunk_open_rows(&w->chunk, j->batch_id, j->seq, j->data, j->len);
            if (rc == MZ_OK)
                merge_chunk(w, &w->chunk, j->src);
            else
                w->rc = rc;
        }
        job_release(j);
    }
    vf_chunk_free(&w->chunk);
    return NULL;
}

static void worker_push(struct scan_worker *w, struct scan_job *j)
{
    pthread_mutex_lock(&w->mu);
    while (w->count == SCAN_QUEUE)
        pthread_cond_wait(&w->nonfull, &w->mu);
    w->queue[(w->head + w->count) % SCAN_QUEUE] = j;
    w->count++;
    pthread_cond_signal(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
}

struct scan_reader {
    struct scan_worker *workers;
    int nworkers;
    enum vf_source_id src;
    int64_t batch_id;
};

/* A chunk read: to every worker whose key range its range touches. */
static int on_chunk(void *ctx, int seq, int64_t min_key, int64_t max_key, const void *sealed,
                    size_t len)
{
    struct scan_reader *rd = ctx;
    struct scan_worker *to[SCAN_WORKERS];
    int n = 0;
    for (int t = 0; t < rd->nworkers; t++) {
        struct scan_worker *w = &rd->workers[t];
        if (w->lo < w->hi && max_key >= w->lo_prefix && (w->hi == w->run->npersons ||
                                                         min_key <= w->hi_prefix))
            to[n++] = w;
    }
    if (n == 0)
        return MZ_OK;
    struct scan_job *j = malloc(sizeof(*j));
    unsigned char *data = malloc(len ? len : 1);
    if (j == NULL || data == NULL) {
        free(j);
        free(data);
        return MZ_ERR_NOMEM;
    }
    memcpy(data, sealed, len);
    j->data = data;
    j->len = len;
    j->src = rd->src;
    j->batch_id = rd->batch_id;
    j->seq = seq;
    atomic_init(&j->refs, n);
    for (int t = 0; t < n; t++)
        worker_push(to[t], j);
    return MZ_OK;
}

/* Radix sort of (key, slot) by key. */
static int cmp_key_slot(const void *a, const void *b)
{
    const struct vf_key_slot *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void vf_key_slot_set(struct vf_key_slot *ks, const unsigned char key[16], int slot)
{
    uint64_t hi, lo;
    memcpy(&hi, key, 8);
    memcpy(&lo, key + 8, 8);
    ks->hi = __builtin_bswap64(hi);
    ks->lo = __builtin_bswap64(lo);
    ks->slot = slot;
}

int vf_key_sort(struct vf_key_slot *v, size_t n)
{
    struct vf_key_slot *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    size_t *count = malloc(2048 * sizeof(size_t));
    if (tmp == NULL || count == NULL) {
        free(tmp);
        free(count);
        return MZ_ERR_NOMEM;
    }
    vf_huge_pages(tmp, (n ? n : 1) * sizeof(*tmp));
    /* Keys are keyed hashes, uniform: three passes of 11 bits on the top
     * 33 bits (buckets that stay in cache), then the few runs with equal
     * tops sorted by the whole key. */
    struct vf_key_slot *src = v, *dst = tmp;
    for (int shift = 31; shift < 64; shift += 11) {
        memset(count, 0, 2048 * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            count[(src[i].hi >> shift) & 0x7ff]++;
        size_t sum = 0;
        for (size_t b = 0; b < 2048; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].hi >> shift) & 0x7ff]++] = src[i];
        struct vf_key_slot *t = src;
        src = dst;
        dst = t;
    }
    /* Three passes: the result is in tmp. */
    if (n > 0)
        memcpy(v, src, n * sizeof(*v));
    /* Equal tops: by the whole key. */
    for (size_t i = 0; i + 1 < n;) {
        size_t j = i + 1;
        while (j < n && (v[j].hi >> 31) == (v[i].hi >> 31))
            j++;
        if (j - i > 1)
            qsort(v + i, j - i, sizeof(*v), cmp_key_slot);
        i = j;
    }
    free(tmp);
    free(count);
    return MZ_OK;
}

/* Renumber the person slots in key order (members and the hash follow). */
static int order_persons(struct vf_run *r)
{
    size_t n = (size_t)r->npersons;
    if (r->key_order)
        return MZ_OK;
    struct vf_key_slot *ks = malloc((n ? n : 1) * sizeof(*ks));
    int *rank = malloc((n ? n : 1) * sizeof(int));
    struct vf_person *np = malloc((n ? n : 1) * sizeof(*np));
    int rc = ks && rank && np ? MZ_OK : MZ_ERR_NOMEM;
    if (rc == MZ_OK) {
        for (size_t i = 0; i < n; i++)
            vf_key_slot_set(&ks[i], r->persons[i].key, (int)i);
        rc = vf_key_sort(ks, n);
    }
    if (rc == MZ_OK) {
        for (size_t i = 0; i < n; i++) {
            np[i] = r->persons[ks[i].slot];
            rank[ks[i].slot] = (int)i;
        }
        for (int m = 0; m < r->nmembers; m++)
            r->members[m].person = rank[r->members[m].person];
        for (size_t b = 0; b < r->nbuckets; b++) {
            if (r->buckets[b] >= 0)
                r->buckets[b] = rank[r->buckets[b]];
        }
        if (r->evidence) {
            json_t **ev = calloc(n ? n : 1, sizeof(*ev));
            if (ev == NULL) {
                rc = MZ_ERR_NOMEM;
            } else {
                for (size_t i = 0; i < n; i++)
                    ev[i] = r->evidence[ks[i].slot];
                free(r->evidence);
                r->evidence = ev;
            }
        }
    }
    if (rc == MZ_OK) {
        free(r->persons);
        r->persons = np;
        r->cap_persons = (int)n;
        r->key_order = true;
        np = NULL;
    }
    free(ks);
    free(rank);
    free(np);
    return rc;
}

/* Direct mode: each worker reads the chunks of its key range on its own
 * connection, opens and merges them. */
struct direct_worker {
    struct scan_worker w;
    struct mz_db *db;
    enum vf_source_id src;
    int64_t batch_id;
    int rc;
    pthread_t thread;
};

static int on_direct_chunk(void *ctx, int seq, int64_t min_key, int64_t max_key,
                           const void *sealed, size_t len)
{
    struct direct_worker *d = ctx;
    (void)min_key;
    (void)max_key;
    int rc = vf_chunk_open_rows(&d->w.chunk, d->batch_id, seq, sealed, len);
    if (rc == MZ_OK)
        merge_chunk(&d->w, &d->w.chunk, d->src);
    return rc;
}

static int direct_run(struct direct_worker *d)
{
    struct vf_run *r = d->w.run;
    int rc = MZ_OK;
    for (int s = 0; s < VF_NSOURCES && rc == MZ_OK; s++) {
        if (r->batches[s].id == 0)
            continue;
        d->src = (enum vf_source_id)s;
        d->batch_id = r->batches[s].id;
        rc = vf_store_chunks(d->db, d->batch_id, d->w.lo_prefix, d->w.hi_prefix,
                             on_direct_chunk, d);
    }
    vf_chunk_free(&d->w.chunk);
    return rc;
}

static void *direct_main(void *arg)
{
    struct direct_worker *d = arg;
    d->rc = direct_run(d);
    return NULL;
}

static int direct_scan(struct vf_run *r, struct mz_db *db)
{
    struct direct_worker dw[2];
    memset(dw, 0, sizeof(dw));
    for (int t = 0; t < 2; t++) {
        struct scan_worker *w = &dw[t].w;
        w->run = r;
        w->lo = (int)((int64_t)r->npersons * t / 2);
        w->hi = (int)((int64_t)r->npersons * (t + 1) / 2);
        w->lo_prefix = t == 0 ? INT64_MIN : vf_key_prefix(r->persons[w->lo].key);
        w->hi_prefix = w->hi < r->npersons ? vf_key_prefix(r->persons[w->hi].key) : INT64_MAX;
        dw[t].db = t == 0 ? db : r->reader;
    }
    if (pthread_create(&dw[1].thread, NULL, direct_main, &dw[1]) != 0) {
        /* No thread: both halves here, one after the other. */
        int rc = direct_run(&dw[0]);
        dw[1].db = db;
        return rc != MZ_OK ? rc : direct_run(&dw[1]);
    }
    int rc = direct_run(&dw[0]);
    pthread_join(dw[1].thread, NULL);
    return rc != MZ_OK ? rc : dw[1].rc;
}

static int bulk_scan(struct vf_run *r, struct mz_db *db)
{
    int rc = order_persons(r);
    if (rc != MZ_OK || r->npersons == 0)
        return rc;
    if (r->reader && r->npersons >= 4)
        return direct_scan(r, db);
    struct scan_worker workers[SCAN_WORKERS];
    int nworkers = r->npersons >= 2 * SCAN_WORKERS ? SCAN_WORKERS : 1;
    memset(workers, 0, sizeof(workers));
    int started = 0;
    for (int t = 0; t < nworkers; t++) {
        struct scan_worker *w = &workers[t];
        w->run = r;
        w->lo = (int)((int64_t)r->npersons * t / nworkers);
        w->hi = (int)((int64_t)r->npersons * (t + 1) / nworkers);
        w->lo_prefix = t == 0 ? INT64_MIN : vf_key_prefix(r->persons[w->lo].key);
        w->hi_prefix = w->hi < r->npersons ? vf_key_prefix(r->persons[w->hi].key) : INT64_MAX;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->nonempty, NULL);
        pthread_cond_init(&w->nonfull, NULL);
    }
    for (; started < nworkers; started++) {
        if (pthread_create(&workers[started].thread, NULL, scan_worker_main,
                           &workers[started]) != 0) {
            rc = MZ_ERR_NOMEM;
            break;
        }
    }
    struct scan_reader rd = {.workers = workers, .nworkers = started};
    for (int s = 0; s < VF_NSOURCES && rc == MZ_OK; s++) {
        if (r->batches[s].id == 0)
            continue;
        rd.src = (enum vf_source_id)s;
        rd.batch_id = r->batches[s].id;
        rc = vf_store_chunks(db, r->batches[s].id, INT64_MIN, INT64_MAX, on_chunk, &rd);
    }
    for (int t = 0; t < started; t++) {
        pthread_mutex_lock(&workers[t].mu);
        workers[t].closed = true;
        pthread_cond_signal(&workers[t].nonempty);
        pthread_mutex_unlock(&workers[t].mu);
    }
    for (int t = 0; t < started; t++) {
        pthread_join(workers[t].thread, NULL);
        if (rc == MZ_OK)
            rc = workers[t].rc;
    }
    for (int t = 0; t < nworkers; t++) {
        pthread_mutex_destroy(&workers[t].mu);
        pthread_cond_destroy(&workers[t].nonempty);
        pthread_cond_destroy(&workers[t].nonfull);
    }
    return rc;
}

int vf_run_scan(struct vf_run *r, struct mz_db *db, bool bulk)
{
    int rc = MZ_OK;
    r->collect = !bulk;
    if (bulk)
        return bulk_scan(r, db);
    r->evidence = calloc((size_t)(r->npersons ? r->npersons : 1), sizeof(json_t *));
    if (r->evidence == NULL)
        return MZ_ERR_NOMEM;
    unsigned char(*keys)[16] = malloc((size_t)(r->npersons ? r->npersons : 1) * 16);
    if (keys == NULL)
        return MZ_ERR_NOMEM;
    for (int i = 0; i < r->npersons; i++)
        memcpy(keys[i], r->persons[i].key, 16);
    qsort(keys, (size_t)r->npersons, 16, cmp_key);
    for (int s = 0; s < VF_NSOURCES && rc == MZ_OK; s++) {
        if (r->batches[s].id == 0)
            continue;
        rc = vf_store_lookup(db, r->batches[s].id, (enum vf_source_id)s,
                             (const unsigned char(*)[16])keys, (size_t)r->npersons, on_row, r);
    }
    free(keys);
    return rc;
}

/* --- rules ------------------------------------------------------------------------------ */

int vf_rule_lookup(struct mz_db *db, const char *program, enum vf_rule_id rule,
                   const char *division12, const char *as_of, struct vf_rule *out)
{
    char anc[5][13];
    struct mz_stmt *st;
    memset(out, 0, sizeof(*out));
    assist_ancestors(division12, anc);
    int rc = mz_db_prepare(db,
                           "SELECT id, division, valid_from, enabled, severity, percent, months,"
                           " count_limit, value_limit_fen, standard_program FROM verify_rules"
                           " WHERE program = ? AND rule = ? AND division IN (?, ?, ?, ?, ?)"
                           " AND valid_from <= ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, program);
    mz_db_bind_text(st, 2, vf_rule_items[rule].code);
    for (int i = 0; i < 5; i++)
        mz_db_bind_text(st, 3 + i, anc[i]);
    mz_db_bind_text(st, 8, as_of);
    int best_rank = 99;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *div = mz_db_col_text(st, 1), *from = mz_db_col_text(st, 2);
        int rank = 5;
        for (int i = 0; i < 5 && div; i++) {
            if (strcmp(anc[i], div) == 0) {
                rank = i;
                break;
            }
        }
        if (from == NULL ||
            (out->found && (rank > best_rank ||
                            (rank == best_rank && strcmp(from, out->valid_from) <= 0))))
            continue;
        best_rank = rank;
        out->found = true;
        out->id = mz_db_col_int(st, 0);
        snprintf(out->division, sizeof(out->division), "%s", div ? div : "");
        snprintf(out->valid_from, sizeof(out->valid_from), "%s", from);
        out->enabled = mz_db_col_int(st, 3) != 0;
        const char *sev = mz_db_col_text(st, 4);
        out->refuse = sev && strcmp(sev, "refuse") == 0;
        out->percent = mz_db_col_int(st, 5);
        out->months = mz_db_col_int(st, 6);
        out->count_limit = mz_db_col_int(st, 7);
        out->value_limit_fen = mz_db_col_int(st, 8);
        const char *sp = mz_db_col_text(st, 9);
        snprintf(out->standard_program, sizeof(out->standard_program), "%s",
                 sp && *sp ? sp : program);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

static bool needs_standard(enum vf_rule_id id)
{
    return id == VF_R_INCOME || id == VF_R_ASSETS;
}

/* The rules for a household depend on its division only through which of
 * its ancestors (itself, street, district, city level, province) have rows
 * in verify_rules or assistance_standards: the deepest such ancestor stands
 * for the division (its own ancestors are the same rows), so a run looks
 * the rules up once per (that ancestor, zone), not once per community. */
struct rule_set {
    char division[13], zone[8];
    struct vf_rule rules[VF_NRULES];
    bool used;
};

struct rule_table {
    struct rule_set *sets;
    size_t size, used;       /* open addressing, size a power of two */
};

struct rule_cache {
    struct rule_table by_division; /* the households' own (division, zone) */
    struct rule_table by_ancestor; /* (deepest ancestor with rows, zone): the look-ups */
    char (*divs)[13];        /* divisions that have rule or standard rows, sorted */
    size_t ndivs;
};

static unsigned set_hash(const char *division, const char *zone)
{
    unsigned h = 2166136261u;
    for (const char *p = division; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = zone; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static int cmp_div(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int table_init(struct rule_table *t)
{
    t->size = 64;
    t->used = 0;
    t->sets = calloc(t->size, sizeof(*t->sets));
    return t->sets ? MZ_OK : MZ_ERR_NOMEM;
}

static int cache_init(struct rule_cache *c, struct mz_db *db)
{
    memset(c, 0, sizeof(*c));
    struct mz_stmt *st;
    size_t cap = 0;
    int rc = mz_db_prepare(db,
                           "SELECT DISTINCT division FROM verify_rules WHERE deleted_at IS NULL"
                           " UNION SELECT DISTINCT division FROM assistance_standards"
                           " WHERE deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *d = mz_db_col_text(st, 0);
        if (d == NULL)
            continue;
        if (c->ndivs == cap) {
            cap = cap ? cap * 2 : 64;
            char(*p)[13] = realloc(c->divs, cap * 13);
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            c->divs = p;
        }
        snprintf(c->divs[c->ndivs++], 13, "%s", d);
    }
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    if (c->ndivs > 1)
        qsort(c->divs, c->ndivs, 13, cmp_div);
    rc = table_init(&c->by_division);
    return rc == MZ_OK ? table_init(&c->by_ancestor) : rc;
}

static void cache_free(struct rule_cache *c)
{
    free(c->by_division.sets);
    free(c->by_ancestor.sets);
    free(c->divs);
    memset(c, 0, sizeof(*c));
}

static struct rule_set *cache_slot(struct rule_set *sets, size_t size, const char *division,
                                   const char *zone)
{
    size_t j = set_hash(division, zone) & (size - 1);
    while (sets[j].used &&
           (strcmp(sets[j].division, division) != 0 || strcmp(sets[j].zone, zone) != 0))
        j = (j + 1) & (size - 1);
    return &sets[j];
}

/* The entry of (division, zone) in t, new (used, keys set, rules to fill)
 * when *fresh. NULL when out of memory. */
static struct rule_set *table_get(struct rule_table *t, const char *division, const char *zone,
                                  bool *fresh)
{
    struct rule_set *s = cache_slot(t->sets, t->size, division, zone);
    *fresh = !s->used;
    if (s->used)
        return s;
    if ((t->used + 1) * 2 > t->size) {
        size_t size = t->size * 2;
        struct rule_set *sets = calloc(size, sizeof(*sets));
        if (sets == NULL)
            return NULL;
        for (size_t i = 0; i < t->size; i++) {
            if (t->sets[i].used)
                *cache_slot(sets, size, t->sets[i].division, t->sets[i].zone) = t->sets[i];
        }
        free(t->sets);
        t->sets = sets;
        t->size = size;
        s = cache_slot(t->sets, t->size, division, zone);
    }
    t->used++;
    s->used = true;
    size_t dl = strnlen(division, 12), zl = strnlen(zone, 7);
    memcpy(s->division, division, dl);
    s->division[dl] = '\0';
    memcpy(s->zone, zone, zl);
    s->zone[zl] = '\0';
    return s;
}

static int rules_for(struct vf_run *r, struct mz_db *db, struct rule_cache *c,
                     const struct vf_household *h, const struct vf_rule **out)
{
    bool fresh;
    struct rule_set *own = table_get(&c->by_division, h->division, h->zone, &fresh);
    if (own == NULL)
        return MZ_ERR_NOMEM;
    if (!fresh) {
        *out = own->rules;
        return MZ_OK;
    }
    /* The deepest ancestor with rows stands for the division. */
    const char *division = h->division;
    char anc[5][13];
    if (strlen(h->division) == 12) {
        assist_ancestors(h->division, anc);
        for (int i = 0; i < 5; i++) {
            if (c->ndivs > 0 && bsearch(anc[i], c->divs, c->ndivs, 13, cmp_div)) {
                division = anc[i];
                break;
            }
        }
    }
    struct rule_set *s = table_get(&c->by_ancestor, division, h->zone, &fresh);
    if (s == NULL)
        return MZ_ERR_NOMEM;
    /* (by_division may not move while we hold own: it is another table.) */
    if (fresh) {
        char month[8];
        snprintf(month, sizeof(month), "%.7s", r->as_of);
        for (int k = 0; k < VF_NRULES; k++) {
            struct vf_rule *rule = &s->rules[k];
            int rc = vf_rule_lookup(db, r->program, (enum vf_rule_id)k, division, r->as_of, rule);
            if (rc != MZ_OK)
                return rc;
            if (rule->found && needs_standard((enum vf_rule_id)k)) {
                struct assist_standard std;
                rule->standard_rc = assist_standard_lookup(db, rule->standard_program, division,
                                                           h->zone[0] ? h->zone : NULL, month,
                                                           &std);
                if (rule->standard_rc == MZ_OK) {
                    rule->standard_fen = std.amount_fen;
                    rule->standard_id = std.id;
                }
            }
        }
    }
    memcpy(own->rules, s->rules, sizeof(own->rules));
    *out = own->rules;
    return MZ_OK;
}

/* Does rule k flag figures f of a household of n members? */
static bool rule_flags(enum vf_rule_id k, const struct vf_rule *rule, const struct vf_figures *f,
                       int n)
{
    switch (k) {
    case VF_R_INCOME:
        return f->income_fen * 100 > rule->standard_fen * n * rule->percent;
    case VF_R_ASSETS:
        return f->financial_assets_fen > rule->standard_fen * n * rule->months;
    case VF_R_VEHICLES:
        return f->vehicles > rule->count_limit ||
               (rule->value_limit_fen > 0 && f->vehicle_value_max_fen > rule->value_limit_fen);
    case VF_R_PROPERTY:
        return f->properties > rule->count_limit;
    case VF_R_BUSINESS:
        return f->businesses > rule->count_limit &&
               f->business_capital_max_fen >= rule->value_limit_fen;
    case VF_R_PUBLIC_EMPLOYEE:
        return f->public_employees > rule->count_limit;
    case VF_R_STAFF_RELATIVE:
        return f->staff_relatives > rule->count_limit;
    case VF_R_DECEASED:
        return f->deceased > rule->count_limit;
    case VF_NRULES:
        break;
    }
    return false;
}

static int64_t person_income(const struct vf_person *p)
{
    int64_t wage = p->tax_months > 0 ? p->tax_sum / p->tax_months : 0;
    if (p->base > wage)
        wage = p->base;
    return wage + p->pension + p->unemployment;
}

static void roll_up(const struct vf_run *r, struct vf_household *h)
{
    struct vf_figures *f = &h->fig;
    memset(f, 0, sizeof(*f));
    for (int i = h->first; i < h->first + h->n; i++) {
        const struct vf_person *p = &r->persons[r->members[i].person];
        f->income_fen += person_income(p);
        f->financial_assets_fen += p->assets;
        f->vehicles += p->vehicles;
        max64(&f->vehicle_value_max_fen, p->vehicle_value_max);
        f->properties += p->residential;
        f->businesses += p->businesses;
        max64(&f->business_capital_max_fen, p->business_capital_max);
        f->public_employees += p->public_employee;
        f->staff_relatives += p->staff_relative;
        f->deceased += p->dead_date > 0;
    }
}

/* Evaluate one household with its rules. */
static void evaluate(struct vf_household *h, const struct vf_rule *rules)
{
    bool refuse = false, review = false;
    h->flags = 0;
    for (int k = 0; k < VF_NRULES; k++) {
        const struct vf_rule *rule = &rules[k];
        if (!rule->found || !rule->enabled)
            continue;
        if (needs_standard((enum vf_rule_id)k) && rule->standard_rc != MZ_OK) {
            review = true;
            continue;
        }
        if (rule_flags((enum vf_rule_id)k, rule, &h->fig, h->n)) {
            h->flags |= 1u << k;
            if (rule->refuse)
                refuse = true;
            else
                review = true;
        }
    }
    h->outcome = refuse ? VF_INELIGIBLE : review ? VF_REVIEW : VF_PASS;
}

struct roll_task {
    const struct vf_run *r;
    int from, to;
};

static void *roll_main(void *arg)
{
    struct roll_task *t = arg;
    for (int i = t->from; i < t->to; i++)
        roll_up(t->r, &t->r->households[i]);
    return NULL;
}

int vf_run_evaluate(struct vf_run *r, struct mz_db *db)
{
    struct rule_cache cache;
    int rc = cache_init(&cache, db);
    /* The figures (memory only) on two threads for large runs, then the
     * rules (which look up the database) here. */
    struct roll_task second = {r, r->nhouseholds / 2, r->nhouseholds};
    pthread_t thread;
    bool threaded = r->nhouseholds >= 20000 &&
                    pthread_create(&thread, NULL, roll_main, &second) == 0;
    struct roll_task first = {r, 0, threaded ? r->nhouseholds / 2 : r->nhouseholds};
    roll_main(&first);
    if (threaded)
        pthread_join(thread, NULL);
    for (int i = 0; i < r->nhouseholds && rc == MZ_OK; i++) {
        struct vf_household *h = &r->households[i];
        const struct vf_rule *rules;
        rc = rules_for(r, db, &cache, h, &rules);
        if (rc != MZ_OK)
            break;
        evaluate(h, rules);
        for (int m = h->first; m < h->first + h->n; m++) {
            if (r->members[m].adult && !r->members[m].authorised)
                h->outcome = VF_UNAUTHORISED;
        }
    }
    cache_free(&cache);
    return rc;
}

const char *vf_flags_text(struct mz_arena *a, uint32_t flags)
{
    char buf[256] = "";
    size_t len = 0;
    for (int k = 0; k < VF_NRULES; k++) {
        if (flags & (1u << k))
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "," : "",
                                    vf_rule_items[k].code);
    }
    return mz_arena_strdup(a, buf);
}

json_t *vf_figures_json(const struct vf_figures *f)
{
    return json_pack("{s:I, s:I, s:i, s:I, s:i, s:i, s:I, s:i, s:i, s:i}", "income_fen",
                     (json_int_t)f->income_fen, "financial_assets_fen",
                     (json_int_t)f->financial_assets_fen, "vehicles", f->vehicles,
                     "vehicle_value_max_fen", (json_int_t)f->vehicle_value_max_fen, "properties",
                     f->properties, "businesses", f->businesses, "business_capital_max_fen",
                     (json_int_t)f->business_capital_max_fen, "public_employees",
                     f->public_employees, "staff_relatives", f->staff_relatives, "deceased",
                     f->deceased);
}

/* --- the report ------------------------------------------------------------------------ */

/* 元 text of fen: "1234.50". */
static const char *yuan(struct mz_arena *a, int64_t fen)
{
    return mz_arena_printf(a, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)llabs(fen / 100),
                           (long long)llabs(fen % 100));
}

/* Which sources are a rule's evidence. */
static bool rule_source(enum vf_rule_id k, const char *src)
{
    static const char *const by_rule[VF_NRULES] = {
        ",tax,social_insurance,housing_fund,", ",deposit,securities,", ",vehicle,",
        ",realestate,", ",business,", ",public_employee,", ",staff_relatives,",
        ",hukou,cremation,",
    };
    char probe[40];
    snprintf(probe, sizeof(probe), ",%s,", src ? src : "");
    return strstr(by_rule[k], probe) != NULL;
}

/* The Chinese sentence of a rule's result. */
static const char *sentence(struct mz_arena *a, enum vf_rule_id k, const struct vf_rule *rule,
                            const struct vf_figures *f, int n, bool flagged)
{
    switch (k) {
    case VF_R_INCOME: {
        int64_t limit = rule->standard_fen * n * rule->percent / 100;
        return mz_arena_printf(a, "核实的家庭月收入 %s 元（%d 人），%s%s 元（标准 %s 元 × %d 人 × %lld%%）",
                               yuan(a, f->income_fen), n, flagged ? "超过" : "未超过",
                               yuan(a, limit), yuan(a, rule->standard_fen), n,
                               (long long)rule->percent);
    }
    case VF_R_ASSETS:
        return mz_arena_printf(a, "家庭金融资产 %s 元，%s限额 %s 元（标准 %s 元 × %d 人 × %lld 个月）",
                               yuan(a, f->financial_assets_fen), flagged ? "超过" : "未超过",
                               yuan(a, rule->standard_fen * n * rule->months),
                               yuan(a, rule->standard_fen), n, (long long)rule->months);
    case VF_R_VEHICLES:
        return mz_arena_printf(a, "家庭成员名下汽车 %d 辆（限 %lld 辆），最高评估价值 %s 元%s",
                               f->vehicles, (long long)rule->count_limit,
                               yuan(a, f->vehicle_value_max_fen),
                               rule->value_limit_fen > 0
                                   ? mz_arena_printf(a, "（限 %s 元）", yuan(a, rule->value_limit_fen))
                                   : "");
    case VF_R_PROPERTY:
        return mz_arena_printf(a, "家庭成员名下住宅 %d 套（限 %lld 套）", f->properties,
                               (long long)rule->count_limit);
    case VF_R_BUSINESS:
        return mz_arena_printf(a, "家庭成员有工商登记 %d 条，最高认缴出资 %s 元", f->businesses,
                               yuan(a, f->business_capital_max_fen));
    case VF_R_PUBLIC_EMPLOYEE:
        return mz_arena_printf(a, "家庭成员中财政供养人员 %d 人", f->public_employees);
    case VF_R_STAFF_RELATIVE:
        return mz_arena_printf(a, "家庭成员中经办人员及近亲属备案 %d 人，须按规定备案并严格审核",
                               f->staff_relatives);
    case VF_R_DECEASED:
        return mz_arena_printf(a, "家庭成员中有死亡（火化）记录 %d 人，须核减保障人数", f->deceased);
    case VF_NRULES:
        break;
    }
    return "";
}

json_t *vf_household_report(struct vf_run *r, struct mz_db *db, int hi)
{
    struct vf_household *h = &r->households[hi];
    struct vf_rule rules[VF_NRULES];
    char month[8];
    snprintf(month, sizeof(month), "%.7s", r->as_of);
    json_t *members = json_array(), *sources = json_array(), *rlist = json_array();
    for (int i = h->first; i < h->first + h->n; i++) {
        const struct vf_member *m = &r->members[i];
        json_array_append_new(members,
                              json_pack("{s:I, s:s?, s:s, s:b, s:b}", "person_id",
                                        (json_int_t)m->person_id, "name", m->name, "id_number",
                                        m->id_masked, "adult", m->adult, "authorised",
                                        m->authorised));
    }
    for (int s = 0; s < VF_NSOURCES; s++) {
        json_array_append_new(
            sources, json_pack("{s:s, s:s, s:s, s:o, s:o}", "source", vf_sources[s].code, "zh",
                               vf_sources[s].zh, "department", vf_sources[s].department,
                               "batch_id",
                               r->batches[s].id ? json_integer(r->batches[s].id) : json_null(),
                               "as_of",
                               r->batches[s].id ? json_string(r->batches[s].as_of) : json_null()));
    }
    for (int k = 0; k < VF_NRULES; k++) {
        struct vf_rule *rule = &rules[k];
        if (vf_rule_lookup(db, r->program, (enum vf_rule_id)k, h->division, r->as_of, rule) !=
            MZ_OK)
            rule->found = false;
        if (!rule->found || !rule->enabled)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "rule", vf_rule_items[k].code,
                              "zh", vf_rule_items[k].zh, "rule_id", (json_int_t)rule->id,
                              "division", rule->division, "valid_from", rule->valid_from,
                              "severity", rule->refuse ? "refuse" : "review");
        bool flagged = (h->flags >> k) & 1u;
        if (needs_standard((enum vf_rule_id)k)) {
            struct assist_standard std;
            rule->standard_rc = assist_standard_lookup(db, rule->standard_program, h->division,
                                                       h->zone[0] ? h->zone : NULL, month, &std);
            if (rule->standard_rc != MZ_OK) {
                json_object_set_new(o, "result", json_string("no_standard"));
                json_object_set_new(o, "sentence",
                                    json_string("该地区该月份没有适用的救助标准，须人工核实"));
                json_array_append_new(rlist, o);
                continue;
            }
            rule->standard_fen = std.amount_fen;
            json_object_set_new(o, "standard_program", json_string(rule->standard_program));
            json_object_set_new(o, "standard_fen", json_integer(std.amount_fen));
            json_object_set_new(o, "standard_id", json_integer(std.id));
        }
        json_object_set_new(o, "percent", json_integer(rule->percent));
        json_object_set_new(o, "months", json_integer(rule->months));
        json_object_set_new(o, "count_limit", json_integer(rule->count_limit));
        json_object_set_new(o, "value_limit_fen", json_integer(rule->value_limit_fen));
        json_object_set_new(o, "result", json_string(flagged ? "flagged" : "passed"));
        json_object_set_new(o, "sentence",
                            json_string(sentence(r->arena, (enum vf_rule_id)k, rule, &h->fig,
                                                 h->n, flagged)));
        json_t *ev = json_array();
        for (int i = h->first; i < h->first + h->n && r->evidence; i++) {
            json_t *rows = r->evidence[r->members[i].person], *row;
            size_t j;
            json_array_foreach(rows, j, row) {
                if (rule_source((enum vf_rule_id)k,
                                json_string_value(json_object_get(row, "source"))))
                    json_array_append(ev, row);
            }
        }
        json_object_set_new(o, "evidence", ev);
        json_array_append_new(rlist, o);
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:s, s:s, s:o}",
                     "program", r->program, "as_of", r->as_of, "household_id",
                     h->household_id ? json_integer(h->household_id) : json_null(), "case_id",
                     h->case_id ? json_integer(h->case_id) : json_null(), "division",
                     h->division, "zone", h->zone, "outcome", vf_outcome_items[h->outcome].code,
                     "member_count", h->n, "members", members, "figures",
                     vf_figures_json(&h->fig), "rules", rlist, "outcome_zh",
                     vf_outcome_items[h->outcome].zh, "flags",
                     vf_flags_text(r->arena, h->flags), "sources", sources);
}
