/* test_router.c - unit tests of src/core/router.c.
 *
 * The router is pure, so each test builds a small table of static routes and
 * matches paths against it: literal segments beating parameters (by count,
 * then position), parameter extraction into the request's arena, 405
 * detection, HEAD served by GET, the paths that never match (empty, "." and
 * ".." segments, trailing slash, relative), malformed and ambiguous patterns,
 * the Allow list, and a table of 200 routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mz/http.h"

/* A handler that is never called: routes only need a non-NULL one. */
static int dummy_handler(struct mz_req *req)
{
    (void)req;
    return 200;
}

/* The table most tests use; the comments name what each row is for. */
static const struct mz_route routes[] = {
    {"GET", "/api/v1/{entity}", dummy_handler, 0, NULL, 0, NULL, "list"},
    {"POST", "/api/v1/{entity}", dummy_handler, MZ_ROUTE_WRITE, NULL, 0, NULL, "create"},
    {"GET", "/api/v1/{entity}/{id}", dummy_handler, 0, NULL, 0, NULL, "get"},
    {"PATCH", "/api/v1/{entity}/{id}", dummy_handler, MZ_ROUTE_WRITE, NULL, 0, NULL, "update"},
    {"GET", "/api/v1/{entity}/export", dummy_handler, 0, NULL, 0, NULL, "export"},
    {"GET", "/api/v1/health", dummy_handler, MZ_ROUTE_PUBLIC, NULL, 0, NULL, "health"},
    {"GET", "/api/v1/{entity}/{id}/history", dummy_handler, 0, NULL, 0, NULL, "history"},
    {"POST", "/api/v1/{entity}/{id}/actions/{action}", dummy_handler, MZ_ROUTE_WRITE, NULL, 0, NULL,
     "action"},
    {"GET", "/api/v1/persons/{id}/history", dummy_handler, 0, NULL, 0, NULL, "person history"},
    {"GET", "/api/v1/{entity}/summary/{year}", dummy_handler, 0, NULL, 0, NULL, "late literal"},
    {"GET", "/api/v1/{entity}/{id}/2024", dummy_handler, 0, NULL, 0, NULL, "later literal"},
    {"GET", "/", dummy_handler, MZ_ROUTE_PUBLIC, NULL, 0, NULL, "root"},
};

/* Per-test state: a router loaded with routes[] and a request with an arena. */
struct fixture {
    struct mz_router *router; /* the table under test */
    struct mz_req req;        /* receives the parameters */
};

/* cmocka setup: build the router from routes[]. */
static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    f->router = mz_router_new();
    for (size_t i = 0; i < MZ_ARRAY_LEN(routes); i++)
        assert_int_equal(mz_router_add(f->router, &routes[i]), MZ_OK);
    f->req.arena = mz_arena_new();
    f->req.reply_fd = -1;
    *state = f;
    return 0;
}

/* cmocka teardown. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    mz_router_free(f->router);
    mz_arena_free(f->req.arena);
    test_free(f);
    return 0;
}

/* Match and return the route's summary, or NULL. */
static const char *match(struct fixture *f, const char *method, const char *path, bool *mismatch)
{
    const struct mz_route *r = mz_router_match(f->router, method, path, &f->req, mismatch);
    return r != NULL ? r->summary : NULL;
}

/* A literal segment beats a parameter in the same place. */
static void test_literal_beats_param(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(match(f, "GET", "/api/v1/persons/export", NULL), "export");
    assert_int_equal(f->req.nparams, 1);
    assert_string_equal(mz_req_param(&f->req, "entity"), "persons");
    assert_string_equal(match(f, "GET", "/api/v1/health", NULL), "health");
    assert_int_equal(f->req.nparams, 0);
    assert_string_equal(match(f, "GET", "/api/v1/persons/12", NULL), "get");
    /* More literals win regardless of table order. */
    assert_string_equal(match(f, "GET", "/api/v1/persons/7/history", NULL), "person history");
    assert_string_equal(match(f, "GET", "/api/v1/orgs/7/history", NULL), "history");
}

/* With equal literal counts, the earlier literal wins. */
static void test_earlier_literal_wins(void **state)
{
    struct fixture *f = *state;
    /* "/api/v1/{entity}/summary/{year}" vs "/api/v1/{entity}/{id}/2024". */
    assert_string_equal(match(f, "GET", "/api/v1/x/summary/2024", NULL), "late literal");
    assert_string_equal(match(f, "GET", "/api/v1/x/5/2024", NULL), "later literal");
    assert_string_equal(mz_req_param(&f->req, "id"), "5");
}

