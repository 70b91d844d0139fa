/* demo.c - the synthetic demo city: a Tianjin population that never existed.
 *
 * `minzheng demo` (src/cli/cmd_demo.c) calls mz_registry_demo(), which
 * generates households one at a time and writes them at once with prepared
 * statements in large transactions (not through HTTP): persons, households
 * and memberships exactly as the engine stores them (normalised values;
 * sensitive values sealed with their blind index, see demo_store_sensitive),
 * plus each person's search-index rows when the search module is linked.
 * It is a bulk load into a fresh database (docs/registry.md): no journal
 * and no syncs while loading, secondary indexes dropped before and built
 * after, the search keys gathered in memory and written in key order
 * (mz_person_bulk_*), a small page cache (DEMO_CACHE). Two threads share the
 * work through the whole load:
 * the generator thread also writes households, memberships and the search
 * tables into three side databases (scratch files, AUX_*) and finishes them
 * there one after the other (their indexes, the keys, the FTS index) while
 * this thread writes the persons rows and builds their indexes; between two
 * of those it copies each finished side database whole (SQLite's transfer
 * optimisation) and deletes its file. Memory: the ID sequence
 * counters (~6 MB) and the gathered search keys (~35 bytes a person); rows
 * themselves stream.
 *
 * Determinism: everything comes from one splitmix64 stream seeded by --seed
 * and a fixed reference date (DEMO_TODAY), never the clock; the FNV-1a
 * checksum over every generated row is printed, and the unit test checks
 * that the same seed gives the same checksum.
 *
 * The statistics are plausible, not exact (all approximate public figures):
 *  - district shares: 2020 census resident population (registry_districts);
 *  - surnames: frequencies of the national 2020 surname ranking (王 李 张 ...);
 *  - age: a pyramid shaped like Tianjin's 2020 census (0-14 ~13%, 60+ ~22%);
 *  - household sizes: 1: 25%, 2: 33%, 3: 24%, 4: 10%, 5: 5%, 6: 3% (average
 *    ~2.4, Tianjin 2020);
 *  - 人户分离: ~20% live in another street than their hukou;
 *  - deceased: ~5% of persons over 60, 0.3% below, died in the last 8 years;
 *  - disability: ~4.5%, by category weights of the 2006 national sample survey;
 *  - ethnicity: 汉 ~97.4%, 回 1.3%, 满 0.7%, then 蒙古, 朝鲜, 土家, 壮;
 *  - ~10% were born elsewhere (ID area code of another province).
 * Incomes belong to the assistance module's tables (not yet present).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mz/crypto.h"
#include "registry/registry_internal.h"

/* The fixed "today" of the generator (dates never depend on the clock). */
#define DEMO_TODAY "2025-06-30"
#define DEMO_TODAY_YEAR 2025
#define DEMO_BIRTH_MIN "1920-01-01"
#define DEMO_BATCH 50000 /* persons per transaction */
#define DEMO_CHUNK 2048  /* persons per batch handed from the generator to the writer */
#define DEMO_QUEUE 4     /* batches generated ahead of the writer at most */
/* The page cache of both connections while loading: small. Every write is
 * an append and every read a sequential scan, so a large cache holds nothing
 * that is read twice, and its pages cost a page fault each the first time
 * (expensive on this machine); an index build's sorter takes its in-memory
 * runs of this size (at least 250 pages), sorted within the CPU's caches and
 * merged, instead of one run of the cache's size sorted through main memory.
 * Measured at 1,000,000 persons against the 256 MB cache of before: the
 * seven persons indexes 11.0 -> 6.7 s of CPU, the copy 5.3 -> 3.1 s, the
 * writer's rows 12.9 -> 8.8 s (bench/notes.md, fourth round). */
#define DEMO_CACHE "-2048"
/* ANALYZE at the end samples this many rows of each index. */
#define DEMO_ANALYSIS_LIMIT "1000"

/* --- PRNG --------------------------------------------------------------------- */
struct rng {
    uint64_t s;
};

/* splitmix64 (Steele, Lea, Flood 2014): fast, good enough, tiny state. */
static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

/* True with probability per-mille/1000. */
static bool rng_permille(struct rng *r, uint32_t permille)
{
    return rng_below(r, 1000) < permille;
}

