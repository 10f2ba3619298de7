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

static json_t *
api_summary_cell(const struct store_summary *row)
{
    char when[TIMEFMT_ISO_MAX];
    json_t *o = json_object(), *counts = json_object();
    json_t *last = result_to_json(&row->last);

    if (o == NULL || counts == NULL || last == NULL) {
        json_decref(o);
        json_decref(counts);
        json_decref(last);
        return NULL;
    }
    json_object_del(last, "payload");
    timefmt_iso8601(row->last.received_ms, when, sizeof when);
    json_object_set_new(o, "suite", json_string(row->last.suite));
    json_object_set_new(o, "auth",
                        json_string(result_auth_name(row->last.auth)));
    json_object_set_new(o, "status",
                        json_string(result_status_name(row->last.status)));
    json_object_set_new(o, "last_id", json_integer(row->last.id));
    json_object_set_new(o, "last_at", json_string(when));
    for (int i = 0; i < RESULT_STATUS_COUNT; i++)
        json_object_set_new(counts, result_status_name(i),
                            json_integer(row->counts[i]));
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "recent", json_string(row->recent));
    json_object_set_new(o, "last", last);
    return o;
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
    struct store_summary *rows = NULL;
    struct err e = {0, ""};
    char now[TIMEFMT_ISO_MAX];
    int64_t max_id = 0;
    size_t n = 0;
    int recent, rc;
    json_t *o, *cells;

    if (api_summary_query(rq, rs, &recent) != 0)
        return;
    rc = store_summary_list(rq->srv->store, recent, &rows, &n, &max_id, &e);
    if (rc != 0) {
        http_error(rs, http_status_for(rc), "summary: %s", e.msg);
        return;
    }
    o = json_object();
    cells = json_array();
    for (size_t i = 0; o && cells && i < n; i++)
        if (json_array_append_new(cells, api_summary_cell(&rows[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    store_summary_free(rows, n);
    timefmt_iso8601(timefmt_now_ms(), now, sizeof now);
    if (o == NULL || cells == NULL) {
        json_decref(o);
        json_decref(cells);
        http_error(rs, 500, "out of memory");
        return;
    }
    json_object_set_new(o, "generated_at", json_string(now));
    json_object_set_new(o, "last_id", json_integer(max_id));
    json_object_set_new(o, "cells", cells);
    http_json(rs, 200, o);
}
