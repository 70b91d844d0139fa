/* fuzz_pinyin.c - libFuzzer target for the pinyin of names (src/registry/pinyin.c).
 *
 * The input is copied into a NUL-terminated heap buffer of exactly its size
 * (so ASan sees any read past the terminator) and spelled with and without
 * the name flag. Besides "no crash, no UB", it checks what callers rely on:
 * at least one spelling, at most MZ_PINYIN_MAX_SPELLINGS, all distinct and
 * made of [a-z0-9] only; initials never longer than the full spelling; the
 * surname length within the text.
 *
 * Build: make build/fuzz/fuzz_pinyin. Seeds: tests/fuzz/corpus/pinyin/.
 */
#include <stdlib.h>
#include <string.h>

#include "mz/pinyin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding for libFuzzer) unless cond holds. */
static void require(bool cond)
{
    if (!cond)
        abort();
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

/* A list of spellings is non-empty, capped, distinct and plain. */
static void check_list(const char *const *list, size_t n)
{
    require(n >= 1 && n <= MZ_PINYIN_MAX_SPELLINGS);
    for (size_t i = 0; i < n; i++) {
        require(list[i] != NULL && plain(list[i]));
        for (size_t j = i + 1; j < n; j++)
            require(strcmp(list[i], list[j]) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct mz_arena *a = mz_arena_new();
    for (unsigned flags = 0; flags <= MZ_PINYIN_NAME; flags += MZ_PINYIN_NAME) {
        struct mz_pinyin_set set;
        mz_pinyin_spellings(a, s, flags, &set);
        check_list(set.full, set.nfull);
        check_list(set.initials, set.ninitials);
        require(strlen(set.initials[0]) <= strlen(set.full[0]));
    }
    char *full = mz_pinyin_full(a, s), *initials = mz_pinyin_initials(a, s);
    require(plain(full) && plain(initials));
    require(mz_pinyin_surname_length(s) <= strlen(s));
    mz_arena_free(a);
    free(s);
    return 0;
}
