/*
 * The JWT verifier (auth/jwt.c, auth/jwks.c, auth/jwtconf.c) against a
 * real test issuer on loopback: every accepted shape, every refusal with
 * its exact reason, key rotation, refetch limits, persistence through a
 * real SQLite store, and the configuration errors.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "store.h"
#include "timefmt.h"
#include "tissuer.h"
#include "tsupport.h"

static struct tissuer *ti;
static struct jwt_trust *trust;

static void
setup(void)
{
    ti = tissuer_start();
    trust = NULL;
}

static void
teardown(void)
{
    jwt_trust_free(trust);
    tissuer_free(ti);
}

TestSuite(jwt, .init = setup, .fini = teardown, .timeout = 60);

/* Trust ti with extra issuer members (may be "") and section members. */
static void
trust_with(const char *issuer_extra, const char *section_extra)
{
    char text[2048];
    json_error_t je;
    json_t *section;
    struct err e = {0, ""};

    snprintf(text, sizeof text,
             "{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":[\"lab-api\"],"
             "\"algorithms\":[\"RS256\",\"ES256\"],"
             "\"allow_insecure_http\":true%s}]%s}",
             tissuer_url(ti), issuer_extra, section_extra);
    section = json_loads(text, 0, &je);
    cr_assert_not_null(section, "%s", je.text);
    cr_assert_eq(jwt_trust_create(&trust, section, NULL, &e), 0, "%s", e.msg);
    json_decref(section);
}

/* Verify token with expect; returns the code and the reason in why. */
static int
verify(const char *token, const struct jwt_expect *x, char *why, size_t n,
       int *scope)
{
    struct jwt_verified v;
    struct err e = {0, ""};
    int rc = jwt_verify(trust, token, x, &v, &e);

    snprintf(why, n, "%s", e.msg);
    if (scope)
        *scope = v.insufficient_scope;
    jwt_verified_free(&v);
    return rc;
}

static void
expect_refused(const char *token, int code, const char *reason)
{
    char why[ERR_MSG_MAX];

    cr_assert_eq(verify(token, NULL, why, sizeof why, NULL), code, "reason: %s",
                 why);
    cr_assert_str_eq(why, reason);
}

static char *
github_token(const char *kid, const char *aud, long exp_in)
{
    char *claims = tissuer_github_claims(ti, aud, exp_in, NULL);
    char *tok = tissuer_token(ti, kid, claims);

    free(claims);
    return tok;
}

Test(jwt, accepts_github_rs256_token_and_fills_identity)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    struct result_identity id;
    struct jwt_verified v;
    struct err e = {0, ""};
    json_t *claims;

    trust_with("", "");
    cr_assert_eq(jwt_verify(trust, tok, NULL, &v, &e), 0, "%s", e.msg);
    cr_assert_str_eq(v.repository, "octo-org/octo-repo");
    cr_assert_str_eq(v.owner, "octo-org");
    cr_assert_str_eq(jwt_issuer_url(v.issuer), tissuer_url(ti));
    cr_assert(v.expires > time(NULL) + 290);
    memset(&id, 0, sizeof id);
    cr_assert_eq(jwt_identity_fill(&v, &id), 0);
    cr_assert_str_eq(id.issuer, tissuer_url(ti));
    cr_assert_str_eq(id.subject, "repo:octo-org/octo-repo:ref:refs/heads/main");
    cr_assert_str_eq(id.repository, "octo-org/octo-repo");
    cr_assert_str_eq(id.owner, "octo-org");
    claims = json_loads(id.claims, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(claims, "run_id")),
                     "8123456789");
    cr_assert_str_eq(json_string_value(json_object_get(claims, "actor")),
                     "octocat");
    json_decref(claims);
    struct result r = {.ident = id};
    result_free(&r);
    jwt_verified_free(&v);
    free(tok);
}

Test(jwt, accepts_es256_and_audience_array)
{
    char *tok = github_token(TISSUER_KID_EC, "[\"other\",\"lab-api\"]", 300);
    char why[ERR_MSG_MAX];

    trust_with("", "");
    cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), 0, "%s", why);
    free(tok);
}

