/* seed.c - the library's first document: the bureau's 2012 work plan.
 *
 * data/seed/tianjin-2012-civil-affairs-work-plan.txt is the page as the
 * government portal (天津政务网) shows it, kept verbatim. The Makefile turns
 * its bytes into build/gen/policy_seed.inc (od + awk, like the registry's
 * street list), so the text is compiled in, never typed by hand. Migration 2
 * parses it here and inserts one published document.
 *
 * The record's shape: a portal banner, then label lines ("名    称 :",
 * "索   引  号 :", ... with spaces inside the label) each followed by its value
 * on the next line, or directly by the next label when the portal shows no
 * value (成文日期 and 发文日期 are empty in this record); then the body, which
 * ends at the "附件:" line (the 政策解读/相关政策/相关报道 placeholders after it
 * hold no links). Two repairs, both documented in docs/portal.md:
 *  - the body's first line repeats the 发文字号, garbled by the scrape
 *    ("津民发〔20121"); it is dropped, the header shows the number;
 *  - an empty 成文日期 is taken from the notice's signature date
 *    ("二○一二年一月四日" -> 2012-01-04). An empty 发文日期 stays empty.
 * The topic text ("综合政务\其他") is mapped to its policy_topic code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/policy/policy_internal.h"

/* The seed file's bytes, NUL-terminated. */
static const unsigned char seed_raw[] = {
#include "policy_seed.inc"
    0x00};

/* The header labels of a portal record, in the order of struct seed_doc's fields. */
static const char *const seed_labels[] = {"名称",   "索引号",   "发布机构", "发文字号",
                                          "主题", "成文日期", "发文日期"};
enum { L_TITLE, L_INDEX_NO, L_PUBLISHER, L_DOC_NO, L_TOPIC, L_WRITTEN, L_PUBLISHED, L_COUNT };

/* What the parser found (pointers into the line copy, or malloc'd body). */
struct seed_doc {
    const char *header[L_COUNT]; /* "" when the record shows no value */
    char written_on[11];         /* YYYY-MM-DD or "" */
    struct mz_buf body;
};

/* The length in bytes of the Unicode space at p (U+00A0, U+2000..U+200B,
 * U+3000: the portal pads its labels with them), 0 for anything else. */
static size_t unicode_space(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] == 0xC2 && u[1] == 0xA0)
        return 2;
    if (u[0] == 0xE2 && u[1] == 0x80 && u[2] >= 0x80 && u[2] <= 0x8B)
        return 3;
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80)
        return 3;
    return 0;
}

/* The label a line names (index into seed_labels), L_COUNT for "附件", or
 * -1. Spaces (ASCII and Unicode) inside the label are ignored; the line ends with ':' or '：'. */
static int label_of(const char *line)
{
    char norm[64];
    size_t n = 0;
    for (const char *p = line; *p; p++) {
        if (*p == ' ' || *p == '\t')
            continue;
        size_t space = unicode_space(p);
        if (space > 0) {
            p += space - 1;
            continue;
        }
        if (n + 1 >= sizeof(norm))
            return -1;
        norm[n++] = *p;
    }
    norm[n] = '\0';
    if (n > 0 && norm[n - 1] == ':')
        norm[--n] = '\0';
    else if (n >= 3 && strcmp(norm + n - 3, "：") == 0)
        norm[n -= 3] = '\0';
    else
        return -1;
    for (int i = 0; i < L_COUNT; i++) {
        if (strcmp(norm, seed_labels[i]) == 0)
            return i;
    }
    return strcmp(norm, "附件") == 0 ? L_COUNT : -1;
}

/* True for a line of blanks only. */
static bool blank(const char *line)
{
    return line[strspn(line, " \t")] == '\0';
}

