/* table_csv.c - CSV rows in and out, and the front door of table.h.
 *
 * This file owns the public functions of include/mz/table.h: they look at
 * the format and hand XLSX work to table_xlsx.c (through the mz_table_xlsx_*
 * functions declared below) and do CSV work here.
 *
 * Reading. The file is read in 64 KiB blocks and fed to libcsv (strict mode:
 * a stray quote is an error, and so is a quote left open at the end). libcsv
 * calls back once per cell and once per row end; complete rows are queued in
 * one byte buffer (cells NUL-terminated, found by offset) and handed out one
 * at a time. The queue holds at most the rows of one block plus the row still
 * being parsed, and a row is at most MZ_TABLE_MAX_CELLS cells of at most
 * MZ_TABLE_MAX_CELL bytes, so memory stays bounded whatever the file size.
 * Invariants and conventions:
 *   - A UTF-8 BOM at the start is skipped. Every cell must be valid UTF-8
 *     without NUL bytes; GBK/GB18030 files (Excel's "CSV (逗号分隔)" on a
 *     Chinese Windows) fail here with a message saying how to re-save.
 *   - row_number counts records (a quoted cell may span lines) from 1,
 *     blank lines included, as a spreadsheet numbers them. CRLF, LF and CR
 *     all end a row.
 *   - A row whose cells are all empty is never yielded (so trailing blank
 *     rows, and Excel's ",,,," padding rows, vanish); the numbers of the rows
 *     after it still count it. Empty cells past MZ_TABLE_MAX_CELLS are
 *     dropped (Excel pads to the widest formatted column); text there is an
 *     error.
 *   - libcsv trims spaces and tabs around unquoted cells; quoted cells are
 *     kept exactly.
 *   - Formula guard: the writer puts an apostrophe before a text cell that
 *     starts with = + - @ (after any apostrophes), so a spreadsheet shows it
 *     as text instead of running it. The reader takes exactly one apostrophe
 *     off a cell of the form '+[=+-@]..., so export then import gives back
 *     the same text, and "'=1" typed by a user imports as "=1". Other leading
 *     apostrophes are kept.
 *   - Errors are sticky: rows before the bad one are still yielded, then
 *     every call returns the error.
 *
 * Writing. RFC 4180: a UTF-8 BOM first (so Excel opens it as UTF-8), CRLF
 * row ends, cells quoted when they hold a comma, quote, CR or LF or start or
 * end with a space or tab; quotes doubled. The writer refuses what the
 * reader would refuse (too many cells, a cell too large, invalid UTF-8,
 * too many rows), so every file it writes reads back the same (except rows
 * whose cells are all empty, which the reader skips).
 *
 * Reasons for users are Chinese; they are static strings or formatted into
 * a thread-local buffer that lives until the next mz_table_* call on the
 * same thread (so a caller may close the reader before using it).
 *
 * Tested in tests/unit/test_table.c; fuzzed by tests/fuzz/fuzz_csv.c.
 */
#include "mz/table.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the XLSX half, implemented in table_xlsx.c --------------------------- */
/* These declarations are repeated at the top of table_xlsx.c; keep the two
 * copies identical (there is no private header for the pair). */
struct mz_xlsx_reader;
struct mz_xlsx_writer;
int mz_table_xlsx_open(const char *path, struct mz_xlsx_reader **out, const char **reason);
int mz_table_xlsx_next(struct mz_xlsx_reader *x, const char *const **cells, size_t *ncells,
                       long *row_number, const char **reason);
void mz_table_xlsx_close(struct mz_xlsx_reader *x);
int mz_table_xlsx_writer_open(const char *path, const char *sheet_name,
                              struct mz_xlsx_writer **out);
int mz_table_xlsx_write_row(struct mz_xlsx_writer *w, const char *const *cells, const char *kinds,
                            size_t ncells);
int mz_table_xlsx_writer_close(struct mz_xlsx_writer *w);
/* In table_csv.c: true when s[0..len) is well-formed UTF-8 without NUL. */
bool mz_table_utf8_valid(const char *s, size_t len);

/* Bytes read from the file per libcsv call. */
#define CSV_BLOCK_SIZE (64 * 1024)
/* Longest reason we format. */
#define CSV_REASON_MAX 256

