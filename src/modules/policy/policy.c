/* policy.c - the policy library (政策文件) and the portal's public routes.
 *
 * What it owns:
 *  - policy_documents: one published government document as portals show it
 *    (名称, 索引号, 发布机构, 发文字号, 主题分类, 成文日期, 发文日期, body,
 *    summary, attachments). Staff write it through the engine's CRUD and move
 *    it through a workflow:
 *
 *        draft --submit--> review --publish--> published --withdraw--> withdrawn
 *                 ^           |
 *                 +--return---+        (return and withdraw need a comment)
 *
 *    Publishing stamps 发文日期 with today when it is empty.
 *  - policy_links: a document's 政策解读 / 相关政策 / 相关报道, each pointing at
 *    another document of the library or at a URL (exactly one of them).
 *  - policy_documents_fts: an FTS5 table with the trigram tokenizer over title
 *    and body, keyed by the document id (created by migration 1, SQLite only).
 *    The documents' after_write hook keeps it equal to the live rows, inside
 *    the writing transaction; workflow actions change neither title nor body.
 *    Queries of three characters or more match it as one phrase; one or two
 *    characters (the trigram index cannot answer them) fall back to LIKE on
 *    the title. The staff lists' ?q= uses the same rule (the search hook).
 *  - the public, read-only routes of the portal (no login):
 *        GET /api/v1/public/policies?q=&topic=&page=&size=   published only,
 *                                           with the topic choices
 *        GET /api/v1/public/policies/{id}   a published document with its
 *                                           links, else 404
 *    A link to another document is shown only while that one is published.
 *  - citizen accounts and POST /api/v1/public/register (citizen.c) and the
 *    seed document (seed.c).
 *
 * Invariants: the public routes never show a row that is not published and
 * not deleted; citizens (callers restricted to their own rows) may not write
 * documents or links, although their role's "*.create" would match.
 *
 * Tested by tests/api/policy.test.mjs and tests/e2e/portal.test.mjs; the
 * model and pages are described in docs/portal.md.
 */
#include <stdlib.h>
#include <string.h>

#include "modules/policy/policy_internal.h"
#include "mz/validate.h"

/* Longest public query text, in characters. */
#define PUBLIC_Q_MAX 100
/* Largest public page. */
#define PUBLIC_SIZE_MAX 50
/* Caps on a document's attachments. */
#define ATTACHMENTS_MAX 50
#define ATTACHMENT_NAME_MAX 200
#define ATTACHMENT_URL_MAX 1000

/* --- SQL (named statements, ? placeholders) ---------------------------------------- */

static const char SQL_FTS_CREATE[] =
    "CREATE VIRTUAL TABLE policy_documents_fts USING fts5(title, body, tokenize = 'trigram')";
static const char SQL_FTS_DELETE[] = "DELETE FROM policy_documents_fts WHERE rowid = ?";
static const char SQL_FTS_INSERT[] =
    "INSERT INTO policy_documents_fts (rowid, title, body) VALUES (?, ?, ?)";
/* The condition that selects documents whose title or body holds a phrase. */
static const char SQL_COND_FTS[] =
    "id IN (SELECT rowid FROM policy_documents_fts WHERE policy_documents_fts MATCH ?)";
static const char SQL_COND_TITLE_LIKE[] = "title LIKE ? ESCAPE '\\'";
/* PostgreSQL has no FTS5: a substring of title or body (pg_trgm can index it). */
static const char SQL_COND_TEXT_LIKE[] =
    "(title || ' ' || coalesce(body, '')) LIKE ? ESCAPE '\\'";
/* What the public may see. */
static const char SQL_PUBLIC_WHERE[] = "deleted_at IS NULL AND state = 'published'";
static const char SQL_PUBLIC_COLUMNS[] =
    "id, title, index_no, publisher, doc_no, topic, written_on, published_on,"
    " coalesce(summary, substr(body, 1, 120))";
static const char SQL_PUBLIC_ORDER[] =
    " ORDER BY coalesce(published_on, written_on) DESC, id DESC LIMIT ? OFFSET ?";
