/*
 * Limits over real HTTP: per-identity rate limits on the open and JWT
 * routes (429 with Retry-After, nothing stored, the refusal logged),
 * header count and size (431), a request head that never completes (408),
 * and the slowloris case: 500 half-sent requests held open while normal
 * posts keep being answered within the request timeout.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tissuer.h"
#include "tsupport.h"

static struct tsrv srv;
static struct tissuer *ti;

static void
setup(void)
{
    tsrv_init(&srv);
}

static void
teardown(void)
{
    if (srv.pid > 0)
        cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
    tissuer_free(ti);
    ti = NULL;
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 120);

static void
start_with(const char *jwt, const char *rest)
{
    char cfg[2048];

    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "%s\"jwt\":%s%s}",
             strstr(rest, "\"iam\":") ? "" : "\"iam\":{},", jwt, rest);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

/*
 * Whether the log gets s within 2 s: the access log line of a request is
 * written after its answer is sent, so a test may read the answer first.
 */
static int
log_gets(const char *s)
{
    for (int i = 0; i < 100; i++) {
        if (tsrv_log_has(&srv, s))
            return 1;
        usleep(20000);
    }
    return 0;
}

static long
post_open(const char *suite)
{
    char body[128];
    struct tresp r;
    long st;

    snprintf(body, sizeof body, "{\"status\":\"pass\",\"suite\":\"%s\"}",
             suite);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results", body, &r), 0);
    st = r.status;
    tresp_free(&r);
    return st;
}

static void
expect_429(const struct tresp *r, const char *retry_after)
{
    char v[32];

    cr_assert_eq(r->status, 429, "status %ld: %s", r->status, r->body);
    cr_assert_str_eq(r->body, "{\"message\":\"Too Many Requests\"}");
    cr_assert_eq(tresp_header(r, "Retry-After", v, sizeof v), 0);
    cr_assert_str_eq(v, retry_after);
}

Test(limits, open_route_is_limited_per_source_address)
{
    struct tresp r;

    start_with("{}", ",\"rate_limits\":{\"open\":{\"per_second\":0.01,"
                     "\"burst\":2}}");
    cr_assert_eq(post_open("a"), 201);
    cr_assert_eq(post_open("b"), 201);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"c\"}", &r),
                 0);
    /* One token at 0.01 per second is 100 seconds away. */
    expect_429(&r, "100");
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 2);
    cr_assert(tsrv_log_has(&srv, "event=refused id="));
    cr_assert(tsrv_log_has(&srv, "route=open principal=127.0.0.1 "
                                 "retry_after=100"));
    /* Reads are not posts: never limited. */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(thttp_get(&srv, "/lab/results", &r), 0);
        cr_assert_eq(r.status, 200);
        tresp_free(&r);
    }
}

static long
post_from(const char *addr)
{
    static const char body[] = "{\"status\":\"pass\",\"suite\":\"v6\"}";
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    char url[128], xff[128];
    struct tresp r;
    long st;

    snprintf(xff, sizeof xff, "X-Forwarded-For: %s", addr);
    headers[1] = xff;
    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, headers, body, strlen(body), &r), 0);
    st = r.status;
    tresp_free(&r);
    return st;
}

/*
 * Clients behind a trusted proxy, told apart by X-Forwarded-For: every
 * address of one IPv6 /64 shares a bucket, another /64 has its own.
 */
Test(limits, ipv6_clients_share_a_bucket_per_prefix)
{
    start_with("{}", ",\"trusted_proxies\":[\"127.0.0.1\"],"
                     "\"rate_limits\":{\"open\":{\"per_second\":0.01,"
                     "\"burst\":1}}");
    cr_assert_eq(post_from("2001:db8:1:2::1"), 201);
    cr_assert_eq(post_from("2001:db8:1:2::2"), 429);
    cr_assert_eq(post_from("2001:db8:1:2:ffff:ffff:ffff:ffff"), 429);
    cr_assert_eq(post_from("2001:db8:1:3::1"), 201);
    cr_assert_eq(post_from("192.0.2.1"), 201);
    cr_assert_eq(post_from("192.0.2.2"), 201);
    cr_assert_eq(tsrv_count_rows(&srv, "WHERE source_addr = "
                                       "'2001:db8:1:2::1'"),
                 1);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 4);
    cr_assert(log_gets("route=open principal=2001:db8:1:2::/64 "
                       "retry_after=100"));
}

static long
post_bearer(const char *token, struct tresp *r)
{
    static const char body[] = "{\"status\":\"pass\",\"suite\":\"s\"}";
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    char url[128], *auth = malloc(strlen(token) + 32);

    sprintf(auth, "Authorization: Bearer %s", token);
    headers[1] = auth;
    snprintf(url, sizeof url, "%s/lab/results-secure", srv.base);
    cr_assert_eq(thttp("POST", url, headers, body, strlen(body), r), 0);
    free(auth);
    return r->status;
}

