/* test_registry.c - the registry in-process against :memory: SQLite.
 *
 * Division history resolution (successor chains, retired codes acceptable,
 * at-date lookups), every dictionary's codes unique with both labels, the
 * generated communities (unique codes per street, 5-25 per street), persons'
 * sex and birth date derived from the ID number and checked against it, and
 * demo determinism (same seed, same checksum; another seed, another one; a
 * written demo is what was generated).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mz/crypto.h"
#include "mz/search.h"
#include "registry/registry_internal.h"

struct fixture {
    struct mz_app app;
    struct mz_db *db;
    struct mz_req req;
};

/* A fresh request (arena, no error). */
static void fresh_req(struct fixture *f)
{
    if (f->req.arena)
        mz_arena_free(f->req.arena);
    json_decref(f->req.error);
    json_decref(f->req.reply_json);
    memset(&f->req, 0, sizeof(f->req));
    f->req.app = &f->app;
    f->req.db = f->db;
    f->req.arena = mz_arena_new();
    f->req.actor = "tester";
    f->req.reply_fd = -1;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = 0;
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_app_init(&f->app, ":memory:", NULL, 0), MZ_OK);
    assert_int_equal(mz_db_open(":memory:", NULL, &f->db), MZ_OK);
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    fresh_req(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_arena_free(f->req.arena);
    json_decref(f->req.error);
    json_decref(f->req.reply_json);
    mz_db_close(f->db);
    mz_app_free(&f->app);
    free(f);
    return 0;
}

/* Successor chains follow the change records; streets carry over. */
static void test_division_history(void **state)
{
    struct fixture *f = *state;
    char out[13];
    assert_int_equal(mz_division_successor(f->db, "120225", out), MZ_OK);
    assert_string_equal(out, "120119000000");
    assert_int_equal(mz_division_successor(f->db, "120107", out), MZ_OK);
    assert_string_equal(out, "120116000000");
    assert_int_equal(mz_division_successor(f->db, "120221", out), MZ_OK);
    assert_string_equal(out, "120117000000");
    assert_int_equal(mz_division_successor(f->db, "120101", out), MZ_OK);
    assert_string_equal(out, "120101000000");
    /* A street code under 蓟县 maps to the same street under 蓟州区 when it exists. */
    assert_int_equal(mz_division_successor(f->db, "120225100", out), MZ_OK);
    assert_memory_equal(out, "120119", 6);

    struct mz_division d;
    assert_int_equal(mz_division_get(f->db, "120225", "2012-06-01", &d), MZ_OK);
    assert_string_equal(d.name, "蓟县");
    assert_int_equal(mz_division_get(f->db, "120225", "2020-01-01", &d), MZ_ERR_NOTFOUND);
    assert_int_equal(mz_division_get(f->db, "120119", "2012-06-01", &d), MZ_ERR_NOTFOUND);
    assert_int_equal(mz_division_get(f->db, "120119", NULL, &d), MZ_OK);
    assert_string_equal(d.name, "蓟州区");
    assert_int_equal(d.level, 3);

    assert_true(mz_division_acceptable(f->db, "120225000000"));
    assert_true(mz_division_acceptable(f->db, "120225100001")); /* under a retired county */
    assert_true(mz_division_acceptable(f->db, "120101001000"));
    assert_false(mz_division_acceptable(f->db, "120199000000"));
    assert_false(mz_division_acceptable(f->db, "120101999000"));

    int64_t n = 0;
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM division_codes WHERE length(rtrim(code,"
                                     " '0')) > 6 AND level = '4'",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 299);
}

/* Every dictionary: codes unique, labels present; the seed copied them all. */
static void test_dictionaries(void **state)
{
    struct fixture *f = *state;
    size_t total = 0;
    for (size_t i = 0; i < mz_registry_ndicts; i++) {
        const struct mz_dict *d = mz_registry_dicts[i];
        assert_non_null(d->name);
        assert_true(d->nitems > 0);
        for (size_t k = 0; k < d->nitems; k++) {
            assert_non_null(d->items[k].zh);
            assert_non_null(d->items[k].en);
            for (size_t j = 0; j < k; j++)
                assert_string_not_equal(d->items[j].code, d->items[k].code);
        }
        total += d->nitems;
    }
    const struct mz_dict *eth = mz_app_dict(&f->app, "ethnicity");
    assert_non_null(eth);
    assert_int_equal(eth->nitems, 58); /* 56 groups + 97 + 98 */
    int64_t n = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM dictionary_items", &n, 0, NULL),
                     MZ_OK);
    assert_int_equal((size_t)n, total);
}

