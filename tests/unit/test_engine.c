/* test_engine.c - the entity engine in-process against :memory: SQLite.
 *
 * A test entity is declared here (nothing else is written for it), the app is
 * built with it, and the engine's operations are driven through struct mz_req
 * without HTTP: create with normalisation and defaults, all field errors at
 * once, unique values, optimistic versions, soft delete, history, workflow
 * transitions with guards, import all-or-nothing vs valid rows, migrations
 * that are idempotent and that add a column for a field declared later.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine_internal.h"
#include "mz/crypto.h"

static const struct mz_dict_item color_items[] = {{"r", "红", "Red"}, {"g", "绿", "Green"}};
static const struct mz_dict color = {"color", "颜色", "Colour", NULL, color_items, 2};
static const struct mz_dict *const dicts[] = {&color};

static int guard_small(struct mz_write *w)
{
    int64_t n = 0;
    if (mz_json_get_int(w->row, "amount_fen", &n) == MZ_OK && n > 1000)
        return mz_fail(w->req, 422, "over_limit", "金额超过上限");
    return 0;
}

static const struct mz_wf_state states[] = {
    {"new", "新建", "New", 0, false},
    {"done", "办结", "Done", 0, true},
};
static const struct mz_transition transitions[] = {
    {.from = "new", .action = "finish", .to = "done", .zh = "办结", .en = "Finish",
     .guard = guard_small},
};
static const struct mz_workflow flow = {"flow", "new", states, 2, transitions, 1};

static const struct mz_field item_fields[] = {
    {.name = "title", .type = MZ_T_TEXT, .zh = "标题", .en = "Title",
     .flags = MZ_F_REQUIRED | MZ_F_SEARCHABLE | MZ_F_HAS_MAX, .max = 10},
    {.name = "code", .type = MZ_T_TEXT, .zh = "编号", .en = "Code", .flags = MZ_F_UNIQUE},
    {.name = "amount_fen", .type = MZ_T_MONEY, .zh = "金额", .en = "Amount",
     .flags = MZ_F_HAS_MIN, .min = 0},
    {.name = "id_number", .type = MZ_T_IDNUM, .zh = "身份证号", .en = "ID",
     .flags = MZ_F_SENSITIVE},
    {.name = "division", .type = MZ_T_DIVISION, .zh = "区划", .en = "Division",
     .flags = MZ_F_SCOPE},
    {.name = "color", .type = MZ_T_DICT, .zh = "颜色", .en = "Colour", .dict = "color",
     .def = "\"r\""},
};
/* A hook that refuses a row after it was written (title 晚拒): the import
 * must undo what the row wrote, and only that. */
static int refuse_late(struct mz_write *w)
{
    const char *title = json_string_value(json_object_get(w->row, "title"));
    if (strcmp(w->action, "create") == 0 && title && strcmp(title, "晚拒") == 0) {
        mz_errors_add(w->errors, "title", "refused_late", "写入后被拒绝");
        return 422;
    }
    return 0;
}
static const struct mz_hooks item_hooks = {.after_write = refuse_late};
static const struct mz_entity items = {
    .name = "items", .zh = "条目", .en = "Items", .fields = item_fields, .nfields = 6,
    .workflow = &flow, .title_field = "title", .hooks = &item_hooks};
/* An entity whose large imports may build its non-unique indexes at their
 * end (MZ_E_IMPORT_BULK, like persons), with a validate hook refusing the
 * title 坏, so a row can be refused both by a hook and as a duplicate. */
static int refuse_bad(struct mz_write *w)
{
    const char *title = json_string_value(json_object_get(w->row, "title"));
    if (title && strcmp(title, "坏") == 0)
        mz_errors_add(w->errors, "title", "refused", "标题不可用");
    return 0;
}
static const struct mz_hooks bulk_hooks = {.validate = refuse_bad};
static const struct mz_field bulk_fields[] = {
    {.name = "title", .type = MZ_T_TEXT, .zh = "标题", .en = "Title", .flags = MZ_F_REQUIRED},
    {.name = "code", .type = MZ_T_TEXT, .zh = "编号", .en = "Code",
     .flags = MZ_F_UNIQUE | MZ_F_REQUIRED},
    {.name = "tag", .type = MZ_T_TEXT, .zh = "标签", .en = "Tag", .flags = MZ_F_INDEXED},
};
static const struct mz_entity bulk_items = {
    .name = "bulk_items", .zh = "批量条目", .en = "Bulk items", .fields = bulk_fields,
    .nfields = 3, .flags = MZ_E_IMPORT_BULK, .hooks = &bulk_hooks, .title_field = "title"};
