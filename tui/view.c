/*
 * The frame around every view: header (title, server, connection state,
 * totals), a line with the view tabs and the sort and filter in force,
 * the body, and a footer with key hints or the filter prompt.  Screens
 * below VIEW_MIN_W x VIEW_MIN_H show only a message saying so.
 */
#include <stdio.h>
#include <string.h>

#include "view.h"

uint8_t
view_status_role(enum result_status s)
{
    static const uint8_t roles[RESULT_STATUS_COUNT] = {
        CANVAS_PASS, CANVAS_FAIL | CANVAS_BOLD, CANVAS_ERROR | CANVAS_BOLD,
        CANVAS_SKIP};

    return s < RESULT_STATUS_COUNT ? roles[s] : CANVAS_NORMAL;
}

const char *
view_auth_label(enum result_auth a)
{
    static const char *const labels[RESULT_AUTH_COUNT] = {"open", "jwt", "iam"};

    return (int)a < RESULT_AUTH_COUNT ? labels[a] : "?";
}

void
view_scroll_into(size_t *top, size_t sel, int n)
{
    if (n < 1)
        n = 1;
    if (sel < *top)
        *top = sel;
    if (sel >= *top + (size_t)n)
        *top = sel - (size_t)n + 1;
}

static int
view_conn(const struct model *m, struct canvas *c, int x, int64_t now)
{
    char age[16], retry[16];
    int64_t wait = m->retry_at_ms - now;

    model_age(wait < 0 ? 0 : wait + 999, retry, sizeof retry);
    if (m->paused)
        return canvas_text(c, 0, x, c->w - x, CANVAS_STALE | CANVAS_REVERSE,
                           " PAUSED (p resumes) ");
    if (m->conn == MODEL_LIVE)
        return canvas_text(c, 0, x, c->w - x, CANVAS_PASS | CANVAS_BOLD,
                           c->ascii ? "* live" : "\xe2\x97\x8f live");
    if (m->conn == MODEL_CONNECTING)
        return canvas_printf(c, 0, x, c->w - x, CANVAS_STALE,
                             "connecting%s%s%s%s", m->reason[0] ? ": " : "",
                             m->reason, m->reason[0] ? ", retry in " : "",
                             m->reason[0] ? retry : "");
    model_age(now - m->last_ok_ms, age, sizeof age);
    return canvas_printf(c, 0, x, c->w - x, CANVAS_STALE | CANVAS_REVERSE,
                         " STALE %s: %s, retry in %s ", age, m->reason, retry);
}

static void
view_header(struct model *m, struct canvas *c, int64_t now)
{
    int64_t t[RESULT_STATUS_COUNT];
    int x = 0;

    canvas_fill(c, 0, 0, c->w, CANVAS_HEADER);
    x += canvas_text(c, 0, x, c->w, CANVAS_HEADER | CANVAS_BOLD, "labgate ");
    if (m->title != NULL)
        x += canvas_printf(c, 0, x, c->w - x, CANVAS_STALE | CANVAS_REVERSE,
                           " %s ", m->title) +
             1;
    x += canvas_printf(c, 0, x, c->w - x, CANVAS_HEADER, "%s ", m->server_url);
    x += view_conn(m, c, x, now) + 1;
    model_totals(m, t);
    x += canvas_printf(c, 0, x, c->w - x, CANVAS_HEADER, " %zu suites ",
                       m->nsuites);
    for (int s = 0; s < RESULT_STATUS_COUNT && x < c->w; s++)
        x += canvas_printf(c, 0, x, c->w - x, view_status_role(s), "%s %lld ",
                           result_status_name(s), (long long)t[s]);
}

static void
view_tabs(struct model *m, struct canvas *c)
{
    static const char *const names[] = {"1 Matrix", "2 Feed", "3 Detail"};
    int x = 0;

    for (int i = 0; i < 3; i++) {
        int on = (int)m->view == i ||
                 (m->view == MODEL_VIEW_HELP && i == m->help_prev);
        x += canvas_printf(c, 1, x, c->w - x,
                           on ? CANVAS_REVERSE | CANVAS_BOLD : CANVAS_DIM,
                           " %s ", names[i]) +
             1;
    }
    x += canvas_printf(c, 1, x + 1, c->w - x - 1, CANVAS_DIM,
                       "sort: %s  show: %s", model_sort_name(m->sort),
                       m->status_filter == MODEL_SHOW_FAILING ? "failing"
                                                              : "all") +
         1;
    if (m->filter[0] != '\0')
        canvas_printf(c, 1, x + 2, c->w - x - 2, CANVAS_BOLD, "filter: %s",
                      m->filter);
}

