/* sources.c - the data sources of the 核对 platform, declared as data.
 *
 * Each source (公安户籍, 车辆, 不动产, 银行存款, 证券, 工商登记, 税务, 社保,
 * 住房公积金, 殡葬火化, 财政供养人员, 民政经办人员近亲属备案) is a table of
 * columns saying which header staff use, what type the cell is and which
 * part of the packed row (struct vf_row) it fills. Import (store.c) and the
 * partner push use the same parser, so a department's file and a partner's
 * JSON are validated alike: the ID number by GB 11643 check digit, money as
 * 元 with at most two decimals (to integer fen, never through floating
 * point), dates and months ISO, kinds from the source's list (code or label).
 *
 * Tested by tests/unit/test_verify.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/crypto.h"
#include "mz/validate.h"
#include "modules/verify/verify_internal.h"

#define ID {"id_number", "身份证号码", "公民身份号码|身份证号|证件号码", VF_ID, VF_C_IDNUM, true}
#define NAME {"name", "姓名", "人员姓名", VF_NAME, VF_C_TEXT, false}

static const struct vf_kind hukou_kinds[] = {
    {"normal", "正常"}, {"dead", "死亡"}, {"moved", "迁出"}, {"cancelled", "注销"}};
static const struct vf_column hukou_cols[] = {
    ID, NAME,
    {"status", "户籍状态", "人口状态|状态", VF_KIND, VF_C_KIND, true},
    {"event_date", "变动日期", "死亡日期|注销日期", VF_DATE, VF_C_DATE, false},
};

static const struct vf_column cremation_cols[] = {
    ID, NAME,
    {"cremated_on", "火化日期", NULL, VF_DATE, VF_C_DATE, true},
    {"funeral_home", "殡仪馆", "火化单位", VF_TEXT, VF_C_TEXT, false},
};

static const struct vf_kind vehicle_kinds[] = {{"car", "小型汽车"},
                                               {"truck", "货车"},
                                               {"motorcycle", "摩托车"},
                                               {"disabled", "残疾人专用车"}};
static const struct vf_column vehicle_cols[] = {
    ID, NAME,
    {"plate", "号牌号码", "车牌号|车牌号码", VF_TEXT, VF_C_TEXT, true},
    {"vehicle_type", "车辆类型", "车型", VF_KIND, VF_C_KIND, true},
    {"value", "评估价值（元）", "车辆价值|价值（元）|价值", VF_A, VF_C_MONEY, false},
    {"registered_on", "登记日期", "初次登记日期", VF_DATE, VF_C_DATE, false},
};

static const struct vf_kind property_kinds[] = {
    {"residential", "住宅"}, {"commercial", "商业"}, {"other", "其他"}};
static const struct vf_column realestate_cols[] = {
    ID, NAME,
    {"certificate", "不动产权证号", "产权证号|证书号", VF_TEXT, VF_C_TEXT, true},
    {"address", "坐落", "房屋坐落|地址", VF_TEXT, VF_C_TEXT, false},
    {"use", "用途", "房屋用途|规划用途", VF_KIND, VF_C_KIND, true},
    {"area", "建筑面积（平方米）", "建筑面积|面积", VF_B, VF_C_AREA, false},
    {"value", "评估价值（元）", "价值（元）|价值", VF_A, VF_C_MONEY, false},
};

static const struct vf_column deposit_cols[] = {
    ID, NAME,
    {"bank", "开户银行", "银行|金融机构", VF_TEXT, VF_C_TEXT, true},
    {"balance", "存款余额（元）", "余额（元）|余额|存款余额", VF_A, VF_C_MONEY, true},
    {"balance_date", "余额日期", "截止日期", VF_DATE, VF_C_DATE, false},
};

static const struct vf_column securities_cols[] = {
    ID, NAME,
    {"broker", "证券公司", "证券机构|机构", VF_TEXT, VF_C_TEXT, true},
    {"market_value", "市值（元）", "证券市值|市值", VF_A, VF_C_MONEY, true},
    {"value_date", "市值日期", "截止日期", VF_DATE, VF_C_DATE, false},
};

static const struct vf_kind business_kinds[] = {
    {"legal_rep", "法定代表人"}, {"shareholder", "股东"}, {"sole", "个体工商户经营者"}};
static const struct vf_column business_cols[] = {
    ID, NAME,
    {"uscc", "统一社会信用代码", "信用代码", VF_TEXT, VF_C_TEXT, false},
    {"company", "企业名称", "市场主体名称|名称", VF_TEXT, VF_C_TEXT, true},
    {"role", "身份", "任职|人员类型", VF_KIND, VF_C_KIND, true},
    {"capital", "认缴出资额（元）", "出资额（元）|出资额|认缴出资", VF_A, VF_C_MONEY, false},
};

static const struct vf_column tax_cols[] = {
    ID, NAME,
    {"period", "所属期", "所属月份|税款所属期", VF_DATE, VF_C_MONTH, true},
    {"income", "应税收入（元）", "收入额（元）|收入额|收入", VF_A, VF_C_MONEY, true},
};

static const struct vf_kind si_kinds[] = {
    {"contribution", "参保缴费"}, {"pension", "养老金领取"}, {"unemployment", "失业保险金领取"}};
static const struct vf_column si_cols[] = {
    ID, NAME,
    {"item", "项目", "险种项目|类别", VF_KIND, VF_C_KIND, true},
    {"amount", "金额（元）", "缴费基数或待遇（元）|金额", VF_A, VF_C_MONEY, true},
    {"period", "所属期", "所属月份", VF_DATE, VF_C_MONTH, true},
};

static const struct vf_column hf_cols[] = {
    ID, NAME,
    {"base", "缴存基数（元）", "缴存基数", VF_A, VF_C_MONEY, true},
    {"deposit", "月缴存额（元）", "月缴存额", VF_B, VF_C_MONEY, false},
    {"period", "所属期", "缴存月份", VF_DATE, VF_C_MONTH, true},
};

static const struct vf_column pe_cols[] = {
    ID, NAME,
    {"employer", "工作单位", "单位名称|单位", VF_TEXT, VF_C_TEXT, true},
    {"post", "职务", "岗位", VF_TEXT, VF_C_TEXT, false},
};

static const struct vf_kind relation_kinds[] = {
    {"self", "本人"},    {"spouse", "配偶"},          {"parent", "父母"},
    {"child", "子女"},   {"sibling", "兄弟姐妹"},     {"other", "其他近亲属"}};
static const struct vf_column staff_cols[] = {
    ID, NAME,
    {"relation", "与经办人员关系", "关系", VF_KIND, VF_C_KIND, true},
    {"staff_name", "经办人员姓名", "工作人员姓名|干部姓名", VF_TEXT, VF_C_TEXT, true},
    {"employer", "工作单位", "单位", VF_TEXT, VF_C_TEXT, false},
};

#define COLS(c) c, (int)MZ_ARRAY_LEN(c)
#define KINDS(k) k, (int)MZ_ARRAY_LEN(k)

const struct vf_source vf_sources[VF_NSOURCES] = {
    {VF_SRC_HUKOU, "hukou", "公安户籍", "公安机关", COLS(hukou_cols), KINDS(hukou_kinds), NULL,
     NULL},
    {VF_SRC_CREMATION, "cremation", "殡葬火化", "殡葬管理机构", COLS(cremation_cols), NULL, 0,
     NULL, NULL},
    {VF_SRC_VEHICLE, "vehicle", "车辆", "公安交管部门", COLS(vehicle_cols), KINDS(vehicle_kinds),
     "评估价值", NULL},
    {VF_SRC_REALESTATE, "realestate", "不动产", "不动产登记机构", COLS(realestate_cols),
     KINDS(property_kinds), "评估价值", "建筑面积"},
    {VF_SRC_DEPOSIT, "deposit", "银行存款", "商业银行", COLS(deposit_cols), NULL, 0, "存款余额",
     NULL},
    {VF_SRC_SECURITIES, "securities", "证券", "证券登记结算机构", COLS(securities_cols), NULL, 0,
     "市值", NULL},
    {VF_SRC_BUSINESS, "business", "工商登记", "市场监管部门", COLS(business_cols),
     KINDS(business_kinds), "认缴出资额", NULL},
    {VF_SRC_TAX, "tax", "税务", "税务部门", COLS(tax_cols), NULL, 0, "应税收入", NULL},
    {VF_SRC_SOCIAL_INSURANCE, "social_insurance", "社会保险", "人力社保部门", COLS(si_cols),
     KINDS(si_kinds), "金额", NULL},
    {VF_SRC_HOUSING_FUND, "housing_fund", "住房公积金", "住房公积金管理中心", COLS(hf_cols), NULL,
     0, "缴存基数", "月缴存额"},
    {VF_SRC_PUBLIC_EMPLOYEE, "public_employee", "财政供养人员", "财政部门", COLS(pe_cols), NULL, 0,
     NULL, NULL},
    {VF_SRC_STAFF_RELATIVES, "staff_relatives", "经办人员近亲属备案", "民政部门",
     COLS(staff_cols), KINDS(relation_kinds), NULL, NULL},
};

const struct vf_source *vf_source_find(const char *code)
{
    for (int i = 0; code && i < VF_NSOURCES; i++) {
        if (strcmp(vf_sources[i].code, code) == 0)
            return &vf_sources[i];
    }
    return NULL;
}

/* --- dates and numbers ---------------------------------------------------------- */

