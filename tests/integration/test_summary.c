/*
 * The dashboard's server side over real HTTP: GET /lab/summary from the
 * aggregate, the long-poll feed (GET /lab/results?after=ID&wait=S), the
 * bound on concurrent watchers, and read credentials on a listener that
 * is not loopback-only.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tissuer.h"
#include "tsupport.h"

/* SHA-256 of "s3cret-read-token". */
#define READ_TOKEN "s3cret-read-token"
#define READ_HASH                                                              \
    "59d6b48dc722b3c9e545480d81bd0a537ddc203f3c548d9ddd52bb28dbd3568c"

static struct tsrv srv;

static void
start(const char *config, const char *listen)
{
    const char *extra[] = {"--listen", listen, NULL};

    tsrv_init(&srv);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, config), 0);
    cr_assert_eq(tsrv_start(&srv, listen ? extra : NULL), 0,
                 "server did not start");
}

static void
setup(void)
{
    start("{\"listen\":\"127.0.0.1:0\",\"database\":\"x.db\",\"jwt\":{},"
          "\"iam\":{},\"limits\":{\"max_watchers\":1}}",
          NULL);
}

static void
teardown(void)
{
    cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
}

TestSuite(summary, .init = setup, .fini = teardown, .timeout = 60);

static json_t *
get_json(const char *path, long status)
{
    struct tresp r;
    json_t *j;

    cr_assert_eq(thttp_get(&srv, path, &r), 0);
    cr_assert_eq(r.status, status, "%s: %ld %s", path, r.status, r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "not JSON: %s", r.body);
    tresp_free(&r);
    return j;
}

static long long
post(const char *suite, const char *status)
{
    char body[256];
    struct tresp r;
    json_t *j;
    long long id;

    snprintf(body, sizeof body, "{\"suite\":\"%s\",\"status\":\"%s\"}", suite,
             status);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results", body, &r), 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    tresp_free(&r);
    return id;
}

static const char *
str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

Test(summary, empty_store_has_no_cells_and_last_id_0)
{
    json_t *j = get_json("/lab/summary", 200);

    cr_assert_eq(json_array_size(json_object_get(j, "cells")), 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "last_id")), 0);
    cr_assert_not_null(str(j, "generated_at"));
    json_decref(j);
}

Test(summary, one_cell_per_suite_and_path_with_counts_recent_and_identity)
{
    json_t *j, *cells, *c, *counts, *last;

    post("api", "pass");
    post("api", "fail");
    post("api", "error");
    post("web", "skip");
    j = get_json("/lab/summary", 200);
    cells = json_object_get(j, "cells");
    cr_assert_eq(json_array_size(cells), 2);
    cr_assert_eq(json_integer_value(json_object_get(j, "last_id")), 4);
    c = json_array_get(cells, 0);
    cr_assert_str_eq(str(c, "suite"), "api");
    cr_assert_str_eq(str(c, "auth"), "none");
    cr_assert_str_eq(str(c, "status"), "error");
    cr_assert_eq(json_integer_value(json_object_get(c, "last_id")), 3);
    cr_assert_str_eq(str(c, "recent"), "PFE");
    counts = json_object_get(c, "counts");
    cr_assert_eq(json_integer_value(json_object_get(counts, "pass")), 1);
    cr_assert_eq(json_integer_value(json_object_get(counts, "fail")), 1);
    cr_assert_eq(json_integer_value(json_object_get(counts, "error")), 1);
    cr_assert_eq(json_integer_value(json_object_get(counts, "skip")), 0);
    last = json_object_get(c, "last");
    cr_assert_eq(json_integer_value(json_object_get(last, "id")), 3);
    cr_assert_str_eq(str(last, "principal"), "127.0.0.1");
    cr_assert_str_eq(str(json_object_get(last, "identity"), "source_addr"),
                     "127.0.0.1");
    cr_assert_null(json_object_get(last, "payload"));
    cr_assert_str_eq(str(c, "last_at"), str(last, "received_at"));
    c = json_array_get(cells, 1);
    cr_assert_str_eq(str(c, "suite"), "web");
    cr_assert_str_eq(str(c, "status"), "skip");
    json_decref(j);
}

