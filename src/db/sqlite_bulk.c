/* sqlite_bulk.c - larger reads and writes for a one-shot bulk load (SQLite).
 *
 * SQLite reads and writes a file a page (4 KB) per system call: the demo
 * load (src/registry/demo.c) streams gigabytes that way - the persons rows
 * written, each persons index build's pass over the whole table, its
 * sorter's runs written to temporary files and read back at each merge
 * level, the side databases written and copied. On this kind of virtual
 * machine a 4 KB pread costs ~2.3 us of CPU, a 128 KB one ~0.6 us per 4 KB
 * (bench/notes.md, the demo's sixth round). This VFS wraps the default one
 * (mz_db_bulk_vfs_install makes it the default, before the connections are
 * opened); while bulk I/O is on (mz_db_bulk_io), each database file and
 * temporary file opened through it:
 *  - reads ahead: a read that continues a run of reads of the file (at the
 *    offset after the last read of the run, or a little beyond it: a table's
 *    leaf pages with an interior page between them) fills a buffer of
 *    BULK_READ bytes with one call, and the reads that follow are copied from
 *    it. A file keeps BULK_STREAMS runs at once (an index build's sorter
 *    merges up to 16 runs of one file, read in turn); a read that continues
 *    none is passed through and starts a run (the least recently used);
 *  - gathers writes: a write at the offset where the pending ones end is
 *    appended to a buffer of BULK_WRITE bytes, written with one call when
 *    full and before anything that must see the file as written: a read of
 *    those bytes, its size, a truncation, a sync, a lock change, a file
 *    control, a memory map, a close. A write also updates the read-ahead
 *    buffers it overlaps.
 * The buffers are a file handle's own: bulk I/O is only for files no other
 * connection or process reads or writes meanwhile (the demo's database with
 * journal_mode=OFF, its side databases, the sorters' temporary files). When
 * it is turned off, each file writes what it holds and drops its buffers
 * at its next call; with it off the VFS passes every call straight through.
 * The rollback journal, the WAL and statement journals are never buffered.
 * Tested by tests/unit/test_db.c (coherence of reads, writes, sizes and
 * truncation) and tests/unit/test_registry.c (a demo load through it gives
 * the same rows).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db/db_internal.h"
#include "db/sqlite_vfs.h"
#include "mz/base.h"
#include "mz/db.h"

/* Bytes read ahead at once, and of contiguous writes gathered: 124 KB, as
 * the unix VFS passes at most 0x1ffff bytes to one pread or pwrite (it masks
 * the count: a read or write of 128 KB would be one of 0 bytes). */
#define BULK_READ    (124 * 1024)
#define BULK_WRITE   (124 * 1024)
#define BULK_STREAMS 20          /* runs of reads followed per file */
#define BULK_GAP     (64 * 1024) /* a read this far past a run's end still continues it */

/* The open flags of the files that are buffered. */
#define BULK_FILES                                                                                 \
    (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL |                        \
     SQLITE_OPEN_TRANSIENT_DB)

static atomic_bool bulk_on;
static sqlite3_vfs *bulk_base; /* the VFS wrapped */
static sqlite3_vfs bulk_vfs;

/* A run of reads: the bytes [base, base + len) of the file in buf, the
 * offset after the run's last read, and when it was last used. */
struct bulk_stream {
    sqlite3_int64 base, next;
    int len;
    unsigned char *buf;
    uint64_t used;
};

/* An open file: the wrapped file follows this struct (szOsFile). */
struct bulk_file {
    struct mz_vfs_file w; /* pMethods: bulk_io; w.real: the base VFS's file, after this struct */
    bool buffered;        /* a kind of file bulk I/O applies to */
    bool active;          /* holds buffers (bulk I/O was on at its last call) */
    struct bulk_stream streams[BULK_STREAMS];
    uint64_t clock;
    unsigned char *wbuf; /* pending writes: [wbase, wbase + wlen) */
    sqlite3_int64 wbase;
    int wlen;
};

