/* benefit.c - the benefit computation of social assistance, explainable.
 *
 * Every number comes from effective-dated tables staff maintain
 * (assistance_standards, assistance_increments); nothing here is a rate.
 *
 * The standard for (program, division, zone, month): among rows whose
 * division is the case's division or one of its ancestors, whose zone is the
 * case's or "all", and whose valid_from is on or before the month's first
 * day, the most specific division wins, then the latest valid_from, then the
 * exact zone over "all". Ancestors of a 12-digit code are the code with its
 * trailing levels zeroed, so "more specific" is simply "numerically larger".
 *
 * The formula, integer fen throughout (docs/assistance.md has a worked example):
 *   household income   = sum of the members' monthly incomes
 *   per-capita income  = household income / members, rounded DOWN to the fen
 *                        (shown; the payment uses the exact household figure)
 *   gap                = standard x members - household income
 *   gap <= 0           -> not eligible, benefit 0 (no increments, no minimum)
 *   increments         = for every member and each of its categories, the
 *                        configured percent of the standard, rounded DOWN
 *   benefit            = gap + increments, raised to the configured minimum
 * For a per_household standard (低收入 band aid) the benefit is the flat
 * amount when the household's income lies in the band the standard row
 * names: above band_program's standard x members, at most band_percent of
 * it (低收入: above 低保, at most 150%); outside the band the benefit is 0.
 * The trace lists each step with the row it came from.
 *
 * Tested by tests/unit/test_assistance.c and tests/api/assistance.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

static const char *const programs[] = {"dibao", "low_income", "tekun", "temporary", "medical"};
static const char *const categories[] = {"elderly", "severe_disability", "minor",
                                         "serious_illness"};

/* Is code one of the contract's program codes? */
bool assist_program_ok(const char *code)
{
    for (size_t i = 0; code && i < MZ_ARRAY_LEN(programs); i++) {
        if (strcmp(code, programs[i]) == 0)
            return true;
    }
    return false;
}

/* Is code one of the 分类施保 categories? */
bool assist_category_ok(const char *code)
{
    for (size_t i = 0; code && i < MZ_ARRAY_LEN(categories); i++) {
        if (strcmp(code, categories[i]) == 0)
            return true;
    }
    return false;
}

/* "YYYY-MM" with a month 01..12 and a plausible year. */
bool assist_month_ok(const char *text)
{
    if (text == NULL || strlen(text) != 7 || text[4] != '-')
        return false;
    for (int i = 0; i < 7; i++) {
        if (i != 4 && (text[i] < '0' || text[i] > '9'))
            return false;
    }
    int month = (text[5] - '0') * 10 + (text[6] - '0');
    return month >= 1 && month <= 12 && text[0] >= '1';
}

/* Today, or the test date from MZ_TEST_TODAY (the only place it is read). */
void assist_today(char out[11])
{
    const char *fake = getenv("MZ_TEST_TODAY");
    const char *reason;
    if (fake && mz_date_check(fake, &reason) == MZ_OK) {
        memcpy(out, fake, 10);
        out[10] = '\0';
        return;
    }
    mz_today(out);
}

/* The code with everything after the first keep digits zeroed. */
static void zero_after(const char *code12, size_t keep, char out[13])
{
    memcpy(out, code12, keep);
    memset(out + keep, '0', 12 - keep);
    out[12] = '\0';
}

void assist_ancestors(const char *division12, char out[5][13])
{
    zero_after(division12, 12, out[0]);
    zero_after(division12, 9, out[1]);
    zero_after(division12, 6, out[2]);
    zero_after(division12, 4, out[3]);
    zero_after(division12, 2, out[4]);
}

/* Copy a column's text into a fixed buffer (empty when NULL). */
static void col_copy(struct mz_stmt *st, int col, char *out, size_t size)
{
    const char *s = mz_db_col_text(st, col);
    snprintf(out, size, "%s", s ? s : "");
}

