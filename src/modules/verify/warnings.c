/* warnings.c - cross-checks (预警): warning lists and their handling.
 *
 * A cross-check looks at every active assistance case (approved, paying or
 * suspended) and its members and raises a warning for:
 *   deceased_paid       a member recorded dead (registry death date, a
 *                       hukou "dead" row or a cremation in the sources in
 *                       force) while the case is still being paid;
 *   duplicate_program   a person in two active cases of programs that
 *                       exclude each other (低保 with 特困 or 低收入; 特困
 *                       with 低收入);
 *   duplicate_district  a person in active cases of one program in two
 *                       districts;
 *   staff_relative      a member who is a bureau staff member or a declared
 *                       close relative (经办人员近亲属备案) or a public
 *                       employee (财政供养人员);
 *   minor_adult         a member counted as a minor (分类施保 category
 *                       minor) who is 18 or turns 18 within 30 days;
 *   elderly_80          a member who turned 80 in the last year or turns 80
 *                       within 30 days (eligibility and increments change);
 *   review_due          a case whose periodic review (定期复核) is due within 15
 *                       days or overdue (raised once per scheduled date).
 * (Marital-status conflicts need the marriage module: not checked yet.)
 * Each warning has a fingerprint (kind, case, person, other case): a warning
 * is raised once, whatever state it reached, so a daily run never repeats
 * one that staff closed. Handling is a workflow: 待核实 -check-> 已核实
 * -handle-> 已处理 -close-> 已销号, or dismiss (误报) from the first two.
 * Runs daily as a job and on demand (POST /api/v1/verify/crosscheck);
 * GET /api/v1/verify/dashboard gives the figures for the caller's area.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_warnings.h"

const struct mz_dict_item vf_warning_items[VF_NWARNINGS] = {
    {"deceased_paid", "死亡人员仍在享受救助", "Deceased still paid"},
    {"duplicate_program", "重复享受互斥救助", "Mutually exclusive programs"},
    {"duplicate_district", "跨区重复享受救助", "Paid in two districts"},
    {"staff_relative", "工作人员或近亲属享受救助", "Staff or relative of staff"},
    {"minor_adult", "未成年人年满18周岁", "Minor turning 18"},
    {"elderly_80", "老年人年满80周岁", "Turning 80"},
    {"review_due", "定期复核到期", "Periodic review due"},
};

/* --- the entity ------------------------------------------------------------------- */

static const struct mz_field warning_fields[] = {
    {.name = "kind", .type = MZ_T_DICT, .zh = "预警类型", .en = "Kind", .dict = "verify_warning",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "case_id", .type = MZ_T_REF, .zh = "救助案件", .en = "Case", .ref = "assistance_cases",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "other_case_id", .type = MZ_T_REF, .zh = "关联案件", .en = "Other case",
     .ref = "assistance_cases", .flags = MZ_F_READONLY},
    {.name = "person_id", .type = MZ_T_REF, .zh = "人员", .en = "Person", .ref = "persons",
     .flags = MZ_F_READONLY},
    {.name = "person_name", .type = MZ_T_TEXT, .zh = "姓名", .en = "Name",
     .flags = MZ_F_READONLY | MZ_F_SEARCHABLE},
    {.name = "program", .type = MZ_T_DICT, .zh = "救助项目", .en = "Program",
     .dict = "assistance_program", .flags = MZ_F_READONLY},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "区划", .en = "Division",
     .flags = MZ_F_READONLY | MZ_F_SCOPE},
    {.name = "found_on", .type = MZ_T_DATE, .zh = "发现日期", .en = "Found on",
     .flags = MZ_F_READONLY | MZ_F_INDEXED},
    {.name = "detail", .type = MZ_T_TEXT, .zh = "预警内容", .en = "Detail",
     .flags = MZ_F_READONLY | MZ_F_MULTILINE, .max = 1000},
    {.name = "fingerprint", .type = MZ_T_TEXT, .zh = "指纹", .en = "Fingerprint",
     .flags = MZ_F_READONLY | MZ_F_HIDDEN},
    {.name = "handling", .type = MZ_T_TEXT, .zh = "处理情况", .en = "Handling",
     .flags = MZ_F_HAS_MAX | MZ_F_MULTILINE, .max = 1000},
};

