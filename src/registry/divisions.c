/* divisions.c - administrative divisions with history (GB/T 2260 and the
 * NBS statistical codes below it).
 *
 * Data model (docs/registry.md):
 *  - division_codes: one record per code and validity period: code (12
 *    digits), name, level (1 province .. 5 community), parent (derived from
 *    the code), valid_from (inclusive), valid_to (exclusive; NULL while in
 *    force), source, demo (generated communities). A code that was retired
 *    keeps its record with valid_to set, so records dated before a change
 *    still resolve (120225 蓟县 2009-2016).
 *  - division_changes: kind (division_change dictionary), old_code, new_code,
 *    effective_on, document (国函〔2009〕125号 ...). Successor chains follow
 *    these records; they are data, edited through the generic screens.
 * Both are engine entities; the seed below is migration step data: Tianjin,
 * its 16 districts and 6 retired ones, the 299 streets and townships of the
 * NBS list (compiled in from data/tianjin-streets.csv by the Makefile), and
 * generated communities/villages (5-25 per street, deterministic, demo=1).
 *
 * Endpoints (contract): GET /api/v1/divisions?parent=CODE[&at=DATE] lists
 * the children in force at a date (default today); GET /api/v1/divisions/{code}
 * gives the record (the one in force, else the latest) with its successor
 * chain and predecessors.
 *
 * Tested by tests/unit/test_registry.c and tests/api/registry.test.mjs.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "registry/registry_internal.h"

/* Tianjin's county-level divisions since 2009. Populations: resident
 * population of the 2020 (seventh) census by district as published by the
 * Tianjin statistics bureau, rounded to 10 000; used only for demo shares.
 * Change dates of 2015 and 2016 are the announcement dates of the State
 * Council approvals (to verify against the 批复 originals). */
const struct registry_district registry_districts[] = {
    {"120101", "和平区", REGISTRY_COVERAGE_START, NULL, 36, false},
    {"120102", "河东区", REGISTRY_COVERAGE_START, NULL, 86, false},
    {"120103", "河西区", REGISTRY_COVERAGE_START, NULL, 82, false},
    {"120104", "南开区", REGISTRY_COVERAGE_START, NULL, 89, false},
    {"120105", "河北区", REGISTRY_COVERAGE_START, NULL, 65, false},
    {"120106", "红桥区", REGISTRY_COVERAGE_START, NULL, 48, false},
    {"120107", "塘沽区", REGISTRY_COVERAGE_START, "2009-11-09", 0, false},
    {"120108", "汉沽区", REGISTRY_COVERAGE_START, "2009-11-09", 0, false},
    {"120109", "大港区", REGISTRY_COVERAGE_START, "2009-11-09", 0, false},
    {"120110", "东丽区", REGISTRY_COVERAGE_START, NULL, 86, false},
    {"120111", "西青区", REGISTRY_COVERAGE_START, NULL, 120, false},
    {"120112", "津南区", REGISTRY_COVERAGE_START, NULL, 93, false},
    {"120113", "北辰区", REGISTRY_COVERAGE_START, NULL, 91, false},
    {"120114", "武清区", REGISTRY_COVERAGE_START, NULL, 115, true},
    {"120115", "宝坻区", REGISTRY_COVERAGE_START, NULL, 72, true},
    {"120116", "滨海新区", "2009-11-09", NULL, 207, false},
    {"120117", "宁河区", "2015-08-12", NULL, 40, true},
    {"120118", "静海区", "2015-08-12", NULL, 79, true},
    {"120119", "蓟州区", "2016-07-28", NULL, 80, true},
    {"120221", "宁河县", REGISTRY_COVERAGE_START, "2015-08-12", 0, true},
    {"120223", "静海县", REGISTRY_COVERAGE_START, "2015-08-12", 0, true},
    {"120225", "蓟县", REGISTRY_COVERAGE_START, "2016-07-28", 0, true},
};
const size_t registry_ndistricts = MZ_ARRAY_LEN(registry_districts);

/* The changes of Tianjin's county-level divisions since 2009. */
const struct registry_change registry_changes[] = {
    {"merge", "120107", "120116", "2009-11-09", "国函〔2009〕125号", "撤销塘沽区，设立滨海新区"},
    {"merge", "120108", "120116", "2009-11-09", "国函〔2009〕125号", "撤销汉沽区，设立滨海新区"},
    {"merge", "120109", "120116", "2009-11-09", "国函〔2009〕125号", "撤销大港区，设立滨海新区"},
    {"upgrade", "120221", "120117", "2015-08-12", "国函〔2015〕119号", "撤销宁河县，设立宁河区"},
    {"upgrade", "120223", "120118", "2015-08-12", "国函〔2015〕119号", "撤销静海县，设立静海区"},
    {"upgrade", "120225", "120119", "2016-07-28", "国函〔2016〕98号", "撤销蓟县，设立蓟州区"},
};
const size_t registry_nchanges = MZ_ARRAY_LEN(registry_changes);

