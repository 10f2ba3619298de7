/*
 * Authentication dispatch.  Every route records where a request came from
 * (client address, user agent, request id); the JWT and IAM routes add the
 * identity their verifier proves (auth/bearer.c, auth/iamauth.c); reads
 * go through auth/readauth.c.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth/bearer.h"
#include "auth/iamauth.h"
#include "auth/readauth.h"
#include "log.h"

static int
auth_dup(char **slot, const char *v)
{
    if (v == NULL)
        return 0;
    *slot = strdup(v);
    return *slot ? 0 : -1;
}

static int
auth_common(struct http_req *rq, struct http_resp *rs)
{
    if (auth_dup(&rq->ident.source_addr, rq->client) != 0 ||
        auth_dup(&rq->ident.user_agent, http_header(rq, "User-Agent")) ||
        auth_dup(&rq->ident.request_id, rq->id) != 0) {
        http_error(rs, 500, "out of memory");
        return -1;
    }
    return 0;
}

int
auth_check(enum route_auth kind, struct http_req *rq, struct http_resp *rs)
{
    if (auth_common(rq, rs) != 0)
        return -1;
    switch (kind) {
    case ROUTE_AUTH_NONE:
        rq->auth = RESULT_AUTH_NONE;
        return 0;
    case ROUTE_AUTH_READ:
        return readauth_check(rq, rs);
    case ROUTE_AUTH_JWT:
        return bearer_check(rq, rs);
    case ROUTE_AUTH_IAM:
        return iamauth_check(rq, rs);
    }
    http_error(rs, 500, "unknown authorization kind");
    return -1;
}

int
auth_configure(struct server *srv, struct err *err)
{
    if (bearer_configure(srv, err) != 0 || iamauth_configure(srv, err) != 0 ||
        readauth_configure(srv, err) != 0)
        return ERR_INVALID;
    return 0;
}

int
auth_ready(struct server *srv, struct err *err)
{
    /*
     * JWT key sets are fetched lazily, when the first token of an issuer
     * arrives (and restored from the store after a restart), so readiness
     * cannot wait for them; a configured trust is enough.
     */
    if (srv->bearer == NULL)
        return err_set(err, ERR_BUSY, "JWT trust not configured");
    err_clear(err);
    return 0;
}

void
auth_attach_store(struct server *srv, struct store *store)
{
    bearer_attach_store(srv, store);
}

void
auth_shutdown(struct server *srv)
{
    readauth_shutdown(srv);
    iamauth_shutdown(srv);
    bearer_shutdown(srv);
}
