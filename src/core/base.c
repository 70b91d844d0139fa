/* base.c - errors, allocation, arena, buffers, log and clocks.
 *
 * The arena hands out memory from 16 KiB chunks (larger requests get a chunk
 * of their own) and frees them all at once. Each chunk is a separate malloc so
 * ASan sees overruns at chunk ends. Allocation failure aborts: minzheng has
 * one out-of-memory policy and no untested NULL branches.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mz/base.h"

const char *mz_err_name(int err)
{
    switch (err) {
    case MZ_OK: return "ok";
    case MZ_ERR_NOMEM: return "out of memory";
    case MZ_ERR_INVALID: return "invalid";
    case MZ_ERR_NOTFOUND: return "not found";
    case MZ_ERR_CONFLICT: return "conflict";
    case MZ_ERR_BUSY: return "busy";
    case MZ_ERR_IO: return "io error";
    case MZ_ERR_DB: return "database error";
    case MZ_ERR_CONSTRAINT: return "constraint";
    case MZ_ERR_TOOBIG: return "too big";
    case MZ_ERR_FORBIDDEN: return "forbidden";
    case MZ_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

static void out_of_memory(size_t size)
{
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"out of memory allocating %zu bytes\"}\n", size);
    abort();
}

void *mz_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *mz_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *mz_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        out_of_memory(size);
    return q;
}

char *mz_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mz_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* --- arena ------------------------------------------------------------------ */
#define ARENA_CHUNK 16384
#define ARENA_ALIGN 16

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct mz_arena {
    struct arena_chunk *head;
    size_t total;
};

struct mz_arena *mz_arena_new(void)
{
    return mz_xcalloc(1, sizeof(struct mz_arena));
}

/* One standard chunk kept per thread for the next arena: a request's arena
 * is created and freed on the same worker thread, so most requests then
 * cost no malloc/free of 16 KiB (which glibc serves from its bins, not its
 * per-thread cache). Not under AddressSanitizer, which must see every
 * chunk freed to catch a use after free. The chunk is freed when its
 * thread ends. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_KEEP_SPARE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_KEEP_SPARE 0
#endif
#endif
#ifndef ARENA_KEEP_SPARE
#define ARENA_KEEP_SPARE 1
#endif

#if ARENA_KEEP_SPARE
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static _Thread_local struct arena_chunk *spare_chunk;

static void spare_make_key(void)
{
    if (pthread_key_create(&spare_key, free) != 0)
        abort();
}
#endif

/* A standard chunk: this thread's spare, or a new one. */
static struct arena_chunk *chunk_take(void)
{
#if ARENA_KEEP_SPARE
    struct arena_chunk *c = spare_chunk;
    if (c != NULL) {
        spare_chunk = NULL;
        pthread_setspecific(spare_key, NULL);
        return c;
    }
#endif
    return mz_xmalloc(sizeof(struct arena_chunk) + ARENA_CHUNK);
}

/* Give a chunk back: a standard one becomes this thread's spare if it has
 * none, anything else is freed. */
static void chunk_give(struct arena_chunk *c)
{
#if ARENA_KEEP_SPARE
    if (c->size == ARENA_CHUNK && spare_chunk == NULL) {
        pthread_once(&spare_once, spare_make_key);
        if (pthread_setspecific(spare_key, c) == 0) {
            spare_chunk = c;
            return;
        }
    }
#endif
    free(c);
}

void mz_arena_free(struct mz_arena *arena)
{
    if (arena == NULL)
        return;
    struct arena_chunk *c = arena->head;
    while (c != NULL) {
        struct arena_chunk *next = c->next;
        chunk_give(c);
        c = next;
    }
    free(arena);
}

