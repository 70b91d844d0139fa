/* audit.c - the tamper-evident audit log: chain, queue, verification, API.
 *
 * What it owns: the table mz_audit and its settings (module "audit", numbered
 * migrations), the app->audit hook (mz_audit_record), the group-commit queue
 * and its thread, verification of the chain, the anchor export (a daily job of
 * this module and `minzheng audit-anchor`) and GET /api/v1/audit[/verify].
 *
 * The chain. Row n stores prev_hash = hash of row n-1 (64 zeros for seq 1) and
 * hash = mz_crypto_mac(canonical(n)), where canonical(n) is "mz-audit-v1;"
 * followed by seq, at, actor, roles, ip, action, object, object_id, result,
 * detail and prev_hash, each written as "<byte length>:<bytes>;" or "~;" for
 * NULL: unambiguous, independent of JSON formatting. Without the key nobody
 * can make a row verify, so:
 *   edited    a row's content no longer matches its hash;
 *   deleted   a seq is missing (an interior gap), or a row's predecessor is gone;
 *   inserted  a forged row whose successor still links to the row before it;
 *   reordered a row verifies only under another seq (seqs swapped or shifted).
 * A truncated tail is invisible to the chain alone: that is what anchors are
 * for (mz_audit_verify_anchor, `audit-verify --anchor FILE`).
 *
 * Appending. seq and prev_hash come from the last row read under the write
 * lock; SQLite serialises writers, so concurrent appenders (request threads
 * and the queue thread, each on its own connection) always extend the true
 * head. Inside a request's write transaction an event is appended in that
 * transaction: it commits or rolls back with the change it records, and a
 * failed append fails the request (fail closed). The rows of a large import
 * (mode=all, req->importing) are appended in the same transaction in batches
 * whose MACs another thread makes while the import goes on (see "an import's
 * rows" below): the same rows as appended one by one. Everything else (reads,
 * exports, unmasked views, failures whose transaction will roll back) is
 * queued; one thread flushes the queue every 20 ms or at 256 events in one
 * transaction on its own connection (synchronous=FULL). The queue is bounded:
 * when full, a request waits up to a second and then fails with 503 rather
 * than go unaudited. "view_sensitive" events of one actor, address and
 * entity from one worker thread are merged into one row with the list of ids
 * while it is still queued (one flush interval), across requests.
 *
 * Append-only. Triggers refuse every UPDATE of mz_audit and every DELETE of a
 * row younger than the retention (mz_audit_settings.retention_days, never
 * below 180; MZ_AUDIT_RETENTION_DAYS may raise it at start-up), so there is no
 * delete path inside the window for anyone using the application's database
 * access. PostgreSQL will get the equivalent: BEFORE UPDATE/DELETE trigger
 * functions raising the same errors, UPDATE/DELETE revoked from the
 * application role, and the retention check in the DELETE trigger.
 *
 * Personal data: detail is what the engine passes (changes with sensitive
 * values already masked); nothing here logs a detail or an actor.
 * Tested by tests/unit/test_audit.c and tests/api/audit.test.mjs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mz/audit.h"
#include "mz/crypto.h"

/* --- SQL, in one place --------------------------------------------------------- */

#define AUDIT_COLS                                                                                 \
    "seq, at, actor, roles, ip, action, object, object_id, result, detail, prev_hash, hash"

static const char SQL_HEAD[] = "SELECT seq, hash, at FROM mz_audit ORDER BY seq DESC LIMIT 1";
static const char SQL_INSERT[] =
    "INSERT INTO mz_audit (" AUDIT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_SCAN[] = "SELECT " AUDIT_COLS " FROM mz_audit ORDER BY seq";
static const char SQL_ROW[] = "SELECT " AUDIT_COLS " FROM mz_audit WHERE seq = ?";
static const char SQL_NEXT[] =
    "SELECT " AUDIT_COLS " FROM mz_audit WHERE seq > ? ORDER BY seq LIMIT 1";
static const char SQL_SEQ_BY_HASH[] = "SELECT seq FROM mz_audit WHERE hash = ? LIMIT 1";
static const char SQL_SEQ_BY_PREV[] = "SELECT seq FROM mz_audit WHERE prev_hash = ? LIMIT 1";
static const char SQL_SET_RETENTION[] =
    "UPDATE mz_audit_settings SET value = ? WHERE name = 'retention_days' AND value < ?";

/* The SQLite schema: table, indexes, settings and the append-only triggers. */
static const char SQL_SCHEMA_SQLITE[] =
    "CREATE TABLE mz_audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    " roles TEXT, ip TEXT, action TEXT NOT NULL, object TEXT, object_id INTEGER,"
    " result TEXT NOT NULL CHECK (result IN ('ok', 'fail')), detail TEXT,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX ix_mz_audit_at ON mz_audit(at);"
    "CREATE INDEX ix_mz_audit_actor ON mz_audit(actor, seq);"
    "CREATE INDEX ix_mz_audit_action ON mz_audit(action, seq);"
    "CREATE INDEX ix_mz_audit_object ON mz_audit(object, object_id);"
    "CREATE TABLE mz_audit_settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO mz_audit_settings (name, value) VALUES ('retention_days', 180);"
    "CREATE TRIGGER mz_audit_no_update BEFORE UPDATE ON mz_audit"
    " BEGIN SELECT RAISE(ABORT, 'mz_audit is append-only'); END;"
    "CREATE TRIGGER mz_audit_retention BEFORE DELETE ON mz_audit"
    " WHEN OLD.at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || max(180, coalesce("
    "(SELECT value FROM mz_audit_settings WHERE name = 'retention_days'), 180)) || ' days')"
    " BEGIN SELECT RAISE(ABORT, 'mz_audit entries are kept for the retention period'); END;"
    "CREATE TRIGGER mz_audit_settings_floor BEFORE UPDATE ON mz_audit_settings"
    " WHEN NEW.name = 'retention_days' AND NEW.value < 180"
    " BEGIN SELECT RAISE(ABORT, 'audit retention cannot be below 180 days'); END;"
    "CREATE TRIGGER mz_audit_settings_keep BEFORE DELETE ON mz_audit_settings"
    " BEGIN SELECT RAISE(ABORT, 'audit settings cannot be deleted'); END;";

/* The PostgreSQL schema: the same table, indexes and settings; the same four
 * rules as PL/pgSQL triggers (plus TRUNCATE refused), raising SQLSTATE 23000
 * as SQLite's RAISE(ABORT) gives a constraint error. */
