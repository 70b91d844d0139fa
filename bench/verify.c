/* bench/verify.c - the bulk re-check (全面复核) benchmark of issue 7.
 *
 *   build/bench/verify [--households N] [--dir DIR] [--runs K] [--sql-runs K]
 *                      [--reuse] [--keep] [--no-sqlite] [--no-pg] [--md FILE]
 *
 * Generates N households (default 1,000,000; 3 persons on average) as
 * active dibao cases in a minzheng database, plus about 20 source rows per
 * household across the 12 sources, written through the module's own store
 * (vf_store_write), and the signed authorisations of the adults. The same
 * source rows also go to plain tables (one row per source row, the blind
 * index as join key) in a second SQLite file. Then, in one run:
 *   (a) minzheng's engine: vf_bulk() on the database (its own store), in a
 *       child process so its peak RSS (getrusage) is its own; best of K runs;
 *   (b) the same rules as one SQL statement in SQLite over the plain tables;
 *   (c) the same statement in PostgreSQL: a throwaway cluster (initdb as
 *       `nobody` when root, loopback, temporary directory, removed at exit),
 *       tables loaded with COPY, indexed, analysed, parallel query on.
 * Every household's figures, flags and outcome must agree across the three;
 * the bench fails loudly (exit 1) otherwise. Times, ratios and peak RSS are
 * printed, and with --md written as a Markdown section for
 * docs/benchmarks.md (scripts/bench.sh).
 *
 * Data lives in DIR (default /tmp/minzheng-bench-verify): verify.db (+ key), plain.db;
 * removed at the end unless --keep. --reuse keeps existing data files.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "mz/cli.h"
#include "mz/crypto.h"
#include "mz/db.h"
#include "mz/engine.h"
#include "modules/verify/verify_internal.h"

#define AS_OF "2026-11-15"
#define AS_OF_INT 20261115
#define WINDOW_FROM 20251101
#define WINDOW_TO 20261101

static long households = 1000000;
static const char *dir = "/tmp/minzheng-bench-verify";
static int runs = 3, sql_runs = 1;
static bool reuse, keep, no_sqlite, no_pg;
static const char *md_path;
static char db_path[512], key_path[512], plain_path[512];

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench/verify: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    time_t t = time(NULL);
    char ts[16];
    strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
    printf("[%s] ", ts);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* --- deterministic randomness ------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct rng {
    uint64_t s;
};
static uint64_t rnd(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix(r->s);
}
static uint64_t below(struct rng *r, uint64_t n)
{
    return rnd(r) % n;
}
/* true with probability per10k / 10000 */
static bool chance(struct rng *r, unsigned per10k)
{
    return below(r, 10000) < per10k;
}

/* --- the synthetic population ------------------------------------------------------ */

struct street {
    char code[10], district[7];
};
static struct street *streets;
static int nstreets;

static void load_streets(void)
{
    FILE *f = fopen("data/tianjin-streets.csv", "r");
    if (f == NULL)
        die("cannot read data/tianjin-streets.csv (run from the repository root)");
    char line[256];
    int cap = 0;
    while (fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (c1 == NULL || c2 == NULL || c1 - line != 9 || line[0] < '0' || line[0] > '9')
            continue;
        if (nstreets == cap) {
            cap = cap ? cap * 2 : 512;
            streets = realloc(streets, (size_t)cap * sizeof(*streets));
        }
        memcpy(streets[nstreets].code, line, 9);
        streets[nstreets].code[9] = '\0';
        memcpy(streets[nstreets].district, c2 + 1, 6);
        streets[nstreets].district[6] = '\0';
        nstreets++;
    }
    fclose(f);
    if (nstreets == 0)
        die("no streets in data/tianjin-streets.csv");
}

/* Days since 1970-01-01 -> yyyymmdd (Howard Hinnant's civil_from_days). */
static int32_t civil(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return (int32_t)((y + (m <= 2)) * 10000 + m * 100 + d);
}

#define BIRTH_DAY0 (-10957) /* 1940-01-01 */
#define BIRTH_DAYS 31400    /* to 2025-12 */

struct person {
    unsigned char key[16];
    char id[19];
    int32_t birth;
    int street;
};
static struct person *P;
static long npersons, nbenef; /* beneficiaries first, then other residents */

/* Person i's ID number: (birth day, sequence) is a bijection of i, so every
 * ID number is distinct; the check digit follows GB 11643. */
static void make_person(long i, struct person *p)
{
    uint64_t q = (uint64_t)i * 2654435761u % (uint64_t)npersons; /* permutation when coprime */
    struct rng r = {mix((uint64_t)i + 77)};
    int64_t day = BIRTH_DAY0 + (int64_t)(q % BIRTH_DAYS);
    unsigned seq = (unsigned)(q / BIRTH_DAYS);
    p->birth = civil(day);
    p->street = (int)below(&r, (uint64_t)nstreets);
    snprintf(p->id, sizeof(p->id), "%s%08d%03u", streets[p->street].district, (int)p->birth,
             seq % 1000);
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int k = 0; k < 17; k++)
        sum += (p->id[k] - '0') * w[k];
    p->id[17] = "10X98765432"[sum % 11];
    p->id[18] = '\0';
    mz_crypto_blind_raw(VF_KEY_CONTEXT, p->id, 18, p->key);
}

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                    "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞", "平"};

static void person_name(long i, char out[16])
{
    uint64_t h = mix((uint64_t)i * 31 + 5);
    snprintf(out, 16, "%s%s%s", surnames[h % 20], given[(h >> 8) % 20],
             (h >> 16) % 3 ? given[(h >> 24) % 20] : "");
}

/* Household h: persons [hfirst(h), hfirst(h+1)); sizes pair up to 3 + 3. */
static long hsize(long h)
{
    static const int sz[8] = {1, 2, 2, 3, 3, 4, 4, 5};
    long pair = h / 2;
    int s = sz[mix((uint64_t)pair) % 8];
    return (h % 2 == 0) ? s : 6 - s;
}

static bool adult(int32_t birth)
{
    return birth > 0 && birth + 180000 <= AS_OF_INT;
}

/* The beneficiaries whose authorisation is missing (about 0.3 % of adults). */
static bool unauthorised(long i)
{
    return mix((uint64_t)i * 7 + 3) % 1000 < 3;
}

/* --- generation ------------------------------------------------------------------------ */

static void check(int rc, const char *what, struct mz_db *db)
{
    if (rc != MZ_OK && rc != MZ_DONE)
        die("%s: %s (%s)", what, mz_err_name(rc), db ? mz_db_errmsg(db) : "");
}

static void sq(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : "?");
}

static sqlite3_stmt *sq_prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("sqlite: %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

static void sq_step(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        die("sqlite step: %s", sqlite3_errmsg(db));
    sqlite3_reset(st);
}

/* One source's rows, built in memory then stored both ways. */
struct srcbuf {
    struct vf_parsed *rows;
    size_t n, cap;
    char *text;
    size_t tlen, tcap;
};

static void add_row(struct srcbuf *b, long person, int64_t a, int64_t bb, int32_t date,
                    int kind, const char *extra)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1 << 20;
        b->rows = realloc(b->rows, b->cap * sizeof(*b->rows));
        if (b->rows == NULL)
            die("out of memory");
    }
    char name[16], detail[128];
    person_name(person, name);
    int len = snprintf(detail, sizeof(detail), "%s\x1f%s%s%s", P[person].id, name,
                       extra ? "\x1f" : "", extra ? extra : "");
    if (b->tlen + (size_t)len > b->tcap) {
        b->tcap = b->tcap ? b->tcap * 2 : 1 << 24;
        b->text = realloc(b->text, b->tcap);
        if (b->text == NULL)
            die("out of memory");
    }
    memcpy(b->text + b->tlen, detail, (size_t)len);
    struct vf_parsed *p = &b->rows[b->n++];
    memset(p, 0, sizeof(*p));
    memcpy(p->row.key, P[person].key, 16);
    p->row.a = a;
    p->row.b = bb;
    p->row.date = date;
    p->row.kind = (uint16_t)kind;
    p->detail = (char *)(uintptr_t)b->tlen; /* an offset until the buffer stops moving */
    p->detail_len = (size_t)len;
    b->tlen += (size_t)len;
}