static const char SQL_PUBLIC_ONE[] =
    "SELECT id, title, index_no, publisher, doc_no, topic, written_on, published_on, summary,"
    " body, attachments FROM policy_documents WHERE id = ? AND deleted_at IS NULL"
    " AND state = 'published'";
static const char SQL_PUBLIC_LINKS[] =
    "SELECT l.kind, l.title, l.url, l.target_document_id, t.state FROM policy_links l"
    " LEFT JOIN policy_documents t ON t.id = l.target_document_id AND t.deleted_at IS NULL"
    " WHERE l.document_id = ? AND l.deleted_at IS NULL ORDER BY l.kind, l.id";

/* --- dictionaries --------------------------------------------------------------------- */

/* 主题分类, after the government-information-disclosure topic scheme the
 * portals use ("<大类>\<小类>"). */
static const struct mz_dict_item topic_items[] = {
    {"general_other", "综合政务\\其他", "General affairs / other"},
    {"general_disclosure", "综合政务\\政务公开", "General affairs / disclosure"},
    {"civil_assistance", "民政、扶贫、救灾\\社会救助", "Civil affairs / social assistance"},
    {"civil_disaster", "民政、扶贫、救灾\\减灾救灾", "Civil affairs / disaster relief"},
    {"civil_welfare", "民政、扶贫、救灾\\社会福利", "Civil affairs / social welfare"},
    {"civil_elderly", "民政、扶贫、救灾\\养老服务", "Civil affairs / elderly care"},
    {"civil_community", "民政、扶贫、救灾\\基层政权和社区建设",
     "Civil affairs / community governance"},
    {"civil_organisations", "民政、扶贫、救灾\\社会组织", "Civil affairs / social organisations"},
    {"civil_affairs", "民政、扶贫、救灾\\社会事务", "Civil affairs / marriage, funerals, names"},
    {"civil_other", "民政、扶贫、救灾\\其他", "Civil affairs / other"},
};
const struct mz_dict policy_topic_dict = {
    .name = "policy_topic", .zh = "主题分类", .en = "Topic",
    .standard = "政府信息公开主题分类",
    .items = topic_items, .nitems = MZ_ARRAY_LEN(topic_items)};

static const struct mz_dict_item link_kind_items[] = {
    {"interpretation", "政策解读", "Interpretation"},
    {"related", "相关政策", "Related policy"},
    {"report", "相关报道", "Press coverage"},
};
static const struct mz_dict link_kind_dict = {
    .name = "policy_link_kind", .zh = "关联类型", .en = "Link kind",
    .items = link_kind_items, .nitems = MZ_ARRAY_LEN(link_kind_items)};

static const struct mz_dict *const policy_dicts[] = {&policy_topic_dict, &link_kind_dict};

/* --- shared rules ------------------------------------------------------------------- */

bool policy_caller_is_citizen(struct mz_req *req)
{
    return req->app && req->app->owner && req->app->owner(req) != NULL;
}

/* Citizens hold "*.create" for their applications, never for the library. */
static int refuse_citizens(struct mz_write *w)
{
    if (policy_caller_is_citizen(w->req))
        return mz_fail(w->req, 403, "forbidden", "公众账号不能维护政策文件");
    return 0;
}

