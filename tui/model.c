/*
 * Dashboard state.  Suites live in one array sorted by name (binary
 * search finds a suite when a result arrives); the matrix shows "rows",
 * an index array over it that is rebuilt lazily after a change to the
 * data, the filter or the sort.  Each suite has one cell per auth path
 * holding the aggregate and the few fields of its latest result the
 * matrix needs (model_cell_set_last).  The feed is a ring of the last
 * MODEL_FEED_MAX full results.
 *
 * Updates are idempotent by result id: a cell only moves forward to a
 * newer id, and the feed only takes ids above the highest it holds, so
 * the summary and the live feed may overlap without counting twice.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "summary.h"

void
model_init(struct model *m, const char *url, const char *title)
{
    memset(m, 0, sizeof *m);
    m->server_url = url;
    m->title = title;
    m->conn = MODEL_CONNECTING;
    m->view = MODEL_VIEW_MATRIX;
    m->back_view = MODEL_VIEW_MATRIX;
}

void
model_set_prefix(struct model *m, const char *prefix)
{
    m->prefix = prefix != NULL && prefix[0] != '\0' ? prefix : NULL;
}

static int
model_wants(const struct model *m, const char *suite)
{
    return m->prefix == NULL ||
           strncmp(suite, m->prefix, strlen(m->prefix)) == 0;
}

static void
model_suite_free(struct model_suite *s)
{
    free(s->name);
    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        result_free(&s->cell[a].last);
}

static void
model_suites_free(struct model_suite *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        model_suite_free(&s[i]);
    free(s);
}

static void
model_feed_clear(struct model *m)
{
    for (size_t i = 0; i < MODEL_FEED_MAX; i++)
        result_free(&m->feed[i]);
    m->feed_head = m->feed_n = 0;
    m->feed_max_id = 0;
}

void
model_free(struct model *m)
{
    model_suites_free(m->suites, m->nsuites);
    free(m->rows);
    model_feed_clear(m);
    result_free(&m->detail);
    memset(m, 0, sizeof *m);
}

static char *
model_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Deep copy of src into dst; the payload only when with_payload. */
static int
model_result_copy(struct result *dst, const struct result *src,
                  int with_payload)
{
    memset(dst, 0, sizeof *dst);
    dst->id = src->id;
    dst->received_ms = src->received_ms;
    dst->auth = src->auth;
    dst->status = src->status;
    dst->route = model_strdup(src->route);
    dst->suite = model_strdup(src->suite);
    dst->principal = model_strdup(src->principal);
    if (with_payload)
        dst->payload = model_strdup(src->payload);
    for (size_t i = 0; i < result_ident_field_count; i++) {
        const struct result_ident_field *f = &result_ident_fields[i];
        *result_ident_slot(&dst->ident, f) = model_strdup(
            *result_ident_slot((struct result_identity *)&src->ident, f));
    }
    if (src->suite != NULL && dst->suite == NULL) {
        result_free(dst);
        return ERR_NOMEM;
    }
    return 0;
}

