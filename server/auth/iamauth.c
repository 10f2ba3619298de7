/*
 * IAM authorization for POST /lab/results-ci, as API Gateway's AWS_IAM
 * authorizer does it, but with credentials labgate knows itself.
 *
 * struct iamauth holds the parsed "iam" section: the region, account, API
 * id and stage that make up the resource ARN, the clock skew allowed,
 * the static keys (each with its principal ARN, secret and permissions
 * policy) and the roles (ARN, trust policy, permissions policy, longest
 * session).  Temporary credentials live in the store (store_sts.c) and
 * are looked up by their ASIA key id on every request.
 *
 * A request passes, in order: SigV4 parsing, credential scope and clock,
 * credential lookup and session token, signature, then the permissions
 * policy for execute-api:Invoke.  Each refusal is a 403 with API
 * Gateway's JSON message; the log gets the reason and the key id, never
 * a secret, token or signature.
 */
#include <civetweb.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/bearer.h"
#include "auth/iamauth.h"
#include "auth/jwt.h"
#include "auth/sigv4.h"
#include "log.h"
#include "route.h"
#include "timefmt.h"

#define IAMAUTH_DEFAULT_ACCOUNT "000000000000"
#define IAMAUTH_DEFAULT_API_ID "labgate"
#define IAMAUTH_DEFAULT_STAGE "prod"
#define IAMAUTH_DEFAULT_AUDIENCE "sts.amazonaws.com"
#define IAMAUTH_AUDIENCES_MAX 16
#define IAMAUTH_SECRET_MAX 256
#define IAMAUTH_KEY_MAX 64

struct iamauth_key {
    char *access_key_id;
    char *secret;
    char *principal_arn;
    struct iam_policy *policy; /* own policy, or NULL for the role's */
    const struct iamauth_role *role;
    json_t *tags;
};

struct iamauth_role {
    char *arn;
    char *name;
    char id[22]; /* "AROA" and 17 characters */
    struct iam_policy *trust;
    struct iam_policy *policy;
    int max_session;
    json_t *tags;
};

struct iamauth {
    char region[SIGV4_SCOPE_PART_MAX];
    char account[13];
    char api_id[IAMAUTH_KEY_MAX];
    char stage[IAMAUTH_KEY_MAX];
    int64_t max_skew;
    struct iamauth_key *keys;
    size_t nkeys;
    struct iamauth_role *roles;
    size_t nroles;
    char *audiences[IAMAUTH_AUDIENCES_MAX + 1];
    struct sigv4_cache cache;
};

/* Parsing context: the section being read and where errors go. */
struct iamauth_cfg {
    struct iamauth *ia;
    json_t *section;
    struct err *err;
    const char *providers[64 + 1];
    size_t nproviders;
};

static int
iamauth_only(json_t *obj, const char *const *allowed, const char *where,
             struct err *err)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i] != NULL; i++)
            ok |= strcmp(allowed[i], k) == 0;
        if (!ok)
            return err_set(err, ERR_INVALID, "%s.%.64s: unknown key", where, k);
    }
    return 0;
}

/* An optional string member matching charset, between 1 and max chars. */
static int
iamauth_str(json_t *obj, const char *key, const char *where,
            const char *charset, char *out, size_t max, struct err *err)
{
    json_t *v = json_object_get(obj, key);
    const char *s;

    if (v == NULL)
        return 0;
    s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= max ||
        (charset != NULL && strspn(s, charset) != strlen(s)))
        return err_set(err, ERR_INVALID,
                       "%s.%s: expected a string of 1 to %zu characters "
                       "from [%s]",
                       where, key, max - 1, charset ? charset : "any");
    snprintf(out, max, "%s", s);
    return 0;
}

static int
iamauth_int(json_t *obj, const char *key, const char *where, int64_t lo,
            int64_t hi, int64_t *out, struct err *err)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return err_set(err, ERR_INVALID,
                       "%s.%s: expected an integer from %lld to %lld", where,
                       key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

/* Tags: an object of string values, used as aws:PrincipalTag/NAME. */
static int
iamauth_tags(json_t *obj, const char *where, json_t **out, struct err *err)
{
    json_t *t = json_object_get(obj, "tags"), *v;
    const char *k;

    if (t == NULL)
        return 0;
    if (!json_is_object(t))
        return err_set(err, ERR_INVALID, "%s.tags: expected an object", where);
    json_object_foreach(t, k, v)
    {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID, "%s.tags.%.64s: expected a string",
                           where, k);
    }
    *out = json_incref(t);
    return 0;
}

