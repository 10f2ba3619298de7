/*
 * CIDR blocks and the "trusted_proxies" setting: what is accepted, what
 * is refused (with the key named), and which addresses match.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cidr.h"
#include "config.h"

static int
apply(struct config *cfg, const char *proxies, struct err *e)
{
    char text[512];
    json_t *root;
    int rc;

    snprintf(text, sizeof text,
             "{\"listen\":\"127.0.0.1:1\",\"database\":\"d\",\"jwt\":{},"
             "\"iam\":{},\"trusted_proxies\":%s}",
             proxies);
    root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    cr_assert_not_null(root, "test JSON must parse: %s", text);
    cr_assert_eq(config_init(cfg), 0);
    err_clear(e);
    rc = config_apply(cfg, root, e);
    json_decref(root);
    return rc;
}

Test(cidr, default_is_empty)
{
    struct config cfg;

    cr_assert_eq(config_init(&cfg), 0);
    cr_assert_eq(cfg.trusted_proxy_count, 0);
    cr_assert_not(cidr_match_any(cfg.trusted_proxies, cfg.trusted_proxy_count,
                                 "127.0.0.1"));
    config_free(&cfg);
}

Test(cidr, list_is_parsed_and_matched)
{
    struct config cfg;
    struct err e;
    const struct cidr *l;
    size_t n;

    cr_assert_eq(apply(&cfg,
                       "[\"127.0.0.1\",\"10.0.0.0/8\",\"fd00::/8\","
                       "\"192.168.1.128/25\"]",
                       &e),
                 0, "%s", e.msg);
    l = cfg.trusted_proxies;
    n = cfg.trusted_proxy_count;
    cr_assert_eq(n, 4);
    cr_assert(cidr_match_any(l, n, "127.0.0.1"));
    cr_assert_not(cidr_match_any(l, n, "127.0.0.2"));
    cr_assert(cidr_match_any(l, n, "10.255.1.2"));
    cr_assert_not(cidr_match_any(l, n, "11.0.0.1"));
    cr_assert(cidr_match_any(l, n, "fd12:3456::1"));
    cr_assert_not(cidr_match_any(l, n, "fe80::1"));
    cr_assert(cidr_match_any(l, n, "192.168.1.200"));
    cr_assert_not(cidr_match_any(l, n, "192.168.1.127"));
    cr_assert(cidr_match_any(l, n, "::ffff:10.1.2.3"), "mapped IPv4");
    cr_assert_not(cidr_match_any(l, n, "not-an-address"));
    cr_assert_not(cidr_match_any(l, n, ""));
    config_free(&cfg);
}

Test(cidr, zero_prefix_matches_its_family_only)
{
    struct cidr c;

    cr_assert_eq(cidr_parse("0.0.0.0/0", &c), 0);
    cr_assert(cidr_match_any(&c, 1, "203.0.113.9"));
    cr_assert_not(cidr_match_any(&c, 1, "2001:db8::1"));
}

Test(cidr, bad_entries_are_refused_naming_the_index)
{
    static const char *const bad[] = {"[\"10.0.0.1/8\"]",  "[\"10.0.0.0/33\"]",
                                      "[\"localhost\"]",   "[\"10.0.0.0/\"]",
                                      "[\"10.0.0.0/-1\"]", "[\"::1/129\"]",
                                      "[\"1.2.3.4/8x\"]"};
    struct config cfg;
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(apply(&cfg, bad[i], &e), ERR_INVALID, "accepted %s",
                     bad[i]);
        cr_assert_str_eq(e.msg,
                         "trusted_proxies[0]: expected an IP address or "
                         "CIDR block such as 10.0.0.0/8 (host bits zero)");
        config_free(&cfg);
    }
    cr_assert_eq(apply(&cfg, "[\"127.0.0.1\", 5]", &e), ERR_INVALID);
    cr_assert(strncmp(e.msg, "trusted_proxies[1]:", 19) == 0, "%s", e.msg);
    config_free(&cfg);
    cr_assert_eq(apply(&cfg, "\"127.0.0.1\"", &e), ERR_INVALID);
    cr_assert_str_eq(e.msg, "trusted_proxies: expected an array of IP "
                            "addresses or CIDR blocks");
    config_free(&cfg);
}