/* Index of suite name, or -(insertion point) - 1. */
static long
model_find(const struct model *m, const char *name)
{
    size_t lo = 0, hi = m->nsuites;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->suites[mid].name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

/* The suite called name, created when missing; NULL when out of memory. */
static struct model_suite *
model_suite_get(struct model *m, const char *name)
{
    long at = model_find(m, name);
    size_t pos;

    if (at >= 0)
        return &m->suites[at];
    pos = (size_t)(-at - 1);
    if (m->nsuites == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct model_suite *s = realloc(m->suites, cap * sizeof *s);
        if (s == NULL)
            return NULL;
        m->suites = s;
        m->cap = cap;
    }
    memmove(&m->suites[pos + 1], &m->suites[pos],
            (m->nsuites - pos) * sizeof *m->suites);
    memset(&m->suites[pos], 0, sizeof m->suites[pos]);
    m->suites[pos].name = strdup(name);
    if (m->suites[pos].name == NULL) {
        memmove(&m->suites[pos], &m->suites[pos + 1],
                (m->nsuites - pos) * sizeof *m->suites);
        return NULL;
    }
    m->nsuites++;
    m->rows_dirty = 1;
    return &m->suites[pos];
}

/*
 * What a cell keeps of its latest result: id, time, status, auth path
 * and principal.  The matrix needs no more, and with 10,000 suites on
 * three paths every string saved counts; the detail view loads the full
 * row by id.
 */
static int
model_cell_set_last(struct model_cell *c, const struct result *r)
{
    char *principal = model_strdup(r->principal);

    if (r->principal != NULL && principal == NULL)
        return ERR_NOMEM;
    result_free(&c->last);
    c->last.id = r->id;
    c->last.received_ms = r->received_ms;
    c->last.status = r->status;
    c->last.auth = r->auth;
    c->last.principal = principal;
    c->present = 1;
    return 0;
}

/* One summary cell, applied in place unless the model has a newer one. */
static int
model_summary_cell(void *arg, json_t *o, struct err *err)
{
    struct model *m = arg;
    json_t *counts = json_object_get(o, "counts");
    const char *recent = json_string_value(json_object_get(o, "recent"));
    struct model_suite *s;
    struct model_cell *c;
    struct result r;
    int rc = 0;

    if (result_from_json(&r, json_object_get(o, "last"), err) != 0)
        return ERR_INVALID;
    if (!json_is_object(counts) || recent == NULL) {
        result_free(&r);
        return err_set(err, ERR_INVALID, "summary: %s: expected %s",
                       recent ? "counts" : "recent",
                       recent ? "an object" : "a string");
    }
    if (!model_wants(m, r.suite)) {
        result_free(&r);
        return 0;
    }
    s = model_suite_get(m, r.suite);
    if (s == NULL) {
        result_free(&r);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    c = &s->cell[r.auth];
    if (!c->present || c->last.id <= r.id) {
        for (int i = 0; i < RESULT_STATUS_COUNT; i++)
            c->counts[i] = json_integer_value(
                json_object_get(counts, result_status_name(i)));
        snprintf(c->recent, sizeof c->recent, "%s", recent);
        if (model_cell_set_last(c, &r) != 0)
            rc = err_set(err, ERR_NOMEM, "out of memory");
        m->rows_dirty = 1;
    }
    result_free(&r);
    return rc;
}

int
model_apply_summary(struct model *m, const char *text, size_t len,
                    struct err *err)
{
    int64_t last_id = 0;

    return summary_parse(text, len, model_summary_cell, m, &last_id, err);
}

/* Move a newer result into its cell: status, counts, recent strip. */
static int
model_cell_update(struct model *m, const struct result *r)
{
    struct model_suite *s = model_suite_get(m, r->suite);
    struct model_cell *c;
    size_t len;

    if (s == NULL)
        return ERR_NOMEM;
    c = &s->cell[r->auth];
    if (c->present && c->last.id >= r->id)
        return 0;
    if (model_cell_set_last(c, r) != 0)
        return ERR_NOMEM;
    c->counts[r->status]++;
    len = strlen(c->recent);
    if (len >= 20) {
        memmove(c->recent, c->recent + 1, len);
        len--;
    }
    c->recent[len] = "PFES"[r->status];
    c->recent[len + 1] = '\0';
    m->rows_dirty = 1;
    return 0;
}

static void
model_feed_push(struct model *m, struct result *r)
{
    struct result *slot = &m->feed[m->feed_head];

    result_free(slot);
    *slot = *r;
    memset(r, 0, sizeof *r);
    m->feed_head = (m->feed_head + 1) % MODEL_FEED_MAX;
    if (m->feed_n < MODEL_FEED_MAX)
        m->feed_n++;
    if (slot->id > m->feed_max_id)
        m->feed_max_id = slot->id;
    /* Keep the same line selected while new ones arrive above it. */
    if (m->feed_sel > 0 && m->feed_sel + 1 < m->feed_n)
        m->feed_sel++;
}

static int
model_result_id_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct result *)a)->id;
    int64_t y = ((const struct result *)b)->id;

    return x < y ? -1 : x > y;
}

int
model_apply_results(struct model *m, json_t *results, int reset,
                    struct err *err)
{
    size_t n = json_array_size(results), added = 0;
    struct result *rs;
    int rc = 0;

    if (!json_is_array(results))
        return err_set(err, ERR_INVALID, "results: expected an array");
    rs = calloc(n + 1, sizeof *rs);
    if (rs == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = result_from_json(&rs[i], json_array_get(results, i), err);
    if (rc == 0) {
        qsort(rs, n, sizeof *rs, model_result_id_cmp);
        if (reset)
            model_feed_clear(m);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!model_wants(m, rs[i].suite))
            continue;
        if (model_cell_update(m, &rs[i]) != 0) {
            rc = err_set(err, ERR_NOMEM, "out of memory");
            break;
        }
        if (rs[i].id > m->feed_max_id) {
            model_feed_push(m, &rs[i]);
            added++;
        }
    }
    for (size_t i = 0; i < n; i++)
        result_free(&rs[i]);
    free(rs);
    return rc != 0 ? rc : (int)added;
}