static const struct mz_entity *const entities[] = {&items, &bulk_items};
static const struct mz_module test_module = {
    .name = "test", .zh = "测试", .en = "Test", .entities = entities, .nentities = 2,
    .dicts = dicts, .ndicts = 1};

struct fixture {
    struct mz_app app;
    struct mz_db *db;
    struct mz_req req;
};

/* A fresh request on the fixture (arena, no error). */
static void fresh_req(struct fixture *f)
{
    if (f->req.arena)
        mz_arena_free(f->req.arena);
    json_decref(f->req.error);
    json_decref(f->req.reply_json);
    memset(&f->req, 0, sizeof(f->req));
    f->req.app = &f->app;
    f->req.db = f->db;
    f->req.arena = mz_arena_new();
    f->req.actor = "tester";
    f->req.reply_fd = -1;
}

static int setup(void **state)
{
    static const struct mz_module *const extra[] = {&test_module};
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = 0;
    mz_crypto_init_ephemeral();
    assert_int_equal(mz_app_init(&f->app, ":memory:", extra, 1), MZ_OK);
    assert_int_equal(mz_db_open(":memory:", NULL, &f->db), MZ_OK);
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    assert_true(applied > 0);
    fresh_req(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_arena_free(f->req.arena);
    json_decref(f->req.error);
    json_decref(f->req.reply_json);
    mz_db_close(f->db);
    mz_app_free(&f->app);
    free(f);
    return 0;
}

/* Create a row in its own transaction; returns the status. */
static int create(struct fixture *f, const char *json, json_t **row)
{
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    fresh_req(f);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    int st = mz_entity_create(&f->req, &items, in, row);
    if (st)
        mz_db_rollback(f->db);
    else
        mz_db_commit(f->db);
    json_decref(in);
    return st;
}

static int64_t count_rows(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(mz_db_query_int(f->db, "SELECT count(*) FROM items WHERE deleted_at IS NULL",
                                     &n, 0, NULL),
                     MZ_OK);
    return n;
}

static void test_create_normalises_and_defaults(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL;
    assert_int_equal(create(f, "{\"title\":\"甲\",\"division\":\"120101001\",\"amount_fen\":5,"
                               "\"id_number\":\"11010519491231002X\"}",
                            &row),
                     0);
    assert_int_equal(json_integer_value(json_object_get(row, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(row, "division")), "120101001000");
    assert_string_equal(json_string_value(json_object_get(row, "color")), "r");
    assert_string_equal(json_string_value(json_object_get(row, "state")), "new");
    assert_int_equal(json_integer_value(json_object_get(row, "amount_fen")), 5);
    json_decref(row);
}

static void test_all_errors_at_once(void **state)
{
    struct fixture *f = *state;
    int64_t before = count_rows(f);
    int st = create(f, "{\"title\":\"这个标题超过了十个字符的长度\",\"amount_fen\":-1,"
                       "\"color\":\"x\",\"bogus\":1,\"id_number\":\"110105194912310021\"}",
                    NULL);
    assert_int_equal(st, 422);
    json_t *errors = json_object_get(f->req.error, "errors");
    assert_int_equal(json_array_size(errors), 5);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "code")),
                        "validation_failed");
    assert_int_equal(count_rows(f), before);
}

static void test_required_missing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(create(f, "{\"amount_fen\":1}", NULL), 422);
    json_t *e0 = json_array_get(json_object_get(f->req.error, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "field")), "title");
    assert_string_equal(json_string_value(json_object_get(e0, "code")), "required");
}

static void test_unique_and_soft_delete(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL;
    assert_int_equal(create(f, "{\"title\":\"一\",\"code\":\"A1\"}", &row), 0);
    assert_int_equal(create(f, "{\"title\":\"二\",\"code\":\"A1\"}", NULL), 409);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "field")), "code");
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);

    fresh_req(f);
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(mz_entity_delete(&f->req, &items, id, 1), 0);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    fresh_req(f);
    assert_null(mz_entity_get(&f->req, &items, id));
    assert_int_equal(f->req.status, 404);
    /* The code is free again; the deleted row is still in the table. */
    assert_int_equal(create(f, "{\"title\":\"三\",\"code\":\"A1\"}", NULL), 0);
    int64_t all = 0;
    mz_db_query_int(f->db, "SELECT count(*) FROM items WHERE code = 'A1'", &all, 0, NULL);
    assert_int_equal(all, 2);
}

