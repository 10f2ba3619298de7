/*
 * POST /sts: a Security Token Service for labgate's own credentials.
 *
 * The body is an AWS Query form (Action, Version and the action's
 * parameters), decoded into a small name/value table.  Errors are AWS
 * ErrorResponse documents with AWS's codes, so the CLI and SDKs show them
 * as they would show AWS's.
 *
 * AssumeRoleWithWebIdentity verifies the OIDC token with the JWT route's
 * verifier (audiences from iam.sts.audiences), evaluates the role's trust
 * policy with the token's claims as PROVIDER:claim keys, and stores a new
 * session (store_sts.c): an ASIA key id, a 40-character secret and a
 * random session token of which only the SHA-256 is kept.
 * GetCallerIdentity checks a SigV4 signature for service "sts" and names
 * the signer.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/iamauth.h"
#include "auth/iamconf.h"
#include "auth/jwt.h"
#include "auth/sigv4.h"
#include "log.h"
#include "metrics.h"
#include "sts.h"
#include "timefmt.h"

#define STS_PARAMS_MAX 16
#define STS_VALUE_MAX (JWT_TOKEN_MAX + 1024)
#define STS_DEFAULT_DURATION 3600
#define STS_MIN_DURATION 900

struct sts_form {
    char *name[STS_PARAMS_MAX];
    char *value[STS_PARAMS_MAX];
    int n;
};

static void
sts_form_free(struct sts_form *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->name[i]);
        if (f->value[i] != NULL)
            OPENSSL_cleanse(f->value[i], strlen(f->value[i]));
        free(f->value[i]);
    }
    f->n = 0;
}

static const char *
sts_param(const struct sts_form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

/* Append s with the five XML special characters escaped. */
static void
sts_xml_text(struct buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&apos;");
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static void
sts_xml_elem(struct buf *b, const char *name, const char *text)
{
    buf_printf(b, "<%s>", name);
    sts_xml_text(b, text);
    buf_printf(b, "</%s>", name);
}

/* An AWS ErrorResponse document. */
static void
sts_error(struct http_req *rq, struct http_resp *rs, int status,
          const char *code, const char *msg)
{
    char m[LOG_QUOTE_MAX];

    log_event(LOG_INFO, "sts", "error", "req=%s status=%d code=%s msg=%s",
              rq->id, status, code, log_quote(msg, m, sizeof m));
    buf_reset(&rs->body);
    buf_puts(&rs->body, "<ErrorResponse xmlns=\"" STS_NAMESPACE "\">"
                        "<Error><Type>");
    buf_puts(&rs->body, status >= 500 ? "Receiver" : "Sender");
    buf_puts(&rs->body, "</Type>");
    sts_xml_elem(&rs->body, "Code", code);
    sts_xml_elem(&rs->body, "Message", msg);
    buf_puts(&rs->body, "</Error>");
    sts_xml_elem(&rs->body, "RequestId", rq->id);
    buf_puts(&rs->body, "</ErrorResponse>\n");
    rs->status = status;
    rs->content_type = "text/xml";
}

/* "application/x-www-form-urlencoded", any case, optional parameters. */
static int
sts_is_form(const char *ctype)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;

    if (ctype == NULL || strncasecmp(ctype, form, n) != 0)
        return 0;
    return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ';
}

static int
sts_form_parse(const char *body, struct sts_form *f, char *bad, size_t bn)
{
    const char *cursor = body;
    char name[128];
    char *value = malloc(STS_VALUE_MAX);
    int rc = 0;

    if (value == NULL)
        return -1;
    while ((rc = http_query_next(&cursor, name, sizeof name, value,
                                 STS_VALUE_MAX)) == 1) {
        if (f->n == STS_PARAMS_MAX || sts_param(f, name) != NULL) {
            snprintf(bad, bn, "%s",
                     f->n == STS_PARAMS_MAX ? "too many parameters"
                                            : "a parameter is repeated");
            rc = -1;
            break;
        }
        f->name[f->n] = strdup(name);
        f->value[f->n] = strdup(value);
        f->n++;
    }
    if (rc < 0 && bad[0] == '\0')
        snprintf(bad, bn,
                 "the form is badly encoded or a value is longer "
                 "than the limit");
    OPENSSL_cleanse(value, STS_VALUE_MAX);
    free(value);
    return rc;
}

