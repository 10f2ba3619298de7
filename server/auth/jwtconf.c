/*
 * Validation of the "jwt" configuration section.  The section is
 *
 *   {"issuers": [{"issuer", "audiences", "jwks_uri", "algorithms",
 *                 "leeway_seconds", "bound_claims", "allow_insecure_http",
 *                 "repository_claim", "owner_claim"}, ...],
 *    "required_scopes": ["...", ...]}
 *
 * and each entry becomes a struct jwt_issuer with defaults filled in.
 * Keys are walked in the order of a fixed table so that the first error
 * reported is the same on every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwtconf.h"
#include "config.h"

static const char *const jwtconf_alg_names[JWTCONF_ALG_COUNT] = {
    "RS256", "RS384", "RS512", "ES256", "ES384"};

const char *
jwtconf_alg_name(enum jwtconf_alg alg)
{
    return (unsigned)alg < JWTCONF_ALG_COUNT ? jwtconf_alg_names[alg] : NULL;
}

int
jwtconf_alg_parse(const char *name, enum jwtconf_alg *out)
{
    for (int i = 0; i < JWTCONF_ALG_COUNT; i++) {
        if (strcmp(name, jwtconf_alg_names[i]) == 0) {
            *out = (enum jwtconf_alg)i;
            return 0;
        }
    }
    return -1;
}

static void
jwtconf_strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* A non-empty array of non-empty strings into a NULL-terminated copy. */
static int
jwtconf_strv(json_t *v, const char *key, char ***out, struct err *err)
{
    size_t i;
    json_t *s;
    char **list;

    if (!json_is_array(v) || json_array_size(v) == 0)
        goto bad;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s) || json_string_length(s) == 0 ||
            strlen(json_string_value(s)) != json_string_length(s))
            goto bad;
    }
    list = calloc(json_array_size(v) + 1, sizeof *list);
    if (list == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    json_array_foreach(v, i, s)
    {
        if ((list[i] = strdup(json_string_value(s))) == NULL) {
            jwtconf_strv_free(list);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
    }
    *out = list;
    return 0;
bad:
    return err_set(err, ERR_INVALID,
                   "%s: expected a non-empty array of non-empty strings", key);
}

static int
jwtconf_string(json_t *v, const char *key, char **out, struct err *err)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return err_set(err, ERR_INVALID, "%s: expected a non-empty string",
                       key);
    free(*out);
    *out = strdup(json_string_value(v));
    return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* An issuer or JWKS URL: https, or http when allowed; no fragment. */
static int
jwtconf_url(json_t *v, const char *key, int allow_http, char **out,
            struct err *err)
{
    const char *s = json_string_value(v);

    if (jwtconf_string(v, key, out, err) != 0)
        return err->code;
    if (strncmp(s, "https://", 8) != 0 &&
        !(allow_http && strncmp(s, "http://", 7) == 0))
        return err_set(err, ERR_INVALID,
                       "%s: expected an https:// URL (http:// only with "
                       "allow_insecure_http)",
                       key);
    if (strlen(s) > 512 || strchr(s, '#') != NULL || strchr(s, ' ') != NULL)
        return err_set(err, ERR_INVALID,
                       "%s: expected a URL without spaces or fragment, at "
                       "most 512 characters",
                       key);
    return 0;
}

static int
jwtconf_algs(json_t *v, const char *key, unsigned *mask, struct err *err)
{
    size_t i;
    json_t *a;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(err, ERR_INVALID,
                       "%s: expected a non-empty array of algorithm names",
                       key);
    *mask = 0;
    json_array_foreach(v, i, a)
    {
        enum jwtconf_alg alg;
        const char *s = json_string_value(a);
        if (s == NULL || jwtconf_alg_parse(s, &alg) != 0)
            return err_set(err, ERR_INVALID,
                           "%s[%zu]: expected RS256, RS384, RS512, ES256 or "
                           "ES384 (none and HMAC are never accepted)",
                           key, i);
        *mask |= 1u << alg;
    }
    return 0;
}

static int
jwtconf_bound(json_t *v, const char *key, json_t **out, struct err *err)
{
    char sub[256];
    const char *name;
    json_t *patterns;
    char **check = NULL;

    if (!json_is_object(v))
        return err_set(err, ERR_INVALID,
                       "%s: expected an object of claim name to patterns", key);
    json_object_foreach(v, name, patterns)
    {
        snprintf(sub, sizeof sub, "%.64s.%.64s", key, name);
        if (jwtconf_strv(patterns, sub, &check, err) != 0)
            return err->code;
        jwtconf_strv_free(check);
        check = NULL;
    }
    *out = json_incref(v);
    return 0;
}

static int
jwtconf_leeway(json_t *v, const char *key, int *out, struct err *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > JWTCONF_LEEWAY_MAX)
        return err_set(err, ERR_INVALID, "%s: expected an integer from 0 to %d",
                       key, JWTCONF_LEEWAY_MAX);
    *out = (int)json_integer_value(v);
    return 0;
}

