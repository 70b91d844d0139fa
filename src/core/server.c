/* server.c - the HTTP server on libmicrohttpd, and the one dispatcher.
 *
 * libmicrohttpd (MHD) runs a pool of worker threads (one per core by
 * default), each polling its own connections; a connection stays on one
 * thread, and a request is handled start to end on that thread. Our accept
 * thread (accept_main) owns the listening socket and hands each new
 * connection to the worker with the fewest (MHD_add_connection). A worker
 * that has served for a millisecond without a pause yields its core once
 * (yield_between_rounds). MHD calls us in four places, all below:
 *   on_uri       - the request line arrived: allocate the per-request state
 *                  (struct request_state: arena, struct mz_req, request id),
 *                  count the request as in flight, remember the raw path;
 *   on_access    - first call (headers read): decode the path, match the
 *                  route, decide the body cap, answer 413 at once when the
 *                  declared Content-Length is beyond it; then calls with
 *                  body bytes, stored up to the cap (beyond it they are read
 *                  and dropped, so chunked uploads end in a clean 413); the
 *                  last call (no more bytes) runs dispatch() and queues the
 *                  response. A response is queued before the body is read
 *                  only for the 413, because MHD must then close the
 *                  connection; every other answer waits for the whole body
 *                  so keep-alive connections stay usable;
 *   on_completed - the response is sent or the connection died: write the
 *                  access log line (into the thread's buffer: see struct
 *                  access_buf), free everything, count the request done,
 *                  yield the core if the worker has not paused for a while;
 *   on_mhd_log   - MHD's own error messages, into our JSON log.
 *
 * dispatch() is the one place route flags are enforced: authentication
 * (unless MZ_ROUTE_PUBLIC), the route's permission, then the body's type and
 * JSON parse, a write transaction around MZ_ROUTE_WRITE handlers (committed
 * only when the handler neither failed nor answered >= 400), and rendering
 * of replies and errors with the security headers every response carries.
 * Authentication runs before the body is parsed so that an anonymous caller
 * learns nothing about the route, not even the parser's opinion of its body.
 *
 * Behind a reverse proxy every peer is the proxy: with trusted_proxies set
 * (serve --trusted-proxy), a request whose peer is one of those addresses
 * takes its client address from the X-Real-IP header the proxy sets (nginx:
 * proxy_set_header X-Real-IP $remote_addr, which replaces whatever the
 * client sent); the header must be one IPv4 or IPv6 address, else the peer
 * address stays. From any other peer the header is ignored, so a client
 * cannot choose its own address for the login limit or the audit log.
 *
 * Shutdown: SIGTERM and SIGINT are blocked in mz_server_start() before MHD
 * creates its threads (threads inherit the mask), so only mz_server_wait()'s
 * sigwait() sees them. It then stops accepting (the accept thread ends and
 * the listening socket is closed), lets requests in flight finish for up to
 * DRAIN_TIMEOUT_US (new responses say "Connection: close"), stops the daemon
 * and writes the access log lines still buffered. While it waits for a signal
 * it writes them every second.
 *
 * Tested by tests/api/ against the real binary over loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mz/db.h"
#include "mz/http.h"
#include "mz/json.h"

/* Content type of every JSON response. */
#define JSON_CONTENT_TYPE "application/json; charset=utf-8"
/* Policy for responses that set none (JSON, files other than HTML). */
#define DEFAULT_CSP "default-src 'none'; frame-ancestors 'none'"
/* How long shutdown waits for requests in flight. */
#define DRAIN_TIMEOUT_US (10 * 1000 * 1000)
/* Longest path written to the access log; longer ones are cut. */
#define LOG_PATH_MAX 1024
/* Per-connection limits handed to MHD. Its memory per connection holds the
 * request line, the headers and the response headers, and MHD zeroes it on
 * every keep-alive request: 16 KiB (request lines and headers up to ~14 KB;
 * beyond, 414/431) costs half the 32 KiB default's memset on each GET. */
/* A busy worker yields its core after serving this long (yield_between_rounds). */
#define YIELD_AFTER_US 1000
#define CONNECTION_TIMEOUT_S    30
#define CONNECTION_LIMIT        1024
#define PER_IP_CONNECTION_LIMIT 256
#define CONNECTION_MEMORY_LIMIT (16 * 1024)

/* A running server. */
struct mz_server {
    struct MHD_Daemon *daemon;       /* NULL once stopped */
    struct mz_app *app;              /* handed to hooks and requests */
    struct mz_router *router;        /* the route table (not owned) */
    struct mz_server_hooks hooks;    /* a copy; NULL members are skipped */
    char *web_root;                  /* realpath of the web app, or NULL */
    int access_fd;                   /* access log, -1 for none */
    bool access_fd_owned;            /* we opened access_fd and must close it */
    pthread_mutex_t access_lock;     /* guards access_bufs (the list) */
    struct access_buf *access_bufs;  /* one per worker thread that logged */
    char host[INET6_ADDRSTRLEN + 4]; /* "127.0.0.1" or "[::1]", for the log */
    int port;                        /* the port actually bound */
    atomic_int inflight;             /* requests between on_uri and on_completed */
    atomic_bool draining;            /* shutdown started: close connections after replies */
    char (*proxies)[INET6_ADDRSTRLEN]; /* trusted proxy addresses, normalised */
    size_t nproxies;
    sigset_t old_mask;               /* the caller's signal mask before start */
    int listen_fd;                   /* the listening socket, -1 once closed */
    int accept_stop[2];              /* a pipe: a byte stops the accept thread */
    pthread_t acceptor;              /* accepts and hands sockets to MHD's workers */
    bool acceptor_running;
    unsigned int threads;            /* MHD's worker threads */
    atomic_uint *per_worker;         /* open connections per worker (socket % threads) */
    atomic_uint workers_seen;        /* numbers the workers in the access log */
};

