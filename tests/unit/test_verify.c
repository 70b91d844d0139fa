/* test_verify.c - the verification module's parts in-process against
 * :memory: SQLite with the module's seed: cell parsing (money to exact fen,
 * months, kinds by code or label, ID check digits, text caps), header
 * mapping (aliases, unknown and missing columns), the sealed chunk store
 * (round trip across several chunks, look-up by key straddling a chunk
 * boundary, a tampered or moved chunk refused), the rules' boundaries and
 * rule look-up by division and date.
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
#include "mz/registry.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_parts.h"

struct fixture {
    struct mz_app app;
    struct mz_db *db;
    struct mz_arena *arena;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = 0;
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_app_init(&f->app, ":memory:", NULL, 0), MZ_OK);
    assert_int_equal(mz_db_open(":memory:", NULL, &f->db), MZ_OK);
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    f->arena = mz_arena_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_arena_free(f->arena);
    mz_db_close(f->db);
    mz_app_free(&f->app);
    free(f);
    return 0;
}

/* A valid ID number with the given 17 first digits. */
static void make_id(const char *first17, char out[19])
{
    static const int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * w[i];
    memcpy(out, first17, 17);
    out[17] = check[sum % 11];
    out[18] = '\0';
}

/* Parse one deposit row (ID, bank, balance). */
static int deposit(struct fixture *f, const char *id, const char *balance, struct vf_parsed *p,
                   json_t *errors)
{
    const struct vf_source *s = vf_source_find("deposit");
    const char *header[] = {"公民身份号码", "银行", "余额（元）"};
    int map[3];
    assert_int_equal(vf_map_header(s, header, 3, map, errors), 0);
    const char *cells[] = {id, "测试银行", balance};
    return vf_parse_row(f->arena, s, map, cells, 3, 2, p, errors);
}

static void test_money_is_exact(void **state)
{
    struct fixture *f = *state;
    char id[19];
    struct vf_parsed p;
    json_t *errors = json_array();
    make_id("12010119800101123", id);
    static const struct {
        const char *text;
        int64_t fen;
    } ok[] = {{"0", 0}, {"12.5", 1250}, {"1,234.56", 123456}, {"0.01", 1}, {"25080.01", 2508001},
              {" 300 ", 30000}, {"999999999999.99", 99999999999999}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(deposit(f, id, ok[i].text, &p, errors), 0);
        assert_int_equal(p.row.a, ok[i].fen);
    }
    assert_int_equal(json_array_size(errors), 0);
    static const char *const bad[] = {"12.345", "-1", "1e3", "abc", ".5", "5.", "", "1 2",
                                      "1000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *e = json_array();
        assert_int_equal(deposit(f, id, bad[i], &p, e), -1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "field")),
                            "balance");
        json_decref(e);
    }
    json_decref(errors);
}

static void test_id_key_and_detail(void **state)
{
    struct fixture *f = *state;
    char id[19], bad[19];
    struct vf_parsed p;
    json_t *errors = json_array();
    make_id("12010119800101123", id);
    assert_int_equal(deposit(f, id, "1", &p, errors), 0);
    unsigned char key[16];
    mz_crypto_blind_raw(VF_KEY_CONTEXT, id, 18, key);
    assert_memory_equal(p.row.key, key, 16);
    /* The hex blind index of the registry is the same value. */
    char hex[33], mine[33];
    mz_crypto_blind(VF_KEY_CONTEXT, id, 18, hex);
    for (int i = 0; i < 16; i++)
        snprintf(mine + 2 * i, 3, "%02x", key[i]);
    assert_string_equal(hex, mine);
    /* The detail texts: the ID number, the name (none given), the bank. */
    char expect[64];
    snprintf(expect, sizeof(expect), "%s\x1f\x1f测试银行", id);
    assert_string_equal(p.detail, expect);
    assert_int_equal(p.detail_len, strlen(expect));
    /* A wrong check digit is refused with the validator's reason. */
    memcpy(bad, id, 19);
    bad[17] = bad[17] == '0' ? '1' : '0';
    assert_int_equal(deposit(f, bad, "1", &p, errors), -1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
                        "invalid_id_number");
    json_decref(errors);
}

