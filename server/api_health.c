/*
 * Health: 200 when the store answers a query, 503 with the reason when it
 * does not.
 */
#include "api.h"

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
