/* payments.c - the payments list and a payment by id over packed runs.
 *
 * A packed run (docs/assistance.md, "Packed payroll snapshot") keeps its
 * paid households in packs (packs.c) and only its exceptions as rows of
 * assistance_payments, so the generic list of that entity would miss most
 * of its payments. These routes replace the generic ones for the entity:
 *
 *   GET /api/v1/assistance_payments?run_id=&case_id=&month=&program=&status=&division=
 *       &page=&size=&sort=[-]id|run_id|case_id|persons|amount_fen
 *   GET /api/v1/assistance_payments/{id}
 *   GET /api/v1/assistance_payments/export?format=csv|xlsx (same filters)
 *
 * While no packed run the request could concern exists (no packed run at
 * all, or the run_id asked for is a per-row run, or none of the program and
 * month asked for), each is answered by the engine's own handler, exactly
 * as before. Otherwise the list merges, in payment id order (newest first
 * by default; or by run, case, persons or amount, then id), the rows
 * matching the filters (the generic conditions: a division filter is the
 * division and everything below it) with the packed households of the
 * packed runs matching them: by case, the one pack per
 * run whose case range holds it; else every pack of the run, the households
 * outside the division range left out. A row carrying a packed payment's
 * id (an override, e.g. a payment the bank returned) supersedes the pack's
 * entry. The caller's scope applies to both (a community prefix). Totals
 * are capped as the generic list's (more than 10,000: total 10001 and
 * total_capped). Only the page's items are built: rows through the engine
 * (mz_entity_get: scope, masking, the trace opened by the present hook),
 * packed households from their pack, with the trace copy they name. The
 * export writes every match through the engine's export (mz_export_reply:
 * the same columns, formats, script and audit as any entity's).
 *
 * Tested by tests/api/payments_packed.test.mjs, assistance.test.mjs and
 * tests/unit/test_assistance.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "engine/engine_internal.h"
#include "modules/assistance/assistance_internal.h"

#define TOTAL_CAP 10000 /* as the generic list (docs/api.md) */

/* The engine's handler answers for the entity: name it as its route would. */
static void as_entity_route(struct mz_req *req)
{
    if (mz_req_param(req, "entity") == NULL && req->nparams < MZ_MAX_PATH_PARAMS) {
        req->param_names[req->nparams] = "entity";
        req->param_values[req->nparams++] = assist_payments.name;
    }
}

static bool positive_int(const char *s, int64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v <= 0)
        return false;
    *out = v;
    return true;
}

/* Conditions of a SELECT, each " AND <col> <op> ?" with its value (text,
 * or a number when text is NULL), bound in order. Column names and
 * operators are constants of this file. */
struct conds {
    const char *sql[8], *text[8];
    int64_t num[8];
    int n;
};

static void cond_text(struct conds *c, const char *sql, const char *v)
{
    if (v && c->n < 8) {
        c->sql[c->n] = sql;
        c->text[c->n++] = v;
    }
}

static void cond_num(struct conds *c, const char *sql, int64_t v)
{
    if (v && c->n < 8) {
        c->sql[c->n] = sql;
        c->text[c->n] = NULL;
        c->num[c->n++] = v;
    }
}

/* Prepare head + the conditions + tail, bound. */
static int conds_prepare(struct mz_db *db, const char *head, const struct conds *c,
                         const char *tail, struct mz_stmt **st)
{
    struct mz_buf sql;
    mz_buf_init(&sql, 0);
    mz_buf_puts(&sql, head);
    for (int i = 0; i < c->n; i++)
        mz_buf_puts(&sql, c->sql[i]);
    mz_buf_puts(&sql, tail);
    int rc = mz_db_prepare(db, sql.data, st);
    mz_buf_free(&sql);
    for (int i = 0; rc == MZ_OK && i < c->n; i++) {
        if (c->text[i])
            mz_db_bind_text(*st, i + 1, c->text[i]);
        else
            mz_db_bind_int(*st, i + 1, c->num[i]);
    }
    return rc;
}