/* Everything one request owns, from on_uri to on_completed. */
struct request_state {
    struct mz_server *server; /* the server the request came to */
    struct mz_req req;        /* what handlers see */
    char request_id[17];      /* 16 hex characters and NUL */
    char ip[INET6_ADDRSTRLEN]; /* the peer's address as text (req.client_ip) */
    const char *raw_path;     /* the path as sent, without the query (arena) */
    int64_t start_us;         /* mz_mono_us() at the request line */
    bool started;             /* the first on_access call has run */
    bool queued;              /* a response is queued; ignore further calls */
    bool is_static;           /* no route: the web app's files */
    bool is_api;              /* the path is /api or under /api/ */
    bool too_big;             /* the body went past body_limit */
    size_t body_limit;        /* cap on the body for this route */
    size_t body_seen;         /* body bytes received, stored or not */
    struct mz_buf body;       /* the body so far (malloc'd, capped); with MZ_ROUTE_SPOOL
                                 only its first MZ_SPOOL_PREFIX bytes */
    int spool_fd;             /* MZ_ROUTE_SPOOL: the temporary file, -1 until the first byte */
    char *spool_path;         /* its path (malloc'd), removed in on_completed */
    bool spool_failed;        /* the file could not be created or written */
    int log_status;           /* status queued, 0 when MHD answered itself */
    uint64_t log_bytes;       /* body bytes of the response */
};

/* A worker thread's access log lines not yet written: appended by that
 * thread, written with one write() when the next line does not fit, when
 * the oldest waited ACCESS_FLUSH_US, by mz_server_wait() every second, and
 * on shutdown (after the workers stopped). Whole lines only, so lines of
 * several threads never interleave. A crash loses at most a second (or
 * ACCESS_BUF_SIZE bytes) of lines per thread; the audit log does not
 * depend on it. */
#define ACCESS_BUF_SIZE (16 * 1024)
#define ACCESS_FLUSH_US (1000 * 1000)
struct access_buf {
    pthread_mutex_t lock;     /* the worker vs the periodic flush */
    struct access_buf *next;  /* the server's list */
    int64_t first_us;         /* mz_mono_us() of the oldest line buffered */
    size_t len;
    char data[ACCESS_BUF_SIZE];
};
static _Thread_local const struct mz_server *tls_access_server;
static _Thread_local struct access_buf *tls_access;

/* This worker thread's database connection, opened on first use. */
static _Thread_local const struct mz_server *tls_db_server;
static _Thread_local struct mz_db *tls_db;

/* 16 hex characters for X-Request-Id and the access log: a per-thread
 * splitmix64 sequence seeded once from getrandom, so a request costs no
 * system call. Ids need to be unique and unguessable enough to correlate
 * logs, not secret. */
static void make_request_id(char out[17])
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[8];

    if (!seeded) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state))
            state = (uint64_t)mz_now_us() ^ (uint64_t)(uintptr_t)&state;
        seeded = true;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    memcpy(bytes, &z, sizeof(bytes));
    for (size_t i = 0; i < sizeof(bytes); i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[16] = '\0';
}

/* The client's address as text into out ("-" if unknown). */
static void client_ip_text(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    strcpy(out, "-");
    if (info == NULL || info->client_addr == NULL)
        return;
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)info->client_addr;
        if (inet_ntop(AF_INET, &in->sin_addr, out, INET6_ADDRSTRLEN) == NULL)
            strcpy(out, "-");
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 =
            (const struct sockaddr_in6 *)(const void *)info->client_addr;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, out, INET6_ADDRSTRLEN) == NULL)
            strcpy(out, "-");
    }
}

/* What a connection keeps between its requests (MHD's socket context). */
struct conn_state {
    char ip[INET6_ADDRSTRLEN]; /* the peer's address as text; first, for client_ip() */
    unsigned int worker;       /* the worker counted for it (server->per_worker) */
};

/* MHD: a connection opened or closed. Its peer's address is formatted once
 * per connection (socket context), not per keep-alive request. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct mz_server *server = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_state *cs = mz_xcalloc(1, sizeof(*cs));
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        client_ip_text(conn, cs->ip);
        cs->worker = info != NULL ? (unsigned int)info->connect_fd % server->threads : 0;
        *socket_context = cs;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
        struct conn_state *cs = *socket_context;
        atomic_fetch_sub(&server->per_worker[cs->worker], 1);
        free(cs);
        *socket_context = NULL;
    }
}

/* The client's address as text (request_state.ip). */
static const char *client_ip(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    if (info != NULL && info->socket_context != NULL)
        memcpy(out, info->socket_context, INET6_ADDRSTRLEN);
    else
        client_ip_text(conn, out);
    return out;
}

/* MHD: the request line arrived. Create the request's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct mz_server *server = cls;
    struct request_state *st = mz_xcalloc(1, sizeof(*st));

    atomic_fetch_add(&server->inflight, 1);
    st->server = server;
    st->start_us = mz_mono_us();
    make_request_id(st->request_id);
    st->req.arena = mz_arena_new();
    st->req.app = server->app;
    st->req.conn = conn;
    st->req.request_id = st->request_id;
    st->req.actor = "-";
    st->req.reply_fd = -1;
    st->spool_fd = -1;
    st->req.client_ip = client_ip(conn, st->ip);
    st->raw_path = mz_arena_strndup(st->req.arena, uri, strcspn(uri, "?"));
    mz_buf_init(&st->body, MZ_BODY_LIMIT_DEFAULT);
    return st;
}

/* True for the methods we route; anything else is a 405. */
static bool method_known(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"};

    for (size_t i = 0; i < MZ_ARRAY_LEN(known); i++) {
        if (strcmp(method, known[i]) == 0)
            return true;
    }
    return false;
}

/* The Allow value for the request's path (routes, or the static files). */
static const char *allow_for(struct request_state *st)
{
    const char *allow = mz_router_allow(st->server->router, st->req.path, st->req.arena);

    if (allow == NULL && !st->is_api)
        allow = "GET, HEAD, OPTIONS";
    return allow;
}

