/*
 * The audit chain against real SQLite files: the writer chains every row
 * (also across group commits and failed batches), the real sqlite3 shell
 * tampers with the file in each of the ways an attacker could, and
 * audit_verify names the first row that was touched.  Also: the key file
 * (created 0600, refused when others can read it or when it is not the
 * database's key), chaining rows that predate the chain, retention with
 * checkpoints, identity filters, and the export formats.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "tsupport.h"

static struct tsrv dir;
static struct store *st;
static char keyfile[TSUPPORT_PATH_MAX];

static int
open_store_with(const char *key, int retention, struct store **out,
                struct err *e)
{
    struct store_options o = {dir.db, 64, 1000, 2, key, retention, 0, 0};

    return store_open(out, &o, e);
}

static void
open_store(void)
{
    struct err e = {0, ""};

    cr_assert_eq(open_store_with(NULL, 0, &st, &e), 0, "%s", e.msg);
}

static void
close_store(void)
{
    store_close(st);
    st = NULL;
}

static void
setup(void)
{
    log_set_level(LOG_ERROR);
    tsrv_init(&dir);
    snprintf(keyfile, sizeof keyfile, "%s.key", dir.db);
    open_store();
}

static void
teardown(void)
{
    close_store();
    tsrv_cleanup(&dir);
}

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

/* Insert a result as the given route would record it; returns its id. */
static int64_t
put_full(enum result_auth auth, const char *suite, int64_t received_ms)
{
    struct result r;
    struct err e = {0, ""};
    int64_t id;

    memset(&r, 0, sizeof r);
    r.received_ms = received_ms;
    r.suite = strdup(suite);
    r.status = RESULT_PASS;
    r.auth = auth;
    r.payload = strdup("{\"status\":\"pass\",\"note\":\"a, \\\"b\\\"\\n\"}");
    r.ident.source_addr = strdup("127.0.0.1");
    r.ident.user_agent = strdup("test-agent/1.0");
    r.ident.request_id = strdup("req-1");
    if (auth == RESULT_AUTH_JWT) {
        r.route = strdup("/lab/results-secure");
        r.ident.issuer = strdup("https://token.actions.githubusercontent.com");
        r.ident.subject = strdup("repo:octo/lab:ref:refs/heads/main");
        r.ident.repository = strdup("octo/lab");
        r.ident.owner = strdup("octo");
        r.ident.claims = strdup("{\"sub\":\"repo:octo/lab\",\"aud\":\"x\"}");
    } else if (auth == RESULT_AUTH_IAM) {
        r.route = strdup("/lab/results-ci");
        r.ident.principal_arn = strdup("arn:aws:iam::123456789012:role/ci");
        r.ident.caller_arn =
            strdup("arn:aws:sts::123456789012:assumed-role/ci/run-7");
        r.ident.account = strdup("123456789012");
        r.ident.access_key_id = strdup("ASIAEXAMPLEKEY");
        r.ident.session_name = strdup("run-7");
    } else {
        r.route = strdup("/lab/results");
    }
    cr_assert_eq(result_set_principal(&r), 0);
    cr_assert_eq(store_insert(st, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(strlen(r.chain), 64, "the stored result has no chain");
    id = r.id;
    result_free(&r);
    return id;
}

static void
put_many(int n)
{
    for (int i = 0; i < n; i++)
        put_full((enum result_auth)(i % 3), "s", 1764781200000LL + i);
}

/* Run SQL through the real sqlite3 shell on the (closed) database. */
static void
shell(const char *sql)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", dir.db, sql);
    cr_assert_eq(system(cmd), 0, "sqlite3 failed: %s", cmd);
}

static void
verify(struct audit_report *rep)
{
    struct err e = {0, ""};

    cr_assert_eq(audit_verify(dir.db, keyfile, rep, &e), 0, "%s", e.msg);
}

static void
expect_broken(int64_t id, const char *what)
{
    struct audit_report rep;

    verify(&rep);
    cr_assert_eq(rep.ok, 0, "tampering went unnoticed");
    cr_assert_eq(rep.bad_id, id, "named row %lld: %s", (long long)rep.bad_id,
                 rep.what);
    cr_assert(strstr(rep.what, what) != NULL, "%s", rep.what);
    if (getenv("AUDIT_TEST_SHOW") != NULL)
        fprintf(stderr, "%s\n", rep.what);
}

Test(audit, untouched_database_verifies)
{
    struct audit_report rep;

    put_many(30);
    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.rows, 30);
    cr_assert_eq(rep.last_id, 30);
    cr_assert_eq(rep.head_id, 30);
    cr_assert_eq(rep.start_id, 0);
}