/* The reason handed to callers: valid until the next call on this thread. */
static _Thread_local char csv_reason_buf[CSV_REASON_MAX];

/* Copy a reader's reason into the thread-local buffer and return it. */
static const char *csv_publish_reason(const char *text)
{
    snprintf(csv_reason_buf, sizeof(csv_reason_buf), "%s", text);
    return csv_reason_buf;
}

/* --- UTF-8 ---------------------------------------------------------------- */

/* True when s[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and holds no NUL byte. Shared with
 * table_xlsx.c. */
bool mz_table_utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        }
        i += need + 1;
    }
    return true;
}

/* --- formula guard -------------------------------------------------------- */

/* True for the characters a spreadsheet may take as the start of a formula. */
static bool csv_is_formula_start(char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@';
}

/* True when s is apostrophes (maybe none) then a formula start character:
 * the cells the writer prefixes with one more apostrophe. */
static bool csv_needs_guard(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] == '\'')
        i++;
    return i < len && csv_is_formula_start(s[i]);
}

/* True when s is a plain decimal number ("-5", "+3.25", "1e6"): such a
 * number-kind cell is written without the guard. */
static bool csv_is_number(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t exp_digits = 0;
        i++;
        if (s[i] == '-' || s[i] == '+')
            i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    return s[i] == '\0';
}

/* --- reader --------------------------------------------------------------- */

/* A complete row waiting in the queue. */
struct csv_queued_row {
    size_t first_cell; /* index into csv_reader.cell_offsets */
    size_t ncells;     /* cells in the row */
    long row_number;   /* 1-based record number in the file */
};

/* The state of one CSV file being read. */
struct csv_reader {
    FILE *file;                  /* the open file */
    struct csv_parser parser;    /* libcsv's state between blocks */
    unsigned char *block;        /* CSV_BLOCK_SIZE bytes read from the file */
    bool first_block_done;       /* the BOM check has been made */
    bool finished;               /* csv_fini has run: no more rows come */
    struct mz_buf data;          /* cell bytes of queued rows, each NUL-terminated */
    size_t *cell_offsets;        /* start of each queued cell in data */
    size_t ncells_total;         /* cells in cell_offsets */
    size_t cells_cap;            /* room in cell_offsets */
    size_t row_first_cell;       /* first cell of the row being parsed */
    size_t row_cells;            /* cells of the row being parsed so far */
    bool row_has_text;           /* some cell of that row is not empty */
    struct csv_queued_row *rows; /* complete rows, in order */
    size_t nrows;                /* rows in the queue */
    size_t rows_cap;             /* room in rows */
    size_t head;                 /* next row to hand out */
    long records;                /* rows ended so far, blank ones included */
    int last_term;               /* the character that ended the last row */
    const char **cell_ptrs;      /* the row handed out, MZ_TABLE_MAX_CELLS long */
    int err;                     /* sticky error, or MZ_OK */
    char reason[CSV_REASON_MAX]; /* why, when err is set */
};

