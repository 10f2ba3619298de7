/*
 * Health and readiness.  /healthz says the process is alive: 200 when the
 * store answers a query.  /readyz says it can do its job: 200 only when
 * the store can take a write now and every authenticator has its keys,
 * 503 naming the first check that failed otherwise.  A load balancer
 * should route on /readyz, a supervisor restart on /healthz.
 */
#include "api.h"
#include "auth.h"

/* How long /readyz waits for the write lock before calling it busy. */
#define API_READY_WAIT_MS 1000

void
api_health(struct http_req *rq, struct http_resp *rs)
{
    struct err e = {0, ""};
    json_t *o;

    if (store_ping(rq->srv->store, &e) != 0) {
        http_error(rs, 503, "store unavailable: %s", e.msg);
        return;
    }
    o = json_object();
    json_object_set_new(o, "status", json_string("ok"));
    http_json(rs, 200, o);
}

void
api_ready(struct http_req *rq, struct http_resp *rs)
{
    struct err e = {0, ""};
    json_t *o, *checks;

    if (store_check_writable(rq->srv->store, API_READY_WAIT_MS, &e) != 0) {
        http_error(rs, 503, "not ready: store: %s", e.msg);
        return;
    }
    if (auth_ready(rq->srv, &e) != 0) {
        http_error(rs, 503, "not ready: keys: %s", e.msg);
        return;
    }
    o = json_object();
    checks = json_object();
    json_object_set_new(checks, "store", json_string("writable"));
    json_object_set_new(checks, "keys", json_string("loaded"));
    json_object_set_new(o, "status", json_string("ready"));
    json_object_set_new(o, "checks", checks);
    http_json(rs, 200, o);
}
