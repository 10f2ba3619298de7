/*
 * The real server over real HTTP: every status code of the results API,
 * the stored row behind each 201, filters and pagination.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsupport.h"

static struct tsrv srv;

static void
setup(void)
{
    static const char cfg[] =
        "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
        "\"jwt\":{},\"iam\":{},\"limits\":{\"max_body_bytes\":4096}}";

    tsrv_init(&srv);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

static void
teardown(void)
{
    cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

static json_t *
body_json(const struct tresp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);

    cr_assert_not_null(j, "response is not JSON: %s", r->body);
    return j;
}

static void
expect_error(const struct tresp *r, long status, const char *message)
{
    json_t *j;

    cr_assert_eq(r->status, status, "status %ld, body %s", r->status,
                 r->body);
    j = body_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "message")),
                     message);
    cr_assert_eq(json_object_size(j), 1);
    json_decref(j);
}

static int64_t
post_ok(const char *body)
{
    struct tresp r;
    json_t *j;
    int64_t id;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results", body, &r), 0);
    cr_assert_eq(r.status, 201, "status %ld: %s", r.status, r.body);
    j = body_json(&r);
    id = json_integer_value(json_object_get(j, "id"));
    cr_assert_gt(id, 0);
    json_decref(j);
    tresp_free(&r);
    return id;
}

Test(http, plain_post_stores_row_and_answers_201)
{
    struct tresp r;
    json_t *j, *ident;
    char loc[64], reqid[64], expect[256];
    int64_t id;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"ci\"}",
                                 &r),
                 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = body_json(&r);
    id = json_integer_value(json_object_get(j, "id"));
    cr_assert_eq(id, 1);
    cr_assert_str_eq(json_string_value(json_object_get(j, "suite")), "ci");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")),
                     "pass");
    cr_assert_str_eq(json_string_value(json_object_get(j, "auth")), "none");
    cr_assert_str_eq(json_string_value(json_object_get(j, "route")),
                     "/lab/results");
    ident = json_object_get(j, "identity");
    cr_assert_str_eq(
        json_string_value(json_object_get(ident, "source_addr")),
        "127.0.0.1");
    cr_assert_eq(tresp_header(&r, "X-Request-Id", reqid, sizeof reqid), 0);
    cr_assert_str_eq(
        json_string_value(json_object_get(ident, "request_id")), reqid);
    cr_assert_eq(tresp_header(&r, "Location", loc, sizeof loc), 0);
    cr_assert_str_eq(loc, "/lab/results/1");
    json_decref(j);
    tresp_free(&r);

    snprintf(expect, sizeof expect,
             "WHERE id = 1 AND suite = 'ci' AND status = 'pass' AND "
             "auth = 'none'");
    cr_assert_eq(tsrv_count_rows(&srv, expect), 1);

    cr_assert_eq(thttp_get(&srv, "/lab/results", &r), 0);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 1);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_array_get(json_object_get(j, "results"), 0), "id")),
                 1);
    json_decref(j);
    tresp_free(&r);
}

Test(http, get_one_result_by_id)
{
    struct tresp r;
    json_t *j;
    int64_t id = post_ok("{\"status\":\"fail\",\"suite\":\"one\","
                         "\"message\":\"boom\"}");
    char path[64];

    snprintf(path, sizeof path, "/lab/results/%lld", (long long)id);
    cr_assert_eq(thttp_get(&srv, path, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(j, "payload"), "message")),
                     "boom");
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/lab/results/999", &r), 0);
    expect_error(&r, 404, "result 999 not found");
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/lab/results/abc", &r), 0);
    expect_error(&r, 400, "id: expected a positive integer");
    tresp_free(&r);
}

Test(http, invalid_json_is_400_and_stores_nothing)
{
    struct tresp r;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results", "{\"status\":", &r),
                 0);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "invalid JSON") != NULL, "%s", r.body);
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(http, bad_field_is_400_naming_the_field)
{
    struct tresp r;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"green\",\"suite\":\"x\"}",
                                 &r),
                 0);
    expect_error(&r, 400, "status: must be one of pass, fail, error, skip");
    tresp_free(&r);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"x\","
                                 "\"duration_ms\":\"5\"}",
                                 &r),
                 0);
    expect_error(&r, 400, "duration_ms: must be a non-negative integer");
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(http, oversized_body_is_413)
{
    struct tresp r;
    char *big = malloc(8192);

    /* Valid JSON, so only the size can be the reason for refusing it. */
    snprintf(big, 8192, "{\"status\":\"pass\",\"suite\":\"x\",\"m\":\"%*s\"}",
             8000, "");
    cr_assert_eq(thttp_post_json(&srv, "/lab/results", big, &r), 0);
    expect_error(&r, 413, "body: larger than the limit of 4096 bytes");
    tresp_free(&r);
    free(big);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(http, chunked_oversized_body_is_413)
{
    const char *hdr[] = {"Content-Type: application/json",
                         "Transfer-Encoding: chunked", NULL};
    struct tresp r;
    char url[128], *big = calloc(1, 6000);

    memset(big, 'x', 5999);
    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, hdr, big, 5999, &r), 0);
    expect_error(&r, 413, "body: larger than the limit of 4096 bytes");
    tresp_free(&r);
    free(big);
}