/* Random characters from alphabet (size a power of two, at most 64). */
static int
sts_random(char *out, size_t n, const char *alphabet)
{
    unsigned char r[64];
    size_t an = strlen(alphabet);

    if (n > sizeof r || RAND_bytes(r, (int)n) != 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % an];
    out[n] = '\0';
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

/* A session token: 48 random bytes in base64 (64 characters). */
static int
sts_token(char out[65])
{
    unsigned char r[48];

    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, r, sizeof r);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

/* RoleSessionName: 2 to 64 characters of [\w+=,.@-]. */
static int
sts_valid_session_name(const char *s)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                             "TUVWXYZ0123456789_+=,.@-";
    size_t n = strlen(s);

    return n >= 2 && n <= 64 && strspn(s, ok) == n;
}

/* Parameters of AssumeRoleWithWebIdentity, checked as AWS checks them. */
struct sts_assume {
    const char *role_arn, *session, *token;
    const struct iamconf_role *role;
    int64_t duration;
};

/* Refuse parameters STS does not implement rather than ignore them. */
static int
sts_known_params(struct http_req *rq, struct http_resp *rs,
                 const struct sts_form *f)
{
    static const char *const known[] = {
        "Action",           "Version",         "RoleArn", "RoleSessionName",
        "WebIdentityToken", "DurationSeconds", NULL};
    char msg[ERR_MSG_MAX];

    for (int i = 0; i < f->n; i++) {
        int ok = 0;
        for (int k = 0; known[k] != NULL; k++)
            ok |= strcmp(known[k], f->name[i]) == 0;
        if (ok)
            continue;
        snprintf(msg, sizeof msg,
                 "%.64s is not supported by labgate's STS (session "
                 "policies, ProviderId and tags are refused rather than "
                 "ignored)",
                 f->name[i]);
        sts_error(rq, rs, 400, "ValidationError", msg);
        return -1;
    }
    return 0;
}

/* DurationSeconds: absent (3600) or a whole number from 900 to 43200. */
static int
sts_duration(const char *dur, int64_t *out)
{
    char *end;

    *out = STS_DEFAULT_DURATION;
    if (dur == NULL)
        return 0;
    *out = strtoll(dur, &end, 10);
    return *dur >= '0' && *dur <= '9' && *end == '\0' &&
                   *out >= STS_MIN_DURATION && *out <= 43200
               ? 0
               : -1;
}

static int
sts_assume_params(struct http_req *rq, struct http_resp *rs,
                  const struct sts_form *f, struct sts_assume *a)
{
    static const char *const names[] = {"RoleArn", "RoleSessionName",
                                        "WebIdentityToken"};
    char msg[ERR_MSG_MAX];

    if (sts_known_params(rq, rs, f) != 0)
        return -1;
    a->role_arn = sts_param(f, "RoleArn");
    a->session = sts_param(f, "RoleSessionName");
    a->token = sts_param(f, "WebIdentityToken");
    for (int i = 0; i < 3; i++) {
        if (sts_param(f, names[i]) != NULL)
            continue;
        snprintf(msg, sizeof msg, "The request must contain the parameter %s",
                 names[i]);
        sts_error(rq, rs, 400, "MissingParameter", msg);
        return -1;
    }
    if (!sts_valid_session_name(a->session)) {
        sts_error(rq, rs, 400, "ValidationError",
                  "1 validation error detected: Value at 'roleSessionName' "
                  "failed to satisfy constraint: Member must have length "
                  "between 2 and 64 and satisfy regular expression pattern: "
                  "[\\w+=,.@-]*");
        return -1;
    }
    if (strlen(a->token) < 4 || strlen(a->token) > JWT_TOKEN_MAX) {
        snprintf(msg, sizeof msg,
                 "1 validation error detected: Value at 'webIdentityToken' "
                 "failed to satisfy constraint: Member must have length "
                 "between 4 and %d",
                 JWT_TOKEN_MAX);
        sts_error(rq, rs, 400, "ValidationError", msg);
        return -1;
    }
    if (sts_duration(sts_param(f, "DurationSeconds"), &a->duration) != 0) {
        sts_error(rq, rs, 400, "ValidationError",
                  "1 validation error detected: Value at 'durationSeconds' "
                  "failed to satisfy constraint: Member must have value "
                  "between 900 and 43200");
        return -1;
    }
    return 0;
}

