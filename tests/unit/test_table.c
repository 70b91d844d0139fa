/* test_table.c - unit tests of src/engine/table_csv.c and table_xlsx.c.
 *
 * CSV: an export -> import round trip of awkward cells (commas, quotes, line
 * breaks, Chinese, formula starts, apostrophes, empty and NULL cells,
 * 18-digit IDs, edge spaces), the bytes the writer puts on disk, BOM, CRLF /
 * LF / CR, blank and trailing rows, each error (open quote at the end, stray
 * quote, GBK bytes, UTF-16, too many cells, a cell too large) and a
 * 200,000-row file read in bounded memory.
 * XLSX: a round trip through libxlsxwriter and back (IDs stay text, numbers
 * are numbers in the sheet XML), sheet-name clean-up, hand-made workbooks
 * (shared strings with rich text and phonetic runs, gaps in rows and
 * columns, every cell type, _xHHHH_ escapes, a sheet found through the
 * rels), and broken ones: no shared strings, a truncated zip, not a zip,
 * malformed XML, a DOCTYPE, a missing worksheet, an entry declaring 768 MiB.
 * Files go to a fresh directory under /tmp, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "mz/table.h"

/* The directory the tests write into. */
static char test_dir[64];

/* A path in test_dir (a static buffer per call site is enough here). */
static const char *tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", test_dir, name);
    return buf;
}

/* Write bytes to path. */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Read a whole file into a malloc'd buffer. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct mz_buf buf;
    mz_buf_init(&buf, 0);
    char block[4096];
    size_t n;
    while ((n = fread(block, 1, sizeof(block), f)) > 0)
        assert_int_equal(mz_buf_append(&buf, block, n), MZ_OK);
    fclose(f);
    return mz_buf_steal(&buf, len);
}

/* Assert that a reason is set and mentions part. */
static void assert_reason(const char *reason, const char *part)
{
    assert_non_null(reason);
    if (strstr(reason, part) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", reason, part);
}

/* Rows read from a file, flattened for comparison: each row becomes
 * "row_number:cell|cell|...\n". */
struct read_result {
    struct mz_buf text; /* the flattened rows */
    long rows;          /* rows yielded */
    int rc;             /* the last mz_table_next result (0 or an error) */
    char reason[512];   /* the reason of an error */
};

/* Read every row of path into res; returns the open result. */
static int read_all(const char *path, enum mz_table_format format, struct read_result *res)
{
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    memset(res, 0, sizeof(*res));
    mz_buf_init(&res->text, 0);
    int rc = mz_table_open(path, format, &r, &reason);
    if (rc != MZ_OK) {
        assert_null(r);
        assert_non_null(reason);
        snprintf(res->reason, sizeof(res->reason), "%s", reason);
        res->rc = rc;
        return rc;
    }
    for (;;) {
        const char *const *cells = NULL;
        size_t n = 0;
        long row = 0;
        rc = mz_table_next(r, &cells, &n, &row, &reason);
        if (rc != 1)
            break;
        res->rows++;
        mz_buf_printf(&res->text, "%ld:", row);
        for (size_t i = 0; i < n; i++) {
            assert_non_null(cells[i]);
            mz_buf_printf(&res->text, "%s%s", i ? "|" : "", cells[i]);
        }
        assert_null(cells[n]);
        mz_buf_puts(&res->text, "\n");
    }
    if (rc < 0) {
        assert_non_null(reason);
        snprintf(res->reason, sizeof(res->reason), "%s", reason);
        /* Errors are sticky. */
        const char *const *cells;
        size_t n;
        long row;
        assert_int_equal(mz_table_next(r, &cells, &n, &row, NULL), rc);
    }
    mz_table_close(r);
    res->rc = rc;
    return MZ_OK;
}

/* Read a CSV given as bytes; the flattened rows and the result in res. */
static void read_csv_bytes(const char *bytes, size_t len, struct read_result *res)
{
    char path[128];
    write_file(tmp_path(path, sizeof(path), "in.csv"), bytes, len);
    assert_int_equal(read_all(path, MZ_TABLE_CSV, res), MZ_OK);
}

/* Assert the flattened rows of res, then free them. */
static void expect_rows(struct read_result *res, const char *expected)
{
    const char *got = res->text.data ? res->text.data : "";
    if (strcmp(got, expected) != 0)
        fail_msg("rows differ:\n--- got ---\n%s--- expected ---\n%s(reason: %s)", got, expected,
                 res->reason);
    mz_buf_free(&res->text);
}

/* --- CSV ------------------------------------------------------------------ */

/* The awkward cells used by both round trips. */
static const char *const awkward[][6] = {
    {"姓名", "身份证号", "备注", "金额", "公式", "空"},
    {"张三", "110105194912310021", "含,逗号", "-5", "=SUM(A1:A2)", ""},
    {"李\"四\"", "11010519491231002X", "第一行\n第二行", "12", "+86 138", NULL},
    {" 前后空格 ", "440524188001010014", "回车\r\n换行", "0", "-rf", "@cmd"},
    {"'=已转义", "'普通撇号", "'", "''+双撇号", "\t制表", "末尾"},
    {"", "", "", "", "", "最后一格"},
    {"_x0041_ 字面", "a\"\"b", "\"", ",", "\r", "end"},
};
/* Kinds of the columns: the fourth is a number. */
static const char awkward_kinds[] = "tttntt";

/* What read_all gives back for awkward (NULL reads as ""). */
static void expected_awkward(struct mz_buf *out)
{
    mz_buf_init(out, 0);
    for (size_t r = 0; r < MZ_ARRAY_LEN(awkward); r++) {
        mz_buf_printf(out, "%zu:", r + 1);
        for (size_t c = 0; c < 6; c++)
            mz_buf_printf(out, "%s%s", c ? "|" : "", awkward[r][c] ? awkward[r][c] : "");
        mz_buf_puts(out, "\n");
    }
}

/* Export then import gives the same cells; the file is RFC 4180 with a
 * BOM, CRLF and the formula guard. */
static void test_csv_round_trip(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    tmp_path(path, sizeof(path), "round.csv");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_CSV, "ignored", &w), MZ_OK);
    for (size_t r = 0; r < MZ_ARRAY_LEN(awkward); r++)
        assert_int_equal(mz_table_write_row(w, awkward[r], r ? awkward_kinds : NULL, 6), MZ_OK);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    size_t len;
    char *bytes = read_file(path, &len);
    static const char head[] = "\xef\xbb\xbf姓名,身份证号,备注,金额,公式,空\r\n";
    assert_memory_equal(bytes, head, sizeof(head) - 1);
    assert_non_null(strstr(bytes, "\r\n张三,110105194912310021,\"含,逗号\",-5,'=SUM(A1:A2),\r\n"));
    assert_non_null(strstr(bytes, "\"李\"\"四\"\"\""));
    assert_non_null(strstr(bytes, ",'+86 138,\r\n"));
    assert_non_null(strstr(bytes, "\" 前后空格 \""));
    assert_non_null(strstr(bytes, ",'-rf,'@cmd\r\n"));
    assert_non_null(strstr(bytes, "\r\n''=已转义,'普通撇号,','''+双撇号,\"\t制表\",末尾\r\n"));
    free(bytes);

    struct read_result res;
    struct mz_buf expected;
    assert_int_equal(read_all(path, MZ_TABLE_CSV, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.rows, MZ_ARRAY_LEN(awkward));
    expected_awkward(&expected);
    expect_rows(&res, expected.data);
    mz_buf_free(&expected);
}

