/* test_request.c - unit tests of src/core/request.c and src/core/mime.c.
 *
 * Handlers' helpers driven without a server (req.conn == NULL, so header and
 * query lookups find nothing): the first failure is kept, with its field or
 * extra members; mz_fail_err's mapping; replies replacing each other; header
 * injection refused; mz_url_decode's accepted and refused escapes; and the
 * content types by extension.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mz/http.h"
#include "mz/json.h"

/* A request as the dispatcher would hand it to a handler, minus the server. */
static int setup(void **state)
{
    struct mz_req *req = test_calloc(1, sizeof(*req));
    req->arena = mz_arena_new();
    req->reply_fd = -1;
    req->request_id = "0123456789abcdef";
    req->method = "GET";
    req->path = "/api/v1/test";
    *state = req;
    return 0;
}

/* Release what the dispatcher would release in on_completed. */
static int teardown(void **state)
{
    struct mz_req *req = *state;
    json_decref(req->json);
    json_decref(req->reply_json);
    json_decref(req->error);
    if (req->reply_fd >= 0)
        close(req->reply_fd);
    mz_arena_free(req->arena);
    test_free(req);
    return 0;
}

/* The error object rendered as compact JSON (caller frees). */
static char *error_text(const struct mz_req *req)
{
    return mz_json_dump(req->error, NULL);
}

/* mz_fail records the first failure only. */
static void test_fail_keeps_first(void **state)
{
    struct mz_req *req = *state;
    char *text;
    assert_int_equal(mz_fail(req, 404, "not_found", "记录不存在"), 404);
    assert_true(req->failed);
    assert_int_equal(mz_fail(req, 500, "internal", "系统内部错误"), 404);
    assert_int_equal(mz_fail_field(req, 422, "x", "y", "name"), 404);
    assert_int_equal(mz_fail_with(req, 409, "c", "m", json_pack("{si}", "n", 1)), 404);
    assert_int_equal(req->status, 404);
    text = error_text(req);
    assert_string_equal(text, "{\"code\":\"not_found\",\"message\":\"记录不存在\"}");
    free(text);
}

/* mz_fail_field names the field. */
static void test_fail_field(void **state)
{
    struct mz_req *req = *state;
    char *text;
    assert_int_equal(mz_fail_field(req, 409, "duplicate", "该值已被使用", "id_number"), 409);
    text = error_text(req);
    assert_string_equal(
        text, "{\"code\":\"duplicate\",\"message\":\"该值已被使用\",\"field\":\"id_number\"}");
    free(text);
}

/* mz_fail_with merges extra members but never overrides code or message. */
static void test_fail_with_extra(void **state)
{
    struct mz_req *req = *state;
    json_t *extra = json_pack("{s[ss]si}", "allowed", "approve", "reject", "current_version", 3);
    char *text;
    json_object_set_new(extra, "code", json_string("overridden"));
    assert_int_equal(mz_fail_with(req, 409, "illegal_transition", "不允许", extra), 409);
    assert_string_equal(json_string_value(json_object_get(req->error, "code")),
                        "illegal_transition");
    text = error_text(req);
    assert_non_null(strstr(text, "\"allowed\":[\"approve\",\"reject\"]"));
    assert_non_null(strstr(text, "\"current_version\":3"));
    free(text);
}

/* mz_fail_err maps every mz_err to its status and code. */
static void test_fail_err_mapping(void **state)
{
    static const struct {
        int err;
        int status;
        const char *code;
    } cases[] = {
        {MZ_ERR_NOTFOUND, 404, "not_found"},  {MZ_ERR_CONFLICT, 409, "conflict"},
        {MZ_ERR_INVALID, 400, "bad_request"}, {MZ_ERR_TOOBIG, 413, "body_too_large"},
        {MZ_ERR_FORBIDDEN, 403, "forbidden"}, {MZ_ERR_BUSY, 503, "busy"},
        {MZ_ERR_DB, 500, "internal"},         {MZ_ERR_IO, 500, "internal"},
        {MZ_ERR_CONSTRAINT, 500, "internal"}, {MZ_ERR_INTERNAL, 500, "internal"},
        {MZ_ERR_NOMEM, 500, "internal"},      {-999, 500, "internal"},
    };
    (void)state;
    mz_log_set_level(MZ_LOG_ERROR + 1);
    for (size_t i = 0; i < MZ_ARRAY_LEN(cases); i++) {
        struct mz_req req = {.arena = mz_arena_new(), .reply_fd = -1};
        assert_int_equal(mz_fail_err(&req, cases[i].err), cases[i].status);
        assert_string_equal(json_string_value(json_object_get(req.error, "code")), cases[i].code);
        if (cases[i].err == MZ_ERR_BUSY)
            assert_string_equal(json_string_value(json_object_get(req.error, "message")),
                                "系统繁忙，请稍后重试");
        if (cases[i].status == 500)
            assert_string_equal(json_string_value(json_object_get(req.error, "message")),
                                "系统内部错误");
        if (cases[i].err == MZ_ERR_NOTFOUND)
            assert_string_equal(json_string_value(json_object_get(req.error, "message")),
                                "记录不存在");
        json_decref(req.error);
        mz_arena_free(req.arena);
    }
    mz_log_set_level(MZ_LOG_INFO);
}