/* The NBS list, generated from data/tianjin-streets.csv at build time. */
const struct registry_street registry_streets[] = {
#include "tianjin_streets.inc"
};
const size_t registry_nstreets = MZ_ARRAY_LEN(registry_streets);

const struct registry_district *registry_district_of(const char *code6)
{
    for (size_t i = 0; i < registry_ndistricts; i++) {
        if (strncmp(registry_districts[i].code, code6, 6) == 0)
            return &registry_districts[i];
    }
    return NULL;
}

/* --- generated communities ------------------------------------------------------- */

/* FNV-1a of a string: the per-street seed of the generated names. */
static uint32_t street_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Does a UTF-8 string end with suffix? */
static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool registry_street_is_urban(const struct registry_street *s)
{
    return ends_with(s->name, "街道");
}

/* A township proper (镇/乡), as opposed to development zones and farms. */
static bool street_is_township(const struct registry_street *s)
{
    return ends_with(s->name, "镇") || ends_with(s->name, "乡");
}

int registry_community_count(const struct registry_street *s)
{
    uint32_t h = street_hash(s->code);
    if (registry_street_is_urban(s) || street_is_township(s))
        return 5 + (int)(h % 21);
    return 2 + (int)(h % 4);
}

/* Syllables of community names (a list, not real places). */
static const char *const community_prefixes[] = {
    "和平", "兴安", "朝阳", "建设", "新华", "胜利", "光明", "团结", "幸福", "育红",
    "向阳", "东风", "红旗", "长江", "金海", "福安", "春华", "秋实", "丽景", "翠园",
    "芳华", "松江", "桃源", "柳林", "梅苑", "竹林", "宜居", "安康", "永兴", "振华",
    "文化", "康乐", "滨江", "宏达", "祥和", "瑞景", "嘉园", "华苑", "明珠", "锦绣",
};
static const char *const community_suffixes[] = {"里", "园", "苑", "花园", "家园",
                                                 "新村", "公寓", "小区", "东里", "西里"};
/* Village names: direction + surname + a settlement word (the pattern of
 * Tianjin's village names: 东王庄, 李家台, 小南河 ...). */
static const char *const village_directions[] = {"东", "西", "南", "北", "前", "后", "大", "小"};
static const char *const village_surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高",
    "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "程",
    "曹", "袁", "邓", "许", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏",
    "薛", "叶", "阎", "潘", "杜"};
static const char *const village_suffixes[] = {"庄", "营", "屯", "坨", "沽", "口", "台", "堡",
                                               "店", "寨"};

void registry_community(const struct registry_street *s, int i, char code[13], char name[64])
{
    uint32_t h = street_hash(s->code);
    bool urban = registry_street_is_urban(s) || !street_is_township(s);
    int communities = urban ? registry_community_count(s) : 1 + (int)(h % 3);
    if (i < communities) {
        /* 7 is coprime with 40: distinct prefixes for i < 40. */
        const char *p = community_prefixes[(h + (uint32_t)i * 7u) % MZ_ARRAY_LEN(community_prefixes)];
        const char *x = community_suffixes[(h / 40u + (uint32_t)i * 3u) %
                                           MZ_ARRAY_LEN(community_suffixes)];
        snprintf(code, 13, "%.9s%03u", s->code, (unsigned)(i + 1) % 1000u);
        snprintf(name, 64, "%s%s社区", p, x);
        return;
    }
    int v = i - communities;
    /* 11 is coprime with 50: distinct surnames for v < 50. */
    const char *d = village_directions[(h / 7u + (uint32_t)v) % MZ_ARRAY_LEN(village_directions)];
    const char *sn = village_surnames[(h + (uint32_t)v * 11u) % MZ_ARRAY_LEN(village_surnames)];
    const char *x = village_suffixes[(h / 13u + (uint32_t)v * 3u) % MZ_ARRAY_LEN(village_suffixes)];
    snprintf(code, 13, "%.9s%03u", s->code, (unsigned)(200 + v + 1) % 1000u);
    snprintf(name, 64, "%s%s%s村", d, sn, x);
}

