/*
 * POST /lab/results-ci end to end: the real server on a loopback port,
 * requests signed by curl --aws-sigv4 and by botocore (header and
 * presigned forms), every refusal with API Gateway's exact message, the
 * permissions policy, and the identity columns of the stored rows.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iam_helpers.h"
#include "tsupport.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AKID_DENIED "AKIADENIEDEXAMPLE001"
#define AKID_ENV "AKIAFROMENVEXAMPLE01"
#define AKID_FILE "AKIAFROMFILEEXAMPLE1"
#define SECRET_ENV "envSecretKeyForLabgateTests0123456789ab"
#define SECRET_FILE "fileSecretKeyForLabgateTests0123456789a"
#define KEYS "--key " AKID " --secret " SECRET
#define RESOURCE                                                               \
    "arn:aws:execute-api:eu-north-1:123456789012:abc123/prod/POST/lab/"        \
    "results-ci"
#define BODY "{\"status\":\"pass\",\"suite\":\"iam\"}"
#define MISMATCH                                                               \
    "The request signature we calculated does not match the signature you "    \
    "provided. Check your AWS Secret Access Key and signing method. "          \
    "Consult the service documentation for details."
#define INVALID_TOKEN "The security token included in the request is invalid."

static struct tsrv srv;

#define ALLOW_CI                                                               \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","        \
    "\"Action\":\"execute-api:Invoke\",\"Resource\":\"" RESOURCE "\","         \
    "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"127.0.0.0/8\"}}}]}"

static void
setup(void)
{
    char cfg[8192], secret[TSUPPORT_PATH_MAX];

    tsrv_init(&srv);
    snprintf(secret, sizeof secret, "%s/secret", srv.dir);
    cr_assert_eq(tsupport_write_file(secret, SECRET_FILE "\n"), 0);
    setenv("LABGATE_TEST_IAM_SECRET", SECRET_ENV, 1);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"jwt\":{},\"limits\":{\"max_body_bytes\":65536},"
             "\"iam\":{\"account\":\"123456789012\",\"api_id\":\"abc123\","
             "\"stage\":\"prod\",\"static_keys\":["
             "{\"access_key_id\":\"" AKID "\",\"secret_access_key\":\"" SECRET
             "\",\"principal_arn\":\"arn:aws:iam::123456789012:user/ci\","
             "\"policy\":" ALLOW_CI "},"
             "{\"access_key_id\":\"" AKID_DENIED
             "\",\"secret_access_key\":\"" SECRET
             "\",\"principal_arn\":\"arn:aws:iam::123456789012:user/denied\","
             "\"policy\":{\"Version\":\"2012-10-17\",\"Statement\":["
             "{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
             "{\"Effect\":\"Deny\",\"Action\":\"execute-api:*\",\"Resource\":"
             "\"*\",\"Condition\":{\"StringEquals\":{\"aws:PrincipalArn\":"
             "\"arn:aws:iam::123456789012:user/denied\"}}}]}},"
             "{\"access_key_id\":\"" AKID_ENV "\",\"secret_access_key_env\":"
             "\"LABGATE_TEST_IAM_SECRET\",\"principal_arn\":"
             "\"arn:aws:iam::123456789012:user/env\",\"policy\":" ALLOW_CI "},"
             "{\"access_key_id\":\"" AKID_FILE "\",\"secret_access_key_file\":"
             "\"%s\",\"principal_arn\":\"arn:aws:iam::123456789012:user/file\","
             "\"policy\":" ALLOW_CI "}]}}",
             secret);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

static void
teardown(void)
{
    cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
}

TestSuite(iam_route, .init = setup, .fini = teardown, .timeout = 120);

static int
rows(void)
{
    return db_count(srv.db, "SELECT count(*) FROM results");
}

/* The identity columns of the newest row. */
static void
expect_last_row(const char *principal_arn, const char *akid)
{
    char c[8][256];

    cr_assert_eq(db_row(srv.db,
                        "SELECT auth, route, principal, principal_arn, "
                        "caller_arn, account, access_key_id, "
                        "coalesce(session_name, '(none)') FROM results "
                        "ORDER BY id DESC LIMIT 1",
                        c, 8),
                 0);
    cr_assert_str_eq(c[0], "iam");
    cr_assert_str_eq(c[1], "/lab/results-ci");
    cr_assert_str_eq(c[2], principal_arn);
    cr_assert_str_eq(c[3], principal_arn);
    cr_assert_str_eq(c[4], principal_arn);
    cr_assert_str_eq(c[5], "123456789012");
    cr_assert_str_eq(c[6], akid);
    cr_assert_str_eq(c[7], "(none)");
}