/* Replies replace each other; after a failure they are ignored. */
static void test_replies(void **state)
{
    struct mz_req *req = *state;
    char data[] = "a,b\n";
    assert_int_equal(mz_reply_json(req, 200, json_pack("{si}", "a", 1)), 200);
    assert_non_null(req->reply_json);
    assert_string_equal(req->content_type, "application/json; charset=utf-8");
    assert_int_equal(mz_reply_bytes(req, 201, "text/csv; charset=utf-8", data, 4), 201);
    assert_null(req->reply_json); /* released */
    data[0] = 'X';                /* the reply is a copy */
    assert_memory_equal(req->reply_body, "a,b\n", 4);
    assert_int_equal(req->reply_len, 4);
    assert_int_equal(mz_reply_bytes(req, 200, NULL, "", 0), 200);
    assert_string_equal(req->content_type, "application/octet-stream");
    mz_log_set_level(MZ_LOG_ERROR + 1);
    assert_int_equal(mz_reply_json(req, 200, NULL), 500); /* NULL body is a bug */
    mz_log_set_level(MZ_LOG_INFO);
    assert_true(req->failed);
    assert_int_equal(mz_reply_json(req, 200, json_object()), 500); /* ignored, not leaked */
    assert_null(req->reply_json);
}

/* A 204 may carry no body at all. */
static void test_reply_no_body(void **state)
{
    struct mz_req *req = *state;
    assert_int_equal(mz_reply_json(req, 204, NULL), 204);
    assert_false(req->failed);
}

/* mz_reply_file takes the fd and adds an RFC 8187 Content-Disposition. */
static void test_reply_file(void **state)
{
    struct mz_req *req = *state;
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd > 0);
    assert_int_equal(mz_reply_file(req, 200, "text/csv", fd, "低保 \"名单\".csv"), 200);
    assert_int_equal(req->reply_fd, fd);
    assert_int_equal(req->nextra_headers, 1);
    assert_string_equal(req->extra_headers[0].name, "Content-Disposition");
    assert_string_equal(req->extra_headers[0].value,
                        "attachment; filename=\"__ ____.csv\"; "
                        "filename*=UTF-8''%E4%BD%8E%E4%BF%9D%20%22%E5%90%8D%E5%8D%95%22.csv");
}

/* Headers are copied, replaced by name, capped at eight, and never carry CR/LF. */
static void test_headers(void **state)
{
    struct mz_req *req = *state;
    char name[16];
    char value[] = "v1";
    mz_req_add_header(req, "X-A", value);
    value[1] = '2';
    assert_string_equal(req->extra_headers[0].value, "v1");
    mz_req_add_header(req, "x-a", "v3");
    assert_int_equal(req->nextra_headers, 1);
    assert_string_equal(req->extra_headers[0].value, "v3");
    mz_log_set_level(MZ_LOG_ERROR + 1);
    mz_req_add_header(req, "X-B", "a\r\nSet-Cookie: x=1");
    mz_req_add_header(req, "X-C\r\nX-D", "v");
    mz_req_add_header(req, "Bad Name", "v");
    assert_int_equal(req->nextra_headers, 1);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "X-N%d", i);
        mz_req_add_header(req, name, "v");
    }
    mz_log_set_level(MZ_LOG_INFO);
    assert_int_equal(req->nextra_headers, 8);
}

/* Without a connection the lookups find nothing; params come from the router. */
static void test_inputs_without_conn(void **state)
{
    struct mz_req *req = *state;
    assert_null(mz_req_query(req, "a"));
    assert_null(mz_req_header(req, "Content-Type"));
    assert_int_equal(mz_req_query_each(req, NULL, NULL), 0);
    req->param_names[0] = "id";
    req->param_values[0] = "7";
    req->nparams = 1;
    assert_string_equal(mz_req_param(req, "id"), "7");
    assert_null(mz_req_param(req, "ID"));
}

