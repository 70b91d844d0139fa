/* http.h - requests, routes and the server.
 *
 * The server (src/core/server.c, on libmicrohttpd) accumulates a request's
 * body up to the route's cap (413 beyond it, before parsing), matches the
 * route table, authenticates, checks the route's permission, opens a write
 * transaction for MZ_ROUTE_WRITE routes, calls the handler and renders its
 * reply. A handler is a few straight lines: on failure it calls mz_fail(),
 * which records the first error; the dispatcher renders the error body of the
 * contract and rolls the transaction back. Handlers never free: every
 * allocation comes from req->arena, jansson values attached with
 * mz_reply_json() are released by the dispatcher.
 */
#ifndef MZ_HTTP_H
#define MZ_HTTP_H

#include <jansson.h>
#include "mz/base.h"

struct mz_db;
struct mz_app;
struct mz_user;
struct mz_req;

typedef int (*mz_handler)(struct mz_req *req);

/* Route flags. */
enum {
    MZ_ROUTE_PUBLIC = 1 << 0, /* no authentication needed */
    MZ_ROUTE_WRITE = 1 << 1,  /* state-changing: one write transaction, CSRF checked */
    MZ_ROUTE_RAW_BODY = 1 << 2, /* body is not JSON (uploads): not parsed */
    /* With MZ_ROUTE_RAW_BODY: the body is written to a temporary file as it
     * arrives (req->body_file) instead of being kept in memory; req->body
     * holds only its first MZ_SPOOL_PREFIX bytes (for sniffing the format). */
    MZ_ROUTE_SPOOL = 1 << 3,
    MZ_ROUTE_BODY_RULE = 1 << 4, /* data is a struct mz_body_rule (below) */
};

#define MZ_BODY_LIMIT_DEFAULT (1024 * 1024)       /* 1 MiB for JSON bodies */
#define MZ_BODY_LIMIT_UPLOAD (64 * 1024 * 1024)   /* 64 MiB for uploads kept in memory */
#define MZ_BODY_LIMIT_SPOOL ((size_t)1024 * 1024 * 1024) /* 1 GiB for spooled imports */
#define MZ_SPOOL_PREFIX 4096
#define MZ_MAX_PATH_PARAMS 6

struct mz_route {
    const char *method;      /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern;     /* "/api/v1/{entity}/{id}": {name} matches one segment */
    mz_handler handler;
    unsigned flags;
    const char *permission;  /* checked by the dispatcher; NULL: any authenticated user */
    size_t body_limit;       /* 0: MZ_BODY_LIMIT_DEFAULT */
    const void *data;        /* handler's own (e.g. the entity) */
    const char *summary;     /* one line for OpenAPI */
};

/* With MZ_ROUTE_BODY_RULE a route's data points to one of these (the handler
 * then has no data of its own): the route's cap, read per request (it may come
 * from the configuration) and used instead of body_limit, and its answer to a
 * body over the cap, given at once from Content-Length (or when the counted
 * bytes pass it) instead of the generic 413 body_too_large, so a too large
 * body is never stored. */
struct mz_body_rule {
    size_t (*cap)(void);
    mz_handler too_large;
};

struct mz_header {
    const char *name;
    const char *value;
};

struct mz_req {
    struct mz_app *app;
    struct mz_arena *arena;      /* freed once when the request ends */
    struct mz_db *db;            /* this worker thread's connection */
    const struct mz_route *route;
    void *conn;                  /* struct MHD_Connection * */

    const char *method;
    const char *path;            /* decoded path without the query */
    const char *client_ip;
    const char *request_id;      /* 16 hex chars, also in the access log */
    const char *param_names[MZ_MAX_PATH_PARAMS];
    const char *param_values[MZ_MAX_PATH_PARAMS];
    int nparams;

    const char *body;            /* NUL-terminated copy of the body (may contain NULs) */
    size_t body_len;             /* bytes in body */
    const char *body_file;       /* MZ_ROUTE_SPOOL: the whole body, removed when the request
                                    ends (NULL when the body was empty) */
    size_t body_total;           /* MZ_ROUTE_SPOOL: bytes in body_file */
    json_t *json;                /* parsed body for JSON routes (object or array) */

    /* Query arguments taken from elsewhere than the URL: when query_pairs is
     * set, mz_req_query and mz_req_query_each read these nquery_pairs
     * key/value pairs (key, value, key, value, ...) instead (POST
     * /api/v1/counts runs each count's filter through the list code). */
    const char *const *query_pairs;
    int nquery_pairs;

    bool importing;              /* rows of a mode=all import without per-row savepoints
                                    (src/engine/io.c): see mz_hooks.import_done */
    const struct mz_import_pre *import_pre; /* during an import's row: what the import's
                                    helper thread prepared for it (mz/engine.h), else NULL */
    struct mz_import_memo *import_memo; /* during an import of an MZ_E_IMPORT_BULK entity:
                                    answers its rows cannot change (mz_import_memo_get) */
    struct mz_user *user;        /* the authenticated caller, NULL if public */
    const char *actor;           /* username for history and audit ("-" if none) */