int policy_fts_put(struct mz_db *db, int64_t id, const char *title, const char *body)
{
    struct mz_stmt *st;
    if (mz_db_kind(db) == MZ_DB_POSTGRESQL)
        return MZ_OK; /* no FTS5 table there: searches read the columns */
    int rc = mz_db_prepare(db, SQL_FTS_DELETE, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, id);
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    if (title == NULL)
        return MZ_OK;
    rc = mz_db_prepare(db, SQL_FTS_INSERT, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, id);
    mz_db_bind_text(st, 2, title);
    mz_db_bind_text(st, 3, body ? body : "");
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

/* Migration 1: the FTS5 table on SQLite; nothing on PostgreSQL, where
 * searches read the columns (see search_condition). */
static int policy_fts_migrate(struct mz_db *db)
{
    if (mz_db_kind(db) == MZ_DB_POSTGRESQL) {
        mz_info("policy: no FTS5 on postgresql; document search reads the columns");
        return MZ_OK;
    }
    return mz_db_exec(db, SQL_FTS_CREATE);
}

/* The search condition for a query text: an FTS phrase for three characters
 * or more, else a LIKE pattern on the title. *sql and *param are arena-owned. */
static void search_condition(struct mz_req *req, const char *text, const char **sql,
                             const char **param)
{
    size_t len = strlen(text);
    struct mz_buf b;
    bool pg = mz_db_kind(req->db) == MZ_DB_POSTGRESQL;
    if (!pg && mz_utf8_length(text, len) >= 3) {
        /* One FTS5 string: double quotes inside are doubled. */
        mz_buf_init(&b, 4 * len + 8);
        mz_buf_puts(&b, "\"");
        for (const char *p = text; *p; p++) {
            if (*p == '"')
                mz_buf_puts(&b, "\"\"");
            else
                mz_buf_append(&b, p, 1);
        }
        mz_buf_puts(&b, "\"");
        *sql = SQL_COND_FTS;
    } else {
        /* LIKE with %, _ and \ escaped. */
        mz_buf_init(&b, 4 * len + 8);
        mz_buf_puts(&b, "%");
        for (const char *p = text; *p; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                mz_buf_puts(&b, "\\");
            mz_buf_append(&b, p, 1);
        }
        mz_buf_puts(&b, "%");
        /* Three characters or more search the body too (as FTS5 does on
         * SQLite); one or two only the title. */
        *sql = pg && mz_utf8_length(text, len) >= 3 ? SQL_COND_TEXT_LIKE : SQL_COND_TITLE_LIKE;
    }
    *param = mz_arena_strndup(req->arena, b.data ? b.data : "", b.len);
    mz_buf_free(&b);
}

/* --- policy_documents ------------------------------------------------------------- */

static const struct mz_field document_fields[] = {
    {.name = "title", .type = MZ_T_TEXT, .zh = "名称", .en = "Title",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 2, .max = 200},
    {.name = "index_no", .type = MZ_T_TEXT, .zh = "索引号", .en = "Index number",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_SEARCHABLE,
     .pattern = "^[0-9A-Z]{18}/[0-9]{4}-[0-9]{5}$",
     .pattern_zh = "机构统一社会信用代码/年份-五位序号，如 11120000000125735B/2020-02311"},
    {.name = "publisher", .type = MZ_T_TEXT, .zh = "发布机构", .en = "Publisher",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MAX, .max = 100, .def = "\"天津市民政局\""},
    {.name = "doc_no", .type = MZ_T_TEXT, .zh = "发文字号", .en = "Document number",
     .flags = MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 60},
    {.name = "topic", .type = MZ_T_DICT, .zh = "主题分类", .en = "Topic", .dict = "policy_topic",
     .flags = MZ_F_REQUIRED | MZ_F_INDEXED, .def = "\"general_other\""},
    {.name = "written_on", .type = MZ_T_DATE, .zh = "成文日期", .en = "Written on",
     .flags = MZ_F_INDEXED},
    {.name = "published_on", .type = MZ_T_DATE, .zh = "发文日期", .en = "Published on",
     .flags = MZ_F_INDEXED},
    {.name = "summary", .type = MZ_T_TEXT, .zh = "摘要", .en = "Summary",
     .flags = MZ_F_MULTILINE | MZ_F_HAS_MAX | MZ_F_HIDDEN, .max = 1000},
    {.name = "body", .type = MZ_T_TEXT, .zh = "正文", .en = "Body",
     .flags = MZ_F_REQUIRED | MZ_F_MULTILINE | MZ_F_HAS_MAX | MZ_F_HIDDEN, .max = 200000},
    {.name = "attachments", .type = MZ_T_JSON, .zh = "附件", .en = "Attachments",
     .flags = MZ_F_HIDDEN, .def = "[]"},
};

/* Attachments are [{"name","url"}]: a name and an http(s) or site-relative URL. */
static int document_validate(struct mz_write *w)
{
    json_t *att = json_object_get(w->row, "attachments");
    const char *written = json_string_value(json_object_get(w->row, "written_on"));
    const char *published = json_string_value(json_object_get(w->row, "published_on"));
    size_t i;
    json_t *a;

    if (att != NULL && !json_is_null(att)) {
        if (!json_is_array(att) || json_array_size(att) > ATTACHMENTS_MAX) {
            mz_errors_add(w->errors, "attachments", "type", "附件应为数组（最多 50 个）");
            return 0;
        }
        json_array_foreach(att, i, a) {
            const char *name = json_string_value(json_object_get(a, "name"));
            const char *url = json_string_value(json_object_get(a, "url"));
            bool url_ok = url && strlen(url) <= ATTACHMENT_URL_MAX &&
                          (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0 ||
                           (url[0] == '/' && url[1] != '/')) &&
                          strpbrk(url, " \"<>\\") == NULL;
            if (!json_is_object(a) || json_object_size(a) != 2 || name == NULL || *name == '\0' ||
                mz_utf8_length(name, strlen(name)) > ATTACHMENT_NAME_MAX || !url_ok) {
                mz_errors_add(w->errors, "attachments", "invalid_attachment",
                              "每个附件须有名称（name）和以 http(s):// 或 / 开头的地址（url）");
                return 0;
            }
        }
    }
    if (written && published && strcmp(published, written) < 0)
        mz_errors_add(w->errors, "published_on", "too_small", "发文日期不能早于成文日期");
    return 0;
}

/* Keep the full-text index equal to the live rows. */
static int document_after_write(struct mz_write *w)
{
    bool deleted = strcmp(w->action, "delete") == 0;
    int rc = policy_fts_put(w->req->db, w->id,
                            deleted ? NULL : json_string_value(json_object_get(w->row, "title")),
                            json_string_value(json_object_get(w->row, "body")));
    return rc == MZ_OK ? 0 : mz_fail_err(w->req, rc);
}

/* Staff lists: ?q= through the full-text index (see search_condition). */
static int document_search(struct mz_req *req, const struct mz_entity *e, const char *text,
                           struct mz_query *q)
{
    const char *sql, *param;
    (void)e;
    search_condition(req, text, &sql, &param);
    const char *params[] = {param};
    if (mz_query_add(q, sql, 1, params) != MZ_OK)
        return mz_fail(req, 400, "bad_filter", "查询条件过多");
    return 0;
}

static const struct mz_hooks document_hooks = {
    .validate = document_validate,
    .before_write = refuse_citizens,
    .after_write = document_after_write,
    .search = document_search,
};

/* Publishing stamps 发文日期 (today, Asia/Shanghai) when staff left it empty. */
static int publish_effect(struct mz_write *w)
{
    json_t *d = json_object_get(w->row, "published_on");
    if (d == NULL || json_is_null(d)) {
        char today[11];
        mz_today(today);
        json_object_set_new(w->row, "published_on", json_string(today));
    }
    return 0;
}

static const struct mz_wf_state document_states[] = {
    {.name = "draft", .zh = "草稿", .en = "Draft"},
    {.name = "review", .zh = "待审核", .en = "In review", .deadline_days = 5},
    {.name = "published", .zh = "已发布", .en = "Published"},
    {.name = "withdrawn", .zh = "已撤回", .en = "Withdrawn", .final = true},
};

static const struct mz_transition document_transitions[] = {
    {.from = "draft", .action = "submit", .to = "review", .zh = "提交审核", .en = "Submit"},
    {.from = "review", .action = "publish", .to = "published", .zh = "发布", .en = "Publish",
     .effect = publish_effect},
    {.from = "review", .action = "return", .to = "draft", .zh = "退回修改", .en = "Return",
     .comment_required = true},
    {.from = "published", .action = "withdraw", .to = "withdrawn", .zh = "撤回", .en = "Withdraw",
     .comment_required = true},
};

static const struct mz_workflow document_workflow = {
    .name = "policy_document",
    .initial = "draft",
    .states = document_states,
    .nstates = MZ_ARRAY_LEN(document_states),
    .transitions = document_transitions,
    .ntransitions = MZ_ARRAY_LEN(document_transitions),
};

const struct mz_entity policy_documents = {
    .name = "policy_documents",
    .zh = "政策文件",
    .en = "Policy documents",
    .fields = document_fields,
    .nfields = MZ_ARRAY_LEN(document_fields),
    .hooks = &document_hooks,
    .workflow = &document_workflow,
    .title_field = "title",
    .default_sort = "-id",
};

/* --- policy_links ------------------------------------------------------------------ */

static const struct mz_field link_fields[] = {
    {.name = "document_id", .type = MZ_T_REF, .zh = "政策文件", .en = "Document",
     .ref = "policy_documents", .flags = MZ_F_REQUIRED | MZ_F_INDEXED | MZ_F_IMMUTABLE},
    {.name = "kind", .type = MZ_T_DICT, .zh = "关联类型", .en = "Kind", .dict = "policy_link_kind",
     .flags = MZ_F_REQUIRED},
    {.name = "title", .type = MZ_T_TEXT, .zh = "标题", .en = "Title",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MIN | MZ_F_HAS_MAX, .min = 2, .max = 200},
    {.name = "target_document_id", .type = MZ_T_REF, .zh = "关联文件", .en = "Target document",
     .ref = "policy_documents"},
    {.name = "url", .type = MZ_T_TEXT, .zh = "链接地址", .en = "URL",
     .flags = MZ_F_HAS_MAX, .max = 1000, .pattern = "^(https?://|/)[^ \"<>\\\\]+$",
     .pattern_zh = "以 http(s):// 或 / 开头的地址"},
};

/* A link points at exactly one of: a document of the library, a URL. */
static int link_validate(struct mz_write *w)
{
    json_t *target = json_object_get(w->row, "target_document_id");
    json_t *url = json_object_get(w->row, "url");
    bool has_target = target && !json_is_null(target);
    bool has_url = url && !json_is_null(url);
    if (has_target == has_url)
        mz_errors_add(w->errors, has_target ? "url" : "target_document_id", "required",
                      "请填写关联文件或链接地址（二选一）");
    else if (has_target && json_equal(target, json_object_get(w->row, "document_id")))
        mz_errors_add(w->errors, "target_document_id", "invalid", "不能关联文件自身");
    return 0;
}

static const struct mz_hooks link_hooks = {
    .validate = link_validate,
    .before_write = refuse_citizens,
};

static const struct mz_entity policy_links = {
    .name = "policy_links",
    .zh = "政策关联",
    .en = "Policy links",
    .fields = link_fields,
    .nfields = MZ_ARRAY_LEN(link_fields),
    .hooks = &link_hooks,
    .title_field = "title",
};

/* --- public routes ------------------------------------------------------------------ */

/* A positive integer query parameter within [1, max], def when absent; 0 after 400. */
static int64_t query_int(struct mz_req *req, const char *name, int64_t def, int64_t max,
                         const char *code, const char *message)
{
    const char *s = mz_req_query(req, name);
    if (s == NULL)
        return def;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max) {
        mz_fail_field(req, 400, code, message, name);
        return 0;
    }
    return v;
}

