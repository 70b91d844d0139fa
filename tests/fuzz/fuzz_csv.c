/* fuzz_csv.c - libFuzzer target for the CSV reader and writer of table.h.
 *
 * The input is put in a memfd and opened through /proc/self/fd as a CSV
 * file; every row is read. Besides "no crash, no UB, no leak", it checks what
 * a caller relies on: cells are valid UTF-8 within the limits, row numbers
 * rise, an error comes with a reason and stays. And the round trip: the rows
 * of an accepted input, written back with the CSV writer and read again,
 * come back identical (cells and their counts; not the row numbers).
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined
 *        -Iinclude tests/fuzz/fuzz_csv.c src/engine/table_*.c src/core/base.c
 *        $(pkg-config --cflags --libs libzip expat xlsxwriter) -lcsv
 * Seeds: tests/fuzz/corpus/csv/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mz/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* In table_csv.c (not part of table.h). */
bool mz_table_utf8_valid(const char *s, size_t len);

/* Abort (a finding for libFuzzer) unless cond holds, naming the line. */
static void require_at(bool cond, const char *what, int line)
{
    if (cond)
        return;
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}
#define require(cond) require_at((cond), #cond, __LINE__)

/* A memfd holding size bytes of data; its path goes into path. */
static int memfd_with(const void *data, size_t size, char *path, size_t pathlen)
{
    int fd = memfd_create("fuzz_csv", 0);
    require(fd >= 0);
    require(size == 0 || write(fd, data, size) == (ssize_t)size);
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

/* Rows of a file, kept for the round trip. */
struct rows {
    struct mz_buf flat;   /* every cell, NUL-terminated */
    struct mz_buf counts; /* the cell count of each row, as size_t */
    long nrows;           /* rows read */
};

/* Read every row of path as CSV into rows (when rows is not NULL); returns
 * the final result of mz_table_next (0 or an error). */
static int read_rows(const char *path, struct rows *rows)
{
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    int rc = mz_table_open(path, MZ_TABLE_CSV, &r, &reason);
    if (rc != MZ_OK) {
        require(r == NULL && reason != NULL);
        return rc;
    }
    long last_row = 0;
    for (;;) {
        const char *const *cells = NULL;
        size_t n = 0;
        long row = 0;
        rc = mz_table_next(r, &cells, &n, &row, &reason);
        if (rc != 1)
            break;
        require(row > last_row && row <= MZ_TABLE_MAX_ROWS);
        last_row = row;
        require(n >= 1 && n <= MZ_TABLE_MAX_CELLS && cells[n] == NULL);
        bool any_text = false;
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(cells[i]);
            require(len <= MZ_TABLE_MAX_CELL);
            require(mz_table_utf8_valid(cells[i], len));
            any_text = any_text || len > 0;
            if (rows != NULL)
                mz_buf_append(&rows->flat, cells[i], len + 1);
        }
        require(any_text);
        if (rows != NULL) {
            mz_buf_append(&rows->counts, &n, sizeof(n));
            rows->nrows++;
        }
    }
    if (rc != 0) {
        require(rc == MZ_ERR_INVALID && reason != NULL && reason[0] != '\0');
        const char *const *cells;
        size_t n;
        long row;
        require(mz_table_next(r, &cells, &n, &row, NULL) == rc);
    } else {
        const char *const *cells;
        size_t n;
        long row;
        require(mz_table_next(r, &cells, &n, &row, NULL) == 0);
    }
    mz_table_close(r);
    return rc;
}

/* Write rows to path with the CSV writer. */
static void write_rows(const char *path, const struct rows *rows)
{
    struct mz_table_writer *w = NULL;
    const char *cells[MZ_TABLE_MAX_CELLS];
    const char *p = rows->flat.data;
    require(mz_table_writer_open(path, MZ_TABLE_CSV, NULL, &w) == MZ_OK);
    for (long r = 0; r < rows->nrows; r++) {
        size_t n;
        memcpy(&n, rows->counts.data + (size_t)r * sizeof(n), sizeof(n));
        for (size_t i = 0; i < n; i++) {
            cells[i] = p;
            p += strlen(p) + 1;
        }
        require(mz_table_write_row(w, cells, NULL, n) == MZ_OK);
    }
    require(mz_table_writer_close(w) == MZ_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], path2[64];
    struct rows first, second;
    int fd = memfd_with(data, size, path, sizeof(path));

    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    mz_buf_init(&first.flat, 0);
    mz_buf_init(&first.counts, 0);
    mz_buf_init(&second.flat, 0);
    mz_buf_init(&second.counts, 0);
    if (read_rows(path, &first) == 0) {
        int fd2 = memfd_with(NULL, 0, path2, sizeof(path2));
        write_rows(path2, &first);
        require(read_rows(path2, &second) == 0);
        require(second.nrows == first.nrows);
        require(second.flat.len == first.flat.len && second.counts.len == first.counts.len);
        require(first.nrows == 0 ||
                (memcmp(first.flat.data, second.flat.data, first.flat.len) == 0 &&
                 memcmp(first.counts.data, second.counts.data, first.counts.len) == 0));
        close(fd2);
    }
    mz_buf_free(&first.flat);
    mz_buf_free(&first.counts);
    mz_buf_free(&second.flat);
    mz_buf_free(&second.counts);
    close(fd);
    return 0;
}