static int
jwtconf_bool(json_t *v, const char *key, int *out, struct err *err)
{
    if (!json_is_boolean(v))
        return err_set(err, ERR_INVALID, "%s: expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int
jwtconf_defaults(struct jwt_issuer *is)
{
    is->algs = 1u << JWTCONF_RS256;
    is->leeway = JWTCONF_LEEWAY_DEFAULT;
    is->repository_claim = strdup("repository");
    is->owner_claim = strdup("repository_owner");
    is->bound_claims = json_object();
    return is->repository_claim && is->owner_claim && is->bound_claims
               ? 0
               : ERR_NOMEM;
}

static const char *const jwtconf_issuer_keys[] = {"issuer",
                                                  "audiences",
                                                  "jwks_uri",
                                                  "algorithms",
                                                  "leeway_seconds",
                                                  "bound_claims",
                                                  "allow_insecure_http",
                                                  "repository_claim",
                                                  "owner_claim",
                                                  NULL};

static int
jwtconf_issuer_key(json_t *v, const char *name, const char *key,
                   struct jwt_issuer *is, struct err *err)
{
    if (strcmp(name, "issuer") == 0)
        return jwtconf_url(v, key, is->allow_http, &is->url, err);
    if (strcmp(name, "audiences") == 0)
        return jwtconf_strv(v, key, &is->audiences, err);
    if (strcmp(name, "jwks_uri") == 0)
        return jwtconf_url(v, key, is->allow_http, &is->jwks_uri, err);
    if (strcmp(name, "algorithms") == 0)
        return jwtconf_algs(v, key, &is->algs, err);
    if (strcmp(name, "leeway_seconds") == 0)
        return jwtconf_leeway(v, key, &is->leeway, err);
    if (strcmp(name, "bound_claims") == 0) {
        json_decref(is->bound_claims);
        is->bound_claims = NULL;
        return jwtconf_bound(v, key, &is->bound_claims, err);
    }
    if (strcmp(name, "allow_insecure_http") == 0)
        return jwtconf_bool(v, key, &is->allow_http, err);
    if (strcmp(name, "repository_claim") == 0)
        return jwtconf_string(v, key, &is->repository_claim, err);
    return jwtconf_string(v, key, &is->owner_claim, err);
}

static int
jwtconf_issuer(json_t *o, size_t idx, struct jwt_issuer *is, struct err *err)
{
    char key[128];
    const char *name;
    json_t *v;

    if (!json_is_object(o))
        return err_set(err, ERR_INVALID,
                       "jwt.issuers[%zu]: expected an "
                       "object",
                       idx);
    if (jwtconf_defaults(is) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    json_object_foreach(o, name, v)
    {
        size_t k = 0;
        while (jwtconf_issuer_keys[k] && strcmp(jwtconf_issuer_keys[k], name))
            k++;
        if (jwtconf_issuer_keys[k] == NULL)
            return err_set(err, ERR_INVALID,
                           "jwt.issuers[%zu].%.64s: unknown key", idx, name);
    }
    /* allow_insecure_http first: it decides which URLs are valid. */
    v = json_object_get(o, "allow_insecure_http");
    snprintf(key, sizeof key, "jwt.issuers[%zu].allow_insecure_http", idx);
    if (v != NULL && jwtconf_bool(v, key, &is->allow_http, err) != 0)
        return err->code;
    for (size_t k = 0; jwtconf_issuer_keys[k] != NULL; k++) {
        name = jwtconf_issuer_keys[k];
        snprintf(key, sizeof key, "jwt.issuers[%zu].%s", idx, name);
        v = json_object_get(o, name);
        if (v == NULL &&
            (strcmp(name, "issuer") == 0 || strcmp(name, "audiences") == 0))
            return err_set(err, ERR_INVALID, "%s: required key is missing",
                           key);
        if (v != NULL && jwtconf_issuer_key(v, name, key, is, err) != 0)
            return err->code;
    }
    return 0;
}

static int
jwtconf_default_issuer(struct jwtconf *c, struct err *err)
{
    struct jwt_issuer *is = calloc(1, sizeof *is);

    c->issuers = is;
    if (is == NULL || jwtconf_defaults(is) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    c->n = 1;
    is->url = strdup(CONFIG_DEFAULT_ISSUER);
    is->audiences = calloc(2, sizeof *is->audiences);
    if (is->url == NULL || is->audiences == NULL ||
        (is->audiences[0] = strdup(CONFIG_DEFAULT_AUDIENCE)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static int
jwtconf_issuers(json_t *list, struct jwtconf *c, struct err *err)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return err_set(err, ERR_INVALID,
                       "jwt.issuers: expected a non-empty array of issuer "
                       "objects");
    c->issuers = calloc(json_array_size(list), sizeof *c->issuers);
    if (c->issuers == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(list); i++) {
        c->n = i + 1;
        if (jwtconf_issuer(json_array_get(list, i), i, &c->issuers[i], err) !=
            0)
            return err->code;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->issuers[k].url, c->issuers[i].url) == 0)
                return err_set(err, ERR_INVALID,
                               "jwt.issuers[%zu].issuer: the same issuer "
                               "is already jwt.issuers[%zu]",
                               i, k);
    }
    return 0;
}

int
jwtconf_parse(json_t *section, struct jwtconf *out, struct err *err)
{
    json_t *issuers, *scopes;
    const char *name;
    json_t *v;
    int rc;

    memset(out, 0, sizeof *out);
    if (!json_is_object(section))
        return err_set(err, ERR_INVALID, "jwt: expected an object");
    json_object_foreach(section, name, v)
    {
        if (strcmp(name, "issuers") != 0 &&
            strcmp(name, "required_scopes") != 0)
            return err_set(err, ERR_INVALID, "jwt.%.64s: unknown key", name);
    }
    issuers = json_object_get(section, "issuers");
    scopes = json_object_get(section, "required_scopes");
    rc = issuers ? jwtconf_issuers(issuers, out, err)
                 : jwtconf_default_issuer(out, err);
    if (rc == 0 && scopes != NULL)
        rc = jwtconf_strv(scopes, "jwt.required_scopes", &out->required_scopes,
                          err);
    if (rc != 0)
        jwtconf_free(out);
    return rc;
}

void
jwtconf_free(struct jwtconf *c)
{
    for (size_t i = 0; c->issuers != NULL && i < c->n; i++) {
        struct jwt_issuer *is = &c->issuers[i];
        free(is->url);
        jwtconf_strv_free(is->audiences);
        free(is->jwks_uri);
        json_decref(is->bound_claims);
        free(is->repository_claim);
        free(is->owner_claim);
    }
    free(c->issuers);
    jwtconf_strv_free(c->required_scopes);
    memset(c, 0, sizeof *c);
}
