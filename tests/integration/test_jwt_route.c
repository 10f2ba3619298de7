/*
 * POST /lab/results-secure end to end: the real labgate-server trusting a
 * real test OIDC issuer on loopback, tokens sent over real HTTP.  Each
 * accepted case checks the answer and the stored row's identity columns;
 * each refusal checks the exact status, body, WWW-Authenticate and that
 * nothing was stored; the log must say why and never hold the token.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timefmt.h"
#include "tissuer.h"
#include "tsupport.h"

static struct tsrv srv;
static struct tissuer *ti;

static void
setup(void)
{
    ti = tissuer_start();
    tsrv_init(&srv);
}

static void
teardown(void)
{
    if (srv.pid > 0)
        cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
    tissuer_free(ti);
}

TestSuite(jwt_route, .init = setup, .fini = teardown, .timeout = 120);

/* Start the server trusting ti; extras go inside the issuer and section. */
static void
start_server(const char *issuer_extra, const char *section_extra)
{
    char cfg[2048];

    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"iam\":{},\"jwt\":{\"issuers\":[{\"issuer\":\"%s\","
             "\"audiences\":[\"lab-api\"],\"algorithms\":[\"RS256\","
             "\"ES256\"],\"allow_insecure_http\":true%s}]%s}}",
             tissuer_url(ti), issuer_extra, section_extra);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

static int
post_auth(const char *authorization, struct tresp *r)
{
    static const char body[] = "{\"status\":\"pass\",\"suite\":\"secure\"}";
    char url[128], *hdr = NULL;
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    int rc;

    if (authorization != NULL) {
        size_t n = strlen(authorization) + 32;
        hdr = malloc(n);
        snprintf(hdr, n, "Authorization: %s", authorization);
        headers[1] = hdr;
    }
    snprintf(url, sizeof url, "%s/lab/results-secure", srv.base);
    rc = thttp("POST", url, headers, body, strlen(body), r);
    free(hdr);
    return rc;
}

static int
post_token(const char *token, struct tresp *r)
{
    char *h = malloc(strlen(token) + 16);
    int rc;

    sprintf(h, "Bearer %s", token);
    rc = post_auth(h, r);
    free(h);
    return rc;
}

/* A 401 with its exact challenge, nothing stored, the reason logged. */
static void
expect_401(const char *authorization, const char *description)
{
    struct tresp r;
    char www[1024], want[1024], logged[512];
    int before = tsrv_count_rows(&srv, "");

    cr_assert_eq(post_auth(authorization, &r), 0);
    cr_assert_eq(r.status, 401, "status %ld: %s", r.status, r.body);
    cr_assert_str_eq(r.body, "{\"message\":\"Unauthorized\"}");
    cr_assert_eq(tresp_header(&r, "WWW-Authenticate", www, sizeof www), 0);
    snprintf(want, sizeof want,
             "Bearer error=\"invalid_token\", error_description=\"%s\"",
             description);
    cr_assert_str_eq(www, want);
    cr_assert_eq(tsrv_count_rows(&srv, ""), before);
    snprintf(logged, sizeof logged, "status=401 reason=\"%s\"", description);
    cr_assert(tsrv_log_has(&srv, logged), "log lacks %s", logged);
    tresp_free(&r);
}

static void
expect_token_401(const char *token, const char *description)
{
    char *h = malloc(strlen(token) + 16);

    sprintf(h, "Bearer %s", token);
    expect_401(h, description);
    cr_assert(!tsrv_log_has(&srv, token), "the token was logged");
    free(h);
}

static char *
github_token(const char *kid, const char *aud, long exp_in, const char *x)
{
    char *claims = tissuer_github_claims(ti, aud, exp_in, x);
    char *tok = tissuer_token(ti, kid, claims);

    free(claims);
    return tok;
}

