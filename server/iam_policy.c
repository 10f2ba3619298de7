/*
 * IAM policy documents, parsed into statements and evaluated.
 *
 * A policy is an array of statements; each has an effect, action and
 * resource patterns (or their Not* forms), for trust policies a list of
 * federated principals, and a list of conditions.  A condition is one
 * operator (with its IfExists and ForAnyValue/ForAllValues modifiers)
 * applied to one context key and its values.  Every member of the JSON
 * is checked while parsing: an element labgate does not evaluate
 * (NotPrincipal, numeric or date operators, policy variables, unknown
 * condition keys) refuses the whole document, because ignoring it could
 * turn a Deny into nothing.
 *
 * Evaluation follows AWS: statements whose action, resource, principal
 * and conditions all match contribute their effect; one Deny wins, else
 * one Allow allows, else the request is implicitly denied.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iam_policy.h"

#define IAM_WHERE_MAX 160

enum iam_op {
    IAM_OP_STRING_EQUALS,
    IAM_OP_STRING_EQUALS_IC,
    IAM_OP_STRING_LIKE,
    IAM_OP_ARN_EQUALS,
    IAM_OP_ARN_LIKE,
    IAM_OP_BOOL,
    IAM_OP_IP_ADDRESS,
    IAM_OP_NULL
};

/* Operator names, the positive form and whether the name negates it. */
static const struct iam_op_name {
    const char *name;
    enum iam_op op;
    int negated;
} iam_ops[] = {
    {"StringEquals", IAM_OP_STRING_EQUALS, 0},
    {"StringNotEquals", IAM_OP_STRING_EQUALS, 1},
    {"StringEqualsIgnoreCase", IAM_OP_STRING_EQUALS_IC, 0},
    {"StringNotEqualsIgnoreCase", IAM_OP_STRING_EQUALS_IC, 1},
    {"StringLike", IAM_OP_STRING_LIKE, 0},
    {"StringNotLike", IAM_OP_STRING_LIKE, 1},
    {"ArnEquals", IAM_OP_ARN_EQUALS, 0},
    {"ArnNotEquals", IAM_OP_ARN_EQUALS, 1},
    {"ArnLike", IAM_OP_ARN_LIKE, 0},
    {"ArnNotLike", IAM_OP_ARN_LIKE, 1},
    {"Bool", IAM_OP_BOOL, 0},
    {"IpAddress", IAM_OP_IP_ADDRESS, 0},
    {"NotIpAddress", IAM_OP_IP_ADDRESS, 1},
    {"Null", IAM_OP_NULL, 0},
};

/* Global condition keys labgate fills in (a trailing '/' takes a tag). */
static const char *const iam_global_keys[] = {"aws:PrincipalArn",
                                              "aws:PrincipalAccount",
                                              "aws:PrincipalType",
                                              "aws:userid",
                                              "aws:SourceIp",
                                              "aws:SecureTransport",
                                              "aws:UserAgent",
                                              "aws:RequestedRegion",
                                              "aws:FederatedProvider",
                                              "aws:PrincipalTag/",
                                              NULL};

enum iam_set { IAM_SET_NONE, IAM_SET_ANY, IAM_SET_ALL };

struct iam_cond {
    enum iam_op op;
    int negated;
    int if_exists;
    enum iam_set set;
    char *key;
    char **values;
    size_t nvalues;
};

struct iam_list {
    char **v;
    size_t n;
};

struct iam_stmt {
    int deny;
    int not_action, not_resource;
    struct iam_list actions, resources, federated;
    struct iam_cond *conds;
    size_t nconds;
};

struct iam_policy {
    struct iam_stmt *stmts;
    size_t n;
};

/* Parsing state: where we are, for messages, and what is allowed. */
struct iam_parse {
    enum iam_policy_kind kind;
    const char *const *providers;
    const struct iam_stmt *stmt; /* the statement being parsed */
    char where[IAM_WHERE_MAX];
    struct err *err;
};

