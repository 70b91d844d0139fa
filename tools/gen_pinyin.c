/* gen_pinyin.c - build-time generator of the pinyin table from Unihan.
 *
 * Reads the decompressed Unihan_Readings.txt (Debian package unicode-data,
 * /usr/share/unicode/Unihan_Readings.txt.bz2) on stdin and writes C source on
 * stdout: a sorted table of code point -> up to MZ_PINYIN_READINGS toneless
 * readings (ASCII, ü written "v"), used by src/registry/pinyin.c. The table
 * is never typed by hand nor committed; the Makefile regenerates it into
 * build/gen/pinyin_table.c.
 *
 * Which readings, in which order (deduplicated once tones are removed):
 *   1. kMandarin: the most common reading first (the second value, when
 *      present, is the common alternative);
 *   2. kXHC1983 (现代汉语词典) and kTGHZ2013 (通用规范汉字字典): the modern
 *      dictionaries, which list the real alternatives of common polyphonic
 *      characters (单 dan/shan/chan, 曾 ceng/zeng, 解 jie/xie);
 *   3. kHanyuPinyin (汉语大字典) only for characters neither modern dictionary
 *      covers: it lists many classical readings nobody types for a common
 *      character (逐 "di", "tun"), but is often the only source for rare ones.
 *   4. a reading with "v" (lü, nü) also gets its "u" form (lu, nu) when there
 *      is room, since both are typed.
 * The syllables are interned into one sorted string table; each character
 * stores indexes into it (0 = none), which keeps the table near 400 KB.
 *
 * Unknown letters in a reading (a diacritic this program does not know) are
 * reported on stderr and the reading skipped; malformed lines are skipped.
 * Exit status 1 when no reading was found at all (wrong input).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CP 0x110000
#define READINGS 3        /* kept per character (MZ_PINYIN_READINGS) */
#define SOURCE_MAX 8      /* readings remembered per source and character */
#define SYLLABLE_MAX 16   /* bytes of a toneless syllable, with NUL */
#define SYLLABLES_CAP 4096

enum source { SRC_MANDARIN, SRC_XHC, SRC_TGHZ, SRC_HANYU, SRC_COUNT };

/* The readings one character has in each source, as syllable ids. */
struct entry {
    uint16_t ids[SRC_COUNT][SOURCE_MAX];
    uint8_t n[SRC_COUNT];
};

static struct entry *entries[MAX_CP];
static char syllables[SYLLABLES_CAP][SYLLABLE_MAX];
static int nsyllables = 1; /* id 0 is "none" */
static long unknown_letters;

/* The id of a syllable, interning it on first sight (linear: ~450 distinct). */
static int syllable_id(const char *s)
{
    for (int i = 1; i < nsyllables; i++) {
        if (strcmp(syllables[i], s) == 0)
            return i;
    }
    if (nsyllables == SYLLABLES_CAP) {
        fprintf(stderr, "gen_pinyin: too many distinct syllables\n");
        exit(1);
    }
    strcpy(syllables[nsyllables], s);
    return nsyllables++;
}

/* Decode one UTF-8 sequence at *p (advancing it); 0xFFFD on bad input. */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) {
        *p = s + 1;
        return 0xFFFD;
    }
    c = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + i;
            return 0xFFFD;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *p = s + n + 1;
    return c;
}

/* The base letter of a pinyin letter with its tone mark; 0 if unknown. */
static char base_letter(uint32_t c)
{
    static const struct {
        uint32_t cp;
        char base;
    } map[] = {
        {0xE0, 'a'},  {0xE1, 'a'},  {0x101, 'a'}, {0x1CE, 'a'}, {0xE8, 'e'},  {0xE9, 'e'},
        {0xEA, 'e'},  {0x113, 'e'}, {0x11B, 'e'}, {0x1EBF, 'e'}, {0x1EC1, 'e'}, {0xEC, 'i'},
        {0xED, 'i'},  {0x12B, 'i'}, {0x1D0, 'i'}, {0xF2, 'o'},  {0xF3, 'o'},  {0x14D, 'o'},
        {0x1D2, 'o'}, {0xF9, 'u'},  {0xFA, 'u'},  {0x16B, 'u'}, {0x1D4, 'u'}, {0xFC, 'v'},
        {0x1D6, 'v'}, {0x1D8, 'v'}, {0x1DA, 'v'}, {0x1DC, 'v'}, {0x144, 'n'}, {0x148, 'n'},
        {0x1F9, 'n'}, {0x1E3F, 'm'},
    };
    if (c >= 'a' && c <= 'z')
        return (char)c;
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].cp == c)
            return map[i].base;
    }
    return 0;
}

