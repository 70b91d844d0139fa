/* duplicates.c - duplicate persons (review and merge) and the person-centric
 * view of every module's records.
 *
 * Same ID number = same person is enforced by the unique index. Beyond that,
 * GET /api/v1/persons/duplicates lists candidate pairs for review:
 *   same_name_birth   same name, same birth date, same district (6 digits)
 *   same_pinyin_birth same full pinyin of the name (different characters,
 *                     e.g. 张三/章三), same birth date and district - only
 *                     when the pinyin module is linked and a division is
 *                     given (it scans that division's persons in C).
 * POST /api/v1/persons/merge {"keep","remove","comment"} moves every
 * reference to `remove` (every MZ_T_REF field of every entity that points at
 * persons: memberships, heads of households, other modules' cases) to
 * `keep` through the engine (so each moved row has its history), ends a
 * moved membership that would be a second open one of its kind, soft-deletes
 * `remove`, marks it merged_into=keep and writes a "merge" history entry with
 * the comment on both - all in the request's one transaction.
 *
 * GET /api/v1/persons/{id}/records lists, for every entity with a reference
 * to persons, the rows referencing the person that the caller may read (the
 * entity's read permission and scope apply; sensitive values masked), and
 * those an entity keeps outside its table (its person_rows hook: a packed
 * payroll run's households), for the person and the persons merged into it.
 *
 * This file uses the engine's internal row helpers (mz_history_add,
 * mz_row_from_stmt): see "What the registry needs from the engine" in
 * docs/registry.md.
 */
#include "engine/engine_internal.h"
#include "registry/registry_internal.h"

#define DUPLICATES_MAX 500
#define PINYIN_SCAN_MAX 200000

/* The [lo, hi) range of hukou_division for a division query parameter and
 * the caller's scope; false after 400. */
static bool duplicate_range(struct mz_req *req, char lo[13], char hi[13], char slo[13],
                            char shi[13])
{
    const char *division = mz_req_query(req, "division");
    strcpy(lo, "000000000000");
    strcpy(hi, "999999999999");
    if (division && *division && mz_division_range(division, lo, hi) != MZ_OK) {
        mz_fail_field(req, 400, "bad_filter", "区划代码无效", "division");
        return false;
    }
    strcpy(slo, "000000000000");
    strcpy(shi, "999999999999");
    const char *scope = req->app->scope ? req->app->scope(req) : NULL;
    if (scope && mz_division_range(scope, slo, shi) != MZ_OK) {
        strcpy(slo, "999999999999");
        strcpy(shi, "999999999999");
    }
    return true;
}

/* Append a pair to items, each side as the person's presented row. */
static void add_pair(struct mz_req *req, json_t *items, const char *reason, int64_t a, int64_t b)
{
    const struct mz_entity_rt *rt = mz_entity_rt_of(req->app, &registry_persons);
    json_t *pair = json_object();
    json_object_set_new(pair, "reason", json_string(reason));
    int64_t ids[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct mz_stmt *st;
        json_t *row = json_null();
        if (mz_db_prepare(req->db, rt->select_one, &st) == MZ_OK) {
            mz_db_bind_int(st, 1, ids[i]);
            if (mz_db_step(st) == MZ_ROW)
                row = mz_row_from_stmt(req, rt, st, false);
            mz_db_done(st);
        }
        json_object_set_new(pair, i == 0 ? "a" : "b", row);
    }
    json_array_append_new(items, pair);
}

/* Same full pinyin, same birth date and district, different names: scan the
 * division's persons ordered by birth date and compare within each day. */
