/*
 * Commit notifications for long-polling readers.  The writer thread adds
 * one to store->commit_seq (atomically) after each batch and does
 * nothing else for watchers: no lock, no wake-up.  A watcher remembers
 * the number it saw before reading and checks it every
 * STORE_WATCH_TICK_MS while it waits.
 *
 * Checking on a tick instead of sleeping on a condition variable is
 * deliberate.  A broadcast after every commit woke every watcher at once,
 * and all of them then fought over the store's queue lock, the one the
 * writer and every posting thread need: with 100 watchers that herd cost
 * posting a third of its throughput.  A tick costs each watcher a few
 * wake-ups a second, touches no shared lock, and adds at most one tick
 * of latency.  Taking the number before the read means a commit that
 * lands between the read and the wait is never missed.
 */
#include <time.h>

#include "store_internal.h"
#include "timefmt.h"

#define STORE_WATCH_TICK_MS 50

uint64_t
store_watch_seq(struct store *s)
{
    return __atomic_load_n(&s->commit_seq, __ATOMIC_ACQUIRE);
}

int
store_watch_wait(struct store *s, uint64_t seen, int64_t deadline_ms)
{
    for (;;) {
        int64_t left;
        struct timespec ts;
        if (__atomic_load_n(&s->watch_closed, __ATOMIC_ACQUIRE))
            return ERR_IO;
        if (store_watch_seq(s) != seen)
            return 0;
        left = deadline_ms - timefmt_now_ms();
        if (left <= 0)
            return ERR_BUSY;
        if (left > STORE_WATCH_TICK_MS)
            left = STORE_WATCH_TICK_MS;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

void
store_watch_close(struct store *s)
{
    if (s != NULL)
        __atomic_store_n(&s->watch_closed, 1, __ATOMIC_RELEASE);
}
