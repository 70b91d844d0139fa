/* sqlite_map.c - a server's VFS (SQLite): one memory map of a database
 * file for all of the process's connections, kept across commits, and WAL
 * read locks kept between a connection's read transactions.
 *
 * 1. The map. SQLite's own memory map (the unix VFS's xFetch) belongs to
 * one connection and is dropped whole - munmap, and a page fault for every
 * page touched again - whenever a read transaction begins after any other
 * connection committed (the pager calls xUnfetch(0, 0) then). The audit
 * queue commits every 20 ms under unmasked reads, so a server's worker
 * connections could not keep a map and read every page not in their page
 * cache with a pread, and the same commits empty the page cache (~2 preads
 * per person GET, bench/notes.md). In WAL mode nothing needs the map
 * dropped: commits go to the WAL, which the pager consults before it fetches
 * a page from the map, and the database file is only written by checkpoints,
 * which never overwrite a page that a reader's snapshot may still read from
 * the file. On Linux a shared mapping shows the file's current bytes,
 * written by pwrite through any descriptor. For a main database file:
 *  - the file is mapped once per process (files are told apart by device
 *    and inode), read-only, over more address space than the file has
 *    (map_reserve_min, or twice its size) so that it can grow into the map;
 *    only the pages read take memory, and they are the kernel's page cache,
 *    counted once however many connections read them;
 *  - xFetch hands the pager a pointer into the map for a page that lies
 *    wholly inside the file as this connection last saw it (its size read
 *    with fstat when the pager last said the file changed: xUnfetch(0, 0));
 *    a page beyond (the file grew since, or past the map) gets no pointer
 *    and is read with xRead, as without a map;
 *  - xUnfetch(0, 0) reads the file's size again instead of unmapping; a
 *    file grown past its map gets a larger one (the old one is kept until
 *    the last connection to the file closes: other connections may still
 *    read through it), and a truncation (xTruncate) shortens what is handed
 *    out at once;
 *  - PRAGMA mmap_size (SQLITE_FCNTL_MMAP_SIZE) only turns fetching on (> 0)
 *    or off (0): the map covers the whole file whatever its size.
 * The database file may not shrink below what a reader's snapshot holds
 * while the reader reads it (SQLite's own map assumes the same): SQLite
 * shortens it only in a checkpoint that no reader holds back.
 *
 * 2. Parked read locks. A read transaction in WAL mode takes a shared lock
 * on one of the WAL index's five read-mark slots and releases it at its end.
 * The unix VFS does both under a mutex of the file shared by the process's
 * connections, with an fcntl whenever no other connection of the process
 * holds that slot: ~1 fcntl per request and, with two workers, a contended
 * mutex - a worker descheduled while holding it stalls the other (the
 * person GET's longest waits, bench/notes.md). Here a connection that
 * releases a read-mark lock keeps it (parked); when it next asks for the
 * same slot, which it does while no commit has moved the marks, it gets it
 * back without a call. A parked lock is a real lock to everything else, so
 * before any connection of the process asks for an exclusive lock the
 * parked locks of that range are released (read marks are moved, and the
 * WAL restarted, under exclusive locks of their slots): within the process
 * SQLite sees what it would have seen without parking. Another process
 * sees a reader on that slot until the connection moves on (its checkpoints
 * stop at that mark, as at a reader's; this process's next checkpoint
 * finishes the work). A connection asking for another slot releases its
 * parked one first, and so does one closing its WAL index. The parking
 * state is under a mutex of the file, taken for a few instructions on the
 * fast path; the calls into the wrapped VFS that change a lock are made
 * under it, so a lock is never taken twice or released twice.
 *
 * mz_db_map_vfs_install makes this VFS the default for the process (serve,
 * before any connection opens). Every other kind of file (WAL, journals,
 * temporary files) goes straight to the wrapped VFS, and so does a file
 * that cannot be mapped (its fetches then use the wrapped VFS's own map).
 *
 * Tested in tests/unit/test_db.c (test_map_vfs: rows right through commits,
 * checkpoints, growth past the map and VACUUM; one map, kept across commits;
 * read locks parked, and checkpoints and WAL truncation not held back by
 * them) and by every API suite (the server runs on it).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db_internal.h"
#include "db/sqlite_vfs.h"
#include "mz/base.h"
#include "mz/db.h"

/* Address space mapped at least for a file (virtual: only pages read take
 * memory); a larger file gets twice its size. Tests lower it. */
#define MAP_RESERVE_MIN ((sqlite3_int64)1 << 30)

