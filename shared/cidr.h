/*
 * IP addresses and CIDR blocks, for matching a peer address against a
 * list such as "trusted_proxies".  IPv4 and IPv6 are kept apart: an IPv4
 * block matches IPv4 addresses and IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d), never other IPv6 addresses.
 */
#ifndef LABGATE_CIDR_H
#define LABGATE_CIDR_H

#include <stddef.h>

struct cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, 4 or 16 bytes used */
    int prefix;             /* 0..32 or 0..128 */
};

/*
 * Parse "ADDR" or "ADDR/PREFIX" (a bare address is a /32 or /128).  Host
 * bits beyond the prefix must be zero, so a typo such as 10.0.0.1/8 is
 * refused rather than silently widened.  Returns 0, or -1 for anything
 * else.
 */
int cidr_parse(const char *text, struct cidr *out);

/*
 * Whether addr (a textual IPv4 or IPv6 address, as CivetWeb reports a
 * peer) lies in any of the n blocks.  An unparsable addr matches nothing.
 */
int cidr_match_any(const struct cidr *list, size_t n, const char *addr);

/* Whether text is a valid IPv4 or IPv6 address (no prefix). */
int cidr_is_addr(const char *text);

#endif