void *mz_arena_alloc(struct mz_arena *arena, size_t size)
{
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    struct arena_chunk *c = arena->head;
    if (c == NULL || c->size - c->used < need) {
        size_t chunk = need > ARENA_CHUNK / 2 ? need : ARENA_CHUNK;
        struct arena_chunk *n =
            chunk == ARENA_CHUNK ? chunk_take() : mz_xmalloc(sizeof(*n) + chunk);
        n->size = chunk;
        n->used = 0;
        if (c != NULL && need > ARENA_CHUNK / 2) {
            /* A big block: put it behind the current chunk so the current
             * chunk's free space stays usable. */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            arena->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += need;
    arena->total += need;
    return p;
}

void *mz_arena_calloc(struct mz_arena *arena, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    void *p = mz_arena_alloc(arena, n * size);
    memset(p, 0, n * size);
    return p;
}

char *mz_arena_strndup(struct mz_arena *arena, const char *s, size_t n)
{
    char *p = mz_arena_alloc(arena, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mz_arena_strdup(struct mz_arena *arena, const char *s)
{
    return s == NULL ? NULL : mz_arena_strndup(arena, s, strlen(s));
}

char *mz_arena_printf(struct mz_arena *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = mz_arena_alloc(arena, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t mz_arena_used(const struct mz_arena *arena)
{
    return arena->total;
}

void mz_arena_reset(struct mz_arena *arena)
{
    struct arena_chunk *keep = NULL, *c = arena->head;
    while (c != NULL) {
        struct arena_chunk *next = c->next;
        if (keep == NULL && c->size == ARENA_CHUNK)
            keep = c;
        else
            chunk_give(c);
        c = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    arena->head = keep;
    arena->total = 0;
}

/* --- buffer ----------------------------------------------------------------- */
#define BUF_DEFAULT_MAX ((size_t)1 << 30)

void mz_buf_init(struct mz_buf *buf, size_t max)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max ? max : BUF_DEFAULT_MAX;
}

int mz_buf_append(struct mz_buf *buf, const void *data, size_t len)
{
    if (len > buf->max - buf->len)
        return MZ_ERR_TOOBIG;
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + len + 1)
            cap *= 2;
        buf->data = mz_xrealloc(buf->data, cap);
        buf->cap = cap;
    }
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return MZ_OK;
}

int mz_buf_puts(struct mz_buf *buf, const char *s)
{
    return mz_buf_append(buf, s, strlen(s));
}

int mz_buf_printf(struct mz_buf *buf, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return MZ_ERR_INVALID;
    if ((size_t)n < sizeof(small))
        return mz_buf_append(buf, small, (size_t)n);
    char *big = mz_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = mz_buf_append(buf, big, (size_t)n);
    free(big);
    return rc;
}

void mz_buf_reset(struct mz_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void mz_buf_free(struct mz_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

char *mz_buf_steal(struct mz_buf *buf, size_t *len)
{
    char *p = buf->data ? buf->data : mz_xstrdup("");
    if (len)
        *len = buf->len;
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return p;
}

/* --- log ---------------------------------------------------------------------- */
static enum mz_log_level log_level = MZ_LOG_INFO;
static int log_fd = 2;

void mz_log_set_level(enum mz_log_level level)
{
    log_level = level;
}

void mz_log_set_fd(int fd)
{
    log_fd = fd;
}

static void json_escape_into(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

void mz_log(enum mz_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_level)
        return;
    char msg[1024], esc[2048], ts[32], line[2200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_escape_into(esc, sizeof(esc), msg);
    mz_now_rfc3339(ts);
    int n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                     names[level], esc);
    if (n > 0) {
        ssize_t w = write(log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
}

/* --- time ------------------------------------------------------------------- */
int64_t mz_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mz_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void mz_now_rfc3339(char out[32])
{
    /* The date and time to the second formatted once per second and thread
     * (a write stamps its row, its history and its audit entry: a large
     * import called gmtime_r and strftime three times a row). */
    static _Thread_local time_t head_sec = (time_t)-1;
    static _Thread_local char head[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != head_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
        head_sec = ts.tv_sec;
    }
    int ms = (int)(ts.tv_nsec / 1000000) % 1000;
    memcpy(out, head, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

void mz_today(char out[11])
{
    time_t t = time(NULL) + 8 * 3600; /* Asia/Shanghai has no DST */
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}
