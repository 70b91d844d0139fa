/* list.c - lists with filters, search, sort and paging; and export.
 *
 * The query string is turned into SQL in one place, mz_query_build(): every
 * column name comes from the entity's declaration (never from the client),
 * every value is a bound parameter, so no input reaches the SQL text. Filters
 * by field type:
 *   field=v          exact (division fields: v and everything below it)
 *   field.gte/.lte   ranges for integers, money, dates and times
 *   field.like       substring of text (LIKE with % and _ escaped)
 *   field.in=a,b     one of several values (at most 50)
 *   field.null=true  absent / present
 *   q=...            any searchable field: substring of text, exact ID
 *                    number, phone or bank card
 * The caller's data scope is added as a range on the scope field. Rows come
 * sorted by the requested keys with id as the tie-breaker, so pages are
 * stable. Tested by tests/api/list.test.mjs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "mz/hant.h"
#include "mz/table.h"

#define LIST_SIZE_DEFAULT 20
#define LIST_SIZE_MAX 500
/* Lists count at most this many matches plus one: a broad search over
 * millions of persons answers with total = LIST_TOTAL_CAP + 1 and
 * total_capped = true instead of counting every row (docs/api.md). */
#define LIST_TOTAL_CAP 10000
/* A q= search is a person looking for someone: a thousand matches is
 * already "refine the query", and counting further costs the most. */
#define SEARCH_TOTAL_CAP 1000
#define FILTER_IN_MAX 50
/* Counts in one POST /api/v1/counts. */
#define COUNTS_MAX 100
#define Q_MAX_CHARS 100
#define EXPORT_MAX_ROWS 1000000

/* A pseudo-field for the system columns that can be filtered and sorted. */
static const struct mz_field sys_id = {.name = "id", .type = MZ_T_INT, .zh = "编号", .en = "ID"};
static const struct mz_field sys_state = {.name = "state", .type = MZ_T_TEXT, .zh = "状态",
                                          .en = "State"};
static const struct mz_field sys_state_due = {.name = "state_due", .type = MZ_T_DATE,
                                              .zh = "办理期限", .en = "Due"};
static const struct mz_field sys_created = {.name = "created_at", .type = MZ_T_DATETIME,
                                            .zh = "创建时间", .en = "Created at"};
static const struct mz_field sys_updated = {.name = "updated_at", .type = MZ_T_DATETIME,
                                            .zh = "修改时间", .en = "Updated at"};

/* The field (declared or system) a filter or sort key names, or NULL. */
static const struct mz_field *column_field(const struct mz_entity *e, const char *name)
{
    const struct mz_field *f = mz_entity_field(e, name);
    if (f)
        return f;
    if (strcmp(name, "id") == 0)
        return &sys_id;
    if (strcmp(name, "state") == 0 && e->workflow)
        return &sys_state;
    if (strcmp(name, "state_due") == 0 && e->workflow)
        return &sys_state_due;
    if (strcmp(name, "created_at") == 0)
        return &sys_created;
    if (strcmp(name, "updated_at") == 0)
        return &sys_updated;
    return NULL;
}

struct build_ctx {
    struct mz_req *req;
    const struct mz_entity *e;
    struct mz_query *q;
    int status;
    /* The range on the scope field: the caller's scope narrowed by any
     * division filter on that field, emitted once at the end so the planner
     * sees one range (two ranges on one index make SQLite scan the wider). */
    const struct mz_field *scope_field;
    bool has_range;   /* a scope or a filter set the range */
    bool empty;       /* the scope and a filter are disjoint */
    bool broad;       /* only the caller's scope, a province or city: not selective */
    char lo[13], hi[13];
};

/* Narrow the scope-field range by [lo, hi). Division ranges are prefixes, so
 * two of them are nested or disjoint. */
static void narrow_range(struct build_ctx *c, const char *lo, const char *hi, bool broad)
{
    if (!c->has_range) {
        memcpy(c->lo, lo, 13);
        memcpy(c->hi, hi, 13);
        c->has_range = true;
        c->broad = broad;
        return;
    }
    if (strcmp(lo, c->hi) >= 0 || strcmp(hi, c->lo) <= 0) {
        c->empty = true;
        return;
    }
    if (strcmp(lo, c->lo) > 0)
        memcpy(c->lo, lo, 13);
    if (strcmp(hi, c->hi) < 0)
        memcpy(c->hi, hi, 13);
    c->broad = c->broad && broad;
}

/* Add a parameter; false (and 400) when there are too many. */
static bool add_param(struct build_ctx *c, bool is_int, int64_t i, const char *s)
{
    struct mz_query *q = c->q;
    if (q->nparams >= (int)MZ_ARRAY_LEN(q->params)) {
        c->status = mz_fail(c->req, 400, "bad_filter", "筛选条件过多");
        return false;
    }
    q->params[q->nparams].is_int = is_int;
    q->params[q->nparams].i = i;
    q->params[q->nparams].s = s;
    q->nparams++;
    return true;
}

/* Strict decimal int64 parse. */
static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Convert a filter value to its stored form: an integer or normalised text.
 * Returns false (400 recorded) when it does not fit the type. */
static bool filter_value(struct build_ctx *c, const struct mz_field *f, const char *name,
                         const char *raw, bool *is_int, int64_t *i, const char **s)
{
    *is_int = mz_field_is_integer(f);
    if (f->type == MZ_T_BOOL) {
        if (strcmp(raw, "true") == 0 || strcmp(raw, "1") == 0)
            *i = 1;
        else if (strcmp(raw, "false") == 0 || strcmp(raw, "0") == 0)
            *i = 0;
        else
            goto bad;
        return true;
    }
    if (*is_int) {
        if (!parse_int(raw, i))
            goto bad;
        return true;
    }
    if (f == &sys_state || f->type == MZ_T_TEXT || f->type == MZ_T_DICT || f->type == MZ_T_JSON ||
        f->type == MZ_T_DATETIME) {
        if (!mz_utf8_text_ok(raw, strlen(raw)))
            goto bad;
        *s = raw;
        return true;
    }
    /* Typed text: normalise like a stored value (ID upgrade, phone digits). */
    json_t *v = json_string(raw), *norm = NULL;
    const char *code, *message;
    int rc = v ? mz_field_normalise(c->req->app, f, v, &norm, &code, &message) : MZ_ERR_INVALID;
    json_decref(v);
    if (rc != MZ_OK)
        goto bad;
    *s = mz_arena_strdup(c->req->arena, json_string_value(norm));
    json_decref(norm);
    return true;
bad:
    c->status = mz_fail_field(c->req, 400, "bad_filter",
                              mz_arena_printf(c->req->arena, "筛选条件「%s」的值不符合字段类型",
                                              f->zh ? f->zh : name),
                              name);
    return false;
}

