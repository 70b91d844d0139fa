/* table_xlsx.c - XLSX rows in (libzip + expat) and out (libxlsxwriter).
 *
 * The public functions of table.h live in table_csv.c, which calls the
 * mz_table_xlsx_* functions here for MZ_TABLE_XLSX.
 *
 * Reading. An xlsx file is a zip of XML parts. We read
 *   1. xl/workbook.xml: the relationship id of the first <sheet>;
 *   2. xl/_rels/workbook.xml.rels: the part that id names, and the shared
 *      strings part (falling back to xl/worksheets/sheet1.xml and
 *      xl/sharedStrings.xml);
 *   3. the shared strings, all into memory (cells refer to them by index),
 *      capped at XLSX_SST_MAX bytes;
 *   4. the worksheet, streamed: 64 KiB blocks from zip_fread go to expat;
 *      at each </row> that holds text the handler suspends the parser
 *      (XML_StopParser resumable) and mz_table_xlsx_next returns the row;
 *      the next call resumes it. Memory is one row plus expat's buffer.
 * Guards: a part whose uncompressed size (declared, or counted while
 * reading) passes XLSX_PART_MAX is refused as a zip bomb; a DOCTYPE is
 * refused (no entity tricks); a single XML token longer than
 * XLSX_TOKEN_MAX is refused (it would make expat buffer it whole).
 * Conventions of the rows:
 *   - row_number is the row's r attribute (rows may skip numbers); cells
 *     are placed by their r attribute ("AA12" is column 27) and gaps are
 *     filled with empty cells; a row ends at its last non-empty cell, and
 *     rows with no text are not yielded.
 *   - t="s" shared, t="inlineStr" (<is>, rich-text runs concatenated,
 *     phonetic <rPh> runs skipped), t="str" (formula text), t="b" ("TRUE"
 *     / "FALSE"), numbers, dates and errors as the text stored in <v>
 *     (a date formatted cell gives its serial number, e.g. "45292").
 *   - OOXML escapes _xHHHH_ in text are decoded (Excel writes a CR as
 *     _x000D_); the writer escapes a literal "_x0041_" as "_x005F_x0041_"
 *     so that round trips are exact.
 *   - No formula guard: an xlsx text cell is never run as a formula, so
 *     text starting with = is written and read as is.
 *
 * Writing uses libxlsxwriter in constant-memory mode (rows go to a temp
 * file in the output's directory when it is writable, not to RAM, nor to a
 * /tmp that may be RAM-backed): the first row is the header,
 * bold and frozen; cells are text, except number-kind cells that hold an
 * integer of at most 15 digits (so an 18-digit ID number never becomes
 * 1.23E+17); column widths follow the longest text seen (CJK counts
 * double), between 8 and 60.
 *
 * Reasons are Chinese, static or in a thread-local buffer valid until the
 * next mz_table_* call on the thread. Tested in tests/unit/test_table.c;
 * fuzzed by tests/fuzz/fuzz_xlsx.c.
 */
#include "mz/table.h"

#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

/* --- declared in table_csv.c too; keep the two copies identical ------------ */
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

/* Bytes handed to expat per call. */
#define XLSX_BLOCK_SIZE (64 * 1024)
/* Largest uncompressed part we read (zip bomb guard). */
#define XLSX_PART_MAX ((zip_uint64_t)512 * 1024 * 1024)
/* Largest total of shared strings kept in memory (text plus index). */
#define XLSX_SST_MAX ((size_t)64 * 1024 * 1024)
/* Longest stretch of XML without an event we let expat buffer. */
#define XLSX_TOKEN_MAX ((XML_Index)4 * 1024 * 1024)
/* Raw text collected for one cell before _xHHHH_ decoding. */
#define XLSX_RAW_CELL_MAX ((size_t)8 * MZ_TABLE_MAX_CELL)
/* Excel's limit on the characters (UTF-16 units) of a cell. */
#define XLSX_CELL_CHARS_MAX 32767
/* Excel's rows per sheet. */
#define XLSX_ROW_LIMIT 1048576L
/* Excel's columns per sheet. */
#define XLSX_COL_LIMIT 16384L
/* expat puts this between a namespace and a local name. */
#define XLSX_NS_SEP ' '
/* Longest reason we format. */
#define XLSX_REASON_MAX 384

/* The one message for anything that is not a readable xlsx zip. */
static const char XLSX_NOT_XLSX[] = "文件不是有效的 Excel（xlsx）文件";

/* The reason handed to callers: valid until the next call on this thread. */
static _Thread_local char xlsx_reason_buf[XLSX_REASON_MAX];

/* Copy a reader's reason into the thread-local buffer and return it. */
static const char *xlsx_publish_reason(const char *text)
{
    snprintf(xlsx_reason_buf, sizeof(xlsx_reason_buf), "%s", text);
    return xlsx_reason_buf;
}

/* --- text helpers --------------------------------------------------------- */

/* Append code point cp (valid, not a surrogate) to out as UTF-8; returns
 * the bytes written (at most 3: escapes stop at U+FFFF). */
static size_t xlsx_put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* The value of hex digit c, or -1. */
static int xlsx_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code point of an escape "_xHHHH_" at s (len bytes available), or -1
 * when s does not start with one. */
static long xlsx_escape_at(const char *s, size_t len)
{
    if (len < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_')
        return -1;
    long cp = 0;
    for (int i = 2; i < 6; i++) {
        int d = xlsx_hex(s[i]);
        if (d < 0)
            return -1;
        cp = cp * 16 + d;
    }
    return cp;
}

/* Decode _xHHHH_ escapes of s[0..len) in place (the text only shrinks);
 * NUL and surrogates are left encoded. Returns the new length. */
static size_t xlsx_unescape(char *s, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        long cp = s[in] == '_' ? xlsx_escape_at(s + in, len - in) : -1;
        if (cp > 0 && (cp < 0xd800 || cp > 0xdfff)) {
            out += xlsx_put_utf8(s + out, (unsigned)cp);
            in += 7;
        } else {
            s[out++] = s[in++];
        }
    }
    s[out] = '\0';
    return out;
}