Test(iam_route, curl_header_signature_stores_the_iam_identity)
{
    struct cres r;
    json_t *j;

    curl_sigv4(&srv, "/lab/results-ci", BODY, AKID ":" SECRET, NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "auth")), "iam");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(j, "identity"), "caller_arn")),
                     "arn:aws:iam::123456789012:user/ci");
    json_decref(j);
    expect_last_row("arn:aws:iam::123456789012:user/ci", AKID);
}

Test(iam_route, curl_signs_a_query_with_reserved_characters)
{
    struct cres r;

    /* curl 7.88 signs the query as written, so it is given sorted. */
    curl_sigv4(&srv, "/lab/results-ci?a=x%2Fy%20z&b=%E1%88%B4&c=%21%2A", BODY,
               AKID ":" SECRET, NULL, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    expect_last_row("arn:aws:iam::123456789012:user/ci", AKID);
}

Test(iam_route, botocore_header_form_takes_bodies_of_several_sizes)
{
    static const size_t sizes[] = {0, 1000, 16000, 60000};
    char *body = malloc(65536);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct cres r;
        int n = snprintf(body, 65536,
                         "{\"status\":\"pass\",\"suite\":\"size\","
                         "\"message\":\"");
        memset(body + n, 'x', sizes[i]);
        snprintf(body + n + sizes[i], 65536 - n - sizes[i], "\"}");
        boto(&srv, "/lab/results-ci", body, &r, KEYS);
        cr_assert_eq(r.status, 201, "size %zu: %s", sizes[i], r.body);
        expect_last_row("arn:aws:iam::123456789012:user/ci", AKID);
    }
    cr_assert_eq(rows(), 4);
    free(body);
}

Test(iam_route, botocore_signs_unsorted_query_with_reserved_characters)
{
    struct cres r;

    boto(&srv, "/lab/results-ci?z=1&a=x%2Fy%20z&%E1%88%B4=%21%27%28%29%2A&a=0",
         BODY, &r, KEYS);
    cr_assert_eq(r.status, 201, "%s", r.body);
    expect_last_row("arn:aws:iam::123456789012:user/ci", AKID);
}

Test(iam_route, botocore_presigned_query_is_accepted)
{
    struct cres r;

    boto(&srv, "/lab/results-ci?z=1&a=x%2Fy%20z", BODY, &r,
         KEYS " --presign --expires 60");
    cr_assert_eq(r.status, 201, "%s", r.body);
    expect_last_row("arn:aws:iam::123456789012:user/ci", AKID);
}

Test(iam_route, secrets_from_environment_and_file_verify)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key " AKID_ENV " --secret " SECRET_ENV);
    cr_assert_eq(r.status, 201, "%s", r.body);
    expect_last_row("arn:aws:iam::123456789012:user/env", AKID_ENV);
    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key " AKID_FILE " --secret " SECRET_FILE);
    cr_assert_eq(r.status, 201, "%s", r.body);
    expect_last_row("arn:aws:iam::123456789012:user/file", AKID_FILE);
}

Test(iam_route, unsigned_request_is_missing_authentication_token)
{
    struct tresp t;
    struct cres r;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results-ci", BODY, &t), 0);
    r.status = t.status;
    snprintf(r.out, sizeof r.out, "%s", t.body);
    r.body = r.out;
    tresp_free(&t);
    expect_json(&r, 403, "message", "Missing Authentication Token");
    cr_assert_eq(rows(), 0);
}

