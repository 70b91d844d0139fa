/* bulk.c - the yearly re-check (全面复核) of every active case of a program.
 *
 * The households are the cases in state approved, paying or suspended whose
 * handling division lies in the run's range; the members are the persons
 * the case lists (its members JSON). Persons are read once (their blind
 * index and birth date), authorisations in force once, then every chunk of
 * every snapshot in force is streamed through the engine (engine.c), the
 * rules are evaluated per household, and the run is stored: one
 * verify_requests row (kind bulk, with the summary) and one verify_results
 * row per household. Used by POST /api/v1/verify/bulk and `minzheng
 * verify-bulk`; both run it in one write transaction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "mz/varint.h"
#include "modules/verify/verify_internal.h"

/* A case as read. */
struct bcase {
    int64_t id, household_id;
    char division[13];
    char zone[8];
    int first, n;            /* person ids in ids[first .. first+n) */
};

/* A person of the run: its registry id, birth date and whether the
 * registry has it (with a valid key); its key is in the run's key list. */
struct pinfo {
    int64_t id;
    int32_t birth;
    bool found;
};

/* A person as the covering index ix_verify_persons_key gives it (the key
 * as two big-endian halves, as struct vf_key_slot has it). */
struct pkey {
    uint64_t hi, lo;
    int64_t id;
    int32_t birth;
};

struct pkeys {
    struct pkey *v;
    size_t n, cap;
};

/* 32 lowercase hex digits (what vf_hex16 accepts) into 16 bytes. */
#define H16(c) ((c) >= '0' && (c) <= '9' ? (c) - '0' : (c) >= 'a' && (c) <= 'f' ? (c) - 'a' + 10 : -1)
#define H4(c) H16(c), H16(c + 1), H16(c + 2), H16(c + 3)
#define H32(c) H4(c), H4(c + 4), H4(c + 8), H4(c + 12), H4(c + 16), H4(c + 20), H4(c + 24), H4(c + 28)
static const signed char hexvals[256] = {H32(0), H32(32), H32(64), H32(96),
                                         H32(128), H32(160), H32(192), H32(224)};
#define hexval(c) hexvals[c]

static bool hex16(const char *hex, size_t len, unsigned char out[16])
{
    if (hex == NULL || len != 32)
        return false;
    const unsigned char *h = (const unsigned char *)hex;
    int bad = 0;
    for (int i = 0; i < 16; i++) {
        int x = hexval(h[2 * i]), y = hexval(h[2 * i + 1]);
        bad |= x | y;
        out[i] = (unsigned char)((x << 4) | (y & 15));
    }
    return bad >= 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_pinfo(const void *a, const void *b)
{
    int64_t x = ((const struct pinfo *)a)->id, y = ((const struct pinfo *)b)->id;
    return x < y ? -1 : x > y;
}

/* --- the members JSON ------------------------------------------------------------------
 *
 * A case's members are a JSON array of objects, each with a "person_id".
 * Parsing a million of them with jansson is most of a re-check's reading
 * time, so a scanner reads the text once, checking the grammar as it goes
 * (strings, UTF-8, numbers, nesting), and picks the person_id of each
 * element. Anything it does not fully handle the way jansson would
 * (\u escapes, exponents, long numbers, a repeated person_id, deep
 * nesting, invalid text) makes it give up, and the text goes to jansson:
 * the ids are always jansson's. */

struct scan {
    const char *p;
    int depth;
};

static void ws(struct scan *s)
{
    while (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r')
        s->p++;
}

/* One UTF-8 sequence at s->p (first byte >= 0x80); false when invalid. */
static bool utf8(struct scan *s)
{
    const unsigned char *u = (const unsigned char *)s->p;
    int n;
    uint32_t c;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        n = 1;
        c = u[0] & 0x1f;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        n = 2;
        c = u[0] & 0x0f;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        n = 3;
        c = u[0] & 0x07;
    } else {
        return false;
    }
    for (int i = 1; i <= n; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return false;
        c = (c << 6) | (u[i] & 0x3f);
    }
    if ((n == 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (n == 3 && (c < 0x10000 || c > 0x10ffff)))
        return false;
    s->p += n + 1;
    return true;
}

/* A string at s->p ('"'); *plain tells whether it had no escapes. */
static bool string(struct scan *s, const char **start, size_t *len, bool *plain)
{
    s->p++;
    *start = s->p;
    *plain = true;
    for (;;) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *len = (size_t)(s->p - *start);
            s->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            char e = s->p[1];
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                e != 'r' && e != 't')
                return false; /* \u (surrogates) and invalid escapes: jansson decides */
            *plain = false;
            s->p += 2;
        } else if (c >= 0x80) {
            if (!utf8(s))
                return false;
        } else {
            s->p++;
        }
    }
}

/* A number; *ival set when it is a plain integer that fits. */
static bool number(struct scan *s, int64_t *ival, bool *is_int)
{
    const char *p = s->p;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p < '0' || *p > '9')
        return false;
    int digits = 0;
    int64_t v = 0;
    if (*p == '0') {
        p++;
        digits = 1;
    } else {
        while (*p >= '0' && *p <= '9') {
            if (++digits > 18)
                return false; /* possibly too big for jansson's integer: let it decide */
            v = v * 10 + (*p++ - '0');
        }
    }
    *is_int = true;
    if (*p == '.') {
        *is_int = false;
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E')
        return false; /* range checks of reals: jansson decides */
    *ival = neg ? -v : v;
    s->p = p;
    return true;
}

static bool value(struct scan *s);

static bool literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* An object; when pid is not NULL, *pid gets its person_id (0 when none or
 * not an integer, as json_integer_value gives). */
