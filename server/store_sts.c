/*
 * The STS session table (migration 0003): one row per set of temporary
 * credentials.  Issuing is rare (once per CI job), so store_sts_insert
 * opens its own short-lived write connection instead of queueing behind
 * the results writer; WAL and the busy timeout serialise it with that
 * writer.  Lookups, one per signed request, borrow a pooled reader.
 *
 * The columns map one to one onto struct store_sts_session, in the order
 * of store_sts_columns.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"

#define STORE_STS_KEEP_MS (24LL * 3600 * 1000)

static const struct {
    const char *name;
    size_t offset;
} store_sts_columns[] = {
#define STORE_STS_COL(m)                                                       \
    {                                                                          \
#m, offsetof(struct store_sts_session, m)                              \
    }
    STORE_STS_COL(access_key_id),   STORE_STS_COL(secret_access_key),
    STORE_STS_COL(token_sha256),    STORE_STS_COL(role_arn),
    STORE_STS_COL(session_name),    STORE_STS_COL(assumed_role_arn),
    STORE_STS_COL(assumed_role_id), STORE_STS_COL(account),
    STORE_STS_COL(issuer),          STORE_STS_COL(subject),
    STORE_STS_COL(repository),      STORE_STS_COL(owner),
    STORE_STS_COL(audience),        STORE_STS_COL(claims),
#undef STORE_STS_COL
};

#define STORE_STS_NCOLS (sizeof store_sts_columns / sizeof store_sts_columns[0])

static char **
store_sts_slot(const struct store_sts_session *ss, size_t i)
{
    return (char **)((char *)ss + store_sts_columns[i].offset);
}

static int
store_sts_write(sqlite3 *db, const struct store_sts_session *ss, int64_t now_ms,
                struct err *err)
{
    char sql[1024] = "INSERT INTO sts_sessions (";
    sqlite3_stmt *st = NULL;
    size_t i;
    int rc;

    for (i = 0; i < STORE_STS_NCOLS; i++)
        strcat(strcat(sql, store_sts_columns[i].name), ", ");
    strcat(sql, "issued_ms, expires_ms) VALUES (");
    for (i = 0; i < STORE_STS_NCOLS; i++)
        strcat(sql, "?, ");
    strcat(sql, "?, ?)");
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "prepare session insert", err);
    for (i = 0; i < STORE_STS_NCOLS; i++)
        store_bind_text(st, (int)i + 1, *store_sts_slot(ss, i));
    sqlite3_bind_int64(st, (int)i + 1, ss->issued_ms);
    sqlite3_bind_int64(st, (int)i + 2, ss->expires_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(db, rc, "insert session", err);
    rc = sqlite3_prepare_v2(db, "DELETE FROM sts_sessions WHERE expires_ms < ?",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "prepare session purge", err);
    sqlite3_bind_int64(st, 1, now_ms - STORE_STS_KEEP_MS);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(db, rc, "purge sessions", err);
    return 0;
}

int
store_sts_insert(struct store *s, const struct store_sts_session *ss,
                 int64_t now_ms, struct err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(s->path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(db, rc, "open database", err);
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    rc = store_exec(db, "PRAGMA synchronous = FULL", err);
    if (rc != 0)
        goto out;
    store_write_enter(s);
    rc = store_exec(db, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = store_sts_write(db, ss, now_ms, err);
    if (rc == 0)
        rc = store_exec(db, "COMMIT", err);
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    store_write_leave(s);
out:
    sqlite3_close(db);
    return rc;
}

int
store_sts_get(struct store *s, const char *access_key_id,
              struct store_sts_session *out, struct err *err)
{
    char sql[1024] = "SELECT ";
    sqlite3 *db = store_reader_get(s);
    sqlite3_stmt *st = NULL;
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    for (i = 0; i < STORE_STS_NCOLS; i++)
        strcat(strcat(sql, store_sts_columns[i].name), ", ");
    strcat(sql, "issued_ms, expires_ms FROM sts_sessions "
                "WHERE access_key_id = ?");
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(db, rc, "prepare session lookup", err);
        goto out;
    }
    store_bind_text(st, 1, access_key_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = err_set(err, ERR_NOTFOUND, "no such session");
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = store_sqlite_err(db, rc, "read session", err);
        goto out;
    }
    for (i = 0; i < STORE_STS_NCOLS; i++)
        *store_sts_slot(out, i) = store_column_dup(st, (int)i);
    out->issued_ms = sqlite3_column_int64(st, (int)i);
    out->expires_ms = sqlite3_column_int64(st, (int)i + 1);
    rc = out->access_key_id && out->secret_access_key
             ? 0
             : err_set(err, ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(st);
    store_reader_put(s, db);
    if (rc != 0)
        store_sts_session_free(out);
    return rc;
}

void
store_sts_session_free(struct store_sts_session *ss)
{
    for (size_t i = 0; i < STORE_STS_NCOLS; i++)
        free(*store_sts_slot(ss, i));
    memset(ss, 0, sizeof *ss);
}
