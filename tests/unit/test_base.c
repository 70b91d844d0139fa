/* test_base.c - unit tests of src/core/base.c.
 *
 * The arena: every block aligned for any type, blocks larger than a chunk,
 * thousands of small blocks that must not overlap, strdup/printf/calloc and
 * the byte count. The capped buffer: an append past the cap fails with
 * MZ_ERR_TOOBIG and leaves the buffer exactly as it was, printf growth past
 * the small stack buffer, steal, reset. Error names and the date helpers'
 * shapes.
 */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mz/base.h"

/* Every block is aligned for max_align_t, whatever sizes came before. */
static void test_arena_alignment(void **state)
{
    struct mz_arena *arena = mz_arena_new();
    (void)state;
    for (size_t size = 0; size < 300; size++) {
        void *p = mz_arena_alloc(arena, size);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
    }
    mz_arena_free(arena);
}

/* Blocks beyond the chunk size are usable in full, and small blocks taken
 * after one still come from the partly used chunk. */
static void test_arena_big_blocks(void **state)
{
    struct mz_arena *arena = mz_arena_new();
    size_t sizes[] = {100000, 16384, 8193, 1 << 20, 3};
    unsigned char *blocks[MZ_ARRAY_LEN(sizes)];
    (void)state;
    for (size_t i = 0; i < MZ_ARRAY_LEN(sizes); i++) {
        blocks[i] = mz_arena_alloc(arena, sizes[i]);
        memset(blocks[i], (int)i + 1, sizes[i]);
    }
    for (size_t i = 0; i < MZ_ARRAY_LEN(sizes); i++) {
        assert_int_equal(blocks[i][0], i + 1);
        assert_int_equal(blocks[i][sizes[i] - 1], i + 1);
    }
    assert_true(mz_arena_used(arena) >= 100000 + 16384 + 8193 + (1 << 20) + 3);
    mz_arena_free(arena);
}

/* Ten thousand small blocks keep their contents (no overlap). */
static void test_arena_many_small(void **state)
{
    enum { N = 10000 };
    struct mz_arena *arena = mz_arena_new();
    uint32_t **blocks = malloc(N * sizeof(*blocks));
    (void)state;
    for (uint32_t i = 0; i < N; i++) {
        size_t words = 1 + i % 7;
        blocks[i] = mz_arena_alloc(arena, words * sizeof(uint32_t));
        for (size_t w = 0; w < words; w++)
            blocks[i][w] = i;
    }
    for (uint32_t i = 0; i < N; i++) {
        for (size_t w = 0; w < 1 + i % 7; w++)
            assert_int_equal(blocks[i][w], i);
    }
    free(blocks);
    mz_arena_free(arena);
}

/* strdup, strndup, printf and calloc. */
static void test_arena_strings(void **state)
{
    struct mz_arena *arena = mz_arena_new();
    char *long_text = mz_arena_printf(arena, "%0*d", 20000, 7);
    unsigned char *zero = mz_arena_calloc(arena, 100, 3);
    (void)state;
    assert_string_equal(mz_arena_strdup(arena, "民政"), "民政");
    assert_null(mz_arena_strdup(arena, NULL));
    assert_string_equal(mz_arena_strndup(arena, "abcdef", 3), "abc");
    assert_string_equal(mz_arena_printf(arena, "%s-%d", "id", 42), "id-42");
    assert_int_equal(strlen(long_text), 20000);
    assert_int_equal(long_text[19999], '7');
    for (int i = 0; i < 300; i++)
        assert_int_equal(zero[i], 0);
    mz_arena_free(arena);
    mz_arena_free(NULL);
}

/* An append past the cap fails and changes nothing. */
static void test_buf_cap(void **state)
{
    struct mz_buf buf;
    (void)state;
    mz_buf_init(&buf, 10);
    assert_int_equal(mz_buf_puts(&buf, "12345678"), MZ_OK);
    char *data_before = buf.data;
    size_t cap_before = buf.cap;
    assert_int_equal(mz_buf_puts(&buf, "abc"), MZ_ERR_TOOBIG);
    assert_int_equal(buf.len, 8);
    assert_ptr_equal(buf.data, data_before);
    assert_int_equal(buf.cap, cap_before);
    assert_string_equal(buf.data, "12345678");
    assert_int_equal(mz_buf_printf(&buf, "%d", 123), MZ_ERR_TOOBIG);
    assert_string_equal(buf.data, "12345678");
    assert_int_equal(mz_buf_puts(&buf, "90"), MZ_OK); /* exactly the cap */
    assert_int_equal(buf.len, 10);
    assert_int_equal(mz_buf_append(&buf, "x", 1), MZ_ERR_TOOBIG);
    assert_int_equal(mz_buf_append(&buf, "", 0), MZ_OK);
    assert_string_equal(buf.data, "1234567890");
    mz_buf_free(&buf);
    assert_null(buf.data);
}