static bool object(struct scan *s, int64_t *pid)
{
    bool seen = false;
    if (++s->depth > 32)
        return false;
    s->p++;
    ws(s);
    if (*s->p == '}') {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        const char *k;
        size_t klen;
        bool plain;
        if (*s->p != '"' || !string(s, &k, &klen, &plain))
            return false;
        bool is_pid = pid && klen == 9 && memcmp(k, "person_id", 9) == 0;
        if (pid && !plain)
            return false; /* an escaped key might spell person_id */
        ws(s);
        if (*s->p != ':')
            return false;
        s->p++;
        ws(s);
        if (is_pid) {
            if (seen)
                return false; /* a repeated key: jansson keeps the last */
            seen = true;
            int64_t v = 0;
            bool is_int = false;
            if ((*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
                if (!number(s, &v, &is_int))
                    return false;
                *pid = is_int ? v : 0;
            } else {
                if (!value(s))
                    return false;
                *pid = 0;
            }
        } else if (!value(s)) {
            return false;
        }
        ws(s);
        if (*s->p == ',') {
            s->p++;
            ws(s);
            continue;
        }
        if (*s->p != '}')
            return false;
        s->p++;
        s->depth--;
        return true;
    }
}

static bool array(struct scan *s)
{
    if (++s->depth > 32)
        return false;
    s->p++;
    ws(s);
    if (*s->p == ']') {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (!value(s))
            return false;
        ws(s);
        if (*s->p == ',') {
            s->p++;
            ws(s);
            continue;
        }
        if (*s->p != ']')
            return false;
        s->p++;
        s->depth--;
        return true;
    }
}

static bool value(struct scan *s)
{
    const char *k;
    size_t len;
    bool plain, is_int;
    int64_t v;
    switch (*s->p) {
    case '"':
        return string(s, &k, &len, &plain);
    case '{':
        return object(s, NULL);
    case '[':
        return array(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s, &v, &is_int);
    }
}

static int push_id(int64_t **ids, size_t *n, size_t *cap, int64_t pid)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        int64_t *p = realloc(*ids, c * sizeof(int64_t));
        if (p == NULL)
            return MZ_ERR_NOMEM;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = pid;
    return MZ_OK;
}

/* The scanner; false when the text must go to jansson (nothing appended). */
static bool member_ids_fast(const char *text, int64_t **ids, size_t *n, size_t *cap, int *rc)
{
    struct scan s = {.p = text, .depth = 1};
    size_t n0 = *n;
    *rc = MZ_OK;
    ws(&s);
    if (*s.p != '[')
        return false;
    s.p++;
    ws(&s);
    if (*s.p == ']') {
        s.p++;
    } else {
        for (;;) {
            int64_t pid = 0;
            bool ok = *s.p == '{' ? object(&s, &pid) : value(&s);
            if (!ok)
                goto slow;
            if (pid > 0 && (*rc = push_id(ids, n, cap, pid)) != MZ_OK)
                return true;
            ws(&s);
            if (*s.p == ',') {
                s.p++;
                ws(&s);
                continue;
            }
            if (*s.p != ']')
                goto slow;
            s.p++;
            break;
        }
    }
    ws(&s);
    if (*s.p == '\0')
        return true;
slow:
    *n = n0;
    return false;
}

/* Person ids of a case's members JSON, appended to *ids. */
static int member_ids(const char *text, int64_t **ids, size_t *n, size_t *cap)
{
    int rc;
    if (text && member_ids_fast(text, ids, n, cap, &rc))
        return rc;
    json_error_t err;
    json_t *arr = json_loads(text ? text : "[]", 0, &err), *m;
    size_t i;
    json_array_foreach(arr, i, m) {
        json_int_t pid = json_integer_value(json_object_get(m, "person_id"));
        if (pid <= 0)
            continue;
        if ((rc = push_id(ids, n, cap, pid)) != MZ_OK) {
            json_decref(arr);
            return rc;
        }
    }
    json_decref(arr);
    return MZ_OK;
}

static void progress(const struct vf_bulk_opts *o, const char *phase, int64_t done, int64_t total)
{
    if (o->progress)
        o->progress(o->ctx, phase, done, total);
}

/* Does the run cover a city or more (its range starts at a code whose last
 * 8 digits are zeros)? Such a run reads most cases and persons: table and
 * index passes rather than look-ups. */
static bool city_wide(const struct vf_bulk_opts *o)
{
    size_t zeros = 0, len = strlen(o->lo);
    while (zeros < len && o->lo[len - 1 - zeros] == '0')
        zeros++;
    return zeros >= 8;
}

/* Read the cases and their member ids. */
static int read_cases(struct mz_db *db, const struct vf_bulk_opts *o, struct bcase **cases,
                      size_t *ncases, int64_t **ids, size_t *nids)
{
    struct mz_stmt *st;
    size_t cap = 0, idcap = 0;
    /* A city-wide run reads most cases: one pass over the table in id order
     * beats walking an index and sorting the rows (SQLite would otherwise
     * take the payroll index and sort a million members texts). A district
     * or narrower range keeps the index. */
    const char *x = city_wide(o) ? mz_db_dialect(db, MZ_SQL_NO_INDEX) : "";
    char *sql = NULL;
    if (asprintf(&sql,
                 "SELECT id, household_id, division, zone, members FROM assistance_cases"
                 " WHERE %sprogram = ? AND %sstate IN ('approved', 'paying', 'suspended')"
                 " AND deleted_at IS NULL AND %sdivision >= ? AND %sdivision < ? ORDER BY id",
                 x, x, x, x) < 0)
        return MZ_ERR_NOMEM;
    int rc = mz_db_prepare(db, sql, &st);
    free(sql);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, o->program);
    mz_db_bind_text(st, 2, o->lo);
    mz_db_bind_text(st, 3, o->hi);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (*ncases == cap) {
            size_t c = cap ? cap * 2 : 1024;
            struct bcase *p = realloc(*cases, c * sizeof(**cases));
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            *cases = p;
            cap = c;
        }
        struct bcase *c = &(*cases)[(*ncases)++];
        c->id = mz_db_col_int(st, 0);
        c->household_id = mz_db_col_int(st, 1);
        vf_copy_text(c->division, sizeof(c->division), mz_db_col_text(st, 2));
        vf_copy_text(c->zone, sizeof(c->zone), mz_db_col_text(st, 3));
        c->first = (int)*nids;
        rc = member_ids(mz_db_col_text(st, 4), ids, nids, &idcap);
        if (rc != MZ_OK)
            break;
        c->n = (int)(*nids - (size_t)c->first);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* Where the run's persons are: persons[at[id]] when the ids are dense
 * (at[id] -1 for the others), else a search of persons (sorted by id). */
