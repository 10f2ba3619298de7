/*
 * The jwks table: the last key set document fetched per trusted issuer
 * (migration 0002).  Writes are rare (one per refresh), so they use a
 * short-lived connection of their own instead of the result writer's
 * queue; reads borrow a pooled read connection.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int
store_jwks_put(struct store *s, const char *issuer, const char *body,
               int64_t fetched_ms, struct err *err)
{
    static const char sql[] =
        "INSERT INTO jwks (issuer, body, fetched_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (issuer) DO UPDATE SET body = excluded.body, "
        "fetched_ms = excluded.fetched_ms";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        store_sqlite_err(db, rc, "open database for jwks", err);
        goto out;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_sqlite_err(db, rc, "save jwks", err);
        goto out;
    }
    store_bind_text(st, 1, issuer);
    store_bind_text(st, 2, body);
    sqlite3_bind_int64(st, 3, fetched_ms);
    store_write_enter(s);
    rc = sqlite3_step(st);
    store_write_leave(s);
    if (rc != SQLITE_DONE)
        store_sqlite_err(db, rc, "save jwks", err);
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : err->code;
}

int
store_jwks_get(struct store *s, const char *issuer, char **body,
               int64_t *fetched_ms, struct err *err)
{
    static const char sql[] =
        "SELECT body, fetched_ms FROM jwks WHERE issuer = ?";
    sqlite3 *db = store_reader_get(s);
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        ret = store_sqlite_err(db, rc, "read jwks", err);
        goto out;
    }
    store_bind_text(st, 1, issuer);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *body = store_column_dup(st, 0);
        *fetched_ms = sqlite3_column_int64(st, 1);
        if (*body == NULL)
            ret = err_set(err, ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        ret = err_set(err, ERR_NOTFOUND, "no key set stored for issuer");
    } else {
        ret = store_sqlite_err(db, rc, "read jwks", err);
    }
out:
    sqlite3_finalize(st);
    store_reader_put(s, db);
    return ret;
}