/* The value of one Chinese numeral character: 0-9, 10 for 十, -1 otherwise. */
static int cn_digit(const char **p)
{
    static const char *const digits[] = {"○", "〇", "零", "一", "二", "三", "四",
                                         "五", "六", "七", "八", "九", "十"};
    static const int values[] = {0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for (size_t i = 0; i < MZ_ARRAY_LEN(digits); i++) {
        size_t n = strlen(digits[i]);
        if (strncmp(*p, digits[i], n) == 0) {
            *p += n;
            return values[i];
        }
    }
    return -1;
}

/* A month or day in Chinese numerals (一, 十, 十二, 二十, 二十四), up to the
 * given suffix character; -1 if the text is something else. */
static int cn_small_number(const char **p, const char *suffix)
{
    int value = 0, d, digits = 0;
    bool ten = false;
    while ((d = cn_digit(p)) >= 0) {
        if (d == 10) {
            if (ten)
                return -1;
            value = (value == 0 ? 1 : value) * 10;
            ten = true;
        } else {
            value = ten ? value + d : value * 10 + d;
        }
        digits++;
    }
    size_t n = strlen(suffix);
    if (digits == 0 || strncmp(*p, suffix, n) != 0)
        return -1;
    *p += n;
    return value;
}

/* A line that is a date in Chinese numerals ("二○一二年一月四日") as
 * YYYY-MM-DD into out; false when it is not one. */
static bool cn_date(const char *line, char out[11])
{
    const char *p = line + strspn(line, " \t");
    int year = 0, d;
    for (int i = 0; i < 4; i++) {
        if ((d = cn_digit(&p)) < 0 || d == 10)
            return false;
        year = year * 10 + d;
    }
    if (strncmp(p, "年", strlen("年")) != 0)
        return false;
    p += strlen("年");
    int month = cn_small_number(&p, "月");
    int day = month > 0 ? cn_small_number(&p, "日") : -1;
    if (month < 1 || month > 12 || day < 1 || day > 31 || !blank(p))
        return false;
    char text[32];
    snprintf(text, sizeof(text), "%04d-%02d-%02d", year, month, day);
    memcpy(out, text, 10);
    out[10] = '\0';
    return true;
}

/* Parse the record in text (modified: split into lines) into doc. */
static int seed_parse(char *text, struct seed_doc *doc)
{
    char *lines[512];
    size_t n = 0;
    for (char *l = text; l && n < MZ_ARRAY_LEN(lines);) {
        char *nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        size_t len = strlen(l);
        while (len > 0 && (l[len - 1] == '\r' || l[len - 1] == ' '))
            l[--len] = '\0';
        lines[n++] = l;
        l = nl ? nl + 1 : NULL;
    }
    size_t body_from = 0, body_to = n;
    for (int i = 0; i < L_COUNT; i++)
        doc->header[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        int k = label_of(lines[i]);
        if (k == L_COUNT) {
            body_to = i;
            break;
        }
        if (k < 0 || doc->header[k] != NULL)
            continue;
        bool has_value = i + 1 < n && label_of(lines[i + 1]) < 0 && !blank(lines[i + 1]);
        doc->header[k] = has_value ? lines[i + 1] : "";
        body_from = has_value ? i + 2 : i + 1;
    }
    for (int i = 0; i < L_COUNT; i++) {
        if (doc->header[i] == NULL) {
            mz_error("policy seed: label %d missing from the record", i);
            return MZ_ERR_INVALID;
        }
    }
    if (*doc->header[L_TITLE] == '\0' || *doc->header[L_INDEX_NO] == '\0' ||
        body_from >= body_to) {
        mz_error("policy seed: the record has no title, index number or body");
        return MZ_ERR_INVALID;
    }
    /* The scrape's garbled copy of the 发文字号 opens the body. */
    const char *doc_no = doc->header[L_DOC_NO];
    const char *bracket = strstr(doc_no, "〔");
    while (body_from < body_to && blank(lines[body_from]))
        body_from++;
    if (bracket && bracket > doc_no && body_from < body_to &&
        strncmp(lines[body_from], doc_no, (size_t)(bracket - doc_no)) == 0)
        body_from++;
    snprintf(doc->written_on, sizeof(doc->written_on), "%s", doc->header[L_WRITTEN]);
    mz_buf_init(&doc->body, 0);
    /* Paragraphs are the non-blank lines, separated by one blank line. */
    for (size_t i = body_from; i < body_to; i++) {
        if (blank(lines[i]))
            continue;
        if (doc->written_on[0] == '\0')
            (void)cn_date(lines[i], doc->written_on);
        if (doc->body.len > 0)
            mz_buf_puts(&doc->body, "\n\n");
        mz_buf_puts(&doc->body, lines[i]);
    }
    return MZ_OK;
}

/* The policy_topic code whose label is the record's topic text (general_other
 * when the scheme has no such label). */
static const char *topic_code(const char *text)
{
    const struct mz_dict *d = &policy_topic_dict;
    for (size_t i = 0; i < d->nitems; i++) {
        if (strcmp(d->items[i].zh, text) == 0)
            return d->items[i].code;
    }
    return "general_other";
}

/* Insert the parsed document, its history entry and its index entry. */
static int seed_insert(struct mz_db *db, const struct seed_doc *doc)
{
    struct mz_stmt *st;
    char now[32];
    int64_t exists = 0;
    const char *params[] = {doc->header[L_INDEX_NO]};
    int rc = mz_db_query_int(db, "SELECT count(*) FROM policy_documents WHERE index_no = ?",
                             &exists, 1, params);
    if (rc != MZ_OK || exists > 0)
        return rc;
    rc = mz_db_prepare(db,
                       "INSERT INTO policy_documents (version, created_at, updated_at, created_by,"
                       " updated_by, state, title, index_no, publisher, doc_no, topic, written_on,"
                       " published_on, body, attachments) VALUES (1, ?, ?, 'system', 'system',"
                       " 'published', ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                       &st);
    if (rc != MZ_OK)
        return rc;
    mz_now_rfc3339(now);
    mz_db_bind_text(st, 1, now);
    mz_db_bind_text(st, 2, now);
    mz_db_bind_text(st, 3, doc->header[L_TITLE]);
    mz_db_bind_text(st, 4, doc->header[L_INDEX_NO]);
    mz_db_bind_text(st, 5, *doc->header[L_PUBLISHER] ? doc->header[L_PUBLISHER] : "天津市民政局");
    mz_db_bind_text(st, 6, *doc->header[L_DOC_NO] ? doc->header[L_DOC_NO] : NULL);
    mz_db_bind_text(st, 7, topic_code(doc->header[L_TOPIC]));
    mz_db_bind_text(st, 8, doc->written_on[0] ? doc->written_on : NULL);
    mz_db_bind_text(st, 9, *doc->header[L_PUBLISHED] ? doc->header[L_PUBLISHED] : NULL);
    mz_db_bind_text(st, 10, doc->body.data);
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    int64_t id = mz_db_last_id(db);
    rc = mz_db_prepare(db,
                       "INSERT INTO mz_history (entity, row_id, version, action, actor, at,"
                       " changes, comment) VALUES ('policy_documents', ?, 1, 'create', 'system',"
                       " ?, '{}', '初始数据：天津政务网公开的政策文件')",
                       &st);
    if (rc != MZ_OK)
        return rc;
    mz_db_bind_int(st, 1, id);
    mz_db_bind_text(st, 2, now);
    rc = mz_db_step(st);
    mz_db_done(st);
    if (rc != MZ_DONE)
        return rc < 0 ? rc : MZ_ERR_DB;
    return policy_fts_put(db, id, doc->header[L_TITLE], doc->body.data);
}

int policy_seed_migrate(struct mz_db *db)
{
    struct seed_doc doc;
    char *text = mz_xstrdup((const char *)seed_raw);
    memset(&doc, 0, sizeof(doc));
    int rc = seed_parse(text, &doc);
    if (rc == MZ_OK)
        rc = seed_insert(db, &doc);
    if (rc != MZ_OK)
        mz_error("policy seed: cannot insert the 2012 work plan: %s", mz_err_name(rc));
    mz_buf_free(&doc.body);
    free(text);
    return rc;
}