Test(jwt, second_check_of_a_token_needs_no_fetch)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char why[ERR_MSG_MAX];

    trust_with("", "");
    for (int i = 0; i < 50; i++)
        cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(tissuer_jwks_requests(ti), 1);
    cr_assert_eq(tissuer_discovery_requests(ti), 1);
    free(tok);
}

Test(jwt, refuses_alg_none)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *tok = tissuer_sign(ti, TISSUER_KID_RSA,
                             "{\"alg\":\"none\",\"kid\":\"rsa-1\"}", claims);

    trust_with("", "");
    expect_refused(tok, ERR_AUTH, "alg none is never accepted");
    free(claims);
    free(tok);
}

Test(jwt, refuses_hs256_keyed_with_the_public_key_pem)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *tok = tissuer_sign(ti, TISSUER_KID_RSA,
                             "{\"alg\":\"HS256\",\"typ\":\"JWT\","
                             "\"kid\":\"rsa-1\"}",
                             claims);

    trust_with("", "");
    expect_refused(tok, ERR_AUTH, "HMAC algorithm HS256 is never accepted");
    free(claims);
    free(tok);
}

Test(jwt, refuses_alg_that_does_not_fit_the_key)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    /* An ES256 header naming the RSA key, signed with the RSA key. */
    char *tok = tissuer_sign(ti, TISSUER_KID_RSA,
                             "{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", claims);

    trust_with("", "");
    expect_refused(tok, ERR_AUTH, "alg ES256 does not fit the RSA key rsa-1");
    free(tok);
    tok = tissuer_sign(ti, TISSUER_KID_EC,
                       "{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", claims);
    expect_refused(tok, ERR_AUTH,
                   "alg RS256 does not fit the EC P-256 key ec-1");
    free(claims);
    free(tok);
}

Test(jwt, refuses_alg_not_configured_for_the_issuer)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *tok = tissuer_sign(ti, TISSUER_KID_RSA,
                             "{\"alg\":\"RS512\",\"kid\":\"rsa-1\"}", claims);
    char reason[256];

    trust_with("", "");
    snprintf(reason, sizeof reason, "alg RS512 is not allowed for issuer %s",
             tissuer_url(ti));
    expect_refused(tok, ERR_AUTH, reason);
    free(claims);
    free(tok);
}

Test(jwt, accepts_rs512_and_es384_when_configured)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *rs = tissuer_sign(ti, TISSUER_KID_RSA,
                            "{\"alg\":\"RS512\",\"kid\":\"rsa-1\"}", claims);
    char *es, why[ERR_MSG_MAX];

    tissuer_add_key(ti, "ec384", TISSUER_EC_P384);
    es = tissuer_token(ti, "ec384", claims);
    /* The JWK of rsa-1 says alg RS256, so RS512 must still be refused. */
    trust_with(",\"algorithms\":[\"RS256\",\"RS512\",\"ES384\"]", "");
    cr_assert_eq(verify(rs, NULL, why, sizeof why, NULL), ERR_AUTH);
    cr_assert_str_eq(why, "alg RS512 differs from key rsa-1's alg RS256");
    cr_assert_eq(verify(es, NULL, why, sizeof why, NULL), 0, "%s", why);
    free(claims);
    free(rs);
    free(es);
}

Test(jwt, refuses_a_flipped_signature_bit)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *last = tok + strlen(tok) - 3;

    /* Change one base64url digit in the middle of the signature. */
    *last = *last == 'A' ? 'B' : 'A';
    trust_with("", "");
    expect_refused(tok, ERR_AUTH, "bad signature (kid rsa-1, alg RS256)");
    free(tok);
}

Test(jwt, refuses_a_bad_es256_signature)
{
    char *tok = github_token(TISSUER_KID_EC, "\"lab-api\"", 300);

    tok[strlen(tok) - 10] = tok[strlen(tok) - 10] == 'x' ? 'y' : 'x';
    trust_with("", "");
    expect_refused(tok, ERR_AUTH, "bad signature (kid ec-1, alg ES256)");
    free(tok);
}

