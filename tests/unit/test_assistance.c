/* test_assistance.c - the benefit computation (src/modules/assistance/benefit.c)
 * in-process against :memory: SQLite with the module's seed (Tianjin's 低保
 * history, example increments): zero income, income above the standard,
 * per-capita rounding, categories, the minimum, urban vs rural, a standard
 * changing mid-year (month before and after), and the most specific division
 * winning from its valid_from on; the bank files (bank_rows.c) over more
 * rows than one batch, in order, with exact control totals, and their errors
 * naming the right payment; the payroll's packs (packs.c): every field back
 * over several packs, look-ups by case and position, rekey, forged or moved packs
 * refused, input a pack cannot hold refused (the database tests also on
 * PostgreSQL when MZ_TEST_PG_CONNINFO is set); a run's snapshot as packs
 * (snapshot.c): amounts, order, skips, sums, a bad account failing it whole, a packed run's bank file and payment id
 * blocks, a whole packed run (also on PostgreSQL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

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

/* --- packs.c: the packed payroll snapshot ------------------------------------------------- */

static const char *const pack_divisions[] = {"120101001001", "120101002003", "120102003001",
                                             "120103004002", "120104005001"};

/* Household i of the pack tests: every field depends on i (cases ascending
 * with gaps, household and payee ids either side of the case id, names
 * empty, short and of the longest length, no account for some). */
static void pack_row(int i, struct assist_packed *r, char *name, char *account)
{
    memset(r, 0, sizeof(*r));
    r->case_id = 1000 + 3 * (int64_t)i + (i % 2);
    r->household_id = i % 3 == 0 ? r->case_id - 900 : r->case_id + 70000;
    r->payee_person_id = 5000000000LL + 2 * i;
    r->persons = 1 + i % 6;
    r->amount_fen = i % 97 == 0 ? 0 : 104500LL * r->persons + i;
    r->flags = i % 11 == 0 ? ASSIST_PACKED_PREVIOUS : 0;
    r->trace_id = i % 5 == 0 ? 0 : 700 + i;
    snprintf(r->division, sizeof(r->division), "%s", pack_divisions[(i / 7) % 5]);
    if (i % 13 == 0)
        name[0] = '\0';
    else if (i % 17 == 0)
        memset(name, 'N', ASSIST_PACK_TEXT_MAX), name[ASSIST_PACK_TEXT_MAX] = '\0';
    else
        snprintf(name, 64, "收款人%d（合成）", i);
    r->name = name;
    r->name_len = strlen(name);
    snprintf(account, 32, "62284800%011d", i);
    r->account = i % 29 == 0 ? NULL : account;
    r->account_len = r->account ? strlen(account) : 0;
}

static void assert_same_row(int i, const struct assist_packed *got)
{
    struct assist_packed want;
    char name[ASSIST_PACK_TEXT_MAX + 1], account[32];
    pack_row(i, &want, name, account);
    assert_int_equal(got->case_id, want.case_id);
    assert_int_equal(got->household_id, want.household_id);
    assert_int_equal(got->payee_person_id, want.payee_person_id);
    assert_int_equal(got->persons, want.persons);
    assert_int_equal(got->amount_fen, want.amount_fen);
    assert_int_equal(got->flags, want.flags);
    assert_int_equal(got->trace_id, want.trace_id);
    assert_string_equal(got->division, want.division);
    assert_int_equal(got->name_len, want.name_len);
    assert_string_equal(got->name, name);
    assert_int_equal(got->account_len, want.account_len);
    assert_string_equal(got->account, want.account ? account : "");
}

/* The pack tests' database: the PostgreSQL one MZ_TEST_PG_CONNINFO names
 * (scripts/pg-test.sh with MZ_PG_UNIT_BIN=build/tests/test_assistance), else
 * :memory: SQLite; only the packs table is needed. */
static int setup_packs(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *pg = getenv("MZ_TEST_PG_CONNINFO");
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_db_open(pg && *pg ? pg : ":memory:", NULL, &f->db), MZ_OK);
    assert_int_equal(mz_db_exec(f->db, "DROP TABLE IF EXISTS assistance_payment_packs"), MZ_OK);
    *state = f;
    return 0;
}

/* The snapshot tests' database: as setup, or the PostgreSQL one
 * MZ_TEST_PG_CONNINFO names, emptied and migrated. */
