/* json.c - strict JSON decoding and small helpers over jansson.
 *
 * jansson already rejects invalid UTF-8, "\u0000" (without JSON_ALLOW_NUL) and
 * integers that overflow json_int_t (int64); we add duplicate-key rejection,
 * a depth limit, and Chinese messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/json.h"
#include "mz/validate.h"

static int depth_ok(const json_t *v, int depth)
{
    if (depth > MZ_JSON_MAX_DEPTH)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!depth_ok(x, depth + 1))
                return 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (!depth_ok(x, depth + 1))
                return 0;
        }
    }
    return 1;
}

/* Quick pre-scan so a deeply nested body cannot exhaust the parser's stack. */
static int nesting_ok(const char *data, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > MZ_JSON_MAX_DEPTH + 1)
                return 0;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

json_t *mz_json_parse(const char *data, size_t len, struct mz_json_error *err)
{
    json_error_t je;
    err->position = -1;
    err->message[0] = err->detail[0] = '\0';
    if (!nesting_ok(data, len)) {
        snprintf(err->message, sizeof(err->message), "JSON 嵌套层数超过 %d 层", MZ_JSON_MAX_DEPTH);
        snprintf(err->detail, sizeof(err->detail), "nesting deeper than %d", MZ_JSON_MAX_DEPTH);
        return NULL;
    }
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL) {
        err->position = je.position;
        snprintf(err->detail, sizeof(err->detail), "%s", je.text);
        const char *what = "请求内容不是有效的 JSON";
        if (strstr(je.text, "duplicate"))
            what = "JSON 中有重复的字段名";
        else if (strstr(je.text, "UTF-8") || strstr(je.text, "utf-8") || strstr(je.text, "decode byte"))
            what = "请求内容含有无效的 UTF-8 编码";
        else if (strstr(je.text, "too big"))
            what = "整数超出 64 位范围";
        else if (strstr(je.text, "\\u0000") || strstr(je.text, "NUL"))
            what = "字符串中不允许出现空字符";
        snprintf(err->message, sizeof(err->message), "%s（第 %d 个字节附近）", what, je.position);
        return NULL;
    }
    if (!depth_ok(v, 1)) {
        json_decref(v);
        snprintf(err->message, sizeof(err->message), "JSON 嵌套层数超过 %d 层", MZ_JSON_MAX_DEPTH);
        snprintf(err->detail, sizeof(err->detail), "nesting deeper than %d", MZ_JSON_MAX_DEPTH);
        return NULL;
    }
    return v;
}

char *mz_json_dump(const json_t *value, size_t *len)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        fprintf(stderr, "json dump failed\n");
        abort();
    }
    if (len)
        *len = strlen(s);
    return s;
}

int mz_json_get_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return MZ_ERR_NOTFOUND;
    if (!json_is_integer(v))
        return MZ_ERR_INVALID;
    *out = json_integer_value(v);
    return MZ_OK;
}

int mz_json_get_str(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return MZ_ERR_NOTFOUND;
    if (!json_is_string(v))
        return MZ_ERR_INVALID;
    *out = json_string_value(v);
    return MZ_OK;
}

int mz_json_get_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return MZ_ERR_NOTFOUND;
    if (!json_is_boolean(v))
        return MZ_ERR_INVALID;
    *out = json_is_true(v);
    return MZ_OK;
}

/* A string of s with each byte that does not start a valid UTF-8 sequence
 * replaced by U+FFFD. Text from the database that something other than this
 * program wrote may hold such bytes; jansson cannot dump a string holding
 * them (mz_json_dump would abort: a GET of that row took the server down). */
static json_t *repaired_string(const char *s, size_t n)
{
    struct mz_buf b;
    json_t *v;

    mz_buf_init(&b, 0);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = mz_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0) {
            mz_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            mz_buf_append(&b, s + i, len);
            i += len;
        }
    }
    v = json_stringn(b.data != NULL ? b.data : "", b.len);
    mz_buf_free(&b);
    return v;
}

json_t *mz_json_str(const char *s)
{
    if (s == NULL)
        return json_null();
    return mz_json_strn(s, strlen(s));
}

json_t *mz_json_strn(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    return v != NULL ? v : repaired_string(s, n);
}

json_t *mz_json_int(int64_t v)
{
    return json_integer((json_int_t)v);
}
