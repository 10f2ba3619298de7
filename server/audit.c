/*
 * Verification and export of the audit trail.
 *
 * Verification walks the results in id order from the newest retention
 * checkpoint (or the genesis value), recomputing each row's chain value
 * from the one before.  A row whose value does not match is judged with
 * the help of the row after it: if that row still links to the stored
 * value, the row's contents were modified; if it links to the row before,
 * the row was inserted; if it belongs in the row's place, the two were
 * reordered.  A gap in the ids is a deletion (the writer assigns ids
 * without gaps), and a last row below the recorded head is a truncated
 * tail.  The first problem ends the walk.
 *
 * Export streams rows straight from the scan into JSON lines or CSV.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_chain.h"
#include "buf.h"
#include "config.h"
#include "hex.h"
#include "store.h"
#include "timefmt.h"

#define AUDIT_EXIT_BROKEN 1
#define AUDIT_EXIT_USAGE 2
#define AUDIT_EXIT_FAILED 3

struct audit_walk {
    struct audit_mac *mac;
    struct audit_report *rep;
    unsigned char prev[AUDIT_CHAIN_LEN]; /* chain value of prev_id */
    int64_t prev_id;
    int pending; /* pend_id did not verify; the next row decides how */
    int64_t pend_id;
    unsigned char pend_chain[AUDIT_CHAIN_LEN];
};