static int setup_snapshot(void **state)
{
    const char *pg = getenv("MZ_TEST_PG_CONNINFO");
    if (pg == NULL || *pg == '\0')
        return setup(state);
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = 0;
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_app_init(&f->app, pg, NULL, 0), MZ_OK);
    assert_int_equal(mz_db_open(pg, NULL, &f->db), MZ_OK);
    assert_int_equal(mz_db_exec(f->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"), MZ_OK);
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    *state = f;
    return 0;
}

static int teardown_packs(void **state)
{
    struct fixture *f = *state;
    mz_db_close(f->db);
    free(f);
    return 0;
}

/* Write n households as packs of run 7 (full packs, positions from 0). */
static void write_packs(struct fixture *f, int n, int64_t *persons, int64_t *amount)
{
    struct assist_packed *rows = calloc(ASSIST_PACK_MAX, sizeof(*rows));
    char (*names)[ASSIST_PACK_TEXT_MAX + 1] = calloc(ASSIST_PACK_MAX, sizeof(*names));
    char (*accounts)[32] = calloc(ASSIST_PACK_MAX, sizeof(*accounts));
    *persons = *amount = 0;
    assert_int_equal(assist_packs_schema(f->db), MZ_OK);
    for (int first = 0, seq = 0; first < n; first += ASSIST_PACK_MAX, seq++) {
        int k = n - first < ASSIST_PACK_MAX ? n - first : ASSIST_PACK_MAX;
        for (int i = 0; i < k; i++) {
            pack_row(first + i, &rows[i], names[i], accounts[i]);
            *persons += rows[i].persons;
            *amount += rows[i].amount_fen;
        }
        struct assist_pack_blob b;
        assert_int_equal(assist_pack_seal(7, seq, first, rows, (size_t)k, &b), MZ_OK);
        assert_int_equal(b.households, (size_t)k);
        assert_int_equal(b.first_case_id, rows[0].case_id);
        assert_int_equal(b.last_case_id, rows[k - 1].case_id);
        assert_int_equal(assist_pack_insert(f->db, &b), MZ_OK);
        assist_pack_blob_free(&b);
    }
    free(rows);
    free(names);
    free(accounts);
}

/* Run 7's packs hold households 0..n-1 of pack_row, in order. */
static void assert_packs_hold(struct mz_db *db, int n)
{
    struct assist_pack_cursor *c;
    struct assist_pack *p = assist_pack_new();
    int seen = 0, rc;
    assert_int_equal(assist_packs_begin(db, 7, &c), MZ_OK);
    while ((rc = assist_packs_next(c, p)) == MZ_ROW) {
        assert_int_equal(p->first_position, seen);
        for (size_t i = 0; i < p->n; i++)
            assert_same_row(seen + (int)i, &p->rows[i]);
        seen += (int)p->n;
    }
    assert_int_equal(rc, MZ_DONE);
    assert_int_equal(seen, n);
    assist_packs_end(c);
    assist_pack_free(p);
}

/* Every household comes back with every field, in order, over three packs;
 * the packs' clear sums equal the households'; the plaintext is not stored. */
static void test_packs_round_trip(void **state)
{
    struct fixture *f = *state;
    const int n = 2 * ASSIST_PACK_MAX + 123;
    int64_t persons, amount;
    write_packs(f, n, &persons, &amount);
    int64_t sums[3];
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payment_packs"
                                            " WHERE run_id = 7", &sums[0], 0, NULL), MZ_OK);
    assert_int_equal(sums[0], 3);
    assert_int_equal(mz_db_query_int(f->db, "SELECT sum(persons) FROM assistance_payment_packs",
                                     &sums[1], 0, NULL), MZ_OK);
    assert_int_equal(mz_db_query_int(f->db, "SELECT sum(amount_fen) FROM assistance_payment_packs",
                                     &sums[2], 0, NULL), MZ_OK);
    assert_int_equal(sums[1], persons);
    assert_int_equal(sums[2], amount);
    /* Neither a name nor an account is stored in clear. */
    struct mz_stmt *st;
    int blobs = 0;
    assert_int_equal(mz_db_prepare(f->db, "SELECT data FROM assistance_payment_packs", &st), MZ_OK);
    while (mz_db_step(st) == MZ_ROW) {
        const char *d = mz_db_col_blob(st, 0);
        size_t len = mz_db_col_bytes(st, 0);
        assert_true(len > 1000);
        assert_null(memmem(d, len, "收款人1（合成）", strlen("收款人1（合成）")));
        assert_null(memmem(d, len, "6228480000000001", 16));
        blobs++;
    }
    mz_db_done(st);
    assert_int_equal(blobs, 3);

    assert_packs_hold(f->db, n);
    struct assist_pack_cursor *c;
    struct assist_pack *p = assist_pack_new();
    /* Another run has no packs. */
    assert_int_equal(assist_packs_begin(f->db, 8, &c), MZ_OK);
    assert_int_equal(assist_packs_next(c, p), MZ_DONE);
    assist_packs_end(c);
    assist_pack_free(p);
}

/* A household is found by its case and by its position; a case between two
 * paid ones, before the first or after the last, and a position past the
 * end, are not found. */
static void test_packs_lookup(void **state)
{
    struct fixture *f = *state;
    const int n = 2 * ASSIST_PACK_MAX + 123;
    int64_t persons, amount;
    write_packs(f, n, &persons, &amount);
    struct assist_pack *p = assist_pack_new();
    const int probes[] = {0, 1, ASSIST_PACK_MAX - 1, ASSIST_PACK_MAX, ASSIST_PACK_MAX + 1,
                          2 * ASSIST_PACK_MAX, n - 1};
    for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        int i = probes[k];
        struct assist_packed want;
        char name[ASSIST_PACK_TEXT_MAX + 1], account[32];
        size_t at = 99999;
        pack_row(i, &want, name, account);
        assert_int_equal(assist_pack_load_case(f->db, 7, want.case_id, p, &at), MZ_OK);
        assert_int_equal(p->first_position + (int64_t)at, i);
        assert_same_row(i, &p->rows[at]);
        at = 99999;
        assert_int_equal(assist_pack_load_position(f->db, 7, i, p, &at), MZ_OK);
        assert_int_equal(at, (size_t)(i % ASSIST_PACK_MAX));
        assert_same_row(i, &p->rows[at]);
        /* The next case id after a paid one is not paid (ids have gaps). */
        assert_int_equal(assist_pack_load_case(f->db, 7, want.case_id + 1, p, &at),
                         MZ_ERR_NOTFOUND);
    }
    size_t at;
    assert_int_equal(assist_pack_load_case(f->db, 7, 999, p, &at), MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_case(f->db, 7, 1000 + 3 * (int64_t)n + 5, p, &at),
                     MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_case(f->db, 6, 1000, p, &at), MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_position(f->db, 7, n, p, &at), MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_position(f->db, 7, -1, p, &at), MZ_ERR_NOTFOUND);
    assist_pack_free(p);
}

/* Rekey: every pack sealed again under the new key version, its contents
 * unchanged (every household as written). */
