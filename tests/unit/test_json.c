/* test_json.c - unit tests of src/core/json.c.
 *
 * What the strict decoder must refuse (duplicate keys, invalid UTF-8, "\u0000",
 * integers past int64, nesting deeper than 32, trailing garbage) with a
 * Chinese message, what it must keep exact (int64 limits), and the typed
 * getters' distinction between "absent" (or null) and "of another type".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mz/json.h"

/* Parse a NUL-terminated text. */
static json_t *parse(const char *text, struct mz_json_error *err)
{
    return mz_json_parse(text, strlen(text), err);
}

/* Expect text to be refused with a message that mentions part. */
static void expect_refused(const char *text, size_t len, const char *part)
{
    struct mz_json_error err;
    json_t *v = mz_json_parse(text, len, &err);
    if (v != NULL) {
        json_decref(v);
        fail_msg("accepted: %.*s", (int)len, text);
    }
    assert_true(err.message[0] != '\0');
    if (strstr(err.message, part) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", err.message, part);
}

/* Duplicate keys, at any depth, are refused. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_refused("{\"a\":1,\"a\":2}", 13, "重复");
    expect_refused("{\"x\":{\"b\":true,\"b\":true}}", 25, "重复");
    expect_refused("[{\"k\":1,\"k\":1}]", 15, "重复");
}

/* Invalid UTF-8 in strings and keys is refused. (jansson reports it as
 * "unable to decode byte", so the message is the generic one.) */
static void test_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "[\"\xff\"]",         /* not UTF-8 at all */
        "[\"\xc3\x28\"]",     /* bad continuation */
        "[\"\xc0\xaf\"]",     /* overlong '/' */
        "[\"\xed\xa0\x80\"]", /* encoded surrogate */
        "{\"\xe4\xb8\":1}",   /* truncated key */
    };
    (void)state;
    for (size_t i = 0; i < MZ_ARRAY_LEN(bad); i++)
        expect_refused(bad[i], strlen(bad[i]), "UTF-8");
}

/* "\u0000" (and a raw NUL byte) never reaches a C string. */
static void test_nul_refused(void **state)
{
    struct mz_json_error err;
    (void)state;
    assert_null(parse("[\"a\\u0000b\"]", &err));
    assert_null(parse("{\"\\u0000\":1}", &err));
    expect_refused("[\"a\0b\"]", 7, "JSON");
}

/* int64 limits survive exactly; one past them is refused. */
static void test_int64_limits(void **state)
{
    struct mz_json_error err;
    json_t *v = parse("[9223372036854775807,-9223372036854775808,0,-1]", &err);
    (void)state;
    assert_non_null(v);
    assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
    assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
    char *dumped = mz_json_dump(v, NULL);
    assert_string_equal(dumped, "[9223372036854775807,-9223372036854775808,0,-1]");
    free(dumped);
    json_decref(v);
    expect_refused("[9223372036854775808]", 21, "64");  /* 2^63 */
    expect_refused("[-9223372036854775809]", 22, "64"); /* -2^63 - 1 */
    expect_refused("{\"fen\":18446744073709551616}", 28, "64");
}

/* Depth 32 is fine, 33 is refused, also far deeper (no stack exhaustion). */
static void test_depth(void **state)
{
    char text[200001];
    struct mz_json_error err;
    json_t *v;
    (void)state;
    for (int depth = 31; depth <= 33; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++)
            text[n++] = '[';
        for (int i = 0; i < depth; i++)
            text[n++] = ']';
        v = mz_json_parse(text, (size_t)n, &err);
        if (depth <= 32) {
            assert_non_null(v);
            json_decref(v);
        } else {
            assert_null(v);
            assert_non_null(strstr(err.message, "32"));
        }
    }
    /* Objects count too: {"a":{"a":...}} 33 deep. */
    {
        struct mz_buf buf;
        mz_buf_init(&buf, 0);
        for (int i = 0; i < 33; i++)
            mz_buf_puts(&buf, "{\"a\":");
        mz_buf_puts(&buf, "1");
        for (int i = 0; i < 33; i++)
            mz_buf_puts(&buf, "}");
        assert_null(mz_json_parse(buf.data, buf.len, &err));
        mz_buf_free(&buf);
    }
    memset(text, '[', 200000);
    assert_null(mz_json_parse(text, 200000, &err));
    /* Brackets inside strings do not count. */
    v = parse("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]", &err);
    assert_non_null(v);
    json_decref(v);
}