static void
iam_list_free(struct iam_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* A string or a non-empty array of strings into l. */
static int
iam_strings(struct iam_parse *ps, json_t *v, const char *what,
            struct iam_list *l)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    if (!json_is_string(v) && !(json_is_array(v) && n > 0))
        return err_set(ps->err, ERR_INVALID,
                       "%s.%s: expected a string or a non-empty array of "
                       "strings",
                       ps->where, what);
    l->v = calloc(n, sizeof *l->v);
    if (l->v == NULL)
        return err_set(ps->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e))
            return err_set(ps->err, ERR_INVALID,
                           "%s.%s[%zu]: expected a string", ps->where, what, i);
        if (strstr(json_string_value(e), "${") != NULL)
            return err_set(ps->err, ERR_UNSUPPORTED,
                           "%s.%s: policy variables (${...}) are not "
                           "supported",
                           ps->where, what);
        l->v[i] = strdup(json_string_value(e));
        if (l->v[i] == NULL)
            return err_set(ps->err, ERR_NOMEM, "out of memory");
        l->n = i + 1;
    }
    return 0;
}

int
iam_policy_like(const char *pattern, const char *s, int nocase)
{
    const char *star = NULL, *resume = NULL;

    while (*s != '\0') {
        int same = nocase ? tolower((unsigned char)*pattern) ==
                                tolower((unsigned char)*s)
                          : *pattern == *s;
        if (*pattern == '*') {
            star = pattern++;
            resume = s;
        } else if (*pattern == '?' || (*pattern != '\0' && same)) {
            pattern++;
            s++;
        } else if (star != NULL) {
            pattern = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

/* Whether an ARN has the six colon-separated parts AWS requires. */
static int
iam_is_arn(const char *s)
{
    int colons = 0;

    if (strncmp(s, "arn:", 4) != 0)
        return 0;
    for (; *s != '\0' && colons < 5; s++)
        colons += *s == ':';
    return colons == 5;
}

/* The provider part of "arn:aws:iam::ACCOUNT:oidc-provider/NAME". */
static const char *
iam_provider_name(const char *arn)
{
    const char *p = strstr(arn, ":oidc-provider/");

    return iam_is_arn(arn) && p != NULL ? p + strlen(":oidc-provider/") : NULL;
}

/* Whether key is PROVIDER:claim for a provider in list (n entries). */
static int
iam_claim_key(const char *key, const char *const *list, size_t n)
{
    const char *colon = strrchr(key, ':');

    if (colon == NULL || colon[1] == '\0')
        return 0;
    for (size_t i = 0; list != NULL && i < n && list[i] != NULL; i++)
        if (strlen(list[i]) == (size_t)(colon - key) &&
            strncasecmp(key, list[i], (size_t)(colon - key)) == 0)
            return 1;
    return 0;
}

static int
iam_known_key(const struct iam_parse *ps, const char *key)
{
    for (int i = 0; iam_global_keys[i] != NULL; i++) {
        size_t n = strlen(iam_global_keys[i]);
        if (iam_global_keys[i][n - 1] == '/'
                ? strncasecmp(key, iam_global_keys[i], n) == 0 && key[n]
                : strcasecmp(key, iam_global_keys[i]) == 0)
            return 1;
    }
    if (iam_claim_key(key, ps->providers, (size_t)-1))
        return 1;
    if (ps->stmt != NULL) {
        for (size_t i = 0; i < ps->stmt->federated.n; i++) {
            const char *name = iam_provider_name(ps->stmt->federated.v[i]);
            if (name != NULL && iam_claim_key(key, &name, 1))
                return 1;
        }
    }
    return 0;
}

static int
iam_valid_ip(const char *s)
{
    unsigned char buf[16];
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int v6, bits = -1;
    char *end;

    if (n == 0 || n >= sizeof addr)
        return 0;
    memcpy(addr, s, n);
    addr[n] = '\0';
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1)
        return 0;
    if (slash != NULL) {
        bits = (int)strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits < 0 ||
            bits > (v6 ? 128 : 32))
            return 0;
    }
    return 1;
}

/* Parse one "OPERATOR": {KEY: VALUES} member into c. */
static int
iam_cond_op(struct iam_parse *ps, const char *opname, struct iam_cond *c)
{
    char name[64];
    size_t n;

    c->set = IAM_SET_NONE;
    if (strncmp(opname, "ForAnyValue:", 12) == 0) {
        c->set = IAM_SET_ANY;
        opname += 12;
    } else if (strncmp(opname, "ForAllValues:", 13) == 0) {
        c->set = IAM_SET_ALL;
        opname += 13;
    }
    snprintf(name, sizeof name, "%s", opname);
    n = strlen(name);
    if (n > 8 && strcmp(name + n - 8, "IfExists") == 0) {
        c->if_exists = 1;
        name[n - 8] = '\0';
    }
    for (size_t i = 0; i < sizeof iam_ops / sizeof iam_ops[0]; i++) {
        if (strcmp(iam_ops[i].name, name) != 0)
            continue;
        c->op = iam_ops[i].op;
        c->negated = iam_ops[i].negated;
        if (c->op == IAM_OP_NULL && (c->if_exists || c->set != IAM_SET_NONE))
            break;
        return 0;
    }
    return err_set(ps->err, ERR_UNSUPPORTED,
                   "%s.Condition: %.60s is not supported (labgate "
                   "evaluates String*, Arn*, Bool, IpAddress, NotIpAddress, "
                   "Null, their IfExists forms and ForAnyValue/"
                   "ForAllValues)",
                   ps->where, opname);
}

/* Check and copy the values of one condition key. */
static int
iam_cond_values(struct iam_parse *ps, const char *op, json_t *v,
                struct iam_cond *c)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    c->values = calloc(n ? n : 1, sizeof *c->values);
    if (c->values == NULL)
        return err_set(ps->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *s = json_is_true(e)    ? "true"
                        : json_is_false(e) ? "false"
                                           : json_string_value(e);
        int bad = s == NULL || strstr(s, "${") != NULL;
        if (!bad && (c->op == IAM_OP_BOOL || c->op == IAM_OP_NULL))
            bad = strcasecmp(s, "true") != 0 && strcasecmp(s, "false") != 0;
        if (!bad && c->op == IAM_OP_IP_ADDRESS)
            bad = !iam_valid_ip(s);
        if (bad)
            return err_set(ps->err, ERR_INVALID,
                           "%s.Condition.%.40s.%.60s: bad value (expected "
                           "%s; policy variables are not supported)",
                           ps->where, op, c->key,
                           c->op == IAM_OP_IP_ADDRESS ? "an IP or CIDR"
                           : c->op == IAM_OP_BOOL || c->op == IAM_OP_NULL
                               ? "true or false"
                               : "a string");
        c->values[i] = strdup(s);
        if (c->values[i] == NULL)
            return err_set(ps->err, ERR_NOMEM, "out of memory");
        c->nvalues = i + 1;
    }
    if (n == 0)
        return err_set(ps->err, ERR_INVALID,
                       "%s.Condition.%.40s.%.60s: no values", ps->where, op,
                       c->key);
    return 0;
}