static const struct mz_wf_state warning_states[] = {
    {.name = "open", .zh = "待核实", .en = "To check", .deadline_days = 10},
    {.name = "checked", .zh = "已核实", .en = "Checked", .deadline_days = 20},
    {.name = "handled", .zh = "已处理", .en = "Handled"},
    {.name = "closed", .zh = "已销号", .en = "Closed", .final = true},
};
static const struct mz_transition warning_transitions[] = {
    {.from = "open", .action = "check", .to = "checked", .zh = "核实", .en = "Check",
     .comment_required = true},
    {.from = "checked", .action = "handle", .to = "handled", .zh = "处理", .en = "Handle",
     .comment_required = true},
    {.from = "handled", .action = "close", .to = "closed", .zh = "销号", .en = "Close"},
    {.from = "open", .action = "dismiss", .to = "closed", .zh = "误报销号", .en = "Dismiss",
     .comment_required = true},
    {.from = "checked", .action = "dismiss", .to = "closed", .zh = "误报销号", .en = "Dismiss",
     .comment_required = true},
};
static const struct mz_workflow warning_workflow = {
    .name = "verify_warning",
    .initial = "open",
    .states = warning_states,
    .nstates = MZ_ARRAY_LEN(warning_states),
    .transitions = warning_transitions,
    .ntransitions = MZ_ARRAY_LEN(warning_transitions),
};

const struct mz_entity vf_warnings_entity = {
    .name = "verify_warnings",
    .zh = "预警",
    .en = "Warnings",
    .fields = warning_fields,
    .nfields = MZ_ARRAY_LEN(warning_fields),
    .flags = MZ_E_NO_CREATE | MZ_E_NO_IMPORT | MZ_E_NO_DELETE,
    .workflow = &warning_workflow,
    .default_sort = "-id",
};

/* --- the cross-check ------------------------------------------------------------------ */

/* Programs that exclude each other. */
static bool exclusive(const char *a, const char *b)
{
    static const char *const pairs[][2] = {
        {"dibao", "tekun"}, {"dibao", "low_income"}, {"tekun", "low_income"}};
    for (size_t i = 0; i < MZ_ARRAY_LEN(pairs); i++) {
        if ((strcmp(a, pairs[i][0]) == 0 && strcmp(b, pairs[i][1]) == 0) ||
            (strcmp(a, pairs[i][1]) == 0 && strcmp(b, pairs[i][0]) == 0))
            return true;
    }
    return false;
}

/* One member of one active case. */
struct cmember {
    int64_t case_id, person_id;
    char program[16], state[16], division[13];
    bool minor;
};

struct cperson {
    int64_t id;
    char name[64];
    char masked[19];
    unsigned char key[16];
    int32_t birth, deceased;
    bool found;
};

static int cmp_member(const void *a, const void *b)
{
    const struct cmember *x = a, *y = b;
    if (x->person_id != y->person_id)
        return x->person_id < y->person_id ? -1 : 1;
    return x->case_id < y->case_id ? -1 : x->case_id > y->case_id;
}

/* Read every member of every active case. */
static int read_members(struct mz_db *db, struct cmember **out, size_t *n)
{
    struct mz_stmt *st;
    size_t cap = 0;
    int rc = mz_db_prepare(db,
                           "SELECT id, program, state, division, members FROM assistance_cases"
                           " WHERE state IN ('approved', 'paying', 'suspended')"
                           " AND deleted_at IS NULL ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_error_t err;
        json_t *arr = json_loads(mz_db_col_text(st, 4) ? mz_db_col_text(st, 4) : "[]", 0, &err),
               *m;
        size_t i;
        json_array_foreach(arr, i, m) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                struct cmember *p = realloc(*out, cap * sizeof(**out));
                if (p == NULL) {
                    json_decref(arr);
                    mz_db_done(st);
                    return MZ_ERR_NOMEM;
                }
                *out = p;
            }
            struct cmember *c = &(*out)[(*n)++];
            memset(c, 0, sizeof(*c));
            c->case_id = mz_db_col_int(st, 0);
            c->person_id = json_integer_value(json_object_get(m, "person_id"));
            snprintf(c->program, sizeof(c->program), "%s", mz_db_col_text(st, 1));
            snprintf(c->state, sizeof(c->state), "%s", mz_db_col_text(st, 2));
            snprintf(c->division, sizeof(c->division), "%s", mz_db_col_text(st, 3));
            json_t *cats = json_object_get(m, "categories"), *x;
            size_t k;
            json_array_foreach(cats, k, x) {
                if (json_is_string(x) && strcmp(json_string_value(x), "minor") == 0)
                    c->minor = true;
            }
        }
        json_decref(arr);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc;
}