int32_t vf_date_int(const char *iso)
{
    if (iso == NULL || strlen(iso) < 10)
        return 0;
    /* The usual "YYYY-MM-DD" directly (a bulk run parses millions of birth
     * dates); anything else as atoi reads it. */
    const char *d = iso;
#define D(i) (d[i] >= '0' && d[i] <= '9')
    if (D(0) && D(1) && D(2) && D(3) && d[4] == '-' && D(5) && D(6) && d[7] == '-' && D(8) &&
        D(9) && !D(10))
        return (int32_t)(((d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
                          (d[3] - '0')) * 10000 +
                         ((d[5] - '0') * 10 + (d[6] - '0')) * 100 + (d[8] - '0') * 10 +
                         (d[9] - '0'));
#undef D
    return (int32_t)(atoi(iso) * 10000 + atoi(iso + 5) * 100 + atoi(iso + 8));
}

void vf_date_text(int32_t d, char out[11])
{
    if (d <= 0) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 11, "%04d-%02d-%02d", (int)(d / 10000) % 10000, (int)(d / 100 % 100),
             (int)(d % 100));
}

/* "12.5", "1,234.56", "300" -> hundredths; false on anything else (or negative
 * unless allowed, or more than 2 decimals, or beyond 10^12 units). */
static bool parse_hundredths(const char *text, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = text;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return false;
    for (; *p && *p != '.' && *p != ' '; p++) {
        if (*p == ',')
            continue;
        if (*p < '0' || *p > '9' || ++digits > 12)
            return false;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++fdigits > 2)
                return false;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return false;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || digits == 0)
        return false;
    if (fdigits == 1)
        frac *= 10;
    *out = whole * 100 + frac;
    return true;
}

