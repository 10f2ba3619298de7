/*
 * libFuzzer target: the result body parser (shared/result.c), the first
 * thing every post route runs on outside input, and the writer of the
 * answer built from it: whatever is accepted must come back as the JSON
 * jansson would write, and the input's bytes, used as a User-Agent (a
 * header can carry any byte), must still give valid JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct result_limits lim = {32, 4096};
    struct result r = {0};
    struct buf b = BUF_INIT;
    struct err e;
    json_t *j;
    char *want;

    if (result_parse_body(&r, (const char *)data, size, &lim, &e) == 0) {
        j = result_to_json(&r);
        want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (want == NULL || result_write_json(&r, 0, &b) != 0 ||
            strcmp(want, b.data) != 0)
            abort();
        free(want);
        json_decref(j);
        buf_reset(&b);
    }
    /* The input as text up to its first NUL, in a string member. */
    r.ident.user_agent = strndup((const char *)data, size);
    if (r.ident.user_agent != NULL) {
        if (result_write_json(&r, RESULT_JSON_NO_PAYLOAD, &b) != 0)
            abort();
        j = json_loads(b.data, 0, NULL);
        if (j == NULL)
            abort();
        json_decref(j);
    }
    buf_free(&b);
    result_free(&r);
    return 0;
}