    /* Reply, set by mz_reply_* or mz_fail. */
    int status;
    json_t *reply_json;
    const char *reply_body;      /* arena-owned bytes, or */
    size_t reply_len;
    int reply_fd;                /* a file to stream (closed by the server), -1 if none */
    const char *content_type;
    struct mz_header extra_headers[8];
    int nextra_headers;
    bool failed;
    json_t *error;               /* {"code","message","field"} of the first failure */
};

/* Record a failure (only the first is kept) and return status. */
int mz_fail(struct mz_req *req, int status, const char *code, const char *message);
int mz_fail_field(struct mz_req *req, int status, const char *code, const char *message,
                  const char *field);
/* Record a failure with extra members merged into the error object (e.g. the
 * list of field errors, or allowed actions). Steals extra. */
int mz_fail_with(struct mz_req *req, int status, const char *code, const char *message,
                 json_t *extra);
/* Map an mz_err from a lower layer to a status and generic message. */
int mz_fail_err(struct mz_req *req, int err);

/* Replies. mz_reply_json steals body. */
int mz_reply_json(struct mz_req *req, int status, json_t *body);
int mz_reply_bytes(struct mz_req *req, int status, const char *content_type, const char *data,
                   size_t len);
/* A JSON body already written as text (copied; sent as application/json). */
int mz_reply_json_text(struct mz_req *req, int status, const char *text, size_t len);
/* Stream a file (already written, positioned anywhere); the server closes fd. */
int mz_reply_file(struct mz_req *req, int status, const char *content_type, int fd,
                  const char *download_name);
void mz_req_add_header(struct mz_req *req, const char *name, const char *value);

/* Inputs. */
const char *mz_req_param(const struct mz_req *req, const char *name);
const char *mz_req_query(const struct mz_req *req, const char *name);
const char *mz_req_header(const struct mz_req *req, const char *name);
/* Iterate query arguments: calls fn for each key=value (decoded); stop when fn != 0. */
int mz_req_query_each(const struct mz_req *req,
                      int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* The JSON body as an object, or fail 400 and return NULL. */
json_t *mz_req_object_or_fail(struct mz_req *req);

/* --- router (pure, unit-tested) -------------------------------------------- */
struct mz_router;

struct mz_router *mz_router_new(void);
void mz_router_free(struct mz_router *router);
/* Routes are not copied: they must outlive the router (static tables). */
int mz_router_add(struct mz_router *router, const struct mz_route *route);
/* Find the route for method and path; literal segments win over parameters.
 * Fills req->param_*; returns NULL and sets *method_mismatch when the path
 * matched but not the method (405). */
const struct mz_route *mz_router_match(const struct mz_router *router, const char *method,
                                       const char *path, struct mz_req *req,
                                       bool *method_mismatch);
/* Iterate every route (for OpenAPI). */
size_t mz_router_count(const struct mz_router *router);
const struct mz_route *mz_router_at(const struct mz_router *router, size_t i);

/* --- server ------------------------------------------------------------------ */
struct mz_server_options {
    const char *listen;      /* "127.0.0.1:8080" */
    const char *web_root;    /* directory of the built web app, may be NULL */
    const char *access_log;  /* file path, "-" for stderr, NULL for none */
    int threads;             /* 0: number of cores */
    /* Comma-separated addresses of reverse proxies (nginx) whose X-Real-IP
     * header names the client: a request whose peer is one of them takes its
     * client address (login limit, audit, access log) from that header.
     * NULL: the peer address is the client. */
    const char *trusted_proxies;
};

/* Hooks the server calls; the app sets them (auth arrives with its issue). */
struct mz_server_hooks {
    /* Authenticate: set req->user/actor. Return 0, or a status after mz_fail. */
    int (*authenticate)(struct mz_req *req);
    /* Check a route permission; 0 to allow, or a status after mz_fail. */
    int (*authorize)(struct mz_req *req, const char *permission);
    /* Open this thread's database connection (called once per worker thread). */
    struct mz_db *(*thread_db)(struct mz_app *app);
};

struct mz_server;

/* Start listening; returns MZ_ERR_IO if the address cannot be bound. */
int mz_server_start(struct mz_app *app, struct mz_router *router,
                    const struct mz_server_hooks *hooks, const struct mz_server_options *opts,
                    struct mz_server **out);
/* The port actually bound (useful with port 0). */
int mz_server_port(const struct mz_server *server);
/* Block until SIGTERM/SIGINT, then stop accepting, finish in-flight requests
 * and return. */
void mz_server_wait(struct mz_server *server);
void mz_server_stop(struct mz_server *server);

/* Content type for a file name by its extension ("text/html; charset=utf-8"). */
const char *mz_mime_type(const char *path);
/* Decode %XX and '+' (in queries) in place; false on bad escapes or NUL. */
bool mz_url_decode(char *s, bool plus_is_space);

/* --- additions for the server's internals ----------------------------------- */
/* The Allow header value for a path ("GET, HEAD, POST, OPTIONS") from the
 * arena, or NULL when no route's pattern matches the path (405 and OPTIONS). */
const char *mz_router_allow(const struct mz_router *router, const char *path,
                            struct mz_arena *arena);
/* Serve req->path (decoded) from the directory root, which must be a path
 * already resolved by realpath(): sets req->reply_fd, status and headers, or
 * fails 404/405 through mz_fail. GET and HEAD only; see src/core/static.c. */
int mz_static_serve(struct mz_req *req, const char *root);

#endif
