/* workflow.c - declared state machines on entities.
 *
 * A workflow is data (struct mz_workflow): states and transitions
 * (from, action, to, permission, guard, effect). An entity with a workflow has
 * a `state` column (set to the initial state on create, never by PATCH) and a
 * `state_due` date when the state has a deadline. POST .../actions/<action>:
 *   1. the row is loaded in the caller's scope (404 otherwise);
 *   2. a stale `version` is 409 version_conflict;
 *   3. the transition must exist from the current state, else 409
 *      illegal_transition listing the allowed actions;
 *   4. its permission (default "<entity>.<action>") is checked;
 *   5. a required comment must be present (422);
 *   6. the guard (C, a business rule) may refuse with its own error;
 *   7. the effect (C) may change fields of the row; then the row is saved
 *      with the new state, and the transition and history are recorded —
 *      all in the request's one transaction.
 * Tested by tests/api/workflow.test.mjs.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine_internal.h"

#define COMMENT_MAX_CHARS 2000

/* The state descriptor by name, or NULL. */
static const struct mz_wf_state *find_state(const struct mz_workflow *w, const char *name)
{
    for (size_t i = 0; i < w->nstates; i++) {
        if (strcmp(w->states[i].name, name) == 0)
            return &w->states[i];
    }
    return NULL;
}

/* Does transition t start from state? ("*" is any state that is not final). */
static bool starts_from(const struct mz_workflow *w, const struct mz_transition *t,
                        const char *state)
{
    if (strcmp(t->from, "*") == 0) {
        const struct mz_wf_state *s = find_state(w, state);
        return s != NULL && !s->final && strcmp(t->to, state) != 0;
    }
    return strcmp(t->from, state) == 0;
}

/* Permission of a transition. */
static const char *transition_permission(struct mz_req *req, const struct mz_entity *e,
                                         const struct mz_transition *t)
{
    if (t->permission)
        return t->permission;
    return mz_arena_printf(req->arena, "%s.%s", e->permission ? e->permission : e->name,
                           t->action);
}

/* The allowed actions from a state as a JSON array of names. */
static json_t *allowed_names(const struct mz_workflow *w, const char *state)
{
    json_t *a = json_array();
    for (size_t i = 0; i < w->ntransitions; i++) {
        if (starts_from(w, &w->transitions[i], state))
            json_array_append_new(a, json_string(w->transitions[i].action));
    }
    return a;
}