static void test_update_versions_and_history(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL, *out = NULL;
    assert_int_equal(create(f, "{\"title\":\"原\",\"amount_fen\":1,\"id_number\":"
                               "\"11010519491231002X\"}",
                            &row),
                     0);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    json_t *in = json_pack("{s:s,s:s}", "title", "新", "id_number", "110105194912310021");
    json_decref(in);
    in = json_pack("{s:s,s:i}", "title", "新", "amount_fen", 7);
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_update(&f->req, &items, id, in, 1, &out), 0);
    mz_db_commit(f->db);
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(out, "title")), "新");
    json_decref(out);
    /* Stale version: 409 with the current one, nothing changed. */
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_update(&f->req, &items, id, in, 1, &out), 409);
    mz_db_rollback(f->db);
    assert_int_equal(json_integer_value(json_object_get(f->req.error, "current_version")), 2);
    json_decref(in);
    /* History: create then update, the update naming only changed fields. */
    struct mz_stmt *st;
    assert_int_equal(mz_db_prepare(f->db,
                                   "SELECT action, changes FROM mz_history WHERE entity='items'"
                                   " AND row_id=? ORDER BY id",
                                   &st),
                     MZ_OK);
    mz_db_bind_int(st, 1, id);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_string_equal(mz_db_col_text(st, 0), "create");
    /* The sensitive value is masked in the history. */
    assert_null(strstr(mz_db_col_text(st, 1), "11010519491231002X"));
    assert_non_null(strstr(mz_db_col_text(st, 1), "110105********002X"));
    assert_int_equal(mz_db_step(st), MZ_ROW);
    assert_string_equal(mz_db_col_text(st, 0), "update");
    json_t *changes = json_loads(mz_db_col_text(st, 1), 0, NULL);
    assert_int_equal(json_object_size(changes), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(changes, "amount_fen"),
                                                        "to")),
                     7);
    json_decref(changes);
    assert_int_equal(mz_db_step(st), MZ_DONE);
    mz_db_done(st);
}

static void test_workflow_guard_and_illegal(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL, *out = NULL;
    assert_int_equal(create(f, "{\"title\":\"流\",\"amount_fen\":5000}", &row), 0);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    /* The guard refuses: amount over 1000. */
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_act(&f->req, &items, id, "finish", NULL, &out), 422);
    mz_db_rollback(f->db);
    /* Lower the amount, then finish. */
    json_t *in = json_pack("{s:i}", "amount_fen", 10);
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_update(&f->req, &items, id, in, 1, NULL), 0);
    mz_db_commit(f->db);
    json_decref(in);
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_act(&f->req, &items, id, "finish", "好", &out), 0);
    mz_db_commit(f->db);
    assert_string_equal(json_string_value(json_object_get(out, "state")), "done");
    json_decref(out);
    /* From a final state nothing is allowed. */
    fresh_req(f);
    mz_db_begin_write(f->db);
    assert_int_equal(mz_entity_act(&f->req, &items, id, "finish", NULL, &out), 409);
    mz_db_rollback(f->db);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "code")),
                        "illegal_transition");
    assert_int_equal(json_array_size(json_object_get(f->req.error, "allowed")), 0);
    int64_t n = 0;
    mz_db_query_int(f->db, "SELECT count(*) FROM mz_transitions", &n, 0, NULL);
    assert_int_equal(n, 1);
}

/* Run the import handler over CSV text: csv into entity in one write transaction, as the dispatcher runs
 * it (rolled back when the handler failed); mode NULL: the default (all). */
static int import_into(struct fixture *f, const char *entity, const char *csv, const char *mode)
{
    static const char *pairs[2];
    fresh_req(f);
    if (mode) {
        pairs[0] = "mode";
        pairs[1] = mode;
        f->req.query_pairs = pairs;
        f->req.nquery_pairs = 1;
    }
    f->req.param_names[0] = "entity";
    f->req.param_values[0] = entity;
    f->req.nparams = 1;
    f->req.body = csv;
    f->req.body_len = strlen(csv);
    mz_db_begin_write(f->db);
    int st = mz_h_import(&f->req);
    if (f->req.failed)
        mz_db_rollback(f->db);
    else
        mz_db_commit(f->db);
    return st;
}