/* Fail 405 with the Allow header. */
static int fail_method(struct request_state *st)
{
    const char *allow = allow_for(st);

    if (allow != NULL)
        mz_req_add_header(&st->req, "Allow", allow);
    return mz_fail(&st->req, 405, "method_not_allowed", "不支持该请求方法");
}

/* Fail 413 naming the cap. */
static int fail_too_big(struct request_state *st)
{
    size_t limit = st->body_limit;
    const char *message;

    if (st->req.route != NULL && (st->req.route->flags & MZ_ROUTE_BODY_RULE))
        return ((const struct mz_body_rule *)st->req.route->data)->too_large(&st->req);

    if (limit % (1024 * 1024) == 0)
        message = mz_arena_printf(st->req.arena, "请求内容超过 %zu MiB 的上限", limit >> 20);
    else
        message = mz_arena_printf(st->req.arena, "请求内容超过 %zu 字节的上限", limit);
    return mz_fail(&st->req, 413, "body_too_large", message);
}

/* True when s is valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF) without control characters: the only paths we route, so every
 * handler, log line and JSON value downstream can trust them. */
static bool path_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned int c = *p;
        int extra;
        unsigned int cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += extra + 1;
    }
    return true;
}

/* The first on_access call: path, route, body cap. Failures are recorded in
 * req and answered once the body is consumed. */
static void begin_request(struct request_state *st, const char *method)
{
    struct mz_req *req = &st->req;
    char *path = mz_arena_strdup(req->arena, st->raw_path);
    const struct mz_route *route = NULL;
    bool mismatch = false;

    req->method = mz_arena_strdup(req->arena, method);
    st->body_limit = MZ_BODY_LIMIT_DEFAULT;
    if (!mz_url_decode(path, false) || path[0] != '/' || !path_text_ok(path)) {
        req->path = st->raw_path;
        mz_fail(req, 400, "bad_request", "请求路径无效");
        return;
    }
    req->path = path;
    st->is_api = strcmp(path, "/api") == 0 || strncmp(path, "/api/", 5) == 0;
    if (!method_known(method)) {
        fail_method(st);
        return;
    }
    if (strcmp(method, "OPTIONS") == 0)
        return;
    route = mz_router_match(st->server->router, method, path, req, &mismatch);
    if (route != NULL) {
        req->route = route;
        if (route->flags & MZ_ROUTE_BODY_RULE)
            st->body_limit = ((const struct mz_body_rule *)route->data)->cap();
        else if (route->body_limit != 0)
            st->body_limit = route->body_limit;
    } else if (mismatch) {
        fail_method(st);
    } else if (st->is_api) {
        mz_fail(req, 404, "not_found", "请求的接口不存在");
    } else {
        st->is_static = true;
    }
    mz_buf_init(&st->body, st->body_limit);
}

/* The declared Content-Length: -1 when absent, INT64_MAX when it cannot be
 * read (MHD itself refuses malformed values before calling us). */
static long long declared_length(const struct mz_req *req)
{
    const char *value = mz_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end = NULL;
    unsigned long long n;

    if (value == NULL)
        return -1;
    errno = 0;
    n = strtoull(value, &end, 10);
    if (errno != 0 || end == value || n > (unsigned long long)INT64_MAX)
        return INT64_MAX;
    return (long long)n;
}

/* MZ_ROUTE_SPOOL: append body bytes to the route's temporary file (created
 * on the first bytes, in $TMPDIR or /tmp); memory stays flat whatever the
 * size. A failure is remembered and answered 500 once the body is in. */
static void spool_upload(struct request_state *st, const char *data, size_t size)
{
    if (st->spool_failed)
        return;
    if (st->spool_fd < 0) {
        const char *dir = getenv("TMPDIR");
        struct mz_buf path;
        mz_buf_init(&path, 0);
        mz_buf_printf(&path, "%s/mz-upload-XXXXXX", dir && *dir ? dir : "/tmp");
        st->spool_path = mz_buf_steal(&path, NULL);
        st->spool_fd = mkostemp(st->spool_path, O_CLOEXEC);
        if (st->spool_fd < 0) {
            st->spool_failed = true;
            free(st->spool_path);
            st->spool_path = NULL;
            return;
        }
    }
    while (size > 0) {
        ssize_t w = write(st->spool_fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st->spool_failed = true;
            return;
        }
        data += w;
        size -= (size_t)w;
    }
}

/* Close and remove the request's spooled body, if any. */
static void remove_spool(struct request_state *st)
{
    if (st->spool_fd >= 0)
        close(st->spool_fd);
    st->spool_fd = -1;
    if (st->spool_path != NULL) {
        unlink(st->spool_path);
        free(st->spool_path);
        st->spool_path = NULL;
    }
    st->req.body_file = NULL;
}

/* Count body bytes and store them up to the cap; past it drop them and
 * remember (the answer is then 413). Bytes nobody will read (no route, or
 * the request already failed) are counted but not stored. */
static void take_upload(struct request_state *st, const char *data, size_t size)
{
    st->body_seen += size;
    if (st->too_big)
        return;
    if (st->body_seen > st->body_limit) {
        st->too_big = true;
        mz_buf_free(&st->body);
        return;
    }
    if (st->req.route == NULL || st->req.failed)
        return;
    if (st->req.route->flags & MZ_ROUTE_SPOOL) {
        spool_upload(st, data, size);
        if (st->body.len < MZ_SPOOL_PREFIX)
            mz_buf_append(&st->body, data,
                          size < MZ_SPOOL_PREFIX - st->body.len ? size : MZ_SPOOL_PREFIX - st->body.len);
        return;
    }
    if (mz_buf_append(&st->body, data, size) != MZ_OK) {
        st->too_big = true; /* unreachable: the count above is the same cap */
        mz_buf_free(&st->body);
    }
}

/* This thread's database connection, opened once per worker thread. NULL
 * when the app has no database hook, or when opening failed (retried on the
 * next request). */
