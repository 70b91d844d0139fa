/* bank_layouts.c - the bank disbursement file in each bank's own layout.
 *
 * Banks want their 代发 files in their own layouts: CSV with given columns, or
 * fixed-width records in GB18030 whose widths count bytes. A layout is data
 * (assistance_bank_layouts, city level): code, name, file_format (csv | fixed),
 * encoding (utf-8 | gb18030), header (csv), and columns, a JSON array of
 *   {"field": seq | payment_id | case_id | payee_name | account | amount_yuan |
 *             amount_fen | month | division,
 *    "title": header text (csv), "width": bytes (fixed), "align": left | right,
 *    "pad": " " | "0"}
 * and a trailer template with {count}, {sum_yuan}, {sum_fen} (the control
 * totals). GET .../bank-file?layout=CODE writes it; a value wider than its
 * column is refused (422 field_too_wide naming the payment), never cut.
 * Without layout the file is the default CSV (payroll.c).
 *
 * Tested by tests/api/reconcile.test.mjs.
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"
#include "modules/assistance/assistance_internal.h"

static const char *const known_fields[] = {"seq",        "payment_id", "case_id",
                                           "payee_name", "account",    "amount_yuan",
                                           "amount_fen", "month",      "division"};

static bool field_known(const char *f)
{
    for (size_t i = 0; f && i < MZ_ARRAY_LEN(known_fields); i++) {
        if (strcmp(f, known_fields[i]) == 0)
            return true;
    }
    return false;
}

static int layout_validate(struct mz_write *w)
{
    const char *format = json_string_value(json_object_get(w->row, "file_format"));
    json_t *cols = json_object_get(w->row, "columns"), *c;
    size_t i;
    if (!json_is_array(cols) || json_array_size(cols) == 0 || json_array_size(cols) > 30) {
        mz_errors_add(w->errors, "columns", "type", "列定义应为 1 至 30 项的数组");
        return 0;
    }
    json_array_foreach(cols, i, c) {
        const char *field = json_string_value(json_object_get(c, "field"));
        const char *where = mz_arena_printf(w->req->arena, "columns[%zu]", i);
        if (!json_is_object(c) || !field_known(field)) {
            mz_errors_add(w->errors, where, "not_in_dictionary",
                          "字段应为 seq、payment_id、case_id、payee_name、account、amount_yuan、"
                          "amount_fen、month 或 division");
            continue;
        }
        json_t *width = json_object_get(c, "width");
        if (format && strcmp(format, "fixed") == 0 &&
            (!json_is_integer(width) || json_integer_value(width) < 1 ||
             json_integer_value(width) > 200))
            mz_errors_add(w->errors, where, "too_small", "定长格式每列须有 1 至 200 的宽度（字节）");
        const char *align = json_string_value(json_object_get(c, "align"));
        if (align && strcmp(align, "left") && strcmp(align, "right"))
            mz_errors_add(w->errors, where, "not_in_dictionary", "对齐方式应为 left 或 right");
        const char *pad = json_string_value(json_object_get(c, "pad"));
        if (pad && strcmp(pad, " ") && strcmp(pad, "0"))
            mz_errors_add(w->errors, where, "not_in_dictionary", "填充字符应为空格或 0");
    }
    return 0;
}

static const struct mz_hooks layout_hooks = {.validate = layout_validate};

static const struct mz_dict_item format_items[] = {
    {"csv", "逗号分隔（CSV）", "CSV"},
    {"fixed", "定长", "Fixed width"},
};
static const struct mz_dict_item encoding_items[] = {
    {"utf-8", "UTF-8", "UTF-8"},
    {"gb18030", "GB18030", "GB18030"},
};
const struct mz_dict assist_dict_bank_format = {.name = "assistance_bank_format",
                                               .zh = "银行文件格式",
                                               .en = "Bank file format",
                                               .items = format_items,
                                               .nitems = MZ_ARRAY_LEN(format_items)};
const struct mz_dict assist_dict_bank_encoding = {.name = "assistance_bank_encoding",
                                                 .zh = "文件编码",
                                                 .en = "Encoding",
                                                 .items = encoding_items,
                                                 .nitems = MZ_ARRAY_LEN(encoding_items)};

static const struct mz_field layout_fields[] = {
    {.name = "code", .type = MZ_T_TEXT, .zh = "格式代码", .en = "Code",
     .flags = MZ_F_REQUIRED | MZ_F_UNIQUE | MZ_F_HAS_MAX, .max = 30,
     .pattern = "^[a-z0-9_]+$", .pattern_zh = "小写字母、数字和下划线"},
    {.name = "name", .type = MZ_T_TEXT, .zh = "名称", .en = "Name",
     .flags = MZ_F_REQUIRED | MZ_F_HAS_MAX, .max = 60},
    {.name = "file_format", .type = MZ_T_DICT, .zh = "格式", .en = "Format",
     .dict = "assistance_bank_format", .flags = MZ_F_REQUIRED},
    {.name = "encoding", .type = MZ_T_DICT, .zh = "编码", .en = "Encoding",
     .dict = "assistance_bank_encoding", .def = "\"utf-8\""},
    {.name = "header", .type = MZ_T_BOOL, .zh = "含表头行（CSV）", .en = "Header row",
     .def = "true"},
    {.name = "columns", .type = MZ_T_JSON, .zh = "列定义", .en = "Columns",
     .flags = MZ_F_REQUIRED},
    {.name = "trailer", .type = MZ_T_TEXT, .zh = "合计行模板", .en = "Trailer",
     .flags = MZ_F_HAS_MAX, .max = 200, .def = "\"TOTAL,{count},{sum_yuan}\""},
    {.name = "note", .type = MZ_T_TEXT, .zh = "备注", .en = "Note", .flags = MZ_F_HAS_MAX,
     .max = 200},
};

const struct mz_entity assist_bank_layouts = {
    .name = "assistance_bank_layouts",
    .zh = "银行文件格式",
    .en = "Bank file layouts",
    .fields = layout_fields,
    .nfields = MZ_ARRAY_LEN(layout_fields),
    .hooks = &layout_hooks,
    .write_permission = "assistance_standards.configure",
    .title_field = "name",
};

/* --- writing ------------------------------------------------------------------------ */

