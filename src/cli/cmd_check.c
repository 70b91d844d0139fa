/* cmd_check.c - `minzheng check-id NUMBER` and `minzheng check-uscc CODE`.
 *
 * Offline validators for staff and scripts: no database, one line of JSON on
 * stdout (UTF-8, not escaped), exit 0 when valid, 1 when not, 2 on a usage
 * error (message on stderr). The validation itself is src/core/validate.c; this
 * file adds argument handling and the static division-name table used to name
 * the address code of an ID number (provinces, and every Tianjin district or
 * county code since 2009 including retired ones, so old numbers still resolve).
 *
 * Tested by the API suite through the real binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mz/cli.h"
#include "mz/json.h"
#include "mz/validate.h"

/* Exit statuses of the two commands (see cli.h). */
#define EXIT_VALID   0
#define EXIT_INVALID 1
#define EXIT_USAGE   2

/* Warning shown when the organisation code embedded in a USCC fails its check. */
#define WARNING_PILOT "组织机构代码校验位不符（早期试点代码），请核对证照原件"

/* One row of the static division table. */
struct division_name {
    const char *code; /* 6 digits */
    const char *name; /* official name, UTF-8 */
};

/* GB/T 2260 province-level divisions, then Tianjin's districts and counties:
 * the 2012 set, the codes merged into 滨海新区 in 2009 (国函〔2009〕125号) and the
 * counties turned districts in 2015 and 2016 (国函〔2015〕119号, 国函〔2016〕98号). */
static const struct division_name division_names[] = {
    {"110000", "北京市"},           {"120000", "天津市"},         {"130000", "河北省"},
    {"140000", "山西省"},           {"150000", "内蒙古自治区"},   {"210000", "辽宁省"},
    {"220000", "吉林省"},           {"230000", "黑龙江省"},       {"310000", "上海市"},
    {"320000", "江苏省"},           {"330000", "浙江省"},         {"340000", "安徽省"},
    {"350000", "福建省"},           {"360000", "江西省"},         {"370000", "山东省"},
    {"410000", "河南省"},           {"420000", "湖北省"},         {"430000", "湖南省"},
    {"440000", "广东省"},           {"450000", "广西壮族自治区"}, {"460000", "海南省"},
    {"500000", "重庆市"},           {"510000", "四川省"},         {"520000", "贵州省"},
    {"530000", "云南省"},           {"540000", "西藏自治区"},     {"610000", "陕西省"},
    {"620000", "甘肃省"},           {"630000", "青海省"},         {"640000", "宁夏回族自治区"},
    {"650000", "新疆维吾尔自治区"}, {"710000", "台湾省"},         {"810000", "香港特别行政区"},
    {"820000", "澳门特别行政区"},   {"120101", "和平区"},         {"120102", "河东区"},
    {"120103", "河西区"},           {"120104", "南开区"},         {"120105", "河北区"},
    {"120106", "红桥区"},           {"120107", "塘沽区"},         {"120108", "汉沽区"},
    {"120109", "大港区"},           {"120110", "东丽区"},         {"120111", "西青区"},
    {"120112", "津南区"},           {"120113", "北辰区"},         {"120114", "武清区"},
    {"120115", "宝坻区"},           {"120116", "滨海新区"},       {"120117", "宁河区"},
    {"120118", "静海区"},           {"120119", "蓟州区"},         {"120221", "宁河县"},
    {"120223", "静海县"},           {"120225", "蓟县"},
};

/* Name of a 6-digit division code from the static table; NULL if unknown or
 * if code6 is not exactly 6 characters. */
const char *mz_division_static_name(const char *code6)
{
    if (code6 == NULL || strlen(code6) != 6)
        return NULL;
    for (size_t i = 0; i < MZ_ARRAY_LEN(division_names); i++) {
        if (strcmp(division_names[i].code, code6) == 0)
            return division_names[i].name;
    }
    return NULL;
}

/* The district's name if the table has it, else its province's; NULL if neither. */
static const char *division_display_name(const char *code6)
{
    const char *name = mz_division_static_name(code6);
    if (name != NULL)
        return name;
    char province[7];
    memcpy(province, code6, 2);
    memcpy(province + 2, "0000", 5);
    return mz_division_static_name(province);
}

/* Print value as one compact JSON line on stdout and drop the reference. */
static void print_json_line(json_t *value)
{
    char *text = mz_json_dump(value, NULL);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
    json_decref(value);
}

/* Print {"valid":false,"reason":...} and return the "invalid" exit status. */
static int print_invalid(const char *reason)
{
    json_t *out = json_object();
    json_object_set_new(out, "valid", json_false());
    json_object_set_new(out, "reason", mz_json_str(reason));
    print_json_line(out);
    return EXIT_INVALID;
}

