/* request.c - what a handler calls: failures, replies and inputs.
 *
 * A handler records its outcome in struct mz_req and returns the status; it
 * never builds an HTTP response itself. mz_fail() and friends keep only the
 * first failure (later ones are usually consequences of it), and the
 * dispatcher in server.c renders {"error": req->error}, rolls back the
 * transaction and releases every jansson value attached here. Replies and
 * failures take their memory from req->arena or are jansson values the
 * dispatcher frees, so a handler never frees anything.
 *
 * The only libmicrohttpd calls are the header/query lookups on req->conn;
 * with conn == NULL (unit tests, tests/unit/test_request.c) they find
 * nothing, so every other function can be driven without a server.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mz/http.h"
#include "mz/json.h"

/* Content type of every JSON reply and error. */
#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

/* Record a failure with an optional field and extra members; the first one
 * wins, later calls only return the recorded status. Steals extra. */
static int fail_common(struct mz_req *req, int status, const char *code, const char *message,
                       const char *field, json_t *extra)
{
    json_t *error;

    if (req->failed) {
        json_decref(extra);
        return req->status;
    }
    error = json_object();
    json_object_set_new(error, "code", mz_json_str(code));
    json_object_set_new(error, "message", mz_json_str(message));
    if (field != NULL)
        json_object_set_new(error, "field", mz_json_str(field));
    if (json_is_object(extra))
        json_object_update_missing(error, extra);
    json_decref(extra);
    req->failed = true;
    req->status = status;
    req->error = error;
    req->content_type = JSON_CONTENT_TYPE;
    return status;
}

/* Record a failure (only the first is kept) and return its status. */
int mz_fail(struct mz_req *req, int status, const char *code, const char *message)
{
    return fail_common(req, status, code, message, NULL, NULL);
}

/* As mz_fail, naming the one field at fault. */
int mz_fail_field(struct mz_req *req, int status, const char *code, const char *message,
                  const char *field)
{
    return fail_common(req, status, code, message, field, NULL);
}

/* As mz_fail, merging the members of extra (an object; stolen) into the error
 * object without overriding code, message or field. */
int mz_fail_with(struct mz_req *req, int status, const char *code, const char *message,
                 json_t *extra)
{
    return fail_common(req, status, code, message, NULL, extra);
}

/* Map an mz_err from a lower layer to a status with a generic Chinese message;
 * the details stay in the log, never in the response. */
int mz_fail_err(struct mz_req *req, int err)
{
    switch (err) {
    case MZ_ERR_NOTFOUND:
        return mz_fail(req, 404, "not_found", "记录不存在");
    case MZ_ERR_CONFLICT:
        return mz_fail(req, 409, "conflict", "数据冲突，请刷新后重试");
    case MZ_ERR_INVALID:
        return mz_fail(req, 400, "bad_request", "请求无效");
    case MZ_ERR_TOOBIG:
        return mz_fail(req, 413, "body_too_large", "请求内容过大");
    case MZ_ERR_FORBIDDEN:
        return mz_fail(req, 403, "forbidden", "没有权限执行此操作");
    case MZ_ERR_BUSY:
        mz_warn("request %s: database busy", req->request_id ? req->request_id : "-");
        return mz_fail(req, 503, "busy", "系统繁忙，请稍后重试");
    default:
        mz_error("request %s: %s %s failed: %s", req->request_id ? req->request_id : "-",
                 req->method ? req->method : "-", req->path ? req->path : "-", mz_err_name(err));
        return mz_fail(req, 500, "internal", "系统内部错误");
    }
}

/* Forget a reply set earlier (a handler may replace its reply). */
static void drop_reply(struct mz_req *req)
{
    json_decref(req->reply_json);
    req->reply_json = NULL;
    req->reply_body = NULL;
    req->reply_len = 0;
    /* fd 0 is stdin, never a reply: a zero-initialised request in a test
     * must not close it. */
    if (req->reply_fd > 0)
        close(req->reply_fd);
    req->reply_fd = -1;
}

/* Reply with a JSON value (stolen). A NULL body means no body and is only
 * valid with 204 or 304; otherwise it is a bug and becomes a 500. Ignored
 * (body released) once the request has failed. */
int mz_reply_json(struct mz_req *req, int status, json_t *body)
{
    if (req->failed) {
        json_decref(body);
        return req->status;
    }
    if (body == NULL && status != 204 && status != 304)
        return mz_fail_err(req, MZ_ERR_INTERNAL);
    drop_reply(req);
    req->status = status;
    req->reply_json = body;
    req->content_type = JSON_CONTENT_TYPE;
    return status;
}

/* Reply with bytes, copied into the arena (data may live anywhere). */
int mz_reply_bytes(struct mz_req *req, int status, const char *content_type, const char *data,
                   size_t len)
{
    char *copy;

    if (req->failed)
        return req->status;
    drop_reply(req);
    copy = mz_arena_alloc(req->arena, len + 1);
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    req->status = status;
    req->reply_body = copy;
    req->reply_len = len;
    req->content_type = content_type != NULL ? content_type : "application/octet-stream";
    return status;
}

int mz_reply_json_text(struct mz_req *req, int status, const char *text, size_t len)
{
    return mz_reply_bytes(req, status, JSON_CONTENT_TYPE, text, len);
}

