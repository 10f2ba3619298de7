/*
 * The key table.  Keys follow htop, k9s and lazygit: arrows and j/k,
 * g/G, PgUp/PgDn, Enter, Esc back, Tab and 1 2 3 for views, / filter,
 * f failing only, s sort, p pause, r reconnect, ? help, q quit.  While
 * the filter prompt is open, printable keys edit the filter instead.
 */
#include <curses.h>
#include <string.h>

#include "input.h"

#define INPUT_ESC 27

const struct input_help input_help[] = {
    {"Up/Down j/k", "move the selection (scroll in detail and help)"},
    {"Left/Right h/l", "move between auth paths in the matrix"},
    {"g / G", "first / last row"},
    {"PgUp / PgDn", "one page up / down"},
    {"Enter", "detail of the selected cell or feed line (audit record)"},
    {"Esc", "back (from detail or help); clears the filter"},
    {"Tab", "next view: matrix, feed, detail"},
    {"1 2 3", "matrix, feed, detail"},
    {"/", "filter suites by name (Enter keeps, Esc clears)"},
    {"f", "cycle status filter: all / failing only"},
    {"s", "cycle sort: name, last change, failures"},
    {"p", "pause / resume live updates"},
    {"r", "reconnect now"},
    {"?", "this help"},
    {"q", "quit"},
    {NULL, NULL},
};

typedef unsigned (*input_action)(struct model *m, int page);

static unsigned
input_view(struct model *m, enum model_view v)
{
    if (m->view == v)
        return 0;
    if (v == MODEL_VIEW_HELP)
        m->help_prev = m->view == MODEL_VIEW_HELP ? m->help_prev : (int)m->view;
    m->view = v;
    m->detail_scroll = v == MODEL_VIEW_HELP ? 0 : m->detail_scroll;
    return INPUT_REDRAW;
}

static unsigned
input_down(struct model *m, int page)
{
    model_move(m, 1);
    return INPUT_REDRAW;
}

static unsigned
input_up(struct model *m, int page)
{
    model_move(m, -1);
    return INPUT_REDRAW;
}

static unsigned
input_page_down(struct model *m, int page)
{
    model_move(m, page > 1 ? page : 1);
    return INPUT_REDRAW;
}

static unsigned
input_page_up(struct model *m, int page)
{
    model_move(m, -(page > 1 ? page : 1));
    return INPUT_REDRAW;
}

static unsigned
input_first(struct model *m, int page)
{
    model_jump(m, 0);
    return INPUT_REDRAW;
}

static unsigned
input_last(struct model *m, int page)
{
    model_jump(m, 1);
    return INPUT_REDRAW;
}

static unsigned
input_left(struct model *m, int page)
{
    if (m->view != MODEL_VIEW_MATRIX || m->sel_col == 0)
        return 0;
    m->sel_col--;
    return INPUT_REDRAW;
}

static unsigned
input_right(struct model *m, int page)
{
    if (m->view != MODEL_VIEW_MATRIX || m->sel_col + 1 >= RESULT_AUTH_COUNT)
        return 0;
    m->sel_col++;
    return INPUT_REDRAW;
}

static unsigned
input_enter(struct model *m, int page)
{
    if (m->view != MODEL_VIEW_MATRIX && m->view != MODEL_VIEW_FEED)
        return 0;
    if (model_open_detail(m) == 0)
        return 0;
    return INPUT_REDRAW | (m->detail.payload == NULL ? INPUT_DETAIL : 0);
}

static unsigned
input_escape(struct model *m, int page)
{
    if (m->view == MODEL_VIEW_HELP)
        return input_view(m, (enum model_view)m->help_prev);
    if (m->view == MODEL_VIEW_DETAIL)
        return input_view(m, m->back_view);
    if (m->filter[0] != '\0') {
        m->filter[0] = '\0';
        m->rows_dirty = 1;
        return INPUT_REDRAW;
    }
    return 0;
}

static unsigned
input_tab(struct model *m, int page)
{
    enum model_view next[] = {MODEL_VIEW_FEED, MODEL_VIEW_DETAIL,
                              MODEL_VIEW_MATRIX, MODEL_VIEW_MATRIX};

    return input_view(m, next[m->view]);
}

