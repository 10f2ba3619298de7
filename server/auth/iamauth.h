/*
 * The IAM route's authenticator: verifies an AWS SigV4 signature against
 * known credentials (static keys from the configuration, temporary ones
 * issued by the built-in STS) and evaluates IAM policies.  Configured
 * from the "iam" section.  The STS handler (sts.c) shares the
 * credential lookup and the role table through the functions below.
 */
#ifndef LABGATE_IAMAUTH_H
#define LABGATE_IAMAUTH_H

#include "http.h"
#include "iam_policy.h"
#include "store.h"

struct jwt_trust;
struct iamconf;
struct iamconf_role;

/* Why a signed request was refused, for STS's AWS error codes. */
enum iamauth_fail {
    IAMAUTH_MISSING,       /* nothing signed: MissingAuthenticationToken */
    IAMAUTH_INCOMPLETE,    /* malformed parameters: IncompleteSignature */
    IAMAUTH_SIGNATURE,     /* scope, time or mismatch: SignatureDoesNotMatch */
    IAMAUTH_TOKEN_INVALID, /* unknown key or bad token: InvalidClientTokenId */
    IAMAUTH_TOKEN_EXPIRED, /* temporary credentials expired: ExpiredToken */
    IAMAUTH_INTERNAL       /* the store failed */
};

/* Who signed a request. */
struct iamauth_caller {
    const char *principal_arn; /* role or user ARN */
    const char *caller_arn;    /* assumed-role session ARN, or the user */
    const char *user_id;       /* AROA...:session, or the key id */
    const char *access_key_id;
    const char *session_name;        /* NULL for static keys */
    const struct iamconf_role *role; /* NULL when no role applies */
    const struct iam_policy *policy; /* permissions, or NULL */
    json_t *tags;                    /* principal tags (borrowed) */
    struct store_sts_session sts;    /* filled for temporary credentials */
    int temporary;
};

#define IAMAUTH_CTX_MAX 128

/* Condition keys for a policy decision; owns the strings it built. */
struct iamauth_ctx {
    struct iam_key keys[IAMAUTH_CTX_MAX];
    size_t n;
    char *owned[2 * IAMAUTH_CTX_MAX];
    size_t nowned;
};

/*
 * Add name=value to ctx, copying both when copy is set (otherwise they
 * must outlive ctx).  Keys beyond IAMAUTH_CTX_MAX are dropped, and
 * absent values (NULL) are not added.
 */
void iamauth_ctx_add(struct iamauth_ctx *ctx, const char *name,
                     const char *value, int copy);

/*
 * Add every top-level claim of claims (a JSON object) as PROVIDER:NAME:
 * strings as they are, arrays as one key per string element, booleans
 * as "true"/"false", integers in decimal.
 */
void iamauth_ctx_claims(struct iamauth_ctx *ctx, const char *provider,
                        json_t *claims);

/* Release what ctx owns. */
void iamauth_ctx_free(struct iamauth_ctx *ctx);

/*
 * The OIDC provider name of an issuer URL: scheme and trailing slash
 * removed ("token.actions.githubusercontent.com").  Returns out.
 */
const char *iamauth_provider(const char *issuer, char *out, size_t n);

/* Validate the "iam" section and load keys and roles. */
int iamauth_configure(struct server *srv, struct err *err);

/*
 * Authenticate rq.  Returns 0 with rq->auth and rq->ident filled, or -1
 * with the refusal written into rs.
 */
int iamauth_check(struct http_req *rq, struct http_resp *rs);

/* Release what iamauth_configure loaded. */
void iamauth_shutdown(struct server *srv);

/*
 * Verify rq's SigV4 signature for service ("execute-api", "sts") and find
 * who signed it.  Returns 0 with out filled (release with
 * iamauth_caller_free), or a negative code with *why set and API
 * Gateway's message in err.
 */
int iamauth_authenticate(struct http_req *rq, const char *service,
                         struct iamauth_caller *out, enum iamauth_fail *why,
                         struct err *err);

void iamauth_caller_free(struct iamauth_caller *c);

/* The parsed "iam" section (auth/iamconf.h), owned by srv. */
const struct iamconf *iamauth_conf(const struct server *srv);

/*
 * The verifier for web identity tokens, or NULL when this build or
 * configuration has none (STS then answers 501).
 */
struct jwt_trust *iamauth_jwt_trust(const struct server *srv);

#endif