static int pinyin_pairs(struct mz_req *req, json_t *items, const char *lo, const char *hi,
                        const char *slo, const char *shi, int64_t limit)
{
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT id, name, birth_date, substr(hukou_division, 1, 6) FROM persons"
                           " WHERE deleted_at IS NULL AND hukou_division >= ? AND hukou_division < ?"
                           " AND hukou_division >= ? AND hukou_division < ? AND birth_date IS NOT NULL"
                           " ORDER BY birth_date, 4 LIMIT ?",
                           &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_text(st, 1, lo);
    mz_db_bind_text(st, 2, hi);
    mz_db_bind_text(st, 3, slo);
    mz_db_bind_text(st, 4, shi);
    mz_db_bind_int(st, 5, PINYIN_SCAN_MAX);
    /* The current group (same birth date and district). */
    struct member {
        int64_t id;
        char *name, *pinyin;
    } group[64];
    int n = 0;
    char key[32] = "";
    json_t *found = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW && (int64_t)json_array_size(items) < limit) {
        char k[32];
        snprintf(k, sizeof(k), "%s%s", mz_db_col_text(st, 2), mz_db_col_text(st, 3));
        if (strcmp(k, key) != 0) {
            n = 0;
            memcpy(key, k, sizeof(key));
        }
        const char *name = mz_db_col_text(st, 1);
        char *py = registry_pinyin(req->arena, name ? name : "");
        if (py == NULL || n == (int)MZ_ARRAY_LEN(group))
            continue;
        for (int i = 0; i < n; i++) {
            if (strcmp(group[i].pinyin, py) == 0 && strcmp(group[i].name, name) != 0) {
                json_t *p = json_array();
                json_array_append_new(p, json_integer(group[i].id));
                json_array_append_new(p, json_integer(mz_db_col_int(st, 0)));
                json_array_append_new(found, p);
            }
        }
        group[n].id = mz_db_col_int(st, 0);
        group[n].name = mz_arena_strdup(req->arena, name);
        group[n].pinyin = py;
        n++;
    }
    mz_db_done(st);
    size_t i;
    json_t *p;
    json_array_foreach(found, i, p) {
        if ((int64_t)json_array_size(items) >= limit)
            break;
        add_pair(req, items, "same_pinyin_birth", json_integer_value(json_array_get(p, 0)),
                 json_integer_value(json_array_get(p, 1)));
    }
    json_decref(found);
    return rc < 0 ? rc : MZ_OK;
}

/* GET /api/v1/persons/duplicates?division=&limit= */
int registry_h_duplicates(struct mz_req *req)
{
    char lo[13], hi[13], slo[13], shi[13];
    if (!duplicate_range(req, lo, hi, slo, shi))
        return req->status;
    int64_t limit = 100;
    const char *l = mz_req_query(req, "limit");
    if (l) {
        char *end;
        limit = strtoll(l, &end, 10);
        if (*l == '\0' || *end != '\0' || limit < 1 || limit > DUPLICATES_MAX)
            return mz_fail_field(req, 400, "bad_size", "limit 应为 1 到 500", "limit");
    }
    struct mz_stmt *st;
    int rc = mz_db_prepare(req->db,
                           "SELECT a.id, b.id FROM persons a JOIN persons b"
                           " ON b.name = a.name AND b.birth_date = a.birth_date AND b.id > a.id"
                           " AND b.deleted_at IS NULL"
                           " AND substr(b.hukou_division, 1, 6) = substr(a.hukou_division, 1, 6)"
                           " WHERE a.deleted_at IS NULL AND a.hukou_division >= ?"
                           " AND a.hukou_division < ? AND a.hukou_division >= ?"
                           " AND a.hukou_division < ? ORDER BY a.id, b.id LIMIT ?",
                           &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_text(st, 1, lo);
    mz_db_bind_text(st, 2, hi);
    mz_db_bind_text(st, 3, slo);
    mz_db_bind_text(st, 4, shi);
    mz_db_bind_int(st, 5, limit);
    json_t *pairs = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *p = json_array();
        json_array_append_new(p, json_integer(mz_db_col_int(st, 0)));
        json_array_append_new(p, json_integer(mz_db_col_int(st, 1)));
        json_array_append_new(pairs, p);
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(pairs);
        return mz_fail_err(req, rc);
    }
    json_t *items = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) {
        add_pair(req, items, "same_name_birth", json_integer_value(json_array_get(p, 0)),
                 json_integer_value(json_array_get(p, 1)));
    }
    json_decref(pairs);
    const char *division = mz_req_query(req, "division");
    bool pinyin = registry_pinyin(req->arena, "张") != NULL;
    if (pinyin && division && *division && (int64_t)json_array_size(items) < limit) {
        rc = pinyin_pairs(req, items, lo, hi, slo, shi, limit);
        if (rc != MZ_OK) {
            json_decref(items);
            return mz_fail_err(req, rc);
        }
    }
    json_t *body = json_object();
    json_object_set_new(body, "total", json_integer((json_int_t)json_array_size(items)));
    json_object_set_new(body, "pinyin", json_boolean(pinyin));
    json_object_set_new(body, "items", items);
    return mz_reply_json(req, 200, body);
}