static int32_t month_date(int back) /* the month `back` months before 2026-11, as yyyymm01 */
{
    int y = 2026, m = 11 - back;
    while (m <= 0) {
        m += 12;
        y--;
    }
    return y * 10000 + m * 100 + 1;
}

/* Fill source s. Beneficiaries (persons [0, nbenef)) are poor: few earners,
 * small deposits; the other residents in the sources are better off. */
static void gen_source(enum vf_source_id s, struct srcbuf *b)
{
    char extra[64];
    for (long i = 0; i < npersons; i++) {
        struct rng r = {mix((uint64_t)i * 1000003 + (uint64_t)s * 7919)};
        bool ben = i < nbenef;
        switch (s) {
        case VF_SRC_HUKOU: {
            int kind = 1;
            int32_t date = 0;
            unsigned x = (unsigned)below(&r, 10000);
            if (x < 40) {
                kind = 2;
                date = x < 5 ? 0 : civil(19700 + (int64_t)below(&r, 1100)); /* 2023-12 .. 2026-12 */
            } else if (x < 140) {
                kind = 3;
                date = civil(18000 + (int64_t)below(&r, 2500));
            }
            add_row(b, i, 0, 0, date, kind, NULL);
            break;
        }
        case VF_SRC_CREMATION:
            if (chance(&r, 25)) {
                snprintf(extra, sizeof(extra), "天津市第%d殡仪馆", 1 + (int)below(&r, 3));
                add_row(b, i, 0, 0, civil(19400 + (int64_t)below(&r, 1400)), 0, extra);
            }
            break;
        case VF_SRC_VEHICLE: {
            int n = chance(&r, ben ? 200 : 3000) ? (chance(&r, 1200) ? 2 : 1) : 0;
            for (int k = 0; k < n; k++) {
                unsigned x = (unsigned)below(&r, 100);
                int kind = x < 70 ? 1 : x < 80 ? 2 : x < 95 ? 3 : 4;
                snprintf(extra, sizeof(extra), "津%c%05u", 'A' + (int)below(&r, 26),
                         (unsigned)below(&r, 100000));
                add_row(b, i, 100000 * (5 + (int64_t)below(&r, ben ? 75 : 300)), 0,
                        civil(14000 + (int64_t)below(&r, 6000)), kind, extra);
            }
            break;
        }
        case VF_SRC_REALESTATE: {
            int n = chance(&r, ben ? 1000 : 6000) ? (chance(&r, ben ? 1000 : 2500) ? 2 : 1) : 0;
            for (int k = 0; k < n; k++) {
                unsigned x = (unsigned)below(&r, 100);
                int kind = x < 85 ? 1 : x < 95 ? 2 : 3;
                snprintf(extra, sizeof(extra), "津(20%02d)不动产权第%07u号\x1f某区某路%u号",
                         10 + (int)below(&r, 16), (unsigned)below(&r, 10000000),
                         1 + (unsigned)below(&r, 999));
                add_row(b, i, 100 * (200000 + (int64_t)below(&r, 3000000)),
                        4000 + (int64_t)below(&r, 12000), 0, kind, extra);
            }
            break;
        }
        case VF_SRC_DEPOSIT: {
            int n = chance(&r, ben ? 5000 : 9000) ? 1 + (int)below(&r, 3) : 0;
            static const char *const banks[] = {"工商银行", "农业银行", "中国银行", "建设银行",
                                                "天津银行", "邮储银行"};
            for (int k = 0; k < n; k++) {
                uint64_t u = below(&r, 1000);
                int64_t bal = (int64_t)(u * u * u / 1000 * (ben ? 2 : 20) + below(&r, 100000));
                add_row(b, i, bal, 0, 20261031, 0, banks[below(&r, 6)]);
            }
            break;
        }
        case VF_SRC_SECURITIES:
            if (chance(&r, ben ? 100 : 1500))
                add_row(b, i, 100 * (int64_t)below(&r, 200000), 0, 20261031, 0, "中信证券");
            break;
        case VF_SRC_BUSINESS:
            if (chance(&r, ben ? 50 : 500)) {
                snprintf(extra, sizeof(extra), "91120000MA%08u\x1f天津某某商贸有限公司",
                         (unsigned)below(&r, 100000000));
                add_row(b, i, chance(&r, 2000) ? 0 : 100 * (10000 + (int64_t)below(&r, 1000000)),
                        0, 0, 1 + (int)below(&r, 3), extra);
            }
            break;
        case VF_SRC_TAX:
            if (chance(&r, ben ? 400 : 7000)) {
                int64_t base = 100 * (ben ? 800 + (int64_t)below(&r, 3200)
                                          : 3000 + (int64_t)below(&r, 12000));
                int months = chance(&r, 1000) ? 14 : 12 - (int)below(&r, 3) * chance(&r, 2000);
                for (int k = 1; k <= months; k++)
                    add_row(b, i, base + 100 * (int64_t)below(&r, 500), 0, month_date(k), 0, NULL);
            }
            break;
        case VF_SRC_SOCIAL_INSURANCE: {
            unsigned x = (unsigned)below(&r, 10000);
            unsigned pens = ben ? 500 : 2000, contrib = ben ? 100 : 2000;
            if (x < pens) { /* pensioners: 12 monthly payments */
                int64_t amt = 100 * (1000 + (int64_t)below(&r, 1600));
                for (int k = 1; k <= 12; k++)
                    add_row(b, i, amt, 0, month_date(k), 2, NULL);
            } else if (x < pens + contrib) { /* contributors */
                int64_t amt = 100 * (1800 + (int64_t)below(&r, 6000));
                for (int k = 1; k <= 13; k++)
                    add_row(b, i, amt + 1000 * k, 0, month_date(k), 1, NULL);
            } else if (x < pens + contrib + 30) { /* unemployment benefit */
                for (int k = 3; k <= 8; k++)
                    add_row(b, i, 150000, 0, month_date(k), 3, NULL);
            }
            break;
        }
        case VF_SRC_HOUSING_FUND:
            if (chance(&r, ben ? 50 : 2500)) {
                int64_t base = 100 * (1800 + (int64_t)below(&r, 8000));
                for (int k = 1; k <= 12; k++)
                    add_row(b, i, base, base * 12 / 100, month_date(k), 0, NULL);
            }
            break;
        case VF_SRC_PUBLIC_EMPLOYEE:
            if (below(&r, (uint64_t)npersons) < 400)
                add_row(b, i, 0, 0, 0, 0, "某区某局\x1f科员");
            break;
        case VF_SRC_STAFF_RELATIVES:
            if (below(&r, (uint64_t)npersons) < 250)
                add_row(b, i, 0, 0, 0, 1 + (int)below(&r, 6), "张某\x1f某街道办事处");
            break;
        case VF_NSOURCES:
            break;
        }
    }
    for (size_t k = 0; k < b->n; k++)
        b->rows[k].detail = b->text + (uintptr_t)b->rows[k].detail;
}