/* What every line of a layout's file needs (bank_rows.c calls layout_line
 * on its worker thread, one batch at a time, so cd is never shared). */
struct layout_ctx {
    json_t *cols;
    bool fixed;
    iconv_t cd; /* (iconv_t)-1 for UTF-8 */
};

/* Convert a UTF-8 string to the output encoding into an arena copy. */
static const char *encode(struct mz_arena *a, iconv_t cd, const char *in, size_t *len)
{
    *len = strlen(in);
    if (cd == (iconv_t)-1)
        return in;
    size_t cap = *len * 2 + 8, left = cap, inleft = *len;
    char *buf = mz_arena_alloc(a, cap), *o = buf;
    char *i = (char *)in;
    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &i, &inleft, &o, &left) == (size_t)-1)
        return NULL;
    *len = cap - left;
    return buf;
}

static const char *yuan(struct mz_arena *a, int64_t fen)
{
    char buf[32];
    mz_money_format(fen, buf, sizeof(buf));
    return mz_arena_strdup(a, buf);
}

/* Append one column's value to the line; MZ_ERR_TOOBIG when wider than the column. */
static int put(struct mz_arena *a, iconv_t cd, struct mz_buf *line, json_t *col, bool fixed,
               bool first, const char *value)
{
    size_t len;
    const char *bytes = encode(a, cd, value, &len);
    if (bytes == NULL)
        return MZ_ERR_INVALID;
    if (!fixed) {
        if (!first)
            mz_buf_append(line, ",", 1);
        bool quote = strpbrk(value, ",\"\r\n") != NULL;
        if (quote) {
            mz_buf_append(line, "\"", 1);
            for (size_t k = 0; k < len; k++) {
                if (bytes[k] == '"')
                    mz_buf_append(line, "\"", 1);
                mz_buf_append(line, bytes + k, 1);
            }
            mz_buf_append(line, "\"", 1);
        } else {
            mz_buf_append(line, bytes, len);
        }
        return MZ_OK;
    }
    size_t width = (size_t)json_integer_value(json_object_get(col, "width"));
    if (len > width)
        return MZ_ERR_TOOBIG;
    const char *align = json_string_value(json_object_get(col, "align"));
    const char *pad = json_string_value(json_object_get(col, "pad"));
    char p = pad && pad[0] == '0' ? '0' : ' ';
    bool right = align && strcmp(align, "right") == 0;
    if (right)
        for (size_t k = len; k < width; k++)
            mz_buf_append(line, &p, 1);
    mz_buf_append(line, bytes, len);
    if (!right)
        for (size_t k = len; k < width; k++)
            mz_buf_append(line, &p, 1);
    return MZ_OK;
}

