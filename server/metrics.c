/*
 * Metrics for Prometheus.  Everything is a fixed-size array of relaxed
 * atomic counters allocated once, so recording is a single atomic add
 * and /metrics reads a consistent-enough snapshot without stopping
 * anyone (Prometheus tolerates counters read a few increments apart).
 *
 * Requests are counted per route_table entry (plus one slot for requests
 * that matched no route) and per status code 100-599.  Histograms keep
 * per-bucket counts (not cumulative) and a sum; rendering accumulates
 * them into Prometheus' cumulative "le" buckets.  Authentication failure
 * reasons are free-form words from the auth modules, kept in a small
 * append-only table: lookups scan it without a lock, and only adding a
 * new reason takes the mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "route.h"
#include "server.h"

#define METRICS_STATUS_MIN 100
#define METRICS_STATUS_SLOTS 500
#define METRICS_BOUNDS_MAX 16

typedef atomic_uint_fast64_t metrics_counter;

struct metrics_hist {
    const double *bounds; /* upper bounds, ascending; +Inf is implied */
    int nbounds;
    metrics_counter buckets[METRICS_BOUNDS_MAX + 1];
    metrics_counter count;
    metrics_counter sum; /* nanoseconds, or plain units for sizes */
};

struct metrics_reason {
    char name[METRICS_REASON_LEN + 1];
    metrics_counter count;
};

struct metrics {
    int nroutes; /* entries in route_table; slot nroutes is "unmatched" */
    metrics_counter *requests;    /* [(nroutes + 1) * METRICS_STATUS_SLOTS] */
    struct metrics_hist *latency; /* [nroutes + 1] */
    struct metrics_hist commit_seconds;
    struct metrics_hist batch_rows;
    metrics_counter commits_ok, commits_failed;
    pthread_mutex_t reasons_lock;
    atomic_int nreasons;
    struct metrics_reason reasons[METRICS_REASONS_MAX];
    metrics_counter reasons_other;
    metrics_counter jwks_fetches, jwks_failures;
    metrics_counter sts_issued;
    atomic_long watchers;
};

static const double metrics_seconds_bounds[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double metrics_rows_bounds[] = {1,  2,   4,   8,    16,   32,
                                             64, 128, 256, 1024, 4096, 10000};

#define METRICS_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void
metrics_hist_init(struct metrics_hist *h, const double *bounds, int n)
{
    h->bounds = bounds;
    h->nbounds = n;
}

/* value is in the histogram's unit; sum_units is what the sum adds. */
static void
metrics_hist_observe(struct metrics_hist *h, double value, uint64_t sum_units)
{
    int i = 0;

    while (i < h->nbounds && value > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, sum_units, memory_order_relaxed);
}

int
metrics_create(struct metrics **out, struct err *err)
{
    struct metrics *m = calloc(1, sizeof *m);
    int n = 0;

    while (route_table[n].method != NULL)
        n++;
    if (m == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    m->nroutes = n;
    m->requests =
        calloc((size_t)(n + 1) * METRICS_STATUS_SLOTS, sizeof *m->requests);
    m->latency = calloc((size_t)n + 1, sizeof *m->latency);
    if (m->requests == NULL || m->latency == NULL) {
        metrics_free(m);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i <= n; i++)
        metrics_hist_init(&m->latency[i], metrics_seconds_bounds,
                          METRICS_COUNT(metrics_seconds_bounds));
    metrics_hist_init(&m->commit_seconds, metrics_seconds_bounds,
                      METRICS_COUNT(metrics_seconds_bounds));
    metrics_hist_init(&m->batch_rows, metrics_rows_bounds,
                      METRICS_COUNT(metrics_rows_bounds));
    pthread_mutex_init(&m->reasons_lock, NULL);
    *out = m;
    return 0;
}

void
metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->reasons_lock);
    free(m->requests);
    free(m->latency);
    free(m);
}

