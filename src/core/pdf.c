/* pdf.c - printable documents (verification reports, decision notices, 公示
 * lists): the JSON document model of include/mz/pdf.h rendered to A4 PDF with
 * cairo's PDF surface and pango.
 *
 * Design. mz_pdf_check() walks the whole document first (types, cell counts,
 * limits), so a refused document costs little and nothing is drawn. Rendering
 * then runs the same layout code twice over the same pango context: the first
 * pass only measures and paginates (no drawing: it learns the page count M),
 * the second draws, with "第 N 页 共 M 页" in every footer. Both passes make
 * identical decisions because they share the code, the context and its font
 * options (metrics unhinted, as a PDF surface uses them), so the page count
 * is exact. Text is laid out by pango (wrapping by word or character, CJK
 * punctuation rules) and drawn as glyphs: cairo embeds font subsets with a
 * ToUnicode map, so the text is selectable and pdftotext extracts it.
 * Paragraphs break between lines, tables between rows with the header row
 * repeated; a single row taller than a page is refused with a reason.
 *
 * Fonts: "Noto Sans CJK SC" (body, tables) and "Noto Serif CJK SC" (title)
 * from Debian's fonts-noto-cjk. Each call checks that fontconfig resolves
 * them to Noto CJK: without them a document would print as boxes, so it is
 * refused (MZ_ERR_NOTFOUND) rather than produced wrongly.
 *
 * Thread safety (the server renders on its worker threads). Pango objects
 * (font maps, contexts, layouts) must not be shared between threads without a
 * lock, and pango_cairo_font_map_get_default() is a per-thread object that
 * lives until its thread ends. So every call creates its own font map with
 * pango_cairo_font_map_new(), its own context, layouts and cairo surface, and
 * releases them before returning: no pango or cairo object is shared, and no
 * mutex is needed. What is shared underneath is thread-safe by design:
 * fontconfig's configuration and caches (thread-safe since 2.10.91; Debian 12
 * has 2.14), cairo's global font caches (cairo locks them), FreeType faces
 * through cairo-ft (locked per face), harfbuzz's immutable blobs and GLib's
 * type system. tests/unit/test_pdf.c renders from several threads at once.
 *
 * Determinism: no time, randomness or address enters the output except the
 * CreationDate, which the caller may fix (struct mz_pdf_options), so tests
 * compare bytes.
 *
 * Tested by tests/unit/test_pdf.c; first user: src/modules/assistance/notice.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#include "mz/pdf.h"
#include "mz/validate.h"

/* --- page geometry (PDF points, 1/72 inch) --------------------------------- */
#define PAGE_W 595.276 /* A4: 210 mm */
#define PAGE_H 841.890 /* 297 mm */
#define MARGIN_X 56.693      /* 20 mm left and right */
#define MARGIN_TOP 62.362    /* 22 mm */
#define MARGIN_BOTTOM 70.866 /* 25 mm; the footer lives in it */
#define CONTENT_W (PAGE_W - 2 * MARGIN_X)
#define BODY_BOTTOM (PAGE_H - MARGIN_BOTTOM)
#define BODY_H (BODY_BOTTOM - MARGIN_TOP)
#define CELL_PAD_X 4.0
#define CELL_PAD_Y 3.0
#define PAGE_NUMBER_W 130.0

/* Font descriptions (family, style, size in points). */
#define FONT_TITLE "Noto Serif CJK SC Bold 18"
#define FONT_SUBTITLE "Noto Sans CJK SC 11"
#define FONT_HEADING "Noto Sans CJK SC Bold 12"
#define FONT_BODY "Noto Sans CJK SC 10.5"
#define FONT_CELL "Noto Sans CJK SC 9"
#define FONT_CELL_BOLD "Noto Sans CJK SC Bold 9"
#define FONT_SMALL "Noto Sans CJK SC 8"

/* --- results ------------------------------------------------------------------ */

static void result_clear(struct mz_pdf_result *res)
{
    if (res != NULL) {
        res->pages = 0;
        res->reason[0] = '\0';
    }
}

