/* pdf.h - printable documents: a document described as JSON, rendered to an
 * A4 portrait PDF with cairo and pango (src/core/pdf.c).
 *
 * The document model (every string UTF-8, shown as plain text, never markup):
 *
 *   {
 *     "title":    "救助决定通知书",                  required, the PDF's Title too
 *     "subtitle": "津和民救〔2025〕12号",              optional, under the title
 *     "meta":     [["申请人", "张三"], ...],          optional, a two-column key-value grid
 *     "blocks": [                                    required (may be empty), in order:
 *       {"heading": "一、救助决定"},                  a section heading
 *       {"paragraph": "经审核，..."},                 wrapped text, first line indented,
 *                                                    breaks across pages ("\n" = new paragraph)
 *       {"kv": [["保障人数", "2 人"], ...]},          a bordered label | value table
 *       {"table": {"columns": ["序号", "姓名"],        a table: cells wrap, long tables break
 *                  "rows": [["1", "张三"], ...],       across pages with the header repeated;
 *                  "widths": [1, 3]}}                  every row has one cell per column;
 *                                                    widths are optional relative weights > 0
 *     ],
 *     "footer": "本通知书一式两份",                   optional, left of the page number
 *     "stamp":  "天津市和平区民政局"                  optional, the issuing unit, printed at the
 *   }                                                end, bottom right, with the date below
 *
 * Cells (table rows, kv and meta values) are strings or integers; labels are
 * strings. Every page carries "第 N 页 共 M 页" at the bottom. Unknown
 * members, unknown block kinds, wrong types, a row with the wrong number of
 * cells and anything over the limits below are MZ_ERR_INVALID with a Chinese
 * reason naming the place ("blocks[2].table.rows[7]：..."), and nothing is
 * written. Text stays text in the PDF (each font embedded as a Type 3 font
 * of the glyphs used, with its Unicode map): it can be selected, searched and
 * extracted.
 *
 * Output is deterministic: the same document, options and library versions
 * give the same bytes (the creation date is an option).
 *
 * Thread-safe: every call has its own font map, pango context and cairo
 * surface (see the comment at the top of pdf.c).
 */
#ifndef MZ_PDF_H
#define MZ_PDF_H

#include <jansson.h>
#include "mz/base.h"

/* Limits that refuse abuse (a document over any is MZ_ERR_INVALID). */
#define MZ_PDF_MAX_ROWS 20000          /* table and kv rows in one document, all tables */
#define MZ_PDF_MAX_PAGES 500
#define MZ_PDF_MAX_BLOCKS 5000
#define MZ_PDF_MAX_COLUMNS 20
#define MZ_PDF_MAX_META 50             /* meta pairs */
#define MZ_PDF_MAX_STRING 20000        /* bytes of one string */
#define MZ_PDF_MAX_TEXT (8 << 20)      /* bytes of all strings together */
#define MZ_PDF_MAX_OUTPUT (128u << 20) /* bytes of the PDF */

struct mz_pdf_options {
    /* The PDF's CreationDate, "YYYY-MM-DDTHH:MM:SS" followed by "Z" or
     * "+hh:mm"/"-hh:mm" (no fraction). NULL: now, in UTC. Tests pass a
     * constant so that the output is byte-for-byte reproducible. */
    const char *create_date;
    /* The date printed under the stamp, "YYYY-MM-DD" (shown as
     * "2025年10月8日"). NULL: today in Asia/Shanghai. */
    const char *date;
};

struct mz_pdf_result {
    int pages;         /* pages of the rendered document (0 when refused) */
    char reason[320];  /* Chinese, for staff: why it was refused ("" on success) */
};

/* Check a document against the model and the limits without rendering it.
 * MZ_OK or MZ_ERR_INVALID with res->reason. res may be NULL. */
int mz_pdf_check(const json_t *doc, struct mz_pdf_result *res);

/* Render doc into *out (malloc'd, NUL-terminated beyond len: free() it) and
 * its size into *len. On failure *out is NULL and the return is
 * MZ_ERR_INVALID (the document or options: res->reason says why),
 * MZ_ERR_NOTFOUND (the Noto CJK fonts are not installed), or MZ_ERR_INTERNAL
 * (cairo failed). opts and res may be NULL. */
int mz_pdf_render(const json_t *doc, const struct mz_pdf_options *opts, char **out, size_t *len,
                  struct mz_pdf_result *res);

/* The same into the arena (the bytes live as long as the arena). */
int mz_pdf_render_arena(struct mz_arena *arena, const json_t *doc,
                        const struct mz_pdf_options *opts, const char **out, size_t *len,
                        struct mz_pdf_result *res);

/* Render and write to fd (all bytes, from its current offset). Nothing is
 * written unless rendering succeeded; MZ_ERR_IO when writing fails. */
int mz_pdf_write_fd(const json_t *doc, const struct mz_pdf_options *opts, int fd,
                    struct mz_pdf_result *res);

/* Render and write to path atomically (a temporary file beside it, renamed
 * over it): on any failure path is left as it was (not created). */
int mz_pdf_write_file(const json_t *doc, const struct mz_pdf_options *opts, const char *path,
                      struct mz_pdf_result *res);

#endif
