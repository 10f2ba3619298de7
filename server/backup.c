/*
 * Online backup.  The source is opened read-only; one
 * sqlite3_backup_step(-1) copies every page inside a single read
 * transaction, which in WAL mode neither blocks the server's writer nor
 * is disturbed by it, so the copy is the database as of one commit.
 * (Copying in several steps would restart whenever the server commits,
 * and a busy server commits all the time.)  The destination is a
 * temporary file that is checked, synced and renamed, so a crash or an
 * error never leaves a half-written FILE behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "config.h"
#include "log.h"

#define BACKUP_BUSY_MS 10000
#define BACKUP_EXIT_USAGE 2

/* The single value of a one-row, one-column query, as text. */
static int
backup_query_text(sqlite3 *db, const char *sql, char *out, size_t n,
                  struct err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", t ? (const char *)t : "");
        sqlite3_finalize(st);
        return 0;
    }
    err_set(err, ERR_IO, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ERR_IO;
}

static int
backup_open_source(const char *src, sqlite3 **out, struct err *err)
{
    char v[32];
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(src, &db, SQLITE_OPEN_READONLY, NULL);

    if (rc != SQLITE_OK) {
        err_set(err, ERR_IO, "cannot open %.200s: %s", src,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return ERR_IO;
    }
    sqlite3_busy_timeout(db, BACKUP_BUSY_MS);
    if (backup_query_text(db,
                          "SELECT count(*) FROM sqlite_schema WHERE "
                          "type = 'table' AND name = 'results'",
                          v, sizeof v, err) != 0) {
        sqlite3_close(db);
        return ERR_IO;
    }
    if (strcmp(v, "1") != 0) {
        sqlite3_close(db);
        return err_set(err, ERR_INVALID,
                       "%.200s is not a labgate database (no results "
                       "table)",
                       src);
    }
    *out = db;
    return 0;
}

/* Copy every page of src into dest in one step (one read transaction). */
static int
backup_pages(sqlite3 *src, sqlite3 *dest, int *pages, struct err *err)
{
    sqlite3_backup *b = sqlite3_backup_init(dest, "main", src, "main");
    int rc;

    if (b == NULL)
        return err_set(err, ERR_IO, "backup: %s", sqlite3_errmsg(dest));
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    *pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return err_set(err, ERR_IO, "backup: %s", sqlite3_errstr(rc));
    return 0;
}

/* Check the copy, make it one self-contained file and count it. */
static int
backup_finish_copy(sqlite3 *dest, struct backup_stats *st, struct err *err)
{
    char v[256];

    if (backup_query_text(dest, "PRAGMA integrity_check", v, sizeof v, err) !=
        0)
        return ERR_IO;
    if (strcmp(v, "ok") != 0)
        return err_set(err, ERR_IO, "the copy fails integrity_check: %s", v);
    if (backup_query_text(dest, "PRAGMA journal_mode = DELETE", v, sizeof v,
                          err) != 0)
        return ERR_IO;
    if (backup_query_text(dest, "SELECT count(*) FROM results", v, sizeof v,
                          err) != 0)
        return ERR_IO;
    st->results = strtoll(v, NULL, 10);
    if (backup_query_text(dest, "SELECT coalesce(max(id), 0) FROM results", v,
                          sizeof v, err) != 0)
        return ERR_IO;
    st->max_id = strtoll(v, NULL, 10);
    return 0;
}

/* fsync path (a file or a directory). */
static int
backup_sync(const char *path, struct err *err)
{
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return err_set(err, ERR_IO, "sync %.200s: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

/* Sync tmp, rename it to dest and sync the directory holding both. */
static int
backup_publish(const char *tmp, const char *dest, struct err *err)
{
    char dir[4096];

    if (backup_sync(tmp, err) != 0)
        return ERR_IO;
    if (rename(tmp, dest) != 0)
        return err_set(err, ERR_IO, "rename to %.200s: %s", dest,
                       strerror(errno));
    snprintf(dir, sizeof dir, "%s", dest);
    return backup_sync(dirname(dir), err);
}

int
backup_copy(const char *src, const char *dest, struct backup_stats *stats,
            struct err *err)
{
    struct backup_stats local;
    sqlite3 *sdb = NULL, *ddb = NULL;
    char tmp[4096];
    struct stat sb;
    int rc;

    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (stat(dest, &sb) == 0)
        return err_set(err, ERR_INVALID,
                       "%.200s exists; refusing to overwrite it", dest);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid());
    rc = backup_open_source(src, &sdb, err);
    if (rc != 0)
        return rc;
    /* A leftover from a crashed run with the same pid is ours to drop. */
    unlink(tmp);
    if (sqlite3_open_v2(tmp, &ddb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        rc = err_set(err, ERR_IO, "cannot create %.200s: %s", tmp,
                     sqlite3_errmsg(ddb));
        goto out;
    }
    rc = backup_pages(sdb, ddb, &stats->pages, err);
    if (rc == 0)
        rc = backup_finish_copy(ddb, stats, err);
    if (sqlite3_close(ddb) != SQLITE_OK && rc == 0)
        rc = err_set(err, ERR_IO, "close %.200s failed", tmp);
    ddb = NULL;
    if (rc == 0)
        rc = backup_publish(tmp, dest, err);
out:
    sqlite3_close(ddb);
    sqlite3_close(sdb);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static void
backup_usage(FILE *f)
{
    fprintf(f,
            "usage: labgate-server backup [--config FILE] [--db PATH] "
            "FILE\n"
            "\n"
            "Copy the live database to FILE (which must not exist) while "
            "the server\nkeeps running.  The database is --db, else the "
            "configuration's\n\"database\", else %s.\n",
            CONFIG_DEFAULT_DATABASE);
}

/* Resolve the source path into cfg from the flags. */
static int
backup_args(int argc, char **argv, struct config *cfg, const char **dest)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *db = NULL;
    struct err err = {0, ""};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'd')
            db = optarg;
        else if (c == 'h') {
            backup_usage(stdout);
            return -1;
        } else {
            backup_usage(stderr);
            return BACKUP_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "labgate-server backup: expected one FILE\n");
        backup_usage(stderr);
        return BACKUP_EXIT_USAGE;
    }
    *dest = argv[optind];
    if ((config && config_load_file(cfg, config, &err) != 0) ||
        (db && config_set_database(cfg, db, &err) != 0)) {
        fprintf(stderr, "labgate-server: configuration error: %s\n", err.msg);
        return BACKUP_EXIT_USAGE;
    }
    return 0;
}

int
backup_main(int argc, char **argv)
{
    struct backup_stats st;
    struct err err = {0, ""};
    struct config cfg;
    const char *dest = NULL;
    int rc;

    if (config_init(&cfg) != 0) {
        fprintf(stderr, "labgate-server: out of memory\n");
        return 1;
    }
    rc = backup_args(argc, argv, &cfg, &dest);
    if (rc == 0) {
        rc = backup_copy(cfg.database, dest, &st, &err) == 0 ? 0 : 1;
        if (rc == 0)
            printf("backup of %s to %s: %lld results (last id %lld), %d "
                   "pages\n",
                   cfg.database, dest, (long long)st.results,
                   (long long)st.max_id, st.pages);
        else
            fprintf(stderr, "labgate-server backup: %s\n", err.msg);
    }
    config_free(&cfg);
    return rc < 0 ? 0 : rc;
}