/* For a sealed field, turn a converted filter value into its blind index. */
static void seal_filter_value(struct build_ctx *c, const struct mz_field *f, bool *is_int,
                              int64_t iv, const char **sv)
{
    if (!mz_field_sealed(f))
        return;
    const char *text = *is_int ? mz_arena_printf(c->req->arena, "%lld", (long long)iv) : *sv;
    if (f->type == MZ_T_BOOL)
        text = iv ? "true" : "false";
    *sv = mz_field_blind(c->req, c->e, f, text);
    *is_int = false;
}

/* The column a filter compares: the blind index for sealed fields. */
static const char *filter_column(struct build_ctx *c, const struct mz_field *f)
{
    if (mz_field_sealed(f))
        return mz_arena_printf(c->req->arena, "%s_bidx", f->name);
    return f->name;
}

/* Escape % _ and \ for LIKE ... ESCAPE '\'. */
static const char *like_pattern(struct mz_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = mz_arena_alloc(a, n * 2 + 3), *o = out;
    *o++ = '%';
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

/* One filter key=value from the query string. */
static int add_filter(void *ctx, const char *key, const char *value)
{
    struct build_ctx *c = ctx;
    struct mz_buf *w = &c->q->where;
    static const char *const reserved[] = {"page", "size",   "sort",    "q", "format",
                                           "script", "mode", "version", "_"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(reserved); i++) {
        if (strcmp(key, reserved[i]) == 0)
            return 0;
    }
    if (value == NULL)
        value = "";
    char name[64];
    const char *op = strchr(key, '.');
    size_t nlen = op ? (size_t)(op - key) : strlen(key);
    if (nlen >= sizeof(name))
        goto unknown;
    memcpy(name, key, nlen);
    name[nlen] = '\0';
    op = op ? op + 1 : "eq";
    const struct mz_field *f = column_field(c->e, name);
    if (f == NULL)
        goto unknown;
    bool is_int;
    int64_t iv = 0;
    const char *sv = NULL;

    if (strcmp(op, "null") == 0) {
        bool want_null;
        if (strcmp(value, "true") == 0)
            want_null = true;
        else if (strcmp(value, "false") == 0)
            want_null = false;
        else {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "null 条件的值应为 true 或 false",
                                      key);
            return 1;
        }
        mz_buf_printf(w, " AND %s IS %sNULL", f->name, want_null ? "" : "NOT ");
        return 0;
    }
    if (strcmp(op, "eq") == 0 && f->type == MZ_T_DIVISION) {
        char lo[13], hi[13];
        if (mz_division_range(value, lo, hi) != MZ_OK) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "行政区划代码无效", key);
            return 1;
        }
        if (f == c->scope_field) {
            char norm[13];
            const char *why;
            narrow_range(c, lo, hi,
                         mz_division_check(lo, norm, &why) == MZ_OK && mz_division_level(norm) <= 2);
            return 0;
        }
        mz_buf_printf(w, " AND %s >= ? AND %s < ?", f->name, f->name);
        if (!add_param(c, false, 0, mz_arena_strdup(c->req->arena, lo)) ||
            !add_param(c, false, 0, mz_arena_strdup(c->req->arena, hi)))
            return 1;
        return 0;
    }
    if (strcmp(op, "eq") == 0 || strcmp(op, "ne") == 0) {
        if (!filter_value(c, f, key, value, &is_int, &iv, &sv))
            return 1;
        seal_filter_value(c, f, &is_int, iv, &sv);
        mz_buf_printf(w, " AND %s %s ?", filter_column(c, f), op[0] == 'e' ? "=" : "<>");
        return add_param(c, is_int, iv, sv) ? 0 : 1;
    }
    if (mz_field_sealed(f) && strcmp(op, "in") != 0) {
        c->status = mz_fail_field(c->req, 400, "bad_filter", "加密保存的字段只支持精确查询", key);
        return 1;
    }
    if (strcmp(op, "gte") == 0 || strcmp(op, "lte") == 0) {
        bool ordered = mz_field_is_integer(f) || f->type == MZ_T_DATE ||
                       f->type == MZ_T_DATETIME || f->type == MZ_T_DIVISION;
        if (!ordered || f->type == MZ_T_BOOL) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "该字段不支持范围筛选", key);
            return 1;
        }
        if (f->type == MZ_T_DATE && mz_date_check(value, &sv) != MZ_OK) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "日期无效，应为 YYYY-MM-DD", key);
            return 1;
        }
        if (!filter_value(c, f, key, value, &is_int, &iv, &sv))
            return 1;
        mz_buf_printf(w, " AND %s %s ?", f->name, op[0] == 'g' ? ">=" : "<=");
        return add_param(c, is_int, iv, sv) ? 0 : 1;
    }
    if (strcmp(op, "like") == 0) {
        if (mz_field_is_integer(f) || (f->flags & MZ_F_SENSITIVE)) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "该字段不支持模糊查询", key);
            return 1;
        }
        if (!mz_utf8_text_ok(value, strlen(value)) || mz_utf8_length(value, strlen(value)) > Q_MAX_CHARS) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "查询内容无效或过长", key);
            return 1;
        }
        mz_buf_printf(w, " AND %s LIKE ? ESCAPE '\\'", f->name);
        return add_param(c, false, 0, like_pattern(c->req->arena, value)) ? 0 : 1;
    }
    if (strcmp(op, "in") == 0) {
        char *copy = mz_arena_strdup(c->req->arena, value), *save = NULL;
        int n = 0;
        mz_buf_printf(w, " AND %s IN (", filter_column(c, f));
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (++n > FILTER_IN_MAX) {
                c->status = mz_fail_field(c->req, 400, "bad_filter", "in 条件的值过多（最多 50 个）",
                                          key);
                return 1;
            }
            if (!filter_value(c, f, key, tok, &is_int, &iv, &sv))
                return 1;
            seal_filter_value(c, f, &is_int, iv, &sv);
            mz_buf_puts(w, n > 1 ? ", ?" : "?");
            if (!add_param(c, is_int, iv, sv))
                return 1;
        }
        if (n == 0) {
            c->status = mz_fail_field(c->req, 400, "bad_filter", "in 条件需要至少一个值", key);
            return 1;
        }
        mz_buf_puts(w, ")");
        return 0;
    }