/* Write the pending writes out. */
static int bulk_flush(struct bulk_file *f)
{
    if (f->wlen == 0)
        return SQLITE_OK;
    int rc = f->w.real->pMethods->xWrite(f->w.real, f->wbuf, f->wlen, f->wbase);
    f->wlen = 0;
    return rc;
}

/* Forget the read-ahead buffers' contents. */
static void bulk_drop_reads(struct bulk_file *f)
{
    for (int i = 0; i < BULK_STREAMS; i++) {
        f->streams[i].len = 0;
        f->streams[i].next = -1;
    }
}

/* Bring the file in line with the switch before any call: with bulk I/O
 * off, write what is pending and free the buffers. */
static int bulk_sync_state(struct bulk_file *f)
{
    if (!f->buffered)
        return SQLITE_OK;
    bool on = atomic_load_explicit(&bulk_on, memory_order_relaxed);
    if (on && !f->active) {
        f->active = true;
        bulk_drop_reads(f);
        return SQLITE_OK;
    }
    if (on || !f->active)
        return SQLITE_OK;
    int rc = bulk_flush(f);
    free(f->wbuf);
    f->wbuf = NULL;
    for (int i = 0; i < BULK_STREAMS; i++) {
        free(f->streams[i].buf);
        f->streams[i].buf = NULL;
        f->streams[i].len = 0;
    }
    f->active = false;
    return rc;
}

/* Whether [a, a + an) and [b, b + bn) overlap. */
static bool overlaps(sqlite3_int64 a, sqlite3_int64 an, sqlite3_int64 b, sqlite3_int64 bn)
{
    return a < b + bn && b < a + an;
}

static int bulk_close(sqlite3_file *file)
{
    struct bulk_file *f = (struct bulk_file *)file;
    int rc = f->active ? bulk_flush(f) : SQLITE_OK;
    free(f->wbuf);
    for (int i = 0; i < BULK_STREAMS; i++)
        free(f->streams[i].buf);
    int rc2 = f->w.real->pMethods ? f->w.real->pMethods->xClose(f->w.real) : SQLITE_OK;
    return rc != SQLITE_OK ? rc : rc2;
}

/* Fill stream s with the bytes from off on (as many as the file has, up
 * to BULK_READ); false when fewer than need are there. */
static int bulk_fill(struct bulk_file *f, struct bulk_stream *s, sqlite3_int64 off, int need,
                     bool *filled)
{
    sqlite3_int64 size = 0;
    *filled = false;
    int rc = f->w.real->pMethods->xFileSize(f->w.real, &size);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_int64 len = size - off < BULK_READ ? size - off : BULK_READ;
    if (len < need)
        return SQLITE_OK;
    if (s->buf == NULL)
        s->buf = mz_xmalloc(BULK_READ);
    s->len = 0;
    rc = f->w.real->pMethods->xRead(f->w.real, s->buf, (int)len, off);
    if (rc == SQLITE_IOERR_SHORT_READ)
        return SQLITE_OK; /* shorter than its size said: read directly instead */
    if (rc != SQLITE_OK)
        return rc;
    s->base = off;
    s->len = (int)len;
    *filled = true;
    return SQLITE_OK;
}