/* Reduce one reading ("zhāng", "lǜ", "ê̄") to toneless ASCII into out;
 * false when empty, too long or holding an unknown letter. */
static bool toneless(const char *reading, size_t len, char out[SYLLABLE_MAX])
{
    const unsigned char *p = (const unsigned char *)reading, *end = p + len;
    size_t n = 0;
    while (p < end) {
        uint32_t c = next_cp(&p);
        if (c >= 0x300 && c <= 0x36F) /* combining tone marks */
            continue;
        char b = base_letter(c);
        if (b == 0) {
            unknown_letters++;
            fprintf(stderr, "gen_pinyin: unknown letter U+%04X in \"%.*s\", reading skipped\n",
                    (unsigned)c, (int)len, reading);
            return false;
        }
        if (n + 1 >= SYLLABLE_MAX)
            return false;
        out[n++] = b;
    }
    out[n] = '\0';
    return n > 0;
}

/* Remember one reading of a character from a source (duplicates ignored). */
static void add_reading(uint32_t cp, enum source src, const char *reading, size_t len)
{
    char syl[SYLLABLE_MAX];
    if (!toneless(reading, len, syl))
        return;
    if (entries[cp] == NULL) {
        entries[cp] = calloc(1, sizeof(struct entry));
        if (entries[cp] == NULL) {
            fprintf(stderr, "gen_pinyin: out of memory\n");
            exit(1);
        }
    }
    struct entry *e = entries[cp];
    uint16_t id = (uint16_t)syllable_id(syl);
    for (int i = 0; i < e->n[src]; i++) {
        if (e->ids[src][i] == id)
            return;
    }
    if (e->n[src] < SOURCE_MAX)
        e->ids[src][e->n[src]++] = id;
}

/* Split a field value into readings. kMandarin: "wàn mò". The dictionary
 * fields: space-separated "page.pos[,page.pos][*]:reading[,reading]". */
