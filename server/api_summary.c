/*
 * GET /lab/summary: what the dashboard's matrix shows, one entry per
 * suite and auth path with the latest status, time, identity and result
 * id, the pass/fail/error/skip counts and the last outcomes.  It is read
 * from the aggregate table, so it costs the same with a million results
 * as with ten.  "last_id" is the highest result id the summary covers:
 * a client follows the live feed with GET /lab/results?after=last_id.
 * suite=, prefix= and auth= narrow it; limit= pages it, and "next_after"
 * (AUTH:SUITE of the last cell, or null on the last page) goes back as
 * after= for the next page.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "timefmt.h"

/* Long enough for a suite name of RESULT_SUITE_MAX code points. */
#define API_SUMMARY_VALUE_MAX (RESULT_SUITE_MAX * 4 + 16)

struct api_summary_out {
    struct buf *body;
    size_t cells;
    struct err *err;
    struct buf last; /* the last cell's cursor, AUTH:SUITE */
};

_Static_assert(RESULT_STATUS_COUNT == 4, "a cell writes four counts");

/*
 * Write the head (row NULL) or one cell straight into the body: with
 * thousands of suites a jansson tree per cell cost more in malloc than
 * everything else in the request (docs/benchmarks.md, 2026-12-04).
 */
static int
api_summary_put(void *arg, int64_t max_id, const struct store_summary *row)
{
    struct api_summary_out *out = arg;
    struct buf *b = out->body;
    char when[TIMEFMT_ISO_MAX];
    int rc;

    if (row == NULL) {
        timefmt_iso8601(timefmt_now_ms(), when, sizeof when);
        rc = buf_printf(b,
                        "{\"generated_at\":\"%s\",\"last_id\":%lld,"
                        "\"cells\":[",
                        when, (long long)max_id);
        goto done;
    }
    timefmt_iso8601(row->last.received_ms, when, sizeof when);
    rc = buf_puts(b, out->cells++ ? ",{\"suite\":" : "{\"suite\":");
    rc |= buf_json_string(b, row->last.suite);
    rc |= buf_printf(
        b,
        ",\"auth\":\"%s\",\"status\":\"%s\",\"last_id\":%lld,"
        "\"last_at\":\"%s\",\"counts\":{\"%s\":%lld,\"%s\":%lld,"
        "\"%s\":%lld,\"%s\":%lld},\"recent\":",
        result_auth_name(row->last.auth), result_status_name(row->last.status),
        (long long)row->last.id, when, result_status_name(RESULT_PASS),
        (long long)row->counts[RESULT_PASS], result_status_name(RESULT_FAIL),
        (long long)row->counts[RESULT_FAIL], result_status_name(RESULT_ERROR),
        (long long)row->counts[RESULT_ERROR], result_status_name(RESULT_SKIP),
        (long long)row->counts[RESULT_SKIP]);
    rc |= buf_json_string(b, row->recent);
    rc |= buf_puts(b, ",\"last\":");
    rc |= result_write_json(&row->last, RESULT_JSON_NO_PAYLOAD, b);
    rc |= buf_puts(b, "}");
    buf_reset(&out->last);
    rc |= buf_printf(&out->last, "%s:%s", result_auth_name(row->last.auth),
                     row->last.suite);
done:
    return rc ? err_set(out->err, ERR_NOMEM, "out of memory") : 0;
}

struct api_summary_params {
    char suite[API_SUMMARY_VALUE_MAX];
    char prefix[API_SUMMARY_VALUE_MAX];
    char after[API_SUMMARY_VALUE_MAX];
};

/* An integer from 1 to max, or -1. */
static long
api_summary_int(const char *value, long max)
{
    char *end;
    long v = strtol(value, &end, 10);

    if (value[0] < '0' || value[0] > '9' || *end != '\0' || v < 1 || v > max)
        return -1;
    return v;
}