static const char SQL_SCHEMA_PG[] =
    "CREATE TABLE mz_audit (seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    " roles TEXT, ip TEXT, action TEXT NOT NULL, object TEXT, object_id BIGINT,"
    " result TEXT NOT NULL CHECK (result IN ('ok', 'fail')), detail TEXT,"
    " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX ix_mz_audit_at ON mz_audit(at);"
    "CREATE INDEX ix_mz_audit_actor ON mz_audit(actor, seq);"
    "CREATE INDEX ix_mz_audit_action ON mz_audit(action, seq);"
    "CREATE INDEX ix_mz_audit_object ON mz_audit(object, object_id);"
    "CREATE TABLE mz_audit_settings (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO mz_audit_settings (name, value) VALUES ('retention_days', 180);"
    "CREATE FUNCTION mz_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP <> 'DELETE' THEN RAISE EXCEPTION 'mz_audit is append-only'"
    "  USING ERRCODE = 'integrity_constraint_violation'; END IF;"
    " IF OLD.at > to_char((clock_timestamp() AT TIME ZONE 'UTC') - make_interval(days =>"
    "  greatest(180, coalesce((SELECT value FROM mz_audit_settings"
    "  WHERE name = 'retention_days'), 180))::int), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') THEN"
    "  RAISE EXCEPTION 'mz_audit entries are kept for the retention period'"
    "  USING ERRCODE = 'integrity_constraint_violation'; END IF;"
    " RETURN OLD; END $$;"
    "CREATE TRIGGER mz_audit_guard BEFORE UPDATE OR DELETE ON mz_audit"
    " FOR EACH ROW EXECUTE FUNCTION mz_audit_guard();"
    "CREATE FUNCTION mz_audit_settings_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN"
    "  RAISE EXCEPTION 'audit settings cannot be deleted'"
    "  USING ERRCODE = 'integrity_constraint_violation'; END IF;"
    " IF NEW.name = 'retention_days' AND NEW.value < 180 THEN"
    "  RAISE EXCEPTION 'audit retention cannot be below 180 days'"
    "  USING ERRCODE = 'integrity_constraint_violation'; END IF;"
    " RETURN NEW; END $$;"
    "CREATE TRIGGER mz_audit_settings_guard BEFORE UPDATE OR DELETE ON mz_audit_settings"
    " FOR EACH ROW EXECUTE FUNCTION mz_audit_settings_guard();"
    "CREATE FUNCTION mz_audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'mz_audit cannot be truncated'"
    "  USING ERRCODE = 'integrity_constraint_violation'; END $$;"
    "CREATE TRIGGER mz_audit_no_truncate BEFORE TRUNCATE ON mz_audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION mz_audit_no_truncate();"
    "CREATE TRIGGER mz_audit_settings_no_truncate BEFORE TRUNCATE ON mz_audit_settings"
    " FOR EACH STATEMENT EXECUTE FUNCTION mz_audit_no_truncate();";

/* --- tunables -------------------------------------------------------------------- */

#define QUEUE_BATCH       256   /* flush at once when this many events wait */
#define QUEUE_LINGER_MS   20    /* else flush this long after the first event */
#define QUEUE_MAX         65536 /* events queued at most (then producers wait) */
#define QUEUE_WAIT_MS     1000  /* how long a producer waits for room */
#define VIEW_IDS_MAX      1000  /* ids merged into one view_sensitive row at most */
#define REORDER_WINDOW    1000  /* seqs searched either side for a moved row */
#define LIST_SIZE_DEFAULT 20
#define LIST_SIZE_MAX     500

static const char GENESIS[65] = "0000000000000000000000000000000000000000000000000000000000000000";

/* --- the chain ----------------------------------------------------------------- */

/* One row of mz_audit (strings owned when loaded from the database). */
struct audit_row {
    int64_t seq;
    const char *at, *actor, *roles, *ip, *action, *object;
    int64_t object_id; /* 0: NULL */
    const char *result, *detail, *prev_hash, *hash;
};

/* Append one field of the canonical form: "<len>:<bytes>;" or "~;" for NULL. */
static void canon_text(struct mz_buf *b, const char *s)
{
    if (s == NULL) {
        mz_buf_puts(b, "~;");
        return;
    }
    size_t len = strlen(s), n = len;
    char num[24], *p = num + sizeof(num);
    *--p = ':';
    do { /* the length in decimal, without printf (one per field of every row) */
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    mz_buf_append(b, p, (size_t)(num + sizeof(num) - p));
    mz_buf_append(b, s, len);
    mz_buf_append(b, ";", 1);
}

/* Append an integer field (0 as NULL when nullable). */
static void canon_int(struct mz_buf *b, int64_t v, bool zero_is_null)
{
    char num[24];
    if (zero_is_null && v == 0) {
        canon_text(b, NULL);
        return;
    }
    snprintf(num, sizeof(num), "%lld", (long long)v);
    canon_text(b, num);
}

/* The MAC of a row as if it had sequence number seq (hex into out[65]). */
static void row_mac(const struct audit_row *r, int64_t seq, char out[65])
{
    struct mz_buf b;
    mz_buf_init(&b, 0);
    mz_buf_puts(&b, "mz-audit-v1;");
    canon_int(&b, seq, false);
    canon_text(&b, r->at);
    canon_text(&b, r->actor);
    canon_text(&b, r->roles);
    canon_text(&b, r->ip);
    canon_text(&b, r->action);
    canon_text(&b, r->object);
    canon_int(&b, r->object_id, true);
    canon_text(&b, r->result);
    canon_text(&b, r->detail);
    canon_text(&b, r->prev_hash);
    mz_crypto_mac(b.data, b.len, out);
    mz_buf_free(&b);
}

/* Copy a column's text (NULL stays NULL). */
static const char *col_dup(struct mz_stmt *st, int col)
{
    const char *s = mz_db_col_text(st, col);
    return s ? mz_xstrdup(s) : NULL;
}

/* Load the row under a statement selecting AUDIT_COLS. */
static void row_load(struct mz_stmt *st, struct audit_row *r)
{
    r->seq = mz_db_col_int(st, 0);
    r->at = col_dup(st, 1);
    r->actor = col_dup(st, 2);
    r->roles = col_dup(st, 3);
    r->ip = col_dup(st, 4);
    r->action = col_dup(st, 5);
    r->object = col_dup(st, 6);
    r->object_id = mz_db_col_type(st, 7) == MZ_COL_NULL ? 0 : mz_db_col_int(st, 7);
    r->result = col_dup(st, 8);
    r->detail = col_dup(st, 9);
    r->prev_hash = col_dup(st, 10);
    r->hash = col_dup(st, 11);
}

/* Free a loaded row's strings and clear it. */
static void row_clear(struct audit_row *r)
{
    const char *owned[] = {r->at,     r->actor,  r->roles,  r->ip,        r->action,
                           r->object, r->result, r->detail, r->prev_hash, r->hash};
    for (size_t i = 0; i < MZ_ARRAY_LEN(owned); i++)
        free((void *)owned[i]);
    memset(r, 0, sizeof(*r));
}

/* Read the chain head: seq (0 if empty) and hash (GENESIS if empty). */
static int read_head(struct mz_db *db, int64_t *seq, char hash[65])
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, SQL_HEAD, &st);
    if (rc != MZ_OK)
        return rc;
    *seq = 0;
    memcpy(hash, GENESIS, 65);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        const char *h = mz_db_col_text(st, 1);
        *seq = mz_db_col_int(st, 0);
        snprintf(hash, 65, "%s", h ? h : "");
        rc = MZ_OK;
    } else if (rc == MZ_DONE) {
        rc = MZ_OK;
    }
    mz_db_done(st);
    return rc;
}

/* INSERT row r (its prev_hash set) with its MAC hash. */
static int insert_row(struct mz_db *db, const struct audit_row *r, const char *hash)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, SQL_INSERT, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, r->seq);
    mz_db_bind_text(st, 2, r->at);
    mz_db_bind_text(st, 3, r->actor);
    mz_db_bind_text(st, 4, r->roles);
    mz_db_bind_text(st, 5, r->ip);
    mz_db_bind_text(st, 6, r->action);
    mz_db_bind_text(st, 7, r->object);
    if (r->object_id != 0)
        mz_db_bind_int(st, 8, r->object_id);
    else
        mz_db_bind_null(st, 8);
    mz_db_bind_text(st, 9, r->result);
    mz_db_bind_text(st, 10, r->detail);
    mz_db_bind_text(st, 11, r->prev_hash);
    mz_db_bind_text(st, 12, hash);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : rc < 0 ? rc : MZ_ERR_DB;
}

