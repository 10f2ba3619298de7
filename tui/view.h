/*
 * The views: each draws the model into a canvas (never the terminal
 * directly).  view_draw lays out the frame (header with totals, server
 * and connection state; view tabs; footer with key hints or the filter
 * prompt) and asks the current view for its body.
 */
#ifndef LABGATE_VIEW_H
#define LABGATE_VIEW_H

#include <stdint.h>

#include "canvas.h"
#include "model.h"

#define VIEW_MIN_W 60 /* below this the screen says it is too small */
#define VIEW_MIN_H 12
#define VIEW_BODY_TOP 2 /* first row of a view's body */

/* Draw the whole screen for m at now_ms (c sized by the caller). */
void view_draw(struct model *m, struct canvas *c, int64_t now_ms);

/*
 * A mouse click at row y, column x of a screen last drawn into c: select
 * the matrix cell or feed line there.  Returns 1 when the selection
 * changed, 0 otherwise.
 */
int view_click(struct model *m, const struct canvas *c, int y, int x);

/*
 * For --once: the rows needed to print the whole matrix (heading and one
 * row per suite), and drawing it into c (sized w x that many rows).
 */
int view_matrix_plain_rows(struct model *m);
void view_matrix_plain(struct model *m, struct canvas *c, int64_t now_ms);

/* Bodies, drawn between rows top and bottom (exclusive) of c. */
void view_matrix_body(struct model *m, struct canvas *c, int top, int bottom,
                      int64_t now_ms);
void view_feed_body(struct model *m, struct canvas *c, int top, int bottom);
void view_detail_body(struct model *m, struct canvas *c, int top, int bottom);
void view_help_body(struct model *m, struct canvas *c, int top, int bottom);

/* The colour role for a status. */
uint8_t view_status_role(enum result_status s);

/* "open", "jwt" or "iam": the auth path as the dashboard names it. */
const char *view_auth_label(enum result_auth a);

/* Matrix geometry for width w: suite column width and cell width. */
void view_matrix_columns(int w, int *suite_w, int *cell_w);

/* Keep sel visible in a window of n lines starting at *top. */
void view_scroll_into(size_t *top, size_t sel, int n);

#endif
