/*
 * A growable byte buffer that always keeps a terminating NUL, used to
 * build HTTP responses, SQL and log lines without fixed-size limits.
 */
#ifndef LABGATE_BUF_H
#define LABGATE_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Append n bytes of p. Returns 0, or ERR_NOMEM leaving b unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append a NUL-terminated string. Returns 0 or ERR_NOMEM. */
int buf_puts(struct buf *b, const char *s);

/* Append printf-style output. Returns 0 or ERR_NOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Append s as a JSON string literal, escaped as jansson's compact dump
 * escapes it, so answers written by hand and by jansson agree byte for
 * byte.  Where jansson would refuse the string because it is not UTF-8
 * (a User-Agent header can be anything), each byte that is not part of
 * a well-formed sequence becomes U+FFFD, so the answer stays valid JSON.
 * Returns 0 or ERR_NOMEM.
 */
int buf_json_string(struct buf *b, const char *s);

/* Forget the contents but keep the memory. */
void buf_reset(struct buf *b);

/* Release the memory; b is empty and reusable afterwards. */
void buf_free(struct buf *b);

/*
 * Hand the contents to the caller, who frees them with free(); b becomes
 * empty.  Returns an empty string (still to be freed) for an empty buffer,
 * or NULL when out of memory.
 */
char *buf_steal(struct buf *b);

#endif