unknown:
    c->status = mz_fail_field(c->req, 400, "unknown_filter",
                              mz_arena_printf(c->req->arena, "不支持的查询条件「%s」", key), key);
    return 1;
}

/* The q= search over searchable fields. */
static int add_search(struct build_ctx *c, const char *text)
{
    const struct mz_entity *e = c->e;
    struct mz_buf *w = &c->q->where;
    size_t len = strlen(text);
    if (!mz_utf8_text_ok(text, len) || mz_utf8_length(text, len) > Q_MAX_CHARS)
        return c->status = mz_fail_field(c->req, 400, "bad_filter", "查询内容无效或过长", "q");
    int terms = 0;
    mz_buf_puts(w, " AND (");
    for (size_t i = 0; i < e->nfields; i++) {
        const struct mz_field *f = &e->fields[i];
        if (!(f->flags & MZ_F_SEARCHABLE))
            continue;
        if ((f->type == MZ_T_TEXT || f->type == MZ_T_DICT) && !mz_field_sealed(f)) {
            mz_buf_printf(w, "%s%s LIKE ? ESCAPE '\\'", terms ? " OR " : "", f->name);
            if (!add_param(c, false, 0, like_pattern(c->req->arena, text)))
                return c->status;
            terms++;
        } else if (f->type == MZ_T_IDNUM || f->type == MZ_T_PHONE || f->type == MZ_T_BANKCARD ||
                   f->type == MZ_T_USCC) {
            json_t *v = json_string(text), *norm = NULL;
            const char *code, *message;
            if (v && mz_field_normalise(c->req->app, f, v, &norm, &code, &message) == MZ_OK) {
                const char *val = mz_arena_strdup(c->req->arena, json_string_value(norm));
                if (mz_field_sealed(f))
                    val = mz_field_blind(c->req, e, f, val);
                mz_buf_printf(w, "%s%s = ?", terms ? " OR " : "", filter_column(c, f));
                if (!add_param(c, false, 0, val))
                    return c->status;
                terms++;
            }
            json_decref(v);
            json_decref(norm);
        }
    }
    if (terms == 0)
        mz_buf_puts(w, "1 = 0");
    mz_buf_puts(w, ")");
    return 0;
}

/* sort=a,-b into an ORDER BY clause. */
static int build_order(struct build_ctx *c, const char *sort)
{
    struct mz_buf o;
    bool has_id = false;
    mz_buf_init(&o, 0);
    if (sort == NULL || *sort == '\0')
        sort = c->e->default_sort ? c->e->default_sort : "-id";
    char *copy = mz_arena_strdup(c->req->arena, sort), *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool desc = tok[0] == '-';
        const char *name = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
        const struct mz_field *f = column_field(c->e, name);
        if (f == NULL || f->type == MZ_T_JSON || mz_field_sealed(f) || ++n > 5) {
            mz_buf_free(&o);
            return c->status = mz_fail_field(
                       c->req, 400, "bad_sort",
                       mz_arena_printf(c->req->arena, "不能按「%s」排序", name), "sort");
        }
        if (f == &sys_id)
            has_id = true;
        mz_buf_printf(&o, "%s%s %s", n > 1 ? ", " : "", f->name, desc ? "DESC" : "ASC");
    }
    if (!has_id)
        mz_buf_printf(&o, "%sid DESC", n ? ", " : "");
    c->q->order = mz_arena_strdup(c->req->arena, o.data);
    mz_buf_free(&o);
    return 0;
}

int mz_query_build(struct mz_req *req, const struct mz_entity *e, struct mz_query *q,
                   int64_t depth)
{
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    struct build_ctx c = {.req = req, .e = e, .q = q, .scope_field = rt->scope_field};
    memset(q, 0, sizeof(*q));
    q->depth = depth;
    mz_buf_init(&q->where, 65536);
    mz_buf_puts(&q->where, " WHERE deleted_at IS NULL");
    if (rt->scope_field && req->app->scope) {
        const char *scope = req->app->scope(req);
        if (scope) {
            char lo[13], hi[13];
            if (mz_division_range(scope, lo, hi) != MZ_OK) {
                /* An unusable scope sees nothing: fail closed. */
                c.empty = true;
                c.has_range = true;
            } else {
                char norm[13];
                const char *reason;
                int level = mz_division_check(lo, norm, &reason) == MZ_OK ? mz_division_level(norm)
                                                                          : 5;
                narrow_range(&c, lo, hi, level <= 2);
            }
        }
    }
    const char *owner = req->app->owner ? req->app->owner(req) : NULL;
    if (owner) {
        mz_buf_puts(&q->where, " AND created_by = ?");
        add_param(&c, false, 0, owner);
    }
    size_t plain_len = q->where.len; /* field filters append to where */
    mz_req_query_each(req, add_filter, &c);
    if (c.status)
        return c.status;
    q->scope_only = owner == NULL && q->where.len == plain_len && !c.empty;
    if (q->scope_only && c.has_range) {
        memcpy(q->scope_lo, c.lo, sizeof(q->scope_lo));
        memcpy(q->scope_hi, c.hi, sizeof(q->scope_hi));
    }
    if (c.empty) {
        mz_buf_puts(&q->where, " AND 1 = 0");
    } else if (c.has_range && mz_division_level(c.lo) == 5) {
        /* One community: an equality lets the index deliver rows in id
         * order, so a page needs no sort. */
        mz_buf_printf(&q->where, " AND %s = ?", rt->scope_field->name);
        add_param(&c, false, 0, mz_arena_strdup(req->arena, c.lo));
    } else if (c.has_range) {
        const char *p = c.broad ? mz_db_dialect(req->db, MZ_SQL_NO_INDEX) : "";
        size_t at = q->where.len;
        mz_buf_printf(&q->where, " AND %s%s >= ? AND %s%s < ?", p, rt->scope_field->name, p,
                      rt->scope_field->name);
        if (!c.broad) {
            q->range_col = rt->scope_field->name;
            q->range_at = at;
            q->range_end = q->where.len;
        }
        add_param(&c, false, 0, mz_arena_strdup(req->arena, c.lo));
        add_param(&c, false, 0, mz_arena_strdup(req->arena, c.hi));
    }
    if (c.status)
        return c.status; /* too many parameters: never run with the scope unbound */
    const char *text = mz_req_query(req, "q");
    if (text && *text) {
        if (e->hooks && e->hooks->search) {
            size_t len = strlen(text);
            if (!mz_utf8_text_ok(text, len) || mz_utf8_length(text, len) > Q_MAX_CHARS)
                return mz_fail_field(req, 400, "bad_filter", "查询内容无效或过长", "q");
            int st = e->hooks->search(req, e, text, q);
            if (st)
                return st;
        } else if (add_search(&c, text)) {
            return c.status;
        }
    }
    if (build_order(&c, mz_req_query(req, "sort")))
        return c.status;
    if (q->where.len >= q->where.max - 1)
        return mz_fail(req, 400, "bad_filter", "查询条件过长");
    return 0;
}