static int
iam_conditions(struct iam_parse *ps, json_t *cond, struct iam_stmt *st)
{
    const char *op, *key;
    json_t *keys, *v;
    size_t total = 0;

    if (!json_is_object(cond))
        return err_set(ps->err, ERR_INVALID, "%s.Condition: expected an object",
                       ps->where);
    json_object_foreach(cond, op, keys) total +=
        json_is_object(keys) ? json_object_size(keys) : 0;
    st->conds = calloc(total ? total : 1, sizeof *st->conds);
    if (st->conds == NULL)
        return err_set(ps->err, ERR_NOMEM, "out of memory");
    json_object_foreach(cond, op, keys)
    {
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return err_set(ps->err, ERR_INVALID,
                           "%s.Condition.%.60s: expected an object of "
                           "condition keys",
                           ps->where, op);
        json_object_foreach(keys, key, v)
        {
            struct iam_cond *c = &st->conds[st->nconds++];
            if (iam_cond_op(ps, op, c) != 0)
                return ps->err->code;
            if ((c->key = strdup(key)) == NULL)
                return err_set(ps->err, ERR_NOMEM, "out of memory");
            if (!iam_known_key(ps, key))
                return err_set(ps->err, ERR_UNSUPPORTED,
                               "%s.Condition.%.40s: unknown condition key "
                               "'%.60s' (see docs/iam.md for the keys "
                               "labgate knows)",
                               ps->where, op, key);
            if (iam_cond_values(ps, op, v, c) != 0)
                return ps->err->code;
        }
    }
    return 0;
}