/* A number-kind cell that is not a number still gets the guard. */
static void test_csv_guard_on_number_kind(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    const char *cells[] = {"-12.5", "=1+1", "+3", "-"};
    tmp_path(path, sizeof(path), "kinds.csv");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_CSV, NULL, &w), MZ_OK);
    assert_int_equal(mz_table_write_row(w, cells, "nnnn", 4), MZ_OK);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);
    size_t len;
    char *bytes = read_file(path, &len);
    assert_string_equal(bytes, "\xef\xbb\xbf-12.5,'=1+1,+3,'-\r\n");
    free(bytes);
}

/* The BOM is skipped; CRLF, LF and CR end rows; blank lines count in the row
 * numbers but are not yielded; trailing empty rows vanish. */
static void test_csv_bom_and_line_ends(void **state)
{
    struct read_result res;
    static const char crlf[] = "\xef\xbb\xbf姓名,年龄\r\n张三,30\r\n\r\n李四,40\r\n,,\r\n\r\n";
    read_csv_bytes(crlf, sizeof(crlf) - 1, &res);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, "1:姓名|年龄\n2:张三|30\n4:李四|40\n");

    static const char lf[] = "a,b\nc,d";
    read_csv_bytes(lf, sizeof(lf) - 1, &res);
    expect_rows(&res, "1:a|b\n2:c|d\n");

    static const char cr[] = "a,b\rc,d\r";
    read_csv_bytes(cr, sizeof(cr) - 1, &res);
    expect_rows(&res, "1:a|b\n2:c|d\n");

    /* A quoted cell spanning lines is one row; the next row is numbered 2. */
    static const char multi[] = "\"x\r\ny\",z\r\nnext,1\r\n";
    read_csv_bytes(multi, sizeof(multi) - 1, &res);
    expect_rows(&res, "1:x\r\ny|z\n2:next|1\n");

    /* Unquoted cells are trimmed; quoted ones are not. */
    static const char spaces[] = "  a  ,\" b \",c\n";
    read_csv_bytes(spaces, sizeof(spaces) - 1, &res);
    expect_rows(&res, "1:a| b |c\n");

    /* Only a BOM, or nothing at all: no rows. */
    read_csv_bytes("\xef\xbb\xbf", 3, &res);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, "");
    read_csv_bytes("", 0, &res);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, "");
}

/* A quote still open at the end of the file: rows before it, then the error
 * naming the row where it opened. */
static void test_csv_unterminated_quote(void **state)
{
    struct read_result res;
    static const char bytes[] = "a,b\n\"c,d\ne,f\n";
    read_csv_bytes(bytes, sizeof(bytes) - 1, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "文件在第 2 行意外结束（引号未闭合）");
    expect_rows(&res, "1:a|b\n");
}