/* Record the first error of the reader (later ones are ignored). */
static void csv_fail(struct csv_reader *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void csv_fail(struct csv_reader *c, int err, const char *fmt, ...)
{
    if (c->err != MZ_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
    va_end(ap);
    c->err = err;
}

/* Make room for one more cell offset. */
static void csv_grow_cells(struct csv_reader *c)
{
    if (c->ncells_total < c->cells_cap)
        return;
    c->cells_cap = c->cells_cap ? c->cells_cap * 2 : 1024;
    c->cell_offsets = mz_xrealloc(c->cell_offsets, c->cells_cap * sizeof(*c->cell_offsets));
}

/* libcsv's per-cell callback: check the cell and append it to the row being
 * parsed. */
static void csv_on_cell(void *field, size_t len, void *data)
{
    struct csv_reader *c = data;
    const char *s = field ? field : "";
    long row = c->records + 1;

    if (c->err != MZ_OK)
        return;
    if (c->row_cells >= MZ_TABLE_MAX_CELLS) {
        /* Excel pads rows with commas up to the widest formatted column:
         * empty cells past the limit are dropped, text there is an error. */
        if (len > 0)
            csv_fail(c, MZ_ERR_INVALID, "第 %ld 行超过 %d 列", row, MZ_TABLE_MAX_CELLS);
        return;
    }
    if (len > MZ_TABLE_MAX_CELL) {
        csv_fail(c, MZ_ERR_INVALID, "第 %ld 行第 %zu 列的内容超过 %d 字节", row, c->row_cells + 1,
                 MZ_TABLE_MAX_CELL);
        return;
    }
    if (memchr(s, '\0', len) != NULL) {
        csv_fail(c, MZ_ERR_INVALID, "第 %ld 行含有空字符（NUL），文件可能不是文本格式的 CSV", row);
        return;
    }
    if (!mz_table_utf8_valid(s, len)) {
        csv_fail(c, MZ_ERR_INVALID,
                 "第 %ld 行含有无效的 UTF-8 编码，请以 UTF-8 保存文件（Excel 默认保存的 "
                 "GBK/GB18030 编码 CSV 请另存为“CSV UTF-8（逗号分隔）”）",
                 row);
        return;
    }
    if (len >= 2 && s[0] == '\'' && csv_needs_guard(s + 1, len - 1)) {
        s++;
        len--;
    }
    csv_grow_cells(c);
    c->cell_offsets[c->ncells_total++] = c->data.len;
    if (mz_buf_append(&c->data, s, len) != MZ_OK || mz_buf_append(&c->data, "", 1) != MZ_OK) {
        csv_fail(c, MZ_ERR_INVALID, "第 %ld 行过大", row);
        return;
    }
    c->row_cells++;
    if (len > 0)
        c->row_has_text = true;
}

/* Forget the cells of the row being parsed. */
static void csv_drop_row(struct csv_reader *c)
{
    if (c->row_first_cell < c->ncells_total)
        c->data.len = c->cell_offsets[c->row_first_cell];
    c->ncells_total = c->row_first_cell;
    c->row_cells = 0;
    c->row_has_text = false;
}

/* libcsv's row-end callback (term is the CR or LF that ended the row, or -1
 * at the end of the file): queue the row unless it is empty. */
static void csv_on_row_end(int term, void *data)
{
    struct csv_reader *c = data;

    if (c->err != MZ_OK)
        return;
    /* The LF of a CRLF arrives as an empty row of its own: skip it. */
    if (c->row_cells == 0 && term == '\n' && c->last_term == '\r') {
        c->last_term = 0;
        return;
    }
    c->last_term = term;
    c->records++;
    if (!c->row_has_text) {
        csv_drop_row(c);
        return;
    }
    if (c->records > MZ_TABLE_MAX_ROWS) {
        csv_fail(c, MZ_ERR_INVALID, "文件超过 %d 行，请分批导入", MZ_TABLE_MAX_ROWS);
        return;
    }
    if (c->nrows == c->rows_cap) {
        c->rows_cap = c->rows_cap ? c->rows_cap * 2 : 256;
        c->rows = mz_xrealloc(c->rows, c->rows_cap * sizeof(*c->rows));
    }
    c->rows[c->nrows].first_cell = c->row_first_cell;
    c->rows[c->nrows].ncells = c->row_cells;
    c->rows[c->nrows].row_number = c->records;
    c->nrows++;
    c->row_first_cell = c->ncells_total;
    c->row_cells = 0;
    c->row_has_text = false;
}

/* Once every queued row has been handed out, move the cells of the row
 * still being parsed to the front so the buffers do not grow. */
static void csv_compact(struct csv_reader *c)
{
    size_t base =
        c->row_first_cell < c->ncells_total ? c->cell_offsets[c->row_first_cell] : c->data.len;
    size_t keep = c->ncells_total - c->row_first_cell;

    if (base > 0) {
        memmove(c->data.data, c->data.data + base, c->data.len - base);
        c->data.len -= base;
        c->data.data[c->data.len] = '\0';
    }
    for (size_t i = 0; i < keep; i++)
        c->cell_offsets[i] = c->cell_offsets[c->row_first_cell + i] - base;
    c->ncells_total = keep;
    c->row_first_cell = 0;
    c->nrows = 0;
    c->head = 0;
}

/* Look at the first bytes for a BOM or a file that is clearly not CSV.
 * Returns how many bytes to skip. */
static size_t csv_check_start(struct csv_reader *c, const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
        return 3;
    if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff))) {
        csv_fail(c, MZ_ERR_INVALID,
                 "文件是 UTF-16 编码（Excel 的“Unicode 文本”），请另存为“CSV UTF-8（逗号分隔）”");
        return n;
    }
    if (n >= 8 && memcmp(b, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0) {
        csv_fail(c, MZ_ERR_INVALID,
                 "这是旧版 Excel（xls）文件或加密的 Excel 文件，请另存为不加密的 xlsx "
                 "或“CSV UTF-8（逗号分隔）”");
        return n;
    }
    return 0;
}

