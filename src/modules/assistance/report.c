/* report.c - the monthly statistics (救助月报) staff report upwards.
 *
 * GET /api/v1/assistance/reports/monthly?month=YYYY-MM[&program=P][&format=xlsx]
 * counts, from the payroll snapshots (assistance_payments: what was due for
 * the month, paid or returned by the bank; reissues of earlier months left
 * out), per division one level below the caller's area (the city sees its
 * districts, a district its streets, a street its communities) and program:
 *   households  cases due for the month        persons  their members
 *   amount_fen  the amount due                 new      due this month, not last month
 *   stopped     due last month, not this month
 * with a total row per program. Because it reads the snapshots, a month's
 * report is the same whenever it is drawn. When a packed run (docs/assistance.md,
 * "Packed payroll snapshot") is of the month or the month before, the
 * payments due in both are read into memory instead - the rows and the
 * packed households without an override row - and counted the same way.
 * JSON by default; format=xlsx gives
 * the sheet in the layout staff send upwards (money in 元 as numbers), and is
 * audited as an export.
 *
 * Tested by tests/api/reconcile.test.mjs and reconcile_packed.test.mjs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mz/cli.h"
#include "mz/table.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

#define DUE " p.reissue_of IS NULL AND p.status IN ('paid', 'failed') AND p.deleted_at IS NULL"

struct line {
    char group[13];
    char program[16];
    int64_t households, persons, amount, added, stopped;
};

struct report {
    struct line *lines;
    size_t n, cap;
};

static struct line *line_of(struct report *r, const char *group, const char *program)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->lines[i].group, group) && !strcmp(r->lines[i].program, program))
            return &r->lines[i];
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct line *p = realloc(r->lines, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        r->lines = p;
        r->cap = cap;
    }
    struct line *l = &r->lines[r->n++];
    memset(l, 0, sizeof(*l));
    snprintf(l->group, sizeof(l->group), "%s", group);
    snprintf(l->program, sizeof(l->program), "%s", program);
    return l;
}

/* The month before "YYYY-MM". */
static void prev_month(const char *month, char out[8])
{
    int y = atoi(month), m = atoi(month + 5) - 1;
    if (m == 0) {
        m = 12;
        y--;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%04d-%02d", y % 10000, m % 100);
    memcpy(out, buf, 7);
    out[7] = '\0';
}

/* Run one grouped count; what: 0 totals, 1 new, 2 stopped. */
static int count(struct mz_db *db, struct report *r, int what, int digits, const char *month,
                 const char *other, const char *lo, const char *hi, const char *program)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT substr(p.division, 1, %d), p.program, count(*), coalesce(sum(p.persons), 0),"
             " coalesce(sum(p.amount_fen), 0) FROM assistance_payments p WHERE p.month = ? AND"
             DUE " AND p.division >= ? AND p.division < ?%s%s GROUP BY substr(p.division, 1, %d),"
             " p.program",
             digits, program ? " AND p.program = ?" : "",
             what ? " AND NOT EXISTS (SELECT 1 FROM assistance_payments q WHERE q.case_id ="
                    " p.case_id AND q.month = ? AND q.reissue_of IS NULL AND q.status IN"
                    " ('paid', 'failed') AND q.deleted_at IS NULL)"
                  : "",
             digits);
    struct mz_stmt *st;
    int rc = mz_db_prepare_uncached(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    int k = 1;
    mz_db_bind_text(st, k++, what == 2 ? other : month);
    mz_db_bind_text(st, k++, lo);
    mz_db_bind_text(st, k++, hi);
    if (program)
        mz_db_bind_text(st, k++, program);
    if (what)
        mz_db_bind_text(st, k++, what == 2 ? month : other);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        struct line *l = line_of(r, mz_db_col_text(st, 0), mz_db_col_text(st, 1));
        if (l == NULL) {
            rc = MZ_ERR_NOMEM;
            break;
        }
        if (what == 0) {
            l->households = mz_db_col_int(st, 2);
            l->persons = mz_db_col_int(st, 3);
            l->amount = mz_db_col_int(st, 4);
        } else if (what == 1) {
            l->added = mz_db_col_int(st, 2);
        } else {
            l->stopped = mz_db_col_int(st, 2);
        }
    }
    mz_db_finalize(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

/* --- months with packed runs (docs/assistance.md, "Packed payroll snapshot")
 * A payment due in a month, from a row or a pack. */
struct due {
    int64_t case_id, persons, amount;
    char division[13], program[16];
};

struct dues {
    struct due *d;
    size_t n, cap;
};

static struct due *due_add(struct dues *s)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->d = mz_xrealloc(s->d, s->cap * sizeof(*s->d));
    }
    struct due *d = &s->d[s->n++];
    memset(d, 0, sizeof(*d));
    return d;
}

