/* jobs.c - the scheduled-job runner: every module's `jobs` at their intervals.
 *
 * One thread, started by `serve` after the server, with its own database
 * connection. Each job (struct mz_job: name, interval_seconds, run) runs once
 * soon after start (so a restart never skips a daily job for a day) and then
 * every interval_seconds, one job at a time; a job that fails is logged and
 * retried at its next interval. mz_jobs_stop() wakes the thread, waits for a
 * running job to finish and closes the connection. Jobs must be short or
 * check nothing else: the runner does not interrupt them.
 *
 * Tested through the audit module's anchor job (tests/api/audit.test.mjs).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mz/engine.h"

/* Seconds after start before the first run of every job. */
#define JOBS_FIRST_DELAY_S 1

/* A job and its next due time (monotonic seconds). */
struct job_slot {
    const struct mz_job *job;
    const char *module;
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
} runner = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

/* Monotonic seconds. */
static int64_t mono_s(void)
{
    return mz_mono_us() / 1000000;
}

/* Run every due job and return the earliest next due time. */
static int64_t run_due(void)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < runner.nslots; i++) {
        struct job_slot *s = &runner.slots[i];
        if (s->due <= mono_s()) {
            int64_t t0 = mz_mono_us();
            int rc = s->job->run(runner.app, runner.db);
            if (rc != MZ_OK)
                mz_error("job %s of module %s failed: %s", s->job->name, s->module,
                         mz_err_name(rc));
            else
                mz_debug("job %s ran in %lld ms", s->job->name,
                         (long long)((mz_mono_us() - t0) / 1000));
            s->due = mono_s() + (s->job->interval_seconds > 0 ? s->job->interval_seconds : 3600);
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
    runner.slots = mz_xcalloc(n, sizeof(*runner.slots));
    runner.nslots = 0;
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        for (size_t j = 0; j < m->njobs; j++) {
            runner.slots[runner.nslots++] = (struct job_slot){
                .job = &m->jobs[j], .module = m->name, .due = mono_s() + JOBS_FIRST_DELAY_S};
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
