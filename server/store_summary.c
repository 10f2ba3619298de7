/*
 * The dashboard summary, read from the suite_status aggregate that the
 * results_aggregate trigger keeps current inside every insert
 * transaction.  One row per suite and auth path, joined by primary key
 * with its last result for the identity, so the cost grows with the
 * number of suites and never with the number of results.  The highest
 * result id is read in the same read transaction, which lets a client
 * follow the live feed from exactly the point the summary covers.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "store_internal.h"

static int
store_summary_sql(struct buf *sql)
{
    buf_puts(sql, "SELECT s.suite, s.auth, s.last_id, s.last_ms, "
                  "s.last_status, s.pass_count, s.fail_count, "
                  "s.error_count, s.skip_count, substr(s.recent, -?), "
                  "r.route, r.principal");
    for (size_t i = 0; i < result_ident_field_count; i++)
        buf_printf(sql, ", r.%s", result_ident_fields[i].name);
    buf_puts(sql, " FROM suite_status s LEFT JOIN results r "
                  "ON r.id = s.last_id ORDER BY s.suite, s.auth");
    return sql->data ? 0 : ERR_NOMEM;
}

static int
store_summary_row(sqlite3_stmt *st, struct store_summary *row)
{
    struct result *r = &row->last;
    const char *recent;
    int col = 0;

    memset(row, 0, sizeof *row);
    r->suite = store_column_dup(st, col++);
    if (result_auth_parse((const char *)sqlite3_column_text(st, col++),
                          &r->auth) != 0)
        r->auth = RESULT_AUTH_NONE;
    r->id = sqlite3_column_int64(st, col++);
    r->received_ms = sqlite3_column_int64(st, col++);
    if (result_status_parse((const char *)sqlite3_column_text(st, col++),
                            &r->status) != 0)
        r->status = RESULT_ERROR;
    for (int i = 0; i < RESULT_STATUS_COUNT; i++)
        row->counts[i] = sqlite3_column_int64(st, col++);
    recent = (const char *)sqlite3_column_text(st, col++);
    snprintf(row->recent, sizeof row->recent, "%s", recent ? recent : "");
    r->route = store_column_dup(st, col++);
    r->principal = store_column_dup(st, col++);
    for (size_t i = 0; i < result_ident_field_count; i++)
        *result_ident_slot(&r->ident, &result_ident_fields[i]) =
            store_column_dup(st, col++);
    return r->suite ? 0 : ERR_NOMEM;
}

/* The highest id ever given to a result (AUTOINCREMENT keeps it). */
static int
store_summary_max_id(sqlite3 *db, int64_t *max_id, struct err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT seq FROM sqlite_sequence WHERE name = 'results'", -1, &st,
        NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read summary", err);
    rc = sqlite3_step(st);
    *max_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlite_err(db, rc, "read summary", err);
    return 0;
}

static int
store_summary_rows(sqlite3 *db, int recent, struct store_summary **rows,
                   size_t *n, struct err *err)
{
    struct buf sql = BUF_INIT;
    struct store_summary *out = NULL, *grown;
    sqlite3_stmt *st = NULL;
    size_t count = 0, cap = 0;
    int rc;

    if (store_summary_sql(&sql) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read summary", err);
    sqlite3_bind_int(st, 1, recent);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            grown = realloc(out, cap * sizeof *out);
            if (grown == NULL)
                goto nomem;
            out = grown;
        }
        if (store_summary_row(st, &out[count++]) != 0)
            goto nomem;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_summary_free(out, count);
        return store_sqlite_err(db, rc, "read summary", err);
    }
    *rows = out;
    *n = count;
    return 0;
nomem:
    sqlite3_finalize(st);
    store_summary_free(out, count);
    return err_set(err, ERR_NOMEM, "out of memory");
}

int
store_summary_list(struct store *s, int recent, struct store_summary **rows,
                   size_t *n, int64_t *max_id, struct err *err)
{
    sqlite3 *db;
    int rc;

    if (recent < 1 || recent > STORE_RECENT_MAX)
        return err_set(err, ERR_INVALID, "recent: must be from 1 to %d",
                       STORE_RECENT_MAX);
    *rows = NULL;
    *n = 0;
    db = store_reader_get(s);
    /* One read transaction: the rows and max_id describe one snapshot. */
    rc = store_exec(db, "BEGIN", err);
    if (rc == 0)
        rc = store_summary_max_id(db, max_id, err);
    if (rc == 0)
        rc = store_summary_rows(db, recent, rows, n, err);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    store_reader_put(s, db);
    return rc;
}

void
store_summary_free(struct store_summary *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        result_free(&rows[i].last);
    free(rows);
}