int assist_effective_row(struct mz_db *db, const char *cols, const char *table,
                         const char *where, const char *const *params, int nparams,
                         const char *division12, const char *date, const char *tiebreak,
                         struct mz_stmt **st)
{
    char anc[5][13];
    assist_ancestors(division12, anc);
    char sql[1024];
    int n = snprintf(sql, sizeof(sql),
                     "SELECT %s FROM %s WHERE deleted_at IS NULL AND %s"
                     " AND division IN (?, ?, ?, ?, ?) AND valid_from <= ?"
                     " ORDER BY division DESC, valid_from DESC%s%s, id DESC LIMIT 1",
                     cols, table, where, tiebreak ? ", " : "", tiebreak ? tiebreak : "");
    if (n < 0 || (size_t)n >= sizeof(sql))
        return MZ_ERR_INVALID;
    int rc = mz_db_prepare(db, sql, st);
    if (rc != MZ_OK)
        return rc;
    for (int i = 0; i < nparams; i++)
        mz_db_bind_text(*st, 1 + i, params[i]);
    for (int i = 0; i < 5; i++)
        mz_db_bind_text(*st, 1 + nparams + i, anc[i]);
    mz_db_bind_text(*st, 6 + nparams, date);
    rc = mz_db_step(*st);
    if (rc == MZ_ROW)
        return MZ_OK;
    mz_db_done(*st);
    *st = NULL;
    return rc == MZ_DONE ? MZ_ERR_NOTFOUND : rc;
}

int assist_standard_lookup(struct mz_db *db, const char *program, const char *division12,
                           const char *zone, const char *month, struct assist_standard *out)
{
    return assist_standard_lookup_mode(db, program, division12, zone, NULL, month, out);
}

int assist_standard_lookup_mode(struct mz_db *db, const char *program, const char *division12,
                                const char *zone, const char *mode, const char *month,
                                struct assist_standard *out)
{
    char first[11];
    struct mz_stmt *st;
    snprintf(first, sizeof(first), "%.7s-01", month);
    const char *params[] = {program, zone, zone, mode && *mode ? mode : "all"};
    int rc = assist_effective_row(
        db,
        "id, division, zone, valid_from, amount_fen, coalesce(minimum_fen, 0),"
        " coalesce(basis, 'per_person'), band_program, coalesce(band_percent, 0), support_mode",
        "assistance_standards",
        "program = ? AND (CAST(? AS TEXT) IS NULL OR zone = ? OR zone = 'all')"
        " AND (coalesce(support_mode, 'all') = 'all' OR support_mode = ?)",
        params, 4, division12, first, "zone = 'all', coalesce(support_mode, 'all') = 'all'", &st);
    if (rc == MZ_OK) {
        memset(out, 0, sizeof(*out));
        out->id = mz_db_col_int(st, 0);
        col_copy(st, 1, out->division, sizeof(out->division));
        col_copy(st, 2, out->zone, sizeof(out->zone));
        col_copy(st, 3, out->valid_from, sizeof(out->valid_from));
        out->amount_fen = mz_db_col_int(st, 4);
        out->minimum_fen = mz_db_col_int(st, 5);
        col_copy(st, 6, out->basis, sizeof(out->basis));
        col_copy(st, 7, out->band_program, sizeof(out->band_program));
        out->band_percent = mz_db_col_int(st, 8);
        col_copy(st, 9, out->support_mode, sizeof(out->support_mode));
        if (out->support_mode[0] == '\0')
            snprintf(out->support_mode, sizeof(out->support_mode), "all");
        if (zone == NULL && strcmp(out->zone, "all") != 0)
            rc = MZ_ERR_INVALID;
        mz_db_done(st);
    }
    return rc;
}

/* The increment row for a category: same precedence as the standard.
 * MZ_ERR_NOTFOUND when none is configured. */