static int audit_fail(struct audit_walk *w, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first problem; returns 1 so a scan callback stops. */
static int
audit_fail(struct audit_walk *w, int64_t id, const char *fmt, ...)
{
    va_list ap;

    w->rep->ok = 0;
    w->rep->bad_id = id;
    va_start(ap, fmt);
    vsnprintf(w->rep->what, sizeof w->rep->what, fmt, ap);
    va_end(ap);
    return 1;
}

/* Does r, under prev, produce chain? */
static int
audit_links(struct audit_walk *w, const unsigned char *prev,
            const struct audit_chain_row *r, const unsigned char *chain,
            int *ok)
{
    unsigned char v[AUDIT_CHAIN_LEN];

    if (audit_chain_row(w->mac, prev, r, v) != 0)
        return ERR_INTERNAL;
    *ok = chain != NULL && audit_chain_equal(v, chain);
    return 0;
}

/* The pending row failed; r is the row after it. */
static int
audit_judge(struct audit_walk *w, const struct audit_chain_row *r,
            const unsigned char *chain)
{
    struct audit_chain_row moved = *r;
    int64_t id = w->pend_id;
    int ok = 0;

    if (audit_links(w, w->pend_chain, r, chain, &ok) != 0)
        return ERR_INTERNAL;
    if (ok)
        return audit_fail(w, id,
                          "row %lld was modified: its contents no longer "
                          "match its chain value",
                          (long long)id);
    if (audit_links(w, w->prev, r, chain, &ok) != 0)
        return ERR_INTERNAL;
    if (ok)
        return audit_fail(w, id,
                          "row %lld was inserted: it is not part of the "
                          "chain (row %lld links past it)",
                          (long long)id, (long long)r->id);
    moved.id = id;
    if (audit_links(w, w->prev, &moved, chain, &ok) != 0)
        return ERR_INTERNAL;
    if (ok)
        return audit_fail(w, id,
                          "row %lld was reordered: the contents stored as "
                          "row %lld belong in its place",
                          (long long)id, (long long)r->id);
    return audit_fail(w, id,
                      "row %lld was modified, reordered or replaced: it "
                      "does not match its chain value and row %lld does "
                      "not link to it",
                      (long long)id, (long long)r->id);
}

static int
audit_verify_row(void *arg, const struct audit_chain_row *r,
                 const unsigned char *chain, size_t chain_len)
{
    struct audit_walk *w = arg;
    int ok = 0;

    if (chain_len != AUDIT_CHAIN_LEN)
        chain = NULL;
    if (w->pending)
        return audit_judge(w, r, chain);
    if (r->id <= w->rep->start_id)
        return audit_fail(w, r->id,
                          "row %lld was inserted: it is at or below the "
                          "retention checkpoint at id %lld",
                          (long long)r->id, (long long)w->rep->start_id);
    if (audit_links(w, w->prev, r, chain, &ok) != 0)
        return ERR_INTERNAL;
    if (ok) {
        memcpy(w->prev, chain, AUDIT_CHAIN_LEN);
        w->prev_id = r->id;
        w->rep->rows++;
        return 0;
    }
    if (chain == NULL)
        return audit_fail(w, r->id,
                          "row %lld was inserted: it has no chain value",
                          (long long)r->id);
    if (audit_chain_equal(chain, w->prev))
        return audit_fail(w, r->id,
                          "row %lld was inserted: it carries a copy of the "
                          "previous row's chain value",
                          (long long)r->id);
    if (r->id > w->rep->head_id)
        return audit_fail(w, r->id,
                          "row %lld was inserted: it comes after the last "
                          "row the server wrote (id %lld)",
                          (long long)r->id, (long long)w->rep->head_id);
    if (r->id != w->prev_id + 1)
        return audit_fail(w, w->prev_id + 1,
                          "row %lld was deleted: %lld row(s) up to id %lld "
                          "are missing and row %lld does not link to %s",
                          (long long)(w->prev_id + 1),
                          (long long)(r->id - 1 - w->prev_id),
                          (long long)(r->id - 1), (long long)r->id,
                          w->prev_id == 0                  ? "the chain's start"
                          : w->prev_id == w->rep->start_id ? "the checkpoint"
                                                           : "the row before");
    w->pending = 1;
    w->pend_id = r->id;
    memcpy(w->pend_chain, chain, AUDIT_CHAIN_LEN);
    return 0;
}

/* After the last row: a pending failure, or a truncated tail. */
static void
audit_verify_end(struct audit_walk *w, const struct store_audit_meta *m)
{
    if (!w->rep->ok)
        return;
    if (w->pending) {
        audit_fail(w, w->pend_id,
                   "row %lld was modified: its contents no longer match its "
                   "chain value",
                   (long long)w->pend_id);
    } else if (w->prev_id < m->head_id) {
        audit_fail(w, w->prev_id + 1,
                   "row %lld was deleted: the tail was truncated, %lld "
                   "row(s) up to id %lld are missing",
                   (long long)(w->prev_id + 1),
                   (long long)(m->head_id - w->prev_id), (long long)m->head_id);
    } else if (!audit_chain_equal(w->prev, m->head_chain)) {
        audit_fail(w, m->head_id, "row %lld does not match the recorded head",
                   (long long)m->head_id);
    }
    w->rep->last_id = w->prev_id;
}

/* Check the metadata row and checkpoints; pick where the walk starts. */
static int
audit_verify_start(struct audit_walk *w, const struct store_audit_meta *m,
                   const struct store_audit_checkpoint *cps, size_t ncp)
{
    unsigned char v[AUDIT_CHAIN_LEN];

    if (audit_chain_label(w->mac, "genesis", 0, m->nonce, AUDIT_NONCE_LEN, v) !=
        0)
        return ERR_INTERNAL;
    if (!audit_chain_equal(v, m->genesis))
        return audit_fail(w, 0,
                          "the audit metadata was modified: the "
                          "genesis value does not verify");
    if (audit_chain_label(w->mac, "head", m->head_id, m->head_chain,
                          AUDIT_CHAIN_LEN, v) != 0)
        return ERR_INTERNAL;
    if (!audit_chain_equal(v, m->head_mac))
        return audit_fail(w, 0, "the audit head record was modified");
    memcpy(w->prev, m->genesis, AUDIT_CHAIN_LEN);
    for (size_t i = 0; i < ncp; i++) {
        const struct store_audit_checkpoint *c = &cps[i];
        if (audit_chain_label(w->mac, "checkpoint", c->cut_id, c->chain,
                              AUDIT_CHAIN_LEN, v) != 0)
            return ERR_INTERNAL;
        if (c->damaged || !audit_chain_equal(v, c->mac) ||
            c->cut_id > m->head_id)
            return audit_fail(w, c->cut_id,
                              "the retention checkpoint at row %lld was "
                              "modified or forged",
                              (long long)c->cut_id);
    }
    if (ncp > 0) {
        memcpy(w->prev, cps[ncp - 1].chain, AUDIT_CHAIN_LEN);
        w->prev_id = cps[ncp - 1].cut_id;
    }
    w->rep->start_id = w->prev_id;
    return 0;
}

/* Open the database and key; compare the key with the database's. */
static int
audit_open(const char *db_path, const char *key_path, struct store_audit_db **h,
           struct audit_key *key, struct err *err)
{
    if (store_audit_db_open(db_path, h, err) != 0)
        return err->code;
    if (audit_chain_key_load(key_path, 0, key, NULL, err) != 0) {
        store_audit_db_close(*h);
        *h = NULL;
        return err->code;
    }
    return 0;
}

static int
audit_walk_all(struct store_audit_db *h, struct audit_walk *w, struct err *err)
{
    struct store_audit_checkpoint *cps = NULL;
    struct store_audit_range all = {0, 0, 0, 0, 0};
    struct store_audit_meta m;
    size_t ncp = 0;
    int rc;

    rc = store_audit_db_meta(h, &m, &cps, &ncp, err);
    if (rc == ERR_NOTFOUND || rc == ERR_INVALID) {
        audit_fail(w, 0, "%s", err->msg);
        return 0;
    }
    if (rc != 0)
        return rc;
    hex_encode(m.key_check, 8, w->rep->key_id);
    w->rep->head_id = m.head_id;
    rc = audit_verify_start(w, &m, cps, ncp);
    free(cps);
    if (rc < 0 || !w->rep->ok)
        return rc < 0 ? err_set(err, rc, "cannot compute the chain") : 0;
    rc = store_audit_db_scan(h, &all, audit_verify_row, w, err);
    if (rc == ERR_INTERNAL)
        return err_set(err, rc, "cannot compute the chain");
    if (rc == 0)
        audit_verify_end(w, &m);
    return rc;
}

int
audit_verify(const char *db_path, const char *key_path,
             struct audit_report *rep, struct err *err)
{
    struct store_audit_db *h = NULL;
    struct store_audit_meta m;
    struct store_audit_checkpoint *cps = NULL;
    struct audit_walk w;
    struct audit_key key;
    size_t ncp = 0;
    int rc;

    memset(rep, 0, sizeof *rep);
    memset(&w, 0, sizeof w);
    rep->ok = 1;
    w.rep = rep;
    if (audit_open(db_path, key_path, &h, &key, err) != 0)
        return err->code;
    /* A wrong key is not tampering: say so before walking anything. */
    rc = store_audit_db_meta(h, &m, &cps, &ncp, err);
    free(cps);
    if (rc == 0 && !audit_chain_equal(key.check, m.key_check)) {
        char want[AUDIT_KEY_ID_HEX];
        hex_encode(m.key_check, 8, want);
        rc = err_set(err, ERR_AUTH,
                     "audit key %.150s (key id %s) does not match this "
                     "database's chain (key id %s): use the key file the "
                     "database was created with",
                     key_path, key.id, want);
        goto out;
    }
    rc = audit_chain_mac_new(&key, &w.mac, err);
    if (rc == 0)
        rc = audit_walk_all(h, &w, err);
out:
    audit_chain_mac_free(w.mac);
    audit_chain_key_wipe(&key);
    store_audit_db_close(h);
    return rc;
}

/* Export --------------------------------------------------------------- */

struct audit_out {
    FILE *f;
    enum audit_format format;
    int64_t rows;
    struct buf line;
    int write_failed;
};

/* One CSV field, quoted when it holds a separator, quote or line end. */
static void
audit_csv_field(struct buf *b, const char *s, size_t n, int last)
{
    if (s != NULL && (memchr(s, ',', n) || memchr(s, '"', n) ||
                      memchr(s, '\r', n) || memchr(s, '\n', n))) {
        buf_puts(b, "\"");
        for (size_t i = 0; i < n; i++)
            buf_append(b, s[i] == '"' ? "\"\"" : &s[i], s[i] == '"' ? 2 : 1);
        buf_puts(b, "\"");
    } else if (s != NULL) {
        buf_append(b, s, n);
    }
    buf_puts(b, last ? "\r\n" : ",");
}

static void
audit_csv_header(struct buf *b)
{
    buf_puts(b, "id,received_at,route,auth,suite,status,principal");
    for (size_t i = 0; i < result_ident_field_count; i++)
        buf_printf(b, ",%s", result_ident_fields[i].name);
    buf_puts(b, ",payload,chain\r\n");
}

static void
audit_csv_row(struct buf *b, const struct audit_chain_row *r, const char *when,
              const char *chain)
{
    static const int order[] = {AUDIT_COL_ROUTE, AUDIT_COL_AUTH,
                                AUDIT_COL_SUITE, AUDIT_COL_STATUS,
                                AUDIT_COL_PRINCIPAL};

    buf_printf(b, "%lld,%s,", (long long)r->id, when);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        audit_csv_field(b, r->text[order[i]], r->len[order[i]], 0);
    for (size_t i = AUDIT_COL_IDENT; i < r->ntext; i++)
        audit_csv_field(b, r->text[i], r->len[i], 0);
    audit_csv_field(b, r->text[AUDIT_COL_PAYLOAD], r->len[AUDIT_COL_PAYLOAD],
                    0);
    audit_csv_field(b, chain, strlen(chain), 1);
}

/* The API's JSON form, built over the row's borrowed strings. */
static void
audit_json_row(struct buf *b, const struct audit_chain_row *r,
               const char *chain)
{
    struct result res;
    json_t *o;
    char *text;

    memset(&res, 0, sizeof res);
    res.id = r->id;
    res.received_ms = r->received_ms;
    res.route = (char *)r->text[AUDIT_COL_ROUTE];
    res.suite = (char *)r->text[AUDIT_COL_SUITE];
    res.payload = (char *)r->text[AUDIT_COL_PAYLOAD];
    res.principal = (char *)r->text[AUDIT_COL_PRINCIPAL];
    if (r->text[AUDIT_COL_AUTH] == NULL ||
        result_auth_parse(r->text[AUDIT_COL_AUTH], &res.auth) != 0)
        res.auth = RESULT_AUTH_NONE;
    if (r->text[AUDIT_COL_STATUS] == NULL ||
        result_status_parse(r->text[AUDIT_COL_STATUS], &res.status) != 0)
        res.status = RESULT_ERROR;
    for (size_t i = 0; i < result_ident_field_count; i++)
        *result_ident_slot(&res.ident, &result_ident_fields[i]) =
            (char *)r->text[AUDIT_COL_IDENT + i];
    snprintf(res.chain, sizeof res.chain, "%s", chain);
    o = result_to_json(&res);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL) {
        b->len = 0;
        free(b->data);
        b->data = NULL;
        return;
    }
    buf_puts(b, text);
    buf_puts(b, "\n");
    free(text);
}