/* Post token, expect 201, and check the answer and the stored row. */
static void
expect_stored(const char *token)
{
    static const char sub[] = "repo:octo-org/octo-repo:ref:refs/heads/main";
    struct tresp r;
    json_t *j, *id, *claims;
    sqlite3 *db;
    sqlite3_stmt *q;
    char sql[256];

    cr_assert_eq(post_token(token, &r), 0);
    cr_assert_eq(r.status, 201, "status %ld: %s", r.status, r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "auth")), "jwt");
    cr_assert_str_eq(json_string_value(json_object_get(j, "route")),
                     "/lab/results-secure");
    cr_assert_str_eq(json_string_value(json_object_get(j, "principal")), sub);
    id = json_object_get(j, "identity");
    cr_assert_str_eq(json_string_value(json_object_get(id, "issuer")),
                     tissuer_url(ti));
    cr_assert_str_eq(json_string_value(json_object_get(id, "repository")),
                     "octo-org/octo-repo");
    snprintf(sql, sizeof sql,
             "SELECT auth, principal, issuer, subject, repository, owner, "
             "claims FROM results WHERE id = %lld",
             (long long)json_integer_value(json_object_get(j, "id")));
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "jwt");
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 1), sub);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 2), tissuer_url(ti));
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 3), sub);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 4),
                     "octo-org/octo-repo");
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 5), "octo-org");
    claims = json_loads((const char *)sqlite3_column_text(q, 6), 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(claims, "workflow")),
                     "ci");
    cr_assert_str_eq(json_string_value(json_object_get(claims, "run_attempt")),
                     "1");
    cr_assert_str_eq(json_string_value(json_object_get(claims, "sha")),
                     "d6b8c1e0a5f4b3c2d1e0f9a8b7c6d5e4f3a2b1c0");
    json_decref(claims);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert(!tsrv_log_has(&srv, token), "the token was logged");
    json_decref(j);
    tresp_free(&r);
}

Test(jwt_route, github_shaped_rs256_token_is_stored_with_identity)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    struct tresp r;
    json_t *j;

    start_server("", "");
    expect_stored(tok);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 1);
    /* The read API filters on the recorded identity. */
    cr_assert_eq(thttp_get(&srv,
                           "/lab/results?repository=octo-org%2Focto-repo"
                           "&owner=octo-org&subject=repo%3Aocto-org%2Focto-"
                           "repo%3Aref%3Arefs%2Fheads%2Fmain&auth=jwt",
                           &r),
                 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 1);
    json_decref(j);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/lab/results?owner=someone-else", &r), 0);
    j = json_loads(r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 0);
    json_decref(j);
    tresp_free(&r);
    free(tok);
}

Test(jwt_route, es256_and_audience_array_and_scheme_case)
{
    char *a = github_token(TISSUER_KID_EC, "\"lab-api\"", 300, NULL);
    char *b = github_token(TISSUER_KID_RSA, "[\"x\",\"lab-api\"]", 300, NULL);
    char *h = malloc(strlen(b) + 16);
    struct tresp r;

    start_server("", "");
    expect_stored(a);
    sprintf(h, "bEaReR   %s ", b);
    cr_assert_eq(post_auth(h, &r), 0);
    cr_assert_eq(r.status, 201, "status %ld: %s", r.status, r.body);
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 2);
    free(a);
    free(b);
    free(h);
}

Test(jwt_route, missing_malformed_and_forged_tokens_get_401)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char *tok, *big;

    start_server("", "");
    expect_401(NULL, "no Authorization header");
    expect_401("Basic dXNlcjpwYXNz", "Authorization scheme is not Bearer");
    expect_401("Bearer", "empty bearer token");
    expect_401("Bearerx abc", "Authorization scheme is not Bearer");
    expect_401("Bearer not-a-token",
               "malformed token: not three base64url parts "
               "(header.payload.signature)");
    tok = tissuer_sign(ti, TISSUER_KID_RSA,
                       "{\"alg\":\"none\",\"kid\":\"rsa-1\"}", claims);
    expect_token_401(tok, "alg none is never accepted");
    free(tok);
    tok = tissuer_sign(ti, TISSUER_KID_RSA,
                       "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", claims);
    expect_token_401(tok, "HMAC algorithm HS256 is never accepted");
    free(tok);
    big = malloc(9000);
    memset(big, 'A', 8999);
    big[8999] = '\0';
    memcpy(big, "Bearer ", 7);
    expect_401(big, "bearer token larger than 8192 bytes");
    free(big);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
    free(claims);
}

