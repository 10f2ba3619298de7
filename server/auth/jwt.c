/*
 * OIDC token verification in labgate's own code, with OpenSSL for the
 * signature and jansson for the JSON.  No JWT library decides anything:
 * Debian's libjwt 1.10 takes the algorithm from the token (an HS256 token
 * keyed with an RSA public key's PEM text passes it), so the algorithm is
 * pinned here, per issuer and per key, before any signature is checked.
 *
 * A struct jwt_trust is the parsed "jwt" section (auth/jwtconf.c), the
 * issuers' key sets (auth/jwks.c, source i belongs to issuer i) and a
 * small cache of verified tokens.  The cache is direct-mapped by the
 * SHA-256 of the token, so it is bounded and a lookup is one slot; an
 * entry keeps the claims and the kid and stays usable until exp, as long
 * as its kid is still in the issuer's key set.  Claims that depend on the
 * caller (audience, scopes, bound claims) and the clock are checked on
 * every call, cached or not.
 */
#include <fnmatch.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jwk.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/jwtconf.h"
#include "log.h"
#include "timefmt.h"

#define JWT_CACHE_SLOTS 1024
#define JWT_KID_MAX 128

struct jwt_cache_entry {
    unsigned char hash[SHA256_DIGEST_LENGTH];
    json_t *claims; /* NULL: empty slot */
    size_t issuer;
    char kid[JWT_KID_MAX];
    double exp;
};

struct jwt_trust {
    struct jwtconf conf;
    struct jwks *jwks;
    pthread_mutex_t cache_lock;
    struct jwt_cache_entry cache[JWT_CACHE_SLOTS];
};

/* The parts of a compact token, decoded. */
struct jwt_parts {
    json_t *header;
    json_t *claims;
    size_t signed_len; /* bytes of "header.payload" */
    unsigned char *sig;
    size_t sig_len;
};

struct jwt_alg_info {
    enum jwks_kty kty; /* RSA: any RSA key; EC: exactly this curve */
    const char *md;
    size_t sig_len; /* EC: r||s length; RSA: 0 */
};

static const struct jwt_alg_info jwt_algs[JWTCONF_ALG_COUNT] = {
    [JWTCONF_RS256] = {JWKS_RSA, "SHA256", 0},
    [JWTCONF_RS384] = {JWKS_RSA, "SHA384", 0},
    [JWTCONF_RS512] = {JWKS_RSA, "SHA512", 0},
    [JWTCONF_ES256] = {JWKS_EC_P256, "SHA256", 64},
    [JWTCONF_ES384] = {JWKS_EC_P384, "SHA384", 96},
};

static const char *const jwt_kty_names[] = {"RSA", "EC P-256", "EC P-384"};

int
jwt_trust_create(struct jwt_trust **out, json_t *section, struct store *store,
                 struct err *err)
{
    struct jwt_trust *t = calloc(1, sizeof *t);

    if (t == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&t->cache_lock, NULL);
    if (jwtconf_parse(section, &t->conf, err) != 0 ||
        jwks_create(&t->jwks, t->conf.n, err) != 0)
        goto fail;
    for (size_t i = 0; i < t->conf.n; i++) {
        const struct jwt_issuer *is = &t->conf.issuers[i];
        if (jwks_set_source(t->jwks, i, is->url, is->jwks_uri, is->allow_http,
                            err) != 0)
            goto fail;
    }
    if (jwks_start(t->jwks, store, err) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    jwt_trust_free(t);
    return err->code;
}

void
jwt_trust_attach_store(struct jwt_trust *t, struct store *store)
{
    if (t != NULL)
        jwks_attach_store(t->jwks, store);
}

const char *const *
jwt_trust_required_scopes(const struct jwt_trust *t)
{
    return (const char *const *)t->conf.required_scopes;
}

const char *
jwt_issuer_url(const struct jwt_issuer *iss)
{
    return iss->url;
}

/* Only base64url characters and exactly two dots. */
static int
jwt_shape_ok(const char *token, const char **dot1, const char **dot2)
{
    const char *p;
    int dots = 0;

    for (p = token; *p; p++) {
        if (*p == '.') {
            if (++dots == 1)
                *dot1 = p;
            else if (dots == 2)
                *dot2 = p;
            else
                return 0;
        } else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) {
            return 0;
        }
    }
    return dots == 2 && *dot1 > token && *dot2 > *dot1 + 1;
}

