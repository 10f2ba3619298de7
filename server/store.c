/*
 * SQLite storage with group commit.
 *
 * One writer connection belongs to the writer thread.  store_insert puts
 * a pending entry (on the caller's stack) on a FIFO queue and sleeps on
 * the entry's own semaphore; the writer inserts entries into one
 * BEGIN IMMEDIATE ... COMMIT, with the suite_status aggregate folded per
 * batch (store_agg.c).  The syncer thread (store_sync.c) makes each
 * committed batch durable with one fdatasync of the WAL and only then
 * wakes its entries with their outcome.  While it does, the writer keeps
 * the next transaction open, and the posts that arrive meanwhile join it
 * when the syncer is free; then it commits (or earlier, at batch_max
 * rows): concurrent posts share both the disk wait and the pages a
 * commit writes, and the writer wakes once per batch, not per post.
 *
 * A failed statement fails only its own row; a failed BEGIN or COMMIT
 * rolls the whole batch back and fails every row in it, so a caller never
 * sees success for a row that is not on disk.  The next batch simply
 * tries again, which is how the store recovers from a full disk or a lock
 * held by another process once the fault clears.
 *
 * Readers borrow a read-only connection from a fixed pool.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "store_migrations.h"
#include "timefmt.h"

#include "store_internal.h"

/* Query parameter names, which are also the names of the columns. */
const char *const store_filter_names[STORE_BY_COUNT] = {
    "suite",       "principal",     "repository",    "owner",
    "subject",     "issuer",        "principal_arn", "access_key_id",
    "source_addr", "caller_arn",    "account",       "session_name"};

