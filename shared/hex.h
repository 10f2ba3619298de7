/*
 * Hexadecimal digits: the encoder behind every digest labgate prints
 * (SigV4 hashes and signatures, audit chain values, key ids) and the
 * decoders that URL, SigV4, token-hash and audit-key parsing share.
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

#endif
