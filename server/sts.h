/*
 * The built-in Security Token Service at POST /sts: the form-encoded AWS
 * Query API (Version=2011-06-15) that the AWS CLI and SDKs speak when
 * given --endpoint-url.  AssumeRoleWithWebIdentity trades an OIDC token
 * for temporary credentials of a configured role; GetCallerIdentity says
 * who signed the request.  Answers and errors are AWS's XML documents.
 */
#ifndef LABGATE_STS_H
#define LABGATE_STS_H

#include "http.h"

#define STS_VERSION "2011-06-15"
#define STS_NAMESPACE "https://sts.amazonaws.com/doc/2011-06-15/"

/* The route handler (authentication happens inside, per action). */
void sts_handle(struct http_req *rq, struct http_resp *rs);

#endif
