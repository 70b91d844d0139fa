/* json.h - JSON in and out, on jansson.
 *
 * Decoding rejects invalid UTF-8, NUL in strings, duplicate keys, integers
 * beyond 64 bits and trailing garbage; the caller gets a Chinese message and the
 * byte position. Integers stay exact int64 (money in fen depends on it).
 */
#ifndef MZ_JSON_H
#define MZ_JSON_H

#include <jansson.h>
#include "mz/base.h"

#define MZ_JSON_MAX_DEPTH 32

struct mz_json_error {
    int position;        /* byte offset, -1 when unknown */
    char message[160];   /* Chinese, for staff */
    char detail[160];    /* jansson's English text, for the log */
};

/* Parse len bytes; a new reference or NULL with err filled. Depth beyond
 * MZ_JSON_MAX_DEPTH is an error too. */
json_t *mz_json_parse(const char *data, size_t len, struct mz_json_error *err);

/* Serialise compactly (UTF-8, keys in insertion order) into a malloc'd string. */
char *mz_json_dump(const json_t *value, size_t *len);

/* Typed getters that tell "absent" from "wrong type". Return MZ_OK, MZ_ERR_NOTFOUND
 * when the key is missing or null, MZ_ERR_INVALID when of another type. */
int mz_json_get_int(const json_t *obj, const char *key, int64_t *out);
int mz_json_get_str(const json_t *obj, const char *key, const char **out);
int mz_json_get_bool(const json_t *obj, const char *key, bool *out);

/* Shorthand constructors that never fail (abort on OOM). */
json_t *mz_json_str(const char *s);            /* NULL s gives json null */
json_t *mz_json_strn(const char *s, size_t n); /* not NUL-terminated input */
json_t *mz_json_int(int64_t v);

#endif
