/*
 * X-Forwarded-For and trusted_proxies against the real server: the
 * header is believed only from a trusted peer, the right-most untrusted
 * entry is the client, and what the server records as source_addr (in
 * the response and in the SQLite row) follows from that.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "tsupport.h"

static struct tsrv srv;

static void
start_with_proxies(const char *proxies)
{
    char cfg[512];

    tsrv_init(&srv);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"jwt\":{},\"iam\":{},\"trusted_proxies\":%s}",
             proxies);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
}

static void
stop(void)
{
    cr_expect_eq(tsrv_stop(&srv), 0, "server did not exit cleanly");
    tsrv_cleanup(&srv);
}

/* The source_addr stored in the database for id. */
static void
db_source_addr(long long id, char *out, size_t n)
{
    sqlite3 *db;
    sqlite3_stmt *q;

    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT source_addr FROM results "
                                    "WHERE id = ?",
                                    -1, &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(q, 1, id);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "row %lld missing", id);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/*
 * Post with the given X-Forwarded-For lines (NULL-terminated) and check
 * the recorded address, in the 201 body and in the row.
 */
static void
post_expect_client(const char *const *xff, const char *expect)
{
    const char *hdr[8] = {"Content-Type: application/json"};
    struct tresp r;
    char url[128], stored[64];
    json_t *j;
    long long id;
    int n = 1;

    for (int i = 0; xff[i] != NULL && n < 7; i++)
        hdr[n++] = xff[i];
    hdr[n] = NULL;
    snprintf(url, sizeof url, "%s/lab/results", srv.base);
    cr_assert_eq(thttp("POST", url, hdr,
                       "{\"status\":\"pass\",\"suite\":"
                       "\"proxy\"}",
                       33, &r),
                 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "%s", r.body);
    id = json_integer_value(json_object_get(j, "id"));
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(j, "identity"), "source_addr")),
                     expect, "XFF %s", xff[0] ? xff[0] : "(none)");
    json_decref(j);
    tresp_free(&r);
    db_source_addr(id, stored, sizeof stored);
    cr_assert_str_eq(stored, expect);
}

Test(proxy, trusted_peer_gives_rightmost_untrusted_entry, .timeout = 60)
{
    start_with_proxies("[\"127.0.0.1\",\"10.0.0.0/8\"]");
    post_expect_client((const char *[]){NULL}, "127.0.0.1");
    post_expect_client((const char *[]){"X-Forwarded-For: 203.0.113.7", NULL},
                       "203.0.113.7");
    /* The left entry was written by the client and is not believed. */
    post_expect_client(
        (const char *[]){"X-Forwarded-For: 192.0.2.66, 198.51.100.2", NULL},
        "198.51.100.2");
    /* Trusted hops on the right are skipped. */
    post_expect_client(
        (const char *[]){"X-Forwarded-For: 192.0.2.66,198.51.100.2, "
                         "10.1.2.3 ,127.0.0.1",
                         NULL},
        "198.51.100.2");
    /* Two header lines are one list, in order. */
    post_expect_client((const char *[]){"X-Forwarded-For: 192.0.2.66",
                                        "X-Forwarded-For: 198.51.100.9", NULL},
                       "198.51.100.9");
    /* IPv6 clients come through as written. */
    post_expect_client((const char *[]){"X-Forwarded-For: 2001:db8::42", NULL},
                       "2001:db8::42");
    /* Garbage ends the walk at the last good hop. */
    post_expect_client((const char *[]){"X-Forwarded-For: not-an-ip", NULL},
                       "127.0.0.1");
    post_expect_client(
        (const char *[]){"X-Forwarded-For: 198.51.100.2, junk", NULL},
        "127.0.0.1");
    post_expect_client(
        (const char *[]){"X-Forwarded-For: junk, 10.9.9.9", NULL}, "10.9.9.9");
    stop();
}

Test(proxy, untrusted_peer_header_is_ignored, .timeout = 60)
{
    start_with_proxies("[\"10.0.0.0/8\"]");
    post_expect_client((const char *[]){"X-Forwarded-For: 203.0.113.7", NULL},
                       "127.0.0.1");
    stop();
}

Test(proxy, default_trusts_nobody, .timeout = 60)
{
    start_with_proxies("[]");
    post_expect_client((const char *[]){"X-Forwarded-For: 203.0.113.7", NULL},
                       "127.0.0.1");
    stop();
}
