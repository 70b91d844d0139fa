/* meta.c - the metadata document (/meta) and the OpenAPI document.
 *
 * Both are generated from the declarations alone. /meta is what the web app
 * renders lists, forms and workflow panels from; it lists only what the caller
 * may read. /openapi.json describes every route: the generic entity routes
 * expanded per entity with a schema each, plus every module route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

/* Name of a field type as it appears in /meta. */
static const char *type_name(enum mz_ftype t)
{
    static const char *const names[] = {
        [MZ_T_TEXT] = "text",         [MZ_T_INT] = "integer",   [MZ_T_MONEY] = "money",
        [MZ_T_DATE] = "date",         [MZ_T_DATETIME] = "datetime", [MZ_T_BOOL] = "boolean",
        [MZ_T_DICT] = "dict",         [MZ_T_IDNUM] = "id_number", [MZ_T_USCC] = "uscc",
        [MZ_T_PHONE] = "phone",       [MZ_T_BANKCARD] = "bank_card", [MZ_T_DIVISION] = "division",
        [MZ_T_REF] = "reference",     [MZ_T_JSON] = "json",
    };
    return (size_t)t < MZ_ARRAY_LEN(names) && names[t] ? names[t] : "text";
}

/* A field's description. */
static json_t *field_json(const struct mz_field *f)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(f->name));
    json_object_set_new(j, "type", json_string(type_name(f->type)));
    json_object_set_new(j, "zh", mz_json_str(f->zh));
    json_object_set_new(j, "en", mz_json_str(f->en));
    json_object_set_new(j, "required", json_boolean(f->flags & MZ_F_REQUIRED));
    json_object_set_new(j, "unique", json_boolean(f->flags & MZ_F_UNIQUE));
    json_object_set_new(j, "sensitive", json_boolean(f->flags & MZ_F_SENSITIVE));
    json_object_set_new(j, "searchable", json_boolean(f->flags & MZ_F_SEARCHABLE));
    json_object_set_new(j, "scope", json_boolean(f->flags & MZ_F_SCOPE));
    json_object_set_new(j, "readonly", json_boolean(f->flags & MZ_F_READONLY));
    json_object_set_new(j, "immutable", json_boolean(f->flags & MZ_F_IMMUTABLE));
    json_object_set_new(j, "hidden", json_boolean(f->flags & MZ_F_HIDDEN));
    json_object_set_new(j, "multiline", json_boolean(f->flags & MZ_F_MULTILINE));
    json_object_set_new(j, "min", (f->flags & MZ_F_HAS_MIN) ? json_integer(f->min) : json_null());
    json_object_set_new(j, "max", (f->flags & MZ_F_HAS_MAX) ? json_integer(f->max)
                                  : f->type == MZ_T_TEXT ? json_integer(MZ_TEXT_MAX_DEFAULT)
                                                          : json_null());
    json_object_set_new(j, "pattern", mz_json_str(f->pattern));
    json_object_set_new(j, "pattern_zh", mz_json_str(f->pattern_zh));
    json_object_set_new(j, "dict", mz_json_str(f->dict));
    json_object_set_new(j, "ref", mz_json_str(f->ref));
    json_t *def = f->def ? json_loads(f->def, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(j, "default", def ? def : json_null());
    return j;
}

/* A workflow's description. */
static json_t *workflow_json(const struct mz_workflow *w)
{
    json_t *j = json_object(), *states = json_array(), *trans = json_array();
    json_object_set_new(j, "name", json_string(w->name));
    json_object_set_new(j, "initial", json_string(w->initial));
    for (size_t i = 0; i < w->nstates; i++) {
        const struct mz_wf_state *s = &w->states[i];
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(s->name));
        json_object_set_new(x, "zh", mz_json_str(s->zh));
        json_object_set_new(x, "en", mz_json_str(s->en));
        json_object_set_new(x, "deadline_days", json_integer(s->deadline_days));
        json_object_set_new(x, "final", json_boolean(s->final));
        json_array_append_new(states, x);
    }
    for (size_t i = 0; i < w->ntransitions; i++) {
        const struct mz_transition *t = &w->transitions[i];
        json_t *x = json_object();
        json_object_set_new(x, "from", json_string(t->from));
        json_object_set_new(x, "action", json_string(t->action));
        json_object_set_new(x, "to", json_string(t->to));
        json_object_set_new(x, "zh", mz_json_str(t->zh));
        json_object_set_new(x, "en", mz_json_str(t->en));
        json_object_set_new(x, "comment_required", json_boolean(t->comment_required));
        json_array_append_new(trans, x);
    }
    json_object_set_new(j, "states", states);
    json_object_set_new(j, "transitions", trans);
    return j;
}

