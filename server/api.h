/*
 * Request handlers, one file per resource: api_results.c for results,
 * api_health.c for health and readiness, api_metrics.c for metrics,
 * api_summary.c for the dashboard summary.  All share the route_handler
 * signature.
 */
#ifndef LABGATE_API_H
#define LABGATE_API_H

#include "http.h"

void api_results_post(struct http_req *rq, struct http_resp *rs);
void api_results_list(struct http_req *rq, struct http_resp *rs);
void api_results_get(struct http_req *rq, struct http_resp *rs);
void api_health(struct http_req *rq, struct http_resp *rs);
void api_ready(struct http_req *rq, struct http_resp *rs);
void api_metrics(struct http_req *rq, struct http_resp *rs);
void api_summary(struct http_req *rq, struct http_resp *rs);

#endif