/* Parse `<command> [-h|--help] OPERAND`: on success *arg is the one operand and
 * the result is -1; otherwise the exit status to return (help printed: usage
 * line plus `help` text, or a usage error reported on stderr). Anything starting
 * with '-' other than the help options is unknown. */
static int parse_single_arg(int argc, char **argv, const char *operand_name, const char *help,
                            const char **arg)
{
    const char *name = argc > 0 && argv[0] != NULL ? argv[0] : "check";
    const char *operand = NULL;
    int operands = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: minzheng %s %s\n\n", name, operand_name);
            fputs(help, stdout);
            return EXIT_VALID;
        }
        if (a[0] == '-') {
            fprintf(stderr, "%s: unknown option '%s'\n", name, a);
            fprintf(stderr, "try 'minzheng %s --help'\n", name);
            return EXIT_USAGE;
        }
        operand = a;
        operands++;
    }
    if (operands != 1) {
        fprintf(stderr, "%s: expected exactly one argument, got %d\n", name, operands);
        fprintf(stderr, "try 'minzheng %s --help'\n", name);
        return EXIT_USAGE;
    }
    *arg = operand;
    return -1;
}

/* `check-id NUMBER`: validate a GB 11643 citizen ID number (18 characters, or
 * 15 digits which are upgraded) against today's date in Asia/Shanghai. */
int mz_cmd_check_id(int argc, char **argv)
{
    static const char help[] =
        "Validate a GB 11643 citizen ID number (18 characters, or an old 15-digit\n"
        "number, which is upgraded). Prints one line of JSON:\n"
        "  {\"valid\":true,\"number\":...,\"birth\":\"YYYY-MM-DD\",\"sex\":\"M|F\",\n"
        "   \"division\":\"120101\",\"division_name\":...,\"upgraded\":false}\n"
        "or {\"valid\":false,\"reason\":...}.\n"
        "Exit status: 0 valid, 1 invalid, 2 usage error.\n";
    const char *arg = NULL;
    int status = parse_single_arg(argc, argv, "NUMBER", help, &arg);
    if (status >= 0)
        return status;

    struct mz_id_info info;
    const char *reason = NULL;
    if (mz_id_check(arg, NULL, &info, &reason) != MZ_OK)
        return print_invalid(reason);

    const char sex[2] = {info.sex, '\0'};
    json_t *out = json_object();
    json_object_set_new(out, "valid", json_true());
    json_object_set_new(out, "number", mz_json_str(info.number));
    json_object_set_new(out, "birth", mz_json_str(info.birth));
    json_object_set_new(out, "sex", mz_json_str(sex));
    json_object_set_new(out, "division", mz_json_str(info.division));
    json_object_set_new(out, "division_name", mz_json_str(division_display_name(info.division)));
    json_object_set_new(out, "upgraded", json_boolean(info.upgraded));
    print_json_line(out);
    return EXIT_VALID;
}

/* `check-uscc CODE`: validate a GB 32100 unified social credit code. A failed
 * embedded organisation-code check is valid with a warning. */
int mz_cmd_check_uscc(int argc, char **argv)
{
    static const char help[] =
        "Validate a GB 32100 unified social credit code (18 characters). Prints one\n"
        "line of JSON:\n"
        "  "
        "{\"valid\":true,\"code\":...,\"registrar\":\"5\",\"kind\":\"1\",\"division\":\"120101\",\n"
        "   \"org_code\":...,\"warnings\":[...]}\n"
        "or {\"valid\":false,\"reason\":...}.\n"
        "Exit status: 0 valid, 1 invalid, 2 usage error.\n";
    const char *arg = NULL;
    int status = parse_single_arg(argc, argv, "CODE", help, &arg);
    if (status >= 0)
        return status;

    struct mz_uscc_info info;
    const char *reason = NULL;
    if (mz_uscc_check(arg, &info, &reason) != MZ_OK)
        return print_invalid(reason);

    const char registrar[2] = {info.registrar, '\0'};
    const char kind[2] = {info.kind, '\0'};
    json_t *warnings = json_array();
    if (info.pilot_warning)
        json_array_append_new(warnings, mz_json_str(WARNING_PILOT));
    json_t *out = json_object();
    json_object_set_new(out, "valid", json_true());
    json_object_set_new(out, "code", mz_json_str(info.code));
    json_object_set_new(out, "registrar", mz_json_str(registrar));
    json_object_set_new(out, "kind", mz_json_str(kind));
    json_object_set_new(out, "division", mz_json_str(info.division));
    json_object_set_new(out, "org_code", mz_json_str(info.org_code));
    json_object_set_new(out, "warnings", warnings);
    print_json_line(out);
    return EXIT_VALID;
}
