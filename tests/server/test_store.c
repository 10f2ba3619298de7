/*
 * The store against real SQLite files: inserts are durable and readable,
 * listings filter and paginate, the aggregate follows every insert, group
 * commit serves concurrent writers, and a database newer than the binary
 * or locked by another process is reported, not damaged.
 *
 * This file defines fdatasync, which the store's syncer then calls
 * instead of libc's: a test can hold the syncer inside it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_migrations.h"
#include "timefmt.h"
#include "tsupport.h"

static struct tsrv dir;
static struct store *st;

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_closed; /* fdatasync waits while set */
static int gate_waiting;
static int gate_fails;  /* fdatasync then fails with EIO */

int
fdatasync(int fd)
{
    pthread_mutex_lock(&gate_lock);
    gate_waiting++;
    pthread_cond_broadcast(&gate_cond);
    while (gate_closed)
        pthread_cond_wait(&gate_cond, &gate_lock);
    gate_waiting--;
    if (gate_fails) {
        pthread_mutex_unlock(&gate_lock);
        errno = EIO;
        return -1;
    }
    pthread_mutex_unlock(&gate_lock);
    return (int)syscall(SYS_fdatasync, fd);
}

static void
gate_set(int closed)
{
    pthread_mutex_lock(&gate_lock);
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void
open_store(void)
{
    struct store_options o = {dir.db, 64, 1000, 2, NULL, 0, 0, 0};
    struct err e = {0, ""};

    cr_assert_eq(store_open(&st, &o, &e), 0, "%s", e.msg);
}

static void
setup(void)
{
    log_set_level(LOG_ERROR);
    tsrv_init(&dir);
    open_store();
}

static void
teardown(void)
{
    gate_fails = 0;
    gate_set(0); /* a failed test may leave the syncer held */
    store_close(st);
    st = NULL;
    tsrv_cleanup(&dir);
}

/* Insert one result with these identity columns; returns its id. */
static int64_t
put_ident(const char *suite, enum result_status status, enum result_auth auth,
          const char *subject, const char *arn, const char *addr)
{
    struct result r;
    struct err e = {0, ""};
    int64_t id;

    memset(&r, 0, sizeof r);
    r.received_ms = 1764781200000LL;
    r.route = strdup("/lab/results");
    r.suite = strdup(suite);
    r.status = status;
    r.auth = auth;
    r.payload = strdup("{\"x\":1}");
    r.ident.source_addr = strdup(addr);
    r.ident.request_id = strdup("req");
    r.ident.subject = subject ? strdup(subject) : NULL;
    r.ident.principal_arn = arn ? strdup(arn) : NULL;
    cr_assert_eq(result_set_principal(&r), 0);
    cr_assert_eq(store_insert(st, &r, &e), 0, "%s", e.msg);
    cr_assert_gt(r.id, 0);
    id = r.id;
    result_free(&r);
    return id;
}

/* Insert one result from 127.0.0.1; principal is the subject or ARN. */
static int64_t
put(const char *suite, enum result_status status, enum result_auth auth,
    const char *principal)
{
    return put_ident(suite, status, auth,
                     auth == RESULT_AUTH_JWT ? principal : NULL,
                     auth == RESULT_AUTH_IAM ? principal : NULL, "127.0.0.1");
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, insert_then_get_returns_every_field)
{
    struct result r;
    struct err e = {0, ""};
    int64_t id = put("unit", RESULT_FAIL, RESULT_AUTH_IAM,
                     "arn:aws:iam::123:role/ci");

    cr_assert_eq(store_get(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.id, id);
    cr_assert_str_eq(r.suite, "unit");
    cr_assert_eq(r.status, RESULT_FAIL);
    cr_assert_eq(r.auth, RESULT_AUTH_IAM);
    cr_assert_str_eq(r.route, "/lab/results");
    cr_assert_str_eq(r.payload, "{\"x\":1}");
    cr_assert_str_eq(r.principal, "arn:aws:iam::123:role/ci");
    cr_assert_str_eq(r.ident.principal_arn, "arn:aws:iam::123:role/ci");
    cr_assert_str_eq(r.ident.source_addr, "127.0.0.1");
    cr_assert_null(r.ident.subject);
    cr_assert_eq(r.received_ms, 1764781200000LL);
    result_free(&r);
}

Test(store, get_of_unknown_id_is_not_found)
{
    struct result r;
    struct err e = {0, ""};

    cr_assert_eq(store_get(st, 777, &r, &e), ERR_NOTFOUND);
    cr_assert_str_eq(e.msg, "result 777 not found");
}

Test(store, list_filters_and_paginates_newest_first)
{
    struct store_filter f;
    struct result *rows;
    struct err e = {0, ""};
    size_t n;
    int64_t ids[6];

    ids[0] = put("a", RESULT_PASS, RESULT_AUTH_NONE, NULL);
    ids[1] = put("b", RESULT_FAIL, RESULT_AUTH_JWT, "repo:o/r:ref:x");
    ids[2] = put("a", RESULT_FAIL, RESULT_AUTH_NONE, NULL);
    ids[3] = put("a", RESULT_PASS, RESULT_AUTH_IAM, "arn:r");
    ids[4] = put("b", RESULT_SKIP, RESULT_AUTH_NONE, NULL);
    ids[5] = put("a", RESULT_ERROR, RESULT_AUTH_NONE, NULL);

    store_filter_init(&f);
    f.eq[STORE_BY_SUITE] = "a";
    f.limit = 2;
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[0].id, ids[5]);
    cr_assert_eq(rows[1].id, ids[3]);
    f.before_id = rows[1].id;
    store_rows_free(rows, n);
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[0].id, ids[2]);
    cr_assert_eq(rows[1].id, ids[0]);
    store_rows_free(rows, n);

    store_filter_init(&f);
    f.status = RESULT_FAIL;
    f.auth = RESULT_AUTH_JWT;
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].id, ids[1]);
    store_rows_free(rows, n);

    store_filter_init(&f);
    f.eq[STORE_BY_PRINCIPAL] = "arn:r";
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].id, ids[3]);
    store_rows_free(rows, n);
}

