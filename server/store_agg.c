/*
 * The suite_status aggregate, kept by the writer one batch at a time.
 *
 * suite_status holds, per suite and auth path, the latest result, the
 * lifetime counts by status and the last 20 outcomes; the dashboard reads
 * it instead of scanning results.  It used to be kept by a trigger, one
 * upsert per inserted row, which cost about a quarter of the writer's
 * time per row.  The writer now folds the rows of a batch into one entry
 * per (suite, auth) in memory and writes one upsert per entry, inside the
 * batch's transaction, after its inserts: a batch of 64 results of one
 * suite costs one upsert instead of 64, and the aggregate still commits
 * or rolls back with the rows it counts.
 *
 * Rows put into the results table by other programs (the sqlite3 shell,
 * bench/fill.sql) are not counted; see docs/KNOWN_ISSUES.md.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define STORE_AGG_RECENT 20

struct store_agg_entry {
    const char *suite; /* borrowed from the batch's results */
    enum result_auth auth;
    int64_t last_id;
    int64_t last_ms;
    enum result_status last_status;
    int64_t count[RESULT_STATUS_COUNT];
    char recent[STORE_AGG_RECENT + 1]; /* newest last */
};

struct store_agg {
    struct store_agg_entry *entries;
    int n, max;
    sqlite3_stmt *upsert;
};

static const char store_agg_sql[] =
    "INSERT INTO suite_status (suite, auth, last_id, last_ms, last_status, "
    "pass_count, fail_count, error_count, skip_count, recent) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (suite, auth) DO UPDATE SET "
    "last_id = excluded.last_id, last_ms = excluded.last_ms, "
    "last_status = excluded.last_status, "
    "pass_count = pass_count + excluded.pass_count, "
    "fail_count = fail_count + excluded.fail_count, "
    "error_count = error_count + excluded.error_count, "
    "skip_count = skip_count + excluded.skip_count, "
    "recent = substr(recent || excluded.recent, -20)";

int
store_agg_open(struct store *s, struct err *err)
{
    struct store_agg *a = calloc(1, sizeof *a);
    int rc;

    if (a == NULL || (a->entries = calloc((size_t)s->batch_max,
                                          sizeof *a->entries)) == NULL) {
        free(a);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    a->max = s->batch_max;
    s->agg = a;
    rc = sqlite3_prepare_v3(s->wdb, store_agg_sql, -1,
                            SQLITE_PREPARE_PERSISTENT, &a->upsert, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(s->wdb, rc, "prepare the aggregate", err);
    return 0;
}

void
store_agg_close(struct store *s)
{
    if (s->agg == NULL)
        return;
    sqlite3_finalize(s->agg->upsert);
    free(s->agg->entries);
    free(s->agg);
    s->agg = NULL;
}

void
store_agg_begin(struct store *s)
{
    s->agg->n = 0;
}

/* Count one inserted row; rows must come in id order. */
void
store_agg_add(struct store *s, const struct result *r)
{
    struct store_agg *a = s->agg;
    struct store_agg_entry *e = NULL;
    size_t len;

    for (int i = 0; i < a->n; i++) {
        if (a->entries[i].auth == r->auth &&
            strcmp(a->entries[i].suite, r->suite) == 0) {
            e = &a->entries[i];
            break;
        }
    }
    if (e == NULL) {
        /* A batch never holds more rows than batch_max. */
        e = &a->entries[a->n++];
        memset(e, 0, sizeof *e);
        e->suite = r->suite;
        e->auth = r->auth;
    }
    e->last_id = r->id;
    e->last_ms = r->received_ms;
    e->last_status = r->status;
    e->count[r->status]++;
    len = strlen(e->recent);
    if (len == STORE_AGG_RECENT) {
        memmove(e->recent, e->recent + 1, STORE_AGG_RECENT - 1);
        len--;
    }
    /* The first letter of the status name, upper case: P, F, E, S. */
    e->recent[len] = (char)(result_status_name(r->status)[0] - 'a' + 'A');
    e->recent[len + 1] = '\0';
}

/* Write the batch's entries; inside the batch's transaction. */
int
store_agg_flush(struct store *s, struct err *err)
{
    struct store_agg *a = s->agg;
    sqlite3_stmt *st = a->upsert;

    for (int i = 0; i < a->n; i++) {
        struct store_agg_entry *e = &a->entries[i];
        int rc;

        sqlite3_bind_text(st, 1, e->suite, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, result_auth_name(e->auth), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, e->last_id);
        sqlite3_bind_int64(st, 4, e->last_ms);
        sqlite3_bind_text(st, 5, result_status_name(e->last_status), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, e->count[RESULT_PASS]);
        sqlite3_bind_int64(st, 7, e->count[RESULT_FAIL]);
        sqlite3_bind_int64(st, 8, e->count[RESULT_ERROR]);
        sqlite3_bind_int64(st, 9, e->count[RESULT_SKIP]);
        sqlite3_bind_text(st, 10, e->recent, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_sqlite_err(s->wdb, rc, "update suite_status", err);
    }
    a->n = 0;
    return 0;
}
