/*
 * JSON Web Key Sets: the public keys of the trusted token issuers.
 *
 * A struct jwks holds one source per issuer.  Each source has the
 * issuer's current key set (kid -> OpenSSL EVP_PKEY, converted once from
 * the JWK members n/e or crv/x/y, never per token), fetched with libcurl
 * (TLS verified, bounded time and size) from the configured jwks_uri or
 * the one named by ISSUER/.well-known/openid-configuration.
 *
 * One background thread does every fetch.  A source is first fetched when
 * a token needs it (so a server that never sees a token for an issuer
 * never contacts it), or on schedule when its set was loaded from the
 * store; after that it is refreshed when its Cache-Control max-age
 * (clamped) runs out, failures are retried with back-off, and a token
 * naming an unknown kid causes a refetch at most once per
 * JWKS_REFETCH_MIN_MS per source however many such tokens arrive.  Lookups
 * of cached keys never wait for a fetch.  When a store is attached, every
 * fetched set is persisted and a restart starts from the persisted sets,
 * so tokens keep working while an issuer is unreachable.
 *
 * All functions are thread-safe once jwks_start has returned.
 */
#ifndef LABGATE_JWKS_H
#define LABGATE_JWKS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct store;
struct jwks;

/* Key families a JWS algorithm must fit. */
enum jwks_kty { JWKS_RSA, JWKS_EC_P256, JWKS_EC_P384 };

/* Least time between two fetches caused by unknown kids, per source. */
#define JWKS_REFETCH_MIN_MS 60000
/* Refresh interval bounds (Cache-Control max-age is clamped to these). */
#define JWKS_REFRESH_MIN_S 300
#define JWKS_REFRESH_MAX_S 21600
#define JWKS_REFRESH_DEFAULT_S 3600
/* Largest key set or discovery document accepted. */
#define JWKS_BODY_MAX (256 * 1024)
#define JWKS_CONNECT_TIMEOUT_MS 3000
#define JWKS_TOTAL_TIMEOUT_MS 5000

/* A key handed to a verifier: pkey carries its own reference. */
struct jwks_key {
    EVP_PKEY *pkey; /* free with EVP_PKEY_free */
    enum jwks_kty kty;
    char alg[16]; /* the JWK's "alg" member, or "" */
};

/* Create an empty pool for n issuers. Returns 0 or ERR_NOMEM. */
int jwks_create(struct jwks **out, size_t n, struct err *err);

/*
 * Describe source i (0 <= i < n): issuer URL, jwks_uri (NULL: discover)
 * and whether plain http is allowed.  Call before jwks_start.
 */
int jwks_set_source(struct jwks *j, size_t i, const char *issuer,
                    const char *jwks_uri, int allow_http, struct err *err);

/*
 * Load persisted sets from store (may be NULL), then start the background
 * thread.  Never waits for the network.  Returns 0 or ERR_INTERNAL when the
 * thread cannot start.
 */
int jwks_start(struct jwks *j, struct store *store, struct err *err);

/*
 * Attach store (or detach with NULL) after start: sources without keys
 * load their persisted set, and later fetches are persisted.  Detaching
 * waits for a write in progress, so the store may be closed afterwards.
 */
void jwks_attach_store(struct jwks *j, struct store *store);

/*
 * Find kid in source i.  A cached kid returns at once.  An unknown kid
 * asks for a refetch (at most once per JWKS_REFETCH_MIN_MS; with no set
 * at all, once per failure back-off) and waits for it, bounded by the
 * fetch timeouts.  Returns 0 with out filled (release
 * with jwks_key_release); ERR_NOTFOUND when the set lacks kid; ERR_AUTH
 * when no key set could be had at all; err says why.
 */
int jwks_lookup(struct jwks *j, size_t i, const char *kid, struct jwks_key *out,
                struct err *err);

/* Whether source i currently holds kid (no fetch, no wait). */
int jwks_has(struct jwks *j, size_t i, const char *kid);

/*
 * When source i is next due for a scheduled refresh, in ms since the
 * epoch (INT64_MAX: not scheduled, it is fetched when first needed).
 * For diagnostics and tests.
 */
int64_t jwks_next_refresh_ms(struct jwks *j, size_t i);

/* Release what jwks_lookup handed out. */
void jwks_key_release(struct jwks_key *k);

/* Stop the thread and free everything. j may be NULL. */
void jwks_free(struct jwks *j);

#endif
