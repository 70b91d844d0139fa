/* test_assistance.c - the benefit computation (src/modules/assistance/benefit.c)
 * in-process against :memory: SQLite with the module's seed (Tianjin's 低保
 * history, example increments): zero income, income above the standard,
 * per-capita rounding, categories, the minimum, urban vs rural, a standard
 * changing mid-year (month before and after), and the most specific division
 * winning from its valid_from on; the bank files (bank_rows.c) over more
 * rows than one batch, in order, with exact control totals, and their errors
 * naming the right payment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>

#include "mz/crypto.h"
#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

struct fixture {
    struct mz_app app;
    struct mz_db *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = 0;
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_app_init(&f->app, ":memory:", NULL, 0), MZ_OK);
    assert_int_equal(mz_db_open(":memory:", NULL, &f->db), MZ_OK);
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_db_close(f->db);
    mz_app_free(&f->app);
    free(f);
    return 0;
}

/* Compute a dibao quote for n members with the given incomes (no categories). */
static struct assist_quote quote(struct fixture *f, const char *division, const char *zone,
                                 const char *month, const int64_t *incomes, int n)
{
    struct assist_member m[ASSIST_MAX_MEMBERS];
    struct assist_quote q;
    memset(m, 0, sizeof(m));
    for (int i = 0; i < n; i++)
        m[i].income_fen = incomes[i];
    assert_int_equal(assist_compute(f->db, "dibao", division, zone, month, m, n, &q), MZ_OK);
    return q;
}

/* Zero income: the full standard per member. */
static void test_zero_income(void **state)
{
    int64_t inc[3] = {0, 0, 0};
    struct assist_quote q = quote(*state, "120101001001", NULL, "2025-10", inc, 3);
    assert_int_equal(q.standard.amount_fen, 104500);
    assert_string_equal(q.standard.valid_from, "2025-09-01");
    assert_int_equal(q.monthly_benefit_fen, 313500);
    assert_true(json_array_size(q.trace) >= 5);
    json_decref(q.trace);
}

/* Income at or above the standard: nothing. */
static void test_income_above(void **state)
{
    int64_t inc[2] = {104500, 104501};
    struct assist_quote q = quote(*state, "120101000000", NULL, "2025-10", inc, 2);
    assert_int_equal(q.monthly_benefit_fen, 0);
    assert_int_equal(q.gap_fen, 0);
    json_decref(q.trace);
}

/* Per-capita income rounds down; the gap uses the exact household income. */
static void test_rounding(void **state)
{
    int64_t inc[3] = {50, 50, 1};
    struct assist_quote q = quote(*state, "120101000000", NULL, "2025-10", inc, 3);
    assert_int_equal(q.household_income_fen, 101);
    assert_int_equal(q.per_capita_income_fen, 33);
    assert_int_equal(q.monthly_benefit_fen, 313500 - 101);
    json_decref(q.trace);
}

/* Categories add configured percentages of the standard (seed: 10%, 20%). */
static void test_categories(void **state)
{
    struct fixture *f = *state;
    struct assist_member m[2];
    struct assist_quote q;
    memset(m, 0, sizeof(m));
    m[0].categories[0] = "elderly";
    m[0].categories[1] = "severe_disability";
    m[0].ncategories = 2;
    m[1].income_fen = 1000;
    assert_int_equal(assist_compute(f->db, "dibao", "120101000000", NULL, "2025-10", m, 2, &q),
                     MZ_OK);
    assert_int_equal(q.increments_fen, 10450 + 20900);
    assert_int_equal(q.monthly_benefit_fen, 209000 - 1000 + 31350);
    json_decref(q.trace);
}

/* A district standard with a minimum wins over the city's from its date. */
static void test_specific_division_and_minimum(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        mz_db_exec(f->db,
                   "INSERT INTO assistance_standards (version, created_at, updated_at, program,"
                   " division, zone, valid_from, amount_fen, basis, minimum_fen) VALUES"
                   " (1, 'x', 'x', 'dibao', '120103000000', 'all', '2025-10-01', 110000,"
                   " 'per_person', 5000)"),
        MZ_OK);
    int64_t inc[1] = {109900};
    struct assist_quote q = quote(f, "120103002003", NULL, "2025-10", inc, 1);
    assert_int_equal(q.standard.amount_fen, 110000);
    assert_int_equal(q.monthly_benefit_fen, 5000);
    json_decref(q.trace);
    q = quote(f, "120103002003", NULL, "2025-09", inc, 1);
    assert_int_equal(q.standard.amount_fen, 104500);
    assert_int_equal(q.monthly_benefit_fen, 0);
    json_decref(q.trace);
    q = quote(f, "120101000000", NULL, "2025-10", inc, 1);
    assert_int_equal(q.standard.amount_fen, 104500);
    json_decref(q.trace);
}

