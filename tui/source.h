/*
 * Where the dashboard's data comes from.  A source answers GET requests
 * for a path with a parsed JSON body; two implementations exist: HTTP to
 * a labgate-server through libcurl, and an in-memory table for unit
 * tests of everything above it.  On top of a source, source_follow runs
 * the dashboard's protocol on a background thread: read the summary and
 * the newest results, then long-poll GET /lab/results?after=ID&wait=S,
 * re-read the summary every interval, and on any failure back off and
 * start over.  What it learns is queued as messages for the UI thread,
 * which alone touches the model.
 */
#ifndef LABGATE_SOURCE_H
#define LABGATE_SOURCE_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define SOURCE_REASON_MAX 160

struct source;

struct source_ops {
    /*
     * GET path (with query) and append a 200 answer's body to body
     * (which the caller frees).  timeout_s bounds the whole request.
     * Returns 0, or ERR_IO/ERR_AUTH with a reason fit for the status line
     * ("connection refused", "HTTP 401: ...", "timeout").
     */
    int (*get)(struct source *s, const char *path, long timeout_s,
               struct buf *body, struct err *err);
    /*
     * With on set, make a request in flight on another thread, and every
     * later one, fail at once until called again with on clear.
     */
    void (*cancel)(struct source *s, int on);
    void (*free)(struct source *s);
};

struct source {
    const struct source_ops *ops;
};

/*
 * An HTTP source for base_url ("http://127.0.0.1:8080").  token, when not
 * NULL, is sent as "Authorization: Bearer" and never shown or logged.
 * Returns NULL when out of memory.  Not thread-safe: one per thread.
 */
struct source *source_http_new(const char *base_url, const char *token);

/*
 * An in-memory source.  source_memory_set answers path prefix with body
 * (JSON text, copied), or fails requests for it with reason when body is
 * NULL.  The longest matching prefix wins; unknown paths fail with
 * "HTTP 404".  Thread-safe.
 */
struct source *source_memory_new(void);
int source_memory_set(struct source *s, const char *prefix, const char *body,
                      const char *reason);
/* How many requests the memory source has answered so far. */
int source_memory_calls(struct source *s);

/*
 * GET path and parse the answer as JSON into *out (a new reference).
 * Returns 0, the get's error, or ERR_INVALID when the body is not JSON.
 */
int source_get_json(struct source *s, const char *path, long timeout_s,
                    json_t **out, struct err *err);

/* Free a source of either kind; s may be NULL. */
void source_free(struct source *s);

/* What the follower tells the UI thread. */
enum source_msg_kind {
    SOURCE_MSG_SUMMARY, /* text is a GET /lab/summary answer */
    SOURCE_MSG_RESULTS, /* doc is an array of new results */
    SOURCE_MSG_FEED,    /* doc is the newest results: reset the feed */
    SOURCE_MSG_FAILED,  /* reason says why; retry_ms when */
    SOURCE_MSG_ALIVE    /* a long-poll ended with nothing new */
};

struct source_msg {
    enum source_msg_kind kind;
    json_t *doc; /* owned; the results of RESULTS and FEED */
    char *text;  /* owned; the summary of SUMMARY (len bytes) */
    size_t len;
    char reason[SOURCE_REASON_MAX];
    int64_t at_ms;    /* when it happened */
    int64_t retry_ms; /* FAILED: wall-clock time of the next attempt */
    struct source_msg *next;
};

/* The longest --suite-prefix, and a summary path that can carry it. */
#define SOURCE_PREFIX_MAX 512
#define SOURCE_PATH_MAX (SOURCE_PREFIX_MAX * 3 + 32)

/*
 * Write the summary's path to out: "/lab/summary", narrowed with
 * prefix= to suites starting with prefix unless it is NULL or empty.
 * Returns 0, or ERR_INVALID when prefix is longer than
 * SOURCE_PREFIX_MAX bytes.
 */
int source_summary_path(const char *prefix, char out[SOURCE_PATH_MAX]);

struct source_follow {
    struct source *src;
    char summary_path[SOURCE_PATH_MAX];
    int interval_s; /* re-read the summary this often */
    int wait_s;     /* long-poll wait */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, paused, reconnect;
    struct source_msg *head, *tail;
    int wake_fd[2]; /* written once per message, so a UI can poll() it */
};

/*
 * Start following src (owned by f from now on) on a new thread, reading
 * the summary from summary_path (NULL: the whole summary).  Returns 0,
 * or ERR_IO when the thread cannot start.
 */
int source_follow_start(struct source_follow *f, struct source *src,
                        int interval_s, int wait_s,
                        const char *summary_path);

/* Take every queued message (oldest first); free each with
 * source_msg_free.  Returns NULL when none are waiting. */
struct source_msg *source_follow_take(struct source_follow *f);

void source_msg_free(struct source_msg *m);

/* Pause (1) or resume (0) following; paused, no request is made. */
void source_follow_pause(struct source_follow *f, int paused);

/* Abandon any wait or backoff and reconnect now. */
void source_follow_reconnect(struct source_follow *f);

/* Stop the thread, free queued messages and the source. */
void source_follow_stop(struct source_follow *f);

/* The delay before retry number attempt (0-based): 500 ms doubling to
 * at most max_ms. */
int64_t source_backoff_ms(int attempt, int64_t max_ms);

#endif
