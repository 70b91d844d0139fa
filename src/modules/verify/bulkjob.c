/* bulkjob.c - a bulk re-check in the background, with progress.
 *
 * POST /api/v1/verify/bulk with "async": true answers 202 at once with a job
 * id; the run (vf_bulk, the same as the synchronous one) goes on in its own
 * thread on its own database connection and write transaction, and records
 * its phase and counts as it goes. GET /api/v1/verify/bulk/{job} tells the
 * caller who started it where it is: {"job","phase","done","total",
 * "finished","status",...} and, when finished, the summary (or the error).
 * The audit event is appended in the run's transaction, so a run either
 * lands whole with its audit entry or not at all (a stop mid-run rolls back).
 * At most MAX_JOBS runs are kept; a finished one is forgotten after an hour
 * or when its slot is needed. Two runs over overlapping areas at once are
 * refused (409 bulk_running).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mz/audit.h"
#include "modules/verify/verify_internal.h"
#include "modules/verify/verify_parts.h"

#define MAX_JOBS 8

struct job {
    bool used, finished;
    char id[33];
    char actor[64];
    char program[16], as_of[11], lo[13], hi[13];
    char *note;
    char phase[24];
    int64_t done, total;
    int status;              /* 201 or an error status when finished */
    json_t *result;          /* the summary, or {"code","message"} */
    time_t finished_at;
    const char *db_spec;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct job jobs[MAX_JOBS];

static void on_progress(void *ctx, const char *phase, int64_t done, int64_t total)
{
    struct job *j = ctx;
    pthread_mutex_lock(&lock);
    snprintf(j->phase, sizeof(j->phase), "%s", phase);
    j->done = done;
    j->total = total;
    pthread_mutex_unlock(&lock);
}