static void test_header_mapping(void **state)
{
    (void)state;
    const struct vf_source *s = vf_source_find("vehicle");
    json_t *errors = json_array();
    const char *ok[] = {"身份证号", "车牌号", "车型", "价值"};
    int map[4];
    assert_int_equal(vf_map_header(s, ok, 4, map, errors), 0);
    assert_int_equal(map[0], 0);
    assert_string_equal(s->cols[map[1]].name, "plate");
    assert_string_equal(s->cols[map[2]].name, "vehicle_type");
    assert_string_equal(s->cols[map[3]].name, "value");
    const char *bad[] = {"身份证号码", "颜色", "身份证号"};
    int map2[3];
    assert_int_equal(vf_map_header(s, bad, 3, map2, errors), 4);
    /* duplicate, unknown, and the two required columns missing */
    json_decref(errors);
    assert_null(vf_source_find("nope"));
    assert_non_null(vf_source_find("staff_relatives"));
}

static void test_kinds_and_months(void **state)
{
    struct fixture *f = *state;
    const struct vf_source *s = vf_source_find("social_insurance");
    char id[19];
    make_id("12010119700101123", id);
    json_t *errors = json_array();
    const char *header[] = {"id_number", "item", "amount", "period"};
    int map[4];
    assert_int_equal(vf_map_header(s, header, 4, map, errors), 0);
    struct vf_parsed p;
    const char *by_label[] = {id, "养老金领取", "1200", "2025-09"};
    assert_int_equal(vf_parse_row(f->arena, s, map, by_label, 4, 2, &p, errors), 0);
    assert_int_equal(p.row.kind, 2);
    assert_int_equal(p.row.date, 20250901);
    const char *by_code[] = {id, "unemployment", "1200", "2025-09"};
    assert_int_equal(vf_parse_row(f->arena, s, map, by_code, 4, 3, &p, errors), 0);
    assert_int_equal(p.row.kind, 3);
    const char *bad_kind[] = {id, "pensionx", "1200", "2025-13"};
    assert_int_equal(vf_parse_row(f->arena, s, map, bad_kind, 4, 4, &p, errors), -1);
    assert_int_equal(json_array_size(errors), 2); /* the kind and the month */
    json_decref(errors);
}

/* Rows of a batch for n persons, `per` rows each. */
static struct vf_parsed *rows_for(struct fixture *f, int n, int per, char (*ids)[19])
{
    struct vf_parsed *rows = calloc((size_t)(n * per), sizeof(*rows));
    const struct vf_source *s = vf_source_find("deposit");
    const char *header[] = {"id_number", "bank", "balance"};
    int map[3];
    json_t *errors = json_array();
    assert_int_equal(vf_map_header(s, header, 3, map, errors), 0);
    for (int i = 0; i < n; i++) {
        char first[32];
        snprintf(first, sizeof(first), "1201011980%02d01%03d", (1 + (i / 1000) % 12) % 100,
                 (i % 1000 + 1000) % 1000);
        make_id(first, ids[i]);
        for (int k = 0; k < per; k++) {
            char bal[16];
            snprintf(bal, sizeof(bal), "%d", i * 10 + k);
            const char *cells[] = {ids[i], "银行", bal};
            assert_int_equal(
                vf_parse_row(f->arena, s, map, cells, 3, 2, &rows[i * per + k], errors), 0);
        }
    }
    json_decref(errors);
    return rows;
}

struct collect {
    int64_t sum;
    int count;
};

static void on_row(void *ctx, enum vf_source_id src, int64_t batch, const struct vf_chunk *c,
                   const struct vf_row *r)
{
    struct collect *x = ctx;
    (void)src;
    (void)batch;
    (void)c;
    x->sum += r->a;
    x->count++;
}

