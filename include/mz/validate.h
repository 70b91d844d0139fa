/* validate.h - validators for the national identifiers and common values.
 *
 * One place for every check a field type or command needs, each pure (no
 * database): GB 11643 citizen ID numbers, GB 32100 unified social credit
 * codes, mainland mobile numbers, bank card numbers (Luhn), money strings,
 * ISO dates and date-times, 12-digit division codes. Reasons are Chinese
 * messages for staff.
 */
#ifndef MZ_VALIDATE_H
#define MZ_VALIDATE_H

#include "mz/base.h"

struct mz_id_info {
    char number[19];    /* the 18-character normalised number (upper-case X) */
    char birth[11];     /* YYYY-MM-DD */
    char sex;           /* 'M' or 'F' */
    char division[7];   /* the 6-digit address code */
    bool upgraded;      /* the input was a 15-digit number */
};

/* Validate a GB 11643 number (18 digits, or 15 digits which are upgraded by
 * inserting "19" and computing the check digit). Checks: characters, length,
 * a known province prefix, a real birth date not in the future and not before
 * 1880, and the check digit. On failure returns MZ_ERR_INVALID and points
 * *reason at a static Chinese message. `today` (YYYY-MM-DD) may be NULL for now. */
int mz_id_check(const char *input, const char *today, struct mz_id_info *info,
                const char **reason);
/* The check character for 17 digits: '0'-'9' or 'X'. */
char mz_id_check_char(const char *first17);

struct mz_uscc_info {
    char code[19];       /* upper-cased */
    char registrar;      /* position 1: '5' is 民政 */
    char kind;           /* position 2 */
    char division[7];    /* positions 3-8 */
    char org_code[10];   /* positions 9-17 (organisation code incl. its check) */
    bool org_check_ok;   /* the embedded mod-11 organisation-code check */
    bool pilot_warning;  /* failed a check in a way known from early pilot codes */
};

/* Validate a GB 32100 code: 18 characters of 0-9A-HJ-NPQRTUWXY, check character
 * by weights 3^i mod 31. A bad check character is an error; a bad embedded
 * organisation-code check is a warning (pilot_warning, MZ_OK). */
int mz_uscc_check(const char *input, struct mz_uscc_info *info, const char **reason);
char mz_uscc_check_char(const char *first17);

/* Mainland mobile: 11 digits, 1[3-9]x; "+86"/"86" prefixes and spaces/hyphens
 * are removed into out[12]. */
int mz_phone_check(const char *input, char out[12], const char **reason);

/* Bank card: 12-19 digits (spaces allowed) passing Luhn; digits into out[20]. */
int mz_bankcard_check(const char *input, char out[20], const char **reason);
bool mz_luhn_ok(const char *digits);

/* Money in yuan as text ("1045", "1045.5", "1,045.50", "-3.00") to fen, exact;
 * more than two decimals or overflow is an error. */
int mz_money_parse(const char *input, int64_t *fen, const char **reason);
/* fen to "1045.50" into out (at least 32 bytes). */
void mz_money_format(int64_t fen, char *out, size_t outlen);

/* ISO date YYYY-MM-DD that exists in the calendar (leap years). */
int mz_date_check(const char *input, const char **reason);
/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm). */
int mz_datetime_check(const char *input, const char **reason);
/* Days since 1970-01-01 of a valid date; used for comparisons and deadlines. */
int64_t mz_date_to_days(const char *date);
void mz_days_to_date(int64_t days, char out[11]);

/* Division code: 6, 9 or 12 digits, province prefix known. Normalised to 12
 * digits (right-padded with zeros) into out[13]. */
int mz_division_check(const char *input, char out[13], const char **reason);
/* Level of a 12-digit code: 1 province, 2 city, 3 district, 4 street, 5 community. */
int mz_division_level(const char *code12);

/* True if the two-digit province code is one of GB/T 2260's. */
bool mz_province_known(const char *two_digits);

/* Decode one code point of well-formed UTF-8 (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF) at s[0..len); its length in bytes, or 0 if
 * the bytes there are not well-formed. */
size_t mz_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* Valid UTF-8 with no control characters other than tab/newline/CR. */
bool mz_utf8_text_ok(const char *s, size_t len);
/* Number of Unicode code points in valid UTF-8. */
size_t mz_utf8_length(const char *s, size_t len);

#endif
