/* demo.c - the verification part of the synthetic demo city.
 *
 * After the registry's demo (src/registry/demo.c) and the accounts,
 * `minzheng demo` calls vf_demo(): it turns a sample of the demo households
 * into assistance cases (mostly 低保 being paid, some 低收入 and 特困, about
 * one in eight at an earlier or later workflow stage; created through the
 * engine so every derived value is computed as for a real case, then put in
 * their state directly), records the
 * adults' authorisations (a few are left missing on purpose), delivers one
 * batch of each of the 12 sources as of yesterday with plausible shapes, and
 * runs the cross-checks and one city-wide bulk re-check so the screens have
 * something to show. The first households of 劝业场街道 are given the
 * situations the rules look for (two cars, large deposits, a second flat, a
 * shareholding, a relative of staff, a cremation while paid).
 * Everything is synthetic and drawn from one splitmix64 stream (--seed); the
 * dates follow the real calendar (a snapshot must be recent to be checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_warnings.h"
#include "modules/verify/verify_parts.h"

struct rng {
    uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t rbelow(struct rng *r, int64_t n)
{
    return n > 0 ? (int64_t)(rnext(r) % (uint64_t)n) : 0;
}

static bool rpermille(struct rng *r, int p)
{
    return rbelow(r, 1000) < p;
}

/* Rows gathered per source. */
struct gather {
    struct vf_parsed *rows;
    size_t n, cap;
};

struct demo {
    struct mz_req req;
    struct mz_arena *keep; /* the gathered rows' texts, until the batches are written */
    struct rng rng;
    struct gather src[VF_NSOURCES];
    char today[11], yesterday[11];
    int64_t cases, authorisations, missing_auth, rows;
    int planted;
    int oneoffs; /* 医疗救助 bills and 临时救助 cases (assist_demo_oneoff) */
};

/* Add one row of source s from cells in declared column order. */
static int add_row(struct demo *d, enum vf_source_id s, const char *const *cells)
{
    const struct vf_source *src = &vf_sources[s];
    int map[16];
    for (int i = 0; i < src->ncols; i++)
        map[i] = i;
    struct vf_parsed p;
    json_t *errors = json_array();
    int rc = vf_parse_row(d->keep, src, map, cells, (size_t)src->ncols, 0, &p, errors);
    json_decref(errors);
    if (rc != 0)
        return MZ_ERR_INTERNAL; /* the generator made a bad row: a bug */
    struct gather *g = &d->src[s];
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        struct vf_parsed *q = realloc(g->rows, cap * sizeof(*q));
        if (q == NULL)
            return MZ_ERR_NOMEM;
        g->rows = q;
        g->cap = cap;
    }
    g->rows[g->n++] = p;
    d->rows++;
    return MZ_OK;
}

static const char *yuan(struct demo *d, int64_t fen)
{
    return mz_arena_printf(d->req.arena, "%lld.%02lld", (long long)(fen / 100),
                           (long long)(fen % 100));
}

/* The month n months before today's month, "YYYY-MM". */
static const char *month_back(struct demo *d, int n)
{
    int y = atoi(d->today), m = atoi(d->today + 5) - n;
    while (m < 1) {
        m += 12;
        y--;
    }
    return mz_arena_printf(d->req.arena, "%04d-%02d", y, m);
}

/* A member as the generator sees it. */
struct dm {
    int64_t id;
    char id_number[19];
    char name[64];
    int age;
};

static const char *const banks[] = {"中国工商银行天津分行", "中国农业银行天津分行",
                                    "中国银行天津分行", "中国建设银行天津分行",
                                    "天津银行", "天津农商银行"};

