/* router.c - the route table: method + path pattern -> route.
 *
 * A pattern is split once, at mz_router_add(), into segments; a segment is
 * either literal text or "{name}", which matches exactly one non-empty
 * segment. Matching splits the request path the same way and compares it with
 * every route of the same segment count. Only routes of the request's method
 * compete (HEAD is served by GET routes); when the path matches routes of
 * other methods only, the caller is told, for a 405. Several patterns may
 * match one path ("/api/v1/{entity}/export" and "/api/v1/{entity}/{id}"); the
 * one with more literal segments wins, and between equals the one whose
 * literals come earlier. Two routes of one method whose patterns have the
 * same shape are ambiguous and refused at add time, so the winner never
 * depends on order.
 *
 * Invariants: a path that is not absolute, has an empty segment ("//", a
 * trailing slash), or a "." or ".." segment never matches anything. The
 * router is pure (no I/O, no libmicrohttpd) and is tested in
 * tests/unit/test_router.c. Tables are small (hundreds of routes); matching
 * looks only at the routes that can match: those whose literal third segment
 * ("/api/v1/<this>/...") hashes as the path's does, and those of the path's
 * segment count without one (chains kept at mz_router_add). Scanning all 430
 * routes cost ~1.5 % of an authenticated GET. No allocation, except for the
 * parameter values copied into the request's arena.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/http.h"

/* Most segments a pattern or a matched path may have. */
#define ROUTER_MAX_SEGMENTS 16
/* The segment whose literal text picks a route's chain, and the chains. */
#define ROUTER_KEY_SEGMENT 2
#define ROUTER_BUCKETS     256

/* One route with its pattern split into segments. */
struct router_entry {
    const struct mz_route *route;        /* the caller's static descriptor */
    int nsegments;                       /* segments of the pattern ("/" has none) */
    char *segments[ROUTER_MAX_SEGMENTS]; /* literal text, or the parameter's name */
    size_t lengths[ROUTER_MAX_SEGMENTS]; /* strlen of each segments[] */
    bool is_param[ROUTER_MAX_SEGMENTS];  /* true for "{name}" segments */
    uint32_t next;                       /* the next entry of its chain, +1; 0 ends it */
};

/* The route table. */
struct mz_router {
    struct router_entry *entries; /* in insertion order */
    size_t count;                 /* entries used */
    size_t cap;                   /* entries allocated */
    /* Chains of entries (index + 1, 0 ends): by the hash of the segment
     * count and the literal key segment, and by segment count for entries
     * with no literal key segment (fewer segments, or a parameter there). */
    uint32_t keyed[ROUTER_BUCKETS];
    uint32_t unkeyed[ROUTER_MAX_SEGMENTS + 1];
};

/* One segment of a request path: a slice of the caller's string. */
struct path_segment {
    const char *start; /* first byte */
    size_t len;        /* bytes, never 0 */
};

/* The chain of a segment count and key segment text (FNV-1a). */
static size_t bucket_of(int n, const char *s, size_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)n;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h % ROUTER_BUCKETS;
}

/* Create an empty router. */
struct mz_router *mz_router_new(void)
{
    return mz_xcalloc(1, sizeof(struct mz_router));
}

/* Free the router and its split patterns (not the routes themselves). */
void mz_router_free(struct mz_router *router)
{
    if (router == NULL)
        return;
    for (size_t i = 0; i < router->count; i++) {
        for (int s = 0; s < router->entries[i].nsegments; s++)
            free(router->entries[i].segments[s]);
    }
    free(router->entries);
    free(router);
}

/* Split an absolute path into segments. Returns the count, or -1 when the
 * path is not absolute, has an empty, "." or ".." segment, or too many. "/"
 * has no segments. */
static int split_path(const char *path, struct path_segment *out)
{
    int n = 0;
    const char *p;

    if (path == NULL || path[0] != '/')
        return -1;
    if (path[1] == '\0')
        return 0;
    p = path + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return -1;
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return -1;
        if (n == ROUTER_MAX_SEGMENTS)
            return -1;
        out[n].start = p;
        out[n].len = len;
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return n;
}