static void generate(void)
{
    double t0 = now_s();
    struct mz_app app;
    if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK)
        die("mz_app_init");
    struct mz_db *db = NULL;
    if (mz_cli_open("bench", &app, db_path, key_path, true, &db) != 0)
        die("cannot create %s", db_path);
    sqlite3 *pl;
    if (sqlite3_open(plain_path, &pl) != SQLITE_OK)
        die("cannot create %s", plain_path);
    sq(pl, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;"
           "CREATE TABLE persons (id INTEGER PRIMARY KEY, key BLOB NOT NULL, birth INTEGER NOT NULL);"
           "CREATE TABLE members (case_id INTEGER NOT NULL, person_id INTEGER NOT NULL);"
           "CREATE TABLE cases (id INTEGER PRIMARY KEY, division TEXT, zone TEXT);"
           "CREATE TABLE auths (key BLOB NOT NULL);"
           "CREATE TABLE src_rows (src INTEGER NOT NULL, key BLOB NOT NULL, a INTEGER NOT NULL,"
           " b INTEGER NOT NULL, d INTEGER NOT NULL, kind INTEGER NOT NULL);"
           "BEGIN");

    /* Persons: the beneficiaries of the households, then other residents
     * (about one in seven of the source rows' persons is not a beneficiary). */
    nbenef = 0;
    for (long h = 0; h < households; h++)
        nbenef += hsize(h);
    npersons = nbenef + nbenef / 6; /* 2654435761 is prime: i -> i * it mod npersons is a bijection */
    P = calloc((size_t)npersons, sizeof(*P));
    if (P == NULL)
        die("out of memory");
    for (long i = 0; i < npersons; i++)
        make_person(i, &P[i]);
    say("persons: %ld (%ld beneficiaries) built in %.1f s", npersons, nbenef, now_s() - t0);

    /* Bulk loading: a large cache, and the secondary indexes of the tables
     * filled here dropped now and made again at the end (sorting once). */
    mz_db_exec(db, "PRAGMA cache_size=-2000000");
    char **ddl = NULL;
    int nddl = 0;
    {
        struct mz_stmt *q;
        check(mz_db_prepare(db,
                            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS"
                            " NOT NULL AND tbl_name IN ('persons', 'households',"
                            " 'assistance_cases', 'verify_authorisations')",
                            &q),
              "indexes", db);
        char **names = NULL;
        while (mz_db_step(q) == MZ_ROW) {
            ddl = realloc(ddl, (size_t)(nddl + 1) * sizeof(char *));
            names = realloc(names, (size_t)(nddl + 1) * sizeof(char *));
            names[nddl] = strdup(mz_db_col_text(q, 0));
            ddl[nddl++] = strdup(mz_db_col_text(q, 1));
        }
        mz_db_done(q);
        for (int k = 0; k < nddl; k++) {
            char sql[256];
            snprintf(sql, sizeof(sql), "DROP INDEX \"%s\"", names[k]);
            check(mz_db_exec(db, sql), "drop index", db);
            free(names[k]);
        }
        free(names);
    }
    char now[32];
    mz_now_rfc3339(now);
    check(mz_db_begin_write(db), "begin", db);
    struct mz_stmt *st;
    check(mz_db_prepare(db,
                        "INSERT INTO persons (id, created_at, updated_at, created_by, updated_by,"
                        " id_number_bidx, name, sex, birth_date, hukou_division, residence_division)"
                        " VALUES (?, ?, ?, 'bench', 'bench', ?, ?, ?, ?, ?, ?)",
                        &st),
          "prepare persons", db);
    sqlite3_stmt *pst = sq_prep(pl, "INSERT INTO persons VALUES (?, ?, ?)");
    for (long i = 0; i < npersons; i++) {
        char hex[33], name[16], birth[11], div[13];
        for (int k = 0; k < 16; k++)
            snprintf(hex + 2 * k, 3, "%02x", P[i].key[k]);
        person_name(i, name);
        vf_date_text(P[i].birth, birth);
        snprintf(div, sizeof(div), "%s%03d", streets[P[i].street].code, 1 + (int)(i % 20));
        mz_db_bind_int(st, 1, i + 1);
        mz_db_bind_text(st, 2, now);
        mz_db_bind_text(st, 3, now);
        mz_db_bind_text(st, 4, hex);
        mz_db_bind_text(st, 5, name);
        mz_db_bind_text(st, 6, (P[i].id[16] - '0') % 2 ? "male" : "female");
        mz_db_bind_text(st, 7, birth);
        mz_db_bind_text(st, 8, div);
        mz_db_bind_text(st, 9, div);
        check(mz_db_step(st), "insert person", db);
        mz_db_reset(st);
        sqlite3_bind_int64(pst, 1, i + 1);
        sqlite3_bind_blob(pst, 2, P[i].key, 16, SQLITE_STATIC);
        sqlite3_bind_int(pst, 3, P[i].birth);
        sq_step(pl, pst);
    }
    mz_db_done(st);
    sqlite3_finalize(pst);
    say("persons inserted (%.1f s)", now_s() - t0);

    /* Households and their cases; authorisations of the adults. */
    struct mz_stmt *hst, *cst, *ast;
    check(mz_db_prepare(db,
                        "INSERT INTO households (id, created_at, updated_at, created_by, updated_by,"
                        " kind, division, address, head_person_id)"
                        " VALUES (?, ?, ?, 'bench', 'bench', 'family', ?, ?, ?)",
                        &hst),
          "prepare households", db);
    check(mz_db_prepare(db,
                        "INSERT INTO assistance_cases (id, created_at, updated_at, created_by,"
                        " updated_by, state, program, household_id, applicant_person_id,"
                        " payee_person_id, division, hukou_division, residence_division, zone,"
                        " members, member_count, start_month, reason, monthly_benefit_fen)"
                        " VALUES (?, ?, ?, 'bench', 'bench', 'paying', 'dibao', ?, ?, ?, ?, ?, ?,"
                        " ?, ?, ?, '2024-03', '家庭人均收入低于当地低保标准', ?)",
                        &cst),
          "prepare cases", db);
    check(mz_db_prepare(db,
                        "INSERT INTO verify_authorisations (created_at, updated_at, created_by,"
                        " updated_by, name, household_id, signed_on, valid_until, scan, division,"
                        " person_key) VALUES (?, ?, 'bench', 'bench', ?, ?, '2026-03-01',"
                        " '2027-02-28', 'scans/auth.pdf', ?, ?)",
                        &ast),
          "prepare authorisations", db);
    sqlite3_stmt *mst = sq_prep(pl, "INSERT INTO members VALUES (?, ?)");
    sqlite3_stmt *cpst = sq_prep(pl, "INSERT INTO cases VALUES (?, ?, ?)");
    sqlite3_stmt *apst = sq_prep(pl, "INSERT INTO auths VALUES (?)");
    long first = 0, nauth = 0;
    char *members = malloc(4096);
    static const char *const rel[] = {"本人", "配偶", "子女", "父母", "其他"};
    for (long h = 0; h < households; h++) {
        long n = hsize(h);
        const struct street *s = &streets[P[first].street];
        char div[13], addr[64];
        snprintf(div, sizeof(div), "%s%03d", s->code, 1 + (int)(h % 20));
        snprintf(addr, sizeof(addr), "天津市某区某路%ld号", h % 997 + 1);
        const char *zone = strncmp(s->district, "12010", 5) == 0 ? "urban" : "rural";
        size_t len = 0;
        members[len++] = '[';
        for (long k = 0; k < n; k++) {
            char name[16];
            person_name(first + k, name);
            len += (size_t)snprintf(members + len, 4096 - len,
                                    "%s{\"person_id\":%ld,\"name\":\"%s\",\"relation\":\"%s\","
                                    "\"monthly_income_fen\":%d,\"authorisation_scan\":"
                                    "\"scans/%ld.pdf\"}",
                                    k ? "," : "", first + k + 1, name, rel[k < 4 ? k : 4],
                                    (int)(k * 50000), first + k + 1);
        }
        members[len++] = ']';
        members[len] = '\0';
        mz_db_bind_int(hst, 1, h + 1);
        mz_db_bind_text(hst, 2, now);
        mz_db_bind_text(hst, 3, now);
        mz_db_bind_text(hst, 4, div);
        mz_db_bind_text(hst, 5, addr);
        mz_db_bind_int(hst, 6, first + 1);
        check(mz_db_step(hst), "insert household", db);
        mz_db_reset(hst);
        mz_db_bind_int(cst, 1, h + 1);
        mz_db_bind_text(cst, 2, now);
        mz_db_bind_text(cst, 3, now);
        mz_db_bind_int(cst, 4, h + 1);
        mz_db_bind_int(cst, 5, first + 1);
        mz_db_bind_int(cst, 6, first + 1);
        mz_db_bind_text(cst, 7, div);
        mz_db_bind_text(cst, 8, div);
        mz_db_bind_text(cst, 9, div);
        mz_db_bind_text(cst, 10, zone);
        mz_db_bind_text(cst, 11, members);
        mz_db_bind_int(cst, 12, n);
        mz_db_bind_int(cst, 13, 50000 * n);
        check(mz_db_step(cst), "insert case", db);
        mz_db_reset(cst);
        sqlite3_bind_int64(cpst, 1, h + 1);
        sqlite3_bind_text(cpst, 2, div, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cpst, 3, zone, -1, SQLITE_STATIC);
        sq_step(pl, cpst);
        for (long k = 0; k < n; k++) {
            long i = first + k;
            sqlite3_bind_int64(mst, 1, h + 1);
            sqlite3_bind_int64(mst, 2, i + 1);
            sq_step(pl, mst);
            if (!adult(P[i].birth) || unauthorised(i))
                continue;
            char hex[33], name[16];
            for (int j = 0; j < 16; j++)
                snprintf(hex + 2 * j, 3, "%02x", P[i].key[j]);
            person_name(i, name);
            mz_db_bind_text(ast, 1, now);
            mz_db_bind_text(ast, 2, now);
            mz_db_bind_text(ast, 3, name);
            mz_db_bind_int(ast, 4, h + 1);
            mz_db_bind_text(ast, 5, div);
            mz_db_bind_text(ast, 6, hex);
            check(mz_db_step(ast), "insert authorisation", db);
            mz_db_reset(ast);
            sqlite3_bind_blob(apst, 1, P[i].key, 16, SQLITE_STATIC);
            sq_step(pl, apst);
            nauth++;
        }
        first += n;
    }
    free(members);
    mz_db_done(hst);
    mz_db_done(cst);
    mz_db_done(ast);
    sqlite3_finalize(mst);
    sqlite3_finalize(cpst);
    sqlite3_finalize(apst);
    check(mz_db_commit(db), "commit", db);
    for (int k = 0; k < nddl; k++) {
        check(mz_db_exec(db, ddl[k]), "create index", db);
        free(ddl[k]);
    }
    free(ddl);
    say("households, cases and %ld authorisations inserted, indexed (%.1f s)", nauth,
        now_s() - t0);

    /* The sources: one batch each, through the module's store. */
    sqlite3_stmt *rst = sq_prep(pl, "INSERT INTO src_rows VALUES (?, ?, ?, ?, ?, ?)");
    long total = 0;
    for (int s = 0; s < VF_NSOURCES; s++) {
        struct srcbuf b = {0};
        gen_source((enum vf_source_id)s, &b);
        check(mz_db_begin_write(db), "begin", db);
        const void *vals[] = {"active", vf_sources[s].code, vf_sources[s].department,
                              "2026-10-31", "file", "bench.csv", &(int64_t){(int64_t)b.n},
                              &(int64_t){(int64_t)b.n}, &(int64_t){0}, "120000000000"};
        int64_t batch_id = 0;
        struct mz_arena *a = mz_arena_new();
        check(vf_insert_row(db, a, "bench", "verify_batches",
                            "state, source, department, as_of, channel, file_name, rows_total,"
                            " rows_accepted, rows_rejected, division",
                            10, "tttttt" "iiit", vals, &batch_id),
              "insert batch", db);
        mz_arena_free(a);
        check(vf_store_write(db, batch_id, (enum vf_source_id)s, b.rows, b.n), "store", db);
        check(mz_db_commit(db), "commit", db);
        for (size_t k = 0; k < b.n; k++) {
            const struct vf_row *r = &b.rows[k].row;
            sqlite3_bind_int(rst, 1, s);
            sqlite3_bind_blob(rst, 2, r->key, 16, SQLITE_STATIC);
            sqlite3_bind_int64(rst, 3, r->a);
            sqlite3_bind_int64(rst, 4, r->b);
            sqlite3_bind_int(rst, 5, r->date);
            sqlite3_bind_int(rst, 6, r->kind);
            sq_step(pl, rst);
        }
        total += (long)b.n;
        say("source %-16s %9zu rows (%.1f s)", vf_sources[s].code, b.n, now_s() - t0);
        free(b.rows);
        free(b.text);
    }
    sqlite3_finalize(rst);
    sq(pl, "COMMIT");
    say("plain tables: indexing");
    sq(pl, "CREATE INDEX ix_src_rows_key ON src_rows (key, src, d, kind, a);"
           "CREATE INDEX ix_members_case ON members (case_id, person_id);"
           "CREATE INDEX ix_auths_key ON auths (key);"
           "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER);");
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta VALUES ('households', %ld), ('persons', %ld), ('beneficiaries', %ld),"
             " ('rows', %ld), ('authorisations', %ld); ANALYZE;",
             households, npersons, nbenef, total, nauth);
    sq(pl, sql);
    sqlite3_close(pl);
    mz_db_exec(db, "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)");
    mz_db_close(db);
    mz_app_free(&app);
    free(P);
    say("generated %ld households, %ld persons, %ld source rows in %.1f s", households, npersons,
        total, now_s() - t0);
}

