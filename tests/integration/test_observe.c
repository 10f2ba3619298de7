/*
 * /metrics and /readyz on the real server: counts that follow from the
 * requests the test sent, a parse of the whole exposition, and readiness
 * that turns 503 while another process holds the database's write lock
 * and back to 200 once it lets go.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsupport.h"

static struct tsrv srv;

static void
setup(void)
{
    tsrv_init(&srv);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

/* Safe to call twice: Criterion does not run .fini after cr_skip. */
static void
teardown(void)
{
    if (srv.pid > 0)
        cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    if (srv.dir[0] != '\0')
        tsrv_cleanup(&srv);
    srv.dir[0] = '\0';
}

TestSuite(observe, .init = setup, .fini = teardown, .timeout = 60);

/* The value of the sample whose name and labels are exactly series. */
static double
sample(const char *body, const char *series)
{
    size_t n = strlen(series);
    const char *p = body;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    cr_assert_fail("no sample %s in:\n%s", series, body);
    return -1;
}

/*
 * Every line is a comment or "name{labels} value" with a number that
 * parses; bucket counts never decrease within a series.
 */
static void
check_exposition(const char *body)
{
    char *copy = strdup(body), *save = NULL, prev_series[256] = "";
    double prev = 0;

    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' '), *end, *le;
        double v;
        if (line[0] == '#') {
            cr_assert(strncmp(line, "# HELP labgate_", 15) == 0 ||
                          strncmp(line, "# TYPE labgate_", 15) == 0,
                      "%s", line);
            continue;
        }
        cr_assert(strncmp(line, "labgate_", 8) == 0, "%s", line);
        cr_assert_not_null(sp, "%s", line);
        v = strtod(sp + 1, &end);
        cr_assert(*end == '\0' && v >= 0, "bad value: %s", line);
        le = strstr(line, "le=\"");
        if (le == NULL)
            continue;
        if (strncmp(line, prev_series, (size_t)(le - line)) == 0 &&
            strlen(prev_series) == (size_t)(le - line))
            cr_assert(v >= prev, "buckets decrease at %s", line);
        snprintf(prev_series, sizeof prev_series, "%.*s", (int)(le - line),
                 line);
        prev = v;
    }
    free(copy);
}

Test(observe, metrics_count_what_happened)
{
    struct tresp r;
    char ctype[128];

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                     "{\"status\":\"pass\",\"suite\":\"m\"}",
                                     &r),
                     0);
        cr_assert_eq(r.status, 201);
        tresp_free(&r);
    }
    cr_assert_eq(thttp_post_json(&srv, "/lab/results", "{", &r), 0);
    cr_assert_eq(r.status, 400);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/nowhere", &r), 0);
    cr_assert_eq(r.status, 404);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/metrics", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(tresp_header(&r, "Content-Type", ctype, sizeof ctype), 0);
    cr_assert_str_eq(ctype, "text/plain; version=0.0.4; charset=utf-8");
    check_exposition(r.body);
    cr_assert_eq(sample(r.body, "labgate_http_requests_total{method=\"POST\","
                                "route=\"/lab/results\",status=\"201\"}"),
                 3);
    cr_assert_eq(sample(r.body, "labgate_http_requests_total{method=\"POST\","
                                "route=\"/lab/results\",status=\"400\"}"),
                 1);
    cr_assert_eq(sample(r.body, "labgate_http_requests_total{method=\"\","
                                "route=\"unmatched\",status=\"404\"}"),
                 1);
    cr_assert_eq(sample(r.body, "labgate_http_request_duration_seconds_count"
                                "{method=\"POST\",route=\"/lab/results\"}"),
                 4);
    /* Three rows, however they were grouped into commits. */
    cr_assert_eq(sample(r.body, "labgate_store_commit_batch_rows_sum"), 3);
    cr_assert_eq(sample(r.body, "labgate_store_commit_batch_rows_count"),
                 sample(r.body, "labgate_store_commits_total{result=\"ok\"}"));
    cr_assert_eq(
        sample(r.body, "labgate_store_commits_total{result=\"error\"}"), 0);
    cr_assert_eq(sample(r.body, "labgate_watchers"), 0);
    cr_assert_eq(
        sample(r.body, "labgate_build_info{version=\"" LABGATE_VERSION "\"}"),
        1);
    tresp_free(&r);

    /* The scrape itself is counted by the next one. */
    cr_assert_eq(thttp_get(&srv, "/metrics", &r), 0);
    cr_assert_eq(sample(r.body, "labgate_http_requests_total{method=\"GET\","
                                "route=\"/metrics\",status=\"200\"}"),
                 1);
    tresp_free(&r);
}