static int read_person(struct mz_db *db, struct mz_arena *a, struct cperson *p)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "SELECT id_number_bidx, name, birth_date, deceased_on, id_number"
                           " FROM persons WHERE id = ? AND deleted_at IS NULL",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, p->id);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        char *plain = NULL;
        p->found = vf_hex16(mz_db_col_text(st, 0), p->key);
        snprintf(p->name, sizeof(p->name), "%s", mz_db_col_text(st, 1) ? mz_db_col_text(st, 1) : "");
        p->birth = vf_date_int(mz_db_col_text(st, 2));
        p->deceased = vf_date_int(mz_db_col_text(st, 3));
        const char *sealed = mz_db_col_text(st, 4);
        if (sealed && mz_crypto_open(a, "persons.id_number", sealed, &plain, NULL) == MZ_OK &&
            strlen(plain) == 18)
            snprintf(p->masked, sizeof(p->masked), "%.6s********%.4s", plain, plain + 14);
        else
            snprintf(p->masked, sizeof(p->masked), "******");
    }
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

/* Raise one warning unless its fingerprint exists. *raised counts new ones. */
static int raise_fp(struct mz_db *db, struct mz_arena *a, const char *actor,
                    enum vf_warning kind, const struct cmember *m, int64_t other_case,
                    const struct cperson *p, const char *today, const char *detail,
                    const char *extra, int64_t *raised)
{
    const char *fp = mz_arena_printf(a, "%s:%lld:%lld:%lld%s%s", vf_warning_items[kind].code,
                                     (long long)m->case_id, (long long)p->id,
                                     (long long)other_case, extra ? ":" : "", extra ? extra : "");
    /* The unique fingerprint decides (not a SELECT first): the daily job and
     * an on-demand run on another server may raise the same warning at once. */
    int64_t id = 0;
    const void *values[] = {"open",      vf_warning_items[kind].code, &m->case_id, &p->id,
                            p->name,     m->program,                 m->division,  today,
                            detail,      fp};
    int rc = vf_insert_row_unique(db, a, actor, "verify_warnings",
                                  "state, kind, case_id, person_id, person_name, program,"
                                  " division, found_on, detail, fingerprint",
                                  10, "ttiittttt" "t", values, "fingerprint", &id);
    if (rc != MZ_OK || id == 0)
        return rc;
    if (rc == MZ_OK && other_case)
        rc = mz_db_run(db, "UPDATE verify_warnings SET other_case_id = ? WHERE id = ?", "ii",
                       other_case, id);
    if (rc == MZ_OK)
        (*raised)++;
    return rc;
}

static int raise(struct mz_db *db, struct mz_arena *a, const char *actor, enum vf_warning kind,
                 const struct cmember *m, int64_t other_case, const struct cperson *p,
                 const char *today, const char *detail, int64_t *raised)
{
    return raise_fp(db, a, actor, kind, m, other_case, p, today, detail, NULL, raised);
}

