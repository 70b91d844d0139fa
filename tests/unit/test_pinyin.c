/* test_pinyin.c - pinyin of names (src/registry/pinyin.c).
 *
 * The generated table (from Unihan) gives common readings; the surname table
 * overrides the first character(s) of a name; polyphonic characters give
 * alternatives; non-Han text is kept (ASCII letters/digits) or dropped; long
 * and invalid input never crashes and stays [a-z0-9].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mz/pinyin.h"

/* True if the set holds s among its full spellings. */
static bool has_full(const struct mz_pinyin_set *set, const char *s)
{
    for (size_t i = 0; i < set->nfull; i++) {
        if (strcmp(set->full[i], s) == 0)
            return true;
    }
    return false;
}

/* True if the set holds s among its initials. */
static bool has_initials(const struct mz_pinyin_set *set, const char *s)
{
    for (size_t i = 0; i < set->ninitials; i++) {
        if (strcmp(set->initials[i], s) == 0)
            return true;
    }
    return false;
}

/* True if s is [a-z0-9]* only. */
static bool plain(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    }
    return true;
}

static void test_common_names(void **state)
{
    struct mz_arena *a = mz_arena_new();
    assert_string_equal(mz_pinyin_full(a, "张三"), "zhangsan");
    assert_string_equal(mz_pinyin_initials(a, "张三"), "zs");
    assert_string_equal(mz_pinyin_full(a, "李四"), "lisi");
    assert_string_equal(mz_pinyin_full(a, "王小明"), "wangxiaoming");
    assert_string_equal(mz_pinyin_initials(a, "王小明"), "wxm");
    assert_string_equal(mz_pinyin_full(a, "吕布"), "lvbu");
    assert_string_equal(mz_pinyin_full(a, "女"), "nv");
    assert_string_equal(mz_pinyin_full(a, ""), "");
    assert_string_equal(mz_pinyin_initials(a, ""), "");
    /* A rare character outside the BMP (CJK Extension B) still has its reading. */
    const char *r[3];
    assert_true(mz_pinyin_char(0x20000, r) >= 1); /* 𠀀 */
    assert_true(mz_pinyin_char('a', r) == 0);
    mz_arena_free(a);
}

static void test_polyphonic_surnames(void **state)
{
    struct mz_arena *a = mz_arena_new();
    static const struct {
        const char *name, *full, *initials;
    } cases[] = {
        {"单雄信", "shanxiongxin", "sxx"}, {"曾国藩", "zengguofan", "zgf"},
        {"解缙", "xiejin", "xj"},          {"尉迟恭", "yuchigong", "ycg"},
        {"万俟卨", "moqixie", "mqx"},      {"长孙无忌", "zhangsunwuji", "zswj"},
        {"令狐冲", "linghuchong", "lhc"},  {"仇英", "qiuying", "qy"},
        {"区寿年", "oushounian", "osn"},   {"查良镛", "zhaliangyong", "zly"},
        {"朴槿惠", "piaojinhui", "pjh"},   {"盖聂", "genie", "gn"},
        {"乐嘉", "yuejia", "yj"},          {"繁钦", "poqin", "pq"},
        {"覃斌", "qinbin", "qb"},          {"冼星海", "xianxinghai", "xxh"},
        {"黑明", "heming", "hm"},          {"种师道", "chongshidao", "csd"},
        {"秘书", "bishu", "bs"},           {"员半千", "yunbanqian", "ybq"},
        {"过山", "guoshan", "gs"},         {"缪斯", "miaosi", "ms"},
        {"翟志刚", "zhaizhigang", "zzg"},  {"召忽", "shaohu", "sh"},
        {"句龙", "goulong", "gl"},         {"隗嚣", "weixiao", "wx"},
        {"眭弘", "suihong", "sh"},         {"欧阳修", "ouyangxiu", "oyx"},
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(cases); i++) {
        struct mz_pinyin_set set;
        mz_pinyin_spellings(a, cases[i].name, MZ_PINYIN_NAME, &set);
        assert_string_equal(set.full[0], cases[i].full);
        assert_string_equal(set.initials[0], cases[i].initials);
    }
    /* The ordinary reading of a surname character is still an alternative. */
    struct mz_pinyin_set set;
    mz_pinyin_spellings(a, "单雄信", MZ_PINYIN_NAME, &set);
    assert_true(has_full(&set, "danxiongxin"));
    assert_true(has_initials(&set, "dxx"));
    mz_pinyin_spellings(a, "曾国藩", MZ_PINYIN_NAME, &set);
    assert_true(has_full(&set, "cengguofan"));
    /* Only at the start of a name: 解 inside a name reads jie first. */
    assert_string_equal(mz_pinyin_full(a, "王解放"), "wangjiefang");
    /* Without the name flag no surname reading applies. */
    mz_pinyin_spellings(a, "单位", 0, &set);
    assert_string_equal(set.full[0], "danwei");
    /* Compound surnames mark where the given name starts. */
    assert_int_equal(mz_pinyin_surname_length("欧阳修"), strlen("欧阳"));
    assert_int_equal(mz_pinyin_surname_length("尉迟恭"), strlen("尉迟"));
    assert_int_equal(mz_pinyin_surname_length("张三"), strlen("张"));
    assert_int_equal(mz_pinyin_surname_length("Tom"), 0);
    assert_int_equal(mz_pinyin_surname_length(""), 0);
    mz_arena_free(a);
}