/* Append ev after the head (*head_seq, head_hash), which then becomes ev. */
static int append_after(struct mz_db *db, const struct mz_audit_event *ev, int64_t *head_seq,
                        char head_hash[65])
{
    char now[32], hash[65];

    if (ev->action == NULL || ev->action[0] == '\0')
        return MZ_ERR_INVALID;
    if (ev->at == NULL)
        mz_now_rfc3339(now);
    struct audit_row r = {
        .seq = *head_seq + 1,
        .at = ev->at ? ev->at : now,
        .actor = ev->actor && ev->actor[0] ? ev->actor : "-",
        .roles = ev->roles,
        .ip = ev->ip,
        .action = ev->action,
        .object = ev->object,
        .object_id = ev->object_id,
        .result = ev->success ? "ok" : "fail",
        .detail = ev->detail,
        .prev_hash = head_hash,
    };
    row_mac(&r, r.seq, hash);
    int rc = insert_row(db, &r, hash);
    if (rc != MZ_OK)
        return rc;
    *head_seq = r.seq;
    memcpy(head_hash, hash, 65);
    return MZ_OK;
}

int mz_audit_append(struct mz_db *db, const struct mz_audit_event *ev, int64_t *seq_out)
{
    int64_t seq;
    char hash[65];
    int rc = read_head(db, &seq, hash);
    if (rc == MZ_OK)
        rc = append_after(db, ev, &seq, hash);
    if (rc == MZ_OK && seq_out != NULL)
        *seq_out = seq;
    return rc;
}

/* --- verification ---------------------------------------------------------------- */

/* Record the first bad entry in c. */
static void check_fail(struct mz_audit_check *c, int64_t seq, const char *problem, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static void check_fail(struct mz_audit_check *c, int64_t seq, const char *problem, const char *fmt,
                       ...)
{
    va_list ap;
    c->intact = false;
    c->bad_seq = seq;
    c->problem = problem;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
}

/* The seq of the row whose column (hash or prev_hash, by sql) equals value;
 * 0 when none. */
static int64_t seq_where(struct mz_db *db, const char *sql, const char *value)
{
    struct mz_stmt *st;
    int64_t seq = 0;
    if (value == NULL || mz_db_prepare(db, sql, &st) != MZ_OK)
        return 0;
    mz_db_bind_text(st, 1, value);
    if (mz_db_step(st) == MZ_ROW)
        seq = mz_db_col_int(st, 0);
    mz_db_done(st);
    return seq;
}

/* True if r verifies under sequence number seq. */
static bool mac_matches(const struct audit_row *r, int64_t seq)
{
    char mac[65];
    if (seq < 1 || r->hash == NULL)
        return false;
    row_mac(r, seq, mac);
    return strcmp(mac, r->hash) == 0;
}

/* Load the first row after seq into next; false when there is none. */
static bool load_next(struct mz_db *db, int64_t seq, struct audit_row *next)
{
    struct mz_stmt *st;
    bool found = false;
    if (mz_db_prepare(db, SQL_NEXT, &st) != MZ_OK)
        return false;
    mz_db_bind_int(st, 1, seq);
    if (mz_db_step(st) == MZ_ROW) {
        row_load(st, next);
        found = true;
    }
    mz_db_done(st);
    return found;
}

/* The row r (at its expected seq) does not match its hash: say why. */
static void classify_bad_mac(struct mz_db *db, const struct audit_row *r, struct mz_audit_check *c)
{
    /* Moved: it verifies under the seq after its chain predecessor's, or
     * before its chain successor's, or somewhere near. */
    int64_t cands[2] = {0, 0};
    if (r->prev_hash && strcmp(r->prev_hash, GENESIS) == 0)
        cands[0] = 1;
    else {
        int64_t p = seq_where(db, SQL_SEQ_BY_HASH, r->prev_hash);
        cands[0] = p > 0 ? p + 1 : 0;
    }
    int64_t s = seq_where(db, SQL_SEQ_BY_PREV, r->hash);
    cands[1] = s > 0 ? s - 1 : 0;
    for (size_t i = 0; i < 2; i++) {
        if (cands[i] != r->seq && mac_matches(r, cands[i])) {
            check_fail(c, r->seq, "reordered", "entry %lld was written as entry %lld",
                       (long long)r->seq, (long long)cands[i]);
            return;
        }
    }
    for (int64_t d = 1; d <= REORDER_WINDOW; d++) {
        int64_t try[2] = {r->seq - d, r->seq + d};
        for (size_t i = 0; i < 2; i++) {
            if (mac_matches(r, try[i])) {
                check_fail(c, r->seq, "reordered", "entry %lld was written as entry %lld",
                           (long long)r->seq, (long long)try[i]);
                return;
            }
        }
    }
    /* Forged: the next row still links to this row's predecessor. */
    struct audit_row next = {0};
    bool inserted = load_next(db, r->seq, &next) && next.prev_hash && r->prev_hash &&
                    strcmp(next.prev_hash, r->prev_hash) == 0;
    row_clear(&next);
    if (inserted) {
        check_fail(c, r->seq, "inserted",
                   "entry %lld is not part of the chain: the next entry links past it",
                   (long long)r->seq);
        return;
    }
    check_fail(c, r->seq, "edited", "entry %lld does not match its hash", (long long)r->seq);
}

/* The row r matches its hash but not its predecessor: say why. */
static void classify_bad_link(struct mz_db *db, const struct audit_row *r, struct mz_audit_check *c)
{
    int64_t p = seq_where(db, SQL_SEQ_BY_HASH, r->prev_hash);
    if (p > 0)
        check_fail(c, r->seq, "reordered", "entry %lld follows entry %lld in the chain",
                   (long long)r->seq, (long long)p);
    else
        check_fail(c, r->seq, "deleted", "the entry before entry %lld in the chain is missing",
                   (long long)r->seq);
}

int mz_audit_verify(struct mz_db *db, struct mz_audit_check *c)
{
    struct mz_stmt *st;
    struct audit_row r = {0};
    char expected_prev[65];
    int64_t expected_seq = 1;
    int rc;

    memset(c, 0, sizeof(*c));
    c->intact = true;
    memcpy(c->head_hash, GENESIS, 65);
    memcpy(expected_prev, GENESIS, 65);
    rc = mz_db_prepare_uncached(db, SQL_SCAN, &st);
    if (rc != MZ_OK)
        return rc;
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        row_load(st, &r);
        if (r.seq != expected_seq) {
            check_fail(c, expected_seq, "deleted",
                       "entry %lld is missing (the log goes on at entry %lld)",
                       (long long)expected_seq, (long long)r.seq);
            break;
        }
        if (r.hash == NULL || strlen(r.hash) != 64 || !mac_matches(&r, r.seq)) {
            classify_bad_mac(db, &r, c);
            break;
        }
        if (r.prev_hash == NULL || strcmp(r.prev_hash, expected_prev) != 0) {
            classify_bad_link(db, &r, c);
            break;
        }
        memcpy(expected_prev, r.hash, 65);
        c->entries++;
        c->head_seq = r.seq;
        memcpy(c->head_hash, r.hash, 65);
        snprintf(c->head_at, sizeof(c->head_at), "%s", r.at ? r.at : "");
        expected_seq++;
        row_clear(&r);
    }
    row_clear(&r);
    mz_db_finalize(st);
    return rc < 0 ? rc : MZ_OK;
}