/* Move one entity field's references from `remove` to `keep`, through the
 * engine. For memberships, a moved open membership that would be a second
 * open one of its household kind is ended today. Counts moved rows. */
static int move_references(struct mz_req *req, const struct mz_entity *e, const struct mz_field *f,
                           int64_t keep, int64_t remove, int64_t *moved)
{
    struct mz_stmt *st;
    char *sql = mz_arena_printf(req->arena,
                                "SELECT id, version FROM %s WHERE %s = ? AND deleted_at IS NULL"
                                " ORDER BY id",
                                e->name, f->name);
    int rc = mz_db_prepare(req->db, sql, &st);
    if (rc != MZ_OK)
        return mz_fail_err(req, rc);
    mz_db_bind_int(st, 1, remove);
    json_t *rows = json_array();
    while ((rc = mz_db_step(st)) == MZ_ROW) {
        json_t *r = json_array();
        json_array_append_new(r, json_integer(mz_db_col_int(st, 0)));
        json_array_append_new(r, json_integer(mz_db_col_int(st, 1)));
        json_array_append_new(rows, r);
    }
    mz_db_done(st);
    if (rc < 0) {
        json_decref(rows);
        return mz_fail_err(req, rc);
    }
    size_t i;
    json_t *r;
    int status = 0;
    json_array_foreach(rows, i, r) {
        int64_t id = json_integer_value(json_array_get(r, 0));
        int64_t version = json_integer_value(json_array_get(r, 1));
        json_t *input = json_object();
        json_object_set_new(input, f->name, json_integer(keep));
        if (e == &registry_household_members) {
            /* Would keep then hold two open memberships of this kind? */
            struct mz_stmt *q;
            rc = mz_db_prepare(req->db,
                               "SELECT 1 FROM household_members m JOIN households h"
                               " ON h.id = m.household_id JOIN household_members o"
                               " ON o.id = ? JOIN households oh ON oh.id = o.household_id"
                               " WHERE m.person_id = ? AND m.to_date IS NULL AND o.to_date IS NULL"
                               " AND m.deleted_at IS NULL AND h.kind = oh.kind LIMIT 1",
                               &q);
            if (rc != MZ_OK) {
                json_decref(input);
                status = mz_fail_err(req, rc);
                break;
            }
            mz_db_bind_int(q, 1, id);
            mz_db_bind_int(q, 2, keep);
            bool clash = mz_db_step(q) == MZ_ROW;
            mz_db_done(q);
            if (clash) {
                char today[11];
                mz_today(today);
                json_object_set_new(input, "to_date", json_string(today));
            }
        }
        status = mz_entity_update(req, e, id, input, version, NULL);
        json_decref(input);
        if (status)
            break;
        (*moved)++;
    }
    json_decref(rows);
    return status;
}