/* Validation with a request reads the edited dictionary_items: a new code
 * is accepted, a retired one refused; without a request, the C tables. */
static void test_dictionary_edits(void **state)
{
    struct fixture *f = *state;
    const struct mz_field *sex = mz_entity_field(&registry_persons, "sex");
    const char *code, *message;
    json_t *out = NULL, *v = json_string("5");
    assert_non_null(f->app.dict_has);
    assert_int_equal(mz_field_normalise_req(&f->req, sex, v, &out, &code, &message),
                     MZ_ERR_INVALID);
    assert_int_equal(mz_db_exec(f->db, "INSERT INTO dictionary_items (version, created_at,"
                                       " updated_at, dict, code, zh, en) VALUES (1, 'x', 'x',"
                                       " 'sex', '5', '测试', 'Test');"
                                       "UPDATE dictionary_items SET valid_to = '2020-01-01'"
                                       " WHERE dict = 'sex' AND code = '9'"),
                     MZ_OK);
    assert_int_equal(mz_field_normalise_req(&f->req, sex, v, &out, &code, &message), MZ_OK);
    json_decref(out);
    assert_int_equal(mz_field_normalise(&f->app, sex, v, &out, &code, &message), MZ_ERR_INVALID);
    json_decref(v);
    v = json_string("9");
    assert_int_equal(mz_field_normalise_req(&f->req, sex, v, &out, &code, &message),
                     MZ_ERR_INVALID);
    assert_string_equal(code, "not_in_dictionary");
    json_decref(v);
    json_t *items = f->app.dict_items(&f->req, "sex");
    assert_int_equal(json_array_size(items), 4); /* 0 1 2 5: 9 retired */
    json_decref(items);
    assert_null(f->app.dict_items(&f->req, "no_such_dictionary"));
}

/* Generated communities: 2-25 per street, unique codes under their street. */
static void test_communities(void **state)
{
    (void)state;
    assert_int_equal(registry_nstreets, 299);
    for (size_t i = 0; i < registry_nstreets; i++) {
        const struct registry_street *s = &registry_streets[i];
        int n = registry_community_count(s);
        assert_true(n >= 2 && n <= 25);
        char codes[25][13], name[64];
        for (int k = 0; k < n; k++) {
            registry_community(s, k, codes[k], name);
            assert_memory_equal(codes[k], s->code, 9);
            assert_true(strlen(name) > 0);
            for (int j = 0; j < k; j++)
                assert_string_not_equal(codes[j], codes[k]);
        }
    }
}

/* Create a person in its own transaction; the status. */
static int create_person(struct fixture *f, const char *json, json_t **row)
{
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    fresh_req(f);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    int st = mz_entity_create(&f->req, &registry_persons, in, row);
    if (st)
        mz_db_rollback(f->db);
    else
        assert_int_equal(mz_db_commit(f->db), MZ_OK);
    json_decref(in);
    return st;
}

