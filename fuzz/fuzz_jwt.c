/*
 * libFuzzer target: a bearer token as a client sends it, through
 * jwt_verify (server/auth/jwt.c): splitting, base64url, the JSON header
 * and claims, algorithm and kid rules, issuer matching, the key lookup and
 * the signature check against a real key set.
 *
 * The trust has one issuer whose keys (the seed corpus's JWKS) come from
 * a store in a temporary file, as after a restart; its JWKS URL is a
 * closed loopback port, so a lookup of an unknown kid fails at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "store.h"
#include "timefmt.h"

#define FUZZ_ISSUER "http://127.0.0.1:9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The JWKS of fuzz/corpus/jwk_set/two_keys.json (kids rsa-1, ec-1). */
static const char fuzz_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"al"
    "g\":\"RS256\",\"n\":\"-7AAhZNt8f5hxuAYldh2CplAZifxrdtrud9qMF6RUkgR"
    "jFzugUrSJsiukcQQx7oWc1LhWWtJ_f8lcqZA_9cx6ePjnGCitSLo4b-AgGv91Zp1Fj"
    "dFRD9ZyTifxwifjEif5xQkXMAsrWjAMHU_HmVOLAwmaLGoYwvsDB0it20yjaAXfXJR"
    "ShYf2EuVDuXgfDwCU0thMEfDoSJelAj23YxJPExvnWUzF0DQLddsBn7E7KGjvruaLO"
    "7ZyKac9MoC3sPpD949fGwSoMfLTYgQbCMgSfMZieK8DBbVdo5OT32ULhx7-LrrZ-SJ"
    "-KTOUS7W9v_MZRPpicEF9VOW0bdPUwxZdQ\",\"e\":\"AQAB\"},{\"kty\":\"EC"
    "\",\"kid\":\"ec-1\",\"use\":\"sig\",\"alg\":\"ES256\",\"crv\":\"P-"
    "256\",\"x\":\"ct5dzimxUTamzSgjJacsIwOwfHtWrUIvQh9RCoGO-RA\",\"y\":"
    "\"4idPkSanrryB-0o6yiGhhG9NvADC-jegg-RncrWvU8A\"}]}";

static void
fuzz_unlink(const char *path, const char *suffix)
{
    char p[256];

    snprintf(p, sizeof p, "%s%s", path, suffix);
    unlink(p);
}

static struct jwt_trust *
fuzz_trust(void)
{
    static struct jwt_trust *t;
    static struct store *store;
    char path[] = "/tmp/labgate-fuzz-jwt-XXXXXX";
    struct store_options so;
    struct err e;
    json_t *section;
    int fd;

    if (t != NULL)
        return t;
    memset(&so, 0, sizeof so);
    so.path = path;
    so.batch_max = 16;
    so.queue_max = 64;
    so.readers = 1;
    fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    if (store_open(&store, &so, &e) != 0 ||
        store_jwks_put(store, FUZZ_ISSUER, fuzz_jwks, timefmt_now_ms(), &e) !=
            0)
        abort();
    /* The open connections keep the files; nothing is left behind. */
    fuzz_unlink(path, "");
    fuzz_unlink(path, "-wal");
    fuzz_unlink(path, "-shm");
    fuzz_unlink(path, ".key");
    section = json_pack("{s:[{s:s, s:[s], s:[s,s], s:s, s:b}]}", "issuers",
                        "issuer", FUZZ_ISSUER, "audiences", "lab-api",
                        "algorithms", "RS256", "ES256", "jwks_uri",
                        FUZZ_ISSUER "/jwks", "allow_insecure_http", 1);
    if (section == NULL || jwt_trust_create(&t, section, store, &e) != 0) {
        fprintf(stderr, "fuzz_jwt: %s\n", e.msg);
        abort();
    }
    json_decref(section);
    return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt_trust *t = fuzz_trust();
    struct jwt_verified v;
    struct err e;
    char *token;

    if (size > JWT_TOKEN_MAX)
        return 0;
    token = malloc(size + 1);
    if (token == NULL)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    memset(&v, 0, sizeof v);
    if (jwt_verify(t, token, NULL, &v, &e) == 0)
        jwt_verified_free(&v);
    free(token);
    return 0;
}