/* Whether rest starts with "KIND/" and a non-empty name. */
static int
iamauth_kind(const char *rest, const char *kind)
{
    size_t n = strlen(kind);

    return strncmp(rest, kind, n) == 0 && rest[n] == '/' && rest[n + 1] != '\0';
}

/* "arn:aws:iam::ACCOUNT:KIND/NAME" with the configured account; a NULL
 * kind takes user or role. */
static int
iamauth_iam_arn(const struct iamauth *ia, const char *arn, const char *kind,
                const char *where, struct err *err)
{
    char prefix[64];
    const char *rest;
    int ok;

    snprintf(prefix, sizeof prefix, "arn:aws:iam::%s:", ia->account);
    ok = arn != NULL && strncmp(arn, prefix, strlen(prefix)) == 0 &&
         strpbrk(arn, "*?") == NULL;
    rest = ok ? arn + strlen(prefix) : "";
    ok =
        ok && (kind ? iamauth_kind(rest, kind)
                    : iamauth_kind(rest, "user") || iamauth_kind(rest, "role"));
    if (!ok)
        return err_set(err, ERR_INVALID,
                       "%s: expected arn:aws:iam::%s:%s/NAME (the account "
                       "is iam.account)",
                       where, ia->account, kind ? kind : "user|role");
    return 0;
}

/* Read the first line of path (a secret file) into out. */
static int
iamauth_read_secret(const char *path, char *out, size_t n, const char *where,
                    struct err *err)
{
    FILE *f = fopen(path, "r");
    size_t len;

    if (f == NULL)
        return err_set(err, ERR_INVALID,
                       "%s.secret_access_key_file: cannot read %.100s", where,
                       path);
    if (fgets(out, (int)n, f) == NULL)
        out[0] = '\0';
    fclose(f);
    len = strcspn(out, "\r\n");
    out[len] = '\0';
    return 0;
}

/* Exactly one of secret_access_key, _file and _env gives the secret. */
static int
iamauth_secret(json_t *obj, const char *where, char **out, struct err *err)
{
    json_t *inl = json_object_get(obj, "secret_access_key");
    json_t *file = json_object_get(obj, "secret_access_key_file");
    json_t *env = json_object_get(obj, "secret_access_key_env");
    char buf[IAMAUTH_SECRET_MAX + 2] = "";
    const char *v;

    if ((inl != NULL) + (file != NULL) + (env != NULL) != 1)
        return err_set(err, ERR_INVALID,
                       "%s: exactly one of secret_access_key, "
                       "secret_access_key_file and secret_access_key_env "
                       "is required",
                       where);
    if (!json_is_string(inl ? inl : file ? file : env))
        return err_set(err, ERR_INVALID, "%s.%s: expected a string", where,
                       inl    ? "secret_access_key"
                       : file ? "secret_access_key_file"
                              : "secret_access_key_env");
    if (inl != NULL) {
        snprintf(buf, sizeof buf, "%s", json_string_value(inl));
    } else if (file != NULL) {
        if (iamauth_read_secret(json_string_value(file), buf, sizeof buf, where,
                                err) != 0)
            return err->code;
    } else if ((v = getenv(json_string_value(env))) == NULL) {
        return err_set(err, ERR_INVALID,
                       "%s.secret_access_key_env: %.64s is not set", where,
                       json_string_value(env));
    } else {
        snprintf(buf, sizeof buf, "%s", v);
    }
    if (strlen(buf) < 16 || strlen(buf) > IAMAUTH_SECRET_MAX)
        return err_set(err, ERR_INVALID,
                       "%s: the secret access key must have 16 to %d "
                       "characters",
                       where, IAMAUTH_SECRET_MAX);
    *out = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* A policy member of obj (required unless optional). */
static int
iamauth_policy(struct iamauth_cfg *c, json_t *obj, const char *key,
               const char *where, enum iam_policy_kind kind,
               struct iam_policy **out)
{
    char path[128];
    json_t *doc = json_object_get(obj, key);

    snprintf(path, sizeof path, "%s.%s", where, key);
    if (doc == NULL)
        return err_set(c->err, ERR_INVALID, "%s: required", path);
    c->providers[c->nproviders] = NULL;
    return iam_policy_parse(doc, kind, path, c->providers, out, c->err);
}

static const struct iamauth_role *
iamauth_find_role(const struct iamauth *ia, const char *arn)
{
    for (size_t i = 0; ia && i < ia->nroles; i++)
        if (ia->roles[i].arn != NULL && strcmp(ia->roles[i].arn, arn) == 0)
            return &ia->roles[i];
    return NULL;
}

static int
iamauth_key(struct iamauth_cfg *c, json_t *obj, size_t i)
{
    static const char *const allowed[] = {"access_key_id",
                                          "secret_access_key",
                                          "secret_access_key_file",
                                          "secret_access_key_env",
                                          "principal_arn",
                                          "policy",
                                          "tags",
                                          NULL};
    struct iamauth_key *k = &c->ia->keys[i];
    char where[64], path[96], id[SIGV4_KEY_ID_MAX + 1] = "";
    const char *arn;

    snprintf(where, sizeof where, "iam.static_keys[%zu]", i);
    if (!json_is_object(obj))
        return err_set(c->err, ERR_INVALID, "%s: expected an object", where);
    if (iamauth_only(obj, allowed, where, c->err) != 0 ||
        iamauth_str(obj, "access_key_id", where,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", id, sizeof id,
                    c->err) != 0)
        return c->err->code;
    if (strlen(id) < 16 || strncmp(id, "ASIA", 4) == 0)
        return err_set(c->err, ERR_INVALID,
                       "%s.access_key_id: required, 16 to 128 upper-case "
                       "letters and digits, not starting with ASIA (kept "
                       "for temporary credentials)",
                       where);
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->ia->keys[j].access_key_id, id) == 0)
            return err_set(c->err, ERR_INVALID,
                           "%s.access_key_id: %s is already used", where, id);
    k->access_key_id = strdup(id);
    arn = json_string_value(json_object_get(obj, "principal_arn"));
    snprintf(path, sizeof path, "%s.principal_arn", where);
    if (k->access_key_id == NULL ||
        iamauth_iam_arn(c->ia, arn, NULL, path, c->err) != 0 ||
        (k->principal_arn = strdup(arn)) == NULL ||
        iamauth_secret(obj, where, &k->secret, c->err) != 0 ||
        iamauth_tags(obj, where, &k->tags, c->err) != 0)
        return c->err->code ? c->err->code : ERR_NOMEM;
    k->role = iamauth_find_role(c->ia, arn);
    if (json_object_get(obj, "policy") != NULL)
        return iamauth_policy(c, obj, "policy", where, IAM_POLICY_PERMISSIONS,
                              &k->policy);
    if (k->role == NULL)
        return err_set(c->err, ERR_INVALID,
                       "%s.policy: required unless principal_arn names one "
                       "of iam.roles",
                       where);
    return 0;
}

