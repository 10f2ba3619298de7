/*
 * The key-set half of JWT verification: JWK conversion rules
 * (auth/jwk.c) and the cache's refresh schedule from Cache-Control
 * (auth/jwks.c), against the loopback test issuer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwk.h"
#include "auth/jwks.h"
#include "timefmt.h"
#include "tissuer.h"

/* Fetch once from a fresh issuer sending max_age; return next - now. */
static int64_t
refresh_after(long max_age)
{
    struct tissuer *ti = tissuer_start();
    struct jwks *j = NULL;
    struct jwks_key k;
    struct err e = {0, ""};
    int64_t next, now;

    tissuer_set_max_age(ti, max_age);
    cr_assert_eq(jwks_create(&j, 1, &e), 0);
    cr_assert_eq(jwks_set_source(j, 0, tissuer_url(ti), NULL, 1, &e), 0);
    cr_assert_eq(jwks_start(j, NULL, &e), 0);
    cr_assert_eq(jwks_next_refresh_ms(j, 0), INT64_MAX);
    cr_assert_eq(jwks_lookup(j, 0, TISSUER_KID_RSA, &k, &e), 0, "%s", e.msg);
    cr_assert_eq(k.kty, JWKS_RSA);
    cr_assert_str_eq(k.alg, "RS256");
    jwks_key_release(&k);
    now = timefmt_now_ms();
    next = jwks_next_refresh_ms(j, 0);
    jwks_free(j);
    tissuer_free(ti);
    return (next - now + 500) / 1000;
}

Test(jwks, refresh_follows_max_age_within_bounds)
{
    cr_assert_eq(refresh_after(7200), 7200);
    cr_assert_eq(refresh_after(10), JWKS_REFRESH_MIN_S);
    cr_assert_eq(refresh_after(9999999), JWKS_REFRESH_MAX_S);
    cr_assert_eq(refresh_after(-1), JWKS_REFRESH_DEFAULT_S);
}

static int
usable(const char *text)
{
    struct jwk_set *s = NULL;
    struct err e = {0, ""};
    int n;

    cr_assert_eq(jwk_set_parse(text, strlen(text), &s, &e), 0, "%s", e.msg);
    n = (int)s->n;
    jwk_set_free(s);
    return n;
}

/* A P-256 point (the generator) and the RFC 7517 appendix A.1 RSA key. */
#define GX "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY"
#define GY "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"
#define RSA_N                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7"   \
    "aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBX"    \
    "Arwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9"    \
    "c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"    \
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

Test(jwks, converts_rsa_and_ec_and_skips_unusable_keys)
{
    cr_assert_eq(
        usable("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"" RSA_N
               "\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"e\","
               "\"crv\":\"P-256\",\"x\":\"" GX "\",\"y\":\"" GY "\"}]}"),
        2);
    /* Encryption keys, missing kids, other types are skipped. */
    cr_assert_eq(usable("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\","
                        "\"use\":\"enc\",\"n\":\"" RSA_N "\",\"e\":\"AQAB\"},"
                        "{\"kty\":\"RSA\",\"n\":\"" RSA_N "\",\"e\":\"AQAB\"},"
                        "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"},"
                        "{\"kty\":\"OKP\",\"kid\":\"o\",\"crv\":\"Ed25519\","
                        "\"x\":\"" GX "\"}]}"),
                 0);
    /* A point off the curve, a short coordinate, a tiny RSA modulus. */
    cr_assert_eq(usable("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\","
                        "\"crv\":\"P-256\",\"x\":\"" GX "\",\"y\":\"" GX
                        "\"},{\"kty\":\"EC\",\"kid\":\"f\",\"crv\":\"P-256\","
                        "\"x\":\"AQAB\",\"y\":\"" GY "\"},{\"kty\":\"RSA\","
                        "\"kid\":\"s\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}"),
                 0);
    /* The second of two keys with the same kid is ignored. */
    cr_assert_eq(usable("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e\","
                        "\"crv\":\"P-256\",\"x\":\"" GX "\",\"y\":\"" GY
                        "\"},{\"kty\":\"RSA\",\"kid\":\"e\",\"n\":\"" RSA_N
                        "\",\"e\":\"AQAB\"}]}"),
                 1);
}

Test(jwks, refuses_documents_that_are_not_key_sets)
{
    struct jwk_set *s = NULL;
    struct err e = {0, ""};

    cr_assert_eq(jwk_set_parse("{\"keys\":{}}", 11, &s, &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "not a JWKS: no \"keys\" array");
    cr_assert_eq(jwk_set_parse("<html>", 6, &s, &e), ERR_INVALID);
    cr_assert_null(s);
}

Test(jwks, base64url_is_strict)
{
    size_t n = 0;
    unsigned char *p = jwk_b64url_decode("aGk", 3, &n);

    cr_assert_not_null(p);
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(p, "hi", 2), 0);
    free(p);
    cr_assert_null(jwk_b64url_decode("aGk=", 4, &n));  /* padding */
    cr_assert_null(jwk_b64url_decode("aGl", 3, &n));   /* stray bits */
    cr_assert_null(jwk_b64url_decode("a+/k", 4, &n));  /* base64, not url */
    cr_assert_null(jwk_b64url_decode("aGkxa", 5, &n)); /* impossible length */
}