static bool valid_date(const char *t, bool month_only)
{
    size_t len = strlen(t);
    if (len != (month_only ? 7u : 10u))
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? t[i] != '-' : (t[i] < '0' || t[i] > '9'))
            return false;
    }
    int y = atoi(t), m = atoi(t + 5);
    if (y < 1900 || y > 2200 || m < 1 || m > 12)
        return false;
    if (!month_only) {
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int d = atoi(t + 8);
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
            return false;
    }
    return true;
}

/* --- header mapping ---------------------------------------------------------------- */

/* Does header text h name column c (name, zh or an alias)? */
static bool header_is(const struct vf_column *c, const char *h)
{
    if (strcmp(h, c->name) == 0 || strcmp(h, c->zh) == 0)
        return true;
    if (c->aliases == NULL)
        return false;
    size_t hl = strlen(h);
    for (const char *p = c->aliases; *p;) {
        size_t n = strcspn(p, "|");
        if (n == hl && strncmp(p, h, n) == 0)
            return true;
        p += n;
        if (*p == '|')
            p++;
    }
    return false;
}

int vf_map_header(const struct vf_source *s, const char *const *cells, size_t ncells, int *map,
                  json_t *errors)
{
    int added = 0;
    bool seen[32] = {false};
    for (size_t i = 0; i < ncells; i++) {
        map[i] = -1;
        const char *h = cells[i] ? cells[i] : "";
        while (*h == ' ')
            h++;
        if (*h == '\0')
            continue;
        for (int k = 0; k < s->ncols; k++) {
            if (header_is(&s->cols[k], h)) {
                if (seen[k]) {
                    mz_errors_add(errors, "header", "duplicate_column",
                                  "表头中同一列出现了两次");
                    added++;
                }
                map[i] = k;
                seen[k] = true;
                break;
            }
        }
        if (map[i] < 0) {
            json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "field", "header", "code",
                                  "unknown_column", "message", "表头中有本数据源没有的列",
                                  "column", h);
            json_array_append_new(errors, e);
            added++;
        }
    }
    for (int k = 0; k < s->ncols; k++) {
        if (s->cols[k].required && !seen[k]) {
            json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "field", "header", "code",
                                  "missing_column", "message", "缺少必需的列", "column",
                                  s->cols[k].zh);
            json_array_append_new(errors, e);
            added++;
        }
    }
    return added;
}

