/* validate.c - validators for the national identifiers and common values.
 *
 * Every function here is pure: no database, no heap, no global state (the one
 * exception is mz_id_check reading the clock when it is given no `today`).
 * Inputs are NUL-terminated strings of any length; each validator looks at a
 * bounded prefix, so a megabyte of garbage costs no more than a short string.
 * On failure a validator returns MZ_ERR_INVALID and points *reason at a static
 * Chinese message for staff; `reason` and the output pointers may be NULL.
 *
 * Standards:
 *   GB 11643-1999  citizen ID: 17 digits weighted 7 9 10 5 8 4 2 1 6 3 7 9 10
 *                  5 8 4 2, sum mod 11 mapped by "10X98765432"; the 17th digit
 *                  is odd for men. 15-digit numbers (before 1999) are upgraded by
 *                  inserting "19" before the two-digit year.
 *   GB 32100-2015  unified social credit code: 31-character set, weights 3^i mod
 *                  31; positions 9-17 embed the GB 11714 organisation code with
 *                  its own mod-11 check, which some early pilot codes fail (a
 *                  warning, not an error).
 *   GB/T 2260      division codes: the province prefixes in province_codes.
 *
 * Tested in tests/unit/test_validate.c; fuzzed by tests/fuzz/fuzz_validate.c.
 */
#include <string.h>

#include "mz/validate.h"

/* Reasons (static, Chinese, for staff). */
#define REASON_ID_EMPTY    "身份证号码为空"
#define REASON_ID_LENGTH   "长度应为18位（或15位旧号码）"
#define REASON_ID_CHARS    "身份证号码只能包含数字，最后一位可为X"
#define REASON_ID_PROVINCE "身份证号码的省份代码无效"
#define REASON_ID_BIRTH    "出生日期无效"
#define REASON_ID_FUTURE   "出生日期晚于今天"
#define REASON_ID_EARLY    "出生日期早于1880年"
#define REASON_ID_CHECK    "身份证号码校验位错误"

/* Earliest birth date accepted in a citizen ID number. */
#define ID_EARLIEST_BIRTH "1880-01-01"

/* GB 11643 weights of the first 17 digits and the check characters by sum mod 11. */
static const int id_weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char id_check_chars[] = "10X98765432";

/* GB 32100 character set; a character's value is its index. */
static const char uscc_charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
#define USCC_RADIX 31

/* GB 11714 organisation-code weights of the first 8 characters. */
static const int org_weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};

/* GB/T 2260 province-level codes (34 divisions). */
static const char province_codes[][3] = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
    "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
    "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
};

/* Size of the phone scratch buffer (at most 14 kept characters plus NUL). */
#define SCRATCH_MAX 16

/* Point *reason at msg (when the caller wants it) and return MZ_ERR_INVALID. */
static int fail(const char **reason, const char *msg)
{
    if (reason != NULL)
        *reason = msg;
    return MZ_ERR_INVALID;
}

/* True for an ASCII decimal digit (no locale). */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* True if s[0..n) are all ASCII digits. */
static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
    }
    return true;
}

/* strlen that stops counting at max + 1, so a huge input costs O(max). */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] != '\0')
        n++;
    return n;
}

/* Value of n (at most 9) ASCII digits; the caller has checked they are digits. */
static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* True for a Gregorian leap year. */
static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Days in the month (1-12) of the year. */
static int month_days(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap(year))
        return 29;
    return days[month - 1];
}

/* Parse exactly "YYYY-MM-DD" at s (10 characters, no more read) into its parts;
 * false if the shape is wrong or the date does not exist (year 0001-9999). */
