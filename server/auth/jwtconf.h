/*
 * The "jwt" configuration section, validated and turned into issuer
 * descriptions for auth/jwt.c.  Every key is checked; errors name the key
 * the way the rest of the configuration does ("jwt.issuers[0].audiences:
 * expected a non-empty array of strings").
 */
#ifndef LABGATE_JWTCONF_H
#define LABGATE_JWTCONF_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* JWS algorithms labgate verifies; bit i of an issuer's mask is alg i. */
enum jwtconf_alg {
    JWTCONF_RS256,
    JWTCONF_RS384,
    JWTCONF_RS512,
    JWTCONF_ES256,
    JWTCONF_ES384,
    JWTCONF_ALG_COUNT
};

/* One trusted issuer as configured (every string heap-owned). */
struct jwt_issuer {
    char *url;            /* exact "iss" */
    char **audiences;     /* NULL-terminated */
    char *jwks_uri;       /* NULL: discover */
    unsigned algs;        /* mask of enum jwtconf_alg */
    int leeway;           /* seconds */
    json_t *bound_claims; /* object: claim -> array of glob patterns */
    int allow_http;
    char *repository_claim;
    char *owner_claim;
};

/* The whole section. */
struct jwtconf {
    struct jwt_issuer *issuers;
    size_t n;
    char **required_scopes; /* NULL-terminated, or NULL for none */
};

#define JWTCONF_LEEWAY_DEFAULT 60
#define JWTCONF_LEEWAY_MAX 600

/* The name of alg ("RS256"), or NULL for an out-of-range value. */
const char *jwtconf_alg_name(enum jwtconf_alg alg);

/* Parse an algorithm name. Returns 0, or -1 for one labgate refuses. */
int jwtconf_alg_parse(const char *name, enum jwtconf_alg *out);

/*
 * Validate section (an object; empty means GitHub Actions' issuer with
 * audience "lab-api") into out.  Returns 0, or ERR_INVALID / ERR_NOMEM
 * with the reason naming the key; out is then empty.  Free with
 * jwtconf_free.
 */
int jwtconf_parse(json_t *section, struct jwtconf *out, struct err *err);

/* Free what jwtconf_parse filled; out may be partly filled or zeroed. */
void jwtconf_free(struct jwtconf *c);

#endif
