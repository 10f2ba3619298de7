/*
 * Test support implementation.  The server's stderr goes to a log file in
 * the test's temporary directory; the "event=listening" line tells the
 * port it bound (the tests ask for port 0, so parallel tests never
 * collide).
 */
#define _XOPEN_SOURCE 700

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsupport.h"

#ifndef LABGATE_SERVER_BIN
#error "LABGATE_SERVER_BIN must name the labgate-server binary"
#endif

void
tsrv_init(struct tsrv *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/labgate-test-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(s->db, sizeof s->db, "%s/labgate.db", s->dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
}

static void
tsrv_print_log(const struct tsrv *s)
{
    char line[1024];
    FILE *f = fopen(s->log, "r");

    if (f == NULL)
        return;
    fprintf(stderr, "--- %s\n", s->log);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

/* Find " port=N" on the server's "event=listening" log line. */
static int
tsrv_read_port(const struct tsrv *s)
{
    char line[2048];
    int port = -1;
    FILE *f = fopen(s->log, "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        char *p;
        if (strstr(line, "event=listening") == NULL)
            continue;
        p = strstr(line, " port=");
        if (p != NULL)
            port = atoi(p + 6);
    }
    fclose(f);
    return port;
}

static void
tsrv_exec(const struct tsrv *s, const char *const *extra, int logfd)
{
    const char *argv[64];
    int n = 0;

    argv[n++] = LABGATE_SERVER_BIN;
    if (s->config[0] != '\0') {
        argv[n++] = "--config";
        argv[n++] = s->config;
    }
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--db";
    argv[n++] = s->db;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    dup2(logfd, 2);
    dup2(logfd, 1);
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

int
tsrv_start(struct tsrv *s, const char *const *extra)
{
    int logfd, status;

    logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (logfd < 0)
        return -1;
    s->pid = fork();
    if (s->pid == 0)
        tsrv_exec(s, extra, logfd);
    close(logfd);
    for (int i = 0; i < 1000; i++) {
        int port = tsrv_read_port(s);
        if (port > 0) {
            s->port = port;
            snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", port);
            return 0;
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            tsrv_print_log(s);
            return -1;
        }
        usleep(10000);
    }
    tsrv_print_log(s);
    tsrv_kill9(s);
    return -1;
}

int
tsrv_stop(struct tsrv *s)
{
    int status;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    if (waitpid(s->pid, &status, 0) != s->pid)
        return -1;
    s->pid = 0;
    if (!WIFEXITED(status)) {
        tsrv_print_log(s);
        return -1;
    }
    if (WEXITSTATUS(status) != 0)
        tsrv_print_log(s);
    return WEXITSTATUS(status);
}

void
tsrv_kill9(struct tsrv *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static int
tsrv_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
tsrv_cleanup(struct tsrv *s)
{
    tsrv_kill9(s);
    if (s->dir[0] != '\0' && getenv("LABGATE_KEEP_TMP") == NULL)
        nftw(s->dir, tsrv_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int
tsrv_run_cli(const char *const *extra, char *out, size_t n)
{
    const char *argv[32];
    int fds[2], status, k = 0;
    size_t got = 0;
    ssize_t r;
    pid_t pid;

    argv[k++] = LABGATE_SERVER_BIN;
    for (int i = 0; extra && extra[i] && k < 31; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    while (got + 1 < n && (r = read(fds[0], out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
tsrv_count_rows(const struct tsrv *s, const char *where)
{
    char sql[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *q;
    int n = -1;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM results %s", where);
    if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return n;
}

int
tsrv_log_has(const struct tsrv *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    char *text;
    long n;
    int found;

    /* An unreadable log must fail the test, never read as "absent". */
    if (f == NULL) {
        perror(s->log);
        abort();
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
        perror(s->log);
        abort();
    }
    fclose(f);
    found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

int
tsupport_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

struct tsupport_sink {
    char *data;
    size_t len;
};

static size_t
tsupport_collect(char *p, size_t size, size_t nmemb, void *arg)
{
    struct tsupport_sink *s = arg;
    size_t n = size * nmemb;
    char *d = realloc(s->data, s->len + n + 1);

    if (d == NULL)
        return 0;
    memcpy(d + s->len, p, n);
    s->len += n;
    d[s->len] = '\0';
    s->data = d;
    return n;
}

int
thttp(const char *method, const char *url, const char *const *headers,
      const char *body, size_t body_len, struct tresp *out)
{
    struct tsupport_sink b = {NULL, 0}, h = {NULL, 0};
    struct curl_slist *list = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc;

    memset(out, 0, sizeof *out);
    if (c == NULL)
        return -1;
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tsupport_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tsupport_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)body_len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    out->body = b.data ? b.data : strdup("");
    out->len = b.len;
    out->headers = h.data ? h.data : strdup("");
    return rc == CURLE_OK ? 0 : -1;
}

int
thttp_post_json(const struct tsrv *s, const char *path, const char *body,
                struct tresp *out)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    char url[1024];

    snprintf(url, sizeof url, "%s%s", s->base, path);
    return thttp("POST", url, hdr, body, strlen(body), out);
}

int
thttp_get(const struct tsrv *s, const char *path, struct tresp *out)
{
    char url[2048];

    snprintf(url, sizeof url, "%s%s", s->base, path);
    return thttp("GET", url, NULL, NULL, 0, out);
}

int
tresp_header(const struct tresp *r, const char *name, char *out, size_t n)
{
    size_t len = strlen(name);

    const char *p = r->headers;

    while (p != NULL && *p != '\0') {
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            const char *v = p + len + 1, *end;
            while (*v == ' ')
                v++;
            end = strpbrk(v, "\r\n");
            if (end == NULL)
                end = v + strlen(v);
            snprintf(out, n, "%.*s", (int)(end - v), v);
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

void
tresp_free(struct tresp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}
