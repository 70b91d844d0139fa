/* table.h - rows of text in and out of CSV and XLSX files.
 *
 * The engine's import and export speak only this: a reader yields rows as
 * arrays of UTF-8 cells, streamed (constant memory whatever the file size); a
 * writer takes rows of cells and writes a file. CSV is read with libcsv
 * (RFC 4180, a UTF-8 BOM skipped, GB18030 rejected with a clear message);
 * XLSX is read with libzip + expat (the first worksheet and the shared
 * strings, streamed) and written with libxlsxwriter in constant-memory mode.
 */
#ifndef MZ_TABLE_H
#define MZ_TABLE_H

#include "mz/base.h"

enum mz_table_format { MZ_TABLE_CSV, MZ_TABLE_XLSX };

#define MZ_TABLE_MAX_CELLS 256          /* columns per row */
#define MZ_TABLE_MAX_CELL 65536         /* bytes per cell */
#define MZ_TABLE_MAX_ROWS 1048576       /* rows per file, the header included: an Excel sheet's limit (a million persons and the header fit) */

struct mz_table_reader;

/* Open a reader over a file already on disk (uploads are spooled to a file).
 * On error returns MZ_ERR_INVALID with a Chinese *reason (static or in a
 * thread-local buffer). */
int mz_table_open(const char *path, enum mz_table_format format,
                  struct mz_table_reader **out, const char **reason);
/* Next row: 1 with cells set (valid until the next call), 0 at the end, or
 * MZ_ERR_INVALID with *reason (e.g. an unterminated quote, invalid UTF-8, a
 * truncated zip, more than MZ_TABLE_MAX_CELLS cells). Empty trailing rows are
 * skipped. row_number is 1-based as a spreadsheet shows it. */
int mz_table_next(struct mz_table_reader *r, const char *const **cells, size_t *ncells,
                  long *row_number, const char **reason);
void mz_table_close(struct mz_table_reader *r);

/* Guess the format from the first bytes of a file: "PK\3\4" is XLSX. */
enum mz_table_format mz_table_sniff(const char *head, size_t len);

struct mz_table_writer;

/* Write to path; sheet_name is used by XLSX (Chinese allowed). */
int mz_table_writer_open(const char *path, enum mz_table_format format, const char *sheet_name,
                         struct mz_table_writer **out);
/* One row of cells (NULL cells are empty). For XLSX, cells that are numbers
 * in kinds[i] == 'n' are written as numbers; anything else as text (so ID
 * numbers never lose digits). kinds may be NULL (all text). */
int mz_table_write_row(struct mz_table_writer *w, const char *const *cells, const char *kinds,
                       size_t ncells);
/* Finish the file; MZ_OK or MZ_ERR_IO. Frees w either way. */
int mz_table_writer_close(struct mz_table_writer *w);

#endif