/* The Chinese label of a topic code (or the code). */
static const char *topic_label(struct mz_req *req, const char *code)
{
    const struct mz_dict *d = mz_app_dict(req->app, "policy_topic");
    for (size_t i = 0; d && code && i < d->nitems; i++) {
        if (strcmp(d->items[i].code, code) == 0)
            return d->items[i].zh;
    }
    return code;
}

/* The header columns 0..7 of a public document row as JSON. */
static json_t *public_header(struct mz_req *req, struct mz_stmt *st)
{
    const char *topic = mz_db_col_text(st, 5);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(mz_db_col_int(st, 0)));
    json_object_set_new(o, "title", mz_json_str(mz_db_col_text(st, 1)));
    json_object_set_new(o, "index_no", mz_json_str(mz_db_col_text(st, 2)));
    json_object_set_new(o, "publisher", mz_json_str(mz_db_col_text(st, 3)));
    json_object_set_new(o, "doc_no", mz_json_str(mz_db_col_text(st, 4)));
    json_object_set_new(o, "topic", mz_json_str(topic));
    json_object_set_new(o, "topic_zh", mz_json_str(topic_label(req, topic)));
    json_object_set_new(o, "written_on", mz_json_str(mz_db_col_text(st, 6)));
    json_object_set_new(o, "published_on", mz_json_str(mz_db_col_text(st, 7)));
    return o;
}

