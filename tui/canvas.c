/*
 * The canvas is a flat array of w*h cells, row after row.  A wide
 * character takes its cell and the next one, which holds code point 0;
 * drawing over half of a wide character blanks the other half so the
 * grid never holds a broken pair.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"
#include "err.h"
#include "sanitize.h"

#define CANVAS_TEXT_MAX 4096

int
canvas_resize(struct canvas *c, int w, int h)
{
    struct canvas_cell *cells;

    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    cells = calloc((size_t)w * (size_t)h, sizeof *cells);
    if (cells == NULL)
        return ERR_NOMEM;
    free(c->cells);
    c->cells = cells;
    c->w = w;
    c->h = h;
    canvas_clear(c);
    return 0;
}

void
canvas_free(struct canvas *c)
{
    free(c->cells);
    c->cells = NULL;
    c->w = c->h = 0;
}

void
canvas_clear(struct canvas *c)
{
    for (int i = 0; i < c->w * c->h; i++) {
        c->cells[i].ch = ' ';
        c->cells[i].attr = CANVAS_NORMAL;
    }
}

static struct canvas_cell *
canvas_at(struct canvas *c, int y, int x)
{
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

/* Put one code point; a wide one takes two cells. */
static void
canvas_put(struct canvas *c, int y, int x, uint32_t cp, int w, uint8_t a)
{
    struct canvas_cell *cell = canvas_at(c, y, x);

    if (cell->ch == 0 && x > 0)
        canvas_at(c, y, x - 1)->ch = ' ';
    if (x + 1 < c->w && canvas_at(c, y, x + 1)->ch == 0 && w < 2)
        canvas_at(c, y, x + 1)->ch = ' ';
    cell->ch = cp;
    cell->attr = a;
    if (w == 2) {
        cell[1].ch = 0;
        cell[1].attr = a;
        if (x + 2 < c->w && cell[2].ch == 0)
            cell[2].ch = ' ';
    }
}

void
canvas_fill(struct canvas *c, int y, int x, int n, uint8_t attr)
{
    if (y < 0 || y >= c->h)
        return;
    for (int i = x < 0 ? 0 : x; i < x + n && i < c->w; i++)
        canvas_put(c, y, i, ' ', 1, attr);
}

int
canvas_text(struct canvas *c, int y, int x, int maxw, uint8_t attr,
            const char *text)
{
    char safe[CANVAS_TEXT_MAX];
    const unsigned char *p = (const unsigned char *)safe;
    size_t left;
    int col = x;

    if (y < 0 || y >= c->h || x < 0 || x >= c->w)
        return 0;
    if (maxw > c->w - x)
        maxw = c->w - x;
    sanitize_str(text, safe, sizeof safe, maxw, c->ascii);
    left = strlen(safe);
    while (left > 0) {
        uint32_t cp;
        size_t used = sanitize_utf8_decode(p, left, &cp);
        int w;
        if (used == 0)
            break; /* cannot happen: the sanitiser wrote valid UTF-8 */
        w = sanitize_cp_width(cp);
        if (w == 0 && col > x) {
            /* Combining marks are dropped: curses cells hold one. */
        } else if (w > 0 && col + w <= x + maxw) {
            canvas_put(c, y, col, cp, w, attr);
            col += w;
        }
        p += used;
        left -= used;
    }
    return col - x;
}

int
canvas_printf(struct canvas *c, int y, int x, int maxw, uint8_t attr,
              const char *fmt, ...)
{
    char text[CANVAS_TEXT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return canvas_text(c, y, x, maxw, attr, text);
}

static size_t
canvas_row(const struct canvas *c, int y, char *out, size_t n, int ansi)
{
    static const char *const sgr[CANVAS_ROLE_COUNT] = {"",   "32", "31", "35",
                                                       "90", "1",  "2",  "33"};
    size_t len = 0, keep = 0;
    int cur = -1;

    if (n == 0)
        return 0;
    for (int x = 0; y >= 0 && y < c->h && x < c->w; x++) {
        const struct canvas_cell *cell = &c->cells[(size_t)y * c->w + x];
        char tmp[64];
        size_t tl = 0;
        if (cell->ch == 0)
            continue;
        if (ansi && cell->attr != cur) {
            int role = cell->attr & CANVAS_ROLE_MASK;
            tl = (size_t)snprintf(tmp, sizeof tmp, "\x1b[0%s%s%s%sm",
                                  sgr[role][0] ? ";" : "", sgr[role],
                                  cell->attr & CANVAS_BOLD ? ";1" : "",
                                  cell->attr & CANVAS_REVERSE ? ";7" : "");
            cur = cell->attr;
        }
        tl += sanitize_utf8_encode(cell->ch, tmp + tl);
        if (len + tl + 5 >= n)
            break;
        memcpy(out + len, tmp, tl);
        len += tl;
        if (cell->ch != ' ' || (cell->attr & CANVAS_REVERSE))
            keep = len;
    }
    if (ansi && cur > 0) {
        keep = len;
        memcpy(out + keep, "\x1b[0m", 4);
        keep += 4;
    }
    out[keep] = '\0';
    return keep;
}

size_t
canvas_row_text(const struct canvas *c, int y, char *out, size_t n)
{
    return canvas_row(c, y, out, n, 0);
}

size_t
canvas_row_ansi(const struct canvas *c, int y, char *out, size_t n)
{
    return canvas_row(c, y, out, n, 1);
}
