/*
 * CivetWeb glue.  All requests enter through the begin_request callback,
 * so CivetWeb's own file serving never runs; the router decides every
 * answer.  A response is assembled in memory and written with one
 * mg_write, and tcp_nodelay is on, so a reply is one packet and keep-alive
 * clients never wait on delayed ACKs; only a body larger than
 * HTTP_COPY_MAX follows its head in a second write.
 */
#define _GNU_SOURCE /* strcasestr */

#include <civetweb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hex.h"
#include "cidr.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "timefmt.h"

/* Bodies up to this size are copied behind the head for a single write. */
#define HTTP_COPY_MAX (64 * 1024)

static atomic_uint_fast64_t http_seq;
static unsigned http_boot_id;

const char *
http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    }
    return "Unknown";
}

int
http_status_for(int code)
{
    switch (code) {
    case ERR_INVALID:
        return 400;
    case ERR_NOTFOUND:
        return 404;
    case ERR_TOOBIG:
        return 413;
    case ERR_BUSY:
    case ERR_IO:
        return 503;
    case ERR_AUTH:
        return 401;
    case ERR_DENIED:
        return 403;
    case ERR_UNSUPPORTED:
        return 501;
    }
    return 500;
}

const char *
http_header(const struct http_req *rq, const char *name)
{
    return mg_get_header(rq->conn, name);
}

int
http_read_body(struct http_req *rq, size_t max)
{
    long long declared = rq->ri->content_length;
    struct buf b = BUF_INIT;
    char chunk[16384];
    int n;

    if (declared > (long long)max)
        return ERR_TOOBIG;
    for (;;) {
        n = mg_read(rq->conn, chunk, sizeof chunk);
        if (n < 0) {
            buf_free(&b);
            return ERR_IO;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            buf_free(&b);
            return ERR_TOOBIG;
        }
        if (buf_append(&b, chunk, (size_t)n) != 0) {
            buf_free(&b);
            return ERR_NOMEM;
        }
    }
    if (declared > 0 && b.len != (size_t)declared) {
        buf_free(&b);
        return ERR_IO;
    }
    rq->body_len = b.len;
    rq->body = buf_steal(&b);
    return rq->body ? 0 : ERR_NOMEM;
}

void
http_json(struct http_resp *rs, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)
                     : NULL;

    json_decref(obj);
    buf_reset(&rs->body);
    rs->content_type = "application/json";
    if (text == NULL) {
        rs->status = 500;
        buf_puts(&rs->body, "{\"message\":\"Internal server error\"}");
        return;
    }
    rs->status = status;
    buf_puts(&rs->body, text);
    free(text);
}

void
http_json_written(struct http_resp *rs, int status, int rc)
{
    if (rc != 0) {
        http_error(rs, 500, "out of memory");
        return;
    }
    rs->status = status;
    rs->content_type = "application/json";
}

void
http_error(struct http_resp *rs, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o = json_object();
    json_object_set_new(o, "message", json_string(msg));
    http_json(rs, status, o);
}

