/* sqlite_vfs.c - what minzheng's SQLite VFS wrappers share (sqlite_bulk.c,
 * sqlite_map.c): a VFS whose calls other than xOpen go to the VFS it wraps
 * (kept in pAppData), and file methods that pass a call straight to the
 * wrapped file. A wrapper's file begins with struct mz_vfs_file: the
 * wrapped file's handle, which its xOpen places just after its own struct.
 */
#include <sqlite3.h>

#include "db/sqlite_vfs.h"
#include "db/db_internal.h"

#define BASE(vfs)  ((sqlite3_vfs *)(vfs)->pAppData)
#define REAL(file) (((struct mz_vfs_file *)(file))->real)

static int wrap_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return BASE(vfs)->xDelete(BASE(vfs), name, sync_dir);
}

static int wrap_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return BASE(vfs)->xAccess(BASE(vfs), name, flags, out);
}

static int wrap_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return BASE(vfs)->xFullPathname(BASE(vfs), name, n, out);
}

static void *wrap_dlopen(sqlite3_vfs *vfs, const char *name)
{
    return BASE(vfs)->xDlOpen(BASE(vfs), name);
}

static void wrap_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    BASE(vfs)->xDlError(BASE(vfs), n, out);
}

static void (*wrap_dlsym(sqlite3_vfs *vfs, void *handle, const char *sym))(void)
{
    return BASE(vfs)->xDlSym(BASE(vfs), handle, sym);
}

static void wrap_dlclose(sqlite3_vfs *vfs, void *handle)
{
    BASE(vfs)->xDlClose(BASE(vfs), handle);
}

static int wrap_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return BASE(vfs)->xRandomness(BASE(vfs), n, out);
}

static int wrap_sleep(sqlite3_vfs *vfs, int us)
{
    return BASE(vfs)->xSleep(BASE(vfs), us);
}

static int wrap_current_time(sqlite3_vfs *vfs, double *out)
{
    return BASE(vfs)->xCurrentTime(BASE(vfs), out);
}

static int wrap_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return BASE(vfs)->xGetLastError ? BASE(vfs)->xGetLastError(BASE(vfs), n, out) : 0;
}

static int wrap_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return BASE(vfs)->xCurrentTimeInt64(BASE(vfs), out);
}

int mz_vfs_wrap(sqlite3_vfs *vfs, sqlite3_vfs *base, const char *name, int file_bytes,
                int (*xopen)(sqlite3_vfs *, const char *, sqlite3_file *, int, int *))
{
    if (base == NULL || base->iVersion < 2 || base->xCurrentTimeInt64 == NULL)
        return MZ_ERR_DB;
    *vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = file_bytes + base->szOsFile,
        .mxPathname = base->mxPathname,
        .zName = name,
        .pAppData = base,
        .xOpen = xopen,
        .xDelete = wrap_delete,
        .xAccess = wrap_access,
        .xFullPathname = wrap_full_pathname,
        .xDlOpen = wrap_dlopen,
        .xDlError = wrap_dlerror,
        .xDlSym = wrap_dlsym,
        .xDlClose = wrap_dlclose,
        .xRandomness = wrap_randomness,
        .xSleep = wrap_sleep,
        .xCurrentTime = wrap_current_time,
        .xGetLastError = wrap_last_error,
        .xCurrentTimeInt64 = wrap_current_time64,
    };
    return MZ_OK;
}

int mz_vfs_pass_close(sqlite3_file *file)
{
    return REAL(file)->pMethods->xClose(REAL(file));
}

int mz_vfs_pass_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off)
{
    return REAL(file)->pMethods->xRead(REAL(file), buf, n, off);
}

int mz_vfs_pass_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
    return REAL(file)->pMethods->xWrite(REAL(file), buf, n, off);
}

int mz_vfs_pass_sync(sqlite3_file *file, int flags)
{
    return REAL(file)->pMethods->xSync(REAL(file), flags);
}

int mz_vfs_pass_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}

int mz_vfs_pass_lock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xLock(REAL(file), lock);
}

int mz_vfs_pass_unlock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xUnlock(REAL(file), lock);
}

int mz_vfs_pass_check_reserved(sqlite3_file *file, int *out)
{
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

int mz_vfs_pass_sector_size(sqlite3_file *file)
{
    return REAL(file)->pMethods->xSectorSize(REAL(file));
}

int mz_vfs_pass_device_characteristics(sqlite3_file *file)
{
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}

int mz_vfs_pass_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out)
{
    sqlite3_file *r = REAL(file);
    return r->pMethods->iVersion >= 2 ? r->pMethods->xShmMap(r, region, size, extend, out)
                                      : SQLITE_IOERR_SHMMAP;
}

int mz_vfs_pass_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    sqlite3_file *r = REAL(file);
    return r->pMethods->iVersion >= 2 ? r->pMethods->xShmLock(r, offset, n, flags)
                                      : SQLITE_IOERR_SHMLOCK;
}

void mz_vfs_pass_shm_barrier(sqlite3_file *file)
{
    sqlite3_file *r = REAL(file);
    if (r->pMethods->iVersion >= 2)
        r->pMethods->xShmBarrier(r);
}

int mz_vfs_pass_shm_unmap(sqlite3_file *file, int delete_flag)
{
    sqlite3_file *r = REAL(file);
    return r->pMethods->iVersion >= 2 ? r->pMethods->xShmUnmap(r, delete_flag) : SQLITE_OK;
}

int mz_vfs_pass_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
    sqlite3_file *r = REAL(file);
    *out = NULL;
    return r->pMethods->iVersion >= 3 ? r->pMethods->xFetch(r, off, amt, out) : SQLITE_OK;
}

int mz_vfs_pass_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    sqlite3_file *r = REAL(file);
    return r->pMethods->iVersion >= 3 ? r->pMethods->xUnfetch(r, off, p) : SQLITE_OK;
}
