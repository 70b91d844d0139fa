/* fuzz_xlsx.c - libFuzzer target for the XLSX reader of table.h.
 *
 * The input is put in a memfd and opened through /proc/self/fd as an xlsx
 * file (libzip, then expat on workbook.xml, its rels, the shared strings and
 * the first sheet); every row is read. Besides "no crash, no UB, no leak", it
 * checks that cells are valid UTF-8 within the limits, that row numbers rise
 * and stay within Excel's, and that an error comes with a reason and stays.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined
 *        -Iinclude tests/fuzz/fuzz_xlsx.c src/engine/table_*.c src/core/base.c
 *        $(pkg-config --cflags --libs libzip expat xlsxwriter) -lcsv
 * Seeds: tests/fuzz/corpus/xlsx/ (files from our writer, hand-made stored
 * zips whose XML the fuzzer can mutate, a truncated file).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    int fd = memfd_create("fuzz_xlsx", 0);

    require(fd >= 0);
    require(size == 0 || write(fd, data, size) == (ssize_t)size);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int rc = mz_table_open(path, MZ_TABLE_XLSX, &r, &reason);
    if (rc != MZ_OK) {
        require(rc == MZ_ERR_INVALID && r == NULL && reason != NULL && reason[0] != '\0');
        goto out;
    }
    long last_row = 0;
    const char *const *cells = NULL;
    size_t n = 0;
    long row = 0;
    while ((rc = mz_table_next(r, &cells, &n, &row, &reason)) == 1) {
        require(row > last_row && row <= MZ_TABLE_MAX_ROWS);
        last_row = row;
        require(n >= 1 && n <= MZ_TABLE_MAX_CELLS && cells[n] == NULL);
        require(cells[n - 1][0] != '\0');
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(cells[i]);
            require(len <= MZ_TABLE_MAX_CELL);
            require(mz_table_utf8_valid(cells[i], len));
        }
    }
    if (rc != 0)
        require(rc == MZ_ERR_INVALID && reason != NULL && reason[0] != '\0');
    require(mz_table_next(r, &cells, &n, &row, NULL) == rc);
    mz_table_close(r);
out:
    close(fd);
    return 0;
}
