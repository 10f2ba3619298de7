/*
 * The JWT route's authenticator.  It takes the token from
 * "Authorization: Bearer <token>" (scheme in any case), has auth/jwt.c
 * verify it against the trust built from the "jwt" section, with the
 * section's required_scopes and the issuers' bound claims, and records
 * the proven identity on the request.
 *
 * Refusals follow RFC 6750 and API Gateway's bodies: 401
 * {"message":"Unauthorized"} with WWW-Authenticate error="invalid_token",
 * 403 {"message":"Forbidden"} (error="insufficient_scope" when a scope is
 * missing).  The exact reason goes to the log, one key=value line; the
 * token itself is never logged or stored.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/bearer.h"
#include "auth/jwt.h"
#include "log.h"

struct bearer {
    struct jwt_trust *trust;
};

int
bearer_configure(struct server *srv, struct err *err)
{
    struct bearer *b = calloc(1, sizeof *b);

    if (b == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (jwt_trust_create(&b->trust, srv->cfg->jwt, srv->store, err) != 0) {
        free(b);
        return err->code;
    }
    srv->bearer = b;
    return 0;
}

void
bearer_attach_store(struct server *srv, struct store *store)
{
    if (srv->bearer != NULL)
        jwt_trust_attach_store(srv->bearer->trust, store);
}

struct jwt_trust *
bearer_trust(const struct server *srv)
{
    return srv->bearer ? srv->bearer->trust : NULL;
}

/*
 * The token of an "Authorization: Bearer" header, or NULL with *why set.
 * Surrounding spaces are dropped; the token is copied into out.
 */
static const char *
bearer_token(const char *h, char *out, size_t n, const char **why)
{
    size_t len;

    if (h == NULL) {
        *why = "no Authorization header";
        return NULL;
    }
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 ||
        (h[6] != ' ' && h[6] != '\t' && h[6] != '\0')) {
        *why = "Authorization scheme is not Bearer";
        return NULL;
    }
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len == 0) {
        *why = "empty bearer token";
        return NULL;
    }
    if (len >= n) {
        *why = "bearer token larger than 8192 bytes";
        return NULL;
    }
    memcpy(out, h, len);
    out[len] = '\0';
    return out;
}

/* A reason made safe for a quoted-string auth-param (RFC 6750 3). */
static void
bearer_describe(const char *reason, char *out, size_t n)
{
    size_t i;

    for (i = 0; reason[i] != '\0' && i + 1 < n; i++) {
        unsigned char c = (unsigned char)reason[i];
        out[i] =
            (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
    }
    out[i] = '\0';
}

static void
bearer_refuse(struct http_req *rq, struct http_resp *rs, int code, int scope,
              const char *reason)
{
    char desc[ERR_MSG_MAX], q[LOG_QUOTE_MAX], qc[LOG_QUOTE_MAX];
    int status = code == ERR_DENIED ? 403 : 401;

    bearer_describe(reason, desc, sizeof desc);
    log_event(LOG_WARN, "bearer", "refused",
              "request_id=%s client=%s status=%d reason=%s", rq->id,
              log_quote(rq->client, qc, sizeof qc), status,
              log_quote(reason, q, sizeof q));
    if (status == 401) {
        http_header_add(rs, "WWW-Authenticate",
                        "Bearer error=\"invalid_token\", "
                        "error_description=\"%s\"",
                        desc);
        http_error(rs, 401, "Unauthorized");
    } else {
        if (scope)
            http_header_add(rs, "WWW-Authenticate",
                            "Bearer error=\"insufficient_scope\", "
                            "error_description=\"%s\"",
                            desc);
        http_error(rs, 403, "Forbidden");
    }
}

int
bearer_check(struct http_req *rq, struct http_resp *rs)
{
    struct jwt_trust *t = bearer_trust(rq->srv);
    struct jwt_expect expect = {NULL, NULL, 1};
    struct jwt_verified v;
    struct err e = {0, ""};
    char token[JWT_TOKEN_MAX + 1], q1[LOG_QUOTE_MAX], q2[LOG_QUOTE_MAX];
    const char *why = NULL;
    int rc;

    if (t == NULL) {
        http_error(rs, 500, "JWT trust is not configured");
        return -1;
    }
    if (bearer_token(http_header(rq, "Authorization"), token, sizeof token,
                     &why) == NULL) {
        bearer_refuse(rq, rs, ERR_AUTH, 0, why);
        return -1;
    }
    expect.scopes = jwt_trust_required_scopes(t);
    rc = jwt_verify(t, token, &expect, &v, &e);
    if (rc != 0) {
        bearer_refuse(rq, rs, rc, v.insufficient_scope, e.msg);
        return -1;
    }
    rq->auth = RESULT_AUTH_JWT;
    rc = jwt_identity_fill(&v, &rq->ident);
    log_event(LOG_DEBUG, "bearer", "accepted", "request_id=%s iss=%s sub=%s",
              rq->id, log_quote(rq->ident.issuer, q1, sizeof q1),
              log_quote(rq->ident.subject, q2, sizeof q2));
    jwt_verified_free(&v);
    if (rc != 0) {
        http_error(rs, 500, "out of memory");
        return -1;
    }
    return 0;
}

void
bearer_shutdown(struct server *srv)
{
    if (srv->bearer == NULL)
        return;
    jwt_trust_free(srv->bearer->trust);
    free(srv->bearer);
    srv->bearer = NULL;
}
