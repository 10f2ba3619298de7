/*
 * IAM authorization for POST /lab/results-ci, as API Gateway's AWS_IAM
 * authorizer does it, but with credentials labgate knows itself.
 *
 * struct iamauth holds the parsed "iam" section (auth/iamconf.c: static
 * keys, roles, policies, resource naming) and the signing-key cache.
 * Temporary credentials live in the store (store_sts.c) and are looked
 * up by their ASIA key id on every request.
 *
 * A request passes, in order: SigV4 parsing, credential scope and clock,
 * credential lookup and session token, signature, then the permissions
 * policy for execute-api:Invoke.  Each refusal is a 403 with API
 * Gateway's JSON message; the log gets the reason and the key id, never
 * a secret, token or signature.
 */
#include <civetweb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/bearer.h"
#include "auth/iamauth.h"
#include "auth/iamconf.h"
#include "auth/jwt.h"
#include "auth/sigv4.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "timefmt.h"

struct iamauth {
    struct iamconf conf;
    struct sigv4_cache cache;
};

int
iamauth_configure(struct server *srv, struct err *err)
{
    struct iamauth *ia = calloc(1, sizeof *ia);

    if (ia == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    sigv4_cache_init(&ia->cache);
    srv->iamauth = ia;
    if (iamconf_parse(&ia->conf, srv->cfg->iam, err) != 0) {
        int code = err->code;
        iamauth_shutdown(srv);
        return code;
    }
    if (ia->conf.nkeys == 0 && ia->conf.nroles == 0)
        log_event(LOG_WARN, "iamauth", "unconfigured",
                  "route=/lab/results-ci effect=\"every request gets 403\" "
                  "hint=\"add iam.static_keys or iam.roles to the "
                  "configuration file, see docs/iam.md\"");
    else
        log_event(LOG_INFO, "iamauth", "configured",
                  "keys=%zu roles=%zu region=%s account=%s", ia->conf.nkeys,
                  ia->conf.nroles, ia->conf.region, ia->conf.account);
    return 0;
}

void
iamauth_shutdown(struct server *srv)
{
    struct iamauth *ia = srv->iamauth;

    if (ia == NULL)
        return;
    iamconf_free(&ia->conf);
    sigv4_cache_destroy(&ia->cache);
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

static const struct iamconf_key *
iamauth_find_key(const struct iamauth *ia, const char *id)
{
    for (size_t i = 0; i < ia->conf.nkeys; i++)
        if (strcmp(ia->conf.keys[i].access_key_id, id) == 0)
            return &ia->conf.keys[i];
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
                                 err_set(err, ERR_AUTH, "%s", invalid));
    rc = store_sts_get(rq->srv->store, a->access_key_id, ss, err);
    if (rc == ERR_NOTFOUND)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, "%s", invalid));
    if (rc != 0)
        return iamauth_fail_with(why, IAMAUTH_INTERNAL, rc);
    sigv4_sha256_hex(a->security_token, strlen(a->security_token), hash);
    if (!sigv4_equal(hash, ss->token_sha256))
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, "%s", invalid));
    if (timefmt_now_ms() >= ss->expires_ms)
        return iamauth_fail_with(
            why, IAMAUTH_TOKEN_EXPIRED,
            err_set(err, ERR_AUTH,
                    "The security token included in the request is "
                    "expired"));
    out->temporary = 1;
    out->role = iamconf_find_role(&rq->srv->iamauth->conf, ss->role_arn);
    if (out->role == NULL)
        return iamauth_fail_with(why, IAMAUTH_TOKEN_INVALID,
                                 err_set(err, ERR_AUTH, "%s", invalid));
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
    const struct iamconf_key *k;

    k = iamauth_find_key(rq->srv->iamauth, a->access_key_id);
    if (k == NULL) {
        if (strncmp(a->access_key_id, "ASIA", 4) != 0 ||
            rq->srv->iamauth->conf.nroles == 0)
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

/* The /metrics reason word of each refusal. */
static const char *const iamauth_reasons[] = {
    [IAMAUTH_MISSING] = "sigv4_missing",
    [IAMAUTH_INCOMPLETE] = "sigv4_malformed",
    [IAMAUTH_SIGNATURE] = "sigv4_bad_signature",
    [IAMAUTH_TOKEN_INVALID] = "sigv4_invalid_token",
    [IAMAUTH_TOKEN_EXPIRED] = "sigv4_expired",
    [IAMAUTH_INTERNAL] = NULL,
};

int
iamauth_authenticate(struct http_req *rq, const char *service,
                     struct iamauth_caller *out, enum iamauth_fail *why,
                     struct err *err)
{
    struct iamauth *ia = rq->srv->iamauth;
    struct sigv4_header hs[SIGV4_HEADERS_MAX];
    struct sigv4_request sr;
    struct sigv4_auth a;
    struct sigv4_expect ex = {ia->conf.region, service, (int64_t)time(NULL),
                              ia->conf.max_skew, 1};
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
        if (iamauth_reasons[*why] != NULL)
            metrics_auth_failure(rq->srv, iamauth_reasons[*why]);
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
    iamauth_ctx_add(ctx, "aws:PrincipalAccount", ia->conf.account, 0);
    iamauth_ctx_add(ctx, "aws:PrincipalType",
                    c->temporary ? "AssumedRole" : "User", 0);
    iamauth_ctx_add(ctx, "aws:userid", c->user_id, 0);
    iamauth_ctx_add(ctx, "aws:SourceIp", rq->client, 0);
    iamauth_ctx_add(ctx, "aws:SecureTransport", "false", 0);
    iamauth_ctx_add(ctx, "aws:UserAgent", http_header(rq, "User-Agent"), 0);
    iamauth_ctx_add(ctx, "aws:RequestedRegion", ia->conf.region, 0);
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
                 ia->conf.account, provider);
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
        iamauth_dup(&id->account, rq->srv->iamauth->conf.account) ||
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
             ia->conf.region, ia->conf.account, ia->conf.api_id, ia->conf.stage,
             rq->method, rq->route->path);
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
        metrics_auth_failure(rq->srv, "iam_policy_denied");
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

const struct iamconf *
iamauth_conf(const struct server *srv)
{
    return &srv->iamauth->conf;
}

struct jwt_trust *
iamauth_jwt_trust(const struct server *srv)
{
    return bearer_trust(srv);
}