static void test_packs_rekey(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/mz-packs-rekey-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/key", dir);
    assert_int_equal(mz_crypto_load(path, true), MZ_OK);
    int before = mz_crypto_version();
    const int n = ASSIST_PACK_MAX + 10;
    int64_t persons, amount;
    write_packs(f, n, &persons, &amount);
    assert_int_equal(mz_crypto_add_version(path), MZ_OK);
    assert_int_equal(mz_crypto_load(path, false), MZ_OK);
    assert_int_equal(mz_crypto_version(), before + 1);
    long values = 0;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_packs_rekey(f->db, &values), MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(values, 2);
    struct mz_stmt *st;
    int blobs = 0;
    assert_int_equal(mz_db_prepare(f->db, "SELECT data FROM assistance_payment_packs", &st), MZ_OK);
    while (mz_db_step(st) == MZ_ROW) {
        const unsigned char *d = mz_db_col_blob(st, 0);
        uint32_t version = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                           (uint32_t)d[3] << 24;
        assert_int_equal(version, (uint32_t)(before + 1));
        blobs++;
    }
    mz_db_done(st);
    assert_int_equal(blobs, 2);
    assert_packs_hold(f->db, n);
    unlink(path);
    rmdir(dir);
    mz_crypto_init_ephemeral();
}

/* A forged byte, a pack moved to another run, seq or position, or a wrong
 * household count does not open; nothing of it is handed out. */