static bool parse_date10(const char *s, int *year, int *month, int *day)
{
    if (!all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) || s[7] != '-' ||
        !all_digits(s + 8, 2))
        return false;
    int y = digits_value(s, 4);
    int m = digits_value(s + 5, 2);
    int d = digits_value(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return false;
    *year = y;
    *month = m;
    *day = d;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* True if the two-digit province code is one of GB/T 2260's. */
bool mz_province_known(const char *two_digits)
{
    if (two_digits == NULL || !is_digit(two_digits[0]) || !is_digit(two_digits[1]))
        return false;
    for (size_t i = 0; i < MZ_ARRAY_LEN(province_codes); i++) {
        if (province_codes[i][0] == two_digits[0] && province_codes[i][1] == two_digits[1])
            return true;
    }
    return false;
}

/* --- GB 11643 citizen ID -------------------------------------------------- */

/* The check character for 17 digits: '0'-'9' or 'X'; '\0' if first17 does not
 * start with 17 digits. */
char mz_id_check_char(const char *first17)
{
    if (first17 == NULL || bounded_len(first17, 17) < 17 || !all_digits(first17, 17))
        return '\0';
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * id_weights[i];
    return id_check_chars[sum % 11];
}

/* Validate a GB 11643 number; see validate.h. The checks run in the documented
 * order (characters and length, province, birth date, check digit) so the
 * reason names the first problem. info is zeroed first and filled on success.
 * A `today` that is not a valid date is treated like NULL (the clock). */
int mz_id_check(const char *input, const char *today, struct mz_id_info *info, const char **reason)
{
    char number[19];
    bool upgraded = false;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (input == NULL || input[0] == '\0')
        return fail(reason, REASON_ID_EMPTY);

    size_t len = bounded_len(input, 18);
    if (len == 15) {
        if (!all_digits(input, 15))
            return fail(reason, REASON_ID_CHARS);
        memcpy(number, input, 6);
        number[6] = '1';
        number[7] = '9';
        memcpy(number + 8, input + 6, 9);
        upgraded = true;
    } else if (len == 18) {
        if (!all_digits(input, 17))
            return fail(reason, REASON_ID_CHARS);
        if (!is_digit(input[17]) && input[17] != 'X' && input[17] != 'x')
            return fail(reason, REASON_ID_CHARS);
        memcpy(number, input, 17);
        number[17] = input[17] == 'x' ? 'X' : input[17];
    } else {
        return fail(reason, REASON_ID_LENGTH);
    }

    if (!mz_province_known(number))
        return fail(reason, REASON_ID_PROVINCE);

    char birth[11];
    memcpy(birth, number + 6, 4);
    birth[4] = '-';
    memcpy(birth + 5, number + 10, 2);
    birth[7] = '-';
    memcpy(birth + 8, number + 12, 2);
    birth[10] = '\0';
    int year, month, day;
    if (!parse_date10(birth, &year, &month, &day))
        return fail(reason, REASON_ID_BIRTH);
    if (strcmp(birth, ID_EARLIEST_BIRTH) < 0)
        return fail(reason, REASON_ID_EARLY);

    char now[11];
    int ty, tm, td;
    if (today != NULL && bounded_len(today, 10) == 10 && parse_date10(today, &ty, &tm, &td)) {
        memcpy(now, today, 10);
        now[10] = '\0';
    } else {
        mz_today(now);
    }
    if (strcmp(birth, now) > 0)
        return fail(reason, REASON_ID_FUTURE);

    char check = mz_id_check_char(number);
    if (upgraded)
        number[17] = check;
    else if (number[17] != check)
        return fail(reason, REASON_ID_CHECK);
    number[18] = '\0';

    if (info != NULL) {
        memcpy(info->number, number, sizeof(info->number));
        memcpy(info->birth, birth, sizeof(info->birth));
        info->sex = (number[16] - '0') % 2 == 1 ? 'M' : 'F';
        memcpy(info->division, number, 6);
        info->division[6] = '\0';
        info->upgraded = upgraded;
    }
    return MZ_OK;
}

/* --- GB 32100 unified social credit code ---------------------------------- */

#define REASON_USCC_EMPTY    "统一社会信用代码为空"
#define REASON_USCC_LENGTH   "统一社会信用代码应为18位"
#define REASON_USCC_CHARS    "统一社会信用代码含有非法字符（只能用数字和除I、O、S、V、Z外的大写字母）"
#define REASON_USCC_DIVISION "统一社会信用代码第3至8位应为行政区划代码（6位数字）"
#define REASON_USCC_CHECK    "统一社会信用代码校验位错误"

/* Value (index in the GB 32100 set) of an upper-case character; -1 if not in it. */
static int uscc_value(char c)
{
    if (c == '\0')
        return -1;
    const char *p = strchr(uscc_charset, c);
    return p == NULL ? -1 : (int)(p - uscc_charset);
}

/* ASCII upper case without the locale. */
static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The check character for the first 17 characters (upper case); '\0' if they
 * are not 17 characters of the set. */
char mz_uscc_check_char(const char *first17)
{
    if (first17 == NULL || bounded_len(first17, 17) < 17)
        return '\0';
    int sum = 0;
    int weight = 1; /* 3^i mod 31 */
    for (int i = 0; i < 17; i++) {
        int v = uscc_value(first17[i]);
        if (v < 0)
            return '\0';
        sum += v * weight;
        weight = weight * 3 % USCC_RADIX;
    }
    return uscc_charset[(USCC_RADIX - sum % USCC_RADIX) % USCC_RADIX];
}

/* The GB 11714 check over the 9-character organisation code: weights on the
 * first 8 (digits by value, letters 10 + offset from 'A'), 11 - sum mod 11 with
 * 10 written 'X' and 11 written '0'. */
static bool org_code_ok(const char *org)
{
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        char c = org[i];
        int v;
        if (is_digit(c))
            v = c - '0';
        else if (c >= 'A' && c <= 'Z')
            v = 10 + (c - 'A');
        else
            return false;
        sum += v * org_weights[i];
    }
    int r = 11 - sum % 11;
    char expect = r == 10 ? 'X' : r == 11 ? '0' : (char)('0' + r);
    return org[8] == expect;
}