/* Urban and rural differ before 2018; without a zone that is an error. */
static void test_urban_rural(void **state)
{
    struct fixture *f = *state;
    struct assist_standard s;
    assert_int_equal(assist_standard_lookup(f->db, "dibao", "120101000000", "urban", "2017-06", &s),
                     MZ_OK);
    assert_int_equal(s.amount_fen, 78000);
    assert_int_equal(assist_standard_lookup(f->db, "dibao", "120101000000", "rural", "2017-06", &s),
                     MZ_OK);
    assert_int_equal(s.amount_fen, 70000);
    assert_int_equal(assist_standard_lookup(f->db, "dibao", "120101000000", NULL, "2017-06", &s),
                     MZ_ERR_INVALID);
    assert_int_equal(assist_standard_lookup(f->db, "dibao", "120101000000", "rural", "2009-03", &s),
                     MZ_ERR_NOTFOUND);
    /* Unified from 2018: the zone is no longer needed; "all" serves both. */
    assert_int_equal(assist_standard_lookup(f->db, "dibao", "120101000000", "rural", "2018-04", &s),
                     MZ_OK);
    assert_int_equal(s.amount_fen, 92000);
}

/* A standard changing mid-year: the month before and the month after. */
static void test_mid_year_change(void **state)
{
    int64_t inc[1] = {0};
    struct assist_quote q = quote(*state, "120101000000", NULL, "2025-08", inc, 1);
    assert_int_equal(q.standard.amount_fen, 98000);
    json_decref(q.trace);
    q = quote(*state, "120101000000", NULL, "2025-09", inc, 1);
    assert_int_equal(q.standard.amount_fen, 104500);
    json_decref(q.trace);
}

/* Months and ancestors. */
static void test_helpers(void **state)
{
    (void)state;
    char anc[5][13];
    assert_true(assist_month_ok("2025-10"));
    assert_false(assist_month_ok("2025-13"));
    assert_false(assist_month_ok("2025-1"));
    assist_ancestors("120101001002", anc);
    assert_string_equal(anc[0], "120101001002");
    assert_string_equal(anc[1], "120101001000");
    assert_string_equal(anc[2], "120101000000");
    assert_string_equal(anc[3], "120100000000");
    assert_string_equal(anc[4], "120000000000");
}