int mz_audit_verify_anchor(struct mz_db *db, int64_t seq, const char *hash,
                           struct mz_audit_check *c)
{
    struct mz_stmt *st;
    int rc = mz_audit_verify(db, c);
    if (rc != MZ_OK || !c->intact || seq <= 0)
        return rc;
    if (seq > c->head_seq) {
        check_fail(c, c->head_seq + 1, "deleted",
                   "the log ends at entry %lld but entry %lld was anchored", (long long)c->head_seq,
                   (long long)seq);
        return MZ_OK;
    }
    rc = mz_db_prepare(db, SQL_ROW, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, seq);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        const char *h = mz_db_col_text(st, 11);
        if (hash == NULL || h == NULL || strcmp(h, hash) != 0)
            check_fail(c, seq, "edited", "entry %lld differs from its anchor", (long long)seq);
        rc = MZ_OK;
    } else if (rc == MZ_DONE) {
        check_fail(c, seq, "deleted", "anchored entry %lld is missing", (long long)seq);
        rc = MZ_OK;
    }
    mz_db_done(st);
    return rc;
}

json_t *mz_audit_check_json(const struct mz_audit_check *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "intact", json_boolean(c->intact));
    json_object_set_new(o, "entries", json_integer(c->entries));
    if (c->intact) {
        json_object_set_new(o, "head", json_string(c->head_hash));
        json_object_set_new(o, "head_seq", json_integer(c->head_seq));
    } else {
        json_object_set_new(o, "seq", json_integer(c->bad_seq));
        json_object_set_new(o, "problem", json_string(c->problem));
        json_object_set_new(o, "message", json_string(c->message));
    }
    return o;
}

/* --- anchors --------------------------------------------------------------------- */

int mz_audit_head(struct mz_db *db, json_t **out)
{
    struct mz_stmt *st;
    char now[32];
    int rc = mz_db_prepare(db, SQL_HEAD, &st);
    if (rc != MZ_OK)
        return rc;
    json_t *o = json_object();
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        json_object_set_new(o, "seq", json_integer(mz_db_col_int(st, 0)));
        json_object_set_new(o, "hash", mz_json_str(mz_db_col_text(st, 1)));
        json_object_set_new(o, "at", mz_json_str(mz_db_col_text(st, 2)));
        rc = MZ_OK;
    } else if (rc == MZ_DONE) {
        json_object_set_new(o, "seq", json_integer(0));
        json_object_set_new(o, "hash", json_string(GENESIS));
        json_object_set_new(o, "at", json_null());
        rc = MZ_OK;
    }
    mz_db_done(st);
    if (rc != MZ_OK) {
        json_decref(o);
        return rc;
    }
    mz_now_rfc3339(now);
    json_object_set_new(o, "anchored_at", json_string(now));
    *out = o;
    return MZ_OK;
}

int mz_audit_anchor_to(struct mz_db *db, const char *path)
{
    json_t *head = NULL;
    int rc = mz_audit_head(db, &head);
    if (rc != MZ_OK)
        return rc;
    rc = mz_audit_anchor_write(head, path);
    json_decref(head);
    return rc;
}

int mz_audit_anchor_write(const json_t *head, const char *path)
{
    int rc;
    size_t len;
    char *line = mz_json_dump(head, &len);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(line);
        mz_error("audit anchor: cannot open the anchor file: %s", strerror(errno));
        return MZ_ERR_IO;
    }
    line[len] = '\n'; /* mz_json_dump leaves room for the terminator */
    ssize_t w = write(fd, line, len + 1);
    rc = (w == (ssize_t)(len + 1) && fsync(fd) == 0) ? MZ_OK : MZ_ERR_IO;
    if (close(fd) != 0)
        rc = MZ_ERR_IO;
    free(line);
    if (rc != MZ_OK)
        mz_error("audit anchor: writing the anchor file failed");
    return rc;
}

char *mz_audit_anchor_default_path(const char *db_spec)
{
    const char *env = getenv("MZ_AUDIT_ANCHOR");
    if (env != NULL && env[0] != '\0')
        return mz_xstrdup(env);
    const char *slash = db_spec ? strrchr(db_spec, '/') : NULL;
    size_t dir = slash ? (size_t)(slash - db_spec) : 0;
    char *out = mz_xmalloc(dir + 32);
    if (slash)
        snprintf(out, dir + 32, "%.*s/audit-anchors.jsonl", (int)dir, db_spec);
    else
        snprintf(out, dir + 32, "audit-anchors.jsonl");
    return out;
}

/* --- the group-commit queue -------------------------------------------------------- */

/* One queued event (all strings owned). */
struct audit_item {
    struct audit_item *next;
    char at[32];
    char *actor, *ip, *action, *object, *request_id;
    int64_t object_id;
    bool success;
    json_t *detail; /* owned deep copy, or NULL */
    int64_t *ids;   /* merged view_sensitive ids (view items only) */
    size_t nids, ids_cap;
    const void *req_key; /* the request that made a view item */
};

/* The queue and its thread. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* to the flusher: events, flush or stop */
    pthread_cond_t room;    /* to producers: the queue was emptied */
    pthread_cond_t written; /* to mz_audit_flush: a batch was written */
    struct audit_item *head, *tail;
    size_t count;        /* items queued */
    uint64_t generation; /* bumped whenever the flusher takes the queue */
    uint64_t enqueued;   /* items ever queued */
    uint64_t finished;   /* items ever written (or given up on) */
    bool running;        /* the thread is up */
    bool stopping;
    bool flush_now;
    pthread_t thread;
    struct mz_db *db; /* the flusher's own connection */
} queue = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .room = PTHREAD_COND_INITIALIZER,
    .written = PTHREAD_COND_INITIALIZER,
};

/* This thread's last view_sensitive item and the queue generation it joined. */
static _Thread_local struct audit_item *tls_view;
static _Thread_local uint64_t tls_view_gen;

/* Free one item. */
static void item_free(struct audit_item *it)
{
    free(it->actor);
    free(it->ip);
    free(it->action);
    free(it->object);
    free(it->request_id);
    free(it->ids);
    json_decref(it->detail);
    free(it);
}

/* Duplicate s or NULL. */
static char *dup_or_null(const char *s)
{
    return s ? mz_xstrdup(s) : NULL;
}