/* The ID number gives sex and birth date; a contradiction names the field. */
static void test_person_id_derived(void **state)
{
    struct fixture *f = *state;
    char first17[] = "12010119800101123";
    char id[19];
    snprintf(id, sizeof(id), "%s%c", first17, mz_id_check_char(first17));
    char json[512];
    json_t *row = NULL;
    snprintf(json, sizeof(json),
             "{\"id_number\":\"%s\",\"name\":\"测试甲\",\"hukou_division\":\"120101001001\","
             "\"residence_division\":\"120103001001\"}",
             id);
    assert_int_equal(create_person(f, json, &row), 0);
    assert_string_equal(json_string_value(json_object_get(row, "sex")), "1"); /* 3 is odd */
    assert_string_equal(json_string_value(json_object_get(row, "birth_date")), "1980-01-01");
    assert_true(json_is_true(json_object_get(row, "separated")));
    json_decref(row);

    char first17b[] = "12022519900202124";
    snprintf(id, sizeof(id), "%s%c", first17b, mz_id_check_char(first17b));
    snprintf(json, sizeof(json),
             "{\"id_number\":\"%s\",\"name\":\"测试乙\",\"hukou_division\":\"120225\","
             "\"sex\":\"1\"}",
             id);
    assert_int_equal(create_person(f, json, &row), 422);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "field")), "sex");
    snprintf(json, sizeof(json),
             "{\"id_number\":\"%s\",\"name\":\"测试乙\",\"hukou_division\":\"120225\","
             "\"birth_date\":\"1990-02-03\"}",
             id);
    assert_int_equal(create_person(f, json, &row), 422);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "field")), "birth_date");
    /* 蓟县 (retired) is still a valid hukou division, shown with its successor. */
    snprintf(json, sizeof(json),
             "{\"id_number\":\"%s\",\"name\":\"测试乙\",\"hukou_division\":\"120225\","
             "\"sex\":\"2\",\"birth_date\":\"1990-02-02\"}",
             id);
    assert_int_equal(create_person(f, json, &row), 0);
    assert_string_equal(json_string_value(json_object_get(row, "hukou_division_current")),
                        "120119000000");
    assert_string_equal(json_string_value(json_object_get(row, "hukou_division_current_name")),
                        "蓟州区");
    json_decref(row);
}

