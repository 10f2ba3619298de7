/*
 * Durability of the writer's commits, kept off the writer's path.
 *
 * The writer connection runs with synchronous=OFF: its COMMIT writes the
 * transaction's frames to the WAL file and returns without waiting for
 * the disk.  The writer hands the batch to the syncer thread and starts
 * on the next batch while the syncer calls fdatasync on a descriptor of
 * its own for the WAL file; only when that returns are the batch's
 * posters woken with their ids.  One fdatasync covers every batch
 * committed before it began, so under load the disk wait of one batch
 * overlaps the CPU work of the next instead of taking turns with it.
 * This is the WAL commit of synchronous=FULL (write the frames, sync the
 * WAL, report success) split across two threads.
 *
 * Checkpoints must not run with synchronous=OFF: a checkpoint copies WAL
 * frames into the database file and then lets the WAL be overwritten, so
 * it has to sync the WAL before copying and the database file after.  A
 * WAL hook on the writer connection replaces SQLite's automatic
 * checkpoint and only counts frames; past checkpoint_frames (4,000 pages,
 * 16 MB, by default) the writer thread runs a PASSIVE checkpoint between
 * two batches on a second connection kept at synchronous=FULL, which
 * does both syncs.
 * Running it between batches lets it reach the end of the WAL, so the
 * next transaction starts the WAL again from its beginning and the file
 * does not grow under constant load.  The writer connection is switched
 * back to synchronous=FULL before it closes, because closing the last
 * connection checkpoints and deletes the WAL.
 *
 * A failed fdatasync is not retried: the kernel may already have dropped
 * the pages it could not write, leaving a hole in the WAL that would
 * silently cut off every later commit at recovery.  The store stops
 * taking results instead (every post gets 503 naming the failure) until
 * an operator has looked at the disk and restarted labgate.
 *
 * A reader, unlike with synchronous=FULL, could see a batch in the
 * milliseconds between its COMMIT and the end of its fdatasync, before
 * its posters have their 201, and a power failure then would lose rows
 * someone had been shown.  So the writer announces the highest id of a
 * batch before its COMMIT, the syncer publishes the highest id it has
 * made durable, and a reader whose answer holds an id between the two
 * waits for the syncer before answering (store_sync_visible).  Waiting
 * readers sleep on a condition variable of their own, which the syncer
 * signals only when some are counted: each waits through one sleep and
 * one wake-up, where polling woke it several times per fdatasync.
 * If the fdatasync fails, the reader gets the error instead of rows
 * whose posters got 503.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"

#include "store_internal.h"

static int
store_sync_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *s = arg;

    (void)db;
    (void)name;
    s->wal_frames = frames;
    return SQLITE_OK;
}

/* Wake the posters of the entries in list, leaving rc/msg as they are. */
static void
store_sync_wake(struct store_pending *list)
{
    struct store_pending *next;

    /* After the post the entry may be gone with its poster's stack. */
    for (; list != NULL; list = next) {
        next = list->next;
        sem_post(&list->done);
    }
}

static void
store_sync_fail(struct store_pending *list, const char *why)
{
    for (; list != NULL; list = list->next) {
        if (list->rc != 0)
            continue;
        list->rc = ERR_IO;
        snprintf(list->msg, sizeof list->msg, "%s", why);
        list->r->id = 0;
    }
}

static void *
store_sync_main(void *arg)
{
    struct store *s = arg;
    struct store_pending *list;
    void (*hook)(void *, int, int64_t, int);
    void *hook_arg;
    int64_t since, hi;
    int rows, rc;

    pthread_setname_np(pthread_self(), "labgate-sync");
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->chead == NULL && !s->sync_stopping)
            pthread_cond_wait(&s->synced, &s->lock);
        if (s->chead == NULL)
            break;
        list = s->chead;
        rows = s->crows;
        since = s->csince;
        hi = s->handed_hi;
        s->chead = s->ctail = NULL;
        s->crows = 0;
        s->syncing = 1;
        hook = s->on_commit;
        hook_arg = s->on_commit_arg;
        pthread_mutex_unlock(&s->lock);

        rc = s->sync_failed ? -1 : fdatasync(s->wal_fd);
        if (rc != 0) {
            char why[LOG_QUOTE_MAX];

            if (!s->sync_failed) {
                log_event(LOG_ERROR, "store", "sync_failed",
                          "rows=%d reason=%s action=refuse_until_restart",
                          rows, log_quote(strerror(errno), why, sizeof why));
                __atomic_store_n(&s->sync_failed, 1, __ATOMIC_RELEASE);
            }
            store_sync_fail(list, "the disk did not confirm the write "
                                  "(fdatasync failed); the store refuses "
                                  "results until labgate is restarted");
        }
        if (hook != NULL)
            hook(hook_arg, rc == 0 ? rows : 0, timefmt_mono_ns() - since,
                 rc == 0);
        if (rc == 0) {
            __atomic_store_n(&s->synced_hi, hi, __ATOMIC_SEQ_CST);
            __atomic_add_fetch(&s->commit_seq, 1, __ATOMIC_RELEASE);
        }
        /* A reader counted after this load sees the new synced_hi. */
        if (__atomic_load_n(&s->vwaiters, __ATOMIC_SEQ_CST) > 0) {
            pthread_mutex_lock(&s->vlock);
            pthread_cond_broadcast(&s->vcond);
            pthread_mutex_unlock(&s->vlock);
        }
        /* Let the writer commit the batch it kept open meanwhile. */
        pthread_mutex_lock(&s->lock);
        s->syncing = 0;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->lock);
        store_sync_wake(list);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int
