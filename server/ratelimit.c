/*
 * Token buckets keyed by (route kind, principal).
 *
 * A bucket holds up to "burst" tokens and gains "per_second" tokens per
 * second; each post takes one, and a post that finds less than one token
 * is refused with 429 and the seconds until a token is back.  Buckets
 * live in a chained hash table with a least-recently-used list through
 * them; when the table holds max_keys buckets one is dropped, so memory
 * stays bounded however many identities or source addresses a client can
 * produce.  A dropped bucket comes back full, which only ever lets a
 * client through sooner, never refuses it wrongly; to keep that gift
 * small the drop takes, among the least recently used, a bucket that has
 * refilled (it carries nothing) or else the one closest to full, so a
 * client that floods the table with new keys cannot push out its own
 * empty bucket and start again with a full one.  On
 * the open route an IPv6 client is keyed by its prefix (/64 unless
 * configured): a host is commonly given a whole /64, and one bucket per
 * address would let it take a fresh bucket with every address it uses.
 *
 * One mutex guards the table: a take is a hash lookup and a few
 * arithmetic operations, far shorter than the commit every post waits for.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "route.h"
#include "timefmt.h"

struct ratelimit_rule {
    double per_second; /* 0: this kind is not limited */
    double burst;
};

struct ratelimit_bucket {
    struct ratelimit_bucket *hnext; /* hash chain */
    struct ratelimit_bucket *older, *newer;
    uint64_t hash;
    double tokens;
    int64_t last_ms;
    enum ratelimit_kind kind;
    char key[]; /* NUL-terminated principal */
};

struct ratelimit {
    pthread_mutex_t lock;
    struct ratelimit_rule rule[RATELIMIT_KIND_COUNT];
    struct ratelimit_bucket **table;
    size_t mask;     /* table size - 1; the size is a power of two */
    size_t count;    /* buckets held */
    size_t max_keys; /* most buckets held */
    int ipv6_prefix; /* bits of an IPv6 client address that key it */
    struct ratelimit_bucket *oldest, *newest;
};

/* How many of the least recently used buckets an eviction weighs. */
#define RATELIMIT_EVICT_SCAN 16

static const char *const ratelimit_kind_names[RATELIMIT_KIND_COUNT] = {
    "open", "jwt", "iam"};

static int
ratelimit_number(json_t *v, const char *path, double lo, double hi, double *out,
                 struct err *err)
{
    if (!json_is_number(v) || json_number_value(v) < lo ||
        json_number_value(v) > hi)
        return err_set(err, ERR_INVALID, "%s: expected a number from %g to %g",
                       path, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int
ratelimit_parse_rule(struct ratelimit_rule *rule, const char *kind, json_t *obj,
                     struct err *err)
{
    const char *key;
    char path[96];
    json_t *v;

    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "rate_limits.%s: expected an object",
                       kind);
    json_object_foreach(obj, key, v)
    {
        snprintf(path, sizeof path, "rate_limits.%s.%.32s", kind, key);
        if (strcmp(key, "per_second") == 0) {
            if (ratelimit_number(v, path, 0.001, 1e6, &rule->per_second, err) !=
                0)
                return ERR_INVALID;
        } else if (strcmp(key, "burst") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 1000000)
                return err_set(err, ERR_INVALID,
                               "%s: expected an integer from 1 to 1000000",
                               path);
            rule->burst = (double)json_integer_value(v);
        } else {
            return err_set(err, ERR_INVALID, "%s: unknown key", path);
        }
    }
    if (rule->per_second <= 0)
        return err_set(err, ERR_INVALID,
                       "rate_limits.%s.per_second: required key is missing",
                       kind);
    if (rule->burst <= 0)
        rule->burst = rule->per_second < 1.0 ? 1.0 : rule->per_second;
    return 0;
}

static int
ratelimit_parse(struct ratelimit *rl, json_t *conf, struct err *err)
{
    const char *key;
    json_t *v;

    if (conf == NULL)
        return 0;
    if (!json_is_object(conf))
        return err_set(err, ERR_INVALID, "rate_limits: expected an object");
    json_object_foreach(conf, key, v)
    {
        int kind = -1;
        for (int i = 0; i < RATELIMIT_KIND_COUNT; i++)
            if (strcmp(key, ratelimit_kind_names[i]) == 0)
                kind = i;
        if (kind >= 0) {
            if (ratelimit_parse_rule(&rl->rule[kind], key, v, err) != 0)
                return ERR_INVALID;
        } else if (strcmp(key, "max_keys") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 16 ||
                json_integer_value(v) > 10000000)
                return err_set(err, ERR_INVALID,
                               "rate_limits.max_keys: expected an integer "
                               "from 16 to 10000000");
            rl->max_keys = (size_t)json_integer_value(v);
        } else if (strcmp(key, "ipv6_prefix") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 16 ||
                json_integer_value(v) > 128)
                return err_set(err, ERR_INVALID,
                               "rate_limits.ipv6_prefix: expected an integer "
                               "from 16 to 128");
            rl->ipv6_prefix = (int)json_integer_value(v);
        } else {
            return err_set(err, ERR_INVALID, "rate_limits.%.64s: unknown key",
                           key);
        }
    }
    return 0;
}

