/*
 * CIDR parsing and matching.  A block is stored as its family, network
 * address bytes (network order, as inet_pton gives them) and prefix
 * length; matching compares whole bytes and then the masked remainder.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"

#define CIDR_TEXT_MAX 64

static int
cidr_addr_parse(const char *text, int *family, unsigned char *addr)
{
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int
cidr_is_addr(const char *text)
{
    unsigned char addr[16];
    int family;

    return cidr_addr_parse(text, &family, addr) == 0;
}

/* Whether the first prefix bits of a and b are equal. */
static int
cidr_prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    unsigned char mask;

    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int
cidr_parse(const char *text, struct cidr *out)
{
    char copy[CIDR_TEXT_MAX], *slash, *end;
    int max;
    long p;

    if (strlen(text) >= sizeof copy)
        return -1;
    memset(out, 0, sizeof *out);
    strcpy(copy, text);
    slash = strchr(copy, '/');
    if (slash != NULL)
        *slash = '\0';
    if (cidr_addr_parse(copy, &out->family, out->addr) != 0)
        return -1;
    max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash == NULL)
        return 0;
    if (slash[1] < '0' || slash[1] > '9')
        return -1;
    p = strtol(slash + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > max)
        return -1;
    out->prefix = (int)p;
    /* Host bits must be zero: compare the address with its own network. */
    for (int bit = out->prefix; bit < max; bit++)
        if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
            return -1;
    return 0;
}

int
cidr_match_any(const struct cidr *list, size_t n, const char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];
    int family;

    if (n == 0 || cidr_addr_parse(addr, &family, a) != 0)
        return 0;
    if (family == AF_INET6 && memcmp(a, mapped, sizeof mapped) == 0) {
        memmove(a, a + 12, 4);
        family = AF_INET;
    }
    for (size_t i = 0; i < n; i++)
        if (list[i].family == family &&
            cidr_prefix_equal(list[i].addr, a, list[i].prefix))
            return 1;
    return 0;
}