Test(observe, readyz_follows_the_write_lock)
{
    struct tresp r;
    sqlite3 *db;

    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"status\":\"ready\",\"checks\":{\"store\":"
                             "\"writable\",\"keys\":\"loaded\"}}");
    tresp_free(&r);

    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert_str_eq(r.body,
                     "{\"message\":\"not ready: store: database is locked\"}");
    tresp_free(&r);
    /* Alive all the same. */
    cr_assert_eq(thttp_get(&srv, "/healthz", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    tresp_free(&r);
    cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    tresp_free(&r);
    /* The checks wrote nothing. */
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    {
        sqlite3_stmt *q;
        cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM results", -1,
                                        &q, NULL),
                     SQLITE_OK);
        cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
        cr_assert_eq(sqlite3_column_int(q, 0), 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}

Test(observe, readyz_refuses_a_read_only_database)
{
    struct tresp r;
    char cmd[1024];

    /* chmod does not stop root, whose writes always succeed. */
    if (geteuid() == 0) {
        teardown();
        cr_skip("running as root: file permissions do not apply");
    }
    snprintf(cmd, sizeof cmd, "chmod 0444 '%s'", srv.db);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strstr(r.body, "not ready: store:") != NULL, "%s", r.body);
    tresp_free(&r);
    snprintf(cmd, sizeof cmd, "chmod 0644 '%s'", srv.db);
    cr_assert_eq(system(cmd), 0);
}

Test(observe, refused_requests_are_counted_without_latency)
{
    static char big[40000];
    const char *hdr[] = {big, NULL};
    struct tresp r;
    char url[128], series[160];
    long status;

    /*
     * CivetWeb refuses this itself: the head is over its buffer, twice
     * limits.max_header_bytes (docs/limits.md), so no route ever runs.
     */
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', sizeof big - 8);
    snprintf(url, sizeof url, "%s/healthz", srv.base);
    cr_assert_eq(thttp("GET", url, hdr, NULL, 0, &r), 0);
    status = r.status;
    cr_assert(status == 400 || status == 431, "%ld %s", status, r.body);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/metrics", &r), 0);
    snprintf(series, sizeof series,
             "labgate_http_requests_total{method=\"\",route=\"unmatched\","
             "status=\"%ld\"}",
             status);
    cr_assert_eq(sample(r.body, series), 1);
    cr_assert_eq(sample(r.body, "labgate_http_request_duration_seconds_count"
                                "{method=\"\",route=\"unmatched\"}"),
                 0);
    tresp_free(&r);
}

/*
 * The exposition read by the Prometheus project's own Python parser
 * (python3-prometheus-client), which also checks every histogram.
 */
Test(observe, official_parser_reads_the_exposition)
{
    static const char *const families[] = {
        "labgate_http_requests counter",
        "labgate_http_request_duration_seconds histogram",
        "labgate_auth_failures counter",
        "labgate_store_commits counter",
        "labgate_store_commit_duration_seconds histogram",
        "labgate_store_commit_batch_rows histogram",
        "labgate_jwks_fetches counter",
        "labgate_jwks_fetch_failures counter",
        "labgate_sts_credentials_issued counter",
        "labgate_watchers gauge",
        "labgate_build_info gauge",
        "labgate_start_time_seconds gauge"};
    char path[600], cmd[1400], out[8192] = "\n";
    struct tresp r;
    FILE *p;
    size_t n;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"p\"}", &r),
                 0);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/metrics", &r), 0);
    snprintf(path, sizeof path, "%s/metrics.txt", srv.dir);
    cr_assert_eq(tsupport_write_file(path, r.body), 0);
    tresp_free(&r);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 " LABGATE_SOURCE_DIR
             "/tests/support/parse_metrics.py '%s' 2>&1",
             path);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out + 1, 1, sizeof out - 2, p);
    out[n + 1] = '\0';
    cr_assert_eq(pclose(p), 0, "parser refused the exposition: %s", out);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "\n%s ", families[i]);
        cr_assert(strstr(out, want) != NULL, "family '%s' missing from:%s",
                  families[i], out);
    }
}

/* How many threads of the server are named name (/proc/PID/task). */
static int
threads_named(const char *name)
{
    char cmd[256], line[64];
    int n = 0;
    FILE *f;

    snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/comm", (int)srv.pid);
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        n += strcmp(line, name) == 0;
    }
    pclose(f);
    return n;
}

/* The threads docs/design.md lists carry their names, one each. */
Test(observe, store_threads_are_named)
{
    cr_assert_eq(threads_named("labgate-writer"), 1);
    cr_assert_eq(threads_named("labgate-sync"), 1);
    cr_assert_eq(threads_named("labgate-server"), 1);
    cr_assert_gt(threads_named("civetweb-worker"), 0);
}
