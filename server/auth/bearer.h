/*
 * The JWT route's authenticator: checks an OIDC bearer token and fills the
 * request's identity from its claims.  Configured from the "jwt" section.
 */
#ifndef LABGATE_BEARER_H
#define LABGATE_BEARER_H

#include "http.h"

struct jwt_trust;

/* Validate the "jwt" section and load trust. Returns 0 or ERR_INVALID. */
int bearer_configure(struct server *srv, struct err *err);

/*
 * Authenticate rq.  Returns 0 with rq->auth and rq->ident filled, or -1
 * with the refusal written into rs.
 */
int bearer_check(struct http_req *rq, struct http_resp *rs);

/*
 * Give the JWT trust the opened store (NULL before closing it): key sets
 * are then loaded from and persisted to the database.
 */
void bearer_attach_store(struct server *srv, struct store *store);

/*
 * The trust bearer_configure built, for other verifiers of the same
 * issuers (the STS), or NULL before configuration.  Owned by srv.
 */
struct jwt_trust *bearer_trust(const struct server *srv);

/* Release what bearer_configure loaded. */
void bearer_shutdown(struct server *srv);

#endif
