/* dicts.c - the registry's dictionaries: national codes with zh/en labels.
 *
 * Each dictionary is a const table (struct mz_dict) with the codes of its
 * national standard. These tables are version 1 of the dictionaries: the
 * engine validates MZ_T_DICT fields against them and /api/v1/meta exports
 * them; the migration "seed dictionary items" copies them into the entity
 * `dictionary_items` (registry.c), which administrators edit (labels, sort
 * order, new codes with a validity period). Until the engine reads
 * dictionaries through the database, an edited item shows in the
 * dictionary_items screens but field validation still uses these tables
 * (noted in docs/registry.md).
 *
 * Other modules add their own dictionaries through their module descriptor
 * (struct mz_module.dicts); names must be unique across modules (app.c).
 *
 * Invariant (tests/unit/test_registry.c): codes are unique within each
 * dictionary, and every item has both labels.
 */
#include "registry/registry_internal.h"

#define DICT(var, nm, zh_, en_, std, items_)                                                       \
    const struct mz_dict var = {.name = nm,                                                        \
                                .zh = zh_,                                                         \
                                .en = en_,                                                         \
                                .standard = std,                                                   \
                                .items = items_,                                                   \
                                .nitems = MZ_ARRAY_LEN(items_)}

/* GB/T 2261.1-2003 人的性别代码. */
static const struct mz_dict_item sex_items[] = {
    {"0", "未知的性别", "Unknown"},
    {"1", "男", "Male"},
    {"2", "女", "Female"},
    {"9", "未说明的性别", "Not stated"},
};
DICT(mz_dict_sex, "sex", "性别", "Sex", "GB/T 2261.1-2003", sex_items);

/* GB/T 2261.2-2003 婚姻状况代码. */
static const struct mz_dict_item marital_items[] = {
    {"10", "未婚", "Never married"},    {"20", "已婚", "Married"},
    {"21", "初婚", "First marriage"},   {"22", "再婚", "Remarried"},
    {"23", "复婚", "Remarried (same spouse)"},
    {"30", "丧偶", "Widowed"},          {"40", "离婚", "Divorced"},
    {"90", "未说明的婚姻状况", "Not stated"},
};
DICT(mz_dict_marital_status, "marital_status", "婚姻状况", "Marital status", "GB/T 2261.2-2003",
     marital_items);

/* GB 3304-1991 中国各民族名称的罗马字母拼写法和代码 (with 97/98 of the
 * public-security extension used in household registration). */
static const struct mz_dict_item ethnicity_items[] = {
    {"01", "汉族", "Han"},          {"02", "蒙古族", "Mongol"},    {"03", "回族", "Hui"},
    {"04", "藏族", "Zang"},         {"05", "维吾尔族", "Uygur"},   {"06", "苗族", "Miao"},
    {"07", "彝族", "Yi"},           {"08", "壮族", "Zhuang"},      {"09", "布依族", "Buyei"},
    {"10", "朝鲜族", "Chosen"},     {"11", "满族", "Man"},         {"12", "侗族", "Dong"},
    {"13", "瑶族", "Yao"},          {"14", "白族", "Bai"},         {"15", "土家族", "Tujia"},
    {"16", "哈尼族", "Hani"},       {"17", "哈萨克族", "Kazak"},   {"18", "傣族", "Dai"},
    {"19", "黎族", "Li"},           {"20", "傈僳族", "Lisu"},      {"21", "佤族", "Va"},
    {"22", "畲族", "She"},          {"23", "高山族", "Gaoshan"},   {"24", "拉祜族", "Lahu"},
    {"25", "水族", "Sui"},          {"26", "东乡族", "Dongxiang"}, {"27", "纳西族", "Naxi"},
    {"28", "景颇族", "Jingpo"},     {"29", "柯尔克孜族", "Kirgiz"}, {"30", "土族", "Tu"},
    {"31", "达斡尔族", "Daur"},     {"32", "仫佬族", "Mulao"},     {"33", "羌族", "Qiang"},
    {"34", "布朗族", "Blang"},      {"35", "撒拉族", "Salar"},     {"36", "毛南族", "Maonan"},
    {"37", "仡佬族", "Gelao"},      {"38", "锡伯族", "Xibe"},      {"39", "阿昌族", "Achang"},
    {"40", "普米族", "Pumi"},       {"41", "塔吉克族", "Tajik"},   {"42", "怒族", "Nu"},
    {"43", "乌孜别克族", "Uzbek"},  {"44", "俄罗斯族", "Russ"},    {"45", "鄂温克族", "Ewenki"},
    {"46", "德昂族", "Deang"},      {"47", "保安族", "Bonan"},     {"48", "裕固族", "Yugur"},
    {"49", "京族", "Gin"},          {"50", "塔塔尔族", "Tatar"},   {"51", "独龙族", "Derung"},
    {"52", "鄂伦春族", "Oroqen"},   {"53", "赫哲族", "Hezhen"},    {"54", "门巴族", "Monba"},
    {"55", "珞巴族", "Lhoba"},      {"56", "基诺族", "Jino"},      {"97", "其他", "Other"},
    {"98", "外国血统中国籍人士", "Naturalised citizen of foreign origin"},
};
DICT(mz_dict_ethnicity, "ethnicity", "民族", "Ethnic group", "GB 3304-1991", ethnicity_items);