/* A stable "AROA..." id from the role ARN, as AWS gives every role one. */
static void
iamauth_role_id_make(struct iamauth_role *r)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char d[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)r->arn, strlen(r->arn), d);
    memcpy(r->id, "AROA", 4);
    for (int i = 0; i < 17; i++)
        r->id[4 + i] = b32[d[i] & 31];
    r->id[21] = '\0';
}

/* First pass over a role: everything but its permissions policy. */
static int
iamauth_role(struct iamauth_cfg *c, json_t *obj, size_t i)
{
    static const char *const allowed[] = {
        "arn", "trust_policy", "policy", "max_session_seconds", "tags", NULL};
    struct iamauth_role *r = &c->ia->roles[i];
    char where[64], path[96];
    const char *arn, *slash;
    int64_t max = 3600;

    snprintf(where, sizeof where, "iam.roles[%zu]", i);
    if (!json_is_object(obj))
        return err_set(c->err, ERR_INVALID, "%s: expected an object", where);
    if (iamauth_only(obj, allowed, where, c->err) != 0)
        return c->err->code;
    arn = json_string_value(json_object_get(obj, "arn"));
    snprintf(path, sizeof path, "%s.arn", where);
    if (iamauth_iam_arn(c->ia, arn, "role", path, c->err) != 0)
        return c->err->code;
    if (iamauth_find_role(c->ia, arn) != NULL)
        return err_set(c->err, ERR_INVALID, "%s: %.100s is listed twice", path,
                       arn);
    slash = strrchr(arn, '/');
    r->arn = strdup(arn);
    r->name = strdup(slash + 1);
    if (r->arn == NULL || r->name == NULL)
        return err_set(c->err, ERR_NOMEM, "out of memory");
    iamauth_role_id_make(r);
    if (iamauth_int(obj, "max_session_seconds", where, 900, 43200, &max,
                    c->err) != 0 ||
        iamauth_tags(obj, where, &r->tags, c->err) != 0 ||
        iamauth_policy(c, obj, "trust_policy", where, IAM_POLICY_TRUST,
                       &r->trust) != 0)
        return c->err->code;
    r->max_session = (int)max;
    c->nproviders =
        iam_policy_providers(r->trust, c->providers, c->nproviders, 64);
    c->ia->nroles = i + 1;
    return 0;
}