/* Validate a GB 32100 code; see validate.h. Lower case is accepted and
 * upper-cased; positions 3-8 must be digits (a division code). info is zeroed
 * first and filled on success. */
int mz_uscc_check(const char *input, struct mz_uscc_info *info, const char **reason)
{
    char code[19];

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (input == NULL || input[0] == '\0')
        return fail(reason, REASON_USCC_EMPTY);
    if (bounded_len(input, 18) != 18)
        return fail(reason, REASON_USCC_LENGTH);
    for (int i = 0; i < 18; i++) {
        code[i] = ascii_upper(input[i]);
        if (uscc_value(code[i]) < 0)
            return fail(reason, REASON_USCC_CHARS);
    }
    code[18] = '\0';
    if (!all_digits(code + 2, 6))
        return fail(reason, REASON_USCC_DIVISION);
    if (mz_uscc_check_char(code) != code[17])
        return fail(reason, REASON_USCC_CHECK);

    bool org_ok = org_code_ok(code + 8);
    if (info != NULL) {
        memcpy(info->code, code, sizeof(info->code));
        info->registrar = code[0];
        info->kind = code[1];
        memcpy(info->division, code + 2, 6);
        info->division[6] = '\0';
        memcpy(info->org_code, code + 8, 9);
        info->org_code[9] = '\0';
        info->org_check_ok = org_ok;
        info->pilot_warning = !org_ok;
    }
    return MZ_OK;
}

/* --- mobile numbers ---------------------------------------------------------- */

#define REASON_PHONE_EMPTY  "手机号码为空"
#define REASON_PHONE_FORMAT "手机号码应为11位数字（可带+86前缀）"
#define REASON_PHONE_PREFIX "手机号码号段无效（应以13至19开头）"

/* Validate a mainland mobile number; see validate.h. Spaces and hyphens are
 * dropped anywhere; then a leading "+86", or "86" before 11 more digits, is
 * removed. */
int mz_phone_check(const char *input, char out[12], const char **reason)
{
    char buf[SCRATCH_MAX];
    size_t n = 0;

    if (out != NULL)
        out[0] = '\0';
    if (input == NULL || input[0] == '\0')
        return fail(reason, REASON_PHONE_EMPTY);
    for (const char *p = input; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (n == 14) /* "+86" and 11 digits is the longest valid form */
            return fail(reason, REASON_PHONE_FORMAT);
        buf[n++] = *p;
    }
    buf[n] = '\0';

    const char *digits = buf;
    if (n == 14 && buf[0] == '+' && buf[1] == '8' && buf[2] == '6')
        digits = buf + 3;
    else if (n == 13 && buf[0] == '8' && buf[1] == '6')
        digits = buf + 2;
    if (strlen(digits) != 11 || !all_digits(digits, 11))
        return fail(reason, REASON_PHONE_FORMAT);
    if (digits[0] != '1' || digits[1] < '3')
        return fail(reason, REASON_PHONE_PREFIX);
    if (out != NULL)
        memcpy(out, digits, 12);
    return MZ_OK;
}

