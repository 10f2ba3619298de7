/*
 * Authentication dispatch.  Every route records where a request came from
 * (client address, user agent, request id); the JWT and IAM routes add the
 * identity their verifier proves.  Reads are open on a loopback listener.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
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

static int
auth_read(struct http_req *rq, struct http_resp *rs)
{
    if (rq->srv->loopback)
        return 0;
    http_error(rs, 501,
               "read access on a non-loopback listener needs a read "
               "credential, which is not implemented yet");
    return -1;
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
        return auth_read(rq, rs);
    case ROUTE_AUTH_JWT:
        http_error(rs, 501, "JWT authorization is not implemented yet");
        return -1;
    case ROUTE_AUTH_IAM:
        http_error(rs, 501, "IAM (SigV4) authorization is not implemented "
                            "yet");
        return -1;
    }
    http_error(rs, 500, "unknown authorization kind");
    return -1;
}

static int
auth_section_empty(json_t *section, const char *name, struct err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(section, key, v) {
        return err_set(err, ERR_INVALID,
                       "%s.%.64s: unknown key (this build does not "
                       "implement %s settings yet)",
                       name, key, name);
    }
    return 0;
}

int
auth_configure(struct server *srv, struct err *err)
{
    if (auth_section_empty(srv->cfg->jwt, "jwt", err) != 0 ||
        auth_section_empty(srv->cfg->iam, "iam", err) != 0)
        return ERR_INVALID;
    return 0;
}

void
auth_shutdown(struct server *srv)
{
    (void)srv;
}