/* --- entities -------------------------------------------------------------------- */

/* Derive level and parent from the code; check validity dates are ordered. */
static int division_validate(struct mz_write *w)
{
    const char *code = registry_json_str(w->row, "code");
    const char *from = registry_json_str(w->row, "valid_from");
    const char *to = registry_json_str(w->row, "valid_to");
    if (from && to && strcmp(to, from) <= 0)
        mz_errors_add(w->errors, "valid_to", "too_small", "失效日期应晚于生效日期");
    if (code == NULL)
        return 0;
    int level = mz_division_level(code);
    char lv[2] = {(char)('0' + level), 0};
    json_object_set_new(w->row, "level", json_string(lv));
    char parent[13];
    memcpy(parent, code, 13);
    switch (level) {
    case 5:
        memset(parent + 9, '0', 3);
        break;
    case 4:
        memset(parent + 6, '0', 6);
        break;
    case 3:
    case 2:
        memset(parent + 2, '0', 10);
        break;
    default:
        parent[0] = '\0';
    }
    json_object_set_new(w->row, "parent", parent[0] ? json_string(parent) : json_null());
    return 0;
}

/* Any write to the registry's tables drops the cached display answers. */
static int registry_changed(struct mz_write *w)
{
    (void)w;
    mz_division_cache_drop();
    return 0;
}

static const struct mz_hooks division_hooks = {.validate = division_validate,
                                               .after_write = registry_changed};

static const struct mz_field division_fields[] = {
    {.name = "code", .type = MZ_T_DIVISION, .zh = "区划代码", .en = "Code",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED | MZ_F_SEARCHABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "名称", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 60},
    {.name = "level", .type = MZ_T_DICT, .zh = "级别", .en = "Level", .dict = "division_level",
     .flags = MZ_F_READONLY},
    {.name = "parent", .type = MZ_T_DIVISION, .zh = "上级区划", .en = "Parent",
     .flags = MZ_F_READONLY},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "生效日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "valid_to", .type = MZ_T_DATE, .zh = "失效日期", .en = "Valid to"},
    {.name = "source", .type = MZ_T_TEXT, .zh = "数据来源", .en = "Source",
     .flags = MZ_F_HAS_MAX, .max = 200},
    {.name = "demo", .type = MZ_T_BOOL, .zh = "演示数据", .en = "Demo data", .def = "false"},
};

const struct mz_entity registry_division_codes = {
    .name = "division_codes",
    .zh = "行政区划",
    .en = "Administrative divisions",
    .fields = division_fields,
    .nfields = MZ_ARRAY_LEN(division_fields),
    .hooks = &division_hooks,
    .title_field = "name",
    .default_sort = "code",
};

/* A change must name two different codes. */
static int change_validate(struct mz_write *w)
{
    const char *a = registry_json_str(w->row, "old_code");
    const char *b = registry_json_str(w->row, "new_code");
    if (a && b && strcmp(a, b) == 0 &&
        strcmp(registry_json_str(w->row, "kind") ? registry_json_str(w->row, "kind") : "",
               "boundary") != 0)
        mz_errors_add(w->errors, "new_code", "pattern", "新区划代码应与原代码不同");
    return 0;
}

static const struct mz_hooks change_hooks = {.validate = change_validate,
                                             .after_write = registry_changed};

static const struct mz_field change_fields[] = {
    {.name = "kind", .type = MZ_T_DICT, .zh = "变更类型", .en = "Kind", .dict = "division_change",
     .flags = MZ_F_REQUIRED},
    {.name = "old_code", .type = MZ_T_DIVISION, .zh = "原区划代码", .en = "Old code",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "new_code", .type = MZ_T_DIVISION, .zh = "新区划代码", .en = "New code",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "effective_on", .type = MZ_T_DATE, .zh = "生效日期", .en = "Effective on",
     .flags = MZ_F_REQUIRED},
    {.name = "document", .type = MZ_T_TEXT, .zh = "批准文号", .en = "Approval document",
     .flags = MZ_F_HAS_MAX | MZ_F_SEARCHABLE, .max = 100},
    {.name = "note", .type = MZ_T_TEXT, .zh = "说明", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 1000},
};

const struct mz_entity registry_division_changes = {
    .name = "division_changes",
    .zh = "区划变更",
    .en = "Division changes",
    .fields = change_fields,
    .nfields = MZ_ARRAY_LEN(change_fields),
    .hooks = &change_hooks,
    .title_field = "document",
    .default_sort = "-effective_on",
};

/* --- seed (a migration step) ------------------------------------------------------ */

