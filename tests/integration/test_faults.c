/*
 * Faults under the real server: the disk filling up (a file size limit,
 * and a small tmpfs when the test may mount one), the database locked by
 * another process, and the JWT issuer's key endpoint slow, down or
 * answering garbage.  In every storage fault posts get 503 with a reason,
 * every result that was answered 201 is in the database afterwards, and
 * the server takes posts again by itself once the fault clears.
 */
#define _GNU_SOURCE /* prlimit */

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tissuer.h"
#include "tsupport.h"

#define ACKS_MAX 4096

static struct tsrv srv;
static struct tissuer *ti;
static char mnt[TSUPPORT_PATH_MAX]; /* tmpfs mount point, or "" */
static long long acked[ACKS_MAX];   /* ids answered 201 */
static int nacked;
static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;

static void
setup(void)
{
    tsrv_init(&srv);
    nacked = 0;
    mnt[0] = '\0';
}

static void
teardown(void)
{
    if (srv.pid > 0)
        tsrv_kill9(&srv);
    if (mnt[0] != '\0') {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
    }
    tsrv_cleanup(&srv);
    tissuer_free(ti);
    ti = NULL;
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 180);

/* Start the server with SIGXFSZ ignored, so a file size limit is EFBIG. */
static void
start_server(const char *extra_config)
{
    char cfg[2048];
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;

    snprintf(cfg, sizeof cfg,
             "{\"listen\":\"127.0.0.1:0\",\"database\":\"unused.db\","
             "\"iam\":{}%s}",
             extra_config);
    snprintf(srv.config, sizeof srv.config, "%s/labgate.json", srv.dir);
    cr_assert_eq(tsupport_write_file(srv.config, cfg), 0);
    /* An ignored signal stays ignored across exec. */
    sigaction(SIGXFSZ, &ign, &old);
    cr_assert_eq(tsrv_start(&srv, NULL), 0, "server did not start");
    sigaction(SIGXFSZ, &old, NULL);
}

/* Post one result with a payload of pad bytes; returns the status. */
static long
post(const char *suite, size_t pad, char *msg, size_t msgn)
{
    char body[16384];
    struct tresp r;
    long st;
    int n;

    n = snprintf(body, sizeof body,
                 "{\"status\":\"pass\",\"suite\":\"%s\",\"pad\":\"", suite);
    memset(body + n, 'x', pad);
    strcpy(body + n + pad, "\"}");
    cr_assert_eq(thttp_post_json(&srv, "/lab/results", body, &r), 0);
    st = r.status;
    if (st == 201) {
        json_t *j = json_loads(r.body, 0, NULL);
        pthread_mutex_lock(&ack_lock);
        if (nacked < ACKS_MAX)
            acked[nacked++] = json_integer_value(json_object_get(j, "id"));
        pthread_mutex_unlock(&ack_lock);
        json_decref(j);
    }
    if (msg != NULL)
        snprintf(msg, msgn, "%s", r.body);
    tresp_free(&r);
    return st;
}

/* Every acknowledged id is stored, and the table holds exactly want rows. */
static void
expect_all_acked_stored(int want)
{
    sqlite3 *db;
    sqlite3_stmt *q;

    cr_assert_eq(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) FROM results WHERE id = ?",
                                    -1, &q, NULL),
                 SQLITE_OK);
    for (int i = 0; i < nacked; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, acked[i]);
        cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
        cr_assert_eq(sqlite3_column_int(q, 0), 1, "acknowledged id %lld lost",
                     acked[i]);
    }
    sqlite3_finalize(q);
    cr_assert_eq(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM results", -1, &q, NULL),
        SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), want);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/*
 * Post until the disk refuses: at least one 201 first, then a 503 whose
 * message says the result was not stored, and more 503s while it lasts.
 */
static void
fill_until_503(const char *reason)
{
    char msg[512];
    long st = 201;
    int i;

    for (i = 0; i < 3000 && st == 201; i++)
        st = post("fill", 8000, msg, sizeof msg);
    cr_assert_eq(st, 503, "after %d posts: %ld %s", i, st, msg);
    cr_assert_gt(nacked, 0);
    cr_assert(strncmp(msg, "{\"message\":\"result not stored: ", 31) == 0, "%s",
              msg);
    cr_assert(strstr(msg, reason) != NULL, "%s lacks %s", msg, reason);
    for (i = 0; i < 3; i++)
        cr_assert_eq(post("during", 8000, msg, sizeof msg), 503, "%s", msg);
}

/* After the fault clears, posts succeed again without a restart. */
static void
expect_recovery_then_durable(void)
{
    int before = nacked;

    for (int i = 0; i < 5; i++)
        cr_assert_eq(post("after", 100, NULL, 0), 201);
    cr_assert_eq(nacked, before + 5);
    cr_assert_eq(tsrv_stop(&srv), 0);
    expect_all_acked_stored(nacked);
}