/* An entity's description. */
static json_t *entity_json(const struct mz_entity *e)
{
    json_t *j = json_object(), *fields = json_array();
    json_object_set_new(j, "name", json_string(e->name));
    json_object_set_new(j, "zh", mz_json_str(e->zh));
    json_object_set_new(j, "en", mz_json_str(e->en));
    json_object_set_new(j, "title_field", mz_json_str(e->title_field));
    json_object_set_new(j, "default_sort", json_string(e->default_sort ? e->default_sort : "-id"));
    json_object_set_new(j, "can_create", json_boolean(!(e->flags & (MZ_E_NO_CREATE | MZ_E_READONLY))));
    json_object_set_new(j, "can_update", json_boolean(!(e->flags & MZ_E_READONLY)));
    json_object_set_new(j, "can_delete", json_boolean(!(e->flags & (MZ_E_NO_DELETE | MZ_E_READONLY))));
    json_object_set_new(j, "can_import",
                        json_boolean(!(e->flags & (MZ_E_NO_IMPORT | MZ_E_NO_CREATE | MZ_E_READONLY))));
    json_object_set_new(j, "attachments", json_boolean(e->flags & MZ_E_ATTACHMENTS));
    for (size_t i = 0; i < e->nfields; i++)
        json_array_append_new(fields, field_json(&e->fields[i]));
    json_object_set_new(j, "fields", fields);
    json_object_set_new(j, "workflow", e->workflow ? workflow_json(e->workflow) : json_null());
    return j;
}

/* A dictionary's description. Its items are the ones in force in the
 * database when the app's dict_items hook gives them (dictionaries edited by
 * administrators), else the declared table's. */
static json_t *dict_json(struct mz_req *req, const struct mz_dict *d)
{
    json_t *j = json_object();
    json_t *items = req->app->dict_items ? req->app->dict_items(req, d->name) : NULL;
    json_object_set_new(j, "name", json_string(d->name));
    json_object_set_new(j, "zh", mz_json_str(d->zh));
    json_object_set_new(j, "en", mz_json_str(d->en));
    json_object_set_new(j, "standard", mz_json_str(d->standard));
    if (items != NULL) {
        json_object_set_new(j, "items", items);
        return j;
    }
    items = json_array();
    for (size_t i = 0; i < d->nitems; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "code", json_string(d->items[i].code));
        json_object_set_new(x, "zh", mz_json_str(d->items[i].zh));
        json_object_set_new(x, "en", mz_json_str(d->items[i].en));
        json_array_append_new(items, x);
    }
    json_object_set_new(j, "items", items);
    return j;
}

char *mz_meta_entity_text(const struct mz_entity *e)
{
    json_t *j = entity_json(e);
    char *text = mz_json_dump(j, NULL);
    json_decref(j);
    return text;
}

/* GET /api/v1/meta: {version, modules, menus, entities, dictionaries}, in
 * that order, as jansson's compact dump of that object would give it. The
 * entities come from the text each entity's description was dumped to at
 * start-up (mz_meta_entity_text: declarations only, 90 % of the document);
 * menus and entities list only what the caller may read; the dictionaries'
 * items are the ones in force in the database. */
