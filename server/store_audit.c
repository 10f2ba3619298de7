/*
 * The audit chain's storage: the chain state the writer carries from
 * batch to batch, the audit_meta and audit_checkpoints tables, read-only
 * scans for `labgate-server audit`, and retention pruning.
 *
 * The writer owns struct store_audit's chain fields: next_id (ids are
 * assigned here, so a chain value is computed from the id the row will
 * get, without reading anything back), last (the newest row's chain
 * value) and last_id.  A batch starts by saving them and a rollback
 * restores them, so a failed commit leaves no gap in the chain.  The
 * head (last id and chain value, with a MAC) is written in the batch's
 * own transaction; it is what shows a truncated tail.
 *
 * The pruner has its own connection and MAC context and runs on its own
 * thread, waking every hour; SQLite's write lock orders it with the
 * writer.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "buf.h"
#include "hex.h"
#include "log.h"
#include "store.h"
#include "store_internal.h"
#include "timefmt.h"

#define STORE_AUDIT_VERSION 1
#define STORE_AUDIT_SCHEMA 5   /* the migration adding the chain */
#define STORE_AUDIT_CHUNK 5000 /* rows per pruning transaction */
#define STORE_AUDIT_PRUNE_EVERY_MS 3600000
#define STORE_AUDIT_DAY_MS 86400000LL

struct store_audit {
    struct audit_key key;
    struct audit_mac *mac; /* writer thread only */
    unsigned char genesis[AUDIT_CHAIN_LEN];
    int64_t next_id;
    int64_t last_id;
    unsigned char last[AUDIT_CHAIN_LEN];
    int64_t saved_next_id, saved_last_id;
    unsigned char saved_last[AUDIT_CHAIN_LEN];
    sqlite3_stmt *head_update;

    /* Pruning: plock guards pdb and pmac (the pruner thread and
     * store_audit_prune callers share them). */
    pthread_mutex_t plock;
    pthread_cond_t pwake;
    sqlite3 *pdb;
    struct audit_mac *pmac;
    int retention_days;
    atomic_int stopping; /* read by a prune run without plock */
    pthread_t pruner;
    int pruner_started;
};

struct store_audit_db {
    sqlite3 *db;
};

/* Copy a blob column of exactly n bytes; -1 when it is not one. */
static int
store_audit_blob(sqlite3_stmt *st, int col, unsigned char *out, size_t n)
{
    const void *p = sqlite3_column_blob(st, col);

    if (p == NULL || (size_t)sqlite3_column_bytes(st, col) != n)
        return -1;
    memcpy(out, p, n);
    return 0;
}

void
store_audit_column_chain(sqlite3_stmt *st, int col, struct result *r)
{
    const void *p = sqlite3_column_blob(st, col);

    r->chain[0] = '\0';
    if (p != NULL && sqlite3_column_bytes(st, col) == AUDIT_CHAIN_LEN)
        hex_encode(p, AUDIT_CHAIN_LEN, r->chain);
}

/* The SELECT of a scan: the chain's text columns in encoding order. */
static int
store_audit_scan_sql(struct buf *sql, const struct store_audit_range *r)
{
    const char *sep = " WHERE ";

    buf_puts(sql, "SELECT id, received_ms, route, auth, suite, status, "
                  "payload, principal");
    for (size_t i = 0; i < result_ident_field_count; i++)
        buf_printf(sql, ", %s", result_ident_fields[i].name);
    buf_puts(sql, ", chain FROM results");
    if (r->after_id > 0) {
        buf_printf(sql, "%sid > %lld", sep, (long long)r->after_id);
        sep = " AND ";
    }
    if (r->before_id > 0) {
        buf_printf(sql, "%sid < %lld", sep, (long long)r->before_id);
        sep = " AND ";
    }
    if (r->since_ms > 0) {
        buf_printf(sql, "%sreceived_ms >= %lld", sep, (long long)r->since_ms);
        sep = " AND ";
    }
    if (r->until_ms > 0)
        buf_printf(sql, "%sreceived_ms < %lld", sep, (long long)r->until_ms);
    buf_puts(sql, " ORDER BY id");
    if (r->limit > 0)
        buf_printf(sql, " LIMIT %d", r->limit);
    return sql->data ? 0 : ERR_NOMEM;
}