Test(audit, empty_database_verifies)
{
    struct audit_report rep;

    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.rows, 0);
}

Test(audit, edited_status_is_named)
{
    put_many(10);
    close_store();
    shell("UPDATE results SET status = 'fail' WHERE id = 4");
    expect_broken(4, "row 4 was modified");
}

Test(audit, edited_identity_column_is_named)
{
    put_many(10);
    close_store();
    shell("UPDATE results SET caller_arn = 'arn:aws:sts::1:x' WHERE id = 9");
    expect_broken(9, "row 9 was modified");
}

Test(audit, edited_last_row_is_named)
{
    put_many(5);
    close_store();
    shell("UPDATE results SET suite = 'other' WHERE id = 5");
    expect_broken(5, "row 5 was modified");
}

Test(audit, deleted_row_is_named)
{
    put_many(10);
    close_store();
    shell("DELETE FROM results WHERE id = 6");
    expect_broken(6, "row 6 was deleted");
}

Test(audit, deleted_first_rows_are_named)
{
    put_many(10);
    close_store();
    shell("DELETE FROM results WHERE id <= 3");
    expect_broken(1, "row 1 was deleted");
}

Test(audit, forged_row_with_a_copied_chain_is_named)
{
    put_many(10);
    close_store();
    /* A copy of row 7 with a new suite, carrying row 7's chain value. */
    shell("INSERT INTO results (received_ms, route, auth, suite, status, "
          "payload, source_addr, request_id, chain) SELECT received_ms, "
          "route, auth, 'forged', status, payload, source_addr, request_id, "
          "chain FROM results WHERE id = 7");
    expect_broken(11, "row 11 was inserted");
}

Test(audit, forged_row_without_chain_is_named)
{
    put_many(10);
    close_store();
    shell("INSERT INTO results (id, received_ms, route, auth, suite, status, "
          "payload, source_addr, request_id) VALUES (500, 1, '/lab/results', "
          "'none', 'x', 'pass', '{}', '10.0.0.1', 'r')");
    expect_broken(500, "row 500 was inserted");
}

Test(audit, forged_row_in_the_middle_is_named)
{
    put_many(10);
    close_store();
    /* Make room at id 5 by moving the real row away, then forge one. */
    shell("UPDATE results SET id = 1000 WHERE id = 5; "
          "INSERT INTO results (id, received_ms, route, auth, suite, status, "
          "payload, source_addr, request_id, chain) SELECT 5, received_ms, "
          "route, auth, 'forged', status, payload, source_addr, request_id, "
          "chain FROM results WHERE id = 1000");
    expect_broken(5, "row 5 was modified");
}

Test(audit, swapped_rows_are_named)
{
    put_many(10);
    close_store();
    /* Swap every column but the id between rows 3 and 8. */
    shell("CREATE TEMP TABLE t AS SELECT * FROM results WHERE id IN (3, 8); "
          "UPDATE results SET (received_ms, route, auth, suite, status, "
          "payload, principal, source_addr, user_agent, request_id, issuer, "
          "subject, repository, owner, principal_arn, caller_arn, account, "
          "access_key_id, session_name, claims, chain) = (SELECT "
          "received_ms, route, auth, suite, status, payload, principal, "
          "source_addr, user_agent, request_id, issuer, subject, repository, "
          "owner, principal_arn, caller_arn, account, access_key_id, "
          "session_name, claims, chain FROM t WHERE t.id = 11 - "
          "results.id) WHERE id IN (3, 8)");
    expect_broken(3, "row 3 was modified, reordered or replaced");
}

Test(audit, swapped_neighbours_are_reported_as_reordered)
{
    put_many(10);
    close_store();
    shell("UPDATE results SET id = -4 WHERE id = 4; "
          "UPDATE results SET id = 4 WHERE id = 5; "
          "UPDATE results SET id = 5 WHERE id = -4");
    /* Row 4 now holds row 5's contents and chain value and the reverse;
     * row 5's contents verify in row 4's place. */
    expect_broken(4, "row 4 was reordered: the contents stored as row 5 "
                     "belong in its place");
}

