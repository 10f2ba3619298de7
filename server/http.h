/*
 * HTTP glue over CivetWeb.  Each request becomes a struct http_req; a
 * handler fills a struct http_resp, and http_send writes status line,
 * headers and body in a single write (CivetWeb's per-header calls would
 * send a packet per line and stall on Nagle's algorithm).
 *
 * Every request gets an id that is sent back as X-Request-Id and written
 * to the access log line that http.c emits once the response is out.
 */
#ifndef LABGATE_HTTP_H
#define LABGATE_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "result.h"
#include "server.h"

struct mg_connection;
struct mg_request_info;
struct route;

#define HTTP_REQID_MAX 24
#define HTTP_ADDR_MAX 48

struct http_req {
    struct server *srv;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    const char *method;
    const char *path;  /* as sent on the wire, not percent-decoded */
    const char *query; /* after '?', raw, or NULL */
    char id[HTTP_REQID_MAX];
    char peer[HTTP_ADDR_MAX];   /* the TCP peer */
    char client[HTTP_ADDR_MAX]; /* the client (differs behind a proxy) */
    char *body;                 /* NUL-terminated, or NULL */
    size_t body_len;
    int64_t start_ns;
    const struct route *route;
    /* Filled by the route's authenticator. */
    enum result_auth auth;
    struct result_identity ident;
};

struct http_resp {
    int status;
    struct buf headers; /* extra "Name: value\r\n" lines */
    struct buf body;
    const char *content_type;
};

/*
 * Start CivetWeb on srv->cfg's listen address with the configured limits.
 * Returns 0 and sets srv->mg and srv->port, or ERR_IO with the reason.
 */
int http_start(struct server *srv, struct err *err);

/* Stop accepting, wait for requests in flight, and free the context. */
void http_stop(struct server *srv);

/* The value of header name (case-insensitive), or NULL. */
const char *http_header(const struct http_req *rq, const char *name);

/*
 * Read the whole body into rq->body, at most max bytes.  Returns 0,
 * ERR_TOOBIG when it is larger, or ERR_IO when the client went away.
 */
int http_read_body(struct http_req *rq, size_t max);

/* Set status and a JSON body (obj is consumed; NULL means 500). */
void http_json(struct http_resp *rs, int status, json_t *obj);

/*
 * Finish an answer whose JSON was written into rs->body: status and
 * content type, or 500 when writing it ran out of memory (rc != 0).
 */
void http_json_written(struct http_resp *rs, int status, int rc);

/* Set status and the API Gateway-style body {"message": "..."}. */
void http_error(struct http_resp *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add a response header line; value is printf-style. */
void http_header_add(struct http_resp *rs, const char *name,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reason phrase for status, such as "Created". */
const char *http_reason(int status);

/*
 * Map a store or auth error code to its HTTP status: ERR_INVALID 400,
 * ERR_NOTFOUND 404, ERR_TOOBIG 413, ERR_BUSY and ERR_IO 503, ERR_AUTH
 * 401, ERR_DENIED 403, ERR_UNSUPPORTED 501, anything else 500.
 */
int http_status_for(int code);

/*
 * Decode the next name=value pair of a query string.  *cursor starts at
 * the query and advances; name and value are percent-decoded into the
 * given buffers.  Returns 1 for a pair, 0 at the end, -1 for a pair that
 * does not fit or is badly encoded.
 */
int http_query_next(const char **cursor, char *name, size_t nn, char *value,
                    size_t vn);

#endif
