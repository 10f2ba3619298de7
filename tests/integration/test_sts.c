/*
 * POST /sts end to end with the AWS CLI, curl and botocore against the
 * real server, and a real OIDC issuer on loopback (tests/support/tissuer)
 * minting GitHub Actions-shaped tokens: the exchange, using the session
 * on /lab/results-ci, GetCallerIdentity, the trust policy, expiry,
 * restarts, and AWS's XML errors.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iam_helpers.h"
#include "tissuer.h"
#include "tsupport.h"

#define ACCOUNT "123456789012"
#define ROLE "arn:aws:iam::" ACCOUNT ":role/ci-results"
#define ROLE_OTHER "arn:aws:iam::" ACCOUNT ":role/other-repo"
#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define RESOURCE                                                               \
    "arn:aws:execute-api:eu-north-1:" ACCOUNT ":abc123/prod/POST/lab/"         \
    "results-ci"
#define BODY "{\"status\":\"pass\",\"suite\":\"sts\"}"
#define ACCESS_DENIED                                                          \
    "<Code>AccessDenied</Code><Message>Not authorized to perform "             \
    "sts:AssumeRoleWithWebIdentity</Message>"

static struct tsrv srv;
static struct tissuer *ti;
static char provider[64]; /* "127.0.0.1:PORT" */

/* A trust policy for role_sub_pattern under the test issuer. */
static void
trust_policy(char *out, size_t n, const char *sub_pattern)
{
    snprintf(out, n,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
             "\"Allow\",\"Principal\":{\"Federated\":\"arn:aws:iam::" ACCOUNT
             ":oidc-provider/%s\"},\"Action\":"
             "\"sts:AssumeRoleWithWebIdentity\",\"Condition\":{"
             "\"StringEquals\":{\"%s:aud\":\"sts.amazonaws.com\"},"
             "\"StringLike\":{\"%s:sub\":\"%s\"}}}]}",
             provider, provider, provider, sub_pattern);
}