/* The import handler over CSV text into items (mode all). */
static int import_csv(struct fixture *f, const char *csv, bool valid_only)
{
    (void)valid_only; /* mode comes from the query string; the default is all */
    return import_into(f, "items", csv, NULL);
}

static void test_import_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t before = count_rows(f);
    int st = import_csv(f, "title,amount_fen,颜色\n好,1,g\n坏,-5,r\n也好,2,\n", false);
    assert_int_equal(st, 422);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "code")),
                        "import_rejected");
    json_t *e0 = json_array_get(json_object_get(f->req.error, "errors"), 0);
    assert_int_equal(json_integer_value(json_object_get(e0, "row")), 3);
    assert_string_equal(json_string_value(json_object_get(e0, "field")), "amount_fen");
    assert_int_equal(count_rows(f), before);
    st = import_csv(f, "title,amount_fen,颜色\n好,1,g\n也好,2,\n", false);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(f->req.reply_json, "imported")), 2);
    assert_int_equal(count_rows(f), before + 2);
    st = import_csv(f, "title,nonsense\nx,1\n", false);
    assert_int_equal(st, 422);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "code")),
                        "unknown_column");
}

/* A row refused after it wrote (an after_write hook) leaves nothing: the
 * rows before it in the same batch are written again, the refused row's
 * unique value is free for a later row, and the report names exactly the
 * refused row and the real duplicate. Also a file longer than one batch. */
static void test_import_row_refused_after_write(void **state)
{
    struct fixture *f = *state;
    int64_t before = count_rows(f);
    int st = import_csv(f,
                        "title,code\n"
                        "甲,A1\n"   /* row 2: written, then written again */
                        "晚拒,B1\n" /* row 3: refused after its INSERT */
                        "乙,A1\n"   /* row 4: duplicate of row 2 (still there) */
                        "丙,B1\n",  /* row 5: row 3's code is free again */
                        false);
    assert_int_equal(st, 422);
    json_t *errors = json_object_get(f->req.error, "errors");
    assert_int_equal(json_array_size(errors), 2);
    json_t *e0 = json_array_get(errors, 0), *e1 = json_array_get(errors, 1);
    assert_int_equal(json_integer_value(json_object_get(e0, "row")), 3);
    assert_string_equal(json_string_value(json_object_get(e0, "code")), "refused_late");
    assert_int_equal(json_integer_value(json_object_get(e1, "row")), 4);
    assert_string_equal(json_string_value(json_object_get(e1, "field")), "code");
    assert_string_equal(json_string_value(json_object_get(e1, "code")), "duplicate");
    assert_int_equal(count_rows(f), before); /* mode=all: nothing kept */

    /* 1,000 rows (several savepoint batches), all good: all written. */
    struct mz_buf csv;
    mz_buf_init(&csv, 0);
    mz_buf_puts(&csv, "title,code\n");
    for (int i = 0; i < 1000; i++)
        mz_buf_printf(&csv, "批量,C%d\n", i);
    st = import_csv(f, csv.data, false);
    mz_buf_free(&csv);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(f->req.reply_json, "imported")), 1000);
    assert_int_equal(count_rows(f), before + 1000);
    int64_t n = 0;
    mz_db_query_int(f->db, "SELECT count(DISTINCT code) FROM items WHERE code LIKE 'C%'", &n, 0,
                    NULL);
    assert_int_equal(n, 1000);
}

/* Import into bulk_items with the mode given. */
static int import_bulk(struct fixture *f, const char *csv, const char *mode)
{
    return import_into(f, "bulk_items", csv, mode);
}

static int64_t query_int(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    assert_int_equal(mz_db_query_int(f->db, sql, &n, 0, NULL), MZ_OK);
    return n;
}