/* Run a scan on db (inside whatever transaction the caller holds). */
static int
store_audit_walk(sqlite3 *db, const struct store_audit_range *range,
                 store_audit_row_fn fn, void *arg, struct err *err)
{
    struct buf sql = BUF_INIT;
    struct audit_chain_row row;
    sqlite3_stmt *st = NULL;
    size_t nt = AUDIT_COL_IDENT + result_ident_field_count;
    int rc;

    if (nt > AUDIT_CHAIN_TEXT_MAX || store_audit_scan_sql(&sql, range) != 0) {
        buf_free(&sql);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    rc = sqlite3_prepare_v2(db, sql.data, -1, &st, NULL);
    buf_free(&sql);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "scan results", err);
    row.ntext = nt;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int cb;
        row.id = sqlite3_column_int64(st, 0);
        row.received_ms = sqlite3_column_int64(st, 1);
        for (size_t i = 0; i < nt; i++) {
            row.text[i] = (const char *)sqlite3_column_text(st, (int)i + 2);
            row.len[i] = (size_t)sqlite3_column_bytes(st, (int)i + 2);
        }
        cb = fn(arg, &row, sqlite3_column_blob(st, (int)nt + 2),
                (size_t)sqlite3_column_bytes(st, (int)nt + 2));
        if (cb != 0) {
            sqlite3_finalize(st);
            return cb < 0 ? cb : 0;
        }
    }
    if (rc != SQLITE_DONE)
        rc = store_sqlite_err(db, rc, "scan results", err);
    else
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