Test(summary, recent_keeps_the_last_twenty_and_can_be_shortened)
{
    json_t *j;

    for (int i = 0; i < 22; i++)
        post("s", i % 2 ? "fail" : "pass");
    j = get_json("/lab/summary", 200);
    cr_assert_str_eq(
        str(json_array_get(json_object_get(j, "cells"), 0), "recent"),
        "PFPFPFPFPFPFPFPFPFPF");
    json_decref(j);
    j = get_json("/lab/summary?recent=3", 200);
    cr_assert_str_eq(
        str(json_array_get(json_object_get(j, "cells"), 0), "recent"), "FPF");
    json_decref(j);
}

/*
 * Answers are written without jansson (result_write_json): a User-Agent
 * that is not UTF-8 and a row whose payload and claims are not JSON
 * (written behind labgate's back) must still give valid JSON, with the
 * bad bytes replaced and the text that is not JSON as a string.
 */
Test(summary, answers_stay_json_with_bytes_and_rows_labgate_did_not_write)
{
    const char *hdr[] = {"Content-Type: application/json",
                         "User-Agent: ci\xff/1", NULL};
    const char *body = "{\"suite\":\"u\",\"status\":\"pass\"}";
    char url[128];
    struct tresp r;
    sqlite3 *h;
    json_t *j, *res;

    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, hdr, body, strlen(body), &r), 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "201 body is not JSON: %s", r.body);
    cr_assert_str_eq(str(json_object_get(j, "identity"), "user_agent"),
                     "ci\xef\xbf\xbd/1");
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(sqlite3_open(srv.db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    cr_assert_eq(sqlite3_exec(h,
                              "UPDATE results SET payload = '{not json', "
                              "claims = 'x\"y' WHERE id = 1",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);

    j = get_json("/lab/results/1", 200);
    cr_assert_str_eq(str(j, "payload"), "{not json");
    cr_assert_str_eq(str(json_object_get(j, "identity"), "claims"), "x\"y");
    cr_assert_str_eq(str(json_object_get(j, "identity"), "user_agent"),
                     "ci\xef\xbf\xbd/1");
    json_decref(j);
    j = get_json("/lab/results", 200);
    res = json_array_get(json_object_get(j, "results"), 0);
    cr_assert_str_eq(str(res, "payload"), "{not json");
    cr_assert_str_eq(str(json_object_get(res, "identity"), "claims"), "x\"y");
    json_decref(j);
    j = get_json("/lab/summary", 200);
    res = json_object_get(json_array_get(json_object_get(j, "cells"), 0),
                          "last");
    cr_assert_null(json_object_get(res, "payload"));
    cr_assert_str_eq(str(json_object_get(res, "identity"), "claims"), "x\"y");
    json_decref(j);
}

Test(summary, bad_query_is_400_naming_the_parameter)
{
    json_t *j = get_json("/lab/summary?recent=21", 400);

    cr_assert_str_eq(str(j, "message"),
                     "recent: expected an integer from 1 to 20");
    json_decref(j);
    j = get_json("/lab/summary?colour=x", 400);
    cr_assert_str_eq(str(j, "message"), "colour: unknown query parameter");
    json_decref(j);
}

/* The suites of the cells of GET path, joined by spaces. */
static void
cell_suites(const char *path, char *out, size_t n, json_t **next)
{
    json_t *j = get_json(path, 200), *cells = json_object_get(j, "cells");
    size_t i;
    json_t *c;

    out[0] = '\0';
    json_array_foreach(cells, i, c) {
        strncat(out, i ? " " : "", n - strlen(out) - 1);
        strncat(out, str(c, "suite"), n - strlen(out) - 1);
    }
    *next = json_incref(json_object_get(j, "next_after"));
    cr_assert_not_null(*next, "%s: no next_after", path);
    json_decref(j);
}

static void
expect_page(const char *path, const char *suites, const char *next_after)
{
    char got[256];
    json_t *next;

    cell_suites(path, got, sizeof got, &next);
    cr_assert_str_eq(got, suites, "%s", path);
    if (next_after == NULL)
        cr_assert(json_is_null(next), "%s: next_after %s", path,
                  json_string_value(next));
    else
        cr_assert_str_eq(json_string_value(next), next_after, "%s", path);
    json_decref(next);
}

Test(summary, suite_prefix_and_auth_narrow_it_and_limit_pages_it)
{
    json_t *j;

    post("api", "pass");
    post("api-v2", "fail");
    post("apx", "pass");
    post("b", "skip");
    post("team:x", "pass");
    post("team:y", "error");
    expect_page("/lab/summary", "api api-v2 apx b team:x team:y", NULL);
    expect_page("/lab/summary?suite=api-v2", "api-v2", NULL);
    expect_page("/lab/summary?prefix=api", "api api-v2", NULL);
    expect_page("/lab/summary?prefix=team%3A", "team:x team:y", NULL);
    expect_page("/lab/summary?auth=none&prefix=ap&limit=1", "api",
                "none:api");
    expect_page("/lab/summary?auth=jwt", "", NULL);
    /* Page through everything, two cells at a time. */
    expect_page("/lab/summary?limit=2", "api api-v2", "none:api-v2");
    expect_page("/lab/summary?limit=2&after=none:api-v2", "apx b",
                "none:b");
    expect_page("/lab/summary?limit=2&after=none:b", "team:x team:y", NULL);
    /* The cursor splits at its first colon: suites may contain one. */
    expect_page("/lab/summary?after=none:team:x", "team:y", NULL);
    expect_page("/lab/summary?limit=6", "api api-v2 apx b team:x team:y",
                NULL);
    /* The head still covers every result, whatever the filter. */
    j = get_json("/lab/summary?suite=b", 200);
    cr_assert_eq(json_integer_value(json_object_get(j, "last_id")), 6);
    cr_assert_str_eq(
        str(json_array_get(json_object_get(j, "cells"), 0), "status"),
        "skip");
    json_decref(j);
}

Test(summary, bad_filters_and_cursors_are_400)
{
    static const char *const cases[][2] = {
        {"/lab/summary?limit=0", "limit: expected an integer from 1 to 10000"},
        {"/lab/summary?limit=10001",
         "limit: expected an integer from 1 to 10000"},
        {"/lab/summary?limit=-1", "limit: expected an integer from 1 to 10000"},
        {"/lab/summary?recent=+3", "recent: expected an integer from 1 to 20"},
        {"/lab/summary?auth=root", "auth: must be none, jwt or iam"},
        {"/lab/summary?suite=", "suite: must not be empty"},
        {"/lab/summary?prefix=", "prefix: must not be empty"},
        {"/lab/summary?after=api",
         "after: expected AUTH:SUITE, the next_after of the previous page"},
        {"/lab/summary?after=none:",
         "after: expected AUTH:SUITE, the next_after of the previous page"},
        {"/lab/summary?after=root:api",
         "after: expected AUTH:SUITE, the next_after of the previous page"},
        {"/lab/summary?suite=%zz", "query: badly encoded or too long "
                                   "parameter"},
    };
    json_t *j;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        j = get_json(cases[i][0], 400);
        cr_assert_str_eq(str(j, "message"), cases[i][1], "%s", cases[i][0]);
        json_decref(j);
    }
}

Test(summary, after_lists_oldest_first_without_waiting)
{
    json_t *j, *list;

    post("a", "pass");
    post("b", "pass");
    post("c", "pass");
    j = get_json("/lab/results?after=1", 200);
    list = json_object_get(j, "results");
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(list, 0), "id")), 2);
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(list, 1), "id")), 3);
    cr_assert(json_is_null(json_object_get(j, "next_before")));
    json_decref(j);
    j = get_json("/lab/results?after=0&limit=1", 200);
    cr_assert_str_eq(
        str(json_array_get(json_object_get(j, "results"), 0), "suite"), "a");
    json_decref(j);
}