/* 低收入 band aid: paid only above the 低保 line and up to 150% of it. */
static void test_low_income_band(void **state)
{
    struct fixture *f = *state;
    struct assist_member m[2];
    struct assist_quote q;
    memset(m, 0, sizeof(m));
    /* 2025-10: 低保 104500, 低收入 31400 per household. Two members: band (209000, 313500]. */
    static const struct {
        int64_t income;
        int64_t benefit;
    } cases[] = {{200000, 0}, {209000, 0}, {209001, 31400}, {313500, 31400}, {313501, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m[0].income_fen = cases[i].income;
        assert_int_equal(assist_compute(f->db, "low_income", "120101001001", NULL, "2025-10", m, 2,
                                        &q),
                         MZ_OK);
        assert_int_equal(q.monthly_benefit_fen, cases[i].benefit);
        bool band = false, refused = false;
        size_t k;
        json_t *t;
        json_array_foreach(q.trace, k, t) {
            const char *step = json_string_value(json_object_get(t, "step"));
            band = band || strcmp(step, "band") == 0;
            refused = refused || strcmp(step, "not_eligible") == 0;
        }
        assert_true(band);
        assert_int_equal(refused, cases[i].benefit == 0);
        json_decref(q.trace);
    }
}

/* 医疗救助: deductible, ratio (rounded down), annual cap, rule by group. */
static void test_medical(void **state)
{
    struct fixture *f = *state;
    struct assist_medical m;
    assert_int_equal(assist_medical_compute(f->db, "dibao", "120101001001", "2025-06-01", 1000000,
                                            0, 0, &m),
                     MZ_OK);
    assert_int_equal(m.ratio_percent, 75);
    assert_int_equal(m.aid_fen, 750000);
    assert_int_equal(assist_medical_compute(f->db, "dibao", "120101001001", "2025-06-01", 1000000,
                                            0, 4500000, &m),
                     MZ_OK);
    assert_int_equal(m.aid_before_cap_fen, 750000);
    assert_int_equal(m.aid_fen, 500000); /* the cap left this year */
    assert_int_equal(assist_medical_compute(f->db, "dibao", "120101001001", "2025-06-01", 101, 0,
                                            0, &m),
                     MZ_OK);
    assert_int_equal(m.aid_fen, 75); /* 75.75 fen rounded down */
    assert_int_equal(assist_medical_compute(f->db, "relapse", "120101001001", "2025-06-01",
                                            100000, 0, 0, &m),
                     MZ_OK);
    assert_int_equal(m.aid_fen, 0); /* all below the deductible */
    assert_int_equal(assist_medical_compute(f->db, "relapse", "120101001001", "2025-06-01",
                                            1000000, 50000, 0, &m),
                     MZ_OK);
    assert_int_equal(m.deductible_applied_fen, 100000);
    assert_int_equal(m.aid_fen, 630000);
    assert_int_equal(assist_medical_compute(f->db, "catastrophic", "120101001001", "2025-06-01",
                                            1000000, 0, 0, &m),
                     MZ_ERR_NOTFOUND);
    assert_int_equal(assist_medical_compute(f->db, "dibao", "120101001001", "2023-12-31", 1000000,
                                            0, 0, &m),
                     MZ_ERR_NOTFOUND);
}

/* 特困: the support mode picks the standard; the care grade adds its 护理费. */
static void test_tekun_modes_and_care(void **state)
{
    struct fixture *f = *state;
    struct assist_member m[1];
    struct assist_quote q;
    memset(m, 0, sizeof(m));
    static const struct {
        const char *zone, *mode;
        int64_t standard;
    } cases[] = {{"rural", "home", 153000},       {"rural", "institutional", 187000},
                 {"rural", NULL, 187000},         {"urban", "home", 187000},
                 {NULL, "institutional", 187000}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(assist_compute_mode(f->db, "tekun", "120221001001", cases[i].zone,
                                             cases[i].mode, "2025-10", m, 1, &q),
                         MZ_OK);
        assert_int_equal(q.standard.amount_fen, cases[i].standard);
        assert_int_equal(q.monthly_benefit_fen, cases[i].standard);
        json_decref(q.trace);
    }
    assert_int_equal(mz_db_exec(f->db,
                                "INSERT INTO assistance_care_standards (version, created_at,"
                                " updated_at, program, care_grade, division, amount_fen,"
                                " valid_from) VALUES (1, 'x', 'x', 'tekun', 'full', '120000000000',"
                                " 60000, '2025-01-01')"),
                     MZ_OK);
    m[0].care_grade = "full";
    assert_int_equal(assist_compute_mode(f->db, "tekun", "120221001001", "rural", "home",
                                         "2025-10", m, 1, &q),
                     MZ_OK);
    assert_int_equal(q.care_fen, 60000);
    assert_int_equal(q.monthly_benefit_fen, 153000 + 60000);
    json_decref(q.trace);
    m[0].care_grade = "partial"; /* not configured: no care amount, said in the trace */
    assert_int_equal(assist_compute_mode(f->db, "tekun", "120221001001", "rural", "home",
                                         "2025-10", m, 1, &q),
                     MZ_OK);
    assert_int_equal(q.care_fen, 0);
    json_decref(q.trace);
}

/* A run of n payments (every 7th skipped, every 11th a 医疗救助 bill whose
 * account is sealed under the bills' context) for the bank file tests; the
 * expected count and sum of the paid rows. */
#define BANK_ROWS 10000
static void bank_run(struct fixture *f, int n, int64_t *count, int64_t *sum)
{
    struct mz_arena *a = mz_arena_new();
    *count = *sum = 0;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    for (int i = 1; i <= n; i++) {
        char card[24], name[32];
        bool bill = i % 11 == 0, paid = i % 7 != 0;
        snprintf(card, sizeof(card), "62284800%011d", i);
        snprintf(name, sizeof(name), "收款人%d", i);
        assert_int_equal(mz_db_run(f->db,
                                   "INSERT INTO persons (id, version, created_at, updated_at, name)"
                                   " VALUES (?, 1, 'x', 'x', ?)",
                                   "is", (int64_t)i, name),
                         MZ_OK);
        const char *sealed = mz_crypto_seal(a, assist_account_context(bill ? 1 : 0), card,
                                            strlen(card));
        int64_t amount = 100000 + i;
        assert_int_equal(
            mz_db_run(f->db,
                      bill ? "INSERT INTO assistance_payments (id, version, created_at, updated_at,"
                             " run_id, bill_id, program, month, payee_person_id, division, persons,"
                             " amount_fen, status, account_sealed) VALUES (?, 1, 'x', 'x', 1, ?,"
                             " 'medical', '2025-10', ?, '120101001001', 1, ?, ?, ?)"
                           : "INSERT INTO assistance_payments (id, version, created_at, updated_at,"
                             " run_id, case_id, program, month, payee_person_id, division, persons,"
                             " amount_fen, status, account_sealed) VALUES (?, 1, 'x', 'x', 1, ?,"
                             " 'dibao', '2025-10', ?, '120101001001', 1, ?, ?, ?)",
                      "iiiiss", (int64_t)i, (int64_t)(i + 500000), (int64_t)i, amount,
                      paid ? "paid" : "skipped", sealed),
            MZ_OK);
        if (paid) {
            ++*count;
            *sum += amount;
        }
    }
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    mz_arena_free(a);
}

/* The default CSV over more rows than one batch of the worker thread:
 * every paid row once, in payment order, seq 1..n, the account opened
 * under its own context, and the trailer's control totals. */
static void test_bank_file_batches(void **state)
{
    struct fixture *f = *state;
    int64_t want_count, want_sum, count = 0, sum = 0;
    bank_run(f, BANK_ROWS, &want_count, &want_sum);
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(assist_bank_file_write(f->db, 1, out, &count, &sum), MZ_OK);
    assert_int_equal(count, want_count);
    assert_int_equal(sum, want_sum);
    rewind(out);
    char line[256], expect[256], money[32];
    assert_non_null(fgets(line, sizeof(line), out));
    assert_string_equal(line, "\xEF\xBB\xBF" "seq,payment_id,case_id,payee_name,account,amount_yuan\r\n");
    int64_t seq = 0;
    for (int i = 1; i <= BANK_ROWS; i++) {
        if (i % 7 == 0)
            continue;
        mz_money_format(100000 + i, money, sizeof(money));
        snprintf(expect, sizeof(expect), "%lld,%d,%d,收款人%d,62284800%011d,%s\r\n",
                 (long long)++seq, i, i + 500000, i, i, money);
        assert_non_null(fgets(line, sizeof(line), out));
        assert_string_equal(line, expect);
    }
    mz_money_format(want_sum, money, sizeof(money));
    snprintf(expect, sizeof(expect), "TOTAL,%lld,,,,%s\r\n", (long long)want_count, money);
    assert_non_null(fgets(line, sizeof(line), out));
    assert_string_equal(line, expect);
    assert_null(fgets(line, sizeof(line), out));
    fclose(out);
}

/* A fixed-width layout: a value too wide for its column in a later batch
 * stops the file with MZ_ERR_TOOBIG naming that payment; an account that
 * does not open stops it with MZ_ERR_INVALID naming its payment. */
static void test_bank_file_errors(void **state)
{
    struct fixture *f = *state;
    int64_t want_count, want_sum, count = 0, sum = 0, bad = 0;
    bank_run(f, BANK_ROWS, &want_count, &want_sum);
    json_t *layout = json_loads("{\"file_format\":\"fixed\",\"encoding\":\"gb18030\","
                                "\"columns\":[{\"field\":\"seq\",\"width\":6,\"pad\":\"0\","
                                "\"align\":\"right\"},{\"field\":\"payee_name\",\"width\":12},"
                                "{\"field\":\"account\",\"width\":19},"
                                "{\"field\":\"amount_fen\",\"width\":10,\"align\":\"right\"}],"
                                "\"trailer\":\"T{count}/{sum_fen}\"}",
                                0, NULL);
    assert_non_null(layout);
    struct mz_arena *a = mz_arena_new();
    FILE *out = tmpfile();
    assert_int_equal(assist_bank_file_layout(f->db, a, 1, layout, out, &count, &sum, &bad), MZ_OK);
    assert_int_equal(count, want_count);
    assert_int_equal(sum, want_sum);
    assert_int_equal(bad, 0);
    /* Every 收款人N fits 12 bytes in GB18030 (6 + up to 5 digits); this one does not. */
    fclose(out);
    assert_int_equal(mz_db_run(f->db, "UPDATE persons SET name = '收款人（很长的名字）' WHERE id = 9001",
                               ""),
                     MZ_OK);
    out = tmpfile();
    assert_int_equal(assist_bank_file_layout(f->db, a, 1, layout, out, &count, &sum, &bad),
                     MZ_ERR_TOOBIG);
    assert_int_equal(bad, 9001);
    fclose(out);
    assert_int_equal(mz_db_run(f->db,
                               "UPDATE assistance_payments SET account_sealed = 'v1.broken'"
                               " WHERE id = 5003",
                               ""),
                     MZ_OK);
    out = tmpfile();
    assert_int_equal(assist_bank_file_layout(f->db, a, 1, layout, out, &count, &sum, &bad),
                     MZ_ERR_INVALID);
    assert_int_equal(bad, 5003);
    fclose(out);
    out = tmpfile();
    assert_int_equal(assist_bank_file_write(f->db, 1, out, &count, &sum), MZ_ERR_INVALID);
    fclose(out);
    mz_arena_free(a);
    json_decref(layout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_low_income_band, setup, teardown),
        cmocka_unit_test_setup_teardown(test_medical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tekun_modes_and_care, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_income, setup, teardown),
        cmocka_unit_test_setup_teardown(test_income_above, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rounding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_specific_division_and_minimum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urban_rural, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mid_year_change, setup, teardown),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test_setup_teardown(test_bank_file_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bank_file_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