/* Does a packed run match the run, program and month asked for? */
static int packed_in_play(struct mz_req *req, bool *out)
{
    const char *run = mz_req_query(req, "run_id"), *program = mz_req_query(req, "program"),
               *month = mz_req_query(req, "month");
    int64_t run_id = 0;
    *out = false;
    if (run && !positive_int(run, &run_id))
        return MZ_OK; /* the engine's answer: 400 bad_filter */
    struct conds c = {0};
    cond_num(&c, " AND id = ?", run_id);
    cond_text(&c, " AND program = ?", program);
    cond_text(&c, " AND month = ?", month);
    struct mz_stmt *st;
    int rc = conds_prepare(req->db,
                           "SELECT 1 FROM assistance_payroll_runs WHERE packed = 1"
                           " AND deleted_at IS NULL",
                           &c, " LIMIT 1", &st);
    if (rc != MZ_OK)
        return rc;
    rc = mz_db_step(st);
    *out = rc == MZ_ROW;
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

/* The filters of the packed list. */
struct pay_filter {
    int64_t run_id, case_id;
    const char *month, *program, *status;
    char lo[13], hi[13]; /* division and scope: [lo, hi) when bounded */
    bool bounded;        /* a division filter or the caller's scope applies */
    bool empty;          /* the division asked for lies outside the scope */
    bool ascending;
    int sort_col; /* SORT_ID, ... */
    int64_t page, size;
};

/* The orders of the packed list: id, or a number of the payment (then id). */
enum { SORT_ID, SORT_RUN, SORT_CASE, SORT_PERSONS, SORT_AMOUNT };
static const char *const sort_names[] = {"id", "run_id", "case_id", "persons", "amount_fen"};

struct filter_ctx {
    struct mz_req *req;
    struct pay_filter *f;
    int status;
    bool export; /* format and script belong to the export */
};

static int take_filter(void *ctx, const char *key, const char *value)
{
    struct filter_ctx *c = ctx;
    struct pay_filter *f = c->f;
    struct mz_req *req = c->req;
    if (strcmp(key, "run_id") == 0 || strcmp(key, "case_id") == 0) {
        if (!positive_int(value, strcmp(key, "run_id") == 0 ? &f->run_id : &f->case_id)) {
            c->status = mz_fail_field(req, 400, "bad_filter", "编号应为正整数", key);
            return 1;
        }
    } else if (strcmp(key, "month") == 0) {
        f->month = value;
    } else if (strcmp(key, "program") == 0) {
        f->program = value;
    } else if (strcmp(key, "status") == 0) {
        f->status = value;
    } else if (strcmp(key, "division") == 0) {
        char code[13], lo[13], hi[13];
        const char *reason;
        if (mz_division_check(value, code, &reason) != MZ_OK ||
            mz_division_range(value, lo, hi) != MZ_OK) {
            c->status = mz_fail_field(req, 400, "bad_filter", "行政区划代码无效", key);
            return 1;
        }
        if (!f->bounded || strcmp(lo, f->lo) > 0)
            memcpy(f->lo, lo, 13);
        if (!f->bounded || strcmp(hi, f->hi) < 0)
            memcpy(f->hi, hi, 13);
        f->bounded = true;
    } else if (c->export && (strcmp(key, "format") == 0 || strcmp(key, "script") == 0)) {
        return 0; /* checked by mz_export_reply */
    } else if (strcmp(key, "sort") == 0) {
        const char *name = value[0] == '-' ? value + 1 : value;
        size_t k = 0;
        while (k < MZ_ARRAY_LEN(sort_names) && strcmp(sort_names[k], name) != 0)
            k++;
        if (k == MZ_ARRAY_LEN(sort_names)) {
            c->status = mz_fail_field(req, 400, "bad_sort",
                                      "发放明细可按编号、批次、案件、人数或金额排序", key);
            return 1;
        }
        f->sort_col = (int)k;
        f->ascending = value[0] != '-';
    } else if (strcmp(key, "page") == 0 || strcmp(key, "size") == 0) {
        int64_t v = 0;
        bool page = strcmp(key, "page") == 0;
        if (!positive_int(value, &v) || v > (page ? 10000000 : 500)) {
            c->status =
                mz_fail_field(req, 400, page ? "bad_page" : "bad_size",
                              page ? "页码应为正整数" : "每页条数应为 1 到 500 之间的整数", key);
            return 1;
        }
        *(page ? &f->page : &f->size) = v;
    } else {
        c->status = mz_fail_field(
            req, 400, "unknown_filter",
            mz_arena_printf(req->arena,
                            "不支持的查询条件「%s」（发放明细可按批次、案件、月份、项目、状态、"
                            "区划查询）",
                            key),
            key);
        return 1;
    }
    return 0;
}

/* Parse the query; 0 or a status after mz_fail. */
static int parse_filter(struct mz_req *req, struct pay_filter *f, bool export)
{
    memset(f, 0, sizeof(*f));
    f->page = 1;
    f->size = 20;
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    if (scope && mz_division_range(scope, f->lo, f->hi) != MZ_OK)
        return mz_fail(req, 403, "forbidden", "无权查看");
    f->bounded = scope != NULL;
    struct filter_ctx c = {req, f, 0, export};
    mz_req_query_each(req, take_filter, &c);
    if (c.status)
        return c.status;
    f->empty = f->bounded && strcmp(f->lo, f->hi) >= 0;
    return 0;
}

/* A payment of the list: a row (seq < 0) or packed household index of pack
 * seq of runs[run]. */
struct pay_item {
    int64_t id, key; /* key: the sort column's value */
    int32_t run, seq, index;
};

struct pay_list {
    struct pay_item *items;
    size_t n, cap;
};

static void list_add(struct pay_list *l, int64_t id, int64_t key, int32_t run, int32_t seq,
                     int32_t index)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->items = mz_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = (struct pay_item){id, key, run, seq, index};
}

