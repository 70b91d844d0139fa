/* test_validate.c - unit tests of src/core/validate.c.
 *
 * Real published values where they exist (the GB 11643 examples, USCC codes of
 * well-known companies and foundations found in other projects' tests) and
 * crafted ones for every branch: check digits, lower-case x, 15 -> 18 upgrade,
 * leap days, future and too-early births, unknown provinces, the GB 32100
 * character set, the embedded organisation-code check (a warning), phones,
 * Luhn, money, dates, date-times, divisions and UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mz/validate.h"

/* A fixed "today" so the tests do not depend on the clock. */
#define TODAY "2024-06-30"

/* Assert that a failure reason is set and mentions `part` (a few characters of
 * the Chinese message, so that each branch is told apart). */
static void assert_reason(const char *reason, const char *part)
{
    assert_non_null(reason);
    if (strstr(reason, part) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", reason, part);
}

/* Build an 18-character ID number from 17 digits and their check character. */
static void make_id(const char *first17, char out[19])
{
    memcpy(out, first17, 17);
    out[17] = mz_id_check_char(first17);
    out[18] = '\0';
}

/* Run mz_id_check with TODAY and expect failure with a reason mentioning part. */
static void expect_id_invalid(const char *input, const char *part)
{
    struct mz_id_info info;
    const char *reason = NULL;
    assert_int_equal(mz_id_check(input, TODAY, &info, &reason), MZ_ERR_INVALID);
    assert_reason(reason, part);
}

/* --- GB 11643 --------------------------------------------------------------- */

/* The check character against published and independently computed numbers. */
static void test_id_check_char(void **state)
{
    assert_int_equal(mz_id_check_char("11010519491231002"), 'X'); /* GB 11643 example */
    assert_int_equal(mz_id_check_char("44052418800101001"), '4'); /* GB 11643 example */
    assert_int_equal(mz_id_check_char("12010119900101123"), '9');
    assert_int_equal(mz_id_check_char("12010119900101003"), '3');
    assert_int_equal(mz_id_check_char("65010119700101001"), '1');
    assert_int_equal(mz_id_check_char("12010119900101101"), 'X');
    assert_int_equal(mz_id_check_char("00000000000000000"), '1'); /* sum 0 -> '1' */
    /* Only the first 17 characters count. */
    assert_int_equal(mz_id_check_char("11010519491231002X"), 'X');
    assert_int_equal(mz_id_check_char("1101051949123100"), '\0');
    assert_int_equal(mz_id_check_char("1101051949123100A"), '\0');
    assert_int_equal(mz_id_check_char(""), '\0');
    assert_int_equal(mz_id_check_char(NULL), '\0');
}

/* The GB 11643 example number: a woman born 1949-12-31 in Beijing. */
static void test_id_valid_example(void **state)
{
    struct mz_id_info info;
    const char *reason = NULL;
    assert_int_equal(mz_id_check("11010519491231002X", TODAY, &info, &reason), MZ_OK);
    assert_null(reason);
    assert_string_equal(info.number, "11010519491231002X");
    assert_string_equal(info.birth, "1949-12-31");
    assert_int_equal(info.sex, 'F');
    assert_string_equal(info.division, "110105");
    assert_false(info.upgraded);
}

/* A man (odd 17th digit) born on 1880-01-01, the earliest date accepted. */
static void test_id_male_earliest(void **state)
{
    struct mz_id_info info;
    assert_int_equal(mz_id_check("440524188001010014", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.birth, "1880-01-01");
    assert_int_equal(info.sex, 'M');
    assert_string_equal(info.division, "440524");

    assert_int_equal(mz_id_check("120101199001011239", TODAY, &info, NULL), MZ_OK);
    assert_int_equal(info.sex, 'M');
    assert_string_equal(info.division, "120101");
}

/* A lower-case x is accepted and normalised to X. */
static void test_id_lowercase_x(void **state)
{
    struct mz_id_info info;
    assert_int_equal(mz_id_check("12010119900101101x", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.number, "12010119900101101X");
    assert_int_equal(mz_id_check("11010519491231002x", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.number, "11010519491231002X");
}

/* Every wrong check character is refused. */
static void test_id_bad_check_digit(void **state)
{
    const char *checks = "0123456789X";
    char number[19] = "11010519491231002X";
    for (const char *c = checks; *c != '\0'; c++) {
        number[17] = *c;
        if (*c == 'X')
            continue;
        expect_id_invalid(number, "校验位");
    }
    /* A single transposition is caught. */
    expect_id_invalid("11010519491213002X", "校验位");
    expect_id_invalid("440524188001010015", "校验位");
    expect_id_invalid("12010119900101123x", "校验位");
}

/* A 15-digit number gets "19" inserted and a computed check digit. */
static void test_id_upgrade_15(void **state)
{
    struct mz_id_info info;
    assert_int_equal(mz_id_check("110105491231002", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.number, "11010519491231002X");
    assert_string_equal(info.birth, "1949-12-31");
    assert_int_equal(info.sex, 'F');
    assert_string_equal(info.division, "110105");
    assert_true(info.upgraded);

    assert_int_equal(mz_id_check("120101900101123", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.number, "120101199001011239");
    assert_int_equal(info.sex, 'M');
    assert_true(info.upgraded);

    expect_id_invalid("12010190010112X", "数字");
    expect_id_invalid("120101901301123", "出生日期无效"); /* month 13 */
    expect_id_invalid("120101000229123", "出生日期无效"); /* 1900 was no leap year */
    expect_id_invalid("990101900101123", "省份");
}

/* Length, characters and empty input. */
static void test_id_length_and_chars(void **state)
{
    const char *reason = NULL;
    assert_int_equal(mz_id_check(NULL, TODAY, NULL, &reason), MZ_ERR_INVALID);
    assert_non_null(reason);
    expect_id_invalid("", "为空");
    expect_id_invalid("1234", "长度应为18位（或15位旧号码）");
    expect_id_invalid("1101051949123100", "长度");    /* 16 */
    expect_id_invalid("11010519491231002", "长度");   /* 17 */
    expect_id_invalid("11010519491231002X1", "长度"); /* 19 */
    expect_id_invalid("11010519491231002XXXXXXXXXXXXXXXXXXXXXXXXXXX", "长度");
    expect_id_invalid("1101051949123X002X", "数字"); /* X not last */
    expect_id_invalid("11010519491231002Y", "数字");
    expect_id_invalid(" 1010519491231002X", "数字");
    expect_id_invalid("１２０１０１", "数字"); /* full-width: 18 bytes */
    expect_id_invalid("11010519491231002\xe5", "数字");
}

/* Unknown province prefixes are refused; all 34 known ones accepted. */
static void test_province(void **state)
{
    static const char *known[] = {"11", "12", "13", "14", "15", "21", "22", "23", "31",
                                  "32", "33", "34", "35", "36", "37", "41", "42", "43",
                                  "44", "45", "46", "50", "51", "52", "53", "54", "61",
                                  "62", "63", "64", "65", "71", "81", "82"};
    int count = 0;
    for (int p = 0; p < 100; p++) {
        char two[3] = {(char)('0' + p / 10), (char)('0' + p % 10), '\0'};
        bool expect = false;
        for (size_t i = 0; i < MZ_ARRAY_LEN(known); i++) {
            if (strcmp(known[i], two) == 0)
                expect = true;
        }
        assert_int_equal(mz_province_known(two), expect);
        count += expect;
    }
    assert_int_equal(count, 34);
    assert_true(mz_province_known("120101")); /* only the first two count */
    assert_false(mz_province_known("1"));
    assert_false(mz_province_known("1a"));
    assert_false(mz_province_known(""));
    assert_false(mz_province_known(NULL));

    char number[19];
    make_id("99010519491231002", number);
    expect_id_invalid(number, "省份");
    make_id("10010519491231002", number);
    expect_id_invalid(number, "省份");
    make_id("72010519491231002", number);
    expect_id_invalid(number, "省份");
    make_id("82010519491231002", number);
    assert_int_equal(mz_id_check(number, TODAY, NULL, NULL), MZ_OK);
    make_id("71010519491231002", number);
    assert_int_equal(mz_id_check(number, TODAY, NULL, NULL), MZ_OK);
}

/* February 29 exists only in leap years (2000 yes, 1900 and 2100 no). */
static void test_id_feb29(void **state)
{
    struct mz_id_info info;
    char number[19];

    assert_int_equal(mz_id_check("120101200002290028", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.birth, "2000-02-29");
    assert_int_equal(mz_id_check("120101200402290019", TODAY, &info, NULL), MZ_OK);
    assert_string_equal(info.birth, "2004-02-29");
    make_id("12010119000229001", number);
    expect_id_invalid(number, "出生日期无效");
    make_id("12010120010229001", number);
    expect_id_invalid(number, "出生日期无效");
    make_id("12010120230229001", number);
    expect_id_invalid(number, "出生日期无效");
    make_id("12010120240229001", number);
    assert_int_equal(mz_id_check(number, TODAY, NULL, NULL), MZ_OK);
}

/* Impossible dates in the birth field. */
static void test_id_bad_birth(void **state)
{
    static const char *bad[] = {"12010119900001001", "12010119901301001", "12010119900100001",
                                "12010119900132001", "12010119900431001", "12010119909999001"};
    char number[19];
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        make_id(bad[i], number);
        expect_id_invalid(number, "出生日期无效");
    }
}

/* Births after today or before 1880 are refused; today itself is fine. */
static void test_id_birth_range(void **state)
{
    char number[19];

    make_id("12010120240630001", number); /* born today */
    assert_int_equal(mz_id_check(number, TODAY, NULL, NULL), MZ_OK);
    make_id("12010120240701001", number); /* tomorrow */
    expect_id_invalid(number, "晚于");
    assert_int_equal(mz_id_check(number, "2024-07-01", NULL, NULL), MZ_OK);
    make_id("12010120991231001", number);
    expect_id_invalid(number, "晚于");
    make_id("12010118791231001", number);
    expect_id_invalid(number, "1880");
    make_id("12010110000101001", number);
    expect_id_invalid(number, "1880");

    /* No `today` (or an unusable one): the clock, which is well past 2020. */
    const char *reason = NULL;
    make_id("12010129990101001", number);
    assert_int_equal(mz_id_check(number, NULL, NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "晚于");
    assert_int_equal(mz_id_check(number, "garbage", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "晚于");
    assert_int_equal(mz_id_check(number, "2999-02-30", NULL, &reason), MZ_ERR_INVALID);
    make_id("12010120200101001", number);
    assert_int_equal(mz_id_check(number, NULL, NULL, NULL), MZ_OK);
}

/* On failure the info is zeroed, never half filled. */
static void test_id_info_cleared(void **state)
{
    struct mz_id_info info;
    memset(&info, 'z', sizeof(info));
    assert_int_equal(mz_id_check("11010519491231002Y", TODAY, &info, NULL), MZ_ERR_INVALID);
    assert_string_equal(info.number, "");
    assert_int_equal(info.sex, 0);
}

/* --- GB 32100 ---------------------------------------------------------------- */

/* Real codes published by their holders, used in other projects' tests. */
static const char *real_uscc[] = {
    "531000005000160090", /* 中国红十字基金会 */
    "52410000663412719U", /* 河南省嵩山少林寺文化院 */
    "91370000728611939A", /* 山东步长制药股份有限公司 */
    "91110108551385082Q", /* 小米科技有限责任公司 */
    "914403001922038216", /* 华为技术有限公司 */
    "91110108795101314G", /* 谷歌信息技术（中国）有限公司 */
    "91350100M000100Y43", /* the example in GB 32100 */
    "9135010557098120XJ", /* organisation code with check X */
    "9135020026015919XW", /* 厦门象屿集团有限公司 */
    "91120222MA06DG3067", /* a Tianjin 宁河 company, letters in the org code */
    "91310115591693856A", "91310110666007217T", "91330000704202479R",
};

/* The check character of real codes. */
static void test_uscc_check_char(void **state)
{
    for (size_t i = 0; i < MZ_ARRAY_LEN(real_uscc); i++)
        assert_int_equal(mz_uscc_check_char(real_uscc[i]), real_uscc[i][17]);
    assert_int_equal(mz_uscc_check_char("00000000000000000"), '0'); /* (31 - 0) mod 31 */
    assert_int_equal(mz_uscc_check_char("0000000000000000"), '\0');
    assert_int_equal(mz_uscc_check_char("9111010855138508I"), '\0');
    assert_int_equal(mz_uscc_check_char("9111010855138508a"), '\0');
    assert_int_equal(mz_uscc_check_char(NULL), '\0');
}

/* Real codes validate, with a passing organisation-code check. */
static void test_uscc_real(void **state)
{
    for (size_t i = 0; i < MZ_ARRAY_LEN(real_uscc); i++) {
        struct mz_uscc_info info;
        const char *reason = NULL;
        assert_int_equal(mz_uscc_check(real_uscc[i], &info, &reason), MZ_OK);
        assert_null(reason);
        assert_string_equal(info.code, real_uscc[i]);
        assert_true(info.org_check_ok);
        assert_false(info.pilot_warning);
    }
}

/* The parts of a 民政 code (a foundation registered nationally). */
static void test_uscc_fields(void **state)
{
    struct mz_uscc_info info;
    assert_int_equal(mz_uscc_check("531000005000160090", &info, NULL), MZ_OK);
    assert_int_equal(info.registrar, '5');
    assert_int_equal(info.kind, '3');
    assert_string_equal(info.division, "100000");
    assert_string_equal(info.org_code, "500016009");

    assert_int_equal(mz_uscc_check("91120222ma06dg3067", &info, NULL), MZ_OK);
    assert_string_equal(info.code, "91120222MA06DG3067");
    assert_int_equal(info.registrar, '9');
    assert_int_equal(info.kind, '1');
    assert_string_equal(info.division, "120222");
    assert_string_equal(info.org_code, "MA06DG306");
}

/* A wrong check character is an error, including real early pilot codes whose
 * check character does not match GB 32100. */
static void test_uscc_bad_check(void **state)
{
    const char *reason = NULL;
    struct mz_uscc_info info;
    assert_int_equal(mz_uscc_check("91110108551385082F", &info, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "校验位");
    assert_string_equal(info.code, "");

    char code[19] = "91110108551385082Q";
    for (const char *c = "0123456789ABCDEFGHJKLMNPQRTUWXY"; *c != '\0'; c++) {
        code[17] = *c;
        int expect = *c == 'Q' ? MZ_OK : MZ_ERR_INVALID;
        assert_int_equal(mz_uscc_check(code, NULL, NULL), expect);
    }
    /* One changed character in the body is caught. */
    assert_int_equal(mz_uscc_check("91110108551385083Q", NULL, NULL), MZ_ERR_INVALID);
    /* Published pilot codes that fail the check character (not only the
     * organisation code) are refused by the rule "a bad check character is an
     * error". */
    assert_int_equal(mz_uscc_check("91350211M00013FA1N", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "校验位");
    assert_int_equal(mz_uscc_check("91350100M0001TGQXM", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "校验位");
}

/* I, O, S, V and Z (and anything outside the set) are not GB 32100 characters. */
static void test_uscc_charset(void **state)
{
    const char *reason = NULL;
    for (const char *c = "IOSVZ"; *c != '\0'; c++) {
        char code[19] = "91110108551385082Q";
        code[9] = *c;
        assert_int_equal(mz_uscc_check(code, NULL, &reason), MZ_ERR_INVALID);
        assert_reason(reason, "非法字符");
        code[9] = (char)(*c - 'A' + 'a');
        assert_int_equal(mz_uscc_check(code, NULL, &reason), MZ_ERR_INVALID);
        assert_reason(reason, "非法字符");
        code[9] = '5';
        code[17] = *c;
        assert_int_equal(mz_uscc_check(code, NULL, &reason), MZ_ERR_INVALID);
        assert_reason(reason, "非法字符");
    }
    assert_int_equal(mz_uscc_check("91110108551385082-", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "非法字符");
    assert_int_equal(mz_uscc_check("9111010855138508\xe5\x92", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "非法字符");
}

/* Length, empty input and a non-numeric division part. */
static void test_uscc_shape(void **state)
{
    const char *reason = NULL;
    assert_int_equal(mz_uscc_check(NULL, NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "为空");
    assert_int_equal(mz_uscc_check("", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "为空");
    assert_int_equal(mz_uscc_check("91110108551385082", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "18位");
    assert_int_equal(mz_uscc_check("91110108551385082QQ", NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "18位");
    /* 9 1 A10108 ...: every character is in the set and the check matches. */
    char code[19] = "91A10108551385082";
    code[17] = mz_uscc_check_char(code);
    code[18] = '\0';
    assert_int_equal(mz_uscc_check(code, NULL, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "行政区划");
}

/* A failed embedded organisation-code check is a pilot warning, not an error;
 * and the mod-11 results 10 ('X') and 11 ('0') are handled. */
static void test_uscc_pilot_warning(void **state)
{
    struct mz_uscc_info info;
    const char *reason = NULL;
    /* Huawei's code with the organisation check digit changed 1 -> 2 and the
     * GB 32100 check character recomputed. */
    assert_int_equal(mz_uscc_check("914403001922038229", &info, &reason), MZ_OK);
    assert_null(reason);
    assert_false(info.org_check_ok);
    assert_true(info.pilot_warning);
    assert_string_equal(info.org_code, "192203822");

    /* An organisation-code check of letter other than X. */
    char code[19] = "91440300192203821";
    code[16] = 'A';
    code[17] = mz_uscc_check_char(code);
    code[18] = '\0';
    assert_int_equal(mz_uscc_check(code, &info, NULL), MZ_OK);
    assert_true(info.pilot_warning);

    /* 00000000 sums to 0: 11 - 0 = 11 is written '0'. */
    assert_int_equal(mz_uscc_check("51120101000000000A", &info, NULL), MZ_OK);
    assert_true(info.org_check_ok);
    assert_false(info.pilot_warning);
    /* 57098120 checks to 10, written 'X'. */
    assert_int_equal(mz_uscc_check("9135010557098120XJ", &info, NULL), MZ_OK);
    assert_true(info.org_check_ok);
}

/* --- phones --------------------------------------------------------------------- */

/* Accepted forms, normalised to 11 digits. */
static void test_phone_valid(void **state)
{
    static const char *inputs[] = {"13800138000",      "+86 138 0013 8000", "+8613800138000",
                                   "86-138-0013-8000", "8613800138000",     "138-0013-8000",
                                   " 13800138000 "};
    char out[12];
    for (size_t i = 0; i < MZ_ARRAY_LEN(inputs); i++) {
        const char *reason = NULL;
        assert_int_equal(mz_phone_check(inputs[i], out, &reason), MZ_OK);
        assert_string_equal(out, "13800138000");
    }
    assert_int_equal(mz_phone_check("199 1234 5678", out, NULL), MZ_OK);
    assert_string_equal(out, "19912345678");
    assert_int_equal(mz_phone_check("+86 13912345678", out, NULL), MZ_OK);
    assert_string_equal(out, "13912345678");
}

/* Refused forms. */
static void test_phone_invalid(void **state)
{
    const char *reason = NULL;
    char out[12];
    assert_int_equal(mz_phone_check("12800138000", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "号段");
    assert_string_equal(out, "");
    assert_int_equal(mz_phone_check("+8612800138000", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "号段");
    assert_int_equal(mz_phone_check("23800138000", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "号段");
    static const char *bad[] = {
        "1380013800",    "138001380001",     "+85213800138000", "1380013800a",
        "+86",           "0086 13800138000", "+86138001380000", "13800138000000000000000000",
        "138.0013.8000", "+1 13800138000",   "86 1380013800"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        assert_int_equal(mz_phone_check(bad[i], out, &reason), MZ_ERR_INVALID);
        assert_reason(reason, "11位");
    }
    assert_int_equal(mz_phone_check("", out, &reason), MZ_ERR_INVALID);
    assert_int_equal(mz_phone_check(NULL, out, &reason), MZ_ERR_INVALID);
}

/* --- bank cards ------------------------------------------------------------------ */

/* The Luhn check on its own. */
static void test_luhn(void **state)
{
    assert_true(mz_luhn_ok("4111111111111111"));
    assert_false(mz_luhn_ok("4111111111111112"));
    assert_true(mz_luhn_ok("79927398713"));
    assert_false(mz_luhn_ok("79927398710"));
    assert_true(mz_luhn_ok("6222020200000000014"));
    assert_false(mz_luhn_ok("6222020200000000041")); /* transposed */
    assert_true(mz_luhn_ok("0"));
    assert_false(mz_luhn_ok("4111 1111 1111 1111"));
    assert_false(mz_luhn_ok(""));
    assert_false(mz_luhn_ok(NULL));
}

/* Bank card numbers: 12-19 digits, spaces dropped, Luhn. */
static void test_bankcard(void **state)
{
    char out[20];
    const char *reason = NULL;
    assert_int_equal(mz_bankcard_check("4111 1111 1111 1111", out, &reason), MZ_OK);
    assert_string_equal(out, "4111111111111111");
    assert_int_equal(mz_bankcard_check("6222020200000000014", out, NULL), MZ_OK);
    assert_string_equal(out, "6222020200000000014");
    assert_int_equal(mz_bankcard_check("622202000007", out, NULL), MZ_OK);
    assert_string_equal(out, "622202000007");

    assert_int_equal(mz_bankcard_check("4111111111111112", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "校验");
    assert_string_equal(out, "");
    static const char *bad[] = {"62220200007",
                                "62220202000000000140",
                                "4111-1111-1111-1111",
                                "411111111111111a",
                                "",
                                "    ",
                                "4111111111111111111111111111111"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        reason = NULL;
        assert_int_equal(mz_bankcard_check(bad[i], out, &reason), MZ_ERR_INVALID);
        assert_non_null(reason);
    }
    assert_int_equal(mz_bankcard_check(NULL, out, &reason), MZ_ERR_INVALID);
}

/* --- money -------------------------------------------------------------------- */

/* Exact conversions from yuan text to fen. */
static void test_money_parse_valid(void **state)
{
    static const struct {
        const char *text;
        int64_t fen;
    } cases[] = {
        {"1045", 104500},
        {"1045.5", 104550},
        {"1,045.50", 104550},
        {"-3.00", -300},
        {"0", 0},
        {"-0", 0},
        {"0.01", 1},
        {"0.1", 10},
        {"-0.5", -50},
        {"007.10", 710},
        {"1,234,567.89", 123456789},
        {"999", 99900},
        {"92233720368547758.07", INT64_MAX},
        {"-92233720368547758.07", -INT64_MAX},
        {"92,233,720,368,547,758.07", INT64_MAX},
    };
    for (size_t i = 0; i < MZ_ARRAY_LEN(cases); i++) {
        int64_t fen = -1;
        const char *reason = NULL;
        assert_int_equal(mz_money_parse(cases[i].text, &fen, &reason), MZ_OK);
        assert_int_equal(fen, cases[i].fen);
        assert_null(reason);
    }
}

/* Too many decimals, overflow and malformed text are refused. */
static void test_money_parse_invalid(void **state)
{
    int64_t fen = 7;
    const char *reason = NULL;
    assert_int_equal(mz_money_parse("0.005", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "两位小数");
    assert_int_equal(fen, 0);
    assert_int_equal(mz_money_parse("1.000", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "两位小数");
    assert_int_equal(mz_money_parse("92233720368547758.08", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "范围");
    assert_int_equal(mz_money_parse("92233720368547759", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "范围");
    assert_int_equal(mz_money_parse("99999999999999999999999", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "范围");
    assert_int_equal(mz_money_parse("-92233720368547758.08", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "范围");
    assert_int_equal(mz_money_parse("", &fen, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "为空");
    assert_int_equal(mz_money_parse(NULL, &fen, &reason), MZ_ERR_INVALID);

    static const char *bad[] = {"1,04", "1000,000", "1,0000", ",100", "1,000,00", "1,,000",
                                "1,",   "1.",       ".5",     "-",    "+3",       " 1",
                                "1 ",   "1e3",      "abc",    "--1",  "1.2.3",    "1.5,0",
                                "1.-5", "0x10",     "１０",   "-,1",  "1,000.5.", "12,34"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        reason = NULL;
        if (mz_money_parse(bad[i], &fen, &reason) != MZ_ERR_INVALID)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_reason(reason, "格式");
    }
}

/* fen back to text. */
static void test_money_format(void **state)
{
    char out[32];
    mz_money_format(104550, out, sizeof(out));
    assert_string_equal(out, "1045.50");
    mz_money_format(-300, out, sizeof(out));
    assert_string_equal(out, "-3.00");
    mz_money_format(0, out, sizeof(out));
    assert_string_equal(out, "0.00");
    mz_money_format(5, out, sizeof(out));
    assert_string_equal(out, "0.05");
    mz_money_format(-5, out, sizeof(out));
    assert_string_equal(out, "-0.05");
    mz_money_format(INT64_MAX, out, sizeof(out));
    assert_string_equal(out, "92233720368547758.07");
    mz_money_format(INT64_MIN, out, sizeof(out));
    assert_string_equal(out, "-92233720368547758.08");
    mz_money_format(104550, out, 4);
    assert_string_equal(out, "104");
}

/* Formatting then parsing gives the same amount. */
static void test_money_roundtrip(void **state)
{
    static const int64_t values[] = {0,   1,      -1,         99,        100,
                                     101, 104550, -123456789, INT64_MAX, -INT64_MAX};
    for (size_t i = 0; i < MZ_ARRAY_LEN(values); i++) {
        char out[32];
        int64_t fen = 0;
        mz_money_format(values[i], out, sizeof(out));
        assert_int_equal(mz_money_parse(out, &fen, NULL), MZ_OK);
        assert_int_equal(fen, values[i]);
    }
}

/* --- dates ---------------------------------------------------------------------- */

/* ISO dates with leap years. */
static void test_date_check(void **state)
{
    static const char *good[] = {"2024-02-29", "2000-02-29", "1970-01-01", "9999-12-31",
                                 "0001-01-01", "2023-12-31", "2024-04-30"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(good); i++)
        assert_int_equal(mz_date_check(good[i], NULL), MZ_OK);

    const char *reason = NULL;
    static const char *not_exist[] = {"2023-02-29", "1900-02-29", "2100-02-29",
                                      "2024-13-01", "2024-00-10", "2024-04-31",
                                      "2024-01-00", "2024-01-32", "0000-01-01"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(not_exist); i++) {
        assert_int_equal(mz_date_check(not_exist[i], &reason), MZ_ERR_INVALID);
        assert_reason(reason, "不存在");
    }
    static const char *bad_shape[] = {"2024-1-01",   "2024/01/01", "20240101", "2024-01-01 ",
                                      "2024-01-01T", "",           "24-01-01", "2024-01-0a"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad_shape); i++) {
        assert_int_equal(mz_date_check(bad_shape[i], &reason), MZ_ERR_INVALID);
        assert_reason(reason, "YYYY-MM-DD");
    }
    assert_int_equal(mz_date_check(NULL, &reason), MZ_ERR_INVALID);
}

/* RFC 3339 date-times. */
static void test_datetime_check(void **state)
{
    static const char *good[] = {"2026-11-28T23:31:35.123Z",   "2026-11-28T23:31:35Z",
                                 "2026-11-28t23:31:35z",       "2026-11-28T23:31:35+08:00",
                                 "2026-11-28T00:00:00-05:30",  "2024-02-29T12:00:00.123456789Z",
                                 "2026-11-28T23:59:59.5+23:59"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(good); i++) {
        if (mz_datetime_check(good[i], NULL) != MZ_OK)
            fail_msg("\"%s\" was refused", good[i]);
    }
    static const char *bad[] = {"2026-11-28T23:31:35",
                                "2026-11-28 23:31:35Z",
                                "2026-11-28T24:00:00Z",
                                "2026-11-28T23:60:00Z",
                                "2026-11-28T23:59:60Z",
                                "2026-11-28T23:31:35.1234567890Z",
                                "2026-11-28T23:31:35.Z",
                                "2026-11-28T23:31:35+8:00",
                                "2026-11-28T23:31:35+08",
                                "2026-11-28T23:31:35+24:00",
                                "2026-11-28T23:31:35+08:60",
                                "2023-02-29T00:00:00Z",
                                "2026-11-28T23:31:35ZZ",
                                "2026-11-28T23:31Z",
                                "2026-11-28",
                                "2026-11-28T",
                                "",
                                "2026-11-28T1:02:03Z",
                                "2026-11-28T23:31:35+08:00x"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        const char *reason = NULL;
        if (mz_datetime_check(bad[i], &reason) != MZ_ERR_INVALID)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(reason);
    }
    assert_int_equal(mz_datetime_check(NULL, NULL), MZ_ERR_INVALID);
}

/* Day numbers (checked against Python's datetime). */
static void test_date_days(void **state)
{
    assert_int_equal(mz_date_to_days("1970-01-01"), 0);
    assert_int_equal(mz_date_to_days("1970-01-02"), 1);
    assert_int_equal(mz_date_to_days("1969-12-31"), -1);
    assert_int_equal(mz_date_to_days("2000-03-01"), 11017);
    assert_int_equal(mz_date_to_days("2024-02-29"), 19782);
    assert_int_equal(mz_date_to_days("1880-01-01"), -32872);
    assert_int_equal(mz_date_to_days("9999-12-31"), 2932896);
    assert_int_equal(mz_date_to_days("0001-01-01"), -719162);
    assert_true(mz_date_to_days("2023-02-29") == INT64_MIN);
    assert_true(mz_date_to_days("nonsense") == INT64_MIN);
    assert_true(mz_date_to_days(NULL) == INT64_MIN);

    char out[11];
    mz_days_to_date(0, out);
    assert_string_equal(out, "1970-01-01");
    mz_days_to_date(19782, out);
    assert_string_equal(out, "2024-02-29");
    mz_days_to_date(-1, out);
    assert_string_equal(out, "1969-12-31");
    mz_days_to_date(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31");
    mz_days_to_date(INT64_MIN, out);
    assert_string_equal(out, "0001-01-01");

    /* Every day from 1880 to 2100 goes there and back, one day apart. */
    int64_t prev = mz_date_to_days("1879-12-31");
    for (int64_t d = mz_date_to_days("1880-01-01"); d <= mz_date_to_days("2100-12-31"); d++) {
        mz_days_to_date(d, out);
        assert_int_equal(mz_date_check(out, NULL), MZ_OK);
        assert_int_equal(mz_date_to_days(out), d);
        assert_int_equal(d - prev, 1);
        prev = d;
    }
}

/* --- divisions ---------------------------------------------------------------------- */

/* 6, 9 and 12 digits, padded to 12. */
static void test_division_check(void **state)
{
    char out[13];
    const char *reason = NULL;
    assert_int_equal(mz_division_check("120101", out, &reason), MZ_OK);
    assert_string_equal(out, "120101000000");
    assert_int_equal(mz_division_check("120101001", out, &reason), MZ_OK);
    assert_string_equal(out, "120101001000");
    assert_int_equal(mz_division_check("120101001001", out, &reason), MZ_OK);
    assert_string_equal(out, "120101001001");
    assert_int_equal(mz_division_check("820000", out, &reason), MZ_OK);
    assert_string_equal(out, "820000000000");

    static const char *bad_format[] = {"12010",       "1201010",           "12010100", "1201010010",
                                       "12010100100", "1201010010010",     "12010a",   "",
                                       "120101 ",     "120101001001001001"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad_format); i++) {
        assert_int_equal(mz_division_check(bad_format[i], out, &reason), MZ_ERR_INVALID);
        assert_reason(reason, "6、9或12位");
        assert_string_equal(out, "");
    }
    assert_int_equal(mz_division_check("990101", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "省份");
    assert_int_equal(mz_division_check("000000000000", out, &reason), MZ_ERR_INVALID);
    assert_reason(reason, "省份");
    assert_int_equal(mz_division_check(NULL, out, &reason), MZ_ERR_INVALID);
}

/* Levels by trailing zeros. */
static void test_division_level(void **state)
{
    assert_int_equal(mz_division_level("120000000000"), 1);
    assert_int_equal(mz_division_level("120100000000"), 2);
    assert_int_equal(mz_division_level("120101000000"), 3);
    assert_int_equal(mz_division_level("120101001000"), 4);
    assert_int_equal(mz_division_level("120101001001"), 5);
    assert_int_equal(mz_division_level("120101001100"), 5);
    assert_int_equal(mz_division_level("120101100000"), 4);
    assert_int_equal(mz_division_level("120001000000"), 3);
    assert_int_equal(mz_division_level("12010100100"), 0);
    assert_int_equal(mz_division_level("1201010010010"), 0);
    assert_int_equal(mz_division_level("12010100100a"), 0);
    assert_int_equal(mz_division_level(NULL), 0);

    char out[13];
    assert_int_equal(mz_division_check("120101001", out, NULL), MZ_OK);
    assert_int_equal(mz_division_level(out), 4);
}

/* --- UTF-8 ---------------------------------------------------------------------------- */

/* Well-formed text without controls. */
static void test_utf8_text_ok(void **state)
{
    static const char *good[] = {"和平区",           "a\tb\nc\r", "天津市和平区 No.1",
                                 "\xf0\x9f\x98\x80", "\xc2\xa0",  "\xef\xbf\xbd"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(good); i++)
        assert_true(mz_utf8_text_ok(good[i], strlen(good[i])));
    assert_true(mz_utf8_text_ok("", 0));
    assert_true(mz_utf8_text_ok(NULL, 0));

    static const char *bad[] = {"\x01",
                                "a\x1b[0m",
                                "\x7f",
                                "\xc2\x80", /* C1 */
                                "\xc2\x9f",
                                "\xc0\xaf",
                                "\xc1\xbf",
                                "\xe0\x80\xaf",
                                "\xed\xa0\x80",
                                "\xf4\x90\x80\x80",
                                "\xf5\x80\x80\x80",
                                "\xe5\x92",
                                "\x80",
                                "\xff",
                                "\xf0\x9f\x98",
                                "\xe5\x92\x8c\xe5"};
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++) {
        if (mz_utf8_text_ok(bad[i], strlen(bad[i])))
            fail_msg("bad case %zu was accepted", i);
    }
    assert_false(mz_utf8_text_ok("ab\0cd", 5)); /* NUL inside the length */
    assert_true(mz_utf8_text_ok("和平区", 6));  /* a prefix ending on a boundary */
    assert_false(mz_utf8_text_ok("和平区", 5)); /* cut in the middle */
}

/* Code points, not bytes. */
static void test_utf8_length(void **state)
{
    assert_int_equal(mz_utf8_length("和平区", strlen("和平区")), 3);
    assert_int_equal(mz_utf8_length("abc", 3), 3);
    assert_int_equal(mz_utf8_length("\xf0\x9f\x98\x80", 4), 1);
    assert_int_equal(mz_utf8_length("a和\xc2\xa0", 6), 3);
    assert_int_equal(mz_utf8_length("", 0), 0);
    assert_int_equal(mz_utf8_length(NULL, 0), 0);
}

/* Run every test; the exit status is the number of failures. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_check_char),
        cmocka_unit_test(test_id_valid_example),
        cmocka_unit_test(test_id_male_earliest),
        cmocka_unit_test(test_id_lowercase_x),
        cmocka_unit_test(test_id_bad_check_digit),
        cmocka_unit_test(test_id_upgrade_15),
        cmocka_unit_test(test_id_length_and_chars),
        cmocka_unit_test(test_province),
        cmocka_unit_test(test_id_feb29),
        cmocka_unit_test(test_id_bad_birth),
        cmocka_unit_test(test_id_birth_range),
        cmocka_unit_test(test_id_info_cleared),
        cmocka_unit_test(test_uscc_check_char),
        cmocka_unit_test(test_uscc_real),
        cmocka_unit_test(test_uscc_fields),
        cmocka_unit_test(test_uscc_bad_check),
        cmocka_unit_test(test_uscc_charset),
        cmocka_unit_test(test_uscc_shape),
        cmocka_unit_test(test_uscc_pilot_warning),
        cmocka_unit_test(test_phone_valid),
        cmocka_unit_test(test_phone_invalid),
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_bankcard),
        cmocka_unit_test(test_money_parse_valid),
        cmocka_unit_test(test_money_parse_invalid),
        cmocka_unit_test(test_money_format),
        cmocka_unit_test(test_money_roundtrip),
        cmocka_unit_test(test_date_check),
        cmocka_unit_test(test_datetime_check),
        cmocka_unit_test(test_date_days),
        cmocka_unit_test(test_division_check),
        cmocka_unit_test(test_division_level),
        cmocka_unit_test(test_utf8_text_ok),
        cmocka_unit_test(test_utf8_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