/* A passing result of suite "fold" with these identity columns. */
static int64_t
putf(enum result_auth auth, const char *subject, const char *arn,
     const char *addr)
{
    return put_ident("fold", RESULT_PASS, auth, subject, arn, addr);
}

/* List with f and assert the ids, in order; n_want of them. */
static void
assert_ids(struct store_filter *f, const int64_t *want, size_t n_want)
{
    struct result *rows;
    struct err e = {0, ""};
    size_t n;

    cr_assert_eq(store_list(st, f, &rows, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, n_want, "got %zu rows, want %zu", n, n_want);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rows[i].id, want[i], "row %zu: id %lld, want %lld", i,
                     (long long)rows[i].id, (long long)want[i]);
    store_rows_free(rows, n);
}

/*
 * Subject, principal ARN and source address are indexed only where they
 * differ from principal (migration 0007): a filter on one of them must
 * still find every row, both kinds interleaved in id order, across pages
 * in both directions, combined with other filters, and for a row written
 * by something other than labgate whose principal is unrelated.
 */
Test(store, folded_identity_filters_find_every_row_in_order)
{
    const char *s = "repo:o/r:ref:refs/heads/main", *arn = "arn:role/ci";
    struct store_filter f;
    sqlite3 *db;
    int64_t id[8], foreign;

    id[0] = putf(RESULT_AUTH_JWT, s, NULL, "10.0.0.1");
    id[1] = putf(RESULT_AUTH_IAM, s, arn, "10.0.0.2");
    id[2] = putf(RESULT_AUTH_JWT, "repo:o/x:ref:y", NULL, "10.0.0.2");
    id[3] = putf(RESULT_AUTH_NONE, NULL, NULL, "10.0.0.2");
    id[4] = putf(RESULT_AUTH_JWT, s, NULL, "10.0.0.1");
    id[5] = putf(RESULT_AUTH_IAM, s, arn, "10.0.0.1");
    id[6] = putf(RESULT_AUTH_NONE, NULL, NULL, "10.0.0.1");
    id[7] = putf(RESULT_AUTH_IAM, NULL, arn, "10.0.0.2");
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "INSERT INTO results (received_ms, route, "
                              "auth, suite, status, payload, principal, "
                              "source_addr, request_id, subject, "
                              "principal_arn) VALUES (1, '/x', 'iam', "
                              "'fold', 'pass', '{}', 'someone', "
                              "'10.0.0.9', 'r', "
                              "'repo:o/r:ref:refs/heads/main', "
                              "'arn:role/ci')",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    foreign = sqlite3_last_insert_rowid(db);
    sqlite3_close(db);

    store_filter_init(&f);
    f.eq[STORE_BY_SUBJECT] = s;
    f.limit = 3;
    assert_ids(&f, (int64_t[]){foreign, id[5], id[4]}, 3);
    f.before_id = id[4];
    assert_ids(&f, (int64_t[]){id[1], id[0]}, 2);
    f.before_id = 0;
    f.oldest_first = 1;
    assert_ids(&f, (int64_t[]){id[0], id[1], id[4]}, 3);
    f.oldest_first = 0;
    f.after_id = id[4];
    assert_ids(&f, (int64_t[]){id[5], foreign}, 2);

    store_filter_init(&f);
    f.eq[STORE_BY_SUBJECT] = s;
    f.auth = RESULT_AUTH_IAM;
    assert_ids(&f, (int64_t[]){foreign, id[5], id[1]}, 3);

    store_filter_init(&f);
    f.eq[STORE_BY_PRINCIPAL_ARN] = arn;
    assert_ids(&f, (int64_t[]){foreign, id[7], id[5], id[1]}, 4);
    f.eq[STORE_BY_PRINCIPAL] = arn;
    assert_ids(&f, (int64_t[]){id[7], id[5], id[1]}, 3);

    store_filter_init(&f);
    f.eq[STORE_BY_SOURCE_ADDR] = "10.0.0.2";
    assert_ids(&f, (int64_t[]){id[7], id[3], id[2], id[1]}, 4);
    f.eq[STORE_BY_SUBJECT] = s;
    assert_ids(&f, (int64_t[]){id[1]}, 1);

    store_filter_init(&f);
    f.eq[STORE_BY_PRINCIPAL] = s;
    assert_ids(&f, (int64_t[]){id[4], id[0]}, 2);
}