static void test_packs_forged(void **state)
{
    (void)state;
    struct assist_packed rows[3];
    char names[3][ASSIST_PACK_TEXT_MAX + 1], accounts[3][32];
    for (int i = 0; i < 3; i++)
        pack_row(i + 1, &rows[i], names[i], accounts[i]);
    struct assist_pack_blob b;
    assert_int_equal(assist_pack_seal(3, 1, 4096, rows, 3, &b), MZ_OK);
    struct assist_pack *p = assist_pack_new();
    assert_int_equal(assist_pack_open(p, 3, 1, 4096, 3, b.data, b.len), MZ_OK);
    assert_int_equal(p->n, 3);
    assert_same_row(2, &p->rows[1]);
    assert_int_equal(assist_pack_open(p, 4, 1, 4096, 3, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(p->n, 0);
    assert_int_equal(assist_pack_open(p, 3, 2, 4096, 3, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(assist_pack_open(p, 3, 1, 0, 3, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(assist_pack_open(p, 3, 1, 4096, 2, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(assist_pack_open(p, 3, 1, 4096, 4, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(assist_pack_open(p, 3, 1, 4096, 3, b.data, b.len - 1), MZ_ERR_INVALID);
    b.data[b.len / 2] ^= 1;
    assert_int_equal(assist_pack_open(p, 3, 1, 4096, 3, b.data, b.len), MZ_ERR_INVALID);
    assert_int_equal(p->n, 0);
    assist_pack_blob_free(&b);
    assist_pack_free(p);
}

/* Input a pack cannot hold is refused, nothing sealed. */
static void test_packs_refused(void **state)
{
    (void)state;
    struct assist_packed rows[2];
    char names[2][ASSIST_PACK_TEXT_MAX + 1], accounts[2][32];
    struct assist_pack_blob b;
    for (int i = 0; i < 2; i++)
        pack_row(i + 1, &rows[i], names[i], accounts[i]);
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_OK);
    assist_pack_blob_free(&b);
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 0, &b), MZ_ERR_INVALID);
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, ASSIST_PACK_MAX + 1, &b), MZ_ERR_INVALID);
    assert_null(b.data);
    int64_t keep = rows[1].case_id;
    rows[1].case_id = rows[0].case_id; /* not ascending */
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_ERR_INVALID);
    rows[1].case_id = keep;
    rows[1].amount_fen = -1;
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_ERR_INVALID);
    rows[1].amount_fen = 1;
    snprintf(rows[1].division, sizeof(rows[1].division), "12010100100");
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_ERR_INVALID);
    snprintf(rows[1].division, sizeof(rows[1].division), "12010100100x");
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_ERR_INVALID);
    snprintf(rows[1].division, sizeof(rows[1].division), "120101001001");
    rows[1].name_len = ASSIST_PACK_TEXT_MAX + 1;
    assert_int_equal(assist_pack_seal(1, 0, 0, rows, 2, &b), MZ_ERR_INVALID);
    assert_null(b.data);
}

/* --- snapshot.c: a run's paying cases written as packs -------------------------------------- */

#define SNAP_CASES 5000
/* Case i (ids from 1, inserted in id order) of the snapshot test: every
 * 97th has a dead payee, every 89th a dead member, every 83rd no account,
 * every 7th a new benefit starting after the month (the previous one is
 * paid); every 50th is of another program, in another district, not
 * paying or starting after the month (not read at all). */
static int snap_kind(int i)
{
    if (i % 50 == 0)
        return 10 + (i / 50) % 4; /* not read */
    return i % 97 == 0 ? 1 : i % 89 == 0 ? 2 : i % 83 == 0 ? 3 : 0;
}

static void snap_cases(struct fixture *f)
{
    struct mz_arena *a = mz_arena_new();
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    for (int i = 1; i <= SNAP_CASES; i++) {
        int kind = snap_kind(i);
        char card[24], name[32];
        snprintf(card, sizeof(card), "62284811%011d", i);
        snprintf(name, sizeof(name), "收款人%d", i);
        for (int k = 0; k < 2; k++)
            assert_int_equal(mz_db_run(f->db,
                                       "INSERT INTO persons (id, version, created_at, updated_at,"
                                       " name, deceased_on) VALUES (?, 1, 'x', 'x', ?, ?)",
                                       "iss", (int64_t)(2 * i + k), k ? "成员" : name,
                                       (kind == 1 && k == 0) || (kind == 2 && k == 1)
                                           ? "2025-09-20" : NULL),
                             MZ_OK);
        const char *division = kind == 11 ? "120102003001"
                               : i % 3 == 0 ? "120101002003" : "120101001001";
        assert_int_equal(
            mz_db_run(f->db,
                      "INSERT INTO assistance_cases (id, version, created_at, updated_at, state,"
                      " program, household_id, applicant_person_id, payee_person_id, division,"
                      " members, member_count, start_month, monthly_benefit_fen,"
                      " previous_benefit_fen, benefit_from, bank_account) VALUES (?, 1, 'x',"
                      " 'x', ?, ?, ?, ?, ?, ?, '[]', 2, ?, ?, ?, ?, ?)",
                      "issiiissiiss", (int64_t)i, kind == 12 ? "suspended" : "paying",
                      kind == 10 ? "tekun" : "dibao", (int64_t)(90000 + i), (int64_t)(2 * i),
                      (int64_t)(2 * i), division, kind == 13 ? "2025-11" : "2025-01",
                      (int64_t)(100000 + i), (int64_t)(i % 7 == 0 ? 90000 + i : 0),
                      i % 7 == 0 ? "2025-11" : NULL,
                      kind == 3 ? NULL
                                : mz_crypto_seal(a, assist_account_context(0), card, strlen(card))),
            MZ_OK);
        for (int k = 0; k < 2; k++)
            assert_int_equal(mz_db_run(f->db,
                                       "INSERT INTO assistance_case_members (case_id, person_id)"
                                       " VALUES (?, ?)",
                                       "ii", (int64_t)i, (int64_t)(2 * i + k)),
                             MZ_OK);
    }
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    mz_arena_free(a);
}

/* What a district's run (120101) of the snapshot cases pays for 2025-10:
 * households, persons, amount, per community (120101001001, 120101002003),
 * skipped. */
struct snap_want {
    int64_t paid, persons, amount, div[2], skipped;
};

static struct snap_want snap_expect(void)
{
    struct snap_want w = {0};
    for (int i = 1; i <= SNAP_CASES; i++) {
        int kind = snap_kind(i);
        if (kind >= 10)
            continue;
        if (kind > 0) {
            w.skipped++;
            continue;
        }
        int64_t amount = i % 7 == 0 ? 90000 + i : 100000 + i;
        w.paid++;
        w.persons += 2;
        w.amount += amount;
        w.div[i % 3 == 0] += amount;
    }
    return w;
}

/* A district's run for 2025-10: the paid cases come back from the packs in
 * case order with their amounts (the previous benefit where the new one
 * starts later), payee, name and opened account; the skipped ones with the
 * reason and date; the totals and the sums per community equal what the
 * cases say; the cases outside the run are nowhere. */
static void test_snapshot_packs(void **state)
{
    struct fixture *f = *state;
    snap_cases(f);
    assert_int_equal(assist_packs_schema(f->db), MZ_OK);
    struct assist_snapshot s;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_snapshot_packs(f->db, 41, "dibao", "2025-10", "120101000000",
                                           "120102000000", NULL, &s),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    struct snap_want w = snap_expect();
    int64_t want_paid = w.paid, want_persons = w.persons, want_amount = w.amount;
    int64_t *want_div = w.div;
    size_t want_skipped = (size_t)w.skipped;
    assert_int_equal(s.households, want_paid);
    assert_int_equal(s.persons, want_persons);
    assert_int_equal(s.amount_fen, want_amount);
    assert_int_equal(s.npacks, (size_t)(want_paid + ASSIST_PACK_MAX - 1) / ASSIST_PACK_MAX);
    assert_true(s.npacks >= 2);
    assert_int_equal(s.ncommunities, 2);
    assert_string_equal(s.communities[0].division, "120101001001");
    assert_string_equal(s.communities[1].division, "120101002003");
    assert_int_equal(s.communities[0].amount_fen, want_div[0]);
    assert_int_equal(s.communities[1].amount_fen, want_div[1]);
    assert_int_equal(s.communities[0].households + s.communities[1].households, want_paid);
    assert_int_equal(s.nskipped, want_skipped);
    for (size_t k = 0; k < s.nskipped; k++) {
        const struct assist_skip *x = &s.skipped[k];
        int kind = snap_kind((int)x->case_id);
        assert_true(k == 0 || x->case_id > s.skipped[k - 1].case_id);
        assert_int_equal((int)x->reason, kind);
        assert_string_equal(x->died_on, kind == 3 ? "" : "2025-09-20");
        assert_int_equal(x->payee_person_id, 2 * x->case_id);
        assert_int_equal(x->household_id, 90000 + x->case_id);
    }
    struct assist_pack_cursor *c;
    struct assist_pack *p = assist_pack_new();
    int64_t next = 1, seen = 0;
    int rc;
    assert_int_equal(assist_packs_begin(f->db, 41, &c), MZ_OK);
    while ((rc = assist_packs_next(c, p)) == MZ_ROW) {
        assert_int_equal(p->first_position, seen);
        for (size_t k = 0; k < p->n; k++) {
            const struct assist_packed *r = &p->rows[k];
            while (snap_kind((int)next) != 0)
                next++;
            char card[32], name[40];
            snprintf(card, sizeof(card), "62284811%011lld", (long long)next);
            snprintf(name, sizeof(name), "收款人%lld", (long long)next);
            assert_int_equal(r->case_id, next);
            assert_int_equal(r->amount_fen, next % 7 == 0 ? 90000 + next : 100000 + next);
            assert_int_equal(r->flags, next % 7 == 0 ? ASSIST_PACKED_PREVIOUS : 0);
            assert_int_equal(r->payee_person_id, 2 * next);
            assert_int_equal(r->household_id, 90000 + next);
            assert_int_equal(r->persons, 2);
            assert_string_equal(r->account, card);
            assert_string_equal(r->name, name);
            assert_string_equal(r->division, next % 3 == 0 ? "120101002003" : "120101001001");
            next++;
        }
        seen += (int64_t)p->n;
    }
    assert_int_equal(rc, MZ_DONE);
    assert_int_equal(seen, want_paid);
    assist_packs_end(c);
    /* The city's run (read in table order) also pays the other district's
     * cases; its packs hold the same households plus those, in case order. */
    struct assist_snapshot city;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_snapshot_packs(f->db, 43, "dibao", "2025-10", "120000000000",
                                           "130000000000", NULL, &city),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    int64_t other = 0, other_fen = 0;
    for (int i = 50; i <= SNAP_CASES; i += 50) {
        if (snap_kind(i) == 11) {
            other++;
            other_fen += i % 7 == 0 ? 90000 + i : 100000 + i;
        }
    }
    assert_true(other > 0);
    assert_int_equal(city.households, want_paid + other);
    assert_int_equal(city.amount_fen, want_amount + other_fen);
    assert_int_equal(city.nskipped, want_skipped);
    assert_int_equal(city.ncommunities, 3);
    assert_string_equal(city.communities[2].division, "120102003001");
    assert_int_equal(city.communities[2].households, other);
    int64_t prev = 0;
    seen = 0;
    assert_int_equal(assist_packs_begin(f->db, 43, &c), MZ_OK);
    while ((rc = assist_packs_next(c, p)) == MZ_ROW) {
        for (size_t k = 0; k < p->n; k++, seen++) {
            assert_true(p->rows[k].case_id > prev);
            prev = p->rows[k].case_id;
        }
    }
    assert_int_equal(rc, MZ_DONE);
    assert_int_equal(seen, want_paid + other);
    assist_packs_end(c);
    assist_snapshot_free(&city);
    assist_pack_free(p);
    assist_snapshot_free(&s);
}

/* A case whose account does not open fails the whole snapshot: no pack. */
static void test_snapshot_bad_account(void **state)
{
    struct fixture *f = *state;
    snap_cases(f);
    assert_int_equal(assist_packs_schema(f->db), MZ_OK);
    assert_int_equal(mz_db_exec(f->db, "UPDATE assistance_cases SET bank_account = 'v1.AAAA'"
                                       " WHERE id = 4999"),
                     MZ_OK);
    struct assist_snapshot s;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_snapshot_packs(f->db, 42, "dibao", "2025-10", "120000000000",
                                           "130000000000", NULL, &s),
                     MZ_ERR_INVALID);
    assert_int_equal(mz_db_rollback(f->db), MZ_OK);
    assert_int_equal(s.households, 0);
    assert_null(s.skipped);
    int64_t packs = -1;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payment_packs",
                                     &packs, 0, NULL), MZ_OK);
    assert_int_equal(packs, 0);
}