static void test_store_round_trip(void **state)
{
    struct fixture *f = *state;
    enum { N = 5000, PER = 2 }; /* 10,000 rows: three chunks */
    char(*ids)[19] = calloc(N, 19);
    struct vf_parsed *rows = rows_for(f, N, PER, ids);
    assert_int_equal(vf_store_write(f->db, 7, VF_SRC_DEPOSIT, rows, N * PER), MZ_OK);
    int64_t chunks = 0;
    /* (a chunk's detail texts are a row of their own, seq -1 - n: not counted) */
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM verify_chunks WHERE batch_id = 7"
                                     " AND seq >= 0",
                                     &chunks, 0, NULL),
                     MZ_OK);
    assert_int_equal(chunks, 3);
    struct collect all = {0};
    assert_int_equal(vf_store_scan(f->db, 7, VF_SRC_DEPOSIT, on_row, &all), MZ_OK);
    assert_int_equal(all.count, N * PER);
    int64_t expect = 0;
    for (int i = 0; i < N; i++)
        expect += (int64_t)(i * 10) * 2 * 100 + 100;
    assert_int_equal(all.sum, expect);
    /* Every person's two rows are found by key, wherever the chunk boundaries fall. */
    for (int i = 0; i < N; i += 97) {
        unsigned char key[16];
        mz_crypto_blind_raw(VF_KEY_CONTEXT, ids[i], 18, key);
        struct collect one = {0};
        assert_int_equal(vf_store_lookup(f->db, 7, VF_SRC_DEPOSIT,
                                         (const unsigned char(*)[16])key, 1, on_row, &one),
                         MZ_OK);
        assert_int_equal(one.count, 2);
        assert_int_equal(one.sum, (int64_t)(i * 10) * 2 * 100 + 100);
    }
    /* An unknown key finds nothing. */
    unsigned char none[16] = {0};
    struct collect zero = {0};
    assert_int_equal(vf_store_lookup(f->db, 7, VF_SRC_DEPOSIT,
                                     (const unsigned char(*)[16])none, 1, on_row, &zero),
                     MZ_OK);
    assert_int_equal(zero.count, 0);
    free(rows);
    free(ids);
}

static void test_store_refuses_tampering(void **state)
{
    struct fixture *f = *state;
    char(*ids)[19] = calloc(10, 19);
    struct vf_parsed *rows = rows_for(f, 10, 1, ids);
    assert_int_equal(vf_store_write(f->db, 8, VF_SRC_DEPOSIT, rows, 10), MZ_OK);
    struct collect c = {0};
    /* A chunk moved to another batch does not open (the context names it). */
    assert_int_equal(mz_db_exec(f->db, "UPDATE verify_chunks SET batch_id = 9 WHERE batch_id = 8"),
                     MZ_OK);
    assert_int_equal(vf_store_scan(f->db, 9, VF_SRC_DEPOSIT, on_row, &c), MZ_ERR_INVALID);
    assert_int_equal(c.count, 0);
    /* A flipped byte does not open either. */
    assert_int_equal(mz_db_exec(f->db, "UPDATE verify_chunks SET batch_id = 8 WHERE batch_id = 9"),
                     MZ_OK);
    assert_int_equal(mz_db_exec(f->db, "UPDATE verify_chunks SET data = substr(data, 1, 60) ||"
                                       " x'00' || substr(data, 62) WHERE batch_id = 8"),
                     MZ_OK);
    assert_int_equal(vf_store_scan(f->db, 8, VF_SRC_DEPOSIT, on_row, &c), MZ_ERR_INVALID);
    assert_int_equal(c.count, 0);
    free(rows);
    free(ids);
}