static int
iam_principal(struct iam_parse *ps, json_t *pr, struct iam_stmt *st)
{
    const char *k;
    json_t *v;
    int rc;

    if (!json_is_object(pr))
        return err_set(ps->err, ERR_UNSUPPORTED,
                       "%s.Principal: only {\"Federated\": ...} is "
                       "supported",
                       ps->where);
    json_object_foreach(pr, k, v)
    {
        if (strcmp(k, "Federated") != 0)
            return err_set(ps->err, ERR_UNSUPPORTED,
                           "%s.Principal.%.40s: only Federated (OIDC "
                           "providers) is supported",
                           ps->where, k);
    }
    if ((v = json_object_get(pr, "Federated")) == NULL)
        return err_set(ps->err, ERR_INVALID, "%s.Principal.Federated: required",
                       ps->where);
    rc = iam_strings(ps, v, "Principal.Federated", &st->federated);
    for (size_t i = 0; rc == 0 && i < st->federated.n; i++)
        if (iam_provider_name(st->federated.v[i]) == NULL)
            rc = err_set(ps->err, ERR_INVALID,
                         "%s.Principal.Federated: '%.80s' is not an OIDC "
                         "provider ARN (arn:aws:iam::ACCOUNT:oidc-provider/"
                         "HOST)",
                         ps->where, st->federated.v[i]);
    return rc;
}

/* Exactly one of name and not_name; sets *negated. */
static int
iam_either(struct iam_parse *ps, json_t *stmt, const char *name, int *negated,
           struct iam_list *l)
{
    char not_name[32];
    json_t *v, *nv;

    snprintf(not_name, sizeof not_name, "Not%s", name);
    v = json_object_get(stmt, name);
    nv = json_object_get(stmt, not_name);
    if ((v == NULL) == (nv == NULL))
        return err_set(ps->err, ERR_INVALID,
                       "%s: exactly one of %s and %s is required", ps->where,
                       name, not_name);
    *negated = nv != NULL;
    return iam_strings(ps, v ? v : nv, v ? name : not_name, l);
}

static int
iam_statement(struct iam_parse *ps, json_t *js, struct iam_stmt *st)
{
    static const char *const members[] = {
        "Sid",         "Effect",    "Action",    "NotAction", "Resource",
        "NotResource", "Principal", "Condition", NULL};
    const char *k, *effect;
    json_t *v;
    int trust = ps->kind == IAM_POLICY_TRUST;

    if (!json_is_object(js))
        return err_set(ps->err, ERR_INVALID, "%s: expected an object",
                       ps->where);
    json_object_foreach(js, k, v)
    {
        int known = 0;
        for (int i = 0; members[i] != NULL; i++)
            known |= strcmp(members[i], k) == 0;
        if (!known)
            return err_set(ps->err, ERR_UNSUPPORTED, "%s.%.40s: not supported",
                           ps->where, k);
    }
    if ((v = json_object_get(js, "Sid")) != NULL && !json_is_string(v))
        return err_set(ps->err, ERR_INVALID, "%s.Sid: expected a string",
                       ps->where);
    effect = json_string_value(json_object_get(js, "Effect"));
    if (effect == NULL ||
        (strcmp(effect, "Allow") != 0 && strcmp(effect, "Deny") != 0))
        return err_set(ps->err, ERR_INVALID,
                       "%s.Effect: must be \"Allow\" or \"Deny\"", ps->where);
    st->deny = strcmp(effect, "Deny") == 0;
    if (iam_either(ps, js, "Action", &st->not_action, &st->actions) != 0)
        return ps->err->code;
    if (trust &&
        (json_object_get(js, "Resource") || json_object_get(js, "NotResource")))
        return err_set(ps->err, ERR_INVALID,
                       "%s.Resource: a trust policy has no Resource",
                       ps->where);
    if (!trust &&
        iam_either(ps, js, "Resource", &st->not_resource, &st->resources))
        return ps->err->code;
    v = json_object_get(js, "Principal");
    if (!trust && v != NULL)
        return err_set(ps->err, ERR_INVALID,
                       "%s.Principal: a permissions policy names no "
                       "Principal",
                       ps->where);
    if (trust && v == NULL)
        return err_set(ps->err, ERR_INVALID,
                       "%s.Principal: required in a trust policy", ps->where);
    if (trust && iam_principal(ps, v, st) != 0)
        return ps->err->code;
    ps->stmt = st;
    v = json_object_get(js, "Condition");
    return v ? iam_conditions(ps, v, st) : 0;
}