Test(audit, swapped_contents_keeping_chain_values_are_named)
{
    put_many(10);
    close_store();
    shell("UPDATE results SET suite = CASE id WHEN 2 THEN 'b' ELSE 'a' END, "
          "received_ms = CASE id WHEN 2 THEN received_ms + 1 ELSE "
          "received_ms - 1 END WHERE id IN (2, 3)");
    expect_broken(2, "row 2 was modified, reordered or replaced");
}

Test(audit, truncated_tail_is_named)
{
    put_many(10);
    close_store();
    shell("DELETE FROM results WHERE id > 7");
    expect_broken(8, "the tail was truncated");
}

Test(audit, truncated_tail_with_edited_head_is_caught)
{
    put_many(10);
    close_store();
    shell("DELETE FROM results WHERE id > 7; UPDATE audit_meta SET head_id "
          "= 7, head_chain = (SELECT chain FROM results WHERE id = 7)");
    expect_broken(0, "the audit head record was modified");
}

Test(audit, deleted_metadata_is_caught_and_the_server_refuses_to_start)
{
    struct err e = {0, ""};
    struct audit_report rep;

    put_many(3);
    close_store();
    shell("DELETE FROM audit_meta");
    verify(&rep);
    cr_assert_eq(rep.ok, 0);
    cr_assert(strstr(rep.what, "metadata row is missing") != NULL, "%s",
              rep.what);
    cr_assert_eq(open_store_with(NULL, 0, &st, &e), ERR_INVALID);
    cr_assert(strstr(e.msg, "the audit metadata row is missing; the "
                            "database was tampered with") != NULL,
              "%s", e.msg);
    st = NULL;
}

Test(audit, wrong_key_fails_clearly)
{
    char other[TSUPPORT_PATH_MAX], expect[ERR_MSG_MAX];
    struct audit_report rep;
    struct err e = {0, ""};

    put_many(3);
    close_store();
    snprintf(other, sizeof other, "%s/other.key", dir.dir);
    cr_assert_eq(tsupport_write_file(other, "00112233445566778899aabbccddeeff"
                                            "00112233445566778899aabbccddeeff"
                                            "\n"),
                 0);
    chmod(other, 0600);
    cr_assert_eq(audit_verify(dir.db, other, &rep, &e), ERR_AUTH);
    cr_assert(strstr(e.msg, "does not match this database's chain") != NULL,
              "%s", e.msg);
    cr_assert_eq(open_store_with(other, 0, &st, &e), ERR_AUTH);
    st = NULL;
    snprintf(expect, sizeof expect, "audit key %s (key id ", other);
    cr_assert(strncmp(e.msg, expect, strlen(expect)) == 0, "%s", e.msg);
}

Test(audit, key_file_is_created_owner_only)
{
    struct stat sb;
    char text[128];
    FILE *f;

    cr_assert_eq(stat(keyfile, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
    f = fopen(keyfile, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    cr_assert_eq(strlen(text), 65);
    cr_assert_eq(strspn(text, "0123456789abcdef"), 64);
}

Test(audit, readable_key_file_is_refused)
{
    struct err e = {0, ""};
    char expect[ERR_MSG_MAX];

    close_store();
    chmod(keyfile, 0640);
    cr_assert_eq(open_store_with(NULL, 0, &st, &e), ERR_DENIED);
    st = NULL;
    snprintf(expect, sizeof expect,
             "audit key %s has mode 0640: only its owner may read it "
             "(chmod 600 %s)",
             keyfile, keyfile);
    cr_assert_str_eq(e.msg, expect);
}

Test(audit, missing_key_for_a_chained_database_is_refused)
{
    struct err e = {0, ""};

    put_many(1);
    close_store();
    cr_assert_eq(unlink(keyfile), 0);
    cr_assert_eq(open_store_with(NULL, 0, &st, &e), ERR_NOTFOUND);
    st = NULL;
    cr_assert(strstr(e.msg, "does not exist, but the chain in this "
                            "database was made with key id") != NULL,
              "%s", e.msg);
    cr_assert_neq(access(keyfile, F_OK), 0, "a new key was made");
}

Test(audit, chain_continues_across_restarts_and_failed_batches)
{
    struct audit_report rep;
    struct result r;
    struct err e = {0, ""};
    sqlite3 *db;

    put_many(5);
    close_store();
    open_store();
    put_many(5);
    /* A batch that cannot commit must leave no hole in the chain. */
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                 SQLITE_OK);
    memset(&r, 0, sizeof r);
    r.route = strdup("/lab/results");
    r.suite = strdup("locked");
    r.payload = strdup("{}");
    r.ident.source_addr = strdup("127.0.0.1");
    r.ident.request_id = strdup("req");
    cr_assert_eq(store_insert(st, &r, &e), ERR_BUSY);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_assert_eq(store_insert(st, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.id, 11);
    result_free(&r);
    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.rows, 11);
}

static void *
writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++)
        put_full(RESULT_AUTH_NONE, "c", 1764781200000LL);
    return NULL;
}