/* mz_req_object_or_fail accepts objects only. */
static void test_object_or_fail(void **state)
{
    struct mz_req *req = *state;
    assert_null(mz_req_object_or_fail(req)); /* no body */
    assert_int_equal(req->status, 400);
    assert_string_equal(json_string_value(json_object_get(req->error, "code")), "bad_json");
    assert_string_equal(json_string_value(json_object_get(req->error, "message")),
                        "请求体为空，应为 JSON 对象");
    json_decref(req->error);
    req->error = NULL;
    req->failed = false;
    req->json = json_array();
    assert_null(mz_req_object_or_fail(req));
    json_decref(req->error);
    req->error = NULL;
    req->failed = false;
    json_decref(req->json);
    req->json = json_object();
    assert_ptr_equal(mz_req_object_or_fail(req), req->json);
    assert_false(req->failed);
}

/* Decode s in a copy; returns the result or NULL when refused. */
static const char *decode(const char *s, bool plus, char *out, size_t size)
{
    snprintf(out, size, "%s", s);
    return mz_url_decode(out, plus) ? out : NULL;
}

/* mz_url_decode: escapes, '+', and what is refused. */
static void test_url_decode(void **state)
{
    char out[64];
    (void)state;
    assert_string_equal(decode("/api/v1/x", false, out, sizeof(out)), "/api/v1/x");
    assert_string_equal(decode("%E6%B0%91%e6%94%bf", false, out, sizeof(out)), "民政");
    assert_string_equal(decode("a+b%20c", true, out, sizeof(out)), "a b c");
    assert_string_equal(decode("a+b", false, out, sizeof(out)), "a+b");
    assert_string_equal(decode("%2B%25", true, out, sizeof(out)), "+%");
    assert_string_equal(decode("%2e%2E%2f", false, out, sizeof(out)), "../");
    assert_string_equal(decode("", false, out, sizeof(out)), "");
    assert_null(decode("%", false, out, sizeof(out)));
    assert_null(decode("%4", false, out, sizeof(out)));
    assert_null(decode("abc%zz", false, out, sizeof(out)));
    assert_null(decode("%g0", false, out, sizeof(out)));
    assert_null(decode("%00", false, out, sizeof(out)));
    assert_null(decode("a%00b", true, out, sizeof(out)));
    assert_string_equal(decode("%01", false, out, sizeof(out)), "\x01"); /* callers refuse more */
}

/* Content types by extension, case-insensitive, text with a charset. */
static void test_mime_type(void **state)
{
    (void)state;
    assert_string_equal(mz_mime_type("/index.html"), "text/html; charset=utf-8");
    assert_string_equal(mz_mime_type("/assets/app-1a2b.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(mz_mime_type("a.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(mz_mime_type("a.css"), "text/css; charset=utf-8");
    assert_string_equal(mz_mime_type("a.json"), "application/json; charset=utf-8");
    assert_string_equal(mz_mime_type("a.js.map"), "application/json; charset=utf-8");
    assert_string_equal(mz_mime_type("logo.svg"), "image/svg+xml; charset=utf-8");
    assert_string_equal(mz_mime_type("a.png"), "image/png");
    assert_string_equal(mz_mime_type("a.jpg"), "image/jpeg");
    assert_string_equal(mz_mime_type("a.jpeg"), "image/jpeg");
    assert_string_equal(mz_mime_type("a.gif"), "image/gif");
    assert_string_equal(mz_mime_type("a.webp"), "image/webp");
    assert_string_equal(mz_mime_type("favicon.ico"), "image/x-icon");
    assert_string_equal(mz_mime_type("a.woff"), "font/woff");
    assert_string_equal(mz_mime_type("a.woff2"), "font/woff2");
    assert_string_equal(mz_mime_type("a.ttf"), "font/ttf");
    assert_string_equal(mz_mime_type("a.txt"), "text/plain; charset=utf-8");
    assert_string_equal(mz_mime_type("a.pdf"), "application/pdf");
    assert_string_equal(mz_mime_type("a.csv"), "text/csv; charset=utf-8");
    assert_string_equal(mz_mime_type("a.xlsx"),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_string_equal(mz_mime_type("a.exe"), "application/octet-stream");
    assert_string_equal(mz_mime_type("Makefile"), "application/octet-stream");
    assert_string_equal(mz_mime_type("dir.html/file"), "application/octet-stream");
    assert_string_equal(mz_mime_type("trailing."), "application/octet-stream");
    assert_string_equal(mz_mime_type(NULL), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fail_keeps_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_with_extra, setup, teardown),
        cmocka_unit_test(test_fail_err_mapping),
        cmocka_unit_test_setup_teardown(test_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inputs_without_conn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_or_fail, setup, teardown),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_mime_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