/* --- bank cards ------------------------------------------------------------------ */

#define REASON_CARD_EMPTY  "银行卡号为空"
#define REASON_CARD_FORMAT "银行卡号应为12至19位数字"
#define REASON_CARD_LUHN   "银行卡号校验失败"

/* True if digits is 1 or more ASCII digits passing the Luhn mod-10 check. */
bool mz_luhn_ok(const char *digits)
{
    if (digits == NULL || digits[0] == '\0')
        return false;
    size_t n = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        char c = digits[n - 1 - i];
        if (!is_digit(c))
            return false;
        int v = c - '0';
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum = (sum + v) % 10;
    }
    return sum == 0;
}

/* Validate a bank card number; see validate.h. Spaces anywhere are dropped. */
int mz_bankcard_check(const char *input, char out[20], const char **reason)
{
    char buf[20];
    size_t n = 0;

    if (out != NULL)
        out[0] = '\0';
    if (input == NULL || input[0] == '\0')
        return fail(reason, REASON_CARD_EMPTY);
    for (const char *p = input; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        if (!is_digit(*p) || n == 19)
            return fail(reason, REASON_CARD_FORMAT);
        buf[n++] = *p;
    }
    buf[n] = '\0';
    if (n < 12)
        return fail(reason, REASON_CARD_FORMAT);
    if (!mz_luhn_ok(buf))
        return fail(reason, REASON_CARD_LUHN);
    if (out != NULL)
        memcpy(out, buf, n + 1);
    return MZ_OK;
}

/* --- money ------------------------------------------------------------------------ */

#define REASON_MONEY_EMPTY    "金额为空"
#define REASON_MONEY_FORMAT   "金额格式无效（例：1045、1045.5、1,045.50、-3.00）"
#define REASON_MONEY_DECIMALS "金额最多保留两位小数"
#define REASON_MONEY_RANGE    "金额超出范围"

/* Parse yuan text to fen; see validate.h. Grammar: an optional '-', 1 or more
 * digits (or comma-grouped thousands: 1-3 digits then groups of exactly 3), then
 * optionally '.' and 1 or 2 digits. No spaces, no '+'. Exact, with the
 * magnitude at most INT64_MAX fen. */
int mz_money_parse(const char *input, int64_t *fen, const char **reason)
{
    const char *p = input;
    bool negative = false;
    uint64_t value = 0; /* in yuan, then fen */

    if (fen != NULL)
        *fen = 0;
    if (input == NULL || input[0] == '\0')
        return fail(reason, REASON_MONEY_EMPTY);
    if (*p == '-') {
        negative = true;
        p++;
    }
    if (!is_digit(*p))
        return fail(reason, REASON_MONEY_FORMAT);

    bool grouped = strchr(p, ',') != NULL;
    size_t group = 0; /* digits since the start or the last comma */
    bool first_group = true;
    for (; is_digit(*p) || *p == ','; p++) {
        if (*p == ',') {
            if ((first_group && (group < 1 || group > 3)) || (!first_group && group != 3))
                return fail(reason, REASON_MONEY_FORMAT);
            first_group = false;
            group = 0;
            continue;
        }
        group++;
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > ((uint64_t)INT64_MAX / 100 - digit) / 10)
            return fail(reason, REASON_MONEY_RANGE);
        value = value * 10 + digit;
    }
    if (grouped && (first_group || group != 3))
        return fail(reason, REASON_MONEY_FORMAT);

    uint64_t cents = 0;
    if (*p == '.') {
        p++;
        int decimals = 0;
        while (is_digit(*p)) {
            if (decimals == 2)
                return fail(reason, REASON_MONEY_DECIMALS);
            cents = cents * 10 + (uint64_t)(*p - '0');
            decimals++;
            p++;
        }
        if (decimals == 0)
            return fail(reason, REASON_MONEY_FORMAT);
        if (decimals == 1)
            cents *= 10;
    }
    if (*p != '\0')
        return fail(reason, REASON_MONEY_FORMAT);

    value *= 100;
    if (value > (uint64_t)INT64_MAX - cents)
        return fail(reason, REASON_MONEY_RANGE);
    value += cents;
    if (fen != NULL)
        *fen = negative ? -(int64_t)value : (int64_t)value;
    return MZ_OK;
}