/* Strings equal, NULL equal to NULL. */
static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* An absolute time ms from now on CLOCK_REALTIME (for timed waits). */
static struct timespec deadline_in(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* The detail text of an item as written (malloc'd, or NULL). */
static char *item_detail_text(const struct audit_item *it)
{
    if (it->nids <= 1)
        return it->detail ? mz_json_dump(it->detail, NULL) : NULL;
    json_t *d = json_is_object(it->detail) ? json_deep_copy(it->detail) : json_object();
    if (it->detail != NULL && !json_is_object(it->detail))
        json_object_set(d, "data", it->detail);
    json_t *ids = json_array();
    for (size_t i = 0; i < it->nids; i++)
        json_array_append_new(ids, json_integer(it->ids[i]));
    json_object_set_new(d, "ids", ids);
    json_object_set_new(d, "count", json_integer((json_int_t)it->nids));
    if (it->request_id)
        json_object_set_new(d, "request_id", json_string(it->request_id));
    char *text = mz_json_dump(d, NULL);
    json_decref(d);
    return text;
}

/* Write a batch in one transaction. */
static int write_batch(struct mz_db *db, struct audit_item *batch)
{
    int64_t seq;
    char hash[65];
    int rc = mz_db_begin_write(db);
    if (rc != MZ_OK)
        return rc;
    rc = read_head(db, &seq, hash);
    for (struct audit_item *it = batch; it != NULL && rc == MZ_OK; it = it->next) {
        char *detail = item_detail_text(it);
        struct mz_audit_event ev = {
            .at = it->at,
            .actor = it->actor,
            .ip = it->ip,
            .action = it->action,
            .object = it->object,
            .object_id = it->nids > 1 ? 0 : it->object_id,
            .success = it->success,
            .detail = detail,
        };
        rc = append_after(db, &ev, &seq, hash);
        free(detail);
    }
    if (rc == MZ_OK)
        rc = mz_db_commit(db);
    if (rc != MZ_OK && mz_db_in_transaction(db))
        mz_db_rollback(db);
    return rc;
}

/* Write a batch, retrying while the database is busy; give up only when
 * stopping after repeated failures (the loss is logged). */
static void flush_batch(struct audit_item *batch, size_t n)
{
    for (int attempt = 0;; attempt++) {
        int rc = write_batch(queue.db, batch);
        if (rc == MZ_OK)
            break;
        mz_warn("audit queue: writing %zu events failed (%s), retrying", n, mz_err_name(rc));
        pthread_mutex_lock(&queue.lock);
        bool stopping = queue.stopping;
        pthread_mutex_unlock(&queue.lock);
        if (stopping && attempt >= 20) {
            mz_error("audit queue: %zu events could not be written at shutdown", n);
            break;
        }
        struct timespec pause = {0, (attempt < 5 ? 20L << attempt : 500L) * 1000000L};
        nanosleep(&pause, NULL);
    }
    while (batch != NULL) {
        struct audit_item *next = batch->next;
        item_free(batch);
        batch = next;
    }
}

/* The flusher thread: take the whole queue every 20 ms (or at 256 events,
 * or when asked) and write it in one transaction. */
static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&queue.lock);
    for (;;) {
        while (queue.count == 0 && !queue.stopping)
            pthread_cond_wait(&queue.wake, &queue.lock);
        if (queue.count == 0 && queue.stopping)
            break;
        struct timespec until = deadline_in(QUEUE_LINGER_MS);
        while (queue.count < QUEUE_BATCH && !queue.stopping && !queue.flush_now) {
            if (pthread_cond_timedwait(&queue.wake, &queue.lock, &until) == ETIMEDOUT)
                break;
        }
        queue.flush_now = false;
        struct audit_item *batch = queue.head;
        size_t n = queue.count;
        queue.head = queue.tail = NULL;
        queue.count = 0;
        queue.generation++;
        pthread_cond_broadcast(&queue.room);
        pthread_mutex_unlock(&queue.lock);

        flush_batch(batch, n);

        pthread_mutex_lock(&queue.lock);
        queue.finished += n;
        pthread_cond_broadcast(&queue.written);
    }
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

/* Build a queue item for a request's event. */
static struct audit_item *item_new(struct mz_req *req, const char *action, const char *object,
                                   int64_t id, bool success, json_t *detail, bool view)
{
    struct audit_item *it = mz_xcalloc(1, sizeof(*it));
    mz_now_rfc3339(it->at);
    it->actor = mz_xstrdup(req->actor && req->actor[0] ? req->actor : "-");
    it->ip = dup_or_null(req->client_ip);
    it->action = mz_xstrdup(action);
    it->object = dup_or_null(object);
    it->object_id = id;
    it->success = success;
    it->detail = detail ? json_deep_copy(detail) : NULL;
    if (view) {
        it->request_id = dup_or_null(req->request_id);
        it->req_key = req;
        it->ids_cap = 8;
        it->ids = mz_xmalloc(it->ids_cap * sizeof(*it->ids));
        it->ids[it->nids++] = id;
    }
    return it;
}

/* Can this view event join the thread's last view item? (queue lock held)
 * Views by the same actor from the same address of the same entity merge
 * while the item waits in the queue (at most one flush interval, ~20 ms),
 * across requests: every id is still recorded, but a busy reader costs one
 * chained entry per interval instead of one per request. */
static bool view_joins(struct mz_req *req, const char *object)
{
    return tls_view != NULL && tls_view_gen == queue.generation &&
           same_text(tls_view->actor, req->actor) && same_text(tls_view->ip, req->client_ip) &&
           same_text(tls_view->object, object) && tls_view->nids < VIEW_IDS_MAX;
}

/* Queue an event. MZ_ERR_NOTFOUND when the queue is not running, MZ_ERR_BUSY
 * when it stays full (no waiting at all when may_wait is false). */
static int enqueue(struct mz_req *req, const char *action, const char *object, int64_t id,
                   bool success, json_t *detail, bool may_wait)
{
    bool view = success && strcmp(action, "view_sensitive") == 0;

    pthread_mutex_lock(&queue.lock);
    if (!queue.running || queue.stopping) {
        pthread_mutex_unlock(&queue.lock);
        return MZ_ERR_NOTFOUND;
    }
    if (view && view_joins(req, object)) {
        struct audit_item *it = tls_view;
        if (it->nids == it->ids_cap) {
            it->ids_cap *= 2;
            it->ids = mz_xrealloc(it->ids, it->ids_cap * sizeof(*it->ids));
        }
        it->ids[it->nids++] = id;
        pthread_mutex_unlock(&queue.lock);
        return MZ_OK;
    }
    pthread_mutex_unlock(&queue.lock);

    struct audit_item *it = item_new(req, action, object, id, success, detail, view);
    struct timespec until = deadline_in(QUEUE_WAIT_MS);
    pthread_mutex_lock(&queue.lock);
    while (queue.count >= QUEUE_MAX && queue.running && !queue.stopping) {
        if (!may_wait || pthread_cond_timedwait(&queue.room, &queue.lock, &until) == ETIMEDOUT)
            break;
    }
    if (!queue.running || queue.stopping || queue.count >= QUEUE_MAX) {
        int rc = queue.count >= QUEUE_MAX ? MZ_ERR_BUSY : MZ_ERR_NOTFOUND;
        pthread_mutex_unlock(&queue.lock);
        item_free(it);
        return rc;
    }
    if (queue.tail)
        queue.tail->next = it;
    else
        queue.head = it;
    queue.tail = it;
    queue.count++;
    queue.enqueued++;
    if (view) {
        tls_view = it;
        tls_view_gen = queue.generation;
    }
    if (queue.count == 1 || queue.count >= QUEUE_BATCH)
        pthread_cond_signal(&queue.wake);
    pthread_mutex_unlock(&queue.lock);
    return MZ_OK;
}

int mz_audit_start(struct mz_app *app)
{
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 5000, .synchronous_full = true};
    int rc;

    if (!mz_crypto_ready()) {
        mz_error("audit: the key is not loaded");
        return MZ_ERR_INVALID;
    }
    pthread_mutex_lock(&queue.lock);
    bool running = queue.running;
    pthread_mutex_unlock(&queue.lock);
    if (running)
        return MZ_OK;
    rc = mz_db_open(app->db_spec, &o, &queue.db);
    if (rc != MZ_OK) {
        mz_error("audit: cannot open the database for the queue");
        return rc;
    }
    pthread_mutex_lock(&queue.lock);
    queue.stopping = false;
    queue.flush_now = false;
    queue.running = true;
    pthread_mutex_unlock(&queue.lock);
    if (pthread_create(&queue.thread, NULL, flusher_main, NULL) != 0) {
        pthread_mutex_lock(&queue.lock);
        queue.running = false;
        pthread_mutex_unlock(&queue.lock);
        mz_db_close(queue.db);
        queue.db = NULL;
        mz_error("audit: cannot start the queue thread");
        return MZ_ERR_INTERNAL;
    }
    return MZ_OK;
}

void mz_audit_stop(void)
{
    pthread_mutex_lock(&queue.lock);
    if (!queue.running || queue.stopping) {
        pthread_mutex_unlock(&queue.lock);
        return;
    }
    queue.stopping = true;
    pthread_cond_broadcast(&queue.wake);
    pthread_cond_broadcast(&queue.room);
    pthread_mutex_unlock(&queue.lock);
    pthread_join(queue.thread, NULL);
    mz_db_close(queue.db);
    queue.db = NULL;
    pthread_mutex_lock(&queue.lock);
    queue.running = false;
    queue.stopping = false;
    pthread_cond_broadcast(&queue.written);
    pthread_mutex_unlock(&queue.lock);
}