static int bulk_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    struct bulk_file *f = (struct bulk_file *)file;
    int rc = bulk_sync_state(f);
    if (rc != SQLITE_OK || !f->active)
        return rc != SQLITE_OK ? rc : f->w.real->pMethods->xRead(f->w.real, buf, amt, off);
    if (f->wlen && overlaps(off, amt, f->wbase, f->wlen) && (rc = bulk_flush(f)) != SQLITE_OK)
        return rc;
    struct bulk_stream *hit = NULL, *lru = &f->streams[0];
    for (int i = 0; i < BULK_STREAMS; i++) {
        struct bulk_stream *s = &f->streams[i];
        if (s->len && off >= s->base && off + amt <= s->base + s->len) {
            hit = s;
            break;
        }
        if (s->used < lru->used)
            lru = s;
    }
    if (hit == NULL && amt < BULK_READ) {
        /* A run continued: read ahead from here. */
        for (int i = 0; i < BULK_STREAMS; i++) {
            struct bulk_stream *s = &f->streams[i];
            if (s->next >= 0 && off >= s->next && off < s->next + BULK_GAP) {
                if (f->wlen && overlaps(off, BULK_READ, f->wbase, f->wlen) &&
                    (rc = bulk_flush(f)) != SQLITE_OK)
                    return rc;
                bool filled;
                if ((rc = bulk_fill(f, s, off, amt, &filled)) != SQLITE_OK)
                    return rc;
                if (filled)
                    hit = s;
                break;
            }
        }
    }
    if (hit) {
        memcpy(buf, hit->buf + (off - hit->base), (size_t)amt);
        hit->next = off + amt;
        hit->used = ++f->clock;
        return SQLITE_OK;
    }
    /* Passed through; a run may start here. */
    lru->len = 0;
    lru->next = off + amt;
    lru->used = ++f->clock;
    return f->w.real->pMethods->xRead(f->w.real, buf, amt, off);
}

static int bulk_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
    struct bulk_file *f = (struct bulk_file *)file;
    int rc = bulk_sync_state(f);
    if (rc != SQLITE_OK || !f->active)
        return rc != SQLITE_OK ? rc : f->w.real->pMethods->xWrite(f->w.real, buf, amt, off);
    /* The read-ahead buffers see the write. */
    for (int i = 0; i < BULK_STREAMS; i++) {
        struct bulk_stream *s = &f->streams[i];
        if (s->len == 0 || !overlaps(off, amt, s->base, s->len))
            continue;
        sqlite3_int64 from = off > s->base ? off : s->base;
        sqlite3_int64 to = off + amt < s->base + s->len ? off + amt : s->base + s->len;
        memcpy(s->buf + (from - s->base), (const unsigned char *)buf + (from - off),
               (size_t)(to - from));
    }
    if (f->wlen && off >= f->wbase && off + amt <= f->wbase + f->wlen) {
        memcpy(f->wbuf + (off - f->wbase), buf, (size_t)amt); /* a pending page again */
        return SQLITE_OK;
    }
    if (f->wlen && off == f->wbase + f->wlen && f->wlen + amt <= BULK_WRITE) {
        memcpy(f->wbuf + f->wlen, buf, (size_t)amt);
        f->wlen += amt;
        return SQLITE_OK;
    }
    if ((rc = bulk_flush(f)) != SQLITE_OK)
        return rc;
    if (amt >= BULK_WRITE)
        return f->w.real->pMethods->xWrite(f->w.real, buf, amt, off);
    if (f->wbuf == NULL)
        f->wbuf = mz_xmalloc(BULK_WRITE);
    memcpy(f->wbuf, buf, (size_t)amt);
    f->wbase = off;
    f->wlen = amt;
    return SQLITE_OK;
}

/* Write what is pending before the call (and, for a truncation or a new
 * lock, forget what was read ahead). */
static int bulk_before(sqlite3_file *file, bool drop_reads)
{
    struct bulk_file *f = (struct bulk_file *)file;
    int rc = bulk_sync_state(f);
    if (rc == SQLITE_OK && f->active) {
        rc = bulk_flush(f);
        if (drop_reads)
            bulk_drop_reads(f);
    }
    return rc;
}

static sqlite3_file *real_of(sqlite3_file *file)
{
    return ((struct bulk_file *)file)->w.real;
}

static int bulk_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    int rc = bulk_before(file, true);
    return rc != SQLITE_OK ? rc : real_of(file)->pMethods->xTruncate(real_of(file), size);
}

