/* demo.c - the service hall's part of `minzheng demo`: booking slots on the
 * working days of the coming three weeks for the first streets of 和平区
 * (the demo street officer's among them), and three synthetic citizens
 * (accounts c1390000000N with the demo password) with online applications
 * in every state (submitted, accepted into a case, returned with a reason)
 * and bookings (one ahead, one cancelled), so the hall's screens and the
 * street's lists have data on day one. Everything goes through the engine
 * (validation, history), in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "mz/auth.h"
#include "mz/validate.h"
#include "modules/hall/hall_internal.h"

#define DEMO_DAYS 21

struct demo_citizen {
    const char *phone, *name, *birth, *child, *child_birth;
    int seq;
};

static const struct demo_citizen citizens[] = {
    {"13900000001", "林秀英", "19680321", "林小雨", "20110905", 901},
    {"13900000002", "高建国", "19590712", "高丽娟", "19850208", 902},
    {"13900000003", "马淑芬", "19740119", "马天宇", "20090630", 903},
};

/* A synthetic ID number of 和平区 (GB 11643 check character) into out[19]. */
static void id_number(const char *birth, int seq, char out[19])
{
    char first[32];
    snprintf(first, sizeof(first), "120101%.8s%03d", birth, (seq % 1000 + 1000) % 1000);
    memcpy(out, first, 17);
    out[17] = mz_id_check_char(first);
    out[18] = '\0';
}

/* Clear a recorded failure so the next engine call starts clean. */
static int failed(struct mz_req *req, int status, const char *what)
{
    mz_warn("hall demo: %s failed (%d %s)", what, status,
            req->error ? json_string_value(json_object_get(req->error, "code")) : "");
    return MZ_ERR_INVALID;
}

static int slots(struct mz_req *req, const char *today, const char *street, int64_t *n)
{
    static const char *const times[][2] = {{"09:00", "10:00"}, {"10:00", "11:00"},
                                           {"14:00", "15:00"}, {"15:00", "16:00"}};
    for (int d = 0; d <= DEMO_DAYS; d++) {
        char date[11];
        mz_days_to_date(mz_date_to_days(today) + d, date);
        int64_t days = mz_date_to_days(date);
        if (((days % 7) + 7 + 3) % 7 >= 5) /* Saturday, Sunday */
            continue;
        for (size_t t = 0; t < MZ_ARRAY_LEN(times); t++) {
            json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:i}", "division", street, "slot_date",
                                   date, "start_time", times[t][0], "end_time", times[t][1],
                                   "capacity", 4);
            int status = mz_entity_create(req, &hall_slots, in, NULL);
            json_decref(in);
            if (status)
                return failed(req, status, "slot");
            (*n)++;
        }
    }
    return MZ_OK;
}

/* The id of the first slot of street on or after day (0 if none). */
static int64_t slot_on(struct mz_req *req, const char *street, const char *day)
{
    int64_t id = 0;
    const char *p[] = {street, day};
    mz_db_query_int(req->db,
                    "SELECT id FROM hall_slots WHERE division = ? AND slot_date >= ?"
                    " AND deleted_at IS NULL ORDER BY slot_date, start_time LIMIT 1",
                    &id, 2, p);
    return id;
}