/* GET /api/v1/public/policies?q=&topic=&page=&size= */
static int h_public_list(struct mz_req *req)
{
    const char *q = mz_req_query(req, "q"), *topic = mz_req_query(req, "topic");
    const char *params[2], *cond_sql = NULL;
    int np = 0;
    int64_t page = query_int(req, "page", 1, 100000, "bad_page", "页码应为正整数");
    if (page == 0)
        return req->status;
    int64_t size = query_int(req, "size", 10, PUBLIC_SIZE_MAX, "bad_size", "每页条数应为 1-50");
    if (size == 0)
        return req->status;
    char *where = mz_arena_strdup(req->arena, SQL_PUBLIC_WHERE);
    if (topic && *topic) {
        if (strcmp(topic_label(req, topic), topic) == 0)
            return mz_fail_field(req, 400, "bad_filter", "没有这个主题分类", "topic");
        where = mz_arena_printf(req->arena, "%s AND topic = ?", where);
        params[np++] = topic;
    }
    while (q && (*q == ' ' || *q == '\t'))
        q++;
    if (q && *q) {
        if (!mz_utf8_text_ok(q, strlen(q)) || mz_utf8_length(q, strlen(q)) > PUBLIC_Q_MAX)
            return mz_fail_field(req, 400, "bad_filter", "检索词过长（最多 100 字）", "q");
        search_condition(req, q, &cond_sql, &params[np]);
        where = mz_arena_printf(req->arena, "%s AND %s", where, cond_sql);
        np++;
    }
    int64_t total = 0;
    int rc = mz_db_query_int(req->db,
                             mz_arena_printf(req->arena,
                                             "SELECT count(*) FROM policy_documents WHERE %s",
                                             where),
                             &total, np, params);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    struct mz_stmt *st;
    rc = mz_db_prepare(req->db,
                       mz_arena_printf(req->arena, "SELECT %s FROM policy_documents WHERE %s%s",
                                       SQL_PUBLIC_COLUMNS, where, SQL_PUBLIC_ORDER),
                       &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    for (int i = 0; i < np; i++)
        mz_db_bind_text(st, i + 1, params[i]);
    mz_db_bind_int(st, np + 1, size);
    mz_db_bind_int(st, np + 2, (page - 1) * size);
    json_t *items = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *o = public_header(req, st);
        json_object_set_new(o, "summary", mz_json_str(mz_db_col_text(st, 8)));
        json_array_append_new(items, o);
    }
    mz_db_done(st);
    if (rc != MZ_DONE) {
        json_decref(items);
        return mz_fail_err(req, rc < 0 ? rc : MZ_ERR_DB);
    }
    /* The topic filter's choices, so the portal needs no /meta (login). */
    json_t *topics = json_array();
    const struct mz_dict *d = mz_app_dict(req->app, "policy_topic");
    for (size_t i = 0; d && i < d->nitems; i++)
        json_array_append_new(topics, json_pack("{s:s,s:s}", "code", d->items[i].code, "zh",
                                                d->items[i].zh));
    return mz_reply_json(req, 200,
                         json_pack("{s:o,s:I,s:I,s:I,s:o}", "items", items, "total",
                                   (json_int_t)total, "page", (json_int_t)page, "size",
                                   (json_int_t)size, "topics", topics));
}