Test(store, aggregate_tracks_latest_and_counts_per_suite_and_auth)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t last;

    put("a", RESULT_PASS, RESULT_AUTH_NONE, NULL);
    put("a", RESULT_FAIL, RESULT_AUTH_NONE, NULL);
    put("a", RESULT_PASS, RESULT_AUTH_JWT, "s");
    last = put("a", RESULT_ERROR, RESULT_AUTH_NONE, NULL);
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT last_id, last_status, "
                                    "pass_count, fail_count, error_count, "
                                    "skip_count, recent FROM suite_status "
                                    "WHERE suite='a' AND auth='none'",
                                    -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(q, 0), last);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 1), "error");
    cr_assert_eq(sqlite3_column_int(q, 2), 1);
    cr_assert_eq(sqlite3_column_int(q, 3), 1);
    cr_assert_eq(sqlite3_column_int(q, 4), 1);
    cr_assert_eq(sqlite3_column_int(q, 5), 0);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 6), "PFE");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

Test(store, recent_outcomes_keep_the_last_twenty)
{
    sqlite3 *db;
    sqlite3_stmt *q;

    for (int i = 0; i < 25; i++)
        put("r", i < 5 ? RESULT_FAIL : RESULT_PASS, RESULT_AUTH_NONE, NULL);
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "SELECT recent FROM suite_status", -1, &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0),
                     "PPPPPPPPPPPPPPPPPPPP");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void *
writer(void *arg)
{
    for (int i = 0; i < 50; i++)
        put((const char *)arg, RESULT_PASS, RESULT_AUTH_NONE, NULL);
    return NULL;
}

Test(store, concurrent_inserts_all_commit_with_distinct_ids)
{
    static const char *const suites[] = {"t0", "t1", "t2", "t3",
                                         "t4", "t5", "t6", "t7"};
    pthread_t t[8];
    struct store_filter f;
    struct result *rows;
    struct err e = {0, ""};
    size_t n;

    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, writer, (void *)suites[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    store_filter_init(&f);
    f.limit = 1000;
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0);
    cr_assert_eq(n, 400);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(rows[i].id, rows[i - 1].id);
    store_rows_free(rows, n);
}