/* Insert one division record. */
static int seed_division(struct mz_db *db, struct mz_stmt *st, const char *now, const char *code6,
                         const char *name, const char *from, const char *to, const char *source,
                         bool demo)
{
    char code[13], parent[13];
    const char *reason;
    if (mz_division_check(code6, code, &reason) != MZ_OK)
        return MZ_ERR_INVALID;
    int level = mz_division_level(code);
    memcpy(parent, code, 13);
    if (level == 5)
        memset(parent + 9, '0', 3);
    else if (level == 4)
        memset(parent + 6, '0', 6);
    else if (level >= 2)
        memset(parent + 2, '0', 10);
    char lv[2] = {(char)('0' + level), 0};
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, code);
    mz_db_bind_text(st, 4, name);
    mz_db_bind_text(st, 5, lv);
    mz_db_bind_text(st, 6, level == 1 ? NULL : parent);
    mz_db_bind_text(st, 7, from);
    mz_db_bind_text(st, 8, to);
    mz_db_bind_text(st, 9, source);
    mz_db_bind_int(st, 10, demo ? 1 : 0);
    int rc = mz_db_step(st);
    mz_db_reset(st);
    (void)db;
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

int registry_seed_divisions(struct mz_db *db)
{
    struct mz_stmt *st = NULL, *ch = NULL;
    char now[32];
    int rc;
    mz_now_rfc3339(now);
    rc = mz_db_prepare(db,
                       "INSERT INTO division_codes (version, created_at, updated_at, created_by,"
                       " updated_by, code, name, level, parent, valid_from, valid_to, source, demo)"
                       " VALUES (1, ?, ?, 'seed', 'seed', ?, ?, ?, ?, ?, ?, ?, ?)",
                       &st);
    if (rc != MZ_OK)
        return rc;
    rc = seed_division(db, st, now, "120000", "天津市", REGISTRY_COVERAGE_START, NULL,
                       "GB/T 2260", false);
    for (size_t i = 0; rc == MZ_OK && i < registry_ndistricts; i++) {
        const struct registry_district *d = &registry_districts[i];
        rc = seed_division(db, st, now, d->code, d->name, d->valid_from, d->valid_to,
                           "GB/T 2260；变更见区划变更记录", false);
    }
    for (size_t i = 0; rc == MZ_OK && i < registry_nstreets; i++) {
        const struct registry_street *s = &registry_streets[i];
        const struct registry_district *d = registry_district_of(s->district);
        const char *from = d && strcmp(d->valid_from, REGISTRY_COVERAGE_START) > 0
                               ? d->valid_from
                               : REGISTRY_COVERAGE_START;
        rc = seed_division(db, st, now, s->code, s->name, from, NULL, REGISTRY_SOURCE_NBS, false);
        int n = registry_community_count(s);
        for (int k = 0; rc == MZ_OK && k < n; k++) {
            char code[13], name[64];
            registry_community(s, k, code, name);
            rc = seed_division(db, st, now, code, name, from, NULL, "演示数据（程序生成，非真实社区）",
                               true);
        }
    }
    mz_db_done(st);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_prepare(db,
                       "INSERT INTO division_changes (version, created_at, updated_at, created_by,"
                       " updated_by, kind, old_code, new_code, effective_on, document, note)"
                       " VALUES (1, ?, ?, 'seed', 'seed', ?, ?, ?, ?, ?, ?)",
                       &ch);
    if (rc != MZ_OK)
        return rc;
    for (size_t i = 0; rc == MZ_OK && i < registry_nchanges; i++) {
        const struct registry_change *c = &registry_changes[i];
        char a[13], b[13];
        const char *reason;
        mz_division_check(c->old_code, a, &reason);
        mz_division_check(c->new_code, b, &reason);
        mz_db_bind_text(ch, 1, now);
        mz_db_bind_text(ch, 2, now);
        mz_db_bind_text(ch, 3, c->kind);
        mz_db_bind_text(ch, 4, a);
        mz_db_bind_text(ch, 5, b);
        mz_db_bind_text(ch, 6, c->effective_on);
        mz_db_bind_text(ch, 7, c->document);
        mz_db_bind_text(ch, 8, c->note);
        int s = mz_db_step(ch);
        mz_db_reset(ch);
        rc = s == MZ_DONE ? MZ_OK : (s < 0 ? s : MZ_ERR_DB);
    }
    mz_db_done(ch);
    return rc;
}

/* --- lookups ----------------------------------------------------------------------- */