/* --- one row ------------------------------------------------------------------------- */

static void row_error(json_t *errors, long rowno, const struct vf_column *c, const char *code,
                      const char *message)
{
    if (json_array_size(errors) >= 100)
        return;
    json_t *e = json_pack("{s:s, s:s, s:s}", "field", c->name, "code", code, "message", message);
    if (rowno > 0)
        json_object_set_new(e, "row", json_integer(rowno));
    json_array_append_new(errors, e);
}

/* Set column k of the row from text (NULL or "" when absent). */
static int set_cell(struct mz_arena *a, const struct vf_source *s, int k, const char *text,
                    long rowno, struct vf_parsed *out, const char **texts, json_t *errors)
{
    const struct vf_column *c = &s->cols[k];
    while (text && *text == ' ')
        text++;
    if (text == NULL || *text == '\0') {
        if (c->required) {
            row_error(errors, rowno, c, "required", "必填项为空");
            return -1;
        }
        return 0;
    }
    int64_t v = 0;
    switch (c->type) {
    case VF_C_IDNUM: {
        struct mz_id_info info;
        const char *reason = NULL;
        if (mz_id_check(text, NULL, &info, &reason) != MZ_OK) {
            row_error(errors, rowno, c, "invalid_id_number", reason ? reason : "身份证号码无效");
            return -1;
        }
        mz_crypto_blind_raw(VF_KEY_CONTEXT, info.number, strlen(info.number), out->row.key);
        texts[0] = mz_arena_strdup(a, info.number);
        return 0;
    }
    case VF_C_MONEY:
    case VF_C_AREA:
        if (!parse_hundredths(text, &v)) {
            row_error(errors, rowno, c, "invalid_number",
                      c->type == VF_C_MONEY ? "金额应为不小于 0 的数字，最多两位小数（单位：元）"
                                            : "面积应为不小于 0 的数字，最多两位小数");
            return -1;
        }
        break;
    case VF_C_DATE:
        if (!valid_date(text, false)) {
            row_error(errors, rowno, c, "invalid_date", "日期应为 YYYY-MM-DD");
            return -1;
        }
        v = vf_date_int(text);
        break;
    case VF_C_MONTH: {
        char buf[11];
        if (!valid_date(text, true)) {
            row_error(errors, rowno, c, "invalid_month", "月份应为 YYYY-MM");
            return -1;
        }
        snprintf(buf, sizeof(buf), "%.7s-01", text);
        v = vf_date_int(buf);
        break;
    }
    case VF_C_KIND: {
        int found = -1;
        for (int i = 0; i < s->nkinds && found < 0; i++) {
            if (strcmp(text, s->kinds[i].code) == 0 || strcmp(text, s->kinds[i].zh) == 0)
                found = i;
        }
        if (found < 0) {
            row_error(errors, rowno, c, "not_in_dictionary", "不是本数据源允许的类别");
            return -1;
        }
        v = found + 1;
        break;
    }
    case VF_C_TEXT:
        if (strlen(text) > 200 || strchr(text, '\x1f')) {
            row_error(errors, rowno, c, "too_long", "文字过长（最多 200 字节）或含控制字符");
            return -1;
        }
        break;
    }
    switch (c->target) {
    case VF_A:
        out->row.a = v;
        break;
    case VF_B:
        out->row.b = v;
        break;
    case VF_DATE:
        out->row.date = (int32_t)v;
        break;
    case VF_KIND:
        out->row.kind = (uint16_t)v;
        break;
    case VF_NAME:
        if (strlen(text) > 100 || strchr(text, '\x1f')) {
            row_error(errors, rowno, c, "too_long", "姓名过长");
            return -1;
        }
        texts[1] = text;
        break;
    case VF_TEXT: {
        int t = 2;
        for (int i = 0; i < k; i++)
            t += s->cols[i].target == VF_TEXT;
        texts[t] = text;
        break;
    }
    case VF_ID:
        break;
    }
    return 0;
}

