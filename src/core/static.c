/* static.c - the built web app's files, from the configured web root.
 *
 * Everything not under /api/ that no route claims ends here. Only GET and
 * HEAD; "/" is index.html, and a path whose last segment has no extension and
 * names no file is index.html too (the Vue router's history mode). Safety is
 * layered: the decoded path is refused (404) when it holds a "." or ".."
 * segment, a backslash or a control character; what remains is resolved with
 * realpath() and must stay under the root's realpath (so a symlink leaving
 * the root is a 404, a symlink inside it is fine); only regular files are
 * served. Since the dispatcher decodes the path before we see it, "%2e%2e"
 * and "%2f" reach us as ".." and "/" and meet the same checks.
 *
 * Caching: a strong ETag from the file's size and modification time;
 * If-None-Match answers 304 without a body. Vite's hashed bundles under
 * /assets/ are immutable for a year, everything else is "no-cache" (always
 * revalidated). A precompressed "<file>.gz" that is not older than the file
 * is sent to clients that accept gzip, with its own ETag and Vary. HTML gets
 * the strict Content-Security-Policy. This file sets req->reply_fd and
 * headers only; server.c streams the file with MHD_create_response_from_fd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mz/http.h"

/* The policy for every HTML page of the web app. */
#define HTML_CSP                                                                                   \
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "           \
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "             \
    "form-action 'self'"

/* An open regular file under the root. */
struct static_file {
    int fd;         /* open read-only, -1 when none */
    struct stat st; /* its fstat() */
};

/* True when the decoded path may be looked up at all: absolute, no "." or
 * ".." segment, no backslash, no control character. */
static bool path_is_safe(const char *path)
{
    const char *seg;

    if (path == NULL || path[0] != '/')
        return false;
    for (const char *p = path; *p != '\0'; p++) {
        if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    seg = path + 1;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (end == NULL)
            return true;
        seg = end + 1;
    }
}

/* True when the last segment of path has an extension ("app.js"). */
static bool has_extension(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base != NULL ? base : path, '.');
    return dot != NULL && dot[1] != '\0';
}

/* Open root + rel if it resolves to a regular file under root. MZ_OK or
 * MZ_ERR_NOTFOUND; file->fd is -1 on failure. */
static int open_under(struct mz_req *req, const char *root, const char *rel,
                      struct static_file *file)
{
    char *full = mz_arena_printf(req->arena, "%s%s", root, rel);
    char *real = realpath(full, NULL);
    size_t root_len = strlen(root);
    int rc = MZ_ERR_NOTFOUND;

    file->fd = -1;
    if (real == NULL)
        goto out;
    /* root is "/" only in odd set-ups; then every path is under it. */
    if (!(root_len == 1 && root[0] == '/') &&
        (strncmp(real, root, root_len) != 0 || real[root_len] != '/'))
        goto out;
    /* O_NONBLOCK: opening a FIFO must not hang a worker thread. */
    file->fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (file->fd < 0)
        goto out;
    if (fstat(file->fd, &file->st) != 0 || !S_ISREG(file->st.st_mode)) {
        close(file->fd);
        file->fd = -1;
        goto out;
    }
    rc = MZ_OK;
out:
    free(real);
    return rc;
}

/* True when Accept-Encoding lists gzip with a non-zero quality. */
static bool accepts_gzip(const struct mz_req *req)
{
    const char *header = mz_req_header(req, "Accept-Encoding");
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *semi = memchr(p, ';', len);
        size_t tlen = semi != NULL ? (size_t)(semi - p) : len;
        while (tlen > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            tlen--;
            len--;
        }
        while (tlen > 0 && (p[tlen - 1] == ' ' || p[tlen - 1] == '\t'))
            tlen--;
        if ((tlen == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (tlen == 6 && strncasecmp(p, "x-gzip", 6) == 0)) {
            const char *q = semi != NULL ? strstr(semi, "q=") : NULL;
            if (q == NULL || q >= p + len)
                return true;
            return strtod(q + 2, NULL) > 0;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

/* True when the If-None-Match list holds etag ("*", or weakly equal). */
static bool etag_matches(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
            len -= 2;
        }
        if ((len == 1 && p[0] == '*') || (len == etag_len && memcmp(p, etag, len) == 0))
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

/* The strong validator of a file: size and modification time in hex. */
static const char *make_etag(struct mz_req *req, const struct stat *st, const char *suffix)
{
    unsigned long long mtime_ns = (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                                  (unsigned long long)st->st_mtim.tv_nsec;
    return mz_arena_printf(req->arena, "\"%llx-%llx%s\"", (unsigned long long)st->st_size, mtime_ns,
                           suffix);
}

/* True when a is modified no earlier than b. */
static bool not_older(const struct stat *a, const struct stat *b)
{
    if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
        return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
    return a->st_mtim.tv_nsec >= b->st_mtim.tv_nsec;
}

/* Serve req->path from root; see the file comment. */
int mz_static_serve(struct mz_req *req, const char *root)
{
    struct static_file file = {.fd = -1};
    struct static_file gz = {.fd = -1};
    const char *rel = req->path;
    const char *type;
    const char *etag;
    const char *inm;
    bool use_gz = false;
    int status;

    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        mz_req_add_header(req, "Allow", "GET, HEAD, OPTIONS");
        return mz_fail(req, 405, "method_not_allowed", "不支持该请求方法");
    }
    if (root == NULL || !path_is_safe(rel))
        goto not_found;
    if (strcmp(rel, "/") == 0)
        rel = "/index.html";
    if (open_under(req, root, rel, &file) != MZ_OK) {
        if (has_extension(rel))
            goto not_found;
        rel = "/index.html";
        if (open_under(req, root, rel, &file) != MZ_OK)
            goto not_found;
    }
    type = mz_mime_type(rel);

    /* A precompressed sibling, if fresh: always Vary, served when accepted. */
    if (open_under(req, root, mz_arena_printf(req->arena, "%s.gz", rel), &gz) == MZ_OK) {
        if (not_older(&gz.st, &file.st)) {
            mz_req_add_header(req, "Vary", "Accept-Encoding");
            use_gz = accepts_gzip(req);
        }
        if (!use_gz) {
            close(gz.fd);
            gz.fd = -1;
        }
    }
    if (use_gz) {
        close(file.fd);
        file = gz;
        etag = make_etag(req, &file.st, "-gz");
        mz_req_add_header(req, "Content-Encoding", "gzip");
    } else {
        etag = make_etag(req, &file.st, "");
    }
    mz_req_add_header(req, "ETag", etag);
    mz_req_add_header(req, "Cache-Control",
                      strncmp(req->path, "/assets/", 8) == 0 ? "public, max-age=31536000, immutable"
                                                             : "no-cache");
    if (strncmp(type, "text/html", 9) == 0)
        mz_req_add_header(req, "Content-Security-Policy", HTML_CSP);

    inm = mz_req_header(req, "If-None-Match");
    if (inm != NULL && etag_matches(inm, etag)) {
        close(file.fd);
        req->status = 304;
        req->content_type = type;
        return 304;
    }
    status = mz_reply_file(req, 200, type, file.fd, NULL);
    return status;

not_found:
    return mz_fail(req, 404, "not_found", "请求的资源不存在");
}
