/*
 * The route table: every path the server answers, with its method, the
 * authentication it needs, whether it takes a JSON body, and its handler.
 * route_dispatch checks path (404), method (405), content type (415), body
 * size (413) and authentication (401/403) before any handler runs, so
 * handlers only see requests they can act on.
 */
#ifndef LABGATE_ROUTE_H
#define LABGATE_ROUTE_H

#include "http.h"

enum route_auth {
    ROUTE_AUTH_NONE, /* anyone; identity is the source address */
    ROUTE_AUTH_JWT,  /* OIDC bearer token */
    ROUTE_AUTH_IAM,  /* AWS SigV4 */
    ROUTE_AUTH_READ  /* read access: open on loopback */
};

enum route_flags {
    ROUTE_JSON_BODY = 1 << 0, /* requires a JSON body */
    ROUTE_FORM_BODY = 1 << 1, /* reads a form-encoded body */
    ROUTE_PREFIX = 1 << 2     /* path is a prefix ending in '/' */
};

/* Every handler has this shape: fill rs from rq. */
typedef void (*route_handler)(struct http_req *rq, struct http_resp *rs);

struct route {
    const char *method;
    const char *path;
    enum route_auth auth;
    unsigned flags;
    route_handler handler;
};

/* The table, terminated by an entry with a NULL method. */
extern const struct route route_table[];

/* Answer rq into rs (never fails: errors become error responses). */
void route_dispatch(struct http_req *rq, struct http_resp *rs);

#endif