/* POST /api/v1/persons/merge {"keep","remove","comment"} */
int registry_h_merge(struct mz_req *req)
{
    json_t *body = mz_req_object_or_fail(req);
    if (body == NULL)
        return req->status;
    int64_t keep = 0, remove = 0;
    const char *comment = NULL;
    if (mz_json_get_int(body, "keep", &keep) != MZ_OK || keep <= 0)
        return mz_fail_field(req, 422, "validation_failed", "请指定保留的人员（keep）", "keep");
    if (mz_json_get_int(body, "remove", &remove) != MZ_OK || remove <= 0)
        return mz_fail_field(req, 422, "validation_failed", "请指定被合并的人员（remove）", "remove");
    if (keep == remove)
        return mz_fail_field(req, 422, "validation_failed", "保留与被合并的人员不能相同", "remove");
    if (mz_json_get_str(body, "comment", &comment) == MZ_ERR_INVALID)
        return mz_fail_field(req, 422, "validation_failed", "说明应为文本", "comment");
    json_t *k = mz_row_load(req, &registry_persons, keep);
    if (k == NULL)
        return req->status;
    json_t *r = mz_row_load(req, &registry_persons, remove);
    if (r == NULL) {
        json_decref(k);
        return req->status;
    }
    json_t *moved = json_object();
    int status = 0;
    for (size_t i = 0; status == 0 && i < req->app->nentities; i++) {
        const struct mz_entity *e = req->app->entities[i];
        if (e == &registry_persons)
            continue;
        for (size_t j = 0; status == 0 && j < e->nfields; j++) {
            const struct mz_field *f = &e->fields[j];
            if (f->type != MZ_T_REF || strcmp(f->ref, "persons") != 0)
                continue;
            int64_t n = 0;
            status = move_references(req, e, f, keep, remove, &n);
            if (n > 0)
                json_object_set_new(moved, mz_arena_printf(req->arena, "%s.%s", e->name, f->name),
                                    json_integer(n));
        }
    }
    if (status == 0)
        status = mz_entity_delete(req, &registry_persons, remove,
                                  json_integer_value(json_object_get(r, "version")));
    if (status == 0) {
        struct mz_stmt *st;
        int rc = mz_db_prepare(req->db, "UPDATE persons SET merged_into = ? WHERE id = ?", &st);
        if (rc == MZ_OK) {
            mz_db_bind_int(st, 1, keep);
            mz_db_bind_int(st, 2, remove);
            rc = mz_db_step(st) == MZ_DONE ? MZ_OK : MZ_ERR_DB;
            mz_db_done(st);
        }
        json_t *c1 = json_pack("{s:{s:n,s:I}}", "merged_into", "from", "to", (json_int_t)keep);
        json_t *c2 = json_pack("{s:{s:n,s:I}}", "merged_from", "from", "to", (json_int_t)remove);
        if (rc == MZ_OK)
            rc = mz_history_add(req, &registry_persons, remove,
                                json_integer_value(json_object_get(r, "version")) + 1, "merge", c1,
                                comment);
        if (rc == MZ_OK)
            rc = mz_history_add(req, &registry_persons, keep,
                                json_integer_value(json_object_get(k, "version")), "merge", c2,
                                comment);
        json_decref(c1);
        json_decref(c2);
        if (rc != MZ_OK)
            status = mz_fail_err(req, rc);
    }
    if (status == 0) {
        int rc = registry_person_unindex(req, remove);
        if (rc != 0)
            status = rc > 0 ? rc : mz_fail_err(req, rc);
    }
    if (status == 0) {
        int rc = registry_person_index(req, keep, registry_json_str(k, "name"),
                                       registry_json_str(k, "former_names"));
        if (rc != 0)
            status = rc > 0 ? rc : mz_fail_err(req, rc);
    }
    if (status == 0) {
        json_t *detail = json_pack("{s:I,s:I,s:O}", "keep", (json_int_t)keep, "remove",
                                   (json_int_t)remove, "moved", moved);
        status = mz_audit(req, "merge", "persons", keep, true, detail);
        json_decref(detail);
    }
    json_decref(k);
    json_decref(r);
    if (status) {
        json_decref(moved);
        return status;
    }
    json_t *row = mz_entity_get(req, &registry_persons, keep);
    if (row == NULL) {
        json_decref(moved);
        return req->status;
    }
    json_t *reply = json_object();
    json_object_set_new(reply, "keep", row);
    json_object_set_new(reply, "removed", json_integer(remove));
    json_object_set_new(reply, "moved", moved);
    return mz_reply_json(req, 200, reply);
}

static int cmp_row_id_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "id"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "id"));
    return x > y ? -1 : x < y;
}

/* An entity's rows about the person kept outside its table (its person_rows
 * hook), for the person and every person merged into it (packs keep the
 * ids they were written with), merged into rows: newest first, at most 200. */
