/*
 * Authenticators, one per route_auth kind.  Each either fills rq->auth and
 * rq->ident and returns 0, or writes the refusal (401/403/501 with the
 * route's own message shape) into rs and returns -1.
 */
#ifndef LABGATE_AUTH_H
#define LABGATE_AUTH_H

#include "http.h"
#include "route.h"

/* Run the authenticator for kind on rq. */
int auth_check(enum route_auth kind, struct http_req *rq,
               struct http_resp *rs);

/*
 * Validate the "jwt", "iam" and "read" configuration sections and load what the
 * authenticators need.  Returns 0, or ERR_INVALID naming the bad key.
 */
int auth_configure(struct server *srv, struct err *err);

/*
 * Hand the opened store to the authenticators that persist state (JWKS
 * key sets); call with NULL before closing the store.
 */
void auth_attach_store(struct server *srv, struct store *store);

/*
 * Whether every configured authenticator can verify requests now (JWT
 * key sets fetched, IAM keys loaded).  Returns 0, or ERR_BUSY naming
 * what is missing in err.  Authenticators that are not built yet have
 * nothing to load and count as ready.
 */
int auth_ready(struct server *srv, struct err *err);

/* Release what auth_configure loaded. */
void auth_shutdown(struct server *srv);

#endif