/* The source rows of one member; plant names a situation to force (or NULL). */
static int member_sources(struct demo *d, const struct dm *m, const char *plant)
{
    struct rng *r = &d->rng;
    const char *id = m->id_number, *name = m->name;
    int rc = MZ_OK;
    bool adult = m->age >= 18;
    /* Deposits: most adults hold a little. */
    if (adult && (rpermille(r, 600) || (plant && strcmp(plant, "deposit") == 0))) {
        int64_t fen = plant && strcmp(plant, "deposit") == 0 ? 8800000 + rbelow(r, 100000)
                      : rpermille(r, 30)                     ? 4000000 + rbelow(r, 4000000)
                                                             : rbelow(r, 1500000);
        const char *c[] = {id, name, banks[rbelow(r, 6)], yuan(d, fen), d->yesterday};
        rc = add_row(d, VF_SRC_DEPOSIT, c);
    }
    if (rc == MZ_OK && adult && rpermille(r, 20)) {
        const char *c[] = {id, name, "中国证券登记结算有限责任公司", yuan(d, rbelow(r, 3000000)),
                           d->yesterday};
        rc = add_row(d, VF_SRC_SECURITIES, c);
    }
    /* Vehicles. */
    int cars = plant && strcmp(plant, "cars") == 0 ? 2 : rpermille(r, 50) ? 1 : 0;
    for (int i = 0; rc == MZ_OK && adult && i < cars; i++) {
        const char *plate = mz_arena_printf(d->req.arena, "津%c%05lld", "ABCDEFGHJK"[rbelow(r, 10)],
                                            (long long)rbelow(r, 100000));
        const char *c[] = {id, name, plate, "小型汽车", yuan(d, 1500000 + rbelow(r, 6000000)),
                           "2019-05-01"};
        rc = add_row(d, VF_SRC_VEHICLE, c);
    }
    if (rc == MZ_OK && adult && rpermille(r, 10)) {
        const char *c[] = {id, name, "津Z00001", "残疾人专用车", "8000.00", "2020-03-01"};
        rc = add_row(d, VF_SRC_VEHICLE, c);
    }
    /* Real estate. */
    int flats = plant && strcmp(plant, "flat") == 0 ? 2 : (adult && rpermille(r, 150)) ? 1 : 0;
    for (int i = 0; rc == MZ_OK && i < flats; i++) {
        const char *cert = mz_arena_printf(d->req.arena, "津(20%02lld)不动产权第%07lld号",
                                           (long long)(10 + rbelow(r, 15)),
                                           (long long)rbelow(r, 10000000));
        const char *area = mz_arena_printf(d->req.arena, "%lld.%02lld",
                                           (long long)(35 + rbelow(r, 60)), (long long)rbelow(r, 100));
        const char *c[] = {id, name, cert, "天津市某区某路某号（演示）", "住宅", area, ""};
        rc = add_row(d, VF_SRC_REALESTATE, c);
    }
    /* Business registrations. */
    if (rc == MZ_OK && adult && (rpermille(r, 8) || (plant && strcmp(plant, "business") == 0))) {
        const char *c[] = {id, name, "", "天津演示商贸有限公司", "股东",
                           yuan(d, 5000000 + rbelow(r, 20000000))};
        rc = add_row(d, VF_SRC_BUSINESS, c);
    }
    /* Taxed wages for some working-age adults, 12 months. */
    if (rc == MZ_OK && m->age >= 18 && m->age < 60 && rpermille(r, 80)) {
        int64_t wage = 60000 + rbelow(r, 150000);
        for (int k = 1; k <= 12 && rc == MZ_OK; k++) {
            const char *c[] = {id, name, month_back(d, k), yuan(d, wage + rbelow(r, 20000))};
            rc = add_row(d, VF_SRC_TAX, c);
        }
        if (rc == MZ_OK && rpermille(r, 300)) {
            const char *c[] = {id, name, yuan(d, wage), yuan(d, wage / 10), month_back(d, 1)};
            rc = add_row(d, VF_SRC_HOUSING_FUND, c);
        }
    }
    /* Pensions for the elderly. */
    if (rc == MZ_OK && m->age >= 60 && rpermille(r, 300)) {
        int64_t pension = 40000 + rbelow(r, 80000);
        for (int k = 1; k <= 3 && rc == MZ_OK; k++) {
            const char *c[] = {id, name, "养老金领取", yuan(d, pension), month_back(d, k)};
            rc = add_row(d, VF_SRC_SOCIAL_INSURANCE, c);
        }
    }
    if (rc == MZ_OK && adult && rpermille(r, 3)) {
        const char *c[] = {id, name, "天津市某区某局（演示）", "科员"};
        rc = add_row(d, VF_SRC_PUBLIC_EMPLOYEE, c);
    }
    if (rc == MZ_OK && (rpermille(r, 3) || (plant && strcmp(plant, "staff") == 0))) {
        const char *c[] = {id, name, "配偶", "王某（演示）", "和平区民政局"};
        rc = add_row(d, VF_SRC_STAFF_RELATIVES, c);
    }
    if (rc == MZ_OK && (rpermille(r, 4) || (plant && strcmp(plant, "dead") == 0))) {
        char when[11];
        mz_days_to_date(mz_date_to_days(d->today) - 20 - rbelow(r, 60), when);
        const char *c[] = {id, name, mz_arena_strdup(d->req.arena, when), "天津市第一殡仪馆"};
        rc = add_row(d, VF_SRC_CREMATION, c);
        if (rc == MZ_OK) {
            const char *h[] = {id, name, "死亡", mz_arena_strdup(d->req.arena, when)};
            rc = add_row(d, VF_SRC_HUKOU, h);
        }
    }
    return rc;
}

