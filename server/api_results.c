/*
 * The results resource: POST stores one result on any of the three post
 * routes (the router has already authenticated the caller and filled the
 * identity), GET lists with filters and pagination, GET /ID reads one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "route.h"
#include "timefmt.h"

void
api_results_post(struct http_req *rq, struct http_resp *rs)
{
    struct result r;
    struct err e = {0, ""};
    int rc;

    memset(&r, 0, sizeof r);
    if (result_parse_body(&r, rq->body ? rq->body : "", rq->body_len,
                          &rq->srv->result_limits, &e) != 0) {
        http_error(rs, http_status_for(e.code), "%s", e.msg);
        return;
    }
    r.received_ms = timefmt_now_ms();
    r.route = strdup(rq->route->path);
    r.auth = rq->auth;
    /* Borrow the identity; it stays owned by rq for the access log. */
    r.ident = rq->ident;
    if (r.route == NULL || result_set_principal(&r) != 0) {
        http_error(rs, 500, "out of memory");
        goto out;
    }
    rc = store_insert(rq->srv->store, &r, &e);
    if (rc != 0) {
        http_error(rs, http_status_for(rc), "result not stored: %s", e.msg);
        if (rc == ERR_BUSY)
            http_header_add(rs, "Retry-After", "1");
        goto out;
    }
    buf_reset(&rs->body);
    rc = result_write_json(&r, 0, &rs->body);
    http_json_written(rs, 201, rc);
    if (rc != 0)
        goto out;
    http_header_add(rs, "Location", "/lab/results/%lld", (long long)r.id);
out:
    memset(&r.ident, 0, sizeof r.ident);
    result_free(&r);
}

static int
api_parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0 || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* Apply one query parameter to f; on a bad one, answer 400 and return -1. */
static int
api_filter_param(struct store_filter *f, const char *name, char *value,
                 struct http_resp *rs)
{
    for (int i = 0; i < STORE_BY_COUNT; i++) {
        if (strcmp(name, store_filter_names[i]) == 0) {
            f->eq[i] = value;
            return 0;
        }
    }
    if (strcmp(name, "auth") == 0) {
        enum result_auth a;
        if (result_auth_parse(value, &a) != 0)
            goto bad_auth;
        f->auth = (int)a;
    } else if (strcmp(name, "status") == 0) {
        enum result_status st;
        if (result_status_parse(value, &st) != 0)
            goto bad_status;
        f->status = (int)st;
    } else if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0) {
        int64_t ms;
        if (timefmt_parse(value, &ms) != 0 || ms <= 0)
            goto bad_time;
        *(name[0] == 's' ? &f->since_ms : &f->until_ms) = ms;
    } else if (strcmp(name, "before") == 0) {
        if (api_parse_id(value, &f->before_id) != 0)
            goto bad_id;
    } else if (strcmp(name, "limit") == 0) {
        int64_t n;
        if (api_parse_id(value, &n) != 0 || n > STORE_LIST_MAX)
            goto bad_limit;
        f->limit = (int)n;
    } else {
        http_error(rs, 400, "%s: unknown query parameter", name);
        return -1;
    }
    return 0;
bad_auth:
    http_error(rs, 400, "auth: must be none, jwt or iam");
    return -1;
bad_status:
    http_error(rs, 400, "status: must be pass, fail, error or skip");
    return -1;
bad_time:
    http_error(rs, 400, "%s: expected an ISO 8601 UTC time or epoch ms", name);
    return -1;
bad_id:
    http_error(rs, 400, "%s: expected a positive integer id", name);
    return -1;
bad_limit:
    http_error(rs, 400, "limit: expected an integer from 1 to %d",
               STORE_LIST_MAX);
    return -1;
}

#define API_QUERY_MAX 32
#define API_VALUE_MAX 1024
#define API_WAIT_MAX 60
#define API_LINGER_MS 100

/* A non-negative integer of at most max; -1 for anything else. */
static int64_t
api_parse_count(const char *s, int64_t max)
{
    char *end;
    long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > max)
        return -1;
    return v;
}

/* Query parameters that shape the answer rather than filter rows. */
struct api_list_opts {
    int has_after;
    int has_order;
    int wait_s; /* long-poll: seconds to wait for a first result */
};

/*
 * Handle after= and wait=; returns 1 when name was one of them, 0 when it
 * is a filter, -1 after answering 400.
 */
static int
api_list_option(struct store_filter *f, struct api_list_opts *o,
                const char *name, const char *value, struct http_resp *rs)
{
    int64_t v;

    if (strcmp(name, "after") == 0) {
        v = api_parse_count(value, INT64_MAX);
        if (v < 0) {
            http_error(rs, 400, "after: expected an id of 0 or more");
            return -1;
        }
        f->after_id = v;
        o->has_after = 1;
        return 1;
    }
    if (strcmp(name, "order") == 0) {
        if (strcmp(value, "asc") != 0 && strcmp(value, "desc") != 0) {
            http_error(rs, 400, "order: must be asc or desc");
            return -1;
        }
        o->has_order = value[0] == 'd' ? 2 : 1;
        return 1;
    }
    if (strcmp(name, "wait") == 0) {
        v = api_parse_count(value, API_WAIT_MAX);
        if (v < 0) {
            http_error(rs, 400, "wait: expected seconds from 0 to %d",
                       API_WAIT_MAX);
            return -1;
        }
        o->wait_s = (int)v;
        return 1;
    }
    return 0;
}