static void
setup(void)
{
    char cfg[8192], trust[1024], trust_other[1024];

    ti = tissuer_start();
    snprintf(provider, sizeof provider, "%s", tissuer_url(ti) + 7);
    trust_policy(trust, sizeof trust, "repo:octo-org/octo-repo:*");
    trust_policy(trust_other, sizeof trust_other, "repo:someone/else:*");
    tsrv_init(&srv);
    snprintf(
        cfg, sizeof cfg,
        "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
        "\"jwt\":{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":"
        "[\"lab-api\"],\"allow_insecure_http\":true}]},"
        "\"iam\":{\"account\":\"" ACCOUNT "\",\"api_id\":\"abc123\","
        "\"stage\":\"prod\",\"roles\":["
        "{\"arn\":\"" ROLE "\",\"max_session_seconds\":7200,"
        "\"tags\":{\"team\":\"qa\"},\"trust_policy\":%s,"
        "\"policy\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
        "\"Allow\",\"Action\":\"execute-api:Invoke\",\"Resource\":"
        "\"" RESOURCE "\",\"Condition\":{\"StringEquals\":{"
        "\"%s:repository\":\"octo-org/octo-repo\","
        "\"aws:PrincipalTag/team\":\"qa\"}}},"
        "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
        "\"Condition\":{\"StringLike\":{\"aws:userid\":\"*:denied-*\"}}}"
        "]}},"
        "{\"arn\":\"" ROLE_OTHER "\",\"trust_policy\":%s,\"policy\":"
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
        "\"Action\":\"*\",\"Resource\":\"*\"}}}],"
        "\"static_keys\":[{\"access_key_id\":\"" AKID "\","
        "\"secret_access_key\":\"" SECRET "\",\"principal_arn\":"
        "\"arn:aws:iam::" ACCOUNT ":user/ops\",\"policy\":{\"Version\":"
        "\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":"
        "\"*\",\"Resource\":\"*\"}}}]}}",
        tissuer_url(ti), trust, provider, trust_other);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

static void
teardown(void)
{
    cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
    tissuer_free(ti);
}

TestSuite(sts, .init = setup, .fini = teardown, .timeout = 180);

/* A GitHub-shaped token for audience aud_json, valid for exp_in s. */
static char *
token(const char *aud_json, long exp_in)
{
    char *claims = tissuer_github_claims(ti, aud_json, exp_in, NULL);
    char *t = tissuer_token(ti, TISSUER_KID_RSA, claims);

    free(claims);
    return t;
}

/* POST a form to /sts; returns the response (free with tresp_free). */
static void
sts_post(const char *form, const char *ctype, struct tresp *t)
{
    char url[128], h[128];
    const char *headers[] = {h, NULL};

    snprintf(url, sizeof url, "%s/sts", srv.base);
    snprintf(h, sizeof h, "Content-Type: %s", ctype);
    cr_assert_eq(thttp("POST", url, headers, form, strlen(form), t), 0);
}

static void
expect_xml_error(const struct tresp *t, long status, const char *code_msg)
{
    cr_assert_eq(t->status, status, "status %ld: %s", t->status, t->body);
    cr_assert(strstr(t->body,
                     "<ErrorResponse xmlns=\"https://"
                     "sts.amazonaws.com/doc/2011-06-15/\">") == t->body,
              "%s", t->body);
    cr_assert(strstr(t->body, code_msg) != NULL, "want %s in %s", code_msg,
              t->body);
}

/* Assume role_arn with tok through raw HTTP; body stays in t. */
static void
assume_raw(const char *role_arn, const char *session, const char *tok,
           const char *extra, struct tresp *t)
{
    char form[16384];

    snprintf(form, sizeof form,
             "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s"
             "&RoleSessionName=%s&WebIdentityToken=%s%s",
             role_arn, session, tok, extra ? extra : "");
    sts_post(form, "application/x-www-form-urlencoded", t);
}

struct creds {
    char akid[64], secret[128], token[256], arn[256], expiration[64];
};

/* The AWS CLI's assume-role-with-web-identity; returns its exit code. */
static int
cli_assume(const char *role_arn, const char *session, const char *tok,
           struct creds *c, char *out, size_t n)
{
    char env[2048], cmd[16384];
    json_t *j, *cr;
    int rc;

    aws_env(&srv, NULL, NULL, NULL, env, sizeof env);
    snprintf(cmd, sizeof cmd,
             "%s aws sts assume-role-with-web-identity --endpoint-url "
             "'%s/sts' --role-arn '%s' --role-session-name '%s' "
             "--web-identity-token '%s' --duration-seconds 900 2>&1",
             env, srv.base, role_arn, session, tok);
    rc = run_cmd(cmd, out, n);
    if (rc != 0 || c == NULL)
        return rc;
    j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "CLI output is not JSON: %s", out);
    cr = json_object_get(j, "Credentials");
    snprintf(c->akid, sizeof c->akid, "%s",
             json_string_value(json_object_get(cr, "AccessKeyId")));
    snprintf(c->secret, sizeof c->secret, "%s",
             json_string_value(json_object_get(cr, "SecretAccessKey")));
    snprintf(c->token, sizeof c->token, "%s",
             json_string_value(json_object_get(cr, "SessionToken")));
    snprintf(c->expiration, sizeof c->expiration, "%s",
             json_string_value(json_object_get(cr, "Expiration")));
    snprintf(c->arn, sizeof c->arn, "%s",
             json_string_value(json_object_get(
                 json_object_get(j, "AssumedRoleUser"), "Arn")));
    cr_assert_str_eq(
        json_string_value(json_object_get(j, "SubjectFromWebIdentityToken")),
        "repo:octo-org/octo-repo:ref:refs/heads/main");
    cr_assert_str_eq(json_string_value(json_object_get(j, "Audience")),
                     "sts.amazonaws.com");
    cr_assert_str_eq(json_string_value(json_object_get(j, "Provider")),
                     tissuer_url(ti));
    json_decref(j);
    return 0;
}

/* Exchange a fresh token for session credentials (asserting success). */
static void
assume(const char *session, struct creds *c)
{
    char out[OUT_MAX];
    char *tok = token("\"sts.amazonaws.com\"", 300);

    cr_assert_eq(cli_assume(ROLE, session, tok, c, out, sizeof out), 0, "%s",
                 out);
    free(tok);
}

