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
