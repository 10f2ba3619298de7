/*
 * libFuzzer target: the result body parser (shared/result.c), the first
 * thing every post route runs on outside input.
 */
#include <stddef.h>
#include <stdint.h>

#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct result_limits lim = {32, 4096};
    struct result r = {0};
    struct err e;
    json_t *j;

    if (result_parse_body(&r, (const char *)data, size, &lim, &e) == 0) {
        r.route = NULL;
        j = result_to_json(&r);
        json_decref(j);
    }
    result_free(&r);
    return 0;
}
