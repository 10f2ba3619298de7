/*
 * The test OIDC issuer.  Keys live in a small array (kid, EVP_PKEY with
 * its private half, published flag) under one mutex that the CivetWeb
 * handler also takes when it renders the JWKS, so tests can rotate keys
 * while a server under test is fetching.  Base64url encoding and JWK
 * export are written here independently of the server's code, so a bug
 * there cannot hide itself in both places.
 */
#define _GNU_SOURCE /* vasprintf */

#include <civetweb.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tissuer.h"

#define TISSUER_KEYS_MAX 16

struct tissuer_key {
    char kid[64];
    enum tissuer_kty kty;
    EVP_PKEY *pkey;
    int published;
};

struct tissuer {
    struct mg_context *mg;
    int port;
    char url[64];
    char jwks_uri[96];
    pthread_mutex_t lock;
    struct tissuer_key keys[TISSUER_KEYS_MAX];
    int nkeys;
    long max_age;
    int status;
    int jwks_requests;
    int discovery_requests;
};

static void
tissuer_die(const char *what)
{
    fprintf(stderr, "tissuer: %s\n", what);
    abort();
}

static char *
tissuer_b64url(const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4), *o = out;
    size_t i;

    if (out == NULL)
        tissuer_die("out of memory");
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

static char *
tissuer_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        tissuer_die("out of memory");
    va_end(ap);
    return s;
}

/* Big-endian bytes of a BIGNUM parameter, padded to width (0: minimal). */
static char *
tissuer_bn_b64(EVP_PKEY *k, const char *param, int width)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;

    if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
        tissuer_die("cannot read a key parameter");
    n = width ? BN_bn2binpad(bn, buf, width) : BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0)
        tissuer_die("cannot encode a key parameter");
    return tissuer_b64url(buf, (size_t)n);
}

/* The public JWK of k as JSON text. */
static char *
tissuer_jwk(const struct tissuer_key *k)
{
    char *a, *b, *out;

    if (k->kty == TISSUER_RSA2048) {
        a = tissuer_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        b = tissuer_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        out = tissuer_printf("{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\","
                             "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}",
                             k->kid, a, b);
    } else {
        int w = k->kty == TISSUER_EC_P256 ? 32 : 48;
        a = tissuer_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, w);
        b = tissuer_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, w);
        out = tissuer_printf("{\"kty\":\"EC\",\"use\":\"sig\",\"kid\":\"%s\","
                             "\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
                             k->kid, w == 32 ? "P-256" : "P-384", a, b);
    }
    free(a);
    free(b);
    return out;
}

static char *
tissuer_jwks_text(struct tissuer *ti)
{
    size_t cap = 64;
    char *out = malloc(cap);
    int first = 1;

    if (out == NULL)
        tissuer_die("out of memory");
    strcpy(out, "{\"keys\":[");
    for (int i = 0; i < ti->nkeys; i++) {
        char *jwk;
        if (!ti->keys[i].published)
            continue;
        jwk = tissuer_jwk(&ti->keys[i]);
        cap += strlen(jwk) + 2;
        if ((out = realloc(out, cap)) == NULL)
            tissuer_die("out of memory");
        if (!first)
            strcat(out, ",");
        strcat(out, jwk);
        free(jwk);
        first = 0;
    }
    strcat(out, "]}");
    return out;
}

static void
tissuer_reply(struct mg_connection *c, int status, long max_age,
              const char *body)
{
    char cc[64] = "";

    if (max_age >= 0)
        snprintf(cc, sizeof cc, "Cache-Control: public, max-age=%ld\r\n",
                 max_age);
    mg_printf(c,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
              status, status == 200 ? "OK" : "Error", cc, strlen(body), body);
}

static int
tissuer_request(struct mg_connection *c)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    struct tissuer *ti = mg_get_user_data(mg_get_context(c));
    char *body = NULL;
    long max_age;
    int status;

    pthread_mutex_lock(&ti->lock);
    max_age = ti->max_age;
    status = ti->status;
    if (strcmp(ri->local_uri, "/.well-known/jwks") == 0) {
        ti->jwks_requests++;
        body = tissuer_jwks_text(ti);
    } else if (strcmp(ri->local_uri, "/.well-known/openid-configuration") ==
               0) {
        ti->discovery_requests++;
        body = tissuer_printf("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\","
                              "\"id_token_signing_alg_values_supported\":"
                              "[\"RS256\",\"ES256\"]}",
                              ti->url, ti->jwks_uri);
    }
    pthread_mutex_unlock(&ti->lock);
    if (body == NULL)
        tissuer_reply(c, 404, -1, "{\"message\":\"Not Found\"}");
    else if (status != 200)
        tissuer_reply(c, status, -1, "{\"message\":\"unavailable\"}");
    else
        tissuer_reply(c, 200, max_age, body);
    free(body);
    return 1;
}

