/* fuzz_validate.c - libFuzzer target for every parser of validate.h.
 *
 * The input is copied into a NUL-terminated heap buffer of exactly its size
 * (so ASan sees any read past the terminator) and handed to each validator.
 * Besides "no crash, no UB", it checks the invariants a caller relies on:
 * outputs of accepted input are well formed and parse again to the same value.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude
 *        tests/fuzz/fuzz_validate.c src/core/validate.c src/core/base.c
 * Seeds: tests/fuzz/corpus/validate/.
 */
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding for libFuzzer) unless cond holds. */
static void require(bool cond)
{
    if (!cond)
        abort();
}

/* Citizen IDs: an accepted number is 18 characters that validate again. */
static void fuzz_id(const char *s)
{
    struct mz_id_info info;
    const char *reason = NULL;
    if (mz_id_check(s, "2024-06-30", &info, &reason) == MZ_OK) {
        require(strlen(info.number) == 18);
        require(info.sex == 'M' || info.sex == 'F');
        require(mz_date_check(info.birth, NULL) == MZ_OK);
        require(mz_id_check(info.number, "2024-06-30", NULL, NULL) == MZ_OK);
        require(mz_id_check_char(info.number) == info.number[17]);
    } else {
        require(reason != NULL);
    }
    (void)mz_id_check(s, NULL, NULL, NULL);
    (void)mz_id_check(s, s, NULL, NULL);
    (void)mz_id_check_char(s);
}

/* Credit codes: an accepted code is upper case and validates again. */
static void fuzz_uscc(const char *s)
{
    struct mz_uscc_info info;
    const char *reason = NULL;
    if (mz_uscc_check(s, &info, &reason) == MZ_OK) {
        require(strlen(info.code) == 18);
        require(mz_uscc_check_char(info.code) == info.code[17]);
        require(info.pilot_warning == !info.org_check_ok);
        require(mz_uscc_check(info.code, NULL, NULL) == MZ_OK);
    } else {
        require(reason != NULL);
    }
    (void)mz_uscc_check_char(s);
}

/* Phones and bank cards: accepted output is digits only, and accepted again. */
static void fuzz_phone_card(const char *s)
{
    char phone[12];
    char card[20];
    if (mz_phone_check(s, phone, NULL) == MZ_OK) {
        require(strlen(phone) == 11);
        require(mz_phone_check(phone, NULL, NULL) == MZ_OK);
    }
    if (mz_bankcard_check(s, card, NULL) == MZ_OK) {
        require(strlen(card) >= 12 && strlen(card) <= 19);
        require(mz_luhn_ok(card));
    }
    (void)mz_luhn_ok(s);
}

/* Money: an accepted amount formats and parses back to itself. */
static void fuzz_money(const char *s)
{
    int64_t fen = 0;
    if (mz_money_parse(s, &fen, NULL) == MZ_OK) {
        char out[32];
        int64_t again = 1;
        mz_money_format(fen, out, sizeof(out));
        require(mz_money_parse(out, &again, NULL) == MZ_OK);
        require(again == fen);
    }
}

/* Dates: an accepted date round-trips through day numbers. */
static void fuzz_dates(const char *s, const uint8_t *data, size_t size)
{
    if (mz_date_check(s, NULL) == MZ_OK) {
        char out[11];
        mz_days_to_date(mz_date_to_days(s), out);
        require(strcmp(out, s) == 0);
    }
    (void)mz_datetime_check(s, NULL);
    (void)mz_date_to_days(s);
    if (size >= sizeof(int64_t)) {
        int64_t days;
        char out[11];
        memcpy(&days, data, sizeof(days));
        mz_days_to_date(days, out);
        require(mz_date_check(out, NULL) == MZ_OK);
    }
}

/* Divisions: an accepted code is 12 digits with a level. */
static void fuzz_division(const char *s)
{
    char out[13];
    if (mz_division_check(s, out, NULL) == MZ_OK) {
        require(strlen(out) == 12);
        int level = mz_division_level(out);
        require(level >= 1 && level <= 5);
    }
    (void)mz_division_level(s);
    (void)mz_province_known(s);
}

/* Feed one input to every parser. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    fuzz_id(s);
    fuzz_uscc(s);
    fuzz_phone_card(s);
    fuzz_money(s);
    fuzz_dates(s, data, size);
    fuzz_division(s);
    if (mz_utf8_text_ok((const char *)data, size))
        require(mz_utf8_length((const char *)data, size) <= size);
    (void)mz_utf8_length((const char *)data, size);

    free(s);
    return 0;
}
