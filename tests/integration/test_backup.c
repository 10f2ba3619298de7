/*
 * labgate-server backup against a server under write load: posts keep
 * being accepted while the copy is taken, the copy passes
 * integrity_check, holds exactly the results with ids 1..N for some N
 * (a prefix: one commit's view), every row equals the live row, the
 * dashboard aggregate in the copy agrees with the copy's rows, and a
 * server started on the copy serves it and continues the ids.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tsupport.h"

#define POSTERS 4

struct poster {
    const struct tsrv *srv;
    atomic_int stop;
    atomic_int ok;
    atomic_int failed;
};

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Post over one keep-alive connection until told to stop. */
static void *
poster_main(void *arg)
{
    struct poster *p = arg;
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    char url[128], body[128];
    long status;

    snprintf(url, sizeof url, "%s/lab/results", p->srv->base);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (int i = 0; !atomic_load(&p->stop); i++) {
        snprintf(body, sizeof body,
                 "{\"status\":\"%s\",\"suite\":\"s%d\",\"n\":%d}",
                 i % 3 ? "pass" : "fail", i % 5, i);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 201)
            atomic_fetch_add(&p->ok, 1);
        else
            atomic_fetch_add(&p->failed, 1);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static long long
query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    long long v;

    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s: %s",
                 sql, sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sql);
    v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void
wait_for_posts(struct poster *p, int n)
{
    for (int i = 0; i < 3000 && atomic_load(&p->ok) < n; i++)
        usleep(10000);
    cr_assert_geq(atomic_load(&p->ok), n, "posting is too slow or failing");
}

/* Check the copy against the live database, both closed. */
static long long
check_copy(const char *live, const char *copy)
{
    char sql[1024];
    sqlite3 *db;
    long long n, max;
    char *msg = NULL;

    cr_assert_eq(sqlite3_open_v2(copy, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    cr_assert_eq(query_int(db, "SELECT \"ok\" = (SELECT integrity_check "
                               "FROM pragma_integrity_check)"),
                 1, "integrity_check failed");
    n = query_int(db, "SELECT count(*) FROM results");
    max = query_int(db, "SELECT coalesce(max(id), 0) FROM results");
    cr_assert_gt(n, 0);
    cr_assert_eq(query_int(db, "SELECT min(id) FROM results"), 1);
    cr_assert_eq(n, max, "ids in the copy are not 1..%lld", max);
    /* The aggregate the trigger keeps matches the rows it came from. */
    cr_assert_eq(query_int(db, "SELECT sum(pass_count + fail_count + "
                               "error_count + skip_count) FROM suite_status"),
                 n);
    cr_assert_eq(query_int(db, "SELECT sum(fail_count) FROM suite_status"),
                 query_int(db, "SELECT count(*) FROM results WHERE "
                               "status = 'fail'"));
    snprintf(sql, sizeof sql, "ATTACH '%s' AS live", live);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg);
    cr_assert_gt(query_int(db, "SELECT count(*) FROM live.results"), n,
                 "no posts landed after the backup");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT * FROM main.results EXCEPT "
             "SELECT * FROM live.results WHERE id <= %lld)",
             max);
    cr_assert_eq(query_int(db, sql), 0, "copy rows differ from live rows");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT * FROM live.results WHERE id <= "
             "%lld EXCEPT SELECT * FROM main.results)",
             max);
    cr_assert_eq(query_int(db, sql), 0, "live rows missing from the copy");
    sqlite3_close(db);
    return max;
}

/*
 * Restore copy as a new server's database.  The audit key lives outside
 * the database (docs/audit.md), so a restore brings the live database's
 * key file along, as an operator restoring a backup must.
 */