/* Write fen as yuan with two decimals ("1045.50", "-3.00") into out; every
 * int64 fits in 32 bytes. Truncated (still NUL-terminated) if outlen is short. */
void mz_money_format(int64_t fen, char *out, size_t outlen)
{
    char buf[32];
    char *p = buf + sizeof(buf);
    uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    uint64_t yuan = mag / 100;
    unsigned cents = (unsigned)(mag % 100);

    if (out == NULL || outlen == 0)
        return;
    *--p = '\0';
    *--p = (char)('0' + cents % 10);
    *--p = (char)('0' + cents / 10);
    *--p = '.';
    do {
        *--p = (char)('0' + yuan % 10);
        yuan /= 10;
    } while (yuan != 0);
    if (fen < 0)
        *--p = '-';
    size_t len = (size_t)(buf + sizeof(buf) - p) - 1;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* --- dates ------------------------------------------------------------------------- */

#define REASON_DATE_FORMAT     "日期格式应为YYYY-MM-DD"
#define REASON_DATE_INVALID    "日期不存在"
#define REASON_DATETIME_FORMAT "时间格式应为YYYY-MM-DDTHH:MM:SS（可带小数秒），以Z或±hh:mm结尾"
#define REASON_DATETIME_RANGE  "时间数值超出范围"

/* Check the shape "DDDD-DD-DD" (digits where D), reading no further than needed. */
static bool date_shape_ok(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (s[i] == '\0')
            return false;
        if ((i == 4 || i == 7) ? s[i] != '-' : !is_digit(s[i]))
            return false;
    }
    return true;
}

/* Validate an ISO date YYYY-MM-DD (years 0001-9999) that exists in the calendar. */
int mz_date_check(const char *input, const char **reason)
{
    int y, m, d;

    if (input == NULL || !date_shape_ok(input) || input[10] != '\0')
        return fail(reason, REASON_DATE_FORMAT);
    if (!parse_date10(input, &y, &m, &d))
        return fail(reason, REASON_DATE_INVALID);
    return MZ_OK;
}

/* Validate an RFC 3339 date-time: date, 'T' (or 't'), HH:MM:SS with an optional
 * fraction of 1-9 digits, then 'Z' (or 'z') or an offset ±hh:mm. Hours 00-23,
 * minutes and seconds 00-59 (leap second 60 is refused: times are stored in UTC
 * and a :60 could not be represented), offsets up to ±23:59. */
int mz_datetime_check(const char *input, const char **reason)
{
    if (input == NULL || !date_shape_ok(input))
        return fail(reason, REASON_DATETIME_FORMAT);
    int y, m, d;
    if (!parse_date10(input, &y, &m, &d))
        return fail(reason, REASON_DATE_INVALID);

    const char *p = input + 10;
    if (*p != 'T' && *p != 't')
        return fail(reason, REASON_DATETIME_FORMAT);
    p++;
    if (bounded_len(p, 8) < 8 || !all_digits(p, 2) || p[2] != ':' || !all_digits(p + 3, 2) ||
        p[5] != ':' || !all_digits(p + 6, 2))
        return fail(reason, REASON_DATETIME_FORMAT);
    if (digits_value(p, 2) > 23 || digits_value(p + 3, 2) > 59 || digits_value(p + 6, 2) > 59)
        return fail(reason, REASON_DATETIME_RANGE);
    p += 8;

    if (*p == '.') {
        p++;
        int frac = 0;
        while (is_digit(*p)) {
            if (frac == 9)
                return fail(reason, REASON_DATETIME_FORMAT);
            frac++;
            p++;
        }
        if (frac == 0)
            return fail(reason, REASON_DATETIME_FORMAT);
    }

    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        p++;
        if (bounded_len(p, 5) < 5 || !all_digits(p, 2) || p[2] != ':' || !all_digits(p + 3, 2))
            return fail(reason, REASON_DATETIME_FORMAT);
        if (digits_value(p, 2) > 23 || digits_value(p + 3, 2) > 59)
            return fail(reason, REASON_DATETIME_RANGE);
        p += 5;
    } else {
        return fail(reason, REASON_DATETIME_FORMAT);
    }
    if (*p != '\0')
        return fail(reason, REASON_DATETIME_FORMAT);
    return MZ_OK;
}

