/* hant.h - Simplified to Traditional Chinese through OpenCC (src/core/hant.c).
 *
 * Exports and printed documents can be asked for in Traditional Chinese
 * (`?script=hant`): text cells go through OpenCC's s2t conversion (phrase
 * level, so 发展 becomes 發展 and 头发 becomes 頭髮, not character by
 * character). The converter is opened once, on first use, from Debian's
 * OpenCC data (/usr/share/opencc/s2t.json, or MZ_OPENCC_CONFIG); conversions
 * are serialised by a mutex (OpenCC does not promise thread safety).
 */
#ifndef MZ_HANT_H
#define MZ_HANT_H

#include "mz/base.h"

/* Is the converter usable? (Opens it on first call.) */
bool mz_hant_ready(void);
/* Convert UTF-8 text to Traditional into the arena. On failure (no
 * converter) returns the input unchanged and MZ_ERR_NOTFOUND. */
int mz_hant(struct mz_arena *a, const char *in, const char **out);
/* Release the converter (tests, shutdown). */
void mz_hant_close(void);

#endif
