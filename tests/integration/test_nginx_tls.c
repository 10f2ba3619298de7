/*
 * labgate behind real nginx with TLS, configured by the site file that
 * docs/deploy/ ships (ports and paths substituted, nothing else).  The
 * certificate is made at test time with the openssl command; the client
 * is libcurl trusting only that certificate, connecting to the public
 * name labgate.test from its own loopback address 127.0.0.3, so the
 * address labgate records (127.0.0.3, not nginx's 127.0.0.1) proves that
 * X-Forwarded-For from the trusted proxy was used and that a client's
 * own X-Forwarded-For was not believed.
 *
 * The JWT and SigV4 routes are exercised end to end (a token signed by a
 * key whose JWKS nginx serves; a request signed by libcurl's SigV4
 * signer for the public host name) once they exist; while the server
 * answers 501 on them, those tests are skipped and say so.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsupport.h"

#define HOSTNAME "labgate.test"
#define CLIENT_ADDR "127.0.0.3"
#define SITE_FILE LABGATE_SOURCE_DIR "/docs/deploy/nginx-labgate.conf"
#define TEXT_MAX 16384

struct env {
    struct tsrv lab;
    int https_port, redirect_port, issuer_port, lab_port;
    pid_t nginx;
    char cert[600], key[600];
};

static struct env env;

/* Debian's nginx, even when /usr/sbin is not on PATH (a non-root CI). */
static const char *
nginx_bin(void)
{
    return access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
}

static int
free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void
path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", env.lab.dir, name);
}

static void
print_file(const char *name)
{
    char path[600], line[1024];
    FILE *f;

    path_in(path, sizeof path, name);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "--- %s\n", path);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

/* Replace the one or more occurrences of from in text; assert it is there. */
static void
replace(char *text, const char *from, const char *to, int times)
{
    char *p, tmp[TEXT_MAX];
    int n = 0;

    while ((p = strstr(text, from)) != NULL) {
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(p - text), text, to,
                 p + strlen(from));
        cr_assert_lt(strlen(tmp), TEXT_MAX - 1);
        strcpy(text, tmp);
        n++;
    }
    cr_assert_eq(n, times, "'%s' found %d times in %s, expected %d", from, n,
                 SITE_FILE, times);
}

/* The shipped site file with this test's ports and paths. */
static void
write_site(void)
{
    char text[TEXT_MAX], buf[700], path[600];
    FILE *f = fopen(SITE_FILE, "r");
    size_t n;

    cr_assert_not_null(f, "%s is missing", SITE_FILE);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    snprintf(buf, sizeof buf, "server 127.0.0.1:%d;", env.lab_port);
    replace(text, "server 127.0.0.1:8080;", buf, 1);
    snprintf(buf, sizeof buf, "listen 127.0.0.1:%d;", env.redirect_port);
    replace(text, "listen 80;", buf, 1);
    replace(text, "    listen [::]:80;\n", "", 1);
    snprintf(buf, sizeof buf, "listen 127.0.0.1:%d ssl;", env.https_port);
    replace(text, "listen 443 ssl;", buf, 1);
    replace(text, "    listen [::]:443 ssl;\n", "", 1);
    replace(text, "server_name labgate.example.org;",
            "server_name " HOSTNAME ";", 2);
    replace(text, "/etc/letsencrypt/live/labgate.example.org/fullchain.pem",
            env.cert, 1);
    replace(text, "/etc/letsencrypt/live/labgate.example.org/privkey.pem",
            env.key, 1);
    path_in(path, sizeof path, "site.conf");
    cr_assert_eq(tsupport_write_file(path, text), 0);
}

/* Temp path directives for the modules this nginx was built with. */
static void
temp_paths(char *out, size_t n)
{
    static const char *const mods[] = {"fastcgi", "uwsgi", "scgi"};
    char version[8192] = "", flag[64];
    const char *dir = env.lab.dir;
    char cmd[64];
    FILE *p;
    size_t len = 0, k;

    snprintf(cmd, sizeof cmd, "%s -V 2>&1", nginx_bin());
    p = popen(cmd, "r");

    if (p != NULL) {
        len = fread(version, 1, sizeof version - 1, p);
        version[len] = '\0';
        pclose(p);
    }
    k = (size_t)snprintf(out, n,
                         "client_body_temp_path %s/ngx/body;\n"
                         "proxy_temp_path %s/ngx/proxy;\n",
                         dir, dir);
    for (size_t i = 0; i < sizeof mods / sizeof mods[0] && k < n; i++) {
        snprintf(flag, sizeof flag, "--without-http_%s_module", mods[i]);
        if (strstr(version, flag) == NULL)
            k += (size_t)snprintf(out + k, n - k, "%s_temp_path %s/ngx/%s;\n",
                                  mods[i], dir, mods[i]);
    }
}