Test(store, rows_survive_close_and_reopen)
{
    struct result r;
    struct err e = {0, ""};
    int64_t id = put("keep", RESULT_PASS, RESULT_AUTH_NONE, NULL);

    store_close(st);
    open_store();
    cr_assert_eq(store_get(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_str_eq(r.suite, "keep");
    result_free(&r);
}

Test(store, newer_schema_is_refused)
{
    struct store_options o = {dir.db, 64, 1000, 2, NULL, 0, 0, 0};
    struct store *other = NULL;
    struct err e = {0, ""};
    sqlite3 *db;
    char sql[64], expect[256];

    store_close(st);
    st = NULL;
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
             store_schema_version() + 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(store_open(&other, &o, &e), ERR_VERSION);
    snprintf(expect, sizeof expect,
             "%s has schema version %d but this labgate knows only up to "
             "%d: use a newer labgate-server",
             dir.db, store_schema_version() + 1, store_schema_version());
    cr_assert_str_eq(e.msg, expect);
    cr_assert_null(other);
}

Test(store, not_a_database_is_reported)
{
    struct store_options o = {dir.db, 64, 1000, 2, NULL, 0, 0, 0};
    struct store *other = NULL;
    struct err e = {0, ""};

    store_close(st);
    st = NULL;
    unlink(dir.db);
    tsupport_write_file(dir.db, "this is not a database, just text\n"
                                "padding padding padding padding padding\n");
    cr_assert_neq(store_open(&other, &o, &e), 0);
    cr_assert(strstr(e.msg, "not a database") != NULL, "%s", e.msg);
    unlink(dir.db);
    open_store();
}

Test(store, locked_database_fails_the_insert_and_recovers, .timeout = 30)
{
    struct result r;
    struct err e = {0, ""};
    sqlite3 *db;

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
    cr_assert_eq(r.id, 0);
    cr_assert(strstr(e.msg, "locked") != NULL, "%s", e.msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_assert_eq(store_insert(st, &r, &e), 0, "%s", e.msg);
    cr_assert_gt(r.id, 0);
    result_free(&r);
}

/*
 * The writer's own checkpoints (store_sync.c) keep the WAL from growing:
 * with a checkpoint every 50 pages, 1,600 rows from 8 threads leave a WAL
 * far smaller than the ~1,000 pages they write, and every row is there
 * after a reopen, with the database file intact.
 */
Test(store, checkpoints_keep_the_wal_small_and_lose_nothing)
{
    static const char *const suites[] = {"c0", "c1", "c2", "c3",
                                         "c4", "c5", "c6", "c7"};
    struct store_options o = {dir.db, 64, 1000, 2, NULL, 0, 50, 0};
    char wal[sizeof dir.db + 8];
    struct stat sb;
    pthread_t t[8];
    sqlite3 *db;
    sqlite3_stmt *q;

    store_close(st);
    cr_assert_eq(store_open(&st, &o, NULL), 0);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, writer, (void *)suites[i]);
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
    }
    snprintf(wal, sizeof wal, "%s-wal", dir.db);
    cr_assert_eq(stat(wal, &sb), 0);
    /* 50 pages plus the batch that crossed them, not 1,000 pages. */
    cr_assert_lt(sb.st_size, 200 * 4120, "WAL is %lld bytes",
                 (long long)sb.st_size);
    store_close(st);
    st = NULL;
    cr_assert_eq(tsrv_count_rows(&dir, ""), 1600);
    cr_assert_eq(sqlite3_open(dir.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT sum(pass_count) FROM "
                                        "suite_status", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), 1600);
    sqlite3_finalize(q);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q,
                                    NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
    open_store();
}

/* Commit frames (a non-zero "database size" field) in a WAL file. */
static int
count_wal_commits(const char *db)
{
    char path[sizeof dir.db + 8];
    unsigned char hdr[32], fh[24];
    uint32_t page_size;
    int commits = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s-wal", db);
    cr_assert_not_null(f = fopen(path, "rb"));
    cr_assert_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
    page_size = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 |
                (uint32_t)hdr[10] << 8 | hdr[11];
    while (fread(fh, 1, sizeof fh, f) == sizeof fh) {
        /* Frames from before the WAL was last restarted: stop. */
        if (memcmp(fh + 8, hdr + 16, 8) != 0)
            break;
        if (fh[4] | fh[5] | fh[6] | fh[7])
            commits++;
        if (fseek(f, (long)page_size, SEEK_CUR) != 0)
            break;
    }
    fclose(f);
    return commits;
}

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static int hook_rows[16];
static int hook_calls;

static void
record_commit(void *arg, int rows, int64_t ns, int ok)
{
    (void)arg;
    (void)ns;
    pthread_mutex_lock(&hook_lock);
    if (hook_calls < 16)
        hook_rows[hook_calls] = ok ? rows : -1;
    hook_calls++;
    pthread_mutex_unlock(&hook_lock);
}

static void *
post_one(void *arg)
{
    put((const char *)arg, RESULT_PASS, RESULT_AUTH_NONE, NULL);
    return NULL;
}

/* Post suite with poster in *t and hold the syncer on its batch. */
static void
hold_sync_of(pthread_t *t, void *(*poster)(void *), const char *suite)
{
    gate_set(1);
    pthread_create(t, NULL, poster, (void *)suite);
    pthread_mutex_lock(&gate_lock);
    while (gate_waiting == 0)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

/* Post one "early" result in *t and hold the syncer on its batch. */
static void
hold_sync(pthread_t *t)
{
    hold_sync_of(t, post_one, "early");
}

/*
 * Posts that arrive while the syncer is still making an earlier batch
 * durable join one open transaction, committed when the syncer is free:
 * ten posts spaced 20 ms apart behind a held fdatasync make one commit,
 * not ten (each commit writes its own copy of the pages rows share).
 */
Test(store, posts_during_a_sync_share_one_transaction, .timeout = 30)
{
    pthread_t first, late[10];
    int before = count_wal_commits(dir.db);

    store_set_commit_hook(st, record_commit, NULL);
    hold_sync(&first);
    for (int i = 0; i < 10; i++) {
        pthread_create(&late[i], NULL, post_one, "late");
        usleep(20000);
    }
    usleep(100000);
    cr_assert_eq(count_wal_commits(dir.db) - before, 1,
                 "the late posts committed while the sync was held");
    gate_set(0);
    pthread_join(first, NULL);
    for (int i = 0; i < 10; i++)
        pthread_join(late[i], NULL);
    store_set_commit_hook(st, NULL, NULL);
    cr_assert_eq(count_wal_commits(dir.db) - before, 2);
    cr_assert_eq(hook_calls, 2);
    cr_assert_eq(hook_rows[0], 1);
    cr_assert_eq(hook_rows[1], 10);
    cr_assert_eq(tsrv_count_rows(&dir, "WHERE suite = 'late'"), 10);
    cr_assert_eq(tsrv_count_rows(&dir, "WHERE suite = 'early'"), 1);
}

/*
 * While the syncer is held, the writer keeps a transaction open and with
 * it the write lock; another connection that needs the lock (the
 * /readyz check here; STS sessions, the JWKS cache and the audit pruner
 * alike) must get it at once, not after its busy timeout.
 */
Test(store, outside_writers_get_the_lock_while_a_batch_is_open,
     .timeout = 30)
{
    pthread_t first, late;
    struct err e = {0, ""};
    int64_t t0;

    hold_sync(&first);
    pthread_create(&late, NULL, post_one, "late");
    usleep(100000); /* the late post now sits in an open transaction */
    t0 = timefmt_mono_ns();
    cr_assert_eq(store_check_writable(st, 2000, &e), 0, "%s", e.msg);
    cr_assert_lt(timefmt_mono_ns() - t0, 500 * 1000000LL);
    gate_set(0);
    pthread_join(first, NULL);
    pthread_join(late, NULL);
    cr_assert_eq(tsrv_count_rows(&dir, "WHERE suite = 'late'"), 1);
}

/* One read of each kind, run on a thread of its own. */
struct reads {
    struct result got;  /* store_get of id 1 */
    struct result *rows; /* store_list of everything */
    size_t n;
    int cells;          /* summary cells */
    int64_t covers;     /* the summary's max_id */
    int rc_get, rc_list, rc_summary;
    struct err e_get, e_list, e_summary;
    int done;
};

static int
count_cell(void *arg, int64_t max_id, const struct store_summary *row)
{
    struct reads *r = arg;

    r->covers = max_id;
    r->cells += row != NULL;
    return 0;
}

static void *
read_all(void *arg)
{
    struct reads *r = arg;
    struct store_filter f;
    struct store_summary_query q;
    int more;

    store_filter_init(&f);
    f.limit = 10;
    memset(&q, 0, sizeof q);
    q.recent = 5;
    r->rc_get = store_get(st, 1, &r->got, &r->e_get);
    r->rc_list = store_list(st, &f, &r->rows, &r->n, &r->e_list);
    r->rc_summary = store_summary_each(st, &q, count_cell, r, &more,
                                       &r->e_summary);
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/*
 * The writer commits a batch before the syncer's fdatasync makes it
 * durable; in between, another connection already sees the row.  A
 * reader through the store must not: a crash then would lose a row
 * someone had been shown, whose poster never got its 201.
 */
Test(store, readers_wait_until_the_rows_they_read_are_on_disk,
     .timeout = 30)
{
    pthread_t first, reader;
    struct reads r;

    memset(&r, 0, sizeof r);
    hold_sync(&first);
    /* Committed: a plain SQLite connection sees it. */
    cr_assert_eq(tsrv_count_rows(&dir, "WHERE suite = 'early'"), 1);
    pthread_create(&reader, NULL, read_all, &r);
    usleep(200000);
    cr_assert_eq(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST), 0,
                 "a read answered with a row not yet on disk");
    gate_set(0);
    pthread_join(first, NULL);
    pthread_join(reader, NULL);
    cr_assert_eq(r.rc_get, 0, "%s", r.e_get.msg);
    cr_assert_str_eq(r.got.suite, "early");
    cr_assert_eq(r.rc_list, 0, "%s", r.e_list.msg);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.rows[0].id, 1);
    cr_assert_eq(r.rc_summary, 0, "%s", r.e_summary.msg);
    cr_assert_eq(r.cells, 1);
    cr_assert_eq(r.covers, 1);
    result_free(&r.got);
    store_rows_free(r.rows, r.n);

    /* Rows already on disk are answered at once, syncer held or not. */
    hold_sync(&first); /* id 2, committed, not on disk */
    {
        struct store_filter f;
        struct result got, *rows;
        struct err e = {0, ""};
        int64_t t0 = timefmt_mono_ns();
        size_t n;

        cr_assert_eq(store_get(st, 1, &got, &e), 0, "%s", e.msg);
        store_filter_init(&f);
        f.before_id = 2;
        cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0, "%s", e.msg);
        cr_assert_eq(n, 1);
        cr_assert_lt(timefmt_mono_ns() - t0, 100 * 1000000LL);
        result_free(&got);
        store_rows_free(rows, n);
    }
    gate_set(0);
    pthread_join(first, NULL);
}