/* Read audit_meta.  Returns 0, ERR_NOTFOUND, ERR_INVALID or ERR_IO. */
static int
store_audit_read_meta(sqlite3 *db, struct store_audit_meta *m, struct err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT key_check, nonce, genesis, head_id, "
                                "head_chain, head_mac FROM audit_meta "
                                "WHERE id = 1",
                                -1, &st, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read audit metadata", err);
    memset(m, 0, sizeof *m);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        m->head_id = sqlite3_column_int64(st, 3);
        if (store_audit_blob(st, 0, m->key_check, AUDIT_CHAIN_LEN) != 0 ||
            store_audit_blob(st, 1, m->nonce, AUDIT_NONCE_LEN) != 0 ||
            store_audit_blob(st, 2, m->genesis, AUDIT_CHAIN_LEN) != 0 ||
            store_audit_blob(st, 4, m->head_chain, AUDIT_CHAIN_LEN) != 0 ||
            store_audit_blob(st, 5, m->head_mac, AUDIT_CHAIN_LEN) != 0)
            rc = err_set(err, ERR_INVALID,
                         "the audit metadata row is damaged (a value has "
                         "the wrong length)");
        else
            rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = err_set(err, ERR_NOTFOUND, "the audit metadata row is missing");
    } else {
        rc = store_sqlite_err(db, rc, "read audit metadata", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* One int64 from a query (0 for NULL or no row); -1 on error. */
static int
store_audit_int(sqlite3 *db, const char *sql, int64_t *out, struct err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read audit state", err);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlite_err(db, rc, "read audit state", err);
    return 0;
}

static int
store_audit_head_mac(struct audit_mac *m, int64_t id,
                     const unsigned char *chain, unsigned char *out)
{
    return audit_chain_label(m, "head", id, chain, AUDIT_CHAIN_LEN, out);
}

/*
 * Chain the rows that predate the chain (a database from before
 * migration 5) in id order, a thousand at a time, and create audit_meta.
 * Runs in the caller's transaction.
 */
struct store_audit_backfill {
    struct store_audit *a;
    int64_t ids[1000];
    unsigned char chains[1000][AUDIT_CHAIN_LEN];
    int n;
};

static int
store_audit_backfill_row(void *arg, const struct audit_chain_row *r,
                         const unsigned char *chain, size_t chain_len)
{
    struct store_audit_backfill *b = arg;

    if (audit_chain_row(b->a->mac, b->a->last, r, b->chains[b->n]) != 0)
        return ERR_INTERNAL;
    memcpy(b->a->last, b->chains[b->n], AUDIT_CHAIN_LEN);
    b->a->last_id = r->id;
    b->ids[b->n++] = r->id;
    return 0;
}

static int
store_audit_backfill(struct store *s, int64_t *rows, struct err *err)
{
    struct store_audit_backfill *b = calloc(1, sizeof *b);
    struct store_audit_range range = {0, 0, 0, 0, 1000};
    sqlite3_stmt *up = NULL;
    int rc;

    if (b == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    b->a = s->audit;
    rc = sqlite3_prepare_v2(s->wdb, "UPDATE results SET chain = ? WHERE id = ?",
                            -1, &up, NULL);
    if (rc != SQLITE_OK) {
        rc = store_sqlite_err(s->wdb, rc, "chain old results", err);
        goto out;
    }
    do {
        b->n = 0;
        range.after_id = s->audit->last_id;
        rc = store_audit_walk(s->wdb, &range, store_audit_backfill_row, b, err);
        for (int i = 0; rc == 0 && i < b->n; i++) {
            sqlite3_bind_blob(up, 1, b->chains[i], AUDIT_CHAIN_LEN,
                              SQLITE_STATIC);
            sqlite3_bind_int64(up, 2, b->ids[i]);
            if (sqlite3_step(up) != SQLITE_DONE)
                rc = store_sqlite_err(s->wdb, SQLITE_ERROR, "chain old results",
                                      err);
            sqlite3_reset(up);
        }
        *rows += b->n;
    } while (rc == 0 && b->n == 1000);
    if (rc == ERR_INTERNAL)
        err_set(err, rc, "cannot compute the audit chain");
out:
    sqlite3_finalize(up);
    free(b);
    return rc;
}

/* Insert audit_meta for a new chain whose head is a->last_id / a->last. */
static int
store_audit_insert_meta(struct store *s, const unsigned char *nonce,
                        struct err *err)
{
    struct store_audit *a = s->audit;
    unsigned char mac[AUDIT_CHAIN_LEN];
    sqlite3_stmt *st;
    int rc;

    if (store_audit_head_mac(a->mac, a->last_id, a->last, mac) != 0)
        return err_set(err, ERR_INTERNAL, "cannot compute the audit head");
    rc = sqlite3_prepare_v2(s->wdb,
                            "INSERT INTO audit_meta (id, version, key_check, "
                            "nonce, genesis, created_ms, head_id, head_chain, "
                            "head_mac) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(s->wdb, rc, "start the audit chain", err);
    sqlite3_bind_int(st, 1, STORE_AUDIT_VERSION);
    sqlite3_bind_blob(st, 2, a->key.check, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, nonce, AUDIT_NONCE_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, a->genesis, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, timefmt_now_ms());
    sqlite3_bind_int64(st, 6, a->last_id);
    sqlite3_bind_blob(st, 7, a->last, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, mac, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(s->wdb, rc, "start the audit chain", err);
    return 0;
}

/* A database without audit_meta: start the chain (in one transaction). */
static int
store_audit_create(struct store *s, const char *key_path, struct err *err)
{
    struct store_audit *a = s->audit;
    unsigned char nonce[AUDIT_NONCE_LEN];
    int64_t stray = 0, rows = 0;
    int created = 0;

    if (store_audit_int(s->wdb,
                        "SELECT EXISTS (SELECT 1 FROM results WHERE chain "
                        "IS NOT NULL) OR EXISTS (SELECT 1 FROM "
                        "audit_checkpoints)",
                        &stray, err) != 0)
        return err->code;
    /* Only the start that adds the chain may begin one: otherwise
     * deleting audit_meta (and the chain values) would launder history. */
    if (stray || s->opened_version >= STORE_AUDIT_SCHEMA)
        return err_set(err, ERR_INVALID,
                       "%.100s: the audit metadata row is missing; the "
                       "database was tampered with (run labgate-server "
                       "audit verify)",
                       s->path);
    if (audit_chain_key_load(key_path, 1, &a->key, &created, err) != 0 ||
        audit_chain_mac_new(&a->key, &a->mac, err) != 0)
        return err->code;
    if (created)
        log_event(LOG_INFO, "store", "audit_key_created", "key_id=%s",
                  a->key.id);
    if (RAND_bytes(nonce, sizeof nonce) != 1 ||
        audit_chain_label(a->mac, "genesis", 0, nonce, sizeof nonce,
                          a->genesis) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start the audit chain");
    memcpy(a->last, a->genesis, AUDIT_CHAIN_LEN);
    a->last_id = 0;
    if (store_exec(s->wdb, "BEGIN IMMEDIATE", err) != 0)
        return err->code;
    if (store_audit_backfill(s, &rows, err) != 0 ||
        store_audit_insert_meta(s, nonce, err) != 0 ||
        store_exec(s->wdb, "COMMIT", err) != 0) {
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        return err->code;
    }
    log_event(rows > 0 ? LOG_WARN : LOG_INFO, "store", "audit_chain_started",
              "key_id=%s chained=%lld", a->key.id, (long long)rows);
    return 0;
}

/* A database with a chain: the key must be its key, the head intact. */
static int
store_audit_resume(struct store *s, const struct store_audit_meta *m,
                   const char *key_path, struct err *err)
{
    struct store_audit *a = s->audit;
    unsigned char v[AUDIT_CHAIN_LEN];
    char want[AUDIT_KEY_ID_HEX];
    int rc;

    hex_encode(m->key_check, (AUDIT_KEY_ID_HEX - 1) / 2, want);
    rc = audit_chain_key_load(key_path, 0, &a->key, NULL, err);
    if (rc == ERR_NOTFOUND)
        return err_set(err, ERR_NOTFOUND,
                       "audit key %.150s does not exist, but the chain in "
                       "this database was made with key id %s: restore that "
                       "key file or set audit.key_file to it",
                       key_path, want);
    if (rc != 0)
        return rc;
    if (!audit_chain_equal(a->key.check, m->key_check))
        return err_set(err, ERR_AUTH,
                       "audit key %.150s (key id %s) does not match this "
                       "database's chain (key id %s): use the key file the "
                       "database was created with",
                       key_path, a->key.id, want);
    if (audit_chain_mac_new(&a->key, &a->mac, err) != 0)
        return err->code;
    if (audit_chain_label(a->mac, "genesis", 0, m->nonce, AUDIT_NONCE_LEN, v) !=
            0 ||
        !audit_chain_equal(v, m->genesis) ||
        store_audit_head_mac(a->mac, m->head_id, m->head_chain, v) != 0 ||
        !audit_chain_equal(v, m->head_mac))
        return err_set(err, ERR_INVALID,
                       "%.100s: the audit metadata was modified; run "
                       "labgate-server audit verify",
                       s->path);
    memcpy(a->genesis, m->genesis, AUDIT_CHAIN_LEN);
    memcpy(a->last, m->head_chain, AUDIT_CHAIN_LEN);
    a->last_id = m->head_id;
    return 0;
}

static int
store_audit_prepare(struct store *s, struct err *err)
{
    struct store_audit *a = s->audit;
    int64_t top = 0;
    int rc;

    /* Never reuse an id, even one a forged row took: verify names it. */
    if (store_audit_int(s->wdb,
                        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence "
                        "WHERE name = 'results'), 0), coalesce((SELECT "
                        "max(id) FROM results), 0))",
                        &top, err) != 0)
        return err->code;
    a->next_id = (top > a->last_id ? top : a->last_id) + 1;
    rc = sqlite3_prepare_v3(s->wdb,
                            "UPDATE audit_meta SET head_id = ?, head_chain = "
                            "?, head_mac = ? WHERE id = 1",
                            -1, SQLITE_PREPARE_PERSISTENT, &a->head_update,
                            NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(s->wdb, rc, "prepare audit head", err);
    return 0;
}

int
store_audit_open(struct store *s, const char *key_file, struct err *err)
{
    struct store_audit_meta m;
    struct buf path = BUF_INIT;
    int rc;

    s->audit = calloc(1, sizeof *s->audit);
    if (s->audit == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->audit->plock, NULL);
    pthread_cond_init(&s->audit->pwake, NULL);
    if (key_file != NULL)
        buf_puts(&path, key_file);
    else
        buf_printf(&path, "%s.key", s->path);
    if (path.data == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = store_audit_read_meta(s->wdb, &m, err);
    if (rc == ERR_NOTFOUND)
        rc = store_audit_create(s, path.data, err);
    else if (rc == 0)
        rc = store_audit_resume(s, &m, path.data, err);
    else
        rc = err_set(err, rc, "%.100s: %s", s->path, err->msg);
    if (rc == 0)
        rc = store_audit_prepare(s, err);
    if (rc == 0)
        log_event(LOG_INFO, "store", "audit_open",
                  "key_id=%s head=%lld next=%lld", s->audit->key.id,
                  (long long)s->audit->last_id, (long long)s->audit->next_id);
    buf_free(&path);
    return rc;
}

void
store_audit_begin(struct store *s)
{
    struct store_audit *a = s->audit;

    a->saved_next_id = a->next_id;
    a->saved_last_id = a->last_id;
    memcpy(a->saved_last, a->last, AUDIT_CHAIN_LEN);
}

int
store_audit_seal(struct store *s, struct result *r, unsigned char *chain)
{
    struct audit_chain_row row;

    r->id = s->audit->next_id;
    if (audit_chain_row_from_result(r, &row) != 0)
        return ERR_INTERNAL;
    return audit_chain_row(s->audit->mac, s->audit->last, &row, chain);
}

void
store_audit_advance(struct store *s, struct result *r,
                    const unsigned char *chain)
{
    struct store_audit *a = s->audit;

    a->last_id = r->id;
    a->next_id = r->id + 1;
    memcpy(a->last, chain, AUDIT_CHAIN_LEN);
    hex_encode(chain, AUDIT_CHAIN_LEN, r->chain);
}

int
store_audit_id_taken(struct store *s, int64_t id)
{
    struct store_audit *a = s->audit;
    struct err e = {0, ""};
    char sql[96];
    int64_t taken = 0, top = 0;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE id = %lld",
             (long long)id);
    if (store_audit_int(s->wdb, sql, &taken, &e) != 0 || taken == 0 ||
        store_audit_int(s->wdb, "SELECT max(id) FROM results", &top, &e) != 0 ||
        top < id)
        return 0;
    log_event(LOG_WARN, "store", "audit_id_taken",
              "id=%lld next=%lld reason=\"a row labgate did not write "
              "holds the id\"",
              (long long)id, (long long)(top + 1));
    a->next_id = top + 1;
    return 1;
}

int
store_audit_end(struct store *s, struct err *err)
{
    struct store_audit *a = s->audit;
    unsigned char mac[AUDIT_CHAIN_LEN];
    sqlite3_stmt *st = a->head_update;
    int rc;

    if (a->last_id == a->saved_last_id)
        return 0;
    if (store_audit_head_mac(a->mac, a->last_id, a->last, mac) != 0)
        return err_set(err, ERR_INTERNAL, "cannot compute the audit head");
    sqlite3_bind_int64(st, 1, a->last_id);
    sqlite3_bind_blob(st, 2, a->last, AUDIT_CHAIN_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, mac, AUDIT_CHAIN_LEN, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(s->wdb, rc, "record the audit head", err);
    if (sqlite3_changes(s->wdb) != 1)
        return err_set(err, ERR_IO,
                       "record the audit head: the audit "
                       "metadata row is missing");
    return 0;
}

void
store_audit_rollback(struct store *s)
{
    struct store_audit *a = s->audit;

    a->next_id = a->saved_next_id;
    a->last_id = a->saved_last_id;
    memcpy(a->last, a->saved_last, AUDIT_CHAIN_LEN);
}

/* Pruning ------------------------------------------------------------ */

struct store_audit_cut {
    struct audit_mac *mac;
    unsigned char chain[AUDIT_CHAIN_LEN]; /* chain value of cut_id */
    int64_t cut_id;
    int64_t base_id; /* the previous cut: rows up to here were pruned */
    int64_t rows;
    int64_t bad_id; /* first row that did not verify, or 0 */
};

static int
store_audit_cut_row(void *arg, const struct audit_chain_row *r,
                    const unsigned char *chain, size_t chain_len)
{
    struct store_audit_cut *c = arg;
    unsigned char v[AUDIT_CHAIN_LEN];

    if (audit_chain_row(c->mac, c->chain, r, v) != 0)
        return ERR_INTERNAL;
    if (chain == NULL || chain_len != AUDIT_CHAIN_LEN ||
        !audit_chain_equal(v, chain)) {
        c->bad_id = r->id;
        return 1;
    }
    memcpy(c->chain, v, AUDIT_CHAIN_LEN);
    c->cut_id = r->id;
    c->rows++;
    return 0;
}

/* Where pruning resumes: the newest checkpoint, or the genesis value. */
static int
store_audit_base(struct store_audit *a, sqlite3 *db, struct store_audit_cut *c,
                 struct err *err)
{
    unsigned char mac[AUDIT_CHAIN_LEN], v[AUDIT_CHAIN_LEN];
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT cut_id, chain, mac FROM "
                                "audit_checkpoints ORDER BY cut_id DESC "
                                "LIMIT 1",
                                -1, &st, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read audit checkpoint", err);
    c->cut_id = 0;
    memcpy(c->chain, a->genesis, AUDIT_CHAIN_LEN);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c->cut_id = sqlite3_column_int64(st, 0);
        if (store_audit_blob(st, 1, c->chain, AUDIT_CHAIN_LEN) != 0 ||
            store_audit_blob(st, 2, mac, AUDIT_CHAIN_LEN) != 0 ||
            audit_chain_label(c->mac, "checkpoint", c->cut_id, c->chain,
                              AUDIT_CHAIN_LEN, v) != 0 ||
            !audit_chain_equal(v, mac))
            rc = err_set(err, ERR_INVALID,
                         "the audit checkpoint at id %lld was modified",
                         (long long)c->cut_id);
        else
            rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = store_sqlite_err(db, rc, "read audit checkpoint", err);
    }
    sqlite3_finalize(st);
    return rc;
}

static int
store_audit_checkpoint(sqlite3 *db, const struct store_audit_cut *c,
                       int64_t cutoff_ms, struct err *err)
{
    unsigned char mac[AUDIT_CHAIN_LEN];
    sqlite3_stmt *st;
    char sql[128];
    int rc;

    if (audit_chain_label(c->mac, "checkpoint", c->cut_id, c->chain,
                          AUDIT_CHAIN_LEN, mac) != 0)
        return err_set(err, ERR_INTERNAL, "cannot compute the checkpoint");
    /* Rows at or below the previous cut are not ours to delete: they
     * were inserted after it, and verify must get to see them. */
    snprintf(sql, sizeof sql,
             "DELETE FROM results WHERE id > %lld AND id <= %lld",
             (long long)c->base_id, (long long)c->cut_id);
    if (store_exec(db, sql, err) != 0)
        return err->code;
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO audit_checkpoints (cut_id, chain, "
                            "pruned, cutoff_ms, created_ms, mac) VALUES "
                            "(?, ?, ?, ?, ?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "record audit checkpoint", err);
    sqlite3_bind_int64(st, 1, c->cut_id);
    sqlite3_bind_blob(st, 2, c->chain, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->rows);
    sqlite3_bind_int64(st, 4, cutoff_ms);
    sqlite3_bind_int64(st, 5, timefmt_now_ms());
    sqlite3_bind_blob(st, 6, mac, AUDIT_CHAIN_LEN, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_sqlite_err(db, rc, "record audit checkpoint", err);
    return 0;
}

/* One chunk in one transaction; *n is the rows it pruned. */
static int
store_audit_prune_chunk(struct store_audit *a, int64_t cutoff_ms, int64_t *n,
                        struct err *err)
{
    struct store_audit_cut c = {a->pmac, {0}, 0, 0, 0, 0};
    struct store_audit_range range = {0, 0, 0, 0, STORE_AUDIT_CHUNK};
    char sql[128];
    int rc;

    *n = 0;
    if (store_exec(a->pdb, "BEGIN IMMEDIATE", err) != 0)
        return err->code;
    /* Only a prefix of ids goes: stop at the first row to keep. */
    snprintf(sql, sizeof sql,
             "SELECT min(id) FROM results WHERE received_ms >= %lld",
             (long long)cutoff_ms);
    rc = store_audit_base(a, a->pdb, &c, err);
    if (rc == 0)
        rc = store_audit_int(a->pdb, sql, &range.before_id, err);
    range.after_id = c.cut_id;
    c.base_id = c.cut_id;
    if (rc == 0)
        rc = store_audit_walk(a->pdb, &range, store_audit_cut_row, &c, err);
    if (rc == ERR_INTERNAL)
        err_set(err, rc, "cannot compute the audit chain");
    if (rc == 0 && c.bad_id != 0)
        rc = err_set(err, ERR_INVALID,
                     "result %lld does not verify against the audit chain; "
                     "nothing from there on is pruned (run labgate-server "
                     "audit verify)",
                     (long long)c.bad_id);
    if (rc == 0 && c.rows > 0)
        rc = store_audit_checkpoint(a->pdb, &c, cutoff_ms, err);
    if (rc == 0)
        rc = store_exec(a->pdb, "COMMIT", err);
    if (rc != 0) {
        sqlite3_exec(a->pdb, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    *n = c.rows;
    return 0;
}

int
store_audit_prune(struct store *s, int64_t cutoff_ms, int64_t *pruned,
                  struct err *err)
{
    struct store_audit *a = s->audit;
    int64_t n = 0;
    int rc = 0;

    *pruned = 0;
    pthread_mutex_lock(&a->plock);
    if (a->pdb == NULL &&
        (store_connect(s->path, SQLITE_OPEN_READWRITE, &a->pdb, err) != 0 ||
         store_exec(a->pdb, "PRAGMA synchronous = FULL", err) != 0))
        rc = err->code;
    if (rc == 0 && a->pmac == NULL)
        rc = audit_chain_mac_new(&a->key, &a->pmac, err);
    do {
        if (rc == 0) {
            store_write_enter(s);
            rc = store_audit_prune_chunk(a, cutoff_ms, &n, err);
            store_write_leave(s);
        }
        if (rc == 0)
            *pruned += n;
    } while (rc == 0 && n == STORE_AUDIT_CHUNK && !atomic_load(&a->stopping));
    pthread_mutex_unlock(&a->plock);
    return rc;
}

static void
store_audit_prune_now(struct store *s)
{
    struct err e = {0, ""};
    char why[LOG_QUOTE_MAX];
    int64_t cutoff, n = 0;

    cutoff = timefmt_now_ms() - s->audit->retention_days * STORE_AUDIT_DAY_MS;
    if (store_audit_prune(s, cutoff, &n, &e) != 0)
        log_event(LOG_ERROR, "store", "audit_prune_failed",
                  "err=%s reason=%s pruned=%lld", err_name(e.code),
                  log_quote(e.msg, why, sizeof why), (long long)n);
    else if (n > 0)
        log_event(LOG_INFO, "store", "audit_pruned",
                  "rows=%lld retention_days=%d", (long long)n,
                  s->audit->retention_days);
}

static void *
store_audit_pruner_main(void *arg)
{
    struct store *s = arg;
    struct store_audit *a = s->audit;
    struct timespec until;

    pthread_setname_np(pthread_self(), "labgate-prune");
    for (;;) {
        store_audit_prune_now(s);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += STORE_AUDIT_PRUNE_EVERY_MS / 1000;
        pthread_mutex_lock(&a->plock);
        while (!atomic_load(&a->stopping) &&
               pthread_cond_timedwait(&a->pwake, &a->plock, &until) == 0)
            ;
        if (atomic_load(&a->stopping)) {
            pthread_mutex_unlock(&a->plock);
            break;
        }
        pthread_mutex_unlock(&a->plock);
    }
    return NULL;
}

int
store_audit_start(struct store *s, int retention_days, struct err *err)
{
    struct store_audit *a = s->audit;

    a->retention_days = retention_days;
    if (retention_days <= 0)
        return 0;
    if (pthread_create(&a->pruner, NULL, store_audit_pruner_main, s) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start the pruner thread");
    a->pruner_started = 1;
    return 0;
}

void
store_audit_close(struct store *s)
{
    struct store_audit *a = s->audit;

    if (a == NULL)
        return;
    atomic_store(&a->stopping, 1);
    pthread_mutex_lock(&a->plock);
    pthread_cond_signal(&a->pwake);
    pthread_mutex_unlock(&a->plock);
    if (a->pruner_started)
        pthread_join(a->pruner, NULL);
    sqlite3_finalize(a->head_update);
    sqlite3_close(a->pdb);
    audit_chain_mac_free(a->mac);
    audit_chain_mac_free(a->pmac);
    audit_chain_key_wipe(&a->key);
    pthread_mutex_destroy(&a->plock);
    pthread_cond_destroy(&a->pwake);
    free(a);
    s->audit = NULL;
}

/* Read-only access for audit verify and export ------------------------ */

int
store_audit_db_open(const char *path, struct store_audit_db **out,
                    struct err *err)
{
    struct store_audit_db *h;
    int64_t version = 0;

    if (access(path, F_OK) != 0)
        return err_set(err, ERR_NOTFOUND, "database %.150s does not exist",
                       path);
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (store_connect(path, SQLITE_OPEN_READONLY, &h->db, err) != 0 ||
        store_audit_int(h->db, "PRAGMA user_version", &version, err) != 0) {
        store_audit_db_close(h);
        return err->code ? err->code : ERR_IO;
    }
    if (version < STORE_AUDIT_SCHEMA) {
        store_audit_db_close(h);
        return err_set(err, ERR_VERSION,
                       "database %.150s has schema version %lld and no "
                       "audit chain yet: start labgate-server on it once",
                       path, (long long)version);
    }
    *out = h;
    return 0;
}

static int
store_audit_read_checkpoints(sqlite3 *db, struct store_audit_checkpoint **cps,
                             size_t *ncp, struct err *err)
{
    struct store_audit_checkpoint *list = NULL, *grown;
    size_t n = 0;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT cut_id, chain, mac, pruned, "
                                "cutoff_ms, created_ms FROM "
                                "audit_checkpoints ORDER BY cut_id",
                                -1, &st, NULL);

    if (rc != SQLITE_OK)
        return store_sqlite_err(db, rc, "read audit checkpoints", err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_audit_checkpoint *c;
        grown = realloc(list, (n + 1) * sizeof *list);
        if (grown == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        list = grown;
        c = &list[n++];
        memset(c, 0, sizeof *c);
        c->cut_id = sqlite3_column_int64(st, 0);
        c->damaged = store_audit_blob(st, 1, c->chain, AUDIT_CHAIN_LEN) != 0 ||
                     store_audit_blob(st, 2, c->mac, AUDIT_CHAIN_LEN) != 0;
        c->pruned = sqlite3_column_int64(st, 3);
        c->cutoff_ms = sqlite3_column_int64(st, 4);
        c->created_ms = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        return rc == SQLITE_NOMEM
                   ? err_set(err, ERR_NOMEM, "out of memory")
                   : store_sqlite_err(db, rc, "read audit checkpoints", err);
    }
    *cps = list;
    *ncp = n;
    return 0;
}

int
store_audit_db_meta(struct store_audit_db *h, struct store_audit_meta *m,
                    struct store_audit_checkpoint **cps, size_t *ncp,
                    struct err *err)
{
    *cps = NULL;
    *ncp = 0;
    /* The scan that follows must see the rows this head describes. */
    if (sqlite3_get_autocommit(h->db) && store_exec(h->db, "BEGIN", err) != 0)
        return err->code;
    if (store_audit_read_meta(h->db, m, err) != 0)
        return err->code;
    return store_audit_read_checkpoints(h->db, cps, ncp, err);
}

int
store_audit_db_scan(struct store_audit_db *h,
                    const struct store_audit_range *range,
                    store_audit_row_fn fn, void *arg, struct err *err)
{
    if (sqlite3_get_autocommit(h->db) && store_exec(h->db, "BEGIN", err) != 0)
        return err->code;
    return store_audit_walk(h->db, range, fn, arg, err);
}

void
store_audit_db_close(struct store_audit_db *h)
{
    if (h == NULL)
        return;
    if (h->db != NULL && !sqlite3_get_autocommit(h->db))
        sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h->db);
    free(h);
}