Test(jwt, refuses_truncated_garbage_and_oversized_tokens)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *big = malloc(JWT_TOKEN_MAX + 2);

    trust_with("", "");
    /* 100 base64url digits decode exactly, to a too-short signature. */
    strrchr(tok, '.')[101] = '\0';
    expect_refused(tok, ERR_AUTH, "bad signature (kid rsa-1, alg RS256)");
    *strrchr(tok, '.') = '\0';
    expect_refused(tok, ERR_AUTH,
                   "malformed token: not three base64url "
                   "parts (header.payload.signature)");
    expect_refused("garbage", ERR_AUTH,
                   "malformed token: not three "
                   "base64url parts (header.payload.signature)");
    expect_refused("e30.e30.e30", ERR_AUTH, "header has no alg");
    expect_refused("a$b.c.d", ERR_AUTH,
                   "malformed token: not three "
                   "base64url parts (header.payload.signature)");
    memset(big, 'a', JWT_TOKEN_MAX + 1);
    big[JWT_TOKEN_MAX + 1] = '\0';
    expect_refused(big, ERR_AUTH, "token longer than 8192 bytes");
    expect_refused("", ERR_AUTH, "no token");
    free(big);
    free(tok);
}

Test(jwt, refuses_unknown_kid_and_missing_kid)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *tok, reason[256];

    tissuer_add_key(ti, "secret", TISSUER_RSA2048);
    tissuer_publish(ti, "secret", 0);
    tok = tissuer_token(ti, "secret", claims);
    trust_with("", "");
    snprintf(reason, sizeof reason, "kid secret is not in the key set of %s",
             tissuer_url(ti));
    expect_refused(tok, ERR_AUTH, reason);
    free(tok);
    tok = tissuer_sign(ti, TISSUER_KID_RSA, "{\"alg\":\"RS256\"}", claims);
    expect_refused(tok, ERR_AUTH, "header has no usable kid");
    free(tok);
    free(claims);
}

Test(jwt, ignores_jku_pointing_at_another_key_set)
{
    struct tissuer *evil = tissuer_start();
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char header[256], reason[256], *tok;

    tissuer_add_key(evil, "evil-1", TISSUER_RSA2048);
    snprintf(header, sizeof header,
             "{\"alg\":\"RS256\",\"kid\":\"evil-1\",\"jku\":\"%s\"}",
             tissuer_jwks_uri(evil));
    tok = tissuer_sign(evil, "evil-1", header, claims);
    trust_with("", "");
    snprintf(reason, sizeof reason, "kid evil-1 is not in the key set of %s",
             tissuer_url(ti));
    expect_refused(tok, ERR_AUTH, reason);
    cr_assert_eq(tissuer_jwks_requests(evil), 0);
    free(tok);
    /* The same trick with a kid the real issuer has: bad signature. */
    snprintf(header, sizeof header,
             "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"jku\":\"%s\"}",
             tissuer_jwks_uri(evil));
    tok = tissuer_sign(evil, "evil-1", header, claims);
    expect_refused(tok, ERR_AUTH, "bad signature (kid rsa-1, alg RS256)");
    cr_assert_eq(tissuer_jwks_requests(evil), 0);
    free(tok);
    free(claims);
    tissuer_free(evil);
}

/* A token from ti with the given time claims (0: left out). */
static char *
timed_token(long exp, long nbf, long iat)
{
    char claims[512];
    size_t n;

    n = (size_t)snprintf(claims, sizeof claims,
                         "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\"",
                         tissuer_url(ti));
    if (exp)
        n += (size_t)snprintf(claims + n, sizeof claims - n, ",\"exp\":%ld",
                              exp);
    if (nbf)
        n += (size_t)snprintf(claims + n, sizeof claims - n, ",\"nbf\":%ld",
                              nbf);
    if (iat)
        n += (size_t)snprintf(claims + n, sizeof claims - n, ",\"iat\":%ld",
                              iat);
    snprintf(claims + n, sizeof claims - n, "}");
    return tissuer_token(ti, TISSUER_KID_RSA, claims);
}

static void
expect_time_refusal(char *tok, const char *what, long when, const char *claim)
{
    char iso[32], reason[128];

    timefmt_iso8601((int64_t)when * 1000, iso, sizeof iso);
    snprintf(reason, sizeof reason, "%s %s (%s)", what, iso, claim);
    expect_refused(tok, ERR_AUTH, reason);
    free(tok);
}

