/*
 * The result model: one CI outcome as posted by a pipeline, plus the
 * identity the server verified for it.  Both programs use it: the server
 * validates bodies into it and serialises stored rows from it, the
 * dashboard parses the server's JSON back into it.
 *
 * Every string member is heap-owned (or NULL) and released by
 * result_free.  "payload" and "ident.claims" hold JSON text.
 */
#ifndef LABGATE_RESULT_H
#define LABGATE_RESULT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum result_status {
    RESULT_PASS,
    RESULT_FAIL,
    RESULT_ERROR,
    RESULT_SKIP,
    RESULT_STATUS_COUNT
};

enum result_auth { RESULT_AUTH_NONE, RESULT_AUTH_JWT, RESULT_AUTH_IAM };

#define RESULT_AUTH_COUNT 3
#define RESULT_SUITE_MAX 128 /* characters (code points) */
#define RESULT_CHAIN_HEX 65  /* audit chain value in hex, with the NUL */

/* Who posted a result, as verified by the route's authenticator. */
struct result_identity {
    char *source_addr; /* client address (after trusted proxies) */
    char *user_agent;
    char *request_id;
    char *issuer;  /* JWT iss, or the web identity behind STS creds */
    char *subject; /* JWT sub */
    char *repository;
    char *owner;
    char *principal_arn; /* IAM role or user ARN */
    char *caller_arn;    /* assumed-role session ARN */
    char *account;
    char *access_key_id;
    char *session_name;
    char *claims; /* JSON object text of the verified token's claims */
};

struct result {
    int64_t id;          /* 0 until stored */
    int64_t received_ms; /* server receive time, ms since the epoch */
    char *route;         /* "/lab/results", ... */
    enum result_auth auth;
    char *suite;
    enum result_status status;
    char *payload;   /* the posted JSON object, compact */
    char *principal; /* who, in one string: see result_principal */
    struct result_identity ident;
    /* The audit chain value (docs/audit.md) in lower-case hex, set by the
     * store; "" for a result that has none yet. */
    char chain[RESULT_CHAIN_HEX];
};

/* Limits applied while validating a posted body. */
struct result_limits {
    int max_depth;   /* deepest nesting of arrays and objects */
    int max_members; /* total members and elements */
};

/*
 * Validate a posted body (len bytes, not NUL-terminated) and fill suite,
 * status and payload of r.  Returns 0, or ERR_INVALID with a reason that
 * names the offending field.  On failure r is unchanged.
 */
int result_parse_body(struct result *r, const char *body, size_t len,
                      const struct result_limits *lim, struct err *err);

/*
 * Set r->principal from the identity: the principal ARN for IAM, the
 * subject for JWT, the source address for the open route.  Returns 0 or
 * ERR_NOMEM.
 */
int result_set_principal(struct result *r);

/*
 * The JSON form of a stored result, as the HTTP API returns it.  Returns
 * a new reference, or NULL when out of memory.
 */
json_t *result_to_json(const struct result *r);

/* Flags of result_write_json. */
#define RESULT_JSON_NO_PAYLOAD 0x1 /* leave the "payload" member out */

/*
 * The same JSON text as json_dumps(result_to_json(r), JSON_COMPACT),
 * appended to b without building a jansson tree: the answer to a post
 * and to every read of results, where a tree per row would cost more
 * than the rest of the request.  The payload and the claims are copied
 * as they are, so they must be JSON text: what this process produced
 * with json_dumps (result_parse_body, the JWT verifier, the STS session)
 * or what the store read back, which it checks (server/store.c).
 * Returns 0 or ERR_NOMEM.
 */
int result_write_json(const struct result *r, int flags, struct buf *b);

/*
 * Parse the JSON form back into r (zeroed first).  Returns 0, or
 * ERR_INVALID naming the missing or mistyped member.
 */
int result_from_json(struct result *r, json_t *obj, struct err *err);

/* Release every string r owns and zero it. */
void result_free(struct result *r);

const char *result_status_name(enum result_status s);
const char *result_auth_name(enum result_auth a);

/* Parse a status or auth path name. Return 0, or -1 for unknown names. */
int result_status_parse(const char *s, enum result_status *out);
int result_auth_parse(const char *s, enum result_auth *out);

/*
 * Offsets of the identity's members with their JSON and column names, so
 * the store, the JSON form and filters walk one table.
 */
struct result_ident_field {
    const char *name;
    size_t offset;
    int json; /* holds JSON text (the claims), not a plain string */
};
extern const struct result_ident_field result_ident_fields[];
extern const size_t result_ident_field_count;

/* The member of ident at field f. */
char **result_ident_slot(struct result_identity *ident,
                         const struct result_ident_field *f);

#endif
