/*
 * IAM policy parsing and evaluation: AWS's decision rules, each condition
 * operator with present and absent keys, and the exact start-up errors
 * for documents that use something labgate does not evaluate.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "iam_policy.h"

#define RES                                                                    \
    "arn:aws:execute-api:eu-north-1:123456789012:labgate/prod/POST/lab/"       \
    "results-ci"
#define ROLE "arn:aws:iam::123456789012:role/ci"
#define FED "arn:aws:iam::123456789012:oidc-provider/token.example.com"

static const char *const providers[] = {"token.example.com", NULL};

static struct iam_policy *
parse(enum iam_policy_kind kind, const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    struct iam_policy *p = NULL;
    struct err e = {0, ""};

    cr_assert_not_null(doc, "bad JSON in test: %s", je.text);
    cr_assert_eq(
        iam_policy_parse(doc, kind, "iam.roles[0].policy", providers, &p, &e),
        0, "%s", e.msg);
    json_decref(doc);
    return p;
}

static void
refused(enum iam_policy_kind kind, const char *text, const char *msg)
{
    json_t *doc = json_loads(text, 0, NULL);
    struct iam_policy *p = NULL;
    struct err e = {0, ""};

    cr_assert_not_null(doc);
    cr_assert_neq(
        iam_policy_parse(doc, kind, "iam.roles[0].policy", providers, &p, &e),
        0);
    cr_assert_null(p);
    cr_assert_str_eq(e.msg, msg);
    json_decref(doc);
}

static enum iam_decision
decide(struct iam_policy *p, const struct iam_key *keys, size_t n)
{
    struct iam_request rq = {"execute-api:Invoke", RES, NULL, keys, n};

    return iam_policy_evaluate(p, &rq);
}

#define ALLOW_ALL                                                              \
    "{\"Effect\":\"Allow\",\"Action\":\"execute-api:Invoke\","                 \
    "\"Resource\":\"arn:aws:execute-api:*:*:*/*/POST/lab/*\"}"

Test(iam_policy, explicit_deny_beats_allow)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":[" ALLOW_ALL
              ",{\"Effect\":\"Deny\",\"Action\":\"execute-api:*\","
              "\"Resource\":\"*\",\"Condition\":{\"StringEquals\":"
              "{\"aws:PrincipalArn\":\"" ROLE "\"}}}]}");
    struct iam_key role = {"aws:PrincipalArn", ROLE};
    struct iam_key other = {"aws:PrincipalArn",
                            "arn:aws:iam::123456789012:role/other"};

    cr_assert_eq(decide(p, &role, 1), IAM_DENY_EXPLICIT);
    cr_assert_eq(decide(p, &other, 1), IAM_ALLOW);
    iam_policy_free(p);
}

Test(iam_policy, no_matching_allow_is_implicit_deny)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"execute-api:Invoke\",\"Resource\":"
              "\"arn:aws:execute-api:eu-north-1:123456789012:labgate/prod/GET/"
              "*\"}}");

    cr_assert_eq(decide(p, NULL, 0), IAM_DENY_IMPLICIT);
    iam_policy_free(p);
}

Test(iam_policy, action_is_case_insensitive_with_question_mark)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"EXECUTE-API:Invok?\",\"Resource\":\"" RES "\"}}");

    cr_assert_eq(decide(p, NULL, 0), IAM_ALLOW);
    iam_policy_free(p);
}

Test(iam_policy, not_resource_excludes_the_named_resource)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"NotResource\":\"" RES "\"}}");

    cr_assert_eq(decide(p, NULL, 0), IAM_DENY_IMPLICIT);
    iam_policy_free(p);
}

Test(iam_policy, absent_keys_behave_as_aws_documents)
{
    /* Positive operators fail, negated ones and IfExists pass. */
    struct iam_policy *eq = parse(
        IAM_POLICY_PERMISSIONS,
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
        "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\""
        ":{\"aws:PrincipalTag/team\":\"qa\"}}}}");
    struct iam_policy *ne =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
              "\"StringNotEquals\":{\"aws:PrincipalTag/team\":\"qa\"}}}}");
    struct iam_policy *ie =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
              "\"StringEqualsIfExists\":{\"aws:PrincipalTag/team\":\"qa\"}}}}");
    struct iam_key dev = {"aws:PrincipalTag/team", "dev"};

    cr_assert_eq(decide(eq, NULL, 0), IAM_DENY_IMPLICIT);
    cr_assert_eq(decide(ne, NULL, 0), IAM_ALLOW);
    cr_assert_eq(decide(ie, NULL, 0), IAM_ALLOW);
    cr_assert_eq(decide(ie, &dev, 1), IAM_DENY_IMPLICIT);
    cr_assert_eq(decide(ne, &dev, 1), IAM_ALLOW);
    iam_policy_free(eq);
    iam_policy_free(ne);
    iam_policy_free(ie);
}

Test(iam_policy, null_tests_presence)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Null\":"
              "{\"token.example.com:repository\":\"false\"}}}}");
    struct iam_key repo = {"token.example.com:repository", "acme/app"};

    cr_assert_eq(decide(p, NULL, 0), IAM_DENY_IMPLICIT);
    cr_assert_eq(decide(p, &repo, 1), IAM_ALLOW);
    iam_policy_free(p);
}

