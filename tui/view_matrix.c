/*
 * The matrix: one row per suite, one column per auth path (open, JWT,
 * IAM).  A cell shows the latest status in its colour, pass/fail counts,
 * the age of the latest result and a strip of recent outcomes, newest on
 * the right; a path never posted on stays blank.  The selected cell is
 * drawn reversed.
 */
#include <stdio.h>
#include <string.h>

#include "view.h"

void
view_matrix_columns(int w, int *suite_w, int *cell_w)
{
    int sw = w / 4;

    if (sw < 12)
        sw = 12;
    if (sw > 40)
        sw = 40;
    *suite_w = sw;
    *cell_w = (w - sw - RESULT_AUTH_COUNT) / RESULT_AUTH_COUNT;
}

static uint8_t
view_letter_role(char l)
{
    switch (l) {
    case 'P':
        return CANVAS_PASS;
    case 'F':
        return CANVAS_FAIL | CANVAS_BOLD;
    case 'E':
        return CANVAS_ERROR | CANVAS_BOLD;
    default:
        return CANVAS_SKIP;
    }
}

static void
view_cell(struct canvas *c, int y, int x, int cw, const struct model_cell *cell,
          int selected, int64_t now)
{
    static const char *const words[RESULT_STATUS_COUNT] = {"pass", "FAIL",
                                                           "ERR!", "skip"};
    uint8_t rev = selected ? CANVAS_REVERSE : 0;
    char age[16], tail[64];
    int used, strip, len;

    canvas_fill(c, y, x, cw, rev);
    if (!cell->present)
        return;
    model_age(now - cell->last.received_ms, age, sizeof age);
    used = canvas_text(c, y, x, cw, view_status_role(cell->last.status) | rev,
                       words[cell->last.status]);
    snprintf(tail, sizeof tail, " %lld/%lld %s ",
             (long long)cell->counts[RESULT_PASS],
             (long long)cell->counts[RESULT_FAIL], age);
    used += canvas_text(c, y, x + used, cw - used, rev, tail);
    len = (int)strlen(cell->recent);
    strip = cw - used < len ? cw - used : len;
    for (int i = 0; i < strip; i++) {
        char l = cell->recent[len - strip + i];
        char s[2] = {l, '\0'};
        canvas_text(c, y, x + used + i, 1, view_letter_role(l) | rev, s);
    }
}

static void
view_matrix_heading(struct canvas *c, int y, int sw, int cw)
{
    static const char *const heads[RESULT_AUTH_COUNT] = {
        "OPEN (none)", "JWT (OIDC)", "IAM (SigV4)"};

    canvas_fill(c, y, 0, c->w, CANVAS_BOLD);
    canvas_text(c, y, 0, sw, CANVAS_BOLD, "SUITE");
    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        canvas_text(c, y, sw + 1 + a * (cw + 1), cw, CANVAS_BOLD, heads[a]);
}

static void
view_matrix_row(struct model *m, struct canvas *c, int y, size_t row,
                int64_t now, int interactive)
{
    const struct model_suite *s = model_row(m, row);
    int sw, cw, sel = interactive && row == m->sel_row;

    view_matrix_columns(c->w, &sw, &cw);
    canvas_text(c, y, 0, sw, sel ? CANVAS_BOLD | CANVAS_REVERSE : CANVAS_NORMAL,
                s->name);
    for (int a = 0; a < RESULT_AUTH_COUNT; a++)
        view_cell(c, y, sw + 1 + a * (cw + 1), cw, &s->cell[a],
                  sel && a == m->sel_col, now);
}

void
view_matrix_body(struct model *m, struct canvas *c, int top, int bottom,
                 int64_t now_ms)
{
    int sw, cw, lines = bottom - top - 1;

    view_matrix_columns(c->w, &sw, &cw);
    view_matrix_heading(c, top, sw, cw);
    model_refresh_rows(m);
    if (m->nrows == 0 && m->nsuites > 0) {
        canvas_text(c, top + 2, 2, c->w - 4, CANVAS_DIM,
                    "No suite matches the filter (Esc clears it, f shows "
                    "all).");
        return;
    }
    if (m->nrows == 0) {
        canvas_text(c, top + 2, 2, c->w - 4, CANVAS_DIM,
                    "No results yet. Post one:");
        canvas_printf(c, top + 3, 2, c->w - 4, CANVAS_DIM,
                      "curl -H 'content-type: application/json' -d "
                      "'{\"suite\":\"ci\",\"status\":\"pass\"}' %s/lab/results",
                      m->server_url);
        return;
    }
    view_scroll_into(&m->top_row, m->sel_row, lines);
    for (int i = 0; i < lines && m->top_row + (size_t)i < m->nrows; i++)
        view_matrix_row(m, c, top + 1 + i, m->top_row + (size_t)i, now_ms, 1);
}

int
view_matrix_plain_rows(struct model *m)
{
    model_refresh_rows(m);
    return (int)m->nrows + 2;
}

void
view_matrix_plain(struct model *m, struct canvas *c, int64_t now_ms)
{
    int64_t t[RESULT_STATUS_COUNT];
    int sw, cw;

    canvas_clear(c);
    model_totals(m, t);
    canvas_printf(c, 0, 0, c->w, CANVAS_BOLD,
                  "labgate %s: %zu suites, pass %lld, fail %lld, error %lld, "
                  "skip %lld",
                  m->server_url, m->nsuites, (long long)t[RESULT_PASS],
                  (long long)t[RESULT_FAIL], (long long)t[RESULT_ERROR],
                  (long long)t[RESULT_SKIP]);
    view_matrix_columns(c->w, &sw, &cw);
    view_matrix_heading(c, 1, sw, cw);
    for (size_t i = 0; i < m->nrows && (int)i + 2 < c->h; i++)
        view_matrix_row(m, c, (int)i + 2, i, now_ms, 0);
}
