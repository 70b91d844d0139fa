/* ratelimit.c - a per-caller limit on costly requests (imports, exports),
 * and the shared per-minute counters it and the login limit use.
 *
 * Shared counters (mz_rate_counters, engine migration 4): one row per key
 * ("export:<caller>", "login:<address>") holding the minute (wall clock,
 * unix seconds / 60) it counts and the hits in that minute. A hit is one
 * portable upsert that starts the count again when the minute changed and
 * returns the new count (INSERT ... ON CONFLICT DO UPDATE ... RETURNING, on
 * SQLite >= 3.35 and PostgreSQL alike), so every server on one database
 * counts into the same row and the limit holds for the whole cluster. Old
 * rows are deleted by the auth module's hourly prune job.
 *
 * The costly-request limit: MZ_COSTLY_PER_MINUTE (default 60) per caller
 * and minute, counted twice: in the shared table (the cluster-wide limit)
 * and in a fixed table of this process's counters keyed by a hash of
 * "<what>:<caller>" (collisions only make the limit stricter). The local
 * count is kept because an import counts inside the request's transaction,
 * so a failed (rolled back) import leaves no shared hit; the local counter
 * still counts it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"

#define SLOTS 1024

struct slot {
    uint64_t key;    /* hash of the key, 0 for unused */
    int64_t window;  /* the minute this count belongs to */
    int count;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a, never 0. */
static uint64_t hash_key(const char *what, const char *who)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = what; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ ':') * 1099511628211ULL;
    for (const char *p = who; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

/* The configured limit per minute. */
static int limit_per_minute(void)
{
    const char *v = getenv("MZ_COSTLY_PER_MINUTE");
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : 60;
}

int mz_rate_hit(struct mz_db *db, const char *key, int64_t minute, int64_t *hits)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db,
                           "INSERT INTO mz_rate_counters (key, minute, hits) VALUES (?, ?, 1)"
                           " ON CONFLICT (key) DO UPDATE SET hits = CASE WHEN"
                           " mz_rate_counters.minute = excluded.minute THEN"
                           " mz_rate_counters.hits + 1 ELSE 1 END, minute = excluded.minute"
                           " RETURNING hits",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, key);
    mz_db_bind_int(st, 2, minute);
    rc = mz_db_step(st);
    if (rc == MZ_ROW) {
        *hits = mz_db_col_int(st, 0);
        rc = MZ_OK;
    } else {
        rc = rc < 0 ? rc : MZ_ERR_DB;
    }
    mz_db_done(st);
    return rc;
}

int mz_rate_hits(struct mz_db *db, const char *key, int64_t minute, int64_t *hits)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(db, "SELECT hits FROM mz_rate_counters WHERE key = ? AND minute = ?",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, key);
    mz_db_bind_int(st, 2, minute);
    rc = mz_db_step(st);
    *hits = rc == MZ_ROW ? mz_db_col_int(st, 0) : 0;
    mz_db_done(st);
    return rc < 0 ? rc : MZ_OK;
}

int mz_rate_check(struct mz_req *req, const char *what)
{
    const char *who = req->actor ? req->actor : (req->client_ip ? req->client_ip : "-");
    uint64_t key = hash_key(what, who);
    int64_t window = mz_mono_us() / 60000000;
    int limit = limit_per_minute();
    bool allowed;

    pthread_mutex_lock(&lock);
    struct slot *s = &slots[key % SLOTS];
    if (s->key != key || s->window != window) {
        s->key = key;
        s->window = window;
        s->count = 0;
    }
    allowed = s->count < limit;
    if (allowed)
        s->count++;
    pthread_mutex_unlock(&lock);
    if (allowed && req->db != NULL) {
        int64_t hits = 0;
        const char *k = mz_arena_printf(req->arena, "%s:%s", what, who);
        int rc = mz_rate_hit(req->db, k, (int64_t)time(NULL) / 60, &hits);
        if (rc != MZ_OK)
            return mz_fail_err(req, rc);
        allowed = hits <= limit;
    }
    if (allowed)
        return 0;
    mz_req_add_header(req, "Retry-After", "60");
    return mz_fail(req, 429, "rate_limited", "导入导出过于频繁，请一分钟后再试");
}