Test(jwt_route, bad_signatures_and_claims_get_401)
{
    long now = (long)time(NULL);
    char claims[512], want[512], iso[32], *tok;

    start_server("", "");
    tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'Q' ? 'R' : 'Q';
    expect_token_401(tok, "bad signature (kid rsa-1, alg RS256)");
    strrchr(tok, '.')[101] = '\0';
    expect_token_401(tok, "bad signature (kid rsa-1, alg RS256)");
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"exp\":%ld}",
             tissuer_url(ti), now - 120);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    timefmt_iso8601((int64_t)(now - 120) * 1000, iso, sizeof iso);
    snprintf(want, sizeof want, "expired at %s (exp)", iso);
    expect_token_401(tok, want);
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"s\","
             "\"exp\":%ld,\"nbf\":%ld}",
             tissuer_url(ti), now + 900, now + 600);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    timefmt_iso8601((int64_t)(now + 600) * 1000, iso, sizeof iso);
    snprintf(want, sizeof want, "not valid before %s (nbf)", iso);
    expect_token_401(tok, want);
    free(tok);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"https://token.actions.githubusercontent.com\","
             "\"aud\":\"lab-api\",\"sub\":\"s\",\"exp\":%ld}",
             now + 900);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    expect_token_401(tok, "issuer https://token.actions.githubusercontent.com"
                          " is not trusted");
    free(tok);
    tok = github_token(TISSUER_KID_RSA, "\"other-api\"", 300, NULL);
    expect_token_401(tok, "aud does not name an accepted audience "
                          "(expected lab-api)");
    free(tok);
    snprintf(want, sizeof want, "kid gone is not in the key set of %s",
             tissuer_url(ti));
    tissuer_add_key(ti, "gone", TISSUER_RSA2048);
    tissuer_publish(ti, "gone", 0);
    tok = github_token("gone", "\"lab-api\"", 300, NULL);
    expect_token_401(tok, want);
    free(tok);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(jwt_route, jku_to_another_key_set_is_not_followed)
{
    struct tissuer *evil = tissuer_start();
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char header[256], want[256], *tok;

    start_server("", "");
    tissuer_add_key(evil, "evil-1", TISSUER_RSA2048);
    snprintf(header, sizeof header,
             "{\"alg\":\"RS256\",\"kid\":\"evil-1\",\"jku\":\"%s\"}",
             tissuer_jwks_uri(evil));
    tok = tissuer_sign(evil, "evil-1", header, claims);
    snprintf(want, sizeof want, "kid evil-1 is not in the key set of %s",
             tissuer_url(ti));
    expect_token_401(tok, want);
    cr_assert_eq(tissuer_jwks_requests(evil), 0);
    cr_assert_eq(tissuer_discovery_requests(evil), 0);
    free(tok);
    free(claims);
    tissuer_free(evil);
}

Test(jwt_route, rotation_accepts_new_key_and_refuses_removed_one)
{
    char *old = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *fresh, *old2, want[256];

    start_server("", "");
    expect_stored(old);
    tissuer_add_key(ti, "rsa-2", TISSUER_RSA2048);
    tissuer_publish(ti, TISSUER_KID_RSA, 0);
    fresh = github_token("rsa-2", "\"lab-api\"", 300, NULL);
    expect_stored(fresh);
    snprintf(want, sizeof want,
             "kid rsa-1 is not in the key set of %s (refetch limited to one "
             "per minute)",
             tissuer_url(ti));
    expect_token_401(old, want);
    old2 = github_token(TISSUER_KID_RSA, "\"lab-api\"", 250, NULL);
    expect_token_401(old2, want);
    cr_assert_eq(tissuer_jwks_requests(ti), 2);
    free(old);
    free(old2);
    free(fresh);
}