Test(summary, wait_without_after_and_bad_wait_are_400)
{
    json_t *j = get_json("/lab/results?wait=5", 400);

    cr_assert_str_eq(str(j, "message"), "wait: only with after=ID");
    json_decref(j);
    j = get_json("/lab/results?after=0&wait=61", 400);
    cr_assert_str_eq(str(j, "message"), "wait: expected seconds from 0 to 60");
    json_decref(j);
    j = get_json("/lab/results?after=-1", 400);
    cr_assert_str_eq(str(j, "message"), "after: expected an id of 0 or more");
    json_decref(j);
    j = get_json("/lab/results?after=1&before=5", 400);
    cr_assert_str_eq(str(j, "message"),
                     "before: cannot be combined with after");
    json_decref(j);
}

struct poll_call {
    const char *path;
    struct tresp r;
    double seconds;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
poll_thread(void *arg)
{
    struct poll_call *p = arg;
    double t0 = now_s();

    thttp_get(&srv, p->path, &p->r);
    p->seconds = now_s() - t0;
    return NULL;
}

Test(summary, long_poll_answers_as_soon_as_a_result_is_committed)
{
    struct poll_call p = {"/lab/results?after=1&wait=20", {0}, 0};
    pthread_t t;
    json_t *j;

    post("first", "pass");
    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    usleep(300000);
    post("second", "fail");
    pthread_join(t, NULL);
    cr_assert_eq(p.r.status, 200, "%s", p.r.body);
    /* Well before the 20 s wait ran out. */
    cr_assert_lt(p.seconds, 10.0);
    j = json_loads(p.r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 1);
    cr_assert_str_eq(
        str(json_array_get(json_object_get(j, "results"), 0), "suite"),
        "second");
    json_decref(j);
    tresp_free(&p.r);
}

Test(summary, long_poll_with_nothing_new_answers_empty_after_the_wait)
{
    struct poll_call p = {"/lab/results?after=0&wait=1", {0}, 0};

    poll_thread(&p);
    cr_assert_eq(p.r.status, 200);
    cr_assert_str_eq(p.r.body, "{\"results\":[],\"next_before\":null}");
    cr_assert_geq(p.seconds, 0.9);
    tresp_free(&p.r);
}

Test(summary, long_poll_ignores_commits_that_do_not_match_its_filter)
{
    struct poll_call p = {"/lab/results?after=0&wait=20&suite=wanted", {0}, 0};
    pthread_t t;
    json_t *j;

    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    usleep(200000);
    post("other", "pass");
    usleep(200000);
    post("wanted", "pass");
    pthread_join(t, NULL);
    j = json_loads(p.r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 1);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_array_get(json_object_get(j, "results"), 0), "id")),
                 2);
    json_decref(j);
    tresp_free(&p.r);
}

