/* test_search.c - person search (src/registry/search.c) against :memory: SQLite.
 *
 * A persons-like table (id, deleted_at, the name fields and the sealed
 * columns' blind indexes) holds 200 synthetic people, indexed with
 * mz_person_index(). Queries go through the entity's search hook exactly as
 * the list does (the hook's condition appended to " WHERE deleted_at IS NULL",
 * parameters bound in order), and the results are compared with an oracle:
 * Chinese substrings of 1, 2 and 3+ characters must give exactly the people
 * whose names contain them; full pinyin, initials and polyphonic surnames
 * must find their person and only people whose spellings start with the
 * query; ID and mobile numbers are matched through the blind index; SQL and
 * FTS5 syntax in the query never errors; re-indexing and unindexing leave
 * no stale rows (FTS integrity check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine_internal.h"
#include "mz/crypto.h"
#include "mz/pinyin.h"
#include "mz/search.h"

#define NPERSONS 200

static const struct mz_field person_fields[] = {
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "身份证号", .en = "ID number",
     .flags = MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name", .flags = MZ_F_SEARCHABLE},
    {.name = "former_names", .type = MZ_T_TEXT, .zh = "曾用名", .en = "Former names"},
    {.name = "phone", .type = MZ_T_PHONE, .zh = "手机号", .en = "Phone",
     .flags = MZ_F_SENSITIVE | MZ_F_SEARCHABLE},
    {.name = "hukou_division", .type = MZ_T_DIVISION, .zh = "户籍地", .en = "Hukou division",
     .flags = MZ_F_SCOPE},
};
static const struct mz_hooks person_hooks = {.search = mz_person_search};
static const struct mz_entity persons = {
    .name = "persons", .zh = "人员", .en = "Persons", .fields = person_fields,
    .nfields = MZ_ARRAY_LEN(person_fields), .hooks = &person_hooks, .title_field = "name"};

/* People with something to prove; the rest are generated. */
static const struct {
    const char *name, *former;
} special[] = {
    {"张三", NULL},         {"张三丰", NULL},        {"单雄信", NULL},   {"曾国藩", NULL},
    {"解缙", NULL},         {"尉迟恭", NULL},        {"欧阳修", NULL},   {"吕布", NULL},
    {"阿卜杜·热合曼", NULL}, {"李四", "李思思、李四海"}, {"长孙无忌", NULL}, {"王小明", "王晓明"},
    {"单田芳", NULL},       {"曾志伟", NULL},        {"丹青", NULL},     {"O'Brien", NULL},
};

struct fixture {
    struct mz_db *db;
    struct mz_req req;
    char *names[NPERSONS + 1];   /* name of person id (1-based) */
    char *formers[NPERSONS + 1]; /* former names or NULL */
    char id15[16], id18[19];     /* person 5's ID number (old and new form) */
};

/* Generated names: a common surname and one or two given-name characters. */
static char *make_name(unsigned i)
{
    static const char *const sur[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵",
                                      "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"};
    static const char *const giv[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军",
                                      "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀",
                                      "霞", "平", "刚", "桂", "英", "华", "建", "国", "红"};
    unsigned x = i * 2654435761u;
    char buf[32];
    snprintf(buf, sizeof(buf), "%s%s%s", sur[x % 16], giv[(x >> 8) % 27],
             (x >> 16) % 3 ? giv[(x >> 20) % 27] : "");
    return strdup(buf);
}