static int cmp_due(const void *a, const void *b)
{
    int64_t x = ((const struct due *)a)->case_id, y = ((const struct due *)b)->case_id;
    return x < y ? -1 : x > y;
}

/* Is a case due in s (sorted by case)? A payment without a case (a one-off
 * program's) never is, as the per-row count's NOT EXISTS finds no NULL. */
static bool due_has(const struct dues *s, int64_t case_id)
{
    if (case_id == 0 || s->n == 0)
        return false;
    struct due probe = {.case_id = case_id};
    return bsearch(&probe, s->d, s->n, sizeof(*s->d), cmp_due) != NULL;
}

/* Every payment due in month (of program, NULL: all), in every division:
 * the rows (a returned packed payment's override row among them) and the
 * packed households of the packed runs without an override row; sorted by
 * case. */
static int dues_load(struct mz_db *db, const char *month, const char *program, struct dues *out)
{
    struct mz_stmt *st;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(p.case_id, 0), p.persons, p.amount_fen, p.division, p.program"
             " FROM assistance_payments p WHERE p.month = ? AND" DUE "%s",
             program ? " AND p.program = ?" : "");
    int rc = mz_db_prepare_uncached(db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, month);
    if (program)
        mz_db_bind_text(st, 2, program);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        struct due *d = due_add(out);
        d->case_id = mz_db_col_int(st, 0);
        d->persons = mz_db_col_int(st, 1);
        d->amount = mz_db_col_int(st, 2);
        snprintf(d->division, sizeof(d->division), "%s", mz_db_col_text(st, 3));
        snprintf(d->program, sizeof(d->program), "%s", mz_db_col_text(st, 4));
    }
    mz_db_finalize(st);
    if (rc != MZ_DONE)
        return rc;
    snprintf(sql, sizeof(sql),
             "SELECT id, first_payment_id, payment_ids, program FROM assistance_payroll_runs"
             " WHERE packed = 1 AND month = ? AND deleted_at IS NULL%s ORDER BY id",
             program ? " AND program = ?" : "");
    if ((rc = mz_db_prepare_uncached(db, sql, &st)) != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, month);
    if (program)
        mz_db_bind_text(st, 2, program);
    struct assist_pack *p = assist_pack_new();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        int64_t run_id = mz_db_col_int(st, 0), first = mz_db_col_int(st, 1);
        char prog[16];
        snprintf(prog, sizeof(prog), "%s", mz_db_col_text(st, 3));
        struct assist_id_set over = {NULL, 0};
        struct assist_pack_cursor *cur = NULL;
        rc = assist_payment_overrides(db, first, first + mz_db_col_int(st, 2), &over);
        if (rc == MZ_OK)
            rc = assist_packs_begin(db, run_id, &cur);
        while (rc == MZ_OK && (rc = assist_packs_next(cur, p)) == MZ_ROW) {
            rc = MZ_OK;
            for (size_t i = 0; i < p->n; i++) {
                if (assist_id_set_has(&over, first + p->first_position + (int64_t)i))
                    continue;
                struct due *d = due_add(out);
                d->case_id = p->rows[i].case_id;
                d->persons = p->rows[i].persons;
                d->amount = p->rows[i].amount_fen;
                memcpy(d->division, p->rows[i].division, sizeof(d->division));
                memcpy(d->program, prog, sizeof(d->program));
            }
        }
        if (cur)
            assist_packs_end(cur);
        free(over.ids);
        if (rc != MZ_DONE)
            break;
    }
    assist_pack_free(p);
    mz_db_finalize(st);
    if (rc != MZ_DONE)
        return rc;
    if (out->n > 1)
        qsort(out->d, out->n, sizeof(*out->d), cmp_due);
    return MZ_OK;
}

/* Is there a packed run of program (NULL: any) in month or other? */
static int packed_months(struct mz_db *db, const char *month, const char *other,
                         const char *program, bool *out)
{
    const char *params[] = {month, other, program};
    int64_t n = 0;
    const char *sql = program ? "SELECT count(*) FROM assistance_payroll_runs WHERE packed = 1"
                                " AND month IN (?, ?) AND deleted_at IS NULL AND program = ?"
                              : "SELECT count(*) FROM assistance_payroll_runs WHERE packed = 1"
                                " AND month IN (?, ?) AND deleted_at IS NULL";
    int rc = mz_db_query_int(db, sql, &n, program ? 3 : 2, params);
    *out = n > 0;
    return rc;
}

/* The three counts of count() from the payments due in the month and the
 * month before, rows and packs together (a case paid per row last month and
 * from a pack this month is neither new nor stopped). */