int mz_query_add(struct mz_query *q, const char *sql, int nparams, const char *const *params)
{
    if (q->nparams + nparams > (int)MZ_ARRAY_LEN(q->params))
        return MZ_ERR_TOOBIG;
    if (mz_buf_printf(&q->where, " AND (%s)", sql) != MZ_OK)
        return MZ_ERR_TOOBIG;
    for (int i = 0; i < nparams; i++) {
        q->params[q->nparams].is_int = false;
        q->params[q->nparams].s = params[i];
        q->nparams++;
    }
    return MZ_OK;
}

int mz_query_add_sub(struct mz_query *q, const char *sql, int nparams,
                     const char *const *params)
{
    static const char mark[] = "{where}";
    const size_t mlen = sizeof(mark) - 1;
    const char *filters = q->where.data + strlen(" WHERE "); /* mz_query_build's start */
    struct mz_sql_param p[MZ_ARRAY_LEN(q->params)];
    int n = 0, given = 0, rc = MZ_OK;
    struct mz_buf out;
    mz_buf_init(&out, q->where.max);
    for (const char *s = sql; *s && rc == MZ_OK;) {
        if (strncmp(s, mark, mlen) == 0) {
            if (n + q->nparams > (int)MZ_ARRAY_LEN(p))
                rc = MZ_ERR_TOOBIG;
            else {
                memcpy(p + n, q->params, (size_t)q->nparams * sizeof(*p));
                n += q->nparams;
                rc = mz_buf_printf(&out, "(%s)", filters);
            }
            s += mlen;
            continue;
        }
        size_t run = strcspn(s, "?{");
        if (run == 0) { /* a placeholder, or a brace that is not a mark */
            if (*s == '?') {
                if (given == nparams || n == (int)MZ_ARRAY_LEN(p)) {
                    rc = given == nparams ? MZ_ERR_INVALID : MZ_ERR_TOOBIG;
                    break;
                }
                p[n].is_int = false;
                p[n++].s = params[given++];
            }
            run = 1;
        }
        if (rc == MZ_OK)
            rc = mz_buf_append(&out, s, run);
        s += run;
    }
    if (rc == MZ_OK && given != nparams)
        rc = MZ_ERR_INVALID;
    if (rc == MZ_OK && q->nparams + n > (int)MZ_ARRAY_LEN(q->params))
        rc = MZ_ERR_TOOBIG;
    if (rc == MZ_OK && mz_buf_printf(&q->where, " AND (%s)", out.data) != MZ_OK)
        rc = MZ_ERR_TOOBIG;
    if (rc == MZ_OK) {
        memcpy(q->params + q->nparams, p, (size_t)n * sizeof(*p));
        q->nparams += n;
    }
    mz_buf_free(&out);
    return rc;
}

int64_t mz_query_depth(const struct mz_query *q)
{
    return q->depth;
}

bool mz_query_scope_only(const struct mz_query *q, const char **lo, const char **hi)
{
    bool range = q->scope_only && q->scope_lo[0];
    *lo = range ? q->scope_lo : NULL;
    *hi = range ? q->scope_hi : NULL;
    return q->scope_only;
}

/* qsort: ids descending. */
static int id_desc_cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a > b ? -1 : a < b;
}

int mz_query_set_ids(struct mz_query *q, const int64_t *ids, size_t n)
{
    int64_t *copy = n ? malloc(n * sizeof(*copy)) : NULL;
    if (n && copy == NULL)
        return MZ_ERR_NOMEM;
    if (n) {
        memcpy(copy, ids, n * sizeof(*copy));
        qsort(copy, n, sizeof(*copy), id_desc_cmp);
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept == 0 || copy[kept - 1] != copy[i])
            copy[kept++] = copy[i];
    }
    free(q->ids);
    q->ids = copy;
    q->nids = kept;
    q->has_ids = true;
    return MZ_OK;
}

void mz_query_bind(struct mz_stmt *st, const struct mz_query *q, int first)
{
    for (int i = 0; i < q->nparams; i++) {
        if (q->params[i].is_int)
            mz_db_bind_int(st, first + i, q->params[i].i);
        else
            mz_db_bind_text(st, first + i, q->params[i].s);
    }
}

void mz_query_free(struct mz_query *q)
{
    free(q->ids);
    q->ids = NULL;
    mz_buf_free(&q->where);
}

/* --- counts cached per thread ---------------------------------------------------
 *
 * A list's total costs the most of a page on a large table (a street of a
 * million rows: 10,000 index entries counted for 20 rows shown). The totals
 * are kept per thread (each thread has its own connection) under the exact
 * statement and parameters that counted them (scope and owner included: they
 * are parameters) and the database's data version when they were counted:
 * PRAGMA data_version moves on any commit by another connection, this
 * process's other threads and other processes alike, and the connection's
 * own total of changed rows on its own writes. A total is served only while
 * both are unchanged, so a write anywhere drops every cached total: never a
 * stale total, at the price of recounting after writes. Not used inside a
 * transaction (its own uncommitted rows may be rolled back) nor on
 * PostgreSQL (no data version: several servers share the database; counts
 * are recounted there). */
