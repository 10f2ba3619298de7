/*
 * GET /metrics: the counters of metrics.c in the Prometheus text format.
 * The body is built in memory like every other response; at a few
 * hundred lines it is small.
 */
#include "api.h"
#include "metrics.h"

void
api_metrics(struct http_req *rq, struct http_resp *rs)
{
    buf_reset(&rs->body);
    if (metrics_render(rq->srv, &rs->body) != 0) {
        http_error(rs, 500, "out of memory while rendering metrics");
        return;
    }
    rs->status = 200;
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