static int post_rc;

static void *
post_one_rc(void *arg)
{
    struct result r;
    struct err e = {0, ""};

    memset(&r, 0, sizeof r);
    r.received_ms = 1764781200000LL;
    r.route = strdup("/lab/results");
    r.suite = strdup((const char *)arg);
    r.status = RESULT_PASS;
    r.payload = strdup("{}");
    r.ident.source_addr = strdup("127.0.0.1");
    r.ident.request_id = strdup("req");
    if (result_set_principal(&r) == 0)
        post_rc = store_insert(st, &r, &e);
    result_free(&r);
    return NULL;
}

/*
 * When the fdatasync fails, the poster gets an error, and so does a
 * reader that read its row: neither is told the row is stored.
 */
Test(store, readers_get_the_error_when_the_disk_fails_their_rows,
     .timeout = 30)
{
    pthread_t first, reader;
    struct reads r;

    memset(&r, 0, sizeof r);
    hold_sync_of(&first, post_one_rc, "doomed");
    gate_fails = 1; /* read by the held syncer once the gate opens */
    pthread_create(&reader, NULL, read_all, &r);
    usleep(100000);
    cr_assert_eq(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST), 0);
    gate_set(0);
    pthread_join(first, NULL);
    pthread_join(reader, NULL);
    cr_assert_eq(post_rc, ERR_IO);
    cr_assert_eq(r.rc_get, ERR_IO);
    cr_assert_str_eq(r.e_get.msg,
                     "results up to id 1 were not confirmed by the disk "
                     "(fdatasync failed); restart labgate");
    cr_assert_eq(r.rc_list, ERR_IO);
    cr_assert_str_eq(r.e_list.msg, r.e_get.msg);
    cr_assert_eq(r.rc_summary, ERR_IO);
    cr_assert_str_eq(r.e_summary.msg, r.e_get.msg);
}

/* A disk that does not answer: the read gives up and says why. */
Test(store, readers_give_up_when_the_disk_does_not_answer, .timeout = 30)
{
    struct store_options o = {dir.db, 64, 1000, 2, NULL, 0, 0, 300};
    struct store_filter f;
    struct result *rows;
    struct err e = {0, ""};
    pthread_t first;
    int64_t t0;
    size_t n;

    store_close(st);
    cr_assert_eq(store_open(&st, &o, NULL), 0);
    hold_sync(&first);
    store_filter_init(&f);
    t0 = timefmt_mono_ns();
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), ERR_BUSY);
    cr_assert_geq(timefmt_mono_ns() - t0, 300 * 1000000LL);
    cr_assert_lt(timefmt_mono_ns() - t0, 5000 * 1000000LL);
    cr_assert_str_eq(e.msg, "results up to id 1 are not yet confirmed by "
                            "the disk");
    gate_set(0);
    pthread_join(first, NULL);
    cr_assert_eq(store_list(st, &f, &rows, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    store_rows_free(rows, n);
}