struct pmap {
    const int32_t *at;
    int64_t maxid;
    const struct pinfo *persons;
    size_t np;
};

static int64_t pmap_index(const struct pmap *m, int64_t id)
{
    if (m->at)
        return id >= 0 && id <= m->maxid ? m->at[id] : -1;
    struct pinfo probe = {.id = id};
    const struct pinfo *p = bsearch(&probe, m->persons, m->np, sizeof(*m->persons), cmp_pinfo);
    return p ? p - m->persons : -1;
}

/* Room for n entries: what is not written is never touched, so an upper
 * bound costs nothing and spares the copies of doubling. */
static int pkeys_reserve(struct pkeys *k, size_t n)
{
    if (n <= k->cap)
        return MZ_OK;
    struct pkey *p = realloc(k->v, n * sizeof(*p));
    if (p == NULL)
        return MZ_ERR_NOMEM;
    vf_huge_pages(p, n * sizeof(*p));
    k->v = p;
    k->cap = n;
    return MZ_OK;
}

/* An upper bound of a table's rows when its ids are a sequence (the
 * largest id), at most 64 million; 0 when unknown. */
static size_t rows_bound(struct mz_db *db, const char *table)
{
    char sql[100];
    snprintf(sql, sizeof(sql), "SELECT max(id) FROM %s", table);
    int64_t n = 0;
    if (mz_db_query_int(db, sql, &n, 0, NULL) != MZ_OK || n < 0)
        return 0;
    return n > (1 << 26) ? (size_t)1 << 26 : (size_t)n;
}

static int pkeys_push(struct pkeys *k, const unsigned char key[16], int64_t id, int32_t birth)
{
    if (k->n == k->cap && pkeys_reserve(k, k->cap ? k->cap * 2 : 65536) != MZ_OK)
        return MZ_ERR_NOMEM;
    struct vf_key_slot ks;
    vf_key_slot_set(&ks, key, 0);
    k->v[k->n++] = (struct pkey){ks.hi, ks.lo, id, birth};
    return MZ_OK;
}

/* The keys and birth dates of registry persons, in key order: a walk of the
 * covering index ix_verify_persons_key (migration 6: blind index, birth
 * date, id), a few dozen bytes a person instead of the table's wide rows.
 * Keys whose text lies in [from, to) (NULL: unbounded); with a map, only
 * the run's persons. A person without a valid key is left out (not found). */
static int read_person_keys(struct mz_db *db, const char *from, const char *to,
                            const struct pmap *m, struct pkeys *out)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT id_number_bidx, birth_date, id FROM persons WHERE deleted_at IS NULL"
             " AND id_number_bidx IS NOT NULL%s%s ORDER BY id_number_bidx",
             from ? " AND id_number_bidx >= ?" : "", to ? " AND id_number_bidx < ?" : "");
    struct mz_stmt *st;
    int rc = pkeys_reserve(out, m ? m->np : rows_bound(db, "persons"));
    if (rc == MZ_OK)
        rc = mz_db_prepare(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    int k = 1;
    if (from)
        mz_db_bind_text(st, k++, from);
    if (to)
        mz_db_bind_text(st, k++, to);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t id = mz_db_col_int(st, 2);
        if (m && pmap_index(m, id) < 0)
            continue;
        unsigned char key[16];
        const char *hex = mz_db_col_text(st, 0);
        if (!hex16(hex, hex ? mz_db_col_bytes(st, 0) : 0, key))
            continue;
        if ((rc = pkeys_push(out, key, id, vf_date_int(mz_db_col_text(st, 1)))) != MZ_OK)
            break;
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* The same for a few persons (sorted by id): one query each. */
static int read_few_person_keys(struct mz_db *db, const struct pinfo *p, size_t n,
                                struct pkeys *out)
{
    struct mz_stmt *st;
    int rc = MZ_OK;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        rc = mz_db_prepare(db,
                           "SELECT id_number_bidx, birth_date FROM persons WHERE id = ?"
                           " AND deleted_at IS NULL",
                           &st);
        if (rc != MZ_OK)
            return rc;
        mz_db_bind_int(st, 1, p[i].id);
        rc = mz_db_step(st);
        unsigned char key[16];
        if (rc == MZ_ROW && vf_hex16(mz_db_col_text(st, 0), key))
            rc = pkeys_push(out, key, p[i].id, vf_date_int(mz_db_col_text(st, 1)));
        mz_db_done(st);
        rc = rc == MZ_ROW || rc == MZ_DONE ? MZ_OK : rc;
    }
    return rc;
}

/* Is v in key order? (What the covering indexes give on SQLite, whose
 * text order of lowercase hex is the keys' order; a server's collation
 * may differ, then the keys are sorted here.) */
static bool key_sorted(const struct vf_key_slot *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (v[i].hi < v[i - 1].hi || (v[i].hi == v[i - 1].hi && v[i].lo < v[i - 1].lo))
            return false;
    }
    return true;
}

/* The keys of the authorisations in force on the date, sorted: a walk of
 * the covering index ix_verify_authorisations_in_force (migration 6: key,
 * signed_on, valid_until), in key order. */
static int read_authorisation_keys(struct mz_db *db, const char *as_of, struct vf_key_slot **out,
                                   size_t *nout)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT person_key FROM verify_authorisations WHERE deleted_at IS NULL"
                           " AND person_key IS NOT NULL AND signed_on <= ? AND valid_until >= ?"
                           " ORDER BY person_key",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, as_of);
    mz_db_bind_text(st, 2, as_of);
    size_t n = 0, cap = rows_bound(db, "verify_authorisations");
    struct vf_key_slot *ak = cap ? malloc(cap * sizeof(*ak)) : NULL;
    if (ak)
        vf_huge_pages(ak, cap * sizeof(*ak));
    else
        cap = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        unsigned char key[16];
        const char *hex = mz_db_col_text(st, 0);
        if (!hex16(hex, hex ? mz_db_col_bytes(st, 0) : 0, key))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            struct vf_key_slot *p = realloc(ak, cap * sizeof(*ak));
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            ak = p;
        }
        vf_key_slot_set(&ak[n++], key, 0);
    }
    mz_db_done(st);
    if (rc == MZ_DONE)
        rc = key_sorted(ak, n) ? MZ_OK : vf_key_sort(ak, n);
    if (rc != MZ_OK) {
        free(ak);
        return rc;
    }
    *out = ak;
    *nout = n;
    return MZ_OK;
}