/* Days since 1970-01-01 of a valid date (negative before it). Only the first
 * 10 characters are read. An invalid date gives INT64_MIN, which compares
 * before every real date. */
int64_t mz_date_to_days(const char *date)
{
    int y, m, d;

    if (date == NULL || !date_shape_ok(date) || !parse_date10(date, &y, &m, &d))
        return INT64_MIN;
    return days_from_civil(y, m, d);
}

/* Write the date `days` after 1970-01-01 as YYYY-MM-DD into out. Days outside
 * 0001-01-01..9999-12-31 are clamped to those ends so the output always has
 * the shape mz_date_check accepts. */
void mz_days_to_date(int64_t days, char out[11])
{
    const int64_t min_days = days_from_civil(1, 1, 1);
    const int64_t max_days = days_from_civil(9999, 12, 31);
    if (days < min_days)
        days = min_days;
    if (days > max_days)
        days = max_days;

    /* H. Hinnant's civil_from_days. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(y + (m <= 2));

    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

/* --- division codes ------------------------------------------------------------------ */

#define REASON_DIVISION_FORMAT   "行政区划代码应为6、9或12位数字"
#define REASON_DIVISION_PROVINCE "行政区划代码的省份代码无效"

/* Validate a division code of 6, 9 or 12 digits with a known province and
 * write it right-padded with zeros to 12 digits into out. */
int mz_division_check(const char *input, char out[13], const char **reason)
{
    if (out != NULL)
        out[0] = '\0';
    if (input == NULL)
        return fail(reason, REASON_DIVISION_FORMAT);
    size_t len = bounded_len(input, 12);
    if ((len != 6 && len != 9 && len != 12) || !all_digits(input, len))
        return fail(reason, REASON_DIVISION_FORMAT);
    if (!mz_province_known(input))
        return fail(reason, REASON_DIVISION_PROVINCE);
    if (out != NULL) {
        memcpy(out, input, len);
        memset(out + len, '0', 12 - len);
        out[12] = '\0';
    }
    return MZ_OK;
}

/* True if s[from..to) are all '0'. */
static bool zeros(const char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (s[i] != '0')
            return false;
    }
    return true;
}

/* Level of a 12-digit code by its trailing zeros: 1 province (PP0000000000),
 * 2 city (PPCC00000000), 3 district (PPCCDD000000), 4 street (PPCCDDSSS000),
 * 5 community; 0 if code12 is not exactly 12 digits. */
int mz_division_level(const char *code12)
{
    if (code12 == NULL || bounded_len(code12, 12) != 12 || !all_digits(code12, 12))
        return 0;
    if (zeros(code12, 2, 12))
        return 1;
    if (zeros(code12, 4, 12))
        return 2;
    if (zeros(code12, 6, 12))
        return 3;
    if (zeros(code12, 9, 12))
        return 4;
    return 5;
}

/* --- UTF-8 ------------------------------------------------------------------------------ */

/* See validate.h. */
size_t mz_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v;
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Valid UTF-8 with no control characters other than tab, newline and CR: C0
 * controls, DEL and the C1 controls U+0080-U+009F are refused, as is NUL. */
bool mz_utf8_text_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL)
        return len == 0;
    while (i < len) {
        uint32_t cp;
        size_t n = mz_utf8_decode(u + i, len - i, &cp);
        if (n == 0)
            return false;
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F))
            return false;
        i += n;
    }
    return true;
}

/* Number of code points in valid UTF-8: the bytes that are not continuation
 * bytes (for invalid input, a count of lead and stray bytes). */
size_t mz_utf8_length(const char *s, size_t len)
{
    size_t count = 0;

    if (s == NULL)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    }
    return count;
}
