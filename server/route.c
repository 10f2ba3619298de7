/*
 * Routing.  Matching is exact on the raw path, or a prefix for entries
 * flagged ROUTE_PREFIX (the rest of the path is the handler's argument).
 * Checks run in a fixed order, so a request with several problems always
 * gets the same answer: path, method, content type, size, authentication,
 * rate limit (which needs the authenticated principal).
 */
#include <civetweb.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "ratelimit.h"
#include "route.h"
#include "sts.h"

const struct route route_table[] = {
    {"POST", "/lab/results", ROUTE_AUTH_NONE, ROUTE_JSON_BODY,
     api_results_post},
    {"POST", "/lab/results-secure", ROUTE_AUTH_JWT, ROUTE_JSON_BODY,
     api_results_post},
    {"POST", "/lab/results-ci", ROUTE_AUTH_IAM, ROUTE_JSON_BODY,
     api_results_post},
    {"GET", "/lab/results", ROUTE_AUTH_READ, 0, api_results_list},
    {"GET", "/lab/results/", ROUTE_AUTH_READ, ROUTE_PREFIX, api_results_get},
    {"GET", "/lab/summary", ROUTE_AUTH_READ, 0, api_summary},
    {"GET", "/healthz", ROUTE_AUTH_NONE, 0, api_health},
    {"GET", "/readyz", ROUTE_AUTH_NONE, 0, api_ready},
    {"GET", "/metrics", ROUTE_AUTH_NONE, 0, api_metrics},
    {"POST", "/sts", ROUTE_AUTH_NONE, ROUTE_FORM_BODY, sts_handle},
    {NULL, NULL, 0, 0, NULL},
};

static int
route_path_matches(const struct route *r, const char *path)
{
    if (r->flags & ROUTE_PREFIX)
        return strncmp(path, r->path, strlen(r->path)) == 0 &&
               path[strlen(r->path)] != '\0';
    return strcmp(path, r->path) == 0;
}

static int
route_method_matches(const struct route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* "application/json", any case, optionally followed by parameters. */
static int
route_is_json(const char *ctype)
{
    static const char json[] = "application/json";
    size_t n = sizeof json - 1;

    if (ctype == NULL)
        return 0;
    while (*ctype == ' ')
        ctype++;
    if (strncasecmp(ctype, json, n) != 0)
        return 0;
    ctype += n;
    while (*ctype == ' ')
        ctype++;
    return *ctype == '\0' || *ctype == ';';
}

static void
route_method_not_allowed(const char *path, struct http_resp *rs)
{
    char allow[64] = "";

    for (const struct route *r = route_table; r->method; r++) {
        if (!route_path_matches(r, path) || strstr(allow, r->method))
            continue;
        if (allow[0] != '\0')
            strcat(allow, ", ");
        strcat(allow, r->method);
    }
    http_header_add(rs, "Allow", "%s", allow);
    http_error(rs, 405, "method not allowed; use %s", allow);
}

static int
route_read_body(struct http_req *rq, struct http_resp *rs)
{
    const struct route *r = rq->route;
    size_t max = rq->srv->cfg->limits.max_body_bytes;
    int rc;

    if ((r->flags & ROUTE_JSON_BODY) &&
        !route_is_json(http_header(rq, "Content-Type"))) {
        http_error(rs, 415, "content-type: expected application/json");
        return -1;
    }
    rc = http_read_body(rq, max);
    if (rc == ERR_TOOBIG) {
        http_error(rs, 413, "body: larger than the limit of %zu bytes", max);
        return -1;
    }
    if (rc != 0) {
        http_error(rs, 400, "body: incomplete or unreadable");
        return -1;
    }
    return 0;
}

void
route_dispatch(struct http_req *rq, struct http_resp *rs)
{
    int path_known = 0;

    for (const struct route *r = route_table; r->method; r++) {
        if (!route_path_matches(r, rq->path))
            continue;
        path_known = 1;
        if (route_method_matches(r, rq->method)) {
            rq->route = r;
            break;
        }
    }
    if (rq->route == NULL) {
        if (path_known)
            route_method_not_allowed(rq->path, rs);
        else
            http_error(rs, 404, "Not Found: no route for this path");
        return;
    }
    if ((rq->route->flags & (ROUTE_JSON_BODY | ROUTE_FORM_BODY)) &&
        route_read_body(rq, rs) != 0)
        return;
    if (auth_check(rq->route->auth, rq, rs) != 0 ||
        ratelimit_check(rq, rs) != 0)
        return;
    rq->route->handler(rq, rs);
}