Test(faults, file_size_limit_gives_503_and_recovers)
{
    struct rlimit lim = {2 * 1024 * 1024, RLIM_INFINITY};
    struct rlimit none = {RLIM_INFINITY, RLIM_INFINITY};

    start_server(",\"jwt\":{}");
    /* Like `ulimit -f`, but set on the running server so it can be lifted. */
    cr_assert_eq(prlimit(srv.pid, RLIMIT_FSIZE, &lim, NULL), 0, "%s",
                 strerror(errno));
    /* A write past the limit fails with EFBIG, which SQLite calls I/O. */
    fill_until_503("disk I/O error");
    cr_assert_eq(prlimit(srv.pid, RLIMIT_FSIZE, &none, NULL), 0);
    expect_recovery_then_durable();
}

/* Mount a tmpfs of size bytes for the database; 0 when not permitted. */
static int
mount_small_tmpfs(const char *size)
{
    char opts[64];

    snprintf(mnt, sizeof mnt, "%s/fs", srv.dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    if (mount("labgate-test", mnt, "tmpfs", 0, opts) != 0) {
        rmdir(mnt);
        mnt[0] = '\0';
        return 0;
    }
    snprintf(srv.db, sizeof srv.db, "%s/labgate.db", mnt);
    return 1;
}

Test(faults, full_filesystem_gives_503_and_recovers)
{
    if (!mount_small_tmpfs("3m"))
        cr_skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                "disk full is covered by the file size limit test");
    start_server(",\"jwt\":{}");
    fill_until_503("database or disk is full");
    /* Growing the filesystem is what an operator's fix looks like. */
    cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT, "size=64m"), 0, "%s",
                 strerror(errno));
    expect_recovery_then_durable();
}