/* A quote in the middle of an unquoted cell. */
static void test_csv_stray_quote(void **state)
{
    struct read_result res;
    static const char bytes[] = "a,b\nc,d\"e\n";
    read_csv_bytes(bytes, sizeof(bytes) - 1, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 2 行的引号");
    expect_rows(&res, "1:a|b\n");
}

/* GBK bytes (张三 saved by Excel on Chinese Windows) are not UTF-8. */
static void test_csv_invalid_utf8(void **state)
{
    struct read_result res;
    static const char bytes[] = "姓名,年龄\n\xd5\xc5\xc8\xfd,30\n";
    read_csv_bytes(bytes, sizeof(bytes) - 1, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 2 行含有无效的 UTF-8 编码，请以 UTF-8 保存文件");
    assert_reason(res.reason, "GB18030");
    expect_rows(&res, "1:姓名|年龄\n");

    /* Overlong, surrogate and truncated forms too. */
    static const char overlong[] = "\xc0\xaf\n";
    read_csv_bytes(overlong, sizeof(overlong) - 1, &res);
    assert_reason(res.reason, "第 1 行含有无效的 UTF-8");
    expect_rows(&res, "");
    static const char surrogate[] = "ok\n\xed\xa0\x80\n";
    read_csv_bytes(surrogate, sizeof(surrogate) - 1, &res);
    assert_reason(res.reason, "第 2 行含有无效的 UTF-8");
    expect_rows(&res, "1:ok\n");
    static const char cut[] = "a,\xe5\xbc";
    read_csv_bytes(cut, sizeof(cut) - 1, &res);
    assert_reason(res.reason, "第 1 行含有无效的 UTF-8");
    expect_rows(&res, "");

    /* NUL bytes, a UTF-16 file, an old .xls. */
    read_csv_bytes("a\0b\n", 4, &res);
    assert_reason(res.reason, "空字符");
    expect_rows(&res, "");
    read_csv_bytes("\xff\xfe"
                   "a\0,\0",
                   6, &res);
    assert_reason(res.reason, "UTF-16");
    expect_rows(&res, "");
    read_csv_bytes("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", 10, &res);
    assert_reason(res.reason, "xls");
    expect_rows(&res, "");
    char path[128];
    assert_int_equal(read_all(tmp_path(path, sizeof(path), "in.csv"), MZ_TABLE_XLSX, &res),
                     MZ_ERR_INVALID);
    assert_reason(res.reason, "加密的 Excel");
    mz_buf_free(&res.text);
}

/* 256 cells are fine, 257 are not; a cell over MZ_TABLE_MAX_CELL is refused
 * while it is still being read. */
static void test_csv_limits(void **state)
{
    struct mz_buf bytes;
    struct read_result res;

    mz_buf_init(&bytes, 0);
    for (int i = 0; i < MZ_TABLE_MAX_CELLS; i++)
        mz_buf_printf(&bytes, "%s%d", i ? "," : "", i);
    mz_buf_puts(&bytes, "\n");
    read_csv_bytes(bytes.data, bytes.len, &res);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.rows, 1);
    mz_buf_free(&res.text);

    char *line = mz_xstrdup(bytes.data);
    mz_buf_puts(&bytes, "1,");
    mz_buf_puts(&bytes, line);
    free(line);
    read_csv_bytes(bytes.data, bytes.len, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 2 行超过 256 列");
    assert_int_equal(res.rows, 1);
    mz_buf_free(&res.text);

    /* Empty cells past the limit (Excel's padding) are dropped. */
    mz_buf_reset(&bytes);
    mz_buf_puts(&bytes, "a");
    for (int i = 0; i < 2 * MZ_TABLE_MAX_CELLS; i++)
        mz_buf_puts(&bytes, i == MZ_TABLE_MAX_CELLS - 2 ? ",z" : ",");
    mz_buf_puts(&bytes, "\r\nb\r\n");
    read_csv_bytes(bytes.data, bytes.len, &res);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.rows, 2);
    assert_int_equal(res.text.len, strlen("1:a") + (MZ_TABLE_MAX_CELLS - 2) + strlen("|z\n2:b\n"));
    assert_memory_equal(res.text.data + res.text.len - 8, "||z\n2:b\n", 8);
    mz_buf_free(&res.text);

    mz_buf_reset(&bytes);
    mz_buf_puts(&bytes, "head\n\"");
    for (int i = 0; i < 3 * MZ_TABLE_MAX_CELL; i++)
        mz_buf_append(&bytes, "x", 1);
    mz_buf_puts(&bytes, "\"\n");
    read_csv_bytes(bytes.data, bytes.len, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 2 行第 1 列的内容超过 65536 字节");
    expect_rows(&res, "1:head\n");

    /* Just over the cap, ending within one block, is caught per cell. */
    mz_buf_reset(&bytes);
    for (int i = 0; i < MZ_TABLE_MAX_CELL + 1; i++)
        mz_buf_append(&bytes, "y", 1);
    read_csv_bytes(bytes.data, bytes.len, &res);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 1 行第 1 列的内容超过");
    mz_buf_free(&res.text);
    mz_buf_free(&bytes);
}

/* The writer refuses what the reader would. */
static void test_csv_writer_limits(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    const char *cells[MZ_TABLE_MAX_CELLS + 1];
    for (size_t i = 0; i < MZ_ARRAY_LEN(cells); i++)
        cells[i] = "x";
    tmp_path(path, sizeof(path), "limits.csv");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_CSV, NULL, &w), MZ_OK);
    assert_int_equal(mz_table_write_row(w, cells, NULL, MZ_TABLE_MAX_CELLS + 1), MZ_ERR_TOOBIG);
    const char *bad[] = {"ok", "\xd5\xc5"};
    assert_int_equal(mz_table_write_row(w, bad, NULL, 2), MZ_ERR_INVALID);
    /* A cell of exactly MZ_TABLE_MAX_CELL bytes is fine, unless its guard
     * would make it one byte longer; one byte more is refused. */
    char *big = malloc(MZ_TABLE_MAX_CELL + 2);
    memset(big, 'z', MZ_TABLE_MAX_CELL + 1);
    big[MZ_TABLE_MAX_CELL] = '\0';
    const char *huge[] = {big};
    assert_int_equal(mz_table_write_row(w, huge, NULL, 1), MZ_OK);
    big[0] = '=';
    assert_int_equal(mz_table_write_row(w, huge, NULL, 1), MZ_ERR_TOOBIG);
    big[0] = 'z';
    big[MZ_TABLE_MAX_CELL] = 'z';
    big[MZ_TABLE_MAX_CELL + 1] = '\0';
    assert_int_equal(mz_table_write_row(w, huge, NULL, 1), MZ_ERR_TOOBIG);
    assert_int_equal(mz_table_write_row(w, cells, NULL, 2), MZ_OK);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    struct read_result res;
    assert_int_equal(read_all(path, MZ_TABLE_CSV, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.rows, 2);
    assert_int_equal(res.text.len, strlen("1:") + MZ_TABLE_MAX_CELL + strlen("\n2:x|x\n"));
    assert_memory_equal(res.text.data + res.text.len - 7, "\n2:x|x\n", 7);
    mz_buf_free(&res.text);
    free(big);
    assert_int_equal(mz_table_writer_open("/nonexistent-dir/x.csv", MZ_TABLE_CSV, NULL, &w),
                     MZ_ERR_IO);
    assert_null(w);
}

/* A missing file is an I/O error with a reason. */
static void test_open_missing(void **state)
{
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    assert_int_equal(mz_table_open("/nonexistent-dir/x.csv", MZ_TABLE_CSV, &r, &reason), MZ_ERR_IO);
    assert_null(r);
    assert_non_null(reason);
    assert_int_equal(mz_table_open("/nonexistent-dir/x.xlsx", MZ_TABLE_XLSX, &r, &reason),
                     MZ_ERR_IO);
    assert_null(r);
    assert_non_null(reason);
}

/* Peak resident memory in KiB. */
static long max_rss_kib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

/* 200,000 rows of about 200 bytes (a 40 MB file) read with memory growth
 * far below the file size. */
static void test_csv_large_file_bounded(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    char id[32], amount[32], note[200];
    const long nrows = 200000;

    tmp_path(path, sizeof(path), "large.csv");
    memset(note, 0, sizeof(note));
    for (size_t i = 0; i + 3 < 150; i += 3)
        memcpy(note + i, "民", 3);
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_CSV, NULL, &w), MZ_OK);
    for (long i = 0; i < nrows; i++) {
        snprintf(id, sizeof(id), "1101051949%08ld", i);
        snprintf(amount, sizeof(amount), "%ld", i * 7);
        const char *cells[] = {id, "张三", amount, note, "北京市,东城区"};
        assert_int_equal(mz_table_write_row(w, cells, "ttntt", 5), MZ_OK);
    }
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    long before = max_rss_kib();
    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    assert_int_equal(mz_table_open(path, MZ_TABLE_CSV, &r, &reason), MZ_OK);
    long count = 0, row = 0, last_row = 0;
    const char *const *cells;
    size_t n;
    int rc;
    while ((rc = mz_table_next(r, &cells, &n, &row, &reason)) == 1) {
        count++;
        last_row = row;
        assert_int_equal(n, 5);
        if (count == nrows) {
            assert_string_equal(cells[0], "110105194900199999");
            assert_string_equal(cells[2], "1399993");
            assert_string_equal(cells[4], "北京市,东城区");
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, nrows);
    assert_int_equal(last_row, nrows);
    mz_table_close(r);
    long growth = max_rss_kib() - before;
    if (growth > 16 * 1024)
        fail_msg("reading a 40 MB CSV grew the peak RSS by %ld KiB", growth);
}