/* A packed run's bank file: the packed households first (payment ids from
 * the run's block, positions in case order, the accounts from the packs),
 * then its paid rows (a reissue), seq 1..n, the trailer's count and sum
 * those of the lines; payment ids are reserved in consecutive blocks. */
static void test_bank_file_packed(void **state)
{
    struct fixture *f = *state;
    snap_cases(f);
    int64_t first = 0;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payment_ids_reserve(f->db, 5000, &first), MZ_OK);
    assert_int_equal(first, 1);
    assert_int_equal(assist_payment_ids_reserve(f->db, 7, &first), MZ_OK);
    assert_int_equal(first, 5001);
    assert_int_equal(mz_db_run(f->db,
                               "INSERT INTO assistance_payroll_runs (id, version, created_at,"
                               " updated_at, state, program, month, division, households, persons,"
                               " amount_fen, skipped, first_payment_id, payment_ids, packed)"
                               " VALUES (41, 1, 'x', 'x', 'approved', 'dibao', '2025-10',"
                               " '120101000000', 0, 0, 0, 0, 5001, 5000, 1)",
                               ""),
                     MZ_OK);
    struct assist_snapshot s;
    assert_int_equal(assist_snapshot_packs(f->db, 41, "dibao", "2025-10", "120101000000",
                                           "120102000000", NULL, &s),
                     MZ_OK);
    struct mz_arena *a = mz_arena_new();
    int64_t reissue_id = 5001 + s.households + (int64_t)s.nskipped;
    assert_int_equal(
        mz_db_run(f->db,
                  "INSERT INTO assistance_payments (id, version, created_at, updated_at, run_id,"
                  " case_id, program, month, payee_person_id, division, persons, amount_fen,"
                  " status, reissue_of, account_sealed) VALUES (?, 1, 'x', 'x', 41, 77, 'dibao',"
                  " '2025-08', 154, '120101001001', 2, 123456, 'paid', 3, ?)",
                  "is", reissue_id,
                  mz_crypto_seal(a, assist_account_context(0), "6228489999000077", 16)),
        MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    FILE *out = tmpfile();
    int64_t count = 0, sum = 0;
    assert_int_equal(assist_bank_file_write(f->db, 41, out, &count, &sum), MZ_OK);
    assert_int_equal(count, s.households + 1);
    assert_int_equal(sum, s.amount_fen + 123456);
    rewind(out);
    char line[512];
    assert_non_null(fgets(line, sizeof(line), out)); /* header */
    int64_t seq = 0, prev_case = 0, lines_sum = 0;
    while (fgets(line, sizeof(line), out)) {
        if (strncmp(line, "TOTAL,", 6) == 0) {
            char want[64], money[32];
            mz_money_format(sum, money, sizeof(money));
            snprintf(want, sizeof(want), "TOTAL,%lld,,,,%s\r\n", (long long)count, money);
            assert_string_equal(line, want);
            break;
        }
        long long q, pid, ref;
        char name[64], account[32], yuan[32];
        assert_int_equal(sscanf(line, "%lld,%lld,%lld,%63[^,],%31[^,],%31[^\r]", &q, &pid, &ref,
                                name, account, yuan),
                         6);
        assert_int_equal(q, ++seq);
        int64_t fen = 0;
        const char *why;
        assert_int_equal(mz_money_parse(yuan, &fen, &why), MZ_OK);
        lines_sum += fen;
        if (seq <= s.households) {
            char card[32];
            assert_int_equal(pid, 5000 + seq);
            assert_true(ref > prev_case);
            prev_case = ref;
            snprintf(card, sizeof(card), "62284811%011lld", ref);
            assert_string_equal(account, card);
            assert_int_equal(fen, ref % 7 == 0 ? 90000 + ref : 100000 + ref);
        } else {
            assert_int_equal(pid, reissue_id);
            assert_int_equal(ref, 77);
            assert_string_equal(account, "6228489999000077");
            assert_int_equal(fen, 123456);
        }
    }
    assert_int_equal(seq, count);
    assert_int_equal(lines_sum, sum);
    fclose(out);
    mz_arena_free(a);
    assist_snapshot_free(&s);
}