static void
restore_and_serve(const char *copy, const char *live_db, long long max)
{
    struct tsrv r;
    struct tresp resp;
    char cmd[2400], path[64];

    tsrv_init(&r);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp -p '%s.key' '%s.key'",
             copy, r.db, live_db, r.db);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(tsrv_start(&r, NULL), 0, "server on the copy did not start");
    snprintf(path, sizeof path, "/lab/results/%lld", max);
    cr_assert_eq(thttp_get(&r, path, &resp), 0);
    cr_assert_eq(resp.status, 200, "%s", resp.body);
    tresp_free(&resp);
    cr_assert_eq(thttp_post_json(&r, "/lab/results",
                                 "{\"status\":\"pass\",\"suite\":\"after\"}",
                                 &resp),
                 0);
    cr_assert_eq(resp.status, 201, "%s", resp.body);
    snprintf(path, sizeof path, "\"id\":%lld,", max + 1);
    cr_assert(strstr(resp.body, path) != NULL, "%s", resp.body);
    tresp_free(&resp);
    cr_expect_eq(tsrv_stop(&r), 0);
    tsrv_cleanup(&r);
}

Test(backup, copy_is_consistent_while_posts_continue, .timeout = 240)
{
    struct poster p = {0};
    struct tsrv s;
    pthread_t th[POSTERS];
    char copy[600], out[2048];
    const char *args[] = {"backup", "--db", s.db, copy, NULL};
    int before, after;
    long long max;

    tsrv_init(&s);
    snprintf(copy, sizeof copy, "%s/copy.db", s.dir);
    cr_assert_eq(tsrv_start(&s, NULL), 0);
    p.srv = &s;
    for (int i = 0; i < POSTERS; i++)
        pthread_create(&th[i], NULL, poster_main, &p);
    wait_for_posts(&p, 300);
    before = atomic_load(&p.ok);
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 0, "%s", out);
    after = atomic_load(&p.ok);
    cr_assert(strstr(out, "backup of ") != NULL, "%s", out);
    wait_for_posts(&p, after + 100);
    atomic_store(&p.stop, 1);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&p.failed), 0, "some posts failed");
    cr_log_info("posts: %d before the backup, %d when it returned, %d total",
                before, after, atomic_load(&p.ok));
    cr_assert_eq(tsrv_stop(&s), 0);
    max = check_copy(s.db, copy);
    cr_assert_geq(max, before, "the copy misses rows acknowledged before it");
    /* Each poster may have one row committed but not yet counted. */
    cr_assert_leq(max, after + POSTERS,
                  "the copy has rows from after it returned");
    restore_and_serve(copy, s.db, max);

    /* A second backup to the same name is refused and changes nothing. */
    cr_assert_eq(tsrv_run_cli(args, out, sizeof out), 1);
    cr_assert(strstr(out, "exists; refusing to overwrite it") != NULL, "%s",
              out);
    check_copy(s.db, copy);
    tsrv_cleanup(&s);
}

Test(backup, bad_arguments_and_sources)
{
    struct tsrv s;
    char out[2048], copy[600], notdb[600];
    const char *none[] = {"backup", NULL};
    const char *missing[] = {"backup", "--db", "/nonexistent/x.db", copy, NULL};
    const char *foreign[] = {"backup", "--db", notdb, copy, NULL};

    tsrv_init(&s);
    snprintf(copy, sizeof copy, "%s/copy.db", s.dir);
    snprintf(notdb, sizeof notdb, "%s/other.db", s.dir);
    cr_assert_eq(tsrv_run_cli(none, out, sizeof out), 2);
    cr_assert(strstr(out, "expected one FILE") != NULL, "%s", out);
    cr_assert_eq(tsrv_run_cli(missing, out, sizeof out), 1);
    cr_assert(strstr(out, "cannot open /nonexistent/x.db") != NULL, "%s", out);
    cr_assert_eq(access(copy, F_OK), -1, "a failed backup left a file");
    {
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(notdb, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL),
                     SQLITE_OK);
        sqlite3_close(db);
    }
    cr_assert_eq(tsrv_run_cli(foreign, out, sizeof out), 1);
    cr_assert(strstr(out, "is not a labgate database") != NULL, "%s", out);
    cr_assert_eq(access(copy, F_OK), -1, "a failed backup left a file");
    tsrv_cleanup(&s);
}