static struct mz_db *thread_db(struct mz_server *server)
{
    if (server->hooks.thread_db == NULL)
        return NULL;
    if (tls_db_server != server || tls_db == NULL) {
        tls_db = server->hooks.thread_db(server->app);
        tls_db_server = server;
        if (tls_db == NULL)
            mz_error("cannot open this worker thread's database connection");
    }
    return tls_db;
}

/* True when a Content-Type value is application/json (parameters allowed). */
static bool is_json_type(const char *value)
{
    size_t len;

    if (value == NULL)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    len = strcspn(value, ";");
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    return len == 16 && strncasecmp(value, "application/json", 16) == 0;
}

/* Run a matched route: auth, permission, body, transaction, handler. */
static void run_route(struct request_state *st)
{
    struct mz_server *server = st->server;
    struct mz_req *req = &st->req;
    const struct mz_route *route = req->route;
    struct mz_json_error jerr;
    bool in_transaction = false;
    int rc;

    req->body = st->body.data != NULL ? st->body.data : "";
    req->body_len = st->body.len;
    if (route->flags & MZ_ROUTE_SPOOL) {
        if (st->spool_failed) {
            mz_fail(req, 500, "internal", "无法保存上传的文件");
            goto out;
        }
        req->body_file = st->spool_path;
        req->body_total = st->body_seen;
    }

    req->db = thread_db(server);
    if (req->db == NULL && server->hooks.thread_db != NULL) {
        mz_fail_err(req, MZ_ERR_BUSY);
        goto out;
    }
    /* A request that does not write reads from one snapshot: the session,
     * the user and the handler's reads share one read transaction (SQLite;
     * a write by the handler ends it first, see mz_db_snapshot_begin). */
    if (!(route->flags & MZ_ROUTE_WRITE) && req->db != NULL)
        mz_db_snapshot_begin(req->db);
    if (!(route->flags & MZ_ROUTE_PUBLIC) && server->hooks.authenticate != NULL) {
        rc = server->hooks.authenticate(req);
        if (rc != 0 && !req->failed)
            mz_fail(req, 401, "unauthenticated", "请先登录");
        if (req->failed)
            goto out;
    }
    if (server->hooks.authorize != NULL) {
        rc = server->hooks.authorize(req, route->permission);
        if (rc != 0 && !req->failed)
            mz_fail(req, 403, "forbidden", "没有权限执行此操作");
        if (req->failed)
            goto out;
    }
    if (!(route->flags & MZ_ROUTE_RAW_BODY) && req->body_len > 0) {
        if (!is_json_type(mz_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            mz_fail(req, 415, "unsupported_media_type", "请求内容类型应为 application/json");
            goto out;
        }
        req->json = mz_json_parse(req->body, req->body_len, &jerr);
        if (req->json == NULL) {
            mz_debug("request %s: bad json: %s", req->request_id, jerr.detail);
            mz_fail(req, 400, "bad_json", jerr.message);
            goto out;
        }
    }
    if ((route->flags & MZ_ROUTE_WRITE) && req->db != NULL) {
        rc = mz_db_begin_write(req->db);
        if (rc != MZ_OK) {
            mz_fail_err(req, rc == MZ_ERR_BUSY ? MZ_ERR_BUSY : MZ_ERR_INTERNAL);
            goto out;
        }
        in_transaction = true;
    }

    rc = route->handler(req);
    if (!req->failed && req->status == 0) {
        if (rc >= 200 && rc <= 599) {
            req->status = rc; /* a bare "return 204;" */
        } else {
            mz_error("request %s: handler for %s %s set no reply", req->request_id, route->method,
                     route->pattern);
            mz_fail_err(req, MZ_ERR_INTERNAL);
        }
    }

    if (in_transaction) {
        if (!req->failed && req->status < 400) {
            rc = mz_db_commit(req->db);
            if (rc != MZ_OK) {
                mz_error("request %s: commit failed: %s", req->request_id, mz_err_name(rc));
                if (mz_db_in_transaction(req->db))
                    mz_db_rollback(req->db);
                mz_fail_err(req, rc == MZ_ERR_BUSY ? MZ_ERR_BUSY : MZ_ERR_INTERNAL);
            }
        } else {
            rc = mz_db_rollback(req->db);
            if (rc != MZ_OK)
                mz_error("request %s: rollback failed: %s", req->request_id, mz_err_name(rc));
        }
    }
out:
    if (req->db != NULL)
        mz_db_snapshot_end(req->db);
    remove_spool(st); /* the handler is done with it: gone before the reply is sent */
}

/* Decide the reply once the body is in: OPTIONS, static files or a route. */
/* An address in its normal text form (inet_ntop of inet_pton), or false. */
static bool normal_ip(const char *text, char out[INET6_ADDRSTRLEN])
{
    unsigned char raw[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, text, raw) == 1)
        return inet_ntop(AF_INET, raw, out, INET6_ADDRSTRLEN) != NULL;
    if (inet_pton(AF_INET6, text, raw) == 1)
        return inet_ntop(AF_INET6, raw, out, INET6_ADDRSTRLEN) != NULL;
    return false;
}

/* Behind a trusted proxy, the client address is the proxy's X-Real-IP. */
static void apply_real_ip(struct request_state *st)
{
    struct mz_server *server = st->server;
    struct mz_req *req = &st->req;
    bool trusted = false;
    for (size_t i = 0; i < server->nproxies && !trusted; i++)
        trusted = req->client_ip && strcmp(req->client_ip, server->proxies[i]) == 0;
    if (!trusted)
        return;
    const char *real = mz_req_header(req, "X-Real-IP");
    char ip[INET6_ADDRSTRLEN];
    if (real != NULL && strlen(real) < sizeof(ip) && normal_ip(real, ip))
        req->client_ip = mz_arena_strdup(req->arena, ip);
}

static void dispatch(struct request_state *st)
{
    struct mz_req *req = &st->req;

    if (req->failed)
        return;
    apply_real_ip(st);
    if (st->too_big) {
        fail_too_big(st);
        return;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        const char *allow = allow_for(st);
        if (allow == NULL) {
            mz_fail(req, 404, "not_found", "请求的接口不存在");
            return;
        }
        mz_req_add_header(req, "Allow", allow);
        req->status = 204;
        return;
    }
    if (st->is_static) {
        mz_static_serve(req, st->server->web_root);
        return;
    }
    run_route(st);
}

