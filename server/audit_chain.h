/*
 * The audit chain's cryptography: the key file and the keyed MAC
 * (HMAC-SHA-256) that links every stored result to the one before it.
 *
 * A row's chain value is HMAC(key, prev || encoding(row)), where prev is
 * the previous row's chain value (or the database's genesis value for
 * the first row) and the encoding is canonical and unambiguous: every
 * field is length-prefixed, NULL differs from the empty string, and
 * identity fields are encoded with their names so that identity columns
 * added later (NULL in old rows) leave old chain values valid.  No SQL
 * here: the store feeds rows in, the audit CLI reads them out.
 */
#ifndef LABGATE_AUDIT_CHAIN_H
#define LABGATE_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "result.h"

#define AUDIT_CHAIN_LEN 32                        /* bytes in a chain value */
#define AUDIT_CHAIN_HEX (2 * AUDIT_CHAIN_LEN + 1) /* hex form with NUL */
#define AUDIT_KEY_ID_HEX 17                       /* key id text with NUL */
#define AUDIT_NONCE_LEN 16

/* Text columns of a row, in the order the canonical encoding uses. */
enum audit_chain_col {
    AUDIT_COL_ROUTE,
    AUDIT_COL_AUTH,
    AUDIT_COL_SUITE,
    AUDIT_COL_STATUS,
    AUDIT_COL_PAYLOAD,
    AUDIT_COL_PRINCIPAL,
    AUDIT_COL_IDENT /* then result_ident_fields, in table order */
};

#define AUDIT_CHAIN_TEXT_MAX 48

/*
 * One row as the chain sees it: raw column text with lengths (text[i]
 * NULL for SQL NULL), borrowed from whoever filled it.
 */
struct audit_chain_row {
    int64_t id;
    int64_t received_ms;
    size_t ntext; /* AUDIT_COL_IDENT + result_ident_field_count */
    const char *text[AUDIT_CHAIN_TEXT_MAX];
    size_t len[AUDIT_CHAIN_TEXT_MAX];
};

/*
 * The secret key and what may be shown of it: id is the first 8 bytes of
 * check, in hex.  check = HMAC(key, "key check") is stored in the
 * database so that a wrong key is recognised before anything is chained.
 */
struct audit_key {
    unsigned char secret[AUDIT_CHAIN_LEN];
    unsigned char check[AUDIT_CHAIN_LEN];
    char id[AUDIT_KEY_ID_HEX];
};

/* A keyed HMAC context with its encoding buffer; one per thread. */
struct audit_mac;

/*
 * Load the key file at path into out.  When the file does not exist and
 * create is set, make it (mode 0600, 32 random bytes as 64 hex digits)
 * and set *created.  Refuses (ERR_DENIED) a file that others can read or
 * write or that another user owns, ERR_NOTFOUND a missing file when not
 * creating, ERR_INVALID a file that does not hold a key.  The reason in
 * err names the path, never the key.
 */
int audit_chain_key_load(const char *path, int create, struct audit_key *out,
                         int *created, struct err *err);

/* Overwrite the key material in k. */
void audit_chain_key_wipe(struct audit_key *k);

/*
 * A MAC context for key k (copied).  Returns 0 and sets *out (free with
 * audit_chain_mac_free), or ERR_NOMEM / ERR_INTERNAL.
 */
int audit_chain_mac_new(const struct audit_key *k, struct audit_mac **out,
                        struct err *err);

void audit_chain_mac_free(struct audit_mac *m);

/*
 * The chain value of row after prev, into out.  Returns 0, or ERR_NOMEM /
 * ERR_INTERNAL (out is then undefined).
 */
int audit_chain_row(struct audit_mac *m, const unsigned char *prev,
                    const struct audit_chain_row *row, unsigned char *out);

/*
 * A MAC over a label, a number and bytes: used for the genesis value
 * (label "genesis", the nonce), the head record and checkpoints.
 */
int audit_chain_label(struct audit_mac *m, const char *label, int64_t n,
                      const unsigned char *data, size_t len,
                      unsigned char *out);

/*
 * Fill row from a result (borrowing its strings; row is valid while r
 * is).  Returns 0, or ERR_INTERNAL when there are more identity fields
 * than AUDIT_CHAIN_TEXT_MAX allows.
 */
int audit_chain_row_from_result(const struct result *r,
                                struct audit_chain_row *row);

/* Constant-time comparison of two chain values: 1 when equal. */
int audit_chain_equal(const unsigned char *a, const unsigned char *b);

#endif
