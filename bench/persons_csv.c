/* persons_csv.c - a synthetic persons CSV for the import benchmark (make bench).
 *
 *   persons_csv COUNT DIVISIONS_FILE [SEED] > persons.csv
 *
 * Writes a header in the Chinese column names staff use (身份证号码, 姓名, 民族,
 * 户籍地区划, 户籍地址, 居住地区划, 居住地址, 联系电话, 婚姻状况) and COUNT rows of
 * persons that never existed, every one valid for POST /api/v1/persons/import:
 *  - GB 11643 ID numbers: the area code is the hukou division's district, the
 *    birth date (1925-01-01 .. 2024-12-31) and the 3-digit sequence come from
 *    a permutation of the row number over days x 1000 sequences, so no two
 *    rows share a number; the check digit is the platform's (mz_id_check_char);
 *  - hukou and residence divisions are community codes read from
 *    DIVISIONS_FILE (one 12-digit code a line: scripts/bench.sh writes the
 *    communities in force from the benchmark database); ~20% live elsewhere;
 *  - dictionary cells are written as staff do, by label (汉族, 已婚), so the
 *    import's label mapping is exercised;
 *  - names from common surnames and given-name characters; mobile numbers.
 * Deterministic for a given SEED (splitmix64). Synthetic data only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/validate.h"

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏",
    "苏", "吕", "丁", "任", "卢", "单", "欧阳", "司马"};
static const char *const given[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "辉", "建", "国",
    "志", "海", "峰", "红", "宇", "浩", "凯", "鑫", "晨", "欣", "怡", "子", "涵", "梓", "轩",
    "博", "雨", "嘉", "思", "佳", "俊", "婷", "雪", "琳", "颖", "慧", "萍", "春", "东", "亮"};
static const char *const roads[] = {"和平路", "南京路", "解放北路", "卫津路", "友谊路",
                                    "黄河道", "中山路", "红旗路", "复康路", "津塘路"};
static const char *const ethnic[] = {"汉族", "回族", "满族", "蒙古族", "朝鲜族"};
static const int ethnic_w[] = {974, 13, 7, 3, 3}; /* per mille */

#define DAYS_FROM "1925" /* birth years */
#define DAYS_TO "2024"

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s COUNT DIVISIONS_FILE [SEED] > persons.csv\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[1], NULL, 10);
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    FILE *df = fopen(argv[2], "r");
    if (df == NULL) {
        perror(argv[2]);
        return 1;
    }
    size_t ndiv = 0, cap = 0;
    char (*divs)[13] = NULL;
    char line[64];
    while (fgets(line, sizeof(line), df)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strlen(line) != 12)
            continue;
        if (ndiv == cap) {
            cap = cap ? cap * 2 : 1024;
            divs = realloc(divs, cap * sizeof(*divs));
            if (divs == NULL)
                return 1;
        }
        memcpy(divs[ndiv++], line, 13);
    }
    fclose(df);
    if (ndiv == 0) {
        fprintf(stderr, "%s: no 12-digit division codes\n", argv[2]);
        return 1;
    }
    int64_t day0 = mz_date_to_days(DAYS_FROM "-01-01");
    uint64_t ndays = (uint64_t)(mz_date_to_days(DAYS_TO "-12-31") - day0 + 1);
    uint64_t space = ndays * 1000; /* (birth day, sequence) pairs */
    if ((uint64_t)count > space) {
        fprintf(stderr, "at most %llu persons\n", (unsigned long long)space);
        return 1;
    }
    uint64_t mult = 2654435761u; /* a permutation of [0, space): k -> k * mult mod space */
    while (gcd(mult, space) != 1)
        mult += 2;
    static char out[1 << 16];
    setvbuf(stdout, out, _IOFBF, sizeof(out));
    fputs("身份证号码,姓名,民族,户籍地区划,户籍地址,居住地区划,居住地址,联系电话,婚姻状况\n", stdout);
    for (long i = 0; i < count; i++) {
        uint64_t k = ((uint64_t)i * mult) % space;
        char birth[11];
        mz_days_to_date(day0 + (int64_t)(k / 1000), birth);
        int seq = (int)(k % 1000), y = atoi(birth);
        const char *hukou = divs[rng_below((uint32_t)ndiv)];
        const char *res = rng_below(100) < 20 ? divs[rng_below((uint32_t)ndiv)] : hukou;
        char id[32];
        snprintf(id, sizeof(id), "%.6s%.4s%.2s%.2s%03d", hukou, birth, birth + 5, birth + 8, seq);
        id[17] = mz_id_check_char(id);
        id[18] = '\0';
        uint32_t e = rng_below(1000), acc = 0;
        size_t ei = 0;
        for (; ei < sizeof(ethnic_w) / sizeof(ethnic_w[0]) - 1; ei++) {
            acc += (uint32_t)ethnic_w[ei];
            if (e < acc)
                break;
        }
        const char *sn = surnames[rng_below(sizeof(surnames) / sizeof(surnames[0]))];
        const char *g1 = given[rng_below(sizeof(given) / sizeof(given[0]))];
        const char *g2 = rng_below(3) ? given[rng_below(sizeof(given) / sizeof(given[0]))] : "";
        const char *road = roads[rng_below(sizeof(roads) / sizeof(roads[0]))];
        unsigned no = 1 + rng_below(300), bld = 1 + rng_below(30), room = 101 + rng_below(600);
        int age = 2025 - y;
        const char *marital = age < 22 ? "未婚" : rng_below(10) < 8 ? "已婚" : "未婚";
        printf("%s,%s%s%s,%s,%s,天津市%s%u号%u-%u,%s,", id, sn, g1, g2, ethnic[ei], hukou, road, no,
               bld, room, res);
        if (res != hukou)
            printf("天津市%s%u号", roads[rng_below(sizeof(roads) / sizeof(roads[0]))], 1 + rng_below(300));
        printf(",1%u%09u,%s\n", 3 + rng_below(7), (unsigned)((uint64_t)i * 7919 % 1000000000u), marital);
    }
    free(divs);
    return fflush(stdout) == 0 ? 0 : 1;
}