#define COUNT_SETS 256 /* x COUNT_WAYS slots, the least recently used replaced */
#define COUNT_WAYS 4
#define COUNT_SLOTS (COUNT_SETS * COUNT_WAYS)
#define COUNT_KEY_MAX 384

struct count_slot {
    int64_t version[2]; /* mz_db_data_version() when counted */
    int64_t value;
    uint64_t hash;
    uint64_t used; /* the thread's use counter at the last hit, 0 = free */
    char key[COUNT_KEY_MAX];
};

/* The thread's slots (~400 KB, allocated on its first list, zero pages
 * untouched until used), freed when the thread ends. */
static pthread_key_t count_key_tls;
static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static bool count_key_ok; /* false: no cache (counts every time) */

static void count_key_create(void)
{
    count_key_ok = pthread_key_create(&count_key_tls, free) == 0;
}

static struct count_slot *count_slots(void)
{
    pthread_once(&count_once, count_key_create);
    if (!count_key_ok)
        return NULL;
    struct count_slot *slots = pthread_getspecific(count_key_tls);
    if (slots == NULL) {
        slots = mz_xcalloc(COUNT_SLOTS, sizeof(*slots));
        if (pthread_setspecific(count_key_tls, slots) != 0) {
            free(slots);
            return NULL;
        }
    }
    return slots;
}

/* The key of a count: statement and parameters; false if too long to keep. */
static bool count_key(const char *sql, const struct mz_query *q, char *out, uint64_t *hash)
{
    struct mz_buf b;
    mz_buf_init(&b, COUNT_KEY_MAX - 1);
    bool ok = mz_buf_puts(&b, sql) == MZ_OK;
    for (int i = 0; ok && i < q->nparams; i++) {
        if (q->params[i].is_int)
            ok = mz_buf_printf(&b, "\x1f%lld", (long long)q->params[i].i) == MZ_OK;
        else
            ok = mz_buf_printf(&b, "\x1e%s", q->params[i].s ? q->params[i].s : "\x1d") == MZ_OK;
    }
    if (ok && b.len < COUNT_KEY_MAX) {
        memcpy(out, b.data, b.len + 1);
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < b.len; i++)
            h = (h ^ (unsigned char)b.data[i]) * 1099511628211ULL;
        *hash = h;
    } else {
        ok = false;
    }
    mz_buf_free(&b);
    return ok;
}

/* Run a one-integer statement (sql with q's parameters), through the cache
 * when version is set. */
static int count_run(struct mz_req *req, const char *sql, const struct mz_query *q,
                     const int64_t *version, int64_t *out)
{
    char key[COUNT_KEY_MAX];
    uint64_t hash = 0;
    struct count_slot *slot = NULL;
    struct count_slot *slots = version ? count_slots() : NULL;
    if (slots && count_key(sql, q, key, &hash)) {
        struct count_slot *set = &slots[(hash % COUNT_SETS) * COUNT_WAYS];
        static _Thread_local uint64_t uses;
        uses++;
        for (int w = 0; w < COUNT_WAYS; w++) {
            struct count_slot *c = &set[w];
            if (c->used && c->hash == hash && strcmp(c->key, key) == 0) {
                if (c->version[0] == version[0] && c->version[1] == version[1]) {
                    c->used = uses;
                    *out = c->value;
                    return MZ_OK;
                }
                slot = c; /* stale: recount into the same slot */
                break;
            }
            if (slot == NULL || c->used < slot->used)
                slot = c;
        }
        slot->used = uses;
    }
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK)
        return rc;
    mz_query_bind(st, q, 1);
    rc = mz_db_step(st);
    *out = rc == MZ_ROW ? mz_db_col_int(st, 0) : 0;
    mz_db_done(st);
    if (rc < 0)
        return rc;
    if (slot) {
        slot->hash = hash;
        slot->version[0] = version[0];
        slot->version[1] = version[1];
        slot->value = *out;
        memcpy(slot->key, key, strlen(key) + 1);
    }
    return MZ_OK;
}

/* A page in id order over a division range: the range's index yields every
 * matching id, to be sorted for 20 (a street of a million rows: 10,000 ids,
 * ~1.3 ms); walking the table backwards by id and testing the range reads
 * about (offset + size) x rows / matches rows instead (~2,000, ~0.2 ms).
 * Chosen when that estimate is below the matches; rows is the highest id
 * (an over-estimate when rows were deleted, which favours the index). */
static bool page_by_table_walk(const struct mz_query *q, int64_t total, int64_t rows,
                               int64_t offset, int64_t size)
{
    if (q->range_col == NULL || q->range_end <= q->range_at || strcmp(q->order, "id DESC") != 0 ||
        total <= 0 || rows <= 0)
        return false;
    double read = (double)(offset + size) * (double)rows / (double)total;
    return read < (double)total;
}

/* A positive integer query parameter with bounds, or 400 with code. */
static int64_t page_param(struct mz_req *req, const char *name, int64_t def, int64_t max,
                          const char *code, const char *message)
{
    const char *s = mz_req_query(req, name);
    int64_t v;
    if (s == NULL)
        return def;
    if (!parse_int(s, &v) || v < 1 || v > max) {
        mz_fail_field(req, 400, code, message, name);
        return 0;
    }
    return v;
}

/* A list's total for the request's query arguments, as GET /api/v1/<e>
 * counts it (filters, scope, q, sort; page and size for a search's depth). */
struct list_total {
    int64_t total;      /* up to the cap + 1 */
    bool capped;        /* more than the cap */
    bool cacheable;     /* version holds the database's data version */
    int64_t version[2];
};

/* Build the list query into *q (always initialised: the caller frees it) and
 * count its matches. 0, or a status after mz_fail. */
