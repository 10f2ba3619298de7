/*
 * The terminal: curses setup, drawing a canvas, and teardown that runs
 * on every way out.  term_stop is idempotent and registered with atexit;
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT only set a flag the main loop
 * checks (so the normal teardown runs); crash signals (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT) write the terminal's restore sequences and
 * saved modes with async-signal-safe calls, then die with the signal.
 */
#ifndef LABGATE_TERM_H
#define LABGATE_TERM_H

#include "canvas.h"
#include "err.h"

/*
 * Start curses on the controlling terminal.  color: use colours when the
 * terminal has them (callers pass 0 for NO_COLOR).  Returns 0, or ERR_IO
 * when stdin/stdout is not a terminal or curses cannot start.
 */
int term_start(int color, struct err *err);

/* Restore the terminal (safe to call twice or before term_start). */
void term_stop(void);

/* Current size in columns and rows. */
void term_size(int *w, int *h);

/* Copy c to the screen and update it. */
void term_draw(const struct canvas *c);

/* The quit signal received so far (SIGINT, ...), or 0. */
int term_quit_signal(void);

/*
 * Whether the locale's character set is UTF-8 (after setlocale).  When it
 * is not, the dashboard draws ASCII only.
 */
int term_locale_utf8(void);

#endif
