/*
 * libFuzzer target: IAM policy documents (server/iam_policy.c), as an
 * operator writes them into the "iam" configuration section.  The first
 * byte picks a permissions or a trust policy; the rest is the JSON
 * document.  A parsed policy is evaluated against a request shaped like
 * the IAM route's and like an STS trust check.
 */
#include <stdint.h>

#include "iam_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const providers[] = {
        "token.actions.githubusercontent.com", NULL};
    static const struct iam_key keys[] = {
        {"aws:PrincipalArn", "arn:aws:iam::123456789012:role/ci"},
        {"aws:SourceIp", "127.0.0.1"},
        {"token.actions.githubusercontent.com:sub",
         "repo:octo-org/octo-repo:ref:refs/heads/main"},
        {"token.actions.githubusercontent.com:aud", "sts.amazonaws.com"},
    };
    struct iam_request rq = {
        "execute-api:Invoke",
        "arn:aws:execute-api:eu-north-1:123456789012:labgate/*/POST/lab/"
        "results-ci",
        "arn:aws:iam::123456789012:oidc-provider/"
        "token.actions.githubusercontent.com",
        keys, sizeof keys / sizeof keys[0]};
    enum iam_policy_kind kind;
    struct iam_policy *p = NULL;
    struct err e;
    json_t *doc;

    if (size < 1)
        return 0;
    kind = data[0] & 1 ? IAM_POLICY_TRUST : IAM_POLICY_PERMISSIONS;
    doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES,
                     NULL);
    if (doc == NULL)
        return 0;
    if (iam_policy_parse(doc, kind, "fuzz", providers, &p, &e) == 0) {
        if (kind == IAM_POLICY_PERMISSIONS)
            rq.federated = NULL;
        else
            rq.resource = NULL;
        iam_policy_evaluate(p, &rq);
        iam_policy_free(p);
    }
    json_decref(doc);
    return 0;
}
