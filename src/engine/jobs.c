/* jobs.c - the scheduled-job runner: every module's `jobs` at their intervals,
 * once per interval for all the servers of one database.
 *
 * One thread, started by `serve` after the server, with its own database
 * connection. Each job (struct mz_job: name, interval_seconds, run) has a
 * lease row in mz_job_leases (engine migration 4) named "<module>/<job>"
 * whose due_at (unix seconds) is when its next run is due. When a job looks
 * due, a server claims the run with one statement,
 *     UPDATE mz_job_leases SET holder = ?, due_at = <now + interval>, ...
 *       WHERE name = ? AND due_at <= <now>
 * and runs the job only if that changed the row. The statement is atomic on
 * both backends (SQLite takes the write lock; PostgreSQL re-checks the WHERE
 * of a row another transaction just updated), so of three servers that wake
 * at the same moment one runs the job and the others read the new due_at
 * and sleep until it. A new database has due_at 0: jobs run soon after the
 * first start; a restart does not run them again before they are due, and
 * a server that was down does not make anyone skip a run. Servers' clocks
 * must agree (NTP): a server whose clock runs ahead claims runs early.
 * The row also records the holder ("<host>:<pid>"), the number of runs and
 * the start, end and result of the last one. A job that fails is logged and
 * runs again at its next interval. Jobs must be shorter than their interval:
 * the runner does not interrupt them. mz_jobs_stop() wakes the thread,
 * waits for a running job to finish and closes the connection.
 *
 * Tests: MZ_TEST_JOB_INTERVAL=N (1..3600 seconds), honoured only together
 * with MZ_TEST_CLOCK=1, makes every interval N seconds; GET
 * /api/v1/test/jobs (also test mode only, src/auth) lists the lease rows.
 * tests/api/multiserver.test.mjs runs three servers on one database and
 * counts the runs (each audit-anchor run appends one line to the shared
 * anchor file).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mz/engine.h"

/* Seconds after start before the first look at the leases. */
#define JOBS_FIRST_DELAY_S 1
/* Seconds before trying again after a database error. */
#define JOBS_RETRY_S 60

/* A job and when this server looks at its lease next (monotonic seconds). */
struct job_slot {
    const struct mz_job *job;
    char lease[96]; /* "<module>/<job>" */
    int interval;   /* seconds */
    int64_t due;
};

/* The runner's state. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* stop requested */
    bool running, stopping;
    pthread_t thread;
    struct mz_app *app;
    struct mz_db *db;
    struct job_slot *slots;
    size_t nslots;
    char holder[96];
} runner = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

/* Monotonic seconds. */
static int64_t mono_s(void)
{
    return mz_mono_us() / 1000000;
}

/* The interval of a job: its own, or MZ_TEST_JOB_INTERVAL in test mode. */
static int job_interval(const struct mz_job *job)
{
    const char *t = getenv("MZ_TEST_JOB_INTERVAL"), *clock = getenv("MZ_TEST_CLOCK");
    if (t && *t && clock && strcmp(clock, "1") == 0) {
        char *end;
        long n = strtol(t, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 3600)
            return (int)n;
    }
    return job->interval_seconds > 0 ? job->interval_seconds : 3600;
}

/* Make sure the job's lease row exists (due at once on a new database). */
static int lease_create(struct job_slot *s)
{
    return mz_db_run(runner.db,
                     "INSERT INTO mz_job_leases (name, holder, due_at, runs) VALUES (?, NULL, 0, 0)"
                     " ON CONFLICT (name) DO NOTHING",
                     "t", s->lease);
}

/* Claim this interval's run: MZ_OK and *won true if this server runs it. */
static int lease_claim(struct job_slot *s, int64_t now, bool *won)
{
    int rc = mz_db_run(runner.db,
                       "UPDATE mz_job_leases SET holder = ?, due_at = ?, runs = runs + 1,"
                       " started_at = ?, finished_at = NULL, last_ok = NULL"
                       " WHERE name = ? AND due_at <= ?",
                       "tiiti", runner.holder, now + s->interval, now, s->lease, now);
    *won = rc == MZ_OK && mz_db_changes(runner.db) == 1;
    return rc;
}

/* Seconds from now until the lease is next due (at least 1). */
static int64_t lease_wait(struct job_slot *s)
{
    int64_t due_at = 0;
    const char *params[] = {s->lease};
    if (mz_db_query_int(runner.db, "SELECT due_at FROM mz_job_leases WHERE name = ?", &due_at, 1,
                        params) != MZ_OK)
        return JOBS_RETRY_S;
    int64_t wait = due_at - (int64_t)time(NULL);
    return wait < 1 ? 1 : wait;
}

