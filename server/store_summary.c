/*
 * The dashboard summary, read from the suite_status aggregate that the
 * writer keeps current in every insert transaction (store_agg.c).  One
 * row per suite and auth path, joined by primary key with its last
 * result for the identity, so the cost grows with the number of suites
 * and never with the number of results.  The highest result id is read
 * in the same read transaction, which lets a client follow the live feed
 * from exactly the point the summary covers.  A query can narrow the
 * walk to one suite, a suite prefix or an auth path, and page through it
 * by (suite, auth), the order of the table's primary key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "store_internal.h"

/*
 * Parameters, numbered so each is bound once whatever the query uses:
 * ?1 recent, ?2 suite, ?3 prefix, ?4 auth, ?5 and ?6 the cell to start
 * after, ?7 the limit.
 */
static int
store_summary_sql(struct buf *sql, const struct store_summary_query *q)
{
    const char *and = " WHERE ";
    int rc;

    /* Every append is checked: a clause left out would widen the walk. */
    rc = buf_puts(sql, "SELECT s.suite, s.auth, s.last_id, s.last_ms, "
                       "s.last_status, s.pass_count, s.fail_count, "
                       "s.error_count, s.skip_count, substr(s.recent, -?1), "
                       "r.route, r.principal");
    rc |= store_select_idents(sql, "r.");
    rc |= buf_puts(sql, " FROM suite_status s LEFT JOIN results r "
                        "ON r.id = s.last_id");
    if (q->suite != NULL) {
        rc |= buf_printf(sql, "%ss.suite = ?2", and);
        and = " AND ";
    }
    if (q->prefix != NULL) {
        /* The range lets the primary key find the first match. */
        rc |= buf_printf(sql,
                         "%ss.suite >= ?3 AND "
                         "substr(s.suite, 1, length(?3)) = ?3",
                         and);
        and = " AND ";
    }
    if (q->auth != 0) {
        rc |= buf_printf(sql, "%ss.auth = ?4", and);
        and = " AND ";
    }
    if (q->after_suite != NULL)
        rc |= buf_printf(sql, "%s(s.suite, s.auth) > (?5, ?6)", and);
    rc |= buf_puts(sql, " ORDER BY s.suite, s.auth");
    if (q->limit > 0)
        rc |= buf_puts(sql, " LIMIT ?7");
    return rc != 0 || sql->data == NULL ? ERR_NOMEM : 0;
}

static void
store_summary_bind(sqlite3_stmt *st, const struct store_summary_query *q)
{
    sqlite3_bind_int(st, 1, q->recent);
    if (q->suite != NULL)
        store_bind_text(st, 2, q->suite);
    if (q->prefix != NULL)
        store_bind_text(st, 3, q->prefix);
    if (q->auth != 0)
        store_bind_text(st, 4, result_auth_name(q->auth - 1));
    if (q->after_suite != NULL) {
        store_bind_text(st, 5, q->after_suite);
        store_bind_text(st, 6, result_auth_name(q->after_auth));
    }
    /* One more than asked for says whether there is a next page. */
    if (q->limit > 0)
        sqlite3_bind_int(st, 7, q->limit + 1);
}

/* Point row at the columns of st: borrowed until the next step. */
static void
store_summary_row(sqlite3_stmt *st, struct store_summary *row)
{
    struct result *r = &row->last;
    const char *recent;
    int col = 0;

    memset(row, 0, sizeof *row);
    r->suite = (char *)sqlite3_column_text(st, col++);
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
    r->route = (char *)sqlite3_column_text(st, col++);
    r->principal = (char *)sqlite3_column_text(st, col++);
    for (size_t i = 0; i < result_ident_field_count; i++)
        *result_ident_slot(&r->ident, &result_ident_fields[i]) =
            (char *)sqlite3_column_text(st, col++);
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
store_summary_rows(sqlite3 *db, const struct store_summary_query *q,
                   store_summary_fn fn, void *arg, int64_t max_id, int *more,
                   struct err *err)
{
    struct buf sql = BUF_INIT;
    struct store_summary row;
    sqlite3_stmt *st = NULL;
    int rc, n = 0;

    if (store_summary_sql(&sql, q) != 0) {
        buf_free(&sql);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read summary", err);
    store_summary_bind(st, q);
    rc = fn(arg, max_id, NULL);
    while (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (q->limit > 0 && n++ == q->limit) {
            *more = 1;
            rc = SQLITE_DONE;
            break;
        }
        store_summary_row(st, &row);
        /* The suite is NOT NULL; NULL here means SQLite ran out of
         * memory converting it. */
        rc = row.last.suite == NULL ? err_set(err, ERR_NOMEM, "out of memory")
                                    : fn(arg, max_id, &row);
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0 && rc != SQLITE_ROW)
        rc = store_sqlite_err(db, rc, "read summary", err);
    sqlite3_finalize(st);
    return rc;
}

int
store_summary_each(struct store *s, const struct store_summary_query *q,
                   store_summary_fn fn, void *arg, int *more, struct err *err)
{
    int64_t max_id = 0;
    sqlite3 *db;
    int rc;

    *more = 0;
    if (q->recent < 1 || q->recent > STORE_RECENT_MAX)
        return err_set(err, ERR_INVALID, "recent: must be from 1 to %d",
                       STORE_RECENT_MAX);
    if (q->limit < 0 || q->limit > STORE_SUMMARY_MAX)
        return err_set(err, ERR_INVALID, "limit: must be from 1 to %d",
                       STORE_SUMMARY_MAX);
    if (q->auth < 0 || q->auth > RESULT_AUTH_COUNT)
        return err_set(err, ERR_INVALID, "auth: unknown auth path");
    db = store_reader_get(s);
    /* One read transaction: the rows and max_id describe one snapshot. */
    rc = store_exec(db, "BEGIN", err);
    if (rc == 0)
        rc = store_summary_max_id(db, &max_id, err);
    if (rc == 0)
        rc = store_summary_rows(db, q, fn, arg, max_id, more, err);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    store_reader_put(s, db);
    /* The counts cover every row up to max_id. */
    if (rc == 0)
        rc = store_sync_visible(s, max_id, err);
    return rc;
}