int mz_entity_act(struct mz_req *req, const struct mz_entity *e, int64_t id, const char *action,
                  const char *comment, json_t **row_out)
{
    const struct mz_workflow *wf = e->workflow;
    json_t *before = NULL, *after = NULL, *errors = NULL;
    int status = 0, rc;
    int64_t expected = 0;

    if (row_out)
        *row_out = NULL;
    if (wf == NULL)
        return mz_fail(req, 404, "not_found", "这类数据没有办理流程");
    before = mz_row_load(req, e, id);
    if (before == NULL)
        return req->status;
    const char *state = json_string_value(json_object_get(before, "state"));
    int64_t current = json_integer_value(json_object_get(before, "version"));
    if (req->json && mz_json_get_int(req->json, "version", &expected) == MZ_OK &&
        expected != current) {
        json_t *extra = json_object();
        json_object_set_new(extra, "current_version", json_integer(current));
        status = mz_fail_with(req, 409, "version_conflict", "记录已被他人修改，请刷新后重试", extra);
        goto out;
    }
    const struct mz_transition *t = NULL;
    for (size_t i = 0; i < wf->ntransitions; i++) {
        if (strcmp(wf->transitions[i].action, action) == 0 &&
            starts_from(wf, &wf->transitions[i], state)) {
            t = &wf->transitions[i];
            break;
        }
    }
    if (t == NULL) {
        const struct mz_wf_state *s = find_state(wf, state);
        const char *label = action;
        for (size_t i = 0; i < wf->ntransitions; i++) {
            if (strcmp(wf->transitions[i].action, action) == 0)
                label = wf->transitions[i].zh;
        }
        json_t *extra = json_object();
        json_object_set_new(extra, "allowed", allowed_names(wf, state));
        json_object_set_new(extra, "state", json_string(state));
        status = mz_fail_with(req, 409, "illegal_transition",
                              mz_arena_printf(req->arena, "当前状态「%s」不能执行「%s」",
                                              s ? s->zh : state, label),
                              extra);
        goto out;
    }
    if (t->permission && !mz_req_may(req, transition_permission(req, e, t))) {
        status = mz_fail(req, 403, "forbidden", "没有执行该操作的权限");
        goto out;
    }
    if (comment && mz_utf8_length(comment, strlen(comment)) > COMMENT_MAX_CHARS) {
        status = mz_fail_field(req, 422, "validation_failed", "意见过长（最多 2000 字）", "comment");
        goto out;
    }
    if (t->comment_required && (comment == NULL || comment[strspn(comment, " \t\r\n")] == '\0')) {
        status = mz_fail_field(req, 422, "validation_failed",
                               mz_arena_printf(req->arena, "「%s」需要填写意见", t->zh), "comment");
        goto out;
    }
    after = json_deep_copy(before);
    errors = json_array();
    struct mz_write w = {req, e, after, before, errors, id, t->action};
    if (t->guard) {
        status = t->guard(&w);
        if (status)
            goto out;
    }
    if (t->effect) {
        status = t->effect(&w);
        if (status)
            goto out;
    }
    if (json_array_size(errors) == 0) {
        /* An effect must not move the row out of the caller's area. */
        status = mz_row_check_scope(req, e, after);
        if (status)
            goto out;
    }
    if (json_array_size(errors) > 0) {
        json_t *extra = json_object();
        json_object_set(extra, "errors", errors);
        json_object_set(extra, "field", json_object_get(json_array_get(errors, 0), "field"));
        status = mz_fail_with(req, 422, "validation_failed", "不满足办理条件", extra);
        goto out;
    }
    const char *due = mz_state_due(req, wf, t->to);
    json_t *changes = mz_row_diff(req, e, before, after);
    json_t *sc = json_object();
    json_object_set_new(sc, "from", json_string(state));
    json_object_set_new(sc, "to", json_string(t->to));
    json_object_set_new(changes, "state", sc);
    rc = mz_row_save(req, e, id, current, before, after, t->to, due);
    if (rc == MZ_OK)
        rc = mz_history_add(req, e, id, current + 1, t->action, changes, comment);
    json_decref(changes);
    if (rc == MZ_OK) {
        struct mz_stmt *st;
        char now[32];
        rc = mz_db_prepare(req->db,
                           "INSERT INTO mz_transitions (entity, row_id, from_state, to_state,"
                           " action, actor, at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           &st);
        if (rc == MZ_OK) {
            mz_now_rfc3339(now);
            mz_db_bind_text(st, 1, e->name);
            mz_db_bind_int(st, 2, id);
            mz_db_bind_text(st, 3, state);
            mz_db_bind_text(st, 4, t->to);
            mz_db_bind_text(st, 5, t->action);
            mz_db_bind_text(st, 6, req->actor ? req->actor : "anonymous");
            mz_db_bind_text(st, 7, now);
            mz_db_bind_text(st, 8, comment && *comment ? comment : NULL);
            rc = mz_db_step(st);
            rc = rc == MZ_DONE ? MZ_OK : (rc < 0 ? rc : MZ_ERR_DB);
            mz_db_done(st);
        }
    }
    if (rc == MZ_ERR_CONFLICT) {
        status = mz_fail(req, 409, "version_conflict", "记录已被他人修改，请刷新后重试");
        goto out;
    }
    if (rc != MZ_OK) {
        status = mz_fail_err(req, rc);
        goto out;
    }
    if (row_out) {
        *row_out = mz_entity_get(req, e, id);
        if (*row_out == NULL)
            status = req->status;
    }
out:
    json_decref(before);
    json_decref(after);
    json_decref(errors);
    return status;
}

/* POST /api/v1/{entity}/{id}/actions/{action} */
int mz_h_act(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    const char *comment = NULL;
    if (req->json) {
        if (!json_is_object(req->json))
            return mz_fail(req, 400, "bad_request", "请求体应为 JSON 对象");
        const char *key;
        json_t *v;
        json_object_foreach(req->json, key, v) {
            if (strcmp(key, "comment") != 0 && strcmp(key, "version") != 0)
                return mz_fail_field(req, 422, "validation_failed", "没有这个字段", key);
        }
        int rc = mz_json_get_str(req->json, "comment", &comment);
        if (rc == MZ_ERR_INVALID)
            return mz_fail_field(req, 422, "validation_failed", "意见应为文本", "comment");
        int64_t version;
        if (mz_json_get_int(req->json, "version", &version) == MZ_ERR_INVALID)
            return mz_fail_field(req, 422, "validation_failed", "版本号应为整数", "version");
    }
    json_t *row;
    int status = mz_entity_act(req, e, id, mz_req_param(req, "action"), comment, &row);
    if (status)
        return status;
    return mz_reply_json(req, 200, row);
}

/* GET /api/v1/{entity}/{id}/actions */
int mz_h_actions(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    if (e->workflow == NULL)
        return mz_fail(req, 404, "not_found", "这类数据没有办理流程");
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    json_t *row = mz_row_load(req, e, id);
    if (row == NULL)
        return req->status;
    const char *state = json_string_value(json_object_get(row, "state"));
    const struct mz_workflow *wf = e->workflow;
    json_t *actions = json_array();
    for (size_t i = 0; i < wf->ntransitions; i++) {
        const struct mz_transition *t = &wf->transitions[i];
        if (!starts_from(wf, t, state))
            continue;
        if (t->permission && !mz_req_may(req, transition_permission(req, e, t)))
            continue;
        json_t *a = json_object();
        json_object_set_new(a, "action", json_string(t->action));
        json_object_set_new(a, "zh", json_string(t->zh));
        json_object_set_new(a, "en", json_string(t->en));
        json_object_set_new(a, "to", json_string(t->to));
        json_object_set_new(a, "comment_required", json_boolean(t->comment_required));
        json_array_append_new(actions, a);
    }
    json_t *body = json_object();
    json_object_set_new(body, "state", json_string(state));
    json_object_set_new(body, "actions", actions);
    json_decref(row);
    return mz_reply_json(req, 200, body);
}

/* GET /api/v1/{entity}/{id}/transitions */
int mz_h_transitions(struct mz_req *req)
{
    const struct mz_entity *e = mz_req_entity_or_fail(req);
    if (e == NULL)
        return req->status;
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    json_t *row = mz_row_load(req, e, id);
    if (row == NULL)
        return req->status;
    json_decref(row);
    static const char *const names[] = {"from", "to", "action", "actor", "at", "comment"};
    json_t *items = mz_row_items(req,
                                 "SELECT from_state, to_state, action, actor, at, comment"
                                 " FROM mz_transitions WHERE entity = ? AND row_id = ? ORDER BY id",
                                 e->name, id, names, "ssssss");
    if (items == NULL)
        return req->status;
    json_t *body = json_object();
    json_object_set_new(body, "items", items);
    return mz_reply_json(req, 200, body);
}