Test(jwt_route, missing_scope_and_failed_bound_claim_get_403)
{
    char *scoped = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300,
                                ",\"scope\":\"results:write\"");
    char *unscoped = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *other = github_token(TISSUER_KID_EC, "\"lab-api\"", 300,
                               ",\"scp\":[\"results:write\"],"
                               "\"environment\":\"staging\"");
    char *h = malloc(strlen(unscoped) + 16), www[512];
    struct tresp r;

    start_server(",\"bound_claims\":{\"repository\":[\"octo-org/*\"],"
                 "\"ref\":[\"refs/heads/main\"]}",
                 ",\"required_scopes\":[\"results:write\"]");
    expect_stored(scoped);
    sprintf(h, "Bearer %s", unscoped);
    cr_assert_eq(post_auth(h, &r), 0);
    cr_assert_eq(r.status, 403, "status %ld: %s", r.status, r.body);
    cr_assert_str_eq(r.body, "{\"message\":\"Forbidden\"}");
    cr_assert_eq(tresp_header(&r, "WWW-Authenticate", www, sizeof www), 0);
    cr_assert_str_eq(www, "Bearer error=\"insufficient_scope\", "
                          "error_description=\"token has none of the "
                          "required scopes (results:write)\"");
    tresp_free(&r);
    cr_assert(tsrv_log_has(&srv, "status=403 reason=\"token has none of the required "
                      "scopes (results:write)\""));
    cr_assert_eq(tsrv_count_rows(&srv, ""), 1);
    cr_assert_eq(thttp_get(&srv, "/metrics", &r), 0);
    cr_assert(strstr(r.body, "labgate_auth_failures_total{reason=\""
                             "jwt_insufficient_scope\"} 1\n") != NULL,
              "%s", r.body);
    tresp_free(&r);
    free(h);
    free(scoped);
    free(unscoped);
    free(other);
}

Test(jwt_route, failed_bound_claim_is_403_without_scope_error)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300,
                             ",\"environment\":\"staging\"");
    char *h = malloc(strlen(tok) + 16), www[512];
    struct tresp r;

    start_server(",\"bound_claims\":{\"environment\":[\"prod\",\"prod-*\"]}",
                 "");
    sprintf(h, "Bearer %s", tok);
    cr_assert_eq(post_auth(h, &r), 0);
    cr_assert_eq(r.status, 403, "status %ld: %s", r.status, r.body);
    cr_assert_str_eq(r.body, "{\"message\":\"Forbidden\"}");
    cr_assert_eq(tresp_header(&r, "WWW-Authenticate", www, sizeof www), -1);
    cr_assert(tsrv_log_has(&srv, "status=403 reason=\"claim environment does not "
                      "match bound_claims\""));
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
    tresp_free(&r);
    free(h);
    free(tok);
}

Test(jwt_route, issuer_down_after_start_cached_keys_keep_working)
{
    char *a = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *b = github_token(TISSUER_KID_EC, "\"lab-api\"", 301, NULL);

    start_server("", "");
    expect_stored(a);
    tissuer_down(ti);
    expect_stored(b);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 2);
    free(a);
    free(b);
}