Test(summary, watchers_past_the_limit_get_503_and_posts_still_work)
{
    struct poll_call p = {"/lab/results?after=0&wait=20", {0}, 0};
    struct tresp r;
    pthread_t t;
    char retry[16];
    json_t *j;

    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    usleep(300000);
    cr_assert_eq(thttp_get(&srv, "/lab/results?after=0&wait=5", &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_str_eq(str(j, "message"), "too many watchers: at most 1 "
                                        "long-polls may wait at once; retry "
                                        "later");
    json_decref(j);
    cr_assert_eq(tresp_header(&r, "Retry-After", retry, sizeof retry), 0);
    cr_assert_str_eq(retry, "5");
    tresp_free(&r);
    /* A plain read and a post are not watchers. */
    j = get_json("/lab/summary", 200);
    json_decref(j);
    post("unblock", "pass");
    pthread_join(t, NULL);
    cr_assert_eq(p.r.status, 200);
    tresp_free(&p.r);
}

Test(summary, shutdown_ends_waiting_long_polls_at_once)
{
    struct poll_call p = {"/lab/results?after=0&wait=60", {0}, 0};
    pthread_t t;
    double t0;

    cr_assert_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
    usleep(300000);
    t0 = now_s();
    cr_assert_eq(tsrv_stop(&srv), 0);
    pthread_join(t, NULL);
    cr_assert_lt(now_s() - t0, 10.0, "shutdown waited for the long-poll");
    tresp_free(&p.r);
    /* teardown starts nothing: restart so it has a server to stop. */
    cr_assert_eq(tsrv_start(&srv, NULL), 0);
}

/*
 * Read credentials: the listener is not loopback-only here (0.0.0.0; the
 * test still talks to 127.0.0.1), and the JWT section trusts a test OIDC
 * issuer on loopback.
 */
static struct tissuer *ti;

static void
setup_open_listener(void)
{
    char cfg[2048];

    ti = tissuer_start();
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"x.db\",\"iam\":{},"
             "\"jwt\":{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":"
             "[\"lab-api\"],\"algorithms\":[\"RS256\",\"ES256\"],"
             "\"allow_insecure_http\":true}]},"
             "\"read\":{\"token_sha256\":[\"" READ_HASH "\"]}}",
             tissuer_url(ti));
    start(cfg, "0.0.0.0:0");
}

static void
teardown_open_listener(void)
{
    teardown();
    tissuer_free(ti);
}

TestSuite(readauth, .init = setup_open_listener, .fini = teardown_open_listener,
          .timeout = 60);

static void
expect_read(const char *auth, long status, const char *message)
{
    char url[128], hdr[8192];
    const char *headers[] = {hdr, NULL};
    struct tresp r;
    json_t *j;

    snprintf(url, sizeof url, "%s/lab/summary", srv.base);
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth ? auth : "");
    cr_assert_eq(thttp("GET", url, auth ? headers : NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, status, "%ld %s", r.status, r.body);
    if (message != NULL) {
        j = json_loads(r.body, 0, NULL);
        cr_assert_str_eq(str(j, "message"), message);
        json_decref(j);
    }
    tresp_free(&r);
}

Test(readauth, no_credential_is_401)
{
    expect_read(NULL, 401,
                "read access needs a credential: Authorization: Bearer "
                "<read token>");
}

Test(readauth, configured_read_token_is_accepted)
{
    expect_read("Bearer " READ_TOKEN, 200, NULL);
}

Test(readauth, wrong_token_and_wrong_scheme_are_401)
{
    expect_read("Bearer s3cret-read-tokem", 401, "read token not recognised");
    expect_read("Basic " READ_TOKEN, 401,
                "Authorization: expected Bearer <read token>");
}

/* "Bearer " and a token from the test issuer with extra claims. */
static char *
jwt_auth(const char *extra)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 300, extra);
    char *token = tissuer_token(ti, TISSUER_KID_RSA, claims);
    size_t n = strlen(token) + 8;
    char *auth = malloc(n);

    snprintf(auth, n, "Bearer %s", token);
    free(claims);
    free(token);
    return auth;
}