void mz_division_short(const char *code12, char out[13])
{
    static const int digits_by_level[] = {12, 6, 6, 6, 9, 12};
    int level = mz_division_level(code12);
    int n = digits_by_level[level >= 0 && level <= 5 ? level : 0];
    memcpy(out, code12, (size_t)n);
    out[n] = '\0';
}

/* Fill a division from a row of DIVISION_COLS. */
#define DIVISION_COLS "code, name, level, valid_from, valid_to"
static void division_from_stmt(struct mz_stmt *st, struct mz_division *d)
{
    const char *s;
    memset(d, 0, sizeof(*d));
    snprintf(d->code, sizeof(d->code), "%s", (s = mz_db_col_text(st, 0)) ? s : "");
    snprintf(d->name, sizeof(d->name), "%s", (s = mz_db_col_text(st, 1)) ? s : "");
    d->level = (s = mz_db_col_text(st, 2)) ? atoi(s) : 0;
    snprintf(d->valid_from, sizeof(d->valid_from), "%s", (s = mz_db_col_text(st, 3)) ? s : "");
    snprintf(d->valid_to, sizeof(d->valid_to), "%s", (s = mz_db_col_text(st, 4)) ? s : "");
}

int mz_division_get(struct mz_db *db, const char *code, const char *at, struct mz_division *out)
{
    char norm[13];
    const char *reason;
    struct mz_stmt *st;
    if (mz_division_check(code, norm, &reason) != MZ_OK)
        return MZ_ERR_INVALID;
    int rc = mz_db_prepare(
        db,
        at ? "SELECT " DIVISION_COLS " FROM division_codes WHERE code = ? AND deleted_at IS NULL"
             " AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
             " ORDER BY valid_from DESC LIMIT 1"
           : "SELECT " DIVISION_COLS " FROM division_codes WHERE code = ? AND deleted_at IS NULL"
             " ORDER BY valid_to IS NULL DESC, valid_from DESC LIMIT 1",
        &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, norm);
    if (at) {
        mz_db_bind_text(st, 2, at);
        mz_db_bind_text(st, 3, at);
    }
    rc = mz_db_step(st);
    if (rc == MZ_ROW)
        division_from_stmt(st, out);
    mz_db_done(st);
    return rc == MZ_ROW ? MZ_OK : (rc < 0 ? rc : MZ_ERR_NOTFOUND);
}

/* The code that directly replaced code12 (latest change), or false. */
static bool direct_successor(struct mz_db *db, const char *code12, char out[13])
{
    struct mz_stmt *st;
    if (mz_db_prepare(db,
                      "SELECT new_code FROM division_changes WHERE old_code = ?"
                      " AND deleted_at IS NULL AND old_code <> new_code"
                      " ORDER BY effective_on DESC, id DESC LIMIT 1",
                      &st) != MZ_OK)
        return false;
    mz_db_bind_text(st, 1, code12);
    bool found = false;
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0)) {
        snprintf(out, 13, "%s", mz_db_col_text(st, 0));
        found = true;
    }
    mz_db_done(st);
    return found;
}

/* Does a record with exactly this code exist (any validity)? */
static bool division_exists(struct mz_db *db, const char *code12)
{
    struct mz_stmt *st;
    if (mz_db_prepare(db, "SELECT 1 FROM division_codes WHERE code = ? AND deleted_at IS NULL LIMIT 1",
                      &st) != MZ_OK)
        return false;
    mz_db_bind_text(st, 1, code12);
    bool found = mz_db_step(st) == MZ_ROW;
    mz_db_done(st);
    return found;
}

int mz_division_successor(struct mz_db *db, const char *code, char out[13])
{
    char cur[13], next[13];
    const char *reason;
    if (mz_division_check(code, cur, &reason) != MZ_OK)
        return MZ_ERR_INVALID;
    /* A chain longer than 16 steps is a loop in the data: stop there. */
    for (int step = 0; step < 16; step++) {
        if (direct_successor(db, cur, next)) {
            memcpy(cur, next, 13);
            continue;
        }
        if (mz_division_level(cur) >= 4) {
            /* Below a district: carry the street/community part over to the
             * district's successor when that code exists. */
            char district[13];
            memcpy(district, cur, 6);
            memset(district + 6, '0', 6);
            district[12] = '\0';
            if (direct_successor(db, district, next)) {
                char moved[13];
                memcpy(moved, next, 6);
                memcpy(moved + 6, cur + 6, 7);
                memcpy(cur, division_exists(db, moved) ? moved : next, 13);
                continue;
            }
        }
        break;
    }
    memcpy(out, cur, 13);
    return MZ_OK;
}