Test(audit, concurrent_group_commits_verify)
{
    pthread_t t[8];
    struct audit_report rep;

    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, writer, NULL);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.rows, 400);
}

Test(audit, stored_chain_value_is_returned_by_get)
{
    struct result r;
    struct err e = {0, ""};
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t id = put_full(RESULT_AUTH_IAM, "g", 1764781200000LL);

    cr_assert_eq(store_get(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "SELECT lower(hex(chain)) FROM results", -1, &q,
                       NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq(r.chain, (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    result_free(&r);
}

/* A schema-1 database with rows, as labgate wrote it before the chain. */
Test(audit, rows_from_before_the_chain_are_chained_on_first_start)
{
    char cmd[1024];
    struct audit_report rep;

    close_store();
    unlink(dir.db);
    unlink(keyfile);
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s' < '%s/migrations/0001_results.sql' && "
             "sqlite3 '%s' \"PRAGMA user_version = 1; "
             "INSERT INTO results (received_ms, route, auth, suite, status, "
             "payload, principal, source_addr, request_id) VALUES "
             "(1, '/lab/results', 'none', 'old', 'pass', '{}', '10.0.0.1', "
             "'10.0.0.1', 'a'), (2, '/lab/results', 'none', 'old', 'fail', "
             "'{}', '10.0.0.2', '10.0.0.2', 'b')\"",
             dir.db, LABGATE_SOURCE_DIR, dir.db);
    cr_assert_eq(system(cmd), 0);
    open_store();
    put_full(RESULT_AUTH_NONE, "new", 3);
    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.rows, 3);
}

Test(audit, filters_by_every_identity_column)
{
    static const struct {
        enum store_filter_field f;
        const char *value;
        enum result_auth auth;
    } cases[] = {
        {STORE_BY_REPOSITORY, "octo/lab", RESULT_AUTH_JWT},
        {STORE_BY_OWNER, "octo", RESULT_AUTH_JWT},
        {STORE_BY_SUBJECT, "repo:octo/lab:ref:refs/heads/main",
         RESULT_AUTH_JWT},
        {STORE_BY_ISSUER, "https://token.actions.githubusercontent.com",
         RESULT_AUTH_JWT},
        {STORE_BY_PRINCIPAL_ARN, "arn:aws:iam::123456789012:role/ci",
         RESULT_AUTH_IAM},
        {STORE_BY_CALLER_ARN, "arn:aws:sts::123456789012:assumed-role/ci/run-7",
         RESULT_AUTH_IAM},
        {STORE_BY_ACCOUNT, "123456789012", RESULT_AUTH_IAM},
        {STORE_BY_ACCESS_KEY_ID, "ASIAEXAMPLEKEY", RESULT_AUTH_IAM},
        {STORE_BY_SESSION_NAME, "run-7", RESULT_AUTH_IAM},
    };
    struct store_filter f;
    struct result *rows;
    struct err e = {0, ""};
    size_t n;

    put_many(9);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_filter_init(&f);
        f.eq[cases[i].f] = cases[i].value;
        cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0, "%s", e.msg);
        cr_assert_eq(n, 3, "%s=%s gave %zu rows",
                     store_filter_names[cases[i].f], cases[i].value, n);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(rows[k].auth, cases[i].auth);
        store_rows_free(rows, n);
    }
}

static int
count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int n;

    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s",
                 sql);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

#define OLD_MS 1000000000000LL /* 2001 */
#define NEW_MS 1764781200000LL /* 2025 */