/* Cases whose periodic review is due within 15 days or overdue. */
static int reviews_due(struct mz_db *db, struct mz_arena *a, const char *actor, const char *today,
                       int64_t *raised)
{
    char until[11];
    mz_days_to_date(mz_date_to_days(today) + 15, until);
    struct mz_stmt *st;
    int rc = mz_db_prepare_uncached(db,
                                    "SELECT id, program, division, next_review_on,"
                                    " applicant_person_id, state FROM assistance_cases"
                                    " WHERE state IN ('paying', 'suspended') AND deleted_at IS NULL"
                                    " AND next_review_on IS NOT NULL AND next_review_on <= ?"
                                    " ORDER BY id",
                                    &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, until);
    struct due {
        struct cmember m;
        char next[11];
    } *list = NULL;
    size_t n = 0, cap = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct due *p = realloc(list, cap * sizeof(*p));
            if (p == NULL) {
                rc = MZ_ERR_NOMEM;
                break;
            }
            list = p;
        }
        struct due *d = &list[n++];
        memset(d, 0, sizeof(*d));
        d->m.case_id = mz_db_col_int(st, 0);
        snprintf(d->m.program, sizeof(d->m.program), "%s", mz_db_col_text(st, 1));
        snprintf(d->m.division, sizeof(d->m.division), "%s", mz_db_col_text(st, 2));
        snprintf(d->next, sizeof(d->next), "%s", mz_db_col_text(st, 3));
        d->m.person_id = mz_db_col_int(st, 4);
        snprintf(d->m.state, sizeof(d->m.state), "%s", mz_db_col_text(st, 5));
    }
    mz_db_finalize(st);
    rc = rc < 0 ? rc : MZ_OK;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        struct cperson p = {.id = list[i].m.person_id};
        rc = read_person(db, a, &p);
        if (rc != MZ_OK)
            break;
        bool overdue = strcmp(list[i].next, today) < 0;
        rc = raise_fp(db, a, actor, VF_W_REVIEW_DUE, &list[i].m, 0, &p, today,
                      mz_arena_printf(a, "案件 %lld（申请人 %s）的定期复核%s %s，请及时入户核查并核对经济状况",
                                      (long long)list[i].m.case_id, p.name,
                                      overdue ? "已于" : "将于", list[i].next),
                      list[i].next, &raised[VF_W_REVIEW_DUE]);
    }
    free(list);
    return rc;
}