void mz_audit_flush(void)
{
    pthread_mutex_lock(&queue.lock);
    uint64_t target = queue.enqueued;
    queue.flush_now = true;
    pthread_cond_signal(&queue.wake);
    while (queue.running && queue.finished < target)
        pthread_cond_wait(&queue.written, &queue.lock);
    pthread_mutex_unlock(&queue.lock);
}

/* --- an import's rows: their MACs on another thread ------------------------------
 * The rows of an import without savepoints (req->importing) append one after
 * the other in the request's transaction, which holds the write lock and is
 * never partly undone (it is rolled back whole, and importing ends, before
 * rows are written again). So each row's seq is known when it is recorded
 * (the head read once, then one more per row), and only its MAC waits for
 * the row before: the events are gathered in batches of PIPE_BATCH, a thread
 * of the import computes their MACs down the chain while the request's thread
 * goes on with the next rows, and the request's thread INSERTs each batch
 * once its MACs are made (the connection is the request's), at most
 * PIPE_AHEAD batches behind. The rows, their order, seqs, times and hashes
 * are those appended one by one would have; the import's end
 * (mz_audit_import_end) writes what is left before the import's own event,
 * or drops it when the import is undone. One pipe per request thread. */
#define PIPE_BATCH 256
#define PIPE_AHEAD 8

struct pipe_batch {
    struct mz_arena *arena;            /* the events' strings */
    struct audit_row rows[PIPE_BATCH]; /* prev_hash: NULL until the MAC is made */
    char hashes[PIPE_BATCH][65];
    char prev[PIPE_BATCH][65];
    size_t n;
    bool done; /* MACs made (under the lock) */
    struct pipe_batch *next;
};

struct audit_pipe {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pipe_batch *head, *tail; /* handed over, in seq order */
    size_t queued;
    bool stop;
    char chain[65];           /* the MAC thread's: the last hash made */
    struct pipe_batch *cur;   /* the request's: being filled */
    struct pipe_batch *spare; /* the request's: written, kept to be filled again */
    int64_t next_seq;         /* the request's: the next row's seq */
};

static _Thread_local struct audit_pipe *tls_pipe;

static void *pipe_main(void *arg)
{
    struct audit_pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct pipe_batch *b = p->head;
        while (b && b->done)
            b = b->next;
        if (b == NULL) {
            if (p->stop)
                break;
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < b->n; i++) {
            memcpy(b->prev[i], p->chain, 65);
            b->rows[i].prev_hash = b->prev[i];
            row_mac(&b->rows[i], b->rows[i].seq, b->hashes[i]);
            memcpy(p->chain, b->hashes[i], 65);
        }
        pthread_mutex_lock(&p->lock);
        b->done = true;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pipe_batch_free(struct pipe_batch *b)
{
    if (b == NULL)
        return;
    mz_arena_free(b->arena);
    free(b);
}

/* Stop the MAC thread and free everything not written. */
static void pipe_free(struct audit_pipe *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (struct pipe_batch *b = p->head, *next; b; b = next) {
        next = b->next;
        pipe_batch_free(b);
    }
    pipe_batch_free(p->cur);
    pipe_batch_free(p->spare);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

/* A pipe after the chain's head as db holds it, or NULL with *rc. */
static struct audit_pipe *pipe_new(struct mz_db *db, int *rc)
{
    int64_t seq;
    char hash[65];
    if ((*rc = read_head(db, &seq, hash)) != MZ_OK)
        return NULL;
    struct audit_pipe *p = mz_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    memcpy(p->chain, hash, 65);
    p->next_seq = seq + 1;
    if (pthread_create(&p->thread, NULL, pipe_main, p) != 0) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        *rc = MZ_ERR_INTERNAL;
        return NULL;
    }
    return p;
}

/* Hand the batch being filled to the MAC thread. */
static void pipe_hand_over(struct audit_pipe *p)
{
    struct pipe_batch *b = p->cur;
    if (b == NULL || b->n == 0)
        return;
    p->cur = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = b;
    else
        p->head = b;
    p->tail = b;
    p->queued++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* INSERT the batches whose MACs are made, in order: all of them when all is
 * set (waiting for the MAC thread), else those ready, waiting only while
 * PIPE_AHEAD or more are handed over. MZ_OK or the first error. */
static int pipe_write(struct mz_db *db, struct audit_pipe *p, bool all)
{
    int rc = MZ_OK;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct pipe_batch *b = p->head;
        bool wait = b && (all || p->queued >= PIPE_AHEAD);
        while (b && !b->done && wait)
            pthread_cond_wait(&p->cond, &p->lock);
        if (b && b->done) {
            p->head = b->next;
            if (p->head == NULL)
                p->tail = NULL;
            p->queued--;
        } else {
            b = NULL;
        }
        pthread_mutex_unlock(&p->lock);
        if (b == NULL)
            return rc;
        for (size_t i = 0; rc == MZ_OK && i < b->n; i++)
            rc = insert_row(db, &b->rows[i], b->hashes[i]);
        if (p->spare == NULL) { /* its memory filled again: no fresh pages per batch */
            mz_arena_reset(b->arena);
            b->n = 0;
            b->done = false;
            b->next = NULL;
            p->spare = b;
        } else {
            pipe_batch_free(b);
        }
        if (rc != MZ_OK)
            return rc;
    }
}

/* Record an import row's event: its seq now, its MAC on the pipe's thread,
 * its INSERT with a later batch (see above). MZ_OK or an error. */
static int pipe_append(struct mz_req *req, const struct mz_audit_event *ev)
{
    int rc = MZ_OK;
    if (ev->action == NULL || ev->action[0] == '\0')
        return MZ_ERR_INVALID;
    if (tls_pipe == NULL && (tls_pipe = pipe_new(req->db, &rc)) == NULL)
        return rc;
    struct audit_pipe *p = tls_pipe;
    if (p->cur == NULL && p->spare != NULL) {
        p->cur = p->spare;
        p->spare = NULL;
    } else if (p->cur == NULL) {
        p->cur = mz_xcalloc(1, sizeof(*p->cur));
        p->cur->arena = mz_arena_new();
    }
    struct pipe_batch *b = p->cur;
    struct mz_arena *a = b->arena;
    char now[32];
    if (ev->at == NULL)
        mz_now_rfc3339(now);
#define PIPE_DUP(s) ((s) ? mz_arena_strdup(a, (s)) : NULL)
    b->rows[b->n++] = (struct audit_row){
        .seq = p->next_seq++,
        .at = mz_arena_strdup(a, ev->at ? ev->at : now),
        .actor = ev->actor && ev->actor[0] ? PIPE_DUP(ev->actor) : "-",
        .roles = PIPE_DUP(ev->roles),
        .ip = PIPE_DUP(ev->ip),
        .action = PIPE_DUP(ev->action),
        .object = PIPE_DUP(ev->object),
        .object_id = ev->object_id,
        .result = ev->success ? "ok" : "fail",
        .detail = PIPE_DUP(ev->detail),
    };
#undef PIPE_DUP
    if (b->n == PIPE_BATCH)
        pipe_hand_over(p);
    return pipe_write(req->db, p, false);
}

int mz_audit_import_end(struct mz_req *req, bool keep)
{
    struct audit_pipe *p = tls_pipe;
    int rc = MZ_OK;
    if (p == NULL)
        return 0;
    if (keep) {
        pipe_hand_over(p);
        rc = pipe_write(req->db, p, true);
    }
    tls_pipe = NULL;
    pipe_free(p);
    if (rc != MZ_OK) {
        mz_error("audit: writing an import's rows failed: %s", mz_err_name(rc));
        return mz_fail(req, 500, "audit_failed", "审计日志写入失败，操作未执行");
    }
    return 0;
}

/* --- the app hook ------------------------------------------------------------------ */

/* Append a request's event on its own connection, now: inside its transaction
 * when one is open, else in a transaction of its own. */
static int append_for_request(struct mz_req *req, const char *action, const char *object,
                              int64_t id, bool success, json_t *detail, const char *dumped)
{
    char *text = dumped == NULL && detail ? mz_json_dump(detail, NULL) : NULL;
    struct mz_audit_event ev = {
        .actor = req->actor,
        .ip = req->client_ip,
        .action = action,
        .object = object,
        .object_id = id,
        .success = success,
        .detail = dumped ? dumped : text,
    };
    bool own = !mz_db_in_transaction(req->db);
    int rc = own ? mz_db_begin_write(req->db) : MZ_OK;
    /* The rows of an import without savepoints (req->importing): through
     * the pipe above (seq known at once, MAC on another thread). */
    if (rc == MZ_OK && !own && req->importing)
        rc = pipe_append(req, &ev);
    else if (rc == MZ_OK)
        rc = mz_audit_append(req->db, &ev, NULL);
    if (own && rc == MZ_OK)
        rc = mz_db_commit(req->db);
    if (own && rc != MZ_OK && mz_db_in_transaction(req->db))
        mz_db_rollback(req->db);
    free(text);
    return rc;
}

int mz_audit_record(struct mz_req *req, const char *action, const char *object, int64_t id,
                    bool success, json_t *detail)
{
    return mz_audit_record_text(req, action, object, id, success, detail, NULL);
}

int mz_audit_record_text(struct mz_req *req, const char *action, const char *object, int64_t id,
                         bool success, json_t *detail, const char *detail_text)
{
    int rc;

    if (action == NULL || action[0] == '\0') {
        mz_error("audit: an event without an action");
        return mz_fail_err(req, MZ_ERR_INTERNAL);
    }
    bool in_tx = req->db != NULL && mz_db_in_transaction(req->db);
    /* A successful event inside the write transaction commits with it. */
    if (in_tx && success) {
        rc = append_for_request(req, action, object, id, success, detail, detail_text);
        if (rc != MZ_OK) {
            mz_error("audit: appending %s in the request transaction failed: %s", action,
                     mz_err_name(rc));
            return mz_fail(req, 500, "audit_failed", "审计日志写入失败，操作未执行");
        }
        return 0;
    }
    /* Reads, and failures whose transaction will roll back, are queued. */
    rc = enqueue(req, action, object, id, success, detail, !in_tx);
    if (rc == MZ_ERR_NOTFOUND && req->db != NULL)
        rc = append_for_request(req, action, object, id, success, detail, detail_text);
    if (rc != MZ_OK) {
        mz_error("audit: recording %s failed: %s", action, mz_err_name(rc));
        return mz_fail(req, 503, "audit_unavailable", "审计日志暂不可用，请稍后重试");
    }
    return 0;
}

void mz_audit_install(struct mz_app *app)
{
    app->audit = mz_audit_record;
    app->audit_text = mz_audit_record_text;
    app->audit_import_end = mz_audit_import_end;
}

/* --- the API --------------------------------------------------------------------- */

/* Parse a positive integer query parameter within [1, max]; def if absent;
 * 0 after recording 400. */
static int64_t query_int(struct mz_req *req, const char *name, int64_t def, int64_t max,
                         const char *code, const char *message)
{
    const char *s = mz_req_query(req, name);
    char *end;
    if (s == NULL || s[0] == '\0')
        return def;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > max) {
        mz_fail_field(req, 400, code, message, name);
        return 0;
    }
    return v;
}