void
model_set_live(struct model *m, int64_t now_ms)
{
    m->conn = MODEL_LIVE;
    m->last_ok_ms = now_ms;
    m->reason[0] = '\0';
    m->retry_at_ms = 0;
}

void
model_set_stale(struct model *m, const char *reason, int64_t now_ms,
                int64_t retry_ms)
{
    m->conn = m->last_ok_ms > 0 ? MODEL_STALE : MODEL_CONNECTING;
    snprintf(m->reason, sizeof m->reason, "%s", reason);
    m->retry_at_ms = retry_ms;
    (void)now_ms;
}

static int
model_cell_failing(const struct model_cell *c)
{
    return c->present &&
           (c->last.status == RESULT_FAIL || c->last.status == RESULT_ERROR);
}

static int
model_suite_failing(const struct model_suite *s)
{
    int n = 0;

    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        n += model_cell_failing(&s->cell[a]);
    return n;
}

static int64_t
model_suite_changed(const struct model_suite *s)
{
    int64_t t = 0;

    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        if (s->cell[a].present && s->cell[a].last.received_ms > t)
            t = s->cell[a].last.received_ms;
    return t;
}

static int64_t
model_suite_failures(const struct model_suite *s)
{
    int64_t n = 0;

    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        n += s->cell[a].counts[RESULT_FAIL] + s->cell[a].counts[RESULT_ERROR];
    return n;
}

/* qsort has no context argument; the sort runs on the UI thread only. */
static const struct model *model_sorting;

static int
model_row_cmp(const void *a, const void *b)
{
    const struct model_suite *x = &model_sorting->suites[*(const size_t *)a];
    const struct model_suite *y = &model_sorting->suites[*(const size_t *)b];
    int64_t u, v;

    switch (model_sorting->sort) {
    case MODEL_SORT_CHANGED:
        u = model_suite_changed(x);
        v = model_suite_changed(y);
        if (u != v)
            return u > v ? -1 : 1;
        break;
    case MODEL_SORT_FAILURES:
        u = model_suite_failing(x);
        v = model_suite_failing(y);
        if (u == v) {
            u = model_suite_failures(x);
            v = model_suite_failures(y);
        }
        if (u != v)
            return u > v ? -1 : 1;
        break;
    default:
        break;
    }
    return strcmp(x->name, y->name);
}

void
model_refresh_rows(struct model *m)
{
    const char *selected = NULL;
    size_t n = 0;
    size_t *rows;

    if (!m->rows_dirty)
        return;
    if (m->sel_row < m->nrows)
        selected = m->suites[m->rows[m->sel_row]].name;
    rows = malloc((m->nsuites + 1) * sizeof *rows);
    if (rows == NULL)
        return; /* keep the old rows; the next change retries */
    for (size_t i = 0; i < m->nsuites; i++) {
        const struct model_suite *s = &m->suites[i];
        if (m->filter[0] != '\0' && strcasestr(s->name, m->filter) == NULL)
            continue;
        if (m->status_filter == MODEL_SHOW_FAILING && !model_suite_failing(s))
            continue;
        rows[n++] = i;
    }
    model_sorting = m;
    if (m->sort != MODEL_SORT_NAME)
        qsort(rows, n, sizeof *rows, model_row_cmp);
    model_sorting = NULL;
    /* The selection follows its suite (by name) across re-sorting. */
    m->sel_row = n > 0 && m->sel_row >= n ? n - 1 : m->sel_row;
    for (size_t i = 0; selected != NULL && i < n; i++)
        if (m->suites[rows[i]].name == selected)
            m->sel_row = i;
    free(m->rows);
    m->rows = rows;
    m->nrows = n;
    m->rows_dirty = 0;
}

const struct model_suite *
model_row(struct model *m, size_t i)
{
    model_refresh_rows(m);
    return i < m->nrows ? &m->suites[m->rows[i]] : NULL;
}

const struct result *
model_feed_at(const struct model *m, size_t i)
{
    if (i >= m->feed_n)
        return NULL;
    return &m->feed[(m->feed_head + MODEL_FEED_MAX - 1 - i) % MODEL_FEED_MAX];
}