/* Read one block and parse it; at the end of the file, finish parsing.
 * Problems are recorded in c->err. */
static void csv_feed(struct csv_reader *c)
{
    size_t n = fread(c->block, 1, CSV_BLOCK_SIZE, c->file);
    size_t skip = 0;

    if (n < CSV_BLOCK_SIZE && ferror(c->file)) {
        mz_error("csv read failed: %s", strerror(errno));
        csv_fail(c, MZ_ERR_IO, "读取文件失败");
        return;
    }
    if (!c->first_block_done) {
        c->first_block_done = true;
        skip = csv_check_start(c, c->block, n);
        if (c->err != MZ_OK)
            return;
    }
    if (n == 0) {
        c->finished = true;
        if (csv_fini(&c->parser, csv_on_cell, csv_on_row_end, c) != 0)
            csv_fail(c, MZ_ERR_INVALID, "文件在第 %ld 行意外结束（引号未闭合）", c->records + 1);
        return;
    }
    size_t used = csv_parse(&c->parser, c->block + skip, n - skip, csv_on_cell, csv_on_row_end, c);
    if (used != n - skip || csv_error(&c->parser) != CSV_SUCCESS) {
        csv_fail(c, MZ_ERR_INVALID,
                 "第 %ld 行的引号使用不正确（单元格内的双引号须整格加引号并写成两个双引号 \"\"）",
                 c->records + 1);
        return;
    }
    /* A cell still being collected is in libcsv's own buffer: bound it. */
    if (c->parser.entry_pos > MZ_TABLE_MAX_CELL + 1)
        csv_fail(c, MZ_ERR_INVALID, "第 %ld 行第 %zu 列的内容超过 %d 字节", c->records + 1,
                 c->row_cells + 1, MZ_TABLE_MAX_CELL);
}

/* Free a CSV reader. */
static void csv_reader_free(struct csv_reader *c)
{
    if (c == NULL)
        return;
    if (c->file != NULL)
        fclose(c->file);
    csv_free(&c->parser);
    free(c->block);
    mz_buf_free(&c->data);
    free(c->cell_offsets);
    free(c->rows);
    free(c->cell_ptrs);
    free(c);
}

/* Open a CSV reader over path. */
static int csv_reader_open(const char *path, struct csv_reader **out, const char **reason)
{
    struct csv_reader *c = mz_xcalloc(1, sizeof(*c));
    int rc = MZ_OK;

    c->file = fopen(path, "rb");
    if (c->file == NULL) {
        mz_error("csv open failed: %s: %s", path, strerror(errno));
        *reason = "无法读取上传的文件";
        rc = MZ_ERR_IO;
        goto out;
    }
    if (csv_init(&c->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        *reason = "内部错误：无法初始化 CSV 解析器";
        rc = MZ_ERR_INTERNAL;
        goto out;
    }
    csv_set_realloc_func(&c->parser, mz_xrealloc);
    csv_set_free_func(&c->parser, free);
    csv_set_blk_size(&c->parser, 4096);
    c->block = mz_xmalloc(CSV_BLOCK_SIZE);
    /* The partial row may hold MZ_TABLE_MAX_CELLS full cells. */
    mz_buf_init(&c->data,
                (size_t)MZ_TABLE_MAX_CELLS * (MZ_TABLE_MAX_CELL + 1) + 2 * CSV_BLOCK_SIZE);
    c->cell_ptrs = mz_xcalloc(MZ_TABLE_MAX_CELLS + 1, sizeof(*c->cell_ptrs));
out:
    if (rc != MZ_OK) {
        csv_reader_free(c);
        c = NULL;
    }
    *out = c;
    return rc;
}

/* The next non-empty row, 0 at the end, or the sticky error. */
static int csv_reader_next(struct csv_reader *c, const char *const **cells, size_t *ncells,
                           long *row_number, const char **reason)
{
    for (;;) {
        if (c->head < c->nrows) {
            const struct csv_queued_row *row = &c->rows[c->head++];
            for (size_t i = 0; i < row->ncells; i++)
                c->cell_ptrs[i] = c->data.data + c->cell_offsets[row->first_cell + i];
            c->cell_ptrs[row->ncells] = NULL;
            *cells = c->cell_ptrs;
            *ncells = row->ncells;
            *row_number = row->row_number;
            return 1;
        }
        if (c->err != MZ_OK) {
            *reason = csv_publish_reason(c->reason);
            return c->err;
        }
        if (c->finished)
            return 0;
        csv_compact(c);
        csv_feed(c);
    }
}

/* --- writer --------------------------------------------------------------- */

/* A CSV file being written. */
struct csv_writer {
    FILE *file; /* the open file, fully buffered */
    long rows;  /* rows written so far */
};

/* True when the cell must be written between quotes. */
static bool csv_needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
        return true;
    return strpbrk(s, ",\"\r\n") != NULL;
}

