/* test_audit.c - the audit log (src/auth/audit.c) against a temporary file
 * database with an ephemeral key.
 *
 * The chain: entries appended in write transactions verify; then, as an
 * attacker with write access to the file would, each test drops the triggers
 * and tampers with SQL (edit a detail, delete a middle row, insert a forged
 * row, swap two rows' seq, cut the tail behind an anchor) and expects
 * mz_audit_verify to name the right entry and problem. The triggers refuse
 * UPDATE and DELETE inside the retention and the retention floor. The hook:
 * events inside a transaction commit (or roll back) with it, a failed append
 * fails the request (fail closed), view_sensitive events of one request merge
 * into one row, and 4 threads appending through the queue and in
 * transactions at once leave an intact chain with every event.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sys/stat.h>

#include "mz/audit.h"
#include "mz/crypto.h"

/* The temporary directory of this run and the database path inside it. */
static char test_dir[64];
static char db_path[128];
/* A counter so every test gets its own database file. */
static int db_counter;

/* What a test works with: its database, an app with the hook, a request. */
struct fixture {
    struct mz_db *db;
    struct mz_app app;
    struct mz_req req;
};

/* Open (creating) a fresh database file with the audit schema. */
static struct mz_db *open_fresh(void)
{
    struct mz_db_options o = {.create = true, .busy_timeout_ms = 5000};
    struct mz_db *db = NULL;
    int applied = 0;

    snprintf(db_path, sizeof(db_path), "%s/audit%d.db", test_dir, ++db_counter);
    assert_int_equal(mz_db_open(db_path, &o, &db), MZ_OK);
    assert_int_equal(mz_db_migrate(db, "audit", mz_module_audit.migrations,
                                   mz_module_audit.nmigrations, &applied),
                     MZ_OK);
    assert_int_equal(applied, 1);
    return db;
}

/* Another connection to the current database file. */
static struct mz_db *open_again(void)
{
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 5000};
    struct mz_db *db = NULL;
    assert_int_equal(mz_db_open(db_path, &o, &db), MZ_OK);
    return db;
}

/* Per-test setup: a fresh database and a request on it. */
static int setup(void **state)
{
    struct fixture *f = mz_xcalloc(1, sizeof(*f));
    f->db = open_fresh();
    f->app.db_spec = db_path;
    mz_audit_install(&f->app);
    f->req.app = &f->app;
    f->req.arena = mz_arena_new();
    f->req.db = f->db;
    f->req.actor = "tester";
    f->req.client_ip = "127.0.0.1";
    f->req.request_id = "0123456789abcdef";
    *state = f;
    return 0;
}

/* Per-test teardown. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_audit_stop();
    json_decref(f->req.error);
    json_decref(f->req.reply_json);
    mz_arena_free(f->req.arena);
    mz_db_close(f->db);
    free(f);
    return 0;
}

/* Append n events, each in its own write transaction. */
static void append_n(struct mz_db *db, int n)
{
    for (int i = 1; i <= n; i++) {
        char detail[64];
        snprintf(detail, sizeof(detail), "{\"changes\":{\"n\":{\"from\":%d,\"to\":%d}}}", i - 1, i);
        struct mz_audit_event ev = {.actor = "clerk",
                                    .ip = "10.0.0.1",
                                    .action = "update",
                                    .object = "sample_cases",
                                    .object_id = i,
                                    .success = true,
                                    .detail = detail};
        int64_t seq = 0;
        assert_int_equal(mz_db_begin_write(db), MZ_OK);
        assert_int_equal(mz_audit_append(db, &ev, &seq), MZ_OK);
        assert_int_equal(mz_db_commit(db), MZ_OK);
        assert_true(seq > 0);
    }
}

/* Run SQL that must succeed. */
static void exec_ok(struct mz_db *db, const char *sql)
{
    int rc = mz_db_exec(db, sql);
    if (rc != MZ_OK)
        fail_msg("%s: %s", sql, mz_db_errmsg(db));
}

/* Drop the protecting triggers, as an attacker with the file would. */
static void drop_triggers(struct mz_db *db)
{
    exec_ok(db, "DROP TRIGGER mz_audit_no_update; DROP TRIGGER mz_audit_retention;");
}