/* printf grows past its 256-byte stack buffer; appends keep a terminator. */
static void test_buf_printf_growth(void **state)
{
    struct mz_buf buf;
    (void)state;
    mz_buf_init(&buf, 0);
    assert_int_equal(mz_buf_printf(&buf, "%s", "short"), MZ_OK);
    assert_int_equal(mz_buf_printf(&buf, "%0*d", 1000, 5), MZ_OK);
    assert_int_equal(buf.len, 1005);
    assert_int_equal(buf.data[1004], '5');
    assert_int_equal(buf.data[1005], '\0');
    for (int i = 0; i < 1000; i++)
        assert_int_equal(mz_buf_printf(&buf, "[%d]", i), MZ_OK);
    assert_non_null(strstr(buf.data, "[999]"));
    assert_true(buf.cap > buf.len);
    mz_buf_reset(&buf);
    assert_int_equal(buf.len, 0);
    assert_string_equal(buf.data, "");
    mz_buf_free(&buf);
}

/* steal hands over the bytes and leaves an empty, reusable buffer. */
static void test_buf_steal(void **state)
{
    struct mz_buf buf;
    size_t len = 99;
    char *p;
    (void)state;
    mz_buf_init(&buf, 100);
    p = mz_buf_steal(&buf, &len); /* empty buffer: still a string */
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    mz_buf_append(&buf, "a\0b", 3);
    p = mz_buf_steal(&buf, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "a\0b", 3);
    assert_null(buf.data);
    assert_int_equal(buf.len, 0);
    assert_int_equal(buf.max, 100);
    assert_int_equal(mz_buf_puts(&buf, "again"), MZ_OK);
    assert_string_equal(buf.data, "again");
    free(p);
    mz_buf_free(&buf);
}

/* Error names and the shapes of the time helpers. */
static void test_names_and_time(void **state)
{
    char now[32];
    char today[11];
    (void)state;
    assert_string_equal(mz_err_name(MZ_OK), "ok");
    assert_string_equal(mz_err_name(MZ_ERR_CONFLICT), "conflict");
    assert_string_equal(mz_err_name(12345), "unknown error");
    mz_now_rfc3339(now);
    assert_int_equal(strlen(now), 24);
    assert_int_equal(now[10], 'T');
    assert_int_equal(now[23], 'Z');
    /* The second's text (formatted once per second and thread) is the
     * clock's, call after call; milliseconds follow. */
    for (int i = 0, checked = 0; i < 1000 && checked < 3; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_REALTIME, &t0);
        mz_now_rfc3339(now);
        clock_gettime(CLOCK_REALTIME, &t1);
        if (t0.tv_sec != t1.tv_sec)
            continue;
        char ref[24];
        struct tm tm;
        gmtime_r(&t0.tv_sec, &tm);
        strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S", &tm);
        assert_memory_equal(now, ref, 19);
        assert_int_equal(now[19], '.');
        int ms = (now[20] - '0') * 100 + (now[21] - '0') * 10 + (now[22] - '0');
        assert_true(ms >= t0.tv_nsec / 1000000 && ms <= t1.tv_nsec / 1000000);
        checked++;
    }
    mz_today(today);
    assert_int_equal(strlen(today), 10);
    assert_int_equal(today[4], '-');
    assert_true(mz_mono_us() > 0);
    assert_true(mz_now_us() > 1700000000LL * 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment),  cmocka_unit_test(test_arena_big_blocks),
        cmocka_unit_test(test_arena_many_small), cmocka_unit_test(test_arena_strings),
        cmocka_unit_test(test_buf_cap),          cmocka_unit_test(test_buf_printf_growth),
        cmocka_unit_test(test_buf_steal),        cmocka_unit_test(test_names_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