/* The local part of an expat name "namespace local". */
static const char *xlsx_local(const char *name)
{
    const char *sep = strrchr(name, XLSX_NS_SEP);
    return sep ? sep + 1 : name;
}

/* The value of the attribute whose local name is local; with qualified, only
 * a namespaced one (r:id), otherwise only a plain one. NULL when absent. */
static const char *xlsx_attr(const char **attrs, const char *local, bool qualified)
{
    for (size_t i = 0; attrs[i] != NULL; i += 2) {
        bool has_ns = strchr(attrs[i], XLSX_NS_SEP) != NULL;
        if (has_ns == qualified && strcmp(xlsx_local(attrs[i]), local) == 0)
            return attrs[i + 1];
    }
    return NULL;
}

/* --- reader state --------------------------------------------------------- */

/* The type of the cell being parsed, from its t attribute. */
enum xlsx_cell_type {
    XLSX_CELL_NUMBER,  /* t="n" or none: the <v> text */
    XLSX_CELL_SHARED,  /* t="s": <v> is a shared string index */
    XLSX_CELL_INLINE,  /* t="inlineStr": text in <is> */
    XLSX_CELL_STRING,  /* t="str": a formula's text result in <v> */
    XLSX_CELL_BOOLEAN, /* t="b": <v> is 0 or 1 */
    XLSX_CELL_OTHER,   /* t="e", t="d" and the unknown: the <v> text */
};

/* One xlsx file being read. */
struct mz_xlsx_reader {
    zip_t *zip; /* the open archive */

    /* Locating the sheet (workbook.xml, then its rels). */
    char *sheet_rid;   /* r:id of the first <sheet>, or NULL */
    char *sheet_path;  /* zip entry of the first worksheet */
    char *shared_path; /* zip entry of the shared strings, or NULL */

    /* Shared strings, all in memory. */
    struct mz_buf shared;   /* the strings, each NUL-terminated */
    size_t *shared_offsets; /* start of each string in shared */
    size_t shared_count;    /* strings loaded */
    size_t shared_cap;      /* room in shared_offsets */
    bool shared_loaded;     /* the shared strings part was found and read */
    bool in_si;             /* inside <si> */
    size_t si_start;        /* offset in shared where the current <si> began */

    /* The part being parsed. */
    const char *part_name;  /* its zip entry name, for messages */
    zip_file_t *part;       /* its stream */
    zip_uint64_t part_read; /* bytes read from it so far */
    XML_Parser parser;      /* expat on it */
    XML_Index fed;          /* bytes given to expat so far */
    XML_Index last_event;   /* byte index of the latest handler call */

    /* Worksheet streaming. */
    bool sheet_final_fed;                   /* the last (empty) block has been given to expat */
    bool sheet_suspended;                   /* expat is suspended after a complete row */
    bool sheet_done;                        /* the worksheet has been parsed to the end */
    bool in_sheet_data;                     /* inside <sheetData> */
    bool in_row;                            /* inside <row> */
    bool in_cell;                           /* inside <c> */
    bool in_value;                          /* inside <c><v> */
    bool in_inline;                         /* inside <c><is> */
    bool in_text;                           /* inside a <t> whose text counts */
    int phonetic_depth;                     /* nesting of <rPh> (its text is skipped) */
    enum xlsx_cell_type cell_type;          /* t of the current cell */
    long cell_col;                          /* 0-based column of the current cell */
    long next_col;                          /* column of a cell with no r attribute */
    long row_number;                        /* r of the current row */
    long prev_row;                          /* r of the previous row, 0 at first */
    struct mz_buf text;                     /* raw text of the current cell */
    struct mz_buf row_data;                 /* the current row's cells, each NUL-terminated */
    size_t row_offsets[MZ_TABLE_MAX_CELLS]; /* start of each cell in row_data */
    size_t row_cells;                       /* cells in the current row */
    bool row_ready;                         /* a complete non-empty row waits to be returned */
    const char *cell_ptrs[MZ_TABLE_MAX_CELLS + 1]; /* the row handed out */

    int err;                      /* sticky error, or MZ_OK */
    char reason[XLSX_REASON_MAX]; /* why, when err is set */
};

/* Record the first error (later ones are ignored) and stop expat if it is
 * running. */
static void xlsx_fail(struct mz_xlsx_reader *x, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void xlsx_fail(struct mz_xlsx_reader *x, int err, const char *fmt, ...)
{
    if (x->err != MZ_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
    va_end(ap);
    x->err = err;
    if (x->parser != NULL) {
        XML_ParsingStatus status;
        XML_GetParsingStatus(x->parser, &status);
        if (status.parsing == XML_PARSING)
            XML_StopParser(x->parser, XML_FALSE);
    }
}

/* Note that expat has reached an event (for the long-token guard). */
static void xlsx_event(struct mz_xlsx_reader *x)
{
    x->last_event = XML_GetCurrentByteIndex(x->parser);
}

/* Refuse any DOCTYPE: OOXML never has one, and entities are attack surface. */
static void xlsx_on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
                            const XML_Char *pubid, int has_internal_subset)
{
    struct mz_xlsx_reader *x = data;
    xlsx_fail(x, MZ_ERR_INVALID, "%s（含有 DOCTYPE 声明）", XLSX_NOT_XLSX);
}

/* --- zip parts ------------------------------------------------------------ */

/* Open the zip entry name as the current part; false (with the error set
 * unless the entry is merely missing and missing_ok) when it cannot be. */
static bool xlsx_part_open(struct mz_xlsx_reader *x, const char *name, bool missing_ok)
{
    zip_int64_t index = zip_name_locate(x->zip, name, 0);
    zip_stat_t st;

    if (index < 0)
        index = zip_name_locate(x->zip, name, ZIP_FL_NOCASE);
    if (index < 0) {
        if (!missing_ok)
            xlsx_fail(x, MZ_ERR_INVALID, "%s（缺少 %s）", XLSX_NOT_XLSX, name);
        return false;
    }
    zip_stat_init(&st);
    if (zip_stat_index(x->zip, (zip_uint64_t)index, 0, &st) != 0) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（无法读取 %s）", XLSX_NOT_XLSX, name);
        return false;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > XLSX_PART_MAX) {
        xlsx_fail(x, MZ_ERR_INVALID, "文件中的 %s 解压后超过 512 MiB，无法导入（疑似压缩炸弹）",
                  name);
        return false;
    }
    x->part = zip_fopen_index(x->zip, (zip_uint64_t)index, 0);
    if (x->part == NULL) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（无法解压 %s）", XLSX_NOT_XLSX, name);
        return false;
    }
    x->part_name = name;
    x->part_read = 0;
    x->fed = 0;
    x->last_event = 0;
    return true;
}

