/* sqlite_vfs.h - what minzheng's SQLite VFS wrappers share (sqlite_vfs.c). */
#ifndef MZ_SQLITE_VFS_H
#define MZ_SQLITE_VFS_H

#include <sqlite3.h>

/* A wrapper's open file begins with this: SQLite's header, then the wrapped
 * file (which its xOpen places just after the wrapper's own struct). */
struct mz_vfs_file {
    sqlite3_file file;
    sqlite3_file *real;
};

/* Fill vfs as a wrapper of base named name: xOpen is xopen, every other call
 * goes to base; its files take file_bytes (the wrapper's struct) plus the
 * base's. MZ_ERR_DB when base cannot be wrapped. Register it after. */
int mz_vfs_wrap(sqlite3_vfs *vfs, sqlite3_vfs *base, const char *name, int file_bytes,
                int (*xopen)(sqlite3_vfs *, const char *, sqlite3_file *, int, int *));

/* File methods that pass the call to the wrapped file unchanged (the shared
 * memory and fetch calls only when its methods' version has them). */
int mz_vfs_pass_close(sqlite3_file *file);
int mz_vfs_pass_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off);
int mz_vfs_pass_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off);
int mz_vfs_pass_sync(sqlite3_file *file, int flags);
int mz_vfs_pass_file_size(sqlite3_file *file, sqlite3_int64 *size);
int mz_vfs_pass_lock(sqlite3_file *file, int lock);
int mz_vfs_pass_unlock(sqlite3_file *file, int lock);
int mz_vfs_pass_check_reserved(sqlite3_file *file, int *out);
int mz_vfs_pass_sector_size(sqlite3_file *file);
int mz_vfs_pass_device_characteristics(sqlite3_file *file);
int mz_vfs_pass_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out);
int mz_vfs_pass_shm_lock(sqlite3_file *file, int offset, int n, int flags);
void mz_vfs_pass_shm_barrier(sqlite3_file *file);
int mz_vfs_pass_shm_unmap(sqlite3_file *file, int delete_flag);
int mz_vfs_pass_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out);
int mz_vfs_pass_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p);

#endif