static json_t *
jwt_decode_json(const char *p, size_t n)
{
    size_t len = 0;
    unsigned char *raw = jwk_b64url_decode(p, n, &len);
    json_t *j =
        raw ? json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL)
            : NULL;

    free(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int
jwt_split(const char *token, struct jwt_parts *p, struct err *err)
{
    const char *d1 = NULL, *d2 = NULL;
    size_t n = strlen(token);

    if (n == 0)
        return err_set(err, ERR_AUTH, "empty token");
    if (n > JWT_TOKEN_MAX)
        return err_set(err, ERR_AUTH, "token longer than %d bytes",
                       JWT_TOKEN_MAX);
    if (!jwt_shape_ok(token, &d1, &d2))
        return err_set(err, ERR_AUTH,
                       "malformed token: not three base64url "
                       "parts (header.payload.signature)");
    p->header = jwt_decode_json(token, (size_t)(d1 - token));
    if (p->header == NULL)
        return err_set(err, ERR_AUTH,
                       "malformed token: header is not a "
                       "base64url JSON object");
    p->claims = jwt_decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (p->claims == NULL)
        return err_set(err, ERR_AUTH,
                       "malformed token: payload is not a "
                       "base64url JSON object");
    p->signed_len = (size_t)(d2 - token);
    if (d2[1] != '\0' && (p->sig = jwk_b64url_decode(d2 + 1, strlen(d2 + 1),
                                                     &p->sig_len)) == NULL)
        return err_set(err, ERR_AUTH,
                       "malformed token: signature is not "
                       "base64url");
    return 0;
}

static void
jwt_parts_free(struct jwt_parts *p)
{
    json_decref(p->header);
    json_decref(p->claims);
    free(p->sig);
}

/* Check the header and pick the algorithm. */
static int
jwt_header(json_t *h, enum jwtconf_alg *alg, const char **kid, struct err *err)
{
    const char *a = json_string_value(json_object_get(h, "alg"));

    if (a == NULL)
        return err_set(err, ERR_AUTH, "header has no alg");
    if (strcmp(a, "none") == 0)
        return err_set(err, ERR_AUTH, "alg none is never accepted");
    if (strncmp(a, "HS", 2) == 0)
        return err_set(err, ERR_AUTH,
                       "HMAC algorithm %.16s is never "
                       "accepted",
                       a);
    if (jwtconf_alg_parse(a, alg) != 0)
        return err_set(err, ERR_AUTH, "unsupported alg %.16s", a);
    if (json_object_get(h, "crit") != NULL)
        return err_set(err, ERR_AUTH,
                       "crit header parameters are not "
                       "supported");
    *kid = json_string_value(json_object_get(h, "kid"));
    if (*kid == NULL || (*kid)[0] == '\0' || strlen(*kid) >= JWT_KID_MAX)
        return err_set(err, ERR_AUTH, "header has no usable kid");
    return 0;
}

/* JOSE ECDSA signatures are r||s; OpenSSL wants DER. */
static unsigned char *
jwt_ecdsa_der(const unsigned char *sig, size_t len, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    *der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    return *der_len > 0 ? der : NULL;
}

static int
jwt_signature_ok(const struct jwt_alg_info *a, EVP_PKEY *key, const char *msg,
                 const struct jwt_parts *p)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    const unsigned char *sig = p->sig;
    size_t sig_len = p->sig_len;
    int ok = 0, der_len = 0;

    if (ctx == NULL || sig == NULL)
        goto out;
    if (a->sig_len != 0) {
        if (sig_len != a->sig_len ||
            (der = jwt_ecdsa_der(sig, sig_len, &der_len)) == NULL)
            goto out;
        sig = der;
        sig_len = (size_t)der_len;
    }
    if (EVP_DigestVerifyInit_ex(ctx, NULL, a->md, NULL, NULL, key, NULL) == 1)
        ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)msg,
                              p->signed_len) == 1;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int
jwt_find_issuer(const struct jwt_trust *t, json_t *claims, size_t *idx,
                struct err *err)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));

    if (iss == NULL)
        return err_set(err, ERR_AUTH, "iss missing or not a string");
    for (size_t i = 0; i < t->conf.n; i++) {
        if (strcmp(t->conf.issuers[i].url, iss) == 0) {
            *idx = i;
            return 0;
        }
    }
    return err_set(err, ERR_AUTH, "issuer %.120s is not trusted", iss);
}