/* An array member of the section, each element handled by fn. */
static int
iamauth_array(struct iamauth_cfg *c, const char *key,
              int (*fn)(struct iamauth_cfg *, json_t *, size_t))
{
    json_t *a = json_object_get(c->section, key);

    if (a == NULL)
        return 0;
    if (!json_is_array(a))
        return err_set(c->err, ERR_INVALID, "iam.%s: expected an array", key);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (fn(c, json_array_get(a, i), i) != 0)
            return c->err->code;
    return 0;
}

/* Second pass over a role: its permissions policy, which may use the
 * claims of every trusted provider. */
static int
iamauth_role_policy(struct iamauth_cfg *c, json_t *obj, size_t i)
{
    char where[64];

    snprintf(where, sizeof where, "iam.roles[%zu]", i);
    return iamauth_policy(c, obj, "policy", where, IAM_POLICY_PERMISSIONS,
                          &c->ia->roles[i].policy);
}

static int
iamauth_sts(struct iamauth_cfg *c)
{
    static const char *const allowed[] = {"audiences", NULL};
    json_t *sts = json_object_get(c->section, "sts"), *aud;
    size_t n;

    if (sts == NULL)
        goto defaults;
    if (!json_is_object(sts))
        return err_set(c->err, ERR_INVALID, "iam.sts: expected an object");
    if (iamauth_only(sts, allowed, "iam.sts", c->err) != 0)
        return c->err->code;
    aud = json_object_get(sts, "audiences");
    if (aud == NULL)
        goto defaults;
    n = json_array_size(aud);
    if (!json_is_array(aud) || n == 0 || n > IAMAUTH_AUDIENCES_MAX)
        return err_set(c->err, ERR_INVALID,
                       "iam.sts.audiences: expected 1 to %d strings",
                       IAMAUTH_AUDIENCES_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(aud, i));
        if (a == NULL || a[0] == '\0')
            return err_set(c->err, ERR_INVALID,
                           "iam.sts.audiences[%zu]: expected a non-empty "
                           "string",
                           i);
        if ((c->ia->audiences[i] = strdup(a)) == NULL)
            return err_set(c->err, ERR_NOMEM, "out of memory");
    }
    return 0;
defaults:
    c->ia->audiences[0] = strdup(IAMAUTH_DEFAULT_AUDIENCE);
    return c->ia->audiences[0] ? 0 : err_set(c->err, ERR_NOMEM, "no memory");
}

static int
iamauth_scalars(struct iamauth_cfg *c)
{
    static const char *const allowed[] = {
        "region",      "account", "api_id", "stage", "max_skew_seconds",
        "static_keys", "roles",   "sts",    NULL};
    struct iamauth *ia = c->ia;

    snprintf(ia->region, sizeof ia->region, "%s", CONFIG_DEFAULT_REGION);
    snprintf(ia->account, sizeof ia->account, IAMAUTH_DEFAULT_ACCOUNT);
    snprintf(ia->api_id, sizeof ia->api_id, IAMAUTH_DEFAULT_API_ID);
    snprintf(ia->stage, sizeof ia->stage, IAMAUTH_DEFAULT_STAGE);
    ia->max_skew = 300;
    if (iamauth_only(c->section, allowed, "iam", c->err) != 0 ||
        iamauth_str(c->section, "region", "iam",
                    "abcdefghijklmnopqrstuvwxyz0123456789-", ia->region,
                    sizeof ia->region, c->err) != 0 ||
        iamauth_str(c->section, "account", "iam", "0123456789", ia->account,
                    sizeof ia->account, c->err) != 0 ||
        iamauth_str(c->section, "api_id", "iam",
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789",
                    ia->api_id, sizeof ia->api_id, c->err) != 0 ||
        iamauth_str(c->section, "stage", "iam",
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_",
                    ia->stage, sizeof ia->stage, c->err) != 0 ||
        iamauth_int(c->section, "max_skew_seconds", "iam", 1, 3600,
                    &ia->max_skew, c->err) != 0)
        return c->err->code;
    if (strlen(ia->account) != 12)
        return err_set(c->err, ERR_INVALID, "iam.account: expected 12 digits");
    return 0;
}