Test(limits, jwt_route_is_limited_per_repository_not_per_address)
{
    char jwt[512], *claims, *tok;
    struct tresp r;

    ti = tissuer_start();
    snprintf(jwt, sizeof jwt,
             "{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":[\"lab-api\"],"
             "\"allow_insecure_http\":true}]}",
             tissuer_url(ti));
    start_with(jwt, ",\"rate_limits\":{\"jwt\":{\"per_second\":0.5,"
                    "\"burst\":1}}");
    claims = tissuer_github_claims(ti, "\"lab-api\"", 600, NULL);
    tok = tissuer_token(ti, TISSUER_KID_RSA, claims);
    cr_assert_eq(post_bearer(tok, &r), 201, "%s", r.body);
    tresp_free(&r);
    post_bearer(tok, &r);
    expect_429(&r, "2");
    tresp_free(&r);
    cr_assert(tsrv_log_has(&srv, "route=jwt principal=octo-org/octo-repo"));
    /* The open route from the same address has no limit configured. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(post_open("o"), 201);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 6);
    free(claims);
    free(tok);
}

/* POST to the IAM route signed by libcurl's SigV4 signer; the status. */
static long
post_iam(const char *user, char *retry_after, size_t n)
{
    static const char body[] = "{\"status\":\"pass\",\"suite\":\"i\"}";
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    FILE *devnull = fopen("/dev/null", "w");
    CURL *c = curl_easy_init();
    struct curl_header *ra;
    char url[128];
    long st = -1;

    snprintf(url, sizeof url, "%s/lab/results-ci", srv.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:eu-north-1:execute-api");
    curl_easy_setopt(c, CURLOPT_USERPWD, user);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    retry_after[0] = '\0';
    if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &ra) ==
        CURLHE_OK)
        snprintf(retry_after, n, "%s", ra->value);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(devnull);
    return st;
}

#define IAM_KEY(n)                                                             \
    "{\"access_key_id\":\"AKIALIMITSTEST0000" n "\",\"secret_access_key\":"    \
    "\"limitsSecretKey0123456789abcdefghijklmn\",\"principal_arn\":"           \
    "\"arn:aws:iam::123456789012:user/ci" n "\",\"policy\":{\"Version\":"      \
    "\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"          \
    "\"execute-api:Invoke\",\"Resource\":\"*\"}]}}"

Test(limits, iam_route_is_limited_per_principal_arn)
{
    char retry[32];

    start_with("{}", ",\"iam\":{\"account\":\"123456789012\","
                     "\"static_keys\":[" IAM_KEY("01") "," IAM_KEY(
                         "02") "]},"
                               "\"rate_limits\":{\"iam\":{\"per_second\":0.2,"
                               "\"burst\":2}}");
    for (int i = 0; i < 2; i++)
        cr_assert_eq(post_iam("AKIALIMITSTEST000001:limitsSecretKey0123456789"
                              "abcdefghijklmn",
                              retry, sizeof retry),
                     201);
    cr_assert_eq(post_iam("AKIALIMITSTEST000001:limitsSecretKey0123456789"
                          "abcdefghijklmn",
                          retry, sizeof retry),
                 429);
    cr_assert_str_eq(retry, "5");
    /* Another role has a bucket of its own. */
    cr_assert_eq(post_iam("AKIALIMITSTEST000002:limitsSecretKey0123456789"
                          "abcdefghijklmn",
                          retry, sizeof retry),
                 201);
    cr_assert(tsrv_log_has(&srv, "route=iam principal="
                                 "arn:aws:iam::123456789012:user/ci01 "
                                 "retry_after=5"));
    cr_assert_eq(tsrv_count_rows(&srv, ""), 3);
}

Test(limits, rate_limit_configuration_errors_stop_the_server)
{
    char cfg[512], out[2048];
    const char *argv[] = {"--config", cfg, NULL};
    int st;

    snprintf(cfg, sizeof cfg, "%s/bad.json", srv.dir);
    cr_assert_eq(tsupport_write_file(
                     cfg, "{\"listen\":\"127.0.0.1:0\",\"database\":\"x.db\","
                          "\"jwt\":{},\"iam\":{},\"rate_limits\":{\"open\":"
                          "{\"burst\":4}}}"),
                 0);
    st = tsrv_run_cli(argv, out, sizeof out);
    cr_assert_eq(st, 2, "%s", out);
    cr_assert(strstr(out, "configuration error: rate_limits.open.per_second:"
                          " required key is missing") != NULL,
              "%s", out);
}

/* A loopback TCP connection to the server, with a receive timeout. */
static int
raw_connect(int timeout_s)
{
    struct sockaddr_in a;
    struct timeval tv = {timeout_s, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)srv.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Whether the first len bytes of out hold a head and its whole body. */
static int
raw_complete(char *out, size_t len)
{
    const char *end, *cl;
    long body;

    out[len] = '\0';
    end = strstr(out, "\r\n\r\n");
    cl = strstr(out, "Content-Length: ");
    if (end == NULL || cl == NULL)
        return 0;
    body = strtol(cl + 16, NULL, 10);
    return (size_t)(end + 4 - out) + (size_t)body <= len;
}

/* Send text on a new connection; read the whole answer into out. */
static void
raw_exchange(const char *text, size_t len, char *out, size_t n)
{
    int fd = raw_connect(5);
    ssize_t got;

    size_t have = 0;

    cr_assert_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
    /* Read until the body is complete (the server may close or not). */
    while (have + 1 < n && !raw_complete(out, have)) {
        got = recv(fd, out + have, n - 1 - have, 0);
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    out[have] = '\0';
    close(fd);
}

static void
expect_answer(const char *answer, const char *status_line, const char *body)
{
    const char *b = strstr(answer, "\r\n\r\n");

    cr_assert(strncmp(answer, status_line, strlen(status_line)) == 0, "%s",
              answer);
    cr_assert_not_null(b, "%s", answer);
    cr_assert_str_eq(b + 4, body);
}

Test(limits, header_count_and_size_get_431)
{
    static char req[80000];
    char answer[1024];
    size_t n;

    start_with("{}", ",\"limits\":{\"max_header_bytes\":4096,"
                     "\"max_header_count\":10}");
    n = (size_t)sprintf(req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 10; i++)
        n += (size_t)sprintf(req + n, "X-H%d: 1\r\n", i);
    strcpy(req + n, "\r\n");
    raw_exchange(req, n + 2, answer, sizeof answer);
    expect_answer(answer, "HTTP/1.1 431 ",
                  "{\"message\":\"Request Header Fields Too Large: more "
                  "than 10 header fields\"}");

    n = (size_t)sprintf(req, "GET /healthz HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'a', 5000);
    n += 5000;
    strcpy(req + n, "\r\n\r\n");
    raw_exchange(req, n + 4, answer, sizeof answer);
    expect_answer(answer, "HTTP/1.1 431 ",
                  "{\"message\":\"Request Header Fields Too Large: request "
                  "line and header fields over 4096 bytes\"}");

    /* Past CivetWeb's own buffer (twice the limit) it cannot parse. */
    n = (size_t)sprintf(req, "GET /healthz HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'a', 9000);
    n += 9000;
    strcpy(req + n, "\r\n\r\n");
    raw_exchange(req, n + 4, answer, sizeof answer);
    expect_answer(answer, "HTTP/1.1 400 ",
                  "{\"message\":\"bad request: request head malformed or "
                  "far over the header size limit\"}");
    cr_assert(log_gets("status=431"));
}

#define SLOW_CLIENTS 500

/*
 * Each slow client holds one CivetWeb worker thread until
 * request_timeout_ms cuts it off, so normal posts go on only while
 * threads outnumber slow clients: 600 threads for 500 slow clients, as
 * docs/limits.md explains.  The normal posts must be answered well
 * within the request timeout, not after the slow clients are dropped.
 */
Test(limits, slowloris_500_half_sent_requests_do_not_stop_posts, .timeout = 120)
{
    static const char partial[] = "POST /lab/results HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\n";
    int *fds = calloc(SLOW_CLIENTS, sizeof *fds);
    char answer[512];
    ssize_t got;

    start_with("{}", ",\"limits\":{\"threads\":600,"
                     "\"request_timeout_ms\":8000}");
    for (int i = 0; i < SLOW_CLIENTS; i++) {
        fds[i] = raw_connect(15);
        cr_assert_eq(send(fds[i], partial, sizeof partial - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof partial - 1));
    }
    /* Let the server pick every slow connection up. */
    usleep(500000);
    for (int i = 0; i < 20; i++) {
        const char *headers[] = {"Content-Type: application/json", NULL};
        const char *body = "{\"status\":\"pass\",\"suite\":\"n\"}";
        char url[128];
        struct tresp r;

        snprintf(url, sizeof url, "%s/lab/results", srv.base);
        cr_assert_eq(thttp("POST", url, headers, body, strlen(body), &r), 0);
        cr_assert_eq(r.status, 201, "post %d: %ld %s", i, r.status, r.body);
        tresp_free(&r);
    }
    cr_assert_eq(tsrv_count_rows(&srv, ""), 20);
    /*
     * Every slow client is still held, unanswered: the posts were served
     * beside them, not after the timeout freed their threads.
     */
    for (int i = 0; i < SLOW_CLIENTS; i++)
        cr_assert_eq(recv(fds[i], answer, sizeof answer, MSG_DONTWAIT), -1,
                     "slow client %d was already answered", i);
    /* The slow clients are cut off by the request timeout with a 408. */
    got = 0;
    while (!raw_complete(answer, (size_t)got)) {
        ssize_t k = recv(fds[0], answer + got, sizeof answer - 1 - got, 0);
        cr_assert_gt(k, 0);
        got += k;
    }
    expect_answer(answer, "HTTP/1.1 408 ",
                  "{\"message\":\"request not received in time\"}");
    for (int i = 0; i < SLOW_CLIENTS; i++)
        close(fds[i]);
    free(fds);
}