/* --- cached display answers (mz_division_names) ---------------------------------- */

/* Per thread, allocated on first use: up to NAMES_MAX answers (~1.8 MB;
 * the registry's few thousand codes fit) found through an open-addressed
 * index; a full cache starts over. */
#define NAMES_MAX   8191
#define NAMES_SLOTS 16384 /* index slots: a power of two, at most half full */
struct names_entry {
    char code[13]; /* as asked */
    struct mz_division_names v;
};
#define NAMES_FP_MAX 160
struct names_cache {
    const struct mz_db *db; /* connection it was filled from */
    int generation;         /* names_generation when filled */
    int64_t filled_us;      /* mz_mono_us() of the first answer, or of the last check */
    char fp[NAMES_FP_MAX];  /* names_fingerprint() when filled, "" if none */
    uint16_t n;             /* entries used */
    uint16_t slot[NAMES_SLOTS]; /* 1 + entry index, 0 for an empty slot */
    struct names_entry e[NAMES_MAX];
};
static _Atomic int names_generation = 1;
static _Thread_local struct names_cache *tls_names;
static pthread_key_t names_key;
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_free(void *p)
{
    free(p);
}

static void names_key_init(void)
{
    /* The destructor frees a worker thread's cache when it exits. */
    if (pthread_key_create(&names_key, names_free) != 0)
        abort();
}

void mz_division_cache_drop(void)
{
    atomic_fetch_add(&names_generation, 1);
}

/* Ask the database (what present used to do on every request). */
static int names_load(struct mz_db *db, const char *code, struct mz_division_names *out)
{
    struct mz_division d;
    memset(out, 0, sizeof(*out));
    int rc = mz_division_get(db, code, NULL, &d);
    if (rc == MZ_OK) {
        out->found = true;
        snprintf(out->name, sizeof(out->name), "%s", d.name);
    } else if (rc != MZ_ERR_NOTFOUND && rc != MZ_ERR_INVALID) {
        return rc;
    }
    char succ[13];
    if (mz_division_successor(db, code, succ) == MZ_OK && strcmp(succ, code) != 0) {
        out->moved = true;
        memcpy(out->current, succ, sizeof(out->current));
        rc = mz_division_get(db, succ, NULL, &d);
        if (rc == MZ_OK) {
            out->current_found = true;
            snprintf(out->current_name, sizeof(out->current_name), "%s", d.name);
        } else if (rc != MZ_ERR_NOTFOUND) {
            return rc;
        }
    }
    return MZ_OK;
}

/* A fingerprint of the two tables the answers come from: rows, highest id,
 * sum of versions and latest update of each. Every write through the
 * application moves it (an insert the count or the highest id, an update or
 * a deletion the versions; a hard delete the count), whichever server made
 * it. "" when it cannot be read. */
static void names_fingerprint(struct mz_db *db, char out[NAMES_FP_MAX])
{
#define NAMES_FP_PART(t)                                                                          \
    "(SELECT CAST(count(*) AS TEXT) || ':' || CAST(coalesce(max(id), 0) AS TEXT) || ':' ||"       \
    " CAST(coalesce(sum(version), 0) AS TEXT) || ':' || coalesce(max(updated_at), '') FROM " t ")"
    struct mz_stmt *st;
    out[0] = '\0';
    if (mz_db_prepare(db,
                      "SELECT " NAMES_FP_PART("division_codes") " || '|' || " NAMES_FP_PART(
                          "division_changes"),
                      &st) != MZ_OK)
        return;
    if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0) != NULL)
        snprintf(out, NAMES_FP_MAX, "%s", mz_db_col_text(st, 0));
    mz_db_done(st);
#undef NAMES_FP_PART
}