void
http_header_add(struct http_resp *rs, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    /* A header value never carries a line break from anywhere. */
    for (char *p = value; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    buf_printf(&rs->headers, "%s: %s\r\n", name, value);
}

/* Percent-decode [s, s+n) into out (size on); '+' is a space. */
static int
http_unescape(const char *s, size_t n, char *out, size_t on)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = hex_value((unsigned char)s[i + 1]);
            lo = hi < 0 ? -1 : hex_value((unsigned char)s[i + 2]);
            if (lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0 || o + 1 >= on)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int
http_query_next(const char **cursor, char *name, size_t nn, char *value,
                size_t vn)
{
    const char *p = *cursor, *amp, *eq;

    while (p != NULL && *p == '&')
        p++;
    if (p == NULL || *p == '\0')
        return 0;
    amp = strchr(p, '&');
    if (amp == NULL)
        amp = p + strlen(p);
    eq = memchr(p, '=', (size_t)(amp - p));
    *cursor = amp;
    if (eq == NULL) {
        if (http_unescape(p, (size_t)(amp - p), name, nn) != 0)
            return -1;
        value[0] = '\0';
        return 1;
    }
    if (http_unescape(p, (size_t)(eq - p), name, nn) != 0 ||
        http_unescape(eq + 1, (size_t)(amp - eq - 1), value, vn) != 0)
        return -1;
    return 1;
}

static void
http_send(struct http_req *rq, struct http_resp *rs)
{
    struct buf out = BUF_INIT;
    size_t body = strcmp(rq->method, "HEAD") == 0 ? 0 : rs->body.len;

    buf_printf(&out, "HTTP/1.1 %d %s\r\n", rs->status,
               http_reason(rs->status));
    if (rs->content_type != NULL)
        buf_printf(&out, "Content-Type: %s\r\n", rs->content_type);
    buf_printf(&out, "Content-Length: %zu\r\nX-Request-Id: %s\r\n",
               rs->body.len, rq->id);
    buf_puts(&out, "Cache-Control: no-store\r\n");
    if (rs->headers.len > 0)
        buf_append(&out, rs->headers.data, rs->headers.len);
    buf_puts(&out, "\r\n");
    /* A large answer (a summary of thousands of suites) goes in a write
     * of its own rather than doubled in memory for one packet it would
     * not fit anyway. */
    if (body > 0 && body <= HTTP_COPY_MAX) {
        buf_append(&out, rs->body.data, body);
        body = 0;
    }
    if (out.data != NULL) {
        mg_write(rq->conn, out.data, out.len);
        if (body > 0)
            mg_write(rq->conn, rs->body.data, body);
    }
    buf_free(&out);
}

static void
http_access_log(const struct http_req *rq, const struct http_resp *rs)
{
    char path[LOG_QUOTE_MAX], who[LOG_QUOTE_MAX];
    const char *principal = NULL;
    double ms = (double)(timefmt_mono_ns() - rq->start_ns) / 1e6;

    if (rq->auth == RESULT_AUTH_IAM)
        principal = rq->ident.principal_arn;
    else if (rq->auth == RESULT_AUTH_JWT)
        principal = rq->ident.subject;
    else if (rq->route != NULL && rq->route->auth == ROUTE_AUTH_NONE)
        principal = rq->client;
    log_event(rs->status >= 500 ? LOG_WARN : LOG_INFO, "http", "request",
              "id=%s method=%s path=%s status=%d auth=%s principal=%s "
              "client=%s ms=%.3f bytes=%zu",
              rq->id, rq->method, log_quote(rq->path, path, sizeof path),
              rs->status, result_auth_name(rq->auth),
              log_quote(principal, who, sizeof who), rq->client, ms,
              rs->body.len);
}

static void
http_req_free(struct http_req *rq)
{
    struct result r = {0};

    free(rq->body);
    r.ident = rq->ident;
    result_free(&r);
}

/*
 * CivetWeb keeps at most MG_MAX_HEADERS header fields and drops the rest
 * silently, and its request buffer (max_request_size) is twice the
 * configured header limit, so the limits on count and bytes are checked
 * here, where the answer can be a proper 431.
 */
static int
http_head_too_large(const struct mg_request_info *ri,
                    const struct config_limits *lim, char *why, size_t n)
{
    size_t bytes = strlen(ri->request_method) + strlen(ri->request_uri) +
                   strlen(ri->http_version) + 12;

    if (ri->num_headers > lim->max_header_count) {
        snprintf(why, n, "more than %d header fields", lim->max_header_count);
        return 1;
    }
    for (int i = 0; i < ri->num_headers; i++)
        bytes += strlen(ri->http_headers[i].name) +
                 strlen(ri->http_headers[i].value) + 4;
    if (bytes > (size_t)lim->max_header_bytes) {
        snprintf(why, n, "request line and header fields over %d bytes",
                 lim->max_header_bytes);
        return 1;
    }
    return 0;
}

/*
 * Walk the X-Forwarded-For entries in list (comma-separated, oldest
 * first) from the right: each trusted entry is a proxy of ours and is
 * skipped, the first untrusted one is the client.  Entries left of it
 * were written by the client itself and are never believed.  An entry
 * that is not an address ends the walk: the last hop that was seen is
 * the best that can be said.
 */
static void
http_xff_walk(const struct config *cfg, const char *list, char *out,
              size_t n)
{
    const char *end = list + strlen(list);

    while (end > list) {
        const char *start = end, *a, *b;
        char entry[HTTP_ADDR_MAX];
        while (start > list && start[-1] != ',')
            start--;
        a = start;
        b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        end = start > list ? start - 1 : list;
        if ((size_t)(b - a) >= sizeof entry)
            return;
        memcpy(entry, a, (size_t)(b - a));
        entry[b - a] = '\0';
        if (!cidr_is_addr(entry))
            return;
        snprintf(out, n, "%s", entry);
        if (!cidr_match_any(cfg->trusted_proxies, cfg->trusted_proxy_count,
                            entry))
            return;
    }
}

/*
 * The client address: the TCP peer, unless the peer is a trusted proxy,
 * in which case X-Forwarded-For says who is behind it.  Several
 * X-Forwarded-For lines are one list in the order they came.
 */
static void
http_client_addr(struct http_req *rq)
{
    const struct config *cfg = rq->srv->cfg;
    struct buf list = BUF_INIT;

    snprintf(rq->client, sizeof rq->client, "%s", rq->peer);
    if (!cidr_match_any(cfg->trusted_proxies, cfg->trusted_proxy_count,
                        rq->peer))
        return;
    for (int i = 0; i < rq->ri->num_headers; i++) {
        if (strcasecmp(rq->ri->http_headers[i].name, "X-Forwarded-For") != 0)
            continue;
        buf_printf(&list, "%s%s", list.len ? "," : "",
                   rq->ri->http_headers[i].value);
    }
    if (list.data != NULL)
        http_xff_walk(cfg, list.data, rq->client, sizeof rq->client);
    buf_free(&list);
}

static int
http_begin_request(struct mg_connection *conn)
{
    struct http_resp rs = {0, BUF_INIT, BUF_INIT, NULL};
    struct http_req rq;
    uint_fast64_t seq = atomic_fetch_add(&http_seq, 1) + 1;
    char why[96];

    memset(&rq, 0, sizeof rq);
    rq.conn = conn;
    rq.ri = mg_get_request_info(conn);
    rq.srv = rq.ri->user_data;
    rq.start_ns = timefmt_mono_ns();
    rq.method = rq.ri->request_method;
    rq.path = rq.ri->local_uri_raw ? rq.ri->local_uri_raw
                                   : rq.ri->request_uri;
    rq.query = rq.ri->query_string;
    snprintf(rq.id, sizeof rq.id, "%08x%08llx", http_boot_id,
             (unsigned long long)seq);
    snprintf(rq.peer, sizeof rq.peer, "%s", rq.ri->remote_addr);
    http_client_addr(&rq);
    rq.auth = RESULT_AUTH_NONE;
    if (http_head_too_large(rq.ri, &rq.srv->cfg->limits, why, sizeof why))
        http_error(&rs, 431, "Request Header Fields Too Large: %s", why);
    else
        route_dispatch(&rq, &rs);
    /*
     * Counted before the answer goes out, so that a client which reads
     * the answer and then scrapes /metrics always finds its request.
     */
    metrics_request(rq.srv, rq.route, rs.status,
                    timefmt_mono_ns() - rq.start_ns);
    http_send(&rq, &rs);
    http_access_log(&rq, &rs);
    buf_free(&rs.headers);
    buf_free(&rs.body);
    http_req_free(&rq);
    return rs.status;
}

/*
 * The monotonic time a connection's current request began: when it was
 * accepted, then the end of each request.  It rides in CivetWeb's
 * per-connection pointer, so it costs no allocation.
 */
static int64_t
http_conn_mark(const struct mg_connection *conn)
{
    return (int64_t)(intptr_t)mg_get_user_connection_data(conn);
}

static int
http_init_connection(const struct mg_connection *conn, void **data)
{
    (void)conn;
    *data = (void *)(intptr_t)(timefmt_mono_ns() / 1000000);
    return 0;
}

static void
http_end_request(const struct mg_connection *conn, int status)
{
    (void)status;
    mg_set_user_connection_data(
        conn, (void *)(intptr_t)(timefmt_mono_ns() / 1000000));
}

/*
 * CivetWeb 1.15 reports a request head cut off by request_timeout_ms the
 * same way as a malformed one ("Malformed message", 400).  A head that
 * took nearly the whole timeout to fail was a slow client: answer 408.
 */
static int
http_timed_out(const struct mg_connection *conn, const char *errmsg)
{
    const struct server *srv = mg_get_user_data(mg_get_context(conn));
    int64_t waited = timefmt_mono_ns() / 1000000 - http_conn_mark(conn);

    if (errmsg == NULL || strcasestr(errmsg, "malformed") == NULL)
        return 0;
    return waited >= srv->cfg->limits.request_timeout_ms * 9 / 10;
}

/*
 * CivetWeb answers some requests itself, before any route runs: a request
 * line or header block over its buffer, a malformed request, a read
 * timeout.  Give those the same JSON shape as every other error, and the
 * status a client expects (431 for oversized headers).
 */
static int
http_civetweb_error(struct mg_connection *conn, int status,
                    const char *errmsg)
{
    char body[256], head[256], msg[LOG_QUOTE_MAX];
    const char *text = "bad request";
    int n, m;

    if (status == 400 && http_timed_out(conn, errmsg))
        status = 408;
    if (errmsg != NULL && strcasestr(errmsg, "too large") != NULL &&
        (status == 400 || status == 413 || status == 414)) {
        status = 431;
        text = "request line or header fields too large";
    } else if (status == 400 && errmsg != NULL &&
               strcasestr(errmsg, "malformed") != NULL) {
        text = "bad request: request head malformed or far over the "
               "header size limit";
    } else if (status == 408) {
        text = "request not received in time";
    } else if (status >= 500) {
        text = "server error";
    }
    n = snprintf(body, sizeof body, "{\"message\":\"%s\"}", text);
    m = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n",
                 status, http_reason(status), n);
    mg_write(conn, head, (size_t)m);
    mg_write(conn, body, (size_t)n);
    metrics_request(mg_get_user_data(mg_get_context(conn)), NULL, status, -1);
    log_event(LOG_INFO, "http", "refused", "status=%d reason=%s", status,
              log_quote(errmsg, msg, sizeof msg));
    return 0;
}