static int
iam_document(struct iam_parse *ps, json_t *doc, struct iam_policy *p)
{
    const char *k, *version;
    json_t *v, *stmts;
    size_t base = strlen(ps->where), n;

    if (!json_is_object(doc))
        return err_set(ps->err, ERR_INVALID, "%s: expected a policy object",
                       ps->where);
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "Version") && strcmp(k, "Id") && strcmp(k, "Statement"))
            return err_set(ps->err, ERR_UNSUPPORTED, "%s.%.40s: not supported",
                           ps->where, k);
    }
    version = json_string_value(json_object_get(doc, "Version"));
    if (version == NULL || (strcmp(version, "2012-10-17") != 0 &&
                            strcmp(version, "2008-10-17") != 0))
        return err_set(ps->err, ERR_INVALID,
                       "%s.Version: must be \"2012-10-17\"", ps->where);
    stmts = json_object_get(doc, "Statement");
    n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    if (stmts == NULL || n == 0)
        return err_set(ps->err, ERR_INVALID,
                       "%s.Statement: at least one statement is required",
                       ps->where);
    p->stmts = calloc(n, sizeof *p->stmts);
    if (p->stmts == NULL)
        return err_set(ps->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (json_is_array(stmts))
            snprintf(ps->where + base, sizeof ps->where - base,
                     ".Statement[%zu]", i);
        else
            snprintf(ps->where + base, sizeof ps->where - base, ".Statement");
        p->n = i + 1;
        ps->stmt = NULL;
        if (iam_statement(
                ps, json_is_array(stmts) ? json_array_get(stmts, i) : stmts,
                &p->stmts[i]) != 0)
            return ps->err->code;
    }
    return 0;
}

int
iam_policy_parse(json_t *doc, enum iam_policy_kind kind, const char *where,
                 const char *const *providers, struct iam_policy **out,
                 struct err *err)
{
    struct iam_parse ps;
    struct iam_policy *p = calloc(1, sizeof *p);

    *out = NULL;
    if (p == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    memset(&ps, 0, sizeof ps);
    ps.kind = kind;
    ps.providers = providers;
    ps.err = err;
    snprintf(ps.where, sizeof ps.where, "%s", where);
    if (iam_document(&ps, doc, p) != 0) {
        iam_policy_free(p);
        return err->code;
    }
    *out = p;
    return 0;
}

void
iam_policy_free(struct iam_policy *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        struct iam_stmt *st = &p->stmts[i];
        iam_list_free(&st->actions);
        iam_list_free(&st->resources);
        iam_list_free(&st->federated);
        for (size_t j = 0; j < st->nconds; j++) {
            struct iam_cond *c = &st->conds[j];
            for (size_t k = 0; k < c->nvalues; k++)
                free(c->values[k]);
            free(c->values);
            free(c->key);
        }
        free(st->conds);
    }
    free(p->stmts);
    free(p);
}

size_t
iam_policy_providers(const struct iam_policy *p, const char **list, size_t n,
                     size_t cap)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->stmts[i].federated.n; j++)
            if (n < cap)
                list[n++] = iam_provider_name(p->stmts[i].federated.v[j]);
    return n;
}

/* Split an ARN into its six parts (the last keeps any further colons). */
static int
iam_arn_parts(const char *arn, const char *parts[6], size_t lens[6])
{
    if (!iam_is_arn(arn))
        return -1;
    for (int i = 0; i < 6; i++) {
        const char *colon = i < 5 ? strchr(arn, ':') : NULL;
        parts[i] = arn;
        lens[i] = colon ? (size_t)(colon - arn) : strlen(arn);
        arn += lens[i] + 1;
    }
    return 0;
}

static int
iam_arn_like(const char *pattern, const char *arn)
{
    const char *pp[6], *ap[6];
    size_t pl[6], al[6];
    char pbuf[512], abuf[512];

    if (iam_arn_parts(pattern, pp, pl) != 0 || iam_arn_parts(arn, ap, al))
        return 0;
    for (int i = 0; i < 6; i++) {
        if (pl[i] >= sizeof pbuf || al[i] >= sizeof abuf)
            return 0;
        memcpy(pbuf, pp[i], pl[i]);
        pbuf[pl[i]] = '\0';
        memcpy(abuf, ap[i], al[i]);
        abuf[al[i]] = '\0';
        if (!iam_policy_like(pbuf, abuf, 0))
            return 0;
    }
    return 1;
}