static int increment_lookup(struct mz_db *db, const char *program, const char *division12,
                            const char *category, const char *month, int64_t *id,
                            int64_t *percent, char valid_from[11])
{
    char first[11];
    struct mz_stmt *st;
    snprintf(first, sizeof(first), "%.7s-01", month);
    const char *params[] = {program, category};
    int rc = assist_effective_row(db, "id, percent, valid_from", "assistance_increments",
                                  "program = ? AND category = ?", params, 2, division12, first,
                                  NULL, &st);
    if (rc == MZ_OK) {
        *id = mz_db_col_int(st, 0);
        *percent = mz_db_col_int(st, 1);
        col_copy(st, 2, valid_from, 11);
        mz_db_done(st);
    }
    return rc;
}

/* Append one trace step {"step", "zh", ...extra} (extra is stolen). */
static void trace_add(json_t *trace, const char *step, const char *zh, json_t *extra)
{
    json_t *o = json_object();
    json_object_set_new(o, "step", json_string(step));
    json_object_set_new(o, "zh", json_string(zh));
    if (extra)
        json_object_update(o, extra);
    json_decref(extra);
    json_array_append_new(trace, o);
}

/* "1234.56" for a fen amount (labels of the trace). */
static void yuan(int64_t fen, char out[32])
{
    mz_money_format(fen, out, 32);
}

int assist_compute(struct mz_db *db, const char *program, const char *division12,
                   const char *zone, const char *month, const struct assist_member *members,
                   int nmembers, struct assist_quote *out)
{
    return assist_compute_mode(db, program, division12, zone, NULL, month, members, nmembers,
                               out);
}

/* The care row for a grade: most specific division, then latest valid_from.
 * MZ_ERR_NOTFOUND when none is configured. */
static int care_lookup(struct mz_db *db, const char *program, const char *division12,
                       const char *grade, const char *month, int64_t *id, int64_t *amount,
                       char valid_from[11])
{
    char first[11];
    struct mz_stmt *st;
    snprintf(first, sizeof(first), "%.7s-01", month);
    const char *params[] = {program, grade};
    int rc = assist_effective_row(db, "id, amount_fen, valid_from", "assistance_care_standards",
                                  "program = ? AND care_grade = ?", params, 2, division12, first,
                                  NULL, &st);
    if (rc == MZ_OK) {
        *id = mz_db_col_int(st, 0);
        *amount = mz_db_col_int(st, 1);
        col_copy(st, 2, valid_from, 11);
        mz_db_done(st);
    }
    return rc;
}