Test(jwt_route, unknown_kid_flood_causes_one_fetch)
{
    char *good = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char header[128];
    struct tresp r;

    start_server("", "");
    expect_stored(good);
    cr_assert_eq(tissuer_jwks_requests(ti), 1);
    for (int i = 0; i < 100; i++) {
        char *tok;
        snprintf(header, sizeof header,
                 "{\"alg\":\"RS256\",\"kid\":\"flood-%d\"}", i);
        tok = tissuer_sign(ti, TISSUER_KID_RSA, header, claims);
        cr_assert_eq(post_token(tok, &r), 0);
        cr_assert_eq(r.status, 401);
        tresp_free(&r);
        free(tok);
    }
    cr_assert_eq(tissuer_jwks_requests(ti), 2);
    cr_assert_eq(tissuer_discovery_requests(ti), 2);
    expect_stored(good);
    free(claims);
    free(good);
}

Test(jwt_route, unreachable_issuer_gives_401_and_logs_why)
{
    char *tok = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char want[512];

    tissuer_down(ti);
    start_server("", "");
    snprintf(want, sizeof want,
             "no keys for issuer %s: %s/.well-known/openid-configuration: "
             "Couldn't connect to server",
             tissuer_url(ti), tissuer_url(ti));
    expect_token_401(tok, want);
    cr_assert(tsrv_log_has(&srv, "event=fetch_failed"));
    free(tok);
}

Test(jwt_route, restart_serves_from_persisted_keys_while_issuer_is_down)
{
    char *a = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *b = github_token(TISSUER_KID_EC, "\"lab-api\"", 300, NULL);

    start_server("", "");
    expect_stored(a);
    cr_assert_eq(tsrv_stop(&srv), 0);
    tissuer_down(ti);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not restart");
    expect_stored(b);
    cr_assert(tsrv_log_has(&srv, "event=loaded"));
    cr_assert_eq(tsrv_count_rows(&srv, ""), 2);
    free(a);
    free(b);
}

Test(jwt_route, bad_jwt_section_exits_2_before_listening)
{
    char out[4096], cfg[512];
    const char *args[] = {"--config", srv.config, "--db", srv.db, NULL};

    snprintf(srv.config, sizeof srv.config, "%s/bad.json", srv.dir);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"x\",\"iam\":{},"
             "\"jwt\":{\"issuers\":[{\"issuer\":\"%s\","
             "\"audiences\":[\"lab-api\"]}]}}",
             tissuer_url(ti));
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2, "%s", out);
    cr_assert_str_eq(out, "labgate-server: configuration error: "
                          "jwt.issuers[0].issuer: expected an https:// URL "
                          "(http:// only with allow_insecure_http)\n");
    /* Nothing was opened: the database file does not exist. */
    cr_assert_neq(access(srv.db, F_OK), 0);
    cr_assert_eq(tissuer_discovery_requests(ti), 0);
}

Test(jwt_route, failing_issuer_flood_costs_one_fetch_and_cached_keys_work)
{
    char *good = github_token(TISSUER_KID_RSA, "\"lab-api\"", 300, NULL);
    char *other = github_token(TISSUER_KID_EC, "\"lab-api\"", 300, NULL);
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, NULL);
    char header[128];
    struct tresp r;

    start_server("", "");
    expect_stored(good);
    tissuer_set_status(ti, 503);
    for (int i = 0; i < 100; i++) {
        char *tok;
        snprintf(header, sizeof header,
                 "{\"alg\":\"RS256\",\"kid\":\"flood-%d\"}", i);
        tok = tissuer_sign(ti, TISSUER_KID_RSA, header, claims);
        cr_assert_eq(post_token(tok, &r), 0);
        cr_assert_eq(r.status, 401);
        tresp_free(&r);
        free(tok);
    }
    /* One refetch was tried (and failed at discovery); no other. */
    cr_assert_eq(tissuer_discovery_requests(ti), 2);
    cr_assert_eq(tissuer_jwks_requests(ti), 1);
    cr_assert(tsrv_log_has(&srv, "event=fetch_failed"));
    /* Keys fetched before the failure keep serving. */
    expect_stored(other);
    expect_stored(good);
    free(claims);
    free(good);
    free(other);
}