int mz_h_meta(struct mz_req *req)
{
    const struct mz_app *app = req->app;
    json_t *head = json_object(), *modules = json_array(), *menus = json_array(),
           *dicts = json_array();
    json_object_set_new(head, "version", json_string(MZ_VERSION));
    for (size_t i = 0; i < app->nmodules; i++) {
        const struct mz_module *m = app->modules[i];
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(m->name));
        json_object_set_new(x, "zh", mz_json_str(m->zh));
        json_object_set_new(x, "en", mz_json_str(m->en));
        json_array_append_new(modules, x);
        for (size_t k = 0; k < m->nmenus; k++) {
            const struct mz_menu *mn = &m->menus[k];
            if (mn->permission && !mz_req_may(req, mn->permission))
                continue;
            if (mn->entity) {
                char perm[96];
                snprintf(perm, sizeof(perm), "%s.read", mn->entity);
                if (!mz_req_may(req, perm))
                    continue;
            }
            json_t *y = json_object();
            json_object_set_new(y, "module", json_string(m->name));
            json_object_set_new(y, "key", json_string(mn->key));
            json_object_set_new(y, "zh", mz_json_str(mn->zh));
            json_object_set_new(y, "en", mz_json_str(mn->en));
            json_object_set_new(y, "entity", mz_json_str(mn->entity));
            json_object_set_new(y, "route", mz_json_str(mn->route));
            json_array_append_new(menus, y);
        }
    }
    json_object_set_new(head, "modules", modules);
    json_object_set_new(head, "menus", menus);
    for (size_t i = 0; i < app->ndicts; i++)
        json_array_append_new(dicts, dict_json(req, app->dicts[i]));

    size_t len;
    char *text = mz_json_dump(head, &len);
    json_decref(head);
    struct mz_buf b;
    mz_buf_init(&b, 0);
    mz_buf_append(&b, text, len - 1); /* without its closing brace */
    free(text);
    mz_buf_puts(&b, ",\"entities\":[");
    bool first = true;
    for (size_t i = 0; i < app->nentities; i++) {
        const struct mz_entity *e = app->entities[i];
        char perm[96];
        snprintf(perm, sizeof(perm), "%s.read", e->permission ? e->permission : e->name);
        if (!mz_req_may(req, perm))
            continue;
        if (!first)
            mz_buf_append(&b, ",", 1);
        first = false;
        mz_buf_puts(&b, app->rt[i].meta);
    }
    text = mz_json_dump(dicts, &len);
    json_decref(dicts);
    mz_buf_puts(&b, "],\"dictionaries\":");
    mz_buf_append(&b, text, len);
    free(text);
    mz_buf_append(&b, "}", 1);
    int status = mz_reply_json_text(req, 200, b.data, b.len);
    mz_buf_free(&b);
    return status;
}

/* --- OpenAPI -------------------------------------------------------------------- */

/* JSON Schema of one field. */
static json_t *field_schema(const struct mz_field *f)
{
    json_t *s = json_object();
    switch (f->type) {
    case MZ_T_INT:
    case MZ_T_MONEY:
    case MZ_T_REF:
        json_object_set_new(s, "type", json_string("integer"));
        json_object_set_new(s, "format", json_string("int64"));
        if (f->flags & MZ_F_HAS_MIN)
            json_object_set_new(s, "minimum", json_integer(f->min));
        if (f->flags & MZ_F_HAS_MAX)
            json_object_set_new(s, "maximum", json_integer(f->max));
        break;
    case MZ_T_BOOL:
        json_object_set_new(s, "type", json_string("boolean"));
        break;
    case MZ_T_JSON:
        break;
    case MZ_T_DATE:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "format", json_string("date"));
        break;
    case MZ_T_DATETIME:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "format", json_string("date-time"));
        break;
    default:
        json_object_set_new(s, "type", json_string("string"));
        if (f->type == MZ_T_TEXT) {
            if (f->flags & MZ_F_HAS_MIN)
                json_object_set_new(s, "minLength", json_integer(f->min));
            json_object_set_new(s, "maxLength", json_integer((f->flags & MZ_F_HAS_MAX)
                                                                 ? f->max
                                                                 : MZ_TEXT_MAX_DEFAULT));
            if (f->pattern)
                json_object_set_new(s, "pattern", json_string(f->pattern));
        } else {
            json_object_set_new(s, "x-mz-type", json_string(type_name(f->type)));
        }
        break;
    }
    json_object_set_new(s, "description", json_string(f->zh));
    if (f->flags & MZ_F_READONLY)
        json_object_set_new(s, "readOnly", json_true());
    json_object_set_new(s, "nullable", json_boolean(!(f->flags & MZ_F_REQUIRED)));
    return s;
}