static int
iam_ip_in(const char *cidr, const char *ip)
{
    unsigned char net[16], addr[16];
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(cidr, '/');
    size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
    int v6 = memchr(cidr, ':', n) != NULL, bits, len = v6 ? 16 : 4;

    if (n >= sizeof host)
        return 0;
    memcpy(host, cidr, n);
    host[n] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, net) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, ip, addr) != 1)
        return 0;
    bits = slash ? atoi(slash + 1) : len * 8;
    for (int i = 0; i < len && bits > 0; i++, bits -= 8) {
        unsigned char mask =
            bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((net[i] & mask) != (addr[i] & mask))
            return 0;
    }
    return 1;
}

static int
iam_value_matches(const struct iam_cond *c, const char *pattern, const char *v)
{
    switch (c->op) {
    case IAM_OP_STRING_EQUALS:
        return strcmp(pattern, v) == 0;
    case IAM_OP_STRING_EQUALS_IC:
    case IAM_OP_BOOL:
        return strcasecmp(pattern, v) == 0;
    case IAM_OP_STRING_LIKE:
        return iam_policy_like(pattern, v, 0);
    case IAM_OP_ARN_EQUALS:
    case IAM_OP_ARN_LIKE:
        return iam_arn_like(pattern, v);
    case IAM_OP_IP_ADDRESS:
        return iam_ip_in(pattern, v);
    case IAM_OP_NULL:
        break;
    }
    return 0;
}

/* Whether any of the condition's values matches request value v. */
static int
iam_any_value(const struct iam_cond *c, const char *v)
{
    for (size_t i = 0; i < c->nvalues; i++)
        if (iam_value_matches(c, c->values[i], v))
            return 1;
    return 0;
}

static int
iam_cond_true(const struct iam_cond *c, const struct iam_request *rq)
{
    size_t present = 0, matched = 0;

    for (size_t i = 0; i < rq->nkeys; i++) {
        if (strcasecmp(rq->keys[i].name, c->key) != 0)
            continue;
        present++;
        matched += iam_any_value(c, rq->keys[i].value);
    }
    if (c->op == IAM_OP_NULL)
        return (present == 0) == (strcasecmp(c->values[0], "true") == 0);
    if (present == 0)
        return c->if_exists || c->negated || c->set == IAM_SET_ALL;
    if (c->set == IAM_SET_ALL)
        return c->negated ? matched == 0 : matched == present;
    return c->negated ? matched == 0 : matched > 0;
}

static int
iam_list_like(const struct iam_list *l, const char *s, int nocase)
{
    for (size_t i = 0; i < l->n; i++)
        if (iam_policy_like(l->v[i], s, nocase))
            return 1;
    return 0;
}

static int
iam_stmt_applies(const struct iam_stmt *st, const struct iam_request *rq)
{
    if (iam_list_like(&st->actions, rq->action, 1) == st->not_action)
        return 0;
    if (rq->resource != NULL &&
        iam_list_like(&st->resources, rq->resource, 0) == st->not_resource)
        return 0;
    if (st->federated.n > 0) {
        int found = 0;
        for (size_t i = 0; i < st->federated.n && rq->federated; i++)
            found |= strcmp(st->federated.v[i], rq->federated) == 0;
        if (!found)
            return 0;
    }
    for (size_t i = 0; i < st->nconds; i++)
        if (!iam_cond_true(&st->conds[i], rq))
            return 0;
    return 1;
}

enum iam_decision
iam_policy_evaluate(const struct iam_policy *p, const struct iam_request *rq)
{
    enum iam_decision d = IAM_DENY_IMPLICIT;

    for (size_t i = 0; i < p->n; i++) {
        if (!iam_stmt_applies(&p->stmts[i], rq))
            continue;
        if (p->stmts[i].deny)
            return IAM_DENY_EXPLICIT;
        d = IAM_ALLOW;
    }
    return d;
}