/* Index drawn from integer weights whose sum is total. */
static size_t rng_pick(struct rng *r, const int *w, size_t n, int total)
{
    int x = (int)rng_below(r, (uint32_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* Index drawn from integer weights. */
static size_t rng_weighted(struct rng *r, const int *w, size_t n)
{
    int total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    return rng_pick(r, w, n, total);
}

/* --- statistics tables ----------------------------------------------------------- */
struct weighted_text {
    const char *text;
    int weight;
};

/* Surnames with frequencies in 1/10000 (2020 national ranking, rounded). */
static const struct weighted_text surnames[] = {
    {"王", 712}, {"李", 700}, {"张", 674}, {"刘", 538}, {"陈", 453}, {"杨", 308}, {"赵", 229},
    {"黄", 223}, {"周", 191}, {"吴", 183}, {"徐", 145}, {"孙", 139}, {"胡", 129}, {"朱", 128},
    {"高", 121}, {"林", 118}, {"何", 117}, {"郭", 115}, {"马", 105}, {"罗", 86},  {"梁", 84},
    {"宋", 81},  {"郑", 79},  {"谢", 74},  {"韩", 73},  {"唐", 71},  {"冯", 69},  {"于", 65},
    {"董", 64},  {"萧", 62},  {"程", 61},  {"曹", 60},  {"袁", 57},  {"邓", 56},  {"许", 54},
    {"傅", 52},  {"沈", 51},  {"曾", 50},  {"彭", 49},  {"吕", 48},  {"苏", 47},  {"卢", 46},
    {"蒋", 45},  {"蔡", 44},  {"贾", 43},  {"丁", 42},  {"魏", 41},  {"薛", 40},  {"叶", 39},
    {"阎", 38},  {"余", 37},  {"潘", 36},  {"杜", 35},  {"戴", 34},  {"夏", 33},  {"钟", 32},
    {"汪", 31},  {"田", 30},  {"任", 29},  {"姜", 28},  {"范", 27},  {"方", 26},  {"石", 25},
    {"姚", 24},  {"谭", 23},  {"廖", 22},  {"邹", 21},  {"熊", 20},  {"金", 19},  {"陆", 18},
    {"郝", 17},  {"孔", 16},  {"白", 15},  {"崔", 14},  {"康", 13},  {"毛", 12},  {"邱", 11},
    {"秦", 10},  {"单", 6},   {"欧阳", 3}, {"司马", 1},
};

/* Given-name characters (synthetic combinations, no list of real people). */
static const char *const male_chars[] = {
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
    "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "峰",
    "建", "国", "志", "文", "海", "东", "博", "晨", "轩", "子", "睿", "泽", "航", "一", "宏",
    "成", "庆", "福", "荣", "德", "雄", "信", "振", "家", "铭"};
static const char *const female_chars[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "玲", "桂", "兰", "红", "梅",
    "燕", "琳", "雪", "慧", "婷", "颖", "晶", "欣", "怡", "萱", "雨", "涵", "佳", "悦", "彤",
    "诗", "梦", "思", "淑", "凤", "洁", "璐", "瑶", "倩", "玉", "珍", "莉", "萍", "琪", "妍"};

/* Age pyramid: weights of 5-year bands 0-4 .. 95-99 (per mille of persons). */
static const int age_bands[] = {40, 46, 45, 38, 50, 72, 92, 76, 69, 76,
                                84, 76, 65, 60, 42, 27, 18, 10, 3, 1};

static const int household_sizes[] = {0, 25, 33, 24, 10, 5, 3}; /* index = size */

/* Ethnic groups (GB 3304 codes) in per ten thousand. */
static const struct weighted_text ethnic_groups[] = {
    {"01", 9740}, {"03", 130}, {"11", 70}, {"02", 15}, {"10", 13}, {"15", 5}, {"08", 5},
    {"06", 4},    {"04", 3},   {"05", 3},  {"07", 2},  {"97", 0}};

/* Disability categories (GB/T 26341) with weights, and grades. */
static const struct weighted_text disabilities[] = {
    {"1", 120}, {"2", 180}, {"3", 10}, {"4", 450}, {"5", 70}, {"6", 80}, {"7", 90}};
static const int disability_grades[] = {10, 20, 30, 40};

/* Area codes of persons born outside Tianjin (a city district of each
 * province capital, all in GB/T 2260). */
static const char *const elsewhere_codes[] = {"130102", "370102", "410102", "210102",
                                              "230102", "150102", "140105", "340102"};

static const char *const roads[] = {"南京路", "成都道", "重庆道", "大沽路", "解放路", "卫津路",
                                    "黄河道", "长江道", "中山路", "红旗路", "复康路", "友谊路",
                                    "津塘路", "津沽路", "京津路", "光华路", "新开路", "金钟路",
                                    "营口道", "西康路", "咸阳路", "昆明路", "芥园道", "迎水道"};

static const char *const death_sources[] = {"police", "funeral", "health", "civil"};

/* --- the generator's state ------------------------------------------------------- */

/* A community or village of a street (registry_community), made once. */
struct demo_community {
    char code[13], name[64];
    bool village;
};

/* A district as the generator draws from it, made once at the start: its
 * streets weighted by their community counts, their communities, and the
 * codes it replaced (the ID area code of persons born before it existed).
 * The draws are those of a loop over every street per household. */
#define DEMO_STREETS 64
struct demo_district {
    const struct registry_district *dist;
    const struct registry_street *streets[DEMO_STREETS];
    int weights[DEMO_STREETS], nstreets, total;
    bool rural[DEMO_STREETS];
    struct demo_community *communities[DEMO_STREETS]; /* weights[i] each */
    const char *pred[3];
    int npred;
};

/* An ID sequence counter per (area slot, birth day, sex): guarantees
 * distinct ID numbers without remembering them. */
#define AREA_SLOTS 40
#define DAY_SLOTS 38600 /* days from DEMO_BIRTH_MIN to DEMO_TODAY (38 532) and a margin */

struct person {
    char id_number[19], name[32], sex[2], birth[11], ethnicity[3];
    char hukou[13], hukou_address[160], residence[13], residence_address[160];
    char phone[12], marital[3], education[3], disability[2], grade[2], political[3], hukou_type[2];
    char deceased_on[11];
    const char *death_source;
    const char *relation;
    char from_date[11], to_date[11];
    bool separated;
    int age;
    /* The sealed ID and phone with their blind indexes (made by the writer
     * thread). */
    const char *sid, *sphone;
    char bid[33], bphone[33];
    int64_t id, member_id; /* the persons row's id and the membership's */
};

/* The side databases: scratch SQLite files the generator thread writes
 * while the writer writes persons (SQLite takes one writer per file), one
 * per group of tables it finishes at a different time, in this order, so
 * that the writer copies each while the generator works on the next: the
 * households and memberships with their indexes, person_key (the keys,
 * written at the end in key order), person_search with the FTS index
 * (rebuilt last: the smallest copy, the one nothing overlaps). */
enum { AUX_HOUSES, AUX_KEYS, AUX_SEARCH, AUX_N };
static const char *const aux_suffix[AUX_N] = {"-demo-aux", "-demo-aux-keys", "-demo-aux-search"};
/* Whether a side database's tables are analysed there and their statistics
 * copied: not person_key's, which ANALYZE estimates from the b-tree's
 * pages (laid out a little differently by the copy) without a pass. */
static const bool aux_analyze[AUX_N] = {true, false, true};

/* One generated household, ready to write. */
struct demo_house {
    struct person members[6];
    int n;
    int64_t id;
    char community[13], address[160];
};

/* Households handed from the generator thread to the writer. */
struct demo_batch {
    struct demo_house *houses;
    int nhouses;
    struct demo_batch *next;
};

struct demo {
    struct rng rng;
    struct mz_db *db;              /* NULL in a dry run */
    uint16_t *seq;                 /* AREA_SLOTS * DAY_SLOTS * 2 counters */
    const char *area_codes[AREA_SLOTS];
    int nareas;
    int64_t birth_min_days, today_days;
    struct mz_stmt *ins_person;    /* on db (writer thread) */
    /* The side databases (generator thread, AUX_*), each copied into db
     * at the end as soon as the generator has finished it (aux_ready). */
    struct mz_db *aux[AUX_N];
    char *aux_path[AUX_N];
    int aux_ready[AUX_N]; /* under mu: 0 being written, 1 finished and closed, -1 failed */
    struct mz_stmt *ins_household, *ins_member;
    int64_t aux_in_tx;
    int aux_rc;
    int64_t next_person, next_household, next_member; /* ids, given in generation order */
    double gen_rows_cpu, gen_end_cpu, gen_end_s;      /* the generator thread's times */
    double aux_end_s[AUX_N], aux_end_cpu[AUX_N];      /* each side database's end */
    struct mz_person_bulk *bulk;   /* the search index, built in bulk (in aux[AUX_SEARCH]) */
    struct mz_db_indexes indexes;  /* secondary indexes dropped for the load */
    char now[32];
    bool sealed;                   /* persons has id_number_bidx: seal values */
    struct mz_crypto_nonces nonces; /* the writer thread's sealing nonces */
    uint64_t checksum;
    struct mz_demo_summary *sum;
    int district_weights[32], district_total;
    struct demo_district districts[32];
    int ndistricts;
    int surname_weights[MZ_ARRAY_LEN(surnames)], surname_total;
    int64_t target;
    /* The queue of generated batches (the generator appends, the writer takes). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct demo_batch *head, *tail;
    int queued;
    bool done, stop;
    bool writer_done;                    /* the writer has finished: no spare work begun */
    int64_t gen_wait_us, writer_wait_us; /* waiting for room in the queue, for a batch */
    bool (*spare_work)(void);            /* mz_demo_options.spare_work */
    int spare_n;                         /* spare work done (calls) */
    double spare_cpu;                    /* its CPU time */
};

/* FNV-1a over text, folded into the running checksum (with a separator). */
static void checksum_text(struct demo *d, const char *s)
{
    uint64_t h = d->checksum;
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    h ^= 0x1F;
    h *= 0x100000001B3ull;
    d->checksum = h;
}

/* The slot of a 6-digit area code in the sequence table. */
static int area_slot(struct demo *d, const char *code6)
{
    for (int i = 0; i < d->nareas; i++) { /* the same few static strings, mostly */
        if (d->area_codes[i] == code6 || strcmp(d->area_codes[i], code6) == 0)
            return i;
    }
    if (d->nareas == AREA_SLOTS)
        return 0;
    d->area_codes[d->nareas] = code6;
    return d->nareas++;
}

/* The ID area code of a person born on `birth` with hukou in district:
 * the code in force at birth (a historical code before a change). */
static const char *birth_area(struct demo *d, const struct demo_district *dd, const char *birth)
{
    if (rng_permille(&d->rng, 100))
        return elsewhere_codes[rng_below(&d->rng, MZ_ARRAY_LEN(elsewhere_codes))];
    if (strcmp(birth, dd->dist->valid_from) >= 0)
        return dd->dist->code;
    return dd->npred ? dd->pred[rng_below(&d->rng, (uint32_t)dd->npred)] : dd->dist->code;
}

/* Make a valid, unique ID number; moves the birth date a day earlier if
 * that day's sequence numbers are exhausted (never later: a birth date
 * after DEMO_TODAY would have no slot, and the search would not end). */
static void make_id(struct demo *d, struct person *p, const char *area)
{
    int slot = area_slot(d, area);
    bool male = p->sex[0] == '1';
    for (;;) {
        int64_t day = mz_date_to_days(p->birth) - d->birth_min_days;
        if (day < 0)
            day = 0;
        if (day >= DAY_SLOTS)
            day = DAY_SLOTS - 1;
        uint16_t *c = &d->seq[((size_t)slot * DAY_SLOTS + (size_t)day) * 2 + (male ? 1 : 0)];
        if (*c < 500) {
            /* Spread the numbers: an offset per day, odd for men. */
            unsigned base = (unsigned)((day * 7919 + slot * 104729) % 500);
            unsigned seq = ((base + *c) % 500) * 2 + (male ? 1 : 0);
            (*c)++;
            char first17[18];
            snprintf(first17, sizeof(first17), "%.6s%.4s%.2s%.2s%03u", area, p->birth,
                     p->birth + 5, p->birth + 8, seq);
            snprintf(p->id_number, sizeof(p->id_number), "%s%c", first17,
                     mz_id_check_char(first17));
            return;
        }
        mz_days_to_date(mz_date_to_days(p->birth) - (day > 0 ? 1 : -1), p->birth);
    }
}

/* A birth date for an age (in whole years at DEMO_TODAY). */
static void birth_for_age(struct demo *d, int age, char out[11])
{
    int64_t latest = d->today_days - (int64_t)age * 365 - 1;
    int64_t days = latest - rng_below(&d->rng, 365);
    if (days < d->birth_min_days)
        days = d->birth_min_days + rng_below(&d->rng, 365);
    mz_days_to_date(days, out);
}

/* An age from the pyramid, at least min. */
static int draw_age(struct demo *d, int min)
{
    for (;;) {
        size_t band = rng_weighted(&d->rng, age_bands, MZ_ARRAY_LEN(age_bands));
        int age = (int)band * 5 + (int)rng_below(&d->rng, 5);
        if (age >= min)
            return age;
    }
}

/* Surname by frequency. */
static const char *draw_surname(struct demo *d)
{
    return surnames[rng_pick(&d->rng, d->surname_weights, MZ_ARRAY_LEN(surnames),
                             d->surname_total)].text;
}

/* Weighted text from a table. */
static const char *draw_text(struct demo *d, const struct weighted_text *t, size_t n)
{
    int w[16];
    for (size_t i = 0; i < n && i < 16; i++)
        w[i] = t[i].weight;
    return t[rng_weighted(&d->rng, w, n < 16 ? n : 16)].text;
}

/* Fill the personal attributes that depend on age and sex. */
static void person_attributes(struct demo *d, struct person *p, const char *surname, int age,
                              bool male, const struct demo_district *dd, bool rural)
{
    const char *const *chars = male ? male_chars : female_chars;
    size_t nchars = male ? MZ_ARRAY_LEN(male_chars) : MZ_ARRAY_LEN(female_chars);
    const char *c1 = chars[rng_below(&d->rng, (uint32_t)nchars)];
    const char *c2 = rng_permille(&d->rng, 650) ? chars[rng_below(&d->rng, (uint32_t)nchars)] : "";
    snprintf(p->name, sizeof(p->name), "%s%s%s", surname, c1, c2);
    p->age = age;
    strcpy(p->sex, male ? "1" : "2");
    birth_for_age(d, age, p->birth);
    make_id(d, p, birth_area(d, dd, p->birth));
    /* Marital status by age. */
    if (age < 20)
        strcpy(p->marital, "10");
    else if (age < 30)
        strcpy(p->marital, rng_permille(&d->rng, 500) ? "20" : "10");
    else if (age < 60)
        strcpy(p->marital, rng_permille(&d->rng, 850) ? "20"
                           : rng_permille(&d->rng, 550) ? "10"
                           : rng_permille(&d->rng, 850) ? "40"
                                                        : "30");
    else
        strcpy(p->marital, rng_permille(&d->rng, 700) ? "20"
                           : rng_permille(&d->rng, 830) ? "30"
                                                        : "40");
    /* Education by age (younger generations study longer). */
    static const char *const edu[] = {"10", "20", "30", "40", "60", "70", "80", "90"};
    static const int edu_young[] = {6, 28, 22, 9, 15, 16, 3, 1};
    static const int edu_mid[] = {2, 12, 14, 10, 22, 30, 8, 2};
    static const int edu_old[] = {1, 4, 5, 6, 20, 34, 24, 6};
    if (age < 7)
        p->education[0] = '\0';
    else if (age < 12)
        strcpy(p->education, "80");
    else if (age < 15)
        strcpy(p->education, "70");
    else if (age < 18)
        strcpy(p->education, "60");
    else
        strcpy(p->education, edu[rng_weighted(&d->rng, age < 40 ? edu_young
                                                     : age < 60 ? edu_mid
                                                                : edu_old,
                                              8)]);
    snprintf(p->ethnicity, sizeof(p->ethnicity), "%s",
             draw_text(d, ethnic_groups, MZ_ARRAY_LEN(ethnic_groups)));
    /* Political status. */
    if (age >= 18 && rng_permille(&d->rng, 80))
        strcpy(p->political, "01");
    else if (age >= 14 && age <= 28 && rng_permille(&d->rng, 300))
        strcpy(p->political, "03");
    else
        strcpy(p->political, "13");
    strcpy(p->hukou_type, rural ? (rng_permille(&d->rng, 600) ? "3" : "2")
                                : (rng_permille(&d->rng, 800) ? "3" : "1"));
    /* Phones: most adults; synthetic 13x-19x numbers. */
    if (age >= 16 && rng_permille(&d->rng, 850)) {
        static const char *const prefixes[] = {"13", "15", "17", "18", "19"};
        snprintf(p->phone, sizeof(p->phone), "%s%09u", prefixes[rng_below(&d->rng, 5)],
                 rng_below(&d->rng, 1000000000u));
    } else {
        p->phone[0] = '\0';
    }
    /* Disability: more frequent with age. */
    uint32_t dis = age < 18 ? 12 : age < 60 ? 35 : 110;
    if (rng_permille(&d->rng, dis)) {
        snprintf(p->disability, sizeof(p->disability), "%s",
                 draw_text(d, disabilities, MZ_ARRAY_LEN(disabilities)));
        p->grade[0] = (char)('1' + rng_weighted(&d->rng, disability_grades, 4));
        p->grade[1] = '\0';
    } else {
        p->disability[0] = p->grade[0] = '\0';
    }
    /* Deaths in the last 8 years. */
    p->deceased_on[0] = '\0';
    p->death_source = NULL;
    if (rng_permille(&d->rng, age >= 60 ? 50 : 3)) {
        int64_t born = mz_date_to_days(p->birth);
        int64_t from = d->today_days - 8 * 365;
        if (from < born)
            from = born;
        mz_days_to_date(from + rng_below(&d->rng, (uint32_t)(d->today_days - from)), p->deceased_on);
        p->death_source = death_sources[rng_below(&d->rng, MZ_ARRAY_LEN(death_sources))];
    }
}

/* The sealed form of a sensitive value, and its blind index, exactly as the
 * engine stores them (context "<entity>.<field>", src/engine/field.c).
 * When the engine's schema has no blind-index column (older engine), the
 * value is stored as it is. Arena-owned. */
static const char *demo_store_sensitive(struct demo *d, struct mz_arena *arena,
                                        const char *context, const char *value, char blind[33])
{
    if (value == NULL || *value == '\0')
        return NULL;
    if (!d->sealed)
        return value;
    mz_crypto_blind(context, value, strlen(value), blind);
    return mz_crypto_seal_pooled(arena, &d->nonces, context, value, strlen(value));
}

/* Bind text or NULL when empty. */
static void bind_opt(struct mz_stmt *st, int idx, const char *s)
{
    mz_db_bind_text(st, idx, s && *s ? s : NULL);
}

/* The generator's part of a person: the checksum. */
static void finish_person(struct demo *d, struct person *p)
{
    const char *fields[] = {p->id_number, p->name, p->sex, p->birth, p->ethnicity, p->hukou,
                            p->hukou_address, p->residence, p->residence_address, p->phone,
                            p->marital, p->education, p->disability, p->grade, p->political,
                            p->hukou_type, p->deceased_on, p->death_source,
                            p->separated ? "1" : "0"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(fields); i++)
        checksum_text(d, fields[i]);
}

/* Seal one person's sensitive values and write its row (writer thread:
 * the sealing is about a third of a person's generation, done here it
 * balances the two threads). */
static int write_person(struct demo *d, struct mz_arena *arena, struct person *p)
{
    p->sid = demo_store_sensitive(d, arena, "persons.id_number", p->id_number, p->bid);
    p->sphone = demo_store_sensitive(d, arena, "persons.phone", p->phone, p->bphone);
    struct mz_stmt *st = d->ins_person;
    int i = 1;
    mz_db_bind_int(st, i++, p->id);
    mz_db_bind_text(st, i++, d->now);
    mz_db_bind_text(st, i++, d->now);
    mz_db_bind_text(st, i++, p->sid);
    mz_db_bind_text(st, i++, p->name);
    mz_db_bind_text(st, i++, p->sex);
    mz_db_bind_text(st, i++, p->birth);
    mz_db_bind_text(st, i++, p->ethnicity);
    mz_db_bind_text(st, i++, p->hukou);
    mz_db_bind_text(st, i++, p->hukou_address);
    bind_opt(st, i++, p->residence);
    bind_opt(st, i++, p->residence_address);
    mz_db_bind_text(st, i++, p->sphone);
    mz_db_bind_text(st, i++, p->marital);
    bind_opt(st, i++, p->education);
    bind_opt(st, i++, p->disability);
    bind_opt(st, i++, p->grade);
    mz_db_bind_text(st, i++, p->political);
    mz_db_bind_text(st, i++, p->hukou_type);
    bind_opt(st, i++, p->deceased_on);
    mz_db_bind_text(st, i++, p->death_source);
    mz_db_bind_int(st, i++, p->separated ? 1 : 0);
    if (d->sealed) {
        bind_opt(st, i++, p->bid);
        bind_opt(st, i++, p->bphone);
    }
    int rc = mz_db_step(st);
    mz_db_reset(st);
    return rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

/* Make the district tables of the generator (once). */
static void demo_districts_init(struct demo *d)
{
    for (size_t i = 0; i < registry_ndistricts && d->ndistricts < 32; i++) {
        const struct registry_district *dist = &registry_districts[i];
        if (dist->population_10k <= 0 || dist->valid_to != NULL)
            continue;
        struct demo_district *dd = &d->districts[d->ndistricts];
        dd->dist = dist;
        for (size_t j = 0; j < registry_nstreets && dd->nstreets < DEMO_STREETS; j++) {
            const struct registry_street *st = &registry_streets[j];
            if (strcmp(st->district, dist->code) != 0)
                continue;
            int n = registry_community_count(st);
            struct demo_community *c = mz_xcalloc((size_t)n, sizeof(*c));
            for (int k = 0; k < n; k++) {
                registry_community(st, k, c[k].code, c[k].name);
                c[k].village = strstr(c[k].name, "村") != NULL;
            }
            dd->streets[dd->nstreets] = st;
            dd->weights[dd->nstreets] = n;
            dd->rural[dd->nstreets] = !registry_street_is_urban(st);
            dd->communities[dd->nstreets++] = c;
            dd->total += n;
        }
        for (size_t j = 0; j < registry_nchanges && dd->npred < 3; j++) {
            if (strcmp(registry_changes[j].new_code, dist->code) == 0)
                dd->pred[dd->npred++] = registry_changes[j].old_code;
        }
        d->district_weights[d->ndistricts++] = dist->population_10k;
        d->district_total += dist->population_10k;
    }
    for (size_t i = 0; i < MZ_ARRAY_LEN(surnames); i++) {
        d->surname_weights[i] = surnames[i].weight;
        d->surname_total += surnames[i].weight;
    }
}

static void demo_districts_free(struct demo *d)
{
    for (int i = 0; i < d->ndistricts; i++) {
        for (int j = 0; j < d->districts[i].nstreets; j++)
            free(d->districts[i].communities[j]);
    }
}

/* A district by population. */
static const struct demo_district *draw_district(struct demo *d)
{
    return &d->districts[rng_pick(&d->rng, d->district_weights, (size_t)d->ndistricts,
                                  d->district_total)];
}

/* A community of the district, weighted by the streets' community counts;
 * *street gets the index of its street. */
static const struct demo_community *draw_community(struct demo *d, const struct demo_district *dd,
                                                   int *street)
{
    int s = (int)rng_pick(&d->rng, dd->weights, (size_t)dd->nstreets, dd->total);
    *street = s;
    return &dd->communities[s][rng_below(&d->rng, (uint32_t)dd->weights[s])];
}

/* An address in a community: a road and numbers in town, a house number in
 * a village. */
static void make_address(struct demo *d, const struct demo_district *dd, int street,
                         const struct demo_community *c, char *out, size_t n)
{
    const struct registry_district *dist = dd->dist;
    if (c->village)
        snprintf(out, n, "天津市%s%s%s%u号", dist->name, dd->streets[street]->name, c->name,
                 1 + rng_below(&d->rng, 300));
    else
        snprintf(out, n, "天津市%s%s%u号%u门%u%02u室", dist->name, roads[rng_below(&d->rng,
                 MZ_ARRAY_LEN(roads))], 1 + rng_below(&d->rng, 200), 1 + rng_below(&d->rng, 6),
                 1 + rng_below(&d->rng, 18), 1 + rng_below(&d->rng, 4));
}

/* Generate one household of up to `room` persons into h (generator thread). */
static void demo_household(struct demo *d, int64_t room, struct demo_house *h)
{
    struct person *members = h->members;
    int size = (int)rng_weighted(&d->rng, household_sizes, MZ_ARRAY_LEN(household_sizes));
    if (size > room)
        size = (int)room;
    const struct demo_district *dist = draw_district(d);
    char address[160];
    int street;
    const struct demo_community *hc = draw_community(d, dist, &street);
    const char *community = hc->code;
    bool rural = dist->rural[street];
    make_address(d, dist, street, hc, address, sizeof(address));

    /* Head, spouse, children, a parent. */
    int n = 0;
    bool head_male = rng_permille(&d->rng, 600);
    int head_age = draw_age(d, size == 1 ? 18 : 24);
    const char *family = draw_surname(d);
    memset(members, 0, sizeof(h->members));
    person_attributes(d, &members[n], family, head_age, head_male, dist, rural);
    members[n++].relation = "02";
    const char *child_surname = family;
    if (size >= 2 && rng_permille(&d->rng, 850)) {
        int age = head_age - 3 + (int)rng_below(&d->rng, 7);
        if (age < 20)
            age = 20;
        const char *sn = draw_surname(d);
        person_attributes(d, &members[n], sn, age, !head_male, dist, rural);
        strcpy(members[0].marital, "20");
        strcpy(members[n].marital, "20");
        if (!head_male)
            child_surname = sn;
        members[n++].relation = "10";
    }
    bool parent = size >= 4 && head_age <= 60 && rng_permille(&d->rng, 350);
    while (n < size - (parent ? 1 : 0)) {
        int age = head_age - 24 - (int)rng_below(&d->rng, 12);
        if (age < 0)
            age = (int)rng_below(&d->rng, 3);
        bool male = rng_permille(&d->rng, 515);
        person_attributes(d, &members[n], child_surname, age, male, dist, rural);
        members[n++].relation = male ? "20" : "30";
    }
    if (parent && n < size) {
        int age = head_age + 24 + (int)rng_below(&d->rng, 9);
        if (age > 99)
            age = 99;
        bool male = rng_permille(&d->rng, 400);
        person_attributes(d, &members[n], male ? family : draw_surname(d), age, male, dist, rural);
        members[n++].relation = male ? "51" : "52";
    }
    /* Household start, residence (人户分离), membership dates. */
    char since[11];
    int64_t adult = mz_date_to_days(members[0].birth) + 22 * 365;
    int64_t start = adult + rng_below(&d->rng, (uint32_t)(d->today_days > adult ? d->today_days - adult : 1));
    if (start > d->today_days)
        start = d->today_days;
    mz_days_to_date(start, since);
    bool separated = rng_permille(&d->rng, 200);
    const char *res = "";
    char raddress[160] = "";
    if (separated) {
        const struct demo_district *rd = rng_permille(&d->rng, 500) ? dist : draw_district(d);
        int rs;
        const struct demo_community *rc = draw_community(d, rd, &rs);
        res = rc->code;
        make_address(d, rd, rs, rc, raddress, sizeof(raddress));
        if (strncmp(res, community, 9) == 0)
            separated = false;
    }
    for (int i = 0; i < n; i++) {
        struct person *p = &members[i];
        strcpy(p->hukou, community);
        snprintf(p->hukou_address, sizeof(p->hukou_address), "%s", address);
        strcpy(p->residence, separated ? res : community);
        snprintf(p->residence_address, sizeof(p->residence_address), "%s",
                 separated ? raddress : address);
        p->separated = separated;
        memcpy(p->from_date, strcmp(p->birth, since) > 0 ? p->birth : since, 11);
        memcpy(p->to_date, p->deceased_on, 11);
        if (p->to_date[0] && strcmp(p->to_date, p->from_date) < 0)
            strcpy(p->to_date, p->from_date);
    }

    for (int i = 0; i < n; i++) {
        finish_person(d, &members[i]);
        d->sum->persons++;
        d->sum->deceased += members[i].deceased_on[0] != '\0';
        d->sum->separated += members[i].separated;
        d->sum->disabled += members[i].disability[0] != '\0';
    }
    checksum_text(d, community);
    checksum_text(d, address);
    d->sum->households++;
    for (int i = 0; i < n; i++) {
        checksum_text(d, members[i].relation);
        checksum_text(d, members[i].from_date);
        checksum_text(d, members[i].to_date);
        d->sum->members++;
    }
    h->n = n;
    memcpy(h->community, community, sizeof(h->community));
    memcpy(h->address, address, sizeof(h->address));
}

/* Write one generated household's rows that go to the side database:
 * the household, its memberships and its persons' search rows and keys
 * (generator thread; the persons rows are the writer's). */
static int aux_write_household(struct demo *d, const struct demo_house *h)
{
    struct mz_stmt *st = d->ins_household;
    mz_db_bind_int(st, 1, h->id);
    mz_db_bind_text(st, 2, d->now);
    mz_db_bind_text(st, 3, d->now);
    mz_db_bind_text(st, 4, h->community);
    mz_db_bind_text(st, 5, h->address);
    mz_db_bind_int(st, 6, h->members[0].id);
    int rc = mz_db_step(st);
    mz_db_reset(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    for (int i = 0; i < h->n; i++) {
        const struct person *p = &h->members[i];
        st = d->ins_member;
        mz_db_bind_int(st, 1, p->member_id);
        mz_db_bind_text(st, 2, d->now);
        mz_db_bind_text(st, 3, d->now);
        mz_db_bind_int(st, 4, h->id);
        mz_db_bind_int(st, 5, p->id);
        mz_db_bind_text(st, 6, p->relation);
        mz_db_bind_text(st, 7, p->from_date);
        bind_opt(st, 8, p->to_date);
        mz_db_bind_text(st, 9, h->community);
        rc = mz_db_step(st);
        mz_db_reset(st);
        if (rc != MZ_DONE)
            return rc < 0 ? rc : MZ_ERR_DB;
        if ((rc = registry_person_bulk_add(d->bulk, p->id, p->name, p->hukou)) != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

/* Begin a transaction on every side database. */
static int aux_begin(struct demo *d)
{
    int rc = MZ_OK;
    for (int i = 0; rc == MZ_OK && i < AUX_N; i++) {
        if ((rc = mz_db_begin_write(d->aux[i])) != MZ_OK) {
            for (int j = 0; j < i; j++)
                mz_db_rollback(d->aux[j]);
        }
    }
    return rc;
}

/* Commit the side databases' transactions. */
static int aux_commit(struct demo *d)
{
    int rc = MZ_OK;
    for (int i = 0; i < AUX_N; i++) {
        int r = mz_db_commit(d->aux[i]);
        if (rc == MZ_OK)
            rc = r;
    }
    return rc;
}

/* Give a generated batch its ids and write its side-database rows, in
 * transactions of about DEMO_BATCH persons (generator thread). The ids
 * follow the generation order from the tables' next free ones, which is
 * what the inserts one by one gave. */
static int aux_write_batch(struct demo *d, struct demo_batch *b)
{
    int rc = MZ_OK;
    for (int i = 0; i < b->nhouses; i++) {
        struct demo_house *h = &b->houses[i];
        h->id = d->next_household++;
        for (int j = 0; j < h->n; j++) {
            h->members[j].id = d->next_person++;
            h->members[j].member_id = d->next_member++;
        }
    }
    for (int i = 0; rc == MZ_OK && i < b->nhouses; i++) {
        if (d->aux_in_tx == 0 && (rc = aux_begin(d)) != MZ_OK)
            break;
        rc = aux_write_household(d, &b->houses[i]);
        d->aux_in_tx += b->houses[i].n;
        if (rc == MZ_OK && d->aux_in_tx >= DEMO_BATCH) {
            rc = aux_commit(d);
            d->aux_in_tx = 0;
        }
    }
    return rc;
}

static void batch_free(struct demo_batch *b)
{
    if (b == NULL)
        return;
    free(b->houses);
    free(b);
}

/* CPU time of the calling thread, in seconds. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int aux_end_load(struct demo *d, int which);

/* Stop the other thread after an error (either thread). */
static void demo_stop(struct demo *d)
{
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* The generator thread: households in batches of about DEMO_CHUNK persons,
 * with their search terms and their side-database rows written,
 * queued for the writer; at most DEMO_QUEUE batches ahead. Everything
 * random happens here, in one sequence, so the data do not depend on the
 * threads' timing. When writing, it then finishes the side database
 * (aux_end_load) while the writer builds the persons indexes. */
static void *demo_generator(void *arg)
{
    struct demo *d = arg;
    while (d->sum->persons < d->target) {
        pthread_mutex_lock(&d->mu);
        if (d->queued >= DEMO_QUEUE && !d->stop) {
            int64_t tw = mz_mono_us();
            while (d->queued >= DEMO_QUEUE && !d->stop)
                pthread_cond_wait(&d->cv, &d->mu);
            d->gen_wait_us += mz_mono_us() - tw;
        }
        bool stop = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        struct demo_batch *b = mz_xcalloc(1, sizeof(*b));
        b->houses = mz_xmalloc(DEMO_CHUNK * sizeof(*b->houses));
        int64_t end = d->sum->persons + DEMO_CHUNK;
        while (d->sum->persons < d->target && d->sum->persons < end)
            demo_household(d, d->target - d->sum->persons, &b->houses[b->nhouses++]);
        if (d->aux[0] && (d->aux_rc = aux_write_batch(d, b)) != MZ_OK) {
            mz_error("demo: writing the side databases failed: %s / %s",
                     mz_db_errmsg(d->aux[AUX_HOUSES]), mz_db_errmsg(d->aux[AUX_SEARCH]));
            batch_free(b);
            demo_stop(d);
            break;
        }
        pthread_mutex_lock(&d->mu);
        if (d->tail)
            d->tail->next = b;
        else
            d->head = b;
        d->tail = b;
        d->queued++;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    pthread_mutex_lock(&d->mu);
    d->done = true;
    bool stop = d->stop;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    d->gen_rows_cpu = thread_cpu_s();
    if (d->aux[0]) {
        int64_t t0 = mz_mono_us();
        if (d->aux_in_tx > 0) {
            if (d->aux_rc == MZ_OK && !stop) {
                d->aux_rc = aux_commit(d);
            } else {
                for (int i = 0; i < AUX_N; i++)
                    mz_db_rollback(d->aux[i]);
            }
        }
        /* Each side database finished, closed and handed to the writer in
         * turn: the households' first (their indexes: the shorter job). */
        for (int i = 0; i < AUX_N && d->aux_rc == MZ_OK && !stop; i++) {
            d->aux_rc = aux_end_load(d, i);
            if (d->aux_rc != MZ_OK)
                demo_stop(d);
        }
        d->gen_end_s = (double)(mz_mono_us() - t0) / 1e6;
    }
    /* Whatever was not handed over will not be. */
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < AUX_N; i++) {
        if (d->aux_ready[i] == 0)
            d->aux_ready[i] = -1;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    d->gen_end_cpu = thread_cpu_s() - d->gen_rows_cpu;
    /* The caller's spare work while the writer still builds and copies
     * (each piece short: the writer waits at most one for the join). */
    double cpu = thread_cpu_s();
    while (d->spare_work) {
        pthread_mutex_lock(&d->mu);
        bool go = !d->writer_done && !d->stop;
        pthread_mutex_unlock(&d->mu);
        if (!go || !d->spare_work())
            break;
        d->spare_n++;
    }
    d->spare_cpu = thread_cpu_s() - cpu;
    return NULL;
}

/* Wait for the generator thread to end (writer thread), telling it to
 * begin no more spare work. */
static void demo_join(struct demo *d, pthread_t gen)
{
    pthread_mutex_lock(&d->mu);
    d->writer_done = true;
    pthread_mutex_unlock(&d->mu);
    pthread_join(gen, NULL);
}

/* The next generated batch, NULL when the generator has finished. */
static struct demo_batch *batch_take(struct demo *d)
{
    pthread_mutex_lock(&d->mu);
    if (d->head == NULL && !d->done) {
        int64_t tw = mz_mono_us();
        while (d->head == NULL && !d->done)
            pthread_cond_wait(&d->cv, &d->mu);
        d->writer_wait_us += mz_mono_us() - tw;
    }
    struct demo_batch *b = d->head;
    if (b) {
        d->head = b->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued--;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return b;
}

/* Write the generated batches as they come, in transactions of about
 * DEMO_BATCH persons; on an error the generator is stopped and the rest
 * of the queue dropped. */
static int demo_write_all(struct demo *d)
{
    int rc = MZ_OK;
    int64_t in_tx = 0;
    bool tx = false;
    struct demo_batch *b;
    struct mz_arena *arena = mz_arena_new();
    while ((b = batch_take(d)) != NULL) {
        for (int i = 0; rc == MZ_OK && d->db && i < b->nhouses; i++) {
            if (!tx && (rc = mz_db_begin_write(d->db)) == MZ_OK)
                tx = true;
            for (int j = 0; rc == MZ_OK && j < b->houses[i].n; j++)
                rc = write_person(d, arena, &b->houses[i].members[j]);
            in_tx += b->houses[i].n;
            if (rc == MZ_OK && in_tx >= DEMO_BATCH) {
                rc = mz_db_commit(d->db);
                tx = false;
                in_tx = 0;
            }
        }
        batch_free(b);
        mz_arena_reset(arena); /* the batch's sealed values */
        if (rc != MZ_OK)
            demo_stop(d);
    }
    mz_arena_free(arena);
    if (tx) {
        if (rc == MZ_OK)
            rc = mz_db_commit(d->db);
        else
            mz_db_rollback(d->db);
    }
    return rc;
}

/* Delete the side database's file (unless keep_main: only what SQLite
 * may have left beside it). */
static void aux_remove(const char *path, bool keep_main)
{
    static const char *const suffixes[] = {"-journal", "-wal", "-shm"};
    char buf[4096];
    for (size_t i = 0; i < MZ_ARRAY_LEN(suffixes); i++) {
        snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]);
        unlink(buf);
    }
    if (!keep_main)
        unlink(path);
}

/* The tables written in each side database and copied whole into the
 * database at the end (those that exist: the search tables only when the
 * search module is linked), NULL-terminated. The FTS5 index's shadow
 * tables are copied as they are, as VACUUM copies them (its config table
 * holds the same row); person_fts is created in the search side database
 * for the rebuild, not copied. */
static const char *const aux_tables[AUX_N][3] = {
    {"households", "household_members", NULL},
    {"person_key", NULL},
    {"person_search", NULL},
};
static const char *const aux_fts_tables[] = {"person_fts_data", "person_fts_idx",
                                             "person_fts_docsize"};

/* Drop the secondary indexes of the tables the demo fills, keeping their
 * DDL: rows are then appended to bare tables, and the indexes are built
 * after the load, each in one sorted pass, far faster than maintaining
 * them row by row. */
static int demo_drop_indexes(struct demo *d)
{
    static const char *const tables[] = {"household_members", "households", "persons"};
    return mz_db_indexes_drop(d->db, tables, MZ_ARRAY_LEN(tables), true, &d->indexes);
}

/* Build the dropped indexes of the households and memberships on db, in
 * the caller's transaction (those of persons: demo_end_load). */
static int demo_build_indexes(struct demo *d, struct mz_db *db)
{
    int rc = MZ_OK;
    for (size_t i = 0; rc == MZ_OK && i < d->indexes.n; i++) {
        if (strcmp(d->indexes.tbl[i], "persons") == 0)
            continue;
        int64_t t = mz_mono_us();
        rc = mz_db_exec(db, d->indexes.sql[i]);
        mz_info("demo: %.60s %.1f s", d->indexes.sql[i], (double)(mz_mono_us() - t) / 1e6);
    }
    return rc;
}

/* Finish side database `which` (generator thread, while the writer builds
 * the persons indexes and copies the side database finished before):
 * the households' and memberships' indexes, the search keys in key order,
 * or the FTS index (one pass each); then analyse it, close it and hand it
 * to the writer. */
static int aux_end_load(struct demo *d, int which)
{
    int64_t t0 = mz_mono_us();
    double cpu0 = thread_cpu_s();
    struct mz_db *aux = d->aux[which];
    int rc = mz_db_begin_write(aux);
    if (rc != MZ_OK)
        return rc;
    if (which == AUX_HOUSES) {
        rc = demo_build_indexes(d, aux);
    } else if (which == AUX_KEYS) {
        rc = registry_person_bulk_write_keys(d->bulk, aux);
    } else {
        rc = registry_person_bulk_finish(d->bulk); /* the FTS index */
        d->bulk = NULL;
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(aux);
    else
        mz_db_rollback(aux);
    /* Its tables' statistics, as the database's ANALYZE would make them
     * (the same b-trees), copied with the tables: not on the writer's path. */
    if (rc == MZ_OK && aux_analyze[which])
        rc = mz_db_exec(aux, "PRAGMA analysis_limit=" DEMO_ANALYSIS_LIMIT "; ANALYZE");
    if (rc != MZ_OK) {
        mz_error("demo: finishing the side database %s failed: %s", aux_suffix[which],
                 mz_db_errmsg(aux));
        return rc;
    }
    if (which == AUX_HOUSES) {
        mz_db_finalize(d->ins_household);
        mz_db_finalize(d->ins_member);
        d->ins_household = d->ins_member = NULL;
    }
    mz_db_close(aux);
    d->aux[which] = NULL;
    d->aux_end_s[which] = (double)(mz_mono_us() - t0) / 1e6;
    d->aux_end_cpu[which] = thread_cpu_s() - cpu0;
    mz_info("demo: side database %s finished in %.1f s (%.1f s CPU)", aux_suffix[which],
            d->aux_end_s[which], d->aux_end_cpu[which]);
    pthread_mutex_lock(&d->mu);
    d->aux_ready[which] = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return MZ_OK;
}

/* The path of side database `which`: beside the database file (or a
 * scratch file in TMPDIR for an in-memory database). */
static int aux_make_path(struct demo *d, const char *file, int which)
{
    bool beside = file && *file;
    if (beside) {
        size_t n = strlen(file) + strlen(aux_suffix[which]) + 1;
        d->aux_path[which] = mz_xmalloc(n);
        snprintf(d->aux_path[which], n, "%s%s", file, aux_suffix[which]);
    } else {
        const char *dir = getenv("TMPDIR");
        dir = dir && *dir ? dir : "/tmp";
        size_t n = strlen(dir) + sizeof("/minzheng-demo-XXXXXX");
        d->aux_path[which] = mz_xmalloc(n);
        snprintf(d->aux_path[which], n, "%s/minzheng-demo-XXXXXX", dir);
        int fd = mkstemp(d->aux_path[which]);
        if (fd < 0) {
            mz_error("demo: cannot create a scratch file in %s", dir);
            free(d->aux_path[which]);
            d->aux_path[which] = NULL;
            return MZ_ERR_IO;
        }
        close(fd);
    }
    aux_remove(d->aux_path[which], !beside); /* a leftover of a crash; mkstemp's empty file stays */
    return MZ_OK;
}

/* Open the side databases (aux_suffix) with the same tables as db, no
 * indexes but the search tables' own, and the generator's statements. */
static int aux_open(struct demo *d)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare_uncached(d->db, "SELECT file FROM pragma_database_list WHERE name ="
                                           " 'main'", &st);
    if (rc != MZ_OK)
        return rc;
    const char *file = mz_db_step(st) == MZ_ROW ? mz_db_col_text(st, 0) : NULL;
    for (int i = 0; rc == MZ_OK && i < AUX_N; i++)
        rc = aux_make_path(d, file, i);
    mz_db_finalize(st);
    static const char *const tables_sql[AUX_N] = {
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('households',"
        " 'household_members') ORDER BY name",
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'person_key'",
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('person_search',"
        " 'person_fts') ORDER BY name"};
    for (int i = 0; rc == MZ_OK && i < AUX_N; i++) {
        struct mz_db_options o = {.create = true};
        rc = mz_db_open(d->aux_path[i], &o, &d->aux[i]);
        if (rc == MZ_OK)
            rc = mz_db_exec(d->aux[i], "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                                       " PRAGMA cache_size=" DEMO_CACHE "; PRAGMA temp_store=FILE;"
                                       " PRAGMA threads=2; PRAGMA foreign_keys=OFF;"
                                       " PRAGMA mmap_size=0");
        if (rc == MZ_OK)
            rc = mz_db_prepare_uncached(d->db, tables_sql[i], &st);
        if (rc != MZ_OK)
            break;
        while (rc == MZ_OK && mz_db_step(st) == MZ_ROW)
            rc = mz_db_exec(d->aux[i], mz_db_col_text(st, 0));
        mz_db_finalize(st);
    }
    if (rc == MZ_OK)
        rc = mz_db_prepare_uncached(d->aux[AUX_HOUSES],
                                    "INSERT INTO households (id, version, created_at, updated_at,"
                                    " created_by, updated_by, kind, division, address,"
                                    " head_person_id) VALUES (?, 1, ?, ?, 'demo', 'demo', 'hukou',"
                                    " ?, ?, ?)",
                                    &d->ins_household);
    if (rc == MZ_OK)
        rc = mz_db_prepare_uncached(d->aux[AUX_HOUSES],
                                    "INSERT INTO household_members (id, version, created_at,"
                                    " updated_at, created_by, updated_by, household_id, person_id,"
                                    " relation, from_date, to_date, division) VALUES (?, 1, ?, ?,"
                                    " 'demo', 'demo', ?, ?, ?, ?, ?, ?)",
                                    &d->ins_member);
    if (rc == MZ_OK)
        rc = registry_person_bulk_begin(d->aux[AUX_SEARCH], &d->bulk);
    /* The ids go on from the database's (a fresh one: 1). */
    static const char *const next_sql[] = {"SELECT coalesce(max(id), 0) + 1 FROM persons",
                                           "SELECT coalesce(max(id), 0) + 1 FROM households",
                                           "SELECT coalesce(max(id), 0) + 1 FROM household_members"};
    int64_t *next[] = {&d->next_person, &d->next_household, &d->next_member};
    for (size_t i = 0; rc == MZ_OK && i < MZ_ARRAY_LEN(next_sql); i++)
        rc = mz_db_query_int(d->db, next_sql[i], next[i], 0, NULL);
    return rc;
}

/* Close what is still open of the side databases and delete their files. */
static void aux_close(struct demo *d)
{
    if (d->ins_household)
        mz_db_finalize(d->ins_household);
    if (d->ins_member)
        mz_db_finalize(d->ins_member);
    d->ins_household = d->ins_member = NULL;
    registry_person_bulk_abort(d->bulk);
    d->bulk = NULL;
    for (int i = 0; i < AUX_N; i++) {
        if (d->aux[i])
            mz_db_close(d->aux[i]);
        d->aux[i] = NULL;
        if (d->aux_path[i])
            aux_remove(d->aux_path[i], false);
        free(d->aux_path[i]);
        d->aux_path[i] = NULL;
    }
}

/* Copy side database `which`'s tables whole into db (writer thread, once
 * the generator has finished it) and delete its file. INSERT ... SELECT *
 * between tables of the same definition is SQLite's transfer: the b-tree
 * records (of the table and of each index) are copied in order, not
 * re-encoded or sorted. */
static int aux_copy(struct demo *d, int which)
{
    const char *path = d->aux_path[which];
    int rc = mz_db_run(d->db, "ATTACH DATABASE ? AS demo_aux", "t", path);
    if (rc != MZ_OK)
        return rc;
    if ((rc = mz_db_begin_write(d->db)) == MZ_OK) {
        if (which == AUX_HOUSES) /* on the empty tables: the copy fills them */
            rc = demo_build_indexes(d, d->db);
        char sql[160];
        for (size_t i = 0; rc == MZ_OK && aux_tables[which][i]; i++) {
            if (!mz_db_table_exists(d->db, aux_tables[which][i]))
                continue;
            int64_t t = mz_mono_us();
            snprintf(sql, sizeof(sql), "INSERT INTO main.%s SELECT * FROM demo_aux.%s",
                     aux_tables[which][i], aux_tables[which][i]);
            rc = mz_db_exec(d->db, sql);
            mz_info("demo: %s copied in %.1f s", aux_tables[which][i],
                    (double)(mz_mono_us() - t) / 1e6);
        }
        for (size_t i = 0; rc == MZ_OK && which == AUX_SEARCH && i < MZ_ARRAY_LEN(aux_fts_tables);
             i++) {
            if (!mz_db_table_exists(d->db, aux_fts_tables[i]))
                continue;
            snprintf(sql, sizeof(sql),
                     "DELETE FROM main.%s; INSERT INTO main.%s SELECT * FROM demo_aux.%s",
                     aux_fts_tables[i], aux_fts_tables[i], aux_fts_tables[i]);
            rc = mz_db_exec(d->db, sql);
        }
        /* The statistics of the copied tables (ANALYZE sqlite_master makes
         * the table when there is none: it has nothing to analyse). */
        if (rc == MZ_OK && aux_analyze[which] && !mz_db_table_exists(d->db, "sqlite_stat1"))
            rc = mz_db_exec(d->db, "ANALYZE main.sqlite_master");
        if (rc == MZ_OK && aux_analyze[which])
            rc = mz_db_exec(d->db, "INSERT INTO main.sqlite_stat1 SELECT * FROM"
                                   " demo_aux.sqlite_stat1");
        if (rc == MZ_OK)
            rc = mz_db_commit(d->db);
        else
            mz_db_rollback(d->db);
    }
    mz_db_exec(d->db, "DETACH DATABASE demo_aux");
    if (rc == MZ_OK) /* its disk space back at once */
        aux_remove(path, false);
    return rc;
}

/* Copy the side databases the generator has finished, in order from
 * *next (writer thread); with wait, wait for each until all are copied.
 * copy_us/copy_cpu add up the copies' time. */
static int aux_copy_ready(struct demo *d, int *next, bool wait, int64_t *copy_us, double *copy_cpu)
{
    int rc = MZ_OK;
    while (rc == MZ_OK && *next < AUX_N) {
        int i = *next;
        int64_t tw = mz_mono_us();
        pthread_mutex_lock(&d->mu);
        while (wait && d->aux_ready[i] == 0)
            pthread_cond_wait(&d->cv, &d->mu);
        int ready = d->aux_ready[i];
        pthread_mutex_unlock(&d->mu);
        if (ready == 0)
            break; /* not yet: later */
        if (ready < 0) {
            rc = d->aux_rc != MZ_OK ? d->aux_rc : MZ_ERR_DB;
            break;
        }
        int64_t t1 = mz_mono_us();
        double cpu = thread_cpu_s();
        rc = aux_copy(d, i);
        (*next)++;
        *copy_us += mz_mono_us() - t1;
        *copy_cpu += thread_cpu_s() - cpu;
        mz_info("demo: side database %s copied in %.1f s (%.1f s CPU) after waiting %.1f s",
                aux_suffix[i], (double)(mz_mono_us() - t1) / 1e6, thread_cpu_s() - cpu,
                (double)(t1 - tw) / 1e6);
    }
    return rc;
}

/* The end of the load on the writer's side: the persons indexes one by
 * one, and between two of them each side database the generator thread
 * has finished meanwhile, copied whole; then the rest as they come. So
 * the copies (one thread) run beside the generator's work, and what is
 * left when it has finished is rather index builds, whose sorts take the
 * other core too (PRAGMA threads). */
static int demo_end_load(struct demo *d, pthread_t gen, int64_t *persons_us, double *persons_cpu,
                         int64_t *copy_us)
{
    int64_t t0 = mz_mono_us();
    double cpu0 = thread_cpu_s(), copy_cpu = 0;
    int rc = MZ_OK, next = 0;
    *copy_us = 0;
    for (size_t i = 0; rc == MZ_OK && i < d->indexes.n; i++) {
        if (strcmp(d->indexes.tbl[i], "persons") != 0)
            continue;
        int64_t t = mz_mono_us();
        if ((rc = mz_db_begin_write(d->db)) == MZ_OK) {
            rc = mz_db_exec(d->db, d->indexes.sql[i]);
            if (rc == MZ_OK)
                rc = mz_db_commit(d->db);
            else
                mz_db_rollback(d->db);
        }
        mz_info("demo: %.60s %.1f s", d->indexes.sql[i], (double)(mz_mono_us() - t) / 1e6);
        if (rc == MZ_OK)
            rc = aux_copy_ready(d, &next, false, copy_us, &copy_cpu);
    }
    if (rc == MZ_OK)
        rc = aux_copy_ready(d, &next, true, copy_us, &copy_cpu);
    if (rc != MZ_OK)
        demo_stop(d);
    *persons_us = mz_mono_us() - t0 - *copy_us;
    *persons_cpu = thread_cpu_s() - cpu0 - copy_cpu;
    demo_join(d, gen);
    if (rc == MZ_OK)
        rc = d->aux_rc;
    return rc;
}

/* Whether table's statistics came from a side database (aux_analyze; the
 * FTS5 index's tables with the search tables). */
static bool aux_stats_copied(const char *table)
{
    if (strcmp(table, "person_fts_config") == 0)
        return true;
    for (int i = 0; i < AUX_N; i++) {
        for (size_t j = 0; aux_analyze[i] && aux_tables[i][j]; j++) {
            if (strcmp(table, aux_tables[i][j]) == 0)
                return true;
        }
    }
    for (size_t j = 0; j < MZ_ARRAY_LEN(aux_fts_tables); j++) {
        if (strcmp(table, aux_fts_tables[j]) == 0)
            return true;
    }
    return false;
}

/* ANALYZE persons's indexes one by one: the same statistics as ANALYZE
 * persons but for the table's own row (written by ANALYZE when all its
 * indexes are partial), which it gets by a pass over the whole table (6.4 GB
 * at 14 million persons) and which is written here from the rows the load
 * wrote into an empty table. Into sql; false when that does not apply. */
static bool demo_analyze_persons(struct mz_db *db, int64_t rows, struct mz_buf *sql)
{
    struct mz_stmt *st;
    if (rows <= 0 || mz_db_prepare_uncached(db, "SELECT name, partial FROM"
                                                " pragma_index_list('persons')", &st) != MZ_OK)
        return false;
    bool all_partial = true;
    size_t start = sql->len;
    while (mz_db_step(st) == MZ_ROW) {
        const char *name = mz_db_col_text(st, 0);
        all_partial = all_partial && mz_db_col_int(st, 1) == 1;
        if (name && strchr(name, '"') == NULL)
            mz_buf_printf(sql, "ANALYZE main.\"%s\";", name);
        else
            all_partial = false;
    }
    mz_db_finalize(st);
    if (!all_partial || sql->len == start) {
        sql->len = start;
        if (sql->data)
            sql->data[start] = '\0';
        return false;
    }
    /* The table's row first: each index's ANALYZE then reloads it too. */
    char row[160];
    snprintf(row, sizeof(row),
             "DELETE FROM main.sqlite_stat1 WHERE tbl = 'persons' AND idx IS NULL;"
             " INSERT INTO main.sqlite_stat1 VALUES ('persons', NULL, '%lld');",
             (long long)rows);
    char *indexes = mz_xstrdup(sql->data + start);
    sql->len = start;
    mz_buf_puts(sql, row);
    mz_buf_puts(sql, indexes);
    free(indexes);
    return true;
}

/* ANALYZE the database; after a load, the tables but those copied from
 * the side databases, whose statistics came with them, and persons by its
 * indexes when its rows are all the load's (persons_rows > 0). */
static void demo_analyze(struct mz_db *db, bool loaded, int64_t persons_rows)
{
    struct mz_stmt *st;
    if (!loaded || mz_db_prepare_uncached(db,
                                          "SELECT name FROM sqlite_master WHERE type = 'table'"
                                          " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql NOT"
                                          " LIKE 'CREATE VIRTUAL %' ORDER BY name",
                                          &st) != MZ_OK) {
        mz_db_exec(db, "ANALYZE");
        return;
    }
    struct mz_buf sql;
    mz_buf_init(&sql, 0);
    while (mz_db_step(st) == MZ_ROW) {
        const char *name = mz_db_col_text(st, 0);
        if (aux_stats_copied(name) || strchr(name, '"') != NULL)
            continue;
        if (strcmp(name, "persons") != 0 || !demo_analyze_persons(db, persons_rows, &sql))
            mz_buf_printf(&sql, "ANALYZE main.\"%s\";", name);
    }
    mz_db_finalize(st);
    if (sql.len)
        mz_db_exec(db, sql.data);
    mz_buf_free(&sql);
}

/* Prepare the persons insert (writer thread). */
static int demo_prepare(struct demo *d)
{
    d->sealed = mz_db_column_exists(d->db, "persons", "id_number_bidx");
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO persons (id, version, created_at, updated_at, created_by, updated_by,"
             " id_number, name, sex, birth_date, ethnicity, hukou_division, hukou_address,"
             " residence_division, residence_address, phone, marital_status, education,"
             " disability, disability_grade, political_status, hukou_type, deceased_on,"
             " death_source, separated%s) VALUES (?, 1, ?, ?, 'demo', 'demo', ?, ?, ?, ?, ?, ?,"
             " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?%s)",
             d->sealed ? ", id_number_bidx, phone_bidx" : "", d->sealed ? ", ?, ?" : "");
    int rc = mz_db_prepare_uncached(d->db, sql, &d->ins_person);
    if (rc == MZ_OK)
        rc = aux_open(d);
    if (rc != MZ_OK)
        mz_error("demo: preparing the load failed: %s",
                 mz_db_errmsg(d->db));
    return rc;
}

int mz_registry_demo(struct mz_app *app, struct mz_db *db, const struct mz_demo_options *o,
                     struct mz_demo_summary *out)
{
    struct demo d;
    int rc = MZ_OK;
    int64_t t0 = mz_mono_us();
    double cpu0 = thread_cpu_s();
    (void)app;
    memset(&d, 0, sizeof(d));
    memset(out, 0, sizeof(*out));
    d.rng.s = o->seed;
    d.spare_work = o->spare_work;
    d.db = o->dry_run ? NULL : db;
    d.sum = out;
    d.seq = mz_xcalloc((size_t)AREA_SLOTS * DAY_SLOTS * 2, sizeof(uint16_t));
    d.birth_min_days = mz_date_to_days(DEMO_BIRTH_MIN);
    d.today_days = mz_date_to_days(DEMO_TODAY);
    d.checksum = 0xCBF29CE484222325ull;
    mz_now_rfc3339(d.now);
    demo_districts_init(&d);
    int64_t target = o->persons > 0 ? o->persons : 100000, mmap_size = 0, persons_before = -1;
    bool bulk_io = false;
    if (d.db) {
        /* A one-shot bulk load into a fresh database: no rollback journal
         * and no syncs while loading (a crash leaves a demo database to
         * delete and regenerate), a small page cache (DEMO_CACHE), sorts
         * (index builds) in temporary files on two threads. The database goes back to WAL
         * with normal syncs at the end. */
        /* No memory map while loading: the index builds' scans would
         * count its pages in the peak memory (they are read through the
         * page cache instead); the connection's own map comes back after. */
        mz_db_query_int(d.db, "PRAGMA mmap_size", &mmap_size, 0, NULL);
        mz_db_exec(d.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                         " PRAGMA cache_size=" DEMO_CACHE "; PRAGMA temp_store=FILE;"
                         " PRAGMA threads=2; PRAGMA mmap_size=0");
        rc = mz_db_query_int(d.db, "SELECT count(*) FROM persons", &persons_before, 0, NULL);
        /* Reads ahead and gathered writes while loading, where the command
         * installed the VFS for it (src/db/sqlite_bulk.c): the files are
         * this load's alone until it ends. */
        bulk_io = rc == MZ_OK && mz_db_bulk_io(true);
        if (rc == MZ_OK)
            rc = demo_drop_indexes(&d);
        if (rc == MZ_OK)
            rc = demo_prepare(&d);
    }
    d.target = target;
    if (rc == MZ_OK) {
        /* Generation, sealing and the side database on one thread, the
         * persons rows on this one; then the indexes on both. */
        pthread_t gen;
        pthread_mutex_init(&d.mu, NULL);
        pthread_cond_init(&d.cv, NULL);
        if (pthread_create(&gen, NULL, demo_generator, &d) != 0) {
            mz_error("demo: cannot start the generator thread");
            rc = MZ_ERR_NOMEM;
        } else {
            rc = demo_write_all(&d);
            int64_t t1 = mz_mono_us();
            double cpu1 = thread_cpu_s();
            mz_info("demo: rows generated and written in %.1f s (writer thread %.1f s CPU; waited"
                    " %.1f s for batches, the generator %.1f s for room in the queue)",
                    (double)(t1 - t0) / 1e6, cpu1 - cpu0, (double)d.writer_wait_us / 1e6,
                    (double)d.gen_wait_us / 1e6);
            if (d.db) {
                int64_t persons_us = 0, copy_us = 0;
                double persons_cpu = 0;
                if (rc == MZ_OK) {
                    rc = demo_end_load(&d, gen, &persons_us, &persons_cpu, &copy_us);
                } else {
                    demo_join(&d, gen);
                }
                mz_info("demo: end of the load %.1f s: persons indexes %.1f s (%.1f s CPU), side"
                        " databases %.1f s (generator thread %.1f s CPU), copies %.1f s; writer"
                        " thread %.1f s CPU",
                        (double)(mz_mono_us() - t1) / 1e6, (double)persons_us / 1e6, persons_cpu,
                        d.gen_end_s, d.gen_end_cpu, (double)copy_us / 1e6, thread_cpu_s() - cpu1);
                mz_info("demo: generator thread %.1f s CPU during the rows", d.gen_rows_cpu);
            } else {
                demo_join(&d, gen);
            }
            if (d.spare_work)
                mz_info("demo: spare work on the generator thread: %d pieces, %.1f s CPU",
                        d.spare_n, d.spare_cpu);
        }
        while (d.head) { /* left after an error */
            struct demo_batch *b = d.head;
            d.head = b->next;
            batch_free(b);
        }
        pthread_cond_destroy(&d.cv);
        pthread_mutex_destroy(&d.mu);
    }
    if (rc != MZ_OK && d.db)
        mz_error("demo: writing failed: %s", mz_db_errmsg(d.db));
    if (d.db) {
        if (d.ins_person)
            mz_db_finalize(d.ins_person);
        aux_close(&d);
        mz_db_indexes_free(&d.indexes);
        if (bulk_io) /* before the database is shared again (WAL) */
            mz_db_bulk_io(false);
        /* A normal database again; statistics from a sample of each index
         * (those of the side databases' tables came with them). */
        int64_t ta = mz_mono_us();
        char sql[192];
        snprintf(sql, sizeof(sql),
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-2000;"
                 " PRAGMA mmap_size=%lld; PRAGMA analysis_limit=" DEMO_ANALYSIS_LIMIT,
                 (long long)mmap_size);
        mz_db_exec(d.db, sql);
        demo_analyze(d.db, rc == MZ_OK, persons_before == 0 ? out->persons : 0);
        mz_info("demo: analyze %.1f s", (double)(mz_mono_us() - ta) / 1e6);
    }
    free(d.seq);
    demo_districts_free(&d);
    out->checksum = d.checksum;
    out->seconds = (double)(mz_mono_us() - t0) / 1e6;
    return rc;
}