/* Join the detail texts. */
static void finish(struct mz_arena *a, const struct vf_source *s, const char **texts,
                   struct vf_parsed *out)
{
    int n = 2;
    for (int i = 0; i < s->ncols; i++)
        n += s->cols[i].target == VF_TEXT;
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (texts[i] ? strlen(texts[i]) : 0) + 1;
    char *d = mz_arena_alloc(a, len + 1), *p = d;
    for (int i = 0; i < n; i++) {
        size_t l = texts[i] ? strlen(texts[i]) : 0;
        memcpy(p, texts[i] ? texts[i] : "", l);
        p += l;
        if (i + 1 < n)
            *p++ = '\x1f';
    }
    *p = '\0';
    out->detail = d;
    out->detail_len = (size_t)(p - d);
}

int vf_parse_row(struct mz_arena *a, const struct vf_source *s, const int *map,
                 const char *const *cells, size_t ncells, long rowno, struct vf_parsed *out,
                 json_t *errors)
{
    const char *texts[16] = {NULL};
    const char *byk[32] = {NULL};
    int bad = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < ncells; i++) {
        if (map[i] >= 0)
            byk[map[i]] = cells[i];
    }
    for (int k = 0; k < s->ncols; k++)
        bad |= set_cell(a, s, k, byk[k], rowno, out, texts, errors);
    if (bad)
        return -1;
    finish(a, s, texts, out);
    return 0;
}

