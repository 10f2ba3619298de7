/*
 * Read access for the GET routes: open on a loopback listener, otherwise a
 * read credential is required.
 */
#ifndef LABGATE_READAUTH_H
#define LABGATE_READAUTH_H

#include "http.h"

/* Returns 0 to allow, or -1 with the refusal written into rs. */
int readauth_check(struct http_req *rq, struct http_resp *rs);

#endif