static void parse_value(uint32_t cp, enum source src, char *value)
{
    char *save = NULL;
    for (char *item = strtok_r(value, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
        char *readings = item;
        if (src != SRC_MANDARIN) {
            char *colon = strrchr(item, ':');
            if (colon == NULL)
                continue;
            readings = colon + 1;
        }
        char *save2 = NULL;
        for (char *r = strtok_r(readings, ",", &save2); r; r = strtok_r(NULL, ",", &save2))
            add_reading(cp, src, r, strlen(r));
    }
}

/* Parse one line "U+4E07<TAB>kMandarin<TAB>wàn mò". */
static void parse_line(char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (strncmp(line, "U+", 2) != 0)
        return;
    char *end;
    unsigned long cp = strtoul(line + 2, &end, 16);
    if (*end != '\t' || cp >= MAX_CP)
        return;
    char *field = end + 1, *tab = strchr(field, '\t');
    if (tab == NULL)
        return;
    *tab = '\0';
    enum source src;
    if (strcmp(field, "kMandarin") == 0)
        src = SRC_MANDARIN;
    else if (strcmp(field, "kXHC1983") == 0)
        src = SRC_XHC;
    else if (strcmp(field, "kTGHZ2013") == 0)
        src = SRC_TGHZ;
    else if (strcmp(field, "kHanyuPinyin") == 0)
        src = SRC_HANYU;
    else
        return;
    parse_value((uint32_t)cp, src, tab + 1);
}

/* Append id to the final list unless present or full. */
static void take(uint16_t *out, int *n, uint16_t id)
{
    for (int i = 0; i < *n; i++) {
        if (out[i] == id)
            return;
    }
    if (*n < READINGS)
        out[(*n)++] = id;
}

/* The final readings of a character in the order described at the top. */
static int final_readings(const struct entry *e, uint16_t out[READINGS])
{
    int n = 0;
    for (int i = 0; i < e->n[SRC_MANDARIN]; i++)
        take(out, &n, e->ids[SRC_MANDARIN][i]);
    for (int i = 0; i < e->n[SRC_XHC]; i++)
        take(out, &n, e->ids[SRC_XHC][i]);
    for (int i = 0; i < e->n[SRC_TGHZ]; i++)
        take(out, &n, e->ids[SRC_TGHZ][i]);
    if (e->n[SRC_XHC] == 0 && e->n[SRC_TGHZ] == 0) {
        for (int i = 0; i < e->n[SRC_HANYU]; i++)
            take(out, &n, e->ids[SRC_HANYU][i]);
    }
    for (int i = 0, m = n; i < m; i++) {
        const char *v = strchr(syllables[out[i]], 'v');
        if (v) {
            char u[SYLLABLE_MAX];
            strcpy(u, syllables[out[i]]);
            u[v - syllables[out[i]]] = 'u';
            take(out, &n, (uint16_t)syllable_id(u));
        }
    }
    return n;
}

/* qsort comparator for syllable ids by their text. */
static int by_text(const void *a, const void *b)
{
    return strcmp(syllables[*(const int *)a], syllables[*(const int *)b]);
}

int main(void)
{
    char line[8192];
    while (fgets(line, sizeof(line), stdin))
        parse_line(line);

    /* Final readings first: the "u" forms may intern new syllables. */
    static uint16_t final[MAX_CP][READINGS];
    static uint8_t nfinal[MAX_CP];
    long count = 0;
    for (uint32_t cp = 0; cp < MAX_CP; cp++) {
        if (entries[cp]) {
            nfinal[cp] = (uint8_t)final_readings(entries[cp], final[cp]);
            count += nfinal[cp] > 0;
        }
    }
    if (count == 0) {
        fprintf(stderr, "gen_pinyin: no readings found on stdin (expected Unihan_Readings.txt)\n");
        return 1;
    }
    /* Sort the syllables so the output does not depend on input order. */
    static int order[SYLLABLES_CAP], rank[SYLLABLES_CAP];
    for (int i = 0; i < nsyllables - 1; i++)
        order[i] = i + 1;
    qsort(order, (size_t)nsyllables - 1, sizeof(int), by_text);
    for (int i = 0; i < nsyllables - 1; i++)
        rank[order[i]] = i + 1;

    printf("/* pinyin_table.c - GENERATED by tools/gen_pinyin.c from Unihan_Readings.txt\n"
           " * (Debian unicode-data). Do not edit, do not commit: `make` rebuilds it. */\n"
           "#include \"registry/pinyin_table.h\"\n\n");
    printf("const unsigned mz_pinyin_syllable_count = %d;\n", nsyllables);
    printf("const char *const mz_pinyin_syllables[%d] = {\n    \"\",", nsyllables);
    for (int i = 0; i < nsyllables - 1; i++)
        printf("%s\"%s\",", i % 10 == 9 ? "\n    " : " ", syllables[order[i]]);
    printf("\n};\n\n");
    printf("const unsigned mz_pinyin_count = %ld;\n", count);
    printf("const uint32_t mz_pinyin_codepoints[%ld] = {\n", count);
    long k = 0;
    for (uint32_t cp = 0; cp < MAX_CP; cp++) {
        if (nfinal[cp])
            printf("%s0x%X,", k++ % 10 == 0 ? "\n    " : " ", (unsigned)cp);
    }
    printf("\n};\n\n");
    printf("const uint16_t mz_pinyin_readings[%ld][MZ_PINYIN_READINGS] = {\n", count);
    k = 0;
    for (uint32_t cp = 0; cp < MAX_CP; cp++) {
        if (nfinal[cp] == 0)
            continue;
        printf("%s{", k++ % 6 == 0 ? "\n    " : " ");
        for (int i = 0; i < READINGS; i++)
            printf("%s%d", i ? ", " : "", i < nfinal[cp] ? rank[final[cp][i]] : 0);
        printf("},");
    }
    printf("\n};\n");
    for (uint32_t cp = 0; cp < MAX_CP; cp++)
        free(entries[cp]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gen_pinyin: write failed\n");
        return 1;
    }
    fprintf(stderr, "gen_pinyin: %ld characters, %d syllables, %ld unknown letters\n", count,
            nsyllables - 1, unknown_letters);
    return 0;
}
