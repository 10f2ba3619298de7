/*
 * GET /lab/summary: what the dashboard's matrix shows, one entry per
 * suite and auth path with the latest status, time, identity and result
 * id, the pass/fail/error/skip counts and the last outcomes.  It is read
 * from the aggregate table, so it costs the same with a million results
 * as with ten.  "last_id" is the highest result id the summary covers:
 * a client follows the live feed with GET /lab/results?after=last_id.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "timefmt.h"

struct api_summary_out {
    struct buf *body;
    size_t cells;
    struct err *err;
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
done:
    return rc ? err_set(out->err, ERR_NOMEM, "out of memory") : 0;
}

/* Parse ?recent=N; on a bad query answer 400 and return -1. */
static int
api_summary_query(struct http_req *rq, struct http_resp *rs, int *recent)
{
    const char *cursor = rq->query;
    char name[32], value[32], *end;
    long v;
    int rc;

    *recent = STORE_RECENT_MAX;
    while ((rc = http_query_next(&cursor, name, sizeof name, value,
                                 sizeof value)) != 0) {
        if (rc < 0) {
            http_error(rs, 400, "query: badly encoded parameter");
            return -1;
        }
        if (strcmp(name, "recent") != 0) {
            http_error(rs, 400, "%s: unknown query parameter", name);
            return -1;
        }
        v = strtol(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || v < 1 || v > STORE_RECENT_MAX) {
            http_error(rs, 400, "recent: expected an integer from 1 to %d",
                       STORE_RECENT_MAX);
            return -1;
        }
        *recent = (int)v;
    }
    return 0;
}

void
api_summary(struct http_req *rq, struct http_resp *rs)
{
    struct err e = {0, ""};
    struct api_summary_out out = {&rs->body, 0, &e};
    int recent, rc;

    if (api_summary_query(rq, rs, &recent) != 0)
        return;
    buf_reset(&rs->body);
    rc = store_summary_each(rq->srv->store, recent, api_summary_put, &out, &e);
    if (rc != 0) {
        http_error(rs, http_status_for(rc), "summary: %s", e.msg);
        return;
    }
    http_json_written(rs, 200, buf_puts(&rs->body, "]}"));
}