/* The WAL index's read-mark lock slots (SQLite's WAL_READ_LOCK(0..4)). */
#define READ_SLOT_FIRST 3
#define READ_SLOT_END   8
#define SLOT_BIT(i)     (1u << (i))
#define READ_SLOTS      (((1u << READ_SLOT_END) - 1) & ~((1u << READ_SLOT_FIRST) - 1))

/* One mapping of a file; older (smaller) ones stay until the file's last
 * connection closes. */
struct map_region {
    unsigned char *base;
    sqlite3_int64 len;
    struct map_region *older;
};

struct map_file;

/* A main database file opened by this process. */
struct map_shared {
    dev_t dev;
    ino_t ino;
    int fd;                    /* read-only descriptor of the file */
    int refs;                  /* connections' files using it */
    struct map_region *region; /* the newest, largest mapping; under map_lock */
    pthread_mutex_t park;      /* the parking state and lock calls of its connections */
    struct map_file *files;    /* its connections' files, under park */
    struct map_shared *next;
};

/* An open file: the wrapped VFS's file follows this struct (szOsFile). */
struct map_file {
    struct mz_vfs_file w;      /* the wrapped file: w.real */
    struct map_shared *shared; /* NULL: not a main database of this VFS */
    const unsigned char *base; /* the region this connection reads through */
    sqlite3_int64 len;         /* its length */
    sqlite3_int64 size;        /* the file's size as last seen */
    sqlite3_int64 limit;       /* SQLITE_FCNTL_MMAP_SIZE: fetching when > 0 */
    sqlite3_int64 fetched;     /* pointers handed out, not yet returned */
    unsigned parked;           /* read-mark slots held but released to SQLite; under park */
    struct map_file *next;     /* in shared->files */
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_shared *map_files; /* under map_lock */
static sqlite3_int64 map_reserve_min = MAP_RESERVE_MIN;
static long map_regions_made;   /* under map_lock */
static long map_pages_fetched;  /* atomic */
static long map_locks_passed;   /* atomic: read-mark lock calls made on the wrapped VFS */
static long map_locks_unparked; /* atomic: taken back without a call */
static sqlite3_vfs *map_base;
static sqlite3_vfs map_vfs;

/* A new mapping of fd for a file of `size` bytes, or NULL. Under map_lock. */
static struct map_region *region_new(int fd, sqlite3_int64 size)
{
    sqlite3_int64 len = size * 2 > map_reserve_min ? size * 2 : map_reserve_min;
    long page = sysconf(_SC_PAGESIZE);
    len = (len + page - 1) / page * page;
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct map_region *r = mz_xcalloc(1, sizeof(*r));
    r->base = p;
    r->len = len;
    map_regions_made++;
    return r;
}

/* Point f at the shared file's newest region, making a larger one first
 * when the file outgrew it. Under map_lock. */
static void region_take(struct map_file *f)
{
    struct map_shared *s = f->shared;
    if (s->region == NULL || s->region->len < f->size) {
        struct map_region *r = region_new(s->fd, f->size);
        if (r != NULL) {
            r->older = s->region;
            s->region = r;
        }
    }
    f->base = s->region != NULL ? s->region->base : NULL;
    f->len = s->region != NULL ? s->region->len : 0;
}

/* Read the file's size again (the pager said it may have changed). */
static void map_refresh(struct map_file *f)
{
    struct stat st;
    if (fstat(f->shared->fd, &st) != 0) {
        f->size = 0; /* hand nothing out: reads go through xRead */
        return;
    }
    f->size = st.st_size;
    if (f->size > f->len) {
        pthread_mutex_lock(&map_lock);
        region_take(f);
        pthread_mutex_unlock(&map_lock);
    }
}

/* Map the main database file at path for f (shared with the process's
 * other connections to it); on any failure f stays a plain file. Closing
 * any descriptor of a file drops every POSIX lock the process holds on it
 * (SQLite's locks included), so a descriptor of our own is opened only for
 * a file not yet mapped, and closed only with the last connection to it. */
static void map_attach(struct map_file *f, const char *path)
{
    struct stat st, fst;
    int moved = 1;
    if (stat(path, &st) != 0 ||
        f->w.real->pMethods->xFileControl(f->w.real, SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
        moved)
        return; /* the path no longer names the file SQLite opened */
    pthread_mutex_lock(&map_lock);
    struct map_shared *s = map_files;
    while (s != NULL && !(s->dev == st.st_dev && s->ino == st.st_ino))
        s = s->next;
    if (s == NULL) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
            /* (replaced meanwhile: this process holds no lock on the new file) */
            if (fd >= 0)
                close(fd);
            pthread_mutex_unlock(&map_lock);
            return;
        }
        s = mz_xcalloc(1, sizeof(*s));
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->fd = fd;
        pthread_mutex_init(&s->park, NULL);
        s->next = map_files;
        map_files = s;
    }
    s->refs++;
    f->shared = s;
    f->size = st.st_size;
    region_take(f);
    pthread_mutex_unlock(&map_lock);
    pthread_mutex_lock(&s->park);
    f->next = s->files;
    s->files = f;
    pthread_mutex_unlock(&s->park);
}