/* Mark the persons with one of the sorted keys ak (authorisations). */
static void mark_authorised(struct vf_run *run, const struct vf_key_slot *ak, size_t n)
{
    if (run->key_order) {
        /* The persons are in key order too: a merge. */
        size_t k = 0;
        for (int i = 0; i < run->npersons && k < n; i++) {
            struct vf_key_slot pk;
            vf_key_slot_set(&pk, run->persons[i].key, i);
            while (k < n && (ak[k].hi < pk.hi || (ak[k].hi == pk.hi && ak[k].lo < pk.lo)))
                k++;
            if (k < n && ak[k].hi == pk.hi && ak[k].lo == pk.lo)
                run->persons[i].authorised = true;
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            unsigned char key[16];
            uint64_t hi = __builtin_bswap64(ak[k].hi), lo = __builtin_bswap64(ak[k].lo);
            memcpy(key, &hi, 8);
            memcpy(key + 8, &lo, 8);
            int p = vf_run_find(run, key);
            if (p >= 0)
                run->persons[p].authorised = true;
        }
    }
    for (int i = 0; i < run->nmembers; i++)
        run->members[i].authorised = run->persons[run->members[i].person].authorised;
}

/* --- reading on two connections -----------------------------------------------------------
 *
 * On SQLite a second connection to the same file reads while the caller's
 * does: the cases and the authorisations at the same time, then the two
 * halves of the persons, then (engine.c) each scan worker its own chunks.
 * It sees the committed database only, so it is used only when the caller
 * says its transaction has written nothing the run reads (read_committed). */

static struct mz_db *open_reader(struct mz_db *db)
{
    if (strcmp(mz_db_kind_name(db), "sqlite") != 0)
        return NULL;
    struct mz_stmt *st;
    char path[4096] = "";
    if (mz_db_prepare_uncached(db, "PRAGMA database_list", &st) != MZ_OK)
        return NULL;
    while (mz_db_step(st) == MZ_ROW) {
        const char *name = mz_db_col_text(st, 1), *file = mz_db_col_text(st, 2);
        if (name && strcmp(name, "main") == 0 && file)
            snprintf(path, sizeof(path), "%s", file);
    }
    mz_db_finalize(st);
    if (path[0] == '\0')
        return NULL; /* in memory */
    struct mz_db_options opts = {.busy_timeout_ms = 5000};
    struct mz_db *r = NULL;
    return mz_db_open(path, &opts, &r) == MZ_OK ? r : NULL;
}

struct task {
    int (*fn)(void *);
    void *arg;
    int rc;
    pthread_t thread;
};

static void *task_main(void *p)
{
    struct task *t = p;
    t->rc = t->fn(t->arg);
    return NULL;
}

/* a(aa) here while b(ba) runs on a thread; the first error. */
static int both(int (*a)(void *), void *aa, int (*b)(void *), void *ba)
{
    struct task t = {.fn = b, .arg = ba};
    if (pthread_create(&t.thread, NULL, task_main, &t) != 0) {
        int ra = a(aa);
        return ra != MZ_OK ? ra : b(ba);
    }
    int ra = a(aa);
    pthread_join(t.thread, NULL);
    return ra != MZ_OK ? ra : t.rc;
}

struct cases_task {
    struct mz_db *db;
    const struct vf_bulk_opts *o;
    struct bcase **cases;
    size_t *ncases;
    int64_t **ids;
    size_t *nids;
};
static int cases_fn(void *p)
{
    struct cases_task *t = p;
    return read_cases(t->db, t->o, t->cases, t->ncases, t->ids, t->nids);
}

/* The authorisations; then, when all is not NULL, every registry person's
 * key (a city-wide run: the run's persons are most of them, and this
 * connection is otherwise idle while the other reads the cases). */
struct auth_task {
    struct mz_db *db;
    const char *as_of;
    struct vf_key_slot **keys;
    size_t *n;
    struct pkeys *all;
};
static int auth_fn(void *p)
{
    struct auth_task *t = p;
    int rc = read_authorisation_keys(t->db, t->as_of, t->keys, t->n);
    if (rc == MZ_OK && t->all)
        rc = read_person_keys(t->db, NULL, NULL, NULL, t->all);
    return rc;
}

struct persons_task {
    struct mz_db *db;
    const char *from, *to;
    const struct pmap *m;
    struct pkeys out;
};
static int persons_fn(void *p)
{
    struct persons_task *t = p;
    return read_person_keys(t->db, t->from, t->to, t->m, &t->out);
}

struct prefault_task {
    struct vf_run *run;
    int households, members, persons;
};
static int prefault_fn(void *p)
{
    struct prefault_task *t = p;
    return vf_run_prefault(t->run, t->households, t->members, t->persons);
}

/* Store one verify_results row per household (runs of up to
 * VF_BULK_ALL_ROWS households; every household is in the packs, below). */