/* A Luhn-valid 19-digit card number. */
static void bank_card(struct demo *d, char out[20])
{
    memcpy(out, "622848", 6);
    for (int i = 6; i < 18; i++)
        out[i] = (char)('0' + rbelow(&d->rng, 10));
    int sum = 0;
    for (int i = 17, dbl = 1; i >= 0; i--, dbl ^= 1) {
        int v = out[i] - '0';
        if (dbl) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    out[18] = (char)('0' + (10 - sum % 10) % 10);
    out[19] = '\0';
}

/* One household as a paying 低保 case with its authorisations and sources. */
static int demo_case(struct demo *d, int64_t household_id, const char *division)
{
    struct dm ms[8];
    int n = 0, adults = 0;
    struct mz_stmt *st;
    int rc = mz_db_prepare(d->req.db,
                           "SELECT p.id, p.id_number, p.name, p.birth_date FROM household_members m"
                           " JOIN persons p ON p.id = m.person_id WHERE m.household_id = ?"
                           " AND m.to_date IS NULL AND m.deleted_at IS NULL AND p.deleted_at IS NULL"
                           " AND p.deceased_on IS NULL ORDER BY m.id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, household_id);
    int year = atoi(d->today);
    while ((rc = mz_db_step(st)) == MZ_ROW && n < 8) {
        char *plain = NULL;
        if (mz_crypto_open(d->req.arena, "persons.id_number", mz_db_col_text(st, 1), &plain,
                           NULL) != MZ_OK || strlen(plain) != 18)
            continue;
        struct dm *m = &ms[n++];
        m->id = mz_db_col_int(st, 0);
        snprintf(m->id_number, sizeof(m->id_number), "%s", plain);
        snprintf(m->name, sizeof(m->name), "%s", mz_db_col_text(st, 2) ? mz_db_col_text(st, 2) : "");
        const char *birth = mz_db_col_text(st, 3);
        m->age = birth ? year - atoi(birth) : 40;
        adults += m->age >= 18;
    }
    mz_db_done(st);
    if (rc < 0)
        return rc;
    if (n == 0 || adults == 0)
        return MZ_OK;
    int applicant = 0;
    while (ms[applicant].age < 18)
        applicant++;
    json_t *members = json_array();
    for (int i = 0; i < n; i++) {
        json_t *m = json_pack("{s:I, s:I, s:s}", "person_id", (json_int_t)ms[i].id,
                              "monthly_income_fen",
                              (json_int_t)(ms[i].age >= 18 && ms[i].age < 60 ? rbelow(&d->rng, 60000)
                                                                             : 0),
                              "authorisation_scan",
                              mz_arena_printf(d->req.arena, "demo/授权书-%lld.pdf", (long long)ms[i].id));
        if (ms[i].age < 18)
            json_object_set_new(m, "categories", json_pack("[s]", "minor"));
        else if (ms[i].age >= 70)
            json_object_set_new(m, "categories", json_pack("[s]", "elderly"));
        json_array_append_new(members, m);
    }
    char card[20];
    bank_card(d, card);
    /* Most cases are 低保 being paid; some are 低收入 or (a lone elderly
     * person) 特困, and some are at earlier or later stages of the workflow. */
    const char *program = "dibao", *state = "paying";
    int64_t roll = rbelow(&d->rng, 1000);
    if (n == 1 && ms[0].age >= 60 && roll < 300)
        program = "tekun";
    else if (roll < 120)
        program = "low_income";
    static const char *const stages[] = {"draft", "accepted", "investigated", "verified",
                                         "approved", "suspended"};
    int64_t stage = rbelow(&d->rng, 100);
    if (stage < 12)
        state = stages[stage % 6];
    json_t *input = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o}", "program", program,
                              "household_id", (json_int_t)household_id, "applicant_person_id",
                              (json_int_t)ms[applicant].id, "division", division, "start_month",
                              month_back(d, 3), "bank_name", banks[rbelow(&d->rng, 6)],
                              "bank_account", card, "reason", "家庭收入低于当地低保标准（演示数据）",
                              "members", members);
    json_t *row = NULL;
    const struct mz_entity *ce = mz_app_entity(d->req.app, "assistance_cases");
    int status = mz_entity_create(&d->req, ce, input, &row);
    json_decref(input);
    if (status) {
        /* A household the case rules refuse (e.g. no standard): skip it. */
        d->req.failed = false;
        d->req.status = 0;
        json_decref(d->req.error);
        d->req.error = NULL;
        return MZ_OK;
    }
    int64_t case_id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    rc = mz_db_run(d->req.db, "UPDATE assistance_cases SET state = ? WHERE id = ?", "ti", state,
                   case_id);
    if (rc == MZ_OK && (!strcmp(state, "paying") || !strcmp(state, "suspended"))) {
        /* Reviews scheduled over the coming half year; a few overdue. */
        static const char *const categories[] = {"fixed", "stable", "stable", "variable"};
        char next[11];
        mz_days_to_date(mz_date_to_days(d->today) - 20 + rbelow(&d->rng, 200), next);
        rc = mz_db_run(d->req.db,
                       "UPDATE assistance_cases SET review_category = ?, next_review_on = ?"
                       " WHERE id = ?",
                       "tti", categories[rbelow(&d->rng, 4)], next, case_id);
    }
    if (rc != MZ_OK)
        return rc;
    d->cases++;
    /* About 3% of them also have a 医疗救助 bill or a 临时救助 case. */
    int64_t extra = rbelow(&d->rng, 1000);
    if (extra < 30)
        rc = assist_demo_oneoff(&d->req, ms[applicant].id, division, program, n, d->today, card,
                                extra, &d->oneoffs);
    if (rc != MZ_OK)
        return rc;
    static const char *const plants[] = {"cars", "deposit", "flat", "business", "staff", "dead"};
    const struct mz_entity *ae = mz_app_entity(d->req.app, "verify_authorisations");
    for (int i = 0; i < n && rc == MZ_OK; i++) {
        const char *plant = NULL;
        if (d->planted < (int)MZ_ARRAY_LEN(plants) && strncmp(division, "120101001", 9) == 0 &&
            ms[i].age >= 18 && i == applicant)
            plant = plants[d->planted++];
        rc = member_sources(d, &ms[i], plant);
        if (rc != MZ_OK || ms[i].age < 18)
            continue;
        if (rpermille(&d->rng, 15)) {
            d->missing_auth++;
            continue;
        }
        char signed_on[11], until[11];
        mz_days_to_date(mz_date_to_days(d->today) - 100 - rbelow(&d->rng, 200), signed_on);
        mz_days_to_date(mz_date_to_days(signed_on) + 730, until);
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id_number", ms[i].id_number,
                              "name", ms[i].name, "signed_on", signed_on, "valid_until", until,
                              "scan",
                              mz_arena_printf(d->req.arena, "demo/授权书-%lld.pdf", (long long)ms[i].id),
                              "division", division);
        json_object_set_new(a, "household_id", json_integer(household_id));
        status = mz_entity_create(&d->req, ae, a, NULL);
        json_decref(a);
        if (status)
            return MZ_ERR_INTERNAL;
        d->authorisations++;
    }
    return rc;
}