/* GB/T 4761-2008 家庭关系代码. */
static const struct mz_dict_item relation_items[] = {
    {"01", "本人", "Self"},
    {"02", "户主", "Head of household"},
    {"10", "配偶", "Spouse"},
    {"11", "夫", "Husband"},
    {"12", "妻", "Wife"},
    {"20", "子", "Son"},
    {"21", "独生子", "Only son"},
    {"22", "长子", "Eldest son"},
    {"23", "次子", "Second son"},
    {"24", "三子", "Third son"},
    {"25", "四子", "Fourth son"},
    {"26", "五子", "Fifth son"},
    {"27", "养子或继子", "Adopted son or stepson"},
    {"28", "女婿", "Son-in-law"},
    {"29", "其他儿子", "Other son"},
    {"30", "女", "Daughter"},
    {"31", "独生女", "Only daughter"},
    {"32", "长女", "Eldest daughter"},
    {"33", "二女", "Second daughter"},
    {"34", "三女", "Third daughter"},
    {"35", "四女", "Fourth daughter"},
    {"36", "五女", "Fifth daughter"},
    {"37", "养女或继女", "Adopted daughter or stepdaughter"},
    {"38", "儿媳", "Daughter-in-law"},
    {"39", "其他女儿", "Other daughter"},
    {"40", "孙子、孙女或外孙子、外孙女", "Grandchild"},
    {"41", "孙子", "Grandson (son's son)"},
    {"42", "孙女", "Granddaughter (son's daughter)"},
    {"43", "外孙子", "Grandson (daughter's son)"},
    {"44", "外孙女", "Granddaughter (daughter's daughter)"},
    {"45", "孙媳妇或外孙媳妇", "Grandson's wife"},
    {"46", "孙女婿或外孙女婿", "Granddaughter's husband"},
    {"47", "曾孙子或外曾孙子", "Great-grandson"},
    {"48", "曾孙女或外曾孙女", "Great-granddaughter"},
    {"49", "其他孙子、孙女或外孙子、外孙女", "Other grandchild"},
    {"50", "父母", "Parent"},
    {"51", "父亲", "Father"},
    {"52", "母亲", "Mother"},
    {"53", "公公", "Father-in-law (husband's father)"},
    {"54", "婆婆", "Mother-in-law (husband's mother)"},
    {"55", "岳父", "Father-in-law (wife's father)"},
    {"56", "岳母", "Mother-in-law (wife's mother)"},
    {"57", "继父或养父", "Stepfather or adoptive father"},
    {"58", "继母或养母", "Stepmother or adoptive mother"},
    {"59", "其他父母关系", "Other parent"},
    {"60", "祖父母或外祖父母", "Grandparent"},
    {"61", "祖父", "Grandfather (father's father)"},
    {"62", "祖母", "Grandmother (father's mother)"},
    {"63", "外祖父", "Grandfather (mother's father)"},
    {"64", "外祖母", "Grandmother (mother's mother)"},
    {"65", "配偶的祖父母或外祖父母", "Spouse's grandparent"},
    {"66", "曾祖父", "Great-grandfather"},
    {"67", "曾祖母", "Great-grandmother"},
    {"68", "配偶的曾祖父母或外曾祖父母", "Spouse's great-grandparent"},
    {"69", "其他祖父母或外祖父母关系", "Other grandparent"},
    {"70", "兄弟姐妹", "Sibling"},
    {"71", "兄", "Elder brother"},
    {"72", "嫂", "Elder brother's wife"},
    {"73", "弟", "Younger brother"},
    {"74", "弟媳", "Younger brother's wife"},
    {"75", "姐姐", "Elder sister"},
    {"76", "姐夫", "Elder sister's husband"},
    {"77", "妹妹", "Younger sister"},
    {"78", "妹夫", "Younger sister's husband"},
    {"79", "其他兄弟姐妹", "Other sibling"},
    {"80", "其他", "Other relative"},
    {"81", "伯父", "Uncle (father's elder brother)"},
    {"82", "伯母", "Aunt (wife of father's elder brother)"},
    {"83", "叔父", "Uncle (father's younger brother)"},
    {"84", "婶母", "Aunt (wife of father's younger brother)"},
    {"85", "舅父", "Uncle (mother's brother)"},
    {"86", "舅母", "Aunt (wife of mother's brother)"},
    {"87", "姨父", "Uncle (husband of mother's sister)"},
    {"88", "姨母", "Aunt (mother's sister)"},
    {"89", "姑父", "Uncle (husband of father's sister)"},
    {"90", "姑母", "Aunt (father's sister)"},
    {"91", "堂兄弟、堂姐妹", "Paternal cousin"},
    {"92", "表兄弟、表姐妹", "Maternal cousin"},
    {"93", "侄子", "Nephew (brother's son)"},
    {"94", "侄女", "Niece (brother's daughter)"},
    {"95", "外甥", "Nephew (sister's son)"},
    {"96", "外甥女", "Niece (sister's daughter)"},
    {"97", "其他亲属", "Other relative"},
    {"99", "非亲属", "Non-relative"},
};
DICT(mz_dict_family_relation, "family_relation", "家庭关系", "Family relationship",
     "GB/T 4761-2008", relation_items);