store_sync_open(struct store *s, struct err *err)
{
    char *wal;
    size_t n = strlen(s->path) + sizeof "-wal";

    if ((wal = malloc(n)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(wal, n, "%s-wal", s->path);
    s->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
    if (s->wal_fd < 0) {
        err_set(err, ERR_IO, "%.200s: %s", wal, strerror(errno));
        free(wal);
        return ERR_IO;
    }
    free(wal);
    if (store_connect(s->path, SQLITE_OPEN_READWRITE, &s->ckdb, err) != 0 ||
        store_exec(s->ckdb, "PRAGMA synchronous = FULL", err) != 0 ||
        store_exec(s->wdb, "PRAGMA synchronous = OFF", err) != 0)
        return err->code;
    sqlite3_wal_hook(s->wdb, store_sync_wal_hook, s);
    pthread_cond_init(&s->synced, NULL);
    if (pthread_create(&s->syncer, NULL, store_sync_main, s) != 0) {
        pthread_cond_destroy(&s->synced);
        return err_set(err, ERR_INTERNAL, "cannot start the sync thread");
    }
    s->syncer_started = 1;
    return 0;
}

int
store_sync_failed(struct store *s)
{
    return __atomic_load_n(&s->sync_failed, __ATOMIC_ACQUIRE);
}

void
store_sync_committing(struct store *s, int64_t hi)
{
    /* A failed COMMIT showed nothing: back to what the syncer has. */
    __atomic_store_n(&s->committing_hi, hi > 0 ? hi : s->handed_hi,
                     __ATOMIC_SEQ_CST);
}

void
store_sync_committed(struct store *s, struct store_pending **batch, int n,
                     int rows, int64_t since, int64_t hi)
{
    pthread_mutex_lock(&s->lock);
    if (hi > s->handed_hi)
        s->handed_hi = hi;
    for (int i = 0; i < n; i++) {
        batch[i]->next = NULL;
        if (s->ctail != NULL)
            s->ctail->next = batch[i];
        else
            s->chead = batch[i];
        s->ctail = batch[i];
    }
    if (s->crows == 0)
        s->csince = since;
    s->crows += rows;
    pthread_cond_signal(&s->synced);
    pthread_mutex_unlock(&s->lock);
}

/* Are the ids up to max_id that this labgate committed on disk? */
static int
store_sync_settled(struct store *s, int64_t max_id, int64_t *hi)
{
    *hi = __atomic_load_n(&s->committing_hi, __ATOMIC_SEQ_CST);
    /* Ids above committing_hi were not written by this labgate. */
    if (*hi > max_id)
        *hi = max_id;
    return *hi <= __atomic_load_n(&s->synced_hi, __ATOMIC_SEQ_CST);
}

int
store_sync_visible(struct store *s, int64_t max_id, struct err *err)
{
    struct timespec until;
    int64_t hi;
    int rc = 0;

    if (store_sync_settled(s, max_id, &hi))
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->visible_wait_ms / 1000;
    until.tv_nsec += (long)(s->visible_wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    __atomic_add_fetch(&s->vwaiters, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&s->vlock);
    while (!store_sync_settled(s, max_id, &hi) && !store_sync_failed(s) &&
           rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->vcond, &s->vlock, &until);
    pthread_mutex_unlock(&s->vlock);
    __atomic_sub_fetch(&s->vwaiters, 1, __ATOMIC_SEQ_CST);
    if (store_sync_settled(s, max_id, &hi))
        return 0;
    if (store_sync_failed(s))
        return err_set(err, ERR_IO,
                       "results up to id %lld were not confirmed by the "
                       "disk (fdatasync failed); restart labgate",
                       (long long)hi);
    return err_set(err, ERR_BUSY,
                   "results up to id %lld are not yet confirmed by the disk",
                   (long long)hi);
}

void
store_sync_checkpoint(struct store *s)
{
    int frames = 0, done = 0, rc;
    int64_t t0;

    if (s->wal_frames < s->checkpoint_frames)
        return;
    t0 = timefmt_mono_ns();
    rc = sqlite3_wal_checkpoint_v2(s->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                   &frames, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        char why[LOG_QUOTE_MAX];

        log_event(LOG_WARN, "store", "checkpoint_failed", "rc=%d reason=%s",
                  rc, log_quote(sqlite3_errmsg(s->ckdb), why, sizeof why));
        return;
    }
    log_event(LOG_DEBUG, "store", "checkpoint", "frames=%d copied=%d ms=%.1f",
              frames, done, (double)(timefmt_mono_ns() - t0) / 1e6);
    if (rc == SQLITE_OK && done == frames)
        s->wal_frames = 0;
}

void
store_sync_close(struct store *s)
{
    if (s->syncer_started) {
        pthread_mutex_lock(&s->lock);
        s->sync_stopping = 1;
        pthread_cond_signal(&s->synced);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->syncer, NULL);
        pthread_cond_destroy(&s->synced);
        s->syncer_started = 0;
    }
    /* Closing the last connection checkpoints: let it sync. */
    if (s->wdb != NULL)
        sqlite3_exec(s->wdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    sqlite3_close(s->ckdb);
    s->ckdb = NULL;
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    s->wal_fd = -1;
}