static int list_total(struct mz_req *req, const struct mz_entity *e, int64_t page, int64_t size,
                      struct mz_query *q, struct list_total *out)
{
    const char *qtext = mz_req_query(req, "q");
    int cap = qtext && *qtext ? SEARCH_TOTAL_CAP : LIST_TOTAL_CAP;
    /* A search looks at the count cap + 1 or the page's end, in the default
     * order; with another sort it needs every match (mz_query_depth). */
    const char *sort = mz_req_query(req, "sort");
    if (sort == NULL || *sort == '\0')
        sort = e->default_sort ? e->default_sort : "-id";
    int64_t depth = strcmp(sort, "-id") == 0 ? page * size : 0;
    if (depth && depth < cap + 1)
        depth = cap + 1;
    int status = mz_query_build(req, e, q, depth);
    if (status)
        return status;

    /* Count up to the cap (+1 tells "more than the cap"), not the whole match. */
    out->total = 0;
    out->cacheable =
        !mz_db_in_transaction(req->db) && mz_db_data_version(req->db, out->version) == MZ_OK;
    if (q->has_ids) { /* the search hook found the matches: counted, not queried */
        out->total = (int64_t)q->nids > cap + 1 ? cap + 1 : (int64_t)q->nids;
    } else {
        char *sql = mz_arena_printf(req->arena,
                                    "SELECT count(*) FROM (SELECT 1 FROM %s%s LIMIT %d) AS capped",
                                    e->name, q->where.data, cap + 1);
        int rc = count_run(req, sql, q, out->cacheable ? out->version : NULL, &out->total);
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
    }
    out->capped = out->total > cap;
    return 0;
}

/* Append the row the statement is on to a list's items text. */
static void list_item(struct mz_req *req, const struct mz_entity_rt *rt, struct mz_stmt *st,
                      struct mz_buf *items)
{
    if (items->len > 0)
        mz_buf_append(items, ",", 1);
    mz_row_write(req, rt, st, items);
}

/* The page [offset, offset + size) of the ids a search hook found (in id
 * order descending): only those rows are read, through the query's filters
 * again (a row changed since its index entry was written is left out, never
 * shown out of scope). 0 or a status. */
static int list_page_of_ids(struct mz_req *req, const struct mz_entity *e,
                            const struct mz_query *q, int64_t offset, int64_t size,
                            struct mz_buf *items)
{
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    if (offset >= (int64_t)q->nids)
        return 0;
    size_t n = (size_t)((int64_t)q->nids - offset < size ? (int64_t)q->nids - offset : size);
    struct mz_buf marks;
    mz_buf_init(&marks, 0);
    for (size_t i = 0; i < n; i++)
        mz_buf_puts(&marks, i ? ", ?" : "?");
    char *sql = mz_arena_printf(req->arena, "SELECT %s FROM %s%s AND id IN (%s) ORDER BY %s",
                                rt->select_cols, e->name, q->where.data, marks.data, q->order);
    mz_buf_free(&marks);
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_query_bind(st, q, 1);
    for (size_t i = 0; i < n; i++)
        mz_db_bind_int(st, q->nparams + 1 + (int)i, q->ids[offset + (int64_t)i]);
    while ((rc = mz_db_step(st)) == MZ_ROW)
        list_item(req, rt, st, items);
    mz_db_done(st);
    return rc < 0 ? mz_fail_err(req, rc) : 0;
}

int mz_h_list(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, e);
    int64_t page = page_param(req, "page", 1, 10000000, "bad_page", "页码应为正整数");
    if (page == 0)
        return req->status;
    int64_t size = page_param(req, "size", LIST_SIZE_DEFAULT, LIST_SIZE_MAX, "bad_size",
                              "每页条数应为 1 到 500 之间的整数");
    if (size == 0)
        return req->status;

    struct mz_query q;
    struct mz_stmt *st = NULL;
    struct mz_buf items;
    mz_buf_init(&items, 0);
    struct list_total count;
    int rc;
    int status = list_total(req, e, page, size, &q, &count);
    if (status)
        goto out;
    int64_t total = count.total;
    bool capped = count.capped;
    bool cacheable = count.cacheable;
    int64_t *version = count.version;
    if (q.has_ids) {
        status = list_page_of_ids(req, e, &q, (page - 1) * size, size, &items);
        if (status)
            goto out;
    } else if (capped || (page - 1) * size < total) {
        /* Page the ids first: the sort then carries ids, not whole rows. */
        const char *where = q.where.data;
        const char *noindex = mz_db_dialect(req->db, MZ_SQL_NO_INDEX);
        int64_t rows = 0;
        if (q.range_col && *noindex && strcmp(q.order, "id DESC") == 0) {
            struct mz_query none = {.nparams = 0};
            char *max_sql = mz_arena_printf(req->arena, "SELECT max(id) FROM %s", e->name);
            if (count_run(req, max_sql, &none, cacheable ? version : NULL, &rows) != MZ_OK)
                rows = 0; /* no estimate: keep the index */
        }
        if (page_by_table_walk(&q, total, rows, (page - 1) * size, size))
            where = mz_arena_printf(req->arena, "%.*s AND %s%s >= ? AND %s%s < ?%s",
                                    (int)q.range_at, q.where.data, noindex, q.range_col, noindex,
                                    q.range_col, q.where.data + q.range_end);
        char *sql = mz_arena_printf(req->arena,
                              "SELECT %s FROM %s WHERE id IN (SELECT id FROM %s%s ORDER BY %s"
                              " LIMIT ? OFFSET ?) ORDER BY %s",
                              rt->select_cols, e->name, e->name, where, q.order, q.order);
        rc = mz_db_prepare(req->db, sql, &st);
        if (rc != MZ_OK) {
            status = mz_fail_err(req, rc);
            goto out;
        }
        mz_query_bind(st, &q, 1);
        mz_db_bind_int(st, q.nparams + 1, size);
        mz_db_bind_int(st, q.nparams + 2, (page - 1) * size);
        while ((rc = mz_db_step(st)) == MZ_ROW)
            list_item(req, rt, st, &items);
        mz_db_done(st);
        st = NULL;
        if (rc < 0) {
            status = mz_fail_err(req, rc);
            goto out;
        }
    }
    /* The reply as jansson's compact dump of {items, total, total_capped,
     * page, size} would give it; the rows were written as text. */
    struct mz_buf body;
    mz_buf_init(&body, 0);
    mz_buf_append(&body, "{\"items\":[", 10);
    mz_buf_append(&body, items.data ? items.data : "", items.len);
    mz_buf_printf(&body, "],\"total\":%" PRId64 ",\"total_capped\":%s,\"page\":%" PRId64
                  ",\"size\":%" PRId64 "}",
                  total, capped ? "true" : "false", page, size);
    status = mz_reply_json_text(req, 200, body.data, body.len);
    mz_buf_free(&body);