/* The public links of a document: [{kind, kind_zh, title, url | document_id}]. */
static int public_links(struct mz_req *req, int64_t id, json_t *out)
{
    struct mz_stmt *st;
    const struct mz_dict *kinds = mz_app_dict(req->app, "policy_link_kind");
    int rc = mz_db_prepare(req->db, SQL_PUBLIC_LINKS, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, id);
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        const char *kind = mz_db_col_text(st, 0), *kind_zh = kind;
        bool to_document = mz_db_col_type(st, 3) != MZ_COL_NULL;
        const char *target_state = mz_db_col_text(st, 4);
        /* A document that is not (or no longer) published is not shown. */
        if (to_document && (target_state == NULL || strcmp(target_state, "published") != 0))
            continue;
        for (size_t i = 0; kinds && kind && i < kinds->nitems; i++) {
            if (strcmp(kinds->items[i].code, kind) == 0)
                kind_zh = kinds->items[i].zh;
        }
        json_t *o = json_object();
        json_object_set_new(o, "kind", mz_json_str(kind));
        json_object_set_new(o, "kind_zh", mz_json_str(kind_zh));
        json_object_set_new(o, "title", mz_json_str(mz_db_col_text(st, 1)));
        if (to_document)
            json_object_set_new(o, "document_id", json_integer(mz_db_col_int(st, 3)));
        else
            json_object_set_new(o, "url", mz_json_str(mz_db_col_text(st, 2)));
        json_array_append_new(out, o);
    }
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

