/*
 * libFuzzer target: the configuration file parser (shared/config.c), fed
 * through the same JSON decoding flags as config_load_file.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct err e;
    json_t *root;

    root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                      NULL);
    if (root == NULL)
        return 0;
    if (config_init(&cfg) == 0) {
        config_apply(&cfg, root, &e);
        config_free(&cfg);
    }
    json_decref(root);
    return 0;
}