/* Close the current part, if any. */
static void xlsx_part_close(struct mz_xlsx_reader *x)
{
    if (x->part != NULL)
        zip_fclose(x->part);
    x->part = NULL;
}

/* Read up to len bytes of the current part; -1 with the error set on a
 * corrupt entry or past XLSX_PART_MAX. */
static zip_int64_t xlsx_part_read(struct mz_xlsx_reader *x, void *buf, size_t len)
{
    zip_int64_t n = zip_fread(x->part, buf, len);
    if (n < 0) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（%s 已损坏）", XLSX_NOT_XLSX, x->part_name);
        return -1;
    }
    x->part_read += (zip_uint64_t)n;
    if (x->part_read > XLSX_PART_MAX) {
        xlsx_fail(x, MZ_ERR_INVALID, "文件中的 %s 解压后超过 512 MiB，无法导入（疑似压缩炸弹）",
                  x->part_name);
        return -1;
    }
    return n;
}

/* Make a namespace-aware expat parser that reports to x. */
static XML_Parser xlsx_parser_new(struct mz_xlsx_reader *x, XML_StartElementHandler start,
                                  XML_EndElementHandler end, XML_CharacterDataHandler chars)
{
    XML_Parser p = XML_ParserCreateNS(NULL, XLSX_NS_SEP);
    if (p == NULL) {
        fprintf(stderr, "out of memory creating an xml parser\n");
        abort();
    }
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, start, end);
    XML_SetCharacterDataHandler(p, chars);
    XML_SetStartDoctypeDeclHandler(p, xlsx_on_doctype);
    return p;
}

/* Give one block of the current part to expat. Returns expat's status;
 * on XML_STATUS_ERROR the reader's error is set. */
static enum XML_Status xlsx_feed(struct mz_xlsx_reader *x, bool *final)
{
    void *buf = XML_GetBuffer(x->parser, XLSX_BLOCK_SIZE);
    zip_int64_t n;
    enum XML_Status status;

    if (buf == NULL) {
        xlsx_fail(x, MZ_ERR_INTERNAL, "内部错误：XML 解析器无法分配缓冲区");
        return XML_STATUS_ERROR;
    }
    n = xlsx_part_read(x, buf, XLSX_BLOCK_SIZE);
    if (n < 0)
        return XML_STATUS_ERROR;
    *final = n == 0;
    x->fed += (XML_Index)n;
    status = XML_ParseBuffer(x->parser, (int)n, *final);
    if (status == XML_STATUS_ERROR) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（%s 第 %lu 行 XML 格式错误：%s）", XLSX_NOT_XLSX,
                  x->part_name, (unsigned long)XML_GetCurrentLineNumber(x->parser),
                  XML_ErrorString(XML_GetErrorCode(x->parser)));
        return XML_STATUS_ERROR;
    }
    if (x->fed - x->last_event > XLSX_TOKEN_MAX) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（%s 含有过长的 XML 标记）", XLSX_NOT_XLSX, x->part_name);
        return XML_STATUS_ERROR;
    }
    return status;
}

/* Parse the whole part name with the given handlers. Returns false when the
 * part is missing (and missing_ok) or on error (x->err set). */
static bool xlsx_parse_part(struct mz_xlsx_reader *x, const char *name, bool missing_ok,
                            XML_StartElementHandler start, XML_EndElementHandler end,
                            XML_CharacterDataHandler chars)
{
    bool final = false, ok = false;

    if (!xlsx_part_open(x, name, missing_ok))
        return false;
    x->parser = xlsx_parser_new(x, start, end, chars);
    while (!final) {
        if (xlsx_feed(x, &final) == XML_STATUS_ERROR)
            goto out;
    }
    ok = x->err == MZ_OK;
out:
    XML_ParserFree(x->parser);
    x->parser = NULL;
    xlsx_part_close(x);
    return ok;
}

/* --- workbook.xml and its rels -------------------------------------------- */

/* Take the r:id of the first <sheet> of workbook.xml. */
static void xlsx_workbook_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct mz_xlsx_reader *x = data;
    xlsx_event(x);
    if (x->sheet_rid != NULL || strcmp(xlsx_local(name), "sheet") != 0)
        return;
    const char *rid = xlsx_attr(attrs, "id", true);
    if (rid != NULL)
        x->sheet_rid = mz_xstrdup(rid);
}

/* Element ends of workbook.xml and the rels: nothing but the token guard. */
static void xlsx_plain_end(void *data, const XML_Char *name)
{
    xlsx_event(data);
}

/* Character data of workbook.xml and the rels: ignored. */
static void xlsx_plain_chars(void *data, const XML_Char *s, int len)
{
    xlsx_event(data);
}

