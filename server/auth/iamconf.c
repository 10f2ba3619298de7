/*
 * Parsing of the "iam" section.  Roles are read in two passes: first
 * their trust policies, whose Principal.Federated entries name the OIDC
 * providers whose claims permissions policies may test, then their
 * permissions policies.  Static keys come last, because a key without a
 * policy of its own borrows that of the role its principal_arn names.
 * Secrets are wiped from memory when the configuration is freed.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/iamconf.h"
#include "config.h"

/* Parsing context: the section being read and where errors go. */
struct iamconf_parse {
    struct iamconf *ia;
    json_t *section;
    struct err *err;
    const char *providers[64 + 1];
    size_t nproviders;
};

static int
iamconf_only(json_t *obj, const char *const *allowed, const char *where,
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
iamconf_str(json_t *obj, const char *key, const char *where,
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
iamconf_int(json_t *obj, const char *key, const char *where, int64_t lo,
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
iamconf_tags(json_t *obj, const char *where, json_t **out, struct err *err)
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
iamconf_kind(const char *rest, const char *kind)
{
    size_t n = strlen(kind);

    return strncmp(rest, kind, n) == 0 && rest[n] == '/' && rest[n + 1] != '\0';
}

/* "arn:aws:iam::ACCOUNT:KIND/NAME" with the configured account; a NULL
 * kind takes user or role. */
static int
iamconf_iam_arn(const struct iamconf *ia, const char *arn, const char *kind,
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
        ok && (kind ? iamconf_kind(rest, kind)
                    : iamconf_kind(rest, "user") || iamconf_kind(rest, "role"));
    if (!ok)
        return err_set(err, ERR_INVALID,
                       "%s: expected arn:aws:iam::%s:%s/NAME (the account "
                       "is iam.account)",
                       where, ia->account, kind ? kind : "user|role");
    return 0;
}

/* Read the first line of path (a secret file) into out. */
static int
iamconf_read_secret(const char *path, char *out, size_t n, const char *where,
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
iamconf_secret(json_t *obj, const char *where, char **out, struct err *err)
{
    json_t *inl = json_object_get(obj, "secret_access_key");
    json_t *file = json_object_get(obj, "secret_access_key_file");
    json_t *env = json_object_get(obj, "secret_access_key_env");
    char buf[IAMCONF_SECRET_MAX + 2] = "";
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
        if (iamconf_read_secret(json_string_value(file), buf, sizeof buf, where,
                                err) != 0)
            return err->code;
    } else if ((v = getenv(json_string_value(env))) == NULL) {
        return err_set(err, ERR_INVALID,
                       "%s.secret_access_key_env: %.64s is not set", where,
                       json_string_value(env));
    } else {
        snprintf(buf, sizeof buf, "%s", v);
    }
    if (strlen(buf) < 16 || strlen(buf) > IAMCONF_SECRET_MAX)
        return err_set(err, ERR_INVALID,
                       "%s: the secret access key must have 16 to %d "
                       "characters",
                       where, IAMCONF_SECRET_MAX);
    *out = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* A policy member of obj (required unless optional). */
static int
iamconf_policy(struct iamconf_parse *c, json_t *obj, const char *key,
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

const struct iamconf_role *
iamconf_find_role(const struct iamconf *ia, const char *arn)
{
    for (size_t i = 0; ia && i < ia->nroles; i++)
        if (ia->roles[i].arn != NULL && strcmp(ia->roles[i].arn, arn) == 0)
            return &ia->roles[i];
    return NULL;
}

static int
iamconf_key(struct iamconf_parse *c, json_t *obj, size_t i)
{
    static const char *const allowed[] = {"access_key_id",
                                          "secret_access_key",
                                          "secret_access_key_file",
                                          "secret_access_key_env",
                                          "principal_arn",
                                          "policy",
                                          "tags",
                                          NULL};
    struct iamconf_key *k = &c->ia->keys[i];
    char where[64], path[96], id[SIGV4_KEY_ID_MAX + 1] = "";
    const char *arn;

    snprintf(where, sizeof where, "iam.static_keys[%zu]", i);
    if (!json_is_object(obj))
        return err_set(c->err, ERR_INVALID, "%s: expected an object", where);
    if (iamconf_only(obj, allowed, where, c->err) != 0 ||
        iamconf_str(obj, "access_key_id", where,
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
        iamconf_iam_arn(c->ia, arn, NULL, path, c->err) != 0 ||
        (k->principal_arn = strdup(arn)) == NULL ||
        iamconf_secret(obj, where, &k->secret, c->err) != 0 ||
        iamconf_tags(obj, where, &k->tags, c->err) != 0)
        return c->err->code ? c->err->code : ERR_NOMEM;
    k->role = iamconf_find_role(c->ia, arn);
    if (json_object_get(obj, "policy") != NULL)
        return iamconf_policy(c, obj, "policy", where, IAM_POLICY_PERMISSIONS,
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
iamconf_role_id(struct iamconf_role *r)
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
iamconf_role(struct iamconf_parse *c, json_t *obj, size_t i)
{
    static const char *const allowed[] = {
        "arn", "trust_policy", "policy", "max_session_seconds", "tags", NULL};
    struct iamconf_role *r = &c->ia->roles[i];
    char where[64], path[96];
    const char *arn, *slash;
    int64_t max = 3600;

    snprintf(where, sizeof where, "iam.roles[%zu]", i);
    if (!json_is_object(obj))
        return err_set(c->err, ERR_INVALID, "%s: expected an object", where);
    if (iamconf_only(obj, allowed, where, c->err) != 0)
        return c->err->code;
    arn = json_string_value(json_object_get(obj, "arn"));
    snprintf(path, sizeof path, "%s.arn", where);
    if (iamconf_iam_arn(c->ia, arn, "role", path, c->err) != 0)
        return c->err->code;
    if (iamconf_find_role(c->ia, arn) != NULL)
        return err_set(c->err, ERR_INVALID, "%s: %.100s is listed twice", path,
                       arn);
    slash = strrchr(arn, '/');
    r->arn = strdup(arn);
    r->name = strdup(slash + 1);
    if (r->arn == NULL || r->name == NULL)
        return err_set(c->err, ERR_NOMEM, "out of memory");
    iamconf_role_id(r);
    if (iamconf_int(obj, "max_session_seconds", where, 900, 43200, &max,
                    c->err) != 0 ||
        iamconf_tags(obj, where, &r->tags, c->err) != 0 ||
        iamconf_policy(c, obj, "trust_policy", where, IAM_POLICY_TRUST,
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
iamconf_array(struct iamconf_parse *c, const char *key,
              int (*fn)(struct iamconf_parse *, json_t *, size_t))
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
iamconf_role_policy(struct iamconf_parse *c, json_t *obj, size_t i)
{
    char where[64];

    snprintf(where, sizeof where, "iam.roles[%zu]", i);
    return iamconf_policy(c, obj, "policy", where, IAM_POLICY_PERMISSIONS,
                          &c->ia->roles[i].policy);
}

static int
iamconf_sts(struct iamconf_parse *c)
{
    static const char *const allowed[] = {"audiences", NULL};
    json_t *sts = json_object_get(c->section, "sts"), *aud;
    size_t n;

    if (sts == NULL)
        goto defaults;
    if (!json_is_object(sts))
        return err_set(c->err, ERR_INVALID, "iam.sts: expected an object");
    if (iamconf_only(sts, allowed, "iam.sts", c->err) != 0)
        return c->err->code;
    aud = json_object_get(sts, "audiences");
    if (aud == NULL)
        goto defaults;
    n = json_array_size(aud);
    if (!json_is_array(aud) || n == 0 || n > IAMCONF_AUDIENCES_MAX)
        return err_set(c->err, ERR_INVALID,
                       "iam.sts.audiences: expected 1 to %d strings",
                       IAMCONF_AUDIENCES_MAX);
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
    c->ia->audiences[0] = strdup(IAMCONF_DEFAULT_AUDIENCE);
    return c->ia->audiences[0] ? 0 : err_set(c->err, ERR_NOMEM, "no memory");
}

static int
iamconf_scalars(struct iamconf_parse *c)
{
    static const char *const allowed[] = {
        "region",      "account", "api_id", "stage", "max_skew_seconds",
        "static_keys", "roles",   "sts",    NULL};
    struct iamconf *ia = c->ia;

    snprintf(ia->region, sizeof ia->region, "%s", CONFIG_DEFAULT_REGION);
    snprintf(ia->account, sizeof ia->account, IAMCONF_DEFAULT_ACCOUNT);
    snprintf(ia->api_id, sizeof ia->api_id, IAMCONF_DEFAULT_API_ID);
    snprintf(ia->stage, sizeof ia->stage, IAMCONF_DEFAULT_STAGE);
    ia->max_skew = 300;
    if (iamconf_only(c->section, allowed, "iam", c->err) != 0 ||
        iamconf_str(c->section, "region", "iam",
                    "abcdefghijklmnopqrstuvwxyz0123456789-", ia->region,
                    sizeof ia->region, c->err) != 0 ||
        iamconf_str(c->section, "account", "iam", "0123456789", ia->account,
                    sizeof ia->account, c->err) != 0 ||
        iamconf_str(c->section, "api_id", "iam",
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789",
                    ia->api_id, sizeof ia->api_id, c->err) != 0 ||
        iamconf_str(c->section, "stage", "iam",
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_",
                    ia->stage, sizeof ia->stage, c->err) != 0 ||
        iamconf_int(c->section, "max_skew_seconds", "iam", 1, 3600,
                    &ia->max_skew, c->err) != 0)
        return c->err->code;
    if (strlen(ia->account) != 12)
        return err_set(c->err, ERR_INVALID, "iam.account: expected 12 digits");
    return 0;
}

static int
iamconf_alloc(struct iamconf_parse *c)
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
iamconf_key_counted(struct iamconf_parse *c, json_t *obj, size_t i)
{
    int rc = iamconf_key(c, obj, i);

    /* Count the key even when it failed, so shutdown frees its parts. */
    c->ia->nkeys = i + 1;
    return rc;
}

static int
iamconf_role_counted(struct iamconf_parse *c, json_t *obj, size_t i)
{
    c->ia->nroles = i + 1;
    return iamconf_role(c, obj, i);
}

int
iamconf_parse(struct iamconf *ia, json_t *section, struct err *err)
{
    struct iamconf_parse c;

    memset(&c, 0, sizeof c);
    c.ia = ia;
    c.section = section;
    c.err = err;
    if (iamconf_scalars(&c) != 0 || iamconf_alloc(&c) != 0 ||
        iamconf_sts(&c) != 0 ||
        iamconf_array(&c, "roles", iamconf_role_counted) != 0 ||
        iamconf_array(&c, "roles", iamconf_role_policy) != 0 ||
        iamconf_array(&c, "static_keys", iamconf_key_counted) != 0)
        return err->code ? err->code : ERR_INVALID;
    return 0;
}

void
iamconf_free(struct iamconf *ia)
{
    for (size_t i = 0; i < ia->nkeys; i++) {
        struct iamconf_key *k = &ia->keys[i];
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
    free(ia->keys);
    free(ia->roles);
    memset(ia, 0, sizeof *ia);
}