/* Schema of an entity's row. */
static json_t *entity_schema(const struct mz_entity *e)
{
    json_t *s = json_object(), *props = json_object(), *req = json_array();
    json_object_set_new(s, "type", json_string("object"));
    json_object_set_new(s, "description", mz_json_str(e->zh));
    json_object_set_new(props, "id", json_pack("{s:s,s:s,s:b}", "type", "integer", "format", "int64",
                                               "readOnly", 1));
    json_object_set_new(props, "version", json_pack("{s:s,s:b}", "type", "integer", "readOnly", 1));
    if (e->workflow)
        json_object_set_new(props, "state", json_pack("{s:s,s:b}", "type", "string", "readOnly", 1));
    for (size_t i = 0; i < e->nfields; i++) {
        json_object_set_new(props, e->fields[i].name, field_schema(&e->fields[i]));
        if (e->fields[i].flags & MZ_F_REQUIRED)
            json_array_append_new(req, json_string(e->fields[i].name));
    }
    json_object_set_new(props, "created_at", json_pack("{s:s,s:s,s:b}", "type", "string", "format",
                                                       "date-time", "readOnly", 1));
    json_object_set_new(props, "updated_at", json_pack("{s:s,s:s,s:b}", "type", "string", "format",
                                                       "date-time", "readOnly", 1));
    json_object_set_new(s, "properties", props);
    json_object_set_new(s, "required", req);
    return s;
}

/* Convert "/api/v1/{entity}/{id}" for entity e into "/api/v1/persons/{id}". */
static char *expand_path(const char *pattern, const char *entity)
{
    struct mz_buf b;
    mz_buf_init(&b, 0);
    const char *p = pattern;
    const char *hit;
    while ((hit = strstr(p, "{entity}")) != NULL) {
        mz_buf_append(&b, p, (size_t)(hit - p));
        mz_buf_puts(&b, entity);
        p = hit + strlen("{entity}");
    }
    mz_buf_puts(&b, p);
    return mz_buf_steal(&b, NULL);
}

/* One operation object. */
static json_t *operation(const struct mz_route *r, const struct mz_entity *e)
{
    json_t *op = json_object(), *params = json_array(), *responses = json_object();
    const char *summary = r->summary ? r->summary : r->handler ? "" : "";
    json_object_set_new(op, "summary",
                        e ? json_sprintf("%s：%s", e->zh, summary) : json_string(summary));
    if (e)
        json_object_set_new(op, "tags", json_pack("[s]", e->name));
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (end == NULL)
            break;
        char name[32];
        size_t n = (size_t)(end - p - 1);
        if (n >= sizeof(name))
            continue;
        memcpy(name, p + 1, n);
        name[n] = '\0';
        if (strcmp(name, "entity") == 0)
            continue;
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", "path",
                                                "required", 1, "schema", "type",
                                                strcmp(name, "id") == 0 ? "integer" : "string"));
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    const char *ok = strcmp(r->method, "POST") == 0 && strcmp(r->pattern, "/api/v1/{entity}") == 0
                         ? "201"
                     : strcmp(r->method, "DELETE") == 0 ? "204"
                                                       : "200";
    json_t *resp = json_pack("{s:s}", "description", "成功");
    if (e && (strcmp(ok, "201") == 0 || strstr(r->pattern, "{id}") != NULL) &&
        strcmp(ok, "204") != 0 && strstr(r->pattern, "history") == NULL &&
        strstr(r->pattern, "transitions") == NULL && strstr(r->pattern, "attachments") == NULL) {
        char ref[128];
        snprintf(ref, sizeof(ref), "#/components/schemas/%s", e->name);
        json_object_set_new(resp, "content",
                            json_pack("{s:{s:{s:s}}}", "application/json", "schema", "$ref", ref));
    }
    json_object_set_new(responses, ok, resp);
    json_object_set_new(responses, "4XX",
                        json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "错误", "content",
                                  "application/json", "schema", "$ref",
                                  "#/components/schemas/Error"));
    json_object_set_new(op, "responses", responses);
    if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PATCH") == 0) {
        if ((r->flags & MZ_ROUTE_RAW_BODY) && strstr(r->pattern, "attachments"))
            json_object_set_new(op, "requestBody",
                                json_pack("{s:{s:{}}}", "content", "application/octet-stream"));
        else if (r->flags & MZ_ROUTE_RAW_BODY)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:{s:{},s:{}}}", "content", "text/csv",
                                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
        else if (e && strstr(r->pattern, "actions") == NULL) {
            char ref[128];
            snprintf(ref, sizeof(ref), "#/components/schemas/%s", e->name);
            json_object_set_new(op, "requestBody",
                                json_pack("{s:{s:{s:{s:s}}}}", "content", "application/json",
                                          "schema", "$ref", ref));
        }
    }
    return op;
}