/* The zip entry a relationship target of xl/workbook.xml names: relative
 * to xl/, or absolute from the root; "." and ".." segments resolved. */
static char *xlsx_resolve_target(const char *target)
{
    struct mz_buf joined, out;
    char *result;

    mz_buf_init(&joined, 0);
    mz_buf_init(&out, 0);
    if (target[0] == '/')
        mz_buf_puts(&joined, target + 1);
    else
        mz_buf_printf(&joined, "xl/%s", target);
    char *save = NULL;
    for (char *seg = strtok_r(joined.data, "/", &save); seg != NULL;
         seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            char *slash = out.len ? strrchr(out.data, '/') : NULL;
            out.len = slash ? (size_t)(slash - out.data) : 0;
            if (out.data)
                out.data[out.len] = '\0';
            continue;
        }
        if (out.len)
            mz_buf_puts(&out, "/");
        mz_buf_puts(&out, seg);
    }
    result = mz_buf_steal(&out, NULL);
    mz_buf_free(&joined);
    return result;
}

/* True when the relationship type ends with "/" suffix. */
static bool xlsx_type_is(const char *type, const char *suffix)
{
    size_t tl = strlen(type), sl = strlen(suffix);
    return tl > sl && type[tl - sl - 1] == '/' && strcmp(type + tl - sl, suffix) == 0;
}

/* Take the first sheet's part and the shared strings part from the rels. */
static void xlsx_rels_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct mz_xlsx_reader *x = data;
    xlsx_event(x);
    if (strcmp(xlsx_local(name), "Relationship") != 0)
        return;
    const char *id = xlsx_attr(attrs, "Id", false);
    const char *type = xlsx_attr(attrs, "Type", false);
    const char *target = xlsx_attr(attrs, "Target", false);
    const char *mode = xlsx_attr(attrs, "TargetMode", false);
    if (target == NULL || target[0] == '\0' || (mode != NULL && strcmp(mode, "External") == 0))
        return;
    if (x->sheet_path == NULL && id != NULL && x->sheet_rid != NULL &&
        strcmp(id, x->sheet_rid) == 0)
        x->sheet_path = xlsx_resolve_target(target);
    if (x->shared_path == NULL && type != NULL && xlsx_type_is(type, "sharedStrings"))
        x->shared_path = xlsx_resolve_target(target);
}

/* --- shared strings ------------------------------------------------------- */

/* Start of an element of sharedStrings.xml. */
static void xlsx_sst_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct mz_xlsx_reader *x = data;
    const char *local = xlsx_local(name);
    xlsx_event(x);
    if (strcmp(local, "si") == 0) {
        x->in_si = true;
        x->si_start = x->shared.len;
    } else if (strcmp(local, "rPh") == 0) {
        x->phonetic_depth++;
    } else if (strcmp(local, "t") == 0 && x->in_si && x->phonetic_depth == 0) {
        x->in_text = true;
    }
}

/* End of an element of sharedStrings.xml: an </si> stores the string. */
static void xlsx_sst_end(void *data, const XML_Char *name)
{
    struct mz_xlsx_reader *x = data;
    const char *local = xlsx_local(name);
    xlsx_event(x);
    if (strcmp(local, "t") == 0) {
        x->in_text = false;
    } else if (strcmp(local, "rPh") == 0) {
        if (x->phonetic_depth > 0)
            x->phonetic_depth--;
    } else if (strcmp(local, "si") == 0 && x->in_si) {
        x->in_si = false;
        if (x->shared.len > x->si_start) {
            size_t len = xlsx_unescape(x->shared.data + x->si_start, x->shared.len - x->si_start);
            x->shared.len = x->si_start + len;
        }
        if (x->shared.len + x->shared_count * sizeof(size_t) > XLSX_SST_MAX ||
            mz_buf_append(&x->shared, "", 1) != MZ_OK) {
            xlsx_fail(x, MZ_ERR_INVALID, "文件的共享字符串超过 64 MiB，无法导入");
            return;
        }
        if (x->shared_count == x->shared_cap) {
            x->shared_cap = x->shared_cap ? x->shared_cap * 2 : 1024;
            x->shared_offsets =
                mz_xrealloc(x->shared_offsets, x->shared_cap * sizeof(*x->shared_offsets));
        }
        x->shared_offsets[x->shared_count++] = x->si_start;
    }
}

/* Text of sharedStrings.xml: kept when inside a counted <t>. */
static void xlsx_sst_chars(void *data, const XML_Char *s, int len)
{
    struct mz_xlsx_reader *x = data;
    xlsx_event(x);
    if (!x->in_text || x->err != MZ_OK)
        return;
    if (mz_buf_append(&x->shared, s, (size_t)len) != MZ_OK)
        xlsx_fail(x, MZ_ERR_INVALID, "文件的共享字符串超过 64 MiB，无法导入");
}

/* --- the worksheet -------------------------------------------------------- */

/* Parse "AA12" into column 26 (0-based); -1 when malformed. */
static long xlsx_column_of(const char *ref)
{
    long col = 0;
    size_t i = 0;
    for (; ref[i] != '\0'; i++) {
        char c = ref[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            break;
        col = col * 26 + (c - 'A' + 1);
        if (col > XLSX_COL_LIMIT)
            return -1;
    }
    if (i == 0)
        return -1;
    for (; ref[i] != '\0'; i++) {
        if (ref[i] < '0' || ref[i] > '9')
            return -1;
    }
    return col - 1;
}

/* Parse a row number "12"; -1 when malformed or beyond Excel's rows. */
static long xlsx_row_of(const char *s)
{
    long row = 0;
    if (s[0] == '\0')
        return -1;
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        row = row * 10 + (s[i] - '0');
        if (row > XLSX_ROW_LIMIT)
            return -1;
    }
    return row > 0 ? row : -1;
}