static void test_rule_lookup_by_division_and_date(void **state)
{
    struct fixture *f = *state;
    struct vf_rule r;
    /* The seed: city-wide from 2019-04-01, property count limit 1. */
    assert_int_equal(vf_rule_lookup(f->db, "dibao", VF_R_PROPERTY, "120101001001", "2025-01-01", &r),
                     MZ_OK);
    assert_true(r.found);
    assert_int_equal(r.count_limit, 1);
    assert_true(r.refuse);
    assert_int_equal(vf_rule_lookup(f->db, "dibao", VF_R_PROPERTY, "120101001001", "2019-03-31", &r),
                     MZ_OK);
    assert_false(r.found);
    /* A district row wins in its district from its date; elsewhere the city row. */
    assert_int_equal(mz_db_exec(f->db,
                                "INSERT INTO verify_rules (version, created_at, updated_at,"
                                " created_by, updated_by, program, rule, division, valid_from,"
                                " enabled, severity, percent, months, count_limit,"
                                " value_limit_fen) VALUES (1, 'x', 'x', 't', 't', 'dibao',"
                                " 'property', '120101000000', '2025-06-01', 1, 'review', 0, 0,"
                                " 2, 0)"),
                     MZ_OK);
    assert_int_equal(vf_rule_lookup(f->db, "dibao", VF_R_PROPERTY, "120101001001", "2025-06-01", &r),
                     MZ_OK);
    assert_int_equal(r.count_limit, 2);
    assert_false(r.refuse);
    assert_int_equal(vf_rule_lookup(f->db, "dibao", VF_R_PROPERTY, "120101001001", "2025-05-31", &r),
                     MZ_OK);
    assert_int_equal(r.count_limit, 1);
    assert_int_equal(vf_rule_lookup(f->db, "dibao", VF_R_PROPERTY, "120103001001", "2025-07-01", &r),
                     MZ_OK);
    assert_int_equal(r.count_limit, 1);
    /* 低收入 measures income against 1.5 x the 低保 standard. */
    assert_int_equal(
        vf_rule_lookup(f->db, "low_income", VF_R_INCOME, "120101001001", "2025-07-01", &r), MZ_OK);
    assert_string_equal(r.standard_program, "dibao");
    assert_int_equal(r.percent, 150);
}

/* A one-household run over a deposit batch: the assets rule's boundary. */
static void test_assets_boundary(void **state)
{
    struct fixture *f = *state;
    char id[19];
    make_id("12010119600404123", id);
    static const struct {
        const char *balance;
        bool flagged;
    } cases[] = {{"25080.00", false}, {"25080.01", true}};
    for (int c = 0; c < 2; c++) {
        const struct vf_source *s = vf_source_find("deposit");
        const char *header[] = {"id_number", "bank", "balance"};
        int map[3];
        json_t *errors = json_array();
        assert_int_equal(vf_map_header(s, header, 3, map, errors), 0);
        struct vf_parsed p;
        const char *cells[] = {id, "银行", cases[c].balance};
        assert_int_equal(vf_parse_row(f->arena, s, map, cells, 3, 2, &p, errors), 0);
        json_decref(errors);
        char sql[300];
        int64_t batch = 100 + c;
        snprintf(sql, sizeof(sql),
                 "INSERT INTO verify_batches (id, version, created_at, updated_at, created_by,"
                 " updated_by, state, source, as_of, division) VALUES (%lld, 1, 'x', 'x', 't', 't',"
                 " 'active', 'deposit', '2025-09-%02d', '120000000000')",
                 (long long)batch, 28 + c);
        assert_int_equal(mz_db_exec(f->db, sql), MZ_OK);
        assert_int_equal(vf_store_write(f->db, batch, VF_SRC_DEPOSIT, &p, 1), MZ_OK);
        struct vf_run run;
        vf_run_init(&run, f->arena, "dibao", c == 0 ? "2025-09-28" : "2025-09-29");
        vf_run_household(&run, 0, 0, "120101001001", NULL);
        unsigned char key[16];
        mz_crypto_blind_raw(VF_KEY_CONTEXT, id, 18, key);
        assert_int_equal(vf_run_member(&run, key, 0, "测试", "", 19600404), MZ_OK);
        run.members[0].authorised = true;
        assert_int_equal(vf_run_batches(&run, f->db), MZ_OK);
        assert_int_equal(run.batches[VF_SRC_DEPOSIT].id, batch);
        assert_int_equal(vf_run_scan(&run, f->db, c == 1), MZ_OK);
        assert_int_equal(vf_run_evaluate(&run, f->db), MZ_OK);
        /* 低保 104500 fen from 2025-09-01 x 1 member x 24 months = 2508000 fen. */
        assert_int_equal(run.households[0].fig.financial_assets_fen, c == 0 ? 2508000 : 2508001);
        assert_int_equal((run.households[0].flags >> VF_R_ASSETS) & 1u, cases[c].flagged);
        assert_int_equal(run.households[0].outcome, cases[c].flagged ? VF_INELIGIBLE : VF_PASS);
        vf_run_free(&run);
    }
}