/* Anything after the value, other than white space, is refused. */
static void test_trailing_garbage(void **state)
{
    struct mz_json_error err;
    json_t *v;
    (void)state;
    expect_refused("{} x", 4, "JSON");
    expect_refused("{}{}", 4, "JSON");
    expect_refused("[1] 2", 5, "JSON");
    expect_refused("", 0, "JSON");
    expect_refused("{\"a\":1,}", 8, "JSON");
    v = parse(" {\"a\":1} \n\t", &err);
    assert_non_null(v);
    json_decref(v);
    /* Position of the error is reported. */
    assert_null(parse("{\"a\":tru}", &err));
    assert_true(err.position >= 0);
    assert_true(err.detail[0] != '\0');
}

/* Getters tell absent (or null) from wrong type. */
static void test_getters(void **state)
{
    struct mz_json_error err;
    json_t *o = parse(
        "{\"n\":5,\"s\":\"民政\",\"b\":false,\"z\":null,\"r\":1.5,\"big\":-9223372036854775808}",
        &err);
    int64_t n = 0;
    const char *s = NULL;
    bool b = true;
    (void)state;
    assert_non_null(o);
    assert_int_equal(mz_json_get_int(o, "n", &n), MZ_OK);
    assert_int_equal(n, 5);
    assert_int_equal(mz_json_get_int(o, "big", &n), MZ_OK);
    assert_true(n == INT64_MIN);
    assert_int_equal(mz_json_get_int(o, "missing", &n), MZ_ERR_NOTFOUND);
    assert_int_equal(mz_json_get_int(o, "z", &n), MZ_ERR_NOTFOUND);
    assert_int_equal(mz_json_get_int(o, "s", &n), MZ_ERR_INVALID);
    assert_int_equal(mz_json_get_int(o, "r", &n), MZ_ERR_INVALID); /* no silent truncation */
    assert_int_equal(mz_json_get_str(o, "s", &s), MZ_OK);
    assert_string_equal(s, "民政");
    assert_int_equal(mz_json_get_str(o, "z", &s), MZ_ERR_NOTFOUND);
    assert_int_equal(mz_json_get_str(o, "n", &s), MZ_ERR_INVALID);
    assert_int_equal(mz_json_get_bool(o, "b", &b), MZ_OK);
    assert_false(b);
    assert_int_equal(mz_json_get_bool(o, "n", &b), MZ_ERR_INVALID);
    assert_int_equal(mz_json_get_bool(o, "nope", &b), MZ_ERR_NOTFOUND);
    json_decref(o);
}

/* Constructors and compact UTF-8 dumps. */
static void test_constructors(void **state)
{
    json_t *o = json_object();
    char *text;
    size_t len = 0;
    (void)state;
    json_object_set_new(o, "s", mz_json_str("低保"));
    json_object_set_new(o, "null", mz_json_str(NULL));
    json_object_set_new(o, "n", mz_json_strn("abcdef", 2));
    json_object_set_new(o, "i", mz_json_int(INT64_MAX));
    text = mz_json_dump(o, &len);
    assert_string_equal(text,
                        "{\"s\":\"低保\",\"null\":null,\"n\":\"ab\",\"i\":9223372036854775807}");
    assert_int_equal(len, strlen(text));
    free(text);
    json_decref(o);
}

/* A string that is not valid UTF-8 (text another program wrote into the
 * database) becomes a valid one with U+FFFD for each bad byte, so that it
 * dumps instead of aborting the process in mz_json_dump. */
static void test_constructors_repair_utf8(void **state)
{
    json_t *o = json_object();
    char *text;
    (void)state;
    json_object_set_new(o, "a", mz_json_strn("A\xC3", 2));          /* cut sequence */
    json_object_set_new(o, "b", mz_json_str("\xFF\xFE低保\xC0\xAF")); /* bytes never valid, overlong */
    json_object_set_new(o, "c", mz_json_strn("x\xED\xA0\x80y", 5)); /* a surrogate */
    text = mz_json_dump(o, NULL);
    assert_string_equal(text, "{\"a\":\"A\xEF\xBF\xBD\",\"b\":\"\xEF\xBF\xBD\xEF\xBF\xBD低保\xEF\xBF\xBD\xEF"
                              "\xBF\xBD\",\"c\":\"x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy\"}");
    free(text);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_keys), cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_refused),    cmocka_unit_test(test_int64_limits),
        cmocka_unit_test(test_depth),          cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_getters),        cmocka_unit_test(test_constructors),
        cmocka_unit_test(test_constructors_repair_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
