/*
 * labgate-tui: the terminal dashboard.  Until the dashboard issue lands it
 * only answers --help and --version and says plainly that the dashboard is
 * not implemented, exiting with status 3.
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("labgate-tui %s\n", LABGATE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: labgate-tui [--server URL]\n"
               "The dashboard is not implemented yet.\n");
        return 0;
    }
    fprintf(stderr, "labgate-tui: the dashboard is not implemented yet\n");
    return 3;
}