Test(iam_route, malformed_authorization_header_names_what_is_missing)
{
    static const char *const h[] = {
        "Content-Type: application/json",
        "Authorization: AWS4-HMAC-SHA256 Credential=" AKID
        "/20261203/eu-north-1/execute-api/aws4_request",
        NULL};
    static const char *const bad_cred[] = {
        "Content-Type: application/json", "X-Amz-Date: 20261203T120000Z",
        "Authorization: AWS4-HMAC-SHA256 Credential=" AKID
        "/20261203/eu-north-1, SignedHeaders=host;x-amz-date, Signature=00",
        NULL};
    char url[128];
    struct tresp t;
    struct cres r;

    snprintf(url, sizeof url, "%s/lab/results-ci", srv.base);
    cr_assert_eq(thttp("POST", url, h, BODY, strlen(BODY), &t), 0);
    r.status = t.status;
    snprintf(r.out, sizeof r.out, "%s", t.body);
    r.body = r.out;
    tresp_free(&t);
    expect_json(&r, 403, "message",
                "Authorization header requires 'Signature' parameter. "
                "Authorization header requires 'SignedHeaders' parameter. "
                "Authorization header requires existence of either a "
                "'X-Amz-Date' or a 'Date' header.");
    cr_assert_eq(thttp("POST", url, bad_cred, BODY, strlen(BODY), &t), 0);
    r.status = t.status;
    snprintf(r.out, sizeof r.out, "%s", t.body);
    tresp_free(&t);
    expect_json(&r, 403, "message",
                "Credential must have exactly 5 slash-delimited elements, "
                "e.g. keyid/date/region/service/term, got '" AKID
                "/20261203/eu-north-1'");
    cr_assert_eq(rows(), 0);
}

Test(iam_route, tampering_after_signing_is_a_signature_mismatch)
{
    static const char *const parts[] = {"body", "header", "path", "query",
                                        "date"};

    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        struct cres r;
        boto(&srv, "/lab/results-ci?a=1", BODY, &r,
             KEYS " --header X-Extra:1 --tamper %s", parts[i]);
        expect_json(&r, 403, "message", MISMATCH);
        boto(&srv, "/lab/results-ci?a=1", BODY, &r,
             KEYS " --header X-Extra:1 --presign --tamper %s", parts[i]);
        expect_json(&r, 403, "message", MISMATCH);
    }
    cr_assert_eq(rows(), 0);
}

Test(iam_route, wrong_region_or_service_is_refused)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --region us-east-1");
    expect_json(&r, 403, "message",
                "Credential should be scoped to a valid region, not "
                "'us-east-1'. ");
    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --service lambda");
    expect_json(&r, 403, "message",
                "Credential should be scoped to correct service: "
                "'execute-api'. ");
    cr_assert_eq(rows(), 0);
}

/* "Signature expired: T1 is now earlier than T2 (T3 - 5 min.)" shape. */
static void
expect_skew(const struct cres *r, const char *prefix, const char *mid,
            const char *suffix)
{
    json_t *j = json_loads(r->body, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    char t1[17], t2[17], t3[17], rebuilt[256];

    cr_assert_eq(r->status, 403, "%s", r->body);
    cr_assert_not_null(m, "%s", r->body);
    cr_assert_eq(strncmp(m, prefix, strlen(prefix)), 0, "%s", m);
    memcpy(t1, m + strlen(prefix), 16);
    t1[16] = '\0';
    memcpy(t2, m + strlen(prefix) + 16 + strlen(mid), 16);
    t2[16] = '\0';
    memcpy(t3, m + strlen(prefix) + 32 + strlen(mid) + 2, 16);
    t3[16] = '\0';
    snprintf(rebuilt, sizeof rebuilt, "%s%s%s%s (%s%s", prefix, t1, mid, t2, t3,
             suffix);
    cr_assert_str_eq(m, rebuilt);
    json_decref(j);
}

Test(iam_route, clock_skew_beyond_the_limit_is_refused_both_ways)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --time-offset -400");
    expect_skew(&r, "Signature expired: ", " is now earlier than ",
                " - 5 min.)");
    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --time-offset 400");
    expect_skew(&r, "Signature not yet current: ", " is still later than ",
                " + 5 min.)");
    cr_assert_eq(rows(), 0);
    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --time-offset -200");
    cr_assert_eq(r.status, 201, "%s", r.body);
}