static int person_rows(struct mz_req *req, const struct mz_entity *e, const struct mz_field *f,
                       int64_t id, json_t *rows)
{
    int64_t *persons = mz_xmalloc(sizeof(*persons));
    size_t n = 1, cap = 1;
    persons[0] = id;
    int rc = MZ_OK;
    /* Merges chain (a into b, b into c): follow them back, each once. */
    for (size_t k = 0; k < n && n < 1000 && rc == MZ_OK; k++) {
        struct mz_stmt *st;
        rc = mz_db_prepare(req->db, "SELECT id FROM persons WHERE merged_into = ? ORDER BY id",
                           &st);
        if (rc != MZ_OK)
            break;
        mz_db_bind_int(st, 1, persons[k]);
        while ((rc = mz_db_step(st)) == MZ_ROW) {
            if (n == cap) {
                cap *= 2;
                persons = mz_xrealloc(persons, cap * sizeof(*persons));
            }
            persons[n++] = mz_db_col_int(st, 0);
        }
        mz_db_done(st);
        rc = rc == MZ_DONE ? MZ_OK : rc;
    }
    int status = rc == MZ_OK ? e->hooks->person_rows(req, e, f, persons, n, rows)
                             : mz_fail_err(req, rc);
    free(persons);
    if (status)
        return status;
    size_t total = json_array_size(rows);
    json_t **items = mz_xmalloc((total ? total : 1) * sizeof(*items));
    for (size_t i = 0; i < total; i++)
        items[i] = json_incref(json_array_get(rows, i));
    if (total > 1)
        qsort(items, total, sizeof(*items), cmp_row_id_desc);
    json_array_clear(rows);
    for (size_t i = 0; i < total; i++) {
        if (i < 200)
            json_array_append(rows, items[i]);
        json_decref(items[i]);
    }
    free(items);
    return 0;
}

/* GET /api/v1/persons/{id}/records - every module's rows about the person. */
int registry_h_person_records(struct mz_req *req)
{
    int64_t id = mz_req_id_or_fail(req);
    if (id == 0)
        return req->status;
    json_t *person = mz_entity_get(req, &registry_persons, id);
    if (person == NULL)
        return req->status;
    json_decref(person);
    json_t *groups = json_array();
    for (size_t i = 0; i < req->app->nentities; i++) {
        const struct mz_entity *e = req->app->entities[i];
        const struct mz_entity_rt *rt = &req->app->rt[i];
        char perm[96];
        snprintf(perm, sizeof(perm), "%s.read", e->permission ? e->permission : e->name);
        if (e == &registry_persons || !mz_req_may(req, perm))
            continue;
        for (size_t j = 0; j < e->nfields; j++) {
            const struct mz_field *f = &e->fields[j];
            if (f->type != MZ_T_REF || strcmp(f->ref, "persons") != 0)
                continue;
            char lo[13], hi[13];
            const char *scope = rt->scope_field && req->app->scope ? req->app->scope(req) : NULL;
            bool scoped = scope != NULL;
            if (scoped && mz_division_range(scope, lo, hi) != MZ_OK) {
                strcpy(lo, "999999999999");
                strcpy(hi, "999999999999");
            }
            char *sql = mz_arena_printf(
                req->arena, "SELECT %s FROM %s WHERE %s = ? AND deleted_at IS NULL%s%s%s%s%s"
                            " ORDER BY id DESC LIMIT 200",
                rt->select_cols, e->name, f->name, scoped ? " AND " : "",
                scoped ? rt->scope_field->name : "", scoped ? " >= ? AND " : "",
                scoped ? rt->scope_field->name : "", scoped ? " < ?" : "");
            struct mz_stmt *st;
            int rc = mz_db_prepare(req->db, sql, &st);
            if (rc != MZ_OK) {
                json_decref(groups);
                return mz_fail_err(req, rc);
            }
            mz_db_bind_int(st, 1, id);
            if (scoped) {
                mz_db_bind_text(st, 2, lo);
                mz_db_bind_text(st, 3, hi);
            }
            json_t *rows = json_array();
            while ((rc = mz_db_step(st)) == MZ_ROW)
                json_array_append_new(rows, mz_row_from_stmt(req, rt, st, false));
            mz_db_done(st);
            if (rc < 0) {
                json_decref(rows);
                json_decref(groups);
                return mz_fail_err(req, rc);
            }
            if (e->hooks && e->hooks->person_rows) {
                int status = person_rows(req, e, f, id, rows);
                if (status) {
                    json_decref(rows);
                    json_decref(groups);
                    return status;
                }
            }
            if (json_array_size(rows) == 0) {
                json_decref(rows);
                continue;
            }
            json_t *g = json_object();
            json_object_set_new(g, "entity", json_string(e->name));
            json_object_set_new(g, "zh", json_string(e->zh));
            json_object_set_new(g, "field", json_string(f->name));
            json_object_set_new(g, "items", rows);
            json_array_append_new(groups, g);
        }
    }
    json_t *body = json_object();
    json_object_set_new(body, "person_id", json_integer(id));
    json_object_set_new(body, "groups", groups);
    return mz_reply_json(req, 200, body);
}