Test(jwt, refuses_expired_and_future_tokens)
{
    long now = (long)time(NULL);
    char *tok;

    trust_with("", "");
    expect_time_refusal(timed_token(now - 61, 0, 0), "expired at", now - 61,
                        "exp");
    /* Within the 60 s leeway an expired token still passes. */
    tok = timed_token(now - 30, 0, now - 100);
    expect_refused(tok, 0, "");
    free(tok);
    expect_time_refusal(timed_token(now + 600, now + 300, 0),
                        "not valid before", now + 300, "nbf");
    expect_time_refusal(timed_token(now + 600, 0, now + 120),
                        "issued in the future at", now + 120, "iat");
    /* nbf and iat within the leeway pass. */
    tok = timed_token(now + 600, now + 30, now + 30);
    expect_refused(tok, 0, "");
    free(tok);
    tok = timed_token(0, now, now);
    expect_refused(tok, ERR_AUTH, "exp missing");
    free(tok);
}

Test(jwt, refuses_wrong_issuer_and_audience)
{
    long now = (long)time(NULL);
    char claims[512], *tok;

    trust_with("", "");
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s/\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"exp\":%ld}",
             tissuer_url(ti), now + 600);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    snprintf(claims, sizeof claims, "issuer %s/ is not trusted",
             tissuer_url(ti));
    expect_refused(tok, ERR_AUTH, claims);
    free(tok);
    tok = github_token(TISSUER_KID_RSA, "\"lab-api-2\"", 300);
    expect_refused(tok, ERR_AUTH,
                   "aud does not name an accepted audience "
                   "(expected lab-api)");
    free(tok);
    tok = github_token(TISSUER_KID_RSA, "[\"a\",\"b\"]", 300);
    expect_refused(tok, ERR_AUTH,
                   "aud does not name an accepted audience "
                   "(expected lab-api)");
    free(tok);
}

Test(jwt, refuses_identity_claims_that_are_not_strings)
{
    long now = (long)time(NULL);
    char claims[512], *tok;

    trust_with("", "");
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":42,\"exp\":%ld}",
             tissuer_url(ti), now + 600);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    expect_refused(tok, ERR_AUTH, "sub missing or not a string");
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"repository\":[\"x\"],\"exp\":%ld}",
             tissuer_url(ti), now + 600);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    expect_refused(tok, ERR_AUTH, "claim repository is not a string");
    free(tok);
}

Test(jwt, rotation_accepts_new_kid_and_drops_the_removed_one)
{
    char *old = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *fresh, why[ERR_MSG_MAX], reason[256];

    trust_with("", "");
    cr_assert_eq(verify(old, NULL, why, sizeof why, NULL), 0, "%s", why);
    tissuer_add_key(ti, "rsa-2", TISSUER_RSA2048);
    tissuer_publish(ti, TISSUER_KID_RSA, 0);
    fresh = github_token("rsa-2", "\"lab-api\"", 300);
    cr_assert_eq(verify(fresh, NULL, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(tissuer_jwks_requests(ti), 2);
    /* The old token was cached, but its key has left the set. */
    snprintf(reason, sizeof reason,
             "kid rsa-1 is not in the key set of %s (refetch limited to one "
             "per minute)",
             tissuer_url(ti));
    expect_refused(old, ERR_AUTH, reason);
    free(old);
    old = github_token(TISSUER_KID_RSA, "\"lab-api\"", 200);
    expect_refused(old, ERR_AUTH, reason);
    free(old);
    free(fresh);
}

Test(jwt, unknown_kid_flood_costs_one_fetch)
{
    char *good = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char why[ERR_MSG_MAX], kid[32], header[128];

    trust_with("", "");
    cr_assert_eq(verify(good, NULL, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(tissuer_jwks_requests(ti), 1);
    for (int i = 0; i < 200; i++) {
        char *tok;
        snprintf(kid, sizeof kid, "nope-%d", i);
        snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"kid\":\"%s\"}",
                 kid);
        tok = tissuer_sign(ti, TISSUER_KID_RSA, header, claims);
        cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), ERR_AUTH);
        free(tok);
    }
    cr_assert_eq(tissuer_jwks_requests(ti), 2);
    cr_assert_eq(verify(good, NULL, why, sizeof why, NULL), 0, "%s", why);
    free(claims);
    free(good);
}

Test(jwt, failing_issuer_is_asked_once_per_back_off)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char reason[512];

    tissuer_set_status(ti, 503);
    trust_with("", "");
    snprintf(reason, sizeof reason,
             "no keys for issuer %s: %s/.well-known/openid-configuration: "
             "HTTP status 503",
             tissuer_url(ti), tissuer_url(ti));
    for (int i = 0; i < 100; i++)
        expect_refused(tok, ERR_AUTH, reason);
    cr_assert_eq(tissuer_discovery_requests(ti), 1);
    cr_assert_eq(tissuer_jwks_requests(ti), 0);
    free(tok);
}

