/* booking.c - booking a visit to a street service window (预约办理).
 *
 * Staff maintain the slots (hall_slots: a street or town, a date, a time
 * range, a capacity, optionally one matter) and the days the windows are
 * closed (hall_closed_days: a date and a division - the city for a public
 * holiday, a district or street for a local closure). A slot on a Saturday or
 * Sunday needs `workday` (调休上班日) set; none may lie on a closed day.
 *
 * A citizen books through the engine (POST /api/v1/hall_bookings
 * {"slot_id","matter","note"}): the slot must exist, lie ahead (today's
 * slots until their start time), not be on a closed day and offer the
 * matter; a citizen holds at most one active booking a day (409
 * `duplicate_booking`). The place is taken with one conditional UPDATE of the
 * slot's counter (booked < capacity) inside the write transaction, so of two
 * citizens racing for the last place exactly one wins; the other gets 409
 * `slot_full` and nothing is written. Cancelling (citizen, before the slot
 * starts) gives the place back; `accept` (staff) records the visit as served.
 * Bookings carry the slot's street as their scope: staff list the day's
 * bookings of their area with the engine's list (?slot_date=).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/registry.h"
#include "mz/validate.h"
#include "modules/hall/hall_internal.h"

static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

/* Is date a closed day for the division (itself or an ancestor)? */
int hall_closed_day(struct mz_req *req, const char *date, const char *division12, bool *closed)
{
    /* itself, street, district, prefecture, province */
    static const int keep[5] = {12, 9, 6, 4, 2};
    char anc[5][13];
    for (int i = 0; i < 5; i++) {
        memcpy(anc[i], division12, 13);
        memset(anc[i] + keep[i], '0', (size_t)(12 - keep[i]));
    }
    const char *p[] = {date, anc[0], anc[1], anc[2], anc[3], anc[4]};
    int64_t n = 0;
    int rc = mz_db_query_int(req->db,
                             "SELECT count(*) FROM hall_closed_days WHERE closed_on = ?"
                             " AND division IN (?, ?, ?, ?, ?) AND deleted_at IS NULL",
                             &n, 6, p);
    *closed = n > 0;
    return rc;
}

/* Day of week of a YYYY-MM-DD date, 0 = Monday. */
static int weekday(const char *date)
{
    int64_t d = mz_date_to_days(date); /* days since 1970-01-01, a Thursday */
    return (int)(((d % 7) + 7 + 3) % 7);
}

/* --- slots ------------------------------------------------------------------------ */

static int slot_validate(struct mz_write *w)
{
    int status = hall_staff_only(w);
    if (status)
        return status;
    const char *div = row_str(w->row, "division"), *date = row_str(w->row, "slot_date");
    const char *from = row_str(w->row, "start_time"), *to = row_str(w->row, "end_time");
    if (div && (mz_division_level(div) != 4 || !mz_division_acceptable(w->req->db, div)))
        mz_errors_add(w->errors, "division", "invalid_division", "请选择街道（乡镇）");
    if (from && to && strcmp(from, to) >= 0)
        mz_errors_add(w->errors, "end_time", "out_of_range", "结束时间应晚于开始时间");
    bool workday = json_is_true(json_object_get(w->row, "workday"));
    if (date && weekday(date) >= 5 && !workday)
        mz_errors_add(w->errors, "slot_date", "weekend",
                      "该日为周末；调休上班日请勾选「调休上班日」");
    if (date && div && mz_division_level(div) == 4) {
        bool closed = false;
        if (hall_closed_day(w->req, date, div, &closed) != MZ_OK)
            return mz_fail_err(w->req, MZ_ERR_DB);
        if (closed)
            mz_errors_add(w->errors, "slot_date", "closed_day", "该日已设为不办公日");
    }
    const char *matter = row_str(w->row, "matter");
    if (matter && !hall_matter_open(w->req, matter, "booking", NULL))
        mz_errors_add(w->errors, "matter", "not_open", "该事项未开通预约办理");
    json_int_t cap = json_integer_value(json_object_get(w->row, "capacity"));
    json_int_t booked = json_integer_value(json_object_get(w->row, "booked"));
    if (cap < booked)
        mz_errors_add(w->errors, "capacity",
                      "below_booked",
                      mz_arena_printf(w->req->arena, "容量不能少于已预约人数（%lld）", (long long)booked));
    if (div && date && from) {
        char idtext[24];
        snprintf(idtext, sizeof(idtext), "%lld", (long long)w->id);
        const char *p[] = {div, date, from, idtext};
        int64_t n = 0;
        if (mz_db_query_int(w->req->db,
                            "SELECT count(*) FROM hall_slots WHERE division = ? AND slot_date = ?"
                            " AND start_time = ? AND id <> ? AND deleted_at IS NULL",
                            &n, 4, p) != MZ_OK)
            return mz_fail_err(w->req, MZ_ERR_DB);
        if (n > 0)
            mz_errors_add(w->errors, "start_time", "duplicate", "该街道该日已有同一开始时间的时段");
    }
    return 0;
}

