/* fuzz_json.c - libFuzzer target for mz_json_parse (src/core/json.c).
 *
 * The input is copied into a heap buffer of exactly its size (no terminator,
 * so ASan sees any read past the end) and parsed. Besides "no crash, no UB,
 * no leak" it checks what callers rely on: a refusal always carries a
 * message; an accepted value dumps to text that parses again (the dump is
 * valid, strict JSON: no NUL, valid UTF-8, no duplicate keys, depth within
 * the limit) to an equal value, and dumping that again gives the same bytes.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude
 *        tests/fuzz/fuzz_json.c src/core/json.c src/core/base.c -ljansson
 * Replay without libFuzzer (for make test):
 *        cc -DMZ_FUZZ_REPLAY ... && ./fuzz_json tests/fuzz/corpus/json/...
 * Seeds: tests/fuzz/corpus/json/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a finding for libFuzzer) unless cond holds. */
static void require(bool cond)
{
    if (!cond)
        abort();
}

/* Parse, and check the invariants of the file comment. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mz_json_error err;
    char *copy = malloc(size ? size : 1);
    json_t *value;
    json_t *again;
    char *text;
    char *text2;
    size_t len;
    size_t len2;

    memcpy(copy, data, size);
    value = mz_json_parse(copy, size, &err);
    free(copy);
    if (value == NULL) {
        require(err.message[0] != '\0');
        return 0;
    }
    text = mz_json_dump(value, &len);
    require(strlen(text) == len);
    again = mz_json_parse(text, len, &err);
    require(again != NULL);
    require(json_equal(value, again));
    text2 = mz_json_dump(again, &len2);
    require(len == len2 && memcmp(text, text2, len) == 0);
    free(text2);
    free(text);
    json_decref(again);
    json_decref(value);
    return 0;
}

#ifdef MZ_FUZZ_REPLAY
/* Run the target once on each file named on the command line. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        struct mz_buf buf;
        char chunk[4096];
        size_t n;
        if (f == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        mz_buf_init(&buf, 0);
        for (;;) {
            n = fread(chunk, 1, sizeof(chunk), f);
            if (n == 0)
                break;
            mz_buf_append(&buf, chunk, n);
        }
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *)buf.data, buf.len);
        mz_buf_free(&buf);
    }
    printf("fuzz_json: %d inputs replayed\n", argc - 1);
    return 0;
}
#endif