static void
metrics_inc(metrics_counter *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t
metrics_get(const metrics_counter *c)
{
    return atomic_load_explicit((metrics_counter *)c, memory_order_relaxed);
}

void
metrics_request(struct server *srv, const struct route *route, int status,
                int64_t ns)
{
    struct metrics *m = srv ? srv->metrics : NULL;
    int r;

    if (m == NULL)
        return;
    r = route ? (int)(route - route_table) : m->nroutes;
    if (r < 0 || r > m->nroutes)
        r = m->nroutes;
    if (status >= METRICS_STATUS_MIN &&
        status < METRICS_STATUS_MIN + METRICS_STATUS_SLOTS)
        metrics_inc(&m->requests[r * METRICS_STATUS_SLOTS + status -
                                 METRICS_STATUS_MIN]);
    if (ns >= 0)
        metrics_hist_observe(&m->latency[r], (double)ns / 1e9, (uint64_t)ns);
}

/* Copy reason into out as a label-safe word. */
static void
metrics_reason_clean(const char *reason, char *out)
{
    size_t i = 0;

    for (; reason != NULL && reason[i] != '\0' && i < METRICS_REASON_LEN; i++) {
        char c = reason[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        out[i] = ok ? c : '_';
    }
    if (i == 0)
        out[i++] = '_';
    out[i] = '\0';
}

static struct metrics_reason *
metrics_reason_find(struct metrics *m, const char *name)
{
    int n = atomic_load_explicit(&m->nreasons, memory_order_acquire);

    for (int i = 0; i < n; i++)
        if (strcmp(m->reasons[i].name, name) == 0)
            return &m->reasons[i];
    return NULL;
}

void
metrics_auth_failure(struct server *srv, const char *reason)
{
    struct metrics *m = srv ? srv->metrics : NULL;
    char name[METRICS_REASON_LEN + 1];
    struct metrics_reason *slot;
    int n;

    if (m == NULL)
        return;
    metrics_reason_clean(reason, name);
    slot = metrics_reason_find(m, name);
    if (slot == NULL) {
        pthread_mutex_lock(&m->reasons_lock);
        slot = metrics_reason_find(m, name);
        n = atomic_load_explicit(&m->nreasons, memory_order_relaxed);
        if (slot == NULL && n < METRICS_REASONS_MAX) {
            slot = &m->reasons[n];
            strcpy(slot->name, name);
            /* Publish the name before readers can see the new count. */
            atomic_store_explicit(&m->nreasons, n + 1, memory_order_release);
        }
        pthread_mutex_unlock(&m->reasons_lock);
    }
    metrics_inc(slot ? &slot->count : &m->reasons_other);
}

void
metrics_store_commit(void *arg, int rows, int64_t ns, int ok)
{
    struct metrics *m = arg;

    if (m == NULL)
        return;
    metrics_inc(ok ? &m->commits_ok : &m->commits_failed);
    if (ns < 0)
        ns = 0;
    metrics_hist_observe(&m->commit_seconds, (double)ns / 1e9, (uint64_t)ns);
    if (ok && rows > 0)
        metrics_hist_observe(&m->batch_rows, rows, (uint64_t)rows);
}

void
metrics_jwks_fetch(struct server *srv, int ok)
{
    if (srv == NULL || srv->metrics == NULL)
        return;
    metrics_inc(&srv->metrics->jwks_fetches);
    if (!ok)
        metrics_inc(&srv->metrics->jwks_failures);
}

void
metrics_sts_issued(struct server *srv)
{
    if (srv != NULL && srv->metrics != NULL)
        metrics_inc(&srv->metrics->sts_issued);
}

void
metrics_watchers_add(struct server *srv, int delta)
{
    if (srv != NULL && srv->metrics != NULL)
        atomic_fetch_add_explicit(&srv->metrics->watchers, delta,
                                  memory_order_relaxed);
}

/* The route's labels: method and path ("{id}" for a prefix route). */
static void
metrics_route_labels(const struct metrics *m, int r, struct buf *out)
{
    const struct route *rt = r < m->nroutes ? &route_table[r] : NULL;

    if (rt == NULL) {
        buf_puts(out, "method=\"\",route=\"unmatched\"");
        return;
    }
    buf_printf(out, "method=\"%s\",route=\"%s%s\"", rt->method, rt->path,
               (rt->flags & ROUTE_PREFIX) ? "{id}" : "");
}

static void
metrics_head(struct buf *out, const char *name, const char *type,
             const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * One histogram's series; labels (may be "") go before "le".  scale
 * turns the stored sum into the metric's unit.
 */
static void
metrics_hist_render(const struct metrics_hist *h, const char *name,
                    const char *labels, double scale, struct buf *out)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t acc = 0;

    for (int i = 0; i <= h->nbounds; i++) {
        acc += metrics_get(&h->buckets[i]);
        if (i < h->nbounds)
            buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
                       sep, h->bounds[i], (unsigned long long)acc);
        else
            buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                       sep, (unsigned long long)acc);
    }
    buf_printf(out, "%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels,
               labels[0] ? "}" : "", (double)metrics_get(&h->sum) * scale);
    buf_printf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
               labels[0] ? "}" : "", (unsigned long long)acc);
}

