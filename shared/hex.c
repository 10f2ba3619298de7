/*
 * Hexadecimal encoding and decoding.  Written without ctype or printf:
 * the locale can never change what counts as a digit, and the SigV4
 * check encodes two digests per request, where a formatted print per
 * byte cost more than the hashing.
 */
#include "hex.h"

int
hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void
hex_encode(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *v = p;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[v[i] >> 4];
        out[2 * i + 1] = digits[v[i] & 15];
    }
    out[2 * n] = '\0';
}

int
hex_decode(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value((unsigned char)s[2 * i]);
        int lo = hi < 0 ? -1 : hex_value((unsigned char)s[2 * i + 1]);

        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