/* --- results ------------------------------------------------------------------------------ */

struct res {
    int64_t income, assets, vmax, capmax;
    int32_t n, vehicles, properties, businesses, pe, sr, dead;
    int32_t flags, outcome;
    bool seen;
};

static const char *const fig_names[] = {"members", "income", "assets", "vehicles", "vehicle max",
                                        "properties", "businesses", "capital max",
                                        "public employees", "staff relatives", "deceased",
                                        "flags", "outcome"};

static void res_values(const struct res *r, int64_t v[13])
{
    int64_t t[13] = {r->n,   r->income,     r->assets, r->vehicles, r->vmax,  r->properties,
                     r->businesses, r->capmax, r->pe,       r->sr,   r->dead, r->flags,
                     r->outcome};
    memcpy(v, t, sizeof(t));
}

/* Compare b against a; prints the first differences; returns how many households differ. */
static long compare(const char *an, const struct res *a, const char *bn, const struct res *b,
                    long n)
{
    long bad = 0;
    for (long i = 1; i <= n; i++) {
        int64_t x[13], y[13];
        res_values(&a[i], x);
        res_values(&b[i], y);
        bool differ = a[i].seen != b[i].seen || memcmp(x, y, sizeof(x)) != 0;
        if (!differ)
            continue;
        if (bad++ < 10) {
            fprintf(stderr, "MISMATCH case %ld (%s %s, %s %s):", i, an,
                    a[i].seen ? "has it" : "lacks it", bn, b[i].seen ? "has it" : "lacks it");
            for (int k = 0; k < 13; k++) {
                if (x[k] != y[k])
                    fprintf(stderr, " %s %lld vs %lld;", fig_names[k], (long long)x[k],
                            (long long)y[k]);
            }
            fprintf(stderr, "\n");
        }
    }
    return bad;
}

/* Pipe messages from the engine's child. */
struct engine_out {
    double seconds, cpu_s;
    long maxrss_kb;
    int64_t request_id;
    int rc;
    double phase[8];
};

static double phase_t0, phase_last;
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double *phase_slot;
static void on_progress(void *ctx, const char *phase, int64_t done, int64_t total)
{
    (void)ctx;
    (void)total;
    static const char *const names[] = {"cases", "persons", "authorisations", "sources",
                                        "rules", "store", "done"};
    double t = getenv("BENCH_CPU_PHASES") ? cpu_now() : now_s();
    for (int k = 0; k < 7; k++) {
        if (strcmp(phase, names[k]) == 0 && done == 0 && phase_slot) {
            phase_slot[k] = t - phase_t0;
        }
    }
    phase_last = t;
}