static void
tissuer_listen(struct tissuer *ti)
{
    struct mg_callbacks cb;
    struct mg_server_port ports[2];
    char listen[32];
    const char *opts[] = {"listening_ports", listen, "num_threads", "4", NULL};

    snprintf(listen, sizeof listen, "127.0.0.1:%d", ti->port);
    memset(&cb, 0, sizeof cb);
    cb.begin_request = tissuer_request;
    ti->mg = mg_start(&cb, ti, opts);
    if (ti->mg == NULL || mg_get_server_ports(ti->mg, 2, ports) < 1)
        tissuer_die("cannot listen on 127.0.0.1");
    ti->port = ports[0].port;
}

struct tissuer *
tissuer_start(void)
{
    struct tissuer *ti = calloc(1, sizeof *ti);

    if (ti == NULL)
        tissuer_die("out of memory");
    pthread_mutex_init(&ti->lock, NULL);
    ti->max_age = -1;
    ti->status = 200;
    mg_init_library(0);
    tissuer_listen(ti);
    snprintf(ti->url, sizeof ti->url, "http://127.0.0.1:%d", ti->port);
    snprintf(ti->jwks_uri, sizeof ti->jwks_uri, "%s/.well-known/jwks", ti->url);
    tissuer_add_key(ti, TISSUER_KID_RSA, TISSUER_RSA2048);
    tissuer_add_key(ti, TISSUER_KID_EC, TISSUER_EC_P256);
    return ti;
}

void
tissuer_free(struct tissuer *ti)
{
    if (ti == NULL)
        return;
    if (ti->mg != NULL)
        mg_stop(ti->mg);
    mg_exit_library();
    for (int i = 0; i < ti->nkeys; i++)
        EVP_PKEY_free(ti->keys[i].pkey);
    pthread_mutex_destroy(&ti->lock);
    free(ti);
}

const char *
tissuer_url(const struct tissuer *ti)
{
    return ti->url;
}

const char *
tissuer_jwks_uri(const struct tissuer *ti)
{
    return ti->jwks_uri;
}

void
tissuer_add_key(struct tissuer *ti, const char *kid, enum tissuer_kty kty)
{
    EVP_PKEY *k;
    struct tissuer_key *slot;

    if (kty == TISSUER_RSA2048)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
                              kty == TISSUER_EC_P256 ? "P-256" : "P-384");
    if (k == NULL)
        tissuer_die("key generation failed");
    pthread_mutex_lock(&ti->lock);
    if (ti->nkeys == TISSUER_KEYS_MAX)
        tissuer_die("too many keys");
    slot = &ti->keys[ti->nkeys++];
    snprintf(slot->kid, sizeof slot->kid, "%s", kid);
    slot->kty = kty;
    slot->pkey = k;
    slot->published = 1;
    pthread_mutex_unlock(&ti->lock);
}

static struct tissuer_key *
tissuer_find(struct tissuer *ti, const char *kid)
{
    for (int i = 0; i < ti->nkeys; i++)
        if (strcmp(ti->keys[i].kid, kid) == 0)
            return &ti->keys[i];
    tissuer_die("no such kid");
    return NULL;
}

void
tissuer_publish(struct tissuer *ti, const char *kid, int published)
{
    pthread_mutex_lock(&ti->lock);
    tissuer_find(ti, kid)->published = published;
    pthread_mutex_unlock(&ti->lock);
}

void
tissuer_set_max_age(struct tissuer *ti, long seconds)
{
    pthread_mutex_lock(&ti->lock);
    ti->max_age = seconds;
    pthread_mutex_unlock(&ti->lock);
}

void
tissuer_set_status(struct tissuer *ti, int status)
{
    pthread_mutex_lock(&ti->lock);
    ti->status = status;
    pthread_mutex_unlock(&ti->lock);
}

void
tissuer_down(struct tissuer *ti)
{
    if (ti->mg != NULL)
        mg_stop(ti->mg);
    ti->mg = NULL;
}

void
tissuer_up(struct tissuer *ti)
{
    if (ti->mg == NULL)
        tissuer_listen(ti);
}

int
tissuer_jwks_requests(struct tissuer *ti)
{
    int n;

    pthread_mutex_lock(&ti->lock);
    n = ti->jwks_requests;
    pthread_mutex_unlock(&ti->lock);
    return n;
}

int
tissuer_discovery_requests(struct tissuer *ti)
{
    int n;

    pthread_mutex_lock(&ti->lock);
    n = ti->discovery_requests;
    pthread_mutex_unlock(&ti->lock);
    return n;
}

char *
tissuer_public_pem(struct tissuer *ti, const char *kid)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    pthread_mutex_lock(&ti->lock);
    if (bio == NULL ||
        PEM_write_bio_PUBKEY(bio, tissuer_find(ti, kid)->pkey) != 1)
        tissuer_die("cannot write PEM");
    pthread_mutex_unlock(&ti->lock);
    n = BIO_get_mem_data(bio, &data);
    out = tissuer_printf("%.*s", (int)n, data);
    BIO_free(bio);
    return out;
}