/* The audience of the token that STS accepts (aud may be an array). */
static const char *
sts_audience(const struct server *srv, json_t *claims)
{
    json_t *aud = json_object_get(claims, "aud"), *e;
    const char *const *want = (const char *const *)iamauth_conf(srv)->audiences;
    size_t i;

    for (int w = 0; want[w] != NULL; w++) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), want[w]) == 0)
            return want[w];
        json_array_foreach(aud, i, e) if (json_is_string(e) &&
                                          strcmp(json_string_value(e),
                                                 want[w]) == 0) return want[w];
    }
    return NULL;
}

/* Evaluate the role's trust policy for the verified token v. */
static enum iam_decision
sts_trust(struct http_req *rq, const struct sts_assume *a,
          const struct jwt_verified *v, const char *provider)
{
    struct iamauth_ctx ctx;
    struct iam_request ir;
    char arn[320];
    enum iam_decision d;

    snprintf(arn, sizeof arn, "arn:aws:iam::%s:oidc-provider/%s",
             iamauth_conf(rq->srv)->account, provider);
    memset(&ctx, 0, sizeof ctx);
    iamauth_ctx_claims(&ctx, provider, v->claims);
    iamauth_ctx_add(&ctx, "aws:FederatedProvider", arn, 1);
    iamauth_ctx_add(&ctx, "aws:SourceIp", rq->client, 0);
    iamauth_ctx_add(&ctx, "aws:UserAgent", http_header(rq, "User-Agent"), 0);
    iamauth_ctx_add(&ctx, "aws:RequestedRegion", iamauth_conf(rq->srv)->region,
                    0);
    iamauth_ctx_add(&ctx, "aws:SecureTransport", "false", 0);
    ir.action = "sts:AssumeRoleWithWebIdentity";
    ir.resource = NULL;
    ir.federated = arn;
    ir.keys = ctx.keys;
    ir.nkeys = ctx.n;
    d = iam_policy_evaluate(a->role->trust, &ir);
    iamauth_ctx_free(&ctx);
    return d;
}

/* Credentials and the session row for a trusted token. */
struct sts_issue {
    char akid[21];
    char secret[41];
    char token[65];
    char arn[512];
    char role_id[128];
    char expiration[TIMEFMT_ISO_MAX];
    struct store_sts_session ss;
};

static int
sts_issue_make(struct http_req *rq, const struct sts_assume *a,
               const struct jwt_verified *v, struct sts_issue *is)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                              "uvwxyz0123456789+/";
    int64_t now = timefmt_now_ms();
    char hash[65];
    struct store_sts_session *ss = &is->ss;

    memcpy(is->akid, "ASIA", 4);
    if (sts_random(is->akid + 4, 16, b32) != 0 ||
        sts_random(is->secret, 40, b64) != 0 || sts_token(is->token) != 0)
        return -1;
    sigv4_sha256_hex(is->token, strlen(is->token), hash);
    snprintf(is->arn, sizeof is->arn, "arn:aws:sts::%s:assumed-role/%s/%s",
             iamauth_conf(rq->srv)->account, a->role->name, a->session);
    snprintf(is->role_id, sizeof is->role_id, "%s:%s", a->role->id, a->session);
    memset(ss, 0, sizeof *ss);
    ss->access_key_id = is->akid;
    ss->secret_access_key = is->secret;
    ss->token_sha256 = strdup(hash);
    ss->role_arn = a->role->arn;
    ss->session_name = (char *)a->session;
    ss->assumed_role_arn = is->arn;
    ss->assumed_role_id = is->role_id;
    ss->account = (char *)iamauth_conf(rq->srv)->account;
    ss->issuer = (char *)jwt_issuer_url(v->issuer);
    ss->subject = (char *)json_string_value(json_object_get(v->claims, "sub"));
    ss->repository = (char *)v->repository;
    ss->owner = (char *)v->owner;
    ss->audience = (char *)sts_audience(rq->srv, v->claims);
    ss->claims = json_dumps(v->claims, JSON_COMPACT | JSON_SORT_KEYS);
    ss->issued_ms = now;
    ss->expires_ms = now + a->duration * 1000;
    /* AWS writes the expiration without fractions of a second. */
    timefmt_iso8601(ss->expires_ms / 1000 * 1000, is->expiration,
                    sizeof is->expiration);
    memmove(is->expiration + 19, is->expiration + 23,
            strlen(is->expiration + 23) + 1);
    return ss->token_sha256 && ss->claims ? 0 : -1;
}

static void
sts_issue_free(struct sts_issue *is)
{
    free(is->ss.token_sha256);
    free(is->ss.claims);
    OPENSSL_cleanse(is, sizeof *is);
}

