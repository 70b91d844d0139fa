/* reviews.c - periodic reviews of cases being paid (动态管理, 定期复核).
 *
 * Every case carries a review category (fixed: 收入基本无变化的"三无"、重病、
 * 重残家庭; stable: 短期内收入变化不大; variable: 收入来源不固定、有劳动能力)
 * and the date of its next review. How often each category is reviewed is
 * data (assistance_review_rules: program, category, division, zone, months,
 * valid_from; city level maintains it; the most specific division, then the
 * latest valid_from, then the exact zone over "all" wins). The seed follows
 * 国发〔2012〕45号 for variable incomes (monthly in cities, quarterly in
 * villages) and gives examples for the others (half-yearly, yearly).
 *
 * The next review is set when payment starts (the pay action) and when a
 * review is recorded (the recheck action: a comment with the result, from
 * paying or suspended, the state unchanged), and recomputed when the category
 * changes. GET /api/v1/assistance/reviews/due?within=DAYS lists the caller's
 * cases due within DAYS (default 30), overdue first; the cross-checks raise a
 * 复核到期 warning for each case due within 15 days (docs/verify.md).
 *
 * Tested by tests/api/reviews.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

const struct mz_dict_item assist_review_category_items[3] = {
    {"fixed", "收入基本无变化（三无、重病、重残）", "Income fixed"},
    {"stable", "短期内收入变化不大", "Income stable"},
    {"variable", "收入来源不固定、有劳动能力", "Income variable"},
};

static const struct mz_field rule_fields[] = {
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "category", .type = MZ_T_DICT, .zh = "复核类别", .en = "Category",
     .dict = "assistance_review_category", .flags = MZ_F_REQUIRED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED, .def = "\"120000\""},
    {.name = "zone", .type = MZ_T_DICT, .zh = "城乡类别", .en = "Urban or rural",
     .dict = "assistance_zone", .def = "\"all\""},
    {.name = "months", .type = MZ_T_INT, .zh = "复核周期（月）", .en = "Every (months)",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 36},
    {.name = "valid_from", .type = MZ_T_DATE, .zh = "执行日期", .en = "Valid from",
     .flags = MZ_F_REQUIRED},
    {.name = "source", .type = MZ_T_TEXT, .zh = "依据", .en = "Source", .flags = MZ_F_HAS_MAX,
     .max = 200},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 500},
};

const struct mz_entity assist_review_rules = {
    .name = "assistance_review_rules",
    .zh = "复核周期",
    .en = "Review schedules",
    .fields = rule_fields,
    .nfields = MZ_ARRAY_LEN(rule_fields),
    .write_permission = "assistance_standards.configure",
    .default_sort = "program,category,-valid_from",
};

int assist_review_months(struct mz_db *db, const char *program, const char *category,
                         const char *division12, const char *zone, const char *date, int *months)
{
    struct mz_stmt *st;
    *months = 12; /* no rule: yearly */
    /* a rule of the household's zone, or of both ("all" or none); the exact zone wins a tie */
    const char *params[] = {program, category && *category ? category : "stable", zone};
    int rc = assist_effective_row(db, "months", "assistance_review_rules",
                                  "program = ? AND category = ?"
                                  " AND (zone IS NULL OR zone = 'all' OR zone = ?)",
                                  params, 3, division12, date,
                                  "CASE WHEN zone IS NULL OR zone = 'all' THEN 1 ELSE 0 END", &st);
    if (rc == MZ_OK) {
        *months = (int)mz_db_col_int(st, 0);
        mz_db_done(st);
    }
    return rc == MZ_ERR_NOTFOUND ? MZ_OK : rc;
}

/* date + months, the day clamped to the month's end, into out[11]. */
static void add_months(const char *date, int months, char out[11])
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = atoi(date), m = atoi(date + 5) - 1 + months, d = atoi(date + 8);
    y += m / 12;
    m %= 12;
    int last = mdays[m] + (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    char buf[32];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y % 10000, m + 1, d > last ? last : d);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int assist_set_next_review(struct mz_write *w, const char *from)
{
    int months = 12;
    const char *zone = json_string_value(json_object_get(w->row, "zone"));
    int rc = assist_review_months(w->req->db, json_string_value(json_object_get(w->row, "program")),
                                  json_string_value(json_object_get(w->row, "review_category")),
                                  json_string_value(json_object_get(w->row, "division")),
                                  zone, from, &months);
    if (rc != MZ_OK)
        return mz_fail_err(w->req, rc);
    char next[11];
    add_months(from, months, next);
    json_object_set_new(w->row, "next_review_on", json_string(next));
    return 0;
}

/* pay: the first review is due one period after payment starts. */
int assist_pay_effect(struct mz_write *w)
{
    char today[11];
    assist_today(today);
    return assist_set_next_review(w, today);
}

/* recheck: the review is recorded (the comment is the result) and the next
 * one scheduled. */
int assist_recheck_effect(struct mz_write *w)
{
    char today[11];
    assist_today(today);
    json_object_set_new(w->row, "last_review_on", json_string(today));
    return assist_set_next_review(w, today);
}

