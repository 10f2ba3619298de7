/*
 * The token bucket on its own, with times supplied by the test: burst,
 * refill rate, Retry-After rounding, separate buckets per key and kind,
 * the bound on memory and which bucket it drops, and every configuration
 * error naming its key.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <stdio.h>

#include "ratelimit.h"

static struct ratelimit *
make(const char *json)
{
    struct ratelimit *rl = NULL;
    struct err e = {0, ""};
    json_t *conf = json_loads(json, 0, NULL);

    cr_assert_not_null(conf, "bad test JSON %s", json);
    cr_assert_eq(ratelimit_create(&rl, conf, &e), 0, "%s", e.msg);
    json_decref(conf);
    return rl;
}

static void
refused(const char *json, const char *message)
{
    struct ratelimit *rl = NULL;
    struct err e = {0, ""};
    json_t *conf = json_loads(json, 0, NULL);

    cr_assert_not_null(conf);
    cr_assert_eq(ratelimit_create(&rl, conf, &e), ERR_INVALID, "%s", json);
    cr_assert_str_eq(e.msg, message);
    cr_assert_null(rl);
    json_decref(conf);
}

Test(ratelimit, burst_then_refill_at_the_configured_rate)
{
    struct ratelimit *rl = make("{\"open\":{\"per_second\":2,\"burst\":3}}");
    int retry = 0;

    for (int i = 0; i < 3; i++)
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 1000, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 1000, &retry), 0);
    cr_assert_eq(retry, 1);
    /* Half a second brings back exactly one token at 2 per second. */
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 1499, &retry), 0);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 1500, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 1500, &retry), 0);
    /* A long pause refills only up to the burst. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 100000, &retry),
                     1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 100000, &retry), 0);
    ratelimit_free(rl);
}

Test(ratelimit, retry_after_rounds_up_to_whole_seconds)
{
    struct ratelimit *rl = make("{\"jwt\":{\"per_second\":0.25,\"burst\":1}}");
    int retry = 0;

    cr_assert_eq(ratelimit_take(rl, RATELIMIT_JWT, "r", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_JWT, "r", 0, &retry), 0);
    cr_assert_eq(retry, 4);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_JWT, "r", 2500, &retry), 0);
    cr_assert_eq(retry, 2);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_JWT, "r", 4000, &retry), 1);
    ratelimit_free(rl);
}

Test(ratelimit, keys_and_kinds_have_their_own_buckets)
{
    struct ratelimit *rl = make("{\"open\":{\"per_second\":1,\"burst\":1},"
                                "\"iam\":{\"per_second\":1,\"burst\":1}}");
    int retry = 0;

    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "x", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "x", 0, &retry), 0);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "y", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_IAM, "x", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_IAM, "x", 0, &retry), 0);
    /* The JWT route has no limit configured: never refused, no bucket. */
    for (int i = 0; i < 100; i++)
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_JWT, "x", 0, &retry), 1);
    cr_assert_eq(ratelimit_size(rl), 3);
    ratelimit_free(rl);
}

Test(ratelimit, no_configuration_limits_nothing)
{
    struct ratelimit *rl = make("{}");
    int retry = 0;

    for (int i = 0; i < 1000; i++)
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "a", 0, &retry), 1);
    cr_assert_eq(ratelimit_size(rl), 0);
    ratelimit_free(rl);
}

Test(ratelimit, memory_is_bounded_by_evicting_the_least_recent)
{
    struct ratelimit *rl = make("{\"max_keys\":16,\"open\":"
                                "{\"per_second\":1,\"burst\":1}}");
    char key[32];
    int retry = 0;

    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "keep", 0, &retry), 1);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, key, 0, &retry), 1);
        cr_assert_leq(ratelimit_size(rl), 16);
        /* "keep" is used all along, so it is never the one dropped. */
        if (i % 8 == 0)
            cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "keep", 0, &retry),
                         0);
    }
    cr_assert_eq(ratelimit_size(rl), 16);
    ratelimit_free(rl);
}