/* True when the handler set this header itself. */
static bool has_extra_header(const struct mz_req *req, const char *name)
{
    for (int i = 0; i < req->nextra_headers; i++) {
        if (strcasecmp(req->extra_headers[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Add a header to the response, logging (not failing) when MHD refuses it. */
static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES)
        mz_error("cannot add response header %s", name);
}

/* Build the MHD response from req: error body, JSON, bytes, file or empty.
 * Sets st->log_bytes. Never NULL except when MHD itself cannot allocate. */
static struct MHD_Response *build_response(struct request_state *st)
{
    struct mz_req *req = &st->req;
    struct MHD_Response *resp = NULL;
    struct stat sb;
    char *text;
    size_t len = 0;

    /* A file first: if it cannot be sized, the request becomes a failure. */
    if (!req->failed && req->reply_fd >= 0 && req->status != 304 && req->status != 204) {
        if (fstat(req->reply_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            mz_error("request %s: reply file cannot be sent: %s", req->request_id, strerror(errno));
            mz_fail_err(req, MZ_ERR_IO);
        } else {
            resp = MHD_create_response_from_fd((uint64_t)sb.st_size, req->reply_fd);
            if (resp != NULL) {
                req->reply_fd = -1; /* MHD closes it now */
                st->log_bytes = (uint64_t)sb.st_size;
                return resp;
            }
            mz_fail_err(req, MZ_ERR_INTERNAL);
        }
    }
    if (req->failed) {
        json_t *body = json_object();
        json_object_set(body, "error", req->error);
        text = mz_json_dump(body, &len);
        json_decref(body);
        req->content_type = JSON_CONTENT_TYPE;
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(text);
    } else if (req->status == 204 || req->status == 304) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else if (req->reply_json != NULL) {
        text = mz_json_dump(req->reply_json, &len);
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(text);
    } else if (req->reply_body != NULL) {
        /* The arena outlives the response: it is freed in on_completed. */
        len = req->reply_len;
        resp =
            MHD_create_response_from_buffer(len, (void *)req->reply_body, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    st->log_bytes = len;
    return resp;
}

/* Render req into a response with every security header and queue it. */
static enum MHD_Result queue_reply(struct request_state *st)
{
    struct mz_req *req = &st->req;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    bool no_body;

    if (req->status < 100 || req->status > 599) {
        mz_error("request %s: invalid status %d", req->request_id, req->status);
        req->status = 0;
        req->failed = false;
        json_decref(req->error);
        req->error = NULL;
        mz_fail_err(req, MZ_ERR_INTERNAL);
    }
    resp = build_response(st);
    if (resp == NULL) {
        mz_error("request %s: cannot create the response", req->request_id);
        return MHD_NO;
    }
    no_body = req->status == 204 || req->status == 304;
    if (req->content_type != NULL && !no_body)
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    add_header(resp, "X-Content-Type-Options", "nosniff");
    add_header(resp, "X-Request-Id", req->request_id);
    add_header(resp, "Referrer-Policy", "no-referrer");
    add_header(resp, "X-Frame-Options", "DENY");
    if (!has_extra_header(req, "Cache-Control"))
        add_header(resp, "Cache-Control", "no-store");
    if (!has_extra_header(req, "Content-Security-Policy"))
        add_header(resp, "Content-Security-Policy", DEFAULT_CSP);
    for (int i = 0; i < req->nextra_headers; i++)
        add_header(resp, req->extra_headers[i].name, req->extra_headers[i].value);
    if (atomic_load(&st->server->draining))
        add_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(req->conn, (unsigned int)req->status, resp);
    MHD_destroy_response(resp);
    st->queued = true;
    st->log_status = req->status;
    return ret;
}

/* MHD: headers, then body bytes, then a last call with no bytes. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct request_state *st = *con_cls;
    long long declared;

    (void)version;
    if (st == NULL) {
        /* on_uri always runs first; be safe anyway. */
        st = on_uri(cls, url, conn);
        *con_cls = st;
    }
    if (st->queued) {
        *upload_data_size = 0; /* after an early 413: drop the rest */
        return MHD_YES;
    }
    if (!st->started) {
        st->started = true;
        begin_request(st, method);
        declared = declared_length(&st->req);
        if (declared > (long long)st->body_limit) {
            fail_too_big(st);
            return queue_reply(st);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        take_upload(st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(st);
    return queue_reply(st);
}

/* Append s to buf as the inside of a JSON string, at most max input bytes.
 * Bytes >= 0x80 are escaped too, so the line stays valid JSON whatever the
 * client sent. */
static void log_escape(struct mz_buf *buf, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; s[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mz_buf_append(buf, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mz_buf_append(buf, esc, 6);
        } else {
            mz_buf_append(buf, &s[i], 1);
        }
    }
}

/* Write what b holds (lock held). */
static void access_write(int fd, struct access_buf *b)
{
    if (b->len > 0 && write(fd, b->data, b->len) < 0) {
        /* Nothing sensible to do; the main log may still work. */
    }
    b->len = 0;
}

/* Append one line to this thread's buffer (see struct access_buf). */
static void access_append(struct mz_server *server, const char *line, size_t len)
{
    struct access_buf *b = tls_access_server == server ? tls_access : NULL;
    if (b == NULL) {
        b = mz_xcalloc(1, sizeof(*b));
        pthread_mutex_init(&b->lock, NULL);
        pthread_mutex_lock(&server->access_lock);
        b->next = server->access_bufs;
        server->access_bufs = b;
        pthread_mutex_unlock(&server->access_lock);
        tls_access = b;
        tls_access_server = server;
    }
    int64_t now = mz_mono_us();
    pthread_mutex_lock(&b->lock);
    if (b->len + len > sizeof(b->data))
        access_write(server->access_fd, b);
    if (len > sizeof(b->data)) {
        if (write(server->access_fd, line, len) < 0) {
            /* as above */
        }
    } else {
        if (b->len == 0)
            b->first_us = now;
        memcpy(b->data + b->len, line, len);
        b->len += len;
        if (now - b->first_us >= ACCESS_FLUSH_US)
            access_write(server->access_fd, b);
    }
    pthread_mutex_unlock(&b->lock);
}

/* Write every thread's buffered lines (the periodic flush and shutdown). */
static void access_flush_all(struct mz_server *server)
{
    pthread_mutex_lock(&server->access_lock);
    for (struct access_buf *b = server->access_bufs; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->lock);
        access_write(server->access_fd, b);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&server->access_lock);
}

/* Format the request's access log line (buffered per thread, see struct
 * access_buf). Nothing from the query or the body. */
static void write_access_log(struct request_state *st)
{
    static _Thread_local const struct mz_server *worker_server;
    static _Thread_local unsigned int worker_no;
    struct mz_buf line;
    char time_text[32];

    if (st->server->access_fd < 0)
        return;
    if (worker_server != st->server) { /* the workers numbered 1, 2, ... as they first log */
        worker_no = atomic_fetch_add(&st->server->workers_seen, 1) + 1;
        worker_server = st->server;
    }
    mz_now_rfc3339(time_text);
    mz_buf_init(&line, 8192);
    mz_buf_printf(&line, "{\"time\":\"%s\",\"request_id\":\"%s\",\"method\":\"", time_text,
                  st->request_id);
    log_escape(&line, st->req.method != NULL ? st->req.method : "-", 32);
    mz_buf_puts(&line, "\",\"path\":\"");
    log_escape(&line, st->raw_path, LOG_PATH_MAX);
    mz_buf_printf(&line, "\",\"status\":%d,\"bytes\":%llu,\"duration_us\":%lld,\"ip\":\"",
                  st->log_status, (unsigned long long)st->log_bytes,
                  (long long)(mz_mono_us() - st->start_us));
    log_escape(&line, st->req.client_ip, 64);
    mz_buf_printf(&line, "\",\"worker\":%u}\n", worker_no);
    access_append(st->server, line.data, line.len);
    mz_buf_free(&line);
}

/* Give the core to another runnable thread once this worker has served
 * requests for YIELD_AFTER_US without a pause. A worker with a full queue
 * never blocks in poll(), and the scheduler then let it run for stretches of
 * 2 ms and more while the threads that read its replies (on loopback, the load
 * generator; always, the other worker and the audit writer) waited for a core
 * with every reply they had not read: that was the p99 of the GET benchmarks
 * (bench/notes.md, "eighth round"). One sched_yield() per millisecond costs
 * nothing measurable and returns at once when no other thread wants the core. */
static void yield_between_rounds(void)
{
    static _Thread_local int64_t last;
    int64_t now = mz_mono_us();

    if (now - last >= YIELD_AFTER_US) {
        sched_yield();
        last = mz_mono_us();
    }
}

/* MHD: the request is over (sent, or the connection failed). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mz_server *server = cls;
    struct request_state *st = *con_cls;

    (void)conn;
    if (st == NULL)
        return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && st->log_status == 0)
        mz_debug("request %s ended early (%d)", st->request_id, (int)toe);
    write_access_log(st);
    json_decref(st->req.json);
    json_decref(st->req.reply_json);
    json_decref(st->req.error);
    if (st->req.reply_fd >= 0)
        close(st->req.reply_fd);
    mz_buf_free(&st->body);
    remove_spool(st);
    mz_arena_free(st->req.arena);
    free(st);
    atomic_fetch_sub(&server->inflight, 1);
    yield_between_rounds();
}

/* MHD's own error messages, as warnings in our log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    size_t len;

    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    mz_warn("libmicrohttpd: %s", text);
}

/* The bind address of a listen spec: "host:port" with an IPv4 address, or
 * "[v6]:port". Fills addr, and host as it is shown in URLs. */
static int parse_listen(const char *spec, struct sockaddr_storage *addr, bool *ipv6, char *host,
                        size_t host_size, int *port)
{
    char text[INET6_ADDRSTRLEN];
    const char *colon;
    const char *port_text;
    char *end = NULL;
    long n;
    size_t host_len;

    memset(addr, 0, sizeof(*addr));
    if (spec[0] == '[') {
        const char *close_bracket = strchr(spec, ']');
        if (close_bracket == NULL || close_bracket[1] != ':')
            return MZ_ERR_INVALID;
        host_len = (size_t)(close_bracket - spec - 1);
        port_text = close_bracket + 2;
        if (host_len == 0 || host_len >= sizeof(text))
            return MZ_ERR_INVALID;
        memcpy(text, spec + 1, host_len);
        text[host_len] = '\0';
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
            return MZ_ERR_INVALID;
        *ipv6 = true;
        snprintf(host, host_size, "[%s]", text);
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL)
            return MZ_ERR_INVALID;
        host_len = (size_t)(colon - spec);
        port_text = colon + 1;
        if (host_len == 0 || host_len >= sizeof(text))
            return MZ_ERR_INVALID;
        memcpy(text, spec, host_len);
        text[host_len] = '\0';
        if (strcmp(text, "localhost") == 0)
            strcpy(text, "127.0.0.1");
        struct sockaddr_in *in = (struct sockaddr_in *)addr;
        in->sin_family = AF_INET;
        if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
            return MZ_ERR_INVALID;
        *ipv6 = false;
        snprintf(host, host_size, "%s", text);
    }
    if (port_text[0] < '0' || port_text[0] > '9')
        return MZ_ERR_INVALID;
    errno = 0;
    n = strtol(port_text, &end, 10);
    if (errno != 0 || *end != '\0' || n < 0 || n > 65535)
        return MZ_ERR_INVALID;
    *port = (int)n;
    if (*ipv6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)n);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)n);
    return MZ_OK;
}

/* Open the listening socket (SO_REUSEADDR, non-blocking). -1 when it fails. */
static int listen_socket(const struct sockaddr_storage *addr, bool ipv6)
{
    int one = 1;
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)addr,
             ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* The worker with the fewest open connections. */
static unsigned int least_loaded(const struct mz_server *server)
{
    unsigned int best = 0, best_n = UINT_MAX;

    for (unsigned int w = 0; w < server->threads; w++) {
        unsigned int n = atomic_load(&server->per_worker[w]);
        if (n < best_n) {
            best = w;
            best_n = n;
        }
    }
    return best;
}

/* A descriptor of socket fd that MHD gives to worker `want`: MHD hands an
 * added socket to worker (descriptor % threads). Duplicates fd to the lowest
 * free descriptor of that residue (closing fd) when it can, within a few
 * tries; otherwise returns fd as it is. */
static int fd_for_worker(int fd, unsigned int threads, unsigned int want)
{
    int held[8];
    int nheld = 0, got = fd;

    while ((unsigned int)got % threads != want && nheld < (int)(sizeof(held) / sizeof(held[0]))) {
        unsigned int from = (unsigned int)got + 1;
        unsigned int at = from + (want + threads - from % threads) % threads;
        int next = fcntl(fd, F_DUPFD_CLOEXEC, (int)at);
        if (next < 0)
            break;
        held[nheld++] = got = next; /* a taken slot pushes the next try further up */
    }
    if ((unsigned int)got % threads == want && got != fd) {
        close(fd);
        nheld--; /* got is the last one held: keep it */
    } else {
        got = fd;
    }
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    return got;
}

/* The accept thread: takes every pending connection and hands it to the
 * worker with the fewest connections. When the workers raced for the
 * listening socket themselves, a burst of 64 connections split 28/37 or
 * 29/38, and the busier worker's clients waited longer (bench/notes.md,
 * "eighth round"). */
static void *accept_main(void *arg)
{
    struct mz_server *server = arg;
    struct pollfd fds[2] = {{server->listen_fd, POLLIN, 0}, {server->accept_stop[0], POLLIN, 0}};
    int64_t last_warn = 0;

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            /* EINTR, or ENOMEM: try again (a moment later), never stop
             * accepting while the server runs. */
            if (errno != EINTR) {
                struct timespec pause = {0, 10 * 1000 * 1000};
                mz_warn("accept thread: poll: %s", strerror(errno));
                nanosleep(&pause, NULL);
            }
            continue;
        }
        if (fds[1].revents != 0)
            return NULL;
        for (;;) {
            struct sockaddr_storage peer;
            socklen_t len = sizeof(peer);
            int fd = accept4(server->listen_fd, (struct sockaddr *)&peer, &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            unsigned int worker;

            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                /* Out of descriptors or memory: say so at most once a second and
                 * let the pending connections wait a moment in the backlog. */
                if (mz_mono_us() - last_warn > 1000 * 1000) {
                    mz_warn("cannot accept a connection: %s", strerror(errno));
                    last_warn = mz_mono_us();
                }
                struct timespec pause = {0, 10 * 1000 * 1000};
                nanosleep(&pause, NULL);
                break;
            }
            if (server->threads > 1)
                fd = fd_for_worker(fd, server->threads, least_loaded(server));
            worker = (unsigned int)fd % server->threads;
            /* Counted before MHD can close it (on_connection uncounts it). */
            atomic_fetch_add(&server->per_worker[worker], 1);
            /* MHD closes the socket itself when it refuses it (limits). */
            if (MHD_add_connection(server->daemon, fd, (struct sockaddr *)&peer, len) != MHD_YES)
                atomic_fetch_sub(&server->per_worker[worker], 1);
        }
    }
}