int assist_compute_mode(struct mz_db *db, const char *program, const char *division12,
                        const char *zone, const char *mode, const char *month,
                        const struct assist_member *members, int nmembers,
                        struct assist_quote *out)
{
    char text[256], a[32], b[32];
    memset(out, 0, sizeof(*out));
    int rc = assist_standard_lookup_mode(db, program, division12, zone, mode, month,
                                         &out->standard);
    if (rc != MZ_OK)
        return rc;
    const struct assist_standard *s = &out->standard;
    json_t *trace = json_array();
    yuan(s->amount_fen, a);
    snprintf(text, sizeof(text), "适用标准 %s 元（%s 起执行，区划 %s，%s%s）", a, s->valid_from,
             s->division, strcmp(s->zone, "urban") == 0   ? "城市"
                          : strcmp(s->zone, "rural") == 0 ? "农村"
                                                          : "城乡统一",
             strcmp(s->support_mode, "institutional") == 0 ? "，集中供养"
             : strcmp(s->support_mode, "home") == 0        ? "，分散供养"
                                                           : "");
    trace_add(trace, "standard", text,
              json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "standard_id", (json_int_t)s->id,
                        "program", program, "division", s->division, "zone", s->zone,
                        "valid_from", s->valid_from, "amount_fen", (json_int_t)s->amount_fen,
                        "basis", s->basis));
    out->members = nmembers;
    for (int i = 0; i < nmembers; i++) {
        out->household_income_fen += members[i].income_fen;
        yuan(members[i].income_fen, a);
        snprintf(text, sizeof(text), "成员%d %s 月收入 %s 元", i + 1,
                 members[i].label ? members[i].label : "", a);
        trace_add(trace, "member_income", text,
                  json_pack("{s:i, s:s?, s:I}", "member", i + 1, "label", members[i].label,
                            "monthly_income_fen", (json_int_t)members[i].income_fen));
    }
    out->per_capita_income_fen = nmembers > 0 ? out->household_income_fen / nmembers : 0;
    yuan(out->household_income_fen, a);
    yuan(out->per_capita_income_fen, b);
    snprintf(text, sizeof(text), "家庭月收入 %s 元，%d 人，人均 %s 元（向下取整到分）", a, nmembers,
             b);
    trace_add(trace, "income", text,
              json_pack("{s:I, s:I}", "household_income_fen",
                        (json_int_t)out->household_income_fen, "per_capita_income_fen",
                        (json_int_t)out->per_capita_income_fen));

    if (strcmp(s->basis, "per_household") == 0) {
        /* The band check (低收入: above the 低保 line, at most band_percent of
         * it): the other program's standard for the same place and month. */
        if (s->band_percent > 0 && s->band_program[0]) {
            struct assist_standard band;
            rc = assist_standard_lookup(db, s->band_program, division12, zone, month, &band);
            if (rc != MZ_OK) {
                json_decref(trace);
                return rc;
            }
            int64_t lower = band.amount_fen * nmembers;
            yuan(band.amount_fen, a);
            snprintf(text, sizeof(text),
                     "收入区间：%s 标准 %s 元（%s 起执行）的 100%%～%lld%%", s->band_program, a,
                     band.valid_from, (long long)s->band_percent);
            trace_add(trace, "band", text,
                      json_pack("{s:s, s:I, s:I, s:I}", "band_program", s->band_program,
                                "band_standard_id", (json_int_t)band.id, "band_standard_fen",
                                (json_int_t)band.amount_fen, "band_percent",
                                (json_int_t)s->band_percent));
            if (out->household_income_fen <= lower) {
                trace_add(trace, "not_eligible", "家庭人均收入不高于低保标准，应申请最低生活保障", NULL);
                goto done;
            }
            if (out->household_income_fen * 100 > lower * s->band_percent) {
                trace_add(trace, "not_eligible", "家庭人均收入超过收入区间上限，不属于低收入家庭", NULL);
                goto done;
            }
        }
        out->monthly_benefit_fen = s->amount_fen;
        yuan(s->amount_fen, a);
        snprintf(text, sizeof(text), "按户定额救助 %s 元", a);
        trace_add(trace, "flat", text,
                  json_pack("{s:I}", "amount_fen", (json_int_t)s->amount_fen));
        goto done;
    }
    int64_t gap = s->amount_fen * nmembers - out->household_income_fen;
    yuan(s->amount_fen * nmembers, a);
    yuan(gap > 0 ? gap : 0, b);
    snprintf(text, sizeof(text), "补差：标准 × %d 人 = %s 元，减去家庭月收入，得 %s 元", nmembers, a,
             b);
    trace_add(trace, "gap", text, json_pack("{s:I}", "gap_fen", (json_int_t)(gap > 0 ? gap : 0)));
    if (gap <= 0) {
        trace_add(trace, "not_eligible", "家庭人均收入不低于标准，不予补差", NULL);
        goto done;
    }
    out->gap_fen = gap;
    for (int i = 0; i < nmembers; i++) {
        for (int k = 0; k < members[i].ncategories; k++) {
            const char *cat = members[i].categories[k];
            int64_t inc_id = 0, percent = 0;
            char from[11];
            rc = increment_lookup(db, program, division12, cat, month, &inc_id, &percent, from);
            if (rc == MZ_ERR_NOTFOUND) {
                snprintf(text, sizeof(text), "成员%d 类别 %s 未配置分类施保比例", i + 1, cat);
                trace_add(trace, "increment", text,
                          json_pack("{s:i, s:s, s:I}", "member", i + 1, "category", cat,
                                    "amount_fen", (json_int_t)0));
                continue;
            }
            if (rc != MZ_OK) {
                json_decref(trace);
                return rc;
            }
            int64_t amount = s->amount_fen * percent / 100;
            out->increments_fen += amount;
            yuan(amount, a);
            snprintf(text, sizeof(text), "成员%d 分类施保（%s）按标准的 %lld%% 增发 %s 元（%s 起）",
                     i + 1, cat, (long long)percent, a, from);
            trace_add(trace, "increment", text,
                      json_pack("{s:i, s:s, s:I, s:I, s:s, s:I}", "member", i + 1, "category",
                                cat, "increment_id", (json_int_t)inc_id, "percent",
                                (json_int_t)percent, "valid_from", from, "amount_fen",
                                (json_int_t)amount));
        }
    }
    /* 护理费 (特困): the care amount of each member's care grade. */
    for (int i = 0; i < nmembers; i++) {
        const char *grade = members[i].care_grade;
        if (grade == NULL || *grade == '\0')
            continue;
        int64_t care_id = 0, amount = 0;
        char from[11];
        rc = care_lookup(db, program, division12, grade, month, &care_id, &amount, from);
        if (rc == MZ_ERR_NOTFOUND) {
            snprintf(text, sizeof(text), "成员%d 护理等级 %s 未配置护理标准", i + 1, grade);
            trace_add(trace, "care", text,
                      json_pack("{s:i, s:s, s:I}", "member", i + 1, "care_grade", grade,
                                "amount_fen", (json_int_t)0));
            continue;
        }
        if (rc != MZ_OK) {
            json_decref(trace);
            return rc;
        }
        out->care_fen += amount;
        yuan(amount, a);
        snprintf(text, sizeof(text), "成员%d 护理费（%s）%s 元（%s 起）", i + 1, grade, a, from);
        trace_add(trace, "care", text,
                  json_pack("{s:i, s:s, s:I, s:s, s:I}", "member", i + 1, "care_grade", grade,
                            "care_standard_id", (json_int_t)care_id, "valid_from", from,
                            "amount_fen", (json_int_t)amount));
    }
    out->monthly_benefit_fen = gap + out->increments_fen + out->care_fen;
    if (s->minimum_fen > 0) {
        bool applied = out->monthly_benefit_fen < s->minimum_fen;
        yuan(s->minimum_fen, a);
        snprintf(text, sizeof(text), applied ? "低于最低救助金额，按 %s 元发放" : "最低救助金额 %s 元（未触发）", a);
        trace_add(trace, "minimum", text,
                  json_pack("{s:I, s:b}", "minimum_fen", (json_int_t)s->minimum_fen, "applied",
                            applied));
        if (applied)
            out->monthly_benefit_fen = s->minimum_fen;
    }