Test(ratelimit, configuration_errors_name_the_key)
{
    refused("{\"open\":{\"burst\":3}}",
            "rate_limits.open.per_second: required key is missing");
    refused("{\"open\":{\"per_second\":0}}",
            "rate_limits.open.per_second: expected a number from 0.001 to "
            "1e+06");
    refused("{\"jwt\":{\"per_second\":1,\"burst\":0}}",
            "rate_limits.jwt.burst: expected an integer from 1 to 1000000");
    refused("{\"iam\":{\"per_second\":1,\"rate\":2}}",
            "rate_limits.iam.rate: unknown key");
    refused("{\"sts\":{}}", "rate_limits.sts: unknown key");
    refused("{\"iam\":[]}", "rate_limits.iam: expected an object");
    refused("{\"max_keys\":1}",
            "rate_limits.max_keys: expected an integer from 16 to 10000000");
    refused("{\"ipv6_prefix\":8}",
            "rate_limits.ipv6_prefix: expected an integer from 16 to 128");
    refused("{\"ipv6_prefix\":\"64\"}",
            "rate_limits.ipv6_prefix: expected an integer from 16 to 128");
}

static void
expect_key(const struct ratelimit *rl, const char *addr, const char *want)
{
    char buf[INET6_ADDRSTRLEN + 8];

    cr_assert_str_eq(ratelimit_address_key(rl, addr, buf, sizeof buf), want,
                     "%s", addr);
}

/* An IPv6 client is one bucket per prefix, not per address. */
Test(ratelimit, ipv6_clients_are_keyed_by_their_prefix)
{
    struct ratelimit *rl = make("{\"open\":{\"per_second\":1}}");
    struct ratelimit *rl56 = make("{\"ipv6_prefix\":60}");
    struct ratelimit *rl128 = make("{\"ipv6_prefix\":128}");

    expect_key(rl, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64");
    expect_key(rl, "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64");
    expect_key(rl, "::1", "::/64");
    expect_key(rl, "192.0.2.7", "192.0.2.7");
    expect_key(rl, "::ffff:192.0.2.7", "::ffff:192.0.2.7");
    expect_key(rl, "fe80::1%eth0", "fe80::1%eth0");
    expect_key(rl, "not:an:address", "not:an:address");
    expect_key(rl56, "2001:db8:1:2fff:3::", "2001:db8:1:2ff0::/60");
    expect_key(rl128, "2001:db8::1", "2001:db8::1");
    cr_assert_null(ratelimit_address_key(rl, NULL, NULL, 0));
    ratelimit_free(rl);
    ratelimit_free(rl56);
    ratelimit_free(rl128);
}

/*
 * A client that has spent its burst floods the table with new keys, as
 * one with many addresses or identities can, hoping its own empty bucket
 * is dropped and comes back full.  The drop takes the fullest of the
 * least recently used instead, so when the flood is over the client has
 * only what one second of refill gave it.
 */
Test(ratelimit, flooding_new_keys_does_not_refill_a_spent_bucket)
{
    struct ratelimit *rl = make("{\"max_keys\":16,\"open\":"
                                "{\"per_second\":1,\"burst\":10}}");
    char key[32];
    int retry = 0;

    for (int i = 0; i < 10; i++)
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "spent", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "spent", 0, &retry), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "10.1.%d.%d", i / 256, i % 256);
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, key, i, &retry), 1);
        cr_assert_leq(ratelimit_size(rl), 16);
    }
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "spent", 1000, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "spent", 1000, &retry), 0);
    cr_assert_eq(retry, 1);
    ratelimit_free(rl);
}

/* Buckets that have refilled are dropped before any that still count. */
Test(ratelimit, refilled_buckets_are_dropped_first)
{
    struct ratelimit *rl = make("{\"max_keys\":16,\"open\":"
                                "{\"per_second\":1,\"burst\":2}}");
    char key[32];
    int retry = 0;

    /* The oldest: spent at t=0, not refilled by t=1500. */
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "old", 0, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "old", 0, &retry), 1);
    /* Fifteen more that take one token each at t=0: full again at 1000. */
    for (int i = 0; i < 15; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, key, 0, &retry), 1);
    }
    cr_assert_eq(ratelimit_size(rl), 16);
    /* A new key at t=1500 drops a refilled one, not "old". */
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "new", 1500, &retry), 1);
    cr_assert_eq(ratelimit_size(rl), 16);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "old", 1500, &retry), 1);
    cr_assert_eq(ratelimit_take(rl, RATELIMIT_OPEN, "old", 1500, &retry), 0);
    ratelimit_free(rl);
}
