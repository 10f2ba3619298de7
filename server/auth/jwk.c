/*
 * JSON Web Keys (RFC 7517/7518) to OpenSSL keys, and fetching key sets.
 *
 * A parsed set is an array of (kid, EVP_PKEY) entries built once per
 * fetch; verifiers take their own reference to a key, so a set can be
 * replaced while tokens are being checked with its keys.  Only what a
 * signature needs is kept: the key family (RSA, EC P-256, EC P-384) that
 * pins the algorithms a key may be used with, and the JWK's own "alg".
 */
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jwk.h"
#include "log.h"

#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 8192

static int
jwk_b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *
jwk_b64url_decode(const char *in, size_t n, size_t *outlen)
{
    unsigned char *out;
    unsigned acc = 0;
    size_t o = 0;
    int bits = 0;

    if (n % 4 == 1)
        return NULL;
    out = malloc(n * 3 / 4 + 2);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int v = jwk_b64_value((unsigned char)in[i]);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so every text has one decoding. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        goto bad;
    out[o] = '\0';
    *outlen = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* Decode member name of jwk as base64url; NULL when absent or bad. */
static unsigned char *
jwk_member_bytes(json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));

    return s ? jwk_b64url_decode(s, strlen(s), len) : NULL;
}

static EVP_PKEY *
jwk_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *
jwk_rsa(json_t *jwk, const char **why)
{
    size_t nl = 0, el = 0;
    unsigned char *n = jwk_member_bytes(jwk, "n", &nl);
    unsigned char *e = jwk_member_bytes(jwk, "e", &el);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;

    *why = "n or e missing or not base64url";
    if (n == NULL || e == NULL)
        goto out;
    bn = BN_bin2bn(n, (int)nl, NULL);
    be = BN_bin2bn(e, (int)el, NULL);
    *why = "modulus size or exponent out of range";
    if (bn == NULL || be == NULL || BN_num_bits(bn) < JWK_RSA_MIN_BITS ||
        BN_num_bits(bn) > JWK_RSA_MAX_BITS || !BN_is_odd(be) ||
        BN_num_bits(be) < 2 || BN_num_bits(be) > 64)
        goto out;
    bld = OSSL_PARAM_BLD_new();
    *why = "OpenSSL refused the key";
    if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = jwk_from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *
jwk_ec(json_t *jwk, enum jwks_kty *kty, const char **why)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t xl = 0, yl = 0, size;
    unsigned char *x, *y, pub[1 + 2 * 48];
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    const char *group;

    *why = "unsupported curve (P-256 and P-384 are)";
    if (crv != NULL && strcmp(crv, "P-256") == 0) {
        *kty = JWKS_EC_P256, size = 32, group = "prime256v1";
    } else if (crv != NULL && strcmp(crv, "P-384") == 0) {
        *kty = JWKS_EC_P384, size = 48, group = "secp384r1";
    } else {
        return NULL;
    }
    x = jwk_member_bytes(jwk, "x", &xl);
    y = jwk_member_bytes(jwk, "y", &yl);
    *why = "x or y missing or of the wrong length";
    if (x == NULL || y == NULL || xl != size || yl != size)
        goto out;
    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, x, size);
    memcpy(pub + 1 + size, y, size);
    bld = OSSL_PARAM_BLD_new();
    *why = "not a point on the curve";
    if (bld &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                        0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                         1 + 2 * size))
        pkey = jwk_from_params("EC", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

/* Convert one JWK into e; returns 0, or -1 with *why for a skipped key. */
static int
jwk_convert(json_t *jwk, struct jwk_entry *e, const char **why)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));

    memset(e, 0, sizeof *e);
    *why = "no kid";
    if (kid == NULL || kid[0] == '\0')
        return -1;
    *why = "use is not sig";
    if (json_object_get(jwk, "use") != NULL &&
        (use == NULL || strcmp(use, "sig") != 0))
        return -1;
    *why = "unsupported kty (RSA and EC are)";
    if (kty != NULL && strcmp(kty, "RSA") == 0) {
        e->key.kty = JWKS_RSA;
        e->key.pkey = jwk_rsa(jwk, why);
    } else if (kty != NULL && strcmp(kty, "EC") == 0) {
        e->key.pkey = jwk_ec(jwk, &e->key.kty, why);
    }
    if (e->key.pkey == NULL)
        return -1;
    if (alg != NULL)
        snprintf(e->key.alg, sizeof e->key.alg, "%s", alg);
    e->kid = strdup(kid);
    if (e->kid == NULL) {
        EVP_PKEY_free(e->key.pkey);
        *why = "out of memory";
        return -1;
    }
    return 0;
}

