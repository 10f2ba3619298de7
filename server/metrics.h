/*
 * Counters, gauges and histograms for GET /metrics, kept with relaxed
 * atomics so that recording on the request path never takes a lock.
 * Every recording function accepts a server (or metrics) pointer whose
 * metrics are NULL and then does nothing, so unit tests and early
 * start-up need no setup.
 */
#ifndef LABGATE_METRICS_H
#define LABGATE_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

struct server;
struct route;
struct metrics;

/* Most distinct authentication failure reasons; later ones are "other". */
#define METRICS_REASONS_MAX 64
/* Longest reason label kept; longer reasons are cut. */
#define METRICS_REASON_LEN 48

/*
 * Allocate zeroed metrics sized for route_table.  Returns 0 and sets
 * *out (free with metrics_free), or ERR_NOMEM.
 */
int metrics_create(struct metrics **out, struct err *err);

/* Free m; m may be NULL. */
void metrics_free(struct metrics *m);

/*
 * One answered request: route is the matched entry of route_table or NULL
 * when nothing matched, status the HTTP status sent, ns the time from
 * the request line to the response being written, or negative when
 * unknown (requests CivetWeb refused itself), which counts the request
 * but adds nothing to the latency histogram.
 */
void metrics_request(struct server *srv, const struct route *route, int status,
                     int64_t ns);

/*
 * One refused authentication.  reason is a short, stable, non-secret
 * word such as "expired", "bad_signature" or "missing_token"; anything
 * but [a-z0-9_] becomes '_'.  The auth modules call this once per
 * refusal (401 or 403).
 */
void metrics_auth_failure(struct server *srv, const char *reason);

/*
 * One group commit of the store's writer: rows in the batch, ns the time
 * from BEGIN to the end of COMMIT, ok non-zero when it committed.  Shaped
 * as a store commit hook: arg is the struct metrics.
 */
void metrics_store_commit(void *arg, int rows, int64_t ns, int ok);

/* One JWKS fetch; ok non-zero when it produced a usable key set. */
void metrics_jwks_fetch(struct server *srv, int ok);

/* One set of temporary credentials issued by the built-in STS. */
void metrics_sts_issued(struct server *srv);

/* A dashboard watcher (long-poll) started (+1) or ended (-1). */
void metrics_watchers_add(struct server *srv, int delta);

/*
 * Append every metric to out in the Prometheus text exposition format
 * (version 0.0.4).  Returns 0 or ERR_NOMEM.
 */
int metrics_render(const struct server *srv, struct buf *out);

#endif