/* A slot holding bookings stays (its bookings point at it). */
static int slot_before_write(struct mz_write *w)
{
    if (strcmp(w->action, "delete") == 0 &&
        json_integer_value(json_object_get(w->before, "booked")) > 0)
        return mz_fail(w->req, 409, "slot_in_use", "该时段已有预约，不能删除；可减少容量");
    return 0;
}

static const struct mz_hooks slot_hooks = {.validate = slot_validate,
                                           .before_write = slot_before_write};

static const struct mz_field slot_fields[] = {
    {.name = "division", .type = MZ_T_DIVISION, .zh = "街道（乡镇）", .en = "Street or town",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE | MZ_F_IMMUTABLE},
    {.name = "slot_date", .type = MZ_T_DATE, .zh = "日期", .en = "Date",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED | MZ_F_IMMUTABLE},
    {.name = "start_time", .type = MZ_T_TEXT, .zh = "开始时间", .en = "From",
     .pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", .pattern_zh = "时:分，如 09:00",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE},
    {.name = "end_time", .type = MZ_T_TEXT, .zh = "结束时间", .en = "Until",
     .pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", .pattern_zh = "时:分，如 10:00",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE},
    {.name = "capacity", .type = MZ_T_INT, .zh = "可预约人数", .en = "Capacity",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 1, .max = 500},
    {.name = "booked", .type = MZ_T_INT, .zh = "已预约", .en = "Booked",
     .flags = MZ_F_READONLY, .def = "0"},
    {.name = "matter", .type = MZ_T_TEXT, .zh = "限定事项", .en = "Only for matter",
     .flags = MZ_F_HAS_MAX, .max = 40},
    {.name = "workday", .type = MZ_T_BOOL, .zh = "调休上班日", .en = "Weekend workday",
     .def = "false"},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note", .flags = MZ_F_HAS_MAX,
     .max = 200},
};

const struct mz_entity hall_slots = {
    .name = "hall_slots",
    .zh = "预约时段",
    .en = "Booking slots",
    .fields = slot_fields,
    .nfields = MZ_ARRAY_LEN(slot_fields),
    .hooks = &slot_hooks,
    .default_sort = "slot_date,start_time",
};

static const struct mz_hooks closed_hooks = {.validate = hall_staff_only};

static const struct mz_field closed_fields[] = {
    {.name = "closed_on", .type = MZ_T_DATE, .zh = "日期", .en = "Date",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "适用区划", .en = "Division",
     .flags = MZ_F_REQUIRED | MZ_F_SCOPE, .def = "\"120000\""},
    {.name = "reason", .type = MZ_T_TEXT, .zh = "原因", .en = "Reason",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MAX, .max = 100},
};

const struct mz_entity hall_closed_days = {
    .name = "hall_closed_days",
    .zh = "不办公日",
    .en = "Closed days",
    .fields = closed_fields,
    .nfields = MZ_ARRAY_LEN(closed_fields),
    .hooks = &closed_hooks,
    .default_sort = "-closed_on",
};

/* --- bookings ----------------------------------------------------------------- */

/* Has the slot (date, "HH:MM") started? */
static bool slot_started(const char *date, const char *start)
{
    char today[11], now[6];
    hall_today(today);
    hall_now_hhmm(now);
    int c = strcmp(date, today);
    return c < 0 || (c == 0 && strcmp(start, now) <= 0);
}

static int booking_validate(struct mz_write *w)
{
    struct mz_req *req = w->req;
    if (strcmp(w->action, "create") != 0)
        return mz_fail(req, 403, "forbidden", "预约不能修改；如需变更请取消后重新预约");
    if (req->user != NULL && !hall_is_citizen(req))
        return mz_fail(req, 403, "forbidden", "预约由公众本人在网上办事大厅办理");
    const char *matter = row_str(w->row, "matter");
    if (matter && !hall_matter_open(req, matter, "booking", NULL))
        mz_errors_add(w->errors, "matter", "not_open", "该事项暂未开通预约办理");
    int64_t slot = json_integer_value(json_object_get(w->row, "slot_id"));
    if (slot <= 0)
        return 0; /* required/type errors come from the field checks */
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT division, slot_date, start_time, end_time, matter FROM hall_slots"
                           " WHERE id = ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, slot);
    if (mz_db_step(st) != MZ_ROW) {
        mz_db_done(st);
        mz_errors_add(w->errors, "slot_id", "no_such_reference", "预约时段不存在");
        return 0;
    }
    const char *div = mz_arena_strdup(req->arena, mz_db_col_text(st, 0));
    const char *date = mz_arena_strdup(req->arena, mz_db_col_text(st, 1));
    const char *from = mz_arena_strdup(req->arena, mz_db_col_text(st, 2));
    const char *to = mz_arena_strdup(req->arena, mz_db_col_text(st, 3));
    const char *only = mz_db_col_text(st, 4) ? mz_arena_strdup(req->arena, mz_db_col_text(st, 4))
                                             : NULL;
    mz_db_done(st);
    if (slot_started(date, from)) {
        mz_errors_add(w->errors, "slot_id", "slot_past", "该时段已过，请选择以后的时段");
        return 0;
    }
    bool closed = false;
    if (hall_closed_day(req, date, div, &closed) != MZ_OK)
        return mz_fail_err(req, MZ_ERR_DB);
    if (closed)
        mz_errors_add(w->errors, "slot_id", "closed_day", "该日不办公，请选择其他日期");
    if (only && matter && strcmp(only, matter) != 0)
        mz_errors_add(w->errors, "slot_id", "wrong_matter", "该时段只办理其他事项");
    json_object_set_new(w->row, "division", json_string(div));
    json_object_set_new(w->row, "slot_date", json_string(date));
    json_object_set_new(w->row, "start_time", json_string(from));
    json_object_set_new(w->row, "end_time", json_string(to));
    return 0;
}

static int booking_before_write(struct mz_write *w)
{
    struct mz_req *req = w->req;
    if (strcmp(w->action, "create") != 0)
        return 0;
    const char *actor = req->actor ? req->actor : "-";
    const char *p[] = {actor, row_str(w->row, "slot_date")};
    int64_t n = 0;
    if (mz_db_query_int(req->db,
                        "SELECT count(*) FROM hall_bookings WHERE created_by = ? AND slot_date = ?"
                        " AND state = 'booked' AND deleted_at IS NULL",
                        &n, 2, p) != MZ_OK)
        return mz_fail_err(req, MZ_ERR_DB);
    if (n > 0)
        return mz_fail_field(req, 409, "duplicate_booking",
                             "您在该日已有一个预约；如需改约请先取消原预约", "slot_id");
    int64_t slot = json_integer_value(json_object_get(w->row, "slot_id"));
    int rc = mz_db_run(req->db,
                       "UPDATE hall_slots SET booked = booked + 1 WHERE id = ? AND booked < capacity"
                       " AND deleted_at IS NULL",
                       "i", slot);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (mz_db_changes(req->db) != 1)
        return mz_fail_field(req, 409, "slot_full", "该时段已约满，请选择其他时段", "slot_id");
    /* The citizen's registered name (the profile is the citizen's own row). */
    struct mz_stmt *st;
    if (mz_db_prepare(req->db,
                      "SELECT name FROM citizen_profiles WHERE username = ? AND deleted_at IS NULL",
                      &st) == MZ_OK) {
        mz_db_bind_text(st, 1, actor);
        if (mz_db_step(st) == MZ_ROW && mz_db_col_text(st, 0))
            json_object_set_new(w->row, "citizen_name", json_string(mz_db_col_text(st, 0)));
        mz_db_done(st);
    }
    json_object_set_new(w->row, "booking_no", json_string(hall_number(req, "YY")));
    return 0;
}

static const struct mz_hooks booking_hooks = {
    .validate = booking_validate,
    .before_write = booking_before_write,
};

static int cancel_guard(struct mz_write *w)
{
    const char *date = row_str(w->row, "slot_date"), *from = row_str(w->row, "start_time");
    if (date && from && slot_started(date, from))
        return mz_fail(w->req, 422, "too_late", "预约时段已开始或已过，不能取消");
    return 0;
}

static int cancel_effect(struct mz_write *w)
{
    int rc = mz_db_run(w->req->db,
                       "UPDATE hall_slots SET booked = booked - 1 WHERE id = ? AND booked > 0", "i",
                       (int64_t)json_integer_value(json_object_get(w->row, "slot_id")));
    return rc == MZ_OK ? 0 : mz_fail_err(w->req, rc);
}

static const struct mz_wf_state booking_states[] = {
    {.name = "booked", .zh = "已预约", .en = "Booked"},
    {.name = "cancelled", .zh = "已取消", .en = "Cancelled", .final = true},
    {.name = "served", .zh = "已办理", .en = "Served", .final = true},
};

static const struct mz_transition booking_transitions[] = {
    {.from = "booked", .action = "cancel", .to = "cancelled", .zh = "取消预约", .en = "Cancel",
     .permission = "hall_bookings.cancel", .guard = cancel_guard, .effect = cancel_effect},
    {.from = "booked", .action = "accept", .to = "served", .zh = "已接待办理", .en = "Served"},
};

static const struct mz_workflow booking_workflow = {
    .name = "hall_booking",
    .initial = "booked",
    .states = booking_states,
    .nstates = MZ_ARRAY_LEN(booking_states),
    .transitions = booking_transitions,
    .ntransitions = MZ_ARRAY_LEN(booking_transitions),
};

static const struct mz_field booking_fields[] = {
    {.name = "booking_no", .type = MZ_T_TEXT, .zh = "预约号", .en = "Booking number",
     .flags = MZ_F_READONLY | MZ_F_UNIQUE | MZ_F_SEARCHABLE},
    {.name = "slot_id", .type = MZ_T_INT, .zh = "预约时段", .en = "Slot",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_INDEXED | MZ_F_HIDDEN},
    {.name = "matter", .type = MZ_T_TEXT, .zh = "办理事项", .en = "Matter",
     .flags = MZ_F_REQUIRED | MZ_F_IMMUTABLE | MZ_F_HAS_MAX, .max = 40},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "办理街道（乡镇）", .en = "Street or town",
     .flags = MZ_F_READONLY | MZ_F_SCOPE},
    {.name = "slot_date", .type = MZ_T_DATE, .zh = "日期", .en = "Date",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "start_time", .type = MZ_T_TEXT, .zh = "开始时间", .en = "From", .flags = MZ_F_READONLY},
    {.name = "end_time", .type = MZ_T_TEXT, .zh = "结束时间", .en = "Until", .flags = MZ_F_READONLY},
    {.name = "citizen_name", .type = MZ_T_TEXT, .zh = "预约人", .en = "Citizen",
     .flags = MZ_F_READONLY | MZ_F_SEARCHABLE},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note",
     .flags = MZ_F_IMMUTABLE | MZ_F_HAS_MAX, .max = 200},
};

