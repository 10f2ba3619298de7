/*
 * The IAM route's authenticator: verifies an AWS SigV4 signature against
 * known credentials and evaluates IAM policies.  Configured from "iam".
 */
#ifndef LABGATE_IAMAUTH_H
#define LABGATE_IAMAUTH_H

#include "http.h"

/* Validate the "iam" section and load keys and roles. */
int iamauth_configure(struct server *srv, struct err *err);

/*
 * Authenticate rq.  Returns 0 with rq->auth and rq->ident filled, or -1
 * with the refusal written into rs.
 */
int iamauth_check(struct http_req *rq, struct http_resp *rs);

/* Release what iamauth_configure loaded. */
void iamauth_shutdown(struct server *srv);

#endif