static unsigned
input_matrix(struct model *m, int page)
{
    return input_view(m, MODEL_VIEW_MATRIX);
}

static unsigned
input_feed(struct model *m, int page)
{
    return input_view(m, MODEL_VIEW_FEED);
}

static unsigned
input_detail(struct model *m, int page)
{
    if (m->view == MODEL_VIEW_MATRIX || m->view == MODEL_VIEW_FEED)
        m->back_view = m->view;
    return input_view(m, MODEL_VIEW_DETAIL);
}

static unsigned
input_help_key(struct model *m, int page)
{
    if (m->view == MODEL_VIEW_HELP)
        return input_view(m, (enum model_view)m->help_prev);
    return input_view(m, MODEL_VIEW_HELP);
}

static unsigned
input_filter(struct model *m, int page)
{
    m->editing_filter = 1;
    if (m->view != MODEL_VIEW_MATRIX)
        input_view(m, MODEL_VIEW_MATRIX);
    return INPUT_REDRAW;
}

static unsigned
input_failing(struct model *m, int page)
{
    m->status_filter = m->status_filter == MODEL_SHOW_ALL ? MODEL_SHOW_FAILING
                                                          : MODEL_SHOW_ALL;
    m->rows_dirty = 1;
    return INPUT_REDRAW;
}

static unsigned
input_sort(struct model *m, int page)
{
    m->sort = (enum model_sort)((m->sort + 1) % MODEL_SORT_COUNT);
    m->rows_dirty = 1;
    return INPUT_REDRAW;
}

static unsigned
input_pause(struct model *m, int page)
{
    m->paused = !m->paused;
    return INPUT_REDRAW | INPUT_PAUSE;
}

static unsigned
input_reconnect(struct model *m, int page)
{
    return INPUT_REDRAW | INPUT_RECONNECT;
}

static unsigned
input_quit(struct model *m, int page)
{
    return INPUT_QUIT;
}

static const struct {
    int key;
    input_action act;
} input_table[] = {
    {KEY_DOWN, input_down},
    {'j', input_down},
    {KEY_UP, input_up},
    {'k', input_up},
    {KEY_LEFT, input_left},
    {'h', input_left},
    {KEY_RIGHT, input_right},
    {'l', input_right},
    {'g', input_first},
    {KEY_HOME, input_first},
    {'G', input_last},
    {KEY_END, input_last},
    {KEY_NPAGE, input_page_down},
    {KEY_PPAGE, input_page_up},
    {'\n', input_enter},
    {'\r', input_enter},
    {KEY_ENTER, input_enter},
    {INPUT_ESC, input_escape},
    {'\t', input_tab},
    {'1', input_matrix},
    {'2', input_feed},
    {'3', input_detail},
    {'?', input_help_key},
    {'/', input_filter},
    {'f', input_failing},
    {'s', input_sort},
    {'p', input_pause},
    {'r', input_reconnect},
    {'q', input_quit},
};

/* Keys while the filter prompt is open. */
static unsigned
input_filter_key(struct model *m, int key)
{
    size_t len = strlen(m->filter);

    if (key == INPUT_ESC) {
        m->filter[0] = '\0';
        m->editing_filter = 0;
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        m->editing_filter = 0;
    } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        if (len > 0)
            m->filter[len - 1] = '\0';
    } else if (key >= 0x20 && key < 0x7f && len + 1 < sizeof m->filter) {
        m->filter[len] = (char)key;
        m->filter[len + 1] = '\0';
    } else {
        return 0;
    }
    m->rows_dirty = 1;
    m->sel_row = 0;
    return INPUT_REDRAW;
}

unsigned
input_key(struct model *m, int key, int page)
{
    if (m->editing_filter)
        return input_filter_key(m, key);
    for (size_t i = 0; i < sizeof input_table / sizeof input_table[0]; i++)
        if (input_table[i].key == key)
            return input_table[i].act(m, page);
    return 0;
}