static void *run(void *arg)
{
    struct job *j = arg;
    struct mz_db *db = NULL;
    struct mz_db_options o = {.create = false, .busy_timeout_ms = 30000};
    struct mz_arena *a = mz_arena_new();
    json_t *summary = NULL;
    int64_t id = 0;
    int rc = mz_db_open(j->db_spec, &o, &db);
    if (rc == MZ_OK)
        rc = mz_db_begin_write(db);
    if (rc == MZ_OK) {
        struct vf_bulk_opts bo = {.program = j->program, .as_of = j->as_of, .lo = j->lo,
                                  .hi = j->hi, .actor = j->actor, .note = j->note,
                                  .progress = on_progress, .ctx = j,
                                  .read_committed = true};
        rc = vf_bulk(db, a, &bo, &id, &summary);
        if (rc == MZ_OK) {
            char *detail = json_dumps(summary, JSON_COMPACT);
            struct mz_audit_event ev = {.actor = j->actor, .action = "verify_bulk",
                                        .object = "verify_requests", .object_id = id,
                                        .success = true, .detail = detail};
            rc = mz_audit_append(db, &ev, NULL);
            free(detail);
        }
        if (rc == MZ_OK)
            rc = mz_db_commit(db);
        if (rc != MZ_OK && mz_db_in_transaction(db))
            mz_db_rollback(db);
    }
    if (db)
        mz_db_close(db);
    mz_arena_free(a);
    pthread_mutex_lock(&lock);
    j->finished = true;
    j->finished_at = time(NULL);
    if (rc == MZ_OK) {
        j->status = 201;
        j->result = summary;
        snprintf(j->phase, sizeof(j->phase), "done");
    } else {
        json_decref(summary);
        j->status = rc == MZ_ERR_BUSY ? 503 : 500;
        j->result = json_pack("{s:s, s:s}", "code", rc == MZ_ERR_BUSY ? "busy" : "internal",
                              "message", rc == MZ_ERR_BUSY ? "数据库繁忙，复核未完成，请稍后重试"
                                                           : "复核失败，未写入任何结果");
        snprintf(j->phase, sizeof(j->phase), "failed");
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Forget a finished job (caller holds the lock). */
static void forget(struct job *j)
{
    json_decref(j->result);
    free(j->note);
    memset(j, 0, sizeof(*j));
}

int vf_bulkjob_start(struct mz_req *req, const struct vf_bulk_opts *o)
{
    pthread_mutex_lock(&lock);
    struct job *slot = NULL;
    time_t now = time(NULL);
    for (int i = 0; i < MAX_JOBS; i++) {
        struct job *j = &jobs[i];
        if (j->used && j->finished && now - j->finished_at > 3600)
            forget(j);
        if (j->used && !j->finished && strcmp(o->lo, j->hi) < 0 && strcmp(j->lo, o->hi) < 0) {
            pthread_mutex_unlock(&lock);
            return mz_fail_with(req, 409, "bulk_running", "该区域已有一次复核正在进行，请等待其完成",
                                json_pack("{s:s}", "job", j->id));
        }
    }
    for (int i = 0; i < MAX_JOBS && slot == NULL; i++)
        slot = jobs[i].used ? NULL : &jobs[i];
    for (int i = 0; i < MAX_JOBS && slot == NULL; i++) {
        if (jobs[i].finished) {
            forget(&jobs[i]);
            slot = &jobs[i];
        }
    }
    if (slot == NULL) {
        pthread_mutex_unlock(&lock);
        return mz_fail(req, 503, "busy", "正在进行的复核过多，请稍后再试");
    }
    unsigned char raw[16];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(slot->id, sizeof(slot->id), raw, sizeof(raw));
    slot->used = true;
    slot->finished = false;
    snprintf(slot->actor, sizeof(slot->actor), "%s", req->actor ? req->actor : "-");
    snprintf(slot->program, sizeof(slot->program), "%s", o->program);
    snprintf(slot->as_of, sizeof(slot->as_of), "%s", o->as_of);
    snprintf(slot->lo, sizeof(slot->lo), "%s", o->lo);
    snprintf(slot->hi, sizeof(slot->hi), "%s", o->hi);
    slot->note = o->note ? strdup(o->note) : NULL;
    snprintf(slot->phase, sizeof(slot->phase), "queued");
    slot->db_spec = req->app->db_spec;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&th, &attr, run, slot);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        forget(slot);
        pthread_mutex_unlock(&lock);
        return mz_fail(req, 503, "busy", "无法启动复核，请稍后再试");
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "job", slot->id, "phase", "queued",
                             "program", o->program, "as_of", o->as_of);
    pthread_mutex_unlock(&lock);
    return mz_reply_json(req, 202, body);
}

/* GET /api/v1/verify/bulk/{job} */
int vf_h_bulkjob(struct mz_req *req)
{
    const char *id = mz_req_param(req, "job");
    pthread_mutex_lock(&lock);
    struct job *j = NULL;
    for (int i = 0; i < MAX_JOBS && j == NULL; i++) {
        if (jobs[i].used && id && strcmp(jobs[i].id, id) == 0 &&
            strcmp(jobs[i].actor, req->actor ? req->actor : "-") == 0)
            j = &jobs[i];
    }
    if (j == NULL) {
        pthread_mutex_unlock(&lock);
        return mz_fail(req, 404, "not_found", "没有这个复核任务（或已过期）");
    }
    json_t *body = json_pack("{s:s, s:s, s:I, s:I, s:b, s:s, s:s}", "job", j->id, "phase",
                             j->phase, "done", (json_int_t)j->done, "total", (json_int_t)j->total,
                             "finished", j->finished, "program", j->program, "as_of", j->as_of);
    if (j->finished) {
        json_object_set_new(body, "status", json_integer(j->status));
        json_object_set(body, j->status == 201 ? "summary" : "error", j->result);
    }
    pthread_mutex_unlock(&lock);
    return mz_reply_json(req, 200, body);
}