/* Write one cell (already checked) with quoting and the formula guard. */
static void csv_write_cell(FILE *f, const char *s, bool guard)
{
    size_t len = strlen(s);
    bool quote = csv_needs_quotes(s, len);

    if (quote)
        putc('"', f);
    if (guard)
        putc('\'', f);
    if (!quote) {
        fwrite(s, 1, len, f);
    } else {
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '"')
                putc('"', f);
            putc(*p, f);
        }
        putc('"', f);
    }
}

/* Open a CSV file for writing and put the BOM in it. */
static int csv_writer_open(const char *path, struct csv_writer **out)
{
    struct csv_writer *w = mz_xcalloc(1, sizeof(*w));
    int rc = MZ_OK;

    w->file = fopen(path, "wb");
    if (w->file == NULL) {
        mz_error("csv create failed: %s: %s", path, strerror(errno));
        rc = MZ_ERR_IO;
        goto out;
    }
    setvbuf(w->file, NULL, _IOFBF, CSV_BLOCK_SIZE);
    fputs("\xef\xbb\xbf", w->file);
out:
    if (rc != MZ_OK) {
        free(w);
        w = NULL;
    }
    *out = w;
    return rc;
}

/* True when cell s of the given kind gets the formula guard: text that
 * starts (after apostrophes) with = + - @, unless a number-kind cell holds
 * a plain number. */
static bool csv_guarded(const char *s, char kind)
{
    if (!csv_needs_guard(s, strlen(s)))
        return false;
    return !(kind == 'n' && csv_is_number(s));
}

/* Check a row against the reader's limits (a cell with its guard must fit
 * in MZ_TABLE_MAX_CELL), then write it. */
static int csv_write_row(struct csv_writer *w, const char *const *cells, const char *kinds,
                         size_t ncells)
{
    if (ncells > MZ_TABLE_MAX_CELLS || w->rows >= MZ_TABLE_MAX_ROWS)
        return MZ_ERR_TOOBIG;
    for (size_t i = 0; i < ncells; i++) {
        const char *s = cells[i] ? cells[i] : "";
        size_t len = strlen(s);
        if (len + (csv_guarded(s, kinds ? kinds[i] : 't') ? 1 : 0) > MZ_TABLE_MAX_CELL)
            return MZ_ERR_TOOBIG;
        if (!mz_table_utf8_valid(s, len))
            return MZ_ERR_INVALID;
    }
    for (size_t i = 0; i < ncells; i++) {
        const char *s = cells[i] ? cells[i] : "";
        if (i > 0)
            putc(',', w->file);
        csv_write_cell(w->file, s, csv_guarded(s, kinds ? kinds[i] : 't'));
    }
    fputs("\r\n", w->file);
    w->rows++;
    return ferror(w->file) ? MZ_ERR_IO : MZ_OK;
}

/* Flush and close; MZ_ERR_IO when any write failed. */
static int csv_writer_close(struct csv_writer *w)
{
    int rc = MZ_OK;

    if (ferror(w->file))
        rc = MZ_ERR_IO;
    if (fclose(w->file) != 0) {
        mz_error("csv close failed: %s", strerror(errno));
        rc = MZ_ERR_IO;
    }
    free(w);
    return rc;
}

/* --- the public interface (table.h) -------------------------------------- */