Test(jwt, unreachable_issuer_is_a_401_with_the_reason)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char reason[512];

    tissuer_down(ti);
    trust_with("", "");
    snprintf(reason, sizeof reason,
             "no keys for issuer %s: %s/.well-known/openid-configuration: "
             "Couldn't connect to server",
             tissuer_url(ti), tissuer_url(ti));
    expect_refused(tok, ERR_AUTH, reason);
    free(tok);
}

Test(jwt, cached_keys_survive_the_issuer_going_down)
{
    char *a = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *b = github_token(TISSUER_KID_EC, "\"lab-api\"", 301);
    char *c, why[ERR_MSG_MAX], reason[512];

    trust_with("", "");
    cr_assert_eq(verify(a, NULL, why, sizeof why, NULL), 0, "%s", why);
    tissuer_down(ti);
    /* A token not seen before, signed by a cached key. */
    cr_assert_eq(verify(b, NULL, why, sizeof why, NULL), 0, "%s", why);
    tissuer_add_key(ti, "late", TISSUER_RSA2048);
    c = github_token("late", "\"lab-api\"", 300);
    snprintf(reason, sizeof reason, "kid late is not in the key set of %s",
             tissuer_url(ti));
    expect_refused(c, ERR_AUTH, reason);
    free(a);
    free(b);
    free(c);
}

Test(jwt, required_scope_from_scope_string_or_scp_array)
{
    const char *scopes[] = {"results:write", "admin", NULL};
    struct jwt_expect x = {NULL, scopes, 1};
    char *c1 = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"scope\":\"openid results:write\"");
    char *c2 = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"scp\":[\"read\",\"admin\"]");
    char *c3 = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"scope\":\"openid results:read\"");
    char *t1 = tissuer_token(ti, TISSUER_KID_RSA, c1);
    char *t2 = tissuer_token(ti, TISSUER_KID_RSA, c2);
    char *t3 = tissuer_token(ti, TISSUER_KID_RSA, c3);
    char *t4 = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char why[ERR_MSG_MAX];
    int scope = 0;

    trust_with("", "");
    cr_assert_eq(verify(t1, &x, why, sizeof why, &scope), 0, "%s", why);
    cr_assert_eq(verify(t2, &x, why, sizeof why, &scope), 0, "%s", why);
    cr_assert_eq(verify(t3, &x, why, sizeof why, &scope), ERR_DENIED);
    cr_assert_str_eq(why, "token has none of the required scopes "
                          "(results:write, ...)");
    cr_assert_eq(scope, 1);
    cr_assert_eq(verify(t4, &x, why, sizeof why, &scope), ERR_DENIED);
    cr_assert_eq(scope, 1);
    /* Without a scope requirement the same tokens pass. */
    cr_assert_eq(verify(t3, NULL, why, sizeof why, &scope), 0, "%s", why);
    cr_assert_eq(scope, 0);
    free(c1), free(c2), free(c3);
    free(t1), free(t2), free(t3), free(t4);
}

Test(jwt, configured_required_scopes_are_exposed)
{
    trust_with("", ",\"required_scopes\":[\"results:write\"]");
    cr_assert_str_eq(jwt_trust_required_scopes(trust)[0], "results:write");
    cr_assert_null(jwt_trust_required_scopes(trust)[1]);
}

