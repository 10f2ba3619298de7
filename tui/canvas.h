/*
 * A canvas: the screen as a grid of cells that the views draw into.  It
 * keeps drawing apart from the terminal, so views are unit-tested by
 * reading cells back, --once prints a canvas as plain text, and term.c
 * copies it to curses in one pass.  Every text that reaches a canvas goes
 * through the sanitiser, so no view can write raw outside data.
 */
#ifndef LABGATE_CANVAS_H
#define LABGATE_CANVAS_H

#include <stddef.h>
#include <stdint.h>

/* The colour role of a cell, in its low bits; flags above. */
enum canvas_role {
    CANVAS_NORMAL,
    CANVAS_PASS,
    CANVAS_FAIL,
    CANVAS_ERROR,
    CANVAS_SKIP,
    CANVAS_HEADER,
    CANVAS_DIM,
    CANVAS_STALE,
    CANVAS_ROLE_COUNT
};

#define CANVAS_ROLE_MASK 0x0f
#define CANVAS_REVERSE 0x10
#define CANVAS_BOLD 0x20

struct canvas_cell {
    uint32_t ch;  /* code point; 0 marks the right half of a wide one */
    uint8_t attr; /* enum canvas_role | CANVAS_REVERSE | CANVAS_BOLD */
};

struct canvas {
    int w, h;
    int ascii; /* draw ASCII only (the locale is not UTF-8) */
    struct canvas_cell *cells;
};

/*
 * Size c to w x h blank cells (w, h >= 1).  Returns 0 or ERR_NOMEM (c
 * keeps its old size).  Free with canvas_free.
 */
int canvas_resize(struct canvas *c, int w, int h);

void canvas_free(struct canvas *c);

/* Blank every cell. */
void canvas_clear(struct canvas *c);

/* Fill columns [x, x+n) of row y with spaces of attr. */
void canvas_fill(struct canvas *c, int y, int x, int n, uint8_t attr);

/*
 * Draw text (untrusted; sanitised here, cut with an ellipsis) at row y,
 * column x, in at most maxw columns.  Returns the columns used.
 */
int canvas_text(struct canvas *c, int y, int x, int maxw, uint8_t attr,
                const char *text);

/* canvas_text with printf formatting. */
int canvas_printf(struct canvas *c, int y, int x, int maxw, uint8_t attr,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Row y as UTF-8 text into out (size n, NUL-terminated), trailing blanks
 * removed.  Returns the length.
 */
size_t canvas_row_text(const struct canvas *c, int y, char *out, size_t n);

/*
 * Row y as text with ANSI colour codes (SGR) for roles, for --once on a
 * colour terminal.  Returns the length.
 */
size_t canvas_row_ansi(const struct canvas *c, int y, char *out, size_t n);

#endif
