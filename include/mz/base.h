/* base.h - the few things every file of minzheng uses.
 *
 * One result type (enum mz_err: 0 or negative), allocation that aborts on
 * out-of-memory (one policy, so there are no untested NULL branches), the
 * per-request arena (everything a request needs is taken from it and freed
 * once), a growable byte buffer with a hard cap, and the English log.
 */
#ifndef MZ_BASE_H
#define MZ_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define MZ_VERSION "0.1.0"

/* Every fallible function returns MZ_OK or one of these (negative). */
enum mz_err {
    MZ_OK = 0,
    MZ_ERR_NOMEM = -1,      /* allocation failed (only from fault injection) */
    MZ_ERR_INVALID = -2,    /* bad input */
    MZ_ERR_NOTFOUND = -3,   /* no such row / file / name */
    MZ_ERR_CONFLICT = -4,   /* unique violation, stale version, illegal transition */
    MZ_ERR_BUSY = -5,       /* database locked beyond the busy timeout */
    MZ_ERR_IO = -6,         /* file system or socket failure */
    MZ_ERR_DB = -7,         /* any other database failure */
    MZ_ERR_CONSTRAINT = -8, /* foreign key / check constraint */
    MZ_ERR_TOOBIG = -9,     /* a cap was exceeded */
    MZ_ERR_FORBIDDEN = -10, /* not allowed */
    MZ_ERR_INTERNAL = -11,  /* a bug: should never be seen */
};

/* Short English name of an error ("conflict"), for logs. */
const char *mz_err_name(int err);

/* --- allocation: abort on failure --------------------------------------- */
void *mz_xmalloc(size_t size);
void *mz_xcalloc(size_t n, size_t size);
void *mz_xrealloc(void *p, size_t size);
char *mz_xstrdup(const char *s);

/* --- arena ---------------------------------------------------------------- */
/* A bump allocator in chunks. Not thread-safe: one per request or job. */
struct mz_arena;

struct mz_arena *mz_arena_new(void);
void mz_arena_free(struct mz_arena *arena);
/* Memory aligned for any type; never NULL. */
void *mz_arena_alloc(struct mz_arena *arena, size_t size);
void *mz_arena_calloc(struct mz_arena *arena, size_t n, size_t size);
char *mz_arena_strdup(struct mz_arena *arena, const char *s);
char *mz_arena_strndup(struct mz_arena *arena, const char *s, size_t n);
char *mz_arena_printf(struct mz_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for tests and caps). */
size_t mz_arena_used(const struct mz_arena *arena);
/* Forget everything handed out, keeping one chunk for reuse: a loop that
 * needs scratch memory per item (an import row) stays flat. */
void mz_arena_reset(struct mz_arena *arena);

/* --- growable buffer with a hard cap ------------------------------------ */
struct mz_buf {
    char *data;  /* NUL-terminated while len < cap */
    size_t len;  /* bytes used, excluding the terminator */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard cap on len; 0 means 1 GiB */
};

void mz_buf_init(struct mz_buf *buf, size_t max);
/* MZ_ERR_TOOBIG when len would exceed max; the buffer is then unchanged. */
int mz_buf_append(struct mz_buf *buf, const void *data, size_t len);
int mz_buf_puts(struct mz_buf *buf, const char *s);
int mz_buf_printf(struct mz_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mz_buf_reset(struct mz_buf *buf);
void mz_buf_free(struct mz_buf *buf);
/* Hand the bytes to the caller (malloc'd; free() them); the buffer is empty after. */
char *mz_buf_steal(struct mz_buf *buf, size_t *len);

/* --- log: English, lowercase, JSON lines on stderr or a file ------------ */
enum mz_log_level { MZ_LOG_DEBUG, MZ_LOG_INFO, MZ_LOG_WARN, MZ_LOG_ERROR };

void mz_log_set_level(enum mz_log_level level);
/* Write log lines to this fd (default 2). */
void mz_log_set_fd(int fd);
void mz_log(enum mz_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mz_debug(...) mz_log(MZ_LOG_DEBUG, __VA_ARGS__)
#define mz_info(...) mz_log(MZ_LOG_INFO, __VA_ARGS__)
#define mz_warn(...) mz_log(MZ_LOG_WARN, __VA_ARGS__)
#define mz_error(...) mz_log(MZ_LOG_ERROR, __VA_ARGS__)

/* --- time ------------------------------------------------------------------ */
/* Microseconds since the epoch (CLOCK_REALTIME) and a monotonic clock. */
int64_t mz_now_us(void);
int64_t mz_mono_us(void);
/* Now as RFC 3339 UTC with milliseconds, "2026-11-28T23:31:35.123Z", into out[32]. */
void mz_now_rfc3339(char out[32]);
/* Today's date in Asia/Shanghai (UTC+8, no DST) as "YYYY-MM-DD", into out[11]. */
void mz_today(char out[11]);

#define MZ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