/* A packed run of the list. */
struct pay_run {
    int64_t id, first_id, ids;
    char program[24], month[8], created[40], updated[40];
};

/* The packed runs' columns as RUN_COLS selects them. */
#define RUN_COLS "id, first_payment_id, payment_ids, program, month, created_at, updated_at"
static void run_from(struct mz_stmt *st, struct pay_run *r)
{
    memset(r, 0, sizeof(*r));
    r->id = mz_db_col_int(st, 0);
    r->first_id = mz_db_col_int(st, 1);
    r->ids = mz_db_col_int(st, 2);
    snprintf(r->program, sizeof(r->program), "%s", mz_db_col_text(st, 3));
    snprintf(r->month, sizeof(r->month), "%s", mz_db_col_text(st, 4));
    snprintf(r->created, sizeof(r->created), "%s", mz_db_col_text(st, 5));
    snprintf(r->updated, sizeof(r->updated), "%s", mz_db_col_text(st, 6));
}

static bool in_range(const struct pay_filter *f, const char *division)
{
    return !f->bounded || (strcmp(division, f->lo) >= 0 && strcmp(division, f->hi) < 0);
}

/* The ids of rows with ids in [lo, hi) (overrides of packed payments),
 * sorted. */
int assist_payment_overrides(struct mz_db *db, int64_t lo, int64_t hi, struct assist_id_set *out)
{
    struct mz_stmt *st;
    size_t cap = 0;
    out->ids = NULL;
    out->n = 0;
    int rc = mz_db_prepare(db,
                           "SELECT id FROM assistance_payments WHERE id >= ? AND id < ?"
                           " AND deleted_at IS NULL ORDER BY id",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, lo);
    mz_db_bind_int(st, 2, hi);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            out->ids = mz_xrealloc(out->ids, cap * sizeof(*out->ids));
        }
        out->ids[out->n++] = mz_db_col_int(st, 0);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

bool assist_id_set_has(const struct assist_id_set *s, int64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->ids[lo] == id;
}

/* One household of an opened pack, if it passes the filter. */
static void take_packed(struct pay_list *l, const struct pay_filter *f, const struct pay_run *r,
                        int32_t run, const struct assist_pack *p, size_t i,
                        const struct assist_id_set *over)
{
    int64_t id = r->first_id + p->first_position + (int64_t)i;
    const struct assist_packed *h = &p->rows[i];
    int64_t key = f->sort_col == SORT_RUN       ? r->id
                  : f->sort_col == SORT_CASE    ? h->case_id
                  : f->sort_col == SORT_PERSONS ? h->persons
                  : f->sort_col == SORT_AMOUNT  ? h->amount_fen
                                                : id;
    if (in_range(f, h->division) && !assist_id_set_has(over, id))
        list_add(l, id, key, run, p->seq, (int32_t)i);
}