/* Split after=AUTH:SUITE into q; returns -1 when it is not one. */
static int
api_summary_after(char *value, struct store_summary_query *q)
{
    char *colon = strchr(value, ':');
    enum result_auth a;

    if (colon == NULL || colon[1] == '\0')
        return -1;
    *colon = '\0';
    if (result_auth_parse(value, &a) != 0)
        return -1;
    q->after_auth = a;
    q->after_suite = colon + 1;
    return 0;
}

/* One parameter into q; on a bad one answer 400 and return -1. */
static int
api_summary_param(const char *name, char *value, struct api_summary_params *p,
                  struct store_summary_query *q, struct http_resp *rs)
{
    enum result_auth a;
    long v;

    if (strcmp(name, "recent") == 0) {
        if ((v = api_summary_int(value, STORE_RECENT_MAX)) < 0)
            goto bad_int;
        q->recent = (int)v;
    } else if (strcmp(name, "limit") == 0) {
        if ((v = api_summary_int(value, STORE_SUMMARY_MAX)) < 0)
            goto bad_int;
        q->limit = (int)v;
    } else if (strcmp(name, "auth") == 0) {
        if (result_auth_parse(value, &a) != 0) {
            http_error(rs, 400, "auth: must be none, jwt or iam");
            return -1;
        }
        q->auth = (int)a + 1;
    } else if (strcmp(name, "suite") == 0 || strcmp(name, "prefix") == 0) {
        char *dst = name[0] == 's' ? p->suite : p->prefix;
        if (value[0] == '\0') {
            http_error(rs, 400, "%s: must not be empty", name);
            return -1;
        }
        memcpy(dst, value, strlen(value) + 1);
        *(name[0] == 's' ? &q->suite : &q->prefix) = dst;
    } else if (strcmp(name, "after") == 0) {
        memcpy(p->after, value, strlen(value) + 1);
        if (api_summary_after(p->after, q) != 0) {
            http_error(rs, 400,
                       "after: expected AUTH:SUITE, the "
                       "next_after of the previous page");
            return -1;
        }
    } else {
        http_error(rs, 400, "%s: unknown query parameter", name);
        return -1;
    }
    return 0;
bad_int:
    http_error(rs, 400, "%s: expected an integer from 1 to %d", name,
               name[0] == 'r' ? STORE_RECENT_MAX : STORE_SUMMARY_MAX);
    return -1;
}

/* Parse the query into q (p holds its strings); -1 after a 400. */
static int
api_summary_query(struct http_req *rq, struct http_resp *rs,
                  struct api_summary_params *p, struct store_summary_query *q)
{
    const char *cursor = rq->query;
    char name[32], value[API_SUMMARY_VALUE_MAX];
    int rc;

    memset(q, 0, sizeof *q);
    q->recent = STORE_RECENT_MAX;
    while ((rc = http_query_next(&cursor, name, sizeof name, value,
                                 sizeof value)) != 0) {
        if (rc < 0) {
            http_error(rs, 400,
                       "query: badly encoded or too long "
                       "parameter");
            return -1;
        }
        if (api_summary_param(name, value, p, q, rs) != 0)
            return -1;
    }
    return 0;
}

void
api_summary(struct http_req *rq, struct http_resp *rs)
{
    struct err e = {0, ""};
    struct api_summary_out out = {&rs->body, 0, &e, BUF_INIT};
    struct api_summary_params p;
    struct store_summary_query q;
    int more, rc;

    if (api_summary_query(rq, rs, &p, &q) != 0)
        return;
    buf_reset(&rs->body);
    rc = store_summary_each(rq->srv->store, &q, api_summary_put, &out, &more,
                            &e);
    if (rc != 0) {
        buf_free(&out.last);
        http_error(rs, http_status_for(rc), "summary: %s", e.msg);
        return;
    }
    rc = buf_puts(&rs->body, "],\"next_after\":");
    if (more && out.last.data != NULL)
        rc |= buf_json_string(&rs->body, out.last.data);
    else
        rc |= buf_puts(&rs->body, "null");
    buf_free(&out.last);
    http_json_written(rs, 200, rc | buf_puts(&rs->body, "}"));
}
