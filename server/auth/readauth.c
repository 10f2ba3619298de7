/*
 * Read access.  On a loopback listener reads are open: whoever can reach
 * 127.0.0.1 already shares the machine.  On any other address a GET needs
 * "Authorization: Bearer T" where T is a configured read token (the
 * configuration holds only SHA-256 hashes, compared in constant time) or
 * an OIDC JWT from a trusted issuer (the "jwt" section, the same trust
 * the JWT route uses) carrying the "read" scope in "scope" or "scp".
 * Read tokens are tried first, so a token that happens to look like a
 * JWT still works.
 *
 * struct readauth holds the decoded hashes, owned by srv->readauth.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hex.h"
#include "auth/bearer.h"
#include "auth/jwt.h"
#include "auth/readauth.h"
#include "log.h"

struct readauth {
    unsigned char (*hashes)[READAUTH_HASH_LEN];
    size_t n;
};

static int
readauth_decode(const char *hex, unsigned char *out)
{
    if (hex == NULL || strlen(hex) != 2 * READAUTH_HASH_LEN)
        return -1;
    for (int i = 0; i < READAUTH_HASH_LEN; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]);
        int lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

static int
readauth_load(struct readauth *ra, json_t *list, struct err *err)
{
    size_t i;
    json_t *v;

    if (!json_is_array(list))
        return err_set(err, ERR_INVALID,
                       "read.token_sha256: expected an array of SHA-256 "
                       "hex strings");
    ra->hashes = calloc(json_array_size(list) + 1, sizeof *ra->hashes);
    if (ra->hashes == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    json_array_foreach(list, i, v)
    {
        if (readauth_decode(json_string_value(v), ra->hashes[i]) != 0)
            return err_set(err, ERR_INVALID,
                           "read.token_sha256[%zu]: expected 64 hex digits "
                           "(the SHA-256 of a token)",
                           i);
        ra->n++;
    }
    return 0;
}

int
readauth_configure(struct server *srv, struct err *err)
{
    struct readauth *ra = calloc(1, sizeof *ra);
    const char *key;
    json_t *v;
    int rc = 0;

    if (ra == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    srv->readauth = ra;
    json_object_foreach(srv->cfg->read, key, v)
    {
        if (strcmp(key, "token_sha256") == 0)
            rc = readauth_load(ra, v, err);
        else
            rc = err_set(err, ERR_INVALID, "read.%.64s: unknown key", key);
        if (rc != 0) {
            readauth_shutdown(srv);
            return ERR_INVALID;
        }
    }
    return 0;
}

void
readauth_shutdown(struct server *srv)
{
    if (srv->readauth == NULL)
        return;
    free(srv->readauth->hashes);
    free(srv->readauth);
    srv->readauth = NULL;
}

int
readauth_token_matches(const unsigned char (*hashes)[READAUTH_HASH_LEN],
                       size_t n, const char *token, size_t len)
{
    unsigned char digest[READAUTH_HASH_LEN];
    int found = 0;

    SHA256((const unsigned char *)token, len, digest);
    /* No early exit: every configured hash costs the same time. */
    for (size_t i = 0; i < n; i++)
        found |= CRYPTO_memcmp(digest, hashes[i], READAUTH_HASH_LEN) == 0;
    OPENSSL_cleanse(digest, sizeof digest);
    return found;
}

/* Three base64url parts separated by dots: the shape of a compact JWT. */
static int
readauth_looks_like_jwt(const char *t)
{
    const char *d1 = strchr(t, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

    return d1 && d2 && d1 > t && d2 > d1 + 1 && strchr(d2 + 1, '.') == NULL;
}

static int
readauth_refuse(struct http_resp *rs, int status, const char *msg)
{
    if (status == 401)
        http_header_add(rs, "WWW-Authenticate", "Bearer realm=\"labgate\"");
    http_error(rs, status, "%s", msg);
    return -1;
}

/* Verify token as a JWT with the "read" scope; 0 or -1 after refusing. */
static int
readauth_jwt(struct http_req *rq, struct http_resp *rs, const char *token)
{
    static const char *const scopes[] = {"read", NULL};
    struct jwt_trust *t = bearer_trust(rq->srv);
    struct jwt_expect expect = {NULL, scopes, 0};
    struct jwt_verified v;
    struct err e = {0, ""};
    char why[LOG_QUOTE_MAX];
    int rc;

    if (t == NULL)
        return readauth_refuse(rs, 500, "JWT trust is not configured");
    if (strlen(token) > JWT_TOKEN_MAX)
        return readauth_refuse(rs, 401,
                               "bearer token larger than 8192 "
                               "bytes");
    memset(&v, 0, sizeof v);
    rc = jwt_verify(t, token, &expect, &v, &e);
    jwt_verified_free(&v);
    if (rc == 0)
        return 0;
    log_event(LOG_WARN, "readauth", "refused", "request_id=%s reason=%s",
              rq->id, log_quote(e.msg, why, sizeof why));
    if (rc == ERR_DENIED)
        return readauth_refuse(rs, 403, "read access needs the read scope");
    return readauth_refuse(rs, 401, "read credential not accepted");
}

int
readauth_check(struct http_req *rq, struct http_resp *rs)
{
    const struct readauth *ra = rq->srv->readauth;
    const char *h = http_header(rq, "Authorization"), *token;

    if (rq->srv->loopback)
        return 0;
    if (h == NULL)
        return readauth_refuse(rs, 401,
                               "read access needs a credential: "
                               "Authorization: Bearer <read token>");
    if (strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
        return readauth_refuse(rs, 401,
                               "Authorization: expected Bearer <read "
                               "token>");
    token = h + 7;
    if (ra != NULL && readauth_token_matches(
                          (const unsigned char(*)[READAUTH_HASH_LEN])ra->hashes,
                          ra->n, token, strlen(token)))
        return 0;
    if (readauth_looks_like_jwt(token))
        return readauth_jwt(rq, rs, token);
    return readauth_refuse(rs, 401, "read token not recognised");
}