static int write_results(struct mz_db *db, const char *actor, int64_t request_id,
                         const struct vf_run *run, const struct vf_bulk_opts *o)
{
    struct mz_stmt *st;
    char now[32];
    mz_now_rfc3339(now);
    int rc = mz_db_prepare(db,
                           "INSERT INTO verify_results (version, created_at, updated_at,"
                           " created_by, updated_by, request_id, case_id, household_id,"
                           " division, outcome, flags, member_count, income_fen, assets_fen,"
                           " figures) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           &st);
    if (rc != MZ_OK)
        return rc;
    struct mz_arena *a = mz_arena_new();
    for (int i = 0; i < run->nhouseholds && rc == MZ_OK; i++) {
        const struct vf_household *h = &run->households[i];
        const struct vf_figures *f = &h->fig;
        char figs[400];
        snprintf(figs, sizeof(figs),
                 "{\"income_fen\":%lld,\"financial_assets_fen\":%lld,\"vehicles\":%d,"
                 "\"vehicle_value_max_fen\":%lld,\"properties\":%d,\"businesses\":%d,"
                 "\"business_capital_max_fen\":%lld,\"public_employees\":%d,"
                 "\"staff_relatives\":%d,\"deceased\":%d}",
                 (long long)f->income_fen, (long long)f->financial_assets_fen, f->vehicles,
                 (long long)f->vehicle_value_max_fen, f->properties, f->businesses,
                 (long long)f->business_capital_max_fen, f->public_employees,
                 f->staff_relatives, f->deceased);
        mz_db_bind_text(st, 1, now);
        mz_db_bind_text(st, 2, now);
        mz_db_bind_text(st, 3, actor);
        mz_db_bind_text(st, 4, actor);
        mz_db_bind_int(st, 5, request_id);
        mz_db_bind_int(st, 6, h->case_id);
        if (h->household_id)
            mz_db_bind_int(st, 7, h->household_id);
        else
            mz_db_bind_null(st, 7);
        mz_db_bind_text(st, 8, h->division);
        mz_db_bind_text(st, 9, vf_outcome_items[h->outcome].code);
        mz_db_bind_text(st, 10, vf_flags_text(a, h->flags));
        mz_db_bind_int(st, 11, h->n);
        mz_db_bind_int(st, 12, f->income_fen);
        mz_db_bind_int(st, 13, f->financial_assets_fen);
        mz_db_bind_text(st, 14, figs);
        rc = mz_db_step(st);
        rc = rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
        mz_db_reset(st);
        if ((i + 1) % 10000 == 0) {
            mz_arena_free(a);
            a = mz_arena_new();
            progress(o, "store", i + 1, run->nhouseholds);
        }
    }
    mz_arena_free(a);
    mz_db_done(st);
    return rc;
}

/* --- result packs ----------------------------------------------------------------------
 *
 * Every household's result of a bulk run is also kept compactly: table
 * verify_result_packs (request_id, seq, households, data), data being
 * PACK_HOUSEHOLDS households as variable-length integers (zigzag deltas of
 * case and household ids, then member count, outcome, flags, the figures
 * and the division), sealed like the source chunks under the context
 * "verify_result_packs:<request>:<seq>". A million households are ~25 MB
 * in a few dozen rows, against ~1 million rows and six index entries each
 * in verify_results; vf_results_open reads them back. */

#define PACK_HOUSEHOLDS 16384
#define PACK_MAX_BYTES (PACK_HOUSEHOLDS * 160)

int vf_packs_table(struct mz_db *db)
{
    /* Migration 4 of the module (verify.c); also made sure of before use. */
    char sql[400];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS verify_result_packs (request_id %s NOT NULL,"
             " seq INTEGER NOT NULL, households INTEGER NOT NULL, data %s NOT NULL,"
             " PRIMARY KEY (request_id, seq))",
             mz_db_dialect(db, MZ_SQL_INT64), mz_db_dialect(db, MZ_SQL_BLOB));
    return mz_db_exec(db, sql);
}

static void pack_context(char out[64], int64_t request_id, int seq)
{
    snprintf(out, 64, "verify_result_packs:%lld:%d", (long long)request_id, seq);
}

static int write_packs(struct mz_db *db, int64_t request_id, const struct vf_run *run)
{
    int rc = vf_packs_table(db);
    if (rc != MZ_OK)
        return rc;
    unsigned char *buf = malloc(PACK_MAX_BYTES), *sealed = malloc(PACK_MAX_BYTES +
                                                                  MZ_CRYPTO_SEAL_OVERHEAD);
    if (buf == NULL || sealed == NULL) {
        free(buf);
        free(sealed);
        return MZ_ERR_NOMEM;
    }
    struct mz_stmt *st;
    rc = mz_db_prepare(db,
                       "INSERT INTO verify_result_packs (request_id, seq, households, data)"
                       " VALUES (?, ?, ?, ?)",
                       &st);
    for (int first = 0, seq = 0; rc == MZ_OK && first < run->nhouseholds;
         first += PACK_HOUSEHOLDS, seq++) {
        int n = run->nhouseholds - first < PACK_HOUSEHOLDS ? run->nhouseholds - first
                                                           : PACK_HOUSEHOLDS;
        unsigned char *p = buf;
        int64_t prev = 0;
        for (int i = first; i < first + n; i++) {
            const struct vf_household *h = &run->households[i];
            const struct vf_figures *f = &h->fig;
            p = mz_varint_put(p, h->case_id - prev);
            prev = h->case_id;
            p = mz_varint_put(p, h->household_id - h->case_id);
            p = mz_varint_put(p, h->n);
            p = mz_varint_put(p, h->outcome);
            p = mz_varint_put(p, h->flags);
            p = mz_varint_put(p, f->income_fen);
            p = mz_varint_put(p, f->financial_assets_fen);
            p = mz_varint_put(p, f->vehicles);
            p = mz_varint_put(p, f->vehicle_value_max_fen);
            p = mz_varint_put(p, f->properties);
            p = mz_varint_put(p, f->businesses);
            p = mz_varint_put(p, f->business_capital_max_fen);
            p = mz_varint_put(p, f->public_employees);
            p = mz_varint_put(p, f->staff_relatives);
            p = mz_varint_put(p, f->deceased);
            size_t dl = strlen(h->division);
            p = mz_varint_put(p, (int64_t)dl);
            memcpy(p, h->division, dl);
            p += dl;
        }
        char ctx[64];
        pack_context(ctx, request_id, seq);
        size_t len = (size_t)(p - buf);
        mz_crypto_seal_bin(ctx, buf, len, sealed);
        mz_db_bind_int(st, 1, request_id);
        mz_db_bind_int(st, 2, seq);
        mz_db_bind_int(st, 3, n);
        mz_db_bind_blob(st, 4, sealed, len + MZ_CRYPTO_SEAL_OVERHEAD);
        rc = mz_db_step(st);
        rc = rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
        mz_db_reset(st);
    }
    if (st)
        mz_db_done(st);
    free(buf);
    free(sealed);
    return rc;
}

int vf_bulk(struct mz_db *db, struct mz_arena *a, const struct vf_bulk_opts *o,
            int64_t *request_id, json_t **summary)
{
    int64_t started = vf_now_ms();
    struct bcase *cases = NULL;
    size_t ncases = 0, nids = 0;
    int64_t *ids = NULL;
    int32_t *at = NULL;
    int *slot_of = NULL;
    struct vf_key_slot *ks = NULL;
    struct pinfo *persons = NULL;
    struct vf_run run;
    vf_run_init(&run, a, o->program, o->as_of);
    *summary = NULL;
    *request_id = 0;
    struct mz_db *reader = o->read_committed ? open_reader(db) : NULL;
    struct vf_key_slot *auth = NULL;
    size_t nauth = 0;
    progress(o, "cases", 0, 0);
    struct cases_task ct = {db, o, &cases, &ncases, &ids, &nids};
    struct pkeys whole = {0};
    struct auth_task at_ = {reader, o->as_of, &auth, &nauth, city_wide(o) ? &whole : NULL};
    int rc = reader ? both(cases_fn, &ct, auth_fn, &at_) : cases_fn(&ct);
    if (rc != MZ_OK)
        goto out;
    /* The distinct persons, sorted by id: through a mark per id when the ids
     * are dense (the usual case: a registry's own sequence), else by sorting. */
    int64_t maxid = 0;
    for (size_t i = 0; i < nids; i++) {
        if (ids[i] > maxid)
            maxid = ids[i];
    }
    size_t np = 0;
    if (nids > 0 && maxid <= (int64_t)nids * 8 + 1000000) {
        at = malloc((size_t)(maxid + 1) * sizeof(int32_t));
        if (at == NULL) {
            rc = MZ_ERR_NOMEM;
            goto out;
        }
        memset(at, 0xff, (size_t)(maxid + 1) * sizeof(int32_t));
        for (size_t i = 0; i < nids; i++)
            at[ids[i]] = 0;
        for (int64_t id = 1; id <= maxid; id++)
            np += at[id] == 0;
        persons = calloc(np ? np : 1, sizeof(*persons));
        if (persons == NULL) {
            rc = MZ_ERR_NOMEM;
            goto out;
        }
        np = 0;
        for (int64_t id = 1; id <= maxid; id++) {
            if (at[id] == 0) {
                at[id] = (int32_t)np;
                persons[np++].id = id;
            }
        }
    } else {
        int64_t *sorted = malloc((nids ? nids : 1) * sizeof(int64_t));
        if (sorted == NULL) {
            rc = MZ_ERR_NOMEM;
            goto out;
        }
        if (nids > 0) {
            memcpy(sorted, ids, nids * sizeof(int64_t));
            qsort(sorted, nids, sizeof(int64_t), cmp_i64);
        }
        for (size_t i = 0; i < nids; i++) {
            if (np == 0 || sorted[np - 1] != sorted[i])
                sorted[np++] = sorted[i];
        }
        persons = calloc(np ? np : 1, sizeof(*persons));
        if (persons == NULL) {
            free(sorted);
            rc = MZ_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < np; i++)
            persons[i].id = sorted[i];
        free(sorted);
    }
    progress(o, "persons", 0, (int64_t)np);
    /* The run's persons' keys and birth dates, in key order (the scan is a
     * merge join): read with the authorisations (city-wide), or now, on two
     * connections for the two halves of the key range when there are many,
     * by id when few. */
    /* Meanwhile a thread writes the run's arrays once (the kernel zeroes
     * fresh pages on first touch: hundreds of MB for a city). */
    struct prefault_task pf = {&run, (int)ncases, (int)nids, (int)np};
    struct task pft = {.fn = prefault_fn, .arg = &pf};
    bool pf_thread = np > 20000 && pthread_create(&pft.thread, NULL, task_main, &pft) == 0;
    struct pmap map = {at, maxid, persons, np};
    struct persons_task p1 = {db, NULL, NULL, &map, {0}}, p2 = {reader, "8", NULL, &map, {0}};
    size_t nk = 0, ns = 0;
    if (reader && at_.all) {
        p1.out = whole;
        whole = (struct pkeys){0};
    } else if (np <= 20000) {
        rc = read_few_person_keys(db, persons, np, &p1.out);
    } else if (reader) {
        p1.to = "8";
        rc = both(persons_fn, &p1, persons_fn, &p2);
    } else {
        rc = persons_fn(&p1);
    }
    if (rc != MZ_OK)
        goto keys_out;
    /* Their distinct keys in order (sorted here only if the reading did not
     * give key order), slot_of[i] the slot of persons[i]. */
    ks = malloc((np ? np : 1) * sizeof(*ks));
    slot_of = malloc((np ? np : 1) * sizeof(*slot_of));
    if (ks == NULL || slot_of == NULL) {
        rc = MZ_ERR_NOMEM;
        goto keys_out;
    }
    vf_huge_pages(ks, np * sizeof(*ks));
    memset(slot_of, 0xff, (np ? np : 1) * sizeof(*slot_of));
    for (int half = 0; half < 2; half++) {
        const struct pkeys *pk = half == 0 ? &p1.out : &p2.out;
        for (size_t i = 0; i < pk->n; i++) {
            int64_t pi = pmap_index(&map, pk->v[i].id);
            if (pi < 0 || persons[pi].found)
                continue;
            persons[pi].found = true;
            persons[pi].birth = pk->v[i].birth;
            ks[nk++] = (struct vf_key_slot){pk->v[i].hi, pk->v[i].lo, (int)pi};
        }
    }
    if (!key_sorted(ks, nk))
        rc = vf_key_sort(ks, nk);
keys_out:
    free(p1.out.v);
    free(p2.out.v);
    if (pf_thread) {
        pthread_join(pft.thread, NULL);
        rc = rc != MZ_OK ? rc : pft.rc;
    } else if (rc == MZ_OK) {
        rc = vf_run_reserve(&run, (int)ncases, (int)nids, 0);
    }
    if (rc != MZ_OK)
        goto out;
    for (size_t k = 0; k < nk; k++) {
        int pi = ks[k].slot;
        if (ns == 0 || ks[k].hi != ks[ns - 1].hi || ks[k].lo != ks[ns - 1].lo)
            ks[ns++] = ks[k];
        slot_of[pi] = (int)ns - 1;
    }
    rc = vf_run_set_persons(&run, ks, ns);
    if (rc != MZ_OK)
        goto out;
    int64_t missing = 0;
    for (size_t c = 0; c < ncases && rc == MZ_OK; c++) {
        struct bcase *bc = &cases[c];
        if (vf_run_household(&run, bc->household_id, bc->id, bc->division, bc->zone) < 0) {
            rc = MZ_ERR_NOMEM;
            break;
        }
        for (int k = 0; k < bc->n && rc == MZ_OK; k++) {
            int64_t id = ids[bc->first + k];
            struct pinfo *p;
            if (at) {
                p = &persons[at[id]];
            } else {
                struct pinfo probe = {.id = id};
                p = bsearch(&probe, persons, np, sizeof(*persons), cmp_pinfo);
            }
            if (p == NULL || !p->found) {
                missing++;
                continue;
            }
            rc = vf_run_member_slot(&run, slot_of[p - persons], p->id, p->birth);
        }
    }
    if (rc != MZ_OK)
        goto out;
    progress(o, "authorisations", 0, 0);
    if (!reader)
        rc = read_authorisation_keys(db, o->as_of, &auth, &nauth);
    if (rc == MZ_OK)
        mark_authorised(&run, auth, nauth);
    run.reader = reader;
    if (rc == MZ_OK)
        rc = vf_run_batches(&run, db);
    progress(o, "sources", 0, 0);
    if (rc == MZ_OK)
        rc = vf_run_scan(&run, db, true);
    progress(o, "rules", 0, run.nhouseholds);
    if (rc == MZ_OK)
        rc = vf_run_evaluate(&run, db);
    if (rc != MZ_OK)
        goto out;

    int64_t by_outcome[4] = {0}, by_rule[VF_NRULES] = {0};
    for (int i = 0; i < run.nhouseholds; i++) {
        by_outcome[run.households[i].outcome]++;
        for (int k = 0; k < VF_NRULES; k++)
            by_rule[k] += (run.households[i].flags >> k) & 1u;
    }
    json_t *outcomes = json_object(), *rules = json_object(), *sources = json_object();
    for (int k = 0; k < 4; k++)
        json_object_set_new(outcomes, vf_outcome_items[k].code, json_integer(by_outcome[k]));
    for (int k = 0; k < VF_NRULES; k++)
        json_object_set_new(rules, vf_rule_items[k].code, json_integer(by_rule[k]));
    for (int s = 0; s < VF_NSOURCES; s++)
        json_object_set_new(sources, vf_sources[s].code,
                            run.batches[s].id ? json_integer(run.batches[s].id) : json_null());
    int64_t flagged = run.nhouseholds - by_outcome[VF_PASS];
    int64_t hh = run.nhouseholds, pp = run.nmembers, took = vf_now_ms() - started, one = 0;
    *summary = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "program", o->program,
                         "as_of", o->as_of, "households", (json_int_t)hh, "persons",
                         (json_int_t)pp, "flagged", (json_int_t)flagged, "members_not_found",
                         (json_int_t)missing, "outcomes", outcomes, "rules", rules, "batches",
                         sources);
    char *text = json_dumps(*summary, JSON_COMPACT);
    const void *values[] = {"bulk",  "bulk", o->program, o->as_of, o->lo, "",
                            &one,    &hh,    &flagged,   &took,    text,  o->note};
    progress(o, "store", 0, run.nhouseholds);
    rc = vf_insert_row(db, a, o->actor, "verify_requests",
                       "kind, origin, program, as_of, division, flags, member_count, households,"
                       " flagged, duration_ms, summary, note",
                       12, "tttttt" "iiiitt", values, request_id);
    free(text);
    if (rc == MZ_OK)
        rc = mz_db_run(db, "UPDATE verify_requests SET member_count = ? WHERE id = ?", "ii", pp,
                       *request_id);
    bool all_rows = run.nhouseholds <= VF_BULK_ALL_ROWS;
    if (rc == MZ_OK)
        rc = write_packs(db, *request_id, &run);
    if (rc == MZ_OK && all_rows)
        rc = write_results(db, o->actor ? o->actor : "system", *request_id, &run, o);
    if (rc == MZ_OK)
        json_object_set_new(*summary, "result_rows", json_boolean(all_rows));
    if (rc == MZ_OK) {
        took = vf_now_ms() - started;
        json_object_set_new(*summary, "duration_ms", json_integer(took));
        json_object_set_new(*summary, "request_id", json_integer(*request_id));
        rc = mz_db_run(db, "UPDATE verify_requests SET duration_ms = ? WHERE id = ?", "ii", took,
                       *request_id);
    }
    progress(o, "done", run.nhouseholds, run.nhouseholds);
out:
    free(whole.v);
    free(auth);
    if (reader)
        mz_db_close(reader);
    if (rc != MZ_OK) {
        json_decref(*summary);
        *summary = NULL;
    }
    vf_run_free(&run);
    free(cases);
    free(ids);
    free(at);
    free(ks);
    free(slot_of);
    free(persons);
    return rc;
}