/* Append s to the buffer as an RFC 8187 value (UTF-8, percent-encoded). */
static void append_ext_value(struct mz_buf *buf, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p) != NULL) {
            mz_buf_append(buf, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mz_buf_append(buf, esc, 3);
        }
    }
}

/* Content-Disposition for a download: an ASCII fallback name (other
 * characters as '_') and the exact UTF-8 name in filename*. */
static const char *content_disposition(struct mz_req *req, const char *name)
{
    struct mz_buf buf;
    const char *out;

    mz_buf_init(&buf, 4096);
    mz_buf_puts(&buf, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        char c = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') ? (char)*p : '_';
        if ((*p & 0xc0) == 0x80)
            continue; /* one '_' per UTF-8 character, not per byte */
        mz_buf_append(&buf, &c, 1);
    }
    mz_buf_puts(&buf, "\"; filename*=UTF-8''");
    append_ext_value(&buf, name);
    out = mz_arena_strndup(req->arena, buf.data, buf.len);
    mz_buf_free(&buf);
    return out;
}

/* Reply with a file the server streams and closes; download_name (may be NULL)
 * adds Content-Disposition: attachment. */
int mz_reply_file(struct mz_req *req, int status, const char *content_type, int fd,
                  const char *download_name)
{
    if (req->failed) {
        close(fd);
        return req->status;
    }
    drop_reply(req);
    req->status = status;
    req->reply_fd = fd;
    req->content_type = content_type != NULL ? content_type : "application/octet-stream";
    if (download_name != NULL)
        mz_req_add_header(req, "Content-Disposition", content_disposition(req, download_name));
    return status;
}

/* Add a response header (copied into the arena). Dropped with a log line when
 * the name or value holds a control character (header injection) or the
 * eight slots are full; both are bugs in the caller. */
void mz_req_add_header(struct mz_req *req, const char *name, const char *value)
{
    int i;

    for (const char *p = name; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == ':' || *p == 0x7f)
            goto bad;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            goto bad;
    }
    /* A header set twice keeps the last value. */
    for (i = 0; i < req->nextra_headers; i++) {
        if (strcasecmp(req->extra_headers[i].name, name) == 0)
            break;
    }
    if (i == (int)MZ_ARRAY_LEN(req->extra_headers)) {
        mz_error("request %s: too many response headers, dropped %s",
                 req->request_id ? req->request_id : "-", name);
        return;
    }
    req->extra_headers[i].name = mz_arena_strdup(req->arena, name);
    req->extra_headers[i].value = mz_arena_strdup(req->arena, value);
    if (i == req->nextra_headers)
        req->nextra_headers++;
    return;
bad:
    mz_error("request %s: response header with a control character dropped",
             req->request_id ? req->request_id : "-");
}

/* A path parameter by name ("id" for "{id}"), or NULL. */
const char *mz_req_param(const struct mz_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++) {
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    }
    return NULL;
}

/* A query argument (decoded by libmicrohttpd), or NULL; "" for "?a". */
const char *mz_req_query(const struct mz_req *req, const char *name)
{
    const char *v;

    if (req->query_pairs != NULL) {
        for (int i = 0; i < req->nquery_pairs; i++) {
            if (strcmp(req->query_pairs[2 * i], name) == 0)
                return req->query_pairs[2 * i + 1];
        }
        return NULL;
    }
    if (req->conn == NULL)
        return NULL;
    v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL && MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name,
                                                   strlen(name), NULL, NULL) == MHD_YES)
        return "";
    return v;
}

/* A request header (case-insensitive name), or NULL. */
const char *mz_req_header(const struct mz_req *req, const char *name)
{
    if (req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* State passed through MHD_get_connection_values to query_iterator. */
struct query_walk {
    int (*fn)(void *ctx, const char *key, const char *value); /* the caller's callback */
    void *ctx;                                                /* the caller's context */
    int result;                                               /* fn's first non-zero result */
};

/* MHD iterator adapter: call the user's function, stop when it says so. */
static enum MHD_Result query_iterator(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct query_walk *walk = cls;

    (void)kind;
    walk->result = walk->fn(walk->ctx, key, value != NULL ? value : "");
    return walk->result == 0 ? MHD_YES : MHD_NO;
}

/* Call fn for each query argument in order; returns fn's first non-zero
 * result, or 0. */
int mz_req_query_each(const struct mz_req *req,
                      int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    struct query_walk walk = {fn, ctx, 0};

    if (req->query_pairs != NULL) {
        for (int i = 0; i < req->nquery_pairs && walk.result == 0; i++)
            walk.result = fn(ctx, req->query_pairs[2 * i], req->query_pairs[2 * i + 1]);
        return walk.result;
    }
    if (req->conn == NULL)
        return 0;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_iterator, &walk);
    return walk.result;
}

/* The parsed body as an object, or fail 400 and return NULL. */
json_t *mz_req_object_or_fail(struct mz_req *req)
{
    if (json_is_object(req->json))
        return req->json;
    if (req->json == NULL && req->body_len == 0)
        mz_fail(req, 400, "bad_json", "请求体为空，应为 JSON 对象");
    else
        mz_fail(req, 400, "bad_request", "请求体应为 JSON 对象");
    return NULL;
}