int
store_sqlite_err(sqlite3 *db, int rc, const char *what, struct err *err)
{
    int code = ERR_IO;

    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = ERR_BUSY;
    else if (rc == SQLITE_CONSTRAINT)
        code = ERR_INVALID;
    return err_set(err, code, "%s: %s", what,
                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int
store_exec(sqlite3 *db, const char *sql, struct err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ERR_BUSY
                                                            : ERR_IO;
        err_set(err, code, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

int
store_connect(const char *path, int flags, sqlite3 **out, struct err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        store_sqlite_err(db, rc, "open database", err);
        sqlite3_close(db);
        return ERR_IO;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 0);
    *out = db;
    return 0;
}

static int
store_user_version(sqlite3 *db, int *version, struct err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read schema version", err);
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_sqlite_err(db, rc, "read schema version", err);
    return 0;
}

int
store_schema_version(void)
{
    return store_migration_count > 0
               ? store_migrations[store_migration_count - 1].version
               : 0;
}

static int
store_migrate(sqlite3 *db, const char *path, struct err *err)
{
    char sql[64];
    int version;

    if (store_user_version(db, &version, err) != 0)
        return err->code;
    if (version > store_schema_version())
        return err_set(err, ERR_VERSION,
                       "%.100s has schema version %d but this labgate knows "
                       "only up to %d: use a newer labgate-server",
                       path, version, store_schema_version());
    for (int i = 0; i < store_migration_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->version <= version)
            continue;
        if (store_exec(db, "BEGIN IMMEDIATE", err) != 0)
            return err->code;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
        if (store_exec(db, m->sql, err) != 0 ||
            store_exec(db, sql, err) != 0 ||
            store_exec(db, "COMMIT", err) != 0) {
            int code = err->code;
            char why[ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return err_set(err, code, "migration %s: %s", m->name, why);
        }
        log_event(LOG_INFO, "store", "migrated", "version=%d name=%s",
                  m->version, m->name);
    }
    return 0;
}

static int
store_prepare_insert(struct store *s, struct err *err)
{
    struct buf sql = BUF_INIT;
    int rc;

    buf_puts(&sql, "INSERT INTO results (id, chain, received_ms, route, auth, "
                   "suite, status, payload, principal");
    for (size_t i = 0; i < result_ident_field_count; i++)
        buf_printf(&sql, ", %s", result_ident_fields[i].name);
    buf_puts(&sql, ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?");
    for (size_t i = 0; i < result_ident_field_count; i++)
        buf_puts(&sql, ", ?");
    buf_puts(&sql, ")");
    if (sql.data == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = sqlite3_prepare_v3(s->wdb, sql.data, -1, SQLITE_PREPARE_PERSISTENT,
                            &s->insert, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK)
        return store_sqlite_err(s->wdb, rc, "prepare insert", err);
    return 0;
}

void
store_bind_text(sqlite3_stmt *st, int col, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC);
}

/*
 * Insert one row inside the open transaction.  The id and chain value
 * come from the audit chain state (ids are assigned here, in commit
 * order, so the chain needs no read-back).
 */
static int
store_insert_row(struct store *s, struct result *r, struct err *err)
{
    unsigned char chain[AUDIT_CHAIN_LEN];
    sqlite3_stmt *st = s->insert;
    int col = 1, rc;

    if (store_audit_seal(s, r, chain) != 0)
        return err_set(err, ERR_INTERNAL, "cannot compute the audit chain");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, col++, r->id);
    sqlite3_bind_blob(st, col++, chain, sizeof chain, SQLITE_STATIC);
    sqlite3_bind_int64(st, col++, r->received_ms);
    store_bind_text(st, col++, r->route);
    store_bind_text(st, col++, result_auth_name(r->auth));
    store_bind_text(st, col++, r->suite);
    store_bind_text(st, col++, result_status_name(r->status));
    store_bind_text(st, col++, r->payload);
    store_bind_text(st, col++, r->principal);
    for (size_t i = 0; i < result_ident_field_count; i++)
        store_bind_text(st, col++,
                        *result_ident_slot(&r->ident,
                                           &result_ident_fields[i]));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    /* A row put in behind labgate's back took the id: move past it. */
    if (rc == SQLITE_CONSTRAINT && store_audit_id_taken(s, r->id))
        return store_insert_row(s, r, err);
    if (rc != SQLITE_DONE) {
        r->id = 0;
        return store_sqlite_err(s->wdb, rc, "insert result", err);
    }
    store_audit_advance(s, r, chain);
    return 0;
}

/*
 * A batch is one transaction that stays open while the syncer is busy:
 * posts arriving meanwhile join it, and it commits once the syncer is
 * free to make it durable at once (or when it holds batch_max rows).
 * Committing whatever was queued instead gave several small
 * transactions per fdatasync, each writing its own copy of the pages
 * every row touches (the ends of the table and of its indexes, the
 * aggregate, the audit head), about two and a half WAL pages per row.
 */
struct store_batch {
    struct store_pending **entries;
    int n;          /* entries taken into the open transaction */
    int rows;       /* of them inserted */
    int64_t hi;     /* the highest id inserted */
    int64_t since;  /* when the transaction began */
    struct err err; /* why the batch failed */
};

static int
store_batch_begin(struct store *s, struct store_batch *b)
{
    b->rows = 0;
    b->hi = 0;
    b->since = timefmt_mono_ns();
    if (store_exec(s->wdb, "BEGIN IMMEDIATE", &b->err) != 0)
        return -1;
    store_audit_begin(s);
    store_agg_begin(s);
    return 0;
}

/*
 * Insert the entries from index from on.  A constraint fails its own row
 * only; any other failure spoils the transaction: returns -1.
 */
static int
store_batch_add(struct store *s, struct store_batch *b, int from)
{
    for (int i = from; i < b->n; i++) {
        struct store_pending *p = b->entries[i];
        struct err row = {0, ""};

        p->r->id = 0;
        p->rc = store_insert_row(s, p->r, &row);
        if (p->rc == 0) {
            store_agg_add(s, p->r);
            b->rows++;
            if (p->r->id > b->hi)
                b->hi = p->r->id;
            continue;
        }
        if (row.code != ERR_INVALID) {
            b->err = row;
            return -1;
        }
        snprintf(p->msg, sizeof p->msg, "%s", row.msg);
    }
    return 0;
}

static int
store_batch_commit(struct store *s, struct store_batch *b)
{
    if (store_agg_flush(s, &b->err) != 0 ||
        store_audit_end(s, &b->err) != 0)
        return -1;
    /* Readers may see the rows from the COMMIT on: announce them. */
    store_sync_committing(s, b->hi);
    if (store_exec(s->wdb, "COMMIT", &b->err) != 0)
        return -1;
    log_event(LOG_DEBUG, "store", "commit", "rows=%d batch=%d", b->rows,
              b->n);
    return 0;
}

/*
 * Roll back the open transaction (if any) and wake every poster of the
 * batch with its error: none of its rows was committed.
 */
static void
store_batch_fail(struct store *s, struct store_batch *b, int began)
{
    char why[LOG_QUOTE_MAX];
    struct err *e = &b->err;

    if (began) {
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        store_audit_rollback(s);
        store_sync_committing(s, 0);
    }
    log_event(LOG_ERROR, "store", "commit_failed", "rows=%d err=%s reason=%s",
              b->n, err_name(e->code), log_quote(e->msg, why, sizeof why));
    for (int i = 0; i < b->n; i++) {
        struct store_pending *p = b->entries[i];

        p->rc = e->code ? e->code : ERR_IO;
        snprintf(p->msg, sizeof p->msg, "%s", e->msg);
        p->r->id = 0;
    }
    /* After the post the entry may be gone with its poster's stack. */
    for (int i = 0; i < b->n; i++)
        sem_post(&b->entries[i]->done);
}

/* Called with s->lock held: is the syncer still on an earlier batch? */
static int
store_syncer_busy(const struct store *s)
{
    return s->chead != NULL || s->syncing;
}

/*
 * Called with s->lock held: should the writer leave the write lock to
 * another connection (store_write_enter)?  It does for at most
 * STORE_YIELD_MS at a time, so that a caller that never leaves cannot
 * stop the posts.
 */
static int
store_writer_yields(const struct store *s, int64_t *since)
{
    int64_t now;

    if (s->outside == 0) {
        *since = 0;
        return 0;
    }
    now = timefmt_mono_ns();
    if (*since == 0)
        *since = now;
    return now - *since < (int64_t)STORE_YIELD_MS * 1000000;
}

/* Called with s->lock held; gives it up meanwhile. */
static void
store_writer_wait(struct store *s, int yielding)
{
    struct timespec until;

    if (!yielding) {
        pthread_cond_wait(&s->work, &s->lock);
        return;
    }
    /* Look again each millisecond: the courtesy has a deadline. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->work, &s->lock, &until);
}

/* Take queued entries into the batch; called with s->lock held. */
static int
store_writer_take(struct store *s, struct store_batch *b)
{
    int from = b->n;

    while (s->head != NULL && b->n < s->batch_max) {
        b->entries[b->n++] = s->head;
        s->head = s->head->next;
        s->queued--;
    }
    if (s->head == NULL)
        s->tail = NULL;
    return from;
}

static void *
store_writer_main(void *arg)
{
    struct store *s = arg;
    struct store_batch b;
    void (*hook)(void *, int, int64_t, int);
    void *hook_arg;
    int64_t yield_since = 0;
    int from, yielding;

    pthread_setname_np(pthread_self(), "labgate-writer");
    memset(&b, 0, sizeof b);
    b.entries = s->batch;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        yielding = store_writer_yields(s, &yield_since);
        if (s->head != NULL && b.n < s->batch_max && !yielding) {
            /* Whatever is queued joins the open batch first. */
            hook = s->on_commit;
            hook_arg = s->on_commit_arg;
            from = store_writer_take(s, &b);
            pthread_mutex_unlock(&s->lock);
            if (from == 0 && store_batch_begin(s, &b) != 0) {
                store_batch_fail(s, &b, 0);
            } else if (store_batch_add(s, &b, from) != 0) {
                store_batch_fail(s, &b, 1);
            } else {
                pthread_mutex_lock(&s->lock);
                continue;
            }
            if (hook != NULL)
                hook(hook_arg, 0, timefmt_mono_ns() - b.since, 0);
            b.n = 0;
            pthread_mutex_lock(&s->lock);
            continue;
        }
        /* Commit once the syncer can take the batch at once. */
        if (b.n > 0 && (yielding || b.n == s->batch_max || s->stopping ||
                        !store_syncer_busy(s))) {
            hook = s->on_commit;
            hook_arg = s->on_commit_arg;
            pthread_mutex_unlock(&s->lock);
            if (store_batch_commit(s, &b) == 0) {
                /* The syncer wakes them once the WAL is on disk. */
                store_sync_committed(s, b.entries, b.n, b.rows, b.since,
                                     b.hi);
                store_sync_checkpoint(s);
            } else {
                store_batch_fail(s, &b, 1);
                if (hook != NULL)
                    hook(hook_arg, 0, timefmt_mono_ns() - b.since, 0);
            }
            b.n = 0;
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->head == NULL && b.n == 0 && s->stopping)
            break;
        s->lingering = b.n > 0;
        store_writer_wait(s, yielding);
        s->lingering = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void
store_write_enter(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    s->outside++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
}

void
store_write_leave(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    s->outside--;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
}

int
store_insert(struct store *s, struct result *r, struct err *err)
{
    struct store_pending p;
    int rc;

    memset(&p, 0, sizeof p);
    p.r = r;
    if (store_sync_failed(s))
        return err_set(err, ERR_IO, "the disk did not confirm an earlier "
                                    "write (fdatasync failed); the store "
                                    "refuses results until labgate is "
                                    "restarted");
    pthread_mutex_lock(&s->lock);
    if (s->stopping || s->queued >= s->queue_max) {
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        return err_set(err, ERR_BUSY, "%s",
                       stopping ? "the server is shutting down"
                                : "too many results waiting to be stored");
    }
    if (s->tail != NULL)
        s->tail->next = &p;
    else
        s->head = &p;
    s->tail = &p;
    s->queued++;
    /*
     * A semaphore of its own wakes exactly this poster, which then needs
     * no shared lock: with a condition variable every woken poster queued
     * for s->lock behind the others of its batch.
     */
    sem_init(&p.done, 0, 0);
    /* A writer holding a batch open for the syncer takes the posts
     * when the syncer is free (or batch_max are waiting): waking it for
     * each cost two context switches per row. */
    if (!s->lingering || s->queued % s->batch_max == 0)
        pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    while (sem_wait(&p.done) != 0)
        continue; /* EINTR */
    sem_destroy(&p.done);
    rc = p.rc;
    if (rc != 0)
        err_set(err, rc, "%s", p.msg);
    return rc;
}

sqlite3 *
store_reader_get(struct store *s)
{
    int i;

    pthread_mutex_lock(&s->rlock);
    while (s->ravail == 0)
        pthread_cond_wait(&s->rfree, &s->rlock);
    i = __builtin_ctz((unsigned)s->ravail);
    s->ravail &= ~(1 << i);
    pthread_mutex_unlock(&s->rlock);
    return s->readers[i];
}

void
store_reader_put(struct store *s, sqlite3 *db)
{
    pthread_mutex_lock(&s->rlock);
    for (int i = 0; i < s->nreaders; i++)
        if (s->readers[i] == db)
            s->ravail |= 1 << i;
    pthread_cond_signal(&s->rfree);
    pthread_mutex_unlock(&s->rlock);
}

/*
 * The JSON text column qual+col as it is when it is NULL or valid JSON,
 * and as a JSON string of its text otherwise.
 */
static int
store_select_json(struct buf *sql, const char *qual, const char *col)
{
    return buf_printf(sql,
                      "CASE WHEN %s%s IS NULL OR json_valid(%s%s) THEN %s%s "
                      "ELSE json_quote(%s%s) END",
                      qual, col, qual, col, qual, col, qual, col);
}

int
store_select_idents(struct buf *sql, const char *qual)
{
    int rc = 0;

    for (size_t i = 0; i < result_ident_field_count; i++) {
        rc |= buf_puts(sql, ", ");
        if (result_ident_fields[i].json)
            rc |= store_select_json(sql, qual, result_ident_fields[i].name);
        else
            rc |= buf_printf(sql, "%s%s", qual, result_ident_fields[i].name);
    }
    return rc;
}

static int
store_select_sql(struct buf *sql)
{
    int rc;

    /* A column left out would shift every later one: check them all. */
    rc = buf_puts(sql, "SELECT id, received_ms, route, auth, suite, status, ");
    rc |= store_select_json(sql, "", "payload");
    rc |= buf_puts(sql, ", principal");
    rc |= store_select_idents(sql, "");
    rc |= buf_puts(sql, ", chain FROM results");
    return rc != 0 || sql->data == NULL ? ERR_NOMEM : 0;
}

char *
store_column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return t ? strdup((const char *)t) : NULL;
}

static int
store_read_row(sqlite3_stmt *st, struct result *r)
{
    int col = 0;

    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, col++);
    r->received_ms = sqlite3_column_int64(st, col++);
    r->route = store_column_dup(st, col++);
    if (result_auth_parse((const char *)sqlite3_column_text(st, col++),
                          &r->auth) != 0)
        r->auth = RESULT_AUTH_NONE;
    r->suite = store_column_dup(st, col++);
    if (result_status_parse((const char *)sqlite3_column_text(st, col++),
                            &r->status) != 0)
        r->status = RESULT_ERROR;
    r->payload = store_column_dup(st, col++);
    r->principal = store_column_dup(st, col++);
    for (size_t i = 0; i < result_ident_field_count; i++)
        *result_ident_slot(&r->ident, &result_ident_fields[i]) =
            store_column_dup(st, col++);
    store_audit_column_chain(st, col++, r);
    return r->suite && r->route && r->payload ? 0 : ERR_NOMEM;
}

int
store_get(struct store *s, int64_t id, struct result *out, struct err *err)
{
    struct buf sql = BUF_INIT;
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int rc;

    if (store_select_sql(&sql) != 0 || buf_puts(&sql, " WHERE id = ?") != 0) {
        buf_free(&sql);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    db = store_reader_get(s);
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(db, rc, "read result", err);
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = store_read_row(st, out);
        if (rc != 0) {
            result_free(out);
            err_set(err, rc, "out of memory");
        }
    } else if (rc == SQLITE_DONE) {
        rc = err_set(err, ERR_NOTFOUND, "result %lld not found",
                     (long long)id);
    } else {
        rc = store_sqlite_err(db, rc, "read result", err);
    }
out:
    sqlite3_finalize(st);
    store_reader_put(s, db);
    if (rc == 0 && (rc = store_sync_visible(s, id, err)) != 0)
        result_free(out);
    return rc;
}

void
store_filter_init(struct store_filter *f)
{
    memset(f, 0, sizeof *f);
    f->auth = -1;
    f->status = -1;
    f->limit = 50;
}

/*
 * Filters whose column has an index that leaves out the rows where it
 * equals principal (migrations/0007_fold_principal_indexes.sql).
 */
static int
store_folded(int by)
{
    return by == STORE_BY_SUBJECT || by == STORE_BY_PRINCIPAL_ARN ||
           by == STORE_BY_SOURCE_ADDR;
}

/*
 * The conditions of f joined by AND, with parameters numbered in the
 * order store_bind_filter binds them.  *fold is the parameter of the
 * first folded filter (0: none) and *col its column, *nparam the count
 * of parameters.  Returns 0 or ERR_NOMEM.
 */
static int
store_where(struct buf *w, const struct store_filter *f, int *fold,
            const char **col, int *nparam)
{
    const char *sep = "";
    int k = 0, rc = 0;

    *fold = 0;
    for (int i = 0; i < STORE_BY_COUNT; i++) {
        if (f->eq[i] == NULL)
            continue;
        rc |= buf_printf(w, "%s%s = ?%d", sep, store_filter_names[i], ++k);
        if (*fold == 0 && store_folded(i)) {
            *fold = k;
            *col = store_filter_names[i];
        }
        sep = " AND ";
    }
    if (f->auth >= 0) {
        rc |= buf_printf(w, "%sauth = ?%d", sep, ++k);
        sep = " AND ";
    }
    if (f->status >= 0) {
        rc |= buf_printf(w, "%sstatus = ?%d", sep, ++k);
        sep = " AND ";
    }
    if (f->since_ms > 0) {
        rc |= buf_printf(w, "%sreceived_ms >= ?%d", sep, ++k);
        sep = " AND ";
    }
    if (f->until_ms > 0) {
        rc |= buf_printf(w, "%sreceived_ms < ?%d", sep, ++k);
        sep = " AND ";
    }
    if (f->before_id > 0) {
        rc |= buf_printf(w, "%sid < ?%d", sep, ++k);
        sep = " AND ";
    }
    if (f->after_id > 0)
        rc |= buf_printf(w, "%sid > ?%d", sep, ++k);
    *nparam = k;
    return rc ? ERR_NOMEM : 0;
}

/*
 * The listing query of f.  A folded filter col = X becomes two arms:
 * the rows with principal = X (and col = X) through results_by_principal
 * and the rows where col is not principal through col's own index.
 * UNION ALL under one ORDER BY id is a merge of two index ranges, so
 * LIMIT still stops early.  Returns 0 or ERR_NOMEM.
 */
static int
store_list_sql(struct buf *sql, const struct store_filter *f)
{
    struct buf w = BUF_INIT;
    const char *col = NULL;
    int fold, nparam, rc;

    rc = store_where(&w, f, &fold, &col, &nparam);
    rc |= store_select_sql(sql);
    if (nparam > 0)
        rc |= buf_printf(sql, " WHERE %s", w.data);
    if (fold > 0) {
        rc |= buf_printf(sql, " AND principal = ?%d UNION ALL ", fold);
        rc |= store_select_sql(sql);
        rc |= buf_printf(sql, " WHERE %s AND %s IS NOT principal", w.data,
                         col);
    }
    rc |= buf_printf(sql, " ORDER BY id %s LIMIT ?%d",
                     (f->after_id > 0 || f->oldest_first) && !f->newest_first
                         ? "ASC"
                         : "DESC",
                     nparam + 1);
    buf_free(&w);
    return rc ? ERR_NOMEM : 0;
}

static void
store_bind_filter(sqlite3_stmt *st, const struct store_filter *f)
{
    int col = 1;

    for (int i = 0; i < STORE_BY_COUNT; i++)
        if (f->eq[i] != NULL)
            store_bind_text(st, col++, f->eq[i]);
    if (f->auth >= 0)
        store_bind_text(st, col++, result_auth_name(f->auth));
    if (f->status >= 0)
        store_bind_text(st, col++, result_status_name(f->status));
    if (f->since_ms > 0)
        sqlite3_bind_int64(st, col++, f->since_ms);
    if (f->until_ms > 0)
        sqlite3_bind_int64(st, col++, f->until_ms);
    if (f->before_id > 0)
        sqlite3_bind_int64(st, col++, f->before_id);
    if (f->after_id > 0)
        sqlite3_bind_int64(st, col++, f->after_id);
    sqlite3_bind_int(st, col, f->limit);
}

void
store_rows_free(struct result *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        result_free(&rows[i]);
    free(rows);
}

int
store_list(struct store *s, const struct store_filter *f,
           struct result **rows, size_t *n, struct err *err)
{
    struct buf sql = BUF_INIT;
    struct result *out;
    sqlite3_stmt *st = NULL;
    sqlite3 *db;
    size_t count = 0;
    int64_t max_id = 0;
    int rc, limit = f->limit;

    if (limit < 1 || limit > STORE_LIST_MAX)
        return err_set(err, ERR_INVALID, "limit: must be from 1 to %d",
                       STORE_LIST_MAX);
    out = calloc((size_t)limit, sizeof *out);
    if (out == NULL || store_list_sql(&sql, f) != 0) {
        free(out);
        buf_free(&sql);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    db = store_reader_get(s);
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(db, rc, "list results", err);
        goto out;
    }
    store_bind_filter(st, f);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < (size_t)limit) {
        if (store_read_row(st, &out[count++]) != 0) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            goto out;
        }
        if (out[count - 1].id > max_id)
            max_id = out[count - 1].id;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rc = store_sqlite_err(db, rc, "list results", err);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    store_reader_put(s, db);
    if (rc == 0)
        rc = store_sync_visible(s, max_id, err);
    if (rc != 0) {
        store_rows_free(out, count);
        return rc;
    }
    *rows = out;
    *n = count;
    return 0;
}

int
store_ping(struct store *s, struct err *err)
{
    sqlite3 *db = store_reader_get(s);
    int rc = store_exec(db, "SELECT count(*) FROM suite_status", err);

    store_reader_put(s, db);
    return rc;
}

static int
store_open_readers(struct store *s, int n, struct err *err)
{
    if (n < 1)
        n = 1;
    if (n > STORE_READERS_MAX)
        n = STORE_READERS_MAX;
    for (int i = 0; i < n; i++) {
        if (store_connect(s->path, SQLITE_OPEN_READONLY, &s->readers[i],
                          err) != 0)
            return ERR_IO;
        s->nreaders++;
        s->ravail |= 1 << i;
    }
    return 0;
}

static int
store_open_writer(struct store *s, struct err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (store_connect(s->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      &s->wdb, err) != 0)
        return ERR_IO;
    /* journal_mode answers with the mode it ended up in. */
    rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = WAL", -1, &st,
                            NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(s->wdb, rc, "open database", err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        sqlite3_finalize(st);
        return err_set(err, ERR_IO, "%.100s: cannot switch to WAL mode: %s",
                       s->path, sqlite3_errmsg(s->wdb));
    }
    sqlite3_finalize(st);
    /*
     * FULL until the schema is migrated; store_sync_open takes over
     * durability after that.  The statement journal of each INSERT goes
     * to memory, not to a temporary file written on every statement.
     */
    if (store_exec(s->wdb, "PRAGMA synchronous = FULL", err) != 0 ||
        store_exec(s->wdb, "PRAGMA temp_store = MEMORY", err) != 0 ||
        store_exec(s->wdb, "PRAGMA foreign_keys = ON", err) != 0)
        return err->code;
    if (store_user_version(s->wdb, &s->opened_version, err) != 0 ||
        store_migrate(s->wdb, s->path, err) != 0)
        return err->code;
    return store_prepare_insert(s, err);
}

/* A condition variable whose timed waits run on the monotonic clock. */
static void
store_cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/*
 * SQLite keeps allocation statistics under one process-wide mutex, taken
 * on every malloc and free of every connection (Debian builds it without
 * lookaside, so a row insert makes dozens); nothing here reads those
 * statistics, and turning them off took that mutex off the writer's path.
 * This must precede SQLite's initialization; when something else already
 * initialized SQLite the call fails harmlessly and the statistics stay.
 */
static void
store_configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_open(struct store **out, const struct store_options *opt,
           struct err *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;

    struct store *s = calloc(1, sizeof *s);
    struct err local;

    pthread_once(&configured, store_configure_sqlite);
    if (err == NULL)
        err = &local;
    if (s == NULL || (s->path = strdup(opt->path)) == NULL) {
        free(s);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    s->batch_max = opt->batch_max > 0 ? opt->batch_max : 256;
    s->queue_max = opt->queue_max > 0 ? opt->queue_max : 8192;
    s->wal_fd = -1;
    s->visible_wait_ms = opt->visible_wait_ms > 0 ? opt->visible_wait_ms
                                                  : STORE_VISIBLE_WAIT_MS;
    s->checkpoint_frames = opt->checkpoint_frames > 0
                               ? opt->checkpoint_frames
                               : STORE_CHECKPOINT_FRAMES;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_mutex_init(&s->rlock, NULL);
    pthread_cond_init(&s->rfree, NULL);
    pthread_mutex_init(&s->vlock, NULL);
    store_cond_init_monotonic(&s->vcond);
    if (store_open_writer(s, err) != 0 || store_agg_open(s, err) != 0 ||
        store_audit_open(s, opt->key_file, err) != 0 ||
        store_open_readers(s, opt->readers, err) != 0 ||
        store_sync_open(s, err) != 0)
        goto fail;
    if ((s->batch = calloc((size_t)s->batch_max, sizeof *s->batch)) == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (pthread_create(&s->writer, NULL, store_writer_main, s) != 0) {
        err_set(err, ERR_INTERNAL, "cannot start the writer thread");
        goto fail;
    }
    s->writer_started = 1;
    if (store_audit_start(s, opt->retention_days, err) != 0)
        goto fail;
    log_event(LOG_INFO, "store", "open", "schema=%d readers=%d",
              store_schema_version(), s->nreaders);
    *out = s;
    return 0;
fail:
    store_close(s);
    return err->code ? err->code : ERR_IO;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    if (s->writer_started)
        pthread_join(s->writer, NULL);
    store_sync_close(s);
    store_audit_close(s);
    store_agg_close(s);
    sqlite3_finalize(s->insert);
    for (int i = 0; i < s->nreaders; i++)
        sqlite3_close(s->readers[i]);
    if (s->wdb != NULL && sqlite3_close(s->wdb) != SQLITE_OK)
        log_event(LOG_WARN, "store", "close_failed", "err=busy");
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->rlock);
    pthread_cond_destroy(&s->rfree);
    pthread_mutex_destroy(&s->vlock);
    pthread_cond_destroy(&s->vcond);
    free(s->batch);
    free(s->path);
    free(s);
}
