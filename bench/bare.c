/* bare.c - the baseline for `make bench`: the least a libmicrohttpd + SQLite
 * point lookup can cost on this machine.
 *
 *   bare DB [THREADS]
 *
 * Listens on 127.0.0.1 on a port the kernel picks and prints
 * "listening on http://127.0.0.1:PORT" to stderr. GET /api/v1/sample_cases/<id>
 * answers the row as JSON (the same members as the platform's get), 404 for a
 * missing row. A pool of THREADS (default: cores) MHD threads, each with its own
 * epoll set and its own SQLite connection holding one prepared statement; the
 * same pragmas as the platform (WAL database, 16 MB cache, 256 MB mmap). No
 * router, no arena, no JSON library, no access log, no request id, no security
 * headers: what is left is HTTP parsing, one SQLite step and snprintf.
 * Built by scripts/bench.sh with cc -O2; not part of the product.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX "/api/v1/sample_cases/"

static const char *db_path;

/* The columns, in the order the platform writes them; 'i' integer, 'b' bool, 's' text. */
static const char *const col_names[] = {
    "id",         "version",      "created_at", "updated_at", "state",  "state_due",
    "title",      "code",         "applicant_id", "phone",    "amount_fen", "apply_date",
    "division",   "kind",         "members",    "urgent",     "org_uscc", "bank_card",
    "visited_at", "extra",        "decided_by"};
static const char col_types[] = "iissssssssisssibsssss";
#define NCOLS (sizeof(col_names) / sizeof(col_names[0]))

struct conn {
    sqlite3 *db;
    sqlite3_stmt *get;
};
static __thread struct conn *tls;

static struct conn *thread_conn(void)
{
    if (tls != NULL)
        return tls;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (sqlite3_open_v2(db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "bare: open %s: %s\n", db_path, sqlite3_errmsg(c->db));
        exit(1);
    }
    sqlite3_exec(c->db, "PRAGMA cache_size=-16000; PRAGMA mmap_size=268435456; "
                        "PRAGMA temp_store=MEMORY; PRAGMA busy_timeout=5000",
                 NULL, NULL, NULL);
    if (sqlite3_prepare_v3(c->db,
                           "SELECT id, version, created_at, updated_at, state, state_due, title, "
                           "code, applicant_id, phone, amount_fen, apply_date, division, kind, "
                           "members, urgent, org_uscc, bank_card, visited_at, extra, decided_by "
                           "FROM sample_cases WHERE id = ? AND deleted_at IS NULL",
                           -1, SQLITE_PREPARE_PERSISTENT, &c->get, NULL) != SQLITE_OK) {
        fprintf(stderr, "bare: prepare: %s\n", sqlite3_errmsg(c->db));
        exit(1);
    }
    tls = c;
    return c;
}

/* Append s as a JSON string; false if it does not fit. */
static int put_str(char *out, size_t cap, size_t *len, const unsigned char *s)
{
    size_t n = *len;
    if (n + 2 >= cap)
        return 0;
    out[n++] = '"';
    for (; *s; s++) {
        if (n + 8 >= cap)
            return 0;
        if (*s == '"' || *s == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*s;
        } else if (*s < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *s);
        } else {
            out[n++] = (char)*s;
        }
    }
    out[n++] = '"';
    *len = n;
    return 1;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_access(void *cls __attribute__((unused)), struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    static char not_found[] = "{\"error\":{\"code\":\"not_found\"}}";
    static int first_call;
    /* Answer on the second call, as the platform does: a response queued on the
     * first call (before MHD knows the request has no body) closes the
     * connection. */
    if (*con_cls == NULL) {
        *con_cls = &first_call;
        return MHD_YES;
    }
    *upload_size = 0;
    if (strcmp(method, "GET") != 0 || strncmp(url, PREFIX, sizeof(PREFIX) - 1) != 0)
        return reply(conn, 404, not_found, sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
    char *end;
    long long id = strtoll(url + sizeof(PREFIX) - 1, &end, 10);
    if (*end != '\0' || id <= 0)
        return reply(conn, 404, not_found, sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);

    struct conn *c = thread_conn();
    if (c == NULL)
        return MHD_NO;
    sqlite3_bind_int64(c->get, 1, id);
    if (sqlite3_step(c->get) != SQLITE_ROW) {
        sqlite3_reset(c->get);
        return reply(conn, 404, not_found, sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
    }
    size_t cap = 2048, len = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        sqlite3_reset(c->get);
        return MHD_NO;
    }
    out[len++] = '{';
    for (int i = 0; i < (int)NCOLS; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":", i ? "," : "", col_names[i]);
        if (sqlite3_column_type(c->get, i) == SQLITE_NULL)
            len += (size_t)snprintf(out + len, cap - len, "null");
        else if (col_types[i] == 'i')
            len += (size_t)snprintf(out + len, cap - len, "%lld",
                                    (long long)sqlite3_column_int64(c->get, i));
        else if (col_types[i] == 'b')
            len += (size_t)snprintf(out + len, cap - len, "%s",
                                    sqlite3_column_int(c->get, i) ? "true" : "false");
        else if (!put_str(out, cap, &len, sqlite3_column_text(c->get, i)))
            break;
        if (len + 64 >= cap)
            break;
    }
    out[len++] = '}';
    sqlite3_reset(c->get);
    return reply(conn, 200, out, len, MHD_RESPMEM_MUST_FREE);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bare DB [THREADS]\n");
        return 2;
    }
    db_path = argv[1];
    long threads = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;

    /* Block the stop signals before MHD starts its threads (they inherit the mask). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_CONNECTION_LIMIT,
        1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bare: cannot start the daemon\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "bare: listening on http://127.0.0.1:%u (%ld threads)\n",
            info ? (unsigned)info->port : 0u, threads);

    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