static void
api_list_answer(struct http_resp *rs, const struct store_filter *f,
                struct result *rows, size_t n)
{
    int rc;

    buf_reset(&rs->body);
    rc = buf_puts(&rs->body, "{\"results\":[");
    for (size_t i = 0; i < n; i++)
        rc |= buf_puts(&rs->body, i ? "," : "") |
              result_write_json(&rows[i], 0, &rs->body);
    if (n == (size_t)f->limit && n > 0 && !f->oldest_first && f->after_id == 0)
        rc |= buf_printf(&rs->body, "],\"next_before\":%lld}",
                         (long long)rows[n - 1].id);
    else
        rc |= buf_puts(&rs->body, "],\"next_before\":null}");
    http_json_written(rs, 200, rc);
}

/*
 * Long-poll: list, and while nothing matches, sleep until the writer
 * commits again or the deadline passes.  The commit counter is read
 * before each listing so a commit between listing and sleeping wakes us.
 * Returns 0 with rows listed (possibly none), or -1 after answering.
 */
static int
api_list_wait(struct http_req *rq, struct http_resp *rs,
              const struct store_filter *f, int wait_s, struct result **rows,
              size_t *n)
{
    struct store *st = rq->srv->store;
    int64_t deadline = timefmt_now_ms() + (int64_t)wait_s * 1000;
    int max = rq->srv->cfg->limits.max_watchers, waiting = 0, rc;
    struct err e = {0, ""};
    uint64_t seq;

    for (;;) {
        seq = store_watch_seq(st);
        rc = store_list(st, f, rows, n, &e);
        if (rc != 0 || *n > 0 || wait_s == 0)
            break;
        store_rows_free(*rows, *n);
        *rows = NULL;
        if (!waiting &&
            __atomic_add_fetch(&rq->srv->watchers, 1, __ATOMIC_SEQ_CST) > max) {
            __atomic_sub_fetch(&rq->srv->watchers, 1, __ATOMIC_SEQ_CST);
            http_header_add(rs, "Retry-After", "5");
            http_error(rs, 503,
                       "too many watchers: at most %d long-polls "
                       "may wait at once; retry later",
                       max);
            return -1;
        }
        waiting = 1;
        rc = store_watch_wait(st, seq, deadline);
        if (rc == ERR_IO) {
            rc = err_set(&e, ERR_BUSY, "the server is shutting down");
            break;
        }
        /* Let a burst of commits gather, so a busy server wakes each
         * watcher at most API_LINGER_MS apart instead of per commit. */
        if (rc == 0 && timefmt_now_ms() + API_LINGER_MS < deadline)
            usleep(API_LINGER_MS * 1000);
        if (rc == ERR_BUSY) {
            rc = store_list(st, f, rows, n, &e);
            break;
        }
    }
    if (waiting)
        __atomic_sub_fetch(&rq->srv->watchers, 1, __ATOMIC_SEQ_CST);
    if (rc != 0) {
        http_error(rs, http_status_for(rc), "%s", e.msg);
        return -1;
    }
    return 0;
}

void
api_results_list(struct http_req *rq, struct http_resp *rs)
{
    char names[API_QUERY_MAX][64], values[API_QUERY_MAX][API_VALUE_MAX];
    const char *cursor = rq->query;
    struct api_list_opts opts = {0, 0, 0};
    struct store_filter f;
    struct result *rows = NULL;
    size_t n = 0;
    int k = 0, rc;

    store_filter_init(&f);
    while ((rc = http_query_next(&cursor, names[k], sizeof names[k], values[k],
                                 sizeof values[k])) != 0) {
        if (rc < 0 || k + 1 >= API_QUERY_MAX) {
            http_error(rs, 400,
                       "query: badly encoded or too many "
                       "parameters");
            return;
        }
        rc = api_list_option(&f, &opts, names[k], values[k], rs);
        if (rc < 0 ||
            (rc == 0 && api_filter_param(&f, names[k], values[k], rs) != 0))
            return;
        k++;
    }
    if (opts.wait_s > 0 && !opts.has_after) {
        http_error(rs, 400, "wait: only with after=ID");
        return;
    }
    /* Newest first is the default; after=ID turns it to oldest first so
     * a follower misses nothing, unless order=desc asks for the newest
     * results above ID (a dashboard that may skip under a burst). */
    f.oldest_first = opts.has_order ? opts.has_order == 1 : opts.has_after;
    f.newest_first = !f.oldest_first;
    if (opts.has_after && f.before_id > 0) {
        http_error(rs, 400, "before: cannot be combined with after");
        return;
    }
    if (api_list_wait(rq, rs, &f, opts.wait_s, &rows, &n) != 0)
        return;
    api_list_answer(rs, &f, rows, n);
    store_rows_free(rows, n);
}

void
api_results_get(struct http_req *rq, struct http_resp *rs)
{
    const char *arg = rq->path + strlen(rq->route->path);
    struct result r;
    struct err e = {0, ""};
    int64_t id;
    int rc;

    if (api_parse_id(arg, &id) != 0) {
        http_error(rs, 400, "id: expected a positive integer");
        return;
    }
    rc = store_get(rq->srv->store, id, &r, &e);
    if (rc != 0) {
        http_error(rs, http_status_for(rc), "%s", e.msg);
        return;
    }
    buf_reset(&rs->body);
    rc = result_write_json(&r, 0, &rs->body);
    result_free(&r);
    http_json_written(rs, 200, rc);
}