/* Algorithm, key and signature: everything that needs the JWKS. */
static int
jwt_check_signature(struct jwt_trust *t, const char *token,
                    const struct jwt_parts *p, size_t *issuer, struct err *err)
{
    enum jwtconf_alg alg;
    const struct jwt_alg_info *a;
    const struct jwt_issuer *is;
    const char *kid = NULL;
    struct jwks_key key = {NULL, JWKS_RSA, ""};
    int rc;

    if (jwt_header(p->header, &alg, &kid, err) != 0 ||
        jwt_find_issuer(t, p->claims, issuer, err) != 0)
        return ERR_AUTH;
    is = &t->conf.issuers[*issuer];
    a = &jwt_algs[alg];
    if (!(is->algs & (1u << alg)))
        return err_set(err, ERR_AUTH,
                       "alg %s is not allowed for issuer "
                       "%.120s",
                       jwtconf_alg_name(alg), is->url);
    rc = jwks_lookup(t->jwks, *issuer, kid, &key, err);
    if (rc != 0)
        return ERR_AUTH;
    rc = ERR_AUTH;
    if (key.kty != a->kty)
        err_set(err, ERR_AUTH, "alg %s does not fit the %s key %.64s",
                jwtconf_alg_name(alg), jwt_kty_names[key.kty], kid);
    else if (key.alg[0] != '\0' && strcmp(key.alg, jwtconf_alg_name(alg)))
        err_set(err, ERR_AUTH, "alg %s differs from key %.64s's alg %s",
                jwtconf_alg_name(alg), kid, key.alg);
    else if (!jwt_signature_ok(a, key.pkey, token, p))
        err_set(err, ERR_AUTH, "bad signature (kid %.64s, alg %s)", kid,
                jwtconf_alg_name(alg));
    else
        rc = 0;
    jwks_key_release(&key);
    return rc;
}

static int
jwt_time_claim(json_t *claims, const char *name, int required, double *out,
               struct err *err)
{
    json_t *v = json_object_get(claims, name);

    if (v == NULL) {
        *out = 0;
        return required ? err_set(err, ERR_AUTH, "%s missing", name) : 0;
    }
    if (!json_is_number(v))
        return err_set(err, ERR_AUTH, "%s is not a number", name);
    *out = json_number_value(v);
    return 0;
}

/* "REASON at TIME (CLAIM)", with TIME the claim's value in UTC. */
static int
jwt_time_err(struct err *err, const char *what, double when, const char *claim)
{
    char iso[32];

    timefmt_iso8601((int64_t)(when * 1000), iso, sizeof iso);
    return err_set(err, ERR_AUTH, "%s %s (%s)", what, iso, claim);
}

static int
jwt_check_times(json_t *claims, int leeway, double *exp, struct err *err)
{
    double now = (double)time(NULL), nbf = 0, iat = 0;

    if (jwt_time_claim(claims, "exp", 1, exp, err) != 0 ||
        jwt_time_claim(claims, "nbf", 0, &nbf, err) != 0 ||
        jwt_time_claim(claims, "iat", 0, &iat, err) != 0)
        return ERR_AUTH;
    if (now >= *exp + leeway)
        return jwt_time_err(err, "expired at", *exp, "exp");
    if (json_object_get(claims, "nbf") && nbf > now + leeway)
        return jwt_time_err(err, "not valid before", nbf, "nbf");
    if (json_object_get(claims, "iat") && iat > now + leeway)
        return jwt_time_err(err, "issued in the future at", iat, "iat");
    return 0;
}

static int
jwt_in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s != NULL && list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int
jwt_check_audience(json_t *claims, const char *const *want, struct err *err)
{
    json_t *aud = json_object_get(claims, "aud"), *v;
    size_t i;

    if (json_is_string(aud) && jwt_in_list(json_string_value(aud), want))
        return 0;
    json_array_foreach(aud, i, v)
    {
        if (jwt_in_list(json_string_value(v), want))
            return 0;
    }
    if (aud == NULL)
        return err_set(err, ERR_AUTH, "aud missing");
    return err_set(err, ERR_AUTH,
                   "aud does not name an accepted audience "
                   "(expected %.64s)",
                   want[0]);
}