Test(jwt, bound_claims_match_globs)
{
    struct jwt_expect x = {NULL, NULL, 1};
    char *cg = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"environment\":\"prod-eu\"");
    char *cb = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"environment\":\"staging\"");
    char *ca = tissuer_github_claims(ti, "\"lab-api\"", 300,
                                     ",\"environment\":[\"dev\",\"prod-us\"]");
    char *good = tissuer_token(ti, TISSUER_KID_RSA, cg);
    char *bad = tissuer_token(ti, TISSUER_KID_RSA, cb);
    char *arr = tissuer_token(ti, TISSUER_KID_RSA, ca);
    char why[ERR_MSG_MAX];
    int scope = 1;

    trust_with(",\"bound_claims\":{\"repository\":[\"octo-org/*\"],"
               "\"environment\":[\"prod-*\"],"
               "\"ref\":[\"refs/heads/main\",\"refs/tags/v*\"]}",
               "");
    cr_assert_eq(verify(good, &x, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(verify(arr, &x, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(verify(bad, &x, why, sizeof why, &scope), ERR_DENIED);
    cr_assert_str_eq(why, "claim environment does not match bound_claims");
    cr_assert_eq(scope, 0);
    /* A caller that does not ask for bound claims is not held to them. */
    x.bound_claims = 0;
    cr_assert_eq(verify(bad, &x, why, sizeof why, NULL), 0, "%s", why);
    free(good), free(bad), free(arr);
    free(cg), free(cb), free(ca);
}

Test(jwt, missing_bound_claim_is_forbidden)
{
    struct jwt_expect x = {NULL, NULL, 1};
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char why[ERR_MSG_MAX];

    trust_with(",\"bound_claims\":{\"environment\":[\"prod\"]}", "");
    cr_assert_eq(verify(tok, &x, why, sizeof why, NULL), ERR_DENIED);
    cr_assert_str_eq(why, "claim environment is missing for bound_claims");
    free(tok);
}

Test(jwt, caller_audiences_replace_the_configured_ones)
{
    const char *aud[] = {"sts.amazonaws.com", NULL};
    struct jwt_expect x = {aud, NULL, 0};
    char *sts = github_token(TISSUER_KID_RSA, "\"sts.amazonaws.com\"", 300);
    char *lab = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char why[ERR_MSG_MAX];

    trust_with("", "");
    cr_assert_eq(verify(sts, &x, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(verify(lab, &x, why, sizeof why, NULL), ERR_AUTH);
    cr_assert_str_eq(why, "aud does not name an accepted audience "
                          "(expected sts.amazonaws.com)");
    cr_assert_eq(verify(sts, NULL, why, sizeof why, NULL), ERR_AUTH);
    free(sts);
    free(lab);
}

Test(jwt, custom_repository_and_owner_claims)
{
    char *c = tissuer_github_claims(
        ti, "\"lab-api\"", 300,
        ",\"project_path\":\"group/project\",\"namespace_path\":\"group\"");
    char *tok = tissuer_token(ti, TISSUER_KID_RSA, c);
    struct jwt_verified v;
    struct err e = {0, ""};

    trust_with(",\"repository_claim\":\"project_path\","
               "\"owner_claim\":\"namespace_path\"",
               "");
    cr_assert_eq(jwt_verify(trust, tok, NULL, &v, &e), 0, "%s", e.msg);
    cr_assert_str_eq(v.repository, "group/project");
    cr_assert_str_eq(v.owner, "group");
    jwt_verified_free(&v);
    free(c);
    free(tok);
}

Test(jwt, configured_jwks_uri_skips_discovery)
{
    char extra[256], why[ERR_MSG_MAX];
    char *tok = github_token(TISSUER_KID_EC, "\"lab-api\"", 300);

    snprintf(extra, sizeof extra, ",\"jwks_uri\":\"%s\"", tissuer_jwks_uri(ti));
    trust_with(extra, "");
    cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(tissuer_discovery_requests(ti), 0);
    cr_assert_eq(tissuer_jwks_requests(ti), 1);
    free(tok);
}

/* A fresh store in a temporary directory. */
static struct store *
open_store(char *dir, size_t n)
{
    struct store_options o = {NULL, 16, 64, 2, NULL, 0, 0, 0};
    struct store *s = NULL;
    struct err e = {0, ""};
    char path[256];

    snprintf(dir, n, "/tmp/labgate-jwt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/db", dir);
    o.path = path;
    cr_assert_eq(store_open(&s, &o, &e), 0, "%s", e.msg);
    return s;
}

Test(jwt, persisted_key_set_serves_while_the_issuer_is_down)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char dir[64], why[ERR_MSG_MAX], rm[128];
    struct store *st = open_store(dir, sizeof dir);

    trust_with("", "");
    jwt_trust_attach_store(trust, st);
    cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), 0, "%s", why);
    jwt_trust_attach_store(trust, NULL);
    jwt_trust_free(trust);
    trust = NULL;
    tissuer_down(ti);
    /* A new trust (a restart) loads the stored set; no fetch needed. */
    trust_with("", "");
    jwt_trust_attach_store(trust, st);
    cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), 0, "%s", why);
    jwt_trust_attach_store(trust, NULL);
    store_close(st);
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    cr_assert_eq(system(rm), 0);
    free(tok);
}