static int
http_log_message(const struct mg_connection *conn, const char *message)
{
    char msg[LOG_QUOTE_MAX];

    log_event(LOG_WARN, "http", "civetweb", "msg=%s",
              log_quote(message, msg, sizeof msg));
    return 1;
}

static unsigned
http_random_id(void)
{
    unsigned v = 0;
    FILE *f = fopen("/dev/urandom", "rb");

    if (f != NULL) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v ^ (unsigned)getpid() ^ (unsigned)timefmt_now_ms();
}

int
http_start(struct server *srv, struct err *err)
{
    const struct config_limits *lim = &srv->cfg->limits;
    char threads[16], req_to[16], ka_to[16], host[64], head_max[16];
    struct mg_callbacks cb;
    struct mg_server_port ports[4];
    int port, n;

    if (config_listen_split(srv->cfg->listen, host, sizeof host, &port) != 0)
        return err_set(err, ERR_INVALID, "listen: bad address");
    /* Long-polls hold a thread each; they get their own share. */
    snprintf(threads, sizeof threads, "%d", lim->threads + lim->max_watchers);
    snprintf(req_to, sizeof req_to, "%d", lim->request_timeout_ms);
    snprintf(ka_to, sizeof ka_to, "%d", lim->keep_alive_timeout_ms);
    snprintf(head_max, sizeof head_max, "%d", 2 * lim->max_header_bytes);
    const char *options[] = {"listening_ports", srv->cfg->listen,
                             "num_threads", threads,
                             "request_timeout_ms", req_to,
                             "keep_alive_timeout_ms", ka_to,
                             "max_request_size", head_max,
                             "enable_keep_alive", "yes",
                             "tcp_nodelay", "1",
                             "decode_url", "no",
                             NULL};
    memset(&cb, 0, sizeof cb);
    cb.begin_request = http_begin_request;
    cb.log_message = http_log_message;
    cb.http_error = http_civetweb_error;
    cb.init_connection = http_init_connection;
    cb.end_request = http_end_request;
    http_boot_id = http_random_id();
    mg_init_library(0);
    srv->mg = mg_start(&cb, srv, options);
    if (srv->mg == NULL)
        return err_set(err, ERR_IO, "cannot listen on %s (address in use "
                       "or not available)", srv->cfg->listen);
    n = mg_get_server_ports(srv->mg, 4, ports);
    srv->port = n > 0 ? ports[0].port : port;
    srv->loopback = strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
    return 0;
}

void
http_stop(struct server *srv)
{
    if (srv->mg != NULL)
        mg_stop(srv->mg);
    srv->mg = NULL;
    mg_exit_library();
}
