/*
 * The JWT route's authenticator: checks an OIDC bearer token and fills the
 * request's identity from its claims.  Configured from the "jwt" section.
 */
#ifndef LABGATE_BEARER_H
#define LABGATE_BEARER_H

#include "http.h"

/* Validate the "jwt" section and load trust. Returns 0 or ERR_INVALID. */
int bearer_configure(struct server *srv, struct err *err);

/*
 * Authenticate rq.  Returns 0 with rq->auth and rq->ident filled, or -1
 * with the refusal written into rs.
 */
int bearer_check(struct http_req *rq, struct http_resp *rs);

/* Release what bearer_configure loaded. */
void bearer_shutdown(struct server *srv);

#endif