/* Normalise a time bound to "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) in out[32].
 * Accepts a date (the start of the day, or its end with end_of_day) or RFC
 * 3339 with Z or a numeric offset, with or without milliseconds. */
static bool time_bound(const char *s, bool end_of_day, char out[32])
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
    struct tm tm = {0};
    size_t len = strlen(s);

    if (len == 10) {
        if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
            return false;
        if (end_of_day) {
            h = 23;
            mi = 59;
            sec = 59;
            ms = 999;
        }
    } else {
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
            return false;
        const char *p = s + 19;
        if (*p == '.') {
            int digits = 0;
            ms = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
            }
            if (digits == 0)
                return false;
            for (; digits < 3; digits++)
                ms *= 10;
        }
        int offset = 0;
        if (*p == 'Z' && p[1] == '\0') {
            offset = 0;
        } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
                return false;
            offset = (oh * 60 + om) * (*p == '+' ? 1 : -1);
        } else {
            return false;
        }
        mi -= offset;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi < -1440 || mi > 1440 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    struct tm u;
    if (gmtime_r(&t, &u) == NULL || u.tm_year + 1900 > 9999 || u.tm_year + 1900 < 1)
        return false;
    char text[96];
    int written =
        snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.tm_year + 1900,
                 u.tm_mon + 1, u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec, ms);
    if (written != 24)
        return false;
    memcpy(out, text, 25);
    return true;
}