/* Verify and expect a broken chain at seq with problem. */
static void expect_broken(struct mz_db *db, int64_t seq, const char *problem)
{
    struct mz_audit_check c;
    assert_int_equal(mz_audit_verify(db, &c), MZ_OK);
    assert_false(c.intact);
    if (c.bad_seq != seq || strcmp(c.problem, problem) != 0)
        fail_msg("want entry %lld %s, got %lld %s (%s)", (long long)seq, problem,
                 (long long)c.bad_seq, c.problem, c.message);
    assert_int_equal(c.entries, seq - 1);
}

/* Count rows of mz_audit. */
static int64_t count_rows(struct mz_db *db, const char *where)
{
    char sql[256];
    int64_t n = -1;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM mz_audit%s%s", where ? " WHERE " : "",
             where ? where : "");
    assert_int_equal(mz_db_query_int(db, sql, &n, 0, NULL), MZ_OK);
    return n;
}

/* --- the chain ----------------------------------------------------------------- */

/* The stored hash is HMAC-SHA256, under the key file's MAC subkey, of the
 * canonical form the file comment documents (computed here without the
 * module: libsodium's one-shot HMAC and the form written out by hand). */
static void test_mac_known_answer(void **state)
{
    struct fixture *f = *state;
    unsigned char master[32], mac_key[crypto_auth_hmacsha256_KEYBYTES];
    unsigned char h[crypto_auth_hmacsha256_BYTES];
    char hex[65], path[300], line[80], expected[65], stored[80] = "";
    for (int i = 0; i < 32; i++)
        master[i] = (unsigned char)(i * 7 + 1);
    sodium_bin2hex(hex, sizeof(hex), master, sizeof(master));
    snprintf(path, sizeof(path), "%s/known.key", test_dir);
    snprintf(line, sizeof(line), "v1 %s\n", hex);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(line, fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(mz_crypto_load(path, false), MZ_OK);

    const char *detail = "{\"name\":{\"from\":null,\"to\":\"张三\"}}";
    struct mz_audit_event ev = {.at = "2026-11-29T08:00:00.000Z", .actor = "tester",
                                .ip = "127.0.0.1", .action = "create", .object = "persons",
                                .object_id = 1234567890, .success = true, .detail = detail};
    int64_t seq = 0;
    assert_int_equal(mz_audit_append(f->db, &ev, &seq), MZ_OK);
    assert_int_equal(seq, 1);
    char canon[512];
    int n = snprintf(canon, sizeof(canon),
                     "mz-audit-v1;1:1;24:2026-11-29T08:00:00.000Z;6:tester;~;9:127.0.0.1;"
                     "6:create;7:persons;10:1234567890;2:ok;%zu:%s;64:%s;",
                     strlen(detail), detail,
                     "0000000000000000000000000000000000000000000000000000000000000000");
    crypto_kdf_derive_from_key(mac_key, sizeof(mac_key), 3, "minzheng", master);
    crypto_auth_hmacsha256(h, (const unsigned char *)canon, (unsigned long long)n, mac_key);
    sodium_bin2hex(expected, sizeof(expected), h, sizeof(h));
    struct mz_stmt *st;
    assert_int_equal(mz_db_prepare(f->db, "SELECT hash FROM mz_audit WHERE seq = 1", &st), MZ_OK);
    assert_int_equal(mz_db_step(st), MZ_ROW);
    snprintf(stored, sizeof(stored), "%s", mz_db_col_text(st, 0));
    mz_db_done(st);
    assert_string_equal(stored, expected);
    /* Many MACs from the one key: each the same as the one-shot HMAC. */
    for (int i = 0; i < 3; i++) {
        char again[65];
        mz_crypto_mac(canon, (size_t)n, again);
        assert_string_equal(again, expected);
    }
    mz_crypto_init_ephemeral(); /* the other tests' key */
}

static void test_append_and_verify(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;

    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    assert_true(c.intact);
    assert_int_equal(c.entries, 0);
    append_n(f->db, 10);
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    assert_true(c.intact);
    assert_int_equal(c.entries, 10);
    assert_int_equal(c.head_seq, 10);
    assert_int_equal(strlen(c.head_hash), 64);

    json_t *head = NULL;
    assert_int_equal(mz_audit_head(f->db, &head), MZ_OK);
    assert_int_equal(json_integer_value(json_object_get(head, "seq")), 10);
    assert_string_equal(json_string_value(json_object_get(head, "hash")), c.head_hash);
    json_decref(head);

    /* Result is recorded; seq 1 chains to the genesis hash. */
    int64_t n = 0;
    assert_int_equal(mz_db_query_int(f->db,
                                     "SELECT count(*) FROM mz_audit WHERE seq = 1 AND prev_hash"
                                     " = '0000000000000000000000000000000000000000000000000000"
                                     "000000000000' AND result = 'ok'",
                                     &n, 0, NULL),
                     MZ_OK);
    assert_int_equal(n, 1);
}

static void test_tamper_edit(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    exec_ok(f->db, "UPDATE mz_audit SET detail = '{\"changes\":{}}' WHERE seq = 3");
    expect_broken(f->db, 3, "edited");
}

static void test_tamper_edit_actor_and_hash(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    /* A new hash without the key: the row still fails. */
    exec_ok(f->db,
            "UPDATE mz_audit SET actor = 'nobody', hash = '"
            "1111111111111111111111111111111111111111111111111111111111111111' WHERE seq = 7");
    expect_broken(f->db, 7, "edited");
}

static void test_tamper_delete(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    exec_ok(f->db, "DELETE FROM mz_audit WHERE seq = 5");
    expect_broken(f->db, 5, "deleted");
}

static void test_tamper_delete_first(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 4);
    drop_triggers(f->db);
    exec_ok(f->db, "DELETE FROM mz_audit WHERE seq = 1");
    expect_broken(f->db, 1, "deleted");
}