static void
sts_assume_answer(struct http_req *rq, struct http_resp *rs,
                  const struct sts_issue *is)
{
    struct buf *b = &rs->body;

    buf_reset(b);
    buf_puts(b, "<AssumeRoleWithWebIdentityResponse xmlns=\"" STS_NAMESPACE
                "\"><AssumeRoleWithWebIdentityResult>");
    sts_xml_elem(b, "SubjectFromWebIdentityToken", is->ss.subject);
    sts_xml_elem(b, "Audience", is->ss.audience);
    buf_puts(b, "<AssumedRoleUser>");
    sts_xml_elem(b, "Arn", is->arn);
    sts_xml_elem(b, "AssumedRoleId", is->role_id);
    buf_puts(b, "</AssumedRoleUser><Credentials>");
    sts_xml_elem(b, "SessionToken", is->token);
    sts_xml_elem(b, "SecretAccessKey", is->secret);
    sts_xml_elem(b, "Expiration", is->expiration);
    sts_xml_elem(b, "AccessKeyId", is->akid);
    buf_puts(b, "</Credentials>");
    sts_xml_elem(b, "Provider", is->ss.issuer);
    buf_puts(b, "</AssumeRoleWithWebIdentityResult><ResponseMetadata>");
    sts_xml_elem(b, "RequestId", rq->id);
    buf_puts(b, "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>\n");
    rs->status = 200;
    rs->content_type = "text/xml";
}

/* Verify the token; on failure answer as AWS does and return -1. */
static int
sts_verify_token(struct http_req *rq, struct http_resp *rs,
                 const struct sts_assume *a, struct jwt_verified *v)
{
    struct jwt_trust *trust = iamauth_jwt_trust(rq->srv);
    struct jwt_expect ex = {
        (const char *const *)iamauth_conf(rq->srv)->audiences, NULL, 0};
    struct err e = {0, ""};
    int rc;

    memset(v, 0, sizeof *v);
    if (trust == NULL) {
        sts_error(rq, rs, 501, "NotImplemented",
                  "AssumeRoleWithWebIdentity is not implemented in this "
                  "build: it needs the JWT verifier of the JWT route");
        return -1;
    }
    rc = jwt_verify(trust, a->token, &ex, v, &e);
    if (rc == 0)
        return 0;
    metrics_auth_failure(rq->srv, "sts_invalid_identity_token");
    if (rc == ERR_AUTH || rc == ERR_DENIED || rc == ERR_INVALID)
        sts_error(rq, rs, 400,
                  strstr(e.msg, "expired") ? "ExpiredTokenException"
                                           : "InvalidIdentityToken",
                  e.msg);
    else
        sts_error(rq, rs, 503, "IDPCommunicationError", e.msg);
    return -1;
}