static struct engine_out engine_run(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(fds[0]);
        struct engine_out o = {0};
        struct mz_app app;
        if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK)
            _exit(3);
        struct mz_db *db = NULL;
        if (mz_cli_open("bench", &app, db_path, key_path, false, &db) != 0)
            _exit(3);
        struct mz_arena *a = mz_arena_new();
        struct vf_bulk_opts opts = {.program = "dibao", .as_of = AS_OF, .lo = "120000000000",
                                    .hi = "121000000000", .actor = "bench", .note = "bench",
                                    .progress = on_progress, .read_committed = true};
        phase_slot = o.phase;
        double t0 = now_s();
        phase_t0 = getenv("BENCH_CPU_PHASES") ? cpu_now() : t0;
        json_t *summary = NULL;
        o.rc = mz_db_begin_write(db);
        if (o.rc == MZ_OK)
            o.rc = vf_bulk(db, a, &opts, &o.request_id, &summary);
        if (o.rc == MZ_OK)
            o.rc = mz_db_commit(db);
        else
            mz_db_rollback(db);
        o.seconds = now_s() - t0;
        o.phase[7] = o.seconds;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        o.maxrss_kb = ru.ru_maxrss;
        o.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        json_decref(summary);
        mz_arena_free(a);
        mz_db_close(db);
        mz_app_free(&app);
        if (write(fds[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
            _exit(4);
        _exit(0);
    }
    close(fds[1]);
    struct engine_out o = {.rc = -999};
    if (read(fds[0], &o, sizeof(o)) != (ssize_t)sizeof(o))
        o.rc = -998;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || o.rc != MZ_OK)
        die("the engine run failed (%s, status %d)", mz_err_name(o.rc), status);
    return o;
}

/* Read the stored results of a bulk request. */
static void engine_results(int64_t request_id, struct res *out, long n)
{
    struct mz_app app;
    if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK)
        die("mz_app_init");
    struct mz_db *db = NULL;
    if (mz_cli_open("bench", &app, db_path, key_path, false, &db) != 0)
        die("open");
    struct vf_result_reader *rd = NULL;
    check(vf_results_open(db, request_id, &rd), "results open", db);
    struct vf_result_row rr;
    int rc;
    while ((rc = vf_results_next(rd, &rr)) == MZ_ROW) {
        if (rr.case_id < 1 || rr.case_id > n)
            die("result for unknown case %lld", (long long)rr.case_id);
        struct res *r = &out[rr.case_id];
        r->seen = true;
        r->n = rr.member_count;
        r->income = rr.fig.income_fen;
        r->assets = rr.fig.financial_assets_fen;
        r->vehicles = rr.fig.vehicles;
        r->vmax = rr.fig.vehicle_value_max_fen;
        r->properties = rr.fig.properties;
        r->businesses = rr.fig.businesses;
        r->capmax = rr.fig.business_capital_max_fen;
        r->pe = rr.fig.public_employees;
        r->sr = rr.fig.staff_relatives;
        r->dead = rr.fig.deceased;
        r->flags = (int32_t)rr.flags;
        r->outcome = (int32_t)rr.outcome;
    }
    check(rc, "results read", db);
    vf_results_close(rd);
    mz_db_close(db);
    mz_app_free(&app);
}

/* --- the rules as SQL --------------------------------------------------------------------- */

struct thresholds {
    int64_t std_fen, percent, months, veh_count, veh_value, prop_count, bus_count, bus_value,
        pe_count, sr_count, dead_count;
    bool refuse[VF_NRULES];
};

static void read_rules(struct thresholds *t)
{
    struct mz_app app;
    if (mz_app_init(&app, db_path, NULL, 0) != MZ_OK)
        die("mz_app_init");
    struct mz_db *db = NULL;
    if (mz_cli_open("bench", &app, db_path, key_path, false, &db) != 0)
        die("open");
    struct vf_rule r[VF_NRULES];
    for (int k = 0; k < VF_NRULES; k++) {
        check(vf_rule_lookup(db, "dibao", (enum vf_rule_id)k, "120101001001", AS_OF, &r[k]),
              "rule", db);
        if (!r[k].found || !r[k].enabled)
            die("the bench expects every dibao rule enabled at city level");
        t->refuse[k] = r[k].refuse;
    }
    int64_t std = 0;
    check(mz_db_query_int(db,
                          "SELECT amount_fen FROM assistance_standards WHERE program = 'dibao'"
                          " AND division = '120000000000' AND zone = 'all' AND valid_from <= '"
                          AS_OF "' AND deleted_at IS NULL ORDER BY valid_from DESC LIMIT 1",
                          &std, 0, NULL),
          "standard", db);
    t->std_fen = std;
    t->percent = r[VF_R_INCOME].percent;
    t->months = r[VF_R_ASSETS].months;
    t->veh_count = r[VF_R_VEHICLES].count_limit;
    t->veh_value = r[VF_R_VEHICLES].value_limit_fen;
    t->prop_count = r[VF_R_PROPERTY].count_limit;
    t->bus_count = r[VF_R_BUSINESS].count_limit;
    t->bus_value = r[VF_R_BUSINESS].value_limit_fen;
    t->pe_count = r[VF_R_PUBLIC_EMPLOYEE].count_limit;
    t->sr_count = r[VF_R_STAFF_RELATIVE].count_limit;
    t->dead_count = r[VF_R_DECEASED].count_limit;
    mz_db_close(db);
    mz_app_free(&app);
}

/* One statement, two dialects (pg: GREATEST, uuid keys; sqlite: max()). The
 * per-person figures are a join of the beneficiaries to their source rows
 * with conditional aggregates; then per household; then the rules. */
