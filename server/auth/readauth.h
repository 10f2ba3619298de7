/*
 * Read access for the GET routes: open on a loopback listener, otherwise a
 * read credential is required.  Configured from the optional "read"
 * section:
 *
 *   "read": {"token_sha256": ["<64 hex digits>", ...]}
 *
 * Only SHA-256 hashes of the tokens are configured, so the file never
 * holds a usable secret.  The other credential is an OIDC JWT from an
 * issuer trusted in the "jwt" section carrying the "read" scope.
 */
#ifndef LABGATE_READAUTH_H
#define LABGATE_READAUTH_H

#include <stddef.h>

#include "http.h"

#define READAUTH_HASH_LEN 32

/*
 * Validate srv->cfg->read and load the token hashes into srv->readauth.
 * Returns 0, or ERR_INVALID naming the bad key ("read.token_sha256[1]").
 */
int readauth_configure(struct server *srv, struct err *err);

/* Returns 0 to allow, or -1 with the refusal written into rs. */
int readauth_check(struct http_req *rq, struct http_resp *rs);

/*
 * Whether token (len bytes) hashes to one of the n configured hashes.
 * Every hash is compared in constant time, so the answer's timing says
 * nothing about how close a guess was.  Returns 1 or 0.
 */
int readauth_token_matches(const unsigned char (*hashes)[READAUTH_HASH_LEN],
                           size_t n, const char *token, size_t len);

/* Release what readauth_configure loaded. */
void readauth_shutdown(struct server *srv);

#endif