/* Same seed, same data; another seed, other data; writing = generating. */
static void test_demo_determinism(void **state)
{
    struct fixture *f = *state;
    struct mz_demo_options o = {.persons = 3000, .seed = 42, .dry_run = true};
    struct mz_demo_summary a, b, c, w;
    assert_int_equal(mz_registry_demo(&f->app, f->db, &o, &a), MZ_OK);
    assert_int_equal(mz_registry_demo(&f->app, f->db, &o, &b), MZ_OK);
    assert_int_equal(a.persons, 3000);
    assert_true(a.checksum == b.checksum);
    assert_int_equal(a.households, b.households);
    o.seed = 43;
    assert_int_equal(mz_registry_demo(&f->app, f->db, &o, &c), MZ_OK);
    assert_true(a.checksum != c.checksum);
    o.seed = 42;
    o.dry_run = false;
    /* Written as `minzheng demo` writes it: through the VFS that reads
     * ahead and gathers writes (the side databases and the sorters'
     * files; the checks below read the rows back). */
    assert_int_equal(mz_db_bulk_vfs_install(), MZ_OK);
    /* The load's side database is a scratch file in TMPDIR for an
     * in-memory database: gone afterwards. */
    char tmp[] = "/tmp/test_registry_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    const char *old_tmpdir = getenv("TMPDIR");
    char *saved = old_tmpdir ? strdup(old_tmpdir) : NULL;
    setenv("TMPDIR", tmp, 1);
    assert_int_equal(mz_registry_demo(&f->app, f->db, &o, &w), MZ_OK);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(rmdir(tmp), 0); /* empty */
    assert_true(w.checksum == a.checksum);
    int64_t n = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM persons WHERE created_by = 'demo'",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 3000);
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM household_members WHERE created_by ="
                                     " 'demo'",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 3000);
    /* Every generated ID number is valid and every person reads back. */
    fresh_req(f);
    const struct mz_entity *e = &registry_persons;
    for (int64_t id = 1; id <= 50; id++) {
        json_t *row = mz_entity_get(&f->req, e, id);
        assert_non_null(row);
        struct mz_id_info info;
        const char *reason;
        const char *num = json_string_value(json_object_get(row, "id_number"));
        if (num && strchr(num, '*') == NULL) {
            assert_int_equal(mz_id_check(num, NULL, &info, &reason), MZ_OK);
            assert_string_equal(info.birth, json_string_value(json_object_get(row, "birth_date")));
        }
        json_decref(row);
    }
    /* The bulk-built search index is what per-person indexing gives: the
     * keys regenerated from the names delete every row of a person, and
     * indexing again writes as many; the FTS table finds whole names. */
    for (int64_t id = 1; id <= 50; id++) {
        char sid[24];
        const char *p[] = {sid};
        int64_t before = 0, gone = 0, again = 0;
        snprintf(sid, sizeof(sid), "%lld", (long long)id);
        assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_key WHERE person_id = ?",
                                         &before, 1, p), MZ_OK);
        assert_true(before > 0);
        fresh_req(f);
        assert_int_equal(mz_person_unindex(&f->req, id), MZ_OK);
        assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_key WHERE person_id = ?",
                                         &gone, 1, p), MZ_OK);
        assert_int_equal(gone, 0);
        json_t *row = mz_entity_get(&f->req, e, id);
        assert_int_equal(mz_person_index(&f->req, id, json_string_value(json_object_get(row, "name")),
                                         NULL), MZ_OK);
        json_decref(row);
        assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_key WHERE person_id = ?",
                                         &again, 1, p), MZ_OK);
        assert_int_equal(again, before);
    }
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_fts WHERE person_fts"
                                            " MATCH (SELECT '\"' || names || '\"' FROM person_search"
                                            " WHERE length(names) >= 3 LIMIT 1)",
                                     &n, 0, NULL), MZ_OK);
    assert_true(n >= 1);
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_search", &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 3000);
    /* Every bulk-written key carries its person's scope division (a number). */
    int64_t keys = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM person_key", &keys, 0, NULL),
                     MZ_OK);
    assert_true(keys > 3000);
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM person_key AS k JOIN persons AS p"
                                     " ON p.id = k.person_id WHERE k.division ="
                                     " CAST(p.hukou_division AS INTEGER)",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, keys);
    /* The indexes dropped for the load are all built again after it. */
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND"
                                     " name IN ('ix_household_members_household_id',"
                                     " 'ix_household_members_person_id',"
                                     " 'ix_households_head_person_id', 'ix_persons_hukou_division',"
                                     " 'ux_persons_id_number')",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 5);
    /* Households and memberships (written on the side and copied) point
     * at the persons written beside them: each head is its household's
     * first member, every member a person of the household's community. */
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM household_members AS m JOIN persons AS p"
                                     " ON p.id = m.person_id JOIN households AS h ON h.id ="
                                     " m.household_id WHERE p.hukou_division = h.division AND"
                                     " m.division = h.division",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 3000);
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM households AS h WHERE h.head_person_id ="
                                     " (SELECT min(person_id) FROM household_members WHERE"
                                     " household_id = h.id) AND h.head_person_id IN (SELECT person_id"
                                     " FROM household_members WHERE relation = '02')",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, w.households);
    /* The copied FTS index is consistent with its content table, and the
     * search tables hold one row per person. */
    assert_int_equal(mz_db_exec(f->db, "INSERT INTO person_fts (person_fts) VALUES"
                                       " ('integrity-check')"),
                     MZ_OK);
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM persons AS p JOIN person_search AS s"
                                     " ON s.person_id = p.id WHERE s.names = p.name",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 3000);
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM pragma_integrity_check"
                                     " WHERE integrity_check <> 'ok'",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_division_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dictionaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_communities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_person_id_derived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo_determinism, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