/* One audit row as JSON for the API. */
static json_t *row_json(struct mz_stmt *st)
{
    json_t *o = json_object();
    const char *detail = mz_db_col_text(st, 9);
    json_t *d = detail ? json_loads(detail, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(o, "seq", json_integer(mz_db_col_int(st, 0)));
    json_object_set_new(o, "at", mz_json_str(mz_db_col_text(st, 1)));
    json_object_set_new(o, "actor", mz_json_str(mz_db_col_text(st, 2)));
    json_object_set_new(o, "roles", mz_json_str(mz_db_col_text(st, 3)));
    json_object_set_new(o, "ip", mz_json_str(mz_db_col_text(st, 4)));
    json_object_set_new(o, "action", mz_json_str(mz_db_col_text(st, 5)));
    json_object_set_new(o, "object", mz_json_str(mz_db_col_text(st, 6)));
    json_object_set_new(o, "object_id",
                        mz_db_col_type(st, 7) == MZ_COL_NULL ? json_null()
                                                             : json_integer(mz_db_col_int(st, 7)));
    json_object_set_new(o, "result", mz_json_str(mz_db_col_text(st, 8)));
    json_object_set_new(o, "detail", d ? d : json_null());
    json_object_set_new(o, "hash", mz_json_str(mz_db_col_text(st, 11)));
    return o;
}

/* GET /api/v1/audit?actor=&action=&object=&object_id=&from=&to=&page=&size= : newest
 * first, with the total. The search itself is audited. */
static int h_audit_list(struct mz_req *req)
{
    static const char *const exact[] = {"actor", "action", "object"};
    const char *params[5];
    char bounds[2][32];
    int np = 0;
    struct mz_buf where;
    struct mz_stmt *st = NULL;
    json_t *items = NULL, *filters = json_object();
    int status = 0, rc;
    int64_t total = 0;

    mz_buf_init(&where, 4096);
    int64_t page = query_int(req, "page", 1, 10000000, "bad_page", "页码应为正整数");
    int64_t size = page ? query_int(req, "size", LIST_SIZE_DEFAULT, LIST_SIZE_MAX, "bad_size",
                                    "每页条数应为 1 到 500 之间的整数")
                        : 0;
    if (page == 0 || size == 0) {
        status = req->status;
        goto out;
    }
    for (size_t i = 0; i < MZ_ARRAY_LEN(exact); i++) {
        const char *v = mz_req_query(req, exact[i]);
        if (v == NULL || v[0] == '\0')
            continue;
        if (strlen(v) > 200) {
            status = mz_fail_field(req, 400, "bad_filter", "筛选条件过长", exact[i]);
            goto out;
        }
        mz_buf_printf(&where, " AND %s = ?", exact[i]);
        params[np++] = v;
        json_object_set_new(filters, exact[i], json_string(v));
    }
    const char *oid = mz_req_query(req, "object_id");
    if (oid != NULL && oid[0] != '\0') {
        char *end;
        long long x = strtoll(oid, &end, 10);
        if (*end != '\0' || x <= 0) {
            status = mz_fail_field(req, 400, "bad_filter", "对象编号应为正整数", "object_id");
            goto out;
        }
        /* Compared as an integer (bound as text, PostgreSQL would not coerce). */
        mz_buf_printf(&where, " AND object_id = %lld", x);
        json_object_set_new(filters, "object_id", json_integer(x));
    }
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "from" : "to";
        const char *v = mz_req_query(req, name);
        if (v == NULL || v[0] == '\0')
            continue;
        if (!time_bound(v, i == 1, bounds[i])) {
            status = mz_fail_field(
                req, 400, "bad_time",
                "时间应为 YYYY-MM-DD 或 RFC 3339 格式（如 2024-03-01T08:00:00Z）", name);
            goto out;
        }
        mz_buf_printf(&where, i == 0 ? " AND at >= ?" : " AND at <= ?");
        params[np++] = bounds[i];
        json_object_set_new(filters, name, json_string(bounds[i]));
    }

    char *sql = mz_arena_printf(req->arena, "SELECT count(*) FROM mz_audit WHERE 1 = 1%s",
                                where.data ? where.data : "");
    rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    for (int i = 0; i < np; i++)
        mz_db_bind_text(st, i + 1, params[i]);
    rc = mz_db_step(st);
    if (rc == MZ_ROW)
        total = mz_db_col_int(st, 0);
    mz_db_done(st);
    if (rc < 0) {
        status = mz_fail_err(req, rc);
        goto out;
    }

    items = json_array();
    if ((page - 1) * size < total) {
        sql = mz_arena_printf(req->arena,
                              "SELECT " AUDIT_COLS " FROM mz_audit WHERE 1 = 1%s"
                              " ORDER BY seq DESC LIMIT ? OFFSET ?",
                              where.data ? where.data : "");
        rc = mz_db_prepare(req->db, sql, &st);
        if (rc != MZ_OK) {
            status = mz_fail_err(req, rc);
            goto out;
        }
        for (int i = 0; i < np; i++)
            mz_db_bind_text(st, i + 1, params[i]);
        mz_db_bind_int(st, np + 1, size);
        mz_db_bind_int(st, np + 2, (page - 1) * size);
        while ((rc = mz_db_step(st)) == MZ_ROW)
            json_array_append_new(items, row_json(st));
        mz_db_done(st);
        if (rc < 0) {
            status = mz_fail_err(req, rc);
            goto out;
        }
    }
    status = mz_audit(req, "audit_search", "mz_audit", 0, true, filters);
    if (status != 0)
        goto out;
    json_t *body = json_object();
    json_object_set_new(body, "items", items);
    items = NULL;
    json_object_set_new(body, "total", json_integer(total));
    json_object_set_new(body, "page", json_integer(page));
    json_object_set_new(body, "size", json_integer(size));
    status = mz_reply_json(req, 200, body);
out:
    json_decref(items);
    json_decref(filters);
    mz_buf_free(&where);
    return status;
}

/* GET /api/v1/audit/verify : recompute the chain; 200 with the result either
 * way ({"intact":true,"entries","head"} or {"intact":false,"seq","problem",...}). */
static int h_audit_verify(struct mz_req *req)
{
    struct mz_audit_check c;
    if (!mz_crypto_ready())
        return mz_fail(req, 503, "audit_unavailable", "审计密钥未加载，无法校验");
    int rc = mz_audit_verify(req->db, &c);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    if (!c.intact)
        mz_error("audit chain broken at entry %lld (%s)", (long long)c.bad_seq, c.problem);
    json_t *result = mz_audit_check_json(&c);
    int status = mz_audit(req, "audit_verify", "mz_audit", 0, c.intact, result);
    if (status != 0) {
        json_decref(result);
        return status;
    }
    return mz_reply_json(req, 200, result);
}

static const struct mz_route audit_routes[] = {
    {"GET", "/api/v1/audit", h_audit_list, 0, "audit.read", 0, NULL, "审计日志查询"},
    {"GET", "/api/v1/audit/verify", h_audit_verify, 0, "audit.read", 0, NULL, "审计日志完整性校验"},
};

static const struct mz_menu audit_menus[] = {
    {.key = "audit/log",
     .zh = "审计日志",
     .en = "Audit log",
     .route = "/audit",
     .permission = "audit.read"},
};

/* --- module ---------------------------------------------------------------------- */

/* Migration 1: the table, settings and append-only triggers, in the
 * backend's dialect (triggers are not portable SQL). */
static int migrate_schema(struct mz_db *db)
{
    int rc = mz_db_exec(db, mz_db_kind(db) == MZ_DB_POSTGRESQL ? SQL_SCHEMA_PG : SQL_SCHEMA_SQLITE);
    if (rc != MZ_OK)
        mz_error("audit: creating the schema failed: %s", mz_db_errmsg(db));
    return rc;
}

static const struct mz_migration audit_migrations[] = {
    {1, "audit log", NULL, migrate_schema},
};

/* Module init: raise the retention from MZ_AUDIT_RETENTION_DAYS if set. */
static int audit_init(struct mz_app *app, struct mz_db *db)
{
    (void)app;
    const char *env = getenv("MZ_AUDIT_RETENTION_DAYS");
    if (env == NULL || env[0] == '\0')
        return MZ_OK;
    char *end;
    long days = strtol(env, &end, 10);
    if (*end != '\0' || days < MZ_AUDIT_RETENTION_MIN_DAYS || days > 36500) {
        mz_error("MZ_AUDIT_RETENTION_DAYS must be %d..36500", MZ_AUDIT_RETENTION_MIN_DAYS);
        return MZ_ERR_INVALID;
    }
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, SQL_SET_RETENTION, &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, days);
    mz_db_bind_int(st, 2, days);
    rc = mz_db_step(st);
    mz_db_done(st);
    return rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
}

/* Daily job: verify the chain, then append its head to the anchor file. A
 * broken chain is logged and not anchored. */
static int audit_anchor_job(struct mz_app *app, struct mz_db *db)
{
    struct mz_audit_check c;
    int rc = mz_audit_verify(db, &c);
    if (rc != MZ_OK)
        return rc;
    if (!c.intact) {
        mz_error("audit chain broken at entry %lld (%s): not anchored", (long long)c.bad_seq,
                 c.problem);
        return MZ_ERR_INVALID;
    }
    char *path = mz_audit_anchor_default_path(app->db_spec);
    rc = mz_audit_anchor_to(db, path);
    free(path);
    if (rc == MZ_OK)
        mz_info("audit chain anchored at entry %lld", (long long)c.head_seq);
    return rc;
}

static const struct mz_job audit_jobs[] = {
    {"audit-anchor", 86400, audit_anchor_job},
};

const struct mz_module mz_module_audit = {
    .name = "audit",
    .zh = "审计日志",
    .en = "Audit log",
    .routes = audit_routes,
    .nroutes = MZ_ARRAY_LEN(audit_routes),
    .menus = audit_menus,
    .nmenus = MZ_ARRAY_LEN(audit_menus),
    .migrations = audit_migrations,
    .nmigrations = MZ_ARRAY_LEN(audit_migrations),
    .jobs = audit_jobs,
    .njobs = MZ_ARRAY_LEN(audit_jobs),
    .init = audit_init,
};