static void
metrics_render_requests(const struct metrics *m, struct buf *out)
{
    struct buf labels = BUF_INIT;

    metrics_head(out, "labgate_http_requests_total", "counter",
                 "Requests answered, by route and status code.");
    for (int r = 0; r <= m->nroutes; r++) {
        for (int s = 0; s < METRICS_STATUS_SLOTS; s++) {
            uint64_t v =
                metrics_get(&m->requests[r * METRICS_STATUS_SLOTS + s]);
            if (v == 0)
                continue;
            buf_reset(&labels);
            metrics_route_labels(m, r, &labels);
            if (labels.data == NULL)
                continue;
            buf_printf(out,
                       "labgate_http_requests_total{%s,status=\"%d\"} "
                       "%llu\n",
                       labels.data, s + METRICS_STATUS_MIN,
                       (unsigned long long)v);
        }
    }
    metrics_head(out, "labgate_http_request_duration_seconds", "histogram",
                 "Time from request line to response written.");
    for (int r = 0; r <= m->nroutes; r++) {
        buf_reset(&labels);
        metrics_route_labels(m, r, &labels);
        if (labels.data != NULL)
            metrics_hist_render(&m->latency[r],
                                "labgate_http_request_duration_seconds",
                                labels.data, 1e-9, out);
    }
    buf_free(&labels);
}

static void
metrics_render_auth(struct metrics *m, struct buf *out)
{
    int n = atomic_load_explicit(&m->nreasons, memory_order_acquire);

    metrics_head(out, "labgate_auth_failures_total", "counter",
                 "Refused authentications, by reason.");
    for (int i = 0; i < n; i++)
        buf_printf(out, "labgate_auth_failures_total{reason=\"%s\"} %llu\n",
                   m->reasons[i].name,
                   (unsigned long long)metrics_get(&m->reasons[i].count));
    if (metrics_get(&m->reasons_other) > 0)
        buf_printf(out,
                   "labgate_auth_failures_total{reason=\"other\"} "
                   "%llu\n",
                   (unsigned long long)metrics_get(&m->reasons_other));
}

static void
metrics_render_store(const struct metrics *m, struct buf *out)
{
    metrics_head(out, "labgate_store_commits_total", "counter",
                 "Group commits of the store writer, by outcome.");
    buf_printf(out,
               "labgate_store_commits_total{result=\"ok\"} %llu\n"
               "labgate_store_commits_total{result=\"error\"} %llu\n",
               (unsigned long long)metrics_get(&m->commits_ok),
               (unsigned long long)metrics_get(&m->commits_failed));
    metrics_head(out, "labgate_store_commit_duration_seconds", "histogram",
                 "Time from BEGIN to the end of COMMIT (the fsync).");
    metrics_hist_render(&m->commit_seconds,
                        "labgate_store_commit_duration_seconds", "", 1e-9, out);
    metrics_head(out, "labgate_store_commit_batch_rows", "histogram",
                 "Results committed together in one transaction.");
    metrics_hist_render(&m->batch_rows, "labgate_store_commit_batch_rows", "",
                        1, out);
}

static void
metrics_render_auth_sources(const struct metrics *m, struct buf *out)
{
    metrics_head(out, "labgate_jwks_fetches_total", "counter",
                 "JWKS key set fetches, successful or not.");
    buf_printf(out, "labgate_jwks_fetches_total %llu\n",
               (unsigned long long)metrics_get(&m->jwks_fetches));
    metrics_head(out, "labgate_jwks_fetch_failures_total", "counter",
                 "JWKS key set fetches that failed.");
    buf_printf(out, "labgate_jwks_fetch_failures_total %llu\n",
               (unsigned long long)metrics_get(&m->jwks_failures));
    metrics_head(out, "labgate_sts_credentials_issued_total", "counter",
                 "Temporary credentials issued by the built-in STS.");
    buf_printf(out, "labgate_sts_credentials_issued_total %llu\n",
               (unsigned long long)metrics_get(&m->sts_issued));
    metrics_head(out, "labgate_watchers", "gauge",
                 "Dashboard watchers (long-polls) open now.");
    buf_printf(out, "labgate_watchers %ld\n",
               atomic_load_explicit((atomic_long *)&m->watchers,
                                    memory_order_relaxed));
}

int
metrics_render(const struct server *srv, struct buf *out)
{
    struct metrics *m = srv->metrics;

    metrics_head(out, "labgate_build_info", "gauge",
                 "Always 1; the version is in the label.");
    buf_printf(out, "labgate_build_info{version=\"%s\"} 1\n", LABGATE_VERSION);
    metrics_head(out, "labgate_start_time_seconds", "gauge",
                 "When the server started, in seconds since the epoch.");
    buf_printf(out, "labgate_start_time_seconds %.3f\n",
               (double)srv->started_ms / 1000.0);
    if (m != NULL) {
        metrics_render_requests(m, out);
        metrics_render_auth(m, out);
        metrics_render_store(m, out);
        metrics_render_auth_sources(m, out);
    }
    return out->data != NULL ? 0 : ERR_NOMEM;
}