/* Parameters are extracted by name, in pattern order. */
static void test_params_extracted(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(match(f, "POST", "/api/v1/dibao_case/42/actions/approve", NULL), "action");
    assert_int_equal(f->req.nparams, 3);
    assert_string_equal(f->req.param_names[0], "entity");
    assert_string_equal(f->req.param_values[0], "dibao_case");
    assert_string_equal(mz_req_param(&f->req, "id"), "42");
    assert_string_equal(mz_req_param(&f->req, "action"), "approve");
    assert_null(mz_req_param(&f->req, "missing"));
    /* UTF-8 and odd characters pass through untouched. */
    assert_string_equal(match(f, "GET", "/api/v1/户籍/a b%", NULL), "get");
    assert_string_equal(mz_req_param(&f->req, "entity"), "户籍");
    assert_string_equal(mz_req_param(&f->req, "id"), "a b%");
}

/* A path that matches with another method is reported for 405. */
static void test_method_mismatch(void **state)
{
    struct fixture *f = *state;
    bool mismatch = false;
    assert_null(match(f, "DELETE", "/api/v1/persons/1", &mismatch));
    assert_true(mismatch);
    /* Only routes of the request's method compete: POST on the literal
     * "/api/v1/health" (GET only) falls to "POST /api/v1/{entity}". */
    assert_string_equal(match(f, "POST", "/api/v1/health", &mismatch), "create");
    assert_false(mismatch);
    assert_null(match(f, "PUT", "/api/v1/x/1/history", &mismatch));
    assert_true(mismatch);
    /* No path match at all: not a mismatch. */
    assert_null(match(f, "GET", "/api/v2/a/b/c/d/e", &mismatch));
    assert_false(mismatch);
    /* A match resets the flag. */
    assert_non_null(match(f, "GET", "/api/v1/health", &mismatch));
    assert_false(mismatch);
    assert_null(match(f, "get", "/api/v1/health", &mismatch)); /* methods are case-sensitive */
    assert_true(mismatch);
}

/* HEAD is served by GET routes. */
static void test_head_uses_get(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(match(f, "HEAD", "/api/v1/persons/3", NULL), "get");
    assert_string_equal(match(f, "HEAD", "/", NULL), "root");
}

/* Empty segments, "." and "..", trailing slashes and relative paths never match. */
static void test_bad_paths_never_match(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "/api/v1/persons/",  "/api/v1//persons",     "//api/v1/health",
        "/api/v1/./health",  "/api/v1/../v1/health", "/api/v1/persons/..",
        "/api/v1/persons/.", "api/v1/health",        "",
        "/api/v1/health/",   "/api/v1/persons//1",   "/api/v1/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        bool mismatch = true;
        if (match(f, "GET", bad[i], &mismatch) != NULL)
            fail_msg("path \"%s\" matched", bad[i]);
        assert_false(mismatch);
    }
    assert_null(mz_router_match(f->router, "GET", NULL, &f->req, NULL));
    /* "..." and ".x" are ordinary segment text. */
    assert_string_equal(match(f, "GET", "/api/v1/.../.x", NULL), "get");
}

/* Malformed patterns and ambiguous routes are refused at add time. */
static void test_add_rejects(void **state)
{
    static const struct mz_route bad[] = {
        {"GET", "api/v1/x", dummy_handler, 0, NULL, 0, NULL, "relative"},
        {"GET", "/api//x", dummy_handler, 0, NULL, 0, NULL, "empty segment"},
        {"GET", "/api/x/", dummy_handler, 0, NULL, 0, NULL, "trailing slash"},
        {"GET", "/api/{}", dummy_handler, 0, NULL, 0, NULL, "empty name"},
        {"GET", "/api/{a}b", dummy_handler, 0, NULL, 0, NULL, "partial segment"},
        {"GET", "/api/{a{b}", dummy_handler, 0, NULL, 0, NULL, "nested brace"},
        {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}", dummy_handler, 0, NULL, 0, NULL, "7 params"},
        {"GET", NULL, dummy_handler, 0, NULL, 0, NULL, "no pattern"},
        {NULL, "/x", dummy_handler, 0, NULL, 0, NULL, "no method"},
        {"GET", "/x", NULL, 0, NULL, 0, NULL, "no handler"},
    };
    static const struct mz_route six = {
        "GET", "/{a}/{b}/{c}/{d}/{e}/{f}", dummy_handler, 0, NULL, 0, NULL, "6 params"};
    static const struct mz_route dup = {"GET", "/api/v1/{other}/{name}", dummy_handler, 0, NULL, 0,
                                        NULL,  "same shape as get"};
    static const struct mz_route other_method = {
        "DELETE", "/api/v1/{e}/{i}", dummy_handler, 0, NULL, 0, NULL, "delete"};
    struct fixture *f = *state;
    size_t before = mz_router_count(f->router);

    mz_log_set_level(MZ_LOG_ERROR + 1); /* the refusals are logged; keep the output clean */
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        if (mz_router_add(f->router, &bad[i]) != MZ_ERR_INVALID)
            fail_msg("pattern \"%s\" was accepted", bad[i].summary);
    }
    assert_int_equal(mz_router_add(f->router, &dup), MZ_ERR_CONFLICT);
    mz_log_set_level(MZ_LOG_INFO);
    assert_int_equal(mz_router_count(f->router), before);
    assert_int_equal(mz_router_add(f->router, &six), MZ_OK);
    assert_int_equal(mz_router_add(f->router, &other_method), MZ_OK);
    assert_string_equal(match(f, "GET", "/1/2/3/4/5/6", NULL), "6 params");
    assert_int_equal(f->req.nparams, 6);
    assert_string_equal(mz_req_param(&f->req, "f"), "6");
    assert_string_equal(match(f, "DELETE", "/api/v1/x/1", NULL), "delete");
    assert_string_equal(mz_req_param(&f->req, "i"), "1");
}