Test(http, wrong_content_type_is_415)
{
    const char *hdr[] = {"Content-Type: text/plain", NULL};
    struct tresp r;
    char url[128];
    const char *body = "{\"status\":\"pass\",\"suite\":\"x\"}";

    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, hdr, body, strlen(body), &r), 0);
    expect_error(&r, 415, "content-type: expected application/json");
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(http, json_content_type_with_charset_is_accepted)
{
    const char *hdr[] = {"Content-Type: Application/JSON; charset=utf-8",
                         NULL};
    struct tresp r;
    char url[128];
    const char *body = "{\"status\":\"pass\",\"suite\":\"x\"}";

    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, hdr, body, strlen(body), &r), 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    tresp_free(&r);
}

Test(http, unknown_path_is_404_and_wrong_method_405)
{
    struct tresp r;
    char url[128], allow[64];

    cr_assert_eq(thttp_get(&srv, "/lab/nothing", &r), 0);
    expect_error(&r, 404, "Not Found: no route for this path");
    tresp_free(&r);
    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("DELETE", url, NULL, NULL, 0, &r), 0);
    expect_error(&r, 405, "method not allowed; use POST, GET");
    cr_assert_eq(tresp_header(&r, "Allow", allow, sizeof allow), 0);
    cr_assert_str_eq(allow, "POST, GET");
    tresp_free(&r);
}

Test(http, authenticated_routes_refuse_unsigned_posts)
{
    struct tresp r;

    cr_assert_eq(thttp_post_json(&srv, "/lab/results-secure",
                                 "{\"status\":\"pass\",\"suite\":\"x\"}",
                                 &r),
                 0);
    /* No token: 401 here; every other case is in test_jwt_route. */
    expect_error(&r, 401, "Unauthorized");
    tresp_free(&r);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results-ci",
                                 "{\"status\":\"pass\",\"suite\":\"x\"}",
                                 &r),
                 0);
    expect_error(&r, 403, "Missing Authentication Token");
    tresp_free(&r);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
}

Test(http, list_filters_and_paginates)
{
    struct tresp r;
    json_t *j, *list;
    int64_t ids[5];
    char path[128];

    ids[0] = post_ok("{\"status\":\"pass\",\"suite\":\"a\"}");
    ids[1] = post_ok("{\"status\":\"fail\",\"suite\":\"b\"}");
    ids[2] = post_ok("{\"status\":\"fail\",\"suite\":\"a\"}");
    ids[3] = post_ok("{\"status\":\"pass\",\"suite\":\"a\"}");
    ids[4] = post_ok("{\"status\":\"skip\",\"suite\":\"a b\"}");

    cr_assert_eq(thttp_get(&srv, "/lab/results?suite=a&limit=2", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    j = body_json(&r);
    list = json_object_get(j, "results");
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(list, 0), "id")),
                 ids[3]);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(list, 1), "id")),
                 ids[2]);
    cr_assert_eq(json_integer_value(json_object_get(j, "next_before")),
                 ids[2]);
    json_decref(j);
    tresp_free(&r);

    snprintf(path, sizeof path, "/lab/results?suite=a&limit=2&before=%lld",
             (long long)ids[2]);
    cr_assert_eq(thttp_get(&srv, path, &r), 0);
    j = body_json(&r);
    list = json_object_get(j, "results");
    cr_assert_eq(json_array_size(list), 1);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(list, 0), "id")),
                 ids[0]);
    cr_assert(json_is_null(json_object_get(j, "next_before")));
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/lab/results?status=fail&auth=none", &r),
                 0);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 2);
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/lab/results?suite=a+b", &r), 0);
    j = body_json(&r);
    list = json_object_get(j, "results");
    cr_assert_eq(json_array_size(list), 1);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(list, 0), "id")),
                 ids[4]);
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/lab/results?principal=127.0.0.1&"
                                 "since=2020-01-01T00:00:00Z",
                           &r),
                 0);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 5);
    json_decref(j);
    tresp_free(&r);

    cr_assert_eq(thttp_get(&srv, "/lab/results?since=2999-01-01", &r), 0);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 0);
    json_decref(j);
    tresp_free(&r);
}

Test(http, bad_list_parameters_are_400)
{
    static const struct {
        const char *query, *message;
    } cases[] = {
        {"?limit=0", "limit: expected an integer from 1 to 1000"},
        {"?limit=1001", "limit: expected an integer from 1 to 1000"},
        {"?auth=ldap", "auth: must be none, jwt or iam"},
        {"?status=ok", "status: must be pass, fail, error or skip"},
        {"?since=yesterday",
         "since: expected an ISO 8601 UTC time or epoch ms"},
        {"?before=-4", "before: expected a positive integer id"},
        {"?colour=red", "colour: unknown query parameter"},
        {"?suite=%zz", "query: badly encoded or too many parameters"},
    };
    struct tresp r;
    char path[128];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/lab/results%s", cases[i].query);
        cr_assert_eq(thttp_get(&srv, path, &r), 0);
        expect_error(&r, 400, cases[i].message);
        tresp_free(&r);
    }
}

Test(http, healthz_is_200_when_store_is_usable)
{
    struct tresp r;

    cr_assert_eq(thttp_get(&srv, "/healthz", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    tresp_free(&r);
}

Test(http, locked_store_answers_503_and_recovers, .timeout = 60)
{
    struct tresp r;
    sqlite3 *db;

    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(thttp_post_json(&srv, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"l\"}",
                                 &r),
                 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strncmp(r.body, "{\"message\":\"result not stored: ", 31) ==
                  0,
              "%s", r.body);
    tresp_free(&r);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_assert_eq(tsrv_count_rows(&srv, ""), 0);
    post_ok("{\"status\":\"pass\",\"suite\":\"l\"}");
    cr_assert_eq(tsrv_count_rows(&srv, "WHERE suite = 'l'"), 1);
}