static void
write_main_conf(void)
{
    char text[TEXT_MAX], temps[2048], path[600];
    const char *dir = env.lab.dir;

    temp_paths(temps, sizeof temps);
    snprintf(text, sizeof text,
             "daemon off;\nmaster_process on;\nworker_processes 1;\n"
             "pid %s/nginx.pid;\nerror_log %s/nginx-error.log info;\n"
             "events { worker_connections 256; }\n"
             "http {\n"
             "access_log %s/nginx-access.log;\n%s"
             "types { application/json json; }\n"
             "default_type application/json;\n"
             /* The test OIDC issuer's discovery document and JWKS. */
             "server { listen 127.0.0.1:%d; root %s/issuer; }\n"
             "include %s/site.conf;\n}\n",
             dir, dir, dir, temps, env.issuer_port, dir, dir);
    path_in(path, sizeof path, "nginx.conf");
    cr_assert_eq(tsupport_write_file(path, text), 0);
}

static void
make_certificate(void)
{
    char cmd[2048];

    path_in(env.cert, sizeof env.cert, "cert.pem");
    path_in(env.key, sizeof env.key, "key.pem");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
             "-subj /CN=" HOSTNAME " -addext subjectAltName=DNS:" HOSTNAME
             " -keyout '%s' -out '%s' >'%s/openssl.log' 2>&1",
             env.key, env.cert, env.lab.dir);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
}