json_t *mz_openapi_document(const struct mz_app *app)
{
    json_t *doc = json_object(), *paths = json_object(), *schemas = json_object();
    json_object_set_new(doc, "openapi", json_string("3.0.3"));
    json_object_set_new(doc, "info", json_pack("{s:s,s:s,s:s}", "title", "minzheng 民政综合业务平台 API",
                                               "version", MZ_VERSION, "description",
                                               "由实体声明生成；约定见 docs/api.md"));
    json_object_set_new(schemas, "Error",
                        json_pack("{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}}}", "type",
                                  "object", "properties", "error", "type", "object", "properties",
                                  "code", "type", "string", "message", "type", "string", "field",
                                  "type", "string"));
    size_t n = mz_router_count(app->router);
    for (size_t i = 0; i < n; i++) {
        const struct mz_route *r = mz_router_at(app->router, i);
        if (strstr(r->pattern, "{entity}") == NULL) {
            json_t *item = json_object_get(paths, r->pattern);
            if (item == NULL) {
                item = json_object();
                json_object_set_new(paths, r->pattern, item);
            }
            char method[16];
            size_t k = 0;
            for (; r->method[k] && k < sizeof(method) - 1; k++)
                method[k] = (char)(r->method[k] | 0x20);
            method[k] = '\0';
            json_object_set_new(item, method, operation(r, NULL));
            continue;
        }
        for (size_t j = 0; j < app->nentities; j++) {
            const struct mz_entity *e = app->entities[j];
            if (strstr(r->pattern, "actions") && e->workflow == NULL)
                continue;
            if (strstr(r->pattern, "/attachments") && !(e->flags & MZ_E_ATTACHMENTS))
                continue;
            char *path = expand_path(r->pattern, e->name);
            json_t *item = json_object_get(paths, path);
            if (item == NULL) {
                item = json_object();
                json_object_set_new(paths, path, item);
            }
            char method[16];
            size_t k = 0;
            for (; r->method[k] && k < sizeof(method) - 1; k++)
                method[k] = (char)(r->method[k] | 0x20);
            method[k] = '\0';
            json_object_set_new(item, method, operation(r, e));
            free(path);
        }
    }
    for (size_t j = 0; j < app->nentities; j++)
        json_object_set_new(schemas, app->entities[j]->name, entity_schema(app->entities[j]));
    json_object_set_new(doc, "paths", paths);
    json_object_set_new(doc, "components", json_pack("{s:o}", "schemas", schemas));
    return doc;
}

int mz_h_openapi(struct mz_req *req)
{
    return mz_reply_json(req, 200, mz_openapi_document(req->app));
}