const struct mz_entity hall_bookings = {
    .name = "hall_bookings",
    .zh = "预约办理",
    .en = "Bookings",
    .fields = booking_fields,
    .nfields = MZ_ARRAY_LEN(booking_fields),
    .hooks = &booking_hooks,
    .workflow = &booking_workflow,
    .flags = MZ_E_NO_IMPORT | MZ_E_NO_DELETE | MZ_E_CITIZEN,
    .title_field = "booking_no",
    .default_sort = "slot_date,start_time",
};

/* GET /api/v1/public/hall/slots?division=STREET[&matter=][&from=][&days=] -
 * the open slots ahead (no login): remaining places, closed days left out. */
int hall_h_public_slots(struct mz_req *req)
{
    const char *div = mz_req_query(req, "division"), *matter = mz_req_query(req, "matter");
    const char *from = mz_req_query(req, "from"), *days_text = mz_req_query(req, "days");
    const char *reason;
    char norm[13], today[11], until[11];
    if (div == NULL || mz_division_check(div, norm, &reason) != MZ_OK ||
        mz_division_level(norm) != 4)
        return mz_fail_field(req, 400, "bad_filter", "请指定街道（乡镇）区划代码", "division");
    hall_today(today);
    if (from && *from) {
        if (mz_date_check(from, &reason) != MZ_OK)
            return mz_fail_field(req, 400, "bad_filter", "日期无效，应为 YYYY-MM-DD", "from");
        if (strcmp(from, today) > 0)
            memcpy(today, from, 11);
    }
    long days = 28;
    if (days_text && *days_text) {
        char *end;
        days = strtol(days_text, &end, 10);
        if (*end != '\0' || days < 1 || days > 62)
            return mz_fail_field(req, 400, "bad_filter", "天数应为 1 至 62", "days");
    }
    mz_days_to_date(mz_date_to_days(today) + days, until);
    bool by_matter = matter && *matter;
    struct mz_stmt *st;
    int rc = mz_db_prepare(
        req->db,
        by_matter ? "SELECT s.id, s.slot_date, s.start_time, s.end_time, s.capacity, s.booked,"
                    " s.matter FROM hall_slots s WHERE s.division = ? AND s.slot_date >= ?"
                    " AND s.slot_date < ? AND s.deleted_at IS NULL"
                    " AND (s.matter IS NULL OR s.matter = ?) ORDER BY s.slot_date, s.start_time"
                  : "SELECT s.id, s.slot_date, s.start_time, s.end_time, s.capacity, s.booked,"
                    " s.matter FROM hall_slots s WHERE s.division = ? AND s.slot_date >= ?"
                    " AND s.slot_date < ? AND s.deleted_at IS NULL"
                    " ORDER BY s.slot_date, s.start_time",
        &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, norm);
    mz_db_bind_text(st, 2, today);
    mz_db_bind_text(st, 3, until);
    if (by_matter)
        mz_db_bind_text(st, 4, matter);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *date = mz_db_col_text(st, 1), *start = mz_db_col_text(st, 2);
        if (slot_started(date, start))
            continue;
        int64_t cap = mz_db_col_int(st, 4), booked = mz_db_col_int(st, 5);
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:s?}", "id",
                             (json_int_t)mz_db_col_int(st, 0), "slot_date", date, "start_time",
                             start, "end_time", mz_db_col_text(st, 3), "capacity", (json_int_t)cap,
                             "booked", (json_int_t)booked, "remaining",
                             (json_int_t)(cap > booked ? cap - booked : 0), "matter",
                             mz_db_col_text(st, 6)));
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(items);
        return mz_fail_err(req, rc);
    }
    /* Closed days leave the list (checked per distinct date). */
    json_t *open = json_array(), *s;
    size_t i;
    json_array_foreach(items, i, s) {
        bool closed = false;
        if (hall_closed_day(req, row_str(s, "slot_date"), norm, &closed) != MZ_OK) {
            json_decref(items);
            json_decref(open);
            return mz_fail_err(req, MZ_ERR_DB);
        }
        if (!closed)
            json_array_append(open, s);
    }
    json_decref(items);
    char shortc[13];
    snprintf(shortc, sizeof(shortc), "%.9s", norm);
    return mz_reply_json(req, 200,
                         json_pack("{s:s, s:s, s:s, s:o}", "division", shortc, "from", today,
                                   "until", until, "items", open));
}