/* The packed households of the packed runs matching the filter. */
static int packed_items(struct mz_db *db, const struct pay_filter *f, struct pay_run **runs_out,
                        size_t *nruns_out, struct pay_list *l)
{
    struct conds c = {0};
    cond_num(&c, " AND id = ?", f->run_id);
    cond_text(&c, " AND program = ?", f->program);
    cond_text(&c, " AND month = ?", f->month);
    struct mz_stmt *st;
    int rc = conds_prepare(db,
                           "SELECT " RUN_COLS ", division FROM assistance_payroll_runs"
                           " WHERE packed = 1 AND deleted_at IS NULL",
                           &c, " ORDER BY id", &st);
    if (rc != MZ_OK)
        return rc;
    struct pay_run *runs = NULL;
    size_t nruns = 0, cap = 0;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        /* A run whose division range misses the filter's has nothing here. */
        char lo[13], hi[13];
        if (mz_division_range(mz_db_col_text(st, 7), lo, hi) != MZ_OK ||
            (f->bounded && (strcmp(hi, f->lo) <= 0 || strcmp(lo, f->hi) >= 0)))
            continue;
        if (nruns == cap) {
            cap = cap ? 2 * cap : 8;
            runs = mz_xrealloc(runs, cap * sizeof(*runs));
        }
        run_from(st, &runs[nruns++]);
    }
    mz_db_done(st);
    rc = rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
    *runs_out = runs;
    *nruns_out = nruns;
    /* A packed household is always paid unless a row overrides it. */
    if (rc != MZ_OK || (f->status && strcmp(f->status, "paid") != 0))
        return rc;
    struct assist_pack *p = nruns ? assist_pack_new() : NULL;
    for (size_t j = 0; j < nruns && rc == MZ_OK; j++) {
        const struct pay_run *r = &runs[j];
        struct assist_id_set over;
        rc = assist_payment_overrides(db, r->first_id, r->first_id + r->ids, &over);
        if (rc == MZ_OK && f->case_id) {
            size_t i;
            rc = assist_pack_load_case(db, r->id, f->case_id, p, &i);
            if (rc == MZ_OK)
                take_packed(l, f, r, (int32_t)j, p, i, &over);
            rc = rc == MZ_ERR_NOTFOUND ? MZ_OK : rc;
        } else if (rc == MZ_OK) {
            struct assist_pack_cursor *cur;
            rc = assist_packs_begin(db, r->id, &cur);
            while (rc == MZ_OK && (rc = assist_packs_next(cur, p)) == MZ_ROW) {
                rc = MZ_OK;
                for (size_t i = 0; i < p->n; i++)
                    take_packed(l, f, r, (int32_t)j, p, i, &over);
            }
            if (rc == MZ_DONE)
                rc = MZ_OK;
            if (cur)
                assist_packs_end(cur);
        }
        free(over.ids);
    }
    assist_pack_free(p);
    return rc;
}

