/*
 * OIDC JSON Web Token verification, shared by the JWT route
 * (auth/bearer.c) and the built-in STS (AssumeRoleWithWebIdentity).
 *
 * A struct jwt_trust holds the trusted issuers from the "jwt" section and
 * their JWKS key sets (fetched, cached in memory and in the store,
 * refreshed in the background).  jwt_verify checks one compact token
 * completely in labgate's own code: algorithm pinned per issuer and per
 * key, kid required, jku/x5u/jwk/x5c ignored, signature, iss, aud, exp,
 * nbf, iat with leeway, then optionally scopes and bound claims.
 *
 * All functions are thread-safe once jwt_trust_create has returned.
 */
#ifndef LABGATE_JWT_H
#define LABGATE_JWT_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "result.h"

struct store;
struct jwt_trust;
struct jwt_issuer;

#define JWT_TOKEN_MAX 8192

/* What a caller requires of a token beyond a valid signature and time. */
struct jwt_expect {
    /* NULL-terminated; NULL means the issuer's configured audiences. */
    const char *const *audiences;
    /* NULL-terminated, at least one required; NULL means no scope check. */
    const char *const *scopes;
    /* Non-zero: the issuer's bound_claims must match. */
    int bound_claims;
};

/* A verified token. */
struct jwt_verified {
    json_t *claims;                  /* every claim (owned reference) */
    const struct jwt_issuer *issuer; /* lives as long as the trust */
    const char *repository;          /* claim values, inside claims, */
    const char *owner;               /* or NULL when absent */
    int64_t expires;                 /* exp, seconds since the epoch */
    int insufficient_scope;          /* set with ERR_DENIED for scopes */
};

/*
 * Build the trust from the "jwt" configuration section (an empty object
 * means the default: GitHub Actions' issuer with audience "lab-api").
 * store (may be NULL in unit tests) persists key sets across restarts.
 * Returns 0, or ERR_INVALID naming the bad key ("jwt.issuers[0].issuer").
 */
int jwt_trust_create(struct jwt_trust **out, json_t *section,
                     struct store *store, struct err *err);

/*
 * Verify token (NUL-terminated, at most JWT_TOKEN_MAX bytes).  Returns 0
 * and fills out (free with jwt_verified_free); ERR_AUTH when the token is
 * missing, malformed, badly signed, expired or from an untrusted issuer,
 * or when no keys can be had for its issuer; ERR_DENIED when it is valid
 * but lacks a scope or fails a bound claim.  err holds the exact reason,
 * never the token.
 */
int jwt_verify(struct jwt_trust *t, const char *token,
               const struct jwt_expect *expect, struct jwt_verified *out,
               struct err *err);

/*
 * Copy issuer, subject, repository, owner and all claims (JSON text) of v
 * into ident.  Returns 0 or ERR_NOMEM.
 */
int jwt_identity_fill(const struct jwt_verified *v,
                      struct result_identity *ident);

/* The issuer URL (exactly as configured). */
const char *jwt_issuer_url(const struct jwt_issuer *iss);

void jwt_verified_free(struct jwt_verified *v);

/*
 * Attach the store after jwt_trust_create (used when the configuration is
 * checked before the database is opened): issuers without keys load
 * their persisted key sets, and later fetches are persisted.  NULL
 * detaches; after that returns no write is in progress, so the store may
 * be closed.  t may be NULL.
 */
void jwt_trust_attach_store(struct jwt_trust *t, struct store *store);

/*
 * The configured "required_scopes" (NULL-terminated), or NULL when none
 * are configured.  Owned by t.
 */
const char *const *jwt_trust_required_scopes(const struct jwt_trust *t);

/* Stop background refreshes and free everything. t may be NULL. */
void jwt_trust_free(struct jwt_trust *t);

#endif