/* Put a person row and index it. */
static void add_person(struct fixture *f, int64_t id, const char *name, const char *former,
                       const char *id_number, const char *phone)
{
    struct mz_stmt *st;
    assert_int_equal(mz_db_prepare(f->db,
                                   "INSERT INTO persons (id, name, former_names, id_number_bidx, "
                                   "phone_bidx, hukou_division) VALUES (?, ?, ?, ?, ?, "
                                   "'120101000000')",
                                   &st),
                     MZ_OK);
    mz_db_bind_int(st, 1, id);
    mz_db_bind_text(st, 2, name);
    mz_db_bind_text(st, 3, former);
    mz_db_bind_text(st, 4, id_number ? mz_field_blind(&f->req, &persons, &person_fields[0],
                                                      id_number)
                                     : NULL);
    mz_db_bind_text(st, 5, phone ? mz_field_blind(&f->req, &persons, &person_fields[3], phone)
                                 : NULL);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);
    assert_int_equal(mz_person_index(&f->req, id, name, former), MZ_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_db_open(":memory:", NULL, &f->db), MZ_OK);
    f->req.db = f->db;
    f->req.arena = mz_arena_new();
    f->req.reply_fd = -1;
    assert_int_equal(mz_db_exec(f->db, "CREATE TABLE persons (id INTEGER PRIMARY KEY, "
                                       "deleted_at TEXT, name TEXT, former_names TEXT, "
                                       "id_number TEXT, id_number_bidx TEXT, phone TEXT, "
                                       "phone_bidx TEXT, hukou_division TEXT)"),
                     MZ_OK);
    assert_int_equal(mz_person_search_migrate(f->db), MZ_OK);
    assert_int_equal(mz_person_search_migrate(f->db), MZ_OK); /* idempotent */

    /* Person 5 has an ID number (given in its old 15-digit form), 8 a phone. */
    struct mz_id_info info;
    strcpy(f->id15, "120101800101123");
    assert_int_equal(mz_id_check(f->id15, NULL, &info, NULL), MZ_OK);
    strcpy(f->id18, info.number);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    for (unsigned i = 1; i <= NPERSONS; i++) {
        bool sp = i <= MZ_ARRAY_LEN(special);
        f->names[i] = sp ? strdup(special[i - 1].name) : make_name(i);
        f->formers[i] = sp && special[i - 1].former ? strdup(special[i - 1].former) : NULL;
        add_person(f, i, f->names[i], f->formers[i], i == 5 ? f->id18 : NULL,
                   i == 8 ? "13812345678" : NULL);
    }
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (unsigned i = 1; i <= NPERSONS; i++) {
        free(f->names[i]);
        free(f->formers[i]);
    }
    mz_arena_free(f->req.arena);
    json_decref(f->req.error);
    mz_db_close(f->db);
    free(f);
    return 0;
}

/* The list's depth (0: every match) and a scope filter ("lo,hi" of
 * hukou_division, NULL: none) that search_in gives the hook; with
 * search_filtered the list also has another filter (always true here), so
 * the hook must filter through {where} instead of walking the index alone. */
static int64_t search_depth;
static const char *search_scope[2];
static bool search_filtered;
/* How the last search answered: ids handed over (walks) or a condition. */
static bool search_walked;

/* Run the search hook as the list does; hits[id] set for each result.
 * Returns the number of results, or a negative mz_err / -status. */
static int search(struct fixture *f, const char *text, bool hits[NPERSONS + 1])
{
    struct mz_query q;
    struct mz_stmt *st;
    int n = 0, rc;
    memset(&q, 0, sizeof(q));
    memset(hits, 0, sizeof(bool) * (NPERSONS + 1));
    q.depth = search_depth;
    mz_buf_init(&q.where, 65536);
    mz_buf_puts(&q.where, " WHERE deleted_at IS NULL");
    if (search_scope[0]) { /* as mz_query_build adds a scope: filters before the hook */
        mz_buf_puts(&q.where, " AND hukou_division >= ? AND hukou_division < ?");
        for (int i = 0; i < 2; i++)
            q.params[q.nparams++] = (struct mz_sql_param){.is_int = false, .s = search_scope[i]};
        snprintf(q.scope_lo, sizeof(q.scope_lo), "%s", search_scope[0]);
        snprintf(q.scope_hi, sizeof(q.scope_hi), "%s", search_scope[1]);
    }
    if (search_filtered)
        mz_buf_puts(&q.where, " AND 1 = 1");
    q.scope_only = !search_filtered;
    int status = mz_person_search(&f->req, &persons, text, &q);
    if (status) {
        mz_query_free(&q);
        return -status;
    }
    search_walked = q.has_ids;
    if (q.has_ids) { /* the hook's own matches: exactly what the list counts */
        for (size_t i = 0; i < q.nids; i++) {
            if (i && q.ids[i] >= q.ids[i - 1])
                fail_msg("query [%s]: ids not in descending order", text);
            if (q.ids[i] >= 1 && q.ids[i] <= NPERSONS)
                hits[q.ids[i]] = true;
        }
        n = (int)q.nids;
        mz_query_free(&q);
        return n;
    }
    char *sql = mz_arena_printf(f->req.arena, "SELECT id FROM persons%s ORDER BY id",
                                q.where.data);
    rc = mz_db_prepare(f->db, sql, &st);
    if (rc != MZ_OK) {
        print_error("prepare failed for [%s]: %s\n", text, mz_db_errmsg(f->db));
        mz_query_free(&q);
        return rc;
    }
    mz_query_bind(st, &q, 1);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t id = mz_db_col_int(st, 0);
        if (id >= 1 && id <= NPERSONS)
            hits[id] = true;
        n++;
    }
    mz_db_done(st);
    mz_query_free(&q);
    if (rc < 0)
        print_error("step failed for [%s]: %s\n", text, mz_db_errmsg(f->db));
    return rc < 0 ? rc : n;
}