static int
iamauth_alloc(struct iamauth_cfg *c)
{
    size_t nk = json_array_size(json_object_get(c->section, "static_keys"));
    size_t nr = json_array_size(json_object_get(c->section, "roles"));

    c->ia->keys = calloc(nk ? nk : 1, sizeof *c->ia->keys);
    c->ia->roles = calloc(nr ? nr : 1, sizeof *c->ia->roles);
    if (c->ia->keys == NULL || c->ia->roles == NULL)
        return err_set(c->err, ERR_NOMEM, "out of memory");
    return 0;
}

static int
iamauth_key_counted(struct iamauth_cfg *c, json_t *obj, size_t i)
{
    int rc = iamauth_key(c, obj, i);

    /* Count the key even when it failed, so shutdown frees its parts. */
    c->ia->nkeys = i + 1;
    return rc;
}

static int
iamauth_role_counted(struct iamauth_cfg *c, json_t *obj, size_t i)
{
    c->ia->nroles = i + 1;
    return iamauth_role(c, obj, i);
}

int
iamauth_configure(struct server *srv, struct err *err)
{
    struct iamauth_cfg c;
    struct iamauth *ia = calloc(1, sizeof *ia);

    if (ia == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    sigv4_cache_init(&ia->cache);
    srv->iamauth = ia;
    memset(&c, 0, sizeof c);
    c.ia = ia;
    c.section = srv->cfg->iam;
    c.err = err;
    if (iamauth_scalars(&c) != 0 || iamauth_alloc(&c) != 0 ||
        iamauth_sts(&c) != 0 ||
        iamauth_array(&c, "roles", iamauth_role_counted) != 0 ||
        iamauth_array(&c, "roles", iamauth_role_policy) != 0 ||
        iamauth_array(&c, "static_keys", iamauth_key_counted) != 0)
        goto fail;
    if (ia->nkeys == 0 && ia->nroles == 0)
        log_event(LOG_WARN, "iamauth", "unconfigured",
                  "route=/lab/results-ci effect=\"every request gets 403\" "
                  "hint=\"add iam.static_keys or iam.roles to the "
                  "configuration file, see docs/iam.md\"");
    else
        log_event(LOG_INFO, "iamauth", "configured",
                  "keys=%zu roles=%zu region=%s account=%s", ia->nkeys,
                  ia->nroles, ia->region, ia->account);
    return 0;
fail:
    iamauth_shutdown(srv);
    return err->code ? err->code : ERR_INVALID;
}

void
iamauth_shutdown(struct server *srv)
{
    struct iamauth *ia = srv->iamauth;

    if (ia == NULL)
        return;
    for (size_t i = 0; i < ia->nkeys; i++) {
        struct iamauth_key *k = &ia->keys[i];
        free(k->access_key_id);
        if (k->secret != NULL)
            OPENSSL_cleanse(k->secret, strlen(k->secret));
        free(k->secret);
        free(k->principal_arn);
        iam_policy_free(k->policy);
        json_decref(k->tags);
    }
    for (size_t i = 0; i < ia->nroles; i++) {
        free(ia->roles[i].arn);
        free(ia->roles[i].name);
        iam_policy_free(ia->roles[i].trust);
        iam_policy_free(ia->roles[i].policy);
        json_decref(ia->roles[i].tags);
    }
    for (int i = 0; ia->audiences[i] != NULL; i++)
        free(ia->audiences[i]);
    sigv4_cache_destroy(&ia->cache);
    free(ia->keys);
    free(ia->roles);
    free(ia);
    srv->iamauth = NULL;
}

/* The request as the signature covers it. */
static void
iamauth_sigv4_request(const struct http_req *rq, struct sigv4_header *hs,
                      struct sigv4_request *out)
{
    int n = rq->ri->num_headers;

    if (n > SIGV4_HEADERS_MAX)
        n = SIGV4_HEADERS_MAX;
    for (int i = 0; i < n; i++) {
        hs[i].name = rq->ri->http_headers[i].name;
        hs[i].value = rq->ri->http_headers[i].value;
    }
    out->method = rq->method;
    out->path = rq->path;
    out->query = rq->query;
    out->headers = hs;
    out->nheaders = (size_t)n;
    out->body = rq->body;
    out->body_len = rq->body_len;
}

static const struct iamauth_key *
iamauth_find_key(const struct iamauth *ia, const char *id)
{
    for (size_t i = 0; i < ia->nkeys; i++)
        if (strcmp(ia->keys[i].access_key_id, id) == 0)
            return &ia->keys[i];
    return NULL;
}

static int
iamauth_fail_with(enum iamauth_fail *why, enum iamauth_fail w, int code)
{
    *why = w;
    return code;
}

/* Temporary credentials: the session row, its token and its expiry. */
static int
iamauth_temporary(struct http_req *rq, const struct sigv4_auth *a,
                  struct iamauth_caller *out, enum iamauth_fail *why,
                  struct err *err)
{
    static const char invalid[] =
        "The security token included in the request is invalid.";
    struct store_sts_session *ss = &out->sts;
    char hash[65];
    int rc;

    if (a->security_token == NULL)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, invalid));
    rc = store_sts_get(rq->srv->store, a->access_key_id, ss, err);
    if (rc == ERR_NOTFOUND)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, invalid));
    if (rc != 0)
        return iamauth_fail_with(why, IAMAUTH_INTERNAL, rc);
    sigv4_sha256_hex(a->security_token, strlen(a->security_token), hash);
    if (!sigv4_equal(hash, ss->token_sha256))
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, invalid));
    if (timefmt_now_ms() >= ss->expires_ms)
        return iamauth_fail_with(
            why, IAMAUTH_TOKEN_EXPIRED,
            err_set(err, ERR_AUTH,
                    "The security token included in the request is "
                    "expired"));
    out->temporary = 1;
    out->role = iamauth_find_role(rq->srv->iamauth, ss->role_arn);
    if (out->role == NULL)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, invalid));
    out->principal_arn = out->role->arn;
    out->caller_arn = ss->assumed_role_arn;
    out->user_id = ss->assumed_role_id;
    out->access_key_id = ss->access_key_id;
    out->session_name = ss->session_name;
    out->policy = out->role->policy;
    out->tags = out->role->tags;
    return 0;
}

