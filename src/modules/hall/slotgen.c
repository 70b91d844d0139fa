/* slotgen.c - booking slots generated in bulk (批量生成预约时段).
 *
 *   POST /api/v1/hall_slots/generate   (hall_slots.create; one transaction)
 *   {"division": street or town (9 or 12 digits, level 4), "from", "to": dates
 *    (from today on, at most 92 days), "weekdays": [1..5] (Monday = 1; default
 *    Monday to Friday - a weekend workday 调休 is added one slot at a time),
 *    "times": [{"start_time","end_time","capacity"}] (1..12), "matter": a
 *    booking matter or null, "note", "dry_run": true to count only}
 *
 * Every day of the range on one of the weekdays gets one slot per time, except
 * the days closed for the street (hall_closed_days of the street or an
 * ancestor) and the (day, start time) pairs that already have a slot, which
 * are counted and skipped. Each slot is created through the engine
 * (mz_entity_create: the slot's own validation, scope, history and audit), so
 * a street officer generates only for streets in scope, and any refusal
 * rolls the whole generation back. The answer: {"days", "created",
 * "skipped_closed", "skipped_existing", "dry_run", "dates": [first..last
 * created]}. Tested by tests/api/hall.test.mjs and tests/e2e/hall.test.mjs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/registry.h"
#include "mz/validate.h"
#include "modules/hall/hall_internal.h"

#define GEN_MAX_DAYS 92
#define GEN_MAX_TIMES 12

struct gen_time {
    const char *from, *to;
    int64_t capacity;
};

static bool hhmm_ok(const char *s)
{
    return s && strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' &&
           s[1] <= '9' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' &&
           (s[0] < '2' || s[1] <= '3');
}

/* The times: each well formed, ordered, capacity 1..500, no start twice.
 * Returns the count (0 after errors were added). */
static size_t parse_times(struct mz_req *req, json_t *arr, json_t *errors, struct gen_time *out)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > GEN_MAX_TIMES) {
        mz_errors_add(errors, "times", "required", "请添加 1 到 12 个时段（开始时间、结束时间、人数）");
        return 0;
    }
    size_t n = json_array_size(arr), bad = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        const char *from = json_string_value(json_object_get(t, "start_time"));
        const char *to = json_string_value(json_object_get(t, "end_time"));
        json_t *cap = json_object_get(t, "capacity");
        const char *at = mz_arena_printf(req->arena, "times[%zu].", i);
        if (!hhmm_ok(from)) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "%sstart_time", at), "pattern",
                          "开始时间应为 时:分，如 09:00");
            bad++;
        }
        if (!hhmm_ok(to)) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "%send_time", at), "pattern",
                          "结束时间应为 时:分，如 10:00");
            bad++;
        } else if (hhmm_ok(from) && strcmp(from, to) >= 0) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "%send_time", at), "out_of_range",
                          "结束时间应晚于开始时间");
            bad++;
        }
        if (!json_is_integer(cap) || json_integer_value(cap) < 1 ||
            json_integer_value(cap) > 500) {
            mz_errors_add(errors, mz_arena_printf(req->arena, "%scapacity", at), "out_of_range",
                          "可预约人数应为 1 到 500 的整数");
            bad++;
        }
        for (size_t k = 0; k < i && hhmm_ok(from); k++) {
            if (out[k].from && strcmp(out[k].from, from) == 0) {
                mz_errors_add(errors, mz_arena_printf(req->arena, "%sstart_time", at),
                              "duplicate", "同一开始时间只能有一个时段");
                bad++;
                break;
            }
        }
        out[i].from = hhmm_ok(from) ? from : NULL;
        out[i].to = to;
        out[i].capacity = json_integer_value(cap);
    }
    return bad ? 0 : n;
}

/* Weekdays 1..5 as a bit set (bit d for Monday = 1); default Monday..Friday. */
static unsigned parse_weekdays(json_t *arr, json_t *errors)
{
    if (arr == NULL || json_is_null(arr))
        return 0x3e;
    unsigned set = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        mz_errors_add(errors, "weekdays", "required", "请至少选择一个工作日");
        return 0;
    }
    json_array_foreach(arr, i, v)
    {
        json_int_t d = json_is_integer(v) ? json_integer_value(v) : 0;
        if (d < 1 || d > 5) {
            mz_errors_add(errors, "weekdays", "out_of_range",
                          "只能选择周一至周五；调休上班的周末请单独添加时段");
            return 0;
        }
        set |= 1u << d;
    }
    return set;
}

static int slot_exists(struct mz_req *req, const char *street12, const char *date,
                       const char *from, bool *exists)
{
    const char *p[] = {street12, date, from};
    int64_t n = 0;
    int rc = mz_db_query_int(req->db,
                             "SELECT count(*) FROM hall_slots WHERE division = ? AND slot_date = ?"
                             " AND start_time = ? AND deleted_at IS NULL",
                             &n, 3, p);
    *exists = n > 0;
    return rc;
}

/* Is the street inside the caller's scope (NULL scope: the whole city)? */
static bool in_scope(struct mz_req *req, const char *street12)
{
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    char s12[13];
    const char *reason;
    if (scope == NULL)
        return true;
    if (mz_division_check(scope, s12, &reason) != MZ_OK)
        return false;
    static const size_t keep[6] = {0, 2, 4, 6, 9, 12};
    int level = mz_division_level(s12);
    return level >= 1 && level <= 5 && strncmp(s12, street12, keep[level]) == 0;
}