static char *rules_sql(const struct thresholds *t, bool pg)
{
    char *sql = NULL;
    const char *greatest = pg ? "GREATEST" : "max";
    char sev_refuse[256] = "", sev_review[256] = "";
    static const char *const bit_expr[VF_NRULES] = {"fi", "fa", "fv", "fp", "fb", "fe", "fs", "fd"};
    for (int k = 0; k < VF_NRULES; k++) {
        char *dst = t->refuse[k] ? sev_refuse : sev_review;
        snprintf(dst + strlen(dst), 256 - strlen(dst), "%s%s", *dst ? " + " : "", bit_expr[k]);
    }
    if (!*sev_refuse)
        strcpy(sev_refuse, "0");
    if (!*sev_review)
        strcpy(sev_review, "0");
    int n = asprintf(
        &sql,
        "WITH ben AS (SELECT DISTINCT person_id FROM members),"
        " pf AS (SELECT p.id AS pid, p.birth, p.key AS pkey,"
        "  CAST(coalesce(sum(r.a) FILTER (WHERE r.src = 7 AND r.d >= %d AND r.d < %d), 0) AS BIGINT) AS tax_sum,"
        "  count(*) FILTER (WHERE r.src = 7 AND r.d >= %d AND r.d < %d) AS tax_n,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 8 AND r.kind = 1 AND r.d >= %d AND r.d < %d), 0) AS si,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 8 AND r.kind = 2 AND r.d >= %d AND r.d < %d), 0) AS pension,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 8 AND r.kind = 3 AND r.d >= %d AND r.d < %d), 0) AS unemp,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 9 AND r.d >= %d AND r.d < %d), 0) AS hf,"
        "  CAST(coalesce(sum(r.a) FILTER (WHERE r.src IN (4, 5)), 0) AS BIGINT) AS assets,"
        "  count(*) FILTER (WHERE r.src = 2 AND r.kind IN (1, 2)) AS veh,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 2 AND r.kind IN (1, 2)), 0) AS vmax,"
        "  count(*) FILTER (WHERE r.src = 3 AND r.kind = 1) AS res,"
        "  count(*) FILTER (WHERE r.src = 6) AS bus,"
        "  coalesce(max(r.a) FILTER (WHERE r.src = 6), 0) AS cap,"
        "  count(*) FILTER (WHERE r.src = 10) AS pe,"
        "  count(*) FILTER (WHERE r.src = 11) AS sr,"
        "  count(*) FILTER (WHERE (r.src = 0 AND r.kind = 2 AND r.d <= %d)"
        "                     OR (r.src = 1 AND r.d > 0 AND r.d <= %d)) AS dead"
        "  FROM ben JOIN persons p ON p.id = ben.person_id"
        "  LEFT JOIN src_rows r ON r.key = p.key GROUP BY p.id, p.birth, p.key),"
        " pi AS (SELECT pid,"
        "  %s(CASE WHEN tax_n > 0 THEN tax_sum / tax_n ELSE 0 END, si, hf) + pension + unemp AS income,"
        "  assets, veh, vmax, res, bus, cap,"
        "  CASE WHEN pe > 0 THEN 1 ELSE 0 END AS pe, CASE WHEN sr > 0 THEN 1 ELSE 0 END AS sr,"
        "  CASE WHEN dead > 0 THEN 1 ELSE 0 END AS dead,"
        "  CASE WHEN birth + 180000 <= %d AND NOT EXISTS (SELECT 1 FROM auths a WHERE a.key = pf.pkey)"
        "   THEN 1 ELSE 0 END AS unauth"
        "  FROM pf),"
        " hh AS (SELECT m.case_id, count(*) AS n, sum(income) AS income, sum(assets) AS assets,"
        "  sum(veh) AS veh, max(vmax) AS vmax, sum(res) AS res, sum(bus) AS bus, max(cap) AS cap,"
        "  sum(pe) AS pe, sum(sr) AS sr, sum(dead) AS dead, max(unauth) AS unauth"
        "  FROM members m JOIN pi ON pi.pid = m.person_id GROUP BY m.case_id),"
        " fl AS (SELECT hh.*,"
        "  CASE WHEN income * 100 > %lld * n * %lld THEN 1 ELSE 0 END AS fi,"
        "  CASE WHEN assets > %lld * n * %lld THEN 1 ELSE 0 END AS fa,"
        "  CASE WHEN veh > %lld OR (%lld > 0 AND vmax > %lld) THEN 1 ELSE 0 END AS fv,"
        "  CASE WHEN res > %lld THEN 1 ELSE 0 END AS fp,"
        "  CASE WHEN bus > %lld AND cap >= %lld THEN 1 ELSE 0 END AS fb,"
        "  CASE WHEN pe > %lld THEN 1 ELSE 0 END AS fe,"
        "  CASE WHEN sr > %lld THEN 1 ELSE 0 END AS fs,"
        "  CASE WHEN dead > %lld THEN 1 ELSE 0 END AS fd FROM hh)"
        " SELECT case_id, n, income, assets, veh, vmax, res, bus, cap, pe, sr, dead,"
        "  fi + 2 * fa + 4 * fv + 8 * fp + 16 * fb + 32 * fe + 64 * fs + 128 * fd,"
        "  CASE WHEN unauth = 1 THEN 3 WHEN %s > 0 THEN 2 WHEN %s > 0 THEN 1 ELSE 0 END"
        " FROM fl ORDER BY case_id",
        WINDOW_FROM, WINDOW_TO, WINDOW_FROM, WINDOW_TO, WINDOW_FROM, WINDOW_TO, WINDOW_FROM,
        WINDOW_TO, WINDOW_FROM, WINDOW_TO, WINDOW_FROM, WINDOW_TO, AS_OF_INT, AS_OF_INT, greatest,
        AS_OF_INT, (long long)t->std_fen, (long long)t->percent, (long long)t->std_fen,
        (long long)t->months, (long long)t->veh_count, (long long)t->veh_value,
        (long long)t->veh_value, (long long)t->prop_count, (long long)t->bus_count,
        (long long)t->bus_value, (long long)t->pe_count, (long long)t->sr_count,
        (long long)t->dead_count, sev_refuse, sev_review);
    if (n < 0)
        die("out of memory");
    return sql;
}

static void fill_res(struct res *r, const int64_t v[14])
{
    r->seen = true;
    r->n = (int32_t)v[1];
    r->income = v[2];
    r->assets = v[3];
    r->vehicles = (int32_t)v[4];
    r->vmax = v[5];
    r->properties = (int32_t)v[6];
    r->businesses = (int32_t)v[7];
    r->capmax = v[8];
    r->pe = (int32_t)v[9];
    r->sr = (int32_t)v[10];
    r->dead = (int32_t)v[11];
    r->flags = (int32_t)v[12];
    r->outcome = (int32_t)v[13];
}

static double sqlite_run(const char *sql, struct res *out, long n)
{
    sqlite3 *pl;
    if (sqlite3_open_v2(plain_path, &pl, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("open %s", plain_path);
    sq(pl, "PRAGMA cache_size=-1048576; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=8589934592");
    double t0 = now_s();
    sqlite3_stmt *st = sq_prep(pl, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v[14];
        for (int k = 0; k < 14; k++)
            v[k] = sqlite3_column_int64(st, k);
        if (v[0] < 1 || v[0] > n)
            die("sqlite: unknown case %lld", (long long)v[0]);
        fill_res(&out[v[0]], v);
    }
    if (rc != SQLITE_DONE)
        die("sqlite query: %s", sqlite3_errmsg(pl));
    double took = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(pl);
    return took;
}

/* --- PostgreSQL ------------------------------------------------------------------------------ */

static char pg_dir[256], pg_bin[256];
static int pg_port;
static bool pg_started;
static pid_t main_pid;

static void run_as_pg(const char *cmd)
{
    char full[2048];
    if (geteuid() == 0)
        snprintf(full, sizeof(full), "runuser -u nobody -- %s", cmd);
    else
        snprintf(full, sizeof(full), "%s", cmd);
    if (system(full) != 0)
        die("command failed: %s", full);
}

static void pg_stop(void)
{
    if (getpid() != main_pid)
        return;
    if (pg_started) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s/pg_ctl -D %s/data -m immediate -w stop >/dev/null 2>&1",
                 pg_bin, pg_dir);
        char full[1200];
        snprintf(full, sizeof(full), "%s%s", geteuid() == 0 ? "runuser -u nobody -- " : "", cmd);
        if (system(full) != 0)
            fprintf(stderr, "bench/verify: stopping the PostgreSQL cluster failed\n");
        pg_started = false;
    }
    if (pg_dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pg_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench/verify: could not remove %s\n", pg_dir);
        pg_dir[0] = '\0';
    }
}

static void on_signal(int sig)
{
    (void)sig;
    exit(130); /* runs pg_stop through atexit */
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0)
        die("no free port");
    close(s);
    return ntohs(a.sin_port);
}

static PGconn *pg_connect(void)
{
    char ci[256];
    snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=%s dbname=postgres", pg_port,
             geteuid() == 0 ? "nobody" : getpwuid(geteuid())->pw_name);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        die("pg connect: %s", PQerrorMessage(c));
    return c;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die("pg: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static void pg_start(void)
{
    const char *env = getenv("MZ_PG_BINDIR");
    if (env)
        snprintf(pg_bin, sizeof(pg_bin), "%s", env);
    else {
        for (int v = 20; v >= 12 && !pg_bin[0]; v--) {
            char p[128];
            snprintf(p, sizeof(p), "/usr/lib/postgresql/%d/bin/initdb", v);
            if (access(p, X_OK) == 0)
                snprintf(pg_bin, sizeof(pg_bin), "/usr/lib/postgresql/%d/bin", v);
        }
    }
    if (!pg_bin[0])
        die("initdb not found (apt-get install postgresql)");
    /* The cluster runs as nobody when we are root, and nobody cannot reach
     * /root: its directory is a fresh one under /tmp, removed at exit. */
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/mz-bench-pg-XXXXXX");
    if (mkdtemp(pg_dir) == NULL)
        die("mkdtemp: %s", strerror(errno));
    chmod(pg_dir, 0755);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        if (pw == NULL || chown(pg_dir, pw->pw_uid, pw->pw_gid) != 0)
            die("chown %s", pg_dir);
    }
    pg_port = free_port();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "%s/initdb -D %s/data -A trust -U %s -E UTF8 --locale=C.UTF-8 >%s/initdb.log 2>&1",
             pg_bin, pg_dir, geteuid() == 0 ? "nobody" : getpwuid(geteuid())->pw_name, pg_dir);
    run_as_pg(cmd);
    snprintf(cmd, sizeof(cmd),
             "%s/pg_ctl -D %s/data -l %s/server.log -w -t 60 -o \"-p %d -k %s"
             " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
             " -c full_page_writes=off -c shared_buffers=4GB -c work_mem=1GB"
             " -c maintenance_work_mem=2GB -c max_wal_size=8GB -c max_worker_processes=8"
             " -c max_parallel_workers=2 -c max_parallel_workers_per_gather=2"
             " -c max_parallel_maintenance_workers=2 -c effective_cache_size=16GB"
             " -c random_page_cost=1.1\" start >/dev/null 2>&1",
             pg_bin, pg_dir, pg_dir, pg_port, pg_dir);
    run_as_pg(cmd);
    pg_started = true;
}