static int count_dues(struct mz_db *db, struct report *r, int digits, const char *month,
                      const char *other, const char *lo, const char *hi, const char *program)
{
    struct dues cur = {0}, prev = {0};
    int rc = dues_load(db, month, program, &cur);
    if (rc == MZ_OK)
        rc = dues_load(db, other, program, &prev);
    for (int k = 0; k < 2 && rc == MZ_OK; k++) {
        const struct dues *s = k ? &prev : &cur, *o = k ? &cur : &prev;
        for (size_t i = 0; i < s->n && rc == MZ_OK; i++) {
            const struct due *d = &s->d[i];
            if (strcmp(d->division, lo) < 0 || strcmp(d->division, hi) >= 0)
                continue;
            char group[13];
            snprintf(group, sizeof(group), "%.*s", digits, d->division);
            struct line *l = line_of(r, group, d->program);
            if (l == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            if (k == 0) {
                l->households++;
                l->persons += d->persons;
                l->amount += d->amount;
            }
            if (!due_has(o, d->case_id))
                ++*(k ? &l->stopped : &l->added);
        }
    }
    free(cur.d);
    free(prev.d);
    return rc;
}

static int cmp_line(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    int c = strcmp(x->program, y->program);
    return c ? c : strcmp(x->group, y->group);
}

/* The division's name (the registry's, else the static table of districts). */
static const char *division_name(struct mz_req *req, const char *group)
{
    char code12[13];
    snprintf(code12, sizeof(code12), "%s", group);
    while (strlen(code12) < 12)
        strcat(code12, "0");
    struct mz_stmt *st;
    const char *name = NULL;
    if (mz_db_prepare(req->db,
                      "SELECT name FROM division_codes WHERE code = ? AND deleted_at IS NULL"
                      " ORDER BY valid_from DESC LIMIT 1",
                      &st) == MZ_OK) {
        mz_db_bind_text(st, 1, code12);
        if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
            name = mz_arena_strdup(req->arena, mz_db_col_text(st, 0));
        mz_db_done(st);
    }
    if (name == NULL && strlen(group) == 6)
        name = mz_division_static_name(group);
    return name ? name : "";
}

static const char *program_zh(const char *code)
{
    static const char *const names[][2] = {{"dibao", "低保"}, {"low_income", "低收入"},
                                           {"tekun", "特困"}, {"temporary", "临时救助"},
                                           {"medical", "医疗救助"}};
    for (size_t i = 0; i < MZ_ARRAY_LEN(names); i++) {
        if (!strcmp(names[i][0], code))
            return names[i][1];
    }
    return code;
}

static int reply_xlsx(struct mz_req *req, const char *month, json_t *items)
{
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-report-XXXXXX", dir && *dir ? dir : "/tmp");
    int tfd = mkstemp(path);
    if (tfd < 0)
        return mz_fail_err(req, MZ_ERR_IO);
    close(tfd);
    struct mz_table_writer *w = NULL;
    int rc = mz_table_writer_open(path, MZ_TABLE_XLSX, "救助月报", &w);
    static const char *const head[] = {"区划代码", "区划名称", "救助项目", "保障户数",
                                       "保障人数", "应发金额（元）", "新增户数", "减少户数"};
    static const char kinds[] = "sssnnnnn";
    if (rc == MZ_OK)
        rc = mz_table_write_row(w, head, NULL, 8);
    json_t *it;
    size_t i;
    char money[32];
    json_array_foreach(items, i, it) {
        if (rc != MZ_OK)
            break;
        mz_money_format(json_integer_value(json_object_get(it, "amount_fen")), money,
                        sizeof(money));
        const char *cells[8] = {
            json_string_value(json_object_get(it, "division")),
            json_string_value(json_object_get(it, "name")),
            program_zh(json_string_value(json_object_get(it, "program"))),
            mz_arena_printf(req->arena, "%lld", (long long)json_integer_value(json_object_get(it, "households"))),
            mz_arena_printf(req->arena, "%lld", (long long)json_integer_value(json_object_get(it, "persons"))),
            mz_arena_strdup(req->arena, money),
            mz_arena_printf(req->arena, "%lld", (long long)json_integer_value(json_object_get(it, "new"))),
            mz_arena_printf(req->arena, "%lld", (long long)json_integer_value(json_object_get(it, "stopped"))),
        };
        rc = mz_table_write_row(w, cells, kinds, 8);
    }
    int crc = w ? mz_table_writer_close(w) : MZ_OK;
    if (rc == MZ_OK)
        rc = crc;
    int fd = rc == MZ_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    unlink(path);
    if (fd < 0)
        return mz_fail(req, 500, "internal", "生成月报文件失败");
    json_t *detail = json_pack("{s:s, s:s}", "report", "monthly", "month", month);
    int status = mz_audit(req, "export", "assistance_payments", 0, true, detail);
    json_decref(detail);
    if (status) {
        close(fd);
        return status;
    }
    return mz_reply_file(req, 200,
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", fd,
                         mz_arena_printf(req->arena, "assistance-monthly-%s.xlsx", month));
}

/* GET /api/v1/assistance/reports/monthly */
int assist_h_monthly_report(struct mz_req *req)
{
    const char *month = mz_req_query(req, "month"), *program = mz_req_query(req, "program");
    const char *format = mz_req_query(req, "format");
    if (!assist_month_ok(month))
        return mz_fail_field(req, 400, "bad_request", "请指定月份 month=YYYY-MM", "month");
    if (program && !assist_program_ok(program))
        return mz_fail_field(req, 400, "bad_request", "救助项目代码无效", "program");
    if (format && strcmp(format, "json") && strcmp(format, "xlsx"))
        return mz_fail_field(req, 400, "bad_request", "格式应为 json 或 xlsx", "format");
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    char lo[13], hi[13];
    if (mz_division_range(scope ? scope : "120000", lo, hi) != MZ_OK)
        return mz_fail(req, 403, "out_of_scope", "没有可统计的辖区");
    /* One level below the area: province/city -> district (6), district ->
     * street (9), street or community -> community (12). */
    size_t sig = strlen(lo);
    while (sig > 0 && lo[sig - 1] == '0')
        sig--;
    int digits = sig <= 6 ? (sig <= 4 ? 6 : 9) : 12;
    char prev[8];
    prev_month(month, prev);
    struct report r = {0};
    bool packed = false;
    int rc = packed_months(req->db, month, prev, program, &packed);
    if (rc == MZ_OK && packed)
        rc = count_dues(req->db, &r, digits, month, prev, lo, hi, program);
    if (rc == MZ_OK && !packed)
        rc = count(req->db, &r, 0, digits, month, prev, lo, hi, program);
    if (rc == MZ_OK && !packed)
        rc = count(req->db, &r, 1, digits, month, prev, lo, hi, program);
    if (rc == MZ_OK && !packed)
        rc = count(req->db, &r, 2, digits, month, prev, lo, hi, program);
    if (rc != MZ_OK) {
        free(r.lines);
        return mz_fail_err(req, rc);
    }
    if (r.n > 0)
        qsort(r.lines, r.n, sizeof(*r.lines), cmp_line);
    json_t *items = json_array(), *totals = json_object();
    for (size_t i = 0; i < r.n; i++) {
        struct line *l = &r.lines[i];
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "division", l->group, "name",
                             division_name(req, l->group), "program", l->program, "households",
                             (json_int_t)l->households, "persons", (json_int_t)l->persons,
                             "amount_fen", (json_int_t)l->amount, "new", (json_int_t)l->added,
                             "stopped", (json_int_t)l->stopped));
        json_t *t = json_object_get(totals, l->program);
        if (t == NULL) {
            t = json_pack("{s:I, s:I, s:I, s:I, s:I}", "households", (json_int_t)0, "persons",
                          (json_int_t)0, "amount_fen", (json_int_t)0, "new", (json_int_t)0,
                          "stopped", (json_int_t)0);
            json_object_set_new(totals, l->program, t);
        }
        static const char *const keys[] = {"households", "persons", "amount_fen", "new", "stopped"};
        int64_t v[] = {l->households, l->persons, l->amount, l->added, l->stopped};
        for (int k = 0; k < 5; k++)
            json_object_set_new(t, keys[k],
                                json_integer(json_integer_value(json_object_get(t, keys[k])) + v[k]));
    }
    /* The total rows close the sheet, one per program. */
    const char *pk;
    json_t *t;
    json_t *with_totals = json_deep_copy(items);
    json_object_foreach(totals, pk, t) {
        json_t *row = json_deep_copy(t);
        json_object_set_new(row, "division", json_string(""));
        json_object_set_new(row, "name", json_string("合计"));
        json_object_set_new(row, "program", json_string(pk));
        json_array_append_new(with_totals, row);
    }
    free(r.lines);
    if (format && strcmp(format, "xlsx") == 0) {
        int status = reply_xlsx(req, month, with_totals);
        json_decref(with_totals);
        json_decref(items);
        json_decref(totals);
        return status;
    }
    json_decref(with_totals);
    return mz_reply_json(req, 200,
                         json_pack("{s:s, s:s, s:i, s:o, s:o}", "month", month, "previous", prev,
                                   "level_digits", digits, "items", items, "totals", totals));
}