out:
    if (st)
        mz_db_done(st);
    mz_buf_free(&items);
    mz_query_free(&q);
    return status;
}

/* Put the count's index in front of the field a failure named:
 * "counts[3].filter.state_due.lte" (or prefix alone when none was named). */
static void counts_field(struct mz_req *req, const char *prefix)
{
    if (!json_is_object(req->error))
        return;
    const char *f = json_string_value(json_object_get(req->error, "field"));
    const char *full = f && *f ? mz_arena_printf(req->arena, "%s.%s", prefix, f) : prefix;
    json_object_set_new(req->error, "field", mz_json_str(full));
}

/* One count of POST /api/v1/counts: the filter's members as query arguments,
 * then the list's own count. Appends {"entity","total","total_capped"} to out,
 * or returns a status after mz_fail (its field inside the request body). */
static int counts_one(struct mz_req *req, json_t *item, size_t i, json_t *out)
{
    const char *at = mz_arena_printf(req->arena, "counts[%zu]", i);
    if (!json_is_object(item))
        return mz_fail_field(req, 400, "bad_request", "每一项应为对象 {entity, filter}", at);
    const char *key;
    json_t *v;
    json_object_foreach(item, key, v)
    {
        if (strcmp(key, "entity") != 0 && strcmp(key, "filter") != 0)
            return mz_fail_field(req, 400, "unknown_field", "每一项只能有 entity 和 filter",
                                 mz_arena_printf(req->arena, "%s.%s", at, key));
    }
    const char *name = json_string_value(json_object_get(item, "entity"));
    const struct mz_entity *e = name ? mz_app_entity(req->app, name) : NULL;
    if (e == NULL)
        return mz_fail_field(req, 400, "unknown_entity", "没有这类业务数据",
                             mz_arena_printf(req->arena, "%s.entity", at));
    /* The permission GET /api/v1/<e> needs ("{entity}.read" with the name). */
    if (!mz_req_may(req, mz_arena_printf(req->arena, "%s.read", e->name)))
        return mz_fail_field(req, 403, "forbidden", "没有查看这类数据的权限",
                             mz_arena_printf(req->arena, "%s.entity", at));
    json_t *filter = json_object_get(item, "filter");
    const char *fat = mz_arena_printf(req->arena, "%s.filter", at);
    if (filter != NULL && !json_is_null(filter) && !json_is_object(filter))
        return mz_fail_field(req, 400, "bad_request", "filter 应为对象（查询参数 → 文本值）", fat);
    size_t n = json_is_object(filter) ? json_object_size(filter) : 0;
    const char **pairs = mz_arena_alloc(req->arena, (2 * n + 1) * sizeof(*pairs));
    int np = 0;
    if (n > 0) {
        json_object_foreach(filter, key, v)
        {
            if (!json_is_string(v))
                return mz_fail_field(req, 400, "bad_filter", "筛选条件的值应为文本",
                                     mz_arena_printf(req->arena, "%s.%s", fat, key));
            pairs[2 * np] = key;
            pairs[2 * np + 1] = json_string_value(v);
            np++;
        }
    }
    struct mz_query q;
    struct list_total count;
    req->query_pairs = pairs;
    req->nquery_pairs = np;
    /* An entity whose list a module route answers counts as that route. */
    bool handled = false;
    int status = 0;
    if (e->hooks && e->hooks->count)
        status = e->hooks->count(req, e, &handled, &count.total, &count.capped);
    if (status == 0 && !handled) {
        status = list_total(req, e, 1, LIST_SIZE_DEFAULT, &q, &count);
        mz_query_free(&q);
    }
    req->query_pairs = NULL;
    req->nquery_pairs = 0;
    if (status) {
        counts_field(req, fat);
        return status;
    }
    json_t *c = json_object();
    json_object_set_new(c, "entity", json_string(e->name));
    json_object_set_new(c, "total", json_integer(count.total));
    json_object_set_new(c, "total_capped", json_boolean(count.capped));
    json_array_append_new(out, c);
    return 0;
}

int mz_h_counts(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "counts") != 0)
            return mz_fail_field(req, 400, "unknown_field", "请求体只能有 counts", key);
    }
    json_t *list = json_object_get(body, "counts");
    if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > COUNTS_MAX)
        return mz_fail_field(req, 400, "bad_request",
                             mz_arena_printf(req->arena, "counts 应为 1 到 %d 项的数组", COUNTS_MAX),
                             "counts");
    json_t *out = json_array();
    size_t i;
    json_array_foreach(list, i, v)
    {
        int status = counts_one(req, v, i, out);
        if (status) {
            json_decref(out);
            return status;
        }
    }
    json_t *reply = json_object();
    json_object_set_new(reply, "counts", out);
    return mz_reply_json(req, 200, reply);
}

/* A temporary file path for an export or an upload; the caller unlinks it. */
static char *temp_path(struct mz_req *req, const char *what)
{
    const char *dir = getenv("TMPDIR");
    char *path = mz_arena_printf(req->arena, "%s/mz-%s-XXXXXX", dir && *dir ? dir : "/tmp", what);
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    close(fd);
    return path;
}

/* The generic export's rows: the entity's table with the list's filters. */
struct export_sql {
    const struct mz_entity *e;
    struct mz_query q;
    bool built;
    struct mz_stmt *st;
};

static int export_sql_open(void *ctx, struct mz_req *req, const char **filters)
{
    struct export_sql *x = ctx;
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, x->e);
    int status = mz_query_build(req, x->e, &x->q, 0); /* every match */
    x->built = true;
    if (status)
        return status;
    *filters = x->q.where.data;
    char *sql = mz_arena_printf(req->arena, "SELECT %s FROM %s%s ORDER BY %s LIMIT %d",
                                rt->select_cols, x->e->name, x->q.where.data, x->q.order,
                                EXPORT_MAX_ROWS);
    int rc = mz_db_prepare_uncached(req->db, sql, &x->st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_query_bind(x->st, &x->q, 1);
    return 0;
}