/* A packed run of a district for 2025-10: the same summary as the cases
 * say (a returned September payment reissued on top), the run's id block
 * (packed households, then the skipped ones with their reasons, then the
 * reissue), one ledger debit per community, the bank file's control totals
 * those of the run, the same month refused a second time, and a case that
 * moved to another district after a packed or a per-row run of the month
 * not paid again by that district's run. */
static void test_payroll_packed(void **state)
{
    struct fixture *f = *state;
    snap_cases(f);
    struct mz_arena *a = mz_arena_new();
    assert_int_equal(
        mz_db_run(f->db,
                  "INSERT INTO assistance_payments (id, version, created_at, updated_at, run_id,"
                  " case_id, program, month, payee_person_id, division, persons, amount_fen,"
                  " status, account_sealed) VALUES (999999, 1, 'x', 'x', 900, 3, 'dibao', '2025-09',"
                  " 6, '120101002003', 2, 77777, 'failed', 'x')",
                  ""),
        MZ_OK);
    struct snap_want w = snap_expect();
    int64_t want_paid = w.paid, want_persons = w.persons, want_amount = w.amount;
    int64_t *want_div = w.div, want_skipped = w.skipped;
    struct assist_run_summary r;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-10", "120101000000",
                                               &r),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(r.households, want_paid + 1);
    assert_int_equal(r.persons, want_persons + 2);
    assert_int_equal(r.amount_fen, want_amount + 77777);
    assert_int_equal(r.skipped, want_skipped);
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)r.run_id);
    const char *id[] = {idtext};
    int64_t v = 0, first = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT packed FROM assistance_payroll_runs"
                                            " WHERE id = CAST(? AS BIGINT)", &v, 1, id), MZ_OK);
    assert_int_equal(v, 1);
    assert_int_equal(mz_db_query_int(f->db, "SELECT first_payment_id FROM assistance_payroll_runs"
                                            " WHERE id = CAST(? AS BIGINT)", &first, 1, id), MZ_OK);
    assert_int_equal(mz_db_query_int(f->db, "SELECT payment_ids FROM assistance_payroll_runs"
                                            " WHERE id = CAST(? AS BIGINT)", &v, 1, id), MZ_OK);
    assert_int_equal(v, want_paid + want_skipped + 1);
    assert_int_equal(mz_db_query_int(f->db, "SELECT reissued FROM assistance_payroll_runs"
                                            " WHERE id = CAST(? AS BIGINT)", &v, 1, id), MZ_OK);
    assert_int_equal(v, 1);
    /* The rows: the skipped households in case order after the packed ids,
     * then the reissue. */
    struct mz_stmt *st;
    assert_int_equal(mz_db_prepare(f->db,
                                   "SELECT id, case_id, status, amount_fen, note,"
                                   " coalesce(reissue_of, 0) FROM assistance_payments"
                                   " WHERE run_id = ? ORDER BY id",
                                   &st),
                     MZ_OK);
    mz_db_bind_int(st, 1, r.run_id);
    int64_t k = 0, prev_case = 0;
    while (mz_db_step(st) == MZ_ROW) {
        int64_t pid = mz_db_col_int(st, 0), case_id = mz_db_col_int(st, 1);
        const char *status = mz_db_col_text(st, 2), *note = mz_db_col_text(st, 4);
        assert_int_equal(pid, first + want_paid + k);
        if (k < want_skipped) {
            int kind = snap_kind((int)case_id);
            assert_true(case_id > prev_case);
            prev_case = case_id;
            assert_string_equal(status, "skipped");
            assert_int_equal(mz_db_col_int(st, 3), 0);
            assert_string_equal(note, kind == 1   ? "收款人已于 2025-09-20 死亡，自次月起停发"
                                      : kind == 2 ? "家庭成员已于 2025-09-20 死亡，须重新核定救助金额后恢复发放"
                                                  : "未登记银行账号，本月未发放");
        } else {
            assert_int_equal(case_id, 3);
            assert_string_equal(status, "paid");
            assert_int_equal(mz_db_col_int(st, 3), 77777);
            assert_int_equal(mz_db_col_int(st, 5), 999999);
            assert_string_equal(note, "补发 2025-09 月（原明细 999999 被银行退回）");
        }
        k++;
    }
    mz_db_done(st);
    assert_int_equal(k, want_skipped + 1);
    /* The ledger: one debit per community, the packed sums. */
    assert_int_equal(mz_db_prepare(f->db,
                                   "SELECT division, amount_fen, entry, coalesce(case_id, 0)"
                                   " FROM assistance_ledger WHERE run_id = ? ORDER BY division",
                                   &st),
                     MZ_OK);
    mz_db_bind_int(st, 1, r.run_id);
    k = 0;
    while (mz_db_step(st) == MZ_ROW) {
        assert_string_equal(mz_db_col_text(st, 0), k ? "120101002003" : "120101001001");
        assert_int_equal(mz_db_col_int(st, 1), want_div[k]);
        assert_string_equal(mz_db_col_text(st, 2), "debit");
        assert_int_equal(mz_db_col_int(st, 3), 0);
        k++;
    }
    mz_db_done(st);
    assert_int_equal(k, 2);
    /* The bank file: every paid household and the reissue. The reissue's
     * account is the case's current one. */
    FILE *out = tmpfile();
    int64_t count = 0, sum = 0;
    assert_int_equal(assist_bank_file_write(f->db, r.run_id, out, &count, &sum), MZ_OK);
    assert_int_equal(count, r.households);
    assert_int_equal(sum, r.amount_fen);
    fclose(out);
    /* The same month again: refused, nothing written. */
    struct assist_run_summary again;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-10", "120101001001",
                                               &again),
                     MZ_ERR_CONFLICT);
    assert_int_equal(again.run_id, r.run_id);
    assert_int_equal(mz_db_rollback(f->db), MZ_OK);

    /* Case 2, paid from a pack above, moves to district 120102: that
     * district's run of the month pays its own cases, not case 2 again. */
    int64_t own = 0, own_fen = 0;
    for (int i = 50; i <= SNAP_CASES; i += 50) {
        if (snap_kind(i) == 11) {
            own++;
            own_fen += i % 7 == 0 ? 90000 + i : 100000 + i;
        }
    }
    assert_int_equal(mz_db_exec(f->db, "UPDATE assistance_cases SET division = '120102003001'"
                                       " WHERE id = 2"),
                     MZ_OK);
    struct assist_run_summary moved;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-10", "120102000000",
                                               &moved),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(moved.households, own);
    assert_int_equal(moved.amount_fen, own_fen);
    struct assist_pack *p = assist_pack_new();
    size_t at;
    assert_int_equal(assist_pack_load_case(f->db, moved.run_id, 2, p, &at), MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_case(f->db, moved.run_id, 50, p, &at), MZ_OK);
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payments"
                                            " WHERE case_id = 2", &v, 0, NULL), MZ_OK);
    assert_int_equal(v, 0);

    /* The same after a run written per row before the switch to packs (a
     * database's earlier month, packed = 0): November of district 120102
     * with case 50's payment as a row, then case 50 moves to 120101, whose
     * November run leaves it out. */
    struct assist_run_summary packed_run;
    assert_int_equal(
        mz_db_run(f->db,
                  "INSERT INTO assistance_payroll_runs (id, version, created_at, updated_at,"
                  " state, program, month, division, households, persons, amount_fen, skipped,"
                  " packed) VALUES (901, 1, 'x', 'x', 'draft', 'dibao', '2025-11',"
                  " '120102000000', 1, 2, 100050, 0, 0)",
                  ""),
        MZ_OK);
    assert_int_equal(
        mz_db_run(f->db,
                  "INSERT INTO assistance_payments (id, version, created_at, updated_at, run_id,"
                  " case_id, program, month, payee_person_id, division, persons, amount_fen,"
                  " status, account_sealed) VALUES (999998, 1, 'x', 'x', 901, 50, 'dibao',"
                  " '2025-11', 100, '120102003001', 2, 100050, 'paid', 'x')",
                  ""),
        MZ_OK);
    assert_int_equal(mz_db_exec(f->db, "UPDATE assistance_cases SET division = '120101001001'"
                                       " WHERE id = 50"),
                     MZ_OK);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-11", "120101000000",
                                               &packed_run),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(assist_pack_load_case(f->db, packed_run.run_id, 50, p, &at),
                     MZ_ERR_NOTFOUND);
    assert_int_equal(assist_pack_load_case(f->db, packed_run.run_id, 1, p, &at), MZ_OK);
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payments"
                                            " WHERE case_id = 50 AND month = '2025-11'",
                                     &v, 0, NULL),
                     MZ_OK);
    assert_int_equal(v, 1);
    assist_pack_free(p);
    mz_arena_free(a);
}