/* Let go of f's shared file; the last connection unmaps it. */
static void map_detach(struct map_file *f)
{
    struct map_shared *s = f->shared;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->park);
    struct map_file **fp = &s->files;
    while (*fp != f)
        fp = &(*fp)->next;
    *fp = f->next;
    pthread_mutex_unlock(&s->park);
    f->shared = NULL;
    pthread_mutex_lock(&map_lock);
    if (--s->refs == 0) {
        struct map_shared **pp = &map_files;
        while (*pp != s)
            pp = &(*pp)->next;
        *pp = s->next;
    } else {
        s = NULL;
    }
    pthread_mutex_unlock(&map_lock);
    if (s == NULL)
        return;
    for (struct map_region *r = s->region, *older; r != NULL; r = older) {
        older = r->older;
        munmap(r->base, (size_t)r->len);
        free(r);
    }
    pthread_mutex_destroy(&s->park);
    close(s->fd);
    free(s);
}

/* Release g's parked locks among the slots in mask. Under park. */
static void unpark(struct map_file *g, unsigned mask)
{
    unsigned bits = g->parked & mask;
    for (int i = READ_SLOT_FIRST; bits != 0 && i < READ_SLOT_END; i++) {
        if (!(bits & SLOT_BIT(i)))
            continue;
        mz_vfs_pass_shm_lock(&g->w.file, i, 1, SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED);
        __atomic_add_fetch(&map_locks_passed, 1, __ATOMIC_RELAXED);
        bits &= ~SLOT_BIT(i);
    }
    g->parked &= ~mask;
}

static int map_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    struct map_file *f = (struct map_file *)file;
    struct map_shared *s = f->shared;
    if (s == NULL || offset < 0 || n < 1 || offset + n > 32)
        return mz_vfs_pass_shm_lock(file, offset, n, flags);
    unsigned mask = (unsigned)(((1ull << n) - 1) << offset);
    bool read_slot = n == 1 && (mask & READ_SLOTS) != 0;
    int rc = SQLITE_OK;

    pthread_mutex_lock(&s->park);
    if (read_slot && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED)) {
        /* Keep it; release any other slot still parked (never two). */
        unpark(f, ~mask);
        f->parked |= mask;
    } else if (read_slot && flags == (SQLITE_SHM_LOCK | SQLITE_SHM_SHARED) && (f->parked & mask)) {
        f->parked &= ~mask;
        unpark(f, READ_SLOTS);
        __atomic_add_fetch(&map_locks_unparked, 1, __ATOMIC_RELAXED);
    } else {
        if (flags & SQLITE_SHM_EXCLUSIVE && !(flags & SQLITE_SHM_UNLOCK)) {
            /* As if the parked locks of the range had been released. */
            for (struct map_file *g = s->files; g != NULL; g = g->next)
                unpark(g, mask);
        } else if (read_slot) {
            unpark(f, READ_SLOTS);
        }
        rc = mz_vfs_pass_shm_lock(file, offset, n, flags);
        if (mask & READ_SLOTS)
            __atomic_add_fetch(&map_locks_passed, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->park);
    return rc;
}

/* Release f's parked lock before its WAL index or file goes. */
static void unpark_own(struct map_file *f)
{
    if (f->shared == NULL)
        return;
    pthread_mutex_lock(&f->shared->park);
    unpark(f, READ_SLOTS);
    pthread_mutex_unlock(&f->shared->park);
}

static int map_shm_unmap(sqlite3_file *file, int delete_flag)
{
    unpark_own((struct map_file *)file);
    return mz_vfs_pass_shm_unmap(file, delete_flag);
}

static int map_close(sqlite3_file *file)
{
    struct map_file *f = (struct map_file *)file;
    unpark_own(f);
    int rc = mz_vfs_pass_close(file);
    map_detach(f);
    return rc;
}

static int map_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct map_file *f = (struct map_file *)file;
    int rc = f->w.real->pMethods->xTruncate(f->w.real, size);
    if (size < f->size)
        f->size = size; /* never hand out what may be gone */
    return rc;
}

