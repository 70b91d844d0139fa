/* test_pdf.c - the PDF renderer (src/core/pdf.c): a document with Chinese
 * text and a 300-row table becomes a multi-page PDF whose text pdftotext
 * (poppler-utils) extracts, page numbers included; output is byte-for-byte
 * reproducible with a fixed creation date and identical from several
 * threads at once; bad documents (unknown block, wrong cell count, too many
 * rows, wrong types, a row taller than a page, too many pages) are refused
 * with MZ_ERR_INVALID and a Chinese reason, and nothing is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "mz/pdf.h"

static const struct mz_pdf_options fixed = {.create_date = "2025-10-08T09:00:00+08:00",
                                             .date = "2025-10-08"};

/* The document of the tests: meta, every block kind and a table of n rows. */
static json_t *sample_doc(int n)
{
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "测试人员%03d", i + 1);
        json_array_append_new(
            rows, json_pack("[i, s, s, s]", i + 1, name, "和平区劝业场街道新华社区",
                            i % 10 == 0 ? "因病致贫，家庭成员长期患病需要治疗，收入微薄，"
                                          "经社区民主评议同意上报审批"
                                        : "低保"));
    }
    return json_pack("{s:s, s:s, s:[[s,s],[s,i]], s:[{s:s}, {s:s}, {s:[[s,s]]}, "
                     "{s:{s:[s,s,s,s], s:o, s:[i,i,i,i]}}], s:s, s:s}",
                     "title", "最低生活保障公示名单", "subtitle", "津和民〔2025〕12号", "meta",
                     "公示单位", "和平区民政局", "户数", n, "blocks", "heading", "一、说明",
                     "paragraph", "公示期间如有异议，请向街道办事处反映。", "kv", "监督电话",
                     "12345", "table", "columns", "序号", "姓名", "社区", "原因", "rows", rows,
                     "widths", 1, 2, 4, 5, "footer", "本名单公示七天", "stamp", "天津市和平区民政局");
}

/* Pages by their page objects ("/Type /Page", not "/Type /Pages"). */
static int count_pages(const char *pdf, size_t len)
{
    static const char key[] = "/Type /Page";
    int n = 0;
    const char *p = pdf, *end = pdf + len;
    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        if (p < end && *p != 's')
            n++;
    }
    return n;
}

