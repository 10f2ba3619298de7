/*
 * The dashboard's state, with no curses in it: the matrix of suites by
 * auth path, the live feed, the detail being shown, selection, sort,
 * filters and the connection state.  It is fed the server's JSON
 * (GET /lab/summary, GET /lab/results) and answers what the views should
 * show.  Only the UI thread touches it; times come in as arguments so
 * tests control the clock.
 */
#ifndef LABGATE_MODEL_H
#define LABGATE_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "result.h"

#define MODEL_FEED_MAX 500
#define MODEL_FILTER_MAX 128
#define MODEL_REASON_MAX 160

enum model_view {
    MODEL_VIEW_MATRIX,
    MODEL_VIEW_FEED,
    MODEL_VIEW_DETAIL,
    MODEL_VIEW_HELP
};
enum model_sort {
    MODEL_SORT_NAME,
    MODEL_SORT_CHANGED,
    MODEL_SORT_FAILURES,
    MODEL_SORT_COUNT
};
enum model_status_filter { MODEL_SHOW_ALL, MODEL_SHOW_FAILING };
enum model_conn { MODEL_CONNECTING, MODEL_LIVE, MODEL_STALE };

/* The latest state of one suite on one auth path. */
struct model_cell {
    int present; /* 0: never posted on this path */
    int64_t counts[RESULT_STATUS_COUNT];
    char recent[24];    /* oldest first, one letter per outcome */
    struct result last; /* latest: id, time, status, auth, principal */
};

struct model_suite {
    char *name;
    struct model_cell cell[RESULT_AUTH_COUNT];
};

struct model {
    struct model_suite *suites; /* sorted by name for lookup */
    size_t nsuites, cap;
    size_t *rows; /* indexes into suites: filtered and sorted */
    size_t nrows;
    int rows_dirty;

    struct result feed[MODEL_FEED_MAX]; /* ring, newest at feed_head-1 */
    size_t feed_head, feed_n;
    int64_t feed_max_id;

    enum model_view view, back_view;
    enum model_sort sort;
    enum model_status_filter status_filter;
    char filter[MODEL_FILTER_MAX];
    int editing_filter;
    int paused;
    int help_prev; /* view to return to from help */

    size_t sel_row;           /* matrix: index into rows */
    int sel_col;              /* matrix: enum result_auth */
    size_t feed_sel;          /* feed: 0 is the newest */
    size_t top_row, feed_top; /* first line shown */
    int detail_scroll;

    struct result detail; /* what the detail view shows */
    int detail_set;
    char detail_note[MODEL_REASON_MAX]; /* e.g. why the full row is missing */

    enum model_conn conn;
    char reason[MODEL_REASON_MAX]; /* why the data is stale */
    int64_t last_ok_ms;            /* last successful reply */
    int64_t retry_at_ms;           /* next reconnect attempt */
    const char *server_url;
    const char *title; /* e.g. the demo label, or NULL */
    const char *prefix; /* only suites starting with this, or NULL */
};

/* Zero m; url and title are borrowed for the model's life. */
void model_init(struct model *m, const char *url, const char *title);

/*
 * Keep only suites whose name starts with prefix (borrowed; NULL keeps
 * all): results of other suites, which the feed still carries, are
 * dropped as they arrive.
 */
void model_set_prefix(struct model *m, const char *prefix);

/* Free everything m owns. */
void model_free(struct model *m);

/*
 * Apply a GET /lab/summary answer (text, len bytes) to the matrix, cell
 * by cell and in place, so a 10,000-suite summary never exists as one
 * JSON tree.  A cell the model already has a newer result for (from the
 * feed) is kept.  Returns 0, or ERR_INVALID naming what was malformed;
 * cells before the malformed one have been applied then.
 */
int model_apply_summary(struct model *m, const char *text, size_t len,
                        struct err *err);

/*
 * Add results (a JSON array of stored results, any order) to the feed
 * and update their matrix cells.  Results already seen are skipped, so
 * overlapping answers are harmless.  With reset the feed is emptied
 * first.  Returns the number of new results, or ERR_INVALID.
 */
int model_apply_results(struct model *m, json_t *results, int reset,
                        struct err *err);

/* Record a good reply at now_ms (clears the stale state). */
void model_set_live(struct model *m, int64_t now_ms);

/*
 * Record a failure: reason shown to the user, next retry at retry_ms.
 * The data is kept and marked stale.
 */
void model_set_stale(struct model *m, const char *reason, int64_t now_ms,
                     int64_t retry_ms);

/* Re-filter and re-sort the matrix rows if anything changed. */
void model_refresh_rows(struct model *m);

/* The suite shown on matrix row i (i < nrows). */
const struct model_suite *model_row(struct model *m, size_t i);

/* The i-th newest feed entry (i < feed_n). */
const struct result *model_feed_at(const struct model *m, size_t i);

/*
 * Open the detail view for the selected cell or feed line (copying its
 * result).  Returns the result id to fetch in full, or 0 when nothing is
 * selected (the view is unchanged then).
 */
int64_t model_open_detail(struct model *m);

/* Set the full result behind the detail view (r is moved into m). */
void model_set_detail(struct model *m, struct result *r);

/* Totals of latest statuses over all present cells. */
void model_totals(const struct model *m, int64_t out[RESULT_STATUS_COUNT]);

/* 1 when any present cell's latest status is fail or error. */
int model_any_failing(const struct model *m);

/* The name of a sort order: "name", "last change", "failures". */
const char *model_sort_name(enum model_sort s);

/* A short age: "5s", "3m", "2h", "4d". */
void model_age(int64_t ms, char *out, size_t n);

/*
 * Who posted r in one line: repository and owner or subject for JWT,
 * the role ARN for IAM, the source address for the open route.
 */
void model_identity_line(const struct result *r, char *out, size_t n);

/* Move the selection by delta rows (clamped) in the current view. */
void model_move(struct model *m, long delta);

/* Jump to the first (0) or last (1) row of the current view. */
void model_jump(struct model *m, int last);

#endif