int vf_crosscheck(struct mz_db *db, struct mz_arena *a, const char *actor, const char *today,
                  json_t **summary)
{
    struct cmember *ms = NULL;
    size_t n = 0;
    struct cperson *ps = NULL;
    size_t np = 0;
    int64_t raised[VF_NWARNINGS] = {0};
    struct vf_run run;
    vf_run_init(&run, a, "dibao", today);
    *summary = NULL;
    int rc = read_members(db, &ms, &n);
    if (rc != MZ_OK)
        goto out;
    if (n > 0)
        qsort(ms, n, sizeof(*ms), cmp_member);
    ps = calloc(n ? n : 1, sizeof(*ps));
    if (ps == NULL) {
        rc = MZ_ERR_NOMEM;
        goto out;
    }
    /* The distinct persons (members are sorted by person). */
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        if (i > 0 && ms[i].person_id == ms[i - 1].person_id)
            continue;
        ps[np].id = ms[i].person_id;
        rc = read_person(db, a, &ps[np]);
        np++;
    }
    if (rc != MZ_OK)
        goto out;
    /* Source evidence (deaths, staff, public employees) through the engine. */
    vf_run_household(&run, 0, 0, "120000000000", NULL);
    for (size_t i = 0; i < np && rc == MZ_OK; i++) {
        if (ps[i].found)
            rc = vf_run_member(&run, ps[i].key, ps[i].id, NULL, NULL, ps[i].birth);
    }
    if (rc == MZ_OK)
        rc = vf_run_batches(&run, db);
    for (int s = 0; s < VF_NSOURCES; s++) {
        if (s != VF_SRC_HUKOU && s != VF_SRC_CREMATION && s != VF_SRC_PUBLIC_EMPLOYEE &&
            s != VF_SRC_STAFF_RELATIVES)
            run.batches[s].id = 0;
    }
    if (rc == MZ_OK)
        rc = vf_run_scan(&run, db, np > 2000);
    if (rc != MZ_OK)
        goto out;

    int32_t t = vf_date_int(today);
    int32_t soon = vf_date_int(today); /* today + 30 days, as yyyymmdd */
    {
        char buf[11];
        mz_days_to_date(mz_date_to_days(today) + 30, buf);
        soon = vf_date_int(buf);
    }
    size_t pi = 0;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        while (pi < np && ps[pi].id < ms[i].person_id)
            pi++;
        if (pi >= np || !ps[pi].found)
            continue;
        const struct cperson *p = &ps[pi];
        const struct cmember *m = &ms[i];
        int slot = vf_run_find(&run, p->key);
        const struct vf_person *vp = slot >= 0 ? &run.persons[slot] : NULL;
        char d1[11];
        /* Deaths: the registry's or the sources'. */
        if (strcmp(m->state, "paying") == 0 && (p->deceased || (vp && vp->dead_date))) {
            int32_t when = p->deceased ? p->deceased : vp->dead_date;
            vf_date_text(when, d1);
            rc = raise(db, a, actor, VF_W_DECEASED_PAID, m, 0, p, today,
                       mz_arena_printf(a, "%s（%s）于 %s 死亡（%s），案件仍在发放中，应停发并追回多发资金",
                                       p->name, p->masked, d1,
                                       p->deceased ? "人员登记" : "户籍或火化数据"),
                       &raised[VF_W_DECEASED_PAID]);
        }
        if (rc == MZ_OK && vp && (vp->staff_relative || vp->public_employee))
            rc = raise(db, a, actor, VF_W_STAFF_RELATIVE, m, 0, p, today,
                       mz_arena_printf(a, "%s（%s）%s，享受救助须备案并从严审核", p->name, p->masked,
                                       vp->public_employee ? "为财政供养人员"
                                                           : "在经办人员近亲属备案中"),
                       &raised[VF_W_STAFF_RELATIVE]);
        /* Age thresholds. */
        if (rc == MZ_OK && m->minor && p->birth && p->birth + 180000 <= soon)
            rc = raise(db, a, actor, VF_W_MINOR_ADULT, m, 0, p, today,
                       mz_arena_printf(a, "%s（%s）按未成年人享受分类施保，%s年满 18 周岁，应调整", p->name,
                                       p->masked, p->birth + 180000 <= t ? "已" : "即将"),
                       &raised[VF_W_MINOR_ADULT]);
        if (rc == MZ_OK && p->birth && p->birth + 800000 <= soon && p->birth + 810000 > t)
            rc = raise(db, a, actor, VF_W_ELDERLY_80, m, 0, p, today,
                       mz_arena_printf(a, "%s（%s）%s年满 80 周岁，请核对高龄津贴和分类施保", p->name,
                                       p->masked, p->birth + 800000 <= t ? "已" : "即将"),
                       &raised[VF_W_ELDERLY_80]);
        /* The same person in another active case (members sorted by person). */
        for (size_t j = i + 1; j < n && ms[j].person_id == m->person_id && rc == MZ_OK; j++) {
            const struct cmember *o = &ms[j];
            if (exclusive(m->program, o->program))
                rc = raise(db, a, actor, VF_W_DUPLICATE_PROGRAM, m, o->case_id, p, today,
                           mz_arena_printf(a, "%s（%s）同时在互斥的救助项目中：案件 %lld（%s）与案件 %lld（%s）",
                                           p->name, p->masked, (long long)m->case_id, m->program,
                                           (long long)o->case_id, o->program),
                           &raised[VF_W_DUPLICATE_PROGRAM]);
            else if (strcmp(m->program, o->program) == 0 &&
                     strncmp(m->division, o->division, 6) != 0)
                rc = raise(db, a, actor, VF_W_DUPLICATE_DISTRICT, m, o->case_id, p, today,
                           mz_arena_printf(a, "%s（%s）在两个区同时享受同一救助：案件 %lld（区划 %.6s）与案件 %lld（区划 %.6s）",
                                           p->name, p->masked, (long long)m->case_id, m->division,
                                           (long long)o->case_id, o->division),
                           &raised[VF_W_DUPLICATE_DISTRICT]);
        }
    }
    if (rc == MZ_OK)
        rc = reviews_due(db, a, actor, today, raised);
    if (rc != MZ_OK)
        goto out;
    json_t *by = json_object();
    int64_t total = 0;
    for (int k = 0; k < VF_NWARNINGS; k++) {
        json_object_set_new(by, vf_warning_items[k].code, json_integer(raised[k]));
        total += raised[k];
    }
    *summary = json_pack("{s:s, s:I, s:I, s:I, s:o}", "date", today, "members", (json_int_t)n,
                         "persons", (json_int_t)np, "raised", (json_int_t)total, "by_kind", by);
out:
    vf_run_free(&run);
    free(ms);
    free(ps);
    return rc;
}

