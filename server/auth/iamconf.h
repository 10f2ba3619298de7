/*
 * The "iam" configuration section, checked key by key and turned into
 * the tables the IAM authenticator and the STS use: region, account and
 * resource naming, the clock skew allowed, static keys (with their
 * secrets and policies), roles (trust and permissions policies, longest
 * session, tags) and the audiences STS accepts.  Every error names the
 * key it is about ("iam.roles[0].policy.Statement[1].Condition: ...").
 */
#ifndef LABGATE_IAMCONF_H
#define LABGATE_IAMCONF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/sigv4.h"
#include "err.h"
#include "iam_policy.h"

#define IAMCONF_DEFAULT_ACCOUNT "000000000000"
#define IAMCONF_DEFAULT_API_ID "labgate"
#define IAMCONF_DEFAULT_STAGE "prod"
#define IAMCONF_DEFAULT_AUDIENCE "sts.amazonaws.com"
#define IAMCONF_AUDIENCES_MAX 16
#define IAMCONF_SECRET_MAX 256
#define IAMCONF_NAME_MAX 64

/* One long-lived key of iam.static_keys. */
struct iamconf_key {
    char *access_key_id;
    char *secret;
    char *principal_arn;
    struct iam_policy *policy; /* own policy, or NULL for the role's */
    const struct iamconf_role *role;
    json_t *tags;
};

/* One role of iam.roles; STS issues sessions for it. */
struct iamconf_role {
    char *arn;
    char *name;
    char id[22]; /* "AROA" and 17 characters */
    struct iam_policy *trust;
    struct iam_policy *policy;
    int max_session;
    json_t *tags;
};

/* The whole section; every string and policy is owned. */
struct iamconf {
    char region[SIGV4_SCOPE_PART_MAX];
    char account[13];
    char api_id[IAMCONF_NAME_MAX];
    char stage[IAMCONF_NAME_MAX];
    int64_t max_skew;
    struct iamconf_key *keys;
    size_t nkeys;
    struct iamconf_role *roles;
    size_t nroles;
    char *audiences[IAMCONF_AUDIENCES_MAX + 1]; /* NULL-terminated */
};

/*
 * Fill ia (zeroed by the caller) from section.  Returns 0, or
 * ERR_INVALID / ERR_UNSUPPORTED / ERR_NOMEM naming the key; ia may then
 * be partly filled and is released with iamconf_free either way.
 */
int iamconf_parse(struct iamconf *ia, json_t *section, struct err *err);

/* Release everything ia owns (not ia itself) and zero it. */
void iamconf_free(struct iamconf *ia);

/* The role with this ARN, or NULL. */
const struct iamconf_role *iamconf_find_role(const struct iamconf *ia,
                                             const char *arn);

#endif