/* The rows matching the filter. */
static int row_items(struct mz_db *db, const struct pay_filter *f, struct pay_list *l)
{
    struct conds c = {0};
    if (f->bounded) {
        cond_text(&c, " AND division >= ?", f->lo);
        cond_text(&c, " AND division < ?", f->hi);
    }
    cond_num(&c, " AND run_id = ?", f->run_id);
    cond_num(&c, " AND case_id = ?", f->case_id);
    cond_text(&c, " AND month = ?", f->month);
    cond_text(&c, " AND program = ?", f->program);
    cond_text(&c, " AND status = ?", f->status);
    char head[120];
    snprintf(head, sizeof(head),
             "SELECT id, coalesce(%s, 0) FROM assistance_payments WHERE deleted_at IS NULL",
             sort_names[f->sort_col]);
    struct mz_stmt *st;
    int rc = conds_prepare(db, head, &c, "", &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW)
        list_add(l, mz_db_col_int(st, 0), mz_db_col_int(st, 1), -1, -1, -1);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

/* By the sort column's value, then id. */
static int cmp_item(const void *a, const void *b)
{
    const struct pay_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* A packed household as a payment row (the fields of assist_payments), the
 * trace copy it names still sealed for the present hook. */
static json_t *packed_json(struct mz_req *req, const struct pay_run *r, int64_t id,
                           const struct assist_packed *h)
{
    const char *trace = NULL;
    if (h->trace_id > 0 &&
        assist_trace_copy_load(req->db, req->arena, h->trace_id, &trace) != MZ_OK)
        trace = NULL;
    json_t *row = json_pack(
        "{s:I, s:i, s:s, s:s, s:I, s:I, s:n, s:n, s:s, s:s, s:o, s:o, s:s, s:i, s:I, s:s, s:n,"
        " s:n, s:o}",
        "id", (json_int_t)id, "version", 1, "created_at", r->created, "updated_at", r->updated,
        "run_id", (json_int_t)r->id, "case_id", (json_int_t)h->case_id, "bill_id", "temporary_id",
        "program", r->program, "month", r->month, "household_id",
        h->household_id ? json_integer(h->household_id) : json_null(), "payee_person_id",
        h->payee_person_id ? json_integer(h->payee_person_id) : json_null(), "division",
        h->division, "persons", (int)h->persons, "amount_fen", (json_int_t)h->amount_fen, "status",
        "paid", "note", "reissue_of", "trace", trace ? json_string(trace) : json_null());
    mz_row_present(req, &assist_payments, row);
    return row;
}

/* A packed list request: the filter, the matching payments in order, the
 * packed runs they come from, the pack opened last. */
struct pay_query {
    struct pay_filter f;
    struct pay_list l;
    struct pay_run *runs;
    size_t nruns, next;
    struct assist_pack *p;
    int64_t open_run;
    int open_seq;
    bool export;
};

static void pay_query_free(struct pay_query *q)
{
    free(q->l.items);
    free(q->runs);
    assist_pack_free(q->p);
}

/* Parse the query and find every matching payment; 0 or a status. */
static int pay_collect(struct mz_req *req, struct pay_query *q)
{
    int status = parse_filter(req, &q->f, q->export);
    if (status)
        return status;
    int rc = q->f.empty ? MZ_OK : row_items(req->db, &q->f, &q->l);
    if (rc == MZ_OK && !q->f.empty)
        rc = packed_items(req->db, &q->f, &q->runs, &q->nruns, &q->l);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    /* Rows and packed households never share an id (overrides left out). */
    struct pay_list *l = &q->l;
    if (l->n > 1)
        qsort(l->items, l->n, sizeof(*l->items), cmp_item);
    if (!q->f.ascending) {
        for (size_t i = 0, j = l->n; i + 1 < j; i++, j--) {
            struct pay_item t = l->items[i];
            l->items[i] = l->items[j - 1];
            l->items[j - 1] = t;
        }
    }
    q->open_seq = -1;
    return 0;
}

/* Payment k of the list as the API shows it; NULL after mz_fail. */
static json_t *pay_item_json(struct mz_req *req, struct pay_query *q, size_t k)
{
    const struct pay_item *it = &q->l.items[k];
    if (it->seq < 0)
        return mz_entity_get(req, &assist_payments, it->id);
    const struct pay_run *r = &q->runs[it->run];
    if (q->p == NULL)
        q->p = assist_pack_new();
    if (q->open_run != r->id || q->open_seq != it->seq) {
        size_t at;
        int rc = assist_pack_load_position(req->db, r->id, it->id - r->first_id, q->p, &at);
        if (rc != MZ_OK) {
            mz_fail_err(req, rc);
            return NULL;
        }
        q->open_run = r->id;
        q->open_seq = q->p->seq;
    }
    return packed_json(req, r, it->id, &q->p->rows[it->index]);
}

/* GET /api/v1/assistance_payments */
int assist_h_payments(struct mz_req *req)
{
    bool packed = false;
    int rc = packed_in_play(req, &packed);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (!packed) {
        as_entity_route(req);
        return mz_h_list(req);
    }
    struct pay_query q = {0};
    int status = pay_collect(req, &q);
    if (status) {
        pay_query_free(&q);
        return status;
    }
    json_t *items = json_array();
    size_t from = (size_t)((q.f.page - 1) * q.f.size);
    for (size_t k = from; k < q.l.n && k < from + (size_t)q.f.size; k++) {
        json_t *row = pay_item_json(req, &q, k);
        if (row == NULL) {
            json_decref(items);
            pay_query_free(&q);
            return req->status;
        }
        json_array_append_new(items, row);
    }
    size_t n = q.l.n;
    pay_query_free(&q);
    bool capped = n > TOTAL_CAP;
    return mz_reply_json(req, 200,
                         json_pack("{s:o, s:I, s:b, s:I, s:I}", "items", items, "total",
                                   (json_int_t)(capped ? TOTAL_CAP + 1 : n), "total_capped", capped,
                                   "page", (json_int_t)q.f.page, "size", (json_int_t)q.f.size));
}

/* A count of POST /api/v1/counts (hook count): the list's total over packed
 * runs, else the generic count. */
int assist_payment_count(struct mz_req *req, const struct mz_entity *e, bool *handled,
                         int64_t *total, bool *capped)
{
    (void)e;
    int rc = packed_in_play(req, handled);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (!*handled)
        return 0;
    struct pay_query q = {0};
    int status = pay_collect(req, &q);
    size_t n = q.l.n;
    pay_query_free(&q);
    if (status)
        return status;
    *capped = n > TOTAL_CAP;
    *total = (int64_t)(*capped ? TOTAL_CAP + 1 : n);
    return 0;
}

static int export_open(void *ctx, struct mz_req *req, const char **filters)
{
    struct pay_query *q = ctx;
    int status = pay_collect(req, q);
    const struct pay_filter *f = &q->f;
    /* The conditions for the audit record. */
    *filters =
        mz_arena_printf(req->arena,
                        "run_id=%lld case_id=%lld month=%s program=%s status=%s"
                        " division=[%s,%s)",
                        (long long)f->run_id, (long long)f->case_id, f->month ? f->month : "",
                        f->program ? f->program : "", f->status ? f->status : "",
                        f->bounded ? f->lo : "", f->bounded ? f->hi : "");
    return status;
}

static int export_next(void *ctx, struct mz_req *req, json_t **row)
{
    struct pay_query *q = ctx;
    if (q->next >= q->l.n)
        return MZ_DONE;
    *row = pay_item_json(req, q, q->next++);
    return *row ? MZ_ROW : MZ_ERR_INVALID;
}

/* GET /api/v1/assistance_payments/export: the generic export's file over
 * the same payments as the list (every page). */
int assist_h_payments_export(struct mz_req *req)
{
    bool packed = false;
    int rc = packed_in_play(req, &packed);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    as_entity_route(req);
    if (!packed)
        return mz_h_export(req);
    struct pay_query q = {.export = true};
    struct mz_export_source src = {export_open, export_next, &q};
    int status = mz_export_reply(req, &assist_payments, &src);
    pay_query_free(&q);
    return status;
}

/* GET /api/v1/assistance_payments/{id}: a row as the engine shows it, else
 * the packed household of the packed run whose id block holds it. */
int assist_h_payment(struct mz_req *req)
{
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    const char *params[] = {idtext};
    int64_t v = 0;
    int rc = mz_db_query_int(
        req->db, "SELECT count(*) FROM assistance_payments WHERE id = CAST(? AS BIGINT)", &v, 1,
        params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (v > 0) {
        as_entity_route(req);
        return mz_h_get(req);
    }
    struct mz_stmt *st;
    rc = mz_db_prepare(req->db,
                       "SELECT " RUN_COLS " FROM assistance_payroll_runs WHERE packed = 1"
                       " AND deleted_at IS NULL AND first_payment_id <= ?"
                       " ORDER BY first_payment_id DESC LIMIT 1",
                       &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, id);
    struct pay_run r = {0};
    if ((rc = mz_db_step(st)) == MZ_ROW)
        run_from(st, &r);
    mz_db_done(st);
    if (rc < 0)
        return mz_fail_err(req, rc);
    if (r.id == 0 || id >= r.first_id + r.ids)
        return mz_fail(req, 404, "not_found", "记录不存在");
    struct assist_pack *p = assist_pack_new();
    size_t at;
    rc = assist_pack_load_position(req->db, r.id, id - r.first_id, p, &at);
    json_t *row = NULL;
    if (rc == MZ_OK) {
        const char *scope = req->app->scope ? req->app->scope(req) : NULL;
        char lo[13], hi[13];
        if (scope == NULL ||
            (mz_division_range(scope, lo, hi) == MZ_OK && strcmp(p->rows[at].division, lo) >= 0 &&
             strcmp(p->rows[at].division, hi) < 0))
            row = packed_json(req, &r, id, &p->rows[at]);
    }
    assist_pack_free(p);
    if (rc != MZ_OK && rc != MZ_ERR_NOTFOUND)
        return mz_fail_err(req, rc);
    if (row == NULL)
        return mz_fail(req, 404, "not_found", "记录不存在");
    return mz_reply_json(req, 200, row);
}

/* The person-centric view's packed payments (the person_rows hook of
 * assist_payments, for payee_person_id): the cases where one of the persons
 * is payee, applicant or member, each looked up in every packed run (one
 * pack per run), kept where the pack's payee is one of them (packs keep the
 * payee of the snapshot: a person merged since is found through the kept
 * one), the caller's scope applied. */
int assist_payment_person_rows(struct mz_req *req, const struct mz_entity *e,
                               const struct mz_field *f, const int64_t *persons, size_t n,
                               json_t *rows)
{
    (void)e;
    bool packed = false;
    int rc = strcmp(f->name, "payee_person_id") == 0 ? packed_in_play(req, &packed) : MZ_OK;
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (!packed)
        return 0;
    struct assist_id_set cases = {NULL, 0};
    size_t cap = 0;
    for (size_t i = 0; i < n && rc == MZ_OK; i++) {
        struct mz_stmt *st;
        rc = mz_db_prepare(req->db,
                           "SELECT id FROM assistance_cases WHERE deleted_at IS NULL"
                           " AND (payee_person_id = ? OR applicant_person_id = ?)"
                           " UNION SELECT case_id FROM assistance_case_members WHERE person_id = ?",
                           &st);
        if (rc != MZ_OK)
            break;
        for (int k = 1; k <= 3; k++)
            mz_db_bind_int(st, k, persons[i]);
        while ((rc = mz_db_step(st)) == MZ_ROW) {
            if (cases.n == cap) {
                cap = cap ? 2 * cap : 16;
                cases.ids = mz_xrealloc(cases.ids, cap * sizeof(*cases.ids));
            }
            cases.ids[cases.n++] = mz_db_col_int(st, 0);
        }
        mz_db_done(st);
        rc = rc == MZ_DONE ? MZ_OK : rc;
    }
    int status = rc == MZ_OK ? 0 : mz_fail_err(req, rc);
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    for (size_t c = 0; c < cases.n && status == 0; c++) {
        bool seen = false;
        for (size_t d = 0; d < c && !seen; d++)
            seen = cases.ids[d] == cases.ids[c];
        if (seen)
            continue;
        struct pay_query q = {0};
        q.f.case_id = cases.ids[c];
        q.open_seq = -1;
        if (scope && mz_division_range(scope, q.f.lo, q.f.hi) == MZ_OK)
            q.f.bounded = true;
        rc = packed_items(req->db, &q.f, &q.runs, &q.nruns, &q.l);
        if (rc != MZ_OK)
            status = mz_fail_err(req, rc);
        for (size_t k = 0; k < q.l.n && status == 0; k++) {
            json_t *row = pay_item_json(req, &q, k);
            if (row == NULL) {
                status = req->status;
                break;
            }
            json_int_t payee = json_integer_value(json_object_get(row, "payee_person_id"));
            bool mine = false;
            for (size_t i = 0; i < n && !mine; i++)
                mine = persons[i] == payee;
            if (mine)
                json_array_append_new(rows, row);
            else
                json_decref(row);
        }
        pay_query_free(&q);
    }
    free(cases.ids);
    return status;
}
