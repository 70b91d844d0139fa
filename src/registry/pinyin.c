/* pinyin.c - pinyin spellings of personal names.
 *
 * What it owns: turning a name into the spellings staff type to find it
 * ("zhangsan", "zs" for 张三), for the person search index (search.c) and the
 * duplicate finder. The per-character readings come from the table generated
 * at build time (build/gen/pinyin_table.c, see tools/gen_pinyin.c and
 * pinyin_table.h): code points sorted, found by binary search. The one piece
 * of hand-written data here is the surname table: surnames whose reading
 * differs from the character's most common one (单 shan, not dan) and
 * compound surnames (欧阳, 尉迟 yuchi), which also tell where the given name
 * starts.
 *
 * How: the text is cut into units (one Han character with its readings, or
 * one ASCII letter/digit); everything else is dropped, and invalid UTF-8 is
 * skipped a byte at a time. The first spelling takes every unit's first
 * reading; the others change one unit's reading at a time, in text order,
 * until MZ_PINYIN_MAX_SPELLINGS distinct spellings. Changing one reading at
 * a time is enough for names (two misread characters in one name are rare)
 * and keeps the count linear in the length instead of exponential.
 *
 * Invariants: output is [a-z0-9]* only; nothing is read past the NUL; the
 * result depends only on the text and the generated table. Tested by
 * tests/unit/test_pinyin.c and fuzzed by tests/fuzz/fuzz_pinyin.c.
 */
#include <string.h>

#include "mz/pinyin.h"
#include "registry/pinyin_table.h"

/* A surname read specially at the start of a name: its characters (UTF-8)
 * and the reading of each (one or two characters). */
struct surname {
    const char *han;
    const char *reading[2];
};

/* Domain data, written by hand: polyphonic single surnames and compound
 * surnames (the compound ones mark where the given name starts). */
static const struct surname surnames[] = {
    /* compound surnames */
    {"尉迟", {"yu", "chi"}},     {"万俟", {"mo", "qi"}},       {"长孙", {"zhang", "sun"}},
    {"令狐", {"ling", "hu"}},    {"欧阳", {"ou", "yang"}},     {"司马", {"si", "ma"}},
    {"诸葛", {"zhu", "ge"}},     {"上官", {"shang", "guan"}},  {"东方", {"dong", "fang"}},
    {"皇甫", {"huang", "fu"}},   {"公孙", {"gong", "sun"}},    {"慕容", {"mu", "rong"}},
    {"司徒", {"si", "tu"}},      {"夏侯", {"xia", "hou"}},     {"宇文", {"yu", "wen"}},
    {"澹台", {"tan", "tai"}},    {"端木", {"duan", "mu"}},     {"呼延", {"hu", "yan"}},
    {"轩辕", {"xuan", "yuan"}},  {"独孤", {"du", "gu"}},       {"南宫", {"nan", "gong"}},
    {"西门", {"xi", "men"}},     {"司空", {"si", "kong"}},     {"申屠", {"shen", "tu"}},
    {"闻人", {"wen", "ren"}},    {"赫连", {"he", "lian"}},     {"淳于", {"chun", "yu"}},
    {"钟离", {"zhong", "li"}},   {"鲜于", {"xian", "yu"}},     {"拓跋", {"tuo", "ba"}},
    {"公冶", {"gong", "ye"}},    {"宗政", {"zong", "zheng"}},  {"濮阳", {"pu", "yang"}},
    {"太史", {"tai", "shi"}},    {"左丘", {"zuo", "qiu"}},     {"乐正", {"yue", "zheng"}},
    /* polyphonic single surnames */
    {"单", {"shan"}}, {"曾", {"zeng"}}, {"解", {"xie"}},  {"仇", {"qiu"}},  {"区", {"ou"}},
    {"查", {"zha"}},  {"朴", {"piao"}}, {"盖", {"ge"}},   {"乐", {"yue"}},  {"繁", {"po"}},
    {"覃", {"qin"}},  {"冼", {"xian"}}, {"黑", {"he"}},   {"种", {"chong"}}, {"秘", {"bi"}},
    {"员", {"yun"}},  {"过", {"guo"}},  {"缪", {"miao"}}, {"翟", {"zhai"}}, {"召", {"shao"}},
    {"句", {"gou"}},  {"隗", {"wei"}},  {"眭", {"sui"}},  {"折", {"she"}},  {"厍", {"she"}},
    {"宓", {"fu"}},   {"乜", {"nie"}},  {"洗", {"xian"}}, {"能", {"nai"}},  {"蕃", {"pi"}},
    {"长", {"chang"}}, {"重", {"chong"}}, {"尉", {"wei"}}, {"莘", {"shen"}}, {"訾", {"zi"}},
};

#define UNIT_READINGS (MZ_PINYIN_READINGS + 1) /* a surname reading, then the character's */

/* One spelled piece of the text: a Han character's readings (most likely
 * first), or an ASCII letter/digit (ascii != 0, no readings). */
struct unit {
    const char *reading[UNIT_READINGS];
    int nreadings;
    char ascii;
};