/* The Allow list names every method whose pattern matches the path. */
static void test_allow(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(mz_router_allow(f->router, "/api/v1/persons/1", f->req.arena),
                        "GET, HEAD, PATCH, OPTIONS");
    assert_string_equal(mz_router_allow(f->router, "/api/v1/persons", f->req.arena),
                        "GET, HEAD, POST, OPTIONS");
    assert_null(mz_router_allow(f->router, "/nothing/here", f->req.arena));
    assert_null(mz_router_allow(f->router, "/api/v1/../x", f->req.arena));
}

/* Iteration returns the routes in insertion order. */
static void test_iterate(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mz_router_count(f->router), MZ_ARRAY_LEN(routes));
    for (size_t i = 0; i < MZ_ARRAY_LEN(routes); i++)
        assert_ptr_equal(mz_router_at(f->router, i), &routes[i]);
    assert_null(mz_router_at(f->router, MZ_ARRAY_LEN(routes)));
}

/* 600 routes with distinct literal third segments (more than the router's
 * 256 chains, so chains are shared) all match their own paths, and routes
 * with a parameter there still compete with them. */
static void test_600_routes(void **state)
{
    enum { N = 600 };
    static const struct mz_route generic = {
        "GET", "/api/v1/{entity}/{id}/history", dummy_handler, 0, NULL, 0, NULL, "generic history"};
    static const struct mz_route keyed = {
        "GET", "/api/v1/entity5/{id}/history", dummy_handler, 0, NULL, 0, NULL, "entity5 history"};
    static struct mz_route many[N];
    static char patterns[N][48];
    static char summaries[N][16];
    struct mz_router *router = mz_router_new();
    struct mz_req req = {.arena = mz_arena_new(), .reply_fd = -1};
    char path[64];

    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(patterns[i], sizeof(patterns[i]), "/api/v1/entity%d/{id}", i);
        snprintf(summaries[i], sizeof(summaries[i]), "r%d", i);
        many[i] = (struct mz_route){
            i % 2 ? "POST" : "GET", patterns[i], dummy_handler, 0, NULL, 0, NULL, summaries[i]};
        assert_int_equal(mz_router_add(router, &many[i]), MZ_OK);
    }
    assert_int_equal(mz_router_add(router, &generic), MZ_OK);
    assert_int_equal(mz_router_add(router, &keyed), MZ_OK);
    assert_ptr_equal(mz_router_match(router, "GET", "/api/v1/entity5/3/history", &req, NULL),
                     &keyed);
    assert_ptr_equal(mz_router_match(router, "GET", "/api/v1/entity6/3/history", &req, NULL),
                     &generic);
    assert_string_equal(mz_req_param(&req, "entity"), "entity6");
    {
        bool mismatch = true;
        assert_null(mz_router_match(router, "GET", "/api/v1/nothing/3", &req, &mismatch));
        assert_false(mismatch);
    }
    for (int i = 0; i < N; i++) {
        bool mismatch = false;
        const struct mz_route *r;
        snprintf(path, sizeof(path), "/api/v1/entity%d/%d", i, i * 7);
        r = mz_router_match(router, i % 2 ? "POST" : "GET", path, &req, &mismatch);
        assert_ptr_equal(r, &many[i]);
        assert_int_equal(atoi(mz_req_param(&req, "id")), i * 7);
        assert_null(mz_router_match(router, "DELETE", path, &req, &mismatch));
        assert_true(mismatch);
    }
    mz_router_free(router);
    mz_arena_free(req.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_beats_param, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_literal_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_extracted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_uses_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths_never_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterate, setup, teardown),
        cmocka_unit_test(test_600_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