/* --- XLSX ----------------------------------------------------------------- */

/* The text of entry name in the zip at path (malloc'd), or NULL. */
static char *zip_entry_text(const char *path, const char *name)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    assert_non_null(z);
    zip_stat_t st;
    if (zip_stat(z, name, 0, &st) != 0) {
        zip_discard(z);
        return NULL;
    }
    char *text = malloc(st.size + 1);
    zip_file_t *f = zip_fopen(z, name, 0);
    assert_non_null(f);
    assert_int_equal(zip_fread(f, text, st.size), (zip_int64_t)st.size);
    text[st.size] = '\0';
    zip_fclose(f);
    zip_discard(z);
    return text;
}

/* One entry of a hand-made zip. */
struct zip_entry {
    const char *name; /* path in the zip */
    const char *text; /* its content */
};

/* Write a zip of the given entries to path. */
static void make_zip(const char *path, const struct zip_entry *entries, size_t n)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(z, entries[i].text, strlen(entries[i].text), 0);
        assert_non_null(src);
        assert_true(zip_file_add(z, entries[i].name, src, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
}

/* The namespaces of a worksheet. */
#define NS_MAIN "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define NS_REL  "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

/* A workbook whose first sheet is rId7 -> worksheets/data.xml. */
static const char crafted_workbook[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<x:workbook xmlns:x=\"" NS_MAIN "\" xmlns:r=\"" NS_REL "\"><x:sheets>"
    "<x:sheet name=\"名单\" sheetId=\"3\" r:id=\"rId7\"/>"
    "<x:sheet name=\"其他\" sheetId=\"1\" r:id=\"rId1\"/></x:sheets></x:workbook>";
/* Its relationships. */
static const char crafted_rels[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" NS_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
    "<Relationship Id=\"rId7\" Type=\"" NS_REL "/worksheet\" Target=\"/xl/worksheets/data.xml\"/>"
    "<Relationship Id=\"rId9\" Type=\"" NS_REL "/sharedStrings\" Target=\"./strings.xml\"/>"
    "</Relationships>";
/* Shared strings: plain, rich text, phonetic run, escapes, empty. */
static const char crafted_strings[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<sst xmlns=\"" NS_MAIN "\" count=\"5\" uniqueCount=\"5\">"
    "<si><t>姓名</t></si>"
    "<si><r><rPr><b/></rPr><t>张</t></r><r><t xml:space=\"preserve\">三 </t></r>"
    "<rPh sb=\"0\" eb=\"1\"><t>ちょう</t></rPh></si>"
    "<si><t>甲_x000D_\n乙_x005F_x0041_</t></si>"
    "<si><t/></si>"
    "<si><t>身份证号</t></si>"
    "</sst>";
/* The sheet: rows 1, 2 and 5 (3 and 4 absent, 4 present but empty), gaps. */
static const char crafted_sheet[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<worksheet xmlns=\"" NS_MAIN "\"><sheetData>"
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"C1\" t=\"s\"><v>4</v></c></row>"
    "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>1</v></c><c r=\"B2\" t=\"s\"><v>3</v></c>"
    "<c r=\"C2\" t=\"inlineStr\"><is><r><t>110105</t></r><r><t>194912310021</t></r></is></c>"
    "<c r=\"D2\"><v>1.2345678901234E+17</v></c><c r=\"E2\" t=\"b\"><v>1</v></c>"
    "<c r=\"F2\" t=\"str\"><f>A1&amp;\"x\"</f><v>姓名x</v></c><c r=\"G2\" t=\"e\"><v>#N/A</v></c>"
    "<c r=\"H2\" s=\"3\"/></row>"
    "<row r=\"4\" ht=\"20\" customHeight=\"1\"><c r=\"A4\" s=\"1\"/></row>"
    "<row r=\"5\"><c r=\"AA5\" t=\"s\"><v>2</v></c><c t=\"b\"><v>0</v></c></row>"
    "<row><c><v>42</v></c><c><v>-3.5</v></c></row>"
    "</sheetData></worksheet>";

/* A workbook made by hand, as other programs write them. */
static void test_xlsx_crafted(void **state)
{
    char path[128];
    const struct zip_entry entries[] = {
        {"xl/workbook.xml", crafted_workbook},
        {"xl/_rels/workbook.xml.rels", crafted_rels},
        {"xl/strings.xml", crafted_strings},
        {"xl/worksheets/data.xml", crafted_sheet},
        {"xl/worksheets/sheet1.xml", "<worksheet><sheetData><row><c><v>1</v></c></row>"
                                     "</sheetData></worksheet>"},
    };
    tmp_path(path, sizeof(path), "crafted.xlsx");
    make_zip(path, entries, MZ_ARRAY_LEN(entries));

    struct read_result res;
    struct mz_buf expected;
    mz_buf_init(&expected, 0);
    mz_buf_puts(&expected, "1:姓名||身份证号\n"
                           "2:张三 ||110105194912310021|1.2345678901234E+17|TRUE|姓名x|#N/A\n"
                           "5:");
    for (int i = 0; i < 26; i++) /* AA is the 27th column */
        mz_buf_puts(&expected, "|");
    mz_buf_puts(&expected, "甲\r\n乙_x0041_|FALSE\n6:42|-3.5\n");
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, expected.data);
    mz_buf_free(&expected);
}

/* Without workbook.xml the reader falls back to xl/worksheets/sheet1.xml
 * (inline strings need no shared strings). */
static void test_xlsx_fallback_no_shared_strings(void **state)
{
    char path[128];
    const struct zip_entry entries[] = {
        {"xl/worksheets/sheet1.xml",
         "<worksheet xmlns=\"" NS_MAIN "\"><sheetData><row r=\"3\">"
         "<c r=\"B3\" t=\"inlineStr\"><is><t>只有内联</t></is></c></row></sheetData></worksheet>"},
    };
    tmp_path(path, sizeof(path), "fallback.xlsx");
    make_zip(path, entries, MZ_ARRAY_LEN(entries));
    struct read_result res;
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, "3:|只有内联\n");
}

/* A t="s" cell with no shared strings part: a clean error at that row. */
static void test_xlsx_missing_shared_strings(void **state)
{
    char path[128];
    const struct zip_entry entries[] = {
        {"xl/workbook.xml", crafted_workbook},
        {"xl/_rels/workbook.xml.rels", crafted_rels},
        {"xl/worksheets/data.xml", crafted_sheet},
    };
    tmp_path(path, sizeof(path), "nosst.xlsx");
    make_zip(path, entries, MZ_ARRAY_LEN(entries));
    struct read_result res;
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 1 行引用共享字符串");
    assert_reason(res.reason, "缺少共享字符串表");
    expect_rows(&res, "");
}

/* Broken workbooks: each a clean MZ_ERR_INVALID with a reason. */
static void test_xlsx_broken_parts(void **state)
{
    char path[128];
    struct read_result res;
    tmp_path(path, sizeof(path), "broken.xlsx");

    /* The sheet named by the rels is missing. */
    const struct zip_entry missing[] = {
        {"xl/workbook.xml", crafted_workbook},
        {"xl/_rels/workbook.xml.rels", crafted_rels},
    };
    make_zip(path, missing, MZ_ARRAY_LEN(missing));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "文件不是有效的 Excel（xlsx）文件");
    assert_reason(res.reason, "xl/worksheets/data.xml");
    mz_buf_free(&res.text);

    /* Malformed XML after a good row: the row, then the error with a line. */
    const struct zip_entry bad_xml[] = {
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData>\n<row><c><v>1</v></c></row>\n<row><c><v>2</c></row>"
         "</sheetData></worksheet>"},
    };
    make_zip(path, bad_xml, MZ_ARRAY_LEN(bad_xml));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "第 3 行 XML 格式错误");
    expect_rows(&res, "1:1\n");

    /* A DOCTYPE (the billion-laughs vector) is refused. */
    const struct zip_entry doctype[] = {
        {"xl/worksheets/sheet1.xml",
         "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><worksheet><sheetData>"
         "<row><c t=\"inlineStr\"><is><t>&lol;</t></is></c></row></sheetData></worksheet>"},
    };
    make_zip(path, doctype, MZ_ARRAY_LEN(doctype));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, MZ_ERR_INVALID);
    assert_reason(res.reason, "DOCTYPE");
    expect_rows(&res, "");

    /* A shared string index out of range; a column past 256 with text. */
    const struct zip_entry bad_index[] = {
        {"xl/sharedStrings.xml", "<sst><si><t>a</t></si></sst>"},
        {"xl/worksheets/sheet1.xml", "<worksheet><sheetData><row><c t=\"s\"><v>0</v></c></row>"
                                     "<row><c t=\"s\"><v>1</v></c></row></sheetData></worksheet>"},
    };
    make_zip(path, bad_index, MZ_ARRAY_LEN(bad_index));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_reason(res.reason, "第 2 行引用了不存在的共享字符串");
    expect_rows(&res, "1:a\n");
    const struct zip_entry wide[] = {
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData><row><c r=\"XFD1\" s=\"1\"/></row>"
         "<row><c r=\"IW2\"><v>1</v></c></row></sheetData></worksheet>"},
    };
    make_zip(path, wide, MZ_ARRAY_LEN(wide));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_reason(res.reason, "第 2 行超过 256 列");
    expect_rows(&res, "");

    /* Rows going backwards. */
    const struct zip_entry backwards[] = {
        {"xl/worksheets/sheet1.xml", "<worksheet><sheetData><row r=\"2\"><c><v>1</v></c></row>"
                                     "<row r=\"1\"><c><v>1</v></c></row></sheetData></worksheet>"},
    };
    make_zip(path, backwards, MZ_ARRAY_LEN(backwards));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_reason(res.reason, "行号无效");
    expect_rows(&res, "2:1\n");

    /* A zip that is not a workbook at all. */
    const struct zip_entry docx[] = {{"word/document.xml", "<document/>"}};
    make_zip(path, docx, MZ_ARRAY_LEN(docx));
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "文件不是有效的 Excel（xlsx）文件");
    mz_buf_free(&res.text);
}