static void
curl_with(const struct creds *c, struct cres *r)
{
    char user[256], extra[512];

    snprintf(user, sizeof user, "%s:%s", c->akid, c->secret);
    snprintf(extra, sizeof extra, "-H 'x-amz-security-token: %s'", c->token);
    curl_sigv4(&srv, "/lab/results-ci", BODY, user, extra, r);
}

Test(sts, cli_exchange_then_curl_post_records_the_web_identity)
{
    struct creds c;
    struct cres r;
    char col[12][256], sql[512];

    assume("gha-run-42", &c);
    cr_assert_eq(strncmp(c.akid, "ASIA", 4), 0, "%s", c.akid);
    cr_assert_eq(strlen(c.akid), 20);
    cr_assert_eq(strlen(c.secret), 40);
    cr_assert_str_eq(c.arn, "arn:aws:sts::" ACCOUNT
                            ":assumed-role/ci-results/gha-run-42");
    curl_with(&c, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_eq(db_row(srv.db,
                        "SELECT auth, principal, principal_arn, caller_arn, "
                        "account, access_key_id, session_name, issuer, "
                        "subject, repository, owner, "
                        "json_extract(claims, '$.repository_id') FROM results "
                        "ORDER BY id DESC LIMIT 1",
                        col, 12),
                 0);
    cr_assert_str_eq(col[0], "iam");
    cr_assert_str_eq(col[1], ROLE);
    cr_assert_str_eq(col[2], ROLE);
    cr_assert_str_eq(col[3], c.arn);
    cr_assert_str_eq(col[4], ACCOUNT);
    cr_assert_str_eq(col[5], c.akid);
    cr_assert_str_eq(col[6], "gha-run-42");
    cr_assert_str_eq(col[7], tissuer_url(ti));
    cr_assert_str_eq(col[8], "repo:octo-org/octo-repo:ref:refs/heads/main");
    cr_assert_str_eq(col[9], "octo-org/octo-repo");
    cr_assert_str_eq(col[10], "octo-org");
    cr_assert_str_eq(col[11], "123456");
    /* The session row keeps the token's hash, never the token. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sts_sessions WHERE access_key_id = '%s' "
             "AND role_arn = '" ROLE "' AND token_sha256 != '%s' AND "
             "length(token_sha256) = 64 AND expires_ms - issued_ms = 900000",
             c.akid, c.token);
    cr_assert_eq(db_count(srv.db, sql), 1);
}

Test(sts, botocore_header_and_presigned_forms_with_session_token)
{
    struct creds c;
    struct cres r;
    char args[1024];

    assume("gha-boto", &c);
    snprintf(args, sizeof args, "--key %s --secret '%s' --token '%s'", c.akid,
             c.secret, c.token);
    boto(&srv, "/lab/results-ci?run=1&x=a%2Bb", BODY, &r, "%s", args);
    cr_assert_eq(r.status, 201, "%s", r.body);
    boto(&srv, "/lab/results-ci?run=2", BODY, &r, "%s --presign", args);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_eq(db_count(srv.db, "SELECT count(*) FROM results WHERE "
                                  "session_name = 'gha-boto'"),
                 2);
}

Test(sts, session_token_missing_or_wrong_is_invalid)
{
    struct creds c;
    struct cres r;
    char args[1024];

    assume("gha-token", &c);
    snprintf(args, sizeof args, "--key %s --secret '%s' --token '%s'", c.akid,
             c.secret, c.token);
    boto(&srv, "/lab/results-ci", BODY, &r, "%s --drop-token", args);
    expect_json(&r, 403, "message",
                "The security token included in the request is invalid.");
    boto(&srv, "/lab/results-ci", BODY, &r, "%s --presign --drop-token", args);
    expect_json(&r, 403, "message",
                "The security token included in the request is invalid.");
    snprintf(args, sizeof args, "--key %s --secret '%s' --token 'x%s'", c.akid,
             c.secret, c.token);
    boto(&srv, "/lab/results-ci", BODY, &r, "%s", args);
    expect_json(&r, 403, "message",
                "The security token included in the request is invalid.");
    cr_assert_eq(db_count(srv.db, "SELECT count(*) FROM results"), 0);
}

Test(sts, expired_temporary_credentials_are_refused)
{
    struct creds c;
    struct cres r;
    char sql[256], err[256];
    sqlite3 *db;

    assume("gha-expiring", &c);
    /* Age the session instead of waiting the 15-minute minimum. */
    snprintf(sql, sizeof sql,
             "UPDATE sts_sessions SET expires_ms = issued_ms - 1 WHERE "
             "access_key_id = '%s'",
             c.akid);
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    sqlite3_close(db);
    curl_with(&c, &r);
    expect_json(&r, 403, "message",
                "The security token included in the request is expired");
    (void)err;
}

Test(sts, credentials_survive_a_restart)
{
    struct creds c;
    struct cres r;
    const char *argv[] = {"--db", srv.db, NULL};

    assume("gha-restart", &c);
    cr_assert_eq(tsrv_stop(&srv), 0);
    cr_assert_eq(tsrv_start(&srv, argv), 0);
    curl_with(&c, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
}

Test(sts, get_caller_identity_with_cli_for_session_and_static_key)
{
    struct creds c;
    char env[2048], cmd[4096], out[OUT_MAX];
    json_t *j;

    assume("gha-whoami", &c);
    aws_env(&srv, c.akid, c.secret, c.token, env, sizeof env);
    snprintf(cmd, sizeof cmd,
             "%s aws sts get-caller-identity --endpoint-url '%s/sts' 2>&1", env,
             srv.base);
    cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
    j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "Arn")), c.arn);
    cr_assert_str_eq(json_string_value(json_object_get(j, "Account")), ACCOUNT);
    cr_assert(strstr(json_string_value(json_object_get(j, "UserId")),
                     ":gha-whoami") != NULL);
    json_decref(j);
    aws_env(&srv, AKID, SECRET, NULL, env, sizeof env);
    snprintf(cmd, sizeof cmd,
             "%s aws sts get-caller-identity --endpoint-url '%s/sts' 2>&1", env,
             srv.base);
    cr_assert_eq(run_cmd(cmd, out, sizeof out), 0, "%s", out);
    j = json_loads(out, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "Arn")),
                     "arn:aws:iam::" ACCOUNT ":user/ops");
    cr_assert_str_eq(json_string_value(json_object_get(j, "UserId")), AKID);
    json_decref(j);
}