static char *hex_uuid(const unsigned char *k, char out[37])
{
    static const char hx[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hx[k[i] >> 4];
        out[o++] = hx[k[i] & 15];
    }
    out[o] = '\0';
    return out;
}

/* COPY one table of plain.db into PostgreSQL (text format). */
static void pg_copy(PGconn *c, sqlite3 *pl, const char *table, const char *select, int ncols,
                    const bool *is_key)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("pg copy %s: %s", table, PQerrorMessage(c));
    PQclear(r);
    sqlite3_stmt *st = sq_prep(pl, select);
    char *buf = malloc(1 << 20);
    size_t len = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int k = 0; k < ncols; k++) {
            if (is_key[k]) {
                char u[37];
                const unsigned char *b = sqlite3_column_blob(st, k);
                len += (size_t)snprintf(buf + len, 64, "%s", hex_uuid(b, u));
            } else {
                const unsigned char *t = sqlite3_column_text(st, k);
                len += (size_t)snprintf(buf + len, 64, "%s", t ? (const char *)t : "\\N");
            }
            buf[len++] = k + 1 < ncols ? '\t' : '\n';
        }
        if (len > (1 << 20) - 1024) {
            if (PQputCopyData(c, buf, (int)len) != 1)
                die("pg copy data: %s", PQerrorMessage(c));
            len = 0;
        }
    }
    if (len && PQputCopyData(c, buf, (int)len) != 1)
        die("pg copy data: %s", PQerrorMessage(c));
    if (PQputCopyEnd(c, NULL) != 1)
        die("pg copy end: %s", PQerrorMessage(c));
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("pg copy %s: %s", table, PQerrorMessage(c));
    PQclear(r);
    sqlite3_finalize(st);
    free(buf);
}