/* The trace copies of packed runs (assistance_payment_traces): a case's
 * sealed trace is copied when it differs from its latest copy, so each
 * packed household names the trace it was paid with; a case whose trace
 * changed gets a new copy the next month while the earlier run still shows
 * the earlier trace, an unchanged case keeps its copy, a case without a
 * trace names none (0); rekey seals every copy again, contents unchanged. */
#define TRACE_CTX "assistance_cases.benefit_trace"
static const char *snap_trace_text(struct mz_arena *a, int i, int version)
{
    return mz_arena_printf(a, "[{\"step\":\"result\",\"text\":\"第 %d 户，第 %d 次核定\"}]", i,
                           version);
}

/* The plaintext of the trace copy a packed household names ("" for none). */
static const char *copy_text(struct fixture *f, struct mz_arena *a, int64_t trace_id)
{
    if (trace_id == 0)
        return "";
    const char *sealed = NULL;
    char *plain = NULL;
    size_t len = 0;
    assert_int_equal(assist_trace_copy_load(f->db, a, trace_id, &sealed), MZ_OK);
    assert_int_equal(mz_crypto_open(a, TRACE_CTX, sealed, &plain, &len), MZ_OK);
    return mz_arena_printf(a, "%.*s", (int)len, plain);
}

/* Every packed household of a run against the trace text its case had
 * (version 1, or 2 for case 1 when changed; none for every 4th case); the
 * trace ids by case into ids (indexed by case id). */
