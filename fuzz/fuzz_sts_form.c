/*
 * libFuzzer target: the STS form body (application/x-www-form-urlencoded,
 * as AWS SDKs post AssumeRoleWithWebIdentity), decoded pair by pair with
 * http_query_next exactly as server/sts.c's form parser does, with the
 * same buffer sizes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* server/sts.c's limits on a parameter name and value. */
#define FUZZ_NAME_MAX 128
#define FUZZ_VALUE_MAX (8192 + 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1), *value = malloc(FUZZ_VALUE_MAX);
    char name[FUZZ_NAME_MAX];
    const char *cursor;
    int n = 0;

    if (body != NULL && value != NULL) {
        memcpy(body, data, size);
        body[size] = '\0';
        cursor = body;
        while (n++ < 16 && http_query_next(&cursor, name, sizeof name, value,
                                           FUZZ_VALUE_MAX) == 1)
            ;
    }
    free(body);
    free(value);
    return 0;
}