int mz_division_names(struct mz_db *db, const char *code, struct mz_division_names *out)
{
    size_t len = strlen(code);
    if (len == 0 || len > 12 || mz_db_in_transaction(db))
        return names_load(db, code, out);
    struct names_cache *c = tls_names;
    if (c == NULL) {
        pthread_once(&names_once, names_key_init);
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return names_load(db, code, out);
        pthread_setspecific(names_key, c);
        tls_names = c;
    }
    int gen = atomic_load(&names_generation);
    int64_t now = mz_mono_us();
    bool stale = c->db != db || c->generation != gen || c->n == NAMES_MAX;
    if (!stale && now - c->filled_us > (int64_t)MZ_DIVISION_CACHE_TTL_MS * 1000) {
        /* Past the time: keep the answers if the tables are unchanged. */
        char fp[NAMES_FP_MAX];
        names_fingerprint(db, fp);
        stale = fp[0] == '\0' || strcmp(fp, c->fp) != 0;
        if (!stale)
            c->filled_us = now;
    }
    if (stale) {
        memset(c->slot, 0, sizeof(c->slot));
        c->n = 0;
        c->db = db;
        c->generation = gen;
        c->filled_us = now;
        names_fingerprint(db, c->fp);
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)code[i]) * 16777619u;
    uint32_t k = h & (NAMES_SLOTS - 1);
    for (; c->slot[k] != 0; k = (k + 1) & (NAMES_SLOTS - 1)) {
        const struct names_entry *e = &c->e[c->slot[k] - 1];
        if (strcmp(e->code, code) == 0) {
            *out = e->v;
            return MZ_OK;
        }
    }
    int rc = names_load(db, code, out);
    if (rc != MZ_OK)
        return rc; /* errors are not cached */
    struct names_entry *e = &c->e[c->n];
    memcpy(e->code, code, len + 1);
    e->v = *out;
    c->slot[k] = (uint16_t)++c->n;
    return MZ_OK;
}

bool mz_division_acceptable(struct mz_db *db, const char *code12)
{
    if (division_exists(db, code12))
        return true;
    if (mz_division_level(code12) < 4)
        return false;
    /* Streets of retired districts are not listed: accept them when their
     * district is known and has a successor. */
    char district[13], next[13];
    memcpy(district, code12, 6);
    memset(district + 6, '0', 6);
    district[12] = '\0';
    return division_exists(db, district) && direct_successor(db, district, next);
}

/* --- handlers ----------------------------------------------------------------------- */

/* A division as JSON (code in its short form, code12 in full). */
static json_t *division_json(const struct mz_division *d)
{
    char shortc[13];
    mz_division_short(d->code, shortc);
    json_t *j = json_object();
    json_object_set_new(j, "code", json_string(shortc));
    json_object_set_new(j, "code12", json_string(d->code));
    json_object_set_new(j, "name", json_string(d->name));
    json_object_set_new(j, "level", json_integer(d->level));
    json_object_set_new(j, "valid_from", mz_json_str(d->valid_from[0] ? d->valid_from : NULL));
    json_object_set_new(j, "valid_to", mz_json_str(d->valid_to[0] ? d->valid_to : NULL));
    return j;
}

/* The `at` query parameter (default today), or NULL after 400. */
static const char *at_param(struct mz_req *req)
{
    const char *at = mz_req_query(req, "at");
    const char *reason;
    if (at == NULL || *at == '\0') {
        char *today = mz_arena_alloc(req->arena, 11);
        mz_today(today);
        return today;
    }
    if (mz_date_check(at, &reason) != MZ_OK) {
        mz_fail_field(req, 400, "bad_filter", "日期无效，应为 YYYY-MM-DD", "at");
        return NULL;
    }
    return at;
}

/* GET /api/v1/divisions?parent=CODE[&at=YYYY-MM-DD] - the children in force
 * at the date; without parent, the top level (province records). */
