/*
 * Readiness and observation of the store: the /readyz write check and
 * the commit hook that feeds /metrics.  The check uses its own short-lived
 * read-write connection rather than the writer's, which belongs to the
 * writer thread: taking the write lock with BEGIN IMMEDIATE proves that
 * the file is writable by this process and that no one holds the lock
 * for longer than the wait, and rolling back leaves no trace (no result
 * row, no WAL frame).  After a failed fdatasync (store_sync.c) the store
 * refuses every result until a restart, so it is not ready either.
 */
#include <sqlite3.h>

#include "store.h"

#include "store_internal.h"

static int
store_queue_has_room(struct store *s, struct err *err)
{
    int queued, max, stopping;

    pthread_mutex_lock(&s->lock);
    queued = s->queued;
    max = s->queue_max;
    stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (stopping)
        return err_set(err, ERR_BUSY, "the store is shutting down");
    if (queued >= max)
        return err_set(err, ERR_BUSY, "write queue full (%d results)", queued);
    return 0;
}

int
store_check_writable(struct store *s, int wait_ms, struct err *err)
{
    sqlite3 *db = NULL;
    int rc;

    if (store_queue_has_room(s, err) != 0)
        return err->code;
    if (store_sync_failed(s))
        return err_set(err, ERR_IO,
                       "an fdatasync of the write-ahead log failed; check "
                       "the disk, then restart labgate");
    rc = sqlite3_open_v2(s->path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(db, rc, "open for writing", err);
        goto out;
    }
    if (sqlite3_db_readonly(db, "main") != 0) {
        rc = err_set(err, ERR_IO, "the database file is read-only");
        goto out;
    }
    sqlite3_busy_timeout(db, wait_ms);
    store_write_enter(s);
    rc = store_exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = store_exec(db, "ROLLBACK", err);
    store_write_leave(s);
out:
    sqlite3_close(db);
    return rc;
}

void
store_set_commit_hook(struct store *s,
                      void (*fn)(void *arg, int rows, int64_t ns, int ok),
                      void *arg)
{
    /* The writer copies both under the lock before each batch. */
    pthread_mutex_lock(&s->lock);
    s->on_commit = fn;
    s->on_commit_arg = arg;
    pthread_mutex_unlock(&s->lock);
}