/* A child process that holds an exclusive lock on path for ms. */
static pid_t
lock_database(const char *path, int ms, int ready_fd)
{
    pid_t pid = fork();

    if (pid == 0) {
        sqlite3 *db;
        char ok = 1;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
            ok = 0;
        if (write(ready_fd, &ok, 1) != 1)
            _exit(1);
        usleep((useconds_t)ms * 1000);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    return pid;
}

struct poster_out {
    int ok, busy, other;
};

static void *
poster(void *arg)
{
    struct poster_out *o = arg;

    for (int i = 0; i < 3; i++) {
        long st = post("locked", 100, NULL, 0);
        if (st == 201)
            o->ok++;
        else if (st == 503)
            o->busy++;
        else
            o->other++;
    }
    return NULL;
}

Test(faults, database_locked_by_another_process_gives_503_and_recovers)
{
    struct poster_out out[8];
    pthread_t t[8];
    int fds[2], busy = 0, ok = 0, status;
    char ready = 0;
    pid_t locker;

    start_server(",\"jwt\":{}");
    cr_assert_eq(post("before", 100, NULL, 0), 201);
    cr_assert_eq(pipe(fds), 0);
    /* Longer than the store's 5 s busy timeout, so posts give up. */
    locker = lock_database(srv.db, 7000, fds[1]);
    cr_assert_eq(read(fds[0], &ready, 1), 1);
    cr_assert_eq(ready, 1, "the other process could not lock the database");
    memset(out, 0, sizeof out);
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, poster, &out[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        busy += out[i].busy;
        ok += out[i].ok;
        cr_assert_eq(out[i].other, 0);
    }
    cr_assert_gt(busy, 0, "no post was refused while the lock was held");
    cr_assert_eq(waitpid(locker, &status, 0), locker);
    close(fds[0]);
    close(fds[1]);
    cr_assert_eq(ok + busy, 24);
    expect_recovery_then_durable();
}

/* POST to the JWT route with a client timeout; -1 when it timed out. */
static long
post_bearer(const char *token, long timeout_ms)
{
    static const char body[] = "{\"status\":\"pass\",\"suite\":\"jwt\"}";
    struct curl_slist *h = NULL;
    char url[128], *auth = malloc(strlen(token) + 32);
    CURL *c = curl_easy_init();
    long st = -1;
    FILE *devnull = fopen("/dev/null", "w");

    sprintf(auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(url, sizeof url, "%s/lab/results-secure", srv.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(devnull);
    free(auth);
    return st;
}

enum issuer_fault { ISSUER_SLOW, ISSUER_DOWN, ISSUER_GARBAGE };

struct unknown_kid_post {
    char *token;
    long status;
};

static void *
unknown_kid_poster(void *arg)
{
    struct unknown_kid_post *u = arg;

    u->status = post_bearer(u->token, 30000);
    return NULL;
}

static char *
token_for(const char *kid)
{
    char *claims = tissuer_github_claims(ti, "\"lab-api\"", 600, NULL);
    char *tok = tissuer_token(ti, kid, claims);

    free(claims);
    return tok;
}

/*
 * With the key set cached, break the issuer and make a token with an
 * unknown kid force a fetch from it.  While that fetch hangs or fails,
 * posts with cached keys must still be answered at once: each is given
 * 2 s, a fifth of the issuer's 10 s stall.
 */
static void
cached_keys_survive(enum issuer_fault fault)
{
    char cfg[1024], *tok, *fresh;
    struct unknown_kid_post u = {NULL, 0};
    pthread_t t;
    int fetches_before;

    ti = tissuer_start();
    snprintf(cfg, sizeof cfg,
             ",\"jwt\":{\"issuers\":[{\"issuer\":\"%s\",\"audiences\":"
             "[\"lab-api\"],\"allow_insecure_http\":true}]}",
             tissuer_url(ti));
    start_server(cfg);
    tok = token_for(TISSUER_KID_RSA);
    cr_assert_eq(post_bearer(tok, 10000), 201);
    tissuer_add_key(ti, "rotated-1", TISSUER_RSA2048);
    fresh = token_for("rotated-1");
    /* A fetch starts with the discovery document, then the key set. */
    fetches_before = tissuer_jwks_requests(ti) + tissuer_discovery_requests(ti);
    if (fault == ISSUER_SLOW)
        tissuer_set_delay(ti, 10000);
    else if (fault == ISSUER_DOWN)
        tissuer_down(ti);
    else
        tissuer_set_garbage(ti, 1);
    u.token = fresh;
    pthread_create(&t, NULL, unknown_kid_poster, &u);
    usleep(300000);
    if (fault != ISSUER_DOWN)
        cr_assert_gt(tissuer_jwks_requests(ti) + tissuer_discovery_requests(ti),
                     fetches_before,
                     "the unknown kid did not make the server fetch");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(post_bearer(tok, 2000), 201, "cached-key post %d", i);
    pthread_join(t, NULL);
    /* The key could not be fetched: the new token is refused, not hung. */
    cr_assert_eq(u.status, 401);
    tissuer_set_delay(ti, 0);
    tissuer_set_garbage(ti, 0);
    if (fault == ISSUER_DOWN)
        tissuer_up(ti);
    /* The cached set was kept, not replaced by what the issuer sent. */
    cr_assert_eq(post_bearer(tok, 2000), 201);
    free(tok);
    free(fresh);
    cr_assert_eq(tsrv_stop(&srv), 0);
    expect_all_acked_stored(12);
}

Test(faults, jwks_slow_keeps_cached_key_posts_fast)
{
    cached_keys_survive(ISSUER_SLOW);
}

Test(faults, jwks_down_keeps_cached_key_posts_fast)
{
    cached_keys_survive(ISSUER_DOWN);
}

Test(faults, jwks_garbage_keeps_cached_key_posts_fast)
{
    cached_keys_survive(ISSUER_GARBAGE);
}

/* Run a shell command built printf-style; returns system()'s status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/*
 * A read-only database, the way it happens in production: the kernel
 * turns an ext4 filesystem read-only under a running server after an
 * error (errors=remount-ro).  A tmpfs cannot be remounted read-only while
 * SQLite holds the file open for writing (the kernel answers EBUSY), so
 * the test uses a small ext4 image on a loop device and the kernel's own
 * error trigger.  Such a filesystem needs fsck and a fresh mount before
 * it takes writes again, so recovery here is an operator's restart.
 */
Test(faults, read_only_filesystem_gives_503_and_loses_nothing)
{
    char img[TSUPPORT_PATH_MAX], msg[512], dev[64] = "", trig[128];
    FILE *f;

    snprintf(img, sizeof img, "%s/fs.img", srv.dir);
    snprintf(mnt, sizeof mnt, "%s/fs", srv.dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    if (geteuid() != 0 ||
        sh("truncate -s 32M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1", img,
           img) != 0 ||
        sh("mount -o loop,errors=remount-ro '%s' '%s' 2>/dev/null", img, mnt) !=
            0) {
        rmdir(mnt);
        mnt[0] = '\0';
        cr_skip("cannot mount an ext4 image on a loop device here (needs "
                "root and loop devices)");
    }
    snprintf(trig, sizeof trig, "findmnt -n -o SOURCE '%s'", mnt);
    f = popen(trig, "r");
    cr_assert(f != NULL && fgets(dev, sizeof dev, f) != NULL);
    pclose(f);
    dev[strcspn(dev, "\n")] = '\0';
    snprintf(trig, sizeof trig, "/sys/fs/ext4/%s/trigger_fs_error",
             strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev);
    if (access(trig, W_OK) != 0)
        cr_skip("this kernel has no %s", trig);
    snprintf(srv.db, sizeof srv.db, "%s/labgate.db", mnt);
    start_server(",\"jwt\":{}");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(post("before", 100, NULL, 0), 201);
    cr_assert_eq(sh("echo 1 > '%s'", trig), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(post("readonly", 100, msg, sizeof msg), 503, "%s", msg);
        cr_assert(strncmp(msg, "{\"message\":\"result not stored: ", 31) == 0,
                  "%s", msg);
    }
    tsrv_kill9(&srv);
    /* What an operator does: unmount, check, mount again, restart. */
    cr_assert_eq(sh("umount '%s'", mnt), 0);
    sh("e2fsck -fy '%s' >/dev/null 2>&1", img);
    cr_assert_eq(sh("mount -o loop '%s' '%s'", img, mnt), 0);
    expect_all_acked_stored(20);
    start_server(",\"jwt\":{}");
    expect_recovery_then_durable();
}

/*
 * The disk stops confirming writes: fdatasync of the WAL fails (with
 * tests/support/fail_sync.c preloaded, while a trigger file exists).
 * The posts of that batch get 503, and so does every post after it even
 * once fdatasync works again, because the kernel may have dropped the
 * pages it could not write (store_sync.c); /readyz says why.  A restart
 * takes posts again, and every result answered 201 is there.
 */
Test(faults, failed_fdatasync_refuses_posts_until_restart)
{
    char trigger[TSUPPORT_PATH_MAX], asan[512], msg[512];
    const char *old_asan = getenv("ASAN_OPTIONS");
    struct tresp r;
    int unconfirmed;
    FILE *f;

    snprintf(trigger, sizeof trigger, "%s/fail-sync", srv.dir);
    /* A preloaded library comes before the sanitizer's runtime. */
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
             old_asan ? old_asan : "", old_asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    setenv("LD_PRELOAD", LABGATE_FAIL_SYNC_LIB, 1);
    setenv("LABGATE_TEST_FAIL_SYNC", trigger, 1);
    start_server(",\"jwt\":{}");
    unsetenv("LD_PRELOAD");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(post("before", 100, NULL, 0), 201);

    cr_assert((f = fopen(trigger, "w")) != NULL);
    fclose(f);
    cr_assert_eq(post("unconfirmed", 100, msg, sizeof msg), 503, "%s", msg);
    cr_assert_str_eq(msg, "{\"message\":\"result not stored: the disk did "
                          "not confirm the write (fdatasync failed); the "
                          "store refuses results until labgate is "
                          "restarted\"}");
    cr_assert(tsrv_log_has(&srv, "event=sync_failed"));
    cr_assert(tsrv_log_has(&srv, "action=refuse_until_restart"));

    /* The disk answers again; the store still refuses, and says so. */
    cr_assert_eq(unlink(trigger), 0);
    cr_assert_eq(post("after-fault", 100, msg, sizeof msg), 503, "%s", msg);
    cr_assert_str_eq(msg, "{\"message\":\"result not stored: the disk did "
                          "not confirm an earlier write (fdatasync "
                          "failed); the store refuses results until "
                          "labgate is restarted\"}");
    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "{\"message\":\"not ready: store: an fdatasync "
                             "of the write-ahead log failed; check the "
                             "disk, then restart labgate\"}");
    tresp_free(&r);

    /* Reads answer what the disk confirmed, and refuse the rest. */
    cr_assert_eq(thttp_get(&srv, "/lab/results?suite=before", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"id\":5,") != NULL, "%s", r.body);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/lab/results", &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "{\"message\":\"results up to id 6 were not "
                             "confirmed by the disk (fdatasync failed); "
                             "restart labgate\"}");
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/lab/results/6", &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    tresp_free(&r);
    cr_assert_eq(thttp_get(&srv, "/lab/summary", &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "{\"message\":\"summary: results up to id 6 "
                             "were not confirmed by the disk (fdatasync "
                             "failed); restart labgate\"}");
    tresp_free(&r);

    cr_assert_eq(tsrv_stop(&srv), 0);
    cr_assert_eq(tsrv_count_rows(&srv, "WHERE suite = 'after-fault'"), 0);
    start_server(",\"jwt\":{}");
    cr_assert_eq(thttp_get(&srv, "/readyz", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    tresp_free(&r);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(post("restarted", 100, NULL, 0), 201);
    cr_assert_eq(tsrv_stop(&srv), 0);
    cr_assert_eq(nacked, 10);
    /* The unconfirmed row may or may not have reached the disk. */
    unconfirmed = tsrv_count_rows(&srv, "WHERE suite = 'unconfirmed'");
    cr_assert(unconfirmed == 0 || unconfirmed == 1, "%d", unconfirmed);
    expect_all_acked_stored(nacked + unconfirmed);
}