/* Identity claims must be strings when present; sub is required. */
static int
jwt_check_identity(json_t *claims, const struct jwt_issuer *is, struct err *err)
{
    const char *names[] = {"sub", is->repository_claim, is->owner_claim};

    if (json_string_value(json_object_get(claims, "sub")) == NULL ||
        json_string_length(json_object_get(claims, "sub")) == 0)
        return err_set(err, ERR_AUTH, "sub missing or not a string");
    for (size_t i = 1; i < 3; i++) {
        json_t *v = json_object_get(claims, names[i]);
        if (v != NULL && !json_is_string(v))
            return err_set(err, ERR_AUTH, "claim %.64s is not a string",
                           names[i]);
    }
    return 0;
}

static int
jwt_glob_any(json_t *patterns, const char *value)
{
    size_t i;
    json_t *p;

    json_array_foreach(patterns, i, p)
    {
        if (fnmatch(json_string_value(p), value, 0) == 0)
            return 1;
    }
    return 0;
}

/* Every bound claim must match (any element, for an array claim). */
static int
jwt_check_bound(json_t *claims, const struct jwt_issuer *is, struct err *err)
{
    const char *name;
    json_t *patterns;

    json_object_foreach(is->bound_claims, name, patterns)
    {
        json_t *v = json_object_get(claims, name), *e;
        size_t i;
        int ok =
            json_is_string(v) && jwt_glob_any(patterns, json_string_value(v));
        json_array_foreach(v, i, e)
        {
            if (json_is_string(e) &&
                jwt_glob_any(patterns, json_string_value(e)))
                ok = 1;
        }
        if (!ok)
            return err_set(err, ERR_DENIED, "claim %.64s %s bound_claims", name,
                           v ? "does not match" : "is missing for");
    }
    return 0;
}

/* "scope" or "scp", each a space-separated string or an array. */
static int
jwt_has_scope(json_t *v, const char *const *want)
{
    size_t i;
    json_t *e;

    if (json_is_string(v)) {
        char *copy = strdup(json_string_value(v)), *save = NULL, *tok;
        int found = 0;
        for (tok = copy ? strtok_r(copy, " ", &save) : NULL; tok && !found;
             tok = strtok_r(NULL, " ", &save))
            found = jwt_in_list(tok, want);
        free(copy);
        return found;
    }
    json_array_foreach(v, i, e)
    {
        if (jwt_in_list(json_string_value(e), want))
            return 1;
    }
    return 0;
}

static int
jwt_check_scopes(json_t *claims, const char *const *want,
                 struct jwt_verified *out, struct err *err)
{
    if (jwt_has_scope(json_object_get(claims, "scope"), want) ||
        jwt_has_scope(json_object_get(claims, "scp"), want))
        return 0;
    out->insufficient_scope = 1;
    return err_set(err, ERR_DENIED,
                   "token has none of the required scopes "
                   "(%.64s%s)",
                   want[0], want[1] ? ", ..." : "");
}

static struct jwt_cache_entry *
jwt_cache_slot(struct jwt_trust *t, const unsigned char *hash)
{
    unsigned idx = ((unsigned)hash[0] << 8 | hash[1]) % JWT_CACHE_SLOTS;

    return &t->cache[idx];
}

/* A copy of the cached claims for hash, or NULL. */
static json_t *
jwt_cache_get(struct jwt_trust *t, const unsigned char *hash, size_t *iss)
{
    struct jwt_cache_entry *e;
    json_t *claims = NULL;
    char kid[JWT_KID_MAX] = "";

    pthread_mutex_lock(&t->cache_lock);
    e = jwt_cache_slot(t, hash);
    if (e->claims != NULL && memcmp(e->hash, hash, sizeof e->hash) == 0) {
        if (e->exp + JWTCONF_LEEWAY_MAX < (double)time(NULL)) {
            json_decref(e->claims);
            e->claims = NULL;
        } else {
            claims = json_deep_copy(e->claims);
            *iss = e->issuer;
            memcpy(kid, e->kid, sizeof kid);
        }
    }
    pthread_mutex_unlock(&t->cache_lock);
    /* A key that left the issuer's set takes its tokens with it. */
    if (claims != NULL && !jwks_has(t->jwks, *iss, kid)) {
        json_decref(claims);
        claims = NULL;
    }
    return claims;
}

static void
jwt_cache_put(struct jwt_trust *t, const unsigned char *hash,
              const struct jwt_parts *p, size_t iss, double exp)
{
    const char *kid = json_string_value(json_object_get(p->header, "kid"));
    json_t *copy = json_deep_copy(p->claims);
    struct jwt_cache_entry *e;
    json_t *old;

    if (copy == NULL)
        return;
    pthread_mutex_lock(&t->cache_lock);
    e = jwt_cache_slot(t, hash);
    old = e->claims;
    memcpy(e->hash, hash, sizeof e->hash);
    e->claims = copy;
    e->issuer = iss;
    e->exp = exp;
    snprintf(e->kid, sizeof e->kid, "%s", kid);
    pthread_mutex_unlock(&t->cache_lock);
    json_decref(old);
}

