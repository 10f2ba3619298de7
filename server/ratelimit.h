/*
 * Per-identity rate limiting of posts: one token bucket per principal and
 * route kind (source address on the open route, repository or subject on
 * the JWT route, role ARN on the IAM route), configured from the
 * top-level "rate_limits" section.  Off unless configured.
 */
#ifndef LABGATE_RATELIMIT_H
#define LABGATE_RATELIMIT_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "http.h"

struct ratelimit;

/* The route kinds that can be limited, indexing the configuration. */
enum ratelimit_kind {
    RATELIMIT_OPEN,
    RATELIMIT_JWT,
    RATELIMIT_IAM,
    RATELIMIT_KIND_COUNT
};

#define RATELIMIT_DEFAULT_MAX_KEYS 100000
#define RATELIMIT_DEFAULT_IPV6_PREFIX 64

/*
 * Build a limiter from the "rate_limits" object conf (NULL or {} means no
 * limits).  Returns 0 and sets *out (free with ratelimit_free), or
 * ERR_INVALID with the bad key named in err, or ERR_NOMEM.
 */
int ratelimit_create(struct ratelimit **out, json_t *conf, struct err *err);

/*
 * Take one token for key on route kind at time now_ms (monotonic).
 * Returns 1 when the request may go on, 0 when it is over the limit, with
 * *retry_after_s set to the whole seconds until a token is back (at least
 * 1).  A kind without a configured limit always returns 1.  Thread-safe.
 */
int ratelimit_take(struct ratelimit *rl, enum ratelimit_kind kind,
                   const char *key, int64_t now_ms, int *retry_after_s);

/*
 * The open route's key for client address addr: an IPv6 address cut to
 * the configured prefix and written with it ("2001:db8:1:2::/64") into
 * buf (n bytes, at least INET6_ADDRSTRLEN + 8); any other address as it
 * is.  Returns buf or addr.
 */
const char *ratelimit_address_key(const struct ratelimit *rl,
                                  const char *addr, char *buf, size_t n);

/* The number of buckets held now (for tests of the memory bound). */
size_t ratelimit_size(struct ratelimit *rl);

/*
 * Apply the limit to an authenticated post.  Returns 0 when rq may go on
 * (or its route is not limited), or -1 with a 429 answer and Retry-After
 * written into rs and the refusal logged.
 */
int ratelimit_check(struct http_req *rq, struct http_resp *rs);

/* Free rl and every bucket; rl may be NULL. */
void ratelimit_free(struct ratelimit *rl);

#endif