int
jwk_set_parse(const char *text, size_t len, struct jwk_set **out,
              struct err *err)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = json_object_get(root, "keys");
    struct jwk_set *s = NULL;
    size_t i;
    json_t *jwk;

    if (!json_is_array(keys)) {
        json_decref(root);
        return err_set(err, ERR_INVALID, "not a JWKS: no \"keys\" array");
    }
    s = calloc(1, sizeof *s);
    if (s == NULL ||
        (s->v = calloc(json_array_size(keys) + 1, sizeof *s->v)) == NULL) {
        free(s);
        json_decref(root);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    json_array_foreach(keys, i, jwk)
    {
        const char *why, *kid = json_string_value(json_object_get(jwk, "kid"));
        char q1[LOG_QUOTE_MAX], q2[LOG_QUOTE_MAX];
        if (kid != NULL && jwk_set_find(s, kid) != NULL) {
            why = "duplicate kid";
        } else if (jwk_convert(jwk, &s->v[s->n], &why) == 0) {
            s->n++;
            continue;
        }
        log_event(LOG_INFO, "jwks", "key_skipped", "kid=%s reason=%s",
                  log_quote(kid, q1, sizeof q1), log_quote(why, q2, sizeof q2));
    }
    json_decref(root);
    *out = s;
    return 0;
}

const struct jwk_entry *
jwk_set_find(const struct jwk_set *s, const char *kid)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (strcmp(s->v[i].kid, kid) == 0)
            return &s->v[i];
    return NULL;
}

void
jwk_set_free(struct jwk_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].kid);
        EVP_PKEY_free(s->v[i].key.pkey);
    }
    free(s->v);
    free(s);
}

struct jwk_sink {
    struct jwk_http *out;
    int too_big;
};

static size_t
jwk_collect(char *p, size_t size, size_t nmemb, void *arg)
{
    struct jwk_sink *s = arg;
    size_t n = size * nmemb;
    char *d;

    if (s->out->len + n > JWKS_BODY_MAX) {
        s->too_big = 1;
        return 0;
    }
    d = realloc(s->out->body, s->out->len + n + 1);
    if (d == NULL)
        return 0;
    memcpy(d + s->out->len, p, n);
    s->out->len += n;
    d[s->out->len] = '\0';
    s->out->body = d;
    return n;
}

/* Pick "max-age=N" out of a Cache-Control header line. */
static size_t
jwk_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct jwk_sink *s = arg;
    size_t n = size * nmemb;
    char line[512], *m;

    if (n >= sizeof line || strncasecmp(p, "cache-control:", 14) != 0)
        return n;
    memcpy(line, p, n);
    line[n] = '\0';
    for (char *c = line; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    m = strstr(line, "max-age=");
    if (m != NULL && isdigit((unsigned char)m[8]))
        s->out->max_age = strtol(m + 8, NULL, 10);
    if (strstr(line, "no-cache") || strstr(line, "no-store"))
        s->out->max_age = 0;
    return n;
}

static int
jwk_scheme_ok(const char *url, int allow_http)
{
    return strncmp(url, "https://", 8) == 0 ||
           (allow_http && strncmp(url, "http://", 7) == 0);
}

int
jwk_http_get(const char *url, int allow_http, struct jwk_http *out,
             struct err *err)
{
    const char *protos = allow_http ? "http,https" : "https";
    struct jwk_sink sink = {out, 0};
    CURL *c;
    CURLcode rc;
    long status = 0;

    memset(out, 0, sizeof *out);
    out->max_age = -1;
    if (!jwk_scheme_ok(url, allow_http))
        return err_set(err, ERR_IO, "%.120s: only https is allowed", url);
    c = curl_easy_init();
    if (c == NULL)
        return err_set(err, ERR_NOMEM, "cannot create a curl handle");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)JWKS_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)JWKS_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "labgate/" LABGATE_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jwk_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, jwk_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || status != 200) {
        if (sink.too_big)
            err_set(err, ERR_IO, "%.120s: larger than %d bytes", url,
                    JWKS_BODY_MAX);
        else if (rc != CURLE_OK)
            err_set(err, ERR_IO, "%.120s: %s", url, curl_easy_strerror(rc));
        else
            err_set(err, ERR_IO, "%.120s: HTTP status %ld", url, status);
        free(out->body);
        memset(out, 0, sizeof *out);
        return ERR_IO;
    }
    if (out->body == NULL && (out->body = strdup("")) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

int
jwk_discover(const char *issuer, int allow_http, char **uri, struct err *err)
{
    size_t n = strlen(issuer);
    char url[1024];
    struct jwk_http h;
    json_t *doc;
    const char *iss, *ju;
    int rc = ERR_IO;

    /* OpenID Connect Discovery 1.0 section 4: drop one trailing slash. */
    if (n > 0 && issuer[n - 1] == '/')
        n--;
    snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration", (int)n,
             issuer);
    if (jwk_http_get(url, allow_http, &h, err) != 0)
        return err->code;
    doc = json_loadb(h.body, h.len, 0, NULL);
    iss = json_string_value(json_object_get(doc, "issuer"));
    ju = json_string_value(json_object_get(doc, "jwks_uri"));
    if (doc == NULL || iss == NULL || ju == NULL)
        err_set(err, ERR_IO,
                "%.120s: not a discovery document with issuer "
                "and jwks_uri",
                url);
    else if (strcmp(iss, issuer) != 0)
        err_set(err, ERR_IO, "%.120s: names issuer %.100s", url, iss);
    else if (!jwk_scheme_ok(ju, allow_http))
        err_set(err, ERR_IO, "%.120s: jwks_uri is not https", url);
    else if ((*uri = strdup(ju)) == NULL)
        err_set(err, ERR_NOMEM, "out of memory");
    else
        rc = 0;
    json_decref(doc);
    free(h.body);
    return rc == 0 ? 0 : err->code;
}