/* Find who holds a->access_key_id and the secret to check against. */
static int
iamauth_lookup(struct http_req *rq, const struct sigv4_auth *a,
               struct iamauth_caller *out, const char **secret,
               enum iamauth_fail *why, struct err *err)
{
    const struct iamauth_key *k;

    k = iamauth_find_key(rq->srv->iamauth, a->access_key_id);
    if (k == NULL) {
        if (strncmp(a->access_key_id, "ASIA", 4) != 0 ||
            rq->srv->iamauth->nroles == 0)
            return iamauth_fail_with(
                why, IAMAUTH_TOKEN_INVALID,
                err_set(err, ERR_AUTH,
                        "The security token included in the request is "
                        "invalid."));
        if (iamauth_temporary(rq, a, out, why, err) != 0)
            return err->code ? err->code : ERR_AUTH;
        *secret = out->sts.secret_access_key;
        return 0;
    }
    if (a->security_token != NULL)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH,
                                         "The security token included in "
                                         "the request is invalid."));
    out->principal_arn = k->principal_arn;
    out->caller_arn = k->principal_arn;
    out->user_id = k->access_key_id;
    out->access_key_id = k->access_key_id;
    out->role = k->role;
    out->policy = k->policy ? k->policy : k->role ? k->role->policy : NULL;
    out->tags = k->tags ? k->tags : k->role ? k->role->tags : NULL;
    *secret = k->secret;
    return 0;
}

int
iamauth_authenticate(struct http_req *rq, const char *service,
                     struct iamauth_caller *out, enum iamauth_fail *why,
                     struct err *err)
{
    struct iamauth *ia = rq->srv->iamauth;
    struct sigv4_header hs[SIGV4_HEADERS_MAX];
    struct sigv4_request sr;
    struct sigv4_auth a;
    struct sigv4_expect ex = {ia->region, service, (int64_t)time(NULL),
                              ia->max_skew, 1};
    const char *secret = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    iamauth_sigv4_request(rq, hs, &sr);
    rc = sigv4_parse(&sr, &a, err);
    if (rc != 0) {
        *why = rc == ERR_NOTFOUND ? IAMAUTH_MISSING
               : rc == ERR_NOMEM  ? IAMAUTH_INTERNAL
                                  : IAMAUTH_INCOMPLETE;
        goto out;
    }
    rc = sigv4_check_scope(&a, &ex, err);
    if (rc != 0) {
        *why = IAMAUTH_SIGNATURE;
        goto out;
    }
    rc = iamauth_lookup(rq, &a, out, &secret, why, err);
    if (rc != 0)
        goto out;
    rc = sigv4_verify(&sr, &a, secret, &ex, &ia->cache, err);
    if (rc != 0)
        *why = rc == ERR_NOMEM ? IAMAUTH_INTERNAL : IAMAUTH_SIGNATURE;
out:
    if (rc != 0) {
        char id[LOG_QUOTE_MAX], why_s[LOG_QUOTE_MAX];
        log_event(LOG_INFO, "iamauth", "refused",
                  "req=%s service=%s key=%s reason=%s", rq->id, service,
                  log_quote(a.access_key_id[0] ? a.access_key_id : NULL, id,
                            sizeof id),
                  log_quote(err->msg, why_s, sizeof why_s));
        iamauth_caller_free(out);
    }
    sigv4_auth_free(&a);
    return rc;
}