/* GB/T 4658-2006 学历代码: the main levels and the graduate subdivisions staff use. */
static const struct mz_dict_item education_items[] = {
    {"10", "研究生教育", "Postgraduate"},
    {"11", "博士研究生", "Doctorate"},
    {"14", "硕士研究生", "Master's degree"},
    {"20", "大学本科教育", "Bachelor's degree"},
    {"30", "大学专科教育", "Junior college"},
    {"40", "中等职业教育", "Secondary vocational"},
    {"60", "普通高级中学教育", "Senior high school"},
    {"70", "初级中学教育", "Junior high school"},
    {"80", "小学教育", "Primary school"},
    {"90", "其他", "Other (incl. none)"},
};
DICT(mz_dict_education, "education", "学历", "Education", "GB/T 4658-2006", education_items);

/* GB/T 26341-2010 残疾人残疾分类和分级: categories. */
static const struct mz_dict_item disability_items[] = {
    {"1", "视力残疾", "Visual"},       {"2", "听力残疾", "Hearing"},
    {"3", "言语残疾", "Speech"},       {"4", "肢体残疾", "Physical"},
    {"5", "智力残疾", "Intellectual"}, {"6", "精神残疾", "Psychiatric"},
    {"7", "多重残疾", "Multiple"},
};
DICT(mz_dict_disability, "disability", "残疾类别", "Disability category", "GB/T 26341-2010",
     disability_items);

/* GB/T 26341-2010: grades, 一级 the most severe. */
static const struct mz_dict_item disability_grade_items[] = {
    {"1", "一级", "Grade 1 (most severe)"},
    {"2", "二级", "Grade 2"},
    {"3", "三级", "Grade 3"},
    {"4", "四级", "Grade 4 (least severe)"},
};
DICT(mz_dict_disability_grade, "disability_grade", "残疾等级", "Disability grade",
     "GB/T 26341-2010", disability_grade_items);

/* GB/T 4762-1984 政治面貌代码. */
static const struct mz_dict_item political_items[] = {
    {"01", "中共党员", "CPC member"},
    {"02", "中共预备党员", "CPC probationary member"},
    {"03", "共青团员", "CYLC member"},
    {"04", "民革党员", "RCCK member"},
    {"05", "民盟盟员", "CDL member"},
    {"06", "民建会员", "CNDCA member"},
    {"07", "民进会员", "CAPD member"},
    {"08", "农工党党员", "CPWDP member"},
    {"09", "致公党党员", "CZGP member"},
    {"10", "九三学社社员", "Jiusan Society member"},
    {"11", "台盟盟员", "TDSL member"},
    {"12", "无党派人士", "Independent"},
    {"13", "群众", "No affiliation"},
};
DICT(mz_dict_political_status, "political_status", "政治面貌", "Political status",
     "GB/T 4762-1984", political_items);