/* The errors of an import reply as "row:field:code;..." */
static char *error_list(json_t *errors)
{
    struct mz_buf b;
    mz_buf_init(&b, 0);
    size_t i;
    json_t *x;
    json_array_foreach(errors, i, x) {
        const char *field = json_string_value(json_object_get(x, "field"));
        mz_buf_printf(&b, "%lld:%s:%s;", (long long)json_integer_value(json_object_get(x, "row")),
                      field ? field : "-", json_string_value(json_object_get(x, "code")));
    }
    char *text = strdup(b.data ? b.data : "");
    mz_buf_free(&b);
    return text;
}

/* A mode=all import past the point where the non-unique indexes are put off
 * (4 rows here, MZ_TEST_IMPORT_DEFER_ROWS) keeps its rows and the indexes as
 * declared, consistent with the rows; a failing one leaves neither rows nor
 * a missing index. Unique values left to the INSERT are reported as an API
 * create reports them: on the unique field, alone when the row also fails a
 * hook, within the file and against the table, in both modes. */
static void test_import_bulk_indexes_and_unique(void **state)
{
    struct fixture *f = *state;
    setenv("MZ_TEST_CLOCK", "1", 1);
    setenv("MZ_TEST_IMPORT_DEFER_ROWS", "4", 1);
    const char *ix_sql = "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                         " AND tbl_name = 'bulk_items' AND sql IS NOT NULL";
    int64_t indexes = query_int(f, ix_sql);
    assert_true(indexes >= 2); /* the unique code and the tag index */
    struct mz_buf csv;
    mz_buf_init(&csv, 0);
    mz_buf_puts(&csv, "title,code,tag\n");
    for (int i = 0; i < 10; i++)
        mz_buf_printf(&csv, "行%d,K%d,t%d\n", i, i, i % 3);
    int st = import_bulk(f, csv.data, "all");
    mz_buf_free(&csv);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(f->req.reply_json, "imported")), 10);
    assert_int_equal(query_int(f, ix_sql), indexes);
    assert_int_equal(query_int(f, "SELECT count(*) FROM bulk_items INDEXED BY ix_bulk_items_tag"
                                  " WHERE tag = 't0' AND deleted_at IS NULL"),
                     4);
    assert_int_equal(query_int(f, "SELECT count(*) FROM pragma_integrity_check"
                                  " WHERE integrity_check <> 'ok'"),
                     0);
    /* Past the point, a row repeats a code of the file (row 8 = row 3's
     * K2x) and another one of the table (K1), and one row is both a
     * duplicate and refused by the hook: mode=all keeps nothing and the
     * indexes are all there; the errors are the duplicates. */
    const char *bad = "title,code,tag\n"
                      "甲,K1x,a\n"  /* row 2 */
                      "乙,K2x,a\n"  /* row 3 */
                      "丙,K3x,b\n"  /* row 4 */
                      "丁,K4x,b\n"  /* row 5: the 4th row, indexes put off */
                      "戊,K5x,c\n"  /* row 6 */
                      "坏,K6x,c\n"  /* row 7: refused by the hook */
                      "己,K2x,d\n"  /* row 8: duplicate within the file */
                      "坏,K1,d\n"   /* row 9: duplicate of the table and refused: duplicate */
                      "庚,K7x,d\n"; /* row 10 */
    int64_t rows = query_int(f, "SELECT count(*) FROM bulk_items");
    st = import_bulk(f, bad, "all");
    assert_int_equal(st, 422);
    char *list = error_list(json_object_get(f->req.error, "errors"));
    assert_string_equal(list, "7:title:refused;8:code:duplicate;9:code:duplicate;");
    free(list);
    assert_int_equal(query_int(f, "SELECT count(*) FROM bulk_items"), rows);
    assert_int_equal(query_int(f, ix_sql), indexes);
    /* mode=valid: the same rows, the good ones kept, the same errors. */
    st = import_bulk(f, bad, "valid");
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(f->req.reply_json, "imported")), 6);
    list = error_list(json_object_get(f->req.reply_json, "errors"));
    assert_string_equal(list, "7:title:refused;8:code:duplicate;9:code:duplicate;");
    free(list);
    assert_int_equal(query_int(f, "SELECT count(*) FROM bulk_items"), rows + 6);
    assert_int_equal(query_int(f, ix_sql), indexes);
    /* An API create of row 9 reports the same error. */
    fresh_req(f);
    json_t *input = json_pack("{s:s,s:s}", "title", "坏", "code", "K1");
    mz_db_begin_write(f->db);
    st = mz_entity_create(&f->req, &bulk_items, input, NULL);
    mz_db_rollback(f->db);
    json_decref(input);
    assert_int_equal(st, 409);
    list = error_list(json_object_get(f->req.error, "errors"));
    assert_string_equal(list, "0:code:duplicate;");
    free(list);
    unsetenv("MZ_TEST_IMPORT_DEFER_ROWS");
    unsetenv("MZ_TEST_CLOCK");
}