/* pdftotext of the bytes (malloc'd text). */
static char *extract_text(const char *pdf, size_t len)
{
    char path[] = "/tmp/mz-test-pdf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pdf, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "pdftotext -enc UTF-8 %s - 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0;
    char *text = malloc(cap);
    size_t got;
    while ((got = fread(text + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 4096) {
            cap *= 2;
            text = realloc(text, cap);
        }
    }
    text[n] = '\0';
    int status = pclose(p);
    unlink(path);
    if (status != 0)
        fail_msg("pdftotext failed (status %d): install poppler-utils (make deps)", status);
    return text;
}

/* Chinese text, 300 rows: several pages, text and page numbers extractable. */
static void test_render_table(void **state)
{
    json_t *doc = sample_doc(300);
    struct mz_pdf_result res;
    char *pdf;
    size_t len;
    int64_t t0 = mz_mono_us();
    assert_int_equal(mz_pdf_render(doc, &fixed, &pdf, &len, &res), MZ_OK);
    int64_t t1 = mz_mono_us();
    print_message("300-row table: %d pages, %zu bytes, %.1f ms\n", res.pages, len,
                  (double)(t1 - t0) / 1000.0);
    assert_string_equal(res.reason, "");
    assert_true(len > 1000);
    assert_memory_equal(pdf, "%PDF-", 5);
    assert_true(res.pages > 1);
    assert_int_equal(count_pages(pdf, len), res.pages);
    /* cairo 1.16 writes the date without the "D:" prefix; later versions add it. */
    assert_non_null(memmem(pdf, len, "20251008090000+08'00)", 21));
    assert_non_null(memmem(pdf, len, "/Creator (minzheng)", 19));

    char *text = extract_text(pdf, len);
    assert_non_null(strstr(text, "最低生活保障公示名单"));
    assert_non_null(strstr(text, "公示期间如有异议"));
    assert_non_null(strstr(text, "测试人员001"));
    assert_non_null(strstr(text, "测试人员300"));
    assert_non_null(strstr(text, "第 2 页"));
    char last[48];
    snprintf(last, sizeof(last), "第 %d 页 共 %d 页", res.pages, res.pages);
    assert_non_null(strstr(text, last));
    assert_non_null(strstr(text, "2025年10月8日"));
    /* The header row is repeated on every page of the table. */
    int headers = 0;
    for (const char *p = text; (p = strstr(p, "序号")) != NULL; p += strlen("序号"))
        headers++;
    assert_int_equal(headers, res.pages);
    free(text);

    /* The same document and options give the same bytes. */
    char *again;
    size_t again_len;
    assert_int_equal(mz_pdf_render(doc, &fixed, &again, &again_len, NULL), MZ_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, pdf, len);
    free(again);
    free(pdf);
    json_decref(doc);
}

/* A document with the minimum: a title and no blocks; into an arena. */
static void test_minimal_arena(void **state)
{
    json_t *doc = json_pack("{s:s, s:[]}", "title", "空白文档", "blocks");
    struct mz_arena *arena = mz_arena_new();
    const char *pdf;
    size_t len;
    struct mz_pdf_result res;
    assert_int_equal(mz_pdf_render_arena(arena, doc, NULL, &pdf, &len, &res), MZ_OK);
    assert_int_equal(res.pages, 1);
    assert_memory_equal(pdf, "%PDF-", 5);
    assert_int_equal(count_pages(pdf, len), 1);
    mz_arena_free(arena);
    json_decref(doc);
}

struct refusal {
    const char *what;
    json_t *doc;
    const char *reason_has;  /* a substring of the reason */
};

/* Each bad document: MZ_ERR_INVALID, a Chinese reason, no bytes, no file. */
static void expect_refused(json_t *doc, const struct mz_pdf_options *opts, const char *reason_has)
{
    struct mz_pdf_result res;
    char *pdf = (char *)"untouched";
    size_t len = 99;
    assert_int_equal(mz_pdf_render(doc, opts, &pdf, &len, &res), MZ_ERR_INVALID);
    assert_null(pdf);
    assert_int_equal(len, 0);
    assert_int_equal(res.pages, 0);
    if (strstr(res.reason, reason_has) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", res.reason, reason_has);

    char dir[] = "/tmp/mz-test-pdf-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/out.pdf", dir);
    assert_int_equal(mz_pdf_write_file(doc, opts, path, &res), MZ_ERR_INVALID);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(rmdir(dir), 0); /* empty: no temporary file left either */
}

static void test_refused(void **state)
{
    json_t *rows = json_array();
    for (int i = 0; i < MZ_PDF_MAX_ROWS + 1; i++)
        json_array_append_new(rows, json_pack("[s]", "x"));
    struct refusal cases[] = {
        {"unknown block", json_pack("{s:s, s:[{s:s}]}", "title", "t", "blocks", "image", "a.png"),
         "blocks[0]：未知的内容块类型“image”"},
        {"wrong cell count",
         json_pack("{s:s, s:[{s:{s:[s,s], s:[[s,s],[s]]}}]}", "title", "t", "blocks", "table",
                   "columns", "a", "b", "rows", "1", "2", "3"),
         "blocks[0].table.rows[1]：每行应有 2 个单元格，该行有 1 个"},
        {"too many rows",
         json_pack("{s:s, s:[{s:{s:[s], s:o}}]}", "title", "t", "blocks", "table", "columns", "a",
                   "rows", rows),
         "表格行数过多"},
        {"title not text", json_pack("{s:i, s:[]}", "title", 1, "blocks"), "title：应为文本"},
        {"no title", json_pack("{s:[]}", "blocks"), "缺少文档标题"},
        {"unknown member", json_pack("{s:s, s:[], s:s}", "title", "t", "blocks", "logo", "x"),
         "未知字段“logo”"},
        {"paragraph not text",
         json_pack("{s:s, s:[{s:[]}]}", "title", "t", "blocks", "paragraph"),
         "blocks[0].paragraph：应为文本"},
        {"real number cell",
         json_pack("{s:s, s:[{s:[[s,f]]}]}", "title", "t", "blocks", "kv", "金额", 12.5),
         "blocks[0].kv[0]：应为文本或整数"},
        {"two members in a block",
         json_pack("{s:s, s:[{s:s, s:s}]}", "title", "t", "blocks", "heading", "a", "paragraph",
                   "b"),
         "只有一个成员"},
        {"control character", json_pack("{s:s, s:[]}", "title", "a\001b", "blocks"),
         "控制字符"},
        {"bad widths",
         json_pack("{s:s, s:[{s:{s:[s,s], s:[], s:[i,i]}}]}", "title", "t", "blocks", "table",
                   "columns", "a", "b", "rows", "widths", 1, 0),
         "列宽比例"},
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(cases); i++) {
        print_message("refused: %s\n", cases[i].what);
        assert_non_null(cases[i].doc);
        expect_refused(cases[i].doc, NULL, cases[i].reason_has);
        json_decref(cases[i].doc);
    }
}

/* Limits found while laying out: a row taller than a page, more than 500 pages. */
static void test_layout_limits(void **state)
{
    struct mz_buf tall;
    mz_buf_init(&tall, 0);
    for (int i = 0; i < 200; i++)
        mz_buf_puts(&tall, "很长的单元格\n");
    json_t *doc = json_pack("{s:s, s:[{s:{s:[s], s:[[s]]}}]}", "title", "t", "blocks", "table",
                            "columns", "a", "rows", tall.data);
    expect_refused(doc, NULL, "blocks[0].table.rows[0]：内容过多，一页排不下");
    json_decref(doc);

    /* Rows of 30 lines: two a page, so 1100 rows need more than 500 pages. */
    mz_buf_reset(&tall);
    for (int i = 0; i < 30; i++)
        mz_buf_puts(&tall, "行\n");
    json_t *rows = json_array();
    for (int i = 0; i < 1100; i++)
        json_array_append_new(rows, json_pack("[s]", tall.data));
    doc = json_pack("{s:s, s:[{s:{s:[s], s:o}}]}", "title", "t", "blocks", "table", "columns", "a",
                    "rows", rows);
    expect_refused(doc, NULL, "文档超过 500 页");
    json_decref(doc);
    mz_buf_free(&tall);

    doc = json_pack("{s:s, s:[]}", "title", "t", "blocks");
    struct mz_pdf_options bad = {.create_date = "2025-10-08T09:00:00.123Z"};
    expect_refused(doc, &bad, "创建时间");
    struct mz_pdf_options bad_date = {.date = "2025-13-01"};
    expect_refused(doc, &bad_date, "落款日期");
    json_decref(doc);
}

/* mz_pdf_write_file writes the file (and replaces an older one). */
static void test_write_file(void **state)
{
    char dir[] = "/tmp/mz-test-pdf-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/notice.pdf", dir);
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    json_t *doc = sample_doc(3);
    struct mz_pdf_result res;
    assert_int_equal(mz_pdf_write_file(doc, &fixed, path, &res), MZ_OK);
    assert_int_equal(res.pages, 1);
    char head[8] = {0};
    f = fopen(path, "rb");
    assert_int_equal(fread(head, 1, 5, f), 5);
    fclose(f);
    assert_string_equal(head, "%PDF-");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    json_decref(doc);
}

struct job {
    json_t *doc;
    char *pdf;
    size_t len;
    int rc;
};

static void *render_job(void *arg)
{
    struct job *j = arg;
    j->rc = mz_pdf_render(j->doc, &fixed, &j->pdf, &j->len, NULL);
    return NULL;
}

/* Four threads at once (per-call font maps): all succeed, same bytes. */
static void test_threads(void **state)
{
    json_t *doc = sample_doc(60);
    struct job jobs[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){.doc = doc};
        assert_int_equal(pthread_create(&threads[i], NULL, render_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].rc, MZ_OK);
        assert_int_equal(jobs[i].len, jobs[0].len);
        assert_memory_equal(jobs[i].pdf, jobs[0].pdf, jobs[0].len);
    }
    for (int i = 0; i < 4; i++)
        free(jobs[i].pdf);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_table),  cmocka_unit_test(test_minimal_arena),
        cmocka_unit_test(test_refused),       cmocka_unit_test(test_layout_limits),
        cmocka_unit_test(test_write_file),    cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