/* JOSE r||s from an OpenSSL DER ECDSA signature. */
static char *
tissuer_ecdsa_jose(const unsigned char *der, size_t n, int width)
{
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)n);
    unsigned char rs[96];

    if (sig == NULL ||
        BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, width) != width ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + width, width) != width)
        tissuer_die("cannot convert an ECDSA signature");
    ECDSA_SIG_free(sig);
    return tissuer_b64url(rs, (size_t)width * 2);
}

static char *
tissuer_sig(struct tissuer *ti, const char *kid, const char *alg,
            const char *input)
{
    const char *md = strstr(alg, "384")   ? "SHA384"
                     : strstr(alg, "512") ? "SHA512"
                                          : "SHA256";
    unsigned char sig[1024];
    size_t n = sizeof sig;
    EVP_MD_CTX *ctx;
    EVP_PKEY *k = tissuer_find(ti, kid)->pkey;
    char *out;

    if (alg[0] == 'H' && alg[1] == 'S') {
        char *pem = tissuer_public_pem(ti, kid);
        unsigned len = 0;
        HMAC(EVP_get_digestbyname(md), pem, (int)strlen(pem),
             (const unsigned char *)input, strlen(input), sig, &len);
        free(pem);
        return tissuer_b64url(sig, len);
    }
    if (alg[0] != 'R' && alg[0] != 'E')
        return strdup("");
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k, NULL) != 1 ||
        EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input,
                       strlen(input)) != 1)
        tissuer_die("signing failed");
    EVP_MD_CTX_free(ctx);
    /* A forged pairing (ES256 with an RSA key) keeps the raw signature. */
    if (alg[0] == 'E' && EVP_PKEY_is_a(k, "EC"))
        out = tissuer_ecdsa_jose(sig, n, strstr(alg, "384") ? 48 : 32);
    else
        out = tissuer_b64url(sig, n);
    return out;
}

/* The "alg" member's value in header text (tests pass simple JSON). */
static void
tissuer_header_alg(const char *header, char *alg, size_t n)
{
    const char *p = strstr(header, "\"alg\"");

    alg[0] = '\0';
    if (p == NULL || (p = strchr(p + 5, '"')) == NULL)
        return;
    snprintf(alg, n, "%.*s", (int)strcspn(p + 1, "\""), p + 1);
}

char *
tissuer_sign(struct tissuer *ti, const char *kid, const char *header,
             const char *claims)
{
    char *h = tissuer_b64url((const unsigned char *)header, strlen(header));
    char *c = tissuer_b64url((const unsigned char *)claims, strlen(claims));
    char *input = tissuer_printf("%s.%s", h, c), *sig, *out, alg[16];

    tissuer_header_alg(header, alg, sizeof alg);
    sig = tissuer_sig(ti, kid, alg, input);
    out = tissuer_printf("%s.%s", input, sig);
    free(h);
    free(c);
    free(input);
    free(sig);
    return out;
}

char *
tissuer_token(struct tissuer *ti, const char *kid, const char *claims)
{
    const char *alg;
    char *header, *out;

    pthread_mutex_lock(&ti->lock);
    switch (tissuer_find(ti, kid)->kty) {
    case TISSUER_RSA2048:
        alg = "RS256";
        break;
    case TISSUER_EC_P256:
        alg = "ES256";
        break;
    default:
        alg = "ES384";
    }
    pthread_mutex_unlock(&ti->lock);
    header = tissuer_printf("{\"typ\":\"JWT\",\"alg\":\"%s\",\"kid\":\"%s\"}",
                            alg, kid);
    out = tissuer_sign(ti, kid, header, claims);
    free(header);
    return out;
}

char *
tissuer_github_claims(struct tissuer *ti, const char *aud_json, long exp_in,
                      const char *extra)
{
    long now = (long)time(NULL);

    return tissuer_printf(
        "{\"jti\":\"6f6a1e0c-7d1b-4a43-9a3e-4b8f0c1d2e3f\","
        "\"sub\":\"repo:octo-org/octo-repo:ref:refs/heads/main\","
        "\"aud\":%s,\"ref\":\"refs/heads/main\","
        "\"sha\":\"d6b8c1e0a5f4b3c2d1e0f9a8b7c6d5e4f3a2b1c0\","
        "\"repository\":\"octo-org/octo-repo\","
        "\"repository_owner\":\"octo-org\","
        "\"repository_owner_id\":\"65432\",\"repository_id\":\"123456\","
        "\"run_id\":\"8123456789\",\"run_number\":\"42\","
        "\"run_attempt\":\"1\",\"actor\":\"octocat\",\"actor_id\":\"583231\","
        "\"workflow\":\"ci\",\"event_name\":\"push\",\"ref_type\":\"branch\","
        "\"job_workflow_ref\":\"octo-org/octo-repo/.github/workflows/"
        "ci.yml@refs/heads/main\",\"runner_environment\":\"github-hosted\","
        "\"iss\":\"%s\",\"nbf\":%ld,\"exp\":%ld,\"iat\":%ld%s}",
        aud_json, ti->url, now - 5, now + exp_in, now - 5, extra ? extra : "");
}