/* Everything about the claims; out->claims holds them. */
static int
jwt_check_claims(const struct jwt_trust *t, size_t idx,
                 const struct jwt_expect *expect, struct jwt_verified *out,
                 struct err *err)
{
    const struct jwt_issuer *is = &t->conf.issuers[idx];
    const char *const *aud = expect && expect->audiences
                                 ? expect->audiences
                                 : (const char *const *)is->audiences;
    double exp = 0;

    if (jwt_check_times(out->claims, is->leeway, &exp, err) != 0 ||
        jwt_check_audience(out->claims, aud, err) != 0 ||
        jwt_check_identity(out->claims, is, err) != 0)
        return ERR_AUTH;
    out->issuer = is;
    out->expires = (int64_t)exp;
    out->repository =
        json_string_value(json_object_get(out->claims, is->repository_claim));
    out->owner =
        json_string_value(json_object_get(out->claims, is->owner_claim));
    if (expect && expect->bound_claims &&
        jwt_check_bound(out->claims, is, err) != 0)
        return ERR_DENIED;
    if (expect && expect->scopes && expect->scopes[0] &&
        jwt_check_scopes(out->claims, expect->scopes, out, err) != 0)
        return ERR_DENIED;
    return 0;
}

int
jwt_verify(struct jwt_trust *t, const char *token,
           const struct jwt_expect *expect, struct jwt_verified *out,
           struct err *err)
{
    unsigned char hash[SHA256_DIGEST_LENGTH];
    struct jwt_parts p;
    size_t idx = 0;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&p, 0, sizeof p);
    if (token == NULL || token[0] == '\0')
        return err_set(err, ERR_AUTH, "no token");
    if (strlen(token) > JWT_TOKEN_MAX)
        return err_set(err, ERR_AUTH, "token longer than %d bytes",
                       JWT_TOKEN_MAX);
    SHA256((const unsigned char *)token, strlen(token), hash);
    out->claims = jwt_cache_get(t, hash, &idx);
    if (out->claims == NULL) {
        rc = jwt_split(token, &p, err);
        if (rc == 0)
            rc = jwt_check_signature(t, token, &p, &idx, err);
        if (rc != 0)
            goto out;
        out->claims = json_incref(p.claims);
    }
    rc = jwt_check_claims(t, idx, expect, out, err);
    if (rc != ERR_AUTH && p.claims != NULL)
        jwt_cache_put(t, hash, &p, idx, (double)out->expires);
out:
    jwt_parts_free(&p);
    if (rc != 0) {
        int scope = out->insufficient_scope;
        jwt_verified_free(out);
        out->insufficient_scope = scope;
    }
    return rc;
}

static int
jwt_dup(char **slot, const char *v)
{
    free(*slot);
    *slot = NULL;
    if (v == NULL)
        return 0;
    *slot = strdup(v);
    return *slot ? 0 : ERR_NOMEM;
}

int
jwt_identity_fill(const struct jwt_verified *v, struct result_identity *ident)
{
    char *claims = json_dumps(v->claims, JSON_COMPACT);
    const char *sub = json_string_value(json_object_get(v->claims, "sub"));

    if (claims == NULL || jwt_dup(&ident->issuer, v->issuer->url) != 0 ||
        jwt_dup(&ident->subject, sub) != 0 ||
        jwt_dup(&ident->repository, v->repository) != 0 ||
        jwt_dup(&ident->owner, v->owner) != 0) {
        free(claims);
        return ERR_NOMEM;
    }
    free(ident->claims);
    ident->claims = claims;
    return 0;
}

void
jwt_verified_free(struct jwt_verified *v)
{
    json_decref(v->claims);
    memset(v, 0, sizeof *v);
}

void
jwt_trust_free(struct jwt_trust *t)
{
    if (t == NULL)
        return;
    jwks_free(t->jwks);
    jwtconf_free(&t->conf);
    for (size_t i = 0; i < JWT_CACHE_SLOTS; i++)
        json_decref(t->cache[i].claims);
    pthread_mutex_destroy(&t->cache_lock);
    free(t);
}