/* Decode one UTF-8 character at s (s[0] != 0) into *cp; returns its length,
 * or 0 when the bytes are not valid UTF-8 (overlong, surrogate, truncated:
 * a NUL is never a continuation byte, so reading stops at the end). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t n;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

size_t mz_pinyin_char(uint32_t cp, const char *out[3])
{
    size_t lo = 0, hi = mz_pinyin_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mz_pinyin_codepoints[mid] < cp) {
            lo = mid + 1;
        } else if (mz_pinyin_codepoints[mid] > cp) {
            hi = mid;
        } else {
            size_t n = 0;
            for (int i = 0; i < MZ_PINYIN_READINGS; i++) {
                uint16_t id = mz_pinyin_readings[mid][i];
                if (id != 0 && id < mz_pinyin_syllable_count)
                    out[n++] = mz_pinyin_syllables[id];
            }
            return n;
        }
    }
    return 0;
}

/* The surname-table entry the text starts with (longest first), or NULL. */
static const struct surname *surname_at(const char *s)
{
    const struct surname *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < MZ_ARRAY_LEN(surnames); i++) {
        size_t len = strlen(surnames[i].han);
        if (len > best_len && strncmp(s, surnames[i].han, len) == 0) {
            best = &surnames[i];
            best_len = len;
        }
    }
    return best;
}

size_t mz_pinyin_surname_length(const char *utf8)
{
    const struct surname *sn = surname_at(utf8);
    const char *r[3];
    uint32_t cp;
    size_t len;
    if (sn)
        return strlen(sn->han);
    if (utf8[0] == '\0')
        return 0;
    len = utf8_decode((const unsigned char *)utf8, &cp);
    return len > 1 && mz_pinyin_char(cp, r) > 0 ? len : 0;
}

/* Add a reading to a unit unless present or the unit is full. */
static void unit_add(struct unit *u, const char *reading)
{
    for (int i = 0; i < u->nreadings; i++) {
        if (strcmp(u->reading[i], reading) == 0)
            return;
    }
    if (u->nreadings < UNIT_READINGS)
        u->reading[u->nreadings++] = reading;
}

/* Cut the text into units (see the top of the file); returns how many.
 * units must have room for strlen(utf8) entries. */
static size_t cut_units(const char *utf8, unsigned flags, struct unit *units)
{
    const unsigned char *s = (const unsigned char *)utf8;
    const struct surname *sn = (flags & MZ_PINYIN_NAME) ? surname_at(utf8) : NULL;
    size_t n = 0, sn_chars = 0;
    while (*s) {
        uint32_t cp;
        size_t len = utf8_decode(s, &cp);
        if (len == 0) {
            s++;
            continue;
        }
        s += len;
        struct unit *u = &units[n];
        memset(u, 0, sizeof(*u));
        if (cp < 0x80) {
            if (cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
            if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
                u->ascii = (char)cp;
                n++;
            }
            continue;
        }
        const char *own[3];
        size_t nown = mz_pinyin_char(cp, own);
        /* The surname's characters are the first units of a name. */
        if (sn && sn_chars < 2 && n == sn_chars && sn->reading[sn_chars])
            unit_add(u, sn->reading[sn_chars++]);
        for (size_t i = 0; i < nown; i++)
            unit_add(u, own[i]);
        if (u->nreadings > 0)
            n++;
    }
    return n;
}

/* Write one spelling: unit i reads its reading `alt`, the others their first.
 * full and initials have room for 7 bytes per unit plus the NUL. */
static void spell(const struct unit *units, size_t n, size_t i, int alt, char *full,
                  char *initials)
{
    char *f = full, *in = initials;
    for (size_t k = 0; k < n; k++) {
        if (units[k].ascii) {
            *f++ = units[k].ascii;
            *in++ = units[k].ascii;
            continue;
        }
        const char *r = units[k].reading[k == i ? alt : 0];
        size_t len = strlen(r);
        memcpy(f, r, len);
        f += len;
        *in++ = r[0];
    }
    *f = '\0';
    *in = '\0';
}

/* Add s to list unless present; the list has MZ_PINYIN_MAX_SPELLINGS slots. */
static void add_distinct(struct mz_arena *a, const char **list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(list[i], s) == 0)
            return;
    }
    if (*n < MZ_PINYIN_MAX_SPELLINGS)
        list[(*n)++] = mz_arena_strdup(a, s);
}

void mz_pinyin_spellings(struct mz_arena *a, const char *utf8, unsigned flags,
                         struct mz_pinyin_set *out)
{
    size_t bytes = strlen(utf8);
    struct unit *units = mz_arena_alloc(a, (bytes + 1) * sizeof(*units));
    size_t n = cut_units(utf8, flags, units);
    /* No syllable is longer than 6 letters ("zhuang"); 7 leaves room. */
    char *full = mz_arena_alloc(a, n * 7 + 1), *initials = mz_arena_alloc(a, n + 1);

    memset(out, 0, sizeof(*out));
    spell(units, n, 0, 0, full, initials);
    add_distinct(a, out->full, &out->nfull, full);
    add_distinct(a, out->initials, &out->ninitials, initials);
    for (size_t i = 0; i < n && out->nfull < MZ_PINYIN_MAX_SPELLINGS; i++) {
        for (int alt = 1; alt < units[i].nreadings; alt++) {
            spell(units, n, i, alt, full, initials);
            add_distinct(a, out->full, &out->nfull, full);
            add_distinct(a, out->initials, &out->ninitials, initials);
        }
    }
}

char *mz_pinyin_full(struct mz_arena *a, const char *utf8)
{
    struct mz_pinyin_set set;
    mz_pinyin_spellings(a, utf8, MZ_PINYIN_NAME, &set);
    return (char *)set.full[0];
}

char *mz_pinyin_initials(struct mz_arena *a, const char *utf8)
{
    struct mz_pinyin_set set;
    mz_pinyin_spellings(a, utf8, MZ_PINYIN_NAME, &set);
    return (char *)set.initials[0];
}
