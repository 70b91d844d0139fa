/* main.c - build/minzheng: the command line of the platform. */
#include "mz/cli.h"

int main(int argc, char **argv)
{
    return mz_cli_main(argc, argv, NULL, 0);
}
