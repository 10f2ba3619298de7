/*
 * Text sanitising for the terminal.  Every string the dashboard shows
 * comes from the network (suite names, messages, identities), so none of
 * it is ever written to the terminal as is: control characters and
 * escape sequences become visible escapes (ESC shows as \x1b), invalid
 * UTF-8 becomes U+FFFD, and text is cut to a column budget with an
 * ellipsis, counting wide characters as two columns.
 */
#ifndef LABGATE_SANITIZE_H
#define LABGATE_SANITIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode one UTF-8 sequence at s (n bytes available).  Returns the
 * number of bytes used and sets *cp, or 0 for an invalid, overlong,
 * surrogate or truncated sequence (of which the caller skips one byte).
 */
size_t sanitize_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Append code point cp as UTF-8 to out; returns the bytes written (1-4). */
size_t sanitize_utf8_encode(uint32_t cp, char *out);

/*
 * The columns code point cp takes on screen once sanitised: 0 for a
 * combining mark, 2 for a wide character, 1 otherwise; -1 when it must
 * be escaped (controls, bidirectional overrides and other invisible
 * formatting characters).
 */
int sanitize_cp_width(uint32_t cp);

/*
 * Render len bytes of in (NUL bytes included) into out (size outsz,
 * always NUL-terminated) as safe text of at most max_cols columns.  With
 * ascii set the output is plain ASCII: other characters become '?' and
 * the ellipsis is "...", otherwise it is UTF-8 with "…".  Returns the
 * columns the output takes.  in may be NULL (renders as "").
 */
int sanitize_text(const char *in, size_t len, char *out, size_t outsz,
                  int max_cols, int ascii);

/* sanitize_text for a NUL-terminated string. */
int sanitize_str(const char *in, char *out, size_t outsz, int max_cols,
                 int ascii);

#endif
