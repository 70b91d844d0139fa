/* pinyin_table.h - the generated per-character pinyin table (internal).
 *
 * build/gen/pinyin_table.c is written at build time by tools/gen_pinyin.c from
 * Debian's Unihan_Readings.txt; only src/registry/pinyin.c reads it. Code
 * points are sorted ascending; each has up to MZ_PINYIN_READINGS indexes into
 * mz_pinyin_syllables (toneless ASCII, "v" for ü), the most common reading
 * first, 0 for an unused slot.
 */
#ifndef MZ_PINYIN_TABLE_H
#define MZ_PINYIN_TABLE_H

#include <stdint.h>

#define MZ_PINYIN_READINGS 3

extern const unsigned mz_pinyin_syllable_count;
extern const char *const mz_pinyin_syllables[];
extern const unsigned mz_pinyin_count;
extern const uint32_t mz_pinyin_codepoints[];
extern const uint16_t mz_pinyin_readings[][MZ_PINYIN_READINGS];

#endif
