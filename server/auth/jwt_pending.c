/*
 * Stand-in for the JWT verifier until the jwt branch is merged: every
 * function reports that verification is not available, so STS answers
 * 501 for web identities.  Deleted when auth/jwt.c arrives.
 */
#include "auth/jwt.h"

int
jwt_verify(struct jwt_trust *t, const char *token,
           const struct jwt_expect *expect, struct jwt_verified *out,
           struct err *err)
{
    (void)t;
    (void)token;
    (void)expect;
    (void)out;
    return err_set(err, ERR_UNSUPPORTED, "no JWT verifier in this build");
}

const char *
jwt_issuer_url(const struct jwt_issuer *iss)
{
    (void)iss;
    return "";
}

void
jwt_verified_free(struct jwt_verified *v)
{
    (void)v;
}