static int64_t check_run_traces(struct fixture *f, int64_t run_id, int case1_version,
                                int64_t *ids)
{
    struct mz_arena *a = mz_arena_new();
    struct assist_pack_cursor *c;
    struct assist_pack *p = assist_pack_new();
    int64_t n = 0;
    assert_int_equal(assist_packs_begin(f->db, run_id, &c), MZ_OK);
    while (assist_packs_next(c, p) == MZ_ROW) {
        for (size_t k = 0; k < p->n; k++) {
            int i = (int)p->rows[k].case_id;
            const char *want = i % 4 == 0 ? "" : snap_trace_text(a, i, i == 1 ? case1_version : 1);
            assert_string_equal(copy_text(f, a, p->rows[k].trace_id), want);
            ids[i] = p->rows[k].trace_id;
            n++;
        }
    }
    assist_packs_end(c);
    assist_pack_free(p);
    mz_arena_free(a);
    return n;
}

static void test_payroll_packed_traces(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/mz-trace-copies-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/key", dir);
    assert_int_equal(mz_crypto_load(path, true), MZ_OK);
    snap_cases(f);
    struct mz_arena *a = mz_arena_new();
    int64_t in_range = 0, from_nov = 0;
    for (int i = 1; i <= SNAP_CASES; i++) {
        if (i % 4 == 0)
            continue;
        const char *t = snap_trace_text(a, i, 1);
        assert_int_equal(mz_db_run(f->db, "UPDATE assistance_cases SET benefit_trace = ?"
                                          " WHERE id = ?",
                                   "si", mz_crypto_seal(a, TRACE_CTX, t, strlen(t)), (int64_t)i),
                         MZ_OK);
        if (snap_kind(i) < 10)
            in_range++; /* paid or skipped by the district's run: copied */
        else if (snap_kind(i) == 13)
            from_nov++; /* paid from November: copied then */
    }
    struct assist_run_summary oct, nov;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-10", "120101000000",
                                               &oct),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    int64_t v = 0;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payment_traces",
                                     &v, 0, NULL),
                     MZ_OK);
    assert_int_equal(v, in_range);
    int64_t *oct_ids = calloc(SNAP_CASES + 1, sizeof(*oct_ids));
    int64_t *nov_ids = calloc(SNAP_CASES + 1, sizeof(*nov_ids));
    assert_int_equal(check_run_traces(f, oct.run_id, 1, oct_ids), oct.households);
    assert_true(oct_ids[1] > 0);
    assert_int_equal(oct_ids[4], 0);

    /* Case 1's benefit is decided again: November copies its new trace
     * only; October still shows what it paid with. */
    const char *t2 = snap_trace_text(a, 1, 2);
    assert_int_equal(mz_db_run(f->db, "UPDATE assistance_cases SET benefit_trace = ? WHERE id = 1",
                               "s", mz_crypto_seal(a, TRACE_CTX, t2, strlen(t2))),
                     MZ_OK);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_payroll_run(f->db, "test", "dibao", "2025-11", "120101000000",
                                               &nov),
                     MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM assistance_payment_traces",
                                     &v, 0, NULL),
                     MZ_OK);
    assert_int_equal(v, in_range + from_nov + 1);
    assert_int_equal(check_run_traces(f, nov.run_id, 2, nov_ids), nov.households);
    assert_int_equal(check_run_traces(f, oct.run_id, 1, oct_ids), oct.households);
    assert_true(nov_ids[1] > oct_ids[1]);
    assert_int_equal(nov_ids[2], oct_ids[2]);
    assert_int_equal(nov_ids[4], 0);

    /* Rekey: every copy sealed again (new text), the same trace inside. */
    const char *before = NULL;
    assert_int_equal(assist_trace_copy_load(f->db, a, oct_ids[2], &before), MZ_OK);
    assert_int_equal(mz_crypto_add_version(path), MZ_OK);
    assert_int_equal(mz_crypto_load(path, false), MZ_OK);
    long values = 0;
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(assist_rekey(NULL, f->db, &values), MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    const char *after = NULL;
    assert_int_equal(assist_trace_copy_load(f->db, a, oct_ids[2], &after), MZ_OK);
    assert_string_not_equal(before, after);
    assert_true(values >= in_range + from_nov + 1);
    assert_int_equal(check_run_traces(f, oct.run_id, 1, oct_ids), oct.households);
    assert_int_equal(check_run_traces(f, nov.run_id, 2, nov_ids), nov.households);
    free(oct_ids);
    free(nov_ids);
    mz_arena_free(a);
    unlink(path);
    rmdir(dir);
    mz_crypto_init_ephemeral();
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
        cmocka_unit_test_setup_teardown(test_packs_round_trip, setup_packs, teardown_packs),
        cmocka_unit_test_setup_teardown(test_packs_lookup, setup_packs, teardown_packs),
        cmocka_unit_test_setup_teardown(test_packs_rekey, setup_packs, teardown_packs),
        cmocka_unit_test(test_packs_forged),
        cmocka_unit_test(test_packs_refused),
        cmocka_unit_test_setup_teardown(test_snapshot_packs, setup_snapshot, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_bad_account, setup_snapshot, teardown),
        cmocka_unit_test_setup_teardown(test_bank_file_packed, setup_snapshot, teardown),
        cmocka_unit_test_setup_teardown(test_payroll_packed, setup_snapshot, teardown),
        cmocka_unit_test_setup_teardown(test_payroll_packed_traces, setup_snapshot, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