static int
port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void
start_nginx(void)
{
    char conf[600], prefix[600], elog[600], out[600];
    int fd, status;

    path_in(conf, sizeof conf, "nginx.conf");
    path_in(elog, sizeof elog, "nginx-error.log");
    path_in(out, sizeof out, "nginx.out");
    snprintf(prefix, sizeof prefix, "%s/", env.lab.dir);
    env.nginx = fork();
    if (env.nginx == 0) {
        /* nginx must not outlive a test that crashed or timed out. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp(nginx_bin(), "nginx", "-p", prefix, "-c", conf, "-e", elog,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        if (port_open(env.https_port) && port_open(env.issuer_port))
            return;
        if (waitpid(env.nginx, &status, WNOHANG) == env.nginx) {
            env.nginx = 0;
            print_file("nginx.out");
            print_file("nginx-error.log");
            cr_assert_fail("nginx exited at start");
        }
        usleep(10000);
    }
    print_file("nginx-error.log");
    cr_assert_fail("nginx did not listen within 10 s");
}

static void
stop_nginx(void)
{
    int status;

    if (env.nginx <= 0)
        return;
    kill(env.nginx, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(env.nginx, &status, WNOHANG) == env.nginx) {
            env.nginx = 0;
            return;
        }
        usleep(10000);
    }
    kill(env.nginx, SIGKILL);
    waitpid(env.nginx, &status, 0);
    env.nginx = 0;
}

/* Start labgate on its fixed port with the given config sections. */
static void
start_labgate(const char *jwt, const char *iam)
{
    char text[TEXT_MAX], listen[64];
    const char *extra[] = {"--listen", listen, NULL};

    snprintf(listen, sizeof listen, "127.0.0.1:%d", env.lab_port);
    snprintf(env.lab.config, sizeof env.lab.config, "%s/labgate.json",
             env.lab.dir);
    snprintf(text, sizeof text,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"jwt\":%s,\"iam\":%s,\"trusted_proxies\":[\"127.0.0.1\"]}",
             jwt, iam);
    cr_assert_eq(tsupport_write_file(env.lab.config, text), 0);
    cr_assert_eq(tsrv_start(&env.lab, extra), 0, "labgate did not start");
    cr_assert_eq(env.lab.port, env.lab_port);
}

static void
setup(void)
{
    char dir[600];

    memset(&env, 0, sizeof env);
    tsrv_init(&env.lab);
    /* nginx's workers run as an unprivileged user and read from here. */
    chmod(env.lab.dir, 0755);
    path_in(dir, sizeof dir, "issuer");
    mkdir(dir, 0755);
    path_in(dir, sizeof dir, "issuer/.well-known");
    mkdir(dir, 0755);
    path_in(dir, sizeof dir, "ngx");
    mkdir(dir, 0755);
    env.https_port = free_port();
    env.redirect_port = free_port();
    env.issuer_port = free_port();
    env.lab_port = free_port();
    make_certificate();
    write_site();
    write_main_conf();
    start_nginx();
    start_labgate("{}", "{}");
}

/*
 * Stop both servers and remove the directory.  Safe to call twice: a
 * skipped test calls it itself, because Criterion does not run .fini
 * after cr_skip.
 */
static void
teardown(void)
{
    stop_nginx();
    if (env.lab.pid > 0)
        cr_expect_eq(tsrv_stop(&env.lab), 0, "labgate did not exit cleanly");
    if (env.lab.dir[0] != '\0')
        tsrv_cleanup(&env.lab);
    env.lab.dir[0] = '\0';
}

TestSuite(nginx_tls, .init = setup, .fini = teardown, .timeout = 120);

struct req {
    const char *method;
    const char *url; /* full URL */
    const char *const *headers;
    const char *body;
    size_t body_len;
    const char *sigv4_user; /* "AKID:SECRET" to sign with SigV4, or NULL */
};

static size_t
collect(char *p, size_t size, size_t nmemb, void *arg)
{
    struct tresp *r = arg;
    size_t n = size * nmemb;
    char *d = realloc(r->body, r->len + n + 1);

    if (d == NULL)
        return 0;
    memcpy(d + r->len, p, n);
    r->len += n;
    d[r->len] = '\0';
    r->body = d;
    return n;
}

static size_t
collect_headers(char *p, size_t size, size_t nmemb, void *arg)
{
    char **h = arg;
    size_t n = size * nmemb, old = *h ? strlen(*h) : 0;
    char *d = realloc(*h, old + n + 1);

    if (d == NULL)
        return 0;
    memcpy(d + old, p, n);
    d[old + n] = '\0';
    *h = d;
    return n;
}

/* One request through nginx, resolved and verified as HOSTNAME. */
static void
send_req(const struct req *q, struct tresp *out)
{
    struct curl_slist *list = NULL, *resolve = NULL;
    char rs[128], rs2[128];
    CURL *c = curl_easy_init();
    CURLcode rc;

    memset(out, 0, sizeof *out);
    snprintf(rs, sizeof rs, HOSTNAME ":%d:127.0.0.1", env.https_port);
    snprintf(rs2, sizeof rs2, HOSTNAME ":%d:127.0.0.1", env.redirect_port);
    resolve = curl_slist_append(curl_slist_append(NULL, rs), rs2);
    for (int i = 0; q->headers && q->headers[i]; i++)
        list = curl_slist_append(list, q->headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_CAINFO, env.cert);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_INTERFACE, "host!" CLIENT_ADDR);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_headers);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (q->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)q->body_len);
    }
    if (q->sigv4_user != NULL) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4,
                         "aws:amz:eu-north-1:execute-api");
        curl_easy_setopt(c, CURLOPT_USERPWD, q->sigv4_user);
    }
    rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", q->method, q->url,
                 curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (out->body == NULL)
        out->body = strdup("");
    if (out->headers == NULL)
        out->headers = strdup("");
    curl_slist_free_all(list);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(c);
}

static void
url_for(char *out, size_t n, const char *path)
{
    snprintf(out, n, "https://" HOSTNAME ":%d%s", env.https_port, path);
}

static void
post(const char *path, const char *const *headers, const char *body,
     const char *sigv4_user, struct tresp *out)
{
    const char *h[8] = {"Content-Type: application/json"};
    char url[256];
    struct req q;
    int n = 1;

    for (int i = 0; headers && headers[i] && n < 7; i++)
        h[n++] = headers[i];
    h[n] = NULL;
    url_for(url, sizeof url, path);
    q = (struct req){"POST", url, h, body, strlen(body), sigv4_user};
    send_req(&q, out);
}

static const char *
ident_field(json_t *result, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(result, "identity"), name));
}

