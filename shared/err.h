/*
 * Error codes and the reason-carrying error struct shared by every module.
 *
 * Functions return 0 on success or a negative ERR_* code; when they take a
 * struct err they also leave a human-readable reason in it.  The reason is
 * meant for users (HTTP error bodies, CLI messages), so it never holds a
 * secret.
 */
#ifndef LABGATE_ERR_H
#define LABGATE_ERR_H

enum err_code {
    ERR_OK = 0,
    ERR_INVALID = -1,     /* bad input: a field, a flag, a config key */
    ERR_NOMEM = -2,       /* allocation failed */
    ERR_IO = -3,          /* file, socket or database I/O failed */
    ERR_NOTFOUND = -4,    /* the thing asked for does not exist */
    ERR_BUSY = -5,        /* temporarily unavailable; retry later */
    ERR_TOOBIG = -6,      /* input over a configured limit */
    ERR_UNSUPPORTED = -7, /* a feature that is not implemented */
    ERR_AUTH = -8,        /* authentication failed */
    ERR_DENIED = -9,      /* authenticated but not allowed */
    ERR_VERSION = -10,    /* data from a newer or unknown version */
    ERR_INTERNAL = -11    /* a bug or an impossible state */
};

#define ERR_MSG_MAX 256

struct err {
    int code;
    char msg[ERR_MSG_MAX];
};

/*
 * Record code and a printf-style reason in e (which may be NULL) and
 * return code, so callers can write "return err_set(e, ERR_INVALID, ...)".
 */
int err_set(struct err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear e to ERR_OK with an empty reason. */
void err_clear(struct err *e);

/* A short static name for code, such as "invalid" or "io". */
const char *err_name(int code);

#endif
