/*
 * libFuzzer target: JWKS documents as an issuer (or anyone in the path
 * to it) serves them, through jwk_set_parse and the key conversions
 * behind it (server/auth/jwk.c), then a lookup in the parsed set.
 */
#include <stddef.h>
#include <stdint.h>

#include "auth/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwk_set *s = NULL;
    struct err e;

    if (jwk_set_parse((const char *)data, size, &s, &e) == 0) {
        jwk_set_find(s, "rsa-1");
        jwk_set_find(s, "");
        jwk_set_free(s);
    }
    return 0;
}