/* The audit_text hook of test_create_changes_text: the last detail text. */
static char *last_audit_text;
static int record_audit_text(struct mz_req *req, const char *action, const char *object,
                             int64_t id, bool success, json_t *detail, const char *detail_text)
{
    (void)req, (void)action, (void)object, (void)id, (void)success, (void)detail;
    free(last_audit_text);
    last_audit_text = detail_text ? strdup(detail_text) : NULL;
    return 0;
}

/* A create writes its changes' text straight from the row (no jansson tree):
 * the history row and the audit detail are byte for byte what
 * mz_json_dump(mz_row_diff(...)) gives - escapes (quote, backslash, tab,
 * newline, return), non-ASCII text, integers, a masked sensitive value, a
 * default. (Other control characters never pass text validation.) */
static void test_create_changes_text(void **state)
{
    struct fixture *f = *state;
    f->app.audit_text = record_audit_text;
    static const char *const inputs[] = {
        "{\"title\":\"引\\\"号\\\\斜\\t制/表\",\"amount_fen\":12345,"
        "\"id_number\":\"11010519491231002X\",\"code\":\"Z/1\"}",
        "{\"title\":\"仅标题\"}",
        "{\"title\":\"é\\n\\r <&>\",\"amount_fen\":0,\"color\":\"g\"}",
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(inputs); i++) {
        json_t *row = NULL;
        int st = create(f, inputs[i], &row);
        assert_int_equal(st, 0);
        int64_t id = json_integer_value(json_object_get(row, "id"));
        json_decref(row);
        fresh_req(f);
        json_t *stored = mz_row_load(&f->req, &items, id);
        assert_non_null(stored);
        json_t *diff = mz_row_diff(&f->req, &items, NULL, stored);
        char *want = mz_json_dump(diff, NULL);
        struct mz_stmt *q;
        assert_int_equal(mz_db_prepare(f->db, "SELECT changes FROM mz_history WHERE entity = 'items'"
                                              " AND row_id = ? AND action = 'create'", &q),
                         MZ_OK);
        mz_db_bind_int(q, 1, id);
        assert_int_equal(mz_db_step(q), MZ_ROW);
        assert_string_equal(mz_db_col_text(q, 0), want);
        mz_db_done(q);
        assert_non_null(last_audit_text);
        assert_string_equal(last_audit_text, want);
        free(want);
        json_decref(diff);
        json_decref(stored);
    }
    f->app.audit_text = NULL;
    free(last_audit_text);
    last_audit_text = NULL;
}

/* A later declaration of the same entity with one more field. */
static const struct mz_field item_fields_v2[] = {
    {.name = "title", .type = MZ_T_TEXT, .zh = "标题", .en = "Title", .flags = MZ_F_REQUIRED},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note"},
};
static const struct mz_entity items_v2 = {
    .name = "items", .zh = "条目", .en = "Items", .fields = item_fields_v2, .nfields = 2};

static void test_migrations_idempotent_and_additive(void **state)
{
    struct fixture *f = *state;
    int applied = -1;
    assert_int_equal(mz_app_migrate(&f->app, f->db, &applied), MZ_OK);
    assert_int_equal(applied, 0);
    assert_false(mz_db_column_exists(f->db, "items", "note"));
    applied = 0;
    assert_int_equal(mz_engine_migrate_entity(f->db, &items_v2, &applied), MZ_OK);
    assert_int_equal(applied, 1);
    assert_true(mz_db_column_exists(f->db, "items", "note"));
    applied = 0;
    assert_int_equal(mz_engine_migrate_entity(f->db, &items_v2, &applied), MZ_OK);
    assert_int_equal(applied, 0);
}

/* Fault injection: the n-th database call of a create, an update and a
 * workflow action fails; each run ends in a clean error and leaves the
 * tables exactly as before (no row, no history entry, no transition). */