static void test_tamper_insert(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    /* Make room at seq 4 and forge a row there that claims to follow entry 3. */
    exec_ok(f->db, "UPDATE mz_audit SET seq = seq + 1000 WHERE seq >= 4;"
                   "UPDATE mz_audit SET seq = seq - 999 WHERE seq > 1000;"
                   "INSERT INTO mz_audit (seq, at, actor, action, result, prev_hash, hash)"
                   " SELECT 4, at, 'forger', 'delete', 'ok', hash,"
                   " '2222222222222222222222222222222222222222222222222222222222222222'"
                   " FROM mz_audit WHERE seq = 3;");
    expect_broken(f->db, 4, "inserted");
}

static void test_tamper_insert_at_end(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;
    append_n(f->db, 5);
    exec_ok(f->db, "INSERT INTO mz_audit (seq, at, actor, action, result, prev_hash, hash)"
                   " SELECT 6, at, 'forger', 'login', 'ok', hash,"
                   " '3333333333333333333333333333333333333333333333333333333333333333'"
                   " FROM mz_audit WHERE seq = 5;");
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    assert_false(c.intact);
    assert_int_equal(c.bad_seq, 6);
    assert_true(strcmp(c.problem, "edited") == 0 || strcmp(c.problem, "inserted") == 0);
}

static void test_tamper_swap(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    exec_ok(f->db, "UPDATE mz_audit SET seq = 1002 WHERE seq = 2;"
                   "UPDATE mz_audit SET seq = 2 WHERE seq = 6;"
                   "UPDATE mz_audit SET seq = 6 WHERE seq = 1002;");
    expect_broken(f->db, 2, "reordered");
}

static void test_tamper_swap_adjacent(void **state)
{
    struct fixture *f = *state;
    append_n(f->db, 10);
    drop_triggers(f->db);
    exec_ok(f->db, "UPDATE mz_audit SET seq = 1008 WHERE seq = 8;"
                   "UPDATE mz_audit SET seq = 8 WHERE seq = 9;"
                   "UPDATE mz_audit SET seq = 9 WHERE seq = 1008;");
    expect_broken(f->db, 8, "reordered");
}

