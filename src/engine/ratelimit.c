/* ratelimit.c - a per-caller limit on costly requests (imports, exports).
 *
 * A fixed table of counters keyed by a hash of "<what>:<caller>", each
 * counting the requests of the current one-minute window. Collisions only
 * make the limit stricter for the colliding callers, never looser. The limit
 * per minute comes from MZ_COSTLY_PER_MINUTE (default 60). Shared by the
 * worker threads under one mutex: it is taken once per costly request only.
 * Several servers on one database each count their own requests.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
    if (allowed)
        return 0;
    mz_req_add_header(req, "Retry-After", "60");
    return mz_fail(req, 429, "rate_limited", "导入导出过于频繁，请一分钟后再试");
}