/* The type named by a t attribute. */
static enum xlsx_cell_type xlsx_cell_type_of(const char *t)
{
    if (t == NULL || strcmp(t, "n") == 0)
        return XLSX_CELL_NUMBER;
    if (strcmp(t, "s") == 0)
        return XLSX_CELL_SHARED;
    if (strcmp(t, "inlineStr") == 0)
        return XLSX_CELL_INLINE;
    if (strcmp(t, "str") == 0)
        return XLSX_CELL_STRING;
    if (strcmp(t, "b") == 0)
        return XLSX_CELL_BOOLEAN;
    return XLSX_CELL_OTHER;
}

/* Start of an element of the worksheet. */
static void xlsx_sheet_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    struct mz_xlsx_reader *x = data;
    const char *local = xlsx_local(name);

    xlsx_event(x);
    if (x->err != MZ_OK)
        return;
    if (strcmp(local, "sheetData") == 0) {
        x->in_sheet_data = true;
    } else if (strcmp(local, "row") == 0 && x->in_sheet_data && !x->in_row) {
        const char *r = xlsx_attr(attrs, "r", false);
        long row = r ? xlsx_row_of(r) : x->prev_row + 1;
        if (row < 0 || row > XLSX_ROW_LIMIT || row <= x->prev_row) {
            xlsx_fail(x, MZ_ERR_INVALID, "%s（第 %ld 行之后的行号无效）", XLSX_NOT_XLSX,
                      x->prev_row);
            return;
        }
        x->in_row = true;
        x->row_number = row;
        x->next_col = 0;
        x->row_cells = 0;
        mz_buf_reset(&x->row_data);
    } else if (strcmp(local, "c") == 0 && x->in_row && !x->in_cell) {
        const char *r = xlsx_attr(attrs, "r", false);
        long col = r ? xlsx_column_of(r) : x->next_col;
        if (col < 0 || col >= XLSX_COL_LIMIT) {
            xlsx_fail(x, MZ_ERR_INVALID, "%s（第 %ld 行的单元格位置无效）", XLSX_NOT_XLSX,
                      x->row_number);
            return;
        }
        x->in_cell = true;
        x->cell_col = col;
        x->cell_type = xlsx_cell_type_of(xlsx_attr(attrs, "t", false));
        x->phonetic_depth = 0;
        mz_buf_reset(&x->text);
    } else if (x->in_cell) {
        if (strcmp(local, "v") == 0)
            x->in_value = true;
        else if (strcmp(local, "is") == 0)
            x->in_inline = true;
        else if (strcmp(local, "rPh") == 0)
            x->phonetic_depth++;
        else if (strcmp(local, "t") == 0 && x->in_inline && x->phonetic_depth == 0)
            x->in_text = true;
    }
}

/* The text of the finished cell, or NULL with the error set. */
static const char *xlsx_cell_value(struct mz_xlsx_reader *x, size_t *len)
{
    char *raw = x->text.data ? x->text.data : (char *)"";
    size_t raw_len = x->text.len;

    switch (x->cell_type) {
    case XLSX_CELL_SHARED: {
        char *end = NULL;
        if (raw_len == 0) {
            *len = 0;
            return "";
        }
        if (!x->shared_loaded) {
            xlsx_fail(x, MZ_ERR_INVALID, "%s（第 %ld 行引用共享字符串，但文件缺少共享字符串表）",
                      XLSX_NOT_XLSX, x->row_number);
            return NULL;
        }
        errno = 0;
        unsigned long long index = strtoull(raw, &end, 10);
        if (errno != 0 || end == raw || *end != '\0' || index >= x->shared_count) {
            xlsx_fail(x, MZ_ERR_INVALID, "%s（第 %ld 行引用了不存在的共享字符串）", XLSX_NOT_XLSX,
                      x->row_number);
            return NULL;
        }
        const char *s = x->shared.data + x->shared_offsets[index];
        *len = strlen(s);
        return s;
    }
    case XLSX_CELL_INLINE:
    case XLSX_CELL_STRING:
        *len = raw_len ? xlsx_unescape(raw, raw_len) : 0;
        return raw;
    case XLSX_CELL_BOOLEAN:
        if (strcmp(raw, "1") == 0) {
            *len = 4;
            return "TRUE";
        }
        if (strcmp(raw, "0") == 0) {
            *len = 5;
            return "FALSE";
        }
        *len = raw_len;
        return raw;
    case XLSX_CELL_NUMBER:
    case XLSX_CELL_OTHER:
        break;
    }
    *len = raw_len;
    return raw;
}

/* Put the finished cell in the row: gaps before it become empty cells;
 * empty cells are left out (the row ends at its last text). */
static void xlsx_cell_done(struct mz_xlsx_reader *x)
{
    size_t len = 0;
    const char *value = xlsx_cell_value(x, &len);

    x->next_col = x->cell_col + 1;
    if (value == NULL || len == 0)
        return;
    if (len > MZ_TABLE_MAX_CELL) {
        xlsx_fail(x, MZ_ERR_INVALID, "第 %ld 行第 %ld 列的内容超过 %d 字节", x->row_number,
                  x->cell_col + 1, MZ_TABLE_MAX_CELL);
        return;
    }
    if (x->cell_col >= MZ_TABLE_MAX_CELLS) {
        xlsx_fail(x, MZ_ERR_INVALID, "第 %ld 行超过 %d 列", x->row_number, MZ_TABLE_MAX_CELLS);
        return;
    }
    if ((size_t)x->cell_col < x->row_cells) {
        xlsx_fail(x, MZ_ERR_INVALID, "%s（第 %ld 行的单元格顺序无效）", XLSX_NOT_XLSX,
                  x->row_number);
        return;
    }
    while (x->row_cells <= (size_t)x->cell_col) {
        x->row_offsets[x->row_cells++] = x->row_data.len;
        if (x->row_cells <= (size_t)x->cell_col)
            mz_buf_append(&x->row_data, "", 1);
    }
    mz_buf_append(&x->row_data, value, len);
    mz_buf_append(&x->row_data, "", 1);
}