void
iamauth_caller_free(struct iamauth_caller *c)
{
    store_sts_session_free(&c->sts);
    memset(c, 0, sizeof *c);
}

void
iamauth_ctx_add(struct iamauth_ctx *ctx, const char *name, const char *value,
                int copy)
{
    struct iam_key *k;

    if (value == NULL || ctx->n == IAMAUTH_CTX_MAX)
        return;
    k = &ctx->keys[ctx->n];
    if (copy) {
        char *n = strdup(name), *v = strdup(value);
        if (n == NULL || v == NULL) {
            free(n);
            free(v);
            return;
        }
        ctx->owned[ctx->nowned++] = n;
        ctx->owned[ctx->nowned++] = v;
        name = n;
        value = v;
    }
    k->name = name;
    k->value = value;
    ctx->n++;
}

static void
iamauth_ctx_claim(struct iamauth_ctx *ctx, const char *key, json_t *v)
{
    char num[32];

    if (json_is_string(v)) {
        iamauth_ctx_add(ctx, key, json_string_value(v), 1);
    } else if (json_is_boolean(v)) {
        iamauth_ctx_add(ctx, key, json_is_true(v) ? "true" : "false", 1);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        iamauth_ctx_add(ctx, key, num, 1);
    }
}

void
iamauth_ctx_claims(struct iamauth_ctx *ctx, const char *provider,
                   json_t *claims)
{
    const char *name;
    json_t *v;
    size_t i;
    json_t *e;

    json_object_foreach(claims, name, v)
    {
        char key[256];
        snprintf(key, sizeof key, "%s:%s", provider, name);
        if (!json_is_array(v))
            iamauth_ctx_claim(ctx, key, v);
        json_array_foreach(v, i, e) iamauth_ctx_claim(ctx, key, e);
    }
}

void
iamauth_ctx_free(struct iamauth_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nowned; i++)
        free(ctx->owned[i]);
    ctx->nowned = 0;
    ctx->n = 0;
}

const char *
iamauth_provider(const char *issuer, char *out, size_t n)
{
    const char *p = strstr(issuer, "://");
    size_t len;

    p = p ? p + 3 : issuer;
    snprintf(out, n, "%s", p);
    len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = '\0';
    return out;
}

/* The keys a permissions policy can test for this caller and request. */
static void
iamauth_context(struct http_req *rq, const struct iamauth_caller *c,
                struct iamauth_ctx *ctx)
{
    struct iamauth *ia = rq->srv->iamauth;
    const char *tag;
    json_t *v;

    iamauth_ctx_add(ctx, "aws:PrincipalArn", c->principal_arn, 0);
    iamauth_ctx_add(ctx, "aws:PrincipalAccount", ia->account, 0);
    iamauth_ctx_add(ctx, "aws:PrincipalType",
                    c->temporary ? "AssumedRole" : "User", 0);
    iamauth_ctx_add(ctx, "aws:userid", c->user_id, 0);
    iamauth_ctx_add(ctx, "aws:SourceIp", rq->client, 0);
    iamauth_ctx_add(ctx, "aws:SecureTransport", "false", 0);
    iamauth_ctx_add(ctx, "aws:UserAgent", http_header(rq, "User-Agent"), 0);
    iamauth_ctx_add(ctx, "aws:RequestedRegion", ia->region, 0);
    json_object_foreach(c->tags, tag, v)
    {
        char key[192];
        snprintf(key, sizeof key, "aws:PrincipalTag/%s", tag);
        iamauth_ctx_add(ctx, key, json_string_value(v), 1);
    }
    if (c->temporary && c->sts.issuer != NULL) {
        char provider[256], arn[320];
        json_t *claims =
            json_loads(c->sts.claims ? c->sts.claims : "{}", 0, NULL);
        iamauth_provider(c->sts.issuer, provider, sizeof provider);
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:oidc-provider/%s",
                 ia->account, provider);
        iamauth_ctx_add(ctx, "aws:FederatedProvider", arn, 1);
        iamauth_ctx_claims(ctx, provider, claims);
        json_decref(claims);
    }
}

static int
iamauth_dup(char **slot, const char *v)
{
    if (v == NULL)
        return 0;
    *slot = strdup(v);
    return *slot ? 0 : -1;
}