/* An entry that says it inflates to 768 MiB is refused before reading. */
static void test_xlsx_zip_bomb_declared(void **state)
{
    char path[128];
    const struct zip_entry entries[] = {
        {"xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>"},
    };
    tmp_path(path, sizeof(path), "bomb.xlsx");
    make_zip(path, entries, MZ_ARRAY_LEN(entries));
    size_t len;
    char *bytes = read_file(path, &len);
    /* Uncompressed size: offset 22 of the local header, 24 of the central
     * directory entry (little-endian 0x30000000). */
    char *local = memmem(bytes, len, "PK\x03\x04", 4);
    char *central = memmem(bytes, len, "PK\x01\x02", 4);
    assert_non_null(local);
    assert_non_null(central);
    memcpy(local + 22, "\x00\x00\x00\x30", 4);
    memcpy(central + 24, "\x00\x00\x00\x30", 4);
    write_file(path, bytes, len);
    free(bytes);
    struct read_result res;
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "超过 512 MiB");
    mz_buf_free(&res.text);
}

/* The rows of the XLSX round trip, with their kinds. */
static const char *const sheet_rows[][5] = {
    {"姓名", "身份证号", "人数", "金额", "备注"},
    {"张三", "110105194912310021", "3", "1200", "=危险公式"},
    {"李四", "11010519491231002X", "-7", "123456789012345", "多行\n文本"},
    {"王五", "440524188001010014", "0", "1234567890123456", " 空格 "},
    {"_x0041_", "007", "", "12.5", "\"引号\",逗号"},
};
/* Kinds: count and amount are numbers. */
static const char sheet_kinds[] = "ttnnt";