static void test_polyphonic_given_names(void **state)
{
    struct mz_arena *a = mz_arena_new();
    struct mz_pinyin_set set;
    mz_pinyin_spellings(a, "李长乐", MZ_PINYIN_NAME, &set);
    assert_true(set.nfull >= 3 && set.nfull <= MZ_PINYIN_MAX_SPELLINGS);
    assert_true(has_full(&set, "lizhangle"));
    assert_true(has_full(&set, "lichangle"));
    assert_true(has_full(&set, "lizhangyue"));
    assert_true(has_initials(&set, "lcl"));
    for (size_t i = 0; i < set.nfull; i++)
        for (size_t j = i + 1; j < set.nfull; j++)
            assert_string_not_equal(set.full[i], set.full[j]);
    /* Many polyphonic characters: still capped. */
    mz_pinyin_spellings(a, "行长重单曾解乐朴查", MZ_PINYIN_NAME, &set);
    assert_int_equal(set.nfull, MZ_PINYIN_MAX_SPELLINGS);
    assert_true(set.ninitials >= 1 && set.ninitials <= MZ_PINYIN_MAX_SPELLINGS);
    mz_arena_free(a);
}

static void test_non_han(void **state)
{
    struct mz_arena *a = mz_arena_new();
    assert_string_equal(mz_pinyin_full(a, "阿卜杜·热合曼"), mz_pinyin_full(a, "阿卜杜热合曼"));
    assert_string_equal(mz_pinyin_full(a, "Li Ming 2"), "liming2");
    assert_string_equal(mz_pinyin_full(a, "张 三"), "zhangsan");
    assert_string_equal(mz_pinyin_full(a, "张三（曾用名）"), "zhangsancengyongming");
    assert_string_equal(mz_pinyin_full(a, "Ωπ!@#$%^&*()"), "");
    assert_string_equal(mz_pinyin_full(a, "김철수"), ""); /* Hangul has no pinyin */
    assert_string_equal(mz_pinyin_initials(a, "A张B"), "azb");
    mz_arena_free(a);
}

static void test_long_and_invalid(void **state)
{
    struct mz_arena *a = mz_arena_new();
    /* 10,000 characters. */
    size_t n = 10000;
    char *big = malloc(n * 3 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(big + i * 3, (i % 2) ? "长" : "张", 3);
    big[n * 3] = '\0';
    char *full = mz_pinyin_full(a, big);
    assert_true(strlen(full) >= n * 4);
    assert_true(plain(full));
    assert_int_equal(strlen(mz_pinyin_initials(a, big)), n);
    free(big);

    /* Invalid UTF-8: truncated, overlong, surrogates, stray continuation bytes. */
    static const char *const bad[] = {
        "\xE5\xBC", "\xE5", "\xC0\xAF", "\xED\xA0\x80", "\x80\x80\x80", "\xF8\x88\x80\x80\x80",
        "\xF4\x90\x80\x80", "张\xE5\xBC", "\xE5\xBC张三", "\xFF\xFE单雄信",
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        struct mz_pinyin_set set;
        mz_pinyin_spellings(a, bad[i], MZ_PINYIN_NAME, &set);
        assert_true(set.nfull >= 1 && set.ninitials >= 1);
        for (size_t k = 0; k < set.nfull; k++)
            assert_true(plain(set.full[k]));
        (void)mz_pinyin_surname_length(bad[i]);
    }
    assert_string_equal(mz_pinyin_full(a, "\xE5\xBC张三"), "zhangsan");
    /* A truncated sequence right before the NUL (in a heap copy of its exact size). */
    char *tail = malloc(3);
    memcpy(tail, "\xE5\xBC", 3);
    assert_string_equal(mz_pinyin_full(a, tail), "");
    free(tail);
    mz_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_names),
        cmocka_unit_test(test_polyphonic_surnames),
        cmocka_unit_test(test_polyphonic_given_names),
        cmocka_unit_test(test_non_han),
        cmocka_unit_test(test_long_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