/* Key hints as "key label" pairs, keys bold, packed to fit. */
static void
view_hints(struct canvas *c, int y, const char *const *pairs)
{
    int len = 0, gap = 2, x = 0, n = 0;

    for (; pairs[n] != NULL; n += 2)
        len += (int)strlen(pairs[n]) + 1 + (int)strlen(pairs[n + 1]) + gap;
    if (len - gap > c->w)
        gap = 1;
    for (int i = 0; i < n && x < c->w; i += 2) {
        x += canvas_text(c, y, x, c->w - x, CANVAS_HEADER | CANVAS_BOLD,
                         pairs[i]);
        x += canvas_printf(c, y, x, c->w - x, CANVAS_HEADER, " %s",
                           pairs[i + 1]) +
             gap;
    }
}

static void
view_footer(struct model *m, struct canvas *c)
{
    static const char *const list[] = {
        /* Tab is left out to fit 80 columns; ? lists it. */
        "Enter", "detail", "/", "filter", "f", "failing",
        "s",     "sort",   "p", "pause",  "r", "reconnect",
        "?",     "help",   "q", "quit",   NULL};
    static const char *const detail[] = {
        "Esc",   "back", "j/k",  "scroll", "g/G",  "top/end", "1 2 3",
        "views", "?",    "help", "q",      "quit", NULL};
    int y = c->h - 1;

    canvas_fill(c, y, 0, c->w, CANVAS_HEADER);
    if (m->editing_filter) {
        canvas_printf(c, y, 0, c->w, CANVAS_HEADER | CANVAS_BOLD,
                      "/%s_   Enter keeps the filter, Esc clears it",
                      m->filter);
        return;
    }
    view_hints(c, y,
               m->view == MODEL_VIEW_DETAIL || m->view == MODEL_VIEW_HELP
                   ? detail
                   : list);
}

static void
view_too_small(struct canvas *c)
{
    canvas_printf(c, 0, 0, c->w, CANVAS_STALE | CANVAS_BOLD,
                  "Terminal too small: %dx%d.", c->w, c->h);
    canvas_printf(c, 1, 0, c->w, CANVAS_NORMAL,
                  "Needs at least %dx%d; q quits.", VIEW_MIN_W, VIEW_MIN_H);
}

void
view_draw(struct model *m, struct canvas *c, int64_t now_ms)
{
    int bottom = c->h - 1;

    canvas_clear(c);
    if (c->w < VIEW_MIN_W || c->h < VIEW_MIN_H) {
        view_too_small(c);
        return;
    }
    view_header(m, c, now_ms);
    view_tabs(m, c);
    switch (m->view) {
    case MODEL_VIEW_MATRIX:
        view_matrix_body(m, c, VIEW_BODY_TOP, bottom, now_ms);
        break;
    case MODEL_VIEW_FEED:
        view_feed_body(m, c, VIEW_BODY_TOP, bottom);
        break;
    case MODEL_VIEW_DETAIL:
        view_detail_body(m, c, VIEW_BODY_TOP, bottom);
        break;
    case MODEL_VIEW_HELP:
        view_help_body(m, c, VIEW_BODY_TOP, bottom);
        break;
    }
    view_footer(m, c);
}

int
view_click(struct model *m, const struct canvas *c, int y, int x)
{
    int line = y - VIEW_BODY_TOP - 1, sw, cw;

    if (c->w < VIEW_MIN_W || c->h < VIEW_MIN_H || line < 0 || y >= c->h - 1)
        return 0;
    if (m->view == MODEL_VIEW_MATRIX) {
        size_t row = m->top_row + (size_t)line;
        model_refresh_rows(m);
        if (row >= m->nrows)
            return 0;
        view_matrix_columns(c->w, &sw, &cw);
        m->sel_row = row;
        if (x > sw)
            m->sel_col = (x - sw - 1) / (cw + 1) < RESULT_AUTH_COUNT
                             ? (x - sw - 1) / (cw + 1)
                             : RESULT_AUTH_COUNT - 1;
        return 1;
    }
    if (m->view == MODEL_VIEW_FEED && m->feed_top + (size_t)line < m->feed_n) {
        m->feed_sel = m->feed_top + (size_t)line;
        return 1;
    }
    return 0;
}
