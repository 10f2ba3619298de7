/*
 * AWS Signature Version 4 verification as pure functions: parse the
 * signing parameters of a request (Authorization header or presigned
 * query), build the canonical request and string to sign exactly as AWS
 * does for non-S3 services, derive and cache signing keys, and compare
 * signatures in constant time.  Nothing here knows about HTTP servers or
 * credentials stores, so the official test vectors run against it
 * directly; the clock is a parameter.
 */
#ifndef LABGATE_SIGV4_H
#define LABGATE_SIGV4_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_KEY_ID_MAX 128
#define SIGV4_SCOPE_PART_MAX 64
#define SIGV4_SIGNED_HEADERS_MAX 1024
#define SIGV4_HEADERS_MAX 64
#define SIGV4_CACHE_SLOTS 256

/* One request header as received (name in any case, value untrimmed). */
struct sigv4_header {
    const char *name;
    const char *value;
};

/* The parts of a request that a signature covers. */
struct sigv4_request {
    const char *method;
    const char *path;  /* as sent on the wire, not decoded */
    const char *query; /* raw, after '?', or NULL */
    const struct sigv4_header *headers;
    size_t nheaders;
    const char *body; /* may be NULL when body_len is 0 */
    size_t body_len;
};

/* The signing parameters a request carries. */
struct sigv4_auth {
    int presigned; /* 1: query parameters, 0: Authorization header */
    char access_key_id[SIGV4_KEY_ID_MAX + 1];
    char scope_date[9]; /* YYYYMMDD */
    char region[SIGV4_SCOPE_PART_MAX];
    char service[SIGV4_SCOPE_PART_MAX];
    char terminator[SIGV4_SCOPE_PART_MAX];
    char signed_headers[SIGV4_SIGNED_HEADERS_MAX];
    char signature[65];
    char amz_date[17];    /* YYYYMMDDTHHMMSSZ */
    int64_t request_time; /* amz_date in seconds since the epoch */
    int64_t expires;      /* X-Amz-Expires for presigned requests */
    char *security_token; /* decoded, heap-owned, or NULL */
};

/* What the verifier expects of the credential scope and the time. */
struct sigv4_expect {
    const char *region;
    const char *service;
    int64_t now;      /* the server clock, seconds since the epoch */
    int64_t max_skew; /* seconds allowed either way */
    int normalize;    /* normalise the path (every non-S3 service) */
};

/* Derived signing keys, cached per key id, date, region and service. */
struct sigv4_cache {
    pthread_mutex_t lock;
    struct sigv4_cache_slot {
        unsigned char id[32]; /* SHA-256 of key id, secret and scope */
        unsigned char key[32];
        int used;
    } slots[SIGV4_CACHE_SLOTS];
};

/*
 * Parse the signing parameters of rq into a (zeroed first).  Returns 0;
 * ERR_NOTFOUND when the request carries no signature at all; ERR_INVALID
 * with API Gateway's message for a malformed Authorization header or
 * presigned query.  Free a with sigv4_auth_free in every case.
 */
int sigv4_parse(const struct sigv4_request *rq, struct sigv4_auth *a,
                struct err *err);

/* Release what sigv4_parse allocated in a. */
void sigv4_auth_free(struct sigv4_auth *a);

/*
 * Check the credential scope and the request time of a against ex.
 * Returns 0, or ERR_AUTH with API Gateway's message (wrong region,
 * service, date or terminator; signature expired; not yet current).
 */
int sigv4_check_scope(const struct sigv4_auth *a, const struct sigv4_expect *ex,
                      struct err *err);

/* Flags for sigv4_canonical_request. */
enum sigv4_flags {
    SIGV4_NORMALIZE = 1 << 0, /* normalise the path (non-S3 services) */
    /* Leave X-Amz-Security-Token out of a presigned query: some signers
     * (AWS IoT's, the test vectors' "omit_session_token") add it after
     * signing. */
    SIGV4_OMIT_TOKEN = 1 << 1
};

/*
 * Append the canonical request of rq under a to out, built as flags
 * (enum sigv4_flags) say.  Returns 0, or ERR_NOMEM / ERR_INVALID (a
 * badly encoded query) with the reason.
 */
int sigv4_canonical_request(const struct sigv4_request *rq,
                            const struct sigv4_auth *a, unsigned flags,
                            struct buf *out, struct err *err);

/* Append the string to sign for canonical request creq to out. */
int sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq,
                         struct buf *out);

/*
 * Derive the signing key for secret and the scope of a.  When cache is
 * not NULL, a key derived before for the same key id, secret and scope
 * is reused.
 */
void sigv4_signing_key(struct sigv4_cache *cache, const struct sigv4_auth *a,
                       const char *secret, unsigned char key[32]);

/* The hex HMAC-SHA256 of sts under key, into hex (65 bytes). */
void sigv4_sign(const unsigned char key[32], const char *sts, char hex[65]);

/* Whether the NUL-terminated a and b are equal, in constant time. */
int sigv4_equal(const char *a, const char *b);

/*
 * Verify the signature of rq against secret: canonical request, string
 * to sign, x-amz-content-sha256 when signed, and the signature.  Returns
 * 0, or ERR_AUTH with API Gateway's message; ERR_NOMEM.  cache may be
 * NULL.
 */
int sigv4_verify(const struct sigv4_request *rq, const struct sigv4_auth *a,
                 const char *secret, const struct sigv4_expect *ex,
                 struct sigv4_cache *cache, struct err *err);

/* Initialise an empty cache. */
void sigv4_cache_init(struct sigv4_cache *c);

/* Release the cache's lock and wipe its keys. */
void sigv4_cache_destroy(struct sigv4_cache *c);

/*
 * Parse "YYYYMMDDTHHMMSSZ" into seconds since the epoch.  Returns 0 or
 * -1 when s is not exactly that form.
 */
int sigv4_parse_amz_date(const char *s, int64_t *out);

/* Format t as "YYYYMMDDTHHMMSSZ" into out (17 bytes). */
void sigv4_format_amz_date(int64_t t, char out[17]);

/* Lower-case hex SHA-256 of n bytes of p into hex (65 bytes). */
void sigv4_sha256_hex(const void *p, size_t n, char hex[65]);

#endif