/* --- reading a run's results back ------------------------------------------------------- */

struct vf_result_reader {
    struct mz_stmt *st;
    bool packs;
    int64_t request_id;
    unsigned char *buf;          /* the open pack */
    const unsigned char *p, *end;
    int left;                    /* households left in it */
    int64_t prev;
};

int vf_results_open(struct mz_db *db, int64_t request_id, struct vf_result_reader **out)
{
    struct vf_result_reader *rd = calloc(1, sizeof(*rd));
    if (rd == NULL)
        return MZ_ERR_NOMEM;
    rd->request_id = request_id;
    int64_t npacks = 0;
    int rc = MZ_OK;
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)request_id);
    const char *params[] = {idtext};
    if (mz_db_table_exists(db, "verify_result_packs"))
        rc = mz_db_query_int(db,
                             "SELECT count(*) FROM verify_result_packs"
                             " WHERE request_id = CAST(? AS BIGINT)",
                             &npacks, 1, params);
    if (rc == MZ_OK) {
        rd->packs = npacks > 0;
        rc = mz_db_prepare_uncached(
            db,
            rd->packs ? "SELECT seq, households, data FROM verify_result_packs"
                        " WHERE request_id = ? ORDER BY seq"
                      : "SELECT case_id, household_id, division, member_count,"
                        " flags, outcome, figures FROM verify_results"
                        " WHERE request_id = ? AND deleted_at IS NULL ORDER BY case_id",
            &rd->st);
    }
    if (rc != MZ_OK) {
        free(rd);
        return rc;
    }
    mz_db_bind_int(rd->st, 1, request_id);
    *out = rd;
    return MZ_OK;
}

