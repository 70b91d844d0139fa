/* public_notices.c - the 公示 on the citizen side.
 *
 * GET /api/v1/public/notices?division=D[&program=P][&page=N&size=N] (no login)
 * lists the notices of assistance cases that are being publicised today
 * (start_date <= today <= end_date) in a division (a community, street or
 * district code), newest first, with only what the rules allow a notice to
 * show: the program, the community (code and name), the applicant's name,
 * the household size, the monthly amount in fen, and the notice's dates. No
 * ID number, address, phone or account is ever part of a notice row, so none
 * can leak here. Notices outside their window are not shown (404 for one by
 * id): an expired 公示 is not public any more.
 *
 * Tested by tests/api/reviews.test.mjs (the 公示 of its cases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

#define PAGE_MAX 50

static int64_t query_num(struct mz_req *req, const char *name, int64_t def, int64_t max,
                         const char *code, const char *message)
{
    const char *v = mz_req_query(req, name);
    if (v == NULL)
        return def;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > max) {
        mz_fail_field(req, 400, code, message, name);
        return 0;
    }
    return n;
}

static const char *community_name(struct mz_req *req, const char *code)
{
    struct mz_stmt *st;
    const char *name = "";
    if (code && mz_db_prepare(req->db,
                              "SELECT name FROM division_codes WHERE code = ? AND deleted_at IS NULL"
                              " ORDER BY valid_from DESC LIMIT 1",
                              &st) == MZ_OK) {
        mz_db_bind_text(st, 1, code);
        if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
            name = mz_arena_strdup(req->arena, mz_db_col_text(st, 0));
        mz_db_done(st);
    }
    return name;
}

/* GET /api/v1/public/notices */
int assist_h_public_notices(struct mz_req *req)
{
    const char *division = mz_req_query(req, "division"), *program = mz_req_query(req, "program");
    const char *reason;
    char div12[13], lo[13], hi[13], today[11];
    if (division == NULL || mz_division_check(division, div12, &reason) != MZ_OK ||
        mz_division_range(div12, lo, hi) != MZ_OK)
        return mz_fail_field(req, 400, "bad_filter", "请指定社区、街道或区的区划代码", "division");
    if (strlen(division) < 6)
        return mz_fail_field(req, 400, "bad_filter", "请至少指定到区（6 位区划代码）", "division");
    if (program && !assist_program_ok(program))
        return mz_fail_field(req, 400, "bad_filter", "救助项目代码无效", "program");
    int64_t page = query_num(req, "page", 1, 100000, "bad_page", "页码应为正整数");
    if (page == 0)
        return req->status;
    int64_t size = query_num(req, "size", 20, PAGE_MAX, "bad_size", "每页条数应为 1-50");
    if (size == 0)
        return req->status;
    assist_today(today);
#define WHERE_SQL(extra)                                                                       \
    " FROM assistance_notices WHERE deleted_at IS NULL AND start_date <= ? AND end_date >= ?"  \
    " AND division >= ? AND division < ?" extra
    const char *params[5] = {today, today, lo, hi, program};
    int np = program ? 5 : 4;
    int64_t total = 0;
    int rc = mz_db_query_int(req->db,
                             program ? "SELECT count(*)" WHERE_SQL(" AND program = ?")
                                     : "SELECT count(*)" WHERE_SQL(""),
                             &total, np, params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    struct mz_stmt *st;
    rc = mz_db_prepare(req->db,
                       program ? "SELECT id, program, division, kind, start_date, end_date,"
                                 " applicant_name, household_size, amount_fen"
                                 WHERE_SQL(" AND program = ?") " ORDER BY start_date DESC, id DESC"
                                 " LIMIT ? OFFSET ?"
                               : "SELECT id, program, division, kind, start_date, end_date,"
                                 " applicant_name, household_size, amount_fen"
                                 WHERE_SQL("") " ORDER BY start_date DESC, id DESC"
                                 " LIMIT ? OFFSET ?",
                       &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    for (int i = 0; i < np; i++)
        mz_db_bind_text(st, i + 1, params[i]);
    mz_db_bind_int(st, np + 1, size);
    mz_db_bind_int(st, np + 2, (page - 1) * size);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *div = mz_db_col_text(st, 2);
        json_array_append_new(
            items,
            json_pack("{s:I, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:I}", "id",
                      (json_int_t)mz_db_col_int(st, 0), "program", mz_db_col_text(st, 1),
                      "division", div, "community", community_name(req, div), "kind",
                      mz_db_col_text(st, 3), "start_date", mz_db_col_text(st, 4), "end_date",
                      mz_db_col_text(st, 5), "applicant_name", mz_db_col_text(st, 6),
                      "household_size", (json_int_t)mz_db_col_int(st, 7), "amount_fen",
                      (json_int_t)mz_db_col_int(st, 8)));
    }
    mz_db_done(st);
    if (rc != MZ_DONE) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 200,
                         json_pack("{s:o, s:I, s:I, s:I, s:s}", "items", items, "total",
                                   (json_int_t)total, "page", (json_int_t)page, "size",
                                   (json_int_t)size, "today", today));
}
