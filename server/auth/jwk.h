/*
 * Single JSON Web Keys and key sets, and fetching them: the stateless
 * half of the JWKS machinery (auth/jwks.c keeps the cache and the
 * refresh thread).
 *
 * jwk_set_parse converts every usable signing key of a JWKS document
 * (RSA n/e of 2048 to 8192 bits, EC P-256 or P-384 crv/x/y) into an
 * OpenSSL EVP_PKEY once; keys marked for encryption, of other types or
 * without a kid are skipped.  jwk_http_get fetches a document with
 * libcurl under the scheme rules of the issuer (https only unless plain
 * http is allowed), verified TLS, connect and total timeouts and a size
 * cap, and reports the Cache-Control max-age.
 */
#ifndef LABGATE_JWK_H
#define LABGATE_JWK_H

#include <stddef.h>

#include "auth/jwks.h"
#include "err.h"

struct jwk_entry {
    char *kid;
    struct jwks_key key; /* key.pkey owned by the set */
};

struct jwk_set {
    struct jwk_entry *v;
    size_t n;
};

struct jwk_http {
    char *body; /* NUL-terminated; free with free */
    size_t len;
    long max_age; /* Cache-Control max-age in seconds, or -1 */
};

/*
 * Decode base64url without padding (RFC 7515 forbids it) from in (n
 * bytes) into a new buffer of *outlen bytes followed by a NUL.  Returns
 * the buffer (free with free), or NULL for bad input or no memory.
 */
unsigned char *jwk_b64url_decode(const char *in, size_t n, size_t *outlen);

/*
 * Parse JWKS text (len bytes) into a new set (free with jwk_set_free).
 * Returns 0, or ERR_INVALID when the text is not a JSON object with a
 * "keys" array, or ERR_NOMEM; err says why.  An empty usable set is not
 * an error: it means the issuer publishes no key this server can use.
 */
int jwk_set_parse(const char *text, size_t len, struct jwk_set **out,
                  struct err *err);

/* The entry for kid, or NULL. */
const struct jwk_entry *jwk_set_find(const struct jwk_set *s, const char *kid);

/* Free s and its keys (references handed out stay valid). s may be NULL. */
void jwk_set_free(struct jwk_set *s);

/*
 * GET url.  Returns 0 with out filled (caller frees out->body), or
 * ERR_IO with the reason (refused scheme, transport error, TLS failure,
 * non-200 status, body over JWKS_BODY_MAX).
 */
int jwk_http_get(const char *url, int allow_http, struct jwk_http *out,
                 struct err *err);

/*
 * Find the jwks_uri of issuer through ISSUER/.well-known/openid-
 * configuration (whose "issuer" must equal issuer).  Returns 0 and a new
 * string in *uri (free with free), or ERR_IO with the reason.
 */
int jwk_discover(const char *issuer, int allow_http, char **uri,
                 struct err *err);

#endif