/* A reader of either format. */
struct mz_table_reader {
    enum mz_table_format format; /* which of the two below is set */
    struct csv_reader *csv;      /* the CSV reader */
    struct mz_xlsx_reader *xlsx; /* the XLSX reader (table_xlsx.c) */
};

/* A writer of either format. */
struct mz_table_writer {
    enum mz_table_format format; /* which of the two below is set */
    struct csv_writer *csv;      /* the CSV writer */
    struct mz_xlsx_writer *xlsx; /* the XLSX writer (table_xlsx.c) */
};

/* Open a reader; see table.h. */
int mz_table_open(const char *path, enum mz_table_format format, struct mz_table_reader **out,
                  const char **reason)
{
    const char *unused_reason;
    struct mz_table_reader *r = NULL;
    int rc;

    if (reason == NULL)
        reason = &unused_reason;
    *reason = NULL;
    *out = NULL;
    if (path == NULL) {
        *reason = "没有文件";
        return MZ_ERR_INVALID;
    }
    r = mz_xcalloc(1, sizeof(*r));
    r->format = format;
    if (format == MZ_TABLE_XLSX)
        rc = mz_table_xlsx_open(path, &r->xlsx, reason);
    else
        rc = csv_reader_open(path, &r->csv, reason);
    if (rc != MZ_OK) {
        free(r);
        return rc;
    }
    *out = r;
    return MZ_OK;
}

/* The next row; see table.h. */
int mz_table_next(struct mz_table_reader *r, const char *const **cells, size_t *ncells,
                  long *row_number, const char **reason)
{
    const char *unused_reason;
    long unused_row;

    if (reason == NULL)
        reason = &unused_reason;
    if (row_number == NULL)
        row_number = &unused_row;
    *reason = NULL;
    *cells = NULL;
    *ncells = 0;
    *row_number = 0;
    if (r->format == MZ_TABLE_XLSX)
        return mz_table_xlsx_next(r->xlsx, cells, ncells, row_number, reason);
    return csv_reader_next(r->csv, cells, ncells, row_number, reason);
}

/* Close a reader; NULL is fine. */
void mz_table_close(struct mz_table_reader *r)
{
    if (r == NULL)
        return;
    csv_reader_free(r->csv);
    mz_table_xlsx_close(r->xlsx);
    free(r);
}

/* "PK\3\4" (a zip, so XLSX) or CSV. */
enum mz_table_format mz_table_sniff(const char *head, size_t len)
{
    if (head != NULL && len >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        return MZ_TABLE_XLSX;
    return MZ_TABLE_CSV;
}

/* Open a writer; see table.h. */
int mz_table_writer_open(const char *path, enum mz_table_format format, const char *sheet_name,
                         struct mz_table_writer **out)
{
    struct mz_table_writer *w;
    int rc;

    *out = NULL;
    if (path == NULL)
        return MZ_ERR_INVALID;
    w = mz_xcalloc(1, sizeof(*w));
    w->format = format;
    if (format == MZ_TABLE_XLSX)
        rc = mz_table_xlsx_writer_open(path, sheet_name, &w->xlsx);
    else
        rc = csv_writer_open(path, &w->csv);
    if (rc != MZ_OK) {
        free(w);
        return rc;
    }
    *out = w;
    return MZ_OK;
}

/* Write one row; MZ_ERR_TOOBIG past a limit of table.h, MZ_ERR_INVALID for
 * text that is not UTF-8, MZ_ERR_IO when the disk fails. */
int mz_table_write_row(struct mz_table_writer *w, const char *const *cells, const char *kinds,
                       size_t ncells)
{
    if (cells == NULL && ncells > 0)
        return MZ_ERR_INVALID;
    if (w->format == MZ_TABLE_XLSX)
        return mz_table_xlsx_write_row(w->xlsx, cells, kinds, ncells);
    return csv_write_row(w->csv, cells, kinds, ncells);
}

/* Finish the file and free the writer; NULL is fine. */
int mz_table_writer_close(struct mz_table_writer *w)
{
    int rc = MZ_OK;

    if (w == NULL)
        return MZ_OK;
    if (w->format == MZ_TABLE_XLSX)
        rc = mz_table_xlsx_writer_close(w->xlsx);
    else
        rc = csv_writer_close(w->csv);
    free(w);
    return rc;
}