Test(iam_route, unknown_key_or_a_token_on_a_static_key_is_invalid)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key AKIAUNKNOWNEXAMPLE00 --secret " SECRET);
    expect_json(&r, 403, "message", INVALID_TOKEN);
    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --token abcdefgh");
    expect_json(&r, 403, "message", INVALID_TOKEN);
    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key ASIAUNKNOWNEXAMPLE00 --secret " SECRET " --token abc");
    expect_json(&r, 403, "message", INVALID_TOKEN);
    cr_assert_eq(rows(), 0);
}

Test(iam_route, content_sha256_must_match_the_body)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r,
         KEYS " --header x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb9"
              "2427ae41e4649b934ca495991b7852b855");
    expect_json(&r, 403, "message",
                "The provided 'x-amz-content-sha256' header does not match "
                "what was computed.");
    cr_assert_eq(rows(), 0);
}

Test(iam_route, policy_deny_answers_as_api_gateway)
{
    struct cres r;

    boto(&srv, "/lab/results-ci", BODY, &r,
         "--key " AKID_DENIED " --secret " SECRET);
    expect_json(
        &r, 403, "Message",
        "User: arn:aws:iam::123456789012:user/denied is not "
        "authorized to perform: execute-api:Invoke on resource: " RESOURCE);
    cr_assert_eq(rows(), 0);
}

Test(iam_route, secrets_never_reach_the_log)
{
    struct cres r;
    char cmd[1024], out[256];

    boto(&srv, "/lab/results-ci", BODY, &r, KEYS);
    cr_assert_eq(r.status, 201);
    boto(&srv, "/lab/results-ci", BODY, &r, KEYS " --tamper body");
    cr_assert_eq(r.status, 403);
    snprintf(cmd, sizeof cmd,
             "grep -c -e '%s' -e 'Signature=' -e 'X-Amz-Signature' '%s'",
             SECRET, srv.log);
    run_cmd(cmd, out, sizeof out);
    cr_assert_eq(atoi(out), 0, "secret material in the log");
    snprintf(cmd, sizeof cmd, "grep -c 'event=refused.*key=" AKID "' '%s'",
             srv.log);
    run_cmd(cmd, out, sizeof out);
    cr_assert_eq(atoi(out), 1, "the refusal is not logged");
}

/* Start the server on iam_json and return its exit status and output. */
static int
start_with_iam(const char *iam_json, char *out, size_t n)
{
    char dir[] = "/tmp/labgate-iamcfg-XXXXXX", path[256], cfg[4096];
    const char *argv[] = {"--config", path, NULL};
    int rc;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/labgate.json", dir);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"%s/db\","
             "\"jwt\":{},\"iam\":%s}",
             dir, iam_json);
    cr_assert_eq(tsupport_write_file(path, cfg), 0);
    rc = tsrv_run_cli(argv, out, n);
    snprintf(cfg, sizeof cfg, "rm -rf '%s'", dir);
    cr_assert_eq(system(cfg), 0);
    return rc;
}

TestSuite(iam_config, .timeout = 60);

Test(iam_config, unsupported_policy_feature_stops_the_server)
{
    char out[2048];

    cr_assert_eq(
        start_with_iam(
            "{\"account\":\"123456789012\",\"roles\":[{\"arn\":"
            "\"arn:aws:iam::123456789012:role/ci\",\"trust_policy\":{"
            "\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
            "\"Principal\":{\"Federated\":\"arn:aws:iam::123456789012:oidc-"
            "provider/token.actions.githubusercontent.com\"},\"Action\":"
            "\"sts:AssumeRoleWithWebIdentity\"}},\"policy\":{\"Version\":"
            "\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
            "\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"*\","
            "\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{"
            "\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}}]}}]}",
            out, sizeof out),
        2, "%s", out);
    cr_assert(strstr(out, "labgate-server: configuration error: "
                          "iam.roles[0].policy.Statement[1].Condition: "
                          "DateLessThan is not supported") != NULL,
              "%s", out);
}