int vf_demo(struct mz_app *app, struct mz_db *db, uint64_t seed, int max_cases, json_t **summary)
{
    struct demo d;
    memset(&d, 0, sizeof(d));
    d.req = (struct mz_req){.app = app, .db = db, .reply_fd = -1, .actor = "demo"};
    d.req.arena = mz_arena_new();
    d.keep = mz_arena_new();
    d.rng.s = seed ^ 0x5A17C0DE5EEDull;
    assist_today(d.today);
    mz_days_to_date(mz_date_to_days(d.today) - 1, d.yesterday);
    *summary = NULL;
    int64_t total = 0;
    int rc = mz_db_query_int(db, "SELECT count(*) FROM households WHERE deleted_at IS NULL", &total,
                             0, NULL);
    if (rc == MZ_OK)
        rc = mz_db_begin_write(db);
    if (rc != MZ_OK) {
        mz_arena_free(d.req.arena);
        mz_arena_free(d.keep);
        return rc;
    }
    /* Every household of the first community of 劝业场街道 (the demo community
     * worker's), then a sample of the city. */
    struct mz_stmt *st;
    int64_t *ids = NULL;
    char (*divs)[13] = NULL;
    size_t nids = 0, cap = 0;
    rc = mz_db_prepare_uncached(db,
                                "SELECT id, division FROM households WHERE deleted_at IS NULL"
                                " AND division NOT LIKE '%000' ORDER BY id",
                                &st);
    if (rc == MZ_OK) {
        /* The share drawn per mille, or per million when that rounds below 1%
         * (a 14,000,000-person city's ~5.7 M households share 5,000 cases:
         * 0 per mille, and then only the demo community's were drawn). */
        int64_t scale = 1000;
        int64_t share = total > 0 ? (int64_t)max_cases * scale / total : 0;
        if (total > 0 && share < 10) {
            scale = 1000000;
            share = (int64_t)max_cases * scale / total;
        }
        int local = 0;
        while ((rc = mz_db_step(st)) == MZ_ROW) {
            const char *div = mz_db_col_text(st, 1);
            bool mine = div && strcmp(div, "120101001001") == 0 && local < 40;
            if (!mine && rbelow(&d.rng, scale) >= share)
                continue;
            local += mine;
            if (nids == cap) {
                cap = cap ? cap * 2 : 256;
                ids = realloc(ids, cap * sizeof(*ids));
                divs = realloc(divs, cap * sizeof(*divs));
                if (ids == NULL || divs == NULL) {
                    rc = MZ_ERR_NOMEM;
                    break;
                }
            }
            ids[nids] = mz_db_col_int(st, 0);
            snprintf(divs[nids], 13, "%s", div ? div : "");
            nids++;
        }
        mz_db_finalize(st);
        rc = rc < 0 ? rc : MZ_OK;
    }
    /* The demo community's households first, so the planted situations land there. */
    for (int pass = 0; pass < 2 && rc == MZ_OK; pass++) {
        for (size_t i = 0; i < nids && rc == MZ_OK; i++) {
            bool mine = strcmp(divs[i], "120101001001") == 0;
            if ((pass == 0) != mine)
                continue;
            rc = demo_case(&d, ids[i], divs[i]);
            if ((d.cases % 200) == 0) {
                mz_arena_free(d.req.arena);
                d.req.arena = mz_arena_new();
            }
        }
    }
    free(ids);
    free(divs);
    /* One batch of each source, as of yesterday. */
    for (int s = 0; s < VF_NSOURCES && rc == MZ_OK; s++) {
        struct gather *g = &d.src[s];
        if (g->n == 0)
            continue;
        int64_t batch = 0, n = (int64_t)g->n, zero = 0;
        const void *values[] = {"active", vf_sources[s].code, vf_sources[s].department,
                                d.yesterday, "file", "演示数据.csv", &n, &n, &zero,
                                "120000000000", "演示数据（合成，非真实个人信息）"};
        rc = vf_insert_row(db, d.req.arena, "demo", "verify_batches",
                           "state, source, department, as_of, channel, file_name, rows_total,"
                           " rows_accepted, rows_rejected, division, note",
                           11, "ttttttiiitt", values, &batch);
        if (rc == MZ_OK)
            rc = vf_store_write(db, batch, (enum vf_source_id)s, g->rows, g->n);
    }
    json_t *cross = NULL, *bulk = NULL;
    if (rc == MZ_OK)
        rc = vf_crosscheck(db, d.req.arena, "demo", d.today, &cross);
    if (rc == MZ_OK) {
        char lo[13], hi[13];
        mz_division_range("120000", lo, hi);
        struct vf_bulk_opts o = {.program = "dibao", .as_of = d.today, .lo = lo, .hi = hi,
                                 .actor = "demo", .note = "演示：全市低保全面复核"};
        int64_t req_id = 0;
        rc = vf_bulk(db, d.req.arena, &o, &req_id, &bulk);
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    else
        mz_db_rollback(db);
    if (rc == MZ_OK)
        *summary = json_pack("{s:I, s:i, s:I, s:I, s:I, s:O, s:O}", "cases", (json_int_t)d.cases,
                             "one_off_cases", d.oneoffs,
                             "authorisations", (json_int_t)d.authorisations,
                             "authorisations_missing", (json_int_t)d.missing_auth, "source_rows",
                             (json_int_t)d.rows, "warnings", json_object_get(cross, "by_kind"),
                             "recheck", json_object_get(bulk, "outcomes"));
    json_decref(cross);
    json_decref(bulk);
    for (int s = 0; s < VF_NSOURCES; s++)
        free(d.src[s].rows);
    json_decref(d.req.error);
    mz_arena_free(d.req.arena);
    mz_arena_free(d.keep);
    return rc;
}