/* GET /api/v1/assistance/reviews/due?within=DAYS&program=P */
int assist_h_reviews_due(struct mz_req *req)
{
    const char *w = mz_req_query(req, "within"), *program = mz_req_query(req, "program");
    char *end = NULL;
    long within = w ? strtol(w, &end, 10) : 30;
    if (w && (*end != '\0' || within < 0 || within > 366))
        return mz_fail_field(req, 400, "bad_request", "within 应为 0 至 366 的天数", "within");
    if (program && !assist_program_ok(program))
        return mz_fail_field(req, 400, "bad_request", "救助项目代码无效", "program");
    char today[11], until[11], lo[13] = "000000000000", hi[13] = "999999999999";
    assist_today(today);
    mz_days_to_date(mz_date_to_days(today) + within, until);
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    if (scope && mz_division_range(scope, lo, hi) != MZ_OK)
        strcpy(lo, hi);
    struct mz_stmt *st;
#define DUE_SQL(extra)                                                                         \
    "SELECT c.id, c.program, c.division, c.review_category, c.next_review_on,"                \
    " c.last_review_on, c.state, p.name FROM assistance_cases c"                               \
    " LEFT JOIN persons p ON p.id = c.applicant_person_id"                                     \
    " WHERE c.deleted_at IS NULL AND c.state IN ('paying', 'suspended')"                       \
    " AND c.next_review_on IS NOT NULL AND c.next_review_on <= ?"                              \
    " AND c.division >= ? AND c.division < ?" extra                                            \
    " ORDER BY c.next_review_on, c.id LIMIT 1000"
    int rc = mz_db_prepare(req->db, program ? DUE_SQL(" AND c.program = ?") : DUE_SQL(""), &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, until);
    mz_db_bind_text(st, 2, lo);
    mz_db_bind_text(st, 3, hi);
    if (program)
        mz_db_bind_text(st, 4, program);
    json_t *items = json_array();
    int64_t overdue = 0, t = mz_date_to_days(today);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *next = mz_db_col_text(st, 4);
        int64_t days = mz_date_to_days(next) - t;
        overdue += days < 0;
        json_array_append_new(
            items, json_pack("{s:I, s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:I}", "case_id",
                             (json_int_t)mz_db_col_int(st, 0), "program", mz_db_col_text(st, 1),
                             "division", mz_db_col_text(st, 2), "review_category",
                             mz_db_col_text(st, 3), "next_review_on", next, "last_review_on",
                             mz_db_col_text(st, 5), "state", mz_db_col_text(st, 6),
                             "applicant_name", mz_db_col_text(st, 7), "days_left",
                             (json_int_t)days));
    }
    mz_db_done(st);
    if (rc != MZ_DONE) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 200,
                         json_pack("{s:s, s:s, s:I, s:I, s:o}", "today", today, "until", until,
                                   "total", (json_int_t)json_array_size(items), "overdue",
                                   (json_int_t)overdue, "items", items));
}

/* --- case members as rows ----------------------------------------------------------- */

int assist_case_members_insert(struct mz_db *db, int64_t case_id, json_t *members)
{
    size_t i;
    json_t *m;
    int rc = MZ_OK;
    json_array_foreach(members, i, m) {
        json_int_t pid = json_integer_value(json_object_get(m, "person_id"));
        if (pid <= 0)
            continue;
        int64_t n = 0;
        char a[24], b[24];
        snprintf(a, sizeof(a), "%lld", (long long)case_id);
        snprintf(b, sizeof(b), "%lld", (long long)pid);
        const char *params[] = {a, b};
        rc = mz_db_query_int(db,
                             "SELECT count(*) FROM assistance_case_members WHERE case_id = ?"
                             " AND person_id = ?",
                             &n, 2, params);
        if (rc == MZ_OK && n == 0)
            rc = mz_db_run(db,
                           "INSERT INTO assistance_case_members (case_id, person_id) VALUES (?, ?)",
                           "ii", case_id, (int64_t)pid);
        if (rc != MZ_OK)
            break;
    }
    return rc;
}

int assist_case_members_migrate(struct mz_db *db)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS assistance_case_members (case_id %s NOT NULL,"
             " person_id %s NOT NULL, PRIMARY KEY (case_id, person_id));"
             "CREATE INDEX IF NOT EXISTS ix_assistance_case_members_person ON"
             " assistance_case_members (person_id);",
             mz_db_dialect(db, MZ_SQL_INT64), mz_db_dialect(db, MZ_SQL_INT64));
    int rc = mz_db_exec(db, sql);
    if (rc != MZ_OK)
        return rc;
    struct mz_stmt *st;
    rc = mz_db_prepare_uncached(db,
                                "SELECT id, members FROM assistance_cases WHERE deleted_at IS NULL",
                                &st);
    if (rc != MZ_OK)
        return rc;
    struct pair {
        int64_t id;
        json_t *members;
    } *list = NULL;
    size_t n = 0, cap = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct pair *p = realloc(list, cap * sizeof(*p));
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            list = p;
        }
        json_error_t err;
        const char *text = mz_db_col_text(st, 1);
        list[n].id = mz_db_col_int(st, 0);
        list[n].members = json_loads(text ? text : "[]", 0, &err);
        n++;
    }
    mz_db_finalize(st);
    rc = rc < 0 ? rc : MZ_OK;
    for (size_t i = 0; i < n; i++) {
        if (rc == MZ_OK)
            rc = assist_case_members_insert(db, list[i].id, list[i].members);
        json_decref(list[i].members);
    }
    free(list);
    return rc;
}