static void test_anchor_finds_truncation(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;
    char path[160], hash[65];

    append_n(f->db, 6);
    snprintf(path, sizeof(path), "%s/anchors%d.jsonl", test_dir, db_counter);
    assert_int_equal(mz_audit_anchor_to(f->db, path), MZ_OK);
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    memcpy(hash, c.head_hash, 65);
    assert_int_equal(mz_audit_verify_anchor(f->db, 6, hash, &c), MZ_OK);
    assert_true(c.intact);

    FILE *fp = fopen(path, "r");
    char line[512];
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_non_null(strstr(line, hash));
    assert_non_null(strstr(line, "\"seq\":6"));

    drop_triggers(f->db);
    exec_ok(f->db, "DELETE FROM mz_audit WHERE seq >= 5");
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    assert_true(c.intact); /* the chain alone cannot see a cut tail */
    assert_int_equal(mz_audit_verify_anchor(f->db, 6, hash, &c), MZ_OK);
    assert_false(c.intact);
    assert_int_equal(c.bad_seq, 5);
    assert_string_equal(c.problem, "deleted");
}

/* --- append-only ------------------------------------------------------------------ */

static void test_triggers_refuse_update_and_delete(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;

    append_n(f->db, 3);
    assert_int_not_equal(mz_db_exec(f->db, "UPDATE mz_audit SET detail = NULL WHERE seq = 2"),
                         MZ_OK);
    assert_non_null(strstr(mz_db_errmsg(f->db), "append-only"));
    assert_int_not_equal(mz_db_exec(f->db, "DELETE FROM mz_audit WHERE seq = 2"), MZ_OK);
    assert_non_null(strstr(mz_db_errmsg(f->db), "retention"));
    assert_int_not_equal(mz_db_exec(f->db, "DELETE FROM mz_audit"), MZ_OK);
    assert_int_equal(count_rows(f->db, NULL), 3);

    /* Just inside the window is still refused; beyond it a row may go. */
    struct mz_audit_event old = {
        .at = "2001-01-01T00:00:00.000Z", .actor = "a", .action = "login", .success = true};
    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(mz_audit_append(f->db, &old, NULL), MZ_OK);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    exec_ok(f->db, "INSERT INTO mz_audit (seq, at, actor, action, result, prev_hash, hash)"
                   " VALUES (100, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-179 days'), 'a', 'x',"
                   " 'ok', '', '')");
    assert_int_not_equal(mz_db_exec(f->db, "DELETE FROM mz_audit WHERE seq = 100"), MZ_OK);
    exec_ok(f->db, "DELETE FROM mz_audit WHERE at < '2002'");
    assert_int_equal(count_rows(f->db, NULL), 4);

    /* The retention cannot be lowered below 180 days, nor its row deleted. */
    assert_int_not_equal(mz_db_exec(f->db, "UPDATE mz_audit_settings SET value = 30"), MZ_OK);
    assert_int_not_equal(mz_db_exec(f->db, "DELETE FROM mz_audit_settings"), MZ_OK);
    exec_ok(f->db, "UPDATE mz_audit_settings SET value = 400");
    exec_ok(f->db, "INSERT INTO mz_audit (seq, at, actor, action, result, prev_hash, hash)"
                   " VALUES (101, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-300 days'), 'a', 'x',"
                   " 'ok', '', '')");
    assert_int_not_equal(mz_db_exec(f->db, "DELETE FROM mz_audit WHERE seq = 101"), MZ_OK);
    (void)c;
}

/* --- the hook ----------------------------------------------------------------------- */

static void test_record_in_transaction_commits_with_it(void **state)
{
    struct fixture *f = *state;
    json_t *changes = json_pack("{s{ss ss}}", "title", "from", "旧", "to", "新");

    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(mz_audit(&f->req, "update", "sample_cases", 7, true, changes), 0);
    assert_int_equal(mz_db_rollback(f->db), MZ_OK);
    assert_int_equal(count_rows(f->db, NULL), 0); /* rolled back with the change */

    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    assert_int_equal(mz_audit(&f->req, "update", "sample_cases", 7, true, changes), 0);
    assert_int_equal(mz_db_commit(f->db), MZ_OK);
    assert_int_equal(count_rows(f->db, "action = 'update' AND object_id = 7 AND actor = 'tester'"
                                       " AND ip = '127.0.0.1' AND detail LIKE '%\"from\":\"旧\"%'"),
                     1);
    json_decref(changes);
}

static void test_record_fails_closed(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(mz_db_begin_write(f->db), MZ_OK);
    mz_db_fault_set(1);
    int status = mz_audit(&f->req, "create", "sample_cases", 1, true, NULL);
    mz_db_fault_set(0);
    assert_int_equal(status, 500);
    assert_true(f->req.failed);
    assert_string_equal(json_string_value(json_object_get(f->req.error, "code")), "audit_failed");
    assert_int_equal(mz_db_rollback(f->db), MZ_OK);
}