int hall_demo(struct mz_app *app, struct mz_db *db, const char *password, json_t **summary)
{
    struct mz_req req = {.app = app, .db = db, .reply_fd = -1, .actor = "demo"};
    req.arena = mz_arena_new();
    char today[11], later[11];
    hall_today(today);
    int64_t nslots = 0, napps = 0, nbookings = 0;
    *summary = NULL;
    int rc = mz_db_begin_write(db);
    if (rc != MZ_OK) {
        mz_arena_free(req.arena);
        return rc;
    }
    /* The first three streets of 和平区 (the demo street officer's is the first). */
    char streets[3][13];
    int nstreets = 0;
    struct mz_stmt *st;
    rc = mz_db_prepare(db,
                       "SELECT code FROM division_codes WHERE parent = '120101000000'"
                       " AND deleted_at IS NULL ORDER BY code LIMIT 3",
                       &st);
    if (rc == MZ_OK) {
        while (mz_db_step(st) == MZ_ROW && nstreets < 3)
            snprintf(streets[nstreets++], 13, "%s", mz_db_col_text(st, 0));
        mz_db_done(st);
    }
    for (int i = 0; rc == MZ_OK && i < nstreets; i++)
        rc = slots(&req, today, streets[i], &nslots);
    for (size_t i = 0; rc == MZ_OK && i < MZ_ARRAY_LEN(citizens); i++) {
        const struct demo_citizen *c = &citizens[i];
        char idn[19], child[19];
        const char *why = NULL;
        id_number(c->birth, c->seq, idn);
        id_number(c->child_birth, c->seq + 50, child);
        const char *user = mz_arena_printf(req.arena, "c%s", c->phone);
        rc = mz_auth_add_user(db, user, c->name, password, "citizen", "120000", false, &why);
        if (rc != MZ_OK)
            break;
        req.actor = user;
        json_t *profile = json_pack("{s:s, s:s, s:s, s:s}", "username", user, "name", c->name,
                                    "id_number", idn, "phone", c->phone);
        int status = mz_entity_create(&req, mz_app_entity(app, "citizen_profiles"), profile, NULL);
        json_decref(profile);
        if (status) {
            rc = failed(&req, status, "citizen profile");
            break;
        }
        json_t *in = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}], s:s}",
            "matter", "dibao", "applicant_name", c->name, "id_number", idn,
            "phone", c->phone, "division", "120101001001", "address",
            mz_arena_printf(req.arena, "和平区劝业场街道某里 %zu 号", i + 3), "members", "name",
            c->name, "id_number", idn, "relation", "self", "monthly_income_fen", 60000 + (int)i * 10000,
            "name", c->child, "id_number", child, "relation", "child", "monthly_income_fen", 0,
            "reason", "家庭收入低，生活困难，申请救助。（演示数据）");
        json_t *row = NULL;
        status = mz_entity_create(&req, &hall_applications, in, &row);
        json_decref(in);
        if (status) {
            rc = failed(&req, status, "application");
            break;
        }
        napps++;
        int64_t id = json_integer_value(json_object_get(row, "id"));
        json_decref(row);
        /* The first waits, the second is accepted into a case, the third returned. */
        req.actor = "heping_street";
        if (i == 1) {
            json_t *body = json_pack("{s:s}", "comment", "材料齐全，予以受理（演示）");
            req.json = body;
            status = mz_entity_act(&req, &hall_applications, id, "accept", "材料齐全，予以受理（演示）",
                                   NULL);
            req.json = NULL;
            json_decref(body);
        } else if (i == 2) {
            json_t *body = json_pack("{s:s}", "comment", "请补充家庭成员收入证明后重新申请（演示）");
            req.json = body;
            status = mz_entity_act(&req, &hall_applications, id, "send_back",
                                   "请补充家庭成员收入证明后重新申请（演示）", NULL);
            req.json = NULL;
            json_decref(body);
        }
        if (status) {
            rc = failed(&req, status, "application action");
            break;
        }
        /* A booking ahead for everyone; the third citizen cancelled one. */
        req.actor = user;
        mz_days_to_date(mz_date_to_days(today) + 2 + (int64_t)i, later);
        int64_t slot = nstreets ? slot_on(&req, streets[0], later) : 0;
        if (slot == 0)
            continue;
        json_t *b = json_pack("{s:I, s:s}", "slot_id", (json_int_t)slot, "matter", "assistance_window");
        status = mz_entity_create(&req, &hall_bookings, b, &row);
        json_decref(b);
        if (status) {
            rc = failed(&req, status, "booking");
            break;
        }
        nbookings++;
        if (i == 2)
            status = mz_entity_act(&req, &hall_bookings, json_integer_value(json_object_get(row, "id")),
                                   "cancel", NULL, NULL);
        json_decref(row);
        if (status) {
            rc = failed(&req, status, "booking cancel");
            break;
        }
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    else
        mz_db_rollback(db);
    json_decref(req.error);
    mz_arena_free(req.arena);
    if (rc == MZ_OK)
        *summary = json_pack("{s:I, s:I, s:I, s:[s,s,s]}", "slots", (json_int_t)nslots,
                             "applications", (json_int_t)napps, "bookings", (json_int_t)nbookings,
                             "citizens", "c13900000001", "c13900000002", "c13900000003");
    return rc;
}