/* The stored row's value for column, read straight from SQLite. */
static void
db_column(long long id, const char *column, char *out, size_t n)
{
    char sql[256];
    sqlite3 *db;
    sqlite3_stmt *q;

    snprintf(sql, sizeof sql, "SELECT %s FROM results WHERE id = %lld", column,
             id);
    cr_assert_eq(sqlite3_open(env.lab.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "row %lld missing", id);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Check a 201 and the client address in the body and the row. */
static json_t *
expect_stored(const struct tresp *r, const char *auth)
{
    char stored[64];
    json_t *j;
    long long id;

    cr_assert_eq(r->status, 201, "status %ld: %s", r->status, r->body);
    j = json_loads(r->body, 0, NULL);
    cr_assert_not_null(j, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(j, "auth")), auth);
    cr_assert_str_eq(ident_field(j, "source_addr"), CLIENT_ADDR);
    id = json_integer_value(json_object_get(j, "id"));
    db_column(id, "source_addr", stored, sizeof stored);
    cr_assert_str_eq(stored, CLIENT_ADDR);
    db_column(id, "auth", stored, sizeof stored);
    cr_assert_str_eq(stored, auth);
    return j;
}

/* Skip the calling test when the route is not in this build. */
static void
skip_if_501(const char *path)
{
    struct tresp r;

    post(path, NULL, "{\"status\":\"pass\",\"suite\":\"probe\"}", NULL, &r);
    if (r.status == 501) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s answers 501 on this build (%s); the TLS test of that "
                 "route runs once the route is merged",
                 path, r.body);
        tresp_free(&r);
        teardown();
        cr_skip("%s", msg);
    }
    tresp_free(&r);
}

Test(nginx_tls, open_route_records_the_client_behind_nginx)
{
    struct tresp r;
    json_t *j;

    post("/lab/results", NULL, "{\"status\":\"pass\",\"suite\":\"tls\"}", NULL,
         &r);
    j = expect_stored(&r, "none");
    cr_assert_str_eq(json_string_value(json_object_get(j, "principal")),
                     CLIENT_ADDR);
    json_decref(j);
    cr_assert(strstr(r.headers, "X-Request-Id:") != NULL, "%s", r.headers);
    cr_assert(strstr(r.headers, "Strict-Transport-Security:") != NULL, "%s",
              r.headers);
    tresp_free(&r);

    /* A client cannot choose the address recorded for it. */
    post("/lab/results", (const char *[]){"X-Forwarded-For: 203.0.113.5", NULL},
         "{\"status\":\"fail\",\"suite\":\"tls\"}", NULL, &r);
    json_decref(expect_stored(&r, "none"));
    tresp_free(&r);
}

Test(nginx_tls, body_limit_matches_labgate)
{
    static char body[70000];
    const char *head = "{\"status\":\"pass\",\"suite\":\"big\",\"message\":\"";
    size_t n = 65536;
    struct tresp r;

    /* Exactly 64 KiB passes both nginx and labgate. */
    memset(body, 'x', sizeof body - 1);
    memcpy(body, head, strlen(head));
    memcpy(body + n - 2, "\"}", 3);
    cr_assert_eq(strlen(body), n);
    post("/lab/results", NULL, body, NULL, &r);
    json_decref(expect_stored(&r, "none"));
    tresp_free(&r);

    /* One byte more is refused by nginx in labgate's own shape. */
    memset(body, 'x', sizeof body - 1);
    memcpy(body, head, strlen(head));
    memcpy(body + n - 1, "\"}", 3);
    post("/lab/results", NULL, body, NULL, &r);
    cr_assert_eq(r.status, 413, "%s", r.body);
    cr_assert_str_eq(r.body,
                     "{\"message\":\"body: larger than the limit of 65536 "
                     "bytes\"}");
    tresp_free(&r);
}

Test(nginx_tls, plain_http_redirects_and_metrics_stay_private)
{
    struct tresp r;
    struct req q;
    char url[256];

    snprintf(url, sizeof url, "http://" HOSTNAME ":%d/lab/results",
             env.redirect_port);
    q = (struct req){"GET", url, NULL, NULL, 0, NULL};
    send_req(&q, &r);
    cr_assert_eq(r.status, 301);
    cr_assert(strstr(r.headers,
                     "Location: https://" HOSTNAME "/lab/results\r\n") != NULL,
              "%s", r.headers);
    tresp_free(&r);

    url_for(url, sizeof url, "/metrics");
    q = (struct req){"GET", url, NULL, NULL, 0, NULL};
    send_req(&q, &r);
    cr_assert_eq(r.status, 404, "%s", r.body);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&env.lab, "/metrics", &r), 0);
    cr_assert_eq(r.status, 200, "labgate itself serves /metrics");
    tresp_free(&r);

    url_for(url, sizeof url, "/readyz");
    q = (struct req){"GET", url, NULL, NULL, 0, NULL};
    send_req(&q, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    tresp_free(&r);
}

