/*
 * Keys.  A table maps each key to an action on the model; an action
 * returns what changed as INPUT_* flags and the main loop acts on them
 * (redraw, quit, tell the follower to reconnect or pause, fetch a
 * detail), as htop's actions do.  No drawing happens here.
 */
#ifndef LABGATE_INPUT_H
#define LABGATE_INPUT_H

#include "model.h"

enum input_flags {
    INPUT_REDRAW = 1 << 0,
    INPUT_QUIT = 1 << 1,
    INPUT_RECONNECT = 1 << 2,
    INPUT_PAUSE = 1 << 3, /* m->paused changed */
    INPUT_DETAIL = 1 << 4 /* fetch m->detail.id in full */
};

/* One line of the key reference, shared by ? and --help. */
struct input_help {
    const char *keys;
    const char *what;
};

/* The key reference, terminated by an entry with NULL keys. */
extern const struct input_help input_help[];

/*
 * Apply key (a curses key code or character) to m; page is the number of
 * lines a page moves.  Returns INPUT_* flags (0: the key did nothing).
 */
unsigned input_key(struct model *m, int key, int page);

#endif