/* Write with libxlsxwriter, read back: same cells, IDs text, small integers
 * numbers, the header bold and frozen, the sheet named. */
static void test_xlsx_round_trip(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    tmp_path(path, sizeof(path), "round.xlsx");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_XLSX, "低保名单", &w), MZ_OK);
    for (size_t r = 0; r < MZ_ARRAY_LEN(sheet_rows); r++)
        assert_int_equal(mz_table_write_row(w, sheet_rows[r], r ? sheet_kinds : NULL, 5), MZ_OK);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    char *sheet = zip_entry_text(path, "xl/worksheets/sheet1.xml");
    assert_non_null(sheet);
    assert_non_null(strstr(sheet, "<c r=\"B2\" t=\"inlineStr\"><is><t>110105194912310021</t>"));
    assert_non_null(strstr(sheet, "<c r=\"C2\"><v>3</v></c>"));
    assert_non_null(strstr(sheet, "<c r=\"D3\"><v>123456789012345</v></c>"));
    assert_non_null(strstr(sheet, "<c r=\"D4\" t=\"inlineStr\"><is><t>1234567890123456</t>"));
    assert_non_null(strstr(sheet, "<c r=\"D5\" t=\"inlineStr\"><is><t>12.5</t>"));
    assert_non_null(strstr(sheet, "<c r=\"B5\" t=\"inlineStr\"><is><t>007</t>"));
    assert_non_null(strstr(sheet, "state=\"frozen\""));
    assert_non_null(strstr(sheet, "<c r=\"A1\" s=\"1\""));
    assert_non_null(strstr(sheet, "<cols>"));
    free(sheet);
    char *workbook = zip_entry_text(path, "xl/workbook.xml");
    assert_non_null(strstr(workbook, "name=\"低保名单\""));
    free(workbook);

    struct read_result res;
    struct mz_buf expected;
    mz_buf_init(&expected, 0);
    for (size_t r = 0; r < MZ_ARRAY_LEN(sheet_rows); r++) {
        mz_buf_printf(&expected, "%zu:", r + 1);
        for (size_t c = 0; c < 5; c++)
            mz_buf_printf(&expected, "%s%s", c ? "|" : "", sheet_rows[r][c]);
        mz_buf_puts(&expected, "\n");
    }
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, expected.data);
    mz_buf_free(&expected);
}

