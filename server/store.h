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

#include "audit_chain.h"
#include "err.h"
#include "result.h"

struct store;

struct store_options {
    const char *path; /* database file; created when missing */
    int batch_max;    /* most rows per transaction */
    int queue_max;    /* most rows waiting; more get ERR_BUSY */
    int readers;      /* read connections in the pool */
    const char *key_file; /* audit key; NULL: path + ".key" */
    int retention_days;   /* prune results older than this; 0: keep all */
    int checkpoint_frames; /* WAL pages that start a checkpoint; 0: 4000 */
    int visible_wait_ms; /* longest a read waits for the disk; 0: 10000 */
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
    STORE_BY_CALLER_ARN,
    STORE_BY_ACCOUNT,
    STORE_BY_SESSION_NAME,
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
 * Open (creating if needed) the database, apply pending migrations, load
 * the audit key (creating it, mode 0600, for a database that has no chain
 * yet) and start the writer, and the pruner when retention_days is set.
 * Returns 0 and sets *out, or a negative code with the reason in err:
 * ERR_VERSION for a database newer than this binary, ERR_AUTH for a key
 * that does not match the database's chain, ERR_DENIED for a key file
 * others can read, ERR_INVALID for damaged audit metadata.
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
 * with store_rows_free.  Like store_get and store_summary_each, it
 * answers only once every row it read is on disk: it waits for the
 * syncer (ERR_BUSY after visible_wait_ms) and fails with ERR_IO if the
 * disk did not confirm them.
 */
int store_list(struct store *s, const struct store_filter *f,
               struct result **rows, size_t *n, struct err *err);

/* Free an array returned by store_list. */
void store_rows_free(struct result *rows, size_t n);

/* Initialise f to "everything, newest first, 50 rows". */
void store_filter_init(struct store_filter *f);

/* The highest schema version this binary knows (the last migration). */
int store_schema_version(void);

/*
 * Temporary credentials issued by the built-in STS (store_sts.c).  Every
 * string is heap-owned after store_sts_get; issuer to claims may be NULL.
 */
struct store_sts_session {
    char *access_key_id;
    char *secret_access_key;
    char *token_sha256; /* hex SHA-256 of the session token */
    char *role_arn;
    char *session_name;
    char *assumed_role_arn;
    char *assumed_role_id;
    char *account;
    char *issuer;
    char *subject;
    char *repository;
    char *owner;
    char *audience;
    char *claims; /* JSON object text */
    int64_t issued_ms;
    int64_t expires_ms;
};

/*
 * Store ss durably (synchronous commit) and purge sessions that expired
 * more than a day before now_ms.  Returns 0, or ERR_BUSY / ERR_IO /
 * ERR_INVALID (duplicate key id) with the reason.  ss stays the caller's.
 */
int store_sts_insert(struct store *s, const struct store_sts_session *ss,
                     int64_t now_ms, struct err *err);

/*
 * Read the session of access_key_id into out (free with
 * store_sts_session_free).  Returns 0, ERR_NOTFOUND or ERR_IO.
 */
int store_sts_get(struct store *s, const char *access_key_id,
                  struct store_sts_session *out, struct err *err);

/* Free every string of ss and zero it. */
void store_sts_session_free(struct store_sts_session *ss);

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
 * Called by store_summary_each: once with row NULL and max_id, the
 * highest result id the read transaction sees (0 for an empty store),
 * then once per row.  The row and its strings are only valid during the
 * call.  A non-zero return stops the walk and is returned.
 */
typedef int (*store_summary_fn)(void *arg, int64_t max_id,
                                const struct store_summary *row);

/* Which cells of the summary to walk; zero it, then set recent. */
struct store_summary_query {
    int recent;          /* outcomes to keep, 1 to STORE_RECENT_MAX */
    const char *suite;   /* only this suite; NULL: every suite */
    const char *prefix;  /* only suites starting with this; NULL: all */
    int auth;            /* only this auth path + 1; 0: every path */
    const char *after_suite; /* only cells after this one in the order */
    enum result_auth after_auth;
    int limit; /* most cells, 1 to STORE_SUMMARY_MAX; 0: every cell */
};

#define STORE_SUMMARY_MAX 10000

/*
 * Walk the cells of the suite_status aggregate that q selects (never a
 * scan of results) in one read transaction, ordered by suite then auth,
 * each joined with its last row for the identity.  Rows are handed over
 * as SQLite steps to them, so a summary of thousands of suites never
 * sits in memory twice.  With a limit, *more is set when cells beyond it
 * match (the last one handed over is where the next page starts).
 * Returns 0, what fn returned, ERR_INVALID or ERR_IO.
 */
int store_summary_each(struct store *s, const struct store_summary_query *q,
                       store_summary_fn fn, void *arg, int *more,
                       struct err *err);

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
 * Check the database can take a write now without writing anything: a
 * fresh read-write connection (never creating the file) must not be
 * read-only, must get the write lock (BEGIN IMMEDIATE, waiting at most
 * wait_ms for the writer) and roll it back, and the writer's queue must
 * have room.  Returns 0, or ERR_IO / ERR_BUSY with the reason in err.
 */
int store_check_writable(struct store *s, int wait_ms, struct err *err);

/*
 * Have the writer thread call fn(arg, rows, ns, ok) after each group
 * commit: rows committed, nanoseconds from BEGIN to the end of COMMIT,
 * ok zero when the batch was rolled back.  fn must be quick and never
 * block; it replaces any earlier hook (NULL removes it).
 */
void store_set_commit_hook(struct store *s,
                           void (*fn)(void *arg, int rows, int64_t ns,
                                      int ok),
                           void *arg);

/*
 * Stop taking writes, commit what is queued, stop the writer and close
 * every connection.  s may be NULL.
 */
void store_close(struct store *s);

/*
 * The audit trail (store_audit.c).  The server's writer chains every row
 * as it commits it; the functions below read a database file on their own
 * read-only connection (so `labgate-server audit` works beside a running
 * server) and prune old rows.
 */

/* The chain's metadata row (audit_meta), as stored. */
struct store_audit_meta {
    unsigned char key_check[AUDIT_CHAIN_LEN];
    unsigned char nonce[AUDIT_NONCE_LEN];
    unsigned char genesis[AUDIT_CHAIN_LEN];
    int64_t head_id; /* last id the server chained; 0 for none */
    unsigned char head_chain[AUDIT_CHAIN_LEN];
    unsigned char head_mac[AUDIT_CHAIN_LEN];
};

/* One retention checkpoint: rows up to cut_id were pruned. */
struct store_audit_checkpoint {
    int64_t cut_id;
    unsigned char chain[AUDIT_CHAIN_LEN]; /* chain value of row cut_id */
    unsigned char mac[AUDIT_CHAIN_LEN];
    int64_t pruned, cutoff_ms, created_ms;
    int damaged; /* a blob had the wrong length */
};

/* Which rows a scan visits, oldest id first.  0 means no bound. */
struct store_audit_range {
    int64_t after_id;  /* id above this */
    int64_t before_id; /* id below this */
    int64_t since_ms;  /* received at or after */
    int64_t until_ms;  /* received before */
    int limit;         /* at most this many rows */
};

/*
 * Called for each row of a scan with its raw columns and its stored
 * chain value (chain NULL or chain_len != AUDIT_CHAIN_LEN when the row
 * has none).  Everything is valid only during the call.  Return 0 to go
 * on, 1 to stop, or a negative ERR_* to fail the scan.
 */
typedef int (*store_audit_row_fn)(void *arg, const struct audit_chain_row *r,
                                  const unsigned char *chain,
                                  size_t chain_len);

struct store_audit_db;

/*
 * Open the database at path read-only for verification or export.
 * Returns 0 and sets *out, ERR_NOTFOUND when there is no such database,
 * ERR_VERSION when it has no audit chain (not migrated to schema 5 yet),
 * or ERR_IO.
 */
int store_audit_db_open(const char *path, struct store_audit_db **out,
                        struct err *err);

/*
 * Read the metadata row and every checkpoint (oldest first; *cps is
 * malloc'd, the caller frees it).  Returns 0, ERR_NOTFOUND when the
 * metadata row is missing, ERR_INVALID when it is damaged, or ERR_IO.
 */
int store_audit_db_meta(struct store_audit_db *h, struct store_audit_meta *m,
                        struct store_audit_checkpoint **cps, size_t *ncp,
                        struct err *err);

/*
 * Call fn for every row in range, in id order, inside one read
 * transaction (the one store_audit_db_meta began, if it was called, so
 * the rows match the metadata it returned).  Returns 0 (also when fn
 * stopped early), fn's negative code, or ERR_IO.
 */
int store_audit_db_scan(struct store_audit_db *h,
                        const struct store_audit_range *range,
                        store_audit_row_fn fn, void *arg, struct err *err);

/* Close a handle from store_audit_db_open (NULL is fine). */
void store_audit_db_close(struct store_audit_db *h);

/*
 * Delete every result received before cutoff_ms that has no newer row
 * below it (the pruned rows are always a prefix of the ids), in chunks,
 * each chunk in one transaction with a checkpoint holding the chain value
 * at the cut.  The rows are verified before they go: a chain that does
 * not verify stops pruning with ERR_INVALID naming the row, so pruning
 * never erases evidence of tampering.  Sets *pruned to the rows deleted.
 * The background pruner calls this every hour when retention is on.
 */
int store_audit_prune(struct store *s, int64_t cutoff_ms, int64_t *pruned,
                      struct err *err);

#endif