int hall_h_slots_generate(struct mz_req *req)
{
    json_t *in = mz_req_object_or_fail(req);
    if (in == NULL)
        return req->status;
    json_t *errors = json_array();
    const char *div = NULL, *from = NULL, *to = NULL, *matter = NULL, *note = NULL;
    bool dry = false;
    /* Optional members of the wrong type are refused, never ignored. */
    static const char *const texts[] = {"matter", "note"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(texts); i++) {
        json_t *v = json_object_get(in, texts[i]);
        if (v && !json_is_string(v) && !json_is_null(v))
            mz_errors_add(errors, texts[i], "type", "应为文本");
    }
    json_t *dv = json_object_get(in, "dry_run");
    if (dv && !json_is_boolean(dv))
        mz_errors_add(errors, "dry_run", "type", "应为 true 或 false");
    mz_json_get_str(in, "division", &div);
    mz_json_get_str(in, "from", &from);
    mz_json_get_str(in, "to", &to);
    mz_json_get_str(in, "matter", &matter);
    mz_json_get_str(in, "note", &note);
    mz_json_get_bool(in, "dry_run", &dry);

    char street[13] = "";
    size_t dl = div ? strlen(div) : 0;
    if ((dl == 9 || dl == 12) && strspn(div, "0123456789") == dl)
        snprintf(street, sizeof(street), "%.9s000", div);
    if (street[0] == '\0' || mz_division_level(street) != 4 ||
        (dl == 12 && strcmp(div + 9, "000") != 0) || !mz_division_acceptable(req->db, street))
        mz_errors_add(errors, "division", "invalid_division", "请选择街道（乡镇）");

    char today[11];
    hall_today(today);
    const char *why;
    int64_t d0 = from && mz_date_check(from, &why) == MZ_OK ? mz_date_to_days(from) : INT64_MIN;
    int64_t d1 = to && mz_date_check(to, &why) == MZ_OK ? mz_date_to_days(to) : INT64_MIN;
    if (d0 == INT64_MIN)
        mz_errors_add(errors, "from", "invalid_date", "请填写开始日期（YYYY-MM-DD）");
    else if (strcmp(from, today) < 0)
        mz_errors_add(errors, "from", "out_of_range", "开始日期不能早于今天");
    if (d1 == INT64_MIN)
        mz_errors_add(errors, "to", "invalid_date", "请填写结束日期（YYYY-MM-DD）");
    else if (d0 != INT64_MIN && (d1 < d0 || d1 - d0 >= GEN_MAX_DAYS))
        mz_errors_add(errors, "to", "out_of_range", "结束日期应不早于开始日期，且一次最多 92 天");

    unsigned weekdays = parse_weekdays(json_object_get(in, "weekdays"), errors);
    struct gen_time times[GEN_MAX_TIMES] = {0};
    size_t ntimes = parse_times(req, json_object_get(in, "times"), errors, times);
    if (matter && *matter && !hall_matter_open(req, matter, "booking", NULL))
        mz_errors_add(errors, "matter", "not_open", "该事项未开通预约办理");
    if (note && mz_utf8_length(note, strlen(note)) > 200)
        mz_errors_add(errors, "note", "too_long", "备注不超过 200 字");

    if (json_array_size(errors) > 0) {
        json_t *extra = json_pack("{s:o, s:O}", "errors", errors, "field",
                                  json_object_get(json_array_get(errors, 0), "field"));
        return mz_fail_with(req, 422, "validation_failed", "填写的信息有误", extra);
    }
    json_decref(errors);
    if (!in_scope(req, street))
        return mz_fail(req, 404, "not_found", "没有找到该街道（乡镇）或不在您的管辖范围内");

    int64_t days = 0, created = 0, skipped_closed = 0, skipped_existing = 0;
    const char *first = NULL, *last = NULL;
    for (int64_t d = d0; d <= d1; d++) {
        char date[11];
        mz_days_to_date(d, date);
        int wd = (int)(((d % 7) + 7 + 3) % 7) + 1; /* 1970-01-01 was a Thursday; Monday = 1 */
        if (wd > 5 || !(weekdays & (1u << wd)))
            continue;
        days++;
        bool closed = false;
        if (hall_closed_day(req, date, street, &closed) != MZ_OK)
            return mz_fail_err(req, MZ_ERR_DB);
        if (closed) {
            skipped_closed += (int64_t)ntimes;
            continue;
        }
        for (size_t i = 0; i < ntimes; i++) {
            bool exists = false;
            if (slot_exists(req, street, date, times[i].from, &exists) != MZ_OK)
                return mz_fail_err(req, MZ_ERR_DB);
            if (exists) {
                skipped_existing++;
                continue;
            }
            if (!dry) {
                json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:I}", "division", street,
                                        "slot_date", date, "start_time", times[i].from,
                                        "end_time", times[i].to, "capacity",
                                        (json_int_t)times[i].capacity);
                if (matter && *matter)
                    json_object_set_new(row, "matter", json_string(matter));
                if (note && *note)
                    json_object_set_new(row, "note", json_string(note));
                int status = mz_entity_create(req, &hall_slots, row, NULL);
                json_decref(row);
                if (status)
                    return status;
            }
            created++;
            if (first == NULL)
                first = mz_arena_strdup(req->arena, date);
            last = mz_arena_strdup(req->arena, date);
        }
    }
    json_t *out = json_pack("{s:I, s:I, s:I, s:I, s:b, s:s, s:s?, s:s?}", "days", (json_int_t)days,
                            "created", (json_int_t)created, "skipped_closed",
                            (json_int_t)skipped_closed, "skipped_existing",
                            (json_int_t)skipped_existing, "dry_run", dry, "division", street,
                            "first_date", first, "last_date", last);
    return mz_reply_json(req, dry ? 200 : 201, out);
}
