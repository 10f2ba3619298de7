/*
 * The store: the only module that speaks SQL.  Everything the HTTP
 * handlers persist or read goes through these functions, so that another
 * engine could replace SQLite without touching them.
 *
 * Writes go to one writer thread that commits whatever is queued in one
 * transaction (group commit) with synchronous=FULL, then wakes each
 * waiting caller: store_insert returns only once its row is durable.
 * Reads use a small pool of read-only connections (WAL lets them run
 * beside the writer).  All functions are thread-safe.
 */
#ifndef LABGATE_STORE_H
#define LABGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "result.h"

struct store;

struct store_options {
    const char *path; /* database file; created when missing */
    int batch_max;    /* most rows per transaction */
    int queue_max;    /* most rows waiting; more get ERR_BUSY */
    int readers;      /* read connections in the pool */
};

/* Which identity columns a listing can filter on (exact match). */
enum store_filter_field {
    STORE_BY_SUITE,
    STORE_BY_PRINCIPAL,
    STORE_BY_REPOSITORY,
    STORE_BY_OWNER,
    STORE_BY_SUBJECT,
    STORE_BY_ISSUER,
    STORE_BY_PRINCIPAL_ARN,
    STORE_BY_ACCESS_KEY_ID,
    STORE_BY_SOURCE_ADDR,
    STORE_BY_COUNT
};

struct store_filter {
    const char *eq[STORE_BY_COUNT]; /* NULL: no condition on the field */
    int auth;          /* enum result_auth, or -1 for any */
    int status;        /* enum result_status, or -1 for any */
    int64_t since_ms;  /* received at or after; 0 for no bound */
    int64_t until_ms;  /* received before; 0 for no bound */
    int64_t before_id; /* id below this; 0 for no bound */
    int64_t after_id;  /* id above this (oldest first); 0 for none */
    int oldest_first;  /* ascending ids even when after_id is 0 */
    int newest_first;  /* descending ids even when after_id is set */
    int limit;         /* 1 to STORE_LIST_MAX */
};

#define STORE_LIST_MAX 1000

/* The URL query name of each filter field, indexed by the enum. */
extern const char *const store_filter_names[STORE_BY_COUNT];

/*
 * Open (creating if needed) the database, apply pending migrations and
 * start the writer.  Returns 0 and sets *out, or a negative code with the
 * reason in err: ERR_VERSION for a database newer than this binary.
 */
int store_open(struct store **out, const struct store_options *opt,
               struct err *err);

/*
 * Queue r for the writer and wait until it is committed.  On success sets
 * r->id and returns 0.  Returns ERR_BUSY when the queue is full or the
 * store is closing, ERR_IO when the commit failed (nothing of r is
 * stored); err says why.  r stays owned by the caller.
 */
int store_insert(struct store *s, struct result *r, struct err *err);

/*
 * Read result id into out (which the caller later passes to result_free).
 * Returns 0, ERR_NOTFOUND, or ERR_IO.
 */
int store_get(struct store *s, int64_t id, struct result *out,
              struct err *err);

/*
 * List results matching f, newest first (oldest first when after_id is
 * set).  On success *rows is an array of *n results that the caller frees
 * with store_rows_free.
 */
int store_list(struct store *s, const struct store_filter *f,
               struct result **rows, size_t *n, struct err *err);

/* Free an array returned by store_list. */
void store_rows_free(struct result *rows, size_t n);

/* Initialise f to "everything, newest first, 50 rows". */
void store_filter_init(struct store_filter *f);

/* The highest schema version this binary knows (the last migration). */
int store_schema_version(void);

/* Check the database answers a query. Returns 0 or ERR_IO. */
int store_ping(struct store *s, struct err *err);

/*
 * One row of the dashboard summary: the latest result of one suite on one
 * auth path (without its payload) and the aggregate behind it.
 */
struct store_summary {
    struct result last;     /* id, time, route, suite, status, identity */
    int64_t counts[RESULT_STATUS_COUNT]; /* indexed by result_status */
    char recent[24];        /* last outcomes, oldest first: "PPFE" */
};

#define STORE_RECENT_MAX 20

/*
 * Read every suite and auth path from the suite_status aggregate (never a
 * scan of results), ordered by suite then auth, each joined with its last
 * row for the identity.  recent (1 to STORE_RECENT_MAX) is how many of the
 * last outcomes to keep.  On success *rows holds *n rows (free with
 * store_summary_free) and *max_id the highest result id the same read
 * transaction saw (0 for an empty store).  Returns 0, ERR_NOMEM or ERR_IO.
 */
int store_summary_list(struct store *s, int recent,
                       struct store_summary **rows, size_t *n,
                       int64_t *max_id, struct err *err);

/* Free an array returned by store_summary_list. */
void store_summary_free(struct store_summary *rows, size_t n);

/*
 * Long-poll support.  store_watch_seq returns a counter that grows after
 * every commit; take it before reading, then store_watch_wait sleeps
 * until the counter moves past seen or deadline_ms (wall clock) passes,
 * checking every 50 ms (it never touches the writer's lock).  Returns 0
 * when something was committed, ERR_BUSY on timeout, or ERR_IO once
 * store_watch_close has been called.
 */
uint64_t store_watch_seq(struct store *s);
int store_watch_wait(struct store *s, uint64_t seen, int64_t deadline_ms);

/*
 * Make every wait return ERR_IO within one tick, so a shutdown never
 * waits for long-polls to time out.
 */
void store_watch_close(struct store *s);

/*
 * Persist the JWKS document body of issuer, fetched at fetched_ms,
 * replacing the previous one.  Uses a connection of its own (key sets
 * change rarely), so it never waits behind the result writer's queue.
 * Returns 0, or ERR_BUSY or ERR_IO with the reason.
 */
int store_jwks_put(struct store *s, const char *issuer, const char *body,
                   int64_t fetched_ms, struct err *err);

/*
 * Read the persisted JWKS of issuer: a new string in *body (free with
 * free) and its fetch time.  Returns 0, ERR_NOTFOUND, or ERR_IO.
 */
int store_jwks_get(struct store *s, const char *issuer, char **body,
                   int64_t *fetched_ms, struct err *err);

/*
 * Stop taking writes, commit what is queued, stop the writer and close
 * every connection.  s may be NULL.
 */
void store_close(struct store *s);

#endif