/* True when two entries of one method would match exactly the same paths. */
static bool same_shape(const struct router_entry *a, const struct router_entry *b)
{
    if (a->nsegments != b->nsegments)
        return false;
    for (int i = 0; i < a->nsegments; i++) {
        if (a->is_param[i] != b->is_param[i])
            return false;
        if (!a->is_param[i] && strcmp(a->segments[i], b->segments[i]) != 0)
            return false;
    }
    return true;
}

/* Add a route. MZ_ERR_INVALID for a malformed pattern (not absolute, empty
 * segment, "{" not spanning a whole segment, more than MZ_MAX_PATH_PARAMS
 * parameters, too many segments), MZ_ERR_CONFLICT when a route of the same
 * method already has the same shape. */
int mz_router_add(struct mz_router *router, const struct mz_route *route)
{
    struct path_segment segs[ROUTER_MAX_SEGMENTS];
    struct router_entry entry;
    int nparams = 0;
    int n;
    int rc = MZ_OK;

    memset(&entry, 0, sizeof(entry));
    if (route == NULL || route->method == NULL || route->handler == NULL) {
        mz_error("router: route without method or handler");
        return MZ_ERR_INVALID;
    }
    n = split_path(route->pattern, segs);
    if (n < 0) {
        mz_error("router: bad pattern %s", route->pattern ? route->pattern : "(null)");
        return MZ_ERR_INVALID;
    }
    entry.route = route;
    for (int i = 0; i < n; i++) {
        const char *s = segs[i].start;
        size_t len = segs[i].len;
        bool has_brace = memchr(s, '{', len) != NULL || memchr(s, '}', len) != NULL;
        if (has_brace) {
            if (len < 3 || s[0] != '{' || s[len - 1] != '}' ||
                memchr(s + 1, '{', len - 2) != NULL || memchr(s + 1, '}', len - 2) != NULL) {
                mz_error("router: bad parameter in pattern %s", route->pattern);
                rc = MZ_ERR_INVALID;
                goto out;
            }
            if (++nparams > MZ_MAX_PATH_PARAMS) {
                mz_error("router: too many parameters in pattern %s", route->pattern);
                rc = MZ_ERR_INVALID;
                goto out;
            }
            entry.is_param[i] = true;
            s++;
            len -= 2;
        }
        entry.segments[i] = mz_xmalloc(len + 1);
        memcpy(entry.segments[i], s, len);
        entry.segments[i][len] = '\0';
        entry.lengths[i] = len;
        entry.nsegments = i + 1;
    }
    entry.nsegments = n;
    for (size_t i = 0; i < router->count; i++) {
        if (strcmp(router->entries[i].route->method, route->method) == 0 &&
            same_shape(&router->entries[i], &entry)) {
            mz_error("router: %s %s is ambiguous with %s", route->method, route->pattern,
                     router->entries[i].route->pattern);
            rc = MZ_ERR_CONFLICT;
            goto out;
        }
    }
    if (router->count == router->cap) {
        router->cap = router->cap ? router->cap * 2 : 32;
        router->entries = mz_xrealloc(router->entries, router->cap * sizeof(*router->entries));
    }
    {
        uint32_t *head = n > ROUTER_KEY_SEGMENT && !entry.is_param[ROUTER_KEY_SEGMENT]
                             ? &router->keyed[bucket_of(n, entry.segments[ROUTER_KEY_SEGMENT],
                                                        entry.lengths[ROUTER_KEY_SEGMENT])]
                             : &router->unkeyed[n];
        entry.next = *head;
        router->entries[router->count++] = entry;
        *head = (uint32_t)router->count;
    }
    return MZ_OK;
out:
    for (int i = 0; i < entry.nsegments; i++)
        free(entry.segments[i]);
    return rc;
}