/* The oracle: does one of person id's names contain sub ("·" ignored)? */
static bool names_contain(struct fixture *f, unsigned id, const char *sub)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s、%s", f->names[id], f->formers[id] ? f->formers[id] : "");
    /* Remove "·" (C2 B7) so the oracle sees names as the index does. */
    char *w = buf;
    for (char *r = buf; *r; r++) {
        if ((unsigned char)r[0] == 0xC2 && (unsigned char)r[1] == 0xB7) {
            r++;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
    /* Split on "、" (a multi-byte separator: strtok would split on its bytes). */
    for (char *name = buf; name;) {
        char *sep = strstr(name, "、");
        if (sep)
            *sep = '\0';
        if (strstr(name, sub))
            return true;
        name = sep ? sep + strlen("、") : NULL;
    }
    return false;
}

/* Compare a Chinese substring query with the oracle, exactly. */
static void check_substring(struct fixture *f, const char *sub)
{
    bool hits[NPERSONS + 1];
    int n = search(f, sub, hits);
    assert_true(n >= 0);
    for (unsigned i = 1; i <= NPERSONS; i++) {
        if (hits[i] != names_contain(f, i, sub))
            fail_msg("query [%s]: person %u (%s) %s", sub, i, f->names[i],
                     hits[i] ? "found but does not match" : "missed");
    }
}

static void test_chinese_substrings(void **state)
{
    struct fixture *f = *state;
    int checked = 0;
    for (unsigned i = 1; i <= NPERSONS; i++) {
        const char *name = f->names[i];
        size_t len = strlen(name);
        if ((unsigned char)name[0] < 0x80 || strstr(name, "·"))
            continue; /* the loop below steps by 3-byte characters */
        /* Every substring of 1, 2 and 3+ characters (names here are 3-byte UTF-8). */
        for (size_t start = 0; start + 3 <= len; start += 3) {
            for (size_t chars = 1; start + chars * 3 <= len; chars++) {
                char sub[64];
                if (chars * 3 >= sizeof(sub))
                    continue;
                memcpy(sub, name + start, chars * 3);
                sub[chars * 3] = '\0';
                check_substring(f, sub);
                checked++;
            }
        }
        f->req.arena = (mz_arena_free(f->req.arena), mz_arena_new());
    }
    assert_true(checked > 600);
    /* Former names, a dotted name typed with and without its dot, absent text. */
    check_substring(f, "思思");
    check_substring(f, "李四海");
    check_substring(f, "晓");
    check_substring(f, "杜热合");
    bool hits[NPERSONS + 1];
    assert_int_equal(search(f, "阿卜杜·热合曼", hits), 1);
    assert_true(hits[9]);
    assert_int_equal(search(f, "张 三", hits), 2);
    assert_int_equal(search(f, "龘", hits), 0);
    assert_int_equal(search(f, "龘龘龘", hits), 0);
}

/* True if some spelling of one of person id's names (or given names) starts with q. */
static bool spelling_starts(struct fixture *f, unsigned id, const char *q)
{
    const char *names[2] = {f->names[id], f->formers[id]};
    for (int k = 0; k < 2; k++) {
        if (names[k] == NULL)
            continue;
        struct mz_pinyin_set set, given;
        size_t sn = mz_pinyin_surname_length(names[k]);
        mz_pinyin_spellings(f->req.arena, names[k], MZ_PINYIN_NAME, &set);
        mz_pinyin_spellings(f->req.arena, names[k] + sn, 0, &given);
        /* Former names are several: any spelling containing q is accepted there. */
        for (size_t i = 0; i < set.nfull; i++) {
            if (k ? strstr(set.full[i], q) != NULL : strncmp(set.full[i], q, strlen(q)) == 0)
                return true;
        }
        for (size_t i = 0; i < set.ninitials; i++) {
            if (k ? strstr(set.initials[i], q) != NULL
                  : strncmp(set.initials[i], q, strlen(q)) == 0)
                return true;
        }
        for (size_t i = 0; sn && i < given.nfull; i++) {
            if (strncmp(given.full[i], q, strlen(q)) == 0 ||
                strncmp(given.initials[i < given.ninitials ? i : 0], q, strlen(q)) == 0)
                return true;
        }
    }
    return false;
}

/* A pinyin query finds want (if nonzero) and only people it should. */
static void check_pinyin(struct fixture *f, const char *typed, unsigned want)
{
    bool hits[NPERSONS + 1];
    int n = search(f, typed, hits);
    /* What the index compares: lower-case letters and digits only. */
    char *q = mz_arena_strdup(f->req.arena, typed), *w = q;
    for (const char *r = typed; *r; r++) {
        if (*r >= 'A' && *r <= 'Z')
            *w++ = (char)(*r + ('a' - 'A'));
        else if ((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9'))
            *w++ = *r;
    }
    *w = '\0';
    assert_true(n >= 0);
    if (want && !hits[want])
        fail_msg("query [%s] misses person %u (%s)", q, want, f->names[want]);
    for (unsigned i = 1; i <= NPERSONS; i++) {
        if (hits[i] && !spelling_starts(f, i, q))
            fail_msg("query [%s] finds person %u (%s) wrongly", q, i, f->names[i]);
    }
}

static void test_pinyin(void **state)
{
    struct fixture *f = *state;
    bool hits[NPERSONS + 1];
    /* Every person by full pinyin and by initials. */
    for (unsigned i = 1; i <= NPERSONS; i++) {
        check_pinyin(f, mz_pinyin_full(f->req.arena, f->names[i]), i);
        check_pinyin(f, mz_pinyin_initials(f->req.arena, f->names[i]), i);
        f->req.arena = (mz_arena_free(f->req.arena), mz_arena_new());
    }
    check_pinyin(f, "zhangsan", 1);
    check_pinyin(f, "zhangsan", 2);
    check_pinyin(f, "zs", 1);
    check_pinyin(f, "zhang", 2);
    check_pinyin(f, "sanfeng", 2);  /* the given name */
    check_pinyin(f, "xiongxin", 3);
    check_pinyin(f, "ZhangSan", 1); /* case and spaces do not matter */
    check_pinyin(f, "zhang san", 1);
    /* Polyphonic surnames: the surname reading, and the common one too. */
    check_pinyin(f, "shanxiongxin", 3);
    check_pinyin(f, "sxx", 3);
    check_pinyin(f, "danxiongxin", 3);
    check_pinyin(f, "zengguofan", 4);
    check_pinyin(f, "zgf", 4);
    check_pinyin(f, "xiejin", 5);
    check_pinyin(f, "yuchigong", 6);
    check_pinyin(f, "ycg", 6);
    check_pinyin(f, "ouyangxiu", 7);
    check_pinyin(f, "lvbu", 8);
    check_pinyin(f, "lubu", 8);
    check_pinyin(f, "zhangsunwuji", 11);
    check_pinyin(f, "wangxiaoming", 12);
    check_pinyin(f, "obrien", 16);
    /* Former names are spelled too. */
    check_pinyin(f, "lisisi", 10);
    /* 单 as a surname is shan: "shan" finds 单雄信 and 单田芳, not 丹青 (dan). */
    assert_true(search(f, "shan", hits) >= 2);
    assert_true(hits[3] && hits[13] && !hits[15]);
    assert_true(search(f, "dan", hits) >= 1);
    assert_true(hits[15]);
    /* Mixed Chinese and Latin: the pinyin of what was typed. */
    assert_true(search(f, "张s", hits) >= 2);
    assert_true(hits[1] && hits[2]);
}

static void test_numbers(void **state)
{
    struct fixture *f = *state;
    bool hits[NPERSONS + 1];
    assert_int_equal(search(f, f->id18, hits), 1);
    assert_true(hits[5]);
    assert_int_equal(search(f, f->id15, hits), 1); /* old form upgraded */
    assert_true(hits[5]);
    char lower[19];
    strcpy(lower, f->id18);
    if (lower[17] == 'X')
        lower[17] = 'x';
    assert_int_equal(search(f, lower, hits), 1);
    char bad[19];
    strcpy(bad, f->id18);
    bad[17] = bad[17] == '1' ? '2' : '1'; /* wrong check digit */
    assert_int_equal(search(f, bad, hits), 0);
    assert_int_equal(search(f, "13812345678", hits), 1);
    assert_true(hits[8]);
    assert_int_equal(search(f, "138 1234 5678", hits), 1);
    assert_int_equal(search(f, "+86 138-1234-5678", hits), 1);
    assert_int_equal(search(f, "13912345678", hits), 0);
    assert_int_equal(search(f, "1381234", hits), 0); /* partial numbers find nothing */
    assert_int_equal(search(f, "0", hits), 0);
}

static void test_syntax_never_errors(void **state)
{
    struct fixture *f = *state;
    static const char *const nasty[] = {
        "\"", "\"\"", "*", "^", ":", "(", ")", "NEAR", "AND", "OR", "NOT", "张*", "张三*",
        "\"张三\"", "张\"三", "张三\"丰", "^张三", "names:张三", "NEAR(张 三)", "张 AND 三",
        "张三 OR 李四", "(张三)", "{names}:张三", "张三 NOT 李", "%", "_", "\\", "'", "''",
        "'; DROP TABLE persons; --", "张%", "张_", "%张%", "a\"b", "zhang*", "z:s",
        "NEAR(zhang san)", "-张三", "+张", "张三丰张三丰张三丰张三丰张三丰", "\x7f", "·",
        "·····", "　", "ｚｓ", "😀😀😀", "😀",
    };
    bool hits[NPERSONS + 1];
    for (size_t i = 0; i < MZ_ARRAY_LEN(nasty); i++) {
        int n = search(f, nasty[i], hits);
        if (n < 0)
            fail_msg("query [%s] failed: %d", nasty[i], n);
    }
    /* ASCII punctuation is typing, not part of a name: dropped before matching. */
    assert_int_equal(search(f, "张三\"丰", hits), 1);
    assert_true(hits[2]);
    assert_int_equal(search(f, "\"张三\"", hits), 2);
    assert_int_equal(search(f, "张三*", hits), 2);
    assert_int_equal(search(f, "NEAR(张三)", hits), 0); /* "near张三" is nobody's name */
    assert_int_equal(search(f, "张三 OR 李四", hits), 0);
    assert_true(search(f, "'; DROP TABLE persons; --", hits) >= 0);
    int64_t count = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM persons", &count, 0, NULL),
                     MZ_OK);
    assert_int_equal(count, NPERSONS);
}

static void test_reindex(void **state)
{
    struct fixture *f = *state;
    bool hits[NPERSONS + 1];
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    /* Renamed: the old name is gone from every table, the new one found. */
    assert_int_equal(mz_person_index(&f->req, 1, "赵六", "张三"), MZ_OK);
    assert_int_equal(mz_person_index(&f->req, 1, "赵六", "张三"), MZ_OK); /* unchanged */
    assert_int_equal(mz_person_index(&f->req, 2, "孙七", NULL), MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(search(f, "张三丰", hits), 0);
    assert_int_equal(search(f, "张三", hits), 1);
    assert_true(hits[1]); /* by the former name */
    assert_true(search(f, "zhaoliu", hits) >= 1 && hits[1]);
    assert_true(search(f, "sunqi", hits) >= 1 && hits[2]);
    assert_true(search(f, "zhangsanfeng", hits) >= 0 && !hits[2]);
    /* Unindexed: nothing left behind. */
    assert_int_equal(mz_person_unindex(&f->req, 2), MZ_OK);
    assert_true(search(f, "sunqi", hits) >= 0 && !hits[2]);
    assert_int_equal(mz_person_index(&f->req, 3, "", NULL), MZ_OK);
    assert_true(search(f, "单雄信", hits) >= 0 && !hits[3]);
    int64_t n = -1;
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM person_key WHERE person_id IN (2, 3)",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mz_db_exec(f->db, "INSERT INTO person_fts (person_fts) VALUES "
                                       "('integrity-check')"),
                     MZ_OK);
}

/* Re-run the index of person id after its row changed (as after_write does). */
static void reindex(struct fixture *f, int64_t id)
{
    assert_int_equal(mz_person_index(&f->req, id, f->names[id], f->formers[id]), MZ_OK);
}

/* The early-stopping forms a list gets (a depth), in both of their kinds:
 * walks of the index alone (filters: scope only) and conditions filtering
 * through {where} (another filter present). With a depth above the number
 * of matches they give exactly the plain results; with a small one, an
 * exact key gives the highest ids among the persons the filters let
 * through, a prefix that many distinct matching persons per walk. */
static void test_depth(void **state)
{
    struct fixture *f = *state;
    static const char *const queries[] = {"王", "张三", "三丰", "欧阳修", "王小明", "zs",
                                          "zhang", "w", "shan", "单", "zeng", "张s", "龘"};
    bool plain[NPERSONS + 1], deep[NPERSONS + 1];
    for (int filtered = 0; filtered < 2; filtered++) {
        search_filtered = filtered;
        for (size_t i = 0; i < MZ_ARRAY_LEN(queries); i++) {
            search_depth = 0;
            int n = search(f, queries[i], plain);
            assert_false(search_walked);
            search_depth = 100000;
            assert_int_equal(search(f, queries[i], deep), n);
            assert_true(search_walked == !filtered);
            assert_memory_equal(plain, deep, sizeof(plain));
        }
    }
    /* Numbers keep their condition (blind index) in a list too. */
    search_filtered = false;
    search_depth = 1001;
    assert_int_equal(search(f, "13812345678", deep), 1);
    assert_false(search_walked);
    assert_true(deep[8]);
    /* 王 among the newest: the highest is deleted, the next out of scope
     * (each change followed by the index refresh after_write does). */
    search_depth = 0;
    int all = search(f, "王", plain);
    assert_true(all >= 6);
    int64_t top[5];
    int ntop = 0;
    for (int id = NPERSONS; id >= 1 && ntop < 5; id--) {
        if (plain[id])
            top[ntop++] = id;
    }
    char *sql = mz_arena_printf(f->req.arena,
                                "UPDATE persons SET deleted_at = '2025-01-01' WHERE id = %lld;"
                                "UPDATE persons SET hukou_division = '120102000000' WHERE id = %lld",
                                (long long)top[0], (long long)top[1]);
    assert_int_equal(mz_db_exec(f->db, sql), MZ_OK);
    reindex(f, top[0]);
    reindex(f, top[1]);
    for (int filtered = 0; filtered < 2; filtered++) {
        search_filtered = filtered;
        search_scope[0] = "120101000000";
        search_scope[1] = "120102000000";
        search_depth = 3;
        assert_int_equal(search(f, "王", deep), 3);
        assert_true(search_walked == !filtered);
        for (int i = 2; i < 5; i++)
            assert_true(deep[top[i]]);
        /* The other street sees only the moved person; nobody the deleted one. */
        search_scope[0] = "120102000000";
        search_scope[1] = "120103000000";
        search_depth = 1001;
        assert_int_equal(search(f, "王", deep), 1);
        assert_true(deep[top[1]]);
        search_scope[0] = search_scope[1] = NULL;
        assert_int_equal(search(f, "王", deep), all - 1);
        assert_false(deep[top[0]]);
        /* Latin letters: a prefix of full spellings or of initials, each walk
         * giving depth distinct persons; all of them matches. */
        search_depth = 0;
        int nw = search(f, "w", plain);
        assert_true(nw > 6);
        search_depth = 3;
        int nd = search(f, "w", deep);
        assert_true(nd >= 3 && nd <= 6);
        for (int id = 1; id <= NPERSONS; id++)
            assert_true(!deep[id] || plain[id]);
    }
    search_depth = 0;
    search_filtered = false;
    search_scope[0] = search_scope[1] = NULL;
    sql = mz_arena_printf(f->req.arena,
                          "UPDATE persons SET deleted_at = NULL, hukou_division = '120101000000'"
                          " WHERE id IN (%lld, %lld)",
                          (long long)top[0], (long long)top[1]);
    assert_int_equal(mz_db_exec(f->db, sql), MZ_OK);
    reindex(f, top[0]);
    reindex(f, top[1]);
    assert_int_equal(search(f, "王", plain), all);
}

/* person_key follows the persons row: a deleted person's keys go, a moved
 * person's keys carry the new division, an unchanged person is untouched. */
static void test_key_state(void **state)
{
    struct fixture *f = *state;
    int64_t n = -1;
    const char *count_sql = "SELECT count(*) FROM person_key WHERE person_id = 3";
    const char *moved_sql = "SELECT count(*) FROM person_key WHERE person_id = 3"
                            " AND division = 120105001001";
    assert_int_equal(mz_db_query_int(f->db, count_sql, &n, 0, NULL), MZ_OK);
    int64_t keys = n;
    assert_true(keys > 5);
    assert_int_equal(mz_db_exec(f->db, "UPDATE persons SET deleted_at = '2025-01-01' WHERE id = 3"),
                     MZ_OK);
    reindex(f, 3);
    assert_int_equal(mz_db_query_int(f->db, count_sql, &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 0);
    bool hits[NPERSONS + 1];
    search_depth = 1001;
    assert_int_equal(search(f, "单雄信", hits), 0);
    assert_int_equal(search(f, "sxx", hits), 0);
    assert_int_equal(mz_db_exec(f->db, "UPDATE persons SET deleted_at = NULL,"
                                       " hukou_division = '120105001001' WHERE id = 3"),
                     MZ_OK);
    reindex(f, 3);
    assert_int_equal(mz_db_query_int(f->db, moved_sql, &n, 0, NULL), MZ_OK);
    assert_int_equal(n, keys);
    search_scope[0] = "120105001000";
    search_scope[1] = "120105002000";
    assert_int_equal(search(f, "sxx", hits), 1);
    assert_true(hits[3] && search_walked);
    assert_int_equal(search(f, "雄信", hits), 1);
    search_scope[0] = "120101000000";
    search_scope[1] = "120102000000";
    assert_int_equal(search(f, "sxx", hits), 0);
    assert_int_equal(search(f, "单雄信", hits), 0);
    search_scope[0] = search_scope[1] = NULL;
    assert_int_equal(mz_db_exec(f->db, "UPDATE persons SET hukou_division = '120101000000'"
                                       " WHERE id = 3"),
                     MZ_OK);
    reindex(f, 3);
    reindex(f, 3); /* nothing to do */
    assert_int_equal(mz_db_query_int(f->db, moved_sql, &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mz_db_query_int(f->db, count_sql, &n, 0, NULL), MZ_OK);
    assert_int_equal(n, keys);
    search_depth = 0;
}

/* A database indexed before the keys had a division is upgraded by the
 * migration: the same keys with the persons' divisions, none of a
 * deleted person; running it again changes nothing. */
static void test_migrate_layout(void **state)
{
    (void)state;
    struct mz_db *db;
    int64_t n = -1;
    assert_int_equal(mz_db_open(":memory:", NULL, &db), MZ_OK);
    assert_int_equal(mz_db_exec(db, "CREATE TABLE persons (id INTEGER PRIMARY KEY,"
                                    " deleted_at TEXT, hukou_division TEXT);"
                                    "INSERT INTO persons VALUES (1, NULL, '120101001001'),"
                                    " (2, '2025-01-01', '120101001001'), (3, NULL, NULL);"
                                    "CREATE TABLE person_key (key TEXT NOT NULL,"
                                    " person_id INTEGER NOT NULL, PRIMARY KEY (key, person_id))"
                                    " WITHOUT ROWID;"
                                    "INSERT INTO person_key VALUES ('c张', 1), ('c张', 2),"
                                    " ('izs', 1), ('izs', 2), ('c李', 3)"),
                     MZ_OK);
    assert_int_equal(mz_person_search_migrate(db), MZ_OK);
    assert_int_equal(mz_person_search_migrate(db), MZ_OK);
    assert_int_equal(mz_db_query_int(db, "SELECT count(*) FROM person_key", &n, 0, NULL), MZ_OK);
    assert_int_equal(n, 3);
    assert_int_equal(mz_db_query_int(db,
                                     "SELECT count(*) FROM person_key WHERE person_id = 1"
                                     " AND division = 120101001001",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mz_db_query_int(db,
                                     "SELECT count(*) FROM person_key WHERE person_id = 3"
                                     " AND division IS NULL",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 1);
    mz_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chinese_substrings),
        cmocka_unit_test(test_pinyin),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_syntax_never_errors),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_key_state),
        cmocka_unit_test(test_migrate_layout),
        cmocka_unit_test(test_reindex),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
