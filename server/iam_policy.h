/*
 * IAM JSON policies: a parser that accepts exactly the subset labgate
 * evaluates (and refuses anything else, naming where it is), and an
 * evaluator with AWS's rules: an explicit Deny beats any Allow, and
 * without an Allow the answer is deny.
 *
 * Two kinds of document are read.  Permissions policies grant Action on
 * Resource (execute-api:Invoke on an execute-api ARN).  Trust policies
 * grant sts:AssumeRoleWithWebIdentity to Principal.Federated OIDC
 * providers, with conditions on the token's claims.
 */
#ifndef LABGATE_IAM_POLICY_H
#define LABGATE_IAM_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct iam_policy;

enum iam_policy_kind { IAM_POLICY_PERMISSIONS, IAM_POLICY_TRUST };

enum iam_decision {
    IAM_DENY_IMPLICIT, /* no statement allows */
    IAM_ALLOW,         /* allowed and nothing denies */
    IAM_DENY_EXPLICIT  /* a Deny statement matched */
};

/* One value of a condition key in the request context. */
struct iam_key {
    const char *name;  /* "aws:PrincipalArn", "HOST:sub", ... */
    const char *value; /* a key with several values repeats the name */
};

/* What is being asked, and everything known about the caller. */
struct iam_request {
    const char *action;    /* "execute-api:Invoke" */
    const char *resource;  /* ARN; NULL for trust policies */
    const char *federated; /* OIDC provider ARN; trust policies only */
    const struct iam_key *keys;
    size_t nkeys;
};

/*
 * Parse doc as a policy of kind.  where names the document in messages
 * ("iam.roles[0].policy").  providers (NULL-terminated, may be NULL)
 * lists the OIDC provider names ("token.actions.githubusercontent.com")
 * whose claim keys ("PROVIDER:sub") a permissions policy may use; a
 * trust policy may use the claims of its statements' own providers.
 * Returns 0 and sets *out (free with iam_policy_free), or ERR_INVALID /
 * ERR_UNSUPPORTED naming the exact place, such as
 * "iam.roles[0].policy.Statement[1].Condition: NumericLessThan is not
 * supported".
 */
int iam_policy_parse(json_t *doc, enum iam_policy_kind kind, const char *where,
                     const char *const *providers, struct iam_policy **out,
                     struct err *err);

/* Decide rq under p. */
enum iam_decision iam_policy_evaluate(const struct iam_policy *p,
                                      const struct iam_request *rq);

/*
 * The provider names (host and path of the issuer) that p's statements
 * name in Principal.Federated, appended to list (size cap, n in use).
 * Returns the new count; names beyond cap are dropped.  The strings live
 * as long as p.
 */
size_t iam_policy_providers(const struct iam_policy *p, const char **list,
                            size_t n, size_t cap);

/* Whether s matches pattern with '*' and '?' wildcards. */
int iam_policy_like(const char *pattern, const char *s, int nocase);

void iam_policy_free(struct iam_policy *p);

#endif