Test(readauth, jwt_with_the_read_scope_is_accepted)
{
    char *auth = jwt_auth(",\"scope\":\"openid read\"");

    expect_read(auth, 200, NULL);
    free(auth);
}

Test(readauth, jwt_without_the_read_scope_is_403)
{
    char *auth = jwt_auth(",\"scope\":\"write\"");

    expect_read(auth, 403, "read access needs the read scope");
    free(auth);
}

Test(readauth, jwt_from_an_untrusted_or_forged_source_is_401)
{
    expect_read("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", 401,
                "read credential not accepted");
}

Test(readauth, posts_on_the_open_route_need_no_read_credential)
{
    post("x", "pass");
}

Test(readauth_config, bad_token_hash_stops_the_server_naming_the_key)
{
    char out[4096], cfg[256];
    char dir[] = "/tmp/labgate-readcfg-XXXXXX";
    const char *args[] = {"--config", cfg, NULL};

    cr_assert_not_null(mkdtemp(dir));
    snprintf(cfg, sizeof cfg, "%s/c.json", dir);
    tsupport_write_file(cfg, "{\"listen\":\"127.0.0.1:0\",\"database\":"
                             "\"x.db\",\"jwt\":{},\"iam\":{},\"read\":"
                             "{\"token_sha256\":[\"abc\"]}}");
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "read.token_sha256[0]: expected 64 hex digits") !=
                  NULL,
              "%s", out);
    tsupport_write_file(cfg, "{\"listen\":\"127.0.0.1:0\",\"database\":"
                             "\"x.db\",\"jwt\":{},\"iam\":{},\"read\":"
                             "{\"tokens\":[]}}");
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "read.tokens: unknown key") != NULL, "%s", out);
    unlink(cfg);
    rmdir(dir);
}