static int
audit_export_row(void *arg, const struct audit_chain_row *r,
                 const unsigned char *chain, size_t chain_len)
{
    struct audit_out *o = arg;
    char hex[AUDIT_CHAIN_HEX] = "", when[TIMEFMT_ISO_MAX];

    if (chain != NULL && chain_len == AUDIT_CHAIN_LEN)
        hex_encode(chain, AUDIT_CHAIN_LEN, hex);
    buf_reset(&o->line);
    if (o->format == AUDIT_CSV) {
        timefmt_iso8601(r->received_ms, when, sizeof when);
        audit_csv_row(&o->line, r, when, hex);
    } else {
        audit_json_row(&o->line, r, hex);
    }
    if (o->line.data == NULL)
        return ERR_NOMEM;
    if (fwrite(o->line.data, 1, o->line.len, o->f) != o->line.len) {
        o->write_failed = 1;
        return ERR_IO;
    }
    o->rows++;
    return 0;
}

int
audit_export(const char *db_path, const struct audit_export_opts *opt,
             FILE *out, int64_t *rows, struct err *err)
{
    struct store_audit_range range = {0, 0, opt->since_ms, opt->until_ms, 0};
    struct audit_out o = {out, opt->format, 0, BUF_INIT, 0};
    struct store_audit_db *h = NULL;
    int rc = 0;

    *rows = 0;
    if (store_audit_db_open(db_path, &h, err) != 0)
        return err->code;
    if (o.format == AUDIT_CSV) {
        audit_csv_header(&o.line);
        if (o.line.data == NULL)
            rc = ERR_NOMEM;
        else if (fwrite(o.line.data, 1, o.line.len, out) != o.line.len)
            o.write_failed = 1;
    }
    if (rc == 0 && !o.write_failed)
        rc = store_audit_db_scan(h, &range, audit_export_row, &o, err);
    if (fflush(out) != 0 || ferror(out))
        o.write_failed = 1;
    if (o.write_failed)
        rc = err_set(err, ERR_IO, "cannot write the export: %s",
                     strerror(errno));
    else if (rc == ERR_NOMEM)
        err_set(err, rc, "out of memory");
    *rows = o.rows;
    buf_free(&o.line);
    store_audit_db_close(h);
    return rc;
}