int64_t
model_open_detail(struct model *m)
{
    const struct model_suite *s = NULL;
    const struct result *r = NULL;
    int full = 0;

    if (m->view == MODEL_VIEW_MATRIX) {
        s = model_row(m, m->sel_row);
        if (s != NULL && s->cell[m->sel_col].present)
            r = &s->cell[m->sel_col].last;
    } else if (m->view == MODEL_VIEW_FEED) {
        r = model_feed_at(m, m->feed_sel);
        full = 1;
    }
    if (r == NULL)
        return 0;
    result_free(&m->detail);
    if (model_result_copy(&m->detail, r, full) != 0)
        return 0;
    /* A cell's copy carries no suite: it is the row's name. */
    if (m->detail.suite == NULL && s != NULL &&
        (m->detail.suite = strdup(s->name)) == NULL)
        return 0;
    m->detail_set = 1;
    m->detail_scroll = 0;
    snprintf(m->detail_note, sizeof m->detail_note, "%s",
             full ? "" : "loading the full result...");
    m->back_view = m->view;
    m->view = MODEL_VIEW_DETAIL;
    return m->detail.id;
}

void
model_set_detail(struct model *m, struct result *r)
{
    result_free(&m->detail);
    m->detail = *r;
    memset(r, 0, sizeof *r);
    m->detail_set = 1;
    m->detail_note[0] = '\0';
}

void
model_totals(const struct model *m, int64_t out[RESULT_STATUS_COUNT])
{
    memset(out, 0, sizeof(int64_t) * RESULT_STATUS_COUNT);
    for (size_t i = 0; i < m->nsuites; i++)
        for (int a = 0; a < RESULT_AUTH_COUNT; a++)
            if (m->suites[i].cell[a].present)
                out[m->suites[i].cell[a].last.status]++;
}

int
model_any_failing(const struct model *m)
{
    for (size_t i = 0; i < m->nsuites; i++)
        if (model_suite_failing(&m->suites[i]))
            return 1;
    return 0;
}

const char *
model_sort_name(enum model_sort s)
{
    static const char *const names[] = {"name", "last change", "failures"};

    return s < MODEL_SORT_COUNT ? names[s] : "?";
}

void
model_age(int64_t ms, char *out, size_t n)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;

    if (s < 60)
        snprintf(out, n, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, n, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(out, n, "%lldh", (long long)(s / 3600));
    else
        snprintf(out, n, "%lldd", (long long)(s / 86400));
}

void
model_identity_line(const struct result *r, char *out, size_t n)
{
    const struct result_identity *id = &r->ident;

    if (r->auth == RESULT_AUTH_JWT && id->repository != NULL)
        snprintf(out, n, "%s (%s)", id->repository,
                 id->owner ? id->owner : "?");
    else if (r->auth == RESULT_AUTH_JWT)
        snprintf(out, n, "%s", id->subject ? id->subject : "?");
    else if (r->auth == RESULT_AUTH_IAM)
        snprintf(out, n, "%s",
                 id->principal_arn ? id->principal_arn
                 : id->caller_arn  ? id->caller_arn
                                   : "?");
    else if (id->user_agent != NULL)
        snprintf(out, n, "%s %s", id->source_addr ? id->source_addr : "?",
                 id->user_agent);
    else
        snprintf(out, n, "%s", id->source_addr ? id->source_addr : "?");
}

static size_t
model_count(struct model *m)
{
    model_refresh_rows(m);
    return m->view == MODEL_VIEW_FEED ? m->feed_n : m->nrows;
}

void
model_move(struct model *m, long delta)
{
    size_t n = model_count(m);
    size_t *sel = m->view == MODEL_VIEW_FEED ? &m->feed_sel : &m->sel_row;
    long v;

    if (m->view == MODEL_VIEW_DETAIL || m->view == MODEL_VIEW_HELP) {
        m->detail_scroll += (int)delta;
        if (m->detail_scroll < 0)
            m->detail_scroll = 0;
        return;
    }
    if (n == 0) {
        *sel = 0;
        return;
    }
    v = (long)*sel + delta;
    if (v < 0)
        v = 0;
    if (v >= (long)n)
        v = (long)n - 1;
    *sel = (size_t)v;
}

void
model_jump(struct model *m, int last)
{
    size_t n = model_count(m);

    if (m->view == MODEL_VIEW_DETAIL || m->view == MODEL_VIEW_HELP) {
        m->detail_scroll = last ? 1 << 20 : 0;
        return;
    }
    *(m->view == MODEL_VIEW_FEED ? &m->feed_sel : &m->sel_row) =
        last && n > 0 ? n - 1 : 0;
}