Test(iam_policy, ip_address_bool_and_arn_like)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
              "\"IpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"::1\"]},"
              "\"Bool\":{\"aws:SecureTransport\":false},"
              "\"ArnLike\":{\"aws:PrincipalArn\":"
              "\"arn:aws:iam::*:role/c?\"}}}}");
    struct iam_key ok[] = {{"aws:SourceIp", "10.1.2.3"},
                           {"aws:SecureTransport", "false"},
                           {"aws:PrincipalArn", ROLE}};
    struct iam_key v6[] = {{"aws:SourceIp", "::1"},
                           {"aws:SecureTransport", "false"},
                           {"aws:PrincipalArn", ROLE}};
    struct iam_key far[] = {{"aws:SourceIp", "11.0.0.1"},
                            {"aws:SecureTransport", "false"},
                            {"aws:PrincipalArn", ROLE}};
    struct iam_key user[] = {
        {"aws:SourceIp", "10.0.0.1"},
        {"aws:SecureTransport", "false"},
        {"aws:PrincipalArn", "arn:aws:iam::123456789012:user/ci"}};

    cr_assert_eq(decide(p, ok, 3), IAM_ALLOW);
    cr_assert_eq(decide(p, v6, 3), IAM_ALLOW);
    cr_assert_eq(decide(p, far, 3), IAM_DENY_IMPLICIT);
    cr_assert_eq(decide(p, user, 3), IAM_DENY_IMPLICIT);
    iam_policy_free(p);
}

Test(iam_policy, trust_policy_matches_provider_and_claims)
{
    struct iam_policy *p = parse(
        IAM_POLICY_TRUST,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Principal\":{\"Federated\":\"" FED "\"},"
        "\"Action\":\"sts:AssumeRoleWithWebIdentity\",\"Condition\":{"
        "\"StringEquals\":{\"token.example.com:aud\":\"sts.amazonaws.com\"},"
        "\"StringLike\":{\"token.example.com:sub\":\"repo:acme/*:ref:refs/"
        "heads/main\"}}}]}");
    struct iam_key good[] = {
        {"token.example.com:aud", "sts.amazonaws.com"},
        {"token.example.com:sub", "repo:acme/app:ref:refs/heads/main"}};
    struct iam_key branch[] = {
        {"token.example.com:aud", "sts.amazonaws.com"},
        {"token.example.com:sub", "repo:acme/app:ref:refs/heads/dev"}};
    struct iam_request rq = {"sts:AssumeRoleWithWebIdentity", NULL, FED, good,
                             2};

    cr_assert_eq(iam_policy_evaluate(p, &rq), IAM_ALLOW);
    rq.keys = branch;
    cr_assert_eq(iam_policy_evaluate(p, &rq), IAM_DENY_IMPLICIT);
    rq.keys = good;
    rq.federated = "arn:aws:iam::123456789012:oidc-provider/other.example";
    cr_assert_eq(iam_policy_evaluate(p, &rq), IAM_DENY_IMPLICIT);
    iam_policy_free(p);
}

Test(iam_policy, for_all_values_with_several_key_values)
{
    struct iam_policy *p =
        parse(IAM_POLICY_PERMISSIONS,
              "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
              "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
              "\"ForAllValues:StringEquals\":{\"token.example.com:amr\":"
              "[\"a\",\"b\"]}}}}");
    struct iam_key both[] = {{"token.example.com:amr", "a"},
                             {"token.example.com:amr", "b"}};
    struct iam_key extra[] = {{"token.example.com:amr", "a"},
                              {"token.example.com:amr", "c"}};

    cr_assert_eq(decide(p, both, 2), IAM_ALLOW);
    cr_assert_eq(decide(p, extra, 2), IAM_DENY_IMPLICIT);
    iam_policy_free(p);
}

Test(iam_policy, unsupported_operator_is_refused_naming_the_place)
{
    refused(IAM_POLICY_PERMISSIONS,
            "{\"Version\":\"2012-10-17\",\"Statement\":[" ALLOW_ALL
            ",{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
            "\"Condition\":{\"NumericLessThan\":{\"aws:SourceIp\":\"1\"}}}]}",
            "iam.roles[0].policy.Statement[1].Condition: NumericLessThan is "
            "not supported (labgate evaluates String*, Arn*, Bool, "
            "IpAddress, NotIpAddress, Null, their IfExists forms and "
            "ForAnyValue/ForAllValues)");
}

Test(iam_policy, unknown_condition_key_is_refused)
{
    refused(IAM_POLICY_PERMISSIONS,
            "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
            "\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
            "\"StringEquals\":{\"aws:PrincipleArn\":\"x\"}}}}",
            "iam.roles[0].policy.Statement.Condition.StringEquals: unknown "
            "condition key 'aws:PrincipleArn' (see docs/iam.md for the keys "
            "labgate knows)");
}

Test(iam_policy, not_principal_and_variables_are_refused)
{
    refused(IAM_POLICY_TRUST,
            "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
            "\"NotPrincipal\":{\"Federated\":\"" FED "\"},"
            "\"Action\":\"sts:AssumeRoleWithWebIdentity\"}}",
            "iam.roles[0].policy.Statement.NotPrincipal: not supported");
    refused(IAM_POLICY_PERMISSIONS,
            "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
            "\"Action\":\"*\",\"Resource\":\"arn:${aws:username}\"}}",
            "iam.roles[0].policy.Statement.Resource: policy variables "
            "(${...}) are not supported");
    refused(IAM_POLICY_TRUST,
            "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
            "\"Principal\":{\"AWS\":\"*\"},"
            "\"Action\":\"sts:AssumeRole\"}}",
            "iam.roles[0].policy.Statement.Principal.AWS: only Federated "
            "(OIDC providers) is supported");
}