static void
expect_config_error(const char *text, const char *message)
{
    json_t *section = json_loads(text, 0, NULL);
    struct jwt_trust *t = NULL;
    struct err e = {0, ""};

    cr_assert_not_null(section, "%s", text);
    cr_assert_eq(jwt_trust_create(&t, section, NULL, &e), ERR_INVALID, "%s",
                 text);
    cr_assert_null(t);
    cr_assert_str_eq(e.msg, message);
    json_decref(section);
}

Test(jwt, configuration_errors_name_the_key)
{
    expect_config_error("{\"issuer\":\"x\"}", "jwt.issuer: unknown key");
    expect_config_error("{\"issuers\":[]}",
                        "jwt.issuers: expected a non-empty array of issuer "
                        "objects");
    expect_config_error("{\"issuers\":[{\"audiences\":[\"a\"]}]}",
                        "jwt.issuers[0].issuer: required key is missing");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\"}]}",
                        "jwt.issuers[0].audiences: required key is missing");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[]}]}",
                        "jwt.issuers[0].audiences: expected a non-empty "
                        "array of non-empty strings");
    expect_config_error("{\"issuers\":[{\"issuer\":\"http://a\","
                        "\"audiences\":[\"x\"]}]}",
                        "jwt.issuers[0].issuer: expected an https:// URL "
                        "(http:// only with allow_insecure_http)");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"algorithms\":[\"HS256\"]}]}",
                        "jwt.issuers[0].algorithms[0]: expected RS256, "
                        "RS384, RS512, ES256 or ES384 (none and HMAC are "
                        "never accepted)");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"leeway_seconds\":-1}]}",
                        "jwt.issuers[0].leeway_seconds: expected an integer "
                        "from 0 to 600");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"bound_claims\":"
                        "{\"ref\":\"main\"}}]}",
                        "jwt.issuers[0].bound_claims.ref: expected a "
                        "non-empty array of non-empty strings");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"colour\":1}]}",
                        "jwt.issuers[0].colour: unknown key");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"jwks_uri\":\"ftp://k\"}]}",
                        "jwt.issuers[0].jwks_uri: expected an https:// URL "
                        "(http:// only with allow_insecure_http)");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"]},{\"issuer\":\"https://a\","
                        "\"audiences\":[\"y\"]}]}",
                        "jwt.issuers[1].issuer: the same issuer is already "
                        "jwt.issuers[0]");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"allow_insecure_http\":1}]}",
                        "jwt.issuers[0].allow_insecure_http: expected true "
                        "or false");
    expect_config_error("{\"issuers\":[{\"issuer\":\"https://a\","
                        "\"audiences\":[\"x\"],\"owner_claim\":\"\"}]}",
                        "jwt.issuers[0].owner_claim: expected a non-empty "
                        "string");
    expect_config_error("{\"required_scopes\":\"write\"}",
                        "jwt.required_scopes: expected a non-empty array of "
                        "non-empty strings");
}