/* --- routes and the job ------------------------------------------------------------------ */

/* POST /api/v1/verify/crosscheck: run now (the whole city: warnings land in
 * each case's area; the reply counts the new ones). */
int vf_h_crosscheck(struct mz_req *req)
{
    char today[11];
    json_t *summary = NULL;
    assist_today(today);
    int rc = vf_crosscheck(req->db, req->arena, req->actor, today, &summary);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    int status = mz_audit(req, "crosscheck", "verify_warnings", 0, true, summary);
    if (status) {
        json_decref(summary);
        return status;
    }
    return mz_reply_json(req, 201, summary);
}

/* GET /api/v1/verify/dashboard: warnings by kind and state in the caller's
 * area, and the latest bulk re-check there. */
int vf_h_dashboard(struct mz_req *req)
{
    char lo[13] = "000000000000", hi[13] = "999999999999";
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    if (scope && mz_division_range(scope, lo, hi) != MZ_OK)
        strcpy(lo, hi);
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT kind, state, count(*) FROM verify_warnings WHERE division >= ?"
                           " AND division < ? AND deleted_at IS NULL GROUP BY kind, state",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, lo);
    mz_db_bind_text(st, 2, hi);
    json_t *kinds = json_object();
    int64_t open = 0, total = 0;
    for (int k = 0; k < VF_NWARNINGS; k++)
        json_object_set_new(kinds, vf_warning_items[k].code,
                            json_pack("{s:s, s:i, s:i, s:i, s:i}", "zh", vf_warning_items[k].zh,
                                      "open", 0, "checked", 0, "handled", 0, "closed", 0));
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *k = json_object_get(kinds, mz_db_col_text(st, 0));
        const char *state = mz_db_col_text(st, 1);
        int64_t c = mz_db_col_int(st, 2);
        if (k && state)
            json_object_set_new(k, state, json_integer(c));
        total += c;
        if (state && strcmp(state, "closed") != 0)
            open += c;
    }
    mz_db_done(st);
    if (rc != MZ_DONE) {
        json_decref(kinds);
        return mz_fail_err(req, rc);
    }
    json_t *last = json_null();
    rc = mz_db_prepare(req->db,
                       "SELECT id, program, as_of, households, flagged, created_at FROM"
                       " verify_requests WHERE kind = 'bulk' AND division >= ? AND division < ?"
                       " AND deleted_at IS NULL ORDER BY id DESC LIMIT 1",
                       &st);
    if (rc != MZ_OK) {
        json_decref(kinds);
        return mz_fail_err(req, rc);
    }
    mz_db_bind_text(st, 1, lo);
    mz_db_bind_text(st, 2, hi);
    if (mz_db_step(st) == MZ_ROW)
        last = json_pack("{s:I, s:s, s:s, s:I, s:I, s:s}", "request_id",
                         (json_int_t)mz_db_col_int(st, 0), "program", mz_db_col_text(st, 1),
                         "as_of", mz_db_col_text(st, 2), "households",
                         (json_int_t)mz_db_col_int(st, 3), "flagged",
                         (json_int_t)mz_db_col_int(st, 4), "at", mz_db_col_text(st, 5));
    mz_db_done(st);
    return mz_reply_json(req, 200,
                         json_pack("{s:I, s:I, s:o, s:o}", "warnings_open", (json_int_t)open,
                                   "warnings_total", (json_int_t)total, "by_kind", kinds,
                                   "last_bulk", last ? last : json_null()));
}

/* The daily job: one write transaction. */
int vf_job_crosscheck(struct mz_app *app, struct mz_db *db)
{
    (void)app;
    char today[11];
    assist_today(today);
    struct mz_arena *a = mz_arena_new();
    json_t *summary = NULL;
    int rc = mz_db_begin_write(db);
    if (rc == MZ_OK) {
        rc = vf_crosscheck(db, a, "system", today, &summary);
        if (rc == MZ_OK)
            rc = mz_db_commit(db);
        else
            mz_db_rollback(db);
    }
    if (rc == MZ_OK)
        mz_info("crosscheck %s: %lld new warnings", today,
                (long long)json_integer_value(json_object_get(summary, "raised")));
    json_decref(summary);
    mz_arena_free(a);
    return rc;
}