int
ratelimit_create(struct ratelimit **out, json_t *conf, struct err *err)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);
    size_t size = 16;

    if (rl == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rl->max_keys = RATELIMIT_DEFAULT_MAX_KEYS;
    rl->ipv6_prefix = RATELIMIT_DEFAULT_IPV6_PREFIX;
    if (ratelimit_parse(rl, conf, err) != 0) {
        free(rl);
        return ERR_INVALID;
    }
    while (size < rl->max_keys)
        size *= 2;
    rl->table = calloc(size, sizeof *rl->table);
    if (rl->table == NULL) {
        free(rl);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    rl->mask = size - 1;
    pthread_mutex_init(&rl->lock, NULL);
    *out = rl;
    return 0;
}

/* FNV-1a over the kind and the key. */
static uint64_t
ratelimit_hash(enum ratelimit_kind kind, const char *key)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static void
ratelimit_unlink_lru(struct ratelimit *rl, struct ratelimit_bucket *b)
{
    if (b->older != NULL)
        b->older->newer = b->newer;
    else
        rl->oldest = b->newer;
    if (b->newer != NULL)
        b->newer->older = b->older;
    else
        rl->newest = b->older;
    b->older = b->newer = NULL;
}

static void
ratelimit_push_lru(struct ratelimit *rl, struct ratelimit_bucket *b)
{
    b->older = rl->newest;
    b->newer = NULL;
    if (rl->newest != NULL)
        rl->newest->newer = b;
    else
        rl->oldest = b;
    rl->newest = b;
}

/* Drop b from the table and the list. */
static void
ratelimit_drop(struct ratelimit *rl, struct ratelimit_bucket *b)
{
    struct ratelimit_bucket **pp;

    for (pp = &rl->table[b->hash & rl->mask]; *pp != b; pp = &(*pp)->hnext)
        ;
    *pp = b->hnext;
    ratelimit_unlink_lru(rl, b);
    free(b);
    rl->count--;
}

/* The tokens b holds at now_ms, refilled and capped at its burst. */
static double
ratelimit_level(const struct ratelimit *rl, const struct ratelimit_bucket *b,
                int64_t now_ms)
{
    const struct ratelimit_rule *rule = &rl->rule[b->kind];
    double t = b->tokens;

    if (now_ms > b->last_ms)
        t += (double)(now_ms - b->last_ms) / 1000.0 * rule->per_second;
    return t < rule->burst ? t : rule->burst;
}

/*
 * Make room for one bucket: of the RATELIMIT_EVICT_SCAN least recently
 * used, the oldest that has refilled to its burst (dropping it changes
 * no answer), or else the one fullest for its burst (the smallest gift
 * of tokens to its client when it comes back full).
 */
static void
ratelimit_make_room(struct ratelimit *rl, int64_t now_ms)
{
    struct ratelimit_bucket *b = rl->oldest, *pick = NULL;
    double best = -1.0;

    for (int i = 0; b != NULL && i < RATELIMIT_EVICT_SCAN; i++, b = b->newer) {
        double burst = rl->rule[b->kind].burst;
        double fill = burst > 0 ? ratelimit_level(rl, b, now_ms) / burst : 1;
        if (fill > best) {
            best = fill;
            pick = b;
        }
        if (fill >= 1.0)
            break;
    }
    if (pick != NULL)
        ratelimit_drop(rl, pick);
}

static struct ratelimit_bucket *
ratelimit_find(struct ratelimit *rl, enum ratelimit_kind kind, const char *key,
               int64_t now_ms)
{
    uint64_t h = ratelimit_hash(kind, key);
    struct ratelimit_bucket *b;
    size_t len;

    for (b = rl->table[h & rl->mask]; b != NULL; b = b->hnext)
        if (b->hash == h && b->kind == kind && strcmp(b->key, key) == 0)
            return b;
    if (rl->count >= rl->max_keys)
        ratelimit_make_room(rl, now_ms);
    len = strlen(key);
    b = malloc(sizeof *b + len + 1);
    if (b == NULL)
        return NULL;
    memcpy(b->key, key, len + 1);
    b->hash = h;
    b->kind = kind;
    b->tokens = rl->rule[kind].burst;
    b->last_ms = now_ms;
    b->hnext = rl->table[h & rl->mask];
    rl->table[h & rl->mask] = b;
    ratelimit_push_lru(rl, b);
    rl->count++;
    return b;
}

int
ratelimit_take(struct ratelimit *rl, enum ratelimit_kind kind, const char *key,
               int64_t now_ms, int *retry_after_s)
{
    const struct ratelimit_rule *rule = &rl->rule[kind];
    struct ratelimit_bucket *b;
    int ok = 1;

    if (rule->per_second <= 0)
        return 1;
    pthread_mutex_lock(&rl->lock);
    b = ratelimit_find(rl, kind, key ? key : "", now_ms);
    if (b == NULL) {
        /* Out of memory: failing open beats refusing every client. */
        pthread_mutex_unlock(&rl->lock);
        return 1;
    }
    if (now_ms > b->last_ms) {
        b->tokens = ratelimit_level(rl, b, now_ms);
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        double wait = (1.0 - b->tokens) / rule->per_second;
        int secs = (int)wait;
        /* Round up: coming back sooner would only be refused again. */
        *retry_after_s = secs < wait ? secs + 1 : secs < 1 ? 1 : secs;
        ok = 0;
    }
    ratelimit_unlink_lru(rl, b);
    ratelimit_push_lru(rl, b);
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

size_t
ratelimit_size(struct ratelimit *rl)
{
    size_t n;

    pthread_mutex_lock(&rl->lock);
    n = rl->count;
    pthread_mutex_unlock(&rl->lock);
    return n;
}

const char *
ratelimit_address_key(const struct ratelimit *rl, const char *addr, char *buf,
                      size_t n)
{
    struct in6_addr a;
    int bits = rl->ipv6_prefix;

    if (addr == NULL || strchr(addr, ':') == NULL ||
        inet_pton(AF_INET6, addr, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a) ||
        bits >= 128)
        return addr;
    a.s6_addr[bits / 8] &= (unsigned char)(0xff00 >> (bits % 8));
    memset(a.s6_addr + bits / 8 + 1, 0, (size_t)(15 - bits / 8));
    if (inet_ntop(AF_INET6, &a, buf, (socklen_t)n) == NULL)
        return addr;
    snprintf(buf + strlen(buf), n - strlen(buf), "/%d", bits);
    return buf;
}

/* The kind and key that limit rq, or -1 for a request that is not. */
static int
ratelimit_key_of(const struct ratelimit *rl, const struct http_req *rq,
                 const char **key, char *buf, size_t n)
{
    if (rq->route == NULL || strcmp(rq->route->method, "POST") != 0)
        return -1;
    switch (rq->route->auth) {
    case ROUTE_AUTH_NONE:
        *key = ratelimit_address_key(rl, rq->client, buf, n);
        return RATELIMIT_OPEN;
    case ROUTE_AUTH_JWT:
        *key = rq->ident.repository ? rq->ident.repository : rq->ident.subject;
        return RATELIMIT_JWT;
    case ROUTE_AUTH_IAM:
        *key = rq->ident.principal_arn;
        return RATELIMIT_IAM;
    case ROUTE_AUTH_READ:
        break;
    }
    return -1;
}

int
ratelimit_check(struct http_req *rq, struct http_resp *rs)
{
    struct ratelimit *rl = rq->srv->ratelimit;
    char who[LOG_QUOTE_MAX], prefix[INET6_ADDRSTRLEN + 8];
    const char *key = NULL;
    int kind, retry = 1;

    if (rl == NULL ||
        (kind = ratelimit_key_of(rl, rq, &key, prefix, sizeof prefix)) < 0)
        return 0;
    if (ratelimit_take(rl, (enum ratelimit_kind)kind, key,
                       timefmt_mono_ns() / 1000000, &retry))
        return 0;
    log_event(LOG_WARN, "ratelimit", "refused",
              "id=%s route=%s principal=%s retry_after=%d", rq->id,
              ratelimit_kind_names[kind], log_quote(key, who, sizeof who),
              retry);
    http_header_add(rs, "Retry-After", "%d", retry);
    http_error(rs, 429, "Too Many Requests");
    return -1;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    while (rl->oldest != NULL)
        ratelimit_drop(rl, rl->oldest);
    free(rl->table);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}