int vf_parse_object(struct mz_arena *a, const struct vf_source *s, json_t *obj, long rowno,
                    struct vf_parsed *out, json_t *errors)
{
    const char *texts[16] = {NULL};
    int bad = 0;
    const char *key;
    json_t *value;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:I}", "field", "rows", "code",
                                                "type", "message", "每一行应为对象", "row",
                                                (json_int_t)rowno));
        return -1;
    }
    json_object_foreach(obj, key, value) {
        bool known = false;
        for (int k = 0; k < s->ncols; k++)
            known = known || strcmp(s->cols[k].name, key) == 0;
        if (!known) {
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s, s:s, s:I}", "field", key, "code",
                                            "unknown_field", "message", "未知字段", "row",
                                            (json_int_t)rowno));
            bad = -1;
        }
    }
    for (int k = 0; k < s->ncols; k++) {
        json_t *v = json_object_get(obj, s->cols[k].name);
        const char *text = NULL;
        if (json_is_string(v)) {
            text = json_string_value(v);
        } else if (json_is_integer(v) && s->cols[k].type != VF_C_IDNUM) {
            /* Money given as a JSON integer is already in fen. */
            if (s->cols[k].type == VF_C_MONEY || s->cols[k].type == VF_C_AREA) {
                json_int_t f = json_integer_value(v);
                text = f < 0 ? "-" : mz_arena_printf(a, "%lld.%02lld", (long long)(f / 100),
                                                     (long long)(f % 100));
            } else {
                text = mz_arena_printf(a, "%lld", (long long)json_integer_value(v));
            }
        } else if (v && !json_is_null(v)) {
            row_error(errors, rowno, &s->cols[k], "type", "类型不对");
            bad = -1;
            continue;
        }
        bad |= set_cell(a, s, k, text, rowno, out, texts, errors);
    }
    if (bad)
        return -1;
    finish(a, s, texts, out);
    return 0;
}

/* --- reading back ----------------------------------------------------------------------- */

char *vf_detail(struct mz_arena *a, const char *strings, const struct vf_row *r, int i)
{
    const char *p = strings + r->str_off, *end = p + r->str_len;
    for (; i > 0 && p < end; i--) {
        const char *q = memchr(p, '\x1f', (size_t)(end - p));
        if (q == NULL)
            return mz_arena_strdup(a, "");
        p = q + 1;
    }
    const char *q = memchr(p, '\x1f', (size_t)(end - p));
    return mz_arena_strndup(a, p, (size_t)((q ? q : end) - p));
}

json_t *vf_row_json(struct mz_arena *a, const struct vf_source *s, int64_t batch_id,
                    const char *strings, const struct vf_row *r)
{
    json_t *o = json_object();
    char buf[11];
    json_object_set_new(o, "source", json_string(s->code));
    json_object_set_new(o, "source_zh", json_string(s->zh));
    json_object_set_new(o, "batch_id", json_integer(batch_id));
    const char *id = vf_detail(a, strings, r, 0);
    size_t idl = strlen(id);
    json_object_set_new(o, "person",
                        json_string(idl == 18 ? mz_arena_printf(a, "%.6s********%.4s", id, id + 14)
                                              : "******"));
    int t = 2;
    for (int k = 0; k < s->ncols; k++) {
        const struct vf_column *c = &s->cols[k];
        switch (c->target) {
        case VF_ID:
            break;
        case VF_NAME:
            json_object_set_new(o, c->name, json_string(vf_detail(a, strings, r, 1)));
            break;
        case VF_A:
            json_object_set_new(o, c->name, json_integer(r->a));
            break;
        case VF_B:
            json_object_set_new(o, c->name, json_integer(r->b));
            break;
        case VF_DATE:
            vf_date_text(r->date, buf);
            if (c->type == VF_C_MONTH)
                buf[7] = '\0';
            json_object_set_new(o, c->name, buf[0] ? json_string(buf) : json_null());
            break;
        case VF_KIND:
            if (r->kind > 0 && r->kind <= s->nkinds) {
                json_object_set_new(o, c->name, json_string(s->kinds[r->kind - 1].code));
                json_object_set_new(o, mz_arena_printf(a, "%s_zh", c->name),
                                    json_string(s->kinds[r->kind - 1].zh));
            }
            break;
        case VF_TEXT:
            json_object_set_new(o, c->name, json_string(vf_detail(a, strings, r, t++)));
            break;
        }
    }
    return o;
}
