/* main.c - build/minzheng-sample: minzheng plus the sample module. */
#include "mz/cli.h"

extern const struct mz_module mz_sample_module;

int main(int argc, char **argv)
{
    static const struct mz_module *const extra[] = {&mz_sample_module};
    return mz_cli_main(argc, argv, extra, 1);
}