/* Command line ---------------------------------------------------------- */

struct audit_args {
    const char *config, *db, *key, *since, *until, *format;
};

static void
audit_usage(FILE *f)
{
    fprintf(f,
            "usage: labgate-server audit verify [--db PATH] [--key FILE] "
            "[--config FILE]\n"
            "       labgate-server audit export [--since T] [--until T] "
            "[--format jsonl|csv]\n"
            "                                   [--db PATH] [--config FILE]\n"
            "\n"
            "verify walks the audit chain and names the first row that was "
            "modified,\n"
            "deleted, inserted or reordered (exit 1), or prints a summary "
            "(exit 0).\n"
            "export writes every result with its identity and chain value "
            "to stdout.\n"
            "Exit 3: the command could not run (wrong key, no database, "
            "...).\n"
            "T is an ISO 8601 UTC time (2026-12-03T17:00:00Z, or a date) or "
            "epoch ms.\n"
            "The database and key default to the configuration's (%s and "
            "PATH.key).\n",
            CONFIG_DEFAULT_DATABASE);
}

/* Parse the flags after "audit verify|export"; returns 0 or exit 2. */
static int
audit_parse(int argc, char **argv, struct audit_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"key", required_argument, NULL, 'k'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **slot[] = {
        ['c'] = &a->config, ['d'] = &a->db,    ['k'] = &a->key,
        ['s'] = &a->since,  ['u'] = &a->until, ['f'] = &a->format};
    int c;

    memset(a, 0, sizeof *a);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            audit_usage(stdout);
            return -1;
        }
        if (c < 0 || c >= (int)(sizeof slot / sizeof slot[0]) ||
            slot[c] == NULL) {
            audit_usage(stderr);
            return AUDIT_EXIT_USAGE;
        }
        *slot[c] = optarg;
    }
    if (optind < argc) {
        fprintf(stderr, "labgate-server audit: unexpected argument '%s'\n",
                argv[optind]);
        return AUDIT_EXIT_USAGE;
    }
    return 0;
}