Test(jwt, empty_section_trusts_github_actions_only)
{
    json_t *section = json_object();
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char why[ERR_MSG_MAX], reason[256];
    struct err e = {0, ""};

    /* No token for the default issuer is verified, so nothing is fetched
     * from the internet; a test-issuer token is simply not trusted. */
    cr_assert_eq(jwt_trust_create(&trust, section, NULL, &e), 0, "%s", e.msg);
    cr_assert_null(jwt_trust_required_scopes(trust));
    snprintf(reason, sizeof reason, "issuer %s is not trusted",
             tissuer_url(ti));
    cr_assert_eq(verify(tok, NULL, why, sizeof why, NULL), ERR_AUTH);
    cr_assert_str_eq(why, reason);
    json_decref(section);
    free(tok);
}

Test(jwt, each_issuer_is_checked_against_its_own_keys)
{
    struct tissuer *other = tissuer_start();
    char text[1024], why[ERR_MSG_MAX];
    char *mine = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300);
    char *c = tissuer_github_claims(other, "\"ci\"", 300, NULL);
    char *theirs = tissuer_token(other, TISSUER_KID_RSA, c);
    char *claims_mine = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    /* Same kid "rsa-1" at both issuers: the other issuer's key must not
     * verify a token that names this issuer. */
    char *forged = tissuer_token(other, TISSUER_KID_RSA, claims_mine);
    struct err e = {0, ""};
    json_t *section;

    snprintf(text, sizeof text,
             "{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":[\"lab-api\"],"
             "\"allow_insecure_http\":true},{\"issuer\":\"%s\","
             "\"audiences\":[\"ci\"],\"allow_insecure_http\":true}]}",
             tissuer_url(ti), tissuer_url(other));
    section = json_loads(text, 0, NULL);
    cr_assert_eq(jwt_trust_create(&trust, section, NULL, &e), 0, "%s", e.msg);
    json_decref(section);
    cr_assert_eq(verify(mine, NULL, why, sizeof why, NULL), 0, "%s", why);
    cr_assert_eq(verify(theirs, NULL, why, sizeof why, NULL), 0, "%s", why);
    expect_refused(forged, ERR_AUTH, "bad signature (kid rsa-1, alg RS256)");
    free(mine), free(c), free(theirs), free(claims_mine), free(forged);
    tissuer_free(other);
}

#define CONC_THREADS 6
#define CONC_TOKENS 60

struct conc_arg {
    char *tokens[CONC_TOKENS];
    int failures;
};

static void *
conc_verify(void *p)
{
    struct conc_arg *a = p;
    char why[ERR_MSG_MAX];

    for (int round = 0; round < 3; round++)
        for (int i = 0; i < CONC_TOKENS; i++)
            if (verify(a->tokens[i], NULL, why, sizeof why, NULL) != 0)
                a->failures++;
    return NULL;
}

Test(jwt, concurrent_checks_survive_a_key_set_replacement)
{
    struct conc_arg args[CONC_THREADS];
    pthread_t th[CONC_THREADS];
    char *fresh, why[ERR_MSG_MAX];

    trust_with("", "");
    for (int t = 0; t < CONC_THREADS; t++) {
        args[t].failures = 0;
        for (int i = 0; i < CONC_TOKENS; i++) {
            char extra[32], *c;
            snprintf(extra, sizeof extra, ",\"n\":%d", t * 1000 + i);
            c = tissuer_github_claims(ti, "\"lab-api\"", 300, extra);
            args[t].tokens[i] =
                tissuer_token(ti, i % 2 ? TISSUER_KID_EC : TISSUER_KID_RSA, c);
            free(c);
        }
    }
    cr_assert_eq(verify(args[0].tokens[0], NULL, why, sizeof why, NULL), 0,
                 "%s", why);
    tissuer_add_key(ti, "rsa-2", TISSUER_RSA2048);
    fresh = github_token("rsa-2", "\"lab-api\"", 300);
    for (int t = 0; t < CONC_THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, conc_verify, &args[t]), 0);
    /* An unknown kid makes the cache fetch and swap the whole set while
     * the threads hold references to keys of the old one. */
    cr_assert_eq(verify(fresh, NULL, why, sizeof why, NULL), 0, "%s", why);
    for (int t = 0; t < CONC_THREADS; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(args[t].failures, 0);
        for (int i = 0; i < CONC_TOKENS; i++)
            free(args[t].tokens[i]);
    }
    cr_assert_eq(tissuer_jwks_requests(ti), 2);
    free(fresh);
}