Test(iam_config, every_key_is_checked_and_named)
{
    char out[2048];

    cr_assert_eq(start_with_iam("{\"regoin\":\"eu-north-1\"}", out, sizeof out),
                 2);
    cr_assert(strstr(out, "iam.regoin: unknown key") != NULL, "%s", out);
    cr_assert_eq(start_with_iam("{\"static_keys\":[{\"access_key_id\":"
                                "\"AKIAIOSFODNN7EXAMPLE\",\"secret_access_"
                                "key\":\"" SECRET "\",\"principal_arn\":"
                                "\"arn:aws:iam::000000000000:user/x\"}]}",
                                out, sizeof out),
                 2);
    cr_assert(strstr(out, "iam.static_keys[0].policy: required unless "
                          "principal_arn names one of iam.roles") != NULL,
              "%s", out);
    cr_assert_eq(start_with_iam("{\"max_skew_seconds\":0}", out, sizeof out),
                 2);
    cr_assert(strstr(out, "iam.max_skew_seconds: expected an integer from "
                          "1 to 3600") != NULL,
              "%s", out);
}

Test(iam_config, unconfigured_server_refuses_and_logs_how_to_configure)
{
    static const char cfg[] = "{\"listen\":\"127.0.0.1:0\",\"database\":"
                              "\"unused.db\",\"jwt\":{},\"iam\":{}}";
    struct tsrv bare;
    struct cres r;
    char cmd[1024], out[256];

    tsrv_init(&bare);
    snprintf(bare.config, sizeof bare.config, "%s/labgate.json", bare.dir);
    cr_assert_eq(tsupport_write_file(bare.config, cfg), 0);
    cr_assert_eq(tsrv_start(&bare, NULL), 0, "server did not start");
    boto(&bare, "/lab/results-ci", BODY, &r, KEYS);
    expect_json(&r, 403, "message", INVALID_TOKEN);
    snprintf(cmd, sizeof cmd,
             "grep -c 'mod=iamauth event=unconfigured.*docs/iam.md' '%s'",
             bare.log);
    run_cmd(cmd, out, sizeof out);
    cr_assert_eq(atoi(out), 1);
    cr_assert_eq(db_count(bare.db, "SELECT count(*) FROM results"), 0);
    cr_assert_eq(tsrv_stop(&bare), 0);
    tsrv_cleanup(&bare);
}

Test(iam_config, example_in_docs_starts_the_server)
{
    char path[] = LABGATE_SOURCE_DIR "/docs/iam.md", secret[512];
    FILE *f = fopen(path, "r");
    static char text[65536];
    size_t n;
    const char *start, *end;
    json_t *cfg;
    struct tsrv s;

    cr_assert_not_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    start = strstr(text, "```json\n");
    cr_assert_not_null(start);
    start += 8;
    end = strstr(start, "```");
    cfg = json_loadb(start, (size_t)(end - start), 0, NULL);
    cr_assert_not_null(cfg, "the example in docs/iam.md is not JSON");
    tsrv_init(&s);
    snprintf(secret, sizeof secret, "%s/nightly.secret", s.dir);
    cr_assert_eq(tsupport_write_file(secret, "nightlySecretKey0123456789\n"),
                 0);
    json_object_set_new(cfg, "listen", json_string("127.0.0.1:0"));
    json_object_set_new(cfg, "database", json_string(s.db));
    /* Keep the test on loopback: no key fetches from GitHub. */
    json_object_set_new(
        cfg, "jwt",
        json_loads("{\"issuers\":[{\"issuer\":\"http://127.0.0.1:9\","
                   "\"audiences\":[\"lab-api\"],"
                   "\"allow_insecure_http\":true}]}",
                   0, NULL));
    json_object_set_new(
        json_array_get(
            json_object_get(json_object_get(cfg, "iam"), "static_keys"), 0),
        "secret_access_key_file", json_string(secret));
    snprintf(s.config, sizeof s.config, "%s/labgate.json", s.dir);
    cr_assert_eq(json_dump_file(cfg, s.config, 0), 0);
    json_decref(cfg);
    cr_assert_eq(tsrv_start(&s, NULL), 0, "the documented example fails");
    cr_assert_eq(tsrv_stop(&s), 0);
    tsrv_cleanup(&s);
}