/* True when a request of this method is served by the route (HEAD by GET). */
static bool method_matches(const struct mz_route *route, const char *method)
{
    if (strcmp(route->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0;
}

/* The entry's specificity if it matches the split path, else -1: the number
 * of literal segments in the high bits, then one bit per literal segment with
 * the first segment highest, so more literals win and earlier literals break
 * ties. */
static long entry_score(const struct router_entry *e, const struct path_segment *segs, int n)
{
    long literals = 0;
    long mask = 0;

    if (e->nsegments != n)
        return -1;
    for (int i = 0; i < n; i++) {
        if (e->is_param[i])
            continue;
        if (e->lengths[i] != segs[i].len || memcmp(e->segments[i], segs[i].start, segs[i].len) != 0)
            return -1;
        literals++;
        mask |= 1L << (ROUTER_MAX_SEGMENTS - 1 - i);
    }
    return (literals << ROUTER_MAX_SEGMENTS) | mask;
}

/* Find the best route for method and path; see the file comment. Fills the
 * path parameters of req (copied into req->arena) when req is not NULL. */
const struct mz_route *mz_router_match(const struct mz_router *router, const char *method,
                                       const char *path, struct mz_req *req, bool *method_mismatch)
{
    struct path_segment segs[ROUTER_MAX_SEGMENTS];
    const struct router_entry *best = NULL;
    long best_score = -1;
    bool mismatch = false;
    int n;

    if (method_mismatch != NULL)
        *method_mismatch = false;
    if (req != NULL)
        req->nparams = 0;
    n = split_path(path, segs);
    if (n < 0 || method == NULL)
        return NULL;
    /* The entries that can match: the path's keyed chain, then the unkeyed one. */
    uint32_t chains[2] = {n > ROUTER_KEY_SEGMENT
                              ? router->keyed[bucket_of(n, segs[ROUTER_KEY_SEGMENT].start,
                                                        segs[ROUTER_KEY_SEGMENT].len)]
                              : 0,
                          router->unkeyed[n]};
    for (int c = 0; c < 2; c++) {
        for (uint32_t i = chains[c]; i != 0; i = router->entries[i - 1].next) {
            const struct router_entry *e = &router->entries[i - 1];
            long score = entry_score(e, segs, n);
            if (score < 0)
                continue;
            if (!method_matches(e->route, method)) {
                mismatch = true;
                continue;
            }
            /* An exact method match beats HEAD-served-by-GET of the same shape. */
            if (score > best_score ||
                (score == best_score && strcmp(e->route->method, method) == 0)) {
                best = e;
                best_score = score;
            }
        }
    }
    if (best == NULL) {
        if (method_mismatch != NULL)
            *method_mismatch = mismatch;
        return NULL;
    }
    if (req != NULL) {
        for (int i = 0; i < n; i++) {
            if (!best->is_param[i])
                continue;
            req->param_names[req->nparams] = best->segments[i];
            req->param_values[req->nparams] =
                mz_arena_strndup(req->arena, segs[i].start, segs[i].len);
            req->nparams++;
        }
    }
    return best->route;
}

/* Methods in the order an Allow header lists them. */
static const char *const allow_order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

/* The Allow header value for path ("GET, HEAD, OPTIONS"), from the arena, or
 * NULL when no route's pattern matches the path. */
const char *mz_router_allow(const struct mz_router *router, const char *path,
                            struct mz_arena *arena)
{
    struct path_segment segs[ROUTER_MAX_SEGMENTS];
    bool allowed[MZ_ARRAY_LEN(allow_order)] = {false};
    bool any = false;
    char out[96];
    size_t len = 0;
    int n = split_path(path, segs);

    if (n < 0)
        return NULL;
    for (size_t i = 0; i < router->count; i++) {
        const struct router_entry *e = &router->entries[i];
        if (entry_score(e, segs, n) < 0)
            continue;
        any = true;
        for (size_t m = 0; m < MZ_ARRAY_LEN(allow_order); m++) {
            if (strcmp(e->route->method, allow_order[m]) == 0)
                allowed[m] = true;
        }
        if (strcmp(e->route->method, "GET") == 0)
            allowed[1] = true; /* HEAD */
    }
    if (!any)
        return NULL;
    out[0] = '\0';
    for (size_t m = 0; m < MZ_ARRAY_LEN(allow_order); m++) {
        if (allowed[m])
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s, ", allow_order[m]);
    }
    snprintf(out + len, sizeof(out) - len, "OPTIONS");
    return mz_arena_strdup(arena, out);
}

/* Number of routes, for iteration. */
size_t mz_router_count(const struct mz_router *router)
{
    return router->count;
}

/* The i-th route in insertion order, or NULL past the end. */
const struct mz_route *mz_router_at(const struct mz_router *router, size_t i)
{
    return i < router->count ? router->entries[i].route : NULL;
}
