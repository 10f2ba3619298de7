/*
 * Internals of the store module, shared by store.c and the store_*.c
 * files that add tables of their own (JWKS cache, audit chain, ...).
 * Nothing outside the store module includes this header: the rest of the
 * server sees only store.h.
 */
#ifndef LABGATE_STORE_INTERNAL_H
#define LABGATE_STORE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>

#include "buf.h"
#include "store.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_READERS_MAX 32
/* Longest the writer leaves the write lock to another connection. */
#define STORE_YIELD_MS 200
/* WAL pages (frames) after which the writer runs a checkpoint. */
#define STORE_CHECKPOINT_FRAMES 4000
/* Longest a reader waits for the disk to confirm rows it read. */
#define STORE_VISIBLE_WAIT_MS 10000

struct store_pending {
    struct result *r;
    int rc;
    char msg[ERR_MSG_MAX];
    sem_t done; /* posted once the outcome is in rc and msg */
    struct store_pending *next;
};

struct store_audit; /* store_audit.c: chain state, key, pruner */
struct store_agg;   /* store_agg.c: suite_status, folded per batch */

struct store {
    char *path;
    int opened_version; /* schema version before this open migrated it */
    int batch_max;
    int queue_max;
    void (*on_commit)(void *arg, int rows, int64_t ns, int ok);
    void *on_commit_arg;

    pthread_mutex_t lock;
    pthread_cond_t work; /* the queue gained an entry, the syncer is idle */
    struct store_pending *head, *tail;
    struct store_pending **batch; /* batch_max slots; writer thread */
    int outside; /* connections waiting to write (store_write_enter) */
    int lingering; /* the writer waits for the syncer with a batch open */
    int queued;
    int stopping;
    pthread_t writer;
    int writer_started;
    sqlite3 *wdb;
    sqlite3_stmt *insert;
    struct store_audit *audit;
    struct store_agg *agg;

    pthread_mutex_t rlock;
    pthread_cond_t rfree;
    sqlite3 *readers[STORE_READERS_MAX];
    int nreaders;
    int ravail; /* bit i set: readers[i] is free */

    /* Durability (store_sync.c): committed batches wait here for the
     * syncer's fdatasync of the WAL before their posters are woken. */
    pthread_cond_t synced; /* signalled when chead gains entries */
    struct store_pending *chead, *ctail;
    int crows;      /* rows committed in the entries on that list */
    int syncing;    /* the syncer has taken a list and not yet woken it */
    int64_t csince; /* when the oldest of them began to commit */
    int sync_stopping;
    int sync_failed; /* sticky: an fdatasync failed */
    pthread_t syncer;
    int syncer_started;
    int wal_fd;       /* the syncer's own descriptor of the WAL file */
    sqlite3 *ckdb;    /* checkpoints, synchronous=FULL; writer thread */
    int wal_frames;   /* WAL size after the last commit; writer thread */
    int checkpoint_frames; /* wal_frames that start a checkpoint */
    int visible_wait_ms;   /* store_sync_visible's longest wait */

    /*
     * What readers may show (store_sync_visible), atomic: a COMMIT can
     * have made ids up to committing_hi visible, and those up to
     * synced_hi are on disk.  handed_hi is the highest id the writer
     * has handed to the syncer (written under lock by the writer, read
     * by the writer and, under lock, the syncer).  Readers waiting
     * for synced_hi count themselves in vwaiters and sleep on vcond.
     */
    int64_t committing_hi;
    int64_t synced_hi;
    int64_t handed_hi;
    int vwaiters;
    pthread_mutex_t vlock;
    pthread_cond_t vcond;

    /* Long-poll watchers (store_watch.c) read these atomically. */
    uint64_t commit_seq; /* batches finished so far */
    int watch_closed;    /* set by store_watch_close */
};

/*
 * Around a write on a connection other than the writer's.  Under load
 * the writer holds the write lock nearly without a break (it keeps a
 * transaction open while the syncer works), and SQLite's busy handler
 * only polls, so such a write could wait out its whole busy timeout.
 * store_write_enter makes the writer commit what it holds and begin
 * nothing new (for up to STORE_YIELD_MS) until store_write_leave.
 */
void store_write_enter(struct store *s);
void store_write_leave(struct store *s);