/* End of an element of the worksheet: a cell is placed, a row with text
 * suspends the parser so that mz_table_xlsx_next can return it. */
static void xlsx_sheet_end(void *data, const XML_Char *name)
{
    struct mz_xlsx_reader *x = data;
    const char *local = xlsx_local(name);

    xlsx_event(x);
    if (x->err != MZ_OK)
        return;
    if (strcmp(local, "sheetData") == 0) {
        x->in_sheet_data = false;
    } else if (strcmp(local, "row") == 0 && x->in_row) {
        x->in_row = false;
        x->prev_row = x->row_number;
        if (x->row_cells == 0)
            return;
        if (x->row_number > MZ_TABLE_MAX_ROWS) {
            xlsx_fail(x, MZ_ERR_INVALID, "文件超过 %d 行，请分批导入", MZ_TABLE_MAX_ROWS);
            return;
        }
        x->row_ready = true;
        XML_StopParser(x->parser, XML_TRUE);
    } else if (strcmp(local, "c") == 0 && x->in_cell) {
        x->in_cell = x->in_value = x->in_inline = x->in_text = false;
        xlsx_cell_done(x);
    } else if (x->in_cell) {
        if (strcmp(local, "v") == 0)
            x->in_value = false;
        else if (strcmp(local, "is") == 0)
            x->in_inline = false;
        else if (strcmp(local, "t") == 0)
            x->in_text = false;
        else if (strcmp(local, "rPh") == 0 && x->phonetic_depth > 0)
            x->phonetic_depth--;
    }
}

/* Text of the worksheet: kept inside <v> or a counted <t> of a cell. */
static void xlsx_sheet_chars(void *data, const XML_Char *s, int len)
{
    struct mz_xlsx_reader *x = data;
    xlsx_event(x);
    if (x->err != MZ_OK || !x->in_cell)
        return;
    if (!x->in_value && !(x->in_text && x->phonetic_depth == 0))
        return;
    if (x->text.len + (size_t)len > XLSX_RAW_CELL_MAX) {
        xlsx_fail(x, MZ_ERR_INVALID, "第 %ld 行第 %ld 列的内容超过 %d 字节", x->row_number,
                  x->cell_col + 1, MZ_TABLE_MAX_CELL);
        return;
    }
    mz_buf_append(&x->text, s, (size_t)len);
}

/* --- reader interface ----------------------------------------------------- */

/* Free a reader; NULL is fine. */
void mz_table_xlsx_close(struct mz_xlsx_reader *x)
{
    if (x == NULL)
        return;
    if (x->parser != NULL)
        XML_ParserFree(x->parser);
    xlsx_part_close(x);
    if (x->zip != NULL)
        zip_discard(x->zip);
    free(x->sheet_rid);
    free(x->sheet_path);
    free(x->shared_path);
    mz_buf_free(&x->shared);
    free(x->shared_offsets);
    mz_buf_free(&x->text);
    mz_buf_free(&x->row_data);
    free(x);
}

/* True when path starts like an OLE2 compound file: an old .xls, or an
 * xlsx that Excel encrypted with a password. */