static void test_record_without_queue_writes_at_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mz_audit(&f->req, "export", "sample_cases", 0, true, NULL), 0);
    assert_int_equal(mz_audit(&f->req, "login_failed", "session", 0, false, NULL), 0);
    assert_int_equal(count_rows(f->db, NULL), 2);
    assert_int_equal(count_rows(f->db, "result = 'fail'"), 1);
}

static void test_queue_merges_views_of_one_actor(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;

    assert_int_equal(mz_audit_start(&f->app), MZ_OK);
    for (int i = 1; i <= 50; i++)
        assert_int_equal(mz_audit(&f->req, "view_sensitive", "sample_cases", i, true, NULL), 0);
    /* Another request of the same actor from the same address joins the row;
     * another actor's view gets its own. */
    struct mz_req again = f->req;
    again.request_id = "fedcba9876543210";
    assert_int_equal(mz_audit(&again, "view_sensitive", "sample_cases", 51, true, NULL), 0);
    struct mz_req other = f->req;
    other.request_id = "0123456789abcdef";
    other.actor = "another_officer";
    assert_int_equal(mz_audit(&other, "view_sensitive", "sample_cases", 99, true, NULL), 0);
    mz_audit_flush();
    assert_int_equal(count_rows(f->db, NULL), 2);
    assert_int_equal(count_rows(f->db, "detail LIKE '%\"count\":51%' AND object_id IS NULL"), 1);
    assert_int_equal(count_rows(f->db, "object_id = 99 AND actor = 'another_officer'"), 1);
    mz_audit_stop();
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    assert_true(c.intact);
}

/* What one concurrent worker does. */
struct worker {
    int index;
    int rounds;
    struct mz_app *app;
};

/* Alternate queued events (no transaction) and events in write transactions. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mz_db *db = open_again();
    struct mz_req req = {.app = w->app,
                         .arena = mz_arena_new(),
                         .db = db,
                         .actor = "worker",
                         .client_ip = "10.0.0.9"};
    char rid[17];
    for (int i = 0; i < w->rounds; i++) {
        snprintf(rid, sizeof(rid), "%04d%012d", w->index, i);
        req.request_id = rid;
        if (mz_audit(&req, "export", "sample_cases", 0, true, NULL) != 0)
            fail_msg("queued event refused");
        int rc = mz_db_begin_write(db);
        if (rc != MZ_OK)
            fail_msg("begin: %s", mz_err_name(rc));
        if (mz_audit(&req, "update", "sample_cases", w->index * 100000 + i + 1, true, NULL) != 0)
            fail_msg("event in transaction refused");
        if (mz_db_commit(db) != MZ_OK)
            fail_msg("commit failed");
    }
    mz_arena_free(req.arena);
    mz_db_close(db);
    return NULL;
}

static void test_concurrent_appends_keep_the_chain(void **state)
{
    struct fixture *f = *state;
    struct mz_audit_check c;
    pthread_t threads[4];
    struct worker workers[4];
    const int rounds = 150;

    assert_int_equal(mz_audit_start(&f->app), MZ_OK);
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){.index = i + 1, .rounds = rounds, .app = &f->app};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    mz_audit_stop();
    assert_int_equal(count_rows(f->db, NULL), 4 * 2 * rounds);
    assert_int_equal(count_rows(f->db, "action = 'export'"), 4 * rounds);
    assert_int_equal(mz_audit_verify(f->db, &c), MZ_OK);
    if (!c.intact)
        fail_msg("chain broken at %lld: %s", (long long)c.bad_seq, c.message);
    assert_int_equal(c.entries, 4 * 2 * rounds);
}

/* --- main ---------------------------------------------------------------------------- */

int main(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/mz-test-audit-XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return 1;
    mz_log_set_level(MZ_LOG_ERROR);
    mz_crypto_init_ephemeral();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mac_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_edit_actor_and_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_insert_at_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap_adjacent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_finds_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers_refuse_update_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_in_transaction_commits_with_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_without_queue_writes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_merges_views_of_one_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends_keep_the_chain, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    if (system(cmd) != 0)
        failed++;
    return failed;
}
