/*
 * The JWT verifier (auth/jwt.c, auth/jwks.c, auth/jwtconf.c) against a
 * real test issuer on loopback: every accepted shape, every refusal with
 * its exact reason, key rotation, refetch limits, persistence through a
 * real SQLite store, and the configuration errors.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "store.h"
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

Test(jwt, refuses_expired_and_future_tokens)
{
    char *tok, claims[512];
    long now = (long)time(NULL);

    trust_with("", "");
    tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", -61);
    expect_refused(tok, ERR_AUTH, "expired 61 s ago");
    free(tok);
    /* Within the 60 s leeway an expired token still passes. */
    tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", -30);
    expect_refused(tok, 0, "");
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"exp\":%ld,\"nbf\":%ld}",
             tissuer_url(ti), now + 600, now + 300);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    expect_refused(tok, ERR_AUTH, "not valid for another 300 s (nbf)");
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"exp\":%ld,\"iat\":%ld}",
             tissuer_url(ti), now + 600, now + 120);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    expect_refused(tok, ERR_AUTH, "issued 120 s in the future (iat)");
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\"}",
             tissuer_url(ti));
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
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
