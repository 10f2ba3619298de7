/*
 * `labgate-server audit`: verify a database's audit chain and export its
 * results with their identities and chain values (docs/audit.md).  Both
 * read the database on their own read-only connection, so they work on a
 * copy, on a stopped server's file, or beside a running server.
 */
#ifndef LABGATE_AUDIT_H
#define LABGATE_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* What verification found. */
struct audit_report {
    int ok;                 /* 1: every row verified and the tail is complete */
    int64_t rows;           /* rows whose chain value verified */
    int64_t start_id;       /* checkpoint id verification started after (0) */
    int64_t last_id;        /* id of the last row that verified (or start_id) */
    int64_t head_id;        /* last id the server recorded writing */
    int64_t bad_id;         /* the first row found wrong, 0 for metadata */
    char what[ERR_MSG_MAX]; /* what is wrong with it, a sentence */
    char key_id[20];        /* the database's key id */
};

/*
 * Verify the chain of the database at db_path with the key in key_path.
 * Returns 0 when verification ran (rep->ok tells the outcome, rep->bad_id
 * and rep->what the first problem), or a negative code when it could
 * not: ERR_AUTH for a key that is not the database's, ERR_NOTFOUND,
 * ERR_DENIED (key file permissions), ERR_VERSION, ERR_IO; err says why.
 */
int audit_verify(const char *db_path, const char *key_path,
                 struct audit_report *rep, struct err *err);

enum audit_format { AUDIT_JSONL, AUDIT_CSV };

struct audit_export_opts {
    int64_t since_ms; /* received at or after; 0: no bound */
    int64_t until_ms; /* received before; 0: no bound */
    enum audit_format format;
};

/*
 * Write every result of the database at db_path in range, oldest first,
 * to out: one JSON object per line (the API's JSON form), or CSV (RFC
 * 4180: header row, CRLF line ends, quoted fields where needed; SQL NULL
 * and the empty string both become an empty field).  Sets *rows to the
 * results written.  Returns 0, or a negative code (ERR_IO also when out
 * could not be written).
 */
int audit_export(const char *db_path, const struct audit_export_opts *o,
                 FILE *out, int64_t *rows, struct err *err);

/*
 * The `audit` subcommand: argv[0] is "audit", argv[1] "verify" or
 * "export".  Returns the process exit status: 0 success, 1 the chain
 * does not verify, 2 usage error, 3 verification or export could not
 * run (wrong key, unreadable database, ...).
 */
int audit_main(int argc, char **argv);

#endif