/* GET /healthz with the TLS versions limited to [min, max]. */
static CURLcode
get_with_tls(long min, long max, long *status)
{
    struct curl_slist *resolve;
    char rs[128], url[256];
    struct tresp r;
    CURL *c = curl_easy_init();
    CURLcode rc;

    memset(&r, 0, sizeof r);
    snprintf(rs, sizeof rs, HOSTNAME ":%d:127.0.0.1", env.https_port);
    resolve = curl_slist_append(NULL, rs);
    url_for(url, sizeof url, "/healthz");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_CAINFO, env.cert);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, min | max);
    /* Let the client offer old versions, so that nginx is what refuses. */
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    *status = 0;
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    free(r.body);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(c);
    return rc;
}

Test(nginx_tls, tls_1_2_and_1_3_only)
{
    long status;

    cr_assert_eq(get_with_tls(CURL_SSLVERSION_TLSv1_2,
                              CURL_SSLVERSION_MAX_TLSv1_2, &status),
                 CURLE_OK);
    cr_assert_eq(status, 200);
    cr_assert_eq(get_with_tls(CURL_SSLVERSION_TLSv1_3,
                              CURL_SSLVERSION_MAX_TLSv1_3, &status),
                 CURLE_OK);
    cr_assert_eq(status, 200);
    cr_assert_neq(get_with_tls(CURL_SSLVERSION_TLSv1_0,
                               CURL_SSLVERSION_MAX_TLSv1_1, &status),
                  CURLE_OK, "a TLS 1.0/1.1 handshake succeeded");
}

/* base64url without padding of n bytes. */
static void
b64url(const unsigned char *in, size_t n, char *out, size_t on)
{
    unsigned char tmp[4096];
    int len;

    cr_assert_lt((n + 2) / 3 * 4, sizeof tmp);
    len = EVP_EncodeBlock(tmp, in, (int)n);
    while (len > 0 && tmp[len - 1] == '=')
        len--;
    cr_assert_lt((size_t)len, on);
    for (int i = 0; i < len; i++)
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
    out[len] = '\0';
}