static int next_packed(struct vf_result_reader *rd, struct vf_result_row *row)
{
    while (rd->left == 0) {
        int rc = mz_db_step(rd->st);
        if (rc != MZ_ROW)
            return rc;
        int seq = (int)mz_db_col_int(rd->st, 0);
        rd->left = (int)mz_db_col_int(rd->st, 1);
        size_t len = mz_db_col_bytes(rd->st, 2);
        if (len < MZ_CRYPTO_SEAL_OVERHEAD || rd->left < 0)
            return MZ_ERR_INVALID;
        free(rd->buf);
        rd->buf = malloc(len - MZ_CRYPTO_SEAL_OVERHEAD + 1);
        if (rd->buf == NULL)
            return MZ_ERR_NOMEM;
        char ctx[64];
        pack_context(ctx, rd->request_id, seq);
        if (mz_crypto_open_bin(ctx, mz_db_col_blob(rd->st, 2), len, rd->buf) != MZ_OK)
            return MZ_ERR_INVALID;
        rd->p = rd->buf;
        rd->end = rd->buf + len - MZ_CRYPTO_SEAL_OVERHEAD;
        rd->prev = 0;
    }
    int64_t v[16];
    for (int k = 0; k < 16; k++) {
        rd->p = mz_varint_get(rd->p, rd->end, &v[k]);
        if (rd->p == NULL)
            return MZ_ERR_INVALID;
    }
    if (v[15] < 0 || v[15] > 12 || rd->end - rd->p < v[15] || v[3] < 0 || v[3] > 3)
        return MZ_ERR_INVALID;
    memset(row, 0, sizeof(*row));
    row->case_id = rd->prev + v[0];
    rd->prev = row->case_id;
    row->household_id = row->case_id + v[1];
    row->member_count = (int)v[2];
    row->outcome = (enum vf_outcome)v[3];
    row->flags = (uint32_t)v[4];
    struct vf_figures *f = &row->fig;
    f->income_fen = v[5];
    f->financial_assets_fen = v[6];
    f->vehicles = (int32_t)v[7];
    f->vehicle_value_max_fen = v[8];
    f->properties = (int32_t)v[9];
    f->businesses = (int32_t)v[10];
    f->business_capital_max_fen = v[11];
    f->public_employees = (int32_t)v[12];
    f->staff_relatives = (int32_t)v[13];
    f->deceased = (int32_t)v[14];
    memcpy(row->division, rd->p, (size_t)v[15]);
    row->division[v[15]] = '\0';
    rd->p += v[15];
    rd->left--;
    return MZ_ROW;
}