static double pg_load(PGconn *c)
{
    double t0 = now_s();
    sqlite3 *pl;
    if (sqlite3_open_v2(plain_path, &pl, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("open %s", plain_path);
    pg_exec(c, "CREATE UNLOGGED TABLE persons (id bigint PRIMARY KEY, key uuid NOT NULL,"
               " birth integer NOT NULL);"
               "CREATE UNLOGGED TABLE members (case_id bigint NOT NULL, person_id bigint NOT NULL);"
               "CREATE UNLOGGED TABLE cases (id bigint PRIMARY KEY, division text, zone text);"
               "CREATE UNLOGGED TABLE auths (key uuid NOT NULL);"
               "CREATE UNLOGGED TABLE src_rows (src smallint NOT NULL, key uuid NOT NULL,"
               " a bigint NOT NULL, b bigint NOT NULL, d integer NOT NULL, kind smallint NOT NULL)");
    static const bool k_p[] = {false, true, false}, k_m[] = {false, false},
                      k_c[] = {false, false, false}, k_a[] = {true},
                      k_r[] = {false, true, false, false, false, false};
    pg_copy(c, pl, "persons", "SELECT id, key, birth FROM persons", 3, k_p);
    pg_copy(c, pl, "members", "SELECT case_id, person_id FROM members", 2, k_m);
    pg_copy(c, pl, "cases", "SELECT id, division, zone FROM cases", 3, k_c);
    pg_copy(c, pl, "auths", "SELECT key FROM auths", 1, k_a);
    pg_copy(c, pl, "src_rows", "SELECT src, key, a, b, d, kind FROM src_rows", 6, k_r);
    sqlite3_close(pl);
    say("postgresql: loaded (%.1f s), indexing", now_s() - t0);
    pg_exec(c, "CREATE INDEX ix_src_rows_key ON src_rows (key) INCLUDE (src, d, kind, a);"
               "CREATE INDEX ix_persons_key ON persons (key);"
               "CREATE INDEX ix_members_case ON members (case_id, person_id);"
               "CREATE INDEX ix_members_person ON members (person_id);"
               "CREATE INDEX ix_auths_key ON auths (key)");
    pg_exec(c, "VACUUM ANALYZE");
    return now_s() - t0;
}

static double pg_run(PGconn *c, const char *sql, struct res *out, long n)
{
    double t0 = now_s();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("pg query: %s", PQerrorMessage(c));
    double took = now_s() - t0;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        int64_t v[14];
        for (int k = 0; k < 14; k++)
            v[k] = strtoll(PQgetvalue(r, i, k), NULL, 10);
        if (v[0] < 1 || v[0] > n)
            die("pg: unknown case %lld", (long long)v[0]);
        fill_res(&out[v[0]], v);
    }
    PQclear(r);
    return took;
}

/* --- main ------------------------------------------------------------------------------------- */

static long meta(const char *k)
{
    sqlite3 *pl;
    if (sqlite3_open_v2(plain_path, &pl, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT v FROM meta WHERE k = '%s'", k);
    sqlite3_stmt *st;
    long v = -1;
    if (sqlite3_prepare_v2(pl, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(pl);
    return v;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static void usage(void)
{
    printf("usage: build/bench/verify [--households N] [--dir DIR] [--runs K] [--sql-runs K]\n"
           "                          [--reuse] [--keep] [--no-sqlite] [--no-pg] [--md FILE]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--households") == 0 && v) {
            households = atol(v);
            i++;
        } else if (strcmp(a, "--dir") == 0 && v) {
            dir = v;
            i++;
        } else if (strcmp(a, "--runs") == 0 && v) {
            runs = atoi(v);
            i++;
        } else if (strcmp(a, "--sql-runs") == 0 && v) {
            sql_runs = atoi(v);
            i++;
        } else if (strcmp(a, "--md") == 0 && v) {
            md_path = v;
            i++;
        } else if (strcmp(a, "--reuse") == 0) {
            reuse = true;
        } else if (strcmp(a, "--keep") == 0) {
            keep = true;
        } else if (strcmp(a, "--no-sqlite") == 0) {
            no_sqlite = true;
        } else if (strcmp(a, "--no-pg") == 0) {
            no_pg = true;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (households < 10 || runs < 1 || sql_runs < 1)
        die("--households must be >= 10, --runs and --sql-runs >= 1");
    if (sodium_init() < 0)
        die("sodium_init");
    main_pid = getpid();
    atexit(pg_stop);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    mkdir(dir, 0755);
    snprintf(db_path, sizeof(db_path), "%s/verify.db", dir);
    snprintf(key_path, sizeof(key_path), "%s/verify.key", dir);
    snprintf(plain_path, sizeof(plain_path), "%s/plain.db", dir);
    double t_start = now_s(), load0 = loadavg();
    say("bench/verify: %ld households, data in %s, load average %.2f", households, dir, load0);
    load_streets();
    bool have = reuse && access(db_path, R_OK) == 0 && meta("households") == households;
    double gen_s = 0;
    if (!have) {
        unlink(db_path);
        unlink(plain_path);
        char p[600];
        snprintf(p, sizeof(p), "%s-wal", db_path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", db_path);
        unlink(p);
        unlink(key_path);
        double t0 = now_s();
        pid_t pid = fork(); /* generation in a child: its memory is not the engine's */
        if (pid == 0) {
            generate();
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("generation failed");
        gen_s = now_s() - t0;
    } else {
        say("reusing the data in %s", dir);
    }
    long nrows = meta("rows"), nper = meta("persons"), nben = meta("beneficiaries"),
         nauth = meta("authorisations");
    struct stat sdb, spl;
    stat(db_path, &sdb);
    stat(plain_path, &spl);
    say("data: %ld households, %ld beneficiaries (%ld persons in the registry), %ld source rows,"
        " %ld authorisations; verify.db %.2f GB, plain.db %.2f GB",
        households, nben, nper, nrows, nauth, (double)sdb.st_size / 1e9,
        (double)spl.st_size / 1e9);

    long n = households;
    struct res *E = calloc((size_t)n + 1, sizeof(*E)), *S = calloc((size_t)n + 1, sizeof(*S)),
               *G = calloc((size_t)n + 1, sizeof(*G));
    if (!E || !S || !G)
        die("out of memory");

    /* (a) the engine, best of `runs`. */
    struct engine_out best = {.seconds = 1e9};
    double eng_all[16];
    for (int k = 0; k < runs && k < 16; k++) {
        double la = loadavg();
        struct engine_out o = engine_run();
        eng_all[k] = o.seconds;
        say("engine run %d: %.3f s (CPU %.3f s), peak RSS %.0f MB (cases %.2f, persons %.2f, authorisations"
            " %.2f, sources %.2f, rules %.2f, store %.2f, done %.2f; load %.2f)",
            k + 1, o.seconds, o.cpu_s, o.maxrss_kb / 1024.0, o.phase[0], o.phase[1], o.phase[2],
            o.phase[3], o.phase[4], o.phase[5], o.phase[6], la);
        if (o.seconds < best.seconds)
            best = o;
    }
    engine_results(best.request_id, E, n);

    struct thresholds th;
    read_rules(&th);
    double sq_best = 0, pg_best = 0, pg_load_s = 0;
    long bad = 0;
    if (!no_sqlite) {
        char *sql = rules_sql(&th, false);
        sq_best = 1e9;
        for (int k = 0; k < sql_runs; k++) {
            double t = sqlite_run(sql, S, n);
            say("sqlite SQL run %d: %.3f s", k + 1, t);
            if (t < sq_best)
                sq_best = t;
        }
        free(sql);
        long b = compare("engine", E, "sqlite", S, n);
        say("engine vs sqlite: %ld households differ", b);
        bad += b;
    }
    if (!no_pg) {
        pg_start();
        PGconn *c = pg_connect();
        pg_load_s = pg_load(c);
        say("postgresql: loaded and indexed in %.1f s", pg_load_s);
        PGresult *vr = PQexec(c, "SHOW server_version");
        char pgver[64] = "?";
        if (PQresultStatus(vr) == PGRES_TUPLES_OK)
            snprintf(pgver, sizeof(pgver), "%s", PQgetvalue(vr, 0, 0));
        PQclear(vr);
        char *sql = rules_sql(&th, true);
        pg_best = 1e9;
        for (int k = 0; k < runs; k++) {
            double t = pg_run(c, sql, G, n);
            say("postgresql %s SQL run %d: %.3f s", pgver, k + 1, t);
            if (t < pg_best)
                pg_best = t;
        }
        char *explain = NULL;
        if (asprintf(&explain, "EXPLAIN (ANALYZE, COSTS OFF) %s", sql) > 0) {
            PGresult *er = PQexec(c, explain);
            if (PQresultStatus(er) == PGRES_TUPLES_OK) {
                char p[600];
                snprintf(p, sizeof(p), "%s/pg-plan.txt", dir);
                FILE *f = fopen(p, "w");
                for (int i = 0; f && i < PQntuples(er); i++)
                    fprintf(f, "%s\n", PQgetvalue(er, i, 0));
                if (f)
                    fclose(f);
            }
            PQclear(er);
            free(explain);
        }
        free(sql);
        PQfinish(c);
        pg_stop();
        long b = compare("engine", E, "postgresql", G, n);
        say("engine vs postgresql: %ld households differ", b);
        bad += b;
    }
    long flagged = 0, by_outcome[4] = {0};
    for (long i = 1; i <= n; i++) {
        if (!E[i].seen)
            die("the engine has no result for case %ld", i);
        by_outcome[E[i].outcome]++;
        flagged += E[i].flags != 0;
    }
    printf("\n== bulk re-check of %ld households (%ld persons, %ld source rows) ==\n", n, nben,
           nrows);
    printf("engine (vf_bulk, own store):  %8.3f s  (runs:", best.seconds);
    for (int k = 0; k < runs && k < 16; k++)
        printf(" %.3f", eng_all[k]);
    printf(")  peak RSS %.0f MB\n", best.maxrss_kb / 1024.0);
    if (!no_sqlite)
        printf("SQLite SQL:                   %8.3f s  = %.1fx the engine\n", sq_best,
               sq_best / best.seconds);
    if (!no_pg)
        printf("PostgreSQL SQL:               %8.3f s  = %.1fx the engine\n", pg_best,
               pg_best / best.seconds);
    printf("outcomes: pass %ld, review %ld, ineligible %ld, unauthorised %ld; flagged by a rule"
           " %ld\n",
           by_outcome[0], by_outcome[1], by_outcome[2], by_outcome[3], flagged);
    printf("results identical: %s\n", bad ? "NO" : "yes");
    if (md_path) {
        FILE *f = fopen(md_path, "w");
        if (f == NULL)
            die("cannot write %s", md_path);
        fprintf(f,
                "| Way | Time | Ratio to the engine | Peak RSS |\n|---|---|---|---|\n"
                "| minzheng engine, `vf_bulk` over its sealed store (best of %d:", runs);
        for (int k = 0; k < runs && k < 16; k++)
            fprintf(f, " %.2f", eng_all[k]);
        fprintf(f, " s) | %.2f s | 1× | %.0f MB |\n", best.seconds, best.maxrss_kb / 1024.0);
        if (!no_sqlite)
            fprintf(f, "| SQLite %s, the rules as one SQL statement over plain tables | %.2f s |"
                       " %.1f× | — |\n",
                    sqlite3_libversion(), sq_best, sq_best / best.seconds);
        if (!no_pg)
            fprintf(f, "| PostgreSQL, the same statement, parallel query on (best of %d) | %.2f s |"
                       " %.1f× | — |\n",
                    runs, pg_best, pg_best / best.seconds);
        fprintf(f,
                "\nData: %ld households (%ld beneficiaries; %ld persons in the registry), %ld"
                " source rows in 12 sources, %ld authorisations; verify.db %.2f GB. Outcomes:"
                " pass %ld, review %ld, ineligible %ld, unauthorised %ld. Results identical"
                " across the three: %s. Load average at the start %.2f%s.\n",
                households, nben, nper, nrows, nauth, (double)sdb.st_size / 1e9, by_outcome[0],
                by_outcome[1], by_outcome[2], by_outcome[3], bad ? "**NO**" : "yes", load0,
                gen_s > 0 ? "" : " (data reused)");
        if (gen_s > 0)
            fprintf(f, "Generation took %.0f s.", gen_s);
        if (!no_pg)
            fprintf(f, " PostgreSQL load (COPY), indexes and VACUUM ANALYZE: %.0f s.", pg_load_s);
        fprintf(f, "\n");
        fclose(f);
    }
    if (!keep && !reuse) {
        unlink(db_path);
        unlink(plain_path);
        unlink(key_path);
        char p[600];
        snprintf(p, sizeof(p), "%s-wal", db_path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", db_path);
        unlink(p);
    }
    free(E);
    free(S);
    free(G);
    free(streets);
    say("total %.0f s", now_s() - t_start);
    if (bad) {
        fprintf(stderr, "bench/verify: FAILED: %ld household results differ between the engine"
                        " and SQL\n", bad);
        return 1;
    }
    return 0;
}