static int
iamauth_fill(struct http_req *rq, const struct iamauth_caller *c)
{
    struct result_identity *id = &rq->ident;
    const struct store_sts_session *ss = &c->sts;

    rq->auth = RESULT_AUTH_IAM;
    if (iamauth_dup(&id->principal_arn, c->principal_arn) ||
        iamauth_dup(&id->caller_arn, c->caller_arn) ||
        iamauth_dup(&id->account, rq->srv->iamauth->account) ||
        iamauth_dup(&id->access_key_id, c->access_key_id) ||
        iamauth_dup(&id->session_name, c->session_name))
        return -1;
    if (!c->temporary)
        return 0;
    if (iamauth_dup(&id->issuer, ss->issuer) ||
        iamauth_dup(&id->subject, ss->subject) ||
        iamauth_dup(&id->repository, ss->repository) ||
        iamauth_dup(&id->owner, ss->owner) ||
        iamauth_dup(&id->claims, ss->claims))
        return -1;
    return 0;
}

/* 403 in API Gateway's shape for each refusal. */
static void
iamauth_refuse(struct http_resp *rs, const char *msg)
{
    json_t *o = json_object();

    json_object_set_new(o, "message", json_string(msg));
    http_json(rs, 403, o);
}

int
iamauth_check(struct http_req *rq, struct http_resp *rs)
{
    struct iamauth *ia = rq->srv->iamauth;
    struct iamauth_caller c;
    struct iamauth_ctx ctx;
    struct iam_request ir;
    enum iamauth_fail why;
    struct err e = {0, ""};
    char resource[512], who[LOG_QUOTE_MAX];
    enum iam_decision d;
    json_t *o;

    if (iamauth_authenticate(rq, "execute-api", &c, &why, &e) != 0) {
        if (why == IAMAUTH_INTERNAL)
            http_error(rs, 503, "credentials cannot be checked: %s", e.msg);
        else
            iamauth_refuse(rs, e.msg);
        return -1;
    }
    snprintf(resource, sizeof resource, "arn:aws:execute-api:%s:%s:%s/%s/%s%s",
             ia->region, ia->account, ia->api_id, ia->stage, rq->method,
             rq->route->path);
    memset(&ctx, 0, sizeof ctx);
    iamauth_context(rq, &c, &ctx);
    ir.action = "execute-api:Invoke";
    ir.resource = resource;
    ir.federated = NULL;
    ir.keys = ctx.keys;
    ir.nkeys = ctx.n;
    d = c.policy ? iam_policy_evaluate(c.policy, &ir) : IAM_DENY_IMPLICIT;
    iamauth_ctx_free(&ctx);
    if (d != IAM_ALLOW) {
        log_event(LOG_INFO, "iamauth", "denied", "req=%s caller=%s decision=%s",
                  rq->id, log_quote(c.caller_arn, who, sizeof who),
                  d == IAM_DENY_EXPLICIT ? "explicit_deny" : "no_allow");
        o = json_object();
        json_object_set_new(
            o, "Message",
            json_sprintf("User: %s is not authorized to perform: "
                         "execute-api:Invoke on resource: %s",
                         c.caller_arn, resource));
        http_json(rs, 403, o);
        iamauth_caller_free(&c);
        return -1;
    }
    if (iamauth_fill(rq, &c) != 0) {
        iamauth_caller_free(&c);
        http_error(rs, 500, "out of memory");
        return -1;
    }
    iamauth_caller_free(&c);
    return 0;
}

const struct iamauth_role *
iamauth_role_find(const struct server *srv, const char *arn)
{
    return iamauth_find_role(srv->iamauth, arn);
}

const char *
iamauth_role_arn(const struct iamauth_role *r)
{
    return r->arn;
}

const char *
iamauth_role_name(const struct iamauth_role *r)
{
    return r->name;
}

const struct iam_policy *
iamauth_role_trust(const struct iamauth_role *r)
{
    return r->trust;
}

int
iamauth_role_max_session(const struct iamauth_role *r)
{
    return r->max_session;
}

const char *
iamauth_role_id(const struct iamauth_role *r)
{
    return r->id;
}

const char *
iamauth_account(const struct server *srv)
{
    return srv->iamauth->account;
}

const char *
iamauth_region(const struct server *srv)
{
    return srv->iamauth->region;
}

const char *const *
iamauth_sts_audiences(const struct server *srv)
{
    return (const char *const *)srv->iamauth->audiences;
}

struct jwt_trust *
iamauth_jwt_trust(const struct server *srv)
{
    return bearer_trust(srv);
}