/* The database and key paths: flags over the configuration file. */
static int
audit_paths(const struct audit_args *a, struct config *cfg, struct buf *key)
{
    struct err e = {0, ""};

    if (config_init(cfg) != 0)
        return AUDIT_EXIT_FAILED;
    if ((a->config && config_load_file(cfg, a->config, &e) != 0) ||
        (a->db && config_set_database(cfg, a->db, &e) != 0)) {
        fprintf(stderr, "labgate-server: configuration error: %s\n", e.msg);
        return AUDIT_EXIT_USAGE;
    }
    if (a->key != NULL)
        buf_puts(key, a->key);
    else if (cfg->audit.key_file != NULL)
        buf_puts(key, cfg->audit.key_file);
    else
        buf_printf(key, "%s.key", cfg->database);
    return key->data ? 0 : AUDIT_EXIT_FAILED;
}

static int
audit_cmd_verify(const struct audit_args *a, struct config *cfg,
                 const char *key)
{
    struct audit_report rep;
    struct err e = {0, ""};
    int64_t t0 = timefmt_mono_ns();
    char ids[64] = "", from[64] = "the genesis value";
    double secs;

    if (a->since || a->until || a->format) {
        fprintf(stderr, "labgate-server audit verify: --since, --until and "
                        "--format belong to export\n");
        return AUDIT_EXIT_USAGE;
    }
    if (audit_verify(cfg->database, key, &rep, &e) != 0) {
        fprintf(stderr, "labgate-server audit verify: %s\n", e.msg);
        return AUDIT_EXIT_FAILED;
    }
    secs = (double)(timefmt_mono_ns() - t0) / 1e9;
    if (!rep.ok) {
        printf("audit verify: FAILED: %s (%lld rows verified before it)\n",
               rep.what, (long long)rep.rows);
        return AUDIT_EXIT_BROKEN;
    }
    if (rep.rows > 0)
        snprintf(ids, sizeof ids, " (ids %lld to %lld)",
                 (long long)(rep.start_id + 1), (long long)rep.last_id);
    if (rep.start_id > 0)
        snprintf(from, sizeof from, "the checkpoint at id %lld",
                 (long long)rep.start_id);
    printf("audit verify: ok: %lld rows checked%s, from %s, head id %lld, "
           "key id %s, %.2f s\n",
           (long long)rep.rows, ids, from, (long long)rep.head_id, rep.key_id,
           secs);
    return 0;
}