/* Sheet names are cleaned up; empty cells trail off; limits refused. */
static void test_xlsx_writer_details(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    tmp_path(path, sizeof(path), "names.xlsx");
    assert_int_equal(
        mz_table_writer_open(path, MZ_TABLE_XLSX,
                             "'低保[2024]:名单*?/\\一二三四五六七八九十甲乙丙丁戊己庚辛壬癸", &w),
        MZ_OK);
    const char *row[] = {"a", NULL, "c", "", NULL};
    assert_int_equal(mz_table_write_row(w, row, NULL, 5), MZ_OK);
    assert_int_equal(mz_table_write_row(w, row, "nnnnn", 5), MZ_OK);
    const char *bad[] = {"\xd5\xc5"};
    assert_int_equal(mz_table_write_row(w, bad, NULL, 1), MZ_ERR_INVALID);
    const char *many[MZ_TABLE_MAX_CELLS + 1] = {0};
    assert_int_equal(mz_table_write_row(w, many, NULL, MZ_TABLE_MAX_CELLS + 1), MZ_ERR_TOOBIG);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    char *workbook = zip_entry_text(path, "xl/workbook.xml");
    assert_non_null(
        strstr(workbook, "name=\"低保_2024__名单____一二三四五六七八九十甲乙丙丁戊己\""));
    free(workbook);
    struct read_result res;
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    expect_rows(&res, "1:a||c\n2:a||c\n");

    /* No name at all. */
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_XLSX, NULL, &w), MZ_OK);
    assert_int_equal(mz_table_writer_close(w), MZ_OK);
    workbook = zip_entry_text(path, "xl/workbook.xml");
    assert_non_null(strstr(workbook, "name=\"Sheet1\""));
    free(workbook);
    assert_int_equal(read_all(path, MZ_TABLE_XLSX, &res), MZ_OK);
    assert_int_equal(res.rc, 0);
    expect_rows(&res, "");
}