Test(sts, trust_policy_mismatch_is_access_denied)
{
    struct tresp t;
    char out[OUT_MAX];
    char *tok = token("\"sts.amazonaws.com\"", 300);

    assume_raw(ROLE_OTHER, "gha-other", tok, NULL, &t);
    expect_xml_error(&t, 403, ACCESS_DENIED);
    tresp_free(&t);
    assume_raw("arn:aws:iam::" ACCOUNT ":role/nope", "gha-x", tok, NULL, &t);
    expect_xml_error(&t, 403, ACCESS_DENIED);
    tresp_free(&t);
    cr_assert_neq(
        cli_assume(ROLE_OTHER, "gha-other", tok, NULL, out, sizeof out), 0);
    cr_assert(strstr(out, "An error occurred (AccessDenied) when calling the "
                          "AssumeRoleWithWebIdentity operation") != NULL,
              "%s", out);
    cr_assert(strstr(out, ": Not authorized to perform "
                          "sts:AssumeRoleWithWebIdentity") != NULL,
              "%s", out);
    free(tok);
    cr_assert_eq(db_count(srv.db, "SELECT count(*) FROM sts_sessions"), 0);
}

Test(sts, tokens_for_another_audience_or_expired_are_refused)
{
    struct tresp t;
    char *lab = token("\"lab-api\"", 300);
    char *old = token("\"sts.amazonaws.com\"", -600);

    assume_raw(ROLE, "gha-aud", lab, NULL, &t);
    expect_xml_error(&t, 400, "<Code>InvalidIdentityToken</Code>");
    tresp_free(&t);
    assume_raw(ROLE, "gha-old", old, NULL, &t);
    expect_xml_error(&t, 400, "<Code>ExpiredTokenException</Code>");
    tresp_free(&t);
    assume_raw(ROLE, "gha-bad", "not.a.jwt", NULL, &t);
    expect_xml_error(&t, 400, "<Code>InvalidIdentityToken</Code>");
    tresp_free(&t);
    free(lab);
    free(old);
    cr_assert_eq(db_count(srv.db, "SELECT count(*) FROM sts_sessions"), 0);
}