/* GET /api/v1/public/policies/{id} */
static int h_public_get(struct mz_req *req)
{
    const char *s = mz_req_param(req, "id");
    char *end;
    long long id = s ? strtoll(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || id <= 0 || strlen(s) > 18)
        return mz_fail(req, 404, "not_found", "文件不存在或未公开");
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db, SQL_PUBLIC_ONE, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, id);
    rc = mz_db_step(st);
    if (rc != MZ_ROW) {
        mz_db_done(st);
        if (rc == MZ_DONE)
            return mz_fail(req, 404, "not_found", "文件不存在或未公开");
        return mz_fail_err(req, rc < 0 ? rc : MZ_ERR_DB);
    }
    json_t *doc = public_header(req, st);
    json_object_set_new(doc, "summary", mz_json_str(mz_db_col_text(st, 8)));
    json_object_set_new(doc, "body", mz_json_str(mz_db_col_text(st, 9)));
    const char *att_text = mz_db_col_text(st, 10);
    json_t *att = att_text ? json_loads(att_text, 0, NULL) : NULL;
    json_object_set_new(doc, "attachments", json_is_array(att) ? att : json_array());
    if (att && !json_is_array(att))
        json_decref(att);
    mz_db_done(st);
    json_t *links = json_array();
    json_object_set_new(doc, "links", links);
    rc = public_links(req, id, links);
    if (rc != MZ_OK) {
        json_decref(doc);
        return mz_fail_err(req, rc);
    }
    return mz_reply_json(req, 200, doc);
}

static const struct mz_route policy_routes[] = {
    {"GET", "/api/v1/public/policies", h_public_list, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "政策文件（公开）：已发布文件的列表与全文检索"},
    {"GET", "/api/v1/public/policies/{id}", h_public_get, MZ_ROUTE_PUBLIC, NULL, 0, NULL,
     "政策文件（公开）：一份已发布文件及其关联"},
    /* Not MZ_ROUTE_WRITE: the handler counts the attempt in the shared
     * counters outside, then registers inside, its own write transaction. */
    {"POST", "/api/v1/public/register", policy_h_register, MZ_ROUTE_PUBLIC, NULL, 4096, NULL,
     "公众注册（身份证号、手机号、密码）"},
};

/* --- module ------------------------------------------------------------------------- */

static const struct mz_migration policy_migrations[] = {
    {.number = 1, .name = "policy_documents_fts (FTS5 trigram)", .fn = policy_fts_migrate},
    {.number = 2, .name = "seed: 2012年民政工作要点", .fn = policy_seed_migrate},
};

static const struct mz_entity *const policy_entities[] = {&policy_documents, &policy_links,
                                                          &policy_citizen_profiles};

static const struct mz_menu policy_menus[] = {
    {.key = "policy/documents", .zh = "政策文件", .en = "Policy documents",
     .entity = "policy_documents"},
    {.key = "policy/links", .zh = "政策关联", .en = "Policy links", .entity = "policy_links"},
    {.key = "policy/citizens", .zh = "公众账号", .en = "Citizen accounts",
     .entity = "citizen_profiles"},
};

const struct mz_module mz_module_policy = {
    .name = "policy",
    .zh = "政务公开与网上办事",
    .en = "Policy library and citizen hall",
    .entities = policy_entities,
    .nentities = MZ_ARRAY_LEN(policy_entities),
    .routes = policy_routes,
    .nroutes = MZ_ARRAY_LEN(policy_routes),
    .menus = policy_menus,
    .nmenus = MZ_ARRAY_LEN(policy_menus),
    .migrations = policy_migrations,
    .nmigrations = MZ_ARRAY_LEN(policy_migrations),
    .dicts = policy_dicts,
    .ndicts = MZ_ARRAY_LEN(policy_dicts),
};