static void
put_aged(int old, int young)
{
    for (int i = 0; i < old; i++)
        put_full(RESULT_AUTH_NONE, "aged", OLD_MS + i);
    for (int i = 0; i < young; i++)
        put_full(RESULT_AUTH_NONE, "aged", NEW_MS + i);
}

Test(audit, pruning_keeps_the_rest_verifiable_and_lifetime_counts)
{
    struct audit_report rep;
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(10, 5);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 10);
    close_store();
    cr_assert_eq(count_rows("SELECT count(*) FROM results"), 5);
    cr_assert_eq(count_rows("SELECT min(id) FROM results"), 11);
    cr_assert_eq(count_rows("SELECT pass_count FROM suite_status WHERE "
                            "suite = 'aged'"),
                 15);
    cr_assert_eq(count_rows("SELECT cut_id FROM audit_checkpoints"), 10);
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.start_id, 10);
    cr_assert_eq(rep.rows, 5);
    cr_assert_eq(rep.last_id, 15);
}

Test(audit, pruning_twice_verifies_from_the_newest_checkpoint)
{
    struct audit_report rep;
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(4, 0);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 4);
    put_aged(3, 2);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 3);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 0);
    close_store();
    cr_assert_eq(count_rows("SELECT count(*) FROM audit_checkpoints"), 2);
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.start_id, 7);
    cr_assert_eq(rep.rows, 2);
}

Test(audit, pruning_removes_only_a_prefix_of_ids)
{
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(2, 1);
    put_full(RESULT_AUTH_NONE, "late", OLD_MS); /* old time, newer id */
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 2);
    cr_assert_eq(count_rows("SELECT count(*) FROM results"), 2);
}

Test(audit, deletion_after_pruning_is_named)
{
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(5, 5);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    close_store();
    shell("DELETE FROM results WHERE id = 6");
    expect_broken(6, "does not link to the checkpoint");
}

Test(audit, forged_checkpoint_is_named)
{
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(5, 5);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    close_store();
    /* Pretend more was pruned: move the cut and drop a kept row. */
    shell("DELETE FROM results WHERE id = 6; UPDATE audit_checkpoints SET "
          "cut_id = 6, chain = (SELECT chain FROM results WHERE id = 7)");
    expect_broken(6, "checkpoint at row 6 was modified or forged");
}

Test(audit, pruning_refuses_to_erase_a_tampered_row)
{
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(6, 2);
    close_store();
    shell("UPDATE results SET status = 'skip' WHERE id = 3");
    open_store();
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), ERR_INVALID);
    cr_assert_eq(pruned, 0);
    cr_assert(strstr(e.msg, "result 3 does not verify") != NULL, "%s", e.msg);
    cr_assert_eq(count_rows("SELECT count(*) FROM results"), 8);
}

Test(audit, background_pruner_applies_retention_days)
{
    struct audit_report rep;
    struct err e = {0, ""};
    int n = -1;

    put_aged(7, 0);
    put_full(RESULT_AUTH_NONE, "now", timefmt_now_ms());
    close_store();
    cr_assert_eq(open_store_with(NULL, 30, &st, &e), 0, "%s", e.msg);
    for (int i = 0; i < 500 && n != 1; i++) {
        n = count_rows("SELECT count(*) FROM results");
        usleep(10000);
    }
    cr_assert_eq(n, 1, "the pruner left %d rows", n);
    close_store();
    verify(&rep);
    cr_assert_eq(rep.ok, 1, "%s", rep.what);
    cr_assert_eq(rep.start_id, 7);
}