Test(sts, parameters_are_validated_as_aws_does)
{
    struct tresp t;
    char *tok = token("\"sts.amazonaws.com\"", 300);

    assume_raw(ROLE, "gha-long", tok, "&DurationSeconds=7201", &t);
    expect_xml_error(&t, 400,
                     "<Code>ValidationError</Code><Message>The requested "
                     "DurationSeconds exceeds the MaxSessionDuration set for "
                     "this role.</Message>");
    tresp_free(&t);
    assume_raw(ROLE, "gha-short", tok, "&DurationSeconds=899", &t);
    expect_xml_error(&t, 400, "<Code>ValidationError</Code>");
    tresp_free(&t);
    assume_raw(ROLE, "x", tok, NULL, &t);
    expect_xml_error(&t, 400,
                     "<Message>1 validation error detected: Value "
                     "at &apos;roleSessionName&apos; failed");
    tresp_free(&t);
    assume_raw(ROLE, "gha-policy", tok, "&Policy=%7B%7D", &t);
    expect_xml_error(&t, 400,
                     "<Code>ValidationError</Code><Message>Policy is not "
                     "supported by labgate&apos;s STS");
    tresp_free(&t);
    free(tok);
}

Test(sts, protocol_errors_answer_aws_xml)
{
    struct tresp t;

    sts_post("Action=GetCallerIdentity&Version=2011-06-15",
             "application/x-www-form-urlencoded", &t);
    expect_xml_error(&t, 403,
                     "<Code>MissingAuthenticationToken</Code><Message>"
                     "Request is missing Authentication Token</Message>");
    tresp_free(&t);
    sts_post("Action=AssumeRole&Version=2011-06-15",
             "application/x-www-form-urlencoded", &t);
    expect_xml_error(&t, 400,
                     "<Code>InvalidAction</Code><Message>Could not find "
                     "operation AssumeRole for version 2011-06-15</Message>");
    tresp_free(&t);
    sts_post("Action=GetCallerIdentity&Version=2011-06-15", "application/json",
             &t);
    expect_xml_error(&t, 415, "<Code>UnsupportedMediaType</Code>");
    tresp_free(&t);
    sts_post("Action=GetCallerIdentity", "application/x-www-form-urlencoded",
             &t);
    expect_xml_error(&t, 400, "<Code>InvalidParameterValue</Code>");
    tresp_free(&t);
}

Test(sts, permissions_policy_uses_claims_tags_and_deny)
{
    struct creds c;
    struct cres r;

    assume("denied-run", &c);
    curl_with(&c, &r);
    expect_json(&r, 403, "Message",
                "User: arn:aws:sts::" ACCOUNT
                ":assumed-role/ci-results/denied-run is not authorized to "
                "perform: execute-api:Invoke on resource: " RESOURCE);
    cr_assert_eq(db_count(srv.db, "SELECT count(*) FROM results"), 0);
}

Test(sts, metrics_count_issued_credentials_and_refusals)
{
    struct creds c;
    struct tresp t;
    struct cres r;
    char *tok = token("\"sts.amazonaws.com\"", 300);

    assume("gha-metrics", &c);
    assume_raw(ROLE_OTHER, "gha-other", tok, NULL, &t);
    tresp_free(&t);
    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key %s --secret 'wrong-secret-0123456789' --token '%s'", c.akid,
         c.token);
    cr_assert_eq(r.status, 403);
    cr_assert_eq(thttp_get(&srv, "/metrics", &t), 0);
    cr_assert_eq(t.status, 200);
    cr_assert(strstr(t.body, "\nlabgate_sts_credentials_issued_total 1\n"),
              "%s", t.body);
    cr_assert(strstr(t.body, "labgate_auth_failures_total{reason="
                             "\"sts_trust_denied\"} 1\n"),
              "%s", t.body);
    cr_assert(strstr(t.body, "labgate_auth_failures_total{reason="
                             "\"sigv4_bad_signature\"} 1\n"),
              "%s", t.body);
    tresp_free(&t);
    free(tok);
}