static void test_faults_leave_no_trace(void **state)
{
    struct fixture *f = *state;
    json_t *row = NULL;
    assert_int_equal(create(f, "{\"title\":\"基\",\"amount_fen\":1}", &row), 0);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    for (int op = 0; op < 3; op++) {
        for (long n = 1; n < 200; n++) {
            int64_t rows0 = 0, hist0 = 0, tr0 = 0, rows1 = 0, hist1 = 0, tr1 = 0;
            mz_db_query_int(f->db, "SELECT count(*) FROM items", &rows0, 0, NULL);
            mz_db_query_int(f->db, "SELECT count(*) FROM mz_history", &hist0, 0, NULL);
            mz_db_query_int(f->db, "SELECT count(*) FROM mz_transitions", &tr0, 0, NULL);
            fresh_req(f);
            json_t *in = op == 0 ? json_pack("{s:s,s:i}", "title", "故障", "amount_fen", 3)
                                 : json_pack("{s:i}", "amount_fen", 4);
            int64_t version = 0;
            mz_db_query_int(f->db, "SELECT version FROM items WHERE id = 1", &version, 0, NULL);
            mz_db_fault_set(n);
            int st = mz_db_begin_write(f->db);
            if (st == MZ_OK) {
                if (op == 0)
                    st = mz_entity_create(&f->req, &items, in, NULL);
                else if (op == 1)
                    st = mz_entity_update(&f->req, &items, id, in, version, NULL);
                else
                    st = mz_entity_act(&f->req, &items, id, "finish", NULL, NULL);
            }
            long calls = mz_db_fault_calls();
            mz_db_fault_set(0);
            json_decref(in);
            if (st == 0) {
                /* The fault fell after the work: the operation succeeded; undo it. */
                mz_db_rollback(f->db);
                if (n > calls)
                    break;
                continue;
            }
            mz_db_rollback(f->db);
            assert_true(st >= 400 || st < 0);
            mz_db_query_int(f->db, "SELECT count(*) FROM items", &rows1, 0, NULL);
            mz_db_query_int(f->db, "SELECT count(*) FROM mz_history", &hist1, 0, NULL);
            mz_db_query_int(f->db, "SELECT count(*) FROM mz_transitions", &tr1, 0, NULL);
            assert_int_equal(rows0, rows1);
            assert_int_equal(hist0, hist1);
            assert_int_equal(tr0, tr1);
        }
    }
}

static void test_division_range(void **state)
{
    (void)state;
    char lo[13], hi[13];
    assert_int_equal(mz_division_range("120101", lo, hi), MZ_OK);
    assert_string_equal(lo, "120101000000");
    assert_string_equal(hi, "120102000000");
    assert_int_equal(mz_division_range("120101001", lo, hi), MZ_OK);
    assert_string_equal(hi, "120101002000");
    assert_int_equal(mz_division_range("120000", lo, hi), MZ_OK);
    assert_string_equal(hi, "130000000000");
    assert_int_equal(mz_division_range("120101001002", lo, hi), MZ_OK);
    assert_string_equal(hi, "120101001003");
    assert_int_equal(mz_division_range("99", lo, hi), MZ_ERR_INVALID);
}

static void test_masks(void **state)
{
    (void)state;
    struct mz_arena *a = mz_arena_new();
    const struct mz_field id = {.name = "x", .type = MZ_T_IDNUM};
    const struct mz_field ph = {.name = "x", .type = MZ_T_PHONE};
    const struct mz_field bk = {.name = "x", .type = MZ_T_BANKCARD};
    const struct mz_field tx = {.name = "x", .type = MZ_T_TEXT};
    assert_string_equal(mz_mask_value(a, &id, "12010119800101123X"), "120101********123X");
    assert_string_equal(mz_mask_value(a, &ph, "13812345678"), "138****5678");
    assert_string_equal(mz_mask_value(a, &bk, "6222020200112233445"), "**** 3445");
    assert_string_equal(mz_mask_value(a, &tx, "张三丰"), "张***");
    mz_arena_free(a);
}

int main(void)
{
    mz_log_set_level(MZ_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_normalises_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_errors_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_and_soft_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_versions_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workflow_guard_and_illegal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_row_refused_after_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_bulk_indexes_and_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_changes_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_idempotent_and_additive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_leave_no_trace, setup, teardown),
        cmocka_unit_test(test_division_range),
        cmocka_unit_test(test_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
