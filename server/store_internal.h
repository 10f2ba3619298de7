/*
 * Internals of the store module, shared by store.c and the store_*.c
 * files that add tables of their own (JWKS cache, audit chain, ...).
 * Nothing outside the store module includes this header: the rest of the
 * server sees only store.h.
 */
#ifndef LABGATE_STORE_INTERNAL_H
#define LABGATE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_READERS_MAX 32

struct store_pending {
    struct result *r;
    int rc;
    char msg[ERR_MSG_MAX];
    int done;
    pthread_cond_t cond;
    struct store_pending *next;
};

struct store {
    char *path;
    int batch_max;
    int queue_max;

    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when the queue gains an entry */
    struct store_pending *head, *tail;
    int queued;
    int stopping;
    pthread_t writer;
    int writer_started;
    sqlite3 *wdb;
    sqlite3_stmt *insert;

    pthread_mutex_t rlock;
    pthread_cond_t rfree;
    sqlite3 *readers[STORE_READERS_MAX];
    int nreaders;
    int ravail; /* bit i set: readers[i] is free */

    /* Long-poll watchers (store_watch.c) read these atomically. */
    uint64_t commit_seq; /* batches finished so far */
    int watch_closed;    /* set by store_watch_close */
};

/* Turn a SQLite error into ERR_BUSY, ERR_INVALID or ERR_IO with a reason. */
int store_sqlite_err(sqlite3 *db, int rc, const char *what, struct err *err);

/* Run SQL without results. Returns 0 or the mapped error. */
int store_exec(sqlite3 *db, const char *sql, struct err *err);

/* Bind v (NULL binds NULL) as static text to column col. */
void store_bind_text(sqlite3_stmt *st, int col, const char *v);

/* A strdup of a text column, or NULL for NULL. */
char *store_column_dup(sqlite3_stmt *st, int col);

/* Borrow a read-only connection (blocks while all are in use). */
sqlite3 *store_reader_get(struct store *s);

/* Return a connection taken with store_reader_get. */
void store_reader_put(struct store *s, sqlite3 *db);

#endif