/* Start MHD with the given polling flag; NULL when it fails. It has no
 * listening socket: the accept thread adds connections. */
static struct MHD_Daemon *start_daemon(struct mz_server *server, unsigned int poll_flag,
                                       unsigned int threads)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                         MHD_USE_NO_LISTEN_SOCKET | poll_flag;

    /* The logger goes first so that MHD reports option errors through it. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, server,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)PER_IP_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, server, MHD_OPTION_URI_LOG_CALLBACK, on_uri,
        server, MHD_OPTION_END);
}

/* Start listening; see the file comment. */
int mz_server_start(struct mz_app *app, struct mz_router *router,
                    const struct mz_server_hooks *hooks, const struct mz_server_options *opts,
                    struct mz_server **out)
{
    static const struct mz_server_options defaults = {"127.0.0.1:8080", NULL, NULL, 0, NULL};
    struct sockaddr_storage addr;
    struct mz_server *server;
    const char *listen;
    sigset_t block;
    bool ipv6 = false;
    long cores;
    unsigned int threads;
    int rc = MZ_OK;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    server = mz_xcalloc(1, sizeof(*server));
    server->app = app;
    server->router = router;
    server->access_fd = -1;
    server->listen_fd = -1;
    server->accept_stop[0] = server->accept_stop[1] = -1;
    pthread_mutex_init(&server->access_lock, NULL);
    if (hooks != NULL)
        server->hooks = *hooks;
    atomic_init(&server->inflight, 0);
    atomic_init(&server->draining, false);
    atomic_init(&server->workers_seen, 0);