/* Turn a SQLite error into ERR_BUSY, ERR_INVALID or ERR_IO with a reason. */
int store_sqlite_err(sqlite3 *db, int rc, const char *what, struct err *err);

/* Run SQL without results. Returns 0 or the mapped error. */
int store_exec(sqlite3 *db, const char *sql, struct err *err);

/* Bind v (NULL binds NULL) as static text to column col. */
void store_bind_text(sqlite3_stmt *st, int col, const char *v);

/*
 * Append ", col" to sql for every identity column, each qualified by
 * qual ("" or "r.").  JSON columns (the claims) are selected as they are
 * when NULL or valid JSON and as a JSON string of their text otherwise,
 * so that readers may copy what they read into an answer
 * (result_write_json) even if something other than labgate wrote the
 * row; the payload gets the same treatment in store.c.  Returns 0 or
 * ERR_NOMEM (then sql lacks some of the columns: do not run it).
 */
int store_select_idents(struct buf *sql, const char *qual);

/* A strdup of a text column, or NULL for NULL. */
char *store_column_dup(sqlite3_stmt *st, int col);

/* Borrow a read-only connection (blocks while all are in use). */
sqlite3 *store_reader_get(struct store *s);

/* Return a connection taken with store_reader_get. */
void store_reader_put(struct store *s, sqlite3 *db);

/* Open a connection with the store's settings (busy timeout, ...). */
int store_connect(const char *path, int flags, sqlite3 **out,
                  struct err *err);

/*
 * The audit chain's part of the writer (store_audit.c).  store_audit_open
 * runs once on the writer connection after the migrations: it loads the
 * key, checks it against the database (or starts the chain, chaining rows
 * that predate it) and learns the next id and the last chain value.
 * Afterwards only the writer thread calls begin/seal/advance/end/rollback,
 * around each batch.
 */
int store_audit_open(struct store *s, const char *key_file,
                     struct err *err);

/* Start the background pruner when retention_days > 0. */
int store_audit_start(struct store *s, int retention_days, struct err *err);

/* Stop the pruner and free the chain state (s->audit may be NULL). */
void store_audit_close(struct store *s);

/* Remember the chain state at the start of a batch. */
void store_audit_begin(struct store *s);

/*
 * Give r the next id and compute its chain value into chain.  Returns 0
 * or ERR_NOMEM / ERR_INTERNAL.
 */
int store_audit_seal(struct store *s, struct result *r,
                     unsigned char *chain);

/* r was inserted with the values store_audit_seal gave it: move on. */
void store_audit_advance(struct store *s, struct result *r,
                         const unsigned char *chain);

/*
 * After a constraint failure on inserting id: when a row with that id
 * exists (one labgate did not write), move the next id past every stored
 * row and return 1 so the insert is retried; otherwise return 0.
 */
int store_audit_id_taken(struct store *s, int64_t id);

/* Record the new head inside the batch's transaction. */
int store_audit_end(struct store *s, struct err *err);

/* The batch was rolled back: return to the state of store_audit_begin. */
void store_audit_rollback(struct store *s);

/* Put the hex of a chain column (blob) into r->chain. */
int store_agg_open(struct store *s, struct err *err);

void store_agg_close(struct store *s);

void store_agg_begin(struct store *s);

void store_agg_add(struct store *s, const struct result *r);

int store_agg_flush(struct store *s, struct err *err);

int store_sync_open(struct store *s, struct err *err);

int store_sync_failed(struct store *s);

void store_sync_committed(struct store *s, struct store_pending **batch,
                          int n, int rows, int64_t since, int64_t hi);

/* Writer thread: a COMMIT of ids up to hi is about to run, or (hi 0)
 * the one announced failed and showed nothing. */
void store_sync_committing(struct store *s, int64_t hi);

void store_sync_checkpoint(struct store *s);

/*
 * A reader has read rows with ids up to max_id: wait until every one of
 * them that labgate committed is on disk.  Returns 0, ERR_IO when an
 * fdatasync failed, or ERR_BUSY after visible_wait_ms.
 */
int store_sync_visible(struct store *s, int64_t max_id, struct err *err);

void store_sync_close(struct store *s);

void store_audit_column_chain(sqlite3_stmt *st, int col, struct result *r);

#endif