static void
sts_assume(struct http_req *rq, struct http_resp *rs, const struct sts_form *f)
{
    struct sts_assume a;
    struct jwt_verified v;
    struct sts_issue is;
    struct err e = {0, ""};
    char provider[256], who[LOG_QUOTE_MAX];
    int rc;

    memset(&a, 0, sizeof a);
    if (sts_assume_params(rq, rs, f, &a) != 0)
        return;
    a.role = iamconf_find_role(iamauth_conf(rq->srv), a.role_arn);
    if (a.role == NULL) {
        sts_error(rq, rs, 403, "AccessDenied",
                  "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        return;
    }
    if (a.duration > a.role->max_session) {
        sts_error(rq, rs, 400, "ValidationError",
                  "The requested DurationSeconds exceeds the "
                  "MaxSessionDuration set for this role.");
        return;
    }
    if (sts_verify_token(rq, rs, &a, &v) != 0)
        return;
    iamauth_provider(jwt_issuer_url(v.issuer), provider, sizeof provider);
    if (sts_trust(rq, &a, &v, provider) != IAM_ALLOW) {
        metrics_auth_failure(rq->srv, "sts_trust_denied");
        log_event(LOG_INFO, "sts", "trust_denied", "req=%s role=%s sub=%s",
                  rq->id, a.role_arn,
                  log_quote(json_string_value(json_object_get(v.claims, "sub")),
                            who, sizeof who));
        sts_error(rq, rs, 403, "AccessDenied",
                  "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        jwt_verified_free(&v);
        return;
    }
    memset(&is, 0, sizeof is);
    if (sts_issue_make(rq, &a, &v, &is) != 0) {
        sts_error(rq, rs, 500, "InternalFailure", "out of memory or entropy");
        goto out;
    }
    rc = store_sts_insert(rq->srv->store, &is.ss, is.ss.issued_ms, &e);
    if (rc != 0) {
        sts_error(rq, rs, 503, "ServiceUnavailable", e.msg);
        goto out;
    }
    metrics_sts_issued(rq->srv);
    log_event(LOG_INFO, "sts", "issued",
              "req=%s key=%s arn=%s expires=%s sub=%s", rq->id, is.akid,
              log_quote(is.arn, who, sizeof who), is.expiration,
              log_quote(is.ss.subject, provider, sizeof provider));
    sts_assume_answer(rq, rs, &is);
out:
    sts_issue_free(&is);
    jwt_verified_free(&v);
}

static void
sts_caller_identity(struct http_req *rq, struct http_resp *rs,
                    const struct sts_form *f)
{
    static const struct {
        int status;
        const char *code;
    } fails[] = {
        [IAMAUTH_MISSING] = {403, "MissingAuthenticationToken"},
        [IAMAUTH_INCOMPLETE] = {400, "IncompleteSignature"},
        [IAMAUTH_SIGNATURE] = {403, "SignatureDoesNotMatch"},
        [IAMAUTH_TOKEN_INVALID] = {403, "InvalidClientTokenId"},
        [IAMAUTH_TOKEN_EXPIRED] = {400, "ExpiredToken"},
        [IAMAUTH_INTERNAL] = {503, "ServiceUnavailable"},
    };
    struct iamauth_caller c;
    enum iamauth_fail why;
    struct err e = {0, ""};
    struct buf *b = &rs->body;

    if (f->n > 2) {
        sts_error(rq, rs, 400, "ValidationError",
                  "GetCallerIdentity takes no parameters");
        return;
    }
    if (iamauth_authenticate(rq, "sts", &c, &why, &e) != 0) {
        sts_error(rq, rs, fails[why].status, fails[why].code,
                  why == IAMAUTH_MISSING
                      ? "Request is missing Authentication Token"
                      : e.msg);
        return;
    }
    buf_reset(b);
    buf_puts(b, "<GetCallerIdentityResponse xmlns=\"" STS_NAMESPACE
                "\"><GetCallerIdentityResult>");
    sts_xml_elem(b, "Arn", c.caller_arn);
    sts_xml_elem(b, "UserId", c.user_id);
    sts_xml_elem(b, "Account", iamauth_conf(rq->srv)->account);
    buf_puts(b, "</GetCallerIdentityResult><ResponseMetadata>");
    sts_xml_elem(b, "RequestId", rq->id);
    buf_puts(b, "</ResponseMetadata></GetCallerIdentityResponse>\n");
    rs->status = 200;
    rs->content_type = "text/xml";
    iamauth_caller_free(&c);
}

void
sts_handle(struct http_req *rq, struct http_resp *rs)
{
    struct sts_form f;
    const char *action, *version;
    char bad[128] = "", msg[ERR_MSG_MAX];

    memset(&f, 0, sizeof f);
    if (!sts_is_form(http_header(rq, "Content-Type"))) {
        sts_error(rq, rs, 415, "UnsupportedMediaType",
                  "Content-Type must be application/x-www-form-urlencoded");
        return;
    }
    if (sts_form_parse(rq->body ? rq->body : "", &f, bad, sizeof bad) != 0) {
        snprintf(msg, sizeof msg, "The request body is not a valid form: %s",
                 bad);
        sts_error(rq, rs, 400, "MalformedQueryString", msg);
        goto out;
    }
    action = sts_param(&f, "Action");
    version = sts_param(&f, "Version");
    if (action == NULL) {
        sts_error(rq, rs, 400, "MissingAction",
                  "The request must contain the parameter Action");
    } else if (version == NULL || strcmp(version, STS_VERSION) != 0) {
        sts_error(rq, rs, 400, "InvalidParameterValue",
                  "Version must be " STS_VERSION);
    } else if (strcmp(action, "AssumeRoleWithWebIdentity") == 0) {
        sts_assume(rq, rs, &f);
    } else if (strcmp(action, "GetCallerIdentity") == 0) {
        sts_caller_identity(rq, rs, &f);
    } else {
        snprintf(msg, sizeof msg,
                 "Could not find operation %.64s for version " STS_VERSION,
                 action);
        sts_error(rq, rs, 400, "InvalidAction", msg);
    }
out:
    sts_form_free(&f);
}
