/*
 * Hexadecimal digits: the encoder behind every digest labgate prints
 * (SigV4 hashes and signatures, audit chain values, key ids) and the
 * decoders that URL, SigV4, token-hash and audit-key parsing share, and
 * the percent-encoding of SigV4 and the dashboard's query strings.
 */
#ifndef LABGATE_HEX_H
#define LABGATE_HEX_H

#include <stddef.h>

/* The value 0 to 15 of hex digit c (either case), or -1 for any other. */
int hex_value(int c);

/* Write the n bytes at p as 2n lowercase digits and a NUL to out. */
void hex_encode(const void *p, size_t n, char *out);

/*
 * Decode the 2n digits (either case) at s into n bytes at out.  Returns
 * 0, or -1 at the first character that is not a digit (out is then
 * partly written).
 */
int hex_decode(const char *s, size_t n, unsigned char *out);

/*
 * Percent-encode the n bytes at s into out (room for 3n + 1): RFC 3986's
 * unreserved characters (A-Z a-z 0-9 - . _ ~) stay, and '/' too when
 * keep_slash is set; every other byte becomes %XX in uppercase, as SigV4
 * requires.  Returns the encoded length; out ends in a NUL.
 */
size_t hex_percent_encode(const char *s, size_t n, int keep_slash,
                          char *out);

#endif