static bool xlsx_is_ole2(const char *path)
{
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    bool ole2 = false;

    if (f == NULL)
        return false;
    ole2 = fread(head, 1, sizeof(head), f) == sizeof(head) &&
           memcmp(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", sizeof(head)) == 0;
    fclose(f);
    return ole2;
}

/* Open path: find the first sheet, load the shared strings and start
 * streaming the sheet. */
int mz_table_xlsx_open(const char *path, struct mz_xlsx_reader **out, const char **reason)
{
    struct mz_xlsx_reader *x = mz_xcalloc(1, sizeof(*x));
    int zip_err = 0;

    *out = NULL;
    mz_buf_init(&x->shared, XLSX_SST_MAX);
    mz_buf_init(&x->text, XLSX_RAW_CELL_MAX + 1);
    mz_buf_init(&x->row_data, 0);
    /* libzip's error codes do not tell a missing file from a broken
     * central directory, so ask the file system first. */
    if (access(path, R_OK) != 0) {
        mz_error("xlsx open failed: %s: %s", path, strerror(errno));
        xlsx_fail(x, MZ_ERR_IO, "无法读取上传的文件");
        goto out;
    }
    x->zip = zip_open(path, ZIP_RDONLY, &zip_err);
    if (x->zip == NULL) {
        if (xlsx_is_ole2(path))
            xlsx_fail(x, MZ_ERR_INVALID,
                      "%s（这是旧版 xls 文件或加密的 Excel 文件，请另存为不加密的 xlsx）",
                      XLSX_NOT_XLSX);
        else
            xlsx_fail(x, MZ_ERR_INVALID, "%s", XLSX_NOT_XLSX);
        goto out;
    }
    /* The first sheet: workbook.xml names it, its rels locate it. */
    if (xlsx_parse_part(x, "xl/workbook.xml", true, xlsx_workbook_start, xlsx_plain_end,
                        xlsx_plain_chars) &&
        x->sheet_rid != NULL)
        xlsx_parse_part(x, "xl/_rels/workbook.xml.rels", true, xlsx_rels_start, xlsx_plain_end,
                        xlsx_plain_chars);
    if (x->err != MZ_OK)
        goto out;
    if (x->sheet_path == NULL)
        x->sheet_path = mz_xstrdup("xl/worksheets/sheet1.xml");
    if (x->shared_path == NULL)
        x->shared_path = mz_xstrdup("xl/sharedStrings.xml");
    x->shared_loaded =
        xlsx_parse_part(x, x->shared_path, true, xlsx_sst_start, xlsx_sst_end, xlsx_sst_chars);
    if (x->err != MZ_OK)
        goto out;
    x->in_text = false;
    x->phonetic_depth = 0;
    if (!xlsx_part_open(x, x->sheet_path, false))
        goto out;
    x->parser = xlsx_parser_new(x, xlsx_sheet_start, xlsx_sheet_end, xlsx_sheet_chars);
out:
    if (x->err != MZ_OK) {
        int err = x->err;
        *reason = xlsx_publish_reason(x->reason);
        mz_table_xlsx_close(x);
        return err;
    }
    *out = x;
    return MZ_OK;
}

/* The next row with text, 0 at the end, or the sticky error. */
int mz_table_xlsx_next(struct mz_xlsx_reader *x, const char *const **cells, size_t *ncells,
                       long *row_number, const char **reason)
{
    x->row_ready = false;
    while (x->err == MZ_OK && !x->sheet_done) {
        enum XML_Status status;
        if (x->sheet_suspended) {
            x->sheet_suspended = false;
            status = XML_ResumeParser(x->parser);
            if (status == XML_STATUS_ERROR && x->err == MZ_OK)
                xlsx_fail(x, MZ_ERR_INVALID, "%s（%s 第 %lu 行 XML 格式错误：%s）", XLSX_NOT_XLSX,
                          x->part_name, (unsigned long)XML_GetCurrentLineNumber(x->parser),
                          XML_ErrorString(XML_GetErrorCode(x->parser)));
        } else {
            status = xlsx_feed(x, &x->sheet_final_fed);
        }
        if (x->err != MZ_OK)
            break;
        if (status == XML_STATUS_SUSPENDED)
            x->sheet_suspended = true;
        else if (x->sheet_final_fed)
            x->sheet_done = true;
        if (x->row_ready) {
            for (size_t i = 0; i < x->row_cells; i++)
                x->cell_ptrs[i] = x->row_data.data + x->row_offsets[i];
            x->cell_ptrs[x->row_cells] = NULL;
            *cells = x->cell_ptrs;
            *ncells = x->row_cells;
            *row_number = x->row_number;
            return 1;
        }
    }
    if (x->err != MZ_OK) {
        *reason = xlsx_publish_reason(x->reason);
        return x->err;
    }
    return 0;
}

/* --- writer --------------------------------------------------------------- */

/* Narrowest and widest column we set, in Excel's character units. */
#define XLSX_WIDTH_MIN 8
#define XLSX_WIDTH_MAX 60

/* An xlsx file being written. */
struct mz_xlsx_writer {
    lxw_workbook *workbook;                   /* libxlsxwriter's workbook */
    lxw_worksheet *sheet;                     /* its only worksheet */
    lxw_format *header_format;                /* bold, for the first row */
    char *tmpdir;                             /* where libxlsxwriter spools rows, or NULL */
    long rows;                                /* rows written so far */
    unsigned char widths[MZ_TABLE_MAX_CELLS]; /* widest text per column */
    size_t columns;                           /* columns seen */
    struct mz_buf scratch;                    /* a cell with its _x escaped */
};

/* Characters of s as Excel counts them (UTF-16 units). */
static size_t xlsx_utf16_length(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xc0) != 0x80)
            n += *p >= 0xf0 ? 2 : 1;
    }
    return n;
}

/* Display width of s: CJK and other 3- and 4-byte characters count 2. */
static size_t xlsx_display_width(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n < 255; p++) {
        if ((*p & 0xc0) != 0x80)
            n += *p >= 0xe0 ? 2 : 1;
    }
    return n;
}

/* Copy name into out as a valid sheet name: []:*?/\ become '_', apostrophes
 * at the ends go, at most 31 characters; "Sheet1" when nothing is left. */
static void xlsx_sheet_name(const char *name, char *out, size_t outlen)
{
    size_t o = 0, chars = 0;
    const char *s = name ? name : "";

    if (!mz_table_utf8_valid(s, strlen(s)))
        s = "";
    while (*s == '\'')
        s++;
    for (const char *p = s; *p != '\0';) {
        size_t clen = 1;
        unsigned char c = (unsigned char)*p;
        if (c >= 0xf0)
            clen = 4;
        else if (c >= 0xe0)
            clen = 3;
        else if (c >= 0xc0)
            clen = 2;
        size_t units = clen == 4 ? 2 : 1;
        if (chars + units > LXW_SHEETNAME_MAX || o + clen + 1 > outlen)
            break;
        if (clen == 1 && strchr("[]:*?/\\", c) != NULL) {
            out[o++] = '_';
        } else {
            memcpy(out + o, p, clen);
            o += clen;
        }
        chars += units;
        p += clen;
    }
    while (o > 0 && out[o - 1] == '\'')
        o--;
    out[o] = '\0';
    if (o == 0 || strcasecmp(out, "History") == 0)
        snprintf(out, outlen, "%s", o == 0 ? "Sheet1" : "History_");
}

/* True when s is an integer of at most 15 digits without leading zeros:
 * exactly representable as a double and printed back the same. */
static bool xlsx_is_small_integer(const char *s)
{
    size_t i = s[0] == '-' ? 1 : 0, digits = 0;
    if (s[i] == '0')
        return s[i + 1] == '\0' && i == 0;
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        digits++;
    }
    return digits >= 1 && digits <= 15;
}

/* s with each literal "_xHHHH_" escaped as "_x005F_xHHHH_", so a reader
 * decoding escapes gets s back. Returns s itself when nothing needs it. */