/* Dates as the engine reads them: the usual ISO form directly, anything
 * else the way atoi reads it (the fast path must not change a result). */
static void test_date_int(void **state)
{
    (void)state;
    assert_int_equal(vf_date_int("2026-11-15"), 20261115);
    assert_int_equal(vf_date_int("1960-04-04"), 19600404);
    assert_int_equal(vf_date_int("0001-01-01"), 10101);
    /* Longer or odd texts: as atoi reads each part. */
    assert_int_equal(vf_date_int("2026-11-155"), 2026 * 10000 + 11 * 100 + 155);
    assert_int_equal(vf_date_int("2026-11-15T08:00:00Z"), 20261115);
    assert_int_equal(vf_date_int("2026/11/15"), 2026 * 10000 + 11 * 100 + 15);
    assert_int_equal(vf_date_int(" 2026-1-15x"), 2026 * 10000 - 1 * 100 + 15);
    assert_int_equal(vf_date_int("2026-11-1"), 0); /* too short */
    assert_int_equal(vf_date_int(NULL), 0);
}

/* Text copies into fixed fields truncate like snprintf "%s". */
static void test_copy_text(void **state)
{
    (void)state;
    char div[13], zone[8];
    vf_copy_text(div, sizeof(div), "120101001001");
    assert_string_equal(div, "120101001001");
    vf_copy_text(div, sizeof(div), "1201010010019999");
    assert_string_equal(div, "120101001001");
    vf_copy_text(zone, sizeof(zone), NULL);
    assert_string_equal(zone, "");
    vf_copy_text(zone, sizeof(zone), "urban");
    assert_string_equal(zone, "urban");
}


/* The demo's cases are drawn from the whole city also when the share rounds
 * to 0 per mille (a 14 M city's households against its 5,000 cases): 3 of
 * ~4,000 households drew only the demo community's before. */
static void test_demo_cases_from_a_large_city(void **state)
{
    struct fixture *f = *state;
    struct mz_demo_options o = {.persons = 10000, .seed = 7};
    struct mz_demo_summary s;
    char tmp[] = "/tmp/test_verify_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    const char *old_tmpdir = getenv("TMPDIR");
    char *saved = old_tmpdir ? strdup(old_tmpdir) : NULL;
    setenv("TMPDIR", tmp, 1);
    assert_int_equal(mz_registry_demo(&f->app, f->db, &o, &s), MZ_OK);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(rmdir(tmp), 0);
    assert_true(s.households > 3000); /* 3 cases: 0 per mille */
    json_t *summary = NULL;
    assert_int_equal(vf_demo(&f->app, f->db, 7, 3, &summary), MZ_OK);
    json_decref(summary);
    int64_t outside = -1;
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM assistance_cases"
                                     " WHERE division <> '120101001001'",
                                     &outside, 0, NULL),
                     MZ_OK);
    assert_true(outside >= 1);
    assert_true(outside <= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_money_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_key_and_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_and_months, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_lookup_by_division_and_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assets_boundary, setup, teardown),
        cmocka_unit_test(test_date_int),
        cmocka_unit_test(test_copy_text),
        cmocka_unit_test_setup_teardown(test_demo_cases_from_a_large_city, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
