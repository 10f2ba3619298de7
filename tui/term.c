/*
 * Terminal setup and guaranteed teardown.  The restore sequences
 * (leave the alternate screen, show the cursor, reset attributes, stop
 * mouse reporting) are captured from terminfo at start into a static
 * buffer, and the terminal modes are saved with tcgetattr, so that a
 * crash handler can restore both with write(2) and tcsetattr(3), which
 * are async-signal-safe, without calling into curses.
 */
#include <curses.h>
#include <langinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

#define TERM_RESTORE_MAX 256

static volatile sig_atomic_t term_signal;
static int term_active;
static int term_color;
static struct termios term_saved;
static int term_saved_ok;
static char term_restore[TERM_RESTORE_MAX];
static size_t term_restore_len;

static void
term_restore_add(const char *s)
{
    size_t n;

    if (s == NULL || s == (char *)-1)
        return;
    n = strlen(s);
    if (term_restore_len + n < sizeof term_restore) {
        memcpy(term_restore + term_restore_len, s, n);
        term_restore_len += n;
    }
}

static void
term_on_quit(int sig)
{
    term_signal = sig;
}

static void
term_on_crash(int sig)
{
    if (term_active) {
        if (write(STDOUT_FILENO, term_restore, term_restore_len) < 0) {
            /* Nothing more can be done from a crash handler. */
        }
        if (term_saved_ok)
            tcsetattr(STDIN_FILENO, TCSANOW, &term_saved);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
term_signals(void)
{
    static const int quit[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    static const int crash[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = term_on_quit; /* no SA_RESTART: poll() wakes up */
    for (size_t i = 0; i < sizeof quit / sizeof quit[0]; i++)
        sigaction(quit[i], &sa, NULL);
    sa.sa_handler = term_on_crash;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
        sigaction(crash[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
term_colors(void)
{
    short grey = COLORS >= 16 ? 8 : COLOR_WHITE;

    start_color();
    use_default_colors();
    init_pair(CANVAS_PASS, COLOR_GREEN, -1);
    init_pair(CANVAS_FAIL, COLOR_RED, -1);
    init_pair(CANVAS_ERROR, COLOR_MAGENTA, -1);
    init_pair(CANVAS_SKIP, grey, -1);
    init_pair(CANVAS_HEADER, COLOR_BLACK, COLOR_CYAN);
    init_pair(CANVAS_DIM, grey, -1);
    init_pair(CANVAS_STALE, COLOR_YELLOW, -1);
}

int
term_start(int color, struct err *err)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return err_set(err, ERR_IO,
                       "stdin and stdout must be a terminal "
                       "(use --once for plain output)");
    term_saved_ok = tcgetattr(STDIN_FILENO, &term_saved) == 0;
    term_signals();
    if (initscr() == NULL)
        return err_set(err, ERR_IO, "cannot start curses for TERM=%s",
                       getenv("TERM") ? getenv("TERM") : "(unset)");
    term_active = 1;
    term_restore_add(tigetstr("rmcup"));
    term_restore_add(tigetstr("sgr0"));
    term_restore_add(tigetstr("cnorm"));
    term_restore_add("\033[?1000l\033[?1002l\033[?1006l");
    atexit(term_stop);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(50);
    curs_set(0);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL);
    mouseinterval(0);
    term_color = color && has_colors();
    if (term_color)
        term_colors();
    return 0;
}

void
term_stop(void)
{
    if (!term_active)
        return;
    term_active = 0;
    mousemask(0, NULL);
    curs_set(1);
    endwin();
    if (term_saved_ok)
        tcsetattr(STDIN_FILENO, TCSANOW, &term_saved);
}

void
term_size(int *w, int *h)
{
    getmaxyx(stdscr, *h, *w);
}

static attr_t
term_attr(uint8_t a, short *pair)
{
    int role = a & CANVAS_ROLE_MASK;
    attr_t out = A_NORMAL;

    *pair = 0;
    if (a & CANVAS_BOLD)
        out |= A_BOLD;
    if (a & CANVAS_REVERSE)
        out |= A_REVERSE;
    if (term_color && role != CANVAS_NORMAL) {
        *pair = (short)role;
        return out;
    }
    /* Without colour, roles fall back to attributes. */
    if (role == CANVAS_HEADER)
        out |= A_REVERSE;
    else if (role == CANVAS_DIM || role == CANVAS_SKIP)
        out |= A_DIM;
    else if (role == CANVAS_STALE || role == CANVAS_FAIL ||
             role == CANVAS_ERROR)
        out |= A_BOLD;
    return out;
}

void
term_draw(const struct canvas *c)
{
    int w, h;

    term_size(&w, &h);
    for (int y = 0; y < c->h && y < h; y++) {
        for (int x = 0; x < c->w && x < w; x++) {
            const struct canvas_cell *cell = &c->cells[(size_t)y * c->w + x];
            wchar_t wc[2] = {(wchar_t)cell->ch, 0};
            cchar_t cc;
            short pair;
            attr_t a;
            if (cell->ch == 0)
                continue;
            a = term_attr(cell->attr, &pair);
            setcchar(&cc, wc, a, pair, NULL);
            mvadd_wch(y, x, &cc);
        }
    }
    wnoutrefresh(stdscr);
    doupdate();
}

int
term_quit_signal(void)
{
    return term_signal;
}

int
term_locale_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);

    return cs != NULL && strcmp(cs, "UTF-8") == 0;
}