    listen = opts->listen != NULL ? opts->listen : defaults.listen;
    if (parse_listen(listen, &addr, &ipv6, server->host, sizeof(server->host), &server->port) !=
        MZ_OK) {
        mz_error("bad listen address %s: expected host:port or [v6]:port", listen);
        rc = MZ_ERR_INVALID;
        goto out;
    }
    if (opts->trusted_proxies != NULL && *opts->trusted_proxies != '\0') {
        char *list = mz_xstrdup(opts->trusted_proxies);
        size_t cap = 1;
        for (const char *p = list; *p; p++)
            cap += *p == ',';
        server->proxies = mz_xcalloc(cap, sizeof(*server->proxies));
        for (char *save = NULL, *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (!normal_ip(t, server->proxies[server->nproxies])) {
                mz_error("bad trusted proxy address %s: expected IPv4 or IPv6 addresses", t);
                free(list);
                rc = MZ_ERR_INVALID;
                goto out;
            }
            server->nproxies++;
        }
        free(list);
    }
    if (opts->web_root != NULL) {
        server->web_root = realpath(opts->web_root, NULL);
        if (server->web_root == NULL)
            mz_warn("web root %s not found: serving no static files", opts->web_root);
    }
    if (opts->access_log != NULL && strcmp(opts->access_log, "-") == 0) {
        server->access_fd = 2;
    } else if (opts->access_log != NULL) {
        server->access_fd = open(opts->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (server->access_fd < 0) {
            mz_error("cannot open access log %s: %s", opts->access_log, strerror(errno));
            rc = MZ_ERR_IO;
            goto out;
        }
        server->access_fd_owned = true;
    }
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads =
        opts->threads > 0 ? (unsigned int)opts->threads : (cores > 0 ? (unsigned int)cores : 1);
    server->threads = threads;
    server->per_worker = mz_xcalloc(threads, sizeof(*server->per_worker));

    /* Block the shutdown signals before MHD creates threads: they inherit the
     * mask, so only mz_server_wait()'s sigwait() receives them. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &server->old_mask);

    server->listen_fd = listen_socket(&addr, ipv6);
    if (server->listen_fd < 0) {
        mz_error("cannot listen on %s:%d: %s", server->host, server->port, strerror(errno));
        pthread_sigmask(SIG_SETMASK, &server->old_mask, NULL);
        rc = MZ_ERR_IO;
        goto out;
    }
    /* poll(), not epoll: with at most a few dozen connections per worker
     * poll() costs no more, and it is what the shutdown test was run on. */
    server->daemon = start_daemon(server, MHD_USE_POLL, threads);
    if (server->daemon == NULL)
        server->daemon = start_daemon(server, 0, threads);
    if (server->daemon == NULL || pipe2(server->accept_stop, O_CLOEXEC) != 0 ||
        pthread_create(&server->acceptor, NULL, accept_main, server) != 0) {
        mz_error("cannot start serving on %s:%d", server->host, server->port);
        if (server->daemon != NULL)
            MHD_stop_daemon(server->daemon);
        pthread_sigmask(SIG_SETMASK, &server->old_mask, NULL);
        rc = MZ_ERR_IO;
        goto out;
    }
    server->acceptor_running = true;
    {
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        if (getsockname(server->listen_fd, (struct sockaddr *)&bound, &len) == 0)
            server->port = ntohs(bound.ss_family == AF_INET6
                                     ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                     : ((struct sockaddr_in *)&bound)->sin_port);
    }
    mz_info("listening on http://%s:%d", server->host, server->port);
    *out = server;
    return MZ_OK;
out:
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    for (int i = 0; i < 2; i++)
        if (server->accept_stop[i] >= 0)
            close(server->accept_stop[i]);
    pthread_mutex_destroy(&server->access_lock);
    if (server->access_fd_owned)
        close(server->access_fd);
    free(server->web_root);
    free(server->proxies);
    free(server->per_worker);
    free(server);
    return rc;
}

/* The port actually bound. */
int mz_server_port(const struct mz_server *server)
{
    return server->port;
}

/* Stop the accept thread and close the listening socket. */
static void stop_accepting(struct mz_server *server)
{
    if (server->acceptor_running) {
        ssize_t n;
        do
            n = write(server->accept_stop[1], "x", 1);
        while (n < 0 && errno == EINTR);
        pthread_join(server->acceptor, NULL);
        server->acceptor_running = false;
    }
    for (int i = 0; i < 2; i++) {
        if (server->accept_stop[i] >= 0)
            close(server->accept_stop[i]);
        server->accept_stop[i] = -1;
    }
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    server->listen_fd = -1;
}

/* Stop accepting, let requests in flight finish (at most DRAIN_TIMEOUT_US),
 * stop the daemon. Does nothing the second time. */
static void shutdown_daemon(struct mz_server *server)
{
    int64_t deadline;
    int left;

    if (server->daemon == NULL)
        return;
    atomic_store(&server->draining, true);
    stop_accepting(server);
    deadline = mz_mono_us() + DRAIN_TIMEOUT_US;
    while (atomic_load(&server->inflight) > 0 && mz_mono_us() < deadline) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    left = atomic_load(&server->inflight);
    if (left > 0)
        mz_warn("stopping with %d requests still in flight", left);
    MHD_stop_daemon(server->daemon);
    server->daemon = NULL;
    access_flush_all(server); /* the workers are gone: every line is in */
    mz_info("stopped");
}

/* Block until SIGTERM or SIGINT, then shut down gracefully. */
void mz_server_wait(struct mz_server *server)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Wake every second to write the access log lines the workers hold. */
    for (;;) {
        struct timespec second = {1, 0};
        sig = sigtimedwait(&set, NULL, &second);
        if (sig > 0)
            break;
        if (server->access_fd >= 0)
            access_flush_all(server);
    }
    mz_info("received %s, shutting down", sig == SIGTERM ? "sigterm" : "sigint");
    shutdown_daemon(server);
}

/* Stop (gracefully, if mz_server_wait has not) and free the server. The
 * caller's signal mask is restored, so a second SIGTERM that arrived during
 * the drain now ends the process, as an impatient operator expects. */
void mz_server_stop(struct mz_server *server)
{
    if (server == NULL)
        return;
    shutdown_daemon(server);
    pthread_sigmask(SIG_SETMASK, &server->old_mask, NULL);
    access_flush_all(server);
    while (server->access_bufs != NULL) {
        struct access_buf *b = server->access_bufs;
        server->access_bufs = b->next;
        pthread_mutex_destroy(&b->lock);
        free(b);
    }
    pthread_mutex_destroy(&server->access_lock);
    if (server->access_fd_owned)
        close(server->access_fd);
    free(server->web_root);
    free(server->proxies);
    free(server->per_worker);
    free(server);
}