int registry_h_divisions(struct mz_req *req)
{
    const char *parent = mz_req_query(req, "parent");
    const char *at = at_param(req);
    char norm[13];
    const char *reason;
    struct mz_stmt *st;
    if (at == NULL)
        return req->status;
    if (parent && *parent && mz_division_check(parent, norm, &reason) != MZ_OK)
        return mz_fail_field(req, 400, "bad_filter", "上级区划代码无效", "parent");
    bool top = parent == NULL || *parent == '\0';
    int rc = mz_db_prepare(
        req->db,
        top ? "SELECT " DIVISION_COLS " FROM division_codes WHERE parent IS NULL"
              " AND deleted_at IS NULL AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
              " ORDER BY code"
            : "SELECT " DIVISION_COLS " FROM division_codes WHERE parent = ?"
              " AND deleted_at IS NULL AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
              " ORDER BY code",
        &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    int i = 1;
    if (!top)
        mz_db_bind_text(st, i++, norm);
    mz_db_bind_text(st, i++, at);
    mz_db_bind_text(st, i++, at);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        struct mz_division d;
        division_from_stmt(st, &d);
        json_array_append_new(items, division_json(&d));
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    json_t *body = json_object();
    if (!top) {
        char shortc[13];
        mz_division_short(norm, shortc);
        json_object_set_new(body, "parent", json_string(shortc));
    } else {
        json_object_set_new(body, "parent", json_null());
    }
    json_object_set_new(body, "at", json_string(at));
    json_object_set_new(body, "total", json_integer((json_int_t)json_array_size(items)));
    json_object_set_new(body, "items", items);
    return mz_reply_json(req, 200, body);
}

/* The change records naming code12 on one side, as JSON. */
static json_t *changes_json(struct mz_req *req, const char *code12, bool as_old)
{
    struct mz_stmt *st;
    json_t *items = json_array();
    if (mz_db_prepare(req->db,
                      as_old ? "SELECT kind, old_code, new_code, effective_on, document FROM"
                               " division_changes WHERE old_code = ? AND deleted_at IS NULL"
                               " ORDER BY effective_on"
                             : "SELECT kind, old_code, new_code, effective_on, document FROM"
                               " division_changes WHERE new_code = ? AND deleted_at IS NULL"
                               " ORDER BY effective_on",
                      &st) != MZ_OK)
        return items;
    mz_db_bind_text(st, 1, code12);
    while (mz_db_step(st) == MZ_ROW) {
        json_t *c = json_object();
        char a[13], b[13];
        mz_division_short(mz_db_col_text(st, 1), a);
        mz_division_short(mz_db_col_text(st, 2), b);
        json_object_set_new(c, "kind", mz_json_str(mz_db_col_text(st, 0)));
        json_object_set_new(c, "old_code", json_string(a));
        json_object_set_new(c, "new_code", json_string(b));
        json_object_set_new(c, "effective_on", mz_json_str(mz_db_col_text(st, 3)));
        json_object_set_new(c, "document", mz_json_str(mz_db_col_text(st, 4)));
        json_array_append_new(items, c);
    }
    mz_db_done(st);
    return items;
}

/* GET /api/v1/divisions/{code}[?at=] - the record, its successor chain to the
 * division in force today, the change records and the ancestors. */
int registry_h_division(struct mz_req *req)
{
    const char *code = mz_req_param(req, "code");
    const char *at = mz_req_query(req, "at");
    const char *reason;
    char norm[13];
    struct mz_division d;
    if (code == NULL || mz_division_check(code, norm, &reason) != MZ_OK)
        return mz_fail_field(req, 400, "bad_id", "行政区划代码无效", "code");
    if (at && mz_date_check(at, &reason) != MZ_OK)
        return mz_fail_field(req, 400, "bad_filter", "日期无效，应为 YYYY-MM-DD", "at");
    int rc = mz_division_get(req->db, norm, at, &d);
    if (rc == MZ_ERR_NOTFOUND)
        return mz_fail(req, 404, "not_found", "没有这个行政区划代码");
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    json_t *body = division_json(&d);
    char today[11];
    mz_today(today);
    bool in_force = strcmp(d.valid_from, today) <= 0 &&
                    (d.valid_to[0] == '\0' || strcmp(d.valid_to, today) > 0);
    json_object_set_new(body, "in_force", json_boolean(in_force));
    /* Successor chain, step by step. */
    json_t *chain = json_array();
    char cur[13], next[13];
    memcpy(cur, norm, 13);
    for (int step = 0; step < 16 && direct_successor(req->db, cur, next); step++) {
        struct mz_division s;
        if (mz_division_get(req->db, next, NULL, &s) != MZ_OK)
            break;
        json_array_append_new(chain, division_json(&s));
        memcpy(cur, next, 13);
    }
    json_object_set_new(body, "successors", chain);
    char final[13];
    if (mz_division_successor(req->db, norm, final) == MZ_OK) {
        struct mz_division c;
        if (mz_division_get(req->db, final, NULL, &c) == MZ_OK)
            json_object_set_new(body, "current", division_json(&c));
    }
    json_object_set_new(body, "changes", changes_json(req, norm, true));
    json_object_set_new(body, "predecessors", changes_json(req, norm, false));
    /* Ancestors, from the province down. */
    json_t *path = json_array();
    static const int cut[] = {2, 6, 9};
    for (size_t i = 0; i < MZ_ARRAY_LEN(cut); i++) {
        char anc[13];
        memcpy(anc, norm, 12);
        memset(anc + cut[i], '0', (size_t)(12 - cut[i]));
        anc[12] = '\0';
        if (strcmp(anc, norm) == 0)
            break;
        struct mz_division a;
        if (mz_division_get(req->db, anc, NULL, &a) == MZ_OK)
            json_array_append_new(path, division_json(&a));
    }
    json_object_set_new(body, "path", path);
    return mz_reply_json(req, 200, body);
}