/* Run every due job this server wins and return the earliest next look. */
static int64_t run_due(void)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < runner.nslots; i++) {
        struct job_slot *s = &runner.slots[i];
        if (s->due <= mono_s()) {
            bool won = false;
            int64_t now = (int64_t)time(NULL);
            int rc = lease_claim(s, now, &won);
            if (rc != MZ_OK) {
                mz_error("job %s: cannot claim its lease: %s", s->lease, mz_err_name(rc));
                s->due = mono_s() + (s->interval < JOBS_RETRY_S ? s->interval : JOBS_RETRY_S);
            } else {
                if (won) {
                    int64_t t0 = mz_mono_us();
                    rc = s->job->run(runner.app, runner.db);
                    if (rc != MZ_OK)
                        mz_error("job %s failed: %s", s->lease, mz_err_name(rc));
                    else
                        mz_debug("job %s ran in %lld ms", s->lease,
                                 (long long)((mz_mono_us() - t0) / 1000));
                    if (mz_db_run(runner.db,
                                  "UPDATE mz_job_leases SET finished_at = ?, last_ok = ?"
                                  " WHERE name = ? AND holder = ? AND started_at = ?",
                                  "iitti", (int64_t)time(NULL), (int64_t)(rc == MZ_OK), s->lease,
                                  runner.holder, now) != MZ_OK)
                        mz_warn("job %s: its result was not recorded", s->lease);
                }
                s->due = mono_s() + lease_wait(s);
            }
        }
        if (s->due < next)
            next = s->due;
    }
    return next;
}

/* The runner thread: sleep until the next job is due or stop is asked. */
static void *runner_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&runner.lock);
    while (!runner.stopping) {
        pthread_mutex_unlock(&runner.lock);
        int64_t next = run_due();
        pthread_mutex_lock(&runner.lock);
        while (!runner.stopping && mono_s() < next) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t wait = next - mono_s();
            until.tv_sec += wait > 60 ? 60 : (wait < 1 ? 1 : wait);
            pthread_cond_timedwait(&runner.wake, &runner.lock, &until);
        }
    }
    pthread_mutex_unlock(&runner.lock);
    return NULL;
}

int mz_jobs_start(struct mz_app *app)
{
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 5000};
    size_t n = 0;

    if (runner.running)
        return MZ_OK;
    for (size_t i = 0; i < app->nmodules; i++)
        n += app->modules[i]->njobs;
    if (n == 0)
        return MZ_OK;
    int rc = mz_db_open(app->db_spec, &o, &runner.db);
    if (rc != MZ_OK) {
        mz_error("jobs: cannot open the database");
        return rc;
    }
    char host[64];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = '\0';
    snprintf(runner.holder, sizeof(runner.holder), "%s:%ld", host, (long)getpid());
    runner.slots = mz_xcalloc(n, sizeof(*runner.slots));
    runner.nslots = 0;
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        for (size_t j = 0; j < m->njobs; j++) {
            struct job_slot *s = &runner.slots[runner.nslots++];
            *s = (struct job_slot){.job = &m->jobs[j], .interval = job_interval(&m->jobs[j]),
                                   .due = mono_s() + JOBS_FIRST_DELAY_S};
            snprintf(s->lease, sizeof(s->lease), "%s/%s", m->name, m->jobs[j].name);
            if (s->interval != m->jobs[j].interval_seconds)
                mz_warn("job %s: interval %d s (MZ_TEST_JOB_INTERVAL, tests only)", s->lease,
                        s->interval);
            rc = lease_create(s);
            if (rc != MZ_OK)
                mz_error("job %s: cannot create its lease: %s", s->lease, mz_err_name(rc));
        }
    }
    runner.app = app;
    runner.stopping = false;
    if (pthread_create(&runner.thread, NULL, runner_main, NULL) != 0) {
        mz_error("jobs: cannot start the runner thread");
        mz_db_close(runner.db);
        runner.db = NULL;
        free(runner.slots);
        runner.slots = NULL;
        return MZ_ERR_INTERNAL;
    }
    runner.running = true;
    return MZ_OK;
}

json_t *mz_jobs_leases(struct mz_db *db)
{
    json_t *arr = json_array();
    struct mz_stmt *st;
    if (mz_db_prepare(db,
                      "SELECT name, holder, due_at, runs, started_at, finished_at, last_ok"
                      " FROM mz_job_leases ORDER BY name",
                      &st) != MZ_OK)
        return arr;
    while (mz_db_step(st) == MZ_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(mz_db_col_text(st, 0)));
        const char *h = mz_db_col_text(st, 1);
        json_object_set_new(o, "holder", h ? json_string(h) : json_null());
        json_object_set_new(o, "due_at", json_integer(mz_db_col_int(st, 2)));
        json_object_set_new(o, "runs", json_integer(mz_db_col_int(st, 3)));
        for (int c = 4; c <= 6; c++) {
            static const char *const names[] = {"started_at", "finished_at", "last_ok"};
            json_object_set_new(o, names[c - 4],
                                mz_db_col_type(st, c) == MZ_COL_NULL
                                    ? json_null()
                                    : json_integer(mz_db_col_int(st, c)));
        }
        json_array_append_new(arr, o);
    }
    mz_db_done(st);
    return arr;
}

void mz_jobs_stop(void)
{
    if (!runner.running)
        return;
    pthread_mutex_lock(&runner.lock);
    runner.stopping = true;
    pthread_cond_broadcast(&runner.wake);
    pthread_mutex_unlock(&runner.lock);
    pthread_join(runner.thread, NULL);
    mz_db_close(runner.db);
    runner.db = NULL;
    free(runner.slots);
    runner.slots = NULL;
    runner.nslots = 0;
    runner.running = false;
}