done:
    yuan(out->monthly_benefit_fen, a);
    snprintf(text, sizeof(text), "月救助金额 %s 元", a);
    trace_add(trace, "result", text,
              json_pack("{s:I}", "monthly_benefit_fen", (json_int_t)out->monthly_benefit_fen));
    out->trace = trace;
    return MZ_OK;
}

int assist_fail_lookup(struct mz_req *req, int rc, const char *program)
{
    static const char *const names[][2] = {{"dibao", "低保"},
                                           {"low_income", "低收入家庭救助"},
                                           {"tekun", "特困人员救助供养"},
                                           {"temporary", "临时救助"},
                                           {"medical", "医疗救助"}};
    const char *zh = "救助";
    for (size_t i = 0; i < MZ_ARRAY_LEN(names); i++) {
        if (program && strcmp(program, names[i][0]) == 0)
            zh = names[i][1];
    }
    if (rc == MZ_ERR_NOTFOUND)
        return mz_fail(req, 422, "no_standard",
                       mz_arena_printf(req->arena, "该地区该月份没有%s标准", zh));
    if (rc == MZ_ERR_INVALID)
        return mz_fail_field(req, 422, "zone_required",
                             "该地区该月份城乡标准不同，请指定城乡类别（zone: urban 或 rural）",
                             "zone");
    return mz_fail_err(req, rc);
}
