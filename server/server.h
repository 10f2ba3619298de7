/*
 * The running server's shared state: configuration, store and the
 * CivetWeb context.  One instance lives for the life of the process and
 * every request handler reaches it through its struct http_req.
 */
#ifndef LABGATE_SERVER_H
#define LABGATE_SERVER_H

#include <stdint.h>

#include "config.h"
#include "result.h"
#include "store.h"

struct mg_context;
struct bearer;
struct iamauth;
struct readauth;
struct audit;
struct metrics;
struct ratelimit;

struct server {
    const struct config *cfg;
    struct store *store;
    struct mg_context *mg;
    struct result_limits result_limits;
    int port;             /* the port actually listened on */
    int loopback;         /* listening on a loopback address only */
    int64_t started_ms;
    int watchers;         /* long-polls waiting now (atomic access) */
    /* Owned by the modules that configure them; NULL until then. */
    struct bearer *bearer;     /* auth/bearer.c: JWT trust */
    struct iamauth *iamauth;   /* auth/iamauth.c: SigV4 keys and roles */
    struct readauth *readauth; /* auth/readauth.c: read credentials */
    struct audit *audit;       /* audit chain key */
    struct metrics *metrics;   /* counters for /metrics */
    struct ratelimit *ratelimit; /* ratelimit.c: per-identity post limits */
};

#endif