static int export_sql_next(void *ctx, struct mz_req *req, json_t **row)
{
    struct export_sql *x = ctx;
    int rc = mz_db_step(x->st);
    if (rc == MZ_ROW)
        *row = mz_row_from_stmt(req, mz_entity_rt_of(req->app, x->e), x->st, false);
    return rc;
}

int mz_h_export(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    struct export_sql x = {.e = e};
    struct mz_export_source src = {export_sql_open, export_sql_next, &x};
    int status = mz_export_reply(req, e, &src);
    if (x.st)
        mz_db_finalize(x.st);
    if (x.built)
        mz_query_free(&x.q);
    return status;
}

int mz_export_reply(struct mz_req *req, const struct mz_entity *e,
                    const struct mz_export_source *src)
{
    const char *format = mz_req_query(req, "format");
    enum mz_table_format fmt;
    if (format == NULL || strcmp(format, "csv") == 0)
        fmt = MZ_TABLE_CSV;
    else if (strcmp(format, "xlsx") == 0)
        fmt = MZ_TABLE_XLSX;
    else
        return mz_fail_field(req, 400, "bad_request", "导出格式应为 csv 或 xlsx", "format");
    /* script=hant: every text cell in Traditional Chinese (OpenCC). */
    const char *script = mz_req_query(req, "script");
    bool hant = script && strcmp(script, "hant") == 0;
    if (script && !hant && strcmp(script, "hans") != 0)
        return mz_fail_field(req, 400, "bad_request", "文字应为 hans（简体）或 hant（繁体）", "script");
    if (hant && !mz_hant_ready())
        return mz_fail(req, 503, "unavailable", "繁体转换不可用（缺少 OpenCC 数据）");
    if (mz_rate_check(req, "export"))
        return req->status;

    struct mz_table_writer *w = NULL;
    char *path = NULL;
    const char *filters = "";
    int status = src->open(src->ctx, req, &filters), rc;
    if (status)
        goto out;
    path = temp_path(req, "export");
    const char *sheet = e->zh;
    if (hant)
        mz_hant(req->arena, e->zh, &sheet);
    if (path == NULL || mz_table_writer_open(path, fmt, sheet, &w) != MZ_OK) {
        status = mz_fail(req, 500, "internal", "无法创建导出文件");
        goto out;
    }
    /* Header: id, every field, state, created_at, updated_at. */
    size_t ncols = 1 + e->nfields + (e->workflow ? 1 : 0) + 2;
    const char **cells = mz_arena_calloc(req->arena, ncols, sizeof(*cells));
    char *kinds = mz_arena_calloc(req->arena, ncols + 1, 1);
    size_t k = 0;
    cells[k] = "id";
    kinds[k++] = 'n';
    for (size_t i = 0; i < e->nfields; i++) {
        cells[k] = e->fields[i].name;
        kinds[k++] = mz_field_is_integer(&e->fields[i]) && e->fields[i].type != MZ_T_BOOL ? 'n' : 's';
    }
    if (e->workflow) {
        cells[k] = "state";
        kinds[k++] = 's';
    }
    cells[k] = "created_at";
    kinds[k++] = 's';
    cells[k] = "updated_at";
    kinds[k++] = 's';
    if (mz_table_write_row(w, cells, NULL, ncols) != MZ_OK) {
        status = mz_fail(req, 500, "internal", "写入导出文件失败");
        goto out;
    }
    struct mz_arena *rowarena = mz_arena_new();
    json_t *row = NULL;
    while ((rc = src->next(src->ctx, req, &row)) == MZ_ROW) {
        k = 0;
        cells[k++] = mz_value_text(rowarena, &sys_id, json_object_get(row, "id"));
        for (size_t i = 0; i < e->nfields; i++)
            cells[k++] = mz_value_text(rowarena, &e->fields[i],
                                       json_object_get(row, e->fields[i].name));
        if (e->workflow)
            cells[k++] = mz_value_text(rowarena, &sys_state, json_object_get(row, "state"));
        cells[k++] = mz_value_text(rowarena, &sys_created, json_object_get(row, "created_at"));
        cells[k++] = mz_value_text(rowarena, &sys_updated, json_object_get(row, "updated_at"));
        json_decref(row);
        row = NULL;
        for (size_t c = 0; hant && c < k; c++)
            mz_hant(rowarena, cells[c], &cells[c]);
        int wrc = mz_table_write_row(w, cells, kinds, ncols);
        mz_arena_free(rowarena);
        rowarena = mz_arena_new();
        if (wrc != MZ_OK) {
            rc = MZ_ERR_IO;
            break;
        }
    }
    mz_arena_free(rowarena);
    if (rc < 0) {
        status = req->failed ? req->status : mz_fail_err(req, rc);
        goto out;
    }
    rc = mz_table_writer_close(w);
    w = NULL;
    if (rc != MZ_OK) {
        status = mz_fail(req, 500, "internal", "写入导出文件失败");
        goto out;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        status = mz_fail(req, 500, "internal", "读取导出文件失败");
        goto out;
    }
    json_t *detail = json_pack("{s:s,s:s}", "format", fmt == MZ_TABLE_CSV ? "csv" : "xlsx",
                               "filters", filters);
    int audited = mz_audit(req, "export", e->name, 0, true, detail);
    json_decref(detail);
    if (audited != 0) {
        close(fd);
        status = req->failed ? req->status : mz_fail(req, 500, "internal", "审计记录失败");
        goto out;
    }
    char today[11];
    mz_today(today);
    const char *name = mz_arena_printf(req->arena, "%s-%s.%s", e->name, today,
                                       fmt == MZ_TABLE_CSV ? "csv" : "xlsx");
    status = mz_reply_file(req, 200,
                           fmt == MZ_TABLE_CSV
                               ? "text/csv; charset=utf-8"
                               : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           fd, name);
out:
    if (w)
        mz_table_writer_close(w);
    if (path)
        unlink(path);
    return status;
}
