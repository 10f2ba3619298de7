/*
 * Commit notifications for long-polling readers.  The writer thread bumps
 * store->commit_seq and broadcasts store->changed after each batch (under
 * store->lock, which it already holds at that point); a watcher remembers
 * the sequence number it saw before reading and sleeps until it moves.
 * Taking the number before the read means a commit that lands between
 * the read and the wait is never missed.
 */
#include <errno.h>
#include <time.h>

#include "store_internal.h"

uint64_t
store_watch_seq(struct store *s)
{
    uint64_t seq;

    pthread_mutex_lock(&s->lock);
    seq = s->commit_seq;
    pthread_mutex_unlock(&s->lock);
    return seq;
}

int
store_watch_wait(struct store *s, uint64_t seen, int64_t deadline_ms)
{
    struct timespec ts;
    int rc = 0;

    ts.tv_sec = (time_t)(deadline_ms / 1000);
    ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
    pthread_mutex_lock(&s->lock);
    while (s->commit_seq == seen && !s->watch_closed && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->changed, &s->lock, &ts);
    if (s->watch_closed)
        rc = ERR_IO;
    else if (s->commit_seq != seen)
        rc = 0;
    else
        rc = ERR_BUSY;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void
store_watch_close(struct store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->watch_closed = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}