static void
bn_b64url(EVP_PKEY *k, const char *param, char *out, size_t on)
{
    BIGNUM *bn = NULL;
    unsigned char bytes[1024];
    int n;

    cr_assert_eq(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    n = BN_bn2bin(bn, bytes);
    BN_free(bn);
    b64url(bytes, (size_t)n, out, on);
}

/* Publish k as the test issuer's JWKS and discovery document. */
static void
publish_issuer(EVP_PKEY *k, const char *issuer)
{
    char nb[1024], eb[64], text[4096], path[600];

    bn_b64url(k, OSSL_PKEY_PARAM_RSA_N, nb, sizeof nb);
    bn_b64url(k, OSSL_PKEY_PARAM_RSA_E, eb, sizeof eb);
    snprintf(text, sizeof text,
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"tls-1\",\"use\":\"sig\","
             "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             nb, eb);
    path_in(path, sizeof path, "issuer/jwks.json");
    cr_assert_eq(tsupport_write_file(path, text), 0);
    snprintf(text, sizeof text,
             "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/jwks.json\","
             "\"id_token_signing_alg_values_supported\":[\"RS256\"]}",
             issuer, issuer);
    path_in(path, sizeof path, "issuer/.well-known/openid-configuration");
    cr_assert_eq(tsupport_write_file(path, text), 0);
}

/* A GitHub-shaped RS256 token from issuer, signed with k. */
static void
make_token(EVP_PKEY *k, const char *issuer, char *out, size_t on)
{
    char head[256], claims[1024], input[2048], sigb[1024];
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    long now = (long)time(NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *h = "{\"alg\":\"RS256\",\"kid\":\"tls-1\",\"typ\":\"JWT\"}";
    char c[1024];

    snprintf(c, sizeof c,
             "{\"iss\":\"%s\",\"aud\":\"lab-api\",\"sub\":\"repo:octo/lab:"
             "ref:refs/heads/main\",\"repository\":\"octo/lab\","
             "\"repository_owner\":\"octo\",\"ref\":\"refs/heads/main\","
             "\"run_id\":\"42\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
             issuer, now - 5, now - 5, now + 600);
    b64url((const unsigned char *)h, strlen(h), head, sizeof head);
    b64url((const unsigned char *)c, strlen(c), claims, sizeof claims);
    snprintf(input, sizeof input, "%s.%s", head, claims);
    cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    cr_assert_eq(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input,
                                strlen(input)),
                 1);
    EVP_MD_CTX_free(ctx);
    b64url(sig, siglen, sigb, sizeof sigb);
    snprintf(out, on, "%s.%s", input, sigb);
}

Test(nginx_tls, jwt_route_over_tls)
{
    char issuer[128], jwt[1024], token[4096], auth[4200];
    EVP_PKEY *k;
    struct tresp r;
    json_t *j;

    skip_if_501("/lab/results-secure");
    snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", env.issuer_port);
    k = EVP_RSA_gen(2048);
    cr_assert_not_null(k);
    publish_issuer(k, issuer);
    make_token(k, issuer, token, sizeof token);
    EVP_PKEY_free(k);
    snprintf(jwt, sizeof jwt,
             "{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":[\"lab-api\"],"
             "\"jwks_uri\":\"%s/jwks.json\",\"algorithms\":[\"RS256\"],"
             "\"allow_insecure_http\":true}]}",
             issuer, issuer);
    cr_assert_eq(tsrv_stop(&env.lab), 0);
    start_labgate(jwt, "{}");

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    post("/lab/results-secure", (const char *[]){auth, NULL},
         "{\"status\":\"pass\",\"suite\":\"secure\"}", NULL, &r);
    j = expect_stored(&r, "jwt");
    cr_assert_str_eq(ident_field(j, "issuer"), issuer);
    cr_assert_str_eq(ident_field(j, "subject"),
                     "repo:octo/lab:ref:refs/heads/main");
    cr_assert_str_eq(ident_field(j, "repository"), "octo/lab");
    json_decref(j);
    tresp_free(&r);

    post("/lab/results-secure", NULL, "{\"status\":\"pass\",\"suite\":\"s\"}",
         NULL, &r);
    cr_assert_eq(r.status, 401, "%s", r.body);
    tresp_free(&r);
}

Test(nginx_tls, sigv4_route_signed_for_the_public_host)
{
    static const char akid[] = "AKIDLABGATETLS000001";
    static const char secret[] = "tls/test/secret/0123456789abcdefghijklmn";
    char iam[1024], user[128];
    struct tresp r;
    json_t *j;

    skip_if_501("/lab/results-ci");
    snprintf(iam, sizeof iam,
             "{\"region\":\"eu-north-1\",\"account\":\"123456789012\","
             "\"static_keys\":[{"
             "\"access_key_id\":\"%s\",\"secret_access_key\":\"%s\","
             "\"principal_arn\":\"arn:aws:iam::123456789012:user/tls-ci\","
             "\"policy\":{\"Version\":\"2012-10-17\",\"Statement\":{"
             "\"Effect\":\"Allow\",\"Action\":\"execute-api:Invoke\","
             "\"Resource\":\"*\"}}}]}",
             akid, secret);
    cr_assert_eq(tsrv_stop(&env.lab), 0);
    start_labgate("{}", iam);

    /* libcurl signs the Host it sends: labgate.test:PORT, the public one. */
    snprintf(user, sizeof user, "%s:%s", akid, secret);
    post("/lab/results-ci", NULL, "{\"status\":\"pass\",\"suite\":\"ci\"}",
         user, &r);
    j = expect_stored(&r, "iam");
    cr_assert_str_eq(ident_field(j, "principal_arn"),
                     "arn:aws:iam::123456789012:user/tls-ci");
    cr_assert_str_eq(ident_field(j, "access_key_id"), akid);
    json_decref(j);
    tresp_free(&r);

    /* Unsigned, the same request is refused. */
    post("/lab/results-ci", NULL, "{\"status\":\"pass\",\"suite\":\"ci\"}",
         NULL, &r);
    cr_assert_eq(r.status, 403, "%s", r.body);
    tresp_free(&r);
}