static int
audit_time(const char *flag, const char *value, int64_t *ms)
{
    if (value == NULL)
        return 0;
    if (timefmt_parse(value, ms) != 0 || *ms <= 0) {
        fprintf(stderr,
                "labgate-server audit export: %s: expected an ISO 8601 UTC "
                "time or epoch ms\n",
                flag);
        return -1;
    }
    return 0;
}

static int
audit_cmd_export(const struct audit_args *a, struct config *cfg)
{
    struct audit_export_opts o = {0, 0, AUDIT_JSONL};
    struct err e = {0, ""};
    int64_t rows = 0;

    if (a->key != NULL) {
        fprintf(stderr, "labgate-server audit export: --key belongs to "
                        "verify (export needs no key)\n");
        return AUDIT_EXIT_USAGE;
    }
    if (audit_time("--since", a->since, &o.since_ms) != 0 ||
        audit_time("--until", a->until, &o.until_ms) != 0)
        return AUDIT_EXIT_USAGE;
    if (a->format != NULL && strcmp(a->format, "csv") == 0) {
        o.format = AUDIT_CSV;
    } else if (a->format != NULL && strcmp(a->format, "jsonl") != 0) {
        fprintf(stderr, "labgate-server audit export: --format: expected "
                        "jsonl or csv\n");
        return AUDIT_EXIT_USAGE;
    }
    if (audit_export(cfg->database, &o, stdout, &rows, &e) != 0) {
        fprintf(stderr, "labgate-server audit export: %s\n", e.msg);
        return AUDIT_EXIT_FAILED;
    }
    return 0;
}

int
audit_main(int argc, char **argv)
{
    struct audit_args a;
    struct config cfg;
    struct buf key = BUF_INIT;
    int rc, verify;

    if (argc < 2 ||
        (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "export") != 0)) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            audit_usage(stdout);
            return 0;
        }
        audit_usage(stderr);
        return AUDIT_EXIT_USAGE;
    }
    verify = strcmp(argv[1], "verify") == 0;
    rc = audit_parse(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    memset(&cfg, 0, sizeof cfg);
    rc = audit_paths(&a, &cfg, &key);
    if (rc == 0)
        rc = verify ? audit_cmd_verify(&a, &cfg, key.data)
                    : audit_cmd_export(&a, &cfg);
    buf_free(&key);
    config_free(&cfg);
    return rc;
}