static int map_file_control(sqlite3_file *file, int op, void *arg)
{
    struct map_file *f = (struct map_file *)file;
    if (op == SQLITE_FCNTL_MMAP_SIZE && f->shared != NULL) {
        sqlite3_int64 *limit = arg, old = f->limit;
        if (*limit >= 0 && f->fetched == 0)
            f->limit = *limit;
        *limit = old;
        return SQLITE_OK;
    }
    return f->w.real->pMethods->xFileControl(f->w.real, op, arg);
}

static int map_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **pp)
{
    struct map_file *f = (struct map_file *)file;
    if (f->shared == NULL)
        return mz_vfs_pass_fetch(file, off, n, pp);
    *pp = NULL;
    if (f->limit > 0 && f->base != NULL && off >= 0 && off + n <= f->size && off + n <= f->len) {
        *pp = (void *)(f->base + off);
        f->fetched++;
        __atomic_add_fetch(&map_pages_fetched, 1, __ATOMIC_RELAXED);
    }
    return SQLITE_OK;
}

static int map_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    struct map_file *f = (struct map_file *)file;
    if (f->shared == NULL)
        return mz_vfs_pass_unfetch(file, off, p);
    if (p != NULL)
        f->fetched--;
    else if (f->fetched == 0)
        map_refresh(f);
    return SQLITE_OK;
}

static const sqlite3_io_methods map_io = {
    .iVersion = 3,
    .xClose = map_close,
    .xRead = mz_vfs_pass_read,
    .xWrite = mz_vfs_pass_write,
    .xTruncate = map_truncate,
    .xSync = mz_vfs_pass_sync,
    .xFileSize = mz_vfs_pass_file_size,
    .xLock = mz_vfs_pass_lock,
    .xUnlock = mz_vfs_pass_unlock,
    .xCheckReservedLock = mz_vfs_pass_check_reserved,
    .xFileControl = map_file_control,
    .xSectorSize = mz_vfs_pass_sector_size,
    .xDeviceCharacteristics = mz_vfs_pass_device_characteristics,
    .xShmMap = mz_vfs_pass_shm_map,
    .xShmLock = map_shm_lock,
    .xShmBarrier = mz_vfs_pass_shm_barrier,
    .xShmUnmap = map_shm_unmap,
    .xFetch = map_fetch,
    .xUnfetch = map_unfetch,
};

static int map_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                    int *out_flags)
{
    struct map_file *f = (struct map_file *)file;
    (void)vfs;
    memset(f, 0, sizeof(*f));
    f->w.real = (sqlite3_file *)(f + 1);
    int rc = map_base->xOpen(map_base, name, f->w.real, flags, out_flags);
    /* The base's xClose is called through ours even when its open failed
     * with methods set (SQLite calls xClose if pMethods is not NULL). */
    file->pMethods = f->w.real->pMethods ? &map_io : NULL;
    if (rc == SQLITE_OK && file->pMethods != NULL && (flags & SQLITE_OPEN_MAIN_DB) &&
        name != NULL && f->w.real->pMethods->iVersion >= 3)
        map_attach(f, name);
    return rc;
}

int mz_db_map_vfs_install(void)
{
    if (map_base != NULL)
        return MZ_OK;
    mz_sqlite_configure();
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);
    if (mz_vfs_wrap(&map_vfs, base, "mz-map", (int)sizeof(struct map_file), map_open) != MZ_OK)
        return MZ_ERR_DB;
    map_base = base;
    if (sqlite3_vfs_register(&map_vfs, 1) != SQLITE_OK) {
        map_base = NULL;
        return MZ_ERR_DB;
    }
    return MZ_OK;
}

void mz_db_map_reserve_min(int64_t bytes)
{
    pthread_mutex_lock(&map_lock);
    map_reserve_min = bytes > 0 ? bytes : MAP_RESERVE_MIN;
    pthread_mutex_unlock(&map_lock);
}

void mz_db_map_stats(struct mz_db_map_stats *out)
{
    pthread_mutex_lock(&map_lock);
    out->regions_made = map_regions_made;
    pthread_mutex_unlock(&map_lock);
    out->pages_fetched = __atomic_load_n(&map_pages_fetched, __ATOMIC_RELAXED);
    out->locks_passed = __atomic_load_n(&map_locks_passed, __ATOMIC_RELAXED);
    out->locks_unparked = __atomic_load_n(&map_locks_unparked, __ATOMIC_RELAXED);
}