/* The trailer with its placeholders filled. */
static const char *trailer_text(struct mz_arena *a, const char *tpl, int64_t count, int64_t sum)
{
    char *out = mz_arena_strdup(a, "");
    for (const char *p = tpl; *p;) {
        if (strncmp(p, "{count}", 7) == 0) {
            out = mz_arena_printf(a, "%s%lld", out, (long long)count);
            p += 7;
        } else if (strncmp(p, "{sum_yuan}", 10) == 0) {
            out = mz_arena_printf(a, "%s%s", out, yuan(a, sum));
            p += 10;
        } else if (strncmp(p, "{sum_fen}", 9) == 0) {
            out = mz_arena_printf(a, "%s%lld", out, (long long)sum);
            p += 9;
        } else {
            out = mz_arena_printf(a, "%s%c", out, *p);
            p++;
        }
    }
    return out;
}

/* One paid row's line in the layout (an assist_bank_line_fn). */
static int layout_line(void *ctx, const struct assist_bank_row *r, struct mz_buf *out,
                       struct mz_arena *a)
{
    const struct layout_ctx *l = ctx;
    json_t *col;
    size_t ci;
    json_array_foreach(l->cols, ci, col) {
        const char *field = json_string_value(json_object_get(col, "field"));
        const char *v = "";
        if (!strcmp(field, "seq"))
            v = mz_arena_printf(a, "%lld", (long long)r->seq);
        else if (!strcmp(field, "payment_id"))
            v = mz_arena_printf(a, "%lld", (long long)r->payment_id);
        else if (!strcmp(field, "case_id"))
            v = mz_arena_printf(a, "%lld", (long long)r->ref_id);
        else if (!strcmp(field, "payee_name"))
            v = r->name;
        else if (!strcmp(field, "account"))
            v = r->account;
        else if (!strcmp(field, "amount_yuan"))
            v = yuan(a, r->amount_fen);
        else if (!strcmp(field, "amount_fen"))
            v = mz_arena_printf(a, "%lld", (long long)r->amount_fen);
        else if (!strcmp(field, "month"))
            v = r->month;
        else if (!strcmp(field, "division"))
            v = r->division;
        int rc = put(a, l->cd, out, col, l->fixed, ci == 0, v);
        if (rc != MZ_OK)
            return rc;
    }
    return mz_buf_append(out, "\r\n", 2);
}

int assist_bank_file_layout(struct mz_db *db, struct mz_arena *a, int64_t run_id, json_t *layout,
                            FILE *f, int64_t *count_out, int64_t *sum_out, int64_t *bad_payment)
{
    const char *fmt = json_string_value(json_object_get(layout, "file_format"));
    const char *enc = json_string_value(json_object_get(layout, "encoding"));
    struct layout_ctx l = {.cols = json_object_get(layout, "columns"),
                           .fixed = fmt && strcmp(fmt, "fixed") == 0,
                           .cd = (iconv_t)-1};
    json_t *col;
    size_t ci;
    struct mz_buf line;
    *bad_payment = 0;
    *count_out = *sum_out = 0;
    if (enc && strcmp(enc, "gb18030") == 0) {
        l.cd = iconv_open("GB18030", "UTF-8");
        if (l.cd == (iconv_t)-1)
            return MZ_ERR_INTERNAL;
    }
    mz_buf_init(&line, 1 << 20);
    int rc = MZ_OK;
    if (!l.fixed && json_is_true(json_object_get(layout, "header"))) {
        json_array_foreach(l.cols, ci, col) {
            const char *title = json_string_value(json_object_get(col, "title"));
            rc = put(a, l.cd, &line, col, false, ci == 0,
                     title ? title : json_string_value(json_object_get(col, "field")));
            if (rc != MZ_OK)
                break;
        }
        mz_buf_append(&line, "\r\n", 2);
        fwrite(line.data, 1, line.len, f);
        mz_buf_reset(&line);
    }
    int64_t count = 0, sum = 0;
    if (rc == MZ_OK)
        rc = assist_bank_rows(db, run_id, f, layout_line, &l, &count, &sum, bad_payment);
    const char *tpl = json_string_value(json_object_get(layout, "trailer"));
    if (rc == MZ_OK && tpl && *tpl) {
        size_t len;
        const char *t = encode(a, l.cd, trailer_text(a, tpl, count, sum), &len);
        if (t == NULL) {
            rc = MZ_ERR_INVALID;
        } else {
            mz_buf_append(&line, t, len);
            mz_buf_append(&line, "\r\n", 2);
            fwrite(line.data, 1, line.len, f);
        }
    }
    mz_buf_free(&line);
    if (l.cd != (iconv_t)-1)
        iconv_close(l.cd);
    if (rc == MZ_OK && (fflush(f) != 0 || ferror(f)))
        rc = MZ_ERR_IO;
    *count_out = count;
    *sum_out = sum;
    return rc;
}