static uint32_t flags_of(const char *text)
{
    uint32_t bits = 0;
    for (int k = 0; k < VF_NRULES && text; k++) {
        size_t l = strlen(vf_rule_items[k].code);
        for (const char *p = text; (p = strstr(p, vf_rule_items[k].code)) != NULL; p += l) {
            if ((p == text || p[-1] == ',') && (p[l] == ',' || p[l] == '\0')) {
                bits |= 1u << k;
                break;
            }
        }
    }
    return bits;
}

int vf_results_next(struct vf_result_reader *rd, struct vf_result_row *row)
{
    if (rd->packs)
        return next_packed(rd, row);
    int rc = mz_db_step(rd->st);
    if (rc != MZ_ROW)
        return rc;
    memset(row, 0, sizeof(*row));
    row->case_id = mz_db_col_int(rd->st, 0);
    row->household_id = mz_db_col_int(rd->st, 1);
    const char *div = mz_db_col_text(rd->st, 2);
    snprintf(row->division, sizeof(row->division), "%s", div ? div : "");
    row->member_count = (int)mz_db_col_int(rd->st, 3);
    row->flags = flags_of(mz_db_col_text(rd->st, 4));
    const char *oc = mz_db_col_text(rd->st, 5);
    for (int k = 0; k < 4; k++) {
        if (oc && strcmp(oc, vf_outcome_items[k].code) == 0)
            row->outcome = (enum vf_outcome)k;
    }
    json_error_t err;
    json_t *f = json_loads(mz_db_col_text(rd->st, 6) ? mz_db_col_text(rd->st, 6) : "{}", 0, &err);
    struct vf_figures *g = &row->fig;
    g->income_fen = json_integer_value(json_object_get(f, "income_fen"));
    g->financial_assets_fen = json_integer_value(json_object_get(f, "financial_assets_fen"));
    g->vehicles = (int32_t)json_integer_value(json_object_get(f, "vehicles"));
    g->vehicle_value_max_fen = json_integer_value(json_object_get(f, "vehicle_value_max_fen"));
    g->properties = (int32_t)json_integer_value(json_object_get(f, "properties"));
    g->businesses = (int32_t)json_integer_value(json_object_get(f, "businesses"));
    g->business_capital_max_fen =
        json_integer_value(json_object_get(f, "business_capital_max_fen"));
    g->public_employees = (int32_t)json_integer_value(json_object_get(f, "public_employees"));
    g->staff_relatives = (int32_t)json_integer_value(json_object_get(f, "staff_relatives"));
    g->deceased = (int32_t)json_integer_value(json_object_get(f, "deceased"));
    json_decref(f);
    return MZ_ROW;
}

void vf_results_close(struct vf_result_reader *rd)
{
    if (rd == NULL)
        return;
    mz_db_finalize(rd->st);
    free(rd->buf);
    free(rd);
}