static const char *xlsx_escape_text(struct mz_xlsx_writer *w, const char *s)
{
    size_t len = strlen(s);
    bool any = false;
    for (const char *p = strstr(s, "_x"); p != NULL; p = strstr(p + 1, "_x")) {
        if (xlsx_escape_at(p, len - (size_t)(p - s)) >= 0) {
            any = true;
            break;
        }
    }
    if (!any)
        return s;
    mz_buf_reset(&w->scratch);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_' && xlsx_escape_at(s + i, len - i) >= 0)
            mz_buf_puts(&w->scratch, "_x005F");
        mz_buf_append(&w->scratch, s + i, 1);
    }
    return w->scratch.data;
}

/* A malloc'd copy of the first n bytes of s. */
static char *xlsx_strndup(const char *s, size_t n)
{
    char *copy = mz_xmalloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* Start a workbook at path with one sheet. */
int mz_table_xlsx_writer_open(const char *path, const char *sheet_name, struct mz_xlsx_writer **out)
{
    struct mz_xlsx_writer *w = mz_xcalloc(1, sizeof(*w));
    char name[LXW_SHEETNAME_MAX * 4 + 1];
    const char *slash = strrchr(path, '/');
    int rc = MZ_OK;

    *out = NULL;
    mz_buf_init(&w->scratch, 0);
    /* Spool next to the output (same disk, not a RAM-backed /tmp) when we
     * may write there; otherwise libxlsxwriter's default. */
    if (slash == NULL)
        w->tmpdir = mz_xstrdup(".");
    else if (slash == path)
        w->tmpdir = mz_xstrdup("/");
    else
        w->tmpdir = xlsx_strndup(path, (size_t)(slash - path));
    if (access(w->tmpdir, W_OK | X_OK) != 0) {
        free(w->tmpdir);
        w->tmpdir = NULL;
    }
    lxw_workbook_options options = {
        .constant_memory = LXW_TRUE,
        .tmpdir = w->tmpdir,
        .use_zip64 = LXW_FALSE,
    };
    w->workbook = workbook_new_opt(path, &options);
    if (w->workbook == NULL) {
        mz_error("xlsx create failed: %s", path);
        rc = MZ_ERR_IO;
        goto out;
    }
    xlsx_sheet_name(sheet_name, name, sizeof(name));
    w->sheet = workbook_add_worksheet(w->workbook, name);
    if (w->sheet == NULL)
        w->sheet = workbook_add_worksheet(w->workbook, NULL);
    if (w->sheet == NULL) {
        mz_error("xlsx add worksheet failed: %s", path);
        rc = MZ_ERR_IO;
        goto out;
    }
    w->header_format = workbook_add_format(w->workbook);
    format_set_bold(w->header_format);
out:
    if (rc != MZ_OK) {
        if (w->workbook != NULL)
            workbook_close(w->workbook);
        free(w->tmpdir);
        mz_buf_free(&w->scratch);
        free(w);
        return rc;
    }
    *out = w;
    return MZ_OK;
}

/* Write one row: the first is the bold header. */
int mz_table_xlsx_write_row(struct mz_xlsx_writer *w, const char *const *cells, const char *kinds,
                            size_t ncells)
{
    lxw_format *format = w->rows == 0 ? w->header_format : NULL;
    lxw_row_t row = (lxw_row_t)w->rows;

    if (ncells > MZ_TABLE_MAX_CELLS || w->rows >= MZ_TABLE_MAX_ROWS)
        return MZ_ERR_TOOBIG;
    for (size_t i = 0; i < ncells; i++) {
        const char *s = cells[i] ? cells[i] : "";
        size_t len = strlen(s);
        if (len > MZ_TABLE_MAX_CELL || xlsx_utf16_length(s) > XLSX_CELL_CHARS_MAX)
            return MZ_ERR_TOOBIG;
        if (!mz_table_utf8_valid(s, len))
            return MZ_ERR_INVALID;
    }
    for (size_t i = 0; i < ncells; i++) {
        const char *s = cells[i] ? cells[i] : "";
        lxw_col_t col = (lxw_col_t)i;
        lxw_error err = LXW_NO_ERROR;
        if (s[0] == '\0' && format == NULL)
            continue;
        if (kinds != NULL && kinds[i] == 'n' && xlsx_is_small_integer(s))
            err = worksheet_write_number(w->sheet, row, col, (double)strtoll(s, NULL, 10), format);
        else
            err = worksheet_write_string(w->sheet, row, col, xlsx_escape_text(w, s), format);
        if (err != LXW_NO_ERROR) {
            mz_error("xlsx write failed: row %ld col %zu: %s", w->rows, i, lxw_strerror(err));
            return err == LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED ? MZ_ERR_TOOBIG : MZ_ERR_IO;
        }
        size_t width = xlsx_display_width(s) + (format ? 3 : 2);
        if (width > w->widths[i])
            w->widths[i] = (unsigned char)(width > XLSX_WIDTH_MAX ? XLSX_WIDTH_MAX : width);
    }
    if (ncells > w->columns)
        w->columns = ncells;
    w->rows++;
    return MZ_OK;
}

/* Set widths, freeze the header, write the zip; frees w. */
int mz_table_xlsx_writer_close(struct mz_xlsx_writer *w)
{
    int rc = MZ_OK;

    for (size_t i = 0; i < w->columns; i++) {
        double width = w->widths[i] < XLSX_WIDTH_MIN ? XLSX_WIDTH_MIN : w->widths[i];
        worksheet_set_column(w->sheet, (lxw_col_t)i, (lxw_col_t)i, width, NULL);
    }
    if (w->rows > 0)
        worksheet_freeze_panes(w->sheet, 1, 0);
    lxw_error err = workbook_close(w->workbook);
    if (err != LXW_NO_ERROR) {
        mz_error("xlsx close failed: %s", lxw_strerror(err));
        rc = MZ_ERR_IO;
    }
    free(w->tmpdir);
    mz_buf_free(&w->scratch);
    free(w);
    return rc;
}