static int bulk_sync(sqlite3_file *file, int flags)
{
    int rc = bulk_before(file, false);
    return rc != SQLITE_OK ? rc : real_of(file)->pMethods->xSync(real_of(file), flags);
}

static int bulk_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    int rc = bulk_before(file, false);
    return rc != SQLITE_OK ? rc : real_of(file)->pMethods->xFileSize(real_of(file), size);
}

static int bulk_lock(sqlite3_file *file, int lock)
{
    /* A shared lock taken anew: the file may have changed meanwhile. */
    int rc = bulk_before(file, lock == SQLITE_LOCK_SHARED);
    return rc != SQLITE_OK ? rc : real_of(file)->pMethods->xLock(real_of(file), lock);
}

static int bulk_unlock(sqlite3_file *file, int lock)
{
    int rc = bulk_before(file, false);
    int rc2 = real_of(file)->pMethods->xUnlock(real_of(file), lock);
    return rc != SQLITE_OK ? rc : rc2;
}

static int bulk_file_control(sqlite3_file *file, int op, void *arg)
{
    int rc = bulk_before(file, false);
    return rc != SQLITE_OK ? rc : real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}

static int bulk_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
    sqlite3_file *r = real_of(file);
    *out = NULL;
    int rc = bulk_before(file, false); /* the map shows the file as written */
    if (rc != SQLITE_OK || r->pMethods->iVersion < 3)
        return rc;
    return r->pMethods->xFetch(r, off, amt, out);
}

static const sqlite3_io_methods bulk_io = {
    .iVersion = 3,
    .xClose = bulk_close,
    .xRead = bulk_read,
    .xWrite = bulk_write,
    .xTruncate = bulk_truncate,
    .xSync = bulk_sync,
    .xFileSize = bulk_file_size,
    .xLock = bulk_lock,
    .xUnlock = bulk_unlock,
    .xCheckReservedLock = mz_vfs_pass_check_reserved,
    .xFileControl = bulk_file_control,
    .xSectorSize = mz_vfs_pass_sector_size,
    .xDeviceCharacteristics = mz_vfs_pass_device_characteristics,
    .xShmMap = mz_vfs_pass_shm_map,
    .xShmLock = mz_vfs_pass_shm_lock,
    .xShmBarrier = mz_vfs_pass_shm_barrier,
    .xShmUnmap = mz_vfs_pass_shm_unmap,
    .xFetch = bulk_fetch,
    .xUnfetch = mz_vfs_pass_unfetch,
};

static int bulk_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                     int *out_flags)
{
    struct bulk_file *f = (struct bulk_file *)file;
    (void)vfs;
    memset(f, 0, sizeof(*f));
    f->w.real = (sqlite3_file *)(f + 1);
    f->buffered = (flags & BULK_FILES) != 0;
    int rc = bulk_base->xOpen(bulk_base, name, f->w.real, flags, out_flags);
    /* The base's xClose is called through ours even when its open failed
     * with methods set (SQLite calls xClose if pMethods is not NULL). */
    file->pMethods = f->w.real->pMethods ? &bulk_io : NULL;
    return rc;
}

int mz_db_bulk_vfs_install(void)
{
    if (bulk_base != NULL)
        return MZ_OK;
    mz_sqlite_configure(); /* settings that must come before sqlite3_initialize */
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);
    if (mz_vfs_wrap(&bulk_vfs, base, "mz-bulk", (int)sizeof(struct bulk_file), bulk_open) != MZ_OK)
        return MZ_ERR_DB;
    bulk_base = base;
    if (sqlite3_vfs_register(&bulk_vfs, 1) != SQLITE_OK) {
        bulk_base = NULL;
        return MZ_ERR_DB;
    }
    return MZ_OK;
}

bool mz_db_bulk_io(bool on)
{
    if (bulk_base == NULL || sqlite3_vfs_find(NULL) != &bulk_vfs)
        return false;
    atomic_store(&bulk_on, on);
    return true;
}