/* A written xlsx cut in half, and files that are not zips at all. */
static void test_xlsx_truncated_and_not_zip(void **state)
{
    char path[128], cut[128];
    struct mz_table_writer *w = NULL;
    tmp_path(path, sizeof(path), "whole.xlsx");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_XLSX, "表", &w), MZ_OK);
    for (int i = 0; i < 200; i++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", i);
        const char *row[] = {"张三", n, "110105194912310021"};
        assert_int_equal(mz_table_write_row(w, row, "tnt", 3), MZ_OK);
    }
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    size_t len;
    char *bytes = read_file(path, &len);
    assert_int_equal(mz_table_sniff(bytes, len), MZ_TABLE_XLSX);
    write_file(tmp_path(cut, sizeof(cut), "cut.xlsx"), bytes, len / 2);
    free(bytes);
    struct read_result res;
    assert_int_equal(read_all(cut, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "文件不是有效的 Excel（xlsx）文件");
    mz_buf_free(&res.text);

    write_file(cut, "hello, world\n", 13);
    assert_int_equal(read_all(cut, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "文件不是有效的 Excel（xlsx）文件");
    mz_buf_free(&res.text);
    write_file(cut, "", 0);
    assert_int_equal(read_all(cut, MZ_TABLE_XLSX, &res), MZ_ERR_INVALID);
    assert_reason(res.reason, "文件不是有效的 Excel（xlsx）文件");
    mz_buf_free(&res.text);
}

/* 50,000 rows through the constant-memory writer and the streaming reader. */
static void test_xlsx_many_rows(void **state)
{
    char path[128];
    struct mz_table_writer *w = NULL;
    const long nrows = 50000;
    tmp_path(path, sizeof(path), "many.xlsx");
    assert_int_equal(mz_table_writer_open(path, MZ_TABLE_XLSX, "多", &w), MZ_OK);
    for (long i = 0; i < nrows; i++) {
        char id[32], n[32];
        snprintf(id, sizeof(id), "1101051949%08ld", i);
        snprintf(n, sizeof(n), "%ld", i);
        const char *row[] = {id, n, "民政局"};
        assert_int_equal(mz_table_write_row(w, row, "tnt", 3), MZ_OK);
    }
    assert_int_equal(mz_table_writer_close(w), MZ_OK);

    struct mz_table_reader *r = NULL;
    const char *reason = NULL;
    assert_int_equal(mz_table_open(path, MZ_TABLE_XLSX, &r, &reason), MZ_OK);
    long count = 0, row = 0;
    const char *const *cells;
    size_t n;
    int rc;
    while ((rc = mz_table_next(r, &cells, &n, &row, &reason)) == 1) {
        char id[32];
        snprintf(id, sizeof(id), "1101051949%08ld", count);
        assert_int_equal(n, 3);
        assert_string_equal(cells[0], id);
        count++;
        assert_int_equal(row, count);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, nrows);
    /* At the end it stays at the end. */
    assert_int_equal(mz_table_next(r, &cells, &n, &row, &reason), 0);
    mz_table_close(r);
}

/* The first bytes decide the format. */
static void test_sniff(void **state)
{
    assert_int_equal(mz_table_sniff("PK\x03\x04rest", 8), MZ_TABLE_XLSX);
    assert_int_equal(mz_table_sniff("PK\x03", 3), MZ_TABLE_CSV);
    assert_int_equal(mz_table_sniff("姓名,年龄", 13), MZ_TABLE_CSV);
    assert_int_equal(mz_table_sniff(NULL, 0), MZ_TABLE_CSV);
}

/* Make the test directory. */
static int setup(void **state)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/mz_test_table_XXXXXX");
    return mkdtemp(test_dir) ? 0 : -1;
}

/* Remove the test directory and what is in it. */
static int teardown(void **state)
{
    static const char *const names[] = {
        "in.csv",       "round.csv",     "kinds.csv",  "limits.csv",  "large.csv",
        "crafted.xlsx", "fallback.xlsx", "nosst.xlsx", "broken.xlsx", "round.xlsx",
        "names.xlsx",   "bomb.xlsx",     "whole.xlsx", "cut.xlsx",    "many.xlsx",
    };
    char path[128];
    for (size_t i = 0; i < MZ_ARRAY_LEN(names); i++)
        unlink(tmp_path(path, sizeof(path), names[i]));
    return rmdir(test_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_csv_guard_on_number_kind),
        cmocka_unit_test(test_csv_bom_and_line_ends),
        cmocka_unit_test(test_csv_unterminated_quote),
        cmocka_unit_test(test_csv_stray_quote),
        cmocka_unit_test(test_csv_invalid_utf8),
        cmocka_unit_test(test_csv_limits),
        cmocka_unit_test(test_csv_writer_limits),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_csv_large_file_bounded),
        cmocka_unit_test(test_xlsx_crafted),
        cmocka_unit_test(test_xlsx_fallback_no_shared_strings),
        cmocka_unit_test(test_xlsx_missing_shared_strings),
        cmocka_unit_test(test_xlsx_broken_parts),
        cmocka_unit_test(test_xlsx_zip_bomb_declared),
        cmocka_unit_test(test_xlsx_round_trip),
        cmocka_unit_test(test_xlsx_writer_details),
        cmocka_unit_test(test_xlsx_truncated_and_not_zip),
        cmocka_unit_test(test_xlsx_many_rows),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