/* 户口性质 as recorded by public security; 3 after the 2014 hukou reform
 * (国发〔2014〕25号) unified urban and rural registration. */
static const struct mz_dict_item hukou_type_items[] = {
    {"1", "非农业户口", "Non-agricultural"},
    {"2", "农业户口", "Agricultural"},
    {"3", "居民户口", "Resident (unified)"},
    {"4", "集体户口", "Collective"},
    {"9", "其他", "Other"},
};
DICT(mz_dict_hukou_type, "hukou_type", "户口性质", "Hukou type", "公安户籍管理", hukou_type_items);

/* Where a death became known (the registry's own codes). */
static const struct mz_dict_item death_source_items[] = {
    {"police", "公安户籍注销", "Hukou cancelled by public security"},
    {"funeral", "殡葬火化信息", "Funeral/cremation record"},
    {"health", "医学死亡证明", "Medical death certificate"},
    {"civil", "民政核查", "Civil-affairs check"},
    {"other", "其他", "Other"},
};
DICT(mz_dict_death_source, "death_source", "死亡信息来源", "Source of death record", NULL,
     death_source_items);

/* Household kinds: the hukou household (户籍户) and the assistance household
 * (共同生活家庭) are separate things. */
static const struct mz_dict_item household_kind_items[] = {
    {"hukou", "户籍户", "Hukou household"},
    {"assistance", "共同生活家庭", "Assistance household (living together)"},
};
DICT(mz_dict_household_kind, "household_kind", "家庭类型", "Household kind", NULL,
     household_kind_items);

/* Organisation kinds, coded by the registration authority and kind of the
 * first two characters of a GB 32100 code. */
static const struct mz_dict_item org_kind_items[] = {
    {"11", "机关", "Government body"},
    {"12", "事业单位", "Public institution"},
    {"51", "社会团体", "Social organisation"},
    {"52", "民办非企业单位", "Private non-enterprise unit"},
    {"53", "基金会", "Foundation"},
    {"91", "企业", "Enterprise"},
    {"99", "其他", "Other"},
};
DICT(mz_dict_org_kind, "org_kind", "单位类型", "Organisation kind", "GB 32100-2015（登记管理部门及类别）",
     org_kind_items);

/* Kinds of administrative-division change (行政区划变更). */
static const struct mz_dict_item division_change_items[] = {
    {"merge", "撤销合并", "Merged into another"},
    {"upgrade", "撤县设区", "County became district"},
    {"rename", "更名", "Renamed"},
    {"create", "新设", "Created"},
    {"split", "拆分", "Split"},
    {"boundary", "边界调整", "Boundary change"},
    {"abolish", "撤销", "Abolished"},
};
DICT(mz_dict_division_change, "division_change", "区划变更类型", "Division change", NULL,
     division_change_items);

/* Levels of a division record. */
static const struct mz_dict_item division_level_items[] = {
    {"1", "省级", "Province"},
    {"2", "地级", "Prefecture"},
    {"3", "县级", "County/district"},
    {"4", "乡级（街道、镇、乡）", "Township/street"},
    {"5", "村级（社区、村）", "Community/village"},
};
DICT(mz_dict_division_level, "division_level", "区划级别", "Division level", "GB/T 2260 / 统计用区划代码",
     division_level_items);

const struct mz_dict *const mz_registry_dicts[] = {
    &mz_dict_sex,         &mz_dict_marital_status,   &mz_dict_ethnicity,
    &mz_dict_family_relation, &mz_dict_education,    &mz_dict_disability,
    &mz_dict_disability_grade, &mz_dict_political_status, &mz_dict_hukou_type,
    &mz_dict_death_source, &mz_dict_household_kind, &mz_dict_org_kind,
    &mz_dict_division_change, &mz_dict_division_level,
};
const size_t mz_registry_ndicts = MZ_ARRAY_LEN(mz_registry_dicts);
_Static_assert(MZ_ARRAY_LEN(mz_registry_dicts) == REGISTRY_NDICTS, "REGISTRY_NDICTS is stale");
