/* pinyin.h - Hanyu pinyin of personal names, for search and duplicates.
 *
 * Spellings are toneless lower-case ASCII with "v" for ü ("吕" -> "lv").
 * Han characters take their readings from the table generated at build time
 * from Debian's Unihan data (tools/gen_pinyin.c); ASCII letters and digits
 * are lower-cased and kept as they are; everything else (spaces, "·", other
 * scripts, characters without a reading, invalid UTF-8) is dropped. The
 * functions never fail and never read past the terminating NUL.
 *
 * Names are read as names: a surname at the start takes its surname reading
 * from a small hand-written table (单 shan, 曾 zeng, 解 xie, 尉迟 yuchi...),
 * so "单雄信" is "shanxiongxin", not "danxiongxin".
 */
#ifndef MZ_PINYIN_H
#define MZ_PINYIN_H

#include "mz/base.h"

/* At most this many spellings are produced for one text. */
#define MZ_PINYIN_MAX_SPELLINGS 8

/* Flags of mz_pinyin_spellings(). */
enum {
    MZ_PINYIN_NAME = 1 << 0, /* the text is a personal name: surname readings at its start */
};

/* The spellings of a text: full[0] and initials[0] use every character's most
 * common reading (the surname reading for a surname); the others replace one
 * polyphonic character's reading by an alternative, in text order, until
 * MZ_PINYIN_MAX_SPELLINGS. Both lists hold distinct strings (arena-owned);
 * both have at least one entry, possibly "" when nothing is spelled. */
struct mz_pinyin_set {
    size_t nfull;
    const char *full[MZ_PINYIN_MAX_SPELLINGS];      /* "shanxiongxin", "danxiongxin" */
    size_t ninitials;
    const char *initials[MZ_PINYIN_MAX_SPELLINGS];  /* "sxx", "dxx" */
};

/* Full pinyin of a name with the most common readings: "张三" -> "zhangsan". */
char *mz_pinyin_full(struct mz_arena *a, const char *utf8);
/* Initials of a name: "张三" -> "zs", "单雄信" -> "sxx". */
char *mz_pinyin_initials(struct mz_arena *a, const char *utf8);
/* Every spelling worth indexing (see struct mz_pinyin_set); flags: MZ_PINYIN_NAME. */
void mz_pinyin_spellings(struct mz_arena *a, const char *utf8, unsigned flags,
                         struct mz_pinyin_set *out);
/* Bytes of the surname at the start of a name: a compound surname of the
 * table ("欧阳", "尉迟"), else the first character if it is Han; 0 when the
 * name does not start with a Han character. */
size_t mz_pinyin_surname_length(const char *utf8);
/* Readings of one code point (toneless, most common first) into out; returns
 * how many (0 for a character without a reading). */
size_t mz_pinyin_char(uint32_t cp, const char *out[3]);

#endif