/* Record a Chinese reason and return err. */
static int refuse_err(struct mz_pdf_result *res, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse_err(struct mz_pdf_result *res, int err, const char *fmt, ...)
{
    va_list ap;
    if (res != NULL) {
        va_start(ap, fmt);
        vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
        va_end(ap);
    }
    return err;
}

#define refuse(res, ...) refuse_err(res, MZ_ERR_INVALID, __VA_ARGS__)

/* --- checking the document ----------------------------------------------------- */

struct check {
    struct mz_pdf_result *res;
    size_t text_bytes; /* all strings so far */
    size_t rows;       /* table and kv rows so far */
};

/* A string (or, with allow_int, an integer) of displayable UTF-8 within the limits. */
static int check_text(struct check *c, const json_t *v, const char *where, bool allow_int)
{
    if (allow_int && json_is_integer(v))
        return MZ_OK;
    if (!json_is_string(v))
        return refuse(c->res, "%s：应为%s", where, allow_int ? "文本或整数" : "文本");
    size_t len = json_string_length(v);
    if (len > MZ_PDF_MAX_STRING)
        return refuse(c->res, "%s：文本过长（%zu 字节，最多 %d 字节）", where, len,
                      MZ_PDF_MAX_STRING);
    if (!mz_utf8_text_ok(json_string_value(v), len))
        return refuse(c->res, "%s：含有不可打印的控制字符", where);
    c->text_bytes += len;
    if (c->text_bytes > MZ_PDF_MAX_TEXT)
        return refuse(c->res, "%s：文档文字总量过大（最多 %d 字节）", where, MZ_PDF_MAX_TEXT);
    return MZ_OK;
}

/* An optional member that must be a string when present. */
static int check_optional_text(struct check *c, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v == NULL ? MZ_OK : check_text(c, v, key, false);
}

/* [[label, value], ...]: labels are strings, values strings or integers. */
static int check_pairs(struct check *c, const json_t *arr, const char *where, size_t max,
                       bool count_rows)
{
    char at[96];
    size_t i;
    const json_t *pair;
    if (!json_is_array(arr))
        return refuse(c->res, "%s：应为数组，每项为 [标签, 值]", where);
    if (json_array_size(arr) > max)
        return refuse(c->res, "%s：项数过多（%zu 项，最多 %zu 项）", where, json_array_size(arr),
                      max);
    if (count_rows) {
        c->rows += json_array_size(arr);
        if (c->rows > MZ_PDF_MAX_ROWS)
            return refuse(c->res, "%s：表格行数过多（文档共超过 %d 行）", where, MZ_PDF_MAX_ROWS);
    }
    json_array_foreach(arr, i, pair) {
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return refuse(c->res, "%s：应为 [标签, 值] 两项", at);
        int rc = check_text(c, json_array_get(pair, 0), at, false);
        if (rc == MZ_OK)
            rc = check_text(c, json_array_get(pair, 1), at, true);
        if (rc != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

/* {"columns": [...], "rows": [[...], ...], "widths"?: [...]}. */
static int check_table(struct check *c, const json_t *t, const char *where)
{
    char at[128];
    const char *key;
    const json_t *v;
    size_t i, j;
    if (!json_is_object(t))
        return refuse(c->res, "%s：表格应为对象 {columns, rows, widths}", where);
    json_object_foreach((json_t *)t, key, v) {
        if (strcmp(key, "columns") != 0 && strcmp(key, "rows") != 0 && strcmp(key, "widths") != 0)
            return refuse(c->res, "%s：未知字段“%s”（应为 columns、rows 或 widths）", where, key);
    }
    const json_t *cols = json_object_get(t, "columns");
    const json_t *rows = json_object_get(t, "rows");
    const json_t *widths = json_object_get(t, "widths");
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return refuse(c->res, "%s.columns：应为非空的列名数组", where);
    size_t ncols = json_array_size(cols);
    if (ncols > MZ_PDF_MAX_COLUMNS)
        return refuse(c->res, "%s.columns：列数过多（%zu 列，最多 %d 列）", where, ncols,
                      MZ_PDF_MAX_COLUMNS);
    json_array_foreach(cols, i, v) {
        snprintf(at, sizeof(at), "%s.columns[%zu]", where, i);
        int rc = check_text(c, v, at, false);
        if (rc != MZ_OK)
            return rc;
    }
    if (widths != NULL) {
        if (!json_is_array(widths) || json_array_size(widths) != ncols)
            return refuse(c->res, "%s.widths：应为 %zu 个正数（与列数相同）", where, ncols);
        json_array_foreach(widths, i, v) {
            double w = json_number_value(v);
            if (!json_is_number(v) || !(w > 0 && w <= 1000))
                return refuse(c->res, "%s.widths[%zu]：列宽比例应为 0 至 1000 之间的正数", where,
                              i);
        }
    }
    if (!json_is_array(rows))
        return refuse(c->res, "%s.rows：应为行的数组", where);
    c->rows += json_array_size(rows);
    if (c->rows > MZ_PDF_MAX_ROWS)
        return refuse(c->res, "%s.rows：表格行数过多（文档共超过 %d 行）", where, MZ_PDF_MAX_ROWS);
    json_array_foreach(rows, i, v) {
        snprintf(at, sizeof(at), "%s.rows[%zu]", where, i);
        if (!json_is_array(v))
            return refuse(c->res, "%s：每行应为单元格数组", at);
        if (json_array_size(v) != ncols)
            return refuse(c->res, "%s：每行应有 %zu 个单元格，该行有 %zu 个", at, ncols,
                          json_array_size(v));
        const json_t *cell;
        json_array_foreach(v, j, cell) {
            char cat[160];
            snprintf(cat, sizeof(cat), "%s[%zu]", at, j);
            int rc = check_text(c, cell, cat, true);
            if (rc != MZ_OK)
                return rc;
        }
    }
    return MZ_OK;
}

static int check_block(struct check *c, const json_t *b, size_t i)
{
    char at[48];
    snprintf(at, sizeof(at), "blocks[%zu]", i);
    if (!json_is_object(b) || json_object_size(b) != 1)
        return refuse(c->res, "%s：每个内容块应为只有一个成员的对象，如 {\"paragraph\": \"...\"}",
                      at);
    const char *kind = json_object_iter_key(json_object_iter((json_t *)b));
    const json_t *v = json_object_iter_value(json_object_iter((json_t *)b));
    char where[96];
    snprintf(where, sizeof(where), "%s.%s", at, kind);
    if (strcmp(kind, "heading") == 0 || strcmp(kind, "paragraph") == 0)
        return check_text(c, v, where, false);
    if (strcmp(kind, "kv") == 0)
        return check_pairs(c, v, where, MZ_PDF_MAX_ROWS, true);
    if (strcmp(kind, "table") == 0)
        return check_table(c, v, where);
    return refuse(c->res, "%s：未知的内容块类型“%.40s”（应为 heading、paragraph、kv 或 table）", at,
                  kind);
}

int mz_pdf_check(const json_t *doc, struct mz_pdf_result *res)
{
    static const char *const known[] = {"title", "subtitle", "meta", "blocks", "footer", "stamp"};
    struct check c = {.res = res};
    const char *key;
    const json_t *v;
    size_t i;
    int rc;

    result_clear(res);
    if (!json_is_object(doc))
        return refuse(res, "文档应为 JSON 对象");
    json_object_foreach((json_t *)doc, key, v) {
        bool ok = false;
        for (i = 0; i < MZ_ARRAY_LEN(known); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return refuse(res, "未知字段“%.40s”（应为 title、subtitle、meta、blocks、footer 或 stamp）",
                          key);
    }
    const json_t *title = json_object_get(doc, "title");
    if (title == NULL)
        return refuse(res, "title：缺少文档标题");
    if ((rc = check_text(&c, title, "title", false)) != MZ_OK)
        return rc;
    if (json_string_length(title) == 0)
        return refuse(res, "title：文档标题不能为空");
    if ((rc = check_optional_text(&c, doc, "subtitle")) != MZ_OK ||
        (rc = check_optional_text(&c, doc, "footer")) != MZ_OK ||
        (rc = check_optional_text(&c, doc, "stamp")) != MZ_OK)
        return rc;
    const json_t *meta = json_object_get(doc, "meta");
    if (meta != NULL && (rc = check_pairs(&c, meta, "meta", MZ_PDF_MAX_META, false)) != MZ_OK)
        return rc;
    const json_t *blocks = json_object_get(doc, "blocks");
    if (!json_is_array(blocks))
        return refuse(res, "blocks：应为内容块数组");
    if (json_array_size(blocks) > MZ_PDF_MAX_BLOCKS)
        return refuse(res, "blocks：内容块过多（%zu 个，最多 %d 个）", json_array_size(blocks),
                      MZ_PDF_MAX_BLOCKS);
    json_array_foreach(blocks, i, v) {
        if ((rc = check_block(&c, v, i)) != MZ_OK)
            return rc;
    }
    return MZ_OK;
}

/* --- options ----------------------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SS" + "Z" | "+hh:mm" | "-hh:mm": what cairo's metadata takes. */
static bool create_date_ok(const char *s)
{
    size_t n = strlen(s);
    const char *reason;
    if (n != 20 && n != 25)
        return false;
    if (strchr(s, '.') != NULL)
        return false;
    return mz_datetime_check(s, &reason) == MZ_OK;
}

/* --- rendering ---------------------------------------------------------------------- */

/* The state of one pass over the document. */
struct render {
    PangoContext *pc;
    cairo_t *cr;
    bool draw;         /* false on the measuring pass */
    int page;          /* current page, 1-based */
    int pages;         /* total pages (known on the drawing pass) */
    double y;          /* top of the free space on the current page */
    const char *footer;
    const char *stamp;
    const char *date_text; /* "2025年10月8日" */
    PangoFontDescription *title, *subtitle, *heading, *body, *cell, *cell_bold, *small;
    struct mz_pdf_result *res;
    /* The user font standing in for each font face pango chose (see glyphs_show). */
    cairo_font_face_t **faces, **users;
    size_t nfaces;
};

/* --- glyphs as Type 3 fonts ---------------------------------------------------------
 *
 * cairo 1.16 (Debian 12) embeds OpenType/CFF fonts by subsetting their CFF
 * table, and its subsetter mis-tracks hints declared inside subroutines of
 * CID-keyed fonts: with Noto Sans CJK some glyphs (如, 果, ...) come out
 * broken, and poppler and MuPDF draw nothing for them. So the text is drawn
 * through a cairo user font wrapping the Noto face: pango still lays out and
 * shapes with Noto (metrics, line breaks, glyph ids), each glyph's outline is
 * drawn from the real face, and cairo embeds the font as a Type 3 font with a
 * ToUnicode map from the text clusters given to cairo_show_text_glyphs(): the
 * glyphs are correct and the text stays selectable and extractable. */

static const cairo_user_data_key_t real_face_key;

/* The Noto face behind a user font face. */
static cairo_font_face_t *real_face(cairo_scaled_font_t *scaled)
{
    return cairo_font_face_get_user_data(cairo_scaled_font_get_font_face(scaled), &real_face_key);
}

/* Select the real face at 1 unit per em, unhinted (user-font glyph space). */
static void use_real_face(cairo_scaled_font_t *scaled, cairo_t *cr)
{
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
    cairo_set_font_face(cr, real_face(scaled));
    cairo_set_font_size(cr, 1.0);
}

static cairo_status_t user_init(cairo_scaled_font_t *scaled, cairo_t *cr,
                                cairo_font_extents_t *extents)
{
    use_real_face(scaled, cr);
    cairo_font_extents(cr, extents);
    return CAIRO_STATUS_SUCCESS;
}

static cairo_status_t user_render(cairo_scaled_font_t *scaled, unsigned long glyph, cairo_t *cr,
                                  cairo_text_extents_t *extents)
{
    cairo_glyph_t g = {.index = glyph, .x = 0, .y = 0};
    use_real_face(scaled, cr);
    cairo_glyph_extents(cr, &g, 1, extents);
    cairo_glyph_path(cr, &g, 1);
    cairo_fill(cr);
    return CAIRO_STATUS_SUCCESS;
}

/* The user font face for a real face (made once per document). */
static cairo_font_face_t *user_face(struct render *r, cairo_font_face_t *face)
{
    for (size_t i = 0; i < r->nfaces; i++) {
        if (r->faces[i] == face)
            return r->users[i];
    }
    cairo_font_face_t *user = cairo_user_font_face_create();
    cairo_user_font_face_set_init_func(user, user_init);
    cairo_user_font_face_set_render_glyph_func(user, user_render);
    cairo_font_face_set_user_data(user, &real_face_key, cairo_font_face_reference(face),
                                  (cairo_destroy_func_t)cairo_font_face_destroy);
    r->faces = mz_xrealloc(r->faces, (r->nfaces + 1) * sizeof(*r->faces));
    r->users = mz_xrealloc(r->users, (r->nfaces + 1) * sizeof(*r->users));
    r->faces[r->nfaces] = face;
    r->users[r->nfaces] = user;
    r->nfaces++;
    return user;
}

static void user_faces_free(struct render *r)
{
    for (size_t i = 0; i < r->nfaces; i++)
        cairo_font_face_destroy(r->users[i]);
    free(r->faces);
    free(r->users);
    r->faces = r->users = NULL;
    r->nfaces = 0;
}

/* Draw one laid-out line with its baseline origin at (x, y): each run's
 * glyphs through the user font, with the run's text and clusters. */
static void line_show(struct render *r, PangoLayoutLine *line, double x, double y)
{
    const char *text = pango_layout_get_text(line->layout);
    for (GSList *l = line->runs; l != NULL; l = l->next) {
        PangoGlyphItem *run = l->data;
        PangoGlyphString *gs = run->glyphs;
        cairo_scaled_font_t *scaled =
            pango_cairo_font_get_scaled_font(PANGO_CAIRO_FONT(run->item->analysis.font));
        double run_width = (double)pango_glyph_string_get_width(gs) / PANGO_SCALE;
        if (scaled == NULL || gs->num_glyphs == 0) {
            x += run_width;
            continue;
        }
        cairo_glyph_t *glyphs = mz_xcalloc((size_t)gs->num_glyphs, sizeof(*glyphs));
        cairo_text_cluster_t *clusters = mz_xcalloc((size_t)gs->num_glyphs, sizeof(*clusters));
        int nglyphs = 0, nclusters = 0;
        double at = x;
        PangoGlyphItemIter it;
        gboolean more = pango_glyph_item_iter_init_start(&it, run, text);
        while (more) {
            int count = 0;
            for (int g = it.start_glyph; g < it.end_glyph; g++) {
                PangoGlyphInfo *gi = &gs->glyphs[g];
                if (gi->glyph != PANGO_GLYPH_EMPTY && !(gi->glyph & PANGO_GLYPH_UNKNOWN_FLAG)) {
                    glyphs[nglyphs].index = gi->glyph;
                    glyphs[nglyphs].x = at + (double)gi->geometry.x_offset / PANGO_SCALE;
                    glyphs[nglyphs].y = y + (double)gi->geometry.y_offset / PANGO_SCALE;
                    nglyphs++;
                    count++;
                }
                at += (double)gi->geometry.width / PANGO_SCALE;
            }
            if (count > 0) {
                clusters[nclusters].num_bytes = it.end_index - it.start_index;
                clusters[nclusters].num_glyphs = count;
                nclusters++;
            } else if (nclusters > 0) {
                /* Text without a glyph (a line break) joins the cluster before. */
                clusters[nclusters - 1].num_bytes += it.end_index - it.start_index;
            }
            more = pango_glyph_item_iter_next_cluster(&it);
        }
        if (nglyphs > 0) {
            const char *utf8 = text + run->item->offset;
            int utf8_len = run->item->length;
            /* Leading text without glyphs is dropped from the clusters' text. */
            int covered = 0;
            for (int c = 0; c < nclusters; c++)
                covered += clusters[c].num_bytes;
            if (covered < utf8_len) {
                utf8 += utf8_len - covered;
                utf8_len = covered;
            }
            cairo_matrix_t fm;
            cairo_scaled_font_get_font_matrix(scaled, &fm);
            cairo_set_font_face(r->cr, user_face(r, cairo_scaled_font_get_font_face(scaled)));
            cairo_set_font_matrix(r->cr, &fm);
            cairo_show_text_glyphs(r->cr, utf8, utf8_len, glyphs, nglyphs, clusters, nclusters,
                                   (cairo_text_cluster_flags_t)0);
        }
        free(glyphs);
        free(clusters);
        x += run_width;
    }
}

/* The layout of text in font, width points wide (word, then character wrapping). */
static PangoLayout *layout_new(struct render *r, const char *text, const PangoFontDescription *font,
                               double width, PangoAlignment align)
{
    PangoLayout *l = pango_layout_new(r->pc);
    pango_layout_set_font_description(l, font);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(l, align);
    pango_layout_set_text(l, text, -1);
    return l;
}

static double layout_height(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    return (double)h / PANGO_SCALE;
}

static void set_gray(struct render *r, double g)
{
    cairo_set_source_rgb(r->cr, g, g, g);
}

/* Draw a whole layout with its top-left corner at (x, y). */
static void layout_show(struct render *r, PangoLayout *l, double x, double y, double gray)
{
    if (!r->draw)
        return;
    set_gray(r, gray);
    PangoLayoutIter *it = pango_layout_get_iter(l);
    do {
        PangoRectangle logical;
        pango_layout_iter_get_line_extents(it, NULL, &logical);
        line_show(r, pango_layout_iter_get_line_readonly(it), x + (double)logical.x / PANGO_SCALE,
                  y + (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE);
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
}

/* The bottom of the page: a rule, the footer text and "第 N 页 共 M 页". */
static void footer_draw(struct render *r)
{
    double y = BODY_BOTTOM + 12;
    char number[64];
    cairo_set_line_width(r->cr, 0.5);
    set_gray(r, 0.6);
    cairo_move_to(r->cr, MARGIN_X, y);
    cairo_line_to(r->cr, MARGIN_X + CONTENT_W, y);
    cairo_stroke(r->cr);
    y += 5;
    if (r->footer != NULL && *r->footer != '\0') {
        PangoLayout *l = layout_new(r, r->footer, r->small, CONTENT_W - PAGE_NUMBER_W,
                                    PANGO_ALIGN_LEFT);
        pango_layout_set_height(l, -2); /* at most two lines, then "…" */
        pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
        layout_show(r, l, MARGIN_X, y, 0.3);
        g_object_unref(l);
    }
    snprintf(number, sizeof(number), "第 %d 页 共 %d 页", r->page, r->pages);
    PangoLayout *l = layout_new(r, number, r->small, PAGE_NUMBER_W, PANGO_ALIGN_RIGHT);
    layout_show(r, l, MARGIN_X + CONTENT_W - PAGE_NUMBER_W, y, 0.3);
    g_object_unref(l);
}

/* End the current page and start the next one. */
static int page_break(struct render *r)
{
    if (r->draw) {
        footer_draw(r);
        cairo_show_page(r->cr);
    }
    if (r->page >= MZ_PDF_MAX_PAGES)
        return refuse(r->res, "文档超过 %d 页，请缩小范围后再打印", MZ_PDF_MAX_PAGES);
    r->page++;
    r->y = MARGIN_TOP;
    return MZ_OK;
}

/* Break the page unless height more points fit (or the page is still empty). */
static int need(struct render *r, double height)
{
    if (r->y + height <= BODY_BOTTOM || r->y <= MARGIN_TOP)
        return MZ_OK;
    return page_break(r);
}

/* Flow a layout line by line at x, breaking pages between lines. */
static int flow(struct render *r, PangoLayout *l, double x)
{
    PangoLayoutIter *it = pango_layout_get_iter(l);
    int rc = MZ_OK;
    do {
        PangoRectangle logical;
        int y0, y1;
        pango_layout_iter_get_line_extents(it, NULL, &logical);
        pango_layout_iter_get_line_yrange(it, &y0, &y1);
        double height = (double)(y1 - y0) / PANGO_SCALE;
        if ((rc = need(r, height)) != MZ_OK)
            break;
        if (r->draw) {
            int baseline = pango_layout_iter_get_baseline(it);
            set_gray(r, 0);
            line_show(r, pango_layout_iter_get_line_readonly(it),
                      x + (double)logical.x / PANGO_SCALE,
                      r->y + (double)(baseline - y0) / PANGO_SCALE);
        }
        r->y += height;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    return rc;
}

/* A JSON cell as text: strings as they are, integers in decimal (into buf). */
static const char *cell_text(const json_t *v, char buf[24])
{
    if (json_is_integer(v)) {
        snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return json_string_value(v) ? json_string_value(v) : "";
}

/* One row of cells: laid out, then painted. */
struct row {
    int n;
    PangoLayout *cells[MZ_PDF_MAX_COLUMNS];
    double x[MZ_PDF_MAX_COLUMNS], w[MZ_PDF_MAX_COLUMNS];
    double fill[MZ_PDF_MAX_COLUMNS]; /* background gray, or 1 for none */
    double height;
};

/* Lay texts out in the columns (x, w), font; the row's height. */
static void row_layout(struct render *r, struct row *row, int n, const char *const *texts,
                       const double *x, const double *w, const PangoFontDescription *font)
{
    row->n = n;
    row->height = 0;
    for (int i = 0; i < n; i++) {
        row->x[i] = x[i];
        row->w[i] = w[i];
        row->fill[i] = 1;
        row->cells[i] = layout_new(r, texts[i], font, w[i] - 2 * CELL_PAD_X, PANGO_ALIGN_LEFT);
        double h = layout_height(row->cells[i]) + 2 * CELL_PAD_Y;
        if (h > row->height)
            row->height = h;
    }
}

/* Paint a row at r->y (borders when border) and move below it. */
static void row_paint(struct render *r, const struct row *row, bool border, double gray)
{
    if (r->draw) {
        for (int i = 0; i < row->n; i++) {
            if (row->fill[i] < 1) {
                set_gray(r, row->fill[i]);
                cairo_rectangle(r->cr, row->x[i], r->y, row->w[i], row->height);
                cairo_fill(r->cr);
            }
            if (border) {
                set_gray(r, 0.45);
                cairo_set_line_width(r->cr, 0.5);
                cairo_rectangle(r->cr, row->x[i], r->y, row->w[i], row->height);
                cairo_stroke(r->cr);
            }
            layout_show(r, row->cells[i], row->x[i] + CELL_PAD_X, r->y + CELL_PAD_Y, gray);
        }
    }
    r->y += row->height;
}

static void row_free(struct row *row)
{
    for (int i = 0; i < row->n; i++)
        g_object_unref(row->cells[i]);
    row->n = 0;
}

/* Place a row, breaking the page first when it does not fit; a row taller
 * than a page (less the repeated header) is refused. header may be NULL. */
static int row_place(struct render *r, const struct row *row, const struct row *header,
                     const char *where)
{
    double header_h = header ? header->height : 0;
    if (row->height + header_h > BODY_H)
        return refuse(r->res, "%s：内容过多，一页排不下，请拆分后再打印", where);
    if (r->y + row->height > BODY_BOTTOM && r->y > MARGIN_TOP) {
        int rc = page_break(r);
        if (rc != MZ_OK)
            return rc;
        if (header)
            row_paint(r, header, true, 0);
    }
    row_paint(r, row, true, 0);
    return MZ_OK;
}

static void title_draw(struct render *r, const json_t *doc)
{
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *subtitle = json_string_value(json_object_get(doc, "subtitle"));
    PangoLayout *l = layout_new(r, title, r->title, CONTENT_W, PANGO_ALIGN_CENTER);
    layout_show(r, l, MARGIN_X, r->y, 0);
    r->y += layout_height(l) + 6;
    g_object_unref(l);
    if (subtitle != NULL && *subtitle != '\0') {
        l = layout_new(r, subtitle, r->subtitle, CONTENT_W, PANGO_ALIGN_CENTER);
        layout_show(r, l, MARGIN_X, r->y, 0.25);
        r->y += layout_height(l) + 4;
        g_object_unref(l);
    }
    r->y += 10;
}

/* The meta grid: two label-value pairs a line, no borders, then a rule. */
static int meta_draw(struct render *r, const json_t *meta)
{
    static const double share[4] = {0.15, 0.35, 0.15, 0.35};
    double x[4], w[4], at = MARGIN_X;
    size_t n = json_array_size(meta);
    for (int i = 0; i < 4; i++) {
        x[i] = at;
        w[i] = CONTENT_W * share[i];
        at += w[i];
    }
    for (size_t i = 0; i < n; i += 2) {
        const char *texts[4];
        char num[2][24];
        struct mz_arena *a = mz_arena_new();
        int cols = i + 1 < n ? 4 : 2;
        for (int k = 0; k < cols / 2; k++) {
            const json_t *pair = json_array_get(meta, i + (size_t)k);
            texts[2 * k] = mz_arena_printf(a, "%s：", json_string_value(json_array_get(pair, 0)));
            texts[2 * k + 1] = cell_text(json_array_get(pair, 1), num[k]);
        }
        struct row row;
        row_layout(r, &row, cols, texts, x, w, r->cell);
        mz_arena_free(a);
        int rc = need(r, row.height);
        if (rc == MZ_OK) {
            /* Labels in gray, values in black. */
            for (int k = 0; k < cols; k++) {
                layout_show(r, row.cells[k], row.x[k] + CELL_PAD_X, r->y + CELL_PAD_Y,
                            k % 2 == 0 ? 0.35 : 0);
            }
            r->y += row.height;
        }
        row_free(&row);
        if (rc != MZ_OK)
            return rc;
    }
    if (r->draw && n > 0) {
        set_gray(r, 0.6);
        cairo_set_line_width(r->cr, 0.5);
        cairo_move_to(r->cr, MARGIN_X, r->y + 4);
        cairo_line_to(r->cr, MARGIN_X + CONTENT_W, r->y + 4);
        cairo_stroke(r->cr);
    }
    if (n > 0)
        r->y += 14;
    return MZ_OK;
}

static int heading_draw(struct render *r, const char *text)
{
    PangoLayout *l = layout_new(r, text, r->heading, CONTENT_W, PANGO_ALIGN_LEFT);
    double h = layout_height(l);
    /* Keep a heading with at least a few lines of what follows. */
    int rc = need(r, 8 + h + 40);
    if (rc == MZ_OK) {
        if (r->y > MARGIN_TOP)
            r->y += 8;
        layout_show(r, l, MARGIN_X, r->y, 0);
        r->y += h + 6;
    }
    g_object_unref(l);
    return rc;
}

static int paragraph_draw(struct render *r, const char *text)
{
    PangoLayout *l = layout_new(r, text, r->body, CONTENT_W, PANGO_ALIGN_LEFT);
    /* Chinese convention: the first line of each paragraph indented two characters. */
    pango_layout_set_indent(l, (int)(2 * 10.5 * PANGO_SCALE));
    pango_layout_set_line_spacing(l, 1.45f);
    int rc = flow(r, l, MARGIN_X);
    r->y += 6;
    g_object_unref(l);
    return rc;
}

static int kv_draw(struct render *r, const json_t *pairs, const char *where)
{
    const double x[2] = {MARGIN_X, MARGIN_X + CONTENT_W * 0.28};
    const double w[2] = {CONTENT_W * 0.28, CONTENT_W * 0.72};
    size_t i;
    const json_t *pair;
    json_array_foreach(pairs, i, pair) {
        char num[24], at[128];
        const char *texts[2] = {json_string_value(json_array_get(pair, 0)),
                                cell_text(json_array_get(pair, 1), num)};
        struct row row;
        row_layout(r, &row, 2, texts, x, w, r->cell);
        row.fill[0] = 0.94;
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        int rc = row_place(r, &row, NULL, at);
        row_free(&row);
        if (rc != MZ_OK)
            return rc;
    }
    r->y += 8;
    return MZ_OK;
}

static int table_draw(struct render *r, const json_t *t, const char *where)
{
    const json_t *cols = json_object_get(t, "columns");
    const json_t *rows = json_object_get(t, "rows");
    const json_t *widths = json_object_get(t, "widths");
    int n = (int)json_array_size(cols);
    double x[MZ_PDF_MAX_COLUMNS] = {0}, w[MZ_PDF_MAX_COLUMNS] = {0}, sum = 0, at = MARGIN_X;
    const char *texts[MZ_PDF_MAX_COLUMNS] = {0};
    char num[MZ_PDF_MAX_COLUMNS][24];
    int rc = MZ_OK;

    for (int i = 0; i < n; i++)
        sum += widths ? json_number_value(json_array_get(widths, (size_t)i)) : 1.0;
    for (int i = 0; i < n; i++) {
        double share = widths ? json_number_value(json_array_get(widths, (size_t)i)) : 1.0;
        x[i] = at;
        w[i] = CONTENT_W * share / sum;
        at += w[i];
        texts[i] = json_string_value(json_array_get(cols, (size_t)i));
    }
    struct row header;
    row_layout(r, &header, n, texts, x, w, r->cell_bold);
    for (int i = 0; i < n; i++)
        header.fill[i] = 0.88;
    if (header.height > BODY_H / 3) {
        row_free(&header);
        return refuse(r->res, "%s.columns：表头内容过多", where);
    }
    /* The header starts a page when not even one row would fit under it. */
    size_t nrows = json_array_size(rows);
    double first = 0;
    if (nrows > 0) {
        struct row row;
        const json_t *cells = json_array_get(rows, 0);
        for (int i = 0; i < n; i++)
            texts[i] = cell_text(json_array_get(cells, (size_t)i), num[i]);
        row_layout(r, &row, n, texts, x, w, r->cell);
        first = row.height;
        row_free(&row);
    }
    if (first > BODY_H - header.height)
        first = 0; /* refused below, with the row's place */
    if ((rc = need(r, header.height + first)) != MZ_OK)
        goto out;
    row_paint(r, &header, true, 0);
    for (size_t k = 0; k < nrows; k++) {
        struct row row;
        char place[160];
        const json_t *cells = json_array_get(rows, k);
        for (int i = 0; i < n; i++)
            texts[i] = cell_text(json_array_get(cells, (size_t)i), num[i]);
        row_layout(r, &row, n, texts, x, w, r->cell);
        snprintf(place, sizeof(place), "%s.rows[%zu]", where, k);
        rc = row_place(r, &row, &header, place);
        row_free(&row);
        if (rc != MZ_OK)
            goto out;
    }
    r->y += 10;
out:
    row_free(&header);
    return rc;
}

/* The issuing unit and the date, right of centre, after the last block. */
static int stamp_draw(struct render *r)
{
    double w = CONTENT_W * 0.45, x = MARGIN_X + CONTENT_W - w;
    PangoLayout *unit = layout_new(r, r->stamp, r->body, w, PANGO_ALIGN_CENTER);
    PangoLayout *date = layout_new(r, r->date_text, r->body, w, PANGO_ALIGN_CENTER);
    double hu = layout_height(unit), hd = layout_height(date);
    int rc = need(r, 28 + hu + 4 + hd);
    if (rc == MZ_OK) {
        r->y += 28;
        layout_show(r, unit, x, r->y, 0);
        r->y += hu + 4;
        layout_show(r, date, x, r->y, 0);
        r->y += hd;
    }
    g_object_unref(unit);
    g_object_unref(date);
    return rc;
}

/* One pass over the document: measuring (r->draw false) or drawing. */
static int render_pass(struct render *r, const json_t *doc)
{
    const json_t *blocks = json_object_get(doc, "blocks"), *b;
    const json_t *meta = json_object_get(doc, "meta");
    size_t i;
    int rc;

    r->page = 1;
    r->y = MARGIN_TOP;
    title_draw(r, doc);
    if (meta != NULL && (rc = meta_draw(r, meta)) != MZ_OK)
        return rc;
    json_array_foreach(blocks, i, b) {
        const char *kind = json_object_iter_key(json_object_iter((json_t *)b));
        const json_t *v = json_object_iter_value(json_object_iter((json_t *)b));
        char where[64];
        snprintf(where, sizeof(where), "blocks[%zu].%s", i, kind);
        if (strcmp(kind, "heading") == 0)
            rc = heading_draw(r, json_string_value(v));
        else if (strcmp(kind, "paragraph") == 0)
            rc = paragraph_draw(r, json_string_value(v));
        else if (strcmp(kind, "kv") == 0)
            rc = kv_draw(r, v, where);
        else
            rc = table_draw(r, v, where);
        if (rc != MZ_OK)
            return rc;
    }
    if (r->stamp != NULL && *r->stamp != '\0' && (rc = stamp_draw(r)) != MZ_OK)
        return rc;
    if (r->draw) {
        footer_draw(r);
        cairo_show_page(r->cr);
    }
    return MZ_OK;
}

/* Does fontconfig resolve desc to a font of the family prefix want? */
static bool font_present(PangoFontMap *map, PangoContext *pc, const PangoFontDescription *desc,
                         const char *want)
{
    PangoFont *font = pango_font_map_load_font(map, pc, desc);
    bool ok = false;
    if (font != NULL) {
        PangoFontDescription *got = pango_font_describe(font);
        const char *family = pango_font_description_get_family(got);
        ok = family != NULL && strncmp(family, want, strlen(want)) == 0;
        pango_font_description_free(got);
        g_object_unref(font);
    }
    return ok;
}

/* Where cairo writes the PDF. */
struct sink {
    struct mz_buf buf;
    bool overflow;
};

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
    struct sink *s = closure;
    if (mz_buf_append(&s->buf, data, length) != MZ_OK) {
        s->overflow = true;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

int mz_pdf_render(const json_t *doc, const struct mz_pdf_options *opts, char **out, size_t *len,
                  struct mz_pdf_result *res)
{
    struct mz_pdf_options none = {0};
    struct render r = {.res = res};
    struct sink sink = {.overflow = false};
    char now[32], create_date[32], date[11], date_text[48];
    int rc;

    *out = NULL;
    *len = 0;
    if (opts == NULL)
        opts = &none;
    if ((rc = mz_pdf_check(doc, res)) != MZ_OK)
        return rc;
    if (opts->create_date != NULL && !create_date_ok(opts->create_date))
        return refuse(res, "创建时间应为 YYYY-MM-DDTHH:MM:SS 加 Z 或 ±hh:mm");
    if (opts->date != NULL && (strlen(opts->date) != 10 || mz_date_check(opts->date, NULL) != 0))
        return refuse(res, "落款日期应为 YYYY-MM-DD");
    if (opts->create_date != NULL) {
        snprintf(create_date, sizeof(create_date), "%s", opts->create_date);
    } else {
        mz_now_rfc3339(now); /* "2026-11-28T23:31:35.123Z": drop the fraction */
        snprintf(create_date, sizeof(create_date), "%.19sZ", now);
    }
    if (opts->date != NULL)
        snprintf(date, sizeof(date), "%s", opts->date);
    else
        mz_today(date);
    snprintf(date_text, sizeof(date_text), "%d年%d月%d日", atoi(date), atoi(date + 5),
             atoi(date + 8));

    PangoFontMap *map = pango_cairo_font_map_new();
    pango_cairo_font_map_set_resolution(PANGO_CAIRO_FONT_MAP(map), 72.0); /* 1 pt = 1 unit */
    r.pc = pango_font_map_create_context(map);
    pango_context_set_language(r.pc, pango_language_from_string("zh-cn"));
    pango_cairo_context_set_resolution(r.pc, 72.0);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    pango_cairo_context_set_font_options(r.pc, fo);
    cairo_font_options_destroy(fo);
    r.title = pango_font_description_from_string(FONT_TITLE);
    r.subtitle = pango_font_description_from_string(FONT_SUBTITLE);
    r.heading = pango_font_description_from_string(FONT_HEADING);
    r.body = pango_font_description_from_string(FONT_BODY);
    r.cell = pango_font_description_from_string(FONT_CELL);
    r.cell_bold = pango_font_description_from_string(FONT_CELL_BOLD);
    r.small = pango_font_description_from_string(FONT_SMALL);
    r.footer = json_string_value(json_object_get(doc, "footer"));
    r.stamp = json_string_value(json_object_get(doc, "stamp"));
    r.date_text = date_text;

    cairo_surface_t *surface = NULL;
    if (!font_present(map, r.pc, r.body, "Noto Sans CJK") ||
        !font_present(map, r.pc, r.title, "Noto Serif CJK")) {
        mz_error("pdf: fonts Noto Sans/Serif CJK SC not found (install fonts-noto-cjk)");
        rc = refuse_err(res, MZ_ERR_NOTFOUND,
                        "缺少字体 Noto Sans CJK SC / Noto Serif CJK SC（Debian 软件包 fonts-noto-cjk）");
        goto out;
    }

    /* Pass 1: measure and paginate. */
    r.draw = false;
    if ((rc = render_pass(&r, doc)) != MZ_OK)
        goto out;
    r.pages = r.page;

    /* Pass 2: draw into the PDF. */
    mz_buf_init(&sink.buf, MZ_PDF_MAX_OUTPUT);
    surface = cairo_pdf_surface_create_for_stream(sink_write, &sink, PAGE_W, PAGE_H);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE,
                                   json_string_value(json_object_get(doc, "title")));
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "minzheng");
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, create_date);
#endif
    r.cr = cairo_create(surface);
    pango_cairo_update_context(r.cr, r.pc);
    r.draw = true;
    rc = render_pass(&r, doc);
    if (rc == MZ_OK && cairo_status(r.cr) != CAIRO_STATUS_SUCCESS) {
        mz_error("pdf: cairo failed: %s", cairo_status_to_string(cairo_status(r.cr)));
        rc = refuse_err(res, MZ_ERR_INTERNAL, "生成 PDF 失败");
    }
    cairo_destroy(r.cr);
    r.cr = NULL;
    cairo_surface_finish(surface);
    if (rc == MZ_OK && r.page != r.pages) {
        mz_error("pdf: the drawing pass made %d pages, the measuring pass %d", r.page, r.pages);
        rc = refuse_err(res, MZ_ERR_INTERNAL, "生成 PDF 失败（分页不一致）");
    }
    if (rc == MZ_OK && sink.overflow)
        rc = refuse(res, "生成的 PDF 过大（超过 %u MiB）", MZ_PDF_MAX_OUTPUT >> 20);
    if (rc == MZ_OK && cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
        mz_error("pdf: cairo failed: %s", cairo_status_to_string(cairo_surface_status(surface)));
        rc = refuse_err(res, MZ_ERR_INTERNAL, "生成 PDF 失败");
    }
    if (rc == MZ_OK) {
        *out = mz_buf_steal(&sink.buf, len);
        if (res != NULL)
            res->pages = r.pages;
    }

out:
    if (surface != NULL)
        cairo_surface_destroy(surface);
    user_faces_free(&r);
    mz_buf_free(&sink.buf);
    pango_font_description_free(r.title);
    pango_font_description_free(r.subtitle);
    pango_font_description_free(r.heading);
    pango_font_description_free(r.body);
    pango_font_description_free(r.cell);
    pango_font_description_free(r.cell_bold);
    pango_font_description_free(r.small);
    g_object_unref(r.pc);
    g_object_unref(map);
    return rc;
}

int mz_pdf_render_arena(struct mz_arena *arena, const json_t *doc,
                        const struct mz_pdf_options *opts, const char **out, size_t *len,
                        struct mz_pdf_result *res)
{
    char *bytes;
    int rc = mz_pdf_render(doc, opts, &bytes, len, res);
    *out = NULL;
    if (rc != MZ_OK)
        return rc;
    char *copy = mz_arena_alloc(arena, *len + 1);
    memcpy(copy, bytes, *len);
    copy[*len] = '\0';
    free(bytes);
    *out = copy;
    return MZ_OK;
}

/* Write all of data to fd. */
static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return MZ_ERR_IO;
        data += n;
        len -= (size_t)n;
    }
    return MZ_OK;
}

int mz_pdf_write_fd(const json_t *doc, const struct mz_pdf_options *opts, int fd,
                    struct mz_pdf_result *res)
{
    char *bytes;
    size_t len;
    int rc = mz_pdf_render(doc, opts, &bytes, &len, res);
    if (rc != MZ_OK)
        return rc;
    rc = write_all(fd, bytes, len);
    free(bytes);
    if (rc != MZ_OK) {
        mz_error("pdf: write failed: %s", strerror(errno));
        return refuse_err(res, rc, "写入 PDF 文件失败");
    }
    return MZ_OK;
}

int mz_pdf_write_file(const json_t *doc, const struct mz_pdf_options *opts, const char *path,
                      struct mz_pdf_result *res)
{
    char *bytes;
    size_t len;
    int rc = mz_pdf_render(doc, opts, &bytes, &len, res);
    if (rc != MZ_OK)
        return rc;
    size_t n = strlen(path) + 16;
    char *tmp = mz_xmalloc(n);
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = MZ_ERR_IO;
    } else {
        rc = write_all(fd, bytes, len);
        if (close(fd) != 0 && rc == MZ_OK)
            rc = MZ_ERR_IO;
        if (rc == MZ_OK && rename(tmp, path) != 0)
            rc = MZ_ERR_IO;
        if (rc != MZ_OK)
            unlink(tmp);
    }
    if (rc != MZ_OK) {
        mz_error("pdf: cannot write %s: %s", path, strerror(errno));
        refuse_err(res, rc, "写入 PDF 文件失败");
        if (res != NULL)
            res->pages = 0;
    }
    free(tmp);
    free(bytes);
    return rc;
}
