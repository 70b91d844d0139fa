/* mime.c - content types by file extension, and percent-decoding.
 *
 * Both are pure string functions with no state, shared by the dispatcher
 * (request paths), static files (Content-Type) and handlers (query values).
 * The type table is a short allow-list: anything not in it is served as
 * application/octet-stream, which browsers never execute or render inline as
 * script. Text types carry "; charset=utf-8" because every text file we ship
 * is UTF-8 and a missing charset lets old browsers guess. Tested in
 * tests/unit/test_request.c.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "mz/http.h"

/* One row of the extension table. */
struct mime_entry {
    const char *ext;  /* lowercase extension without the dot */
    const char *type; /* the Content-Type value to send */
};

/* Extensions we serve; everything else is application/octet-stream. */
static const struct mime_entry mime_table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json; charset=utf-8"},
    {"map", "application/json; charset=utf-8"},
    {"svg", "image/svg+xml; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"pdf", "application/pdf"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
};

/* Content type for path by the extension of its last segment (case-insensitive). */
const char *mz_mime_type(const char *path)
{
    const char *base;
    const char *dot;

    if (path == NULL)
        return "application/octet-stream";
    base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    if (dot == NULL || dot[1] == '\0')
        return "application/octet-stream";
    for (size_t i = 0; i < MZ_ARRAY_LEN(mime_table); i++) {
        if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
            return mime_table[i].type;
    }
    return "application/octet-stream";
}

/* Value of one hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode %XX (and '+' as a space when plus_is_space) in place. False when an
 * escape is malformed or decodes to NUL; s is then partly decoded and must not
 * be used. */
bool mz_url_decode(char *s, bool plus_is_space)
{
    char *out = s;

    for (const char *in = s; *in != '\0'; in++) {
        if (*in == '%') {
            int hi = hex_value(in[1]);
            int lo = hi < 0 ? -1 : hex_value(in[2]);
            if (hi < 0 || lo < 0)
                return false;
            if (hi == 0 && lo == 0)
                return false;
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else if (*in == '+' && plus_is_space) {
            *out++ = ' ';
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return true;
}
