/*
 * Hexadecimal digits, the one table-free decoder that URL, SigV4 and
 * token-hash parsing share.
 */
#ifndef LABGATE_HEX_H
#define LABGATE_HEX_H

/* The value 0 to 15 of hex digit c (either case), or -1 for any other. */
int hex_value(int c);

#endif