Test(audit, csv_export_quotes_per_rfc_4180)
{
    static const char expect[] =
        "id,received_at,route,auth,suite,status,principal,source_addr,"
        "user_agent,request_id,issuer,subject,repository,owner,principal_arn,"
        "caller_arn,account,access_key_id,session_name,claims,payload,chain"
        "\r\n"
        "1,2025-12-03T17:00:00.000Z,/lab/results,none,\"csv, \"\"quoted\"\"\","
        "pass,127.0.0.1,127.0.0.1,test-agent/1.0,req-1,,,,,,,,,,,"
        "\"{\"\"status\"\":\"\"pass\"\",\"\"note\"\":\"\"a, "
        "\\\"\"b\\\"\"\\n\"\"}\",";
    struct audit_export_opts o = {0, 0, AUDIT_CSV};
    struct err e = {0, ""};
    int64_t rows = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    put_full(RESULT_AUTH_NONE, "csv, \"quoted\"", NEW_MS);
    close_store();
    cr_assert_eq(audit_export(dir.db, &o, f, &rows, &e), 0, "%s", e.msg);
    fclose(f);
    cr_assert_eq(rows, 1);
    cr_assert(strncmp(text, expect, strlen(expect)) == 0, "%s", text);
    cr_assert_eq(len, strlen(expect) + 64 + 2, "%s", text);
    cr_assert_eq(text[len - 1], '\n');
    cr_assert_eq(text[len - 2], '\r');
    cr_assert_eq(strspn(text + strlen(expect), "0123456789abcdef"), 64);
    free(text);
}

Test(audit, export_honours_the_time_range)
{
    struct audit_export_opts o = {NEW_MS, NEW_MS + 2, AUDIT_JSONL};
    struct err e = {0, ""};
    int64_t rows = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    put_aged(3, 4);
    close_store();
    cr_assert_eq(audit_export(dir.db, &o, f, &rows, &e), 0, "%s", e.msg);
    fclose(f);
    cr_assert_eq(rows, 2);
    cr_assert(strncmp(text, "{\"id\":4,", 8) == 0, "%s", text);
    cr_assert(strstr(text, "\n{\"id\":5,") != NULL, "%s", text);
    free(text);
}

Test(audit, key_file_that_is_not_a_key_is_refused)
{
    struct err e = {0, ""};
    char expect[ERR_MSG_MAX];

    close_store();
    unlink(dir.db);
    cr_assert_eq(tsupport_write_file(keyfile, "not a key\n"), 0);
    chmod(keyfile, 0600);
    cr_assert_eq(open_store_with(NULL, 0, &st, &e), ERR_INVALID);
    st = NULL;
    snprintf(expect, sizeof expect,
             "audit key %s: expected 64 hexadecimal digits", keyfile);
    cr_assert_str_eq(e.msg, expect);
}

Test(audit, row_forged_below_a_checkpoint_survives_pruning_and_is_named)
{
    struct err e = {0, ""};
    int64_t pruned = 0;

    put_aged(3, 0);
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    put_aged(3, 2);
    close_store();
    shell("INSERT INTO results (id, received_ms, route, auth, suite, status, "
          "payload, source_addr, request_id, chain) SELECT 2, received_ms, "
          "route, auth, suite, status, payload, source_addr, request_id, "
          "chain FROM results WHERE id = 4");
    open_store();
    cr_assert_eq(store_audit_prune(st, NEW_MS, &pruned, &e), 0, "%s", e.msg);
    cr_assert_eq(pruned, 3);
    close_store();
    cr_assert_eq(count_rows("SELECT count(*) FROM results WHERE id = 2"), 1);
    expect_broken(2, "row 2 was inserted: it is at or below the retention "
                     "checkpoint at id 6");
}

Test(audit, row_forged_at_the_next_id_is_skipped_and_named)
{
    sqlite3 *db;

    put_many(3);
    /* While the store is open, take the id the writer will use next. */
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "INSERT INTO results (id, received_ms, route, "
                              "auth, suite, status, payload, source_addr, "
                              "request_id, chain) SELECT 4, received_ms, "
                              "route, auth, 'forged', status, payload, "
                              "source_addr, request_id, chain FROM results "
                              "WHERE id = 3",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(put_full(RESULT_AUTH_NONE, "after", NEW_MS), 5);
    close_store();
    expect_broken(4, "row 4 was inserted: it carries a copy of the previous "
                     "row's chain value");
}

Test(audit, deleting_metadata_and_chain_values_does_not_restart_the_chain)
{
    struct err e = {0, ""};

    put_many(3);
    close_store();
    shell("DELETE FROM audit_meta; UPDATE results SET chain = NULL");
    cr_assert_eq(open_store_with(NULL, 0, &st, &e), ERR_INVALID);
    st = NULL;
    cr_assert(strstr(e.msg, "the audit metadata row is missing; the "
                            "database was tampered with") != NULL,
              "%s", e.msg);
    cr_assert_eq(count_rows("SELECT count(*) FROM results WHERE chain IS "
                            "NULL"),
                 3);
}
