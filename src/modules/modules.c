/* modules.c - the built-in module table, generated from modules.def. */
#include "mz/engine.h"

#define MZ_MODULE(name) extern const struct mz_module mz_module_##name;
#include "modules/modules.def"
#undef MZ_MODULE

/* NULL-terminated so an empty list still compiles; the count excludes it. */
const struct mz_module *const mz_builtin_modules[] = {
#define MZ_MODULE(name) &mz_module_##name,
#include "modules/modules.def"
#undef MZ_MODULE
    NULL,
};
const size_t mz_builtin_module_count = MZ_ARRAY_LEN(mz_builtin_modules) - 1;
